//! A throwaway MariaDB server that lives in one directory, for tests.
//!
//! Our tests run against the real thing: `mariadbd`, `mariadb`, `mariadb-admin`,
//! `mariadb-install-db` and `mariabackup` from MariaDB 10.11. When they are missing,
//! [`Sandbox::create`] and friends return [`SandboxError::MissingBinaries`]: tests that
//! `expect()` the result then *fail*, they never skip silently. This module never installs
//! anything; `scripts/test` does.
//!
//! # Layout
//!
//! A sandbox directory holds:
//!
//! * `my.cnf`: read by every program through `--defaults-file` (groups `[mariadbd]`, `[client]`,
//!   `[mariabackup]`); see [`Sandbox::defaults_file`];
//! * `data/`: the datadir (unless the sandbox runs on an existing datadir, see
//!   [`Sandbox::on_datadir`]);
//! * `mysqld.sock`, `mysqld.pid`, `mysqld.err` (the server's error log) and `install-db.log`.
//!
//! The server listens only on the Unix socket (`skip-networking`); `root` logs in without a
//! password. A Unix socket path must be shorter than about 100 bytes, so temporary sandboxes live
//! directly under `/tmp` with short names (see [`short_tempdir`]), whatever `TMPDIR` says.
//!
//! # Example
//!
//! ```no_run
//! use xb_testkit::sandbox::{PageSize, Sandbox, SandboxOptions};
//!
//! # fn main() -> Result<(), xb_testkit::sandbox::SandboxError> {
//! let opts = SandboxOptions::default().page_size(PageSize::K4);
//! let mut server = Sandbox::in_tempdir(&opts)?; // initialized and running
//! server.sql("CREATE DATABASE d; CREATE TABLE d.t (id INT PRIMARY KEY) ENGINE=InnoDB;")?;
//! server.sql("INSERT INTO d.t VALUES (1), (2), (3)")?;
//! let ckpt = server.checkpoint()?; // every change is now in the data files
//! assert!(ckpt.checkpoint_lsn > 0);
//! let sums = server.checksum_tables(&["d.t"])?;
//! server.stop()?; // clean shutdown; dropping the sandbox would also stop it
//! # let _ = sums;
//! # Ok(())
//! # }
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// Longest socket path we accept, in bytes (`sun_path` is 108 bytes on Linux, including the NUL;
/// we keep a margin).
pub const MAX_SOCKET_PATH: usize = 100;

/// How many lines of the server's error log an error carries.
const LOG_TAIL_LINES: usize = 20;

/// How often we poll a starting, stopping or checkpointing server.
const POLL: Duration = Duration::from_millis(100);

/// Environment variable naming a directory searched first for the MariaDB programs.
pub const BINDIR_ENV: &str = "XB_MARIADB_BINDIR";

/// Everything that can go wrong with a sandbox.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// Some MariaDB programs are not installed.
    #[error(
        "MariaDB programs not found: {} (searched {searched}); run scripts/test, which installs \
         them, or install the Debian packages mariadb-server mariadb-client mariadb-backup",
        missing.join(", ")
    )]
    MissingBinaries {
        /// Names of the programs that were not found.
        missing: Vec<&'static str>,
        /// The directories searched, `:`-separated.
        searched: String,
    },
    /// A file-system operation failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What we were doing, e.g. "cannot write".
        action: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A program could not be started (or waited for).
    #[error("cannot run {}: {source}", program.display())]
    Spawn {
        /// The program.
        program: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The socket path would be too long for a Unix socket.
    #[error(
        "path too long for a Unix socket ({len} bytes, at most {MAX_SOCKET_PATH}): {}; use a \
         shorter sandbox directory",
        path.display()
    )]
    SocketPathTooLong {
        /// The socket path.
        path: PathBuf,
        /// Its length in bytes.
        len: usize,
    },
    /// A path cannot be written into `my.cnf` (it contains a line break).
    #[error("path cannot go into my.cnf: {}", path.display())]
    UnsupportedPath {
        /// The path.
        path: PathBuf,
    },
    /// A program exited with a failure status.
    #[error("{command} failed ({status}):\n{stderr}{log}")]
    CommandFailed {
        /// The command line, for humans.
        command: String,
        /// Its exit status.
        status: ExitStatus,
        /// What it wrote on standard error (the last lines, if long).
        stderr: String,
        /// The last lines of the server's error log.
        log: LogTail,
    },
    /// `mariadbd` exited while we waited for it to answer.
    #[error("mariadbd exited during start ({status}){log}")]
    ServerExited {
        /// Its exit status.
        status: ExitStatus,
        /// The last lines of its error log.
        log: LogTail,
    },
    /// `mariadbd` exited with a failure status after `mariadb-admin shutdown`.
    #[error("mariadbd shutdown ended with {status}{log}")]
    UncleanShutdown {
        /// Its exit status.
        status: ExitStatus,
        /// The last lines of its error log.
        log: LogTail,
    },
    /// Something did not happen in time.
    #[error("timed out after {after:?}: {what}{log}")]
    Timeout {
        /// What we were waiting for.
        what: String,
        /// How long we waited.
        after: Duration,
        /// The last lines of the server's error log.
        log: LogTail,
    },
    /// The operation needs a running server, and this sandbox has none.
    #[error("no server running in {}", dir.display())]
    NotRunning {
        /// The sandbox directory.
        dir: PathBuf,
    },
    /// A server is already running on this sandbox's files.
    #[error("a server (pid {pid}) is already running on {}", dir.display())]
    AlreadyRunning {
        /// Its process id.
        pid: u32,
        /// The sandbox directory.
        dir: PathBuf,
    },
    /// A query returned something else than expected.
    #[error("unexpected result from `{query}`: expected {expected}, got {output:?}")]
    UnexpectedResult {
        /// The query.
        query: String,
        /// What we expected.
        expected: &'static str,
        /// What the client printed.
        output: String,
    },
}

/// Shorthand for results of this module.
pub type Result<T, E = SandboxError> = std::result::Result<T, E>;

/// The last lines of a server's error log, carried by errors so that a failing test says why.
///
/// Displays as nothing when the log is empty or missing, else as a header line and the lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogTail {
    /// The error log's path.
    pub path: PathBuf,
    /// Its last lines (at most 20), `\n`-separated.
    pub lines: String,
}

impl LogTail {
    fn read(path: &Path) -> LogTail {
        LogTail {
            path: path.to_path_buf(),
            lines: tail_of_file(path, LOG_TAIL_LINES),
        }
    }
}

impl fmt::Display for LogTail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.lines.trim().is_empty() {
            return Ok(());
        }
        write!(
            f,
            "\n--- last lines of {} ---\n{}",
            self.path.display(),
            self.lines
        )
    }
}

/// The last `n` lines of a file (reading at most its last 64 KiB); empty if it cannot be read.
fn tail_of_file(path: &Path, n: usize) -> String {
    let Ok(mut f) = fs::File::open(path) else {
        return String::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let start = len.saturating_sub(64 * 1024);
    let mut buf = Vec::new();
    if f.seek(SeekFrom::Start(start)).is_err() || f.read_to_end(&mut buf).is_err() {
        return String::new();
    }
    last_lines(&String::from_utf8_lossy(&buf), n)
}

/// The lines of a tool's output that report an error (at most 20), then its last `n` lines: a
/// tool that fails early and goes on printing keeps its reason in view.
fn error_and_last_lines(text: &str, n: usize) -> String {
    let errors: Vec<&str> = text
        .lines()
        .filter(|l| {
            let l = l.to_ascii_lowercase();
            ["error", "fail", "assert", "cannot", "can't"]
                .iter()
                .any(|w| l.contains(w))
        })
        .take(20)
        .collect();
    let tail = last_lines(text, n);
    if errors.is_empty() {
        tail
    } else {
        format!("{}\n[...]\n{tail}", errors.join("\n"))
    }
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// InnoDB page size (`innodb_page_size`), fixed when a datadir is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PageSize {
    /// 4 KiB.
    K4,
    /// 8 KiB.
    K8,
    /// 16 KiB, InnoDB's default.
    #[default]
    K16,
    /// 32 KiB.
    K32,
    /// 64 KiB.
    K64,
}

impl PageSize {
    /// The size in bytes.
    pub fn bytes(self) -> u32 {
        match self {
            PageSize::K4 => 4096,
            PageSize::K8 => 8192,
            PageSize::K16 => 16384,
            PageSize::K32 => 32768,
            PageSize::K64 => 65536,
        }
    }

    /// The page size of that many bytes, if InnoDB supports it.
    pub fn from_bytes(bytes: u32) -> Option<PageSize> {
        [
            PageSize::K4,
            PageSize::K8,
            PageSize::K16,
            PageSize::K32,
            PageSize::K64,
        ]
        .into_iter()
        .find(|p| p.bytes() == bytes)
    }

    /// The value as written in `my.cnf`, e.g. `4k`.
    pub fn as_option(self) -> &'static str {
        match self {
            PageSize::K4 => "4k",
            PageSize::K8 => "8k",
            PageSize::K16 => "16k",
            PageSize::K32 => "32k",
            PageSize::K64 => "64k",
        }
    }
}

/// How to set up and run a sandbox server.
///
/// The default is tuned for tests: a 16 KiB page size, a 32 MiB buffer pool, a 16 MiB redo log,
/// no buffer pool dump/load at shutdown/startup, and timeouts of 60 s. Every setting ends up in
/// the sandbox's `my.cnf`, so it applies to every start and to `mariabackup`.
///
/// ```
/// use xb_testkit::sandbox::{PageSize, SandboxOptions};
///
/// let opts = SandboxOptions::default()
///     .page_size(PageSize::K64)
///     .option("innodb_checksum_algorithm", "full_crc32")
///     .option("innodb_buffer_pool_size", "64M"); // replaces the default
/// assert_eq!(opts.get("innodb_buffer_pool_size"), Some("64M"));
/// ```
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    page_size: PageSize,
    server_options: Vec<(String, Option<String>)>,
    start_timeout: Duration,
    stop_timeout: Duration,
    checkpoint_timeout: Duration,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        SandboxOptions {
            page_size: PageSize::K16,
            server_options: Vec::new(),
            start_timeout: Duration::from_secs(60),
            stop_timeout: Duration::from_secs(60),
            checkpoint_timeout: Duration::from_secs(60),
        }
        .option("innodb_buffer_pool_size", "32M")
        .option("innodb_log_file_size", "16M")
        .option("innodb_buffer_pool_dump_at_shutdown", "OFF")
        .option("innodb_buffer_pool_load_at_startup", "OFF")
    }
}

/// Option names compare equal whatever their spelling (`-` or `_`).
fn normalize_option(name: &str) -> String {
    name.trim_start_matches("--").replace('-', "_")
}

impl SandboxOptions {
    /// Sets the InnoDB page size. It is fixed when the datadir is created; a server started on an
    /// existing datadir ([`Sandbox::on_datadir`]) must be given the datadir's page size.
    pub fn page_size(mut self, page_size: PageSize) -> Self {
        self.page_size = page_size;
        self
    }

    /// Sets a `mariadbd` option (`name` with `-` or `_`, without leading `--`), replacing an
    /// earlier value of the same option.
    pub fn option(self, name: &str, value: impl Into<String>) -> Self {
        self.set(name, Some(value.into()))
    }

    /// Sets a `mariadbd` option that takes no value, e.g. `skip-log-bin`.
    pub fn flag(self, name: &str) -> Self {
        self.set(name, None)
    }

    /// Removes an option, e.g. one of the defaults.
    pub fn without(mut self, name: &str) -> Self {
        let key = normalize_option(name);
        self.server_options
            .retain(|(n, _)| normalize_option(n) != key);
        self
    }

    fn set(self, name: &str, value: Option<String>) -> Self {
        let mut this = self.without(name);
        this.server_options
            .push((name.trim_start_matches("--").to_string(), value));
        this
    }

    /// The value of an option set with [`option`](Self::option) (`""` for a flag).
    pub fn get(&self, name: &str) -> Option<&str> {
        let key = normalize_option(name);
        self.server_options
            .iter()
            .find(|(n, _)| normalize_option(n) == key)
            .map(|(_, v)| v.as_deref().unwrap_or(""))
    }

    /// How long [`Sandbox::start`] waits for the server to answer (default 60 s).
    pub fn start_timeout(mut self, timeout: Duration) -> Self {
        self.start_timeout = timeout;
        self
    }

    /// How long [`Sandbox::stop`] waits for the server to exit (default 60 s).
    pub fn stop_timeout(mut self, timeout: Duration) -> Self {
        self.stop_timeout = timeout;
        self
    }

    /// How long [`Sandbox::checkpoint`] waits (default 60 s).
    pub fn checkpoint_timeout(mut self, timeout: Duration) -> Self {
        self.checkpoint_timeout = timeout;
        self
    }

    /// The configured page size.
    pub fn configured_page_size(&self) -> PageSize {
        self.page_size
    }
}

/// Paths of the MariaDB programs a sandbox runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binaries {
    /// The server.
    pub mariadbd: PathBuf,
    /// The command-line client.
    pub mariadb: PathBuf,
    /// The admin client (`ping`, `shutdown`).
    pub mariadb_admin: PathBuf,
    /// The datadir initializer.
    pub mariadb_install_db: PathBuf,
    /// The backup tool.
    pub mariabackup: PathBuf,
}

impl Binaries {
    /// Finds the programs in `$XB_MARIADB_BINDIR` (if set), `$PATH`, `/usr/sbin` and `/usr/bin`.
    pub fn discover() -> Result<Binaries> {
        let mut dirs = Vec::new();
        if let Some(d) = std::env::var_os(BINDIR_ENV) {
            dirs.push(PathBuf::from(d));
        }
        if let Some(path) = std::env::var_os("PATH") {
            dirs.extend(std::env::split_paths(&path));
        }
        dirs.push("/usr/sbin".into());
        dirs.push("/usr/bin".into());
        Binaries::discover_in(&dirs)
    }

    /// Finds the programs in the given directories, in order.
    pub fn discover_in(dirs: &[PathBuf]) -> Result<Binaries> {
        let mut missing = Vec::new();
        let mut find = |name: &'static str| {
            let found = dirs.iter().map(|d| d.join(name)).find(|p| is_executable(p));
            if found.is_none() {
                missing.push(name);
            }
            found.unwrap_or_default()
        };
        let bins = Binaries {
            mariadbd: find("mariadbd"),
            mariadb: find("mariadb"),
            mariadb_admin: find("mariadb-admin"),
            mariadb_install_db: find("mariadb-install-db"),
            mariabackup: find("mariabackup"),
        };
        if missing.is_empty() {
            Ok(bins)
        } else {
            let searched = std::env::join_paths(dirs)
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_else(|_| format!("{dirs:?}"));
            Err(SandboxError::MissingBinaries { missing, searched })
        }
    }

    /// `$PATH` for child processes: the programs' directories first (`mariadb-install-db` looks
    /// for `mariadbd` itself).
    fn child_path(&self) -> OsString {
        let mut dirs: Vec<PathBuf> = Vec::new();
        for p in [&self.mariadbd, &self.mariadb_install_db, &self.mariadb] {
            if let Some(d) = p.parent()
                && !dirs.iter().any(|x| x == d)
            {
                dirs.push(d.to_path_buf());
            }
        }
        if let Some(path) = std::env::var_os("PATH") {
            dirs.extend(std::env::split_paths(&path));
        }
        std::env::join_paths(dirs).unwrap_or_default()
    }
}

fn is_executable(p: &Path) -> bool {
    fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Copies the tree `from` into `to` (created if missing): subdirectories recursively, files
/// with their permission bits. Tests work on such copies, so that a prepare or a server never
/// changes the backup they came from.
///
/// ```no_run
/// use xb_testkit::sandbox::copy_dir;
/// copy_dir("/backups/full".as_ref(), "/tmp/full-copy".as_ref()).unwrap();
/// ```
pub fn copy_dir(from: &Path, to: &Path) -> io::Result<()> {
    fs::create_dir_all(to)?;
    for e in fs::read_dir(from)? {
        let e = e?;
        let dst = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_dir(&e.path(), &dst)?;
        } else {
            fs::copy(e.path(), &dst)?;
        }
    }
    Ok(())
}

/// Every file below `root`, as paths relative to it (directories are walked, not listed).
pub fn all_files(root: &Path) -> io::Result<BTreeSet<PathBuf>> {
    let mut out = BTreeSet::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d)? {
            let p = e?.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(rel) = p.strip_prefix(root) {
                out.insert(rel.to_path_buf());
            }
        }
    }
    Ok(out)
}

/// (space id, page number) → page LSN of every page of every InnoDB tablespace in `datadir`
/// (read with `pread`, a partial last page allowed). Comparing two of these taken before and
/// after a workload gives the pages that really changed: the truth bitmaps and incrementals are
/// checked against.
///
/// ```no_run
/// use xb_testkit::sandbox::page_lsns;
/// let lsns = page_lsns("/var/lib/mysql".as_ref()).unwrap();
/// println!("{} pages", lsns.len());
/// ```
pub fn page_lsns(
    datadir: &Path,
) -> std::result::Result<BTreeMap<(u32, u64), u64>, innodb_page::Error> {
    use innodb_page::tablespace::{OpenOptions, ReadMode, Tablespace};
    let files = innodb_page::datadir::scan(datadir)?;
    let mut out = BTreeMap::new();
    for g in files.tablespace_groups() {
        let opts = OpenOptions::default()
            .mode(ReadMode::Pread)
            .allow_partial_tail(true);
        let ts = Tablespace::open_with(&g, opts)?;
        let id = ts.format().space_id;
        let chunks = ts.par_map_chunks(1 << 20, |c| {
            c.pages()
                .map(|(n, p)| (n, p.lsn().get()))
                .collect::<Vec<_>>()
        })?;
        for (n, l) in chunks.into_iter().flatten() {
            out.insert((id, n), l);
        }
    }
    Ok(out)
}

/// A new empty directory `/tmp/xbsXXXXXX`, removed when dropped: short enough for a socket path.
///
/// Use it for anything that will hold a sandbox (e.g. a restored datadir and the sandbox that
/// runs on it), or for backup targets.
pub fn short_tempdir() -> Result<TempDir> {
    tempfile::Builder::new()
        .prefix("xbs")
        .tempdir_in("/tmp")
        .map_err(|source| SandboxError::Io {
            action: "cannot create a temporary directory in",
            path: "/tmp".into(),
            source,
        })
}

/// What [`Sandbox::checkpoint`] observed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    /// `Innodb_lsn_current` when the checkpoint was requested.
    pub lsn_on_entry: u64,
    /// `Innodb_lsn_last_checkpoint` when it was done.
    pub checkpoint_lsn: u64,
}

/// A MariaDB server running on files in one directory. See the [module docs](self).
///
/// Dropping a sandbox stops its server: with SIGKILL when the sandbox owns a temporary directory
/// that holds the whole datadir ([`Sandbox::in_tempdir`]: everything is deleted anyway), else
/// with a clean shutdown, falling back to SIGKILL. So no test leaves a server behind, unless the
/// test process itself is killed.
#[derive(Debug)]
pub struct Sandbox {
    dir: PathBuf,
    datadir: PathBuf,
    bins: Binaries,
    opts: SandboxOptions,
    child: Option<Child>,
    /// Declared last: removed after the server is gone.
    tempdir: Option<TempDir>,
}

impl Sandbox {
    /// Creates (or reuses) a sandbox in `dir` and starts its server.
    ///
    /// `dir` is created if needed. `my.cnf` is (re)written from `opts`. If `dir/data` is empty or
    /// missing it is initialized with `mariadb-install-db`; otherwise the existing datadir is
    /// reused (so one can stop a sandbox, drop it and create it again on the same directory);
    /// `opts` must then match it (at least the page size), or the server refuses to start.
    pub fn create(dir: impl AsRef<Path>, opts: &SandboxOptions) -> Result<Sandbox> {
        let dir = prepare_dir(dir.as_ref())?;
        let datadir = dir.join("data");
        let mut sandbox = Sandbox::new(dir, datadir, opts, None)?;
        sandbox.write_cnf()?;
        sandbox.initialize_if_empty()?;
        sandbox.start()?;
        Ok(sandbox)
    }

    /// Like [`create`](Self::create) in a new [`short_tempdir`], deleted on drop.
    pub fn in_tempdir(opts: &SandboxOptions) -> Result<Sandbox> {
        let tmp = short_tempdir()?;
        let dir = prepare_dir(tmp.path())?;
        let datadir = dir.join("data");
        let mut sandbox = Sandbox::new(dir, datadir, opts, Some(tmp))?;
        sandbox.write_cnf()?;
        sandbox.initialize_if_empty()?;
        sandbox.start()?;
        Ok(sandbox)
    }

    /// Starts a server on an existing `datadir` (e.g. a prepared, copied-back backup), with
    /// `my.cnf`, socket and logs in `dir`.
    ///
    /// The datadir is not initialized: it must hold a complete InnoDB system (`ibdata1`,
    /// `ib_logfile0`, `mysql/`). `opts` must give the datadir's page size when it is not 16 KiB.
    ///
    /// ```no_run
    /// use xb_testkit::sandbox::{short_tempdir, PageSize, Sandbox, SandboxOptions};
    ///
    /// # fn main() -> Result<(), xb_testkit::sandbox::SandboxError> {
    /// # let restored = std::path::Path::new("/tmp/restored");
    /// let opts = SandboxOptions::default().page_size(PageSize::K4);
    /// let run_dir = short_tempdir()?;
    /// let server = Sandbox::on_datadir(run_dir.path(), restored, &opts)?;
    /// let sums = server.checksum_tables(&["d.t"])?;
    /// # let _ = sums;
    /// # Ok(())
    /// # }
    /// ```
    pub fn on_datadir(
        dir: impl AsRef<Path>,
        datadir: impl AsRef<Path>,
        opts: &SandboxOptions,
    ) -> Result<Sandbox> {
        let dir = prepare_dir(dir.as_ref())?;
        let datadir = canonical(datadir.as_ref())?;
        let mut sandbox = Sandbox::new(dir, datadir, opts, None)?;
        sandbox.write_cnf()?;
        sandbox.start()?;
        Ok(sandbox)
    }

    fn new(
        dir: PathBuf,
        datadir: PathBuf,
        opts: &SandboxOptions,
        tempdir: Option<TempDir>,
    ) -> Result<Sandbox> {
        let sock = dir.join("mysqld.sock");
        let len = sock.as_os_str().len();
        if len > MAX_SOCKET_PATH {
            return Err(SandboxError::SocketPathTooLong { path: sock, len });
        }
        for p in [&dir, &datadir] {
            if p.as_os_str().to_string_lossy().contains(['\n', '\r']) {
                return Err(SandboxError::UnsupportedPath { path: p.clone() });
            }
        }
        Ok(Sandbox {
            bins: Binaries::discover()?,
            dir,
            datadir,
            opts: opts.clone(),
            child: None,
            tempdir,
        })
    }

    /// The sandbox directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The datadir.
    pub fn datadir(&self) -> &Path {
        &self.datadir
    }

    /// The server's Unix socket.
    pub fn socket(&self) -> PathBuf {
        self.dir.join("mysqld.sock")
    }

    /// The `my.cnf` every program is given with `--defaults-file`.
    pub fn defaults_file(&self) -> PathBuf {
        self.dir.join("my.cnf")
    }

    /// The server's error log.
    pub fn error_log(&self) -> PathBuf {
        self.dir.join("mysqld.err")
    }

    /// The server's pid file.
    pub fn pid_file(&self) -> PathBuf {
        self.dir.join("mysqld.pid")
    }

    /// The options this sandbox was set up with.
    pub fn options(&self) -> &SandboxOptions {
        &self.opts
    }

    /// The MariaDB programs in use.
    pub fn binaries(&self) -> &Binaries {
        &self.bins
    }

    /// The last lines of the error log.
    pub fn log_tail(&self) -> LogTail {
        LogTail::read(&self.error_log())
    }

    /// The server's process id, if this sandbox started it and has not seen it exit.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the server process is alive.
    pub fn is_running(&mut self) -> bool {
        match &mut self.child {
            None => false,
            Some(child) => match child.try_wait() {
                Ok(None) => true,
                Ok(Some(_)) | Err(_) => {
                    self.child = None;
                    false
                }
            },
        }
    }

    fn write_cnf(&self) -> Result<()> {
        let mut cnf = String::from("# written by xb_testkit::sandbox\n[mariadbd]\n");
        let mut line = |k: &str, v: &Path| cnf.push_str(&format!("{k}={}\n", v.display()));
        line("datadir", &self.datadir);
        line("socket", &self.socket());
        line("pid-file", &self.pid_file());
        line("log-error", &self.error_log());
        // A private tmpdir: servers started at the same time must not share temporary-table
        // names in /tmp (a clash made mariadb-install-db fail).
        let tmpdir = self.dir().join("tmp");
        fs::create_dir_all(&tmpdir).map_err(|source| SandboxError::Io {
            action: "cannot create",
            path: tmpdir.clone(),
            source,
        })?;
        line("tmpdir", &tmpdir);
        cnf.push_str("skip-networking\n");
        if running_as_root() {
            // mariadbd refuses to run as root unless told to
            cnf.push_str("user=root\n");
        }
        cnf.push_str(&format!(
            "innodb_page_size={}\n",
            self.opts.page_size.as_option()
        ));
        for (name, value) in &self.opts.server_options {
            match value {
                Some(v) => cnf.push_str(&format!("{name}={v}\n")),
                None => cnf.push_str(&format!("{name}\n")),
            }
        }
        let sock = self.socket();
        for group in ["client", "mariabackup"] {
            cnf.push_str(&format!(
                "[{group}]\nsocket={}\nuser=root\n",
                sock.display()
            ));
        }
        let path = self.defaults_file();
        fs::write(&path, cnf).map_err(|source| SandboxError::Io {
            action: "cannot write",
            path,
            source,
        })
    }

    fn initialize_if_empty(&self) -> Result<()> {
        let empty = match fs::read_dir(&self.datadir) {
            Ok(mut entries) => entries.next().is_none(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => true,
            Err(source) => {
                return Err(SandboxError::Io {
                    action: "cannot read",
                    path: self.datadir.clone(),
                    source,
                })
            }
        };
        if !empty {
            return Ok(());
        }
        fs::create_dir_all(&self.datadir).map_err(|source| SandboxError::Io {
            action: "cannot create",
            path: self.datadir.clone(),
            source,
        })?;
        let log_path = self.dir.join("install-db.log");
        let log = fs::File::create(&log_path).map_err(|source| SandboxError::Io {
            action: "cannot create",
            path: log_path.clone(),
            source,
        })?;
        let log2 = log.try_clone().map_err(|source| SandboxError::Io {
            action: "cannot duplicate",
            path: log_path.clone(),
            source,
        })?;
        let mut cmd = Command::new(&self.bins.mariadb_install_db);
        cmd.arg(self.defaults_arg())
            .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
            .env("PATH", self.bins.child_path())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2);
        let status = cmd.status().map_err(|source| SandboxError::Spawn {
            program: self.bins.mariadb_install_db.clone(),
            source,
        })?;
        if !status.success() {
            return Err(SandboxError::CommandFailed {
                command: describe(&cmd),
                status,
                stderr: tail_of_file(&log_path, LOG_TAIL_LINES),
                log: self.log_tail(),
            });
        }
        Ok(())
    }

    fn defaults_arg(&self) -> OsString {
        let mut arg = OsString::from("--defaults-file=");
        arg.push(self.defaults_file());
        arg
    }

    /// A `pid` from the pid file, if that process is a live `mariadbd`.
    fn foreign_server_pid(&self) -> Option<u32> {
        let pid: u32 = fs::read_to_string(self.pid_file())
            .ok()?
            .trim()
            .parse()
            .ok()?;
        let comm = fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
        (comm.trim() == "mariadbd").then_some(pid)
    }

    /// Starts the server and waits until it answers `mariadb-admin ping`.
    ///
    /// Fails if this sandbox's server is already running, if another server's pid file is in the
    /// way, if `mariadbd` exits while starting, or after the start timeout (then the process is
    /// killed). Errors carry the last lines of the error log.
    pub fn start(&mut self) -> Result<()> {
        if self.is_running() {
            return Err(SandboxError::AlreadyRunning {
                pid: self.pid().unwrap_or(0),
                dir: self.dir.clone(),
            });
        }
        if let Some(pid) = self.foreign_server_pid() {
            return Err(SandboxError::AlreadyRunning {
                pid,
                dir: self.dir.clone(),
            });
        }
        for stale in [self.socket(), self.pid_file()] {
            match fs::remove_file(&stale) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(SandboxError::Io {
                        action: "cannot remove",
                        path: stale,
                        source,
                    })
                }
            }
        }
        let log_path = self.error_log();
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|source| SandboxError::Io {
                action: "cannot open",
                path: log_path.clone(),
                source,
            })?;
        let log2 = log.try_clone().map_err(|source| SandboxError::Io {
            action: "cannot duplicate",
            path: log_path.clone(),
            source,
        })?;
        let child = Command::new(&self.bins.mariadbd)
            .arg(self.defaults_arg())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(|source| SandboxError::Spawn {
                program: self.bins.mariadbd.clone(),
                source,
            })?;
        self.child = Some(child);

        let deadline = Instant::now() + self.opts.start_timeout;
        loop {
            if self.ping() {
                return Ok(());
            }
            if let Some(child) = &mut self.child {
                match child.try_wait() {
                    Ok(None) => {}
                    Ok(Some(status)) => {
                        self.child = None;
                        return Err(SandboxError::ServerExited {
                            status,
                            log: self.log_tail(),
                        });
                    }
                    Err(source) => {
                        return Err(SandboxError::Spawn {
                            program: self.bins.mariadbd.clone(),
                            source,
                        })
                    }
                }
            }
            if Instant::now() >= deadline {
                let log = self.log_tail();
                self.kill()?;
                return Err(SandboxError::Timeout {
                    what: format!("mariadbd to answer on {}", self.socket().display()),
                    after: self.opts.start_timeout,
                    log,
                });
            }
            sleep(POLL);
        }
    }

    /// Whether the server answers `mariadb-admin ping`.
    pub fn ping(&self) -> bool {
        Command::new(&self.bins.mariadb_admin)
            .arg(self.defaults_arg())
            .args(["--connect-timeout=2", "ping"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    }

    /// Shuts the server down cleanly (`mariadb-admin shutdown`) and waits until it has exited.
    ///
    /// Does nothing if it is not running. Fails if the shutdown request fails, if `mariadbd`
    /// exits with a failure status, or after the stop timeout (then the process is killed).
    pub fn stop(&mut self) -> Result<()> {
        if !self.is_running() {
            return Ok(());
        }
        let mut cmd = Command::new(&self.bins.mariadb_admin);
        cmd.arg(self.defaults_arg()).arg("shutdown");
        run(&mut cmd, &self.bins.mariadb_admin, None, &self.error_log())?;
        let deadline = Instant::now() + self.opts.stop_timeout;
        loop {
            let Some(child) = &mut self.child else {
                return Ok(());
            };
            match child.try_wait() {
                Ok(Some(status)) => {
                    self.child = None;
                    if status.success() {
                        return Ok(());
                    }
                    return Err(SandboxError::UncleanShutdown {
                        status,
                        log: self.log_tail(),
                    });
                }
                Ok(None) => {}
                Err(source) => {
                    return Err(SandboxError::Spawn {
                        program: self.bins.mariadbd.clone(),
                        source,
                    })
                }
            }
            if Instant::now() >= deadline {
                let log = self.log_tail();
                self.kill()?;
                return Err(SandboxError::Timeout {
                    what: "mariadbd to exit after shutdown".into(),
                    after: self.opts.stop_timeout,
                    log,
                });
            }
            sleep(POLL);
        }
    }

    /// Kills the server with SIGKILL (a crash, for recovery tests) and reaps it.
    ///
    /// Does nothing if it is not running. The next [`start`](Self::start) runs crash recovery.
    pub fn kill(&mut self) -> Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        // kill() fails only if the process was already reaped, which we would know
        let _ = child.kill();
        child.wait().map_err(|source| SandboxError::Spawn {
            program: self.bins.mariadbd.clone(),
            source,
        })?;
        Ok(())
    }

    /// A `mariadb` client command reading our `my.cnf`, in batch mode without column names
    /// (`-N -B`): add `-e STATEMENT` or feed statements on standard input.
    pub fn client_command(&self) -> Command {
        let mut cmd = Command::new(&self.bins.mariadb);
        cmd.arg(self.defaults_arg()).args(["-N", "-B"]);
        cmd
    }

    /// Runs SQL (one or more `;`-separated statements) as root and returns what the client
    /// printed: rows as lines of tab-separated values, without column names, with `\t`, `\n`,
    /// `\\` and NUL in values escaped (see [`query_rows`](Self::query_rows)).
    pub fn sql(&self, statements: &str) -> Result<String> {
        let mut cmd = self.client_command();
        cmd.arg("-e").arg(statements);
        let out = run(&mut cmd, &self.bins.mariadb, None, &self.error_log())?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Runs a batch of SQL given on the client's standard input: for loads too big for a command
    /// line. Returns what [`sql`](Self::sql) would.
    pub fn sql_batch(&self, statements: impl AsRef<[u8]>) -> Result<String> {
        let mut cmd = self.client_command();
        let out = run(
            &mut cmd,
            &self.bins.mariadb,
            Some(Input::Bytes(statements.as_ref())),
            &self.error_log(),
        )?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Runs the SQL in a file (fed on the client's standard input).
    pub fn sql_file(&self, path: impl AsRef<Path>) -> Result<String> {
        let path = path.as_ref();
        let file = fs::File::open(path).map_err(|source| SandboxError::Io {
            action: "cannot open",
            path: path.to_path_buf(),
            source,
        })?;
        let mut cmd = self.client_command();
        let out = run(
            &mut cmd,
            &self.bins.mariadb,
            Some(Input::File(file)),
            &self.error_log(),
        )?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Runs a query and returns its rows, each a vector of column values with the client's
    /// escapes undone. SQL `NULL` comes back as the string `NULL`.
    pub fn query_rows(&self, query: &str) -> Result<Vec<Vec<String>>> {
        let out = self.sql(query)?;
        Ok(parse_batch_output(&out))
    }

    /// Runs a query that must return exactly one row of one column, and returns that value.
    pub fn query_value(&self, query: &str) -> Result<String> {
        let out = self.sql(query)?;
        let mut rows = parse_batch_output(&out);
        if rows.len() == 1 && rows[0].len() == 1 {
            Ok(rows.remove(0).remove(0))
        } else {
            Err(SandboxError::UnexpectedResult {
                query: query.to_string(),
                expected: "one row of one column",
                output: out,
            })
        }
    }

    /// Like [`query_value`](Self::query_value), parsed as an unsigned integer.
    pub fn query_u64(&self, query: &str) -> Result<u64> {
        let v = self.query_value(query)?;
        v.trim()
            .parse()
            .map_err(|_| SandboxError::UnexpectedResult {
                query: query.to_string(),
                expected: "an unsigned integer",
                output: v,
            })
    }

    /// A global status variable (e.g. `Innodb_lsn_current`, any case), as an unsigned integer.
    pub fn status_u64(&self, name: &str) -> Result<u64> {
        self.query_u64(&format!(
            "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = {}",
            sql_string(&name.to_ascii_uppercase())
        ))
    }

    /// The current redo log LSN (`Innodb_lsn_current`).
    pub fn lsn_current(&self) -> Result<u64> {
        self.status_u64("Innodb_lsn_current")
    }

    /// The LSN of the latest checkpoint (`Innodb_lsn_last_checkpoint`).
    pub fn lsn_last_checkpoint(&self) -> Result<u64> {
        self.status_u64("Innodb_lsn_last_checkpoint")
    }

    /// Waits (up to 30 s) until purge has emptied the undo history, then [`checkpoint`]s: the
    /// server is quiescent, so a backup taken now sees no background page changes during it.
    ///
    /// [`checkpoint`]: Self::checkpoint
    pub fn quiesce(&self) -> Result<Checkpoint> {
        for _ in 0..300 {
            let history = self
                .query_u64(
                    "SELECT `count` FROM information_schema.INNODB_METRICS \
                     WHERE name = 'trx_rseg_history_len'",
                )
                .unwrap_or(0);
            if history == 0 {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.checkpoint()
    }

    /// Flushes every dirty page and waits for a checkpoint, so that the data files hold every
    /// change made before the call (until then InnoDB may keep recent changes only in the buffer
    /// pool and the redo log).
    ///
    /// Sets `innodb_max_dirty_pages_pct=0` and a high `innodb_io_capacity` meanwhile, and restores
    /// them afterwards, also on failure. Done when no page is dirty and the checkpoint LSN covers
    /// the LSN seen on entry, or when no page is dirty and the checkpoint has not moved for 2 s
    /// (then only file-name records follow it). Fails after the checkpoint timeout.
    pub fn checkpoint(&self) -> Result<Checkpoint> {
        let lsn_on_entry = self.lsn_current()?;
        let restore = self.query_value(
            "SELECT CONCAT('SET GLOBAL innodb_max_dirty_pages_pct=', @@innodb_max_dirty_pages_pct, \
             ', GLOBAL innodb_max_dirty_pages_pct_lwm=', @@innodb_max_dirty_pages_pct_lwm, \
             ', GLOBAL innodb_io_capacity=', @@innodb_io_capacity, \
             ', GLOBAL innodb_io_capacity_max=', @@innodb_io_capacity_max)",
        )?;
        let result = self
            .sql(
                "SET GLOBAL innodb_io_capacity_max=100000, GLOBAL innodb_io_capacity=100000, \
                 GLOBAL innodb_max_dirty_pages_pct_lwm=0, GLOBAL innodb_max_dirty_pages_pct=0",
            )
            .and_then(|_| self.wait_for_checkpoint(lsn_on_entry));
        let restored = self.sql(&restore);
        let checkpoint = result?;
        restored?;
        Ok(checkpoint)
    }

    fn wait_for_checkpoint(&self, lsn_on_entry: u64) -> Result<Checkpoint> {
        const STABLE_FOR: Duration = Duration::from_secs(2);
        let start = Instant::now();
        let mut last: Option<(u64, Instant)> = None;
        loop {
            let row = self.query_rows(
                "SELECT VARIABLE_NAME, VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS \
                 WHERE VARIABLE_NAME IN \
                 ('INNODB_BUFFER_POOL_PAGES_DIRTY', 'INNODB_LSN_LAST_CHECKPOINT')",
            )?;
            let get = |name: &str| -> Result<u64> {
                row.iter()
                    .find(|r| r.len() == 2 && r[0].eq_ignore_ascii_case(name))
                    .and_then(|r| r[1].parse().ok())
                    .ok_or_else(|| SandboxError::UnexpectedResult {
                        query: "GLOBAL_STATUS dirty pages and checkpoint LSN".into(),
                        expected: "both values",
                        output: format!("{row:?}"),
                    })
            };
            let dirty = get("INNODB_BUFFER_POOL_PAGES_DIRTY")?;
            let ckpt = get("INNODB_LSN_LAST_CHECKPOINT")?;
            let now = Instant::now();
            if dirty == 0 {
                // a checkpoint writes a 16-byte FILE_CHECKPOINT record after its LSN
                if ckpt + 16 >= lsn_on_entry {
                    return Ok(Checkpoint {
                        lsn_on_entry,
                        checkpoint_lsn: ckpt,
                    });
                }
                match last {
                    Some((l, since)) if l == ckpt => {
                        if now.duration_since(since) >= STABLE_FOR {
                            return Ok(Checkpoint {
                                lsn_on_entry,
                                checkpoint_lsn: ckpt,
                            });
                        }
                    }
                    _ => last = Some((ckpt, now)),
                }
            } else {
                last = None;
            }
            if now.duration_since(start) >= self.opts.checkpoint_timeout {
                return Err(SandboxError::Timeout {
                    what: format!(
                        "a checkpoint without dirty pages (LSN on entry {lsn_on_entry}, \
                         {dirty} dirty pages, checkpoint at {ckpt})"
                    ),
                    after: self.opts.checkpoint_timeout,
                    log: self.log_tail(),
                });
            }
            sleep(POLL);
        }
    }

    /// `CHECKSUM TABLE ... EXTENDED` of the given tables (`db.table`; unqualified names need no
    /// default database, so qualify them), keyed by the `db.table` names the server reports.
    ///
    /// Fails if a table does not exist (the server reports a `NULL` checksum for it).
    pub fn checksum_tables(&self, tables: &[&str]) -> Result<BTreeMap<String, String>> {
        if tables.is_empty() {
            return Ok(BTreeMap::new());
        }
        let list: Vec<String> = tables
            .iter()
            .map(|t| match t.split_once('.') {
                Some((db, table)) => format!("{}.{}", sql_ident(db), sql_ident(table)),
                None => sql_ident(t),
            })
            .collect();
        let query = format!("CHECKSUM TABLE {} EXTENDED", list.join(", "));
        let rows = self.query_rows(&query)?;
        let mut sums = BTreeMap::new();
        for row in &rows {
            match row.as_slice() {
                [name, sum] if sum != "NULL" => {
                    sums.insert(name.clone(), sum.clone());
                }
                _ => {
                    return Err(SandboxError::UnexpectedResult {
                        query,
                        expected: "a checksum for every table",
                        output: format!("{rows:?}"),
                    })
                }
            }
        }
        if sums.len() != tables.len() {
            return Err(SandboxError::UnexpectedResult {
                query,
                expected: "one checksum per table",
                output: format!("{rows:?}"),
            });
        }
        Ok(sums)
    }

    /// A `mariabackup` command reading our `my.cnf` (`--defaults-file` must come first): add
    /// arguments, run it yourself, e.g. to check that it fails.
    pub fn mariabackup_command(&self) -> Command {
        let mut cmd = Command::new(&self.bins.mariabackup);
        cmd.arg(self.defaults_arg());
        cmd
    }

    /// Runs `mariabackup --defaults-file=<our my.cnf> ARGS...` and returns its output; fails when
    /// it exits with a failure status (the error holds the end of its log, which it writes on
    /// standard error).
    ///
    /// ```no_run
    /// # use xb_testkit::sandbox::{short_tempdir, Sandbox, SandboxOptions};
    /// # fn main() -> Result<(), xb_testkit::sandbox::SandboxError> {
    /// let server = Sandbox::in_tempdir(&SandboxOptions::default())?;
    /// let target = short_tempdir()?;
    /// let mut arg = std::ffi::OsString::from("--target-dir=");
    /// arg.push(target.path().join("full"));
    /// server.mariabackup(["--backup".into(), arg])?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn mariabackup<I, S>(&self, args: I) -> Result<Output>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = self.mariabackup_command();
        cmd.args(args);
        run(&mut cmd, &self.bins.mariabackup, None, &self.error_log())
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if !self.is_running() {
            return;
        }
        // only in_tempdir() gives a sandbox a temporary directory, and its datadir is inside
        let everything_deleted_anyway = self.tempdir.is_some();
        if everything_deleted_anyway || self.stop().is_err() {
            let _ = self.kill();
        }
    }
}

fn running_as_root() -> bool {
    fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

fn prepare_dir(dir: &Path) -> Result<PathBuf> {
    fs::create_dir_all(dir).map_err(|source| SandboxError::Io {
        action: "cannot create",
        path: dir.to_path_buf(),
        source,
    })?;
    canonical(dir)
}

fn canonical(p: &Path) -> Result<PathBuf> {
    fs::canonicalize(p).map_err(|source| SandboxError::Io {
        action: "cannot resolve",
        path: p.to_path_buf(),
        source,
    })
}

enum Input<'a> {
    Bytes(&'a [u8]),
    File(fs::File),
}

/// Runs a command to completion, feeding `input`; an error for a failure status.
fn run(cmd: &mut Command, program: &Path, input: Option<Input<'_>>, log: &Path) -> Result<Output> {
    let spawn_err = |source| SandboxError::Spawn {
        program: program.to_path_buf(),
        source,
    };
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let output = match input {
        None => cmd.stdin(Stdio::null()).output().map_err(spawn_err)?,
        Some(Input::File(f)) => cmd.stdin(f).output().map_err(spawn_err)?,
        Some(Input::Bytes(bytes)) => {
            let mut child = cmd.stdin(Stdio::piped()).spawn().map_err(spawn_err)?;
            let mut stdin = child.stdin.take().expect("stdin is piped");
            // write from another thread: the child may fill its stdout pipe before reading all
            let bytes = bytes.to_vec();
            let writer = std::thread::spawn(move || stdin.write_all(&bytes));
            let output = child.wait_with_output().map_err(spawn_err)?;
            // a write error (broken pipe) shows up as the client's own failure
            let _ = writer.join();
            output
        }
    };
    if output.status.success() {
        Ok(output)
    } else {
        Err(SandboxError::CommandFailed {
            command: describe(cmd),
            status: output.status,
            stderr: error_and_last_lines(&String::from_utf8_lossy(&output.stderr), 40),
            log: LogTail::read(log),
        })
    }
}

/// A command line for messages (long arguments shortened).
fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        let arg = arg.to_string_lossy();
        s.push(' ');
        if arg.chars().count() > 200 {
            s.extend(arg.chars().take(200));
            s.push_str("...");
        } else {
            s.push_str(&arg);
        }
    }
    s
}

/// Splits `mariadb -N -B` output into rows and values, undoing its escapes.
fn parse_batch_output(out: &str) -> Vec<Vec<String>> {
    out.split_terminator('\n')
        .map(|line| line.split('\t').map(unescape_batch).collect())
        .collect()
}

fn unescape_batch(value: &str) -> String {
    let mut s = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            s.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => s.push('\t'),
            Some('n') => s.push('\n'),
            Some('0') => s.push('\0'),
            Some('\\') => s.push('\\'),
            Some(other) => {
                s.push('\\');
                s.push(other);
            }
            None => s.push('\\'),
        }
    }
    s
}

/// A quoted SQL string literal.
fn sql_string(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "''"))
}

/// A quoted SQL identifier.
fn sql_ident(s: &str) -> String {
    format!("`{}`", s.replace('`', "``"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_output_is_split_and_unescaped() {
        let rows = parse_batch_output("a\\tb\tc\\\\d\n\tNULL\nx\\ny\\0\n");
        assert_eq!(
            rows,
            vec![
                vec!["a\tb".to_string(), "c\\d".to_string()],
                vec![String::new(), "NULL".to_string()],
                vec!["x\ny\0".to_string()],
            ]
        );
        assert!(parse_batch_output("").is_empty());
    }

    #[test]
    fn options_replace_by_normalized_name() {
        let o = SandboxOptions::default()
            .option("innodb-buffer-pool-size", "64M")
            .flag("--skip-log-bin")
            .without("innodb_log_file_size");
        assert_eq!(o.get("innodb_buffer_pool_size"), Some("64M"));
        assert_eq!(o.get("skip_log_bin"), Some(""));
        assert_eq!(o.get("innodb_log_file_size"), None);
        let n = o
            .server_options
            .iter()
            .filter(|(k, _)| normalize_option(k) == "innodb_buffer_pool_size")
            .count();
        assert_eq!(n, 1);
    }

    #[test]
    fn page_sizes_round_trip() {
        for p in [
            PageSize::K4,
            PageSize::K8,
            PageSize::K16,
            PageSize::K32,
            PageSize::K64,
        ] {
            assert_eq!(PageSize::from_bytes(p.bytes()), Some(p));
            assert_eq!(p.as_option(), format!("{}k", p.bytes() / 1024));
        }
        assert_eq!(PageSize::from_bytes(2048), None);
    }

    #[test]
    fn quoting() {
        assert_eq!(sql_ident("a`b"), "`a``b`");
        assert_eq!(sql_string("it's \\"), "'it''s \\\\'");
    }
}
