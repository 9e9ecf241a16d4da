//! mariabackup's backup options on `xb backup`, against a running MariaDB 10.11: the
//! partial-backup filters from files and by exclusion, the history table (compared with the
//! one the installed mariabackup writes) and incrementals from it, `--extra-lsndir`,
//! `--no-lock` and `--kill-long-queries-timeout`. Needs MariaDB (fails without it).

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use xb_testkit::sandbox::{short_tempdir, Sandbox, SandboxOptions};

/// One server at a time: the machine has 2 cores.
static ONE_SERVER: Mutex<()> = Mutex::new(());

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

/// A hot backup of `sb` into `target` with `extra` options; (exit code, stderr).
fn hot(sb: &Sandbox, target: &Path, extra: &[&str], throttle: Option<u32>) -> (i32, String) {
    let cnf = sb.defaults_file();
    let dd = sb.datadir().to_path_buf();
    let mut args = vec![
        "backup",
        "--datadir",
        s(&dd),
        "--target-dir",
        s(target),
        "--defaults-file",
        s(&cnf),
        "--no-sync",
    ];
    args.extend_from_slice(extra);
    let (code, _, err) = xb(&args, throttle);
    (code, err)
}

fn server() -> Sandbox {
    let opts = SandboxOptions::default().option("innodb_log_file_size", "16M");
    Sandbox::in_tempdir(&opts).expect("MariaDB sandbox")
}

fn lock() -> std::sync::MutexGuard<'static, ()> {
    ONE_SERVER.lock().unwrap_or_else(|p| p.into_inner())
}

#[test]
fn tables_file_databases_file_and_databases_exclude_select_the_tables() {
    let _one = lock();
    let sb = server();
    sb.sql(
        "CREATE DATABASE a; CREATE DATABASE b; CREATE DATABASE c; \
         CREATE TABLE a.t1 (i INT) ENGINE=InnoDB; CREATE TABLE a.t2 (i INT) ENGINE=InnoDB; \
         CREATE TABLE b.t1 (i INT) ENGINE=InnoDB; CREATE TABLE b.t2 (i INT) ENGINE=InnoDB; \
         CREATE TABLE c.t1 (i INT) ENGINE=InnoDB; CREATE TABLE c.m (i INT) ENGINE=MyISAM",
    )
    .unwrap();
    // the new tables' first pages on disk: copied as tablespaces, not by the DDL pass
    sb.checkpoint().unwrap();
    let work = short_tempdir().unwrap();
    let w = work.path();
    std::fs::write(w.join("tables"), "a.t1\n\nb.t2\n").unwrap();
    std::fs::write(w.join("dbs"), "a\nb\nc\n").unwrap();

    // --tables-file: exactly the tables listed (a.t1 and b.t2), and no other database's files
    let (code, err) = hot(
        &sb,
        &w.join("t"),
        &["--tables-file", s(&w.join("tables"))],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let has = |dir: &str, rel: &str| w.join(dir).join(rel).exists();
    assert!(has("t", "a/t1.ibd") && has("t", "b/t2.ibd"), "{err}");
    assert!(!has("t", "a/t2.ibd") && !has("t", "b/t1.ibd") && !has("t", "c/t1.ibd"));
    assert!(has("t", "a/t1.frm") && !has("t", "a/t2.frm") && !has("t", "c/m.MYD"));
    assert!(
        has("t", "ibdata1"),
        "the system tablespace is always copied"
    );
    let xb_info = std::fs::read_to_string(w.join("t/xb_backup_info")).unwrap();
    assert!(xb_info.contains("partial = Y"), "{xb_info}");
    assert!(
        xb_info.contains("tables_file_names = a.t1,b.t2"),
        "{xb_info}"
    );

    // --databases-file a b c with --databases-exclude b (wins) and c.m
    let (code, err) = hot(
        &sb,
        &w.join("d"),
        &[
            "--databases-file",
            s(&w.join("dbs")),
            "--databases-exclude",
            "b,c.m",
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    assert!(has("d", "a/t1.ibd") && has("d", "a/t2.ibd") && has("d", "c/t1.ibd"));
    assert!(!has("d", "b/t1.ibd") && !has("d", "b/t2.ibd") && !has("d", "b/t1.frm"));
    assert!(!has("d", "c/m.MYD") && !has("d", "c/m.frm") && has("d", "c/t1.frm"));
    assert!(
        !has("d", "mysql/db.frm"),
        "mysql is not in the databases file"
    );

    // a missing file is an error naming it, before anything is written
    let (code, err) = hot(
        &sb,
        &w.join("e"),
        &["--tables-file", "/nonexistent/list"],
        None,
    );
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent/list"), "{err}");
    assert!(!w.join("e/xtrabackup_checkpoints").exists());
}

/// The rows of the history table, as `column = value` maps (NULL as "NULL").
fn history_rows(sb: &Sandbox) -> Vec<std::collections::BTreeMap<String, String>> {
    let cols: Vec<String> = sb
        .query_rows(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'mysql' \
             AND table_name = 'mariadb_backup_history' ORDER BY ordinal_position",
        )
        .unwrap()
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    let rows = sb
        .query_rows("SELECT * FROM mysql.mariadb_backup_history ORDER BY start_time, tool_name")
        .unwrap();
    rows.into_iter()
        .map(|r| cols.iter().cloned().zip(r).collect())
        .collect()
}

fn show_create(sb: &Sandbox) -> String {
    sb.query_rows("SHOW CREATE TABLE mysql.mariadb_backup_history")
        .unwrap()
        .remove(0)
        .remove(1)
}

fn checkpoints_value(dir: &Path, key: &str) -> u64 {
    let text = std::fs::read_to_string(dir.join("xtrabackup_checkpoints")).unwrap();
    let line = text.lines().find(|l| l.starts_with(key)).unwrap();
    line.split('=').nth(1).unwrap().trim().parse().unwrap()
}

#[test]
fn history_is_the_table_mariabackup_writes_and_picks_the_base_of_an_incremental() {
    let _one = lock();
    let sb = server();
    sb.sql("CREATE DATABASE d; CREATE TABLE d.t (i INT PRIMARY KEY) ENGINE=InnoDB; INSERT INTO d.t VALUES (1)")
        .unwrap();
    let work = short_tempdir().unwrap();
    let w = work.path();

    // mariabackup --history creates the table and writes its row
    let mut target = std::ffi::OsString::from("--target-dir=");
    target.push(w.join("mb"));
    sb.mariabackup(["--backup".into(), target, "--history=nightly".into()])
        .expect("mariabackup --history");
    let mariabackup_table = show_create(&sb);
    let rows = history_rows(&sb);
    assert_eq!(rows.len(), 1);
    let mb_row = rows[0].clone();

    // xb --history on a server without the table creates the same table
    sb.sql("DROP TABLE mysql.mariadb_backup_history").unwrap();
    let lsndir = w.join("lsn");
    let extra = ["--history=nightly", "--extra-lsndir", s(&lsndir)];
    let (code, err) = hot(&sb, &w.join("full"), &extra, None);
    assert_eq!(code, 0, "{err}");
    assert_eq!(show_create(&sb), mariabackup_table);
    let rows = history_rows(&sb);
    assert_eq!(rows.len(), 1);
    let xb_row = rows[0].clone();
    let keys = |r: &std::collections::BTreeMap<String, String>| -> Vec<String> {
        r.iter()
            .filter(|(_, v)| *v != "NULL")
            .map(|(k, _)| k.clone())
            .collect()
    };
    assert_eq!(keys(&xb_row), keys(&mb_row), "{xb_row:?}\n{mb_row:?}");
    for same in [
        "name",
        "server_version",
        "partial",
        "incremental",
        "format",
        "compressed",
    ] {
        assert_eq!(xb_row[same], mb_row[same], "{same}");
    }
    assert_eq!(xb_row["tool_name"], "xb");
    let binlog_words = "filename '";
    assert_eq!(
        xb_row["binlog_pos"].starts_with(binlog_words),
        mb_row["binlog_pos"].starts_with(binlog_words)
    );
    let full = w.join("full");
    assert_eq!(
        xb_row["innodb_to_lsn"].parse::<u64>().unwrap(),
        checkpoints_value(&full, "to_lsn")
    );
    // the row's uuid is the backup's, in xtrabackup_info
    let info = std::fs::read_to_string(full.join("xtrabackup_info")).unwrap();
    assert!(
        info.contains(&format!("uuid = {}\n", xb_row["uuid"])),
        "{info}"
    );
    assert!(info.contains("name = nightly\n"), "{info}");
    // --extra-lsndir holds copies of the two files
    for f in ["xtrabackup_checkpoints", "xtrabackup_info"] {
        assert_eq!(
            std::fs::read(lsndir.join(f)).unwrap(),
            std::fs::read(full.join(f)).unwrap(),
            "{f}"
        );
    }

    // an incremental from the series starts at its newest innodb_to_lsn
    sb.sql("INSERT INTO d.t VALUES (2)").unwrap();
    sb.checkpoint().unwrap();
    let (code, err) = hot(
        &sb,
        &w.join("inc"),
        &["--incremental-history-name=nightly", "--history=nightly"],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let inc = w.join("inc");
    assert_eq!(
        checkpoints_value(&inc, "from_lsn"),
        checkpoints_value(&full, "to_lsn")
    );
    let rows = history_rows(&sb);
    assert_eq!(rows.len(), 2);
    let newest = rows.iter().find(|r| r["incremental"] == "Y").unwrap();
    assert_eq!(
        newest["innodb_from_lsn"].parse::<u64>().unwrap(),
        checkpoints_value(&full, "to_lsn")
    );
    // by uuid: from that backup's to_lsn
    let uuid = format!("--incremental-history-uuid={}", newest["uuid"]);
    let (code, err) = hot(&sb, &w.join("inc2"), &[uuid.as_str()], None);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        checkpoints_value(&w.join("inc2"), "from_lsn"),
        checkpoints_value(&inc, "to_lsn")
    );

    // mariabackup takes its incremental from xb's row just as well
    let mut target = std::ffi::OsString::from("--target-dir=");
    target.push(w.join("mb_inc"));
    let from_xb = format!("--incremental-history-uuid={}", newest["uuid"]);
    sb.mariabackup(["--backup".into(), target, from_xb.into()])
        .expect("mariabackup --incremental-history-uuid of xb's row");
    assert_eq!(
        checkpoints_value(&w.join("mb_inc"), "from_lsn"),
        checkpoints_value(&inc, "to_lsn")
    );

    // an unknown series is refused before anything is written
    let (code, err) = hot(
        &sb,
        &w.join("none"),
        &["--incremental-history-name=weekly"],
        None,
    );
    assert_eq!(code, 2);
    assert!(err.contains("no backup with name 'weekly'"), "{err}");
    assert!(!w.join("none/xtrabackup_checkpoints").exists());
}

#[test]
fn no_lock_takes_no_backup_stage_and_reports_writes_to_non_innodb_tables() {
    let _one = lock();
    let sb = server();
    sb.sql(
        "CREATE DATABASE d; CREATE TABLE d.t (i INT PRIMARY KEY) ENGINE=InnoDB; \
         INSERT INTO d.t VALUES (1), (2); CREATE TABLE d.m (i INT) ENGINE=MyISAM",
    )
    .unwrap();
    let work = short_tempdir().unwrap();
    let w = work.path();
    // another session holds the backup lock: a backup with locks would wait for it
    let mut holder = sb
        .client_command()
        .args(["-e", "BACKUP STAGE START; SELECT SLEEP(30)"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let t0 = Instant::now();
    let (code, err) = hot(&sb, &w.join("nolock"), &["--no-lock"], None);
    assert_eq!(code, 0, "{err}");
    assert!(t0.elapsed() < Duration::from_secs(20), "{err}");
    assert!(
        err.contains("--no-lock: no BACKUP STAGE lock taken"),
        "{err}"
    );
    assert!(err.contains(": consistent"), "{err}");
    assert!(!w.join("nolock/xtrabackup_binlog_info").exists());
    let _ = holder.kill();
    let _ = holder.wait();

    // it restores: prepared with the server's recovery, it holds the source's rows
    let nolock = w.join("nolock");
    let (code, _, err) = xb(
        &["prepare", "--target-dir", s(&nolock), "--apply-redo"],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let restored = w.join("restored");
    let args = [
        "copy-back",
        "--target-dir",
        s(&nolock),
        "--datadir",
        s(&restored),
    ];
    let (code, _, err) = xb(&args, None);
    assert_eq!(code, 0, "{err}");
    let reference = sb.checksum_tables(&["d.t"]).unwrap();
    {
        let run = short_tempdir().unwrap();
        let opts = SandboxOptions::default().option("innodb_log_file_size", "16M");
        let r = Sandbox::on_datadir(run.path(), &restored, &opts).expect("restored server");
        assert_eq!(r.checksum_tables(&["d.t"]).unwrap(), reference);
    }

    // a MyISAM table written while the files are copied: said, and exit 1
    let mut writer = sb
        .client_command()
        .args([
            "-e",
            "DO SLEEP(0.5); INSERT INTO d.m VALUES (1); DO SLEEP(0.5); INSERT INTO d.m VALUES \
             (2); DO SLEEP(0.5); INSERT INTO d.m VALUES (3); DO SLEEP(0.5); INSERT INTO d.m \
             VALUES (4); DO SLEEP(0.5); INSERT INTO d.m VALUES (5)",
        ])
        .spawn()
        .unwrap();
    let (code, err) = hot(&sb, &w.join("written"), &["--no-lock"], Some(4));
    let _ = writer.wait();
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("written during the backup"), "{err}");
    assert!(err.contains("d/m.MYD"), "{err}");
}

#[test]
fn kill_long_queries_timeout_kills_the_query_that_blocks_the_lock() {
    let _one = lock();
    let sb = server();
    sb.sql("CREATE DATABASE d; CREATE TABLE d.m (v INT) ENGINE=MyISAM; INSERT INTO d.m VALUES (1)")
        .unwrap();
    let work = short_tempdir().unwrap();
    let w = work.path();
    // the default type kills only SELECTs: a write that holds the lock is waited for
    let writer = sb
        .client_command()
        .args(["-e", "UPDATE d.m SET v = SLEEP(3)"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let (code, err) = hot(
        &sb,
        &w.join("a"),
        &["--kill-long-queries-timeout", "1"],
        None,
    );
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("killed query"), "{err}");
    assert!(writer.wait_with_output().unwrap().status.success());

    // a long write to a MyISAM table keeps BACKUP STAGE BLOCK_COMMIT waiting
    let blocker = sb
        .client_command()
        .args(["-e", "UPDATE d.m SET v = SLEEP(60)"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let t0 = Instant::now();
    let extra = [
        "--kill-long-queries-timeout",
        "2",
        "--kill-long-query-type",
        "all",
    ];
    let (code, err) = hot(&sb, &w.join("b"), &extra, None);
    let took = t0.elapsed();
    assert_eq!(code, 0, "{err}");
    assert!(took < Duration::from_secs(30), "{took:?} {err}");
    assert!(
        err.contains("killed query") && err.contains("UPDATE d.m SET v = SLEEP(60)"),
        "{err}"
    );
    let out = blocker.wait_with_output().unwrap();
    assert!(!out.status.success(), "the blocking UPDATE was killed");
    assert!(w.join("b/xtrabackup_checkpoints").exists());
}

#[test]
fn a_source_with_its_innodb_and_aria_files_outside_the_datadir_is_backed_up_and_restores() {
    let _one = lock();
    let dirs = short_tempdir().unwrap();
    let d = dirs.path();
    let (sys, redo, undo, aria) = (
        d.join("sys"),
        d.join("redo"),
        d.join("undo"),
        d.join("aria"),
    );
    for dir in [&sys, &redo, &undo, &aria] {
        std::fs::create_dir(dir).unwrap();
    }
    let opts = SandboxOptions::default()
        .option("innodb_log_file_size", "16M")
        .option("innodb_data_home_dir", s(&sys))
        .option("innodb_log_group_home_dir", s(&redo))
        .option("innodb_undo_directory", s(&undo))
        .option("innodb_undo_tablespaces", "2")
        .option("aria_log_dir_path", s(&aria));
    let mut sb = Sandbox::in_tempdir(&opts).expect("MariaDB sandbox with its files elsewhere");
    sb.sql(
        "CREATE DATABASE d; CREATE TABLE d.t (i INT PRIMARY KEY) ENGINE=InnoDB; \
         INSERT INTO d.t VALUES (1), (2), (3); CREATE TABLE d.a (i INT) ENGINE=Aria; \
         INSERT INTO d.a VALUES (7)",
    )
    .unwrap();
    sb.checkpoint().unwrap();
    assert!(!sb.datadir().join("ibdata1").exists() && sys.join("ibdata1").exists());
    let reference = sb.checksum_tables(&["d.t", "d.a"]).unwrap();
    let work = short_tempdir().unwrap();
    let w = work.path();
    let top = [
        "ibdata1",
        "ib_logfile0",
        "undo001",
        "undo002",
        "aria_log_control",
    ];

    // hot, the datadir and the directories given: the server is found through its locks on
    // the files elsewhere, and they are at the top of the backup
    let layout = [
        "--innodb-data-home-dir",
        s(&sys),
        "--innodb-log-group-home-dir",
        s(&redo),
        "--innodb-undo-directory",
        s(&undo),
        "--aria-log-dir-path",
        s(&aria),
    ];
    let (code, err) = hot(&sb, &w.join("hot"), &layout, None);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("hot full backup"), "{err}");
    for f in top {
        assert!(w.join("hot").join(f).exists(), "{f}: {err}");
    }

    // hot without --datadir and without the directories: taken from the server
    let cnf = sb.defaults_file();
    let hot2 = w.join("hot2");
    let args = [
        "backup",
        "--target-dir",
        s(&hot2),
        "--defaults-file",
        s(&cnf),
        "--no-sync",
    ];
    let (code, _, err) = xb(&args, None);
    assert_eq!(code, 0, "{err}");
    for f in top {
        assert!(w.join("hot2").join(f).exists(), "{f}: {err}");
    }

    // cold: the directories are needed to find the files
    sb.stop().unwrap();
    let dd = sb.datadir().to_path_buf();
    let (cold_dir, cold2_dir) = (w.join("cold"), w.join("cold2"));
    let cold = [
        "backup",
        "--datadir",
        s(&dd),
        "--target-dir",
        s(&cold_dir),
        "--no-sync",
    ];
    let (code, _, err) = xb(&cold, None);
    assert_eq!(code, 2, "{err}");
    let mut with_layout = cold.to_vec();
    with_layout[4] = s(&cold2_dir);
    let with_layout: Vec<&str> = with_layout.into_iter().chain(layout).collect();
    let (code, _, err) = xb(&with_layout, None);
    assert_eq!(code, 0, "{err}");
    for f in top {
        assert!(w.join("cold2").join(f).exists(), "{f}: {err}");
    }

    // the hot backup restores into a plain datadir
    let full = w.join("hot");
    let (code, _, err) = xb(&["prepare", "--target-dir", s(&full), "--apply-redo"], None);
    assert_eq!(code, 0, "{err}");
    let restored = w.join("restored");
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
    let run = short_tempdir().unwrap();
    let plain = SandboxOptions::default()
        .option("innodb_log_file_size", "16M")
        .option("innodb_undo_tablespaces", "2");
    let r = Sandbox::on_datadir(run.path(), &restored, &plain).expect("restored server");
    assert_eq!(r.checksum_tables(&["d.t", "d.a"]).unwrap(), reference);
}
