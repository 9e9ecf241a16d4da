//! I/O faults under the real `xb` binary: reads that fail with `EIO`, writes that fail with
//! `ENOSPC` or `EIO`, syncs that fail, short writes, injected by the `faultfs` `LD_PRELOAD`
//! library (`tests/faultfs`; device-mapper is not available to CI). Every case checks that
//! the fault really was injected (its log), that `xb` fails naming the file (and the offset
//! of a failed read), and that nothing incomplete is left looking complete: no
//! `xtrabackup_checkpoints` in a failed backup, no prepared base after a failed prepare, the
//! copy-back marker in a failed restore; then that a re-run without the fault finishes and
//! restores the source's data.
//!
//! One MariaDB server (stopped after its two cold backups) serves every test. Needs MariaDB
//! (fails without it).

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use common::{checkpoint_value, cold_backup, copy_dir, xb_ok, Out};
use xb_testkit::faults::{injected, Errno, Fault, FaultOp, Injected};
use xb_testkit::sandbox::{short_tempdir, Sandbox, SandboxOptions};

/// Rows of `d.t` (about 9 MiB of tablespace: several 2 MiB read units).
const ROWS: u32 = 20_000;

/// A byte offset inside `d/t.ibd`, past its first read units.
const READ_FAULT_AT: u64 = (3 << 20) + 5 * 16384;

/// One server started on a restored datadir at a time (two cores).
static SERVER: Mutex<()> = Mutex::new(());

struct Fixture {
    /// The source (stopped: its datadir does not change any more).
    source: Sandbox,
    /// A cold full backup of the source.
    full: PathBuf,
    /// A cold incremental on `full`.
    inc: PathBuf,
    /// `CHECKSUM TABLE` of the source's tables at the incremental.
    sums: BTreeMap<String, String>,
    _work: tempfile::TempDir,
}

const TABLES: [&str; 2] = ["d.t", "d.u"];

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let mut source = Sandbox::in_tempdir(&SandboxOptions::default()).expect("MariaDB sandbox");
        source
            .sql(&format!(
                "CREATE DATABASE d; USE d;
                 CREATE TABLE d.t (id INT PRIMARY KEY, pad VARCHAR(255)) ENGINE=InnoDB;
                 CREATE TABLE d.u (id INT PRIMARY KEY, v INT) ENGINE=InnoDB;
                 INSERT INTO d.t SELECT seq, REPEAT('x', 200) FROM seq_1_to_{ROWS};
                 INSERT INTO d.u SELECT seq, seq FROM seq_1_to_1000;"
            ))
            .expect("load");
        let work = short_tempdir().unwrap();
        let (full, inc) = (work.path().join("full"), work.path().join("inc"));
        cold_backup(&mut source, &full, None);
        source.start().expect("restart the source");
        source
            .sql(&format!(
                "USE d; UPDATE d.t SET pad = REPEAT('y', 200) WHERE id % 37 = 0;
                 INSERT INTO d.t SELECT seq, REPEAT('z', 100) FROM seq_{}_to_{};
                 UPDATE d.u SET v = v + 1 WHERE id < 100;",
                ROWS + 1,
                ROWS + 3000
            ))
            .expect("changes");
        let sums = source.checksum_tables(&TABLES).expect("checksums");
        cold_backup(&mut source, &inc, Some(&full));
        assert!(
            fs::metadata(source.datadir().join("d/t.ibd"))
                .unwrap()
                .len()
                > READ_FAULT_AT + (1 << 20),
            "d.t too small for the read fault"
        );
        Fixture {
            source,
            full,
            inc,
            sums,
            _work: work,
        }
    })
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// `xb ARGS` under `fault` (its log in `log`).
fn xb_faulty(args: &[String], fault: &Fault, log: &Path) -> Out {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xb"));
    cmd.args(args);
    fault.apply(&mut cmd, log).expect("faultfs");
    let o = cmd.output().expect("run xb");
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// The faults injected, at least one (else the test would prove nothing).
fn hits(log: &Path) -> Vec<Injected> {
    let h = injected(log).unwrap();
    assert!(!h.is_empty(), "no fault was injected");
    h
}

/// `xb` failed (not crashed), in one error line naming `file` and saying `errno`.
fn assert_failed(o: &Out, file: &str, errno: Errno) {
    eprintln!("{}", o.stderr.trim());
    assert!(
        o.code > 0,
        "xb did not fail (code {}):\n{}",
        o.code,
        o.all()
    );
    assert!(
        o.stderr.contains(file) && o.stderr.contains(errno.message()),
        "the error does not name {file} and {}:\n{}",
        errno.message(),
        o.all()
    );
}

fn backup_args(target: &Path, base: Option<&Path>, sync: bool) -> Vec<String> {
    let f = fixture();
    let mut a = vec![
        "--quiet".into(),
        "backup".into(),
        "--datadir".into(),
        s(f.source.datadir()),
        "--target-dir".into(),
        s(target),
    ];
    if !sync {
        a.push("--no-sync".into());
    }
    if let Some(b) = base {
        a.extend(["--incremental-basedir".into(), s(b)]);
    }
    a
}

/// A backup into `target` that fails under `fault`, naming `file`, leaving no
/// `xtrabackup_checkpoints`.
fn failed_backup(
    target: &Path,
    base: Option<&Path>,
    sync: bool,
    fault: &Fault,
    file: &str,
    errno: Errno,
) -> (Out, Vec<Injected>) {
    let log = target.with_extension("faults");
    let o = xb_faulty(&backup_args(target, base, sync), fault, &log);
    let h = hits(&log);
    assert_failed(&o, file, errno);
    assert!(
        !target.join("xtrabackup_checkpoints").exists(),
        "a failed backup has xtrabackup_checkpoints:\n{}",
        o.all()
    );
    (o, h)
}

#[test]
fn backup_read_eio_names_the_file_and_offset_and_is_never_complete() {
    let f = fixture();
    let work = short_tempdir().unwrap();
    let src = s(&f.source.datadir().join("d/t.ibd"));
    let fault = Fault::new(src, FaultOp::Read).offset(READ_FAULT_AT);
    for (name, base) in [("full", None), ("inc", Some(f.full.as_path()))] {
        let target = work.path().join(name);
        let (o, h) = failed_backup(&target, base, false, &fault, "t.ibd", Errno::Eio);
        let at = h[0].offset.unwrap();
        assert!(at + h[0].len.unwrap() > READ_FAULT_AT, "{h:?}");
        assert!(
            o.stderr.contains(&at.to_string()),
            "{name}: the error does not give the offset {at}:\n{}",
            o.all()
        );
        // a persistent bad region: same verdict
        let target = work.path().join(format!("{name}-repeat"));
        failed_backup(
            &target,
            base,
            false,
            &fault.clone().repeat(true),
            "t.ibd",
            Errno::Eio,
        );
    }
    // the other files a backup reads: a table definition, the redo log
    for file in ["d/t.frm", "ib_logfile0"] {
        let target = work.path().join(file.replace('/', "-"));
        let fault = Fault::new(s(&f.source.datadir().join(file)), FaultOp::Read);
        failed_backup(&target, None, false, &fault, file, Errno::Eio);
    }
}

/// `xb verify` and `xb inspect` read tablespaces with `pread`, not through a memory map: a
/// disk error (or a file truncated under a live datadir's verify) must be an error naming the
/// file, not a `SIGBUS` that kills xb without a word.
#[test]
fn verify_and_inspect_read_eio_is_an_error_naming_the_file() {
    let f = fixture();
    let work = short_tempdir().unwrap();
    let datadir = f.source.datadir();
    let cases: [(&str, Vec<String>, String); 3] = [
        (
            "verify of a datadir",
            vec!["verify".into(), s(datadir)],
            s(&datadir.join("d/t.ibd")),
        ),
        (
            "verify of a backup chain",
            vec!["verify".into(), s(&f.full), s(&f.inc)],
            s(&f.full.join("d/t.ibd")),
        ),
        (
            "inspect",
            vec![
                "inspect".into(),
                "--pages".into(),
                s(&datadir.join("d/t.ibd")),
            ],
            s(&datadir.join("d/t.ibd")),
        ),
    ];
    for (i, (what, args, file)) in cases.into_iter().enumerate() {
        let log = work.path().join(format!("{i}.faults"));
        let fault = Fault::new(file, FaultOp::Read).offset(READ_FAULT_AT);
        let o = xb_faulty(&args, &fault, &log);
        let h = injected(&log).unwrap();
        assert!(
            !h.is_empty(),
            "{what}: no read of t.ibd went through read/pread (a memory map?): code {}\n{}",
            o.code,
            o.all()
        );
        assert_failed(&o, "t.ibd", Errno::Eio);
    }
}

#[test]
fn backup_write_enospc_or_eio_is_never_complete() {
    let f = fixture();
    let work = short_tempdir().unwrap();
    for (name, errno, base) in [
        ("full-enospc", Errno::Enospc, None),
        ("inc-enospc", Errno::Enospc, Some(f.full.as_path())),
        ("full-eio", Errno::Eio, None),
    ] {
        let target = work.path().join(name);
        // the file system fills up in the middle of d/t.ibd's copy (or its delta)
        let fault = Fault::new(s(&target.join("d/t.ibd")), FaultOp::Write)
            .errno(errno)
            .offset(1 << 20)
            .repeat(true);
        failed_backup(&target, base, true, &fault, "t.ibd", errno);
    }
    // the last file: xtrabackup_checkpoints itself cannot be written
    let target = work.path().join("checkpoints");
    let fault =
        Fault::new(s(&target.join("xtrabackup_checkpoints")), FaultOp::Write).errno(Errno::Enospc);
    failed_backup(
        &target,
        None,
        false,
        &fault,
        "xtrabackup_checkpoints",
        Errno::Enospc,
    );
}

#[test]
fn backup_whose_sync_fails_is_never_complete() {
    let work = short_tempdir().unwrap();
    // the sync before xtrabackup_checkpoints, the final sync, and every sync of the target
    // (the writeback hints, whose failure alone is harmless, included)
    for name in ["first", "final", "all"] {
        let target = work.path().join(name);
        let on = Fault::new(s(&target), FaultOp::Fsync);
        let fault = match name {
            "first" => on.call("syncfs"),
            "final" => on.call("syncfs").nth(2),
            _ => on.repeat(true),
        };
        let (_, h) = failed_backup(&target, None, true, &fault, &s(&target), Errno::Eio);
        assert!(h.iter().any(|i| i.call == "syncfs"), "{name}: {h:?}");
    }
}

#[test]
fn backup_under_short_writes_is_whole() {
    let work = short_tempdir().unwrap();
    let (target, plain) = (work.path().join("b"), work.path().join("plain"));
    xb_ok(&backup_args(&plain, None, false));
    let log = work.path().join("faults");
    let fault = Fault::new(s(&target), FaultOp::Write)
        .short(true)
        .repeat(true);
    let o = xb_faulty(&backup_args(&target, None, false), &fault, &log);
    assert_eq!(o.code, 0, "{}", o.all());
    assert!(hits(&log).len() > 10);
    for file in ["ibdata1", "d/t.ibd", "d/u.ibd", "d/t.frm", "ib_logfile0"] {
        assert!(
            fs::read(target.join(file)).unwrap() == fs::read(plain.join(file)).unwrap(),
            "{file} differs from the same backup without short writes"
        );
    }
    assert!(target.join("xtrabackup_checkpoints").exists());
}

/// Copies back `backup` into a new datadir under `work`, starts a server on it and compares
/// its tables with the source's.
fn restore_and_check(backup: &Path, work: &Path) {
    let datadir = work.join("restored");
    xb_ok(&[
        "--quiet".into(),
        "copy-back".into(),
        "--target-dir".into(),
        s(backup),
        "--datadir".into(),
        s(&datadir),
    ]);
    check_restored(&datadir, work);
}

/// Starts a server on `datadir` and compares its tables with the source's.
fn check_restored(datadir: &Path, work: &Path) {
    let f = fixture();
    let _one = SERVER.lock().unwrap_or_else(|e| e.into_inner());
    let mut r = Sandbox::on_datadir(work.join("run"), datadir, &SandboxOptions::default())
        .expect("server on the restored datadir");
    assert_eq!(r.checksum_tables(&TABLES).unwrap(), f.sums);
    r.stop().unwrap();
}

fn prepare_args(base: &Path) -> Vec<String> {
    let f = fixture();
    vec![
        "--quiet".into(),
        "prepare".into(),
        "--target-dir".into(),
        s(base),
        "--incremental-dir".into(),
        s(&f.inc),
    ]
}

#[test]
fn prepare_out_of_space_midway_resumes_after_space_is_freed() {
    let f = fixture();
    let work = short_tempdir().unwrap();
    let base = work.path().join("base");
    copy_dir(&f.full, &base).unwrap();
    let before = fs::read(base.join("xtrabackup_checkpoints")).unwrap();
    let base_to = checkpoint_value(&base, "to_lsn");
    let inc_to = checkpoint_value(&f.inc, "to_lsn");
    assert!(inc_to > base_to);
    // the first page write into d/t.ibd goes through, every later one finds the disk full
    let log = work.path().join("faults");
    let fault = Fault::new(s(&base.join("d/t.ibd")), FaultOp::Write)
        .errno(Errno::Enospc)
        .nth(2)
        .repeat(true);
    let o = xb_faulty(&prepare_args(&base), &fault, &log);
    hits(&log);
    assert_failed(&o, "t.ibd", Errno::Enospc);
    // not reported prepared: the base's metadata is unchanged, and nothing restores it
    assert_eq!(
        fs::read(base.join("xtrabackup_checkpoints")).unwrap(),
        before
    );
    let restored = work.path().join("refused");
    let o = common::xb(&[
        "copy-back".into(),
        "--target-dir".into(),
        s(&base),
        "--datadir".into(),
        s(&restored),
    ]);
    assert!(
        o.code > 0,
        "copy-back of a half-prepared base:\n{}",
        o.all()
    );
    // the re-run meets a disk whose writeback fails (every fsync of d/t.ibd): fails again
    let log = work.path().join("fsync.faults");
    let fault = Fault::new(s(&base.join("d/t.ibd")), FaultOp::Fsync).repeat(true);
    let o = xb_faulty(&prepare_args(&base), &fault, &log);
    hits(&log);
    assert_failed(&o, "t.ibd", Errno::Eio);
    assert_eq!(
        fs::read(base.join("xtrabackup_checkpoints")).unwrap(),
        before
    );
    // space freed: the same command finishes the prepare
    xb_ok(&prepare_args(&base));
    assert_eq!(checkpoint_value(&base, "to_lsn"), inc_to);
    restore_and_check(&base, work.path());
}

#[test]
fn prepare_read_eio_of_a_delta_fails_then_a_rerun_finishes() {
    let f = fixture();
    let work = short_tempdir().unwrap();
    let base = work.path().join("base");
    copy_dir(&f.full, &base).unwrap();
    let log = work.path().join("faults");
    let fault = Fault::new(s(&f.inc.join("d/t.ibd.delta")), FaultOp::Read)
        .offset(1 << 20)
        .repeat(true);
    let o = xb_faulty(&prepare_args(&base), &fault, &log);
    hits(&log);
    assert_failed(&o, "t.ibd.delta", Errno::Eio);
    assert_eq!(
        checkpoint_value(&base, "to_lsn"),
        checkpoint_value(&f.full, "to_lsn")
    );
    xb_ok(&prepare_args(&base));
    assert_eq!(
        checkpoint_value(&base, "to_lsn"),
        checkpoint_value(&f.inc, "to_lsn")
    );
}

#[test]
fn copy_back_write_error_leaves_the_datadir_unfinished_then_a_rerun_restores() {
    let f = fixture();
    let work = short_tempdir().unwrap();
    let base = work.path().join("base");
    copy_dir(&f.full, &base).unwrap();
    xb_ok(&prepare_args(&base));
    let datadir = work.path().join("restored");
    let marker = datadir.join(incremental_core::copy_back::MARKER);
    let args = |dd: &Path| -> Vec<String> {
        vec![
            "--quiet".into(),
            "copy-back".into(),
            "--target-dir".into(),
            s(&base),
            "--datadir".into(),
            s(dd),
        ]
    };
    for (name, fault, errno, file) in [
        (
            "enospc",
            Fault::new(s(&datadir.join("d/t.ibd")), FaultOp::Write)
                .errno(Errno::Enospc)
                .offset(1 << 20)
                .repeat(true),
            Errno::Enospc,
            "t.ibd",
        ),
        (
            "sync-eio",
            Fault::new(s(&datadir), FaultOp::Fsync).repeat(true),
            Errno::Eio,
            "restored",
        ),
    ] {
        let log = work.path().join(format!("{name}.faults"));
        let o = xb_faulty(&args(&datadir), &fault, &log);
        hits(&log);
        assert_failed(&o, file, errno);
        assert!(
            marker.exists(),
            "{name}: a failed copy-back left no marker:\n{}",
            o.all()
        );
    }
    // the re-run over the unfinished datadir starts over and finishes
    xb_ok(&args(&datadir));
    assert!(!marker.exists());
    check_restored(&datadir, work.path());
}

#[test]
fn prepare_and_copy_back_under_short_writes_are_byte_identical() {
    let f = fixture();
    let work = short_tempdir().unwrap();
    let (base, plain) = (work.path().join("base"), work.path().join("plain"));
    copy_dir(&f.full, &base).unwrap();
    copy_dir(&f.full, &plain).unwrap();
    xb_ok(&prepare_args(&plain));
    let log = work.path().join("faults");
    let short = |dir: &Path| Fault::new(s(dir), FaultOp::Write).short(true).repeat(true);
    let o = xb_faulty(&prepare_args(&base), &short(&base), &log);
    assert_eq!(o.code, 0, "{}", o.all());
    let n = hits(&log).len();
    let datadir = work.path().join("restored");
    let args = [
        "--quiet".into(),
        "copy-back".into(),
        "--target-dir".into(),
        s(&base),
        "--datadir".into(),
        s(&datadir),
    ];
    let o = xb_faulty(&args, &short(&datadir), &log);
    assert_eq!(o.code, 0, "{}", o.all());
    assert!(hits(&log).len() > n, "no short write in the copy-back");
    for file in ["ibdata1", "d/t.ibd", "d/u.ibd", "ib_logfile0"] {
        let want = fs::read(plain.join(file)).unwrap();
        assert!(
            fs::read(base.join(file)).unwrap() == want,
            "prepared {file} differs from the same prepare without short writes"
        );
        assert!(
            fs::read(datadir.join(file)).unwrap() == want,
            "restored {file} differs from the backup's"
        );
    }
}

#[test]
fn hot_backup_under_faults_fails_without_checkpoints_and_releases_the_server() {
    let sb = Sandbox::in_tempdir(&SandboxOptions::default()).expect("MariaDB sandbox");
    sb.sql(
        "CREATE DATABASE h; USE h;
         CREATE TABLE h.t (id INT PRIMARY KEY, pad VARCHAR(255)) ENGINE=InnoDB;
         INSERT INTO h.t SELECT seq, REPEAT('x', 200) FROM seq_1_to_20000;",
    )
    .expect("load");
    sb.checkpoint().expect("checkpoint"); // the tablespace is on disk, page 0 included
    let work = short_tempdir().unwrap();
    let sock = sb.socket();
    for (name, fault, file, errno) in [
        (
            "read",
            Fault::new(s(&sb.datadir().join("h/t.ibd")), FaultOp::Read).offset(READ_FAULT_AT),
            "t.ibd",
            Errno::Eio,
        ),
        (
            "redo",
            Fault::new(s(&work.path().join("redo/ib_logfile0")), FaultOp::Write)
                .errno(Errno::Enospc),
            "ib_logfile0",
            Errno::Enospc,
        ),
    ] {
        let target = work.path().join(name);
        let log = work.path().join(format!("{name}.faults"));
        let args = [
            "backup".into(),
            "--no-defaults".into(),
            "--socket".into(),
            s(&sock),
            "--user".into(),
            "root".into(),
            "--datadir".into(),
            s(sb.datadir()),
            "--target-dir".into(),
            s(&target),
            "--no-sync".into(),
        ];
        let o = xb_faulty(&args, &fault, &log);
        hits(&log);
        assert_failed(&o, file, errno);
        assert!(
            !target.join("xtrabackup_checkpoints").exists(),
            "{name}: a failed hot backup has xtrabackup_checkpoints:\n{}",
            o.all()
        );
        // the server is not left blocked: DDL and commits go on
        sb.sql("CREATE TABLE h.after (id INT) ENGINE=InnoDB; INSERT INTO h.after VALUES (1); DROP TABLE h.after")
            .expect("the server is released");
    }
}
