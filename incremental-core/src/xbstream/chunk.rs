//! The chunk layout of an xbstream: the fields, their encoding, and the path rules.
//!
//! Every chunk starts with the 8-byte magic [`MAGIC`], one byte of flags, one byte of type
//! (an ASCII letter) and a little-endian `u32` path length followed by the path's bytes. What
//! follows depends on the type (all integers little-endian):
//!
//! | type | after the path |
//! | --- | --- |
//! | `P` payload | `u64` length, `u64` offset in the file, `u32` CRC-32 of the payload, payload |
//! | `E` end of file | nothing |
//! | `S` seek (MariaDB) | `u64` new position in the file |
//! | `R` rename (MariaDB) | `u32` length of the new name, the new name |
//! | `D` remove (MariaDB) | nothing |
//!
//! ```
//! use incremental_core::xbstream::chunk::{encode_end, encode_payload_header, crc32};
//! let mut s = encode_payload_header(b"hello.txt", 6, 0, crc32(b"hello\n"));
//! s.extend_from_slice(b"hello\n");
//! s.extend_from_slice(&encode_end(b"hello.txt"));
//! assert_eq!(s.len(), 72);
//! assert_eq!(&s[..8], b"XBSTCK01");
//! ```

/// The magic bytes at the start of every chunk.
pub const MAGIC: &[u8; 8] = b"XBSTCK01";

/// Flag bit: a reader that does not know the chunk's type may skip it (the chunk then has the
/// payload layout).
pub const FLAG_IGNORABLE: u8 = 0x01;

/// Bytes of the common prefix: magic, flags, type, path length.
pub const PREFIX_LEN: usize = 14;

/// Paths of this many bytes or more are refused by readers (MariaDB's `FN_REFLEN`).
pub const PATH_LIMIT: usize = 512;

/// The longest path a writer puts in a stream: `mbstream` fails to create longer ones.
pub const WRITE_PATH_LIMIT: usize = 506;

/// Bytes after the path of a payload chunk, before the payload: length, offset, CRC.
pub const PAYLOAD_FIELDS_LEN: usize = 20;

/// The type letter of a payload chunk.
pub const TYPE_PAYLOAD: u8 = b'P';
/// The type letter of an end-of-file chunk.
pub const TYPE_END: u8 = b'E';
/// The type letter of MariaDB's seek chunk (Percona's sparse chunk uses the same letter with
/// another layout).
pub const TYPE_SEEK: u8 = b'S';
/// The type letter of MariaDB's rename chunk.
pub const TYPE_RENAME: u8 = b'R';
/// The type letter of MariaDB's remove chunk.
pub const TYPE_REMOVE: u8 = b'D';

/// The common prefix of a chunk, parsed from its first [`PREFIX_LEN`] bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Prefix {
    /// The flags byte.
    pub flags: u8,
    /// The type letter.
    pub kind: u8,
    /// The path's length in bytes.
    pub path_len: u32,
}

impl Prefix {
    /// Parses the prefix; `None` if the magic is wrong.
    ///
    /// ```
    /// use incremental_core::xbstream::chunk::Prefix;
    /// let p = Prefix::parse(b"XBSTCK01\0E\x05\0\0\0").unwrap();
    /// assert_eq!((p.kind, p.path_len), (b'E', 5));
    /// assert!(Prefix::parse(b"XBSTCK02\0E\x05\0\0\0").is_none());
    /// ```
    pub fn parse(bytes: &[u8; PREFIX_LEN]) -> Option<Prefix> {
        if &bytes[..8] != MAGIC {
            return None;
        }
        Some(Prefix {
            flags: bytes[8],
            kind: bytes[9],
            path_len: u32::from_le_bytes([bytes[10], bytes[11], bytes[12], bytes[13]]),
        })
    }
}

/// The CRC-32 of xbstream payloads (zlib's: reflected polynomial 0xEDB88320).
///
/// ```
/// use incremental_core::xbstream::chunk::crc32;
/// assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
/// assert_eq!(crc32(b""), 0);
/// ```
pub fn crc32(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes)
}

fn prefix(kind: u8, path: &[u8], extra: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(PREFIX_LEN + path.len() + extra);
    v.extend_from_slice(MAGIC);
    v.push(0);
    v.push(kind);
    v.extend_from_slice(&(path.len() as u32).to_le_bytes());
    v.extend_from_slice(path);
    v
}

/// The header of a payload chunk for `len` bytes at `offset` of the file `path` whose CRC-32
/// is `crc` (the payload itself follows it in the stream).
pub fn encode_payload_header(path: &[u8], len: u64, offset: u64, crc: u32) -> Vec<u8> {
    let mut v = prefix(TYPE_PAYLOAD, path, PAYLOAD_FIELDS_LEN);
    v.extend_from_slice(&len.to_le_bytes());
    v.extend_from_slice(&offset.to_le_bytes());
    v.extend_from_slice(&crc.to_le_bytes());
    v
}

/// The end-of-file chunk of `path`.
pub fn encode_end(path: &[u8]) -> Vec<u8> {
    prefix(TYPE_END, path, 0)
}

/// A MariaDB seek chunk (`S`) of `path` to `position`. Only for tests and tools: xb's writer
/// never writes one (Percona's tools read the letter differently).
pub fn encode_seek(path: &[u8], position: u64) -> Vec<u8> {
    let mut v = prefix(TYPE_SEEK, path, 8);
    v.extend_from_slice(&position.to_le_bytes());
    v
}

/// A MariaDB rename chunk (`R`) of `path` to `to`. Only for tests and tools.
pub fn encode_rename(path: &[u8], to: &[u8]) -> Vec<u8> {
    let mut v = prefix(TYPE_RENAME, path, 4 + to.len());
    v.extend_from_slice(&(to.len() as u32).to_le_bytes());
    v.extend_from_slice(to);
    v
}

/// A MariaDB remove chunk (`D`) of `path`. Only for tests and tools.
pub fn encode_remove(path: &[u8]) -> Vec<u8> {
    prefix(TYPE_REMOVE, path, 0)
}

/// Why a path read from a stream would leave the extraction target (or cannot name a file),
/// if it would: empty, absolute, starting with `.` (as `mbstream` refuses), holding a `..`
/// component or a NUL byte.
///
/// ```
/// use incremental_core::xbstream::chunk::read_path_problem;
/// assert!(read_path_problem(b"db/t.ibd").is_none());
/// assert!(read_path_problem(b"a..b").is_none());
/// for bad in [&b"../x"[..], b"/etc/passwd", b".hidden", b"a/../../x", b"a/..", b""] {
///     assert!(read_path_problem(bad).is_some());
/// }
/// ```
pub fn read_path_problem(path: &[u8]) -> Option<&'static str> {
    if path.is_empty() {
        return Some("the path is empty");
    }
    if path[0] == b'/' {
        return Some("the path is absolute");
    }
    if path[0] == b'.' {
        return Some("the path starts with '.'");
    }
    if path.contains(&0) {
        return Some("the path holds a NUL byte");
    }
    if path.split(|&b| b == b'/').any(|c| c == b"..") {
        return Some("the path has a '..' component");
    }
    None
}

/// Why `path` may not be written into a stream, if so: the rules of [`read_path_problem`],
/// plus no empty or `.` component and at most [`WRITE_PATH_LIMIT`] bytes, so that every
/// extractor (`mbstream`, Percona's `xbstream`) creates it.
///
/// ```
/// use incremental_core::xbstream::chunk::write_path_problem;
/// assert!(write_path_problem(b"db/t.ibd").is_none());
/// assert!(write_path_problem(b"a//b").is_some());
/// assert!(write_path_problem(b"a/./b").is_some());
/// ```
pub fn write_path_problem(path: &[u8]) -> Option<&'static str> {
    if let Some(p) = read_path_problem(path) {
        return Some(p);
    }
    if path.len() > WRITE_PATH_LIMIT {
        return Some("the path is longer than 506 bytes");
    }
    if path
        .split(|&b| b == b'/')
        .any(|c| c.is_empty() || c == b".")
    {
        return Some("the path has an empty or '.' component");
    }
    None
}

/// A path's bytes as text for messages (invalid UTF-8 replaced).
pub(crate) fn shown(path: &[u8]) -> String {
    String::from_utf8_lossy(path).into_owned()
}
