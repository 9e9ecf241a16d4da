//! The keys of MariaDB's `file_key_management` plugin.
//!
//! The plugin reads its keys from a text file (`file_key_management_filename`): one key a line,
//! `id;hexkey`, the key 16, 24 or 32 bytes long; leading blanks are skipped, blank lines and
//! lines starting with `#` are comments, a later line with the same id replaces an earlier one,
//! and key id 1 must exist. Anything else on a line before the key ends (a non-digit first
//! character, an id of 0 or above 2³²−1, a missing `;`, an odd number of hex digits, more than
//! 32 bytes, a length other than 16/24/32) is an error: the server refuses to start. Whatever
//! follows the hex digits is ignored. Only the first 1 MiB of the file is read, up to its first
//! NUL byte.
//!
//! The file may be encrypted as `openssl enc -aes-256-cbc -md sha1` writes it: `Salted__`,
//! an 8-byte salt, then AES-256-CBC ciphertext with PKCS#7 padding, the key and IV derived from
//! the password and the salt with OpenSSL's `EVP_BytesToKey` (SHA-1, one round). The password
//! is the [`FileKey`] (`file_key_management_filekey`): the value itself, or with `FILE:path`
//! the contents of that file.
//!
//! ```
//! use innodb_page::crypto::keys::KeyFile;
//! let keys = KeyFile::parse(b"# keys\n1;F5502320F8429037B8DAEF761B189D12\n", None).unwrap();
//! assert_eq!(keys.get(1).unwrap().as_bytes()[0], 0xF5);
//! assert!(keys.get(2).is_none());
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use sha1::{Digest, Sha1};
use thiserror::Error;

use super::cipher;

/// The most the plugin reads of a key file: 1 MiB (the rest is ignored).
pub const MAX_KEY_FILE_SIZE: usize = 1 << 20;

/// The longest file key a `FILE:` file may hold, trailing CR/LF not counted: 256 bytes.
pub const MAX_FILE_KEY_SIZE: usize = 256;

/// The magic of a file encrypted by `openssl enc` with a salt.
const SALTED: &[u8; 8] = b"Salted__";
/// Magic and salt.
const SALTED_HEADER: usize = 16;

/// One AES key of a key file: 16, 24 or 32 bytes. `Debug` shows its length only.
#[derive(Clone, PartialEq, Eq)]
pub struct Key {
    bytes: Vec<u8>,
}

impl Key {
    /// The key bytes (16, 24 or 32 of them).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("len", &self.bytes.len())
            .finish_non_exhaustive()
    }
}

/// The password of an encrypted key file (`file_key_management_filekey`). `Debug` hides it.
///
/// ```
/// use std::path::Path;
/// use innodb_page::crypto::keys::FileKey;
/// let key = FileKey::parse("secret", Path::new("/var/lib/mysql")).unwrap();
/// assert!(!key.is_empty());
/// assert_eq!(key.file(), None);
/// assert!(!format!("{key:?}").contains("secret"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct FileKey {
    password: Vec<u8>,
    file: Option<PathBuf>,
}

impl FileKey {
    /// The file key given by the value of `file_key_management_filekey`: `FILE:path` (case
    /// sensitive) reads the password from that file (see [`FileKey::from_file`]), a relative
    /// path taken from `base_dir` (the server's working directory, its datadir); any other value
    /// is the password itself (empty: no password).
    pub fn parse(value: &str, base_dir: &Path) -> Result<FileKey, KeyError> {
        match value.strip_prefix("FILE:") {
            Some(path) => FileKey::from_file(&base_dir.join(path)),
            None => Ok(FileKey::literal(value.as_bytes())),
        }
    }

    /// A password given as it is. Like the server, only the bytes before a NUL count.
    pub fn literal(password: &[u8]) -> FileKey {
        FileKey {
            password: until_nul(password).to_vec(),
            file: None,
        }
    }

    /// The password held in a file: its first 257 bytes are read, trailing `\r` and `\n`
    /// removed, and what remains must be at most [`MAX_FILE_KEY_SIZE`] bytes. An empty file is
    /// an error; bytes after a NUL do not count.
    pub fn from_file(path: &Path) -> Result<FileKey, KeyError> {
        let io_err = |source| KeyError::Io {
            file: path.to_path_buf(),
            source,
        };
        let mut bytes = Vec::new();
        File::open(path)
            .and_then(|f| f.take(MAX_FILE_KEY_SIZE as u64 + 1).read_to_end(&mut bytes))
            .map_err(io_err)?;
        if bytes.is_empty() {
            return Err(KeyError::EmptyFileKey {
                file: path.to_path_buf(),
            });
        }
        while bytes.last().is_some_and(|&b| b == b'\r' || b == b'\n') {
            bytes.pop();
        }
        if bytes.len() > MAX_FILE_KEY_SIZE {
            return Err(KeyError::FileKeyTooLong {
                file: path.to_path_buf(),
            });
        }
        Ok(FileKey {
            password: until_nul(&bytes).to_vec(),
            file: Some(path.to_path_buf()),
        })
    }

    /// Whether there is no password (an empty value): a plain key file is then expected.
    pub fn is_empty(&self) -> bool {
        self.password.is_empty()
    }

    /// The file the password was read from (`FILE:`), or `None` for a literal.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }
}

impl fmt::Debug for FileKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileKey")
            .field("len", &self.password.len())
            .field("file", &self.file)
            .finish_non_exhaustive()
    }
}

/// The keys of a `file_key_management` key file, by key id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFile {
    keys: BTreeMap<u32, Key>,
    encrypted: bool,
}

impl KeyFile {
    /// Parses the contents of a key file, plain or encrypted (see the [module](self)
    /// documentation), decrypting it with `filekey`. An encrypted file with no (or an empty)
    /// file key is decrypted with the empty password, as the server does; a plain file with a
    /// non-empty file key is an error ([`KeyError::NotEncrypted`]). Errors name no file
    /// (`file: None`); [`KeyFile::open`] names it.
    pub fn parse(bytes: &[u8], filekey: Option<&FileKey>) -> Result<KeyFile, KeyError> {
        let bytes = &bytes[..bytes.len().min(MAX_KEY_FILE_SIZE)];
        let password = filekey.map_or(&[][..], |k| &k.password[..]);
        if bytes.len() > SALTED.len() && bytes.starts_with(SALTED) {
            let plain = decrypt_file(bytes, password)?;
            Ok(KeyFile {
                keys: parse_lines(&plain)?,
                encrypted: true,
            })
        } else if !password.is_empty() {
            Err(KeyError::NotEncrypted { file: None })
        } else {
            Ok(KeyFile {
                keys: parse_lines(bytes)?,
                encrypted: false,
            })
        }
    }

    /// Reads (its first [`MAX_KEY_FILE_SIZE`] bytes) and parses the key file at `path`, as
    /// [`KeyFile::parse`]; errors name the file.
    pub fn open(path: &Path, filekey: Option<&FileKey>) -> Result<KeyFile, KeyError> {
        let mut bytes = Vec::new();
        File::open(path)
            .and_then(|f| f.take(MAX_KEY_FILE_SIZE as u64).read_to_end(&mut bytes))
            .map_err(|source| KeyError::Io {
                file: path.to_path_buf(),
                source,
            })?;
        KeyFile::parse(&bytes, filekey).map_err(|e| e.in_file(path))
    }

    /// The key with this id (the plugin has one version, 1, of every key).
    pub fn get(&self, id: u32) -> Option<&Key> {
        self.keys.get(&id)
    }

    /// The key ids, in increasing order (1 is always among them).
    pub fn ids(&self) -> impl Iterator<Item = u32> + '_ {
        self.keys.keys().copied()
    }

    /// Whether the file was encrypted (`Salted__`).
    pub fn is_encrypted(&self) -> bool {
        self.encrypted
    }
}

/// What is wrong with a line of a key file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum LineProblem {
    /// The line starts with neither a digit (a key id) nor `#` (a comment).
    #[error("a key line must start with a decimal key id")]
    NotAKeyId,
    /// A key id of 0 or above 4294967295.
    #[error("a key id must be from 1 to 4294967295")]
    KeyIdOutOfRange,
    /// The key id is not followed by `;`.
    #[error("the key id must be followed by `;`")]
    MissingSemicolon,
    /// An odd number of hex digits.
    #[error("the key has an odd number of hex digits")]
    OddHexDigits,
    /// More than 64 hex digits (32 bytes).
    #[error("the key is longer than 32 bytes")]
    KeyTooLong,
    /// A key that is not 16, 24 or 32 bytes long.
    #[error("a key of {bytes} bytes: keys are 16, 24 or 32 bytes long")]
    BadKeyLength {
        /// The number of bytes the hex digits give.
        bytes: usize,
    },
}

/// A key file or file key that cannot be used. Every error names the file when it is known
/// (`None`: parsed from memory) and keeps its cause.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The operating system refused to read the key file or the file key's file.
    #[error("{}: cannot read: {source}", file.display())]
    Io {
        /// The file.
        file: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The file key's file (`FILE:`) is empty.
    #[error("{}: the file key file is empty", file.display())]
    EmptyFileKey {
        /// The file key's file.
        file: PathBuf,
    },
    /// The file key's file holds more than 256 bytes (trailing CR/LF not counted).
    #[error("{}: the file key is longer than {MAX_FILE_KEY_SIZE} bytes", file.display())]
    FileKeyTooLong {
        /// The file key's file.
        file: PathBuf,
    },
    /// A file key was given but the key file is not encrypted (the server refuses this).
    #[error(
        "{}: a file key was given but the key file is not encrypted",
        shown(file)
    )]
    NotEncrypted {
        /// The key file.
        file: Option<PathBuf>,
    },
    /// An encrypted key file (`Salted__`) too short for a salt, or whose ciphertext is not a
    /// positive multiple of 16 bytes.
    #[error("{}: encrypted key file of {len} bytes is truncated (expected `Salted__`, an 8-byte salt and whole 16-byte AES blocks)", shown(file))]
    Truncated {
        /// The key file.
        file: Option<PathBuf>,
        /// Its length in bytes.
        len: usize,
    },
    /// The encrypted key file does not decrypt with the file key: wrong password, or not
    /// encrypted as `openssl enc -aes-256-cbc -md sha1` does (OpenSSL 3's default digest,
    /// SHA-256, and PBKDF2 are not what the server reads).
    #[error("{}: cannot decrypt the key file: wrong file key, or not encrypted with AES-256-CBC and an SHA-1 EVP_BytesToKey (`openssl enc -aes-256-cbc -md sha1`)", shown(file))]
    WrongFileKey {
        /// The key file.
        file: Option<PathBuf>,
    },
    /// A line of the (decrypted) key file is not a comment nor a valid key.
    #[error("{}: line {line}, column {column}{}: {problem}", shown(file), key_id.map(|id| format!(", key id {id}")).unwrap_or_default())]
    BadLine {
        /// The key file.
        file: Option<PathBuf>,
        /// The line number, from 1.
        line: usize,
        /// The byte column where the problem was found, from 1.
        column: usize,
        /// The key id of the line, when it was read.
        key_id: Option<u32>,
        /// What is wrong.
        #[source]
        problem: LineProblem,
    },
    /// The key file has no key with id 1, which the server requires (it encrypts the redo
    /// log and the system tablespace with it).
    #[error("{}: the key file has no key with id 1 (required)", shown(file))]
    MissingKey1 {
        /// The key file.
        file: Option<PathBuf>,
    },
}

impl KeyError {
    /// The same error, naming `path` as the key file.
    fn in_file(mut self, path: &Path) -> KeyError {
        match &mut self {
            KeyError::NotEncrypted { file }
            | KeyError::Truncated { file, .. }
            | KeyError::WrongFileKey { file }
            | KeyError::BadLine { file, .. }
            | KeyError::MissingKey1 { file } => *file = Some(path.to_path_buf()),
            KeyError::Io { .. }
            | KeyError::EmptyFileKey { .. }
            | KeyError::FileKeyTooLong { .. } => {}
        }
        self
    }
}

fn shown(file: &Option<PathBuf>) -> String {
    match file {
        Some(path) => path.display().to_string(),
        None => "key file".to_owned(),
    }
}

/// The bytes before the first NUL (the server handles these as C strings).
fn until_nul(bytes: &[u8]) -> &[u8] {
    bytes
        .iter()
        .position(|&b| b == 0)
        .map_or(bytes, |n| &bytes[..n])
}

/// OpenSSL's `EVP_BytesToKey` with SHA-1 and one round, for AES-256-CBC: (key, IV).
pub(crate) fn bytes_to_key(password: &[u8], salt: &[u8]) -> ([u8; 32], [u8; 16]) {
    let mut derived = Vec::with_capacity(60);
    let mut prev: Vec<u8> = Vec::new();
    while derived.len() < 48 {
        let mut sha = Sha1::new();
        sha.update(&prev);
        sha.update(password);
        sha.update(salt);
        prev = sha.finalize().to_vec();
        derived.extend_from_slice(&prev);
    }
    let mut key = [0u8; 32];
    let mut iv = [0u8; 16];
    key.copy_from_slice(&derived[..32]);
    iv.copy_from_slice(&derived[32..48]);
    (key, iv)
}

/// Decrypts an `openssl enc` file (`Salted__` checked by the caller) and removes the PKCS#7
/// padding.
fn decrypt_file(bytes: &[u8], password: &[u8]) -> Result<Vec<u8>, KeyError> {
    let body_len = bytes.len().saturating_sub(SALTED_HEADER);
    if bytes.len() < SALTED_HEADER || body_len == 0 || !body_len.is_multiple_of(cipher::BLOCK) {
        return Err(KeyError::Truncated {
            file: None,
            len: bytes.len(),
        });
    }
    let (key, iv) = bytes_to_key(password, &bytes[SALTED.len()..SALTED_HEADER]);
    let mut plain = bytes[SALTED_HEADER..].to_vec();
    cipher::cbc256_decrypt_blocks(&key, &iv, &mut plain);
    let pad = plain.last().copied().unwrap_or(0) as usize;
    let good = (1..=cipher::BLOCK).contains(&pad)
        && plain[plain.len() - pad..]
            .iter()
            .all(|&b| b as usize == pad);
    if !good {
        return Err(KeyError::WrongFileKey { file: None });
    }
    plain.truncate(plain.len() - pad);
    Ok(plain)
}

/// The keys of a plain key file's text.
fn parse_lines(text: &[u8]) -> Result<BTreeMap<u32, Key>, KeyError> {
    let mut keys = BTreeMap::new();
    let text = until_nul(text);
    for (n, line) in text.split(|&b| b == b'\n').enumerate() {
        match parse_line(line) {
            Ok(Some((id, key))) => {
                keys.insert(id, key);
            }
            Ok(None) => {}
            Err((at, key_id, problem)) => {
                return Err(KeyError::BadLine {
                    file: None,
                    line: n + 1,
                    column: at + 1,
                    key_id,
                    problem,
                });
            }
        }
    }
    if keys.contains_key(&1) {
        Ok(keys)
    } else {
        Err(KeyError::MissingKey1 { file: None })
    }
}

/// Where a line goes wrong: the byte index, the key id when read, the problem.
type LineFault = (usize, Option<u32>, LineProblem);

/// One line (without its `\n`): `None` for a comment or a blank line.
fn parse_line(line: &[u8]) -> Result<Option<(u32, Key)>, LineFault> {
    let byte = |i: usize| line.get(i).copied().unwrap_or(0);
    let mut p = line
        .iter()
        .position(|&b| !is_c_space(b))
        .unwrap_or(line.len());
    if p == line.len() || byte(p) == b'#' {
        return Ok(None);
    }
    if !byte(p).is_ascii_digit() {
        return Err((p, None, LineProblem::NotAKeyId));
    }
    let mut id: u64 = 0;
    while byte(p).is_ascii_digit() {
        id = id * 10 + u64::from(byte(p) - b'0');
        if id > u64::from(u32::MAX) {
            return Err((p, None, LineProblem::KeyIdOutOfRange));
        }
        p += 1;
    }
    let Some(id) = u32::try_from(id).ok().filter(|&id| id != 0) else {
        return Err((p, None, LineProblem::KeyIdOutOfRange));
    };
    if byte(p) != b';' {
        return Err((p, Some(id), LineProblem::MissingSemicolon));
    }
    p += 1;
    let mut bytes = Vec::with_capacity(32);
    while bytes.len() < 32 && byte(p).is_ascii_hexdigit() && byte(p + 1).is_ascii_hexdigit() {
        bytes.push(hex(byte(p)) << 4 | hex(byte(p + 1)));
        p += 2;
    }
    if byte(p).is_ascii_hexdigit() {
        let problem = if bytes.len() == 32 {
            LineProblem::KeyTooLong
        } else {
            LineProblem::OddHexDigits
        };
        return Err((p, Some(id), problem));
    }
    if !matches!(bytes.len(), 16 | 24 | 32) {
        return Err((
            p,
            Some(id),
            LineProblem::BadKeyLength { bytes: bytes.len() },
        ));
    }
    Ok(Some((id, Key { bytes })))
}

/// C's `isspace` in the C locale, without `\n` (lines are split on it).
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | 0x0b | 0x0c)
}

/// The value of an ASCII hex digit (checked by the caller).
fn hex(d: u8) -> u8 {
    match d {
        b'0'..=b'9' => d - b'0',
        b'a'..=b'f' => d - b'a' + 10,
        _ => d.wrapping_sub(b'A').wrapping_add(10),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Spec encryption.md §4: password `secret`, salt 0102030405060708.
    #[test]
    fn bytes_to_key_matches_the_spec_vector() {
        let (key, iv) = bytes_to_key(b"secret", &[1, 2, 3, 4, 5, 6, 7, 8]);
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02X}")).collect::<String>();
        assert_eq!(
            hex(&key),
            "9471735EE978C27CD122DB2C55C4E7BD75918CD88E52C548C9E1D45AEB71A233"
        );
        assert_eq!(hex(&iv), "9AFBDDD979490616B897B6510BAB48E5");
    }
}
