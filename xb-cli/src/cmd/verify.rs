//! `xb verify PATH...`: check every page of tablespace files or whole datadirs.

use std::path::PathBuf;

use anyhow::Context;
use innodb_page::datadir;
use innodb_page::tablespace::Tablespace;
use innodb_page::verify;
use innodb_page::Error;
use serde_json::json;

use super::inspect::tablespace_files;
use crate::{EXIT_ERROR, EXIT_FOUND_PROBLEM, EXIT_OK};

/// Arguments of `xb verify`.
#[derive(clap::Args)]
#[command(
    after_help = "Exit status: 0 every page is sound; 1 some page is corrupt (each listed \
as file, page number, reason); 2 usage or I/O error.\n\nExamples:\n  xb verify /var/lib/mysql\n  \
xb verify --json shop/orders.ibd shop/customers.ibd"
)]
pub struct Args {
    /// Tablespace files, or datadirs (every InnoDB tablespace in them is checked).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Print JSON (schema in the README).
    #[arg(long)]
    pub json: bool,
}

struct Finding {
    file: PathBuf,
    page_no: Option<u64>,
    reason: String,
}

/// Runs `xb verify`.
pub fn run(a: Args) -> anyhow::Result<u8> {
    let mut groups: Vec<Vec<PathBuf>> = Vec::new();
    for p in &a.paths {
        let md = std::fs::metadata(p).with_context(|| format!("{}: cannot read", p.display()))?;
        if md.is_dir() {
            let files = datadir::scan(p)?;
            groups.extend(files.tablespace_groups());
        } else {
            groups.push(tablespace_files(p));
        }
    }
    groups.dedup();
    let mut findings = Vec::new();
    let mut io_errors = Vec::new();
    let (mut files_checked, mut pages_checked) = (0u64, 0u64);
    for g in &groups {
        match Tablespace::open_with(g, Default::default()) {
            Ok(ts) => {
                let r = verify::verify_tablespace(&ts, false)?;
                files_checked += g.len() as u64;
                pages_checked += r.pages;
                for c in r.corrupt {
                    findings.push(Finding {
                        file: ts.path_of(c.page_no).to_path_buf(),
                        page_no: Some(c.page_no),
                        reason: c.problem.map(|p| p.to_string()).unwrap_or_default(),
                    });
                }
            }
            Err(Error::Io {
                path,
                offset,
                source,
            }) => {
                io_errors.push(format!(
                    "{}: I/O error at offset {offset}: {source}",
                    path.display()
                ));
            }
            Err(Error::Page {
                path,
                offset,
                source,
            }) => findings.push(Finding {
                page_no: Some(offset / 1024),
                file: path,
                reason: source.to_string(),
            }),
            Err(Error::Layout { path, what }) => findings.push(Finding {
                file: path,
                page_no: None,
                reason: what,
            }),
            Err(e) => io_errors.push(e.to_string()),
        }
    }
    let code = if !io_errors.is_empty() {
        EXIT_ERROR
    } else if !findings.is_empty() {
        EXIT_FOUND_PROBLEM
    } else {
        EXIT_OK
    };
    if a.json {
        let v = json!({
            "files_checked": files_checked,
            "pages_checked": pages_checked,
            "corrupt": findings.iter().map(|f| json!({
                "file": f.file.display().to_string(),
                "page_no": f.page_no,
                "reason": f.reason,
            })).collect::<Vec<_>>(),
            "errors": io_errors,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        for f in &findings {
            match f.page_no {
                Some(n) => println!("{}: page {n}: {}", f.file.display(), f.reason),
                None => println!("{}: {}", f.file.display(), f.reason),
            }
        }
        for e in &io_errors {
            eprintln!("xb: error: {e}");
        }
        println!(
            "checked {} tablespaces ({files_checked} files, {pages_checked} pages): {}",
            groups.len(),
            match findings.len() {
                0 => "all pages sound".to_string(),
                n => format!("{n} problems"),
            }
        );
    }
    Ok(code)
}
