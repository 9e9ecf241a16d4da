//! Tablespaces created with `DATA DIRECTORY` in a backup's copied redo log.
//!
//! The server's redo log names such a tablespace by its absolute path (`/dir/db/t.ibd`, the
//! path its `db/t.isl` holds); a backup holds it as `db/t.ibd`, as mariabackup's does
//! (mariabackup's own recovery takes the last two components of such a name). The installed
//! `mariadbd` that applies the redo to a backup would open the absolute path instead: the
//! source server's file, not the copy. So, before it runs, each absolute `.ibd` name of the
//! copied log is rewritten in place to the relative name of the copy, padded with slashes to
//! the same length (`.///db/t.ibd`: the same file for the kernel, the same record length for
//! the log), and each changed mini-transaction's CRC-32C is computed again.
//!
//! The bytes to change are first written to a journal (`xb_redo_names.patch` in the backup,
//! checksummed and synced), then to the log, then the journal is removed: a rewrite that was
//! interrupted is finished from the journal by the next prepare, so the log is never left with
//! a mini-transaction half rewritten. An encrypted log's names cannot be rewritten: a backup
//! with an encrypted log and `.isl` files is refused rather than let the server open the
//! source's files.

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use innodb_page::redo::file::log_file_path;
use innodb_page::redo::mtr::{Record, Records};
use innodb_page::redo::RedoFormat;
use innodb_page::Lsn;

use super::apply_redo::ApplyRedoError;

/// The relative name of the same length as the absolute `.ibd` name `name` (`None`: not an
/// absolute `.ibd` name, or too short to hold `./db/t.ibd`).
fn local_name(name: &[u8]) -> Option<Vec<u8>> {
    if name.first() != Some(&b'/') || !name.ends_with(b".ibd") {
        return None;
    }
    let mut parts = name.rsplit(|&b| b == b'/');
    let file = parts.next()?;
    let db = parts.next().filter(|d| !d.is_empty())?;
    let rel_len = db.len() + 1 + file.len();
    let pad = name.len().checked_sub(2 + rel_len)?;
    let mut out = b"./".to_vec();
    out.extend(std::iter::repeat_n(b'/', pad));
    out.extend_from_slice(db);
    out.push(b'/');
    out.extend_from_slice(file);
    Some(out)
}

/// The (offset in the record, new bytes) of each name of the file record `r` to rewrite.
fn record_patches(r: &Record<'_>) -> Vec<(usize, Vec<u8>)> {
    // FILE_CREATE, FILE_DELETE, FILE_RENAME, FILE_MODIFY
    if !matches!(r.file_type(), 0x80 | 0x90 | 0xA0 | 0xB0) {
        return Vec::new();
    }
    r.file_names()
        .filter_map(|(at, name)| Some((at, local_name(name)?)))
        .collect()
}

/// Rewrites the absolute `.ibd` names of the redo log copied into the backup `dir` (see the
/// module documentation). Returns how many names were rewritten; a log that cannot be read as
/// a plain MariaDB 10.8+ log is left as it is (0).
pub(super) fn localize(dir: &Path) -> Result<usize, ApplyRedoError> {
    let path = log_file_path(dir);
    finish_interrupted(dir, &path)?;
    let Ok(log) = innodb_page::redo::open(&path) else {
        return Ok(0);
    };
    if log.format != RedoFormat::MariaDb108 {
        return Ok(0);
    }
    if log.encryption.has_mtr_nonce() {
        return match first_isl(dir) {
            Some(isl) => Err(ApplyRedoError::Refused {
                path: dir.to_path_buf(),
                why: format!(
                    "{} names a DATA DIRECTORY tablespace, and the redo log is encrypted: \
                     its names of such tablespaces (absolute paths of the source server's \
                     files) cannot be rewritten to the backup's copies, and the server \
                     applying it would open the source's files",
                    isl.display()
                ),
            }),
            None => Ok(0),
        };
    }
    let Ok(mut reader) = log.mtr_reader(log.checkpoint_lsn()) else {
        return Ok(0);
    };
    let geom = reader.geometry();
    // (LSN, byte) of every byte to change
    let mut bytes: Vec<(Lsn, u8)> = Vec::new();
    let mut names = 0;
    while let Ok(Some(m)) = reader.next_mtr() {
        let records = m.record_bytes();
        let mut patched: Option<Vec<u8>> = None;
        let mut pos = 0;
        for r in Records::new(records) {
            // file records come before the first page record of an mtr
            if !r.same_page() {
                break;
            }
            for (at, new) in record_patches(&r) {
                let buf = patched.get_or_insert_with(|| records.to_vec());
                buf[pos + at..pos + at + new.len()].copy_from_slice(&new);
                names += 1;
            }
            pos += r.as_bytes().len();
        }
        let Some(buf) = patched else { continue };
        let start = m.start_lsn().get();
        for (i, (&old, &new)) in records.iter().zip(&buf).enumerate() {
            if old != new {
                bytes.push((Lsn::new(start + i as u64), new));
            }
        }
        let crc_at = m.end_lsn().get() - 4;
        for (i, b) in crc32c::crc32c(&buf).to_be_bytes().into_iter().enumerate() {
            bytes.push((Lsn::new(crc_at + i as u64), b));
        }
    }
    drop(reader);
    if bytes.is_empty() {
        return Ok(0);
    }
    let patches: Vec<(u64, u8)> = bytes
        .into_iter()
        .filter_map(|(lsn, b)| Some((geom.file_offset(lsn)?, b)))
        .collect();
    let journal = dir.join(JOURNAL);
    write_journal(&journal, &patches).map_err(|source| ApplyRedoError::Io {
        action: "cannot write",
        path: journal.clone(),
        source,
    })?;
    patch(&path, &patches)?;
    remove_journal(&journal)?;
    Ok(names)
}

/// The journal of a rewrite of the log's names, in the backup.
const JOURNAL: &str = "xb_redo_names.patch";
/// The first bytes of [`JOURNAL`].
const JOURNAL_MAGIC: &[u8; 8] = b"xbrpatch";

/// The `.isl` file of some database directory of the backup `dir`, if there is one.
fn first_isl(dir: &Path) -> Option<PathBuf> {
    let dbs = std::fs::read_dir(dir).ok()?;
    dbs.flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .find_map(|db| {
            let files = std::fs::read_dir(db.path()).ok()?;
            files
                .flatten()
                .map(|f| f.path())
                .find(|p| p.extension().is_some_and(|x| x == "isl"))
        })
}

/// Writes the bytes `patches` (file offset, new byte) to the log `path` and syncs it.
fn patch(path: &Path, patches: &[(u64, u8)]) -> Result<(), ApplyRedoError> {
    let io = |source| ApplyRedoError::Io {
        action: "cannot rewrite the DATA DIRECTORY names of",
        path: path.to_path_buf(),
        source,
    };
    let file = OpenOptions::new().write(true).open(path).map_err(io)?;
    for &(offset, b) in patches {
        file.write_all_at(&[b], offset).map_err(io)?;
    }
    file.sync_all().map_err(io)
}

/// The journal's bytes: magic, count, (offset, byte) each, CRC-32C of all before it.
fn journal_bytes(patches: &[(u64, u8)]) -> Vec<u8> {
    let mut out = JOURNAL_MAGIC.to_vec();
    out.extend((patches.len() as u64).to_be_bytes());
    for &(offset, b) in patches {
        out.extend(offset.to_be_bytes());
        out.push(b);
    }
    let crc = crc32c::crc32c(&out);
    out.extend(crc.to_be_bytes());
    out
}

/// The patches of a journal's bytes; `None` when it is not a whole journal (its writing was
/// interrupted: the log was not touched yet).
fn parse_journal(bytes: &[u8]) -> Option<Vec<(u64, u8)>> {
    let (body, crc) = bytes.split_at_checked(bytes.len().checked_sub(4)?)?;
    if crc32c::crc32c(body).to_be_bytes() != crc || !body.starts_with(JOURNAL_MAGIC) {
        return None;
    }
    let rest = &body[JOURNAL_MAGIC.len()..];
    let (count, entries) = rest.split_at_checked(8)?;
    let count = u64::from_be_bytes(count.try_into().ok()?);
    if entries.len() as u64 != count.checked_mul(9)? {
        return None;
    }
    Some(
        entries
            .chunks_exact(9)
            .map(|e| (u64::from_be_bytes(e[..8].try_into().unwrap()), e[8]))
            .collect(),
    )
}

/// Writes and syncs the journal `path` (and its directory).
fn write_journal(path: &Path, patches: &[(u64, u8)]) -> std::io::Result<()> {
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)?;
    file.write_all_at(&journal_bytes(patches), 0)?;
    file.sync_all()?;
    sync_dir(path)
}

/// Removes the journal `path` and syncs its directory.
fn remove_journal(path: &Path) -> Result<(), ApplyRedoError> {
    std::fs::remove_file(path)
        .and_then(|()| sync_dir(path))
        .map_err(|source| ApplyRedoError::Io {
            action: "cannot remove",
            path: path.to_path_buf(),
            source,
        })
}

/// Syncs the directory holding `path`.
fn sync_dir(path: &Path) -> std::io::Result<()> {
    match path.parent() {
        Some(d) => std::fs::File::open(d)?.sync_all(),
        None => Ok(()),
    }
}

/// Finishes a rewrite of the log `log` of the backup `dir` that was interrupted after its
/// journal was written; a journal that is not whole is dropped (the log was not touched).
fn finish_interrupted(dir: &Path, log: &Path) -> Result<(), ApplyRedoError> {
    let journal = dir.join(JOURNAL);
    let bytes = match std::fs::read(&journal) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(ApplyRedoError::Io {
                action: "cannot read",
                path: journal,
                source,
            })
        }
    };
    if let Some(patches) = parse_journal(&bytes) {
        patch(log, &patches)?;
    }
    remove_journal(&journal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_absolute_name_becomes_the_backups_name_of_the_same_length() {
        let new = local_name(b"/srv/remote/db/t.ibd").unwrap();
        assert_eq!(new, format!("./{}db/t.ibd", "/".repeat(10)).as_bytes());
        assert_eq!(local_name(b"./db/t.ibd"), None);
        assert_eq!(local_name(b"/db/t.ibd"), None);
        assert_eq!(local_name(b"/srv/remote/db/t.frm"), None);
    }

    #[test]
    fn an_interrupted_rewrite_is_finished_from_its_journal() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        std::fs::write(&log, [0u8; 16]).unwrap();
        let patches = [(3u64, 7u8), (9, 1)];
        let journal = journal_bytes(&patches);
        assert_eq!(parse_journal(&journal).unwrap(), patches);
        // a journal cut short was never complete: the log is left alone, the journal dropped
        std::fs::write(dir.path().join(JOURNAL), &journal[..journal.len() - 1]).unwrap();
        finish_interrupted(dir.path(), &log).unwrap();
        assert_eq!(std::fs::read(&log).unwrap(), [0u8; 16]);
        assert!(!dir.path().join(JOURNAL).exists());
        // a whole journal is applied, then removed
        std::fs::write(dir.path().join(JOURNAL), &journal).unwrap();
        finish_interrupted(dir.path(), &log).unwrap();
        let mut want = [0u8; 16];
        (want[3], want[9]) = (7, 1);
        assert_eq!(std::fs::read(&log).unwrap(), want);
        assert!(!dir.path().join(JOURNAL).exists());
    }

    #[test]
    fn the_isl_files_of_a_backup_are_found() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("db")).unwrap();
        assert_eq!(first_isl(dir.path()), None);
        std::fs::write(dir.path().join("db/t.isl"), "/srv/d/db/t.ibd").unwrap();
        assert_eq!(first_isl(dir.path()), Some(dir.path().join("db/t.isl")));
    }
}
