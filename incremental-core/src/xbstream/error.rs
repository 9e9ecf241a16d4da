//! What can go wrong reading, writing or extracting an xbstream.

use std::io;

/// A stream refused or a failure to read, write or extract one. Every variant names the byte
/// offset in the stream (counted from its first byte) of the field at fault, and the path of
/// the file concerned when there is one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum XbstreamError {
    /// The stream could not be read.
    #[error("xbstream: reading at byte {offset}: {source}")]
    Read {
        /// Bytes consumed before the failure.
        offset: u64,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A chunk does not start with `XBSTCK01`.
    #[error(
        "xbstream: byte {offset}: wrong chunk magic {found:02x?} (not an xbstream, or damaged)"
    )]
    BadMagic {
        /// Where the chunk starts.
        offset: u64,
        /// The eight bytes found.
        found: [u8; 8],
    },
    /// A chunk type that is neither known nor marked ignorable.
    #[error(
        "xbstream: byte {offset}: {path}: unknown chunk type 0x{kind:02x}, not marked ignorable"
    )]
    UnknownType {
        /// Where the type byte is.
        offset: u64,
        /// The path of the chunk.
        path: String,
        /// The type byte.
        kind: u8,
    },
    /// A path (or a rename's new name) of 512 bytes or more.
    #[error("xbstream: byte {offset}: path length {len} is too large (at most 511 bytes)")]
    PathTooLong {
        /// Where the length field is.
        offset: u64,
        /// The length read.
        len: u64,
    },
    /// A path that would leave the target or cannot name a file (see
    /// [`read_path_problem`](super::chunk::read_path_problem)), or that a writer refuses.
    #[error("xbstream: byte {offset}: {path}: refused: {why}")]
    BadPath {
        /// Where the chunk starts (for a writer: the stream's length then).
        offset: u64,
        /// The path.
        path: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A payload whose CRC-32 does not match the one stored.
    #[error(
        "xbstream: byte {offset}: {path}: payload checksum mismatch: stored 0x{stored:08x}, \
         computed 0x{computed:08x}"
    )]
    BadChecksum {
        /// Where the CRC field is.
        offset: u64,
        /// The path.
        path: String,
        /// The CRC in the chunk.
        stored: u32,
        /// The CRC of the payload read.
        computed: u32,
    },
    /// A payload that does not continue its file where the previous one ended.
    #[error(
        "xbstream: byte {offset}: {path}: out-of-order chunk: file offset {found}, expected \
         {expected}"
    )]
    OutOfOrder {
        /// Where the offset field is.
        offset: u64,
        /// The path.
        path: String,
        /// The offset in the chunk.
        found: u64,
        /// The offset the file had reached.
        expected: u64,
    },
    /// The stream ends inside a chunk.
    #[error(
        "xbstream: byte {offset}: truncated stream: it ends inside a chunk{}",
        in_path(path)
    )]
    Truncated {
        /// Bytes read (the end of the input).
        offset: u64,
        /// The path of the cut chunk, when its path was read.
        path: Option<String>,
    },
    /// The stream ends with files whose end-of-file chunk never came.
    #[error(
        "xbstream: byte {offset}: truncated stream: no end-of-file chunk for {}",
        paths.join(", ")
    )]
    Unfinished {
        /// The end of the stream.
        offset: u64,
        /// The files left open.
        paths: Vec<String>,
    },
    /// A chunk for a file after its end-of-file chunk.
    #[error("xbstream: byte {offset}: {path}: chunk after the file's end-of-file chunk")]
    AfterEnd {
        /// Where the chunk starts.
        offset: u64,
        /// The path.
        path: String,
    },
    /// A rename or remove chunk for a file still being written.
    #[error("xbstream: byte {offset}: {path}: rename or remove of a file still being written")]
    OpenFile {
        /// Where the chunk starts.
        offset: u64,
        /// The path.
        path: String,
    },
    /// A Percona XtraBackup sparse chunk (`S` with the sparse layout), which xb does not read.
    #[error(
        "xbstream: byte {offset}: {path}: Percona XtraBackup sparse chunk: not supported (xb \
         reads MariaDB's streams, whose `S` chunk is a seek)"
    )]
    PerconaSparse {
        /// Where the chunk starts.
        offset: u64,
        /// The path.
        path: String,
    },
    /// Writing the stream, or an extracted file, failed.
    #[error("xbstream: byte {offset}: {path}: writing: {source}")]
    Write {
        /// Where the chunk concerned starts in the stream.
        offset: u64,
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The operation was cancelled.
    #[error("xbstream: cancelled at byte {offset}")]
    Cancelled {
        /// Bytes read when it stopped.
        offset: u64,
    },
}

fn in_path(path: &Option<String>) -> String {
    path.as_ref()
        .map_or_else(String::new, |p| format!(" of {p}"))
}

impl XbstreamError {
    /// The byte offset in the stream the error names.
    pub fn offset(&self) -> u64 {
        use XbstreamError::*;
        match self {
            Read { offset, .. }
            | BadMagic { offset, .. }
            | UnknownType { offset, .. }
            | PathTooLong { offset, .. }
            | BadPath { offset, .. }
            | BadChecksum { offset, .. }
            | OutOfOrder { offset, .. }
            | Truncated { offset, .. }
            | Unfinished { offset, .. }
            | AfterEnd { offset, .. }
            | OpenFile { offset, .. }
            | PerconaSparse { offset, .. }
            | Write { offset, .. }
            | Cancelled { offset } => *offset,
        }
    }
}

impl From<XbstreamError> for io::Error {
    fn from(e: XbstreamError) -> io::Error {
        let kind = match &e {
            XbstreamError::Write { source, .. } | XbstreamError::Read { source, .. } => {
                source.kind()
            }
            XbstreamError::BadPath { .. } | XbstreamError::AfterEnd { .. } => {
                io::ErrorKind::InvalidInput
            }
            _ => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, e)
    }
}
