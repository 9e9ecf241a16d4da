//! Inspect a tablespace with `innodb-page`: its format from page 0, then every page's type, LSN
//! and checksum verdict, scanned in parallel.
//!
//! `cargo run -p xb-examples --bin inspect_tablespace -- tests/data/mariadb-10.11/datadir-16k/t_small.ibd`

use std::process::ExitCode;

use innodb_page::tablespace::Tablespace;
use innodb_page::verify;

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: inspect_tablespace FILE.ibd");
        return ExitCode::from(2);
    };
    let ts = match Tablespace::open(&path) {
        Ok(ts) => ts,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let f = ts.format();
    println!(
        "space {} format {} vendor {} page size {}/{} pages {}",
        f.space_id,
        f.format_name(),
        f.vendor.name(),
        f.logical_page_size(),
        f.physical_page_size(),
        ts.page_count()
    );
    let report = match verify::verify_tablespace(&ts, true) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    for c in &report.page_checks {
        let verdict = c.verdict.map(|v| v.to_string()).unwrap_or_default();
        println!(
            "{:>8} {:<20} {:>14} {}",
            c.page_no,
            c.page_type.name(),
            c.lsn,
            verdict
        );
    }
    println!(
        "max LSN {}, {} unsound pages",
        report.max_lsn,
        report.corrupt.len()
    );
    ExitCode::from(u8::from(!report.corrupt.is_empty()))
}
