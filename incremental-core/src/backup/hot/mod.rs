//! Hot backups: backing up a running MariaDB 10.8+ server that keeps serving writes.
//!
//! Pages copied from a live datadir are fuzzy; the redo log from the checkpoint at the start
//! of the copy to its end makes them consistent. The stages of a hot run (see `stages.rs`),
//! on the plan's open connection:
//!
//! 1. `BACKUP STAGE START` (with [`HotOptions::set_block_ddl`](super::HotOptions::set_block_ddl)
//!    also `FLUSH` and `BLOCK_DDL`, held to the end: no DDL can run during the backup);
//! 2. starts following the server's redo log at its newest checkpoint `C` (see
//!    `log_copy`), writing every mini-transaction into the backup's `ib_logfile0`, whose
//!    header names `C` as its first LSN and checkpoint; it reads only up to the LSN the server
//!    has flushed (`Innodb_lsn_flushed`, on a second connection): the block holding the end of
//!    the log is rewritten as the log grows, and a read racing that write can return the new
//!    bytes up to some point and the block's previous contents after it, which were seen to
//!    hold a stale copy of an older, valid mini-transaction;
//! 3. copies the InnoDB tablespaces exactly as for a stopped server (the same
//!    [`BackupPlan`](crate::backup::BackupPlan) engine: full, or incremental by scan or
//!    bitmap), reading each file through a descriptor opened when planned, and reading a page
//!    that fails its checksum again (it was being written) before calling it corrupt;
//! 4. `BACKUP STAGE FLUSH` and `BLOCK_DDL`: compares the tablespaces copied with those that
//!    exist now and writes `.del`, `.ren` and `.new` files for the DDL that ran meanwhile;
//! 5. `BACKUP STAGE BLOCK_COMMIT`: copies the non-InnoDB files (`.frm`, Aria, MyISAM, ...)
//!    and the binary log position; reads the server's current LSN `E` (`Innodb_lsn_current`:
//!    every transaction committed so far ends before it), asks InnoDB to write its log buffer
//!    (`FLUSH ENGINE LOGS`) and waits until the redo copy reaches `E`; sends
//!    [`Event::ConsistentPoint`] while commits are still blocked;
//! 6. `BACKUP STAGE END`; writes the metadata: `to_lsn` = `C` (the checkpoint the copied redo
//!    starts from, so that an incremental on top selects exactly the pages a merge without
//!    intermediate redo needs), `last_lsn` = the end of the copied redo (≥ `E`).
//!
//! A plain `mariadbd` started on the result (after `xb prepare` processed its DDL files), or
//! `mariabackup --prepare`, recovers it: crash recovery from `C` to the end of the copied log,
//! then the transactions open at the end are rolled back.
//!
//! If the server overwrites redo log that the follower has not read yet (the log is too small
//! for the write rate during the backup), the backup fails with
//! [`FollowError::Overtaken`](innodb_page::redo::follow::FollowError::Overtaken) and
//! `xtrabackup_checkpoints` is never written: the directory is recognisably incomplete.

mod base_names;
mod ddl;
mod log_copy;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use innodb_page::redo::file::{log_file_path, LOG_FILE_0};
use innodb_page::Lsn;

use super::contents::{Contents, TablespacePlan};
use super::copy::{self, Batch, Target};
use super::files;
use super::plan::{plan_hot_contents, BackupPlan};
use super::report::HotReport;
use super::scan::{Mode, OtherTotals};
use super::server::{Server, Stage};
use super::sink::{put, FileMeta};
use super::stages::{Copied, End, Run, Stages};
use super::{BackupError, BackupKind};
use crate::format::ddl_files::{marker_path, table_name, DdlFile};
use crate::progress::{Cancel, Event};

/// Forwards the caller's cancel token to the run's own token until the run ends.
struct CancelBridge {
    done: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl CancelBridge {
    fn new(outer: &Cancel, inner: &Cancel) -> CancelBridge {
        let done = Arc::new(AtomicBool::new(false));
        let (o, i, d) = (outer.clone(), inner.clone(), done.clone());
        let thread = std::thread::spawn(move || {
            while !d.load(Ordering::Relaxed) {
                if o.is_cancelled() {
                    i.cancel();
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        CancelBridge {
            done,
            thread: Some(thread),
        }
    }
}

impl Drop for CancelBridge {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// What the DDL pass wrote.
#[derive(Debug, Default)]
struct Ddl {
    deleted: Vec<PathBuf>,
    renamed: Vec<(PathBuf, PathBuf)>,
    new: Vec<PathBuf>,
}

/// The stages of a hot backup of the server behind `server`.
pub(crate) struct Hot<'a> {
    plan: &'a BackupPlan,
    server: &'a mut Server,
    /// Fired by the caller's token (through the bridge) or by the redo copy when it fails.
    inner: Cancel,
    _bridge: CancelBridge,
    log: Option<log_copy::LogCopy>,
    t_ddl: Option<Instant>,
    start_lsn: Lsn,
    copy_end_checkpoint: Lsn,
    ddl: Ddl,
}

impl<'a> Hot<'a> {
    /// Stages of a hot run of `plan` through `server`, stopped by `cancel`.
    pub(crate) fn new(plan: &'a BackupPlan, server: &'a mut Server, cancel: &Cancel) -> Hot<'a> {
        let inner = Cancel::new();
        Hot {
            plan,
            server,
            _bridge: CancelBridge::new(cancel, &inner),
            inner,
            log: None,
            t_ddl: None,
            start_lsn: Lsn::ZERO,
            copy_end_checkpoint: Lsn::ZERO,
            ddl: Ddl::default(),
        }
    }

    fn log(&self) -> Result<&log_copy::LogCopy, BackupError> {
        self.log.as_ref().ok_or_else(not_started)
    }

    /// The redo copy's error, if it failed.
    fn check_log(&mut self) -> Result<(), BackupError> {
        match self.log.take() {
            Some(log) if log.failed() => Err(log.abort().err().unwrap_or(BackupError::Cancelled)),
            log => {
                self.log = log;
                Ok(())
            }
        }
    }

    /// `BACKUP STAGE FLUSH` and `BLOCK_DDL`.
    fn block_ddl(&mut self) -> Result<(), BackupError> {
        self.server.stage(Stage::Flush)?;
        self.server.stage(Stage::BlockDdl)?;
        self.t_ddl = Some(Instant::now());
        Ok(())
    }

    /// Starts following the server's redo log into the backup's `ib_logfile0`.
    fn start_log(&mut self, run: &mut Run<'_>) -> Result<(), BackupError> {
        let log_rel = Path::new(LOG_FILE_0);
        let out = run
            .sink
            .create(&FileMeta::new(log_rel, None))
            .map_err(|source| BackupError::Write {
                path: log_rel.into(),
                source,
            })?;
        let interval = self.plan.options().hot().poll_interval();
        let path = log_file_path(self.plan.datadir());
        let second = self.server.another()?;
        let log = log_copy::LogCopy::start(path, out, interval, self.inner.clone(), second)?;
        self.log = Some(log);
        Ok(())
    }

    /// Writes the DDL files of `changes` and copies the tablespaces created meanwhile.
    fn write_ddl(
        &mut self,
        run: &mut Run<'_>,
        changes: ddl::DdlChanges,
        copied: &mut Copied,
    ) -> Result<(), BackupError> {
        for rel in &changes.deleted {
            put(run.sink, &marker_path(rel, DdlFile::Deleted), b"")?;
        }
        for (from, to) in &changes.renamed {
            let name = table_name(to);
            put(
                run.sink,
                &marker_path(from, DdlFile::Renamed),
                name.as_bytes(),
            )?;
        }
        if !changes.new.is_empty() || !changes.raw_new.is_empty() {
            let batch = Batch {
                tablespaces: &changes.new,
                others: &changes.raw_new,
                mode: Mode::Copy,
                hot: true,
            };
            let (more, _) = copy::copy_files(self.plan.options(), batch, self.target(run))?;
            copied.reports.extend(more);
        }
        if !changes.rebased.is_empty() {
            let batch = Batch {
                tablespaces: &changes.rebased,
                others: &[],
                mode: Mode::Delta { threshold: 0 },
                hot: true,
            };
            let (more, _) = copy::copy_files(self.plan.options(), batch, self.target(run))?;
            copied.reports.extend(more);
        }
        let rel = |t: &TablespacePlan| t.files[0].rel.clone();
        self.ddl = Ddl {
            new: changes
                .new
                .iter()
                .map(rel)
                .chain(changes.raw_new.iter().map(|f| f.rel.clone()))
                .collect(),
            deleted: changes.deleted,
            renamed: changes.renamed,
        };
        Ok(())
    }

    fn target<'r>(&'r self, run: &'r mut Run<'_>) -> Target<'r> {
        Target {
            sink: &mut *run.sink,
            progress: run.progress,
            cancel: &self.inner,
        }
    }

    /// Copies the non-InnoDB files as they are now (under `BLOCK_COMMIT`).
    fn copy_others(&mut self, run: &mut Run<'_>) -> Result<OtherTotals, BackupError> {
        let dd = self.plan.datadir();
        let listing = files::scan_datadir(dd)?;
        let filter = self.plan.options().filter();
        let (others, _) = files::list_other_files(dd, &listing, filter)?;
        let batch = Batch {
            tablespaces: &[],
            others: &others,
            mode: Mode::Copy,
            hot: true,
        };
        let (_, totals) = copy::copy_files(self.plan.options(), batch, self.target(run))?;
        Ok(totals)
    }
}

fn not_started() -> BackupError {
    BackupError::Inconsistent {
        what: "internal error: the redo copy is not running".into(),
    }
}

impl Stages for Hot<'_> {
    fn begin(&mut self, run: &mut Run<'_>) -> Result<Contents, BackupError> {
        self.server.stage(Stage::Start)?;
        if self.plan.options().hot().block_ddl() {
            self.block_ddl()?;
            run.progress.event(Event::Note {
                message: "DDL is blocked for the whole backup (BACKUP STAGE BLOCK_DDL)",
            });
        }
        self.start_log(run)?;
        let facts = self.log()?.facts.clone();
        run.progress.event(Event::Note {
            message: &format!(
                "hot backup through {}: redo copied from checkpoint {}",
                self.server.how, facts.checkpoint_lsn
            ),
        });
        self.start_lsn = self.server.lsn_current()?;
        plan_hot_contents(
            self.plan.options(),
            self.plan.datadir(),
            self.plan.kind(),
            &facts,
        )
    }

    fn cancel(&self) -> &Cancel {
        &self.inner
    }

    fn after_files(
        &mut self,
        run: &mut Run<'_>,
        contents: &Contents,
        copied: &mut Copied,
    ) -> Result<(), BackupError> {
        self.check_log()?;
        let checkpoint = self.server.status_u64("Innodb_lsn_last_checkpoint")?;
        self.copy_end_checkpoint = Lsn::new(checkpoint);
        if self.t_ddl.is_none() {
            self.block_ddl()?;
        }
        // the redo up to now names every file created or renamed before DDL was blocked
        let now = self.server.lsn_current()?;
        self.server.flush_engine_logs()?;
        let timeout = self.plan.options().hot().end_timeout();
        self.log()?.wait_until(now, timeout)?;
        self.check_log()?;
        let (names, by_name) = self.log()?.file_names();
        let redo_names = ddl::RedoNames { names, by_name };
        let filter = self.plan.options().filter();
        let dd = self.plan.datadir();
        let base = || match self.plan.kind() {
            BackupKind::Incremental { base: Some(b), .. } => base_names::base_names(b),
            _ => Default::default(),
        };
        let changes = ddl::compare(dd, &contents.tablespaces, filter, &redo_names, &base)?;
        for n in &changes.notes {
            run.progress.event(Event::Note { message: n });
        }
        self.write_ddl(run, changes, copied)?;
        self.check_log()
    }

    fn end(&mut self, run: &mut Run<'_>, contents: &Contents) -> Result<End, BackupError> {
        self.server.stage(Stage::BlockCommit)?;
        let t_commit = Instant::now();
        let others = self.copy_others(run)?;
        let binlog = self.server.binlog_position()?;
        let end_lsn = self.server.lsn_current()?;
        self.server.flush_engine_logs()?;
        let timeout = self.plan.options().hot().end_timeout();
        let log = self.log.take().ok_or_else(not_started)?;
        let (log_out, redo, follower) = log.stop_at(end_lsn, timeout)?;
        run.progress.event(Event::ConsistentPoint { lsn: end_lsn });
        let start_ck = contents.redo.checkpoint_lsn;
        let end_checkpoint = self
            .server
            .status_u64("Innodb_lsn_last_checkpoint")
            .map_or(start_ck, Lsn::new);
        self.server.stage(Stage::End)?;
        let commits_blocked_seconds = t_commit.elapsed().as_secs_f64();
        let ddl_blocked_seconds = self.t_ddl.map_or(0.0, |t| t.elapsed().as_secs_f64());
        log_out.finish().map_err(|source| BackupError::Write {
            path: LOG_FILE_0.into(),
            source,
        })?;
        if let Some(b) = &binlog {
            put(run.sink, Path::new("xtrabackup_binlog_info"), b.as_bytes())?;
        }
        let hot = HotReport {
            server: self.server.how.clone(),
            start_lsn: self.start_lsn,
            end_lsn,
            copy_end_checkpoint: self.copy_end_checkpoint,
            end_checkpoint,
            deleted: std::mem::take(&mut self.ddl.deleted),
            renamed: std::mem::take(&mut self.ddl.renamed),
            new: std::mem::take(&mut self.ddl.new),
            ddl_blocked_seconds,
            commits_blocked_seconds,
            follower,
            seconds: 0.0,
        };
        Ok(End {
            others,
            redo,
            redo_seconds: follower.busy_seconds,
            info: info_keys(commits_blocked_seconds, end_lsn, binlog.as_deref()),
            xb_info: xb_info_keys(end_lsn, end_checkpoint),
            hot: Some(hot),
        })
    }

    fn fail(&mut self, e: BackupError) -> BackupError {
        // the redo copy's failure is the cause when it made the copy stop
        let e = match self.log.take() {
            Some(log) if log.failed() => log.abort().err().unwrap_or(e),
            _ => e,
        };
        if self.server.current_stage().is_some() {
            let _ = self.server.stage(Stage::End);
        }
        e
    }
}

/// The `xtrabackup_info` keys of a hot backup.
fn info_keys(commits_blocked: f64, end_lsn: Lsn, binlog: Option<&str>) -> Vec<(String, String)> {
    let mut info = vec![
        (
            "lock_time".to_string(),
            format!("{:.0}", commits_blocked.ceil()),
        ),
        ("innodb_log_end_lsn".to_string(), end_lsn.get().to_string()),
    ];
    if let Some(b) = binlog {
        info.push(("binlog_pos".into(), b.trim_end().replace('\t', ", ")));
    }
    info
}

/// The `xb_backup_info` keys of a hot backup.
fn xb_info_keys(end_lsn: Lsn, end_checkpoint: Lsn) -> Vec<(String, String)> {
    vec![
        ("source".to_string(), "hot".to_string()),
        ("end_lsn".to_string(), end_lsn.get().to_string()),
        (
            "end_checkpoint_lsn".to_string(),
            end_checkpoint.get().to_string(),
        ),
    ]
}
