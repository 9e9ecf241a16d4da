//! `xb track` on a hand-built MariaDB 10.8+ log (no server needed) holding a mini-transaction
//! whose CRC is valid but whose first record is malformed: the tracker records a gap over it
//! (`GAP`, exit status 1) and goes on; the bitmap query of an incremental across the gap is
//! refused (the backup scans), while ranges after it are answered, also after a restart.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::process::Command;

use incremental_core::backup::bitmap_source::query;
use innodb_page::checksum::crc32c;
use innodb_page::redo::mtr::LogGeometry;
use innodb_page::Lsn;

const START: u64 = 0x3000;

/// Length of the `FILE_CHECKPOINT` mtr `checkpoint_here` writes.
const FC: u64 = 16;

/// A plain log in `dir/ib_logfile0`, written the way the server writes it.
struct Log {
    file: File,
    geom: LogGeometry,
    end: u64,
    slot: bool,
}

impl Log {
    fn create(dir: &Path, first_lsn: u64, capacity: u64) -> Log {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(dir.join("ib_logfile0"))
            .unwrap();
        file.set_len(START + capacity).unwrap();
        let mut h = vec![0u8; 512];
        h[0..4].copy_from_slice(b"Phys");
        h[8..16].copy_from_slice(&first_lsn.to_be_bytes());
        h[16..32].copy_from_slice(b"MariaDB 10.11.19");
        let crc = crc32c(&h[..508]);
        h[508..].copy_from_slice(&crc.to_be_bytes());
        file.write_all_at(&h, 0).unwrap();
        let mut l = Log {
            file,
            geom: LogGeometry::new(Lsn::new(first_lsn), capacity, false).unwrap(),
            end: first_lsn,
            slot: false,
        };
        l.checkpoint_here();
        l
    }

    /// Appends an mtr of `records` (end byte, CRC, then a 0 byte after it); returns its end.
    fn append(&mut self, records: &[u8]) -> u64 {
        let start = self.end;
        let mut m = records.to_vec();
        let end_byte = Lsn::new(start + records.len() as u64);
        m.push(self.geom.sequence_bit(end_byte).unwrap());
        m.extend_from_slice(&crc32c(records).to_be_bytes());
        self.end += m.len() as u64;
        m.push(0);
        for (i, b) in m.iter().enumerate() {
            let pos = (start + i as u64 - self.geom.first_lsn().get()) % self.geom.capacity();
            self.file.write_all_at(&[*b], START + pos).unwrap();
        }
        self.end
    }

    /// A WRITE to (space, page); returns the mtr's end LSN (the page's new LSN).
    fn write(&mut self, space: u8, page: u8) -> u64 {
        self.append(&[0x34, space, page, 0x20, 0xAB])
    }

    /// A checkpoint at the current end, then its FILE_CHECKPOINT mtr; returns its LSN.
    fn checkpoint_here(&mut self) -> u64 {
        let c = self.end;
        let mut rec = vec![0xFA, 0, 0];
        rec.extend_from_slice(&c.to_be_bytes());
        self.append(&rec);
        let mut b = [0u8; 64];
        b[0..8].copy_from_slice(&c.to_be_bytes());
        b[8..16].copy_from_slice(&c.to_be_bytes());
        let crc = crc32c(&b[..60]);
        b[60..].copy_from_slice(&crc.to_be_bytes());
        let off = if self.slot { 0x2000 } else { 0x1000 };
        self.slot = !self.slot;
        self.file.write_all_at(&b, off).unwrap();
        c
    }
}

fn track_once(dd: &Path, bm: &Path) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_xb"))
        .args(["track", "--once", "--no-sync", "--datadir"])
        .arg(dd)
        .arg("--bitmap-dir")
        .arg(bm)
        .output()
        .expect("run xb");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

/// The pages the incremental's bitmap query finds in `[a, b]`, or why it scans. Page 0 of the
/// system tablespace is left out: it marks runs of an idle pass, and a restart carries the
/// pages of the last run into the next one.
fn pages(bm: &Path, a: u64, b: u64) -> Result<Vec<(u32, u32)>, String> {
    let c = query(bm, Lsn::new(a), Lsn::new(b))?;
    Ok(c.spaces()
        .flat_map(|(s, set)| set.iter().map(move |p| (s, p)).collect::<Vec<_>>())
        .filter(|&p| p != (0, 0))
        .collect())
}

#[test]
fn a_malformed_record_is_a_gap_and_tracking_goes_on() {
    let dd = tempfile::tempdir().unwrap();
    let bm = tempfile::tempdir().unwrap();
    let (dd, bm) = (dd.path(), bm.path());
    let mut log = Log::create(dd, START, 1 << 16);
    let (code, out) = track_once(dd, bm);
    assert_eq!(code, 0, "{out}");
    let x = log.write(1, 1);
    log.checkpoint_here();
    // Page (2, 2) changes, then an mtr whose CRC is valid and whose first record is a
    // same-page record before any page record, then page (3, 3) changes.
    let y = log.write(2, 2);
    let bad = log.append(&[0xC1, 0x00, 0x34, 9, 9, 0x20, 0xAB]);
    let z = log.write(3, 3);
    let c = log.checkpoint_here();
    let (code, out) = track_once(dd, bm);
    assert_eq!(code, 1, "a gap was recorded: {out}");
    assert!(out.contains("GAP"), "{out}");
    assert!(out.contains(&format!("LSN {bad}")), "{out}");
    assert!(out.contains("malformed"), "{out}");
    assert!(out.contains(&format!("tracked to LSN {}", c + FC)), "{out}");
    // The incremental's query: answered before the gap and after it, refused across it.
    assert_eq!(pages(bm, x, y).unwrap(), [(1, 1), (2, 2)]);
    for from in [x, y, bad] {
        let why = pages(bm, from, z).unwrap_err();
        assert!(why.contains("missing"), "{why}");
    }
    assert_eq!(pages(bm, bad + 1, z).unwrap(), [(3, 3)]);
    // Restarted: resumes after the gap without another one, and tracks what follows.
    let w = log.write(4, 4);
    log.checkpoint_here();
    let (code, out) = track_once(dd, bm);
    assert_eq!(code, 0, "{out}");
    assert_eq!(pages(bm, z, w).unwrap(), [(3, 3), (4, 4)]);
}
