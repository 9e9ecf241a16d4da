//! Every file of a backup directory, read and written: nothing here runs a backup, a prepare
//! or a restore (the engines in [`backup`](crate::backup), [`prepare`](crate::prepare) and
//! [`copy_back`](mod@crate::copy_back) use these).
//!
//! | file | module |
//! | --- | --- |
//! | `X.ibd.delta` (pages changed since the base) | [`delta`] |
//! | `X.ibd.meta` (page size and space id of a delta) | [`meta`] |
//! | `xtrabackup_checkpoints` (backup type and LSNs) | [`checkpoints`] |
//! | `xtrabackup_info` (what the backup was) | [`info`] |
//! | `xb_backup_info` (xb's own metadata) | [`backup_info`] |
//! | `backup-my.cnf` (the server settings a restore needs) | [`backup_my_cnf`] |
//! | `innodb_corrupted_pages` (pages recorded as corrupt) | [`corrupted_pages`] |
//! | `X.new`, `X.ren`, `X.del` (DDL during a hot backup) | [`ddl_files`] |
//!
//! [`option_file`] reads MariaDB's option-file syntax (`backup-my.cnf`, and the `my.cnf`
//! files a client reads its connection settings from); [`Dialect`] says which tool's flavour
//! of the shared files a writer produces; [`error`] holds the errors of these formats.

pub mod backup_info;
pub mod backup_my_cnf;
pub mod checkpoints;
pub mod corrupted_pages;
pub mod ddl_files;
pub mod delta;
mod dialect;
pub mod error;
pub mod info;
pub mod meta;
pub mod option_file;

pub use dialect::Dialect;
