//! What a restore from a repository did.

use std::path::PathBuf;

use crate::copy_back::CopyBackReport;
use crate::prepare::PrepareReport;

/// What [`Repository::restore`](crate::repo::Repository::restore) did. With the `serde`
/// feature it serializes (the JSON of `xb restore --json`).
#[derive(Debug, Clone, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct RestoreReport {
    /// The backup restored.
    pub backup: String,
    /// Its chain, the full first, ending with it.
    pub chain: Vec<String>,
    /// The datadir restored into.
    pub datadir: PathBuf,
    /// The staging directory used (removed at the end).
    pub staging_dir: PathBuf,
    /// Stored bytes downloaded (objects fetched: the full's files and the incrementals'
    /// parts read).
    pub bytes_downloaded: u64,
    /// Files of the full backup downloaded.
    pub files_downloaded: u64,
    /// The merge of the incrementals into the full (the prepare).
    pub prepare: PrepareReport,
    /// Whether the server's crash recovery ran on the result (the apply-redo step).
    pub redo_applied: bool,
    /// The server's account of that recovery.
    pub recovery_notes: Vec<String>,
    /// The move of the result into the datadir.
    pub copy_back: CopyBackReport,
    /// How to start a server on the datadir.
    pub start_command: String,
    /// An interrupted restore of the same backup was found and finished.
    pub resumed: bool,
    /// Seconds taken.
    pub seconds: f64,
}
