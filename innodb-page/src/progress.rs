//! Progress reports and cancellation for long operations (backup, apply, changed-page
//! tracking), shared by every crate of xb.
//!
//! The libraries never print: they call a [`Progress`] implementation, which a CLI turns into
//! progress bars or log lines, and a product into whatever it likes. A [`Cancel`] token lets
//! another thread (or a signal handler) stop an operation at the next page batch or pass.
//!
//! ```
//! use std::sync::Mutex;
//! use innodb_page::progress::{Event, Progress};
//!
//! /// Counts the pages copied.
//! #[derive(Default)]
//! struct Counter(Mutex<u64>);
//!
//! impl Progress for Counter {
//!     fn event(&self, event: Event<'_>) {
//!         if let Event::Pages { copied, .. } = event {
//!             *self.0.lock().unwrap() += copied;
//!         }
//!     }
//! }
//!
//! let c = Counter::default();
//! c.event(Event::Pages { scanned: 10, copied: 3, bytes: 163_840 });
//! c.event(Event::Note { message: "bitmap incomplete: scanning" });
//! assert_eq!(*c.0.lock().unwrap(), 3);
//! ```

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::redo::follow::FollowStats;
use crate::Lsn;

/// One thing that happened.
///
/// New kinds of events are added as operations grow: match with a `_ => {}` arm for the
/// events a receiver does not show.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Event<'a> {
    /// Work planned: bytes and files, for sizing a progress bar. An operation that finds more
    /// work as it goes (a hot backup's late files) sends one per batch: the totals add up.
    Planned {
        /// Files to process.
        files: u64,
        /// Bytes to read.
        bytes: u64,
    },
    /// A file is being started.
    FileStarted {
        /// Its path (relative to the source or target directory).
        path: &'a Path,
        /// Its size in bytes.
        bytes: u64,
    },
    /// Pages were processed.
    Pages {
        /// Pages read or examined.
        scanned: u64,
        /// Of those, pages copied or written.
        copied: u64,
        /// Bytes read.
        bytes: u64,
    },
    /// A file is done.
    FileDone {
        /// Its path.
        path: &'a Path,
    },
    /// Something worth telling a user that is not an error (e.g. "bitmap does not cover the
    /// range; scanning instead").
    Note {
        /// The message.
        message: &'a str,
    },
    /// A backup reached its consistent point: it restores the source's committed data as of
    /// `lsn`, the end of the redo log it copied. A hot backup sends it while the server's
    /// commits are blocked (`BACKUP STAGE BLOCK_COMMIT` held), so that a receiver reading the
    /// server at that moment sees exactly the data the backup restores to; the run waits for
    /// the receiver to return, so keep it short.
    ConsistentPoint {
        /// The LSN the copied redo log reaches.
        lsn: Lsn,
    },
    /// Changed-page tracking opened: reading the redo log from `read_lsn`, the next bitmap run
    /// starting at `run_start`.
    TrackStarted {
        /// Where reading the redo log starts.
        read_lsn: Lsn,
        /// Start LSN of the next run.
        run_start: Lsn,
        /// Resumed from existing bitmaps without a gap.
        resumed: bool,
    },
    /// Changed-page tracking lost the LSNs `from..to` and restarts at `to` in a new bitmap
    /// file: incrementals across the gap read every page.
    TrackGap {
        /// End of the data tracked before (`None` if nothing was tracked).
        from: Option<Lsn>,
        /// Where tracking restarts (the name LSN of the next file).
        to: Lsn,
        /// Why.
        reason: &'a str,
    },
    /// A bitmap run (the pages changed in `start..=end`) was written.
    TrackRun {
        /// Its start LSN.
        start: Lsn,
        /// Its end LSN.
        end: Lsn,
        /// Pages flagged.
        pages: u64,
        /// The bitmap file.
        path: &'a Path,
    },
    /// A tracking pass finished.
    TrackPass {
        /// Where reading the redo log got to.
        read_lsn: Lsn,
        /// The server's checkpoint.
        checkpoint: Lsn,
        /// Where the runs got to (start of the next run).
        tracked_lsn: Lsn,
        /// The redo follower's counters.
        stats: FollowStats,
    },
}

/// Receives [`Event`]s. Called from worker threads, so it must be `Sync`.
pub trait Progress: Sync {
    /// Called for every event.
    fn event(&self, event: Event<'_>);
}

/// A [`Progress`] that ignores everything.
///
/// ```
/// use innodb_page::progress::{Event, NoProgress, Progress};
/// NoProgress.event(Event::Planned { files: 1, bytes: 16384 });
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn event(&self, _: Event<'_>) {}
}

/// A cancellation token shared between the caller and an operation.
///
/// Cancelling only sets an atomic flag, so it may be done from a signal handler.
///
/// ```
/// use innodb_page::progress::Cancel;
/// let c = Cancel::new();
/// let worker_view = c.clone();
/// assert!(!worker_view.is_cancelled());
/// c.cancel();
/// assert!(worker_view.is_cancelled());
/// ```
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    /// A token not cancelled yet.
    pub fn new() -> Cancel {
        Cancel::default()
    }

    /// Asks the operation to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// True once [`Cancel::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}
