//! Taking (or, with `--no-lock`, not taking) the `BACKUP STAGE` locks (`START` within the
//! time allowed), killing the long queries that block them, checking what a backup without
//! locks can check, the account's privileges, the checkpoint forced before the copy, and the
//! history row.
//!
//! Without locks (mariabackup's `--no-lock`, as its documentation describes it: for servers
//! whose tables are all InnoDB, where the binary log position does not matter), nothing
//! stops DDL or writes to non-transactional tables while the files are copied. The InnoDB
//! tablespaces are still made consistent by the copied redo log. The rest is consistent only
//! if no DDL ran and no Aria/MyISAM/CSV table (the `mysql` system tables included) was
//! written during the backup: the run checks that no database directory and no non-InnoDB
//! file in one changed after the backup started (file and directory modification times; a
//! table's files, its `.frm`, a created, renamed or dropped table all change one) and reports
//! what did ([`HotReport::written_during_backup`](crate::backup::HotReport)). No binary log
//! position is recorded: without `BLOCK_COMMIT` it does not match the end LSN.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use super::super::history;
use super::super::server::Stage;
use super::super::{BackupError, ForcedCheckpoint, ServerError};
use super::grants;
use super::killer::Killer;
use super::Hot;
use crate::format::info::Info;
use crate::progress::{Event, Progress};

/// The server's error codes: access denied for lack of a privilege, a lock wait that timed
/// out, an unknown system variable.
const ER_SPECIFIC_ACCESS_DENIED: u16 = 1227;
const ER_LOCK_WAIT_TIMEOUT: u16 = 1205;
const ER_UNKNOWN_SYSTEM_VARIABLE: u16 = 1193;

/// The server refused `e` with error `code`.
fn refused(e: &ServerError, code: u16) -> bool {
    matches!(e, ServerError::Query { code: Some(c), .. } if *c == code)
}

/// Modification times this close before the start count as changes during the backup: the
/// kernel stamps files with a clock that lags by up to a tick.
const MTIME_MARGIN: Duration = Duration::from_millis(100);

impl Hot<'_> {
    /// Enters `stage`, killing long queries while waiting when asked to; nothing without
    /// locks.
    pub(super) fn lock(&mut self, stage: Stage) -> Result<(), BackupError> {
        let hot = self.plan.options().hot();
        if hot.no_lock() {
            return Ok(());
        }
        if let (Stage::Start, Some(t)) = (stage, hot.start_lock_timeout()) {
            return self.start_within(t);
        }
        let blocking = matches!(stage, Stage::Flush | Stage::BlockDdl | Stage::BlockCommit);
        let Some(timeout) = hot.kill_long_queries_timeout().filter(|_| blocking) else {
            return Ok(self.server.stage(stage)?);
        };
        let killer = Killer::start(self.server.another()?, timeout, hot.kill_long_query_type());
        let entered = self.server.stage(stage);
        self.killed.extend(killer.stop());
        Ok(entered?)
    }

    /// `BACKUP STAGE START` with the session's `lock_wait_timeout` at `t` (whole seconds
    /// rounded up, at least 1), then back to what it was.
    fn start_within(&mut self, t: Duration) -> Result<(), BackupError> {
        let seconds = (t.as_secs() + u64::from(t.subsec_nanos() > 0)).max(1);
        let before = self.server.value("SELECT @@SESSION.lock_wait_timeout")?;
        self.server
            .exec(&format!("SET SESSION lock_wait_timeout = {seconds}"))?;
        let entered = self.server.stage(Stage::Start);
        if let Some(b) = before.filter(|b| b.parse::<u64>().is_ok()) {
            self.server
                .exec(&format!("SET SESSION lock_wait_timeout = {b}"))?;
        }
        match entered {
            Err(source) if refused(&source, ER_LOCK_WAIT_TIMEOUT) => {
                Err(BackupError::LockWaitTimeout {
                    stage: Stage::Start.keyword().into(),
                    seconds,
                    source,
                })
            }
            r => Ok(r?),
        }
    }

    /// Checks the account's privileges (`SHOW GRANTS`) against what the backup needs (see
    /// `grants`): a required one missing fails the backup; the others are warnings, sent
    /// as notes and reported.
    pub(super) fn check_privileges(&mut self, progress: &dyn Progress) -> Result<(), BackupError> {
        let hot = self.plan.options().hot();
        if hot.privilege_check() == crate::backup::PrivilegeCheck::Off {
            return Ok(());
        }
        let grants: Vec<String> = self
            .server
            .rows("SHOW GRANTS")?
            .into_iter()
            .filter_map(|r| r.into_iter().next().flatten())
            .collect();
        let log_bin = self.log_bin()?;
        let missing = grants::missing(hot, log_bin, &grants);
        if missing.iter().any(|m| m.required) {
            return Err(BackupError::MissingPrivileges {
                missing,
                grants: grants.iter().map(|g| grants::without_password(g)).collect(),
            });
        }
        for m in &missing {
            progress.event(Event::Note {
                message: &format!("warning: {m}"),
            });
        }
        self.missing_privileges = missing;
        Ok(())
    }

    /// Whether the server writes a binary log (`@@log_bin`).
    fn log_bin(&mut self) -> Result<bool, BackupError> {
        let v = self.server.value("SELECT @@log_bin")?;
        Ok(matches!(v.as_deref(), Some("1" | "ON")))
    }

    /// Asks the server for a checkpoint when the options say so (see
    /// [`HotOptions::set_checkpoint_now`](crate::backup::HotOptions::set_checkpoint_now)).
    pub(super) fn force_checkpoint(&mut self) -> Result<(), BackupError> {
        if !self.plan.options().hot().checkpoint_now() {
            return Ok(());
        }
        match self
            .server
            .exec("SET GLOBAL innodb_log_checkpoint_now = ON")
        {
            Ok(()) => {
                let lsn = self.server.status_u64("Innodb_lsn_last_checkpoint")?;
                self.forced_checkpoint = ForcedCheckpoint::Written {
                    lsn: innodb_page::Lsn::new(lsn),
                };
                Ok(())
            }
            Err(e) if refused(&e, ER_UNKNOWN_SYSTEM_VARIABLE) => {
                self.forced_checkpoint = ForcedCheckpoint::Unsupported;
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// `FLUSH NO_WRITE_TO_BINLOG ENGINE LOGS`; refused for lack of `RELOAD` (an account
    /// without it can only back up without locks), the redo copy waits for the server's own
    /// log flush instead (every second), and the statement is not tried again.
    pub(super) fn flush_logs(&mut self) -> Result<(), BackupError> {
        if self.flush_refused {
            return Ok(());
        }
        match self.server.flush_engine_logs() {
            Err(e) if refused(&e, ER_SPECIFIC_ACCESS_DENIED) => {
                self.flush_refused = true;
                Ok(())
            }
            r => Ok(r?),
        }
    }

    /// How long commits (since `t_commit`) and DDL have been blocked: 0 without locks.
    pub(super) fn blocked_seconds(&self, t_commit: Instant) -> (f64, f64) {
        if self.plan.options().hot().no_lock() {
            return (0.0, 0.0);
        }
        let ddl = self.t_ddl.map_or(0.0, |t| t.elapsed().as_secs_f64());
        (t_commit.elapsed().as_secs_f64(), ddl)
    }

    /// The binary log position, when commits are blocked (never without locks).
    pub(super) fn binlog(&mut self) -> Result<Option<String>, BackupError> {
        // SHOW MASTER STATUS needs BINLOG MONITOR even when there is no binary log
        if self.plan.options().hot().no_lock() || !self.log_bin()? {
            return Ok(None);
        }
        Ok(self.server.binlog_position()?)
    }

    /// Without locks: the database directories and the non-InnoDB files in them that changed
    /// since the backup started (empty with locks).
    pub(super) fn written_without_lock(&self) -> Vec<PathBuf> {
        if !self.plan.options().hot().no_lock() {
            return Vec::new();
        }
        let since = self.began.checked_sub(MTIME_MARGIN).unwrap_or(self.began);
        let dd = self.plan.datadir();
        let filter = self.plan.options().filter();
        let mut changed = Vec::new();
        for db in subdirs(dd) {
            let rel = |p: &Path| p.strip_prefix(dd).unwrap_or(p).to_path_buf();
            if modified_since(&db, since) {
                changed.push(rel(&db));
            }
            let Ok(entries) = std::fs::read_dir(&db) else {
                continue;
            };
            for e in entries.flatten() {
                let p = e.path();
                let r = rel(&p);
                if !is_innodb_data(&p) && filter.keeps_file(&r) && modified_since(&p, since) {
                    changed.push(r);
                }
            }
        }
        changed.sort();
        changed
    }

    /// The `uuid` and `name` keys of `xtrabackup_info` when the backup goes into the history.
    pub(super) fn history_keys(&mut self) -> Result<Vec<(String, String)>, BackupError> {
        match self.plan.options().history() {
            Some(name) => history::identity(self.server, name),
            None => Ok(Vec::new()),
        }
    }

    /// Adds the finished backup's row to the history, when asked for.
    pub(super) fn record_history(&mut self, info: &Info) -> Result<(), BackupError> {
        match self.plan.options().history() {
            Some(_) => history::record(self.server, info),
            None => Ok(()),
        }
    }
}

/// The database directories of `dd`.
fn subdirs(dd: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dd) else {
        return Vec::new();
    };
    let dirs = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()));
    dirs.map(|e| e.path()).collect()
}

/// InnoDB's own files in a database directory: made consistent by the redo log.
fn is_innodb_data(p: &Path) -> bool {
    let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
    matches!(ext, "ibd" | "isl")
}

fn modified_since(p: &Path, since: SystemTime) -> bool {
    std::fs::metadata(p)
        .and_then(|m| m.modified())
        .is_ok_and(|t| t >= since)
}
