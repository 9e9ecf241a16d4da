//! Decoding readers: the plain bytes of an encoded file, read from its encoded bytes.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::compress::{self, Totals, TRAILER_LEN};
use super::error::is_codec;
use super::names::Layers;
use super::{CodecError, Compression, KeyFile};

/// The largest zstd window decoded (16 MiB): a frame asking for more is refused.
const ZSTD_WINDOW_LOG_MAX: u32 = 24;

/// A reader of the plain bytes of an encoded file.
pub(crate) type Plain<'a> = Box<dyn Read + 'a>;

/// The most lines an age header may have: age parses the header again after each line it
/// reads, so its time grows with lines times bytes. xb writes 2 lines per recipient.
const AGE_HEADER_MAX_LINES: usize = 1024;
/// The most bytes an age header may have.
const AGE_HEADER_MAX_BYTES: usize = 64 << 10;
// what xb writes to the most recipients a key file holds is accepted: the first line, 2 lines
// (98 bytes) per recipient, and the MAC line
const _: () = assert!(2 * super::keys::MAX_RECIPIENTS + 2 <= AGE_HEADER_MAX_LINES);
const _: () = assert!(98 * super::keys::MAX_RECIPIENTS + 80 <= AGE_HEADER_MAX_BYTES);

/// The plain bytes of the file `path` (for errors), encoded as `layers`, read from `input`.
/// An encrypted file needs an identity in `keys`: its header is read and its key unwrapped
/// here, so a wrong or missing key fails now, before any byte is read. Read errors carry a
/// [`CodecError`] naming the file and the layer.
pub(crate) fn reader<'a>(
    path: &Path,
    layers: Layers,
    input: Plain<'a>,
    keys: Option<&KeyFile>,
) -> Result<Plain<'a>, CodecError> {
    let mut r = input;
    if layers.encrypted() {
        r = decrypting(path, r, keys)?;
    }
    if let Some(c) = layers.compression() {
        r = decompressing(path, c, r)?;
    }
    Ok(r)
}

/// The plain bytes of `input` compressed with `c`: without xb's skippable frames, decoded, and
/// their number checked against the trailer's.
fn decompressing<'a>(
    path: &Path,
    c: Compression,
    input: Plain<'a>,
) -> Result<Plain<'a>, CodecError> {
    let expected: Expected = Arc::default();
    let framed: Plain<'a> = Box::new(Framed::new(input, Arc::clone(&expected)));
    let decoded: Plain<'a> = match c {
        Compression::Zstd => {
            let mut d = zstd::stream::read::Decoder::new(framed)
                .map_err(|e| CodecError::io("start decompressing", path, e))?;
            // memory stays bounded whatever a frame header claims: xb's frames need 1 MiB,
            // XtraBackup's about as much, `zstd -19` 8 MiB
            d.window_log_max(ZSTD_WINDOW_LOG_MAX)
                .map_err(|e| CodecError::io("start decompressing", path, e))?;
            Box::new(Named::new(path, "zstd", d))
        }
        Compression::Lz4 => Box::new(Named::new(
            path,
            "lz4",
            Lz4Frames::new(BufReader::new(framed)),
        )),
    };
    Ok(Box::new(TotalCheck::new(decoded, expected, path, c.name())))
}

fn decrypting<'a>(
    path: &Path,
    input: Plain<'a>,
    keys: Option<&KeyFile>,
) -> Result<Plain<'a>, CodecError> {
    use age::DecryptError as E;
    let keys = keys
        .filter(|k| k.can_decrypt())
        .ok_or_else(|| CodecError::NoKey { path: path.into() })?;
    let not_age = |reason: String| CodecError::NotFormat {
        path: path.into(),
        format: "age",
        reason,
    };
    let mut input = BufReader::new(input);
    let header = age_header(path, &mut input)?;
    // buffered: age then reads its header a line at a time; unbuffered, it asks for the few
    // bytes its parser is missing and parses the header again from its start after each read
    let input = io::Cursor::new(header).chain(input);
    let d = age::Decryptor::new_buffered(input).map_err(|e| match e {
        E::Io(e) => CodecError::io("read", path, e),
        other => not_age(other.to_string()),
    })?;
    if d.is_scrypt() {
        return Err(not_age(
            "passphrase-encrypted: not supported, use an identity".into(),
        ));
    }
    let r = d.decrypt(keys.age_identities()).map_err(|e| match e {
        E::NoMatchingKeys => CodecError::WrongKey { path: path.into() },
        E::Io(e) => CodecError::io("read", path, e),
        other => CodecError::Corrupt {
            path: path.into(),
            format: "age",
            source: io::Error::new(io::ErrorKind::InvalidData, other.to_string()),
        },
    })?;
    Ok(Box::new(Named::new(path, "age", r)))
}

/// The header of the age file `path`: its lines up to the MAC line (`---`) or the end of
/// `input`, refused past `AGE_HEADER_MAX_LINES` lines or `AGE_HEADER_MAX_BYTES` bytes.
fn age_header(path: &Path, input: &mut impl BufRead) -> Result<Vec<u8>, CodecError> {
    let mut header = Vec::new();
    for _ in 0..AGE_HEADER_MAX_LINES {
        let room = (AGE_HEADER_MAX_BYTES + 1 - header.len()) as u64;
        let start = header.len();
        let n = input
            .take(room)
            .read_until(b'\n', &mut header)
            .map_err(|e| CodecError::io("read", path, e))?;
        if header.len() > AGE_HEADER_MAX_BYTES {
            break;
        }
        if n == 0 || header[start..].starts_with(b"---") {
            return Ok(header);
        }
    }
    Err(CodecError::NotFormat {
        path: path.into(),
        format: "age",
        reason: format!(
            "header longer than {AGE_HEADER_MAX_LINES} lines or {AGE_HEADER_MAX_BYTES} bytes"
        ),
    })
}

/// Turns the errors of a decoder into [`CodecError::Corrupt`] naming the file and the layer
/// (an error from an inner layer, already a [`CodecError`], passes as it is).
struct Named<R> {
    path: PathBuf,
    format: &'static str,
    inner: R,
}

impl<R> Named<R> {
    fn new(path: &Path, format: &'static str, inner: R) -> Named<R> {
        Named {
            path: path.to_path_buf(),
            format,
            inner,
        }
    }
}

impl<R: Read> Read for Named<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).map_err(|e| {
            if is_codec(&e) || e.kind() == io::ErrorKind::Interrupted {
                e
            } else {
                CodecError::Corrupt {
                    path: self.path.clone(),
                    format: self.format,
                    source: e,
                }
                .into_io()
            }
        })
    }
}

/// The frames of an LZ4 file, one after the other. The LZ4 frame decoder ends its output at
/// the end of each frame, and takes input that ends right after a frame's magic number for a
/// clean end; this reads on to the end of the input, and reports an input without any frame,
/// or cut right after a magic number, as an unexpected end.
struct Lz4Frames<R: BufRead> {
    /// The decoder of the current frame (`None` only while it is replaced).
    dec: Option<lz4_flex::frame::FrameDecoder<Counted<R>>>,
}

impl<R: BufRead> Lz4Frames<R> {
    fn new(inner: R) -> Lz4Frames<R> {
        let counted = Counted {
            inner,
            n: 0,
            last: [0; 4],
        };
        Lz4Frames {
            dec: Some(lz4_flex::frame::FrameDecoder::new(counted)),
        }
    }

    fn dec(&mut self) -> &mut lz4_flex::frame::FrameDecoder<Counted<R>> {
        self.dec.as_mut().expect("a decoder")
    }

    /// A new decoder for the next frame: frames may differ in block size, which one decoder
    /// reused across frames does not expect (lz4_flex 0.14 asserts its buffers keep the
    /// first frame's).
    fn next_frame(&mut self) {
        let counted = self.dec.take().expect("a decoder").into_inner();
        self.dec = Some(lz4_flex::frame::FrameDecoder::new(counted));
    }
}

const LZ4_MAGIC: [u8; 4] = [0x04, 0x22, 0x4d, 0x18];

impl<R: BufRead> Read for Lz4Frames<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let before = self.dec().get_ref().n;
            let k = self.dec().read(buf)?;
            if k > 0 || buf.is_empty() {
                return Ok(k);
            }
            if !self.dec().get_mut().inner.fill_buf()?.is_empty() {
                self.next_frame();
                continue;
            }
            let c = self.dec().get_mut();
            let cut_after_magic = c.n - before == 4 && c.last == LZ4_MAGIC;
            if c.n == 0 || cut_after_magic {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    if c.n == 0 {
                        "no frame"
                    } else {
                        "the file ends inside a frame header"
                    },
                ));
            }
            return Ok(0);
        }
    }
}

/// What the trailer of a file records, once it was read (none for a file without one).
type Expected = Arc<Mutex<Option<Totals>>>;

/// The compressed bytes of a file without xb's skippable header and trailer frames
/// ([`compress::HEADER`], [`compress::trailer`]): what the decoders read. A file that starts
/// with the header must end with a trailer (else it was cut between two frames); the total the
/// trailer records goes to `expected`. A file without the header (Percona XtraBackup's) passes
/// as it is.
struct Framed<R> {
    inner: R,
    /// Read from `inner`, not yet handed out: the last [`TRAILER_LEN`] bytes are held back.
    held: Vec<u8>,
    framed: Option<bool>,
    eof: bool,
    expected: Expected,
}

impl<R: Read> Framed<R> {
    fn new(inner: R, expected: Expected) -> Framed<R> {
        Framed {
            inner,
            held: Vec::with_capacity(64 << 10),
            framed: None,
            eof: false,
            expected,
        }
    }

    /// Reads more into `held` (at least `want` bytes held, unless the input ends).
    fn fill(&mut self, want: usize) -> io::Result<()> {
        while !self.eof && self.held.len() < want {
            let at = self.held.len();
            self.held.resize(at.max(want).max(at + (32 << 10)), 0);
            match self.inner.read(&mut self.held[at..]) {
                Ok(0) => {
                    self.held.truncate(at);
                    self.eof = true;
                }
                Ok(n) => self.held.truncate(at + n),
                Err(e) => {
                    self.held.truncate(at);
                    if e.kind() != io::ErrorKind::Interrupted {
                        return Err(e);
                    }
                }
            }
        }
        Ok(())
    }
}

impl<R: Read> Read for Framed<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.framed.is_none() {
            self.fill(compress::HEADER.len())?;
            let framed = self.held.starts_with(&compress::HEADER);
            if framed {
                self.held.drain(..compress::HEADER.len());
            }
            self.framed = Some(framed);
        }
        let framed = self.framed == Some(true);
        let keep = if framed { TRAILER_LEN } else { 0 };
        self.fill(keep + buf.len().min(64 << 10))?;
        if self.eof && framed && self.held.len() <= TRAILER_LEN {
            return match compress::trailer_totals(&self.held) {
                Some(totals) => {
                    *self.expected.lock().unwrap_or_else(|p| p.into_inner()) = Some(totals);
                    Ok(0)
                }
                None => Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the file ends without its trailer (cut between two frames)",
                )),
            };
        }
        let n = buf.len().min(self.held.len().saturating_sub(keep));
        buf[..n].copy_from_slice(&self.held[..n]);
        self.held.drain(..n);
        Ok(n)
    }
}

/// A reader that counts its bytes and keeps the last four.
struct Counted<R> {
    inner: R,
    n: u64,
    last: [u8; 4],
}

/// A reader of the decoded bytes that, at their end, checks their number and CRC-32 against
/// the trailer's (when the file had one).
struct TotalCheck<R> {
    inner: R,
    n: u64,
    crc: crc32fast::Hasher,
    expected: Expected,
    path: PathBuf,
    format: &'static str,
}

impl<R: Read> TotalCheck<R> {
    fn new(inner: R, expected: Expected, path: &Path, format: &'static str) -> TotalCheck<R> {
        TotalCheck {
            inner,
            n: 0,
            crc: crc32fast::Hasher::new(),
            expected,
            path: path.to_path_buf(),
            format,
        }
    }
}

impl<R: Read> Read for TotalCheck<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.n += n as u64;
        self.crc.update(&buf[..n]);
        if n > 0 || buf.is_empty() {
            return Ok(n);
        }
        let expected = *self.expected.lock().unwrap_or_else(|p| p.into_inner());
        let got = Totals {
            bytes: self.n,
            crc: self.crc.clone().finalize(),
        };
        let wrong = match expected {
            Some(e) if e.bytes != got.bytes => format!(
                "{} bytes decoded, the trailer says {}: frames are missing",
                got.bytes, e.bytes
            ),
            Some(e) if e.crc != got.crc => format!(
                "the decoded bytes have CRC-32 {:#010x}, the trailer says {:#010x}: frames are \
                 out of order or altered",
                got.crc, e.crc
            ),
            _ => return Ok(0),
        };
        Err(CodecError::Corrupt {
            path: self.path.clone(),
            format: self.format,
            source: io::Error::new(io::ErrorKind::InvalidData, wrong),
        }
        .into_io())
    }
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.n += k as u64;
        if k >= 4 {
            self.last.copy_from_slice(&buf[k - 4..k]);
        } else {
            self.last.rotate_left(k);
            self.last[4 - k..].copy_from_slice(&buf[..k]);
        }
        Ok(k)
    }
}

/// Decodes the encoded file `path` (named as stored: its suffixes say how it is encoded) from
/// `input` into `out`; returns the number of plain bytes. `keys` must hold an identity when
/// the file is encrypted; an age header past 1024 lines or 64 KiB is refused (xb writes
/// shorter ones: see [`KeyFile::parse`]). Never panics on any input (fuzzed).
///
/// ```
/// use incremental_core::codec::decode_to;
/// let frame = [0x28, 0xb5, 0x2f, 0xfd, 0x24, 0x02, 0x11, 0x00, 0x00, 0x68, 0x69, 0x50, 0x3a, 0xbf, 0xa4];
/// let mut out = Vec::new();
/// // a zstd frame of "hi" whose checksum does not match
/// assert!(decode_to("x.zst".as_ref(), &frame[..], &mut out, None).is_err());
/// ```
pub fn decode_to(
    path: &Path,
    input: impl Read,
    out: &mut dyn Write,
    keys: Option<&KeyFile>,
) -> Result<u64, CodecError> {
    let layers = super::names::decoded_name(path).map_or(Layers::default(), |(_, l)| l);
    let mut r = reader(path, layers, Box::new(BufReader::new(input)), keys)?;
    copy(path, &mut *r, out)
}

/// Copies `r` (a decoding reader of `path`) to `out`.
pub(crate) fn copy(path: &Path, r: &mut dyn Read, out: &mut dyn Write) -> Result<u64, CodecError> {
    let mut buf = vec![0u8; 256 << 10];
    let mut n = 0u64;
    loop {
        let k = match r.read(&mut buf) {
            Ok(0) => return Ok(n),
            Ok(k) => k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CodecError::io("read", path, e)),
        };
        out.write_all(&buf[..k])
            .map_err(|e| CodecError::io("write the decoded bytes of", path, e))?;
        n += k as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// XtraBackup's files and xb's own (whose last frame is smaller) hold LZ4 frames of
    /// different block sizes one after the other.
    #[test]
    fn lz4_frames_of_different_block_sizes_decode_one_after_the_other() {
        let data: Vec<u8> = (0..(1 << 20) + 70_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let mut file = Vec::new();
        for piece in [&data[..1 << 20], &data[1 << 20..]] {
            file.extend(compress::lz4_frame(piece).unwrap());
        }
        let mut out = Vec::new();
        decode_to(Path::new("t.ibd.lz4"), &file[..], &mut out, None).unwrap();
        assert!(out == data, "{} bytes decoded", out.len());
    }

    /// A reader that counts the calls made to it.
    struct Counted<'a>(&'a [u8], Arc<std::sync::atomic::AtomicUsize>);

    impl Read for Counted<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.1.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.0.read(buf)
        }
    }

    /// The header of an age file is read a line at a time, not a few bytes at a time: age parses
    /// the header again from its start after each read, so a header of many stanzas read in
    /// small pieces took time quadratic in its length (a fuzzed 4 KiB header took a second).
    #[test]
    fn age_headers_are_read_in_few_calls() {
        let keys = test_keys();
        let file = age_file_to_many(&keys, 200);
        let calls = Arc::default();
        let path = Path::new("t.ibd.age");
        let mut r = decrypting(
            path,
            Box::new(Counted(&file, Arc::clone(&calls))),
            Some(&keys),
        )
        .unwrap();
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"plain");
        let calls = calls.load(std::sync::atomic::Ordering::Relaxed);
        assert!(calls < 20, "{calls} reads of a {} byte file", file.len());
    }

    /// A key file of one identity.
    fn test_keys() -> KeyFile {
        let text = "AGE-SECRET-KEY-13GDQHAR08PXHVN8QFRGX2N49DTA282SZMJV282VT8WJVFKEQ7DEQMFSEF8\n";
        KeyFile::parse(text, "key.txt").unwrap()
    }

    /// An age file to `n` made-up recipients and the key's own.
    fn age_file_to_many(keys: &KeyFile, n: usize) -> Vec<u8> {
        let others: Vec<_> = (0..n)
            .map(|_| age::x25519::Identity::generate().to_public())
            .collect();
        let recipients = others.iter().map(|r| r as &dyn age::Recipient);
        let e = age::Encryptor::with_recipients(recipients.chain(keys.age_recipients())).unwrap();
        let mut file = Vec::new();
        let mut w = e.wrap_output(&mut file).unwrap();
        w.write_all(b"plain").unwrap();
        w.finish().unwrap();
        file
    }

    /// Headers past 1024 lines or 64 KiB are refused before age parses them: age parses the
    /// header again after each line, so a fuzzed header of short lines took seconds (and one
    /// of 10⁵ lines would take hours). Headers of a few hundred recipients still decrypt.
    #[test]
    fn age_headers_past_the_limit_are_refused_without_parsing() {
        let keys = test_keys();
        let path = Path::new("t.ibd.age");
        let decode = |file: &[u8]| {
            let mut out = Vec::new();
            decode_to(path, file, &mut out, Some(&keys)).map(|_| out)
        };
        assert_eq!(decode(&age_file_to_many(&keys, 400)).unwrap(), b"plain");
        let short_lines = [&b"age-encryption.org/v1\n"[..], &b"-> a\n".repeat(100_000)].concat();
        for file in [age_file_to_many(&keys, 600), short_lines] {
            let e = decode(&file).unwrap_err();
            assert!(
                matches!(&e, CodecError::NotFormat { reason, .. } if reason.contains("header longer")),
                "{e}"
            );
        }
    }
}
