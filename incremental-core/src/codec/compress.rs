//! Compression in independent standard frames, by a pool of worker threads.
//!
//! A file's bytes are cut into pieces ([`CodecOptions::piece_size`](super::CodecOptions)); each
//! piece becomes one complete zstd or LZ4 frame (content size and content checksum on), and
//! the compressed file is the frames in order: the layout of Percona XtraBackup 8.0, which
//! `zstd -d` and `lz4 -d` decode as one output. Pieces are compressed by the pool's threads
//! while the caller reads the next ones; each file keeps at most `threads + 1` pieces in
//! flight, so memory stays bounded (about 2 × piece size × (threads + 1) per open file).

use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use super::Compression;

/// One piece to compress, and where to send its frame.
struct Job {
    data: Vec<u8>,
    reply: SyncSender<io::Result<Vec<u8>>>,
}

/// Worker threads that turn pieces into frames.
pub(crate) struct Pool {
    tx: Mutex<Option<Sender<Job>>>,
    workers: Vec<JoinHandle<()>>,
    threads: usize,
}

impl Pool {
    /// Starts `threads` (at least 1) workers compressing with `compression` at `level`.
    pub(crate) fn start(compression: Compression, level: i32, threads: usize) -> io::Result<Pool> {
        let threads = threads.max(1);
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let mut workers = Vec::with_capacity(threads);
        for i in 0..threads {
            let rx = Arc::clone(&rx);
            let mut frame = FrameCompressor::new(compression, level)?;
            let w = std::thread::Builder::new()
                .name(format!("xb-compress-{i}"))
                .spawn(move || work(&rx, &mut frame))?;
            workers.push(w);
        }
        Ok(Pool {
            tx: Mutex::new(Some(tx)),
            workers,
            threads,
        })
    }

    fn submit(&self, data: Vec<u8>) -> io::Result<Receiver<io::Result<Vec<u8>>>> {
        let (reply, rx) = mpsc::sync_channel(1);
        let gone = || io::Error::other("the compression threads stopped");
        let tx = self.tx.lock().map_err(|_| gone())?;
        tx.as_ref()
            .ok_or_else(gone)?
            .send(Job { data, reply })
            .map_err(|_| gone())?;
        Ok(rx)
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        if let Ok(mut tx) = self.tx.lock() {
            tx.take();
        }
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

fn work(rx: &Mutex<Receiver<Job>>, frame: &mut FrameCompressor) {
    loop {
        let job = match rx.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        let _ = job.reply.send(frame.compress(&job.data));
    }
}

/// Compresses one piece into one complete frame.
pub(crate) enum FrameCompressor {
    Zstd(Box<zstd::bulk::Compressor<'static>>),
    Lz4,
}

impl FrameCompressor {
    pub(crate) fn new(compression: Compression, level: i32) -> io::Result<FrameCompressor> {
        Ok(match compression {
            Compression::Zstd => {
                let mut c = zstd::bulk::Compressor::new(level)?;
                c.include_checksum(true)?;
                c.include_contentsize(true)?;
                FrameCompressor::Zstd(Box::new(c))
            }
            Compression::Lz4 => FrameCompressor::Lz4,
        })
    }

    pub(crate) fn compress(&mut self, data: &[u8]) -> io::Result<Vec<u8>> {
        match self {
            FrameCompressor::Zstd(c) => c.compress(data),
            FrameCompressor::Lz4 => lz4_frame(data),
        }
    }
}

/// One LZ4 frame of `data`: independent blocks, content size and checksum.
pub(crate) fn lz4_frame(data: &[u8]) -> io::Result<Vec<u8>> {
    use lz4_flex::frame::{BlockSize, FrameEncoder, FrameInfo};
    let block = match data.len() {
        0..=65536 => BlockSize::Max64KB,
        65537..=262144 => BlockSize::Max256KB,
        262145..=1048576 => BlockSize::Max1MB,
        _ => BlockSize::Max4MB,
    };
    let info = FrameInfo::new()
        .block_size(block)
        .content_checksum(true)
        .content_size(Some(data.len() as u64));
    let mut enc = FrameEncoder::with_frame_info(info, Vec::with_capacity(data.len() / 2 + 64));
    enc.write_all(data)?;
    enc.finish().map_err(io::Error::other)
}

/// A writer that compresses what it is given into frames of `piece` bytes each, by the pool,
/// and writes them in order to `out`, between [`HEADER`] and [`trailer`].
/// [`finish`](Self::finish) writes the last frame (an empty one for an empty file: `zstd -d`
/// and `lz4 -d` then give an empty file) and the trailer.
pub(crate) struct CompressWriter<W: Write> {
    out: W,
    pool: Arc<Pool>,
    buf: Vec<u8>,
    piece: usize,
    pending: VecDeque<Receiver<io::Result<Vec<u8>>>>,
    frames: u64,
    total: u64,
    crc: crc32fast::Hasher,
    started: bool,
}

/// The skippable frame that opens every compressed file xb writes: it says that the file ends
/// with [`trailer`]. zstd and LZ4 readers (`zstd -d`, `lz4 -d`) skip it: it is a standard
/// skippable frame (magic `0x184D2A5E`, the same in both formats).
pub(crate) const HEADER: [u8; 16] = *b"\x5e\x2a\x4d\x18\x08\x00\x00\x00XB-FRAME";

/// The length of [`trailer`].
pub(crate) const TRAILER_LEN: usize = 28;

/// What the trailer of a compressed file records of its plain bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Totals {
    /// Their number.
    pub bytes: u64,
    /// Their CRC-32 (zlib's), which also finds frames in the wrong order.
    pub crc: u32,
}

/// The skippable frame that closes every compressed file xb writes: the number of plain bytes
/// and their CRC-32, so that a file cut between two frames, missing one, or holding two in the
/// wrong order (which the formats cannot see: their frames are independent) is found.
pub(crate) fn trailer(t: Totals) -> [u8; TRAILER_LEN] {
    let mut out = [0u8; TRAILER_LEN];
    out[..4].copy_from_slice(&HEADER[..4]);
    out[4] = (TRAILER_LEN - 8) as u8;
    out[8..16].copy_from_slice(b"XB-TOTAL");
    out[16..24].copy_from_slice(&t.bytes.to_le_bytes());
    out[24..].copy_from_slice(&t.crc.to_le_bytes());
    out
}

/// The totals a trailer records, if `t` is one.
pub(crate) fn trailer_totals(t: &[u8]) -> Option<Totals> {
    let ok = t.len() == TRAILER_LEN
        && t[..4] == HEADER[..4]
        && t[4..8] == [(TRAILER_LEN - 8) as u8, 0, 0, 0]
        && &t[8..16] == b"XB-TOTAL";
    ok.then(|| Totals {
        bytes: u64::from_le_bytes(t[16..24].try_into().expect("8 bytes")),
        crc: u32::from_le_bytes(t[24..].try_into().expect("4 bytes")),
    })
}

impl<W: Write> CompressWriter<W> {
    pub(crate) fn new(out: W, pool: Arc<Pool>, piece: usize) -> CompressWriter<W> {
        CompressWriter {
            out,
            pool,
            buf: Vec::with_capacity(piece),
            piece,
            pending: VecDeque::new(),
            frames: 0,
            total: 0,
            crc: crc32fast::Hasher::new(),
            started: false,
        }
    }

    fn submit(&mut self) -> io::Result<()> {
        if !self.started {
            self.out.write_all(&HEADER)?;
            self.started = true;
        }
        self.total += self.buf.len() as u64;
        self.crc.update(&self.buf);
        let data = std::mem::replace(&mut self.buf, Vec::with_capacity(self.piece));
        let rx = self.pool.submit(data)?;
        self.pending.push_back(rx);
        self.frames += 1;
        while self.pending.len() > self.pool.threads {
            self.write_oldest()?;
        }
        Ok(())
    }

    fn write_oldest(&mut self) -> io::Result<()> {
        if let Some(rx) = self.pending.pop_front() {
            let frame = rx
                .recv()
                .map_err(|_| io::Error::other("a compression thread stopped"))??;
            self.out.write_all(&frame)?;
        }
        Ok(())
    }

    /// Writes what is left and returns the destination.
    pub(crate) fn finish(mut self) -> io::Result<W> {
        if !self.buf.is_empty() || self.frames == 0 {
            self.submit()?;
        }
        while !self.pending.is_empty() {
            self.write_oldest()?;
        }
        let totals = Totals {
            bytes: self.total,
            crc: self.crc.clone().finalize(),
        };
        self.out.write_all(&trailer(totals))?;
        Ok(self.out)
    }
}

impl<W: Write> Write for CompressWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(self.piece - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == self.piece {
            self.submit()?;
        }
        Ok(n)
    }

    /// Frames are written as they are ready; nothing to flush before [`finish`](Self::finish).
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
