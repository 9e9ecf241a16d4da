//! Checksum validation against real MariaDB 10.11 files, and properties over arbitrary pages.

use std::ops::Range;
use std::path::PathBuf;

use innodb_page::checksum::{
    recompute, stamp, validate, Algorithm, ChecksumContext, Corruption, Verdict,
};
use innodb_page::page_type::Vendor;
use innodb_page::Page;
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------------
// Real files
// ---------------------------------------------------------------------------------------------

fn fixture(rel: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data/mariadb-10.11")
        .join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn be32(b: &[u8], off: usize) -> u32 {
    u32::from_be_bytes(b[off..off + 4].try_into().unwrap())
}

/// A context and physical page size from the FSP flags at offset 54 of page 0, decoded by hand
/// (full_crc32 = bit 4; otherwise zip when ZIP_SSIZE, bits 1..4, is non-zero).
fn context_from_page0(file: &[u8], vendor: Vendor) -> (ChecksumContext, usize) {
    let flags = be32(file, 54);
    if flags & 0x10 != 0 {
        let ctx = ChecksumContext {
            full_crc32: true,
            vendor,
            ..Default::default()
        };
        return (ctx, 512 << (flags & 0xF));
    }
    let ssize = (flags >> 6) & 0xF;
    let logical = if ssize == 0 { 16384 } else { 512 << ssize };
    let zip_ssize = (flags >> 1) & 0xF;
    let ctx = ChecksumContext {
        zip: zip_ssize != 0,
        page_compression: flags & 0x10000 != 0,
        vendor,
        ..Default::default()
    };
    (
        ctx,
        if zip_ssize != 0 {
            512 << zip_ssize
        } else {
            logical
        },
    )
}

fn verdicts(file: &[u8], ctx: &ChecksumContext, size: usize) -> Vec<Verdict> {
    assert_eq!(file.len() % size, 0);
    file.chunks_exact(size)
        .map(|p| validate(Page::new(p).unwrap(), ctx))
        .collect()
}

fn check_file(rel: &str, expected: &[Verdict]) {
    let file = fixture(rel);
    for vendor in [Vendor::MariaDb, Vendor::Unknown, Vendor::MySql] {
        let (ctx, size) = context_from_page0(&file, vendor);
        assert_eq!(verdicts(&file, &ctx, size), expected, "{rel} as {vendor:?}");
    }
}

const FC: Verdict = Verdict::Valid(Algorithm::FullCrc32);

#[test]
fn real_full_crc32_16k() {
    check_file("datadir-16k/t_small.ibd", &[FC; 4]);
    check_file("backup/full/fx/t_small.ibd", &[FC; 4]);
    check_file("backup/prepared/fx/t_small.ibd", &[FC; 4]);
}

#[test]
fn real_full_crc32_4k() {
    let file = fixture("datadir-4k/t_small.ibd");
    assert_eq!(context_from_page0(&file, Vendor::MariaDb).1, 4096);
    check_file("datadir-4k/t_small.ibd", &[FC; 4]);
}

#[test]
fn real_system_tablespace_head() {
    check_file("datadir-16k/ibdata1.head64k", &[FC; 4]);
}

#[test]
fn real_classic_crc32() {
    check_file(
        "datadir-16k/t_crc32.ibd",
        &[Verdict::Valid(Algorithm::Crc32); 4],
    );
}

#[test]
fn real_zip_8k() {
    let file = fixture("datadir-16k/t_comp.ibd");
    assert_eq!(context_from_page0(&file, Vendor::MariaDb).1, 8192);
    let z = Verdict::Valid(Algorithm::ZipCrc32);
    check_file(
        "datadir-16k/t_comp.ibd",
        &[
            z,
            z,
            z,
            z,
            Verdict::Empty,
            Verdict::Empty,
            Verdict::Empty,
            Verdict::Empty,
        ],
    );
}

#[test]
fn real_files_fail_under_the_wrong_format() {
    // A full_crc32 file read as classic, and a classic one read as full_crc32, are corrupt: the
    // expected verdicts above are not an accident of a lenient validator.
    let fc = fixture("datadir-16k/t_small.ibd");
    let classic = ChecksumContext::default();
    for p in fc.chunks_exact(16384) {
        assert!(validate(Page::new(p).unwrap(), &classic).is_corrupt());
    }
    let crc = fixture("datadir-16k/t_crc32.ibd");
    let full = ChecksumContext {
        full_crc32: true,
        ..Default::default()
    };
    for p in crc.chunks_exact(16384) {
        assert!(validate(Page::new(p).unwrap(), &full).is_corrupt());
    }
    // A zip page read as a 8K classic page: corrupt (its "trailer" is page body).
    let zip = fixture("datadir-16k/t_comp.ibd");
    assert!(validate(Page::new(&zip[..8192]).unwrap(), &classic).is_corrupt());
}

#[test]
fn real_pages_detect_a_flipped_byte() {
    let cases: [(&str, Vec<usize>); 3] = [
        (
            "datadir-16k/t_small.ibd",
            vec![0, 4, 100, 5000, 16379, 16383],
        ),
        ("datadir-16k/t_crc32.ibd", vec![4, 16, 25, 38, 9000, 16375]),
        ("datadir-16k/t_comp.ibd", vec![4, 12, 24, 34, 4000, 8191]),
    ];
    for (rel, offsets) in cases {
        let mut file = fixture(rel);
        let (ctx, size) = context_from_page0(&file, Vendor::MariaDb);
        for page_no in 0..4 {
            for &off in &offsets {
                let at = page_no * size + off;
                file[at] ^= 0x20;
                let v = validate(Page::new(&file[page_no * size..][..size]).unwrap(), &ctx);
                assert!(v.is_corrupt(), "{rel} page {page_no} offset {off}: {v}");
                file[at] ^= 0x20;
            }
        }
    }
}

#[test]
fn real_page_values() {
    // Values read straight from the files, so that the fixtures' stored checksums are pinned.
    let file = fixture("datadir-16k/t_crc32.ibd");
    let p = Page::new(&file[..16384]).unwrap();
    assert_eq!(innodb_page::checksum::crc32_page(p), be32(&file, 0));
    assert_eq!(be32(&file, 0), be32(&file, 16376));
    let file = fixture("datadir-16k/t_small.ibd");
    let p = Page::new(&file[16384..32768]).unwrap();
    assert_eq!(
        innodb_page::checksum::full_crc32(p),
        Some(be32(&file, 32768 - 4))
    );
}

/// The data pages of a mariabackup `.delta` file, with their page numbers (header pages skipped).
fn delta_pages(bytes: &[u8], page_size: usize) -> Vec<(u32, &[u8])> {
    let mut out = Vec::new();
    let mut pos = 0;
    loop {
        let header = &bytes[pos..pos + page_size];
        let magic = &header[..4];
        assert!(magic == b"xtra" || magic == b"XTRA", "bad magic at {pos}");
        let mut numbers = Vec::new();
        for i in 0..page_size / 4 - 1 {
            let n = be32(header, 4 + 4 * i);
            if n == 0xFFFF_FFFF {
                break;
            }
            numbers.push(n);
        }
        pos += page_size;
        for n in numbers {
            out.push((n, &bytes[pos..pos + page_size]));
            pos += page_size;
        }
        if magic == b"XTRA" {
            break;
        }
    }
    assert_eq!(pos, bytes.len());
    out
}

fn check_delta(rel: &str, page_size: usize, ctx: ChecksumContext) -> Vec<Verdict> {
    let bytes = fixture(rel);
    delta_pages(&bytes, page_size)
        .into_iter()
        .map(|(n, p)| {
            let page = Page::new(p).unwrap();
            assert_eq!(page.page_no(), n, "{rel}");
            validate(page, &ctx)
        })
        .collect()
}

#[test]
fn real_delta_pages() {
    let full = ChecksumContext {
        full_crc32: true,
        vendor: Vendor::MariaDb,
        ..Default::default()
    };
    let zip = ChecksumContext {
        zip: true,
        vendor: Vendor::MariaDb,
        ..Default::default()
    };
    assert_eq!(
        check_delta("backup/inc1/fx/t_small.ibd.delta", 16384, full),
        vec![FC]
    );
    assert_eq!(
        check_delta("backup/inc1/fx/t_comp.ibd.delta", 8192, zip),
        vec![Verdict::Valid(Algorithm::ZipCrc32)]
    );
    assert_eq!(
        check_delta(
            "backup/inc1/fx/t_crc32.ibd.delta",
            16384,
            ChecksumContext::default()
        ),
        vec![]
    );
    let zip1 = check_delta("backup/inc1/fx/t_zip1.ibd.delta", 1024, zip);
    assert_eq!(zip1.len(), 392);
    assert!(
        zip1.iter()
            .all(|v| *v == Verdict::Valid(Algorithm::ZipCrc32)),
        "{zip1:?}"
    );
}

#[test]
fn real_zip1_page0_flags() {
    // Page 0 of t_zip1 is in the delta: its flags say zip 1K, and the hand-made context agrees.
    let bytes = fixture("backup/inc1/fx/t_zip1.ibd.delta");
    let pages = delta_pages(&bytes, 1024);
    let (n, p0) = pages[0];
    assert_eq!(n, 0);
    let (ctx, size) = context_from_page0(p0, Vendor::MariaDb);
    assert!(ctx.zip && !ctx.full_crc32);
    assert_eq!(size, 1024);
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

const SIZES: [usize; 7] = [1024, 2048, 4096, 8192, 16384, 32768, 65536];

fn vendor_strategy() -> impl Strategy<Value = Vendor> {
    prop_oneof![
        Just(Vendor::MySql),
        Just(Vendor::MariaDb),
        Just(Vendor::Unknown)
    ]
}

fn context_strategy() -> impl Strategy<Value = ChecksumContext> {
    (any::<[bool; 4]>(), vendor_strategy()).prop_map(|(b, vendor)| ChecksumContext {
        full_crc32: b[0],
        zip: b[1],
        page_compression: b[2],
        encrypted: b[3],
        vendor,
    })
}

/// A page of a random valid size with random bytes.
fn page_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop::sample::select(SIZES.to_vec()).prop_flat_map(|n| prop::collection::vec(any::<u8>(), n))
}

/// Page types that lead validation down its special paths.
fn interesting_type() -> impl Strategy<Value = Option<u16>> {
    prop_oneof![
        Just(None),
        prop::sample::select(vec![0u16, 8, 9, 14, 15, 16, 17, 17854, 17855, 34354, 37401])
            .prop_map(Some),
        (0x8000u16..=0xFFFF).prop_map(Some),
    ]
}

/// What an algorithm's validation needs from the context and the page.
fn context_for(a: Algorithm, vendor: Vendor) -> ChecksumContext {
    let mut ctx = ChecksumContext {
        vendor,
        ..Default::default()
    };
    ctx.full_crc32 = a == Algorithm::FullCrc32;
    ctx.zip = a.is_zip();
    if a.is_post_encryption() {
        ctx.encrypted = true;
        ctx.vendor = Vendor::MariaDb;
    }
    if a == Algorithm::MariaDbMixed && vendor == Vendor::MySql {
        ctx.vendor = Vendor::MariaDb;
    }
    ctx
}

/// Prepares random bytes for `a`: an INDEX page type (or a valid compressed full_crc32 type), and
/// a key version at 26 exactly for the post-encryption algorithms.
fn prepare(buf: &mut [u8], a: Algorithm, compressed_units: u8) {
    let n = buf.len();
    let t: u16 = if a == Algorithm::FullCrc32 && compressed_units != 0 {
        // n×256 must stay below the page size.
        let units = (compressed_units as usize % (n / 256 - 1)) + 1;
        0x8000 | units as u16
    } else {
        17855
    };
    buf[24..26].copy_from_slice(&t.to_be_bytes());
    if a.is_post_encryption() && buf[26..30] == [0, 0, 0, 0] {
        buf[29] = 1;
    }
}

/// Byte ranges each algorithm's verdict depends on and in which a single-byte change is always
/// detected (see `flipped_byte_is_detected`).
fn covered(a: Algorithm, n: usize, payload: usize) -> Vec<Range<usize>> {
    match a {
        // Field 1, the checked header, the body, field 2, and the trailer LSN copy.
        Algorithm::Crc32 | Algorithm::Innodb => vec![0..26, 38..n],
        Algorithm::FullCrc32 => std::iter::once(0..payload).collect(),
        Algorithm::ZipCrc32 | Algorithm::ZipAdler32 => vec![0..16, 24..26, 34..n],
        Algorithm::PostEncryptionCrc32 => vec![4..24, 30..34, 38..n - 8, n - 4..n],
        _ => vec![],
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any bytes, any valid size, any context: validate never panics, and neither do the
    /// algorithms, their reports, stamp and recompute.
    #[test]
    fn never_panics(
        mut buf in page_strategy(),
        ctx in context_strategy(),
        t in interesting_type(),
        clear_key_version in any::<bool>(),
        alg in prop::sample::select(Algorithm::ALL.to_vec()),
    ) {
        if let Some(t) = t {
            buf[24..26].copy_from_slice(&t.to_be_bytes());
        }
        if clear_key_version {
            buf[26..30].copy_from_slice(&[0, 0, 0, 0]);
        }
        let page = Page::new(&buf).unwrap();
        let v = validate(page, &ctx);
        let _ = (v.to_string(), v.name(), v.is_sound(), v.algorithm());
        let _ = innodb_page::checksum::full_crc32(page);
        let _ = innodb_page::checksum::zip_crc32_legacy_big_endian(page);
        let mut copy = buf.clone();
        let _ = stamp(&mut copy, alg);
        let _ = validate(Page::new(&copy).unwrap(), &ctx);
        let mut copy = buf.clone();
        if let Ok(Some(a)) = recompute(&mut copy, &ctx) {
            // What recompute writes, validate accepts.
            let v = validate(Page::new(&copy).unwrap(), &ctx);
            prop_assert!(v.is_sound(), "{a}: {v}");
        }
    }

    /// Truncated or oversized buffers are rejected, not panicked on.
    #[test]
    fn odd_lengths_are_errors(len in 0usize..70000, alg in prop::sample::select(Algorithm::ALL.to_vec())) {
        prop_assume!(!SIZES.contains(&len));
        let mut buf = vec![0u8; len];
        prop_assert!(Page::new(&buf).is_err());
        prop_assert!(stamp(&mut buf, alg).is_err());
    }

    /// A page whose checksum is stamped with an algorithm validates with exactly that algorithm.
    #[test]
    fn stamped_page_validates(
        mut buf in page_strategy(),
        alg in prop::sample::select(Algorithm::ALL.to_vec()),
        vendor in vendor_strategy(),
        compressed_units in any::<u8>(),
    ) {
        prepare(&mut buf, alg, compressed_units);
        stamp(&mut buf, alg).unwrap();
        let ctx = context_for(alg, vendor);
        let v = validate(Page::new(&buf).unwrap(), &ctx);
        prop_assert_eq!(v, Verdict::Valid(alg), "{:?}", ctx);
    }

    /// One changed byte inside the range an algorithm covers is always detected. This holds
    /// exactly (not just with high probability) for the CRC-32C based algorithms (CRC-32C detects
    /// every burst of up to 32 bits), for Adler-32 (a single byte change moves the low sum by
    /// 1..=255, never a multiple of 65521) and for the innodb fold (each fold step is a bijection
    /// of the running value for a fixed byte and injective in the byte for a fixed running value,
    /// so one changed byte always changes the fold of its range). The remaining chance of a
    /// *different* accepted combination matching by coincidence is about 2^-32 per case.
    #[test]
    fn flipped_byte_is_detected(
        mut buf in page_strategy(),
        alg in prop::sample::select(vec![
            Algorithm::Crc32,
            Algorithm::Innodb,
            Algorithm::FullCrc32,
            Algorithm::ZipCrc32,
            Algorithm::ZipAdler32,
            Algorithm::PostEncryptionCrc32,
        ]),
        vendor in vendor_strategy(),
        compressed_units in any::<u8>(),
        pick in any::<prop::sample::Index>(),
        mask in 1u8..=255,
    ) {
        prepare(&mut buf, alg, compressed_units);
        stamp(&mut buf, alg).unwrap();
        let ctx = context_for(alg, vendor);
        let page = Page::new(&buf).unwrap();
        let payload = innodb_page::checksum::full_crc32_payload(page).map_or(buf.len(), |p| p.0);
        let ranges = covered(alg, buf.len(), payload);
        let total: usize = ranges.iter().map(|r| r.len()).sum();
        let mut k = pick.index(total);
        let mut at = 0;
        for r in &ranges {
            if k < r.len() {
                at = r.start + k;
                break;
            }
            k -= r.len();
        }
        buf[at] ^= mask;
        let v = validate(Page::new(&buf).unwrap(), &ctx);
        prop_assert!(v.is_corrupt(), "{} flip at {} of {}: {}", alg, at, buf.len(), v);
    }

    /// Bytes outside every checked range (26..38 for crc32) do not affect classic crc32 pages.
    #[test]
    fn unchecked_bytes_are_ignored(mut buf in page_strategy(), at in 26usize..38, x in any::<u8>()) {
        prepare(&mut buf, Algorithm::Crc32, 0);
        stamp(&mut buf, Algorithm::Crc32).unwrap();
        buf[at] = x;
        let v = validate(Page::new(&buf).unwrap(), &ChecksumContext::default());
        prop_assert_eq!(v, Verdict::Valid(Algorithm::Crc32));
    }

    /// A torn classic page (trailer from another write) is reported as an LSN mismatch.
    #[test]
    fn torn_trailer_is_lsn_mismatch(mut buf in page_strategy(), other in any::<u32>()) {
        prepare(&mut buf, Algorithm::Crc32, 0);
        stamp(&mut buf, Algorithm::Crc32).unwrap();
        let n = buf.len();
        let low = be32(&buf, 20);
        prop_assume!(other != low);
        buf[n - 4..].copy_from_slice(&other.to_be_bytes());
        let v = validate(Page::new(&buf).unwrap(), &ChecksumContext::default());
        prop_assert_eq!(v, Verdict::Corrupt(Corruption::LsnMismatch { header_low: low, trailer: other }));
    }
}
