//! The scheduled-backup example the Debian package ships (`xb-cli/debian/xb-scheduled-backup`,
//! run by `xb-backup.service`), against a real MariaDB 10.11: the first run takes a full in a
//! new chain, the next one an incremental on it, the chain verifies as restorable, and a failed
//! run leaves no directory behind for the next run to build on.

use std::path::{Path, PathBuf};
use std::process::Command;

use xb_testkit::sandbox::{short_tempdir, Sandbox, SandboxOptions};

fn run_script(server: &Sandbox, root: &Path, socket: &Path) -> (i32, String) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("debian/xb-scheduled-backup");
    let out = Command::new(script)
        .env("XB", env!("CARGO_BIN_EXE_xb"))
        .env("XB_DATADIR", server.datadir())
        .env("XB_BACKUP_ROOT", root)
        .env("XB_BITMAP_DIR", root.join("no-bitmaps"))
        // No weekday is 0: a full only when the chain has none (the test may cross midnight).
        .env("XB_FULL_WEEKDAY", "0")
        .env(
            "XB_BACKUP_OPTIONS",
            format!("--no-defaults --socket {} --user root", socket.display()),
        )
        .output()
        .expect("run xb-scheduled-backup");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn dirs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|r| r.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn weekly_full_then_daily_incremental_and_failures_leave_nothing() {
    let server = Sandbox::in_tempdir(&SandboxOptions::default()).expect("MariaDB sandbox");
    let tmp = short_tempdir().unwrap();
    let root = tmp.path().join("backups");
    server
        .sql_batch(
            "CREATE DATABASE d; USE d;
             CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(100)) ENGINE=InnoDB;
             INSERT INTO t SELECT seq, 'a' FROM seq_1_to_2000;",
        )
        .unwrap();
    let (code, err) = run_script(&server, &root, &server.socket());
    assert_eq!(code, 0, "{err}");
    assert!(err.is_empty(), "xb runs with -q: {err}");
    let chains = dirs(&root);
    assert_eq!(chains.len(), 1, "{chains:?}");
    let chain = &chains[0];
    assert!(chain.join("full/xtrabackup_checkpoints").is_file());

    server
        .sql("UPDATE d.t SET v = 'b' WHERE id % 3 = 0")
        .unwrap();
    let (code, err) = run_script(&server, &root, &server.socket());
    assert_eq!(code, 0, "{err}");
    let backups = dirs(chain);
    assert_eq!(backups.len(), 2, "{backups:?}");
    let inc = &backups[1];
    assert!(inc
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("inc-"));
    let cp = std::fs::read_to_string(inc.join("xtrabackup_checkpoints")).unwrap();
    assert!(cp.contains("backup_type = incremental"), "{cp}");
    let out = Command::new(env!("CARGO_BIN_EXE_xb"))
        .arg("verify")
        .args(&backups)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("restorable: yes"),
        "{text}"
    );

    // A failing run (no server on that socket): exit status of xb, no partial directory.
    std::thread::sleep(std::time::Duration::from_millis(1100)); // a new timestamp
    let (code, err) = run_script(&server, &root, &tmp.path().join("nosock"));
    assert_ne!(code, 0, "{err}");
    assert!(err.contains("xb: error"), "{err}");
    assert_eq!(dirs(chain), backups);
    assert_eq!(dirs(&root), chains);
}
