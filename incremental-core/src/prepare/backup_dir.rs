//! What the prepare reads of one backup directory: its checkpoints, `xb_backup_info`,
//! `xtrabackup_info`, and the LSNs the chain rules need.

use std::path::{Path, PathBuf};

use innodb_page::redo::file::log_file_path;
use innodb_page::Lsn;

use super::error::PrepareError;
use crate::format::backup_info::BackupInfo;
use crate::format::checkpoints::Checkpoints;
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
}

impl BackupDir {
    /// Reads the metadata of `dir`.
    pub fn read(dir: &Path) -> Result<BackupDir, PrepareError> {
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
        })
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
        innodb_page::redo::open(&log_file_path(&self.dir))
            .map(|log| log.checkpoint_lsn())
            .map_err(|source| PrepareError::RedoStart {
                dir: self.dir.clone(),
                source,
            })
    }
}
