//! The files of a seekable stream (a stream saved to a file), found in one pass over its chunk
//! headers that seeks over the payloads, and read in place: [`StreamIndex`], and
//! [`FileView`], a `Read + Seek` view of one contained file.
//!
//! The pass makes every check of the [reader](super::reader) but the payloads' CRC-32 (the
//! payloads are not read); [`StreamIndex::verify_checksums`] reads and checks them when wanted.
//! A file's extents are its payloads, in stream order; MariaDB seek chunks may make them
//! overlap (a later extent wins, as when extracting) or leave holes (read as zeros). Renames
//! and removes are applied to the listing.
//!
//! ```
//! use std::io::{Cursor, Read, Seek, SeekFrom};
//! use incremental_core::xbstream::index::StreamIndex;
//! use incremental_core::xbstream::writer::StreamWriter;
//! let mut w = StreamWriter::new(Vec::new());
//! w.payload(b"db/t.ibd.delta", b"0123").unwrap();
//! w.payload(b"db/t.ibd.meta", b"page_size = 16384\n").unwrap();
//! w.payload(b"db/t.ibd.delta", b"4567").unwrap();
//! w.end(b"db/t.ibd.meta").unwrap();
//! w.end(b"db/t.ibd.delta").unwrap();
//! let mut stream = Cursor::new(w.into_inner());
//! let index = StreamIndex::build(&mut stream).unwrap();
//! let f = index.get("db/t.ibd.delta".as_ref()).unwrap();
//! assert_eq!(f.size(), 8);
//! let mut view = f.view(&mut stream);
//! view.seek(SeekFrom::Start(2)).unwrap();
//! let mut s = String::new();
//! view.read_to_string(&mut s).unwrap();
//! assert_eq!(s, "234567");
//! ```

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::error::XbstreamError;
use super::reader::{Body, StreamReader};

/// One payload of a file: `len` bytes of the file at `file_offset`, found in the stream at
/// `stream_offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Extent {
    /// Where the bytes go in the file.
    pub file_offset: u64,
    /// Where they are in the stream.
    pub stream_offset: u64,
    /// How many.
    pub len: u64,
}

/// A file contained in a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexedFile {
    path: PathBuf,
    size: u64,
    extents: Vec<Extent>,
    ordered: bool,
}

impl IndexedFile {
    fn new(path: PathBuf) -> IndexedFile {
        IndexedFile {
            path,
            size: 0,
            extents: Vec::new(),
            ordered: true,
        }
    }

    /// Its path in the stream (relative).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its size: the end of its furthest extent.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Its payloads, in stream order.
    pub fn extents(&self) -> &[Extent] {
        &self.extents
    }

    fn add(&mut self, e: Extent) {
        if e.len == 0 {
            return;
        }
        if self
            .extents
            .last()
            .is_some_and(|l| l.file_offset + l.len != e.file_offset)
        {
            self.ordered = false;
        }
        self.size = self.size.max(e.file_offset + e.len);
        self.extents.push(e);
    }

    /// The file's bytes read from `stream` (the stream this index was built from), with
    /// `Read + Seek`. `stream` may be `&File`, so that several views share one open file.
    pub fn view<R: Read + Seek>(&self, stream: R) -> FileView<'_, R> {
        FileView {
            file: self,
            stream,
            pos: 0,
        }
    }

    /// The extent holding the file's byte `pos` (the last one written there), if any; else
    /// where the next extent starts (a hole up to there).
    fn at(&self, pos: u64) -> Result<&Extent, u64> {
        let covers = |e: &&Extent| e.file_offset <= pos && pos < e.file_offset + e.len;
        if self.ordered {
            let i = self
                .extents
                .partition_point(|e| e.file_offset + e.len <= pos);
            return self.extents.get(i).filter(covers).ok_or(self.size);
        }
        if let Some(e) = self.extents.iter().rev().find(covers) {
            return Ok(e);
        }
        let next = self
            .extents
            .iter()
            .map(|e| e.file_offset)
            .filter(|&o| o > pos)
            .min();
        Err(next.unwrap_or(self.size))
    }
}

/// Every file of a seekable stream and where its bytes are.
#[derive(Debug, Clone, Default)]
pub struct StreamIndex {
    files: BTreeMap<PathBuf, IndexedFile>,
    len: u64,
    chunks: u64,
}

/// Stream input with its length: a skip past the end is a truncated stream.
struct Bounded<R> {
    inner: io::BufReader<R>,
    pos: u64,
    len: u64,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.pos += n as u64;
        Ok(n)
    }
}

fn skip_over<R: Read + Seek>(b: &mut Bounded<R>, n: u64) -> io::Result<()> {
    if b.len - b.pos < n {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    // within the buffer (small payloads) this moves in it instead of reading again
    let n_signed = i64::try_from(n).map_err(|_| io::Error::from(io::ErrorKind::UnexpectedEof))?;
    b.inner.seek_relative(n_signed)?;
    b.pos += n;
    Ok(())
}

fn path_of(bytes: &[u8]) -> PathBuf {
    PathBuf::from(OsStr::from_bytes(bytes))
}

impl StreamIndex {
    /// Reads the chunk headers of `stream` from its current position to its end, seeking over
    /// the payloads. Fails as the [reader](super::reader) does on a stream it refuses (CRCs
    /// aside: see [`verify_checksums`](Self::verify_checksums)).
    pub fn build<R: Read + Seek>(stream: &mut R) -> Result<StreamIndex, XbstreamError> {
        let read = |source| XbstreamError::Read { offset: 0, source };
        let start = stream.stream_position().map_err(read)?;
        let end = stream.seek(SeekFrom::End(0)).map_err(read)?;
        stream.seek(SeekFrom::Start(start)).map_err(read)?;
        let input = Bounded {
            inner: io::BufReader::with_capacity(64 * 1024, &mut *stream),
            pos: 0,
            len: end - start,
        };
        let mut reader = StreamReader::skipping(input, skip_over);
        let mut index = StreamIndex {
            len: end - start,
            ..StreamIndex::default()
        };
        while let Some(c) = reader.next_chunk()? {
            index.chunks += 1;
            index.apply(c, start);
        }
        Ok(index)
    }

    fn apply(&mut self, c: super::reader::Chunk, base: u64) {
        let path = path_of(&c.path);
        match c.body {
            Body::Data(d) => {
                let f = self
                    .files
                    .entry(path.clone())
                    .or_insert_with(|| IndexedFile::new(path));
                f.add(Extent {
                    file_offset: d.file_offset,
                    stream_offset: base + d.stream_offset,
                    len: d.len,
                });
            }
            Body::End | Body::Seek { .. } => {
                self.files
                    .entry(path.clone())
                    .or_insert_with(|| IndexedFile::new(path));
            }
            Body::Rename { to } => {
                if let Some(mut f) = self.files.remove(&path) {
                    f.path = path_of(&to);
                    self.files.insert(f.path.clone(), f);
                }
            }
            Body::Remove => {
                self.files.remove(&path);
            }
        }
    }

    /// The files, sorted by path.
    pub fn files(&self) -> impl Iterator<Item = &IndexedFile> {
        self.files.values()
    }

    /// The file `path` (relative, as in the stream).
    pub fn get(&self, path: &Path) -> Option<&IndexedFile> {
        self.files.get(path)
    }

    /// Chunks in the stream.
    pub fn chunks(&self) -> u64 {
        self.chunks
    }

    /// Bytes of the stream indexed.
    pub fn stream_len(&self) -> u64 {
        self.len
    }

    /// Reads every payload of `stream` (the one indexed, at the same start) and checks its
    /// CRC-32: the checks [`build`](Self::build) leaves out.
    pub fn verify_checksums<R: Read + Seek>(stream: &mut R) -> Result<(), XbstreamError> {
        let mut reader = StreamReader::new(io::BufReader::with_capacity(1 << 20, stream));
        while reader.next_chunk()?.is_some() {}
        Ok(())
    }
}

/// A contained file's bytes, read from the stream (see [`IndexedFile::view`]).
#[derive(Debug)]
pub struct FileView<'a, R> {
    file: &'a IndexedFile,
    stream: R,
    pos: u64,
}

impl<R: Read + Seek> Read for FileView<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.file.size || buf.is_empty() {
            return Ok(0);
        }
        let n = match self.file.at(self.pos) {
            Ok(e) => {
                let within = self.pos - e.file_offset;
                let n = (e.len - within).min(buf.len() as u64) as usize;
                self.stream
                    .seek(SeekFrom::Start(e.stream_offset + within))?;
                self.stream.read_exact(&mut buf[..n])?;
                n
            }
            Err(next) => {
                let n = (next - self.pos).min(buf.len() as u64) as usize;
                buf[..n].fill(0);
                n
            }
        };
        self.pos += n as u64;
        Ok(n)
    }
}

impl<R> Seek for FileView<'_, R> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let base = match to {
            SeekFrom::Start(n) => {
                self.pos = n;
                return Ok(n);
            }
            SeekFrom::End(d) => (self.file.size, d),
            SeekFrom::Current(d) => (self.pos, d),
        };
        match base.0.checked_add_signed(base.1) {
            Some(p) => {
                self.pos = p;
                Ok(p)
            }
            None => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the start of the file",
            )),
        }
    }
}
