#![no_main]
//! The block view and everything computed from one block, on arbitrary bytes (the first byte
//! of an input chooses whether the block's checksum is made valid).
use libfuzzer_sys::fuzz_target;
use lsn_bitmap::{Block, ChangedPages, PageSet};

fuzz_target!(|input: &[u8]| {
    // Only exactly 4096 bytes make a block: other lengths are refused.
    assert_eq!(Block::new(input).is_ok(), input.len() == 4096);
    // Every input also makes one block: its first byte says whether the block's checksum is
    // made right (the fuzzer cannot forge it, and a wrong one stops validation early); the
    // rest, zero-padded or cut to 4096 bytes, is the block.
    let Some((&flags, rest)) = input.split_first() else {
        return;
    };
    let mut data = [0u8; 4096];
    let n = rest.len().min(4096);
    data[..n].copy_from_slice(&rest[..n]);
    if flags & 1 == 1 {
        let sum = lsn_bitmap::checksum::block_checksum(&data);
        data[4092..].copy_from_slice(&sum.to_be_bytes());
    }
    let data = &data[..];
    let Ok(block) = Block::new(data) else {
        panic!("4096 bytes are a block");
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
