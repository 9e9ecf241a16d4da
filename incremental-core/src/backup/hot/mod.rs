//! Hot backups: backing up a running MariaDB 10.8+ server that keeps serving writes.
//!
//! Pages copied from a live datadir are fuzzy; the redo log from the checkpoint at the start
//! of the copy to its end makes them consistent. The stages of a hot run (see `stages.rs`),
//! on the plan's open connection:
//!
//! 1. `BACKUP STAGE START` (with [`HotOptions::set_block_ddl`](super::HotOptions::set_block_ddl)
//!    also `FLUSH` and `BLOCK_DDL`, held to the end: no DDL can run during the backup);
//! 2. finds the server's encryption keys (`keys`: an active `file_key_management` plugin, as
//!    mariabackup finds it), and starts following the server's redo log at its newest
//!    checkpoint `C` (see `log_copy`; an encrypted log is decrypted to read its file records
//!    and copied as stored), writing every mini-transaction into the backup's `ib_logfile0`, whose
//!    header names `C` as its first LSN and checkpoint; it reads only up to the LSN the server
//!    has flushed (`Innodb_lsn_flushed`, on a second connection), or up to an LSN waited for
//!    that was read before the server wrote its log buffer (`FLUSH ENGINE LOGS`: with
//!    `innodb_flush_log_at_trx_commit` 0 or 2 the flushed LSN lags up to a second, and commits
//!    would wait for it under `BLOCK_COMMIT`): the block holding the end of
//!    the log is rewritten as the log grows, and a read racing that write can return the new
//!    bytes up to some point and the block's previous contents after it, which were seen to
//!    hold a stale copy of an older, valid mini-transaction;
//! 3. copies the InnoDB tablespaces exactly as for a stopped server (the same
//!    [`BackupPlan`](crate::backup::BackupPlan) engine: full, or incremental by scan or
//!    bitmap), reading each file through a descriptor opened when planned, and reading a page
//!    that fails its checksum again (it was being written) before calling it corrupt;
//! 4. `BACKUP STAGE FLUSH` and `BLOCK_DDL`: compares the tablespaces copied with those that
//!    exist now and writes `.del`, `.ren` and `.new` files for the DDL that ran meanwhile;
//!    copies the non-InnoDB files (`.frm`, MyISAM, Aria, ...) while commits go on, and once
//!    more those written during their copy (see `others`: which file is copied in which
//!    stage, and why that is consistent);
//! 5. `BACKUP STAGE BLOCK_COMMIT`: copies only the non-InnoDB files that can still have
//!    changed (the statistics and log tables, `aria_log_control`, and the files written since
//!    their copy started: Aria tables and the Aria log), and records the binary log position;
//!    reads the server's current LSN `E` (`Innodb_lsn_current`:
//!    every transaction committed so far ends before it), asks InnoDB to write its log buffer
//!    (`FLUSH NO_WRITE_TO_BINLOG ENGINE LOGS`) and waits until the redo copy reaches `E`; sends
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
mod grants;
mod keys;
mod killer;
mod locks;
mod log_copy;
mod others;
mod replica;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use innodb_page::redo::file::{log_file_path, LOG_FILE_0};
use innodb_page::Lsn;

use self::others::When;
use super::contents::{Contents, TablespacePlan};
use super::copy::{self, Batch, Target};
use super::empty_dbs;
use super::files;
use super::metadata::ServerCnf;
use super::needed::LogFiles;
use super::plan::{plan_hot_contents, BackupPlan};
use super::report::HotReport;
use super::scan::{Mode, OtherTotals};
use super::server::{Server, Stage};
use super::sink::{put, FileMeta};
use super::stages::{Copied, End, Run, Stages};
use super::{BackupError, BackupKind};
use crate::format::ddl_files::{marker_path, table_name, DdlFile};
use crate::progress::{Cancel, Event};
use innodb_page::redo::follow::FollowError;

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
    /// The non-InnoDB files copied so far (see `others`).
    others: others::Others,
    /// What `--safe-slave-backup` did to the replica's SQL thread.
    sql_thread: replica::SqlThread,
    /// When the run began (the changes a backup without locks checks are those after it).
    began: std::time::SystemTime,
    /// The queries killed to take the locks.
    killed: Vec<String>,
    /// The server's encryption keys, if it encrypts with `file_key_management`.
    keys: Option<keys::ServerKeys>,
    /// The privileges the account lacks and the backup does without (see `locks`).
    missing_privileges: Vec<super::MissingPrivilege>,
    /// The checkpoint forced before the redo copy.
    forced_checkpoint: super::ForcedCheckpoint,
    /// The server refused `FLUSH ENGINE LOGS` (no `RELOAD`; without locks): the redo copy
    /// waits for the server's own flush, within a second.
    flush_refused: bool,
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
            others: others::Others::default(),
            sql_thread: replica::SqlThread::NotReplica,
            began: std::time::SystemTime::now(),
            killed: Vec::new(),
            keys: None,
            missing_privileges: Vec::new(),
            forced_checkpoint: super::ForcedCheckpoint::NotAsked,
            flush_refused: false,
        }
    }

    /// A wrong key reported by the redo follower, as an error naming the key and its file.
    fn wrong_key(&self, e: BackupError) -> BackupError {
        match (e, &self.keys) {
            (BackupError::Follow(FollowError::WrongKey { path, .. }), Some(k)) => {
                k.settings.wrong_key(&k.base_dir, path).into()
            }
            (e, _) => e,
        }
    }

    /// The keys that decrypt encrypted pages for extended validation (when asked for and the
    /// server has keys).
    fn page_keys(&self) -> Option<&crate::encryption::KeyRing> {
        match self.plan.options().extended_validation() {
            true => self.keys.as_ref().map(|k| &*k.ring),
            false => None,
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
        self.lock(Stage::Flush)?;
        self.lock(Stage::BlockDdl)?;
        self.t_ddl = Some(Instant::now());
        Ok(())
    }

    /// Starts following the server's redo log into the backup's `ib_logfile0`.
    fn start_log(&mut self, run: &mut Run<'_>) -> Result<(), BackupError> {
        self.keys = keys::discover(self.server, self.plan.datadir())?;
        let log_rel = Path::new(LOG_FILE_0);
        let out = run
            .sink
            .create(&FileMeta::new(log_rel, None))
            .map_err(|source| BackupError::Write {
                path: log_rel.into(),
                source,
            })?;
        let interval = self.plan.options().hot().poll_interval();
        let path = log_file_path(&self.plan.options().dirs().log_dir(self.plan.datadir()));
        let second = self.server.another()?;
        let key = match &self.keys {
            Some(k) => Some((
                k.ring.log_key(&crate::encryption::header_block(&path))?,
                k.ring.mode(),
            )),
            None => None,
        };
        let log = log_copy::LogCopy::start(path, out, interval, self.inner.clone(), second, key)
            .map_err(|e| self.wrong_key(e))?;
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
                throttled: false, // under BLOCK_DDL
                page_keys: self.page_keys(),
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
                throttled: false, // under BLOCK_DDL
                page_keys: self.page_keys(),
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

    /// The server's own logs in the datadir (never copied): those its index files list and
    /// those it names.
    fn log_files(&mut self) -> Result<LogFiles, BackupError> {
        let dd = self.plan.datadir();
        let mut logs = LogFiles::from_index_files(dd);
        let (bases, files) = self.server.log_names()?;
        for b in &bases {
            logs.add_base(dd, b);
        }
        for f in &files {
            logs.add_file(dd, f);
        }
        Ok(logs)
    }

    /// Copies the non-InnoDB files due in stage `now` (see `others`); a file copied again
    /// adds its bytes, not a file, to the totals.
    fn copy_others(&mut self, run: &mut Run<'_>, now: When) -> Result<OtherTotals, BackupError> {
        self.others.set_once(!run.sink.replaces_files());
        let dd = self.plan.datadir();
        let listing = files::scan_datadir(dd, self.plan.options().dirs())?;
        let filter = self.plan.options().filter();
        let logs = self.log_files()?;
        let (others, _) = files::list_other_files(dd, &listing, filter, &logs)?;
        let due = self
            .others
            .due(others, now)
            .map_err(|source| BackupError::Io {
                path: dd.to_path_buf(),
                source,
            })?;
        // the Aria log after the tables: a table's change that its copy holds is then in the
        // copied log too, as Aria's recovery needs (statements still write under BLOCK_COMMIT,
        // only their commits wait)
        let (logs, tables): (Vec<_>, Vec<_>) = due
            .files
            .iter()
            .cloned()
            .partition(|f| others::is_aria_log(&f.rel));
        let mut totals = OtherTotals::default();
        for part in [&tables, &logs] {
            let batch = Batch {
                tablespaces: &[],
                others: part,
                mode: Mode::Copy,
                hot: true,
                throttled: false, // under BLOCK_DDL or BLOCK_COMMIT
                page_keys: None,
            };
            let (_, t) = copy::copy_files(self.plan.options(), batch, self.target(run))?;
            totals.files += t.files;
            totals.bytes += t.bytes;
        }
        totals.files -= due.again.min(totals.files);
        if now == When::BlockCommit && !due.files.is_empty() {
            let names: Vec<String> = due
                .files
                .iter()
                .map(|f| f.rel.display().to_string())
                .collect();
            run.progress.event(Event::Note {
                message: &format!(
                    "copied while commits were blocked: {} ({} bytes)",
                    names.join(", "),
                    totals.bytes
                ),
            });
        }
        Ok(totals)
    }

    /// Under `BLOCK_DDL`: copies the non-InnoDB files, then once more those written during
    /// or just before their copy (see `others`).
    fn copy_others_before_commit(
        &mut self,
        run: &mut Run<'_>,
        copied: &mut Copied,
    ) -> Result<(), BackupError> {
        let first = self.copy_others(run, When::BlockDdl)?;
        if self.others.unsettled() {
            std::thread::sleep(others::SETTLE);
        }
        let again = self.copy_others(run, When::BlockDdl)?;
        copied.others.files += first.files + again.files;
        copied.others.bytes += first.bytes + again.bytes;
        // the redo copy catches up now, leaving little to copy while commits wait
        let now = self.server.lsn_current()?;
        self.flush_logs()?;
        let timeout = self.plan.options().hot().end_timeout();
        self.log()?.wait_until(now, timeout)
    }
}

fn not_started() -> BackupError {
    BackupError::Inconsistent {
        what: "internal error: the redo copy is not running".into(),
    }
}

impl Stages for Hot<'_> {
    fn begin(&mut self, run: &mut Run<'_>) -> Result<Contents, BackupError> {
        let hot = self.plan.options().hot();
        self.check_privileges(run.progress)?;
        self.sql_thread = replica::safe_slave(self.server, hot, &self.inner, run.progress)?;
        self.lock(Stage::Start)?;
        if self.plan.options().hot().block_ddl() {
            self.block_ddl()?;
            run.progress.event(Event::Note {
                message: "DDL is blocked for the whole backup (BACKUP STAGE BLOCK_DDL)",
            });
        }
        self.force_checkpoint()?;
        self.start_log(run)?;
        let facts = self.log()?.facts.clone();
        run.progress.event(Event::Note {
            message: &format!(
                "hot backup through {}: redo copied from checkpoint {}",
                self.server.how, facts.checkpoint_lsn
            ),
        });
        self.start_lsn = self.server.lsn_current()?;
        let mut contents = plan_hot_contents(
            self.plan.options(),
            self.plan.datadir(),
            self.plan.kind(),
            &facts,
        )?;
        if self.plan.options().extended_validation() {
            contents.page_keys = self.keys.as_ref().map(|k| k.ring.clone());
        }
        Ok(contents)
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
        self.flush_logs()?;
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
        let dirs = self.plan.options().dirs();
        let changes = ddl::compare(dd, &contents.tablespaces, filter, &redo_names, &base, dirs)?;
        for n in &changes.notes {
            run.progress.event(Event::Note { message: n });
        }
        self.write_ddl(run, changes, copied)?;
        self.copy_others_before_commit(run, copied)?;
        self.check_log()
    }

    fn end(&mut self, run: &mut Run<'_>, contents: &Contents) -> Result<End, BackupError> {
        self.lock(Stage::BlockCommit)?;
        let t_commit = Instant::now();
        let others = self.copy_others(run, When::BlockCommit)?;
        let binlog = self.binlog()?;
        let replication = replica::Recorded::read(self.server, self.plan.options().hot())?;
        let end_lsn = self.server.lsn_current()?;
        self.flush_logs()?;
        let timeout = self.plan.options().hot().end_timeout();
        let log = self.log.take().ok_or_else(not_started)?;
        let (log_out, redo, follower) = log.stop_at(end_lsn, timeout)?;
        run.progress.event(Event::ConsistentPoint { lsn: end_lsn });
        let start_ck = contents.redo.checkpoint_lsn;
        let end_checkpoint = self
            .server
            .status_u64("Innodb_lsn_last_checkpoint")
            .map_or(start_ck, Lsn::new);
        self.lock(Stage::End)?;
        replica::restart_sql_thread(self.server, std::mem::take(&mut self.sql_thread))?;
        let (commits_blocked_seconds, ddl_blocked_seconds) = self.blocked_seconds(t_commit);
        log_out.finish().map_err(|source| BackupError::Write {
            path: LOG_FILE_0.into(),
            source,
        })?;
        if let Some(b) = &binlog {
            put(run.sink, Path::new("xtrabackup_binlog_info"), b.as_bytes())?;
        }
        let ignored = self.server.value("SELECT @@ignore_db_dirs")?;
        let ignored: Vec<&str> = ignored
            .iter()
            .flat_map(|l| l.split(','))
            .map(str::trim)
            .collect();
        let dd = self.plan.datadir();
        empty_dbs::put_empty_databases(run.sink, dd, self.plan.options().filter(), &ignored)?;
        replication.write(run.sink, run.progress)?;
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
            replica: replication.replica(),
            galera_state: replication.galera_state(),
            no_lock: self.plan.options().hot().no_lock(),
            written_during_backup: self.written_without_lock(),
            killed_queries: std::mem::take(&mut self.killed),
            no_lock_writes_accepted: self.plan.options().hot().accept_no_lock_writes(),
            forced_checkpoint: self.forced_checkpoint,
            missing_privileges: std::mem::take(&mut self.missing_privileges),
            seconds: 0.0,
        };
        let data_file_path = self.server.value("SELECT @@innodb_data_file_path")?;
        let vars = self.server.name_values(
            "SHOW GLOBAL VARIABLES WHERE Variable_name IN \
             ('innodb_checksum_algorithm', 'innodb_compression_level')",
        )?;
        let server_cnf = ServerCnf::from_variables(
            vars.0
                .iter()
                .filter_map(|(k, v)| Some((k.as_str(), v.as_deref()?))),
        );
        let encryption = self
            .keys
            .as_ref()
            .map_or(Vec::new(), |k| k.settings.cnf_lines(&k.base_dir));
        let mut info = info_keys(commits_blocked_seconds, end_lsn, binlog.as_deref());
        info.push(("server_version".into(), self.server.version.clone()));
        info.extend(self.history_keys()?);
        Ok(End {
            others,
            redo,
            redo_seconds: follower.busy_seconds,
            info,
            xb_info: xb_info_keys(end_lsn, end_checkpoint),
            hot: Some(hot),
            data_file_path,
            encryption,
            server_cnf,
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
        let _ = replica::restart_sql_thread(self.server, std::mem::take(&mut self.sql_thread));
        e
    }

    fn finished(&mut self, info: &crate::format::info::Info) -> Result<(), BackupError> {
        self.record_history(info)
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
        info.push(("binlog_pos".into(), binlog_pos(b)));
    }
    info
}

/// `xtrabackup_info`'s `binlog_pos` (also a history column) from an `xtrabackup_binlog_info`
/// line, worded as mariabackup words it.
fn binlog_pos(line: &str) -> String {
    let mut f = line.trim_end().split('\t');
    let (file, pos, gtid) = (f.next(), f.next(), f.next());
    let (file, pos) = (file.unwrap_or(""), pos.unwrap_or(""));
    match gtid {
        Some(g) => format!("filename '{file}', position '{pos}', GTID of the last change '{g}'"),
        None => format!("filename '{file}', position '{pos}'"),
    }
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
