//! End-to-end tests of the throwaway-MariaDB sandbox (`xb_testkit::sandbox`).
//!
//! They need MariaDB 10.11 (`scripts/test` installs it) and fail, not skip, without it.
//! Each test runs at most one server at a time, so with the default two test threads at most two
//! servers run at once.

use std::ffi::OsString;
use std::fs;
use std::time::{Duration, Instant};

use xb_testkit::sandbox::{
    short_tempdir, Binaries, PageSize, Sandbox, SandboxError, SandboxOptions,
};

/// `--name=path` as one argument.
fn path_arg(name: &str, path: &std::path::Path) -> OsString {
    let mut a = OsString::from(format!("--{name}="));
    a.push(path);
    a
}

fn load_rows(server: &Sandbox, table: &str, first: u32, count: u32) {
    // one big INSERT through stdin: exercises sql_batch with a statement too long for comfort
    let mut sql = format!("INSERT INTO {table} (id, v, pad) VALUES ");
    for i in first..first + count {
        if i > first {
            sql.push(',');
        }
        sql.push_str(&format!("({i}, {}, REPEAT('x', {}))", i * 7, 100 + i % 300));
    }
    sql.push(';');
    server.sql_batch(&sql).expect("insert rows");
}

#[test]
fn lifecycle_16k_checkpoint_checksum_restart_and_crash() {
    let t0 = Instant::now();
    let dir = short_tempdir().unwrap();
    let opts = SandboxOptions::default();
    let mut server = Sandbox::create(dir.path(), &opts).expect("start a 16K sandbox");
    assert!(server.is_running());
    assert!(server.ping());
    assert_eq!(
        server.query_u64("SELECT @@innodb_page_size").unwrap(),
        16384
    );
    assert_eq!(
        server.query_value("SELECT @@skip_networking").unwrap(),
        "1",
        "the sandbox must not listen on TCP"
    );
    let cnf = fs::read_to_string(server.defaults_file()).unwrap();
    assert!(cnf.contains("[mariabackup]"), "{cnf}");
    assert!(server.socket().exists());
    assert!(server.datadir().join("ibdata1").exists());

    server
        .sql(
            "CREATE DATABASE d; \
             CREATE TABLE d.t (id INT PRIMARY KEY, v BIGINT, pad VARCHAR(500)) ENGINE=InnoDB;",
        )
        .unwrap();
    load_rows(&server, "d.t", 0, 3000);
    assert_eq!(server.query_u64("SELECT COUNT(*) FROM d.t").unwrap(), 3000);
    let rows = server
        .query_rows("SELECT id, v, CONCAT('a\\tb\\n', id) FROM d.t WHERE id IN (1, 2) ORDER BY id")
        .unwrap();
    assert_eq!(
        rows,
        vec![
            vec!["1".to_string(), "7".to_string(), "a\tb\n1".to_string()],
            vec!["2".to_string(), "14".to_string(), "a\tb\n2".to_string()],
        ]
    );

    let lsn_before = server.lsn_current().unwrap();
    let t_ckpt = Instant::now();
    let ckpt = server.checkpoint().expect("checkpoint");
    let ckpt_time = t_ckpt.elapsed();
    assert!(ckpt.lsn_on_entry >= lsn_before);
    let last_ckpt = server.lsn_last_checkpoint().unwrap();
    assert!(
        last_ckpt >= lsn_before,
        "checkpoint LSN {last_ckpt} below the LSN {lsn_before} seen before checkpoint()"
    );
    assert_eq!(
        server.status_u64("Innodb_buffer_pool_pages_dirty").unwrap(),
        0
    );
    // the settings checkpoint() changed are back
    assert_ne!(
        server
            .query_value("SELECT @@innodb_max_dirty_pages_pct")
            .unwrap(),
        "0.000000"
    );
    assert_ne!(
        server.query_u64("SELECT @@innodb_io_capacity").unwrap(),
        100000
    );

    let sums = server.checksum_tables(&["d.t", "mysql.db"]).unwrap();
    assert_eq!(sums.len(), 2);
    assert!(sums.contains_key("d.t"), "{sums:?}");
    assert!(
        server.checksum_tables(&["d.missing"]).is_err(),
        "a missing table must not get a checksum"
    );

    // a failing statement names the command and carries the client's message
    match server.sql("SELECT * FROM d.nope") {
        Err(SandboxError::CommandFailed { stderr, .. }) => {
            assert!(stderr.contains("doesn't exist"), "{stderr}")
        }
        other => panic!("expected CommandFailed, got {other:?}"),
    }

    // clean stop, then a second start on the same files: same data
    server.stop().expect("clean stop");
    assert!(!server.is_running());
    assert!(!server.ping());
    let log = fs::read_to_string(server.error_log()).unwrap();
    assert!(log.contains("Shutdown complete"), "{log}");
    server.start().expect("restart");
    assert_eq!(server.checksum_tables(&["d.t", "mysql.db"]).unwrap(), sums);

    // a new Sandbox on the same directory reuses the datadir
    server.stop().unwrap();
    drop(server);
    let mut server = Sandbox::create(dir.path(), &opts).expect("reopen the directory");
    assert_eq!(server.checksum_tables(&["d.t", "mysql.db"]).unwrap(), sums);

    // crash: committed rows survive SIGKILL through redo recovery
    server
        .sql("UPDATE d.t SET v = v + 1 WHERE id < 100")
        .unwrap();
    let after_update = server.checksum_tables(&["d.t"]).unwrap();
    assert_ne!(after_update["d.t"], sums["d.t"]);
    let pid = server.pid().unwrap();
    server.kill().unwrap();
    assert!(!server.is_running());
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
    server.start().expect("start after a crash");
    assert_eq!(server.checksum_tables(&["d.t"]).unwrap(), after_update);

    // a second start while running is refused
    assert!(matches!(
        server.start(),
        Err(SandboxError::AlreadyRunning { .. })
    ));
    drop(server); // clean stop (not a temp-dir sandbox)
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
    eprintln!(
        "lifecycle test: {:?} (checkpoint {:?})",
        t0.elapsed(),
        ckpt_time
    );
}

#[test]
fn page_size_4k_backup_prepare_and_restore_on_datadir() {
    let t0 = Instant::now();
    let opts = SandboxOptions::default()
        .page_size(PageSize::K4)
        .option("innodb_checksum_algorithm", "full_crc32");
    let mut source = Sandbox::in_tempdir(&opts).expect("start a 4K sandbox");
    assert_eq!(source.query_u64("SELECT @@innodb_page_size").unwrap(), 4096);
    assert_eq!(
        source
            .query_value("SELECT @@innodb_checksum_algorithm")
            .unwrap(),
        "full_crc32"
    );
    source
        .sql(
            "CREATE DATABASE d; \
             CREATE TABLE d.t (id INT PRIMARY KEY, v BIGINT, pad VARCHAR(500)) ENGINE=InnoDB;",
        )
        .unwrap();
    load_rows(&source, "d.t", 0, 2000);
    // bigger SQL from a file
    let sql_dir = short_tempdir().unwrap();
    let sql_path = sql_dir.path().join("more.sql");
    fs::write(
        &sql_path,
        "CREATE TABLE d.u (k INT PRIMARY KEY) ENGINE=InnoDB;\n\
         INSERT INTO d.u SELECT id FROM d.t WHERE id % 3 = 0;\n\
         SELECT COUNT(*) FROM d.u;\n",
    )
    .unwrap();
    assert_eq!(source.sql_file(&sql_path).unwrap().trim(), "667");
    let sums = source.checksum_tables(&["d.t", "d.u"]).unwrap();
    let t_sums = source.checkpoint().unwrap();
    assert!(t_sums.checkpoint_lsn > 0);

    let backups = short_tempdir().unwrap();
    let full = backups.path().join("full");
    let out = source
        .mariabackup([OsString::from("--backup"), path_arg("target-dir", &full)])
        .expect("mariabackup --backup");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("completed OK!"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let checkpoints = fs::read_to_string(full.join("xtrabackup_checkpoints")).unwrap();
    assert!(
        checkpoints.contains("backup_type = full-backuped"),
        "{checkpoints}"
    );
    let to_lsn: u64 = checkpoints
        .lines()
        .find_map(|l| l.strip_prefix("to_lsn = "))
        .expect("to_lsn")
        .trim()
        .parse()
        .unwrap();
    assert!(to_lsn >= t_sums.checkpoint_lsn, "{checkpoints}");
    // mariabackup failures are errors naming the command
    let bad = source.mariabackup(["--prepare", "--target-dir=/nonexistent/xb"]);
    assert!(
        matches!(&bad, Err(SandboxError::CommandFailed { command, .. }) if command.contains("--prepare")),
        "{bad:?}"
    );
    source.stop().unwrap();

    source
        .mariabackup([OsString::from("--prepare"), path_arg("target-dir", &full)])
        .expect("mariabackup --prepare");
    // a second server on the prepared backup (stand-in for a copied-back restore)
    let run_dir = short_tempdir().unwrap();
    let mut restored = Sandbox::on_datadir(run_dir.path(), &full, &opts).expect("start on backup");
    assert_eq!(restored.datadir(), fs::canonicalize(&full).unwrap());
    assert_eq!(
        restored.query_u64("SELECT @@innodb_page_size").unwrap(),
        4096
    );
    assert_eq!(restored.checksum_tables(&["d.t", "d.u"]).unwrap(), sums);
    restored.stop().unwrap();

    // the page size is not negotiable: a 16K server refuses the 4K datadir
    let run_dir2 = short_tempdir().unwrap();
    let wrong = Sandbox::on_datadir(
        run_dir2.path(),
        &full,
        &SandboxOptions::default().start_timeout(Duration::from_secs(30)),
    );
    match wrong {
        Err(SandboxError::ServerExited { log, .. }) => {
            assert!(!log.lines.is_empty(), "the error must carry the server log")
        }
        Err(other) => panic!("expected ServerExited, got {other}"),
        Ok(_) => panic!("a 16K server started on a 4K datadir"),
    }
    eprintln!("4K/backup test: {:?}", t0.elapsed());
}

#[test]
fn missing_programs_are_an_error_that_says_how_to_install() {
    let empty = short_tempdir().unwrap();
    let err = Binaries::discover_in(&[empty.path().to_path_buf()]).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("mariadbd") && msg.contains("mariabackup"),
        "{msg}"
    );
    assert!(msg.contains("scripts/test"), "{msg}");
    assert!(
        msg.contains("mariadb-server mariadb-client mariadb-backup"),
        "{msg}"
    );
    // and on this machine (or after scripts/test) they are all there
    Binaries::discover().expect("MariaDB must be installed for these tests");
}

#[test]
fn socket_path_too_long_is_refused_before_anything_runs() {
    let base = short_tempdir().unwrap();
    let long = base.path().join("d".repeat(120));
    match Sandbox::create(&long, &SandboxOptions::default()) {
        Err(SandboxError::SocketPathTooLong { len, .. }) => assert!(len > 100),
        Err(other) => panic!("expected SocketPathTooLong, got {other}"),
        Ok(_) => panic!(
            "a sandbox started with a {}-byte socket path",
            long.as_os_str().len()
        ),
    }
    assert!(!long.join("data").exists());
}
