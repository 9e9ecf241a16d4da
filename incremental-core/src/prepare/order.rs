//! Which backup an incremental follows: the one rule that orders a chain beyond `from_lsn`
//! = previous `to_lsn` ([`super::chain`]). The prepare applies it while planning, and the chain
//! verify runs that planning as a dry run, so both decide alike.
//!
//! `from_lsn`/`to_lsn` alone cannot order two incrementals taken with no checkpoint between
//! them: both have `from_lsn` = `to_lsn` = the base's `to_lsn`, and any order of them passes the
//! LSN chain, the last one given winning. So an incremental `inc` given after `prev` must also:
//!
//! 1. when both carry identities (backups taken by xb): have been taken from `prev`, its
//!    `base_backup_id` equal to `prev`'s `backup_id`. That decides, either way;
//! 2. otherwise (mariabackup's backups, or xb's without ids): end no earlier than `prev`
//!    (`last_lsn`: the redo a backup copied never ends before that of an earlier one); and
//!    when both cover exactly the same LSNs (`from_lsn`, `to_lsn`, `last_lsn` equal, `prev` an
//!    incremental), be the one taken later by the times of `xtrabackup_info` (`prev` ended
//!    before `inc` started, in different seconds). If even the times cannot tell, the order is
//!    ambiguous and refused.

use super::backup_dir::BackupDir;
use super::error::PrepareError;
use crate::format::checkpoints::BackupType;

/// Checks that `inc` (whose `from_lsn` is `prev`'s `to_lsn`) was taken after `prev`, from it.
pub(crate) fn check_next(prev: &BackupDir, inc: &BackupDir) -> Result<(), PrepareError> {
    if let (Some(prev_id), Some(base_id)) = (prev.backup_id(), inc.base_backup_id()) {
        if prev_id == base_id {
            return Ok(());
        }
        return Err(PrepareError::WrongBase {
            inc: inc.dir.clone(),
            base_backup_id: base_id.to_string(),
            prev: prev.dir.clone(),
            prev_backup_id: prev_id.to_string(),
        });
    }
    let (p, i) = (&prev.ckpt, &inc.ckpt);
    if i.last_lsn < p.last_lsn {
        return Err(PrepareError::OutOfOrder {
            inc: inc.dir.clone(),
            inc_last_lsn: i.last_lsn,
            prev: prev.dir.clone(),
            prev_last_lsn: p.last_lsn,
        });
    }
    let same_lsns = prev.ckpt.backup_type == BackupType::Incremental
        && (p.from_lsn, p.to_lsn, p.last_lsn) == (i.from_lsn, i.to_lsn, i.last_lsn);
    if same_lsns && !taken_after(prev, inc) {
        return Err(PrepareError::Unordered {
            prev: prev.dir.clone(),
            inc: inc.dir.clone(),
            to_lsn: i.to_lsn,
            last_lsn: i.last_lsn,
        });
    }
    Ok(())
}

/// `inc` started after `prev` ended, by the times of their `xtrabackup_info` (both written
/// `YYYY-MM-DD HH:MM:SS`, which compare as text), in a later second than `prev` started.
fn taken_after(prev: &BackupDir, inc: &BackupDir) -> bool {
    let (Some((p_start, p_end)), Some((i_start, _))) = (prev.times(), inc.times()) else {
        return false;
    };
    let well_formed = |t: &str| t.len() == 19 && t.as_bytes()[4] == b'-';
    [p_start, p_end, i_start].into_iter().all(well_formed) && p_end <= i_start && p_start < i_start
}
