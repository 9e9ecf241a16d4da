//! `xb copy-back` with mariabackup's options, on the real fixture backup (no server: the
//! restored datadirs are started by incremental-core's restore_set_mariadb test).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn data(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data/mariadb-10.11")
        .join(p)
}

fn xb(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xb"))
        .args(args)
        .output()
        .expect("run xb")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn layout_parallel_move_and_non_empty_directories() {
    let t = tempfile::tempdir().unwrap();
    let full = t.path().join("full");
    xb_testkit::sandbox::copy_dir(&data("backup/full"), &full).unwrap();
    let (dd, redo) = (t.path().join("dd"), t.path().join("redo"));
    let out = xb(&[
        "copy-back",
        "--target-dir",
        s(&full),
        "--datadir",
        s(&dd),
        "--parallel",
        "2",
        "--innodb-log-group-home-dir",
        s(&redo),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let cmd = String::from_utf8_lossy(&out.stdout);
    assert!(
        cmd.contains(&format!("--innodb-log-group-home-dir={}", redo.display())),
        "{cmd}"
    );
    assert!(redo.join("ib_logfile0").exists() && !dd.join("ib_logfile0").exists());
    assert!(dd.join("fx/t_small.ibd").exists());

    // a non-empty datadir: refused, unless asked; an existing file is named
    let dd2 = t.path().join("dd2");
    std::fs::create_dir_all(dd2.join("fx")).unwrap();
    std::fs::write(dd2.join("keep"), b"x").unwrap();
    let args = ["copy-back", "--target-dir", s(&full), "--datadir", s(&dd2)];
    let out = xb(&args);
    assert_eq!(out.status.code(), Some(2));
    let force = [&args[..], &["--force-non-empty-directories"]].concat();
    let out = xb(&force);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = xb(&force);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("exists already"), "{err}");

    // a relative datadir: the start command names it absolute
    let out = Command::new(env!("CARGO_BIN_EXE_xb"))
        .args(["copy-back", "--target-dir", s(&full), "--datadir", "rel"])
        .current_dir(t.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cmd = String::from_utf8_lossy(&out.stdout);
    let abs = t.path().join("rel");
    assert!(
        cmd.starts_with(&format!("mariadbd --datadir={} ", abs.display()))
            || cmd.trim() == format!("mariadbd --datadir={}", abs.display()),
        "{cmd}"
    );

    // a move empties the backup of the files it restores
    let dd3 = t.path().join("dd3");
    let out = xb(&[
        "copy-back",
        "--move-back",
        "--target-dir",
        s(&full),
        "--datadir",
        s(&dd3),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dd3.join("fx/t_small.ibd").exists() && !full.join("fx/t_small.ibd").exists());
}
