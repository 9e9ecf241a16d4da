//! Changed-page tracking: following the redo log of a running MariaDB 10.8+ server and writing
//! what it changes as bitmap runs (`xb track`), as Percona Server's tracker does.
//!
//! A [`Tracker`] reads `ib_logfile0` with a [`Follower`] (read-only), takes the page id of
//! every page record of every mini-transaction, and appends runs to
//! `ib_modified_log_<seq>_<lsn>.xdb` files with a [`BitmapWriter`] — only up to the server's
//! latest checkpoint: below it the log is durable, so a run never describes log that a crash
//! of the machine could make the server write differently.
//!
//! Progress ([`Event::TrackStarted`], [`Event::TrackRun`], [`Event::TrackGap`],
//! [`Event::TrackPass`]) goes to a [`Progress`], as for every long operation of xb.
//!
//! ```no_run
//! use innodb_page::progress::{Cancel, NoProgress};
//! use lsn_bitmap::track::{track, TrackOptions};
//! let opts = TrackOptions::new("/var/lib/mysql", "/var/lib/mysql").follow(true);
//! let stop = Cancel::new(); // cancelled from a signal handler to finish and return
//! let report = track(&opts, &NoProgress, &stop).unwrap();
//! println!("{} runs written, tracked to {}", report.runs, report.tracked_lsn);
//! ```
//!
//! # What a run holds
//!
//! A run `[start, end]` flags every page changed by a mini-transaction whose **end** LSN lies
//! in `[start, end]`, both included: a page's FIL_PAGE_LSN is the end LSN of the mtr that last
//! changed it, and an incremental backup copies the pages whose LSN is at or above its
//! threshold (see `incremental-core`), so a page whose LSN equals a run boundary must be in the
//! run that starts there too. Each run therefore also carries the pages of the mtr that ended
//! exactly at its start. A run is never claimed for an mtr whose pages are not known: a
//! tracker that starts fresh at the checkpoint `P` (nothing read before it) names its file
//! `P + 1`, so that a query starting at `P` is refused (and the backup scans) rather than
//! answered without the pages whose LSN is exactly `P`.
//!
//! Every page record counts, whatever it does: FREE_PAGE, INIT_PAGE, every EXTENDED subtype
//! (TRIM_PAGES also flags page 0 of the tablespace and the page number it carries, which is
//! the new size), WRITE, MEMSET, MEMMOVE, and even RESERVED/OPTION (which do not change the
//! page): a page flagged needlessly only costs one page read in the backup; a page missed
//! would lose data.
//!
//! # Gaps, restarts, stops
//!
//! * **Overwritten log.** If the server overwrites log not yet read (the tracker fell more
//!   than the log capacity behind), the runs read so far are written, and tracking restarts
//!   at the current checkpoint `P` in a new file named `P + 1`: readers see the gap
//!   ([`Error::LsnGap`]) and incrementals across it fall back to the full scan. Never a silent
//!   loss. The same happens when the log was replaced (resized,
//!   rebuilt at a restart) after the LSN the tracker was at.
//! * **Restart.** [`Tracker::open`] resumes from the end of the last complete run
//!   ([`BitmapWriter::open`] cuts off a torn tail), in a new file named with that LSN, if the
//!   log still holds it; otherwise it records a gap as above. `kill -9` loses at most the run
//!   in progress. A server LSN below the bitmaps' tracked LSN (a restored or replaced datadir)
//!   is refused: old bitmaps would describe another history.
//! * **Server restarts.** A clean shutdown ends the log with the `FILE_CHECKPOINT`
//!   mini-transaction of the last checkpoint, durable with it, so runs go up to its end; a log
//!   the server rebuilds at its next start (a new `innodb_log_file_size`) begins exactly there.
//!   A tracker running across the restart follows the replaced file, and one stopped after the
//!   server resumes in the new log: no gap either way. A gap is recorded only when log not yet
//!   read is gone (the tracker was down while the server wrote more, then the log was rebuilt;
//!   or it fell a log capacity behind).
//! * **A malformed record** in a mini-transaction whose CRC is valid (a record the decoder
//!   does not know, or a length that runs past the mtr): the pages of that mtr are unknown.
//!   The tracker writes the runs before it (up to the mtr before it, once the checkpoint has
//!   passed), then records a gap over it: the next file is named just after its end LSN `e`
//!   (`e + 1`; no mtr ends at `e + 1`, and the pages with LSN `e` are the unknown ones), and
//!   it goes on following. Readers refuse ranges across the gap ([`Error::LsnGap`]) and the
//!   incrementals across it scan, which is safe; ranges after it are answered.
//! * **Stop.** Cancelling the [`Cancel`] token makes [`track`] finish the pass in progress,
//!   write its run and return.
//! * **Encrypted logs** of the new style (`FORMAT_ENC_11`) hide page ids without the key:
//!   refused with [`FollowError::EncryptedPageIds`] unless the server's key is given
//!   ([`TrackOptions::decrypt_with`]); a key that does not decrypt the log is refused with
//!   [`FollowError::WrongKey`] before anything is written.
//!
//! # Where it writes
//!
//! Only `ib_modified_log_*.xdb` files, in the bitmap directory, which must exist (xb does not
//! create it). The default in `xb track` is the datadir, as Percona Server does; the redo log
//! is only read. One tracker per directory: the directory is locked (`flock`) while a
//! [`Tracker`] is open.

use std::collections::VecDeque;
use std::fs::{File, TryLockError};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use innodb_page::crypto::cipher::Mode;
use innodb_page::progress::{Cancel, Event, Progress};
use innodb_page::redo::checkpoint::Checkpoint;
use innodb_page::redo::crypt::ServerKey;
use innodb_page::redo::follow::{
    FollowError, FollowOptions, FollowStats, FollowedMtr, Follower, PollStop,
};
use innodb_page::redo::record::{FileOp, RecordError, RecordKind};
use innodb_page::tablespace::{OpenOptions, ReadMode, Tablespace};
use innodb_page::Lsn;

use crate::dir::BitmapDir;
use crate::error::Error;
use crate::pageset::ChangedPages;
use crate::writer::{BitmapWriter, WriterOptions};

/// Settings of a [`Tracker`]: [`TrackOptions::new`] with the two directories, then the
/// setters.
///
/// ```
/// use lsn_bitmap::track::TrackOptions;
/// use lsn_bitmap::WriterOptions;
/// let o = TrackOptions::new("/var/lib/mysql", "/var/lib/mysql");
/// let o = o.follow(true).writer(WriterOptions::default().sync(false)).chunk_bytes(1 << 20);
/// assert!(format!("{o:?}").contains("follow: true"));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TrackOptions {
    /// The server's datadir (holding `ib_logfile0`), or the `ib_logfile0` itself.
    pub(crate) datadir: PathBuf,
    /// Where the bitmap files go (must exist).
    pub(crate) bitmap_dir: PathBuf,
    /// How runs are written.
    pub(crate) writer: WriterOptions,
    /// [`track`]: keep following until cancelled (`true`), or read up to the latest checkpoint
    /// once and return (`false`).
    pub(crate) follow: bool,
    /// Pause between passes when caught up (follow mode).
    pub(crate) interval: Duration,
    /// Redo bytes after which the pages read so far become a unit a run can end at (runs end
    /// at such boundaries, at the end of each poll, and at the checkpoint read at the start
    /// of each pass).
    pub(crate) chunk_bytes: u64,
    /// The server's key 1 and cipher mode, to read an encrypted log.
    pub(crate) decryption: Option<(ServerKey, Mode)>,
}

impl TrackOptions {
    /// Defaults: read once, 1 s interval, durable runs (fsync), 8 MiB chunks.
    pub fn new(datadir: impl Into<PathBuf>, bitmap_dir: impl Into<PathBuf>) -> TrackOptions {
        TrackOptions {
            datadir: datadir.into(),
            bitmap_dir: bitmap_dir.into(),
            writer: WriterOptions::default(),
            follow: false,
            interval: Duration::from_secs(1),
            chunk_bytes: 8 << 20,
            decryption: None,
        }
    }

    /// Keep following until cancelled (`true`), or read up to the latest checkpoint once
    /// and return (`false`, the default).
    pub fn follow(mut self, follow: bool) -> TrackOptions {
        self.follow = follow;
        self
    }

    /// Pause between passes when caught up (follow mode; default 1 s).
    pub fn interval(mut self, interval: Duration) -> TrackOptions {
        self.interval = interval;
        self
    }

    /// How runs are written (default: [`WriterOptions::default`]).
    pub fn writer(mut self, writer: WriterOptions) -> TrackOptions {
        self.writer = writer;
        self
    }

    /// Redo bytes after which the pages read so far become a unit a run can end at
    /// (default 8 MiB; at least 1).
    pub fn chunk_bytes(mut self, bytes: u64) -> TrackOptions {
        self.chunk_bytes = bytes.max(1);
        self
    }

    /// Reads an encrypted redo log (`innodb_encrypt_log=ON`) with the server's key 1 and the
    /// cipher mode of its `file_key_management_encryption_algorithm` (default: none, and an
    /// encrypted log is refused with [`FollowError::EncryptedPageIds`]). A key that does not
    /// decrypt the log is refused with [`FollowError::WrongKey`].
    pub fn decrypt_with(mut self, key: ServerKey, mode: Mode) -> TrackOptions {
        self.decryption = Some((key, mode));
        self
    }

    /// The key and mode set with [`decrypt_with`](Self::decrypt_with).
    pub fn get_decryption(&self) -> Option<(ServerKey, Mode)> {
        self.decryption
    }
}

/// Why tracking cannot go on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrackError {
    /// Reading the redo log failed (including a `FORMAT_ENC_11` log, whose page ids are
    /// encrypted, read without the key or with a wrong one).
    #[error(transparent)]
    Follow(#[from] FollowError),
    /// Reading or writing the bitmap files failed.
    #[error(transparent)]
    Bitmap(#[from] Error),
    /// The bitmap directory is missing or unusable: the tracker does not create it; create
    /// it, or choose another.
    #[error("{}: bitmap directory: {source}", path.display())]
    Dir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Another tracker holds the directory.
    #[error("{}: another tracker is writing bitmaps in this directory (it is locked)",
            path.display())]
    Locked {
        /// The directory.
        path: PathBuf,
    },
    /// A record that cannot be decoded, in a mini-transaction whose CRC is valid. No longer
    /// returned: the tracker records a gap over such a mini-transaction and goes on (see the
    /// [module docs](self)).
    #[error("{}: redo log at LSN {lsn}: {source}; the tracker cannot tell which pages this \
             mini-transaction changed, so it stops rather than write an incomplete run",
            path.display())]
    Record {
        /// The redo log.
        path: PathBuf,
        /// Start LSN of the record.
        lsn: Lsn,
        /// What is wrong.
        #[source]
        source: RecordError,
    },
    /// The server's log is behind what the bitmaps already describe.
    #[error("{}: the server's checkpoint LSN {server} is below the LSN {tracked} the bitmaps \
             already track: the datadir was restored or replaced, and the existing bitmap files \
             describe another history; move them away (or purge them) before tracking again",
            path.display())]
    LsnBackwards {
        /// The bitmap directory.
        path: PathBuf,
        /// The server's checkpoint.
        server: Lsn,
        /// What the bitmaps track.
        tracked: Lsn,
    },
}

/// What tracking did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TrackReport {
    /// Resumed from existing bitmaps without a gap.
    pub resumed: bool,
    /// Where reading started.
    pub start_lsn: Lsn,
    /// Where reading got to.
    pub read_lsn: Lsn,
    /// Where the runs got to (start of the next run).
    pub tracked_lsn: Lsn,
    /// Runs written.
    pub runs: u64,
    /// Pages flagged, summed over runs.
    pub pages: u64,
    /// Gaps recorded.
    pub gaps: u64,
    /// The follower's counters (of the current follower; reset by a gap).
    pub follow: FollowStats,
    /// Redo bytes read, over all followers.
    pub bytes: u64,
    /// Time spent.
    pub elapsed: Duration,
}

/// Pages read since the last run, up to an mtr boundary.
#[derive(Debug)]
struct Chunk {
    end: Lsn,
    pages: ChangedPages,
    /// Pages of the mtr ending at `end`.
    last_mtr: Vec<(u32, u32)>,
    bytes: u64,
    /// (start, end) of each mtr holding a `FILE_CHECKPOINT` record (see [`durable_end`]).
    checkpoint_mtrs: Vec<(Lsn, Lsn)>,
    /// A chunk standing for one mtr whose pages are unknown (a malformed record): why. Runs
    /// stop before it and start again after it, in a new file (a gap).
    unknown: Option<String>,
}

impl Chunk {
    fn new(end: Lsn) -> Chunk {
        Chunk {
            end,
            pages: ChangedPages::new(),
            last_mtr: Vec::new(),
            bytes: 0,
            checkpoint_mtrs: Vec::new(),
            unknown: None,
        }
    }
}

/// Follows a server's redo log and writes bitmap runs. See the [module docs](self).
pub struct Tracker {
    opts: TrackOptions,
    follow_opts: FollowOptions,
    follower: Follower,
    writer: BitmapWriter,
    _lock: File,
    /// Start LSN of the next run: the end of the last run on disk.
    run_start: Lsn,
    /// The end of runs that flagged no page, read past `run_start` but not written (an empty
    /// run writes nothing; [`Tracker::finish`] writes it, so that a restart resumes there).
    empty_to: Option<Lsn>,
    /// Pages of the mtr ending exactly at `run_start`.
    carry: Vec<(u32, u32)>,
    /// The doublewrite area of the system tablespace, flagged in every non-empty run.
    doublewrite: Vec<u32>,
    chunks: VecDeque<Chunk>,
    open: Chunk,
    report: TrackReport,
    bytes_before: u64,
    started: Instant,
}

impl std::fmt::Debug for Tracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracker")
            .field("read_lsn", &self.follower.lsn())
            .field("run_start", &self.run_start)
            .field("report", &self.report)
            .finish_non_exhaustive()
    }
}

fn lock_dir(dir: &Path) -> Result<File, TrackError> {
    let dir_err = |source| TrackError::Dir {
        path: dir.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(dir).map_err(dir_err)?;
    if !meta.is_dir() {
        return Err(dir_err(io::Error::other("not a directory")));
    }
    let f = File::open(dir).map_err(dir_err)?;
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(TryLockError::WouldBlock) => Err(TrackError::Locked {
            path: dir.to_path_buf(),
        }),
        Err(TryLockError::Error(e)) => Err(dir_err(e)),
    }
}

impl Tracker {
    /// Opens the bitmap directory (repairing a torn tail), and positions a follower on the
    /// server's log: where the bitmaps end if the log still holds it, else at the current
    /// checkpoint (recording a gap if bitmaps existed).
    pub fn open(opts: &TrackOptions, progress: &dyn Progress) -> Result<Tracker, TrackError> {
        let lock = lock_dir(&opts.bitmap_dir)?;
        let writer = BitmapWriter::open(&opts.bitmap_dir, opts.writer)?;
        let mut follow_opts = FollowOptions::default().poll_budget(64 << 20);
        if let Some((key, mode)) = opts.decryption {
            follow_opts = follow_opts.decrypt_with(key, mode);
        }
        let recovered = writer.recovery().last_tracked_lsn;
        let mut carry = Vec::new();
        let mut gap_reason = None;
        let mut resumed = None;
        if let Some(r) = recovered {
            match resume(&opts.datadir, r, follow_opts) {
                Ok(f) => resumed = Some(f),
                Err(e @ (FollowError::NotInLog { .. } | FollowError::Overtaken { .. })) => {
                    gap_reason = Some(format!("cannot resume at the end of the bitmaps: {e}"));
                }
                Err(e) => return Err(e.into()),
            }
        }
        let (follower, run_start) = match resumed {
            Some(f) => {
                let r = recovered.unwrap_or(f.lsn());
                // The pages of the last run include those of the mtr ending at `r`.
                if let Ok(pages) = BitmapDir::open(&opts.bitmap_dir)
                    .and_then(|d| d.changed_pages(Lsn::new(r.get().saturating_sub(1)), r))
                {
                    for (space, set) in pages.spaces() {
                        carry.extend(set.iter().map(|p| (space, p)));
                    }
                }
                (f, r)
            }
            None => {
                let f = Follower::at_checkpoint(&opts.datadir, follow_opts)?;
                let p = f.lsn();
                let start = Lsn::new(p.get() + 1);
                if let Some(r) = recovered
                    && start < r
                {
                    return Err(TrackError::LsnBackwards {
                        path: opts.bitmap_dir.clone(),
                        server: p,
                        tracked: r,
                    });
                }
                (f, start)
            }
        };
        let mut writer = writer;
        writer.start_file(run_start)?;
        let read = follower.lsn();
        let doublewrite = doublewrite_pages(&opts.datadir);
        let mut t = Tracker {
            opts: opts.clone(),
            follow_opts,
            follower,
            writer,
            _lock: lock,
            run_start,
            empty_to: None,
            carry,
            doublewrite,
            chunks: VecDeque::new(),
            open: Chunk::new(read),
            report: TrackReport {
                resumed: gap_reason.is_none() && recovered.is_some(),
                start_lsn: read,
                read_lsn: read,
                tracked_lsn: run_start,
                ..TrackReport::default()
            },
            bytes_before: 0,
            started: Instant::now(),
        };
        if let Some(why) = &gap_reason {
            t.report.gaps += 1;
            progress.event(Event::TrackGap {
                from: recovered,
                to: run_start,
                reason: why,
            });
        }
        progress.event(Event::TrackStarted {
            read_lsn: read,
            run_start,
            resumed: t.report.resumed,
        });
        Ok(t)
    }

    /// Where reading got to (everything before it is in runs or in memory).
    pub fn read_lsn(&self) -> Lsn {
        self.follower.lsn()
    }

    /// Start LSN of the next run: every page changed by an mtr ending before it is in a run
    /// written to disk, or (after a run that flagged no page) known to be unchanged.
    pub fn tracked_lsn(&self) -> Lsn {
        self.empty_to.unwrap_or(self.run_start)
    }

    /// The report so far.
    pub fn report(&self) -> TrackReport {
        let mut r = self.report.clone();
        r.read_lsn = self.follower.lsn();
        r.tracked_lsn = self.tracked_lsn();
        r.follow = self.follower.stats();
        r.bytes = self.bytes_before + r.follow.bytes;
        r.elapsed = self.started.elapsed();
        r
    }

    /// One pass: reads the log up to the checkpoint seen at the start (an exact run
    /// boundary), then everything else written so far, and writes a run up to the newest
    /// checkpoint (and the `FILE_CHECKPOINT` mini-transaction written for it, durable with
    /// it). Returns whether it caught up with the end of the log (`false` when a
    /// poll budget was used up, or after recording a gap).
    pub fn pass(&mut self, progress: &dyn Progress) -> Result<bool, TrackError> {
        let caught_up = match self.read() {
            Ok(c) => c,
            Err(TrackError::Follow(
                e @ (FollowError::Overtaken { .. } | FollowError::Gap { .. }),
            )) => {
                self.gap(&e.to_string(), progress)?;
                return Ok(false);
            }
            Err(e) => return Err(e),
        };
        let checkpoint = self.follower.checkpoint();
        let upto = durable_end(checkpoint, self.chunks.iter().chain([&self.open]));
        self.write_runs(upto, progress)?;
        progress.event(Event::TrackPass {
            read_lsn: self.follower.lsn(),
            checkpoint: checkpoint.lsn,
            tracked_lsn: self.tracked_lsn(),
            stats: self.follower.stats(),
        });
        Ok(caught_up)
    }

    /// Reads up to the current checkpoint, then to the end of the log.
    fn read(&mut self) -> Result<bool, TrackError> {
        let c = self.follower.refresh()?.lsn;
        if c > self.follower.lsn() {
            let p = self.poll(Some(c))?;
            self.close_chunk();
            if p != PollStop::Until {
                return Ok(false);
            }
        }
        let p = self.poll(None)?;
        self.close_chunk();
        Ok(p == PollStop::CaughtUp)
    }

    fn poll(&mut self, until: Option<Lsn>) -> Result<PollStop, TrackError> {
        let Tracker {
            follower,
            open,
            chunks,
            opts,
            ..
        } = self;
        let chunk_bytes = opts.chunk_bytes.max(1);
        let log = follower.path().to_path_buf();
        let polled = follower.poll(until, |m| {
            if let Err(why) = add_mtr(open, m)? {
                // Pages unknown: the runs stop before this mtr and go on after it (a gap).
                let end = m.end_lsn();
                let before = std::mem::replace(open, Chunk::new(end));
                if before.bytes > 0 {
                    chunks.push_back(before);
                }
                let mut unknown = Chunk::new(end);
                unknown.bytes = m.len();
                unknown.unknown = Some(format!("{}: {why}", log.display()));
                chunks.push_back(unknown);
                return Ok(());
            }
            if open.bytes >= chunk_bytes {
                let full = std::mem::replace(open, Chunk::new(open.end));
                chunks.push_back(full);
            }
            Ok::<(), TrackError>(())
        })?;
        Ok(polled.stop)
    }

    fn close_chunk(&mut self) {
        if self.open.bytes > 0 {
            let end = self.open.end;
            let full = std::mem::replace(&mut self.open, Chunk::new(end));
            self.chunks.push_back(full);
        }
    }

    /// Writes the chunks ending at or before `upto`: one run, or around each mtr whose pages are
    /// unknown, a run before it and a gap over it.
    fn write_runs(&mut self, upto: Lsn, progress: &dyn Progress) -> Result<(), TrackError> {
        loop {
            self.write_one_run(upto, progress)?;
            let unknown = self
                .chunks
                .front()
                .is_some_and(|c| c.end <= upto && c.unknown.is_some());
            if !unknown {
                return Ok(());
            }
            if let Some(c) = self.chunks.pop_front() {
                self.unknown_gap(&c, progress)?;
            }
        }
    }

    /// Records a gap over the mtr of chunk `c`, whose pages are unknown: what was read before
    /// it is written, and runs start again just after its end, in a new file (readers refuse
    /// a range across it, and an incremental across it scans).
    fn unknown_gap(&mut self, c: &Chunk, progress: &dyn Progress) -> Result<(), TrackError> {
        self.finish(progress)?;
        let from = self.run_start;
        let to = Lsn::new(c.end.get() + 1);
        self.writer.start_file(to)?;
        self.run_start = to;
        self.empty_to = None;
        self.carry.clear();
        self.report.gaps += 1;
        let why = format!(
            "the mini-transaction ending at LSN {} has a malformed record ({}); its pages are \
             unknown",
            c.end,
            c.unknown.as_deref().unwrap_or("")
        );
        progress.event(Event::TrackGap {
            from: Some(from),
            to,
            reason: &why,
        });
        Ok(())
    }

    /// Writes one run with every chunk ending at or before `upto`, up to the first chunk of
    /// unknown pages.
    fn write_one_run(&mut self, upto: Lsn, progress: &dyn Progress) -> Result<(), TrackError> {
        let mut merged = ChangedPages::new();
        let mut end = None;
        let mut last_mtr = Vec::new();
        while self
            .chunks
            .front()
            .is_some_and(|c| c.end <= upto && c.unknown.is_none())
        {
            let Some(c) = self.chunks.pop_front() else {
                break;
            };
            if end.is_none() {
                merged = c.pages;
            } else {
                merged.union(&c.pages);
            }
            end = Some(c.end);
            last_mtr = c.last_mtr;
        }
        let Some(end) = end else {
            return Ok(());
        };
        if end <= self.run_start {
            // Read before the run start (a fresh start at P names its file P + 1).
            self.carry = last_mtr;
            return Ok(());
        }
        for &(s, p) in &self.carry {
            merged.insert(s, p);
        }
        if merged.is_empty() {
            // Nothing to write: the next run starts at `run_start` still and covers this range
            // too (it holds no page, and the carry is empty: its pages would be in `merged`).
            self.empty_to = Some(end);
            self.carry = last_mtr;
            return Ok(());
        }
        self.write_run(end, merged, progress)?;
        self.carry = last_mtr;
        Ok(())
    }

    /// Writes the run `[run_start, end]`, adding the doublewrite area to a non-empty `pages`.
    fn write_run(
        &mut self,
        end: Lsn,
        mut pages: ChangedPages,
        progress: &dyn Progress,
    ) -> Result<(), TrackError> {
        for &p in &self.doublewrite {
            pages.insert(0, p);
        }
        let start = self.run_start;
        let written = self.writer.write_run(end, &pages)?;
        let count = pages.page_count();
        self.report.runs += 1;
        self.report.pages += count;
        if let Some(w) = written {
            progress.event(Event::TrackRun {
                start,
                end,
                pages: count,
                path: &w.path,
            });
        }
        self.run_start = end;
        self.empty_to = None;
        Ok(())
    }

    /// Writes what the runs that flagged no page covered, as a run flagging only page 0 of the
    /// system tablespace (and the doublewrite area): a page flagged needlessly costs one page
    /// read, and the files then end where the tracker got to, so that a restart resumes there
    /// instead of recording a gap when the server rebuilt its log meanwhile. [`track`] calls it
    /// before returning; call it before dropping a [`Tracker`] driven by [`Tracker::pass`].
    pub fn finish(&mut self, progress: &dyn Progress) -> Result<(), TrackError> {
        if let Some(end) = self.empty_to.filter(|&e| e > self.run_start) {
            let mut marker = ChangedPages::new();
            marker.insert(0, 0);
            self.write_run(end, marker, progress)?;
        }
        self.empty_to = None;
        Ok(())
    }

    /// Records a gap: writes what was read (all of it is below the server's checkpoint now),
    /// then restarts at the current checkpoint in a new file.
    fn gap(&mut self, why: &str, progress: &dyn Progress) -> Result<(), TrackError> {
        self.close_chunk();
        let read = self.follower.lsn();
        self.write_runs(read, progress)?;
        self.finish(progress)?;
        let from = self.run_start;
        let f = Follower::at_checkpoint(&self.opts.datadir, self.follow_opts)?;
        let p = f.lsn();
        let to = Lsn::new(p.get() + 1);
        if to < from {
            return Err(TrackError::LsnBackwards {
                path: self.opts.bitmap_dir.clone(),
                server: p,
                tracked: from,
            });
        }
        self.bytes_before += self.follower.stats().bytes;
        self.follower = f;
        self.chunks.clear();
        self.open = Chunk::new(p);
        self.carry.clear();
        self.writer.start_file(to)?;
        self.run_start = to;
        self.empty_to = None;
        self.report.gaps += 1;
        progress.event(Event::TrackGap {
            from: Some(from),
            to,
            reason: why,
        });
        Ok(())
    }
}

/// Resumes at `r` (the end of the last run), or at `r − 1` when `r` names a fresh file
/// (`P + 1`) that has no run yet.
fn resume(datadir: &Path, r: Lsn, opts: FollowOptions) -> Result<Follower, FollowError> {
    match Follower::at_lsn(datadir, r, opts) {
        Ok(f) => Ok(f),
        Err(e @ FollowError::NotInLog { .. }) => match r.get().checked_sub(1) {
            Some(p) => Follower::at_lsn(datadir, Lsn::new(p), opts).map_err(|_| e),
            None => Err(e),
        },
        Err(e) => Err(e),
    }
}

/// Adds the pages of one mtr to the open chunk; `Ok(Err(why))`, changing nothing, when a
/// record of it is malformed (its pages are unknown).
fn add_mtr(open: &mut Chunk, m: &FollowedMtr<'_>) -> Result<Result<(), String>, TrackError> {
    let mut ids = Vec::new();
    let mut checkpoint = false;
    for r in m.records()? {
        let r = match r {
            Ok(r) => r,
            Err(e) => {
                let at = m.start_lsn().get() + e.offset as u64;
                return Ok(Err(format!("record at LSN {at}: {e}")));
            }
        };
        if let RecordKind::Page { page, op, .. } = r.kind() {
            let id = (page.space_id, page.page_no);
            if ids.last() != Some(&id) {
                ids.push(id);
            }
            if op.is_trim_pages() {
                ids.push((page.space_id, 0));
            }
        } else if let RecordKind::File {
            op: FileOp::Checkpoint,
            padding: false,
            ..
        } = r.kind()
        {
            checkpoint = true;
        }
    }
    if checkpoint {
        open.checkpoint_mtrs.push((m.start_lsn(), m.end_lsn()));
    }
    for &(space, page) in &ids {
        open.pages.insert(space, page);
    }
    open.last_mtr = ids;
    open.end = m.end_lsn();
    open.bytes += m.len();
    Ok(Ok(()))
}

/// Tracks: opens a [`Tracker`], then passes until caught up (`opts.follow == false`) or until
/// `cancel` is cancelled (follow mode: a pass every `opts.interval` when caught up); the pass
/// in progress when `cancel` is cancelled is finished and its run written.
pub fn track(
    opts: &TrackOptions,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<TrackReport, TrackError> {
    let mut t = Tracker::open(opts, progress)?;
    loop {
        let caught_up = t.pass(progress)?;
        if cancel.is_cancelled() || (caught_up && !opts.follow) {
            break;
        }
        if caught_up {
            let until = Instant::now() + opts.interval;
            while Instant::now() < until && !cancel.is_cancelled() {
                std::thread::sleep(Duration::from_millis(20).min(opts.interval));
            }
        }
    }
    t.finish(progress)?;
    Ok(t.report())
}

/// How far the log is durable by `checkpoint`: the server makes the log durable up to the end
/// of the `FILE_CHECKPOINT` mini-transaction it writes for a checkpoint (the first one at or
/// after the block's end LSN; `FILE_MODIFY` records may precede it) before it writes the
/// checkpoint block. So when that mtr has been read (from `chunks`), runs may end at its end;
/// otherwise at the checkpoint LSN. After a clean shutdown this is the end of the log, which is
/// where a log rebuilt at the next start begins.
fn durable_end<'a>(checkpoint: Checkpoint, chunks: impl Iterator<Item = &'a Chunk>) -> Lsn {
    let Some(from) = checkpoint.end_lsn else {
        return checkpoint.lsn;
    };
    chunks
        .flat_map(|c| c.checkpoint_mtrs.iter())
        .find(|&&(start, _)| start >= from)
        .map_or(checkpoint.lsn, |&(_, end)| end.max(checkpoint.lsn))
}

/// The page numbers of the doublewrite area of the system tablespace in `datadir` (empty if
/// it cannot be read). The server writes copies of data pages there without redo records,
/// with the copied pages' LSNs; a full-scan incremental selects them by LSN like any page, so
/// runs flag them too, which keeps an incremental by bitmap identical to one by scan.
fn doublewrite_pages(datadir: &Path) -> Vec<u32> {
    let Ok(files) = innodb_page::datadir::system_files(datadir) else {
        return Vec::new();
    };
    let opts = OpenOptions::default()
        .mode(ReadMode::Pread)
        .allow_partial_tail(true);
    let Ok(ts) = Tablespace::open_with(&files, opts) else {
        return Vec::new();
    };
    match ts.doublewrite() {
        Some(d) => d
            .block1
            .clone()
            .chain(d.block2.clone())
            .filter_map(|p| u32::try_from(p).ok())
            .collect(),
        None => Vec::new(),
    }
}
