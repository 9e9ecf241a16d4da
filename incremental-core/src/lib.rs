//! XtraBackup/mariabackup-compatible incremental backups.
//!
//! * [`delta`]: the `.delta` page-set format (streaming and seeking writers, streaming and
//!   random-access readers, a validating pass).
//! * [`meta`]: the `.meta` file beside each delta.
//! * [`checkpoints`]: `xtrabackup_checkpoints` (and `mariadb_backup_checkpoints`).
//! * [`info`]: the `xtrabackup_info` file.
//! * [`prepare`]: the prepare (`xb prepare`): merging incrementals into a base; with the
//!   feature `hot`, `prepare::apply_redo` runs the server's crash recovery on a prepared
//!   backup (`xb prepare --apply-redo`).
//! * [`backup`]: the backup engine (`xb backup`): full and incremental, by scan or bitmap.
//!   Hot backups of a running MariaDB server need the `hot` feature (on by default).
//! * [`backup_info`]: `xb_backup_info`, xb's own metadata beside the XtraBackup files.
//! * [`progress`]: progress reports and cancellation for long operations.
//! * [`copy_back`]: copying a prepared backup into a datadir (`xb copy-back`).
//! * [`verify`]: checking a backup chain without changing it (`xb verify` on backups).
//! * [`source`]: where the files of a backup are read from (a directory today).
//! * [`error`]: the error types of these formats.
#![deny(missing_docs)]

pub mod backup;
pub mod copy_back;
pub mod format;
pub mod progress;
pub mod prepare;
mod remedy;
#[cfg(feature = "serde")]
mod serialize;
pub mod source;
pub mod verify;

pub use format::delta::PageSize;
pub use format::error::Error;
pub use copy_back::{copy_back, CopyBackError, CopyBackReport};
pub use prepare::{Plan, PrepareError, PrepareOptions, PrepareReport};
pub use remedy::Remedy;
pub use source::{BackupSource, DirSource};
pub use verify::{verify_chain, ChainReport};
