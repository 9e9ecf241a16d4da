//! Throughput of reading and merging `.xdb` data: `BitmapDir::changed_pages` over a directory
//! of 64 MiB (16384 blocks) in page cache, and the checksum alone.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use innodb_page::Lsn;
use lsn_bitmap::{BitmapDir, BitmapWriter, ChangedPages, WriterOptions};

/// Runs of 256 blocks each: 64 spaces × 4 blocks, with ~1% of the bits set, different per
/// run, so merging ORs into existing blocks most of the time.
fn build(dir: &std::path::Path, runs: u64) -> (Lsn, Lsn) {
    let opts = WriterOptions::default().max_file_size(16 << 20).sync(false);
    let mut w = BitmapWriter::open(dir, opts).unwrap();
    let start = Lsn::new(10_000);
    w.start_file(start).unwrap();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut end = start;
    for r in 0..runs {
        let mut p = ChangedPages::new();
        for space in 0..64u32 {
            for block in 0..4u32 {
                let first = block * lsn_bitmap::PAGES_PER_BLOCK;
                for _ in 0..300 {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    p.insert(space + (r as u32 % 3) * 64, first + (x % 32448) as u32);
                }
            }
        }
        end = Lsn::new(end.get() + 1000);
        w.write_run(end, &p).unwrap();
    }
    (start, end)
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let runs = 64;
    let (start, end) = build(dir.path(), runs);
    let d = BitmapDir::open(dir.path()).unwrap();
    let bytes: u64 = d.files().iter().map(|f| f.len).sum();
    assert_eq!(bytes, runs * 256 * 4096);
    let mut g = c.benchmark_group("xdb");
    g.throughput(Throughput::Bytes(bytes));
    g.sample_size(20);
    g.bench_function("read_and_merge_64MiB", |b| {
        b.iter(|| {
            let pages = d.changed_pages(black_box(start), black_box(end)).unwrap();
            black_box(pages.block_count())
        })
    });
    g.finish();

    let block = [0xA5u8; 4096];
    let mut g = c.benchmark_group("checksum");
    g.throughput(Throughput::Bytes(4096));
    g.bench_function("block", |b| {
        b.iter(|| lsn_bitmap::checksum::block_checksum(black_box(&block)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
