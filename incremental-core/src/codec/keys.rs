//! Encryption keys: age X25519 recipients (public keys, `age1…`) and identities (secret keys,
//! `AGE-SECRET-KEY-1…`), as `age-keygen` writes them.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use super::CodecError;

/// The keys of a key file (or of an environment variable holding the same text): any number of
/// recipients and identities, one a line; blank lines and `#` comments are skipped (so the
/// file `age-keygen -o key.txt` writes is one). A backup encrypts to every recipient and to
/// the recipient of every identity; decrypting needs an identity.
///
/// A backup host can be given only recipients: it can then write encrypted backups without
/// being able to read them.
///
/// ```
/// use incremental_core::codec::KeyFile;
/// // what `age-keygen` writes (a test key: never use a published one)
/// let text = "# public key: age14l64fe7f8lsa3enjkz70snz28l27pncxu8rdmks249pz7gxehggsupl2c7\n\
///             AGE-SECRET-KEY-13GDQHAR08PXHVN8QFRGX2N49DTA282SZMJV282VT8WJVFKEQ7DEQMFSEF8\n";
/// let k = KeyFile::parse(text, "key.txt").unwrap();
/// assert!(k.can_decrypt());
/// assert_eq!(k.recipients(), ["age14l64fe7f8lsa3enjkz70snz28l27pncxu8rdmks249pz7gxehggsupl2c7"]);
/// // only the public key: encrypts, cannot decrypt
/// let public = KeyFile::parse("age14l64fe7f8lsa3enjkz70snz28l27pncxu8rdmks249pz7gxehggsupl2c7", "env").unwrap();
/// assert!(!public.can_decrypt());
/// assert!(KeyFile::parse("secret\n", "key.txt").is_err());
/// ```
#[derive(Clone)]
pub struct KeyFile {
    origin: String,
    recipients: Vec<age::x25519::Recipient>,
    identities: Vec<age::x25519::Identity>,
}

impl fmt::Debug for KeyFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyFile")
            .field("origin", &self.origin)
            .field("recipients", &self.recipients())
            .field("identities", &self.identities.len())
            .finish()
    }
}

/// The most recipients a key file may hold: files encrypted to them have age headers short
/// enough for decoding to accept (2 lines and 98 bytes per recipient).
pub(crate) const MAX_RECIPIENTS: usize = 500;

impl KeyFile {
    /// Parses the text of a key file; `origin` (the file's path, or the environment variable's
    /// name) names it in errors. Fails on a line that is neither key nor comment, when there
    /// is no key at all, and past 500 recipients (identities count as theirs).
    pub fn parse(text: &str, origin: &str) -> Result<KeyFile, CodecError> {
        let mut k = KeyFile {
            origin: origin.to_string(),
            recipients: Vec::new(),
            identities: Vec::new(),
        };
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |reason: &str| CodecError::Key {
                origin: origin.to_string(),
                line: i + 1,
                reason: reason.to_string(),
            };
            if line.starts_with("AGE-SECRET-KEY-1") {
                let id = age::x25519::Identity::from_str(line)
                    .map_err(|_| bad("not a valid age identity (AGE-SECRET-KEY-1…)"))?;
                k.recipients.push(id.to_public());
                k.identities.push(id);
            } else if line.starts_with("age1") {
                let r = age::x25519::Recipient::from_str(line)
                    .map_err(|_| bad("not a valid age X25519 recipient (age1…)"))?;
                k.recipients.push(r);
            } else if line.starts_with("-----BEGIN") || line.starts_with("age-encryption.org") {
                return Err(bad("a passphrase-protected key file is not supported: \
                                give the identity file as age-keygen writes it"));
            } else {
                return Err(bad("neither an age recipient (age1…) nor an identity \
                                (AGE-SECRET-KEY-1…); passphrases are not supported"));
            }
        }
        if k.recipients.len() > MAX_RECIPIENTS {
            return Err(CodecError::Key {
                origin: origin.to_string(),
                line: text.lines().count(),
                reason: format!(
                    "{} recipients: at most {MAX_RECIPIENTS} (decoding refuses longer age headers)",
                    k.recipients.len()
                ),
            });
        }
        if k.recipients.is_empty() {
            return Err(CodecError::NoKeys {
                origin: origin.to_string(),
            });
        }
        Ok(k)
    }

    /// Reads and parses the key file at `path`.
    pub fn read(path: &Path) -> Result<KeyFile, CodecError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| CodecError::io("read the key file", path, e))?;
        KeyFile::parse(&text, &path.display().to_string())
    }

    /// Where the keys came from (a path or a variable's name).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Whether the keys include an identity, needed to decrypt.
    pub fn can_decrypt(&self) -> bool {
        !self.identities.is_empty()
    }

    /// The recipients files are encrypted to, as `age1…` strings (each identity's included).
    pub fn recipients(&self) -> Vec<String> {
        self.recipients.iter().map(|r| r.to_string()).collect()
    }

    pub(crate) fn age_recipients(&self) -> impl Iterator<Item = &dyn age::Recipient> {
        self.recipients.iter().map(|r| r as &dyn age::Recipient)
    }

    pub(crate) fn age_identities(&self) -> impl Iterator<Item = &dyn age::Identity> {
        self.identities.iter().map(|i| i as &dyn age::Identity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recipients(n: usize) -> String {
        (0..n)
            .map(|_| format!("{}\n", age::x25519::Identity::generate().to_public()))
            .collect()
    }

    /// A key file of more recipients than an age header that decoding accepts can name is
    /// refused when it is read, not after a backup was encrypted with it.
    #[test]
    fn at_most_500_recipients() {
        let k = KeyFile::parse(&recipients(MAX_RECIPIENTS), "keys.txt").unwrap();
        assert_eq!(k.recipients().len(), MAX_RECIPIENTS);
        let e = KeyFile::parse(&recipients(MAX_RECIPIENTS + 1), "keys.txt").unwrap_err();
        assert!(e.to_string().contains("501 recipients: at most 500"), "{e}");
    }
}
