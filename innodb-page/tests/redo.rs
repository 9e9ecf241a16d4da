//! Redo log reading: the real MariaDB 10.11 fixtures, and hand-built logs of every other format.

use std::fs;
use std::path::{Path, PathBuf};

use innodb_page::redo::block::{BlockStop, HDR_NO_WRAP};
use innodb_page::redo::checkpoint;
use innodb_page::redo::header::FileHeader;
use innodb_page::redo::mtr::{self, LogGeometry, MtrReader, ScanStop};
use innodb_page::redo::{open, Encryption, LogEnd, RedoError, RedoFormat, StopReason};
use innodb_page::{Error, Lsn};
use proptest::prelude::*;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/data/mariadb-10.11");

fn fixture(rel: &str) -> PathBuf {
    Path::new(DATA).join(rel)
}

fn valid_checkpoints(log: &innodb_page::redo::RedoLog) -> Vec<(u64, u64, Option<u64>)> {
    log.checkpoints
        .iter()
        .filter_map(|s| s.checkpoint.as_ref().ok())
        .map(|c| (c.block_offset, c.lsn.get(), c.end_lsn.map(Lsn::get)))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Real files (values from tests/data/mariadb-10.11/FACTS.md).

#[test]
fn fixture_datadir_16k() {
    let log = open(&fixture("datadir-16k/ib_logfile0.head16k")).unwrap();
    assert_eq!(log.format, RedoFormat::MariaDb108);
    assert_eq!(log.format_word, 0x5068_7973);
    assert_eq!(log.encryption, Encryption::None);
    assert_eq!(log.creator, "MariaDB 10.11.19");
    assert_eq!(log.start_lsn, Lsn::new(12288));
    assert_eq!(
        valid_checkpoints(&log),
        vec![
            (0x1000, 15_297_519, Some(15_297_519)),
            (0x2000, 15_296_350, Some(15_297_445)),
        ]
    );
    assert_eq!(log.checkpoint_lsn(), Lsn::new(15_297_519));
    assert_eq!(log.checkpoint.block_offset, 0x1000);
    assert_eq!(log.checkpoint_end_lsn(), Some(Lsn::new(15_297_519)));
    // Only the first 16 KiB of a larger log: the record area is not the real one.
    assert_eq!(log.end_lsn(), None);
    assert!(matches!(log.end, LogEnd::Unknown { .. }));
    // Header CRC as given in the spec.
    let bytes = fs::read(fixture("datadir-16k/ib_logfile0.head16k")).unwrap();
    assert_eq!(
        FileHeader::parse(&bytes).unwrap().stored_checksum(),
        0x4764_A11E
    );
    // The first mtr at 0x3000 is the spec's FILE_CHECKPOINT example, read from the file.
    let g = LogGeometry::new(Lsn::new(12288), 4096, false).unwrap();
    let area = &bytes[0x3000..];
    let mut r = MtrReader::new(area, g, Lsn::new(12288)).unwrap();
    let m = r.next_mtr().unwrap().unwrap();
    assert_eq!(m.end_lsn(), Lsn::new(12288 + 16));
    assert_eq!(m.checksum(), 0x1FEC_1A80);
    assert_eq!(m.file_checkpoint_lsn(), Some(Lsn::new(0x3000)));
    // The following mtrs of the very first lap frame and check too.
    let mut n = 1;
    while r.next_mtr().unwrap().is_some() {
        n += 1;
    }
    assert!(n > 3, "only {n} mtrs framed at the start of the real log");
}

#[test]
fn fixture_datadir_4k() {
    let log = open(&fixture("datadir-4k/ib_logfile0.head16k")).unwrap();
    assert_eq!(log.format.name(), "mariadb-10.8");
    assert_eq!(log.creator, "MariaDB 10.11.19");
    assert_eq!(log.start_lsn, Lsn::new(12288));
    assert_eq!(
        valid_checkpoints(&log),
        vec![(0x1000, 62165, Some(62165)), (0x2000, 62061, Some(62061))]
    );
    assert_eq!(log.checkpoint_lsn(), Lsn::new(62165));
    assert_eq!(log.end_lsn(), None);
}

#[test]
fn fixture_backup_full() {
    let path = fixture("backup/full/ib_logfile0");
    assert_eq!(fs::metadata(&path).unwrap().len(), 12304);
    let log = open(&path).unwrap();
    assert_eq!(log.format, RedoFormat::MariaDb108);
    assert_eq!(log.creator, "Backup 10.11.19");
    assert_eq!(log.start_lsn, Lsn::new(2_500_178));
    assert_eq!(
        valid_checkpoints(&log),
        vec![(0x1000, 2_500_178, Some(2_500_178))]
    );
    // The all-zero second block is invalid (bad CRC).
    assert!(matches!(
        log.checkpoints[1].checkpoint,
        Err(RedoError::BadChecksum { .. })
    ));
    assert_eq!(log.checkpoint_lsn(), Lsn::new(2_500_178));
    assert_eq!(log.capacity, 16);
    // One FILE_CHECKPOINT mtr: 2500178 + 16.
    assert_eq!(log.end_lsn(), Some(Lsn::new(2_500_194)));
    match log.end {
        LogEnd::Scanned { units, stop, .. } => {
            assert_eq!(units, 1);
            assert!(matches!(
                stop,
                StopReason::Mtr(ScanStop::SequenceBit { .. })
            ));
        }
        other => panic!("{other:?}"),
    }
    // Same through the directory.
    let log2 = open(&fixture("backup/full")).unwrap();
    assert_eq!(log2.end_lsn(), Some(Lsn::new(2_500_194)));
    assert_eq!(log2.path(), path.as_path());
}

#[test]
fn fixture_backup_inc1() {
    let log = open(&fixture("backup/inc1/ib_logfile0")).unwrap();
    assert_eq!(log.creator, "Backup 10.11.19");
    assert_eq!(log.start_lsn, Lsn::new(15_297_519));
    assert_eq!(
        valid_checkpoints(&log),
        vec![(0x1000, 15_297_519, Some(15_297_519))]
    );
    assert_eq!(log.checkpoint_lsn(), Lsn::new(15_297_519));
    // xtrabackup_checkpoints of inc1: last_lsn = 15297535.
    assert_eq!(log.end_lsn(), Some(Lsn::new(15_297_535)));
}

#[test]
fn fixture_truncations_are_errors() {
    let bytes = fs::read(fixture("backup/full/ib_logfile0")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for cut in [0usize, 100, 511, 512, 4096, 4100, 8192, 8200, 12288] {
        let p = dir.path().join(format!("cut{cut}"));
        fs::write(&p, &bytes[..cut]).unwrap();
        match open(&p) {
            Err(Error::Redo { offset, .. }) => assert!(offset <= cut as u64, "cut {cut}"),
            Ok(log) => {
                // Header and checkpoint present, no record area.
                assert_eq!(cut, 12288);
                assert_eq!(log.end_lsn(), None);
            }
            Err(e) => panic!("cut {cut}: {e}"),
        }
    }
    // Not a redo log at all.
    let p = dir.path().join("t_small.ibd");
    fs::copy(fixture("datadir-16k/t_small.ibd"), &p).unwrap();
    assert!(matches!(
        open(&p),
        Err(Error::Redo {
            offset: 0,
            source: RedoError::BadChecksum { .. } | RedoError::UnknownFormat { .. },
            ..
        })
    ));
    // A directory without a log.
    assert!(matches!(open(dir.path()), Err(Error::Layout { .. })));
    assert!(matches!(
        open(&dir.path().join("missing")),
        Err(Error::Io { .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// Builders for block-framed logs.

fn seal(b: &mut [u8]) {
    let crc = crc32c::crc32c(&b[..508]);
    b[508..512].copy_from_slice(&crc.to_be_bytes());
}

fn header(word: u32, sub: u32, start: u64, creator: &str) -> [u8; 512] {
    let mut b = [0u8; 512];
    b[0..4].copy_from_slice(&word.to_be_bytes());
    b[4..8].copy_from_slice(&sub.to_be_bytes());
    b[8..16].copy_from_slice(&start.to_be_bytes());
    b[16..16 + creator.len()].copy_from_slice(creator.as_bytes());
    seal(&mut b);
    b
}

fn ring_checkpoint(no: u64, lsn: u64, offset: u64, end_lsn: u64) -> [u8; 512] {
    let mut b = [0u8; 512];
    b[0..8].copy_from_slice(&no.to_be_bytes());
    b[8..16].copy_from_slice(&lsn.to_be_bytes());
    b[16..24].copy_from_slice(&offset.to_be_bytes());
    b[24..32].copy_from_slice(&65536u64.to_be_bytes());
    b[496..504].copy_from_slice(&end_lsn.to_be_bytes());
    seal(&mut b);
    b
}

/// A data block for `start` with `len` bytes used; `word8` at offset 8.
fn data_block(start: u64, len: u16, word8: u32) -> [u8; 512] {
    let mut b = [0u8; 512];
    let hdr_no = 1 + ((start / 512) % HDR_NO_WRAP) as u32;
    b[0..4].copy_from_slice(&hdr_no.to_be_bytes());
    b[4..6].copy_from_slice(&len.to_be_bytes());
    b[6..8].copy_from_slice(&12u16.to_be_bytes());
    b[8..12].copy_from_slice(&word8.to_be_bytes());
    for (i, x) in b[12..508].iter_mut().enumerate() {
        *x = ((start as usize / 512 + i) % 251) as u8;
    }
    seal(&mut b);
    b
}

/// A ring log of `n` files of `size` bytes whose LSN `base` (block aligned) sits at data
/// position 0 (file 0, offset 2048). Returns the file images.
struct Ring {
    size: u64,
    files: Vec<Vec<u8>>,
    base: u64,
}

impl Ring {
    fn new(word: u32, sub: u32, creator: &str, size: u64, n: usize, base: u64) -> Ring {
        let mut files = vec![vec![0u8; size as usize]; n];
        let per = size - 2048;
        for (i, f) in files.iter_mut().enumerate() {
            f[..512].copy_from_slice(&header(word, sub, base + i as u64 * per, creator));
        }
        Ring { size, files, base }
    }

    fn capacity(&self) -> u64 {
        (self.size - 2048) * self.files.len() as u64
    }

    /// (file, offset) of `lsn`, independently of the library's mapping.
    fn place(&self, lsn: u64) -> (usize, usize) {
        let per = self.size - 2048;
        let d = (lsn - self.base) % self.capacity();
        ((d / per) as usize, (2048 + d % per) as usize)
    }

    /// Real offset (concatenated files) of `lsn`.
    fn real_offset(&self, lsn: u64) -> u64 {
        let (f, o) = self.place(lsn);
        f as u64 * self.size + o as u64
    }

    /// Writes blocks for LSNs `[from, end)` (from block aligned); the last block holds the
    /// remainder. `word8(lsn)` gives the offset-8 word.
    fn write_log(&mut self, from: u64, end: u64, word8: impl Fn(u64) -> u32) {
        let mut l = from;
        while l < end {
            let len = (end - l).min(512) as u16;
            let blk = data_block(l, len, word8(l));
            let (f, o) = self.place(l);
            self.files[f][o..o + 512].copy_from_slice(&blk);
            l += 512;
        }
    }

    fn write_block_raw(&mut self, lsn: u64, blk: [u8; 512]) {
        let (f, o) = self.place(lsn);
        self.files[f][o..o + 512].copy_from_slice(&blk);
    }

    fn set_checkpoints(&mut self, a: [u8; 512], b: [u8; 512]) {
        self.files[0][512..1024].copy_from_slice(&a);
        self.files[0][1536..2048].copy_from_slice(&b);
    }

    fn write_to(&self, dir: &Path) -> PathBuf {
        for (i, f) in self.files.iter().enumerate() {
            fs::write(dir.join(format!("ib_logfile{i}")), f).unwrap();
        }
        dir.join("ib_logfile0")
    }
}

// ---------------------------------------------------------------------------------------------
// MySQL 5.7 / 8.0, MariaDB 10.2–10.5.

#[test]
fn mysql_57_two_files_end_inside_a_block() {
    let base = 8192;
    let mut ring = Ring::new(1, 0, "MySQL 5.7.44", 2048 + 8 * 512, 2, base);
    let ck_old = base + 100;
    let ck = base + 700;
    let end = base + 9 * 512 + 100; // in file 1
    ring.write_log(base, end, |_| 5);
    ring.set_checkpoints(
        ring_checkpoint(4, ck_old, ring.real_offset(ck_old), 0),
        ring_checkpoint(5, ck, ring.real_offset(ck), 0),
    );
    let dir = tempfile::tempdir().unwrap();
    let p = ring.write_to(dir.path());
    let log = open(&p).unwrap();
    assert_eq!(log.format, RedoFormat::MySql57);
    assert_eq!(log.creator, "MySQL 5.7.44");
    assert_eq!(log.files.len(), 2);
    assert_eq!(log.capacity, 2 * 8 * 512);
    assert_eq!(log.checkpoint.checkpoint_no, Some(5));
    assert_eq!(log.checkpoint_lsn(), Lsn::new(ck));
    assert_eq!(log.checkpoint.block_offset, 1536);
    assert_eq!(log.checkpoint_end_lsn(), None, "MySQL has no end LSN field");
    assert_eq!(log.end_lsn(), Some(Lsn::new(end)));
    assert!(matches!(
        log.end,
        LogEnd::Scanned {
            stop: StopReason::Block(BlockStop::PartialBlock),
            units: 9,
            ..
        }
    ));
    // Through the datadir and through ib_logfile1.
    assert_eq!(open(dir.path()).unwrap().end_lsn(), Some(Lsn::new(end)));
    assert_eq!(
        open(&dir.path().join("ib_logfile1"))
            .unwrap()
            .checkpoint_lsn(),
        Lsn::new(ck)
    );
}

#[test]
fn mysql_57_log_ending_at_bad_crc() {
    let base = 8192;
    let mut ring = Ring::new(1, 0, "MySQL 5.7.44", 2048 + 16 * 512, 1, base);
    let ck = base + 1030;
    ring.write_log(base, base + 10 * 512, |_| 0);
    // Corrupt block 6 (a flipped payload byte).
    let (f, o) = ring.place(base + 6 * 512);
    ring.files[f][o + 100] ^= 0x40;
    ring.set_checkpoints(
        ring_checkpoint(9, ck, ring.real_offset(ck), 0),
        [0u8; 512], // invalid second block
    );
    let dir = tempfile::tempdir().unwrap();
    let log = open(&ring.write_to(dir.path())).unwrap();
    assert_eq!(log.checkpoint_lsn(), Lsn::new(ck));
    assert!(log.checkpoints[1].checkpoint.is_err());
    assert_eq!(log.end_lsn(), Some(Lsn::new(base + 6 * 512)));
    assert!(matches!(
        log.end,
        LogEnd::Scanned {
            stop: StopReason::Block(BlockStop::InvalidBlock),
            ..
        }
    ));
}

#[test]
fn mysql_80_ring_wraps_around() {
    // One lap = 2 files × 8 blocks = 8192 bytes. The checkpoint is on lap 3 and the log wraps
    // from the end of file 1 into file 0; older laps' blocks follow the end.
    let base = 8192;
    let mut ring = Ring::new(4, 0, "MySQL 8.0.28", 2048 + 8 * 512, 2, base);
    let lap = ring.capacity();
    // Fill the whole ring with the previous lap (stale but valid-looking blocks).
    ring.write_log(base + 2 * lap, base + 3 * lap, |_| 1);
    let ck = base + 3 * lap - 3 * 512 + 40; // file 1, third block from its end
    let end = base + 3 * lap + 2 * 512 + 77; // wrapped into file 0
    ring.write_log(ck - 40, end, |_| 2);
    ring.set_checkpoints(
        ring_checkpoint(21, ck, ring.real_offset(ck), 0),
        ring_checkpoint(20, ck - 512, ring.real_offset(ck - 512), 0),
    );
    assert_eq!(ring.place(ck).0, 1);
    assert_eq!(ring.place(end).0, 0);
    let dir = tempfile::tempdir().unwrap();
    let log = open(&ring.write_to(dir.path())).unwrap();
    assert_eq!(log.format, RedoFormat::MySql80);
    assert_eq!(log.checkpoint_lsn(), Lsn::new(ck));
    assert_eq!(log.end_lsn(), Some(Lsn::new(end)));

    // Same, with the log ending exactly at a block boundary: the next block is from the
    // previous lap (hdr_no too small) and stops the scan.
    let mut ring2 = Ring::new(4, 0, "MySQL 8.0.28", 2048 + 8 * 512, 2, base);
    ring2.write_log(base + 2 * lap, base + 3 * lap, |_| 1);
    let end2 = base + 3 * lap + 512;
    ring2.write_log(ck - 40, end2, |_| 2);
    ring2.set_checkpoints(ring_checkpoint(21, ck, ring2.real_offset(ck), 0), [0; 512]);
    let dir2 = tempfile::tempdir().unwrap();
    let log2 = open(&ring2.write_to(dir2.path())).unwrap();
    assert_eq!(log2.end_lsn(), Some(Lsn::new(end2)));
}

#[test]
fn mysql_80_encrypted_bit_and_flush_bit() {
    let base = 8192;
    let mut ring = Ring::new(5, 0, "MySQL 8.0.28", 2048 + 8 * 512, 1, base);
    let ck = base + 20;
    ring.write_log(base, base + 512, |_| 0);
    // Second block: encrypted bit in data_len, flush bit in hdr_no, 300 bytes.
    let l = base + 512;
    let mut b = data_block(l, 300 | 0x8000, 0);
    let h = u32::from_be_bytes(b[0..4].try_into().unwrap()) | 0x8000_0000;
    b[0..4].copy_from_slice(&h.to_be_bytes());
    seal(&mut b);
    ring.write_block_raw(l, b);
    ring.set_checkpoints(ring_checkpoint(1, ck, ring.real_offset(ck), 0), [0; 512]);
    // MySQL redo encryption info in block 2.
    ring.files[0][1024..1027].copy_from_slice(b"lCB");
    let dir = tempfile::tempdir().unwrap();
    let log = open(&ring.write_to(dir.path())).unwrap();
    assert_eq!(log.encryption, Encryption::MySql);
    assert_eq!(log.end_lsn(), Some(Lsn::new(l + 300)));
}

#[test]
fn mariadb_102_group_with_end_lsn_field() {
    let base = 8192 * 3;
    let mut ring = Ring::new(1, 1, "MariaDB 10.2.44", 2048 + 4 * 512, 3, base);
    let ck = base + 4 * 512 + 30;
    let ck_end = ck + 45;
    let end = base + 7 * 512 + 500;
    ring.write_log(base, end, |_| 3);
    ring.set_checkpoints(
        ring_checkpoint(8, ck, ring.real_offset(ck), ck_end),
        ring_checkpoint(7, base + 30, ring.real_offset(base + 30), base + 40),
    );
    let dir = tempfile::tempdir().unwrap();
    let log = open(&ring.write_to(dir.path())).unwrap();
    assert_eq!(log.format, RedoFormat::MariaDb102);
    assert_eq!(log.files.len(), 3);
    assert_eq!(log.checkpoint_lsn(), Lsn::new(ck));
    assert_eq!(log.checkpoint_end_lsn(), Some(Lsn::new(ck_end)));
    assert_eq!(log.end_lsn(), Some(Lsn::new(end)));
    assert_eq!(log.files[2].start_lsn, Lsn::new(base + 2 * 2048));
}

#[test]
fn mariadb_103_104_encrypted_flag() {
    for (word, fmt, enc) in [
        (103u32, RedoFormat::MariaDb103, Encryption::None),
        (
            104 | 0x8000_0000,
            RedoFormat::MariaDb104,
            Encryption::MariaDbBlock,
        ),
    ] {
        let base = 8192;
        let mut ring = Ring::new(word, 0, "MariaDB 10.4.34", 2048 + 4 * 512, 1, base);
        let ck = base + 12;
        ring.write_log(base, base + 600, |_| 0);
        ring.set_checkpoints([0; 512], ring_checkpoint(2, ck, ring.real_offset(ck), ck));
        let dir = tempfile::tempdir().unwrap();
        let log = open(&ring.write_to(dir.path())).unwrap();
        assert_eq!((log.format, log.encryption), (fmt, enc));
        assert_eq!(log.checkpoint.block_offset, 1536);
        assert_eq!(log.end_lsn(), Some(Lsn::new(base + 600)));
    }
}

#[test]
fn mariadb_105_single_file() {
    let base = 8192;
    let mut ring = Ring::new(0x5048_5953, 0, "MariaDB 10.5.27", 2048 + 16 * 512, 1, base);
    let ck = base + 3 * 512 + 77;
    let end = base + 5 * 512 + 12; // a block with only its header: empty
    ring.write_log(base, end, |_| 0);
    ring.set_checkpoints(
        ring_checkpoint(11, ck, ring.real_offset(ck), ck + 20),
        ring_checkpoint(10, base + 13, ring.real_offset(base + 13), base + 20),
    );
    let dir = tempfile::tempdir().unwrap();
    let p = ring.write_to(dir.path());
    // A leftover ib_logfile1 of another size is ignored by 10.5+.
    fs::write(dir.path().join("ib_logfile1"), [0u8; 1000]).unwrap();
    let log = open(&p).unwrap();
    assert_eq!(log.format.name(), "mariadb-10.5");
    assert_eq!(log.files.len(), 1);
    assert_eq!(log.checkpoint.checkpoint_no, Some(11));
    assert_eq!(log.checkpoint_end_lsn(), Some(Lsn::new(ck + 20)));
    assert_eq!(log.end_lsn(), Some(Lsn::new(end)));
}

#[test]
fn ring_errors() {
    let base = 8192;
    let dir = tempfile::tempdir().unwrap();
    // No valid checkpoint.
    let mut ring = Ring::new(1, 0, "MySQL 5.7.44", 2048 + 4 * 512, 1, base);
    ring.write_log(base, base + 100, |_| 0);
    let p = ring.write_to(dir.path());
    match open(&p) {
        Err(Error::Redo {
            offset: 512,
            source: RedoError::NoValidCheckpoint { blocks: 2, .. },
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    // Checkpoint offset inside the file header.
    ring.set_checkpoints(ring_checkpoint(1, base, 100, 0), [0; 512]);
    let p = ring.write_to(dir.path());
    assert!(matches!(
        open(&p),
        Err(Error::Redo {
            source: RedoError::BadGeometry { .. },
            ..
        })
    ));
    // Group files of different sizes.
    ring.set_checkpoints(ring_checkpoint(1, base, 2048, 0), [0; 512]);
    let p = ring.write_to(dir.path());
    fs::write(dir.path().join("ib_logfile1"), vec![0u8; 5120]).unwrap();
    assert!(matches!(open(&p), Err(Error::Layout { .. })));
    fs::remove_file(dir.path().join("ib_logfile1")).unwrap();
    // The block at the checkpoint is garbage: the end is unknown, not an error.
    let (f, o) = ring.place(base);
    ring.files[f][o..o + 512].fill(0xAB);
    let log = open(&ring.write_to(dir.path())).unwrap();
    assert_eq!(log.end_lsn(), None);
}

// ---------------------------------------------------------------------------------------------
// MySQL 8.0.30+.

struct RedoFileSpec {
    n: u32,
    start: u64,
    blocks: u64,
    checkpoints: [Option<u64>; 2],
}

/// Writes `#ib_redoN` files holding a log from `log_from` to `end` (epochs filled in).
fn write_8030(dir: &Path, uuid: u32, specs: &[RedoFileSpec], log_from: u64, end: u64) {
    for s in specs {
        let size = 2048 + s.blocks * 512;
        let mut f = vec![0u8; size as usize];
        let mut h = header(6, uuid, s.start, "MySQL 8.0.36");
        h[48..52].copy_from_slice(&0u32.to_be_bytes());
        seal(&mut h);
        f[..512].copy_from_slice(&h);
        for (i, c) in s.checkpoints.iter().enumerate() {
            if let Some(l) = c {
                let mut b = [0u8; 512];
                b[8..16].copy_from_slice(&l.to_be_bytes());
                seal(&mut b);
                let off = if i == 0 { 512 } else { 1536 };
                f[off..off + 512].copy_from_slice(&b);
            }
        }
        let mut l = s.start;
        while l < s.start + s.blocks * 512 {
            if l >= log_from - log_from % 512 && l < end {
                let len = (end - l).min(512) as u16;
                let epoch = ((l / 512) / HDR_NO_WRAP) as u32;
                let blk = data_block(l, len, epoch);
                let o = (2048 + l - s.start) as usize;
                f[o..o + 512].copy_from_slice(&blk);
            }
            l += 512;
        }
        fs::write(dir.join(format!("#ib_redo{}", s.n)), f).unwrap();
    }
}

#[test]
fn mysql_8030_files_and_checkpoint_selection() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().join("#innodb_redo");
    fs::create_dir(&dir).unwrap();
    let s5 = 8192;
    let s6 = s5 + 4 * 512;
    let ck = s6 + 600;
    let end = s6 + 3 * 512 + 50;
    write_8030(
        &dir,
        0x1234_5678,
        &[
            RedoFileSpec {
                n: 5,
                start: s5,
                blocks: 4,
                checkpoints: [Some(s5 + 100), None],
            },
            RedoFileSpec {
                n: 6,
                start: s6,
                blocks: 8,
                // The second block's LSN is past the file's range: invalid though its CRC is fine.
                checkpoints: [Some(ck), Some(s6 + 8 * 512 + 10)],
            },
        ],
        s5,
        end,
    );
    fs::write(dir.join("#ib_redo7_tmp"), [0xEEu8; 4096]).unwrap();
    for p in [
        data.path().to_path_buf(),
        dir.clone(),
        dir.join("#ib_redo5"),
    ] {
        let log = open(&p).unwrap();
        assert_eq!(log.format, RedoFormat::MySql8030);
        assert_eq!(log.files.len(), 2, "{}", p.display());
        assert_eq!(log.checkpoint_lsn(), Lsn::new(ck));
        assert_eq!(log.files[log.checkpoint_file].path, dir.join("#ib_redo6"));
        assert_eq!(log.start_lsn, Lsn::new(s6));
        assert_eq!(log.checkpoint.checkpoint_no, None);
        assert_eq!(log.end_lsn(), Some(Lsn::new(end)));
        assert_eq!(log.creator, "MySQL 8.0.36");
        let invalid: Vec<_> = log
            .checkpoints
            .iter()
            .filter(|s| s.checkpoint.is_err())
            .collect();
        assert_eq!(invalid.len(), 2);
    }
}

#[test]
fn mysql_8030_epoch_boundary_and_wrong_epoch() {
    let dir = tempfile::tempdir().unwrap();
    // Files straddling the first epoch change (block number 2^30).
    let boundary = 512 * HDR_NO_WRAP;
    let s1 = boundary - 6 * 512;
    let ck = s1 + 1000;
    let end = boundary + 2 * 512 + 109;
    write_8030(
        dir.path(),
        7,
        &[RedoFileSpec {
            n: 1,
            start: s1,
            blocks: 16,
            checkpoints: [Some(ck), Some(s1 + 20)],
        }],
        s1,
        end,
    );
    let log = open(dir.path()).unwrap();
    assert_eq!(log.checkpoint_lsn(), Lsn::new(ck));
    assert_eq!(log.end_lsn(), Some(Lsn::new(end)));
    // Rewrite the block after the boundary with epoch 0: the scan stops there.
    let p = dir.path().join("#ib_redo1");
    let mut f = fs::read(&p).unwrap();
    let o = (2048 + boundary - s1) as usize;
    let b = data_block(boundary, 512, 0);
    f[o..o + 512].copy_from_slice(&b);
    fs::write(&p, &f).unwrap();
    assert_eq!(
        open(dir.path()).unwrap().end_lsn(),
        Some(Lsn::new(boundary))
    );
}

#[test]
fn mysql_8030_uuid_mismatch_and_bad_start() {
    let dir = tempfile::tempdir().unwrap();
    let spec = |n, start| RedoFileSpec {
        n,
        start,
        blocks: 4,
        checkpoints: [Some(start + 10), None],
    };
    write_8030(dir.path(), 1, &[spec(1, 8192)], 8192, 8300);
    write_8030(dir.path(), 2, &[spec(2, 8192 + 2048)], 8192, 8300);
    assert!(matches!(
        open(dir.path()),
        Err(Error::Redo {
            source: RedoError::BadGeometry { .. },
            ..
        })
    ));
    let dir = tempfile::tempdir().unwrap();
    write_8030(dir.path(), 1, &[spec(1, 8192 + 1)], 8192, 8300);
    assert!(matches!(
        open(dir.path()),
        Err(Error::Redo {
            offset: 8,
            source: RedoError::BadField { .. },
            ..
        })
    ));
}

// ---------------------------------------------------------------------------------------------
// MariaDB 10.8+ hand-built.

fn mtr_bytes(records: &[u8], seq: u8, nonce: Option<[u8; 8]>) -> Vec<u8> {
    let mut v = records.to_vec();
    v.push(seq);
    let mut crc = crc32c::crc32c(records);
    if let Some(n) = nonce {
        v.extend_from_slice(&n);
        crc = crc32c::crc32c_append(crc, &n);
    }
    v.extend_from_slice(&crc.to_be_bytes());
    v
}

fn file_checkpoint(lsn: u64) -> Vec<u8> {
    let mut r = vec![0xFA, 0, 0];
    r.extend_from_slice(&lsn.to_be_bytes());
    r
}

struct Log108 {
    bytes: Vec<u8>,
    first: u64,
    cap: u64,
    nonce: Option<[u8; 8]>,
}

impl Log108 {
    fn new(word: u32, crypt: bool, first: u64, cap: u64, nonce: Option<[u8; 8]>) -> Log108 {
        let mut bytes = vec![0u8; (0x3000 + cap) as usize];
        let mut h = header(word, 0, first, "MariaDB 11.8.3");
        if crypt {
            h[48..52].copy_from_slice(&1u32.to_be_bytes());
            h[52..56].copy_from_slice(&1u32.to_be_bytes());
            h[56..72].copy_from_slice(&[0x5A; 16]);
            h[72..76].copy_from_slice(&[1, 2, 3, 4]);
            seal(&mut h);
        }
        bytes[..512].copy_from_slice(&h);
        Log108 {
            bytes,
            first,
            cap,
            nonce,
        }
    }

    fn seq(&self, lsn: u64) -> u8 {
        if ((lsn - self.first) / self.cap).is_multiple_of(2) {
            1
        } else {
            0
        }
    }

    /// Writes an mtr at `lsn` (circularly); returns its end LSN.
    fn put(&mut self, lsn: u64, records: &[u8]) -> u64 {
        let seq = self.seq(lsn + records.len() as u64);
        let m = mtr_bytes(records, seq, self.nonce);
        for (i, &b) in m.iter().enumerate() {
            let pos = (lsn - self.first + i as u64) % self.cap;
            self.bytes[(0x3000 + pos) as usize] = b;
        }
        lsn + m.len() as u64
    }

    fn checkpoint(&mut self, at: usize, lsn: u64, end: u64) {
        let mut b = [0u8; 64];
        b[0..8].copy_from_slice(&lsn.to_be_bytes());
        b[8..16].copy_from_slice(&end.to_be_bytes());
        let crc = crc32c::crc32c(&b[..60]);
        b[60..].copy_from_slice(&crc.to_be_bytes());
        self.bytes[at..at + 64].copy_from_slice(&b);
    }
}

#[test]
fn mariadb_108_wrap_around_scan() {
    let first = 0x3000;
    let cap = 300;
    let mut log = Log108::new(0x5068_7973, false, first, cap, None);
    // Lap 1 (sequence bit 0) leaves a background of valid-looking small mtrs; the live log
    // starts on lap 2 (bit 1) and wraps into lap 3 (bit 0), where it meets that background.
    let mut l = first + cap;
    while l + 10 <= first + 2 * cap {
        l = log.put(l, &[0x34, 0x00, 0x07, 0x35, 0x0B]);
    }
    let ck = first + 2 * cap + 200; // lap 2, area position 200
    let ck_end = log.put(ck, &[0xB5, 0x05, 0x00, b'a', b'.', b'i']);
    let mut e = log.put(ck_end, &file_checkpoint(ck));
    for i in 0..6u8 {
        // Crosses the end of the area at some point and continues at position 0.
        e = log.put(e, &[0x34, 0x00, i + 1, 0x35, 0x0B, 0x12, 0x00, 0x08]);
    }
    assert!(e - first > 3 * cap, "the log must wrap");
    log.checkpoint(0x1000, ck, ck_end);
    log.checkpoint(0x2000, first + cap + 10, first + cap + 10);
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("ib_logfile0");
    fs::write(&p, &log.bytes).unwrap();
    let r = open(&p).unwrap();
    assert_eq!(r.checkpoint_lsn(), Lsn::new(ck));
    assert_eq!(r.checkpoint_end_lsn(), Some(Lsn::new(ck_end)));
    assert_eq!(r.end_lsn(), Some(Lsn::new(e)));
    match r.end {
        LogEnd::Scanned { units, .. } => assert_eq!(units, 8),
        other => panic!("{other:?}"),
    }

    // A log ending at a bad CRC: flip a record byte of the third WRITE mtr.
    let mut bad = log.bytes.clone();
    let third_write = {
        let mut s = ck_end + 16;
        for _ in 0..2 {
            s += 8 + 5;
        }
        s
    };
    let pos = (0x3000 + (third_write + 2 - first) % cap) as usize;
    bad[pos] ^= 0x01;
    fs::write(&p, &bad).unwrap();
    let r = open(&p).unwrap();
    assert_eq!(r.end_lsn(), Some(Lsn::new(third_write)));
    assert!(matches!(
        r.end,
        LogEnd::Scanned {
            stop: StopReason::Mtr(ScanStop::Checksum { .. }),
            ..
        }
    ));

    // The checkpoint's end LSN pointing elsewhere: the area is not this log.
    log.checkpoint(0x1000, ck, ck_end + 1);
    fs::write(&p, &log.bytes).unwrap();
    assert_eq!(open(&p).unwrap().end_lsn(), None);
}

#[test]
fn mariadb_108_encrypted_headers() {
    let nonce = Some(0x0000_0000_00E9_6BEFu64.to_be_bytes());
    for (word, crypt, enc) in [
        (0x5068_7973u32, true, Encryption::MariaDb108),
        (0xF09F_979D, false, Encryption::MariaDbEnc11),
        (0xF09F_979D, true, Encryption::MariaDbEnc11),
    ] {
        let first = 0x3000;
        let mut log = Log108::new(word, crypt, first, 4096, nonce);
        let ck = first + 1000;
        // Records after their first byte/length are "encrypted": arbitrary bytes.
        let ck_end = log.put(ck, &[0xB5, 0x9E, 0x13, 0x77, 0x01, 0xC4]);
        let mut e = log.put(
            ck_end,
            &[
                0xFA, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xAA,
            ],
        );
        assert_eq!(e - ck_end, 16 + 8, "SIZE_OF_FILE_CHECKPOINT + nonce");
        e = log.put(e, &[0x34, 0xFE, 0xDC, 0xBA, 0x98]);
        log.checkpoint(0x1000, ck, ck_end);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ib_logfile0");
        fs::write(&p, &log.bytes).unwrap();
        let r = open(&p).unwrap();
        assert_eq!(r.format, RedoFormat::MariaDb108);
        assert_eq!(r.format_word, word);
        assert_eq!(r.encryption, enc);
        assert_eq!(r.end_lsn(), Some(Lsn::new(e)));
        let h = fs::read(&p).unwrap();
        let hdr = FileHeader::parse(&h).unwrap();
        assert_eq!(hdr.mariadb_key_id(), Some(u32::from(crypt)));
    }
}

#[test]
fn mariadb_108_header_bit31_is_not_encryption() {
    // 0xD0687973 ("Phys" with bit 31) is not a valid 10.8+ word.
    let mut h = header(0x5068_7973 | 0x8000_0000, 0, 0x3000, "MariaDB 10.11.19");
    seal(&mut h);
    assert_eq!(
        FileHeader::parse(&h).unwrap_err(),
        RedoError::UnknownFormat { word: 0xD068_7973 }
    );
}

#[test]
fn spec_mtr_examples_from_the_real_log() {
    // FILE_CHECKPOINT example of §6.6.
    let m = mtr_bytes(&[0xFA, 0, 0, 0, 0, 0, 0, 0, 0, 0x30, 0], 1, None);
    assert_eq!(
        m,
        [0xFA, 0, 0, 0, 0, 0, 0, 0, 0, 0x30, 0, 0x01, 0x1F, 0xEC, 0x1A, 0x80]
    );
    // backup/full's mtr, from FACTS.md.
    let m = mtr_bytes(&file_checkpoint(2_500_178), 1, None);
    assert_eq!(m[12..], [0xC9, 0x0D, 0x1D, 0x14]);
    // The WRITE example.
    let w = mtr_bytes(&[0x34, 0x00, 0x07, 0x35, 0x0B], 1, None);
    assert_eq!(w[6..], [0xC1, 0xA2, 0x38, 0x7B]);
    let g = LogGeometry::new(Lsn::new(0x3000), 1 << 20, false).unwrap();
    let mut area = w.clone();
    area.push(0);
    let mut r = MtrReader::new(&area[..], g, Lsn::new(0x3000)).unwrap();
    let got = r.next_mtr().unwrap().unwrap();
    assert_eq!(got.checksum(), 0xC1A2_387B);
    assert_eq!(got.end_lsn(), Lsn::new(0x3000 + 10));
}

#[test]
fn spec_varint_vectors() {
    let v: &[(u32, &[u8])] = &[
        (0x7F, &[0x7F]),
        (0x80, &[0x80, 0x00]),
        (0x407F, &[0xBF, 0xFF]),
        (0x4080, &[0xC0, 0x00, 0x00]),
        (0x20407F, &[0xDF, 0xFF, 0xFF]),
        (0x204080, &[0xE0, 0x00, 0x00, 0x00]),
        (0x1020407F, &[0xEF, 0xFF, 0xFF, 0xFF]),
        (0x10204080, &[0xF0, 0x00, 0x00, 0x00, 0x00]),
        (0xFFFFFFFF, &[0xF0, 0xEF, 0xDF, 0xBF, 0x7F]),
    ];
    for &(val, enc) in v {
        assert_eq!(mtr::decode_varint(enc), Ok((val, enc.len())));
        let (b, n) = mtr::encode_varint(val);
        assert_eq!(&b[..n], enc);
    }
}

// ---------------------------------------------------------------------------------------------
// Never panic.

fn valid_108_file() -> Vec<u8> {
    let mut log = Log108::new(0x5068_7973, false, 0x3000, 200, None);
    let ck = 0x3000 + 20;
    let e = log.put(ck, &file_checkpoint(ck));
    log.put(e, &[0x34, 0x00, 0x07, 0x35, 0x0B]);
    log.checkpoint(0x1000, ck, ck);
    log.bytes
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..3000),
                                   first in any::<u64>(), cap in any::<u64>(), start in any::<u64>(),
                                   nonce in any::<bool>()) {
        let _ = FileHeader::parse(&data).map(|h| (h.creator(), h.encryption(), h.format()));
        for f in RedoFormat::ALL {
            let _ = checkpoint::parse(f, &data, 0, Lsn::new(first), Some(cap));
        }
        let _ = innodb_page::redo::block::LogBlock::new(&data).map(|b| b.checksum());
        if let Ok(g) = LogGeometry::new(Lsn::new(first), cap, nonce) {
            let _ = mtr::scan_to_end(&data[..], g, Lsn::new(start), Some(Lsn::new(start)), true);
            if let Ok(mut r) = MtrReader::new(&data[..], g, Lsn::new(start)) {
                for _ in 0..64 {
                    match r.next_mtr() {
                        Ok(Some(m)) => { let _ = m.records().count(); let _ = m.is_padding(); }
                        _ => break,
                    }
                }
            }
        }
        let _ = mtr::Records::new(&data).count();
    }

    #[test]
    fn decrypting_arbitrary_records_never_panics(data in proptest::collection::vec(any::<u8>(), 0..600),
                                                 key in any::<[u8; 16]>(), nonce in any::<[u8; 8]>(),
                                                 ctr in any::<bool>(), old in any::<bool>()) {
        use innodb_page::crypto::cipher::Mode;
        use innodb_page::redo::crypt::{check_structure, LogCipher, LogKey};
        let mode = if ctr { Mode::Ctr } else { Mode::Cbc };
        let style = if old { Encryption::MariaDb108 } else { Encryption::MariaDbEnc11 };
        let c = LogCipher::new(LogKey::from_bytes(key), mode, style).unwrap();
        let (mut plain, mut back) = (Vec::new(), Vec::new());
        if c.decrypt_records(&data, &nonce, &mut plain).is_ok() {
            prop_assert_eq!(plain.len(), data.len());
            let _ = check_structure(&plain);
            let _ = c.confirms_checkpoint(&data, &nonce, Lsn::new(0x3000));
            // Encryption is its inverse whenever the plaintext frames the same way.
            if c.encrypt_records(&plain, &nonce, &mut back).is_ok() {
                prop_assert_eq!(&back, &data);
            }
        }
    }

    #[test]
    fn mutated_valid_header_never_panics(edits in proptest::collection::vec((0usize..512, any::<u8>()), 1..8),
                                         reseal in any::<bool>()) {
        let mut f = valid_108_file();
        for (i, b) in edits { f[i] = b; }
        if reseal { seal(&mut f[..512]); }
        let _ = FileHeader::parse(&f).map(|h| (h.creator(), h.encryption(), h.start_lsn()));
    }

    #[test]
    fn mutated_valid_file_opens_or_errors(edits in proptest::collection::vec((0usize..12488, any::<u8>()), 1..6),
                                          cut in 0usize..12500) {
        let mut f = valid_108_file();
        for (i, b) in edits { f[i] = b; }
        seal(&mut f[..512]);
        f.truncate(cut.max(1));
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ib_logfile0");
        fs::write(&p, &f).unwrap();
        if let Ok(log) = open(&p) {
            // A successful open always has a sane end, if any.
            if let Some(e) = log.end_lsn() { prop_assert!(e >= log.checkpoint_lsn()); }
        }
    }
}
