//! What a backup copies: the tablespaces (their files, and how their pages are selected), the
//! non-InnoDB files, the redo log, and the notes the planning made.

use std::fmt;
use std::fs::File;
use std::ops::Range;
use std::os::unix::io::AsRawFd;
use std::path::PathBuf;
use std::sync::Arc;

use innodb_page::checksum::ChecksumContext;
use innodb_page::fsp::TablespaceFormat;
use innodb_page::tablespace::Doublewrite;

use super::redo_copy::RedoFacts;
use crate::format::backup_info::Method;

/// One data file of a tablespace.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DataFilePlan {
    /// The file in the source.
    pub src: PathBuf,
    /// Its path relative to the datadir (and in the backup).
    pub rel: PathBuf,
    /// Tablespace page number of its first page.
    pub first_page: u64,
    /// Whole pages in it when the plan was made (the copy reads exactly these).
    pub pages: u64,
    /// Bytes after the last whole page (not copied).
    pub trailing_bytes: u64,
}

/// One tablespace: its files and how its pages are selected.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TablespacePlan {
    /// Space id (page 0).
    pub space_id: u32,
    /// Physical page size.
    pub page_size: usize,
    /// ROW_FORMAT=COMPRESSED (the physical page is the zip size).
    pub compressed: bool,
    /// FSP flags (page 0).
    pub flags: u32,
    /// The files (one, or the system tablespace's `ibdata1`, `ibdata2`, …).
    pub files: Vec<DataFilePlan>,
    /// How pages are selected.
    pub method: Method,
    /// Why.
    pub why: String,
    pub(crate) format: TablespaceFormat,
    pub(crate) checksum: ChecksumContext,
    pub(crate) doublewrite: Option<Doublewrite>,
    /// MariaDB crypt data of page 0 (the IV the page keys derive from), if any.
    pub(crate) crypt: Option<innodb_page::crypto::page::CryptData>,
    /// Per file, the page ranges to read (bitmap method only).
    pub(crate) ranges: Option<Vec<Vec<Range<u64>>>>,
    /// Hot backups: each file opened when planned, so that a rename or drop during the copy
    /// does not change what is read (empty: open the files by path).
    pub(crate) pinned: Vec<Arc<File>>,
}

impl TablespacePlan {
    /// Pages in all files.
    pub fn pages(&self) -> u64 {
        self.files.iter().map(|f| f.pages).sum()
    }

    /// The path the readers open for file `i`: `/proc/self/fd/N` of the descriptor opened at
    /// planning time (hot backups: the same file even if it was renamed or deleted since),
    /// else the file's path.
    pub(crate) fn open_path(&self, i: usize) -> PathBuf {
        match self.pinned.get(i) {
            Some(f) => PathBuf::from(format!("/proc/self/fd/{}", f.as_raw_fd())),
            None => self.files[i].src.clone(),
        }
    }

    /// Pages the plan reads (all of them, or those the bitmap flags).
    pub fn pages_to_read(&self) -> u64 {
        match &self.ranges {
            Some(r) => r.iter().flatten().map(|r| r.end - r.start).sum(),
            None => self.pages(),
        }
    }
}

/// A non-InnoDB file, copied whole.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OtherFile {
    /// The file in the source.
    pub src: PathBuf,
    /// Its path relative to the datadir (and in the backup).
    pub rel: PathBuf,
    /// Its size when planned (the copy writes exactly this many bytes).
    pub size: u64,
}

impl OtherFile {
    pub(crate) fn new(src: PathBuf, rel: PathBuf, size: u64) -> OtherFile {
        OtherFile { src, rel, size }
    }
}

/// Something the planning found worth telling (also sent as a progress note by the run).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PlanNote {
    /// A tablespace is encrypted: its pages are copied as they are on disk.
    Encrypted {
        /// Its first file.
        path: PathBuf,
    },
    /// The base is a partial backup, and the incremental is taken anyway.
    PartialBaseAccepted {
        /// The base directory.
        base: PathBuf,
    },
    /// Hot backups: a file listed was gone when it was opened (renamed or dropped).
    Vanished {
        /// The file.
        path: PathBuf,
    },
    /// Hot backups: a tablespace that cannot be opened now (being created), left to the
    /// end-of-backup DDL pass.
    NotCopiedNow {
        /// Its first file.
        path: PathBuf,
        /// Why it cannot be opened.
        problem: String,
    },
    /// The changed-page bitmaps do not cover the incremental: every page is scanned.
    BitmapFallback {
        /// Why.
        reason: String,
    },
    /// Cold backups: the datadir was not shut down cleanly (its redo log goes on after the
    /// checkpoint): its server crashed or was killed, or it is a snapshot of a running server.
    /// The files are copied as they are; a server started on the restore runs crash recovery.
    UncleanShutdown {
        /// The datadir.
        path: PathBuf,
        /// Its checkpoint.
        checkpoint: innodb_page::Lsn,
        /// The end of its redo log.
        end: innodb_page::Lsn,
    },
}

impl fmt::Display for PlanNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanNote::Encrypted { path } => write!(
                f,
                "{}: encrypted tablespace: pages are copied as they are on disk",
                path.display()
            ),
            PlanNote::PartialBaseAccepted { base } => write!(
                f,
                "the base {} is partial; continuing as asked (partial base accepted)",
                base.display()
            ),
            PlanNote::Vanished { path } => write!(
                f,
                "{}: vanished between the listing and its opening (renamed or dropped)",
                path.display()
            ),
            PlanNote::NotCopiedNow { path, problem } => write!(
                f,
                "{}: not copied now ({problem}); the end-of-backup DDL pass copies it if it \
                 still exists",
                path.display()
            ),
            PlanNote::BitmapFallback { reason } => {
                write!(f, "{reason}; scanning every page instead")
            }
            PlanNote::UncleanShutdown {
                path,
                checkpoint,
                end,
            } => write!(
                f,
                "WARNING: cold backup of a datadir that was not shut down cleanly: no running \
                 server holds {}, but its redo log goes on from the checkpoint at LSN \
                 {checkpoint} to {end} (the server crashed or was killed, or this is a snapshot \
                 of a running server); its files are copied as they are, and a server started on \
                 the restore runs crash recovery",
                path.display()
            ),
        }
    }
}

/// What one run copies: made when a cold backup is planned, or under `BACKUP STAGE START` by
/// a hot one.
#[derive(Debug, Clone)]
pub(crate) struct Contents {
    /// The source's redo log (its checkpoint is where the backup's redo starts).
    pub redo: RedoFacts,
    /// Tablespaces to back up (system first).
    pub tablespaces: Vec<TablespacePlan>,
    /// Non-InnoDB files to copy with the tablespaces (a hot backup lists and copies them
    /// later, under `BACKUP STAGE BLOCK_COMMIT`).
    pub other_files: Vec<OtherFile>,
    /// Files left out: temporary tablespaces, bitmaps, filtered tables, transient files.
    pub skipped: Vec<PathBuf>,
    /// Overall page-selection method.
    pub method: Method,
    /// Why a bitmap was not used ("" when it was, or not applicable).
    pub fallback_reason: String,
    /// Things worth telling the user.
    pub notes: Vec<PlanNote>,
    /// Extended validation: the keys that decrypt encrypted pages, whose own checksums are
    /// then checked too (`None`: pages are checked as they are stored).
    pub page_keys: Option<Arc<crate::encryption::KeyRing>>,
}
