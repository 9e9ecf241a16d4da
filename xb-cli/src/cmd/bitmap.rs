//! `xb bitmap dump` and `xb bitmap verify`: read and check changed-page bitmap files.

use std::path::{Path, PathBuf};

use innodb_page::Lsn;
use lsn_bitmap::{BitmapDir, BlockKey, ChangedPages, Error, FileReport, RunReader, Tail};
use serde_json::{json, Value};

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
    for f in &files {
        println!("{verb} {}", f.display());
    }
    if files.is_empty() {
        println!("nothing to remove before LSN {lsn}");
    }
    Ok(EXIT_OK)
}

/// A short, stable name for each error variant (for JSON and scripts).
fn error_kind(e: &Error) -> &'static str {
    match e {
        Error::Io { .. } => "io",
        Error::InvalidRange { .. } => "invalid_range",
        Error::NoBitmapFiles { .. } => "no_bitmap_files",
        Error::StartNotCovered { .. } => "start_not_covered",
        Error::MissingFile { .. } => "missing_file",
        Error::LsnGap { .. } => "lsn_gap",
        Error::EndNotCovered { .. } => "end_not_covered",
        Error::CorruptBlock { .. } => "corrupt_block",
        Error::InconsistentRun { .. } => "inconsistent_run",
        Error::IncompleteRun { .. } => "incomplete_run",
        Error::TruncatedFile { .. } => "truncated_file",
        Error::InconsistentDir { .. } => "inconsistent_dir",
        Error::NoOpenFile | Error::LsnBackwards { .. } | Error::EmptyRun { .. } => "writer",
        Error::FileExists { .. } => "writer",
        _ => "other",
    }
}

fn error_json(e: &Error) -> Value {
    json!({ "kind": error_kind(e), "message": e.to_string() })
}

fn tail_text(t: &Tail) -> String {
    match t {
        Tail::Truncated { offset, len } => {
            format!("partial block at byte {offset} (file is {len} bytes)")
        }
        Tail::Corrupt { offset, problem } => format!("torn block at byte {offset}: {problem}"),
        Tail::IncompleteRun {
            offset,
            start_lsn,
            end_lsn,
        } => format!("run at byte {offset} (LSN {start_lsn}..{end_lsn}) without its last block"),
    }
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

fn pages_json(changed: &ChangedPages) -> Value {
    Value::Array(
        changed
            .spaces()
            .map(|(space, set)| {
                let ranges: Vec<Value> = set
                    .ranges()
                    .map(|r| json!({ "start": r.start, "end": r.end }))
                    .collect();
                json!({ "space_id": space, "pages": set.len(), "ranges": ranges })
            })
            .collect(),
    )
}

fn dump(a: &DumpArgs) -> anyhow::Result<u8> {
    let dir = BitmapDir::open(&a.dir)?;
    let mut exit = EXIT_OK;
    let mut files_json = Vec::new();
    if dir.files().is_empty() && !a.json {
        println!("no ib_modified_log_*.xdb files in {}", dir.path().display());
    }
    for f in dir.files() {
        let mut runs_json = Vec::new();
        let mut error = None;
        let mut tail = None;
        if !a.json {
            println!(
                "{}: seq {}, start LSN {}, {} bytes",
                file_name(&f.path),
                f.name.seq,
                f.name.start_lsn,
                f.len
            );
        }
        match RunReader::open(&f.path, Some(f.name.start_lsn)) {
            Err(e) => error = Some(e),
            Ok(mut reader) => {
                loop {
                    let mut keys: Vec<(BlockKey, usize)> = Vec::new();
                    match reader.next_run(|b| {
                        if a.blocks {
                            keys.push((b.key(), b.bits().count_ones()));
                        }
                    }) {
                        Ok(Some(run)) => {
                            if a.json {
                                let mut r = json!({
                                    "offset": run.offset,
                                    "start_lsn": run.start_lsn.get(),
                                    "end_lsn": run.end_lsn.get(),
                                    "blocks": run.blocks,
                                });
                                if a.blocks {
                                    r["block_keys"] = Value::Array(
                                        keys.iter()
                                            .map(|(k, n)| {
                                                json!({
                                                    "space_id": k.space_id,
                                                    "first_page_id": k.first_page_id,
                                                    "pages": n,
                                                })
                                            })
                                            .collect(),
                                    );
                                }
                                runs_json.push(r);
                            } else {
                                println!(
                                    "  run at byte {}: LSN {}..{}, {} block(s)",
                                    run.offset, run.start_lsn, run.end_lsn, run.blocks
                                );
                                for (k, n) in &keys {
                                    println!(
                                        "    space {} pages {}..{}: {} set",
                                        k.space_id,
                                        k.first_page_id,
                                        u64::from(k.first_page_id)
                                            + u64::from(lsn_bitmap::PAGES_PER_BLOCK),
                                        n
                                    );
                                }
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            error = Some(e);
                            break;
                        }
                    }
                }
                tail = reader.tail().cloned();
            }
        }
        if error.is_some() {
            exit = EXIT_FOUND_PROBLEM;
        }
        if a.json {
            files_json.push(json!({
                "file": f.path.display().to_string(),
                "seq": f.name.seq,
                "start_lsn": f.name.start_lsn.get(),
                "len": f.len,
                "runs": runs_json,
                "tail": tail.as_ref().map(tail_text),
                "error": error.as_ref().map(error_json),
            }));
        } else {
            if let Some(t) = &tail {
                println!("  tail (ignored unless needed): {}", tail_text(t));
            }
            if let Some(e) = &error {
                println!("  error: {e}");
            }
        }
    }

    let mut range_json = Value::Null;
    if let (Some(start), Some(end)) = (a.start_lsn, a.end_lsn) {
        let (start, end) = (Lsn::new(start), Lsn::new(end));
        let mut changed = ChangedPages::new();
        let result = dir.visit_blocks(start, end, |b| {
            changed.union_bitmap(b.key(), b.bitmap());
        });
        match result {
            Ok(stats) => {
                if a.json {
                    range_json = json!({
                        "start_lsn": start.get(),
                        "end_lsn": end.get(),
                        "covered": true,
                        "runs": stats.runs,
                        "blocks": stats.blocks,
                        "spaces": pages_json(&changed),
                    });
                } else {
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
            }
            Err(e) => {
                exit = EXIT_FOUND_PROBLEM;
                if a.json {
                    range_json = json!({
                        "start_lsn": start.get(),
                        "end_lsn": end.get(),
                        "covered": false,
                        "reason": error_json(&e),
                    });
                } else {
                    println!("range {start}..{end}: not covered: {e}");
                }
            }
        }
    }
    if a.json {
        let out = json!({
            "dir": dir.path().display().to_string(),
            "files": files_json,
            "range": range_json,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    }
    Ok(exit)
}

fn report_json(f: &FileReport) -> Value {
    json!({
        "file": f.path.display().to_string(),
        "len": f.len,
        "blocks": f.blocks,
        "runs": f.runs,
        "first_lsn": f.first_lsn.map(Lsn::get),
        "last_lsn": f.last_lsn.map(Lsn::get),
        "problem_count": f.problem_count,
        "problems": f.problems.iter().map(error_json).collect::<Vec<_>>(),
        "tail": f.tail.as_ref().map(tail_text),
    })
}

fn verify(a: &VerifyArgs) -> anyhow::Result<u8> {
    let dir = BitmapDir::open(&a.dir)?;
    let report = dir.verify()?;
    if a.json {
        let out = json!({
            "dir": dir.path().display().to_string(),
            "clean": report.is_clean(),
            "files": report.files.iter().map(report_json).collect::<Vec<_>>(),
            "problems": report.problems.iter().map(error_json).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        for f in &report.files {
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
                println!("  note: tail ignored by readers: {}", tail_text(t));
            }
        }
        for p in &report.problems {
            println!("directory: {p}");
        }
        if report.files.is_empty() {
            println!("no bitmap files in {}", dir.path().display());
        }
    }
    Ok(if report.is_clean() {
        EXIT_OK
    } else {
        EXIT_FOUND_PROBLEM
    })
}
