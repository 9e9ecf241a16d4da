//! The redo copy of a hot backup: a thread follows the server's `ib_logfile0` from the
//! checkpoint at the start of the backup (see [`innodb_page::redo::follow`]) and appends every
//! mini-transaction to the backup's `ib_logfile0` through a
//! [`LogWriter`](crate::backup::redo_copy::LogWriter), until it is told the LSN to stop at.

use innodb_page::redo::file::LOG_FILE_0;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use innodb_page::crypto::cipher::Mode;
use innodb_page::redo::crypt::ServerKey;
use innodb_page::redo::follow::{FollowError, FollowOptions, Follower, PollStop};
use innodb_page::redo::mtr::Records;
use innodb_page::Lsn;

use crate::backup::redo_copy::{LogWriteError, LogWriter, RedoCopy, RedoFacts};
use crate::backup::report::FollowerStats;
use crate::backup::server::Server;
use crate::backup::sink::SinkFile;
use crate::backup::BackupError;
use crate::progress::Cancel;

#[derive(Debug, Default)]
struct State {
    target: Option<Lsn>,
    /// An LSN someone waits for without stopping the copy ([`LogCopy::wait_until`]).
    wanted: Option<Lsn>,
    abort: bool,
    pos: Lsn,
    failed: bool,
    /// Every file name each tablespace had in the redo copied so far (FILE_CREATE,
    /// FILE_RENAME both names, FILE_MODIFY, FILE_DELETE), as written (`./db/t.ibd`).
    names: BTreeMap<u32, BTreeSet<String>>,
    /// The newest name per file name seen: name → space id (the last record naming it).
    by_name: BTreeMap<String, u32>,
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
        server: Server,
        key: Option<(ServerKey, Mode)>,
    ) -> Result<LogCopy, BackupError> {
        let opts = match key {
            Some((key, mode)) => FollowOptions::default().decrypt_with(key, mode),
            None => FollowOptions::default(),
        };
        let follower = Follower::at_checkpoint(&path, opts).map_err(follow_err)?;
        let encrypted = follower.encryption().is_encrypted();
        if encrypted && key.is_none() {
            return Err(BackupError::Unsupported {
                path,
                what: "the redo log is encrypted (innodb_encrypt_log), but the server has no \
                       active file_key_management plugin whose keys could decrypt it"
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
            encrypted,
        };
        let (from, from_end) = (facts.checkpoint_lsn, facts.checkpoint_end_lsn);
        let writer = match encrypted {
            true => LogWriter::new_encrypted(out, from, from_end, follower.header_block()),
            false => LogWriter::new(out, from, from_end),
        }
        .map_err(|source| BackupError::Write {
            path: LOG_FILE_0.into(),
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
                let r = follow(follower, writer, &c2, interval, server, opts);
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

    /// Waits (at most `timeout`) until the copy has reached `lsn`, without stopping it. The
    /// caller read `lsn` (`Innodb_lsn_current`) and then had the server write its log buffer
    /// to the file (`FLUSH ENGINE LOGS`): the log is read up to `lsn` even before the server
    /// reports it durable.
    pub(crate) fn wait_until(&self, lsn: Lsn, timeout: Duration) -> Result<(), BackupError> {
        let deadline = Instant::now() + timeout;
        let mut s = self.ctl.st.lock().map_err(|_| poisoned())?;
        s.wanted = Some(lsn);
        self.ctl.cv.notify_all();
        while s.pos < lsn && !s.failed {
            let now = Instant::now();
            if now >= deadline {
                return Err(BackupError::Inconsistent {
                    what: format!(
                        "the redo log did not reach LSN {lsn} within {} s (copied up to {})",
                        timeout.as_secs(),
                        s.pos
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
        Ok(())
    }

    /// The file names of tablespaces seen in the redo copied so far: (space id → every name
    /// it had, file name → the space it named last).
    pub(crate) fn file_names(&self) -> (BTreeMap<u32, BTreeSet<String>>, BTreeMap<String, u32>) {
        self.ctl
            .st
            .lock()
            .map(|s| (s.names.clone(), s.by_name.clone()))
            .unwrap_or_default()
    }

    /// True once the copy has failed (its error comes from [`stop_at`](Self::stop_at) or
    /// [`abort`](Self::abort)).
    pub(crate) fn failed(&self) -> bool {
        self.ctl.st.lock().map(|s| s.failed).unwrap_or(true)
    }

    /// Copies up to the first mini-transaction boundary at or after `target`, waiting at most
    /// `timeout`, and stops. As for [`wait_until`](Self::wait_until), the server wrote its
    /// log buffer after `target` was read. Returns the log file (to finish), what was written and the
    /// follower's figures.
    pub(crate) fn stop_at(mut self, target: Lsn, timeout: Duration) -> Result<Output, BackupError> {
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
    mut server: Server,
    opts: FollowOptions,
) -> Result<Output, BackupError> {
    let t0 = Instant::now();
    let mut stats = FollowerStats::default();
    let mut rechecks = 0u32;
    loop {
        let (target, wanted, abort) = ctl.orders()?;
        if abort {
            break;
        }
        let t = Instant::now();
        // Only what the server has finished writing: the block holding the end of the log is
        // rewritten as the log grows, and a read racing that write can see new bytes up to
        // some point and the block's previous contents after it (which may even hold a copy
        // of an older, valid mini-transaction). Below the flushed LSN the bytes are final,
        // and below an LSN asked for (`target`, `wanted`): it was read before the server wrote
        // its log buffer to the file (`FLUSH ENGINE LOGS`, see `wait_until`), while the
        // durable LSN may lag (innodb_flush_log_at_trx_commit=0/2 sync once a second).
        let written = target.into_iter().chain(wanted).max().unwrap_or(Lsn::ZERO);
        let safe = server.lsn_flushed()?.max(written);
        let mut found: Vec<(u32, Vec<String>)> = Vec::new();
        let polled = f.poll::<BackupError, _>(Some(safe), |m| {
            file_records(m.plain_records().unwrap_or(m.record_bytes()), &mut found);
            // as stored: an encrypted log's records stay encrypted, its nonce is kept
            w.push_stored(m.start_lsn(), m.as_bytes(), m.record_bytes().len())
                .map_err(log_write_error)
        });
        ctl.add_names(found)?;
        let polled = match polled {
            Ok(p) => {
                rechecks = 0;
                p
            }
            Err(e) => {
                f = reopen_if_not_overtaken(e, &mut rechecks, w.end_lsn(), &opts)?;
                continue;
            }
        };
        stats.polls += 1;
        if polled.mtrs > 0 {
            stats.busy_seconds += t.elapsed().as_secs_f64();
        }
        let pos = polled.to;
        ctl.set_pos(pos)?;
        if target.is_some_and(|t| pos >= t) {
            break;
        }
        if polled.stop != PollStop::Budget {
            ctl.pause(target, wanted, pos, interval)?;
        }
    }
    finish(w, stats, t0)
}

impl Ctl {
    /// The orders of the moment: (target, wanted, abort).
    fn orders(&self) -> Result<(Option<Lsn>, Option<Lsn>, bool), BackupError> {
        let s = self.st.lock().map_err(|_| poisoned())?;
        Ok((s.target, s.wanted, s.abort))
    }

    /// Records the file names that the redo just copied gives each tablespace.
    fn add_names(&self, found: Vec<(u32, Vec<String>)>) -> Result<(), BackupError> {
        if found.is_empty() {
            return Ok(());
        }
        let mut s = self.st.lock().map_err(|_| poisoned())?;
        for (id, names) in found {
            for n in names {
                s.by_name.insert(n.clone(), id);
                s.names.entry(id).or_default().insert(n);
            }
        }
        Ok(())
    }

    /// Publishes the position copied to, and wakes those who wait for it.
    fn set_pos(&self, pos: Lsn) -> Result<(), BackupError> {
        {
            let mut s = self.st.lock().map_err(|_| poisoned())?;
            s.pos = pos;
        }
        self.cv.notify_all();
        Ok(())
    }

    /// Waits, after a poll that reached the end of the log, for the next one: `interval`, or
    /// less when someone waits, unless the orders (`target`, `wanted`) changed meanwhile.
    fn pause(
        &self,
        target: Option<Lsn>,
        wanted: Option<Lsn>,
        pos: Lsn,
        interval: Duration,
    ) -> Result<(), BackupError> {
        // someone waits for an LSN not copied yet: poll again soon
        let urgent = target.is_some() || wanted.is_some_and(|w| pos < w);
        let wait = if urgent {
            interval.min(Duration::from_millis(5))
        } else {
            interval
        };
        let s = self.st.lock().map_err(|_| poisoned())?;
        if !s.abort && s.target == target && s.wanted == wanted {
            let _ = self.cv.wait_timeout(s, wait);
        }
        Ok(())
    }
}

/// The error of appending an mtr to the backup's `ib_logfile0`.
fn log_write_error(e: LogWriteError) -> BackupError {
    match e {
        LogWriteError::Io(source) => BackupError::Write {
            path: "ib_logfile0".into(),
            source,
        },
        gap => BackupError::Inconsistent {
            what: format!("copying the redo log: {gap}"),
        },
    }
}

/// After a failed poll: a follower reopened at the copy's end `end` when the log only seemed
/// overtaken (at most 3 times in a row, counted in `rechecks`), else the error.
fn reopen_if_not_overtaken(
    e: BackupError,
    rechecks: &mut u32,
    end: Lsn,
    opts: &FollowOptions,
) -> Result<Follower, BackupError> {
    match e {
        BackupError::Follow(FollowError::Overtaken {
            lsn,
            checkpoint,
            capacity,
            path,
        }) if checkpoint.get() <= lsn.get().saturating_add(capacity) && *rechecks < 3 => {
            // "The log ends before the checkpoint" without a proven lap: check on disk that
            // the chain from our position to the checkpoint is really gone (a stale cached
            // page reads the same way) before giving up.
            *rechecks += 1;
            std::thread::sleep(Duration::from_millis(10));
            match Follower::at_lsn(&path, lsn, *opts) {
                Ok(fresh) if fresh.lsn() == end => Ok(fresh),
                _ => Err(BackupError::Follow(FollowError::Overtaken {
                    lsn,
                    checkpoint,
                    capacity,
                    path,
                })),
            }
        }
        e => Err(e),
    }
}

/// Ends the copy: the writer's output and what it holds, with the follower's figures.
fn finish(
    w: LogWriter<Box<dyn SinkFile>>,
    mut stats: FollowerStats,
    t0: Instant,
) -> Result<Output, BackupError> {
    let copy = w.written();
    stats.bytes = copy
        .bytes
        .saturating_sub(innodb_page::redo::mtr::START_OFFSET);
    stats.mtrs = copy.mtrs;
    stats.wall_seconds = t0.elapsed().as_secs_f64();
    let (out, copy) = w.finish().map_err(|source| BackupError::Write {
        path: "ib_logfile0".into(),
        source,
    })?;
    Ok((out, copy, stats))
}

/// The file-level records of an mtr that name files (FILE_CREATE, FILE_DELETE, FILE_RENAME,
/// FILE_MODIFY; file records come first in an mtr): (space id, names).
pub(super) fn file_records(records: &[u8], out: &mut Vec<(u32, Vec<String>)>) {
    for r in Records::new(records) {
        // file records only before the first page record of the mtr
        if !r.same_page() {
            break;
        }
        if !matches!(r.file_type(), 0x80 | 0x90 | 0xA0 | 0xB0) {
            continue;
        }
        let Some((space, _)) = r.page_id() else {
            continue;
        };
        let names: Vec<String> = r
            .file_names()
            .map(|(_, n)| String::from_utf8_lossy(n).into_owned())
            .collect();
        if !names.is_empty() {
            out.push((space, names));
        }
    }
}
