#![doc = include_str!("../README.md")]
//!
//! # Modules
//!
//! * [`backup`]: the backup engine (`xb backup`): full and incremental, by scan or bitmap,
//!   cold or hot (feature `hot`: a running MariaDB server), written through a [`Sink`].
//! * [`prepare`]: merging a chain of incrementals into its full backup in one pass
//!   (`xb prepare`); with the feature `hot`, `prepare::apply_redo` runs the server's crash
//!   recovery on the result (`xb prepare --apply-redo`).
//! * [`copy_back`](mod@copy_back): restoring a prepared backup into an empty datadir
//!   (`xb copy-back`).
//! * [`codec`]: per-file compression (zstd, LZ4) and encryption (age) of backups, both ways.
//! * [`verify`]: checking a backup chain without changing it (`xb verify` on backups).
//! * [`format`](mod@format): every file of a backup directory, read and written.
//! * [`key_options`]: the `file_key_management` settings of a server found without a
//!   connection (given, or from its option files).
//! * [`source`]: where the files of a backup are read from.
//! * [`xbstream`]: the xbstream stream format both ways (`mbstream`'s), its extraction, and a
//!   sink that streams a backup.
//! * [`repo`]: backup repositories on a local path or an object store: catalog, automatic
//!   chains, expiry, verify, one-command restore.
//! * [`progress`]: progress reports and cancellation (the one trait of every crate of xb).
#![deny(missing_docs)]

pub mod backup;
pub mod codec;
pub mod copy_back;
pub mod encryption;
pub mod format;
pub mod key_options;
pub mod prepare;
pub mod progress;
mod remedy;
pub mod repo;
#[cfg(feature = "serde")]
mod serialize;
pub mod source;
pub mod verify;
pub mod xbstream;

pub use backup::sink::{DirSink, FileMeta, Sink};
pub use backup::{
    BackupError, BackupOptions, BackupPlan, BackupReport, ConnectOptions, Filter, HotOptions,
    Incremental,
};
pub use copy_back::{copy_back, copy_back_with, CopyBackError, CopyBackOptions, CopyBackReport};
pub use format::delta::PageSize;
pub use format::error::Error;
pub use innodb_page::Lsn;
pub use prepare::{PrepareError, PrepareOptions, PreparePlan, PrepareReport};
pub use remedy::Remedy;
pub use source::{BackupSource, DirSource};
pub use verify::{verify_chain, ChainReport, VerifyError};
