//! `xb backup` against a running MariaDB 10.11 (hot mode chosen because the datadir is in use
//! and the server can be reached through the option file), then `xb prepare --apply-redo` and
//! a server started on the result without crash recovery; and cold mode once the server is
//! stopped. Needs MariaDB (fails without it).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use xb_testkit::load::{self, Load};
use xb_testkit::sandbox::{short_tempdir, Sandbox, SandboxOptions};

const BIG_ROWS: u32 = 5_000;

/// Runs xb with `args`, and `--throttle=N` (MiB/s) when `throttle` is given.
fn xb(args: &[&str], throttle: Option<u32>) -> (i32, String, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_xb"));
    c.args(args);
    if let Some(n) = throttle {
        c.arg(format!("--throttle={n}"));
    }
    let out = c.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn hot_backups_from_the_command_line_then_prepare_apply_redo() {
    let opts = SandboxOptions::default()
        .option("innodb_log_file_size", "8M")
        .option("innodb_max_dirty_pages_pct", "5")
        .option("innodb_flush_log_at_trx_commit", "2");
    let mut sb = Sandbox::in_tempdir(&opts).expect("MariaDB sandbox");
    Load::setup(&sb.socket(), BIG_ROWS).unwrap();
    let work = short_tempdir().unwrap();
    let (full, inc1) = (work.path().join("full"), work.path().join("inc1"));
    let cnf = sb.defaults_file();
    let dd = sb.datadir().to_path_buf();

    // hot full under load: xb finds the server from the option file's [client] group
    let running = Load::start(&sb.socket(), BIG_ROWS).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let (code, out, err) = xb(
        &[
            "backup",
            "--datadir",
            s(&dd),
            "--target-dir",
            s(&full),
            "--defaults-file",
            s(&cnf),
            "--no-sync",
            "--json",
        ],
        Some(100),
    );
    let stats = running.stop().unwrap();
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("xb: hot full backup of the running server"),
        "{err}"
    );
    assert!(
        err.contains("xb: hot: redo copied from checkpoint"),
        "{err}"
    );
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["mode"], "hot");
    assert!(v["hot"]["end_lsn"].as_u64().unwrap() > v["to_lsn"].as_u64().unwrap());
    assert!(stats.appended > 0, "{stats:?}");

    // hot incremental on an idle server, found through its socket; the end state is the
    // source's state now
    let (code, _, err) = xb(
        &[
            "backup",
            "--target-dir",
            s(&inc1),
            "--incremental-basedir",
            s(&full),
            "--socket",
            s(&sb.socket()),
            "--user",
            "root",
            "--no-defaults",
            "--no-sync",
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("xb: hot incremental on"), "{err}");
    let reference = load::checksums(&sb.socket()).unwrap();

    // a datadir in use and no way to connect: a clear refusal
    let (code, _, err) = xb(
        &[
            "backup",
            "--datadir",
            s(&dd),
            "--target-dir",
            s(&work.path().join("refused")),
            "--socket",
            "/nonexistent/sock",
            "--no-defaults",
        ],
        None,
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("in use by a running server"), "{err}");
    assert!(!work.path().join("refused/xtrabackup_checkpoints").exists());

    // merge + apply the redo with the installed server
    let (code, _, err) = xb(
        &[
            "prepare",
            "--target-dir",
            s(&full),
            "--incremental-dir",
            s(&inc1),
            "--apply-redo",
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("redo applied and server shut down cleanly"),
        "{err}"
    );
    let cps = std::fs::read_to_string(full.join("xtrabackup_checkpoints")).unwrap();
    assert!(cps.contains("backup_type = log-applied"), "{cps}");
    // log-applied (as after mariabackup --prepare): the same stage again has nothing to do
    let (code, _, err) = xb(
        &[
            "prepare",
            "--target-dir",
            s(&full),
            "--incremental-dir",
            s(&inc1),
            "--apply-redo",
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("already prepared"), "{err}");
    assert_eq!(
        std::fs::read_to_string(full.join("xtrabackup_checkpoints")).unwrap(),
        cps
    );

    // restored: a server starts on it without crash recovery and has the source's data
    let restored = work.path().join("restored");
    let (code, _, err) = xb(
        &[
            "copy-back",
            "--target-dir",
            s(&full),
            "--datadir",
            s(&restored),
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    {
        let run = short_tempdir().unwrap();
        let r = Sandbox::on_datadir(run.path(), &restored, &opts).expect("restored server");
        let log = std::fs::read_to_string(r.error_log()).unwrap();
        assert!(!log.contains("Starting crash recovery"), "{log}");
        load::check(&r.socket(), BIG_ROWS).unwrap();
        assert_eq!(load::checksums(&r.socket()).unwrap(), reference);
    }

    // the server stopped: the same command takes a cold backup, and says so
    sb.stop().unwrap();
    let (code, _, err) = xb(
        &[
            "backup",
            "--datadir",
            s(&dd),
            "--target-dir",
            s(&work.path().join("cold")),
            "--defaults-file",
            s(&cnf),
            "--no-sync",
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("xb: cold full backup"), "{err}");
}
