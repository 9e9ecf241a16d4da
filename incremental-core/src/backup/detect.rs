//! Cold or hot: whether a running server holds the datadir (its POSIX locks, probed by
//! [`innodb_page::datadir::lock_holder`]) and, when one does, reaching it for a hot backup.

use std::fmt;
use std::path::{Path, PathBuf};

use innodb_page::datadir::{self, LockHolder};

use super::options::{BackupOptions, ConnectOptions};
use super::BackupError;

/// The open connection of a hot backup.
#[cfg(feature = "hot")]
pub(crate) type ServerConn = super::server::Server;

/// Without the `hot` feature there is never a connection.
#[cfg(not(feature = "hot"))]
#[derive(Debug)]
pub(crate) enum ServerConn {}

/// How a backup reads its source.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SourceMode {
    /// No server holds the datadir (stopped, or a filesystem snapshot): its files are copied
    /// as they are.
    Cold,
    /// A running server holds the datadir (or no datadir was given): the backup goes through
    /// that server (`BACKUP STAGE`, its redo log followed to the end of the backup).
    #[non_exhaustive]
    Hot {
        /// The process holding the datadir (`None` when it cannot be seen from here: a
        /// server on another host, or in another container).
        pid: Option<i32>,
        /// How the server was reached ("socket /run/mysqld/mysqld.sock as root").
        server: String,
        /// Its `@@version`.
        version: String,
    },
}

impl SourceMode {
    /// `"cold"` or `"hot"`.
    ///
    /// ```
    /// assert_eq!(incremental_core::backup::SourceMode::Cold.name(), "cold");
    /// ```
    pub fn name(&self) -> &'static str {
        match self {
            SourceMode::Cold => "cold",
            SourceMode::Hot { .. } => "hot",
        }
    }

    /// True for a hot backup.
    pub fn is_hot(&self) -> bool {
        matches!(self, SourceMode::Hot { .. })
    }
}

impl fmt::Display for SourceMode {
    /// Which mode, and why.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceMode::Cold => write!(f, "cold: no server holds the datadir"),
            SourceMode::Hot {
                pid: Some(pid),
                server,
                version,
            } => write!(
                f,
                "hot: process {pid} holds the datadir; MariaDB {version} reached through {server}"
            ),
            SourceMode::Hot {
                pid: None,
                server,
                version,
            } => write!(
                f,
                "hot: the datadir of MariaDB {version}, reached through {server}"
            ),
        }
    }
}

/// What [`detect`] found: the datadir to back up, cold or hot, and for a hot backup the open
/// connection (kept by the [`BackupPlan`](super::BackupPlan) made from it).
#[derive(Debug)]
#[non_exhaustive]
pub struct Detected {
    datadir: PathBuf,
    mode: SourceMode,
    pub(crate) server: Option<ServerConn>,
}

impl Detected {
    /// The datadir (given, or the server's `@@datadir`).
    pub fn datadir(&self) -> &Path {
        &self.datadir
    }

    /// Cold or hot, and why.
    pub fn mode(&self) -> &SourceMode {
        &self.mode
    }
}

/// Decides how the source of `options` is read. A datadir no server holds is cold, unless
/// the connection settings name a server ([`ConnectOptions::names_server`]): that server is
/// then reached and must serve this datadir, or the backup is refused
/// ([`BackupError::ServerNotReached`]). One a
/// running server holds is hot when connection settings were given
/// ([`BackupOptions::set_connect`]) and the server can be reached; it is refused otherwise
/// ([`BackupError::ServerRunning`] without settings, [`BackupError::ServerUnreachable`] when
/// the server cannot be reached, [`BackupError::WrongServer`] when the one reached serves
/// another datadir). Without a datadir, the server reached is backed up.
///
/// ```
/// use incremental_core::backup::{detect, BackupOptions, SourceMode};
/// let dir = tempfile::tempdir().unwrap();
/// let d = detect(&BackupOptions::new(dir.path())).unwrap();
/// assert_eq!(d.mode(), &SourceMode::Cold);
/// ```
pub fn detect(options: &BackupOptions) -> Result<Detected, BackupError> {
    let Some(dd) = options.datadir() else {
        return of_server(options.connect().cloned().unwrap_or_default());
    };
    let holder = datadir::lock_holder(dd).map_err(|e| match e {
        innodb_page::Error::Io { path, source, .. } => BackupError::Io { path, source },
        e => BackupError::Page(e),
    })?;
    let holder = holder.map(|LockHolder { path, pid, .. }| (path, pid));
    let Some((path, pid)) = holder.or_else(|| held_elsewhere(dd, options)) else {
        return unheld(dd, options.connect());
    };
    match options.connect() {
        Some(c) if cfg!(feature = "hot") => held(dd, pid, c),
        _ => Err(BackupError::ServerRunning { path, pid }),
    }
}

/// The server holding the files its datadir keeps elsewhere (`--innodb-data-home-dir`,
/// `--innodb-log-group-home-dir`), if any.
fn held_elsewhere(dd: &Path, options: &BackupOptions) -> Option<(PathBuf, i32)> {
    options.dirs().lock_probes(dd).into_iter().find_map(|path| {
        let pid = datadir::locked_by(&path).ok().flatten()?;
        Some((path, pid))
    })
}

/// A datadir no server holds: cold, unless the caller named a server (a socket, host or
/// port), which must then be reached and serve this datadir: a caller who asked for a hot
/// backup does not silently get a cold copy of a stopped datadir.
fn unheld(dd: &Path, connect: Option<&ConnectOptions>) -> Result<Detected, BackupError> {
    match connect {
        Some(c) if c.names_server() && cfg!(feature = "hot") => named(dd, c),
        _ => Ok(Detected {
            datadir: dd.to_path_buf(),
            mode: SourceMode::Cold,
            server: None,
        }),
    }
}

/// The server the caller named, for a datadir no local process holds.
#[cfg(feature = "hot")]
fn named(dd: &Path, connect: &ConnectOptions) -> Result<Detected, BackupError> {
    let server =
        ServerConn::connect(connect, None).map_err(|source| BackupError::ServerNotReached {
            path: dd.to_path_buf(),
            source,
        })?;
    serves(&server, dd)?;
    Ok(hot(dd.to_path_buf(), None, server))
}

/// Refuses a server that serves another datadir than `dd`.
#[cfg(feature = "hot")]
fn serves(server: &ServerConn, dd: &Path) -> Result<(), BackupError> {
    if same_dir(&server.datadir, dd) {
        return Ok(());
    }
    Err(BackupError::WrongServer {
        how: server.how.clone(),
        server_datadir: server.datadir.clone(),
        path: dd.to_path_buf(),
    })
}

#[cfg(not(feature = "hot"))]
fn named(_: &Path, _: &ConnectOptions) -> Result<Detected, BackupError> {
    unreachable!("hot backups are not built in")
}

/// A datadir held by process `pid`: connects to that server.
#[cfg(feature = "hot")]
fn held(dd: &Path, pid: i32, connect: &ConnectOptions) -> Result<Detected, BackupError> {
    let server = ServerConn::connect(connect, Some(pid)).map_err(|source| {
        BackupError::ServerUnreachable {
            path: dd.to_path_buf(),
            pid,
            source,
        }
    })?;
    serves(&server, dd)?;
    Ok(hot(dd.to_path_buf(), Some(pid), server))
}

#[cfg(not(feature = "hot"))]
fn held(_: &Path, _: i32, _: &ConnectOptions) -> Result<Detected, BackupError> {
    unreachable!("hot backups are not built in")
}

/// No datadir given: the server reached is backed up.
#[cfg(feature = "hot")]
fn of_server(connect: ConnectOptions) -> Result<Detected, BackupError> {
    let server = ServerConn::connect(&connect, None)?;
    // the server's process, when it runs here: the one holding its datadir
    let pid = datadir::lock_holder(&server.datadir)
        .ok()
        .flatten()
        .map(|h| h.pid);
    Ok(hot(server.datadir.clone(), pid, server))
}

#[cfg(not(feature = "hot"))]
fn of_server(_: ConnectOptions) -> Result<Detected, BackupError> {
    Err(BackupError::Unsupported {
        path: PathBuf::new(),
        what: "no datadir given, and hot backups are not built in (feature `hot`)".into(),
    })
}

#[cfg(feature = "hot")]
fn hot(datadir: PathBuf, pid: Option<i32>, server: ServerConn) -> Detected {
    Detected {
        datadir,
        mode: SourceMode::Hot {
            pid,
            server: server.how.clone(),
            version: server.version.clone(),
        },
        server: Some(server),
    }
}

/// Whether `a` and `b` name the same directory.
///
/// ```
/// use incremental_core::backup::same_dir;
/// assert!(same_dir("/tmp".as_ref(), "/tmp/.".as_ref()));
/// ```
pub fn same_dir(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}
