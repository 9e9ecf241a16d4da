//! Arbitrary bytes and names never make the reader, verifier or writer recovery panic, and a
//! corrupted directory never yields an answer that misses a page of the intact one.

use innodb_page::Lsn;
use lsn_bitmap::{BitmapDir, BitmapWriter, Block, ChangedPages, RunReader, WriterOptions};
use proptest::prelude::*;

fn exercise(dir: &std::path::Path) {
    let Ok(d) = BitmapDir::open(dir) else { return };
    for (b, e) in [
        (0u64, 0u64),
        (0, 1),
        (100, 300),
        (150, 250),
        (0, u64::MAX),
        (300, 100),
    ] {
        let _ = d.changed_pages(Lsn::new(b), Lsn::new(e));
    }
    let _ = d.verify();
    for f in d.files() {
        if let Ok(mut r) = RunReader::open(&f.path, Some(f.name.start_lsn)) {
            while let Ok(Some(_)) = r.next_run(|b| {
                let _ = b.pages().count();
            }) {}
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_files_never_panic(
        files in proptest::collection::vec(
            (1u64..5, 0u64..400, proptest::collection::vec(any::<u8>(), 0..9000)),
            0..4),
    ) {
        let dir = tempfile::tempdir().unwrap();
        for (seq, lsn, bytes) in &files {
            std::fs::write(dir.path().join(format!("ib_modified_log_{seq}_{lsn}.xdb")), bytes).unwrap();
        }
        exercise(dir.path());
        let _ = BitmapWriter::open(dir.path(), WriterOptions::default().sync(false));
    }

    #[test]
    fn arbitrary_block_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 4096)) {
        let b = Block::new(&bytes).unwrap();
        let _ = b.validate();
        let _ = b.pages().count();
        let _ = b.contains_page(b.first_page_id().wrapping_add(5));
        let mut set = ChangedPages::new();
        set.union_bitmap(b.key(), b.bitmap());
        let _ = set.spaces().map(|(_, s)| s.ranges().count()).sum::<usize>();
    }

    /// Mutating bytes of a valid directory: any answer still contains every page of the
    /// intact answer (never a silently partial set).
    #[test]
    fn mutations_never_lose_pages(
        flips in proptest::collection::vec((0usize..3, 0usize..16_384, any::<u8>()), 1..4),
        cut in proptest::option::of((0usize..3, 0usize..16_384)),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let opts = WriterOptions::default().max_file_size(8192).sync(false);
        let mut w = BitmapWriter::open(dir.path(), opts).unwrap();
        w.start_file(Lsn::new(100)).unwrap();
        for i in 1..=6u32 {
            let mut p = ChangedPages::new();
            p.insert(i % 2, i * 7);
            p.insert(9, 40_000 + i);
            w.write_run(Lsn::new(100 + 50 * u64::from(i)), &p).unwrap();
        }
        drop(w);
        let intact = BitmapDir::open(dir.path()).unwrap();
        let want = intact.changed_pages(Lsn::new(120), Lsn::new(380)).unwrap();
        let paths: Vec<_> = intact.files().iter().map(|f| f.path.clone()).collect();
        for (f, at, x) in flips {
            let path = &paths[f % paths.len()];
            let mut bytes = std::fs::read(path).unwrap();
            if !bytes.is_empty() {
                let at = at % bytes.len();
                bytes[at] ^= x;
            }
            std::fs::write(path, bytes).unwrap();
        }
        if let Some((f, len)) = cut {
            let path = &paths[f % paths.len()];
            let bytes = std::fs::read(path).unwrap();
            std::fs::write(path, &bytes[..len.min(bytes.len())]).unwrap();
        }
        let d = BitmapDir::open(dir.path()).unwrap();
        if let Ok(got) = d.changed_pages(Lsn::new(120), Lsn::new(380)) {
            let mut both = got.clone();
            both.union(&want);
            prop_assert_eq!(both, got, "pages lost after corruption");
        }
        exercise(dir.path());
    }
}
