//! The redo log file header: block 0 (the first 512 bytes) of every redo log file.
//!
//! | Off | Len | Field |
//! |---|---|---|
//! | 0 | 4 | format word |
//! | 4 | 4 | 0 (MySQL 5.7/8.0, MariaDB 10.5+), subformat (MariaDB 10.2–10.4), log UUID (MySQL 8.0.30+) |
//! | 8 | 8 | start LSN: LSN of the first data byte of this file (MariaDB 10.8+: `first_lsn`, at 0x3000) |
//! | 16 | 32 | creator, NUL-padded |
//! | 48 | 4 | MySQL 8.0.30+: flags; MariaDB 10.8+: encryption key id (non-zero = encrypted) |
//! | 48 | 28 | MariaDB 10.8+: encryption header |
//! | 508 | 4 | CRC-32C of bytes 0..508 |

use super::format::{self, Encryption, RedoFormat};
use super::{be_u32, be_u64, lsn, RedoError};
use crate::Lsn;

/// Size of the header block.
pub const HEADER_BLOCK_SIZE: usize = 512;
/// Offset of the format word.
pub const FORMAT_OFFSET: usize = 0;
/// Offset of the subformat / UUID word.
pub const SUBFORMAT_OFFSET: usize = 4;
/// Offset of the start LSN.
pub const START_LSN_OFFSET: usize = 8;
/// Offset of the creator string.
pub const CREATOR_OFFSET: usize = 16;
/// Length of the creator field.
pub const CREATOR_LEN: usize = 32;
/// Offset of the MySQL 8.0.30+ flags and of the MariaDB 10.8+ encryption header.
pub const FLAGS_OFFSET: usize = 48;
/// Length of the MariaDB 10.8+ encryption header (key id, key version, message, nonce).
pub const MARIADB_CRYPT_LEN: usize = 28;
/// Offset of the CRC-32C of a 512-byte block.
pub const CHECKSUM_OFFSET: usize = 508;
/// Offset of MySQL's encryption info block.
pub const MYSQL_ENCRYPTION_OFFSET: usize = 1024;
/// The smallest first LSN of a MariaDB 10.8+ log (`log_t::FIRST_LSN` = `START_OFFSET`).
pub const MARIADB_108_FIRST_LSN: u64 = 0x3000;
/// MySQL 8.0.30+ header flag: redo logging disabled.
pub const MYSQL_FLAG_NO_LOGGING: u32 = 1;
/// MySQL 8.0.30+ header flag: crash-unsafe (logging was disabled while the server ran).
pub const MYSQL_FLAG_CRASH_UNSAFE: u32 = 2;
/// MySQL 8.0.30+ header flag: file not initialised.
pub const MYSQL_FLAG_NOT_INITIALIZED: u32 = 4;
/// MySQL 8.0.30+ header flag: file full.
pub const MYSQL_FLAG_FILE_FULL: u32 = 8;

/// Computes the CRC-32C of bytes `0..508` of a 512-byte block (the checksum of header,
/// checkpoint and data blocks of block-framed logs, and of the MariaDB 10.8+ header).
/// `None` if `block` is shorter than 508 bytes.
///
/// ```
/// use innodb_page::redo::header::block_crc32c;
/// assert_eq!(block_crc32c(&[0u8; 512]), Some(crc32c::crc32c(&[0u8; 508])));
/// assert_eq!(block_crc32c(&[0u8; 100]), None);
/// ```
pub fn block_crc32c(block: &[u8]) -> Option<u32> {
    block.get(..CHECKSUM_OFFSET).map(crc32c::crc32c)
}

/// A validated view of a redo log file header.
///
/// [`FileHeader::parse`] checks the length, the CRC-32C, that the format word is known, and the
/// per-format rules (MariaDB 10.8+: word at 4 is zero and first LSN ≥ 0x3000).
///
/// ```
/// use innodb_page::redo::{header::FileHeader, Encryption, RedoFormat};
/// let mut b = vec![0u8; 512];
/// b[0..4].copy_from_slice(&1u32.to_be_bytes());
/// b[8..16].copy_from_slice(&8192u64.to_be_bytes());
/// b[16..27].copy_from_slice(b"MySQL 5.7.9");
/// let crc = crc32c::crc32c(&b[..508]);
/// b[508..].copy_from_slice(&crc.to_be_bytes());
/// let h = FileHeader::parse(&b).unwrap();
/// assert_eq!(h.format(), RedoFormat::MySql57);
/// assert_eq!(h.creator(), "MySQL 5.7.9");
/// assert_eq!(h.encryption(), Encryption::None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileHeader<'a> {
    data: &'a [u8],
    format: RedoFormat,
}

impl<'a> FileHeader<'a> {
    /// Parses and validates the header at the start of `data`, which must hold at least the
    /// 512-byte header block. If it also holds offset 1024..1027, MySQL redo encryption info in
    /// block 2 is detected too.
    pub fn parse(data: &'a [u8]) -> Result<FileHeader<'a>, RedoError> {
        if data.len() < HEADER_BLOCK_SIZE {
            return Err(RedoError::truncated(
                "redo log header block",
                data.len(),
                HEADER_BLOCK_SIZE,
            ));
        }
        let stored = be_u32(data, CHECKSUM_OFFSET).unwrap_or(0);
        let computed = block_crc32c(data).unwrap_or(0);
        if stored != computed {
            return Err(RedoError::BadChecksum {
                what: "redo log file header",
                stored,
                computed,
            });
        }
        let format = Self::detect(data)?;
        let h = FileHeader { data, format };
        if format == RedoFormat::MariaDb108 {
            let w = h.subformat();
            if w != 0 {
                return Err(RedoError::BadField {
                    what: "header word at offset 4",
                    value: w.into(),
                    why: "must be zero in MariaDB 10.8+ logs",
                });
            }
            if h.start_lsn().get() < MARIADB_108_FIRST_LSN {
                return Err(RedoError::BadField {
                    what: "first_lsn",
                    value: h.start_lsn().get(),
                    why: "must be at least 0x3000 in MariaDB 10.8+ logs",
                });
            }
        }
        Ok(h)
    }

    /// Decides the format from the header bytes (CRC not checked).
    fn detect(data: &[u8]) -> Result<RedoFormat, RedoError> {
        let word = be_u32(data, FORMAT_OFFSET).unwrap_or(0);
        if word == format::FORMAT_10_8 || word == format::FORMAT_ENC_11 {
            return Ok(RedoFormat::MariaDb108);
        }
        let encrypted = word & format::FORMAT_ENCRYPTED_BIT != 0;
        let base = word & !format::FORMAT_ENCRYPTED_BIT;
        match base {
            0 => Err(RedoError::UnsupportedFormat {
                word,
                why: "pre-5.7.9 log format (MySQL 5.6, MariaDB 10.0/10.1): no checksummed header",
            }),
            format::FORMAT_5_7_9 => {
                let sub = be_u32(data, SUBFORMAT_OFFSET).unwrap_or(0);
                let creator = data
                    .get(CREATOR_OFFSET..CREATOR_OFFSET + CREATOR_LEN)
                    .unwrap_or(&[]);
                if encrypted
                    || sub != 0
                    || creator.starts_with(b"MariaDB")
                    || creator.starts_with(b"Backup ")
                {
                    Ok(RedoFormat::MariaDb102)
                } else {
                    Ok(RedoFormat::MySql57)
                }
            }
            format::FORMAT_8_0_MIN..=format::FORMAT_8_0_MAX if !encrypted => {
                Ok(RedoFormat::MySql80)
            }
            format::FORMAT_8_0_30 if !encrypted => Ok(RedoFormat::MySql8030),
            format::FORMAT_10_3 => Ok(RedoFormat::MariaDb103),
            format::FORMAT_10_4 => Ok(RedoFormat::MariaDb104),
            format::FORMAT_10_5 => Ok(RedoFormat::MariaDb105),
            _ => Err(RedoError::UnknownFormat { word }),
        }
    }

    /// The bytes given to [`FileHeader::parse`].
    pub fn as_bytes(&self) -> &'a [u8] {
        self.data
    }

    /// The format.
    pub fn format(&self) -> RedoFormat {
        self.format
    }

    /// The raw format word (offset 0), including MariaDB's encryption bit.
    pub fn format_word(&self) -> u32 {
        be_u32(self.data, FORMAT_OFFSET).unwrap_or(0)
    }

    /// The word at offset 4: MariaDB 10.2–10.4 subformat, MySQL 8.0.30+ log UUID, else 0.
    pub fn subformat(&self) -> u32 {
        be_u32(self.data, SUBFORMAT_OFFSET).unwrap_or(0)
    }

    /// MySQL 8.0.30+ log UUID (offset 4), identifying the instance; `None` for other formats.
    pub fn log_uuid(&self) -> Option<u32> {
        (self.format == RedoFormat::MySql8030).then(|| self.subformat())
    }

    /// The start LSN (offset 8): the LSN of this file's first data byte (offset 2048 of
    /// block-framed files; offset 0x3000 of MariaDB 10.8+ files, where it is called `first_lsn`).
    pub fn start_lsn(&self) -> Lsn {
        lsn(be_u64(self.data, START_LSN_OFFSET).unwrap_or(0))
    }

    /// The raw creator field (32 bytes, NUL-padded).
    pub fn creator_bytes(&self) -> &'a [u8] {
        self.data
            .get(CREATOR_OFFSET..CREATOR_OFFSET + CREATOR_LEN)
            .unwrap_or(&[])
    }

    /// The creator string up to the first NUL, lossily decoded, trailing spaces removed
    /// (`"MariaDB 10.11.19"`, `"Backup 10.11.19"`, `"MySQL 8.0.36"`, ...).
    pub fn creator(&self) -> String {
        let raw = self.creator_bytes();
        let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
        String::from_utf8_lossy(&raw[..end]).trim_end().to_string()
    }

    /// True when the creator says the file was written by a backup tool rather than the server
    /// (`"Backup …"` for mariadb-backup, `"MEB …"`/`"ibbackup …"` for MySQL Enterprise Backup,
    /// `"xtrabkup …"` for XtraBackup).
    pub fn created_by_backup(&self) -> bool {
        let c = self.creator_bytes();
        [&b"Backup "[..], b"MEB ", b"ibbackup", b"xtrabkup"]
            .iter()
            .any(|p| c.starts_with(p))
    }

    /// MySQL 8.0.30+ header flags (offset 48, `MYSQL_FLAG_*`); `None` for other formats.
    pub fn mysql_flags(&self) -> Option<u32> {
        (self.format == RedoFormat::MySql8030).then(|| be_u32(self.data, FLAGS_OFFSET).unwrap_or(0))
    }

    /// The MariaDB 10.8+ encryption header bytes (offset 48..76): key id, key version, crypt
    /// message, nonce. `None` for other formats.
    pub fn mariadb_crypt_header(&self) -> Option<&'a [u8]> {
        if self.format != RedoFormat::MariaDb108 {
            return None;
        }
        self.data
            .get(FLAGS_OFFSET..FLAGS_OFFSET + MARIADB_CRYPT_LEN)
    }

    /// MariaDB 10.8+ encryption key id (offset 48; 0 = not encrypted in the old style).
    pub fn mariadb_key_id(&self) -> Option<u32> {
        (self.format == RedoFormat::MariaDb108)
            .then(|| be_u32(self.data, FLAGS_OFFSET).unwrap_or(0))
    }

    /// MariaDB 10.8+ encryption key version (offset 52).
    pub fn mariadb_key_version(&self) -> Option<u32> {
        (self.format == RedoFormat::MariaDb108).then(|| be_u32(self.data, 52).unwrap_or(0))
    }

    /// How the log is encrypted:
    /// * MariaDB 10.8+: `FORMAT_ENC_11` → [`Encryption::MariaDbEnc11`]; `Phys` with a non-zero
    ///   field at 48 → [`Encryption::MariaDb108`];
    /// * MariaDB 10.2–10.7: bit 31 of the format word → [`Encryption::MariaDbBlock`];
    /// * MySQL: an encryption magic (`lCA`, `lCB`, `lCC`) at offset 1024, if the bytes given to
    ///   [`FileHeader::parse`] reach that far → [`Encryption::MySql`].
    pub fn encryption(&self) -> Encryption {
        let word = self.format_word();
        match self.format {
            RedoFormat::MariaDb108 => {
                if word == format::FORMAT_ENC_11 {
                    Encryption::MariaDbEnc11
                } else if self.mariadb_key_id().unwrap_or(0) != 0 {
                    Encryption::MariaDb108
                } else {
                    Encryption::None
                }
            }
            RedoFormat::MySql57 | RedoFormat::MySql80 | RedoFormat::MySql8030 => {
                match self
                    .data
                    .get(MYSQL_ENCRYPTION_OFFSET..MYSQL_ENCRYPTION_OFFSET + 3)
                {
                    Some([b'l', b'C', b'A' | b'B' | b'C']) => Encryption::MySql,
                    _ => Encryption::None,
                }
            }
            _ => {
                if word & format::FORMAT_ENCRYPTED_BIT != 0 {
                    Encryption::MariaDbBlock
                } else {
                    Encryption::None
                }
            }
        }
    }

    /// The stored CRC-32C (offset 508).
    pub fn stored_checksum(&self) -> u32 {
        be_u32(self.data, CHECKSUM_OFFSET).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(word: u32, start: u64, creator: &[u8]) -> Vec<u8> {
        let mut b = vec![0u8; 512];
        b[0..4].copy_from_slice(&word.to_be_bytes());
        b[8..16].copy_from_slice(&start.to_be_bytes());
        b[16..16 + creator.len()].copy_from_slice(creator);
        seal(&mut b);
        b
    }

    fn seal(b: &mut [u8]) {
        let crc = crc32c::crc32c(&b[..508]);
        b[508..512].copy_from_slice(&crc.to_be_bytes());
    }

    #[test]
    fn formats_by_word() {
        let cases: &[(u32, &[u8], RedoFormat, Encryption)] = &[
            (1, b"MySQL 5.7.40", RedoFormat::MySql57, Encryption::None),
            (
                1,
                b"MariaDB 10.2.44",
                RedoFormat::MariaDb102,
                Encryption::None,
            ),
            (
                1 | 0x8000_0000,
                b"",
                RedoFormat::MariaDb102,
                Encryption::MariaDbBlock,
            ),
            (2, b"MySQL 8.0.1", RedoFormat::MySql80, Encryption::None),
            (5, b"MySQL 8.0.28", RedoFormat::MySql80, Encryption::None),
            (6, b"MySQL 8.0.36", RedoFormat::MySql8030, Encryption::None),
            (
                103,
                b"MariaDB 10.3.39",
                RedoFormat::MariaDb103,
                Encryption::None,
            ),
            (
                104 | 0x8000_0000,
                b"MariaDB 10.4.34",
                RedoFormat::MariaDb104,
                Encryption::MariaDbBlock,
            ),
            (
                0x5048_5953,
                b"MariaDB 10.5.27",
                RedoFormat::MariaDb105,
                Encryption::None,
            ),
            (
                0x5068_7973,
                b"MariaDB 10.11.19",
                RedoFormat::MariaDb108,
                Encryption::None,
            ),
            (
                0xF09F_979D,
                b"MariaDB 10.11.19",
                RedoFormat::MariaDb108,
                Encryption::MariaDbEnc11,
            ),
        ];
        for &(word, creator, fmt, enc) in cases {
            let b = block(word, 0x3000, creator);
            let h = FileHeader::parse(&b).unwrap();
            assert_eq!(h.format(), fmt, "word {word:#x}");
            assert_eq!(h.encryption(), enc, "word {word:#x}");
            assert_eq!(h.format_word(), word);
        }
    }

    #[test]
    fn rejects_unknown_and_unsupported() {
        for word in [
            7u32,
            6 | 0x8000_0000,
            0x5068_7973 | 0x8000_0000,
            0xFFFF_FFFF,
            102,
        ] {
            let b = block(word, 0x3000, b"x");
            assert_eq!(
                FileHeader::parse(&b).unwrap_err(),
                RedoError::UnknownFormat { word }
            );
        }
        let b = block(0, 0x3000, b"x");
        assert!(matches!(
            FileHeader::parse(&b),
            Err(RedoError::UnsupportedFormat { word: 0, .. })
        ));
    }

    #[test]
    fn bad_crc_and_truncation() {
        let mut b = block(1, 8192, b"MySQL 5.7.40");
        b[20] ^= 1;
        assert!(matches!(
            FileHeader::parse(&b),
            Err(RedoError::BadChecksum { .. })
        ));
        assert!(matches!(
            FileHeader::parse(&b[..511]),
            Err(RedoError::Truncated { need: 512, .. })
        ));
    }

    #[test]
    fn mariadb_108_rules() {
        let b = block(0x5068_7973, 0x2FFF, b"MariaDB 10.11.19");
        assert!(matches!(
            FileHeader::parse(&b),
            Err(RedoError::BadField {
                what: "first_lsn",
                ..
            })
        ));
        let mut b = block(0x5068_7973, 0x3000, b"MariaDB 10.11.19");
        b[7] = 1;
        seal(&mut b);
        assert!(matches!(
            FileHeader::parse(&b),
            Err(RedoError::BadField { .. })
        ));
        // Old-style encryption: key id 1 at offset 48.
        let mut b = block(0x5068_7973, 0x3000, b"MariaDB 10.11.19");
        b[48..52].copy_from_slice(&1u32.to_be_bytes());
        b[52..56].copy_from_slice(&1u32.to_be_bytes());
        seal(&mut b);
        let h = FileHeader::parse(&b).unwrap();
        assert_eq!(h.encryption(), Encryption::MariaDb108);
        assert_eq!(h.mariadb_key_id(), Some(1));
        assert_eq!(h.mariadb_key_version(), Some(1));
        assert_eq!(h.mariadb_crypt_header().map(<[u8]>::len), Some(28));
    }

    #[test]
    fn mysql_details() {
        let mut b = vec![0u8; 2048];
        b[..512].copy_from_slice(&block(6, 8192, b"MySQL 8.0.36"));
        b[4..8].copy_from_slice(&0xABCD_1234u32.to_be_bytes());
        b[48..52].copy_from_slice(&MYSQL_FLAG_FILE_FULL.to_be_bytes());
        seal(&mut b[..512]);
        b[1024..1027].copy_from_slice(b"lCC");
        let h = FileHeader::parse(&b).unwrap();
        assert_eq!(h.log_uuid(), Some(0xABCD_1234));
        assert_eq!(h.mysql_flags(), Some(MYSQL_FLAG_FILE_FULL));
        assert_eq!(h.encryption(), Encryption::MySql);
        assert_eq!(h.mariadb_key_id(), None);
        assert!(!h.created_by_backup());
    }
}
