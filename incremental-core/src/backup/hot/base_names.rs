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
/// `.ibd` files (space id from page 0) and its deltas (from their `.meta`), with its own
/// `.del` files, then its `.ren` files (all at once) applied to them, then its `.new` files
/// (space id from page 0, or, when the server had not written page 0 yet, from the file names
/// in the base's copied redo log), each replacing whatever tablespace had its name: the order
/// of both prepares, whose `.del` and `.ren` never touch a `.new` file. Files that cannot be
/// read are left out (the caller then writes what it would without a base).
pub(crate) fn base_names(dir: &Path) -> BTreeMap<u32, PathBuf> {
    let mut files = Vec::new();
    list(dir, dir, &mut files);
    let mut redo = None;
    let mut names = BTreeMap::new();
    let mut new = Vec::new();
    for rel in &files {
        if let Some((DdlFile::New, ibd)) = parse_marker(rel) {
            let id = space_id(&dir.join(rel)).or_else(|| {
                let by_name = redo.get_or_insert_with(|| redo_file_names(dir));
                by_name.get(&ibd).copied()
            });
            if let Some(id) = id {
                new.push((id, ibd));
            }
        } else if let Some((id, ibd)) = named_space(dir, rel) {
            names.insert(id, ibd);
        }
    }
    for rel in &files {
        if let Some((DdlFile::Deleted, ibd)) = parse_marker(rel) {
            names.retain(|_, n| *n != ibd);
        }
    }
    let renames: BTreeMap<PathBuf, PathBuf> = files
        .iter()
        .filter_map(|rel| match parse_marker(rel) {
            Some((DdlFile::Renamed, from)) => fs::read(dir.join(rel))
                .ok()
                .and_then(|c| parse_rename_target(&c))
                .map(|to| (from, to)),
            _ => None,
        })
        .collect();
    for n in names.values_mut() {
        if let Some(to) = renames.get(n) {
            *n = to.clone();
        }
    }
    for (id, ibd) in new {
        names.retain(|_, n| *n != ibd);
        names.insert(id, ibd);
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
    if !name.ends_with(".ibd") || !name.contains('/') {
        return None;
    }
    Some((space_id(&dir.join(rel))?, rel.to_path_buf()))
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
            // a `DATA DIRECTORY` tablespace is named by its absolute path: `db/t.ibd` in a backup
            let rel = match n.strip_prefix("./") {
                Some(r) => PathBuf::from(r),
                None if n.starts_with('/') && n.ends_with(".ibd") => {
                    let p = Path::new(&n);
                    let db = p.parent().and_then(Path::file_name).unwrap_or_default();
                    Path::new(db).join(p.file_name().unwrap_or_default())
                }
                None => PathBuf::from(&n),
            };
            out.insert(rel, id);
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

    /// Round 128 of soak seed 5: the base (an incremental) has `t4.ibd.delta` of the copied
    /// space 620, `t4.del` (620 was dropped) and `t4.new` of space 642 (created during it);
    /// `t2.ibd.delta` of 614 with `t2.ren` to `db/t5`, and `t5.ibd.delta` of 636 with
    /// `t5.del`. Both prepares run every `.del`, then every `.ren`, then the `.new` files, so
    /// the base has 642 as `t4.ibd` and 614 as `t5.ibd`. Before, the markers were applied
    /// after the `.new` names and in directory order: `t4.del` dropped 642 too, and the next
    /// incremental wrote 642 (renamed to `t0` since) as `t0.new` beside the base's `t4.ibd`
    /// (mariabackup --prepare: "Previous tablespace: ./soak/t0.ibd uses space ID: 642.
    /// Cannot open filepath: ./soak/t4.ibd which uses the same space ID").
    #[test]
    fn markers_apply_to_the_copied_files_before_the_new_files() {
        let d = tempfile::tempdir().unwrap();
        let db = d.path().join("db");
        fs::create_dir(&db).unwrap();
        let meta = |id: u32| format!("page_size = 16384\nzip_size = 0 \nspace_id = {id}\n");
        fs::write(db.join("t4.ibd.meta"), meta(620)).unwrap();
        fs::write(db.join("t4.del"), "").unwrap();
        fs::write(db.join("t4.new"), page0(642)).unwrap();
        fs::write(db.join("t2.ibd.meta"), meta(614)).unwrap();
        fs::write(db.join("t2.ren"), "db/t5").unwrap();
        fs::write(db.join("t5.ibd.meta"), meta(636)).unwrap();
        fs::write(db.join("t5.del"), "").unwrap();
        // two tables that swapped names: the renames apply at once, not one after the other
        fs::write(db.join("a.ibd.meta"), meta(10)).unwrap();
        fs::write(db.join("b.ibd.meta"), meta(11)).unwrap();
        fs::write(db.join("a.ren"), "db/b").unwrap();
        fs::write(db.join("b.ren"), "db/a").unwrap();
        // a full backup's file replaced by a `.new` of the same name (TRUNCATE)
        fs::write(db.join("f.ibd"), page0(597)).unwrap();
        fs::write(db.join("f.del"), "").unwrap();
        fs::write(db.join("f.new"), page0(603)).unwrap();
        // a `.new` under the name another tablespace had in the base replaces it
        fs::write(db.join("g.ibd.meta"), meta(20)).unwrap();
        fs::write(db.join("g.new"), page0(21)).unwrap();
        let n = base_names(d.path());
        let want: BTreeMap<u32, PathBuf> = [
            (642, "t4"),
            (614, "t5"),
            (10, "b"),
            (11, "a"),
            (603, "f"),
            (21, "g"),
        ]
        .into_iter()
        .map(|(id, t)| (id, PathBuf::from(format!("db/{t}.ibd"))))
        .collect();
        assert_eq!(n, want);
    }
}
