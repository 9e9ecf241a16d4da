//! Backup repositories: backups kept on a local path or an object store (S3 and S3-compatible
//! stores, Google Cloud Storage, Azure), each with a manifest written last, in chains that
//! xb bases, expires, verifies and restores by itself (`xb backup --repo`, `xb info`,
//! `xb expire`, `xb verify --repo`, `xb restore`).
//!
//! A repository holds **stanzas** (one per server backed up, as pgBackRest names them); a
//! stanza holds backups, each under its id. [`keys`](self) lists every object's name.
//!
//! * [`Store`]: the objects themselves, on a path or an object store.

mod backup;
mod catalog;
mod error;
mod expire;
mod hash;
mod keys;
mod lock;
mod manifest;
mod repository;
mod restore;
mod store;
mod verify;

pub use backup::{
    BaseChoice, RepoBackupOptions, RepoBackupPlan, RepoBackupReport, Resumed, BUNDLE_SIZE,
    DEFAULT_PART_SIZE, DEFAULT_UPLOAD_THREADS, SMALL_FILE,
};
pub use catalog::{BackupEntry, BackupType, Catalog, IncompleteEntry, VerifiedState};
pub use error::{Cause, RepoError};
pub use expire::{ExpirePolicy, ExpireReport, ExpiredBackup};
pub use repository::{Repository, DEFAULT_STANZA};
pub use restore::{RestoreOptions, RestoreReport};
pub use store::{ObjectInfo, ObjectReader, ObjectWriter, Store, StoreOptions};
pub use verify::{BackupCheck, RepoProblem, RepoVerifyOptions, RepoVerifyReport};
