//! Where a backup's files go: the [`Sink`] trait, and [`DirSink`], a local directory.
//!
//! A backup writes its files one at a time, in order, through [`Sink::create`]; each file is
//! written sequentially and then [`SinkFile::finish`]ed. [`FileMeta::size`] gives the file's
//! size when it is known before its bytes (data files, non-InnoDB files, metadata: the engine
//! then writes exactly that many bytes), so that an archive or upload sink can write a header
//! and stream the bytes without holding the file; `.delta` files and the redo log come without
//! a size. A destination that can seek (a local
//! file) says so through [`SinkFile::seekable`], which lets the delta writer patch cluster
//! headers in place with one page of memory; a stream (a pipe, an object store upload) returns
//! `None` and the writer keeps at most one delta cluster in memory instead.
//!
//! ```
//! use std::io::Write;
//! use incremental_core::backup::sink::{DirSink, Sink};
//! let dir = tempfile::tempdir().unwrap();
//! use incremental_core::backup::sink::FileMeta;
//! let mut sink = DirSink::new(dir.path().join("b")).unwrap();
//! let mut f = sink.create(&FileMeta::new("db/t.frm".as_ref(), Some(5))).unwrap();
//! f.write_all(b"hello").unwrap();
//! f.finish().unwrap();
//! sink.finish().unwrap();
//! assert_eq!(std::fs::read(dir.path().join("b/db/t.frm")).unwrap(), b"hello");
//! ```

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};

use super::BackupError;
use crate::format::checkpoints;

/// A destination that can both write and seek (a local file).
pub trait SeekWrite: Write + Seek + Send {}

impl<T: Write + Seek + Send> SeekWrite for T {}

/// One file being written to a [`Sink`].
pub trait SinkFile: Write + Send {
    /// The file as a seekable destination, if it is one. The default is `None` (a stream).
    fn seekable(&mut self) -> Option<&mut dyn SeekWrite> {
        None
    }

    /// Completes the file: after this it is in place with all its bytes.
    fn finish(self: Box<Self>) -> io::Result<()>;
}

/// What a sink is told about a file it is asked to create.
///
/// ```
/// use incremental_core::backup::sink::FileMeta;
/// let m = FileMeta::new("db/t.ibd".as_ref(), Some(65536));
/// assert_eq!((m.path().to_str(), m.size()), (Some("db/t.ibd"), Some(65536)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct FileMeta<'a> {
    path: &'a Path,
    size: Option<u64>,
}

impl<'a> FileMeta<'a> {
    /// A file at `path` (relative to the backup's root) of `size` bytes, if known.
    pub fn new(path: &'a Path, size: Option<u64>) -> FileMeta<'a> {
        FileMeta { path, size }
    }

    /// The path, relative to the backup's root: `/` separators, never `..`.
    pub fn path(&self) -> &'a Path {
        self.path
    }

    /// The exact number of bytes that will be written, when known before they are.
    pub fn size(&self) -> Option<u64> {
        self.size
    }
}

/// The destination of a backup's files.
///
/// Paths given to [`create`](Sink::create) are relative (`xtrabackup_checkpoints`,
/// `db/t.ibd.delta`), use `/` separators, and never contain `..`. Files are created and
/// finished one after the other, with one exception: a hot backup creates `ib_logfile0`
/// (without a size) first and writes it from the redo follower's thread while the other
/// files are written, finishing it at the end.
pub trait Sink: Send {
    /// Starts a new file (its path relative to the backup's root, and its size when known:
    /// then exactly that many bytes are written before [`SinkFile::finish`]).
    fn create(&mut self, file: &FileMeta<'_>) -> io::Result<Box<dyn SinkFile>>;

    /// Called once after the last file: make everything durable.
    fn finish(&mut self) -> io::Result<()>;

    /// Whether creating a path a second time replaces the file written before (a directory
    /// can; a stream cannot take back what it sent). The default: it can. The backup engine
    /// copies each file once into a sink that cannot.
    fn replaces_files(&self) -> bool {
        true
    }

    /// The `format` that `xtrabackup_info` (and the history table) records for a backup
    /// written here, as mariabackup names it: `file` (the default) or `mbstream` (a stream).
    fn info_format(&self) -> &'static str {
        "file"
    }

    /// Renames the finished file `from` to `to` (both relative, checked as for
    /// [`create`](Sink::create)), replacing `to`: the extraction of a MariaDB stream's rename
    /// chunk. The default refuses ([`io::ErrorKind::Unsupported`]); a missing `from` is an
    /// error of kind [`io::ErrorKind::NotFound`].
    fn rename(&mut self, from: &Path, to: &Path) -> io::Result<()> {
        let _ = (from, to);
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "this destination cannot rename files",
        ))
    }

    /// Removes the finished file `path` (relative): the extraction of a MariaDB stream's
    /// remove chunk. The default refuses ([`io::ErrorKind::Unsupported`]); a missing file is
    /// an error of kind [`io::ErrorKind::NotFound`].
    fn remove(&mut self, path: &Path) -> io::Result<()> {
        let _ = path;
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "this destination cannot remove files",
        ))
    }
}

/// Checks that `rel` is a plain relative path (no root, no `..`), as a sink must receive.
///
/// ```
/// use incremental_core::backup::sink::check_relative;
/// assert!(check_relative("db/t.ibd".as_ref()).is_ok());
/// assert!(check_relative("../x".as_ref()).is_err());
/// assert!(check_relative("/etc/passwd".as_ref()).is_err());
/// ```
pub fn check_relative(rel: &Path) -> io::Result<()> {
    let ok =
        !rel.as_os_str().is_empty() && rel.components().all(|c| matches!(c, Component::Normal(_)));
    if ok {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{}: not a relative path inside the backup directory",
                rel.display()
            ),
        ))
    }
}

/// The suffix of the temporary name under which [`DirSink`] writes each file (`NAME.xbtmp`)
/// until it is finished: a file with it is the mark of a backup that was interrupted.
pub const TEMP_SUFFIX: &str = ".xbtmp";

/// A local backup directory.
///
/// The directory (and every subdirectory) is created with mode 0700, files with mode 0600.
/// Each file is written under a temporary name (`NAME.xbtmp`) and renamed into place by
/// [`SinkFile::finish`], so a file under its final name always has all its bytes (as far as
/// the process is concerned). With `sync` (the default), [`SinkFile::finish`] also starts the
/// file's writeback (`sync_file_range(SYNC_FILE_RANGE_WRITE)`, which does not wait), so that
/// the disk writes the backup while the next files are read; [`Sink::finish`] then makes
/// everything durable at once with one `syncfs` on the target's filesystem, which waits for
/// that writeback and commits the metadata, directories and renames included — one flush for
/// the whole backup instead of one per file; with `sync`, the creation of
/// `xtrabackup_checkpoints` (the mark of a complete backup) is preceded by one more, so that
/// the mark never reaches the disk before the files it vouches for. A backup is durable once
/// `finish` returns; one interrupted before that must be taken again (the engine writes
/// `xtrabackup_checkpoints` last, so such a directory is recognisable).
#[derive(Debug)]
pub struct DirSink {
    root: PathBuf,
    sync: bool,
    dirs: Vec<PathBuf>,
}

impl DirSink {
    /// Creates `root` (mode 0700; its parents as needed). Fails with
    /// [`BackupError::TargetNotEmpty`] if `root` exists and is not an empty directory (a backup
    /// never mixes with other files), with [`BackupError::Write`] if it cannot be created.
    ///
    /// ```
    /// use incremental_core::backup::sink::DirSink;
    /// let dir = tempfile::tempdir().unwrap();
    /// std::fs::write(dir.path().join("x"), b"").unwrap();
    /// assert!(DirSink::new(dir.path()).is_err()); // not empty
    /// assert!(DirSink::new(dir.path().join("new")).is_ok());
    /// ```
    pub fn new(root: impl Into<PathBuf>) -> Result<DirSink, BackupError> {
        let root = root.into();
        DirSink::check_target(&root)?;
        let write_err = |source| BackupError::Write {
            path: root.clone(),
            source,
        };
        match fs::read_dir(&root) {
            Ok(mut rd) => {
                if rd.next().is_some() {
                    return Err(BackupError::TargetNotEmpty { path: root });
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(&root)
                    .map_err(|e| write_err(annotate(&root, e)))?;
            }
            Err(e) => return Err(write_err(annotate(&root, e))),
        }
        Ok(DirSink {
            dirs: vec![root.clone()],
            root,
            sync: true,
        })
    }

    /// Checks, without creating or changing anything, that [`new`](Self::new) would accept
    /// `root`: absent, or an empty directory. Lets a caller refuse a target before it starts
    /// anything else (connecting to a server, `BACKUP STAGE`).
    ///
    /// ```
    /// use incremental_core::backup::sink::DirSink;
    /// let dir = tempfile::tempdir().unwrap();
    /// assert!(DirSink::check_target(&dir.path().join("new")).is_ok());
    /// std::fs::write(dir.path().join("x"), b"").unwrap();
    /// assert!(DirSink::check_target(dir.path()).is_err()); // not empty
    /// assert!(!dir.path().join("new").exists());
    /// ```
    pub fn check_target(root: &Path) -> Result<(), BackupError> {
        match fs::read_dir(root) {
            Ok(mut rd) => match rd.next() {
                Some(_) => Err(BackupError::TargetNotEmpty {
                    path: root.to_path_buf(),
                }),
                None => Ok(()),
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(BackupError::Write {
                path: root.to_path_buf(),
                source: annotate(root, e),
            }),
        }
    }

    /// Turns fsync on or off (on by default; tests turn it off for speed).
    pub fn sync(mut self, sync: bool) -> DirSink {
        self.sync = sync;
        self
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

fn annotate(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

impl DirSink {
    /// With `sync`, makes everything written so far durable (one `syncfs`).
    fn sync_all(&self) -> io::Result<()> {
        if self.sync {
            let root = File::open(&self.root).map_err(|e| annotate(&self.root, e))?;
            // SAFETY: syncfs only reads the descriptor, which `root` keeps open.
            #[allow(unsafe_code)]
            let r = unsafe { libc::syncfs(std::os::unix::io::AsRawFd::as_raw_fd(&root)) };
            if r != 0 {
                return Err(annotate(&self.root, io::Error::last_os_error()));
            }
        }
        Ok(())
    }

    /// Creates the directory that will hold `full` (a path below the root), once.
    fn make_parent(&mut self, full: &Path) -> io::Result<()> {
        if let Some(parent) = full.parent()
            && !self.dirs.iter().any(|d| d == parent)
        {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)
                .map_err(|e| annotate(parent, e))?;
            self.dirs.push(parent.to_path_buf());
        }
        Ok(())
    }
}

impl Sink for DirSink {
    fn create(&mut self, file: &FileMeta<'_>) -> io::Result<Box<dyn SinkFile>> {
        let path = file.path();
        check_relative(path)?;
        if checkpoints::FILE_NAMES.iter().any(|n| path == Path::new(n)) {
            // The mark of a complete backup: never on disk before everything else is (a
            // failed writeback of any file fails the backup here, before the mark exists).
            self.sync_all()?;
        }
        let full = self.root.join(path);
        self.make_parent(&full)?;
        let mut tmp = full.clone().into_os_string();
        tmp.push(TEMP_SUFFIX);
        let tmp = PathBuf::from(tmp);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| annotate(&tmp, e))?;
        Ok(Box::new(DirFile {
            w: BufWriter::with_capacity(1 << 20, file),
            tmp,
            path: full,
            sync: self.sync,
        }))
    }

    /// Renames inside the directory (the directory of `to` created as needed).
    fn rename(&mut self, from: &Path, to: &Path) -> io::Result<()> {
        check_relative(from)?;
        check_relative(to)?;
        let (from, to) = (self.root.join(from), self.root.join(to));
        fs::symlink_metadata(&from).map_err(|e| annotate(&from, e))?;
        self.make_parent(&to)?;
        fs::rename(&from, &to).map_err(|e| annotate(&from, e))
    }

    /// Removes a file inside the directory.
    fn remove(&mut self, path: &Path) -> io::Result<()> {
        check_relative(path)?;
        let full = self.root.join(path);
        fs::remove_file(&full).map_err(|e| annotate(&full, e))
    }

    fn finish(&mut self) -> io::Result<()> {
        self.sync_all()
    }
}

struct DirFile {
    w: BufWriter<File>,
    tmp: PathBuf,
    path: PathBuf,
    sync: bool,
}

/// Starts writing `file`'s dirty pages to disk without waiting for them. Only a head start
/// for the final `syncfs`, which is what makes the data durable: where the call is not
/// supported, nothing is lost by ignoring its result.
fn start_writeback(file: &File) {
    // SAFETY: sync_file_range only reads the descriptor, which `file` keeps open.
    #[allow(unsafe_code)]
    unsafe {
        libc::sync_file_range(
            std::os::unix::io::AsRawFd::as_raw_fd(file),
            0,
            0,
            libc::SYNC_FILE_RANGE_WRITE,
        );
    }
}

impl Write for DirFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.w.write(buf).map_err(|e| annotate(&self.tmp, e))
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.w.write_all(buf).map_err(|e| annotate(&self.tmp, e))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.w.flush().map_err(|e| annotate(&self.tmp, e))
    }
}

impl Seek for DirFile {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.w.seek(pos).map_err(|e| annotate(&self.tmp, e))
    }
}

impl SinkFile for DirFile {
    fn seekable(&mut self) -> Option<&mut dyn SeekWrite> {
        Some(self)
    }

    fn finish(self: Box<Self>) -> io::Result<()> {
        let DirFile { w, tmp, path, sync } = *self;
        let file = w.into_inner().map_err(|e| annotate(&tmp, e.into_error()))?;
        if sync {
            start_writeback(&file);
        }
        drop(file);
        fs::rename(&tmp, &path).map_err(|e| annotate(&path, e))
    }
}

/// Creates a file of `bytes` in `sink`, whole.
pub(crate) fn put(sink: &mut dyn Sink, path: &Path, bytes: &[u8]) -> Result<(), BackupError> {
    let err = |source| BackupError::Write {
        path: path.into(),
        source,
    };
    let mut f = sink
        .create(&FileMeta::new(path, Some(bytes.len() as u64)))
        .map_err(err)?;
    f.write_all(bytes).map_err(err)?;
    f.finish().map_err(err)
}

/// Adapts a [`SinkFile`] to `Write + Seek` (seeking fails on streams), so that one delta writer
/// type can serve both kinds of destination.
pub(crate) struct SinkHandle(pub(crate) Box<dyn SinkFile>);

impl Write for SinkHandle {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.0.write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl Seek for SinkHandle {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        match self.0.seekable() {
            Some(s) => s.seek(pos),
            None => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "the backup destination cannot seek",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn files_appear_only_when_finished_and_modes_are_private() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("t");
        let mut s = DirSink::new(&root).unwrap().sync(false);
        let mut f = s
            .create(&FileMeta::new(Path::new("a/b/c.ibd"), None))
            .unwrap();
        f.write_all(b"xyz").unwrap();
        assert!(!root.join("a/b/c.ibd").exists());
        assert!(f.seekable().is_some());
        f.finish().unwrap();
        s.finish().unwrap();
        assert_eq!(fs::read(root.join("a/b/c.ibd")).unwrap(), b"xyz");
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&root), 0o700);
        assert_eq!(mode(&root.join("a/b")), 0o700);
        assert_eq!(mode(&root.join("a/b/c.ibd")), 0o600);
        assert!(s
            .create(&FileMeta::new(Path::new("../evil"), None))
            .is_err());
    }
}
