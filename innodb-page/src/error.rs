//! Error types.
//!
//! [`PageError`] describes bytes in memory that are not what they claim to be; it carries no file
//! context. [`Error`](enum@Error) is what file-level APIs return: it names the file and the byte
//! offset, and keeps the `io::Error` (or the [`PageError`]) as its source.

use std::io;
use std::path::PathBuf;

use thiserror::Error;

/// Bytes in memory that do not form a valid structure.
///
/// ```
/// use innodb_page::{Page, PageError};
/// assert_eq!(Page::new(&[0u8; 100]).unwrap_err(), PageError::BadPageSize { len: 100 });
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PageError {
    /// A page buffer whose length is not a power of two from 1 KiB to 64 KiB.
    #[error("{len} bytes is not an InnoDB page size (a power of two from 1024 to 65536)")]
    BadPageSize {
        /// The length that was given.
        len: usize,
    },
    /// A buffer shorter than the structure read from it.
    #[error("{len} bytes is too short: {what} needs {need}")]
    TooShort {
        /// What was being read.
        what: &'static str,
        /// The length that was given.
        len: usize,
        /// The length needed.
        need: usize,
    },
    /// Tablespace flags that are valid in none of the three layouts.
    #[error("invalid tablespace flags {flags:#x}: {why}")]
    InvalidFlags {
        /// The raw flags word (FSP_SPACE_FLAGS).
        flags: u32,
        /// Which rule they break.
        why: &'static str,
    },
    /// A page 0 that is not an FSP header page.
    #[error("not a tablespace header page (page 0): {why}")]
    NotPage0 {
        /// Which check failed.
        why: String,
    },
}

/// An error reading a file: names the file and the byte offset, and keeps the cause as its source.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// The operating system refused a read, or the file ended early.
    #[error("{}: I/O error at offset {offset}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Byte offset of the failed operation.
        offset: u64,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The bytes at `offset` are not a valid structure.
    #[error("{}: at offset {offset}: {source}", path.display())]
    Page {
        /// The file.
        path: PathBuf,
        /// Byte offset of the structure.
        offset: u64,
        /// What is wrong with it.
        #[source]
        source: PageError,
    },
    /// A redo log file that cannot be interpreted.
    #[error("{}: at offset {offset}: {source}", path.display())]
    Redo {
        /// The file.
        path: PathBuf,
        /// Byte offset of the structure.
        offset: u64,
        /// What is wrong with it.
        #[source]
        source: crate::redo::RedoError,
    },
    /// A file (or set of files) whose shape is wrong: empty, a size that does not fit the page
    /// size, system tablespace files that do not continue each other.
    #[error("{}: {what}", path.display())]
    Layout {
        /// The file.
        path: PathBuf,
        /// What is wrong, in words.
        what: String,
    },
}

impl Error {
    /// Wraps an `io::Error` with the file and offset it happened at.
    pub fn io(path: impl Into<PathBuf>, offset: u64, source: io::Error) -> Error {
        Error::Io {
            path: path.into(),
            offset,
            source,
        }
    }

    /// Wraps a [`PageError`] with the file and offset of the structure.
    pub fn page(path: impl Into<PathBuf>, offset: u64, source: PageError) -> Error {
        Error::Page {
            path: path.into(),
            offset,
            source,
        }
    }
}
