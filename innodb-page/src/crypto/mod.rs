//! MariaDB data-at-rest encryption: the AES primitives and the keys of the `file_key_management`
//! plugin.
//!
//! - [`cipher`]: one-block AES (key derivation) and MariaDB's "NOPAD" AES-CBC/AES-CTR, the
//!   ciphers of encrypted redo logs and tablespace pages.
//! - [`keys`]: the plugin's key file (plain or encrypted with `openssl enc`) and its file key.
//! - [`page`]: a tablespace's crypt data, page keys, and decrypting classic-layout pages.
//!
//! Everything here works on bytes in memory and never panics on any input.

use thiserror::Error;

pub mod cipher;
pub mod keys;
pub mod page;

/// An AES primitive could not run with the arguments it was given.
///
/// ```
/// use innodb_page::crypto::{CryptoError, cipher};
/// assert_eq!(
///     cipher::ecb_encrypt_block(&[0u8; 20], &[0u8; 16]).unwrap_err(),
///     CryptoError::BadKeyLength { len: 20 }
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// An AES key that is not 16, 24 or 32 bytes long.
    #[error("an AES key of {len} bytes: AES keys are 16, 24 or 32 bytes long")]
    BadKeyLength {
        /// The length of the key that was given.
        len: usize,
    },
    /// A page too short to hold an encrypted part.
    #[error("a page of {len} bytes is too short to be an encrypted page")]
    BadPageLength {
        /// The page's length.
        len: usize,
    },
}
