//! Redo log headers, checkpoints and the end of the log, for every supported server family.
//!
//! | [`RedoFormat`] | Servers | Files | Framing |
//! |---|---|---|---|
//! | `mysql-5.7` | MySQL 5.7.9+ | `ib_logfile0..N` | 512-byte blocks |
//! | `mysql-8.0` | MySQL 8.0.1–8.0.29 | `ib_logfile0..N` | 512-byte blocks |
//! | `mysql-8.0.30` | MySQL 8.0.30+ | `#innodb_redo/#ib_redoN` | 512-byte blocks, epoch |
//! | `mariadb-10.2` / `-10.3` / `-10.4` | MariaDB 10.2, 10.3, 10.4 | `ib_logfile0..N` | 512-byte blocks |
//! | `mariadb-10.5` | MariaDB 10.5–10.7 (`PHYS`) | `ib_logfile0` | 512-byte blocks |
//! | `mariadb-10.8` | MariaDB 10.8+, 11.x (`Phys`) | `ib_logfile0` | none: per-mtr CRC |
//!
//! The layers, from bytes to files:
//!
//! * [`header`]: the file header block (format word, start LSN, creator, CRC-32C, encryption).
//! * [`checkpoint`]: the two (or, for 8.0.30+, per-file) checkpoint blocks, their validity rules
//!   and which one is current.
//! * [`block`]: the 512-byte block framing and the end-of-log block scan of the block-framed
//!   formats.
//! * [`mtr`]: the MariaDB 10.8+ mini-transaction framing and a scanner over the circular record
//!   area (reused by anything that follows the log).
//! * [`crypt`]: decrypting the records of encrypted MariaDB 10.8+ logs
//!   (`innodb_encrypt_log=ON`) with the log key derived from the server's key 1.
//! * [`record`]: the records of a MariaDB 10.8+ mini-transaction decoded to the pages they
//!   change `(space_id, page_no)` and the file-level operations they name.
//! * [`follow`]: following the log of a running MariaDB 10.8+ server as it is written
//!   ([`follow::Follower`]), with overwrite ("overtaken") and log-replacement detection.
//! * [`file`](mod@file): opening a redo log from a path (a file, a datadir or `#innodb_redo`),
//!   giving a [`RedoLog`] summary, and the names of the redo log files.
//!
//! Two kinds of "end LSN" exist and are kept apart everywhere:
//!
//! * the **header-provided** end: MariaDB writes, in each checkpoint block, the LSN at which the
//!   checkpoint's own `FILE_CHECKPOINT` mini-transaction starts ([`Checkpoint::end_lsn`]); it is
//!   a fact about the checkpoint, not about where the log currently ends;
//! * the **scanned** end ([`RedoLog::end_lsn`]): where the log really ends, found by reading
//!   from the checkpoint onwards until the framing (block header numbers and checksums, or
//!   mini-transaction sequence bits and CRCs) stops being valid. It is `None` when the file
//!   cannot be scanned, e.g. a copy of only the first bytes of a larger log.
//!
//! Nothing here panics on any input: malformed data gives a [`RedoError`].
//!
//! ```
//! use innodb_page::redo::{header::FileHeader, RedoFormat};
//! let mut block = vec![0u8; 512];
//! block[0..4].copy_from_slice(b"Phys");
//! block[8..16].copy_from_slice(&0x3000u64.to_be_bytes());
//! block[16..32].copy_from_slice(b"MariaDB 10.11.19");
//! let crc = crc32c::crc32c(&block[..508]);
//! block[508..].copy_from_slice(&crc.to_be_bytes());
//! let hdr = FileHeader::parse(&block).unwrap();
//! assert_eq!(hdr.format(), RedoFormat::MariaDb108);
//! assert_eq!(hdr.format().name(), "mariadb-10.8");
//! assert_eq!(hdr.start_lsn().get(), 0x3000);
//! ```

use thiserror::Error;

use crate::Lsn;

pub mod block;
pub mod checkpoint;
pub mod crypt;
pub mod file;
pub mod follow;
pub mod format;
pub mod header;
pub mod mtr;
pub mod record;

pub use checkpoint::Checkpoint;
pub use file::{open, LogEnd, RedoFile, RedoLog, RedoSummary, StopReason};
pub use format::{Encryption, RedoFormat};

/// Reads a big-endian u32 at `off`, or `None` if the slice is too short.
pub(crate) fn be_u32(data: &[u8], off: usize) -> Option<u32> {
    let b = data.get(off..off.checked_add(4)?)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// Reads a big-endian u64 at `off`, or `None` if the slice is too short.
pub(crate) fn be_u64(data: &[u8], off: usize) -> Option<u64> {
    let b = data.get(off..off.checked_add(8)?)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    Some(u64::from_be_bytes(a))
}

/// Reads a big-endian u16 at `off`, or `None` if the slice is too short.
pub(crate) fn be_u16(data: &[u8], off: usize) -> Option<u16> {
    let b = data.get(off..off.checked_add(2)?)?;
    Some(u16::from_be_bytes([b[0], b[1]]))
}

/// Something in redo log bytes that is not what it must be. In-memory only: the file-level API
/// wraps it in [`crate::Error::Redo`] with the path and byte offset.
///
/// ```
/// use innodb_page::redo::{header::FileHeader, RedoError};
/// assert_eq!(
///     FileHeader::parse(&[0u8; 100]).unwrap_err(),
///     RedoError::Truncated { what: "redo log header block", len: 100, need: 512 }
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RedoError {
    /// Fewer bytes than the structure needs.
    #[error("{what} needs {need} bytes, only {len} available")]
    Truncated {
        /// What was being read.
        what: &'static str,
        /// Bytes available.
        len: u64,
        /// Bytes needed.
        need: u64,
    },
    /// A format word that no supported server writes.
    #[error("unknown redo log format word {word:#010x}")]
    UnknownFormat {
        /// The 4 bytes at offset 0 of the file header, big-endian.
        word: u32,
    },
    /// A format that is recognised but not supported (e.g. the pre-5.7.9 layout).
    #[error("unsupported redo log format {word:#010x}: {why}")]
    UnsupportedFormat {
        /// The format word.
        word: u32,
        /// Why it is not supported.
        why: &'static str,
    },
    /// A stored CRC-32C that does not match the bytes.
    #[error("{what}: checksum mismatch (stored {stored:#010x}, computed {computed:#010x})")]
    BadChecksum {
        /// Which structure ("file header", "checkpoint block", ...).
        what: &'static str,
        /// The stored value.
        stored: u32,
        /// The value computed from the bytes.
        computed: u32,
    },
    /// A field whose value breaks a validity rule.
    #[error("{what} = {value:#x}: {why}")]
    BadField {
        /// The field.
        what: &'static str,
        /// Its value.
        value: u64,
        /// The rule it breaks.
        why: &'static str,
    },
    /// None of the checkpoint blocks is valid. `why` is the reason the most recent-looking
    /// candidate (the first block) was rejected.
    #[error("no valid checkpoint among {blocks} checkpoint blocks (first: {why})")]
    NoValidCheckpoint {
        /// How many blocks were examined.
        blocks: usize,
        /// Why the first one is invalid.
        why: Box<RedoError>,
    },
    /// A file set whose geometry is impossible (file size not a multiple of 512, a checkpoint
    /// offset outside the files, files of a MySQL 8.0.30+ set from different instances, ...).
    #[error("impossible redo log geometry: {why} ({value:#x})")]
    BadGeometry {
        /// What is wrong.
        why: &'static str,
        /// The offending value.
        value: u64,
    },
    /// The records of an encrypted log cannot be decrypted with the key given.
    #[error("cannot decrypt the redo log's records")]
    Crypt(#[source] crypt::LogCryptError),
}

impl RedoError {
    pub(crate) fn truncated(what: &'static str, len: usize, need: usize) -> RedoError {
        RedoError::Truncated {
            what,
            len: len as u64,
            need: need as u64,
        }
    }
}

/// Convenience: an [`Lsn`] from a raw value read from a file.
pub(crate) fn lsn(v: u64) -> Lsn {
    Lsn::new(v)
}
