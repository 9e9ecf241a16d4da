//! Hot backups: backing up a running MariaDB 10.8+ server that keeps serving writes.
//!
//! Pages copied from a live datadir are fuzzy; the redo log from the checkpoint at the start
//! of the copy to its end makes them consistent. [`run`] does, on an open [`Server`]
//! connection:
//!
//! 1. `BACKUP STAGE START` (with [`HotOptions::block_ddl`] also `FLUSH` and `BLOCK_DDL`, held
//!    to the end: no DDL can run during the backup);
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
//!    (`FLUSH ENGINE LOGS`) and waits until the redo copy reaches `E`;
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

pub mod cnf;
mod ddl;
mod log_copy;
pub mod server;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use innodb_page::Lsn;

pub use log_copy::FollowerStats;
pub use server::{ConnectOptions, Server, ServerError, Stage};

use super::plan::{self, Mode, Outcome};
use super::report::{BackupReport, Phases};
use super::sink::Sink;
use super::{BackupError, BackupOptions, BackupPlan};
use crate::progress::{Cancel, Event, Progress};

/// How a hot backup talks to the server and follows its log.
///
/// ```
/// let h = incremental_core::backup::hot::HotOptions::default();
/// assert!(!h.block_ddl);
/// assert_eq!(h.poll_interval, std::time::Duration::from_millis(20));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HotOptions {
    /// Block DDL for the whole backup (`BACKUP STAGE FLUSH` and `BLOCK_DDL` before the copy
    /// starts): no DDL tracking is needed, but DDL statements wait until the backup ends, and
    /// so do writes to non-transactional (Aria, MyISAM) tables from the `FLUSH` stage on.
    pub block_ddl: bool,
    /// How often the redo follower looks for new log records when it has caught up.
    pub poll_interval: Duration,
    /// How long to wait at the end for the redo log to reach the end LSN.
    pub end_timeout: Duration,
}

impl Default for HotOptions {
    fn default() -> Self {
        HotOptions {
            block_ddl: false,
            poll_interval: Duration::from_millis(20),
            end_timeout: Duration::from_secs(60),
        }
    }
}

/// Callbacks into a running hot backup (tests use them to observe the server at the exact end
/// of the backup).
pub trait HotHooks: Sync {
    /// Called while commits are blocked (`BACKUP STAGE BLOCK_COMMIT` held), after the redo copy
    /// reached `end_lsn`: the server's committed data is exactly what the backup restores to.
    fn commits_blocked(&self, end_lsn: Lsn) {
        let _ = end_lsn;
    }
}

/// [`HotHooks`] that do nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHooks;

impl HotHooks for NoHooks {}

impl HotReport {
    /// Redo bytes the server wrote per second while the backup ran (from `start_lsn` to
    /// `end_lsn`), to compare with the follower's [`parse_rate`](FollowerStats::parse_rate).
    pub fn server_redo_rate(&self) -> f64 {
        self.end_lsn.get().saturating_sub(self.start_lsn.get()) as f64
            / self.report.seconds.max(1e-9)
    }
}

/// What a hot backup did, beyond the [`BackupReport`].
#[derive(Debug, Clone)]
pub struct HotReport {
    /// The backup's figures (`to_lsn` = the start checkpoint, `last_lsn` = the redo end).
    pub report: BackupReport,
    /// How the server was reached.
    pub server: String,
    /// `Innodb_lsn_current` when the copy of the tablespaces started.
    pub start_lsn: Lsn,
    /// `Innodb_lsn_current` under `BLOCK_COMMIT`: the copied redo reaches at least this.
    pub end_lsn: Lsn,
    /// The server's checkpoint when the tablespaces were copied (above `to_lsn` when the
    /// server checkpointed during their copy).
    pub copy_end_checkpoint: Lsn,
    /// The server's checkpoint when the redo copy stopped.
    pub end_checkpoint: Lsn,
    /// Tablespaces dropped during the backup (`.del` written).
    pub deleted: Vec<PathBuf>,
    /// Tablespaces renamed during the backup (`.ren` written): (old, new).
    pub renamed: Vec<(PathBuf, PathBuf)>,
    /// Tablespaces copied whole at the end (`.new` written).
    pub new: Vec<PathBuf>,
    /// Seconds DDL was blocked.
    pub ddl_blocked_seconds: f64,
    /// Seconds commits were blocked.
    pub commits_blocked_seconds: f64,
    /// The redo follower's figures.
    pub follower: FollowerStats,
}

fn put(sink: &mut dyn Sink, name: &Path, bytes: &[u8]) -> Result<(), BackupError> {
    let err = |source| BackupError::Write {
        path: name.into(),
        source,
    };
    let mut f = sink.create(name).map_err(err)?;
    f.write_all(bytes).map_err(err)?;
    f.finish().map_err(err)
}

/// Forwards the caller's cancel token to the run's own token until the run ends.
struct CancelBridge {
    done: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl CancelBridge {
    fn new(outer: &Cancel, inner: &Cancel) -> CancelBridge {
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (o, i, d) = (outer.clone(), inner.clone(), done.clone());
        let thread = std::thread::spawn(move || {
            while !d.load(std::sync::atomic::Ordering::Relaxed) {
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
        self.done.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Takes a hot backup of the server behind `server`, whose datadir is `options.datadir`.
/// See the [module docs](self) for the steps. On failure the server is released
/// (`BACKUP STAGE END`) and the destination lacks `xtrabackup_checkpoints`.
pub fn run(
    server: &mut Server,
    options: &BackupOptions,
    hot: &HotOptions,
    sink: &mut dyn Sink,
    progress: &dyn Progress,
    cancel: &Cancel,
    hooks: &dyn HotHooks,
) -> Result<HotReport, BackupError> {
    if !server::same_dir(&server.datadir, &options.datadir) {
        return Err(BackupError::Inconsistent {
            what: format!(
                "the server reached through {} serves the datadir {}, not {}: connect to the \
                 server of {} (--socket) or give its datadir",
                server.how,
                server.datadir.display(),
                options.datadir.display(),
                options.datadir.display()
            ),
        });
    }
    let r = run_staged(server, options, hot, sink, progress, cancel, hooks);
    if r.is_err() && server.current_stage().is_some() {
        let _ = server.stage(Stage::End);
    }
    r
}

#[allow(clippy::too_many_arguments)]
fn run_staged(
    server: &mut Server,
    options: &BackupOptions,
    hot: &HotOptions,
    sink: &mut dyn Sink,
    progress: &dyn Progress,
    cancel: &Cancel,
    hooks: &dyn HotHooks,
) -> Result<HotReport, BackupError> {
    let t0 = Instant::now();
    let start_time = SystemTime::now();
    let inner = Cancel::new();
    let _bridge = CancelBridge::new(cancel, &inner);
    let dd = &options.datadir;

    server.stage(Stage::Start)?;
    let mut t_ddl = None;
    if hot.block_ddl {
        server.stage(Stage::Flush)?;
        server.stage(Stage::BlockDdl)?;
        t_ddl = Some(Instant::now());
        progress.event(Event::Note {
            message: "DDL is blocked for the whole backup (BACKUP STAGE BLOCK_DDL)",
        });
    }
    let log_rel = Path::new("ib_logfile0");
    let log_out = sink.create(log_rel).map_err(|source| BackupError::Write {
        path: log_rel.into(),
        source,
    })?;
    let log = log_copy::LogCopy::start(
        dd.join("ib_logfile0"),
        log_out,
        hot.poll_interval,
        inner.clone(),
        server.another()?,
    )?;
    let start_ck = log.facts.checkpoint_lsn;
    progress.event(Event::Note {
        message: &format!(
            "hot backup through {}: redo copied from checkpoint {start_ck}",
            server.how
        ),
    });

    let start_lsn = server.lsn_current()?;
    // The same engine as for a stopped server, reading through descriptors opened now.
    let plan = BackupPlan::new_hot(options, log.facts.clone())?;
    plan.announce(progress, &[]);
    let copied = plan.copy_files(
        &plan.tablespaces,
        &[],
        plan.mode(),
        true,
        sink,
        progress,
        &inner,
    );
    let failed = log.failed();
    let (mut reports, _) = match copied {
        Err(e) => {
            // the redo copy's failure is the cause when it made the copy stop
            let log_err = log.abort().err();
            return Err(match (failed, log_err) {
                (true, Some(le)) => le,
                (_, _) if cancel.is_cancelled() => BackupError::Cancelled,
                _ => e,
            });
        }
        Ok(x) => x,
    };
    if failed {
        return Err(log.abort().err().unwrap_or(BackupError::Cancelled));
    }
    let files_seconds = t0.elapsed().as_secs_f64();
    let copy_end_checkpoint = Lsn::new(server.status_u64("Innodb_lsn_last_checkpoint")?);

    if !hot.block_ddl {
        server.stage(Stage::Flush)?;
        server.stage(Stage::BlockDdl)?;
        t_ddl = Some(Instant::now());
    }
    // the redo up to now names every file created or renamed before DDL was blocked
    let now = server.lsn_current()?;
    server.flush_engine_logs()?;
    log.wait_until(now, hot.end_timeout)?;
    if log.failed() {
        return Err(log.abort().err().unwrap_or(BackupError::Cancelled));
    }
    let (names, by_name) = log.file_names();
    let redo_names = ddl::RedoNames { names, by_name };
    let changes = ddl::compare(dd, &plan.tablespaces, &options.filter, &redo_names)?;
    for n in &changes.notes {
        progress.event(Event::Note { message: n });
    }
    for rel in &changes.deleted {
        put(sink, &ddl::with_ext(rel, ".del"), b"")?;
    }
    for (from, to) in &changes.renamed {
        let target = ddl::with_ext(to, "");
        put(
            sink,
            &ddl::with_ext(from, ".ren"),
            target.to_string_lossy().as_bytes(),
        )?;
    }
    if !changes.new.is_empty() || !changes.raw_new.is_empty() {
        let more = plan.copy_files(
            &changes.new,
            &changes.raw_new,
            Mode::Copy,
            true,
            sink,
            progress,
            &inner,
        );
        match more {
            Ok((more, _)) => reports.extend(more),
            Err(e) => return Err(log.cause(e)),
        }
    }
    if log.failed() {
        return Err(log.abort().err().unwrap_or(BackupError::Cancelled));
    }

    server.stage(Stage::BlockCommit)?;
    let t_commit = Instant::now();
    let listing = plan::scan_datadir(dd)?;
    let (others, _) = plan::list_other_files(dd, &listing, &options.filter)?;
    let (_, other_totals) =
        match plan.copy_files(&[], &others, Mode::Copy, true, sink, progress, &inner) {
            Ok(x) => x,
            Err(e) => return Err(log.cause(e)),
        };
    let binlog = server.binlog_position()?;
    let end_lsn = server.lsn_current()?;
    server.flush_engine_logs()?;
    let (log_out, redo, follower) = log.stop_at(end_lsn, hot.end_timeout)?;
    hooks.commits_blocked(end_lsn);
    let end_checkpoint = server
        .status_u64("Innodb_lsn_last_checkpoint")
        .map(Lsn::new)
        .unwrap_or(start_ck);
    server.stage(Stage::End)?;
    let commits_blocked_seconds = t_commit.elapsed().as_secs_f64();
    let ddl_blocked_seconds = t_ddl.map_or(0.0, |t| t.elapsed().as_secs_f64());
    log_out.finish().map_err(|source| BackupError::Write {
        path: log_rel.into(),
        source,
    })?;
    if let Some(b) = &binlog {
        put(sink, Path::new("xtrabackup_binlog_info"), b.as_bytes())?;
    }
    let new: Vec<PathBuf> = changes
        .new
        .iter()
        .map(|t| t.files[0].rel.clone())
        .chain(changes.raw_new.iter().map(|f| f.rel.clone()))
        .collect();
    let mut info = vec![
        (
            "lock_time".to_string(),
            format!("{:.0}", commits_blocked_seconds.ceil()),
        ),
        ("innodb_log_end_lsn".to_string(), end_lsn.get().to_string()),
    ];
    if let Some(b) = &binlog {
        info.push(("binlog_pos".into(), b.trim_end().replace('\t', ", ")));
    }
    let xb_info = vec![
        ("source".to_string(), "hot".to_string()),
        ("end_lsn".to_string(), end_lsn.get().to_string()),
        (
            "end_checkpoint_lsn".to_string(),
            end_checkpoint.get().to_string(),
        ),
    ];
    let phases = Phases {
        files: files_seconds,
        redo: follower.busy_seconds,
        sync: 0.0,
    };
    let report = plan.write_metadata(
        sink,
        Outcome {
            reports,
            others: other_totals,
            redo,
            start_time,
            t0,
            phases,
            info,
            xb_info,
        },
    )?;
    Ok(HotReport {
        report,
        server: server.how.clone(),
        start_lsn,
        end_lsn,
        copy_end_checkpoint,
        end_checkpoint,
        deleted: changes.deleted,
        renamed: changes.renamed,
        new,
        ddl_blocked_seconds,
        commits_blocked_seconds,
        follower,
    })
}
