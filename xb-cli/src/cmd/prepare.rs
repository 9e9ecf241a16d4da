//! `xb prepare`: merge incrementals into a base backup (a synthetic full), or process the DDL
//! marker files of a full backup.

use std::path::{Path, PathBuf};
use std::time::Duration;

use incremental_core::prepare::apply_redo::{
    apply_redo, ApplyRedoOptions, ApplyRedoReport, BINLOG_POS_FILE,
};
use incremental_core::prepare::export::{export, ExportError, ExportOptions};
use incremental_core::prepare::{
    extract_full, remove_spool, spool_stream, FullExtraction, PrepareOptions, PreparePlan,
    PrepareReport,
};
use incremental_core::progress::Cancel;

use crate::ui::{self, CliProgress};
use crate::EXIT_OK;

/// Environment variable: microseconds to pause after each batch of pages written (the
/// library's throttle, [`PrepareOptions::throttle`]); the tests use it to kill `xb prepare` in
/// the middle of a merge.
const THROTTLE_ENV: &str = "XB_TEST_APPLY_DELAY_US";

/// Arguments.
#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("redo_step").args(["apply_redo", "export"]).multiple(true)))]
#[command(after_help = "\
With --incremental-dir (repeatable, oldest first): merges the incrementals into the target in \
one pass. The target becomes a full backup as of the newest incremental: its pages merged, the \
newest incremental's redo log (ib_logfile0) and non-InnoDB files in place, xtrabackup_checkpoints \
saying full-backuped with the newest to_lsn. The redo is applied by the server's crash recovery \
on its first start (or by mariabackup --prepare). The incremental directories are not modified.

Streams (xbstream, as written by xb backup --stream=xbstream or mariabackup --stream=xbstream): \
--stream FILE (or - for standard input) gives the full backup as a stream; it is extracted into \
--target-dir, which must be absent or empty (a later run with the same arguments finds it there \
and does not read the stream again). An --incremental-dir that is a regular file is read as a \
stream in place: its deltas are merged straight from it, nothing of it is extracted (the stream \
is read twice before anything is written: its chunk headers, then every checksum). An \
--incremental-dir of - reads a stream from standard input: it cannot be read at random, so it \
is first saved in the target as xb_prepare.stdin.xbstream (taking its size on disk) and removed \
at the end. Standard input serves one - only. Directories and streams mix freely in a chain. \
Compressed or encrypted streams (xb backup --stream=xbstream --compress/--encrypt: X.zst, X.lz4, \
X.age) are decoded as they are read, with no temporary file (encrypted: --encrypt-key-file or \
XB_ENCRYPT_KEY).

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
settings from backup-my.cnf) to apply the redo log, as mariabackup --prepare does, and shuts it \
down cleanly; the target stays log-applied, so the next incremental can be prepared onto it the \
same way (one --incremental-dir per run, as with mariabackup).

With --export (implies --apply-redo): then runs mariadbd once more on the result, as \
mariabackup --prepare --export does, and leaves beside each InnoDB table's .ibd the .cfg file \
that ALTER TABLE ... IMPORT TABLESPACE needs on another server. The server rolls back and purges: \
the target is then final (full-prepared).

Examples:
  xb prepare --target-dir /backups/full --incremental-dir /backups/inc1 --incremental-dir /backups/inc2
  xb prepare --target-dir /backups/full --incremental-dir /backups/inc1 --apply-redo
  xb prepare --target-dir /backups/full --incremental-dir /backups/inc1 --dry-run
  xb prepare --target-dir /backups/full
  xb prepare --stream full.xbstream --target-dir /restore/full --incremental-dir inc1.xbstream
  ssh host cat inc2.xbstream | xb prepare --target-dir /restore/full --incremental-dir inc1.xbstream --incremental-dir -")]
pub struct Args {
    /// The base backup to prepare (modified in place); with --stream, where the full backup is
    /// extracted (absent or empty).
    #[arg(long, value_name = "DIR")]
    pub target_dir: PathBuf,
    /// The full backup as an xbstream file (- for standard input), extracted into --target-dir
    /// first.
    #[arg(long, value_name = "FILE|-", conflicts_with = "dry_run")]
    pub stream: Option<PathBuf>,
    /// An incremental backup to merge: a directory, an xbstream file (read in place) or - (a
    /// stream on standard input); repeat for a chain, oldest first.
    #[arg(long, value_name = "DIR|FILE|-")]
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
    /// its own socket) to apply the redo log and shut it down cleanly. The result is marked
    /// log-applied (more incrementals can be prepared onto it).
    #[arg(long)]
    pub apply_redo: bool,
    /// Then export the tables (implies --apply-redo): a .cfg file beside each InnoDB table's
    /// .ibd, for ALTER TABLE ... IMPORT TABLESPACE (mariabackup --prepare --export).
    #[arg(long, conflicts_with = "dry_run")]
    pub export: bool,
    /// The server binary for --apply-redo and --export (default: mariadbd next to xb, on PATH
    /// or in /usr/sbin).
    #[arg(long, value_name = "PATH", requires = "redo_step")]
    pub mariadbd: Option<PathBuf>,
    /// Merge even when the target or an incremental is a partial backup (--tables,
    /// --databases and their -exclude forms), as mariabackup does: a table an incremental
    /// lacks is then dropped from the result, and a table the target lacks is restored whole
    /// only if it was created after the target was taken.
    #[arg(long)]
    pub accept_partial: bool,
    #[command(flatten)]
    pub keys: super::codec_args::AgeKeyArgs,
}

/// Runs the command.
pub fn run(a: Args) -> anyhow::Result<u8> {
    run_with(a, |_| {})
}

/// Runs the command; `on_redo` is shown the report of the redo step (when one ran).
pub fn run_with(a: Args, on_redo: impl FnOnce(&ApplyRedoReport)) -> anyhow::Result<u8> {
    let code = run_merge(&a)?;
    if !(a.apply_redo || a.export) || a.dry_run || code != EXIT_OK {
        return Ok(code);
    }
    on_redo(&run_apply_redo(&a.target_dir, a.mariadbd.clone())?);
    if a.export {
        run_export(&a.target_dir, a.mariadbd.clone())?;
    }
    Ok(code)
}

/// `--export`: the `.cfg` file of each InnoDB table.
fn run_export(target: &Path, mariadbd: Option<PathBuf>) -> anyhow::Result<()> {
    let mut opts = ExportOptions::default();
    opts.set_mariadbd(mariadbd);
    ui::note(format!(
        "exporting the tables: starting mariadbd on {} (private socket, no network)",
        target.display()
    ));
    let progress = CliProgress::new("export");
    let r = export(target, &opts, &progress).map_err(|e| match e {
        // the server's errors keep their own type (and remedy)
        ExportError::Server(inner) => anyhow::Error::new(inner),
        other => anyhow::Error::new(other),
    })?;
    progress.finish();
    if r.resumed {
        ui::note("finished an interrupted --export");
    }
    for t in &r.skipped {
        ui::note(format!("table {} not exported: {}", t.table, t.why));
    }
    ui::note(format!(
        "{}: {} table(s) exported, {} .cfg file(s) beside their .ibd, in {:.1} s ({}); the \
         backup is now full-prepared",
        target.display(),
        r.tables,
        r.cfg_files.len(),
        r.seconds,
        r.mariadbd.display()
    ));
    Ok(())
}

/// `--apply-redo`: the server's crash recovery on the result.
fn run_apply_redo(target: &Path, mariadbd: Option<PathBuf>) -> anyhow::Result<ApplyRedoReport> {
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
    if let Some(b) = &r.binlog {
        ui::note(format!(
            "binary log position of the last commit InnoDB recovered: {} at {} (in {})",
            b.file, b.offset, BINLOG_POS_FILE
        ));
    }
    ui::note(format!(
        "{}: {}; now {}",
        target.display(),
        if r.ran {
            format!(
                "redo applied and server shut down cleanly in {:.1} s ({})",
                r.seconds,
                r.mariadbd.display()
            )
        } else {
            "already prepared".to_string()
        },
        incremental_core::format::checkpoints::Checkpoints::read_dir(target)
            .map(|c| match c.backup_type.as_str() {
                "log-applied" => "log-applied (more incrementals can be prepared onto it)",
                other => other,
            })
            .unwrap_or("prepared"),
    ));
    Ok(r)
}

/// The options the arguments (and the throttle variable) ask for.
fn options(a: &Args) -> anyhow::Result<PrepareOptions> {
    let throttle = std::env::var(THROTTLE_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Duration::from_micros);
    let mut o = PrepareOptions::default();
    o.set_check_pages(!a.no_page_check)
        .set_throttle(throttle)
        .set_redo_step(a.apply_redo || a.export)
        .set_accept_partial(a.accept_partial)
        .set_keys(a.keys.keys()?);
    Ok(o)
}

/// Prints a report as the JSON record of `xb prepare --json`.
fn print_json(r: &PrepareReport) -> anyhow::Result<u8> {
    println!("{}", serde_json::to_value(r)?);
    Ok(EXIT_OK)
}

/// Whether a path argument means standard input.
fn is_stdin(p: &Path) -> bool {
    p.as_os_str() == "-"
}

/// `--stream`: extracts the full backup into the target (unless an earlier run did).
fn extract_stream(a: &Args, stream: &Path) -> anyhow::Result<()> {
    let target = &a.target_dir;
    let progress = CliProgress::new("extract");
    let keys = a.keys.keys()?;
    let mut input: Box<dyn std::io::Read> = if is_stdin(stream) {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(
            std::fs::File::open(stream)
                .map_err(|e| anyhow::anyhow!("{}: {e}", stream.display()))?,
        )
    };
    let done = extract_full(
        &mut input,
        stream,
        target,
        keys.as_ref(),
        &progress,
        &Cancel::new(),
    )?;
    match done {
        FullExtraction::Extracted { files, bytes } => {
            progress.finish();
            ui::note(format!(
                "extracted {files} file(s), {} MiB, of {} into {}",
                bytes >> 20,
                stream.display(),
                target.display()
            ));
        }
        _ => ui::note(format!(
            "{} already holds the backup (extracted by an earlier run); {} not read",
            target.display(),
            stream.display()
        )),
    }
    Ok(())
}

/// Runs the merge (or the DDL files of a full backup), the full extracted first from
/// `--stream`, an incremental `-` spooled into the target.
fn run_merge(a: &Args) -> anyhow::Result<u8> {
    let stdin_uses = a
        .stream
        .iter()
        .chain(&a.incremental_dir)
        .filter(|p| is_stdin(p))
        .count();
    if stdin_uses > 1 {
        anyhow::bail!(
            "standard input (-) can be given only once (--stream or one --incremental-dir)"
        );
    }
    if let Some(s) = &a.stream {
        extract_stream(a, s)?;
    }
    if !a.incremental_dir.iter().any(|p| is_stdin(p)) {
        return merge(a, &a.incremental_dir);
    }
    let spool = spool_stream(&a.target_dir, &mut std::io::stdin().lock())?;
    let incs: Vec<PathBuf> = a
        .incremental_dir
        .iter()
        .map(|p| {
            if is_stdin(p) {
                spool.clone()
            } else {
                p.clone()
            }
        })
        .collect();
    let r = merge(a, &incs);
    remove_spool(&a.target_dir)?;
    r
}

/// Plans and runs the merge of `incs` into the target.
fn merge(a: &Args, incs: &[PathBuf]) -> anyhow::Result<u8> {
    let dirs = std::iter::once(&a.target_dir)
        .chain(incs)
        .filter(|d| d.is_dir());
    let opts = options(a)?;
    super::codec_args::decode_in_place(dirs, &a.keys, &opts, a.dry_run)?;
    let plan = PreparePlan::new(&a.target_dir, incs, &opts)?;
    for f in &plan.summary().not_tablespaces {
        ui::note(format!(
            "{}: too short for an InnoDB page 0, not a tablespace: left as it is",
            plan.target().join(f).display()
        ));
    }
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
