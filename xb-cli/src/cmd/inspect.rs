//! `xb inspect FILE [--json] [--pages]`: the facts of a tablespace or a redo log.

use std::path::{Path, PathBuf};

use anyhow::Context;
use innodb_page::tablespace::{OpenOptions, ReadMode, Tablespace};
use innodb_page::{datadir, redo, verify};

use super::print_json;
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
    /// Print JSON (schema in docs/json.md).
    #[arg(long)]
    pub json: bool,
    /// One row per page: number, type, LSN, checksum verdict.
    #[arg(long)]
    pub pages: bool,
}

/// Is this path a redo log by its name?
fn is_redo_name(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    redo::file::is_redo_file_name(&name)
}

/// Runs `xb inspect`.
pub fn run(a: Args) -> anyhow::Result<u8> {
    if is_redo_name(&a.file) {
        return inspect_redo(&a);
    }
    let files = datadir::tablespace_files(&a.file);
    // pread, not a memory map: the file may be a running server's (which truncates files),
    // and a disk error must be an error, not a SIGBUS
    match Tablespace::open_with(&files, OpenOptions::default().mode(ReadMode::Pread)) {
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

fn checksum_text(c: &verify::PageCheck) -> String {
    match (&c.problem, &c.verdict) {
        (Some(p), _) => format!("CORRUPT: {p}"),
        (None, Some(v)) => v.to_string(),
        (None, None) => "doublewrite copy (not judged)".into(),
    }
}

fn inspect_tablespace(a: &Args, ts: &Tablespace) -> anyhow::Result<u8> {
    let s = verify::summarize(ts, a.pages)?;
    if a.json {
        print_json(&s)?;
        return Ok(EXIT_OK);
    }
    let files: Vec<String> = s.files.iter().map(|f| f.display().to_string()).collect();
    println!("file:               {}", files.join(" + "));
    println!("space_id:           {}", s.space_id);
    println!(
        "format:             {} (vendor: {})",
        s.format,
        s.vendor.name()
    );
    println!(
        "flags:              {:#x} ({:?} layout)",
        s.flags.raw(),
        s.flags.layout()
    );
    println!(
        "page size:          {} logical, {} physical",
        s.logical_page_size, s.physical_page_size
    );
    println!(
        "pages:              {} in the file(s); FSP size {}, free limit {}",
        s.page_count, s.fsp_size, s.free_limit
    );
    println!("max_lsn:            {}", s.max_lsn);
    if let Some(c) = s.page_compression {
        println!("page compression:   {c:?}");
    }
    if let Some(e) = &s.encryption {
        println!("encryption:         {}", serde_json::to_value(e)?);
    }
    println!(
        "checksums:          {} of {} pages unsound",
        s.corrupt_pages, s.pages_checked
    );
    if let Some(pages) = &s.pages {
        println!(
            "{:>10}  {:<28} {:>20}  checksum",
            "page_no", "page_type", "lsn"
        );
        for c in pages {
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
    let s = redo::open(&a.file)?.summary(&a.file);
    if a.json {
        print_json(&s)?;
        return Ok(EXIT_OK);
    }
    println!("file:               {}", s.file.display());
    println!("format:             {}", s.format.name());
    println!("creator:            {}", s.creator);
    println!("checkpoint_lsn:     {}", s.checkpoint_lsn);
    if let Some(e) = s.checkpoint_end_lsn {
        println!("checkpoint_end_lsn: {e} (start of the checkpoint's own FILE_CHECKPOINT record)");
    }
    if s.encrypted.is_encrypted() {
        println!("encryption:         {}", s.encrypted.name());
    }
    match s.end_lsn {
        Some(e) => println!("end_lsn:            {e}"),
        None => println!("end_lsn:            unknown (the log cannot be scanned to its end)"),
    }
    Ok(EXIT_OK)
}
