//! What a backup did: per tablespace, how its pages were selected and how many were read,
//! copied and skipped; for a hot backup, what the server and its redo log did meanwhile.
//!
//! With the `serde` feature, [`BackupReport`] serializes to the JSON `xb backup --json`
//! prints (see docs/json.md).

use std::path::PathBuf;

use innodb_page::Lsn;

use super::detect::SourceMode;
use super::privileges::MissingPrivilege;
use crate::format::backup_info::Method;

/// A page that failed its checks and was recorded (see
/// [`BackupOptions::set_log_innodb_page_corruption`](super::BackupOptions::set_log_innodb_page_corruption)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CorruptPage {
    /// Page number within the tablespace.
    pub page_no: u64,
    /// What is wrong.
    pub problem: String,
}

/// One tablespace's figures.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TablespaceReport {
    /// Its first file, relative to the datadir.
    pub path: PathBuf,
    /// Space id.
    pub space_id: u32,
    /// How its pages were selected.
    pub method: Method,
    /// Why (e.g. "bitmap covers 100..200", "incremental force scan").
    pub why: String,
    /// Pages read and checked.
    pub pages_scanned: u64,
    /// Pages written to the backup.
    pub pages_copied: u64,
    /// Pages of the files never read (bitmap) or read but not copied (LSN test).
    pub pages_skipped: u64,
    /// Bytes read from the source.
    pub bytes_read: u64,
    /// Bytes written (data file or `.delta` and `.meta`).
    pub bytes_written: u64,
    /// Pages recorded as corrupt.
    pub corrupt: Vec<CorruptPage>,
}

impl TablespaceReport {
    /// A report with nothing counted yet.
    pub(crate) fn empty(path: PathBuf, space_id: u32, method: Method, why: String) -> Self {
        TablespaceReport {
            path,
            space_id,
            method,
            why,
            pages_scanned: 0,
            pages_copied: 0,
            pages_skipped: 0,
            bytes_read: 0,
            bytes_written: 0,
            corrupt: Vec::new(),
        }
    }
}

/// Where a run's time went, in seconds (wall clock).
///
/// ```
/// let p = incremental_core::backup::Phases::default();
/// assert_eq!(p.files + p.redo + p.sync, 0.0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
#[non_exhaustive]
pub struct Phases {
    /// Planning (looking at the source and the base; for a hot backup, reaching the server).
    pub plan: f64,
    /// Reading, checking and writing the data files and the non-InnoDB files (one pipeline).
    pub files: f64,
    /// Copying the redo log (a hot backup: the time the redo follower worked).
    pub redo: f64,
    /// Making the backup durable ([`Sink::finish`](super::sink::Sink::finish)).
    pub sync: f64,
}

/// The redo follower's figures in a hot backup, to judge its headroom against the server's
/// redo rate.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
#[non_exhaustive]
pub struct FollowerStats {
    /// Redo bytes copied.
    pub bytes: u64,
    /// Mini-transactions copied.
    pub mtrs: u64,
    /// Seconds spent reading, checking and writing (polls that found something).
    pub busy_seconds: f64,
    /// Seconds from start to stop.
    pub wall_seconds: f64,
    /// Polls.
    pub polls: u64,
}

impl FollowerStats {
    /// Redo bytes the follower parses and writes per second of work (its capacity).
    ///
    /// ```
    /// let s = incremental_core::backup::FollowerStats::default();
    /// assert_eq!(s.parse_rate(), 0.0);
    /// ```
    pub fn parse_rate(&self) -> f64 {
        self.bytes as f64 / self.busy_seconds.max(1e-9)
    }
}

/// What a hot backup recorded about the server's replication ([`HotReport::replica`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReplicaPosition {
    /// The server replicates from no source (`SHOW ALL SLAVES STATUS` is empty): no
    /// `xtrabackup_slave_info` was written.
    NotAReplica,
    /// The position written to `xtrabackup_slave_info`, in words, one clause per connection,
    /// as mariabackup logs it (e.g. `master '' filename 'mysql-bin.000001' position '1159'`,
    /// or `gtid_slave_pos '0-1-5'; master '' master_use_gtid = slave_pos`).
    Recorded(String),
}

impl ReplicaPosition {
    /// The position in words, when one was recorded.
    pub fn recorded(&self) -> Option<&str> {
        match self {
            ReplicaPosition::Recorded(s) => Some(s),
            ReplicaPosition::NotAReplica => None,
        }
    }
}

/// Whether a hot backup had the server write a checkpoint before copying
/// ([`HotOptions::set_checkpoint_now`](super::HotOptions::set_checkpoint_now)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ForcedCheckpoint {
    /// Not asked for.
    #[default]
    NotAsked,
    /// Written: the server's checkpoint (`Innodb_lsn_last_checkpoint`) right after.
    Written {
        /// The checkpoint LSN.
        lsn: Lsn,
    },
    /// The server has no `innodb_log_checkpoint_now` variable: none was forced.
    Unsupported,
}

/// What a hot backup did beyond the common figures ([`BackupReport::hot`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct HotReport {
    /// How the server was reached.
    pub server: String,
    /// `Innodb_lsn_current` when the copy of the tablespaces started.
    pub start_lsn: Lsn,
    /// `Innodb_lsn_current` under `BLOCK_COMMIT`: the copied redo reaches at least this.
    pub end_lsn: Lsn,
    /// The server's checkpoint when the tablespaces were copied (above `to_lsn` when the
    /// server checkpointed during their copy).
    pub copy_end_checkpoint: Lsn,
    /// The server's checkpoint when the redo copy stopped.
    pub end_checkpoint: Lsn,
    /// Tablespaces dropped during the backup (`.del` written).
    pub deleted: Vec<PathBuf>,
    /// Tablespaces renamed during the backup (`.ren` written): (old, new).
    pub renamed: Vec<(PathBuf, PathBuf)>,
    /// Tablespaces copied whole at the end (`.new` written).
    pub new: Vec<PathBuf>,
    /// Seconds DDL was blocked.
    pub ddl_blocked_seconds: f64,
    /// Seconds commits were blocked.
    pub commits_blocked_seconds: f64,
    /// The redo follower's figures.
    pub follower: FollowerStats,
    /// What `--slave-info` ([`HotOptions::set_slave_info`](super::HotOptions::set_slave_info))
    /// found; `None` when it was not asked for.
    pub replica: Option<ReplicaPosition>,
    /// The Galera node's state recorded in `xtrabackup_galera_info`
    /// (`uuid:seqno domain_id`), when it was asked for and the server is a Galera node.
    pub galera_state: Option<String>,
    /// No `BACKUP STAGE` lock was taken (`--no-lock`): see [`consistent`](Self::consistent).
    pub no_lock: bool,
    /// Without locks: database directories and non-InnoDB files in them written while the
    /// backup ran (DDL, or writes to Aria/MyISAM tables): the backup may hold them torn or
    /// out of step with the InnoDB tables.
    pub written_during_backup: Vec<PathBuf>,
    /// Queries killed because they kept a `BACKUP STAGE` lock from being taken
    /// (`--kill-long-queries-timeout`): "id (seconds run): statement".
    pub killed_queries: Vec<String>,
    /// Without locks: writes during the backup are accepted
    /// ([`HotOptions::set_accept_no_lock_writes`](super::HotOptions::set_accept_no_lock_writes)).
    pub no_lock_writes_accepted: bool,
    /// The checkpoint forced before the copy, if asked for.
    pub forced_checkpoint: ForcedCheckpoint,
    /// Privileges the account lacks that the backup did without (the warnings of the
    /// privilege check; those it needs fail it instead).
    pub missing_privileges: Vec<MissingPrivilege>,
    /// Wall-clock seconds of the backup, for the rates.
    pub(crate) seconds: f64,
}

impl HotReport {
    /// Whether the backup is consistent as a whole: always with locks; without them, when
    /// nothing but InnoDB tables changed while it ran (no DDL, no write to a non-InnoDB
    /// table), as far as file modification times tell.
    pub fn consistent(&self) -> bool {
        !self.no_lock || self.written_during_backup.is_empty()
    }

    /// Whether the backup is complete as asked for: [`consistent`](Self::consistent), or
    /// taken without locks with writes during it accepted (as mariabackup's `--no-lock`).
    pub fn acceptable(&self) -> bool {
        self.consistent() || self.no_lock_writes_accepted
    }

    /// Redo bytes the server wrote per second while the backup ran (from `start_lsn` to
    /// `end_lsn`), to compare with the follower's
    /// [`parse_rate`](FollowerStats::parse_rate).
    pub fn server_redo_rate(&self) -> f64 {
        self.end_lsn.get().saturating_sub(self.start_lsn.get()) as f64 / self.seconds.max(1e-9)
    }
}

/// The result of [`BackupPlan::run`](super::BackupPlan::run), cold or hot.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct BackupReport {
    /// Cold or hot.
    pub mode: SourceMode,
    /// Incremental or full.
    pub incremental: bool,
    /// `from_lsn` written.
    pub from_lsn: Lsn,
    /// `to_lsn` written (the checkpoint the copied redo starts from).
    pub to_lsn: Lsn,
    /// `last_lsn` written (the end of the copied redo).
    pub last_lsn: Lsn,
    /// Pages with an LSN at or above this were copied (0 for a full backup).
    pub selection_lsn: Lsn,
    /// Overall method.
    pub method: Method,
    /// Why a bitmap was not used ("" if it was, or for a full backup).
    pub fallback_reason: String,
    /// Per tablespace.
    pub tablespaces: Vec<TablespaceReport>,
    /// Non-InnoDB files copied.
    pub other_files: u64,
    /// Their bytes.
    pub other_bytes: u64,
    /// Size of the copied `ib_logfile0`.
    pub redo_bytes: u64,
    /// Wall-clock duration of the run.
    pub seconds: f64,
    /// Its main parts.
    pub phases: Phases,
    /// Reader threads used.
    pub threads: usize,
    /// Hot backups: what the server and its redo log did.
    pub(crate) hot: Option<HotReport>,
}

impl BackupReport {
    /// The figures of a hot backup (`None` for a cold one).
    pub fn hot(&self) -> Option<&HotReport> {
        self.hot.as_ref()
    }

    /// Pages read over all tablespaces.
    pub fn pages_scanned(&self) -> u64 {
        self.tablespaces.iter().map(|t| t.pages_scanned).sum()
    }

    /// Pages copied over all tablespaces.
    pub fn pages_copied(&self) -> u64 {
        self.tablespaces.iter().map(|t| t.pages_copied).sum()
    }

    /// Pages skipped over all tablespaces.
    pub fn pages_skipped(&self) -> u64 {
        self.tablespaces.iter().map(|t| t.pages_skipped).sum()
    }

    /// Bytes read from data files.
    pub fn bytes_read(&self) -> u64 {
        self.tablespaces.iter().map(|t| t.bytes_read).sum()
    }

    /// Pages recorded as corrupt over all tablespaces.
    pub fn corrupt_pages(&self) -> usize {
        self.tablespaces.iter().map(|t| t.corrupt.len()).sum()
    }
}

#[cfg(feature = "serde")]
mod json {
    //! The JSON form of a report: the keys and values `xb backup --json` prints (docs/json.md's
    //! schema), in alphabetical order.

    use serde::Serialize;

    use super::{BackupReport, HotReport, TablespaceReport};

    #[derive(Serialize)]
    struct Phases {
        files: f64,
        plan: f64,
        redo: f64,
        sync: f64,
    }

    #[derive(Serialize)]
    struct Tablespace {
        bytes_read: u64,
        bytes_written: u64,
        corrupt_pages: Vec<u64>,
        method: &'static str,
        pages_copied: u64,
        pages_scanned: u64,
        pages_skipped: u64,
        path: String,
        space_id: u32,
        why: String,
    }

    #[derive(Serialize)]
    struct Hot {
        acceptable: bool,
        commits_blocked_seconds: f64,
        consistent: bool,
        copy_end_checkpoint: u64,
        ddl_blocked_seconds: f64,
        deleted: Vec<String>,
        end_checkpoint: u64,
        end_lsn: u64,
        forced_checkpoint: Option<u64>,
        galera_state: Option<String>,
        killed_queries: Vec<String>,
        missing_privileges: Vec<String>,
        new: Vec<String>,
        no_lock: bool,
        redo_read_bytes_per_second: f64,
        redo_server_bytes_per_second: f64,
        renamed: Vec<[String; 2]>,
        replica_position: Option<String>,
        server: String,
        written_during_backup: Vec<String>,
    }

    #[derive(Serialize)]
    struct Report {
        backup_type: &'static str,
        bytes_read: u64,
        fallback_reason: String,
        from_lsn: u64,
        hot: Option<Hot>,
        last_lsn: u64,
        method: &'static str,
        mode: &'static str,
        other_files: u64,
        pages_copied: u64,
        pages_scanned: u64,
        pages_skipped: u64,
        phases: Phases,
        redo_bytes: u64,
        seconds: f64,
        selection_lsn: u64,
        tablespaces: Vec<Tablespace>,
        to_lsn: u64,
    }

    fn lossy(p: &std::path::Path) -> String {
        p.to_string_lossy().into_owned()
    }

    impl From<&TablespaceReport> for Tablespace {
        fn from(t: &TablespaceReport) -> Tablespace {
            Tablespace {
                bytes_read: t.bytes_read,
                bytes_written: t.bytes_written,
                corrupt_pages: t.corrupt.iter().map(|c| c.page_no).collect(),
                method: t.method.name(),
                pages_copied: t.pages_copied,
                pages_scanned: t.pages_scanned,
                pages_skipped: t.pages_skipped,
                path: lossy(&t.path),
                space_id: t.space_id,
                why: t.why.clone(),
            }
        }
    }

    impl From<&HotReport> for Hot {
        fn from(h: &HotReport) -> Hot {
            Hot {
                acceptable: h.acceptable(),
                commits_blocked_seconds: h.commits_blocked_seconds,
                consistent: h.consistent(),
                copy_end_checkpoint: h.copy_end_checkpoint.get(),
                ddl_blocked_seconds: h.ddl_blocked_seconds,
                deleted: h.deleted.iter().map(|p| lossy(p)).collect(),
                end_checkpoint: h.end_checkpoint.get(),
                end_lsn: h.end_lsn.get(),
                forced_checkpoint: match h.forced_checkpoint {
                    super::ForcedCheckpoint::Written { lsn } => Some(lsn.get()),
                    _ => None,
                },
                galera_state: h.galera_state.clone(),
                killed_queries: h.killed_queries.clone(),
                missing_privileges: h
                    .missing_privileges
                    .iter()
                    .map(ToString::to_string)
                    .collect(),
                new: h.new.iter().map(|p| lossy(p)).collect(),
                no_lock: h.no_lock,
                redo_read_bytes_per_second: h.follower.parse_rate(),
                redo_server_bytes_per_second: h.server_redo_rate(),
                renamed: h
                    .renamed
                    .iter()
                    .map(|(f, t)| [lossy(f), lossy(t)])
                    .collect(),
                replica_position: h
                    .replica
                    .as_ref()
                    .and_then(|r| r.recorded())
                    .map(str::to_string),
                server: h.server.clone(),
                written_during_backup: h.written_during_backup.iter().map(|p| lossy(p)).collect(),
            }
        }
    }

    impl From<&BackupReport> for Report {
        fn from(r: &BackupReport) -> Report {
            let p = r.phases;
            Report {
                backup_type: if r.incremental { "incremental" } else { "full" },
                bytes_read: r.bytes_read(),
                fallback_reason: r.fallback_reason.clone(),
                from_lsn: r.from_lsn.get(),
                hot: r.hot.as_ref().map(Hot::from),
                last_lsn: r.last_lsn.get(),
                method: r.method.name(),
                mode: r.mode.name(),
                other_files: r.other_files,
                pages_copied: r.pages_copied(),
                pages_scanned: r.pages_scanned(),
                pages_skipped: r.pages_skipped(),
                phases: Phases {
                    files: p.files,
                    plan: p.plan,
                    redo: p.redo,
                    sync: p.sync,
                },
                redo_bytes: r.redo_bytes,
                seconds: r.seconds,
                selection_lsn: r.selection_lsn.get(),
                tablespaces: r.tablespaces.iter().map(Tablespace::from).collect(),
                to_lsn: r.to_lsn.get(),
            }
        }
    }

    impl Serialize for BackupReport {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            Report::from(self).serialize(s)
        }
    }
}
