//! `FIL_PAGE_TYPE` codes, and the server family that decides what a code means.

/// Which server family wrote a tablespace. Page type 18 means different things in MySQL and
/// MariaDB, and some flag bits exist in only one of them.
///
/// ```
/// use innodb_page::page_type::{PageType, Vendor};
/// assert_eq!(PageType::from_raw(18, Vendor::MySql, false), PageType::SdiBlob);
/// assert_eq!(PageType::from_raw(18, Vendor::MariaDb, false), PageType::Instant);
/// assert_eq!(PageType::from_raw(18, Vendor::Unknown, false), PageType::SdiBlobOrInstant);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Vendor {
    /// Oracle MySQL or Percona Server.
    MySql,
    /// MariaDB.
    MariaDb,
    /// Not decidable from the data (MySQL 5.7 and classic-format MariaDB write identical pages).
    Unknown,
}

impl Vendor {
    /// Lower-case name used in reports: `mysql`, `mariadb`, `unknown`.
    pub fn name(self) -> &'static str {
        match self {
            Vendor::MySql => "mysql",
            Vendor::MariaDb => "mariadb",
            Vendor::Unknown => "unknown",
        }
    }
}

macro_rules! page_types {
    ($( $(#[$doc:meta])* $variant:ident = $code:literal, $name:literal; )*) => {
        /// A page type (`FIL_PAGE_TYPE`, 2 bytes at offset 24).
        ///
        /// Codes that no server defines are kept in [`PageType::Other`], so that
        /// [`PageType::to_raw`] always gives back the code that was read.
        ///
        /// ```
        /// use innodb_page::page_type::{PageType, Vendor};
        /// let t = PageType::from_raw(17855, Vendor::Unknown, false);
        /// assert_eq!(t, PageType::Index);
        /// assert_eq!(t.name(), "INDEX");
        /// assert_eq!(PageType::from_raw(4242, Vendor::Unknown, false).to_raw(), 4242);
        /// ```
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum PageType {
            $( $(#[$doc])* $variant, )*
            /// 18 in MySQL 8: SDI BLOB page.
            SdiBlob,
            /// 18 in MariaDB 10.3+: clustered index root after instant ADD COLUMN (an index page).
            Instant,
            /// 18 when the vendor is unknown: MySQL's SDI BLOB or MariaDB's instant root.
            SdiBlobOrInstant,
            /// MariaDB full_crc32 page-compressed page (`0x8000 | n`): `stored_size` = n × 256 bytes.
            FullCrc32Compressed {
                /// Bytes of the page slot that hold the compressed payload and its checksum.
                stored_size: u32,
            },
            /// A code no server defines (or one that is invalid in this tablespace format).
            Other(u16),
        }

        impl PageType {
            fn from_fixed(raw: u16) -> Option<PageType> {
                match raw {
                    $( $code => Some(PageType::$variant), )*
                    _ => None,
                }
            }

            /// The code as stored on the page.
            pub fn to_raw(self) -> u16 {
                match self {
                    $( PageType::$variant => $code, )*
                    PageType::SdiBlob | PageType::Instant | PageType::SdiBlobOrInstant => 18,
                    PageType::FullCrc32Compressed { stored_size } => 0x8000 | (stored_size >> 8) as u16,
                    PageType::Other(c) => c,
                }
            }

            /// Stable upper-case name (the server's name without the `FIL_PAGE_` prefix), as
            /// used in `--json` output. Unknown codes are named `UNKNOWN_<code>`.
            pub fn name(self) -> std::borrow::Cow<'static, str> {
                match self {
                    $( PageType::$variant => $name.into(), )*
                    PageType::SdiBlob => "SDI_BLOB".into(),
                    PageType::Instant => "TYPE_INSTANT".into(),
                    PageType::SdiBlobOrInstant => "SDI_BLOB_OR_INSTANT".into(),
                    PageType::FullCrc32Compressed { .. } => "PAGE_COMPRESSED_FULL_CRC32".into(),
                    PageType::Other(c) => format!("UNKNOWN_{c}").into(),
                }
            }
        }
    };
}

page_types! {
    /// 0: freshly allocated, never initialised.
    Allocated = 0, "ALLOCATED";
    /// 2: undo log page.
    UndoLog = 2, "UNDO_LOG";
    /// 3: file segment inodes.
    Inode = 3, "INODE";
    /// 4: insert buffer free list.
    IbufFreeList = 4, "IBUF_FREE_LIST";
    /// 5: change buffer bitmap.
    IbufBitmap = 5, "IBUF_BITMAP";
    /// 6: system page (also doublewrite-area pages, rollback segment headers).
    Sys = 6, "SYS";
    /// 7: transaction system header (page 5 of space 0).
    TrxSys = 7, "TRX_SYS";
    /// 8: tablespace header (page 0).
    FspHdr = 8, "FSP_HDR";
    /// 9: extent descriptor page.
    Xdes = 9, "XDES";
    /// 10: uncompressed BLOB page.
    Blob = 10, "BLOB";
    /// 11: first compressed BLOB page.
    ZBlob = 11, "ZBLOB";
    /// 12: subsequent compressed BLOB page.
    ZBlob2 = 12, "ZBLOB2";
    /// 13: the server's own "unknown" type (garbage normalised on flush in old files).
    Unknown = 13, "UNKNOWN";
    /// 14 (MySQL 5.7+): transparent page compression.
    Compressed = 14, "COMPRESSED";
    /// 15 (MySQL 5.7+): encrypted page.
    Encrypted = 15, "ENCRYPTED";
    /// 16 (MySQL 5.7+): compressed and encrypted page.
    CompressedAndEncrypted = 16, "COMPRESSED_AND_ENCRYPTED";
    /// 17 (MySQL 5.7+): encrypted R-tree page.
    EncryptedRtree = 17, "ENCRYPTED_RTREE";
    /// 19 (MySQL 8): compressed SDI BLOB page.
    SdiZblob = 19, "SDI_ZBLOB";
    /// 20 (MySQL 8): unused (8.0.0–8.0.19) or legacy doublewrite page (8.0.20+).
    LegacyDblwr = 20, "LEGACY_DBLWR";
    /// 21 (MySQL 8): rollback segment array (page 3 of undo tablespaces).
    RsegArray = 21, "RSEG_ARRAY";
    /// 22 (MySQL 8): LOB index page.
    LobIndex = 22, "LOB_INDEX";
    /// 23 (MySQL 8): LOB data page.
    LobData = 23, "LOB_DATA";
    /// 24 (MySQL 8): first LOB page.
    LobFirst = 24, "LOB_FIRST";
    /// 25 (MySQL 8): first compressed LOB page.
    ZlobFirst = 25, "ZLOB_FIRST";
    /// 26 (MySQL 8): compressed LOB data page.
    ZlobData = 26, "ZLOB_DATA";
    /// 27 (MySQL 8): compressed LOB index page.
    ZlobIndex = 27, "ZLOB_INDEX";
    /// 28 (MySQL 8): compressed LOB fragment page.
    ZlobFrag = 28, "ZLOB_FRAG";
    /// 29 (MySQL 8): compressed LOB fragment entry page.
    ZlobFragEntry = 29, "ZLOB_FRAG_ENTRY";
    /// 17853 (MySQL 8): serialized dictionary information index page.
    Sdi = 17853, "SDI";
    /// 17854: R-tree (spatial index) node.
    Rtree = 17854, "RTREE";
    /// 17855: B-tree index node.
    Index = 17855, "INDEX";
    /// 34354 (MariaDB 10.1+): page-compressed page of a non-full_crc32 tablespace.
    PageCompressed = 34354, "PAGE_COMPRESSED";
    /// 37401 (MariaDB 10.1+): page-compressed then encrypted page of a non-full_crc32 tablespace.
    PageCompressedEncrypted = 37401, "PAGE_COMPRESSED_ENCRYPTED";
}

impl PageType {
    /// Decodes a raw code. `full_crc32` says whether the tablespace uses MariaDB's full_crc32
    /// format, where any code with bit 15 set is a page-compressed page (and 34354/37401 are never
    /// written).
    pub fn from_raw(raw: u16, vendor: Vendor, full_crc32: bool) -> PageType {
        if full_crc32 && raw & 0x8000 != 0 {
            // Bits 8..14 must be zero; the low byte is the stored size in 256-byte units.
            if raw & 0x7F00 == 0 && raw & 0xFF != 0 {
                return PageType::FullCrc32Compressed {
                    stored_size: u32::from(raw & 0xFF) << 8,
                };
            }
            return PageType::Other(raw);
        }
        if raw == 18 {
            return match vendor {
                Vendor::MySql => PageType::SdiBlob,
                Vendor::MariaDb => PageType::Instant,
                Vendor::Unknown => PageType::SdiBlobOrInstant,
            };
        }
        match PageType::from_fixed(raw) {
            // MySQL-only codes in a MariaDB tablespace, and MariaDB-only codes in a MySQL one, are
            // still named: a mixed-up file is better reported by name than hidden.
            Some(t) => t,
            None => PageType::Other(raw),
        }
    }

    /// True for B-tree pages of any kind (INDEX, RTREE, SDI, MariaDB's instant root).
    pub fn is_index(self) -> bool {
        matches!(
            self,
            PageType::Index | PageType::Rtree | PageType::Sdi | PageType::Instant
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips() {
        for raw in 0..=u16::MAX {
            for vendor in [Vendor::MySql, Vendor::MariaDb, Vendor::Unknown] {
                for fc in [false, true] {
                    assert_eq!(PageType::from_raw(raw, vendor, fc).to_raw(), raw, "{raw}");
                }
            }
        }
    }

    #[test]
    fn full_crc32_compressed_sizes() {
        assert_eq!(
            PageType::from_raw(0x801C, Vendor::MariaDb, true),
            PageType::FullCrc32Compressed {
                stored_size: 0x1C00
            }
        );
        assert_eq!(
            PageType::from_raw(0x8100, Vendor::MariaDb, true),
            PageType::Other(0x8100)
        );
        assert_eq!(
            PageType::from_raw(34354, Vendor::MariaDb, false),
            PageType::PageCompressed
        );
    }
}
