//! Extraction (`mbstream -x`'s job): every file of a stream written through a [`Sink`].
//!
//! The stream is read by one [`StreamReader`] (every check it makes: paths, CRCs, order,
//! truncation) on the calling thread; with [`ExtractOptions::set_parallel`] above 1, worker
//! threads write the files, each file always by the same worker, so each file's chunks are
//! written in stream order. A file is created in the sink at its first chunk and finished at
//! its end-of-file chunk: with [`DirSink`](crate::backup::sink::DirSink) it is written as
//! `NAME.xbtmp` and renamed to its name then, so **no file under its final name is
//! incomplete**.
//!
//! What is refused, with the stream offset and the path, where `mbstream` 10.11 goes on or
//! exits 0: a path that leaves the target (absolute, a `..` component, a leading `.`), or that
//! ends in the temporary suffix `.xbtmp`; a rename or remove (MariaDB `R`/`D`) whose path or new
//! name would leave the target (mbstream does not check them), or that names a file still
//! being written; a chunk for a file after its end; a bad CRC; a payload out of order; a
//! truncated stream, including files without their end-of-file chunk at the end; an unknown
//! chunk type not marked ignorable; Percona's sparse chunks. Renames and removes are applied
//! through [`Sink::rename`] and [`Sink::remove`] (a missing source is ignored, as mbstream
//! does).
//!
//! After a failure, the files finished before it are complete under their names; the file
//! being written stays under its temporary name (`NAME.xbtmp` with `DirSink`: kept, so that
//! what was interrupted can be seen; the target is not usable as a whole and a new extraction
//! needs an empty target anyway).
//!
//! ```
//! use incremental_core::backup::sink::DirSink;
//! use incremental_core::progress::{Cancel, NoProgress};
//! use incremental_core::xbstream::{extract, ExtractOptions, StreamWriter};
//! let mut w = StreamWriter::new(Vec::new());
//! w.payload(b"db/t.frm", b"frm").unwrap();
//! w.end(b"db/t.frm").unwrap();
//! let stream = w.into_inner();
//! let dir = tempfile::tempdir().unwrap();
//! let mut sink = DirSink::new(dir.path().join("x")).unwrap().sync(false);
//! let report = extract(&stream[..], &mut sink, &ExtractOptions::default(), &NoProgress,
//!     &Cancel::new()).unwrap();
//! assert_eq!((report.files, report.bytes), (1, 3));
//! assert_eq!(std::fs::read(dir.path().join("x/db/t.frm")).unwrap(), b"frm");
//! ```

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io::{self, Read, SeekFrom};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Mutex, PoisonError};

use innodb_page::progress::{Cancel, Event, Progress};

use crate::backup::sink::{FileMeta, Sink, SinkFile, TEMP_SUFFIX};

use super::chunk::shown;
use super::error::XbstreamError;
use super::reader::{Body, Chunk, StreamReader};

/// How to extract.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ExtractOptions {
    parallel: usize,
}

impl Default for ExtractOptions {
    fn default() -> ExtractOptions {
        ExtractOptions { parallel: 1 }
    }
}

impl ExtractOptions {
    /// Threads writing files while the calling thread reads (1, the default: the calling
    /// thread writes too; 0 counts as 1).
    pub fn set_parallel(&mut self, n: usize) -> &mut Self {
        self.parallel = n.max(1);
        self
    }

    /// See [`set_parallel`](Self::set_parallel).
    pub fn parallel(&self) -> usize {
        self.parallel
    }
}

/// What an extraction did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct ExtractReport {
    /// Files written (end-of-file chunks).
    pub files: u64,
    /// Bytes of file data written.
    pub bytes: u64,
    /// Chunks read.
    pub chunks: u64,
    /// Bytes of stream read.
    pub stream_bytes: u64,
}

fn path_of(bytes: &[u8]) -> &Path {
    Path::new(OsStr::from_bytes(bytes))
}

fn write_err(offset: u64, path: &[u8], source: io::Error) -> XbstreamError {
    XbstreamError::Write {
        offset,
        path: shown(path),
        source,
    }
}

/// One file being written: its sink file and where its next bytes go.
struct Open {
    file: Box<dyn SinkFile>,
    pos: u64,
}

/// Writes the chunks of the files given to it.
struct Writer<'a, 'b> {
    sink: &'a Mutex<&'b mut dyn Sink>,
    open: HashMap<Vec<u8>, Open>,
    progress: &'a dyn Progress,
}

impl<'a, 'b> Writer<'a, 'b> {
    fn new(sink: &'a Mutex<&'b mut dyn Sink>, progress: &'a dyn Progress) -> Writer<'a, 'b> {
        Writer {
            sink,
            open: HashMap::new(),
            progress,
        }
    }

    fn file(&mut self, c: &Chunk) -> Result<&mut Open, XbstreamError> {
        if !self.open.contains_key(&c.path) {
            let path = path_of(&c.path);
            let mut sink = self.sink.lock().unwrap_or_else(PoisonError::into_inner);
            let file = sink
                .create(&FileMeta::new(path, None))
                .map_err(|e| write_err(c.offset, &c.path, e))?;
            drop(sink);
            self.progress.event(Event::FileStarted { path, bytes: 0 });
            self.open.insert(c.path.clone(), Open { file, pos: 0 });
        }
        Ok(self.open.get_mut(&c.path).expect("inserted above"))
    }

    fn chunk(&mut self, c: Chunk) -> Result<(), XbstreamError> {
        let at = c.offset;
        match &c.body {
            Body::Data(d) => {
                let o = self.file(&c)?;
                let err = |e| write_err(at, &c.path, e);
                if o.pos != d.file_offset {
                    let s = o.file.seekable().ok_or_else(|| {
                        err(io::Error::new(
                            io::ErrorKind::Unsupported,
                            "the stream seeks, and this destination cannot",
                        ))
                    })?;
                    s.seek(SeekFrom::Start(d.file_offset)).map_err(err)?;
                }
                o.file.write_all(&d.bytes).map_err(err)?;
                o.pos = d.file_offset + d.len;
                self.progress.event(Event::Pages {
                    scanned: 0,
                    copied: 0,
                    bytes: d.len,
                });
            }
            Body::Seek { .. } => {
                // the reader moved the file's expected offset; the next data says where
                self.file(&c)?;
            }
            Body::End => {
                self.file(&c)?;
                let o = self.open.remove(&c.path).expect("opened above");
                o.file.finish().map_err(|e| write_err(at, &c.path, e))?;
                self.progress.event(Event::FileDone {
                    path: path_of(&c.path),
                });
            }
            Body::Rename { to } => {
                let mut sink = self.sink.lock().unwrap_or_else(PoisonError::into_inner);
                ignore_missing(sink.rename(path_of(&c.path), path_of(to)))
                    .map_err(|e| write_err(at, &c.path, e))?;
            }
            Body::Remove => {
                let mut sink = self.sink.lock().unwrap_or_else(PoisonError::into_inner);
                ignore_missing(sink.remove(path_of(&c.path)))
                    .map_err(|e| write_err(at, &c.path, e))?;
            }
        }
        Ok(())
    }
}

/// A rename or remove of a file that is not there does nothing (as in `mbstream`).
fn ignore_missing(r: io::Result<()>) -> io::Result<()> {
    match r {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        r => r,
    }
}

/// What the reading thread sends a worker.
enum Msg {
    Chunk(Chunk),
    /// Reply once everything before has been written.
    Barrier(SyncSender<()>),
}

/// Refuses a path the sink would write under another file's temporary name.
fn check_suffix(c: &Chunk) -> Result<(), XbstreamError> {
    let names = std::iter::once(&c.path).chain(match &c.body {
        Body::Rename { to } => Some(to),
        _ => None,
    });
    for p in names {
        if p.ends_with(TEMP_SUFFIX.as_bytes()) {
            return Err(XbstreamError::BadPath {
                offset: c.offset,
                path: shown(p),
                why: "the name ends in .xbtmp, the suffix of files being extracted",
            });
        }
    }
    Ok(())
}

/// Extracts the stream `input` into `sink` (see the module docs). The sink is not finished:
/// call [`Sink::finish`] to make the files durable.
pub fn extract<R: Read>(
    input: R,
    sink: &mut dyn Sink,
    options: &ExtractOptions,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<ExtractReport, XbstreamError> {
    let mut reader = StreamReader::new(io::BufReader::with_capacity(1 << 20, input));
    let sink = Mutex::new(sink);
    let mut report = ExtractReport::default();
    if options.parallel <= 1 {
        let mut w = Writer::new(&sink, progress);
        read_all(&mut reader, &mut report, cancel, |c| w.chunk(c))?;
    } else {
        let ctx = Context {
            n: options.parallel,
            cancel,
            sink: &sink,
            progress,
        };
        parallel(&mut reader, &mut report, &ctx)?;
    }
    report.stream_bytes = reader.bytes_read();
    Ok(report)
}

fn read_all<R: Read>(
    reader: &mut StreamReader<R>,
    report: &mut ExtractReport,
    cancel: &Cancel,
    mut each: impl FnMut(Chunk) -> Result<(), XbstreamError>,
) -> Result<(), XbstreamError> {
    while let Some(c) = reader.next_chunk()? {
        if cancel.is_cancelled() {
            return Err(XbstreamError::Cancelled {
                offset: reader.bytes_read(),
            });
        }
        check_suffix(&c)?;
        match &c.body {
            Body::Data(d) => {
                report.bytes += d.len;
                report.chunks += u64::from(d.last);
            }
            Body::End => {
                report.files += 1;
                report.chunks += 1;
            }
            _ => report.chunks += 1,
        }
        each(c)?;
    }
    Ok(())
}

/// The worker of the file `path` among `n`.
fn worker_of(path: &[u8], n: usize) -> usize {
    let h = path.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    (h % n as u64) as usize
}

/// What the parallel extraction shares.
struct Context<'a, 'b> {
    n: usize,
    cancel: &'a Cancel,
    sink: &'a Mutex<&'b mut dyn Sink>,
    progress: &'a dyn Progress,
}

fn parallel<R: Read>(
    reader: &mut StreamReader<R>,
    report: &mut ExtractReport,
    ctx: &Context<'_, '_>,
) -> Result<(), XbstreamError> {
    let (n, cancel) = (ctx.n, ctx.cancel);
    let writer = |_: usize| Writer::new(ctx.sink, ctx.progress);
    let failed: Mutex<Option<XbstreamError>> = Mutex::new(None);
    let read = std::thread::scope(|scope| {
        let mut senders = Vec::new();
        for i in 0..n {
            let (tx, rx) = sync_channel::<Msg>(4);
            senders.push(tx);
            let (writer, failed) = (&writer, &failed);
            scope.spawn(move || work(writer(i), rx, failed));
        }
        let stop = || {
            failed
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .is_some()
        };
        read_all(reader, report, cancel, |c| {
            if stop() {
                return Err(XbstreamError::Cancelled { offset: c.offset });
            }
            if matches!(c.body, Body::Rename { .. } | Body::Remove) {
                // every worker done with what came before, then applied here
                barrier(&senders);
                if stop() {
                    return Err(XbstreamError::Cancelled { offset: c.offset });
                }
                return writer(n).chunk(c);
            }
            let to = worker_of(&c.path, n);
            // a send fails only when the worker stopped after an error, reported below
            let _ = senders[to].send(Msg::Chunk(c));
            Ok(())
        })
    });
    let failed = failed.into_inner().unwrap_or_else(PoisonError::into_inner);
    match (read, failed) {
        (_, Some(e)) => Err(e),
        (r, None) => r,
    }
}

fn barrier(senders: &[SyncSender<Msg>]) {
    let (tx, rx) = sync_channel(senders.len());
    for s in senders {
        let _ = s.send(Msg::Barrier(tx.clone()));
    }
    drop(tx);
    while rx.recv().is_ok() {}
}

fn work(mut w: Writer<'_, '_>, rx: Receiver<Msg>, failed: &Mutex<Option<XbstreamError>>) {
    while let Ok(m) = rx.recv() {
        match m {
            Msg::Chunk(c) => {
                if let Err(e) = w.chunk(c) {
                    let mut f = failed.lock().unwrap_or_else(PoisonError::into_inner);
                    f.get_or_insert(e);
                    return;
                }
            }
            Msg::Barrier(reply) => {
                let _ = reply.send(());
            }
        }
    }
}
