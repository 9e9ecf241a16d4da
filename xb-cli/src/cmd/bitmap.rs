//! `xb bitmap dump` and `xb bitmap verify`: read and check changed-page bitmap files.

use std::path::{Path, PathBuf};

use innodb_page::Lsn;
use lsn_bitmap::BitmapDir;

use super::print_json;
use crate::{EXIT_FOUND_PROBLEM, EXIT_OK};

/// `xb bitmap` subcommands.
#[derive(clap::Subcommand)]
pub enum BitmapCommand {
    /// List the runs of every bitmap file and, for an LSN range, the changed pages per
    /// tablespace or the reason the range is not covered (exit 1).
    Dump(DumpArgs),
    /// Check every block of every bitmap file; exit 1 on corruption.
    Verify(VerifyArgs),
    /// Remove bitmap files that only describe changes before an LSN.
    Purge(PurgeArgs),
}

/// Arguments of `xb bitmap purge`.
#[derive(clap::Args)]
#[command(after_help = "\
Removes every file followed by a file that starts at or before the LSN (its data ends before \
it), never the newest; incrementals from a base at or after the LSN still use the bitmaps, \
older ones scan. A running `xb track` may keep appending to the newest file meanwhile.

Exit status: 0 done; 2 usage or I/O error.

Examples:
  xb bitmap purge /var/lib/mysql --before 2600000
  xb bitmap purge /var/lib/mysql --before 2600000 --dry-run")]
pub struct PurgeArgs {
    /// Directory holding `ib_modified_log_<seq>_<lsn>.xdb` files.
    pub dir: PathBuf,
    /// Remove the files whose data lies entirely before this LSN.
    #[arg(long)]
    pub before: u64,
    /// Only list what would be removed.
    #[arg(long)]
    pub dry_run: bool,
}

/// Arguments of `xb bitmap dump`.
#[derive(clap::Args)]
#[command(after_help = "\
Exit status: 0 listed (and the range, if given, is covered); 1 a corrupt file, or the range is \
not covered (the reason is printed); 2 usage or I/O error.

Examples:
  xb bitmap dump /var/lib/mysql
  xb bitmap dump /var/lib/mysql --start-lsn 2500178 --end-lsn 2600000
  xb bitmap dump /var/lib/mysql --blocks --json")]
pub struct DumpArgs {
    /// Directory holding `ib_modified_log_<seq>_<lsn>.xdb` files.
    pub dir: PathBuf,
    /// Start of the LSN range to answer.
    #[arg(long, requires = "end_lsn")]
    pub start_lsn: Option<u64>,
    /// End of the LSN range to answer.
    #[arg(long, requires = "start_lsn")]
    pub end_lsn: Option<u64>,
    /// Also list the `(space, first page)` key of every block of every run.
    #[arg(long)]
    pub blocks: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `xb bitmap verify`.
#[derive(clap::Args)]
#[command(after_help = "\
Exit status: 0 every block sound; 1 a corrupt block or file; 2 usage or I/O error.

Examples:
  xb bitmap verify /var/lib/mysql
  xb bitmap verify /backups/bitmaps --json")]
pub struct VerifyArgs {
    /// Directory holding `ib_modified_log_<seq>_<lsn>.xdb` files.
    pub dir: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub fn run(c: BitmapCommand) -> anyhow::Result<u8> {
    match c {
        BitmapCommand::Dump(a) => dump(&a),
        BitmapCommand::Verify(a) => verify(&a),
        BitmapCommand::Purge(a) => purge(&a),
    }
}

fn purge(a: &PurgeArgs) -> anyhow::Result<u8> {
    let lsn = Lsn::new(a.before);
    let files = if a.dry_run {
        lsn_bitmap::purge::purgeable(&a.dir, lsn)?
    } else {
        lsn_bitmap::purge::purge_before(&a.dir, lsn)?
    };
    let verb = if a.dry_run { "would remove" } else { "removed" };
    // what a dry run would remove is its answer; what a purge removed is a summary
    let say = |line: String| match a.dry_run {
        true => println!("{line}"),
        false => crate::ui::summary(line),
    };
    for f in &files {
        say(format!("{verb} {}", f.display()));
    }
    if files.is_empty() {
        say(format!("nothing to remove before LSN {lsn}"));
    }
    Ok(EXIT_OK)
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}

fn ranges_text(pages: &lsn_bitmap::PageSet) -> String {
    let parts: Vec<String> = pages
        .ranges()
        .map(|r| {
            if r.end - r.start == 1 {
                r.start.to_string()
            } else {
                format!("{}..{}", r.start, r.end)
            }
        })
        .collect();
    parts.join(", ")
}

fn dump(a: &DumpArgs) -> anyhow::Result<u8> {
    let dir = BitmapDir::open(&a.dir)?;
    let range = a
        .start_lsn
        .zip(a.end_lsn)
        .map(|(s, e)| (Lsn::new(s), Lsn::new(e)));
    let report = dir.dump(a.blocks, range);
    let exit = if report.is_clean() {
        EXIT_OK
    } else {
        EXIT_FOUND_PROBLEM
    };
    if a.json {
        print_json(&report)?;
        return Ok(exit);
    }
    if report.files.is_empty() {
        println!("no ib_modified_log_*.xdb files in {}", report.dir.display());
    }
    for f in &report.files {
        println!(
            "{}: seq {}, start LSN {}, {} bytes",
            file_name(&f.path),
            f.seq,
            f.start_lsn,
            f.len
        );
        for r in &f.runs {
            let run = &r.run;
            println!(
                "  run at byte {}: LSN {}..{}, {} block(s)",
                run.offset, run.start_lsn, run.end_lsn, run.blocks
            );
            for b in r.block_keys.iter().flatten() {
                println!(
                    "    space {} pages {}..{}: {} set",
                    b.key.space_id,
                    b.key.first_page_id,
                    u64::from(b.key.first_page_id) + u64::from(lsn_bitmap::PAGES_PER_BLOCK),
                    b.pages
                );
            }
        }
        if let Some(t) = &f.tail {
            println!("  tail (ignored unless needed): {t}");
        }
        if let Some(e) = &f.error {
            println!("  error: {e}");
        }
    }
    if let Some(r) = &report.range {
        let (start, end) = (r.start_lsn, r.end_lsn);
        match &r.result {
            Ok((stats, changed)) => {
                println!(
                    "range {start}..{end}: covered by {} run(s), {} block(s), {} page(s)",
                    stats.runs,
                    stats.blocks,
                    changed.page_count()
                );
                for (space, set) in changed.spaces() {
                    println!("  space {space}: {}", ranges_text(set));
                }
            }
            Err(e) => println!("range {start}..{end}: not covered: {e}"),
        }
    }
    Ok(exit)
}

fn verify(a: &VerifyArgs) -> anyhow::Result<u8> {
    let dir = BitmapDir::open(&a.dir)?;
    let report = dir.verify()?;
    if a.json {
        print_json(&report)?;
    } else {
        for f in &report.files {
            // --quiet: only the files with problems
            if f.is_clean() && crate::ui::quiet() {
                continue;
            }
            let lsns = match (f.first_lsn, f.last_lsn) {
                (Some(a), Some(b)) => format!(", LSN {a}..{b}"),
                _ => String::new(),
            };
            println!(
                "{} {}: {} block(s), {} run(s){}",
                if f.is_clean() { "ok " } else { "BAD" },
                file_name(&f.path),
                f.blocks,
                f.runs,
                lsns
            );
            for p in &f.problems {
                println!("  {p}");
            }
            if f.problem_count > f.problems.len() as u64 {
                println!(
                    "  … {} more problem(s)",
                    f.problem_count - f.problems.len() as u64
                );
            }
            if let Some(t) = &f.tail {
                println!("  note: tail ignored by readers: {t}");
            }
        }
        for p in &report.problems {
            println!("directory: {p}");
        }
        if report.files.is_empty() {
            crate::ui::summary(format!("no bitmap files in {}", report.dir.display()));
        }
    }
    Ok(if report.is_clean() {
        EXIT_OK
    } else {
        EXIT_FOUND_PROBLEM
    })
}
