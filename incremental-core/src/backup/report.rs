//! What a backup did: per tablespace, how its pages were selected and how many were read,
//! copied and skipped.

use std::path::PathBuf;

use innodb_page::Lsn;

use crate::backup_info::Method;

/// A page that failed its checks and was recorded (with `--log-innodb-page-corruption`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorruptPage {
    /// Page number within the tablespace.
    pub page_no: u64,
    /// What is wrong.
    pub problem: String,
}

/// One tablespace's figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TablespaceReport {
    /// Its first file, relative to the datadir.
    pub path: PathBuf,
    /// Space id.
    pub space_id: u32,
    /// How its pages were selected.
    pub method: Method,
    /// Why (e.g. "bitmap covers 100..200", "incremental force scan").
    pub why: String,
    /// Pages read and checked.
    pub pages_scanned: u64,
    /// Pages written to the backup.
    pub pages_copied: u64,
    /// Pages of the files never read (bitmap) or read but not copied (LSN test).
    pub pages_skipped: u64,
    /// Bytes read from the source.
    pub bytes_read: u64,
    /// Bytes written (data file or `.delta` and `.meta`).
    pub bytes_written: u64,
    /// Pages recorded as corrupt.
    pub corrupt: Vec<CorruptPage>,
}

/// Where a run's time went, in seconds (wall clock).
///
/// ```
/// let p = incremental_core::backup::Phases { files: 1.5, redo: 0.01, sync: 0.2 };
/// assert!(p.files > p.sync);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Phases {
    /// Reading, checking and writing the data files and the non-InnoDB files (one pipeline).
    pub files: f64,
    /// Copying the redo log.
    pub redo: f64,
    /// Making the backup durable ([`Sink::finish`](super::sink::Sink::finish)).
    pub sync: f64,
}

/// The result of [`BackupPlan::run`](super::BackupPlan::run).
///
/// ```
/// use incremental_core::backup::{BackupReport, Method};
/// use innodb_page::Lsn;
/// let r = BackupReport { incremental: false, from_lsn: Lsn(0), to_lsn: Lsn(9), last_lsn: Lsn(25),
///     selection_lsn: Lsn(0), method: Method::Full, fallback_reason: String::new(),
///     tablespaces: vec![], other_files: 0, other_bytes: 0, redo_bytes: 12304, seconds: 0.1,
///     phases: Default::default() };
/// assert_eq!(r.pages_copied(), 0);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct BackupReport {
    /// Incremental or full.
    pub incremental: bool,
    /// `from_lsn` written.
    pub from_lsn: Lsn,
    /// `to_lsn` written (the source's checkpoint).
    pub to_lsn: Lsn,
    /// `last_lsn` written (the end of the copied redo).
    pub last_lsn: Lsn,
    /// Pages with an LSN at or above this were copied (0 for a full backup).
    pub selection_lsn: Lsn,
    /// Overall method.
    pub method: Method,
    /// Why a bitmap was not used ("" if it was, or for a full backup).
    pub fallback_reason: String,
    /// Per tablespace.
    pub tablespaces: Vec<TablespaceReport>,
    /// Non-InnoDB files copied.
    pub other_files: u64,
    /// Their bytes.
    pub other_bytes: u64,
    /// Size of the copied `ib_logfile0`.
    pub redo_bytes: u64,
    /// Wall-clock duration.
    pub seconds: f64,
    /// Its main parts.
    pub phases: Phases,
}

impl BackupReport {
    /// Pages read over all tablespaces.
    pub fn pages_scanned(&self) -> u64 {
        self.tablespaces.iter().map(|t| t.pages_scanned).sum()
    }

    /// Pages copied over all tablespaces.
    pub fn pages_copied(&self) -> u64 {
        self.tablespaces.iter().map(|t| t.pages_copied).sum()
    }

    /// Pages skipped over all tablespaces.
    pub fn pages_skipped(&self) -> u64 {
        self.tablespaces.iter().map(|t| t.pages_skipped).sum()
    }

    /// Bytes read from data files.
    pub fn bytes_read(&self) -> u64 {
        self.tablespaces.iter().map(|t| t.bytes_read).sum()
    }
}
