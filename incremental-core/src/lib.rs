//! XtraBackup/mariabackup-compatible incremental backups.
//!
//! * [`delta`]: the `.delta` page-set format (streaming writer and reader).
//! * [`meta`]: the `.meta` file beside each delta.
//! * [`checkpoints`]: `xtrabackup_checkpoints` (and `mariadb_backup_checkpoints`).
//! * [`info`]: `xtrabackup_info`.
#![deny(missing_docs)]

pub mod checkpoints;
pub mod delta;
pub mod info;
pub mod meta;
#[cfg(feature = "test-support")]
pub mod sandbox;
