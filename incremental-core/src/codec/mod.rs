//! Per-file compression and encryption of backups, both ways.
//!
//! **Layout.** A file `X` of a backup is stored as `X.zst` or `X.lz4` when compressed (Percona
//! XtraBackup 8.0's layout: the concatenation of independent standard frames, one per piece
//! of [`CodecOptions::piece_size`] bytes, each with its content size and content checksum, so
//! that `zstd -d` and `lz4 -d` decode it), and gets `.age` last when encrypted (the
//! [age](https://age-encryption.org/v1) format, to X25519 recipients: `age -d -i key.txt`
//! decrypts it): compress, then encrypt, as Percona does. [`names`] holds these rules and the
//! files that stay plain ([`names::PLAIN_FILES`]).
//!
//! **Detection.** zstd and LZ4 frames carry a checksum of their content: a changed byte, and a
//! cut inside a frame, are found. The formats cannot see a file cut between two frames,
//! missing one or holding two in the wrong order: xb adds a standard skippable frame first
//! (`XB-FRAME`: "a trailer follows") and one last (`XB-TOTAL`, the number of plain bytes and
//! their CRC-32), which `zstd -d` and `lz4 -d` skip and xb checks (files without them, as XtraBackup writes them, are read without that check).
//! age authenticates every 64 KiB chunk and marks the last: a changed, dropped, reordered or
//! cut chunk is found, and a wrong key is told apart.
//!
//! **Pieces.** Writing:
//! * [`CodecSink`]: any [`Sink`](crate::Sink) (a directory, a stream) whose files are stored
//!   encoded: `create("db/t.ibd")` writes `db/t.ibd.zst.age`. Compression runs on a pool of
//!   threads while the backup reads ([`CodecOptions::set_threads`]).
//!
//! Reading:
//! * [`DecodingSink`]: the other way, for extraction: encoded files arriving through a
//!   [`Sink`](crate::Sink) are stored decoded under their plain names.
//! * [`DecodingSource`]: a [`BackupSource`](crate::BackupSource) whose encoded files read as
//!   their plain contents (copy-back of an encoded backup, decoding while it copies).
//! * [`decode_dir`]: decoding a backup directory in place (`xb decompress`), resumable.
//! * [`decode_into`]: decoding a backup directory into another (what `xb verify` reads).
//! * [`decode_to`]: one file, from a reader to a writer.
//!
//! ```
//! use std::io::Write;
//! use incremental_core::backup::sink::{DirSink, FileMeta, Sink};
//! use incremental_core::codec::{CodecOptions, CodecSink, Compression, DecodingSource};
//! use incremental_core::source::{BackupSource, DirSource};
//! let dir = tempfile::tempdir().unwrap();
//! let mut opts = CodecOptions::default();
//! opts.set_compression(Some(Compression::Lz4));
//! let mut sink = CodecSink::new(DirSink::new(dir.path().join("b")).unwrap(), &opts).unwrap();
//! let mut f = sink.create(&FileMeta::new("db/t.frm".as_ref(), Some(5))).unwrap();
//! f.write_all(b"hello").unwrap();
//! f.finish().unwrap();
//! sink.finish().unwrap();
//! assert!(dir.path().join("b/db/t.frm.lz4").exists());
//! let src = DecodingSource::new(DirSource::new(dir.path().join("b")), None);
//! let mut text = String::new();
//! src.open("db/t.frm".as_ref()).unwrap().read_to_string(&mut text).unwrap();
//! assert_eq!(text, "hello");
//! # use std::io::Read;
//! ```

pub(crate) mod compress;
pub(crate) mod decode;
pub(crate) mod encode;
mod error;
mod in_place;
mod keys;
pub mod names;
mod sink;
mod source;

pub use decode::decode_to;
pub use error::CodecError;
pub use in_place::{decode_dir, decode_into, DecodeReport};
pub use keys::KeyFile;
pub use sink::{CodecSink, DecodingSink};
pub use source::DecodingSource;

/// The name of the environment variable that may hold the key text (what a key file holds),
/// for a caller that takes keys from the environment: never from the command line, which
/// other users see in the process list.
pub const KEY_ENV: &str = "XB_ENCRYPT_KEY";

/// A compression format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Compression {
    /// zstd (`X.zst`): the default, a better ratio than LZ4 at a similar speed at level 1.
    Zstd,
    /// LZ4 (`X.lz4`): the fastest, the lowest ratio.
    Lz4,
}

impl Compression {
    /// The format's name (`zstd`, `lz4`).
    pub fn name(self) -> &'static str {
        match self {
            Compression::Zstd => "zstd",
            Compression::Lz4 => "lz4",
        }
    }
}

/// How files are encoded and decoded.
///
/// ```
/// use incremental_core::codec::{CodecOptions, Compression};
/// let mut o = CodecOptions::default();
/// o.set_compression(Some(Compression::Zstd)).set_level(3).set_threads(4);
/// assert_eq!((o.compression(), o.level(), o.threads()), (Some(Compression::Zstd), 3, 4));
/// assert_eq!(o.piece_size(), 1 << 20);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CodecOptions {
    compression: Option<Compression>,
    level: i32,
    threads: usize,
    piece_size: usize,
    keys: Option<KeyFile>,
    remove_original: bool,
}

/// The default zstd level: 1, as Percona XtraBackup's `--compress-zstd-level`: fast enough
/// not to slow a backup on two cores (see docs/compression-and-encryption.md).
pub const DEFAULT_ZSTD_LEVEL: i32 = 1;

/// The default number of compression threads.
pub const DEFAULT_THREADS: usize = 2;

impl Default for CodecOptions {
    fn default() -> CodecOptions {
        CodecOptions {
            compression: None,
            level: DEFAULT_ZSTD_LEVEL,
            threads: DEFAULT_THREADS,
            piece_size: 1 << 20,
            keys: None,
            remove_original: false,
        }
    }
}

impl CodecOptions {
    /// Compress with this format (none by default).
    pub fn set_compression(&mut self, c: Option<Compression>) -> &mut Self {
        self.compression = c;
        self
    }

    /// The compression level (zstd: 1–22, negative for faster; LZ4 has one level and ignores
    /// it). Default [`DEFAULT_ZSTD_LEVEL`].
    pub fn set_level(&mut self, level: i32) -> &mut Self {
        self.level = level;
        self
    }

    /// Encoding: the compression threads (at least 1; default [`DEFAULT_THREADS`]).
    /// Decoding a directory: the files decoded at once.
    pub fn set_threads(&mut self, threads: usize) -> &mut Self {
        self.threads = threads.max(1);
        self
    }

    /// The plain bytes of each compressed frame (64 KiB to 4 MiB; default 1 MiB).
    pub fn set_piece_size(&mut self, bytes: usize) -> &mut Self {
        self.piece_size = bytes.clamp(64 << 10, 4 << 20);
        self
    }

    /// Encoding: encrypt to these keys' recipients. Decoding: decrypt with their identities.
    pub fn set_keys(&mut self, keys: Option<KeyFile>) -> &mut Self {
        self.keys = keys;
        self
    }

    /// Decoding a directory in place: remove each encoded file once its decoded file is
    /// durable (default: keep it).
    pub fn set_remove_original(&mut self, remove: bool) -> &mut Self {
        self.remove_original = remove;
        self
    }

    /// See [`set_compression`](Self::set_compression).
    pub fn compression(&self) -> Option<Compression> {
        self.compression
    }

    /// See [`set_level`](Self::set_level).
    pub fn level(&self) -> i32 {
        self.level
    }

    /// See [`set_threads`](Self::set_threads).
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// See [`set_piece_size`](Self::set_piece_size).
    pub fn piece_size(&self) -> usize {
        self.piece_size
    }

    /// See [`set_keys`](Self::set_keys).
    pub fn keys(&self) -> Option<&KeyFile> {
        self.keys.as_ref()
    }

    /// See [`set_remove_original`](Self::set_remove_original).
    pub fn remove_original(&self) -> bool {
        self.remove_original
    }

    /// Whether files get encoded at all (compressed or encrypted).
    pub fn encodes(&self) -> bool {
        self.compression.is_some() || self.keys.is_some()
    }
}
