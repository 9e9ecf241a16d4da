//! Each reason a range cannot be answered gives its own error; tails the server would cut
//! off are ignored when they are not needed.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use innodb_page::Lsn;
use lsn_bitmap::{
    BitmapDir, BitmapWriter, BlockBuf, ChangedPages, DirProblem, Error, RunProblem, Tail,
    WriterOptions, BLOCK_SIZE,
};

const OPTS: WriterOptions = WriterOptions::new().max_file_size(1 << 30).sync(false);

fn pages(list: &[(u32, u32)]) -> ChangedPages {
    let mut c = ChangedPages::new();
    for &(s, p) in list {
        c.insert(s, p);
    }
    c
}

fn l(v: u64) -> Lsn {
    Lsn::new(v)
}

/// Three files, restarts without gaps: file 1 [100, 300], file 2 [300, 500], file 3 [500, 700];
/// runs of two blocks each (spaces 1 and 2) ending every 100.
fn three_files(dir: &Path) -> Vec<PathBuf> {
    let mut paths = Vec::new();
    let mut w = BitmapWriter::open(dir, OPTS).unwrap();
    paths.push(w.start_file(l(100)).unwrap());
    for end in [200u64, 300] {
        w.write_run(l(end), &pages(&[(1, end as u32), (2, 1)]))
            .unwrap();
    }
    for start in [300u64, 500] {
        drop(w);
        w = BitmapWriter::open(dir, OPTS).unwrap();
        assert_eq!(w.recovery().last_tracked_lsn, Some(l(start)));
        paths.push(w.start_file(l(start)).unwrap());
        for end in [start + 100, start + 200] {
            w.write_run(l(end), &pages(&[(1, end as u32), (2, 1)]))
                .unwrap();
        }
    }
    paths
}

#[test]
fn full_history_is_answered() {
    let dir = tempfile::tempdir().unwrap();
    three_files(dir.path());
    let d = BitmapDir::open(dir.path()).unwrap();
    let got = d.changed_pages(l(150), l(650)).unwrap();
    let s1: Vec<u32> = got.space(1).unwrap().iter().collect();
    assert_eq!(s1, vec![200, 300, 400, 500, 600, 700]);
    // A run ending exactly at start is not included; the run ending at end is the last.
    let got = d.changed_pages(l(300), l(400)).unwrap();
    assert_eq!(got.space(1).unwrap().iter().collect::<Vec<_>>(), vec![400]);
    let stats = d.visit_blocks(l(300), l(400), |_| {}).unwrap();
    assert_eq!((stats.runs, stats.blocks), (1, 2));
    assert!(d.verify().unwrap().is_clean());
}

#[test]
fn invalid_and_empty_ranges() {
    let dir = tempfile::tempdir().unwrap();
    three_files(dir.path());
    let d = BitmapDir::open(dir.path()).unwrap();
    assert!(matches!(
        d.changed_pages(l(5), l(4)),
        Err(Error::InvalidRange { .. })
    ));
    assert!(d.changed_pages(l(9999), l(9999)).unwrap().is_empty());
}

#[test]
fn missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let paths = three_files(dir.path());
    std::fs::remove_file(&paths[1]).unwrap();
    let d = BitmapDir::open(dir.path()).unwrap();
    match d.changed_pages(l(150), l(650)) {
        Err(Error::MissingFile { seq, previous }) => {
            assert_eq!(seq, 2);
            assert_eq!(previous, paths[0]);
        }
        other => panic!("{other:?}"),
    }
    // Ranges inside one remaining file still work.
    assert!(d.changed_pages(l(550), l(650)).is_ok());
    assert!(d.changed_pages(l(100), l(250)).is_ok());
    // verify reports the hole.
    let report = d.verify().unwrap();
    assert!(matches!(
        report.problems[..],
        [Error::MissingFile { seq: 2, .. }]
    ));
}

#[test]
fn first_file_starts_after_start() {
    let dir = tempfile::tempdir().unwrap();
    let paths = three_files(dir.path());
    let d = BitmapDir::open(dir.path()).unwrap();
    match d.changed_pages(l(50), l(250)) {
        Err(Error::StartNotCovered {
            start,
            first_lsn,
            file,
        }) => {
            assert_eq!((start, first_lsn), (l(50), l(100)));
            assert_eq!(file, paths[0]);
        }
        other => panic!("{other:?}"),
    }
    // Purged first file: the earliest remaining starts at 300.
    std::fs::remove_file(&paths[0]).unwrap();
    let d = BitmapDir::open(dir.path()).unwrap();
    assert!(matches!(
        d.changed_pages(l(150), l(650)),
        Err(Error::StartNotCovered { first_lsn, .. }) if first_lsn == l(300)
    ));
    assert!(d.changed_pages(l(300), l(650)).is_ok());
}

#[test]
fn no_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = BitmapDir::open(dir.path()).unwrap();
    assert!(matches!(
        d.changed_pages(l(1), l(2)),
        Err(Error::NoBitmapFiles { .. })
    ));
    assert!(d.changed_pages(l(2), l(2)).unwrap().is_empty());
}

#[test]
fn incomplete_last_run() {
    let dir = tempfile::tempdir().unwrap();
    let paths = three_files(dir.path());
    // Drop the last block (with the last-block flag) of the last run of file 3.
    let len = std::fs::metadata(&paths[2]).unwrap().len();
    OpenOptions::new()
        .write(true)
        .open(&paths[2])
        .unwrap()
        .set_len(len - BLOCK_SIZE as u64)
        .unwrap();
    let d = BitmapDir::open(dir.path()).unwrap();
    match d.changed_pages(l(150), l(700)) {
        Err(Error::IncompleteRun {
            path,
            offset,
            start_lsn,
            end_lsn,
        }) => {
            assert_eq!(path, paths[2]);
            assert_eq!(offset, 2 * BLOCK_SIZE as u64);
            assert_eq!((start_lsn, end_lsn), (l(600), l(700)));
        }
        other => panic!("{other:?}"),
    }
    // Up to the last complete run it is fine: the tail is ignored.
    assert!(d.changed_pages(l(150), l(600)).is_ok());
    let report = d.verify().unwrap();
    assert!(report.is_clean());
    assert!(matches!(
        report.files[2].tail,
        Some(Tail::IncompleteRun { .. })
    ));
}

#[test]
fn corrupt_block() {
    let dir = tempfile::tempdir().unwrap();
    let paths = three_files(dir.path());
    // Flip a bitmap byte in the second block of file 2 (a middle block, not a tail).
    let mut bytes = std::fs::read(&paths[1]).unwrap();
    bytes[BLOCK_SIZE + 100] ^= 0x10;
    std::fs::write(&paths[1], &bytes).unwrap();
    let d = BitmapDir::open(dir.path()).unwrap();
    match d.changed_pages(l(150), l(650)) {
        Err(Error::CorruptBlock { path, offset, .. }) => {
            assert_eq!(path, paths[1]);
            assert_eq!(offset, BLOCK_SIZE as u64);
        }
        other => panic!("{other:?}"),
    }
    // Skipped runs are checked too: a query starting after the corrupt run still reads it.
    assert!(matches!(
        d.changed_pages(l(450), l(650)),
        Err(Error::CorruptBlock { .. })
    ));
    // A query not touching file 2 is fine.
    assert!(d.changed_pages(l(500), l(650)).is_ok());
    let report = d.verify().unwrap();
    assert!(!report.is_clean());
    assert_eq!(report.files[1].problem_count, 1);
}

#[test]
fn truncated_file() {
    let dir = tempfile::tempdir().unwrap();
    let paths = three_files(dir.path());
    let len = std::fs::metadata(&paths[2]).unwrap().len();
    OpenOptions::new()
        .write(true)
        .open(&paths[2])
        .unwrap()
        .set_len(len - 1000)
        .unwrap();
    let d = BitmapDir::open(dir.path()).unwrap();
    match d.changed_pages(l(150), l(700)) {
        Err(Error::TruncatedFile {
            path,
            offset,
            len: got_len,
        }) => {
            assert_eq!(path, paths[2]);
            assert_eq!(got_len, len - 1000);
            assert_eq!(offset, 3 * BLOCK_SIZE as u64);
        }
        other => panic!("{other:?}"),
    }
    assert!(d.changed_pages(l(150), l(600)).is_ok());
}

#[test]
fn torn_full_block_at_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let paths = three_files(dir.path());
    let mut f = OpenOptions::new().append(true).open(&paths[2]).unwrap();
    f.write_all(&[0x5au8; BLOCK_SIZE]).unwrap();
    drop(f);
    let d = BitmapDir::open(dir.path()).unwrap();
    // Everything tracked is still answered; beyond it, the torn block is the reason.
    assert!(d.changed_pages(l(150), l(700)).is_ok());
    assert!(matches!(
        d.changed_pages(l(150), l(800)),
        Err(Error::CorruptBlock { offset, .. }) if offset == 4 * BLOCK_SIZE as u64
    ));
}

#[test]
fn end_not_covered() {
    let dir = tempfile::tempdir().unwrap();
    let paths = three_files(dir.path());
    let d = BitmapDir::open(dir.path()).unwrap();
    match d.changed_pages(l(150), l(701)) {
        Err(Error::EndNotCovered {
            tracked_to,
            end,
            file,
        }) => {
            assert_eq!((tracked_to, end), (l(700), l(701)));
            assert_eq!(file, paths[2]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn lsn_gap_between_files() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = BitmapWriter::open(dir.path(), OPTS).unwrap();
    let first = w.start_file(l(100)).unwrap();
    w.write_run(l(200), &pages(&[(1, 1)])).unwrap();
    drop(w);
    // Restart after the redo was lost: tracking resumes at 250.
    let mut w = BitmapWriter::open(dir.path(), OPTS).unwrap();
    let second = w.start_file(l(250)).unwrap();
    w.write_run(l(300), &pages(&[(1, 2)])).unwrap();
    drop(w);
    let d = BitmapDir::open(dir.path()).unwrap();
    match d.changed_pages(l(150), l(300)) {
        Err(Error::LsnGap {
            from,
            to,
            previous,
            next,
        }) => {
            assert_eq!((from, to), (l(200), l(250)));
            assert_eq!((previous, next), (first, second));
        }
        other => panic!("{other:?}"),
    }
    // A start inside the gap is not covered either; on either side it is.
    assert!(d.changed_pages(l(200), l(260)).is_err());
    assert!(d.changed_pages(l(220), l(260)).is_err());
    assert!(d.changed_pages(l(100), l(200)).is_ok());
    assert!(d.changed_pages(l(250), l(300)).is_ok());
    // An end inside the gap: not covered.
    assert!(matches!(
        d.changed_pages(l(150), l(240)),
        Err(Error::EndNotCovered { .. })
    ));
}

#[test]
fn gap_inside_a_file_means_no_change() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = BitmapWriter::open(dir.path(), OPTS).unwrap();
    w.start_file(l(100)).unwrap();
    w.write_run(l(200), &pages(&[(1, 1)])).unwrap();
    w.write_run(l(400), &ChangedPages::new()).unwrap(); // a pass that found nothing
    w.write_run(l(500), &pages(&[(1, 2)])).unwrap();
    drop(w);
    let d = BitmapDir::open(dir.path()).unwrap();
    let got = d.changed_pages(l(150), l(500)).unwrap();
    assert_eq!(got.space(1).unwrap().iter().collect::<Vec<_>>(), vec![1, 2]);
    // Entirely inside the gap: the next run is included (superset at run granularity).
    let got = d.changed_pages(l(250), l(300)).unwrap();
    assert_eq!(got.space(1).unwrap().iter().collect::<Vec<_>>(), vec![2]);
}

#[test]
fn rotation_after_an_idle_pass_is_not_trusted() {
    // Documented cost of refusing cross-file gaps: the server names the rotated file with
    // the run's start, after passes that found nothing.
    let dir = tempfile::tempdir().unwrap();
    let opts = WriterOptions::default()
        .max_file_size(BLOCK_SIZE as u64)
        .sync(false);
    let mut w = BitmapWriter::open(dir.path(), opts).unwrap();
    w.start_file(l(100)).unwrap();
    w.write_run(l(200), &pages(&[(1, 1)])).unwrap();
    w.write_run(l(300), &ChangedPages::new()).unwrap();
    let run = w.write_run(l(400), &pages(&[(1, 2)])).unwrap().unwrap();
    assert!(run.path.ends_with("ib_modified_log_2_300.xdb"));
    // Rotation right after a run: contiguous.
    let run = w.write_run(l(500), &pages(&[(1, 3)])).unwrap().unwrap();
    assert!(run.path.ends_with("ib_modified_log_3_400.xdb"));
    drop(w);
    let d = BitmapDir::open(dir.path()).unwrap();
    assert!(matches!(
        d.changed_pages(l(150), l(400)),
        Err(Error::LsnGap { .. })
    ));
    assert!(d.changed_pages(l(300), l(500)).is_ok());
}

#[test]
fn tail_of_an_earlier_file_is_ignored_when_retracked() {
    // Crash in the middle of a run of file 1: two blocks of a three-block run reached the
    // disk. The restarted server re-tracks from the last complete run's end into file 2.
    let dir = tempfile::tempdir().unwrap();
    let mut w = BitmapWriter::open(dir.path(), OPTS).unwrap();
    let first = w.start_file(l(100)).unwrap();
    w.write_run(l(200), &pages(&[(1, 1)])).unwrap();
    drop(w);
    let mut f = OpenOptions::new().append(true).open(&first).unwrap();
    for space in [1u32, 2] {
        let mut b = BlockBuf::new(space, 0);
        b.set_lsns(l(200), l(300));
        b.set_page(7);
        f.write_all(&b.finish()[..]).unwrap();
    }
    f.write_all(&[1u8; 1000]).unwrap();
    drop(f);
    // Reader before the restart: the tail is the reason beyond 200.
    let d = BitmapDir::open(dir.path()).unwrap();
    assert!(matches!(
        d.changed_pages(l(150), l(300)),
        Err(Error::TruncatedFile { .. })
    ));
    // Without the partial block it is an incomplete run.
    let len = std::fs::metadata(&first).unwrap().len();
    OpenOptions::new()
        .write(true)
        .open(&first)
        .unwrap()
        .set_len(len - 1000)
        .unwrap();
    assert!(matches!(
        d.changed_pages(l(150), l(300)),
        Err(Error::IncompleteRun { offset: 4096, .. })
    ));
    // Now a second file that starts at 200 (as if written without truncating file 1).
    let second = dir.path().join("ib_modified_log_2_200.xdb");
    let mut b = BlockBuf::new(3, 0);
    b.set_lsns(l(200), l(300));
    b.set_last(true);
    b.set_page(9);
    std::fs::write(&second, &b.finish()[..]).unwrap();
    let d = BitmapDir::open(dir.path()).unwrap();
    let got = d.changed_pages(l(150), l(300)).unwrap();
    assert!(got.contains(1, 1) && got.contains(3, 9));
    assert!(
        !got.contains(1, 7) && !got.contains(2, 7),
        "incomplete run must not be merged"
    );
}

#[test]
fn writer_reopen_truncates_to_last_complete_run() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = BitmapWriter::open(dir.path(), OPTS).unwrap();
    let first = w.start_file(l(100)).unwrap();
    w.write_run(l(200), &pages(&[(1, 1), (2, 2)])).unwrap();
    drop(w);
    let good_len = std::fs::metadata(&first).unwrap().len();
    let mut f = OpenOptions::new().append(true).open(&first).unwrap();
    let mut b = BlockBuf::new(1, 0);
    b.set_lsns(l(200), l(300));
    f.write_all(&b.finish()[..]).unwrap();
    f.write_all(&[0u8; BLOCK_SIZE]).unwrap();
    f.write_all(&[9u8; 10]).unwrap();
    drop(f);
    let mut w = BitmapWriter::open(dir.path(), OPTS).unwrap();
    let rec = w.recovery().clone();
    assert_eq!(rec.file.as_deref(), Some(first.as_path()));
    assert_eq!(rec.last_tracked_lsn, Some(l(200)));
    assert_eq!(rec.truncated_bytes, 2 * BLOCK_SIZE as u64 + 10);
    assert_eq!(std::fs::metadata(&first).unwrap().len(), good_len);
    let second = w.start_file(l(200)).unwrap();
    assert!(second.ends_with("ib_modified_log_2_200.xdb"));
    w.write_run(l(300), &pages(&[(1, 5)])).unwrap();
    drop(w);
    let d = BitmapDir::open(dir.path()).unwrap();
    let got = d.changed_pages(l(100), l(300)).unwrap();
    assert_eq!(got.page_count(), 3);
    assert!(d.verify().unwrap().is_clean());

    // A file with no complete run at all: truncated to zero, resume at its name LSN.
    let third_dir = tempfile::tempdir().unwrap();
    let only = third_dir.path().join("ib_modified_log_4_700.xdb");
    std::fs::write(&only, [3u8; 5000]).unwrap();
    let w = BitmapWriter::open(third_dir.path(), OPTS).unwrap();
    assert_eq!(w.recovery().last_tracked_lsn, Some(l(700)));
    assert_eq!(std::fs::metadata(&only).unwrap().len(), 0);
}

#[test]
fn zero_length_leftovers_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = BitmapWriter::open(dir.path(), OPTS).unwrap();
    w.start_file(l(100)).unwrap();
    w.write_run(l(200), &pages(&[(1, 1)])).unwrap();
    drop(w);
    // Two restarts that wrote nothing, then one that did.
    for _ in 0..2 {
        let mut w = BitmapWriter::open(dir.path(), OPTS).unwrap();
        w.start_file(l(200)).unwrap();
    }
    let mut w = BitmapWriter::open(dir.path(), OPTS).unwrap();
    assert_eq!(w.recovery().last_tracked_lsn, Some(l(200)));
    w.start_file(l(200)).unwrap();
    w.write_run(l(300), &pages(&[(1, 2)])).unwrap();
    drop(w);
    let d = BitmapDir::open(dir.path()).unwrap();
    assert_eq!(d.files().len(), 4);
    let got = d.changed_pages(l(200), l(300)).unwrap();
    assert_eq!(got.space(1).unwrap().iter().collect::<Vec<_>>(), vec![2]);
    let got = d.changed_pages(l(150), l(300)).unwrap();
    assert_eq!(got.space(1).unwrap().iter().collect::<Vec<_>>(), vec![1, 2]);
}

#[test]
fn inconsistent_directory() {
    let dir = tempfile::tempdir().unwrap();
    three_files(dir.path());
    // A second file with sequence number 2.
    std::fs::write(dir.path().join("ib_modified_log_2_350.xdb"), b"").unwrap();
    let d = BitmapDir::open(dir.path()).unwrap();
    assert!(matches!(
        d.changed_pages(l(150), l(650)),
        Err(Error::InconsistentDir {
            problem: DirProblem::DuplicateSeq { .. },
            ..
        })
    ));

    let dir = tempfile::tempdir().unwrap();
    let paths = three_files(dir.path());
    // Sequence 3 renamed to start before sequence 2.
    std::fs::rename(&paths[2], dir.path().join("ib_modified_log_3_250.xdb")).unwrap();
    let d = BitmapDir::open(dir.path()).unwrap();
    assert!(matches!(
        d.changed_pages(l(150), l(650)),
        Err(Error::InconsistentDir {
            problem: DirProblem::LsnOrder { .. },
            ..
        })
    ));
}

#[test]
fn inconsistent_runs() {
    let write = |blocks: &[(u32, u32, u64, u64, bool)]| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ib_modified_log_1_100.xdb");
        let mut bytes = Vec::new();
        for &(space, first, start, end, last) in blocks {
            let mut b = BlockBuf::new(space, first);
            b.set_lsns(l(start), l(end));
            b.set_last(last);
            b.set_page(first);
            bytes.extend_from_slice(&b.finish()[..]);
        }
        std::fs::write(&path, bytes).unwrap();
        let d = BitmapDir::open(dir.path()).unwrap();
        let r = d.changed_pages(l(100), l(300));
        (dir, r)
    };
    let (_d, r) = write(&[(2, 0, 100, 200, false), (1, 0, 100, 200, true)]);
    assert!(matches!(
        r,
        Err(Error::InconsistentRun {
            problem: RunProblem::KeyOrder { .. },
            offset: 4096,
            ..
        })
    ));
    let (_d, r) = write(&[(1, 0, 100, 200, false), (2, 0, 200, 300, true)]);
    assert!(matches!(
        r,
        Err(Error::InconsistentRun {
            problem: RunProblem::Unterminated { .. },
            ..
        })
    ));
    let (_d, r) = write(&[(1, 0, 100, 200, true), (2, 0, 150, 300, true)]);
    assert!(matches!(
        r,
        Err(Error::InconsistentRun {
            problem: RunProblem::Overlap { .. },
            ..
        })
    ));
    let (_d, r) = write(&[(1, 0, 50, 200, true), (2, 0, 200, 300, true)]);
    assert!(matches!(
        r,
        Err(Error::InconsistentRun {
            problem: RunProblem::BeforeFileStart { .. },
            ..
        })
    ));
    let (_d, r) = write(&[(1, 5, 100, 200, true), (2, 0, 200, 300, true)]);
    assert!(matches!(r, Err(Error::CorruptBlock { offset: 0, .. })));
    let (_d, r) = write(&[(1, 0, 100, 200, true), (2, 0, 200, 300, true)]);
    assert_eq!(r.unwrap().page_count(), 2);
}

#[test]
fn files_overlapping_in_lsn_are_merged() {
    // The new file re-tracks from an earlier LSN than the previous file's end: allowed,
    // the union is a superset.
    let dir = tempfile::tempdir().unwrap();
    let mk = |name: &str, runs: &[(u64, u64, u32)]| {
        let mut bytes = Vec::new();
        for &(s, e, p) in runs {
            let mut b = BlockBuf::new(1, 0);
            b.set_lsns(l(s), l(e));
            b.set_last(true);
            b.set_page(p);
            bytes.extend_from_slice(&b.finish()[..]);
        }
        std::fs::write(dir.path().join(name), bytes).unwrap();
    };
    mk("ib_modified_log_1_100.xdb", &[(100, 200, 1), (200, 300, 2)]);
    mk("ib_modified_log_2_250.xdb", &[(250, 400, 3)]);
    let d = BitmapDir::open(dir.path()).unwrap();
    let got = d.changed_pages(l(150), l(400)).unwrap();
    assert_eq!(
        got.space(1).unwrap().iter().collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
}
