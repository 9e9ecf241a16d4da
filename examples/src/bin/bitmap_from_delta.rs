//! Writes a changed-page bitmap (`ib_modified_log_1_<start>.xdb`) flagging every page held by
//! the `.delta` files of an incremental backup: a stand-in for a change tracker in benchmarks.
//!
//! Usage: `bitmap_from_delta INCREMENTAL_DIR BITMAP_DIR START_LSN END_LSN`

use std::path::{Path, PathBuf};

use incremental_core::format::delta::DeltaFile;
use incremental_core::format::meta::Meta;
use innodb_page::Lsn;
use lsn_bitmap::{BitmapWriter, ChangedPages, WriterOptions};

fn deltas(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        if p.is_dir() {
            deltas(&p, out)?;
        } else if p.extension().is_some_and(|x| x == "delta") {
            out.push(p);
        }
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a: Vec<String> = std::env::args().collect();
    if a.len() != 5 {
        return Err("usage: bitmap_from_delta INCREMENTAL_DIR BITMAP_DIR START_LSN END_LSN".into());
    }
    let (start, end): (u64, u64) = (a[3].parse()?, a[4].parse()?);
    let mut files = Vec::new();
    deltas(Path::new(&a[1]), &mut files)?;
    let mut run = ChangedPages::new();
    for d in files {
        let meta = Meta::read_file(d.with_extension("meta"))?;
        let space = meta.space_id.ok_or("no space_id in .meta")?;
        let f = DeltaFile::open(&d, meta.physical_page_size())?;
        for &p in f.index().page_nos() {
            run.insert(space, p);
        }
    }
    std::fs::create_dir_all(&a[2])?;
    let mut w = BitmapWriter::open(&a[2], WriterOptions::default())?;
    w.start_file(Lsn::new(start))?;
    w.write_run(Lsn::new(end), &run)?;
    println!("{} pages flagged", run.page_count());
    Ok(())
}
