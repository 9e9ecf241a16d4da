//! Every page of every real MariaDB 10.11 fixture file, against the facts recorded when they
//! were captured (tests/data/mariadb-10.11/FACTS.md).

use std::path::{Path, PathBuf};

use innodb_page::checksum::Algorithm;
use innodb_page::page_type::{PageType, Vendor};
use innodb_page::tablespace::Tablespace;
use innodb_page::verify::{self, Problem};

fn data(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data/mariadb-10.11")
        .join(p)
}

struct Facts {
    file: &'static str,
    space_id: u32,
    flags: u32,
    format: &'static str,
    physical: usize,
    pages: u64,
    fsp_size: u32,
    page0_lsn: u64,
    max_lsn: u64,
    algorithm: Algorithm,
}

const FACTS: &[Facts] = &[
    Facts {
        file: "datadir-16k/t_small.ibd",
        space_id: 5,
        flags: 0x15,
        format: "full_crc32",
        physical: 16384,
        pages: 4,
        fsp_size: 4,
        page0_lsn: 45789,
        max_lsn: 2500545,
        algorithm: Algorithm::FullCrc32,
    },
    Facts {
        file: "datadir-16k/t_comp.ibd",
        space_id: 6,
        flags: 0x29,
        format: "compressed",
        physical: 8192,
        pages: 8,
        fsp_size: 4,
        page0_lsn: 54351,
        max_lsn: 2500938,
        algorithm: Algorithm::ZipCrc32,
    },
    Facts {
        file: "datadir-16k/t_crc32.ibd",
        space_id: 8,
        flags: 0x21,
        format: "classic",
        physical: 16384,
        pages: 4,
        fsp_size: 4,
        page0_lsn: 2492294,
        max_lsn: 2498539,
        algorithm: Algorithm::Crc32,
    },
    Facts {
        file: "datadir-4k/t_small.ibd",
        space_id: 5,
        flags: 0x13,
        format: "full_crc32",
        physical: 4096,
        pages: 4,
        fsp_size: 4,
        page0_lsn: 54534,
        max_lsn: 60974,
        algorithm: Algorithm::FullCrc32,
    },
    Facts {
        file: "backup/full/fx/t_small.ibd",
        space_id: 5,
        flags: 0x15,
        format: "full_crc32",
        physical: 16384,
        pages: 4,
        fsp_size: 4,
        page0_lsn: 45789,
        max_lsn: 52121,
        algorithm: Algorithm::FullCrc32,
    },
    Facts {
        file: "datadir-16k/ibdata1.head64k",
        space_id: 0,
        flags: 0x15,
        format: "full_crc32",
        physical: 16384,
        pages: 4,
        fsp_size: 768,
        page0_lsn: 15297445,
        max_lsn: 15297445,
        algorithm: Algorithm::FullCrc32,
    },
];

#[test]
fn tablespace_facts_and_every_page() {
    for f in FACTS {
        let ts = Tablespace::open(data(f.file)).unwrap();
        let fmt = ts.format();
        assert_eq!(fmt.space_id, f.space_id, "{}", f.file);
        assert_eq!(fmt.flags.raw(), f.flags, "{}", f.file);
        assert_eq!(fmt.format_name(), f.format, "{}", f.file);
        assert_eq!(ts.page_size(), f.physical, "{}", f.file);
        assert_eq!(ts.page_count(), f.pages, "{}", f.file);
        assert_eq!(fmt.header.size, f.fsp_size, "{}", f.file);
        let vendor = if f.format == "full_crc32" {
            Vendor::MariaDb
        } else {
            Vendor::Unknown
        };
        assert_eq!(fmt.vendor, vendor, "{}", f.file);
        let r = verify::verify_tablespace(&ts, true).unwrap();
        assert!(r.corrupt.is_empty(), "{}: {:?}", f.file, r.corrupt);
        assert_eq!(r.max_lsn.get(), f.max_lsn, "{}", f.file);
        assert_eq!(r.page_checks[0].lsn.get(), f.page0_lsn, "{}", f.file);
        assert_eq!(r.page_checks[0].page_type, PageType::FspHdr);
        for c in &r.page_checks {
            let v = c.verdict.unwrap();
            if c.lsn.get() == 0 {
                assert!(v.is_sound(), "{} page {}: {v}", f.file, c.page_no);
            } else {
                assert_eq!(
                    v.algorithm(),
                    Some(f.algorithm),
                    "{} page {}",
                    f.file,
                    c.page_no
                );
            }
        }
    }
}

#[test]
fn page_types_of_small_tablespaces() {
    for file in [
        "datadir-16k/t_small.ibd",
        "datadir-16k/t_crc32.ibd",
        "datadir-4k/t_small.ibd",
    ] {
        let ts = Tablespace::open(data(file)).unwrap();
        let r = verify::verify_tablespace(&ts, true).unwrap();
        let types: Vec<PageType> = r.page_checks.iter().map(|c| c.page_type).collect();
        assert_eq!(
            types,
            [
                PageType::FspHdr,
                PageType::IbufBitmap,
                PageType::Inode,
                PageType::Index
            ],
            "{file}"
        );
    }
    // t_comp: 4 zip pages written, 4 all-zero pages after them.
    let ts = Tablespace::open(data("datadir-16k/t_comp.ibd")).unwrap();
    let r = verify::verify_tablespace(&ts, false).unwrap();
    assert_eq!((r.pages, r.empty_pages), (8, 4));
}

/// Flip one byte of each page of a copy in turn: verify names exactly that page.
#[test]
fn flipped_bytes_are_found_on_their_page() {
    let dir = tempfile::tempdir().unwrap();
    for f in FACTS.iter().filter(|f| f.space_id != 0) {
        let orig = std::fs::read(data(f.file)).unwrap();
        for page in 0..f.pages as usize {
            let start = page * f.physical;
            if orig[start..start + f.physical].iter().all(|&b| b == 0) {
                continue;
            }
            let mut bytes = orig.clone();
            bytes[start + f.physical / 2] ^= 0x10;
            let p = dir.path().join("x.ibd");
            std::fs::write(&p, &bytes).unwrap();
            let ts = Tablespace::open(&p).unwrap_or_else(|e| panic!("{}: {e}", f.file));
            let r = verify::verify_tablespace(&ts, false).unwrap();
            let pages: Vec<u64> = r.corrupt.iter().map(|c| c.page_no).collect();
            assert_eq!(pages, [page as u64], "{} page {page}", f.file);
            assert!(matches!(r.corrupt[0].problem, Some(Problem::Checksum(_))));
        }
    }
}

/// A page copied to the wrong position keeps a valid checksum; the page-number check finds it.
#[test]
fn misplaced_page_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(data("datadir-16k/t_small.ibd")).unwrap();
    let (a, b) = bytes.split_at_mut(3 * 16384);
    a[2 * 16384..].copy_from_slice(&b[..16384]);
    let p = dir.path().join("x.ibd");
    std::fs::write(&p, &bytes).unwrap();
    let r = verify::verify_tablespace(&Tablespace::open(&p).unwrap(), false).unwrap();
    assert_eq!(r.corrupt.len(), 1);
    assert_eq!(r.corrupt[0].page_no, 2);
    assert_eq!(r.corrupt[0].problem, Some(Problem::PageNumber { found: 3 }));
}

/// Zip pages of the compressed tables in the incremental fixture (1 KiB and 8 KiB).
#[test]
fn compressed_pages_from_deltas_validate() {
    use innodb_page::checksum::{validate, ChecksumContext};
    for (file, size) in [
        ("backup/inc1/fx/t_zip1.ibd.delta", 1024),
        ("backup/inc1/fx/t_comp.ibd.delta", 8192),
    ] {
        let bytes = std::fs::read(data(file)).unwrap();
        let ctx = ChecksumContext {
            zip: true,
            vendor: Vendor::MariaDb,
            ..Default::default()
        };
        let per_cluster = size / 4; // one header page + (size/4 - 1) data pages
        let mut checked = 0;
        for (i, chunk) in bytes.chunks_exact(size).enumerate() {
            if i % per_cluster == 0 {
                continue; // a delta header page
            }
            let page = innodb_page::Page::new(chunk).unwrap();
            assert_eq!(
                validate(page, &ctx).algorithm(),
                Some(Algorithm::ZipCrc32),
                "{file} slot {i}"
            );
            checked += 1;
        }
        assert!(checked >= 1);
    }
}
