//! The connection to a running MariaDB server: finding it (options, option files, the socket
//! of the process holding the datadir), reading its settings and LSNs, and MariaDB's
//! `BACKUP STAGE` protocol.
//!
//! The MySQL protocol is spoken by the [`mysql`] crate (synchronous, no TLS: xb connects
//! through the server's Unix socket, or to a TCP address given explicitly).

use std::path::{Path, PathBuf};
use std::time::Duration;

use innodb_page::Lsn;
use mysql::prelude::Queryable;

use super::cnf::{OptionFiles, CLIENT_GROUPS};

/// How to reach the server. Fields left `None` come from the option files, then from the
/// defaults (the socket of the process holding the datadir, the usual socket paths, the
/// login name as user, no password).
///
/// ```
/// use incremental_core::backup::hot::server::ConnectOptions;
/// let o = ConnectOptions { socket: Some("/run/mysqld/mysqld.sock".into()), ..Default::default() };
/// assert!(o.user.is_none() && !o.no_defaults);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectOptions {
    /// User name.
    pub user: Option<String>,
    /// Password.
    pub password: Option<String>,
    /// Unix socket path.
    pub socket: Option<PathBuf>,
    /// TCP host (used only when no socket is given or found).
    pub host: Option<String>,
    /// TCP port (default 3306).
    pub port: Option<u16>,
    /// Read only this option file (`--defaults-file`).
    pub defaults_file: Option<PathBuf>,
    /// Read this option file after the global ones (`--defaults-extra-file`).
    pub defaults_extra_file: Option<PathBuf>,
    /// Read no option file (`--no-defaults`).
    pub no_defaults: bool,
}

/// A failure talking to the server.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Connecting failed.
    #[error(
        "cannot connect to the server ({how}): {source}; give --socket (or --host/--port), \
             --user and --password, or put them in the [client] group of an option file"
    )]
    Connect {
        /// Where and as whom.
        how: String,
        /// The cause.
        #[source]
        source: mysql::Error,
    },
    /// A statement failed.
    #[error("the server refused `{query}`: {source}")]
    Query {
        /// The statement.
        query: String,
        /// The cause.
        #[source]
        source: mysql::Error,
    },
    /// The server answered something unexpected, or does not qualify.
    #[error("{what}")]
    Unexpected {
        /// What.
        what: String,
    },
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
///
/// ```
/// let mine = incremental_core::backup::hot::server::sockets_of_pid(std::process::id() as i32);
/// assert!(mine.is_empty());
/// ```
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
        let files = if opts.no_defaults {
            OptionFiles::default()
        } else {
            OptionFiles::read(
                opts.defaults_file.as_deref(),
                opts.defaults_extra_file.as_deref(),
                CLIENT_GROUPS,
            )
        };
        let user = opts
            .user
            .clone()
            .or_else(|| files.get("user").map(str::to_string))
            .unwrap_or_else(login_name);
        let password = opts
            .password
            .clone()
            .or_else(|| files.get("password").map(str::to_string))
            .or_else(|| std::env::var("MYSQL_PWD").ok());
        let host = opts
            .host
            .clone()
            .or_else(|| files.get("host").map(str::to_string));
        let port = opts
            .port
            .or_else(|| files.get("port").and_then(|p| p.parse().ok()));
        let socket = opts
            .socket
            .clone()
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
            let conn = mysql::Conn::new(opts.clone()).map_err(|source| ServerError::Connect {
                how: how.clone(),
                source,
            })?;
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
        let conn = mysql::Conn::new(self.opts.clone()).map_err(|source| ServerError::Connect {
            how: self.how.clone(),
            source,
        })?;
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
            .map_err(|source| ServerError::Query {
                query: query.into(),
                source,
            })
    }

    /// The first column of the first row (`None`: no row, or SQL NULL).
    pub fn value(&mut self, query: &str) -> Result<Option<String>, ServerError> {
        let row: Option<mysql::Row> =
            self.conn
                .query_first(query)
                .map_err(|source| ServerError::Query {
                    query: query.into(),
                    source,
                })?;
        Ok(row.and_then(|r| {
            r.get_opt::<Option<String>, usize>(0)
                .and_then(Result::ok)
                .flatten()
        }))
    }

    /// Rows of strings (SQL NULL as `None`).
    pub fn rows(&mut self, query: &str) -> Result<Vec<Vec<Option<String>>>, ServerError> {
        let rows: Vec<mysql::Row> =
            self.conn
                .query(query)
                .map_err(|source| ServerError::Query {
                    query: query.into(),
                    source,
                })?;
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

    /// A global system variable (`None` when the server has no such variable).
    pub fn variable(&mut self, name: &str) -> Result<Option<String>, ServerError> {
        let q = format!("SHOW GLOBAL VARIABLES LIKE '{}'", name.replace('\'', ""));
        let rows = self.rows(&q)?;
        Ok(rows.first().and_then(|r| r.get(1).cloned().flatten()))
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

/// Whether `a` and `b` name the same directory.
pub fn same_dir(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}
