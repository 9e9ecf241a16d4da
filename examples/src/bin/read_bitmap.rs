//! Reads a directory of changed-page bitmaps and prints the pages changed in an LSN range,
//! per tablespace, as read batches — or why a full scan is needed.
//!
//! `cargo run -p xb-examples --bin read_bitmap -- DIR START_LSN END_LSN [SYS_FILE_PAGES...]`
//!
//! With `SYS_FILE_PAGES` (the page counts of `ibdata1`, `ibdata2`, …) the batches of the
//! system tablespace (space 0) are split per data file.

use std::process::ExitCode;

use innodb_page::Lsn;
use lsn_bitmap::{BitmapDir, DataFileMap};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(dir), Some(start), Some(end)) = (args.first(), args.get(1), args.get(2)) else {
        eprintln!("usage: read_bitmap DIR START_LSN END_LSN [SYS_FILE_PAGES...]");
        return ExitCode::from(2);
    };
    let (Ok(start), Ok(end)) = (start.parse::<u64>(), end.parse::<u64>()) else {
        eprintln!("LSNs must be decimal numbers");
        return ExitCode::from(2);
    };
    let sys_pages: Vec<u32> = args.iter().skip(3).filter_map(|a| a.parse().ok()).collect();
    let system = DataFileMap::new(&sys_pages);

    let bitmaps = match BitmapDir::open(dir) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("cannot read {dir}: {e}");
            return ExitCode::from(2);
        }
    };
    let changed = match bitmaps.changed_pages(Lsn::new(start), Lsn::new(end)) {
        Ok(c) => c,
        Err(e) => {
            println!("bitmap cannot answer {start}..{end}, use a full scan: {e}");
            return ExitCode::from(1);
        }
    };
    println!(
        "{} page(s) in {} tablespace(s) changed in {start}..{end}",
        changed.page_count(),
        changed.space_ids().count()
    );
    for (space, pages) in changed.spaces() {
        println!("space {space}: {} page(s)", pages.len());
        for range in pages.ranges() {
            if space == 0 && system.file_count() > 0 {
                for (file, local) in system.split(range) {
                    println!(
                        "  ibdata{}: read pages {}..{}",
                        file + 1,
                        local.start,
                        local.end
                    );
                }
            } else {
                println!("  read pages {}..{}", range.start, range.end);
            }
        }
    }
    ExitCode::SUCCESS
}
