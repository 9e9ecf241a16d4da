//! Apply a chain of incrementals to a full backup with the public prepare API, as `xb prepare`
//! does: optionally check the chain first ([`verify_chain`]), plan (every check is made before
//! anything is written), then execute with a progress reporter of our own, and print the report.
//!
//! ```sh
//! cargo run -p xb-examples --bin apply_chain -- /backups/full /backups/inc1 /backups/inc2
//! cargo run -p xb-examples --bin apply_chain -- --dry-run /backups/full /backups/inc1
//! cargo run -p xb-examples --bin apply_chain -- --verify /backups/full /backups/inc1
//! ```
//!
//! Arguments: the full backup (modified in place), then its incrementals, oldest first.
//! `--dry-run` plans and prints the steps without changing anything; `--verify` first checks
//! every page of the chain and stops (exit 1) if it is not restorable. Exit status 0 done,
//! 1 the chain is not restorable (`--verify`), 2 refused or failed.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};

use incremental_core::prepare::PlanSummary;
use incremental_core::progress::{Cancel, Event, NoProgress, Progress};
use incremental_core::{verify_chain, PrepareOptions, PreparePlan};

/// Counts pages and prints one line per file merged (called from several threads).
#[derive(Default)]
struct Printer {
    pages: AtomicU64,
}

impl Progress for Printer {
    fn event(&self, e: Event<'_>) {
        match e {
            Event::Planned { files, .. } => println!("  {files} file(s) to merge"),
            Event::FileStarted { path, .. } => println!("  merging {}", path.display()),
            Event::Pages { copied, .. } => {
                self.pages.fetch_add(copied, Ordering::Relaxed);
            }
            Event::Note { message } => println!("  note: {message}"),
            Event::FileDone { .. } => {}
            _ => {}
        }
    }
}

/// The command line: the options, then the directories (full backup first).
struct Args {
    dry_run: bool,
    verify: bool,
    dirs: Vec<PathBuf>,
}

/// Reads the command line; an unknown option leaves no directory (so the usage is printed).
fn parse_args() -> Args {
    let mut args = Args {
        dry_run: false,
        verify: false,
        dirs: Vec::new(),
    };
    for a in std::env::args().skip(1) {
        match a.as_str() {
            "--dry-run" => args.dry_run = true,
            "--verify" => args.verify = true,
            s if s.starts_with('-') => {
                eprintln!("apply_chain: unknown option {s}");
                args.dirs.clear();
                break;
            }
            _ => args.dirs.push(a.into()),
        }
    }
    args
}

fn main() -> ExitCode {
    let args = parse_args();
    let Some((full, incs)) = args.dirs.split_first() else {
        eprintln!("usage: apply_chain [--dry-run] [--verify] FULL [INC1 INC2 ...]");
        return ExitCode::from(2);
    };

    if args.verify
        && let Err(code) = verify(full, incs)
    {
        return code;
    }

    // Planning reads and checks everything and writes nothing; its errors name the files.
    let plan = match PreparePlan::new(full, incs, &PrepareOptions::default()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("apply_chain: {e}");
            return ExitCode::from(2);
        }
    };
    let s = plan.summary().clone();
    print_summary(&s);
    if args.dry_run {
        for line in plan.describe() {
            println!("  {line}");
        }
        println!("nothing changed (--dry-run)");
        return ExitCode::SUCCESS;
    }
    execute(plan, full, &s)
}

/// Checks every page of the chain; `Err` with the exit status when it is not restorable (1) or
/// cannot be checked (2).
fn verify(full: &Path, incs: &[PathBuf]) -> Result<(), ExitCode> {
    match verify_chain(full, incs, &NoProgress, &Cancel::new()) {
        Ok(r) => {
            println!(
                "verified {} files, {} pages: {}",
                r.files_checked,
                r.pages_checked,
                r.verdict()
            );
            if !r.restorable() {
                return Err(ExitCode::from(1));
            }
            Ok(())
        }
        Err(e) => {
            eprintln!("apply_chain: {e}");
            Err(ExitCode::from(2))
        }
    }
}

fn print_summary(s: &PlanSummary) {
    println!(
        "plan: {} incremental(s), {} delta(s) with {} page(s), {} step(s){}",
        s.incrementals,
        s.deltas,
        s.delta_pages,
        s.steps,
        if s.resumed {
            " (resuming an interrupted apply)"
        } else {
            ""
        }
    );
}

/// Runs the plan with our progress reporter and prints its report.
fn execute(plan: PreparePlan, full: &Path, s: &PlanSummary) -> ExitCode {
    let printer = Printer::default();
    match plan.execute(&printer, &Cancel::new()) {
        Ok(r) => {
            println!(
                "done: {} page(s) written ({} bytes) in {} file(s); {} created, {} renamed, {} \
                 removed, {} copied, {} already identical",
                r.pages_written,
                r.bytes_written,
                r.files_merged,
                r.files_created,
                r.files_renamed,
                r.files_removed,
                r.files_copied,
                r.files_unchanged
            );
            println!(
                "(the progress reporter saw {} page(s) written)",
                printer.pages.load(Ordering::Relaxed)
            );
            if let Some(l) = s.to_lsn {
                println!("{} is now a full backup at to_lsn {l}", full.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("apply_chain: {e}");
            ExitCode::from(2)
        }
    }
}
