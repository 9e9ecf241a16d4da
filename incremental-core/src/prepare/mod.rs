//! The prepare (`xb prepare`): merges a chain of incrementals into a base backup in one pass,
//! making it a full backup as of the newest incremental (a synthetic full).
//!
//! What it does, in order:
//!
//! 1. **Plan** ([`PreparePlan::new`]), writing nothing: read the target's and every incremental's
//!    metadata; check the chain (the target is `full-backuped` or `log-applied`, each
//!    incremental's `from_lsn` equals the previous `to_lsn`, none is already applied, none is
//!    partial) and the **safety rule** (below); check every `.delta` end to end (headers,
//!    lengths, page numbers, page 0 against its `.meta`) and every page size; follow each
//!    tablespace through the chain by name and space id as mariabackup does (renames through
//!    `xtrabackup_tmp_#N`, new tablespaces, dropped ones, DDL marker files `.del`, `.ren`,
//!    `.new`); check that every name stays inside the target (no `..`, no absolute path, no
//!    symbolic link leading out).
//! 2. **Execute** ([`PreparePlan::execute`]): write the plan to the journal `xb_prepare.journal`
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
//!    sequence bits, CRCs, every record decoded; an encrypted log decrypted with the key file its
//!    `backup-my.cnf` names), holds no undo
//!    truncation, and every page changed by a mini-transaction ending in (R, S] is up to date in
//!    the merge anyway: (a) the version kept so far (the newest earlier delta carrying it, else
//!    B's base file) has a page LSN ≥ that mini-transaction's end LSN, or (b) this incremental or
//!    a later one carries the page. File-level records (FILE_MODIFY, FILE_CHECKPOINT, ...) change
//!    no page.
//!
//! Otherwise [`PrepareError::UnsafeMerge`] names the backups, both LSNs, the first offending
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
//! [`verify`](crate::verify) checks a chain without changing it (`xb verify`): every page,
//! every `.meta`, and the checks above as a dry run. With the feature `hot`, `apply_redo` then
//! runs the server's own crash recovery on a prepared backup (`xb prepare --apply-redo`).
//!
//! # Modules
//!
//! `backup_dir` (what is read of each backup) and `files` (listing, file roles, tablespace
//! heads) are shared by `chain` (the chain rules), `safety` (the refined safety rule) and
//! `plan` (the steps); `journal` and `names` hold the journal and the name checks; `execute`
//! runs the steps.
//!
//! ```no_run
//! use incremental_core::prepare::{PreparePlan, PrepareOptions};
//! use incremental_core::progress::{Cancel, NoProgress};
//! let plan = PreparePlan::new("backups/full".as_ref(),
//!                      &["backups/inc1".into(), "backups/inc2".into()],
//!                      &PrepareOptions::default())?;
//! println!("{} delta pages to merge", plan.summary().delta_pages);
//! let report = plan.execute(&NoProgress, &Cancel::new())?;
//! println!("{} pages written", report.pages_written);
//! # Ok::<(), incremental_core::prepare::PrepareError>(())
//! ```

#[cfg(feature = "hot")]
pub mod apply_redo;
mod backup_dir;
mod chain;
mod decoded;
mod error;
mod execute;
#[cfg(feature = "hot")]
pub mod export;
pub(crate) mod files;
pub(crate) mod input;
mod journal;
mod names;
mod options;
mod order;
mod plan;
mod redo_journal;
mod redo_names;
#[cfg(feature = "hot")]
mod remote_names;
mod report;
mod safety;
pub(crate) mod stream_input;

use std::path::{Path, PathBuf};
use std::time::Instant;

pub use error::PrepareError;
pub use journal::JOURNAL;
pub use options::PrepareOptions;
pub use report::{PlanSummary, PrepareReport};
pub use stream_input::{extract_full, remove_spool, spool_stream, FullExtraction, STDIN_SPOOL};

use crate::progress::{Cancel, Event, Progress};
use backup_dir::BackupDir;
use input::Inputs;
use journal::Step;

/// A checked plan: build it with [`PreparePlan::new`], run it with [`PreparePlan::execute`].
///
/// ```no_run
/// use incremental_core::prepare::{PreparePlan, PrepareOptions};
/// use incremental_core::progress::{Cancel, NoProgress};
/// let plan = PreparePlan::new("full".as_ref(), &["inc1".into()], &PrepareOptions::default())?;
/// for line in plan.describe() {
///     println!("{line}");
/// }
/// plan.execute(&NoProgress, &Cancel::new())?;
/// # Ok::<(), incremental_core::prepare::PrepareError>(())
/// ```
#[derive(Debug)]
pub struct PreparePlan {
    base: PathBuf,
    args: Vec<PathBuf>,
    steps: Vec<Step>,
    done: usize,
    summary: PlanSummary,
    opts: PrepareOptions,
    started: Instant,
    inputs: Inputs,
}

impl PreparePlan {
    /// Checks everything and plans the merge of `incs` (oldest first) into `base`; with no
    /// incremental, plans the processing of the DDL marker files of a full backup. Writes
    /// nothing. If `base` holds the journal of an interrupted prepare with the same arguments,
    /// the plan resumes it; with other arguments, [`PrepareError::PendingOther`].
    pub fn new(
        base: &Path,
        incs: &[PathBuf],
        opts: &PrepareOptions,
    ) -> Result<PreparePlan, PrepareError> {
        PreparePlan::with_inputs(base, incs, opts, Inputs::default())
    }

    /// [`PreparePlan::new`] where some incrementals are `given` inputs (named by their root
    /// path, taken as it is): a backup of a repository read in place.
    pub(crate) fn with_inputs(
        base: &Path,
        incs: &[PathBuf],
        opts: &PrepareOptions,
        given: Inputs,
    ) -> Result<PreparePlan, PrepareError> {
        let started = Instant::now();
        let canon = |p: &Path| std::fs::canonicalize(p).map_err(|e| PrepareError::io(p, e));
        let base_c = canon(base)?;
        let mut args = vec![base_c.clone()];
        for i in incs {
            args.push(match given.stream(i) {
                Some(_) => i.clone(),
                None => canon(i)?,
            });
        }
        // Incrementals given as stream files are indexed (every chunk checked) here.
        let inputs = given.open_more(&args[1..], opts.keys())?;
        let (steps, done, summary) = match journal::load(&base_c)? {
            Some(l) if l.args != args => {
                return Err(PrepareError::PendingOther {
                    journal: base_c.join(JOURNAL),
                    base: l.args.first().cloned().unwrap_or_default(),
                    incrementals: l.args.get(1..).unwrap_or_default().to_vec(),
                });
            }
            Some(l) => {
                let summary = PlanSummary {
                    incrementals: incs.len(),
                    steps: l.steps.len(),
                    steps_done: l.done,
                    files_merged: merges(&l.steps),
                    resumed: true,
                    ..PlanSummary::default()
                };
                (l.steps, l.done, summary)
            }
            None => {
                let (steps, summary) = fresh(&inputs, &args, opts)?;
                (steps, 0, summary)
            }
        };
        Ok(PreparePlan {
            base: base_c,
            args,
            steps,
            done,
            summary,
            opts: opts.clone(),
            started,
            inputs,
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
                format!("{}{mark}", describe_step(s))
            })
            .collect()
    }

    /// The target directory (canonical).
    pub fn target(&self) -> &Path {
        &self.base
    }

    /// The report of a dry run: the summary and [`PreparePlan::describe`], nothing written.
    pub fn dry_run(&self) -> PrepareReport {
        PrepareReport {
            dry_run: true,
            plan: self.describe(),
            ..self.empty_report()
        }
    }

    fn empty_report(&self) -> PrepareReport {
        PrepareReport {
            target: self.base.clone(),
            summary: self.summary.clone(),
            resumed: self.summary.resumed,
            seconds: self.started.elapsed().as_secs_f64(),
            ..PrepareReport::default()
        }
    }

    /// Runs the plan: journal first, checkpoints last, journal removed at the end. A plan with
    /// no step does nothing (and writes nothing).
    pub fn execute(
        self,
        progress: &dyn Progress,
        cancel: &Cancel,
    ) -> Result<PrepareReport, PrepareError> {
        if self.steps.is_empty() {
            return Ok(self.empty_report());
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
            inputs: &self.inputs,
            progress,
            cancel,
            throttle: self.opts.throttle(),
            resumed: self.summary.resumed,
            counters: execute::Counters::default(),
        };
        // Groups of steps between barriers: run, synced once, then recorded as done together.
        let mut i = self.done;
        let mut steps_run = 0;
        while i < self.steps.len() {
            if cancel.is_cancelled() {
                return Err(PrepareError::Cancelled);
            }
            let j = group_end(&self.steps, i);
            let mut pending = execute::Pending::default();
            ctx.run_group(&self.steps[i..j], &mut pending)?;
            pending.sync()?;
            journal::mark_done_range(&mut jf, &jpath, i..j)?;
            steps_run += j - i;
            i = j;
        }
        drop(jf);
        journal::remove(&self.base)?;
        let c = ctx.counters;
        Ok(PrepareReport {
            pages_written: c.pages,
            bytes_written: c.bytes,
            files_merged: c.files_merged,
            files_created: c.files_created,
            files_removed: c.files_removed,
            files_renamed: c.files_renamed,
            files_copied: c.files_copied,
            files_unchanged: c.files_kept,
            files_extended: c.files_extended,
            steps_run,
            ..self.empty_report()
        })
    }
}

/// Reads and checks the chain `args` (target first) and plans it.
fn fresh(
    inputs: &Inputs,
    args: &[PathBuf],
    opts: &PrepareOptions,
) -> Result<(Vec<Step>, PlanSummary), PrepareError> {
    let b = BackupDir::read(inputs, &args[0])?;
    let chain: Vec<BackupDir> = args[1..]
        .iter()
        .map(|d| BackupDir::read(inputs, d))
        .collect::<Result<_, _>>()?;
    if let Some(summary) = redo_step_only(&b, &chain, opts)? {
        return Ok((Vec::new(), summary));
    }
    chain::check(&b, &chain, opts.accept_partial())?;
    let planned = plan::plan(&b, &chain, opts)?;
    let summary = PlanSummary {
        incrementals: chain.len(),
        deltas: planned.deltas,
        delta_pages: planned.delta_pages,
        steps: planned.steps.len(),
        steps_done: 0,
        files_merged: merges(&planned.steps),
        resumed: false,
        to_lsn: chain.last().map(|c| c.ckpt.to_lsn),
        not_tablespaces: planned.not_tablespaces,
    };
    Ok((planned.steps, summary))
}

/// When only the apply-redo step remains (an earlier run merged this chain, or started the
/// step and did not finish it): the summary of a plan with nothing to do. An interrupted
/// apply-redo step refuses every other plan.
fn redo_step_only(
    b: &BackupDir,
    chain: &[BackupDir],
    opts: &PrepareOptions,
) -> Result<Option<PlanSummary>, PrepareError> {
    let interrupted = redo_journal::exists(&b.dir);
    let merged = chain::holds(b, chain);
    let finishing = opts.redo_step() && (merged || (interrupted && chain.is_empty()));
    if !finishing {
        if interrupted {
            return Err(PrepareError::RedoInterrupted {
                dir: b.dir.clone(),
                journal: b.dir.join(redo_journal::REDO_JOURNAL),
            });
        }
        return Ok(None);
    }
    Ok(Some(PlanSummary {
        incrementals: chain.len(),
        to_lsn: chain.last().map(|c| c.ckpt.to_lsn),
        ..PlanSummary::default()
    }))
}

/// Whether `path` is the journal of an apply-redo step (not of a merge).
pub(crate) fn is_apply_redo_journal(path: &Path) -> bool {
    path.file_name() == Some(std::ffi::OsStr::new(redo_journal::REDO_JOURNAL))
}

/// The merge steps of a plan.
fn merges(steps: &[Step]) -> usize {
    steps.iter().filter(|s| matches!(s, Step::Merge(_))).count()
}

/// The end of the group of steps starting at `i`: a barrier alone, else up to the next barrier.
fn group_end(steps: &[Step], i: usize) -> usize {
    if execute::is_barrier(&steps[i]) {
        return i + 1;
    }
    (i..steps.len())
        .find(|&k| execute::is_barrier(&steps[k]))
        .unwrap_or(steps.len())
}

/// One step in words.
fn describe_step(s: &Step) -> String {
    match s {
        Step::Mkdir(r) => format!("create directory {}", r.display()),
        Step::Delete(r) => format!("remove {}", r.display()),
        Step::Rmdir(r) => format!("remove directory {} if empty", r.display()),
        Step::Rename { from, to } => format!("rename {} to {}", from.display(), to.display()),
        Step::Copy { src, to } => format!("copy {} to {}", src.display(), to.display()),
        Step::Write { to, bytes } => format!("write {} ({} bytes)", to.display(), bytes.len()),
        Step::Extend { target, len } => format!(
            "extend {} to {len} bytes (the size its page 0 records)",
            target.display()
        ),
        Step::Merge(m) => format!(
            "{} {} from {} delta(s), {}-byte pages",
            if m.create { "create" } else { "write pages of" },
            m.target.display(),
            m.layers.len(),
            m.page_size
        ),
    }
}

/// Plans and executes in one call ([`PreparePlan::new`], then [`PreparePlan::execute`]).
///
/// ```no_run
/// use incremental_core::prepare::{prepare, PrepareOptions};
/// use incremental_core::progress::{Cancel, NoProgress};
/// let r = prepare("full".as_ref(), &["inc1".into()], &PrepareOptions::default(),
///                 &NoProgress, &Cancel::new())?;
/// println!("{} pages", r.pages_written);
/// # Ok::<(), incremental_core::prepare::PrepareError>(())
/// ```
pub fn prepare(
    base: &Path,
    incs: &[PathBuf],
    opts: &PrepareOptions,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<PrepareReport, PrepareError> {
    for dir in std::iter::once(base).chain(incs.iter().map(PathBuf::as_path)) {
        decode_encoded_dir(dir, opts, progress, cancel)?;
    }
    PreparePlan::new(base, incs, opts)?.execute(progress, cancel)
}

/// The first step of [`prepare`] for a backup directory `dir` that holds compressed or
/// encrypted files (`X.zst`, `X.lz4`, `X.age`, as `xb backup --compress/--encrypt` writes
/// them): decodes them in place with the keys of `opts` ([`PrepareOptions::keys`]), removing
/// each encoded file once its decoded file is durable ([`crate::codec::decode_dir`]; an
/// interrupted run is finished by the next). mariabackup asks for a separate `--decompress`
/// instead. [`PreparePlan::new`] writes nothing, so a caller that plans first calls this
/// before it. What was decoded; `None` for a stream file or a plain directory, left alone.
pub fn decode_encoded_dir(
    dir: &Path,
    opts: &PrepareOptions,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<Option<crate::codec::DecodeReport>, PrepareError> {
    use crate::codec::{self, CodecOptions};
    use crate::source::{BackupSource, DirSource};
    if !dir.is_dir() {
        return Ok(None);
    }
    let files = DirSource::new(dir)
        .files()
        .map_err(|e| PrepareError::io(&e.path, e.source))?;
    if !codec::names::any_encoded(files.iter().map(|f| f.path.as_path())) {
        return Ok(None);
    }
    let mut o = CodecOptions::default();
    o.set_keys(opts.keys().cloned()).set_remove_original(true);
    Ok(Some(codec::decode_dir(dir, &o, progress, cancel)?))
}
