//! The stages of a cold backup: the files are read as they are, the redo log copied last.

use innodb_page::redo::file::LOG_FILE_0;
use std::path::Path;
use std::time::Instant;

use super::contents::Contents;
use super::redo_copy;
use super::scan::OtherTotals;
use super::sink::FileMeta;
use super::stages::{Copied, End, Run, Stages};
use super::BackupError;
use crate::progress::{Cancel, Event};

/// A stopped server's datadir, or a filesystem snapshot.
pub(crate) struct Cold {
    cancel: Cancel,
}

impl Cold {
    /// Stages that stop at the next batch when `cancel` fires.
    pub(crate) fn new(cancel: &Cancel) -> Cold {
        Cold {
            cancel: cancel.clone(),
        }
    }
}

impl Stages for Cold {
    fn begin(&mut self, run: &mut Run<'_>) -> Result<Contents, BackupError> {
        let hot = run.plan.options().hot();
        if hot.slave_info() || hot.galera_info() || hot.safe_slave_backup() {
            run.progress.event(Event::Note {
                message: "cold backup: the replica's position and the Galera state are read \
                          from a running server; none is recorded",
            });
        }
        run.plan
            .contents()
            .cloned()
            .ok_or_else(|| BackupError::Inconsistent {
                what: format!("{}: the plan lists no files", run.plan.datadir().display()),
            })
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
            encryption: Vec::new(),
        })
    }

    fn fail(&mut self, e: BackupError) -> BackupError {
        e
    }
}
