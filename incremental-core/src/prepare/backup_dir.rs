//! What the prepare reads of one backup directory: its checkpoints, `xb_backup_info`,
//! `xtrabackup_info`, and the LSNs the chain rules need.

use std::path::{Path, PathBuf};

use innodb_page::redo::file::log_file_path;
use innodb_page::Lsn;

use super::error::PrepareError;
use super::files::Listing;
use super::input::Inputs;
use crate::format::backup_info::{self, BackupInfo};
use crate::format::checkpoints::{self, Checkpoints};
use crate::format::error::Error;
use crate::format::info::{self, Info};

/// The metadata of one backup directory of a chain.
#[derive(Debug, Clone)]
pub(crate) struct BackupDir {
    /// The directory (canonical).
    pub dir: PathBuf,
    /// Its checkpoints.
    pub ckpt: Checkpoints,
    /// `xb_backup_info`, for backups taken by xb.
    pub xb: Option<BackupInfo>,
    /// `xtrabackup_info` / `mariadb_backup_info`, if present.
    pub info: Option<Info>,
    /// Where its files are read from (`dir` may be a stream file: [`Inputs`]).
    pub inputs: Inputs,
}

impl BackupDir {
    /// Reads the metadata of `dir` (canonical), a directory or a stream of `inputs`.
    pub fn read(inputs: &Inputs, dir: &Path) -> Result<BackupDir, PrepareError> {
        if inputs.stream(dir).is_some() {
            return BackupDir::read_stream(inputs, dir);
        }
        let canon = std::fs::canonicalize(dir).map_err(|e| PrepareError::io(dir, e))?;
        let ckpt = Checkpoints::read_dir(&canon)?;
        let xb = BackupInfo::read_dir(&canon)?;
        let info = match info::find(&canon) {
            Ok(p) => Some(Info::read_file(p)?),
            Err(_) => None,
        };
        Ok(BackupDir {
            dir: canon,
            ckpt,
            xb,
            info,
            inputs: inputs.clone(),
        })
    }

    /// [`BackupDir::read`] of a stream: the same files, read from the stream.
    fn read_stream(inputs: &Inputs, dir: &Path) -> Result<BackupDir, PrepareError> {
        let first =
            |names: &'static [&'static str]| -> Result<Option<(PathBuf, Vec<u8>)>, PrepareError> {
                for n in names {
                    let p = dir.join(n);
                    if let Some(b) = inputs.read_opt(&p)? {
                        return Ok(Some((p, b)));
                    }
                }
                Ok(None)
            };
        let (path, bytes) = first(checkpoints::FILE_NAMES)?.ok_or_else(|| Error::NotFound {
            dir: dir.to_path_buf(),
            names: checkpoints::FILE_NAMES,
        })?;
        let ckpt =
            Checkpoints::parse(&bytes).map_err(|source| Error::Checkpoints { path, source })?;
        let xb = match first(&[backup_info::FILE_NAME])? {
            Some((path, b)) => {
                Some(BackupInfo::parse(&b).map_err(|source| Error::Info { path, source })?)
            }
            None => None,
        };
        let info = match first(info::FILE_NAMES)? {
            Some((path, b)) => {
                Some(Info::parse(&b).map_err(|source| Error::Info { path, source })?)
            }
            None => None,
        };
        Ok(BackupDir {
            dir: dir.to_path_buf(),
            ckpt,
            xb,
            info,
            inputs: inputs.clone(),
        })
    }

    /// Lists its files ([`Inputs::list`]).
    pub fn list(&self) -> Result<Listing, PrepareError> {
        self.inputs.list(&self.dir)
    }

    /// A directory holding its `ib_logfile0` (and `backup-my.cnf`) as files: the backup's own
    /// directory, or for a stream a private copy of those two files.
    pub fn log_dir(&self) -> Result<PathBuf, PrepareError> {
        match self.inputs.stream(&self.dir) {
            Some(s) => s.log_dir().map(Path::to_path_buf),
            None => Ok(self.dir.clone()),
        }
    }

    /// Whether this backup holds only some tables, or was taken from a partial base.
    pub fn partial(&self) -> Option<&'static str> {
        if let Some(xb) = &self.xb {
            if xb.partial {
                return Some("partial backup (only some tables)");
            }
            if xb.base_partial {
                return Some("incremental taken from a partial base");
            }
        }
        match self.info.as_ref().map(|i| i.partial()) {
            Some(Ok(Some(true))) => Some("partial backup (only some tables)"),
            _ => None,
        }
    }

    /// The LSN from which the pages of this incremental were selected: `selection_lsn` of
    /// `xb_backup_info`, else `from_lsn` (mariabackup copies pages with an LSN above it).
    pub fn selection_lsn(&self) -> Lsn {
        match &self.xb {
            Some(xb) if xb.incremental => xb.selection_lsn,
            _ => self.ckpt.from_lsn,
        }
    }

    /// This backup's identity (`backup_id` of `xb_backup_info`), when that file describes its
    /// present state ([`BackupInfo::current_id`]).
    pub fn backup_id(&self) -> Option<&str> {
        self.xb.as_ref()?.current_id(&self.ckpt)
    }

    /// The `backup_id` of the base this incremental was taken from, when it records one.
    pub fn base_backup_id(&self) -> Option<&str> {
        let xb = self.xb.as_ref().filter(|xb| xb.incremental)?;
        (!xb.base_backup_id.is_empty()).then_some(xb.base_backup_id.as_str())
    }

    /// `start_time` and `end_time` of `xtrabackup_info`, when both are there.
    pub fn times(&self) -> Option<(&str, &str)> {
        let info = self.info.as_ref()?;
        Some((info.get("start_time")?, info.get("end_time")?))
    }

    /// Where the redo of this backup starts: `redo_start_lsn` of `xb_backup_info`, else the
    /// checkpoint LSN in the header of its `ib_logfile0`.
    pub fn redo_start_lsn(&self) -> Result<Lsn, PrepareError> {
        if let Some(xb) = &self.xb
            && xb.redo_start_lsn != Lsn::ZERO
        {
            return Ok(xb.redo_start_lsn);
        }
        innodb_page::redo::open(&log_file_path(&self.log_dir()?))
            .map(|log| log.checkpoint_lsn())
            .map_err(|source| PrepareError::RedoStart {
                dir: self.dir.clone(),
                source,
            })
    }
}
