//! The redo copy of a hot backup: a thread follows the server's `ib_logfile0` from the
//! checkpoint at the start of the backup (see [`innodb_page::redo::follow`]) and appends every
//! mini-transaction to the backup's `ib_logfile0` through a
//! [`LogWriter`](crate::backup::redo_copy::LogWriter), until it is told the LSN to stop at.

use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use innodb_page::redo::follow::{FollowError, FollowOptions, Follower, PollStop};
use innodb_page::Lsn;

use crate::backup::redo_copy::{LogWriteError, LogWriter, RedoCopy, RedoFacts};
use crate::backup::sink::SinkFile;
use crate::backup::BackupError;
use crate::progress::Cancel;

/// Figures of the follower, to judge its headroom against the server's redo rate.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FollowerStats {
    /// Redo bytes copied.
    pub bytes: u64,
    /// Mini-transactions copied.
    pub mtrs: u64,
    /// Seconds spent reading, checking and writing (polls that found something).
    pub busy_seconds: f64,
    /// Seconds from start to stop.
    pub wall_seconds: f64,
    /// Polls.
    pub polls: u64,
}

impl FollowerStats {
    /// Redo bytes the follower parses and writes per second of work (its capacity).
    pub fn parse_rate(&self) -> f64 {
        self.bytes as f64 / self.busy_seconds.max(1e-9)
    }

    /// Redo bytes the server wrote per second while the backup ran.
    pub fn server_rate(&self) -> f64 {
        self.bytes as f64 / self.wall_seconds.max(1e-9)
    }
}

#[derive(Debug, Default)]
struct State {
    target: Option<Lsn>,
    abort: bool,
    pos: Lsn,
    failed: bool,
}

struct Ctl {
    st: Mutex<State>,
    cv: Condvar,
}

type Output = (Box<dyn SinkFile>, RedoCopy, FollowerStats);

/// A running redo copy.
pub(crate) struct LogCopy {
    ctl: Arc<Ctl>,
    thread: Option<JoinHandle<Result<Output, BackupError>>>,
    /// The source log as found at the start: its checkpoint is where the copy starts.
    pub facts: RedoFacts,
}

fn follow_err(e: FollowError) -> BackupError {
    BackupError::Follow(e)
}

impl LogCopy {
    /// Opens the server's log at `path` at its newest checkpoint, writes the header area to
    /// `out` and starts copying in a thread that polls every `interval`. `failed` is cancelled
    /// when the copy fails (the log was overwritten before it was read), so that the data
    /// copy stops early.
    pub(crate) fn start(
        path: PathBuf,
        out: Box<dyn SinkFile>,
        interval: Duration,
        failed: Cancel,
    ) -> Result<LogCopy, BackupError> {
        let follower = Follower::at_checkpoint(&path, FollowOptions::default()).map_err(follow_err)?;
        if follower.encryption().is_encrypted() {
            return Err(BackupError::Unsupported {
                path,
                what: "the redo log is encrypted (innodb_encrypt_log); hot backups of encrypted \
                       logs are not supported yet"
                    .into(),
            });
        }
        let ck = follower.checkpoint();
        let geom = follower.geometry();
        let creator = innodb_page::redo::header::FileHeader::parse(follower.header_block())
            .map(|h| h.creator())
            .unwrap_or_default();
        let facts = RedoFacts {
            path: path.clone(),
            file_size: geom.capacity() + innodb_page::redo::mtr::START_OFFSET,
            first_lsn: geom.first_lsn(),
            checkpoint_lsn: ck.lsn,
            checkpoint_end_lsn: ck.end_lsn.unwrap_or(ck.lsn),
            end_lsn: ck.lsn,
            creator,
        };
        let writer = LogWriter::new(out, facts.checkpoint_lsn, facts.checkpoint_end_lsn)
            .map_err(|source| BackupError::Write {
                path: "ib_logfile0".into(),
                source,
            })?;
        let ctl = Arc::new(Ctl {
            st: Mutex::new(State {
                pos: ck.lsn,
                ..State::default()
            }),
            cv: Condvar::new(),
        });
        let c2 = Arc::clone(&ctl);
        let thread = std::thread::Builder::new()
            .name("xb-redo".into())
            .spawn(move || {
                let r = follow(follower, writer, &c2, interval);
                if r.is_err() {
                    if let Ok(mut s) = c2.st.lock() {
                        s.failed = true;
                    }
                    failed.cancel();
                }
                c2.cv.notify_all();
                r
            })
            .map_err(|source| BackupError::Io {
                path: path.clone(),
                source,
            })?;
        Ok(LogCopy {
            ctl,
            thread: Some(thread),
            facts,
        })
    }

    /// True once the copy has failed (its error comes from [`stop_at`](Self::stop_at) or
    /// [`abort`](Self::abort)).
    pub(crate) fn failed(&self) -> bool {
        self.ctl.st.lock().map(|s| s.failed).unwrap_or(true)
    }

    /// Copies up to the first mini-transaction boundary at or after `target`, waiting at most
    /// `timeout`, and stops. Returns the log file (to finish), what was written and the
    /// follower's figures.
    pub(crate) fn stop_at(
        mut self,
        target: Lsn,
        timeout: Duration,
    ) -> Result<Output, BackupError> {
        let deadline = Instant::now() + timeout;
        {
            let mut s = self.ctl.st.lock().map_err(|_| poisoned())?;
            s.target = Some(target);
            self.ctl.cv.notify_all();
            while s.pos < target && !s.failed {
                let now = Instant::now();
                if now >= deadline {
                    let pos = s.pos;
                    s.abort = true;
                    self.ctl.cv.notify_all();
                    drop(s);
                    let _ = self.join();
                    return Err(BackupError::Inconsistent {
                        what: format!(
                            "the redo log did not reach LSN {target} within {} s (copied up to \
                             {pos}): the server did not write its log buffer to ib_logfile0",
                            timeout.as_secs()
                        ),
                    });
                }
                s = self
                    .ctl
                    .cv
                    .wait_timeout(s, deadline - now)
                    .map_err(|_| poisoned())?
                    .0;
            }
        }
        self.join()
    }

    /// Stops the copy without waiting for any LSN; returns its error if it had failed.
    pub(crate) fn abort(mut self) -> Result<(), BackupError> {
        if let Ok(mut s) = self.ctl.st.lock() {
            s.abort = true;
        }
        self.ctl.cv.notify_all();
        self.join().map(|_| ())
    }

    fn join(&mut self) -> Result<Output, BackupError> {
        match self.thread.take() {
            Some(t) => t.join().unwrap_or_else(|_| Err(poisoned())),
            None => Err(poisoned()),
        }
    }
}

impl Drop for LogCopy {
    fn drop(&mut self) {
        if let Ok(mut s) = self.ctl.st.lock() {
            s.abort = true;
        }
        self.ctl.cv.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn poisoned() -> BackupError {
    BackupError::Inconsistent {
        what: "internal error: the redo copy thread failed".into(),
    }
}

/// The thread's loop.
fn follow(
    mut f: Follower,
    mut w: LogWriter<Box<dyn SinkFile>>,
    ctl: &Ctl,
    interval: Duration,
) -> Result<Output, BackupError> {
    let t0 = Instant::now();
    let mut stats = FollowerStats::default();
    let cache = std::fs::File::open(f.path()).ok();
    let mut rechecks = 0u32;
    let debug = std::env::var_os("XB_DEBUG_FOLLOW").is_some();
    let mut hist: Vec<String> = Vec::new();
    loop {
        let (target, abort) = {
            let s = ctl.st.lock().map_err(|_| poisoned())?;
            (s.target, s.abort)
        };
        if abort {
            break;
        }
        let t = Instant::now();
        drop_cached(&cache);
        let polled = f.poll::<BackupError, _>(None, |m| {
            w.push(m.start_lsn(), m.record_bytes(), checksum_of(m.as_bytes()))
                .map_err(|e| match e {
                    LogWriteError::Io(source) => BackupError::Write {
                        path: "ib_logfile0".into(),
                        source,
                    },
                    gap => BackupError::Inconsistent {
                        what: format!("copying the redo log: {gap}"),
                    },
                })
        });
        if debug {
            let d = t.elapsed();
            match &polled {
                Ok(p) => {
                    hist.push(format!(
                        "+{:.3}s poll {:.3}s {}..{} ({} mtrs) ckpt {} {:?}",
                        t0.elapsed().as_secs_f64(),
                        d.as_secs_f64(),
                        p.from,
                        p.to,
                        p.mtrs,
                        p.checkpoint.lsn,
                        p.stop
                    ));
                    if hist.len() > 20 {
                        hist.remove(0);
                    }
                }
                Err(e) => {
                    eprintln!("DEBUG follow error after {:.3}s: {e}", d.as_secs_f64());
                    debug_compare(f.path(), f.geometry(), f.lsn());
                    for h in &hist {
                        eprintln!("DEBUG   {h}");
                    }
                }
            }
        }
        let polled = match polled {
            Ok(p) => {
                rechecks = 0;
                p
            }
            Err(BackupError::Follow(FollowError::Overtaken {
                lsn,
                checkpoint,
                capacity,
                path,
            })) if checkpoint.get() <= lsn.get().saturating_add(capacity) && rechecks < 3 => {
                // "The log ends before the checkpoint" without a proven lap: check on disk that
                // the chain from our position to the checkpoint is really gone (a stale cached
                // page reads the same way) before giving up.
                rechecks += 1;
                drop_cached(&cache);
                std::thread::sleep(Duration::from_millis(10));
                match Follower::at_lsn(&path, lsn, FollowOptions::default()) {
                    Ok(fresh) if fresh.lsn() == w.end_lsn() => {
                        f = fresh;
                        continue;
                    }
                    _ => {
                        return Err(BackupError::Follow(FollowError::Overtaken {
                            lsn,
                            checkpoint,
                            capacity,
                            path,
                        }))
                    }
                }
            }
            Err(e) => return Err(e),
        };
        stats.polls += 1;
        if polled.mtrs > 0 {
            stats.busy_seconds += t.elapsed().as_secs_f64();
        }
        let pos = polled.to;
        {
            let mut s = ctl.st.lock().map_err(|_| poisoned())?;
            s.pos = pos;
        }
        ctl.cv.notify_all();
        if target.is_some_and(|t| pos >= t) {
            break;
        }
        if polled.stop == PollStop::CaughtUp {
            let wait = if target.is_some() {
                interval.min(Duration::from_millis(5))
            } else {
                interval
            };
            let s = ctl.st.lock().map_err(|_| poisoned())?;
            if !s.abort && s.target == target {
                let _ = ctl.cv.wait_timeout(s, wait);
            }
        }
    }
    let copy = w.written();
    stats.bytes = copy.bytes.saturating_sub(innodb_page::redo::mtr::START_OFFSET);
    stats.mtrs = copy.mtrs;
    stats.wall_seconds = t0.elapsed().as_secs_f64();
    let (out, copy) = w.finish().map_err(|source| BackupError::Write {
        path: "ib_logfile0".into(),
        source,
    })?;
    Ok((out, copy, stats))
}

/// Drops the log file's cached pages before a poll. The server writes its log with `O_DIRECT`
/// (MariaDB's default where the filesystem allows it); a buffered read racing such a write can
/// leave the page cache holding the bytes from before the write (seen on Linux 6.18 / ext4),
/// which later reads would then see as the end of the log. Dropping the clean cached pages
/// makes every poll read what is on disk. Best effort: without it, the follower could only
/// stop early and fail, never copy wrong bytes (every mtr is CRC-checked).
fn drop_cached(file: &Option<std::fs::File>) {
    if let Some(f) = file {
        // SAFETY: posix_fadvise only reads the descriptor, which `f` keeps open.
        #[allow(unsafe_code)]
        unsafe {
            libc::posix_fadvise(
                std::os::unix::io::AsRawFd::as_raw_fd(f),
                0,
                0,
                libc::POSIX_FADV_DONTNEED,
            );
        }
    }
}

/// The stored CRC-32C: the last 4 bytes of an mtr as stored (unencrypted logs).
fn checksum_of(bytes: &[u8]) -> u32 {
    let n = bytes.len();
    if n < 4 {
        return 0;
    }
    u32::from_be_bytes([bytes[n - 4], bytes[n - 3], bytes[n - 2], bytes[n - 1]])
}

/// Debug: parse the log at `lsn` from an O_DIRECT copy and from a buffered copy.
fn debug_compare(path: &std::path::Path, g: innodb_page::redo::mtr::LogGeometry, lsn: Lsn) {
    use std::os::unix::fs::{FileExt, OpenOptionsExt};
    let size = g.capacity() + 0x3000;
    let mut direct = vec![0u8; size as usize + 4096];
    let off = direct.as_ptr().align_offset(4096);
    let buf = &mut direct[off..off + size as usize];
    let d = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECT)
        .open(path)
        .and_then(|f| f.read_exact_at(buf, 0));
    let mut plain = vec![0u8; size as usize];
    let p = std::fs::File::open(path).and_then(|f| f.read_exact_at(&mut plain, 0));
    for (name, bytes, r) in [("direct", &buf[..], d), ("buffered", &plain[..], p)] {
        if let Err(e) = r {
            eprintln!("DEBUG {name}: read failed {e}");
            continue;
        }
        let area: &[u8] = &bytes[0x3000..];
        let mut rd = innodb_page::redo::mtr::MtrReader::new(area, g, lsn).unwrap();
        let mut k = 0;
        while let Ok(Some(_)) = rd.next_mtr() {
            k += 1;
        }
        let fo = g.file_offset(lsn).unwrap_or(0) as usize;
        eprintln!(
            "DEBUG {name}: from {lsn}: {k} mtrs to {} stop {:?}; bytes at {fo}: {:02x?}",
            rd.lsn(),
            rd.stop(),
            &bytes[fo..(fo + 24).min(bytes.len())]
        );
    }
    let fo = g.file_offset(lsn).unwrap_or(0) as usize;
    let diff = buf
        .iter()
        .zip(plain.iter())
        .enumerate()
        .filter(|(_, (a, b))| a != b)
        .map(|(i, _)| i)
        .collect::<Vec<_>>();
    eprintln!(
        "DEBUG {} bytes differ between direct and buffered; first {:?}, last {:?}; lsn file offset {fo}",
        diff.len(),
        diff.first(),
        diff.last()
    );
}
