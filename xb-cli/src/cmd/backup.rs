//! `xb backup`: full or incremental backup of a stopped datadir or a filesystem snapshot.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use incremental_core::backup::sink::DirSink;
use incremental_core::backup::{
    BackupError, BackupKind, BackupOptions, BackupPlan, Filter, Incremental,
};
use incremental_core::progress::{Cancel, Event, Progress};
use innodb_page::Lsn;
use serde_json::json;

use crate::{EXIT_FOUND_PROBLEM, EXIT_OK};

/// Arguments of `xb backup`.
#[derive(clap::Args)]
#[command(
    after_help = "The datadir must belong to a stopped server, or be a filesystem \
snapshot of a running server's datadir; a datadir a running server holds is refused.\n\n\
Exit status: 0 success; 1 the backup completed but recorded corrupt pages \
(--log-innodb-page-corruption); 2 error.\n\nExamples:\n  \
xb backup --datadir /var/lib/mysql --target-dir /backups/full\n  \
xb backup --datadir /var/lib/mysql --target-dir /backups/inc1 --incremental-basedir /backups/full"
)]
pub struct Args {
    /// The source datadir.
    #[arg(long)]
    pub datadir: PathBuf,
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
}

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

/// Runs `xb backup`.
pub fn run(a: Args) -> anyhow::Result<u8> {
    let mut opts = BackupOptions::new(&a.datadir);
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

    let t_plan = Instant::now();
    let plan = BackupPlan::new(&opts)?;
    let plan_seconds = t_plan.elapsed().as_secs_f64();
    match &plan.kind {
        BackupKind::Full => eprintln!(
            "xb: full backup of {} at checkpoint {} (redo to {})",
            a.datadir.display(),
            plan.redo.checkpoint_lsn,
            plan.redo.end_lsn
        ),
        BackupKind::Incremental {
            from_lsn,
            threshold,
            why,
            ..
        } => eprintln!(
            "xb: incremental backup of {} from LSN {from_lsn} to checkpoint {}: copying pages \
             with LSN >= {threshold} ({why}), method {}",
            a.datadir.display(),
            plan.redo.checkpoint_lsn,
            plan.method.name()
        ),
    }
    let mut sink = DirSink::new(&a.target_dir)
        .map_err(|source| BackupError::Write {
            path: a.target_dir.clone(),
            source,
        })?
        .sync(!a.no_sync);
    let progress = LogProgress {
        start: Instant::now(),
        last: Mutex::new(Instant::now()),
        total: AtomicU64::new(0),
        done: AtomicU64::new(0),
    };
    let report = plan.run(&mut sink, &progress, &Cancel::new())?;
    let corrupt: usize = report.tablespaces.iter().map(|t| t.corrupt.len()).sum();
    let p = report.phases;
    eprintln!(
        "xb: time: plan {plan_seconds:.3} s, files {:.3} s, redo {:.3} s, sync {:.3} s; {} \
         reader threads",
        p.files,
        p.redo,
        p.sync,
        plan.reader_threads()
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
        let v = json!({
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
