//! Throughput of `checksum::validate` per algorithm (bytes of page validated per second).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use innodb_page::checksum::{stamp, validate, Algorithm, ChecksumContext};
use innodb_page::Page;

/// A page of `size` bytes with pseudo-random content, an INDEX type, and `algorithm`'s checksum.
fn page(size: usize, algorithm: Algorithm) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut buf: Vec<u8> = (0..size)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    buf[24..26].copy_from_slice(&17855u16.to_be_bytes());
    buf[0..4].copy_from_slice(&[0; 4]); // full_crc32: key version 0 (not encrypted)
    stamp(&mut buf, algorithm).expect("valid page size");
    buf
}

fn bench_validate(c: &mut Criterion) {
    let classic = ChecksumContext::default();
    let full = ChecksumContext {
        full_crc32: true,
        ..Default::default()
    };
    let zip = ChecksumContext {
        zip: true,
        ..Default::default()
    };
    let cases = [
        ("crc32_16k", 16384, Algorithm::Crc32, classic),
        ("full_crc32_16k", 16384, Algorithm::FullCrc32, full),
        ("full_crc32_64k", 65536, Algorithm::FullCrc32, full),
        ("zip_crc32_16k", 16384, Algorithm::ZipCrc32, zip),
        ("zip_adler32_16k", 16384, Algorithm::ZipAdler32, zip),
        ("innodb_16k", 16384, Algorithm::Innodb, classic),
        (
            "crc32_legacy_big_endian_16k",
            16384,
            Algorithm::Crc32LegacyBigEndian,
            classic,
        ),
    ];
    let mut group = c.benchmark_group("validate");
    // Reference measured in the same run: one raw CRC-32C pass over a 16 KiB page, the floor for
    // any crc32-based validation. Report the others as ratios to it.
    let raw = page(16384, Algorithm::FullCrc32);
    group.throughput(Throughput::Bytes(16384));
    group.bench_function("reference_raw_crc32c_16k", |b| {
        b.iter(|| crc32c::crc32c(black_box(&raw)))
    });
    for (name, size, algorithm, ctx) in cases {
        let buf = page(size, algorithm);
        assert_eq!(
            validate(Page::new(&buf).unwrap(), &ctx).algorithm(),
            Some(algorithm),
            "{name}"
        );
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function(name, |b| {
            b.iter(|| validate(Page::new(black_box(&buf)).unwrap(), black_box(&ctx)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_validate);
criterion_main!(benches);
