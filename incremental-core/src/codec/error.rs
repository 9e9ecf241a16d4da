//! [`CodecError`]: what went wrong encoding or decoding a file of a backup.

use std::io;
use std::path::{Path, PathBuf};

/// A failure to compress, encrypt, decompress or decrypt a file, naming the file (or the key's
/// origin) and what is wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The file's data does not decode: a changed byte, a cut, a dropped or reordered chunk.
    #[error("{}: {format} data is damaged, truncated or reordered: {source}", path.display())]
    Corrupt {
        /// The encoded file.
        path: PathBuf,
        /// The layer that failed: `zstd`, `lz4` or `age`.
        format: &'static str,
        /// What the decoder said.
        #[source]
        source: io::Error,
    },
    /// The file is encrypted to none of the identities given.
    #[error("{}: encrypted to another key: none of the identities given decrypts it", path.display())]
    WrongKey {
        /// The encrypted file.
        path: PathBuf,
    },
    /// The file is encrypted and no identity was given.
    #[error("{}: encrypted, and no decryption key was given", path.display())]
    NoKey {
        /// The encrypted file.
        path: PathBuf,
    },
    /// The file is not in the format its name says (`X.age` without an age header).
    #[error("{}: not an {format} file ({reason})", path.display())]
    NotFormat {
        /// The file.
        path: PathBuf,
        /// The format its name says.
        format: &'static str,
        /// What was found instead.
        reason: String,
    },
    /// The file is in a format xb does not read (`.qp`, `.xbcrypt`).
    #[error("{}: {what} is not supported", path.display())]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// The format and what to do instead.
        what: &'static str,
    },
    /// A key file (or the environment variable) holds something that is not an age key.
    #[error("{origin}: line {line}: {reason}")]
    Key {
        /// The key file, or the environment variable's name.
        origin: String,
        /// The line (1-based; 0 for the whole text).
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// Encrypting needs recipients (public keys or identities); none were given.
    #[error("{origin}: holds no key (age1… recipients or AGE-SECRET-KEY-1… identities)")]
    NoKeys {
        /// The key file, or the environment variable's name.
        origin: String,
    },
    /// Reading or writing a file failed.
    #[error("{}: cannot {action}: {source}", path.display())]
    Io {
        /// What was being done (`read`, `write`, `rename`...).
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Stopped at the caller's request.
    #[error("cancelled")]
    Cancelled,
}

impl CodecError {
    /// An I/O error while doing `action` on `path`; an error that already is a
    /// [`CodecError`] (a decoder's, carried through `io::Error`) is returned as it is.
    pub(crate) fn io(action: &'static str, path: &Path, e: io::Error) -> CodecError {
        match unwrap_io(e) {
            Ok(c) => c,
            Err(source) => CodecError::Io {
                action,
                path: path.to_path_buf(),
                source,
            },
        }
    }

    /// What the caller can do about it, if there is something.
    pub fn remedy(&self) -> Option<crate::Remedy> {
        match self {
            CodecError::WrongKey { .. } | CodecError::NoKey { .. } => {
                Some(crate::Remedy::GiveDecryptionKey)
            }
            _ => None,
        }
    }

    /// The file this error is about, if it is about one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            CodecError::Corrupt { path, .. }
            | CodecError::WrongKey { path }
            | CodecError::NoKey { path }
            | CodecError::NotFormat { path, .. }
            | CodecError::Unsupported { path, .. }
            | CodecError::Io { path, .. } => Some(path),
            _ => None,
        }
    }

    /// The [`CodecError`] an `io::Error` carries, if it carries one (the errors of the
    /// readers and sink files of this module do: their message names the file).
    pub fn in_io(e: &io::Error) -> Option<&CodecError> {
        e.get_ref().and_then(|i| i.downcast_ref::<CodecError>())
    }

    /// Carries this error through an `io::Error` (readers and writers), keeping it whole.
    pub(crate) fn into_io(self) -> io::Error {
        let kind = match &self {
            CodecError::Io { source, .. } => source.kind(),
            CodecError::Corrupt { .. } | CodecError::NotFormat { .. } => io::ErrorKind::InvalidData,
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, self)
    }
}

/// The [`CodecError`] inside `e`, if it carries one.
pub(crate) fn unwrap_io(e: io::Error) -> Result<CodecError, io::Error> {
    if e.get_ref().is_some_and(|i| i.is::<CodecError>()) {
        let inner = e.into_inner().expect("checked above");
        Ok(*inner.downcast::<CodecError>().expect("checked above"))
    } else {
        Err(e)
    }
}

/// Whether `e` carries a [`CodecError`].
pub(crate) fn is_codec(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|i| i.is::<CodecError>())
}
