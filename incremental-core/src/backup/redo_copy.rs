//! The source's redo log, and the compact copy a backup carries as its `ib_logfile0`.
//!
//! Only the MariaDB 10.8+ format (`Phys`, one `ib_logfile0`, per-mini-transaction CRCs) without
//! encryption is supported. The copy is what mariabackup writes:
//!
//! * a header block: `Phys`, first LSN = the source's checkpoint LSN, creator
//!   `"Backup xb <version>"` (the `Backup ` prefix tells the server the log comes from a backup,
//!   as mariabackup's does), CRC-32C at 508;
//! * one checkpoint block at 0x1000: the checkpoint LSN and the start of its `FILE_CHECKPOINT`
//!   mini-transaction, CRC-32C at 60; the block at 0x2000 stays zero;
//! * from 0x3000, every mini-transaction from the checkpoint to the end of the log, byte for
//!   byte except the end byte, which is set to the sequence bit of the new file's first lap
//!   (1). The CRC covers only the record bytes, so it is unchanged.
//!
//! The file is exactly as long as its records, like mariabackup's (its capacity is the records'
//! length; the server and mariabackup accept any size and resize the log when they start).

use innodb_page::redo::file::{log_file_name, log_file_path, LOG_FILE_0, REDO_DIR};
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use innodb_page::redo::file::FileRecordArea;
use innodb_page::redo::mtr::{LogGeometry, MtrReader, START_OFFSET};
use innodb_page::redo::{self, RedoFormat};
use innodb_page::Lsn;

use super::BackupError;
use crate::progress::Cancel;

/// What a backup needs to know about the source's redo log.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedoFacts {
    /// The log file (`ib_logfile0`).
    pub path: PathBuf,
    /// Its size in bytes (`innodb_log_file_size` of the source).
    pub file_size: u64,
    /// The first LSN of the file (header offset 8).
    pub first_lsn: Lsn,
    /// The current checkpoint: the backup is consistent from here (`to_lsn`).
    pub checkpoint_lsn: Lsn,
    /// Start of the checkpoint's `FILE_CHECKPOINT` mini-transaction.
    pub checkpoint_end_lsn: Lsn,
    /// The scanned end of the log (`last_lsn`).
    pub end_lsn: Lsn,
    /// The creator string (`MariaDB 10.11.19`).
    pub creator: String,
    /// The log is encrypted (`innodb_encrypt_log`): its records are copied as stored.
    pub encrypted: bool,
}

impl RedoFacts {
    /// The server version from the creator string (`"10.11.19"` from `"MariaDB 10.11.19"`), or
    /// the whole creator if it has another form.
    ///
    /// ```no_run
    /// let f = incremental_core::backup::redo_copy::read_source("/var/lib/mysql".as_ref())?;
    /// assert_eq!(f.server_version(), "10.11.19"); // creator "MariaDB 10.11.19"
    /// # Ok::<(), incremental_core::backup::BackupError>(())
    /// ```
    pub fn server_version(&self) -> &str {
        self.creator
            .strip_prefix("MariaDB ")
            .unwrap_or(&self.creator)
            .trim()
    }
}

/// Reads the redo log of `datadir` (its `ib_logfile0`): format, checkpoint, scanned end.
/// Refuses what the backup cannot copy: other formats (MySQL, MariaDB before 10.8), a log
/// whose end cannot be found. An encrypted log is read as stored (its ends need no key).
///
/// ```no_run
/// let facts = incremental_core::backup::redo_copy::read_source("/var/lib/mysql".as_ref())?;
/// println!("checkpoint {}", facts.checkpoint_lsn);
/// # Ok::<(), incremental_core::backup::BackupError>(())
/// ```
pub fn read_source(datadir: &Path) -> Result<RedoFacts, BackupError> {
    let path = log_file_path(datadir);
    if !path.exists() {
        let mysql = datadir.join(REDO_DIR).exists() || datadir.join(log_file_name(1)).exists();
        return Err(BackupError::Unsupported {
            path,
            what: if mysql {
                "this datadir has a MySQL or pre-10.5 MariaDB redo log; only MariaDB 10.8+ \
                 datadirs are supported so far"
                    .into()
            } else {
                "no redo log (ib_logfile0) in the datadir: is this an InnoDB datadir?".into()
            },
        });
    }
    let log = redo::open(&path).map_err(BackupError::Page)?;
    if log.format != RedoFormat::MariaDb108 {
        return Err(BackupError::Unsupported {
            path,
            what: format!(
                "redo log format {} is not supported yet: xb backs up MariaDB 10.8 and later \
                 (format mariadb-10.8)",
                log.format.name()
            ),
        });
    }
    let end_lsn = log.end_lsn().ok_or_else(|| BackupError::Unsupported {
        path: path.clone(),
        what: "the end of the redo log cannot be found by scanning from its checkpoint".into(),
    })?;
    let file_size = log.files.first().map_or(0, |f| f.size);
    Ok(RedoFacts {
        first_lsn: log.start_lsn,
        checkpoint_lsn: log.checkpoint_lsn(),
        checkpoint_end_lsn: log.checkpoint_end_lsn().unwrap_or(log.checkpoint_lsn()),
        end_lsn,
        creator: log.creator.clone(),
        file_size,
        encrypted: log.encryption.is_encrypted(),
        path,
    })
}

/// The creator string written into the copy's header.
pub const CREATOR: &str = concat!("Backup xb ", env!("CARGO_PKG_VERSION"));

/// The 0x3000 bytes before the records of a compact log starting at `checkpoint`, whose
/// checkpoint mini-transaction starts at `checkpoint_end`.
///
/// ```
/// use incremental_core::backup::redo_copy::header_area;
/// use innodb_page::Lsn;
/// let h = header_area(Lsn(2500178), Lsn(2500178));
/// assert_eq!(&h[0..4], b"Phys");
/// let hdr = innodb_page::redo::header::FileHeader::parse(&h[..512]).unwrap();
/// assert_eq!(hdr.start_lsn().get(), 2500178);
/// assert!(hdr.created_by_backup());
/// ```
pub fn header_area(checkpoint: Lsn, checkpoint_end: Lsn) -> Vec<u8> {
    let mut b = vec![0u8; START_OFFSET as usize];
    b[0..4].copy_from_slice(b"Phys");
    b[8..16].copy_from_slice(&checkpoint.get().to_be_bytes());
    let creator = CREATOR.as_bytes();
    let n = creator.len().min(32);
    b[16..16 + n].copy_from_slice(&creator[..n]);
    let crc = crc32c::crc32c(&b[..508]);
    b[508..512].copy_from_slice(&crc.to_be_bytes());
    let c = 0x1000;
    b[c..c + 8].copy_from_slice(&checkpoint.get().to_be_bytes());
    b[c + 8..c + 16].copy_from_slice(&checkpoint_end.get().to_be_bytes());
    let crc = crc32c::crc32c(&b[c..c + 60]);
    b[c + 60..c + 64].copy_from_slice(&crc.to_be_bytes());
    b
}

/// The header area of [`header_area`] for a copy of an encrypted log whose 512-byte header
/// block is `source`: its format word (bytes 0..4) and encryption fields (key id, key
/// version, message and nonce, bytes 48..76) are kept, so that the copy decrypts with the
/// same key; the block's CRC is computed again. A `source` of another length is ignored.
pub fn encrypted_header_area(checkpoint: Lsn, checkpoint_end: Lsn, source: &[u8]) -> Vec<u8> {
    let mut b = header_area(checkpoint, checkpoint_end);
    if let (Some(format), Some(crypt)) = (source.get(0..4), source.get(48..76)) {
        b[0..4].copy_from_slice(format);
        b[48..76].copy_from_slice(crypt);
        let crc = crc32c::crc32c(&b[..508]);
        b[508..512].copy_from_slice(&crc.to_be_bytes());
    }
    b
}

/// What [`copy`] (or a [`LogWriter`]) wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedoCopy {
    /// Bytes written (header area included).
    pub bytes: u64,
    /// Mini-transactions copied.
    pub mtrs: u64,
    /// The LSN after the last mini-transaction copied.
    pub end_lsn: Lsn,
}

/// Writes a backup's `ib_logfile0`: the header area for a log starting at a checkpoint, then
/// mini-transactions appended in LSN order, each exactly following the previous one. Used by
/// the cold copy ([`copy`]) and by the hot backup's redo follower alike.
///
/// Each mini-transaction is written byte for byte except its end byte, which becomes the
/// sequence bit of the new file's first lap (1): the new log is exactly as long as its
/// records, so every record lies in that lap. The CRC covers only the record bytes, so it is
/// unchanged. An encrypted log is copied with [`LogWriter::new_encrypted`] and
/// [`LogWriter::push_stored`] (the nonce kept, the records still encrypted).
///
/// ```
/// use incremental_core::backup::redo_copy::LogWriter;
/// use innodb_page::Lsn;
/// // one WRITE record to page (0,7), as in a real log (CRC-32C of the 5 record bytes)
/// let mut w = LogWriter::new(Vec::new(), Lsn::new(0x3000), Lsn::new(0x3000)).unwrap();
/// w.push(Lsn::new(0x3000), &[0x34, 0x00, 0x07, 0x35, 0x0B], 0xC1A2_387B).unwrap();
/// let (bytes, copy) = w.finish().unwrap();
/// assert_eq!((copy.mtrs, copy.end_lsn.get()), (1, 0x3000 + 10));
/// assert_eq!(bytes.len(), 0x3000 + 10);
/// ```
#[derive(Debug)]
pub struct LogWriter<W: Write> {
    out: W,
    bytes: u64,
    mtrs: u64,
    next: Lsn,
}

/// Why [`LogWriter::push`] refused a mini-transaction, or writing failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogWriteError {
    /// Writing to the destination failed.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// A mini-transaction does not start where the previous one ended.
    #[error(
        "mini-transaction at LSN {found} does not follow the previous one (expected {expected})"
    )]
    Gap {
        /// Its start LSN.
        found: Lsn,
        /// The end of the previous one.
        expected: Lsn,
    },
}

impl<W: Write> LogWriter<W> {
    /// Writes the header area of a log starting at `checkpoint` (whose `FILE_CHECKPOINT`
    /// mini-transaction starts at `checkpoint_end`) to `out`.
    pub fn new(out: W, checkpoint: Lsn, checkpoint_end: Lsn) -> io::Result<LogWriter<W>> {
        Self::with_header(out, &header_area(checkpoint, checkpoint_end), checkpoint)
    }

    /// As [`new`](Self::new), for a copy of an encrypted log whose header block is `source`
    /// (see [`encrypted_header_area`]); mini-transactions are then appended with
    /// [`push_stored`](Self::push_stored).
    pub fn new_encrypted(
        out: W,
        checkpoint: Lsn,
        checkpoint_end: Lsn,
        source: &[u8],
    ) -> io::Result<LogWriter<W>> {
        let head = encrypted_header_area(checkpoint, checkpoint_end, source);
        Self::with_header(out, &head, checkpoint)
    }

    /// Writes `head` (the header area) to `out`; mini-transactions follow from `checkpoint`.
    fn with_header(mut out: W, head: &[u8], checkpoint: Lsn) -> io::Result<LogWriter<W>> {
        out.write_all(head)?;
        Ok(LogWriter {
            out,
            bytes: head.len() as u64,
            mtrs: 0,
            next: checkpoint,
        })
    }

    /// Appends the mini-transaction starting at `start` exactly as stored (`stored`: records,
    /// end byte, the nonce of encrypted logs, CRC-32C), its end byte (at `records_len`)
    /// replaced by the sequence bit of the copy (1).
    pub fn push_stored(
        &mut self,
        start: Lsn,
        stored: &[u8],
        records_len: usize,
    ) -> Result<(), LogWriteError> {
        if start != self.next {
            return Err(LogWriteError::Gap {
                found: start,
                expected: self.next,
            });
        }
        let (records, rest) = stored.split_at(records_len.min(stored.len()));
        self.out.write_all(records)?;
        self.out.write_all(&[1u8])?;
        self.out.write_all(rest.get(1..).unwrap_or(&[]))?;
        let len = stored.len() as u64;
        self.bytes += len;
        self.mtrs += 1;
        self.next = Lsn::new(start.get() + len);
        Ok(())
    }

    /// Appends the mini-transaction starting at `start` with these record bytes (before the
    /// end byte) and stored CRC-32C.
    pub fn push(&mut self, start: Lsn, records: &[u8], checksum: u32) -> Result<(), LogWriteError> {
        if start != self.next {
            return Err(LogWriteError::Gap {
                found: start,
                expected: self.next,
            });
        }
        self.out.write_all(records)?;
        self.out.write_all(&[1u8])?;
        self.out.write_all(&checksum.to_be_bytes())?;
        let len = records.len() as u64 + 5;
        self.bytes += len;
        self.mtrs += 1;
        self.next = Lsn::new(start.get() + len);
        Ok(())
    }

    /// Where the next mini-transaction must start (the end of the log written so far).
    pub fn end_lsn(&self) -> Lsn {
        self.next
    }

    /// What was written so far.
    pub fn written(&self) -> RedoCopy {
        RedoCopy {
            bytes: self.bytes,
            mtrs: self.mtrs,
            end_lsn: self.next,
        }
    }

    /// Flushes and gives back the destination with the totals.
    pub fn finish(mut self) -> io::Result<(W, RedoCopy)> {
        self.out.flush()?;
        let c = self.written();
        Ok((self.out, c))
    }
}

/// Writes the compact copy of the log described by `facts` to `out`: header area, then every
/// mini-transaction from the checkpoint to the end of the log.
///
/// ```
/// use incremental_core::backup::redo_copy::{copy, read_source};
/// use incremental_core::progress::Cancel;
/// let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"),
///     "/../tests/data/mariadb-10.11/backup/full"));
/// let facts = read_source(dir).unwrap();
/// let mut out = Vec::new();
/// let c = copy(&facts, &mut out, &Cancel::new()).unwrap();
/// assert_eq!((c.bytes, c.mtrs, c.end_lsn.get()), (12304, 1, 2500194));
/// ```
pub fn copy(
    facts: &RedoFacts,
    out: &mut dyn Write,
    cancel: &Cancel,
) -> Result<RedoCopy, BackupError> {
    let path = &facts.path;
    let io_err = |e: io::Error| BackupError::Io {
        path: path.clone(),
        source: e,
    };
    let out_err = |e: io::Error| BackupError::Write {
        path: PathBuf::from(LOG_FILE_0),
        source: e,
    };
    let mut file = File::open(path).map_err(io_err)?;
    let mut header = vec![0u8; 512];
    file.read_exact(&mut header).map_err(io_err)?;
    let geom = LogGeometry::from_file_size(facts.first_lsn, facts.file_size, facts.encrypted)
        .map_err(|e| {
            BackupError::Page(innodb_page::Error::Redo {
                path: path.clone(),
                offset: 0,
                source: e,
            })
        })?;
    let mut reader = MtrReader::new(FileRecordArea::new(file), geom, facts.checkpoint_lsn)
        .map_err(|e| {
            BackupError::Page(innodb_page::Error::Redo {
                path: path.clone(),
                offset: 0,
                source: e,
            })
        })?;
    let (from, from_end) = (facts.checkpoint_lsn, facts.checkpoint_end_lsn);
    let mut w = match facts.encrypted {
        true => LogWriter::new_encrypted(out, from, from_end, &header),
        false => LogWriter::new(out, from, from_end),
    }
    .map_err(out_err)?;
    while let Some(m) = reader.next_mtr().map_err(io_err)? {
        if w.written().mtrs.is_multiple_of(4096) && cancel.is_cancelled() {
            return Err(BackupError::Cancelled);
        }
        match facts.encrypted {
            true => w.push_stored(m.start_lsn(), m.as_bytes(), m.record_bytes().len()),
            false => w.push(m.start_lsn(), m.record_bytes(), m.checksum()),
        }
        .map_err(|e| match e {
            LogWriteError::Io(e) => out_err(e),
            gap => BackupError::Inconsistent {
                what: format!("{}: {gap}", path.display()),
            },
        })?;
    }
    let end_lsn = reader.lsn();
    if end_lsn < facts.end_lsn {
        return Err(BackupError::Inconsistent {
            what: format!(
                "{}: the redo log ended at LSN {end_lsn} while copying, earlier than the end \
                 {} found when the backup started: is a server writing to this datadir?",
                path.display(),
                facts.end_lsn
            ),
        });
    }
    let (_, copied) = w.finish().map_err(out_err)?;
    Ok(copied)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(p: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/data/mariadb-10.11")
            .join(p)
    }

    #[test]
    fn copy_of_a_mariabackup_log_equals_it_but_for_the_creator() {
        let dir = fixture("backup/full");
        let facts = read_source(&dir).unwrap();
        assert_eq!(facts.checkpoint_lsn.get(), 2500178);
        let mut out = Vec::new();
        copy(&facts, &mut out, &Cancel::new()).unwrap();
        let orig = std::fs::read(dir.join("ib_logfile0")).unwrap();
        assert_eq!(out.len(), orig.len());
        // creator (16..48) and header CRC differ; everything else is identical
        assert_eq!(out[..16], orig[..16]);
        assert_eq!(out[48..508], orig[48..508]);
        assert_eq!(out[512..], orig[512..]);
        // and the copy reads back with the same facts
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("ib_logfile0"), &out).unwrap();
        let back = read_source(t.path()).unwrap();
        assert_eq!(back.checkpoint_lsn, facts.checkpoint_lsn);
        assert_eq!(back.end_lsn, facts.end_lsn);
        assert!(back.creator.starts_with("Backup xb"));
    }

    #[test]
    fn refuses_missing_and_truncated_logs() {
        let t = tempfile::tempdir().unwrap();
        assert!(matches!(
            read_source(t.path()),
            Err(BackupError::Unsupported { .. })
        ));
        // the first 16 KiB of a server log cannot be scanned to its end
        std::fs::copy(
            fixture("datadir-16k/ib_logfile0.head16k"),
            t.path().join("ib_logfile0"),
        )
        .unwrap();
        assert!(read_source(t.path()).is_err());
    }

    #[test]
    fn cancel_stops_the_copy() {
        let facts = read_source(&fixture("backup/full")).unwrap();
        let c = Cancel::new();
        c.cancel();
        assert!(matches!(
            copy(&facts, &mut Vec::new(), &c),
            Err(BackupError::Cancelled)
        ));
    }
}
