//! The applier on the real mariabackup fixture (`tests/data/mariadb-10.11/backup`), restricted to
//! `t_small` (the only tablespace whose base file is in the fixture), and on copies of it broken in
//! every way that must be refused. Every refusal must leave the target byte-identical.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use incremental_core::prepare::{self, PrepareError, PrepareOptions, PreparePlan};
use incremental_core::progress::{Cancel, Event, NoProgress, Progress};
use incremental_core::Remedy;
use xb_testkit::sandbox::copy_dir;

const FIX: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/data/mariadb-10.11/backup"
);

fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for e in fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let ft = e.file_type().unwrap();
            let rel = e.path().strip_prefix(root).unwrap().to_path_buf();
            if ft.is_dir() {
                out.insert(PathBuf::from(format!("{}/", rel.display())), Vec::new());
                walk(root, &e.path(), out);
            } else {
                out.insert(rel, fs::read(e.path()).unwrap_or_default());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// `base` (full) and `inc` (inc1 with only t_small's delta) in a temporary directory.
fn setup() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let base = d.path().join("base");
    let inc = d.path().join("inc");
    copy_dir(&Path::new(FIX).join("full"), &base).unwrap();
    copy_dir(&Path::new(FIX).join("inc1"), &inc).unwrap();
    for t in ["t_comp", "t_crc32", "t_zip1"] {
        for ext in ["delta", "meta"] {
            fs::remove_file(inc.join(format!("fx/{t}.ibd.{ext}"))).unwrap();
        }
    }
    (d, base, inc)
}

fn run(base: &Path, incs: &[PathBuf]) -> Result<prepare::PrepareReport, PrepareError> {
    prepare::prepare(
        base,
        incs,
        &PrepareOptions::default(),
        &NoProgress,
        &Cancel::new(),
    )
}

/// Runs a prepare that must fail, checks that neither the target nor the incremental changed.
fn refused(base: &Path, inc: &Path) -> PrepareError {
    let (b, i) = (tree(base), tree(inc));
    let e = run(base, &[inc.to_path_buf()]).unwrap_err();
    assert_eq!(tree(base), b, "target changed by a refused prepare ({e})");
    assert_eq!(tree(inc), i, "incremental changed ({e})");
    e
}

fn edit(path: &Path, from: &str, to: &str) {
    let s = fs::read_to_string(path).unwrap();
    assert!(s.contains(from), "{s}");
    fs::write(path, s.replace(from, to)).unwrap();
}

#[test]
fn fixture_merge_equals_mariabackup_prepare() {
    let (_d, base, inc) = setup();
    let before = tree(&inc);
    let r = run(&base, std::slice::from_ref(&inc)).unwrap();
    assert_eq!((r.pages_written, r.files_merged), (1, 1));
    assert_eq!(tree(&inc), before);
    assert_eq!(
        fs::read(base.join("fx/t_small.ibd")).unwrap(),
        fs::read(Path::new(FIX).join("prepared/fx/t_small.ibd")).unwrap()
    );
    let ck = fs::read_to_string(base.join("xtrabackup_checkpoints")).unwrap();
    assert_eq!(
        ck,
        "backup_type = full-backuped\nfrom_lsn = 0\nto_lsn = 15297519\nlast_lsn = 15297535\n\
         recover_binlog_info = 0\n"
    );
    assert_eq!(
        fs::read(base.join("ib_logfile0")).unwrap(),
        fs::read(inc.join("ib_logfile0")).unwrap()
    );
    let info = fs::read_to_string(base.join("xtrabackup_info")).unwrap();
    assert!(info.contains("innodb_from_lsn = 0\n") && info.contains("incremental = N\n"));
    assert!(info.contains("innodb_to_lsn = 15297519\n"));
    // Again: refused as already applied, nothing changes.
    let e = refused(&base, &inc);
    assert!(matches!(e, PrepareError::AlreadyApplied { .. }), "{e}");
    // The synthetic full is a valid base for the safety rule (its redo starts at to_lsn).
    let bi = fs::read_to_string(base.join("xb_backup_info")).unwrap();
    assert!(bi.contains("redo_start_lsn = 15297519\n"), "{bi}");
}

#[test]
fn new_tablespaces_without_page_0_are_refused() {
    // The full fixture has no t_comp, t_crc32, t_zip1 files; their deltas hold only changed
    // pages, no page 0, so they cannot create the tablespaces: refused (a wrong base).
    let d = tempfile::tempdir().unwrap();
    let base = d.path().join("base");
    copy_dir(&Path::new(FIX).join("full"), &base).unwrap();
    let inc = Path::new(FIX).join("inc1");
    let e = refused(&base, &inc);
    assert!(
        e.to_string().contains("has no page 0, so it cannot create"),
        "{e}"
    );
}

#[test]
fn corrupt_and_truncated_deltas_are_refused() {
    let (_d, base, inc) = setup();
    let delta = inc.join("fx/t_small.ibd.delta");
    let good = fs::read(&delta).unwrap();
    let mut bad = good.clone();
    bad[0..4].copy_from_slice(b"junk");
    fs::write(&delta, &bad).unwrap();
    let e = refused(&base, &inc);
    assert!(
        e.to_string().contains("t_small.ibd.delta: at offset 0"),
        "{e}"
    );

    fs::write(&delta, &good[..20000]).unwrap();
    let e = refused(&base, &inc);
    assert!(e.to_string().contains("t_small.ibd.delta"), "{e}");

    // A page whose FIL header number differs from the header slot.
    let mut bad = good.clone();
    bad[16384 + 7] = 9;
    fs::write(&delta, &bad).unwrap();
    let e = refused(&base, &inc);
    assert!(matches!(e, PrepareError::BadPage { page_no: 3, .. }), "{e}");

    // Trailing garbage.
    let mut bad = good.clone();
    bad.extend_from_slice(b"xx");
    fs::write(&delta, &bad).unwrap();
    refused(&base, &inc);
    fs::write(&delta, &good).unwrap();
    run(&base, &[inc]).unwrap();
}

#[test]
fn wrong_or_missing_meta_is_refused() {
    let (_d, base, inc) = setup();
    let meta = inc.join("fx/t_small.ibd.meta");
    let good = fs::read(&meta).unwrap();
    edit(&meta, "page_size = 16384", "page_size = 8192");
    let e = refused(&base, &inc);
    assert!(e.to_string().contains("t_small"), "{e}");
    fs::write(&meta, &good).unwrap();
    edit(&meta, "space_id = 5", "space_id = 99");
    let e = refused(&base, &inc);
    assert!(e.to_string().contains("space id 99"), "{e}");
    fs::remove_file(&meta).unwrap();
    let e = refused(&base, &inc);
    assert!(matches!(e, PrepareError::MissingMeta { .. }), "{e}");
}

#[test]
fn broken_chain_partial_and_states_are_refused() {
    let (_d, base, inc) = setup();
    let ck = inc.join("xtrabackup_checkpoints");
    edit(&ck, "from_lsn = 2500178", "from_lsn = 2500100");
    let e = refused(&base, &inc);
    assert!(matches!(e, PrepareError::ChainBroken { .. }), "{e}");
    edit(&ck, "from_lsn = 2500100", "from_lsn = 2500178");
    // The incremental given as a target.
    let e = refused(&inc, &inc);
    assert!(matches!(e, PrepareError::BaseState { .. }), "{e}");
    // A full given as an incremental.
    let e = refused(&base, &base);
    assert!(matches!(e, PrepareError::NotIncremental { .. }), "{e}");
    // Partial base, partial incremental.
    edit(&base.join("xtrabackup_info"), "partial = N", "partial = Y");
    let e = refused(&base, &inc);
    assert!(matches!(e, PrepareError::Partial { .. }), "{e}");
    assert!(e.to_string().contains("partial backup"), "{e}");
    edit(&base.join("xtrabackup_info"), "partial = Y", "partial = N");
    edit(&inc.join("xtrabackup_info"), "partial = N", "partial = Y");
    let e = refused(&base, &inc);
    assert!(matches!(e, PrepareError::Partial { .. }), "{e}");
}

#[test]
fn unsafe_merge_is_refused_unless_the_base_is_prepared() {
    // As if a checkpoint had happened during the full backup: to_lsn above the redo start
    // (2500178, in the header of full/ib_logfile0).
    let (_d, base, inc) = setup();
    edit(
        &base.join("xtrabackup_checkpoints"),
        "to_lsn = 2500178",
        "to_lsn = 2600000",
    );
    edit(
        &inc.join("xtrabackup_checkpoints"),
        "from_lsn = 2500178",
        "from_lsn = 2600000",
    );
    let e = refused(&base, &inc);
    let msg = e.to_string();
    assert!(matches!(e, PrepareError::UnsafeMerge { .. }), "{msg}");
    assert!(msg.contains("2600000") && msg.contains("2500178"), "{msg}");
    // Its redo (16 bytes of records, ending at 2500194) cannot hold the range up to 2600000.
    assert!(msg.contains("cannot be checked"), "{msg}");
    assert!(msg.contains("mariabackup --prepare"), "{msg}");
    // Prepared by mariabackup (log-applied): the rule does not apply.
    edit(
        &base.join("xtrabackup_checkpoints"),
        "full-backuped",
        "log-applied",
    );
    run(&base, &[inc]).unwrap();
}

/// Rewrites `base/ib_logfile0` with a 64 KiB record area holding the fixture's FILE_CHECKPOINT
/// mtr at the checkpoint (2500178) followed by one mtr made of `records`; sets the base's
/// `to_lsn` and the incremental's `from_lsn` to that mtr's end LSN (as if a checkpoint had
/// happened there during the full backup) and returns it.
fn log_with_mtr(base: &Path, inc: &Path, records: &[u8]) -> u64 {
    use innodb_page::redo::mtr::LogGeometry;
    use innodb_page::Lsn;
    let path = base.join("ib_logfile0");
    let orig = fs::read(&path).unwrap();
    let first = u64::from_be_bytes(orig[8..16].try_into().unwrap());
    let size = 0x3000 + 65536u64;
    let geom = LogGeometry::from_file_size(Lsn::new(first), size, false).unwrap();
    let mut log = orig[..0x3000].to_vec();
    log.resize(size as usize, 0);
    let mut put_mtr = |at: u64, recs: &[u8]| -> u64 {
        let mut m = recs.to_vec();
        m.push(geom.sequence_bit(Lsn::new(at + recs.len() as u64)).unwrap());
        m.extend_from_slice(&crc32c::crc32c(recs).to_be_bytes());
        for (i, b) in m.iter().enumerate() {
            log[geom.file_offset(Lsn::new(at + i as u64)).unwrap() as usize] = *b;
        }
        at + m.len() as u64
    };
    let mut ckpt = vec![0xFA, 0, 0];
    ckpt.extend_from_slice(&2500178u64.to_be_bytes());
    let next = put_mtr(2500178, &ckpt);
    assert_eq!(next, 2500194);
    let end = put_mtr(next, records);
    fs::write(&path, &log).unwrap();
    edit(
        &base.join("xtrabackup_checkpoints"),
        "to_lsn = 2500178",
        &format!("to_lsn = {end}"),
    );
    edit(
        &inc.join("xtrabackup_checkpoints"),
        "from_lsn = 2500178",
        &format!("from_lsn = {end}"),
    );
    end
}

/// A WRITE record of one byte at offset 0x26 of page (space, page) (ids below 0x80).
fn write_record(space: u8, page: u8) -> Vec<u8> {
    vec![0x34, space, page, 0x26, 0xAB]
}

#[test]
fn redo_between_redo_start_and_to_lsn_is_checked() {
    let (_d, base, inc) = setup();
    let small = fs::read(base.join("fx/t_small.ibd")).unwrap();
    let space = small[37];
    assert_eq!(&small[34..37], &[0, 0, 0]);
    let delta = incremental_core::format::delta::DeltaFile::open(
        inc.join("fx/t_small.ibd.delta"),
        incremental_core::format::delta::PageSize::DEFAULT,
    )
    .unwrap();
    let carried = delta.index().page_nos()[0] as u8;
    let lacking = (1..4u8).find(|&p| p != carried).unwrap();
    drop(delta);

    // A page changed in (redo start, to_lsn] that the base copy lacks and no delta carries.
    let end = log_with_mtr(&base, &inc, &write_record(space, lacking));
    let e = refused(&base, &inc);
    let msg = e.to_string();
    match &e {
        PrepareError::UnsafeMerge { first_page, .. } => assert_eq!(
            *first_page,
            Some((
                u32::from(space),
                u32::from(lacking),
                innodb_page::Lsn::new(end)
            ))
        ),
        _ => panic!("{msg}"),
    }
    assert!(
        msg.contains(&end.to_string()) && msg.contains("2500178"),
        "{msg}"
    );
    assert!(msg.contains(&format!("({space}, {lacking})")), "{msg}");
    assert!(msg.contains(&base.display().to_string()), "{msg}");
    assert!(msg.contains("mariabackup --prepare"), "{msg}");

    // (b) the page changed is carried by the delta: exact, accepted.
    let (_d, base, inc) = setup();
    log_with_mtr(&base, &inc, &write_record(space, carried));
    run(&base, &[inc]).unwrap();

    // (a) the base copy already has the change (page LSN at or above the mtr's end): accepted.
    let (_d, base, inc) = setup();
    let end = log_with_mtr(&base, &inc, &write_record(space, lacking));
    let mut small = fs::read(base.join("fx/t_small.ibd")).unwrap();
    let at = lacking as usize * 16384 + 16;
    small[at..at + 8].copy_from_slice(&end.to_be_bytes());
    fs::write(base.join("fx/t_small.ibd"), &small).unwrap();
    run(&base, &[inc]).unwrap();

    // Only file-level records (FILE_MODIFY naming the tablespace): accepted.
    let (_d, base, inc) = setup();
    let mut modify = vec![0xB0 | 13, space, 0];
    modify.extend_from_slice(b"fx/t_small.ibd"[..11].as_ref());
    log_with_mtr(&base, &inc, &modify);
    run(&base, &[inc]).unwrap();

    // A record that does not decode in that range: refused like an unreadable range.
    let (_d, base, inc) = setup();
    log_with_mtr(&base, &inc, &[0xC2, 0, 0]);
    let e = refused(&base, &inc);
    assert!(e.to_string().contains("does not decode"), "{e}");
}

#[test]
fn names_leading_out_are_refused() {
    let (d, base, inc) = setup();
    // A rename marker pointing outside.
    fs::write(inc.join("fx/t_small.ren"), "../../../etc/evil").unwrap();
    let e = refused(&base, &inc);
    assert!(matches!(e, PrepareError::BadName { .. }), "{e}");
    fs::remove_file(inc.join("fx/t_small.ren")).unwrap();
    // A database directory of the target that is a symlink to elsewhere.
    let outside = d.path().join("outside");
    fs::rename(base.join("fx"), &outside).unwrap();
    std::os::unix::fs::symlink(&outside, base.join("fx")).unwrap();
    let before = tree(&outside);
    let e = refused(&base, &inc);
    assert!(matches!(e, PrepareError::SymlinkOutside { .. }), "{e}");
    assert_eq!(tree(&outside), before);
}

#[test]
fn ddl_markers_of_a_full_backup() {
    let d = tempfile::tempdir().unwrap();
    let base = d.path().join("base");
    copy_dir(&Path::new(FIX).join("full"), &base).unwrap();
    let small = fs::read(base.join("fx/t_small.ibd")).unwrap();
    fs::write(base.join("fx/t_old.ibd"), &small).unwrap();
    fs::write(base.join("fx/t_old.frm"), b"frm").unwrap();
    fs::write(base.join("fx/t_old.del"), b"").unwrap();
    fs::write(base.join("fx/t_small.ren"), b"fx/t_moved").unwrap();
    let mut newer = small.clone();
    newer[100] ^= 1;
    fs::write(base.join("fx/t_fresh.new"), &newer).unwrap();
    let ck = fs::read(base.join("xtrabackup_checkpoints")).unwrap();
    let r = run(&base, &[]).unwrap();
    assert_eq!(r.pages_written, 0);
    let t = tree(&base);
    let names: Vec<_> = t.keys().map(|p| p.to_string_lossy().into_owned()).collect();
    assert!(!names
        .iter()
        .any(|n| n.ends_with(".del") || n.ends_with(".ren") || n.ends_with(".new")));
    assert!(!base.join("fx/t_old.ibd").exists());
    assert!(!base.join("fx/t_small.ibd").exists());
    assert_eq!(fs::read(base.join("fx/t_moved.ibd")).unwrap(), small);
    assert_eq!(fs::read(base.join("fx/t_fresh.ibd")).unwrap(), newer);
    // Not prepared: the state stays full-backuped, the checkpoints untouched.
    assert_eq!(fs::read(base.join("xtrabackup_checkpoints")).unwrap(), ck);
    // Nothing left to do.
    let plan = PreparePlan::new(&base, &[], &PrepareOptions::default()).unwrap();
    assert_eq!(plan.summary().steps, 0);
}

/// The partial refusal is lifted by `set_accept_partial` (mariabackup's behaviour): the merge
/// then runs as for whole backups.
#[test]
fn partial_backups_merge_when_accepted() {
    let (_d, base, inc) = setup();
    edit(&base.join("xtrabackup_info"), "partial = N", "partial = Y");
    edit(&inc.join("xtrabackup_info"), "partial = N", "partial = Y");
    let e = refused(&base, &inc);
    assert!(matches!(e, PrepareError::Partial { .. }), "{e}");
    let mut o = PrepareOptions::default();
    o.set_accept_partial(true);
    let r = prepare::prepare(&base, &[inc], &o, &NoProgress, &Cancel::new()).unwrap();
    assert_eq!((r.pages_written, r.files_merged), (1, 1));
    assert_eq!(
        fs::read(base.join("fx/t_small.ibd")).unwrap(),
        fs::read(Path::new(FIX).join("prepared/fx/t_small.ibd")).unwrap()
    );
}

/// An `.ibd` too short for a page 0 (an empty file put into the backup) is no tablespace:
/// left as it is and reported, as mariabackup skips it, instead of failing the prepare.
#[test]
fn an_empty_ibd_in_the_target_is_left_alone() {
    let (_d, base, inc) = setup();
    fs::write(base.join("fx/junk.ibd"), b"").unwrap();
    let plan = PreparePlan::new(&base, &[], &PrepareOptions::default()).unwrap();
    assert_eq!(
        plan.summary().not_tablespaces,
        [PathBuf::from("fx/junk.ibd")]
    );
    run(&base, &[]).unwrap();
    assert_eq!(fs::read(base.join("fx/junk.ibd")).unwrap(), b"");
    // merged onto: still no tablespace; the newest incremental's files replace it
    let r = run(&base, &[inc]).unwrap();
    assert_eq!(r.summary.not_tablespaces, [PathBuf::from("fx/junk.ibd")]);
    assert_eq!(r.pages_written, 1);
}

/// A database directory that the newest incremental holds empty still exists (only the
/// databases it lacks were dropped): the target keeps its `db.opt` there, or gets an empty
/// one (MDEV-23335, mariabackup's incremental_drop_db test).
#[test]
fn an_empty_database_directory_of_the_incremental_keeps_the_database() {
    let (_d, base, inc) = setup();
    for (db, opt) in [("db1", "one"), ("db2", "two")] {
        fs::create_dir(base.join(db)).unwrap();
        fs::write(base.join(db).join("db.opt"), opt).unwrap();
    }
    fs::write(base.join("db2/t.frm"), "frm").unwrap();
    for db in ["db2", "db3", "#innodb_temp"] {
        fs::create_dir(inc.join(db)).unwrap();
    }
    run(&base, &[inc]).unwrap();
    assert!(!base.join("db1").exists(), "db1 was dropped");
    assert_eq!(fs::read_to_string(base.join("db2/db.opt")).unwrap(), "two");
    assert!(!base.join("db2/t.frm").exists());
    assert_eq!(fs::read(base.join("db3/db.opt")).unwrap(), b"");
    assert!(!base.join("#innodb_temp/db.opt").exists());
}

/// Cancels after the first file started.
struct CancelOnFirstFile(Cancel);

impl Progress for CancelOnFirstFile {
    fn event(&self, e: Event<'_>) {
        if matches!(e, Event::FileStarted { .. }) {
            self.0.cancel();
        }
    }
}

#[test]
fn interrupted_apply_resumes_and_refuses_other_arguments() {
    let (_d, base, inc) = setup();
    let (_d2, reference, inc2) = setup();
    run(&reference, &[inc2]).unwrap();

    let cancel = Cancel::new();
    let plan = PreparePlan::new(
        &base,
        std::slice::from_ref(&inc),
        &PrepareOptions::default(),
    )
    .unwrap();
    let e = plan
        .execute(&CancelOnFirstFile(cancel.clone()), &cancel)
        .unwrap_err();
    assert!(matches!(e, PrepareError::Cancelled));
    assert!(base.join(prepare::JOURNAL).exists());
    // Another prepare of this target is refused while the journal is there.
    let e = run(&base, &[]).unwrap_err();
    assert!(matches!(e, PrepareError::PendingOther { .. }), "{e}");
    assert_eq!(e.remedy(), Some(Remedy::RerunPendingPrepare), "{e}");
    // The same one resumes and ends like an uninterrupted run.
    let plan = PreparePlan::new(
        &base,
        std::slice::from_ref(&inc),
        &PrepareOptions::default(),
    )
    .unwrap();
    assert!(plan.summary().resumed);
    let r = plan.execute(&NoProgress, &Cancel::new()).unwrap();
    assert!(r.resumed);
    assert!(!base.join(prepare::JOURNAL).exists());
    assert_eq!(tree(&base), tree(&reference));
}

/// Two deltas of one incremental with the same space id: the prepare merged one and silently
/// dropped the other while the verify called the chain unrestorable; now both refuse it by the
/// same rule, naming both files.
#[test]
fn two_deltas_with_one_space_id_are_refused_by_prepare_and_verify() {
    let (_d, base, inc) = setup();
    for ext in ["delta", "meta"] {
        fs::copy(
            inc.join(format!("fx/t_small.ibd.{ext}")),
            inc.join(format!("fx/t_twin.ibd.{ext}")),
        )
        .unwrap();
    }
    let e = refused(&base, &inc);
    assert!(
        matches!(e, PrepareError::DuplicateSpaceId { space_id: 5, .. }),
        "{e}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains("t_small.ibd.delta") && msg.contains("t_twin.ibd.delta"),
        "{msg}"
    );
    let r = incremental_core::verify::verify_chain(
        &base,
        std::slice::from_ref(&inc),
        &NoProgress,
        &Cancel::new(),
    )
    .unwrap();
    assert!(!r.restorable());
    assert!(
        matches!(
            r.refusal,
            Some(incremental_core::verify::Refusal::Prepare(
                PrepareError::DuplicateSpaceId { space_id: 5, .. }
            ))
        ),
        "{}",
        r.verdict()
    );
    // One of the two removed: both accept it.
    for ext in ["delta", "meta"] {
        fs::remove_file(inc.join(format!("fx/t_twin.ibd.{ext}"))).unwrap();
    }
    let r = incremental_core::verify::verify_chain(
        &base,
        std::slice::from_ref(&inc),
        &NoProgress,
        &Cancel::new(),
    )
    .unwrap();
    assert!(r.restorable(), "{}", r.verdict());
    run(&base, &[inc]).unwrap();
}

#[test]
fn only_the_redo_step_remains_after_a_merge_and_an_interrupted_redo_step_blocks_merges() {
    let (_d, base, inc) = setup();
    run(&base, std::slice::from_ref(&inc)).unwrap();
    let incs = [inc.clone()];
    let mut redo = PrepareOptions::default();
    redo.set_redo_step(true);
    // merged already: with the redo step to run, a plan with nothing to do (not a refusal)
    let plan = PreparePlan::new(&base, &incs, &redo).unwrap();
    assert_eq!(plan.summary().steps, 0);
    let e = PreparePlan::new(&base, &incs, &PrepareOptions::default()).unwrap_err();
    assert!(matches!(e, PrepareError::AlreadyApplied { .. }), "{e}");
    // a redo step started and interrupted: only finishing it (same chain or none) is accepted
    fs::write(
        base.join("xb_prepare.apply-redo.journal"),
        "xb-apply-redo-journal 1\n",
    )
    .unwrap();
    for incs in [&incs[..], &[]] {
        assert_eq!(
            PreparePlan::new(&base, incs, &redo)
                .unwrap()
                .summary()
                .steps,
            0
        );
        let e = PreparePlan::new(&base, incs, &PrepareOptions::default()).unwrap_err();
        assert!(matches!(e, PrepareError::RedoInterrupted { .. }), "{e}");
        assert_eq!(e.remedy(), Some(Remedy::FinishApplyRedo));
    }
    // and not restorable meanwhile
    let e = incremental_core::copy_back::check_restorable(
        &incremental_core::source::DirSource::new(&base),
    )
    .unwrap_err();
    assert!(e.to_string().contains("interrupted"), "{e}");
}

/// One incremental that both renames a tablespace and has a `.new` under its old name (a table
/// renamed, then a new table created or rebuilt under the old name during the backup; found
/// by `scripts/soak`): mariabackup's order is `.del`, then `.ren` (which renames the
/// incremental's delta with the tablespace), then `.new`, which replaces only what is under
/// its name after the renames. So the renamed tablespace keeps its delta under its new name,
/// and the `.new` file takes the old name.
#[test]
fn a_rename_and_a_new_file_under_the_old_name_in_one_incremental() {
    // what the delta makes of t_small, without markers
    let (_p, plain_base, plain_inc) = setup();
    run(&plain_base, &[plain_inc]).unwrap();
    let merged = fs::read(plain_base.join("fx/t_small.ibd")).unwrap();

    let (_d, base, inc) = setup();
    fs::write(inc.join("fx/t_small.ren"), "fx/t_moved").unwrap();
    // a new tablespace (space 8, another table of the same server) under the old name
    let fresh = fs::read(Path::new(FIX).join("../datadir-16k/t_crc32.ibd")).unwrap();
    fs::write(inc.join("fx/t_small.new"), &fresh).unwrap();
    run(&base, &[inc]).unwrap();
    let t = tree(&base);
    assert!(
        t.get(Path::new("fx/t_moved.ibd")) == Some(&merged),
        "the renamed tablespace is not its base copy with the delta applied: {:?}",
        t.keys().collect::<Vec<_>>()
    );
    assert!(
        t.get(Path::new("fx/t_small.ibd")) == Some(&fresh),
        "the .new file is not under the old name: {:?}",
        t.keys().collect::<Vec<_>>()
    );
}

/// Rewrites the record area of `dir/ib_logfile0` (a fixture log whose FILE_CHECKPOINT mtr is
/// at its checkpoint) to hold that mtr, then one mtr made of `records`.
fn log_after_checkpoint(dir: &Path, records: &[u8]) {
    use innodb_page::redo::mtr::LogGeometry;
    use innodb_page::Lsn;
    let path = dir.join("ib_logfile0");
    let orig = fs::read(&path).unwrap();
    let first = u64::from_be_bytes(orig[8..16].try_into().unwrap());
    let ckpt_lsn = u64::from_be_bytes(orig[0x1000..0x1008].try_into().unwrap());
    let size = 0x3000 + 65536u64;
    let geom = LogGeometry::from_file_size(Lsn::new(first), size, false).unwrap();
    let mut log = orig[..0x3000].to_vec();
    log.resize(size as usize, 0);
    let mut put_mtr = |at: u64, recs: &[u8]| -> u64 {
        let mut m = recs.to_vec();
        m.push(geom.sequence_bit(Lsn::new(at + recs.len() as u64)).unwrap());
        m.extend_from_slice(&crc32c::crc32c(recs).to_be_bytes());
        for (i, b) in m.iter().enumerate() {
            log[geom.file_offset(Lsn::new(at + i as u64)).unwrap() as usize] = *b;
        }
        at + m.len() as u64
    };
    let mut ckpt = vec![0xFA, 0, 0];
    ckpt.extend_from_slice(&ckpt_lsn.to_be_bytes());
    let next = put_mtr(ckpt_lsn, &ckpt);
    put_mtr(next, records);
    fs::write(&path, &log).unwrap();
}

/// A delta with no page (what an incremental writes for a tablespace none of whose pages
/// qualify) and its `.meta`.
fn empty_delta(dir: &Path, name: &str, space_id: u32) {
    let mut d = vec![0u8; 16384];
    d[..4].copy_from_slice(b"XTRA");
    d[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
    fs::write(dir.join(format!("{name}.ibd.delta")), d).unwrap();
    fs::write(
        dir.join(format!("{name}.ibd.meta")),
        format!("page_size = 16384\nzip_size = 0\nspace_id = {space_id}\n"),
    )
    .unwrap();
}

/// `base`, `inc1` as [`setup`] with a `.new` copy `fx/tn.new` whose pages are all zero (the
/// server had not flushed the tablespace when it was copied) and whose creation as space
/// `redo_space` is in inc1's redo, and `inc2` taken from inc1, holding an empty delta of
/// `fx/{name}.ibd` for space 8 and one of `fx/t_small.ibd` (space 5).
fn unflushed_new_then_delta(
    redo_space: u8,
    name: &str,
) -> (tempfile::TempDir, PathBuf, [PathBuf; 2]) {
    let (d, base, inc1) = setup();
    fs::write(inc1.join("fx/tn.new"), vec![0u8; 4 * 16384]).unwrap();
    // FILE_CREATE (0x80, 13 bytes of body) of space `redo_space`, page 0, "./fx/tn.ibd"
    let mut create = vec![0x80 | 13, redo_space, 0];
    create.extend_from_slice(b"./fx/tn.ibd");
    log_after_checkpoint(&inc1, &create);
    let inc2 = d.path().join("inc2");
    fs::create_dir_all(inc2.join("fx")).unwrap();
    for f in ["backup-my.cnf", "xtrabackup_info", "xtrabackup_checkpoints"] {
        fs::copy(Path::new(FIX).join("inc1").join(f), inc2.join(f)).unwrap();
    }
    fs::copy(
        Path::new(FIX).join("inc1/ib_logfile0"),
        inc2.join("ib_logfile0"),
    )
    .unwrap();
    edit(
        &inc2.join("xtrabackup_checkpoints"),
        "from_lsn = 2500178",
        "from_lsn = 15297519",
    );
    edit(
        &inc2.join("xtrabackup_info"),
        "innodb_from_lsn = 2500178",
        "innodb_from_lsn = 15297519",
    );
    empty_delta(&inc2.join("fx"), name, 8);
    empty_delta(&inc2.join("fx"), "t_small", 5);
    (d, base, [inc1, inc2])
}

/// Soak seed 1 round 23: an incremental copied a table rebuilt during it as `.new` before the
/// server had written any of its pages (page 0 zero: space id unknown from the copy); the next
/// incremental, taken before the server flushed it, has an empty delta naming it by its space
/// id only. `mariabackup --prepare` finds it by applying the first incremental's redo first; xb
/// refused ("no tablespace in the target has space id ... and the delta has no page 0"). The
/// space id is now taken from the first incremental's redo, which created the tablespace.
#[test]
fn a_new_copy_with_page_0_unwritten_takes_its_space_id_from_its_redo() {
    let (_d, base, incs) = unflushed_new_then_delta(8, "tn");
    run(&base, &incs).unwrap();
    let t = tree(&base);
    assert_eq!(
        t.get(Path::new("fx/tn.ibd")).map(Vec::len),
        Some(4 * 16384),
        "{:?}",
        t.keys().collect::<Vec<_>>()
    );
    assert!(t[Path::new("fx/tn.ibd")].iter().all(|&b| b == 0));
    assert_eq!(
        t.get(Path::new("fx/t_small.ibd")),
        fs::read(Path::new(FIX).join("prepared/fx/t_small.ibd"))
            .ok()
            .as_ref()
    );
    assert!(!t.keys().any(|k| k.to_string_lossy().contains("tn.new")));

    // Renamed between the two incrementals: found by its space id, moved to its new name.
    let (_d, base, incs) = unflushed_new_then_delta(8, "tu");
    run(&base, &incs).unwrap();
    let t = tree(&base);
    assert!(
        t.contains_key(Path::new("fx/tu.ibd")) && !t.contains_key(Path::new("fx/tn.ibd")),
        "{:?}",
        t.keys().collect::<Vec<_>>()
    );

    // The redo says the name is another tablespace: still refused, nothing written.
    let (_d, base, incs) = unflushed_new_then_delta(9, "tn");
    let (b, i) = (tree(&base), tree(&incs[1]));
    let e = run(&base, &incs).unwrap_err();
    assert!(
        e.to_string()
            .contains("space id 8 and the delta has no page 0"),
        "{e}"
    );
    assert_eq!((tree(&base), tree(&incs[1])), (b, i));
}

/// Soak seed 6 round 9: the full backup and the first incremental both copied a table rebuilt
/// during them as `.new` with page 0 unwritten (the tablespace created after the full backup's
/// start checkpoint, and page 0 still unflushed when the incremental copied it); both redo logs
/// name it as the same space. The incremental's `.new` moved the target's copy out of its way,
/// and that copy, holding the space id the redo gave it, kept the `.new` from taking it: the
/// second incremental's empty delta of that space found nothing ("no tablespace in the target
/// has space id ... and the delta has no page 0"), while `mariabackup --prepare` restores the
/// chain. The copy the `.new` replaces is the same tablespace, older: the `.new` takes its id.
#[test]
fn a_new_copy_with_page_0_unwritten_replaces_the_targets_copy_of_that_space() {
    let (_d, base, incs) = unflushed_new_then_delta(8, "tn");
    fs::write(base.join("fx/tn.new"), vec![0u8; 4 * 16384]).unwrap();
    let mut create = vec![0x80 | 13, 8, 0];
    create.extend_from_slice(b"./fx/tn.ibd");
    log_after_checkpoint(&base, &create);
    run(&base, &incs).unwrap();
    let t = tree(&base);
    assert_eq!(
        t.get(Path::new("fx/tn.ibd")).map(Vec::len),
        Some(4 * 16384),
        "{:?}",
        t.keys().collect::<Vec<_>>()
    );
    assert!(!t.keys().any(|k| k.to_string_lossy().contains("tn.new")
        || k.to_string_lossy().contains("xtrabackup_tmp")));
    assert_eq!(
        t.get(Path::new("fx/t_small.ibd")),
        fs::read(Path::new(FIX).join("prepared/fx/t_small.ibd"))
            .ok()
            .as_ref()
    );
}
