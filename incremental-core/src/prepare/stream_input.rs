//! A backup given to the prepare as an xbstream file, read in place: indexed once, each
//! contained file then read at random as byte ranges of the stream file.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use super::decoded::{plain_size, Decoded};
use super::error::PrepareError;
use super::files::Listing;
use super::input::{BackupInput, ReadAt};
use crate::codec::names::{decoded_name, unsupported};
use crate::codec::KeyFile;
use crate::xbstream::StreamIndex;

/// One piece of a contained file: `len` bytes at `at` in the file, stored at `stream_at` in
/// the stream.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Extent {
    pub at: u64,
    pub stream_at: u64,
    pub len: u64,
}

/// A contained file: its pieces in file order, contiguous from offset 0.
struct Member {
    file: Arc<File>,
    extents: Arc<[Extent]>,
    size: u64,
}

impl Member {
    fn new(file: Arc<File>, extents: Arc<[Extent]>) -> Member {
        let size = extents.last().map_or(0, |e| e.at + e.len);
        Member {
            file,
            extents,
            size,
        }
    }
}

impl ReadAt for Member {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_at(&self, buf: &mut [u8], at: u64) -> io::Result<usize> {
        if at >= self.size || buf.is_empty() {
            return Ok(0);
        }
        // The piece holding `at`.
        let i = self.extents.partition_point(|e| e.at + e.len <= at);
        let Some(e) = self.extents.get(i) else {
            return Ok(0);
        };
        let skip = at - e.at;
        let n = (e.len - skip).min(buf.len() as u64) as usize;
        std::os::unix::fs::FileExt::read_at(&*self.file, &mut buf[..n], e.stream_at + skip)
    }
}

/// How a contained file is stored.
#[derive(Clone)]
struct Stored {
    /// Its pieces in the stream.
    extents: Arc<[Extent]>,
    /// When stored encoded (`X.zst`, `X.age`...): its stored name and its plain size. It is
    /// listed under its plain name.
    coded: Option<(PathBuf, u64)>,
}

/// An indexed stream file.
pub(crate) struct StreamInput {
    file: Arc<File>,
    /// Contained file name (plain) → how it is stored.
    members: BTreeMap<PathBuf, Stored>,
    /// The keys of encrypted files.
    keys: Option<KeyFile>,
    /// Where its redo log was copied when a reader needed it as a file.
    logs: LogCopy,
}

impl StreamInput {
    /// Indexes the stream file `path` (canonical), checking every chunk, and decodes each
    /// encoded file once (checking it, learning its plain size) with `keys`.
    pub fn open(path: &Path, keys: Option<&KeyFile>) -> Result<StreamInput, PrepareError> {
        let file = Arc::new(File::open(path).map_err(|e| PrepareError::io(path, e))?);
        let mut members = BTreeMap::new();
        for (rel, extents) in index(path)? {
            if let Some(why) = unsupported(&rel) {
                return Err(PrepareError::Tablespace {
                    path: path.join(&rel),
                    why: format!("stored in a format xb does not read: {why}"),
                });
            }
            let (name, coded) = match decoded_name(&rel) {
                Some((plain, _)) => {
                    let raw = Arc::new(Member::new(file.clone(), extents.clone()));
                    let size = plain_size(&path.join(&rel), raw, keys)?;
                    (plain, Some((rel, size)))
                }
                None => (rel, None),
            };
            members.insert(name, Stored { extents, coded });
        }
        Ok(StreamInput {
            file,
            members,
            keys: keys.cloned(),
            logs: LogCopy::default(),
        })
    }
}

impl BackupInput for StreamInput {
    /// Whether the stream holds the file `rel`.
    fn has(&self, rel: &Path) -> bool {
        self.members.contains_key(rel)
    }

    /// The contained file `rel` (its plain name), for random access (forward only when it is
    /// stored encoded: [`Decoded`]).
    fn member(&self, rel: &Path) -> Option<Box<dyn ReadAt>> {
        let stored = self.members.get(rel)?;
        let raw = Member::new(self.file.clone(), stored.extents.clone());
        Some(match &stored.coded {
            None => Box::new(raw),
            Some((name, size)) => {
                Box::new(Decoded::new(name, Arc::new(raw), self.keys.clone(), *size))
            }
        })
    }

    /// The contained files as a directory listing of `root` (files at depth 1 or 2, names
    /// under `root`; the top-level directories).
    fn listing(&self, root: &Path) -> Listing {
        super::input::listing(root, self.members.keys())
    }

    /// The only disk a stream incremental takes beyond the target: the size of its redo copy,
    /// and only when its redo must be read ([`LogCopy`]).
    fn log_dir(&self) -> Result<&Path, PrepareError> {
        self.logs.dir(self)
    }
}

/// A backup's `ib_logfile0` and `backup-my.cnf` copied as files, for the redo readers, which
/// read files: copied once, when first asked for, into a private temporary directory (removed
/// when dropped).
#[derive(Default)]
pub(crate) struct LogCopy(OnceLock<Scratch>);

impl LogCopy {
    /// The directory holding the copies of `input`'s files (made on the first call).
    pub fn dir(&self, input: &dyn BackupInput) -> Result<&Path, PrepareError> {
        if let Some(s) = self.0.get() {
            return Ok(&s.0);
        }
        let dir = Scratch::new()?;
        for name in [innodb_page::redo::file::LOG_FILE_0, "backup-my.cnf"] {
            let Some(r) = input.member(Path::new(name)) else {
                continue;
            };
            let to = dir.0.join(name);
            copy_out(r.as_ref(), &to)?;
        }
        Ok(&self.0.get_or_init(|| dir).0)
    }
}

/// Copies a contained file out to `to`.
fn copy_out(r: &dyn ReadAt, to: &Path) -> Result<(), PrepareError> {
    use std::io::Write;
    let mut f = File::create(to).map_err(|e| PrepareError::io(to, e))?;
    let mut buf = vec![0u8; 1 << 20];
    let mut at = 0;
    while at < r.size() {
        let n = (r.size() - at).min(buf.len() as u64) as usize;
        r.read_exact_at(&mut buf[..n], at)
            .and_then(|()| f.write_all(&buf[..n]))
            .map_err(|e| PrepareError::io(to, e))?;
        at += n as u64;
    }
    Ok(())
}

/// A private temporary directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Result<Scratch, PrepareError> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "xb-prepare-redo.{}.{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir(&dir).map_err(|e| PrepareError::io(&dir, e))?;
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Indexes the stream at `path` ([`StreamIndex`]: every chunk header checked, then every
/// payload's CRC-32, in one sequential read, so that a damaged stream is refused before anything
/// is written): every contained file as its pieces, in file order. A file whose pieces are not
/// contiguous from offset 0 (MariaDB seek chunks, never in a delta) is refused.
fn index(path: &Path) -> Result<BTreeMap<PathBuf, Arc<[Extent]>>, PrepareError> {
    let bad = |source| PrepareError::Stream {
        stream: path.to_path_buf(),
        source,
    };
    let mut f = File::open(path).map_err(|e| PrepareError::io(path, e))?;
    let index = StreamIndex::build(&mut f).map_err(bad)?;
    f.seek(SeekFrom::Start(0))
        .map_err(|e| PrepareError::io(path, e))?;
    StreamIndex::verify_checksums(&mut f).map_err(bad)?;
    let mut out = BTreeMap::new();
    for file in index.files() {
        let mut extents: Vec<Extent> = Vec::with_capacity(file.extents().len());
        for e in file.extents() {
            let at = extents.last().map_or(0, |l: &Extent| l.at + l.len);
            if e.file_offset != at {
                return Err(PrepareError::Tablespace {
                    path: path.join(file.path()),
                    why: format!(
                        "its bytes at offset {} come before those at {at} in the stream (a \
                         seek chunk): only files written in order are read from a stream",
                        e.file_offset
                    ),
                });
            }
            extents.push(Extent {
                at,
                stream_at: e.stream_offset,
                len: e.len,
            });
        }
        out.insert(file.path().to_path_buf(), extents.into());
    }
    Ok(out)
}

/// Name, inside the target, of the copy of an incremental read from standard input
/// ([`spool_stream`]).
pub const STDIN_SPOOL: &str = "xb_prepare.stdin.xbstream";

/// Name, inside the target, of the marker of an extraction in progress ([`extract_full`]).
const EXTRACTING: &str = "xb_prepare.extracting";

/// Saves a stream that can be read only once (standard input) as `target/`[`STDIN_SPOOL`] (a
/// stream incremental is read at random, and checked whole before anything is written), and
/// returns its path: give that path as the incremental. It takes the stream's size on the
/// target's file system until the prepare removes it ([`remove_spool`]). The name is fixed, so
/// that an interrupted prepare is resumed by spooling the same stream again.
pub fn spool_stream(target: &Path, from: &mut dyn io::Read) -> Result<PathBuf, PrepareError> {
    let path = target.join(STDIN_SPOOL);
    let mut f = File::create(&path).map_err(|e| PrepareError::io(&path, e))?;
    io::copy(from, &mut f)
        .and_then(|_| f.sync_all())
        .map_err(|e| PrepareError::io(&path, e))?;
    Ok(path)
}

/// Removes the copy [`spool_stream`] made in `target`, if any.
pub fn remove_spool(target: &Path) -> Result<(), PrepareError> {
    let path = target.join(STDIN_SPOOL);
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(PrepareError::io(&path, e)),
    }
}

/// What [`extract_full`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FullExtraction {
    /// The stream was extracted into the target.
    Extracted {
        /// Files written.
        files: u64,
        /// Bytes of file data written.
        bytes: u64,
    },
    /// The target already held a backup (extracted by an earlier run that was interrupted
    /// later, or already merged): the stream was not read.
    AlreadyThere,
}

/// Extracts the full backup `stream` (named `name` in errors) into `target`, the first step
/// of a prepare from streams. `target` absent or empty: the stream is extracted (every chunk
/// checked; each file written under a temporary name and renamed when whole, compressed or
/// encrypted files decoded with `keys` as they arrive; all made durable)
/// while a marker file says an extraction is in progress. `target` not empty: it holds the
/// backup extracted by an earlier run (the prepare's own checks then decide whether the chain
/// fits it) and the stream is not read, so that an interrupted prepare is resumed by the same
/// command; unless the marker is there (an extraction was interrupted), which is refused with
/// [`PrepareError::TargetNotEmpty`] (remove the directory and run again).
pub fn extract_full(
    stream: &mut dyn io::Read,
    name: &Path,
    target: &Path,
    keys: Option<&KeyFile>,
    progress: &dyn crate::progress::Progress,
    cancel: &crate::progress::Cancel,
) -> Result<FullExtraction, PrepareError> {
    use crate::backup::sink::{DirSink, Sink};
    use crate::codec::DecodingSink;
    use crate::xbstream::{extract, ExtractOptions};
    let marker = target.join(EXTRACTING);
    let empty = match std::fs::read_dir(target) {
        Ok(mut rd) => rd.next().is_none(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => true,
        Err(e) => return Err(PrepareError::io(target, e)),
    };
    if !empty {
        if marker.exists() {
            return Err(PrepareError::TargetNotEmpty {
                dir: target.to_path_buf(),
            });
        }
        return Ok(FullExtraction::AlreadyThere);
    }
    let dir = DirSink::new(target)
        .map_err(|e| PrepareError::io(target, io::Error::other(e.to_string())))?;
    let mut sink = DecodingSink::new(dir, keys.cloned());
    File::create(&marker)
        .and_then(|f| f.sync_all())
        .map_err(|e| PrepareError::io(&marker, e))?;
    let report = extract(
        stream,
        &mut sink,
        &ExtractOptions::default(),
        progress,
        cancel,
    )
    .map_err(|source| PrepareError::Stream {
        stream: name.to_path_buf(),
        source,
    })?;
    sink.finish()
        .map_err(|e| match crate::codec::CodecError::in_io(&e) {
            Some(_) => PrepareError::io(name, e),
            None => PrepareError::io(target, e),
        })?;
    std::fs::remove_file(&marker).map_err(|e| PrepareError::io(&marker, e))?;
    super::journal::sync_dir(target)?;
    Ok(FullExtraction::Extracted {
        files: report.files,
        bytes: report.bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xbstream::StreamWriter;

    /// A stream of `a` in three pieces interleaved with `b`, and `c.zst` (the zstd frame of
    /// `plain`) in two pieces.
    fn sample(dir: &Path, a: &[u8], plain: &[u8]) -> PathBuf {
        let packed = zstd::stream::encode_all(plain, 3).unwrap();
        let mut w = StreamWriter::new(Vec::new());
        w.payload(b"a", &a[..10]).unwrap();
        w.payload(b"db/b", b"bbb").unwrap();
        w.payload(b"a", &a[10..4000]).unwrap();
        w.payload(b"c.zst", &packed[..packed.len() / 2]).unwrap();
        w.end(b"db/b").unwrap();
        w.payload(b"a", &a[4000..]).unwrap();
        w.payload(b"c.zst", &packed[packed.len() / 2..]).unwrap();
        w.end(b"c.zst").unwrap();
        w.end(b"a").unwrap();
        let path = dir.join("s.xbs");
        std::fs::write(&path, w.into_inner()).unwrap();
        path
    }

    #[test]
    fn pieces_and_encoded_files_read_at_any_offset() {
        let d = tempfile::tempdir().unwrap();
        let a: Vec<u8> = (0..9000u32).map(|i| (i * 7 % 251) as u8).collect();
        let plain: Vec<u8> = (0..700_000u32).map(|i| (i / 3 % 253) as u8).collect();
        let s = StreamInput::open(&sample(d.path(), &a, &plain), None).unwrap();
        let l = s.listing(Path::new("/s"));
        let names: Vec<_> = l.files.iter().map(|(r, _)| r.to_str().unwrap()).collect();
        assert_eq!(names, ["a", "c", "db/b"]);
        assert_eq!(l.dirs, [PathBuf::from("db")]);
        // Across piece boundaries.
        let m = s.member(Path::new("a")).unwrap();
        assert_eq!(m.size(), 9000);
        let mut buf = vec![0u8; 5000];
        m.read_exact_at(&mut buf, 5).unwrap();
        assert_eq!(buf, a[5..5005]);
        assert!(m.read_exact_at(&mut buf, 4001).is_err()); // past the end
                                                           // Decoded: forward, then backward (decoding starts again), then past the end.
        let c = s.member(Path::new("c")).unwrap();
        assert_eq!(c.size(), plain.len() as u64);
        let mut buf = vec![0u8; 300_000];
        c.read_exact_at(&mut buf, 350_000).unwrap();
        assert_eq!(buf, plain[350_000..650_000]);
        c.read_exact_at(&mut buf, 1).unwrap();
        assert_eq!(buf, plain[1..300_001]);
        assert!(c.read_exact_at(&mut buf, 500_000).is_err());
    }

    #[test]
    fn a_damaged_stream_or_encoded_file_is_refused_with_its_offset() {
        let d = tempfile::tempdir().unwrap();
        let a = vec![1u8; 9000];
        let plain = vec![2u8; 100_000];
        let path = sample(d.path(), &a, &plain);
        let mut bytes = std::fs::read(&path).unwrap();
        // A byte of a's second piece: its CRC.
        let at = bytes.windows(200).position(|w| w == [1; 200]).unwrap() + 100;
        bytes[at] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        let e = StreamInput::open(&path, None).err().unwrap().to_string();
        assert!(e.contains("s.xbs") && e.contains("checksum"), "{e}");
        // Cut: truncated.
        let path = sample(d.path(), &a, &plain);
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 30]).unwrap();
        let e = StreamInput::open(&path, None).err().unwrap().to_string();
        assert!(e.contains("truncated"), "{e}");
    }
}
