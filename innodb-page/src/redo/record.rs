//! The records of a MariaDB 10.8+ mini-transaction, decoded to what they name: the page each
//! page record changes, `(space_id, page_no)`, or the file operation of a file-level record.
//!
//! A record's first byte `b` holds the same_page flag (`0x80`), the type (`b & 0x70`) and a
//! length nibble (see [`mtr::record_len`](super::mtr::record_len)). Within one mtr:
//!
//! * a record with same_page = 0 names its page: its body starts with the space id and the page
//!   number, two [varints](super::mtr::decode_varint);
//! * a record with same_page = 1 after a page record is about that same page (no ids);
//! * a record with same_page = 1 before any page record is a **file-level** record, typed by its
//!   high nibble: FILE_CREATE `0x80`, FILE_DELETE `0x90`, FILE_RENAME `0xA0`, FILE_MODIFY `0xB0`,
//!   FILE_CHECKPOINT `0xF0` ([`FileOp`]). It names a tablespace, never a page.
//!
//! [`LogRecords`] iterates the records of an [`Mtr`] (or of any record bytes) and yields one
//! [`LogRecord`] per record, or one [`RecordError`] at the first malformed record, after which
//! it stops. It never panics.
//!
//! The ids are only meaningful in logs whose ids are in clear: plain logs and "old style"
//! encrypted ones ([`Encryption::MariaDb108`](super::Encryption::MariaDb108)). In
//! `FORMAT_ENC_11` logs everything after the first byte and the length is encrypted, so the
//! decoded ids would be garbage: check [`RedoLog::encryption`](super::RedoLog::encryption) first,
//! and decrypt them with a [`LogCipher`](super::crypt::LogCipher) (e.g.
//! [`RedoLog::mtr_reader_decrypting`](super::RedoLog::mtr_reader_decrypting)).
//!
//! ```
//! use innodb_page::redo::record::{LogRecords, PageId, PageOp, RecordKind};
//! // WRITE to page (0, 9), then a same_page EXTENDED record (UNDO_APPEND) on the same page.
//! let bytes = [0x34, 0x00, 0x09, 0x3F, 0x01, 0xA2, 0x03, 0x00];
//! let recs: Vec<_> = LogRecords::new(&bytes).collect::<Result<_, _>>().unwrap();
//! assert_eq!(recs.len(), 2);
//! assert_eq!(recs[0].page_id(), Some(PageId::new(0, 9)));
//! assert_eq!(recs[1].page_id(), Some(PageId::new(0, 9)));
//! assert!(matches!(recs[1].kind(), RecordKind::Page { op: PageOp::Extended(3), same_page: true, .. }));
//! ```

use std::fmt;

use super::mtr::{decode_varint, record_len, Mtr, Record, RecordLenError, FILE_CHECKPOINT};

/// A page: tablespace id and page number.
///
/// ```
/// use innodb_page::redo::record::PageId;
/// let p = PageId::new(5, 3);
/// assert_eq!((p.space_id, p.page_no), (5, 3));
/// assert_eq!(p.to_string(), "(5, 3)");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PageId {
    /// The tablespace id.
    pub space_id: u32,
    /// The page number in the tablespace.
    pub page_no: u32,
}

impl PageId {
    /// A page id.
    pub fn new(space_id: u32, page_no: u32) -> PageId {
        PageId { space_id, page_no }
    }
}

impl fmt::Display for PageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({}, {})", self.space_id, self.page_no)
    }
}

/// EXTENDED subtype TRIM_PAGES: an undo tablespace truncated; the record's page number is the
/// new size in pages.
pub const TRIM_PAGES: u8 = 10;

/// What a page record does (`b & 0x70`).
///
/// ```
/// use innodb_page::redo::record::PageOp;
/// assert!(PageOp::Write.modifies_page());
/// assert!(!PageOp::Option.modifies_page());
/// assert!(PageOp::Extended(10).is_trim_pages());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PageOp {
    /// `0x00` FREE_PAGE: the page is freed.
    FreePage,
    /// `0x10` INIT_PAGE: the page is zero-initialised.
    InitPage,
    /// `0x20` EXTENDED, with its subtype byte (0 INIT_ROW_FORMAT_REDUNDANT … 9
    /// DELETE_ROW_FORMAT_DYNAMIC, 10 [TRIM_PAGES]).
    Extended(u8),
    /// `0x30` WRITE.
    Write,
    /// `0x40` MEMSET.
    Memset,
    /// `0x50` MEMMOVE.
    Memmove,
    /// `0x60` RESERVED: names a page but does not change it.
    Reserved,
    /// `0x70` OPTION: names a page but does not change it.
    Option,
}

impl PageOp {
    /// Whether the record changes the page (or frees it): every type but RESERVED and OPTION.
    pub fn modifies_page(self) -> bool {
        !matches!(self, PageOp::Reserved | PageOp::Option)
    }

    /// EXTENDED TRIM_PAGES: not a change of the named page but the truncation of the tablespace
    /// to `page_no` pages.
    pub fn is_trim_pages(self) -> bool {
        self == PageOp::Extended(TRIM_PAGES)
    }

    fn from_type_bits(t: u8) -> PageOp {
        match t & 0x70 {
            0x00 => PageOp::FreePage,
            0x10 => PageOp::InitPage,
            0x20 => PageOp::Extended(0),
            0x30 => PageOp::Write,
            0x40 => PageOp::Memset,
            0x50 => PageOp::Memmove,
            0x60 => PageOp::Reserved,
            _ => PageOp::Option,
        }
    }
}

/// What a file-level record does (its high nibble).
///
/// ```
/// use innodb_page::redo::record::FileOp;
/// assert_eq!(FileOp::from_nibble(0xB0), Some(FileOp::Modify));
/// assert_eq!(FileOp::from_nibble(0xC0), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FileOp {
    /// `0x80` FILE_CREATE (body: ids, then the file name).
    Create,
    /// `0x90` FILE_DELETE (body: ids, then the file name).
    Delete,
    /// `0xA0` FILE_RENAME (body: ids, then "old NUL new").
    Rename,
    /// `0xB0` FILE_MODIFY (body: ids, then the file name): the tablespace was modified since the
    /// checkpoint.
    Modify,
    /// `0xF0` FILE_CHECKPOINT (body: ids, then the 8-byte checkpoint LSN); with an all-zero body,
    /// padding.
    Checkpoint,
}

impl FileOp {
    /// The operation of a high nibble (`b & 0xF0`), `None` for the nibbles no server writes.
    pub fn from_nibble(b: u8) -> Option<FileOp> {
        Some(match b & 0xF0 {
            0x80 => FileOp::Create,
            0x90 => FileOp::Delete,
            0xA0 => FileOp::Rename,
            0xB0 => FileOp::Modify,
            FILE_CHECKPOINT => FileOp::Checkpoint,
            _ => return None,
        })
    }
}

/// What one record names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RecordKind {
    /// A page record.
    Page {
        /// The page it is about.
        page: PageId,
        /// What it does.
        op: PageOp,
        /// The ids were inherited from the previous record (same_page = 1).
        same_page: bool,
    },
    /// A file-level record (names a tablespace, no page).
    File {
        /// What it does.
        op: FileOp,
        /// The tablespace id (0 for padding).
        space_id: u32,
        /// An all-zero FILE_CHECKPOINT record: padding, carries nothing.
        padding: bool,
    },
}

/// One decoded record: its [`RecordKind`] and its raw [`Record`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogRecord<'a> {
    kind: RecordKind,
    raw: Record<'a>,
    offset: usize,
}

impl<'a> LogRecord<'a> {
    /// What the record names.
    pub fn kind(&self) -> RecordKind {
        self.kind
    }

    /// The raw record (first byte, body).
    pub fn raw(&self) -> Record<'a> {
        self.raw
    }

    /// Byte offset of the record in the mtr's record bytes (add the mtr's start LSN for the
    /// record's LSN).
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The page of a page record; `None` for a file-level record.
    pub fn page_id(&self) -> Option<PageId> {
        match self.kind {
            RecordKind::Page { page, .. } => Some(page),
            RecordKind::File { .. } => None,
        }
    }

    /// The page a record changes: the page of a page record whose [`PageOp::modifies_page`] is
    /// true; `None` otherwise.
    ///
    /// ```
    /// use innodb_page::redo::record::{LogRecords, PageId};
    /// let r = LogRecords::new(&[0x34, 0x00, 0x07, 0x35, 0x0B]).next().unwrap().unwrap();
    /// assert_eq!(r.changed_page(), Some(PageId::new(0, 7)));
    /// ```
    pub fn changed_page(&self) -> Option<PageId> {
        match self.kind {
            RecordKind::Page { page, op, .. } if op.modifies_page() => Some(page),
            _ => None,
        }
    }
}

/// A record that cannot be decoded.
///
/// ```
/// use innodb_page::redo::record::LogRecords;
/// // A same_page record before any page record whose nibble is no file-level type.
/// let e = LogRecords::new(&[0xC1, 0x00]).next().unwrap().unwrap_err();
/// assert_eq!(e.offset, 0);
/// assert!(e.to_string().contains("offset 0"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordError {
    /// Byte offset of the record in the record bytes.
    pub offset: usize,
    /// What is wrong.
    pub why: &'static str,
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "malformed redo record at offset {}: {}",
            self.offset, self.why
        )
    }
}

impl std::error::Error for RecordError {}

/// Iterator over the decoded records of one mini-transaction. Yields `Err` once at the first
/// malformed record, then ends.
///
/// ```
/// use innodb_page::redo::record::{FileOp, LogRecords, RecordKind};
/// // The FILE_CHECKPOINT mtr of a freshly created log (records only).
/// let bytes = [0xFA, 0, 0, 0, 0, 0, 0, 0, 0, 0x30, 0];
/// let r = LogRecords::new(&bytes).next().unwrap().unwrap();
/// assert!(matches!(r.kind(), RecordKind::File { op: FileOp::Checkpoint, space_id: 0, .. }));
/// assert_eq!(r.page_id(), None);
/// ```
#[derive(Debug, Clone)]
pub struct LogRecords<'a> {
    bytes: &'a [u8],
    pos: usize,
    page: Option<PageId>,
    done: bool,
}

impl<'a> LogRecords<'a> {
    /// Iterates the records in `records` (the record bytes of one mtr, without its end byte,
    /// nonce and CRC).
    pub fn new(records: &'a [u8]) -> LogRecords<'a> {
        LogRecords {
            bytes: records,
            pos: 0,
            page: None,
            done: false,
        }
    }

    /// Iterates the records of `mtr` (decrypted when its reader has a cipher, see
    /// [`Mtr::readable_records`]).
    ///
    /// ```
    /// use innodb_page::redo::mtr::{LogGeometry, MtrReader};
    /// use innodb_page::redo::record::{LogRecords, PageId};
    /// use innodb_page::Lsn;
    /// let area: &[u8] = &[0x34, 0x00, 0x07, 0x35, 0x0B, 0x01, 0xC1, 0xA2, 0x38, 0x7B, 0x00];
    /// let geom = LogGeometry::new(Lsn::new(0x3000), 4096, false).unwrap();
    /// let mut r = MtrReader::new(area, geom, Lsn::new(0x3000)).unwrap();
    /// let m = r.next_mtr().unwrap().unwrap();
    /// let pages: Vec<PageId> =
    ///     LogRecords::of(&m).filter_map(|r| r.ok()?.changed_page()).collect();
    /// assert_eq!(pages, [PageId::new(0, 7)]);
    /// ```
    pub fn of(mtr: &Mtr<'a>) -> LogRecords<'a> {
        LogRecords::new(mtr.readable_records())
    }

    fn fail(&mut self, why: &'static str) -> Option<Result<LogRecord<'a>, RecordError>> {
        self.done = true;
        Some(Err(RecordError {
            offset: self.pos,
            why,
        }))
    }
}

/// Reads two varints (space id, page number) at the start of `body`; returns them and the
/// bytes used.
fn ids(body: &[u8]) -> Option<(u32, u32, usize)> {
    let (space, n1) = decode_varint(body).ok()?;
    let (page, n2) = decode_varint(body.get(n1..)?).ok()?;
    Some((space, page, n1 + n2))
}

impl<'a> Iterator for LogRecords<'a> {
    type Item = Result<LogRecord<'a>, RecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let rest = self.bytes.get(self.pos..).unwrap_or(&[]);
        if rest.is_empty() {
            self.done = true;
            return None;
        }
        let len = match record_len(rest) {
            Ok(n) if n <= rest.len() => n,
            Ok(_) | Err(RecordLenError::NeedMore) => {
                return self.fail("record runs past the end of the mini-transaction")
            }
            Err(RecordLenError::Corrupt(why)) => return self.fail(why),
        };
        let Some(raw) = Record::parse(&rest[..len]) else {
            return self.fail("record header does not parse");
        };
        let b = raw.first_byte();
        let body = raw.body();
        let kind = if raw.same_page() && self.page.is_none() {
            let Some(op) = FileOp::from_nibble(b) else {
                return self.fail("same_page record before any page record is no file-level type");
            };
            if op == FileOp::Checkpoint && body.iter().all(|&x| x == 0) {
                RecordKind::File {
                    op,
                    space_id: 0,
                    padding: true,
                }
            } else {
                let Some((space_id, _, _)) = ids(body) else {
                    return self.fail("file-level record too short for its ids");
                };
                RecordKind::File {
                    op,
                    space_id,
                    padding: false,
                }
            }
        } else {
            let mut op = PageOp::from_type_bits(b);
            let (page, used) = if raw.same_page() {
                if matches!(op, PageOp::FreePage | PageOp::InitPage) {
                    return self.fail("FREE_PAGE or INIT_PAGE with the same_page flag");
                }
                // Checked: a page record precedes.
                let Some(p) = self.page else {
                    return self.fail("same_page record before any page record");
                };
                (p, 0)
            } else {
                let Some((s, p, used)) = ids(body) else {
                    return self.fail("page record too short for its ids");
                };
                (PageId::new(s, p), used)
            };
            if op == PageOp::Extended(0) {
                let Some(&sub) = body.get(used) else {
                    return self.fail("EXTENDED record without its subtype byte");
                };
                op = PageOp::Extended(sub);
            }
            self.page = Some(page);
            RecordKind::Page {
                page,
                op,
                same_page: raw.same_page(),
            }
        };
        let offset = self.pos;
        self.pos += len;
        Some(Ok(LogRecord { kind, raw, offset }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redo::mtr::{encode_varint, LogGeometry, MtrReader};
    use crate::Lsn;

    fn all(bytes: &[u8]) -> Vec<Result<RecordKind, RecordError>> {
        LogRecords::new(bytes)
            .map(|r| r.map(|r| r.kind()))
            .collect()
    }

    #[test]
    fn spec_examples() {
        // FILE_CHECKPOINT, space 0, page 0, LSN 0x3000.
        assert_eq!(
            all(&[0xFA, 0, 0, 0, 0, 0, 0, 0, 0, 0x30, 0]),
            [Ok(RecordKind::File {
                op: FileOp::Checkpoint,
                space_id: 0,
                padding: false
            })]
        );
        // WRITE (0, 7).
        assert_eq!(
            all(&[0x34, 0x00, 0x07, 0x35, 0x0B]),
            [Ok(RecordKind::Page {
                page: PageId::new(0, 7),
                op: PageOp::Write,
                same_page: false
            })]
        );
        // EXTENDED, nibble 0, varint 6 → 21 bytes follow: space 1, page 67, UNDO_APPEND.
        let mut ext = vec![0x20, 0x06, 0x01, 0x43, 0x03];
        ext.resize(22, 0x0B);
        assert_eq!(
            all(&ext),
            [Ok(RecordKind::Page {
                page: PageId::new(1, 67),
                op: PageOp::Extended(3),
                same_page: false
            })]
        );
        // WRITE (0, 9) then a same_page EXTENDED (nibble 0, varint 0: 15 bytes follow).
        let mut two = vec![0x34, 0x00, 0x09, 0x3F, 0x01, 0xA0, 0x00, 0x02];
        two.resize(5 + 16, 0x55);
        let got = all(&two);
        assert_eq!(got.len(), 2);
        assert_eq!(
            got[1],
            Ok(RecordKind::Page {
                page: PageId::new(0, 9),
                op: PageOp::Extended(2),
                same_page: true
            })
        );
    }

    #[test]
    fn file_records_then_pages() {
        // FILE_MODIFY space 5 "d/t.ibd", then INIT_PAGE (5, 3), FREE_PAGE (0x10204080, 0x80),
        // and a same_page record after FILE_MODIFY is a file record only before page records.
        let mut b = vec![0xB0 | 9, 0x05, 0x00];
        b.extend_from_slice(b"d/t.ibd");
        b.extend_from_slice(&[0x12, 0x05, 0x03]);
        let (s, sn) = encode_varint(0x1020_4080);
        let (p, pn) = encode_varint(0x80);
        b.push((sn + pn) as u8);
        b.extend_from_slice(&s[..sn]);
        b.extend_from_slice(&p[..pn]);
        let got = all(&b);
        assert_eq!(
            got,
            [
                Ok(RecordKind::File {
                    op: FileOp::Modify,
                    space_id: 5,
                    padding: false
                }),
                Ok(RecordKind::Page {
                    page: PageId::new(5, 3),
                    op: PageOp::InitPage,
                    same_page: false
                }),
                Ok(RecordKind::Page {
                    page: PageId::new(0x1020_4080, 0x80),
                    op: PageOp::FreePage,
                    same_page: false
                }),
            ]
        );
        // Padding: 0xF1 with a zero byte.
        assert_eq!(
            all(&[0xF1, 0x00]),
            [Ok(RecordKind::File {
                op: FileOp::Checkpoint,
                space_id: 0,
                padding: true
            })]
        );
        // RESERVED / OPTION name a page but change nothing; TRIM_PAGES is recognised.
        let r = LogRecords::new(&[0x62, 0x01, 0x02])
            .next()
            .unwrap()
            .unwrap();
        assert_eq!(
            (r.page_id(), r.changed_page()),
            (Some(PageId::new(1, 2)), None)
        );
        let r = LogRecords::new(&[0x23, 0x02, 0x40, TRIM_PAGES])
            .next()
            .unwrap()
            .unwrap();
        assert!(matches!(r.kind(), RecordKind::Page { op, .. } if op.is_trim_pages()));
    }

    #[test]
    fn malformed_records_are_errors_and_stop() {
        let cases: &[&[u8]] = &[
            &[0x34, 0x00],                   // runs past the end
            &[0xC2, 0x00, 0x00],             // same_page, no page yet, not a file type
            &[0x31, 0x00],                   // page record without a page number
            &[0x32, 0xF8, 0x00],             // invalid varint
            &[0x22, 0x00, 0x01],             // EXTENDED without subtype
            &[0x32, 0x00, 0x01, 0x91, 0x00], // INIT_PAGE with same_page after a page record
            &[0xB1, 0x80],                   // file record whose ids do not fit
            &[0x30, 0xFF],                   // invalid length varint
        ];
        for c in cases {
            let got = all(c);
            let errs = got.iter().filter(|r| r.is_err()).count();
            assert_eq!(errs, 1, "{c:02x?}: {got:?}");
            assert!(got.last().unwrap().is_err(), "{c:02x?}");
        }
        // Never panics on any short input.
        for a in 0..=255u8 {
            for b in [0u8, 0x01, 0x7F, 0x80, 0xC0, 0xF0, 0xFF] {
                let _ = all(&[a, b]);
                let _ = all(&[a, b, a]);
            }
        }
    }

    #[test]
    fn fixture_log_holds_only_a_file_checkpoint() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/data/mariadb-10.11/backup/full/ib_logfile0"
        );
        let log = crate::redo::open(std::path::Path::new(path)).unwrap();
        let bytes = std::fs::read(path).unwrap();
        let geom = LogGeometry::from_file_size(log.start_lsn, bytes.len() as u64, false).unwrap();
        let area = &bytes[0x3000..];
        let mut r = MtrReader::new(area, geom, log.checkpoint_lsn()).unwrap();
        let mut kinds = Vec::new();
        while let Some(m) = r.next_mtr().unwrap() {
            for rec in LogRecords::of(&m) {
                kinds.push(rec.unwrap().kind());
            }
        }
        assert_eq!(r.lsn(), Lsn::new(2500194));
        assert_eq!(
            kinds,
            [RecordKind::File {
                op: FileOp::Checkpoint,
                space_id: 0,
                padding: false
            }]
        );
    }
}
