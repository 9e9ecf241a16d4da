//! Which tool's flavour of the shared files a writer produces.

/// The tool whose layout a written file follows. The readers accept every dialect; the
/// writers need to know which keys and spellings to produce:
///
/// | dialect | `xtrabackup_checkpoints` | `xtrabackup_info` key order | `.meta` |
/// | --- | --- | --- | --- |
/// | [`MariaDb`](Dialect::MariaDb) | `recover_binlog_info` | mariabackup 10.11's | `zip_size = N ` (trailing space), no `space_flags` |
/// | [`Pxb24`](Dialect::Pxb24) | `compact`, `recover_binlog_info`, `flushed_lsn` | XtraBackup 2.4's | `space_flags` |
/// | [`Pxb80`](Dialect::Pxb80) | `flushed_lsn` | XtraBackup 8.0's | `space_flags` |
/// | [`Pxb80Redo`](Dialect::Pxb80Redo) | `flushed_lsn`, `redo_memory`, `redo_frames` | XtraBackup 8.0's | `space_flags` |
///
/// ```
/// use incremental_core::format::Dialect;
/// assert!(Dialect::Pxb80Redo.is_xtrabackup() && !Dialect::MariaDb.is_xtrabackup());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Dialect {
    /// mariabackup 10.5+ (10.11).
    MariaDb,
    /// Percona XtraBackup 2.4.
    Pxb24,
    /// Percona XtraBackup 8.0 before 8.0.30.
    Pxb80,
    /// Percona XtraBackup 8.0.30 and later, 8.4 (the redo log in `#innodb_redo`).
    Pxb80Redo,
}

impl Dialect {
    /// True for Percona XtraBackup's dialects.
    pub fn is_xtrabackup(self) -> bool {
        !matches!(self, Dialect::MariaDb)
    }
}
