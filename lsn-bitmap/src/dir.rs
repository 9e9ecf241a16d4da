//! A directory of bitmap files.

use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::name::FileName;

/// One bitmap file found in a directory.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// std::fs::write(dir.path().join("ib_modified_log_3_77.xdb"), [0u8; 10]).unwrap();
/// let d = lsn_bitmap::BitmapDir::open(dir.path()).unwrap();
/// let f = &d.files()[0];
/// assert_eq!((f.name.seq, f.name.start_lsn.get(), f.len), (3, 77, 10));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BitmapFile {
    /// Full path.
    pub path: PathBuf,
    /// Sequence number and start LSN from the name.
    pub name: FileName,
    /// Length in bytes when listed.
    pub len: u64,
}

/// The bitmap files of a directory, sorted by sequence number (then start LSN).
///
/// Files are recognised by name ([`FileName::parse`]); regular files and symlinks to regular
/// files count, anything else is ignored. See [`BitmapDir::changed_pages`] for queries.
///
/// ```
/// use innodb_page::Lsn;
/// use lsn_bitmap::{BitmapDir, BitmapWriter, ChangedPages, WriterOptions};
/// let dir = tempfile::tempdir().unwrap();
/// let mut w = BitmapWriter::open(dir.path(), WriterOptions::default()).unwrap();
/// w.start_file(Lsn::new(1000)).unwrap();
/// let mut run = ChangedPages::new();
/// run.insert(7, 3);
/// w.write_run(Lsn::new(2000), &run).unwrap();
/// std::fs::write(dir.path().join("unrelated.txt"), b"x").unwrap();
///
/// let bitmaps = BitmapDir::open(dir.path()).unwrap();
/// assert_eq!(bitmaps.files().len(), 1);
/// assert_eq!(bitmaps.files()[0].name.seq, 1);
/// let changed = bitmaps.changed_pages(Lsn::new(1000), Lsn::new(2000)).unwrap();
/// assert!(changed.contains(7, 3));
/// ```
#[derive(Clone, Debug)]
pub struct BitmapDir {
    path: PathBuf,
    files: Vec<BitmapFile>,
}

impl BitmapDir {
    /// Lists `path`.
    ///
    /// ```
    /// assert!(lsn_bitmap::BitmapDir::open("/nonexistent-dir").is_err());
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<BitmapDir, Error> {
        let path = path.as_ref();
        let entries = std::fs::read_dir(path).map_err(|e| Error::io(path, 0, e))?;
        let mut files = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(path, 0, e))?;
            let file_name = entry.file_name();
            let Some(name) = file_name.to_str().and_then(FileName::parse) else {
                continue;
            };
            let file_path = entry.path();
            let file_type = entry.file_type().map_err(|e| Error::io(&file_path, 0, e))?;
            if !(file_type.is_file() || file_type.is_symlink()) {
                continue;
            }
            // Follows symlinks.
            let meta = std::fs::metadata(&file_path).map_err(|e| Error::io(&file_path, 0, e))?;
            if !meta.is_file() {
                continue;
            }
            files.push(BitmapFile {
                path: file_path,
                name,
                len: meta.len(),
            });
        }
        Ok(BitmapDir::from_files(path, files))
    }

    /// A directory made of an explicit file list (sorted here).
    ///
    /// ```
    /// use innodb_page::Lsn;
    /// use lsn_bitmap::{BitmapDir, BitmapFile, FileName};
    /// let f = |seq, lsn| BitmapFile {
    ///     path: format!("/d/{}", FileName { seq, start_lsn: Lsn::new(lsn) }).into(),
    ///     name: FileName { seq, start_lsn: Lsn::new(lsn) },
    ///     len: 0,
    /// };
    /// let d = BitmapDir::from_files("/d", vec![f(2, 50), f(1, 0)]);
    /// assert_eq!(d.files()[0].name.seq, 1);
    /// ```
    pub fn from_files(path: impl AsRef<Path>, mut files: Vec<BitmapFile>) -> BitmapDir {
        files.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.path.cmp(&b.path)));
        BitmapDir {
            path: path.as_ref().to_path_buf(),
            files,
        }
    }

    /// The directory.
    ///
    /// ```
    /// let d = tempfile::tempdir().unwrap();
    /// assert_eq!(lsn_bitmap::BitmapDir::open(d.path()).unwrap().path(), d.path());
    /// ```
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The bitmap files, sorted by sequence number.
    ///
    /// ```
    /// let d = tempfile::tempdir().unwrap();
    /// assert!(lsn_bitmap::BitmapDir::open(d.path()).unwrap().files().is_empty());
    /// ```
    pub fn files(&self) -> &[BitmapFile] {
        &self.files
    }
}
