#![no_main]
//! One page under an arbitrary checksum context: validation, the raw algorithms, stamping and
//! recomputing never panic, and a recomputed page is never reported corrupt.
//!
//! Input: byte 0 = context bits (full_crc32, zip, page_compression, encrypted, 2 bits vendor),
//! byte 1 = page size (1 KiB << (b % 7)), then the page bytes, truncated or zero-padded.
use innodb_page::checksum::{self, Algorithm, ChecksumContext};
use innodb_page::page_type::Vendor;
use innodb_page::Page;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (Some(&c), Some(&s)) = (data.first(), data.get(1)) else {
        return;
    };
    let ctx = ChecksumContext {
        full_crc32: c & 1 != 0,
        zip: c & 2 != 0,
        page_compression: c & 4 != 0,
        encrypted: c & 8 != 0,
        vendor: match (c >> 4) & 3 {
            0 => Vendor::MySql,
            1 => Vendor::MariaDb,
            _ => Vendor::Unknown,
        },
    };
    let size = 1024usize << (s % 7);
    let mut buf = data[2..].to_vec();
    buf.resize(size, 0);

    let page = Page::new(&buf).expect("valid size");
    let verdict = checksum::validate(page, &ctx);
    let _ = (verdict.to_string(), verdict.is_sound());
    let _ = checksum::crc32_legacy_big_endian_page(page);
    let _ = checksum::innodb_new(page);
    let _ = checksum::full_crc32(page);
    let _ = checksum::zip_adler32(page);
    let _ = checksum::zip_crc32_legacy_big_endian(page);

    let mut copy = buf.clone();
    if let Ok(Some(a)) = checksum::recompute(&mut copy, &ctx) {
        let v = checksum::validate(Page::new(&copy).expect("valid size"), &ctx);
        assert!(v.is_sound(), "recomputed with {a}, then {v}");
    }
    let algorithm = Algorithm::ALL[usize::from(c >> 6) * 5 % Algorithm::ALL.len()];
    let _ = checksum::stamp(&mut buf, algorithm);
});
