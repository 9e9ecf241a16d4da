//! The connection to a running MariaDB server: finding it (options, option files, the socket
//! of the process holding the datadir), reading its settings and LSNs, and MariaDB's
//! `BACKUP STAGE` protocol.
//!
//! The MySQL protocol is spoken by the [`mysql`] crate (synchronous, no TLS: xb connects
//! through the server's Unix socket, or to a TCP address given explicitly).

use std::path::PathBuf;
use std::time::Duration;

use innodb_page::Lsn;
use mysql::prelude::Queryable;

use crate::backup::error::ServerError;
use crate::backup::options::ConnectOptions;
use crate::format::option_file::{OptionFiles, CLIENT_GROUPS};

/// `(code, message, source)` of a client error: the server's error code when it answered.
fn parts(
    e: mysql::Error,
) -> (
    Option<u16>,
    String,
    Box<dyn std::error::Error + Send + Sync>,
) {
    let code = match &e {
        mysql::Error::MySqlError(m) => Some(m.code),
        _ => None,
    };
    (code, e.to_string(), Box::new(e))
}

fn connect_error(how: String, e: mysql::Error) -> ServerError {
    let (code, message, source) = parts(e);
    ServerError::Connect {
        how,
        code,
        message,
        source,
    }
}

fn query_error(query: &str, e: mysql::Error) -> ServerError {
    let (code, message, source) = parts(e);
    ServerError::Query {
        query: query.into(),
        code,
        message,
        source,
    }
}

/// The stages of MariaDB's `BACKUP STAGE` protocol, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// Starts a backup (blocks the purge of Aria logs).
    Start,
    /// Flushes non-transactional tables and blocks new writes to them.
    Flush,
    /// Blocks CREATE, DROP, RENAME, TRUNCATE and the start and end of ALTER TABLE.
    BlockDdl,
    /// Blocks commits (and the binary log).
    BlockCommit,
    /// Ends the backup: everything is unblocked.
    End,
}

impl Stage {
    /// The SQL keyword.
    pub fn keyword(self) -> &'static str {
        match self {
            Stage::Start => "START",
            Stage::Flush => "FLUSH",
            Stage::BlockDdl => "BLOCK_DDL",
            Stage::BlockCommit => "BLOCK_COMMIT",
            Stage::End => "END",
        }
    }
}

/// An open connection to a running server.
pub struct Server {
    conn: mysql::Conn,
    opts: mysql::Opts,
    /// How it was reached ("socket /run/mysqld/mysqld.sock as root").
    pub how: String,
    /// `@@version`.
    pub version: String,
    /// `@@datadir`, canonicalized when possible.
    pub datadir: PathBuf,
    /// The stage reached, if a backup stage was entered and not ended.
    stage: Option<Stage>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("how", &self.how)
            .field("version", &self.version)
            .field("datadir", &self.datadir)
            .field("stage", &self.stage)
            .finish()
    }
}

/// Unix sockets the process `pid` listens on (from `/proc`; empty when not allowed to look).
pub fn sockets_of_pid(pid: i32) -> Vec<PathBuf> {
    let Ok(table) = std::fs::read_to_string("/proc/net/unix") else {
        return Vec::new();
    };
    // Num RefCount Protocol Flags Type St Inode Path; listening: flags 00010000
    let listening: Vec<(u64, PathBuf)> = table
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 8 || f[3] != "00010000" || !f[7].starts_with('/') {
                return None;
            }
            Some((f[6].parse().ok()?, PathBuf::from(f[7])))
        })
        .collect();
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in fds.flatten() {
        let Ok(target) = std::fs::read_link(e.path()) else {
            continue;
        };
        let t = target.to_string_lossy();
        let Some(ino) = t
            .strip_prefix("socket:[")
            .and_then(|s| s.strip_suffix(']'))
            .and_then(|s| s.parse::<u64>().ok())
        else {
            continue;
        };
        for (i, p) in &listening {
            if *i == ino && !out.contains(p) {
                out.push(p.clone());
            }
        }
    }
    out
}

/// The login name of this process (`$USER`, else `root` for uid 0, else `""`).
fn login_name() -> String {
    if let Ok(u) = std::env::var("USER")
        && !u.is_empty()
    {
        return u;
    }
    // SAFETY: getuid has no preconditions.
    #[allow(unsafe_code)]
    let uid = unsafe { libc::getuid() };
    if uid == 0 {
        "root".into()
    } else {
        String::new()
    }
}

const DEFAULT_SOCKETS: &[&str] = &[
    "/run/mysqld/mysqld.sock",
    "/var/run/mysqld/mysqld.sock",
    "/tmp/mysql.sock",
];

impl Server {
    /// Connects. `server_pid`: the process holding the datadir, whose listening sockets are
    /// tried when no socket or host is configured.
    pub fn connect(opts: &ConnectOptions, server_pid: Option<i32>) -> Result<Server, ServerError> {
        let files = if opts.no_defaults() {
            OptionFiles::default()
        } else {
            OptionFiles::read(
                opts.defaults_file(),
                opts.defaults_extra_file(),
                CLIENT_GROUPS,
            )
        };
        let setting = |given: Option<&str>, key: &str| {
            given
                .map(str::to_string)
                .or_else(|| files.get(key).map(str::to_string))
        };
        let user = setting(opts.user(), "user").unwrap_or_else(login_name);
        let password =
            setting(opts.password(), "password").or_else(|| std::env::var("MYSQL_PWD").ok());
        let host = setting(opts.host(), "host");
        let port = opts
            .port()
            .or_else(|| files.get("port").and_then(|p| p.parse().ok()));
        let socket = opts
            .socket()
            .map(PathBuf::from)
            .or_else(|| files.get("socket").map(PathBuf::from));
        let tcp = host
            .as_deref()
            .filter(|h| *h != "localhost")
            .map(|h| (h.to_string(), port.unwrap_or(3306)));
        let mut candidates: Vec<PathBuf> = Vec::new();
        if let Some(s) = socket {
            candidates.push(s);
        } else if tcp.is_none() {
            if let Some(pid) = server_pid {
                candidates.extend(sockets_of_pid(pid));
            }
            candidates.extend(
                DEFAULT_SOCKETS
                    .iter()
                    .map(PathBuf::from)
                    .filter(|p| p.exists()),
            );
            if candidates.is_empty() {
                candidates.push(PathBuf::from(DEFAULT_SOCKETS[0]));
            }
        }
        let base = mysql::OptsBuilder::new()
            .user(Some(user.clone()))
            .pass(password.clone())
            .prefer_socket(false)
            .tcp_connect_timeout(Some(Duration::from_secs(10)));
        let attempt = |b: mysql::OptsBuilder, how: String| -> Result<Server, ServerError> {
            let opts = mysql::Opts::from(b);
            let conn = mysql::Conn::new(opts.clone()).map_err(|e| connect_error(how.clone(), e))?;
            Server::init(conn, opts, how)
        };
        if candidates.is_empty() {
            let (h, p) = tcp.unwrap_or_else(|| ("localhost".into(), 3306));
            let how = format!("TCP {h}:{p} as {user}");
            return attempt(base.ip_or_hostname(Some(h)).tcp_port(p), how);
        }
        let mut last = None;
        for s in candidates {
            let how = format!("socket {} as {user}", s.display());
            let b = base.clone().socket(Some(s.to_string_lossy().into_owned()));
            match attempt(b, how) {
                Ok(srv) => return Ok(srv),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| ServerError::Unexpected {
            what: "no way to reach the server".into(),
        }))
    }

    fn init(conn: mysql::Conn, opts: mysql::Opts, how: String) -> Result<Server, ServerError> {
        let mut s = Server {
            conn,
            opts,
            how,
            version: String::new(),
            datadir: PathBuf::new(),
            stage: None,
        };
        s.version = s.value("SELECT @@version")?.unwrap_or_default();
        let dd = s.value("SELECT @@datadir")?.unwrap_or_default();
        let dd = PathBuf::from(dd);
        s.datadir = std::fs::canonicalize(&dd).unwrap_or(dd);
        Ok(s)
    }

    /// A second connection to the same server, as the same user.
    pub fn another(&self) -> Result<Server, ServerError> {
        let conn =
            mysql::Conn::new(self.opts.clone()).map_err(|e| connect_error(self.how.clone(), e))?;
        Server::init(conn, self.opts.clone(), self.how.clone())
    }

    /// The LSN up to which the server's redo log is written and flushed to its file
    /// (`Innodb_lsn_flushed`): the log bytes below it no longer change.
    pub fn lsn_flushed(&mut self) -> Result<Lsn, ServerError> {
        self.status_u64("Innodb_lsn_flushed").map(Lsn::new)
    }

    /// Runs a statement that returns nothing.
    pub fn exec(&mut self, query: &str) -> Result<(), ServerError> {
        self.conn
            .query_drop(query)
            .map_err(|e| query_error(query, e))
    }

    /// The first column of the first row (`None`: no row, or SQL NULL).
    pub fn value(&mut self, query: &str) -> Result<Option<String>, ServerError> {
        let row: Option<mysql::Row> = self
            .conn
            .query_first(query)
            .map_err(|e| query_error(query, e))?;
        Ok(row.and_then(|r| {
            r.get_opt::<Option<String>, usize>(0)
                .and_then(Result::ok)
                .flatten()
        }))
    }

    /// Rows of strings (SQL NULL as `None`).
    pub fn rows(&mut self, query: &str) -> Result<Vec<Vec<Option<String>>>, ServerError> {
        let rows: Vec<mysql::Row> = self.conn.query(query).map_err(|e| query_error(query, e))?;
        Ok(rows
            .into_iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| {
                        r.get_opt::<Option<String>, usize>(i)
                            .and_then(Result::ok)
                            .flatten()
                    })
                    .collect()
            })
            .collect())
    }

    /// A global status variable as a number (e.g. `Innodb_lsn_current`).
    pub fn status_u64(&mut self, name: &str) -> Result<u64, ServerError> {
        let q = format!("SHOW GLOBAL STATUS LIKE '{}'", name.replace('\'', ""));
        let rows = self.rows(&q)?;
        rows.first()
            .and_then(|r| r.get(1).cloned().flatten())
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| ServerError::Unexpected {
                what: format!("the server has no numeric status variable {name}"),
            })
    }

    /// The server's current LSN (`Innodb_lsn_current`): the end of the log it has generated,
    /// written to the file or not.
    pub fn lsn_current(&mut self) -> Result<Lsn, ServerError> {
        self.status_u64("Innodb_lsn_current").map(Lsn::new)
    }

    /// Enters a `BACKUP STAGE` (stages must be entered in order; `END` may come at any time).
    pub fn stage(&mut self, stage: Stage) -> Result<(), ServerError> {
        self.exec(&format!("BACKUP STAGE {}", stage.keyword()))?;
        self.stage = if stage == Stage::End {
            None
        } else {
            Some(stage)
        };
        Ok(())
    }

    /// The stage entered last (`None` outside a backup).
    pub fn current_stage(&self) -> Option<Stage> {
        self.stage
    }

    /// Asks InnoDB to write and flush its log buffer (`FLUSH ENGINE LOGS`), so that the redo
    /// up to the current LSN reaches `ib_logfile0` now instead of within a second.
    pub fn flush_engine_logs(&mut self) -> Result<(), ServerError> {
        self.exec("FLUSH ENGINE LOGS")
    }

    /// The binary log position (`SHOW MASTER STATUS` and `@@gtid_binlog_pos`) as mariabackup
    /// writes it to `xtrabackup_binlog_info` (`file<TAB>position<TAB>gtid`), or `None` when
    /// binary logging is off.
    pub fn binlog_position(&mut self) -> Result<Option<String>, ServerError> {
        let rows = self.rows("SHOW MASTER STATUS")?;
        let Some(r) = rows.first() else {
            return Ok(None);
        };
        let file = r.first().cloned().flatten().unwrap_or_default();
        let pos = r.get(1).cloned().flatten().unwrap_or_default();
        let gtid = self.value("SELECT @@gtid_binlog_pos")?.unwrap_or_default();
        Ok(Some(format!("{file}\t{pos}\t{gtid}\n")))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_process_without_sockets_listens_on_none() {
        assert!(super::sockets_of_pid(std::process::id() as i32).is_empty());
    }
}
