//! The backups of a prepare and the rules that link them: states, LSN chain, partial backups,
//! and the safety rule for merging without applying redo (refined in [`super::safety`]).

use std::path::{Path, PathBuf};

use innodb_page::Lsn;

use super::ApplyError;
use crate::backup_info::BackupInfo;
use crate::checkpoints::{BackupType, Checkpoints};
use crate::info::Info;

/// What the applier reads of one backup directory.
#[derive(Debug, Clone)]
pub(crate) struct Backup {
    /// The directory (canonical).
    pub dir: PathBuf,
    /// Its checkpoints.
    pub ckpt: Checkpoints,
    /// `xb_backup_info`, for backups taken by xb.
    pub xb: Option<BackupInfo>,
    /// `xtrabackup_info` / `mariadb_backup_info`, if present.
    pub info: Option<Info>,
}

impl Backup {
    /// Reads the metadata of `dir`.
    pub fn read(dir: &Path) -> Result<Backup, ApplyError> {
        let canon = std::fs::canonicalize(dir).map_err(|e| ApplyError::io(dir, e))?;
        let ckpt = Checkpoints::read_dir(&canon)?;
        let xb = BackupInfo::read_dir(&canon)?;
        let info = match crate::info::find(&canon) {
            Ok(p) => Some(Info::read_file(p)?),
            Err(_) => None,
        };
        Ok(Backup {
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

    /// Where the redo of this backup starts: `redo_start_lsn` of `xb_backup_info`, else the
    /// checkpoint LSN in the header of its `ib_logfile0`.
    pub fn redo_start_lsn(&self) -> Result<Lsn, ApplyError> {
        if let Some(xb) = &self.xb
            && xb.redo_start_lsn != Lsn::ZERO
        {
            return Ok(xb.redo_start_lsn);
        }
        innodb_page::redo::open(&self.dir.join("ib_logfile0"))
            .map(|log| log.checkpoint_lsn())
            .map_err(|source| ApplyError::RedoStart {
                dir: self.dir.clone(),
                source,
            })
    }
}

/// Checks the whole chain: the base's state, every incremental's state and `from_lsn`, partial
/// backups, and the safety rule for each link.
pub(crate) fn check(base: &Backup, incs: &[Backup]) -> Result<(), ApplyError> {
    match base.ckpt.backup_type {
        BackupType::FullBackuped | BackupType::LogApplied => {}
        BackupType::Incremental => {
            return Err(ApplyError::BaseState {
                dir: base.dir.clone(),
                found: BackupType::Incremental,
                why: "the target must be a full backup (give incrementals with --incremental-dir)",
            })
        }
        BackupType::FullPrepared => {
            return Err(ApplyError::BaseState {
                dir: base.dir.clone(),
                found: BackupType::FullPrepared,
                why: "it was prepared for good by XtraBackup (without --apply-log-only) and \
                      accepts no incremental; start again from an unprepared full backup",
            })
        }
    }
    if incs.is_empty() {
        return Ok(());
    }
    if let Some(why) = base.partial() {
        let why = if why.starts_with("partial") {
            "the target is a partial backup: merging incrementals into it would delete or miss \
             the tables it does not hold; merge only into a full backup of every table"
        } else {
            "the target was taken from a partial base; merge only into a full backup of every table"
        };
        return Err(ApplyError::Partial {
            dir: base.dir.clone(),
            why,
        });
    }
    let mut prev = base;
    for (k, inc) in incs.iter().enumerate() {
        if inc.ckpt.backup_type != BackupType::Incremental {
            return Err(ApplyError::NotIncremental {
                dir: inc.dir.clone(),
                found: inc.ckpt.backup_type,
            });
        }
        if inc.ckpt.from_lsn != prev.ckpt.to_lsn {
            if inc.ckpt.from_lsn < prev.ckpt.to_lsn && inc.ckpt.to_lsn <= prev.ckpt.to_lsn {
                return Err(ApplyError::AlreadyApplied {
                    inc: inc.dir.clone(),
                    base: prev.dir.clone(),
                    base_to_lsn: prev.ckpt.to_lsn,
                    inc_from_lsn: inc.ckpt.from_lsn,
                    inc_to_lsn: inc.ckpt.to_lsn,
                });
            }
            return Err(ApplyError::ChainBroken {
                base: prev.dir.clone(),
                base_to_lsn: prev.ckpt.to_lsn,
                inc: inc.dir.clone(),
                inc_from_lsn: inc.ckpt.from_lsn,
            });
        }
        if inc.partial().is_some() {
            return Err(ApplyError::Partial {
                dir: inc.dir.clone(),
                why: "partial incremental (or taken from a partial base): a tablespace without \
                      a delta means a dropped table, so merging it would delete the tables it \
                      left out; take incrementals of every table",
            });
        }
        let prepared = prev.ckpt.backup_type == BackupType::LogApplied;
        if !prepared {
            let start = prev.redo_start_lsn()?;
            let sel = inc.selection_lsn();
            if sel > start {
                // Exact refinement: the merge is still exact if every page the redo of `prev`
                // changes in (start, sel] is up to date anyway.
                super::safety::check_link(base, incs, k, start, sel)?;
            }
        }
        prev = inc;
    }
    Ok(())
}
