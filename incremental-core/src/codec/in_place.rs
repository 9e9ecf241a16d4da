//! [`decode_dir`]: decoding a backup directory in place (`xb decompress`).

use std::fs;
use std::io::{self, BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use innodb_page::progress::{Cancel, Event, Progress};

use super::names::{decoded_name, unsupported};
use super::{decode, CodecError, CodecOptions};
use crate::source::{BackupSource, DirSource};

/// The suffix of the temporary name a file is decoded under (`X.xbdecode`) until it is
/// complete and durable; then it is renamed to `X`.
pub const TEMP_SUFFIX: &str = ".xbdecode";

/// What [`decode_dir`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DecodeReport {
    /// The directory.
    pub dir: PathBuf,
    /// Encoded files decoded.
    pub files: u64,
    /// Their encoded bytes.
    pub encoded_bytes: u64,
    /// Their decoded bytes.
    pub plain_bytes: u64,
    /// Encoded files removed (with [`CodecOptions::set_remove_original`]).
    pub removed: u64,
}

/// Decodes every encoded file of the backup directory `dir` in place, by
/// [`CodecOptions::threads`] threads: `X.zst.age` becomes `X`, decrypted with
/// [`CodecOptions::keys`]. Each file is decoded under a temporary name (`X.xbdecode`), made
/// durable, renamed to `X` (and the rename made durable); only then is the original removed,
/// when [`CodecOptions::remove_original`] asks. A file that fails to decode leaves no `X` and
/// no temporary file, and the error names it; nothing under a final name is ever half
/// decoded. Interrupted, a second run finishes the work (temporary files of the first are
/// overwritten; a file whose original is gone is done). A directory without encoded files is
/// left as it is.
pub fn decode_dir(
    dir: &Path,
    options: &CodecOptions,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<DecodeReport, CodecError> {
    let jobs = encoded_files(dir)?;
    decode_all(dir, &jobs, dir, options, progress, cancel)
}

/// Decodes the backup directory `dir` into `target` (created, mode 0700; absent or empty),
/// leaving `dir` as it is: every encoded file decoded under its plain name, every other file
/// copied. For a check of an encoded backup by code that reads plain files (`xb verify`): it
/// takes the backup's decoded size in `target`'s filesystem.
pub fn decode_into(
    dir: &Path,
    target: &Path,
    options: &CodecOptions,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<DecodeReport, CodecError> {
    let files = DirSource::new(dir)
        .files()
        .map_err(|e| CodecError::io("list", &e.path.clone(), e.source))?;
    let mut jobs = Vec::new();
    for f in files {
        if let Some(what) = unsupported(&f.path) {
            return Err(CodecError::Unsupported {
                path: dir.join(&f.path),
                what,
            });
        }
        let dst = target.join(&f.path);
        if let Some(parent) = dst.parent() {
            create_private_dirs(parent).map_err(|e| CodecError::io("create", parent, e))?;
        }
        if decoded_name(&f.path).is_some() {
            jobs.push((f.path, f.size));
        } else {
            let src = dir.join(&f.path);
            fs::copy(&src, &dst).map_err(|e| CodecError::io("copy", &src, e))?;
        }
    }
    let mut o = options.clone();
    o.set_remove_original(false);
    decode_all(dir, &jobs, target, &o, progress, cancel)
}

fn create_private_dirs(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Decodes the files `jobs` of `dir` into `target` (the same directory, or another).
fn decode_all(
    dir: &Path,
    jobs: &[(PathBuf, u64)],
    target: &Path,
    options: &CodecOptions,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<DecodeReport, CodecError> {
    progress.event(Event::Planned {
        files: jobs.len() as u64,
        bytes: jobs.iter().map(|j| j.1).sum(),
    });
    let next = AtomicUsize::new(0);
    let report = Mutex::new(DecodeReport {
        dir: dir.to_path_buf(),
        ..Default::default()
    });
    let failed: Mutex<Option<CodecError>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..options.threads().min(jobs.len().max(1)) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let stop = failed.lock().map(|f| f.is_some()).unwrap_or(true);
                let Some((rel, size)) = jobs.get(i).filter(|_| !stop) else {
                    return;
                };
                let r = if cancel.is_cancelled() {
                    Err(CodecError::Cancelled)
                } else {
                    decode_one(dir, rel, target, options, progress)
                };
                match r {
                    Ok((plain, removed)) => {
                        if let Ok(mut rep) = report.lock() {
                            rep.files += 1;
                            rep.encoded_bytes += size;
                            rep.plain_bytes += plain;
                            rep.removed += u64::from(removed);
                        }
                    }
                    Err(e) => {
                        if let Ok(mut f) = failed.lock() {
                            f.get_or_insert(e);
                        }
                        return;
                    }
                }
            });
        }
    });
    if let Some(e) = failed.into_inner().ok().flatten() {
        return Err(e);
    }
    Ok(report.into_inner().unwrap_or_default())
}

/// The encoded files of `dir` (relative) and their sizes; stale temporary files removed.
fn encoded_files(dir: &Path) -> Result<Vec<(PathBuf, u64)>, CodecError> {
    let files = DirSource::new(dir)
        .files()
        .map_err(|e| CodecError::io("list", &e.path.clone(), e.source))?;
    let mut jobs = Vec::new();
    for f in files {
        let full = dir.join(&f.path);
        if f.path.to_string_lossy().ends_with(TEMP_SUFFIX) {
            fs::remove_file(&full).map_err(|e| CodecError::io("remove", &full, e))?;
        } else if let Some(what) = unsupported(&f.path) {
            return Err(CodecError::Unsupported { path: full, what });
        } else if decoded_name(&f.path).is_some() {
            jobs.push((f.path, f.size));
        }
    }
    Ok(jobs)
}

/// Decodes `dir/rel` into `target`; returns the plain size and whether the original was removed.
fn decode_one(
    dir: &Path,
    rel: &Path,
    target: &Path,
    options: &CodecOptions,
    progress: &dyn Progress,
) -> Result<(u64, bool), CodecError> {
    let (plain_rel, layers) = decoded_name(rel).expect("listed as encoded");
    let src = dir.join(rel);
    let dst = target.join(&plain_rel);
    let mut tmp = dst.clone().into_os_string();
    tmp.push(TEMP_SUFFIX);
    let tmp = PathBuf::from(tmp);
    let encoded = fs::metadata(&src).map(|m| m.len()).unwrap_or(0);
    progress.event(Event::FileStarted {
        path: &plain_rel,
        bytes: encoded,
    });
    let r = (|| {
        let input = fs::File::open(&src).map_err(|e| CodecError::io("open", &src, e))?;
        let mut reader = decode::reader(
            &src,
            layers,
            Box::new(BufReader::new(input)),
            options.keys(),
        )?;
        let out = create_private(&tmp).map_err(|e| CodecError::io("create", &tmp, e))?;
        let mut w = BufWriter::with_capacity(1 << 20, out);
        let n = decode::copy(&src, &mut *reader, &mut w)?;
        let out = w
            .into_inner()
            .map_err(|e| CodecError::io("write", &tmp, e.into_error()))?;
        out.sync_all()
            .map_err(|e| CodecError::io("sync", &tmp, e))?;
        Ok(n)
    })();
    let n = match r {
        Ok(n) => n,
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
    };
    fs::rename(&tmp, &dst).map_err(|e| CodecError::io("rename into place", &dst, e))?;
    let parent = dst.parent().unwrap_or(dir);
    sync_dir(parent).map_err(|e| CodecError::io("sync", parent, e))?;
    let removed = options.remove_original();
    if removed {
        fs::remove_file(&src).map_err(|e| CodecError::io("remove", &src, e))?;
    }
    // progress counts encoded bytes, as planned
    progress.event(Event::Pages {
        scanned: 0,
        copied: 0,
        bytes: encoded,
    });
    progress.event(Event::FileDone { path: &plain_rel });
    Ok((n, removed))
}

fn create_private(path: &Path) -> io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}
