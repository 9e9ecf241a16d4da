//! Errors. Every reader error means "this LSN range cannot be answered from the bitmap":
//! the caller falls back to a full scan.

use std::io;
use std::path::PathBuf;

use innodb_page::Lsn;

use crate::block::{BlockError, BlockKey};

/// Everything that can go wrong reading or writing bitmap files.
///
/// ```
/// use innodb_page::Lsn;
/// use lsn_bitmap::{BitmapDir, Error};
/// let dir = tempfile::tempdir().unwrap();
/// let bitmaps = BitmapDir::open(dir.path()).unwrap();
/// let err = bitmaps.changed_pages(Lsn::new(10), Lsn::new(20)).unwrap_err();
/// assert!(matches!(err, Error::NoBitmapFiles { .. }));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O operation failed.
    #[error("{}: I/O error at byte {offset}", path.display())]
    Io {
        /// File or directory.
        path: PathBuf,
        /// Byte offset of the operation (0 for open, list, metadata).
        offset: u64,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The query's start LSN is greater than its end LSN.
    #[error("start LSN {start} is after end LSN {end}")]
    InvalidRange {
        /// Start of the query.
        start: Lsn,
        /// End of the query.
        end: Lsn,
    },
    /// No bitmap file starts before the query's end LSN.
    #[error("{}: no bitmap file covers LSN {start}..{end}", dir.display())]
    NoBitmapFiles {
        /// The directory.
        dir: PathBuf,
        /// Start of the query.
        start: Lsn,
        /// End of the query.
        end: Lsn,
    },
    /// Every bitmap file starts after the query's start LSN: `[start, first_lsn)` is missing.
    #[error("bitmap data for LSN {start}..{first_lsn} is missing: the earliest usable file {} starts at {first_lsn}", file.display())]
    StartNotCovered {
        /// Start of the query.
        start: Lsn,
        /// Start LSN of the earliest file.
        first_lsn: Lsn,
        /// That file.
        file: PathBuf,
    },
    /// A sequence number is missing between two files that are needed.
    #[error("bitmap file with sequence number {seq} is missing (after {})", previous.display())]
    MissingFile {
        /// The missing sequence number.
        seq: u64,
        /// The file before the hole.
        previous: PathBuf,
    },
    /// The data of one file ends before the next file starts: `[from, to)` is not tracked
    /// (see the crate documentation for why such a gap is not trusted).
    #[error("bitmap data for LSN {from}..{to} is missing: {} ends at {from}, {} starts at {to}", previous.display(), next.display())]
    LsnGap {
        /// End of the tracked data in `previous`.
        from: Lsn,
        /// Start LSN of `next`.
        to: Lsn,
        /// The file whose data ends at `from`.
        previous: PathBuf,
        /// The file whose name says it starts at `to`.
        next: PathBuf,
    },
    /// The tracked data ends before the query's end LSN.
    #[error("bitmap data ends at LSN {tracked_to} (in {}), before the end LSN {end}", file.display())]
    EndNotCovered {
        /// End LSN of the last complete run.
        tracked_to: Lsn,
        /// End of the query.
        end: Lsn,
        /// The last file read.
        file: PathBuf,
    },
    /// A block fails its checksum or holds impossible values.
    #[error("{}: corrupt block at byte {offset}: {problem}", path.display())]
    CorruptBlock {
        /// The file.
        path: PathBuf,
        /// Byte offset of the block.
        offset: u64,
        /// What is wrong.
        #[source]
        problem: BlockError,
    },
    /// Valid blocks that do not form runs the way the server writes them.
    #[error("{}: inconsistent run at byte {offset}: {problem}", path.display())]
    InconsistentRun {
        /// The file.
        path: PathBuf,
        /// Byte offset of the offending block.
        offset: u64,
        /// What is wrong.
        problem: RunProblem,
    },
    /// The file ends inside a run (no block with the last-block flag) and the data after it is
    /// needed.
    #[error("{}: the run at byte {offset} (LSN {start_lsn}..{end_lsn}) is incomplete at the end of the file", path.display())]
    IncompleteRun {
        /// The file.
        path: PathBuf,
        /// Byte offset of the run's first block.
        offset: u64,
        /// The run's start LSN.
        start_lsn: Lsn,
        /// The run's end LSN.
        end_lsn: Lsn,
    },
    /// The file ends with a partial block and the data after the last complete run is needed.
    #[error("{}: truncated to {len} bytes (partial block at byte {offset})", path.display())]
    TruncatedFile {
        /// The file.
        path: PathBuf,
        /// Byte offset of the partial block.
        offset: u64,
        /// File length.
        len: u64,
    },
    /// The file names in the directory contradict each other.
    #[error("{}: inconsistent bitmap directory: {problem}", dir.display())]
    InconsistentDir {
        /// The directory.
        dir: PathBuf,
        /// What is wrong.
        problem: DirProblem,
    },
    /// Writer: no file is open; call [`crate::BitmapWriter::start_file`] first.
    #[error("no bitmap file is open for writing")]
    NoOpenFile,
    /// Writer: an LSN goes backwards.
    #[error("LSN {lsn} is before LSN {previous}")]
    LsnBackwards {
        /// The LSN given.
        lsn: Lsn,
        /// The LSN it must not precede.
        previous: Lsn,
    },
    /// Writer: a run with changed pages must end after it starts.
    #[error("run LSN range {start_lsn}..{end_lsn} is empty but pages changed")]
    EmptyRun {
        /// Start LSN of the run (the last tracked LSN).
        start_lsn: Lsn,
        /// End LSN given.
        end_lsn: Lsn,
    },
    /// Writer: the file to create already exists and is not empty.
    #[error("{}: a non-empty bitmap file with this name already exists", path.display())]
    FileExists {
        /// The file.
        path: PathBuf,
    },
}

impl Error {
    /// A short, stable name of the variant, for scripts and JSON: `io`, `invalid_range`,
    /// `no_bitmap_files`, `start_not_covered`, `missing_file`, `lsn_gap`, `end_not_covered`,
    /// `corrupt_block`, `inconsistent_run`, `incomplete_run`, `truncated_file`,
    /// `inconsistent_dir`, or `writer` for the writer's errors.
    ///
    /// ```
    /// use innodb_page::Lsn;
    /// let e = lsn_bitmap::Error::InvalidRange { start: Lsn::new(2), end: Lsn::new(1) };
    /// assert_eq!(e.kind(), "invalid_range");
    /// ```
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Io { .. } => "io",
            Error::InvalidRange { .. } => "invalid_range",
            Error::NoBitmapFiles { .. } => "no_bitmap_files",
            Error::StartNotCovered { .. } => "start_not_covered",
            Error::MissingFile { .. } => "missing_file",
            Error::LsnGap { .. } => "lsn_gap",
            Error::EndNotCovered { .. } => "end_not_covered",
            Error::CorruptBlock { .. } => "corrupt_block",
            Error::InconsistentRun { .. } => "inconsistent_run",
            Error::IncompleteRun { .. } => "incomplete_run",
            Error::TruncatedFile { .. } => "truncated_file",
            Error::InconsistentDir { .. } => "inconsistent_dir",
            Error::NoOpenFile
            | Error::LsnBackwards { .. }
            | Error::EmptyRun { .. }
            | Error::FileExists { .. } => "writer",
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, offset: u64, source: io::Error) -> Error {
        Error::Io {
            path: path.into(),
            offset,
            source,
        }
    }
}

/// Serializes as `kind` ([`Error::kind`]) and `message` (the error's message, without its
/// sources).
#[cfg(feature = "serde")]
impl serde::Serialize for Error {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Error", 2)?;
        st.serialize_field("kind", self.kind())?;
        st.serialize_field("message", &self.to_string())?;
        st.end()
    }
}

/// How blocks with valid checksums fail to form proper runs.
///
/// ```
/// use innodb_page::Lsn;
/// let p = lsn_bitmap::RunProblem::Overlap { start_lsn: Lsn::new(5), previous_end: Lsn::new(9) };
/// assert_eq!(p.to_string(), "run starts at LSN 5, before the previous run's end 9");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RunProblem {
    /// A block of another run follows before the run got its last block.
    #[error("run starting at byte {run_offset} has no last block before a block of LSN {start_lsn}..{end_lsn}")]
    Unterminated {
        /// Byte offset of the unterminated run's first block.
        run_offset: u64,
        /// Start LSN of the offending block.
        start_lsn: Lsn,
        /// End LSN of the offending block.
        end_lsn: Lsn,
    },
    /// Blocks of a run are not in strictly ascending `(space_id, first_page_id)` order.
    #[error("block key {key:?} does not follow {previous:?}")]
    KeyOrder {
        /// Key of the previous block of the run.
        previous: BlockKey,
        /// Key of this block.
        key: BlockKey,
    },
    /// The run starts before the previous run of the same file ends.
    #[error("run starts at LSN {start_lsn}, before the previous run's end {previous_end}")]
    Overlap {
        /// This run's start LSN.
        start_lsn: Lsn,
        /// The previous run's end LSN.
        previous_end: Lsn,
    },
    /// The run starts before the LSN in the file name.
    #[error("run starts at LSN {start_lsn}, before the file's start LSN {file_start}")]
    BeforeFileStart {
        /// This run's start LSN.
        start_lsn: Lsn,
        /// The LSN in the file name.
        file_start: Lsn,
    },
}

/// How file names contradict each other.
///
/// ```
/// let p = lsn_bitmap::DirProblem::DuplicateSeq { first: "a".into(), second: "b".into() };
/// assert_eq!(p.to_string(), "a and b have the same sequence number");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DirProblem {
    /// Two files have the same sequence number.
    #[error("{} and {} have the same sequence number", first.display(), second.display())]
    DuplicateSeq {
        /// One file.
        first: PathBuf,
        /// The other.
        second: PathBuf,
    },
    /// A file with a higher sequence number has a lower start LSN.
    #[error("{} starts at a lower LSN than {}", later.display(), earlier.display())]
    LsnOrder {
        /// The file with the lower sequence number.
        earlier: PathBuf,
        /// The file with the higher sequence number.
        later: PathBuf,
    },
}
