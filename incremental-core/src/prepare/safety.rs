//! The refined safety rule, for a link whose incremental selected its pages above the LSN where
//! the redo of the backup it is laid on starts (`selection_lsn > redo_start`).
//!
//! The only changes the merge could lose are those of the mini-transactions whose end LSN lies in
//! `(redo_start, selection_lsn]`: they are in that backup's own redo, not necessarily in its page
//! copies, and the incremental skips pages whose LSN is at or below `selection_lsn`. So that redo
//! range is read from the backup's `ib_logfile0` and every page a mini-transaction of it changes
//! must be up to date in the merge anyway:
//!
//! * (a) the version the merge keeps of it so far (the newest earlier delta carrying it, else the
//!   base's file) has a page LSN at or above the mini-transaction's end LSN, or
//! * (b) this incremental or a later one in the chain carries the page (its copy is newer).
//!
//! File-level records (FILE_CREATE/DELETE/RENAME/MODIFY/CHECKPOINT) name no page. An undo
//! truncation (EXTENDED TRIM_PAGES) is never accepted. A range that cannot be read completely
//! (file too short, CRC or sequence-bit failure before `selection_lsn`, an encrypted log whose
//! key file, named by the base's `backup-my.cnf`, cannot be read, a record that does not
//! decode) fails the rule.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use innodb_page::redo::record::{LogRecords, PageId, RecordKind};
use innodb_page::redo::RedoFormat;
use innodb_page::Lsn;

use super::backup_dir::BackupDir;
use super::error::PrepareError;
use super::files::{read_head, tablespace_kind, Kind};
use super::input::Inputs;
use crate::format::ddl_files::{parse_marker, DdlFile};
use crate::format::delta::Checks;
use crate::format::meta::{self, Meta};

/// Offset of `FIL_PAGE_LSN` in every page.
const FIL_PAGE_LSN: u64 = 16;

/// Where the pages of one tablespace are: a file and its physical page size, and for a delta
/// the byte offset of each page it carries.
#[derive(Debug)]
struct Source {
    path: PathBuf,
    page_size: u64,
    /// `None`: a whole tablespace file (page `n` at `n × page_size`).
    offsets: Option<HashMap<u32, u64>>,
}

impl Source {
    /// Byte offset of page `no` in the file, if it holds that page.
    fn offset(&self, no: u32) -> Option<u64> {
        match &self.offsets {
            Some(map) => map.get(&no).copied(),
            None => u64::from(no).checked_mul(self.page_size),
        }
    }

    /// The page LSN of page `no`, if the file holds the page.
    fn page_lsn(&self, inputs: &Inputs, no: u32) -> Option<Lsn> {
        let at = self.offset(no)?.checked_add(FIL_PAGE_LSN)?;
        let f = inputs.reader(&self.path).ok()?;
        let mut b = [0u8; 8];
        f.read_exact_at(&mut b, at).ok()?;
        Some(Lsn::new(u64::from_be_bytes(b)))
    }
}

/// Space id → where its pages are, for one backup directory.
type Catalog = HashMap<u32, Source>;

/// The deltas of an incremental, by space id (from the `.meta`). Deltas of the second and later
/// system data files are left out (their page numbers are file-relative): a page of space 0 is
/// then simply not "carried", which can only make the rule refuse.
fn delta_catalog(inc: &BackupDir) -> Result<Catalog, PrepareError> {
    let mut out = Catalog::new();
    let inputs = &inc.inputs;
    for (rel, abs) in inc.list()?.files {
        if !rel.to_string_lossy().ends_with(".delta") {
            continue;
        }
        let Some(meta_abs) = meta::path_for_delta(&abs).filter(|m| inputs.is_file(m)) else {
            continue; // refused by the planning with a precise message
        };
        let meta = Meta::parse(&inputs.read(&meta_abs)?)
            .map_err(|e| crate::format::error::Error::meta(&meta_abs, e))?;
        let Some(id) = meta.space_id else { continue };
        if id == 0 && rel.as_os_str() != "ibdata1.delta" {
            continue;
        }
        let ps = meta.physical_page_size();
        let d = inputs.delta(&abs, ps, Checks::COMPATIBLE)?;
        let offsets = d.index.iter().collect();
        out.entry(id).or_insert(Source {
            path: abs,
            page_size: ps.get_u64(),
            offsets: Some(offsets),
        });
    }
    Ok(out)
}

/// The tablespace files of a full backup, by space id: `ibdata1` (space 0; pages beyond it are
/// not found), undo tablespaces and `*.ibd`, and the `.new` full copies that replace them.
fn base_catalog(base: &BackupDir) -> Result<Catalog, PrepareError> {
    let mut out = Catalog::new();
    let files = base.list()?.files;
    let read_head_opt = |p: &Path| base.inputs.read_head_opt(p);
    let mut news = Vec::new();
    for (rel, abs) in files {
        if matches!(parse_marker(&rel), Some((DdlFile::New, _))) {
            news.push(abs);
            continue;
        }
        match tablespace_kind(&rel) {
            Some(Kind::System) if rel.as_os_str() == "ibdata1" => {
                let (_, ps) = read_head(&abs)?;
                out.insert(
                    0,
                    Source {
                        path: abs,
                        page_size: u64::from(ps),
                        offsets: None,
                    },
                );
            }
            Some(Kind::User) | Some(Kind::Undo) => {
                // a first page not written yet (hot backup): nothing to read from the file
                let Some((id, ps)) = read_head_opt(&abs)? else {
                    continue;
                };
                out.insert(
                    id,
                    Source {
                        path: abs,
                        page_size: u64::from(ps),
                        offsets: None,
                    },
                );
            }
            _ => {}
        }
    }
    for abs in news {
        let Some((id, ps)) = read_head_opt(&abs)? else {
            continue;
        };
        out.insert(
            id,
            Source {
                path: abs,
                page_size: u64::from(ps),
                offsets: None,
            },
        );
    }
    Ok(out)
}

/// A page changed in the redo range: the page, the end LSN of the first mtr changing it, and
/// whether it is an undo truncation.
#[derive(Debug, Clone, Copy)]
struct Touch {
    page: PageId,
    end: Lsn,
    trim: bool,
}

/// Reads the mtrs of `dir/ib_logfile0` that start in `[start, until)` and returns the pages they
/// change, in log order, or why the range cannot be read completely.
fn redo_touches(dir: &Path, start: Lsn, until: Lsn) -> Result<Vec<Touch>, String> {
    let path = innodb_page::redo::file::log_file_path(dir);
    let log =
        innodb_page::redo::open(&path).map_err(|e| format!("its redo log cannot be read ({e})"))?;
    if log.format != RedoFormat::MariaDb108 {
        return Err(format!(
            "its redo log is in format {}, whose records are not read",
            log.format.name()
        ));
    }
    // an encrypted log is decrypted with the keys its backup-my.cnf names
    let mut r = crate::encryption::backup_log_reader(dir, &log, start)
        .map_err(|e| format!("its redo log cannot be read from LSN {start} ({e})"))?;
    let capacity = r.geometry().capacity();
    // A backup's log copy may hold exactly the range (capacity = until − start).
    if until.get().saturating_sub(start.get()) > capacity {
        return Err(format!(
            "its redo log ({capacity} bytes of records) cannot hold the range"
        ));
    }
    let mut out = Vec::new();
    let mut reached = false;
    loop {
        let m = match r.next_mtr() {
            Ok(Some(m)) => m,
            Ok(None) => break,
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        if m.start_lsn() >= until {
            reached = true;
            break;
        }
        for rec in LogRecords::of(&m) {
            let rec = rec.map_err(|e| {
                format!(
                    "its mini-transaction at LSN {} does not decode ({e})",
                    m.start_lsn()
                )
            })?;
            if let RecordKind::Page { page, op, .. } = rec.kind()
                && (op.is_trim_pages() || op.modifies_page())
            {
                out.push(Touch {
                    page,
                    end: m.end_lsn(),
                    trim: op.is_trim_pages(),
                });
            }
        }
    }
    if !reached && r.lsn() < until {
        let why = r.stop().map_or_else(String::new, |s| format!(": {s}"));
        return Err(format!(
            "its redo log can only be read up to LSN {}{why}",
            r.lsn()
        ));
    }
    Ok(out)
}

/// Checks the link `incs[k]` laid on the backup before it (`base` for `k = 0`), whose redo
/// starts at `start` while `incs[k]` selected its pages above `sel > start`.
pub(crate) fn check_link(
    base: &BackupDir,
    incs: &[BackupDir],
    k: usize,
    start: Lsn,
    sel: Lsn,
) -> Result<(), PrepareError> {
    let Some(inc) = incs.get(k) else {
        return Ok(());
    };
    let prev = if k == 0 { base } else { &incs[k - 1] };
    let refuse = |detail: String, first: Option<(PageId, Lsn)>| PrepareError::UnsafeMerge {
        inc: inc.dir.clone(),
        onto: prev.dir.clone(),
        selection_lsn: sel,
        redo_start_lsn: start,
        first_page: first.map(|(p, l)| (p.space_id, p.page_no, l)),
        detail,
    };
    // Mtrs ending in (start, sel]: those starting before sel (sel is an mtr boundary; an mtr
    // across it is included, which can only refuse more).
    let log_dir = prev.log_dir()?;
    let touches = redo_touches(&log_dir, start, sel).map_err(|why| {
        refuse(
            format!("{why}, so the changes between the two LSNs cannot be checked"),
            None,
        )
    })?;
    if touches.is_empty() {
        return Ok(());
    }
    // Versions the merge keeps so far: the base's files, then the deltas of incs[..k], newest
    // last; pages carried from incs[k..] on.
    let mut older: Vec<Catalog> = vec![base_catalog(base)?];
    for i in &incs[..k] {
        older.push(delta_catalog(i)?);
    }
    let newer: Vec<Catalog> = incs[k..]
        .iter()
        .map(delta_catalog)
        .collect::<Result<_, _>>()?;
    let mut verdict: HashMap<(PageId, u64), bool> = HashMap::new();
    for t in touches {
        if t.trim {
            return Err(refuse(
                format!(
                    "its mini-transaction ending at LSN {} truncates undo tablespace {} to {} \
                     pages, which page copies cannot reproduce",
                    t.end, t.page.space_id, t.page.page_no
                ),
                Some((t.page, t.end)),
            ));
        }
        let ok = *verdict.entry((t.page, t.end.get())).or_insert_with(|| {
            let carried = newer.iter().any(|c| {
                c.get(&t.page.space_id)
                    .and_then(|s| s.offset(t.page.page_no))
                    .is_some()
            });
            carried || {
                // The newest older copy of the page.
                let version = older.iter().rev().find_map(|c| {
                    let s = c.get(&t.page.space_id)?;
                    s.offset(t.page.page_no)?;
                    Some(s.page_lsn(&base.inputs, t.page.page_no))
                });
                matches!(version, Some(Some(l)) if l >= t.end)
            }
        });
        if !ok {
            return Err(refuse(
                format!(
                    "its mini-transaction ending at LSN {} changed page {} (space, page), which \
                     the copy in that backup lacks and no incremental from this one on carries",
                    t.end, t.page
                ),
                Some((t.page, t.end)),
            ));
        }
    }
    Ok(())
}
