//! `xb backup`: full or incremental backup of a stopped datadir or a filesystem snapshot
//! (cold), or of a running MariaDB server (hot: the datadir is in use and xb can connect).

use std::path::PathBuf;
use std::time::Duration;

use incremental_core::backup::sink::DirSink;
use incremental_core::backup::{
    BackupError, BackupKind, BackupOptions, BackupPlan, BackupReport, ConnectOptions, Filter,
    HotOptions, Incremental, ServerError, SourceMode,
};
use incremental_core::progress::Cancel;
use incremental_core::Remedy;
use innodb_page::Lsn;

use crate::ui::{self, CliProgress};
use crate::{EXIT_FOUND_PROBLEM, EXIT_OK};

/// Arguments of `xb backup`.
#[derive(clap::Args)]
#[command(
    after_help = "Cold or hot: when the datadir is not in use (the server is stopped, or it is \
a filesystem snapshot), xb copies it as it is (cold). When a running server holds it, xb \
connects to that server (--socket/--user/--password, else the [client], [client-server], \
[mariadb-backup] groups of the option files, else the socket the server listens on) and takes a \
hot backup: it copies the redo log from the checkpoint at the start to the end of the backup, \
uses BACKUP STAGE to copy the non-InnoDB files and fix the end LSN, and tracks DDL run during \
the copy (.new/.ren/.del files), or blocks it with --block-ddl. It says which mode it uses.\n\n\
Exit status: 0 success; 1 the backup completed but recorded corrupt pages \
(--log-innodb-page-corruption); 2 error.\n\nExamples:\n  \
xb backup --datadir /var/lib/mysql --target-dir /backups/full\n  \
xb backup --datadir /var/lib/mysql --target-dir /backups/inc1 --incremental-basedir /backups/full\n  \
xb backup --socket /run/mysqld/mysqld.sock --user backup --target-dir /backups/full   # hot\n  \
xb backup --defaults-file /etc/mysql/backup.cnf --target-dir /backups/inc2 \
--incremental-basedir /backups/inc1"
)]
pub struct Args {
    /// The source datadir (for a hot backup it may be left out: the server's @@datadir).
    #[arg(long)]
    pub datadir: Option<PathBuf>,
    /// Where to write the backup (created with mode 0700; must not exist or be empty).
    #[arg(long)]
    pub target_dir: PathBuf,
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
    #[arg(long, default_value_t = 0)]
    pub parallel: usize,
    /// Back up only tables matching these comma-separated db.table globs (`*`, `?`).
    #[arg(long, default_value = "")]
    pub tables: String,
    /// Leave out tables matching these comma-separated db.table globs.
    #[arg(long, default_value = "")]
    pub tables_exclude: String,
    /// Back up only these databases (or db.table names), space- or comma-separated.
    #[arg(long, default_value = "")]
    pub databases: String,
    /// Take an incremental on top of a partial base (tables missing from the base stay
    /// missing).
    #[arg(long)]
    pub accept_partial_base: bool,
    /// Record corrupt pages in innodb_corrupted_pages and continue, instead of stopping.
    #[arg(long)]
    pub log_innodb_page_corruption: bool,
    /// Do not fsync the files written (faster; for tests and throwaway copies).
    #[arg(long)]
    pub no_sync: bool,
    /// Print the report as JSON on standard output.
    #[arg(long)]
    pub json: bool,
    /// Hot backup: user to connect as (default: from the option files, else the login name).
    #[arg(long, short = 'u', help_heading = "Connection (hot backup)")]
    pub user: Option<String>,
    /// Hot backup: password.
    #[arg(long, short = 'p', help_heading = "Connection (hot backup)")]
    pub password: Option<String>,
    /// Hot backup: the server's Unix socket.
    #[arg(long, short = 'S', help_heading = "Connection (hot backup)")]
    pub socket: Option<PathBuf>,
    /// Hot backup: TCP host (only when no socket is given).
    #[arg(long, short = 'H', help_heading = "Connection (hot backup)")]
    pub host: Option<String>,
    /// Hot backup: TCP port.
    #[arg(long, short = 'P', help_heading = "Connection (hot backup)")]
    pub port: Option<u16>,
    /// Read connection options only from this option file.
    #[arg(long, value_name = "FILE", help_heading = "Connection (hot backup)")]
    pub defaults_file: Option<PathBuf>,
    /// Read this option file after the global ones.
    #[arg(long, value_name = "FILE", help_heading = "Connection (hot backup)")]
    pub defaults_extra_file: Option<PathBuf>,
    /// Read no option file.
    #[arg(long, help_heading = "Connection (hot backup)")]
    pub no_defaults: bool,
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
}

/// Environment variable: microseconds each reader thread pauses after each batch of pages it
/// reads (the library's throttle, `BackupOptions::set_throttle`). Tests use it to make the
/// server checkpoint while a hot backup runs.
const THROTTLE_ENV: &str = "XB_TEST_COPY_DELAY_US";

fn connect_options(a: &Args) -> ConnectOptions {
    let mut c = ConnectOptions::new();
    c.set_no_defaults(a.no_defaults);
    if let Some(u) = &a.user {
        c.set_user(u.as_str());
    }
    if let Some(p) = &a.password {
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
    if let Some(f) = &a.defaults_file {
        c.set_defaults_file(f.as_path());
    }
    if let Some(f) = &a.defaults_extra_file {
        c.set_defaults_extra_file(f.as_path());
    }
    c
}

fn hot_options(a: &Args) -> HotOptions {
    let mut h = HotOptions::default();
    h.set_block_ddl(a.block_ddl)
        .set_poll_interval(Duration::from_millis(a.log_copy_interval))
        .set_end_timeout(Duration::from_secs(a.end_timeout));
    h
}

fn incremental(a: &Args) -> Option<Incremental> {
    match (&a.incremental_basedir, a.incremental_lsn) {
        (Some(b), _) => Some(Incremental::Basedir(b.clone())),
        (None, Some(n)) => Some(Incremental::Lsn(Lsn::new(n))),
        (None, None) => None,
    }
}

/// The library's options from the command line: hot when a running server holds the datadir
/// (reached with the connection options), cold otherwise.
fn backup_options(a: &Args) -> BackupOptions {
    let connect = connect_options(a);
    let mut o = match &a.datadir {
        Some(d) => BackupOptions::new(d),
        None => BackupOptions::of_server(connect.clone()),
    };
    let mut filter = Filter::default();
    filter
        .set_tables(&a.tables)
        .set_tables_exclude(&a.tables_exclude)
        .set_databases(&a.databases);
    let throttle = std::env::var(THROTTLE_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Duration::from_micros);
    o.set_connect(connect)
        .set_hot(hot_options(a))
        .set_incremental(incremental(a))
        .set_force_scan(a.incremental_force_scan)
        .set_parallel(a.parallel)
        .set_filter(filter)
        .set_accept_partial_base(a.accept_partial_base)
        .set_log_innodb_page_corruption(a.log_innodb_page_corruption)
        .set_tool_command(std::env::args().skip(1).collect::<Vec<_>>().join(" "))
        .set_throttle(throttle);
    if let Some(b) = &a.bitmap_dir {
        o.set_bitmap_dir(b.as_path());
    }
    o
}

/// A server error in the CLI's words.
fn server_words(e: &ServerError) -> String {
    match e.remedy() {
        Some(Remedy::ConnectionSettings) => format!(
            "{e}; give --socket (or --host/--port), --user and --password, or put them in the \
             [client] group of an option file"
        ),
        _ => e.to_string(),
    }
}

/// A backup error in the CLI's words: the library's message with the remedy as flags.
fn words(e: BackupError) -> anyhow::Error {
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
        BackupError::WrongServer { path, .. } => format!(
            "{e}: connect to the server of {} (--socket) or give its datadir",
            path.display()
        ),
        BackupError::Server(s) => server_words(s),
        _ => match e.remedy() {
            Some(Remedy::RecordCorruptPages) => {
                format!("{e} (pass --log-innodb-page-corruption to record such pages and continue)")
            }
            Some(Remedy::AcceptPartialBase) => {
                format!("{e}; pass --accept-partial-base to take the incremental anyway")
            }
            Some(Remedy::GiveStartLsn) => {
                format!("{e}; give the LSN with --incremental-lsn instead")
            }
            _ => return anyhow::Error::new(e),
        },
    };
    anyhow::anyhow!(text)
}

/// Planning failed: without --datadir, a server that cannot be reached means there is nothing
/// to back up.
fn planning_error(a: &Args, e: BackupError) -> anyhow::Error {
    match (&a.datadir, &e) {
        (None, BackupError::Server(s)) => anyhow::anyhow!(
            "no --datadir given, and no running server to back up: {}; give --datadir for a \
             stopped server",
            server_words(s)
        ),
        _ => words(e),
    }
}

/// The line that says what the run will do.
fn describe(plan: &BackupPlan) -> String {
    let dd = plan.datadir().display();
    if let SourceMode::Hot {
        pid,
        server,
        version,
        ..
    } = plan.mode()
    {
        let kind = match plan.options().incremental() {
            Some(Incremental::Basedir(b)) => format!("incremental on {}", b.display()),
            Some(Incremental::Lsn(n)) => format!("incremental from LSN {n}"),
            _ => "full".to_string(),
        };
        let pid = pid.map_or_else(String::new, |p| format!("(process {p})"));
        return format!(
            "hot {kind} backup of the running server {pid} (MariaDB {version}) through \
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
            "cold incremental backup of {dd} (no server holds it) from LSN {from_lsn} to \
             checkpoint {checkpoint}: copying pages with LSN >= {threshold} ({why}), method {}",
            plan.method().name()
        ),
        _ => format!(
            "cold full backup of {dd} (no server holds it) at checkpoint {checkpoint} (redo to \
             {end})"
        ),
    }
}

/// Runs `xb backup`.
pub fn run(a: Args) -> anyhow::Result<u8> {
    let plan = BackupPlan::new(&backup_options(&a)).map_err(|e| planning_error(&a, e))?;
    ui::note(describe(&plan));
    let mut sink = DirSink::new(&a.target_dir).map_err(words)?.sync(!a.no_sync);
    let progress = CliProgress::new("backup");
    let report = plan
        .run(&mut sink, &progress, &Cancel::new())
        .map_err(words)?;
    progress.finish();
    print_report(&a, &report)
}

fn print_report(a: &Args, report: &BackupReport) -> anyhow::Result<u8> {
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
        report.method.name()
    ));
    if let Some(h) = report.hot() {
        print_hot(report, h);
    }
    let corrupt = report.corrupt_pages();
    if corrupt > 0 {
        ui::note(format!(
            "{corrupt} corrupt pages recorded in {}/innodb_corrupted_pages",
            a.target_dir.display()
        ));
    }
    if a.json {
        println!("{}", serde_json::to_value(report)?);
    }
    Ok(if corrupt > 0 {
        EXIT_FOUND_PROBLEM
    } else {
        EXIT_OK
    })
}

fn print_hot(report: &BackupReport, h: &incremental_core::backup::HotReport) {
    let f = h.follower;
    ui::note(format!(
        "hot: redo copied from checkpoint {} to {} (end LSN {} under BLOCK_COMMIT); server \
         checkpoint {} after the copy; redo written by the server {:.2} MB/s, read by xb up to \
         {:.0} MB/s ({:.0}x headroom); commits blocked {:.2} s, DDL blocked {:.2} s",
        report.to_lsn,
        report.last_lsn,
        h.end_lsn,
        h.copy_end_checkpoint,
        h.server_redo_rate() / 1e6,
        f.parse_rate() / 1e6,
        f.parse_rate() / h.server_redo_rate().max(1e-9),
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
