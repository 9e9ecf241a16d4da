//! The backup engine (`xb backup`): full and incremental backups, in mariabackup's directory
//! layout, of a stopped datadir or a filesystem snapshot (cold), or of a running MariaDB
//! server (hot, feature `hot`).
//!
//! One entry point: [`BackupPlan::new`] looks at the source ([`detect()`]: cold or hot, and
//! why), the base of an incremental, and decides what to do (which files, how each
//! tablespace's pages are selected and why); [`BackupPlan::run`] does it, writing through a
//! [`Sink`](sink::Sink) (a local directory: [`DirSink`](sink::DirSink)), reporting through a
//! [`Progress`](crate::progress::Progress) and stopping at the next batch when a
//! [`Cancel`](crate::progress::Cancel) token fires. It returns one [`BackupReport`], whose
//! [`hot`](BackupReport::hot) part holds what a hot backup adds.
//!
//! ```no_run
//! use incremental_core::backup::{BackupOptions, BackupPlan, ConnectOptions, Incremental};
//! use incremental_core::backup::sink::DirSink;
//! use incremental_core::progress::{Cancel, NoProgress};
//! let mut opts = BackupOptions::new("/var/lib/mysql");
//! opts.set_incremental(Some(Incremental::Basedir("/backups/full".into())))
//!     .set_connect(ConnectOptions::new()); // hot if a server runs on it
//! let plan = BackupPlan::new(&opts)?;
//! println!("{} backup ({})", plan.mode().name(), plan.mode());
//! let mut sink = DirSink::new("/backups/inc1")?;
//! let report = plan.run(&mut sink, &NoProgress, &Cancel::new())?;
//! println!("copied {} of {} pages", report.pages_copied(), report.pages_scanned());
//! # Ok::<(), incremental_core::backup::BackupError>(())
//! ```
//!
//! # What a backup holds
//!
//! * Full: every page of every InnoDB tablespace (system, undo, file-per-table; never the
//!   temporary tablespace), each checksum-verified as it is read; the non-InnoDB files whole;
//!   `ib_logfile0` (see [`redo_copy`]); `xtrabackup_checkpoints` (`full-backuped`,
//!   `from_lsn = 0`, `to_lsn` = the source's checkpoint LSN, `last_lsn` = the end of its log),
//!   `xtrabackup_info`, `backup-my.cnf`, and xb's own `xb_backup_info`.
//! * Incremental: for every tablespace file a `.delta` (even when no page qualifies) and a
//!   `.meta` (mariabackup's dialect); the rest as for a full, with `backup_type =
//!   incremental` and `from_lsn` = the base's `to_lsn`.
//!
//! # Which pages an incremental copies
//!
//! A page goes into the delta when its LSN `L` (FIL_PAGE_LSN) satisfies **`L ≥ threshold`**
//! (at or above, not strictly above). The page LSN is the end LSN of the last
//! mini-transaction that changed the page, and the base is consistent as of its checkpoint: a
//! page whose last change ends exactly at the base's checkpoint LSN may not be in the base's
//! data files (the checkpoint only promises that changes *before* it are flushed) while its
//! redo lies before the incremental's redo start. With `>` such a page is lost when the
//! checkpoint did not move between the two backups (the bug XtraBackup fixed as PXB-1824).
//! Copying one page too many is always safe; missing one is not.
//!
//! The threshold is the lower of the base's `to_lsn` and the LSN where the base's copied redo
//! starts (the checkpoint in its `ib_logfile0` header). For xb's own backups they are equal.
//! A mariabackup base taken under load has `to_lsn` = the checkpoint at the *end* of its run;
//! pages changed between its start and end checkpoints exist only in its redo, and would be
//! lost by a merge that skips that redo if the scan started at `to_lsn`. The threshold is
//! recorded as `selection_lsn` in `xb_backup_info`; `xtrabackup_checkpoints` keeps
//! `from_lsn` = the base's `to_lsn`, which is what `mariabackup --prepare` checks.
//!
//! Pages are found by a **full scan** (every page read, in 2 MiB units by [`DEFAULT_READERS`]
//! threads with `O_DIRECT`, memory bounded; see `scan`, `read` and `ordered` in the source) or,
//! when a changed-page bitmap directory covers the LSNs from the threshold to this backup's
//! checkpoint, by reading only the **pages the bitmap flags** (still applying the LSN test).
//! Incomplete coverage falls back to the scan, with the reason in a progress note and in
//! `xb_backup_info` (`fallback_reason`). Every page read is checksum-verified, copied or not
//! (the LSN that decides is inside the page: a damaged one must not make a page look
//! unchanged).
//!
//! # Speed
//!
//! `scripts/bench-backup` measures, one run each with a cold page cache (each file dropped
//! with `posix_fadvise(DONTNEED)` first), on ~1.8 GB of tables with 1% of the pages changed:
//! `cat` of the data files and 2 concurrent `dd bs=2M` (the read floors), the scan and the
//! bitmap incrementals (stopped datadir, target synced), and `mariabackup --backup
//! --incremental-basedir` against the server running idle on the same datadir. It prints the
//! load and the whole disk's traffic around each run, since the benchmark machine (2 cores)
//! shares its disk: the same run varies by 2x or more between runs.
//!
//! The scan reads at the disk's speed (0.2–0.4 s of CPU for 1.8 GB, against 1.1–3.3 s for
//! buffered reads), so it is bound by the read floor, not by the checks. The bitmap run's
//! fixed cost is small: planning ~5 ms (9 tablespaces: page 0 of each, the lock probe, the
//! redo header and scan), the non-InnoDB files (copied by the same pipeline, queued to the
//! kernel at the start), the redo copy (< 1 ms after a clean shutdown) and one `syncfs`
//! (1–15 ms, the files' writeback having been started as each was closed). The CLI prints
//! these phases (`xb: time: …`).
//!
//! # Modules
//!
//! `options` (what is asked), `detect` (cold or hot; `server`: the connection to a running
//! server), `kind` (full or incremental), `plan` (what will be done), `files`
//! (the datadir's files and filters), `needed` (the one rule for which non-InnoDB files a
//! restore needs: mariabackup's list; binary, relay, error, general and slow logs and
//! `ddl_recovery.log` are never copied), `contents` (what a run copies), `run` (the run, driving
//! the `stages` of a `cold` or `hot` source), `copy`, `scan`, `read` and `ordered` (the read
//! pipeline), `redo_copy` (the redo log), `metadata` (the metadata files), `report`, `sink`,
//! `error`.

pub mod bitmap_source;
mod cold;
mod contents;
mod copy;
mod detect;
mod empty_dbs;
mod error;
pub mod files;
#[cfg(feature = "hot")]
mod history;
#[cfg(feature = "hot")]
mod hot;
mod kind;
pub(crate) mod layout;
mod metadata;
mod needed;
mod options;
mod ordered;
mod plan;
mod privileges;
mod read;
pub mod redo_copy;
mod report;
mod run;
mod scan;
#[cfg(feature = "hot")]
pub(crate) mod server;
pub mod sink;
mod stages;
mod throttle;
mod validate;

pub use crate::format::backup_info::Method;
pub use contents::{DataFilePlan, OtherFile, PlanNote, TablespacePlan};
pub use detect::{detect, same_dir, Detected, SourceMode};
pub use error::{BackupError, ServerError};
pub use files::Filter;
pub use kind::BackupKind;
pub use options::{
    BackupOptions, ConnectOptions, HotOptions, Incremental, KillQueryType, PrivilegeCheck,
    Protocol, TlsOptions,
};
pub use plan::{BackupPlan, DEFAULT_READERS};
pub use privileges::MissingPrivilege;
pub use report::{
    BackupReport, CorruptPage, FollowerStats, ForcedCheckpoint, HotReport, Phases, ReplicaPosition,
    TablespaceReport,
};
