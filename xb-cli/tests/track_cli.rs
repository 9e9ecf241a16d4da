//! `xb track` against a real, running MariaDB 10.11 (fails, never skips, without it):
//! `--follow` writes runs while the server works and finishes its run on SIGTERM (exit 0);
//! `--once` resumes where the files end; the bitmaps answer the range; `xb bitmap purge`
//! removes the older files; and a missing bitmap directory is refused without writing.
//! Across server restarts (clean stop and start, and a start that rebuilds the log with a new
//! `innodb_log_file_size`) tracking goes on without a gap, and a gap is recorded only when redo
//! not yet read is gone.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use innodb_page::Lsn;
use lsn_bitmap::BitmapDir;
use xb_testkit::sandbox::{page_lsns, short_tempdir, Sandbox, SandboxOptions};

/// One server at a time in this binary.
static ONE_SERVER: Mutex<()> = Mutex::new(());

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
    let _one = ONE_SERVER.lock().unwrap_or_else(|e| e.into_inner());
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

/// `xb track --follow --interval 0.2` on `dd`, writing into `bm`, stderr piped.
fn spawn_follow(dd: &Path, bm: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_xb"))
        .args(["track", "--follow", "--interval", "0.2", "--datadir"])
        .arg(dd)
        .arg("--bitmap-dir")
        .arg(bm)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits until the runs in `bm` reach `lsn`.
fn wait_tracked(bm: &Path, lsn: u64, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while tracked(bm).is_none_or(|l| l.get() < lsn) {
        if let Some(st) = child.try_wait().unwrap() {
            let mut err = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
            panic!("xb track exited ({st}) before tracking LSN {lsn}: {err}");
        }
        assert!(Instant::now() < deadline, "no run up to {lsn} written");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// SIGTERM, then the exit code and stderr.
fn stop(mut child: Child) -> (Option<i32>, String) {
    let st = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let deadline = Instant::now() + Duration::from_secs(30);
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
    (status.code(), err)
}

/// The sandbox in `dir` started again (its datadir kept) with `innodb_log_file_size` = `log`:
/// a size other than the running one makes the server rebuild `ib_logfile0` at start.
fn restart(server: Sandbox, dir: &Path, log: &str) -> Sandbox {
    let mut server = server;
    server.stop().expect("clean shutdown");
    drop(server);
    let opts = SandboxOptions::default().option("innodb_log_file_size", log);
    Sandbox::create(dir, &opts).expect("MariaDB restarts on its datadir")
}

fn space_of(server: &Sandbox, table: &str) -> u32 {
    server
        .query_u64(&format!(
            "SELECT SPACE FROM information_schema.INNODB_SYS_TABLES WHERE NAME = '{table}'"
        ))
        .unwrap() as u32
}

#[test]
fn track_follow_goes_on_across_server_restarts_without_a_gap() {
    let _one = ONE_SERVER.lock().unwrap_or_else(|e| e.into_inner());
    let t0 = Instant::now();
    let tmp = short_tempdir().unwrap();
    let server = Sandbox::create(tmp.path(), &SandboxOptions::default()).expect("MariaDB");
    let dd = server.datadir().to_path_buf();
    let bm = tmp.path().join("bitmaps");
    std::fs::create_dir(&bm).unwrap();
    let mut child = spawn_follow(&dd, &bm);
    server
        .sql_batch(
            "CREATE DATABASE d; USE d;
             CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(200)) ENGINE=InnoDB;
             INSERT INTO t SELECT seq, REPEAT('x', 150) FROM seq_1_to_3000;",
        )
        .unwrap();
    let ck = server.checkpoint().unwrap().checkpoint_lsn;
    wait_tracked(&bm, ck, &mut child);
    let first_start = BitmapDir::open(&bm).unwrap().files()[0].name.start_lsn;

    // A clean restart keeping the log, then one that rebuilds it (16M -> 32M), with writes in
    // between; the tracker runs throughout.
    let server = restart(server, tmp.path(), "16M");
    server
        .sql("UPDATE d.t SET v = 'one' WHERE id % 7 = 0")
        .unwrap();
    let ino = |p: &Path| std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(p).unwrap());
    let log = dd.join("ib_logfile0");
    let before = ino(&log);
    let server = restart(server, tmp.path(), "32M");
    assert_ne!(ino(&log), before, "the server did not rebuild ib_logfile0");
    let restarted_at = server.lsn_current().unwrap();
    server
        .sql_batch(
            "UPDATE d.t SET v = 'two' WHERE id % 5 = 0;
             CREATE TABLE d.t2 (id INT PRIMARY KEY, v VARCHAR(200)) ENGINE=InnoDB;
             INSERT INTO d.t2 SELECT seq, REPEAT('y', 150) FROM d.seq_1_to_2000;",
        )
        .unwrap();
    let ck = server.checkpoint().unwrap().checkpoint_lsn;
    wait_tracked(&bm, ck, &mut child);
    let (code, err) = stop(child);
    assert_eq!(code, Some(0), "{err}");
    assert!(!err.contains("GAP") && err.contains(", 0 gaps;"), "{err}");

    // The bitmaps answer the whole range (no gap) with every page the server wrote after the
    // last restart, as the page LSNs on disk say.
    let end = tracked(&bm).unwrap();
    let changed = BitmapDir::open(&bm)
        .unwrap()
        .changed_pages(first_start, end)
        .expect("no gap across the restarts");
    let t2 = space_of(&server, "d/t2");
    let mut checked = 0;
    for ((space, page), lsn) in page_lsns(&dd).unwrap() {
        if lsn >= restarted_at && lsn <= end.get() && space != 0xFFFF_FFFE {
            let hit = changed
                .space(space)
                .is_some_and(|s| s.contains(u32::try_from(page).unwrap()));
            assert!(
                hit,
                "page {space}:{page} (LSN {lsn}) changed after the restart is not in the bitmaps"
            );
            checked += 1;
        }
    }
    assert!(changed.space(t2).is_some_and(|s| s.len() > 10));
    assert!(checked > 20, "{checked} pages changed after the restart");
    assert!(t0.elapsed() < Duration::from_secs(60), "{:?}", t0.elapsed());
}

#[test]
fn track_records_a_gap_only_when_redo_was_lost() {
    let _one = ONE_SERVER.lock().unwrap_or_else(|e| e.into_inner());
    let t0 = Instant::now();
    let tmp = short_tempdir().unwrap();
    let mut server = Sandbox::create(tmp.path(), &SandboxOptions::default()).expect("MariaDB");
    let dd = server.datadir().to_path_buf();
    let bm = tmp.path().join("bitmaps");
    std::fs::create_dir(&bm).unwrap();
    let once = || {
        xb(&[
            "track",
            "--once",
            "--datadir",
            dd.to_str().unwrap(),
            "--bitmap-dir",
            bm.to_str().unwrap(),
        ])
    };
    server
        .sql_batch(
            "CREATE DATABASE d; USE d;
             CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(200)) ENGINE=InnoDB;
             INSERT INTO t SELECT seq, REPEAT('x', 150) FROM seq_1_to_3000;",
        )
        .unwrap();
    let (code, _, err) = once();
    assert_eq!(code, 0, "{err}");

    // Nothing lost: the tracker reads the log after the server stopped; the server then
    // rebuilds its log at start (16M -> 32M). The new log starts where the old one ended.
    server
        .sql("UPDATE d.t SET v = 'one' WHERE id % 7 = 0")
        .unwrap();
    server.stop().unwrap();
    let (code, _, err) = once();
    assert_eq!(code, 0, "{err}");
    let server = restart(server, tmp.path(), "32M");
    let (code, _, err) = once();
    assert_eq!(
        code, 0,
        "a rebuilt log that goes on where the bitmaps end: {err}"
    );
    assert!(
        err.contains("resuming at LSN") && !err.contains("GAP"),
        "{err}"
    );
    let first_start = BitmapDir::open(&bm).unwrap().files()[0].name.start_lsn;
    let end = tracked(&bm).unwrap();
    BitmapDir::open(&bm)
        .unwrap()
        .changed_pages(first_start, end)
        .expect("no gap");

    // Lost: the server writes while the tracker is not running, then rebuilds its log at a
    // restart (32M -> 16M): the redo between the bitmaps' end and the new log is gone.
    let before = tracked(&bm).unwrap();
    server
        .sql("UPDATE d.t SET v = 'two' WHERE id % 5 = 0")
        .unwrap();
    let server = restart(server, tmp.path(), "16M");
    let (code, _, err) = once();
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(&format!("GAP: changes from LSN {before}")) && err.contains("1 gaps"),
        "{err}"
    );
    let end = tracked(&bm).unwrap();
    let across = BitmapDir::open(&bm)
        .unwrap()
        .changed_pages(first_start, end);
    assert!(
        matches!(across, Err(lsn_bitmap::Error::LsnGap { .. })),
        "{across:?}"
    );
    drop(server);
    assert!(t0.elapsed() < Duration::from_secs(60), "{:?}", t0.elapsed());
}
