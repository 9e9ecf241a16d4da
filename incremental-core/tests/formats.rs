//! The file formats against the real files mariabackup 10.11 wrote, round trips, and damaged
//! input.

use std::fs;
use std::io::{Cursor, Seek, SeekFrom, Write};
use std::path::PathBuf;

use incremental_core::format::checkpoints::{self, BackupType, Checkpoints};
use incremental_core::format::delta::{
    validate, validate_file, Checks, DeltaFile, DeltaIndex, DeltaReader, DeltaSummary, DeltaWriter,
    PageSize, SeekDeltaWriter,
};
use incremental_core::format::error::{DeltaError, DeltaWriteError, Error};
use incremental_core::format::info::Info;
use incremental_core::format::meta::{self, Meta};
use incremental_core::format::{Dialect as CpDialect, Dialect as MetaDialect};
use innodb_page::Lsn;
use proptest::prelude::*;

fn backup() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/data/mariadb-10.11/backup")
}

fn read(rel: &str) -> Vec<u8> {
    fs::read(backup().join(rel)).unwrap()
}

/// Every data page of a delta, read with the streaming reader.
fn stream_pages(
    bytes: &[u8],
    p: PageSize,
    checks: Checks,
) -> Result<Vec<(u32, Vec<u8>)>, DeltaError> {
    let mut r = DeltaReader::with_checks(bytes, p, checks);
    let mut out = Vec::new();
    while let Some(page) = r.next_page()? {
        assert_eq!(page.data.len(), p.get());
        out.push((page.page_no, page.data.to_vec()));
    }
    Ok(out)
}

/// Every data page of a delta, read through the index (random access).
fn index_pages(
    bytes: &[u8],
    p: PageSize,
    checks: Checks,
) -> Result<Vec<(u32, Vec<u8>)>, DeltaError> {
    let mut src = Cursor::new(bytes);
    let index = DeltaIndex::read(&mut src, p, checks)?;
    let mut buf = vec![0u8; p.get()];
    // Backwards, to show the access is random.
    let mut out: Vec<_> = (0..index.len())
        .rev()
        .map(|i| {
            let n = index.read_page(&mut src, i, &mut buf).unwrap();
            (n, buf.clone())
        })
        .collect();
    out.reverse();
    Ok(out)
}

/// The same pages written back with both writers.
fn rewrite(pages: &[(u32, Vec<u8>)], p: PageSize) -> Vec<u8> {
    let mut w = DeltaWriter::new(Vec::new(), p);
    let mut s = SeekDeltaWriter::new(Cursor::new(Vec::new()), p).unwrap();
    for (n, data) in pages {
        w.push(*n, data).unwrap();
        s.push(*n, data).unwrap();
    }
    let (a, sa) = w.finish().unwrap();
    let (b, sb) = s.finish().unwrap();
    assert_eq!(sa, sb);
    assert_eq!(sa.bytes, a.len() as u64);
    assert_eq!(a, b.into_inner(), "the two writers disagree");
    a
}

// ---------------------------------------------------------------------------------------------
// The real files.

struct Fixture {
    name: &'static str,
    page_size: usize,
    space_id: u32,
    page_nos: Vec<u32>,
    clusters: u64,
}

fn fixtures() -> Vec<Fixture> {
    // Read from the file itself: 0, 2..=41, 64..=413, 448 (392 pages; 255 in the first
    // cluster, up to page 277).
    let zip1: Vec<u32> = [0]
        .into_iter()
        .chain(2..=41)
        .chain(64..=413)
        .chain([448])
        .collect();
    assert_eq!((zip1.len(), zip1[254], zip1[255]), (392, 277, 278));
    vec![
        Fixture {
            name: "t_small",
            page_size: 16384,
            space_id: 5,
            page_nos: vec![3],
            clusters: 1,
        },
        Fixture {
            name: "t_comp",
            page_size: 8192,
            space_id: 6,
            page_nos: vec![3],
            clusters: 1,
        },
        Fixture {
            name: "t_crc32",
            page_size: 16384,
            space_id: 8,
            page_nos: vec![],
            clusters: 1,
        },
        Fixture {
            name: "t_zip1",
            page_size: 1024,
            space_id: 7,
            page_nos: zip1,
            clusters: 2,
        },
    ]
}

#[test]
fn fixture_deltas_and_metas_parse_and_rewrite_byte_for_byte() {
    for f in fixtures() {
        let delta_path = backup().join(format!("inc1/fx/{}.ibd.delta", f.name));
        let meta_path = meta::path_for_delta(&delta_path).unwrap();
        let meta_bytes = fs::read(&meta_path).unwrap();
        let m = Meta::read_file(&meta_path).unwrap();
        assert_eq!(m.physical_page_size().get(), f.page_size, "{}", f.name);
        assert_eq!(m.space_id, Some(f.space_id));
        assert_eq!(m.space_flags, None);
        assert_eq!(
            m.to_bytes(MetaDialect::MariaDb),
            meta_bytes,
            "{}.meta",
            f.name
        );
        let p = m.physical_page_size();

        let bytes = fs::read(&delta_path).unwrap();
        assert_eq!(bytes.len() as u64, p.delta_len(f.page_nos.len() as u64));
        let pages = stream_pages(&bytes, p, Checks::STRICT).unwrap();
        let nos: Vec<u32> = pages.iter().map(|(n, _)| *n).collect();
        assert_eq!(nos, f.page_nos, "{}", f.name);
        assert_eq!(index_pages(&bytes, p, Checks::STRICT).unwrap(), pages);

        let s = validate_file(&delta_path, p, Checks::STRICT).unwrap();
        assert_eq!(s, validate(&bytes[..], p, Checks::STRICT).unwrap());
        assert_eq!(
            (s.clusters, s.pages, s.trailing_bytes),
            (f.clusters, nos.len() as u64, 0)
        );
        assert!(s.ascending);

        for (n, data) in &pages {
            assert_eq!(&data[4..8], &n.to_be_bytes(), "FIL_PAGE_OFFSET of page {n}");
        }
        assert_eq!(rewrite(&pages, p), bytes, "{} rewritten", f.name);
    }
}

#[test]
fn fixture_delta_bytes_are_as_documented() {
    let small = read("inc1/fx/t_small.ibd.delta");
    assert_eq!(
        &small[..16],
        &[0x58, 0x54, 0x52, 0x41, 0, 0, 0, 3, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]
    );
    let crc32 = read("inc1/fx/t_crc32.ibd.delta");
    assert_eq!(&crc32[..8], b"XTRA\xff\xff\xff\xff");
    // The unchanged tablespace's one-page delta is what the writer makes of no pages.
    let (empty, stats) = DeltaWriter::new(Vec::new(), PageSize::DEFAULT)
        .finish()
        .unwrap();
    assert_eq!((empty, stats.clusters), (crc32, 1));

    let zip1 = read("inc1/fx/t_zip1.ibd.delta");
    assert_eq!(&zip1[..4], b"xtra");
    // Full first cluster: slot 255 is the last page number, no terminator anywhere.
    assert_eq!(&zip1[1020..1024], &277u32.to_be_bytes());
    assert_eq!(&zip1[256 * 1024..256 * 1024 + 8], b"XTRA\0\0\x01\x16");
    let second = 256 * 1024;
    assert_eq!(&zip1[second + 4 * 138..second + 4 * 139], &[0xff; 4]);
}

#[test]
fn applying_t_small_delta_to_the_full_backup_gives_the_prepared_file() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("t_small.ibd");
    fs::copy(backup().join("full/fx/t_small.ibd"), &target).unwrap();
    let delta = DeltaFile::open_with(
        backup().join("inc1/fx/t_small.ibd.delta"),
        Meta::read_file(backup().join("inc1/fx/t_small.ibd.meta"))
            .unwrap()
            .physical_page_size(),
        Checks::STRICT,
    )
    .unwrap();
    let p = delta.index().page_size();
    let mut out = fs::OpenOptions::new().write(true).open(&target).unwrap();
    let mut buf = vec![0u8; p.get()];
    for i in 0..delta.index().len() {
        let page_no = delta.read_page(i, &mut buf).unwrap();
        out.seek(SeekFrom::Start(u64::from(page_no) * p.get_u64()))
            .unwrap();
        out.write_all(&buf).unwrap();
    }
    drop(out);
    assert_ne!(read("full/fx/t_small.ibd"), read("prepared/fx/t_small.ibd"));
    assert_eq!(fs::read(&target).unwrap(), read("prepared/fx/t_small.ibd"));
}

#[test]
fn fixture_checkpoints_round_trip_and_chain() {
    for d in ["full", "inc1", "prepared"] {
        let bytes = read(&format!("{d}/xtrabackup_checkpoints"));
        let c = Checkpoints::parse(&bytes).unwrap();
        assert_eq!(c.to_bytes(), bytes, "{d}");
        assert_eq!(
            checkpoints::find(&backup().join(d)).unwrap(),
            backup().join(d).join("xtrabackup_checkpoints")
        );
    }
    let full = Checkpoints::read_dir(backup().join("full")).unwrap();
    let inc = Checkpoints::read_dir(backup().join("inc1")).unwrap();
    let prepared = Checkpoints::read_dir(backup().join("prepared")).unwrap();
    assert_eq!(
        full,
        Checkpoints::new(
            CpDialect::MariaDb,
            BackupType::FullBackuped,
            Lsn(0),
            Lsn(2500178),
            Lsn(2500194)
        )
    );
    assert_eq!(inc.backup_type, BackupType::Incremental);
    assert_eq!(inc.from_lsn, full.to_lsn);
    // mariabackup: prepare the full backup, then apply the incremental.
    assert!(
        full.apply_incremental(&inc, true).is_err(),
        "an unprepared base"
    );
    let base = full.prepared(true).unwrap();
    assert_eq!(base.apply_incremental(&inc, true).unwrap(), prepared);
    assert!(
        base.apply_incremental(&full, true).is_err(),
        "not an incremental"
    );
    assert!(
        prepared.apply_incremental(&inc, true).is_err(),
        "already applied"
    );
}

#[test]
fn mariadb_11_checkpoints_name_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let e = Checkpoints::read_dir(dir.path()).unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }), "{e}");
    fs::write(
        dir.path().join("mariadb_backup_checkpoints"),
        read("inc1/xtrabackup_checkpoints"),
    )
    .unwrap();
    let c = Checkpoints::read_dir(dir.path()).unwrap();
    assert_eq!(c.to_lsn, Lsn(15297519));
    fs::write(
        dir.path().join("mariadb_backup_checkpoints"),
        b"backup_type = full\n",
    )
    .unwrap();
    let e = Checkpoints::read_dir(dir.path()).unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("mariadb_backup_checkpoints: line 1: unknown backup_type"),
        "{text}"
    );
}

#[test]
fn fixture_info_round_trips() {
    for d in ["full", "inc1"] {
        let bytes = read(&format!("{d}/xtrabackup_info"));
        let info = Info::parse(&bytes).unwrap();
        assert_eq!(info.to_bytes(), bytes, "{d}");
        let c = Checkpoints::read_dir(backup().join(d)).unwrap();
        assert_eq!(info.innodb_from_lsn().unwrap(), Some(c.from_lsn));
        assert_eq!(info.innodb_to_lsn().unwrap(), Some(c.to_lsn));
        assert_eq!(info.incremental().unwrap(), Some(d == "inc1"));
        assert_eq!(info.partial().unwrap(), Some(false));
        assert_eq!(info.get("name"), Some(""));
    }
}

// ---------------------------------------------------------------------------------------------
// Damaged deltas: each gives its own error, at the same offset from both readers.

/// Validates with both readers; they must agree. Returns the error.
fn both_fail(bytes: &[u8], p: PageSize, checks: Checks) -> DeltaError {
    let a = validate(bytes, p, checks).unwrap_err();
    let b = DeltaIndex::read(&mut Cursor::new(bytes), p, checks).unwrap_err();
    assert_eq!(a.to_string(), b.to_string());
    a
}

#[test]
fn damaged_deltas_report_their_first_problem_and_offset() {
    let zip1 = read("inc1/fx/t_zip1.ibd.delta");
    let small = read("inc1/fx/t_small.ibd.delta");
    let k1 = PageSize::MIN;
    let k16 = PageSize::DEFAULT;
    let c = Checks::COMPATIBLE;
    let second = 256 * 1024;

    // Bad magic, in the first and in the second cluster.
    let mut b = small.clone();
    b[0] = b'x';
    b[1] = b'x';
    assert!(matches!(
        both_fail(&b, k16, c),
        DeltaError::BadMagic {
            offset: 0,
            found: 0x78785241
        }
    ));
    let mut b = zip1.clone();
    b[second..second + 4].copy_from_slice(b"ZTRA");
    assert!(
        matches!(both_fail(&b, k1, c), DeltaError::BadMagic { offset, .. } if offset == second as u64)
    );

    // A non-final cluster that is not full.
    let mut b = zip1.clone();
    b[4 * 100..4 * 101].copy_from_slice(&[0xff; 4]);
    assert!(matches!(
        both_fail(&b, k1, c),
        DeltaError::NonFinalClusterNotFull {
            offset: 0,
            pages: 99,
            expected: 255
        }
    ));

    // A truncated page: in the middle of the page, and right at its start.
    assert!(matches!(
        both_fail(&small[..20000], k16, c),
        DeltaError::TruncatedPage {
            offset: 16384,
            page_no: 3,
            len: 3616
        }
    ));
    assert!(matches!(
        both_fail(&zip1[..second + 1024 * 10], k1, c),
        DeltaError::TruncatedPage { offset, page_no: 287, len: 0 } if offset == (second + 1024 * 10) as u64
    ));
    // Truncated headers, and a delta cut after a full "xtra" cluster.
    assert!(matches!(
        both_fail(&[], k1, c),
        DeltaError::TruncatedHeader { offset: 0, len: 0 }
    ));
    assert!(matches!(
        both_fail(&zip1[..second + 100], k1, c),
        DeltaError::TruncatedHeader { len: 100, .. }
    ));
    assert!(matches!(
        both_fail(&zip1[..second], k1, c),
        DeltaError::MissingFinalCluster { offset } if offset == second as u64
    ));

    // Trailing garbage: ignored (and counted) like the originals do, or rejected when asked.
    let mut b = small.clone();
    b.extend_from_slice(b"garbage");
    let s = validate(&b[..], k16, c).unwrap();
    assert_eq!((s.len, s.trailing_bytes), (32768, 7));
    assert_eq!(
        DeltaIndex::read(&mut Cursor::new(&b), k16, c)
            .unwrap()
            .summary(),
        s
    );
    assert_eq!(stream_pages(&b, k16, c).unwrap().len(), 1);
    let strict = c.with_no_trailing_bytes(true);
    assert!(matches!(
        both_fail(&b, k16, strict),
        DeltaError::TrailingBytes {
            offset: 32768,
            len: 7
        }
    ));

    // Page numbers out of order, duplicated: accepted by default, rejected when asked.
    let mut b = zip1.clone();
    b[8..12].copy_from_slice(&0u32.to_be_bytes()); // slot 2: page 0 again
    assert!(!validate(&b[..], k1, c).unwrap().ascending);
    let order = c.with_ascending_page_numbers(true);
    assert!(matches!(
        both_fail(&b, k1, order),
        DeltaError::PageOrder {
            offset: 8,
            page_no: 0,
            previous: 0
        }
    ));
    // ... and the page then does not carry its listed number.
    let numbers = c.with_page_numbers_match(true);
    assert!(matches!(
        both_fail(&b, k1, numbers),
        DeltaError::PageNumberMismatch {
            offset: 2048,
            listed: 0,
            in_page: 2
        }
    ));

    // Garbage after the terminator of a header.
    let mut b = small.clone();
    b[9000] = 1;
    assert!(validate(&b[..], k16, c).is_ok());
    let tail = c.with_zero_header_tail(true);
    assert!(matches!(
        both_fail(&b, k16, tail),
        DeltaError::HeaderTail { offset: 9000 }
    ));
}

#[test]
fn a_wrong_page_size_is_caught() {
    let small = read("inc1/fx/t_small.ibd.delta");
    let comp = read("inc1/fx/t_comp.ibd.delta");
    let zip1 = read("inc1/fx/t_zip1.ibd.delta");
    let ps = |n| PageSize::new(n).unwrap();
    // Too large: the pages run past the end.
    assert!(matches!(
        both_fail(&comp, ps(16384), Checks::COMPATIBLE),
        DeltaError::TruncatedPage { .. }
    ));
    assert!(matches!(
        both_fail(&small, ps(32768), Checks::COMPATIBLE),
        DeltaError::TruncatedPage { .. }
    ));
    // Too small: the strict checks see bytes after the (misread) end.
    assert!(matches!(
        both_fail(&small, ps(8192), Checks::STRICT),
        DeltaError::TrailingBytes { .. }
    ));
    // Too small for a multi-cluster delta: page bytes are taken for page numbers.
    both_fail(&zip1, ps(2048), Checks::COMPATIBLE);
    both_fail(&zip1, ps(2048), Checks::STRICT);
    // Writers refuse pages of the wrong length.
    let mut w = DeltaWriter::new(Vec::new(), ps(16384));
    assert!(matches!(
        w.push(3, &comp[8192..]),
        Err(DeltaWriteError::PageLength {
            page_no: 3,
            len: 8192,
            expected: 16384
        })
    ));
    let mut s = SeekDeltaWriter::new(Cursor::new(Vec::new()), ps(8192)).unwrap();
    assert!(matches!(
        s.push(3, &small[16384..]),
        Err(DeltaWriteError::PageLength { .. })
    ));
}

#[test]
fn file_errors_name_the_file_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.ibd.delta");
    let mut b = read("inc1/fx/t_zip1.ibd.delta");
    b.truncate(300_000);
    fs::write(&path, &b).unwrap();
    let e = validate_file(&path, PageSize::MIN, Checks::COMPATIBLE).unwrap_err();
    assert_eq!(e.path(), path);
    let text = e.to_string();
    assert!(
        text.starts_with(&format!("{}: at offset 299008: page ", path.display())),
        "{text}"
    );
    assert!(matches!(
        e,
        Error::Delta {
            source: DeltaError::TruncatedPage { .. },
            ..
        }
    ));

    let meta_path = dir.path().join("t.ibd.meta");
    fs::write(&meta_path, "page_size = 16384\nzip_size = 3 \n").unwrap();
    let text = Meta::read_file(&meta_path).unwrap_err().to_string();
    assert!(
        text.starts_with(&format!("{}: line 2: zip_size = 3", meta_path.display())),
        "{text}"
    );
}

#[test]
fn writers_enforce_page_number_rules() {
    let p = PageSize::MIN;
    let page = vec![0u8; 1024];
    let mut w = DeltaWriter::new(Vec::new(), p);
    w.push(10, &page).unwrap();
    assert!(matches!(
        w.push(9, &page),
        Err(DeltaWriteError::PageOrder {
            page_no: 9,
            previous: 10
        })
    ));
    assert!(matches!(
        w.push(u32::MAX, &page),
        Err(DeltaWriteError::ReservedPageNo)
    ));
    w.push(u32::MAX - 1, &page).unwrap();
    let (bytes, stats) = w.finish().unwrap();
    assert_eq!(stats.pages, 2);
    let pages = stream_pages(&bytes, p, Checks::COMPATIBLE).unwrap();
    assert_eq!(
        pages.iter().map(|x| x.0).collect::<Vec<_>>(),
        [10, u32::MAX - 1]
    );
}

#[test]
fn seek_writer_keeps_what_precedes_it() {
    let p = PageSize::MIN;
    let mut out = Cursor::new(Vec::new());
    out.write_all(b"head").unwrap();
    let mut w = SeekDeltaWriter::new(out, p).unwrap();
    for n in 0..300u32 {
        w.push(n * 3, &[n as u8; 1024]).unwrap();
    }
    let (out, stats) = w.finish().unwrap();
    assert_eq!(out.position(), 4 + stats.bytes);
    let bytes = out.into_inner();
    assert_eq!(&bytes[..4], b"head");
    let mut src = Cursor::new(&bytes);
    src.set_position(4);
    let index = DeltaIndex::read(&mut src, p, Checks::COMPATIBLE).unwrap();
    assert_eq!(index.len(), 300);
    let mut buf = vec![0u8; 1024];
    assert_eq!(index.read_page(&mut src, 299, &mut buf).unwrap(), 897);
    assert_eq!(buf[0], 43); // 299 as u8
}

// ---------------------------------------------------------------------------------------------
// Properties.

/// Page contents: `seed` everywhere, the page number at FIL_PAGE_OFFSET.
fn page_image(p: PageSize, page_no: u32, seed: u8) -> Vec<u8> {
    let mut v = vec![seed; p.get()];
    v[4..8].copy_from_slice(&page_no.to_be_bytes());
    v
}

/// Page sizes with page counts around the cluster capacity (255, 511, 1023 data pages) for the
/// small sizes, and a few pages for the large ones (a full 64 KiB cluster is 1 GiB).
fn page_set() -> impl Strategy<Value = (PageSize, Vec<u32>)> {
    (0usize..7)
        .prop_flat_map(|shift| {
            let p = PageSize::new(1024 << shift).unwrap();
            let cap = p.pages_per_cluster();
            let count = if shift < 3 {
                prop_oneof![
                    0..8usize,
                    (cap - 2)..(cap + 3),
                    (2 * cap - 1)..(2 * cap + 2),
                    0..(2 * cap + 10),
                ]
                .boxed()
            } else {
                (0..6usize).boxed()
            };
            (Just(p), count)
        })
        .prop_flat_map(|(p, count)| {
            (
                Just(p),
                proptest::collection::btree_set(
                    any::<u32>().prop_map(|n| n % (u32::MAX - 1)),
                    count,
                ),
            )
        })
        .prop_map(|(p, set)| (p, set.into_iter().collect()))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn delta_round_trip((p, nos) in page_set(), seed in any::<u8>()) {
        let pages: Vec<(u32, Vec<u8>)> =
            nos.iter().map(|&n| (n, page_image(p, n, seed ^ n as u8))).collect();
        let bytes = rewrite(&pages, p);
        prop_assert_eq!(bytes.len() as u64, p.delta_len(pages.len() as u64));
        prop_assert_eq!(&stream_pages(&bytes, p, Checks::STRICT).unwrap(), &pages);
        prop_assert_eq!(&index_pages(&bytes, p, Checks::STRICT).unwrap(), &pages);
        let s = validate(&bytes[..], p, Checks::STRICT).unwrap();
        let per = p.pages_per_cluster() as u64;
        let expected = DeltaSummary {
            page_size: p,
            clusters: (pages.len() as u64).div_ceil(per).max(1),
            pages: pages.len() as u64,
            len: bytes.len() as u64,
            trailing_bytes: 0,
            max_page_no: nos.last().copied(),
            ascending: true,
        };
        prop_assert_eq!(s, expected);
        // The last cluster is XTRA, every other one xtra, at k * S * P.
        for k in 0..s.clusters {
            let at = (k * p.cluster_len()) as usize;
            let magic = if k + 1 == s.clusters { b"XTRA" } else { b"xtra" };
            prop_assert_eq!(&bytes[at..at + 4], magic);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_both_readers_agree(
        bytes in proptest::collection::vec(any::<u8>(), 0..5000),
        magic in prop_oneof![Just(*b"XTRA"), Just(*b"xtra"), any::<[u8; 4]>()],
        strict in any::<bool>(),
    ) {
        let mut bytes = bytes;
        if bytes.len() >= 4 {
            bytes[..4].copy_from_slice(&magic);
        }
        let checks = if strict { Checks::STRICT } else { Checks::COMPATIBLE };
        let p = PageSize::MIN;
        let a = validate(&bytes[..], p, checks);
        let b = DeltaIndex::read(&mut Cursor::new(&bytes), p, checks).map(|i| i.summary());
        match (a, b) {
            (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
            (Err(a), Err(b)) => prop_assert_eq!(a.to_string(), b.to_string()),
            (a, b) => prop_assert!(false, "readers disagree: {:?} vs {:?}", a, b),
        }
        let _ = stream_pages(&bytes, p, checks);
        let _ = Meta::parse(&bytes);
        let _ = Checkpoints::parse(&bytes);
        let _ = Info::parse(&bytes);
    }

    #[test]
    fn meta_round_trip(
        shift in 0usize..7,
        zip in prop_oneof![Just(None), (0usize..5).prop_map(Some)],
        space_id in proptest::option::of(any::<u32>()),
        space_flags in proptest::option::of(any::<u32>()),
        mariadb in any::<bool>(),
    ) {
        let page_size = PageSize::new(1024 << shift).unwrap();
        let zip_size = zip
            .map(|z| PageSize::new(1024 << z).unwrap())
            .filter(|&z| z <= page_size);
        let m = Meta { page_size, zip_size, space_id, space_flags };
        let dialect = if mariadb { MetaDialect::MariaDb } else { MetaDialect::Pxb80 };
        let bytes = m.to_bytes(dialect);
        let back = Meta::parse(&bytes).unwrap();
        let expected = Meta { space_flags: if mariadb { None } else { space_flags }, ..m };
        prop_assert_eq!(back, expected);
        prop_assert_eq!(back.to_bytes(dialect), bytes);
    }

    #[test]
    fn checkpoints_round_trip(
        t in 0usize..4,
        lsns in any::<[u64; 3]>(),
        compact in proptest::option::of(any::<bool>()),
        rbi in proptest::option::of(any::<bool>()),
        flushed in proptest::option::of(any::<u64>()),
        redo in proptest::option::of(any::<(u64, u64)>()),
        other in proptest::collection::vec(("[a-z_]{1,12}", "[ -~]{0,20}"), 0..3),
    ) {
        let mut c = Checkpoints::new(
            CpDialect::MariaDb, BackupType::ALL[t], Lsn(lsns[0]), Lsn(lsns[1]), Lsn(lsns[2]));
        c.compact = compact;
        c.recover_binlog_info = rbi;
        c.flushed_lsn = flushed.map(Lsn);
        c.redo_memory = redo.map(|r| r.0);
        c.redo_frames = redo.map(|r| r.1);
        // Unknown keys: not a known one, not twice; values without surrounding blanks.
        let mut seen = std::collections::BTreeSet::new();
        for (k, v) in other {
            let known = ["backup_type", "from_lsn", "to_lsn", "last_lsn", "compact",
                "recover_binlog_info", "flushed_lsn", "redo_memory", "redo_frames"];
            if !known.contains(&k.as_str()) && seen.insert(k.clone()) {
                c.other.push((k, v.trim().to_owned()));
            }
        }
        let bytes = c.to_bytes();
        let back = Checkpoints::parse(&bytes).unwrap();
        prop_assert_eq!(&back, &c);
        prop_assert_eq!(back.to_bytes(), bytes);
    }
}
