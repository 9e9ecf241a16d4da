//! MariaDB's encrypted tablespace pages: the tablespace's crypt data on page 0, the page key,
//! and decrypting a page of the classic (non-full_crc32) layout, so that the checksum the
//! server computed before encryption can be checked (`mariabackup --extended-validation`).
//!
//! - Crypt data: magic, scheme, IV length (16), a 16-byte IV, the minimum key version, the key
//!   id and the encryption mode, after the extent descriptors of page 0
//!   ([`encryption_offset`](crate::fsp::encryption_offset)).
//! - Page key: `AES-ECB(K, crypt-data IV)`, 16 bytes, where `K` is the key-management
//!   plugin's key of the tablespace's key id at the page's key version.
//! - Classic layout: the key version is at 26, the post-encryption checksum at 30; bytes
//!   `[38, S-8)` are encrypted, with IV `LE32(space id) ‖ LE32(page no) ‖ LE64(page LSN)`
//!   (little-endian), in the plugin's "NOPAD" mode ([`cipher`]).
//!
//! ```
//! use innodb_page::crypto::cipher::Mode;
//! use innodb_page::crypto::page::{classic_key_version, decrypt_classic, encrypt_classic, page_key};
//! let key = page_key(&[7u8; 16], &[1u8; 16]).unwrap();
//! let mut plain = vec![0u8; 4096];
//! plain[4..8].copy_from_slice(&3u32.to_be_bytes()); // page no
//! plain[100] = 42;
//! let mut enc = plain.clone();
//! encrypt_classic(&mut enc, 5, &key, Mode::Cbc, 9).unwrap();
//! assert_eq!(classic_key_version(&enc), Some(9));
//! assert_ne!(enc[100], 42);
//! decrypt_classic(&mut enc, 5, &key, Mode::Cbc).unwrap();
//! assert_eq!(enc, plain);
//! ```

use byteorder::{BigEndian, ByteOrder, LittleEndian};

use super::cipher::{self, Mode};
use super::CryptoError;
use crate::fsp::{mariadb_crypt_data, TablespaceFormat};

/// Offset of the key version of a classic-layout page (the flush-LSN field).
pub const KEY_VERSION_OFFSET: usize = 26;
/// Where the encrypted bytes of a classic-layout page start (after the FIL header).
pub const ENCRYPTED_START: usize = 38;
/// Bytes at the end of a classic-layout page that stay clear (the FIL trailer).
pub const CLEAR_TRAILER: usize = 8;

/// A tablespace's crypt data, read from its page 0.
///
/// ```
/// use innodb_page::crypto::page::CryptData;
/// assert!(CryptData::read(&[0u8; 16384]).is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CryptData {
    /// The IV the page keys are derived with (not secret).
    pub iv: [u8; 16],
    /// The key id (`ENCRYPTION_KEY_ID`).
    pub key_id: u32,
    /// The lowest key version of any page (0: some pages are not encrypted yet).
    pub min_key_version: u32,
    /// The scheme: 0 unencrypted, 1 encrypted.
    pub scheme: u8,
    /// 0 DEFAULT, 1 ON, 2 OFF.
    pub mode: u8,
}

impl CryptData {
    /// The crypt data of page 0 `page0`, if it has any (a MariaDB tablespace set up for
    /// encryption). Never panics.
    pub fn read(page0: &[u8]) -> Option<CryptData> {
        let format = TablespaceFormat::detect(page0).ok()?;
        let c = mariadb_crypt_data(page0, &format.flags)?;
        if usize::from(c[7]) != 16 {
            return None;
        }
        let mut iv = [0u8; 16];
        iv.copy_from_slice(&c[8..24]);
        Some(CryptData {
            iv,
            scheme: c[6],
            min_key_version: BigEndian::read_u32(&c[24..28]),
            key_id: BigEndian::read_u32(&c[28..32]),
            mode: c[32],
        })
    }

    /// Whether pages may be encrypted (scheme 1).
    pub fn is_encrypted(&self) -> bool {
        self.scheme == 1
    }
}

/// The page key of a tablespace: `AES-ECB(key, iv)` (`key` the plugin's key of 16, 24 or 32
/// bytes, `iv` the crypt data's IV).
pub fn page_key(key: &[u8], iv: &[u8; 16]) -> Result<[u8; 16], CryptoError> {
    cipher::ecb_encrypt_block(key, iv)
}

/// The key version of a classic-layout page (BE32 at 26); `None` when it is 0 (the page is
/// not encrypted) or the page is too short.
pub fn classic_key_version(page: &[u8]) -> Option<u32> {
    let v = page.get(KEY_VERSION_OFFSET..KEY_VERSION_OFFSET + 4)?;
    match BigEndian::read_u32(v) {
        0 => None,
        v => Some(v),
    }
}

/// The IV of a page: `LE32(space id) ‖ LE32(page no) ‖ LE64(page LSN)`.
fn page_iv(page: &[u8], space_id: u32) -> [u8; 16] {
    let mut iv = [0u8; 16];
    LittleEndian::write_u32(&mut iv[..4], space_id);
    LittleEndian::write_u32(&mut iv[4..8], BigEndian::read_u32(&page[4..8]));
    LittleEndian::write_u64(&mut iv[8..], BigEndian::read_u64(&page[16..24]));
    iv
}

/// The encrypted range of a classic-layout page, or `None` when the page is too short.
fn classic_range(page: &[u8]) -> Option<std::ops::Range<usize>> {
    let end = page.len().checked_sub(CLEAR_TRAILER)?;
    (end > ENCRYPTED_START).then_some(ENCRYPTED_START..end)
}

/// Decrypts a classic-layout (non-full_crc32, not page-compressed) page of tablespace
/// `space_id` in place with the page key `key` in `mode`; the key version and the
/// post-encryption checksum (26..34) are cleared, as the server does, which leaves the page as
/// it was before encryption. Nothing is checked: a wrong key gives garbage, which the page's
/// own checksum then rejects. A page shorter than 47 bytes is [`CryptoError::BadPageLength`].
pub fn decrypt_classic(
    page: &mut [u8],
    space_id: u32,
    key: &[u8; 16],
    mode: Mode,
) -> Result<(), CryptoError> {
    let range = classic_range(page).ok_or(CryptoError::BadPageLength { len: page.len() })?;
    let iv = page_iv(page, space_id);
    cipher::decrypt_nopad(mode, key, &iv, &mut page[range])?;
    page[KEY_VERSION_OFFSET..ENCRYPTED_START - 4].fill(0);
    Ok(())
}

/// Encrypts a classic-layout page in place as the server does, with key version `version`
/// written at 26; the post-encryption checksum at 30 is left as it is (the inverse of
/// [`decrypt_classic`], for tests and tools).
pub fn encrypt_classic(
    page: &mut [u8],
    space_id: u32,
    key: &[u8; 16],
    mode: Mode,
    version: u32,
) -> Result<(), CryptoError> {
    let range = classic_range(page).ok_or(CryptoError::BadPageLength { len: page.len() })?;
    let iv = page_iv(page, space_id);
    cipher::encrypt_nopad(mode, key, &iv, &mut page[range])?;
    BigEndian::write_u32(
        &mut page[KEY_VERSION_OFFSET..KEY_VERSION_OFFSET + 4],
        version,
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Spec encryption.md §8 (server B, `aes_ctr`, crc32 pages): `t/b.ibd`, space 6, page 3,
    /// crypt-data IV `0851635f…` and key 2 give page key `a002ea07…`; the page IV is
    /// little-endian.
    #[test]
    fn page_iv_is_little_endian() {
        let mut page = vec![0u8; 16384];
        page[4..8].copy_from_slice(&3u32.to_be_bytes());
        page[16..24].copy_from_slice(&66271u64.to_be_bytes());
        let iv = page_iv(&page, 6);
        assert_eq!(
            iv,
            [6, 0, 0, 0, 3, 0, 0, 0, 0xdf, 0x02, 0x01, 0, 0, 0, 0, 0]
        );
    }

    #[test]
    fn short_pages_are_refused_not_panicking() {
        for len in [0, 10, 46] {
            let mut p = vec![0u8; len];
            assert_eq!(
                decrypt_classic(&mut p, 1, &[0; 16], Mode::Cbc),
                Err(CryptoError::BadPageLength { len })
            );
        }
        assert_eq!(classic_key_version(&[0u8; 20]), None);
    }
}
