//! Any bytes, as page 0, as a page of any tablespace, or as a whole file: typed errors, never a
//! panic.

use innodb_page::flags::TablespaceFlags;
use innodb_page::fsp::{self, TablespaceFormat};
use innodb_page::tablespace::{OpenOptions, ReadMode, Tablespace};
use innodb_page::{verify, Page};
use proptest::prelude::*;

fn sizes() -> impl Strategy<Value = usize> {
    prop::sample::select(vec![1024usize, 2048, 4096, 8192, 16384, 32768, 65536])
}

/// A page 0 with the given flags and otherwise arbitrary bytes.
fn page0(flags: u32, size: usize, noise: &[u8]) -> Vec<u8> {
    let mut p: Vec<u8> = noise.iter().copied().cycle().take(size).collect();
    p.resize(size, 0);
    p[24..26].copy_from_slice(&8u16.to_be_bytes());
    p[4..8].fill(0);
    let id = [p[38], p[39], p[40], p[41]];
    p[34..38].copy_from_slice(&id);
    p[54..58].copy_from_slice(&flags.to_be_bytes());
    p
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn arbitrary_bytes_as_page0(bytes in prop::collection::vec(any::<u8>(), 0..70000)) {
        let _ = fsp::physical_page_size(&bytes);
        if let Ok(f) = TablespaceFormat::detect(&bytes) {
            prop_assert!(bytes.len() >= f.physical_page_size());
        }
    }

    #[test]
    fn arbitrary_flags_and_pages(flags in any::<u32>(), noise in prop::collection::vec(any::<u8>(), 1..512),
                                 size in sizes(), page in prop::collection::vec(any::<u8>(), 1..4096)) {
        let p0 = page0(flags, size.max(16384), &noise);
        if let Ok(fmt) = TablespaceFormat::detect(&p0) {
            prop_assert_eq!(TablespaceFlags::decode(flags).unwrap().raw(), flags);
            let ctx = verify::checksum_context(&fmt);
            let mut buf: Vec<u8> = page.iter().copied().cycle().take(fmt.physical_page_size()).collect();
            buf.resize(fmt.physical_page_size(), 0);
            let c = verify::check_page(&fmt, &ctx, None, 7, Page::new(&buf).unwrap());
            let _ = c.problem.map(|p| p.to_string());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    /// Whole files of arbitrary content and size (valid page 0 or not) open or fail cleanly, and
    /// an open one verifies without panicking, in both read modes.
    #[test]
    fn arbitrary_files(flags in prop::sample::select(vec![0x15u32, 0x13, 0x29, 0x23, 0x21, 0x0, 0xE5, 0x10021, 0x35, 0x7FFFFFFF]),
                       noise in prop::collection::vec(any::<u8>(), 1..256),
                       extra in 0usize..70000, valid_page0 in any::<bool>()) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.ibd");
        let mut bytes = if valid_page0 { page0(flags, 16384, &noise) } else { noise.clone() };
        bytes.extend(noise.iter().copied().cycle().take(extra));
        std::fs::write(&path, &bytes).unwrap();
        for mode in [ReadMode::Mmap, ReadMode::Pread] {
            for allow_partial_tail in [false, true] {
                if let Ok(ts) = Tablespace::open_with(&[&path], OpenOptions::default().mode(mode).allow_partial_tail(allow_partial_tail)) {
                    let r = verify::verify_tablespace(&ts, true).unwrap();
                    prop_assert_eq!(r.pages, ts.page_count());
                }
            }
        }
    }
}
