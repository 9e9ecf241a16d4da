//! XtraBackup/mariabackup-compatible incremental backups.
//!
//! * [`delta`]: the `.delta` page-set format (streaming and seeking writers, streaming and
//!   random-access readers, a validating pass).
//! * [`meta`]: the `.meta` file beside each delta.
//! * [`checkpoints`]: `xtrabackup_checkpoints` (and `mariadb_backup_checkpoints`).
//! * [`info`]: the `xtrabackup_info` file.
//! * [`apply`]: the applier (`xb prepare`): merging incrementals into a base.
//! * [`backup`]: the backup engine (`xb backup`): full and incremental, by scan or bitmap.
//! * [`backup_info`]: `xb_backup_info`, xb's own metadata beside the XtraBackup files.
//! * [`progress`]: progress reports and cancellation for long operations.
//! * [`restore`]: copying a prepared backup into a datadir (`xb copy-back`).
//! * `recover` (feature `hot`): running the server's crash recovery on a prepared backup
//!   (`xb prepare --apply-redo`).
//! * `backup::hot` (feature `hot`): hot backups of a running MariaDB server.
//! * [`error`]: the error types of these formats.
#![deny(missing_docs)]

pub mod apply;
pub mod backup;
pub mod backup_info;
pub mod checkpoints;
pub mod delta;
pub mod error;
pub mod info;
#[cfg(feature = "test-support")]
pub mod load;
pub mod meta;
pub mod progress;
#[cfg(feature = "hot")]
pub mod recover;
pub mod restore;
#[cfg(feature = "test-support")]
pub mod sandbox;

pub use delta::PageSize;
pub use error::Error;
