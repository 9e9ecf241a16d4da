//! DDL during a hot backup: what changed between the copy of the tablespaces and the moment
//! DDL is blocked (`BACKUP STAGE BLOCK_DDL`), written as mariabackup's DDL files, which
//! `xb prepare` and `mariabackup --prepare` process before recovery:
//!
//! * `DB/T.del` (empty): the tablespace copied as `DB/T.ibd` was dropped (or replaced by
//!   TRUNCATE or a rebuilding ALTER, which create a new tablespace);
//! * `DB/T.ren` holding `DB2/T2`: the tablespace copied as `DB/T.ibd` is now `DB2/T2.ibd`;
//! * `DB/T.new`: a complete copy of a tablespace that exists now but was not copied (created
//!   during the backup, or under a name the copy did not see), taken now; in an incremental
//!   also of a tablespace copied as a delta whose rename `mariabackup --prepare` cannot follow
//!   (see `copy_whole_what_mariabackup_cannot_rename`).
//!
//! Tablespaces are matched by space id (page 0), which InnoDB never reuses: a table renamed
//! keeps it, a table truncated or rebuilt gets a new one. The system and undo tablespaces are
//! never part of DDL.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::backup::contents::{OtherFile, TablespacePlan};
use crate::backup::files::{self, Filter};
use crate::backup::BackupError;
use crate::format::ddl_files::{marker_path, parse_marker, table_name, DdlFile};

/// What the DDL pass found.
#[derive(Debug, Default)]
pub(crate) struct DdlChanges {
    /// Copied tablespaces dropped since (their path in the backup).
    pub deleted: Vec<PathBuf>,
    /// Copied tablespaces renamed since: (path in the backup, path now).
    pub renamed: Vec<(PathBuf, PathBuf)>,
    /// Tablespaces to copy whole now, with their `rel` set to the `.new` name.
    pub new: Vec<TablespacePlan>,
    /// Tablespaces not copied as listed (their first page was not written yet) that the base
    /// has under another name: every page is copied now as a delta under the base's name
    /// (their `rel`), and a rename to the name they have now is in `renamed`. As `.new` files
    /// they would stand beside the base's copy, and mariabackup's prepare refuses two files
    /// with one space id.
    pub rebased: Vec<TablespacePlan>,
    /// Tablespace files whose first page the server has not written yet (created since its
    /// last checkpoint, which is after the backup's start): copied as they are to `.new`,
    /// as mariabackup does; recovery rebuilds them from the redo log, which holds their
    /// creation.
    pub raw_new: Vec<OtherFile>,
    /// Things worth telling.
    pub notes: Vec<String>,
}

/// The names a tablespace had in the redo log copied by this backup (from its start
/// checkpoint on), as relative paths, and the space each name named last.
#[derive(Debug, Default)]
pub(crate) struct RedoNames {
    /// Space id → every name it had.
    pub names: BTreeMap<u32, BTreeSet<String>>,
    /// Name → the space it named last.
    pub by_name: BTreeMap<String, u32>,
}

/// `./db/t.ibd` (as the redo log names files) → `db/t.ibd`; a tablespace created with `DATA
/// DIRECTORY` (`/dir/db/t.ibd`) → `db/t.ibd`, its name in a backup; `None` for another file
/// outside the datadir.
fn redo_rel(dd: &Path, name: &str) -> Option<PathBuf> {
    if let Some(r) = name.strip_prefix("./") {
        return Some(PathBuf::from(r));
    }
    let rel = files::rel_to(dd, Path::new(name));
    (rel.components().count() == 2).then_some(rel)
}

/// Compares the tablespaces copied (`copied`) with those of the datadir now. `redo`: the file
/// names seen in this backup's redo, to find the other names a tablespace copied whole now
/// had (a table created during the base backup and renamed since is in the base under an older
/// name: that copy is deleted, as mariabackup's prepare would otherwise find two files with
/// one space id). `base`: the names the base of an incremental gives its tablespaces, by space
/// id (empty for a full backup); called only when a tablespace was not copied as listed, since
/// it reads the base (this runs while DDL is blocked).
pub(crate) fn compare(
    dd: &Path,
    copied: &[TablespacePlan],
    filter: &Filter,
    redo: &RedoNames,
    base: &dyn Fn() -> BTreeMap<u32, PathBuf>,
    dirs: &crate::backup::layout::SourceDirs,
) -> Result<DdlChanges, BackupError> {
    let files = files::scan_datadir(dd, dirs)?;
    let rel = |p: &Path| files::rel_to(dd, p);
    let fixed = FixedFiles {
        system: files.system.iter().map(|p| rel(p)).collect(),
        undo: files.undo.iter().map(|p| rel(p)).collect(),
    };
    let mut out = DdlChanges::default();
    let mut now: BTreeMap<u32, TablespacePlan> = BTreeMap::new();
    for group in files.tablespace_groups() {
        let r = rel(&group[0]);
        if !fixed.is_user(&r) || !filter.keeps_file(&r) {
            continue;
        }
        match files::open_tablespace(dd, &group, true) {
            Ok(t) => {
                now.insert(t.space_id, t);
            }
            Err(e) => unusable_now(&group[0], &r, e, &mut out),
        }
    }
    let copied_ids = compare_copied(copied, &now, &fixed, &mut out);
    let base_names = std::cell::OnceCell::new();
    let mut copied_now = BTreeMap::new();
    for (id, mut t) in now {
        if copied_ids.contains(&id) {
            copied_now.insert(id, t);
            continue;
        }
        if let Some(old) = base_names
            .get_or_init(base)
            .get(&id)
            .filter(|o| t.files.len() == 1 && **o != t.files[0].rel)
        {
            out.renamed.push((old.clone(), t.files[0].rel.clone()));
            t.files[0].rel = old.clone();
            t.method = crate::backup::Method::Scan;
            t.why = "renamed since the base, not readable when listed: every page copied now, \
                     as a delta under its name in the base"
                .into();
            out.rebased.push(t);
            continue;
        }
        for f in &mut t.files {
            f.rel = marker_path(&f.rel, DdlFile::New);
        }
        t.why = "created during the backup: copied whole under BACKUP STAGE BLOCK_DDL".into();
        out.new.push(t);
    }
    let no_base = BTreeMap::new();
    let base = if out.new.is_empty() && out.raw_new.is_empty() {
        &no_base
    } else {
        base_names.get_or_init(base)
    };
    copy_whole_what_mariabackup_cannot_rename(copied_now, base, &mut out);
    delete_older_names(dd, copied, redo, &fixed, &mut out);
    Ok(out)
}

/// The renamed tablespaces of an incremental that `mariabackup --prepare` cannot follow, which
/// are copied whole now, as a `.new` under their name now, instead of a `.ren` of their delta
/// (the delta stays, under the name copied, where the `.new` of that name makes both prepares
/// skip it):
///
/// * one whose name in the base (`base`, by space id) is now the name of a `.new` file: the
///   prepare moves the `.new` onto the base's file of that name, then applies the renamed
///   tablespace's delta by space id, finds no file with it and starts an empty one, which
///   recovery refuses ("Cannot apply log to [page id: space=5, page number=0] of corrupted
///   file './db/t4.ibd'", issue 17); mariabackup 10.11 fails so on its own incremental of a
///   table renamed and another created under the old name;
/// * one renamed in a cycle (two tables that swapped names through a third): the prepare
///   renames the deltas of a `.ren` whose target name has a delta one extension at a time, and
///   fails on the cycle ("Can't rename db/t4.ibd.meta to db/t4#.ibd.meta").
///
/// `copied_now`: the tablespaces copied as deltas, by space id, as they are named now.
fn copy_whole_what_mariabackup_cannot_rename(
    copied_now: BTreeMap<u32, TablespacePlan>,
    base: &BTreeMap<u32, PathBuf>,
    out: &mut DdlChanges,
) {
    let new_names: BTreeSet<PathBuf> = out
        .new
        .iter()
        .map(|t| ibd_name(&t.files[0].rel))
        .chain(out.raw_new.iter().map(|f| ibd_name(&f.rel)))
        .collect();
    // names now of the tablespaces to copy whole, with why
    let mut whole: BTreeMap<PathBuf, String> = BTreeMap::new();
    for (id, in_base) in base {
        if let Some(t) = copied_now.get(id)
            && new_names.contains(in_base)
            && t.files[0].rel != *in_base
        {
            let why = format!(
                "its name in the base, {}, is now another table's (a .new file)",
                in_base.display()
            );
            whole.insert(t.files[0].rel.clone(), why);
        }
    }
    let map: BTreeMap<&PathBuf, &PathBuf> = out.renamed.iter().map(|(f, t)| (f, t)).collect();
    for (from, to) in &out.renamed {
        let mut at: &PathBuf = to;
        for _ in 0..=map.len() {
            if at == from {
                whole.insert(
                    to.clone(),
                    format!("renamed from {} in a cycle", from.display()),
                );
                break;
            }
            match map.get(at) {
                Some(&next) => at = next,
                None => break,
            }
        }
    }
    if whole.is_empty() {
        return;
    }
    // the names their deltas were copied under
    let copied_as: Vec<PathBuf> = out
        .renamed
        .iter()
        .filter(|(_, to)| whole.contains_key(to))
        .map(|(from, _)| from.clone())
        .collect();
    out.renamed.retain(|(_, to)| !whole.contains_key(to));
    let rebased = std::mem::take(&mut out.rebased);
    let (gone, kept): (Vec<_>, Vec<_>) = rebased.into_iter().partition(|t| {
        // a rebased tablespace is named now by the file it is read from
        whole.keys().any(|now| t.files[0].src.ends_with(now))
    });
    out.rebased = kept;
    let mut plans: Vec<TablespacePlan> = copied_now
        .into_values()
        .filter(|t| t.files.len() == 1 && whole.contains_key(&t.files[0].rel))
        .collect();
    for mut t in gone {
        if let Some(now) = whole.keys().find(|now| t.files[0].src.ends_with(now)) {
            t.files[0].rel = now.clone();
            plans.push(t);
        }
    }
    for mut t in plans {
        let now = t.files[0].rel.clone();
        t.files[0].rel = marker_path(&now, DdlFile::New);
        t.why = format!(
            "renamed during the backup, {}: copied whole under BACKUP STAGE BLOCK_DDL, as \
             mariabackup's prepare cannot follow the rename of its delta",
            whole[&now]
        );
        out.new.push(t);
    }
    // A delta whose name no `.new` has (renamed before this backup, then again during it) is
    // deleted, or mariabackup's prepare would apply it to an empty file of that name.
    let new_names: BTreeSet<PathBuf> = out
        .new
        .iter()
        .map(|t| ibd_name(&t.files[0].rel))
        .chain(out.raw_new.iter().map(|f| ibd_name(&f.rel)))
        .collect();
    for from in copied_as {
        if !new_names.contains(&from) && !out.deleted.contains(&from) {
            out.deleted.push(from);
        }
    }
}

/// The system and undo tablespace files of the datadir (relative paths), never part of DDL.
struct FixedFiles {
    system: BTreeSet<PathBuf>,
    undo: BTreeSet<PathBuf>,
}

impl FixedFiles {
    fn is_user(&self, rel: &Path) -> bool {
        !self.system.contains(rel) && !self.undo.contains(rel)
    }
}

/// A tablespace file `path` (`rel` in the datadir) that does not open now: copied as it is to
/// `.new` when its first page was never written, else told in a note.
fn unusable_now(path: &Path, rel: &Path, e: BackupError, out: &mut DdlChanges) {
    if first_kib_is_zero(path) {
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        out.raw_new.push(OtherFile::new(
            path.to_path_buf(),
            marker_path(rel, DdlFile::New),
            size,
        ));
    } else {
        out.notes.push(format!(
            "{}: not copied ({e}): its tablespace is not usable yet",
            path.display()
        ));
    }
}

/// The user tablespaces copied, against those of the datadir now (`now`, by space id): the
/// dropped ones and the renamed ones go into `out`. Returns the space ids copied.
fn compare_copied(
    copied: &[TablespacePlan],
    now: &BTreeMap<u32, TablespacePlan>,
    fixed: &FixedFiles,
    out: &mut DdlChanges,
) -> BTreeSet<u32> {
    let mut copied_ids = BTreeSet::new();
    for t in copied {
        let r = &t.files[0].rel;
        if !fixed.is_user(r) {
            continue;
        }
        copied_ids.insert(t.space_id);
        match now.get(&t.space_id) {
            None => out.deleted.push(r.clone()),
            Some(n) if n.files[0].rel != *r => {
                out.renamed.push((r.clone(), n.files[0].rel.clone()));
            }
            Some(_) => {}
        }
    }
    copied_ids
}

/// The tablespace file `rel` names: `.ibd` kept or added (`db/t.ibd`, `db/t` → `db/t.ibd`),
/// and a `.new` copy's (`db/t.new` → `db/t.ibd`).
fn ibd_name(rel: &Path) -> PathBuf {
    match parse_marker(rel) {
        Some((DdlFile::New, ibd)) => ibd,
        _ => PathBuf::from(format!("{}.ibd", table_name(rel))),
    }
}

/// Adds to `out.deleted` the older names of the tablespaces copied whole now.
fn delete_older_names(
    dd: &Path,
    copied: &[TablespacePlan],
    redo: &RedoNames,
    fixed: &FixedFiles,
    out: &mut DdlChanges,
) {
    // Older names of the tablespaces copied whole now, unless another tablespace has the name.
    let current: BTreeSet<PathBuf> = copied
        .iter()
        .map(|t| t.files[0].rel.clone())
        .chain(out.new.iter().map(|t| ibd_name(&t.files[0].rel)))
        .chain(out.raw_new.iter().map(|f| ibd_name(&f.rel)))
        .chain(out.renamed.iter().map(|(_, to)| to.clone()))
        .chain(out.rebased.iter().map(|t| t.files[0].rel.clone()))
        .collect();
    for (id, rel) in copied_whole(dd, redo, out) {
        for n in redo.names.get(&id).into_iter().flatten() {
            let Some(old) = redo_rel(dd, n) else { continue };
            if old != rel
                && !current.contains(&old)
                && !out.deleted.contains(&old)
                && fixed.is_user(&old)
            {
                out.deleted.push(old);
            }
        }
    }
}

/// The tablespaces copied whole now, with their space ids: those that opened, and those copied
/// as they are whose space the redo names.
fn copied_whole(dd: &Path, redo: &RedoNames, out: &DdlChanges) -> Vec<(u32, PathBuf)> {
    let mut whole: Vec<(u32, PathBuf)> = out
        .new
        .iter()
        .map(|t| (t.space_id, ibd_name(&t.files[0].rel)))
        .collect();
    for f in &out.raw_new {
        let rel = ibd_name(&f.rel);
        let id = redo
            .by_name
            .iter()
            .find(|(n, _)| redo_rel(dd, n).as_deref() == Some(rel.as_path()))
            .map(|(_, &id)| id);
        if let Some(id) = id {
            whole.push((id, rel));
        }
    }
    whole
}

/// Whether the file's first KiB is all zero (a first page never written).
fn first_kib_is_zero(p: &Path) -> bool {
    use std::os::unix::fs::FileExt;
    let Ok(f) = std::fs::File::open(p) else {
        return false;
    };
    let mut b = [0u8; 1024];
    f.read_exact_at(&mut b, 0).is_ok() && b.iter().all(|&x| x == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tablespace file of `pages` full_crc32 16 KiB pages of space `space`.
    fn tablespace(space: u32, pages: u32) -> Vec<u8> {
        use innodb_page::checksum::{stamp, Algorithm};
        let mut f = Vec::new();
        for n in 0..pages {
            let mut p = vec![0u8; 16384];
            p[4..8].copy_from_slice(&n.to_be_bytes());
            p[16..24].copy_from_slice(&1000u64.to_be_bytes());
            p[24..26].copy_from_slice(&17855u16.to_be_bytes());
            p[34..38].copy_from_slice(&space.to_be_bytes());
            if n == 0 {
                p[24..26].copy_from_slice(&8u16.to_be_bytes()); // FSP_HDR
                p[38..42].copy_from_slice(&space.to_be_bytes());
                p[46..50].copy_from_slice(&pages.to_be_bytes());
                p[54..58].copy_from_slice(&0x15u32.to_be_bytes()); // full_crc32, 16K
            }
            stamp(&mut p, Algorithm::FullCrc32).unwrap();
            f.extend(p);
        }
        f
    }

    /// A tablespace the copy could not read (its first page not written yet) and that the
    /// base has under an older name: before, it became `db/r25.new` beside the base's
    /// `db/r4.ibd`, and `mariabackup --prepare` refused the two files with one space id (seen
    /// in hot_mariadb's DDL test). Now every page goes as a delta under the base's name, with
    /// a rename to the name it has now.
    #[test]
    fn a_tablespace_the_base_has_under_another_name_is_renamed_not_new() {
        let d = tempfile::tempdir().unwrap();
        let dd = d.path();
        std::fs::write(dd.join("ibdata1"), tablespace(0, 4)).unwrap();
        std::fs::create_dir(dd.join("db")).unwrap();
        std::fs::write(dd.join("db/r25.ibd"), tablespace(8, 4)).unwrap();
        std::fs::write(dd.join("db/c.ibd"), tablespace(9, 4)).unwrap();
        let base = || BTreeMap::from([(8, PathBuf::from("db/r4.ibd"))]);
        let filter = Filter::default();
        let out = compare(
            dd,
            &[],
            &filter,
            &RedoNames::default(),
            &base,
            &Default::default(),
        )
        .unwrap();
        assert_eq!(
            out.renamed,
            [(PathBuf::from("db/r4.ibd"), PathBuf::from("db/r25.ibd"))]
        );
        let rebased: Vec<_> = out
            .rebased
            .iter()
            .map(|t| (t.space_id, t.files[0].rel.clone()))
            .collect();
        assert_eq!(rebased, [(8, PathBuf::from("db/r4.ibd"))]);
        assert_eq!(out.rebased[0].files[0].src, dd.join("db/r25.ibd"));
        // A tablespace the base does not have is still copied whole as `.new`.
        let new: Vec<_> = out.new.iter().map(|t| t.files[0].rel.clone()).collect();
        assert_eq!(new, [PathBuf::from("db/c.new")]);
        assert!(
            !out.deleted.contains(&PathBuf::from("db/r4.ibd")),
            "{:?}",
            out.deleted
        );
    }

    /// Issue 17: during an incremental, `db/t5` (copied as a delta) was renamed to `db/t4` and
    /// a new `db/t5` created, and `db/a` and `db/b` swapped names. `mariabackup --prepare`
    /// cannot follow either rename of a delta (it moves `db/t5.new` onto the base's `db/t5.ibd`
    /// before the delta of space 8 looks for it; it fails on the cycle of `.ren` files), so
    /// those tablespaces are copied whole under their names now, and no `.ren` is written.
    #[test]
    fn renames_mariabackup_cannot_follow_become_whole_copies() {
        let d = tempfile::tempdir().unwrap();
        let dd = d.path();
        std::fs::write(dd.join("ibdata1"), tablespace(0, 4)).unwrap();
        std::fs::create_dir(dd.join("db")).unwrap();
        let db = dd.join("db");
        for (name, id) in [
            ("t5", 8),
            ("a", 10),
            ("b", 11),
            ("c", 12),
            ("d", 13),
            ("e", 14),
        ] {
            std::fs::write(db.join(format!("{name}.ibd")), tablespace(id, 4)).unwrap();
        }
        let copied: Vec<TablespacePlan> = ["t5", "a", "b", "c", "d", "e"]
            .iter()
            .map(|n| files::open_tablespace(dd, &[db.join(format!("{n}.ibd"))], false).unwrap())
            .collect();
        std::fs::rename(db.join("t5.ibd"), db.join("t4.ibd")).unwrap();
        std::fs::write(db.join("t5.ibd"), tablespace(9, 4)).unwrap();
        std::fs::rename(db.join("a.ibd"), db.join("tmp.ibd")).unwrap();
        std::fs::rename(db.join("b.ibd"), db.join("a.ibd")).unwrap();
        std::fs::rename(db.join("tmp.ibd"), db.join("b.ibd")).unwrap();
        // a plain rename stays a rename
        std::fs::rename(db.join("c.ibd"), db.join("c2.ibd")).unwrap();
        // `e0` in the base, renamed to `e` before the backup, to `e2` during it, and a new `e0`
        std::fs::rename(db.join("e.ibd"), db.join("e2.ibd")).unwrap();
        std::fs::write(db.join("e0.ibd"), tablespace(15, 4)).unwrap();
        let base = || {
            [
                (8, "t5"),
                (10, "a"),
                (11, "b"),
                (12, "c"),
                (13, "d"),
                (14, "e0"),
            ]
            .into_iter()
            .map(|(id, n)| (id, PathBuf::from(format!("db/{n}.ibd"))))
            .collect()
        };
        let out = compare(
            dd,
            &copied,
            &Filter::default(),
            &RedoNames::default(),
            &base,
            &Default::default(),
        )
        .unwrap();
        assert_eq!(
            out.renamed,
            [(PathBuf::from("db/c.ibd"), PathBuf::from("db/c2.ibd"))]
        );
        let new: BTreeSet<_> = out
            .new
            .iter()
            .map(|t| (t.space_id, t.files[0].rel.clone()))
            .collect();
        let want: BTreeSet<_> = [
            (9, "t5"),
            (8, "t4"),
            (11, "a"),
            (10, "b"),
            (15, "e0"),
            (14, "e2"),
        ]
        .into_iter()
        .map(|(id, n)| (id, PathBuf::from(format!("db/{n}.new"))))
        .collect();
        assert_eq!(new, want);
        // the delta copied as `e` is applied by no prepare
        assert_eq!(out.deleted, [PathBuf::from("db/e.ibd")]);
        assert!(out.rebased.is_empty());
    }

    #[test]
    fn marker_names() {
        assert_eq!(
            marker_path(Path::new("db/t.ibd"), DdlFile::Deleted),
            Path::new("db/t.del")
        );
        assert_eq!(table_name(Path::new("db/t.ibd")), "db/t");
        assert_eq!(
            marker_path(Path::new("db/x"), DdlFile::New),
            Path::new("db/x.new")
        );
        assert_eq!(ibd_name(Path::new("db/t.ibd")), Path::new("db/t.ibd"));
        assert_eq!(ibd_name(Path::new("db/t")), Path::new("db/t.ibd"));
        assert_eq!(ibd_name(Path::new("db/t.new")), Path::new("db/t.ibd"));
    }
}
