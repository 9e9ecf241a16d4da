//! `xb inspect FILE [--json] [--pages]`: the facts of a tablespace or a redo log.

use std::path::{Path, PathBuf};

use anyhow::Context;
use innodb_page::fsp::Encryption;
use innodb_page::redo;
use innodb_page::tablespace::Tablespace;
use innodb_page::verify::{self, TablespaceReport};
use serde_json::{json, Value};

use crate::EXIT_OK;

/// Arguments of `xb inspect`.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  xb inspect /var/lib/mysql/shop/orders.ibd\n  \
xb inspect --pages --json /var/lib/mysql/ibdata1\n  xb inspect /var/lib/mysql/ib_logfile0"
)]
pub struct Args {
    /// A tablespace file (`.ibd`, `ibdata1`, undo) or a redo log (`ib_logfile0`,
    /// `#innodb_redo`). For `ibdata1`, the other `ibdataN` files beside it are read too.
    pub file: PathBuf,
    /// Print JSON (schema in the README).
    #[arg(long)]
    pub json: bool,
    /// One row per page: number, type, LSN, checksum verdict.
    #[arg(long)]
    pub pages: bool,
}

/// Is this path a redo log by its name?
pub fn is_redo_name(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    innodb_page::redo::file::is_redo_file_name(&name)
}

/// The files of the tablespace `path` belongs to: for `ibdataN`, every `ibdataN` beside it in
/// numeric order; otherwise the file alone.
pub fn tablespace_files(path: &Path) -> Vec<PathBuf> {
    let dir = path.parent().unwrap_or(Path::new("."));
    match innodb_page::datadir::system_files(dir) {
        Ok(system) if system.iter().any(|p| p.file_name() == path.file_name()) => system,
        _ => vec![path.to_path_buf()],
    }
}

/// Runs `xb inspect`.
pub fn run(a: Args) -> anyhow::Result<u8> {
    if is_redo_name(&a.file) {
        return inspect_redo(&a);
    }
    let files = tablespace_files(&a.file);
    match Tablespace::open_with(&files, Default::default()) {
        Ok(ts) => inspect_tablespace(&a, &ts),
        Err(ts_err) => {
            // Not a tablespace: perhaps a redo log under another name.
            if redo::open(&a.file).is_ok() {
                inspect_redo(&a)
            } else {
                Err(ts_err).context("not a readable tablespace or redo log")
            }
        }
    }
}

fn encryption_json(e: Option<Encryption>) -> Value {
    match e {
        None => Value::Null,
        Some(Encryption::MariaDb {
            scheme,
            min_key_version,
            key_id,
            mode,
        }) => json!({"kind": "mariadb", "scheme": scheme, "min_key_version": min_key_version,
                     "key_id": key_id, "mode": mode}),
        Some(Encryption::MySql {
            version,
            master_key_id,
        }) => json!({"kind": "mysql", "version": version, "master_key_id": master_key_id}),
    }
}

fn checksum_text(c: &verify::PageCheck) -> String {
    match (&c.problem, &c.verdict) {
        (Some(p), _) => format!("CORRUPT: {p}"),
        (None, Some(v)) => v.to_string(),
        (None, None) => "doublewrite copy (not judged)".into(),
    }
}

/// `--json` `checksum` field: the algorithm that matched, or `empty`, `unverifiable`,
/// `corrupt`, `doublewrite` (copies in the system tablespace, not judged), `misplaced` (sound
/// checksum, wrong page number or space id).
fn checksum_name(c: &verify::PageCheck) -> &'static str {
    match (&c.problem, &c.verdict) {
        (Some(verify::Problem::Checksum(_)), _) => "corrupt",
        (Some(_), _) => "misplaced",
        (None, Some(v)) => v.algorithm().map(|a| a.name()).unwrap_or(v.name()),
        (None, None) => "doublewrite",
    }
}

fn inspect_tablespace(a: &Args, ts: &Tablespace) -> anyhow::Result<u8> {
    let f = ts.format();
    let report: TablespaceReport = verify::verify_tablespace(ts, a.pages)?;
    let files: Vec<String> = ts.files().map(|f| f.path.display().to_string()).collect();
    if a.json {
        let mut v = json!({
            "kind": "tablespace",
            "files": files,
            "space_id": f.space_id,
            "flags": f.flags.raw(),
            "format": f.format_name(),
            "vendor": f.vendor.name(),
            "logical_page_size": f.logical_page_size(),
            "physical_page_size": f.physical_page_size(),
            "zip_size": f.flags.zip_size(),
            "page_count": ts.page_count(),
            "fsp_size": f.header.size,
            "free_limit": f.header.free_limit,
            "max_lsn": report.max_lsn.get(),
            "encryption": encryption_json(f.encryption),
            "page_compression": f.flags.page_compression().map(|c| format!("{c:?}").to_lowercase()),
            "corrupt_pages": report.corrupt.len(),
        });
        if a.pages {
            v["pages"] = report
                .page_checks
                .iter()
                .map(|c| {
                    json!({
                        "page_no": c.page_no,
                        "page_type": c.page_type.name(),
                        "lsn": c.lsn.get(),
                        "checksum_ok": c.problem.is_none(),
                        "checksum": checksum_name(c),
                        "reason": c.problem.as_ref().map(|p| p.to_string()),
                    })
                })
                .collect();
        }
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(EXIT_OK);
    }
    println!("file:               {}", files.join(" + "));
    println!("space_id:           {}", f.space_id);
    println!(
        "format:             {} (vendor: {})",
        f.format_name(),
        f.vendor.name()
    );
    println!(
        "flags:              {:#x} ({:?} layout)",
        f.flags.raw(),
        f.flags.layout()
    );
    println!(
        "page size:          {} logical, {} physical",
        f.logical_page_size(),
        f.physical_page_size()
    );
    println!(
        "pages:              {} in the file(s); FSP size {}, free limit {}",
        ts.page_count(),
        f.header.size,
        f.header.free_limit
    );
    println!("max_lsn:            {}", report.max_lsn);
    if let Some(c) = f.flags.page_compression() {
        println!("page compression:   {c:?}");
    }
    if f.encryption.is_some() {
        println!("encryption:         {}", encryption_json(f.encryption));
    }
    println!(
        "checksums:          {} of {} pages unsound",
        report.corrupt.len(),
        report.pages
    );
    if a.pages {
        println!(
            "{:>10}  {:<28} {:>20}  checksum",
            "page_no", "page_type", "lsn"
        );
        for c in &report.page_checks {
            println!(
                "{:>10}  {:<28} {:>20}  {}",
                c.page_no,
                c.page_type.name(),
                c.lsn,
                checksum_text(c)
            );
        }
    }
    Ok(EXIT_OK)
}

fn inspect_redo(a: &Args) -> anyhow::Result<u8> {
    let log = redo::open(&a.file)?;
    let end = log.end_lsn().map(|l| l.get());
    if a.json {
        let v = json!({
            "kind": "redo",
            "file": a.file.display().to_string(),
            "format": log.format.name(),
            "creator": log.creator,
            "checkpoint_lsn": log.checkpoint_lsn().get(),
            "checkpoint_end_lsn": log.checkpoint_end_lsn().map(|l| l.get()),
            "end_lsn": end,
            "encrypted": log.encryption.name(),
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(EXIT_OK);
    }
    println!("file:               {}", a.file.display());
    println!("format:             {}", log.format.name());
    println!("creator:            {}", log.creator);
    println!("checkpoint_lsn:     {}", log.checkpoint_lsn());
    if let Some(e) = log.checkpoint_end_lsn() {
        println!("checkpoint_end_lsn: {e} (start of the checkpoint's own FILE_CHECKPOINT record)");
    }
    if log.encryption.name() != "none" {
        println!("encryption:         {}", log.encryption.name());
    }
    match end {
        Some(e) => println!("end_lsn:            {e}"),
        None => println!("end_lsn:            unknown (the log cannot be scanned to its end)"),
    }
    Ok(EXIT_OK)
}
