//! Planning: read the target and the incrementals, follow every tablespace through the chain by
//! space id (as mariabackup does, one incremental after the other), and turn the final state into
//! a list of idempotent [`Step`]s. Nothing is written here.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};

use innodb_page::fsp::{physical_page_size, FspHeader};

use super::chain::Backup;
use super::journal::{Merge, Step, JOURNAL};
use super::names::{check_inside, check_rel};
use super::{ApplyError, ApplyOptions};
use crate::backup_info::{self, BackupInfo};
use crate::checkpoints::{self, BackupType};
use crate::delta::{Checks, DeltaFile, PageSize};
use crate::meta::{self, Meta};

/// The role of a tablespace file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `ibdataN` (space 0): matched by path, never dropped.
    System,
    /// Undo tablespace: matched by path, never dropped.
    Undo,
    /// `*.ibd`: matched by name and space id, dropped when an incremental has no delta for it.
    User,
}

/// Where the bytes of a tablespace come from before its deltas.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Origin {
    /// A file in the target (relative path), possibly a `.new` copy.
    Base(PathBuf),
    /// A new tablespace created from its deltas.
    Created,
    /// A full copy (`.new`) in an incremental (absolute path).
    Installed(PathBuf),
}

/// One tablespace followed through the chain.
#[derive(Debug, Clone)]
struct Space {
    origin: Origin,
    kind: Kind,
    space_id: Option<u32>,
    /// Physical page size and the file that told it.
    page_size: Option<(u32, PathBuf)>,
    /// Deltas to lay on it, oldest first.
    layers: Vec<PathBuf>,
    /// Check page numbers (off for the 2nd+ system file).
    check: bool,
}

/// What a directory listing found.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    /// `(relative, absolute)` of every regular file at depth 1 or 2, sorted.
    pub files: Vec<(PathBuf, PathBuf)>,
    /// Relative names of the top-level directories.
    dirs: Vec<PathBuf>,
}

pub(crate) fn list(dir: &Path) -> Result<Listing, ApplyError> {
    fn entries(d: &Path) -> Result<Vec<(std::ffi::OsString, PathBuf, bool)>, ApplyError> {
        let mut out = Vec::new();
        for e in fs::read_dir(d).map_err(|e| ApplyError::io(d, e))? {
            let e = e.map_err(|e| ApplyError::io(d, e))?;
            let path = e.path();
            // Follows symlinks: where they lead is checked before anything is written.
            let m = fs::metadata(&path).map_err(|e| ApplyError::io(&path, e))?;
            if m.is_dir() || m.is_file() {
                out.push((e.file_name(), path, m.is_dir()));
            }
        }
        out.sort();
        Ok(out)
    }
    let mut l = Listing::default();
    for (name, path, is_dir) in entries(dir)? {
        if is_dir {
            l.dirs.push(PathBuf::from(&name));
            for (n2, p2, d2) in entries(&path)? {
                if !d2 {
                    l.files.push((Path::new(&name).join(n2), p2));
                }
            }
        } else {
            l.files.push((PathBuf::from(name), path));
        }
    }
    Ok(l)
}

/// Top-level files the applier itself owns (never copied as non-InnoDB files).
fn is_metadata(rel: &Path) -> bool {
    let Some(name) = rel.to_str() else {
        return false;
    };
    checkpoints::FILE_NAMES.contains(&name)
        || name == backup_info::FILE_NAME
        || name.starts_with(JOURNAL)
        || name.starts_with("xb_prepare.")
}

fn numbered(name: &str, prefix: &str) -> bool {
    name.strip_prefix(prefix)
        .is_some_and(|r| !r.is_empty() && r.bytes().all(|b| b.is_ascii_digit()))
}

/// The role of a tablespace file by name (`None`: not a tablespace).
pub(crate) fn tablespace_kind(rel: &Path) -> Option<Kind> {
    let name = rel.to_str()?;
    let top = rel.components().count() == 1;
    if top && numbered(name, "ibdata") {
        return Some(Kind::System);
    }
    if (top && (numbered(name, "undo") || numbered(name, "undo_"))) || name.ends_with(".ibu") {
        return Some(Kind::Undo);
    }
    name.ends_with(".ibd").then_some(Kind::User)
}

fn is_redo(rel: &Path) -> bool {
    rel.components().count() == 1 && rel.to_str().is_some_and(|n| numbered(n, "ib_logfile"))
}

/// `rel` with its last extension replaced.
pub(crate) fn with_ext(rel: &Path, strip: &str, add: &str) -> Option<PathBuf> {
    let name = rel.file_name()?.to_str()?;
    let stem = name.strip_suffix(strip).filter(|s| !s.is_empty())?;
    Some(rel.with_file_name(format!("{stem}{add}")))
}

/// Space id and physical page size from the head of a tablespace file.
pub(crate) fn read_head(path: &Path) -> Result<(u32, u32), ApplyError> {
    let mut head = [0u8; 1024];
    let mut f = File::open(path).map_err(|e| ApplyError::io(path, e))?;
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) => return Err(ApplyError::io(path, e)),
        }
    }
    let bad = |why: String| ApplyError::Tablespace {
        path: path.to_path_buf(),
        why,
    };
    let h = FspHeader::parse(&head[..n]).map_err(|e| bad(format!("cannot read page 0: {e}")))?;
    let ps = physical_page_size(&head[..n]).map_err(|e| bad(format!("cannot read page 0: {e}")))?;
    Ok((h.space_id, ps as u32))
}

/// Like [`read_head`], but `None` for a file whose first KiB is all zero: a tablespace created
/// so recently that the server had not written its first page yet when a hot backup copied it
/// (mariabackup copies such files as they are, as `.new`); recovery rebuilds it from the redo
/// log, which holds its creation.
pub(crate) fn read_head_opt(path: &Path) -> Result<Option<(u32, u32)>, ApplyError> {
    let mut head = [0u8; 1024];
    let mut f = File::open(path).map_err(|e| ApplyError::io(path, e))?;
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) => return Err(ApplyError::io(path, e)),
        }
    }
    if n == head.len() && head.iter().all(|&b| b == 0) {
        return Ok(None);
    }
    read_head(path).map(Some)
}

/// The state of the target as the chain transforms it.
struct State {
    spaces: Vec<Space>,
    /// Relative path → index into `spaces`.
    at: BTreeMap<PathBuf, usize>,
}

impl State {
    fn find_id(&self, id: u32, except: &Path) -> Option<PathBuf> {
        self.at
            .iter()
            .find(|&(p, &i)| {
                p.as_path() != except
                    && self.spaces[i].kind == Kind::User
                    && self.spaces[i].space_id == Some(id)
            })
            .map(|(p, _)| p.clone())
    }

    fn set_page_size(&mut self, i: usize, ps: u32, from: &Path) -> Result<(), ApplyError> {
        match &self.spaces[i].page_size {
            Some((have, other)) if *have != ps => Err(ApplyError::PageSizeMismatch {
                path: from.to_path_buf(),
                found: ps,
                other: other.clone(),
                expected: *have,
            }),
            Some(_) => Ok(()),
            None => {
                self.spaces[i].page_size = Some((ps, from.to_path_buf()));
                Ok(())
            }
        }
    }
}

/// The DDL marker files of one directory.
#[derive(Default)]
struct Markers {
    /// `.del` files: (marker rel, tablespace rel).
    del: Vec<(PathBuf, PathBuf)>,
    /// `.ren` files: (marker rel, from rel, to rel).
    ren: Vec<(PathBuf, PathBuf, PathBuf)>,
    /// `.new` files: (marker rel, marker abs, tablespace rel).
    new: Vec<(PathBuf, PathBuf, PathBuf)>,
}

impl Markers {
    fn marker_rels(&self) -> impl Iterator<Item = &PathBuf> {
        self.del
            .iter()
            .map(|m| &m.0)
            .chain(self.ren.iter().map(|m| &m.0))
            .chain(self.new.iter().map(|m| &m.0))
    }
}

fn markers(l: &Listing) -> Result<Markers, ApplyError> {
    let mut m = Markers::default();
    for (rel, abs) in &l.files {
        let name = rel.to_string_lossy();
        if name.ends_with(".new.delta") || name.ends_with(".new.meta") {
            return Err(ApplyError::Tablespace {
                path: abs.clone(),
                why: "incremental re-copies of tablespaces created during the backup \
                      (XtraBackup 8.0 --lock-ddl=REDUCED) are not supported"
                    .into(),
            });
        }
        if let Some(t) = with_ext(rel, ".del", ".ibd") {
            check_rel(&t)?;
            m.del.push((rel.clone(), t));
        } else if let Some(from) = with_ext(rel, ".ren", ".ibd") {
            check_rel(&from)?;
            let content = fs::read(abs).map_err(|e| ApplyError::io(abs, e))?;
            let to_name = String::from_utf8(content)
                .map_err(|_| ApplyError::BadName {
                    path: abs.clone(),
                    why: "rename marker content is not UTF-8",
                })?
                .trim()
                .to_string();
            let to = PathBuf::from(format!("{to_name}.ibd"));
            check_rel(&to).map_err(|_| ApplyError::BadName {
                path: abs.clone(),
                why: "rename marker names a path outside the backup",
            })?;
            m.ren.push((rel.clone(), from, to));
        } else if let Some(t) = with_ext(rel, ".new", ".ibd") {
            check_rel(&t)?;
            m.new.push((rel.clone(), abs.clone(), t));
        }
    }
    Ok(m)
}

/// What the markers of an incremental mean for its deltas: names to skip, delta renames, names
/// seen (not dropped).
type MarkerEffect = (
    BTreeSet<PathBuf>,
    BTreeMap<PathBuf, PathBuf>,
    BTreeSet<PathBuf>,
);

/// Applies DDL markers to the state (mariabackup's order: `.del`, `.ren`, `.new`). `base_dir`
/// is set for the target's own markers (a `.new` there is renamed, not copied). Returns the
/// delta names to skip (deleted or replaced tablespaces) and the delta renames.
fn apply_markers(st: &mut State, m: &Markers, in_base: bool) -> Result<MarkerEffect, ApplyError> {
    let mut skip = BTreeSet::new();
    let mut renamed = BTreeMap::new();
    let mut seen = BTreeSet::new();
    for (_, t) in &m.del {
        st.at.remove(t);
        skip.insert(t.clone());
    }
    for (_, from, to) in &m.ren {
        if let Some(i) = st.at.remove(from) {
            st.at.insert(to.clone(), i);
        }
        renamed.insert(from.clone(), to.clone());
    }
    for (rel, abs, t) in &m.new {
        let head = read_head_opt(abs)?;
        let origin = if in_base {
            Origin::Base(rel.clone())
        } else {
            Origin::Installed(abs.clone())
        };
        st.spaces.push(Space {
            origin,
            kind: tablespace_kind(t).unwrap_or(Kind::User),
            space_id: head.map(|(id, _)| id),
            page_size: head.map(|(_, ps)| (ps, abs.clone())),
            layers: Vec::new(),
            check: true,
        });
        st.at.insert(t.clone(), st.spaces.len() - 1);
        skip.insert(t.clone());
        seen.insert(t.clone());
    }
    Ok((skip, renamed, seen))
}

/// What planning produced.
#[derive(Debug)]
pub(crate) struct Planned {
    pub steps: Vec<Step>,
    pub delta_pages: u64,
    pub deltas: u64,
}

/// Plans the apply of `incs` (checked already) onto `base`.
pub(crate) fn plan(
    base: &Backup,
    incs: &[Backup],
    opts: &ApplyOptions,
) -> Result<Planned, ApplyError> {
    let base_list = list(&base.dir)?;
    let mut st = State {
        spaces: Vec::new(),
        at: BTreeMap::new(),
    };
    let system_files = base_list
        .files
        .iter()
        .filter(|(r, _)| tablespace_kind(r) == Some(Kind::System))
        .count();
    let mut base_other = Vec::new();
    for (rel, abs) in &base_list.files {
        check_rel(rel)?;
        match tablespace_kind(rel) {
            Some(kind) => {
                let (id, ps) = match kind {
                    Kind::User => match read_head_opt(abs)? {
                        Some((id, ps)) => (Some(id), Some((ps, abs.clone()))),
                        None => (None, None),
                    },
                    _ => (None, None),
                };
                st.spaces.push(Space {
                    origin: Origin::Base(rel.clone()),
                    kind,
                    space_id: id,
                    page_size: ps,
                    layers: Vec::new(),
                    check: rel.as_os_str() == "ibdata1" || kind != Kind::System,
                });
                st.at.insert(rel.clone(), st.spaces.len() - 1);
            }
            None if is_metadata(rel) || is_redo(rel) => {}
            None => base_other.push(rel.clone()),
        }
    }
    let base_markers = markers(&base_list)?;
    let marker_set: BTreeSet<&PathBuf> = base_markers.marker_rels().collect();
    base_other.retain(|r| !marker_set.contains(r));
    apply_markers(&mut st, &base_markers, true)?;

    let checks = Checks {
        page_numbers_match: false,
        ..Checks::STRICT
    };
    let mut delta_pages = 0u64;
    let mut deltas = 0u64;
    let mut newest_list = None;
    for inc in incs {
        let l = list(&inc.dir)?;
        let m = markers(&l)?;
        let (skip, renamed, mut seen) = apply_markers(&mut st, &m, false)?;
        for (rel, abs) in &l.files {
            check_rel(rel)?;
            let name = rel.to_string_lossy();
            if !name.ends_with(".delta") {
                if tablespace_kind(rel).is_some() {
                    return Err(ApplyError::Tablespace {
                        path: abs.clone(),
                        why: "a whole tablespace file in an incremental backup (expected \
                              .delta/.meta pairs)"
                            .into(),
                    });
                }
                continue;
            }
            let meta_abs = meta::path_for_delta(abs).ok_or_else(|| ApplyError::BadName {
                path: abs.clone(),
                why: "a .delta file needs a name",
            })?;
            if !meta_abs.exists() {
                return Err(ApplyError::MissingMeta { path: meta_abs });
            }
            let meta = Meta::read_file(&meta_abs)?;
            let ps = meta.physical_page_size();
            let mut target = with_ext(rel, ".delta", "").ok_or_else(|| ApplyError::BadName {
                path: abs.clone(),
                why: "a .delta file needs a name",
            })?;
            let kind = if meta.space_id == Some(0) {
                Kind::System
            } else {
                tablespace_kind(&target).ok_or_else(|| ApplyError::Tablespace {
                    path: abs.clone(),
                    why: "a delta of a file that is neither ibdataN, an undo tablespace nor \
                          *.ibd"
                        .into(),
                })?
            };
            // Validate the delta end to end (headers, lengths) before anything is written.
            let file = DeltaFile::open_with(abs, ps, checks)?;
            let idx = file.index();
            delta_pages += idx.len() as u64;
            deltas += 1;
            let check_nos =
                opts.check_pages && !(kind == Kind::System && target.as_os_str() != "ibdata1");
            if check_nos || idx.page_nos().first() == Some(&0) {
                check_pages(&file, ps, check_nos, meta.space_id, kind)?;
            }
            if skip.contains(&target) {
                continue;
            }
            if let Some(to) = renamed.get(&target) {
                target = to.clone();
            }
            let i = match kind {
                Kind::System | Kind::Undo => match st.at.get(&target) {
                    Some(&i) => i,
                    None if kind == Kind::System => {
                        return Err(ApplyError::Tablespace {
                            path: base.dir.join(&target),
                            why: format!(
                                "missing in the target, but {} has a delta for it",
                                inc.dir.display()
                            ),
                        })
                    }
                    None => {
                        st.spaces.push(Space {
                            origin: Origin::Created,
                            kind,
                            space_id: meta.space_id,
                            page_size: None,
                            layers: Vec::new(),
                            check: true,
                        });
                        st.at.insert(target.clone(), st.spaces.len() - 1);
                        st.spaces.len() - 1
                    }
                },
                Kind::User => {
                    seen.insert(target.clone());
                    let Some(id) = meta.space_id else {
                        return Err(ApplyError::Tablespace {
                            path: meta_abs,
                            why: "no space_id (backup taken by XtraBackup 2.0.1 or older?); \
                                  cannot follow renames"
                                .into(),
                        });
                    };
                    // The name is taken by another tablespace: move it out of the way.
                    if let Some(&j) = st.at.get(&target)
                        && st.spaces[j].space_id != Some(id)
                    {
                        let old = st.spaces[j].space_id.unwrap_or(u32::MAX);
                        st.at.remove(&target);
                        let tmp = target.with_file_name(format!("xtrabackup_tmp_#{old}.ibd"));
                        st.at.insert(tmp, j);
                    }
                    if !st.at.contains_key(&target) {
                        if let Some(p) = st.find_id(id, &target) {
                            // Renamed between the backups.
                            if let Some(j) = st.at.remove(&p) {
                                st.at.insert(target.clone(), j);
                            }
                        } else {
                            st.spaces.push(Space {
                                origin: Origin::Created,
                                kind,
                                space_id: Some(id),
                                page_size: None,
                                layers: Vec::new(),
                                check: true,
                            });
                            st.at.insert(target.clone(), st.spaces.len() - 1);
                        }
                    }
                    st.at[&target]
                }
            };
            st.set_page_size(i, ps.get() as u32, abs)?;
            if st.spaces[i].origin == Origin::Created
                && st.spaces[i].layers.is_empty()
                && idx.page_nos().first() != Some(&0)
            {
                return Err(ApplyError::Tablespace {
                    path: abs.clone(),
                    why: format!(
                        "no tablespace in the target has space id {} and the delta has no page 0, so it \
                         cannot create one (wrong .meta, or a base that is not the one this \
                         incremental was taken from?)",
                        meta.space_id.map_or("(none)".to_string(), |v| v.to_string())
                    ),
                });
            }
            st.spaces[i].layers.push(abs.clone());
        }
        // Dropped: user tablespaces this incremental has no delta for.
        st.at
            .retain(|p, i| st.spaces[*i].kind != Kind::User || seen.contains(p));
        newest_list = Some((inc, l, m));
    }

    // ---- Steps ----
    let mut steps = Vec::new();
    let alive: BTreeMap<usize, PathBuf> = st.at.iter().map(|(p, &i)| (i, p.clone())).collect();
    // 1. Tablespaces of the target that no longer exist.
    for (i, s) in st.spaces.iter().enumerate() {
        if let Origin::Base(o) = &s.origin
            && !alive.contains_key(&i)
        {
            steps.push(Step::Delete(o.clone()));
        }
    }
    // 2. Moves, through temporary names (renames may swap names).
    let mut moves = Vec::new();
    for (&i, f) in &alive {
        if let Origin::Base(o) = &st.spaces[i].origin
            && o != f
        {
            let tmp = PathBuf::from(format!("xb_prepare.mv.{}", moves.len()));
            steps.push(Step::Rename {
                from: o.clone(),
                to: tmp.clone(),
            });
            moves.push((tmp, f.clone()));
        }
    }
    let mut made = BTreeSet::new();
    let mut mkdir = |steps: &mut Vec<Step>, f: &Path| {
        if let Some(parent) = f.parent().filter(|p| !p.as_os_str().is_empty())
            && made.insert(parent.to_path_buf())
        {
            steps.push(Step::Mkdir(parent.to_path_buf()));
        }
    };
    for (tmp, f) in moves {
        mkdir(&mut steps, &f);
        steps.push(Step::Rename { from: tmp, to: f });
    }
    // 3. Full copies from incrementals, then 4. the pages.
    for (&i, f) in &alive {
        let s = &st.spaces[i];
        if let Origin::Installed(src) = &s.origin {
            mkdir(&mut steps, f);
            steps.push(Step::Copy {
                src: src.clone(),
                to: f.clone(),
            });
        }
        let create = s.origin == Origin::Created;
        if s.layers.is_empty() && !create {
            continue;
        }
        if create {
            mkdir(&mut steps, f);
        }
        let page_size = s.page_size.as_ref().map_or(0, |p| p.0);
        if let (Kind::User, Origin::Base(o)) = (s.kind, &s.origin) {
            // Checked on the base file already; nothing more to do.
            let _ = o;
        }
        let extend = match s.kind {
            Kind::System => f.as_os_str() == "ibdata1" && system_files <= 1,
            _ => true,
        };
        steps.push(Step::Merge(Merge {
            target: f.clone(),
            page_size,
            create,
            extend,
            check: s.check && opts.check_pages,
            layers: s.layers.clone(),
        }));
    }
    // 5. The target's own marker files are consumed.
    for (rel, _) in &base_markers.del {
        steps.push(Step::Delete(rel.clone()));
    }
    for (rel, _, _) in &base_markers.ren {
        steps.push(Step::Delete(rel.clone()));
    }
    // 6. Non-InnoDB files, redo, metadata: the newest incremental's.
    if let Some((newest, l, m)) = newest_list {
        let inc_markers: BTreeSet<&PathBuf> = m.marker_rels().collect();
        let mut inc_other = BTreeSet::new();
        for (rel, abs) in &l.files {
            let name = rel.to_string_lossy();
            if name.ends_with(".delta")
                || name.ends_with(".meta")
                || inc_markers.contains(rel)
                || is_metadata(rel)
            {
                continue;
            }
            inc_other.insert(rel.clone());
            let _ = abs;
        }
        if !inc_other.contains(Path::new("ib_logfile0")) {
            return Err(ApplyError::Tablespace {
                path: newest.dir.join("ib_logfile0"),
                why: "missing: the newest incremental's redo log is needed to recover the result"
                    .into(),
            });
        }
        for rel in &base_other {
            if !inc_other.contains(rel) {
                steps.push(Step::Delete(rel.clone()));
            }
        }
        let info_names: Vec<&str> = crate::info::FILE_NAMES.to_vec();
        for rel in &inc_other {
            mkdir(&mut steps, rel);
            let src = newest.dir.join(rel);
            if rel.to_str().is_some_and(|n| info_names.contains(&n))
                && let Some(info) = &newest.info
            {
                let mut info = info.clone();
                if info.get("innodb_from_lsn").is_some() {
                    info.set("innodb_from_lsn", "0");
                }
                if info.get("incremental").is_some() {
                    info.set("incremental", "N");
                }
                steps.push(Step::Write {
                    to: rel.clone(),
                    bytes: info.to_bytes(),
                });
                continue;
            }
            steps.push(Step::Copy {
                src,
                to: rel.clone(),
            });
        }
        for d in &base_list.dirs {
            if !l.dirs.contains(d) {
                steps.push(Step::Rmdir(d.clone()));
            }
        }
        // 7. Metadata last: xb_backup_info, then the checkpoints.
        let mut ck = base.ckpt.clone();
        ck.backup_type = BackupType::FullBackuped;
        ck.to_lsn = newest.ckpt.to_lsn;
        ck.last_lsn = newest.ckpt.last_lsn;
        if ck.flushed_lsn.is_some() && newest.ckpt.flushed_lsn.is_some() {
            ck.flushed_lsn = newest.ckpt.flushed_lsn;
        }
        let mut bi = BackupInfo::full(ck.to_lsn, ck.last_lsn);
        bi.redo_start_lsn = newest.redo_start_lsn()?;
        steps.push(Step::Write {
            to: PathBuf::from(backup_info::FILE_NAME),
            bytes: bi.to_bytes(),
        });
        let ck_name = checkpoints::find(&base.dir)?
            .file_name()
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(checkpoints::FILE_NAMES[0]));
        steps.push(Step::Write {
            to: ck_name,
            bytes: ck.to_bytes(),
        });
    }

    // Every name written, renamed or removed stays inside the target.
    for s in &steps {
        let rels: Vec<&Path> = match s {
            Step::Mkdir(r) | Step::Delete(r) | Step::Rmdir(r) => vec![r],
            Step::Rename { from, to } => vec![from, to],
            Step::Copy { to, .. } | Step::Write { to, .. } => vec![to],
            Step::Merge(m) => vec![&m.target],
        };
        for r in rels {
            check_rel(r)?;
            check_inside(&base.dir, r)?;
        }
    }
    Ok(Planned {
        steps,
        delta_pages,
        deltas,
    })
}

/// Checks the pages of a delta: each non-zero page carries its listed number (when `numbers`),
/// and page 0 of a user or undo tablespace carries the `.meta`'s space id and page size.
///
/// Reads only the first 8 bytes of each page (`FIL_PAGE_OFFSET` is at 4..8); a whole page only
/// for page 0 and for pages whose number differs (all-zero pages, doublewrite copies). That the
/// delta is whole (every listed page present in full) was checked from its length already.
fn check_pages(
    file: &DeltaFile,
    ps: PageSize,
    numbers: bool,
    space_id: Option<u32>,
    kind: Kind,
) -> Result<(), ApplyError> {
    use std::os::unix::fs::FileExt;
    let path = file.path();
    let raw = File::open(path).map_err(|e| ApplyError::io(path, e))?;
    let mut buf = vec![0u8; ps.get()];
    let n = if numbers { file.index().len() } else { 1 };
    for k in 0..n {
        let page_no = file.index().page_nos().get(k).copied().unwrap_or(0);
        if page_no != 0 {
            let offset = file.index().page_offset(k).unwrap_or(0);
            let mut head = [0u8; 8];
            raw.read_exact_at(&mut head, offset)
                .map_err(|e| ApplyError::io(path, e))?;
            if u32::from_be_bytes([head[4], head[5], head[6], head[7]]) == page_no {
                continue;
            }
        }
        let page_no = file.read_page(k, &mut buf)?;
        let offset = file.index().page_offset(k).unwrap_or(0);
        let bad = |why: String| ApplyError::BadPage {
            path: file.path().to_path_buf(),
            offset,
            page_no,
            why,
        };
        if buf.iter().all(|&b| b == 0) {
            continue;
        }
        let found = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]);
        // The doublewrite buffer of the system tablespace holds copies of other pages.
        let extent = match ps.get() {
            4096 => 256,
            8192 => 128,
            _ => 64,
        };
        let doublewrite = kind == Kind::System && (extent..3 * extent).contains(&page_no);
        if numbers && found != page_no && !doublewrite {
            return Err(bad(format!("page number {found} in its FIL header")));
        }
        if page_no == 0 && kind != Kind::System {
            let sid = u32::from_be_bytes([buf[34], buf[35], buf[36], buf[37]]);
            if let Some(id) = space_id
                && sid != id
            {
                return Err(bad(format!(
                    "space id {sid}, but the .meta says {id} (wrong .meta?)"
                )));
            }
            match physical_page_size(&buf) {
                Ok(p) if p == ps.get() => {}
                Ok(p) => {
                    return Err(bad(format!(
                        "flags of a {p}-byte page size, but the .meta says {ps} (wrong .meta?)"
                    )))
                }
                Err(e) => return Err(bad(format!("unreadable FSP header: {e}"))),
            }
        }
    }
    Ok(())
}
