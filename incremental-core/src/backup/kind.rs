//! Full or incremental: from which LSN an incremental copies pages, read from its base.

use innodb_page::redo::file::log_file_path;
use std::path::{Path, PathBuf};

use innodb_page::Lsn;

use super::contents::PlanNote;
use super::options::{BackupOptions, Incremental};
use super::BackupError;
use crate::format::backup_info::BackupInfo;
use crate::format::backup_my_cnf::ServerSettings;
use crate::format::checkpoints::{BackupType, Checkpoints};
use crate::format::info::Info;

/// Full or incremental, with the LSNs that decide it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BackupKind {
    /// A full backup.
    Full,
    /// An incremental backup.
    #[non_exhaustive]
    Incremental {
        /// `from_lsn` written to `xtrabackup_checkpoints` (the base's `to_lsn`).
        from_lsn: Lsn,
        /// Pages with an LSN at or above this are copied.
        threshold: Lsn,
        /// The base directory (`None` when the start LSN was given).
        base: Option<PathBuf>,
        /// The base was a partial backup.
        base_partial: bool,
        /// The base's `backup_id` (`xb_backup_info`), recorded as this backup's
        /// `base_backup_id`; empty when the base has none (or the start LSN was given).
        base_backup_id: String,
        /// How the threshold was chosen.
        why: String,
    },
}

/// The base's `to_lsn`, the threshold, whether it is partial, and why that threshold.
fn base_threshold(base: &Path) -> Result<(Lsn, Lsn, bool, String), BackupError> {
    let cps = Checkpoints::read_dir(base)?;
    let to = cps.to_lsn;
    let xb = BackupInfo::read_dir(base)?;
    let info = Info::read_dir(base).ok();
    let partial_info = info
        .as_ref()
        .and_then(|i| i.partial().ok().flatten())
        .unwrap_or(false);
    let partial = xb.as_ref().is_some_and(|i| i.partial) || partial_info;
    if matches!(
        cps.backup_type,
        BackupType::LogApplied | BackupType::FullPrepared
    ) {
        let why = format!("base is prepared ({}): its to_lsn {to}", cps.backup_type);
        return Ok((to, to, partial, why));
    }
    let info_start = || {
        let lsn = info
            .as_ref()?
            .get_lsn(super::metadata::REDO_START_KEY)
            .ok()??;
        Some((lsn, "xtrabackup_info xb_redo_start_lsn"))
    };
    let redo_start = match &xb {
        Some(i) => Some((i.redo_start_lsn, "xb_backup_info redo_start_lsn")),
        None => innodb_page::redo::open(&log_file_path(base))
            .ok()
            .map(|l| (l.checkpoint_lsn(), "checkpoint in its ib_logfile0"))
            .or_else(info_start),
    };
    let Some((start, whence)) = redo_start else {
        return Err(BackupError::BaseRedoStartUnknown {
            path: base.to_path_buf(),
        });
    };
    let why = format!("lower of the base's to_lsn {to} and its redo start {start} ({whence})");
    Ok((to, to.min(start), partial, why))
}

/// The identity of the base's present state (empty for a base without one, or whose
/// `xb_backup_info` no longer describes it: [`BackupInfo::current_id`]).
fn base_id(base: &Path) -> Result<String, BackupError> {
    let Some(info) = BackupInfo::read_dir(base)? else {
        return Ok(String::new());
    };
    let ckpt = Checkpoints::read_dir(base)?;
    Ok(info.current_id(&ckpt).unwrap_or_default().to_string())
}

/// Full or incremental, from the options (reading the base), with the notes it gives.
///
/// An incremental from the server's history table starts at LSN 0 here (every page: never
/// too few) until [`from_history`] sets the LSN the server's table gives.
pub(crate) fn plan_kind(
    options: &BackupOptions,
) -> Result<(BackupKind, Vec<PlanNote>), BackupError> {
    let kind = match options.incremental() {
        None => BackupKind::Full,
        Some(Incremental::HistoryName(_) | Incremental::HistoryUuid(_)) => {
            from_history(Lsn::ZERO, "the server's backup history".into())
        }
        Some(Incremental::Lsn(n)) => BackupKind::Incremental {
            from_lsn: *n,
            threshold: *n,
            base: None,
            base_partial: false,
            base_backup_id: String::new(),
            why: format!("--incremental-lsn {n}"),
        },
        Some(Incremental::Basedir(b)) => {
            let (from_lsn, threshold, base_partial, why) = base_threshold(b)?;
            if base_partial && !options.accept_partial_base() {
                return Err(BackupError::PartialBase { path: b.clone() });
            }
            let notes = match base_partial {
                true => vec![PlanNote::PartialBaseAccepted { base: b.clone() }],
                false => Vec::new(),
            };
            let kind = BackupKind::Incremental {
                from_lsn,
                threshold,
                base: Some(b.clone()),
                base_partial,
                base_backup_id: base_id(b)?,
                why,
            };
            return Ok((kind, notes));
        }
    };
    Ok((kind, Vec::new()))
}

/// An incremental from `lsn`, the `innodb_to_lsn` of a backup in the server's history table.
pub(crate) fn from_history(lsn: Lsn, why: String) -> BackupKind {
    BackupKind::Incremental {
        from_lsn: lsn,
        threshold: lsn,
        base: None,
        base_partial: false,
        base_backup_id: String::new(),
        why,
    }
}

/// Refuses an incremental of a source whose number of undo tablespaces (`now`) is not the
/// one its base recorded (`innodb_undo_tablespaces` of the base's `backup-my.cnf`, as mariabackup writes it): the server
/// was restarted with another `innodb_undo_tablespaces`, which recreates the undo tablespaces
/// under new space ids, so the base's undo files and the incremental's deltas would not
/// belong together. A base without that record (none, or not a directory) is not checked.
pub(crate) fn check_undo(kind: &BackupKind, now: usize) -> Result<(), BackupError> {
    let BackupKind::Incremental { base: Some(b), .. } = kind else {
        return Ok(());
    };
    let settings = ServerSettings::read_dir(b)?;
    match settings.undo_tablespaces {
        Some(recorded) if recorded as usize != now => Err(BackupError::UndoTablespacesChanged {
            base: b.clone(),
            recorded,
            now,
        }),
        _ => Ok(()),
    }
}

/// Refuses an incremental whose start is after the source's checkpoint.
pub(crate) fn check_start(
    kind: &BackupKind,
    dd: &Path,
    checkpoint: Lsn,
) -> Result<(), BackupError> {
    let BackupKind::Incremental { from_lsn, base, .. } = kind else {
        return Ok(());
    };
    if *from_lsn <= checkpoint {
        return Ok(());
    }
    Err(match base {
        None => BackupError::StartAfterCheckpoint {
            path: dd.to_path_buf(),
            lsn: *from_lsn,
            checkpoint,
        },
        Some(b) => BackupError::Base {
            path: b.clone(),
            what: format!(
                "the base ends at LSN {from_lsn}, after this datadir's checkpoint \
                 {checkpoint}: the base is not an earlier backup of this datadir"
            ),
        },
    })
}
