//! The write load of a round: sysbench `oltp_read_write` on `sbtest`, and random DDL on the
//! tables of the database `soak` from a thread of our own.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use xb_testkit::load::{connect, Conn, Queryable};

use super::cmd::{Cmds, Spawned};
use super::error::R;
use super::rng::Rng;

/// sysbench tables.
pub const SB_TABLES: u64 = 4;
/// Rows per sysbench table.
pub const SB_ROWS: u64 = 10_000;
/// The DDL thread's table names.
const NAMES: [&str; 6] = ["t0", "t1", "t2", "t3", "t4", "t5"];

fn sysbench(socket: &Path) -> Command {
    let mut c = Command::new("sysbench");
    c.arg("oltp_read_write").args([
        "--db-driver=mysql".to_string(),
        format!("--mysql-socket={}", socket.display()),
        "--mysql-user=root".into(),
        "--mysql-db=sbtest".into(),
        format!("--tables={SB_TABLES}"),
        format!("--table-size={SB_ROWS}"),
    ]);
    c
}

/// Creates `sbtest` with sysbench, and the `soak` database with its first tables.
pub fn setup(cmds: &mut Cmds, socket: &Path) -> R<()> {
    connect(socket)
        .and_then(|mut c| {
            c.query_drop("CREATE DATABASE IF NOT EXISTS sbtest")
                .map_err(|e| xb_testkit::load::LoadError::Invariant(e.to_string()))
        })
        .map_err(|e| super::error::RoundError::Failure(e.to_string()))?;
    cmds.run_ok("sysbench-prepare", sysbench(socket).arg("prepare"))?;
    let mut c = connect(socket).map_err(|e| super::error::RoundError::Failure(e.to_string()))?;
    let mut r = Rng::new(0);
    let _ = c.query_drop("CREATE DATABASE soak");
    for n in NAMES {
        exec(&mut c, &create(&mut r, n))
            .map_err(|e| super::error::RoundError::Failure(e.to_string()))?;
    }
    Ok(())
}

/// Starts sysbench for `secs` seconds with `threads` threads.
pub fn start_sysbench(
    cmds: &mut Cmds,
    socket: &Path,
    secs: u64,
    threads: u64,
    seed: u64,
) -> R<Spawned> {
    cmds.spawn(
        "sysbench",
        sysbench(socket).args([
            format!("--time={secs}"),
            format!("--threads={threads}"),
            format!("--rand-seed={}", seed % 1_000_000_007),
            "--report-interval=0".into(),
            "--mysql-ignore-errors=all".into(),
            "run".into(),
        ]),
    )
}

/// What the DDL thread did.
#[derive(Debug, Default, Clone, Copy)]
pub struct DdlStats {
    /// Statements that succeeded.
    pub ok: u64,
    /// Statements that failed (a missing table, a lock wait timeout under the backup's locks).
    pub failed: u64,
}

/// The running DDL thread.
#[derive(Debug)]
pub struct Ddl {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<DdlStats>,
}

impl Ddl {
    /// Starts random DDL on `soak.*`, its statements logged to `log`.
    pub fn start(socket: &Path, seed: u64, log: PathBuf) -> Ddl {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let socket = socket.to_path_buf();
        let handle = thread::spawn(move || ddl_loop(&socket, seed, &log, &s));
        Ddl { stop, handle }
    }

    /// Stops it after its statement in progress.
    pub fn stop(self) -> DdlStats {
        self.stop.store(true, Ordering::SeqCst);
        self.handle.join().unwrap_or_default()
    }
}

fn ddl_loop(socket: &Path, seed: u64, log: &Path, stop: &AtomicBool) -> DdlStats {
    let mut r = Rng::new(seed);
    let mut st = DdlStats::default();
    let mut out = File::create(log).ok();
    let mut conn: Option<Conn> = None;
    while !stop.load(Ordering::SeqCst) {
        if conn.is_none() {
            conn = connect(socket).ok().and_then(|mut c| {
                c.query_drop("SET SESSION lock_wait_timeout=1, innodb_lock_wait_timeout=1")
                    .ok()
                    .map(|_| c)
            });
            if conn.is_none() {
                thread::sleep(Duration::from_millis(200));
                continue;
            }
        }
        let c = conn.as_mut().expect("connected");
        let (sqls, res) = step(c, &mut r);
        if let Some(o) = out.as_mut() {
            let _ = writeln!(o, "{};", sqls.join(";\n"));
        }
        match &res {
            Ok(()) => st.ok += 1,
            Err(e) => {
                st.failed += 1;
                if let Some(o) = out.as_mut() {
                    let _ = writeln!(o, "-- failed: {e}");
                }
                if matches!(e, mysql::Error::IoError(_) | mysql::Error::DriverError(_)) {
                    conn = None;
                }
            }
        }
        thread::sleep(Duration::from_millis(r.range(20, 250)));
    }
    st
}

const COLS: &str = "id INT AUTO_INCREMENT PRIMARY KEY, a INT NOT NULL, b VARCHAR(200), KEY(a)";

/// The statements that create `soak.NAME` of a random shape, with some rows: InnoDB in every
/// row format and partitioning, and now and then a crash-safe Aria table (copied with the Aria
/// log, whose order against the tables once mattered: see the note of issue 15).
fn create(r: &mut Rng, name: &str) -> Vec<String> {
    let shape = *r.pick(&[
        "ENGINE=InnoDB",
        "ENGINE=InnoDB ROW_FORMAT=DYNAMIC",
        "ENGINE=InnoDB ROW_FORMAT=COMPRESSED KEY_BLOCK_SIZE=8",
        "ENGINE=InnoDB ROW_FORMAT=COMPRESSED KEY_BLOCK_SIZE=4",
        "ENGINE=InnoDB PAGE_COMPRESSED=1",
        "ENGINE=InnoDB PARTITION BY HASH(id) PARTITIONS 3",
        "ENGINE=InnoDB PARTITION BY RANGE (id) (PARTITION p0 VALUES LESS THAN (300), \
         PARTITION p1 VALUES LESS THAN (2000), PARTITION p2 VALUES LESS THAN MAXVALUE)",
        "ENGINE=InnoDB ROW_FORMAT=COMPRESSED PARTITION BY KEY(id) PARTITIONS 2",
        "ENGINE=Aria TRANSACTIONAL=1",
    ]);
    let rows = r.range(10, 1500);
    vec![
        format!("DROP TABLE IF EXISTS soak.{name}"),
        format!("CREATE TABLE soak.{name} ({COLS}) {shape}"),
        insert(name, rows),
    ]
}

/// Runs `v` until one fails.
fn exec(c: &mut Conn, v: &[String]) -> Result<(), mysql::Error> {
    v.iter().try_for_each(|s| c.query_drop(s))
}

fn insert(name: &str, rows: u64) -> String {
    format!(
        "INSERT INTO soak.{name} (a, b) SELECT seq MOD 97, REPEAT(CHAR(65 + seq MOD 26), seq MOD 180) \
         FROM soak.seq_1_to_{rows}"
    )
}

/// One random statement (or a few that belong together): the statements and their result.
fn step(c: &mut Conn, r: &mut Rng) -> (Vec<String>, Result<(), mysql::Error>) {
    let a = *r.pick(&NAMES);
    let b = *r.pick(&NAMES);
    let v: Vec<String> = match r.range(0, 11) {
        0 => create(r, a),
        1 => vec![format!("DROP TABLE IF EXISTS soak.{a}")],
        2 => vec![format!("RENAME TABLE soak.{a} TO soak.{b}")],
        3 if a != b => vec![format!(
            "RENAME TABLE soak.{a} TO soak.swap_tmp, soak.{b} TO soak.{a}, soak.swap_tmp TO soak.{b}"
        )],
        4 => vec![format!("TRUNCATE TABLE soak.{a}")],
        5 => vec![format!("ALTER TABLE soak.{a} FORCE")],
        6 => vec![format!(
            "ALTER TABLE soak.{a} ADD COLUMN IF NOT EXISTS c{} INT NOT NULL DEFAULT {}",
            r.range(1, 4),
            r.range(0, 9)
        )],
        7 => vec![format!(
            "UPDATE soak.{a} SET a = a + 1, b = CONCAT(b, 'u') WHERE id % {} = 0",
            r.range(2, 9)
        )],
        8 => vec![format!("DELETE FROM soak.{a} WHERE id % {} = 1", r.range(3, 11))],
        9 => vec![format!("ALTER TABLE soak.{a} ENGINE=InnoDB, ALGORITHM=INPLACE")],
        _ => vec![insert(a, r.range(1, 400))],
    };
    let res = exec(c, &v);
    (v, res)
}
