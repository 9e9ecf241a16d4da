//! Writing a stream: [`StreamWriter`] writes payload (`P`) and end-of-file (`E`) chunks only,
//! with flags 0, so that both MariaDB's `mbstream` and Percona's `xbstream` extract it.
//!
//! Each file's payloads follow each other from offset 0; a file is closed by its `E` chunk and
//! may not appear again; files may interleave. Paths are checked by
//! [`write_path_problem`], and a path two or more directories deep needs its grandparent
//! created by an earlier file (`mbstream` creates only a file's immediate parent).
//!
//! ```
//! use incremental_core::xbstream::writer::StreamWriter;
//! let mut w = StreamWriter::new(Vec::new());
//! w.payload(b"a.txt", b"AAAA").unwrap();
//! w.payload(b"dir/b.txt", b"BB").unwrap();
//! w.payload(b"a.txt", b"aa").unwrap();
//! w.end(b"dir/b.txt").unwrap();
//! w.end(b"a.txt").unwrap();
//! assert_eq!(w.into_inner().len(), 171); // the spec's vector T3
//! ```

use std::collections::{HashMap, HashSet};
use std::io::Write;

use super::chunk::{crc32, encode_end, encode_payload_header, shown, write_path_problem};
use super::error::XbstreamError;

/// Writes an xbstream to `W` (see the module docs).
#[derive(Debug)]
pub struct StreamWriter<W> {
    out: W,
    written: u64,
    chunks: u64,
    open: HashMap<Vec<u8>, u64>,
    ended: HashSet<Vec<u8>>,
    dirs: HashSet<Vec<u8>>,
}

impl<W: Write> StreamWriter<W> {
    /// A writer to `out` (buffer it for many small files).
    pub fn new(out: W) -> StreamWriter<W> {
        StreamWriter {
            out,
            written: 0,
            chunks: 0,
            open: HashMap::new(),
            ended: HashSet::new(),
            dirs: HashSet::new(),
        }
    }

    /// Bytes written so far.
    pub fn bytes_written(&self) -> u64 {
        self.written
    }

    /// Chunks written so far.
    pub fn chunks_written(&self) -> u64 {
        self.chunks
    }

    /// Whether `path` is a file being written (data written, no end yet).
    pub fn is_open(&self, path: &[u8]) -> bool {
        self.open.contains_key(path)
    }

    /// Checks that `path` may start a new file now: a valid path, not written before, its
    /// grandparent directory created by an earlier file. Called by [`payload`](Self::payload)
    /// and [`end`](Self::end) for a file's first chunk.
    pub fn check_new(&self, path: &[u8]) -> Result<(), XbstreamError> {
        let refuse = |why| XbstreamError::BadPath {
            offset: self.written,
            path: shown(path),
            why,
        };
        if let Some(why) = write_path_problem(path) {
            return Err(refuse(why));
        }
        if self.ended.contains(path) || self.open.contains_key(path) {
            return Err(refuse(
                "already written to the stream (a stream cannot replace a file: extractors \
                 refuse a second copy)",
            ));
        }
        let parts: Vec<&[u8]> = path.split(|&b| b == b'/').collect();
        if parts.len() > 2 {
            let grand = parts[..parts.len() - 2].join(&b'/');
            if !self.dirs.contains(&grand) {
                return Err(refuse(
                    "the path is two directories below any directory an earlier file created",
                ));
            }
        }
        Ok(())
    }

    fn opened(&mut self, path: &[u8]) -> Result<u64, XbstreamError> {
        if let Some(&o) = self.open.get(path) {
            return Ok(o);
        }
        self.check_new(path)?;
        let mut at = 0;
        while let Some(i) = path[at..].iter().position(|&b| b == b'/') {
            at += i;
            self.dirs.insert(path[..at].to_vec());
            at += 1;
        }
        self.open.insert(path.to_vec(), 0);
        Ok(0)
    }

    fn put(&mut self, path: &[u8], parts: &[&[u8]]) -> Result<(), XbstreamError> {
        for p in parts {
            self.out
                .write_all(p)
                .map_err(|source| XbstreamError::Write {
                    offset: self.written,
                    path: shown(path),
                    source,
                })?;
        }
        self.written += parts.iter().map(|p| p.len() as u64).sum::<u64>();
        self.chunks += 1;
        Ok(())
    }

    /// Appends `data` to the file `path` as one payload chunk (any length; readers keep a
    /// chunk in memory: keep chunks at most a few MiB).
    pub fn payload(&mut self, path: &[u8], data: &[u8]) -> Result<(), XbstreamError> {
        let offset = self.opened(path)?;
        let header = encode_payload_header(path, data.len() as u64, offset, crc32(data));
        self.put(path, &[&header, data])?;
        self.open.insert(path.to_vec(), offset + data.len() as u64);
        Ok(())
    }

    /// Ends the file `path` (an `E` chunk; a file with no data is just this chunk).
    pub fn end(&mut self, path: &[u8]) -> Result<(), XbstreamError> {
        self.opened(path)?;
        self.put(path, &[&encode_end(path)])?;
        self.open.remove(path);
        self.ended.insert(path.to_vec());
        Ok(())
    }

    /// Flushes the output.
    pub fn flush(&mut self) -> Result<(), XbstreamError> {
        self.out.flush().map_err(|source| XbstreamError::Write {
            offset: self.written,
            path: String::new(),
            source,
        })
    }

    /// The paths of the files not ended yet, sorted.
    pub fn unfinished(&self) -> Vec<String> {
        let mut v: Vec<String> = self.open.keys().map(|p| shown(p)).collect();
        v.sort();
        v
    }

    /// The output.
    pub fn into_inner(self) -> W {
        self.out
    }
}
