//! A file stored encoded (compressed and/or encrypted: `X.zst`, `X.lz4`, `X.age`,
//! `X.zst.age`), read as its plain bytes through [`ReadAt`], with no temporary file.
//!
//! Decoding is sequential: a thread decodes ([`codec::decode_to`]) into a bounded channel of
//! pieces, and reads must go forward, as the prepare's readers of a delta do (its header pages,
//! its pages, then the merge's runs, all in file order); a read behind the current piece starts
//! decoding again from the start. Memory: a few pieces of at most 256 KiB; disk: none. The
//! plain size is learnt by decoding the file once when its stream is opened, which also checks
//! it whole (checksums, authentication, the key) before anything is written.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex, PoisonError};

use super::error::PrepareError;
use super::input::ReadAt;
use crate::codec::{self, KeyFile};

/// Pieces decoded ahead of the reader.
const AHEAD: usize = 4;

/// The bytes of a [`ReadAt`] in order, as `Read`.
struct InOrder {
    r: Arc<dyn ReadAt>,
    pos: u64,
}

impl Read for InOrder {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.r.read_at(buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

/// Sends what is written as pieces.
struct Pieces(SyncSender<Result<Vec<u8>, String>>);

impl Write for Pieces {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .send(Ok(buf.to_vec()))
            .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Decodes the whole file `name` (its stored name: the suffixes say how it is encoded) from
/// `encoded`, checking it; returns its plain size.
pub(crate) fn plain_size(
    name: &Path,
    encoded: Arc<dyn ReadAt>,
    keys: Option<&KeyFile>,
) -> Result<u64, PrepareError> {
    let input = InOrder { r: encoded, pos: 0 };
    codec::decode_to(name, input, &mut io::sink(), keys).map_err(PrepareError::from)
}

/// Where the reader is: the piece holding bytes `at..at + piece.len()`, and the decoder.
#[derive(Default)]
struct State {
    rx: Option<Receiver<Result<Vec<u8>, String>>>,
    piece: Vec<u8>,
    at: u64,
}

/// An encoded file read as its plain bytes (see the module docs).
pub(crate) struct Decoded {
    name: PathBuf,
    encoded: Arc<dyn ReadAt>,
    keys: Option<KeyFile>,
    size: u64,
    state: Mutex<State>,
}

impl Decoded {
    /// The file `name` (stored name), of plain size `size` ([`plain_size`]), from `encoded`.
    pub fn new(name: &Path, encoded: Arc<dyn ReadAt>, keys: Option<KeyFile>, size: u64) -> Decoded {
        Decoded {
            name: name.to_path_buf(),
            encoded,
            keys,
            size,
            state: Mutex::new(State::default()),
        }
    }

    /// Starts decoding from the start, in a thread.
    fn start(&self) -> Receiver<Result<Vec<u8>, String>> {
        let (tx, rx) = sync_channel(AHEAD);
        let (name, keys) = (self.name.clone(), self.keys.clone());
        let input = InOrder {
            r: self.encoded.clone(),
            pos: 0,
        };
        std::thread::spawn(move || {
            let mut out = Pieces(tx.clone());
            if let Err(e) = codec::decode_to(&name, input, &mut out, keys.as_ref()) {
                // Nobody listening any more is not an error.
                let _ = tx.send(Err(e.to_string()));
            }
        });
        rx
    }
}

impl ReadAt for Decoded {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_at(&self, buf: &mut [u8], at: u64) -> io::Result<usize> {
        let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if st.rx.is_none() || at < st.at {
            *st = State {
                rx: Some(self.start()),
                ..State::default()
            };
        }
        loop {
            let end = st.at + st.piece.len() as u64;
            if at < end {
                let from = (at - st.at) as usize;
                let n = buf.len().min(st.piece.len() - from);
                buf[..n].copy_from_slice(&st.piece[from..from + n]);
                return Ok(n);
            }
            let next = match &st.rx {
                Some(rx) => rx.recv(),
                None => return Ok(0),
            };
            st.at = end;
            st.piece.clear();
            match next {
                Ok(Ok(piece)) => st.piece = piece,
                Ok(Err(why)) => {
                    st.rx = None;
                    return Err(io::Error::new(io::ErrorKind::InvalidData, why));
                }
                // The decoder finished: the end of the file.
                Err(_) => return Ok(0),
            }
        }
    }
}
