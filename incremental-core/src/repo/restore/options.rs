//! The options of a restore from a repository.

use std::path::{Path, PathBuf};

use crate::codec::KeyFile;
#[cfg(feature = "hot")]
use crate::prepare::apply_redo::ApplyRedoOptions;

/// Options of [`Repository::restore`](crate::repo::Repository::restore):
/// `RestoreOptions::new(datadir)`, then setters.
///
/// ```
/// use incremental_core::repo::RestoreOptions;
/// let mut o = RestoreOptions::new("/var/lib/mysql-restored");
/// o.set_backup(Some("20261206-191017I".into())).set_parallel(8);
/// assert_eq!(o.backup(), Some("20261206-191017I"));
/// assert_eq!(o.parallel(), 8);
/// assert_eq!(o.staging_dir(), None);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RestoreOptions {
    datadir: PathBuf,
    backup: Option<String>,
    keys: Option<KeyFile>,
    #[cfg(feature = "hot")]
    apply_redo: Option<ApplyRedoOptions>,
    parallel: usize,
    staging_dir: Option<PathBuf>,
}

impl RestoreOptions {
    /// A restore into `datadir` (absent or empty) of the newest complete backup, with 4
    /// download threads, the redo left for the server's first start.
    pub fn new(datadir: impl Into<PathBuf>) -> RestoreOptions {
        RestoreOptions {
            datadir: datadir.into(),
            backup: None,
            keys: None,
            #[cfg(feature = "hot")]
            apply_redo: None,
            parallel: 4,
            staging_dir: None,
        }
    }

    /// The backup to restore, by id (`None`, the default: the newest complete backup whose
    /// chain is whole).
    pub fn set_backup(&mut self, id: Option<String>) -> &mut Self {
        self.backup = id;
        self
    }

    /// The age identities that decrypt an encrypted backup.
    pub fn set_keys(&mut self, keys: Option<KeyFile>) -> &mut Self {
        self.keys = keys;
        self
    }

    /// Run the server's crash recovery on the merged backup before it goes into the datadir
    /// (as `xb prepare --apply-redo`); `None` (the default): the server applies the redo on its
    /// first start.
    #[cfg(feature = "hot")]
    pub fn set_apply_redo(&mut self, opts: Option<ApplyRedoOptions>) -> &mut Self {
        self.apply_redo = opts;
        self
    }

    /// Download threads (and copy-back threads), at least 1 (default 4).
    pub fn set_parallel(&mut self, threads: usize) -> &mut Self {
        self.parallel = threads.max(1);
        self
    }

    /// Where the full backup is downloaded and merged before it is moved into the datadir
    /// (`None`, the default: `DATADIR.xb-restore` beside the datadir). On the datadir's file
    /// system, files are moved into the datadir, not copied.
    pub fn set_staging_dir(&mut self, dir: Option<PathBuf>) -> &mut Self {
        self.staging_dir = dir;
        self
    }

    /// The datadir restored into.
    pub fn datadir(&self) -> &Path {
        &self.datadir
    }

    /// The backup asked for ([`RestoreOptions::set_backup`]).
    pub fn backup(&self) -> Option<&str> {
        self.backup.as_deref()
    }

    /// The keys ([`RestoreOptions::set_keys`]).
    pub fn keys(&self) -> Option<&KeyFile> {
        self.keys.as_ref()
    }

    /// The apply-redo step asked for ([`RestoreOptions::set_apply_redo`]).
    #[cfg(feature = "hot")]
    pub fn apply_redo(&self) -> Option<&ApplyRedoOptions> {
        self.apply_redo.as_ref()
    }

    /// Download threads ([`RestoreOptions::set_parallel`]).
    pub fn parallel(&self) -> usize {
        self.parallel
    }

    /// The staging directory asked for ([`RestoreOptions::set_staging_dir`]).
    pub fn staging_dir(&self) -> Option<&Path> {
        self.staging_dir.as_deref()
    }
}
