//! The `.delta` file: the changed pages of one data file, in clusters.
//!
//! With `P` the physical page size of the tablespace ([`PageSize`]) and `S = P / 4`, a delta is
//! a sequence of clusters. A cluster is one header page followed by up to `S - 1` data pages,
//! `P` bytes each, exactly as on disk. The header page starts with the magic `xtra` (more
//! clusters follow) or `XTRA` (last cluster), then lists the data pages' numbers as big-endian
//! u32; a list shorter than `S - 1` ends with `0xFFFFFFFF`. Every cluster but the last is full, so
//! cluster `k` starts at byte `k * S * P`. A data file with no changed page gets a one-page delta:
//! `XTRA` then the terminator.
//!
//! Side by side, like the `zip` crate:
//!
//! * writing: [`DeltaWriter`] (any [`Write`](std::io::Write), buffers one cluster) and
//!   [`SeekDeltaWriter`] (a `Write + Seek`, keeps only the header page in memory);
//! * streaming reading: [`DeltaReader`] (any [`Read`](std::io::Read)), and [`validate`];
//! * random access: [`DeltaIndex`] (reads the header pages only, of any `Read + Seek`) and
//!   [`DeltaFile`] (an open file: positioned reads of single pages, `&self`), and
//!   [`validate_file`].
//!
//! The reader accepts what the original tools accept ([`Checks::COMPATIBLE`]); [`Checks`] adds
//! stricter checks for a validating pass. Every problem is reported with its byte offset.
//!
//! ```
//! use incremental_core::format::delta::{DeltaReader, DeltaWriter, PageSize};
//! let p = PageSize::new(1024).unwrap();
//! let mut w = DeltaWriter::new(Vec::new(), p);
//! w.push(0, &[1u8; 1024]).unwrap();
//! w.push(7, &[2u8; 1024]).unwrap();
//! let (bytes, stats) = w.finish().unwrap();
//! assert_eq!((stats.pages, bytes.len()), (2, 3 * 1024));
//! assert_eq!(&bytes[..16], b"XTRA\0\0\0\0\0\0\0\x07\xff\xff\xff\xff");
//!
//! let mut r = DeltaReader::new(&bytes[..], p);
//! let mut seen = Vec::new();
//! while let Some(page) = r.next_page().unwrap() {
//!     seen.push((page.page_no, page.data[0]));
//! }
//! assert_eq!(seen, [(0, 1), (7, 2)]);
//! ```

mod index;
mod reader;
mod writer;

use std::fmt;

pub use crate::format::error::{DeltaError, DeltaWriteError, InvalidPageSize};
pub use index::{validate_file, DeltaFile, DeltaIndex};
pub use reader::{validate, DeltaPage, DeltaReader};
pub use writer::{DeltaWriter, SeekDeltaWriter};

/// Magic of a cluster that is followed by more clusters (`"xtra"`).
///
/// ```
/// assert_eq!(u32::from_be_bytes(incremental_core::format::delta::MAGIC_MORE), 0x78747261);
/// ```
pub const MAGIC_MORE: [u8; 4] = *b"xtra";
/// Magic of the last cluster (`"XTRA"`).
///
/// ```
/// assert_eq!(u32::from_be_bytes(incremental_core::format::delta::MAGIC_LAST), 0x58545241);
/// ```
pub const MAGIC_LAST: [u8; 4] = *b"XTRA";
/// The slot value that ends a header's page list when the cluster is not full. It can therefore
/// not be a page number.
///
/// ```
/// assert_eq!(incremental_core::format::delta::TERMINATOR, u32::MAX);
/// ```
pub const TERMINATOR: u32 = 0xFFFF_FFFF;

/// The physical page size of a delta: a power of two from 1024 to 65536 bytes.
///
/// It is the compressed page size for `ROW_FORMAT=COMPRESSED` tablespaces, otherwise the
/// `innodb_page_size` (see [`Meta::physical_page_size`](crate::format::meta::Meta::physical_page_size)).
/// It fixes the cluster geometry:
///
/// ```
/// use incremental_core::format::delta::PageSize;
/// let p = PageSize::new(16384).unwrap();
/// assert_eq!(p.get(), 16384);
/// assert_eq!(p.slots(), 4096);
/// assert_eq!(p.pages_per_cluster(), 4095);
/// assert_eq!(p.cluster_len(), 64 << 20);
/// assert!(PageSize::new(512).is_err() && PageSize::new(12288).is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PageSize(u32);

impl PageSize {
    /// 1 KiB, the smallest (compressed) page.
    pub const MIN: PageSize = PageSize(1024);
    /// 16 KiB, the default `innodb_page_size`.
    pub const DEFAULT: PageSize = PageSize(16384);
    /// 64 KiB, the largest page.
    pub const MAX: PageSize = PageSize(65536);

    /// Checks that `size` is a power of two from 1024 to 65536.
    ///
    /// ```
    /// use incremental_core::format::delta::PageSize;
    /// assert_eq!(PageSize::new(8192).unwrap().get(), 8192);
    /// assert_eq!(PageSize::new(0).unwrap_err().size, 0);
    /// ```
    pub fn new(size: usize) -> Result<PageSize, InvalidPageSize> {
        if size.is_power_of_two() && (1024..=65536).contains(&size) {
            Ok(PageSize(size as u32))
        } else {
            Err(InvalidPageSize { size: size as u64 })
        }
    }

    /// The size in bytes.
    ///
    /// ```
    /// assert_eq!(incremental_core::format::delta::PageSize::MIN.get(), 1024);
    /// ```
    pub const fn get(self) -> usize {
        self.0 as usize
    }

    /// The size in bytes, as a `u64` (for file offsets).
    ///
    /// ```
    /// assert_eq!(incremental_core::format::delta::PageSize::MAX.get_u64(), 65536);
    /// ```
    pub const fn get_u64(self) -> u64 {
        self.0 as u64
    }

    /// `S = P / 4`: the number of u32 slots of a header page, and the number of pages (header
    /// included) of a full cluster.
    ///
    /// ```
    /// assert_eq!(incremental_core::format::delta::PageSize::MIN.slots(), 256);
    /// ```
    pub const fn slots(self) -> usize {
        self.get() / 4
    }

    /// `S - 1`: the most data pages one cluster holds.
    ///
    /// ```
    /// assert_eq!(incremental_core::format::delta::PageSize::MAX.pages_per_cluster(), 16383);
    /// ```
    pub const fn pages_per_cluster(self) -> usize {
        self.slots() - 1
    }

    /// `S * P`: the length in bytes of a full cluster.
    ///
    /// ```
    /// assert_eq!(incremental_core::format::delta::PageSize::MIN.cluster_len(), 256 * 1024);
    /// ```
    pub const fn cluster_len(self) -> u64 {
        self.slots() as u64 * self.get_u64()
    }

    /// The length of a delta holding `pages` data pages (the trailing-garbage-free length every
    /// writer produces).
    ///
    /// ```
    /// use incremental_core::format::delta::PageSize;
    /// let p = PageSize::MIN; // 255 data pages per cluster
    /// assert_eq!(p.delta_len(0), 1024);
    /// assert_eq!(p.delta_len(1), 2048);
    /// assert_eq!(p.delta_len(255), 256 * 1024);
    /// assert_eq!(p.delta_len(392), 256 * 1024 + 138 * 1024);
    /// ```
    pub const fn delta_len(self, pages: u64) -> u64 {
        let per = self.pages_per_cluster() as u64;
        let (full, rest) = (pages / per, pages % per);
        // Saturates instead of overflowing (no delta is that long).
        let clusters = full.saturating_mul(self.cluster_len());
        if pages == 0 {
            self.get_u64()
        } else if rest == 0 {
            clusters
        } else {
            clusters.saturating_add((rest + 1) * self.get_u64())
        }
    }

    /// The byte offset, within a delta, of the `index`-th data page (0-based, over the whole
    /// delta). This is pure arithmetic: every cluster but the last is full.
    ///
    /// ```
    /// use incremental_core::format::delta::PageSize;
    /// let p = PageSize::MIN;
    /// assert_eq!(p.data_page_offset(0), 1024);
    /// assert_eq!(p.data_page_offset(254), 255 * 1024);
    /// assert_eq!(p.data_page_offset(255), 257 * 1024); // after the second header page
    /// ```
    pub const fn data_page_offset(self, index: u64) -> u64 {
        let per = self.pages_per_cluster() as u64;
        // Saturates instead of overflowing (no delta is that long).
        (index / per)
            .saturating_mul(self.cluster_len())
            .saturating_add((index % per + 1) * self.get_u64())
    }
}

impl fmt::Display for PageSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl TryFrom<u32> for PageSize {
    type Error = InvalidPageSize;
    fn try_from(v: u32) -> Result<PageSize, InvalidPageSize> {
        PageSize::new(v as usize)
    }
}

impl From<PageSize> for usize {
    fn from(p: PageSize) -> usize {
        p.get()
    }
}

/// Which checks a reader makes beyond what the original tools check.
///
/// The originals (and [`Checks::COMPATIBLE`]) check the magic of every header, that every
/// non-final cluster is full, and that every listed page is whole. The stricter checks catch
/// files no known writer produces, and most deltas read with the wrong page size.
///
/// ```
/// use incremental_core::format::delta::{validate, Checks, PageSize};
/// let mut bytes = vec![0u8; 1024];
/// bytes[..8].copy_from_slice(b"XTRA\xff\xff\xff\xff");
/// bytes.extend_from_slice(b"junk");
/// let p = PageSize::MIN;
/// assert_eq!(validate(&bytes[..], p, Checks::COMPATIBLE).unwrap().trailing_bytes, 4);
/// assert!(validate(&bytes[..], p, Checks::STRICT).is_err());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Checks {
    /// Reject bytes after the last cluster. The originals never look at them.
    pub no_trailing_bytes: bool,
    /// Require strictly ascending page numbers over the whole delta (every known writer reads
    /// the source file in order). Also rejects duplicates.
    pub ascending_page_numbers: bool,
    /// Require every header byte after the terminator to be zero (writers zero-fill).
    pub zero_header_tail: bool,
    /// Require each data page that is not all zero to carry the listed page number in its own
    /// FIL header (`FIL_PAGE_OFFSET`, bytes 4..8). Must be off for the second and later files of
    /// a multi-file system tablespace, whose headers list file-relative page numbers.
    pub page_numbers_match: bool,
}

impl Checks {
    /// What the original tools check, nothing more.
    ///
    /// ```
    /// use incremental_core::format::delta::Checks;
    /// assert_eq!(Checks::COMPATIBLE, Checks::default());
    /// ```
    pub const COMPATIBLE: Checks = Checks {
        no_trailing_bytes: false,
        ascending_page_numbers: false,
        zero_header_tail: false,
        page_numbers_match: false,
    };
    /// Every check.
    ///
    /// ```
    /// use incremental_core::format::delta::Checks;
    /// // For the second file of a multi-file system tablespace:
    /// let checks = Checks::STRICT.with_page_numbers_match(false);
    /// assert!(checks.no_trailing_bytes);
    /// ```
    pub const STRICT: Checks = Checks {
        no_trailing_bytes: true,
        ascending_page_numbers: true,
        zero_header_tail: true,
        page_numbers_match: true,
    };

    /// These checks with [`no_trailing_bytes`](Self::no_trailing_bytes) set to `on`.
    ///
    /// ```
    /// use incremental_core::format::delta::Checks;
    /// assert!(Checks::COMPATIBLE.with_no_trailing_bytes(true).no_trailing_bytes);
    /// ```
    pub const fn with_no_trailing_bytes(mut self, on: bool) -> Checks {
        self.no_trailing_bytes = on;
        self
    }

    /// These checks with [`ascending_page_numbers`](Self::ascending_page_numbers) set to `on`.
    pub const fn with_ascending_page_numbers(mut self, on: bool) -> Checks {
        self.ascending_page_numbers = on;
        self
    }

    /// These checks with [`zero_header_tail`](Self::zero_header_tail) set to `on`.
    pub const fn with_zero_header_tail(mut self, on: bool) -> Checks {
        self.zero_header_tail = on;
        self
    }

    /// These checks with [`page_numbers_match`](Self::page_numbers_match) set to `on`.
    pub const fn with_page_numbers_match(mut self, on: bool) -> Checks {
        self.page_numbers_match = on;
        self
    }
}

/// What a writer wrote.
///
/// ```
/// use incremental_core::format::delta::{DeltaWriter, PageSize};
/// let (_, stats) = DeltaWriter::new(Vec::new(), PageSize::MIN).finish().unwrap();
/// assert_eq!((stats.pages, stats.clusters, stats.bytes), (0, 1, 1024));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeltaStats {
    /// Data pages.
    pub pages: u64,
    /// Clusters (header pages).
    pub clusters: u64,
    /// Bytes written.
    pub bytes: u64,
}

/// The shape of a delta that passed validation.
///
/// ```
/// use incremental_core::format::delta::{validate, Checks, DeltaWriter, PageSize};
/// let mut w = DeltaWriter::new(Vec::new(), PageSize::MIN);
/// w.push(5, &[0u8; 1024]).unwrap();
/// let (bytes, _) = w.finish().unwrap();
/// let s = validate(&bytes[..], PageSize::MIN, Checks::COMPATIBLE).unwrap();
/// assert_eq!((s.pages, s.clusters, s.len, s.max_page_no), (1, 1, 2048, Some(5)));
/// assert!(s.ascending);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeltaSummary {
    /// The page size it was read with.
    pub page_size: PageSize,
    /// Clusters.
    pub clusters: u64,
    /// Data pages.
    pub pages: u64,
    /// Bytes covered by the clusters.
    pub len: u64,
    /// Bytes after the last cluster (ignored by every reader).
    pub trailing_bytes: u64,
    /// The highest page number listed, if any page is.
    pub max_page_no: Option<u32>,
    /// Whether the page numbers strictly ascend over the whole delta.
    pub ascending: bool,
}

/// One cluster header page, parsed.
#[derive(Debug, Clone, Copy)]
struct HeaderInfo {
    /// `XTRA`.
    last: bool,
    /// Data pages listed.
    pages: usize,
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Parses a header page (`hdr.len() == P`) found at `offset`.
fn parse_header(hdr: &[u8], offset: u64, checks: &Checks) -> Result<HeaderInfo, DeltaError> {
    let slots = hdr.len() / 4;
    let last = match [hdr[0], hdr[1], hdr[2], hdr[3]] {
        MAGIC_MORE => false,
        MAGIC_LAST => true,
        _ => {
            return Err(DeltaError::BadMagic {
                offset,
                found: be32(hdr, 0),
            })
        }
    };
    let n = (1..slots)
        .find(|&i| be32(hdr, 4 * i) == TERMINATOR)
        .unwrap_or(slots);
    if !last && n != slots {
        return Err(DeltaError::NonFinalClusterNotFull {
            offset,
            pages: n as u64 - 1,
            expected: slots as u64 - 1,
        });
    }
    if checks.zero_header_tail && n < slots {
        let tail = 4 * (n + 1);
        if let Some(i) = hdr[tail..].iter().position(|&b| b != 0) {
            return Err(DeltaError::HeaderTail {
                offset: offset + (tail + i) as u64,
            });
        }
    }
    Ok(HeaderInfo { last, pages: n - 1 })
}

/// Page-number bookkeeping shared by the readers.
#[derive(Debug, Clone, Copy, Default)]
struct PageNoTracker {
    previous: Option<u32>,
    max: Option<u32>,
    ascending: bool,
    pages: u64,
}

impl PageNoTracker {
    fn new() -> PageNoTracker {
        PageNoTracker {
            ascending: true,
            ..PageNoTracker::default()
        }
    }

    /// Records page number `page_no`, read from the header slot at `slot_offset`.
    fn see(&mut self, page_no: u32, slot_offset: u64, checks: &Checks) -> Result<(), DeltaError> {
        if let Some(previous) = self.previous
            && page_no <= previous
        {
            if checks.ascending_page_numbers {
                return Err(DeltaError::PageOrder {
                    offset: slot_offset,
                    page_no,
                    previous,
                });
            }
            self.ascending = false;
        }
        self.previous = Some(page_no);
        self.max = Some(self.max.map_or(page_no, |m| m.max(page_no)));
        self.pages += 1;
        Ok(())
    }
}

/// Checks that a data page carries its listed number (unless it is all zero).
fn check_page_number(data: &[u8], listed: u32, offset: u64) -> Result<(), DeltaError> {
    let in_page = be32(data, 4);
    if in_page != listed && data.iter().any(|&b| b != 0) {
        return Err(DeltaError::PageNumberMismatch {
            offset,
            listed,
            in_page,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacity_table() {
        // §1.3 of the spec.
        let rows = [
            (1024, 256, 255, 256 << 10),
            (2048, 512, 511, 1 << 20),
            (4096, 1024, 1023, 4 << 20),
            (8192, 2048, 2047, 16 << 20),
            (16384, 4096, 4095, 64 << 20),
            (32768, 8192, 8191, 256 << 20),
            (65536, 16384, 16383, 1 << 30),
        ];
        for (p, s, c, len) in rows {
            let ps = PageSize::new(p).unwrap();
            assert_eq!(
                (ps.slots(), ps.pages_per_cluster(), ps.cluster_len()),
                (s, c, len)
            );
        }
        for bad in [0, 1, 512, 1000, 1536, 131072, usize::MAX] {
            assert!(PageSize::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn delta_len_matches_the_spec_formula() {
        let p = PageSize::new(16384).unwrap();
        assert_eq!(p.delta_len(0), 16384);
        assert_eq!(p.delta_len(3), 65536); // §1.8 worked example
        assert_eq!(p.delta_len(4095), 64 << 20);
        assert_eq!(p.delta_len(4096), (64 << 20) + 2 * 16384);
        assert_eq!(PageSize::MAX.delta_len(u64::MAX), u64::MAX);
        assert_eq!(PageSize::MAX.data_page_offset(u64::MAX), u64::MAX);
    }

    #[test]
    fn header_parsing() {
        let c = Checks::COMPATIBLE;
        let mut h = vec![0u8; 1024];
        assert!(matches!(
            parse_header(&h, 7, &c),
            Err(DeltaError::BadMagic {
                offset: 7,
                found: 0
            })
        ));
        h[..4].copy_from_slice(b"XTRA");
        // No terminator: a full cluster.
        let info = parse_header(&h, 0, &c).unwrap();
        assert!(info.last && info.pages == 255);
        h[4..8].copy_from_slice(&TERMINATOR.to_be_bytes());
        assert_eq!(parse_header(&h, 0, &c).unwrap().pages, 0);
        h[..4].copy_from_slice(b"xtra");
        assert!(matches!(
            parse_header(&h, 0, &c),
            Err(DeltaError::NonFinalClusterNotFull {
                pages: 0,
                expected: 255,
                ..
            })
        ));
        h[..4].copy_from_slice(b"XTRA");
        h[1000] = 1;
        assert!(parse_header(&h, 0, &c).is_ok());
        assert!(matches!(
            parse_header(&h, 2048, &Checks::STRICT),
            Err(DeltaError::HeaderTail { offset: 3048 })
        ));
    }
}
