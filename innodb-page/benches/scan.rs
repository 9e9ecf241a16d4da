//! LSN-only scan of a cached tablespace, against two references measured in the same run:
//! `pread` of the same bytes into a reused buffer (the cost of getting cached file bytes at all)
//! and a read of every byte already in memory (memory bandwidth).
//!
//! Per core: everything runs on a one-thread rayon pool.

use std::fs::File;
use std::hint::black_box;
use std::io::Write;
use std::os::unix::fs::FileExt;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use innodb_page::tablespace::{OpenOptions, ReadMode, Tablespace};

const PAGE: usize = 16384;
const PAGES: usize = 16384; // 256 MiB

fn make_file(dir: &std::path::Path) -> std::path::PathBuf {
    let page0 = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/data/mariadb-10.11/datadir-16k/t_small.ibd"
    ))
    .unwrap();
    let path = dir.join("bench.ibd");
    let mut f = std::io::BufWriter::new(File::create(&path).unwrap());
    f.write_all(&page0[..PAGE]).unwrap();
    let mut p = vec![0u8; PAGE];
    for i in 1..PAGES as u64 {
        p[4..8].copy_from_slice(&(i as u32).to_be_bytes());
        p[16..24].copy_from_slice(&(i * 977).to_be_bytes());
        p[100] = i as u8;
        f.write_all(&p).unwrap();
    }
    f.flush().unwrap();
    path
}

fn max_lsn(ts: &Tablespace) -> u64 {
    ts.par_map_chunks(4 << 20, |c| c.pages().map(|(_, p)| p.lsn().get()).max())
        .unwrap()
        .into_iter()
        .flatten()
        .max()
        .unwrap()
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let path = make_file(dir.path());
    let bytes = (PAGE * PAGES) as u64;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let mut g = c.benchmark_group("lsn_scan_256MiB_cached");
    g.throughput(Throughput::Bytes(bytes));
    g.sample_size(20);

    let mmap =
        Tablespace::open_with(&[&path], OpenOptions::default().mode(ReadMode::Mmap)).unwrap();
    let pread =
        Tablespace::open_with(&[&path], OpenOptions::default().mode(ReadMode::Pread)).unwrap();
    assert_eq!(max_lsn(&mmap), (PAGES as u64 - 1) * 977);
    g.bench_function("xb_lsn_scan_mmap", |b| {
        b.iter(|| pool.install(|| black_box(max_lsn(&mmap))))
    });
    g.bench_function("xb_lsn_scan_pread", |b| {
        b.iter(|| pool.install(|| black_box(max_lsn(&pread))))
    });

    let file = File::open(&path).unwrap();
    let mut buf = vec![0u8; 4 << 20];
    g.bench_function("reference_pread_4MiB", |b| {
        b.iter(|| {
            let mut off = 0u64;
            while off < bytes {
                file.read_exact_at(&mut buf, off).unwrap();
                off += buf.len() as u64;
            }
            black_box(buf[100])
        })
    });
    let data = std::fs::read(&path).unwrap();
    g.bench_function("reference_memory_read", |b| {
        b.iter(|| {
            black_box(
                data.chunks_exact(64)
                    .map(|c| u64::from_ne_bytes(c[..8].try_into().unwrap()) ^ u64::from(c[63]))
                    .fold(0u64, |a, x| a ^ x),
            )
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
