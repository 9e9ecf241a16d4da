//! Reading a backup's files back from its objects: every object checked against the manifest
//! (its stored size and SHA-256) as it arrives, decoded (the codec's format, as the manifest's
//! encoding says), and every file checked against its plain size and SHA-256.

use std::io::{self, Read};
use std::path::Path;

use crate::codec::names::encoded_name;
use crate::codec::{self, Compression, KeyFile};
use crate::repo::error::RepoError;
use crate::repo::hash::{self, Hasher};
use crate::repo::manifest::{FileEntry, Manifest, Object};
use crate::repo::store::Store;

/// The objects of one backup, read back.
pub(crate) struct Objects {
    store: Store,
    backup: String,
    compression: Option<Compression>,
    encrypted: bool,
    keys: Option<KeyFile>,
}

impl Objects {
    /// The objects of the backup of manifest `m` in `store`, decrypted with `keys`.
    pub fn new(store: &Store, m: &Manifest, keys: Option<&KeyFile>) -> Result<Objects, RepoError> {
        let compression = match m.encoding.compression.as_deref() {
            None => None,
            Some("zstd") => Some(Compression::Zstd),
            Some("lz4") => Some(Compression::Lz4),
            Some(other) => {
                return Err(RepoError::store(
                    store,
                    &crate::repo::keys::manifest(&m.stanza, &m.id),
                    "compression not known to this version of xb",
                    other.to_string(),
                ))
            }
        };
        Ok(Objects {
            store: store.clone(),
            backup: m.id.clone(),
            compression,
            encrypted: !m.encoding.recipients.is_empty(),
            keys: keys.cloned(),
        })
    }

    /// Whether the files can be decoded: not encrypted, or a key that decrypts was given.
    pub fn can_decode(&self) -> bool {
        !self.encrypted || self.keys.as_ref().is_some_and(KeyFile::can_decrypt)
    }

    /// The error saying that object `key` (of file `file`) is not as the manifest says.
    pub fn corrupt(&self, key: &str, file: &str, what: impl Into<String>) -> RepoError {
        RepoError::Corrupt {
            location: self.store.location().to_string(),
            backup: self.backup.clone(),
            key: key.to_string(),
            file: file.to_string(),
            what: what.into().into_boxed_str(),
        }
    }

    /// The stored bytes of `o` (holding bytes of file `file`), checked: its size and SHA-256.
    /// A missing object is [`RepoError::Corrupt`] too, naming the file.
    pub fn stored(&self, o: &Object, file: &str) -> Result<Vec<u8>, RepoError> {
        let bytes = match self.store.get_opt(&o.key)? {
            Some(b) => b,
            None => return Err(self.corrupt(&o.key, file, "object missing")),
        };
        self.check(o, file, &bytes)?;
        Ok(bytes)
    }

    /// Checks the stored bytes `bytes` of `o`.
    pub fn check(&self, o: &Object, file: &str, bytes: &[u8]) -> Result<(), RepoError> {
        if bytes.len() as u64 != o.stored {
            return Err(self.corrupt(
                &o.key,
                file,
                format!(
                    "{} bytes stored, the manifest says {}",
                    bytes.len(),
                    o.stored
                ),
            ));
        }
        let sha = hash::hex(&hash::sha256(bytes));
        if sha != o.sha256 {
            return Err(self.corrupt(
                &o.key,
                file,
                format!("SHA-256 {sha}, the manifest says {} (changed)", o.sha256),
            ));
        }
        Ok(())
    }

    /// Decodes `stored`, one whole encoded copy of (a part of) file `file`, from object `key`.
    pub fn decode(&self, key: &str, file: &str, stored: &[u8]) -> Result<Vec<u8>, RepoError> {
        let name = encoded_name(Path::new(file), self.compression, self.encrypted);
        let mut out = Vec::new();
        codec::decode_to(&name, stored, &mut out, self.keys.as_ref()).map_err(|source| {
            RepoError::Codec {
                location: self.store.location().to_string(),
                backup: self.backup.clone(),
                key: key.to_string(),
                file: file.to_string(),
                source: Box::new(source),
            }
        })?;
        Ok(out)
    }

    /// Part `n` of file `f`, fetched, checked (its stored bytes, then its plain bytes against
    /// the part's SHA-256: not hashed twice when the backup is stored plain) and decoded.
    pub fn part(&self, f: &FileEntry, n: usize) -> Result<Vec<u8>, RepoError> {
        let p = &f.parts[n];
        let stored = self.stored(&p.object, &f.path)?;
        let plain = if self.compression.is_none() && !self.encrypted {
            stored
        } else {
            self.decode(&p.object.key, &f.path, &stored)?
        };
        let sha = if plain.len() == stored_len(&p.object) && p.object.sha256 == p.sha256 {
            // stored as is: the stored bytes' SHA-256, just checked, is the plain one
            p.sha256.clone()
        } else {
            hash::hex(&hash::sha256(&plain))
        };
        if sha != p.sha256 {
            return Err(self.corrupt(
                &p.object.key,
                &f.path,
                format!(
                    "its plain bytes have SHA-256 {sha}, the manifest says {}",
                    p.sha256
                ),
            ));
        }
        if plain.len() as u64 != p.size {
            return Err(self.corrupt(
                &p.object.key,
                &f.path,
                format!(
                    "decodes to {} bytes, the manifest says {}",
                    plain.len(),
                    p.size
                ),
            ));
        }
        Ok(plain)
    }

    /// The bundled file `f`, decoded from `bundle`, the (checked) bytes of its bundle `key`.
    pub fn bundled(&self, f: &FileEntry, key: &str, bundle: &[u8]) -> Result<Vec<u8>, RepoError> {
        let b = f.bundled.as_ref().expect("a bundled file");
        let range = usize::try_from(b.offset)
            .ok()
            .zip(usize::try_from(b.offset + b.stored).ok())
            .filter(|(_, end)| *end <= bundle.len());
        let Some((from, to)) = range else {
            return Err(self.corrupt(key, &f.path, "the file lies past the end of its bundle"));
        };
        let plain = self.decode(key, &f.path, &bundle[from..to])?;
        self.whole(f, key, &plain)?;
        Ok(plain)
    }

    /// The bundled file `f`, read by a range request of its bundle `key`, decoded and checked
    /// against its plain size and SHA-256.
    pub fn bundled_range(&self, f: &FileEntry, key: &str) -> Result<Vec<u8>, RepoError> {
        let b = f.bundled.as_ref().expect("a bundled file");
        let stored = match self.store.get_range(key, b.offset..b.offset + b.stored) {
            Ok(s) => s,
            Err(RepoError::Missing { .. }) => {
                return Err(self.corrupt(key, &f.path, "object missing"))
            }
            Err(e) => return Err(e),
        };
        if stored.len() as u64 != b.stored {
            return Err(self.corrupt(key, &f.path, "the file lies past the end of its bundle"));
        }
        let plain = self.decode(key, &f.path, &stored)?;
        self.whole(f, key, &plain)?;
        Ok(plain)
    }

    /// Checks the plain bytes `plain` of the whole file `f` (read from object `key`).
    pub fn whole(&self, f: &FileEntry, key: &str, plain: &[u8]) -> Result<(), RepoError> {
        let mut h = Hasher::default();
        h.update(plain);
        self.check_file(f, key, plain.len() as u64, h)
    }

    /// Checks that file `f` had `size` plain bytes (read from `key`, the last object read).
    pub fn check_size(&self, f: &FileEntry, key: &str, size: u64) -> Result<(), RepoError> {
        if size != f.size {
            return Err(self.corrupt(
                key,
                &f.path,
                format!("the file has {size} bytes, the manifest says {}", f.size),
            ));
        }
        Ok(())
    }

    /// Checks that file `f` had `size` plain bytes hashing to `h` (read from `key`, the last
    /// object read).
    pub fn check_file(
        &self,
        f: &FileEntry,
        key: &str,
        size: u64,
        h: Hasher,
    ) -> Result<(), RepoError> {
        self.check_size(f, key, size)?;
        let sha = h.hex();
        if sha != f.sha256 {
            return Err(self.corrupt(
                key,
                &f.path,
                format!(
                    "the file's SHA-256 is {sha}, the manifest says {}",
                    f.sha256
                ),
            ));
        }
        Ok(())
    }

    /// The key of the bundle `n`, or a corrupt-manifest error naming `file`.
    pub fn bundle_object<'m>(
        &self,
        m: &'m Manifest,
        f: &FileEntry,
    ) -> Result<&'m Object, RepoError> {
        let n = f.bundled.as_ref().map_or(usize::MAX, |b| b.bundle);
        m.bundles.get(n).ok_or_else(|| {
            self.corrupt(
                &crate::repo::keys::manifest(&m.stanza, &m.id),
                &f.path,
                format!("the manifest names bundle {n}, which it does not list"),
            )
        })
    }
}

/// The plain bytes of a file stored in parts, in order, as `Read`: each part fetched and
/// checked when reached, the whole file checked at its end. An error is an `io::Error` holding
/// the [`RepoError`] ([`repo_error`] takes it out).
pub(crate) struct PartsReader<'a> {
    objects: &'a Objects,
    f: &'a FileEntry,
    next: usize,
    cur: Vec<u8>,
    pos: usize,
    size: u64,
    hasher: Option<Hasher>,
    fetched: u64,
}

impl<'a> PartsReader<'a> {
    /// The file `f` (stored in parts).
    pub fn new(objects: &'a Objects, f: &'a FileEntry) -> PartsReader<'a> {
        PartsReader {
            objects,
            f,
            next: 0,
            cur: Vec::new(),
            pos: 0,
            size: 0,
            hasher: Some(Hasher::default()),
            fetched: 0,
        }
    }

    /// Stored bytes fetched so far.
    pub fn fetched(&self) -> u64 {
        self.fetched
    }

    /// Parts fetched and checked so far (the next part is the one being fetched, or that
    /// failed).
    pub fn parts_read(&self) -> usize {
        self.next
    }
}

impl Read for PartsReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.cur.len() {
            if self.next == self.f.parts.len() {
                if let Some(h) = self.hasher.take() {
                    let key = self.f.parts.last().map_or("", |p| p.object.key.as_str());
                    self.objects
                        .check_file(self.f, key, self.size, h)
                        .map_err(io::Error::other)?;
                }
                return Ok(0);
            }
            self.cur = self
                .objects
                .part(self.f, self.next)
                .map_err(io::Error::other)?;
            self.fetched += self.f.parts[self.next].object.stored;
            self.next += 1;
            self.pos = 0;
            self.size += self.cur.len() as u64;
            if let Some(h) = &mut self.hasher {
                h.update(&self.cur);
            }
        }
        let n = buf.len().min(self.cur.len() - self.pos);
        buf[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// The [`RepoError`] inside `e` (made by [`PartsReader`]), if it holds one.
pub(crate) fn repo_error(e: io::Error) -> Result<RepoError, io::Error> {
    if e.get_ref().is_some_and(|i| i.is::<RepoError>()) {
        let inner = e.into_inner().expect("checked");
        return Ok(*inner.downcast::<RepoError>().expect("checked"));
    }
    Err(e)
}

/// The stored size of `o`, as a length in memory.
fn stored_len(o: &crate::repo::manifest::Object) -> usize {
    usize::try_from(o.stored).unwrap_or(usize::MAX)
}
