//! Carrying a plan out: [`BackupPlan::run`] drives the stages (`stages.rs`) of its source,
//! cold or hot, and copies the files between them through one read pipeline.

use std::path::Path;
use std::time::{Instant, SystemTime};

use super::cold::Cold;
use super::contents::Contents;
use super::copy::{self, Batch, Target};
use super::detect::ServerConn;
use super::metadata::{self, Facts};
use super::plan::BackupPlan;
use super::report::{BackupReport, Phases};
use super::sink::Sink;
use super::stages::{Copied, End, Run, Stages};
use super::BackupError;
use crate::format::checkpoints;
use crate::progress::{Cancel, Progress};

/// When the run started.
struct Clock {
    t0: Instant,
    start_time: SystemTime,
}

impl BackupPlan {
    /// Carries the plan out: the data files (copied, or as `.delta` + `.meta`), the
    /// non-InnoDB files, the redo log, then the metadata files, `xtrabackup_checkpoints` last,
    /// and the sink's final sync. A hot plan goes through its server: see the module docs of
    /// [`backup`](super) for the stages; a
    /// [`ConsistentPoint`](crate::progress::Event::ConsistentPoint) event is sent while its
    /// commits are blocked.
    ///
    /// Progress goes to `progress` (from several threads); `cancel` stops the run at the next
    /// batch with [`BackupError::Cancelled`] (the destination then holds an incomplete backup,
    /// without `xtrabackup_checkpoints`; a hot backup releases the server).
    pub fn run(
        &self,
        sink: &mut dyn Sink,
        progress: &dyn Progress,
        cancel: &Cancel,
    ) -> Result<BackupReport, BackupError> {
        let clock = Clock {
            t0: Instant::now(),
            start_time: SystemTime::now(),
        };
        let mut server = self.server.lock().unwrap_or_else(|p| p.into_inner());
        let mut stages: Box<dyn Stages + '_> = match server.as_mut() {
            None if self.mode().is_hot() => {
                return Err(BackupError::Inconsistent {
                    what: "the plan's connection to the server was lost".into(),
                });
            }
            None => Box::new(Cold::new(cancel)),
            // a server without InnoDB: see `Cold::locking`
            Some(conn) if !self.mode().is_hot() => Box::new(Cold::locking(cancel, conn)),
            Some(conn) => hot_stages(self, conn, cancel),
        };
        let mut run = Run {
            plan: self,
            sink,
            progress,
        };
        self.run_stages(&mut *stages, &mut run, clock)
            .map_err(|e| stages.fail(e))
    }

    fn run_stages(
        &self,
        stages: &mut dyn Stages,
        run: &mut Run<'_>,
        clock: Clock,
    ) -> Result<BackupReport, BackupError> {
        let contents = stages.begin(run)?;
        let notes = self.kind_notes().iter().chain(&contents.notes);
        copy::announce(run.progress, notes);
        let mut copied = self.copy_contents(stages.cancel(), run, &contents)?;
        let files_seconds = clock.t0.elapsed().as_secs_f64();
        stages.after_files(run, &contents, &mut copied)?;
        let end = stages.end(run, &contents)?;
        let (report, written) = self.finish(run, &contents, copied, end, clock, files_seconds)?;
        if let Some(dir) = self.options().extra_lsndir() {
            written.write_to_dir(dir, self.options().extra_lsndir_backup_info())?;
        }
        stages.finished(&written.info)?;
        Ok(report)
    }

    /// Copies the tablespaces and the other files the contents list.
    fn copy_contents(
        &self,
        cancel: &Cancel,
        run: &mut Run<'_>,
        contents: &Contents,
    ) -> Result<Copied, BackupError> {
        let batch = Batch {
            tablespaces: &contents.tablespaces,
            others: &contents.other_files,
            mode: copy::mode_of(self.kind()),
            hot: self.mode().is_hot(),
            throttled: true,
            page_keys: contents.page_keys.as_deref(),
        };
        let target = Target {
            sink: &mut *run.sink,
            progress: run.progress,
            cancel,
        };
        let (reports, others) = copy::copy_files(self.options(), batch, target)?;
        Ok(Copied { reports, others })
    }

    /// Writes the metadata, syncs the sink and makes the report.
    fn finish(
        &self,
        run: &mut Run<'_>,
        contents: &Contents,
        copied: Copied,
        end: End,
        clock: Clock,
        files_seconds: f64,
    ) -> Result<(BackupReport, metadata::Written), BackupError> {
        let facts = Facts {
            options: self.options(),
            kind: self.kind(),
            contents,
            reports: &copied.reports,
            last_lsn: end.redo.end_lsn,
            start_time: clock.start_time,
            info: &end.info,
            xb_info: &end.xb_info,
            data_file_path: end.data_file_path.as_deref(),
            encryption: &end.encryption,
            server_cnf: &end.server_cnf,
        };
        let written = metadata::write(run.sink, &facts)?;
        let t_sync = Instant::now();
        if let Err(source) = run.sink.finish() {
            // Not durable: take the mark of a complete backup back where the sink can.
            let _ = run.sink.remove(Path::new(checkpoints::FILE_NAMES[0]));
            return Err(BackupError::Write {
                path: ".".into(),
                source,
            });
        }
        let phases = Phases {
            plan: self.plan_seconds(),
            files: files_seconds,
            redo: end.redo_seconds,
            sync: t_sync.elapsed().as_secs_f64(),
        };
        let seconds = clock.t0.elapsed().as_secs_f64();
        let mut hot = end.hot;
        if let Some(h) = &mut hot {
            h.seconds = seconds;
        }
        let report = BackupReport {
            mode: self.mode().clone(),
            incremental: facts.incremental(),
            from_lsn: facts.start_lsn(),
            to_lsn: contents.redo.checkpoint_lsn,
            last_lsn: end.redo.end_lsn,
            selection_lsn: self.selection_lsn(),
            method: contents.method,
            fallback_reason: contents.fallback_reason.clone(),
            tablespaces: copied.reports,
            other_files: copied.others.files + end.others.files,
            other_bytes: copied.others.bytes + end.others.bytes,
            redo_bytes: end.redo.bytes,
            seconds,
            phases,
            threads: self.reader_threads(),
            hot,
        };
        Ok((report, written))
    }
}

/// The stages of a hot backup through `conn`.
#[cfg(feature = "hot")]
fn hot_stages<'a>(
    plan: &'a BackupPlan,
    conn: &'a mut ServerConn,
    cancel: &Cancel,
) -> Box<dyn Stages + 'a> {
    Box::new(super::hot::Hot::new(plan, conn, cancel))
}

#[cfg(not(feature = "hot"))]
fn hot_stages<'a>(_: &BackupPlan, conn: &'a mut ServerConn, _: &Cancel) -> Box<dyn Stages + 'a> {
    match *conn {}
}
