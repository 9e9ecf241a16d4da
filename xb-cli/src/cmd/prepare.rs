//! `xb prepare`: merge incrementals into a base backup (a synthetic full), or process the DDL
//! marker files of a full backup.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use incremental_core::apply::{ApplyOptions, ApplyReport, Plan, PlanSummary};
use incremental_core::progress::{Cancel, NoProgress};
use serde_json::json;

/// Test-only environment variable: microseconds to sleep after each batch of pages written, so
/// that tests can kill `xb prepare` in the middle of an apply. Not for production use.
const TEST_DELAY_ENV: &str = "XB_TEST_APPLY_DELAY_US";

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

An interrupted prepare is resumed by running the same command again. Any refusal (a chain that \
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
    /// Print the report as JSON on standard output (schema in the README).
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
    let (apply_redo, dry_run) = (a.apply_redo, a.dry_run);
    let (target, mariadbd) = (a.target_dir.clone(), a.mariadbd.clone());
    let code = run_merge(a)?;
    if !apply_redo || dry_run || code != crate::EXIT_OK {
        return Ok(code);
    }
    let opts = incremental_core::recover::RecoverOptions {
        mariadbd,
        ..Default::default()
    };
    crate::ui::note(format!(
        "applying the redo log: starting mariadbd on {} (private socket, no network)",
        target.display()
    ));
    let r = incremental_core::recover::apply_redo(&target, &opts)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    for n in &r.notes {
        crate::ui::note(format!("mariadbd: {n}"));
    }
    crate::ui::note(format!(
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
    Ok(code)
}

fn report_json(
    target: &std::path::Path,
    s: &PlanSummary,
    r: Option<&ApplyReport>,
    dry_run: bool,
    steps: Vec<String>,
    seconds: f64,
) -> String {
    let r = r.cloned().unwrap_or_default();
    json!({
        "target": target.display().to_string(),
        "dry_run": dry_run,
        "resumed": s.resumed,
        "incrementals": s.incrementals,
        "deltas": s.deltas,
        "delta_pages": s.delta_pages,
        "steps": s.steps,
        "plan": steps,
        "to_lsn": s.to_lsn.map(|l| l.get()),
        "pages_written": r.pages_written,
        "bytes_written": r.bytes_written,
        "files_merged": r.files_merged,
        "files_created": r.files_created,
        "files_renamed": r.files_renamed,
        "files_removed": r.files_removed,
        "files_copied": r.files_copied,
        "files_unchanged": r.files_unchanged,
        "seconds": seconds,
    })
    .to_string()
}

/// Runs the merge (or the DDL files of a full backup).
fn run_merge(a: Args) -> anyhow::Result<u8> {
    let t0 = Instant::now();
    let opts = ApplyOptions {
        check_pages: !a.no_page_check,
        test_delay: std::env::var(TEST_DELAY_ENV)
            .ok()
            .and_then(|v| v.parse().ok())
            .map(Duration::from_micros),
    };
    // The library's messages are complete sentences naming the files: print only them.
    let plan =
        Plan::new(&a.target_dir, &a.incremental_dir, &opts).map_err(|e| anyhow::anyhow!("{e}"))?;
    let s = plan.summary().clone();
    if a.dry_run && a.json {
        let secs = t0.elapsed().as_secs_f64();
        println!(
            "{}",
            report_json(plan.target(), &s, None, true, plan.describe(), secs)
        );
        return Ok(crate::EXIT_OK);
    }
    if a.dry_run {
        for line in plan.describe() {
            println!("{line}");
        }
        println!(
            "{} step(s), {} delta(s) with {} page(s); nothing changed (--dry-run)",
            s.steps, s.deltas, s.delta_pages
        );
        return Ok(crate::EXIT_OK);
    }
    if s.steps == 0 {
        if a.json {
            let secs = t0.elapsed().as_secs_f64();
            println!(
                "{}",
                report_json(plan.target(), &s, None, false, Vec::new(), secs)
            );
            return Ok(crate::EXIT_OK);
        }
        println!("{}: nothing to do", plan.target().display());
        return Ok(crate::EXIT_OK);
    }
    let target = plan.target().to_path_buf();
    let r = plan
        .execute(&NoProgress, &Cancel::new())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if a.json {
        let secs = t0.elapsed().as_secs_f64();
        println!(
            "{}",
            report_json(&target, &s, Some(&r), false, Vec::new(), secs)
        );
        return Ok(crate::EXIT_OK);
    }
    println!(
        "{}: {}{} page(s) written ({} MiB) in {} file(s), {} created, {} renamed, {} removed, \
         {} copied ({} already identical), in {:.2}s{}",
        target.display(),
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
        t0.elapsed().as_secs_f64(),
        match s.to_lsn {
            Some(l) => format!("; now a full backup at to_lsn {l}"),
            None => String::new(),
        }
    );
    Ok(crate::EXIT_OK)
}
