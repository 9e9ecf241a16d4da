//! Why a backup could not be planned or did not complete: [`BackupError`], and
//! [`ServerError`] for the conversation with a running server.

use std::path::PathBuf;

use innodb_page::redo::follow::FollowError;
use innodb_page::Lsn;

use super::privileges::MissingPrivilege;
use crate::Remedy;

/// Why a backup could not be planned or did not complete. Every message names the file (or
/// LSN) concerned and what is wrong; what the caller can do about it is
/// [`remedy`](BackupError::remedy).
///
/// ```
/// use incremental_core::backup::BackupError;
/// use incremental_core::Remedy;
/// let e = BackupError::ServerRunning { path: "/d/ibdata1".into(), pid: 42 };
/// assert!(e.to_string().contains("stop the server"));
/// assert_eq!(e.remedy(), Some(Remedy::StopServer));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    /// Reading a source file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Writing to the destination failed.
    #[error("writing {}: {source}", path.display())]
    Write {
        /// The file in the backup.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The target directory already holds files: a backup never mixes with other files.
    #[error("{}: the target directory is not empty; give a new or empty directory", path.display())]
    TargetNotEmpty {
        /// The directory.
        path: PathBuf,
    },
    /// A source file is not what InnoDB writes.
    #[error(transparent)]
    Page(#[from] innodb_page::Error),
    /// A backup file (the base's metadata) could not be read.
    #[error(transparent)]
    Core(#[from] crate::Error),
    /// A server is running on the datadir, and no hot backup was asked for (no connection
    /// settings) or possible (built without the `hot` feature).
    #[error(
        "{}: locked by process {pid}: a server is running on this datadir; stop the server \
         (or back up a filesystem snapshot of the datadir) and try again",
        path.display()
    )]
    ServerRunning {
        /// The locked file.
        path: PathBuf,
        /// The process holding the lock.
        pid: i32,
    },
    /// A server is running on the datadir and cannot be reached for a hot backup.
    #[error(
        "{}: in use by a running server (process {pid}), which cannot be reached for a hot \
         backup: {source}",
        path.display()
    )]
    ServerUnreachable {
        /// The datadir.
        path: PathBuf,
        /// The process holding it.
        pid: i32,
        /// Why it cannot be reached.
        #[source]
        source: ServerError,
    },
    /// No server holds the datadir, and the server the caller named (a socket, host or port:
    /// [`ConnectOptions::names_server`](super::ConnectOptions::names_server)) cannot be
    /// reached: the caller asked for a hot backup, so the stopped datadir, which may need
    /// crash recovery, is not silently copied cold instead.
    #[error(
        "{}: no running server holds this datadir, and the server asked for cannot be reached: \
         {source}",
        path.display()
    )]
    ServerNotReached {
        /// The datadir.
        path: PathBuf,
        /// Why the server cannot be reached.
        #[source]
        source: ServerError,
    },
    /// The server reached serves another datadir than the one to back up.
    #[error(
        "the server reached through {how} serves the datadir {}, not {}",
        server_datadir.display(),
        path.display()
    )]
    WrongServer {
        /// How the server was reached.
        how: String,
        /// Its `@@datadir`.
        server_datadir: PathBuf,
        /// The datadir to back up.
        path: PathBuf,
    },
    /// Something xb does not support yet.
    #[error("{}: {what}", path.display())]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// What and why.
        what: String,
    },
    /// A page failed its checksum (or page number / space id) check.
    #[error("{}: page {page_no} is corrupt: {problem}; the backup stops here", path.display())]
    CorruptPage {
        /// The data file.
        path: PathBuf,
        /// Page number in the file.
        page_no: u64,
        /// What is wrong.
        problem: String,
    },
    /// The base of an incremental is unusable.
    #[error("{}: {what}", path.display())]
    Base {
        /// The base directory.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
    /// Where the base's redo log starts cannot be found, so neither can the incremental's
    /// threshold.
    #[error(
        "{}: cannot find where the base's redo log starts (no xb_backup_info, no readable \
         ib_logfile0, no xb_redo_start_lsn in xtrabackup_info)",
        path.display()
    )]
    BaseRedoStartUnknown {
        /// The base directory.
        path: PathBuf,
    },
    /// The incremental's start LSN, given without a base, is after the datadir's checkpoint.
    #[error(
        "{}: the incremental's start LSN {lsn} is after this datadir's checkpoint \
         {checkpoint}: it must be the to_lsn of an earlier backup of this datadir",
        path.display()
    )]
    StartAfterCheckpoint {
        /// The datadir.
        path: PathBuf,
        /// The start LSN given.
        lsn: Lsn,
        /// The datadir's checkpoint.
        checkpoint: Lsn,
    },
    /// The base is a partial backup.
    #[error(
        "{}: the base is a partial backup: tables it lacks would be missing from the result",
        path.display()
    )]
    PartialBase {
        /// The base directory.
        path: PathBuf,
    },
    /// The server was restarted with another number of undo tablespaces since the base was
    /// taken: the undo tablespaces were recreated (new space ids), and an incremental of them
    /// cannot be merged into the base's.
    #[error(
        "{}: the base recorded innodb_undo_tablespaces={recorded} and the server now has \
         {now} undo tablespaces: it was restarted with another innodb_undo_tablespaces, which \
         recreates them, so no incremental can follow this base",
        base.display()
    )]
    UndoTablespacesChanged {
        /// The base directory.
        base: PathBuf,
        /// The number of undo tablespaces the base recorded (its `backup-my.cnf`).
        recorded: u32,
        /// The number of undo tablespaces the server has now.
        now: usize,
    },
    /// Something asked for needs a running server, and the backup is cold.
    #[error("{what} needs a running server, and {} is backed up cold (no server holds it)", path.display())]
    NeedsServer {
        /// The datadir.
        path: PathBuf,
        /// What was asked for ("the backup history table").
        what: String,
    },
    /// The history table has no successful backup of this series name or uuid.
    #[error(
        "the server's history table {table} has no backup with {key} '{value}' and an \
         innodb_to_lsn: no base for the incremental"
    )]
    HistoryNotFound {
        /// The table searched.
        table: String,
        /// `name` or `uuid`.
        key: String,
        /// The value looked for.
        value: String,
    },
    /// The account lacks privileges the backup needs (the check before anything is copied,
    /// [`HotOptions::set_privilege_check`](super::HotOptions::set_privilege_check)).
    #[error(
        "{}; the account's grants (SHOW GRANTS): {}",
        missing.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "),
        grants.join("; ")
    )]
    MissingPrivileges {
        /// What is missing (those required; the warnings too).
        missing: Vec<MissingPrivilege>,
        /// The rows of `SHOW GRANTS`, without password hashes.
        grants: Vec<String>,
    },
    /// A `BACKUP STAGE` lock was not granted within the time allowed
    /// ([`HotOptions::set_start_lock_timeout`](super::HotOptions::set_start_lock_timeout)):
    /// sessions holding tables locked (`LOCK TABLES`) hold it up.
    #[error(
        "BACKUP STAGE {stage} was not granted within {seconds} s (sessions holding tables \
         locked with LOCK TABLES hold it up); nothing was copied: {source}"
    )]
    LockWaitTimeout {
        /// The stage (`START`).
        stage: String,
        /// The time allowed, in seconds.
        seconds: u64,
        /// The server's refusal.
        source: ServerError,
    },
    /// Options asked for that cannot go together.
    #[error("{what}")]
    ConflictingOptions {
        /// Which, and why.
        what: String,
    },
    /// The source changed or contradicts itself while being read.
    #[error("{what}")]
    Inconsistent {
        /// What.
        what: String,
    },
    /// The [`Cancel`](crate::progress::Cancel) token fired.
    #[error("cancelled")]
    Cancelled,
    /// Following the running server's redo log failed (e.g. it was overwritten before it was
    /// read: [`FollowError::Overtaken`]).
    #[error("hot backup failed, the backup is incomplete: {0}")]
    Follow(#[from] FollowError),
    /// Talking to the running server failed.
    #[error(transparent)]
    Server(#[from] ServerError),
    /// The server's encryption keys cannot be found or used.
    #[error(transparent)]
    Encryption(#[from] crate::encryption::EncryptionError),
    /// Reading a source file failed (an I/O error of the disk, say): where.
    #[error("{}: reading {len} bytes at byte offset {offset}: {source}", path.display())]
    ReadAt {
        /// The file.
        path: PathBuf,
        /// The byte offset of the read.
        offset: u64,
        /// Its length in bytes.
        len: u64,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl BackupError {
    /// What the caller can do about this error, if anything.
    ///
    /// ```
    /// use incremental_core::backup::BackupError;
    /// use incremental_core::Remedy;
    /// let e = BackupError::PartialBase { path: "/backups/full".into() };
    /// assert_eq!(e.remedy(), Some(Remedy::AcceptPartialBase));
    /// assert_eq!(BackupError::Cancelled.remedy(), None);
    /// ```
    pub fn remedy(&self) -> Option<Remedy> {
        match self {
            BackupError::ServerRunning { .. } => Some(Remedy::StopServer),
            BackupError::CorruptPage { .. } => Some(Remedy::RecordCorruptPages),
            BackupError::PartialBase { .. } => Some(Remedy::AcceptPartialBase),
            BackupError::BaseRedoStartUnknown { .. } => Some(Remedy::GiveStartLsn),
            BackupError::UndoTablespacesChanged { .. } => Some(Remedy::TakeFullBackup),
            BackupError::Follow(FollowError::Overtaken { .. }) => Some(Remedy::EnlargeRedoLog),
            BackupError::ServerUnreachable { source, .. } => source.remedy(),
            BackupError::WrongServer { .. } => Some(Remedy::ConnectionSettings),
            BackupError::ServerNotReached { .. } => Some(Remedy::StartServerOrGoCold),
            BackupError::Server(e) => e.remedy(),
            BackupError::Encryption(e) => e.remedy(),
            _ => None,
        }
    }
}

/// A failure talking to a running server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// Connecting failed.
    #[error("cannot connect to the server ({how}): {message}")]
    Connect {
        /// Where and as whom.
        how: String,
        /// The server's error code, when the server answered.
        code: Option<u16>,
        /// What went wrong.
        message: String,
        /// The client library's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A statement failed.
    #[error("the server refused `{query}`: {message}")]
    Query {
        /// The statement.
        query: String,
        /// The server's error code, when the server answered.
        code: Option<u16>,
        /// What went wrong.
        message: String,
        /// The client library's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A TLS certificate or key file cannot be read.
    #[error("cannot read the TLS {what} file {}: {source}", path.display())]
    TlsFile {
        /// Which file: `CA certificate`, `client certificate` or `client key`.
        what: &'static str,
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// TLS was asked for together with a Unix socket: the client library never encrypts a
    /// socket connection (TLS needs TCP).
    #[error(
        "TLS cannot be used over the Unix socket {}: the client library encrypts TCP connections only",
        socket.as_ref().map_or_else(|| "(any)".to_string(), |s| s.display().to_string())
    )]
    TlsOverSocket {
        /// The socket asked for (`None`: a socket protocol without a path).
        socket: Option<std::path::PathBuf>,
    },
    /// The server answered something unexpected, or does not qualify.
    #[error("{what}")]
    Unexpected {
        /// What.
        what: String,
    },
}

impl ServerError {
    /// What the caller can do about this error, if anything.
    pub fn remedy(&self) -> Option<Remedy> {
        match self {
            ServerError::Connect { .. } => Some(Remedy::ConnectionSettings),
            ServerError::TlsFile { .. } | ServerError::TlsOverSocket { .. } => {
                Some(Remedy::ConnectionSettings)
            }
            _ => None,
        }
    }
}
