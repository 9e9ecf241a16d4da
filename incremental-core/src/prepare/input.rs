//! Where the prepare reads each backup of its chain from: a directory, or an xbstream **file**
//! read in place (an incremental merged straight from its stream, never extracted).
//!
//! Every file of a backup is named by an absolute path. For a backup given as a stream file
//! `S`, its file `db/t.ibd.delta` is named `S/db/t.ibd.delta`: a path under a regular file,
//! which no real file can have, so [`Inputs`] tells the two apart by prefix alone, and the
//! journal, the plan and the error messages keep naming files by path. A stream is indexed
//! once ([`super::stream_input`]): its chunk headers are read, every payload's CRC checked, and
//! each contained file becomes a list of byte ranges of the stream file, read at random
//! ([`ReadAt`]) like a file of a directory.
//!
//! A backup that is not a directory is a [`BackupInput`]: a stream file ([`StreamInput`]), or a
//! backup of a repository read by ranges of its objects (`repo::restore`). Each is given to the
//! prepare under a root path that no directory holds, and read at random through [`ReadAt`].

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::error::PrepareError;
use super::files::{self, Listing};
use super::stream_input::StreamInput;
use crate::codec::KeyFile;
use crate::format::delta::{Checks, DeltaIndex, PageSize};

/// A file readable at any offset by several threads at once.
pub(crate) trait ReadAt: Send + Sync {
    /// Its size in bytes.
    fn size(&self) -> u64;
    /// Reads up to `buf.len()` bytes at `at`; fewer only at the end.
    fn read_at(&self, buf: &mut [u8], at: u64) -> io::Result<usize>;

    /// Reads exactly `buf.len()` bytes at `at` (`UnexpectedEof` past the end).
    fn read_exact_at(&self, mut buf: &mut [u8], mut at: u64) -> io::Result<()> {
        while !buf.is_empty() {
            match self.read_at(buf, at) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => {
                    buf = &mut buf[n..];
                    at += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// A backup readable at random offsets that is not a directory (a stream file, a backup of a
/// repository). Its files are named by their plain names, relative to its root.
pub(crate) trait BackupInput: Send + Sync {
    /// Whether it holds the file `rel`.
    fn has(&self, rel: &Path) -> bool;
    /// The file `rel`, for random access.
    fn member(&self, rel: &Path) -> Option<Box<dyn ReadAt>>;
    /// Its files as a directory listing of `root` (files at depth 1 or 2, as
    /// [`files::list`] lists a directory).
    fn listing(&self, root: &Path) -> Listing;
    /// A directory holding its `ib_logfile0` and `backup-my.cnf` as files, for the redo
    /// readers, which read files.
    fn log_dir(&self) -> Result<&Path, PrepareError>;
}

/// The files `names` (sorted, relative) of a backup at `root` as a directory listing of it:
/// files at depth 1 or 2, named under `root`, and the top-level directories.
pub(crate) fn listing<'a>(root: &Path, names: impl IntoIterator<Item = &'a PathBuf>) -> Listing {
    let mut l = Listing::default();
    for rel in names {
        let depth = rel.components().count();
        if depth > 2 {
            continue;
        }
        if depth == 2
            && let Some(top) = rel.components().next()
        {
            let top = PathBuf::from(top.as_os_str());
            if l.dirs.last() != Some(&top) && !l.dirs.contains(&top) {
                l.dirs.push(top);
            }
        }
        l.files.push((rel.clone(), root.join(rel)));
    }
    l.dirs.sort();
    l
}

/// A plain file.
struct Plain {
    file: File,
    len: u64,
}

impl ReadAt for Plain {
    fn size(&self) -> u64 {
        self.len
    }
    fn read_at(&self, buf: &mut [u8], at: u64) -> io::Result<usize> {
        std::os::unix::fs::FileExt::read_at(&self.file, buf, at)
    }
}

/// A [`ReadAt`] seen as `Read + Seek` (for the format readers).
pub(crate) struct Cursor<'a> {
    r: &'a dyn ReadAt,
    pos: u64,
}

impl<'a> Cursor<'a> {
    pub fn new(r: &'a dyn ReadAt) -> Cursor<'a> {
        Cursor { r, pos: 0 }
    }
}

impl Read for Cursor<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.r.read_at(buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for Cursor<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let pos = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.r.size().checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = pos.ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
        Ok(self.pos)
    }
}

/// A delta opened for random access, from a directory or a stream.
pub(crate) struct Delta {
    /// Its name (a path, or a path under a stream file).
    pub path: PathBuf,
    pub r: Box<dyn ReadAt>,
    pub index: DeltaIndex,
}

impl Delta {
    /// Reads data page `k` into `buf` (one page); returns its page number.
    pub fn read_page(&self, k: usize, buf: &mut [u8]) -> Result<u32, PrepareError> {
        let no = self.index.page_nos().get(k).copied().unwrap_or(0);
        let at = self.index.page_offset(k).unwrap_or(u64::MAX);
        self.r
            .read_exact_at(buf, at)
            .map_err(|e| read_error(&self.path, at, e))?;
        Ok(no)
    }
}

/// The error of a read at `at` of `path` that was checked already (changed since?).
pub(crate) fn read_error(path: &Path, at: u64, e: io::Error) -> PrepareError {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        PrepareError::Tablespace {
            path: path.to_path_buf(),
            why: format!("at offset {at}: truncated (changed since it was validated?)"),
        }
    } else {
        PrepareError::io(path, e)
    }
}

/// The backups of a prepare that are not directories (streams, repository backups), by their
/// root path; everything else is a directory.
#[derive(Clone, Default)]
pub(crate) struct Inputs {
    streams: BTreeMap<PathBuf, Arc<dyn BackupInput>>,
}

impl std::fmt::Debug for Inputs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.streams.keys()).finish()
    }
}

impl Inputs {
    /// Adds the backup `input` under the root path `root` (which no directory holds).
    pub fn insert(&mut self, root: PathBuf, input: Arc<dyn BackupInput>) {
        self.streams.insert(root, input);
    }

    /// Opens the inputs `args` (canonical paths) that are not inputs already: each regular
    /// file is indexed as a stream, its encrypted files read with `keys`.
    pub fn open_more(
        mut self,
        args: &[PathBuf],
        keys: Option<&KeyFile>,
    ) -> Result<Inputs, PrepareError> {
        let streams = &mut self.streams;
        for a in args {
            if streams.contains_key(a) {
                continue;
            }
            let m = std::fs::metadata(a).map_err(|e| PrepareError::io(a, e))?;
            if !m.is_file() && !m.is_dir() {
                return Err(PrepareError::io(
                    a,
                    io::Error::other(
                        "neither a directory nor a regular file: a stream is read at random, \
                         so a pipe is read only from standard input (-) or once saved to a file",
                    ),
                ));
            }
            if m.is_file() {
                streams.insert(a.clone(), Arc::new(StreamInput::open(a, keys)?));
            }
        }
        Ok(self)
    }

    /// The input whose root is `root`, if `root` is one.
    pub fn stream(&self, root: &Path) -> Option<&Arc<dyn BackupInput>> {
        self.streams.get(root)
    }

    /// The input holding `abs`, and the name of `abs` inside it.
    fn resolve<'p>(&self, abs: &'p Path) -> Option<(&dyn BackupInput, &'p Path)> {
        self.streams.iter().find_map(|(root, s)| {
            let rel = abs.strip_prefix(root).ok()?;
            (!rel.as_os_str().is_empty()).then_some((s.as_ref(), rel))
        })
    }

    /// Whether `abs` is a file inside a stream.
    pub fn in_stream(&self, abs: &Path) -> bool {
        self.resolve(abs).is_some()
    }

    /// Opens the file `abs` for random access.
    pub fn reader(&self, abs: &Path) -> Result<Box<dyn ReadAt>, PrepareError> {
        if let Some((s, rel)) = self.resolve(abs) {
            return s
                .member(rel)
                .ok_or_else(|| PrepareError::io(abs, io::Error::from(io::ErrorKind::NotFound)));
        }
        let file = File::open(abs).map_err(|e| PrepareError::io(abs, e))?;
        let len = file.metadata().map_err(|e| PrepareError::io(abs, e))?.len();
        Ok(Box::new(Plain { file, len }))
    }

    /// Whether `abs` is a regular file (of a directory, or of a stream).
    pub fn is_file(&self, abs: &Path) -> bool {
        match self.resolve(abs) {
            Some((s, rel)) => s.has(rel),
            None => abs.is_file(),
        }
    }

    /// The whole content of the (small) file `abs`.
    pub fn read(&self, abs: &Path) -> Result<Vec<u8>, PrepareError> {
        if self.resolve(abs).is_none() {
            return std::fs::read(abs).map_err(|e| PrepareError::io(abs, e));
        }
        let r = self.reader(abs)?;
        let mut out = vec![0u8; r.size() as usize];
        r.read_exact_at(&mut out, 0)
            .map_err(|e| PrepareError::io(abs, e))?;
        Ok(out)
    }

    /// The content of `abs`, `None` when it does not exist.
    pub fn read_opt(&self, abs: &Path) -> Result<Option<Vec<u8>>, PrepareError> {
        if self.resolve(abs).is_some() && !self.is_file(abs) {
            return Ok(None);
        }
        match self.read(abs) {
            Ok(b) => Ok(Some(b)),
            Err(PrepareError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Lists the files of the backup at `root` (a directory, or a stream: its contained files
    /// at depth 1 or 2, as a directory is listed).
    pub fn list(&self, root: &Path) -> Result<Listing, PrepareError> {
        match self.streams.get(root) {
            Some(s) => Ok(s.listing(root)),
            None => files::list(root),
        }
    }

    /// Opens and indexes the delta `abs` (checking its whole structure).
    pub fn delta(&self, abs: &Path, ps: PageSize, checks: Checks) -> Result<Delta, PrepareError> {
        let r = self.reader(abs)?;
        let index = DeltaIndex::read(&mut Cursor::new(r.as_ref()), ps, checks)
            .map_err(|e| crate::format::error::Error::delta(abs, e))?;
        Ok(Delta {
            path: abs.to_path_buf(),
            r,
            index,
        })
    }

    /// Space id and page size of the tablespace file `abs` (`None`: first KiB all zero).
    pub fn read_head_opt(&self, abs: &Path) -> Result<Option<(u32, u32)>, PrepareError> {
        if self.resolve(abs).is_none() {
            return files::read_head_opt(abs);
        }
        let r = self.reader(abs)?;
        let mut head = vec![0u8; r.size().min(1024) as usize];
        r.read_exact_at(&mut head, 0)
            .map_err(|e| PrepareError::io(abs, e))?;
        files::head_opt(abs, &head)
    }
}
