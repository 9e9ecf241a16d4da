//! A plain copy of a directory's files to a repository location and back, with the storage
//! layer xb's repositories use ([`Store`]): every file uploaded as one object, as it is (no
//! manifest, no checksum, no compression), by N threads; and every object of a location
//! downloaded back into a directory. `scripts/bench-repo` measures `xb backup --repo` and
//! `xb restore` against it: the same bytes to the same server with the same storage crate.
//!
//! ```sh
//! # S3 (or S3-compatible: AWS_ENDPOINT_URL=http://127.0.0.1:PORT), or a local path
//! cargo run -p xb-examples --bin repo_copy -- upload /var/lib/mysql s3://bucket/copy
//! cargo run -p xb-examples --bin repo_copy -- download s3://bucket/copy /tmp/restored --sync
//! ```
//!
//! Options: `--threads N` (default 4, xb's upload and restore threads), `--sync` (download:
//! make each file durable with fsync before it counts as done, as `xb restore` does),
//! `--part-size BYTES` (both ways: each file cut into objects `FILE.partNNNNNN` of at most that
//! many bytes, each sent with one PUT ([`Store::put`]) and fetched with one GET
//! ([`Store::get`]), the threads sharing the parts of a large file: the request pattern of
//! `xb backup --repo`, whose parts are 8 MiB).
//! Without `--part-size`, a file is one object: read and written in 1 MiB pieces, sent as a
//! multipart upload of 8 MiB parts once larger than 8 MiB ([`Store::writer`]), fetched as a
//! stream ([`Store::reader`]). Prints the files, bytes and seconds.
//! Exit status 0 done, 2 error.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use incremental_core::repo::{Store, StoreOptions};

/// Size of one read from a file or an object stream into a write.
const PIECE: usize = 1 << 20;

fn usage() -> ExitCode {
    eprintln!(
        "usage: repo_copy upload DIR URL [--threads N] [--part-size BYTES]\n       \
         repo_copy download URL DIR [--threads N] [--part-size BYTES] [--sync]"
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut threads = 4usize;
    let mut sync = false;
    let mut part_size = None;
    let mut pos = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--threads" => match it.next().and_then(|v| v.parse().ok()) {
                Some(n) if n > 0 => threads = n,
                _ => return usage(),
            },
            "--part-size" => match it.next().and_then(|v| v.parse().ok()) {
                Some(n) if n > 0 => part_size = Some(n),
                _ => return usage(),
            },
            "--sync" => sync = true,
            _ => pos.push(a.clone()),
        }
    }
    let [mode, from, to] = pos.as_slice() else {
        return usage();
    };
    let start = Instant::now();
    let done = match (mode.as_str(), part_size) {
        ("upload", None) => upload(Path::new(from), to, threads),
        ("upload", Some(n)) => upload_parts(Path::new(from), to, threads, n),
        ("download", None) => download(from, Path::new(to), threads, sync),
        ("download", Some(n)) => download_parts(from, Path::new(to), threads, sync, n),
        _ => return usage(),
    };
    match done {
        Ok((files, bytes)) => {
            let s = start.elapsed().as_secs_f64();
            println!(
                "{mode}: {files} files, {bytes} bytes in {s:.2} s ({:.1} MiB/s)",
                bytes as f64 / 1048576.0 / s
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("repo_copy {mode}: {e}");
            ExitCode::from(2)
        }
    }
}

/// Runs `job` on each item by `threads` threads, largest first as given; stops at the first
/// error. Returns the items done and the bytes `job` reported.
fn parallel<T: Sync>(
    items: &[T],
    threads: usize,
    job: impl Fn(&T) -> Result<u64, String> + Sync,
) -> Result<(usize, u64), String> {
    let next = AtomicUsize::new(0);
    let bytes = AtomicU64::new(0);
    let failed = AtomicBool::new(false);
    let error = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..threads.min(items.len()).max(1) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= items.len() || failed.load(Ordering::Relaxed) {
                    return;
                }
                match job(&items[i]) {
                    Ok(n) => {
                        bytes.fetch_add(n, Ordering::Relaxed);
                    }
                    Err(e) => {
                        failed.store(true, Ordering::Relaxed);
                        error.lock().unwrap().get_or_insert(e);
                        return;
                    }
                }
            });
        }
    });
    match error.into_inner().unwrap() {
        Some(e) => Err(e),
        None => Ok((items.len(), bytes.into_inner())),
    }
}

/// Every regular file under `dir` with its size, relative path with `/`, largest first.
fn walk(dir: &Path, rel: &str, out: &mut Vec<(u64, String, PathBuf)>) -> io::Result<()> {
    for e in fs::read_dir(dir)? {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        let key = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let t = e.file_type()?;
        if t.is_dir() {
            walk(&e.path(), &key, out)?;
        } else if t.is_file() {
            out.push((e.metadata()?.len(), key, e.path()));
        }
    }
    Ok(())
}

fn upload(dir: &Path, url: &str, threads: usize) -> Result<(usize, u64), String> {
    let store = Store::open(url, &StoreOptions::default()).map_err(|e| e.to_string())?;
    let mut files = Vec::new();
    walk(dir, "", &mut files).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    files.sort_by_key(|f| std::cmp::Reverse(f.0));
    parallel(&files, threads, |(_, key, path)| {
        let mut f = fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut w = store.writer(key);
        let mut buf = vec![0u8; PIECE];
        loop {
            let n = f
                .read(&mut buf)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            if n == 0 {
                break;
            }
            w.write_all(&buf[..n])
                .map_err(|e| format!("cannot upload {key}: {e}"))?;
        }
        w.finish().map_err(|e| e.to_string())
    })
}

fn download(url: &str, dir: &Path, threads: usize, sync: bool) -> Result<(usize, u64), String> {
    let store = Store::open(url, &StoreOptions::default()).map_err(|e| e.to_string())?;
    let mut objects = store.list("").map_err(|e| e.to_string())?;
    objects.sort_by_key(|o| std::cmp::Reverse(o.size));
    parallel(&objects, threads, |o| {
        let path = dir.join(&o.key);
        let err = |e: io::Error| format!("{}: {e}", path.display());
        if let Some(p) = path.parent() {
            fs::create_dir_all(p).map_err(err)?;
        }
        let mut f = fs::File::create(&path).map_err(err)?;
        let mut r = store.reader(&o.key).map_err(|e| e.to_string())?;
        let mut buf = vec![0u8; PIECE];
        let mut size = 0u64;
        loop {
            let n = r
                .read(&mut buf)
                .map_err(|e| format!("cannot download {}: {e}", o.key))?;
            if n == 0 {
                break;
            }
            f.write_all(&buf[..n]).map_err(err)?;
            size += n as u64;
        }
        if sync {
            f.sync_all().map_err(err)?;
        }
        Ok(size)
    })
}

/// The object of part `n` of the file `key`.
fn part_key(key: &str, n: u64) -> String {
    format!("{key}.part{n:06}")
}

fn upload_parts(
    dir: &Path,
    url: &str,
    threads: usize,
    part_size: u64,
) -> Result<(usize, u64), String> {
    let store = Store::open(url, &StoreOptions::default()).map_err(|e| e.to_string())?;
    let mut files = Vec::new();
    walk(dir, "", &mut files).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    files.sort_by_key(|f| std::cmp::Reverse(f.0));
    // one job per part, a file's parts in order, largest files first
    let jobs: Vec<(usize, u64)> = files
        .iter()
        .enumerate()
        .flat_map(|(i, f)| (0..f.0.div_ceil(part_size).max(1)).map(move |n| (i, n)))
        .collect();
    let (_, bytes) = parallel(&jobs, threads, |&(i, n)| {
        let (size, key, path) = &files[i];
        let err = |e: io::Error| format!("{}: {e}", path.display());
        let at = n * part_size;
        let mut data = vec![0u8; part_size.min(size - at) as usize];
        fs::File::open(path)
            .and_then(|f| f.read_exact_at(&mut data, at))
            .map_err(err)?;
        let len = data.len() as u64;
        store
            .put(&part_key(key, n), data)
            .map_err(|e| e.to_string())?;
        Ok(len)
    })?;
    Ok((files.len(), bytes))
}

fn download_parts(
    url: &str,
    dir: &Path,
    threads: usize,
    sync: bool,
    part_size: u64,
) -> Result<(usize, u64), String> {
    let store = Store::open(url, &StoreOptions::default()).map_err(|e| e.to_string())?;
    let objects = store.list("").map_err(|e| e.to_string())?;
    // (object, file, part number); the parts left of each file
    let mut jobs = Vec::new();
    let mut left: HashMap<String, AtomicUsize> = HashMap::new();
    for o in &objects {
        let Some((file, n)) = o
            .key
            .rsplit_once(".part")
            .and_then(|(f, n)| Some((f.to_string(), n.parse::<u64>().ok()?)))
        else {
            return Err(format!("{}: not a part object", o.key));
        };
        left.entry(file.clone())
            .or_insert_with(|| AtomicUsize::new(0))
            .fetch_add(1, Ordering::Relaxed);
        jobs.push((o.key.clone(), file, n));
    }
    let (_, bytes) = parallel(&jobs, threads, |(key, file, n)| {
        let path = dir.join(file);
        let err = |e: io::Error| format!("{}: {e}", path.display());
        if let Some(p) = path.parent() {
            fs::create_dir_all(p).map_err(err)?;
        }
        let data = store.get(key).map_err(|e| e.to_string())?;
        let f = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(err)?;
        f.write_all_at(&data, n * part_size).map_err(err)?;
        if left[file].fetch_sub(1, Ordering::AcqRel) == 1 && sync {
            f.sync_all().map_err(err)?;
        }
        Ok(data.len() as u64)
    })?;
    Ok((left.len(), bytes))
}
