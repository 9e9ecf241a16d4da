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

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};

use incremental_core::progress::{Cancel, Event, NoProgress, Progress};
use incremental_core::{verify_chain, Plan, PrepareOptions};

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

fn main() -> ExitCode {
    let mut dry_run = false;
    let mut verify = false;
    let mut dirs: Vec<PathBuf> = Vec::new();
    for a in std::env::args().skip(1) {
        match a.as_str() {
            "--dry-run" => dry_run = true,
            "--verify" => verify = true,
            s if s.starts_with('-') => {
                eprintln!("apply_chain: unknown option {s}");
                dirs.clear();
                break;
            }
            _ => dirs.push(a.into()),
        }
    }
    let Some((full, incs)) = dirs.split_first() else {
        eprintln!("usage: apply_chain [--dry-run] [--verify] FULL [INC1 INC2 ...]");
        return ExitCode::from(2);
    };

    if verify {
        match verify_chain(full, incs, &NoProgress, &Cancel::new()) {
            Ok(r) => {
                println!(
                    "verified {} files, {} pages: {}",
                    r.files_checked,
                    r.pages_checked,
                    r.verdict()
                );
                if !r.restorable() {
                    return ExitCode::from(1);
                }
            }
            Err(e) => {
                eprintln!("apply_chain: {e}");
                return ExitCode::from(2);
            }
        }
    }

    // Planning reads and checks everything and writes nothing; its errors name the files.
    let plan = match Plan::new(full, incs, &PrepareOptions::default()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("apply_chain: {e}");
            return ExitCode::from(2);
        }
    };
    let s = plan.summary().clone();
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
    if dry_run {
        for line in plan.describe() {
            println!("  {line}");
        }
        println!("nothing changed (--dry-run)");
        return ExitCode::SUCCESS;
    }
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
