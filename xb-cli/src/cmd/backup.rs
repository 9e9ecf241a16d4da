//! `xb backup`: full or incremental backup of a stopped datadir or a filesystem snapshot
//! (cold), or of a running MariaDB server (hot: the datadir is in use and xb can connect).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use incremental_core::backup::sink::{DirSink, Sink};
use incremental_core::backup::{
    BackupError, BackupKind, BackupOptions, BackupPlan, BackupReport, ConnectOptions, Filter,
    ForcedCheckpoint, HotOptions, Incremental, KillQueryType, PrivilegeCheck, Protocol,
    ServerError, SourceMode, TlsOptions,
};
use incremental_core::format::backup_info::Method;
use incremental_core::progress::Cancel;
use incremental_core::xbstream::StreamSink;
use incremental_core::Remedy;
use innodb_page::Lsn;

use crate::ui::{self, CliProgress};
use crate::{EXIT_FOUND_PROBLEM, EXIT_OK};

/// Arguments of `xb backup`.
#[derive(clap::Args)]
#[command(
    after_help = "Cold or hot: when the datadir is not in use (the server is stopped, or it is \
a filesystem snapshot), xb copies it as it is (cold), and warns when it was not shut down \
cleanly; but when --socket, --host, --port or --protocol names a server that cannot be reached, \
xb refuses instead. When a running server holds the datadir, xb connects to that server \
(options on the command line first, then the [client], [client-server], [mariadb-backup] \
groups of the option files, then the socket the server listens on; as for the mariadb client, \
--port or a --host other than localhost means TCP even when an option file names a socket) \
and takes a hot backup: it copies the redo log from the checkpoint at the start to the end of the backup, \
uses BACKUP STAGE to copy the non-InnoDB files and fix the end LSN, and tracks DDL run during \
the copy (.new/.ren/.del files), or blocks it with --block-ddl. It says which mode it uses.\n\n\
Exit status: 0 success; 1 the backup completed but recorded corrupt pages \
(--log-innodb-page-corruption); 2 error.\n\nExamples:\n  \
xb backup --datadir /var/lib/mysql --target-dir /backups/full\n  \
xb backup --datadir /var/lib/mysql --target-dir /backups/inc1 --incremental-basedir /backups/full\n  \
xb backup --socket /run/mysqld/mysqld.sock --user backup --target-dir /backups/full   # hot\n  \
xb backup --defaults-file /etc/mysql/backup.cnf --target-dir /backups/inc2 \
--incremental-basedir /backups/inc1\n  \
xb backup --datadir /var/lib/mysql --stream=xbstream --extra-lsndir /backups/lsn > full.xbstream\n  \
xb backup --datadir /var/lib/mysql --stream=xbstream --incremental-basedir /backups/lsn > inc1.xbstream"
)]
pub struct Args {
    /// The source datadir (for a hot backup it may be left out: the server's @@datadir).
    #[arg(long)]
    pub datadir: Option<PathBuf>,
    /// Where to write the backup (created with mode 0700; must not exist or be empty). Not
    /// used with --stream or --repo.
    #[arg(long)]
    pub target_dir: Option<PathBuf>,
    #[command(flatten)]
    pub repository: super::repo_args::RepoArgs,
    /// With --repo: `full`, or `incr` (the default: an incremental on the newest complete
    /// backup of the stanza, or a full backup when it has none).
    #[arg(
        long = "type",
        value_name = "TYPE",
        value_enum,
        help_heading = "Repository"
    )]
    pub backup_type: Option<RepoBackupType>,
    /// Write the backup to standard output as a stream of this format instead of a directory
    /// (xbstream: as mariabackup --stream=xbstream; extract it with xb extract or mbstream -x).
    #[arg(long, value_name = "FORMAT", value_enum)]
    pub stream: Option<StreamFormat>,
    /// Take an incremental backup on top of this backup (ours or mariabackup's).
    #[arg(long, conflicts_with = "incremental_lsn")]
    pub incremental_basedir: Option<PathBuf>,
    /// Take an incremental backup of the pages with an LSN at or above N.
    #[arg(long, value_name = "N")]
    pub incremental_lsn: Option<u64>,
    /// Read every page even if changed-page bitmaps cover the range.
    #[arg(long)]
    pub incremental_force_scan: bool,
    /// Directory of changed-page bitmaps (ib_modified_log_*.xdb); default: the datadir.
    #[arg(long)]
    pub bitmap_dir: Option<PathBuf>,
    /// Reader threads (default: 4; they mostly wait on the disk).
    #[arg(long, default_value_t = 0, hide_default_value = true)]
    pub parallel: usize,
    /// Read the datadir's files at most N MiB per second, all reader threads together, to
    /// spare a running server's disk (the redo log, and what is copied while DDL or commits
    /// are blocked, are never slowed). mariabackup's --throttle counts reads of up to 10 MiB
    /// instead.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub throttle: Option<u64>,
    /// Back up only tables matching these comma-separated db.table globs (`*`, `?`).
    #[arg(long, default_value = "")]
    pub tables: String,
    /// Leave out tables matching these comma-separated db.table globs.
    #[arg(long, default_value = "")]
    pub tables_exclude: String,
    /// Back up only these databases (or db.table names), space- or comma-separated.
    #[arg(long, default_value = "")]
    pub databases: String,
    /// Leave out these databases (or db.table names), space- or comma-separated; wins over
    /// --databases.
    #[arg(long, default_value = "")]
    pub databases_exclude: String,
    /// Back up only the tables named in this file (exact db.table names, one a line), and
    /// those matching --tables.
    #[arg(long, value_name = "FILE")]
    pub tables_file: Option<PathBuf>,
    /// Back up only the databases (or db.table names) named in this file, one a line, with
    /// those of --databases.
    #[arg(long, value_name = "FILE")]
    pub databases_file: Option<PathBuf>,
    /// Take an incremental on top of a partial base (tables missing from the base stay
    /// missing).
    #[arg(long)]
    pub accept_partial_base: bool,
    /// Record corrupt pages in innodb_corrupted_pages and continue, instead of stopping.
    #[arg(long)]
    pub log_innodb_page_corruption: bool,
    /// Also decrypt each encrypted page (crc32/innodb checksums, not full_crc32) in memory
    /// with the server's keys and check its own checksum (the copy stays encrypted).
    #[arg(long)]
    pub extended_validation: bool,
    /// Do not fsync the files written (faster; for tests and throwaway copies).
    #[arg(long)]
    pub no_sync: bool,
    #[command(flatten)]
    pub codec: super::codec_args::EncodeArgs,
    /// Print the report as JSON on standard output.
    #[arg(long)]
    pub json: bool,
    /// Hot backup: user to connect as (default: from the option files, else the login name).
    #[arg(long, short = 'u', help_heading = "Connection (hot backup)")]
    pub user: Option<String>,
    /// Hot backup: password; -p alone asks for it (on the terminal, else one line of
    /// standard input), as the MariaDB clients do.
    #[arg(
        long,
        short = 'p',
        num_args = 0..=1,
        value_name = "PASSWORD",
        help_heading = "Connection (hot backup)"
    )]
    pub password: Option<Option<String>>,
    /// Hot backup: the server's Unix socket.
    #[arg(long, short = 'S', help_heading = "Connection (hot backup)")]
    pub socket: Option<PathBuf>,
    /// Hot backup: the server's host; a host other than localhost means TCP, even when an
    /// option file names a socket (as for the mariadb client).
    #[arg(long, short = 'H', help_heading = "Connection (hot backup)")]
    pub host: Option<String>,
    /// Hot backup: the server's TCP port; giving one means TCP (to localhost unless --host is
    /// given), even when an option file names a socket.
    #[arg(long, short = 'P', help_heading = "Connection (hot backup)")]
    pub port: Option<u16>,
    /// Hot backup: how to connect, tcp or socket, whatever the other options imply.
    #[arg(
        long,
        value_name = "tcp|socket",
        value_parser = parse_protocol,
        help_heading = "Connection (hot backup)"
    )]
    pub protocol: Option<Protocol>,
    /// Hot backup: connect with TLS (implied by the other --ssl options). TLS goes over TCP
    /// (the client library never encrypts a Unix socket): to --host/--port, else the host and
    /// port of the option files, else localhost and the port the server listens on; a
    /// --socket or --protocol=socket is then refused. A server without TLS fails the backup.
    /// Without --ssl-ca or --ssl-verify-server-cert the server's certificate is not checked
    /// (as for MariaDB 10.11's clients).
    #[arg(long, help_heading = "Connection (hot backup)")]
    pub ssl: bool,
    /// Hot backup, TLS: the CA certificates (PEM file) the server's certificate must chain to
    /// (its name is checked only with --ssl-verify-server-cert).
    #[arg(long, value_name = "FILE", help_heading = "Connection (hot backup)")]
    pub ssl_ca: Option<PathBuf>,
    /// Hot backup, TLS: the client certificate (PEM), for a user created REQUIRE X509.
    #[arg(long, value_name = "FILE", help_heading = "Connection (hot backup)")]
    pub ssl_cert: Option<PathBuf>,
    /// Hot backup, TLS: the client certificate's private key (PEM; default: the --ssl-cert
    /// file).
    #[arg(
        long,
        value_name = "FILE",
        requires = "ssl_cert",
        help_heading = "Connection (hot backup)"
    )]
    pub ssl_key: Option<PathBuf>,
    /// Hot backup, TLS: check the server's certificate chain (against --ssl-ca, else the
    /// public web CAs) and that it names the host connected to (a subject alternative name).
    #[arg(long, help_heading = "Connection (hot backup)")]
    pub ssl_verify_server_cert: bool,
    /// Read connection options only from this option file.
    #[arg(long, value_name = "FILE", help_heading = "Connection (hot backup)")]
    pub defaults_file: Option<PathBuf>,
    /// Read this option file after the global ones.
    #[arg(long, value_name = "FILE", help_heading = "Connection (hot backup)")]
    pub defaults_extra_file: Option<PathBuf>,
    /// Read no option file.
    #[arg(long, help_heading = "Connection (hot backup)")]
    pub no_defaults: bool,
    /// Cold backup of an encrypted server: its key settings (else those of its option files,
    /// --defaults-file or the default ones).
    #[command(flatten, next_help_heading = "Encryption (cold backup)")]
    pub keys: super::track::KeyArgs,
    /// Hot backup: block DDL for the whole backup (BACKUP STAGE BLOCK_DDL from the start)
    /// instead of tracking it; DDL statements and writes to Aria/MyISAM tables wait meanwhile.
    #[arg(long, help_heading = "Hot backup")]
    pub block_ddl: bool,
    /// Hot backup: how often the redo log is read when the copy has caught up (ms).
    #[arg(
        long,
        value_name = "MS",
        default_value_t = 20,
        help_heading = "Hot backup"
    )]
    pub log_copy_interval: u64,
    /// Hot backup: seconds to wait at the end for the redo log to reach the end LSN.
    #[arg(
        long,
        value_name = "S",
        default_value_t = 60,
        help_heading = "Hot backup"
    )]
    pub end_timeout: u64,
    /// Hot backup: take no BACKUP STAGE lock (as mariabackup's --no-lock documents it). Only
    /// for servers whose tables are all InnoDB: the result is consistent only if no DDL ran
    /// and no Aria/MyISAM table (the mysql system tables included) was written meanwhile; xb
    /// checks that and says so (exit 1 if something was written); no binary log position is
    /// recorded. (mariabackup 10.11 documents this, but takes its BACKUP STAGE locks anyway.)
    #[arg(long, help_heading = "Hot backup", conflicts_with = "block_ddl")]
    pub no_lock: bool,
    /// Hot backup with --no-lock: non-InnoDB tables or DDL written during the backup are a
    /// warning, not a failure (exit 0), as with mariabackup's --no-lock.
    #[arg(long, help_heading = "Hot backup", requires = "no_lock")]
    pub no_lock_accept_writes: bool,
    /// Hot backup: fail when BACKUP STAGE START (which waits for sessions holding tables
    /// locked with LOCK TABLES) is not granted within S seconds (0: wait as the server's
    /// lock_wait_timeout says). mariabackup's --startup-wait-timeout (--ftwrl-wait-timeout).
    #[arg(
        long,
        value_name = "S",
        default_value_t = 0,
        help_heading = "Hot backup"
    )]
    pub start_lock_timeout: u64,
    /// Hot backup: have the server write a checkpoint before the copy (SET GLOBAL
    /// innodb_log_checkpoint_now, needs SUPER): less redo to copy and apply, and tables
    /// created just before are copied whole instead of as .new files. Skipped, with a note,
    /// on a server without that variable.
    #[arg(long, help_heading = "Hot backup")]
    pub force_checkpoint: bool,
    /// Hot backup: which privileges of the account to check first (SHOW GRANTS): needed
    /// (those this backup's statements need: a missing one fails it before anything is
    /// copied), mariabackup (mariabackup 10.11's check: RELOAD and PROCESS with locks), or
    /// off.
    #[arg(
        long,
        value_name = "CHECK",
        value_enum,
        default_value = "needed",
        help_heading = "Hot backup"
    )]
    pub check_privileges: CheckPrivileges,
    /// Hot backup: when a BACKUP STAGE lock has been waited for S seconds, kill the queries
    /// (of --kill-long-query-type) that have run at least that long, once a second until the
    /// lock is taken (0: never). (mariabackup 10.11 accepts this option but no longer acts on
    /// it: it waits.)
    #[arg(
        long,
        value_name = "S",
        default_value_t = 0,
        help_heading = "Hot backup"
    )]
    pub kill_long_queries_timeout: u64,
    /// Hot backup: which queries --kill-long-queries-timeout kills: select (SELECT
    /// statements), all (also INSERT, UPDATE, DELETE, REPLACE, ALTER, LOAD, DO, HANDLER,
    /// CALL, EXECUTE, BEGIN); update kills only SELECTs, as in mariabackup.
    #[arg(
        long,
        value_name = "TYPE",
        value_enum,
        default_value = "select",
        help_heading = "Hot backup"
    )]
    pub kill_long_query_type: KillType,
    /// Hot backup: record the backup in the server's mysql.mariadb_backup_history table (the
    /// table and columns mariabackup --history uses), with this series name if given.
    #[arg(
        long,
        value_name = "NAME",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "",
        help_heading = "History"
    )]
    pub history: Option<String>,
    /// Take an incremental from the newest backup (highest innodb_to_lsn) of this series
    /// name in mysql.mariadb_backup_history (needs a running server).
    #[arg(
        long,
        value_name = "NAME",
        help_heading = "History",
        conflicts_with_all = ["incremental_basedir", "incremental_lsn", "incremental_history_uuid"]
    )]
    pub incremental_history_name: Option<String>,
    /// Take an incremental from the backup with this uuid in mysql.mariadb_backup_history.
    #[arg(
        long,
        value_name = "UUID",
        help_heading = "History",
        conflicts_with_all = ["incremental_basedir", "incremental_lsn"]
    )]
    pub incremental_history_uuid: Option<String>,
    /// Also write xtrabackup_checkpoints, xtrabackup_info and xb_backup_info into this directory:
    /// with --stream, the base that the next --incremental-basedir names.
    #[arg(long, value_name = "DIR")]
    pub extra_lsndir: Option<PathBuf>,
    /// Where the source's system tablespace (ibdata*) is, when not in the datadir (relative:
    /// to the datadir). Hot: from the server when not given.
    #[arg(long, value_name = "DIR", help_heading = "Source layout")]
    pub innodb_data_home_dir: Option<PathBuf>,
    /// Where the source's redo log (ib_logfile0) is, when not in the datadir.
    #[arg(long, value_name = "DIR", help_heading = "Source layout")]
    pub innodb_log_group_home_dir: Option<PathBuf>,
    /// Where the source's undo tablespaces (undoNNN) are, when not in the datadir.
    #[arg(long, value_name = "DIR", help_heading = "Source layout")]
    pub innodb_undo_directory: Option<PathBuf>,
    /// Where the source's Aria log and control file are, when not in the datadir.
    #[arg(long, value_name = "DIR", help_heading = "Source layout")]
    pub aria_log_dir_path: Option<PathBuf>,
    /// The base name of the source's binary logs (never copied; a cold backup leaves out the
    /// files of this name; hot: from the server).
    #[arg(
        long,
        value_name = "NAME",
        num_args = 0..=1,
        require_equals = true,
        help_heading = "Source layout"
    )]
    pub log_bin: Option<Option<PathBuf>>,
    /// Hot backup of a replica: record its position in its sources' binary logs, taken while
    /// commits are blocked, in xtrabackup_slave_info as CHANGE MASTER statements (GTID or
    /// file/position, one per replication connection) for a new replica made from the backup.
    #[arg(long, help_heading = "Replication")]
    pub slave_info: bool,
    /// Hot backup of a replica: stop its SQL thread before the backup, once no temporary
    /// table of the replica is open (Slave_open_temp_tables = 0), letting it run 3 s at a time
    /// until then; restart it when the backup ends.
    #[arg(long, help_heading = "Replication")]
    pub safe_slave_backup: bool,
    /// Seconds --safe-slave-backup waits for the replica's temporary tables to close before
    /// the backup fails.
    #[arg(
        long,
        value_name = "S",
        default_value_t = 300,
        help_heading = "Replication"
    )]
    pub safe_slave_backup_timeout: u64,
    /// Hot backup of a Galera node: record its state, taken while commits are blocked, in
    /// xtrabackup_galera_info and donor_galera_info as UUID:SEQNO DOMAIN
    /// (wsrep_local_state_uuid, wsrep_last_committed, wsrep_gtid_domain_id).
    #[arg(long, help_heading = "Replication")]
    pub galera_info: bool,
    /// The program's name recorded in xtrabackup_info and the history table (xb run as
    /// mariabackup gives its own).
    #[arg(long, hide = true, default_value = "xb")]
    pub tool_name: String,
}

fn parse_protocol(s: &str) -> Result<Protocol, String> {
    Protocol::from_name(s).ok_or_else(|| format!("{s}: give tcp or socket"))
}

fn connect_options(a: &Args) -> ConnectOptions {
    let mut c = ConnectOptions::new();
    c.set_no_defaults(a.no_defaults);
    if let Some(u) = &a.user {
        c.set_user(u.as_str());
    }
    if let Some(Some(p)) = &a.password {
        c.set_password(p.as_str());
    }
    if let Some(s) = &a.socket {
        c.set_socket(s.as_path());
    }
    if let Some(h) = &a.host {
        c.set_host(h.as_str());
    }
    if let Some(p) = a.port {
        c.set_port(p);
    }
    if let Some(p) = a.protocol {
        c.set_protocol(p);
    }
    if let Some(f) = &a.defaults_file {
        c.set_defaults_file(f.as_path());
    }
    if let Some(f) = &a.defaults_extra_file {
        c.set_defaults_extra_file(f.as_path());
    }
    if a.ssl || a.ssl_ca.is_some() || a.ssl_cert.is_some() || a.ssl_verify_server_cert {
        let mut t = TlsOptions::new();
        if let Some(ca) = &a.ssl_ca {
            t.set_ca(ca.as_path());
        }
        if let Some(cert) = &a.ssl_cert {
            t.set_client_identity(cert.as_path(), a.ssl_key.as_ref().unwrap_or(cert).as_path());
        }
        t.set_verify_server_cert(a.ssl_verify_server_cert);
        c.set_tls(t);
    }
    c
}

/// `--type` (with `--repo`).
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RepoBackupType {
    /// A full backup.
    Full,
    /// An incremental on the newest complete backup (a full one if there is none).
    Incr,
}

/// `--stream`.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StreamFormat {
    /// MariaDB's xbstream (`mbstream`, `mariabackup --stream=xbstream`).
    Xbstream,
}

/// `--check-privileges`.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum CheckPrivileges {
    /// What this backup's statements need.
    Needed,
    /// mariabackup 10.11's check.
    Mariabackup,
    /// No check.
    Off,
}

/// `--kill-long-query-type`.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum KillType {
    /// SELECT statements.
    Select,
    /// Every statement that reads or changes data.
    All,
    /// SELECT statements (as mariabackup).
    Update,
}

fn hot_options(a: &Args) -> HotOptions {
    let mut h = HotOptions::default();
    let kill_type = match a.kill_long_query_type {
        KillType::All => KillQueryType::All,
        KillType::Select | KillType::Update => KillQueryType::Select,
    };
    let kill_after =
        (a.kill_long_queries_timeout > 0).then(|| Duration::from_secs(a.kill_long_queries_timeout));
    h.set_no_lock(a.no_lock)
        .set_kill_long_queries_timeout(kill_after)
        .set_kill_long_query_type(kill_type);
    h.set_block_ddl(a.block_ddl)
        .set_poll_interval(Duration::from_millis(a.log_copy_interval))
        .set_end_timeout(Duration::from_secs(a.end_timeout))
        .set_slave_info(a.slave_info)
        .set_safe_slave_backup(a.safe_slave_backup)
        .set_safe_slave_backup_timeout(Duration::from_secs(a.safe_slave_backup_timeout))
        .set_galera_info(a.galera_info)
        .set_accept_no_lock_writes(a.no_lock_accept_writes)
        .set_checkpoint_now(a.force_checkpoint)
        .set_start_lock_timeout(
            (a.start_lock_timeout > 0).then(|| Duration::from_secs(a.start_lock_timeout)),
        )
        .set_privilege_check(match a.check_privileges {
            CheckPrivileges::Needed => PrivilegeCheck::Needed,
            CheckPrivileges::Mariabackup => PrivilegeCheck::Mariabackup,
            CheckPrivileges::Off => PrivilegeCheck::Off,
        });
    h
}

/// The command line as recorded in `xtrabackup_info` (`tool_command`): passwords masked
/// (`-pSECRET`, `--password=SECRET`, and the value after `-p` or `--password`).
fn tool_command() -> String {
    let mut out: Vec<String> = Vec::new();
    let mut after_password = false;
    for a in std::env::args().skip(1) {
        if std::mem::take(&mut after_password) && !a.starts_with('-') {
            out.push("xxxxxxxx".into());
        } else if a.starts_with("--password=") {
            out.push("--password=xxxxxxxx".into());
        } else if a.starts_with("-p") && a.len() > 2 && !a.starts_with("--") {
            out.push("-pxxxxxxxx".into());
        } else {
            after_password = a == "--password" || a == "-p";
            out.push(a);
        }
    }
    out.join(" ")
}

fn incremental(a: &Args) -> Option<Incremental> {
    if let Some(n) = &a.incremental_history_name {
        return Some(Incremental::HistoryName(n.clone()));
    }
    if let Some(u) = &a.incremental_history_uuid {
        return Some(Incremental::HistoryUuid(u.clone()));
    }
    match (&a.incremental_basedir, a.incremental_lsn) {
        (Some(b), _) => Some(Incremental::Basedir(b.clone())),
        (None, Some(n)) => Some(Incremental::Lsn(Lsn::new(n))),
        (None, None) => None,
    }
}

/// The partial-backup filters, reading --tables-file and --databases-file.
fn filter(a: &Args) -> Result<Filter, BackupError> {
    let mut filter = Filter::default();
    filter
        .set_tables(&a.tables)
        .set_tables_exclude(&a.tables_exclude)
        .set_databases(&a.databases)
        .set_databases_exclude(&a.databases_exclude);
    if let Some(f) = &a.tables_file {
        filter.read_tables_file(f)?;
    }
    if let Some(f) = &a.databases_file {
        filter.read_databases_file(f)?;
    }
    Ok(filter)
}

/// The library's options from the command line: hot when a running server holds the datadir
/// (reached with the connection options), cold otherwise.
fn backup_options(a: &Args) -> Result<BackupOptions, BackupError> {
    let connect = connect_options(a);
    let mut o = match &a.datadir {
        Some(d) => BackupOptions::new(d),
        None => BackupOptions::of_server(connect.clone()),
    };
    let filter = filter(a)?;
    o.set_connect(connect)
        .set_hot(hot_options(a))
        .set_incremental(incremental(a))
        .set_force_scan(a.incremental_force_scan)
        .set_parallel(a.parallel)
        .set_filter(filter)
        .set_accept_partial_base(a.accept_partial_base)
        .set_log_innodb_page_corruption(a.log_innodb_page_corruption)
        .set_extended_validation(a.extended_validation)
        .set_tool_command(tool_command())
        .set_tool_name(a.tool_name.as_str())
        .set_read_limit(a.throttle.map(|mib| mib.saturating_mul(1 << 20)))
        .set_history(a.history.clone())
        .set_extra_lsndir(a.extra_lsndir.clone())
        .set_innodb_data_home_dir(a.innodb_data_home_dir.clone())
        .set_innodb_log_group_home_dir(a.innodb_log_group_home_dir.clone())
        .set_innodb_undo_directory(a.innodb_undo_directory.clone())
        .set_aria_log_dir_path(a.aria_log_dir_path.clone())
        .set_log_bin(a.log_bin.clone().flatten());
    if let Some(b) = &a.bitmap_dir {
        o.set_bitmap_dir(b.as_path());
    }
    Ok(o)
}

/// A server error in the CLI's words.
fn server_words(e: &ServerError) -> String {
    if let ServerError::Connect { code: Some(_), .. } = e {
        // the server answered (a wrong password, an unknown user)
        return format!(
            "{e}; check the user and password (--user, --password, or the [client] group of \
             an option file)"
        );
    }
    match e {
        ServerError::TlsOverSocket { .. } => {
            return format!(
                "{e}; with --ssl leave out --socket and --protocol=socket (xb then connects over \
                 TCP: --host/--port, or those of the option files)"
            )
        }
        ServerError::TlsFile { .. } => {
            return format!("{e}; check --ssl-ca, --ssl-cert and --ssl-key")
        }
        _ => {}
    }
    match e.remedy() {
        Some(Remedy::ConnectionSettings) => format!(
            "{e}; give --socket (or --host/--port), --user and --password, or put them in the \
             [client] group of an option file"
        ),
        _ => e.to_string(),
    }
}

/// The library's refusal to record a replica's position without locks.
fn a_slave_info_without_lock(e: &BackupError) -> bool {
    e.to_string()
        .contains("replica's position cannot be recorded without locks")
}

/// A backup error in the CLI's words: the library's message with the remedy as flags.
pub(super) fn words(e: BackupError) -> anyhow::Error {
    // the error stays the source: the mariabackup front end words these its own way
    let advice = match &e {
        BackupError::MissingPrivileges { .. } => Some(
            "grant them to the account (GRANT ... ON *.* TO ...), or back up without locks \
             (--no-lock), or skip the check (--check-privileges=off)",
        ),
        BackupError::LockWaitTimeout { .. } => {
            Some("end those sessions' locks, or give a longer --start-lock-timeout")
        }
        _ => None,
    };
    if let Some(advice) = advice {
        let text = format!("{e}; {advice}");
        return anyhow::Error::new(e).context(text);
    }
    let text = match &e {
        BackupError::StartAfterCheckpoint {
            path,
            lsn,
            checkpoint,
            ..
        } => format!(
            "{}: --incremental-lsn {lsn} is after this datadir's checkpoint {checkpoint}: give \
             the to_lsn of the previous backup",
            path.display()
        ),
        BackupError::TargetNotEmpty { path, .. } => format!(
            "writing {p}: {p}: the target directory is not empty; give a new or empty directory",
            p = path.display()
        ),
        BackupError::ServerUnreachable {
            path, pid, source, ..
        } => format!(
            "{}: in use by a running server (process {pid}), and xb cannot connect to it for a \
             hot backup: {}",
            path.display(),
            server_words(source)
        ),
        BackupError::ServerNotReached { path, source } => format!(
            "{}: no running server holds this datadir, and the server asked for cannot be \
             reached: {}; start that server for a hot backup, or leave out --socket, --host, --port \
             and --protocol to copy the stopped datadir as it is (cold)",
            path.display(),
            match source {
                ServerError::Connect { code: Some(_), .. } => server_words(source),
                _ => source.to_string(),
            }
        ),
        BackupError::WrongServer { path, .. } => format!(
            "{e}: connect to the server of {} (--socket) or give its datadir",
            path.display()
        ),
        BackupError::Server(s) => server_words(s),

        BackupError::ConflictingOptions { .. }
            if a_slave_info_without_lock(&e) =>
        {
            "--slave-info with --no-lock needs --safe-slave-backup: without BLOCK_COMMIT the \
             replica's position would not match the data"
                .to_string()
        }
        _ => {
            let remedy = match e.remedy() {
                Some(Remedy::RecordCorruptPages) => {
                    " (pass --log-innodb-page-corruption to record such pages and continue)"
                }
                Some(Remedy::AcceptPartialBase) => {
                    "; pass --accept-partial-base to take the incremental anyway"
                }
                Some(Remedy::GiveStartLsn) => "; give the LSN with --incremental-lsn instead",
                _ => "",
            };
            // the library's error stays in the chain (the mariabackup front end reads it)
            let text = format!("{e}{remedy}");
            return anyhow::Error::new(e).context(text);
        }
    };
    anyhow::anyhow!(text)
}

/// Planning failed: without --datadir, a server that cannot be reached means there is nothing
/// to back up (one that answered, refusing the login, is reported as such).
pub(super) fn planning_error(a: &Args, e: BackupError) -> anyhow::Error {
    match (&a.datadir, &e) {
        (None, BackupError::Server(s @ ServerError::Connect { code: None, .. })) => {
            anyhow::anyhow!(
                "no --datadir given, and no running server to back up: {}; give --datadir for a \
             stopped server",
                server_words(s)
            )
        }
        _ => words(e),
    }
}

/// The line that says what the run will do; `repo_kind` says what a backup into a repository
/// is (full, or incremental on which backup of the repository).
pub(super) fn describe(plan: &BackupPlan, repo_kind: Option<&str>) -> String {
    let dd = plan.datadir().display();
    if let SourceMode::Hot {
        pid,
        server,
        version,
        ..
    } = plan.mode()
    {
        let kind = match plan.options().incremental() {
            _ if let Some(k) = repo_kind => k.to_string(),
            Some(Incremental::Basedir(b)) => format!("incremental on {}", b.display()),
            Some(Incremental::Lsn(n)) => format!("incremental from LSN {n}"),
            Some(_) => match plan.kind() {
                BackupKind::Incremental { why, .. } => format!("incremental from the {why}"),
                _ => "incremental".to_string(),
            },
            _ => "full".to_string(),
        };
        let pid = pid.map_or_else(String::new, |p| format!(" (process {p})"));
        return format!(
            "hot {kind} backup of the running server{pid} (MariaDB {version}) through \
             {server}: datadir {dd}"
        );
    }
    let (checkpoint, end) = plan
        .redo()
        .map_or_else(Default::default, |r| (r.checkpoint_lsn, r.end_lsn));
    match plan.kind() {
        BackupKind::Incremental {
            from_lsn,
            threshold,
            why,
            ..
        } => format!(
            "cold {} backup of {dd} (no server holds it) from LSN {from_lsn} to \
             checkpoint {checkpoint}: copying pages with LSN >= {threshold} ({why}), method {}",
            repo_kind.unwrap_or("incremental"),
            method_words(plan.method(), *threshold, checkpoint)
        ),
        _ => format!(
            "cold {} backup of {dd} (no server holds it) at checkpoint {checkpoint} (redo to \
             {end})",
            repo_kind.unwrap_or("full")
        ),
    }
}

/// Runs `xb backup`.
pub fn run(a: Args) -> anyhow::Result<u8> {
    run_with(a, |_| {}, |_| {})
}

/// Runs `xb backup` with the library's options changed by `adjust` before the run, and
/// `after` called with the report of a backup to a directory or a stream (the mariabackup
/// front end's own lines).
pub fn run_with(
    mut a: Args,
    adjust: impl FnOnce(&mut BackupOptions),
    after: impl FnOnce(&BackupReport),
) -> anyhow::Result<u8> {
    if let Some(None) = a.password {
        let p = crate::password::ask().context("reading the password")?;
        a.password = Some(Some(p));
    }
    let mut options = backup_options(&a).map_err(words)?;
    adjust(&mut options);
    let codec = a.codec.options()?;
    options.set_keys(super::track::key_options(
        &a.keys,
        a.defaults_file.as_deref(),
    )?);
    let config = if a.no_defaults {
        super::repo_args::Config::default()
    } else {
        super::repo_args::Config::read(a.defaults_file.as_deref(), a.defaults_extra_file.as_deref())
    };
    if a.target_dir.is_none() && a.stream.is_none() && a.repository.given(&config) {
        return super::backup_repo::run(&a, options, &config);
    }
    if a.backup_type.is_some() {
        anyhow::bail!("--type is for backups into a repository (--repo)");
    }
    // the target before the server: a refusal leaves both untouched
    let target = output(&a)?;
    if let Output::Dir(dir) = &target {
        DirSink::check_target(dir).map_err(words)?;
    }
    let plan = BackupPlan::new(&options).map_err(|e| planning_error(&a, e))?;
    ui::note(describe(&plan, None));
    let sink: Box<dyn Sink> = match &target {
        Output::Dir(dir) => Box::new(DirSink::new(dir).map_err(words)?.sync(!a.no_sync)),
        Output::Stdout => Box::new(StreamSink::new(std::io::BufWriter::with_capacity(
            1 << 20,
            std::io::stdout(),
        ))),
    };
    let mut sink = super::codec_args::encoding(sink, &codec)?;
    let progress = CliProgress::new("backup");
    let report = plan
        .run(&mut *sink, &progress, &Cancel::new())
        .map_err(words)?;
    progress.finish();
    after(&report);
    print_report(&a, &report)
}

/// Where the backup goes.
enum Output {
    /// A new directory.
    Dir(PathBuf),
    /// Standard output, as a stream (`--stream`).
    Stdout,
}

/// The destination from --target-dir and --stream: a stream goes to standard output, which
/// must not be a terminal; `--target-dir -` alone is refused (it would be a directory named
/// `-`), and --target-dir is not used with --stream.
fn output(a: &Args) -> anyhow::Result<Output> {
    use std::io::IsTerminal;
    match (a.stream, &a.target_dir) {
        (Some(StreamFormat::Xbstream), dir) => {
            if std::io::stdout().is_terminal() {
                anyhow::bail!(
                    "--stream writes the backup to standard output, which is a terminal: \
                     redirect it to a file or a pipe (xb backup ... --stream=xbstream > \
                     backup.xbstream)"
                );
            }
            if let Some(d) = dir.as_ref().filter(|d| d.as_os_str() != "-") {
                ui::note(format!(
                    "--target-dir {} is not used with --stream (the backup goes to standard \
                     output)",
                    d.display()
                ));
            }
            Ok(Output::Stdout)
        }
        (None, Some(d)) if d.as_os_str() == "-" => anyhow::bail!(
            "--target-dir -: to write the backup to standard output give --stream=xbstream; \
             else give a directory"
        ),
        (None, Some(d)) => Ok(Output::Dir(d.clone())),
        (None, None) => anyhow::bail!("give --target-dir DIR, --stream=xbstream, or --repo URL"),
    }
}

pub(super) fn print_report(a: &Args, report: &BackupReport) -> anyhow::Result<u8> {
    let p = report.phases;
    ui::note(format!(
        "time: plan {:.3} s, files {:.3} s, redo {:.3} s, sync {:.3} s; {} reader threads",
        p.plan, p.files, p.redo, p.sync, report.threads
    ));
    ui::note(format!(
        "done in {:.1} s: {} tablespaces, {} pages read, {} copied, {} skipped; {} other \
         files; redo {} bytes (LSN {} to {}); method {}",
        report.seconds,
        report.tablespaces.len(),
        report.pages_scanned(),
        report.pages_copied(),
        report.pages_skipped(),
        report.other_files,
        report.redo_bytes,
        report.to_lsn,
        report.last_lsn,
        method_words(report.method, report.selection_lsn, report.to_lsn)
    ));
    if let Some(h) = report.hot() {
        print_hot(report, h);
    }
    let corrupt = report.corrupt_pages();
    if corrupt > 0 {
        let dir = a.target_dir.as_ref().filter(|_| a.stream.is_none());
        ui::note(format!(
            "{corrupt} corrupt pages recorded in {}innodb_corrupted_pages",
            dir.map_or_else(String::new, |d| format!("{}/", d.display()))
        ));
    }
    if a.json {
        // with --stream, standard output carries the stream: the report goes to standard error
        let json = serde_json::to_value(report)?;
        match a.stream {
            Some(_) => eprintln!("{json}"),
            None => println!("{json}"),
        }
    }
    let torn = report.hot().is_some_and(|h| !h.acceptable());
    Ok(if corrupt > 0 || torn {
        EXIT_FOUND_PROBLEM
    } else {
        EXIT_OK
    })
}

/// The page-selection method in words: an incremental whose LSN range is empty (nothing
/// changed since its base) reads no page, whatever the method's name.
fn method_words(method: Method, selection_lsn: Lsn, to_lsn: Lsn) -> String {
    if method == Method::Bitmap && selection_lsn >= to_lsn {
        return format!("none needed (nothing changed since LSN {to_lsn}: no page read)");
    }
    method.name().to_string()
}

/// Below this rate (bytes/s) the server is idle, and a headroom ratio would be meaningless.
const IDLE_REDO_RATE: f64 = 10_000.0;

/// How much faster xb read the redo log than the server wrote it.
fn headroom(read_rate: f64, write_rate: f64) -> String {
    if write_rate < IDLE_REDO_RATE {
        return "the server was nearly idle".into();
    }
    format!("{:.0}x headroom", read_rate / write_rate)
}

/// What --no-lock and --kill-long-queries-timeout did.
fn print_locks(h: &incremental_core::backup::HotReport) {
    for q in &h.killed_queries {
        ui::note(format!(
            "killed query {q}: it kept a BACKUP STAGE lock from being taken"
        ));
    }
    if !h.no_lock {
        return;
    }
    if h.consistent() {
        ui::note(
            "--no-lock: no BACKUP STAGE lock taken; no DDL and no write to a non-InnoDB table \
             during the backup: consistent (no binary log position recorded)",
        );
        return;
    }
    let names: Vec<String> = h
        .written_during_backup
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let advice = match h.acceptable() {
        true => "accepted (--no-lock-accept-writes)",
        false => "take the backup again with locks",
    };
    ui::note(format!(
        "WARNING: --no-lock: written during the backup, which may hold them torn or out of step with \
         the InnoDB tables: {}; {advice}",
        names.join(", ")
    ));
}

fn print_hot(report: &BackupReport, h: &incremental_core::backup::HotReport) {
    print_locks(h);
    match h.forced_checkpoint {
        ForcedCheckpoint::Written { lsn } => ui::note(format!(
            "--force-checkpoint: the server wrote checkpoint {lsn} first"
        )),
        ForcedCheckpoint::Unsupported => ui::note(
            "--force-checkpoint: the server has no innodb_log_checkpoint_now variable: no \
             checkpoint forced",
        ),
        _ => {}
    }
    let f = h.follower;
    ui::note(format!(
        "hot: redo copied from checkpoint {} to {} (end LSN {} under BLOCK_COMMIT); server \
         checkpoint {} after the copy; redo written by the server {:.2} MB/s, read by xb up to \
         {:.0} MB/s ({}); commits blocked {:.2} s, DDL blocked {:.2} s",
        report.to_lsn,
        report.last_lsn,
        h.end_lsn,
        h.copy_end_checkpoint,
        h.server_redo_rate() / 1e6,
        f.parse_rate() / 1e6,
        headroom(f.parse_rate(), h.server_redo_rate()),
        h.commits_blocked_seconds,
        h.ddl_blocked_seconds
    ));
    if !(h.deleted.is_empty() && h.renamed.is_empty() && h.new.is_empty()) {
        ui::note(format!(
            "DDL during the backup: {} dropped (.del), {} renamed (.ren), {} created or rebuilt \
             (.new)",
            h.deleted.len(),
            h.renamed.len(),
            h.new.len()
        ));
    }
}
