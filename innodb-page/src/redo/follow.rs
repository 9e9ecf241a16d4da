//! Following the redo log of a **running** MariaDB 10.8+ server (`ib_logfile0`), read-only.
//!
//! A [`Follower`] starts at an mtr boundary (the current checkpoint, or an LSN recorded
//! earlier) and, on each [`poll`](Follower::poll), hands every complete, valid mini-transaction
//! written since the last poll to a visitor, in LSN order, with its start and end LSN, its
//! bytes as stored in the log ([`FollowedMtr::as_bytes`]: what a writer appends to another log
//! to reproduce it) and its records (for the pages it changes). It opens the file with
//! `O_RDONLY` and never writes anything.
//!
//! ```no_run
//! use innodb_page::redo::follow::{FollowOptions, Follower};
//! # fn main() -> Result<(), innodb_page::redo::follow::FollowError> {
//! let mut f = Follower::at_checkpoint("/var/lib/mysql".as_ref(), FollowOptions::default())?;
//! loop {
//!     let polled = f.poll(None, |m| {
//!         for rec in m.records()? {
//!             if let Ok(Some(page)) = rec.map(|r| r.changed_page()) {
//!                 println!("{} changed at {}", page, m.end_lsn());
//!             }
//!         }
//!         Ok::<(), innodb_page::redo::follow::FollowError>(())
//!     })?;
//!     println!("read up to {} (checkpoint {})", polled.to, polled.checkpoint.lsn);
//!     std::thread::sleep(std::time::Duration::from_millis(200));
//! }
//! # }
//! ```
//!
//! # One poll
//!
//! The log is a ring of `capacity` bytes: the byte of LSN `x` is overwritten when the server
//! writes LSN `x + capacity`. A poll repeats, a batch at a time (at most
//! [`FollowOptions::batch_bytes`] of mtrs, kept in memory):
//!
//! 1. read the header and both checkpoint blocks: the newest checkpoint `C₁`;
//! 2. read mtrs from our position `S` (sequence bit and CRC-32C of each checked, the ring
//!    followed across its end) into the batch, until the log ends (for now) at `L`, the batch
//!    is full, or the target LSN is reached;
//! 3. settle the tail of the batch (below): the mtrs in the last write block the read reached
//!    are read again and kept only as far as both reads agree;
//! 4. read the checkpoint again: `C₂`. If `C₂ > S + capacity` the batch is dropped and the
//!    poll fails with [`FollowError::Overtaken`]; otherwise the batch is handed to the visitor;
//! 5. if the log ended at `L < C₁`: read from `L` once more, and if it still ends there,
//!    [`FollowError::Overtaken`]; if `L < C₂`, go to 1 (the server wrote more meanwhile);
//!    otherwise the poll is done.
//!
//! # Why a delivered mtr is never from another lap
//!
//! The server never lets its write position `E` get more than `capacity` past its newest
//! checkpoint: before it writes LSN `w` it has made durable a checkpoint `C ≥ w − capacity`
//! (otherwise its own crash recovery, which starts at the checkpoint, would read overwritten
//! log; MariaDB reports a violation as an error). The checkpoint block is written before the
//! log bytes it allows, and we read the checkpoint (step 3) after the log bytes (step 2), so
//! `C₂` is at least every checkpoint that allowed a write we may have seen: when we read,
//! `E ≤ C₂ + capacity`.
//!
//! * Bytes from the **next** lap at the position of LSN `z` belong to LSN `z + capacity`;
//!   their end byte is the sequence bit of the next lap, the opposite of the one expected at
//!   `z`, so the reader stops there (an mtr read while it was being overwritten mixes laps and
//!   fails its CRC). Those bytes never pass as LSN `z`.
//! * Bytes from **two or more** laps later would pass the sequence bit, but they require
//!   `E > z + 2·capacity ≥ S + 2·capacity`, i.e. `C₂ ≥ E − capacity > S + capacity`: exactly the
//!   case step 3 refuses before delivering anything.
//!
//! So every mtr handed to the visitor was read from the lap its LSN says, and it starts where
//! the previous one ended (the chain of mtrs from a known boundary is contiguous).
//!
//! # Why the tail of a read is read again
//!
//! The lap argument says which lap bytes are from, not that they are the server's final bytes
//! for their LSN. MariaDB 10.8+ writes its log in whole blocks of the storage's physical block
//! size (512 to 4096 bytes, aligned in the file). The last block of a write is only partly
//! filled: the server puts a 0 byte after the last mtr (so that a reader stops there) and
//! writes the rest of the block with whatever its buffer held, which is older log: complete
//! older mtrs, at other LSNs. The next write rewrites that block with the same bytes up to the
//! old end and new mtrs after it. So the bytes of an LSN take, within one lap: the previous
//! lap's, then possibly garbage (several versions), then their final value, which never
//! changes again in this lap.
//!
//! A read racing such a rewrite (neither `pread` nor the page cache make a concurrent write
//! atomic for a reader) can see the new bytes up to some point and the previous version after
//! it: the chain goes through the new mtrs, past the old 0 byte, into the old garbage, and if
//! the garbage holds an older mtr starting exactly there, that mtr passes every check (its
//! CRC covers its records only, not its LSN, and its end byte has the sequence bit of the lap)
//! and would be delivered at an LSN it does not belong to. The position after it is no mtr
//! boundary: the next reads stop there, until the checkpoint passes it and the follower
//! reports [`FollowError::Overtaken`] for a log that was never overwritten (and every mtr it
//! hid would be lost to the visitor). Hence:
//!
//! * Garbage only ever lies in the block that was the last one of some write, after that
//!   write's end; a stale mtr lies within one such block, and the chain after it (garbage too)
//!   almost always breaks within that block. So a read can only have gone wrong in the mtrs
//!   **starting in the write block where it stopped** (4 KiB blocks are taken, which contain
//!   the server's blocks of any size). Mtrs ending at or below the end LSN of the checkpoint
//!   read before the read (`C₁`'s `FILE_CHECKPOINT` position) are final: the server writes a
//!   checkpoint block only after the log up to there was written.
//! * Those tail mtrs are read again after a pause (5 ms) and kept only as far as the
//!   two reads agree byte for byte, at the same LSNs. Final bytes never change, so a true mtr
//!   reads the same twice; a stale one was read while a write was replacing it, and once that
//!   write is done its bytes there are new mtrs or the new 0 byte, not the garbage again. The
//!   mtrs after the first disagreement are read again by the next batch. (The reads could only
//!   agree on garbage if the same write stayed half done across the pause.) A batch cut short
//!   because it is full keeps its tail mtrs for the next batch instead, which reads them again
//!   and further.
//! * A read that ends below `C₁` is read once more before the follower concludes that the log
//!   was overwritten (below).
//!
//! Hot backups also bound their reads by the server's flushed LSN; `xb track` has no server
//! connection, and relies on this alone.
//!
//! # Why "the log ends at `L < C₁`" means it was overwritten
//!
//! A checkpoint is only written after the log up to it has been written to the file. `C₁` was
//! read before the mtrs, so every byte below `C₁` was in the file before we read it. A valid
//! mtr chain from `S` reaching `C₁` was therefore there to read; if the chain stops at
//! `L < C₁`, the bytes at `L` were replaced, which only happens when the server writes the lap
//! after it: the follower fell more than `capacity` bytes behind the server. (Corrupt log
//! bytes would look the same; the server would not be able to recover either.) A stop at
//! `C₁ ≤ L < C₂` is not conclusive (the server may have written `L` after we read it), so the
//! poll reads again from `L` with the newer checkpoint as `C₁`.
//!
//! # A replaced log
//!
//! The server replaces `ib_logfile0` when it resizes the log online (MariaDB 10.11: it writes
//! `ib_logfile101`, then renames it over `ib_logfile0`) or rebuilds it at startup; the new file
//! has a new `first_lsn` (and maybe size). Each poll compares the path's device, inode and size
//! with the open file. When they differ, the new file is opened; the old one stays open (a
//! renamed-over file can still be read) and is read up to the new file's `first_lsn`, then the
//! follower switches. If the old file no longer holds our position, or the new one does not
//! hold it either, the poll fails with [`FollowError::Gap`].
//!
//! # Encrypted logs
//!
//! Framing works for every MariaDB 10.8+ log, encrypted or not. Page ids are in clear in plain
//! logs and in old-style encrypted ones, but not in `FORMAT_ENC_11` logs; a follower created
//! with [`Needs::PageIds`] (the default) refuses those with [`FollowError::EncryptedPageIds`],
//! unless it was given the server's key 1 ([`FollowOptions::decrypt_with`]): it then derives
//! the log key of each log file it opens from the file's header, checks it against the
//! checkpoint's FILE_CHECKPOINT record ([`FollowError::WrongKey`]), and
//! [`FollowedMtr::records`] decodes the decrypted records. With [`Needs::Framing`] and no key it
//! follows them, and [`FollowedMtr::records`] fails instead.

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use thiserror::Error;

use super::checkpoint::{self, Checkpoint, MARIADB_108_CHECKPOINT_1, MARIADB_108_CHECKPOINT_2};
use super::crypt::{LogCipher, ServerKey};
use super::format::{Encryption, RedoFormat};
use super::header::{FileHeader, HEADER_BLOCK_SIZE};
use super::mtr::{LogGeometry, MtrReader, RecordArea, ScanStop, NONCE_LEN, START_OFFSET};
use super::record::LogRecords;
use super::RedoError;
use crate::crypto::cipher::Mode;
use crate::Lsn;

/// What the caller needs from the mtrs, which decides whether new-style encrypted logs are
/// accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Needs {
    /// The page ids of the records (change tracking): `FORMAT_ENC_11` logs are refused.
    PageIds,
    /// Only the framing (start/end LSN and bytes of each mtr, e.g. to copy the log): every
    /// MariaDB 10.8+ log is accepted; [`FollowedMtr::records`] fails on `FORMAT_ENC_11`.
    Framing,
}

/// Settings of a [`Follower`].
///
/// ```
/// use innodb_page::redo::follow::{FollowOptions, Needs};
/// let o = FollowOptions::default().needs(Needs::Framing).batch_bytes(1 << 20);
/// assert_eq!(o.get_needs(), Needs::Framing);
/// assert_eq!(o.get_batch_bytes(), 1 << 20);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct FollowOptions {
    needs: Needs,
    batch_bytes: usize,
    poll_budget: u64,
    key: Option<(ServerKey, Mode)>,
}

impl Default for FollowOptions {
    fn default() -> FollowOptions {
        FollowOptions {
            needs: Needs::PageIds,
            batch_bytes: 4 << 20,
            poll_budget: 256 << 20,
            key: None,
        }
    }
}

impl FollowOptions {
    /// What the caller needs (default [`Needs::PageIds`]).
    pub fn needs(mut self, needs: Needs) -> FollowOptions {
        self.needs = needs;
        self
    }

    /// Bytes of mtrs read and checked before they are handed to the visitor (default 4 MiB;
    /// one mtr is always allowed, whatever its size).
    pub fn batch_bytes(mut self, bytes: usize) -> FollowOptions {
        self.batch_bytes = bytes.max(1);
        self
    }

    /// Bytes after which one [`poll`](Follower::poll) returns ([`PollStop::Budget`]) even if
    /// the server keeps writing (default 256 MiB), so the caller regains control regularly.
    pub fn poll_budget(mut self, bytes: u64) -> FollowOptions {
        self.poll_budget = bytes.max(1);
        self
    }

    /// Decrypts the records of an encrypted log with the log key derived from `key` (the
    /// server's key 1, of the version the log header names) in `mode` (the server's
    /// `file_key_management_encryption_algorithm`), so that [`Needs::PageIds`] accepts
    /// `FORMAT_ENC_11` logs. Plain logs are read as without it.
    pub fn decrypt_with(mut self, key: ServerKey, mode: Mode) -> FollowOptions {
        self.key = Some((key, mode));
        self
    }

    /// The key and mode set with [`decrypt_with`](Self::decrypt_with).
    pub fn get_decryption(&self) -> Option<(ServerKey, Mode)> {
        self.key
    }

    /// The [`Needs`] set.
    pub fn get_needs(&self) -> Needs {
        self.needs
    }

    /// The batch size set.
    pub fn get_batch_bytes(&self) -> usize {
        self.batch_bytes
    }

    /// The poll budget set.
    pub fn get_poll_budget(&self) -> u64 {
        self.poll_budget
    }
}

/// Why a [`Follower`] cannot continue.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum FollowError {
    /// Reading the log failed.
    #[error("{}: I/O error at offset {offset}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Byte offset of the failed read.
        offset: u64,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The header or the checkpoint blocks cannot be read.
    #[error("{}: at offset {offset}: {source}", path.display())]
    Redo {
        /// The file.
        path: PathBuf,
        /// Byte offset of the structure.
        offset: u64,
        /// What is wrong.
        #[source]
        source: RedoError,
    },
    /// Not a MariaDB 10.8+ log.
    #[error(
        "{}: redo log format {format} cannot be followed: only MariaDB 10.8+ logs (format \
         mariadb-10.8) are supported",
        path.display()
    )]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// The format found ([`RedoFormat::name`]).
        format: &'static str,
    },
    /// A `FORMAT_ENC_11` log, and the page ids were needed.
    #[error(
        "{}: the redo log is encrypted (innodb_encrypt_log, new-style FORMAT_ENC_11): the \
         page ids of its records cannot be read without the encryption key; turn log \
         encryption off to track changed pages, or use a full page scan",
        path.display()
    )]
    EncryptedPageIds {
        /// The file.
        path: PathBuf,
    },
    /// The key given with [`FollowOptions::decrypt_with`] does not decrypt the log: the
    /// FILE_CHECKPOINT record of the checkpoint does not decrypt to the checkpoint LSN.
    #[error(
        "{}: the encryption key does not decrypt the redo log (the FILE_CHECKPOINT record of \
         checkpoint {checkpoint} does not decrypt to it): wrong key 1 or wrong key file",
        path.display()
    )]
    WrongKey {
        /// The file.
        path: PathBuf,
        /// The checkpoint whose record was tried.
        checkpoint: Lsn,
    },
    /// The start LSN asked for is not (or no longer) in the log.
    #[error(
        "{}: LSN {lsn} is not in the redo log (first LSN {first_lsn}, checkpoint {checkpoint}): \
         {why}",
        path.display()
    )]
    NotInLog {
        /// The file.
        path: PathBuf,
        /// The LSN asked for.
        lsn: Lsn,
        /// The log's first LSN.
        first_lsn: Lsn,
        /// The log's current checkpoint LSN.
        checkpoint: Lsn,
        /// Why.
        why: String,
    },
    /// The server overwrote log that had not been read yet.
    #[error(
        "{}: redo log overwritten before it was read: the follower is at LSN {lsn} but the \
         server's checkpoint is already at {checkpoint}; it fell more than the log capacity \
         ({capacity} bytes) behind the server. Make the log larger (innodb_log_file_size) or \
         read it more often",
        path.display()
    )]
    Overtaken {
        /// Where the follower is (everything before it was delivered and is sound).
        lsn: Lsn,
        /// The server's checkpoint LSN that proves the overwrite.
        checkpoint: Lsn,
        /// The log capacity in bytes.
        capacity: u64,
        /// The file.
        path: PathBuf,
    },
    /// The log was replaced (resized, rebuilt) and the follower's position is in neither the
    /// old file nor the new one.
    #[error(
        "{}: the redo log was replaced and LSN {lsn} is lost: {why} (new log starts at \
         {first_lsn})",
        path.display()
    )]
    Gap {
        /// The file.
        path: PathBuf,
        /// Where the follower is.
        lsn: Lsn,
        /// The new log's first LSN.
        first_lsn: Lsn,
        /// Why.
        why: String,
    },
}

impl FollowError {
    fn io(path: &Path, offset: u64, source: io::Error) -> FollowError {
        FollowError::Io {
            path: path.to_path_buf(),
            offset,
            source,
        }
    }

    fn redo(path: &Path, offset: u64, source: RedoError) -> FollowError {
        FollowError::Redo {
            path: path.to_path_buf(),
            offset,
            source,
        }
    }
}

/// Counters of a [`Follower`], e.g. to measure throughput.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FollowStats {
    /// Bytes of mtrs delivered (records and trailers).
    pub bytes: u64,
    /// Mtrs delivered.
    pub mtrs: u64,
    /// Calls to [`Follower::poll`].
    pub polls: u64,
    /// Batches read.
    pub batches: u64,
    /// Times the header and checkpoint blocks were read.
    pub state_reads: u64,
    /// Times the follower switched to a replaced log file.
    pub reopens: u64,
}

/// Why a [`Follower::poll`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PollStop {
    /// Every mtr written so far was read (the log ends at [`Polled::to`] for now).
    CaughtUp,
    /// The target LSN was reached: [`Polled::to`] ≤ target, and the next mtr (if any) ends
    /// past it. `to == target` when the target is an mtr boundary.
    Until,
    /// [`FollowOptions::poll_budget`] bytes were read; more may be waiting.
    Budget,
}

/// What one [`Follower::poll`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Polled {
    /// Position before the poll.
    pub from: Lsn,
    /// Position after it: the end LSN of the last mtr delivered (or `from`).
    pub to: Lsn,
    /// Mtrs delivered.
    pub mtrs: u64,
    /// Bytes delivered.
    pub bytes: u64,
    /// The server's newest checkpoint, read at the end of the poll.
    pub checkpoint: Checkpoint,
    /// Why the poll returned.
    pub stop: PollStop,
}

/// One mini-transaction handed to the visitor of [`Follower::poll`].
#[derive(Debug, Clone, Copy)]
pub struct FollowedMtr<'a> {
    start: Lsn,
    bytes: &'a [u8],
    records_len: usize,
    hides_ids: bool,
    plain: Option<&'a [u8]>,
    path: &'a Path,
}

impl<'a> FollowedMtr<'a> {
    /// LSN of its first byte.
    pub fn start_lsn(&self) -> Lsn {
        self.start
    }

    /// LSN just past it: where the next mtr starts, and the FIL_PAGE_LSN of the pages it
    /// changed.
    pub fn end_lsn(&self) -> Lsn {
        Lsn::new(self.start.get() + self.bytes.len() as u64)
    }

    /// Its length in bytes (records, end byte, nonce if encrypted, CRC).
    pub fn len(&self) -> u64 {
        self.bytes.len() as u64
    }

    /// Always false; present for symmetry with [`len`](FollowedMtr::len).
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The mtr exactly as stored in the log: record bytes, end byte (the sequence bit), the
    /// nonce of encrypted logs, and the CRC-32C. Written at [`start_lsn`](Self::start_lsn)
    /// of another log they reproduce it; the end byte must then be that log's sequence bit
    /// at the end byte's LSN (the CRC does not cover it), which is the same byte when the
    /// other log has the same first LSN and capacity.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The record bytes (before the end byte).
    pub fn record_bytes(&self) -> &'a [u8] {
        self.bytes.get(..self.records_len).unwrap_or(&[])
    }

    /// The decrypted record bytes, when the follower decrypts (an encrypted log and
    /// [`FollowOptions::decrypt_with`]); `None` otherwise.
    pub fn plain_records(&self) -> Option<&'a [u8]> {
        self.plain
    }

    /// The records, decoded to page ids and file operations (decrypted when the follower has
    /// a key). Fails with [`FollowError::EncryptedPageIds`] in a `FORMAT_ENC_11` log read
    /// without a key (the ids are encrypted).
    pub fn records(&self) -> Result<LogRecords<'a>, FollowError> {
        if let Some(plain) = self.plain {
            return Ok(LogRecords::new(plain));
        }
        if self.hides_ids {
            return Err(FollowError::EncryptedPageIds {
                path: self.path.to_path_buf(),
            });
        }
        Ok(LogRecords::new(self.record_bytes()))
    }
}

/// A [`RecordArea`] over an open `ib_logfile0`, read with `pread`.
struct FileArea<'a>(&'a File);

impl RecordArea for FileArea<'_> {
    fn read_area(&mut self, pos: u64, buf: &mut [u8]) -> io::Result<usize> {
        let Some(base) = START_OFFSET.checked_add(pos) else {
            return Ok(0);
        };
        let got = read_full(self.0, base, buf)?;
        #[cfg(test)]
        tests::tamper(pos, buf.get_mut(..got).unwrap_or_default());
        Ok(got)
    }
}

/// The largest block the server writes its log in. MariaDB 10.8+ writes whole blocks of the
/// storage's physical block size (512 to 4096 bytes), aligned in the file; the last one,
/// partly filled, is rewritten as the log grows (see the [module docs](self)).
const WRITE_BLOCK: u64 = 4096;

/// Pause before the tail of a read is read again (see the [module docs](self)).
const TAIL_PAUSE: Duration = Duration::from_millis(5);

/// The LSN where the write block holding the byte before `end` starts (not before the start
/// of the record area in the file, where the ring wraps).
fn tail_block_start(geom: LogGeometry, end: Lsn) -> Lsn {
    let last = end.get().saturating_sub(1);
    let Some(off) = geom.file_offset(Lsn::new(last)) else {
        return end;
    };
    let block = (off & !(WRITE_BLOCK - 1)).max(START_OFFSET);
    Lsn::new(last - (off - block))
}

/// Reads up to `buf.len()` bytes at `offset`; fewer only at end of file.
fn read_full(file: &File, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], offset.saturating_add(done as u64)) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// Bytes read for the header and both checkpoint blocks.
const STATE_LEN: usize = (MARIADB_108_CHECKPOINT_2 as usize) + 64;

/// An open log file and what its header says.
#[derive(Debug)]
struct LogFile {
    path: PathBuf,
    file: File,
    dev: u64,
    ino: u64,
    size: u64,
    first_lsn: Lsn,
    geom: LogGeometry,
    encryption: Encryption,
    header: Vec<u8>,
    cipher: Option<LogCipher>,
}

/// The header facts and newest checkpoint of one read of the state.
#[derive(Debug, Clone, Copy)]
struct State {
    first_lsn: Lsn,
    checkpoint: Checkpoint,
}

impl LogFile {
    fn open(path: &Path, key: Option<(ServerKey, Mode)>) -> Result<LogFile, FollowError> {
        let file = File::open(path).map_err(|e| FollowError::io(path, 0, e))?;
        let meta = file.metadata().map_err(|e| FollowError::io(path, 0, e))?;
        let mut head = vec![0u8; STATE_LEN];
        let got = read_full(&file, 0, &mut head).map_err(|e| FollowError::io(path, 0, e))?;
        head.truncate(got);
        let hdr = FileHeader::parse(&head).map_err(|e| FollowError::redo(path, 0, e))?;
        if hdr.format() != RedoFormat::MariaDb108 {
            return Err(FollowError::Unsupported {
                path: path.to_path_buf(),
                format: hdr.format().name(),
            });
        }
        let encryption = hdr.encryption();
        let first_lsn = hdr.start_lsn();
        let geom = LogGeometry::from_file_size(first_lsn, meta.len(), encryption.has_mtr_nonce())
            .map_err(|e| FollowError::redo(path, meta.len(), e))?;
        let header = head.get(..HEADER_BLOCK_SIZE).unwrap_or(&[]).to_vec();
        let cipher = match key {
            Some((k, mode)) => LogCipher::for_header(&k, mode, &hdr)
                .map_err(|e| FollowError::redo(path, 0, RedoError::Crypt(e)))?,
            None => None,
        };
        Ok(LogFile {
            path: path.to_path_buf(),
            file,
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.len(),
            first_lsn,
            geom,
            encryption,
            header,
            cipher,
        })
    }

    fn capacity(&self) -> u64 {
        self.geom.capacity()
    }

    /// Reads the header and the checkpoint blocks again (through the open file, whatever the
    /// path now points to). A torn read of a checkpoint block being written is retried.
    fn state(&self, stats: &mut FollowStats) -> Result<State, FollowError> {
        let mut buf = vec![0u8; STATE_LEN];
        let mut attempt = 0;
        loop {
            stats.state_reads += 1;
            let got = read_full(&self.file, 0, &mut buf)
                .map_err(|e| FollowError::io(&self.path, 0, e))?;
            let head = buf.get(..got).unwrap_or(&[]);
            let hdr = FileHeader::parse(head).map_err(|e| FollowError::redo(&self.path, 0, e));
            let parsed = hdr.and_then(|hdr| {
                let first_lsn = hdr.start_lsn();
                let cands: Vec<_> = [MARIADB_108_CHECKPOINT_1, MARIADB_108_CHECKPOINT_2]
                    .into_iter()
                    .map(|off| {
                        let block = head.get(off as usize..).unwrap_or(&[]);
                        checkpoint::parse(RedoFormat::MariaDb108, block, off, first_lsn, None)
                    })
                    .collect();
                checkpoint::select(RedoFormat::MariaDb108, &cands)
                    .map(|checkpoint| State {
                        first_lsn,
                        checkpoint,
                    })
                    .map_err(|e| FollowError::redo(&self.path, MARIADB_108_CHECKPOINT_1, e))
            });
            match parsed {
                Ok(s) => return Ok(s),
                Err(e) if attempt >= 3 => return Err(e),
                Err(_) => {
                    attempt += 1;
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
            }
        }
    }

    /// Whether `path` still names this file (same device, inode and size).
    fn is_current(&self) -> Result<bool, FollowError> {
        match fs::metadata(&self.path) {
            Ok(m) => Ok(m.dev() == self.dev && m.ino() == self.ino && m.len() == self.size),
            Err(e) => Err(FollowError::io(&self.path, 0, e)),
        }
    }
}

/// How a batch read ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BatchEnd {
    /// The log ends here for now.
    End(ScanStop),
    /// The target LSN.
    Until,
    /// The batch is full.
    Full,
    /// The position reached the first LSN of the replacement file.
    Switch,
}

/// The mtrs of one batch: their bytes back to back, and (start LSN, offset, length, records
/// length) of each.
#[derive(Debug, Default)]
struct Batch {
    bytes: Vec<u8>,
    index: Vec<(u64, usize, usize, usize)>,
}

/// Follows a live MariaDB 10.8+ redo log. See the [module docs](self) for the protocol and
/// why what it delivers is sound.
#[derive(Debug)]
pub struct Follower {
    opts: FollowOptions,
    cur: LogFile,
    pending: Option<LogFile>,
    lsn: Lsn,
    checkpoint: Checkpoint,
    stats: FollowStats,
    batch: Batch,
    plain: Vec<u8>,
}

/// `ib_logfile0` of a datadir, or the path itself if it is a file.
fn log_path(path: &Path) -> PathBuf {
    if path.is_dir() {
        super::file::log_file_path(path)
    } else {
        path.to_path_buf()
    }
}

impl Follower {
    /// A follower starting at the server's newest checkpoint. `path` is `ib_logfile0` or the
    /// directory holding it.
    pub fn at_checkpoint(path: &Path, opts: FollowOptions) -> Result<Follower, FollowError> {
        let mut stats = FollowStats::default();
        let cur = LogFile::open(&log_path(path), opts.key)?;
        check_needs(&cur, opts)?;
        let state = cur.state(&mut stats)?;
        check_key(&cur, state.checkpoint)?;
        Ok(Follower {
            opts,
            lsn: state.checkpoint.lsn,
            checkpoint: state.checkpoint,
            cur,
            pending: None,
            stats,
            batch: Batch::default(),
            plain: Vec::new(),
        })
    }

    /// A follower starting at `lsn`, which must be an mtr boundary still present in the log
    /// (e.g. where an earlier follower stopped). Checks, reading the log between `lsn` and the
    /// checkpoint, that a valid chain of mtrs links them; fails with
    /// [`FollowError::NotInLog`] when `lsn` is before the log's first LSN, was overwritten, is
    /// not an mtr boundary, or lies beyond the end of the log.
    pub fn at_lsn(path: &Path, lsn: Lsn, opts: FollowOptions) -> Result<Follower, FollowError> {
        let mut stats = FollowStats::default();
        let cur = LogFile::open(&log_path(path), opts.key)?;
        check_needs(&cur, opts)?;
        let state = cur.state(&mut stats)?;
        check_key(&cur, state.checkpoint)?;
        check_position(&cur, lsn, &mut stats)?;
        Ok(Follower {
            opts,
            lsn,
            checkpoint: state.checkpoint,
            cur,
            pending: None,
            stats,
            batch: Batch::default(),
            plain: Vec::new(),
        })
    }

    /// Where the next mtr starts: everything before it was delivered.
    pub fn lsn(&self) -> Lsn {
        self.lsn
    }

    /// The newest checkpoint seen (by the last poll or [`refresh`](Self::refresh)).
    pub fn checkpoint(&self) -> Checkpoint {
        self.checkpoint
    }

    /// Reads the header and checkpoint blocks again and returns the newest checkpoint.
    pub fn refresh(&mut self) -> Result<Checkpoint, FollowError> {
        let log = self.pending.as_ref().unwrap_or(&self.cur);
        let st = log.state(&mut self.stats)?;
        self.checkpoint = st.checkpoint;
        Ok(st.checkpoint)
    }

    /// The counters.
    pub fn stats(&self) -> FollowStats {
        self.stats
    }

    /// The file being read.
    pub fn path(&self) -> &Path {
        &self.cur.path
    }

    /// The geometry (first LSN, capacity, nonce) of the file being read.
    pub fn geometry(&self) -> LogGeometry {
        self.cur.geom
    }

    /// The encryption of the file being read.
    pub fn encryption(&self) -> Encryption {
        self.cur.encryption
    }

    /// The 512-byte header block of the file being read (format, first LSN, creator,
    /// encryption header, CRC), as read when it was opened.
    pub fn header_block(&self) -> &[u8] {
        &self.cur.header
    }

    /// Reads every complete, valid mtr available now, from [`lsn`](Self::lsn) on, and hands
    /// each to `visit` in LSN order. Stops before any mtr that would end past `until`.
    ///
    /// A visitor error stops the poll and is returned; the position is then the start of the
    /// mtr it refused (the mtrs before it count as delivered). After a [`FollowError`] the
    /// follower should be dropped (its position still says how far the delivered data goes).
    pub fn poll<E, F>(&mut self, until: Option<Lsn>, mut visit: F) -> Result<Polled, E>
    where
        E: From<FollowError>,
        F: FnMut(&FollowedMtr<'_>) -> Result<(), E>,
    {
        self.stats.polls += 1;
        let from = self.lsn;
        let (mtrs0, bytes0) = (self.stats.mtrs, self.stats.bytes);
        let done = |s: &Follower, stop| Polled {
            from,
            to: s.lsn,
            mtrs: s.stats.mtrs - mtrs0,
            bytes: s.stats.bytes - bytes0,
            checkpoint: s.checkpoint,
            stop,
        };
        // Where a stop below the checkpoint was read once already (see `settle_tail`).
        let mut rechecked: Option<Lsn> = None;
        // Batches in a row whose tail two reads disagreed on.
        let mut unsettled = 0u32;
        loop {
            self.follow_replacement()?;
            let pre = self.cur.state(&mut self.stats)?;
            self.checkpoint = pre.checkpoint;
            if pre.first_lsn != self.cur.first_lsn {
                return Err(FollowError::Gap {
                    path: self.cur.path.clone(),
                    lsn: self.lsn,
                    first_lsn: pre.first_lsn,
                    why: "the log file was rewritten in place".into(),
                }
                .into());
            }
            self.check_lap(self.lsn, pre.checkpoint.lsn)?;
            if until.is_some_and(|u| self.lsn >= u) {
                return Ok(done(self, PollStop::Until));
            }
            if self.stats.bytes - bytes0 >= self.opts.poll_budget {
                return Ok(done(self, PollStop::Budget));
            }
            let start = self.lsn;
            let switch_at = self.pending.as_ref().map(|p| p.first_lsn);
            let end = read_batch(
                &self.cur,
                start,
                until,
                switch_at,
                self.opts.batch_bytes,
                &mut self.batch,
            )?;
            self.stats.batches += 1;
            let settled = self.settle_tail(written_to(pre.checkpoint), end)?;
            let post = self.cur.state(&mut self.stats)?;
            self.checkpoint = post.checkpoint;
            self.check_lap(start, post.checkpoint.lsn)?;
            self.deliver(&mut visit)?;
            if !settled {
                // The server was rewriting the tail: read on from what both reads agreed on.
                unsettled += 1;
                if unsettled < 3 {
                    continue;
                }
                return Ok(done(self, PollStop::CaughtUp));
            }
            unsettled = 0;
            match end {
                BatchEnd::Full | BatchEnd::Switch => continue,
                BatchEnd::Until => return Ok(done(self, PollStop::Until)),
                BatchEnd::End(_) => {
                    if self.lsn < pre.checkpoint.lsn {
                        if rechecked != Some(self.lsn) {
                            // Read it once more before concluding.
                            rechecked = Some(self.lsn);
                            std::thread::sleep(TAIL_PAUSE);
                            continue;
                        }
                        return Err(self.overtaken(pre.checkpoint.lsn).into());
                    }
                    if let Some(p) = &self.pending {
                        if self.lsn < p.first_lsn {
                            return Err(FollowError::Gap {
                                path: p.path.clone(),
                                lsn: self.lsn,
                                first_lsn: p.first_lsn,
                                why: format!(
                                    "the old log ends at {} (by {}), before the new log starts",
                                    self.lsn,
                                    end_reason(end)
                                ),
                            }
                            .into());
                        }
                        continue;
                    }
                    if self.lsn < post.checkpoint.lsn {
                        continue;
                    }
                    return Ok(done(self, PollStop::CaughtUp));
                }
            }
        }
    }

    fn overtaken(&self, checkpoint: Lsn) -> FollowError {
        FollowError::Overtaken {
            lsn: self.lsn,
            checkpoint,
            capacity: self.cur.capacity(),
            path: self.cur.path.clone(),
        }
    }

    /// Fails if the server's checkpoint is more than one capacity past `from`: the bytes at
    /// `from` were then certainly overwritten (and bytes read from there may be from two laps
    /// later).
    fn check_lap(&self, from: Lsn, checkpoint: Lsn) -> Result<(), FollowError> {
        if checkpoint.get() > from.get().saturating_add(self.cur.capacity()) {
            return Err(FollowError::Overtaken {
                lsn: self.lsn,
                checkpoint,
                capacity: self.cur.capacity(),
                path: self.cur.path.clone(),
            });
        }
        Ok(())
    }

    /// Makes sure the tail of the batch just read is not a stale copy of older log (see the
    /// [module docs](self)): the mtrs starting in the write block where the read stopped, and
    /// ending past `written` (below which the log was final before the read), are read again
    /// after a pause and kept only as far as both reads agree byte for byte. A full batch (or
    /// one ending at a switch) keeps them for the next batch instead, which reads them again
    /// and past them, unless they are the whole batch. Returns `false` when the reads
    /// disagreed (the batch was cut where they did).
    fn settle_tail(&mut self, written: Lsn, end: BatchEnd) -> Result<bool, FollowError> {
        let Some(&(last, _, len, _)) = self.batch.index.last() else {
            return Ok(true);
        };
        let tail = tail_block_start(self.cur.geom, Lsn::new(last + len as u64));
        let suspect = |&(s, _, len, _): &(u64, usize, usize, usize)| {
            s >= tail.get() && s + len as u64 > written.get()
        };
        let Some(first) = self.batch.index.iter().position(suspect) else {
            return Ok(true);
        };
        if first > 0 && matches!(end, BatchEnd::Full | BatchEnd::Switch) {
            self.cut_batch(first);
            return Ok(true);
        }
        std::thread::sleep(TAIL_PAUSE);
        let from = self.batch.index[first].0;
        let mut reader = MtrReader::new(FileArea(&self.cur.file), self.cur.geom, Lsn::new(from))
            .map_err(|e| FollowError::redo(&self.cur.path, START_OFFSET, e))?;
        let mut agreed = first;
        while let Some(&(s, off, len, _)) = self.batch.index.get(agreed) {
            let again = reader
                .next_mtr()
                .map_err(|e| FollowError::io(&self.cur.path, START_OFFSET, e))?;
            let same = again.is_some_and(|m| {
                m.start_lsn().get() == s
                    && Some(m.as_bytes()) == self.batch.bytes.get(off..off + len)
            });
            if !same {
                break;
            }
            agreed += 1;
        }
        if agreed == self.batch.index.len() {
            return Ok(true);
        }
        self.cut_batch(agreed);
        Ok(false)
    }

    /// Keeps the first `n` mtrs of the batch.
    fn cut_batch(&mut self, n: usize) {
        if let Some(&(_, off, _, _)) = self.batch.index.get(n) {
            self.batch.index.truncate(n);
            self.batch.bytes.truncate(off);
        }
    }

    /// Hands the batch to the visitor, advancing the position after each accepted mtr.
    fn deliver<E, F>(&mut self, visit: &mut F) -> Result<(), E>
    where
        E: From<FollowError>,
        F: FnMut(&FollowedMtr<'_>) -> Result<(), E>,
    {
        let hides_ids = self.cur.encryption.hides_page_ids();
        for &(start, off, len, records_len) in &self.batch.index {
            let Some(bytes) = self.batch.bytes.get(off..off + len) else {
                break;
            };
            let plain = decrypt(self.cur.cipher, bytes, records_len, &mut self.plain)
                .map_err(|e| E::from(FollowError::redo(&self.cur.path, 0, e)))?;
            let m = FollowedMtr {
                start: Lsn::new(start),
                bytes,
                records_len,
                hides_ids,
                plain: plain.then_some(&self.plain[..]),
                path: &self.cur.path,
            };
            visit(&m)?;
            self.lsn = m.end_lsn();
            self.stats.mtrs += 1;
            self.stats.bytes += len as u64;
        }
        self.batch.bytes.clear();
        self.batch.index.clear();
        Ok(())
    }

    /// Notices a replaced `ib_logfile0` and switches to it once the position has reached its
    /// first LSN.
    fn follow_replacement(&mut self) -> Result<(), FollowError> {
        let replaced = match &self.pending {
            Some(p) => !p.is_current()?,
            None => !self.cur.is_current()?,
        };
        if replaced {
            let new = LogFile::open(&self.cur.path, self.opts.key)?;
            self.pending = Some(new);
        }
        let Some(p) = &self.pending else {
            return Ok(());
        };
        if self.lsn < p.first_lsn {
            return Ok(());
        }
        let Some(new) = self.pending.take() else {
            return Ok(());
        };
        check_needs(&new, self.opts)?;
        if new.cipher.is_some() {
            let state = new.state(&mut self.stats)?;
            check_key(&new, state.checkpoint)?;
        }
        match check_position(&new, self.lsn, &mut self.stats) {
            Ok(()) => {}
            Err(FollowError::NotInLog { why, .. }) => {
                return Err(FollowError::Gap {
                    path: new.path.clone(),
                    lsn: self.lsn,
                    first_lsn: new.first_lsn,
                    why,
                })
            }
            Err(e) => return Err(e),
        }
        self.cur = new;
        self.stats.reopens += 1;
        Ok(())
    }
}

/// How far the log was final when `checkpoint` was read: the server writes a checkpoint block
/// only after the log up to its `FILE_CHECKPOINT` mini-transaction (at the block's end LSN)
/// was written; those bytes are never written differently again in this lap.
fn written_to(checkpoint: Checkpoint) -> Lsn {
    checkpoint
        .end_lsn
        .map_or(checkpoint.lsn, |e| e.max(checkpoint.lsn))
}

fn end_reason(end: BatchEnd) -> String {
    match end {
        BatchEnd::End(s) => s.to_string(),
        BatchEnd::Until => "target reached".into(),
        BatchEnd::Full => "batch full".into(),
        BatchEnd::Switch => "switch".into(),
    }
}

fn check_needs(log: &LogFile, opts: FollowOptions) -> Result<(), FollowError> {
    if opts.needs == Needs::PageIds && log.encryption.hides_page_ids() && log.cipher.is_none() {
        return Err(FollowError::EncryptedPageIds {
            path: log.path.clone(),
        });
    }
    Ok(())
}

/// Decrypts the records of one stored mtr (`records_len` record bytes, end byte, nonce, CRC)
/// into `out` when there is a cipher; returns whether it did.
fn decrypt(
    cipher: Option<LogCipher>,
    mtr: &[u8],
    records_len: usize,
    out: &mut Vec<u8>,
) -> Result<bool, RedoError> {
    let Some(cipher) = cipher else {
        return Ok(false);
    };
    let nonce: Option<[u8; NONCE_LEN]> = mtr
        .get(records_len + 1..records_len + 1 + NONCE_LEN)
        .and_then(|n| n.try_into().ok());
    let (Some(nonce), Some(records)) = (nonce, mtr.get(..records_len)) else {
        return Ok(false);
    };
    cipher
        .decrypt_records(records, &nonce, out)
        .map_err(RedoError::Crypt)?;
    Ok(true)
}

/// With a cipher, checks it on the FILE_CHECKPOINT mtr at the checkpoint's end LSN (known
/// plaintext: the checkpoint LSN). Not conclusive (no check) when that mtr cannot be read.
fn check_key(log: &LogFile, checkpoint: Checkpoint) -> Result<(), FollowError> {
    let (Some(cipher), Some(end)) = (log.cipher, checkpoint.end_lsn) else {
        return Ok(());
    };
    let Ok(mut reader) = MtrReader::new(FileArea(&log.file), log.geom, end) else {
        return Ok(());
    };
    let next = reader
        .next_mtr()
        .map_err(|e| FollowError::io(&log.path, START_OFFSET, e))?;
    let Some(m) = next else {
        return Ok(());
    };
    let Some(nonce) = m.nonce() else {
        return Ok(());
    };
    if cipher.confirms_checkpoint(m.record_bytes(), &nonce, checkpoint.lsn) {
        return Ok(());
    }
    Err(FollowError::WrongKey {
        path: log.path.clone(),
        checkpoint: checkpoint.lsn,
    })
}

/// Checks that `lsn` is an mtr boundary present in `log`: a valid chain of mtrs links it with
/// the checkpoint (whichever comes first), and the checkpoint is not a lap past it.
fn check_position(log: &LogFile, lsn: Lsn, stats: &mut FollowStats) -> Result<(), FollowError> {
    let st = log.state(stats)?;
    let c = st.checkpoint.lsn;
    let not_in = |why: String| FollowError::NotInLog {
        path: log.path.clone(),
        lsn,
        first_lsn: st.first_lsn,
        checkpoint: c,
        why,
    };
    if lsn < log.first_lsn {
        return Err(not_in(
            "it is older than the log's first LSN (the log was created or resized after it)".into(),
        ));
    }
    if c.get() > lsn.get().saturating_add(log.capacity()) {
        return Err(not_in(format!(
            "the server has written more than the log capacity ({} bytes) since, so it was \
             overwritten",
            log.capacity()
        )));
    }
    let (from, to) = if lsn <= c { (lsn, c) } else { (c, lsn) };
    let mut reader = MtrReader::new(FileArea(&log.file), log.geom, from)
        .map_err(|e| FollowError::redo(&log.path, START_OFFSET, e))?;
    reader.set_limit(Some(to));
    while reader
        .next_mtr()
        .map_err(|e| FollowError::io(&log.path, START_OFFSET, e))?
        .is_some()
    {}
    let reached = reader.lsn();
    if reached != to {
        let why = if reader.stop() == Some(ScanStop::Limit) {
            format!("it is not a mini-transaction boundary (an mtr starting at {reached} spans it)")
        } else if lsn > c {
            format!(
                "it is beyond the end of the log (the log ends at {reached}: {})",
                reader.stop().map_or_else(String::new, |s| s.to_string())
            )
        } else {
            format!(
                "no valid chain of mini-transactions leads from it to the checkpoint (broken \
                 at {reached}: {}); it was overwritten or is not a mini-transaction boundary",
                reader.stop().map_or_else(String::new, |s| s.to_string())
            )
        };
        return Err(not_in(why));
    }
    let after = log.state(stats)?;
    if after.checkpoint.lsn.get() > from.get().saturating_add(log.capacity()) {
        return Err(not_in(format!(
            "the server has written more than the log capacity ({} bytes) since, so it was \
             overwritten",
            log.capacity()
        )));
    }
    Ok(())
}

/// Reads mtrs from `start` into `batch` (cleared first).
fn read_batch(
    log: &LogFile,
    start: Lsn,
    until: Option<Lsn>,
    switch_at: Option<Lsn>,
    batch_bytes: usize,
    batch: &mut Batch,
) -> Result<BatchEnd, FollowError> {
    batch.bytes.clear();
    batch.index.clear();
    let mut reader = MtrReader::new(FileArea(&log.file), log.geom, start)
        .map_err(|e| FollowError::redo(&log.path, START_OFFSET, e))?;
    reader.set_limit(until);
    loop {
        let next = reader
            .next_mtr()
            .map_err(|e| FollowError::io(&log.path, START_OFFSET, e))?;
        let Some(m) = next else {
            return Ok(match reader.stop() {
                Some(ScanStop::Limit) => BatchEnd::Until,
                Some(s) => BatchEnd::End(s),
                None => BatchEnd::End(ScanStop::Unreadable),
            });
        };
        let off = batch.bytes.len();
        batch.bytes.extend_from_slice(m.as_bytes());
        batch.index.push((
            m.start_lsn().get(),
            off,
            m.as_bytes().len(),
            m.record_bytes().len(),
        ));
        if switch_at.is_some_and(|f| m.end_lsn() >= f) {
            return Ok(BatchEnd::Switch);
        }
        if batch.bytes.len() >= batch_bytes {
            return Ok(BatchEnd::Full);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redo::record::PageId;
    use std::fs::OpenOptions;

    /// A synthetic MariaDB 10.8+ log written the way the server writes it.
    struct Synth {
        file: File,
        geom: LogGeometry,
        end: u64,
        slot: bool,
        nonce: Option<[u8; 8]>,
        cipher: Option<LogCipher>,
    }

    fn header(first_lsn: u64, enc11: bool) -> Vec<u8> {
        let mut b = vec![0u8; 512];
        if enc11 {
            b[0..4].copy_from_slice(&0xF09F_979Du32.to_be_bytes());
            b[48..52].copy_from_slice(&1u32.to_be_bytes());
            b[52..56].copy_from_slice(&1u32.to_be_bytes());
            b[56..76].copy_from_slice(&[0x5A; 20]);
        } else {
            b[0..4].copy_from_slice(b"Phys");
        }
        b[8..16].copy_from_slice(&first_lsn.to_be_bytes());
        b[16..32].copy_from_slice(b"MariaDB 10.11.19");
        let crc = crc32c::crc32c(&b[..508]);
        b[508..].copy_from_slice(&crc.to_be_bytes());
        b
    }

    impl Synth {
        fn create(path: &Path, first_lsn: u64, capacity: u64, enc11: bool) -> Synth {
            Synth::create_with(path, first_lsn, capacity, enc11, None)
        }

        /// A log whose records are encrypted with `cipher` (an `enc11` log).
        fn create_with(
            path: &Path,
            first_lsn: u64,
            capacity: u64,
            enc11: bool,
            cipher: Option<LogCipher>,
        ) -> Synth {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(path)
                .unwrap();
            file.set_len(START_OFFSET + capacity).unwrap();
            file.write_all_at(&header(first_lsn, enc11), 0).unwrap();
            let geom = LogGeometry::new(Lsn::new(first_lsn), capacity, enc11).unwrap();
            let mut s = Synth {
                file,
                geom,
                end: first_lsn,
                slot: false,
                nonce: enc11.then_some([7u8; 8]),
                cipher,
            };
            s.file_checkpoint();
            s
        }

        /// Writes a FILE_CHECKPOINT mtr naming the current end and a checkpoint there.
        fn file_checkpoint(&mut self) -> u64 {
            let c = self.end;
            let mut rec = vec![0xFA, 0, 0];
            rec.extend_from_slice(&c.to_be_bytes());
            self.append(&rec);
            self.checkpoint(c);
            c
        }

        fn mtr_bytes(&self, start: u64, records: &[u8]) -> Vec<u8> {
            let mut v = records.to_vec();
            if let (Some(c), Some(n)) = (self.cipher, self.nonce) {
                c.encrypt_records(records, &n, &mut v).unwrap();
            }
            let records = v.clone();
            let records = &records[..];
            let seq = self
                .geom
                .sequence_bit(Lsn::new(start + records.len() as u64))
                .unwrap();
            v.push(seq);
            let mut crc = crc32c::crc32c(records);
            if let Some(n) = self.nonce {
                v.extend_from_slice(&n);
                crc = crc32c::crc32c_append(crc, &n);
            }
            v.extend_from_slice(&crc.to_be_bytes());
            v
        }

        fn write_at_lsn(&self, lsn: u64, bytes: &[u8]) {
            let cap = self.geom.capacity();
            for (i, b) in bytes.iter().enumerate() {
                let pos = (lsn + i as u64 - self.geom.first_lsn().get()) % cap;
                self.file.write_all_at(&[*b], START_OFFSET + pos).unwrap();
            }
        }

        /// Appends an mtr; the byte after it is set to 0 (end marker), as the server does.
        fn append(&mut self, records: &[u8]) -> (u64, Vec<u8>) {
            let start = self.end;
            let m = self.mtr_bytes(start, records);
            self.write_at_lsn(start, &m);
            self.end += m.len() as u64;
            self.write_at_lsn(self.end, &[0]);
            (start, m)
        }

        fn checkpoint(&mut self, lsn: u64) {
            let mut b = [0u8; 64];
            b[0..8].copy_from_slice(&lsn.to_be_bytes());
            b[8..16].copy_from_slice(&lsn.to_be_bytes());
            let crc = crc32c::crc32c(&b[..60]);
            b[60..].copy_from_slice(&crc.to_be_bytes());
            let off = if self.slot { 0x2000 } else { 0x1000 };
            self.slot = !self.slot;
            self.file.write_all_at(&b, off).unwrap();
        }
    }

    /// A WRITE record to (space, page) with `n` data bytes (n ≤ 12).
    fn write_rec(space: u8, page: u8, n: usize) -> Vec<u8> {
        let mut r = vec![0x30 | (3 + n as u8), space, page, 0x20];
        r.extend(std::iter::repeat_n(0xAB, n));
        r
    }

    type Seen = Vec<(u64, u64, Vec<u8>, Vec<PageId>)>;

    fn poll_all(f: &mut Follower, until: Option<Lsn>) -> Result<(Polled, Seen), FollowError> {
        let mut seen = Vec::new();
        let p = f.poll(until, |m| {
            let pages = m
                .records()?
                .filter_map(|r| r.ok()?.changed_page())
                .collect();
            seen.push((
                m.start_lsn().get(),
                m.end_lsn().get(),
                m.as_bytes().to_vec(),
                pages,
            ));
            Ok::<(), FollowError>(())
        })?;
        Ok((p, seen))
    }

    type Tamper = Box<dyn FnMut(u64, &mut [u8])>;

    thread_local! {
        /// What this test thread's reads of the record area see instead of the file's bytes.
        static TAMPER: std::cell::RefCell<Option<Tamper>> = const { std::cell::RefCell::new(None) };
    }

    /// Called by every read of the record area (`FileArea`) with its area position and bytes.
    pub(super) fn tamper(pos: u64, buf: &mut [u8]) {
        TAMPER.with(|t| {
            if let Some(f) = t.borrow_mut().as_mut() {
                f(pos, buf);
            }
        });
    }

    /// The next `reads` reads that cover area position `at` see `bytes` there instead of the
    /// file's: a read that raced a write of the server.
    fn misread(at: u64, bytes: Vec<u8>, reads: u32) {
        let mut left = reads;
        let f: Tamper = Box::new(move |pos, buf| {
            let end = pos + buf.len() as u64;
            if left == 0 || at < pos || at >= end {
                return;
            }
            left -= 1;
            for (i, b) in bytes.iter().enumerate() {
                if let Some(x) = buf.get_mut((at - pos) as usize + i) {
                    *x = *b;
                }
            }
        });
        TAMPER.with(|t| *t.borrow_mut() = Some(f));
    }

    #[test]
    fn a_stale_mtr_read_during_a_rewrite_of_the_tail_is_not_delivered() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = Synth::create(&dir.path().join("ib_logfile0"), 0x3000, 1 << 16, false);
        let mut expected = vec![];
        for i in 0..5 {
            expected.push(log.append(&write_rec(1, i, 4)));
        }
        let mut f = Follower::at_checkpoint(dir.path(), FollowOptions::default()).unwrap();
        let (_, mut got) = poll_all(&mut f, None).unwrap();
        // (the first one delivered is the FILE_CHECKPOINT mtr)
        got.remove(0);
        // The server appends B and C. The block held, after the old end of the log, older log
        // (the rest of the server's buffer): a read racing the rewrite sees B, then at B's
        // end the older contents: a complete, valid older mtr (its CRC does not cover its
        // LSN; its end byte has this lap's sequence bit) and a 0 byte.
        expected.push(log.append(&write_rec(2, 1, 6)));
        let at = log.end;
        expected.push(log.append(&write_rec(2, 2, 9)));
        let mut stale = log.mtr_bytes(at, &write_rec(7, 7, 2));
        stale.push(0);
        misread(at - 0x3000, stale, 1);
        let (_, seen) = poll_all(&mut f, None).unwrap();
        assert!(
            seen.iter().all(|g| !g.3.contains(&PageId::new(7, 7))),
            "the stale mtr was delivered: {:?}",
            seen.iter().map(|g| (g.0, &g.3)).collect::<Vec<_>>()
        );
        got.extend(seen);
        // More log and a checkpoint past all of it: the follower goes on.
        expected.push(log.append(&write_rec(3, 3, 3)));
        let c = log.file_checkpoint();
        let (p, seen) = poll_all(&mut f, None).unwrap();
        got.extend(seen.into_iter().filter(|g| !g.3.is_empty()));
        let got: Vec<_> = got.iter().map(|g| (g.0, g.2.clone())).collect();
        assert_eq!(got, expected);
        assert_eq!((p.to.get(), p.stop), (log.end, PollStop::CaughtUp));
        assert_eq!(p.checkpoint.lsn.get(), c);
    }

    #[test]
    fn a_full_batch_delivers_its_tail_only_after_reading_it_again() {
        // A stale mtr of the same length as the true one (the chain goes on after it), in the
        // last write block of a full batch: held back, and the next batch reads the true one.
        let dir = tempfile::tempdir().unwrap();
        let mut log = Synth::create(&dir.path().join("ib_logfile0"), 0x3000, 1 << 16, false);
        let mut f = Follower::at_checkpoint(dir.path(), FollowOptions::default().batch_bytes(6000))
            .unwrap();
        poll_all(&mut f, None).unwrap();
        let mut expected = vec![];
        for i in 0..700u32 {
            expected.push(log.append(&write_rec(1, (i % 200) as u8, 4)));
        }
        // The mtr the first batch ends with (13 bytes each, from 0x3010).
        let k = (6000 - 1) / 13;
        let (at, true_mtr) = expected[k].clone();
        assert!(at - 0x3000 > 4096, "in the second write block");
        let stale = log.mtr_bytes(at, &write_rec(7, 7, 4));
        assert_eq!(stale.len(), true_mtr.len());
        misread(at - 0x3000, stale, 1);
        let (_, seen) = poll_all(&mut f, None).unwrap();
        assert!(seen.iter().all(|g| !g.3.contains(&PageId::new(7, 7))));
        let got: Vec<_> = seen.iter().map(|g| (g.0, g.2.clone())).collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn a_read_ending_below_the_checkpoint_is_read_again_before_overtaken() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = Synth::create(&dir.path().join("ib_logfile0"), 0x3000, 1 << 16, false);
        let mut f = Follower::at_checkpoint(dir.path(), FollowOptions::default()).unwrap();
        poll_all(&mut f, None).unwrap();
        let at = f.lsn().get();
        let mut expected = vec![];
        for i in 0..8 {
            expected.push(log.append(&write_rec(4, i, 5)));
        }
        log.file_checkpoint();
        // One read sees the first mtr's bytes wrong (e.g. a page cache page that was stale).
        misread(at - 0x3000, vec![0], 1);
        let (_, seen) = poll_all(&mut f, None).unwrap();
        let got: Vec<_> = seen
            .iter()
            .filter(|g| !g.3.is_empty())
            .map(|g| (g.0, g.2.clone()))
            .collect();
        assert_eq!(got, expected);
        assert_eq!(f.lsn().get(), log.end);
        // A chain that really ends below the checkpoint is still reported.
        let before = f.stats().batches;
        let at = f.lsn().get();
        log.append(&write_rec(4, 9, 5));
        log.file_checkpoint();
        misread(at - 0x3000, vec![0], 2);
        let e = poll_all(&mut f, None).unwrap_err();
        assert!(matches!(e, FollowError::Overtaken { .. }), "{e}");
        assert_eq!(f.stats().batches - before, 2, "read twice");
    }

    #[test]
    fn follows_appends_and_checks_contiguity() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = Synth::create(&dir.path().join("ib_logfile0"), 0x3000, 1 << 16, false);
        let mut f = Follower::at_checkpoint(dir.path(), FollowOptions::default()).unwrap();
        assert_eq!(f.lsn().get(), 0x3000);
        let (p, seen) = poll_all(&mut f, None).unwrap();
        assert_eq!(p.stop, PollStop::CaughtUp);
        assert_eq!((seen.len(), p.to.get()), (1, 0x3010));
        let mut expect = Vec::new();
        for i in 0..50u8 {
            let (s, m) = log.append(&write_rec(1, i, (i % 9) as usize));
            expect.push((s, m));
        }
        let (p, seen) = poll_all(&mut f, None).unwrap();
        assert_eq!(seen.len(), 50);
        for (i, ((s, m), got)) in expect.iter().zip(&seen).enumerate() {
            assert_eq!(got.0, *s);
            assert_eq!(got.1, s + m.len() as u64);
            assert_eq!(&got.2, m);
            assert_eq!(got.3, vec![PageId::new(1, i as u8 as u32)]);
        }
        assert_eq!(p.to.get(), log.end);
        assert_eq!(p.mtrs, 50);
        let st = f.stats();
        assert_eq!(st.mtrs, 51);
        assert_eq!(st.bytes, log.end - 0x3000);
        // Nothing new: caught up, nothing delivered.
        let (p, seen) = poll_all(&mut f, None).unwrap();
        assert!(seen.is_empty());
        assert_eq!(
            (p.stop, p.from, p.to),
            (PollStop::CaughtUp, p.to, Lsn::new(log.end))
        );
    }

    #[test]
    fn until_and_visitor_errors() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = Synth::create(&dir.path().join("ib_logfile0"), 0x3000, 1 << 16, false);
        let mut ends = vec![];
        for i in 0..10 {
            let (s, m) = log.append(&write_rec(2, i, 4));
            ends.push(s + m.len() as u64);
        }
        let mut f = Follower::at_checkpoint(dir.path(), FollowOptions::default()).unwrap();
        let (p, _) = poll_all(&mut f, Some(Lsn::new(ends[3]))).unwrap();
        assert_eq!((p.stop, p.to.get()), (PollStop::Until, ends[3]));
        // A target inside an mtr stops before it.
        let (p, _) = poll_all(&mut f, Some(Lsn::new(ends[5] - 1))).unwrap();
        assert_eq!((p.stop, p.to.get()), (PollStop::Until, ends[4]));
        // The visitor refuses the second mtr: the position is its start.
        let mut n = 0;
        let r = f.poll(None, |_| {
            n += 1;
            if n == 2 {
                Err(FollowError::Gap {
                    path: PathBuf::new(),
                    lsn: Lsn::new(0),
                    first_lsn: Lsn::new(0),
                    why: "test".into(),
                })
            } else {
                Ok(())
            }
        });
        assert!(r.is_err());
        assert_eq!(f.lsn().get(), ends[5]);
        let (p, seen) = poll_all(&mut f, None).unwrap();
        assert_eq!((seen.len(), p.to.get()), (4, ends[9]));
    }

    #[test]
    fn wraps_around_the_ring_many_times() {
        let dir = tempfile::tempdir().unwrap();
        let cap = 300u64;
        let mut log = Synth::create(&dir.path().join("ib_logfile0"), 0x3000, cap, false);
        let opts = FollowOptions::default().batch_bytes(64);
        let mut f = Follower::at_checkpoint(dir.path(), opts).unwrap();
        let mut expected = vec![];
        let mut got: Seen = vec![];
        for round in 0..120u64 {
            for i in 0..(round % 7 + 1) {
                let (s, m) = log.append(&write_rec(
                    3,
                    (round * 7 + i) as u8 % 120,
                    (i % 12) as usize,
                ));
                expected.push((s, m));
            }
            // The server checkpoints as it goes (never more than a capacity behind its end).
            if round.is_multiple_of(2) {
                log.file_checkpoint();
            }
            let (_, seen) = poll_all(&mut f, None).unwrap();
            got.extend(seen);
            assert_eq!(f.lsn().get(), log.end);
        }
        assert!(
            log.end - 0x3000 > 10 * cap,
            "wrapped {} times",
            (log.end - 0x3000) / cap
        );
        // Contiguous, and every appended WRITE mtr was delivered with its exact bytes.
        for w in got.windows(2) {
            assert_eq!(w[0].1, w[1].0);
        }
        let writes: Vec<_> = got.iter().filter(|g| !g.3.is_empty()).collect();
        assert_eq!(writes.len(), expected.len());
        for (g, (s, m)) in writes.iter().zip(&expected) {
            assert_eq!((g.0, &g.2), (*s, m));
        }
        assert!(f.stats().batches > 40);
    }

    #[test]
    fn overtaken_when_the_next_lap_overwrote_our_position() {
        let dir = tempfile::tempdir().unwrap();
        let cap = 400u64;
        let mut log = Synth::create(&dir.path().join("ib_logfile0"), 0x3000, cap, false);
        let mut f = Follower::at_checkpoint(dir.path(), FollowOptions::default()).unwrap();
        poll_all(&mut f, None).unwrap();
        let at = f.lsn().get();
        // The server writes a bit more than a lap and checkpoints just past our position
        // (allowed: its end stays within a capacity of its checkpoint).
        let mut c = 0;
        while log.end < at + cap + 40 {
            log.append(&write_rec(4, 1, 10));
            if log.end > at + 60 && log.end < at + 120 {
                c = log.file_checkpoint();
            }
        }
        // Not more than a lap ahead of us: only the end of the chain at our position (next
        // lap's bytes there) below the checkpoint proves the overwrite.
        assert!(
            c > at && c <= at + cap && log.end <= c + cap,
            "{at} {c} {}",
            log.end
        );
        let mut calls = 0;
        let e = f
            .poll(None, |_| {
                calls += 1;
                Ok::<(), FollowError>(())
            })
            .unwrap_err();
        match &e {
            FollowError::Overtaken {
                lsn,
                checkpoint,
                capacity,
                ..
            } => {
                assert_eq!(lsn.get(), at);
                assert!(checkpoint.get() > at);
                assert_eq!(*capacity, cap);
            }
            other => panic!("{other}"),
        }
        assert_eq!(calls, 0, "nothing from the next lap is delivered");
        let msg = e.to_string();
        assert!(msg.contains("innodb_log_file_size"), "{msg}");
        assert!(msg.contains("fell more than the log capacity"), "{msg}");
    }

    #[test]
    fn overtaken_two_laps_later_delivers_nothing() {
        // Two laps later the sequence bits match again; the checkpoint (> position +
        // capacity) is what refuses the batch.
        let dir = tempfile::tempdir().unwrap();
        let cap = 256u64;
        let mut log = Synth::create(&dir.path().join("ib_logfile0"), 0x3000, cap, false);
        let mut f = Follower::at_checkpoint(dir.path(), FollowOptions::default()).unwrap();
        poll_all(&mut f, None).unwrap();
        let at = f.lsn().get();
        // Exactly two laps of 16-byte mtrs from `at`: the bytes at our position are again a
        // valid mtr start with the same sequence bit.
        while log.end < at + 2 * cap {
            log.append(&[0x3B, 5, 5, 0x20, 1, 2, 3, 4, 5, 6, 7]); // 11 + 5 = 16 bytes
            if log.end.is_multiple_of(64) {
                let e = log.end;
                log.checkpoint(e);
            }
        }
        assert_eq!(log.end, at + 2 * cap);
        let e = log.end;
        log.checkpoint(e - 16);
        let mut calls = 0;
        let r = f.poll(None, |_| {
            calls += 1;
            Ok::<(), FollowError>(())
        });
        assert!(matches!(r, Err(FollowError::Overtaken { .. })), "{r:?}");
        assert_eq!(calls, 0);
    }

    #[test]
    fn at_lsn_checks_the_position() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = Synth::create(&dir.path().join("ib_logfile0"), 0x5000, 4096, false);
        let mut ends = vec![];
        for i in 0..20 {
            let (s, m) = log.append(&write_rec(1, i, 3));
            ends.push(s + m.len() as u64);
        }
        let c = log.file_checkpoint();
        for i in 0..5 {
            log.append(&write_rec(1, i, 3));
        }
        let p = dir.path().join("ib_logfile0");
        // Behind the checkpoint, on a boundary: fine, and it reads on from there.
        let mut f = Follower::at_lsn(&p, Lsn::new(ends[4]), FollowOptions::default()).unwrap();
        let (_, seen) = poll_all(&mut f, None).unwrap();
        assert_eq!(seen[0].0, ends[4]);
        assert_eq!(f.lsn().get(), log.end);
        // At the end: fine.
        Follower::at_lsn(&p, Lsn::new(log.end), FollowOptions::default()).unwrap();
        Follower::at_lsn(&p, Lsn::new(c), FollowOptions::default()).unwrap();
        let bad = |l: u64| match Follower::at_lsn(&p, Lsn::new(l), FollowOptions::default()) {
            Err(FollowError::NotInLog { why, .. }) => why,
            other => panic!("{l}: {other:?}"),
        };
        assert!(bad(0x4000).contains("older than"));
        assert!(bad(ends[4] + 1).contains("chain"));
        assert!(bad(log.end + 5).contains("beyond the end"));
        assert!(bad(log.end - 3).contains("boundary"));
        // The checkpoint more than a capacity ahead.
        log.checkpoint(ends[0] + 5000);
        assert!(bad(ends[0]).contains("overwritten"));
    }

    #[test]
    fn replaced_log_is_followed_across_the_switch() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ib_logfile0");
        let mut old = Synth::create(&p, 0x3000, 2000, false);
        let mut f = Follower::at_checkpoint(&p, FollowOptions::default()).unwrap();
        poll_all(&mut f, None).unwrap();
        for i in 0..10 {
            old.append(&write_rec(1, i, 2));
        }
        // Online resize: a new file starting at the current end gets the same mtrs from
        // there on (both are written), then replaces ib_logfile0.
        let tmp = dir.path().join(crate::redo::file::LOG_FILE_RESIZE);
        let mut new = Synth::create(&tmp, old.end, 5000, false);
        // The new file's FILE_CHECKPOINT mtr is its first one; mirror it into the old file.
        let first = new.mtr_bytes(old.end, &{
            let mut r = vec![0xFA, 0, 0];
            r.extend_from_slice(&old.end.to_be_bytes());
            r
        });
        old.write_at_lsn(old.end, &first);
        old.end += first.len() as u64;
        for i in 0..5 {
            let (_, m) = old.append(&write_rec(2, i, 5));
            new.append(&write_rec(2, i, 5));
            assert_eq!(old.end, new.end, "{m:?}");
        }
        std::fs::rename(&tmp, &p).unwrap();
        for i in 0..5 {
            new.append(&write_rec(3, i, 1));
        }
        let (_, seen) = poll_all(&mut f, None).unwrap();
        assert_eq!(f.lsn().get(), new.end);
        assert_eq!(f.stats().reopens, 1);
        assert_eq!(f.geometry().capacity(), 5000);
        for w in seen.windows(2) {
            assert_eq!(w[0].1, w[1].0);
        }
        let spaces: Vec<u32> = seen.iter().flat_map(|s| &s.3).map(|p| p.space_id).collect();
        assert_eq!(spaces.iter().filter(|&&s| s == 3).count(), 5);
        assert_eq!(spaces.iter().filter(|&&s| s == 2).count(), 5);
        assert_eq!(spaces.iter().filter(|&&s| s == 1).count(), 10);
    }

    #[test]
    fn replaced_log_that_skips_our_position_is_a_gap() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ib_logfile0");
        let mut old = Synth::create(&p, 0x3000, 2000, false);
        let mut f = Follower::at_checkpoint(&p, FollowOptions::default()).unwrap();
        poll_all(&mut f, None).unwrap();
        let at = f.lsn();
        // A log rebuilt far ahead (e.g. a restart after more log than we saw was written).
        let tmp = dir.path().join(crate::redo::file::LOG_FILE_RESIZE);
        let _new = Synth::create(&tmp, old.end + 10_000, 5000, false);
        std::fs::rename(&tmp, &p).unwrap();
        let (_, m) = old.append(&write_rec(1, 1, 1)); // lands in the old (unlinked) file only
        let e = poll_all(&mut f, None).unwrap_err();
        match e {
            FollowError::Gap { lsn, first_lsn, .. } => {
                assert_eq!(lsn.get(), at.get() + m.len() as u64);
                assert_eq!(first_lsn.get(), at.get() + 10_000);
            }
            other => panic!("{other}"),
        }
    }

    #[test]
    fn encrypted_logs_frame_but_hide_page_ids() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ib_logfile0");
        let mut log = Synth::create(&p, 0x3000, 8192, true);
        for i in 0..4 {
            log.append(&write_rec(9, i, 3));
        }
        let e = Follower::at_checkpoint(&p, FollowOptions::default()).unwrap_err();
        assert!(matches!(e, FollowError::EncryptedPageIds { .. }));
        assert!(e.to_string().contains("encrypted"), "{e}");
        let opts = FollowOptions::default().needs(Needs::Framing);
        let mut f = Follower::at_checkpoint(&p, opts).unwrap();
        assert_eq!(f.encryption(), Encryption::MariaDbEnc11);
        let mut n = 0;
        let polled = f
            .poll(None, |m| {
                n += 1;
                assert_eq!(m.len(), m.record_bytes().len() as u64 + 1 + 8 + 4);
                assert!(matches!(
                    m.records(),
                    Err(FollowError::EncryptedPageIds { .. })
                ));
                Ok::<(), FollowError>(())
            })
            .unwrap();
        assert_eq!((n, polled.to.get()), (5, log.end));
        assert_eq!(f.header_block().len(), 512);
    }

    /// The cipher of the synthetic `enc11` header with key 1 = `key1` bytes.
    fn synth_cipher(key1: &[u8], mode: Mode) -> LogCipher {
        let info = crate::redo::crypt::LogCryptInfo::from_block(&header(0x3000, true)).unwrap();
        let key = ServerKey::new(key1).unwrap().log_key(&info).unwrap();
        LogCipher::new(key, mode, Encryption::MariaDbEnc11).unwrap()
    }

    #[test]
    fn encrypted_logs_are_followed_with_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ib_logfile0");
        let key1 = [0x11u8; 32];
        for mode in [Mode::Cbc, Mode::Ctr] {
            let cipher = synth_cipher(&key1, mode);
            let mut log = Synth::create_with(&p, 0x3000, 8192, true, Some(cipher));
            let mut want = Vec::new();
            for i in 0..4 {
                // Two records: 30 encrypted bytes, so CBC and CTR differ.
                let mut recs = write_rec(9, i, 12);
                recs.extend(write_rec(10, i, 12));
                log.append(&recs);
                want.extend([PageId::new(9, i.into()), PageId::new(10, i.into())]);
            }
            // The ids are not in clear.
            let stored: Vec<u8> = std::fs::read(&p).unwrap();
            assert!(!stored.windows(3).any(|w| w == [0x3F, 9, 1]));
            let key = ServerKey::new(&key1).unwrap();
            let opts = FollowOptions::default().decrypt_with(key, mode);
            assert_eq!(opts.get_decryption(), Some((key, mode)));
            let mut f = Follower::at_checkpoint(&p, opts).unwrap();
            let (polled, seen) = poll_all(&mut f, None).unwrap();
            assert_eq!(polled.to.get(), log.end);
            let pages: Vec<PageId> = seen.iter().flat_map(|s| s.3.clone()).collect();
            assert_eq!(pages, want, "{mode:?}");
            // The bytes handed over are the stored (encrypted) ones.
            assert!(seen
                .iter()
                .all(|s| stored.windows(s.2.len()).any(|w| w == s.2)));
            // A wrong key is refused at the checkpoint's FILE_CHECKPOINT record.
            let wrong =
                FollowOptions::default().decrypt_with(ServerKey::new(&[0x12u8; 32]).unwrap(), mode);
            let e = Follower::at_checkpoint(&p, wrong).unwrap_err();
            assert!(matches!(e, FollowError::WrongKey { .. }), "{e}");
            assert!(e.to_string().contains("key"), "{e}");
            // The wrong mode passes the key check but garbles the longer mtrs.
            let other = if mode == Mode::Cbc {
                Mode::Ctr
            } else {
                Mode::Cbc
            };
            let opts = FollowOptions::default().decrypt_with(key, other);
            let mut f = Follower::at_checkpoint(&p, opts).unwrap();
            let (_, seen) = poll_all(&mut f, None).unwrap();
            let pages: Vec<PageId> = seen.iter().flat_map(|s| s.3.clone()).collect();
            assert_ne!(pages, want);
        }
    }

    #[test]
    fn a_key_changes_nothing_for_plain_logs() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ib_logfile0");
        let mut log = Synth::create(&p, 0x3000, 8192, false);
        log.append(&write_rec(3, 4, 5));
        let key = ServerKey::new(&[0x11u8; 16]).unwrap();
        let opts = FollowOptions::default().decrypt_with(key, Mode::Cbc);
        let mut f = Follower::at_checkpoint(&p, opts).unwrap();
        let (_, seen) = poll_all(&mut f, None).unwrap();
        assert_eq!(seen[1].3, [PageId::new(3, 4)]);
    }

    #[test]
    fn refuses_other_formats() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ib_logfile0");
        let mut b = vec![0u8; 0x4000];
        b[0..4].copy_from_slice(&0x5048_5953u32.to_be_bytes()); // PHYS (10.5)
        b[8..16].copy_from_slice(&0x3000u64.to_be_bytes());
        let crc = crc32c::crc32c(&b[..508]);
        b[508..512].copy_from_slice(&crc.to_be_bytes());
        std::fs::write(&p, &b).unwrap();
        let e = Follower::at_checkpoint(&p, FollowOptions::default()).unwrap_err();
        assert!(matches!(e, FollowError::Unsupported { .. }), "{e}");
        let e = Follower::at_checkpoint(&dir.path().join("nope"), FollowOptions::default())
            .unwrap_err();
        assert!(matches!(e, FollowError::Io { .. }), "{e}");
    }
}
