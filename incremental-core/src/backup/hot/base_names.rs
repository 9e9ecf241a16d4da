//! The names the base of an incremental gives its tablespaces, by space id: what its prepare
//! leaves, so that a tablespace the incremental finds under another name (renamed since) is
//! written against the name the base has.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use innodb_page::fsp::FspHeader;
use innodb_page::redo::file::log_file_path;
use innodb_page::redo::RedoFormat;

use super::log_copy::file_records;

use crate::format::ddl_files::{parse_marker, parse_rename_target, DdlFile};
use crate::format::meta::Meta;

/// Space id → the tablespace's file (`db/t.ibd`) once the base `dir` is prepared: its
/// `.ibd` files (space id from page 0), its deltas (from their `.meta`) and its `.new` files
/// (from page 0, or, when the server had not written page 0 yet, from the file names in the
/// base's copied redo log), then its own `.del` and `.ren` files applied. Files that cannot be
/// read are left out (the caller then writes what it would without a base).
pub(crate) fn base_names(dir: &Path) -> BTreeMap<u32, PathBuf> {
    let mut files = Vec::new();
    list(dir, dir, &mut files);
    let mut redo = None;
    let mut names = BTreeMap::new();
    for rel in &files {
        if let Some((id, ibd)) = named_space(dir, rel) {
            names.insert(id, ibd);
        } else if let Some((DdlFile::New, ibd)) = parse_marker(rel) {
            let by_name = redo.get_or_insert_with(|| redo_file_names(dir));
            if let Some(&id) = by_name.get(&ibd) {
                names.insert(id, ibd);
            }
        }
    }
    for rel in &files {
        apply_marker(dir, rel, &mut names);
    }
    names
}

/// The space id and tablespace name a file of the base stands for, if it is a tablespace.
fn named_space(dir: &Path, rel: &Path) -> Option<(u32, PathBuf)> {
    let name = rel.to_str()?;
    if let Some(ibd) = name.strip_suffix(".meta") {
        let meta = Meta::read_file(dir.join(rel)).ok()?;
        return Some((meta.space_id?, PathBuf::from(ibd)));
    }
    let ibd = match parse_marker(rel) {
        Some((DdlFile::New, ibd)) => ibd,
        _ if name.ends_with(".ibd") && name.contains('/') => rel.to_path_buf(),
        _ => return None,
    };
    Some((space_id(&dir.join(rel))?, ibd))
}

/// A `.del` or `.ren` of the base, applied to `names`.
fn apply_marker(dir: &Path, rel: &Path, names: &mut BTreeMap<u32, PathBuf>) {
    match parse_marker(rel) {
        Some((DdlFile::Deleted, ibd)) => names.retain(|_, n| *n != ibd),
        Some((DdlFile::Renamed, from)) => {
            let Some(to) = fs::read(dir.join(rel))
                .ok()
                .and_then(|c| parse_rename_target(&c))
            else {
                return;
            };
            for n in names.values_mut().filter(|n| **n == from) {
                *n = to.clone();
            }
        }
        _ => {}
    }
}

/// The space id in page 0 of a tablespace file (`None` when page 0 is unreadable or zero).
fn space_id(path: &Path) -> Option<u32> {
    let mut head = [0u8; 1024];
    fs::File::open(path).ok()?.read_exact(&mut head).ok()?;
    let h = FspHeader::parse(&head).ok()?;
    (h.space_id != 0).then_some(h.space_id)
}

/// Tablespace file (`db/t.ibd`) → the space it named last, from the file records of the
/// copied redo log in `dir` (MariaDB 10.8+; empty otherwise or when it cannot be read).
fn redo_file_names(dir: &Path) -> BTreeMap<PathBuf, u32> {
    let mut out = BTreeMap::new();
    let path = log_file_path(dir);
    let Ok(log) = innodb_page::redo::open(&path) else {
        return out;
    };
    if log.format != RedoFormat::MariaDb108 {
        return out;
    }
    // an encrypted log is decrypted with the keys the base's backup-my.cnf names
    let Ok(mut r) = crate::encryption::backup_log_reader(dir, &log, log.checkpoint_lsn()) else {
        return out;
    };
    let mut found = Vec::new();
    while let Ok(Some(m)) = r.next_mtr() {
        file_records(m.readable_records(), &mut found);
    }
    for (id, names) in found {
        for n in names {
            out.insert(PathBuf::from(n.strip_prefix("./").unwrap_or(&n)), id);
        }
    }
    out
}

/// Every file below `dir`, relative to `root`.
fn list(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            list(root, &p, out);
        } else if let Ok(rel) = p.strip_prefix(root) {
            out.push(rel.to_path_buf());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page0(space_id: u32) -> Vec<u8> {
        // FSP header: space id at 38, also in the FIL header at 34; flags 0 (16 KiB pages).
        let mut p = vec![0u8; 16384];
        p[24..26].copy_from_slice(&8u16.to_be_bytes()); // FIL_PAGE_TYPE_FSP_HDR
        p[34..38].copy_from_slice(&space_id.to_be_bytes());
        p[38..42].copy_from_slice(&space_id.to_be_bytes());
        p
    }

    #[test]
    fn names_from_files_metas_new_files_and_markers() {
        let d = tempfile::tempdir().unwrap();
        let db = d.path().join("db");
        fs::create_dir(&db).unwrap();
        fs::write(db.join("a.ibd"), page0(5)).unwrap();
        fs::write(db.join("r4.new"), page0(8)).unwrap();
        fs::write(
            db.join("m.ibd.meta"),
            "page_size = 16384\nzip_size = 0 \nspace_id = 9\n",
        )
        .unwrap();
        fs::write(db.join("x.ibd"), page0(10)).unwrap();
        fs::write(db.join("x.del"), "").unwrap();
        fs::write(db.join("m.ren"), "db/m2").unwrap();
        let n = base_names(d.path());
        assert_eq!(n.get(&5), Some(&PathBuf::from("db/a.ibd")));
        assert_eq!(n.get(&8), Some(&PathBuf::from("db/r4.ibd")));
        assert_eq!(n.get(&9), Some(&PathBuf::from("db/m2.ibd")));
        assert_eq!(n.get(&10), None);
    }
}
