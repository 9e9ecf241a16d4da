//! [`CodecSink`] (encoding files on their way into a sink) and [`DecodingSink`] (decoding
//! them on their way into a sink).

use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

use super::compress::Pool;
use super::encode::Encoder;
use super::names::{decoded_name, encoded_name, stays_plain, unsupported};
use super::{decode, CodecError, CodecOptions, KeyFile};
use crate::backup::sink::{check_relative, FileMeta, Sink, SinkFile};
use crate::format::info::{self, Info};

/// A [`Sink`] that stores every file encoded in the sink it wraps: `create("db/t.ibd")`
/// creates `db/t.ibd.zst.age` there (without a size: the encoded size is known only at the
/// end) and writes the compressed, then encrypted, bytes. The files of
/// [`names::PLAIN_FILES`](super::names::PLAIN_FILES) pass through plain. `xtrabackup_info`
/// gets the keys mariabackup and XtraBackup record it with: `compressed = compressed` and
/// XtraBackup's `encrypted = Y`.
///
/// Files are not seekable through it ([`SinkFile::seekable`] is `None`): the delta writer then
/// streams. The compression threads are shared by all the files and stop when it is dropped.
pub struct CodecSink<S: Sink> {
    inner: S,
    pool: Option<Arc<Pool>>,
    options: CodecOptions,
}

impl<S: Sink> std::fmt::Debug for CodecSink<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodecSink")
            .field("options", &self.options)
            .finish()
    }
}

impl<S: Sink> CodecSink<S> {
    /// Wraps `inner`, encoding as `options` say (and starting the compression threads).
    pub fn new(inner: S, options: &CodecOptions) -> Result<CodecSink<S>, CodecError> {
        let pool = match options.compression() {
            Some(c) => Some(Arc::new(
                Pool::start(c, options.level(), options.threads()).map_err(|e| {
                    CodecError::io("start the compression threads for", Path::new(""), e)
                })?,
            )),
            None => None,
        };
        Ok(CodecSink {
            inner,
            pool,
            options: options.clone(),
        })
    }

    /// The wrapped sink.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The wrapped sink, the compression threads stopped.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: Sink> Sink for CodecSink<S> {
    fn create(&mut self, file: &FileMeta<'_>) -> io::Result<Box<dyn SinkFile>> {
        let path = file.path();
        check_relative(path)?;
        if stays_plain(path) || !self.options.encodes() {
            return self.inner.create(file);
        }
        let name = encoded_name(
            path,
            self.options.compression(),
            self.options.keys().is_some(),
        );
        let out = self.inner.create(&FileMeta::new(&name, None))?;
        let enc = Encoder::new(
            out,
            self.pool.as_ref(),
            self.options.piece_size(),
            self.options.keys(),
        )?;
        let info = (path.as_os_str() == info::FILE_NAMES[0]).then(|| InfoRecord {
            compressed: self.options.compression().is_some(),
            encrypted: self.options.keys().is_some(),
            text: Vec::new(),
        });
        Ok(Box::new(EncodedFile { enc, info }))
    }

    fn finish(&mut self) -> io::Result<()> {
        self.inner.finish()
    }

    fn replaces_files(&self) -> bool {
        self.inner.replaces_files()
    }

    fn info_format(&self) -> &'static str {
        self.inner.info_format()
    }

    /// Renames the stored (encoded) file.
    fn rename(&mut self, from: &Path, to: &Path) -> io::Result<()> {
        let (from, to) = (self.stored(from), self.stored(to));
        self.inner.rename(&from, &to)
    }

    /// Removes the stored (encoded) file.
    fn remove(&mut self, path: &Path) -> io::Result<()> {
        let path = self.stored(path);
        self.inner.remove(&path)
    }
}

impl<S: Sink> CodecSink<S> {
    /// The name `rel` is stored under.
    fn stored(&self, rel: &Path) -> PathBuf {
        if !self.options.encodes() {
            return rel.to_path_buf();
        }
        encoded_name(
            rel,
            self.options.compression(),
            self.options.keys().is_some(),
        )
    }
}

/// `xtrabackup_info`, held until finished to record the encoding in it.
struct InfoRecord {
    compressed: bool,
    encrypted: bool,
    text: Vec<u8>,
}

impl InfoRecord {
    fn rewritten(self) -> Vec<u8> {
        let Ok(mut info) = Info::parse(&self.text) else {
            return self.text;
        };
        if self.compressed {
            info.set("compressed", "compressed");
        }
        if self.encrypted {
            info.set("encrypted", "Y");
        }
        info.to_bytes()
    }
}

struct EncodedFile {
    enc: Encoder<Box<dyn SinkFile>>,
    info: Option<InfoRecord>,
}

impl Write for EncodedFile {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        match &mut self.info {
            Some(i) => {
                i.text.extend_from_slice(b);
                Ok(b.len())
            }
            None => self.enc.write(b),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.enc.flush()
    }
}

impl SinkFile for EncodedFile {
    fn finish(self: Box<Self>) -> io::Result<()> {
        let EncodedFile { mut enc, info } = *self;
        if let Some(i) = info {
            enc.write_all(&i.rewritten())?;
        }
        enc.finish()?.finish()
    }
}

/// A [`Sink`] that stores encoded files decoded in the sink it wraps: a file created as
/// `db/t.ibd.zst.age` is written as `db/t.ibd` with its plain bytes (other files pass as they
/// are). For `xb extract` of an encoded stream.
///
/// Each encoded file is decoded by a thread of its own while it is written (the decoders
/// read); the decoded file is finished in the wrapped sink only when the whole encoded file
/// decoded: a damaged, cut or wrongly keyed file fails `write` or
/// [`SinkFile::finish`] with an `io::Error` whose inner error is a [`CodecError`] naming the
/// file, and its decoded file is dropped unfinished (a [`DirSink`](crate::DirSink) leaves
/// only its temporary name). Files xb does not decode (`.qp`, `.xbcrypt`) are refused.
pub struct DecodingSink<S: Sink> {
    inner: S,
    keys: Option<KeyFile>,
}

impl<S: Sink> std::fmt::Debug for DecodingSink<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecodingSink")
            .field("keys", &self.keys)
            .finish()
    }
}

impl<S: Sink> DecodingSink<S> {
    /// Wraps `inner`; `keys` must hold an identity for encrypted files.
    pub fn new(inner: S, keys: Option<KeyFile>) -> DecodingSink<S> {
        DecodingSink { inner, keys }
    }

    /// The wrapped sink.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: Sink> Sink for DecodingSink<S> {
    fn create(&mut self, file: &FileMeta<'_>) -> io::Result<Box<dyn SinkFile>> {
        let path = file.path();
        if let Some(what) = unsupported(path) {
            return Err(CodecError::Unsupported {
                path: path.into(),
                what,
            }
            .into_io());
        }
        let Some((plain, layers)) = decoded_name(path) else {
            return self.inner.create(file);
        };
        let out = self.inner.create(&FileMeta::new(&plain, None))?;
        let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(4);
        let keys = self.keys.clone();
        let name = path.to_path_buf();
        let worker = std::thread::Builder::new().name("xb-decode".into()).spawn(
            move || -> Result<Box<dyn SinkFile>, CodecError> {
                let input = Box::new(BufReader::new(ChannelReader::new(rx)));
                let mut r = decode::reader(&name, layers, input, keys.as_ref())?;
                let mut out = out;
                decode::copy(&name, &mut *r, &mut out)?;
                Ok(out)
            },
        )?;
        Ok(Box::new(DecodingFile {
            path: path.to_path_buf(),
            tx: Some(tx),
            buf: Vec::with_capacity(CHUNK),
            worker: Some(worker),
        }))
    }

    fn finish(&mut self) -> io::Result<()> {
        self.inner.finish()
    }

    fn replaces_files(&self) -> bool {
        self.inner.replaces_files()
    }

    fn info_format(&self) -> &'static str {
        self.inner.info_format()
    }

    /// Renames the decoded file (`X.zst` stands for `X`).
    fn rename(&mut self, from: &Path, to: &Path) -> io::Result<()> {
        self.inner.rename(&plain(from), &plain(to))
    }

    /// Removes the decoded file (`X.zst` stands for `X`).
    fn remove(&mut self, path: &Path) -> io::Result<()> {
        self.inner.remove(&plain(path))
    }
}

/// The plain name of the stored name `rel`.
fn plain(rel: &Path) -> PathBuf {
    decoded_name(rel).map_or_else(|| rel.to_path_buf(), |(p, _)| p)
}

const CHUNK: usize = 256 << 10;

type Worker = JoinHandle<Result<Box<dyn SinkFile>, CodecError>>;

struct DecodingFile {
    path: PathBuf,
    tx: Option<SyncSender<Vec<u8>>>,
    buf: Vec<u8>,
    worker: Option<Worker>,
}

impl DecodingFile {
    fn send(&mut self) -> io::Result<()> {
        let data = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        let sent = self.tx.as_ref().is_some_and(|tx| tx.send(data).is_ok());
        if sent {
            return Ok(());
        }
        // The decoder stopped: its error, or data after the end of what it decoded.
        match self.join() {
            Err(e) => Err(e),
            Ok(_) => Err(CodecError::Corrupt {
                path: self.path.clone(),
                format: "encoded",
                source: io::Error::new(io::ErrorKind::InvalidData, "data after the end"),
            }
            .into_io()),
        }
    }

    fn join(&mut self) -> io::Result<Box<dyn SinkFile>> {
        self.tx.take();
        let w = self
            .worker
            .take()
            .ok_or_else(|| io::Error::other("the decoder already stopped"))?;
        match w.join() {
            Ok(Ok(f)) => Ok(f),
            Ok(Err(e)) => Err(e.into_io()),
            Err(_) => Err(io::Error::other(format!(
                "{}: the decoding thread panicked",
                self.path.display()
            ))),
        }
    }
}

impl Write for DecodingFile {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(b);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(b.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl SinkFile for DecodingFile {
    fn finish(mut self: Box<Self>) -> io::Result<()> {
        if !self.buf.is_empty() {
            self.send()?;
        }
        let f = self.join()?;
        f.finish()
    }
}

impl Drop for DecodingFile {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

/// The bytes sent through a channel, as a reader (end: the sender dropped).
struct ChannelReader {
    rx: Receiver<Vec<u8>>,
    cur: Vec<u8>,
    pos: usize,
}

impl ChannelReader {
    fn new(rx: Receiver<Vec<u8>>) -> ChannelReader {
        ChannelReader {
            rx,
            cur: Vec::new(),
            pos: 0,
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.cur.len() {
            match self.rx.recv() {
                Ok(v) => {
                    self.cur = v;
                    self.pos = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len() - self.pos);
        buf[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
