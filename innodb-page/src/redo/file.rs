//! Opening a redo log from a path, reading its header and checkpoints, and finding its end.
//!
//! [`open`] accepts:
//! * a redo log file: `ib_logfile0` (any format), `ib_logfileN` (the group starting at the
//!   sibling `ib_logfile0` is opened), `#ib_redoN` (all sibling `#ib_redoN` files are used);
//!   a file with another name is opened alone;
//! * a directory: `#innodb_redo` itself, or a datadir holding `#innodb_redo/` (MySQL 8.0.30+,
//!   preferred when it holds `#ib_redoN` files) or `ib_logfile0`.
//!
//! Files named `#ib_redoN_tmp` (MySQL's spare files) are ignored.
//!
//! # File names
//!
//! The names of redo log files are decided here and nowhere else: [`LOG_FILE_0`] and
//! [`log_file_path`] (`ib_logfile0`, MariaDB and MySQL up to 8.0.29), [`log_file_name`] and
//! [`log_file_number`] (`ib_logfileN`), [`LOG_FILE_RESIZE`] (`ib_logfile101`, MariaDB's log
//! being resized or rebuilt), [`REDO_DIR`], [`redo_file_name`] and [`redo_file_number`]
//! (MySQL 8.0.30+ `#innodb_redo/#ib_redoN`), and [`is_redo_file_name`] for any of them.
//!
//! ```
//! use std::path::Path;
//! use innodb_page::redo::file::{self, LOG_FILE_0};
//! assert_eq!(file::log_file_path(Path::new("/var/lib/mysql")), Path::new("/var/lib/mysql/ib_logfile0"));
//! assert_eq!(file::log_file_number(LOG_FILE_0), Some(0));
//! assert_eq!(file::log_file_name(1), "ib_logfile1");
//! assert_eq!(file::redo_file_number("#ib_redo7"), Some(7));
//! assert_eq!(file::redo_file_number("#ib_redo7_tmp"), None);
//! assert!(file::is_redo_file_name("#innodb_redo") && !file::is_redo_file_name("ibdata1"));
//! ```

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::block::{self, BlockStop, RingGeometry, ScanRules, BLOCK_SIZE};
use super::checkpoint::{self, Checkpoint, LOG_FILE_HDR_SIZE};
use super::crypt::{LogCipher, ServerKey};
use super::format::{Encryption, RedoFormat};
use super::header::FileHeader;
use super::mtr::{self, LogGeometry, RecordArea, ScanStop, START_OFFSET};
use super::{lsn, RedoError};
use crate::crypto::cipher::Mode;
use crate::{Error, Lsn};

/// The redo log file of MariaDB (every version) and of MySQL up to 8.0.29: the only file from
/// MariaDB 10.5 on, the first of the ring `ib_logfile0..N` before. Also the redo log of an xb
/// or mariabackup backup.
pub const LOG_FILE_0: &str = "ib_logfile0";

/// The prefix of `ib_logfileN`.
pub const LOG_FILE_PREFIX: &str = "ib_logfile";

/// The file MariaDB writes a new redo log to while it resizes the log online (10.11+) or
/// rebuilds it at startup, before renaming it over [`LOG_FILE_0`].
pub const LOG_FILE_RESIZE: &str = "ib_logfile101";

/// The directory of MySQL 8.0.30+ redo log files, inside the datadir.
pub const REDO_DIR: &str = "#innodb_redo";

/// The prefix of the MySQL 8.0.30+ redo log files (`#ib_redoN`) in [`REDO_DIR`].
pub const REDO_FILE_PREFIX: &str = "#ib_redo";

/// `dir/ib_logfile0`: the redo log of a MariaDB datadir or of a backup.
pub fn log_file_path(dir: &Path) -> PathBuf {
    dir.join(LOG_FILE_0)
}

/// `ib_logfile<n>`.
pub fn log_file_name(n: u64) -> String {
    format!("{LOG_FILE_PREFIX}{n}")
}

/// The N of a file name `ib_logfileN` (digits only: not `ib_logfile0.bak`).
pub fn log_file_number(name: &str) -> Option<u64> {
    number_after(name, LOG_FILE_PREFIX)
}

/// `#ib_redo<n>`.
pub fn redo_file_name(n: u64) -> String {
    format!("{REDO_FILE_PREFIX}{n}")
}

/// The N of a file name `#ib_redoN` (not MySQL's spare files `#ib_redoN_tmp`).
pub fn redo_file_number(name: &str) -> Option<u64> {
    number_after(name, REDO_FILE_PREFIX)
}

/// Whether a file or directory name is one of a redo log: `ib_logfile*`, `#ib_redo*` (spare
/// files included) or [`REDO_DIR`].
pub fn is_redo_file_name(name: &str) -> bool {
    name.starts_with(LOG_FILE_PREFIX) || name.starts_with(REDO_FILE_PREFIX) || name == REDO_DIR
}

fn number_after(name: &str, prefix: &str) -> Option<u64> {
    let digits = name.strip_prefix(prefix)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// One file of a redo log.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedoFile {
    /// Its path.
    pub path: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// The start LSN from its header (offset 8).
    pub start_lsn: Lsn,
}

/// One checkpoint block that was examined, valid or not.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CheckpointSlot {
    /// Index into [`RedoLog::files`] of the file holding the block.
    pub file: usize,
    /// Byte offset of the block in that file.
    pub offset: u64,
    /// The parsed checkpoint, or why the block is invalid.
    pub checkpoint: Result<Checkpoint, RedoError>,
}

/// Why a scan for the end of the log stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StopReason {
    /// MariaDB 10.8+: the mini-transaction scan stopped.
    Mtr(ScanStop),
    /// Block-framed formats: the block scan stopped.
    Block(BlockStop),
}

/// The scanned end of the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LogEnd {
    /// Found by scanning from the checkpoint.
    Scanned {
        /// The end LSN: the end of the last valid mini-transaction (10.8+) or of the valid
        /// data in the last valid block (block-framed formats).
        lsn: Lsn,
        /// Why the scan stopped there.
        stop: StopReason,
        /// Number of valid mini-transactions (10.8+) or blocks read.
        units: u64,
    },
    /// The files do not allow a scan (truncated copy, checkpoint block region not holding the
    /// log the checkpoint describes, empty record area).
    Unknown {
        /// Why.
        why: &'static str,
    },
}

impl LogEnd {
    /// The scanned end LSN, if any.
    pub fn lsn(&self) -> Option<Lsn> {
        match self {
            LogEnd::Scanned { lsn, .. } => Some(*lsn),
            LogEnd::Unknown { .. } => None,
        }
    }
}

/// A redo log as read from disk: format, header facts, every checkpoint block, the current
/// checkpoint and the scanned end.
///
/// Of the two end LSNs, [`RedoLog::end_lsn`] is the **scanned** end (where the log really
/// ends), and [`RedoLog::checkpoint_end_lsn`] the **header-provided** one (MariaDB's per-
/// checkpoint field: where the checkpoint's FILE_CHECKPOINT record starts).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedoLog {
    /// The format.
    pub format: RedoFormat,
    /// The raw format word.
    pub format_word: u32,
    /// Encryption, as the header says.
    pub encryption: Encryption,
    /// Creator string of the main file (`ib_logfile0`, or the `#ib_redoN` holding the
    /// checkpoint).
    pub creator: String,
    /// Start LSN from the main file's header (MariaDB 10.8+: `first_lsn`).
    pub start_lsn: Lsn,
    /// The current checkpoint.
    pub checkpoint: Checkpoint,
    /// Index into [`RedoLog::files`] of the file holding the current checkpoint.
    pub checkpoint_file: usize,
    /// Every checkpoint block examined.
    pub checkpoints: Vec<CheckpointSlot>,
    /// The files, in LSN order (`ib_logfile0` first).
    pub files: Vec<RedoFile>,
    /// Bytes of log data the files hold (ring capacity, MariaDB 10.8+ record area, or the sum
    /// of the data areas of MySQL 8.0.30+ files).
    pub capacity: u64,
    /// The scanned end.
    pub end: LogEnd,
}

impl RedoLog {
    /// The current checkpoint LSN.
    pub fn checkpoint_lsn(&self) -> Lsn {
        self.checkpoint.lsn
    }

    /// The scanned end LSN (`None` when the files could not be scanned).
    pub fn end_lsn(&self) -> Option<Lsn> {
        self.end.lsn()
    }

    /// The header-provided end LSN of the current checkpoint (MariaDB only): start of its
    /// FILE_CHECKPOINT / MLOG_CHECKPOINT mini-transaction.
    pub fn checkpoint_end_lsn(&self) -> Option<Lsn> {
        self.checkpoint.end_lsn
    }

    /// The main file: the one holding the current checkpoint.
    pub fn path(&self) -> &Path {
        self.files
            .get(self.checkpoint_file)
            .map_or(Path::new(""), |f| f.path.as_path())
    }

    /// A reader of the mini-transactions of this MariaDB 10.8+ log from `start` on, read from
    /// its file (opened anew; the record area as the file's size makes it now).
    ///
    /// ```
    /// let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/data/mariadb-10.11/backup/full");
    /// let log = innodb_page::redo::open(&innodb_page::redo::file::log_file_path(dir.as_ref())).unwrap();
    /// let mut r = log.mtr_reader(log.checkpoint_lsn()).unwrap();
    /// assert!(r.next_mtr().unwrap().is_some());
    /// ```
    pub fn mtr_reader(&self, start: Lsn) -> Result<mtr::MtrReader<FileRecordArea>, Error> {
        let path = self.path();
        let file = File::open(path).map_err(|e| Error::io(path, 0, e))?;
        let size = file.metadata().map_err(|e| Error::io(path, 0, e))?.len();
        let geom =
            LogGeometry::from_file_size(self.start_lsn, size, self.encryption.has_mtr_nonce())
                .map_err(|e| redo_err(path, 0, e))?;
        mtr::MtrReader::new(FileRecordArea::new(file), geom, start)
            .map_err(|e| redo_err(path, START_OFFSET, e))
    }

    /// Like [`mtr_reader`](RedoLog::mtr_reader), but the records of an encrypted MariaDB
    /// 10.8+ log are decrypted ([`MtrReader::set_cipher`](mtr::MtrReader::set_cipher)) with
    /// the log key derived from `server_key` (the server's key 1) and the file's header, in
    /// `mode` (the server's `file_key_management_encryption_algorithm`). A plain log is read
    /// as by [`mtr_reader`](RedoLog::mtr_reader). The key is not checked here: see
    /// [`LogCipher::confirms_checkpoint`] and [`check_structure`](super::crypt::check_structure).
    ///
    /// ```
    /// use innodb_page::crypto::cipher::Mode;
    /// use innodb_page::redo::crypt::ServerKey;
    /// let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/data/mariadb-10.11/backup/full");
    /// let log = innodb_page::redo::open(dir.as_ref()).unwrap();
    /// let key = ServerKey::new(&[1u8; 32]).unwrap();
    /// // A plain log: read as without a key.
    /// let mut r = log.mtr_reader_decrypting(log.checkpoint_lsn(), &key, Mode::Cbc).unwrap();
    /// assert!(r.cipher().is_none());
    /// assert_eq!(r.next_mtr().unwrap().unwrap().file_checkpoint_lsn(), Some(log.checkpoint_lsn()));
    /// ```
    pub fn mtr_reader_decrypting(
        &self,
        start: Lsn,
        server_key: &ServerKey,
        mode: Mode,
    ) -> Result<mtr::MtrReader<FileRecordArea>, Error> {
        let mut reader = self.mtr_reader(start)?;
        let path = self.path();
        if !self.encryption.has_mtr_nonce() {
            return Ok(reader);
        }
        let (_, _, head) = open_head(path, BLOCK_SIZE as usize)?;
        let hdr = FileHeader::parse(&head).map_err(|e| redo_err(path, 0, e))?;
        let cipher = LogCipher::for_header(server_key, mode, &hdr)
            .map_err(|e| redo_err(path, 0, RedoError::Crypt(e)))?;
        reader.set_cipher(cipher);
        Ok(reader)
    }
}

/// The facts of a redo log that `xb inspect` shows. Made by [`RedoLog::summary`].
///
/// With the `serde` feature it serializes as an object whose `kind` is `redo`; `format` and
/// `encrypted` are their names.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(tag = "kind", rename = "redo")
)]
#[non_exhaustive]
pub struct RedoSummary {
    /// The path the log was opened from.
    #[cfg_attr(feature = "serde", serde(serialize_with = "crate::ser::path"))]
    pub file: PathBuf,
    /// The format.
    pub format: RedoFormat,
    /// Creator string of the main file.
    pub creator: String,
    /// The current checkpoint LSN.
    pub checkpoint_lsn: Lsn,
    /// [`RedoLog::checkpoint_end_lsn`].
    pub checkpoint_end_lsn: Option<Lsn>,
    /// The scanned end ([`RedoLog::end_lsn`]).
    pub end_lsn: Option<Lsn>,
    /// Encryption, as the header says.
    pub encrypted: Encryption,
}

impl RedoLog {
    /// The facts of this log, opened from `path`.
    ///
    /// ```
    /// let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/data/mariadb-10.11/backup/full");
    /// let log = innodb_page::redo::open(std::path::Path::new(dir)).unwrap();
    /// let s = log.summary(dir.as_ref());
    /// assert_eq!((s.checkpoint_lsn.get(), s.end_lsn.map(|l| l.get())), (2500178, Some(2500194)));
    /// ```
    pub fn summary(&self, path: &Path) -> RedoSummary {
        RedoSummary {
            file: path.to_path_buf(),
            format: self.format,
            creator: self.creator.clone(),
            checkpoint_lsn: self.checkpoint_lsn(),
            checkpoint_end_lsn: self.checkpoint_end_lsn(),
            end_lsn: self.end_lsn(),
            encrypted: self.encryption,
        }
    }
}

/// Opens the redo log at `path` (a file or a directory, see the [module docs](self)), reads its
/// header and checkpoints and scans for its end.
///
/// ```
/// let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/data/mariadb-10.11/backup/full");
/// let log = innodb_page::redo::open(std::path::Path::new(dir)).unwrap();
/// assert_eq!(log.format.name(), "mariadb-10.8");
/// assert_eq!(log.checkpoint_lsn().get(), 2500178);
/// assert_eq!(log.end_lsn().map(|l| l.get()), Some(2500194));
/// ```
pub fn open(path: &Path) -> Result<RedoLog, Error> {
    let meta = fs::metadata(path).map_err(|e| Error::io(path, 0, e))?;
    if meta.is_dir() {
        let own = list_ib_redo(path)?;
        if !own.is_empty() {
            return open_8030(path, own);
        }
        let sub = path.join(REDO_DIR);
        if sub.is_dir() {
            let files = list_ib_redo(&sub)?;
            if !files.is_empty() {
                return open_8030(&sub, files);
            }
        }
        let f0 = log_file_path(path);
        if f0.is_file() {
            return open_file(&f0);
        }
        return Err(Error::Layout {
            path: path.to_path_buf(),
            what: "no redo log here (no ib_logfile0, no #innodb_redo/#ib_redoN)".into(),
        });
    }
    // ib_logfileN with N > 0: open the group from ib_logfile0 if it exists.
    if let (Some(n), Some(dir)) = (logfile_number(path), path.parent()) {
        let f0 = log_file_path(dir);
        if n > 0 && f0.is_file() {
            return open_file(&f0);
        }
    }
    open_file(path)
}

/// The N of a file named `ib_logfileN`.
fn logfile_number(path: &Path) -> Option<u64> {
    log_file_number(path.file_name()?.to_str()?)
}

/// `#ib_redoN` files of a directory, sorted by N.
fn list_ib_redo(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let rd = fs::read_dir(dir).map_err(|e| Error::io(dir, 0, e))?;
    let mut v = Vec::new();
    for ent in rd {
        let ent = ent.map_err(|e| Error::io(dir, 0, e))?;
        let name = ent.file_name();
        if let Some(n) = name.to_str().and_then(redo_file_number) {
            let p = ent.path();
            if p.is_file() {
                v.push((n, p));
            }
        }
    }
    v.sort();
    Ok(v.into_iter().map(|(_, p)| p).collect())
}

/// Reads up to `buf.len()` bytes at `offset`; fewer only at end of file.
fn read_at(file: &File, path: &Path, offset: u64, buf: &mut [u8]) -> Result<usize, Error> {
    let mut done = 0;
    while done < buf.len() {
        let at = offset.saturating_add(done as u64);
        match file.read_at(&mut buf[done..], at) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io(path, at, e)),
        }
    }
    Ok(done)
}

fn redo_err(path: &Path, offset: u64, source: RedoError) -> Error {
    Error::Redo {
        path: path.to_path_buf(),
        offset,
        source,
    }
}

/// Opens one file and reads its first bytes (up to `n`). Returns (file, size, bytes).
fn open_head(path: &Path, n: usize) -> Result<(File, u64, Vec<u8>), Error> {
    let file = File::open(path).map_err(|e| Error::io(path, 0, e))?;
    let size = file.metadata().map_err(|e| Error::io(path, 0, e))?.len();
    let mut buf = vec![0u8; n];
    let got = read_at(&file, path, 0, &mut buf)?;
    buf.truncate(got);
    Ok((file, size, buf))
}

fn open_file(path: &Path) -> Result<RedoLog, Error> {
    let (file, size, head) = open_head(path, START_OFFSET as usize)?;
    let hdr = FileHeader::parse(&head).map_err(|e| redo_err(path, 0, e))?;
    match hdr.format() {
        RedoFormat::MariaDb108 => open_108(path, file, size, &head),
        RedoFormat::MySql8030 => {
            let dir = path.parent().unwrap_or(Path::new("."));
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            let mut files = list_ib_redo(dir)?;
            if !files.iter().any(|p| p.file_name() == path.file_name()) {
                files = vec![path.to_path_buf()];
            }
            open_8030(dir, files)
        }
        _ => open_ring(path, size, &head),
    }
}

fn slots_from(
    format: RedoFormat,
    file_index: usize,
    head: &[u8],
    start_lsn: Lsn,
    file_size: Option<u64>,
) -> Vec<CheckpointSlot> {
    checkpoint::block_offsets(format)
        .into_iter()
        .map(|off| {
            let len = checkpoint::block_len(format);
            let bytes = usize::try_from(off)
                .ok()
                .and_then(|o| head.get(o..o.checked_add(len)?));
            let cp = match bytes {
                Some(b) => checkpoint::parse(format, b, off, start_lsn, file_size),
                None => Err(RedoError::Truncated {
                    what: "checkpoint block",
                    len: head.len() as u64,
                    need: off + len as u64,
                }),
            };
            CheckpointSlot {
                file: file_index,
                offset: off,
                checkpoint: cp,
            }
        })
        .collect()
}

fn select_slot(
    format: RedoFormat,
    slots: &[CheckpointSlot],
    paths: &[RedoFile],
) -> Result<(Checkpoint, usize), Error> {
    let results: Vec<_> = slots.iter().map(|s| s.checkpoint.clone()).collect();
    let picked = checkpoint::select_index(format, &results).and_then(|i| {
        match (results.get(i), slots.get(i)) {
            (Some(Ok(c)), Some(s)) => Ok((*c, s.file)),
            _ => checkpoint::select(format, &[]).map(|c| (c, 0)),
        }
    });
    match picked {
        Ok(x) => Ok(x),
        Err(e) => {
            let (file, offset) = slots.first().map_or((0, 0), |s| (s.file, s.offset));
            let path = paths.get(file).map_or(PathBuf::new(), |f| f.path.clone());
            Err(redo_err(&path, offset, e))
        }
    }
}

/// A [`RecordArea`] over the record area of a MariaDB 10.8+ `ib_logfile0` (from offset
/// 0x3000), read with `pread`. Reads past the end of the file are short, which the
/// [`mtr::MtrReader`] reports as [`ScanStop::Unreadable`].
///
/// ```no_run
/// use innodb_page::redo::file::FileRecordArea;
/// use innodb_page::redo::mtr::{LogGeometry, MtrReader};
/// use innodb_page::Lsn;
/// let f = std::fs::File::open("ib_logfile0").unwrap();
/// let size = f.metadata().unwrap().len();
/// let geom = LogGeometry::from_file_size(Lsn::new(0x3000), size, false).unwrap();
/// let mut r = MtrReader::new(FileRecordArea::new(f), geom, Lsn::new(0x3000)).unwrap();
/// while let Some(m) = r.next_mtr().unwrap() {
///     println!("{}..{}", m.start_lsn(), m.end_lsn());
/// }
/// ```
#[derive(Debug)]
pub struct FileRecordArea {
    file: File,
}

impl FileRecordArea {
    /// Wraps an open `ib_logfile0`.
    pub fn new(file: File) -> FileRecordArea {
        FileRecordArea { file }
    }

    /// Gives back the file.
    pub fn into_inner(self) -> File {
        self.file
    }
}

impl RecordArea for FileRecordArea {
    fn read_area(&mut self, pos: u64, buf: &mut [u8]) -> io::Result<usize> {
        let Some(base) = START_OFFSET.checked_add(pos) else {
            return Ok(0);
        };
        let mut done = 0;
        while done < buf.len() {
            match self.file.read_at(&mut buf[done..], base + done as u64) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }
}

fn open_108(path: &Path, file: File, size: u64, head: &[u8]) -> Result<RedoLog, Error> {
    let hdr = FileHeader::parse(head).map_err(|e| redo_err(path, 0, e))?;
    if size < START_OFFSET {
        return Err(redo_err(
            path,
            size,
            RedoError::Truncated {
                what: "MariaDB 10.8+ redo log header area (header and checkpoint blocks)",
                len: size,
                need: START_OFFSET,
            },
        ));
    }
    let format = hdr.format();
    let start_lsn = hdr.start_lsn();
    let files = vec![RedoFile {
        path: path.to_path_buf(),
        size,
        start_lsn,
    }];
    let checkpoints = slots_from(format, 0, head, start_lsn, None);
    let (checkpoint, checkpoint_file) = select_slot(format, &checkpoints, &files)?;
    let encryption = hdr.encryption();
    let (capacity, end) =
        match LogGeometry::from_file_size(start_lsn, size, encryption.has_mtr_nonce()) {
            Err(_) => (
                0,
                LogEnd::Unknown {
                    why: "the file has no record area",
                },
            ),
            Ok(geom) => {
                let scan = mtr::scan_to_end(
                    FileRecordArea::new(file),
                    geom,
                    checkpoint.lsn,
                    checkpoint.end_lsn,
                    encryption == Encryption::None,
                )
                .map_err(|e| Error::io(path, START_OFFSET, e))?;
                let end = match (scan.end_lsn, scan.inconsistency) {
                    (Some(l), _) => LogEnd::Scanned {
                        lsn: l,
                        stop: StopReason::Mtr(scan.stop),
                        units: scan.mtrs,
                    },
                    (None, why) => LogEnd::Unknown {
                        why: why.unwrap_or("scan failed"),
                    },
                };
                (geom.capacity(), end)
            }
        };
    Ok(RedoLog {
        format,
        format_word: hdr.format_word(),
        encryption,
        creator: hdr.creator(),
        start_lsn,
        checkpoint,
        checkpoint_file,
        checkpoints,
        files,
        capacity,
        end,
    })
}

/// The ring formats: MySQL ≤ 8.0.29, MariaDB 10.2–10.7.
fn open_ring(path0: &Path, size0: u64, head: &[u8]) -> Result<RedoLog, Error> {
    let hdr = FileHeader::parse(head).map_err(|e| redo_err(path0, 0, e))?;
    let format = hdr.format();
    let start_lsn = hdr.start_lsn();
    let mut files = vec![RedoFile {
        path: path0.to_path_buf(),
        size: size0,
        start_lsn,
    }];
    // Siblings ib_logfile1.. (not for 10.5+, which uses one file).
    if format != RedoFormat::MariaDb105
        && logfile_number(path0) == Some(0)
        && let Some(dir) = path0.parent()
    {
        for n in 1u64.. {
            let p = dir.join(log_file_name(n));
            let Ok(m) = fs::metadata(&p) else { break };
            if !m.is_file() {
                break;
            }
            if m.len() != size0 {
                return Err(Error::Layout {
                    path: p,
                    what: format!(
                        "redo log files differ in size ({} vs {size0} bytes of ib_logfile0)",
                        m.len()
                    ),
                });
            }
            let (_, _, h) = open_head(&p, 512)?;
            let sl = FileHeader::parse(&h).map_or(Lsn::ZERO, |h| h.start_lsn());
            files.push(RedoFile {
                path: p,
                size: m.len(),
                start_lsn: sl,
            });
        }
    }
    let checkpoints = slots_from(format, 0, head, start_lsn, None);
    let (checkpoint, checkpoint_file) = select_slot(format, &checkpoints, &files)?;
    let geom = RingGeometry::new(
        size0,
        files.len() as u64,
        checkpoint.lsn,
        checkpoint.offset.unwrap_or(0),
    )
    .map_err(|e| redo_err(path0, checkpoint.block_offset, e))?;
    let handles: Vec<File> = files
        .iter()
        .map(|f| File::open(&f.path).map_err(|e| Error::io(&f.path, 0, e)))
        .collect::<Result<_, _>>()?;
    let rules = ScanRules::for_format(format, geom.capacity() / BLOCK_SIZE);
    let scan = block::scan(checkpoint.lsn, rules, |l, buf| {
        let (i, off) = geom.locate(lsn(l));
        let i = usize::try_from(i).unwrap_or(usize::MAX);
        match (handles.get(i), files.get(i)) {
            (Some(h), Some(f)) => Ok(read_at(h, &f.path, off, buf)? == buf.len()),
            _ => Ok::<bool, Error>(false),
        }
    })?;
    let end = block_end(scan);
    Ok(RedoLog {
        format,
        format_word: hdr.format_word(),
        encryption: hdr.encryption(),
        creator: hdr.creator(),
        start_lsn,
        checkpoint,
        checkpoint_file,
        checkpoints,
        files,
        capacity: geom.capacity(),
        end,
    })
}

fn block_end(scan: block::BlockScan) -> LogEnd {
    match scan.end_lsn {
        Some(l) => LogEnd::Scanned {
            lsn: l,
            stop: StopReason::Block(scan.stop),
            units: scan.valid_blocks,
        },
        None => LogEnd::Unknown {
            why: if scan.valid_blocks == 0 {
                "the block holding the checkpoint LSN is missing or not valid (truncated copy?)"
            } else {
                "the valid blocks end before the checkpoint LSN"
            },
        },
    }
}

/// MySQL 8.0.30+: `#ib_redoN` files of `dir`.
fn open_8030(dir: &Path, paths: Vec<PathBuf>) -> Result<RedoLog, Error> {
    let mut uuid: Option<u32> = None;
    let mut opened = Vec::new();
    for p in paths {
        opened.push(open_8030_file(p, &mut uuid)?);
    }
    if opened.is_empty() {
        return Err(Error::Layout {
            path: dir.to_path_buf(),
            what: "no #ib_redoN file".into(),
        });
    }
    // LSN order.
    opened.sort_by_key(|(f, _)| f.start_lsn);
    let (files, ones): (Vec<RedoFile>, Vec<Open8030>) = opened.into_iter().unzip();
    let mut checkpoints = Vec::new();
    for (i, (f, one)) in files.iter().zip(&ones).enumerate() {
        checkpoints.extend(slots_from(
            RedoFormat::MySql8030,
            i,
            &one.head,
            f.start_lsn,
            Some(f.size),
        ));
    }
    let (checkpoint, checkpoint_file) = select_slot(RedoFormat::MySql8030, &checkpoints, &files)?;
    let main = FileHeader::parse(&ones[checkpoint_file].head)
        .map_err(|e| redo_err(&files[checkpoint_file].path, 0, e))?;
    let capacity: u64 = files
        .iter()
        .map(|f| f.size - LOG_FILE_HDR_SIZE)
        .fold(0u64, u64::saturating_add);
    let scan = scan_8030(&files, &ones, checkpoint.lsn, capacity)?;
    Ok(RedoLog {
        format: RedoFormat::MySql8030,
        format_word: main.format_word(),
        encryption: main.encryption(),
        creator: main.creator(),
        start_lsn: main.start_lsn(),
        checkpoint,
        checkpoint_file,
        checkpoints,
        files,
        capacity,
        end: block_end(scan),
    })
}

/// An open `#ib_redoN` file and its header bytes.
struct Open8030 {
    file: File,
    head: Vec<u8>,
}

/// Opens the `#ib_redoN` file `p` and checks its header; `uuid` is the log UUID of the files
/// opened before (set by the first one).
fn open_8030_file(p: PathBuf, uuid: &mut Option<u32>) -> Result<(RedoFile, Open8030), Error> {
    let (file, size, head) = open_head(&p, LOG_FILE_HDR_SIZE as usize)?;
    let hdr = FileHeader::parse(&head).map_err(|e| redo_err(&p, 0, e))?;
    check_8030_header(&p, &hdr, size, uuid)?;
    let start_lsn = hdr.start_lsn();
    let redo_file = RedoFile {
        path: p,
        size,
        start_lsn,
    };
    Ok((redo_file, Open8030 { file, head }))
}

/// The checks of one `#ib_redoN` file of `size` bytes: its format, its log UUID (the same as
/// `uuid`, the other files'), the alignment of its start LSN and of its size.
fn check_8030_header(
    p: &Path,
    hdr: &FileHeader<'_>,
    size: u64,
    uuid: &mut Option<u32>,
) -> Result<(), Error> {
    if hdr.format() != RedoFormat::MySql8030 {
        return Err(redo_err(
            p,
            0,
            RedoError::BadField {
                what: "format word",
                value: hdr.format_word().into(),
                why: "a #ib_redoN file must have format 6 (MySQL 8.0.30+)",
            },
        ));
    }
    let u = hdr.subformat();
    if *uuid.get_or_insert(u) != u {
        return Err(redo_err(
            p,
            4,
            RedoError::BadGeometry {
                why: "log UUID differs from the other #ib_redoN files",
                value: u.into(),
            },
        ));
    }
    let start = hdr.start_lsn();
    if !start.get().is_multiple_of(BLOCK_SIZE) {
        return Err(redo_err(
            p,
            8,
            RedoError::BadField {
                what: "start LSN",
                value: start.get(),
                why: "must be a multiple of 512",
            },
        ));
    }
    if size < LOG_FILE_HDR_SIZE + BLOCK_SIZE || !size.is_multiple_of(BLOCK_SIZE) {
        return Err(redo_err(
            p,
            size,
            RedoError::BadGeometry {
                why: "#ib_redoN size must be a multiple of 512 above 2048",
                value: size,
            },
        ));
    }
    Ok(())
}

/// Scans the `#ib_redoN` files (in LSN order, `capacity` bytes of data in all) from the
/// checkpoint LSN `from` for the end of the log.
fn scan_8030(
    files: &[RedoFile],
    ones: &[Open8030],
    from: Lsn,
    capacity: u64,
) -> Result<block::BlockScan, Error> {
    let rules = ScanRules::for_format(RedoFormat::MySql8030, capacity / BLOCK_SIZE);
    block::scan(from, rules, |l, buf| {
        for (f, one) in files.iter().zip(ones) {
            let s = f.start_lsn.get();
            let data = f.size - LOG_FILE_HDR_SIZE;
            if l >= s && l - s < data {
                let off = LOG_FILE_HDR_SIZE + (l - s);
                return Ok(read_at(&one.file, &f.path, off, buf)? == buf.len());
            }
        }
        Ok::<bool, Error>(false)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(logfile_number(Path::new("/x/ib_logfile0")), Some(0));
        assert_eq!(logfile_number(Path::new("ib_logfile12")), Some(12));
        assert_eq!(logfile_number(Path::new("ib_logfile0.head16k")), None);
        assert_eq!(logfile_number(Path::new("ib_logfile")), None);
        assert_eq!(redo_file_number("#ib_redo7"), Some(7));
        assert_eq!(redo_file_number("#ib_redo7_tmp"), None);
        assert_eq!(redo_file_number("#ib_redo"), None);
    }
}
