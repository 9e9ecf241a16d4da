//! Hot backups of a real MariaDB 10.11 under a write load (`xb_testkit::load`: an
//! append-only table whose ids must stay 1..max, transfers whose sum is constant, updates of a
//! table with a secondary index), slowed down so that the server checkpoints during them.
//!
//! Full + two incrementals, hot; then restored two ways: `xb prepare` (merge, one redo pass
//! left) + a server started on the result (its crash recovery applies the newest redo), and
//! `mariabackup --prepare` of copies of our backups. Both must pass `CHECK TABLE … EXTENDED`,
//! keep the invariants, and give the `CHECKSUM TABLE` taken on the source while the last
//! backup held `BACKUP STAGE BLOCK_COMMIT` (the exact end LSN). The same with CREATE, DROP,
//! RENAME, TRUNCATE and ALTER running during the backups. And a follower that falls behind
//! (small log, write load, follower paused) fails the backup, which nothing marks complete.
//! Needs MariaDB (fails without it). One server at a time. `XB_TEST_KEEP=1` keeps (and names)
//! the work directories, to look at a failure.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::{arg, connect, work_dir};
use incremental_core::backup::sink::DirSink;
use incremental_core::backup::{
    BackupError, BackupOptions, BackupPlan, BackupReport, HotOptions, HotReport, Incremental,
};
use incremental_core::prepare::{self, PrepareOptions};
use incremental_core::progress::{Cancel, Event, NoProgress, Progress};
use xb_testkit::load::Queryable;
use xb_testkit::load::{self, Load};
use xb_testkit::sandbox::copy_dir;
use xb_testkit::sandbox::{short_tempdir, Sandbox, SandboxOptions};

static ONE_SERVER: Mutex<()> = Mutex::new(());

const BIG_ROWS: u32 = 20_000;

fn server_options() -> SandboxOptions {
    SandboxOptions::default()
        .option("innodb_log_file_size", "8M")
        .option("innodb_max_dirty_pages_pct", "5")
        .option("innodb_max_dirty_pages_pct_lwm", "1")
        .option("innodb_flush_log_at_trx_commit", "2")
}

fn checksums(socket: &Path) -> BTreeMap<String, String> {
    load::checksums(socket).unwrap()
}

/// Takes the reference at the exact end of the backup: commits are blocked.
struct Reference {
    socket: PathBuf,
    sums: Mutex<Option<BTreeMap<String, String>>>,
}

impl Progress for Reference {
    fn event(&self, e: Event<'_>) {
        if let Event::ConsistentPoint { .. } = e {
            *self.sums.lock().unwrap() = Some(checksums(&self.socket));
        }
    }
}

/// A hot backup's report, with its hot part at hand.
#[derive(Debug)]
struct Hot {
    report: BackupReport,
    hot: HotReport,
}

impl std::ops::Deref for Hot {
    type Target = HotReport;
    fn deref(&self) -> &HotReport {
        &self.hot
    }
}

fn hot_backup(
    sb: &Sandbox,
    target: &Path,
    base: Option<&Path>,
    hot_opts: &HotOptions,
    hooks: &dyn Progress,
) -> Result<Hot, BackupError> {
    hot_backup_slowed(sb, target, base, hot_opts, hooks, 25)
}

fn hot_backup_slowed(
    sb: &Sandbox,
    target: &Path,
    base: Option<&Path>,
    hot_opts: &HotOptions,
    hooks: &dyn Progress,
    mib_per_s: u64,
) -> Result<Hot, BackupError> {
    let mut opts = BackupOptions::new(sb.datadir());
    opts.set_incremental(base.map(|b| Incremental::Basedir(b.to_path_buf())))
        .set_force_scan(true)
        .set_chunk_bytes(512 << 10)
        .set_parallel(2)
        .set_read_limit(Some(mib_per_s << 20))
        .set_connect(connect(sb))
        .set_hot(hot_opts.clone());
    let plan = BackupPlan::new(&opts)?;
    assert!(plan.mode().is_hot(), "{}", plan.mode());
    let mut sink = DirSink::new(target).unwrap().sync(false);
    let report = plan.run(&mut sink, hooks, &Cancel::new())?;
    let hot = report.hot().expect("a hot backup's report").clone();
    Ok(Hot { report, hot })
}

fn describe(what: &str, r: &Hot) -> String {
    format!(
        "{what}: to_lsn {} last_lsn {} end_lsn {} checkpoint after the copy {}, {} pages \
         copied, redo {} bytes, follower {:.0} MB/s vs server {:.2} MB/s, {:.1} s",
        r.report.to_lsn,
        r.report.last_lsn,
        r.end_lsn,
        r.copy_end_checkpoint,
        r.report.pages_copied(),
        r.report.redo_bytes,
        r.follower.parse_rate() / 1e6,
        r.server_redo_rate() / 1e6,
        r.report.seconds
    )
}

/// Starts a server on `datadir` (its crash recovery runs), checks it, returns its checksums.
fn restore_and_check(datadir: &Path, what: &str) -> BTreeMap<String, String> {
    let run = short_tempdir().unwrap();
    let sb = Sandbox::on_datadir(run.path(), datadir, &server_options())
        .unwrap_or_else(|e| panic!("{what}: server on the restored datadir: {e}"));
    let inv = load::check(&sb.socket(), BIG_ROWS).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(inv.appended > 0, "{what}: {inv:?}");
    checksums(&sb.socket())
}

#[test]
fn hot_full_and_incrementals_under_load_restore_exactly() {
    let _one = ONE_SERVER.lock().unwrap_or_else(|e| e.into_inner());
    let t0 = Instant::now();
    let sb = Sandbox::in_tempdir(&server_options()).expect("MariaDB sandbox");
    Load::setup(&sb.socket(), BIG_ROWS).unwrap();
    let (_keep, work) = work_dir();
    let (full, inc1, inc2) = (work.join("full"), work.join("inc1"), work.join("inc2"));
    let running = Load::start(&sb.socket(), BIG_ROWS).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let h = HotOptions::default();
    let rf = hot_backup(&sb, &full, None, &h, &NoProgress).unwrap();
    eprintln!("{}", describe("full", &rf));
    let r1 = hot_backup(&sb, &inc1, Some(&full), &h, &NoProgress).unwrap();
    eprintln!("{}", describe("inc1", &r1));
    let reference = Reference {
        socket: sb.socket(),
        sums: Mutex::new(None),
    };
    let r2 = hot_backup(&sb, &inc2, Some(&inc1), &h, &reference).unwrap();
    eprintln!("{}", describe("inc2", &r2));
    let stats = running.stop().unwrap();
    eprintln!("load: {stats:?}");
    let reference = reference.sums.lock().unwrap().clone().unwrap();

    // the load ran through every backup, and the server checkpointed during them
    assert!(
        stats.appended > 100 && stats.transfers > 100 && stats.updates > 50,
        "{stats:?}"
    );
    for (what, r) in [("full", &rf), ("inc1", &r1), ("inc2", &r2)] {
        assert!(r.report.last_lsn >= r.end_lsn, "{what}");
        assert!(
            r.end_lsn > r.report.to_lsn,
            "{what}: no write during the backup"
        );
    }
    assert!(
        [&rf, &r1, &r2]
            .iter()
            .all(|r| r.copy_end_checkpoint > r.report.to_lsn),
        "no checkpoint during the copy of some backup"
    );
    assert_eq!(r1.report.from_lsn, rf.report.to_lsn);
    assert_eq!(r1.report.selection_lsn, rf.report.to_lsn);
    assert_eq!(r2.report.from_lsn, r1.report.to_lsn);
    // the source still satisfies the invariants
    load::check(&sb.socket(), BIG_ROWS).unwrap();

    // 1: xb prepare (one pass) + the server's own crash recovery
    let merged = work.join("merged");
    copy_dir(&full, &merged).unwrap();
    prepare::prepare(
        &merged,
        &[inc1.clone(), inc2.clone()],
        &PrepareOptions::default(),
        &NoProgress,
        &Cancel::new(),
    )
    .expect("xb prepare of the hot chain");
    let sums = restore_and_check(&merged, "xb prepare + server recovery");
    assert_eq!(sums, reference, "xb prepare + server recovery");

    // 2: mariabackup --prepare on copies of our backups
    let mb = work.join("mb");
    copy_dir(&full, &mb.join("full")).unwrap();
    copy_dir(&inc1, &mb.join("inc1")).unwrap();
    copy_dir(&inc2, &mb.join("inc2")).unwrap();
    sb.mariabackup(["--prepare".into(), arg("target-dir", &mb.join("full"))])
        .expect("mariabackup --prepare of our full");
    for inc in ["inc1", "inc2"] {
        sb.mariabackup([
            "--prepare".into(),
            arg("target-dir", &mb.join("full")),
            arg("incremental-dir", &mb.join(inc)),
        ])
        .unwrap_or_else(|e| panic!("mariabackup --prepare --incremental-dir {inc}: {e}"));
    }
    let sums = restore_and_check(&mb.join("full"), "mariabackup --prepare");
    assert_eq!(sums, reference, "mariabackup --prepare");
    eprintln!("total {:.1} s", t0.elapsed().as_secs_f64());
}

/// `CHECKSUM TABLE … EXTENDED` of every table of the databases `xbload` and `ddl`.
fn all_checksums(socket: &Path) -> BTreeMap<String, String> {
    let mut c = load::connect(socket).unwrap();
    // fail rather than hang if a metadata lock stands in the way
    c.query_drop("SET SESSION lock_wait_timeout = 20").unwrap();
    let tables: Vec<String> = c
        .query(
            "SELECT CONCAT(table_schema, '.', table_name) FROM information_schema.tables \
             WHERE table_schema IN ('xbload', 'ddl') AND table_type = 'BASE TABLE' \
             ORDER BY 1",
        )
        .unwrap();
    let rows: Vec<(String, Option<String>)> = c
        .query(format!("CHECKSUM TABLE {} EXTENDED", tables.join(", ")))
        .unwrap();
    rows.into_iter()
        .map(|(t, s)| (t.clone(), s.unwrap_or_else(|| panic!("{t}: no checksum"))))
        .collect()
}

/// CHECK TABLE … EXTENDED of every table of `ddl` must be OK.
fn check_ddl_tables(socket: &Path, what: &str) {
    let mut c = load::connect(socket).unwrap();
    let tables: Vec<String> = c
        .query(
            "SELECT CONCAT(table_schema, '.', table_name) FROM information_schema.tables \
             WHERE table_schema = 'ddl' AND table_type = 'BASE TABLE'",
        )
        .unwrap();
    for t in tables {
        let rows: Vec<(String, String, String, String)> =
            c.query(format!("CHECK TABLE {t} EXTENDED")).unwrap();
        assert!(
            rows.iter().all(|r| r.2 != "error") && rows.iter().any(|r| r.3 == "OK"),
            "{what}: CHECK TABLE {t}: {rows:?}"
        );
    }
}

struct AllReference {
    socket: PathBuf,
    sums: Mutex<Option<BTreeMap<String, String>>>,
}

impl Progress for AllReference {
    fn event(&self, e: Event<'_>) {
        match e {
            Event::ConsistentPoint { .. } => {
                *self.sums.lock().unwrap() = Some(all_checksums(&self.socket));
            }
            // Shown when the test fails: what the backup said about the files it could not
            // copy as listed.
            Event::Note { message } => eprintln!("note: {message}"),
            _ => {}
        }
    }
}

/// DDL in a loop until `stop`: CREATE, DROP, RENAME, TRUNCATE and a rebuilding ALTER, with
/// rows changed after each. Returns the rounds done.
fn ddl_loop(socket: &Path, stop: &std::sync::atomic::AtomicBool) -> u32 {
    let mut c = load::connect(socket).unwrap();
    let mut i = 1u32;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        let rows: Vec<String> = (1..=20).map(|n| format!("({n}, 'r{i}-{n}')")).collect();
        let rows = rows.join(",");
        let stmts = [
            format!("CREATE TABLE ddl.c{i} (id INT PRIMARY KEY, v VARCHAR(50)) ENGINE=InnoDB"),
            format!("INSERT INTO ddl.c{i} VALUES {rows}"),
            format!("DROP TABLE IF EXISTS ddl.c{}", i.saturating_sub(2)),
            format!("RENAME TABLE ddl.r{} TO ddl.r{i}", i - 1),
            format!("UPDATE ddl.r{i} SET v = 'renamed {i}' WHERE id = 1"),
            "TRUNCATE TABLE ddl.t".to_string(),
            format!("INSERT INTO ddl.t VALUES {rows}"),
            if i.is_multiple_of(2) {
                "ALTER TABLE ddl.a FORCE".to_string()
            } else {
                format!("ALTER TABLE ddl.a MODIFY v VARCHAR({})", 50 + i % 7)
            },
            format!(
                "UPDATE ddl.a SET v = 'altered {i}' WHERE id <= {}",
                i % 20 + 1
            ),
        ];
        for s in &stmts {
            c.query_drop(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        }
        i += 1;
        std::thread::sleep(Duration::from_millis(150));
    }
    i - 1
}

#[test]
fn hot_backups_with_ddl_during_them_restore_exactly() {
    let _one = ONE_SERVER.lock().unwrap_or_else(|e| e.into_inner());
    let t0 = Instant::now();
    let sb = Sandbox::in_tempdir(&server_options()).expect("MariaDB sandbox");
    Load::setup(&sb.socket(), BIG_ROWS).unwrap();
    let rows: Vec<String> = (1..=200).map(|n| format!("({n}, 'row {n}')")).collect();
    sb.sql(&format!(
        "CREATE DATABASE ddl; \
         CREATE TABLE ddl.r0 (id INT PRIMARY KEY, v VARCHAR(50)) ENGINE=InnoDB; \
         CREATE TABLE ddl.t (id INT PRIMARY KEY, v VARCHAR(50)) ENGINE=InnoDB; \
         CREATE TABLE ddl.a (id INT PRIMARY KEY, v VARCHAR(50)) ENGINE=InnoDB; \
         CREATE TABLE ddl.c0 (id INT PRIMARY KEY) ENGINE=InnoDB; \
         INSERT INTO ddl.r0 VALUES {r}; INSERT INTO ddl.t VALUES {r}; INSERT INTO ddl.a VALUES {r};",
        r = rows.join(",")
    ))
    .unwrap();
    let (_keep, work) = work_dir();
    let (full, inc1, inc2) = (work.join("full"), work.join("inc1"), work.join("inc2"));
    let running = Load::start(&sb.socket(), BIG_ROWS).unwrap();
    let stop = std::sync::atomic::AtomicBool::new(false);
    /// Stops the DDL loop however the scope ends (a failed backup panics).
    struct StopOnDrop<'a>(&'a std::sync::atomic::AtomicBool);
    impl Drop for StopOnDrop<'_> {
        fn drop(&mut self) {
            self.0.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }
    let (reports, rounds, reference) = std::thread::scope(|s| {
        let ddl = s.spawn(|| ddl_loop(&sb.socket(), &stop));
        let _stop = StopOnDrop(&stop);
        let h = HotOptions::default();
        let rf = hot_backup(&sb, &full, None, &h, &NoProgress).unwrap();
        let r1 = hot_backup(&sb, &inc1, Some(&full), &h, &NoProgress).unwrap();
        let reference = AllReference {
            socket: sb.socket(),
            sums: Mutex::new(None),
        };
        // DDL runs through the first second of the last backup's copy only: a statement still
        // waiting at its end (an ALTER blocked before its rename) holds a metadata lock that
        // the reference's CHECKSUM TABLE would wait behind while commits are blocked
        s.spawn(|| {
            std::thread::sleep(Duration::from_secs(1));
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
        });
        let r2 = hot_backup(&sb, &inc2, Some(&inc1), &h, &reference).unwrap();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let rounds = ddl.join().unwrap();
        let sums = reference.sums.lock().unwrap().clone().unwrap();
        ([rf, r1, r2], rounds, sums)
    });
    let stats = running.stop().unwrap();
    eprintln!("load: {stats:?}; {rounds} DDL rounds");
    let mut tracked = 0;
    for (what, r) in ["full", "inc1", "inc2"].iter().zip(&reports) {
        eprintln!(
            "{}; DDL: {} deleted, {} renamed, {} new",
            describe(what, r),
            r.deleted.len(),
            r.renamed.len(),
            r.new.len()
        );
        tracked += r.deleted.len() + r.renamed.len() + r.new.len();
    }
    assert!(
        rounds >= 6,
        "only {rounds} DDL rounds ran during the backups"
    );
    assert!(tracked > 0, "no DDL was tracked");
    assert!(reference.keys().any(|t| t.starts_with("ddl.c")));

    // 1: xb prepare (one pass; DDL files processed) + the server's crash recovery
    let merged = work.join("merged");
    copy_dir(&full, &merged).unwrap();
    prepare::prepare(
        &merged,
        &[inc1.clone(), inc2.clone()],
        &PrepareOptions::default(),
        &NoProgress,
        &Cancel::new(),
    )
    .expect("xb prepare of the hot chain with DDL");
    {
        let run = short_tempdir().unwrap();
        let r = Sandbox::on_datadir(run.path(), &merged, &server_options())
            .expect("server on the merged backup");
        load::check(&r.socket(), BIG_ROWS).expect("xb prepare: invariants");
        check_ddl_tables(&r.socket(), "xb prepare");
        assert_eq!(
            all_checksums(&r.socket()),
            reference,
            "xb prepare + server recovery"
        );
    }

    // 2: mariabackup --prepare on copies of our backups
    let mb = work.join("mb");
    copy_dir(&full, &mb.join("full")).unwrap();
    copy_dir(&inc1, &mb.join("inc1")).unwrap();
    copy_dir(&inc2, &mb.join("inc2")).unwrap();
    sb.mariabackup(["--prepare".into(), arg("target-dir", &mb.join("full"))])
        .expect("mariabackup --prepare of our full");
    for inc in ["inc1", "inc2"] {
        sb.mariabackup([
            "--prepare".into(),
            arg("target-dir", &mb.join("full")),
            arg("incremental-dir", &mb.join(inc)),
        ])
        .unwrap_or_else(|e| panic!("mariabackup --prepare --incremental-dir {inc}: {e}"));
    }
    {
        let run = short_tempdir().unwrap();
        let r = Sandbox::on_datadir(run.path(), mb.join("full"), &server_options())
            .expect("server on the mariabackup-prepared backup");
        load::check(&r.socket(), BIG_ROWS).expect("mariabackup --prepare: invariants");
        check_ddl_tables(&r.socket(), "mariabackup --prepare");
        assert_eq!(
            all_checksums(&r.socket()),
            reference,
            "mariabackup --prepare"
        );
    }
    eprintln!("total {:.1} s", t0.elapsed().as_secs_f64());
}

#[test]
fn a_follower_that_falls_behind_fails_the_backup_and_nothing_marks_it_complete() {
    let _one = ONE_SERVER.lock().unwrap_or_else(|e| e.into_inner());
    let opts = server_options().option("innodb_log_file_size", "2M");
    let sb = Sandbox::in_tempdir(&opts).expect("MariaDB sandbox");
    Load::setup(&sb.socket(), 5_000).unwrap();
    let (_keep, work) = work_dir();
    let target = work.join("full");
    let running = Load::start(&sb.socket(), 5_000).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // the follower reads once at the start, then not before the end: "paused"
    let mut paused = HotOptions::default();
    paused.set_poll_interval(Duration::from_secs(600));
    let t0 = Instant::now();
    // slow enough that the server writes several times the log's capacity meanwhile, even
    // when other tests share the CPU with its load (8 MiB/s was seen to be too fast then)
    let err = hot_backup_slowed(&sb, &target, None, &paused, &NoProgress, 3)
        .expect_err("a backup whose redo was overwritten must fail");
    let stats = running.stop().unwrap();
    eprintln!(
        "failed after {:.1} s ({stats:?}): {err}",
        t0.elapsed().as_secs_f64()
    );
    assert!(
        matches!(
            err,
            BackupError::Follow(innodb_page::redo::follow::FollowError::Overtaken { .. })
        ),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("overwritten") && msg.contains("innodb_log_file_size"),
        "{msg}"
    );
    assert!(
        !target.join("xtrabackup_checkpoints").exists(),
        "a failed backup must not look complete"
    );
    // the server was released (BACKUP STAGE END): DDL runs at once
    let t = Instant::now();
    sb.sql("CREATE TABLE xbload.after_failure (i INT) ENGINE=InnoDB")
        .unwrap();
    assert!(t.elapsed() < Duration::from_secs(5));
    // and a backup with a follower that keeps up succeeds on the same server
    let ok = hot_backup(
        &sb,
        &work.join("again"),
        None,
        &HotOptions::default(),
        &NoProgress,
    )
    .expect("a hot backup with a running follower");
    assert!(work.join("again/xtrabackup_checkpoints").exists());
    assert!(ok.report.last_lsn >= ok.end_lsn);
}
