//! `xb prepare --apply-redo` against MariaDB 10.11: the private server dies with xb (`kill -9`
//! of xb while it runs), a re-run finishes the step and the restore has the source's data; the
//! prepared backup keeps only a small redo log. Needs MariaDB (fails without it).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use xb_testkit::load::{self, Load};
use xb_testkit::sandbox::{short_tempdir, Sandbox, SandboxOptions};

/// One server-heavy test at a time.
static ONE_SERVER: Mutex<()> = Mutex::new(());

const BIG_ROWS: u32 = 3_000;

/// The source's redo log: larger than what the prepared backup may keep.
const SOURCE_LOG: u64 = 16 << 20;

/// The most a prepared backup's `ib_logfile0` may hold: the server's smallest
/// `innodb_log_file_size` (4 MiB); mariabackup --prepare leaves 12 KiB.
const PREPARED_LOG_MAX: u64 = 4 << 20;

fn options() -> SandboxOptions {
    SandboxOptions::default()
        .option("innodb_log_file_size", "16M")
        .option("innodb_flush_log_at_trx_commit", "2")
}

fn xb(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_xb"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A hot full backup taken under load, then a hot incremental of the idle server; returns the
/// two directories and the source's checksums at the end.
fn backups(
    sb: &Sandbox,
    work: &Path,
) -> (PathBuf, PathBuf, std::collections::BTreeMap<String, String>) {
    let (full, inc1) = (work.join("full"), work.join("inc1"));
    let sock = sb.socket();
    let running = Load::start(&sock, BIG_ROWS).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let conn = [
        "--socket",
        s(&sock),
        "--user",
        "root",
        "--no-defaults",
        "--no-sync",
    ];
    let mut args = vec![
        "backup",
        "--datadir",
        s(sb.datadir()),
        "--target-dir",
        s(&full),
    ];
    args.extend(conn);
    let (code, err) = xb(&args);
    running.stop().unwrap();
    assert_eq!(code, 0, "{err}");
    let mut args = vec![
        "backup",
        "--target-dir",
        s(&inc1),
        "--incremental-basedir",
        s(&full),
    ];
    args.extend(conn);
    let (code, err) = xb(&args);
    assert_eq!(code, 0, "{err}");
    (full, inc1, load::checksums(&sock).unwrap())
}

/// Whether process `pid` runs (a zombie does not).
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z')),
        Err(_) => false,
    }
}

/// Restores `backup`, starts a server on it and checks its data against `reference`.
fn restore_and_check(
    backup: &Path,
    work: &Path,
    reference: &std::collections::BTreeMap<String, String>,
) {
    let restored = work.join("restored");
    let (code, err) = xb(&[
        "copy-back",
        "--target-dir",
        s(backup),
        "--datadir",
        s(&restored),
    ]);
    assert_eq!(code, 0, "{err}");
    let run = short_tempdir().unwrap();
    let r = Sandbox::on_datadir(run.path(), &restored, &options()).expect("restored server");
    let log = std::fs::read_to_string(r.error_log()).unwrap();
    assert!(!log.contains("Starting crash recovery"), "{log}");
    load::check(&r.socket(), BIG_ROWS).unwrap();
    assert_eq!(&load::checksums(&r.socket()).unwrap(), reference);
}

#[test]
fn kill_9_during_apply_redo_takes_the_private_server_along_and_a_rerun_finishes() {
    let _one = ONE_SERVER.lock().unwrap_or_else(|e| e.into_inner());
    let sb = Sandbox::in_tempdir(&options()).expect("MariaDB sandbox");
    Load::setup(&sb.socket(), BIG_ROWS).unwrap();
    let work = short_tempdir().unwrap();
    let (full, inc1, reference) = backups(&sb, work.path());
    let prepare = [
        "prepare",
        "--target-dir",
        s(&full),
        "--incremental-dir",
        s(&inc1),
        "--apply-redo",
    ];

    // kill -9 of xb as soon as its private server holds the backup
    let stderr = std::fs::File::create(work.path().join("killed.err")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_xb"))
        .args(prepare)
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    let server = loop {
        if let Some(pid) = innodb_page::datadir::server_holding(&full) {
            break pid;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "xb prepare ended before its server was seen: {}",
            std::fs::read_to_string(work.path().join("killed.err")).unwrap_or_default()
        );
        assert!(t0.elapsed() < Duration::from_secs(60), "no private server");
        std::thread::sleep(Duration::from_millis(5));
    };
    assert_ne!(server as u32, child.id());
    child.kill().unwrap();
    child.wait().unwrap();
    // dead, and its locks gone (a killed server's last threads may take a moment to exit)
    let t1 = Instant::now();
    let holds = || innodb_page::datadir::server_holding(&full).is_some();
    while (alive(server) || holds()) && t1.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    eprintln!("private server gone {:?} after the kill", t1.elapsed());
    let survived = alive(server);
    if survived {
        // SAFETY: the private server this test's xb started; leave no stray server behind.
        unsafe { libc::kill(server, libc::SIGKILL) };
    }
    assert!(
        !survived,
        "the private mariadbd (process {server}) outlived xb by 10 s"
    );
    assert!(
        !holds(),
        "a process still holds the backup 10 s after the kill"
    );

    // the pages were changed by the server: nothing can be merged or restored until finished
    let (code, err) = xb(&[
        "prepare",
        "--target-dir",
        s(&full),
        "--incremental-dir",
        s(&inc1),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--apply-redo"), "{err}");
    let (code, err) = xb(&[
        "copy-back",
        "--target-dir",
        s(&full),
        "--datadir",
        s(&work.path().join("refused")),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--apply-redo"), "{err}");

    // the same command again finishes the step, and removes what the killed run left
    let (code, err) = xb(&prepare);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("redo applied and server shut down cleanly"),
        "{err}"
    );
    let cps = std::fs::read_to_string(full.join("xtrabackup_checkpoints")).unwrap();
    assert!(cps.contains("backup_type = log-applied"), "{cps}");
    let leftovers: Vec<String> = std::fs::read_dir("/tmp")
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&format!("xb-redo-{}-", child.id())))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let (code, err) = xb(&prepare);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("already prepared"), "{err}");

    restore_and_check(&full, work.path(), &reference);
}

#[test]
fn apply_redo_leaves_a_small_redo_log() {
    let _one = ONE_SERVER.lock().unwrap_or_else(|e| e.into_inner());
    let sb = Sandbox::in_tempdir(&options()).expect("MariaDB sandbox");
    Load::setup(&sb.socket(), BIG_ROWS).unwrap();
    let work = short_tempdir().unwrap();
    let (full, inc1, reference) = backups(&sb, work.path());
    let log = full.join("ib_logfile0");
    let cnf = std::fs::read_to_string(full.join("backup-my.cnf")).unwrap();
    assert!(
        cnf.contains(&format!("innodb_log_file_size={SOURCE_LOG}")),
        "{cnf}"
    );

    let (code, err) = xb(&[
        "prepare",
        "--target-dir",
        s(&full),
        "--incremental-dir",
        s(&inc1),
        "--apply-redo",
    ]);
    assert_eq!(code, 0, "{err}");
    let size = std::fs::metadata(&log).unwrap().len();
    assert!(
        size <= PREPARED_LOG_MAX,
        "ib_logfile0 of the prepared backup: {size} bytes, more than {PREPARED_LOG_MAX}"
    );

    // a server with the source's settings starts on the restore (it resizes the log) and has
    // the source's data
    restore_and_check(&full, work.path(), &reference);
}
