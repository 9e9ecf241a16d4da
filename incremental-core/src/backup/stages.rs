//! The stages of a backup run, as a source (cold or hot) carries them out: `run.rs` drives
//! them in order, `cold.rs` and `hot/` implement them.
//!
//! 1. [`begin`](Stages::begin): get the source ready and say what to copy (hot: `BACKUP STAGE
//!    START`, the redo follower started at the server's checkpoint, the files listed and
//!    opened);
//! 2. the tablespaces (and a cold backup's other files) are copied, by the run;
//! 3. [`after_files`](Stages::after_files): hot: DDL run meanwhile, and the non-InnoDB
//!    files, under `BLOCK_DDL`;
//! 4. [`end`](Stages::end): the consistent point: hot: under `BLOCK_COMMIT`, the non-InnoDB
//!    files that can still have changed and the redo log up to the end LSN; cold: the redo
//!    log. Sends
//!    [`Event::ConsistentPoint`](crate::progress::Event::ConsistentPoint);
//! 5. the metadata files and the final sync, by the run (and the copies of `--extra-lsndir`);
//! 6. [`finished`](Stages::finished): hot: the row of the history table.
//!
//! [`fail`](Stages::fail) releases the source when a stage fails.

use super::contents::Contents;
use super::metadata::ServerCnf;
use super::plan::BackupPlan;
use super::redo_copy::RedoCopy;
use super::report::{HotReport, TablespaceReport};
use super::scan::OtherTotals;
use super::sink::Sink;
use super::BackupError;
use crate::format::info::Info;
use crate::progress::{Cancel, Progress};

/// What every stage works with.
pub(crate) struct Run<'a> {
    /// The plan being carried out.
    pub plan: &'a BackupPlan,
    /// The backup's files.
    pub sink: &'a mut dyn Sink,
    /// Progress events.
    pub progress: &'a dyn Progress,
}

/// The files copied so far.
#[derive(Debug, Default)]
pub(crate) struct Copied {
    /// Per tablespace.
    pub reports: Vec<TablespaceReport>,
    /// Non-InnoDB files.
    pub others: OtherTotals,
}

/// What the last stage gives the metadata and the report.
#[derive(Debug)]
pub(crate) struct End {
    /// Non-InnoDB files copied by this stage.
    pub others: OtherTotals,
    /// The redo log written.
    pub redo: RedoCopy,
    /// Seconds spent copying it.
    pub redo_seconds: f64,
    /// Extra `xtrabackup_info` keys.
    pub info: Vec<(String, String)>,
    /// Extra `xb_backup_info` keys.
    pub xb_info: Vec<(String, String)>,
    /// A hot backup's figures.
    pub hot: Option<HotReport>,
    /// The server's `innodb_data_file_path` (hot backups).
    pub data_file_path: Option<String>,
    /// The server's encryption settings for `backup-my.cnf` (hot backups of an encrypted
    /// server).
    pub encryption: Vec<(String, String)>,
    /// The server's variables for `backup-my.cnf` (hot backups).
    pub server_cnf: ServerCnf,
}

/// How a source carries out the stages of a run (see the module docs).
pub(crate) trait Stages {
    /// Gets the source ready; what to copy.
    fn begin(&mut self, run: &mut Run<'_>) -> Result<Contents, BackupError>;

    /// The token the file copies watch (the caller's, or one the source also fires when it
    /// fails).
    fn cancel(&self) -> &Cancel;

    /// After the tablespaces were copied.
    fn after_files(
        &mut self,
        run: &mut Run<'_>,
        contents: &Contents,
        copied: &mut Copied,
    ) -> Result<(), BackupError>;

    /// The consistent point: the rest of the files and the redo log.
    fn end(&mut self, run: &mut Run<'_>, contents: &Contents) -> Result<End, BackupError>;

    /// A stage failed with `e`: releases the source; returns the error to report (the
    /// source's own failure when it caused `e`).
    fn fail(&mut self, e: BackupError) -> BackupError;

    /// The backup is complete and synced, with this `xtrabackup_info`: hot: its row in the
    /// server's history table, when asked for.
    fn finished(&mut self, _info: &Info) -> Result<(), BackupError> {
        Ok(())
    }
}
