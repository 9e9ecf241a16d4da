//! Redo log formats, named by the first server version that writes them, and encryption kinds.

use std::fmt;

use crate::page_type::Vendor;

/// Format word of MySQL 5.7.9+ and MariaDB 10.2 (`LOG_HEADER_FORMAT_CURRENT` of 5.7).
pub const FORMAT_5_7_9: u32 = 1;
/// Format words of MySQL 8.0.1, 8.0.3, 8.0.19 and 8.0.28: all read as [`RedoFormat::MySql80`].
pub const FORMAT_8_0_MIN: u32 = 2;
/// Last format word of the `ib_logfileN` MySQL 8.0 layout (8.0.28).
pub const FORMAT_8_0_MAX: u32 = 5;
/// Format word of MySQL 8.0.30+ (`#ib_redoN` files).
pub const FORMAT_8_0_30: u32 = 6;
/// Format word of MariaDB 10.3.
pub const FORMAT_10_3: u32 = 103;
/// Format word of MariaDB 10.4.
pub const FORMAT_10_4: u32 = 104;
/// Format word of MariaDB 10.5–10.7: `"PHYS"`.
pub const FORMAT_10_5: u32 = 0x5048_5953;
/// Format word of MariaDB 10.8+: `"Phys"` (plain, or old-style encrypted when the encryption
/// header at offset 48 is non-zero).
pub const FORMAT_10_8: u32 = 0x5068_7973;
/// Format word of MariaDB new-style encrypted logs (`FORMAT_ENC_11`): the UTF-8 bytes of U+1F5DD.
pub const FORMAT_ENC_11: u32 = 0xF09F_979D;
/// Bit 31 of the format word: encrypted log, in MariaDB 10.2–10.7 only.
pub const FORMAT_ENCRYPTED_BIT: u32 = 0x8000_0000;

/// A redo log format. The name ([`RedoFormat::name`]) is stable and is what JSON output uses:
/// it is the first server version that writes the format.
///
/// | Variant | Name | Format word (bit 31 masked for MariaDB ≤ 10.7) | Servers |
/// |---|---|---|---|
/// | `MySql57` | `mysql-5.7` | 1 | MySQL 5.7.9+ (creator not MariaDB, no subformat, not encrypted) |
/// | `MySql80` | `mysql-8.0` | 2–5 | MySQL 8.0.1–8.0.29 |
/// | `MySql8030` | `mysql-8.0.30` | 6 | MySQL 8.0.30+ |
/// | `MariaDb102` | `mariadb-10.2` | 1 | MariaDB 10.2 (creator "MariaDB"/"Backup", or subformat ≠ 0, or bit 31) |
/// | `MariaDb103` | `mariadb-10.3` | 103 | MariaDB 10.3 |
/// | `MariaDb104` | `mariadb-10.4` | 104 | MariaDB 10.4 |
/// | `MariaDb105` | `mariadb-10.5` | `PHYS` | MariaDB 10.5–10.7 |
/// | `MariaDb108` | `mariadb-10.8` | `Phys`, `FORMAT_ENC_11` | MariaDB 10.8+, 11.x |
///
/// ```
/// use innodb_page::redo::RedoFormat;
/// assert_eq!(RedoFormat::MySql8030.name(), "mysql-8.0.30");
/// assert!(RedoFormat::MySql57.is_block_framed());
/// assert!(!RedoFormat::MariaDb108.is_block_framed());
/// assert_eq!(RedoFormat::MariaDb105.to_string(), "mariadb-10.5");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RedoFormat {
    /// MySQL 5.7.9 and later 5.7 (format 1).
    MySql57,
    /// MySQL 8.0.1 to 8.0.29 (formats 2 to 5).
    MySql80,
    /// MySQL 8.0.30 and later (format 6, `#innodb_redo/#ib_redoN`).
    MySql8030,
    /// MariaDB 10.2 (format 1).
    MariaDb102,
    /// MariaDB 10.3 (format 103).
    MariaDb103,
    /// MariaDB 10.4 (format 104).
    MariaDb104,
    /// MariaDB 10.5 to 10.7 (format `PHYS`).
    MariaDb105,
    /// MariaDB 10.8 and later (format `Phys` or `FORMAT_ENC_11`).
    MariaDb108,
}

impl RedoFormat {
    /// Every variant, in version order.
    pub const ALL: [RedoFormat; 8] = [
        RedoFormat::MySql57,
        RedoFormat::MySql80,
        RedoFormat::MySql8030,
        RedoFormat::MariaDb102,
        RedoFormat::MariaDb103,
        RedoFormat::MariaDb104,
        RedoFormat::MariaDb105,
        RedoFormat::MariaDb108,
    ];

    /// The stable lower-case name used in reports and JSON (`"mariadb-10.8"`, `"mysql-5.7"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            RedoFormat::MySql57 => "mysql-5.7",
            RedoFormat::MySql80 => "mysql-8.0",
            RedoFormat::MySql8030 => "mysql-8.0.30",
            RedoFormat::MariaDb102 => "mariadb-10.2",
            RedoFormat::MariaDb103 => "mariadb-10.3",
            RedoFormat::MariaDb104 => "mariadb-10.4",
            RedoFormat::MariaDb105 => "mariadb-10.5",
            RedoFormat::MariaDb108 => "mariadb-10.8",
        }
    }

    /// The variant with this [`name`](RedoFormat::name).
    pub fn from_name(name: &str) -> Option<RedoFormat> {
        RedoFormat::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Who writes it.
    pub fn vendor(self) -> Vendor {
        match self {
            RedoFormat::MySql57 | RedoFormat::MySql80 | RedoFormat::MySql8030 => Vendor::MySql,
            _ => Vendor::MariaDb,
        }
    }

    /// True for the formats made of 512-byte blocks (everything except MariaDB 10.8+).
    pub fn is_block_framed(self) -> bool {
        self != RedoFormat::MariaDb108
    }

    /// True for the formats whose checkpoint blocks carry a checkpoint number and the current
    /// checkpoint is the valid block with the larger number (all except MariaDB 10.8+ and MySQL
    /// 8.0.30+, which pick the larger LSN).
    pub fn selects_by_checkpoint_no(self) -> bool {
        !matches!(self, RedoFormat::MariaDb108 | RedoFormat::MySql8030)
    }

    /// True when the LSN → file offset mapping is a ring over `ib_logfile0..N` driven by the
    /// checkpoint offset (MySQL ≤ 8.0.29, MariaDB 10.2–10.7).
    pub fn is_ring(self) -> bool {
        self.is_block_framed() && self != RedoFormat::MySql8030
    }

    /// True when the header block at offset 8 of each data block holds an epoch number that
    /// must match (MySQL 8.0.30+).
    pub fn checks_epoch(self) -> bool {
        self == RedoFormat::MySql8030
    }

    /// True for MySQL 8.0 formats, where bit 15 of a block's data length flags an encrypted
    /// block and must be masked off.
    pub fn masks_data_len_bit15(self) -> bool {
        matches!(self, RedoFormat::MySql80 | RedoFormat::MySql8030)
    }
}

impl fmt::Display for RedoFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How a redo log is encrypted, as far as its header says.
///
/// ```
/// use innodb_page::redo::Encryption;
/// assert_eq!(Encryption::MariaDbEnc11.name(), "mariadb-enc11");
/// assert!(!Encryption::None.is_encrypted());
/// assert!(Encryption::MariaDbEnc11.hides_page_ids());
/// assert!(!Encryption::MariaDb108.hides_page_ids());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Encryption {
    /// Not encrypted.
    None,
    /// MariaDB 10.2–10.7: bit 31 of the format word; blocks carry a key version at 504..508.
    MariaDbBlock,
    /// MariaDB 10.8+ "old style": format `Phys` with a non-zero encryption header at offset 48.
    /// Page ids stay in clear; each mtr carries an 8-byte nonce.
    MariaDb108,
    /// MariaDB `FORMAT_ENC_11` "new style": everything after each record's type and length is
    /// encrypted, page ids included; each mtr carries an 8-byte nonce.
    MariaDbEnc11,
    /// MySQL `innodb_redo_log_encrypt`: encryption info in block 2 (offset 1024) of the file.
    MySql,
}

impl Encryption {
    /// Stable lower-case name: `none`, `mariadb-block`, `mariadb-10.8`, `mariadb-enc11`, `mysql`.
    pub fn name(self) -> &'static str {
        match self {
            Encryption::None => "none",
            Encryption::MariaDbBlock => "mariadb-block",
            Encryption::MariaDb108 => "mariadb-10.8",
            Encryption::MariaDbEnc11 => "mariadb-enc11",
            Encryption::MySql => "mysql",
        }
    }

    /// True unless [`Encryption::None`].
    pub fn is_encrypted(self) -> bool {
        self != Encryption::None
    }

    /// True when MariaDB 10.8+ mini-transactions carry the 8-byte nonce before their CRC.
    pub fn has_mtr_nonce(self) -> bool {
        matches!(self, Encryption::MariaDb108 | Encryption::MariaDbEnc11)
    }

    /// True when page ids of records cannot be read without the key (new-style encryption).
    pub fn hides_page_ids(self) -> bool {
        self == Encryption::MariaDbEnc11
    }
}

impl fmt::Display for Encryption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
