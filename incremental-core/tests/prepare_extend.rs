//! The prepare makes every tablespace file of its result at least as long as its page 0 says
//! (`FSP_SIZE` × physical page size), on the real mariabackup fixture
//! (`tests/data/mariadb-10.11/backup`). A hot copy can hold fewer pages than the page 0 it copied
//! (the file was sized before the server extended it and flushed page 0), and the server's
//! recovery refuses such a file; the pages missing are initialised by the copied redo.
//!
//! `fx/t_small.ibd` of the fixture: 4 pages of 16 KiB, `FSP_SIZE` 4, full_crc32; inc1's delta of
//! it carries page 3 only (no page 0).

use std::fs;
use std::path::{Path, PathBuf};

use incremental_core::prepare::{self, PrepareOptions, PreparePlan, PrepareReport};
use incremental_core::progress::{Cancel, NoProgress};
use innodb_page::checksum::{stamp, validate, Algorithm, ChecksumContext, Verdict};
use innodb_page::Page;
use xb_testkit::sandbox::copy_dir;

const FIX: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/data/mariadb-10.11/backup"
);
const PS: usize = 16384;
const SMALL: &str = "fx/t_small.ibd";

fn run(base: &Path, incs: &[PathBuf]) -> PrepareReport {
    prepare::prepare(
        base,
        incs,
        &PrepareOptions::default(),
        &NoProgress,
        &Cancel::new(),
    )
    .unwrap()
}

/// A copy of the fixture's `name` backup in `d`.
fn copy(d: &Path, name: &str) -> PathBuf {
    let to = d.join(name);
    copy_dir(&Path::new(FIX).join(name), &to).unwrap();
    to
}

/// inc1 with only t_small's delta (the others have no base file in the fixture).
fn inc1(d: &Path) -> PathBuf {
    let inc = copy(d, "inc1");
    for t in ["t_comp", "t_crc32", "t_zip1"] {
        for ext in ["delta", "meta"] {
            fs::remove_file(inc.join(format!("fx/{t}.ibd.{ext}"))).unwrap();
        }
    }
    inc
}

fn fsp_size(page0: &[u8]) -> u32 {
    u32::from_be_bytes(page0[46..50].try_into().unwrap())
}

/// `FSP_SIZE` of the page 0 of the file `path` set to `pages`, its full_crc32 checksum fixed.
fn set_fsp_size(path: &Path, pages: u32) {
    let mut f = fs::read(path).unwrap();
    f[46..50].copy_from_slice(&pages.to_be_bytes());
    stamp(&mut f[..PS], Algorithm::FullCrc32).unwrap();
    let ctx = ChecksumContext {
        full_crc32: true,
        ..Default::default()
    };
    assert_eq!(
        validate(Page::new(&f[..PS]).unwrap(), &ctx),
        Verdict::Valid(Algorithm::FullCrc32)
    );
    fs::write(path, f).unwrap();
}

/// The file is `pages` pages long, starts with `head` and is zero after it.
fn check_extended(path: &Path, head: &[u8], pages: usize) {
    let got = fs::read(path).unwrap();
    assert_eq!(
        got.len(),
        pages * PS,
        "{} is {} bytes, its page 0 says {} pages",
        path.display(),
        got.len(),
        fsp_size(&got)
    );
    assert_eq!(&got[..head.len()], head);
    assert!(got[head.len()..].iter().all(|&b| b == 0));
}

#[test]
fn a_full_backup_with_a_copy_shorter_than_its_page_0_is_extended() {
    let d = tempfile::tempdir().unwrap();
    let base = copy(d.path(), "full");
    let whole = fs::read(base.join(SMALL)).unwrap();
    assert_eq!((whole.len(), fsp_size(&whole)), (4 * PS, 4));
    // Long enough: nothing to do, nothing written (no journal, no step).
    let plan = PreparePlan::new(&base, &[], &PrepareOptions::default()).unwrap();
    assert_eq!(plan.summary().steps, 0);

    // The copy holds 2 of the 4 pages its page 0 counts.
    fs::write(base.join(SMALL), &whole[..2 * PS]).unwrap();
    let ck = fs::read(base.join("xtrabackup_checkpoints")).unwrap();
    let plan = PreparePlan::new(&base, &[], &PrepareOptions::default()).unwrap();
    assert_eq!(plan.summary().steps, 1, "{:?}", plan.describe());
    let r = run(&base, &[]);
    assert_eq!(
        (r.files_extended, r.files_merged, r.pages_written),
        (1, 0, 0)
    );
    check_extended(&base.join(SMALL), &whole[..2 * PS], 4);
    // Still an unprepared full backup; a second prepare has nothing to do.
    assert_eq!(fs::read(base.join("xtrabackup_checkpoints")).unwrap(), ck);
    assert!(!base.join(prepare::JOURNAL).exists());
    let again = run(&base, &[]);
    assert_eq!((again.steps_run, again.files_extended), (0, 0));
}

#[test]
fn a_ddl_copy_of_a_full_backup_is_extended_once_renamed() {
    let d = tempfile::tempdir().unwrap();
    let base = copy(d.path(), "full");
    let whole = fs::read(base.join(SMALL)).unwrap();
    // A table rebuilt during the backup: its `.new` copy is short.
    fs::remove_file(base.join(SMALL)).unwrap();
    fs::write(base.join("fx/t_small.new"), &whole[..3 * PS]).unwrap();
    let r = run(&base, &[]);
    // Renamed through a temporary name (renames may swap names).
    assert_eq!((r.files_extended, r.files_renamed), (1, 2));
    assert!(!base.join("fx/t_small.new").exists());
    check_extended(&base.join(SMALL), &whole[..3 * PS], 4);
}

#[test]
fn an_incremental_without_page_0_extends_to_the_base_page_0() {
    let d = tempfile::tempdir().unwrap();
    let base = copy(d.path(), "full");
    let inc = inc1(d.path());
    // The base's page 0 counts 6 pages; the delta (page 3 only) leaves the file at 4.
    set_fsp_size(&base.join(SMALL), 6);
    let page0 = fs::read(base.join(SMALL)).unwrap()[..PS].to_vec();
    let r = run(&base, std::slice::from_ref(&inc));
    assert_eq!((r.files_merged, r.pages_written), (1, 1));
    assert_eq!(r.files_extended, 1);
    let got = fs::read(base.join(SMALL)).unwrap();
    assert_eq!(got.len(), 6 * PS);
    assert_eq!(&got[..PS], &page0[..]);
    let delta = fs::read(inc.join("fx/t_small.ibd.delta")).unwrap();
    assert_eq!(&got[3 * PS..4 * PS], &delta[PS..2 * PS]);
    assert!(got[4 * PS..].iter().all(|&b| b == 0));
}

#[test]
fn a_tablespace_copied_whole_by_an_incremental_is_extended() {
    let d = tempfile::tempdir().unwrap();
    let base = copy(d.path(), "full");
    let inc = inc1(d.path());
    let whole = fs::read(base.join(SMALL)).unwrap();
    // Rebuilt during the incremental: a short whole copy (`.new`) instead of a delta.
    for ext in ["delta", "meta"] {
        fs::remove_file(inc.join(format!("fx/t_small.ibd.{ext}"))).unwrap();
    }
    fs::write(inc.join("fx/t_small.new"), &whole[..PS]).unwrap();
    let r = run(&base, &[inc]);
    assert_eq!((r.files_extended, r.files_copied > 0), (1, true));
    check_extended(&base.join(SMALL), &whole[..PS], 4);
}

#[test]
fn an_interrupted_extension_is_resumed() {
    let d = tempfile::tempdir().unwrap();
    let base = copy(d.path(), "full");
    let whole = fs::read(base.join(SMALL)).unwrap();
    fs::write(base.join(SMALL), &whole[..2 * PS]).unwrap();
    // Interrupted once the journal was written, before the step was recorded as done.
    let plan = PreparePlan::new(&base, &[], &PrepareOptions::default()).unwrap();
    let steps = plan.describe();
    assert_eq!(steps.len(), 1);
    assert!(
        steps[0].contains("extend fx/t_small.ibd to 65536 bytes"),
        "{steps:?}"
    );
    let c = Cancel::new();
    c.cancel();
    assert!(plan.execute(&NoProgress, &c).is_err());
    assert!(base.join(prepare::JOURNAL).exists());
    let r = run(&base, &[]);
    assert!(r.resumed);
    assert_eq!(r.files_extended, 1);
    check_extended(&base.join(SMALL), &whole[..2 * PS], 4);
    assert!(!base.join(prepare::JOURNAL).exists());
}
