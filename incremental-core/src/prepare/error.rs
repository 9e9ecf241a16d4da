//! The errors of the prepare.

use std::io;
use std::path::PathBuf;

use innodb_page::Lsn;
use thiserror::Error;

use crate::format::checkpoints::BackupType;
use crate::Remedy;

/// Everything that can stop a prepare.
///
/// Every variant names the file or directory concerned and says what is wrong. Where there is a
/// way out that a front end words in its own terms, [`PrepareError::remedy`] returns it and the
/// message leaves it out. Errors found while planning leave the target untouched; errors while
/// executing leave a journal behind, and running the same prepare again resumes it.
///
/// ```
/// use incremental_core::prepare::PrepareError;
/// use incremental_core::Remedy;
/// use innodb_page::Lsn;
/// let e = PrepareError::ChainBroken {
///     base: "full".into(),
///     base_to_lsn: Lsn(100),
///     inc: "inc2".into(),
///     inc_from_lsn: Lsn(200),
/// };
/// assert!(e.to_string().contains("expected from_lsn 100"));
/// assert_eq!(e.remedy(), Some(Remedy::GiveIncrementalsInOrder));
/// ```
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum PrepareError {
    /// A file-system operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A metadata, `.meta` or `.delta` file is malformed (the error names the file and offset).
    #[error(transparent)]
    Format(#[from] crate::format::error::Error),
    /// The target's state does not allow this prepare.
    #[error(
        "{}: backup_type is {found}; {why}",
        dir.display()
    )]
    BaseState {
        /// The target directory.
        dir: PathBuf,
        /// Its `backup_type`.
        found: BackupType,
        /// What is expected instead.
        why: &'static str,
    },
    /// A directory given as an incremental is not one.
    #[error("{}: backup_type is {found}, not incremental", dir.display())]
    NotIncremental {
        /// The directory.
        dir: PathBuf,
        /// Its `backup_type`.
        found: BackupType,
    },
    /// The incrementals do not continue the target (or each other).
    #[error(
        "{} does not follow {}: its from_lsn is {inc_from_lsn}, expected from_lsn \
         {base_to_lsn} (the to_lsn of {}); an incremental between them is missing, or they are \
         out of order",
        inc.display(),
        base.display(),
        base.display()
    )]
    ChainBroken {
        /// The backup the incremental should continue.
        base: PathBuf,
        /// Its `to_lsn`.
        base_to_lsn: Lsn,
        /// The incremental.
        inc: PathBuf,
        /// Its `from_lsn`.
        inc_from_lsn: Lsn,
    },
    /// The incremental was taken from another backup than the one it is given after (both
    /// record identities in `xb_backup_info`).
    #[error(
        "{} was taken from the backup {base_backup_id}, but the backup given before it, {}, is \
         {prev_backup_id}: out of order, already merged into it, or an incremental of another \
         chain",
        inc.display(),
        prev.display()
    )]
    WrongBase {
        /// The incremental.
        inc: PathBuf,
        /// The `backup_id` of the base it was taken from.
        base_backup_id: String,
        /// The backup given before it.
        prev: PathBuf,
        /// That backup's `backup_id`.
        prev_backup_id: String,
    },
    /// The incremental's redo ends before that of the backup given before it: it was taken
    /// earlier.
    #[error(
        "{} ends at LSN {inc_last_lsn} (last_lsn), before {} (last_lsn {prev_last_lsn}): it was \
         taken earlier, so the two are out of order",
        inc.display(),
        prev.display()
    )]
    OutOfOrder {
        /// The incremental.
        inc: PathBuf,
        /// Its `last_lsn`.
        inc_last_lsn: Lsn,
        /// The backup given before it.
        prev: PathBuf,
        /// Its `last_lsn`.
        prev_last_lsn: Lsn,
    },
    /// Two incrementals cover exactly the same LSNs and nothing tells which was taken first.
    #[error(
        "{} and {} cover the same LSNs (from_lsn = to_lsn = {to_lsn}, last_lsn {last_lsn}: no \
         checkpoint and no InnoDB change between them) and neither their identities nor their \
         times tell which was taken first; refusing to guess, since the one given last wins",
        prev.display(),
        inc.display()
    )]
    Unordered {
        /// The incremental given first.
        prev: PathBuf,
        /// The incremental given after it.
        inc: PathBuf,
        /// Their `to_lsn` (and `from_lsn`).
        to_lsn: Lsn,
        /// Their `last_lsn`.
        last_lsn: Lsn,
    },
    /// Two deltas of one incremental claim the same tablespace (space id in their `.meta`).
    #[error(
        "{} and {} both claim space id {space_id} in the same incremental: one of the two \
         .meta files is wrong (or a file was copied in by hand); refusing to merge either",
        first.display(),
        second.display()
    )]
    DuplicateSpaceId {
        /// The first delta found with that space id.
        first: PathBuf,
        /// The second one.
        second: PathBuf,
        /// The space id.
        space_id: u32,
    },
    /// The incremental's changes are already in the target.
    #[error(
        "{} is already applied to {}: the target is at LSN {base_to_lsn}, the incremental covers \
         {inc_from_lsn}..{inc_to_lsn}; nothing to do for it (apply only newer incrementals)",
        inc.display(),
        base.display()
    )]
    AlreadyApplied {
        /// The incremental.
        inc: PathBuf,
        /// The target.
        base: PathBuf,
        /// The target's `to_lsn`.
        base_to_lsn: Lsn,
        /// The incremental's `from_lsn`.
        inc_from_lsn: Lsn,
        /// The incremental's `to_lsn`.
        inc_to_lsn: Lsn,
    },
    /// The apply-redo step was started on the target and did not finish: a server has changed
    /// its pages, so no incremental can be merged onto it any more (and it is not restorable
    /// until the step is finished).
    #[error(
        "{}: the redo log's application by a server (the apply-redo step) was started on this \
         backup and did not finish ({})",
        dir.display(),
        journal.display()
    )]
    RedoInterrupted {
        /// The target.
        dir: PathBuf,
        /// The journal of the interrupted step.
        journal: PathBuf,
    },
    /// A partial backup cannot be merged.
    #[error("{}: {why}", dir.display())]
    Partial {
        /// The partial backup.
        dir: PathBuf,
        /// Why it is refused.
        why: &'static str,
    },
    /// The safety rule fails: merging without the base's redo would lose changes.
    #[error(
        "refusing to merge {} onto {}: its pages were selected above LSN {selection_lsn}, but the \
         redo of {} starts at LSN {redo_start_lsn} (a checkpoint happened during that backup), and \
         {detail}; merging without that redo would silently corrupt tables; run `mariabackup \
         --prepare --target-dir={}` first (on the chain up to it), then apply the remaining \
         incrementals",
        inc.display(),
        onto.display(),
        onto.display(),
        onto.display()
    )]
    UnsafeMerge {
        /// The incremental.
        inc: PathBuf,
        /// The backup it would be laid on.
        onto: PathBuf,
        /// The LSN from which the incremental's pages were selected.
        selection_lsn: Lsn,
        /// Where the redo of `onto` starts.
        redo_start_lsn: Lsn,
        /// The first offending page of that redo range: (space id, page number, end LSN of the
        /// mini-transaction that changed it); `None` when the range could not be read.
        first_page: Option<(u32, u32, Lsn)>,
        /// What was found in (or prevented reading) the redo between the two LSNs.
        detail: String,
    },
    /// Where a backup's redo starts cannot be read.
    #[error(
        "{}: cannot tell where this backup's redo starts (needed for the merge safety rule): \
         {source}",
        dir.display()
    )]
    RedoStart {
        /// The backup directory.
        dir: PathBuf,
        /// Why.
        #[source]
        source: innodb_page::Error,
    },
    /// A file name that would lead outside the target, or that the applier does not accept.
    #[error("{}: refused name: {why}", path.display())]
    BadName {
        /// The name (as found).
        path: PathBuf,
        /// Why.
        why: &'static str,
    },
    /// A symbolic link in the target that leads outside it.
    #[error(
        "{}: symbolic link leading outside the target directory {}; refusing to write through it",
        path.display(),
        base.display()
    )]
    SymlinkOutside {
        /// The link.
        path: PathBuf,
        /// The target directory.
        base: PathBuf,
    },
    /// Page sizes that do not agree.
    #[error(
        "{}: page size {found} differs from {expected} of {}",
        path.display(),
        other.display()
    )]
    PageSizeMismatch {
        /// The file with the unexpected size.
        path: PathBuf,
        /// Its page size.
        found: u32,
        /// The other file.
        other: PathBuf,
        /// The other file's page size.
        expected: u32,
    },
    /// A `.delta` without its `.meta`.
    #[error("{}: missing (every .delta needs its .meta)", path.display())]
    MissingMeta {
        /// The missing `.meta` path.
        path: PathBuf,
    },
    /// A tablespace file or delta the applier cannot use.
    #[error("{}: {why}", path.display())]
    Tablespace {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// A page of a delta that does not belong where its header puts it.
    #[error(
        "{}: at offset {offset}: page listed as {page_no} carries {why}",
        path.display()
    )]
    BadPage {
        /// The delta.
        path: PathBuf,
        /// Byte offset of the page in the delta.
        offset: u64,
        /// The page number the header lists.
        page_no: u32,
        /// What is wrong.
        why: String,
    },
    /// An interrupted prepare is pending with other arguments.
    #[error(
        "{}: an interrupted prepare is pending with other arguments",
        journal.display()
    )]
    PendingOther {
        /// The journal file.
        journal: PathBuf,
        /// The target the pending prepare was started with.
        base: PathBuf,
        /// Its incrementals, oldest first.
        incrementals: Vec<PathBuf>,
    },
    /// The journal of an interrupted prepare cannot be read.
    #[error(
        "{}: line {line}: {why}; the target is in an unknown state, restore it from a copy",
        path.display()
    )]
    Journal {
        /// The journal file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        why: String,
    },
    /// A backup given as a stream is not a whole, valid xbstream (truncated, a bad checksum, a
    /// refused path...): found before anything is written. The cause names the byte offset.
    #[error("{}: {source}", stream.display())]
    Stream {
        /// The stream file.
        stream: PathBuf,
        /// What is wrong, and where.
        #[source]
        source: crate::xbstream::XbstreamError,
    },
    /// A compressed or encrypted file cannot be decoded (damaged, truncated, wrong or missing
    /// key); the cause names the file.
    #[error(transparent)]
    Codec(#[from] crate::codec::CodecError),
    /// The target holds an interrupted extraction of a full backup given as a stream.
    #[error(
        "{}: an extraction of the full backup into it was interrupted (a stream is extracted \
         only into an absent or empty directory): remove the directory and run again",
        dir.display()
    )]
    TargetNotEmpty {
        /// The target directory.
        dir: PathBuf,
    },
    /// The operation was cancelled; running it again resumes it.
    #[error("cancelled; run the same prepare again to finish it")]
    Cancelled,
}

impl PrepareError {
    /// What the caller can do about it, when it is an action a front end words (the message
    /// leaves it out).
    pub fn remedy(&self) -> Option<Remedy> {
        match self {
            PrepareError::BaseState {
                found: BackupType::Incremental,
                ..
            } => Some(Remedy::FullBackupAsTarget),
            PrepareError::NotIncremental { .. } => Some(Remedy::IncrementalsOnly),
            PrepareError::ChainBroken { .. }
            | PrepareError::WrongBase { .. }
            | PrepareError::OutOfOrder { .. } => Some(Remedy::GiveIncrementalsInOrder),
            PrepareError::Unordered { .. } => Some(Remedy::GiveOneOfEqualIncrementals),
            PrepareError::PendingOther { .. } => Some(Remedy::RerunPendingPrepare),
            PrepareError::RedoInterrupted { .. } => Some(Remedy::FinishApplyRedo),
            _ => None,
        }
    }

    /// An I/O error on `path`.
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> PrepareError {
        PrepareError::Io {
            path: path.into(),
            source,
        }
    }
}
