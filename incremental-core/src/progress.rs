//! Progress reports and cancellation for long operations (backup, apply).
//!
//! The library never prints: it calls a [`Progress`] implementation, which a CLI turns into
//! progress bars or log lines, and a product into whatever it likes. A [`Cancel`] token lets
//! another thread stop an operation at the next page batch.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// One thing that happened.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// Work planned: total bytes and files, for sizing a progress bar.
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
}

/// Receives [`Event`]s. Called from worker threads, so it must be `Sync`.
pub trait Progress: Sync {
    /// Called for every event.
    fn event(&self, event: Event<'_>);
}

/// A [`Progress`] that ignores everything.
///
/// ```
/// use incremental_core::progress::{Event, NoProgress, Progress};
/// NoProgress.event(Event::Planned { files: 1, bytes: 16384 });
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn event(&self, _: Event<'_>) {}
}

/// A cancellation token shared between the caller and an operation.
///
/// ```
/// use incremental_core::progress::Cancel;
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
        self.0.store(true, Ordering::Relaxed);
    }

    /// True once [`Cancel::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}
