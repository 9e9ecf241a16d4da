//! `xb prepare`: merge incrementals into a base backup (a synthetic full), or process the DDL
//! marker files of a full backup.

use std::path::{Path, PathBuf};
use std::time::Duration;

use incremental_core::prepare::apply_redo::{apply_redo, ApplyRedoOptions};
use incremental_core::prepare::{PrepareOptions, PreparePlan, PrepareReport};
use incremental_core::progress::Cancel;

use crate::ui::{self, CliProgress};
use crate::EXIT_OK;

/// Environment variable: microseconds to pause after each batch of pages written (the
/// library's throttle, [`PrepareOptions::throttle`]); the tests use it to kill `xb prepare` in
/// the middle of a merge.
const THROTTLE_ENV: &str = "XB_TEST_APPLY_DELAY_US";

/// Arguments.
#[derive(clap::Args)]
#[command(after_help = "\
With --incremental-dir (repeatable, oldest first): merges the incrementals into the target in \
one pass. The target becomes a full backup as of the newest incremental: its pages merged, the \
newest incremental's redo log (ib_logfile0) and non-InnoDB files in place, xtrabackup_checkpoints \
saying full-backuped with the newest to_lsn. The redo is applied by the server's crash recovery \
on its first start (or by mariabackup --prepare). The incremental directories are not modified.

Without --incremental-dir: processes the DDL files (.del, .ren, .new) that mariabackup leaves in \
a full backup when DDL ran during it.

An interrupted prepare is resumed by running the same command again (with --apply-redo too: \
the merge done, the redo step is run again; no incremental can be merged onto a backup whose \
redo step was started). Any refusal (a chain that \
does not continue, an unsafe merge, a malformed delta) is found before the first byte is written \
and leaves the target untouched.

Exit status: 0 done (or nothing to do); 2 refused or failed (one line on stderr saying what and \
what to do).

With --apply-redo: then runs the installed mariadbd on the result (private socket, no network, \
settings from backup-my.cnf) to apply the redo log and roll back the transactions open at the \
end of the backup, and shuts it down cleanly.

Examples:
  xb prepare --target-dir /backups/full --incremental-dir /backups/inc1 --incremental-dir /backups/inc2
  xb prepare --target-dir /backups/full --incremental-dir /backups/inc1 --apply-redo
  xb prepare --target-dir /backups/full --incremental-dir /backups/inc1 --dry-run
  xb prepare --target-dir /backups/full")]
pub struct Args {
    /// The base backup to prepare (modified in place).
    #[arg(long, value_name = "DIR")]
    pub target_dir: PathBuf,
    /// An incremental backup to merge; repeat for a chain, oldest first.
    #[arg(long, value_name = "DIR")]
    pub incremental_dir: Vec<PathBuf>,
    /// Check everything and print the plan, change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Skip reading every delta page during the checks (page numbers, page 0 against .meta are
    /// still checked for page 0).
    #[arg(long)]
    pub no_page_check: bool,
    /// Print the report as JSON on standard output (schema in docs/json.md).
    #[arg(long)]
    pub json: bool,
    /// Then run the installed mariadbd on the result in a private temporary setup (no network,
    /// its own socket) to finish crash recovery and shut it down cleanly: the restored datadir
    /// needs no recovery at first start. The result is marked full-prepared (no further
    /// incrementals can be merged onto it).
    #[arg(long)]
    pub apply_redo: bool,
    /// The server binary for --apply-redo (default: mariadbd on PATH or in /usr/sbin).
    #[arg(long, value_name = "PATH", requires = "apply_redo")]
    pub mariadbd: Option<PathBuf>,
}

/// Runs the command.
pub fn run(a: Args) -> anyhow::Result<u8> {
    let code = run_merge(&a)?;
    if !a.apply_redo || a.dry_run || code != EXIT_OK {
        return Ok(code);
    }
    run_apply_redo(&a.target_dir, a.mariadbd.clone())?;
    Ok(code)
}

/// `--apply-redo`: the server's crash recovery on the result.
fn run_apply_redo(target: &Path, mariadbd: Option<PathBuf>) -> anyhow::Result<()> {
    let mut opts = ApplyRedoOptions::default();
    opts.set_mariadbd(mariadbd);
    ui::note(format!(
        "applying the redo log: starting mariadbd on {} (private socket, no network)",
        target.display()
    ));
    let r = apply_redo(target, &opts)?;
    for n in &r.notes {
        ui::note(format!("mariadbd: {n}"));
    }
    if r.resumed {
        ui::note("finished an interrupted --apply-redo");
    }
    ui::note(format!(
        "{}: {}; it needs no crash recovery at first start",
        target.display(),
        if r.ran {
            format!(
                "redo applied and server shut down cleanly in {:.1} s ({})",
                r.seconds,
                r.mariadbd.display()
            )
        } else {
            "already prepared".to_string()
        }
    ));
    Ok(())
}

/// The options the arguments (and the throttle variable) ask for.
fn options(a: &Args) -> PrepareOptions {
    let throttle = std::env::var(THROTTLE_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Duration::from_micros);
    let mut o = PrepareOptions::default();
    o.set_check_pages(!a.no_page_check)
        .set_throttle(throttle)
        .set_redo_step(a.apply_redo);
    o
}

/// Prints a report as the JSON record of `xb prepare --json`.
fn print_json(r: &PrepareReport) -> anyhow::Result<u8> {
    println!("{}", serde_json::to_value(r)?);
    Ok(EXIT_OK)
}

/// Runs the merge (or the DDL files of a full backup).
fn run_merge(a: &Args) -> anyhow::Result<u8> {
    let plan = PreparePlan::new(&a.target_dir, &a.incremental_dir, &options(a))?;
    if a.dry_run {
        let r = plan.dry_run();
        if a.json {
            return print_json(&r);
        }
        for line in &r.plan {
            println!("{line}");
        }
        let s = &r.summary;
        println!(
            "{} step(s), {} delta(s) with {} page(s); nothing changed (--dry-run)",
            s.steps, s.deltas, s.delta_pages
        );
        return Ok(EXIT_OK);
    }
    if plan.summary().steps == 0 && !a.json {
        crate::ui::summary(format!("{}: nothing to do", plan.target().display()));
        return Ok(EXIT_OK);
    }
    let progress = CliProgress::new("prepare");
    let r = plan.execute(&progress, &Cancel::new())?;
    if r.steps_run > 0 {
        progress.finish();
    }
    if a.json {
        return print_json(&r);
    }
    print_summary(&r);
    Ok(EXIT_OK)
}

/// The one line of a finished prepare.
fn print_summary(r: &PrepareReport) {
    crate::ui::summary(format!(
        "{}: {}{} page(s) written ({} MiB) in {} file(s), {} created, {} renamed, {} removed, \
         {} copied ({} already identical), in {:.2}s{}",
        r.target.display(),
        if r.resumed {
            "resumed an interrupted prepare; "
        } else {
            ""
        },
        r.pages_written,
        r.bytes_written >> 20,
        r.files_merged,
        r.files_created,
        r.files_renamed,
        r.files_removed,
        r.files_copied,
        r.files_unchanged,
        r.seconds,
        match r.summary.to_lsn {
            Some(l) => format!("; now a full backup at to_lsn {l}"),
            None => String::new(),
        }
    ));
}
