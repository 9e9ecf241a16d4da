//! A write load with invariants, for hot-backup tests.
//!
//! [`Load::setup`] creates the database `xbload` with three tables, [`Load::start`] runs two
//! writer threads against them until [`Load::stop`], and [`check`] verifies on any server
//! (the source, or one started on a restored backup) that the data is consistent:
//!
//! * `xbload.append`: rows appended with ids 1, 2, 3, … by one writer, one per transaction:
//!   the ids must be exactly `1..=max`, without a hole;
//! * `xbload.accounts`: [`ACCOUNTS`] balances; transfers move an amount from one to another in
//!   one transaction: the sum must stay `ACCOUNTS × 1000`;
//! * `xbload.big`: a larger table with a secondary index, whose rows are updated (indexed column
//!   and payload): its row count must not change, and `CHECK TABLE … EXTENDED` verifies the
//!   index against the rows.
//!
//! Each writer runs small transactions back to back (a deadlock or lock wait is rolled back
//! and counted, not fatal). Both stop when told, or after a safety limit of 10 minutes.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The connection [`connect`] returns, and the trait of its query methods (`query_drop`,
/// `query_first`, …), for tests that need their own statements.
pub use mysql::{prelude::Queryable, Conn};

/// Rows of `xbload.accounts`.
pub const ACCOUNTS: u32 = 64;

/// The tables of the load, for `CHECKSUM TABLE` comparisons.
pub const TABLES: &[&str] = &["xbload.append", "xbload.accounts", "xbload.big"];

/// A failure of the load or of a check.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A statement failed.
    #[error("{what}: {source}")]
    Sql {
        /// What was being done.
        what: String,
        /// The cause.
        #[source]
        source: mysql::Error,
    },
    /// An invariant does not hold.
    #[error("invariant broken: {0}")]
    Invariant(String),
    /// A writer thread panicked.
    #[error("a load writer thread panicked")]
    Panicked,
}

fn sql(what: &str) -> impl FnOnce(mysql::Error) -> LoadError + '_ {
    move |source| LoadError::Sql {
        what: what.to_string(),
        source,
    }
}

/// A root connection through `socket`.
pub fn connect(socket: &Path) -> Result<mysql::Conn, LoadError> {
    let o = mysql::OptsBuilder::new()
        .socket(Some(socket.to_string_lossy().into_owned()))
        .user(Some("root"))
        .prefer_socket(false);
    mysql::Conn::new(o).map_err(sql("connect"))
}

/// What the writers did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadStats {
    /// Rows appended to `xbload.append` (committed).
    pub appended: u64,
    /// Transfers committed.
    pub transfers: u64,
    /// Updates of `xbload.big` committed.
    pub updates: u64,
    /// Transactions rolled back after an error (deadlock, lock wait).
    pub retries: u64,
}

/// The running writers.
pub struct Load {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<Result<LoadStats, LoadError>>>,
    /// Committed transactions so far (all writers).
    pub committed: Arc<AtomicU64>,
}

/// A small deterministic generator (xorshift), one per writer.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn pad(rng: &mut Rng, len: usize) -> String {
    let n = rng.next();
    let base = format!("{n:016x}");
    base.repeat(len / 16 + 1)[..len].to_string()
}

impl Load {
    /// Creates the `load` database and its tables (`big_rows` rows in `xbload.big`).
    pub fn setup(socket: &Path, big_rows: u32) -> Result<(), LoadError> {
        let mut c = connect(socket)?;
        c.query_drop(
            "CREATE DATABASE IF NOT EXISTS xbload;
             CREATE TABLE xbload.append (id BIGINT PRIMARY KEY, writer INT, pad VARCHAR(200))
               ENGINE=InnoDB;
             CREATE TABLE xbload.accounts (id INT PRIMARY KEY, balance BIGINT NOT NULL)
               ENGINE=InnoDB;
             CREATE TABLE xbload.big (id INT PRIMARY KEY, k INT NOT NULL, v VARCHAR(120),
               KEY k (k)) ENGINE=InnoDB",
        )
        .map_err(sql("creating the load tables"))?;
        let accounts: Vec<String> = (1..=ACCOUNTS).map(|i| format!("({i}, 1000)")).collect();
        c.query_drop(format!(
            "INSERT INTO xbload.accounts VALUES {}",
            accounts.join(",")
        ))
        .map_err(sql("filling xbload.accounts"))?;
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let mut id = 1u32;
        while id <= big_rows {
            let end = (id + 999).min(big_rows);
            let rows: Vec<String> = (id..=end)
                .map(|i| format!("({i}, {}, '{}')", rng.below(100_000), pad(&mut rng, 100)))
                .collect();
            c.query_drop(format!("INSERT INTO xbload.big VALUES {}", rows.join(",")))
                .map_err(sql("filling xbload.big"))?;
            id = end + 1;
        }
        Ok(())
    }

    /// Starts the two writers. `big_rows`: rows of `xbload.big` (as given to `setup`).
    pub fn start(socket: &Path, big_rows: u32) -> Result<Load, LoadError> {
        let stop = Arc::new(AtomicBool::new(false));
        let committed = Arc::new(AtomicU64::new(0));
        let mut c = connect(socket)?;
        let next_id: u64 = c
            .query_first::<Option<u64>, _>("SELECT MAX(id) FROM xbload.append")
            .map_err(sql("reading xbload.append"))?
            .flatten()
            .unwrap_or(0)
            + 1;
        drop(c);
        let mut threads = Vec::new();
        for w in 0..2u32 {
            let (stop, committed) = (stop.clone(), committed.clone());
            let socket: PathBuf = socket.to_path_buf();
            threads.push(std::thread::spawn(move || {
                writer(w, &socket, big_rows, next_id, &stop, &committed)
            }));
        }
        Ok(Load {
            stop,
            threads,
            committed,
        })
    }

    /// Stops the writers and returns what they did (the sum of both).
    pub fn stop(self) -> Result<LoadStats, LoadError> {
        self.stop.store(true, Ordering::Relaxed);
        let mut total = LoadStats::default();
        for t in self.threads {
            let s = t.join().map_err(|_| LoadError::Panicked)??;
            total.appended += s.appended;
            total.transfers += s.transfers;
            total.updates += s.updates;
            total.retries += s.retries;
        }
        Ok(total)
    }
}

/// Safety limit of a writer's run.
const MAX_RUN: Duration = Duration::from_secs(600);

fn writer(
    w: u32,
    socket: &Path,
    big_rows: u32,
    mut next_id: u64,
    stop: &AtomicBool,
    committed: &AtomicU64,
) -> Result<LoadStats, LoadError> {
    let mut c = connect(socket)?;
    c.query_drop("SET SESSION innodb_lock_wait_timeout = 5")
        .map_err(sql("setting the lock wait timeout"))?;
    let mut rng = Rng(0x2545_F491_4F6C_DD1D ^ u64::from(w + 1) << 32);
    let mut st = LoadStats::default();
    let t0 = Instant::now();
    let mut i = 0u64;
    while !stop.load(Ordering::Relaxed) && t0.elapsed() < MAX_RUN {
        i += 1;
        // writer 0: append, transfer; writer 1: update big, transfer
        let r = if w == 0 && i.is_multiple_of(2) {
            let q = format!(
                "INSERT INTO xbload.append VALUES ({next_id}, {w}, '{}')",
                pad(&mut rng, 150)
            );
            c.query_drop(q).map(|_| {
                next_id += 1;
                st.appended += 1;
            })
        } else if w == 1 && i.is_multiple_of(2) {
            let id = 1 + rng.below(u64::from(big_rows.max(1)));
            let q = format!(
                "UPDATE xbload.big SET k = {}, v = '{}' WHERE id = {id}",
                rng.below(100_000),
                pad(&mut rng, 100)
            );
            c.query_drop(q).map(|_| st.updates += 1)
        } else {
            let a = 1 + rng.below(u64::from(ACCOUNTS));
            let b = 1 + rng.below(u64::from(ACCOUNTS));
            let x = rng.below(100);
            let q = format!(
                "START TRANSACTION; \
                 UPDATE xbload.accounts SET balance = balance - {x} WHERE id = {a}; \
                 UPDATE xbload.accounts SET balance = balance + {x} WHERE id = {b}; COMMIT"
            );
            c.query_drop(q).map(|_| st.transfers += 1)
        };
        match r {
            Ok(()) => {
                committed.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                st.retries += 1;
                let _ = c.query_drop("ROLLBACK");
                if let mysql::Error::IoError(_) = e {
                    return Err(LoadError::Sql {
                        what: format!("writer {w}"),
                        source: e,
                    });
                }
            }
        }
    }
    Ok(st)
}

/// `CHECKSUM TABLE … EXTENDED` of the load's tables, keyed by table name.
pub fn checksums(socket: &Path) -> Result<std::collections::BTreeMap<String, String>, LoadError> {
    let mut c = connect(socket)?;
    let rows: Vec<(String, Option<String>)> = c
        .query(format!("CHECKSUM TABLE {} EXTENDED", TABLES.join(", ")))
        .map_err(sql("CHECKSUM TABLE"))?;
    rows.into_iter()
        .map(|(t, s)| {
            s.map(|s| (t.clone(), s))
                .ok_or_else(|| LoadError::Invariant(format!("{t}: no checksum (missing table)")))
        })
        .collect()
}

/// What [`check`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Invariants {
    /// Rows in `xbload.append` (= its highest id).
    pub appended: u64,
    /// Sum of the balances.
    pub balance: i64,
    /// Rows in `xbload.big`.
    pub big_rows: u64,
}

/// Checks the invariants and `CHECK TABLE … EXTENDED` of the load's tables on the server at
/// `socket`; `big_rows` as given to [`Load::setup`].
pub fn check(socket: &Path, big_rows: u32) -> Result<Invariants, LoadError> {
    let mut c = connect(socket)?;
    for t in TABLES {
        let rows: Vec<(String, String, String, String)> = c
            .query(format!("CHECK TABLE {t} EXTENDED"))
            .map_err(sql("CHECK TABLE"))?;
        let bad: Vec<_> = rows
            .iter()
            .filter(|r| r.2 == "error" || (r.2 == "status" && r.3 != "OK"))
            .collect();
        if bad.is_empty() && rows.iter().any(|r| r.2 == "status" && r.3 == "OK") {
            continue;
        }
        return Err(LoadError::Invariant(format!(
            "CHECK TABLE {t} EXTENDED: {rows:?}"
        )));
    }
    let (n, lo, hi): (u64, Option<u64>, Option<u64>) = c
        .query_first("SELECT COUNT(*), MIN(id), MAX(id) FROM xbload.append")
        .map_err(sql("reading xbload.append"))?
        .unwrap_or((0, None, None));
    if n > 0 && (lo != Some(1) || hi != Some(n)) {
        return Err(LoadError::Invariant(format!(
            "xbload.append holds {n} rows with ids {lo:?}..{hi:?}: a hole"
        )));
    }
    let (cnt, sum): (u64, Option<i64>) = c
        .query_first("SELECT COUNT(*), CAST(SUM(balance) AS SIGNED) FROM xbload.accounts")
        .map_err(sql("reading xbload.accounts"))?
        .unwrap_or((0, None));
    let want = i64::from(ACCOUNTS) * 1000;
    if cnt != u64::from(ACCOUNTS) || sum != Some(want) {
        return Err(LoadError::Invariant(format!(
            "xbload.accounts: {cnt} rows summing to {sum:?}, expected {ACCOUNTS} summing to {want}"
        )));
    }
    let big: u64 = c
        .query_first("SELECT COUNT(*) FROM xbload.big")
        .map_err(sql("reading xbload.big"))?
        .unwrap_or(0);
    if big != u64::from(big_rows) {
        return Err(LoadError::Invariant(format!(
            "xbload.big has {big} rows, expected {big_rows}"
        )));
    }
    Ok(Invariants {
        appended: n,
        balance: want,
        big_rows: big,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_and_pad() {
        let mut r = Rng(1);
        let a = r.next();
        assert_ne!(a, r.next());
        assert_eq!(pad(&mut r, 37).len(), 37);
        assert!(r.below(5) < 5);
    }
}
