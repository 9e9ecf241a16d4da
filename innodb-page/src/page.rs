//! One page: a zero-copy view of the FIL header and trailer.

use byteorder::{BigEndian, ByteOrder};

use crate::page_type::{PageType, Vendor};
use crate::{Lsn, PageError};

/// Byte offsets of the FIL header fields (38 bytes at the start of every page).
pub mod offset {
    /// Checksum (classic formats), encryption key version (full_crc32), or space id (pre-4.0.14).
    pub const SPACE_OR_CHKSUM: usize = 0;
    /// Page number within the tablespace.
    pub const PAGE_NO: usize = 4;
    /// Previous page on the same B-tree level.
    pub const PREV: usize = 8;
    /// Next page on the same B-tree level.
    pub const NEXT: usize = 12;
    /// LSN of the end of the last mini-transaction that changed the page.
    pub const LSN: usize = 16;
    /// Page type.
    pub const TYPE: usize = 24;
    /// Flush LSN (page 0 of system data files), key version and post-encryption checksum
    /// (MariaDB classic encryption), compression algorithm (MariaDB classic page compression).
    pub const FILE_FLUSH_LSN: usize = 26;
    /// Space id.
    pub const SPACE_ID: usize = 34;
    /// Start of the page body.
    pub const DATA: usize = 38;
}

/// "No page" in prev/next links.
pub const FIL_NULL: u32 = 0xFFFF_FFFF;

/// The smallest page: a 1 KiB ROW_FORMAT=COMPRESSED page.
pub const MIN_PAGE_SIZE: usize = 1024;
/// The largest page: 64 KiB.
pub const MAX_PAGE_SIZE: usize = 65536;

/// True for the physical page sizes that exist: 1 KiB to 64 KiB, powers of two.
pub fn is_valid_page_size(n: usize) -> bool {
    n.is_power_of_two() && (MIN_PAGE_SIZE..=MAX_PAGE_SIZE).contains(&n)
}

/// A zero-copy view of one page of any physical size (1 KiB compressed up to 64 KiB).
///
/// The view only reads fields; which of them are meaningful depends on the tablespace format
/// (see [`crate::fsp::TablespaceFormat`] and [`crate::checksum`]).
///
/// ```
/// use innodb_page::Page;
/// let mut buf = vec![0u8; 8192];
/// buf[4..8].copy_from_slice(&3u32.to_be_bytes());
/// let page = Page::new(&buf).unwrap();
/// assert_eq!(page.page_no(), 3);
/// assert_eq!(page.size(), 8192);
/// assert!(!page.is_all_zero());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page<'a> {
    data: &'a [u8],
}

impl<'a> Page<'a> {
    /// Views `data` as one page. Its length is the physical page size and must be a power of two
    /// from 1024 to 65536.
    pub fn new(data: &'a [u8]) -> Result<Page<'a>, PageError> {
        if is_valid_page_size(data.len()) {
            Ok(Page { data })
        } else {
            Err(PageError::BadPageSize { len: data.len() })
        }
    }

    /// The page's bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.data
    }

    /// Physical size in bytes.
    pub fn size(&self) -> usize {
        self.data.len()
    }

    fn u32_at(&self, off: usize) -> u32 {
        BigEndian::read_u32(&self.data[off..off + 4])
    }

    /// 4 bytes at offset 0: the checksum in classic formats, the key version in full_crc32.
    pub fn space_or_checksum(&self) -> u32 {
        self.u32_at(offset::SPACE_OR_CHKSUM)
    }

    /// Page number (offset 4).
    pub fn page_no(&self) -> u32 {
        self.u32_at(offset::PAGE_NO)
    }

    /// Previous page on the same level, `None` for `FIL_NULL`.
    pub fn prev(&self) -> Option<u32> {
        Some(self.u32_at(offset::PREV)).filter(|&p| p != FIL_NULL)
    }

    /// Next page on the same level, `None` for `FIL_NULL`.
    pub fn next(&self) -> Option<u32> {
        Some(self.u32_at(offset::NEXT)).filter(|&p| p != FIL_NULL)
    }

    /// The page LSN (offset 16): readable on every page of every format, without keys or
    /// decompression.
    pub fn lsn(&self) -> Lsn {
        Lsn(BigEndian::read_u64(
            &self.data[offset::LSN..offset::LSN + 8],
        ))
    }

    /// The raw page type code (offset 24).
    pub fn raw_page_type(&self) -> u16 {
        BigEndian::read_u16(&self.data[offset::TYPE..offset::TYPE + 2])
    }

    /// The page type, decoded without knowing the vendor or the format (type 18 stays ambiguous,
    /// full_crc32 compressed pages are [`PageType::Other`]). Prefer [`Page::page_type_in`].
    pub fn page_type(&self) -> PageType {
        PageType::from_raw(self.raw_page_type(), Vendor::Unknown, false)
    }

    /// The page type as the given server family and format define it.
    pub fn page_type_in(&self, vendor: Vendor, full_crc32: bool) -> PageType {
        PageType::from_raw(self.raw_page_type(), vendor, full_crc32)
    }

    /// 8 bytes at offset 26: flush LSN, or key version + post-encryption checksum, or compression
    /// algorithm, depending on the page.
    pub fn file_flush_lsn(&self) -> u64 {
        BigEndian::read_u64(&self.data[offset::FILE_FLUSH_LSN..offset::FILE_FLUSH_LSN + 8])
    }

    /// MariaDB classic-format encryption key version (bytes 26..30).
    pub fn key_version_at_26(&self) -> u32 {
        self.u32_at(offset::FILE_FLUSH_LSN)
    }

    /// MariaDB classic-format post-encryption checksum (bytes 30..34).
    pub fn post_encryption_checksum(&self) -> u32 {
        self.u32_at(30)
    }

    /// Space id (offset 34). Not meaningful on full_crc32 pages that are encrypted or compressed.
    pub fn space_id(&self) -> u32 {
        self.u32_at(offset::SPACE_ID)
    }

    /// Trailer word at `size - 8`: the old-style checksum in classic formats, the low 32 bits of
    /// the LSN in full_crc32. Part of the page body on ROW_FORMAT=COMPRESSED pages.
    pub fn trailer_word1(&self) -> u32 {
        self.u32_at(self.data.len() - 8)
    }

    /// Trailer word at `size - 4`: the low 32 bits of the LSN in classic formats, the CRC-32C in
    /// full_crc32. Part of the page body on ROW_FORMAT=COMPRESSED pages.
    pub fn trailer_word2(&self) -> u32 {
        self.u32_at(self.data.len() - 4)
    }

    /// True when every byte is zero (a page that was never written).
    pub fn is_all_zero(&self) -> bool {
        is_all_zero(self.data)
    }
}

/// True when every byte of `b` is zero. Checks 64 bytes at a time so that the compiler can
/// vectorise while a non-zero page still stops early.
pub fn is_all_zero(b: &[u8]) -> bool {
    b.chunks(64)
        .all(|c| c.iter().fold(0u8, |acc, &x| acc | x) == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        for n in [1024, 2048, 4096, 8192, 16384, 32768, 65536] {
            assert!(Page::new(&vec![0; n]).is_ok());
        }
        for n in [0, 1, 512, 1000, 3000, 131072] {
            assert_eq!(
                Page::new(&vec![0; n]).unwrap_err(),
                PageError::BadPageSize { len: n }
            );
        }
    }

    #[test]
    fn fields() {
        let mut b = vec![0u8; 4096];
        b[8..12].copy_from_slice(&FIL_NULL.to_be_bytes());
        b[12..16].copy_from_slice(&9u32.to_be_bytes());
        b[34..38].copy_from_slice(&77u32.to_be_bytes());
        b[4092..4096].copy_from_slice(&0xABCDu32.to_be_bytes());
        let p = Page::new(&b).unwrap();
        assert_eq!(p.prev(), None);
        assert_eq!(p.next(), Some(9));
        assert_eq!(p.space_id(), 77);
        assert_eq!(p.trailer_word2(), 0xABCD);
        assert!(!p.is_all_zero());
    }
}
