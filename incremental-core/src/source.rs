//! Where the files of a backup are read from.
//!
//! A backup is a set of files: names relative to the backup's root, each with a size and a
//! stream of bytes. [`BackupSource`] is that view, so that an engine that only needs to read
//! each file from start to end can take a backup from anywhere: today a local directory
//! ([`DirSource`]); later an xbstream stream or an object store. [`copy_back`](mod@crate::copy_back)
//! reads through it. The prepare and the chain verify still read local paths: they need random
//! access to the deltas and tablespaces, and write in place.
//!
//! ```
//! use incremental_core::source::{BackupSource, DirSource};
//! let src = DirSource::new("../tests/data/mariadb-10.11/backup/full");
//! let files = src.files().unwrap();
//! assert!(files.iter().any(|f| f.path.as_os_str() == "xtrabackup_checkpoints"));
//! let mut r = src.open("xtrabackup_checkpoints".as_ref()).unwrap();
//! let mut text = String::new();
//! std::io::Read::read_to_string(&mut r, &mut text).unwrap();
//! assert!(text.starts_with("backup_type"));
//! ```

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// One file of a backup.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SourceFile {
    /// Its name relative to the backup's root (`ibdata1`, `db/t.ibd`).
    pub path: PathBuf,
    /// Its size in bytes.
    pub size: u64,
}

impl SourceFile {
    /// A file `path` (relative) of `size` bytes.
    pub fn new(path: impl Into<PathBuf>, size: u64) -> SourceFile {
        SourceFile {
            path: path.into(),
            size,
        }
    }
}

/// A failure to read a backup's files: what was being done, on which file, and why.
#[derive(Debug, thiserror::Error)]
#[error("{}: {action}: {source}", path.display())]
#[non_exhaustive]
pub struct SourceError {
    /// What was being done.
    pub action: &'static str,
    /// The file or directory (the source's location joined with the relative name).
    pub path: PathBuf,
    /// The cause.
    #[source]
    pub source: io::Error,
}

impl SourceError {
    /// An error while doing `action` on `path`.
    pub fn new(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> SourceError {
        SourceError {
            action,
            path: path.into(),
            source,
        }
    }

    /// Whether the file does not exist.
    pub fn is_not_found(&self) -> bool {
        self.source.kind() == io::ErrorKind::NotFound
    }
}

/// The files of one backup, read as streams.
pub trait BackupSource {
    /// Where the backup is, for messages and reports (a directory, a stream's name, a URL).
    fn location(&self) -> &Path;

    /// Every regular file of the backup, sorted by name.
    fn files(&self) -> Result<Vec<SourceFile>, SourceError>;

    /// Opens the file `path` (relative, as [`BackupSource::files`] names it) for reading from
    /// its start. A missing file is an error for which [`SourceError::is_not_found`] holds.
    fn open(&self, path: &Path) -> Result<Box<dyn Read + '_>, SourceError>;

    /// The file `path` as a local file, when the source has one: a reader may then let the
    /// kernel copy it (`copy_file_range`, reflinks) instead of streaming it. The default: none.
    fn local_path(&self, path: &Path) -> Option<PathBuf> {
        let _ = path;
        None
    }
}

/// A boxed source is a source (so that a caller can choose one at run time and still wrap it).
impl<T: BackupSource + ?Sized> BackupSource for Box<T> {
    fn location(&self) -> &Path {
        (**self).location()
    }

    fn files(&self) -> Result<Vec<SourceFile>, SourceError> {
        (**self).files()
    }

    fn open(&self, path: &Path) -> Result<Box<dyn Read + '_>, SourceError> {
        (**self).open(path)
    }

    fn local_path(&self, path: &Path) -> Option<PathBuf> {
        (**self).local_path(path)
    }
}

/// A backup in a local directory.
#[derive(Debug, Clone)]
pub struct DirSource {
    dir: PathBuf,
}

impl DirSource {
    /// The backup in `dir` (read when used; the path is kept as given, for messages).
    pub fn new(dir: impl Into<PathBuf>) -> DirSource {
        DirSource { dir: dir.into() }
    }
}

impl BackupSource for DirSource {
    fn location(&self) -> &Path {
        &self.dir
    }

    /// Every regular file below the directory (symbolic links are not followed).
    fn files(&self) -> Result<Vec<SourceFile>, SourceError> {
        let mut out = Vec::new();
        let mut stack = vec![self.dir.clone()];
        while let Some(d) = stack.pop() {
            let list = |e| SourceError::new("cannot list", &d, e);
            for e in fs::read_dir(&d).map_err(list)? {
                let e = e.map_err(list)?;
                let path = e.path();
                let ft = e
                    .file_type()
                    .map_err(|err| SourceError::new("cannot stat", &path, err))?;
                if ft.is_dir() {
                    stack.push(path);
                } else if ft.is_file() {
                    let size = e
                        .metadata()
                        .map_err(|err| SourceError::new("cannot stat", &path, err))?
                        .len();
                    let rel = path.strip_prefix(&self.dir).unwrap_or(&path).to_path_buf();
                    out.push(SourceFile { path: rel, size });
                }
            }
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    fn open(&self, path: &Path) -> Result<Box<dyn Read + '_>, SourceError> {
        let p = self.dir.join(path);
        let f = fs::File::open(&p).map_err(|e| SourceError::new("cannot open", &p, e))?;
        Ok(Box::new(f))
    }

    fn local_path(&self, path: &Path) -> Option<PathBuf> {
        Some(self.dir.join(path))
    }
}
