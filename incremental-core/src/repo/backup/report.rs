//! [`RepoBackupReport`]: what a backup into a repository did.

use crate::backup::BackupReport;

/// What became of an interrupted attempt found in the stanza.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct Resumed {
    /// The interrupted attempt's id.
    pub id: String,
    /// Its objects were kept and reused (the same id continues it): same kind, parent and
    /// encoding. `false`: they were deleted and a new id is used.
    pub continued: bool,
    /// Why, in words.
    pub why: String,
    /// Objects already stored and kept (their keys name the same plain bytes, with the size
    /// the encoding gives).
    pub kept_objects: u64,
    /// Their stored bytes.
    pub kept_bytes: u64,
    /// Objects deleted: the attempt's own when it was not continued, else those the new
    /// manifest does not reference.
    pub deleted_objects: u64,
}

/// Why the backup is full or incremental.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case", tag = "kind"))]
#[non_exhaustive]
pub enum BaseChoice {
    /// A full backup was asked for (`--type=full`).
    Forced,
    /// The stanza holds no complete backup with a whole chain.
    NoBackup,
    /// An incremental on the stanza's newest complete backup.
    Newest {
        /// The base's id.
        id: String,
    },
}

/// The result of [`Repository::backup`](super::super::Repository::backup).
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct RepoBackupReport {
    /// The backup's id in the stanza.
    pub id: String,
    /// The backup it is an incremental of (`None`: a full).
    pub parent: Option<String>,
    /// Why full or incremental.
    pub base: BaseChoice,
    /// Whether the base's tablespace names could be read (an encrypted base read with
    /// recipients only cannot be: a hot incremental then treats a table renamed since the
    /// base as a new one). Always `true` for a full.
    pub base_names: bool,
    /// An interrupted attempt found in the stanza, and what became of it.
    pub resumed: Option<Resumed>,
    /// What the backup engine did.
    pub backup: BackupReport,
    /// Files in the backup.
    pub files: u64,
    /// Files stored in bundles.
    pub bundled_files: u64,
    /// Their plain bytes.
    pub plain_bytes: u64,
    /// Bytes stored (encoded), objects of the manifest only.
    pub stored_bytes: u64,
    /// Objects uploaded by this run (parts and bundles).
    pub objects_uploaded: u64,
    /// Objects of an interrupted attempt kept.
    pub objects_kept: u64,
    /// Seconds the upload threads spent storing objects (summed over the threads).
    pub upload_seconds: f64,
    /// Wall-clock seconds of the whole run.
    pub seconds: f64,
}
