//! Hot backups of a real replica and a real Galera node, with mariabackup's `--slave-info`,
//! `--safe-slave-backup` and `--galera-info` (`HotOptions::set_slave_info`, ...).
//!
//! A primary (binary log on, TCP on 127.0.0.1) and a replica (two test-kit sandboxes); the
//! files xb writes are compared with those the installed `mariabackup` writes on the same
//! server (equal bytes when the primary is idle; equal form under a write load); a replica
//! restored from xb's backup, pointed at the recorded position, catches up with the primary
//! exactly (explicit keys: a position too early fails on a duplicate key, one too late
//! misses rows). The Galera test runs a single-node cluster (`galera-4`'s provider).
//! Needs MariaDB (fails without it). One pair of servers at a time.
// needs the connection-side API of hot backups
#![cfg(feature = "hot")]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use incremental_core::backup::sink::DirSink;
use incremental_core::backup::{
    BackupError, BackupOptions, BackupPlan, BackupReport, ConnectOptions, HotOptions,
    ReplicaPosition,
};
use incremental_core::prepare::{self, PrepareOptions};
use incremental_core::progress::{Cancel, Event, NoProgress, Progress};
use xb_testkit::load::{self, Queryable};
use xb_testkit::sandbox::{short_tempdir, Sandbox, SandboxOptions};

static ONE_PAIR: Mutex<()> = Mutex::new(());

/// A TCP port free now on 127.0.0.1.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A primary on `port` (binary log on, statement-based so that temporary tables replicate).
fn primary(port: u16) -> Sandbox {
    let opts = SandboxOptions::default()
        .option("skip-networking", "0")
        .option("bind-address", "127.0.0.1")
        .option("port", port.to_string())
        .option("server_id", "1")
        .option("log_bin", "mysql-bin")
        .option("binlog_format", "STATEMENT");
    let p = Sandbox::in_tempdir(&opts).expect("primary sandbox");
    p.sql(
        "CREATE USER repl@'127.0.0.1' IDENTIFIED BY 'replpw'; \
         GRANT REPLICATION SLAVE ON *.* TO repl@'127.0.0.1'; \
         CREATE DATABASE d; \
         CREATE TABLE d.t (id INT PRIMARY KEY, v INT) ENGINE=InnoDB; \
         INSERT INTO d.t VALUES (1, 7), (2, 14)",
    )
    .unwrap();
    p
}

fn replica_options(server_id: u32) -> SandboxOptions {
    SandboxOptions::default()
        .option("server_id", server_id.to_string())
        .option("relay_log", "relay-bin")
        .flag("skip-slave-start")
}

/// `CHANGE MASTER [name] TO` the primary on `port`, with `extra` options.
fn point_at(r: &Sandbox, name: &str, port: u16, extra: &str) {
    let name = if name.is_empty() {
        String::new()
    } else {
        format!("'{name}' ")
    };
    r.sql(&format!(
        "CHANGE MASTER {name}TO MASTER_HOST='127.0.0.1', MASTER_PORT={port}, \
         MASTER_USER='repl', MASTER_PASSWORD='replpw'{extra}"
    ))
    .unwrap();
}

/// A replica of the primary on `port`, replicating by file and position, caught up.
fn replica(p: &Sandbox, port: u16) -> Sandbox {
    let r = Sandbox::in_tempdir(&replica_options(2)).expect("replica sandbox");
    point_at(
        &r,
        "",
        port,
        ", MASTER_USE_GTID=no, MASTER_LOG_FILE='mysql-bin.000001', MASTER_LOG_POS=4",
    );
    r.sql("START SLAVE").unwrap();
    caught_up(p, &r, "the replica");
    r
}

fn rows(s: &Sandbox) -> String {
    s.query_value("SELECT CONCAT(COUNT(*), ' rows, sum ', COALESCE(SUM(v), 0)) FROM d.t")
        .unwrap()
}

/// A column of `SHOW SLAVE STATUS` ("" when the server is no replica).
fn slave_field(r: &Sandbox, field: &str) -> String {
    let mut conn = load::connect(&r.socket()).unwrap();
    let row: Option<mysql::Row> = conn.query_first("SHOW SLAVE STATUS").unwrap();
    row.and_then(|row| row.get::<Option<String>, &str>(field).flatten())
        .unwrap_or_default()
}

/// Waits until `r` holds the rows `p` holds, with a running, error-free SQL thread.
fn caught_up(p: &Sandbox, r: &Sandbox, what: &str) {
    let want = rows(p);
    let t0 = Instant::now();
    loop {
        let errno = slave_field(r, "Last_SQL_Errno");
        assert!(
            errno.is_empty() || errno == "0",
            "{what}: replication stopped: {}",
            slave_field(r, "Last_SQL_Error")
        );
        if r.query_value("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_NAME='t'")
            .unwrap()
            == "1"
            && rows(r) == want
        {
            return;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "{what}: has {}, the primary {want}; IO {} SQL {}",
            rows(r),
            slave_field(r, "Slave_IO_Running"),
            slave_field(r, "Slave_SQL_Running")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn connect(sb: &Sandbox) -> ConnectOptions {
    let mut c = ConnectOptions::new();
    c.set_socket(sb.socket())
        .set_user("root")
        .set_no_defaults(true);
    c
}

/// The notes a backup sent.
#[derive(Default)]
struct Notes(Mutex<Vec<String>>);

impl Progress for Notes {
    fn event(&self, e: Event<'_>) {
        if let Event::Note { message } = e {
            self.0.lock().unwrap().push(message.to_string());
        }
    }
}

impl Notes {
    fn all(&self) -> String {
        self.0.lock().unwrap().join("\n")
    }
}

fn xb_backup(
    sb: &Sandbox,
    target: &Path,
    hot: &HotOptions,
    notes: &Notes,
) -> Result<BackupReport, BackupError> {
    let mut opts = BackupOptions::new(sb.datadir());
    opts.set_connect(connect(sb)).set_hot(hot.clone());
    let plan = BackupPlan::new(&opts)?;
    assert!(plan.mode().is_hot(), "{}", plan.mode());
    let mut sink = DirSink::new(target).unwrap().sync(false);
    plan.run(&mut sink, notes, &Cancel::new())
}

fn mariabackup(sb: &Sandbox, target: &Path, extra: &[&str]) {
    let mut args = vec![
        "--backup".to_string(),
        format!("--target-dir={}", target.display()),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    sb.mariabackup(&args).expect("mariabackup --backup");
}

fn read(path: PathBuf) -> String {
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn slave_info_options() -> HotOptions {
    let mut h = HotOptions::default();
    h.set_slave_info(true);
    h
}

/// Digits replaced by `#`: the form of a position, not its value.
fn form(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_digit() { '#' } else { c })
        .collect::<String>()
        .split('#')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("#")
}

#[test]
fn slave_info_is_what_mariabackup_writes() {
    let _one = ONE_PAIR.lock().unwrap_or_else(|e| e.into_inner());
    let port = free_port();
    let p = primary(port);
    let r = replica(&p, port);
    let work = short_tempdir().unwrap();
    let both = |what: &str| -> String {
        let (x, m) = (
            work.path().join(format!("xb-{what}")),
            work.path().join(what),
        );
        let notes = Notes::default();
        let report = xb_backup(&r, &x, &slave_info_options(), &notes)
            .unwrap_or_else(|e| panic!("{what}: xb backup: {e}"));
        mariabackup(&r, &m, &["--slave-info"]);
        let ours = read(x.join("xtrabackup_slave_info"));
        assert_eq!(ours, read(m.join("xtrabackup_slave_info")), "{what}");
        let replica = report.hot().unwrap().replica.clone().unwrap();
        let position = replica.recorded().unwrap().to_string();
        assert!(notes.all().contains(&position), "{what}: {}", notes.all());
        // mariabackup 10.11 does not put the replica's position in xtrabackup_info; neither do we
        assert!(!read(x.join("xtrabackup_info")).contains("mysql-bin.000001', MASTER"));
        ours
    };
    // one nameless connection, by file and position
    let file_pos = both("file-pos");
    let pos = slave_field(&r, "Exec_Master_Log_Pos");
    assert_eq!(
        file_pos,
        format!("CHANGE MASTER TO MASTER_LOG_FILE='mysql-bin.000001', MASTER_LOG_POS={pos};\n")
    );
    // Using_Gtid Slave_Pos (MariaDB 10.10+'s default) with an empty gtid_slave_pos: by file
    // and position still (mtr's rpl_slave_info, slave_info_norpl)
    let saved = r.query_value("SELECT @@gtid_slave_pos").unwrap();
    r.sql("STOP SLAVE; SET GLOBAL gtid_slave_pos = ''; CHANGE MASTER TO MASTER_USE_GTID=slave_pos")
        .unwrap();
    let no_gtid_pos = both("gtid-empty-pos");
    let pos = slave_field(&r, "Exec_Master_Log_Pos");
    assert_eq!(
        no_gtid_pos,
        format!("CHANGE MASTER TO MASTER_LOG_FILE='mysql-bin.000001', MASTER_LOG_POS={pos};\n")
    );
    r.sql(&format!("SET GLOBAL gtid_slave_pos = '{saved}'"))
        .unwrap();
    // by GTID, and a second, named connection by file and position (multi-source)
    r.sql("STOP SLAVE; CHANGE MASTER TO MASTER_USE_GTID=slave_pos; START SLAVE")
        .unwrap();
    point_at(&r, "m2", free_port(), ", MASTER_USE_GTID=no");
    let gtid = both("gtid-multi");
    let slave_pos = r.query_value("SELECT @@gtid_slave_pos").unwrap();
    assert!(!slave_pos.is_empty());
    assert_eq!(
        gtid,
        format!(
            "SET GLOBAL gtid_slave_pos = '{slave_pos}';\n\
             CHANGE MASTER TO master_use_gtid = slave_pos;\n\
             CHANGE MASTER 'm2' TO MASTER_LOG_FILE='', MASTER_LOG_POS=0;\n"
        )
    );
    // a server that replicates from nothing: no file, and a note that says so
    let notes = Notes::default();
    let none = work.path().join("none");
    let report = xb_backup(&p, &none, &slave_info_options(), &notes).unwrap();
    assert_eq!(
        report.hot().unwrap().replica,
        Some(ReplicaPosition::NotAReplica)
    );
    assert!(!none.join("xtrabackup_slave_info").exists());
    assert!(
        notes.all().contains("replicates from no source"),
        "{}",
        notes.all()
    );
    // the backup wrote nothing into the primary's binary log (its replicas would run it)
    let events = p.sql("SHOW BINLOG EVENTS IN 'mysql-bin.000001'").unwrap();
    assert!(!events.contains("FLUSH"), "{events}");
}

/// Inserts rows with consecutive explicit keys into the primary until stopped.
struct Writer {
    stop: Arc<AtomicBool>,
    done: Arc<AtomicU64>,
    thread: std::thread::JoinHandle<()>,
}

impl Writer {
    fn start(p: &Sandbox) -> Writer {
        let stop = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicU64::new(0));
        let mut conn = load::connect(&p.socket()).unwrap();
        let (s, d) = (stop.clone(), done.clone());
        let thread = std::thread::spawn(move || {
            let mut id = 100;
            while !s.load(Ordering::Relaxed) {
                conn.query_drop(format!("INSERT INTO d.t VALUES ({id}, {})", id * 7))
                    .unwrap();
                d.fetch_add(1, Ordering::Relaxed);
                id += 1;
                std::thread::sleep(Duration::from_millis(2));
            }
        });
        Writer { stop, done, thread }
    }

    fn stop(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap();
        self.done.load(Ordering::Relaxed)
    }
}

#[test]
fn a_replica_restored_at_the_recorded_position_catches_up_exactly() {
    let _one = ONE_PAIR.lock().unwrap_or_else(|e| e.into_inner());
    let port = free_port();
    let p = primary(port);
    let r = replica(&p, port);
    let work = short_tempdir().unwrap();
    let (xb_dir, mb_dir) = (work.path().join("xb"), work.path().join("mb"));
    let writer = Writer::start(&p);
    std::thread::sleep(Duration::from_millis(300));
    let notes = Notes::default();
    xb_backup(&r, &xb_dir, &slave_info_options(), &notes).expect("xb backup of the replica");
    mariabackup(&r, &mb_dir, &["--slave-info"]);
    let written = writer.stop();
    assert!(written > 20, "the writer wrote only {written} rows");
    let ours = read(xb_dir.join("xtrabackup_slave_info"));
    let theirs = read(mb_dir.join("xtrabackup_slave_info"));
    assert_eq!(form(&ours), form(&theirs), "{ours}\n{theirs}");
    let position = |s: &str| -> u64 {
        s.split("MASTER_LOG_POS=")
            .nth(1)
            .unwrap()
            .trim_end_matches(";\n")
            .parse()
            .unwrap()
    };
    let end = p.query_rows("SHOW MASTER STATUS").unwrap()[0][1]
        .parse::<u64>()
        .unwrap();
    assert!(
        position(&ours) <= position(&theirs) && position(&theirs) <= end,
        "xb {ours}, mariabackup (taken after) {theirs}, primary's end {end}"
    );
    caught_up(&p, &r, "the replica");

    // restore xb's backup as a new replica and start it from the recorded position
    prepare::prepare(
        &xb_dir,
        &[],
        &PrepareOptions::default(),
        &NoProgress,
        &Cancel::new(),
    )
    .expect("xb prepare");
    let run = short_tempdir().unwrap();
    let restored = Sandbox::on_datadir(run.path(), &xb_dir, &replica_options(3))
        .expect("a server on the restored replica");
    restored.sql("STOP SLAVE; RESET SLAVE ALL").unwrap();
    point_at(&restored, "", port, "");
    restored.sql(&ours).unwrap();
    restored.sql("START SLAVE").unwrap();
    caught_up(&p, &restored, "the restored replica");
}

#[test]
fn safe_slave_backup_waits_for_the_replicas_temporary_tables() {
    let _one = ONE_PAIR.lock().unwrap_or_else(|e| e.into_inner());
    let port = free_port();
    let p = primary(port);
    let r = replica(&p, port);
    let work = short_tempdir().unwrap();
    // a session on the primary holds a temporary table: so does the replica's SQL thread
    let mut session = load::connect(&p.socket()).unwrap();
    session
        .query_drop("CREATE TEMPORARY TABLE d.tmp (i INT) ENGINE=InnoDB")
        .unwrap();
    session
        .query_drop("INSERT INTO d.t VALUES (3, 21)")
        .unwrap();
    caught_up(&p, &r, "the replica");
    assert_eq!(r.status_u64("Slave_open_temp_tables").unwrap(), 1);
    let mut hot = slave_info_options();
    hot.set_safe_slave_backup(true)
        .set_safe_slave_backup_timeout(Duration::from_secs(3));
    let t0 = Instant::now();
    let refused = work.path().join("refused");
    let e = xb_backup(&r, &refused, &hot, &Notes::default())
        .expect_err("a backup while the replica holds a temporary table");
    assert!(e.to_string().contains("Slave_open_temp_tables"), "{e}");
    assert!(t0.elapsed() >= Duration::from_secs(3), "{:?}", t0.elapsed());
    assert!(!refused.join("xtrabackup_checkpoints").exists());
    assert_eq!(
        slave_field(&r, "Slave_SQL_Running"),
        "Yes",
        "restarted after the refusal"
    );

    // the temporary table goes away while the backup waits: the backup goes on
    let closer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(1));
        session.query_drop("DROP TEMPORARY TABLE d.tmp").unwrap();
    });
    hot.set_safe_slave_backup_timeout(Duration::from_secs(30));
    let notes = Notes::default();
    let ok = work.path().join("ok");
    xb_backup(&r, &ok, &hot, &notes).expect("the backup once the temporary table is gone");
    closer.join().unwrap();
    assert!(
        notes.all().contains("SQL thread is stopped"),
        "{}",
        notes.all()
    );
    assert_eq!(r.status_u64("Slave_open_temp_tables").unwrap(), 0);
    assert_eq!(
        slave_field(&r, "Slave_SQL_Running"),
        "Yes",
        "restarted at the end"
    );
    // the SQL thread was stopped at the recorded position: it is where the replica stood
    let pos = slave_field(&r, "Exec_Master_Log_Pos");
    assert_eq!(
        read(ok.join("xtrabackup_slave_info")),
        format!("CHANGE MASTER TO MASTER_LOG_FILE='mysql-bin.000001', MASTER_LOG_POS={pos};\n")
    );
}

#[test]
fn galera_info_is_what_mariabackup_writes() {
    let _one = ONE_PAIR.lock().unwrap_or_else(|e| e.into_inner());
    let provider = Path::new("/usr/lib/galera/libgalera_smm.so");
    assert!(provider.exists(), "galera-4 is not installed");
    let opts = SandboxOptions::default()
        .option("wsrep_on", "ON")
        .option("wsrep_provider", provider.display().to_string())
        .option("wsrep_cluster_address", "gcomm://")
        .option(
            "wsrep_provider_options",
            format!("gmcast.listen_addr=tcp://127.0.0.1:{}", free_port()),
        )
        .option("binlog_format", "ROW")
        .option("innodb_autoinc_lock_mode", "2");
    let g = Sandbox::in_tempdir(&opts).expect("a single-node Galera cluster");
    g.sql(
        "CREATE DATABASE d; CREATE TABLE d.t (i INT PRIMARY KEY) ENGINE=InnoDB; \
           INSERT INTO d.t VALUES (1), (2)",
    )
    .unwrap();
    let work = short_tempdir().unwrap();
    let (x, m) = (work.path().join("xb"), work.path().join("mb"));
    let mut hot = HotOptions::default();
    hot.set_galera_info(true);
    let report = xb_backup(&g, &x, &hot, &Notes::default()).expect("xb backup of a Galera node");
    mariabackup(&g, &m, &["--galera-info"]);
    let uuid = g
        .query_rows("SHOW STATUS LIKE 'wsrep_local_state_uuid'")
        .unwrap()[0][1]
        .clone();
    let seqno = g
        .query_rows("SHOW STATUS LIKE 'wsrep_last_committed'")
        .unwrap()[0][1]
        .clone();
    let line = format!("{uuid}:{seqno} 0\n");
    for name in ["xtrabackup_galera_info", "donor_galera_info"] {
        assert_eq!(read(x.join(name)), line, "{name}");
        assert_eq!(read(m.join(name)), line, "mariabackup's {name}");
    }
    assert_eq!(
        report.hot().unwrap().galera_state.as_deref(),
        Some(line.trim_end())
    );

    // a server that is not a Galera node: no file, and a note that says so (as mariabackup)
    let plain = Sandbox::in_tempdir(&SandboxOptions::default()).unwrap();
    let notes = Notes::default();
    let none = work.path().join("none");
    xb_backup(&plain, &none, &hot, &notes).unwrap();
    assert!(!none.join("xtrabackup_galera_info").exists());
    assert!(notes.all().contains("not a Galera node"), "{}", notes.all());
}
