//! **The one place for the names of encoded files**: which suffix each layer adds, in which
//! order, and which files of a backup stay plain.
//!
//! A file `X` compressed is `X.zst` or `X.lz4` (Percona XtraBackup 8.0's names); encrypted,
//! it gets `.age` last: `X.zst.age`, `X.lz4.age`, `X.age` (compress, then encrypt).
//!
//! ```
//! use incremental_core::codec::names::{decoded_name, encoded_name};
//! use incremental_core::codec::Compression;
//! let enc = encoded_name("db/t.ibd".as_ref(), Some(Compression::Zstd), true);
//! assert_eq!(enc.to_str(), Some("db/t.ibd.zst.age"));
//! let (plain, layers) = decoded_name(&enc).unwrap();
//! assert_eq!((plain.to_str(), layers.compression(), layers.encrypted()),
//!            (Some("db/t.ibd"), Some(Compression::Zstd), true));
//! assert!(decoded_name("db/t.ibd".as_ref()).is_none());
//! // kept plain: tools read it without keys
//! assert_eq!(encoded_name("xtrabackup_checkpoints".as_ref(), Some(Compression::Lz4), true)
//!     .to_str(), Some("xtrabackup_checkpoints"));
//! ```

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::Compression;

/// The suffix of a zstd-compressed file.
pub const ZSTD_SUFFIX: &str = ".zst";
/// The suffix of an LZ4-compressed file.
pub const LZ4_SUFFIX: &str = ".lz4";
/// The suffix of an age-encrypted file (after the compression's, if any).
pub const AGE_SUFFIX: &str = ".age";

/// The files at a backup's root that stay plain whatever the options:
/// `xtrabackup_checkpoints` (as mariabackup keeps it: an incremental's base and the tools that
/// order a chain read it without keys) and `xb_backup_info` (xb's LSNs and backup identities,
/// which an incremental's `--incremental-basedir` and prepare's chain ordering read). Neither
/// holds table data, server names or positions.
pub const PLAIN_FILES: [&str; 2] = ["xtrabackup_checkpoints", "xb_backup_info"];

/// How one stored file is encoded, from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Layers {
    compression: Option<Compression>,
    encrypted: bool,
}

impl Layers {
    /// The compression, if the file is compressed.
    pub fn compression(&self) -> Option<Compression> {
        self.compression
    }

    /// Whether the file is encrypted (age).
    pub fn encrypted(&self) -> bool {
        self.encrypted
    }
}

/// Whether the file `rel` (relative to the backup's root) is stored plain whatever the options
/// ([`PLAIN_FILES`]).
pub fn stays_plain(rel: &Path) -> bool {
    rel.components().count() == 1 && PLAIN_FILES.iter().any(|p| rel.as_os_str() == *p)
}

/// The name the file `rel` is stored under, compressed with `compression` and encrypted or not.
pub fn encoded_name(rel: &Path, compression: Option<Compression>, encrypt: bool) -> PathBuf {
    if stays_plain(rel) {
        return rel.to_path_buf();
    }
    let mut s = OsString::from(rel.as_os_str());
    match compression {
        Some(Compression::Zstd) => s.push(ZSTD_SUFFIX),
        Some(Compression::Lz4) => s.push(LZ4_SUFFIX),
        None => {}
    }
    if encrypt {
        s.push(AGE_SUFFIX);
    }
    PathBuf::from(s)
}

/// The plain name of the stored file `rel` and its layers, or `None` when it is stored plain.
pub fn decoded_name(rel: &Path) -> Option<(PathBuf, Layers)> {
    let s = rel.to_str()?;
    let mut layers = Layers::default();
    let mut rest = s;
    if let Some(r) = rest.strip_suffix(AGE_SUFFIX) {
        layers.encrypted = true;
        rest = r;
    }
    if let Some(r) = rest.strip_suffix(ZSTD_SUFFIX) {
        layers.compression = Some(Compression::Zstd);
        rest = r;
    } else if let Some(r) = rest.strip_suffix(LZ4_SUFFIX) {
        layers.compression = Some(Compression::Lz4);
        rest = r;
    }
    let base = Path::new(rest).file_name();
    if layers == Layers::default() || base.is_none() || rest.ends_with('/') {
        return None;
    }
    Some((PathBuf::from(rest), layers))
}

/// The format of `rel` when it is one xb recognises but does not read (mariabackup's QuickLZ
/// `.qp`, Percona's `.xbcrypt`), with what to do instead.
pub fn unsupported(rel: &Path) -> Option<&'static str> {
    let s = rel.to_str()?;
    if s.ends_with(".qp") {
        Some("QuickLZ (.qp, mariabackup --compress): decompress it with mariabackup --decompress")
    } else if s.ends_with(".xbcrypt") {
        Some("xbcrypt encryption (.xbcrypt, Percona XtraBackup): decrypt it with xbcrypt")
    } else {
        None
    }
}

/// Whether any file in `files` (relative names) is stored encoded.
pub fn any_encoded<'a>(files: impl IntoIterator<Item = &'a Path>) -> bool {
    files.into_iter().any(|f| decoded_name(f).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_combination_round_trips() {
        for c in [None, Some(Compression::Zstd), Some(Compression::Lz4)] {
            for e in [false, true] {
                let n = encoded_name(Path::new("a/b.frm"), c, e);
                match decoded_name(&n) {
                    None => assert!(c.is_none() && !e),
                    Some((p, l)) => {
                        assert_eq!(p, Path::new("a/b.frm"));
                        assert_eq!((l.compression(), l.encrypted()), (c, e));
                    }
                }
            }
        }
        assert!(decoded_name(Path::new(".zst")).is_none());
        assert!(decoded_name(Path::new("db/.age")).is_none());
        assert!(!stays_plain(Path::new("db/xtrabackup_checkpoints")));
        assert!(unsupported(Path::new("db/t.ibd.qp")).is_some());
    }
}
