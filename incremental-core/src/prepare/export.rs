//! Exporting the tables of a prepared backup for `ALTER TABLE … IMPORT TABLESPACE`
//! (`xb prepare --export`, as `mariabackup --prepare --export`; feature `hot`).
//!
//! A table's `.ibd` can be imported into another server only with the `.cfg` file that
//! `FLUSH TABLES … FOR EXPORT` writes beside it (its columns, indexes and root pages, the
//! tablespace flags). mariabackup 10.11 gets them by running the server built into itself
//! (`mariabackup --mysqld`) in bootstrap mode on the prepared directory (settings from
//! `backup-my.cnf`, `--innodb-fast-shutdown=0`, `--innodb_purge_rseg_truncate_frequency=1`,
//! `--skip-log-bin`, the buffer pool of `--use-memory`), with one `FLUSH TABLES db.t FOR EXPORT`
//! and `UNLOCK TABLES` per `.ibd` of the database directories, errors ignored; its server keeps
//! the `.cfg` files that `UNLOCK TABLES` deletes in an ordinary server.
//!
//! [`export()`] does the same with the installed `mariadbd`, in the private setup of
//! [`apply_redo`](super::apply_redo) (its own option file, socket and error log, no network,
//! no grant tables, no binary log), the server running as mariabackup's does (recovery, the
//! rollback of the transactions open at the end of the backup, a slow shutdown that purges
//! everything): for each InnoDB table of each database it runs `FLUSH TABLES … FOR EXPORT` (a
//! database's tables together, in groups), keeps each `.cfg` written under a hard link before
//! `UNLOCK TABLES` deletes it, shuts the server down cleanly and puts the `.cfg` files in
//! place. A table the server cannot export (no file of its own, a damaged definition) is
//! reported, with the server's reason, and the others are exported.
//!
//! The backup must have its redo applied (`log-applied` or `full-prepared`). The server changes
//! its pages (rollback, purge), so it is marked `full-prepared` before the server starts: no
//! incremental can be merged onto it afterwards, as with any backup a server ran on. The step is
//! journalled like the apply-redo step (`xb_prepare.apply-redo.journal`): until it finished, a
//! copy-back refuses the backup; running it again finishes it.

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mysql::prelude::Queryable;

use super::apply_redo::{
    check_runnable, clear_interrupted, find_mariadbd, finish_journal, mark_prepared, restorable,
    sync_tree, ApplyRedoError, Mode, Scratch, Server,
};
use super::redo_journal;
use crate::backup::server::plain_text;
use crate::copy_back;
use crate::format::backup_my_cnf::ServerSettings;
use crate::format::checkpoints::BackupType;
use crate::progress::{Event, Progress};

/// The suffix of the hard link that keeps a `.cfg` file while the server deletes its name.
const KEPT: &str = ".xb-export";

/// How many tables one `FLUSH TABLES … FOR EXPORT` names.
const GROUP: usize = 64;

/// How to run the export: `ExportOptions::default()`, then setters.
///
/// ```
/// use incremental_core::prepare::export::ExportOptions;
/// let mut o = ExportOptions::default();
/// o.set_mariadbd(Some("/usr/sbin/mariadbd".into()));
/// assert_eq!(o.mariadbd(), Some(std::path::Path::new("/usr/sbin/mariadbd")));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExportOptions {
    mariadbd: Option<PathBuf>,
    timeout: Duration,
    buffer_pool: String,
}

impl Default for ExportOptions {
    fn default() -> Self {
        ExportOptions {
            mariadbd: None,
            timeout: Duration::from_secs(3600),
            buffer_pool: "256M".into(),
        }
    }
}

impl ExportOptions {
    /// The server binary (`None`, the default: [`find_mariadbd`]).
    pub fn set_mariadbd(&mut self, path: Option<PathBuf>) -> &mut Self {
        self.mariadbd = path;
        self
    }

    /// How long the whole run may take (default one hour).
    pub fn set_timeout(&mut self, limit: Duration) -> &mut Self {
        self.timeout = limit;
        self
    }

    /// `innodb_buffer_pool_size` of the private server (default `256M`).
    pub fn set_buffer_pool(&mut self, size: impl Into<String>) -> &mut Self {
        self.buffer_pool = size.into();
        self
    }

    /// The server binary asked for ([`ExportOptions::set_mariadbd`]).
    pub fn mariadbd(&self) -> Option<&Path> {
        self.mariadbd.as_deref()
    }

    /// The time limit ([`ExportOptions::set_timeout`]).
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// `innodb_buffer_pool_size` of the private server ([`ExportOptions::set_buffer_pool`]).
    pub fn buffer_pool(&self) -> &str {
        &self.buffer_pool
    }
}

/// A table the server did not export.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct SkippedTable {
    /// `db.table` (the names as SQL knows them).
    pub table: String,
    /// The server's reason.
    pub why: String,
}

/// What [`export()`] did.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct ExportReport {
    /// The server run.
    pub mariadbd: PathBuf,
    /// Tables flushed for export.
    pub tables: u64,
    /// The `.cfg` files written, relative to the backup (one per table, one per partition).
    pub cfg_files: Vec<PathBuf>,
    /// Tables the server refused to export, with its reasons.
    pub skipped: Vec<SkippedTable>,
    /// Seconds from start to the end of the shutdown.
    pub seconds: f64,
    /// An interrupted run was found and finished.
    pub resumed: bool,
}

/// Why [`export()`] failed. The backup is then `full-prepared` and may lack some `.cfg`
/// files: run it again.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// The redo log of the backup is not applied yet.
    #[error(
        "{}: the redo log is not applied ({found}): apply it before exporting",
        path.display()
    )]
    NotApplied {
        /// The backup.
        path: PathBuf,
        /// Its state.
        found: BackupType,
    },
    /// A `.cfg` file could not be kept or put in place.
    #[error("table {table}: cannot {action} {}: {source}", path.display())]
    Cfg {
        /// `db.table`, or the `.cfg` file's name when the table is not known.
        table: String,
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The server failed, or the backup cannot be run (see [`ApplyRedoError`]).
    #[error(transparent)]
    Server(#[from] ApplyRedoError),
}

impl ExportError {
    /// What the caller can do about it, when it is an action a front end words.
    pub fn remedy(&self) -> Option<crate::Remedy> {
        match self {
            ExportError::Server(e) => e.remedy(),
            _ => None,
        }
    }
}

/// Quotes an identifier for SQL.
fn quote(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// Runs the server on the prepared backup `dir` and leaves a `.cfg` file beside each InnoDB
/// table's `.ibd` (see the module docs). Reports each table done as [`Event::FileDone`] (its
/// path `db/table`) after an [`Event::Planned`] with their number.
///
/// ```no_run
/// use incremental_core::prepare::export::{export, ExportOptions};
/// use incremental_core::progress::NoProgress;
/// let r = export("/backups/full".as_ref(), &ExportOptions::default(), &NoProgress)?;
/// println!("{} .cfg files", r.cfg_files.len());
/// # Ok::<(), incremental_core::prepare::export::ExportError>(())
/// ```
pub fn export(
    dir: &Path,
    opts: &ExportOptions,
    progress: &dyn Progress,
) -> Result<ExportReport, ExportError> {
    let t0 = Instant::now();
    let dir = fs::canonicalize(dir).map_err(|source| ApplyRedoError::Io {
        action: "cannot resolve",
        path: dir.to_path_buf(),
        source,
    })?;
    let cps = restorable(&dir)?;
    let resumed = redo_journal::exists(&dir);
    if resumed && cps.backup_type != BackupType::FullPrepared {
        // an interrupted apply-redo step, not an export: that step must finish first
        return Err(ExportError::NotApplied {
            path: dir,
            found: cps.backup_type,
        });
    }
    if !matches!(
        cps.backup_type,
        BackupType::LogApplied | BackupType::FullPrepared
    ) {
        return Err(ExportError::NotApplied {
            path: dir,
            found: cps.backup_type,
        });
    }
    let mariadbd = opts
        .mariadbd
        .clone()
        .or_else(find_mariadbd)
        .ok_or_else(|| ApplyRedoError::ServerNotFound { path: dir.clone() })?;
    check_runnable(&dir)?;
    let settings = ServerSettings::read_dir(&dir).map_err(ApplyRedoError::from)?;
    copy_back::check_keys(&dir, &settings, &dir).map_err(ApplyRedoError::from)?;
    clear_interrupted(&dir)?;
    let name = Scratch::name();
    redo_journal::write(&dir, &name, true).map_err(|source| ApplyRedoError::Io {
        action: "cannot write",
        path: dir.clone(),
        source,
    })?;
    let scratch = Scratch::create(name)?;
    // the server changes pages: final from now on, whatever happens next
    if cps.backup_type != BackupType::FullPrepared {
        mark_prepared(&dir, &cps, BackupType::FullPrepared)?;
    }
    let server = Server::new(&dir, &scratch.0);
    server.write_options(&opts.buffer_pool, Mode::Export, &settings)?;
    let mut child = server.start(&mariadbd)?;
    let deadline = t0 + opts.timeout;
    let mut conn = server.connect(&mut child, deadline)?;
    server.wait_rollback(&mut conn, deadline)?;
    let mut run = Run {
        dir: &dir,
        server: &server,
        kept: BTreeSet::new(),
        skipped: Vec::new(),
        tables: 0,
        progress,
    };
    run.all(&mut conn)?;
    server.shutdown(conn)?;
    server.wait_shutdown(&mut child, deadline)?;
    drop(scratch);
    let cfg_files = run.put_in_place()?;
    sync_tree(&dir)?;
    finish_journal(&dir)?;
    Ok(ExportReport {
        mariadbd,
        tables: run.tables,
        cfg_files,
        skipped: run.skipped,
        seconds: t0.elapsed().as_secs_f64(),
        resumed,
    })
}

/// One export's state.
struct Run<'a> {
    dir: &'a Path,
    server: &'a Server,
    /// The `.cfg` files kept (relative paths).
    kept: BTreeSet<PathBuf>,
    skipped: Vec<SkippedTable>,
    tables: u64,
    progress: &'a dyn Progress,
}

impl Run<'_> {
    /// Every InnoDB table, a database's tables in groups.
    fn all(&mut self, conn: &mut mysql::Conn) -> Result<(), ExportError> {
        let tables: Vec<(String, String)> = conn
            .query(
                "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES \
                 WHERE ENGINE = 'InnoDB' AND TABLE_TYPE = 'BASE TABLE' \
                 AND TABLE_SCHEMA NOT IN ('information_schema', 'performance_schema', 'sys') \
                 ORDER BY TABLE_SCHEMA, TABLE_NAME",
            )
            .map_err(|e| {
                self.server
                    .failed(format!("cannot list the tables: {}", plain_text(&e)))
            })?;
        self.progress.event(Event::Planned {
            files: tables.len() as u64,
            bytes: 0,
        });
        let mut i = 0;
        while i < tables.len() {
            let db = &tables[i].0;
            let mut j = i;
            while j < tables.len() && &tables[j].0 == db && j - i < GROUP {
                j += 1;
            }
            self.group(conn, &tables[i..j])?;
            i = j;
        }
        Ok(())
    }

    /// One group of tables of one database: flushed together, else one by one to find those
    /// the server refuses.
    fn group(
        &mut self,
        conn: &mut mysql::Conn,
        tables: &[(String, String)],
    ) -> Result<(), ExportError> {
        if self.flush(conn, tables).is_ok() {
            return self.keep_and_unlock(conn, tables);
        }
        self.unlock(conn)?;
        for t in tables {
            match self.flush(conn, std::slice::from_ref(t)) {
                Ok(()) => self.keep_and_unlock(conn, std::slice::from_ref(t))?,
                Err(why) => {
                    self.unlock(conn)?;
                    self.skipped.push(SkippedTable {
                        table: format!("{}.{}", t.0, t.1),
                        why,
                    });
                    self.progress.event(Event::FileDone {
                        path: &Path::new(&t.0).join(&t.1),
                    });
                }
            }
        }
        Ok(())
    }

    /// `FLUSH TABLES … FOR EXPORT`; the server's message on failure.
    fn flush(&self, conn: &mut mysql::Conn, tables: &[(String, String)]) -> Result<(), String> {
        let names: Vec<String> = tables
            .iter()
            .map(|(d, t)| format!("{}.{}", quote(d), quote(t)))
            .collect();
        conn.query_drop(format!("FLUSH TABLES {} FOR EXPORT", names.join(", ")))
            .map_err(|e| plain_text(&e))
    }

    fn unlock(&self, conn: &mut mysql::Conn) -> Result<(), ExportError> {
        conn.query_drop("UNLOCK TABLES").map_err(|e| {
            ExportError::Server(
                self.server
                    .failed(format!("UNLOCK TABLES failed: {}", plain_text(&e))),
            )
        })
    }

    /// Keeps the `.cfg` files the flush wrote, then releases the tables.
    fn keep_and_unlock(
        &mut self,
        conn: &mut mysql::Conn,
        tables: &[(String, String)],
    ) -> Result<(), ExportError> {
        let label = || {
            tables
                .iter()
                .map(|(d, t)| format!("{d}.{t}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        for rel in self
            .new_cfg_files()
            .map_err(|(path, source)| ExportError::Cfg {
                table: label(),
                action: "list",
                path,
                source,
            })?
        {
            let cfg = self.dir.join(&rel);
            let kept = kept_name(&cfg);
            let _ = fs::remove_file(&kept);
            fs::hard_link(&cfg, &kept)
                .or_else(|_| fs::copy(&cfg, &kept).map(|_| ()))
                .map_err(|source| ExportError::Cfg {
                    table: label(),
                    action: "keep",
                    path: cfg.clone(),
                    source,
                })?;
            self.kept.insert(rel);
        }
        self.unlock(conn)?;
        for (d, t) in tables {
            self.tables += 1;
            self.progress.event(Event::FileDone {
                path: &Path::new(d).join(t),
            });
        }
        Ok(())
    }

    /// The `.cfg` files in the database directories not kept yet (relative paths).
    fn new_cfg_files(&self) -> Result<Vec<PathBuf>, (PathBuf, io::Error)> {
        let mut found = Vec::new();
        let list = |d: &Path| fs::read_dir(d).map_err(|e| (d.to_path_buf(), e));
        for db in list(self.dir)? {
            let db = db.map_err(|e| (self.dir.to_path_buf(), e))?;
            if !db.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            for f in list(&db.path())? {
                let f = f.map_err(|e| (db.path(), e))?;
                let name = f.file_name();
                if !name.to_string_lossy().ends_with(".cfg") {
                    continue;
                }
                let rel = Path::new(&db.file_name()).join(&name);
                if !self.kept.contains(&rel) {
                    found.push(rel);
                }
            }
        }
        Ok(found)
    }

    /// Renames every kept link to its `.cfg` name (the server is down).
    fn put_in_place(&self) -> Result<Vec<PathBuf>, ExportError> {
        for rel in &self.kept {
            let cfg = self.dir.join(rel);
            fs::rename(kept_name(&cfg), &cfg).map_err(|source| ExportError::Cfg {
                table: rel.display().to_string(),
                action: "put in place",
                path: cfg.clone(),
                source,
            })?;
        }
        Ok(self.kept.iter().cloned().collect())
    }
}

/// `X.cfg` → `X.cfg.xb-export`.
fn kept_name(cfg: &Path) -> PathBuf {
    let mut s = cfg.as_os_str().to_os_string();
    s.push(KEPT);
    PathBuf::from(s)
}
