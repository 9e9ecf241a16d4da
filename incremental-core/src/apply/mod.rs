//! The applier (`xb prepare`): merges a chain of incrementals into a base backup in one pass,
//! making it a full backup as of the newest incremental (a synthetic full).
//!
//! What it does, in order:
//!
//! 1. **Plan** ([`Plan::new`]), writing nothing: read the target's and every incremental's
//!    metadata; check the chain (the target is `full-backuped` or `log-applied`, each
//!    incremental's `from_lsn` equals the previous `to_lsn`, none is already applied, none is
//!    partial) and the **safety rule** (below); check every `.delta` end to end (headers,
//!    lengths, page numbers, page 0 against its `.meta`) and every page size; follow each
//!    tablespace through the chain by name and space id as mariabackup does (renames through
//!    `xtrabackup_tmp_#N`, new tablespaces, dropped ones, DDL marker files `.del`, `.ren`,
//!    `.new`); check that every name stays inside the target (no `..`, no absolute path, no
//!    symbolic link leading out).
//! 2. **Execute** ([`Plan::execute`]): write the plan to the journal `xb_prepare.journal`
//!    (fsynced), then run its steps, each idempotent, recording each as done: delete dropped
//!    tablespaces, move renamed ones, install full copies, write each changed page once (the
//!    newest incremental's copy) at `page_no × physical page size` and extend each file to the
//!    `FSP_SIZE` of its newest page 0, replace the non-InnoDB files and `ib_logfile0` with the
//!    newest incremental's (removing those it no longer has), write `xb_backup_info`, then the
//!    checkpoints file (`full-backuped`, the newest `to_lsn`/`last_lsn`), and remove the journal.
//!    The incremental directories are only read.
//!
//! An interrupted execution (crash, `kill -9`, [`Cancel`]) leaves the journal: planning the
//! same prepare again finds it and resumes at the first unfinished step, ending byte-identical
//! to an uninterrupted run. A different prepare of that target is refused until then.
//!
//! The result is not recovered: InnoDB's crash recovery on the first server start (or
//! `mariabackup --prepare`) applies the newest incremental's redo, exactly as for an unprepared
//! full backup.
//!
//! # The safety rule
//!
//! Pages are merged without applying any intermediate redo. For each incremental laid on a
//! backup B (the target, or the previous incremental), with S = the LSN its pages were selected
//! above and R = the LSN where B's redo starts (`redo_start_lsn` of `xb_backup_info`, else the
//! checkpoint in B's `ib_logfile0` header), the merge is allowed when:
//!
//! 1. B was prepared by mariabackup (`log-applied`), or
//! 2. S ≤ R, or
//! 3. B's own redo, read from its `ib_logfile0` from R up to S, can be read completely (framing,
//!    sequence bits, CRCs, every record decoded; not `FORMAT_ENC_11`-encrypted), holds no undo
//!    truncation, and every page changed by a mini-transaction ending in (R, S] is up to date in
//!    the merge anyway: (a) the version kept so far (the newest earlier delta carrying it, else
//!    B's base file) has a page LSN ≥ that mini-transaction's end LSN, or (b) this incremental or
//!    a later one carries the page. File-level records (FILE_MODIFY, FILE_CHECKPOINT, ...) change
//!    no page.
//!
//! Otherwise [`ApplyError::UnsafeMerge`] names the backups, both LSNs, the first offending
//! (space, page, end LSN) or why the range cannot be read, and the remedy. mariabackup records
//! `to_lsn` = the checkpoint at the *end* of a backup; when a checkpoint happens during a quiet
//! backup only its file-level records lie between R and S (accepted); under load, pages changed
//! in between exist only in B's redo and merging them would lose changes (refused).
//!
//! # Durability
//!
//! Steps run in groups separated by barriers (renames, and the final metadata files): a group's
//! steps run without any fsync (the page writes of different files in parallel, with writeback
//! started as they go), then every file and directory the group changed is fsynced once, then the
//! group is recorded as done with one journal fdatasync. Running a group again from its first
//! step, after any of its steps ran, ends in the same bytes, so an interruption anywhere is
//! resumed exactly. Non-InnoDB files already identical to the newest incremental's are not
//! copied again.
//!
//! [`verify`] checks a chain without changing it (`xb verify --target-dir FULL
//! --incremental-dir INC...`): every page, every `.meta`, and the checks above as a dry run.
//!
//! ```no_run
//! use incremental_core::apply::{ApplyOptions, Plan};
//! use incremental_core::progress::{Cancel, NoProgress};
//! let plan = Plan::new("backups/full".as_ref(),
//!                      &["backups/inc1".into(), "backups/inc2".into()],
//!                      &ApplyOptions::default())?;
//! println!("{} delta pages to merge", plan.summary().delta_pages);
//! let report = plan.execute(&NoProgress, &Cancel::new())?;
//! println!("{} pages written", report.pages_written);
//! # Ok::<(), incremental_core::apply::ApplyError>(())
//! ```

mod chain;
mod error;
mod execute;
mod journal;
mod names;
mod plan;
mod safety;
pub mod verify;

use std::path::{Path, PathBuf};
use std::time::Duration;

use innodb_page::Lsn;

pub use error::ApplyError;
pub use journal::JOURNAL;

use crate::progress::{Cancel, Event, Progress};
use journal::Step;

/// Options of an apply.
///
/// ```
/// use incremental_core::apply::ApplyOptions;
/// let o = ApplyOptions::default();
/// assert!(o.check_pages);
/// ```
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// Read every delta page while planning and check that it carries the page number its
    /// header lists (default `true`). The pages are then in the page cache for the execution.
    pub check_pages: bool,
    /// For tests only: sleep this long after each batch of pages written, so that a test can
    /// interrupt an apply in the middle.
    #[doc(hidden)]
    pub test_delay: Option<Duration>,
}

impl Default for ApplyOptions {
    fn default() -> ApplyOptions {
        ApplyOptions {
            check_pages: true,
            test_delay: None,
        }
    }
}

/// What a plan will do.
///
/// ```no_run
/// use incremental_core::apply::{ApplyOptions, Plan};
/// let plan = Plan::new("full".as_ref(), &[], &ApplyOptions::default())?;
/// assert_eq!(plan.summary().incrementals, 0);
/// # Ok::<(), incremental_core::apply::ApplyError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanSummary {
    /// Incrementals in the chain.
    pub incrementals: usize,
    /// `.delta` files read.
    pub deltas: u64,
    /// Data pages in them (before keeping only the newest copy of each page).
    pub delta_pages: u64,
    /// Steps of the plan (0: nothing to do).
    pub steps: usize,
    /// Steps already done by an interrupted run.
    pub steps_done: usize,
    /// Files whose pages are written.
    pub files_merged: usize,
    /// The plan comes from the journal of an interrupted run.
    pub resumed: bool,
    /// `to_lsn` of the result (`None` when resuming or when no incremental is applied).
    pub to_lsn: Option<Lsn>,
}

/// What an execution did.
///
/// ```
/// let r = incremental_core::apply::ApplyReport::default();
/// assert_eq!(r.pages_written, 0);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyReport {
    /// Pages written (each page once).
    pub pages_written: u64,
    /// Bytes of pages written.
    pub bytes_written: u64,
    /// Files whose pages were written.
    pub files_merged: u64,
    /// New tablespaces created.
    pub files_created: u64,
    /// Files removed (dropped tablespaces, stale non-InnoDB files, consumed markers).
    pub files_removed: u64,
    /// Renames done.
    pub files_renamed: u64,
    /// Files copied from the newest incremental.
    pub files_copied: u64,
    /// Files of the newest incremental not copied because the target already held the same
    /// bytes.
    pub files_unchanged: u64,
    /// Steps run by this execution.
    pub steps_run: usize,
    /// This execution finished an interrupted one.
    pub resumed: bool,
}

/// A checked plan: build it with [`Plan::new`], run it with [`Plan::execute`].
///
/// ```no_run
/// use incremental_core::apply::{ApplyOptions, Plan};
/// use incremental_core::progress::{Cancel, NoProgress};
/// let plan = Plan::new("full".as_ref(), &["inc1".into()], &ApplyOptions::default())?;
/// for line in plan.describe() {
///     println!("{line}");
/// }
/// plan.execute(&NoProgress, &Cancel::new())?;
/// # Ok::<(), incremental_core::apply::ApplyError>(())
/// ```
#[derive(Debug)]
pub struct Plan {
    base: PathBuf,
    args: Vec<PathBuf>,
    steps: Vec<Step>,
    done: usize,
    summary: PlanSummary,
    opts: ApplyOptions,
}

impl Plan {
    /// Checks everything and plans the merge of `incs` (oldest first) into `base`; with no
    /// incremental, plans the processing of the DDL marker files of a full backup. Writes
    /// nothing. If `base` holds the journal of an interrupted prepare with the same arguments,
    /// the plan resumes it; with other arguments, [`ApplyError::PendingOther`].
    pub fn new(base: &Path, incs: &[PathBuf], opts: &ApplyOptions) -> Result<Plan, ApplyError> {
        let canon = |p: &Path| std::fs::canonicalize(p).map_err(|e| ApplyError::io(p, e));
        let base_c = canon(base)?;
        let mut args = vec![base_c.clone()];
        for i in incs {
            args.push(canon(i)?);
        }
        if let Some(l) = journal::load(&base_c)? {
            if l.args != args {
                let mut s = format!("--target-dir {}", l.args[0].display());
                for a in &l.args[1..] {
                    s.push_str(&format!(" --incremental-dir {}", a.display()));
                }
                return Err(ApplyError::PendingOther {
                    journal: base_c.join(JOURNAL),
                    args: s,
                });
            }
            let summary = PlanSummary {
                incrementals: incs.len(),
                steps: l.steps.len(),
                steps_done: l.done,
                files_merged: l
                    .steps
                    .iter()
                    .filter(|s| matches!(s, Step::Merge(_)))
                    .count(),
                resumed: true,
                ..PlanSummary::default()
            };
            return Ok(Plan {
                base: base_c,
                args,
                steps: l.steps,
                done: l.done,
                summary,
                opts: opts.clone(),
            });
        }
        let b = chain::Backup::read(&base_c)?;
        let chain: Vec<chain::Backup> = args[1..]
            .iter()
            .map(|d| chain::Backup::read(d))
            .collect::<Result<_, _>>()?;
        chain::check(&b, &chain)?;
        let planned = plan::plan(&b, &chain, opts)?;
        let summary = PlanSummary {
            incrementals: chain.len(),
            deltas: planned.deltas,
            delta_pages: planned.delta_pages,
            steps: planned.steps.len(),
            steps_done: 0,
            files_merged: planned
                .steps
                .iter()
                .filter(|s| matches!(s, Step::Merge(_)))
                .count(),
            resumed: false,
            to_lsn: chain.last().map(|c| c.ckpt.to_lsn),
        };
        Ok(Plan {
            base: base_c,
            args,
            steps: planned.steps,
            done: 0,
            summary,
            opts: opts.clone(),
        })
    }

    /// What the plan will do, in numbers.
    pub fn summary(&self) -> &PlanSummary {
        &self.summary
    }

    /// One line per step, for humans (`xb prepare --dry-run`).
    pub fn describe(&self) -> Vec<String> {
        self.steps
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let mark = if i < self.done { " (done)" } else { "" };
                let d = match s {
                    Step::Mkdir(r) => format!("create directory {}", r.display()),
                    Step::Delete(r) => format!("remove {}", r.display()),
                    Step::Rmdir(r) => format!("remove directory {} if empty", r.display()),
                    Step::Rename { from, to } => {
                        format!("rename {} to {}", from.display(), to.display())
                    }
                    Step::Copy { src, to } => {
                        format!("copy {} to {}", src.display(), to.display())
                    }
                    Step::Write { to, bytes } => {
                        format!("write {} ({} bytes)", to.display(), bytes.len())
                    }
                    Step::Merge(m) => format!(
                        "{} {} from {} delta(s), {}-byte pages",
                        if m.create { "create" } else { "write pages of" },
                        m.target.display(),
                        m.layers.len(),
                        m.page_size
                    ),
                };
                format!("{}{mark}", d)
            })
            .collect()
    }

    /// The target directory (canonical).
    pub fn target(&self) -> &Path {
        &self.base
    }

    /// Runs the plan: journal first, checkpoints last, journal removed at the end. A plan with
    /// no step does nothing (and writes nothing).
    pub fn execute(
        self,
        progress: &dyn Progress,
        cancel: &Cancel,
    ) -> Result<ApplyReport, ApplyError> {
        let mut report = ApplyReport {
            resumed: self.summary.resumed,
            ..ApplyReport::default()
        };
        if self.steps.is_empty() {
            return Ok(report);
        }
        progress.event(Event::Planned {
            files: self.summary.files_merged as u64,
            bytes: 0,
        });
        let jpath = self.base.join(JOURNAL);
        let mut jf = if self.summary.resumed {
            journal::open_append(&jpath)?
        } else {
            journal::create(&self.base, &self.args, &self.steps)?
        };
        let mut ctx = execute::Ctx {
            base: &self.base,
            progress,
            cancel,
            delay: self.opts.test_delay,
            resumed: self.summary.resumed,
            counters: execute::Counters::default(),
        };
        // Groups of steps between barriers: run, synced once, then recorded as done together.
        let mut i = self.done;
        while i < self.steps.len() {
            if cancel.is_cancelled() {
                return Err(ApplyError::Cancelled);
            }
            let j = if execute::is_barrier(&self.steps[i]) {
                i + 1
            } else {
                (i..self.steps.len())
                    .find(|&k| execute::is_barrier(&self.steps[k]))
                    .unwrap_or(self.steps.len())
            };
            let mut pending = execute::Pending::default();
            ctx.run_group(&self.steps[i..j], &mut pending)?;
            pending.sync()?;
            journal::mark_done_range(&mut jf, &jpath, i..j)?;
            report.steps_run += j - i;
            i = j;
        }
        drop(jf);
        journal::remove(&self.base)?;
        let c = ctx.counters;
        report.pages_written = c.pages;
        report.bytes_written = c.bytes;
        report.files_merged = c.files_merged;
        report.files_created = c.files_created;
        report.files_removed = c.files_removed;
        report.files_renamed = c.files_renamed;
        report.files_copied = c.files_copied;
        report.files_unchanged = c.files_kept;
        Ok(report)
    }
}

/// Plans and executes in one call ([`Plan::new`], then [`Plan::execute`]).
///
/// ```no_run
/// use incremental_core::apply::{prepare, ApplyOptions};
/// use incremental_core::progress::{Cancel, NoProgress};
/// let r = prepare("full".as_ref(), &["inc1".into()], &ApplyOptions::default(),
///                 &NoProgress, &Cancel::new())?;
/// println!("{} pages", r.pages_written);
/// # Ok::<(), incremental_core::apply::ApplyError>(())
/// ```
pub fn prepare(
    base: &Path,
    incs: &[PathBuf],
    opts: &ApplyOptions,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<ApplyReport, ApplyError> {
    Plan::new(base, incs, opts)?.execute(progress, cancel)
}
