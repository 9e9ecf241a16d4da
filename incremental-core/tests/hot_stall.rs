//! Commits must not wait on file copies: a hot backup of a real MariaDB 10.11 holding about
//! 1 GB of MyISAM and Aria tables and a few hundred MB of binary log, while a writer commits
//! InnoDB rows in a loop and records its longest gap between two commits. The same data is
//! backed up by xb and by the installed `mariabackup --backup`, one after the other, in the
//! same test: xb's longest stall must not exceed mariabackup's (plus 0.2 s for noise). Both
//! figures are printed.
//!
//! xb's backup is then restored (`xb prepare`, a server started on it: its crash recovery, and
//! Aria's) and its MyISAM/Aria tables must give the source's `CHECKSUM TABLE`: the big tables
//! not written during the backup, and a MyISAM and an Aria table written before, during and
//! after the backup, whose reference is taken while the backup holds `BLOCK_COMMIT`.
//! Needs MariaDB (fails without it). `XB_TEST_KEEP=1` keeps the work directory.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use incremental_core::backup::sink::{DirSink, Sink};
use incremental_core::backup::{BackupOptions, BackupPlan, ConnectOptions, HotOptions};
use incremental_core::prepare::{self, PrepareOptions};
use incremental_core::progress::{Cancel, Event, NoProgress, Progress};
use incremental_core::xbstream::{self, ExtractOptions, StreamSink};
use xb_testkit::load::{self, Queryable};
use xb_testkit::sandbox::{short_tempdir, Sandbox, SandboxOptions};

/// Rows of 1 KiB in the MyISAM table (doubled up to this), the crash-safe Aria table (slow
/// to load) and the non-transactional Aria table.
const MYISAM_ROWS: u64 = 1 << 19;
const ARIA_ROWS: u64 = 150_000;
const ARIA_FIXED_ROWS: u64 = 350_000;
/// Rows of 1 KiB written to the binary log only.
const BINLOG_ROWS: u64 = 300_000;

/// The tables written during the backups.
const HOT_TABLES: &[&str] = &["st.hot_m", "st.hot_a"];
/// The tables nobody writes during the backups.
const COLD_TABLES: &[&str] = &["st.big_m", "st.big_a", "st.big_f"];

fn server_options() -> SandboxOptions {
    SandboxOptions::default()
        .option("log_bin", "mysql-bin")
        .option("server_id", "1")
        .option("binlog_format", "ROW")
        .option("sync_binlog", "0")
        .option("innodb_flush_log_at_trx_commit", "2")
        .option("max_allowed_packet", "64M")
}

fn work_dir() -> (Option<tempfile::TempDir>, PathBuf) {
    let t = short_tempdir().unwrap();
    if std::env::var_os("XB_TEST_KEEP").is_some() {
        let p = t.keep();
        eprintln!("work dir kept: {}", p.display());
        (None, p)
    } else {
        let p = t.path().to_path_buf();
        (Some(t), p)
    }
}

fn exec(socket: &Path, statements: &[&str]) {
    let mut c = load::connect(socket).unwrap();
    for s in statements {
        let t = Instant::now();
        c.query_drop(*s).unwrap_or_else(|e| panic!("{s}: {e}"));
        if t.elapsed() > Duration::from_secs(2) {
            eprintln!("{:.1} s: {s}", t.elapsed().as_secs_f64());
        }
    }
}

/// 1 GB of MyISAM and Aria rows, kept out of the binary log, then a few hundred MB of binary
/// log from rows written to a table that is dropped again.
fn generate(socket: &Path) {
    let t = Instant::now();
    let wide = "id INT AUTO_INCREMENT PRIMARY KEY, a CHAR(250), b CHAR(250), c CHAR(250), \
                d CHAR(250)";
    let mut setup = vec![
        "SET SESSION sql_log_bin = 0".to_string(),
        "CREATE DATABASE st".into(),
        format!("CREATE TABLE st.big_m ({wide}) ENGINE=MyISAM"),
        format!("CREATE TABLE st.hot_m ({wide}) ENGINE=MyISAM"),
        format!("CREATE TABLE st.hot_a ({wide}) ENGINE=Aria TRANSACTIONAL=1"),
        "CREATE TABLE st.commits (id INT AUTO_INCREMENT PRIMARY KEY, v INT) ENGINE=InnoDB".into(),
        "INSERT INTO st.big_m (a, b, c, d) VALUES (REPEAT('a', 250), REPEAT('b', 250), \
         REPEAT('c', 250), REPEAT('d', 250))"
            .into(),
    ];
    let mut rows = 1;
    while rows < MYISAM_ROWS {
        setup.push(
            "INSERT INTO st.big_m (a, b, c, d) SELECT MD5(id), b, c, MD5(RAND()) FROM st.big_m"
                .into(),
        );
        rows *= 2;
    }
    let fill = "SELECT id, RPAD(a, 250, 'y') a, b, c, RPAD(d, 250, 'x') d FROM st.big_m";
    setup.push(format!(
        "CREATE TABLE st.big_a ({wide}) ENGINE=Aria TRANSACTIONAL=1 {fill} LIMIT {ARIA_ROWS}"
    ));
    setup.push(format!(
        "CREATE TABLE st.big_f ({wide}) ENGINE=Aria ROW_FORMAT=FIXED TRANSACTIONAL=0 {fill} \
         LIMIT {ARIA_FIXED_ROWS}"
    ));
    setup.push(
        "INSERT INTO st.hot_m (a, b, c, d) SELECT a, b, c, d FROM st.big_m LIMIT 1000".into(),
    );
    setup.push(
        "INSERT INTO st.hot_a (a, b, c, d) SELECT a, b, c, d FROM st.big_m LIMIT 1000".into(),
    );
    setup.push("SET SESSION sql_log_bin = 1".into());
    setup.push(format!(
        "CREATE TABLE st.binlog_fill ({wide}) ENGINE=MyISAM"
    ));
    setup.push(format!(
        "INSERT INTO st.binlog_fill {fill} LIMIT {BINLOG_ROWS}"
    ));
    setup.push("DROP TABLE st.binlog_fill".into());
    let setup: Vec<&str> = setup.iter().map(String::as_str).collect();
    exec(socket, &setup);
    eprintln!("data generated in {:.1} s", t.elapsed().as_secs_f64());
}

/// A writer that commits InnoDB rows in a loop (autocommit) and the longest gap it saw
/// between two commits; one more for each hot MyISAM or Aria table (a MyISAM writer waits
/// from `BACKUP STAGE FLUSH` to `END`).
struct Writers {
    stop: Arc<AtomicBool>,
    commits: JoinHandle<(Duration, u64)>,
    others: Vec<JoinHandle<u64>>,
}

impl Writers {
    fn start(socket: &Path) -> Writers {
        let stop = Arc::new(AtomicBool::new(false));
        let (s, sock) = (stop.clone(), socket.to_path_buf());
        let commits = std::thread::spawn(move || {
            let mut c = load::connect(&sock).unwrap();
            let (mut longest, mut n) = (Duration::ZERO, 0u64);
            let mut last = Instant::now();
            while !s.load(Ordering::Relaxed) {
                c.query_drop("INSERT INTO st.commits (v) VALUES (1)")
                    .unwrap();
                let now = Instant::now();
                longest = longest.max(now - last);
                last = now;
                n += 1;
            }
            (longest, n)
        });
        let others = HOT_TABLES
            .iter()
            .map(|t| {
                let (s, sock) = (stop.clone(), socket.to_path_buf());
                let insert =
                    format!("INSERT INTO {t} (a, b, c, d) VALUES (MD5(RAND()), 'b', 'c', 'd')");
                std::thread::spawn(move || {
                    let mut c = load::connect(&sock).unwrap();
                    let mut n = 0u64;
                    while !s.load(Ordering::Relaxed) {
                        c.query_drop(&insert).unwrap();
                        n += 1;
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    n
                })
            })
            .collect();
        Writers {
            stop,
            commits,
            others,
        }
    }

    /// Stops them; the longest gap between two commits, the commits, and the rows written
    /// into each hot table.
    fn stop(self) -> (Duration, u64, Vec<u64>) {
        self.stop.store(true, Ordering::Relaxed);
        let (longest, commits) = self.commits.join().unwrap();
        let others = self.others.into_iter().map(|t| t.join().unwrap()).collect();
        (longest, commits, others)
    }
}

/// Takes the checksums of the hot tables at the exact end of the backup (commits blocked).
struct Reference {
    server: PathBuf,
    sums: Mutex<Option<BTreeMap<String, String>>>,
}

impl Progress for Reference {
    fn event(&self, e: Event<'_>) {
        match e {
            Event::ConsistentPoint { .. } => {
                *self.sums.lock().unwrap() = Some(contents(&self.server));
            }
            Event::Note { message } if message.contains("commits were blocked") => {
                eprintln!("xb: {message}");
            }
            _ => {}
        }
    }
}

/// The rows of each hot table, summed up by a plain `SELECT`: it reads beside an Aria insert
/// that waits for `BLOCK_COMMIT` (`CHECKSUM TABLE` would wait for it, and the backup for the
/// checksum).
fn contents(socket: &Path) -> BTreeMap<String, String> {
    let mut c = load::connect(socket).unwrap();
    let mut sum = |t: &str| -> String {
        let q = format!(
            "SELECT CONCAT(COUNT(*), ' ', BIT_XOR(CRC32(CONCAT_WS('|', id, a, b, c, d)))) \
             FROM {t}"
        );
        c.query_first(&q).unwrap().unwrap()
    };
    HOT_TABLES.iter().map(|t| (t.to_string(), sum(t))).collect()
}

fn checksums(socket: &Path, tables: &[&str]) -> BTreeMap<String, String> {
    let mut c = load::connect(socket).unwrap();
    let q = format!("CHECKSUM TABLE {} EXTENDED", tables.join(", "));
    let rows: Vec<(String, Option<String>)> = c.query(&q).unwrap();
    rows.into_iter()
        .map(|(t, s)| (t, s.unwrap_or_else(|| panic!("{q}: no checksum"))))
        .collect()
}

fn xb_backup(sb: &Sandbox, target: &Path, reference: &Reference) -> f64 {
    let mut sink = DirSink::new(target).unwrap();
    xb_backup_to(sb, &mut sink, reference)
}

/// A backup streamed into the file `stream` (a stream cannot replace a file it sent, so the
/// engine copies each non-InnoDB file once: those that can still change under
/// `BLOCK_COMMIT`), then extracted into `target`.
fn xb_stream_backup(sb: &Sandbox, stream: &Path, target: &Path, reference: &Reference) -> f64 {
    let out = std::io::BufWriter::new(std::fs::File::create(stream).unwrap());
    let mut sink = StreamSink::new(out);
    let blocked = xb_backup_to(sb, &mut sink, reference);
    drop(sink);
    let mut dir = DirSink::new(target).unwrap();
    let input = std::fs::File::open(stream).unwrap();
    xbstream::extract(
        input,
        &mut dir,
        &ExtractOptions::default(),
        &NoProgress,
        &Cancel::new(),
    )
    .expect("extracting xb's stream");
    dir.finish().unwrap();
    blocked
}

fn xb_backup_to(sb: &Sandbox, sink: &mut dyn Sink, reference: &Reference) -> f64 {
    let mut c = ConnectOptions::new();
    c.set_socket(sb.socket())
        .set_user("root")
        .set_no_defaults(true);
    let mut opts = BackupOptions::new(sb.datadir());
    opts.set_connect(c).set_hot(HotOptions::default());
    let plan = BackupPlan::new(&opts).unwrap();
    assert!(plan.mode().is_hot(), "{}", plan.mode());
    let report = plan.run(sink, reference, &Cancel::new()).unwrap();
    let hot = report.hot().unwrap();
    eprintln!(
        "xb: {:.1} s, {} other files ({} MB), commits blocked {:.2} s by its own clock",
        report.seconds,
        report.other_files,
        report.other_bytes >> 20,
        hot.commits_blocked_seconds
    );
    hot.commits_blocked_seconds
}

fn arg(name: &str, path: &Path) -> OsString {
    let mut a = OsString::from(format!("--{name}="));
    a.push(path);
    a
}

/// Runs `backup` while the writers run; the longest gap between two commits.
fn longest_stall(sb: &Sandbox, what: &str, backup: impl FnOnce()) -> Duration {
    let writers = Writers::start(&sb.socket());
    std::thread::sleep(Duration::from_millis(300));
    let t = Instant::now();
    backup();
    let took = t.elapsed();
    std::thread::sleep(Duration::from_millis(300));
    let (longest, commits, others) = writers.stop();
    eprintln!(
        "{what}: backup {:.1} s; {commits} commits, longest gap {:.3} s; rows written into \
         {HOT_TABLES:?}: {others:?}",
        took.as_secs_f64(),
        longest.as_secs_f64()
    );
    assert!(
        commits > 100 && others.iter().all(|&n| n > 10),
        "{what}: the writers did not run"
    );
    longest
}

#[test]
fn commits_do_not_wait_on_non_innodb_copies() {
    let t0 = Instant::now();
    let sb = Sandbox::in_tempdir(&server_options()).expect("MariaDB sandbox");
    let (_keep, work) = work_dir();
    generate(&sb.socket());
    let cold = checksums(&sb.socket(), COLD_TABLES);
    // the hot tables' last writes before the backups are well in the past
    std::thread::sleep(Duration::from_millis(1100));

    let xb_dir = work.join("xb");
    let reference = Reference {
        server: sb.socket(),
        sums: Mutex::new(None),
    };
    let mut own_clock = 0.0;
    let xb = longest_stall(&sb, "xb", || {
        own_clock = xb_backup(&sb, &xb_dir, &reference)
    });
    let mb_dir = work.join("mb");
    let mb = longest_stall(&sb, "mariabackup", || {
        sb.mariabackup([
            "--backup".into(),
            arg("target-dir", &mb_dir),
            arg("socket", &sb.socket()),
            "--user=root".into(),
        ])
        .expect("mariabackup --backup");
    });
    eprintln!(
        "longest gap between commits: xb {:.3} s (commits blocked {own_clock:.3} s by its own \
         clock), mariabackup {:.3} s",
        xb.as_secs_f64(),
        mb.as_secs_f64()
    );
    let stream_ref = Reference {
        server: sb.socket(),
        sums: Mutex::new(None),
    };
    let stream_dir = work.join("xb-stream");
    let mut stream_clock = 0.0;
    let xs = longest_stall(&sb, "xb --stream", || {
        let stream = work.join("xb.xbstream");
        stream_clock = xb_stream_backup(&sb, &stream, &stream_dir, &stream_ref)
    });
    eprintln!(
        "streamed: longest gap between commits {:.3} s (commits blocked {stream_clock:.3} s by \
         its own clock)",
        xs.as_secs_f64()
    );
    let hot = reference.sums.lock().unwrap().clone().unwrap();
    let stream_hot = stream_ref.sums.lock().unwrap().clone().unwrap();
    // the source went on: the hot tables differ from the reference now
    assert_ne!(contents(&sb.socket()), hot);
    drop(sb);

    // xb's backups restore the MyISAM and Aria tables as they were at their end
    restores_as_at_the_end(&xb_dir, &cold, &hot);
    restores_as_at_the_end(&stream_dir, &cold, &stream_hot);

    assert!(
        xs <= mb + Duration::from_millis(200),
        "xb --stream stalled commits for {:.3} s, mariabackup for {:.3} s",
        xs.as_secs_f64(),
        mb.as_secs_f64()
    );
    assert!(
        xb <= mb + Duration::from_millis(200),
        "xb stalled commits for {:.3} s, mariabackup for {:.3} s",
        xb.as_secs_f64(),
        mb.as_secs_f64()
    );
    eprintln!("total {:.1} s", t0.elapsed().as_secs_f64());
}

/// Prepares the backup in `dir`, starts a server on it, and checks the tables: the cold ones
/// as `cold`, the hot ones as `hot` (taken under `BLOCK_COMMIT`).
fn restores_as_at_the_end(
    dir: &Path,
    cold: &BTreeMap<String, String>,
    hot: &BTreeMap<String, String>,
) {
    prepare::prepare(
        dir,
        &[],
        &PrepareOptions::default(),
        &NoProgress,
        &Cancel::new(),
    )
    .expect("xb prepare");
    let run = short_tempdir().unwrap();
    let restored =
        Sandbox::on_datadir(run.path(), dir, &server_options()).expect("a server on xb's backup");
    assert_eq!(&checksums(&restored.socket(), COLD_TABLES), cold);
    assert_eq!(&contents(&restored.socket()), hot);
}
