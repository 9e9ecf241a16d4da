//! What a copy-back is asked: mariabackup's `--copy-back` options, with their names and
//! meaning.

use std::path::{Path, PathBuf};

/// How [`copy_back_with`](super::copy_back_with) restores: threads, moving instead of copying,
/// non-empty directories, and where the InnoDB and Aria files go when the server keeps them
/// outside its datadir.
///
/// Relative directories are taken relative to the datadir, as the server takes them.
///
/// ```
/// use incremental_core::copy_back::CopyBackOptions;
/// let mut o = CopyBackOptions::default();
/// o.set_parallel(4).set_innodb_undo_directory(Some("/srv/undo".into()));
/// assert_eq!(o.parallel(), 4);
/// assert!(!o.move_back());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CopyBackOptions {
    parallel: usize,
    no_sync: bool,
    move_back: bool,
    force_non_empty_directories: bool,
    data_home_dir: Option<PathBuf>,
    log_group_home_dir: Option<PathBuf>,
    undo_directory: Option<PathBuf>,
    aria_log_dir_path: Option<PathBuf>,
    data_file_path: Option<String>,
}

impl CopyBackOptions {
    /// Whether the restore waits until every file is on disk before it returns (default:
    /// yes). Off, it returns as mariabackup's copy-back does, with the files written back by
    /// the kernel later (within its dirty-page timeout, 30 s by default): a crash in that time
    /// can leave the restored datadir incomplete.
    pub fn set_sync(&mut self, on: bool) -> &mut Self {
        self.no_sync = !on;
        self
    }

    /// Whether the restore waits until the files are on disk.
    pub fn sync(&self) -> bool {
        !self.no_sync
    }

    /// Files copied at once (mariabackup's `--parallel`; 0 or 1: one at a time).
    pub fn set_parallel(&mut self, threads: usize) -> &mut Self {
        self.parallel = threads;
        self
    }

    /// Move the files instead of copying them (mariabackup's `--move-back`): a rename, or a
    /// copy and a removal when the backup is on another filesystem. The backup is used up.
    pub fn set_move_back(&mut self, on: bool) -> &mut Self {
        self.move_back = on;
        self
    }

    /// Restore into directories that already hold files (mariabackup's
    /// `--force-non-empty-directories`): only files that do not exist yet are written; a file
    /// of the backup that exists at its destination is an error naming it, before anything is
    /// written.
    pub fn set_force_non_empty_directories(&mut self, on: bool) -> &mut Self {
        self.force_non_empty_directories = on;
        self
    }

    /// Where the system tablespace files go (`innodb_data_home_dir`; default: the datadir).
    pub fn set_innodb_data_home_dir(&mut self, dir: Option<PathBuf>) -> &mut Self {
        self.data_home_dir = dir;
        self
    }

    /// The system tablespace's files of the restored server (`innodb_data_file_path`, e.g.
    /// `/srv/sys/ibdata1:12M;ibdata2:1M:autoextend`): each file of the backup of that name goes
    /// to that path (absolute, or relative to the data home directory). Default: the backup's
    /// `backup-my.cnf`, into the data home directory.
    pub fn set_innodb_data_file_path(&mut self, spec: Option<String>) -> &mut Self {
        self.data_file_path = spec.filter(|s| !s.trim().is_empty());
        self
    }

    /// Where the redo log goes (`innodb_log_group_home_dir`; default: the datadir).
    pub fn set_innodb_log_group_home_dir(&mut self, dir: Option<PathBuf>) -> &mut Self {
        self.log_group_home_dir = dir;
        self
    }

    /// Where the undo tablespaces go (`innodb_undo_directory`; default: the datadir).
    pub fn set_innodb_undo_directory(&mut self, dir: Option<PathBuf>) -> &mut Self {
        self.undo_directory = dir;
        self
    }

    /// Where the Aria log and its control file go (`aria_log_dir_path`; default: the
    /// datadir).
    pub fn set_aria_log_dir_path(&mut self, dir: Option<PathBuf>) -> &mut Self {
        self.aria_log_dir_path = dir;
        self
    }

    /// Files copied at once (at least 1).
    pub fn parallel(&self) -> usize {
        self.parallel.max(1)
    }

    /// Whether files are moved instead of copied.
    pub fn move_back(&self) -> bool {
        self.move_back
    }

    /// Whether non-empty directories are accepted.
    pub fn force_non_empty_directories(&self) -> bool {
        self.force_non_empty_directories
    }

    /// The system tablespace's directory, if not the datadir.
    pub fn innodb_data_home_dir(&self) -> Option<&Path> {
        self.data_home_dir.as_deref()
    }

    /// The restored server's `innodb_data_file_path`, when given.
    pub fn innodb_data_file_path(&self) -> Option<&str> {
        self.data_file_path.as_deref()
    }

    /// The redo log's directory, if not the datadir.
    pub fn innodb_log_group_home_dir(&self) -> Option<&Path> {
        self.log_group_home_dir.as_deref()
    }

    /// The undo tablespaces' directory, if not the datadir.
    pub fn innodb_undo_directory(&self) -> Option<&Path> {
        self.undo_directory.as_deref()
    }

    /// The Aria log's directory, if not the datadir.
    pub fn aria_log_dir_path(&self) -> Option<&Path> {
        self.aria_log_dir_path.as_deref()
    }
}
