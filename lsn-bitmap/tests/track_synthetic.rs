//! The tracker's run boundaries, restarts and gaps on a synthetic MariaDB 10.8+ log written the
//! way the server writes it (no server needed): a page whose LSN is exactly a run boundary is
//! in the run starting there, also after a restart; a fresh start at `P` does not claim `P`;
//! an overwritten log is a gap readers refuse.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::Path;

use innodb_page::progress::NoProgress;
use innodb_page::redo::mtr::LogGeometry;
use innodb_page::Lsn;
use lsn_bitmap::track::{TrackOptions, Tracker};
use lsn_bitmap::{BitmapDir, Error, WriterOptions};

const START: u64 = 0x3000;

/// A log in `dir/ib_logfile0`: header, checkpoint blocks, mtrs written circularly.
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
        let crc = crc32c::crc32c(&h[..508]);
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

    fn append(&mut self, records: &[u8]) -> u64 {
        let start = self.end;
        let mut m = records.to_vec();
        m.push(
            self.geom
                .sequence_bit(Lsn::new(start + records.len() as u64))
                .unwrap(),
        );
        m.extend_from_slice(&crc32c::crc32c(records).to_be_bytes());
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

    /// A checkpoint at the current end (then its FILE_CHECKPOINT mtr); returns its LSN.
    fn checkpoint_here(&mut self) -> u64 {
        let c = self.end;
        let mut rec = vec![0xFA, 0, 0];
        rec.extend_from_slice(&c.to_be_bytes());
        self.append(&rec);
        let mut b = [0u8; 64];
        b[0..8].copy_from_slice(&c.to_be_bytes());
        b[8..16].copy_from_slice(&c.to_be_bytes());
        let crc = crc32c::crc32c(&b[..60]);
        b[60..].copy_from_slice(&crc.to_be_bytes());
        let off = if self.slot { 0x2000 } else { 0x1000 };
        self.slot = !self.slot;
        self.file.write_all_at(&b, off).unwrap();
        c
    }
}

/// Length of the `FILE_CHECKPOINT` mtr `checkpoint_here` writes: runs go up to its end, which
/// the server makes durable before the checkpoint block.
const FC: u64 = 16;

fn opts(dd: &Path, bm: &Path) -> TrackOptions {
    TrackOptions::new(dd, bm).writer(WriterOptions::default().sync(false))
}

fn pages(bm: &Path, a: u64, b: u64) -> Result<Vec<(u32, u32)>, Error> {
    let c = BitmapDir::open(bm)?.changed_pages(Lsn::new(a), Lsn::new(b))?;
    Ok(c.spaces()
        .flat_map(|(s, set)| set.iter().map(move |p| (s, p)).collect::<Vec<_>>())
        .collect())
}

#[test]
fn boundaries_restarts_and_gaps() {
    let dd = tempfile::tempdir().unwrap();
    let bm = tempfile::tempdir().unwrap();
    let (dd, bm) = (dd.path(), bm.path());
    let mut log = Log::create(dd, START, 4096);
    let p = log.end - 16; // the checkpoint (its FILE_CHECKPOINT mtr follows it)
    let o = opts(dd, bm);
    let mut t = Tracker::open(&o, &NoProgress).unwrap();
    assert_eq!(
        t.tracked_lsn().get(),
        p + 1,
        "a fresh start at P names its file P + 1"
    );
    let files = BitmapDir::open(bm).unwrap();
    assert_eq!(files.files()[0].name.start_lsn.get(), p + 1);

    // Page (1, 1) changes at X, the next checkpoint.
    let x = log.write(1, 1);
    assert_eq!(log.checkpoint_here(), x);
    assert!(t.pass(&NoProgress).unwrap());
    assert_eq!(t.tracked_lsn().get(), x + FC);
    // Page (2, 2) at Y; checkpoint at Y.
    log.write(2, 2);
    let y2 = log.write(2, 3);
    assert_eq!(log.checkpoint_here(), y2);
    t.pass(&NoProgress).unwrap();
    assert_eq!(t.tracked_lsn().get(), y2 + FC);
    // A backup whose threshold is X copies page (1, 1) (LSN X): the run from X has it.
    assert_eq!(pages(bm, x, y2).unwrap(), [(1, 1), (2, 2), (2, 3)]);
    assert_eq!(pages(bm, p + 1, x).unwrap(), [(1, 1)]);
    // Nothing was read before P + 1: a query from P is refused (the backup scans).
    assert!(matches!(
        pages(bm, p, y2),
        Err(Error::StartNotCovered { .. })
    ));

    // kill -9 and restart: resumed at Y2 + FC without a gap. The pages of the mtr ending there
    // are not known apart from the last run's, so the next run carries all of those (a
    // superset).
    drop(t);
    let mut t = Tracker::open(&o, &NoProgress).unwrap();
    assert!(t.report().resumed);
    assert_eq!(t.tracked_lsn().get(), y2 + FC);
    let z = log.write(3, 3);
    assert_eq!(log.checkpoint_here(), z);
    t.pass(&NoProgress).unwrap();
    assert_eq!(pages(bm, y2, z).unwrap(), [(2, 2), (2, 3), (3, 3)]);
    assert_eq!(pages(bm, x, z).unwrap().len(), 4);

    // Paused while the server writes two laps (checkpointing as it goes): a gap, recorded as
    // a new file; ranges across it are refused, ranges after it answered.
    let at = t.read_lsn().get();
    let mut n = 0u8;
    while log.end < at + 2 * 4096 {
        log.write(4, n % 100);
        n = n.wrapping_add(1);
        if n.is_multiple_of(20) {
            log.checkpoint_here();
        }
    }
    let c = log.checkpoint_here();
    assert!(!t.pass(&NoProgress).unwrap(), "the pass records a gap");
    assert_eq!(t.report().gaps, 1);
    assert_eq!(t.tracked_lsn().get(), c + 1);
    let w = log.write(5, 5);
    assert_eq!(log.checkpoint_here(), w);
    t.pass(&NoProgress).unwrap();
    assert!(matches!(pages(bm, x, w), Err(Error::LsnGap { .. })));
    assert_eq!(pages(bm, c + 1, w).unwrap(), [(5, 5)]);
    let names: Vec<u64> = BitmapDir::open(bm)
        .unwrap()
        .files()
        .iter()
        .map(|f| f.name.start_lsn.get())
        .collect();
    assert_eq!(names, [p + 1, y2 + FC, c + 1]);
}

#[test]
fn resume_after_the_log_was_overwritten_is_a_gap_and_a_restored_server_is_refused() {
    let dd = tempfile::tempdir().unwrap();
    let bm = tempfile::tempdir().unwrap();
    let (dd, bm) = (dd.path(), bm.path());
    let mut log = Log::create(dd, START, 4096);
    let o = opts(dd, bm);
    let mut t = Tracker::open(&o, &NoProgress).unwrap();
    let x = log.write(1, 1);
    log.checkpoint_here();
    t.pass(&NoProgress).unwrap();
    assert_eq!(t.tracked_lsn().get(), x + FC);
    drop(t);
    // While no tracker runs, the server writes more than the log holds.
    for i in 0..2000u32 {
        log.write(2, (i % 100) as u8);
        if i.is_multiple_of(50) {
            log.checkpoint_here();
        }
    }
    let c = log.checkpoint_here();
    let t = Tracker::open(&o, &NoProgress).unwrap();
    let r = t.report();
    assert!(!r.resumed);
    assert_eq!(r.gaps, 1);
    assert_eq!(t.tracked_lsn().get(), c + 1);
    drop(t);

    // A datadir restored from an older backup: its LSN is below the bitmaps'.
    let old = tempfile::tempdir().unwrap();
    Log::create(old.path(), START, 4096);
    let e = Tracker::open(&opts(old.path(), bm), &NoProgress).unwrap_err();
    assert!(e.to_string().contains("restored or replaced"), "{e}");
}

#[test]
fn a_log_rebuilt_where_the_old_one_ended_resumes_and_one_beyond_is_a_gap() {
    let dd = tempfile::tempdir().unwrap();
    let bm = tempfile::tempdir().unwrap();
    let (dd, bm) = (dd.path(), bm.path());
    let mut log = Log::create(dd, START, 4096);
    let o = opts(dd, bm);
    let mut t = Tracker::open(&o, &NoProgress).unwrap();
    let x = log.write(1, 1);
    log.checkpoint_here();
    t.pass(&NoProgress).unwrap();
    // A clean shutdown: a last checkpoint whose FILE_CHECKPOINT mtr changes no page. The run
    // up to its end flags nothing, so it is written by `finish` (as `track` does on return).
    log.checkpoint_here();
    t.pass(&NoProgress).unwrap();
    assert_eq!(t.tracked_lsn().get(), log.end);
    t.finish(&NoProgress).unwrap();
    drop(t);
    // The server rebuilds its log at start (a new size): it begins where the old one ended.
    let shutdown_end = log.end;
    let mut log = Log::create(dd, shutdown_end, 8192);
    let t = Tracker::open(&o, &NoProgress).unwrap();
    let r = t.report();
    assert!(r.resumed && r.gaps == 0, "{r:?}");
    assert_eq!(t.tracked_lsn().get(), shutdown_end);
    drop(t);
    assert_eq!(pages(bm, x, shutdown_end).unwrap(), [(0, 0), (1, 1)]);

    // The server writes while no tracker runs, then rebuilds its log: that redo is lost.
    log.write(2, 2);
    log.checkpoint_here();
    Log::create(dd, log.end, 4096);
    let t = Tracker::open(&o, &NoProgress).unwrap();
    let r = t.report();
    assert!(!r.resumed && r.gaps == 1, "{r:?}");
}

/// Collects the gaps a tracker reports.
#[derive(Default)]
struct Gaps(std::sync::Mutex<Vec<(Option<u64>, u64, String)>>);

impl innodb_page::progress::Progress for Gaps {
    fn event(&self, e: innodb_page::progress::Event<'_>) {
        if let innodb_page::progress::Event::TrackGap { from, to, reason } = e {
            self.0
                .lock()
                .unwrap()
                .push((from.map(Lsn::get), to.get(), reason.to_string()));
        }
    }
}

#[test]
fn a_malformed_record_in_a_valid_mtr_is_a_gap_and_tracking_goes_on() {
    let dd = tempfile::tempdir().unwrap();
    let bm = tempfile::tempdir().unwrap();
    let (dd, bm) = (dd.path(), bm.path());
    let mut log = Log::create(dd, START, 1 << 16);
    let p = log.end - FC;
    let mut t = Tracker::open(&opts(dd, bm), &NoProgress).unwrap();
    let x = log.write(1, 1);
    log.checkpoint_here();
    assert!(t.pass(&NoProgress).unwrap());
    // Page (2, 2) changes, then an mtr with a valid CRC whose first record is malformed (a
    // same-page record before any page record), then page (3, 3) changes.
    let y = log.write(2, 2);
    let bad = log.append(&[0xC1, 0x00, 0x34, 9, 9, 0x20, 0xAB]);
    let z = log.write(3, 3);
    let c = log.checkpoint_here();
    let gaps = Gaps::default();
    assert!(t.pass(&gaps).unwrap(), "the tracker goes on");
    assert_eq!(t.report().gaps, 1);
    assert_eq!(t.tracked_lsn().get(), c + FC);
    let seen = gaps.0.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!((seen[0].0, seen[0].1), (Some(y), bad + 1));
    assert!(seen[0].2.contains(&format!("LSN {bad}")), "{}", seen[0].2);
    assert!(seen[0].2.contains("malformed"), "{}", seen[0].2);
    // Before it: answered. Across it: refused (the incremental scans). After it: answered.
    assert_eq!(pages(bm, x, y).unwrap(), [(1, 1), (2, 2)]);
    assert!(matches!(pages(bm, x, z), Err(Error::LsnGap { .. })));
    assert!(matches!(pages(bm, y, z), Err(Error::LsnGap { .. })));
    assert!(matches!(pages(bm, bad, z), Err(Error::LsnGap { .. })));
    assert_eq!(pages(bm, bad + 1, z).unwrap(), [(3, 3)]);
    // Changes after it are tracked as before.
    let w = log.write(4, 4);
    log.checkpoint_here();
    assert!(t.pass(&NoProgress).unwrap());
    assert_eq!(pages(bm, z, w).unwrap(), [(3, 3), (4, 4)]);
    t.finish(&NoProgress).unwrap();
    let names: Vec<u64> = BitmapDir::open(bm)
        .unwrap()
        .files()
        .iter()
        .map(|f| f.name.start_lsn.get())
        .collect();
    assert_eq!(names, [p + 1, bad + 1]);
}
