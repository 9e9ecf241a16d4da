#![no_main]
//! Page 0 decoding (FSP header, flags in all layouts, encryption info), then every following
//! page of the input checked as a page of that tablespace.
use innodb_page::flags::{FlagsLayout, TablespaceFlags};
use innodb_page::fsp::{self, TablespaceFormat};
use innodb_page::verify;
use innodb_page::Page;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() >= 4 {
        let raw = u32::from_be_bytes([data[0], data[1], data[2], data[3]]);
        for layout in [
            FlagsLayout::Classic,
            FlagsLayout::MariaDb101,
            FlagsLayout::FullCrc32,
        ] {
            if let Ok(f) = TablespaceFlags::decode_as(raw, layout) {
                assert!(f.physical_page_size() <= f.logical_page_size());
                let _ = fsp::encryption_offset(&f, true);
            }
        }
    }
    let _ = fsp::physical_page_size(data);
    if let Ok(fmt) = TablespaceFormat::detect(data) {
        let size = fmt.physical_page_size();
        assert!(data.len() >= size);
        let ctx = verify::checksum_context(&fmt);
        for (i, chunk) in data.chunks_exact(size).enumerate() {
            if let Ok(page) = Page::new(chunk) {
                let c = verify::check_page(&fmt, &ctx, None, i as u64, page);
                let _ = c.problem.map(|p| p.to_string());
            }
        }
    }
});
