//! Page 0: the FSP header, the encryption information, and the tablespace format they imply.
//!
//! The format of a tablespace is decided from page 0 alone: read at least the first 1024 bytes
//! (the smallest page), decode the flags at offset 54 to learn the physical page size, then give
//! the whole page 0 to [`TablespaceFormat::detect`].

use byteorder::{BigEndian, ByteOrder};

use crate::flags::TablespaceFlags;
use crate::page::{offset, MIN_PAGE_SIZE};
use crate::page_type::{PageType, Vendor};
use crate::{Page, PageError};

/// Absolute offsets of the FSP header fields on page 0.
pub mod fsp_offset {
    /// `FSP_SPACE_ID`.
    pub const SPACE_ID: usize = 38;
    /// `FSP_SIZE`: tablespace size in pages (for space 0, over all its files).
    pub const SIZE: usize = 46;
    /// `FSP_FREE_LIMIT`: pages from here on were never initialised.
    pub const FREE_LIMIT: usize = 50;
    /// `FSP_SPACE_FLAGS`.
    pub const FLAGS: usize = 54;
    /// `FSP_FRAG_N_USED`.
    pub const FRAG_N_USED: usize = 58;
    /// End of the FSP header, start of the extent descriptor array (`XDES_ARR_OFFSET`).
    pub const XDES_ARRAY: usize = 150;
}

/// The FSP header fields (page 0, offsets 38..62).
///
/// ```
/// use innodb_page::fsp::FspHeader;
/// let mut page0 = vec![0u8; 1024];
/// page0[38..42].copy_from_slice(&5u32.to_be_bytes());
/// page0[46..50].copy_from_slice(&4u32.to_be_bytes());
/// page0[54..58].copy_from_slice(&0x15u32.to_be_bytes());
/// let h = FspHeader::parse(&page0).unwrap();
/// assert_eq!((h.space_id, h.size, h.flags), (5, 4, 0x15));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FspHeader {
    /// Tablespace id.
    pub space_id: u32,
    /// Size in pages (informative: the file may hold fewer or more whole pages).
    pub size: u32,
    /// Pages at or above this number were never initialised.
    pub free_limit: u32,
    /// Raw flags word; decode with [`TablespaceFlags::decode`].
    pub flags: u32,
    /// Used pages in fragment extents.
    pub frag_n_used: u32,
}

impl FspHeader {
    /// Reads the header from the start of page 0 (at least 62 bytes).
    pub fn parse(page0: &[u8]) -> Result<FspHeader, PageError> {
        let need = fsp_offset::FRAG_N_USED + 4;
        let b = page0.get(..need).ok_or(PageError::TooShort {
            what: "FSP header",
            len: page0.len(),
            need,
        })?;
        let at = |o: usize| BigEndian::read_u32(&b[o..o + 4]);
        Ok(FspHeader {
            space_id: at(fsp_offset::SPACE_ID),
            size: at(fsp_offset::SIZE),
            free_limit: at(fsp_offset::FREE_LIMIT),
            flags: at(fsp_offset::FLAGS),
            frag_n_used: at(fsp_offset::FRAG_N_USED),
        })
    }
}

/// Reads the physical page size from the first bytes of a tablespace (at least 58 bytes; reading
/// 1024 is the usual bootstrap).
///
/// ```
/// let mut head = vec![0u8; 1024];
/// head[54..58].copy_from_slice(&0x29u32.to_be_bytes()); // KEY_BLOCK_SIZE=8
/// assert_eq!(innodb_page::fsp::physical_page_size(&head).unwrap(), 8192);
/// ```
pub fn physical_page_size(head: &[u8]) -> Result<usize, PageError> {
    let h = FspHeader::parse(head)?;
    Ok(TablespaceFlags::decode(h.flags)?.physical_page_size() as usize)
}

/// The 6-byte magic of MariaDB's crypt data on page 0.
pub const MARIADB_CRYPT_MAGIC: [u8; 6] = [0x73, 0x0E, 0x0C, 0x52, 0x45, 0x74];

/// Encryption information found on page 0.
///
/// With the `serde` feature it serializes as an object whose `kind` is `mariadb` or `mysql`,
/// followed by the variant's fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(tag = "kind", rename_all = "lowercase")
)]
#[non_exhaustive]
pub enum Encryption {
    /// MariaDB data-at-rest encryption ("crypt data").
    MariaDb {
        /// 0 = not encrypted (transitional), 1 = encrypted with scheme 1.
        scheme: u8,
        /// Lowest key version of any page; 0 means some pages are still unencrypted.
        min_key_version: u32,
        /// `ENCRYPTION_KEY_ID`.
        key_id: u32,
        /// 0 DEFAULT, 1 ON, 2 OFF.
        mode: u8,
    },
    /// MySQL transparent data encryption (flags bit 13, magic `lCA`/`lCB`/`lCC`).
    MySql {
        /// Encryption info version: 1, 2 or 3.
        version: u8,
        /// Master key id.
        master_key_id: u32,
    },
}

/// Offset of the encryption information on page 0, after the extent descriptor array.
/// MariaDB adds the 38-byte FIL header once more than MySQL does.
///
/// ```
/// use innodb_page::flags::TablespaceFlags;
/// use innodb_page::fsp::encryption_offset;
/// let f = TablespaceFlags::decode(0x15).unwrap();
/// assert_eq!(encryption_offset(&f, false), 10390);
/// assert_eq!(encryption_offset(&f, true), 10428);
/// ```
pub fn encryption_offset(flags: &TablespaceFlags, mariadb: bool) -> usize {
    let extent = flags.extent_pages() as usize;
    let xdes_size = 24 + (2 * extent).div_ceil(8);
    let physical = flags.physical_page_size() as usize;
    let base = fsp_offset::XDES_ARRAY + xdes_size * physical / extent;
    if mariadb {
        base + offset::DATA
    } else {
        base
    }
}

/// The 33 bytes of MariaDB crypt data on page 0 (magic, scheme, IV length, IV, minimum key
/// version, key id, mode), when page 0 has them.
pub(crate) fn mariadb_crypt_data<'a>(page0: &'a [u8], flags: &TablespaceFlags) -> Option<&'a [u8]> {
    let m = encryption_offset(flags, true);
    page0
        .get(m..m.checked_add(33)?)
        .filter(|c| c[..6] == MARIADB_CRYPT_MAGIC)
}

fn read_encryption(page0: &[u8], flags: &TablespaceFlags) -> Option<Encryption> {
    if let Some(c) = mariadb_crypt_data(page0, flags) {
        return Some(Encryption::MariaDb {
            scheme: c[6],
            min_key_version: BigEndian::read_u32(&c[24..28]),
            key_id: BigEndian::read_u32(&c[28..32]),
            mode: c[32],
        });
    }
    let y = encryption_offset(flags, false);
    if let Some(c) = page0.get(y..y + 7) {
        let version = match &c[..3] {
            b"lCA" => 1,
            b"lCB" => 2,
            b"lCC" => 3,
            _ => return None,
        };
        return Some(Encryption::MySql {
            version,
            master_key_id: BigEndian::read_u32(&c[3..7]),
        });
    }
    None
}

/// Everything page 0 says about how to read a tablespace.
///
/// ```
/// use innodb_page::fsp::TablespaceFormat;
/// let mut page0 = vec![0u8; 16384];
/// page0[24..26].copy_from_slice(&8u16.to_be_bytes());       // FSP_HDR
/// page0[34..38].copy_from_slice(&5u32.to_be_bytes());       // space id (FIL header)
/// page0[38..42].copy_from_slice(&5u32.to_be_bytes());       // space id (FSP header)
/// page0[54..58].copy_from_slice(&0x15u32.to_be_bytes());    // full_crc32, 16K
/// let f = TablespaceFormat::detect(&page0).unwrap();
/// assert_eq!(f.space_id, 5);
/// assert_eq!(f.format_name(), "full_crc32");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TablespaceFormat {
    /// Space id (FSP header; equal to the FIL header's).
    pub space_id: u32,
    /// The FSP header.
    pub header: FspHeader,
    /// Decoded flags.
    pub flags: TablespaceFlags,
    /// Server family, as far as page 0 tells.
    pub vendor: Vendor,
    /// Encryption information, if any.
    pub encryption: Option<Encryption>,
}

impl TablespaceFormat {
    /// Decodes page 0. `page0` must hold at least the physical page size (use
    /// [`physical_page_size`] on the first 1024 bytes to learn it); extra bytes are ignored.
    ///
    /// Checks that the page is an FSP header page: type 8, page number 0, the FIL and FSP space
    /// ids equal, and valid flags.
    pub fn detect(page0: &[u8]) -> Result<TablespaceFormat, PageError> {
        if page0.len() < MIN_PAGE_SIZE {
            return Err(PageError::TooShort {
                what: "page 0",
                len: page0.len(),
                need: MIN_PAGE_SIZE,
            });
        }
        let header = FspHeader::parse(page0)?;
        let flags = TablespaceFlags::decode(header.flags)?;
        let size = flags.physical_page_size() as usize;
        let bytes = page0.get(..size).ok_or(PageError::TooShort {
            what: "page 0 of this page size",
            len: page0.len(),
            need: size,
        })?;
        let page = Page::new(bytes)?;
        if page.raw_page_type() != PageType::FspHdr.to_raw() {
            return Err(PageError::NotPage0 {
                why: format!("page type is {}, not 8 (FSP_HDR)", page.raw_page_type()),
            });
        }
        if page.page_no() != 0 {
            return Err(PageError::NotPage0 {
                why: format!("page number field is {}, not 0", page.page_no()),
            });
        }
        if page.space_id() != header.space_id {
            return Err(PageError::NotPage0 {
                why: format!(
                    "space id {} in the FIL header differs from {} in the FSP header",
                    page.space_id(),
                    header.space_id
                ),
            });
        }
        let encryption = read_encryption(bytes, &flags);
        let vendor = match (flags.vendor(), encryption) {
            (Vendor::Unknown, Some(Encryption::MariaDb { .. })) => Vendor::MariaDb,
            (Vendor::Unknown, Some(Encryption::MySql { .. })) => Vendor::MySql,
            (v, _) => v,
        };
        Ok(TablespaceFormat {
            space_id: header.space_id,
            header,
            flags,
            vendor,
            encryption,
        })
    }

    /// Physical page size in bytes.
    pub fn physical_page_size(&self) -> usize {
        self.flags.physical_page_size() as usize
    }

    /// Logical page size (`innodb_page_size`) in bytes.
    pub fn logical_page_size(&self) -> usize {
        self.flags.logical_page_size() as usize
    }

    /// `full_crc32`, `compressed` (ROW_FORMAT=COMPRESSED) or `classic`: the names of the `--json`
    /// schema's `format` field.
    pub fn format_name(&self) -> &'static str {
        if self.flags.is_full_crc32() {
            "full_crc32"
        } else if self.flags.zip_size().is_some() {
            "compressed"
        } else {
            "classic"
        }
    }

    /// True when pages of this tablespace may be encrypted.
    pub fn is_encrypted(&self) -> bool {
        match self.encryption {
            Some(Encryption::MariaDb { scheme, .. }) => scheme != 0,
            Some(Encryption::MySql { .. }) => true,
            None => self.flags.mysql_encryption(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page0(flags: u32, size: usize) -> Vec<u8> {
        let mut p = vec![0u8; size];
        p[24..26].copy_from_slice(&8u16.to_be_bytes());
        p[34..38].copy_from_slice(&9u32.to_be_bytes());
        p[38..42].copy_from_slice(&9u32.to_be_bytes());
        p[54..58].copy_from_slice(&flags.to_be_bytes());
        p
    }

    #[test]
    fn encryption_offsets_match_spec() {
        let at = |flags: u32| encryption_offset(&TablespaceFlags::decode(flags).unwrap(), true);
        assert_eq!(at(0x15), 10428);
        assert_eq!(at(0x27), 2748); // 4K zip page in a 16K instance
        assert_eq!(at(0x13), 1596);
        assert_eq!(at(0x14), 3772);
        assert_eq!(at(0x16), 20668);
        assert_eq!(at(0x17), 41148);
    }

    #[test]
    fn mariadb_crypt_data() {
        let mut p = page0(0x21, 16384);
        let o = 10428;
        p[o..o + 6].copy_from_slice(&MARIADB_CRYPT_MAGIC);
        p[o + 6] = 1;
        p[o + 7] = 16;
        p[o + 24..o + 28].copy_from_slice(&1u32.to_be_bytes());
        p[o + 28..o + 32].copy_from_slice(&2u32.to_be_bytes());
        p[o + 32] = 1;
        let f = TablespaceFormat::detect(&p).unwrap();
        assert_eq!(f.vendor, Vendor::MariaDb);
        assert!(f.is_encrypted());
        assert_eq!(
            f.encryption,
            Some(Encryption::MariaDb {
                scheme: 1,
                min_key_version: 1,
                key_id: 2,
                mode: 1
            })
        );
    }

    #[test]
    fn mysql_encryption_info() {
        let mut p = page0(0x6021, 16384);
        p[10390..10393].copy_from_slice(b"lCC");
        p[10393..10397].copy_from_slice(&7u32.to_be_bytes());
        let f = TablespaceFormat::detect(&p).unwrap();
        assert_eq!(f.vendor, Vendor::MySql);
        assert_eq!(
            f.encryption,
            Some(Encryption::MySql {
                version: 3,
                master_key_id: 7
            })
        );
    }

    #[test]
    fn rejects_non_page0() {
        let mut p = page0(0x15, 16384);
        p[24..26].copy_from_slice(&17855u16.to_be_bytes());
        assert!(matches!(
            TablespaceFormat::detect(&p),
            Err(PageError::NotPage0 { .. })
        ));
        let mut p = page0(0x15, 16384);
        p[34..38].copy_from_slice(&1u32.to_be_bytes());
        assert!(matches!(
            TablespaceFormat::detect(&p),
            Err(PageError::NotPage0 { .. })
        ));
        let p = page0(0x15, 4096); // claims 16K, only 4K given
        assert!(matches!(
            TablespaceFormat::detect(&p),
            Err(PageError::TooShort { .. })
        ));
        assert!(TablespaceFormat::detect(&[0u8; 10]).is_err());
    }
}
