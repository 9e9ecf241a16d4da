//! Server configurations beyond the defaults, against a real MariaDB 10.11 (fails, never skips,
//! without it). On each server, while the test kit's write load (and writes of the
//! configuration's own tables) run: a hot full and two hot incrementals; `xb prepare` of the
//! chain, a restore, and a server started on it, which must pass the load's checks and give the
//! `CHECKSUM TABLE` of every table (and the configuration's queries) taken on the source while
//! the last incremental held commits blocked. One server at a time:
//!
//! * partitioned tables (`#P#`, `#SP#` files), a FULLTEXT index (its `FTS_` tables), a
//!   sequence, a system-versioned table, and two tables swapping names (`RENAME TABLE a TO tmp,
//!   b TO a, tmp TO b`) again and again while the full copies, and once before the last
//!   incremental and once after it copied both (it held `a.ren` → `b` and `b.ren` → `a`
//!   before xb copied such tables whole: `xb prepare` once moved the target's files by these names, which name what the
//!   incremental copied, and lost a tablespace). `mariabackup --prepare` of the full and each
//!   incremental must give the reference taken at that incremental's end (a space id under two
//!   names in a full was once refused). The last incremental holds the swapped tables whole
//!   (`a.new`, `b.new`), not as `.ren` files: `mariabackup --prepare` fails on such a cycle of
//!   `.ren` files, its own incrementals' too (it renames `.delta` and `.meta` one after the
//!   other through the same `.ren` files: "Can't rename …/a.ibd.meta to …/a#.ibd.meta");
//! * `innodb_file_per_table=OFF` (every table in `ibdata1`) with `innodb_undo_tablespaces=3`;
//! * 4 KiB pages; 64 KiB pages.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::{arg, hot_backup, work_dir, AtConsistentPoint};
use incremental_core::copy_back::{copy_back_with, CopyBackOptions};
use incremental_core::prepare::{self, PrepareOptions};
use incremental_core::progress::{Cancel, Event, NoProgress, Progress};
use incremental_core::source::DirSource;
use xb_testkit::load::{self, Load, Queryable};
use xb_testkit::sandbox::{copy_dir, short_tempdir, PageSize, Sandbox, SandboxOptions};

static ONE_SERVER: Mutex<()> = Mutex::new(());

const BIG_ROWS: u32 = 3_000;

/// Pause of each backup reader after each batch: the copy lasts long enough for writes and
/// renames to happen during it.
const THROTTLE: Option<u64> = Some(32);

/// One server of the matrix.
struct Case {
    /// The server's options.
    opts: SandboxOptions,
    /// SQL creating the database `m` and its tables ("" for none).
    schema: &'static str,
    /// The statements of round `i` of the writer of `m`'s tables, which runs during the
    /// backups (errors such as lock wait timeouts are counted, not fatal).
    writes: fn(u32) -> Vec<String>,
    /// Queries (one value each) whose results the restored server must give as the source did.
    queries: &'static [&'static str],
    /// Also prepare copies of the backups with `mariabackup --prepare` and restore that.
    mariabackup_too: bool,
    /// Swap the names of `m.a` and `m.b` before `inc2`, and again once `inc2` copied both.
    swap_in_inc2: bool,
}

/// The swap of the names of `m.a` and `m.b`.
const SWAP: &str = "RENAME TABLE m.a TO m.tmp, m.b TO m.a, m.tmp TO m.b";

/// Passes the events on to `inner`, and runs [`SWAP`] once both `m/a.ibd` and `m/b.ibd` are
/// copied: the backup copied each under the name the other one ends with.
struct SwapAfterCopy<'a> {
    inner: &'a dyn Progress,
    socket: PathBuf,
    copied: AtomicU32,
}

impl Progress for SwapAfterCopy<'_> {
    fn event(&self, e: Event<'_>) {
        if let Event::FileDone { path } = &e {
            let p = path.to_string_lossy();
            if (p.starts_with("m/a.ibd") || p.starts_with("m/b.ibd"))
                && self.copied.fetch_add(1, Ordering::Relaxed) == 1
            {
                let mut c = load::connect(&self.socket).unwrap();
                c.query_drop(SWAP).unwrap();
            }
        }
        self.inner.event(e);
    }
}

/// `CHECKSUM TABLE … EXTENDED` of every table of `xbload` and `m`, and the results of `queries`.
fn state(socket: &Path, queries: &[&str]) -> BTreeMap<String, String> {
    let mut c = load::connect(socket).unwrap();
    c.query_drop("SET SESSION lock_wait_timeout = 20").unwrap();
    let tables: Vec<String> = c
        .query(
            "SELECT CONCAT(table_schema, '.', table_name) FROM information_schema.tables \
             WHERE table_schema IN ('xbload', 'm') AND table_type <> 'VIEW' ORDER BY 1",
        )
        .unwrap();
    let rows: Vec<(String, Option<String>)> = c
        .query(format!("CHECKSUM TABLE {} EXTENDED", tables.join(", ")))
        .unwrap();
    let mut out: BTreeMap<String, String> = rows
        .into_iter()
        .map(|(t, s)| (t.clone(), s.unwrap_or_else(|| panic!("{t}: no checksum"))))
        .collect();
    for q in queries {
        let v: Option<Option<String>> = c.query_first(*q).unwrap_or_else(|e| panic!("{q}: {e}"));
        out.insert(q.to_string(), format!("{v:?}"));
    }
    out
}

/// What the writer of `m`'s tables is told and did.
#[derive(Default)]
struct Writer {
    /// Stop.
    stop: AtomicBool,
    /// Leave out the statements on the swapped tables `m.a` and `m.b` (while set).
    no_swaps: AtomicBool,
    /// `RENAME`s that succeeded.
    renames: AtomicU32,
}

/// Runs `writes` round after round on `socket` until told to stop; returns the rounds done.
fn writer(socket: &Path, writes: fn(u32) -> Vec<String>, w: &Writer) -> u32 {
    let mut c = load::connect(socket).unwrap();
    // a statement waiting behind the backup's locks gives up soon: the reference taken at
    // the consistent point must not wait behind it
    c.query_drop("SET SESSION lock_wait_timeout = 2, innodb_lock_wait_timeout = 2")
        .unwrap();
    let mut i = 1;
    while !w.stop.load(Ordering::Relaxed) {
        for s in writes(i) {
            let rename = s.starts_with("RENAME");
            if (s.contains("m.a ") || s.contains("m.b ")) && w.no_swaps.load(Ordering::Relaxed) {
                continue;
            }
            if c.query_drop(&s).is_ok() && rename {
                w.renames.fetch_add(1, Ordering::Relaxed);
            }
        }
        i += 1;
        std::thread::sleep(Duration::from_millis(20));
    }
    i - 1
}

/// Stops the writer however the scope ends (a failed backup panics).
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// A chain of hot backups, `full`, `inc1` and `inc2` in `work`, and the references taken on
/// the source at the consistent points of `inc1` and `inc2`.
struct Backups {
    _keep: Option<tempfile::TempDir>,
    work: PathBuf,
    at_inc1: BTreeMap<String, String>,
    at_inc2: BTreeMap<String, String>,
    /// `RENAME`s the writer did during the full.
    renames: u32,
    sb: Sandbox,
}

/// Backs up a server with `case`'s options, under the load and `case`'s writes: a hot full,
/// a hot `inc1` and a hot `inc2` (the writer leaves the swapped tables alone during them;
/// see [`Case::swap_in_inc2`]).
fn back_up(case: &Case) -> Backups {
    let sb = Sandbox::in_tempdir(&case.opts).expect("MariaDB sandbox");
    Load::setup(&sb.socket(), BIG_ROWS).unwrap();
    if !case.schema.is_empty() {
        sb.sql(case.schema).unwrap();
    }
    let (_keep, work) = work_dir();
    let [full, inc1, inc2] = ["full", "inc1", "inc2"].map(|d| work.join(d));
    let running = Load::start(&sb.socket(), BIG_ROWS).unwrap();
    let w = Writer::default();
    let renames_during = |backup: &dyn Fn()| {
        let before = w.renames.load(Ordering::Relaxed);
        backup();
        w.renames.load(Ordering::Relaxed) - before
    };
    let take = || state(&sb.socket(), case.queries);
    let (rounds, renames, at_inc1, at_inc2) = std::thread::scope(|s| {
        let writing = s.spawn(|| writer(&sb.socket(), case.writes, &w));
        let _stop = StopOnDrop(&w.stop);
        std::thread::sleep(Duration::from_millis(300));
        let in_full = renames_during(&|| {
            hot_backup(&sb, &full, None, THROTTLE, &NoProgress);
        });
        w.no_swaps.store(true, Ordering::Relaxed);
        // a swap under way ends before the next backup starts
        std::thread::sleep(Duration::from_millis(200));
        let at_inc1 = AtConsistentPoint::new(take);
        hot_backup(&sb, &inc1, Some(&full), THROTTLE, &at_inc1);
        let at_inc2 = AtConsistentPoint::new(take);
        if case.swap_in_inc2 {
            sb.sql(SWAP).unwrap();
            let swapping = SwapAfterCopy {
                inner: &at_inc2,
                socket: sb.socket(),
                copied: AtomicU32::new(0),
            };
            hot_backup(&sb, &inc2, Some(&inc1), THROTTLE, &swapping);
            assert_eq!(swapping.copied.load(Ordering::Relaxed), 2);
        } else {
            hot_backup(&sb, &inc2, Some(&inc1), THROTTLE, &at_inc2);
        }
        w.stop.store(true, Ordering::Relaxed);
        let rounds = writing.join().unwrap();
        (rounds, in_full, at_inc1.value(), at_inc2.value())
    });
    let stats = running.stop().unwrap();
    eprintln!("load {stats:?}; {rounds} rounds of writes, {renames} renames during the full");
    assert!(stats.appended > 0 && stats.updates > 0, "{stats:?}");
    load::check(&sb.socket(), BIG_ROWS).unwrap();
    Backups {
        _keep,
        work,
        at_inc1,
        at_inc2,
        renames,
        sb,
    }
}

/// Starts a server with `case`'s options (and the ones a restore asks for) on `datadir`,
/// checks the load's invariants and returns the state of its tables.
fn restored_state(
    case: &Case,
    datadir: &Path,
    startup: &[String],
    what: &str,
) -> BTreeMap<String, String> {
    let mut opts = case.opts.clone();
    for o in startup {
        match o.trim_start_matches("--").split_once('=') {
            // the page size is the sandbox's own setting
            Some((k, _)) if k.replace('-', "_") == "innodb_page_size" => {}
            Some((k, v)) => opts = opts.option(k, v),
            None => opts = opts.flag(o.trim_start_matches("--")),
        }
    }
    let run = short_tempdir().unwrap();
    let r = Sandbox::on_datadir(run.path(), datadir, &opts)
        .unwrap_or_else(|e| panic!("{what}: server on the restored datadir: {e}"));
    load::check(&r.socket(), BIG_ROWS).unwrap_or_else(|e| panic!("{what}: {e}"));
    state(&r.socket(), case.queries)
}

/// The round trip of `case`: backups under writes; `xb prepare` of the chain, copy-back, a
/// server on it gives the reference taken at `inc2`'s end; when asked, `mariabackup
/// --prepare` of copies of `full` and `inc1` gives the one taken at `inc1`'s end (not `inc2`:
/// see the module's documentation). Returns the backups (`full` prepared, restored in `restored`).
fn round_trip(case: &Case) -> Backups {
    let t0 = Instant::now();
    let b = back_up(case);
    let [full, inc1, inc2] = ["full", "inc1", "inc2"].map(|d| b.work.join(d));
    let mb = b.work.join("mb");
    if case.mariabackup_too {
        copy_dir(&full, &mb.join("full")).unwrap();
        copy_dir(&inc1, &mb.join("inc1")).unwrap();
        copy_dir(&inc2, &mb.join("inc2")).unwrap();
    }
    prepare::prepare(
        &full,
        &[inc1, inc2],
        &PrepareOptions::default(),
        &NoProgress,
        &Cancel::new(),
    )
    .expect("xb prepare");
    let dd = b.work.join("restored");
    let r = copy_back_with(
        &DirSource::new(&full),
        &dd,
        &CopyBackOptions::default(),
        &NoProgress,
        &Cancel::new(),
    )
    .expect("copy-back");
    let sums = restored_state(case, &dd, &r.startup_options(), "xb prepare");
    assert_eq!(sums, b.at_inc2, "xb prepare + copy-back");
    if case.mariabackup_too {
        b.sb.mariabackup(["--prepare".into(), arg("target-dir", &mb.join("full"))])
            .expect("mariabackup --prepare of our full");
        b.sb.mariabackup([
            "--prepare".into(),
            arg("target-dir", &mb.join("full")),
            arg("incremental-dir", &mb.join("inc1")),
        ])
        .expect("mariabackup --prepare --incremental-dir of our incremental");
        // the staged prepare goes on, on a copy, past the state checked here (a server started
        // on a backup changes it)
        copy_dir(&mb.join("full"), &mb.join("full2")).unwrap();
        let sums = restored_state(case, &mb.join("full"), &[], "mariabackup --prepare");
        assert_eq!(sums, b.at_inc1, "mariabackup --prepare");
        b.sb.mariabackup([
            "--prepare".into(),
            arg("target-dir", &mb.join("full2")),
            arg("incremental-dir", &mb.join("inc2")),
        ])
        .expect("mariabackup --prepare --incremental-dir of our last incremental");
        let sums = restored_state(case, &mb.join("full2"), &[], "mariabackup --prepare inc2");
        assert_eq!(
            sums, b.at_inc2,
            "mariabackup --prepare of the last incremental"
        );
    }
    eprintln!(
        "{} tables and queries compared, {:.1} s",
        b.at_inc2.len(),
        t0.elapsed().as_secs_f64()
    );
    b
}

/// The load's server options, smaller.
fn base_options() -> SandboxOptions {
    SandboxOptions::default()
        .option("innodb_max_dirty_pages_pct", "5")
        .option("innodb_flush_log_at_trx_commit", "2")
}

fn no_writes(_: u32) -> Vec<String> {
    Vec::new()
}

const FEATURES: &str = "CREATE DATABASE m;
    CREATE TABLE m.p (id INT PRIMARY KEY, k INT, v VARCHAR(60)) ENGINE=InnoDB
      PARTITION BY HASH (id) PARTITIONS 4;
    CREATE TABLE m.r (id INT, d INT, v VARCHAR(60), PRIMARY KEY (id, d)) ENGINE=InnoDB
      PARTITION BY RANGE (d) SUBPARTITION BY HASH (id) SUBPARTITIONS 2
      (PARTITION lo VALUES LESS THAN (50), PARTITION hi VALUES LESS THAN MAXVALUE);
    CREATE TABLE m.f (id INT AUTO_INCREMENT PRIMARY KEY, body TEXT, FULLTEXT KEY ft (body))
      ENGINE=InnoDB;
    CREATE SEQUENCE m.s CACHE 5 ENGINE=InnoDB;
    CREATE TABLE m.sq (v BIGINT PRIMARY KEY, r INT) ENGINE=InnoDB;
    CREATE TABLE m.v (id INT PRIMARY KEY, n INT) ENGINE=InnoDB WITH SYSTEM VERSIONING;
    CREATE TABLE m.a (id INT PRIMARY KEY, v INT NOT NULL) ENGINE=InnoDB;
    CREATE TABLE m.b (id INT PRIMARY KEY, v INT NOT NULL) ENGINE=InnoDB;
    USE m;
    INSERT INTO m.p SELECT seq, seq % 100, REPEAT('p', 50) FROM seq_1_to_2000;
    INSERT INTO m.r SELECT seq, seq % 100, REPEAT('r', 50) FROM seq_1_to_1000;
    INSERT INTO m.f (body) SELECT CONCAT('seed', seq, ' alpha', seq % 7, ' common words')
      FROM seq_1_to_500;
    INSERT INTO m.v SELECT seq, 0 FROM seq_1_to_20;
    INSERT INTO m.a SELECT seq, 0 FROM seq_1_to_100;
    INSERT INTO m.b SELECT seq, seq FROM seq_1_to_50;";

/// A round of writes of [`FEATURES`]'s tables, and the swap of `m.a` and `m.b`.
fn feature_writes(i: u32) -> Vec<String> {
    vec![
        format!("INSERT INTO m.p VALUES ({}, {i}, 'new {i}')", 10_000 + i),
        format!("UPDATE m.p SET v = 'round {i}' WHERE id = {}", i % 2000 + 1),
        format!(
            "INSERT INTO m.r VALUES ({}, {}, 'new {i}')",
            10_000 + i,
            i % 100
        ),
        format!(
            "INSERT INTO m.f (body) VALUES ('round{i} alpha{} beta')",
            i % 7
        ),
        format!("DELETE FROM m.f WHERE id = {}", i * 3),
        format!("INSERT INTO m.sq VALUES (NEXTVAL(m.s), {i})"),
        format!("UPDATE m.v SET n = n + 1 WHERE id = {}", i % 20 + 1),
        // in place: the swapped tables' page 0 stays as created
        format!("UPDATE m.a SET v = v + 1 WHERE id = {}", i % 50 + 1),
        format!("UPDATE m.b SET v = v + 2 WHERE id = {}", i % 50 + 1),
        SWAP.to_string(),
    ]
}

/// What a CHECKSUM TABLE does not see: the FULLTEXT index's answers, the history of the
/// system-versioned table.
const FEATURE_QUERIES: &[&str] = &[
    "SELECT CONCAT_WS(',', COUNT(*), SUM(id)) FROM m.f WHERE MATCH (body) AGAINST ('alpha3')",
    "SELECT CONCAT_WS(',', COUNT(*), SUM(id)) FROM m.f WHERE MATCH (body) AGAINST ('beta')",
    "SELECT CONCAT_WS(',', COUNT(*), SUM(id)) FROM m.f \
     WHERE MATCH (body) AGAINST ('+alpha5 +round1*' IN BOOLEAN MODE)",
    "SELECT CONCAT_WS(',', COUNT(*), BIT_XOR(CRC32(CONCAT_WS(',', id, n, row_start, row_end)))) \
     FROM m.v FOR SYSTEM_TIME ALL",
];

#[test]
fn partitions_fulltext_sequences_versioning_and_a_name_swap() {
    let _one = ONE_SERVER.lock().unwrap_or_else(|e| e.into_inner());
    let case = Case {
        opts: base_options(),
        schema: FEATURES,
        writes: feature_writes,
        queries: FEATURE_QUERIES,
        mariabackup_too: true,
        swap_in_inc2: true,
    };
    let b = round_trip(&case);
    assert!(b.renames > 0, "no name swap during the full backup");
    // the last incremental copied each of the swapped tables as a delta under the other's final
    // name, then whole under its final name: mariabackup's prepare cannot follow a cycle of
    // `.ren` files (incremental-core/tests/ddl_interop.rs), so none is written
    for t in ["a", "b"] {
        let inc2 = b.work.join("inc2/m");
        assert!(!inc2.join(format!("{t}.ren")).exists(), "inc2/m/{t}.ren");
        assert!(inc2.join(format!("{t}.new")).exists(), "no inc2/m/{t}.new");
    }
    let files = xb_testkit::sandbox::all_files(&b.work.join("full")).unwrap();
    let names: Vec<String> = files
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    for (what, pat) in [
        ("partition", "m/p#P#p3.ibd"),
        ("subpartition", "m/r#P#hi#SP#hisp1.ibd"),
        ("FULLTEXT auxiliary table", "m/FTS_"),
        ("sequence", "m/s.ibd"),
    ] {
        assert!(
            names.iter().any(|n| n.starts_with(pat)),
            "no {what} ({pat}) in the backup: {names:?}"
        );
    }
    // the restored sequence hands out no value already used
    let run = short_tempdir().unwrap();
    let r = Sandbox::on_datadir(run.path(), b.work.join("restored"), &case.opts).unwrap();
    let next = r.query_u64("SELECT NEXTVAL(m.s)").unwrap();
    let used = r.query_u64("SELECT MAX(v) FROM m.sq").unwrap();
    assert!(next > used, "NEXTVAL {next} after {used} was used");
}

#[test]
fn system_tablespace_tables_and_three_undo_tablespaces() {
    let _one = ONE_SERVER.lock().unwrap_or_else(|e| e.into_inner());
    let case = Case {
        opts: base_options()
            .option("innodb_file_per_table", "OFF")
            .option("innodb_undo_tablespaces", "3"),
        schema: "CREATE DATABASE m; CREATE TABLE m.t (id INT PRIMARY KEY, v TEXT) ENGINE=InnoDB;",
        writes: |i| {
            vec![
                format!(
                    "INSERT INTO m.t VALUES ({i}, REPEAT('t', {}))",
                    100 + i % 900
                ),
                format!("DELETE FROM m.t WHERE id = {}", i / 2),
            ]
        },
        queries: &[],
        mariabackup_too: false,
        swap_in_inc2: false,
    };
    let b = round_trip(&case);
    let files = xb_testkit::sandbox::all_files(&b.work.join("full")).unwrap();
    assert!(
        !files
            .iter()
            .any(|p| p.starts_with("xbload") && p.extension().is_some_and(|e| e == "ibd")),
        "tables outside the system tablespace: {files:?}"
    );
    for undo in ["undo001", "undo002", "undo003"] {
        assert!(files.contains(Path::new(undo)), "no {undo}: {files:?}");
    }
}

fn page_size_case(page_size: PageSize) {
    let case = Case {
        opts: base_options().page_size(page_size),
        schema: "",
        writes: no_writes,
        queries: &[],
        mariabackup_too: false,
        swap_in_inc2: false,
    };
    let b = round_trip(&case);
    let cnf = std::fs::read_to_string(b.work.join("full/backup-my.cnf")).unwrap();
    assert!(
        cnf.contains(&format!("innodb_page_size={}", page_size.bytes())),
        "{cnf}"
    );
}

#[test]
fn four_kib_pages() {
    let _one = ONE_SERVER.lock().unwrap_or_else(|e| e.into_inner());
    page_size_case(PageSize::K4);
}

#[test]
fn sixty_four_kib_pages() {
    let _one = ONE_SERVER.lock().unwrap_or_else(|e| e.into_inner());
    page_size_case(PageSize::K64);
}
