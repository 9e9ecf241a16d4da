//! [`StreamSink`]: a [`Sink`] that writes a backup as an xbstream to any `Write + Send` (standard
//! output, a pipe, a socket).
//!
//! Files may be open at the same time (a hot backup writes `ib_logfile0` from the redo
//! follower's thread while the other files are written): the [`StreamWriter`] is shared behind a
//! mutex, and each file keeps a buffer of at most [`CHUNK`] bytes, written out as one payload
//! chunk when full (so a chunk is never split and the memory is bounded by the number of open
//! files times [`CHUNK`]); the file's end-of-file chunk is written when it is finished. A file
//! dropped without being finished gets no end-of-file chunk, so an extractor refuses the
//! stream as truncated.
//!
//! A stream cannot take a file back: creating a path a second time is refused, and
//! [`Sink::replaces_files`] says so to the engine (a hot backup then copies each non-InnoDB
//! file once, under `BLOCK_COMMIT`). Its files cannot seek ([`SinkFile::seekable`] is `None`):
//! the delta writer then keeps one cluster in memory.
//!
//! ```
//! use std::io::Write;
//! use incremental_core::backup::sink::{FileMeta, Sink};
//! use incremental_core::xbstream::sink::StreamSink;
//! let mut sink = StreamSink::new(Vec::new());
//! let mut f = sink.create(&FileMeta::new("db/t.frm".as_ref(), Some(5))).unwrap();
//! f.write_all(b"hello").unwrap();
//! f.finish().unwrap();
//! sink.finish().unwrap();
//! assert!(sink.create(&FileMeta::new("db/t.frm".as_ref(), None)).is_err()); // once only
//! let bytes = sink.into_inner().unwrap();
//! assert_eq!(bytes.len(), 14 + 8 + 20 + 5 + 14 + 8);
//! ```

use std::collections::HashSet;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::backup::sink::{FileMeta, Sink, SinkFile};

use super::writer::StreamWriter;

/// The largest payload chunk a [`StreamSink`] writes, and each open file's buffer (1 MiB).
pub const CHUNK: usize = 1 << 20;

struct Shared<W> {
    writer: StreamWriter<W>,
    /// Files created and not finished (they may have no chunk yet).
    creating: HashSet<Vec<u8>>,
}

/// A [`Sink`] writing an xbstream (see the module docs).
pub struct StreamSink<W> {
    shared: Arc<Mutex<Shared<W>>>,
}

fn lock<W>(m: &Mutex<Shared<W>>) -> io::Result<MutexGuard<'_, Shared<W>>> {
    m.lock()
        .map_err(|_| io::Error::other("xbstream writer: a thread failed while writing"))
}

impl<W: Write + Send + 'static> StreamSink<W> {
    /// A sink writing to `out` (buffer it: small files make small writes).
    pub fn new(out: W) -> StreamSink<W> {
        StreamSink {
            shared: Arc::new(Mutex::new(Shared {
                writer: StreamWriter::new(out),
                creating: HashSet::new(),
            })),
        }
    }

    /// Bytes written to the output so far.
    pub fn bytes_written(&self) -> u64 {
        lock(&self.shared).map_or(0, |s| s.writer.bytes_written())
    }

    /// Chunks written so far.
    pub fn chunks_written(&self) -> u64 {
        lock(&self.shared).map_or(0, |s| s.writer.chunks_written())
    }

    /// The output, once every file handed out is finished or dropped (else `None`).
    pub fn into_inner(self) -> Option<W> {
        let shared = Arc::try_unwrap(self.shared).ok()?;
        Some(shared.into_inner().ok()?.writer.into_inner())
    }
}

impl<W: Write + Send + 'static> Sink for StreamSink<W> {
    fn create(&mut self, file: &FileMeta<'_>) -> io::Result<Box<dyn SinkFile>> {
        let path = file.path().as_os_str().as_bytes().to_vec();
        let mut s = lock(&self.shared)?;
        if s.creating.contains(&path) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!(
                    "{}: already being written to the stream",
                    file.path().display()
                ),
            ));
        }
        s.writer.check_new(&path)?;
        s.creating.insert(path.clone());
        Ok(Box::new(StreamFile {
            shared: Arc::clone(&self.shared),
            path,
            buf: Vec::new(),
        }))
    }

    fn finish(&mut self) -> io::Result<()> {
        let mut s = lock(&self.shared)?;
        Ok(s.writer.flush()?)
    }

    fn replaces_files(&self) -> bool {
        false
    }

    fn info_format(&self) -> &'static str {
        "mbstream"
    }
}

struct StreamFile<W> {
    shared: Arc<Mutex<Shared<W>>>,
    path: Vec<u8>,
    buf: Vec<u8>,
}

impl<W: Write + Send> StreamFile<W> {
    fn emit(&mut self, data: &[u8]) -> io::Result<()> {
        let mut s = lock(&self.shared)?;
        Ok(s.writer.payload(&self.path, data)?)
    }

    fn emit_buffer(&mut self) -> io::Result<()> {
        let buf = std::mem::take(&mut self.buf);
        self.emit(&buf)?;
        self.buf = buf;
        self.buf.clear();
        Ok(())
    }
}

impl<W: Write + Send> Write for StreamFile<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_all(buf)?;
        Ok(buf.len())
    }

    fn write_all(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            if self.buf.is_empty() && data.len() >= CHUNK {
                self.emit(&data[..CHUNK])?;
                data = &data[CHUNK..];
                continue;
            }
            let n = (CHUNK - self.buf.len()).min(data.len());
            self.buf.extend_from_slice(&data[..n]);
            data = &data[n..];
            if self.buf.len() == CHUNK {
                self.emit_buffer()?;
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<W: Write + Send + 'static> SinkFile for StreamFile<W> {
    fn finish(mut self: Box<Self>) -> io::Result<()> {
        if !self.buf.is_empty() {
            self.emit_buffer()?;
        }
        let mut s = lock(&self.shared)?;
        s.writer.end(&self.path)?;
        s.creating.remove(&self.path);
        Ok(())
    }
}
