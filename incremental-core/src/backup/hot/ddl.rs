//! DDL during a hot backup: what changed between the copy of the tablespaces and the moment
//! DDL is blocked (`BACKUP STAGE BLOCK_DDL`), written as mariabackup's DDL files, which
//! `xb prepare` and `mariabackup --prepare` process before recovery:
//!
//! * `DB/T.del` (empty): the tablespace copied as `DB/T.ibd` was dropped (or replaced by
//!   TRUNCATE or a rebuilding ALTER, which create a new tablespace);
//! * `DB/T.ren` holding `DB2/T2`: the tablespace copied as `DB/T.ibd` is now `DB2/T2.ibd`;
//! * `DB/T.new`: a complete copy of a tablespace that exists now but was not copied (created
//!   during the backup, or under a name the copy did not see), taken now.
//!
//! Tablespaces are matched by space id (page 0), which InnoDB never reuses: a table renamed
//! keeps it, a table truncated or rebuilt gets a new one. The system and undo tablespaces are
//! never part of DDL.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::backup::contents::{OtherFile, TablespacePlan};
use crate::backup::source::{self, Filter};
use crate::backup::BackupError;

/// What the DDL pass found.
#[derive(Debug, Default)]
pub(crate) struct DdlChanges {
    /// Copied tablespaces dropped since (their path in the backup).
    pub deleted: Vec<PathBuf>,
    /// Copied tablespaces renamed since: (path in the backup, path now).
    pub renamed: Vec<(PathBuf, PathBuf)>,
    /// Tablespaces to copy whole now, with their `rel` set to the `.new` name.
    pub new: Vec<TablespacePlan>,
    /// Tablespace files whose first page the server has not written yet (created since its
    /// last checkpoint, which is after the backup's start): copied as they are to `.new`,
    /// as mariabackup does; recovery rebuilds them from the redo log, which holds their
    /// creation.
    pub raw_new: Vec<OtherFile>,
    /// Things worth telling.
    pub notes: Vec<String>,
}

/// `db/t.ibd` → `db/t` + `ext`.
pub(crate) fn with_ext(rel: &Path, ext: &str) -> PathBuf {
    let s = rel.to_string_lossy();
    let stem = s.strip_suffix(".ibd").unwrap_or(&s);
    PathBuf::from(format!("{stem}{ext}"))
}

fn is_user(rel: &Path, system: &BTreeSet<PathBuf>, undo: &BTreeSet<PathBuf>) -> bool {
    !system.contains(rel) && !undo.contains(rel)
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

/// `./db/t.ibd` (as the redo log names files) → `db/t.ibd`; `None` for a file outside the
/// datadir.
fn redo_rel(dd: &Path, name: &str) -> Option<PathBuf> {
    if let Some(r) = name.strip_prefix("./") {
        return Some(PathBuf::from(r));
    }
    Path::new(name).strip_prefix(dd).ok().map(Path::to_path_buf)
}

/// Compares the tablespaces copied (`copied`) with those of the datadir now. `redo`: the file
/// names seen in this backup's redo, to find the other names a tablespace copied whole now
/// had (a table created during the base backup and renamed since is in the base under an older
/// name: that copy is deleted, as mariabackup's prepare would otherwise find two files with
/// one space id).
pub(crate) fn compare(
    dd: &Path,
    copied: &[TablespacePlan],
    filter: &Filter,
    redo: &RedoNames,
) -> Result<DdlChanges, BackupError> {
    let files = source::scan_datadir(dd)?;
    let rel = |p: &Path| p.strip_prefix(dd).unwrap_or(p).to_path_buf();
    let system: BTreeSet<PathBuf> = files.system.iter().map(|p| rel(p)).collect();
    let undo: BTreeSet<PathBuf> = files.undo.iter().map(|p| rel(p)).collect();
    let mut out = DdlChanges::default();
    let mut now: BTreeMap<u32, TablespacePlan> = BTreeMap::new();
    for group in files.tablespace_groups() {
        let r = rel(&group[0]);
        if !is_user(&r, &system, &undo) || !filter.keeps_file(&r) {
            continue;
        }
        match source::open_tablespace(dd, &group, true) {
            Ok(t) => {
                now.insert(t.space_id, t);
            }
            Err(e) => {
                if first_kib_is_zero(&group[0]) {
                    let size = std::fs::metadata(&group[0]).map(|m| m.len()).unwrap_or(0);
                    out.raw_new
                        .push(OtherFile::new(group[0].clone(), with_ext(&r, ".new"), size));
                } else {
                    out.notes.push(format!(
                        "{}: not copied ({e}): its tablespace is not usable yet",
                        group[0].display()
                    ));
                }
            }
        }
    }
    let mut copied_ids = BTreeSet::new();
    for t in copied {
        let r = &t.files[0].rel;
        if !is_user(r, &system, &undo) {
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
    for (id, mut t) in now {
        if copied_ids.contains(&id) {
            continue;
        }
        for f in &mut t.files {
            f.rel = with_ext(&f.rel, ".new");
        }
        t.why = "created during the backup: copied whole under BACKUP STAGE BLOCK_DDL".into();
        out.new.push(t);
    }
    // Older names of the tablespaces copied whole now, unless another tablespace has the name.
    let current: BTreeSet<PathBuf> = copied
        .iter()
        .map(|t| t.files[0].rel.clone())
        .chain(out.new.iter().map(|t| with_ext(&t.files[0].rel, ".ibd")))
        .chain(out.raw_new.iter().map(|f| with_ext(&f.rel, ".ibd")))
        .chain(out.renamed.iter().map(|(_, to)| to.clone()))
        .collect();
    let mut whole: Vec<(u32, PathBuf)> = out
        .new
        .iter()
        .map(|t| (t.space_id, with_ext(&t.files[0].rel, ".ibd")))
        .collect();
    for f in &out.raw_new {
        let rel = with_ext(&f.rel, ".ibd");
        let id = redo
            .by_name
            .iter()
            .find(|(n, _)| redo_rel(dd, n).as_deref() == Some(rel.as_path()))
            .map(|(_, &id)| id);
        if let Some(id) = id {
            whole.push((id, rel));
        }
    }
    for (id, rel) in whole {
        for n in redo.names.get(&id).into_iter().flatten() {
            let Some(old) = redo_rel(dd, n) else { continue };
            if old != rel
                && !current.contains(&old)
                && !out.deleted.contains(&old)
                && is_user(&old, &system, &undo)
            {
                out.deleted.push(old);
            }
        }
    }
    Ok(out)
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

    #[test]
    fn marker_names() {
        assert_eq!(
            with_ext(Path::new("db/t.ibd"), ".del"),
            Path::new("db/t.del")
        );
        assert_eq!(with_ext(Path::new("db/t.ibd"), ""), Path::new("db/t"));
        assert_eq!(with_ext(Path::new("db/x"), ".new"), Path::new("db/x.new"));
    }
}
