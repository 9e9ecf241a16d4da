//! [`DecodingSource`]: a backup whose encoded files read as their plain contents.

use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use super::names::{decoded_name, encoded_name, unsupported};
use super::{decode, CodecError, Compression, KeyFile};
use crate::source::{BackupSource, SourceError, SourceFile};

/// A [`BackupSource`] over another in which each encoded file (`db/t.ibd.zst.age`) is listed
/// and opened under its plain name (`db/t.ibd`) and read decoded, while it is read. A file
/// present both plain and encoded (a directory decoded without removing the originals) is the
/// plain one. The size listed for an encoded file is its stored (encoded) size: the plain size
/// is known only once decoded. Reading a damaged file fails with an `io::Error` whose inner
/// error is a [`CodecError`] naming the file; opening an encrypted file with no identity,
/// or with the wrong one, fails at once. Encoded files are not local files
/// ([`BackupSource::local_path`] is `None` for them).
pub struct DecodingSource<B: BackupSource> {
    inner: B,
    keys: Option<KeyFile>,
}

impl<B: BackupSource> std::fmt::Debug for DecodingSource<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecodingSource")
            .field("location", &self.inner.location())
            .finish()
    }
}

impl<B: BackupSource> DecodingSource<B> {
    /// Reads `inner` decoded; `keys` must hold an identity for encrypted files.
    pub fn new(inner: B, keys: Option<KeyFile>) -> DecodingSource<B> {
        DecodingSource { inner, keys }
    }

    /// The wrapped source.
    pub fn into_inner(self) -> B {
        self.inner
    }
}

/// Every name a plain file may be stored under, encrypted ones first.
fn candidates(plain: &Path) -> [PathBuf; 5] {
    [
        encoded_name(plain, Some(Compression::Zstd), true),
        encoded_name(plain, Some(Compression::Lz4), true),
        encoded_name(plain, None, true),
        encoded_name(plain, Some(Compression::Zstd), false),
        encoded_name(plain, Some(Compression::Lz4), false),
    ]
}

impl<B: BackupSource> BackupSource for DecodingSource<B> {
    fn location(&self) -> &Path {
        self.inner.location()
    }

    fn files(&self) -> Result<Vec<SourceFile>, SourceError> {
        let stored = self.inner.files()?;
        let mut out: Vec<SourceFile> = Vec::with_capacity(stored.len());
        for f in &stored {
            if let Some(what) = unsupported(&f.path) {
                let e = CodecError::Unsupported {
                    path: self.inner.location().join(&f.path),
                    what,
                };
                return Err(SourceError::new("cannot decode", &f.path, e.into_io()));
            }
            match decoded_name(&f.path) {
                None => out.push(f.clone()),
                Some((plain, _)) => {
                    if !stored.iter().any(|g| g.path == plain) {
                        out.push(SourceFile::new(plain, f.size));
                    }
                }
            }
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        out.dedup_by(|a, b| a.path == b.path);
        Ok(out)
    }

    fn open(&self, path: &Path) -> Result<Box<dyn Read + '_>, SourceError> {
        match self.inner.open(path) {
            Err(e) if e.is_not_found() => {}
            other => return other,
        }
        for stored in candidates(path) {
            let r = match self.inner.open(&stored) {
                Err(e) if e.is_not_found() => continue,
                other => other?,
            };
            let shown = self.inner.location().join(&stored);
            let layers = decoded_name(&stored).expect("an encoded name").1;
            let input = Box::new(BufReader::new(r));
            let plain = decode::reader(&shown, layers, input, self.keys.as_ref())
                .map_err(|e| SourceError::new("cannot decode", &shown, e.into_io()))?;
            return Ok(plain);
        }
        Err(SourceError::new(
            "cannot open",
            self.inner.location().join(path),
            io::Error::from(io::ErrorKind::NotFound),
        ))
    }

    fn local_path(&self, path: &Path) -> Option<PathBuf> {
        self.inner.local_path(path).filter(|p| p.is_file())
    }
}
