//! Tablespace flags (`FSP_SPACE_FLAGS`, page 0 offset 54) in all three on-disk layouts.
//!
//! * [`FlagsLayout::Classic`]: MySQL 5.7/8.0, Percona Server, MariaDB outside full_crc32.
//! * [`FlagsLayout::MariaDb101`]: MariaDB 10.1.0–10.1.20 wrote page-compression bits where the
//!   page size belongs; such files are converted to the classic layout as MariaDB does.
//! * [`FlagsLayout::FullCrc32`]: MariaDB 10.4.3+ full_crc32 (bit 4 set).

use crate::page_type::Vendor;
use crate::PageError;

/// Which of the three layouts a flags word was decoded in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FlagsLayout {
    /// MySQL / Percona / MariaDB classic layout.
    Classic,
    /// MariaDB 10.1.0–10.1.20 layout (converted to classic meanings).
    MariaDb101,
    /// MariaDB full_crc32 layout.
    FullCrc32,
}

/// Page compression algorithm of MariaDB's PAGE_COMPRESSED tablespaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CompressionAlgorithm {
    /// zlib (1).
    Zlib,
    /// LZ4 (2).
    Lz4,
    /// LZO (3).
    Lzo,
    /// LZMA (4).
    Lzma,
    /// bzip2 (5).
    Bzip2,
    /// snappy (6).
    Snappy,
}

impl CompressionAlgorithm {
    /// From MariaDB's numbering (1 = zlib … 6 = snappy); 0 and unknown values give `None`.
    pub fn from_id(id: u64) -> Option<CompressionAlgorithm> {
        Some(match id {
            1 => CompressionAlgorithm::Zlib,
            2 => CompressionAlgorithm::Lz4,
            3 => CompressionAlgorithm::Lzo,
            4 => CompressionAlgorithm::Lzma,
            5 => CompressionAlgorithm::Bzip2,
            6 => CompressionAlgorithm::Snappy,
            _ => return None,
        })
    }

    /// Lower-case name: `zlib`, `lz4`, `lzo`, `lzma`, `bzip2`, `snappy`.
    pub fn name(self) -> &'static str {
        match self {
            CompressionAlgorithm::Zlib => "zlib",
            CompressionAlgorithm::Lz4 => "lz4",
            CompressionAlgorithm::Lzo => "lzo",
            CompressionAlgorithm::Lzma => "lzma",
            CompressionAlgorithm::Bzip2 => "bzip2",
            CompressionAlgorithm::Snappy => "snappy",
        }
    }
}

/// MariaDB page compression as the flags describe it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PageCompression {
    /// Classic layout (bit 16): the algorithm is stored on each compressed page.
    PerPage,
    /// MariaDB 10.1.0–10.1.20 layout, with the compression level it recorded.
    Level(u8),
    /// full_crc32 layout: the algorithm is in the flags.
    FullCrc32(CompressionAlgorithm),
}

mod bits {
    pub const POST_ANTELOPE: u32 = 1;
    pub const ZIP_SSIZE_SHIFT: u32 = 1;
    pub const ZIP_SSIZE_MASK: u32 = 0xF << ZIP_SSIZE_SHIFT;
    pub const ATOMIC_BLOBS: u32 = 1 << 5;
    pub const PAGE_SSIZE_SHIFT: u32 = 6;
    pub const PAGE_SSIZE_MASK: u32 = 0xF << PAGE_SSIZE_SHIFT;
    pub const DATA_DIR: u32 = 1 << 10;
    pub const SHARED: u32 = 1 << 11;
    pub const TEMPORARY: u32 = 1 << 12;
    pub const ENCRYPTION: u32 = 1 << 13;
    pub const SDI: u32 = 1 << 14;
    pub const MARIADB_PAGE_COMPRESSION: u32 = 1 << 16;
    pub const MYSQL_ONLY: u32 = SHARED | TEMPORARY | ENCRYPTION | SDI;
    pub const FCRC32_MARKER: u32 = 1 << 4;
}

/// Decoded tablespace flags.
///
/// ```
/// use innodb_page::flags::{FlagsLayout, TablespaceFlags};
/// // MariaDB 10.11 default table: full_crc32, 16 KiB.
/// let f = TablespaceFlags::decode(0x15).unwrap();
/// assert_eq!(f.layout(), FlagsLayout::FullCrc32);
/// assert_eq!((f.logical_page_size(), f.physical_page_size()), (16384, 16384));
/// // ROW_FORMAT=COMPRESSED KEY_BLOCK_SIZE=8 in a 16 KiB instance.
/// let z = TablespaceFlags::decode(0x29).unwrap();
/// assert_eq!(z.zip_size(), Some(8192));
/// assert_eq!(z.physical_page_size(), 8192);
/// assert!(TablespaceFlags::decode(0x40).is_err()); // page_ssize 1 does not exist
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TablespaceFlags {
    raw: u32,
    layout: FlagsLayout,
    /// The flags in classic-layout meaning (equal to `raw` for classic; converted for 10.1; for
    /// full_crc32, the classic word a non-full_crc32 tablespace of the same page size would have).
    classic: u32,
    logical: u32,
    physical: u32,
    compression: Option<PageCompression>,
}

fn classic_logical_size(page_ssize: u32) -> Option<u32> {
    match page_ssize {
        0 => Some(16384),
        3 | 4 | 6 | 7 => Some(512 << page_ssize),
        _ => None,
    }
}

/// Checks the rules shared by the classic and 10.1 layouts on bits 0..5 and the page size.
fn check_zip_rules(flags: u32, page_ssize: u32) -> Result<(), &'static str> {
    let post_antelope = flags & bits::POST_ANTELOPE != 0;
    let atomic_blobs = flags & bits::ATOMIC_BLOBS != 0;
    let zip_ssize = (flags & bits::ZIP_SSIZE_MASK) >> bits::ZIP_SSIZE_SHIFT;
    if atomic_blobs && !post_antelope {
        return Err("ATOMIC_BLOBS without POST_ANTELOPE");
    }
    let max_zip = if page_ssize == 0 { 5 } else { page_ssize };
    if zip_ssize > max_zip {
        return Err("compressed page size larger than the page size");
    }
    if zip_ssize != 0 && !(post_antelope && atomic_blobs) {
        return Err("ROW_FORMAT=COMPRESSED without POST_ANTELOPE and ATOMIC_BLOBS");
    }
    Ok(())
}

impl TablespaceFlags {
    /// Decodes a flags word: full_crc32 when bit 4 is set, else the classic layout, else (only
    /// when invalid as classic) the MariaDB 10.1.0–10.1.20 layout.
    pub fn decode(raw: u32) -> Result<TablespaceFlags, PageError> {
        if raw & bits::FCRC32_MARKER != 0 {
            return Self::decode_full_crc32(raw);
        }
        match Self::decode_classic(raw) {
            Ok(f) => Ok(f),
            Err(classic_err) => Self::decode_mariadb_101(raw).map_err(|_| classic_err),
        }
    }

    /// Decodes `raw` in one given layout only.
    pub fn decode_as(raw: u32, layout: FlagsLayout) -> Result<TablespaceFlags, PageError> {
        match layout {
            FlagsLayout::Classic => Self::decode_classic(raw),
            FlagsLayout::MariaDb101 => Self::decode_mariadb_101(raw),
            FlagsLayout::FullCrc32 => Self::decode_full_crc32(raw),
        }
    }

    fn invalid(raw: u32, why: &'static str) -> PageError {
        PageError::InvalidFlags { flags: raw, why }
    }

    fn decode_full_crc32(raw: u32) -> Result<TablespaceFlags, PageError> {
        if raw & bits::FCRC32_MARKER == 0 {
            return Err(Self::invalid(raw, "full_crc32 marker (bit 4) not set"));
        }
        if raw >> 8 != 0 {
            return Err(Self::invalid(raw, "full_crc32 flags use bits 8..31"));
        }
        let ssize = raw & 0xF;
        if !(3..=7).contains(&ssize) {
            return Err(Self::invalid(raw, "full_crc32 page size bits not in 3..7"));
        }
        let algo = (raw >> 5) & 0x7;
        let compression = match algo {
            0 => None,
            id => Some(PageCompression::FullCrc32(
                CompressionAlgorithm::from_id(u64::from(id))
                    .ok_or_else(|| Self::invalid(raw, "unknown page compression algorithm 7"))?,
            )),
        };
        let size = 512u32 << ssize;
        let classic_ssize = if size == 16384 { 0 } else { ssize };
        Ok(TablespaceFlags {
            raw,
            layout: FlagsLayout::FullCrc32,
            classic: classic_ssize << bits::PAGE_SSIZE_SHIFT
                | if compression.is_some() {
                    bits::MARIADB_PAGE_COMPRESSION
                } else {
                    0
                },
            logical: size,
            physical: size,
            compression,
        })
    }

    fn decode_classic(raw: u32) -> Result<TablespaceFlags, PageError> {
        let mysql_valid = raw >> 15 == 0;
        let mariadb_valid = raw & !(0x7FF | bits::MARIADB_PAGE_COMPRESSION) == 0;
        if !mysql_valid && !mariadb_valid {
            return Err(Self::invalid(
                raw,
                "bits set that neither MySQL nor MariaDB define (or MySQL-only bits 11..14 together with MariaDB's bit 16)",
            ));
        }
        let page_ssize = (raw & bits::PAGE_SSIZE_MASK) >> bits::PAGE_SSIZE_SHIFT;
        let logical = classic_logical_size(page_ssize)
            .ok_or_else(|| Self::invalid(raw, "page size bits not in {0, 3, 4, 6, 7}"))?;
        check_zip_rules(raw, page_ssize).map_err(|why| Self::invalid(raw, why))?;
        let zip_ssize = (raw & bits::ZIP_SSIZE_MASK) >> bits::ZIP_SSIZE_SHIFT;
        let physical = if zip_ssize == 0 {
            logical
        } else {
            512 << zip_ssize
        };
        Ok(TablespaceFlags {
            raw,
            layout: FlagsLayout::Classic,
            classic: raw,
            logical,
            physical,
            compression: (raw & bits::MARIADB_PAGE_COMPRESSION != 0)
                .then_some(PageCompression::PerPage),
        })
    }

    fn decode_mariadb_101(raw: u32) -> Result<TablespaceFlags, PageError> {
        if raw >> 18 != 0 {
            return Err(Self::invalid(raw, "MariaDB 10.1 flags use bits 18..31"));
        }
        let page_compression = raw & (1 << 6) != 0;
        let level = (raw >> 7) & 0xF;
        let atomic_writes = (raw >> 11) & 0x3;
        let page_ssize = (raw >> 13) & 0xF;
        if page_compression != (level != 0) || level > 9 {
            return Err(Self::invalid(
                raw,
                "MariaDB 10.1 compression level inconsistent",
            ));
        }
        if atomic_writes == 3 {
            return Err(Self::invalid(raw, "MariaDB 10.1 ATOMIC_WRITES = 3"));
        }
        let logical = classic_logical_size(page_ssize).ok_or_else(|| {
            Self::invalid(raw, "MariaDB 10.1 page size bits not in {0, 3, 4, 6, 7}")
        })?;
        check_zip_rules(raw, page_ssize).map_err(|why| Self::invalid(raw, why))?;
        let zip_ssize = (raw & bits::ZIP_SSIZE_MASK) >> bits::ZIP_SSIZE_SHIFT;
        let classic = (raw & 0x3F)
            | page_ssize << bits::PAGE_SSIZE_SHIFT
            | if page_compression {
                bits::MARIADB_PAGE_COMPRESSION
            } else {
                0
            };
        Ok(TablespaceFlags {
            raw,
            layout: FlagsLayout::MariaDb101,
            classic,
            logical,
            physical: if zip_ssize == 0 {
                logical
            } else {
                512 << zip_ssize
            },
            // level ≤ 9 was checked above, so the cast keeps the value.
            compression: page_compression.then_some(PageCompression::Level(level as u8)),
        })
    }

    /// The flags word as stored.
    pub fn raw(&self) -> u32 {
        self.raw
    }

    /// The layout the word was decoded in.
    pub fn layout(&self) -> FlagsLayout {
        self.layout
    }

    /// The flags in classic-layout meaning (converted for MariaDB 10.1 files).
    pub fn classic_equivalent(&self) -> u32 {
        self.classic
    }

    /// `innodb_page_size` of the instance that wrote the tablespace.
    pub fn logical_page_size(&self) -> u32 {
        self.logical
    }

    /// Bytes per page in the file: the zip size for ROW_FORMAT=COMPRESSED, else the logical size.
    pub fn physical_page_size(&self) -> u32 {
        self.physical
    }

    /// The ROW_FORMAT=COMPRESSED page size, if the tablespace is compressed that way.
    pub fn zip_size(&self) -> Option<u32> {
        (self.layout != FlagsLayout::FullCrc32 && self.classic & bits::ZIP_SSIZE_MASK != 0)
            .then_some(self.physical)
    }

    /// MariaDB full_crc32 format.
    pub fn is_full_crc32(&self) -> bool {
        self.layout == FlagsLayout::FullCrc32
    }

    /// MariaDB page compression, if enabled.
    pub fn page_compression(&self) -> Option<PageCompression> {
        self.compression
    }

    /// COMPACT, DYNAMIC or COMPRESSED row format (bit 0); false for REDUNDANT. Not recorded in
    /// full_crc32 flags (returns false there).
    pub fn post_antelope(&self) -> bool {
        self.layout != FlagsLayout::FullCrc32 && self.classic & bits::POST_ANTELOPE != 0
    }

    /// DYNAMIC or COMPRESSED row format (bit 5). Not recorded in full_crc32 flags.
    pub fn atomic_blobs(&self) -> bool {
        self.layout != FlagsLayout::FullCrc32 && self.classic & bits::ATOMIC_BLOBS != 0
    }

    /// MySQL `DATA DIRECTORY` bit (10); MariaDB ignores it. In 10.1 files, bit 17.
    pub fn data_dir(&self) -> bool {
        match self.layout {
            FlagsLayout::Classic => self.raw & bits::DATA_DIR != 0,
            FlagsLayout::MariaDb101 => self.raw & (1 << 17) != 0,
            FlagsLayout::FullCrc32 => false,
        }
    }

    /// MySQL general (shared) tablespace (bit 11).
    pub fn shared(&self) -> bool {
        self.layout == FlagsLayout::Classic && self.raw & bits::SHARED != 0
    }

    /// MySQL temporary tablespace (bit 12).
    pub fn temporary(&self) -> bool {
        self.layout == FlagsLayout::Classic && self.raw & bits::TEMPORARY != 0
    }

    /// MySQL transparent data encryption (bit 13). MariaDB records encryption on page 0 instead.
    pub fn mysql_encryption(&self) -> bool {
        self.layout == FlagsLayout::Classic && self.raw & bits::ENCRYPTION != 0
    }

    /// MySQL 8 SDI bit (14): set on every MySQL 8 tablespace.
    pub fn sdi(&self) -> bool {
        self.layout == FlagsLayout::Classic && self.raw & bits::SDI != 0
    }

    /// What the flags alone say about the server family (§2.6 of the page format spec).
    pub fn vendor(&self) -> Vendor {
        match self.layout {
            FlagsLayout::FullCrc32 | FlagsLayout::MariaDb101 => Vendor::MariaDb,
            FlagsLayout::Classic if self.raw & bits::MARIADB_PAGE_COMPRESSION != 0 => {
                Vendor::MariaDb
            }
            FlagsLayout::Classic if self.raw & bits::MYSQL_ONLY != 0 => Vendor::MySql,
            FlagsLayout::Classic => Vendor::Unknown,
        }
    }

    /// Pages per extent (`FSP_EXTENT_SIZE`): 256 at 4K, 128 at 8K, 64 at 16K and larger. For
    /// compressed tablespaces, the instance's (logical) value.
    pub fn extent_pages(&self) -> u32 {
        match self.logical {
            4096 => 256,
            8192 => 128,
            _ => 64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes(raw: u32) -> (u32, u32, Option<u32>) {
        let f = TablespaceFlags::decode(raw).unwrap();
        (f.logical_page_size(), f.physical_page_size(), f.zip_size())
    }

    #[test]
    fn verified_examples() {
        assert_eq!(sizes(0x00), (16384, 16384, None));
        assert_eq!(sizes(0x21), (16384, 16384, None));
        assert_eq!(sizes(0x29), (16384, 8192, Some(8192)));
        assert_eq!(sizes(0x27), (16384, 4096, Some(4096)));
        assert_eq!(sizes(0x23), (16384, 1024, Some(1024)));
        assert_eq!(sizes(0xC0), (4096, 4096, None));
        assert_eq!(sizes(0xE1), (4096, 4096, None));
        assert_eq!(sizes(0xE5), (4096, 2048, Some(2048)));
        assert_eq!(sizes(0x10021), (16384, 16384, None));
        assert_eq!(sizes(0x100E1), (4096, 4096, None));
        assert_eq!(sizes(0x15), (16384, 16384, None));
        assert_eq!(sizes(0x13), (4096, 4096, None));
        assert_eq!(sizes(0x17), (65536, 65536, None));
        let f = TablespaceFlags::decode(0x35).unwrap();
        assert_eq!(
            f.page_compression(),
            Some(PageCompression::FullCrc32(CompressionAlgorithm::Zlib))
        );
        assert_eq!(
            TablespaceFlags::decode(0x10021).unwrap().page_compression(),
            Some(PageCompression::PerPage)
        );
        assert_eq!(
            TablespaceFlags::decode(0x4021).unwrap().vendor(),
            Vendor::MySql
        );
        assert!(TablespaceFlags::decode(0x6021).unwrap().mysql_encryption());
        assert_eq!(
            TablespaceFlags::decode(0x21).unwrap().vendor(),
            Vendor::Unknown
        );
        assert_eq!(
            TablespaceFlags::decode(0x15).unwrap().vendor(),
            Vendor::MariaDb
        );
    }

    #[test]
    fn invalid_words() {
        for raw in [
            0x40,                    // page_ssize 1
            0x20,                    // atomic blobs without post antelope
            0x03,                    // zip without atomic blobs
            0x2D,                    // zip_ssize 6: larger than 16K
            0x18,                    // full_crc32 with page_ssize 8
            0x1F5,                   // full_crc32 with bits 8+
            0xF5,                    // full_crc32 algorithm 7
            0x4000 | 0x10000 | 0x21, // MySQL SDI bit with MariaDB compression bit
            0x8000_0021,             // in-memory-only bits
        ] {
            assert!(TablespaceFlags::decode(raw).is_err(), "{raw:#x}");
        }
    }

    #[test]
    fn mariadb_101_conversion() {
        // 10.1 layout: DYNAMIC (0x21), PAGE_COMPRESSION (bit 6), level 6 (bits 7..10),
        // page size 8K (ssize 4 at bits 13..16). Invalid as classic (ssize bits 6..9 = 0b1101).
        let raw = 0x21 | 1 << 6 | 6 << 7 | 4 << 13;
        assert!(TablespaceFlags::decode_as(raw, FlagsLayout::Classic).is_err());
        let f = TablespaceFlags::decode(raw).unwrap();
        assert_eq!(f.layout(), FlagsLayout::MariaDb101);
        assert_eq!(f.logical_page_size(), 8192);
        assert_eq!(f.classic_equivalent(), 0x21 | 4 << 6 | 1 << 16);
        assert_eq!(f.page_compression(), Some(PageCompression::Level(6)));
    }

    #[test]
    fn never_panics_and_sizes_are_sane() {
        for raw in (0..=0x3FFFFu32).chain([u32::MAX, 0xFFFF_0000, 0x8000_0000]) {
            if let Ok(f) = TablespaceFlags::decode(raw) {
                assert!(crate::page::is_valid_page_size(
                    f.physical_page_size() as usize
                ));
                assert!(f.physical_page_size() <= f.logical_page_size());
                assert!(f.logical_page_size() >= 4096);
            }
        }
    }
}
