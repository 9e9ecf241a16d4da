#![no_main]
//! The directory reader on arbitrary files: the input is split into up to four files whose
//! names (sequence number and start LSN) come from the input too; every query, the verifier
//! and the writer's recovery must return without panicking.
use std::sync::atomic::{AtomicU64, Ordering};

use innodb_page::Lsn;
use libfuzzer_sys::fuzz_target;
use lsn_bitmap::{BitmapDir, BitmapWriter, WriterOptions};

static COUNTER: AtomicU64 = AtomicU64::new(0);

fuzz_target!(|data: &[u8]| {
    let Some((&header, rest)) = data.split_first() else {
        return;
    };
    let dir = std::env::temp_dir().join(format!(
        "xb-fuzz-bitmap-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    if std::fs::create_dir_all(&dir).is_err() {
        return;
    }
    // Files are separated by the byte 0xFA; each starts with a seq byte and an LSN byte.
    let mut queries = Vec::new();
    for (i, part) in rest.split(|&b| b == 0xFA).take(4).enumerate() {
        let (seq, lsn, body) = match part {
            [s, l, body @ ..] => (u64::from(*s % 6), u64::from(*l) * 100, body),
            _ => (i as u64 + 1, 0, part),
        };
        queries.push(lsn);
        let name = format!("ib_modified_log_{seq}_{lsn}.xdb");
        let _ = std::fs::write(dir.join(name), body);
    }
    if let Ok(d) = BitmapDir::open(&dir) {
        let base = u64::from(header) * 50;
        queries.extend([base, base + 100, base + 5000, 0, u64::MAX]);
        for &b in &queries {
            for &e in &queries {
                let _ = d.changed_pages(Lsn::new(b), Lsn::new(e));
            }
        }
        let _ = d.verify();
    }
    if header & 1 == 1 {
        let opts = WriterOptions::default().max_file_size(8192).sync(false);
        let _ = BitmapWriter::open(&dir, opts);
    }
    let _ = std::fs::remove_dir_all(&dir);
});
