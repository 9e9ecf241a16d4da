//! Error types of the file formats.
//!
//! Each format has its own enum describing what is wrong with the bytes, with the byte offset
//! (binary formats) or the 1-based line number (text formats), but no file name, because its
//! parsers also read from memory or from any [`Read`](std::io::Read). Functions that open a file
//! return [`enum@Error`], which adds the path and keeps the format error (or the `io::Error`) as its
//! source.
//!
//! ```
//! use incremental_core::format::error::{DeltaError, Error};
//! let e = Error::delta("db/t1.ibd.delta", DeltaError::BadMagic { offset: 0, found: 0 });
//! assert_eq!(
//!     e.to_string(),
//!     "db/t1.ibd.delta: at offset 0: bad cluster magic 0x00000000 (expected \"xtra\" or \"XTRA\")"
//! );
//! ```

use std::io;
use std::path::{Path, PathBuf};

use thiserror::Error;

/// A page size that no InnoDB file can have.
///
/// ```
/// use incremental_core::format::delta::PageSize;
/// let e = PageSize::new(3000).unwrap_err();
/// assert_eq!(e.size, 3000);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("invalid page size {size}: must be a power of two from 1024 to 65536")]
#[non_exhaustive]
pub struct InvalidPageSize {
    /// The rejected value.
    pub size: u64,
}

/// What is wrong with the bytes of a `.delta` file, or an I/O error while reading them.
///
/// Every variant carries the byte offset (from the start of the delta) of the first problem.
///
/// ```
/// use incremental_core::format::delta::{DeltaReader, PageSize};
/// use incremental_core::format::error::DeltaError;
/// let mut r = DeltaReader::new(&b"nope"[..], PageSize::new(1024).unwrap());
/// let e = r.next_page().unwrap_err();
/// assert!(matches!(e, DeltaError::TruncatedHeader { offset: 0, len: 4 }));
/// ```
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DeltaError {
    /// Reading failed.
    #[error("at offset {offset}: I/O error: {source}")]
    Io {
        /// Byte offset of the failed read.
        offset: u64,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A header page whose first 4 bytes are neither `xtra` nor `XTRA`.
    #[error("at offset {offset}: bad cluster magic {found:#010x} (expected \"xtra\" or \"XTRA\")")]
    BadMagic {
        /// Byte offset of the header page.
        offset: u64,
        /// The big-endian u32 found there.
        found: u32,
    },
    /// The data ends inside (or at the start of) a header page.
    #[error("at offset {offset}: truncated cluster header: {len} of the page's bytes present")]
    TruncatedHeader {
        /// Byte offset of the header page.
        offset: u64,
        /// How many bytes of it are present.
        len: u64,
    },
    /// The data ends after an `xtra` cluster: the final (`XTRA`) cluster is missing.
    #[error("at offset {offset}: the delta ends after a non-final (\"xtra\") cluster")]
    MissingFinalCluster {
        /// Byte offset where the next header page should start (the end of the data).
        offset: u64,
    },
    /// A non-final (`xtra`) cluster that is not full: it has a terminator.
    #[error(
        "at offset {offset}: non-final (\"xtra\") cluster holds {pages} pages, \
         a non-final cluster must hold {expected}"
    )]
    NonFinalClusterNotFull {
        /// Byte offset of the header page.
        offset: u64,
        /// Data pages listed before the terminator.
        pages: u64,
        /// Data pages a full cluster holds (`page_size / 4 - 1`).
        expected: u64,
    },
    /// The data ends inside (or at the start of) a data page listed in its header.
    #[error("at offset {offset}: page {page_no} is truncated: {len} of its bytes present")]
    TruncatedPage {
        /// Byte offset where the page starts.
        offset: u64,
        /// The page number listed for it.
        page_no: u32,
        /// How many bytes of it are present.
        len: u64,
    },
    /// Bytes after the last cluster (rejected only by [`Checks::no_trailing_bytes`]; the
    /// original tools ignore them).
    ///
    /// [`Checks::no_trailing_bytes`]: crate::format::delta::Checks::no_trailing_bytes
    #[error("at offset {offset}: {len} bytes after the last cluster")]
    TrailingBytes {
        /// Byte offset of the first byte after the last cluster.
        offset: u64,
        /// How many bytes follow.
        len: u64,
    },
    /// A page number that is not greater than the previous one (rejected only by
    /// [`Checks::ascending_page_numbers`]).
    ///
    /// [`Checks::ascending_page_numbers`]: crate::format::delta::Checks::ascending_page_numbers
    #[error(
        "at offset {offset}: page number {page_no} follows page number {previous} \
         (page numbers must ascend)"
    )]
    PageOrder {
        /// Byte offset of the header slot holding the page number.
        offset: u64,
        /// The page number.
        page_no: u32,
        /// The page number before it.
        previous: u32,
    },
    /// A non-zero byte in a header page after the terminator (rejected only by
    /// [`Checks::zero_header_tail`]).
    ///
    /// [`Checks::zero_header_tail`]: crate::format::delta::Checks::zero_header_tail
    #[error("at offset {offset}: non-zero byte in the header page after the terminator")]
    HeaderTail {
        /// Byte offset of the first non-zero byte.
        offset: u64,
    },
    /// A data page whose own page number (`FIL_PAGE_OFFSET`, bytes 4..8) differs from the one
    /// its header lists (rejected only by [`Checks::page_numbers_match`]).
    ///
    /// [`Checks::page_numbers_match`]: crate::format::delta::Checks::page_numbers_match
    #[error(
        "at offset {offset}: the header lists page {listed} but the page says it is page \
         {in_page} (wrong page size?)"
    )]
    PageNumberMismatch {
        /// Byte offset of the data page.
        offset: u64,
        /// The page number in the header.
        listed: u32,
        /// The page number in the page's FIL header.
        in_page: u32,
    },
}

impl DeltaError {
    /// The byte offset of the problem.
    ///
    /// ```
    /// use incremental_core::format::error::DeltaError;
    /// assert_eq!(DeltaError::HeaderTail { offset: 12 }.offset(), 12);
    /// ```
    pub fn offset(&self) -> u64 {
        match *self {
            DeltaError::Io { offset, .. }
            | DeltaError::BadMagic { offset, .. }
            | DeltaError::TruncatedHeader { offset, .. }
            | DeltaError::MissingFinalCluster { offset }
            | DeltaError::NonFinalClusterNotFull { offset, .. }
            | DeltaError::TruncatedPage { offset, .. }
            | DeltaError::TrailingBytes { offset, .. }
            | DeltaError::PageOrder { offset, .. }
            | DeltaError::HeaderTail { offset }
            | DeltaError::PageNumberMismatch { offset, .. } => offset,
        }
    }
}

/// Why a [`DeltaWriter`](crate::format::delta::DeltaWriter) refused a page or failed to write.
///
/// ```
/// use incremental_core::format::delta::{DeltaWriter, PageSize};
/// use incremental_core::format::error::DeltaWriteError;
/// let mut w = DeltaWriter::new(Vec::new(), PageSize::new(1024).unwrap());
/// let e = w.push(1, &[0u8; 512]).unwrap_err();
/// assert!(matches!(e, DeltaWriteError::PageLength { page_no: 1, len: 512, expected: 1024 }));
/// ```
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DeltaWriteError {
    /// Writing (or seeking) failed. The delta written so far is incomplete.
    #[error("at offset {offset}: I/O error: {source}")]
    Io {
        /// Byte offset (relative to where the delta starts) of the failed operation.
        offset: u64,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A page buffer whose length is not the delta's physical page size.
    #[error("page {page_no}: {len} bytes given, the delta's page size is {expected}")]
    PageLength {
        /// The page number pushed.
        page_no: u32,
        /// The length of the buffer given.
        len: usize,
        /// The page size.
        expected: usize,
    },
    /// A page number not greater than the previous one.
    #[error("page {page_no} pushed after page {previous}: page numbers must ascend")]
    PageOrder {
        /// The page number pushed.
        page_no: u32,
        /// The page number pushed before it.
        previous: u32,
    },
    /// Page number `0xFFFFFFFF`, which the format reserves as the terminator.
    #[error("page number 4294967295 (0xFFFFFFFF) is the delta terminator and cannot be stored")]
    ReservedPageNo,
}

/// What is wrong with a `.meta` file. Lines are numbered from 1.
///
/// ```
/// use incremental_core::format::meta::Meta;
/// use incremental_core::format::error::MetaError;
/// let e = Meta::parse(b"zip_size = 0\n").unwrap_err();
/// assert_eq!(e, MetaError::MissingPageSize);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum MetaError {
    /// No `page_size` line.
    #[error("no page_size line")]
    MissingPageSize,
    /// A known key whose value is not a decimal number of the right width.
    #[error("line {line}: {key} = {value:?} is not a decimal number that fits in 32 bits")]
    BadNumber {
        /// Line number.
        line: usize,
        /// The key.
        key: &'static str,
        /// The value as found (lossy UTF-8).
        value: String,
    },
    /// A `page_size` that is not a power of two from 1024 to 65536.
    #[error(
        "line {line}: page_size = {value} is not a page size (a power of two from 1024 to 65536)"
    )]
    BadPageSize {
        /// Line number.
        line: usize,
        /// The value.
        value: u32,
    },
    /// A `zip_size` that is neither 0 nor a compressed page size no larger than `page_size`.
    #[error(
        "line {line}: zip_size = {value} is not 0 or a compressed page size \
         (1024, 2048, 4096, 8192, 16384) no larger than page_size"
    )]
    BadZipSize {
        /// Line number.
        line: usize,
        /// The value.
        value: u32,
    },
    /// The same key twice.
    #[error("line {line}: {key} given again (first on line {first_line})")]
    DuplicateKey {
        /// Line number of the second occurrence.
        line: usize,
        /// Line number of the first occurrence.
        first_line: usize,
        /// The key.
        key: &'static str,
    },
}

/// What is wrong with an `xtrabackup_checkpoints` file. Lines are numbered from 1.
///
/// ```
/// use incremental_core::format::checkpoints::Checkpoints;
/// use incremental_core::format::error::CheckpointsError;
/// let e = Checkpoints::parse(b"backup_type = full-backuped\nfrom_lsn = 0\n").unwrap_err();
/// assert_eq!(e, CheckpointsError::Missing { key: "to_lsn" });
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum CheckpointsError {
    /// A non-blank line that is not `key = value`.
    #[error("line {line}: not a `key = value` line")]
    Syntax {
        /// Line number.
        line: usize,
    },
    /// A line that is not UTF-8.
    #[error("line {line}: not UTF-8 text")]
    NotUtf8 {
        /// Line number.
        line: usize,
    },
    /// A mandatory key is absent (`backup_type`, `from_lsn`, `to_lsn`).
    #[error("no {key} line")]
    Missing {
        /// The key.
        key: &'static str,
    },
    /// The same key twice.
    #[error("line {line}: {key} given again (first on line {first_line})")]
    DuplicateKey {
        /// Line number of the second occurrence.
        line: usize,
        /// Line number of the first occurrence.
        first_line: usize,
        /// The key.
        key: String,
    },
    /// A `backup_type` that is none of the four known states.
    #[error(
        "line {line}: unknown backup_type {value:?} (expected full-backuped, incremental, \
         log-applied or full-prepared)"
    )]
    UnknownBackupType {
        /// Line number.
        line: usize,
        /// The value found.
        value: String,
    },
    /// A known key whose value does not parse (a decimal u64, or 0/1 for flags).
    #[error("line {line}: {key} = {value:?}: expected {expected}")]
    BadValue {
        /// Line number.
        line: usize,
        /// The key.
        key: &'static str,
        /// The value found.
        value: String,
        /// What was expected, in words.
        expected: &'static str,
    },
}

/// What is wrong with an `xtrabackup_info` file, or with one of its values. Lines are numbered
/// from 1.
///
/// ```
/// use incremental_core::format::info::Info;
/// use incremental_core::format::error::InfoError;
/// assert_eq!(Info::parse(b"uuid = x\ngarbage\n").unwrap_err(), InfoError::Syntax { line: 2 });
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum InfoError {
    /// A non-blank line that is not `key = value`.
    #[error("line {line}: not a `key = value` line")]
    Syntax {
        /// Line number.
        line: usize,
    },
    /// A line that is not UTF-8.
    #[error("line {line}: not UTF-8 text")]
    NotUtf8 {
        /// Line number.
        line: usize,
    },
    /// The same key twice.
    #[error("line {line}: {key} given again (first on line {first_line})")]
    DuplicateKey {
        /// Line number of the second occurrence.
        line: usize,
        /// Line number of the first occurrence.
        first_line: usize,
        /// The key.
        key: String,
    },
    /// A value that does not have the type a typed accessor expects.
    #[error("line {line}: {key} = {value:?}: expected {expected}")]
    BadValue {
        /// Line number.
        line: usize,
        /// The key.
        key: String,
        /// The value found.
        value: String,
        /// What was expected, in words.
        expected: &'static str,
    },
    /// A key the file must have is absent.
    #[error("no {key} line")]
    MissingKey {
        /// The key.
        key: &'static str,
    },
    /// A value outside the set a key allows.
    #[error("{key} = {value:?}: expected {expected}")]
    UnknownValue {
        /// The key.
        key: &'static str,
        /// The value found.
        value: String,
        /// What was expected, in words.
        expected: &'static str,
    },
}

/// An error about one file: names the file and keeps the cause as its source.
///
/// ```
/// use incremental_core::format::error::{Error, MetaError};
/// let e = Error::meta("db/t1.ibd.meta", MetaError::MissingPageSize);
/// assert_eq!(e.to_string(), "db/t1.ibd.meta: no page_size line");
/// assert_eq!(e.path(), std::path::Path::new("db/t1.ibd.meta"));
/// ```
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// Opening, reading, or writing the file failed (outside the format parsers, which report
    /// I/O errors inside their own enum with a byte offset).
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A bad `.delta` file.
    #[error("{}: {source}", path.display())]
    Delta {
        /// The file.
        path: PathBuf,
        /// What is wrong, and where.
        #[source]
        source: DeltaError,
    },
    /// A `.delta` file that could not be written.
    #[error("{}: {source}", path.display())]
    DeltaWrite {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: DeltaWriteError,
    },
    /// A bad `.meta` file.
    #[error("{}: {source}", path.display())]
    Meta {
        /// The file.
        path: PathBuf,
        /// What is wrong, and where.
        #[source]
        source: MetaError,
    },
    /// A bad `xtrabackup_checkpoints` file.
    #[error("{}: {source}", path.display())]
    Checkpoints {
        /// The file.
        path: PathBuf,
        /// What is wrong, and where.
        #[source]
        source: CheckpointsError,
    },
    /// A bad `xtrabackup_info` file.
    #[error("{}: {source}", path.display())]
    Info {
        /// The file.
        path: PathBuf,
        /// What is wrong, and where.
        #[source]
        source: InfoError,
    },
    /// A directory holding none of the accepted names of a file.
    #[error(
        "{}: none of {} found: not a backup directory? give the directory that xb backup or \
         mariabackup wrote",
        dir.display(),
        names.join(", ")
    )]
    NotFound {
        /// The directory searched.
        dir: PathBuf,
        /// The names looked for, in order of preference.
        names: &'static [&'static str],
    },
}

impl Error {
    /// Wraps an `io::Error` with the file it happened on.
    ///
    /// ```
    /// use incremental_core::format::error::Error;
    /// let e = Error::io("x", std::io::ErrorKind::NotFound.into());
    /// assert!(matches!(e, Error::Io { .. }));
    /// ```
    pub fn io(path: impl Into<PathBuf>, source: io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Wraps a [`DeltaError`] with its file.
    ///
    /// ```
    /// use incremental_core::format::error::{DeltaError, Error};
    /// let e = Error::delta("t.ibd.delta", DeltaError::HeaderTail { offset: 9 });
    /// assert!(e.to_string().starts_with("t.ibd.delta: at offset 9"));
    /// ```
    pub fn delta(path: impl Into<PathBuf>, source: DeltaError) -> Error {
        Error::Delta {
            path: path.into(),
            source,
        }
    }

    /// Wraps a [`DeltaWriteError`] with its file.
    ///
    /// ```
    /// use incremental_core::format::error::{DeltaWriteError, Error};
    /// let e = Error::delta_write("t.ibd.delta", DeltaWriteError::ReservedPageNo);
    /// assert!(matches!(e, Error::DeltaWrite { .. }));
    /// ```
    pub fn delta_write(path: impl Into<PathBuf>, source: DeltaWriteError) -> Error {
        Error::DeltaWrite {
            path: path.into(),
            source,
        }
    }

    /// Wraps a [`MetaError`] with its file.
    ///
    /// ```
    /// use incremental_core::format::error::{Error, MetaError};
    /// let e = Error::meta("t.ibd.meta", MetaError::MissingPageSize);
    /// assert!(matches!(e, Error::Meta { .. }));
    /// ```
    pub fn meta(path: impl Into<PathBuf>, source: MetaError) -> Error {
        Error::Meta {
            path: path.into(),
            source,
        }
    }

    /// The file (or, for [`Error::NotFound`], the directory) the error is about.
    ///
    /// ```
    /// use incremental_core::format::error::Error;
    /// let e = Error::io("a/b", std::io::ErrorKind::Other.into());
    /// assert_eq!(e.path().to_str(), Some("a/b"));
    /// ```
    pub fn path(&self) -> &Path {
        match self {
            Error::Io { path, .. }
            | Error::Delta { path, .. }
            | Error::DeltaWrite { path, .. }
            | Error::Meta { path, .. }
            | Error::Checkpoints { path, .. }
            | Error::Info { path, .. } => path,
            Error::NotFound { dir, .. } => dir,
        }
    }
}
