//! `xb track` against a real, running MariaDB 10.11 (fails, never skips, without it):
//! `--follow` writes runs while the server works and finishes its run on SIGTERM (exit 0);
//! `--once` resumes where the files end; the bitmaps answer the range; `xb bitmap purge`
//! removes the older files; and a missing bitmap directory is refused without writing.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use innodb_page::Lsn;
use lsn_bitmap::BitmapDir;
use xb_testkit::sandbox::{Sandbox, SandboxOptions};

fn xb(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_xb"))
        .args(args)
        .output()
        .expect("run xb");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// End LSN of the last complete run in `dir`.
fn tracked(dir: &Path) -> Option<Lsn> {
    let d = BitmapDir::open(dir).ok()?;
    d.files()
        .iter()
        .filter_map(|f| {
            lsn_bitmap::verify_file(&f.path, Some(f.name.start_lsn))
                .ok()?
                .last_lsn
        })
        .max()
}

#[test]
fn track_follow_stops_on_sigterm_then_once_resumes_and_purge() {
    let t0 = Instant::now();
    let server = Sandbox::in_tempdir(&SandboxOptions::default()).expect("MariaDB sandbox");
    let dd = server.datadir().to_path_buf();
    let bm = server.dir().join("bitmaps");
    let (code, _, err) = xb(&[
        "track",
        "--datadir",
        dd.to_str().unwrap(),
        "--bitmap-dir",
        bm.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("bitmap directory") && err.contains("create it"),
        "{err}"
    );
    std::fs::create_dir(&bm).unwrap();

    let mut child = Command::new(env!("CARGO_BIN_EXE_xb"))
        .args(["track", "--follow", "--interval", "0.2", "--datadir"])
        .arg(&dd)
        .arg("--bitmap-dir")
        .arg(&bm)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    server
        .sql_batch(
            "CREATE DATABASE d; USE d;
             CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(200)) ENGINE=InnoDB;
             INSERT INTO t SELECT seq, REPEAT('x', 150) FROM seq_1_to_3000;",
        )
        .unwrap();
    let ck = server.checkpoint().unwrap().checkpoint_lsn;
    // The follower writes a run up to (at least) that checkpoint.
    let deadline = Instant::now() + Duration::from_secs(20);
    while tracked(&bm).is_none_or(|l| l.get() < ck) {
        assert!(Instant::now() < deadline, "no run up to {ck} written");
        std::thread::sleep(Duration::from_millis(100));
    }
    // SIGTERM: the run in progress is finished, exit 0.
    let st = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "xb track did not exit on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(err.contains("track: run LSN"), "{err}");
    assert!(err.contains("tracked to LSN"), "{err}");
    let first_start = BitmapDir::open(&bm).unwrap().files()[0].name.start_lsn;

    // More changes, then --once resumes where the files end.
    server
        .sql("UPDATE d.t SET v = 'changed' WHERE id % 9 = 0")
        .unwrap();
    let ck2 = server.checkpoint().unwrap().checkpoint_lsn;
    let (code, _, err) = xb(&[
        "track",
        "--once",
        "--datadir",
        dd.to_str().unwrap(),
        "--bitmap-dir",
        bm.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("resuming at LSN"), "{err}");
    let end = tracked(&bm).unwrap();
    assert!(end.get() >= ck2, "{end} < {ck2}: {err}");
    let d = BitmapDir::open(&bm).unwrap();
    assert!(d.files().len() >= 2);
    let changed = d.changed_pages(Lsn::new(first_start.get()), end).unwrap();
    let space = server
        .query_u64("SELECT SPACE FROM information_schema.INNODB_SYS_TABLES WHERE NAME = 'd/t'")
        .unwrap() as u32;
    assert!(changed.space(space).is_some_and(|s| s.len() > 10));

    // Purge: the files before the newest one's start go; the newest stays.
    let newest = d.files().last().unwrap().clone();
    let before = newest.name.start_lsn.get().to_string();
    let (code, out, _) = xb(&[
        "bitmap",
        "purge",
        bm.to_str().unwrap(),
        "--before",
        &before,
        "--dry-run",
    ]);
    assert_eq!(code, 0);
    assert!(out.contains("would remove"), "{out}");
    assert_eq!(BitmapDir::open(&bm).unwrap().files().len(), d.files().len());
    let (code, out, _) = xb(&["bitmap", "purge", bm.to_str().unwrap(), "--before", &before]);
    assert_eq!(code, 0);
    assert!(out.contains("removed"), "{out}");
    let left = BitmapDir::open(&bm).unwrap();
    assert!(left.files().iter().any(|f| f.path == newest.path));
    assert!(left.files().len() < d.files().len());
    assert!(t0.elapsed() < Duration::from_secs(60), "{:?}", t0.elapsed());
}
