//! The encoding writer: compress (by the pool), then encrypt, then the destination.

use std::io::{self, Write};
use std::sync::Arc;

use super::compress::{CompressWriter, Pool};
use super::KeyFile;

/// The destination, encrypted or not.
pub(crate) enum Cipher<W: Write> {
    Plain(W),
    Age(age::stream::StreamWriter<W>),
}

impl<W: Write> Cipher<W> {
    fn finish(self) -> io::Result<W> {
        match self {
            Cipher::Plain(w) => Ok(w),
            Cipher::Age(w) => w.finish(),
        }
    }
}

impl<W: Write> Write for Cipher<W> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        match self {
            Cipher::Plain(w) => w.write(b),
            Cipher::Age(w) => w.write(b),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Cipher::Plain(w) => w.flush(),
            Cipher::Age(w) => w.flush(),
        }
    }
}

/// Writes a file's plain bytes encoded into `W`.
pub(crate) enum Encoder<W: Write> {
    Compressing(CompressWriter<Cipher<W>>),
    Only(Cipher<W>),
}

impl<W: Write> Encoder<W> {
    /// An encoder into `out`: compressed by `pool` in pieces of `piece` bytes when there is a
    /// pool, encrypted to `keys`' recipients when there are keys.
    pub(crate) fn new(
        out: W,
        pool: Option<&Arc<Pool>>,
        piece: usize,
        keys: Option<&KeyFile>,
    ) -> io::Result<Encoder<W>> {
        let cipher = match keys {
            Some(k) => {
                let e = age::Encryptor::with_recipients(k.age_recipients())
                    .map_err(|e| io::Error::other(e.to_string()))?;
                Cipher::Age(e.wrap_output(out)?)
            }
            None => Cipher::Plain(out),
        };
        Ok(match pool {
            Some(p) => Encoder::Compressing(CompressWriter::new(cipher, Arc::clone(p), piece)),
            None => Encoder::Only(cipher),
        })
    }

    /// Writes the last frame and the last encrypted chunk; returns the destination.
    pub(crate) fn finish(self) -> io::Result<W> {
        match self {
            Encoder::Compressing(c) => c.finish()?.finish(),
            Encoder::Only(c) => c.finish(),
        }
    }
}

impl<W: Write> Write for Encoder<W> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        match self {
            Encoder::Compressing(w) => w.write(b),
            Encoder::Only(w) => w.write(b),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Encoder::Compressing(w) => w.flush(),
            Encoder::Only(w) => w.flush(),
        }
    }
}
