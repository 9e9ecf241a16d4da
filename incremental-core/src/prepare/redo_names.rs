//! The space ids that the file names of a backup's copied redo log stand for at its end.
//!
//! A hot backup copies whole (`.new`) the tablespaces created during it. When the server has
//! not flushed page 0 of such a tablespace yet (it was created after the server's last
//! checkpoint), the copy's page 0 is all zero and does not tell the space id; the deltas of
//! the next incrementals name that tablespace by its space id only. The redo log the same backup
//! copied holds its creation (the file was created after the backup's start checkpoint): its
//! file records (FILE_CREATE, FILE_RENAME, FILE_DELETE, FILE_MODIFY) tell which space each name
//! stands for when the log ends, which is what `mariabackup --prepare` learns by applying that
//! redo before the next incremental. The backup reads its base the same way
//! (`backup/hot/base_names.rs`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use innodb_page::redo::file::log_file_path;
use innodb_page::redo::mtr::Records;
use innodb_page::redo::RedoFormat;

use super::backup_dir::BackupDir;

/// `db/t.ibd` → the space that name stands for at the end of the redo log copied by `b`
/// (MariaDB 10.8+ logs; encrypted ones with the keys its `backup-my.cnf` names). Empty when
/// the log cannot be read: the caller then knows no more than without it.
pub(super) fn names_at_end(b: &BackupDir) -> BTreeMap<PathBuf, u32> {
    let mut out = BTreeMap::new();
    let Ok(dir) = b.log_dir() else {
        return out;
    };
    let Ok(log) = innodb_page::redo::open(&log_file_path(&dir)) else {
        return out;
    };
    if log.format != RedoFormat::MariaDb108 {
        return out;
    }
    let Ok(mut r) = crate::encryption::backup_log_reader(&dir, &log, log.checkpoint_lsn()) else {
        return out;
    };
    while let Ok(Some(m)) = r.next_mtr() {
        apply_file_records(m.readable_records(), &mut out);
    }
    out
}

/// Applies the file-level records at the start of one mtr's `records` to `names`, in order:
/// a created, renamed-to or modified name stands for its space; a deleted or renamed-from name
/// no longer does.
fn apply_file_records(records: &[u8], names: &mut BTreeMap<PathBuf, u32>) {
    for r in Records::new(records) {
        // File records come before the first page record of an mtr.
        if !r.same_page() {
            break;
        }
        let Some((space, _)) = r.page_id() else {
            continue;
        };
        let mut files = r.file_names().map(|(_, n)| rel_name(n));
        let first = files.next().flatten();
        match (r.file_type(), first) {
            (0x80 | 0xB0, Some(n)) => {
                names.insert(n, space);
            }
            (0x90, Some(n)) if names.get(&n) == Some(&space) => {
                names.remove(&n);
            }
            (0xA0, old) => {
                if let Some(n) = old
                    && names.get(&n) == Some(&space)
                {
                    names.remove(&n);
                }
                if let Some(Some(n)) = files.next() {
                    names.insert(n, space);
                }
            }
            _ => {}
        }
    }
}

/// A file name of the redo log (`./db/t.ibd`) as a path relative to the datadir; `None` for
/// a file outside it.
fn rel_name(n: &[u8]) -> Option<PathBuf> {
    let n = std::str::from_utf8(n).ok()?;
    n.strip_prefix("./").map(PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file-level record of type `op` for `space` naming `files` (NUL-separated).
    fn file_record(op: u8, space: u8, files: &[&str]) -> Vec<u8> {
        let mut body = vec![space, 0];
        body.extend_from_slice(files.join("\0").as_bytes());
        let mut r = vec![op];
        if body.len() <= 15 {
            r[0] |= body.len() as u8;
        } else {
            // nibble 0: a varint of the length minus 15 (body + this byte), then the body
            r.push((body.len() + 1 - 15) as u8);
        }
        r.extend(body);
        r
    }

    #[test]
    fn the_last_record_naming_a_file_decides() {
        let mut names = BTreeMap::new();
        let mut apply = |recs: Vec<Vec<u8>>| apply_file_records(&recs.concat(), &mut names);
        apply(vec![file_record(0x80, 9, &["./d/t.ibd"])]);
        // rebuilt: the old space renamed away, the new one renamed onto the name, old dropped
        apply(vec![file_record(0x80, 12, &["./d/#sql-a.ibd"])]);
        apply(vec![
            file_record(0xA0, 9, &["./d/t.ibd", "./d/#sql-ib1.ibd"]),
            file_record(0xA0, 12, &["./d/#sql-a.ibd", "./d/t.ibd"]),
        ]);
        apply(vec![file_record(0x90, 9, &["./d/#sql-ib1.ibd"])]);
        // renamed away with nothing in its place
        apply(vec![file_record(0xB0, 13, &["./d/u.ibd"])]);
        apply(vec![file_record(0xA0, 13, &["./d/u.ibd", "./d/v.ibd"])]);
        // a file outside the datadir, and a page record ending the file records
        apply(vec![
            file_record(0x80, 14, &["/abs/w.ibd"]),
            vec![0x34, 14, 3, 0x26, 0xAB],
            file_record(0x80, 15, &["./d/late.ibd"]),
        ]);
        let want: BTreeMap<PathBuf, u32> = [("d/t.ibd", 12), ("d/v.ibd", 13)]
            .map(|(n, s)| (PathBuf::from(n), s))
            .into();
        assert_eq!(names, want);
    }
}
