//! Page checksum validation, deciding corruption the way MySQL, Percona Server and MariaDB do.
//!
//! [`validate`] looks at one page together with a [`ChecksumContext`] (what the tablespace flags
//! and page 0 say) and returns a [`Verdict`]: valid with the [`Algorithm`] that matched, empty
//! (never written), unverifiable without keys or decompression, or corrupt with the reason.
//!
//! The procedure is the vendor-neutral one recommended by the format specification:
//!
//! 1. MariaDB `full_crc32` tablespaces: CRC-32C of `[0, L-4)` stored at `L-4`, where `L` is the
//!    page size or, for page-compressed pages (type `0x8000 | n`), `n × 256`; plus the trailer LSN
//!    copy on pages that are neither encrypted nor compressed.
//! 2. Pages that can only be checked after decryption or decompression: MySQL types 14–17,
//!    MariaDB classic page compression (34354, 37401).
//! 3. Uncompressed classic pages: the low LSN word at 20 must be repeated at `S-4`.
//! 4. MariaDB classic encryption (key version at 26 ≠ 0): the post-encryption checksum at 30.
//! 5. All-zero (never written) pages, following each server's rule.
//! 6. ROW_FORMAT=COMPRESSED pages: crc32, legacy big-endian crc32, Adler-32 (seed 0) or
//!    `0xDEADBEEF` at offset 0.
//! 7. Other classic pages: crc32, legacy big-endian crc32, `innodb` (fold) or `none`, and the
//!    pre-4.0.14 and MariaDB lenient field combinations the servers still accept.
//!
//! The fast path (crc32 and full_crc32) costs one or two hardware CRC-32C passes over the page;
//! the slow legacy algorithms are computed only when crc32 did not match.
//!
//! ```
//! use innodb_page::checksum::{stamp, validate, Algorithm, ChecksumContext, Verdict};
//! use innodb_page::Page;
//!
//! let mut buf = vec![0u8; 16384];
//! buf[24..26].copy_from_slice(&17855u16.to_be_bytes()); // INDEX
//! buf[16..24].copy_from_slice(&1234u64.to_be_bytes()); // page LSN
//! stamp(&mut buf, Algorithm::Crc32).unwrap();
//! let ctx = ChecksumContext::default(); // classic format, vendor unknown
//! assert_eq!(validate(Page::new(&buf).unwrap(), &ctx), Verdict::Valid(Algorithm::Crc32));
//!
//! buf[100] ^= 1;
//! let verdict = validate(Page::new(&buf).unwrap(), &ctx);
//! assert!(!verdict.is_sound());
//! assert!(verdict.to_string().starts_with("corrupt: checksum mismatch"));
//! ```

use std::fmt;

use byteorder::{BigEndian, ByteOrder};
use thiserror::Error;

use crate::page::{is_all_zero, offset};
use crate::page_type::Vendor;
use crate::{Page, PageError};

/// `BUF_NO_CHECKSUM_MAGIC`: the value written by the `none` algorithm.
pub const NO_CHECKSUM_MAGIC: u32 = 0xDEAD_BEEF;

/// First fold constant (`UT_HASH_RANDOM_MASK`).
pub const FOLD_M1: u32 = 1_463_735_687;
/// Second fold constant (`UT_HASH_RANDOM_MASK2`).
pub const FOLD_M2: u32 = 1_653_893_711;

/// Page type codes this module needs to look at.
mod ty {
    pub const MYSQL_COMPRESSED: u16 = 14;
    pub const MYSQL_ENCRYPTED: u16 = 15;
    pub const MYSQL_COMPRESSED_AND_ENCRYPTED: u16 = 16;
    pub const MYSQL_ENCRYPTED_RTREE: u16 = 17;
    pub const FSP_HDR: u16 = 8;
    pub const XDES: u16 = 9;
    pub const RTREE: u16 = 17854;
    pub const PAGE_COMPRESSED: u16 = 34354;
    pub const PAGE_COMPRESSED_ENCRYPTED: u16 = 37401;
}

/// Offset of the MariaDB classic-format post-encryption checksum.
const POST_ENCRYPTION_CHECKSUM: usize = 30;

// ---------------------------------------------------------------------------------------------
// Context
// ---------------------------------------------------------------------------------------------

/// What a tablespace's flags and page 0 say about how its pages are checksummed.
///
/// `Default` is a classic-format (crc32/innodb/none), uncompressed, unencrypted tablespace of an
/// unknown vendor. When both `full_crc32` and `zip` are set (an impossible combination),
/// `full_crc32` wins.
///
/// ```
/// use innodb_page::checksum::ChecksumContext;
/// use innodb_page::page_type::Vendor;
/// let ctx = ChecksumContext { full_crc32: true, vendor: Vendor::MariaDb, ..Default::default() };
/// assert!(!ctx.zip);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChecksumContext {
    /// MariaDB full_crc32 format (flags bit 4).
    pub full_crc32: bool,
    /// ROW_FORMAT=COMPRESSED: pages are zip pages of the physical size (no trailer).
    pub zip: bool,
    /// MariaDB classic-format PAGE_COMPRESSION flag (bit 16): pages of type 34354/37401 may occur.
    pub page_compression: bool,
    /// Encryption is set up: MariaDB crypt data on page 0 (classic format: a non-zero key version
    /// at 26..30 means the page is encrypted), or MySQL's TDE flag (bit 13).
    pub encrypted: bool,
    /// Which server family wrote it (decides e.g. the all-zero rule and MySQL-only types 14–17).
    pub vendor: Vendor,
}

impl Default for ChecksumContext {
    fn default() -> Self {
        ChecksumContext {
            full_crc32: false,
            zip: false,
            page_compression: false,
            encrypted: false,
            vendor: Vendor::Unknown,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Algorithms and verdicts
// ---------------------------------------------------------------------------------------------

/// A checksum algorithm (or accepted combination of checksum fields) that made a page valid.
///
/// ```
/// use innodb_page::checksum::Algorithm;
/// assert_eq!(Algorithm::FullCrc32.name(), "full_crc32");
/// assert_eq!(Algorithm::from_name("zip_adler32"), Some(Algorithm::ZipAdler32));
/// for a in Algorithm::ALL {
///     assert_eq!(Algorithm::from_name(a.name()), Some(a));
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// Classic page: `CRC32C([4,26)) ^ CRC32C([38,S-8))` in both fields (offset 0 and `S-8`).
    Crc32,
    /// Classic page: the crc32 of MySQL 5.6 on big-endian CPUs (8-byte words byte-reversed).
    Crc32LegacyBigEndian,
    /// Classic page: the legacy fold checksums (field1 new or 0, field2 old or the high LSN word),
    /// with at least one of the two fold values matching.
    Innodb,
    /// Classic page: `0xDEADBEEF` in both fields.
    None,
    /// Classic page: field1 = 0 and field2 = the high LSN word (the pre-4.0.14 layout). Both
    /// servers accept it, but no checksum covers the page.
    LegacyUnchecked,
    /// Classic page whose two fields pass MariaDB's field-by-field rule without forming one of the
    /// algorithms above (e.g. field1 = `0xDEADBEEF`, field2 = innodb old). MySQL rejects these.
    MariaDbMixed,
    /// MariaDB full_crc32: CRC-32C of `[0, L-4)` at `L-4` (plain, page-compressed or encrypted).
    FullCrc32,
    /// ROW_FORMAT=COMPRESSED page: `CRC32C([4,16)) ^ CRC32C([24,26)) ^ CRC32C([34,P))` at 0.
    ZipCrc32,
    /// ROW_FORMAT=COMPRESSED page: the big-endian legacy variant of [`Algorithm::ZipCrc32`].
    ZipCrc32LegacyBigEndian,
    /// ROW_FORMAT=COMPRESSED page: Adler-32 with seed 0 over the same ranges (the `innodb`
    /// algorithm for zip pages).
    ZipAdler32,
    /// ROW_FORMAT=COMPRESSED page: `0xDEADBEEF` at 0.
    ZipNone,
    /// MariaDB classic encrypted page: the crc32 page checksum of the encrypted page at 30.
    PostEncryptionCrc32,
    /// MariaDB classic encrypted page: the innodb new (fold) checksum of the encrypted page at 30.
    PostEncryptionInnodb,
    /// MariaDB classic encrypted page: `0xDEADBEEF` at 30.
    PostEncryptionNone,
    /// MariaDB encrypted ROW_FORMAT=COMPRESSED page: the zip crc32 of the encrypted page at 30.
    PostEncryptionZipCrc32,
    /// MariaDB encrypted ROW_FORMAT=COMPRESSED page: the zip Adler-32 of the encrypted page at 30.
    PostEncryptionZipAdler32,
    /// MariaDB encrypted ROW_FORMAT=COMPRESSED page: `0xDEADBEEF` at 30.
    PostEncryptionZipNone,
}

impl Algorithm {
    /// Every algorithm, in declaration order.
    pub const ALL: [Algorithm; 17] = [
        Algorithm::Crc32,
        Algorithm::Crc32LegacyBigEndian,
        Algorithm::Innodb,
        Algorithm::None,
        Algorithm::LegacyUnchecked,
        Algorithm::MariaDbMixed,
        Algorithm::FullCrc32,
        Algorithm::ZipCrc32,
        Algorithm::ZipCrc32LegacyBigEndian,
        Algorithm::ZipAdler32,
        Algorithm::ZipNone,
        Algorithm::PostEncryptionCrc32,
        Algorithm::PostEncryptionInnodb,
        Algorithm::PostEncryptionNone,
        Algorithm::PostEncryptionZipCrc32,
        Algorithm::PostEncryptionZipAdler32,
        Algorithm::PostEncryptionZipNone,
    ];

    /// Stable lower-case name, as used in JSON output.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Crc32 => "crc32",
            Algorithm::Crc32LegacyBigEndian => "crc32_legacy_big_endian",
            Algorithm::Innodb => "innodb",
            Algorithm::None => "none",
            Algorithm::LegacyUnchecked => "legacy_unchecked",
            Algorithm::MariaDbMixed => "mariadb_mixed",
            Algorithm::FullCrc32 => "full_crc32",
            Algorithm::ZipCrc32 => "zip_crc32",
            Algorithm::ZipCrc32LegacyBigEndian => "zip_crc32_legacy_big_endian",
            Algorithm::ZipAdler32 => "zip_adler32",
            Algorithm::ZipNone => "zip_none",
            Algorithm::PostEncryptionCrc32 => "post_encryption_crc32",
            Algorithm::PostEncryptionInnodb => "post_encryption_innodb",
            Algorithm::PostEncryptionNone => "post_encryption_none",
            Algorithm::PostEncryptionZipCrc32 => "post_encryption_zip_crc32",
            Algorithm::PostEncryptionZipAdler32 => "post_encryption_zip_adler32",
            Algorithm::PostEncryptionZipNone => "post_encryption_zip_none",
        }
    }

    /// The algorithm with this [`Algorithm::name`].
    pub fn from_name(name: &str) -> Option<Algorithm> {
        Algorithm::ALL.into_iter().find(|a| a.name() == name)
    }

    /// True when a real checksum covered the page content; false for the `none` magic values,
    /// [`Algorithm::LegacyUnchecked`] and [`Algorithm::MariaDbMixed`] (which may be unchecked).
    pub fn verifies_content(self) -> bool {
        !matches!(
            self,
            Algorithm::None
                | Algorithm::ZipNone
                | Algorithm::PostEncryptionNone
                | Algorithm::PostEncryptionZipNone
                | Algorithm::LegacyUnchecked
                | Algorithm::MariaDbMixed
        )
    }

    /// True for the algorithms of ROW_FORMAT=COMPRESSED pages.
    pub fn is_zip(self) -> bool {
        matches!(
            self,
            Algorithm::ZipCrc32
                | Algorithm::ZipCrc32LegacyBigEndian
                | Algorithm::ZipAdler32
                | Algorithm::ZipNone
                | Algorithm::PostEncryptionZipCrc32
                | Algorithm::PostEncryptionZipAdler32
                | Algorithm::PostEncryptionZipNone
        )
    }

    /// True for the MariaDB post-encryption checksums (bytes 30..34 of classic encrypted pages).
    pub fn is_post_encryption(self) -> bool {
        matches!(
            self,
            Algorithm::PostEncryptionCrc32
                | Algorithm::PostEncryptionInnodb
                | Algorithm::PostEncryptionNone
                | Algorithm::PostEncryptionZipCrc32
                | Algorithm::PostEncryptionZipAdler32
                | Algorithm::PostEncryptionZipNone
        )
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a page cannot be checked without encryption keys or decompression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Unverifiable {
    /// MySQL TDE page (type 15 ENCRYPTED, 16 COMPRESSED_AND_ENCRYPTED or 17 ENCRYPTED_RTREE): the
    /// checksum and the trailer are those of the plaintext, which needs the keyring.
    MySqlEncrypted {
        /// The page type (15, 16 or 17).
        page_type: u16,
    },
    /// MySQL transparent page compression (type 14): the checksum is the uncompressed page's.
    MySqlCompressed,
    /// MariaDB classic page compression (type 34354): the checksum is inside the compressed stream.
    MariaDbPageCompressed,
    /// MariaDB classic page compression plus encryption (type 37401): no checksum before
    /// decryption and decompression.
    MariaDbPageCompressedEncrypted,
}

impl Unverifiable {
    /// Stable lower-case name for JSON output.
    pub fn name(self) -> &'static str {
        match self {
            Unverifiable::MySqlEncrypted { .. } => "mysql_encrypted",
            Unverifiable::MySqlCompressed => "mysql_compressed",
            Unverifiable::MariaDbPageCompressed => "mariadb_page_compressed",
            Unverifiable::MariaDbPageCompressedEncrypted => "mariadb_page_compressed_encrypted",
        }
    }
}

impl fmt::Display for Unverifiable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unverifiable::MySqlEncrypted { page_type } => write!(
                f,
                "MySQL encrypted page (type {page_type}): the checksum needs the tablespace key"
            ),
            Unverifiable::MySqlCompressed => f.write_str(
                "MySQL transparently compressed page (type 14): the checksum needs decompression",
            ),
            Unverifiable::MariaDbPageCompressed => f.write_str(
                "MariaDB page-compressed page (type 34354): the checksum needs decompression",
            ),
            Unverifiable::MariaDbPageCompressedEncrypted => f.write_str(
                "MariaDB page-compressed encrypted page (type 37401): the checksum needs the key \
                 and decompression",
            ),
        }
    }
}

/// Why a page is corrupt. The stored and computed values are given so that a report can print
/// e.g. "stored 0x.., crc32 0x.., innodb 0x..".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Corruption {
    /// The low 32 bits of the page LSN (bytes 20..24) are not repeated in the trailer
    /// (`S-4` in classic pages, `S-8` in plain full_crc32 pages): typically a torn write.
    LsnMismatch {
        /// Bytes 20..24.
        header_low: u32,
        /// The trailer copy.
        trailer: u32,
    },
    /// Classic uncompressed page: no accepted algorithm matches the two checksum fields.
    ClassicMismatch {
        /// Field 1 (offset 0).
        field1: u32,
        /// Field 2 (offset `S-8`).
        field2: u32,
        /// The crc32 page checksum.
        crc32: u32,
        /// The legacy big-endian crc32 page checksum.
        crc32_legacy_big_endian: u32,
        /// The innodb "new" checksum (expected in field 1).
        innodb_new: u32,
        /// The innodb "old" checksum (expected in field 2).
        innodb_old: u32,
    },
    /// ROW_FORMAT=COMPRESSED page: the checksum at offset 0 matches no algorithm.
    ZipMismatch {
        /// The checksum at offset 0.
        stored: u32,
        /// The zip crc32.
        crc32: u32,
        /// The zip legacy big-endian crc32.
        crc32_legacy_big_endian: u32,
        /// The zip Adler-32 (seed 0).
        adler32: u32,
    },
    /// ROW_FORMAT=COMPRESSED page with checksum 0 and LSN 0 that is not all zero: both servers
    /// reject it without trying any algorithm.
    ZipEmptyNotZero,
    /// MariaDB full_crc32 page: the stored CRC-32C does not match.
    FullCrc32Mismatch {
        /// The stored value (at `L-4`).
        stored: u32,
        /// CRC-32C of `[0, L-4)`.
        computed: u32,
    },
    /// MariaDB full_crc32 page whose type has bit 15 set (page-compressed) but whose stored size
    /// is zero or not smaller than the page.
    FullCrc32BadCompressedSize {
        /// The raw page type.
        page_type: u16,
        /// The stored size it implies, in bytes.
        size: usize,
        /// The physical page size.
        page_size: usize,
    },
    /// MariaDB classic encrypted page: the post-encryption checksum at 30 matches nothing.
    PostEncryptionMismatch {
        /// Bytes 30..34.
        stored: u32,
        /// The crc32 page checksum of the encrypted page.
        crc32: u32,
        /// The innodb "new" checksum of the encrypted page.
        innodb_new: u32,
    },
    /// MariaDB encrypted ROW_FORMAT=COMPRESSED page: the post-encryption checksum matches nothing.
    PostEncryptionZipMismatch {
        /// Bytes 30..34.
        stored: u32,
        /// The zip crc32 of the encrypted page.
        crc32: u32,
        /// The zip Adler-32 of the encrypted page.
        adler32: u32,
    },
}

impl Corruption {
    /// Stable lower-case name for JSON output.
    pub fn name(self) -> &'static str {
        match self {
            Corruption::LsnMismatch { .. } => "lsn_mismatch",
            Corruption::ClassicMismatch { .. } => "checksum_mismatch",
            Corruption::ZipMismatch { .. } => "zip_checksum_mismatch",
            Corruption::ZipEmptyNotZero => "zip_empty_not_zero",
            Corruption::FullCrc32Mismatch { .. } => "full_crc32_mismatch",
            Corruption::FullCrc32BadCompressedSize { .. } => "full_crc32_bad_compressed_size",
            Corruption::PostEncryptionMismatch { .. } => "post_encryption_mismatch",
            Corruption::PostEncryptionZipMismatch { .. } => "post_encryption_zip_mismatch",
        }
    }
}

impl fmt::Display for Corruption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Corruption::LsnMismatch {
                header_low,
                trailer,
            } => write!(
                f,
                "LSN mismatch: header low word {header_low:#010x}, trailer {trailer:#010x}"
            ),
            Corruption::ClassicMismatch {
                field1,
                field2,
                crc32,
                crc32_legacy_big_endian,
                innodb_new,
                innodb_old,
            } => write!(
                f,
                "checksum mismatch: stored {field1:#010x}/{field2:#010x}, crc32 {crc32:#010x}, \
                 crc32 (legacy big-endian) {crc32_legacy_big_endian:#010x}, \
                 innodb {innodb_new:#010x}/{innodb_old:#010x}, none {NO_CHECKSUM_MAGIC:#010x}"
            ),
            Corruption::ZipMismatch {
                stored,
                crc32,
                crc32_legacy_big_endian,
                adler32,
            } => write!(
                f,
                "compressed-page checksum mismatch: stored {stored:#010x}, crc32 {crc32:#010x}, \
                 crc32 (legacy big-endian) {crc32_legacy_big_endian:#010x}, \
                 innodb (adler32) {adler32:#010x}, none {NO_CHECKSUM_MAGIC:#010x}"
            ),
            Corruption::ZipEmptyNotZero => {
                f.write_str("compressed page with checksum 0 and LSN 0 is not all zero")
            }
            Corruption::FullCrc32Mismatch { stored, computed } => write!(
                f,
                "full_crc32 checksum mismatch: stored {stored:#010x}, computed {computed:#010x}"
            ),
            Corruption::FullCrc32BadCompressedSize {
                page_type,
                size,
                page_size,
            } => write!(
                f,
                "full_crc32 page type {page_type:#06x} claims a compressed size of {size} bytes \
                 (page size {page_size})"
            ),
            Corruption::PostEncryptionMismatch {
                stored,
                crc32,
                innodb_new,
            } => write!(
                f,
                "post-encryption checksum mismatch: stored {stored:#010x}, crc32 {crc32:#010x}, \
                 innodb {innodb_new:#010x}, none {NO_CHECKSUM_MAGIC:#010x}"
            ),
            Corruption::PostEncryptionZipMismatch {
                stored,
                crc32,
                adler32,
            } => write!(
                f,
                "post-encryption compressed-page checksum mismatch: stored {stored:#010x}, \
                 crc32 {crc32:#010x}, innodb (adler32) {adler32:#010x}, \
                 none {NO_CHECKSUM_MAGIC:#010x}"
            ),
        }
    }
}

/// The outcome of [`validate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Verdict {
    /// The page is valid: this algorithm matched.
    Valid(Algorithm),
    /// The page was never written (all zero under the applicable server rule).
    Empty,
    /// The page cannot be checked without keys or decompression.
    Unverifiable(Unverifiable),
    /// The page is corrupt.
    Corrupt(Corruption),
}

impl Verdict {
    /// True unless the page is corrupt: valid, empty or unverifiable.
    pub fn is_sound(&self) -> bool {
        !self.is_corrupt()
    }

    /// True when a checksum algorithm matched.
    pub fn is_valid(&self) -> bool {
        matches!(self, Verdict::Valid(_))
    }

    /// True when the page is corrupt.
    pub fn is_corrupt(&self) -> bool {
        matches!(self, Verdict::Corrupt(_))
    }

    /// The algorithm that matched, for valid pages.
    pub fn algorithm(&self) -> Option<Algorithm> {
        match self {
            Verdict::Valid(a) => Some(*a),
            _ => None,
        }
    }

    /// Stable lower-case name of the outcome: `valid`, `empty`, `unverifiable`, `corrupt`.
    pub fn name(&self) -> &'static str {
        match self {
            Verdict::Valid(_) => "valid",
            Verdict::Empty => "empty",
            Verdict::Unverifiable(_) => "unverifiable",
            Verdict::Corrupt(_) => "corrupt",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Valid(a) => write!(f, "valid ({a})"),
            Verdict::Empty => f.write_str("empty (never written)"),
            Verdict::Unverifiable(u) => write!(f, "unverifiable: {u}"),
            Verdict::Corrupt(c) => write!(f, "corrupt: {c}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Primitives
// ---------------------------------------------------------------------------------------------

/// Standard CRC-32C (Castagnoli) of `data` (hardware-accelerated when the CPU allows).
///
/// ```
/// assert_eq!(innodb_page::checksum::crc32c(b"123456789"), 0xE306_9283);
/// ```
#[inline]
pub fn crc32c(data: &[u8]) -> u32 {
    crc32c::crc32c(data)
}

/// CRC-32C as computed by MySQL 5.6's software implementation on big-endian CPUs: bytes are fed
/// singly until an 8-byte-aligned address, then each full 8-byte chunk is fed in reverse byte
/// order, then the tail singly. `align` is the distance of `data[0]` from the previous 8-byte
/// boundary (the server's page buffers are 8-aligned, so pass the offset within the page).
///
/// ```
/// use innodb_page::checksum::{crc32c, crc32c_legacy_big_endian};
/// // Shorter than the first aligned chunk: identical to the plain CRC-32C.
/// assert_eq!(crc32c_legacy_big_endian(b"abc", 4), crc32c(b"abc"));
/// assert_eq!(crc32c_legacy_big_endian(b"12345678", 0), crc32c(b"87654321"));
/// ```
pub fn crc32c_legacy_big_endian(data: &[u8], align: usize) -> u32 {
    let head = ((8 - align % 8) % 8).min(data.len());
    let (first, rest) = data.split_at(head);
    let mut crc = crc32c::crc32c(first);
    let mut chunks = rest.chunks_exact(8);
    let mut buf = [0u8; 4096];
    loop {
        let mut n = 0;
        for (dst, src) in buf.chunks_exact_mut(8).zip(chunks.by_ref()) {
            let mut word = [0u8; 8];
            word.copy_from_slice(src);
            word.reverse();
            dst.copy_from_slice(&word);
            n += 8;
        }
        if n == 0 {
            break;
        }
        crc = crc32c::crc32c_append(crc, &buf[..n]);
    }
    crc32c::crc32c_append(crc, chunks.remainder())
}

/// InnoDB's `ut_fold_ulint_pair`, exact in 32-bit wrapping arithmetic.
///
/// ```
/// assert_eq!(innodb_page::checksum::fold_pair(0, 0), 0xC354_9A87);
/// ```
#[inline]
pub const fn fold_pair(n1: u32, n2: u32) -> u32 {
    ((((n1 ^ n2 ^ FOLD_M2) << 8).wrapping_add(n1)) ^ FOLD_M1).wrapping_add(n2)
}

/// InnoDB's `ut_fold_binary`: [`fold_pair`] applied to every byte in order, starting from 0.
///
/// ```
/// assert_eq!(innodb_page::checksum::fold_bytes(b"123456789"), 0xBFC5_157C);
/// ```
pub fn fold_bytes(data: &[u8]) -> u32 {
    data.iter().fold(0u32, |f, &b| fold_pair(f, u32::from(b)))
}

/// zlib's Adler-32 continued from `adler` (pass 0 to start, as InnoDB does — not the usual 1).
///
/// ```
/// use innodb_page::checksum::adler32;
/// assert_eq!(adler32(1, b"Wikipedia"), 0x11E6_0398); // the usual seed 1
/// assert_eq!(adler32(0, b""), 0);
/// assert_eq!(adler32(adler32(0, b"Wiki"), b"pedia"), adler32(0, b"Wikipedia"));
/// ```
pub fn adler32(adler: u32, data: &[u8]) -> u32 {
    const MOD: u32 = 65521;
    // Largest n such that 255·n·(n+1)/2 + (n+1)·(MOD-1) fits in 32 bits.
    const NMAX: usize = 5552;
    let mut a = (adler & 0xFFFF) % MOD;
    let mut b = (adler >> 16) % MOD;
    for chunk in data.chunks(NMAX) {
        for &x in chunk {
            a += u32::from(x);
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    (b << 16) | a
}

// ---------------------------------------------------------------------------------------------
// Page-level checksums
// ---------------------------------------------------------------------------------------------

#[inline]
fn be32(b: &[u8], off: usize) -> u32 {
    BigEndian::read_u32(&b[off..off + 4])
}

/// The crc32 page checksum of a classic uncompressed page:
/// `CRC32C([4,26)) ^ CRC32C([38,S-8))`.
pub fn crc32_page(page: Page<'_>) -> u32 {
    let b = page.as_bytes();
    let s = b.len();
    crc32c::crc32c(&b[4..26]) ^ crc32c::crc32c(&b[38..s - 8])
}

/// The legacy big-endian variant of [`crc32_page`] (MySQL 5.6 on big-endian CPUs).
pub fn crc32_legacy_big_endian_page(page: Page<'_>) -> u32 {
    let b = page.as_bytes();
    let s = b.len();
    crc32c_legacy_big_endian(&b[4..26], 4) ^ crc32c_legacy_big_endian(&b[38..s - 8], 38)
}

/// The innodb "new" checksum (field 1): `fold([4,26)) + fold([38,S-8))`, wrapping.
pub fn innodb_new(page: Page<'_>) -> u32 {
    let b = page.as_bytes();
    let s = b.len();
    fold_bytes(&b[4..26]).wrapping_add(fold_bytes(&b[38..s - 8]))
}

/// The innodb "old" checksum (field 2): `fold([0,26))` — includes field 1.
pub fn innodb_old(page: Page<'_>) -> u32 {
    fold_bytes(&page.as_bytes()[..26])
}

/// The payload of a MariaDB full_crc32 page: its length `L` (the checksum is at `L-4`) and
/// whether the page is page-compressed. `None` when the type claims compression (bit 15) but the
/// size it encodes is 0 or not smaller than the page (the page is corrupt).
///
/// ```
/// use innodb_page::checksum::full_crc32_payload;
/// use innodb_page::Page;
/// let mut buf = vec![0u8; 16384];
/// assert_eq!(full_crc32_payload(Page::new(&buf).unwrap()), Some((16384, false)));
/// buf[24..26].copy_from_slice(&0x801Cu16.to_be_bytes());
/// assert_eq!(full_crc32_payload(Page::new(&buf).unwrap()), Some((0x1C00, true)));
/// buf[24..26].copy_from_slice(&0x8100u16.to_be_bytes()); // bits 8..14 set: too big
/// assert_eq!(full_crc32_payload(Page::new(&buf).unwrap()), None);
/// ```
pub fn full_crc32_payload(page: Page<'_>) -> Option<(usize, bool)> {
    let t = page.raw_page_type();
    let s = page.size();
    if t & 0x8000 == 0 {
        return Some((s, false));
    }
    let len = usize::from(t & 0x7FFF) << 8;
    if len == 0 || len >= s {
        None
    } else {
        Some((len, true))
    }
}

/// The MariaDB full_crc32 checksum: CRC-32C of `[0, L-4)` (see [`full_crc32_payload`]), or
/// `None` when the compressed size is invalid.
pub fn full_crc32(page: Page<'_>) -> Option<u32> {
    let (len, _) = full_crc32_payload(page)?;
    Some(crc32c::crc32c(&page.as_bytes()[..len - 4]))
}

/// The ROW_FORMAT=COMPRESSED page crc32: `CRC32C([4,16)) ^ CRC32C([24,26)) ^ CRC32C([34,P))`.
pub fn zip_crc32(page: Page<'_>) -> u32 {
    let b = page.as_bytes();
    crc32c::crc32c(&b[4..16]) ^ crc32c::crc32c(&b[24..26]) ^ crc32c::crc32c(&b[34..])
}

/// The legacy big-endian variant of [`zip_crc32`].
pub fn zip_crc32_legacy_big_endian(page: Page<'_>) -> u32 {
    let b = page.as_bytes();
    crc32c_legacy_big_endian(&b[4..16], 4)
        ^ crc32c_legacy_big_endian(&b[24..26], 24)
        ^ crc32c_legacy_big_endian(&b[34..], 34)
}

/// The ROW_FORMAT=COMPRESSED page "innodb" checksum: Adler-32 with seed 0 over `[4,16)`,
/// continued over `[24,26)` and `[34,P)`.
pub fn zip_adler32(page: Page<'_>) -> u32 {
    let b = page.as_bytes();
    let a = adler32(0, &b[4..16]);
    let a = adler32(a, &b[24..26]);
    adler32(a, &b[34..])
}

/// The low 32 bits of the page LSN (bytes 20..24).
#[inline]
fn lsn_low(b: &[u8]) -> u32 {
    be32(b, offset::LSN + 4)
}

/// Zero everywhere except bytes 26..34 (flush LSN / key version), the classic-format rule.
fn zero_except_26_34(b: &[u8]) -> bool {
    is_all_zero(&b[..26]) && is_all_zero(&b[34..])
}

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

/// Decides whether a page is valid, empty, unverifiable or corrupt, following the servers' rules
/// (see the module documentation). Never panics.
///
/// Page-number and space-id cross-checks are not done here (they need the position in the file).
pub fn validate(page: Page<'_>, ctx: &ChecksumContext) -> Verdict {
    if ctx.full_crc32 {
        return validate_full_crc32(page);
    }
    let t = page.raw_page_type();
    if ctx.vendor != Vendor::MariaDb {
        // MySQL-only types; MariaDB never writes them, so an unknown vendor means MySQL here.
        match t {
            ty::MYSQL_ENCRYPTED
            | ty::MYSQL_COMPRESSED_AND_ENCRYPTED
            | ty::MYSQL_ENCRYPTED_RTREE => {
                return Verdict::Unverifiable(Unverifiable::MySqlEncrypted { page_type: t })
            }
            ty::MYSQL_COMPRESSED => return Verdict::Unverifiable(Unverifiable::MySqlCompressed),
            _ => {}
        }
    }
    if ctx.zip {
        return validate_zip(page, ctx);
    }
    if ctx.page_compression {
        match t {
            ty::PAGE_COMPRESSED => {
                return Verdict::Unverifiable(Unverifiable::MariaDbPageCompressed)
            }
            ty::PAGE_COMPRESSED_ENCRYPTED => {
                return Verdict::Unverifiable(Unverifiable::MariaDbPageCompressedEncrypted)
            }
            _ => {}
        }
    }
    validate_classic(page, ctx)
}

/// MariaDB classic-format encryption applies to this page: the tablespace has crypt data, the key
/// version at 26 is non-zero, and the page type is one that gets encrypted.
fn mariadb_classic_encrypted(page: Page<'_>, ctx: &ChecksumContext) -> bool {
    ctx.encrypted
        && ctx.vendor != Vendor::MySql
        && page.key_version_at_26() != 0
        && !matches!(page.raw_page_type(), ty::FSP_HDR | ty::XDES | ty::RTREE)
}

fn validate_full_crc32(page: Page<'_>) -> Verdict {
    let b = page.as_bytes();
    let s = b.len();
    let Some((len, compressed)) = full_crc32_payload(page) else {
        return Verdict::Corrupt(Corruption::FullCrc32BadCompressedSize {
            page_type: page.raw_page_type(),
            size: usize::from(page.raw_page_type() & 0x7FFF) << 8,
            page_size: s,
        });
    };
    let stored = be32(b, len - 4);
    if stored == 0 && !compressed && is_all_zero(b) {
        return Verdict::Empty;
    }
    let computed = crc32c::crc32c(&b[..len - 4]);
    if stored != computed {
        return Verdict::Corrupt(Corruption::FullCrc32Mismatch { stored, computed });
    }
    if !compressed && page.space_or_checksum() == 0 {
        let header_low = lsn_low(b);
        let trailer = be32(b, s - 8);
        if header_low != trailer {
            return Verdict::Corrupt(Corruption::LsnMismatch {
                header_low,
                trailer,
            });
        }
    }
    Verdict::Valid(Algorithm::FullCrc32)
}

fn validate_zip(page: Page<'_>, ctx: &ChecksumContext) -> Verdict {
    let b = page.as_bytes();
    if mariadb_classic_encrypted(page, ctx) {
        let stored = page.post_encryption_checksum();
        let crc32 = zip_crc32(page);
        if stored == crc32 {
            return Verdict::Valid(Algorithm::PostEncryptionZipCrc32);
        }
        if stored == NO_CHECKSUM_MAGIC {
            return Verdict::Valid(Algorithm::PostEncryptionZipNone);
        }
        let adler32 = zip_adler32(page);
        if stored == adler32 {
            return Verdict::Valid(Algorithm::PostEncryptionZipAdler32);
        }
        return Verdict::Corrupt(Corruption::PostEncryptionZipMismatch {
            stored,
            crc32,
            adler32,
        });
    }
    let stored = page.space_or_checksum();
    if stored == 0 && page.lsn().get() == 0 {
        // Both servers decide on emptiness alone here, without trying any algorithm.
        return if is_all_zero(b) {
            Verdict::Empty
        } else {
            Verdict::Corrupt(Corruption::ZipEmptyNotZero)
        };
    }
    let crc32 = zip_crc32(page);
    if stored == crc32 {
        return Verdict::Valid(Algorithm::ZipCrc32);
    }
    if stored == NO_CHECKSUM_MAGIC {
        return Verdict::Valid(Algorithm::ZipNone);
    }
    let adler32 = zip_adler32(page);
    if stored == adler32 {
        return Verdict::Valid(Algorithm::ZipAdler32);
    }
    let crc32_legacy_big_endian = zip_crc32_legacy_big_endian(page);
    if stored == crc32_legacy_big_endian {
        return Verdict::Valid(Algorithm::ZipCrc32LegacyBigEndian);
    }
    Verdict::Corrupt(Corruption::ZipMismatch {
        stored,
        crc32,
        crc32_legacy_big_endian,
        adler32,
    })
}

fn validate_classic(page: Page<'_>, ctx: &ChecksumContext) -> Verdict {
    let b = page.as_bytes();
    let header_low = lsn_low(b);
    let trailer = page.trailer_word2();
    if header_low != trailer {
        return Verdict::Corrupt(Corruption::LsnMismatch {
            header_low,
            trailer,
        });
    }
    if mariadb_classic_encrypted(page, ctx) {
        let stored = page.post_encryption_checksum();
        let crc32 = crc32_page(page);
        if stored == crc32 {
            return Verdict::Valid(Algorithm::PostEncryptionCrc32);
        }
        if stored == NO_CHECKSUM_MAGIC {
            return Verdict::Valid(Algorithm::PostEncryptionNone);
        }
        let innodb_new = innodb_new(page);
        if stored == innodb_new {
            return Verdict::Valid(Algorithm::PostEncryptionInnodb);
        }
        return Verdict::Corrupt(Corruption::PostEncryptionMismatch {
            stored,
            crc32,
            innodb_new,
        });
    }
    let field1 = page.space_or_checksum();
    let field2 = page.trailer_word1();
    if field1 == 0 && field2 == 0 && zero_except_26_34(b) {
        return Verdict::Empty;
    }
    let crc32 = crc32_page(page);
    if field1 == crc32 && field2 == crc32 {
        return Verdict::Valid(Algorithm::Crc32);
    }
    if field1 == NO_CHECKSUM_MAGIC && field2 == NO_CHECKSUM_MAGIC {
        return Verdict::Valid(Algorithm::None);
    }
    // The big-endian variant costs one more CRC pass; the folds below are much slower.
    let crc32_be = crc32_legacy_big_endian_page(page);
    if field1 == crc32_be && field2 == crc32_be {
        return Verdict::Valid(Algorithm::Crc32LegacyBigEndian);
    }
    let lsn_high = be32(b, offset::LSN);
    let new = innodb_new(page);
    let old = innodb_old(page);
    let f1_innodb = field1 == 0 || field1 == new;
    let f2_innodb = field2 == old || field2 == lsn_high;
    if f1_innodb && f2_innodb {
        // Both servers accept this; say whether a fold value actually matched.
        return Verdict::Valid(if field1 == new || field2 == old {
            Algorithm::Innodb
        } else {
            Algorithm::LegacyUnchecked
        });
    }
    if ctx.vendor != Vendor::MySql && mariadb_lenient(field1, field2, lsn_high, crc32, new, old) {
        return Verdict::Valid(Algorithm::MariaDbMixed);
    }
    Verdict::Corrupt(Corruption::ClassicMismatch {
        field1,
        field2,
        crc32,
        crc32_legacy_big_endian: crc32_be,
        innodb_new: new,
        innodb_old: old,
    })
}

/// MariaDB's non-strict field-by-field rule (`buf_page_is_corrupted`, classic format).
fn mariadb_lenient(f1: u32, f2: u32, lsn_high: u32, crc32: u32, new: u32, old: u32) -> bool {
    if f1 == NO_CHECKSUM_MAGIC && f2 == NO_CHECKSUM_MAGIC {
        return true;
    }
    let check2 = f2 != lsn_high && f2 != NO_CHECKSUM_MAGIC;
    if check2 && f2 != crc32 && f2 != old {
        return false;
    }
    let check1 = f1 != 0 && f1 != NO_CHECKSUM_MAGIC;
    if check1 && f1 != crc32 && f1 != new {
        return false;
    }
    // When crc32 was computed, exactly one field equal to it is a mismatch.
    !((check1 || check2) && ((f1 == crc32) != (f2 == crc32)))
}

// ---------------------------------------------------------------------------------------------
// Writing checksums
// ---------------------------------------------------------------------------------------------

/// Why [`stamp`] or [`recompute`] could not write a checksum.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum StampError {
    /// The buffer is not a page.
    #[error(transparent)]
    Page(#[from] PageError),
    /// A full_crc32 page whose type claims a compressed size of 0 or not smaller than the page.
    #[error("full_crc32 page type {page_type:#06x} has no valid compressed size")]
    BadCompressedSize {
        /// The raw page type.
        page_type: u16,
    },
}

fn put32(b: &mut [u8], off: usize, v: u32) {
    BigEndian::write_u32(&mut b[off..off + 4], v);
}

/// Copies the low LSN word (20..24) into the classic trailer (`S-4`).
fn copy_classic_trailer_lsn(b: &mut [u8]) {
    let s = b.len();
    let low = lsn_low(b);
    put32(b, s - 4, low);
}

/// Writes a correct checksum for `algorithm` into the page buffer, together with the trailer LSN
/// copy where the format has one (classic uncompressed pages at `S-4`; plain full_crc32 pages at
/// `S-8`). Only the checksum fields (and trailer LSN copy) are written; everything else,
/// including the page type that decides a full_crc32 page's payload length, is taken as it is.
///
/// [`Algorithm::LegacyUnchecked`] writes field1 = 0 and field2 = the high LSN word;
/// [`Algorithm::MariaDbMixed`] writes field1 = `0xDEADBEEF` and field2 = the innodb old checksum.
///
/// ```
/// use innodb_page::checksum::{stamp, validate, Algorithm, ChecksumContext, Verdict};
/// use innodb_page::Page;
/// let mut buf = vec![7u8; 8192];
/// stamp(&mut buf, Algorithm::ZipAdler32).unwrap();
/// let ctx = ChecksumContext { zip: true, ..Default::default() };
/// assert_eq!(validate(Page::new(&buf).unwrap(), &ctx), Verdict::Valid(Algorithm::ZipAdler32));
/// ```
pub fn stamp(buf: &mut [u8], algorithm: Algorithm) -> Result<(), StampError> {
    Page::new(buf)?;
    let s = buf.len();
    match algorithm {
        Algorithm::Crc32 => {
            copy_classic_trailer_lsn(buf);
            let c = crc32_page(Page::new(buf)?);
            put32(buf, 0, c);
            put32(buf, s - 8, c);
        }
        Algorithm::Crc32LegacyBigEndian => {
            copy_classic_trailer_lsn(buf);
            let c = crc32_legacy_big_endian_page(Page::new(buf)?);
            put32(buf, 0, c);
            put32(buf, s - 8, c);
        }
        Algorithm::Innodb => {
            copy_classic_trailer_lsn(buf);
            let new = innodb_new(Page::new(buf)?);
            put32(buf, 0, new);
            let old = innodb_old(Page::new(buf)?);
            put32(buf, s - 8, old);
        }
        Algorithm::None => {
            copy_classic_trailer_lsn(buf);
            put32(buf, 0, NO_CHECKSUM_MAGIC);
            put32(buf, s - 8, NO_CHECKSUM_MAGIC);
        }
        Algorithm::LegacyUnchecked => {
            copy_classic_trailer_lsn(buf);
            let high = be32(buf, offset::LSN);
            put32(buf, 0, 0);
            put32(buf, s - 8, high);
        }
        Algorithm::MariaDbMixed => {
            copy_classic_trailer_lsn(buf);
            put32(buf, 0, NO_CHECKSUM_MAGIC);
            let old = innodb_old(Page::new(buf)?);
            put32(buf, s - 8, old);
        }
        Algorithm::FullCrc32 => {
            let page = Page::new(buf)?;
            let page_type = page.raw_page_type();
            let (len, compressed) =
                full_crc32_payload(page).ok_or(StampError::BadCompressedSize { page_type })?;
            if !compressed && page.space_or_checksum() == 0 {
                let low = lsn_low(buf);
                put32(buf, s - 8, low);
            }
            let c = crc32c::crc32c(&buf[..len - 4]);
            put32(buf, len - 4, c);
        }
        Algorithm::ZipCrc32 => {
            let c = zip_crc32(Page::new(buf)?);
            put32(buf, 0, c);
        }
        Algorithm::ZipCrc32LegacyBigEndian => {
            let c = zip_crc32_legacy_big_endian(Page::new(buf)?);
            put32(buf, 0, c);
        }
        Algorithm::ZipAdler32 => {
            let c = zip_adler32(Page::new(buf)?);
            put32(buf, 0, c);
        }
        Algorithm::ZipNone => put32(buf, 0, NO_CHECKSUM_MAGIC),
        Algorithm::PostEncryptionCrc32 => {
            copy_classic_trailer_lsn(buf);
            let c = crc32_page(Page::new(buf)?);
            put32(buf, POST_ENCRYPTION_CHECKSUM, c);
        }
        Algorithm::PostEncryptionInnodb => {
            copy_classic_trailer_lsn(buf);
            let c = innodb_new(Page::new(buf)?);
            put32(buf, POST_ENCRYPTION_CHECKSUM, c);
        }
        Algorithm::PostEncryptionNone => {
            copy_classic_trailer_lsn(buf);
            put32(buf, POST_ENCRYPTION_CHECKSUM, NO_CHECKSUM_MAGIC);
        }
        Algorithm::PostEncryptionZipCrc32 => {
            let c = zip_crc32(Page::new(buf)?);
            put32(buf, POST_ENCRYPTION_CHECKSUM, c);
        }
        Algorithm::PostEncryptionZipAdler32 => {
            let c = zip_adler32(Page::new(buf)?);
            put32(buf, POST_ENCRYPTION_CHECKSUM, c);
        }
        Algorithm::PostEncryptionZipNone => put32(buf, POST_ENCRYPTION_CHECKSUM, NO_CHECKSUM_MAGIC),
    }
    Ok(())
}

/// The algorithm the servers write by default for this page in this context: full_crc32; the
/// MariaDB post-encryption crc32 on classic encrypted pages; zip crc32; crc32. `None` for pages
/// whose checksum cannot be recomputed without keys or (de)compression (MySQL types 14–17,
/// MariaDB 34354/37401).
pub fn default_algorithm(page: Page<'_>, ctx: &ChecksumContext) -> Option<Algorithm> {
    if ctx.full_crc32 {
        return Some(Algorithm::FullCrc32);
    }
    let t = page.raw_page_type();
    if ctx.vendor != Vendor::MariaDb
        && matches!(
            t,
            ty::MYSQL_COMPRESSED
                | ty::MYSQL_ENCRYPTED
                | ty::MYSQL_COMPRESSED_AND_ENCRYPTED
                | ty::MYSQL_ENCRYPTED_RTREE
        )
    {
        return None;
    }
    let encrypted = mariadb_classic_encrypted(page, ctx);
    if ctx.zip {
        return Some(if encrypted {
            Algorithm::PostEncryptionZipCrc32
        } else {
            Algorithm::ZipCrc32
        });
    }
    if ctx.page_compression && matches!(t, ty::PAGE_COMPRESSED | ty::PAGE_COMPRESSED_ENCRYPTED) {
        return None;
    }
    Some(if encrypted {
        Algorithm::PostEncryptionCrc32
    } else {
        Algorithm::Crc32
    })
}

/// Recomputes the page's checksum with [`default_algorithm`] and writes it with [`stamp`].
/// Returns the algorithm written, or `None` when the page has no checksum that can be recomputed.
///
/// ```
/// use innodb_page::checksum::{recompute, validate, Algorithm, ChecksumContext, Verdict};
/// use innodb_page::Page;
/// let mut buf = vec![1u8; 4096];
/// let ctx = ChecksumContext { full_crc32: true, ..Default::default() };
/// assert_eq!(recompute(&mut buf, &ctx), Ok(Some(Algorithm::FullCrc32)));
/// assert_eq!(validate(Page::new(&buf).unwrap(), &ctx), Verdict::Valid(Algorithm::FullCrc32));
/// ```
pub fn recompute(buf: &mut [u8], ctx: &ChecksumContext) -> Result<Option<Algorithm>, StampError> {
    let Some(algorithm) = default_algorithm(Page::new(buf)?, ctx) else {
        return Ok(None);
    };
    stamp(buf, algorithm)?;
    Ok(Some(algorithm))
}

// ---------------------------------------------------------------------------------------------
// Unit tests: primitives and the specification's test vectors
// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i & 0xFF) as u8).collect()
    }

    fn page(b: &[u8]) -> Page<'_> {
        Page::new(b).unwrap()
    }

    #[test]
    fn primitives() {
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(fold_pair(0, 0), 0xC354_9A87);
        assert_eq!(fold_bytes(b"123456789"), 0xBFC5_157C);
        assert_eq!(fold_bytes(b""), 0);
        // Adler-32 with the usual seed 1, known value; seed 0 differs.
        assert_eq!(adler32(1, b"Wikipedia"), 0x11E6_0398);
        assert_ne!(adler32(0, b"Wikipedia"), 0x11E6_0398);
        // Chaining across the NMAX block boundary equals one pass.
        let data = pattern(20000);
        assert_eq!(
            adler32(adler32(0, &data[..7000]), &data[7000..]),
            adler32(0, &data)
        );
        // Reference (unblocked, u64) Adler-32 against the blocked one.
        let (mut a, mut b) = (0u64, 0u64);
        for &x in &data {
            a = (a + u64::from(x)) % 65521;
            b = (b + a) % 65521;
        }
        assert_eq!(adler32(0, &data), ((b << 16) | a) as u32);
    }

    #[test]
    fn legacy_big_endian_definition() {
        // Direct byte-at-a-time construction of the same feed order.
        let data = pattern(16384);
        for (start, end) in [(4usize, 26usize), (38, 16376), (34, 8192), (24, 26), (5, 5)] {
            let mut fed = Vec::new();
            let mut i = start;
            while i < end && i % 8 != 0 {
                fed.push(data[i]);
                i += 1;
            }
            while i + 8 <= end {
                fed.extend(data[i..i + 8].iter().rev());
                i += 8;
            }
            fed.extend(&data[i..end]);
            assert_eq!(
                crc32c_legacy_big_endian(&data[start..end], start),
                crc32c(&fed),
                "{start}..{end}"
            );
        }
    }

    #[test]
    fn vectors_pattern_16k() {
        let b = pattern(16384);
        let p = page(&b);
        assert_eq!(crc32c(&b[4..26]), 0xD79B_5A3F);
        assert_eq!(crc32c(&b[38..16376]), 0x3D43_09BC);
        assert_eq!(crc32_page(p), 0xEAD8_5383);
        assert_eq!(crc32_legacy_big_endian_page(p), 0x4F3B_375D);
        assert_eq!(innodb_new(p), 0x2438_2AB4);
        assert_eq!(innodb_old(p), 0x0AC0_E55D);
        // The pattern has type 0x1819 (bit 15 clear): payload is the whole page.
        assert_eq!(full_crc32(p), Some(0xB064_C5A5));
    }

    #[test]
    fn vectors_pattern_4k() {
        let b = pattern(4096);
        let p = page(&b);
        assert_eq!(crc32_page(p), 0x801E_C46C);
        assert_eq!(crc32_legacy_big_endian_page(p), 0x6E35_66DF);
        assert_eq!(innodb_new(p), 0xACFF_02B4);
        assert_eq!(innodb_old(p), 0x0AC0_E55D);
        assert_eq!(full_crc32(p), Some(0x5FB9_92B2));
    }

    #[test]
    fn vectors_zip() {
        let b = pattern(8192);
        assert_eq!(zip_crc32(page(&b)), 0x77F8_798B);
        assert_eq!(zip_adler32(page(&b)), 0x7634_EF53);
        let b = pattern(2048);
        assert_eq!(zip_crc32(page(&b)), 0xE891_23FF);
        assert_eq!(zip_adler32(page(&b)), 0xE743_FA9F);
    }

    #[test]
    fn vectors_all_zero_16k() {
        let b = vec![0u8; 16384];
        let p = page(&b);
        assert_eq!(crc32_page(p), 0x1FFD_D4D2);
        assert_eq!(innodb_new(p), 0x5DEF_CC00);
        assert_eq!(innodb_old(p), 0x51B9_AB00);
        assert_eq!(full_crc32(p), Some(0xDD9E_4F5A));
        // An all-zero page is empty in every format and for every vendor.
        for vendor in [Vendor::MySql, Vendor::MariaDb, Vendor::Unknown] {
            for (full_crc32, zip) in [(false, false), (true, false), (false, true)] {
                let ctx = ChecksumContext {
                    full_crc32,
                    zip,
                    vendor,
                    ..Default::default()
                };
                assert_eq!(validate(p, &ctx), Verdict::Empty, "{ctx:?}");
            }
        }
    }

    #[test]
    fn vector_full_crc32_compressed_252() {
        assert_eq!(crc32c(&pattern(252)), 0x98A6_D1F8);
        // A 16K full_crc32 page of type 0x8001: payload 256 bytes, CRC of [0,252) at 252.
        let mut pat = pattern(252);
        pat[24..26].copy_from_slice(&0x8001u16.to_be_bytes());
        let mut b = vec![0u8; 16384];
        b[..252].copy_from_slice(&pat);
        let p = page(&b);
        assert_eq!(full_crc32_payload(p), Some((256, true)));
        let c = crc32c(&pat);
        b[252..256].copy_from_slice(&c.to_be_bytes());
        let ctx = ChecksumContext {
            full_crc32: true,
            ..Default::default()
        };
        assert_eq!(
            validate(page(&b), &ctx),
            Verdict::Valid(Algorithm::FullCrc32)
        );
        // Garbage after L is not checked.
        b[300] = 0xAA;
        assert_eq!(
            validate(page(&b), &ctx),
            Verdict::Valid(Algorithm::FullCrc32)
        );
        b[100] ^= 0x40;
        assert!(validate(page(&b), &ctx).is_corrupt());
    }

    #[test]
    fn pattern_pages_validate_when_fields_hold_the_vector_values() {
        // Store the §3.12 values in the fields the validator reads (they are outside the ranges
        // the checksums cover, except that innodb old covers field1 — stamp handles that).
        let ctx = ChecksumContext::default();
        let mut b = pattern(16384);
        // Make the trailer LSN consistent first: it is outside every checked range.
        let low = lsn_low(&b);
        b[16380..].copy_from_slice(&low.to_be_bytes());
        b[..4].copy_from_slice(&0xEAD8_5383u32.to_be_bytes());
        b[16376..16380].copy_from_slice(&0xEAD8_5383u32.to_be_bytes());
        assert_eq!(validate(page(&b), &ctx), Verdict::Valid(Algorithm::Crc32));
        b[..4].copy_from_slice(&0x4F3B_375Du32.to_be_bytes());
        b[16376..16380].copy_from_slice(&0x4F3B_375Du32.to_be_bytes());
        assert_eq!(
            validate(page(&b), &ctx),
            Verdict::Valid(Algorithm::Crc32LegacyBigEndian)
        );
        b[..4].copy_from_slice(&0x2438_2AB4u32.to_be_bytes());
        let old = innodb_old(page(&b));
        b[16376..16380].copy_from_slice(&old.to_be_bytes());
        assert_eq!(validate(page(&b), &ctx), Verdict::Valid(Algorithm::Innodb));
    }

    #[test]
    fn empty_rules() {
        let mariadb = ChecksumContext {
            vendor: Vendor::MariaDb,
            ..Default::default()
        };
        let mysql = ChecksumContext {
            vendor: Vendor::MySql,
            ..Default::default()
        };
        // Classic: bytes 26..34 may be non-zero (flush LSN) on an empty page, for both servers.
        let mut b = vec![0u8; 16384];
        b[26..34].copy_from_slice(&0x1234u64.to_be_bytes());
        assert_eq!(validate(page(&b), &mariadb), Verdict::Empty);
        assert_eq!(validate(page(&b), &mysql), Verdict::Empty);
        // full_crc32: the whole page must be zero; bytes 26..34 set means checksum mismatch.
        let fc = ChecksumContext {
            full_crc32: true,
            ..mariadb
        };
        assert!(matches!(
            validate(page(&b), &fc),
            Verdict::Corrupt(Corruption::FullCrc32Mismatch { stored: 0, .. })
        ));
        // zip: checksum 0, LSN 0, but not all zero: corrupt without trying algorithms.
        let zip = ChecksumContext { zip: true, ..mysql };
        let mut z = vec![0u8; 8192];
        z[5000] = 1;
        assert_eq!(
            validate(page(&z), &zip),
            Verdict::Corrupt(Corruption::ZipEmptyNotZero)
        );
        // Classic page with zero fields and zero LSN but content: accepted by both servers as the
        // pre-4.0.14 layout (field2 == high LSN word == 0).
        let mut c = vec![0u8; 16384];
        c[1000] = 9;
        assert_eq!(
            validate(page(&c), &mysql),
            Verdict::Valid(Algorithm::LegacyUnchecked)
        );
    }

    #[test]
    fn lsn_mismatch_classic_and_full_crc32() {
        let mut b = vec![3u8; 16384];
        b[24..26].copy_from_slice(&17855u16.to_be_bytes());
        stamp(&mut b, Algorithm::Crc32).unwrap();
        b[16383] ^= 1;
        let v = validate(page(&b), &ChecksumContext::default());
        assert_eq!(
            v,
            Verdict::Corrupt(Corruption::LsnMismatch {
                header_low: 0x0303_0303,
                trailer: 0x0303_0302
            })
        );
        assert_eq!(
            v.to_string(),
            "corrupt: LSN mismatch: header low word 0x03030303, trailer 0x03030302"
        );

        let fc = ChecksumContext {
            full_crc32: true,
            ..Default::default()
        };
        let mut b = vec![0u8; 16384];
        b[16..24].copy_from_slice(&99u64.to_be_bytes());
        b[24..26].copy_from_slice(&17855u16.to_be_bytes());
        stamp(&mut b, Algorithm::FullCrc32).unwrap();
        assert_eq!(
            validate(page(&b), &fc),
            Verdict::Valid(Algorithm::FullCrc32)
        );
        // Break the trailer copy but keep the CRC right.
        b[16376..16380].copy_from_slice(&98u32.to_be_bytes());
        let c = crc32c(&b[..16380]);
        b[16380..].copy_from_slice(&c.to_be_bytes());
        assert_eq!(
            validate(page(&b), &fc),
            Verdict::Corrupt(Corruption::LsnMismatch {
                header_low: 99,
                trailer: 98
            })
        );
        // With a key version (encrypted) the trailer copy is ciphertext and not compared.
        b[..4].copy_from_slice(&1u32.to_be_bytes());
        let c = crc32c(&b[..16380]);
        b[16380..].copy_from_slice(&c.to_be_bytes());
        assert_eq!(
            validate(page(&b), &fc),
            Verdict::Valid(Algorithm::FullCrc32)
        );
    }

    #[test]
    fn full_crc32_bad_sizes() {
        let fc = ChecksumContext {
            full_crc32: true,
            ..Default::default()
        };
        for (t, size) in [
            (0x8000u16, 0usize),
            (0x8040, 0x4000),
            (0x8100, 0x10000),
            (0xFFFF, 0x7FFF00),
        ] {
            let mut b = vec![0u8; 16384];
            b[24..26].copy_from_slice(&t.to_be_bytes());
            assert_eq!(
                validate(page(&b), &fc),
                Verdict::Corrupt(Corruption::FullCrc32BadCompressedSize {
                    page_type: t,
                    size,
                    page_size: 16384
                })
            );
            assert_eq!(
                stamp(&mut b, Algorithm::FullCrc32),
                Err(StampError::BadCompressedSize { page_type: t })
            );
        }
        // The largest valid compressed size on a 16K page.
        let mut b = vec![5u8; 16384];
        b[24..26].copy_from_slice(&0x803Fu16.to_be_bytes());
        stamp(&mut b, Algorithm::FullCrc32).unwrap();
        assert_eq!(
            validate(page(&b), &fc),
            Verdict::Valid(Algorithm::FullCrc32)
        );
    }

    #[test]
    fn unverifiable_types() {
        let mut b = vec![1u8; 16384];
        for t in [15u16, 16, 17] {
            b[24..26].copy_from_slice(&t.to_be_bytes());
            for vendor in [Vendor::MySql, Vendor::Unknown] {
                let ctx = ChecksumContext {
                    vendor,
                    encrypted: true,
                    ..Default::default()
                };
                assert_eq!(
                    validate(page(&b), &ctx),
                    Verdict::Unverifiable(Unverifiable::MySqlEncrypted { page_type: t })
                );
            }
            // MariaDB never writes these types: checked as an ordinary page (and corrupt here).
            let ctx = ChecksumContext {
                vendor: Vendor::MariaDb,
                ..Default::default()
            };
            assert!(validate(page(&b), &ctx).is_corrupt());
        }
        b[24..26].copy_from_slice(&14u16.to_be_bytes());
        assert_eq!(
            validate(page(&b), &ChecksumContext::default()),
            Verdict::Unverifiable(Unverifiable::MySqlCompressed)
        );
        let pc = ChecksumContext {
            page_compression: true,
            vendor: Vendor::MariaDb,
            ..Default::default()
        };
        b[24..26].copy_from_slice(&34354u16.to_be_bytes());
        assert_eq!(
            validate(page(&b), &pc),
            Verdict::Unverifiable(Unverifiable::MariaDbPageCompressed)
        );
        b[24..26].copy_from_slice(&37401u16.to_be_bytes());
        assert_eq!(
            validate(page(&b), &pc),
            Verdict::Unverifiable(Unverifiable::MariaDbPageCompressedEncrypted)
        );
        assert!(validate(page(&b), &pc).is_sound());
        assert_eq!(recompute(&mut b, &pc), Ok(None));
        // Without the PAGE_COMPRESSION flag the type is not trusted (as in MariaDB).
        let plain = ChecksumContext {
            vendor: Vendor::MariaDb,
            ..Default::default()
        };
        assert!(validate(page(&b), &plain).is_corrupt());
    }

    #[test]
    fn post_encryption() {
        let ctx = ChecksumContext {
            encrypted: true,
            vendor: Vendor::MariaDb,
            ..Default::default()
        };
        let mut b: Vec<u8> = (0..16384u32).map(|i| (i * 7 % 251) as u8).collect();
        b[24..26].copy_from_slice(&17855u16.to_be_bytes());
        b[26..30].copy_from_slice(&1u32.to_be_bytes()); // key version 1
                                                        // Fields 0 and S-8 hold the plaintext checksum: anything goes.
        for a in [
            Algorithm::PostEncryptionCrc32,
            Algorithm::PostEncryptionInnodb,
            Algorithm::PostEncryptionNone,
        ] {
            stamp(&mut b, a).unwrap();
            assert_eq!(validate(page(&b), &ctx), Verdict::Valid(a));
        }
        assert_eq!(
            recompute(&mut b, &ctx),
            Ok(Some(Algorithm::PostEncryptionCrc32))
        );
        b[1000] ^= 0x10;
        assert!(matches!(
            validate(page(&b), &ctx),
            Verdict::Corrupt(Corruption::PostEncryptionMismatch { .. })
        ));
        // The same page in a MySQL tablespace: the key version is not one; normal rules apply.
        let mysql = ChecksumContext {
            vendor: Vendor::MySql,
            ..ctx
        };
        stamp(&mut b, Algorithm::Crc32).unwrap();
        assert_eq!(validate(page(&b), &mysql), Verdict::Valid(Algorithm::Crc32));
        // FSP_HDR pages are never encrypted: bytes 26..34 are ignored.
        b[24..26].copy_from_slice(&8u16.to_be_bytes());
        stamp(&mut b, Algorithm::Crc32).unwrap();
        assert_eq!(validate(page(&b), &ctx), Verdict::Valid(Algorithm::Crc32));

        // Zip.
        let zctx = ChecksumContext { zip: true, ..ctx };
        let mut z: Vec<u8> = (0..4096u32).map(|i| (i * 13 % 253) as u8).collect();
        z[24..26].copy_from_slice(&17855u16.to_be_bytes());
        z[26..30].copy_from_slice(&3u32.to_be_bytes());
        for a in [
            Algorithm::PostEncryptionZipCrc32,
            Algorithm::PostEncryptionZipAdler32,
            Algorithm::PostEncryptionZipNone,
        ] {
            stamp(&mut z, a).unwrap();
            assert_eq!(validate(page(&z), &zctx), Verdict::Valid(a));
        }
        stamp(&mut z, Algorithm::PostEncryptionZipCrc32).unwrap();
        z[4095] ^= 1;
        assert!(matches!(
            validate(page(&z), &zctx),
            Verdict::Corrupt(Corruption::PostEncryptionZipMismatch { .. })
        ));
    }

    #[test]
    fn mariadb_lenient_rule() {
        let mut b = vec![0x5Au8; 16384];
        b[24..26].copy_from_slice(&17855u16.to_be_bytes());
        stamp(&mut b, Algorithm::MariaDbMixed).unwrap();
        for vendor in [Vendor::MariaDb, Vendor::Unknown] {
            let ctx = ChecksumContext {
                vendor,
                ..Default::default()
            };
            assert_eq!(
                validate(page(&b), &ctx),
                Verdict::Valid(Algorithm::MariaDbMixed)
            );
        }
        let mysql = ChecksumContext {
            vendor: Vendor::MySql,
            ..Default::default()
        };
        assert!(validate(page(&b), &mysql).is_corrupt());
        // Exactly one field equal to crc32 is rejected by MariaDB too.
        stamp(&mut b, Algorithm::Crc32).unwrap();
        b[..4].copy_from_slice(&NO_CHECKSUM_MAGIC.to_be_bytes());
        assert!(validate(page(&b), &ChecksumContext::default()).is_corrupt());
    }

    #[test]
    fn mismatch_report() {
        let mut b = vec![0x11u8; 16384];
        stamp(&mut b, Algorithm::Crc32).unwrap();
        b[5000] = 0;
        let p = page(&b);
        let v = validate(p, &ChecksumContext::default());
        let Verdict::Corrupt(Corruption::ClassicMismatch {
            field1,
            field2,
            crc32,
            crc32_legacy_big_endian,
            innodb_new: new,
            innodb_old: old,
        }) = v
        else {
            panic!("{v:?}")
        };
        assert_eq!(field1, field2);
        assert_eq!(crc32, crc32_page(p));
        assert_ne!(crc32, field1);
        assert_eq!(crc32_legacy_big_endian, crc32_legacy_big_endian_page(p));
        assert_eq!(new, innodb_new(p));
        assert_eq!(old, innodb_old(p));
        let text = v.to_string();
        assert!(text.contains(&format!("crc32 {crc32:#010x}")), "{text}");
        assert!(
            text.contains(&format!("stored {field1:#010x}/{field2:#010x}")),
            "{text}"
        );
        assert_eq!(v.name(), "corrupt");
        assert_eq!(Corruption::ZipEmptyNotZero.name(), "zip_empty_not_zero");
    }

    #[test]
    fn stamp_rejects_bad_sizes() {
        let mut b = vec![0u8; 1000];
        assert_eq!(
            stamp(&mut b, Algorithm::Crc32),
            Err(StampError::Page(PageError::BadPageSize { len: 1000 }))
        );
        assert!(recompute(&mut b, &ChecksumContext::default()).is_err());
    }

    #[test]
    fn names_are_unique() {
        let mut names: Vec<_> = Algorithm::ALL.iter().map(|a| a.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Algorithm::ALL.len());
        assert_eq!(
            Verdict::Valid(Algorithm::Crc32).to_string(),
            "valid (crc32)"
        );
        assert_eq!(Algorithm::from_name("nope"), None);
    }
}
