//! [`RepoSink`]: the [`Sink`] a backup into a repository writes through.
//!
//! Each file's plain bytes are hashed (SHA-256) as they come. A file of less than
//! [`SMALL_FILE`] bytes is encoded whole when finished and appended to the current bundle
//! (one object of up to [`BUNDLE_SIZE`] bytes holding many small files, each encoded on its
//! own, so that 10,000 tables do not cost 30,000 requests). A larger file is cut into parts of
//! `part_size` plain bytes, each encoded (compressed by the codec's threads, then encrypted)
//! as its bytes come into one buffer allocated once, and queued to the upload threads when
//! full. Nothing is written to local disk; memory holds at most one encoded part per open
//! file (two at most: a hot backup writes `ib_logfile0` while the other files are written),
//! the current bundle, the upload queue and the parts being stored.
//!
//! The sink cannot take a file back ([`Sink::replaces_files`] is `false`): the engine then
//! copies each file once.

use std::collections::HashSet;
use std::io::{self, Write};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::backup::sink::{check_relative, FileMeta, Sink, SinkFile};

use super::super::hash::Hasher;
use super::super::manifest::Bundled;
use super::upload::{Job, Queue};
use crate::codec::encode::Encoder;

/// Files under this size are bundled (256 KiB): `.frm`, `.MAI`, `.MAD` and `.MYI` of small
/// tables, `.meta`, `.delta`s of tables that changed little, metadata files. Above it, one
/// request per file costs little next to the bytes it carries (at 256 KiB a request's
/// latency is worth about as much transfer time as the file on a 100 MB/s link), and a
/// restore reads it on its own; below it, a bundle turns many requests into one.
pub const SMALL_FILE: u64 = 256 << 10;

/// The size at which a bundle is closed and uploaded (16 MiB): large enough that a server's
/// many small files cost few requests, small enough that a bundle in memory and one being
/// uploaded stay cheap.
pub const BUNDLE_SIZE: usize = 16 << 20;

/// One file as the manifest will list it, before its parts' objects are known.
pub(crate) struct Written {
    pub path: String,
    pub size: u64,
    pub sha256: String,
    /// Parts queued (numbered 0..parts).
    pub parts: usize,
    pub bundled: Option<Bundled>,
}

struct Shared {
    /// Files finished, in order; a file's number is its index.
    files: Vec<Option<Written>>,
    created: HashSet<String>,
    bundle: Vec<u8>,
    bundle_no: usize,
}

/// The [`Sink`] of a backup into a repository (see the module docs).
pub(crate) struct RepoSink {
    shared: Arc<Mutex<Shared>>,
    queue: Queue,
    part_size: usize,
}

fn lock(m: &Mutex<Shared>) -> io::Result<MutexGuard<'_, Shared>> {
    m.lock()
        .map_err(|_| io::Error::other("repository sink: a thread failed while writing"))
}

impl RepoSink {
    /// A sink queueing its objects to `queue`, cutting large files in parts of `part_size`.
    pub(crate) fn new(queue: Queue, part_size: usize) -> RepoSink {
        RepoSink {
            shared: Arc::new(Mutex::new(Shared {
                files: Vec::new(),
                created: HashSet::new(),
                bundle: Vec::new(),
                bundle_no: 0,
            })),
            queue,
            part_size,
        }
    }

    /// Queues the current bundle if it holds anything.
    fn flush_bundle(&self) -> io::Result<()> {
        let mut s = lock(&self.shared)?;
        flush_bundle(&mut s, &self.queue)
    }

    /// The files finished, each with its number, and the number of bundles (every file
    /// handed out must be finished or dropped); the queue is released.
    pub(crate) fn into_files(self) -> io::Result<(Vec<(usize, Written)>, usize)> {
        self.flush_bundle()?;
        let RepoSink { shared, queue, .. } = self;
        drop(queue);
        let mut s = lock(&shared)?;
        let files = std::mem::take(&mut s.files);
        let files = files
            .into_iter()
            .enumerate()
            .filter_map(|(i, w)| Some((i, w?)))
            .collect();
        Ok((files, s.bundle_no))
    }
}

fn flush_bundle(s: &mut Shared, queue: &Queue) -> io::Result<()> {
    if s.bundle.is_empty() {
        return Ok(());
    }
    let data = std::mem::take(&mut s.bundle);
    let n = s.bundle_no;
    s.bundle_no += 1;
    queue.send(Job::Bundle { n, data })
}

impl Sink for RepoSink {
    fn create(&mut self, file: &FileMeta<'_>) -> io::Result<Box<dyn SinkFile>> {
        check_relative(file.path())?;
        let path = file
            .path()
            .to_str()
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{}: not a UTF-8 name", file.path().display()),
                )
            })?
            .to_string();
        self.queue.check()?;
        let mut s = lock(&self.shared)?;
        if !s.created.insert(path.clone()) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{path}: already written to the repository"),
            ));
        }
        let index = s.files.len();
        s.files.push(None);
        Ok(Box::new(RepoFile {
            shared: Arc::clone(&self.shared),
            queue: self.queue.clone(),
            index,
            path,
            part_size: self.part_size,
            expected: file.size(),
            head: Vec::with_capacity(match file.size() {
                Some(n) => (n as usize).min(SMALL_FILE as usize),
                None => 16 << 10,
            }),
            enc: None,
            part_plain: 0,
            part_hasher: Hasher::default(),
            hasher: Hasher::default(),
            size: 0,
            parts: 0,
        }))
    }

    fn finish(&mut self) -> io::Result<()> {
        self.flush_bundle()?;
        self.queue.check()
    }

    fn replaces_files(&self) -> bool {
        false
    }
}

/// A file being written: its first [`SMALL_FILE`] bytes are held plain (it may be a small
/// file, bundled whole); past them, each part is encoded as its bytes come, into one buffer
/// allocated once per part, and queued when full.
struct RepoFile {
    shared: Arc<Mutex<Shared>>,
    queue: Queue,
    index: usize,
    path: String,
    part_size: usize,
    /// The size announced, if any.
    expected: Option<u64>,
    /// The first bytes, plain, until the file is known not to be small.
    head: Vec<u8>,
    /// The current part's encoder, once the file is not small.
    enc: Option<Encoder<Vec<u8>>>,
    /// Plain bytes in the current part, and their hash.
    part_plain: usize,
    part_hasher: Hasher,
    /// The whole file's hash and size.
    hasher: Hasher,
    size: u64,
    /// Parts queued.
    parts: usize,
}

impl RepoFile {
    fn encode_err(&self, e: io::Error) -> io::Error {
        io::Error::new(
            e.kind(),
            format!("{}: encoding for the repository: {e}", self.path),
        )
    }

    /// Starts the encoder of the next part, sized for the bytes it will hold.
    fn start_part(&mut self) -> io::Result<()> {
        let done = (self.parts * self.part_size) as u64;
        let plain = match self.expected {
            Some(n) => n.saturating_sub(done).min(self.part_size as u64) as usize,
            None => self.part_size,
        };
        let enc = self
            .queue
            .codec()
            .encoder(&self.path, plain)
            .map_err(|e| self.encode_err(e))?;
        self.enc = Some(enc);
        Ok(())
    }

    /// Writes plain bytes into the current part (at most what it has room for).
    fn write_part(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.enc.is_none() {
            self.start_part()?;
        }
        let n = (self.part_size - self.part_plain).min(data.len());
        let enc = self.enc.as_mut().expect("just started");
        enc.write_all(&data[..n]).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("{}: encoding for the repository: {e}", self.path),
            )
        })?;
        self.part_hasher.update(&data[..n]);
        self.part_plain += n;
        Ok(n)
    }

    /// Queues the current part.
    fn send_part(&mut self) -> io::Result<()> {
        let Some(enc) = self.enc.take() else {
            return Ok(());
        };
        let stored = enc.finish().map_err(|e| self.encode_err(e))?;
        let plain_sha = std::mem::take(&mut self.part_hasher).hex();
        self.queue.send(Job::Part {
            file: self.index,
            n: self.parts,
            path: self.path.clone(),
            size: std::mem::take(&mut self.part_plain) as u64,
            plain_sha,
            stored,
        })?;
        self.parts += 1;
        Ok(())
    }
}

impl Write for RepoFile {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.write_all(data)?;
        Ok(data.len())
    }

    fn write_all(&mut self, mut data: &[u8]) -> io::Result<()> {
        self.hasher.update(data);
        self.size += data.len() as u64;
        // a file still small enough to be bundled: held plain
        if self.enc.is_none() && self.parts == 0 {
            if self.head.len() + data.len() <= SMALL_FILE as usize {
                self.head.extend_from_slice(data);
                return Ok(());
            }
            let head = std::mem::take(&mut self.head);
            let mut h: &[u8] = &head;
            while !h.is_empty() {
                let n = self.write_part(h)?;
                h = &h[n..];
            }
        }
        while !data.is_empty() {
            if self.part_plain == self.part_size {
                self.send_part()?;
            }
            let n = self.write_part(data)?;
            data = &data[n..];
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl SinkFile for RepoFile {
    fn finish(mut self: Box<Self>) -> io::Result<()> {
        self.queue.check()?;
        let sha256 = std::mem::take(&mut self.hasher).hex();
        let mut bundled = None;
        if self.enc.is_none() && self.parts == 0 && self.size < SMALL_FILE {
            let head = std::mem::take(&mut self.head);
            let mut enc = self
                .queue
                .codec()
                .encoder(&self.path, head.len())
                .map_err(|e| self.encode_err(e))?;
            enc.write_all(&head).map_err(|e| self.encode_err(e))?;
            let stored = enc.finish().map_err(|e| self.encode_err(e))?;
            let mut s = lock(&self.shared)?;
            bundled = Some(Bundled {
                bundle: s.bundle_no,
                offset: s.bundle.len() as u64,
                stored: stored.len() as u64,
            });
            s.bundle.extend_from_slice(&stored);
            if s.bundle.len() >= BUNDLE_SIZE {
                flush_bundle(&mut s, &self.queue)?;
            }
        } else {
            if self.enc.is_none() && self.parts == 0 {
                // exactly SMALL_FILE bytes, all held: one part
                let head = std::mem::take(&mut self.head);
                self.write_part(&head)?;
            }
            self.send_part()?;
        }
        let written = Written {
            path: std::mem::take(&mut self.path),
            size: self.size,
            sha256,
            parts: self.parts,
            bundled,
        };
        let mut s = lock(&self.shared)?;
        s.files[self.index] = Some(written);
        Ok(())
    }
}
