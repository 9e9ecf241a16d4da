//! Checking a backup, or a whole chain, without changing it (`xb verify` on backup
//! directories): is every page sound, and would the chain restore?
//!
//! [`verify_chain`] opens every file read-only and writes nothing. It checks:
//!
//! * every page of the full backup's tablespaces (system, undo, `*.ibd`), as `xb verify DATADIR`
//!   does with [`innodb_page::verify`]: checksum, page number, space id;
//! * every page of every `.delta` of every incremental (delta pages are whole physical pages):
//!   the same checks, with the page number the delta's header lists and the space id its
//!   `.meta` gives. The tablespace's format (checksum algorithm, compression) comes from the
//!   delta's own page 0 when it carries one, else from the newest earlier copy of that space id
//!   in the chain (the full backup's file, or page 0 in an earlier delta);
//! * every `.meta` against its delta: the page size and space id agree with page 0 (in the delta
//!   or earlier in the chain);
//! * whether the chain would restore, by the very checks of the prepare and of the copy-back:
//!   [`copy_back::check_restorable`] on the target (no interrupted prepare, not an incremental, no
//!   stray delta, and for a backup restored alone no DDL file that needs a prepare first), then
//!   [`PreparePlan::new`] as a dry run (states, each `from_lsn` equal to the previous `to_lsn`,
//!   the order of the incrementals by their identities and `last_lsn`, partial backups, the
//!   safety rule, every delta well formed end to end, page 0 against its `.meta`, one delta per
//!   space id in each incremental, names). Nothing of those rules is restated here.
//!
//! A directory that is not a finished backup is refused before anything is read:
//! [`VerifyError::Unfinished`] when it holds files that only a backup writes
//! ([`unfinished_backup`]) but no checkpoints file, [`VerifyError::NotABackup`] otherwise.
//!
//! The verdict is [`ChainReport::restorable`]: no unsound page, no unreadable file, no refusal.
//!
//! ```no_run
//! use incremental_core::verify::verify_chain;
//! use incremental_core::progress::{Cancel, NoProgress};
//! let r = verify_chain("backups/full".as_ref(), &["backups/inc1".into()], &NoProgress,
//!                      &Cancel::new())?;
//! println!("{} pages checked; {}", r.pages_checked, r.verdict());
//! # Ok::<(), incremental_core::verify::VerifyError>(())
//! ```

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};

use innodb_page::datadir;
use innodb_page::fsp::TablespaceFormat;
use innodb_page::tablespace::{Doublewrite, OpenOptions, ReadMode, Tablespace};
use innodb_page::verify::{check_page, checksum_context, verify_tablespace, Problem};
use innodb_page::{Lsn, Page};

use crate::copy_back::{self, CopyBackError};
use crate::format::checkpoints::{self, BackupType, Checkpoints};
use crate::format::delta::{Checks, DeltaFile, PageSize};
use crate::format::meta::{self, Meta};
use crate::prepare::files::{list, read_head_opt};
use crate::prepare::{PlanSummary, PrepareError, PrepareOptions, PreparePlan};
use crate::progress::{Cancel, Event, Progress};
use crate::source::DirSource;
use crate::Remedy;

/// Why [`verify_chain`] could not run at all (as opposed to finding a problem in the data, which
/// goes into the [`ChainReport`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// A directory given is not a backup.
    #[error(
        "{}: not a backup directory (no xtrabackup_checkpoints in it); give the directories \
         that xb backup or mariabackup wrote",
        dir.display()
    )]
    NotABackup {
        /// The directory.
        dir: PathBuf,
    },
    /// A directory that a backup was writing but never finished (interrupted, killed, or
    /// still running): it holds files only a backup writes but no checkpoints file, which a
    /// backup writes last.
    #[error(
        "{}: an unfinished backup: it holds {}, which only a backup writes, but no \
         xtrabackup_checkpoints, which a backup writes last (the backup was interrupted or is \
         still running); it cannot be restored: take the backup again",
        dir.display(),
        evidence.display()
    )]
    Unfinished {
        /// The directory.
        dir: PathBuf,
        /// A file in it that marks it as a backup (relative to it).
        evidence: PathBuf,
    },
    /// A directory could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The full backup's directory could not be listed.
    #[error(transparent)]
    Scan(innodb_page::Error),
    /// An incremental's directory could not be listed.
    #[error(transparent)]
    List(PrepareError),
    /// The caller cancelled.
    #[error("cancelled")]
    Cancelled,
}

/// An unsound page or file (a tablespace file, a `.delta` or a `.meta`): the same finding as
/// the page checks of datadirs report.
pub use innodb_page::verify::Finding;

/// What was read of one backup of the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BackupFacts {
    /// The directory, as given.
    pub dir: PathBuf,
    /// Its checkpoints (`None` when the file cannot be parsed; the refusal says why).
    pub checkpoints: Option<Checkpoints>,
    /// Tablespace files (full backup) or `.delta` files (incremental) checked.
    pub files_checked: u64,
    /// Pages checked in them.
    pub pages_checked: u64,
}

/// Why the chain would not restore: what the prepare or the copy-back would refuse.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The prepare (its planning) refuses the chain.
    #[error(transparent)]
    Prepare(PrepareError),
    /// The copy-back refuses the target.
    #[error(transparent)]
    CopyBack(CopyBackError),
}

impl Refusal {
    /// What the caller can do about it (the remedy of the refusing engine's error).
    pub fn remedy(&self) -> Option<Remedy> {
        match self {
            Refusal::Prepare(e) => e.remedy(),
            Refusal::CopyBack(e) => e.remedy(),
        }
    }

    /// Whether the refusal comes from a failure to read, not from the data.
    pub fn is_io(&self) -> bool {
        matches!(
            self,
            Refusal::Prepare(PrepareError::Io { .. }) | Refusal::CopyBack(CopyBackError::Io { .. })
        )
    }
}

/// The outcome of [`verify_chain`]. With the `serde` feature it serializes as the record of
/// `xb verify --json` on a chain (schema in docs/json.md); the refusal as its message.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct ChainReport {
    /// The target first, then the incrementals, in the order given.
    pub backups: Vec<BackupFacts>,
    /// Files checked (tablespace files and `.delta` files).
    pub files_checked: u64,
    /// Pages checked.
    pub pages_checked: u64,
    /// Unsound pages and files, in the order found.
    pub corrupt: Vec<Finding>,
    /// Files that could not be read (an I/O error, not a finding about the data).
    pub io_errors: Vec<String>,
    /// What the applier or the restore would refuse, if anything.
    pub refusal: Option<Refusal>,
    /// The applier's plan, when it accepts the chain.
    pub plan: Option<PlanSummary>,
}

impl ChainReport {
    /// The `to_lsn` of the newest backup given: where a restore of the chain ends.
    pub fn to_lsn(&self) -> Option<Lsn> {
        self.backups
            .last()
            .and_then(|b| b.checkpoints.as_ref())
            .map(|c| c.to_lsn)
    }

    /// True when the chain would prepare and restore: every page sound, every file read, no
    /// refusal.
    pub fn restorable(&self) -> bool {
        self.corrupt.is_empty() && self.io_errors.is_empty() && self.refusal.is_none()
    }

    /// Why the chain is not restorable, one sentence each (empty when it is).
    pub fn reasons(&self) -> Vec<String> {
        self.reasons_with(|r| r.to_string())
    }

    /// [`ChainReport::reasons`], the refusal worded by `word` (a front end adds its remedy).
    pub fn reasons_with(&self, word: impl Fn(&Refusal) -> String) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(first) = self.corrupt.first() {
            out.push(match self.corrupt.len() {
                1 => format!("1 unsound page or file: {first}"),
                n => format!("{n} unsound pages or files, the first: {first}"),
            });
        }
        if let Some(first) = self.io_errors.first() {
            out.push(format!(
                "{} file(s) could not be read, the first: {first}",
                self.io_errors.len()
            ));
        }
        if let Some(r) = &self.refusal {
            out.push(word(r));
        }
        out
    }

    /// `restorable: yes (...)` or `restorable: no (why)`, for people.
    pub fn verdict(&self) -> String {
        self.verdict_with(|r| r.to_string())
    }

    /// [`ChainReport::verdict`], the refusal worded by `word` (a front end adds its remedy).
    pub fn verdict_with(&self, word: impl Fn(&Refusal) -> String) -> String {
        if self.restorable() {
            let incs = self.backups.len().saturating_sub(1);
            match self.to_lsn() {
                Some(l) => {
                    format!("restorable: yes (full backup + {incs} incremental(s), up to LSN {l})")
                }
                None => "restorable: yes".into(),
            }
        } else {
            format!("restorable: no ({})", self.reasons_with(word).join("; "))
        }
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for BackupFacts {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let c = self.checkpoints.as_ref();
        let mut m = s.serialize_struct("BackupFacts", 6)?;
        m.serialize_field("dir", &self.dir.display().to_string())?;
        m.serialize_field("backup_type", &c.map(|c| c.backup_type.as_str()))?;
        m.serialize_field("from_lsn", &c.map(|c| c.from_lsn.get()))?;
        m.serialize_field("to_lsn", &c.map(|c| c.to_lsn.get()))?;
        m.serialize_field("files_checked", &self.files_checked)?;
        m.serialize_field("pages_checked", &self.pages_checked)?;
        m.end()
    }
}

/// The part of the prepare's plan a chain report shows.
#[cfg(feature = "serde")]
#[derive(serde::Serialize)]
struct PlanBrief {
    incrementals: usize,
    deltas: u64,
    delta_pages: u64,
    steps: usize,
}

#[cfg(feature = "serde")]
impl serde::Serialize for ChainReport {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let plan = self.plan.as_ref().map(|p| PlanBrief {
            incrementals: p.incrementals,
            deltas: p.deltas,
            delta_pages: p.delta_pages,
            steps: p.steps,
        });
        let mut m = s.serialize_struct("ChainReport", 12)?;
        m.serialize_field("kind", "chain")?;
        m.serialize_field("restorable", &self.restorable())?;
        m.serialize_field("reasons", &self.reasons())?;
        m.serialize_field("to_lsn", &self.to_lsn().map(Lsn::get))?;
        m.serialize_field("backups", &self.backups)?;
        m.serialize_field("files_checked", &self.files_checked)?;
        m.serialize_field("pages_checked", &self.pages_checked)?;
        m.serialize_field("corrupt", &self.corrupt)?;
        m.serialize_field("errors", &self.io_errors)?;
        m.serialize_field("refusal", &self.refusal.as_ref().map(|e| e.to_string()))?;
        m.serialize_field("plan", &plan)?;
        m.end()
    }
}

/// The format of a tablespace as known at some point of the chain.
#[derive(Debug, Clone)]
struct Known {
    format: TablespaceFormat,
    /// The doublewrite area (only for the system tablespace).
    doublewrite: Option<Doublewrite>,
}

struct Run<'a> {
    report: ChainReport,
    known: HashMap<u32, Known>,
    progress: &'a dyn Progress,
    cancel: &'a Cancel,
}

/// The message of a format error without the file name it starts with (the finding names it).
fn reason_of(e: &crate::Error) -> String {
    match e {
        crate::Error::Delta { source, .. } => source.to_string(),
        crate::Error::Meta { source, .. } => source.to_string(),
        crate::Error::Io { source, .. } => source.to_string(),
        other => other.to_string(),
    }
}

fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

fn rel<'p>(p: &'p Path, dir: &Path) -> &'p Path {
    p.strip_prefix(dir).unwrap_or(p)
}

/// Checks the backup `target` and the incrementals `incs` laid on it (oldest first), without
/// writing anything. See the [module documentation](self) for what is checked.
///
/// Returns [`VerifyError`] only when it cannot run (a directory that is missing, unreadable or
/// not a backup; cancellation); every problem in the data is in the report.
pub fn verify_chain(
    target: &Path,
    incs: &[PathBuf],
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<ChainReport, VerifyError> {
    let dirs: Vec<&Path> = std::iter::once(target)
        .chain(incs.iter().map(PathBuf::as_path))
        .collect();
    for d in &dirs {
        check_is_backup(d)?;
    }
    let groups = datadir::scan(target)
        .map_err(VerifyError::Scan)?
        .tablespace_groups();
    let deltas = dirs[1..]
        .iter()
        .map(|d| list_deltas(d))
        .collect::<Result<Vec<_>, _>>()?;
    // What there is to read, for the progress bar.
    let bytes: u64 = groups.iter().flatten().map(|p| file_len(p)).sum::<u64>()
        + deltas
            .iter()
            .flatten()
            .map(|(_, a)| file_len(a))
            .sum::<u64>();
    let files = groups.len() + deltas.iter().map(Vec::len).sum::<usize>();
    progress.event(Event::Planned {
        files: files as u64,
        bytes,
    });

    let mut run = Run {
        report: ChainReport::default(),
        known: HashMap::new(),
        progress,
        cancel,
    };
    for d in &dirs {
        run.report.backups.push(BackupFacts {
            dir: d.to_path_buf(),
            checkpoints: Checkpoints::read_dir(d).ok(),
            files_checked: 0,
            pages_checked: 0,
        });
    }
    for g in &groups {
        run.full_tablespace(target, g)?;
    }
    for (k, ds) in deltas.iter().enumerate() {
        for (r, abs) in ds {
            run.delta(k + 1, r, abs)?;
        }
    }
    let mut report = run.report;
    would_restore(&mut report, target, incs);
    Ok(report)
}

/// `d` is a directory holding a checkpoints file.
fn check_is_backup(d: &Path) -> Result<(), VerifyError> {
    let md = std::fs::metadata(d).map_err(|source| VerifyError::Io {
        path: d.to_path_buf(),
        source,
    })?;
    if md.is_dir()
        && let Some(evidence) = unfinished_backup(d)
    {
        return Err(VerifyError::Unfinished {
            dir: d.to_path_buf(),
            evidence,
        });
    }
    if !md.is_dir() || checkpoints::find(d).is_err() {
        return Err(VerifyError::NotABackup {
            dir: d.to_path_buf(),
        });
    }
    Ok(())
}

/// Top-level files that only a backup holds: a restore (xb's and mariabackup's copy-back)
/// leaves them out of the datadir. `xb_backup_info`, `xtrabackup_info` and
/// `xtrabackup_logfile` are not among them: mariabackup's copy-back copies them into the
/// datadir (it skips only `backup-my.cnf`, `xtrabackup_checkpoints`, `xtrabackup_binlog_info`
/// and a few more).
const BACKUP_ONLY_FILES: &[&str] = &["backup-my.cnf"];

/// Whether `dir` is a backup directory that was never finished: no checkpoints file (a
/// backup writes it last), but a file that only a backup writes: `backup-my.cnf` at the
/// top, or a `.delta` or a file still under xb's temporary name
/// (`*.xbtmp`) at the top or in a database directory. Returns that file (relative to `dir`);
/// `None` for a finished backup, a datadir, or a directory that cannot be read.
///
/// A full backup by mariabackup killed before its last files, or one by xb killed between two
/// files, holds nothing of the kind: it looks like a datadir.
///
/// ```
/// use incremental_core::verify::unfinished_backup;
/// let d = tempfile::tempdir().unwrap();
/// std::fs::write(d.path().join("ibdata1"), b"").unwrap();
/// assert_eq!(unfinished_backup(d.path()), None);
/// std::fs::write(d.path().join("ib_logfile0.xbtmp"), b"").unwrap();
/// assert_eq!(unfinished_backup(d.path()), Some("ib_logfile0.xbtmp".into()));
/// ```
pub fn unfinished_backup(dir: &Path) -> Option<PathBuf> {
    if checkpoints::find(dir).is_ok() {
        return None;
    }
    let listing = list(dir).ok()?;
    let marks = |rel: &Path| {
        let name = rel.to_string_lossy();
        let top = rel.components().count() == 1;
        (top && BACKUP_ONLY_FILES.contains(&name.as_ref()))
            || name.ends_with(".delta")
            || name.ends_with(crate::backup::sink::TEMP_SUFFIX)
    };
    listing
        .files
        .into_iter()
        .map(|(rel, _)| rel)
        .find(|rel| marks(rel))
}

/// The `.delta` files of an incremental: (relative, absolute).
fn list_deltas(d: &Path) -> Result<Vec<(PathBuf, PathBuf)>, VerifyError> {
    let l = list(d).map_err(VerifyError::List)?;
    Ok(l.files
        .into_iter()
        .filter(|(r, _)| r.to_string_lossy().ends_with(".delta"))
        .collect())
}

/// Would the chain restore? The copy-back's and the prepare's own checks, as a dry run: their
/// refusal, or the prepare's plan, into the report.
fn would_restore(report: &mut ChainReport, target: &Path, incs: &[PathBuf]) {
    let cp = match copy_back::check_restorable(&DirSource::new(target)) {
        Ok(cp) => Some(cp),
        // The prepare of a chain processes the target's DDL files; the copy-back then restores
        // its result.
        Err(CopyBackError::NeedsPrepare { .. }) if !incs.is_empty() => None,
        Err(e) => {
            report.refusal = Some(Refusal::CopyBack(e));
            return;
        }
    };
    let plannable = !incs.is_empty()
        || cp.is_some_and(|cp| {
            matches!(
                cp.backup_type,
                BackupType::FullBackuped | BackupType::LogApplied
            )
        });
    if plannable {
        match PreparePlan::new(target, incs, &PrepareOptions::default()) {
            Ok(plan) => report.plan = Some(plan.summary().clone()),
            Err(e) => report.refusal = Some(Refusal::Prepare(e)),
        }
    }
}

impl Run<'_> {
    fn find(&mut self, file: &Path, page_no: Option<u64>, reason: String) {
        self.report
            .corrupt
            .push(Finding::new(file.to_path_buf(), page_no, reason));
    }

    fn counted(&mut self, k: usize, files: u64, pages: u64) {
        self.report.files_checked += files;
        self.report.pages_checked += pages;
        if let Some(b) = self.report.backups.get_mut(k) {
            b.files_checked += files;
            b.pages_checked += pages;
        }
    }

    /// One tablespace of the full backup (all its files).
    fn full_tablespace(&mut self, dir: &Path, files: &[PathBuf]) -> Result<(), VerifyError> {
        if self.cancel.is_cancelled() {
            return Err(VerifyError::Cancelled);
        }
        let bytes: u64 = files.iter().map(|p| file_len(p)).sum();
        self.progress.event(Event::FileStarted {
            path: rel(&files[0], dir),
            bytes,
        });
        let mut pages = 0;
        if self.rebuilt_by_recovery(files) {
            // Nothing to check: recovery writes it whole from the redo (as the prepare sees it).
            self.counted(0, files.len() as u64, 0);
            self.progress.event(Event::FileDone {
                path: rel(&files[0], dir),
            });
            return Ok(());
        }
        // pread, not a memory map: a disk error must be an error naming the file, not a SIGBUS
        match Tablespace::open_with(files, OpenOptions::default().mode(ReadMode::Pread)) {
            Ok(ts) => match verify_tablespace(&ts, false) {
                Ok(r) => {
                    pages = r.pages;
                    self.counted(0, files.len() as u64, r.pages);
                    for c in r.corrupt {
                        let file = ts.path_of(c.page_no).to_path_buf();
                        let reason = c.problem.map(|p| p.to_string()).unwrap_or_default();
                        self.find(&file, Some(c.page_no), reason);
                    }
                    let f = *ts.format();
                    self.known.insert(
                        f.space_id,
                        Known {
                            format: f,
                            doublewrite: ts.doublewrite().cloned(),
                        },
                    );
                }
                Err(e) => self.report.io_errors.push(e.to_string()),
            },
            Err(innodb_page::Error::Io {
                path,
                offset,
                source,
            }) => self.report.io_errors.push(format!(
                "{}: I/O error at offset {offset}: {source}",
                path.display()
            )),
            Err(innodb_page::Error::Page {
                path,
                offset,
                source,
            }) => self.find(&path, None, format!("at offset {offset}: {source}")),
            Err(innodb_page::Error::Layout { path, what }) => self.find(&path, None, what),
            Err(e) => self.report.io_errors.push(e.to_string()),
        }
        self.progress.event(Event::Pages {
            scanned: pages,
            copied: 0,
            bytes,
        });
        self.progress.event(Event::FileDone {
            path: rel(&files[0], dir),
        });
        Ok(())
    }

    /// A file-per-table tablespace of a full backup not yet recovered (`full-backuped`) whose
    /// first page is still all zero: created during a hot backup so recently that the server had
    /// not written it yet. Its creation is in the backup's redo, which recovery applies; the
    /// prepare's rule for such a file ([`read_head_opt`]), not restated here.
    fn rebuilt_by_recovery(&self, files: &[PathBuf]) -> bool {
        let unrecovered = self.report.backups.first().is_some_and(|b| {
            b.checkpoints
                .as_ref()
                .is_some_and(|c| c.backup_type == BackupType::FullBackuped)
        });
        let user = files.len() == 1 && files[0].extension().is_some_and(|e| e == "ibd");
        unrecovered && user && matches!(read_head_opt(&files[0]), Ok(None))
    }

    /// One `.delta` (and its `.meta`) of incremental number `k` (1-based).
    fn delta(&mut self, k: usize, rel_path: &Path, abs: &Path) -> Result<(), VerifyError> {
        if self.cancel.is_cancelled() {
            return Err(VerifyError::Cancelled);
        }
        let bytes = file_len(abs);
        self.progress.event(Event::FileStarted {
            path: rel_path,
            bytes,
        });
        let pages = self.delta_pages(rel_path, abs)?;
        self.counted(k, 1, pages);
        self.progress.event(Event::Pages {
            scanned: pages,
            copied: 0,
            bytes,
        });
        self.progress.event(Event::FileDone { path: rel_path });
        Ok(())
    }

    /// Checks a delta against its `.meta`; returns the pages checked.
    fn delta_pages(&mut self, rel_path: &Path, abs: &Path) -> Result<u64, VerifyError> {
        let Ok((meta_abs, meta)) = self.delta_meta(abs) else {
            return Ok(0);
        };
        let ps = meta.physical_page_size();
        let Ok(file) = self.open_delta(abs, ps) else {
            return Ok(0);
        };
        // Files of the system tablespace after the first list file-relative page numbers.
        let system = meta.space_id == Some(0);
        let later_system_file = system && rel_path != Path::new("ibdata1.delta");
        let mut buf = vec![0u8; ps.get()];
        let Ok(own) = self.own_format(&file, later_system_file, &mut buf) else {
            return Ok(0);
        };
        let Ok(format) = self.delta_format(&file, &meta, own) else {
            return Ok(0);
        };
        if let Err(Reported) =
            self.meta_against_page0(&meta_abs, &meta, &file, format, own, later_system_file)
        {
            return Ok(0);
        }
        // Every page: checksum, the listed page number, the .meta's space id (page 0's when the
        // two disagree: that was reported once, above).
        let expected_id = match (meta.space_id, own) {
            (Some(id), None) => id,
            _ => format.space_id,
        };
        let check_format = TablespaceFormat {
            space_id: expected_id,
            ..format
        };
        let dblwr = if system && !later_system_file {
            self.known.get(&0).and_then(|k| k.doublewrite.clone())
        } else {
            None
        };
        let d = DeltaCheck {
            file: &file,
            meta_abs: &meta_abs,
            format: check_format,
            doublewrite: dblwr,
            later_system_file,
        };
        let pages = self.delta_each_page(&d, &mut buf)?;
        if let (Some(f), false) = (own, later_system_file) {
            self.remember_format(f);
        }
        Ok(pages)
    }

    /// The `.meta` beside the delta `abs`, read; a missing or unreadable one is reported.
    fn delta_meta(&mut self, abs: &Path) -> Result<(PathBuf, Meta), Reported> {
        let Some(meta_abs) = meta::path_for_delta(abs) else {
            self.find(abs, None, "a .delta file needs a name".into());
            return Err(Reported);
        };
        if !meta_abs.exists() {
            self.find(
                &meta_abs,
                None,
                "missing (every .delta needs its .meta beside it)".into(),
            );
            return Err(Reported);
        }
        match Meta::read_file(&meta_abs) {
            Ok(m) => Ok((meta_abs, m)),
            Err(crate::Error::Io { source, .. }) => {
                self.report
                    .io_errors
                    .push(format!("{}: {source}", meta_abs.display()));
                Err(Reported)
            }
            Err(e) => {
                self.find(&meta_abs, None, reason_of(&e));
                Err(Reported)
            }
        }
    }

    /// Opens the delta `abs` with the page size `ps` of its `.meta`; a failure is reported.
    fn open_delta(&mut self, abs: &Path, ps: PageSize) -> Result<DeltaFile, Reported> {
        let checks = Checks {
            page_numbers_match: false,
            ..Checks::STRICT
        };
        match DeltaFile::open_with(abs, ps, checks) {
            Ok(f) => Ok(f),
            Err(crate::Error::Io { source, .. }) => {
                self.report
                    .io_errors
                    .push(format!("{}: {source}", abs.display()));
                Err(Reported)
            }
            Err(e) => {
                self.find(
                    abs,
                    None,
                    format!(
                        "{} (read with the page size {ps} of its .meta)",
                        reason_of(&e)
                    ),
                );
                Err(Reported)
            }
        }
    }

    /// The format that the delta's own page 0 gives, when it carries a non-zero one (not for a
    /// later system file, whose first page is not the tablespace header). An unreadable header
    /// is reported as a finding and gives `None`; an I/O error ends the delta's check.
    fn own_format(
        &mut self,
        file: &DeltaFile,
        later_system_file: bool,
        buf: &mut [u8],
    ) -> Result<Option<TablespaceFormat>, Reported> {
        if file.index().page_nos().first() != Some(&0) || later_system_file {
            return Ok(None);
        }
        match file.read_page(0, buf) {
            Ok(_) if buf.iter().all(|&b| b == 0) => Ok(None),
            Ok(_) => match TablespaceFormat::detect(buf) {
                Ok(f) => Ok(Some(f)),
                Err(e) => {
                    self.find(
                        file.path(),
                        Some(0),
                        format!("page 0 is not a readable tablespace header: {e}"),
                    );
                    Ok(None)
                }
            },
            Err(e) => {
                self.report.io_errors.push(e.to_string());
                Err(Reported)
            }
        }
    }

    /// The delta's tablespace format: its own page 0's (`own`), else the newest earlier one of
    /// its space id in the chain. Neither, for a delta with pages, is reported.
    fn delta_format(
        &mut self,
        file: &DeltaFile,
        meta: &Meta,
        own: Option<TablespaceFormat>,
    ) -> Result<TablespaceFormat, Reported> {
        let earlier = meta
            .space_id
            .and_then(|id| self.known.get(&id).map(|k| k.format));
        if let Some(format) = own.or(earlier) {
            return Ok(format);
        }
        if !file.index().is_empty() {
            self.find(
                file.path(),
                None,
                format!(
                    "no page 0 in it and no tablespace with space id {} earlier in the \
                     chain, so its pages cannot be checked (wrong .meta, or a base that is \
                     not the one this incremental was taken from?)",
                    meta.space_id
                        .map_or("(none in the .meta)".to_string(), |v| v.to_string())
                ),
            );
        }
        Err(Reported)
    }

    /// The .meta against page 0 (this delta's, or the newest earlier one): a wrong page size
    /// ends the delta's check, a wrong space id is reported and the check goes on.
    fn meta_against_page0(
        &mut self,
        meta_abs: &Path,
        meta: &Meta,
        file: &DeltaFile,
        format: TablespaceFormat,
        own: Option<TablespaceFormat>,
        later_system_file: bool,
    ) -> Result<(), Reported> {
        let (abs, ps) = (file.path(), meta.physical_page_size());
        let from = if own.is_some() {
            "page 0 of this delta"
        } else {
            "the tablespace's page 0 earlier in the chain"
        };
        let physical = format.physical_page_size();
        if physical != ps.get() {
            self.find(
                meta_abs,
                None,
                format!(
                    "page size {ps}, but {from} says {physical}: the .meta does not belong to \
                     this delta"
                ),
            );
            return Err(Reported);
        }
        if let (Some(id), true) = (meta.space_id, own.is_some())
            && id != format.space_id
            && !later_system_file
        {
            self.find(
                meta_abs,
                None,
                format!(
                    "space_id = {id}, but page 0 of {} carries space id {}: the .meta \
                         does not belong to this delta",
                    abs.display(),
                    format.space_id
                ),
            );
        }
        Ok(())
    }

    /// Records `f` (from a delta's page 0) as the newest format of its space id, keeping the
    /// doublewrite area known for it.
    fn remember_format(&mut self, f: TablespaceFormat) {
        let doublewrite = self
            .known
            .get(&f.space_id)
            .and_then(|k| k.doublewrite.clone());
        self.known.insert(
            f.space_id,
            Known {
                format: f,
                doublewrite,
            },
        );
    }

    /// Checks every page of a delta (checksum, the listed page number, the space id); returns
    /// the pages read.
    fn delta_each_page(&mut self, d: &DeltaCheck<'_>, buf: &mut [u8]) -> Result<u64, VerifyError> {
        let (file, abs) = (d.file, d.file.path());
        let (check_format, meta_abs, later_system_file) =
            (&d.format, d.meta_abs, d.later_system_file);
        let ctx = checksum_context(check_format);
        let dblwr = &d.doublewrite;
        let idx_len = file.index().len();
        let mut pages = 0u64;
        // Pages with another space id: the first one is reported, the others counted.
        let mut foreign: Option<(usize, u64)> = None;
        for i in 0..idx_len {
            if i % 256 == 0 && self.cancel.is_cancelled() {
                return Err(VerifyError::Cancelled);
            }
            let listed = match file.read_page(i, buf) {
                Ok(n) => n,
                Err(e) => {
                    self.find(abs, None, reason_of(&e));
                    break;
                }
            };
            pages += 1;
            let Ok(page) = Page::new(buf) else { continue };
            let at = if later_system_file {
                u64::from(page.page_no())
            } else {
                u64::from(listed)
            };
            let c = check_page(check_format, &ctx, dblwr.as_ref(), at, page);
            let reason = match c.problem {
                None => continue,
                Some(Problem::Checksum(v)) => format!("checksum: {v}"),
                Some(Problem::PageNumber { found }) => format!(
                    "page number field is {found}, but the delta's header lists it as {listed}"
                ),
                Some(Problem::SpaceId { .. }) if foreign.is_some() => {
                    if let Some((_, n)) = &mut foreign {
                        *n += 1;
                    }
                    continue;
                }
                Some(Problem::SpaceId { found, expected }) => {
                    foreign = Some((self.report.corrupt.len(), 0));
                    foreign_page_reason(meta_abs, found, expected)
                }
                Some(p) => p.to_string(),
            };
            self.find(abs, Some(u64::from(listed)), reason);
        }
        self.count_more_foreign(foreign);
        Ok(pages)
    }

    /// Adds to the finding of a delta's first page of another space id (`foreign`: its index in
    /// the report, and the pages after it likewise) how many more there were.
    fn count_more_foreign(&mut self, foreign: Option<(usize, u64)>) {
        if let Some((at, more @ 1..)) = foreign
            && let Some(f) = self.report.corrupt.get_mut(at)
        {
            f.reason
                .push_str(&format!("; {more} more page(s) of this delta likewise"));
        }
    }
}

/// The reason given for a delta page whose space id field is `found`, where the `.meta` at
/// `meta_abs` says `expected`.
fn foreign_page_reason(meta_abs: &Path, found: u32, expected: u32) -> String {
    format!(
        "space id field is {found}, but {} says {expected} (wrong .meta, or a \
         page of another tablespace)",
        meta_abs
            .file_name()
            .map_or(String::from("the .meta"), |n| n.to_string_lossy().into()),
    )
}

/// A problem of a delta that went into the report and ends its check (no page of it is
/// checked).
struct Reported;

/// A delta being checked page by page.
struct DeltaCheck<'a> {
    file: &'a DeltaFile,
    meta_abs: &'a Path,
    /// Its tablespace's format, with the space id its pages must carry.
    format: TablespaceFormat,
    /// The doublewrite area of the system tablespace (for the first system file).
    doublewrite: Option<Doublewrite>,
    /// A second or later file of the system tablespace (page numbers relative to the file).
    later_system_file: bool,
}
