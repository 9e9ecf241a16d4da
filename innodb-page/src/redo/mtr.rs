//! MariaDB 10.8+ mini-transaction (mtr) framing, and a scanner over the circular record area.
//!
//! The record area of a 10.8+ `ib_logfile0` starts at file offset [`START_OFFSET`] (0x3000) and
//! holds `capacity = file_size − 0x3000` bytes, read circularly: the byte of LSN `x` is at area
//! position `(x − first_lsn) mod capacity`, and mini-transactions may wrap from the end of the
//! area to its start. The LSN counts record bytes only (no block framing).
//!
//! ```text
//! mtr := record+ , end_byte , [nonce(8) if encrypted] , crc32c(4, big-endian)
//! ```
//!
//! * a record starts with a byte `b ≥ 0x02`; its low nibble is the number of bytes that follow,
//!   or 0 for "a [varint](decode_varint) `v` follows and `v + 15` bytes follow `b`";
//! * `end_byte` is the **sequence bit** of its own LSN: 1 while `(x − first_lsn) / capacity` is
//!   even, else 0, so bytes left from the previous lap never pass;
//! * the CRC-32C covers the record bytes, then (encrypted logs) the nonce.
//!
//! [`MtrReader`] iterates mini-transactions from a start LSN over any [`RecordArea`] (a byte
//! slice, a file, ...), reporting each one's start and end LSN and record bytes, and why it
//! stopped ([`ScanStop`]). Stopping is not an error: it is where the log ends *for now*; calling
//! [`MtrReader::next_mtr`] again re-reads the area from that LSN, which is how a follower of a
//! live log polls.
//!
//! ```
//! use innodb_page::redo::mtr::{LogGeometry, MtrReader, ScanStop};
//! use innodb_page::Lsn;
//! // The real FILE_CHECKPOINT mtr from the spec, alone in a 16-byte area starting at LSN 0x3000.
//! let area: &[u8] = &[0xFA, 0, 0, 0, 0, 0, 0, 0, 0, 0x30, 0, 0x01, 0x1F, 0xEC, 0x1A, 0x80];
//! let geom = LogGeometry::new(Lsn::new(0x3000), 16, false).unwrap();
//! let mut r = MtrReader::new(area, geom, Lsn::new(0x3000)).unwrap();
//! let m = r.next_mtr().unwrap().unwrap();
//! assert_eq!((m.start_lsn().get(), m.end_lsn().get()), (0x3000, 0x3010));
//! assert_eq!(m.file_checkpoint_lsn(), Some(Lsn::new(0x3000)));
//! assert!(r.next_mtr().unwrap().is_none()); // next lap: the sequence bit no longer matches
//! assert!(matches!(r.stop(), Some(ScanStop::SequenceBit { .. })));
//! assert_eq!(r.lsn().get(), 0x3010);
//! ```

use std::fmt;
use std::io;

use super::crypt::LogCipher;
use super::{be_u32, lsn, RedoError};
use crate::Lsn;

/// File offset of the record area (`log_t::START_OFFSET`).
pub const START_OFFSET: u64 = 0x3000;
/// Records of one mtr stay below this many bytes (`MTR_SIZE_MAX`).
pub const MTR_SIZE_MAX: usize = 1 << 20;
/// Bytes of the FILE_CHECKPOINT mtr in a plain log (`SIZE_OF_FILE_CHECKPOINT`).
pub const SIZE_OF_FILE_CHECKPOINT: u64 = 16;
/// Length of the per-mtr nonce of encrypted logs.
pub const NONCE_LEN: usize = 8;
/// Record type (high nibble) of FILE_CHECKPOINT.
pub const FILE_CHECKPOINT: u8 = 0xF0;

/// Why a variable-length integer could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum VarintError {
    /// The bytes end before the integer does.
    NeedMore,
    /// First byte `11111xxx`, or a 5-byte value above `u32::MAX`.
    Invalid,
}

/// Decodes a MariaDB variable-length integer (biased, big-endian payload) from the start of
/// `bytes`: returns the value and the number of bytes used.
///
/// | First byte | Bytes | Value |
/// |---|---|---|
/// | `0xxxxxxx` | 1 | 0..0x7F |
/// | `10xxxxxx` | 2 | 0x80 + 14 bits |
/// | `110xxxxx` | 3 | 0x4080 + 21 bits |
/// | `1110xxxx` | 4 | 0x204080 + 28 bits |
/// | `11110xxx` | 5 | 0x10204080 + 35 bits (must fit in 32 bits) |
///
/// ```
/// use innodb_page::redo::mtr::{decode_varint, VarintError};
/// assert_eq!(decode_varint(&[0x80, 0x00]), Ok((0x80, 2)));
/// assert_eq!(decode_varint(&[0xF0, 0xEF, 0xDF, 0xBF, 0x7F]), Ok((0xFFFF_FFFF, 5)));
/// assert_eq!(decode_varint(&[0xC0, 0x00]), Err(VarintError::NeedMore));
/// assert_eq!(decode_varint(&[0xF8]), Err(VarintError::Invalid));
/// ```
pub fn decode_varint(bytes: &[u8]) -> Result<(u32, usize), VarintError> {
    let first = *bytes.first().ok_or(VarintError::NeedMore)?;
    let (len, bias, mask): (usize, u64, u8) = match first {
        0x00..=0x7F => return Ok((u32::from(first), 1)),
        0x80..=0xBF => (2, 0x80, 0x3F),
        0xC0..=0xDF => (3, 0x4080, 0x1F),
        0xE0..=0xEF => (4, 0x20_4080, 0x0F),
        0xF0..=0xF7 => (5, 0x1020_4080, 0x07),
        _ => return Err(VarintError::Invalid),
    };
    let rest = bytes.get(1..len).ok_or(VarintError::NeedMore)?;
    let payload = rest
        .iter()
        .fold(u64::from(first & mask), |acc, &b| (acc << 8) | u64::from(b));
    u32::try_from(bias + payload)
        .map(|v| (v, len))
        .map_err(|_| VarintError::Invalid)
}

/// Encodes `v` as a MariaDB variable-length integer; returns the buffer and the length used.
///
/// ```
/// use innodb_page::redo::mtr::encode_varint;
/// let (b, n) = encode_varint(0x4080);
/// assert_eq!(&b[..n], &[0xC0, 0x00, 0x00]);
/// ```
pub fn encode_varint(v: u32) -> ([u8; 5], usize) {
    let v64 = u64::from(v);
    let (len, bias, tag): (usize, u64, u64) = if v64 < 0x80 {
        (1, 0, 0)
    } else if v64 < 0x4080 {
        (2, 0x80, 0x80)
    } else if v64 < 0x20_4080 {
        (3, 0x4080, 0xC0)
    } else if v64 < 0x1020_4080 {
        (4, 0x20_4080, 0xE0)
    } else {
        (5, 0x1020_4080, 0xF0)
    };
    let x = (v64 - bias) | (tag << (8 * (len - 1)));
    let mut out = [0u8; 5];
    for (i, o) in out.iter_mut().take(len).enumerate() {
        *o = (x >> (8 * (len - 1 - i))) as u8;
    }
    (out, len)
}

/// Why a record's length could not be determined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordLenError {
    /// The bytes end inside the record header.
    NeedMore,
    /// The first byte is ≤ 0x01 (not a record), the length varint is invalid, or it claims
    /// fewer bytes than itself.
    Corrupt(&'static str),
}

/// Total length (first byte included) of the record starting at `bytes[0]`, from its header
/// only (the body need not be present).
///
/// ```
/// use innodb_page::redo::mtr::record_len;
/// assert_eq!(record_len(&[0x34]), Ok(5));            // WRITE, nibble 4
/// assert_eq!(record_len(&[0x20, 0x06]), Ok(22));     // nibble 0, varint 6: 21 bytes follow
/// ```
pub fn record_len(bytes: &[u8]) -> Result<usize, RecordLenError> {
    let b = *bytes.first().ok_or(RecordLenError::NeedMore)?;
    if b <= 1 {
        return Err(RecordLenError::Corrupt(
            "not a record (first byte 0x00 or 0x01)",
        ));
    }
    let nibble = usize::from(b & 0x0F);
    if nibble != 0 {
        return Ok(1 + nibble);
    }
    let (v, vlen) = match decode_varint(bytes.get(1..).unwrap_or(&[])) {
        Ok(x) => x,
        Err(VarintError::NeedMore) => return Err(RecordLenError::NeedMore),
        Err(VarintError::Invalid) => return Err(RecordLenError::Corrupt("invalid length varint")),
    };
    let following = (v as usize)
        .checked_add(15)
        .ok_or(RecordLenError::Corrupt("record length overflows"))?;
    if following < vlen {
        return Err(RecordLenError::Corrupt(
            "record shorter than its length varint",
        ));
    }
    following
        .checked_add(1)
        .ok_or(RecordLenError::Corrupt("record length overflows"))
}

/// One record inside a mini-transaction.
///
/// ```
/// use innodb_page::redo::mtr::Record;
/// let r = Record::parse(&[0x34, 0x00, 0x07, 0x35, 0x0B]).unwrap();
/// assert!(!r.same_page());
/// assert_eq!(r.type_bits(), 0x30); // WRITE
/// assert_eq!(r.body(), &[0x00, 0x07, 0x35, 0x0B]);
/// assert_eq!(r.page_id(), Some((0, 7)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    bytes: &'a [u8],
    header_len: usize,
}

impl<'a> Record<'a> {
    /// Parses the record at the start of `bytes` (which must hold all of it).
    pub fn parse(bytes: &'a [u8]) -> Option<Record<'a>> {
        let len = record_len(bytes).ok()?;
        let bytes = bytes.get(..len)?;
        let header_len = if bytes[0] & 0x0F != 0 {
            1
        } else {
            1 + decode_varint(bytes.get(1..)?).ok()?.1
        };
        Some(Record { bytes, header_len })
    }

    /// All bytes of the record.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The first byte (same_page flag, type, length nibble).
    pub fn first_byte(&self) -> u8 {
        self.bytes.first().copied().unwrap_or(0)
    }

    /// Bit 7: same page as the previous record (or, before any page record in the mtr, a
    /// file-level record).
    pub fn same_page(&self) -> bool {
        self.first_byte() & 0x80 != 0
    }

    /// Bits 6..4 (`b & 0x70`): FREE_PAGE 0x00, INIT_PAGE 0x10, EXTENDED 0x20, WRITE 0x30,
    /// MEMSET 0x40, MEMMOVE 0x50, RESERVED 0x60, OPTION 0x70.
    pub fn type_bits(&self) -> u8 {
        self.first_byte() & 0x70
    }

    /// The high nibble (`b & 0xF0`), which is the type of file-level records (FILE_CREATE
    /// 0x80, FILE_DELETE 0x90, FILE_RENAME 0xA0, FILE_MODIFY 0xB0, FILE_CHECKPOINT 0xF0).
    pub fn file_type(&self) -> u8 {
        self.first_byte() & 0xF0
    }

    /// The bytes after the first byte and the length varint.
    pub fn body(&self) -> &'a [u8] {
        self.bytes.get(self.header_len..).unwrap_or(&[])
    }

    /// Reads (space_id, page_no) from the start of the body. Meaningful for page records with
    /// same_page = 0 and for file-level records, in logs whose ids are in clear.
    pub fn page_id(&self) -> Option<(u32, u32)> {
        let body = self.body();
        let (space, n1) = decode_varint(body).ok()?;
        let (page, _) = decode_varint(body.get(n1..)?).ok()?;
        Some((space, page))
    }

    /// For a file-level record (body: space id, page number, then names separated by NUL:
    /// one name, or FILE_RENAME's old and new), each name with its byte offset in
    /// [`as_bytes`](Self::as_bytes); empty names are skipped, and nothing is returned when the
    /// ids do not decode.
    ///
    /// ```
    /// use innodb_page::redo::mtr::Record;
    /// // FILE_RENAME (0xA0), 13 bytes of body: space 5, page 0, "a.ibd" NUL "b.ibd"
    /// let bytes = b"\xAD\x05\x00a.ibd\x00b.ibd";
    /// let r = Record::parse(bytes).unwrap();
    /// let names: Vec<_> = r.file_names().collect();
    /// assert_eq!(names, [(3, &b"a.ibd"[..]), (9, &b"b.ibd"[..])]);
    /// ```
    pub fn file_names(&self) -> impl Iterator<Item = (usize, &'a [u8])> {
        let body = self.body();
        let ids = decode_varint(body)
            .ok()
            .and_then(|(_, n1)| Some(n1 + decode_varint(body.get(n1..)?).ok()?.1));
        let start = ids.map_or(body.len(), |n| n.min(body.len()));
        let mut at = self.header_len + start;
        body[start..]
            .split(|&b| b == 0)
            .map(move |n| {
                let here = at;
                at += n.len() + 1;
                (here, n)
            })
            .filter(|(_, n)| !n.is_empty())
    }

    /// For a FILE_CHECKPOINT record (`0xF0` high nibble, body: space id, page number, 8-byte
    /// LSN), the LSN it names; `None` for any other record.
    pub fn file_checkpoint_lsn(&self) -> Option<Lsn> {
        if self.file_type() != FILE_CHECKPOINT {
            return None;
        }
        let body = self.body();
        let (_, n1) = decode_varint(body).ok()?;
        let (_, n2) = decode_varint(body.get(n1..)?).ok()?;
        let tail = body.get(n1.checked_add(n2)?..)?;
        let arr: [u8; 8] = tail.try_into().ok()?;
        Some(lsn(u64::from_be_bytes(arr)))
    }
}

/// Iterator over the records of a mini-transaction's record bytes; stops at the first
/// malformed record.
#[derive(Debug, Clone)]
pub struct Records<'a> {
    rest: &'a [u8],
}

impl<'a> Records<'a> {
    /// Iterates the records in `bytes`.
    ///
    /// ```
    /// use innodb_page::redo::mtr::Records;
    /// let n = Records::new(&[0x34, 0, 9, 0x3F, 1, 0xB2, 0, 0]).count();
    /// assert_eq!(n, 2);
    /// ```
    pub fn new(bytes: &'a [u8]) -> Records<'a> {
        Records { rest: bytes }
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Record<'a>;

    fn next(&mut self) -> Option<Record<'a>> {
        let r = Record::parse(self.rest)?;
        self.rest = self.rest.get(r.bytes.len()..).unwrap_or(&[]);
        Some(r)
    }
}

/// One framed, CRC-checked mini-transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mtr<'a> {
    start: Lsn,
    end: Lsn,
    records: &'a [u8],
    plain: Option<&'a [u8]>,
    bytes: &'a [u8],
    end_byte: u8,
    nonce: Option<[u8; NONCE_LEN]>,
    checksum: u32,
}

impl<'a> Mtr<'a> {
    /// LSN of the first record byte.
    pub fn start_lsn(&self) -> Lsn {
        self.start
    }

    /// LSN just past the CRC: the next mtr starts here, and pages changed by this mtr carry it
    /// as FIL_PAGE_LSN.
    pub fn end_lsn(&self) -> Lsn {
        self.end
    }

    /// Total length in bytes (records, end byte, nonce, CRC).
    pub fn len(&self) -> u64 {
        self.end.get() - self.start.get()
    }

    /// Always false (an mtr has at least one record); present for API symmetry with `len`.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The record bytes as stored (before the end byte): encrypted in an encrypted log.
    pub fn record_bytes(&self) -> &'a [u8] {
        self.records
    }

    /// The decrypted record bytes, when the reader was given a cipher
    /// ([`MtrReader::set_cipher`]); `None` otherwise.
    pub fn plain_records(&self) -> Option<&'a [u8]> {
        self.plain
    }

    /// The record bytes to decode: the decrypted ones if any, else the stored ones.
    pub fn readable_records(&self) -> &'a [u8] {
        self.plain.unwrap_or(self.records)
    }

    /// The whole mini-transaction as stored in the log: record bytes, end byte, nonce (if
    /// encrypted) and CRC, i.e. exactly [`len`](Mtr::len) bytes. Written at the same LSN
    /// into another log they reproduce the mtr, provided the end byte is the sequence bit
    /// of that log's geometry at the end byte's LSN (the CRC does not cover the end byte, so
    /// a writer whose log has another first LSN or capacity sets it with
    /// [`LogGeometry::sequence_bit`]).
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The records ([`readable_records`](Mtr::readable_records): decrypted when the reader
    /// has a cipher).
    pub fn records(&self) -> Records<'a> {
        Records::new(self.readable_records())
    }

    /// The end byte (the sequence bit).
    pub fn end_byte(&self) -> u8 {
        self.end_byte
    }

    /// The 8-byte nonce of encrypted logs.
    pub fn nonce(&self) -> Option<[u8; NONCE_LEN]> {
        self.nonce
    }

    /// The stored (and verified) CRC-32C.
    pub fn checksum(&self) -> u32 {
        self.checksum
    }

    /// The LSN named by the first record if it is a FILE_CHECKPOINT (in clear only in
    /// unencrypted logs, or when the reader decrypts).
    pub fn file_checkpoint_lsn(&self) -> Option<Lsn> {
        self.records().next()?.file_checkpoint_lsn()
    }

    /// True for a padding mtr: every record is a FILE_CHECKPOINT-typed record whose body is all
    /// zero bytes. It carries nothing and is skipped by recovery.
    pub fn is_padding(&self) -> bool {
        let mut n = 0usize;
        let mut consumed = 0usize;
        for r in self.records() {
            if r.file_type() != FILE_CHECKPOINT || r.body().iter().any(|&b| b != 0) {
                return false;
            }
            n += 1;
            consumed += r.as_bytes().len();
        }
        n > 0 && consumed == self.readable_records().len()
    }
}

/// Why [`MtrReader::next_mtr`] found no further mini-transaction: the end of the log (for now).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScanStop {
    /// The first byte at the mtr start is 0x00 or 0x01 (an empty mtr never exists).
    EndMarker,
    /// The end byte is not the sequence bit of its LSN (data from another lap).
    SequenceBit {
        /// The byte found.
        found: u8,
        /// The sequence bit expected.
        expected: u8,
    },
    /// The CRC-32C does not match.
    Checksum {
        /// Stored value.
        stored: u32,
        /// Computed value.
        computed: u32,
    },
    /// A record header is malformed.
    Corrupt {
        /// What is wrong.
        why: &'static str,
    },
    /// The records reach [`MTR_SIZE_MAX`] bytes, or the mtr would be longer than the area.
    TooLong,
    /// The mtr runs past the readable part of the area (e.g. a truncated file).
    Unreadable,
    /// The mtr would end past the limit set with [`MtrReader::set_limit`].
    Limit,
}

impl fmt::Display for ScanStop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScanStop::EndMarker => f.write_str("end marker (no further mini-transaction)"),
            ScanStop::SequenceBit { found, expected } => write!(
                f,
                "end byte {found:#04x} is not the sequence bit {expected} (previous lap)"
            ),
            ScanStop::Checksum { stored, computed } => write!(
                f,
                "mini-transaction CRC mismatch (stored {stored:#010x}, computed {computed:#010x})"
            ),
            ScanStop::Corrupt { why } => write!(f, "corrupt record: {why}"),
            ScanStop::TooLong => f.write_str("mini-transaction too long"),
            ScanStop::Unreadable => f.write_str("mini-transaction runs past the readable area"),
            ScanStop::Limit => f.write_str("limit reached"),
        }
    }
}

/// Read access to the circular record area, by area position (`0..capacity`).
pub trait RecordArea {
    /// Reads up to `buf.len()` bytes at area position `pos`. The reader is never asked to
    /// cross the end of the area (`pos + buf.len() ≤ capacity`). Returns how many bytes were
    /// read; fewer than asked means the readable area ends there (a truncated file).
    fn read_area(&mut self, pos: u64, buf: &mut [u8]) -> io::Result<usize>;
}

/// A byte slice is an area holding its own bytes (position 0 = first byte).
impl RecordArea for &[u8] {
    fn read_area(&mut self, pos: u64, buf: &mut [u8]) -> io::Result<usize> {
        let Ok(pos) = usize::try_from(pos) else {
            return Ok(0);
        };
        let avail = self.get(pos..).unwrap_or(&[]);
        let n = avail.len().min(buf.len());
        buf[..n].copy_from_slice(&avail[..n]);
        Ok(n)
    }
}

impl<T: RecordArea + ?Sized> RecordArea for &mut T {
    fn read_area(&mut self, pos: u64, buf: &mut [u8]) -> io::Result<usize> {
        (**self).read_area(pos, buf)
    }
}

/// Where the record area is and how mtrs are framed: `first_lsn` (the LSN at area position 0
/// on the first lap), `capacity` (bytes in the area) and whether mtrs carry a nonce.
///
/// ```
/// use innodb_page::redo::mtr::LogGeometry;
/// use innodb_page::Lsn;
/// let g = LogGeometry::from_file_size(Lsn::new(0x3000), 0x3000 + 100, false).unwrap();
/// assert_eq!(g.capacity(), 100);
/// assert_eq!(g.file_offset(Lsn::new(0x3000 + 150)), Some(0x3000 + 50));
/// assert_eq!(g.sequence_bit(Lsn::new(0x3000 + 99)), Some(1));
/// assert_eq!(g.sequence_bit(Lsn::new(0x3000 + 100)), Some(0));
/// assert_eq!(g.sequence_bit(Lsn::new(0x2FFF)), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogGeometry {
    first_lsn: Lsn,
    capacity: u64,
    nonce: bool,
}

impl LogGeometry {
    /// A geometry with an explicit capacity (> 0).
    pub fn new(first_lsn: Lsn, capacity: u64, encrypted: bool) -> Result<LogGeometry, RedoError> {
        if capacity == 0 {
            return Err(RedoError::BadGeometry {
                why: "empty record area",
                value: 0,
            });
        }
        Ok(LogGeometry {
            first_lsn,
            capacity,
            nonce: encrypted,
        })
    }

    /// The geometry of an `ib_logfile0` of `file_size` bytes: capacity = `file_size − 0x3000`.
    pub fn from_file_size(
        first_lsn: Lsn,
        file_size: u64,
        encrypted: bool,
    ) -> Result<LogGeometry, RedoError> {
        match file_size.checked_sub(START_OFFSET) {
            Some(c) if c > 0 => LogGeometry::new(first_lsn, c, encrypted),
            _ => Err(RedoError::Truncated {
                what: "MariaDB 10.8+ redo log (header and at least one record byte)",
                len: file_size,
                need: START_OFFSET + 1,
            }),
        }
    }

    /// The LSN at area position 0 on the first lap.
    pub fn first_lsn(&self) -> Lsn {
        self.first_lsn
    }

    /// Bytes in the record area.
    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    /// Whether mtrs carry the 8-byte nonce (encrypted logs, both styles).
    pub fn encrypted(&self) -> bool {
        self.nonce
    }

    /// Bytes after the records of each mtr: end byte, nonce if encrypted, CRC.
    pub fn trailer_len(&self) -> u64 {
        1 + if self.nonce { NONCE_LEN as u64 } else { 0 } + 4
    }

    /// Area position of `lsn`; `None` below `first_lsn`.
    pub fn area_pos(&self, lsn: Lsn) -> Option<u64> {
        Some(lsn.get().checked_sub(self.first_lsn.get())? % self.capacity)
    }

    /// File offset of `lsn` in `ib_logfile0`: `0x3000 + area_pos`.
    pub fn file_offset(&self, lsn: Lsn) -> Option<u64> {
        START_OFFSET.checked_add(self.area_pos(lsn)?)
    }

    /// The sequence bit expected at `lsn`: 1 on even laps, 0 on odd ones.
    pub fn sequence_bit(&self, lsn: Lsn) -> Option<u8> {
        let lap = lsn.get().checked_sub(self.first_lsn.get())? / self.capacity;
        Some(if lap.is_multiple_of(2) { 1 } else { 0 })
    }
}

/// Read-ahead granularity.
const READ_CHUNK: usize = 64 * 1024;

/// Iterates mini-transactions from a start LSN over a [`RecordArea`].
///
/// Each call to [`next_mtr`](MtrReader::next_mtr) returns the next valid mtr, or `None` at the
/// end of the log; [`stop`](MtrReader::stop) then tells why and [`lsn`](MtrReader::lsn) is the
/// end LSN (the end of the last valid mtr). Calling `next_mtr` again after `None` discards the
/// read-ahead and re-reads the area from [`lsn`](MtrReader::lsn), so a follower can poll a log
/// that is still being written. I/O errors of the area are returned as `Err`.
///
/// ```
/// use innodb_page::redo::mtr::{LogGeometry, MtrReader, ScanStop};
/// use innodb_page::Lsn;
/// let area: &[u8] = &[0x34, 0x00, 0x07, 0x35, 0x0B, 0x01, 0xC1, 0xA2, 0x38, 0x7B, 0x00];
/// let geom = LogGeometry::new(Lsn::new(0x3000), 4096, false).unwrap();
/// let mut r = MtrReader::new(area, geom, Lsn::new(0x3000)).unwrap();
/// let m = r.next_mtr().unwrap().unwrap();
/// assert_eq!(m.end_lsn().get(), 0x3000 + 10);
/// assert_eq!(m.records().next().unwrap().page_id(), Some((0, 7)));
/// assert!(r.next_mtr().unwrap().is_none());
/// assert_eq!(r.stop(), Some(ScanStop::EndMarker));
/// ```
#[derive(Debug)]
pub struct MtrReader<A> {
    area: A,
    geom: LogGeometry,
    lsn: u64,
    limit: Option<u64>,
    buf: Vec<u8>,
    buf_lsn: u64,
    area_end: bool,
    stop: Option<ScanStop>,
    cipher: Option<LogCipher>,
    plain: Vec<u8>,
}

impl<A: RecordArea> MtrReader<A> {
    /// A reader positioned at `start` (an mtr boundary such as a checkpoint LSN), which must
    /// not be below the geometry's first LSN.
    pub fn new(area: A, geom: LogGeometry, start: Lsn) -> Result<MtrReader<A>, RedoError> {
        if start < geom.first_lsn {
            return Err(RedoError::BadField {
                what: "scan start LSN",
                value: start.get(),
                why: "below the log's first LSN",
            });
        }
        Ok(MtrReader {
            area,
            geom,
            lsn: start.get(),
            limit: None,
            buf: Vec::new(),
            buf_lsn: start.get(),
            area_end: false,
            stop: None,
            cipher: None,
            plain: Vec::new(),
        })
    }

    /// Stops (with [`ScanStop::Limit`]) before any mtr that would end past `limit`.
    pub fn set_limit(&mut self, limit: Option<Lsn>) {
        self.limit = limit.map(Lsn::get);
    }

    /// Decrypts the records of every mtr read from now on with `cipher` (an encrypted log),
    /// so that [`Mtr::records`] decodes the plaintext; `None` (the default) reads them as
    /// stored. An mtr whose records do not decrypt stops the reader with
    /// [`ScanStop::Corrupt`]. The cipher is ignored by a reader whose geometry has no nonce
    /// (a plain log).
    pub fn set_cipher(&mut self, cipher: Option<LogCipher>) {
        self.cipher = cipher;
    }

    /// The cipher set with [`set_cipher`](MtrReader::set_cipher).
    pub fn cipher(&self) -> Option<LogCipher> {
        self.cipher
    }

    /// The geometry.
    pub fn geometry(&self) -> LogGeometry {
        self.geom
    }

    /// Where the next mtr starts: after a `None` from [`next_mtr`](MtrReader::next_mtr), the
    /// end of the log.
    pub fn lsn(&self) -> Lsn {
        lsn(self.lsn)
    }

    /// Why the last [`next_mtr`](MtrReader::next_mtr) returned `None` (cleared by the next
    /// call).
    pub fn stop(&self) -> Option<ScanStop> {
        self.stop
    }

    /// Gives back the area.
    pub fn into_inner(self) -> A {
        self.area
    }

    /// The next valid mini-transaction, or `None` at the end of the log.
    pub fn next_mtr(&mut self) -> io::Result<Option<Mtr<'_>>> {
        if self.stop.take().is_some() {
            self.buf.clear();
            self.buf_lsn = self.lsn;
            self.area_end = false;
        }
        // Drop the bytes of mtrs already returned, once they are at least half of the buffer
        // (amortised: each byte is moved at most once per half-buffer consumed).
        let consumed = usize::try_from(self.lsn - self.buf_lsn).unwrap_or(usize::MAX);
        if consumed >= self.buf.len() {
            self.buf.clear();
            self.buf_lsn = self.lsn;
        } else if consumed.saturating_mul(2) >= self.buf.len() {
            self.buf.drain(..consumed);
            self.buf_lsn = self.lsn;
        }
        match self.frame()? {
            Ok((rec_len, total, nonce, checksum)) => {
                let start = self.lsn;
                let off = self.offset();
                let whole = usize::try_from(total)
                    .ok()
                    .and_then(|t| self.buf.get(off..off.checked_add(t)?))
                    .unwrap_or(&[]);
                let records = whole.get(..rec_len).unwrap_or(&[]);
                let decrypted = match (self.cipher, nonce) {
                    (Some(c), Some(n)) => Some(c.decrypt_records(records, &n, &mut self.plain)),
                    _ => None,
                };
                if let Some(Err(_)) = decrypted {
                    self.stop = Some(ScanStop::Corrupt {
                        why: "the records of the mini-transaction do not decrypt",
                    });
                    return Ok(None);
                }
                self.lsn = start + total; // checked in frame()
                Ok(Some(Mtr {
                    start: lsn(start),
                    end: lsn(self.lsn),
                    records,
                    plain: decrypted.map(|_| &self.plain[..]),
                    bytes: whole,
                    end_byte: whole.get(rec_len).copied().unwrap_or(0),
                    nonce,
                    checksum,
                }))
            }
            Err(stop) => {
                self.stop = Some(stop);
                Ok(None)
            }
        }
    }

    /// Index in `self.buf` of the byte at `self.lsn`.
    fn offset(&self) -> usize {
        usize::try_from(self.lsn - self.buf_lsn).unwrap_or(usize::MAX)
    }

    /// Makes `self.buf` hold at least `n` bytes if the area allows (best effort).
    fn fill(&mut self, n: usize) -> io::Result<()> {
        while self.buf.len() < n && !self.area_end {
            let Some(at) = self.buf_lsn.checked_add(self.buf.len() as u64) else {
                self.area_end = true;
                break;
            };
            let Some(pos) = self.geom.area_pos(lsn(at)) else {
                self.area_end = true;
                break;
            };
            let to_end = self.geom.capacity - pos;
            let want = (n - self.buf.len()).max(READ_CHUNK);
            let want = usize::try_from(to_end).map_or(want, |t| want.min(t));
            let old = self.buf.len();
            self.buf.resize(old + want, 0);
            let got = self.area.read_area(pos, &mut self.buf[old..])?;
            let got = got.min(want);
            self.buf.truncate(old + got);
            if got < want {
                self.area_end = true;
            }
        }
        Ok(())
    }

    /// Frames the mtr at `self.lsn` (at `self.offset()` in the buffer).
    /// Ok(Ok((records, total, nonce, crc))).
    #[allow(clippy::type_complexity)]
    fn frame(
        &mut self,
    ) -> io::Result<Result<(usize, u64, Option<[u8; NONCE_LEN]>, u32), ScanStop>> {
        let start = self.lsn;
        let trailer = self.geom.trailer_len();
        let o = self.offset();
        let mut p = 0usize;
        loop {
            self.fill(o.saturating_add(p + 6))?;
            let Some(&b) = self.buf.get(o + p) else {
                return Ok(Err(ScanStop::Unreadable));
            };
            if b <= 1 {
                if p == 0 {
                    return Ok(Err(ScanStop::EndMarker));
                }
                break;
            }
            let rl = match record_len(&self.buf[o + p..]) {
                Ok(n) => n,
                Err(RecordLenError::NeedMore) => return Ok(Err(ScanStop::Unreadable)),
                Err(RecordLenError::Corrupt(why)) => return Ok(Err(ScanStop::Corrupt { why })),
            };
            p = match p.checked_add(rl) {
                Some(x) if x < MTR_SIZE_MAX => x,
                _ => return Ok(Err(ScanStop::TooLong)),
            };
            if (p as u64).saturating_add(trailer) > self.geom.capacity {
                return Ok(Err(ScanStop::TooLong));
            }
        }
        let tail = trailer as usize;
        self.fill(o + p + tail)?;
        let Some(trail) = self.buf.get(o + p..o + p + tail) else {
            return Ok(Err(ScanStop::Unreadable));
        };
        let Some(end_byte_lsn) = start.checked_add(p as u64) else {
            return Ok(Err(ScanStop::TooLong));
        };
        let expected = self.geom.sequence_bit(lsn(end_byte_lsn)).unwrap_or(2);
        if trail[0] != expected {
            return Ok(Err(ScanStop::SequenceBit {
                found: trail[0],
                expected,
            }));
        }
        let mut crc = crc32c::crc32c(&self.buf[o..o + p]);
        let nonce = if self.geom.nonce {
            let mut n = [0u8; NONCE_LEN];
            n.copy_from_slice(&trail[1..1 + NONCE_LEN]);
            crc = crc32c::crc32c_append(crc, &n);
            Some(n)
        } else {
            None
        };
        let stored = be_u32(trail, tail - 4).unwrap_or(0);
        if stored != crc {
            return Ok(Err(ScanStop::Checksum {
                stored,
                computed: crc,
            }));
        }
        let total = p as u64 + trailer;
        let Some(end) = start.checked_add(total) else {
            return Ok(Err(ScanStop::TooLong));
        };
        if self.limit.is_some_and(|l| end > l) {
            return Ok(Err(ScanStop::Limit));
        }
        Ok(Ok((p, total, nonce, stored)))
    }
}

/// Result of [`scan_to_end`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct MtrScan {
    /// The scanned end LSN (end of the last valid mtr), or `None` when the area does not hold
    /// the log the checkpoint describes (see [`MtrScan::inconsistency`]).
    pub end_lsn: Option<Lsn>,
    /// Where the scan stopped, whether or not it is trusted as the end.
    pub stopped_at: Lsn,
    /// Valid mtrs read.
    pub mtrs: u64,
    /// Why the scan stopped.
    pub stop: ScanStop,
    /// Why [`MtrScan::end_lsn`] is `None`.
    pub inconsistency: Option<&'static str>,
}

/// Finds the end of a MariaDB 10.8+ log by scanning mtrs from `checkpoint_lsn` (limited to one
/// capacity, since the server never overwrites its checkpoint).
///
/// With `checkpoint_end_lsn` (the checkpoint block's end LSN field), the scan is only trusted if
/// an mtr starts exactly there; if `check_body` (unencrypted logs) that mtr must also be a
/// FILE_CHECKPOINT naming `checkpoint_lsn`. A log copy that is only the start of a larger file
/// fails this test, and gives `end_lsn = None` instead of a wrong value.
///
/// ```
/// use innodb_page::redo::mtr::{scan_to_end, LogGeometry};
/// use innodb_page::Lsn;
/// let area: &[u8] = &[0xFA, 0, 0, 0, 0, 0, 0, 0, 0, 0x30, 0, 0x01, 0x1F, 0xEC, 0x1A, 0x80];
/// let geom = LogGeometry::new(Lsn::new(0x3000), 16, false).unwrap();
/// let s = scan_to_end(area, geom, Lsn::new(0x3000), Some(Lsn::new(0x3000)), true).unwrap();
/// assert_eq!(s.end_lsn, Some(Lsn::new(0x3010)));
/// assert_eq!(s.mtrs, 1);
/// ```
pub fn scan_to_end<A: RecordArea>(
    area: A,
    geom: LogGeometry,
    checkpoint_lsn: Lsn,
    checkpoint_end_lsn: Option<Lsn>,
    check_body: bool,
) -> io::Result<MtrScan> {
    let mut r = match MtrReader::new(area, geom, checkpoint_lsn) {
        Ok(r) => r,
        Err(_) => {
            return Ok(MtrScan {
                end_lsn: None,
                stopped_at: checkpoint_lsn,
                mtrs: 0,
                stop: ScanStop::Unreadable,
                inconsistency: Some("checkpoint LSN below the log's first LSN"),
            })
        }
    };
    r.set_limit(checkpoint_lsn.get().checked_add(geom.capacity).map(lsn));
    let mut mtrs = 0u64;
    // None: not required; Some(false): not seen yet; Some(true): verified.
    let mut anchor = checkpoint_end_lsn.map(|_| false);
    while let Some(m) = r.next_mtr()? {
        mtrs += 1;
        if Some(m.start_lsn()) == checkpoint_end_lsn {
            let ok = !check_body || m.file_checkpoint_lsn() == Some(checkpoint_lsn);
            anchor = Some(ok);
            if !ok {
                break;
            }
        }
    }
    let stop = r.stop().unwrap_or(ScanStop::Corrupt {
        why: "FILE_CHECKPOINT record does not name the checkpoint",
    });
    let inconsistency = match anchor {
        Some(false) => Some(
            "no FILE_CHECKPOINT mini-transaction for the checkpoint at its end LSN: \
             the record area does not hold this log (truncated copy?)",
        ),
        _ => None,
    };
    Ok(MtrScan {
        end_lsn: inconsistency.is_none().then(|| r.lsn()),
        stopped_at: r.lsn(),
        mtrs,
        stop,
        inconsistency,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const VECTORS: &[(u32, &[u8])] = &[
        (0, &[0x00]),
        (0x7F, &[0x7F]),
        (0x80, &[0x80, 0x00]),
        (0x407F, &[0xBF, 0xFF]),
        (0x4080, &[0xC0, 0x00, 0x00]),
        (0x20407F, &[0xDF, 0xFF, 0xFF]),
        (0x204080, &[0xE0, 0x00, 0x00, 0x00]),
        (0x1020407F, &[0xEF, 0xFF, 0xFF, 0xFF]),
        (0x10204080, &[0xF0, 0x00, 0x00, 0x00, 0x00]),
        (0xFFFFFFFF, &[0xF0, 0xEF, 0xDF, 0xBF, 0x7F]),
    ];

    #[test]
    fn varint_vectors() {
        for &(v, enc) in VECTORS {
            assert_eq!(decode_varint(enc), Ok((v, enc.len())), "{v:#x}");
            let (b, n) = encode_varint(v);
            assert_eq!(&b[..n], enc, "{v:#x}");
            // Truncated encodings need more.
            if enc.len() > 1 {
                assert_eq!(
                    decode_varint(&enc[..enc.len() - 1]),
                    Err(VarintError::NeedMore)
                );
            }
        }
        assert_eq!(decode_varint(&[]), Err(VarintError::NeedMore));
        for b in 0xF8..=0xFF {
            assert_eq!(decode_varint(&[b, 0, 0, 0, 0]), Err(VarintError::Invalid));
        }
        // 5-byte form above u32::MAX.
        assert_eq!(
            decode_varint(&[0xF0, 0xEF, 0xDF, 0xBF, 0x80]),
            Err(VarintError::Invalid)
        );
        assert_eq!(
            decode_varint(&[0xF7, 0xFF, 0xFF, 0xFF, 0xFF]),
            Err(VarintError::Invalid)
        );
    }

    #[test]
    fn record_lengths() {
        assert_eq!(record_len(&[0xFA]), Ok(11));
        assert_eq!(record_len(&[0x20, 0x06]), Ok(22));
        assert_eq!(record_len(&[0x20]), Err(RecordLenError::NeedMore));
        assert!(matches!(
            record_len(&[0x01]),
            Err(RecordLenError::Corrupt(_))
        ));
        assert!(matches!(
            record_len(&[0x20, 0xFF]),
            Err(RecordLenError::Corrupt(_))
        ));
        // Varint of 3 bytes claiming 0 + 15 following bytes: fine (15 ≥ 3).
        assert_eq!(record_len(&[0x20, 0xC0, 0, 0]), Ok(1 + 0x4080 + 15));
    }

    /// Builds an mtr from record bytes for a plain or encrypted log.
    fn mtr(records: &[u8], seq: u8, nonce: Option<[u8; 8]>) -> Vec<u8> {
        let mut v = records.to_vec();
        v.push(seq);
        let mut crc = crc32c::crc32c(records);
        if let Some(n) = nonce {
            v.extend_from_slice(&n);
            crc = crc32c::crc32c_append(crc, &n);
        }
        v.extend_from_slice(&crc.to_be_bytes());
        v
    }

    #[test]
    fn real_mtr_examples() {
        // FILE_CHECKPOINT for LSN 0x3000.
        let a = [0xFA, 0, 0, 0, 0, 0, 0, 0, 0, 0x30, 0];
        assert_eq!(mtr(&a, 1, None)[12..], [0x1F, 0xEC, 0x1A, 0x80]);
        // WRITE (0,7) offset 0x35 data 0x0B.
        let b = [0x34, 0x00, 0x07, 0x35, 0x0B];
        assert_eq!(crc32c::crc32c(&b), 0xC1A2_387B);
        let rec = Record::parse(&b).unwrap();
        assert_eq!(rec.page_id(), Some((0, 7)));
        // EXTENDED with nibble 0 and varint 6 → 21 bytes after the first.
        let mut c = vec![0x20, 0x06, 0x01, 0x43, 0x03, 0x0B];
        c.resize(22, 0x55);
        let rec = Record::parse(&c).unwrap();
        assert_eq!(rec.as_bytes().len(), 22);
        assert_eq!(rec.type_bits(), 0x20);
        assert_eq!(rec.page_id(), Some((1, 0x43)));
        assert_eq!(rec.body()[2], 3, "subtype UNDO_APPEND");
        // WRITE to (0,9) then a same-page EXTENDED record.
        let mut d = vec![0x34, 0x00, 0x09, 0x3F, 0x01, 0xA0, 0x0C, 0x04];
        d.resize(8 + 26, 0x77);
        let recs: Vec<_> = Records::new(&d).collect();
        assert_eq!(recs.len(), 2);
        assert!(recs[1].same_page());
        assert_eq!(recs[1].type_bits(), 0x20);
        assert_eq!(recs[1].as_bytes().len(), 1 + 0x0C + 15);
    }

    #[test]
    fn scan_sequence_of_mtrs_and_stops() {
        let g = LogGeometry::new(Lsn::new(0x3000), 1 << 16, false).unwrap();
        let mut area = mtr(&[0xFA, 0, 0, 0, 0, 0, 0, 0, 0, 0x30, 0], 1, None);
        area.extend(mtr(&[0x34, 0x00, 0x07, 0x35, 0x0B], 1, None));
        area.extend(mtr(&[0x12, 0x00, 0x05], 1, None));
        let good = area.len() as u64;
        area.extend(mtr(&[0x12, 0x00, 0x06], 0, None)); // stale sequence bit
        let mut r = MtrReader::new(&area[..], g, Lsn::new(0x3000)).unwrap();
        let mut ends = vec![];
        while let Some(m) = r.next_mtr().unwrap() {
            ends.push(m.end_lsn().get());
        }
        assert_eq!(ends, vec![0x3010, 0x301A, 0x3022]);
        assert_eq!(r.lsn().get(), 0x3000 + good);
        assert_eq!(
            r.stop(),
            Some(ScanStop::SequenceBit {
                found: 0,
                expected: 1
            })
        );
        // Bad CRC.
        let mut bad = area.clone();
        bad[0x10 + 3] ^= 1;
        let mut r = MtrReader::new(&bad[..], g, Lsn::new(0x3000)).unwrap();
        assert!(r.next_mtr().unwrap().is_some());
        assert!(r.next_mtr().unwrap().is_none());
        assert!(matches!(r.stop(), Some(ScanStop::Checksum { .. })));
        assert_eq!(r.lsn().get(), 0x3010);
        // Truncated area: stops as unreadable, then a retry with more data continues.
        let cut = &area[..0x10 + 5];
        let mut r = MtrReader::new(cut, g, Lsn::new(0x3000)).unwrap();
        assert!(r.next_mtr().unwrap().is_some());
        assert!(r.next_mtr().unwrap().is_none());
        assert_eq!(r.stop(), Some(ScanStop::Unreadable));
    }

    #[test]
    fn retry_after_stop_rereads() {
        struct Growing(Vec<u8>);
        impl RecordArea for Growing {
            fn read_area(&mut self, pos: u64, buf: &mut [u8]) -> io::Result<usize> {
                (&self.0[..]).read_area(pos, buf)
            }
        }
        let g = LogGeometry::new(Lsn::new(0x3000), 1 << 16, false).unwrap();
        let mut area = Growing(mtr(&[0x34, 0x00, 0x07, 0x35, 0x0B], 1, None));
        let mut r = MtrReader::new(&mut area, g, Lsn::new(0x3000)).unwrap();
        assert!(r.next_mtr().unwrap().is_some());
        assert!(r.next_mtr().unwrap().is_none());
        drop(r);
        area.0.extend(mtr(&[0x12, 0x00, 0x05], 1, None));
        let mut r = MtrReader::new(&mut area, g, Lsn::new(0x3000)).unwrap();
        assert_eq!(r.next_mtr().unwrap().unwrap().end_lsn().get(), 0x300A);
        assert_eq!(r.next_mtr().unwrap().unwrap().end_lsn().get(), 0x3012);
        assert!(r.next_mtr().unwrap().is_none());
    }

    #[test]
    fn wrap_around() {
        // Capacity 40; first_lsn 0x3000; start the scan on the second lap at area position 30,
        // with an mtr of 19 bytes that wraps to position 9.
        let cap = 40u64;
        let g = LogGeometry::new(Lsn::new(0x3000), cap, false).unwrap();
        let start = 0x3000 + cap + 30;
        let mut rec = vec![0x2F]; // EXTENDED-typed, 15 bytes follow
        rec.extend(std::iter::repeat_n(0x44, 15));
        // Starts on lap 1 (odd), but its end byte is at LSN start + 16, area position 6 of
        // lap 2 (even): sequence bit 1.
        let m = mtr(&rec, 1, None);
        assert_eq!(m.len(), 21);
        let mut area = vec![0u8; cap as usize];
        for (i, &b) in m.iter().enumerate() {
            area[(30 + i) % cap as usize] = b;
        }
        // After it (area position 11), stale data from lap 1 with sequence bit 0.
        let stale = mtr(&[0x12, 0x00, 0x05], 0, None);
        area[11..11 + stale.len()].copy_from_slice(&stale);
        let mut r = MtrReader::new(&area[..], g, Lsn::new(start)).unwrap();
        let got = r.next_mtr().unwrap().unwrap();
        assert_eq!(got.record_bytes(), &rec[..]);
        assert_eq!(got.end_lsn().get(), start + 21);
        assert!(r.next_mtr().unwrap().is_none());
        assert_eq!(
            r.stop(),
            Some(ScanStop::SequenceBit {
                found: 0,
                expected: 1
            })
        );
        // The same mtr written with the start's sequence bit is rejected.
        let mut wrong = area.clone();
        wrong[6] = 0;
        let mut r = MtrReader::new(&wrong[..], g, Lsn::new(start)).unwrap();
        assert!(r.next_mtr().unwrap().is_none());
        // Too long for the area.
        let mut big = vec![0x20, 0x10]; // 0x10 + 15 = 31 following
        big.resize(32, 0x33);
        let m = mtr(&big, 1, None);
        let mut r = MtrReader::new(
            &m[..],
            LogGeometry::new(Lsn::new(0x3000), 32, false).unwrap(),
            Lsn::new(0x3000),
        )
        .unwrap();
        assert!(r.next_mtr().unwrap().is_none());
        assert_eq!(r.stop(), Some(ScanStop::TooLong));
    }

    #[test]
    fn encrypted_nonce_and_padding() {
        let g = LogGeometry::new(Lsn::new(0x3000), 1 << 12, true).unwrap();
        let nonce = 0x0000_0000_0026_2652u64.to_be_bytes();
        let mut area = mtr(&[0x34, 0x9A, 0xBC, 0xDE, 0xF0], 1, Some(nonce));
        area.extend(mtr(&[0xF3, 0, 0, 0], 1, Some(nonce)));
        let mut r = MtrReader::new(&area[..], g, Lsn::new(0x3000)).unwrap();
        let m = r.next_mtr().unwrap().unwrap();
        assert_eq!(m.len(), 5 + 1 + 8 + 4);
        assert_eq!(m.nonce(), Some(nonce));
        assert!(!m.is_padding());
        let p = r.next_mtr().unwrap().unwrap();
        assert!(p.is_padding());
        assert!(r.next_mtr().unwrap().is_none());
        // Same bytes read as a plain log: the CRC position differs, so it fails.
        let plain = LogGeometry::new(Lsn::new(0x3000), 1 << 12, false).unwrap();
        let mut r = MtrReader::new(&area[..], plain, Lsn::new(0x3000)).unwrap();
        assert!(r.next_mtr().unwrap().is_none());
        // A nonce byte flipped: CRC fails.
        let mut bad = area.clone();
        bad[7] ^= 0x10;
        let mut r = MtrReader::new(&bad[..], g, Lsn::new(0x3000)).unwrap();
        assert!(r.next_mtr().unwrap().is_none());
        assert!(matches!(r.stop(), Some(ScanStop::Checksum { .. })));
    }

    #[test]
    fn limit_and_start_checks() {
        let g = LogGeometry::new(Lsn::new(0x3000), 1 << 12, false).unwrap();
        assert!(MtrReader::new(&[][..], g, Lsn::new(0x2FFF)).is_err());
        let area = mtr(&[0x34, 0x00, 0x07, 0x35, 0x0B], 1, None);
        let mut r = MtrReader::new(&area[..], g, Lsn::new(0x3000)).unwrap();
        r.set_limit(Some(Lsn::new(0x3009)));
        assert!(r.next_mtr().unwrap().is_none());
        assert_eq!(r.stop(), Some(ScanStop::Limit));
        assert!(LogGeometry::new(Lsn::new(0x3000), 0, false).is_err());
        assert!(LogGeometry::from_file_size(Lsn::new(0x3000), 0x3000, false).is_err());
    }

    #[test]
    fn scan_to_end_consistency() {
        let g = LogGeometry::new(Lsn::new(0x3000), 1 << 12, false).unwrap();
        let ck = 0x3000u64;
        let mut area = mtr(&[0xB5, 0x05, 0x00, b'a', b'.', b'i'], 1, None); // FILE_MODIFY-ish
        let end_lsn = 0x3000 + area.len() as u64;
        let mut body = vec![0xFA, 0, 0];
        body.extend_from_slice(&ck.to_be_bytes());
        area.extend(mtr(&body, 1, None));
        area.extend(mtr(&[0x34, 0x00, 0x07, 0x35, 0x0B], 1, None));
        let logged = area.len() as u64;
        area.resize(64, 0);
        let s = scan_to_end(&area[..], g, Lsn::new(ck), Some(Lsn::new(end_lsn)), true).unwrap();
        assert_eq!(s.end_lsn, Some(Lsn::new(0x3000 + logged)));
        assert_eq!(s.mtrs, 3);
        assert_eq!(s.stop, ScanStop::EndMarker);
        // Wrong end LSN: no mtr starts there.
        let s = scan_to_end(
            &area[..],
            g,
            Lsn::new(ck),
            Some(Lsn::new(end_lsn + 1)),
            true,
        )
        .unwrap();
        assert_eq!(s.end_lsn, None);
        assert!(s.inconsistency.is_some());
        // FILE_CHECKPOINT naming another LSN.
        let s = scan_to_end(&area[..], g, Lsn::new(ck), Some(Lsn::new(0x3000)), true).unwrap();
        assert_eq!(s.end_lsn, None);
        // Without the anchor requirement the end is the scan position.
        let s = scan_to_end(&area[..], g, Lsn::new(ck), None, true).unwrap();
        assert_eq!(s.end_lsn, Some(Lsn::new(0x3000 + logged)));
    }
}
