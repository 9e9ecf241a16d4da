//! The backup engine (`xb backup`): full and incremental backups of a stopped datadir or a
//! filesystem snapshot, in mariabackup's directory layout.
//!
//! One entry point: [`BackupPlan::new`] looks at the source and decides what to do (which
//! files, how each tablespace's pages are selected and why), and [`BackupPlan::run`] does it,
//! writing through a [`Sink`](sink::Sink) (a local directory: [`DirSink`](sink::DirSink)),
//! reporting through a [`Progress`](crate::progress::Progress) and stopping at the next batch
//! when a [`Cancel`](crate::progress::Cancel) token fires. It returns a [`BackupReport`].
//!
//! ```no_run
//! use incremental_core::backup::{BackupOptions, BackupPlan, Incremental};
//! use incremental_core::backup::sink::DirSink;
//! use incremental_core::progress::{Cancel, NoProgress};
//! let mut opts = BackupOptions::new("/var/lib/mysql");
//! opts.incremental = Some(Incremental::Basedir("/backups/full".into()));
//! let plan = BackupPlan::new(&opts)?;
//! println!("{} tablespaces, method {}", plan.tablespaces.len(), plan.method.name());
//! let mut sink = DirSink::new("/backups/inc1").map_err(|e| incremental_core::backup::BackupError::Write {
//!     path: "/backups/inc1".into(), source: e })?;
//! let report = plan.run(&mut sink, &NoProgress, &Cancel::new())?;
//! println!("copied {} of {} pages", report.pages_copied(), report.pages_scanned());
//! # Ok::<(), incremental_core::backup::BackupError>(())
//! ```
//!
//! # What a backup holds
//!
//! * Full: every page of every InnoDB tablespace (system, undo, file-per-table; never the
//!   temporary tablespace), each checksum-verified as it is read; the non-InnoDB files whole;
//!   `ib_logfile0` (see [`redo_copy`]); `xtrabackup_checkpoints` (`full-backuped`,
//!   `from_lsn = 0`, `to_lsn` = the source's checkpoint LSN, `last_lsn` = the end of its log),
//!   `xtrabackup_info`, `backup-my.cnf`, and xb's own `xb_backup_info`.
//! * Incremental: for every tablespace file a `.delta` (even when no page qualifies) and a
//!   `.meta` (mariabackup's dialect); the rest as for a full, with `backup_type =
//!   incremental` and `from_lsn` = the base's `to_lsn`.
//!
//! # Which pages an incremental copies
//!
//! A page goes into the delta when its LSN `L` (FIL_PAGE_LSN) satisfies **`L ≥ threshold`**
//! (at or above, not strictly above). The page LSN is the end LSN of the last
//! mini-transaction that changed the page, and the base is consistent as of its checkpoint: a
//! page whose last change ends exactly at the base's checkpoint LSN may not be in the base's
//! data files (the checkpoint only promises that changes *before* it are flushed) while its
//! redo lies before the incremental's redo start. With `>` such a page is lost when the
//! checkpoint did not move between the two backups (the bug XtraBackup fixed as PXB-1824).
//! Copying one page too many is always safe; missing one is not.
//!
//! The threshold is the lower of the base's `to_lsn` and the LSN where the base's copied redo
//! starts (the checkpoint in its `ib_logfile0` header). For xb's own backups they are equal.
//! A mariabackup base taken under load has `to_lsn` = the checkpoint at the *end* of its run;
//! pages changed between its start and end checkpoints exist only in its redo, and would be
//! lost by a merge that skips that redo if the scan started at `to_lsn`. The threshold is
//! recorded as `selection_lsn` in `xb_backup_info`; `xtrabackup_checkpoints` keeps
//! `from_lsn` = the base's `to_lsn`, which is what `mariabackup --prepare` checks.
//!
//! Pages are found by a **full scan** (every page read, in 2 MiB units by [`DEFAULT_READERS`]
//! threads with `O_DIRECT`, memory bounded; see `scan`, `read` and `ordered` in the source) or,
//! when a changed-page bitmap directory covers the LSNs from the threshold to this backup's
//! checkpoint, by reading only the **pages the bitmap flags** (still applying the LSN test).
//! Incomplete coverage falls back to the scan, with the reason in a progress note and in
//! `xb_backup_info` (`fallback_reason`). Every page read is checksum-verified, copied or not
//! (the LSN that decides is inside the page: a damaged one must not make a page look
//! unchanged).
//!
//! # Speed
//!
//! `scripts/bench-backup` measures, one run each with a cold page cache (each file dropped
//! with `posix_fadvise(DONTNEED)` first), on ~1.8 GB of tables with 1% of the pages changed:
//! `cat` of the data files and 2 concurrent `dd bs=2M` (the read floors), the scan and the
//! bitmap incrementals (stopped datadir, target synced), and `mariabackup --backup
//! --incremental-basedir` against the server running idle on the same datadir. It prints the
//! load and the whole disk's traffic around each run, since the benchmark machine (2 cores)
//! shares its disk: the same run varies by 2x or more between runs.
//!
//! The scan reads at the disk's speed (0.2–0.4 s of CPU for 1.8 GB, against 1.1–3.3 s for
//! buffered reads), so it is bound by the read floor, not by the checks. The bitmap run's
//! fixed cost is small: planning ~5 ms (9 tablespaces: page 0 of each, the lock probe, the
//! redo header and scan), the non-InnoDB files (copied by the same pipeline, queued to the
//! kernel at the start), the redo copy (< 1 ms after a clean shutdown) and one `syncfs`
//! (1–15 ms, the files' writeback having been started as each was closed). The CLI prints
//! these phases (`xb: time: …`).

use std::path::PathBuf;

use innodb_page::Lsn;

pub mod bitmap_source;
#[cfg(feature = "hot")]
pub mod hot;
mod ordered;
pub mod plan;
mod read;
pub mod redo_copy;
pub mod report;
mod scan;
pub mod sink;
pub mod source;

pub use crate::backup_info::Method;
pub use plan::{BackupKind, BackupPlan, DataFilePlan, OtherFile, TablespacePlan, DEFAULT_READERS};
pub use report::{BackupReport, CorruptPage, Phases, TablespaceReport};
pub use source::Filter;

/// Where an incremental backup starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incremental {
    /// `--incremental-basedir`: the previous backup (full or incremental, ours or mariabackup's).
    Basedir(PathBuf),
    /// `--incremental-lsn`: copy pages with an LSN at or above this; `from_lsn` = this.
    Lsn(Lsn),
}

/// What to back up and how.
///
/// ```
/// let o = incremental_core::backup::BackupOptions::new("/var/lib/mysql");
/// assert!(o.incremental.is_none() && !o.force_scan && o.parallel == 0);
/// assert_eq!(incremental_core::backup::DEFAULT_READERS, 4);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupOptions {
    /// The source datadir (stopped server, or a snapshot).
    pub datadir: PathBuf,
    /// `None` for a full backup.
    pub incremental: Option<Incremental>,
    /// Never use bitmaps: scan every page.
    pub force_scan: bool,
    /// Directory of changed-page bitmap files (`ib_modified_log_*.xdb`); `None`: the datadir.
    pub bitmap_dir: Option<PathBuf>,
    /// Reader threads (0: [`DEFAULT_READERS`]).
    pub parallel: usize,
    /// Partial backup filters.
    pub filter: Filter,
    /// Take an incremental on top of a partial base anyway.
    pub accept_partial_base: bool,
    /// On a corrupt page, record it (in `innodb_corrupted_pages`, and copy it into the delta
    /// whatever its LSN, as mariabackup's `--log-innodb-page-corruption` does) instead of
    /// failing.
    pub log_innodb_page_corruption: bool,
    /// Bytes per read batch (default 2 MiB).
    pub chunk_bytes: usize,
    /// The command line, recorded in `xtrabackup_info` (`tool_command`).
    pub tool_command: String,
    /// Pause after each read of data-file pages (up to `chunk_bytes`, per reader thread):
    /// lightens the load a backup puts on a running server's disk. Tests use it to make the
    /// server checkpoint while a hot backup runs.
    pub read_delay: Option<std::time::Duration>,
}

impl BackupOptions {
    /// A full backup of `datadir` with default settings.
    pub fn new(datadir: impl Into<PathBuf>) -> BackupOptions {
        BackupOptions {
            datadir: datadir.into(),
            incremental: None,
            force_scan: false,
            bitmap_dir: None,
            parallel: 0,
            filter: Filter::default(),
            accept_partial_base: false,
            log_innodb_page_corruption: false,
            chunk_bytes: 2 << 20,
            tool_command: String::new(),
            read_delay: None,
        }
    }
}

/// Why a backup could not be planned or did not complete. Every message names the file
/// concerned and, where there is one, what to do.
///
/// ```
/// use incremental_core::backup::BackupError;
/// let e = BackupError::ServerRunning { path: "/d/ibdata1".into(), pid: 42 };
/// assert!(e.to_string().contains("stop the server"));
/// ```
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// Reading a source file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Writing to the destination failed.
    #[error("writing {}: {source}", path.display())]
    Write {
        /// The file in the backup.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A source file is not what InnoDB writes.
    #[error(transparent)]
    Page(#[from] innodb_page::Error),
    /// A backup file (the base's metadata) could not be read.
    #[error(transparent)]
    Core(#[from] crate::Error),
    /// A server is running on the datadir.
    #[error(
        "{}: locked by process {pid}: a server is running on this datadir; stop the server \
         (or back up a filesystem snapshot of the datadir) and try again",
        path.display()
    )]
    ServerRunning {
        /// The locked file.
        path: PathBuf,
        /// The process holding the lock.
        pid: i32,
    },
    /// Something xb does not support yet.
    #[error("{}: {what}", path.display())]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// What and why.
        what: String,
    },
    /// A page failed its checksum (or page number / space id) check.
    #[error(
        "{}: page {page_no} is corrupt: {problem}; the backup stops here (pass \
         --log-innodb-page-corruption to record such pages and continue)",
        path.display()
    )]
    CorruptPage {
        /// The data file.
        path: PathBuf,
        /// Page number in the file.
        page_no: u64,
        /// What is wrong.
        problem: String,
    },
    /// The base of an incremental is unusable.
    #[error("{}: {what}", path.display())]
    Base {
        /// The base directory.
        path: PathBuf,
        /// What is wrong and what to do.
        what: String,
    },
    /// The base is a partial backup.
    #[error(
        "{}: the base is a partial backup: tables it lacks would be missing from the result; \
         pass --accept-partial-base to take the incremental anyway",
        path.display()
    )]
    PartialBase {
        /// The base directory.
        path: PathBuf,
    },
    /// The source changed or contradicts itself while being read.
    #[error("{what}")]
    Inconsistent {
        /// What.
        what: String,
    },
    /// The [`Cancel`](crate::progress::Cancel) token fired.
    #[error("cancelled")]
    Cancelled,
    /// Following the running server's redo log failed (e.g. it was overwritten before it was
    /// read: [`FollowError::Overtaken`](innodb_page::redo::follow::FollowError::Overtaken)).
    #[error("hot backup failed, the backup is incomplete: {0}")]
    Follow(#[from] innodb_page::redo::follow::FollowError),
    /// Talking to the running server failed.
    #[cfg(feature = "hot")]
    #[error(transparent)]
    Server(#[from] hot::server::ServerError),
}
