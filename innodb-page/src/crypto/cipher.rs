//! The AES primitives of MariaDB encryption.
//!
//! MariaDB encrypts redo logs and tablespace pages with "NOPAD" AES: the ciphertext is exactly
//! as long as the plaintext. The `file_key_management` plugin maps it to one of two [`Mode`]s:
//!
//! - [`Mode::Cbc`] (`aes_cbc`, the default): AES-CBC without padding over the whole 16-byte
//!   blocks; a partial last block of n − m bytes is XORed with the first n − m bytes of
//!   `AES-ECB(key, IV)` of the *original* IV. Encryption and decryption of that tail are the
//!   same XOR.
//! - [`Mode::Ctr`] (`aes_ctr`): AES-CTR, the counter block being the IV incremented as one
//!   128-bit big-endian integer per block.
//!
//! The AES variant (128, 192, 256) follows the key length: 16, 24 or 32 bytes.
//!
//! ```
//! use innodb_page::crypto::cipher::{self, Mode};
//! let key = [7u8; 16];
//! let iv = [1u8; 16];
//! let mut data = *b"twenty-one bytes long";
//! cipher::encrypt_nopad(Mode::Cbc, &key, &iv, &mut data).unwrap();
//! assert_ne!(&data, b"twenty-one bytes long");
//! cipher::decrypt_nopad(Mode::Cbc, &key, &iv, &mut data).unwrap();
//! assert_eq!(&data, b"twenty-one bytes long");
//! ```

use std::fmt;

use aes::cipher::consts::U16;
use aes::cipher::generic_array::GenericArray;
use aes::cipher::{
    BlockCipher, BlockDecrypt, BlockDecryptMut, BlockEncrypt, BlockEncryptMut, BlockSizeUser,
    InnerIvInit, KeyInit, StreamCipher,
};

use super::CryptoError;

/// The AES block size in bytes.
pub const BLOCK: usize = 16;

/// The cipher mode of MariaDB's "NOPAD" encryption, as chosen by the plugin variable
/// `file_key_management_encryption_algorithm`.
///
/// ```
/// use innodb_page::crypto::cipher::Mode;
/// assert_eq!(Mode::from_name("aes_ctr"), Some(Mode::Ctr));
/// assert_eq!(Mode::Cbc.name(), "aes_cbc");
/// assert_eq!(Mode::from_name("aes_gcm"), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Mode {
    /// `aes_cbc`: AES-CBC without padding, a partial tail XORed with `AES-ECB(key, IV)`.
    Cbc,
    /// `aes_ctr`: AES-CTR with a 128-bit big-endian counter.
    Ctr,
}

impl Mode {
    /// The mode named by a value of `file_key_management_encryption_algorithm` (`aes_cbc`,
    /// `aes_ctr`; ASCII case is ignored, as the server does for enumerated options), or `None`.
    pub fn from_name(name: &str) -> Option<Mode> {
        if name.eq_ignore_ascii_case("aes_cbc") {
            Some(Mode::Cbc)
        } else if name.eq_ignore_ascii_case("aes_ctr") {
            Some(Mode::Ctr)
        } else {
            None
        }
    }

    /// The plugin's name for this mode: `aes_cbc` or `aes_ctr`.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Cbc => "aes_cbc",
            Mode::Ctr => "aes_ctr",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Encrypts one 16-byte block with AES in ECB mode: AES-128, AES-192 or AES-256 by the length
/// of `key` (16, 24 or 32 bytes; any other length is [`CryptoError::BadKeyLength`]).
///
/// MariaDB derives the redo-log key and the page keys this way.
pub fn ecb_encrypt_block(key: &[u8], block: &[u8; 16]) -> Result<[u8; 16], CryptoError> {
    match key.len() {
        16 => Ok(ecb(
            &aes::Aes128::new_from_slice(key).map_err(|_| bad_key(key))?,
            block,
        )),
        24 => Ok(ecb(
            &aes::Aes192::new_from_slice(key).map_err(|_| bad_key(key))?,
            block,
        )),
        32 => Ok(ecb(
            &aes::Aes256::new_from_slice(key).map_err(|_| bad_key(key))?,
            block,
        )),
        _ => Err(bad_key(key)),
    }
}

/// Decrypts `data` in place with MariaDB's "NOPAD" AES in `mode` (see the [module](self)
/// documentation), with `key` (16, 24 or 32 bytes) and `iv`. Any length of `data` works.
pub fn decrypt_nopad(
    mode: Mode,
    key: &[u8],
    iv: &[u8; 16],
    data: &mut [u8],
) -> Result<(), CryptoError> {
    nopad(mode, Direction::Decrypt, key, iv, data)
}

/// Encrypts `data` in place with MariaDB's "NOPAD" AES; the inverse of [`decrypt_nopad`].
pub fn encrypt_nopad(
    mode: Mode,
    key: &[u8],
    iv: &[u8; 16],
    data: &mut [u8],
) -> Result<(), CryptoError> {
    nopad(mode, Direction::Encrypt, key, iv, data)
}

/// AES-256-CBC decryption of whole blocks (the key file of `openssl enc`): `data.len()` must
/// be a multiple of 16 (a partial tail is left as it is).
pub(crate) fn cbc256_decrypt_blocks(key: &[u8; 32], iv: &[u8; 16], data: &mut [u8]) {
    let cipher = aes::Aes256::new(GenericArray::from_slice(key));
    cbc_blocks(cipher, Direction::Decrypt, iv, data);
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Encrypt,
    Decrypt,
}

/// What the AES variants share, for the generic code below.
trait Aes:
    BlockCipher + BlockEncrypt + BlockDecrypt + KeyInit + BlockSizeUser<BlockSize = U16> + Clone
{
}

impl<T> Aes for T where
    T: BlockCipher + BlockEncrypt + BlockDecrypt + KeyInit + BlockSizeUser<BlockSize = U16> + Clone
{
}

fn bad_key(key: &[u8]) -> CryptoError {
    CryptoError::BadKeyLength { len: key.len() }
}

fn nopad(
    mode: Mode,
    dir: Direction,
    key: &[u8],
    iv: &[u8; 16],
    data: &mut [u8],
) -> Result<(), CryptoError> {
    match key.len() {
        16 => run(
            aes::Aes128::new_from_slice(key).map_err(|_| bad_key(key))?,
            mode,
            dir,
            iv,
            data,
        ),
        24 => run(
            aes::Aes192::new_from_slice(key).map_err(|_| bad_key(key))?,
            mode,
            dir,
            iv,
            data,
        ),
        32 => run(
            aes::Aes256::new_from_slice(key).map_err(|_| bad_key(key))?,
            mode,
            dir,
            iv,
            data,
        ),
        _ => return Err(bad_key(key)),
    }
    Ok(())
}

fn run<C: Aes>(cipher: C, mode: Mode, dir: Direction, iv: &[u8; 16], data: &mut [u8]) {
    match mode {
        // CTR is its own inverse.
        Mode::Ctr => {
            let core = ctr::CtrCore::<C, ctr::flavors::Ctr128BE>::inner_iv_init(
                cipher,
                GenericArray::from_slice(iv),
            );
            ctr::Ctr128BE::<C>::from_core(core).apply_keystream(data);
        }
        Mode::Cbc => {
            let whole = data.len() - data.len() % BLOCK;
            let (blocks, tail) = data.split_at_mut(whole);
            let mask = ecb(&cipher, iv);
            cbc_blocks(cipher, dir, iv, blocks);
            tail.iter_mut().zip(mask).for_each(|(b, m)| *b ^= m);
        }
    }
}

/// Plain AES-CBC over the whole blocks of `data`.
fn cbc_blocks<C: Aes>(cipher: C, dir: Direction, iv: &[u8; 16], data: &mut [u8]) {
    let iv = GenericArray::from_slice(iv);
    match dir {
        Direction::Decrypt => {
            let mut cbc = cbc::Decryptor::<C>::inner_iv_init(cipher, iv);
            for block in data.chunks_exact_mut(BLOCK) {
                cbc.decrypt_block_mut(GenericArray::from_mut_slice(block));
            }
        }
        Direction::Encrypt => {
            let mut cbc = cbc::Encryptor::<C>::inner_iv_init(cipher, iv);
            for block in data.chunks_exact_mut(BLOCK) {
                cbc.encrypt_block_mut(GenericArray::from_mut_slice(block));
            }
        }
    }
}

fn ecb<C: Aes>(cipher: &C, block: &[u8; 16]) -> [u8; 16] {
    let mut out = GenericArray::clone_from_slice(block);
    cipher.encrypt_block(&mut out);
    out.into()
}
