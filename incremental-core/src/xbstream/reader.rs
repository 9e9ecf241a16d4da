//! Reading a stream: [`StreamReader`] yields its chunks in order, checked.
//!
//! The reader checks everything a stream can get wrong on its own, so that every consumer (the
//! extraction, the index of a stream file) refuses the same streams: the magic, the type, the
//! path (see [`read_path_problem`]), each payload's CRC-32, that each file's payloads follow
//! each other without gap or overlap, that no chunk comes for a file after its end-of-file
//! chunk, that renames and removes name no file still being written, and that the stream ends
//! at a chunk boundary with every file ended.
//!
//! Memory stays bounded whatever a chunk claims: a payload is delivered in pieces of at most
//! [`PIECE`] bytes (the last piece of a payload is delivered only once its CRC matched; earlier
//! pieces of a payload larger than a piece are delivered before the CRC is known, so a consumer
//! must not treat a file as complete before its end-of-file chunk).
//!
//! Chunks of unknown type with the ignorable flag are skipped (`mbstream` writes their payload
//! into the file, against the flag's meaning). MariaDB's seek chunk `S` is read; Percona
//! XtraBackup's sparse chunk, which uses the same letter, is recognised and refused
//! ([`XbstreamError::PerconaSparse`]).
//!
//! ```
//! use incremental_core::xbstream::reader::{Body, StreamReader};
//! let t1 = b"XBSTCK01\0P\x09\0\0\0hello.txt\x06\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x20\x30\x3a\x36hello\n\
//!            XBSTCK01\0E\x09\0\0\0hello.txt";
//! let mut r = StreamReader::new(&t1[..]);
//! let c = r.next_chunk().unwrap().unwrap();
//! assert!(matches!(&c.body, Body::Data(d) if d.bytes == b"hello\n" && d.last));
//! assert!(matches!(r.next_chunk().unwrap().unwrap().body, Body::End));
//! assert!(r.next_chunk().unwrap().is_none());
//! ```

use std::collections::{HashMap, HashSet};
use std::io::{self, Read};

use super::chunk::{
    read_path_problem, shown, Prefix, FLAG_IGNORABLE, MAGIC, PATH_LIMIT, PREFIX_LEN, TYPE_END,
    TYPE_PAYLOAD, TYPE_REMOVE, TYPE_RENAME, TYPE_SEEK,
};
use super::error::XbstreamError;

/// The largest piece of a payload delivered at once (1 MiB).
pub const PIECE: usize = 1 << 20;

/// One chunk of a stream, or one piece of a payload chunk larger than [`PIECE`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Chunk {
    /// Where the chunk starts in the stream.
    pub offset: u64,
    /// The path of the file it is for (raw bytes, `/` separators; checked by
    /// [`read_path_problem`]).
    pub path: Vec<u8>,
    /// What it says.
    pub body: Body,
}

/// What a chunk says.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Body {
    /// File data (`P`), or a piece of it.
    Data(Data),
    /// The file is complete (`E`).
    End,
    /// MariaDB seek (`S`): the file's next data goes at `position`.
    Seek {
        /// The new position.
        position: u64,
    },
    /// MariaDB rename (`R`) of a complete file to `to`.
    Rename {
        /// The new name (checked like every path).
        to: Vec<u8>,
    },
    /// MariaDB remove (`D`) of a complete file.
    Remove,
}

/// Bytes of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Data {
    /// Where they go in the file.
    pub file_offset: u64,
    /// How many there are.
    pub len: u64,
    /// Where they are in the stream.
    pub stream_offset: u64,
    /// The bytes (empty when the reader skips payloads: see the stream index).
    pub bytes: Vec<u8>,
    /// The last piece of its chunk (its CRC was checked when payloads are read).
    pub last: bool,
}

/// Moves a stream forward over `n` bytes without reading them (an index's seek).
pub(crate) type Skip<R> = fn(&mut R, u64) -> io::Result<()>;

struct Payload {
    path: Vec<u8>,
    chunk_offset: u64,
    crc_offset: u64,
    file_offset: u64,
    remaining: u64,
    stored: u32,
    hasher: crc32fast::Hasher,
    ignored: bool,
}

/// Reads an xbstream chunk by chunk, checking it (see the module docs).
pub struct StreamReader<R> {
    input: R,
    pos: u64,
    ahead: Vec<u8>,
    open: HashMap<Vec<u8>, u64>,
    ended: HashSet<Vec<u8>>,
    payload: Option<Payload>,
    skip: Option<Skip<R>>,
    done: bool,
}

impl<R: Read> StreamReader<R> {
    /// A reader of the stream `input` (buffer it: the reader reads fields one at a time).
    pub fn new(input: R) -> StreamReader<R> {
        StreamReader {
            input,
            pos: 0,
            ahead: Vec::new(),
            open: HashMap::new(),
            ended: HashSet::new(),
            payload: None,
            skip: None,
            done: false,
        }
    }

    /// A reader that skips payloads with `skip` instead of reading them (their CRC is then not
    /// checked; [`Data::bytes`] stays empty).
    pub(crate) fn skipping(input: R, skip: Skip<R>) -> StreamReader<R> {
        let mut r = StreamReader::new(input);
        r.skip = Some(skip);
        r
    }

    /// Bytes of the stream consumed so far.
    pub fn bytes_read(&self) -> u64 {
        self.pos
    }

    /// The next chunk (or piece of a payload), `None` at the end of a complete stream.
    pub fn next_chunk(&mut self) -> Result<Option<Chunk>, XbstreamError> {
        loop {
            if let Some(p) = self.payload.take() {
                match self.piece(p)? {
                    Some(c) => return Ok(Some(c)),
                    None => continue,
                }
            }
            if self.done {
                return Ok(None);
            }
            if let Some(c) = self.chunk()? {
                return Ok(Some(c));
            }
        }
    }

    /// Reads into `buf` as much as there is, up to its length.
    fn fill(&mut self, buf: &mut [u8]) -> Result<usize, XbstreamError> {
        let mut n = self.ahead.len().min(buf.len());
        buf[..n].copy_from_slice(&self.ahead[..n]);
        self.ahead.drain(..n);
        while n < buf.len() {
            match self.input.read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(XbstreamError::Read {
                        offset: self.pos + n as u64,
                        source,
                    });
                }
            }
        }
        self.pos += n as u64;
        Ok(n)
    }

    /// Reads exactly `buf.len()` bytes of the chunk of `path` (if known).
    fn exact(&mut self, buf: &mut [u8], path: Option<&[u8]>) -> Result<(), XbstreamError> {
        if self.fill(buf)? < buf.len() {
            return Err(self.truncated(path));
        }
        Ok(())
    }

    fn truncated(&mut self, path: Option<&[u8]>) -> XbstreamError {
        self.done = true;
        XbstreamError::Truncated {
            offset: self.pos,
            path: path.map(shown),
        }
    }

    /// Whether the next bytes are a chunk's magic or the end of the stream (consuming nothing).
    fn chunk_or_end_follows(&mut self) -> Result<bool, XbstreamError> {
        let mut next = [0u8; 8];
        let n = self.fill(&mut next)?;
        self.pos -= n as u64;
        let mut ahead = next[..n].to_vec();
        ahead.append(&mut self.ahead);
        self.ahead = ahead;
        Ok(n == 0 || &next == MAGIC)
    }

    fn u64_field(&mut self, path: &[u8]) -> Result<u64, XbstreamError> {
        let mut b = [0u8; 8];
        self.exact(&mut b, Some(path))?;
        Ok(u64::from_le_bytes(b))
    }

    fn u32_field(&mut self, path: &[u8]) -> Result<u32, XbstreamError> {
        let mut b = [0u8; 4];
        self.exact(&mut b, Some(path))?;
        Ok(u32::from_le_bytes(b))
    }

    /// Reads a path of `len` bytes whose length field is at `at`.
    fn path(&mut self, len: u64, at: u64, of: Option<&[u8]>) -> Result<Vec<u8>, XbstreamError> {
        if len >= PATH_LIMIT as u64 {
            self.done = true;
            return Err(XbstreamError::PathTooLong { offset: at, len });
        }
        let mut path = vec![0u8; len as usize];
        self.exact(&mut path, of)?;
        Ok(path)
    }

    fn check_path(&mut self, path: &[u8], offset: u64) -> Result<(), XbstreamError> {
        if let Some(why) = read_path_problem(path) {
            self.done = true;
            return Err(XbstreamError::BadPath {
                offset,
                path: shown(path),
                why,
            });
        }
        Ok(())
    }

    /// Refuses a chunk that writes to a file after its end.
    fn check_not_ended(&mut self, path: &[u8], offset: u64) -> Result<(), XbstreamError> {
        if self.ended.contains(path) {
            self.done = true;
            return Err(XbstreamError::AfterEnd {
                offset,
                path: shown(path),
            });
        }
        Ok(())
    }

    /// Reads one chunk's header (and whole body but for payloads); `None` after an ignored
    /// chunk's header or at the end.
    fn chunk(&mut self) -> Result<Option<Chunk>, XbstreamError> {
        let start = self.pos;
        let mut pre = [0u8; PREFIX_LEN];
        let n = self.fill(&mut pre)?;
        if n == 0 {
            return self.end_of_stream().map(|()| None);
        }
        if n < PREFIX_LEN {
            return Err(self.truncated(None));
        }
        let Some(prefix) = Prefix::parse(&pre) else {
            self.done = true;
            let mut found = [0u8; 8];
            found.copy_from_slice(&pre[..8]);
            return Err(XbstreamError::BadMagic {
                offset: start,
                found,
            });
        };
        let path = self.path(u64::from(prefix.path_len), start + 10, None)?;
        let body = match prefix.kind {
            TYPE_PAYLOAD => return self.payload_header(start, path, false).map(|()| None),
            TYPE_END => self.end(start, &path)?,
            TYPE_SEEK => self.seek(start, &path)?,
            TYPE_RENAME => self.rename(start, &path)?,
            TYPE_REMOVE => self.remove(start, &path)?,
            _ if prefix.flags & FLAG_IGNORABLE != 0 => {
                return self.payload_header(start, path, true).map(|()| None);
            }
            kind => {
                self.done = true;
                return Err(XbstreamError::UnknownType {
                    offset: start + 9,
                    path: shown(&path),
                    kind,
                });
            }
        };
        Ok(Some(Chunk {
            offset: start,
            path,
            body,
        }))
    }

    fn end_of_stream(&mut self) -> Result<(), XbstreamError> {
        self.done = true;
        if self.open.is_empty() {
            return Ok(());
        }
        let mut paths: Vec<String> = self.open.keys().map(|p| shown(p)).collect();
        paths.sort();
        Err(XbstreamError::Unfinished {
            offset: self.pos,
            paths,
        })
    }

    fn payload_header(
        &mut self,
        start: u64,
        path: Vec<u8>,
        ignored: bool,
    ) -> Result<(), XbstreamError> {
        let len = self.u64_field(&path)?;
        let offset_at = self.pos;
        let file_offset = self.u64_field(&path)?;
        let crc_offset = self.pos;
        let stored = self.u32_field(&path)?;
        if !ignored {
            self.check_path(&path, start)?;
            self.check_not_ended(&path, start)?;
            let expected = self.open.get(&path).copied().unwrap_or(0);
            if file_offset != expected {
                self.done = true;
                return Err(XbstreamError::OutOfOrder {
                    offset: offset_at,
                    path: shown(&path),
                    found: file_offset,
                    expected,
                });
            }
            self.open.insert(path.clone(), expected);
        }
        self.payload = Some(Payload {
            path,
            chunk_offset: start,
            crc_offset,
            file_offset,
            remaining: len,
            stored,
            hasher: crc32fast::Hasher::new(),
            ignored,
        });
        Ok(())
    }

    /// The next piece of the payload `p`; `None` when `p` is ignored.
    fn piece(&mut self, mut p: Payload) -> Result<Option<Chunk>, XbstreamError> {
        let n = p.remaining.min(PIECE as u64);
        let stream_offset = self.pos;
        let mut bytes = Vec::new();
        match self.skip {
            Some(skip) => self.skip_bytes(skip, n, &p.path)?,
            None => {
                bytes = vec![0u8; n as usize];
                self.exact(&mut bytes, Some(&p.path))?;
                p.hasher.update(&bytes);
            }
        }
        p.remaining -= n;
        let last = p.remaining == 0;
        if last && self.skip.is_none() {
            let computed = p.hasher.clone().finalize();
            if computed != p.stored {
                self.done = true;
                return Err(XbstreamError::BadChecksum {
                    offset: p.crc_offset,
                    path: shown(&p.path),
                    stored: p.stored,
                    computed,
                });
            }
        }
        let file_offset = p.file_offset;
        // an ignored chunk's file offset is never checked: any value, so the sum may overflow
        p.file_offset = p.file_offset.saturating_add(n);
        if p.ignored {
            if !last {
                self.payload = Some(p);
            }
            return Ok(None);
        }
        self.open.insert(p.path.clone(), p.file_offset);
        let chunk = Chunk {
            offset: p.chunk_offset,
            path: p.path.clone(),
            body: Body::Data(Data {
                file_offset,
                len: n,
                stream_offset,
                bytes,
                last,
            }),
        };
        if !last {
            self.payload = Some(p);
        }
        Ok(Some(chunk))
    }

    fn skip_bytes(&mut self, skip: Skip<R>, n: u64, path: &[u8]) -> Result<(), XbstreamError> {
        let from_ahead = (self.ahead.len() as u64).min(n);
        self.ahead.drain(..from_ahead as usize);
        self.pos += from_ahead;
        match skip(&mut self.input, n - from_ahead) {
            Ok(()) => {
                self.pos += n - from_ahead;
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Err(self.truncated(Some(path))),
            Err(source) => Err(XbstreamError::Read {
                offset: self.pos,
                source,
            }),
        }
    }

    fn end(&mut self, start: u64, path: &[u8]) -> Result<Body, XbstreamError> {
        self.check_path(path, start)?;
        self.check_not_ended(path, start)?;
        self.open.remove(path);
        self.ended.insert(path.to_vec());
        Ok(Body::End)
    }

    fn seek(&mut self, start: u64, path: &[u8]) -> Result<Body, XbstreamError> {
        let position = self.u64_field(path)?;
        if !self.chunk_or_end_follows()? {
            self.done = true;
            return Err(XbstreamError::PerconaSparse {
                offset: start,
                path: shown(path),
            });
        }
        self.check_path(path, start)?;
        self.check_not_ended(path, start)?;
        self.open.insert(path.to_vec(), position);
        Ok(Body::Seek { position })
    }

    fn check_closed(&mut self, path: &[u8], start: u64) -> Result<(), XbstreamError> {
        self.check_path(path, start)?;
        if self.open.contains_key(path) {
            self.done = true;
            return Err(XbstreamError::OpenFile {
                offset: start,
                path: shown(path),
            });
        }
        Ok(())
    }

    fn rename(&mut self, start: u64, path: &[u8]) -> Result<Body, XbstreamError> {
        let at = self.pos;
        let len = self.u32_field(path)?;
        let to = self.path(u64::from(len), at, Some(path))?;
        self.check_closed(path, start)?;
        self.check_closed(&to, start)?;
        self.ended.remove(path);
        self.ended.insert(to.clone());
        Ok(Body::Rename { to })
    }

    fn remove(&mut self, start: u64, path: &[u8]) -> Result<Body, XbstreamError> {
        self.check_closed(path, start)?;
        self.ended.remove(path);
        Ok(Body::Remove)
    }
}

impl<R: Read> Iterator for StreamReader<R> {
    type Item = Result<Chunk, XbstreamError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_chunk().transpose()
    }
}
