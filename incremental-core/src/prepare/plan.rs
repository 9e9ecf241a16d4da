//! Planning: read the target and the incrementals, follow every tablespace through the chain by
//! space id (as mariabackup does, one incremental after the other), and turn the final state into
//! a list of idempotent [`Step`]s. Nothing is written here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use innodb_page::flags::TablespaceFlags;
use innodb_page::fsp::{physical_page_size, FspHeader};
use innodb_page::page::MIN_PAGE_SIZE;
use innodb_page::redo::file::LOG_FILE_0;

use super::backup_dir::BackupDir;
use super::error::PrepareError;
use super::files::{head_opt, is_metadata, is_redo};
use super::files::{tablespace_kind, with_ext, Kind, Listing};
use super::input::{Delta, Inputs};
use super::journal::{Merge, Step};
use super::names::{check_inside, check_rel};
use super::options::PrepareOptions;
use crate::format::backup_info::{self, BackupInfo};
use crate::format::checkpoints::{self, BackupType};
use crate::format::ddl_files::{parse_marker, parse_rename_target, DdlFile};
use crate::format::delta::{Checks, PageSize};
use crate::format::meta::{self, Meta};

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
    /// Page 0 of the file it starts from (`Base` or `Installed`), when readable.
    head: Option<Head>,
    /// One of its deltas carries page 0 (the merge extends the file to its `FSP_SIZE`).
    page0_layer: bool,
}

/// What page 0 of a tablespace file says, and the file's length.
#[derive(Debug, Clone, Copy)]
struct Head {
    space_id: u32,
    /// Physical page size (from the flags).
    page_size: u32,
    /// Logical page size (`innodb_page_size`).
    logical: u32,
    /// `FSP_SIZE`: the size of the tablespace in pages.
    fsp_size: u32,
    /// Length of the file in bytes.
    len: u64,
}

impl Head {
    /// The length the server gives a tablespace file of this page 0 at least: `FSP_SIZE` ×
    /// physical page size, rounded down to a multiple of 4 KiB (the server extends files in
    /// whole 4 KiB units, so a ROW_FORMAT=COMPRESSED file of 1 or 2 KiB pages may end one page
    /// short of `FSP_SIZE` until that page is written; mariabackup's prepare leaves it so), and
    /// for a `.ibd` file 4 logical pages (`FIL_IBD_FILE_INITIAL_SIZE`: recovery refuses a
    /// shorter one, "The size of tablespace file ... is only ..., should be at least ...").
    fn want(&self, kind: Kind) -> u64 {
        let size = (u64::from(self.fsp_size) * u64::from(self.page_size)) & !4095;
        match kind {
            Kind::User => size.max(ibd_min_len(self.logical)),
            _ => size,
        }
    }
}

/// The shortest `.ibd` file the server's recovery opens: 4 logical pages
/// (`FIL_IBD_FILE_INITIAL_SIZE`), whatever its page 0 says.
pub(super) fn ibd_min_len(logical_page_size: u32) -> u64 {
    4 * u64::from(logical_page_size)
}

/// The logical page size (`innodb_page_size`) the flags of page 0 (`page0`, at least its
/// FSP header) record, else `physical`.
pub(super) fn logical_page_size(page0: &[u8], physical: u32) -> u32 {
    FspHeader::parse(page0)
        .ok()
        .and_then(|h| TablespaceFlags::decode(h.flags).ok())
        .map_or(physical, |f| f.logical_page_size())
}

/// Page 0 of the tablespace file `abs` (its first KiB, one read) and its length: `None` for a
/// file whose first KiB is all zero ([`super::files::read_head_opt`]).
fn read_head(inputs: &Inputs, abs: &Path) -> Result<Option<Head>, PrepareError> {
    let r = inputs.reader(abs)?;
    let len = r.size();
    let mut head = vec![0u8; len.min(1024) as usize];
    r.read_exact_at(&mut head, 0)
        .map_err(|e| PrepareError::io(abs, e))?;
    let Some((space_id, page_size)) = head_opt(abs, &head)? else {
        return Ok(None);
    };
    let h = FspHeader::parse(&head).map_err(|e| PrepareError::Tablespace {
        path: abs.to_path_buf(),
        why: format!("cannot read page 0: {e}"),
    })?;
    let logical = logical_page_size(&head, page_size);
    Ok(Some(Head {
        space_id,
        page_size,
        logical,
        fsp_size: h.size,
        len,
    }))
}

impl Space {
    /// A tablespace that the chain creates (no file in the target yet).
    fn created(kind: Kind, space_id: Option<u32>) -> Space {
        Space {
            origin: Origin::Created,
            kind,
            space_id,
            page_size: None,
            layers: Vec::new(),
            check: true,
            head: None,
            page0_layer: false,
        }
    }
}

/// The state of the target as the chain transforms it.
struct State {
    spaces: Vec<Space>,
    /// Relative path → index into `spaces`.
    at: BTreeMap<PathBuf, usize>,
}

impl State {
    /// Moves the tablespace at `target`, if any and if its space id is not `keep`, out of the
    /// way to `xtrabackup_tmp_#ID.ibd` (mariabackup's name), where a later delta finds it by
    /// its space id; one nothing claims is dropped with the others the incremental has no
    /// delta for.
    fn move_aside(&mut self, target: &Path, keep: Option<u32>) {
        if let Some(&j) = self.at.get(target)
            && (keep.is_none() || self.spaces[j].space_id != keep)
        {
            let old = self.spaces[j].space_id.unwrap_or(u32::MAX);
            self.at.remove(target);
            let tmp = target.with_file_name(format!("xtrabackup_tmp_#{old}.ibd"));
            self.at.insert(tmp, j);
        }
    }

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

    fn set_page_size(&mut self, i: usize, ps: u32, from: &Path) -> Result<(), PrepareError> {
        match &self.spaces[i].page_size {
            Some((have, other)) if *have != ps => Err(PrepareError::PageSizeMismatch {
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

fn markers(inputs: &Inputs, l: &Listing) -> Result<Markers, PrepareError> {
    let mut m = Markers::default();
    for (rel, abs) in &l.files {
        let name = rel.to_string_lossy();
        if name.ends_with(".new.delta") || name.ends_with(".new.meta") {
            return Err(PrepareError::Tablespace {
                path: abs.clone(),
                why: "incremental re-copies of tablespaces created during the backup \
                      (XtraBackup 8.0 --lock-ddl=REDUCED) are not supported"
                    .into(),
            });
        }
        match parse_marker(rel) {
            Some((DdlFile::Deleted, t)) => {
                check_rel(&t)?;
                m.del.push((rel.clone(), t));
            }
            Some((DdlFile::Renamed, from)) => {
                check_rel(&from)?;
                let content = inputs.read(abs)?;
                let to = parse_rename_target(&content).ok_or_else(|| PrepareError::BadName {
                    path: abs.clone(),
                    why: "rename marker content is not UTF-8",
                })?;
                check_rel(&to).map_err(|_| PrepareError::BadName {
                    path: abs.clone(),
                    why: "rename marker names a path outside the backup",
                })?;
                m.ren.push((rel.clone(), from, to));
            }
            Some((DdlFile::New, t)) => {
                check_rel(&t)?;
                m.new.push((rel.clone(), abs.clone(), t));
            }
            _ => {}
        }
    }
    Ok(m)
}

/// Applies DDL markers to the state (mariabackup's order: `.del`, `.ren`, `.new`). `in_base`
/// is set for the target's own markers, which name the target's files (a `.new` there is
/// renamed, not copied). An incremental's markers name what the incremental copied, which
/// need not be what the target holds under that name (two tables that swapped names): they
/// rename and skip its deltas, which then find their tablespaces by space id. Returns what
/// they mean for the incremental's deltas.
fn apply_markers(
    inputs: &Inputs,
    st: &mut State,
    m: &Markers,
    in_base: bool,
) -> Result<IncMarkers, PrepareError> {
    let mut deleted = BTreeSet::new();
    let mut renamed = BTreeMap::new();
    let mut replaced = BTreeSet::new();
    let mut seen = BTreeSet::new();
    let mut displaced = BTreeSet::new();
    for (_, t) in &m.del {
        if in_base {
            st.at.remove(t);
        }
        deleted.insert(t.clone());
    }
    for (_, from, to) in &m.ren {
        if in_base && let Some(i) = st.at.remove(from) {
            st.at.insert(to.clone(), i);
        }
        renamed.insert(from.clone(), to.clone());
    }
    for (rel, abs, t) in &m.new {
        let head = read_head(inputs, abs)?;
        let origin = if in_base {
            Origin::Base(rel.clone())
        } else {
            displaced.extend(st.at.get(t).copied());
            st.move_aside(t, None);
            Origin::Installed(abs.clone())
        };
        st.spaces.push(Space {
            origin,
            kind: tablespace_kind(t).unwrap_or(Kind::User),
            space_id: head.map(|h| h.space_id),
            page_size: head.map(|h| (h.page_size, abs.clone())),
            layers: Vec::new(),
            check: true,
            head,
            page0_layer: false,
        });
        st.at.insert(t.clone(), st.spaces.len() - 1);
        replaced.insert(t.clone());
        seen.insert(t.clone());
    }
    Ok(IncMarkers {
        deleted,
        renamed,
        replaced,
        seen,
        displaced,
    })
}

/// Gives the `.new` copies of backup `b` (its markers `m`, applied to `st` already) whose page 0
/// is all zero the space id their name has at the end of `b`'s redo log
/// ([`super::redo_names::names_at_end`]), unless another tablespace has that id. A tablespace
/// with that id that one of `b`'s `.new` copies moved out of its way (`displaced`, indices into
/// `st.spaces`) does not count: it is an older copy of the same tablespace (the base also copied
/// it before page 0 was flushed), and it is dropped, as `mariabackup --prepare` overwrites it
/// with the `.new`. The server had not flushed page 0 when the copy was taken, so the
/// tablespace was created after `b`'s redo start, and every page of it is copied again by a
/// later incremental or rebuilt by the newest redo log: the copy itself contributes nothing
/// but its name, and with its space id a later delta (which names it by id only, and may lack
/// page 0 when the tablespace was created after that incremental's own redo start) finds it,
/// as it does after `mariabackup --prepare` has applied `b`'s redo. Left unknown when the redo
/// cannot tell.
fn name_unread_copies(b: &BackupDir, st: &mut State, m: &Markers, displaced: &BTreeSet<usize>) {
    let mut names = None;
    for (_, _, t) in &m.new {
        let Some(&i) = st.at.get(t) else { continue };
        if st.spaces[i].space_id.is_some() || st.spaces[i].kind != Kind::User {
            continue;
        }
        let names = names.get_or_insert_with(|| super::redo_names::names_at_end(b));
        let Some(&id) = names.get(t) else { continue };
        let holders: Vec<PathBuf> = st
            .at
            .iter()
            .filter(|&(p, &j)| {
                p != t && st.spaces[j].kind == Kind::User && st.spaces[j].space_id == Some(id)
            })
            .map(|(p, _)| p.clone())
            .collect();
        if holders.iter().all(|p| displaced.contains(&st.at[p])) {
            for p in &holders {
                st.at.remove(p);
            }
            st.spaces[i].space_id = Some(id);
        }
    }
}

/// What planning produced.
#[derive(Debug)]
pub(crate) struct Planned {
    pub steps: Vec<Step>,
    pub delta_pages: u64,
    pub deltas: u64,
    /// The target's `.ibd` files too short to hold a page 0, left as they are.
    pub not_tablespaces: Vec<PathBuf>,
}

/// The target's own files, as planning found them.
struct Target {
    list: Listing,
    /// Its non-InnoDB files (neither tablespaces, metadata, redo nor markers).
    other: Vec<PathBuf>,
    /// Its `.ibd` files too short to hold a page 0 (no tablespace: an empty file put there),
    /// counted among `other`.
    not_tablespaces: Vec<PathBuf>,
    markers: Markers,
    /// Files of the system tablespace.
    system_files: usize,
}

/// Plans the apply of `incs` (checked already) onto `base`.
pub(crate) fn plan(
    base: &BackupDir,
    incs: &[BackupDir],
    opts: &PrepareOptions,
) -> Result<Planned, PrepareError> {
    let mut st = State {
        spaces: Vec::new(),
        at: BTreeMap::new(),
    };
    let target = read_target(&mut st, base)?;
    let mut layering = Layering {
        st,
        base,
        opts,
        delta_pages: 0,
        deltas: 0,
    };
    let mut newest = None;
    for inc in incs {
        let l = inc.list()?;
        let m = markers(&inc.inputs, &l)?;
        layering.incremental(inc, &l, &m)?;
        newest = Some((inc, l, m));
    }
    let Layering {
        st,
        delta_pages,
        deltas,
        ..
    } = layering;
    let mut steps = Steps::default();
    steps.tablespaces(&st, target.system_files, opts);
    // The target's own marker files are consumed.
    for (rel, _) in &target.markers.del {
        steps.list.push(Step::Delete(rel.clone()));
    }
    for (rel, _, _) in &target.markers.ren {
        steps.list.push(Step::Delete(rel.clone()));
    }
    if let Some((newest, l, m)) = newest {
        steps.newest_files(&target, newest, &l, &m)?;
        steps.metadata(base, newest)?;
    }
    let steps = steps.list;
    // Every name written, renamed or removed stays inside the target.
    for s in &steps {
        for r in step_names(s) {
            check_rel(r)?;
            check_inside(&base.dir, r)?;
        }
    }
    Ok(Planned {
        steps,
        delta_pages,
        deltas,
        not_tablespaces: target.not_tablespaces,
    })
}

/// The names a step writes, renames or removes.
fn step_names(s: &Step) -> Vec<&Path> {
    match s {
        Step::Mkdir(r) | Step::Delete(r) | Step::Rmdir(r) => vec![r],
        Step::Extend { target, .. } => vec![target],
        Step::Rename { from, to } => vec![from, to],
        Step::Copy { to, .. } | Step::Write { to, .. } => vec![to],
        Step::Merge(m) => vec![&m.target],
    }
}

/// Reads the target's files into the state: its tablespaces, then its own DDL markers.
fn read_target(st: &mut State, base: &BackupDir) -> Result<Target, PrepareError> {
    let list = base.list()?;
    let system_files = list
        .files
        .iter()
        .filter(|(r, _)| tablespace_kind(r) == Some(Kind::System))
        .count();
    let mut other = Vec::new();
    let mut not_tablespaces = Vec::new();
    for (rel, abs) in &list.files {
        check_rel(rel)?;
        match tablespace_kind(rel) {
            // As mariabackup, which cannot read its first page and leaves it alone: no
            // tablespace, not even one whose page 0 the server had not written yet (that one
            // has the length of its pages, zero-filled).
            Some(Kind::User) if base.inputs.reader(abs)?.size() < MIN_PAGE_SIZE as u64 => {
                not_tablespaces.push(rel.clone());
                other.push(rel.clone());
            }
            Some(kind) => {
                // Page 0 of an undo tablespace or of `ibdata1` only tells the size to extend
                // to (read_target does not judge them otherwise).
                let head = match kind {
                    Kind::User => read_head(&base.inputs, abs)?,
                    Kind::Undo => read_head(&base.inputs, abs).ok().flatten(),
                    Kind::System if rel.as_os_str() == "ibdata1" => {
                        read_head(&base.inputs, abs).ok().flatten()
                    }
                    Kind::System => None,
                };
                let user = kind == Kind::User;
                st.spaces.push(Space {
                    origin: Origin::Base(rel.clone()),
                    kind,
                    space_id: head.filter(|_| user).map(|h| h.space_id),
                    page_size: head.filter(|_| user).map(|h| (h.page_size, abs.clone())),
                    layers: Vec::new(),
                    check: rel.as_os_str() == "ibdata1" || kind != Kind::System,
                    head,
                    page0_layer: false,
                });
                st.at.insert(rel.clone(), st.spaces.len() - 1);
            }
            None if is_metadata(rel) || is_redo(rel) => {}
            None => other.push(rel.clone()),
        }
    }
    let markers = markers(&base.inputs, &list)?;
    let marker_set: BTreeSet<&PathBuf> = markers.marker_rels().collect();
    other.retain(|r| !marker_set.contains(r));
    let im = apply_markers(&base.inputs, st, &markers, true)?;
    name_unread_copies(base, st, &markers, &im.displaced);
    Ok(Target {
        list,
        other,
        not_tablespaces,
        markers,
        system_files,
    })
}

/// Lays the deltas of the incrementals, one after the other, on the state.
struct Layering<'a> {
    st: State,
    base: &'a BackupDir,
    opts: &'a PrepareOptions,
    delta_pages: u64,
    deltas: u64,
}

/// What the markers of one incremental say about its deltas, in mariabackup's order: `.del`
/// drops the deltas of the names it deletes, `.ren` renames the deltas with their tablespaces,
/// then `.new` replaces what is under its name *after* the renames (a table renamed away keeps
/// its delta; one renamed onto the name of a `.new` loses it).
struct IncMarkers {
    /// Delta names (as the incremental holds them) whose tablespaces were deleted.
    deleted: BTreeSet<PathBuf>,
    /// Delta renames: the incremental's name → the tablespace's name after the backup.
    renamed: BTreeMap<PathBuf, PathBuf>,
    /// Names (after the renames) whose tablespace the incremental copied whole (`.new`).
    replaced: BTreeSet<PathBuf>,
    /// User tablespaces the incremental holds (the others were dropped).
    seen: BTreeSet<PathBuf>,
    /// Tablespaces (indices into `State::spaces`) its `.new` copies moved out of their way.
    displaced: BTreeSet<usize>,
}

/// One `.delta` of an incremental, read and checked.
struct DeltaIn<'a> {
    abs: &'a Path,
    meta_abs: PathBuf,
    meta: Meta,
    ps: PageSize,
    kind: Kind,
    /// The tablespace it changes (relative), before the renames of its incremental.
    target: PathBuf,
    /// It carries page 0.
    has_page0: bool,
}

impl Layering<'_> {
    /// Lays one incremental on the state.
    fn incremental(
        &mut self,
        inc: &BackupDir,
        l: &Listing,
        m: &Markers,
    ) -> Result<(), PrepareError> {
        let mut im = apply_markers(&inc.inputs, &mut self.st, m, false)?;
        name_unread_copies(inc, &mut self.st, m, &im.displaced);
        let mut ids: BTreeMap<u32, PathBuf> = BTreeMap::new();
        for (rel, abs) in &l.files {
            check_rel(rel)?;
            if let Some(d) = self.read_delta(&inc.inputs, rel, abs)? {
                claim_space_id(&mut ids, &d)?;
                self.lay(inc, d, &mut im)?;
            }
        }
        // Dropped: user tablespaces this incremental has no delta for.
        let st = &mut self.st;
        st.at
            .retain(|p, i| st.spaces[*i].kind != Kind::User || im.seen.contains(p));
        Ok(())
    }

    /// Reads and validates one file of an incremental: `None` for a file that is not a delta.
    fn read_delta<'p>(
        &mut self,
        inputs: &Inputs,
        rel: &Path,
        abs: &'p Path,
    ) -> Result<Option<DeltaIn<'p>>, PrepareError> {
        if !rel.to_string_lossy().ends_with(".delta") {
            if tablespace_kind(rel).is_some() {
                return Err(PrepareError::Tablespace {
                    path: abs.to_path_buf(),
                    why: "a whole tablespace file in an incremental backup (expected \
                          .delta/.meta pairs)"
                        .into(),
                });
            }
            return Ok(None);
        }
        let nameless = || PrepareError::BadName {
            path: abs.to_path_buf(),
            why: "a .delta file needs a name",
        };
        let meta_abs = meta::path_for_delta(abs).ok_or_else(nameless)?;
        if !inputs.is_file(&meta_abs) {
            return Err(PrepareError::MissingMeta { path: meta_abs });
        }
        let meta = Meta::parse(&inputs.read(&meta_abs)?)
            .map_err(|e| crate::format::error::Error::meta(&meta_abs, e))?;
        let ps = meta.physical_page_size();
        let target = with_ext(rel, ".delta", "").ok_or_else(nameless)?;
        let kind = if meta.space_id == Some(0) {
            Kind::System
        } else {
            tablespace_kind(&target).ok_or_else(|| PrepareError::Tablespace {
                path: abs.to_path_buf(),
                why: "a delta of a file that is neither ibdataN, an undo tablespace nor *.ibd"
                    .into(),
            })?
        };
        // Validate the delta end to end (headers, lengths) before anything is written.
        let checks = Checks {
            page_numbers_match: false,
            ..Checks::STRICT
        };
        let file = inputs.delta(abs, ps, checks)?;
        let idx = &file.index;
        self.delta_pages += idx.len() as u64;
        self.deltas += 1;
        let has_page0 = idx.page_nos().first() == Some(&0);
        let check_nos =
            self.opts.check_pages() && !(kind == Kind::System && target.as_os_str() != "ibdata1");
        if check_nos || has_page0 {
            check_pages(&file, ps, check_nos, meta.space_id, kind)?;
        }
        Ok(Some(DeltaIn {
            abs,
            meta_abs,
            meta,
            ps,
            kind,
            target,
            has_page0,
        }))
    }

    /// Lays one delta on the tablespace it changes.
    fn lay(
        &mut self,
        inc: &BackupDir,
        d: DeltaIn<'_>,
        im: &mut IncMarkers,
    ) -> Result<(), PrepareError> {
        if im.deleted.contains(&d.target) {
            return Ok(());
        }
        let target = im.renamed.get(&d.target).unwrap_or(&d.target).clone();
        if im.replaced.contains(&target) {
            return Ok(());
        }
        let i = match d.kind {
            Kind::System | Kind::Undo => self.system_or_undo(inc, &d, &target)?,
            Kind::User => {
                im.seen.insert(target.clone());
                self.user(&d, &target)?
            }
        };
        let st = &mut self.st;
        st.set_page_size(i, d.ps.get() as u32, d.abs)?;
        if st.spaces[i].origin == Origin::Created && st.spaces[i].layers.is_empty() && !d.has_page0
        {
            return Err(PrepareError::Tablespace {
                path: d.abs.to_path_buf(),
                why: format!(
                    "no tablespace in the target has space id {} and the delta has no page 0, \
                     so it cannot create one (wrong .meta, or a base that is not the one this \
                     incremental was taken from?)",
                    d.meta
                        .space_id
                        .map_or("(none)".to_string(), |v| v.to_string())
                ),
            });
        }
        st.spaces[i].layers.push(d.abs.to_path_buf());
        st.spaces[i].page0_layer |= d.has_page0;
        Ok(())
    }

    /// The system or undo tablespace a delta changes (matched by path).
    fn system_or_undo(
        &mut self,
        inc: &BackupDir,
        d: &DeltaIn<'_>,
        target: &Path,
    ) -> Result<usize, PrepareError> {
        let st = &mut self.st;
        if let Some(&i) = st.at.get(target) {
            return Ok(i);
        }
        if d.kind == Kind::System {
            return Err(PrepareError::Tablespace {
                path: self.base.dir.join(target),
                why: format!(
                    "missing in the target, but {} has a delta for it",
                    inc.dir.display()
                ),
            });
        }
        st.spaces.push(Space::created(d.kind, d.meta.space_id));
        st.at.insert(target.to_path_buf(), st.spaces.len() - 1);
        Ok(st.spaces.len() - 1)
    }

    /// The user tablespace a delta changes, matched by name and space id: renamed or created
    /// as the chain says.
    fn user(&mut self, d: &DeltaIn<'_>, target: &Path) -> Result<usize, PrepareError> {
        let Some(id) = d.meta.space_id else {
            return Err(PrepareError::Tablespace {
                path: d.meta_abs.clone(),
                why: "no space_id (backup taken by XtraBackup 2.0.1 or older?); cannot follow \
                      renames"
                    .into(),
            });
        };
        let st = &mut self.st;
        // The name is taken by another tablespace: move it out of the way.
        st.move_aside(target, Some(id));
        if !st.at.contains_key(target) {
            if let Some(p) = st.find_id(id, target) {
                // Renamed between the backups.
                if let Some(j) = st.at.remove(&p) {
                    st.at.insert(target.to_path_buf(), j);
                }
            } else {
                st.spaces.push(Space::created(Kind::User, Some(id)));
                st.at.insert(target.to_path_buf(), st.spaces.len() - 1);
            }
        }
        Ok(st.at[target])
    }
}

/// The rule that an incremental holds at most one delta per tablespace: `ids` (space id →
/// delta, of the deltas seen so far in this incremental) takes `d`'s space id, or refuses a
/// second delta claiming one. The system tablespace (space 0) spans several files, one delta
/// each.
fn claim_space_id(ids: &mut BTreeMap<u32, PathBuf>, d: &DeltaIn<'_>) -> Result<(), PrepareError> {
    let Some(id) = d.meta.space_id.filter(|&id| id != 0) else {
        return Ok(());
    };
    match ids.insert(id, d.abs.to_path_buf()) {
        Some(first) => Err(PrepareError::DuplicateSpaceId {
            first,
            second: d.abs.to_path_buf(),
            space_id: id,
        }),
        None => Ok(()),
    }
}

/// The steps of the plan, in order, and the directories they create.
#[derive(Default)]
struct Steps {
    list: Vec<Step>,
    made: BTreeSet<PathBuf>,
    /// The extensions, planned after every merge.
    extends: Vec<Step>,
}

impl Steps {
    /// Creates the parent directory of `f` (once).
    fn mkdir(&mut self, f: &Path) {
        if let Some(parent) = f.parent().filter(|p| !p.as_os_str().is_empty())
            && self.made.insert(parent.to_path_buf())
        {
            self.list.push(Step::Mkdir(parent.to_path_buf()));
        }
    }

    /// The tablespace steps, in order: removal of the target's tablespaces that no longer
    /// exist, moves (through temporary names: renames may swap names), full copies from
    /// incrementals, then the pages.
    fn tablespaces(&mut self, st: &State, system_files: usize, opts: &PrepareOptions) {
        let alive: BTreeMap<usize, PathBuf> = st.at.iter().map(|(p, &i)| (i, p.clone())).collect();
        for (i, s) in st.spaces.iter().enumerate() {
            if let Origin::Base(o) = &s.origin
                && !alive.contains_key(&i)
            {
                self.list.push(Step::Delete(o.clone()));
            }
        }
        let mut moves = Vec::new();
        for (&i, f) in &alive {
            if let Origin::Base(o) = &st.spaces[i].origin
                && o != f
            {
                let tmp = PathBuf::from(format!("xb_prepare.mv.{}", moves.len()));
                self.list.push(Step::Rename {
                    from: o.clone(),
                    to: tmp.clone(),
                });
                moves.push((tmp, f.clone()));
            }
        }
        for (tmp, f) in moves {
            self.mkdir(&f);
            self.list.push(Step::Rename { from: tmp, to: f });
        }
        for (&i, f) in &alive {
            self.space(&st.spaces[i], f, system_files, opts);
        }
        self.list.append(&mut self.extends);
    }

    /// The full copy and the merge of one tablespace that the result holds, and its extension
    /// to the size its page 0 records.
    ///
    /// Every tablespace file of the result is made at least `FSP_SIZE` (of the result's page 0)
    /// × physical page size long ([`Head::want`] says how exactly): a hot copy may hold fewer pages than the page 0 it copied
    /// says (the file was sized before the server extended it and flushed page 0), and the
    /// server's recovery refuses such a file ("The size of tablespace file ... is only ...").
    /// The pages missing were allocated after the backup's start checkpoint, so the redo log
    /// initialises them; zeroes until then are what mariabackup's prepare leaves too. When a
    /// delta carries page 0 the merge extends the file; otherwise the page 0 of the file it
    /// starts from, read while planning, tells the size, and an [`Step::Extend`] is planned
    /// only for a file that is shorter.
    fn space(&mut self, s: &Space, f: &Path, system_files: usize, opts: &PrepareOptions) {
        if let Origin::Installed(src) = &s.origin {
            self.mkdir(f);
            self.list.push(Step::Copy {
                src: src.clone(),
                to: f.to_path_buf(),
            });
        }
        // The system tablespace's FSP_SIZE counts all its files: only a lone ibdata1 is sized.
        let extend = match s.kind {
            Kind::System => f.as_os_str() == "ibdata1" && system_files <= 1,
            _ => true,
        };
        if extend
            && !s.page0_layer
            && let Some(h) = &s.head
            && h.len < h.want(s.kind)
        {
            self.extends.push(Step::Extend {
                target: f.to_path_buf(),
                len: h.want(s.kind),
            });
        }
        let create = s.origin == Origin::Created;
        if s.layers.is_empty() && !create {
            return;
        }
        if create {
            self.mkdir(f);
        }
        self.list.push(Step::Merge(Merge {
            target: f.to_path_buf(),
            page_size: s.page_size.as_ref().map_or(0, |p| p.0),
            create,
            extend,
            check: s.check && opts.check_pages(),
            layers: s.layers.clone(),
        }));
    }

    /// Non-InnoDB files and the redo log: the newest incremental's (the target's other files
    /// removed, `xtrabackup_info` rewritten as that of a full backup).
    fn newest_files(
        &mut self,
        target: &Target,
        newest: &BackupDir,
        l: &Listing,
        m: &Markers,
    ) -> Result<(), PrepareError> {
        let inc_markers: BTreeSet<&PathBuf> = m.marker_rels().collect();
        let inc_other: BTreeSet<PathBuf> = l
            .files
            .iter()
            .map(|(rel, _)| rel)
            .filter(|rel| {
                let name = rel.to_string_lossy();
                !(name.ends_with(".delta")
                    || name.ends_with(".meta")
                    || inc_markers.contains(rel)
                    || is_metadata(rel))
            })
            .cloned()
            .collect();
        if !inc_other.contains(Path::new(LOG_FILE_0)) {
            return Err(PrepareError::Tablespace {
                path: newest.dir.join(LOG_FILE_0),
                why: "missing: the newest incremental's redo log is needed to recover the result"
                    .into(),
            });
        }
        // A database directory the newest incremental holds empty still exists (mariabackup
        // writes an empty `db.opt` into an empty one; a directory emptied by hand means the
        // same): the result keeps the target's `db.opt` there, or gets an empty one.
        let empty_dbs: Vec<PathBuf> = l
            .dirs
            .iter()
            .filter(|d| is_database_dir(d) && !l.files.iter().any(|(rel, _)| rel.starts_with(d)))
            .map(|d| d.join(DB_OPT))
            .collect();
        for rel in &target.other {
            if !inc_other.contains(rel) && !empty_dbs.contains(rel) {
                self.list.push(Step::Delete(rel.clone()));
            }
        }
        for opt in &empty_dbs {
            if !target.other.contains(opt) {
                self.mkdir(opt);
                self.list.push(Step::Write {
                    to: opt.clone(),
                    bytes: Vec::new(),
                });
            }
        }
        for rel in &inc_other {
            self.mkdir(rel);
            self.list.push(newest_file(newest, rel));
        }
        for d in &target.list.dirs {
            if !l.dirs.contains(d) {
                self.list.push(Step::Rmdir(d.clone()));
            }
        }
        Ok(())
    }

    /// Metadata last: `xb_backup_info`, then the checkpoints.
    fn metadata(&mut self, base: &BackupDir, newest: &BackupDir) -> Result<(), PrepareError> {
        let mut ck = base.ckpt.clone();
        ck.backup_type = BackupType::FullBackuped;
        ck.to_lsn = newest.ckpt.to_lsn;
        ck.last_lsn = newest.ckpt.last_lsn;
        if ck.flushed_lsn.is_some() && newest.ckpt.flushed_lsn.is_some() {
            ck.flushed_lsn = newest.ckpt.flushed_lsn;
        }
        let mut bi = BackupInfo::full(ck.to_lsn, ck.last_lsn);
        bi.redo_start_lsn = newest.redo_start_lsn()?;
        // The result is the state of the newest incremental: the next one was taken from it.
        bi.backup_id = newest.backup_id().unwrap_or_default().to_string();
        self.list.push(Step::Write {
            to: PathBuf::from(backup_info::FILE_NAME),
            bytes: bi.to_bytes(),
        });
        let ck_name = checkpoints::find(&base.dir)?
            .file_name()
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(checkpoints::FILE_NAMES[0]));
        self.list.push(Step::Write {
            to: ck_name,
            bytes: ck.to_bytes(),
        });
        Ok(())
    }
}

/// The file that marks a database directory (its options; mariabackup writes it empty for a
/// directory without files).
const DB_OPT: &str = "db.opt";

/// Whether a top-level directory of a backup is a database's (not the server's own, such as
/// `#innodb_redo`, nor hidden).
fn is_database_dir(d: &Path) -> bool {
    d.to_str()
        .is_some_and(|n| !n.is_empty() && !n.starts_with('#') && !n.starts_with('.'))
}

/// The step that puts the newest incremental's file `rel` into the target: a copy, or for
/// `xtrabackup_info` a rewrite as the info of a full backup.
fn newest_file(newest: &BackupDir, rel: &Path) -> Step {
    let is_info = rel
        .to_str()
        .is_some_and(|n| crate::format::info::FILE_NAMES.contains(&n));
    if is_info && let Some(info) = &newest.info {
        let mut info = info.clone();
        if info.get("innodb_from_lsn").is_some() {
            info.set("innodb_from_lsn", "0");
        }
        if info.get("incremental").is_some() {
            info.set("incremental", "N");
        }
        return Step::Write {
            to: rel.to_path_buf(),
            bytes: info.to_bytes(),
        };
    }
    Step::Copy {
        src: newest.dir.join(rel),
        to: rel.to_path_buf(),
    }
}

/// Checks the pages of a delta: each non-zero page carries its listed number (when `numbers`),
/// and page 0 of a user or undo tablespace carries the `.meta`'s space id and page size.
///
/// Reads only the first 8 bytes of each page (`FIL_PAGE_OFFSET` is at 4..8); a whole page only
/// for page 0 and for pages whose number differs (all-zero pages, doublewrite copies). That the
/// delta is whole (every listed page present in full) was checked from its length already.
fn check_pages(
    file: &Delta,
    ps: PageSize,
    numbers: bool,
    space_id: Option<u32>,
    kind: Kind,
) -> Result<(), PrepareError> {
    let path = &file.path;
    let mut buf = vec![0u8; ps.get()];
    let n = if numbers { file.index.len() } else { 1 };
    for k in 0..n {
        let page_no = file.index.page_nos().get(k).copied().unwrap_or(0);
        if page_no != 0 {
            let offset = file.index.page_offset(k).unwrap_or(0);
            let mut head = [0u8; 8];
            file.r
                .read_exact_at(&mut head, offset)
                .map_err(|e| PrepareError::io(path, e))?;
            if u32::from_be_bytes([head[4], head[5], head[6], head[7]]) == page_no {
                continue;
            }
        }
        let page_no = file.read_page(k, &mut buf)?;
        let offset = file.index.page_offset(k).unwrap_or(0);
        let bad = |why: String| PrepareError::BadPage {
            path: file.path.clone(),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn head(page_size: u32, logical: u32, fsp_size: u32) -> Head {
        Head {
            space_id: 5,
            page_size,
            logical,
            fsp_size,
            len: 0,
        }
    }

    #[test]
    fn the_length_a_page_0_asks_for() {
        // FSP_SIZE × physical page size.
        assert_eq!(head(16384, 16384, 6).want(Kind::User), 6 * 16384);
        assert_eq!(head(4096, 16384, 16).want(Kind::User), 65536);
        // 2 KiB compressed pages: whole 4 KiB units, as the server extends them.
        assert_eq!(head(2048, 4096, 11).want(Kind::User), 20480);
        assert_eq!(head(2048, 4096, 12).want(Kind::User), 24576);
        // A .ibd file is never shorter than 4 logical pages.
        assert_eq!(head(4096, 16384, 14).want(Kind::User), 65536);
        assert_eq!(head(16384, 16384, 0).want(Kind::User), 65536);
        // Not so for the system and undo tablespaces.
        assert_eq!(head(16384, 16384, 2).want(Kind::Undo), 32768);
        assert_eq!(head(16384, 16384, 768).want(Kind::System), 768 * 16384);
    }
}
