//! XtraBackup/mariabackup-compatible incremental backups.
//!
//! * [`delta`]: the `.delta` page-set format (streaming and seeking writers, streaming and
//!   random-access readers, a validating pass).
//! * [`meta`]: the `.meta` file beside each delta.
//! * [`checkpoints`]: `xtrabackup_checkpoints` (and `mariadb_backup_checkpoints`).
//! * [`info`]: the `xtrabackup_info` file.
//! * [`error`]: the error types of these formats.
#![deny(missing_docs)]

pub mod checkpoints;
pub mod delta;
pub mod error;
pub mod info;
pub mod meta;
#[cfg(feature = "test-support")]
pub mod sandbox;

pub use delta::PageSize;
pub use error::Error;
