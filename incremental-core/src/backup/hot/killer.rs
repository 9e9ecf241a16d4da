//! Killing the long queries that keep a `BACKUP STAGE` lock from being taken, as mariabackup's
//! `--kill-long-queries-timeout` and `--kill-long-query-type` do.
//!
//! While the backup's connection waits for `BACKUP STAGE FLUSH`, `BLOCK_DDL` or
//! `BLOCK_COMMIT`, a thread with its own connection waits the timeout; from then on, once a
//! second, it lists the server's connections (`SHOW FULL PROCESSLIST`) and kills (`KILL`, the
//! whole connection) every one whose statement is of the chosen kind and has run at least as
//! long as the lock has been waited for: statements that started before the lock was asked
//! for. It stops as soon as the lock is taken.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::super::options::KillQueryType;
use super::super::server::Server;

/// Statements of [`KillQueryType::All`] (their first word).
const ALL: &[&str] = &[
    "insert", "update", "delete", "replace", "alter", "load", "select", "do", "handler", "call",
    "execute", "begin",
];

/// Statements of [`KillQueryType::Select`].
const SELECT: &[&str] = &["select"];

/// `query` without its leading blanks, parentheses and `/* … */` comments.
fn statement_start(query: &str) -> &str {
    let mut q = query;
    loop {
        let t = q.trim_start_matches(|c: char| c.is_whitespace() || c == '(');
        match t.strip_prefix("/*") {
            Some(rest) => q = rest.find("*/").map_or("", |i| &rest[i + 2..]),
            None => return t,
        }
    }
}

/// Whether a statement is of the kind killed.
pub(crate) fn is_killed_kind(query: &str, kind: KillQueryType) -> bool {
    let list = match kind {
        KillQueryType::All => ALL,
        _ => SELECT,
    };
    let q = statement_start(query).as_bytes();
    list.iter()
        .any(|w| q.len() >= w.len() && q[..w.len()].eq_ignore_ascii_case(w.as_bytes()))
}

/// A running killer thread.
pub(crate) struct Killer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Vec<String>>>,
}

impl Killer {
    /// Starts waiting `timeout`, then killing through `conn`.
    pub(crate) fn start(conn: Server, timeout: Duration, kind: KillQueryType) -> Killer {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::spawn(move || run(conn, timeout, kind, &s));
        Killer {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops the thread; the queries it killed ("id (N s): statement").
    pub(crate) fn stop(mut self) -> Vec<String> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default()
    }
}

impl Drop for Killer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Sleeps up to `d` in short steps; false when told to stop.
fn sleep_unless_stopped(d: Duration, stop: &AtomicBool) -> bool {
    let until = Instant::now() + d;
    while Instant::now() < until {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    !stop.load(Ordering::Relaxed)
}

fn run(mut conn: Server, timeout: Duration, kind: KillQueryType, stop: &AtomicBool) -> Vec<String> {
    let t0 = Instant::now();
    let mut killed = Vec::new();
    if !sleep_unless_stopped(timeout, stop) {
        return killed;
    }
    loop {
        let waited = t0.elapsed().as_secs();
        // a failing list or kill is retried on the next round, as the lock still waits
        if let Ok(rows) = conn.rows("SHOW FULL PROCESSLIST") {
            for r in rows {
                let field = |i: usize| r.get(i).cloned().flatten();
                let (Some(id), Some(info)) = (field(0), field(7)) else {
                    continue;
                };
                let time: u64 = field(5).and_then(|t| t.parse().ok()).unwrap_or(0);
                let due = time >= waited && is_killed_kind(&info, kind);
                if due && id.parse::<u64>().is_ok() && conn.exec(&format!("KILL {id}")).is_ok() {
                    killed.push(format!("{id} ({time} s): {info}"));
                }
            }
        }
        if !sleep_unless_stopped(Duration::from_secs(1), stop) {
            return killed;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        let sel = KillQueryType::Select;
        assert!(is_killed_kind("SELECT SLEEP(5)", sel));
        assert!(is_killed_kind(" /* x */ (select 1)", sel));
        assert!(!is_killed_kind("UPDATE t SET a = 1", sel));
        assert!(is_killed_kind("update t set a = 1", KillQueryType::All));
        assert!(!is_killed_kind("BACKUP STAGE FLUSH", KillQueryType::All));
        assert!(!is_killed_kind("SHOW FULL PROCESSLIST", KillQueryType::All));
        assert!(!is_killed_kind("/* unterminated", KillQueryType::All));
    }
}
