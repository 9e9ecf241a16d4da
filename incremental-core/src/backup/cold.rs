//! The stages of a cold backup: the files are read as they are, the redo log copied last.

use innodb_page::redo::file::LOG_FILE_0;
use std::path::Path;
use std::time::Instant;

use super::contents::Contents;
use super::detect::ServerConn;
use super::options::BackupOptions;
use super::redo_copy::{self, RedoFacts};
use super::scan::OtherTotals;
use super::sink::FileMeta;
use super::stages::{Copied, End, Run, Stages};
use super::BackupError;
use crate::encryption::EncryptionError;
use crate::progress::{Cancel, Event};

/// A stopped server's datadir, or a filesystem snapshot; or the datadir of a running server
/// without InnoDB (`--skip-innodb`), whose InnoDB files no process changes, copied while the
/// server blocks commits (`BACKUP STAGE BLOCK_COMMIT`) so that its other tables are
/// consistent.
pub(crate) struct Cold<'a> {
    cancel: Cancel,
    /// `backup-my.cnf`'s lines loading the server's keys.
    encryption: Vec<(String, String)>,
    /// The running server that blocks commits during the copy.
    #[cfg_attr(not(feature = "hot"), allow(dead_code))]
    server: Option<&'a mut ServerConn>,
}

impl<'a> Cold<'a> {
    /// Stages that stop at the next batch when `cancel` fires.
    pub(crate) fn new(cancel: &Cancel) -> Cold<'a> {
        Cold {
            cancel: cancel.clone(),
            encryption: Vec::new(),
            server: None,
        }
    }

    /// Stages that copy everything while `server` (which runs no InnoDB) blocks commits.
    pub(crate) fn locking(cancel: &Cancel, server: &'a mut ServerConn) -> Cold<'a> {
        Cold {
            server: Some(server),
            ..Cold::new(cancel)
        }
    }

    /// Takes the server's backup locks up to `BLOCK_COMMIT`.
    fn lock(&mut self) -> Result<(), BackupError> {
        #[cfg(feature = "hot")]
        if let Some(s) = self.server.as_deref_mut() {
            use super::server::Stage;
            for stage in [
                Stage::Start,
                Stage::Flush,
                Stage::BlockDdl,
                Stage::BlockCommit,
            ] {
                s.stage(stage)?;
            }
        }
        Ok(())
    }

    /// Releases the server's backup locks.
    fn unlock(&mut self) -> Result<(), BackupError> {
        #[cfg(feature = "hot")]
        if let Some(s) = self.server.as_deref_mut()
            && s.current_stage().is_some()
        {
            s.stage(super::server::Stage::End)?;
        }
        Ok(())
    }
}

impl Stages for Cold<'_> {
    fn begin(&mut self, run: &mut Run<'_>) -> Result<Contents, BackupError> {
        self.lock()?;
        let hot = run.plan.options().hot();
        if hot.slave_info() || hot.galera_info() || hot.safe_slave_backup() {
            run.progress.event(Event::Note {
                message: "cold backup: the replica's position and the Galera state are read \
                          from a running server; none is recorded",
            });
        }
        let mut contents =
            run.plan
                .contents()
                .cloned()
                .ok_or_else(|| BackupError::Inconsistent {
                    what: format!("{}: the plan lists no files", run.plan.datadir().display()),
                })?;
        self.encryption = key_lines(run.plan.options(), run.plan.datadir(), &contents.redo)?;
        if run.plan.options().extended_validation() {
            // the keys the options or the server's option files name, if any
            if let Some(settings) = run.plan.options().keys().find().settings {
                let ring = settings.keys(run.plan.datadir())?;
                contents.page_keys = Some(std::sync::Arc::new(ring));
            }
        }
        Ok(contents)
    }

    fn cancel(&self) -> &Cancel {
        &self.cancel
    }

    fn after_files(
        &mut self,
        _: &mut Run<'_>,
        _: &Contents,
        _: &mut Copied,
    ) -> Result<(), BackupError> {
        Ok(())
    }

    fn end(&mut self, run: &mut Run<'_>, contents: &Contents) -> Result<End, BackupError> {
        let redo = &contents.redo;
        let log_rel = Path::new(LOG_FILE_0);
        let bytes = redo.end_lsn.get().saturating_sub(redo.checkpoint_lsn.get());
        run.progress.event(Event::FileStarted {
            path: log_rel,
            bytes,
        });
        let err = |source| BackupError::Write {
            path: log_rel.into(),
            source,
        };
        let mut out = run
            .sink
            .create(&FileMeta::new(log_rel, None))
            .map_err(err)?;
        let t = Instant::now();
        let copied = redo_copy::copy(redo, &mut out, &self.cancel)?;
        out.finish().map_err(err)?;
        let (dd, filter) = (run.plan.datadir(), run.plan.options().filter());
        super::empty_dbs::put_empty_databases(run.sink, dd, filter, &[])?;
        self.unlock()?;
        run.progress.event(Event::FileDone { path: log_rel });
        run.progress.event(Event::ConsistentPoint {
            lsn: copied.end_lsn,
        });
        Ok(End {
            others: OtherTotals::default(),
            redo: copied,
            redo_seconds: t.elapsed().as_secs_f64(),
            info: Vec::new(),
            xb_info: Vec::new(),
            hot: None,
            data_file_path: None,
            encryption: std::mem::take(&mut self.encryption),
            server_cnf: Default::default(),
        })
    }

    fn fail(&mut self, e: BackupError) -> BackupError {
        // the first error is the one to report; the connection's end releases the locks too
        let _ = self.unlock();
        e
    }
}

/// The `backup-my.cnf` lines that load the keys of the stopped server of `datadir` (its
/// working directory, where relative key file names start), found from the options' key
/// settings as `xb track` finds them, and written as the hot backup writes them. An encrypted
/// log needs them (the prepare decrypts it): none named is an error, and key 1 must be there.
fn key_lines(
    options: &BackupOptions,
    datadir: &Path,
    redo: &RedoFacts,
) -> Result<Vec<(String, String)>, BackupError> {
    let found = options.keys().find();
    let Some(settings) = found.settings else {
        if !redo.encrypted {
            return Ok(Vec::new());
        }
        return Err(EncryptionError::NoKeyFile {
            log: redo.path.clone(),
            option_files: found.option_files,
        }
        .into());
    };
    if redo.encrypted {
        settings.log_key(datadir)?;
    }
    Ok(settings.cnf_lines(datadir))
}
