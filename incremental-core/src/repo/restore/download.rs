//! Downloading a full backup of a repository into a local directory: every file decoded from
//! its objects as they arrive, each object and each file checked ([`super::fetch`]), by
//! several threads (the parts of one large file too), each file made durable. Also the units
//! of work that `verify` shares ([`jobs`], [`run_jobs`]).

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

use super::fetch::Objects;
use crate::progress::{Cancel, Event, Progress};
use crate::repo::error::RepoError;
use crate::repo::hash::Hasher;
use crate::repo::manifest::{FileEntry, Manifest};

/// The relative path a manifest names, checked: plain components only (no `..`, no absolute
/// path), so that a file is written inside the directory it is restored into.
pub(crate) fn safe_name(path: &str) -> Result<PathBuf, RepoError> {
    let p = Path::new(path);
    let ok = !path.is_empty()
        && !path.contains('\0')
        && p.components().all(|c| matches!(c, Component::Normal(_)));
    if !ok {
        return Err(RepoError::Restore {
            path: p.to_path_buf(),
            why: "a file name of the manifest that does not stay inside the backup".into(),
        });
    }
    Ok(p.to_path_buf())
}

/// A unit of work: a file stored in parts, or a bundle and its files.
pub(crate) enum Job<'m> {
    /// A file stored in parts (or empty).
    File(&'m FileEntry),
    /// A bundle and the files it holds.
    Bundle(Vec<&'m FileEntry>),
}

/// The jobs of backup `m`: its bundles, then its other files, largest first.
pub(crate) fn jobs(m: &Manifest) -> Vec<Job<'_>> {
    let mut bundles: BTreeMap<usize, Vec<&FileEntry>> = BTreeMap::new();
    let mut files = Vec::new();
    for f in &m.files {
        match &f.bundled {
            Some(b) => bundles.entry(b.bundle).or_default().push(f),
            None => files.push(f),
        }
    }
    files.sort_by_key(|f| std::cmp::Reverse(f.size));
    let mut out: Vec<Job<'_>> = bundles.into_values().map(Job::Bundle).collect();
    out.extend(files.into_iter().map(Job::File));
    out
}

/// Runs `f` on every job by `threads` threads; stops at the first error (returned) or at
/// `cancel`.
pub(crate) fn run_jobs<'m>(
    jobs: &[Job<'m>],
    threads: usize,
    cancel: &Cancel,
    f: impl Fn(&Job<'m>) -> Result<(), RepoError> + Sync,
) -> Result<(), RepoError> {
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let first: Mutex<Option<RepoError>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..threads.clamp(1, jobs.len().max(1)) {
            s.spawn(|| loop {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                if cancel.is_cancelled() {
                    stop.store(true, Ordering::Relaxed);
                    let mut e = first.lock().unwrap_or_else(|p| p.into_inner());
                    e.get_or_insert(RepoError::Cancelled);
                    return;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(job) = jobs.get(i) else { return };
                if let Err(err) = f(job) {
                    stop.store(true, Ordering::Relaxed);
                    let mut e = first.lock().unwrap_or_else(|p| p.into_inner());
                    e.get_or_insert(err);
                    return;
                }
            });
        }
    });
    match first.into_inner().unwrap_or_else(|p| p.into_inner()) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn io_err<'p>(action: &'static str, path: &'p Path) -> impl FnOnce(io::Error) -> RepoError + 'p {
    move |source| RepoError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// Creates the directories of `to` (mode 0700 for new ones).
pub(crate) fn create_dirs(to: &Path) -> Result<(), RepoError> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(to)
        .map_err(io_err("cannot create", to))
}

/// Writes `data` as the new file `to`, durably.
fn write_file(to: &Path, data: &[u8]) -> Result<(), RepoError> {
    let mut f = File::create(to).map_err(io_err("cannot create", to))?;
    f.write_all(data)
        .and_then(|()| f.sync_all())
        .map_err(io_err("cannot write", to))
}

/// A unit of the download: a bundle and its files, one part of a file, or an empty file.
enum Unit<'m> {
    Bundle(Vec<&'m FileEntry>),
    Part(usize, &'m FileEntry, usize),
    Empty(&'m FileEntry),
}

/// A file being downloaded part by part (parts are checked on their own and written where
/// they go as they arrive, by any thread): how many are in place, and their bytes.
#[derive(Default)]
struct Written {
    parts: usize,
    size: u64,
}

/// Downloads every file of the backup `m` into `dir` (created; holding nothing of it yet) by
/// `threads` threads, each fetching whole objects (a bundle, or one part of a file, so that
/// a large file is fetched by all threads at once); returns the stored bytes fetched. A file
/// or object that is not as the manifest says stops it ([`RepoError::Corrupt`]); what was
/// written is then incomplete.
pub(crate) fn download(
    objects: &Objects,
    m: &Manifest,
    dir: &Path,
    threads: usize,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<u64, RepoError> {
    let mut dirs: Vec<PathBuf> = vec![dir.to_path_buf()];
    for f in &m.files {
        let rel = safe_name(&f.path)?;
        if let Some(parent) = rel.parent().filter(|p| !p.as_os_str().is_empty()) {
            dirs.push(dir.join(parent));
        }
    }
    dirs.sort();
    dirs.dedup();
    for d in &dirs {
        create_dirs(d)?;
    }
    progress.event(Event::Planned {
        files: m.files.len() as u64,
        bytes: m.plain_bytes(),
    });
    let mut units = Vec::new();
    let mut bundles: BTreeMap<usize, Vec<&FileEntry>> = BTreeMap::new();
    let mut large: Vec<(usize, &FileEntry)> = Vec::new();
    for (i, f) in m.files.iter().enumerate() {
        match (&f.bundled, f.parts.is_empty()) {
            (Some(b), _) => bundles.entry(b.bundle).or_default().push(f),
            (None, true) => units.push(Unit::Empty(f)),
            (None, false) => {
                let to = dir.join(&f.path);
                File::create(&to).map_err(io_err("cannot create", &to))?;
                large.push((i, f));
            }
        }
    }
    units.extend(bundles.into_values().map(Unit::Bundle));
    large.sort_by_key(|(_, f)| std::cmp::Reverse(f.size));
    for (i, f) in large {
        units.extend((0..f.parts.len()).map(|n| Unit::Part(i, f, n)));
    }
    let states: Vec<Mutex<Written>> = m.files.iter().map(|_| Mutex::default()).collect();
    let fetched = AtomicU64::new(0);
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let first: Mutex<Option<RepoError>> = Mutex::new(None);
    let unit = |u: &Unit<'_>| -> Result<(), RepoError> {
        match u {
            Unit::Bundle(files) => {
                let b = objects.bundle_object(m, files[0])?;
                let bytes = objects.stored(b, &files[0].path)?;
                fetched.fetch_add(b.stored, Ordering::Relaxed);
                for f in files {
                    let rel = Path::new(&f.path);
                    progress.event(Event::FileStarted {
                        path: rel,
                        bytes: f.size,
                    });
                    let plain = objects.bundled(f, &b.key, &bytes)?;
                    write_file(&dir.join(rel), &plain)?;
                    progress.event(Event::FileDone { path: rel });
                }
            }
            Unit::Empty(f) => {
                objects.check_file(f, "", 0, Hasher::default())?;
                write_file(&dir.join(&f.path), &[])?;
            }
            Unit::Part(i, f, n) => {
                let rel = Path::new(&f.path);
                if *n == 0 {
                    progress.event(Event::FileStarted {
                        path: rel,
                        bytes: f.size,
                    });
                }
                let plain = objects.part(f, *n)?;
                fetched.fetch_add(f.parts[*n].object.stored, Ordering::Relaxed);
                let at: u64 = f.parts[..*n].iter().map(|p| p.size).sum();
                let to = dir.join(rel);
                let out = OpenOptions::new()
                    .write(true)
                    .open(&to)
                    .map_err(io_err("cannot open", &to))?;
                out.write_all_at(&plain, at)
                    .map_err(io_err("cannot write", &to))?;
                progress.event(Event::Pages {
                    scanned: 0,
                    copied: 0,
                    bytes: plain.len() as u64,
                });
                let done = {
                    let mut st = states[*i].lock().unwrap_or_else(|p| p.into_inner());
                    st.parts += 1;
                    st.size += plain.len() as u64;
                    (st.parts == f.parts.len()).then_some(st.size)
                };
                drop(plain);
                if let Some(size) = done {
                    // every part was checked against its own SHA-256; the file as a whole
                    // against its size (the manifest gives the parts' order)
                    let key = &f.parts[f.parts.len() - 1].object.key;
                    objects.check_size(f, key, size)?;
                    out.sync_all().map_err(io_err("cannot write", &to))?;
                    progress.event(Event::FileDone { path: rel });
                }
            }
        }
        Ok(())
    };
    std::thread::scope(|s| {
        for _ in 0..threads.clamp(1, units.len().max(1)) {
            s.spawn(|| loop {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                let err = if cancel.is_cancelled() {
                    Some(RepoError::Cancelled)
                } else {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    let Some(u) = units.get(k) else { return };
                    unit(u).err()
                };
                if let Some(e) = err {
                    stop.store(true, Ordering::Relaxed);
                    first
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .get_or_insert(e);
                    return;
                }
            });
        }
    });
    if let Some(e) = first.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    for d in dirs.iter().rev() {
        File::open(d)
            .and_then(|f| f.sync_all())
            .map_err(io_err("cannot sync", d))?;
    }
    Ok(fetched.into_inner())
}
