//! What a backup is asked to do: [`BackupOptions`] (the source, full or incremental, how pages
//! are read), with the settings of a hot backup: how to reach the server
//! ([`ConnectOptions`]) and how to follow it ([`HotOptions`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use innodb_page::Lsn;

use super::files::Filter;
use super::layout::SourceDirs;
use crate::key_options::KeyOptions;

/// Where an incremental backup starts.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Incremental {
    /// On top of this previous backup (full or incremental, ours or mariabackup's).
    Basedir(PathBuf),
    /// Copy the pages with an LSN at or above this; `from_lsn` = this.
    Lsn(Lsn),
    /// From the newest `innodb_to_lsn` of the successful backups of this series name in the
    /// server's history table (`mysql.mariadb_backup_history`, as mariabackup's
    /// `--incremental-history-name`); needs a running server.
    HistoryName(String),
    /// From the `innodb_to_lsn` of the backup with this uuid in the server's history table
    /// (as mariabackup's `--incremental-history-uuid`); needs a running server.
    HistoryUuid(String),
}

/// Which long queries a hot backup kills when they keep it from taking a `BACKUP STAGE`
/// lock (see [`HotOptions::set_kill_long_queries_timeout`]), as mariabackup's
/// `--kill-long-query-type`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum KillQueryType {
    /// Only `SELECT` statements (mariabackup's default; its `UPDATE` type also kills only
    /// these).
    #[default]
    Select,
    /// Every statement that reads or changes data: `INSERT`, `UPDATE`, `DELETE`, `REPLACE`,
    /// `ALTER`, `LOAD`, `SELECT`, `DO`, `HANDLER`, `CALL`, `EXECUTE`, `BEGIN`.
    All,
}

/// Which account privileges a hot backup checks before it starts (`SHOW GRANTS`; see
/// [`HotOptions::set_privilege_check`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum PrivilegeCheck {
    /// No check: a statement the account may not run fails when it runs.
    Off,
    /// What this backup's statements need: `RELOAD` for the `BACKUP STAGE` locks; with
    /// binary logging on, `BINLOG MONITOR` (or `SUPER`) for the binary log position; for the
    /// replica's position or its SQL thread, `SLAVE MONITOR` and `REPLICATION SLAVE ADMIN`
    /// (or `SUPER`). One missing fails the backup before anything is copied
    /// ([`BackupError::MissingPrivileges`](super::BackupError::MissingPrivileges)). For
    /// killing long queries, `PROCESS` and `CONNECTION ADMIN` (or `SUPER`): one missing is a
    /// warning (the backup waits for those queries instead).
    #[default]
    Needed,
    /// mariabackup 10.11's check (its `--check-privileges`): with locks, `RELOAD` and
    /// `PROCESS` are required (one missing fails the backup, listing the account's grants);
    /// for the replica's position or a Galera node's state `SLAVE MONITOR`, and for the
    /// replica's SQL thread also `REPLICATION SLAVE ADMIN`, are warnings (the statement that
    /// needs one fails when it runs). A privilege counts only when granted by name or as
    /// `ALL PRIVILEGES` on `*.*`, as mariabackup reads `SHOW GRANTS`.
    Mariabackup,
}

/// How to reach a server, as the `mariadb` client's `--protocol` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Protocol {
    /// TCP, to the host (default `localhost`) and port (default 3306).
    Tcp,
    /// A Unix socket.
    Socket,
}

impl Protocol {
    /// `tcp` or `socket` (any case), as the MariaDB clients spell it.
    ///
    /// ```
    /// use incremental_core::backup::Protocol;
    /// assert_eq!(Protocol::from_name("TCP"), Some(Protocol::Tcp));
    /// assert_eq!(Protocol::from_name("pipe"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<Protocol> {
        match name.to_ascii_lowercase().as_str() {
            "tcp" => Some(Protocol::Tcp),
            "socket" => Some(Protocol::Socket),
            _ => None,
        }
    }
}

/// How to reach a running server. Settings left unset come from the option files, then from
/// the defaults (the socket of the process holding the datadir, the usual socket paths, the
/// login name as user, no password).
///
/// ```
/// use incremental_core::backup::ConnectOptions;
/// let mut o = ConnectOptions::new();
/// o.set_socket("/run/mysqld/mysqld.sock").set_user("backup");
/// assert_eq!(o.user(), Some("backup"));
/// assert!(!o.no_defaults());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectOptions {
    user: Option<String>,
    password: Option<String>,
    socket: Option<PathBuf>,
    host: Option<String>,
    port: Option<u16>,
    protocol: Option<Protocol>,
    defaults_file: Option<PathBuf>,
    defaults_extra_file: Option<PathBuf>,
    no_defaults: bool,
    tls: Option<TlsOptions>,
}

/// TLS for the connection to the server (the `mariadb` client's `--ssl` options).
///
/// TLS needs TCP: the client library never encrypts a Unix socket, so with TLS the server is
/// reached over TCP (its host and port from the options or the option files, a socket named
/// in an option file being passed over), and a socket asked for explicitly is refused
/// ([`ServerError::TlsOverSocket`](super::ServerError::TlsOverSocket)). A TLS connection is
/// never replaced by a plain one: a server without TLS fails the connection.
///
/// What is checked of the server's certificate, as MariaDB 10.11's client does:
/// - neither a CA nor [`set_verify_server_cert`](Self::set_verify_server_cert): nothing (the
///   connection is encrypted, the server not authenticated);
/// - a CA ([`set_ca`](Self::set_ca)): the certificate must chain to it (or to one of the
///   public web CAs the client library always trusts); its name is not checked;
/// - [`set_verify_server_cert`](Self::set_verify_server_cert): the chain and the host name
///   connected to (a subject alternative name; a name only in the subject's CN is not
///   accepted).
///
/// ```
/// use incremental_core::backup::{ConnectOptions, TlsOptions};
/// let mut t = TlsOptions::new();
/// t.set_ca("/etc/mysql/ca.pem").set_verify_server_cert(true);
/// let mut o = ConnectOptions::new();
/// o.set_host("db1").set_tls(t);
/// assert!(o.tls().unwrap().verify_server_cert());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsOptions {
    ca: Option<PathBuf>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    verify_server_cert: bool,
}

impl TlsOptions {
    /// TLS, checking nothing of the server's certificate, without a client certificate.
    pub fn new() -> TlsOptions {
        TlsOptions::default()
    }

    /// The CA certificates (PEM, or one DER certificate) the server's certificate must chain
    /// to.
    pub fn set_ca(&mut self, path: impl Into<PathBuf>) -> &mut Self {
        self.ca = Some(path.into());
        self
    }

    /// A client certificate (PEM chain) and its private key (PEM; may be the same file), for
    /// servers that ask for one (`REQUIRE X509`).
    pub fn set_client_identity(
        &mut self,
        cert: impl Into<PathBuf>,
        key: impl Into<PathBuf>,
    ) -> &mut Self {
        self.cert = Some(cert.into());
        self.key = Some(key.into());
        self
    }

    /// Check the server's certificate chain and its name against the host connected to
    /// (default off).
    pub fn set_verify_server_cert(&mut self, verify: bool) -> &mut Self {
        self.verify_server_cert = verify;
        self
    }

    /// The CA file set.
    pub fn ca(&self) -> Option<&Path> {
        self.ca.as_deref()
    }

    /// The client certificate set.
    pub fn cert(&self) -> Option<&Path> {
        self.cert.as_deref()
    }

    /// The client key set.
    pub fn key(&self) -> Option<&Path> {
        self.key.as_deref()
    }

    /// True when the server's certificate and name are checked.
    pub fn verify_server_cert(&self) -> bool {
        self.verify_server_cert
    }
}

impl ConnectOptions {
    /// Everything from the option files and the defaults.
    pub fn new() -> ConnectOptions {
        ConnectOptions::default()
    }

    /// The user name.
    pub fn set_user(&mut self, user: impl Into<String>) -> &mut Self {
        self.user = Some(user.into());
        self
    }

    /// The password.
    pub fn set_password(&mut self, password: impl Into<String>) -> &mut Self {
        self.password = Some(password.into());
        self
    }

    /// The server's Unix socket.
    pub fn set_socket(&mut self, socket: impl Into<PathBuf>) -> &mut Self {
        self.socket = Some(socket.into());
        self
    }

    /// The server's host. As with the `mariadb` client, a host other than `localhost` means
    /// TCP (a socket named in an option file is then not used), unless a socket is given
    /// too.
    pub fn set_host(&mut self, host: impl Into<String>) -> &mut Self {
        self.host = Some(host.into());
        self
    }

    /// The server's TCP port (default 3306). As with the `mariadb` client, giving a port means
    /// TCP (to `localhost` unless a host is given), unless a socket is given too.
    pub fn set_port(&mut self, port: u16) -> &mut Self {
        self.port = Some(port);
        self
    }

    /// How to connect, whatever the other settings imply (the `mariadb` client's
    /// `--protocol`).
    pub fn set_protocol(&mut self, protocol: Protocol) -> &mut Self {
        self.protocol = Some(protocol);
        self
    }

    /// Read only this option file.
    pub fn set_defaults_file(&mut self, path: impl Into<PathBuf>) -> &mut Self {
        self.defaults_file = Some(path.into());
        self
    }

    /// Read this option file after the global ones.
    pub fn set_defaults_extra_file(&mut self, path: impl Into<PathBuf>) -> &mut Self {
        self.defaults_extra_file = Some(path.into());
        self
    }

    /// Read no option file.
    pub fn set_no_defaults(&mut self, no_defaults: bool) -> &mut Self {
        self.no_defaults = no_defaults;
        self
    }

    /// Connect with TLS (over TCP; see [`TlsOptions`]). Default: no TLS.
    pub fn set_tls(&mut self, tls: TlsOptions) -> &mut Self {
        self.tls = Some(tls);
        self
    }

    /// The TLS settings, when TLS is asked for.
    pub fn tls(&self) -> Option<&TlsOptions> {
        self.tls.as_ref()
    }

    /// The user name set.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// The password set.
    pub fn password(&self) -> Option<&str> {
        self.password.as_deref()
    }

    /// The socket set.
    pub fn socket(&self) -> Option<&Path> {
        self.socket.as_deref()
    }

    /// The TCP host set.
    pub fn host(&self) -> Option<&str> {
        self.host.as_deref()
    }

    /// The TCP port set.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The protocol set.
    pub fn protocol(&self) -> Option<Protocol> {
        self.protocol
    }

    /// The only option file to read, if set.
    pub fn defaults_file(&self) -> Option<&Path> {
        self.defaults_file.as_deref()
    }

    /// The extra option file, if set.
    pub fn defaults_extra_file(&self) -> Option<&Path> {
        self.defaults_extra_file.as_deref()
    }

    /// True when no option file is read.
    pub fn no_defaults(&self) -> bool {
        self.no_defaults
    }

    /// True when a socket, host, port or protocol was given: the caller asked for a particular
    /// server.
    /// A backup of a datadir no server holds then refuses when that server cannot be reached
    /// ([`BackupError::ServerNotReached`](super::BackupError::ServerNotReached)) instead of
    /// going cold.
    ///
    /// ```
    /// let mut o = incremental_core::backup::ConnectOptions::new();
    /// assert!(!o.names_server());
    /// o.set_port(3307);
    /// assert!(o.names_server());
    /// ```
    pub fn names_server(&self) -> bool {
        self.socket.is_some()
            || self.host.is_some()
            || self.port.is_some()
            || self.protocol.is_some()
    }
}

/// How a hot backup treats the server and follows its redo log.
///
/// ```
/// let h = incremental_core::backup::HotOptions::default();
/// assert!(!h.block_ddl());
/// assert_eq!(h.poll_interval(), std::time::Duration::from_millis(20));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HotOptions {
    block_ddl: bool,
    poll_interval: Duration,
    end_timeout: Duration,
    no_lock: bool,
    kill_long_queries_timeout: Option<Duration>,
    kill_long_query_type: KillQueryType,
    slave_info: bool,
    safe_slave_backup: bool,
    safe_slave_backup_timeout: Duration,
    galera_info: bool,
    checkpoint_now: bool,
    start_lock_timeout: Option<Duration>,
    accept_no_lock_writes: bool,
    privilege_check: PrivilegeCheck,
}

impl Default for HotOptions {
    fn default() -> Self {
        HotOptions {
            block_ddl: false,
            poll_interval: Duration::from_millis(20),
            end_timeout: Duration::from_secs(60),
            no_lock: false,
            kill_long_queries_timeout: None,
            kill_long_query_type: KillQueryType::Select,
            slave_info: false,
            safe_slave_backup: false,
            safe_slave_backup_timeout: Duration::from_secs(300),
            galera_info: false,
            checkpoint_now: false,
            start_lock_timeout: None,
            accept_no_lock_writes: false,
            privilege_check: PrivilegeCheck::Needed,
        }
    }
}

impl HotOptions {
    /// Block DDL for the whole backup (`BACKUP STAGE FLUSH` and `BLOCK_DDL` before the copy
    /// starts): no DDL tracking is needed, but DDL statements wait until the backup ends, and
    /// so do writes to non-transactional (Aria, MyISAM) tables from the `FLUSH` stage on.
    /// Default: off (DDL run during the copy is tracked and written as DDL files).
    pub fn set_block_ddl(&mut self, block: bool) -> &mut Self {
        self.block_ddl = block;
        self
    }

    /// How often the redo follower looks for new log records once it has caught up (default
    /// 20 ms; at least 1 ms).
    pub fn set_poll_interval(&mut self, every: Duration) -> &mut Self {
        self.poll_interval = every.max(Duration::from_millis(1));
        self
    }

    /// How long to wait at the end for the copied redo log to reach the end LSN (default
    /// 60 s; at least 1 s).
    pub fn set_end_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.end_timeout = timeout.max(Duration::from_secs(1));
        self
    }

    /// Take no `BACKUP STAGE` lock (mariabackup's `--no-lock`): DDL and commits are never
    /// blocked. The InnoDB tablespaces are still made consistent by the copied redo log, but
    /// the result is consistent only if no DDL ran and no non-InnoDB table (Aria, MyISAM,
    /// including the `mysql` system tables) was written during the backup; no binary log
    /// position is recorded (it would not match the end LSN). The run checks what it can and
    /// says whether the result is consistent
    /// ([`HotReport::consistent`](super::HotReport::consistent)). Default off. (mariabackup
    /// 10.11.19 documents its `--no-lock` so, but takes its `BACKUP STAGE` locks anyway.)
    pub fn set_no_lock(&mut self, no_lock: bool) -> &mut Self {
        self.no_lock = no_lock;
        self
    }

    /// When a `BACKUP STAGE` lock (`FLUSH`, `BLOCK_DDL`, `BLOCK_COMMIT`) has been waited for
    /// this long, kill the queries of [`set_kill_long_query_type`](Self::set_kill_long_query_type)
    /// that have run at least as long as the wait, every second until the lock is taken
    /// (what mariabackup's `--kill-long-queries-timeout` did; mariabackup 10.11.19 still
    /// accepts the option but waits). Default `None`: wait, kill nothing.
    pub fn set_kill_long_queries_timeout(&mut self, after: Option<Duration>) -> &mut Self {
        self.kill_long_queries_timeout = after;
        self
    }

    /// Which queries [`set_kill_long_queries_timeout`](Self::set_kill_long_queries_timeout)
    /// kills (default [`KillQueryType::Select`]).
    pub fn set_kill_long_query_type(&mut self, kind: KillQueryType) -> &mut Self {
        self.kill_long_query_type = kind;
        self
    }

    /// See [`set_no_lock`](Self::set_no_lock).
    pub fn no_lock(&self) -> bool {
        self.no_lock
    }

    /// See [`set_kill_long_queries_timeout`](Self::set_kill_long_queries_timeout).
    pub fn kill_long_queries_timeout(&self) -> Option<Duration> {
        self.kill_long_queries_timeout
    }

    /// See [`set_kill_long_query_type`](Self::set_kill_long_query_type).
    pub fn kill_long_query_type(&self) -> KillQueryType {
        self.kill_long_query_type
    }

    /// See [`set_block_ddl`](Self::set_block_ddl).
    pub fn block_ddl(&self) -> bool {
        self.block_ddl
    }

    /// See [`set_poll_interval`](Self::set_poll_interval).
    pub fn poll_interval(&self) -> Duration {
        self.poll_interval
    }

    /// See [`set_end_timeout`](Self::set_end_timeout).
    pub fn end_timeout(&self) -> Duration {
        self.end_timeout
    }

    /// Record the replica's position in its sources' binary logs, read while commits are
    /// blocked, in `xtrabackup_slave_info` as the `CHANGE MASTER` statements (and
    /// `SET GLOBAL gtid_slave_pos`) that make a server restored from the backup replicate from
    /// there (mariabackup's `--slave-info`). No file when the server replicates from nothing.
    /// Default: off.
    pub fn set_slave_info(&mut self, record: bool) -> &mut Self {
        self.slave_info = record;
        self
    }

    /// Before the backup starts, stop the replica's SQL thread once it has no temporary table
    /// open (`Slave_open_temp_tables` = 0), letting it run 3 s at a time until then, and
    /// restart it when the backup ends (mariabackup's `--safe-slave-backup`): temporary tables
    /// live only in the server's memory, and a replica restored without them stops on the
    /// first statement that uses one. Default: off.
    pub fn set_safe_slave_backup(&mut self, safe: bool) -> &mut Self {
        self.safe_slave_backup = safe;
        self
    }

    /// How long [`set_safe_slave_backup`](Self::set_safe_slave_backup) waits for the replica's
    /// temporary tables to close before the backup fails (default 300 s, as mariabackup).
    pub fn set_safe_slave_backup_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.safe_slave_backup_timeout = timeout;
        self
    }

    /// On a Galera node, record its state (`wsrep_local_state_uuid:wsrep_last_committed
    /// wsrep_gtid_domain_id`), read while commits are blocked, in `xtrabackup_galera_info`
    /// and `donor_galera_info` (mariabackup's `--galera-info`). No file on another server.
    /// Default: off.
    pub fn set_galera_info(&mut self, record: bool) -> &mut Self {
        self.galera_info = record;
        self
    }

    /// Refuses what cannot go together: the replica's position recorded without locks
    /// ([`set_no_lock`](Self::set_no_lock)) matches the data only when the replica's SQL
    /// thread is stopped ([`set_safe_slave_backup`](Self::set_safe_slave_backup)), as
    /// mariabackup refuses it.
    pub(crate) fn check(&self) -> Result<(), super::BackupError> {
        if self.slave_info && self.no_lock && !self.safe_slave_backup {
            return Err(super::BackupError::ConflictingOptions {
                what: "the replica's position cannot be recorded without locks unless its SQL \
                       thread is stopped (safe slave backup): without BLOCK_COMMIT it would \
                       not match the data"
                    .into(),
            });
        }
        Ok(())
    }

    /// See [`set_slave_info`](Self::set_slave_info).
    pub fn slave_info(&self) -> bool {
        self.slave_info
    }

    /// See [`set_safe_slave_backup`](Self::set_safe_slave_backup).
    pub fn safe_slave_backup(&self) -> bool {
        self.safe_slave_backup
    }

    /// See [`set_safe_slave_backup_timeout`](Self::set_safe_slave_backup_timeout).
    pub fn safe_slave_backup_timeout(&self) -> Duration {
        self.safe_slave_backup_timeout
    }

    /// See [`set_galera_info`](Self::set_galera_info).
    pub fn galera_info(&self) -> bool {
        self.galera_info
    }

    /// Before the redo copy starts, ask the server for a checkpoint (`SET GLOBAL
    /// innodb_log_checkpoint_now=ON`, as mariabackup's `--innodb-log-checkpoint-now`): InnoDB
    /// writes every changed page to its files first, so the backup's redo starts later and
    /// the tablespaces created just before the backup have their first page written (else
    /// they are copied as `.new` files that the prepare completes). The account needs
    /// `SUPER`. A server without the variable (MariaDB before 10.11, or a build without it)
    /// is reported ([`HotReport::forced_checkpoint`](super::HotReport::forced_checkpoint)
    /// `== ForcedCheckpoint::Unsupported`) and the backup goes on without it; another refusal
    /// fails the backup. Default off.
    pub fn set_checkpoint_now(&mut self, force: bool) -> &mut Self {
        self.checkpoint_now = force;
        self
    }

    /// See [`set_checkpoint_now`](Self::set_checkpoint_now).
    pub fn checkpoint_now(&self) -> bool {
        self.checkpoint_now
    }

    /// How long `BACKUP STAGE START` may wait for its lock (it waits for the sessions that
    /// hold tables locked with `LOCK TABLES`) before the backup fails with
    /// [`BackupError::LockWaitTimeout`](super::BackupError::LockWaitTimeout), as mariabackup
    /// 10.11's `--startup-wait-timeout` (alias `--ftwrl-wait-timeout`): the session's
    /// `lock_wait_timeout`, whole seconds rounded up, at least 1, for that statement only (the
    /// later stages wait as the server's setting says). Unlike mariabackup, running queries
    /// are not waited for beforehand (`BACKUP STAGE START` does not wait for them). Unused
    /// without locks. Default `None`: wait as long as the server's `lock_wait_timeout` says.
    pub fn set_start_lock_timeout(&mut self, timeout: Option<Duration>) -> &mut Self {
        self.start_lock_timeout = timeout;
        self
    }

    /// See [`set_start_lock_timeout`](Self::set_start_lock_timeout).
    pub fn start_lock_timeout(&self) -> Option<Duration> {
        self.start_lock_timeout
    }

    /// Without locks ([`set_no_lock`](Self::set_no_lock)): accept non-InnoDB files and DDL
    /// written during the backup, as mariabackup's `--no-lock` does (the caller took that
    /// risk by asking for no locks): they are still listed
    /// ([`HotReport::written_during_backup`](super::HotReport::written_during_backup)) and
    /// [`HotReport::consistent`](super::HotReport::consistent) still says false, but
    /// [`HotReport::acceptable`](super::HotReport::acceptable) says true. Default off: such a
    /// backup is not acceptable.
    pub fn set_accept_no_lock_writes(&mut self, accept: bool) -> &mut Self {
        self.accept_no_lock_writes = accept;
        self
    }

    /// See [`set_accept_no_lock_writes`](Self::set_accept_no_lock_writes).
    pub fn accept_no_lock_writes(&self) -> bool {
        self.accept_no_lock_writes
    }

    /// Which account privileges to check before the backup starts (default
    /// [`PrivilegeCheck::Needed`]).
    pub fn set_privilege_check(&mut self, check: PrivilegeCheck) -> &mut Self {
        self.privilege_check = check;
        self
    }

    /// See [`set_privilege_check`](Self::set_privilege_check).
    pub fn privilege_check(&self) -> PrivilegeCheck {
        self.privilege_check
    }
}

/// What to back up and how: made by [`BackupOptions::new`] (or [`BackupOptions::of_server`])
/// and changed by the `set_*` methods, which can be chained.
///
/// Cold or hot: a datadir no server holds is copied as it is (cold). One a running server holds
/// is backed up hot, through that server, when connection settings were given
/// ([`set_connect`](Self::set_connect); [`ConnectOptions::new`] means "from the option files and the
/// server's own socket"); without them it is refused
/// ([`BackupError::ServerRunning`](super::BackupError::ServerRunning)).
///
/// ```
/// use incremental_core::backup::{BackupOptions, Incremental, DEFAULT_READERS};
/// use innodb_page::Lsn;
/// let mut o = BackupOptions::new("/var/lib/mysql");
/// o.set_incremental(Some(Incremental::Lsn(Lsn::new(2_500_000))))
///     .set_parallel(2);
/// assert_eq!(o.reader_threads(), 2);
/// assert!(!o.force_scan() && o.connect().is_none());
/// assert_eq!(DEFAULT_READERS, 4);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BackupOptions {
    datadir: Option<PathBuf>,
    incremental: Option<Incremental>,
    force_scan: bool,
    bitmap_dir: Option<PathBuf>,
    parallel: usize,
    filter: Filter,
    accept_partial_base: bool,
    log_innodb_page_corruption: bool,
    extended_validation: bool,
    chunk_bytes: usize,
    tool_command: String,
    tool_name: String,
    read_limit: Option<u64>,
    connect: Option<ConnectOptions>,
    hot: HotOptions,
    history: Option<String>,
    extra_lsndir: Option<PathBuf>,
    extra_lsndir_backup_info: bool,
    dirs: SourceDirs,
    keys: KeyOptions,
}

impl BackupOptions {
    /// A full backup of `datadir` (a stopped server's, a filesystem snapshot, or a running
    /// server's with [`set_connect`](Self::set_connect)) with default settings.
    pub fn new(datadir: impl Into<PathBuf>) -> BackupOptions {
        BackupOptions::with_source(Some(datadir.into()), None)
    }

    /// A hot full backup of the running server reached through `connect`, whose datadir
    /// (`@@datadir`) is backed up.
    pub fn of_server(connect: ConnectOptions) -> BackupOptions {
        BackupOptions::with_source(None, Some(connect))
    }

    fn with_source(datadir: Option<PathBuf>, connect: Option<ConnectOptions>) -> BackupOptions {
        BackupOptions {
            datadir,
            incremental: None,
            force_scan: false,
            bitmap_dir: None,
            parallel: 0,
            filter: Filter::default(),
            accept_partial_base: false,
            log_innodb_page_corruption: false,
            extended_validation: false,
            chunk_bytes: 2 << 20,
            tool_command: String::new(),
            tool_name: "xb".into(),
            read_limit: None,
            connect,
            hot: HotOptions::default(),
            history: None,
            extra_lsndir: None,
            extra_lsndir_backup_info: true,
            dirs: SourceDirs::default(),
            keys: KeyOptions::default(),
        }
    }

    /// Full (`None`, the default) or incremental.
    pub fn set_incremental(&mut self, from: Option<Incremental>) -> &mut Self {
        self.incremental = from;
        self
    }

    /// Never use changed-page bitmaps: read every page (default off).
    pub fn set_force_scan(&mut self, force: bool) -> &mut Self {
        self.force_scan = force;
        self
    }

    /// The directory of changed-page bitmap files (`ib_modified_log_*.xdb`); default: the
    /// datadir.
    pub fn set_bitmap_dir(&mut self, dir: impl Into<PathBuf>) -> &mut Self {
        self.bitmap_dir = Some(dir.into());
        self
    }

    /// Reader threads (0, the default: [`DEFAULT_READERS`](super::DEFAULT_READERS)).
    pub fn set_parallel(&mut self, threads: usize) -> &mut Self {
        self.parallel = threads;
        self
    }

    /// The tables of a partial backup (default: everything).
    pub fn set_filter(&mut self, filter: Filter) -> &mut Self {
        self.filter = filter;
        self
    }

    /// Take an incremental on top of a partial base anyway (tables the base lacks stay
    /// missing from the result). Default off: refused with
    /// [`BackupError::PartialBase`](super::BackupError::PartialBase).
    pub fn set_accept_partial_base(&mut self, accept: bool) -> &mut Self {
        self.accept_partial_base = accept;
        self
    }

    /// On a corrupt page, record it (in `innodb_corrupted_pages`, and copy it into the delta
    /// whatever its LSN, as mariabackup's `--log-innodb-page-corruption` does) instead of
    /// failing. Default off.
    pub fn set_log_innodb_page_corruption(&mut self, record: bool) -> &mut Self {
        self.log_innodb_page_corruption = record;
        self
    }

    /// Extended validation (mariabackup's `--extended-validation`): decrypt each encrypted
    /// page of the classic (non-full_crc32) layout in memory with the server's keys and check
    /// the checksum it had before encryption too, not only the one of the stored page; the
    /// copy stays encrypted. A page that fails is corrupt like any other
    /// ([`BackupError::CorruptPage`](super::BackupError::CorruptPage)). Needs the keys: a hot
    /// backup takes them from the server's encryption plugin, a cold one from the key
    /// options ([`set_keys`](Self::set_keys)). Default off.
    pub fn set_extended_validation(&mut self, on: bool) -> &mut Self {
        self.extended_validation = on;
        self
    }

    /// Bytes per read batch (default 2 MiB; at least 1).
    pub fn set_chunk_bytes(&mut self, bytes: usize) -> &mut Self {
        self.chunk_bytes = bytes.max(1);
        self
    }

    /// The command line, recorded in `xtrabackup_info` (`tool_command`).
    pub fn set_tool_command(&mut self, command: impl Into<String>) -> &mut Self {
        self.tool_command = command.into();
        self
    }

    /// The program's name, recorded in `xtrabackup_info` and the history table (`tool_name`;
    /// default `xb`).
    pub fn set_tool_name(&mut self, name: impl Into<String>) -> &mut Self {
        self.tool_name = name.into();
        self
    }

    /// Throttling: read the source's files at most this many bytes per second, all reader
    /// threads together, in short reads spread evenly over time. This lightens the load a
    /// backup puts on a running server's disk at the cost of a longer run (a hot backup then
    /// also needs a redo log large enough for the longer copy). What a hot backup copies while
    /// the server's DDL or commits are blocked (`BACKUP STAGE BLOCK_DDL`, `BLOCK_COMMIT`) and
    /// the redo log it follows are never throttled: slowing them would hold the server up or
    /// let the log wrap. Default `None`: no limit; `Some(0)` is taken as 1 byte per second.
    pub fn set_read_limit(&mut self, bytes_per_sec: Option<u64>) -> &mut Self {
        self.read_limit = bytes_per_sec;
        self
    }

    /// Allows a hot backup: when a running server holds the datadir, reach it with these
    /// settings. Without them (the default for [`new`](Self::new)) such a datadir is refused.
    pub fn set_connect(&mut self, connect: ConnectOptions) -> &mut Self {
        self.connect = Some(connect);
        self
    }

    /// How a hot backup treats the server.
    pub fn set_hot(&mut self, hot: HotOptions) -> &mut Self {
        self.hot = hot;
        self
    }

    /// Record the backup in the server's history table, `mysql.mariadb_backup_history`, with
    /// this series name (`""`: none), as mariabackup's `--history[=name]`: the table is
    /// created as mariabackup creates it, and one row with the `xtrabackup_info` values
    /// (which then also hold the row's `uuid` and `name`) is added when the backup is
    /// complete. Needs a hot backup. Default `None`: no history.
    pub fn set_history(&mut self, name: Option<String>) -> &mut Self {
        self.history = name;
        self
    }

    /// Also write `xtrabackup_checkpoints`, `xtrabackup_info` and `xb_backup_info` into this
    /// directory (created if missing), as mariabackup's `--extra-lsndir` (which writes the
    /// first two only: see [`set_extra_lsndir_backup_info`](Self::set_extra_lsndir_backup_info)):
    /// the base an incremental of a streamed backup names. Default `None`.
    pub fn set_extra_lsndir(&mut self, dir: Option<PathBuf>) -> &mut Self {
        self.extra_lsndir = dir;
        self
    }

    /// Whether [`set_extra_lsndir`](Self::set_extra_lsndir)'s directory also gets
    /// `xb_backup_info` (default true). Without it the directory holds exactly what
    /// mariabackup writes there; an incremental taking it as its base finds where the base's
    /// redo starts in `xtrabackup_info` (xb's key `xb_redo_start_lsn`) instead, and the chain's
    /// identity check (the base's backup id) is skipped.
    pub fn set_extra_lsndir_backup_info(&mut self, write: bool) -> &mut Self {
        self.extra_lsndir_backup_info = write;
        self
    }

    /// Cold backup of an encrypted server: where its `file_key_management` keys are (given
    /// settings over the server's option files, as `xb track` finds them). A hot backup asks
    /// the server instead. Default: the default option files only.
    pub fn set_keys(&mut self, keys: KeyOptions) -> &mut Self {
        self.keys = keys;
        self
    }

    /// Where the source's system tablespace is, when not in its datadir (as the server's and
    /// mariabackup's `--innodb-data-home-dir`; relative: to the datadir). A hot backup takes
    /// it from the server when not set. The backup holds the files at its top level.
    pub fn set_innodb_data_home_dir(&mut self, dir: Option<PathBuf>) -> &mut Self {
        self.dirs.data_home = dir;
        self
    }

    /// Where the source's redo log is (`--innodb-log-group-home-dir`), as
    /// [`set_innodb_data_home_dir`](Self::set_innodb_data_home_dir).
    pub fn set_innodb_log_group_home_dir(&mut self, dir: Option<PathBuf>) -> &mut Self {
        self.dirs.log_group_home = dir;
        self
    }

    /// Where the source's undo tablespaces are (`--innodb-undo-directory`), as
    /// [`set_innodb_data_home_dir`](Self::set_innodb_data_home_dir).
    pub fn set_innodb_undo_directory(&mut self, dir: Option<PathBuf>) -> &mut Self {
        self.dirs.undo = dir;
        self
    }

    /// Where the source's Aria log and control file are (`--aria-log-dir-path`), as
    /// [`set_innodb_data_home_dir`](Self::set_innodb_data_home_dir).
    pub fn set_aria_log_dir_path(&mut self, dir: Option<PathBuf>) -> &mut Self {
        self.dirs.aria_log = dir;
        self
    }

    /// The base name of the source's binary logs (`--log-bin`; relative: to the datadir):
    /// binary logs are never copied (the position is recorded), and a cold backup recognises
    /// them by this name when they are in the datadir. A hot backup asks the server.
    pub fn set_log_bin(&mut self, base: Option<PathBuf>) -> &mut Self {
        self.dirs.log_bin = base;
        self
    }

    /// See [`set_innodb_data_home_dir`](Self::set_innodb_data_home_dir).
    pub fn innodb_data_home_dir(&self) -> Option<&Path> {
        self.dirs.data_home.as_deref()
    }

    /// See [`set_innodb_log_group_home_dir`](Self::set_innodb_log_group_home_dir).
    pub fn innodb_log_group_home_dir(&self) -> Option<&Path> {
        self.dirs.log_group_home.as_deref()
    }

    /// See [`set_innodb_undo_directory`](Self::set_innodb_undo_directory).
    pub fn innodb_undo_directory(&self) -> Option<&Path> {
        self.dirs.undo.as_deref()
    }

    /// See [`set_aria_log_dir_path`](Self::set_aria_log_dir_path).
    pub fn aria_log_dir_path(&self) -> Option<&Path> {
        self.dirs.aria_log.as_deref()
    }

    /// See [`set_log_bin`](Self::set_log_bin).
    pub fn log_bin(&self) -> Option<&Path> {
        self.dirs.log_bin.as_deref()
    }

    /// The source's directories outside the datadir.
    pub(crate) fn dirs(&self) -> &SourceDirs {
        &self.dirs
    }

    /// See [`dirs`](Self::dirs).
    #[cfg(feature = "hot")]
    pub(crate) fn dirs_mut(&mut self) -> &mut SourceDirs {
        &mut self.dirs
    }

    /// See [`set_history`](Self::set_history).
    pub fn history(&self) -> Option<&str> {
        self.history.as_deref()
    }

    /// See [`set_extra_lsndir`](Self::set_extra_lsndir).
    pub fn extra_lsndir(&self) -> Option<&Path> {
        self.extra_lsndir.as_deref()
    }

    /// See [`set_extra_lsndir_backup_info`](Self::set_extra_lsndir_backup_info).
    pub fn extra_lsndir_backup_info(&self) -> bool {
        self.extra_lsndir_backup_info
    }

    /// The source datadir (`None`: the datadir of the server reached).
    pub fn datadir(&self) -> Option<&Path> {
        self.datadir.as_deref()
    }

    /// Full (`None`) or incremental.
    pub fn incremental(&self) -> Option<&Incremental> {
        self.incremental.as_ref()
    }

    /// See [`set_force_scan`](Self::set_force_scan).
    pub fn force_scan(&self) -> bool {
        self.force_scan
    }

    /// See [`set_bitmap_dir`](Self::set_bitmap_dir).
    pub fn bitmap_dir(&self) -> Option<&Path> {
        self.bitmap_dir.as_deref()
    }

    /// See [`set_parallel`](Self::set_parallel).
    pub fn parallel(&self) -> usize {
        self.parallel
    }

    /// See [`set_filter`](Self::set_filter).
    pub fn filter(&self) -> &Filter {
        &self.filter
    }

    /// See [`set_accept_partial_base`](Self::set_accept_partial_base).
    pub fn accept_partial_base(&self) -> bool {
        self.accept_partial_base
    }

    /// See [`set_log_innodb_page_corruption`](Self::set_log_innodb_page_corruption).
    pub fn log_innodb_page_corruption(&self) -> bool {
        self.log_innodb_page_corruption
    }

    /// See [`set_extended_validation`](Self::set_extended_validation).
    pub fn extended_validation(&self) -> bool {
        self.extended_validation
    }

    /// See [`set_chunk_bytes`](Self::set_chunk_bytes).
    pub fn chunk_bytes(&self) -> usize {
        self.chunk_bytes
    }

    /// See [`set_tool_command`](Self::set_tool_command).
    pub fn tool_command(&self) -> &str {
        &self.tool_command
    }

    /// See [`set_tool_name`](Self::set_tool_name).
    pub fn tool_name(&self) -> &str {
        &self.tool_name
    }

    /// See [`set_read_limit`](Self::set_read_limit).
    pub fn read_limit(&self) -> Option<u64> {
        self.read_limit
    }

    /// See [`set_connect`](Self::set_connect).
    pub fn connect(&self) -> Option<&ConnectOptions> {
        self.connect.as_ref()
    }

    /// See [`set_hot`](Self::set_hot).
    pub fn hot(&self) -> &HotOptions {
        &self.hot
    }

    /// See [`set_keys`](Self::set_keys).
    pub fn keys(&self) -> &KeyOptions {
        &self.keys
    }

    /// Reader threads: [`set_parallel`](Self::set_parallel), or by default
    /// [`DEFAULT_READERS`](super::DEFAULT_READERS).
    pub fn reader_threads(&self) -> usize {
        match self.parallel {
            0 => super::DEFAULT_READERS,
            n => n,
        }
    }
}
