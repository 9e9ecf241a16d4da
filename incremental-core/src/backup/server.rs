//! The connection to a running MariaDB server: finding it (options, option files, the socket
//! of the process holding the datadir), reading its settings and LSNs, and MariaDB's
//! `BACKUP STAGE` protocol.
//!
//! The MySQL protocol is spoken by the [`mysql`] crate (synchronous; TLS by rustls, over TCP
//! only: the crate never encrypts a Unix socket, so with TLS the server is reached over TCP).

use std::path::{Path, PathBuf};
use std::time::Duration;

use innodb_page::Lsn;
use mysql::prelude::Queryable;

use crate::backup::error::ServerError;
use crate::backup::options::{ConnectOptions, Protocol, TlsOptions};
use crate::format::option_file::{OptionFiles, CLIENT_GROUPS};

/// `(code, message, source)` of a client error: the server's error code when it answered.
/// The message is the client library's text without its wrapper (`MySqlError { … }`): the
/// server's own answer (`ERROR 1045 (28000): Access denied for user …`), or why it could not
/// be reached; the source is the part of the error that says so.
fn parts(
    e: mysql::Error,
) -> (
    Option<u16>,
    String,
    Box<dyn std::error::Error + Send + Sync>,
) {
    match e {
        mysql::Error::MySqlError(m) => (Some(m.code), m.to_string(), Box::new(m)),
        mysql::Error::DriverError(d) => (None, d.to_string(), Box::new(d)),
        mysql::Error::IoError(io) => (None, io.to_string(), Box::new(io)),
        other => {
            let text = plain_text(&other);
            (None, text.clone(), text.into())
        }
    }
}

/// The text of a client error without the client library's wrapper (`MySqlError { … }`,
/// `DriverError { … }`): for messages that quote one.
pub(crate) fn plain_text(e: &mysql::Error) -> String {
    match e {
        mysql::Error::MySqlError(m) => m.to_string(),
        mysql::Error::DriverError(d) => d.to_string(),
        mysql::Error::IoError(io) => io.to_string(),
        mysql::Error::UrlError(u) => u.to_string(),
        mysql::Error::CodecError(c) => c.to_string(),
        other => other.to_string(),
    }
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

/// One row as (column name, value) pairs (SQL NULL as `None`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NamedRow(pub Vec<(String, Option<String>)>);

impl NamedRow {
    /// The value of the column `name` (compared without regard to case); `None` when there
    /// is no such column or it is NULL.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.as_deref())
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
    of_pid(pid, &listening)
}

/// The values of `listening` (socket inode, value) whose socket the process `pid` holds open,
/// each once (empty when not allowed to look).
fn of_pid<T: Clone + PartialEq>(pid: i32, listening: &[(u64, T)]) -> Vec<T> {
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
        for (i, v) in listening {
            if *i == ino && !out.contains(v) {
                out.push(v.clone());
            }
        }
    }
    out
}

/// TCP ports the process `pid` listens on (from `/proc`; empty when not allowed to look).
pub fn tcp_ports_of_pid(pid: i32) -> Vec<u16> {
    // sl local_address rem_address st ... inode; listening: st 0A
    let mut listening: Vec<(u64, u16)> = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for l in text.lines().skip(1) {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 10 || f[3] != "0A" {
                continue;
            }
            let port = f[1]
                .rsplit(':')
                .next()
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            if let (Some(port), Ok(ino)) = (port, f[9].parse()) {
                listening.push((ino, port));
            }
        }
    }
    of_pid(pid, &listening)
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

/// How to reach the server: TCP, or the first of these sockets that answers.
#[derive(Debug, PartialEq, Eq)]
enum Route {
    Tcp(String, u16),
    Sockets(Vec<PathBuf>),
}

/// Where to connect, with the `mariadb` client's precedence: options given (the command line)
/// win over option files. A protocol given decides; else a socket given means that socket,
/// and a port given, or a host given other than `localhost`, means TCP (a socket named in an
/// option file is then not used). Otherwise the option files decide the same way (their
/// `protocol`, a host other than `localhost`, their socket), and without any: the sockets of
/// the process holding the datadir, then the usual socket paths.
///
/// With TLS (which needs TCP): TCP, unless a socket is asked for by the options (a socket, or
/// the socket protocol, given), which is refused; a socket or socket protocol named in an
/// option file is passed over.
fn route(
    opts: &ConnectOptions,
    files: &OptionFiles,
    server_pid: Option<i32>,
) -> Result<Route, ServerError> {
    if opts.tls().is_some() {
        if opts.socket().is_some() || opts.protocol() == Some(Protocol::Socket) {
            return Err(ServerError::TlsOverSocket {
                socket: opts.socket().map(Path::to_path_buf),
            });
        }
        let host = opts
            .host()
            .or_else(|| files.get("host"))
            .unwrap_or("localhost");
        let port = opts
            .port()
            .or_else(|| files.get("port").and_then(|p| p.parse().ok()))
            .or_else(|| server_pid.and_then(|pid| tcp_ports_of_pid(pid).first().copied()))
            .unwrap_or(3306);
        return Ok(Route::Tcp(host.to_string(), port));
    }
    Ok(plain_route(opts, files, server_pid))
}

/// [`route`] without TLS.
fn plain_route(opts: &ConnectOptions, files: &OptionFiles, server_pid: Option<i32>) -> Route {
    let file_port = || files.get("port").and_then(|p| p.parse().ok());
    let remote = |h: &str| h != "localhost";
    let tcp = || {
        let host = opts
            .host()
            .or_else(|| files.get("host"))
            .unwrap_or("localhost");
        Route::Tcp(
            host.to_string(),
            opts.port().or_else(file_port).unwrap_or(3306),
        )
    };
    let given_socket = opts.socket().map(Path::to_path_buf);
    let file_socket = || files.get("socket").map(PathBuf::from);
    match opts.protocol() {
        Some(Protocol::Tcp) => return tcp(),
        Some(Protocol::Socket) => {
            if let Some(s) = given_socket.or_else(file_socket) {
                return Route::Sockets(vec![s]);
            }
            return Route::Sockets(usual_sockets(server_pid));
        }
        _ => {}
    }
    if let Some(s) = given_socket {
        return Route::Sockets(vec![s]);
    }
    if opts.port().is_some() || opts.host().is_some_and(remote) {
        return tcp();
    }
    let file_protocol = files.get("protocol").and_then(Protocol::from_name);
    let file_remote = opts.host().is_none() && files.get("host").is_some_and(remote);
    if file_protocol == Some(Protocol::Tcp) || (file_remote && file_protocol.is_none()) {
        return tcp();
    }
    match file_socket() {
        Some(s) => Route::Sockets(vec![s]),
        None => Route::Sockets(usual_sockets(server_pid)),
    }
}

/// The sockets of the process holding the datadir, then the usual socket paths.
fn usual_sockets(server_pid: Option<i32>) -> Vec<PathBuf> {
    let mut candidates: Vec<PathBuf> = server_pid.map(sockets_of_pid).unwrap_or_default();
    for p in DEFAULT_SOCKETS.iter().map(PathBuf::from) {
        if p.exists() && !candidates.contains(&p) {
            candidates.push(p);
        }
    }
    if candidates.is_empty() {
        candidates.push(PathBuf::from(DEFAULT_SOCKETS[0]));
    }
    candidates
}

/// The client settings shared by every attempt.
fn base_opts(user: &str, password: Option<&String>) -> mysql::OptsBuilder {
    mysql::OptsBuilder::new()
        .user(Some(user))
        .pass(password.cloned())
        .prefer_socket(false)
        .tcp_connect_timeout(Some(Duration::from_secs(10)))
}

/// The client library's TLS settings for `tls`, after checking that its files can be read
/// (the library would say only "No such file or directory", without the file).
fn ssl_opts(tls: &TlsOptions) -> Result<mysql::SslOpts, ServerError> {
    let readable = |what: &'static str, path: &Path| {
        std::fs::File::open(path)
            .and_then(|f| f.metadata())
            .and_then(|m| {
                if m.is_dir() {
                    Err(std::io::Error::other("a directory, not a file"))
                } else {
                    Ok(())
                }
            })
            .map_err(|source| ServerError::TlsFile {
                what,
                path: path.to_path_buf(),
                source,
            })
    };
    let mut o = mysql::SslOpts::default();
    if let Some(ca) = tls.ca() {
        readable("CA certificate", ca)?;
        o = o.with_root_cert_path(Some(ca.to_path_buf()));
    }
    if let (Some(cert), Some(key)) = (tls.cert(), tls.key()) {
        readable("client certificate", cert)?;
        readable("client key", key)?;
        o = o.with_client_identity(Some(mysql::ClientIdentity::new(
            cert.to_path_buf(),
            key.to_path_buf(),
        )));
    }
    // MariaDB 10.11's client: with a CA the chain is checked, the name only when asked
    Ok(if tls.verify_server_cert() {
        o
    } else if tls.ca().is_some() {
        o.with_danger_skip_domain_validation(true)
    } else {
        o.with_danger_accept_invalid_certs(true)
    })
}

/// Connects with `b`, described as `how` in errors.
fn attempt(b: mysql::OptsBuilder, how: String) -> Result<Server, ServerError> {
    let opts = mysql::Opts::from(b);
    let conn = mysql::Conn::new(opts.clone()).map_err(|e| connect_error(how.clone(), e))?;
    Server::init(conn, opts, how)
}

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
        let candidates = match route(opts, &files, server_pid)? {
            Route::Tcp(h, p) => {
                let mut how = format!("TCP {h}:{p} as {user}");
                let mut b = base_opts(&user, password.as_ref())
                    .ip_or_hostname(Some(h))
                    .tcp_port(p);
                if let Some(tls) = opts.tls() {
                    how.push_str(" with TLS");
                    b = b.ssl_opts(ssl_opts(tls)?);
                }
                return attempt(b, how);
            }
            Route::Sockets(s) => s,
        };
        let mut last = None;
        for s in candidates {
            let how = format!("socket {} as {user}", s.display());
            let b =
                base_opts(&user, password.as_ref()).socket(Some(s.to_string_lossy().into_owned()));
            match attempt(b, how) {
                Ok(srv) => return Ok(srv),
                // the server answered (a wrong password, ...): that is the answer
                Err(e @ ServerError::Connect { code: Some(_), .. }) => return Err(e),
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

    /// Runs a statement with `?` placeholders bound to `params` (SQL NULL for `None`), as a
    /// prepared statement; returns the first column of the first row, if any.
    pub fn value_with(
        &mut self,
        query: &str,
        params: Vec<Option<String>>,
    ) -> Result<Option<String>, ServerError> {
        let params: Vec<mysql::Value> = params
            .into_iter()
            .map(|p| p.map_or(mysql::Value::NULL, |s| mysql::Value::Bytes(s.into_bytes())))
            .collect();
        let row: Option<mysql::Row> = self
            .conn
            .exec_first(query, mysql::Params::Positional(params))
            .map_err(|e| query_error(query, e))?;
        // the binary protocol sends numbers as numbers
        Ok(row.and_then(|r| match r.as_ref(0)? {
            mysql::Value::NULL => None,
            mysql::Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
            mysql::Value::Int(i) => Some(i.to_string()),
            mysql::Value::UInt(u) => Some(u.to_string()),
            v => Some(v.as_sql(true).trim_matches('\'').to_string()),
        }))
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

    /// Rows as (column name, value) pairs, in the server's column order (SQL NULL as `None`):
    /// for statements whose columns are known by name (`SHOW ALL SLAVES STATUS`).
    pub fn named_rows(&mut self, query: &str) -> Result<Vec<NamedRow>, ServerError> {
        let rows: Vec<mysql::Row> = self.conn.query(query).map_err(|e| query_error(query, e))?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let names: Vec<String> = r
                    .columns_ref()
                    .iter()
                    .map(|c| c.name_str().into_owned())
                    .collect();
                let values = (0..r.len()).map(|i| {
                    r.get_opt::<Option<String>, usize>(i)
                        .and_then(Result::ok)
                        .flatten()
                });
                NamedRow(names.into_iter().zip(values).collect())
            })
            .collect())
    }

    /// `SHOW VARIABLES` or `SHOW STATUS` rows (`statement` ends with a `LIKE` pattern) as
    /// name and value; names as the server spells them.
    pub fn name_values(&mut self, statement: &str) -> Result<NamedRow, ServerError> {
        let rows = self.rows(statement)?;
        Ok(NamedRow(
            rows.into_iter()
                .filter_map(|r| {
                    let mut it = r.into_iter();
                    Some((it.next().flatten()?, it.next().flatten()))
                })
                .collect(),
        ))
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

    /// Asks InnoDB to write and flush its log buffer (`FLUSH NO_WRITE_TO_BINLOG ENGINE LOGS`),
    /// so that the redo up to the current LSN reaches `ib_logfile0` now instead of within a
    /// second. `NO_WRITE_TO_BINLOG`, as mariabackup: a plain `FLUSH ENGINE LOGS` goes to the
    /// binary log (and so to the replicas), and on a Galera node it is replicated in total
    /// order, which the node refuses while a backup stage pauses replication ("Aborting TOI").
    pub fn flush_engine_logs(&mut self) -> Result<(), ServerError> {
        self.exec("FLUSH NO_WRITE_TO_BINLOG ENGINE LOGS")
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

    /// The server's log files: `(basenames, files)`, the binary and relay log basenames
    /// (`@@log_bin_basename`, `@@relay_log_basename`) and the index, error, general and slow
    /// query log files, as the server gives them (absolute or relative to its datadir; a
    /// variable that is unset is left out).
    pub fn log_names(&mut self) -> Result<(Vec<String>, Vec<String>), ServerError> {
        let rows = self.rows(
            "SELECT @@log_bin_basename, @@relay_log_basename, @@log_bin_index, \
             @@relay_log_index, @@log_error, @@general_log_file, @@slow_query_log_file",
        )?;
        let row = rows.into_iter().next().unwrap_or_default();
        let mut values = row.into_iter().map(|v| v.filter(|s| !s.is_empty()));
        let bases = values.by_ref().take(2).flatten().collect();
        Ok((bases, values.flatten().collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::{route, ConnectOptions, OptionFiles, Protocol, Route, CLIENT_GROUPS};
    use crate::backup::{ServerError, TlsOptions};

    /// The route for `opts` with a Debian-like option file naming a socket (and `extra`).
    fn with_file(opts: &ConnectOptions, extra: &str) -> Route {
        try_with_file(opts, extra).unwrap()
    }

    fn try_with_file(opts: &ConnectOptions, extra: &str) -> Result<Route, ServerError> {
        let text = format!("[client]\nsocket=/run/mysqld/mysqld.sock\n{extra}");
        route(opts, &OptionFiles::parse(&text, CLIENT_GROUPS), None)
    }

    #[test]
    fn tls_goes_over_tcp_and_refuses_a_socket_asked_for() {
        let tcp = |h: &str, p| Route::Tcp(h.into(), p);
        let mut o = ConnectOptions::new();
        o.set_tls(TlsOptions::new());
        // the option file's socket is passed over, its port and host used
        assert_eq!(with_file(&o, ""), tcp("localhost", 3306));
        assert_eq!(with_file(&o, "port=3307"), tcp("localhost", 3307));
        assert_eq!(
            with_file(&o, "port=3307\nhost=db1\nprotocol=socket"),
            tcp("db1", 3307)
        );
        o.set_host("127.0.0.1");
        assert_eq!(with_file(&o, "port=3307"), tcp("127.0.0.1", 3307));
        let mut s = o.clone();
        s.set_socket("/tmp/s.sock");
        let e = try_with_file(&s, "").unwrap_err();
        assert!(
            matches!(&e, ServerError::TlsOverSocket { socket: Some(p) } if p.ends_with("s.sock")),
            "{e}"
        );
        o.set_protocol(Protocol::Socket);
        assert!(matches!(
            try_with_file(&o, ""),
            Err(ServerError::TlsOverSocket { socket: None })
        ));
    }

    #[test]
    fn an_unreadable_tls_file_is_named() {
        let mut t = TlsOptions::new();
        t.set_ca("/nonexistent/ca.pem");
        let e = super::ssl_opts(&t).unwrap_err();
        assert!(
            matches!(&e, ServerError::TlsFile { what: "CA certificate", path, .. }
                if path.ends_with("ca.pem")),
            "{e}"
        );
        assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
        let mut t = TlsOptions::new();
        t.set_client_identity("/", "/nonexistent/key.pem");
        let e = super::ssl_opts(&t).unwrap_err();
        assert!(
            matches!(
                &e,
                ServerError::TlsFile {
                    what: "client certificate",
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn the_command_line_beats_the_option_files_as_for_the_mariadb_client() {
        let file_socket = Route::Sockets(vec!["/run/mysqld/mysqld.sock".into()]);
        let tcp = |h: &str, p| Route::Tcp(h.into(), p);
        let mut o = ConnectOptions::new();
        assert_eq!(with_file(&o, ""), file_socket);
        assert_eq!(with_file(&o, "port=3307"), file_socket);
        assert_eq!(with_file(&o, "host=db1"), tcp("db1", 3306));
        assert_eq!(
            with_file(&o, "protocol=TCP\nport=3307"),
            tcp("localhost", 3307)
        );
        o.set_host("localhost");
        assert_eq!(with_file(&o, ""), file_socket);
        o.set_port(33061);
        assert_eq!(with_file(&o, ""), tcp("localhost", 33061));
        o.set_host("127.0.0.1");
        assert_eq!(with_file(&o, "port=3307"), tcp("127.0.0.1", 33061));
        let mut h = ConnectOptions::new();
        h.set_host("db2");
        assert_eq!(with_file(&h, "port=3307"), tcp("db2", 3307));
        h.set_socket("/tmp/s.sock");
        assert_eq!(
            with_file(&h, ""),
            Route::Sockets(vec!["/tmp/s.sock".into()])
        );
        h.set_protocol(Protocol::Tcp);
        assert_eq!(with_file(&h, ""), tcp("db2", 3306));
        let mut p = ConnectOptions::new();
        p.set_port(3307).set_protocol(Protocol::Socket);
        assert_eq!(with_file(&p, ""), file_socket);
    }

    #[test]
    fn a_process_without_sockets_listens_on_none() {
        assert!(super::sockets_of_pid(std::process::id() as i32).is_empty());
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        assert!(super::tcp_ports_of_pid(std::process::id() as i32).contains(&port));
    }
}
