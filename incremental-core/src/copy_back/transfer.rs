//! Putting files in place: copied by the kernel (`copy_file_range`, a reflink where the
//! filesystem shares extents), or moved (a rename; a copy and a removal across filesystems),
//! by several threads, largest files first.
//!
//! Durability without a wait per file: each file written goes to a [`Flusher`] thread that
//! writes its data back (`sync_file_range`, no journal commit) while the next files are
//! copied; one `syncfs` per destination filesystem at the end writes the names and sizes (one
//! journal commit). An `fsync` per file in the copying thread, as before, waited for each
//! file's data and a journal commit in turn: it made a copy-back twice as slow as
//! mariabackup's, which does not sync at all. Starting the writeback from the copying thread
//! (`SYNC_FILE_RANGE_WRITE` alone) was as slow: it blocks when the disk's queue is full.
//! Without sync ([`CopyBackOptions::set_sync`](super::CopyBackOptions::set_sync) off) nothing
//! is waited for, as in mariabackup's copy-back.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex};

use super::{io_err, CopyBackError};
use crate::progress::{Cancel, Event, Progress};

/// One file to put in place.
#[derive(Debug, Clone)]
pub(crate) struct Job {
    /// Its path in the backup (for progress).
    pub rel: PathBuf,
    /// The backup's file.
    pub src: PathBuf,
    /// Where it goes.
    pub dst: PathBuf,
    /// Its size.
    pub size: u64,
}

/// Creates `p` and its missing parents with mode 0700.
pub(crate) fn create_private_dir(p: &Path) -> Result<(), CopyBackError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(p)
        .map_err(io_err("cannot create directory", p))
}

/// Creates `dst` for writing; it must not exist.
pub(crate) fn create_new(dst: &Path) -> Result<fs::File, CopyBackError> {
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o640)
        .open(dst)
        .map_err(|e| exists_or(e, dst, "cannot copy to"))
}

fn exists_or(e: io::Error, dst: &Path, action: &'static str) -> CopyBackError {
    if e.kind() == io::ErrorKind::AlreadyExists {
        CopyBackError::Exists {
            path: dst.to_path_buf(),
        }
    } else {
        io_err(action, dst)(e)
    }
}

/// Writes copied files back to disk in a thread of its own, while the next files are copied:
/// their data is on disk when [`finish`](Flusher::finish) returns (their names, with the
/// final `syncfs`).
pub(crate) struct Flusher {
    tx: Option<mpsc::Sender<(PathBuf, fs::File)>>,
    thread: Option<std::thread::JoinHandle<Result<(), CopyBackError>>>,
}

impl Flusher {
    /// A flusher; one that drops the files queued when `on` is false.
    pub(crate) fn start(on: bool) -> Flusher {
        if !on {
            return Flusher {
                tx: None,
                thread: None,
            };
        }
        let (tx, rx) = mpsc::channel::<(PathBuf, fs::File)>();
        let thread = std::thread::spawn(move || {
            let mut first_error = None;
            for (path, f) in rx {
                if first_error.is_none() {
                    first_error = write_back(&f)
                        .err()
                        .map(|e| io_err("cannot sync", &path)(e));
                }
            }
            first_error.map_or(Ok(()), Err)
        });
        Flusher {
            tx: Some(tx),
            thread: Some(thread),
        }
    }

    /// Queues the file just written at `path`.
    pub(crate) fn push(&self, path: &Path, f: fs::File) {
        if let Some(tx) = &self.tx {
            let _ = tx.send((path.to_path_buf(), f));
        }
    }

    /// Waits until every queued file's data is on disk.
    pub(crate) fn finish(mut self) -> Result<(), CopyBackError> {
        self.tx = None;
        match self.thread.take().map(|t| t.join()) {
            Some(Ok(r)) => r,
            _ => Ok(()),
        }
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Writes `f`'s dirty pages and waits for them (its data; its size and name are metadata,
/// written by the final `syncfs`).
fn write_back(f: &fs::File) -> io::Result<()> {
    let flags = libc::SYNC_FILE_RANGE_WAIT_BEFORE
        | libc::SYNC_FILE_RANGE_WRITE
        | libc::SYNC_FILE_RANGE_WAIT_AFTER;
    // SAFETY: a valid descriptor; the call only writes its cached pages.
    #[allow(unsafe_code)]
    let r = unsafe { libc::sync_file_range(f.as_raw_fd(), 0, 0, flags) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Copies `src` to the new file `dst` in the kernel; returns the file written and its length.
fn copy(src: &Path, dst: &Path) -> Result<(fs::File, u64), CopyBackError> {
    let mut r = fs::File::open(src).map_err(io_err("cannot read", src))?;
    let mut w = create_new(dst)?;
    // `io::copy` between two files is `copy_file_range` (falling back to `sendfile` or a
    // read/write loop where the kernel cannot).
    let n = io::copy(&mut r, &mut w).map_err(io_err("cannot copy to", dst))?;
    Ok((w, n))
}

/// Moves `src` to `dst` (absent): a rename, else (another filesystem) a copy and a removal.
fn move_file(src: &Path, dst: &Path) -> Result<u64, CopyBackError> {
    if dst.exists() {
        return Err(CopyBackError::Exists {
            path: dst.to_path_buf(),
        });
    }
    let len = fs::metadata(src).map_err(io_err("cannot read", src))?.len();
    match fs::rename(src, dst) {
        Ok(()) => Ok(len),
        Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {
            let (w, n) = copy(src, dst)?;
            w.sync_data().map_err(io_err("cannot sync", dst))?;
            fs::remove_file(src).map_err(io_err("cannot remove after moving", src))?;
            Ok(n)
        }
        Err(e) => Err(io_err("cannot move to", dst)(e)),
    }
}

/// Puts one file in place.
fn run_one(
    job: &Job,
    moving: bool,
    flusher: &Flusher,
    progress: &dyn Progress,
) -> Result<u64, CopyBackError> {
    if let Some(parent) = job.dst.parent() {
        create_private_dir(parent)?;
    }
    progress.event(Event::FileStarted {
        path: &job.rel,
        bytes: job.size,
    });
    let n = if moving {
        move_file(&job.src, &job.dst)?
    } else {
        let (w, n) = copy(&job.src, &job.dst)?;
        flusher.push(&job.dst, w);
        n
    };
    progress.event(Event::Pages {
        scanned: 0,
        copied: 0,
        bytes: n,
    });
    progress.event(Event::FileDone { path: &job.rel });
    Ok(n)
}

/// Puts every job in place with `threads` threads, largest first; returns the bytes. The
/// first error stops the others at their next file.
pub(crate) fn run_all(
    jobs: &mut [Job],
    threads: usize,
    moving: bool,
    flusher: &Flusher,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<u64, CopyBackError> {
    jobs.sort_by(|a, b| b.size.cmp(&a.size).then_with(|| a.rel.cmp(&b.rel)));
    let next = AtomicUsize::new(0);
    let bytes = AtomicUsize::new(0);
    let failed: Mutex<Option<CopyBackError>> = Mutex::new(None);
    let jobs = &*jobs;
    let worker = || loop {
        if cancel.is_cancelled() || failed.lock().map_or(true, |f| f.is_some()) {
            return;
        }
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(job) = jobs.get(i) else { return };
        match run_one(job, moving, flusher, progress) {
            Ok(n) => {
                bytes.fetch_add(n as usize, Ordering::Relaxed);
            }
            Err(e) => {
                if let Ok(mut f) = failed.lock() {
                    f.get_or_insert(e);
                }
                return;
            }
        }
    };
    std::thread::scope(|s| {
        for _ in 1..threads.clamp(1, jobs.len().max(1)) {
            s.spawn(worker);
        }
        worker();
    });
    if let Some(e) = failed.into_inner().ok().flatten() {
        return Err(e);
    }
    if cancel.is_cancelled() {
        return Err(CopyBackError::Cancelled);
    }
    Ok(bytes.into_inner() as u64)
}

/// Waits until everything written under each of `dirs` is on disk (`syncfs`, once per
/// filesystem).
pub(crate) fn sync_filesystems(dirs: &[&Path]) -> Result<(), CopyBackError> {
    let mut seen = Vec::new();
    for d in dirs {
        let f = fs::File::open(d).map_err(io_err("cannot sync", d))?;
        let dev = {
            use std::os::unix::fs::MetadataExt;
            f.metadata().map_err(io_err("cannot sync", d))?.dev()
        };
        if seen.contains(&dev) {
            continue;
        }
        seen.push(dev);
        // SAFETY: a valid descriptor of an open directory.
        #[allow(unsafe_code)]
        let r = unsafe { libc::syncfs(f.as_raw_fd()) };
        if r != 0 {
            return Err(io_err("cannot sync", d)(io::Error::last_os_error()));
        }
    }
    Ok(())
}
