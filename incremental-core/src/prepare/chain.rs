//! The rules that link the backups of a prepare: states, LSN chain, partial backups, and the
//! safety rule for merging without applying redo (refined in [`super::safety`]).

use super::backup_dir::BackupDir;
use super::error::PrepareError;
use super::{order, safety};
use crate::format::checkpoints::BackupType;

/// Checks the whole chain: the base's state, every incremental's state and `from_lsn`, partial
/// backups (unless `accept_partial`), and the safety rule for each link.
pub(crate) fn check(
    base: &BackupDir,
    incs: &[BackupDir],
    accept_partial: bool,
) -> Result<(), PrepareError> {
    if incs.is_empty() {
        // Only its own DDL files to process: a backup prepared for good has none left (as
        // mariabackup, whose `--prepare` of it does nothing: MDEV-33023).
        if base.ckpt.backup_type == BackupType::FullPrepared {
            return Ok(());
        }
        return check_base_state(base);
    }
    check_base_state(base)?;
    if !accept_partial {
        check_base_whole(base)?;
    }
    let mut prev = base;
    for (k, inc) in incs.iter().enumerate() {
        check_follows(prev, inc)?;
        if !accept_partial {
            check_inc_whole(inc)?;
        }
        if prev.ckpt.backup_type != BackupType::LogApplied {
            let start = prev.redo_start_lsn()?;
            let sel = inc.selection_lsn();
            if sel > start {
                // Exact refinement: the merge is still exact if every page the redo of `prev`
                // changes in (start, sel] is up to date anyway.
                safety::check_link(base, incs, k, start, sel)?;
            }
        }
        prev = inc;
    }
    Ok(())
}

/// The target is a full backup that still accepts incrementals.
fn check_base_state(base: &BackupDir) -> Result<(), PrepareError> {
    let why = match base.ckpt.backup_type {
        BackupType::FullBackuped | BackupType::LogApplied => return Ok(()),
        BackupType::Incremental => "the target must be a full backup",
        BackupType::FullPrepared => {
            "it was prepared for good (by XtraBackup without --apply-log-only, or a server \
             rolled back or exported its tables) and accepts no incremental; start again from \
             an unprepared full backup"
        }
    };
    Err(PrepareError::BaseState {
        dir: base.dir.clone(),
        found: base.ckpt.backup_type,
        why,
    })
}

/// The target holds every table (merging into a partial backup would lose tables).
fn check_base_whole(base: &BackupDir) -> Result<(), PrepareError> {
    let Some(why) = base.partial() else {
        return Ok(());
    };
    let why = if why.starts_with("partial") {
        "the target is a partial backup: merging incrementals into it would delete or miss the \
         tables it does not hold; merge only into a full backup of every table"
    } else {
        "the target was taken from a partial base; merge only into a full backup of every table"
    };
    Err(PrepareError::Partial {
        dir: base.dir.clone(),
        why,
    })
}

/// `inc` is a whole incremental whose `from_lsn` is the `to_lsn` of `prev`.
fn check_follows(prev: &BackupDir, inc: &BackupDir) -> Result<(), PrepareError> {
    if inc.ckpt.backup_type != BackupType::Incremental {
        return Err(PrepareError::NotIncremental {
            dir: inc.dir.clone(),
            found: inc.ckpt.backup_type,
        });
    }
    let (from, to) = (inc.ckpt.from_lsn, inc.ckpt.to_lsn);
    let prev_to = prev.ckpt.to_lsn;
    if from < prev_to && to <= prev_to {
        return Err(PrepareError::AlreadyApplied {
            inc: inc.dir.clone(),
            base: prev.dir.clone(),
            base_to_lsn: prev_to,
            inc_from_lsn: from,
            inc_to_lsn: to,
        });
    }
    if from != prev_to {
        return Err(PrepareError::ChainBroken {
            base: prev.dir.clone(),
            base_to_lsn: prev_to,
            inc: inc.dir.clone(),
            inc_from_lsn: from,
        });
    }
    order::check_next(prev, inc)
}

/// The incremental holds every table (a tablespace without a delta means a dropped table).
fn check_inc_whole(inc: &BackupDir) -> Result<(), PrepareError> {
    if inc.partial().is_some() {
        return Err(PrepareError::Partial {
            dir: inc.dir.clone(),
            why: "partial incremental (or taken from a partial base): a tablespace without a \
                  delta means a dropped table, so merging it would delete the tables it left \
                  out; take incrementals of every table",
        });
    }
    Ok(())
}

/// The target already holds exactly the chain `incs` (a prepare merged it): the incrementals
/// follow each other, the newest one's `to_lsn` and `last_lsn` (where its redo copy ended) are
/// the target's, and where both record an identity, the target's is the newest one's. (Equal
/// LSNs alone, as when no checkpoint ran between the backups, mean the same end state.)
pub(crate) fn holds(base: &BackupDir, incs: &[BackupDir]) -> bool {
    let Some(newest) = incs.last() else {
        return false;
    };
    let incrementals = incs
        .iter()
        .all(|i| i.ckpt.backup_type == BackupType::Incremental);
    let linked = incs
        .windows(2)
        .all(|w| w[1].ckpt.from_lsn == w[0].ckpt.to_lsn);
    let same_id = match (base.backup_id(), newest.backup_id()) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    };
    base.ckpt.backup_type != BackupType::Incremental
        && incrementals
        && linked
        && same_id
        && incs[0].ckpt.from_lsn <= base.ckpt.to_lsn
        && newest.ckpt.to_lsn == base.ckpt.to_lsn
        && newest.ckpt.last_lsn == base.ckpt.last_lsn
}
