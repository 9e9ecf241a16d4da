//! `xb backup --slave-info`, `--safe-slave-backup`, `--galera-info` on the command line: the
//! flags reach the library (a server that is neither a replica nor a Galera node says so and
//! gets no file, as with mariabackup), and `--slave-info --no-lock` without
//! `--safe-slave-backup` is refused before anything is written, as mariabackup refuses it. The
//! files themselves, on a real replica and a real Galera node, are tested in
//! `incremental-core/tests/hot_replica.rs`. Needs MariaDB (fails without it).

use std::path::Path;
use std::process::Command;

use xb_testkit::sandbox::{short_tempdir, Sandbox, SandboxOptions};

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

#[test]
fn slave_info_without_lock_needs_safe_slave_backup() {
    let work = short_tempdir().unwrap();
    let target = work.path().join("b");
    let (code, err) = xb(&[
        "backup",
        "--datadir",
        s(work.path()),
        "--target-dir",
        s(&target),
        "--slave-info",
        "--no-lock",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--slave-info with --no-lock needs --safe-slave-backup"),
        "{err}"
    );
    assert!(!target.exists(), "nothing is written before the refusal");
}

#[test]
fn replication_flags_on_a_server_that_is_neither_replica_nor_galera_node() {
    let sb = Sandbox::in_tempdir(&SandboxOptions::default()).expect("MariaDB sandbox");
    let work = short_tempdir().unwrap();
    let target = work.path().join("b");
    let socket = sb.socket();
    let (code, err) = xb(&[
        "backup",
        "--no-defaults",
        "--socket",
        s(&socket),
        "--user",
        "root",
        "--target-dir",
        s(&target),
        "--no-sync",
        "--slave-info",
        "--safe-slave-backup",
        "--galera-info",
    ]);
    assert_eq!(code, 0, "{err}");
    for note in [
        "not a replica",
        "replicates from no source",
        "not a Galera node",
    ] {
        assert!(err.contains(note), "no note {note:?} in:\n{err}");
    }
    assert!(target.join("xtrabackup_checkpoints").exists());
    for file in [
        "xtrabackup_slave_info",
        "xtrabackup_galera_info",
        "donor_galera_info",
    ] {
        assert!(!target.join(file).exists(), "{file}");
    }
}
