#![no_main]
//! The block view and everything computed from one block, on arbitrary bytes.
use libfuzzer_sys::fuzz_target;
use lsn_bitmap::{Block, ChangedPages, PageSet};

fuzz_target!(|data: &[u8]| {
    // Any length: only exactly 4096 bytes make a block.
    let Ok(block) = Block::new(data) else {
        assert_ne!(data.len(), 4096);
        return;
    };
    let valid = block.validate();
    let _ = (
        block.is_last(),
        block.start_lsn(),
        block.end_lsn(),
        block.key(),
    );
    let _ = lsn_bitmap::checksum::checksum(data);
    let pages: Vec<u32> = block.pages().collect();
    for &p in pages.iter().take(64) {
        assert!(block.contains_page(p));
    }
    // Merging the bitmap and reading it back gives the same pages for a valid block.
    let mut set = ChangedPages::new();
    let merged = set.union_bitmap(block.key(), block.bitmap());
    if valid.is_ok() {
        assert!(merged);
        let space = set.space(block.space_id());
        let back: Vec<u32> = space.map(|s| s.iter().collect()).unwrap_or_default();
        assert_eq!(back, pages);
        let mut from_ranges = PageSet::new();
        if let Some(s) = space {
            for r in s.ranges() {
                for p in r {
                    from_ranges.insert(p);
                }
            }
            assert_eq!(&from_ranges, s);
        }
    }
});
