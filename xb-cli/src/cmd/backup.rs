//! `xb backup`: full or incremental backup of a stopped datadir or a filesystem snapshot
//! (cold), or of a running MariaDB server (hot: the datadir is in use and xb can connect).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use incremental_core::backup::hot::{self, ConnectOptions, HotOptions, HotReport, Server};
use incremental_core::backup::sink::DirSink;
use incremental_core::backup::source::locked_by;
use incremental_core::backup::{
    BackupError, BackupKind, BackupOptions, BackupPlan, BackupReport, Filter, Incremental,
};
use incremental_core::progress::{Cancel, Event, Progress};
use innodb_page::Lsn;
use serde_json::json;

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

/// Test-only environment variable: microseconds each reader thread sleeps after each read, so
/// that tests can make the server checkpoint during a hot backup. Not for production use.
const TEST_DELAY_ENV: &str = "XB_TEST_COPY_DELAY_US";

/// Plain log lines on standard error, at most one progress line every 5 seconds.
struct LogProgress {
    start: Instant,
    last: Mutex<Instant>,
    total: AtomicU64,
    done: AtomicU64,
}

impl Progress for LogProgress {
    fn event(&self, event: Event<'_>) {
        match event {
            Event::Planned { files, bytes } => {
                self.total.store(bytes, Ordering::Relaxed);
                eprintln!("xb: {files} files, {} MiB to read", bytes >> 20);
            }
            Event::Note { message } => eprintln!("xb: {message}"),
            Event::Pages { bytes, .. } => {
                let done = self.done.fetch_add(bytes, Ordering::Relaxed) + bytes;
                let Ok(mut last) = self.last.lock() else {
                    return;
                };
                if last.elapsed().as_secs() >= 5 {
                    *last = Instant::now();
                    let total = self.total.load(Ordering::Relaxed).max(1);
                    eprintln!(
                        "xb: {} of {} MiB read ({}%), {:.0} s",
                        done >> 20,
                        total >> 20,
                        done * 100 / total,
                        self.start.elapsed().as_secs_f64()
                    );
                }
            }
            Event::FileStarted { .. } | Event::FileDone { .. } => {}
        }
    }
}

/// The process holding the datadir's system tablespace or redo log, if any.
fn server_holding(datadir: &Path) -> Option<i32> {
    ["ibdata1", "ib_logfile0"]
        .iter()
        .filter_map(|f| locked_by(&datadir.join(f)).ok().flatten())
        .next()
}

fn connect_options(a: &Args) -> ConnectOptions {
    ConnectOptions {
        user: a.user.clone(),
        password: a.password.clone(),
        socket: a.socket.clone(),
        host: a.host.clone(),
        port: a.port,
        defaults_file: a.defaults_file.clone(),
        defaults_extra_file: a.defaults_extra_file.clone(),
        no_defaults: a.no_defaults,
    }
}

/// Runs `xb backup`.
pub fn run(a: Args) -> anyhow::Result<u8> {
    // Cold or hot: a datadir nobody holds is copied as it is; one a server holds needs that
    // server (hot backup); without --datadir, the server tells where its datadir is.
    let holder = a.datadir.as_deref().and_then(server_holding);
    let mut server = None;
    if a.datadir.is_none() || holder.is_some() {
        match Server::connect(&connect_options(&a), holder) {
            Ok(s) => server = Some(s),
            Err(e) => match (&a.datadir, holder) {
                (Some(d), Some(pid)) => anyhow::bail!(
                    "{}: in use by a running server (process {pid}), and xb cannot connect to \
                     it for a hot backup: {e}",
                    d.display()
                ),
                _ => anyhow::bail!(
                    "no --datadir given, and no running server to back up: {e}; give --datadir \
                     for a stopped server"
                ),
            },
        }
    }
    let datadir = match (&a.datadir, &server) {
        (Some(d), _) => d.clone(),
        (None, Some(s)) => s.datadir.clone(),
        (None, None) => anyhow::bail!("give --datadir"),
    };
    let mut opts = BackupOptions::new(&datadir);
    opts.incremental = match (&a.incremental_basedir, a.incremental_lsn) {
        (Some(b), _) => Some(Incremental::Basedir(b.clone())),
        (None, Some(n)) => Some(Incremental::Lsn(Lsn::new(n))),
        (None, None) => None,
    };
    opts.force_scan = a.incremental_force_scan;
    opts.bitmap_dir = a.bitmap_dir.clone();
    opts.parallel = a.parallel;
    opts.filter = Filter {
        tables: a.tables.clone(),
        tables_exclude: a.tables_exclude.clone(),
        databases: a.databases.clone(),
    };
    opts.accept_partial_base = a.accept_partial_base;
    opts.log_innodb_page_corruption = a.log_innodb_page_corruption;
    opts.tool_command = std::env::args().skip(1).collect::<Vec<_>>().join(" ");
    opts.read_delay = std::env::var(TEST_DELAY_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Duration::from_micros);

    let progress = LogProgress {
        start: Instant::now(),
        last: Mutex::new(Instant::now()),
        total: AtomicU64::new(0),
        done: AtomicU64::new(0),
    };
    let new_sink = || -> anyhow::Result<DirSink> {
        Ok(DirSink::new(&a.target_dir)
            .map_err(|source| BackupError::Write {
                path: a.target_dir.clone(),
                source,
            })?
            .sync(!a.no_sync))
    };
    let t_plan = Instant::now();
    let (report, hot_report, plan_seconds, threads) = match server {
        Some(mut srv) => {
            let kind = match &opts.incremental {
                None => "full".to_string(),
                Some(Incremental::Basedir(b)) => format!("incremental on {}", b.display()),
                Some(Incremental::Lsn(n)) => format!("incremental from LSN {n}"),
            };
            eprintln!(
                "xb: hot {kind} backup of the running server {} (MariaDB {}) through {}: \
                 datadir {}",
                holder.map_or_else(|| "".to_string(), |p| format!("(process {p})")),
                srv.version,
                srv.how,
                datadir.display()
            );
            let h = HotOptions {
                block_ddl: a.block_ddl,
                poll_interval: Duration::from_millis(a.log_copy_interval.max(1)),
                end_timeout: Duration::from_secs(a.end_timeout.max(1)),
            };
            let mut sink = new_sink()?;
            let r = hot::run(
                &mut srv,
                &opts,
                &h,
                &mut sink,
                &progress,
                &Cancel::new(),
                &hot::NoHooks,
            )?;
            let threads = if opts.parallel == 0 {
                incremental_core::backup::DEFAULT_READERS
            } else {
                opts.parallel
            };
            (r.report.clone(), Some(r), 0.0, threads)
        }
        None => {
            let plan = BackupPlan::new(&opts)?;
            let plan_seconds = t_plan.elapsed().as_secs_f64();
            match &plan.kind {
                BackupKind::Full => eprintln!(
                    "xb: cold full backup of {} (no server holds it) at checkpoint {} (redo to \
                     {})",
                    datadir.display(),
                    plan.redo.checkpoint_lsn,
                    plan.redo.end_lsn
                ),
                BackupKind::Incremental {
                    from_lsn,
                    threshold,
                    why,
                    ..
                } => eprintln!(
                    "xb: cold incremental backup of {} (no server holds it) from LSN \
                     {from_lsn} to checkpoint {}: copying pages with LSN >= {threshold} \
                     ({why}), method {}",
                    datadir.display(),
                    plan.redo.checkpoint_lsn,
                    plan.method.name()
                ),
            }
            let mut sink = new_sink()?;
            let report = plan.run(&mut sink, &progress, &Cancel::new())?;
            (report, None, plan_seconds, plan.reader_threads())
        }
    };
    print_report(&a, &report, hot_report.as_ref(), plan_seconds, threads)
}

fn print_report(
    a: &Args,
    report: &BackupReport,
    hot: Option<&HotReport>,
    plan_seconds: f64,
    threads: usize,
) -> anyhow::Result<u8> {
    let corrupt: usize = report.tablespaces.iter().map(|t| t.corrupt.len()).sum();
    let p = report.phases;
    eprintln!(
        "xb: time: plan {plan_seconds:.3} s, files {:.3} s, redo {:.3} s, sync {:.3} s; \
         {threads} reader threads",
        p.files, p.redo, p.sync,
    );
    eprintln!(
        "xb: done in {:.1} s: {} tablespaces, {} pages read, {} copied, {} skipped; {} other \
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
    );
    if let Some(h) = hot {
        let f = h.follower;
        eprintln!(
            "xb: hot: redo copied from checkpoint {} to {} (end LSN {} under BLOCK_COMMIT); \
             server checkpoint {} after the copy; redo written by the server {:.2} MB/s, read \
             by xb up to {:.0} MB/s ({:.0}x headroom); commits blocked {:.2} s, DDL blocked \
             {:.2} s",
            report.to_lsn,
            report.last_lsn,
            h.end_lsn,
            h.copy_end_checkpoint,
            h.server_redo_rate() / 1e6,
            f.parse_rate() / 1e6,
            f.parse_rate() / h.server_redo_rate().max(1e-9),
            h.commits_blocked_seconds,
            h.ddl_blocked_seconds
        );
        if !(h.deleted.is_empty() && h.renamed.is_empty() && h.new.is_empty()) {
            eprintln!(
                "xb: DDL during the backup: {} dropped (.del), {} renamed (.ren), {} created \
                 or rebuilt (.new)",
                h.deleted.len(),
                h.renamed.len(),
                h.new.len()
            );
        }
    }
    if corrupt > 0 {
        eprintln!(
            "xb: {corrupt} corrupt pages recorded in {}/innodb_corrupted_pages",
            a.target_dir.display()
        );
    }
    if a.json {
        let ts: Vec<_> = report
            .tablespaces
            .iter()
            .map(|t| {
                json!({
                    "path": t.path.to_string_lossy(),
                    "space_id": t.space_id,
                    "method": t.method.name(),
                    "why": t.why,
                    "pages_scanned": t.pages_scanned,
                    "pages_copied": t.pages_copied,
                    "pages_skipped": t.pages_skipped,
                    "bytes_read": t.bytes_read,
                    "bytes_written": t.bytes_written,
                    "corrupt_pages": t.corrupt.iter().map(|c| c.page_no).collect::<Vec<_>>(),
                })
            })
            .collect();
        let hot_json = hot.map(|h| {
            json!({
                "server": h.server,
                "end_lsn": h.end_lsn.get(),
                "copy_end_checkpoint": h.copy_end_checkpoint.get(),
                "end_checkpoint": h.end_checkpoint.get(),
                "deleted": h.deleted.iter().map(|p| p.to_string_lossy()).collect::<Vec<_>>(),
                "renamed": h.renamed.iter().map(|(f, t)| json!([f.to_string_lossy(), t.to_string_lossy()])).collect::<Vec<_>>(),
                "new": h.new.iter().map(|p| p.to_string_lossy()).collect::<Vec<_>>(),
                "commits_blocked_seconds": h.commits_blocked_seconds,
                "ddl_blocked_seconds": h.ddl_blocked_seconds,
                "redo_server_bytes_per_second": h.server_redo_rate(),
                "redo_read_bytes_per_second": h.follower.parse_rate(),
            })
        });
        let v = json!({
            "mode": if hot.is_some() { "hot" } else { "cold" },
            "backup_type": if report.incremental { "incremental" } else { "full" },
            "from_lsn": report.from_lsn.get(),
            "to_lsn": report.to_lsn.get(),
            "last_lsn": report.last_lsn.get(),
            "selection_lsn": report.selection_lsn.get(),
            "method": report.method.name(),
            "fallback_reason": report.fallback_reason,
            "pages_scanned": report.pages_scanned(),
            "pages_copied": report.pages_copied(),
            "pages_skipped": report.pages_skipped(),
            "bytes_read": report.bytes_read(),
            "other_files": report.other_files,
            "redo_bytes": report.redo_bytes,
            "seconds": report.seconds,
            "phases": {
                "plan": plan_seconds,
                "files": p.files,
                "redo": p.redo,
                "sync": p.sync,
            },
            "hot": hot_json,
            "tablespaces": ts,
        });
        println!("{v}");
    }
    Ok(if corrupt > 0 {
        EXIT_FOUND_PROBLEM
    } else {
        EXIT_OK
    })
}
