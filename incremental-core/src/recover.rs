//! Finishing a backup's recovery with the real server (`xb prepare --apply-redo`).
//!
//! A prepared xb backup still holds its redo log: a server started on it runs crash recovery
//! first. [`apply_redo`] does that once, on the backup itself: it starts the installed
//! `mariadbd` on the backup directory in a private temporary setup (its own option file,
//! socket and error log in a new directory under `/tmp`; no network; no grant tables; no
//! binary log, replication or events), waits until crash recovery and the rollback of the
//! transactions that were open at the end of the backup are done, and shuts the server down
//! cleanly. The backup then needs no recovery at its first start; its `xtrabackup_checkpoints`
//! says `full-prepared`, so no incremental can be merged onto it any more (a server has
//! changed its pages).
//!
//! Only the backup's own files are touched: the server's datadir is the backup directory, and
//! the settings come from its `backup-my.cnf` (page size, system tablespace, undo
//! tablespaces, log size).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mysql::prelude::Queryable;

use crate::backup::source::locked_by;
use crate::checkpoints::{BackupType, Checkpoints};
use crate::restore::{self, ServerSettings};

/// How to run the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoverOptions {
    /// The server binary (`None`: `mariadbd` on `PATH`, `/usr/sbin`, `/usr/local/sbin`,
    /// `/usr/local/mysql/bin`).
    pub mariadbd: Option<PathBuf>,
    /// How long recovery, rollback and shutdown may take together.
    pub timeout: Duration,
    /// `innodb_buffer_pool_size` of the private server.
    pub buffer_pool: String,
}

impl Default for RecoverOptions {
    fn default() -> Self {
        RecoverOptions {
            mariadbd: None,
            timeout: Duration::from_secs(3600),
            buffer_pool: "256M".into(),
        }
    }
}

/// What [`apply_redo`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct RecoverReport {
    /// The server run.
    pub mariadbd: PathBuf,
    /// Seconds from start to the end of the shutdown.
    pub seconds: f64,
    /// The server's own account of the recovery (its `InnoDB:` notes about the log).
    pub notes: Vec<String>,
    /// False when the backup was already `full-prepared` (nothing was run).
    pub ran: bool,
}

/// Why [`apply_redo`] failed. The backup directory may then hold a partly recovered datadir:
/// run the command again (recovery is idempotent), or restore from the backup's source files.
#[derive(Debug, thiserror::Error)]
pub enum RecoverError {
    /// A file operation failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The backup cannot be recovered this way.
    #[error("{}: {why}", path.display())]
    Refused {
        /// The backup.
        path: PathBuf,
        /// Why, and what to do.
        why: String,
    },
    /// The server failed.
    #[error("mariadbd on {}: {why}; its error log ends with:\n{log}", path.display())]
    Server {
        /// The backup.
        path: PathBuf,
        /// What happened.
        why: String,
        /// The last lines of its error log.
        log: String,
    },
    /// The backup's metadata could not be read.
    #[error(transparent)]
    Restore(#[from] restore::RestoreError),
    /// The backup's metadata could not be written.
    #[error(transparent)]
    Core(#[from] crate::Error),
}

/// Finds `mariadbd`.
pub fn find_mariadbd() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.extend(
        [
            "/usr/sbin",
            "/usr/local/sbin",
            "/usr/local/mysql/bin",
            "/usr/bin",
        ]
        .iter()
        .map(PathBuf::from),
    );
    dirs.into_iter()
        .map(|d| d.join("mariadbd"))
        .find(|p| p.is_file())
}

fn tail(path: &Path, n: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// A private directory for the server's socket and logs, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Result<Scratch, RecoverError> {
        use std::os::unix::fs::DirBuilderExt;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let p = PathBuf::from(format!("/tmp/xb-redo-{}-{nanos:x}", std::process::id()));
        fs::DirBuilder::new()
            .mode(0o700)
            .create(&p)
            .map_err(|source| RecoverError::Io {
                action: "cannot create",
                path: p.clone(),
                source,
            })?;
        Ok(Scratch(p))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    #[allow(unsafe_code)]
    let uid = unsafe { libc::geteuid() };
    uid == 0
}

/// Runs the server's crash recovery on the backup `dir` and shuts it down cleanly (see the
/// module docs).
///
/// ```no_run
/// let r = incremental_core::recover::apply_redo("/backups/full".as_ref(), &Default::default())?;
/// println!("recovered in {:.1} s", r.seconds);
/// # Ok::<(), incremental_core::recover::RecoverError>(())
/// ```
pub fn apply_redo(dir: &Path, opts: &RecoverOptions) -> Result<RecoverReport, RecoverError> {
    let t0 = Instant::now();
    let dir = fs::canonicalize(dir).map_err(|source| RecoverError::Io {
        action: "cannot resolve",
        path: dir.to_path_buf(),
        source,
    })?;
    let cps = restore::check_restorable(&dir)?;
    let mariadbd = opts
        .mariadbd
        .clone()
        .or_else(find_mariadbd)
        .ok_or_else(|| RecoverError::Refused {
            path: dir.clone(),
            why: "mariadbd was not found (PATH, /usr/sbin): install the MariaDB server or give \
                  its path with --mariadbd"
                .into(),
        })?;
    if cps.backup_type == BackupType::FullPrepared {
        return Ok(RecoverReport {
            mariadbd,
            seconds: 0.0,
            notes: vec!["already full-prepared: nothing to do".into()],
            ran: false,
        });
    }
    for f in ["ibdata1", "ib_logfile0"] {
        if let Ok(Some(pid)) = locked_by(&dir.join(f)) {
            return Err(RecoverError::Refused {
                path: dir.clone(),
                why: format!("a server (process {pid}) is running on this directory"),
            });
        }
    }
    if !dir.join("ib_logfile0").is_file() {
        return Err(RecoverError::Refused {
            path: dir.clone(),
            why: "no redo log (ib_logfile0): not an xb or mariabackup backup".into(),
        });
    }
    let settings = ServerSettings::read_dir(&dir)?;
    let scratch = Scratch::new()?;
    let s = &scratch.0;
    let (sock, err, cnf) = (s.join("sock"), s.join("mariadbd.err"), s.join("my.cnf"));
    let mut text = String::from("[mariadbd]\n");
    let mut line = |k: &str, v: &str| text.push_str(&format!("{k}={v}\n"));
    line("datadir", &dir.to_string_lossy());
    line("socket", &sock.to_string_lossy());
    line("pid-file", &s.join("pid").to_string_lossy());
    line("log-error", &err.to_string_lossy());
    line("tmpdir", &s.to_string_lossy());
    line("innodb_buffer_pool_size", &opts.buffer_pool);
    line("innodb_fast_shutdown", "1");
    line("innodb_buffer_pool_load_at_startup", "OFF");
    line("innodb_buffer_pool_dump_at_shutdown", "OFF");
    line("event_scheduler", "OFF");
    if let Some((_, v)) = settings
        .all
        .iter()
        .find(|(k, _)| k == "innodb_log_file_size")
    {
        line("innodb_log_file_size", v);
    }
    for flag in [
        "skip-networking",
        "skip-grant-tables",
        "skip-slave-start",
        "skip-log-bin",
    ] {
        text.push_str(flag);
        text.push('\n');
    }
    if running_as_root() {
        text.push_str("user=root\n");
    }
    for o in settings.startup_options() {
        text.push_str(o.trim_start_matches("--"));
        text.push('\n');
    }
    fs::write(&cnf, text).map_err(|source| RecoverError::Io {
        action: "cannot write",
        path: cnf.clone(),
        source,
    })?;
    let server_err = |why: String| RecoverError::Server {
        path: dir.clone(),
        why,
        log: tail(&err, 20),
    };
    let log = fs::File::create(&err).map_err(|source| RecoverError::Io {
        action: "cannot create",
        path: err.clone(),
        source,
    })?;
    let log2 = log.try_clone().map_err(|source| RecoverError::Io {
        action: "cannot open",
        path: err.clone(),
        source,
    })?;
    let mut arg = std::ffi::OsString::from("--defaults-file=");
    arg.push(&cnf);
    let child = Command::new(&mariadbd)
        .arg(arg)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2)
        .spawn()
        .map_err(|source| RecoverError::Io {
            action: "cannot run",
            path: mariadbd.clone(),
            source,
        })?;
    let mut child = Running(child);
    let deadline = t0 + opts.timeout;
    let conn_opts = mysql::OptsBuilder::new()
        .socket(Some(sock.to_string_lossy().into_owned()))
        .user(Some("root"))
        .prefer_socket(false);
    let mut conn = loop {
        if let Ok(Some(st)) = child.0.try_wait() {
            return Err(server_err(format!("exited during recovery ({st})")));
        }
        if sock.exists()
            && let Ok(c) = mysql::Conn::new(conn_opts.clone())
        {
            break c;
        }
        if Instant::now() > deadline {
            return Err(server_err("did not finish recovery in time".into()));
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    // the transactions open at the end of the backup are rolled back in the background
    loop {
        let open: Option<u64> = conn
            .query_first("SELECT COUNT(*) FROM information_schema.INNODB_TRX")
            .map_err(|e| server_err(format!("cannot query it: {e}")))?;
        if open.unwrap_or(0) == 0 {
            break;
        }
        if Instant::now() > deadline {
            return Err(server_err("did not finish rolling back in time".into()));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    conn.query_drop("SHUTDOWN")
        .map_err(|e| server_err(format!("SHUTDOWN failed: {e}")))?;
    drop(conn);
    let status = loop {
        match child.0.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) => {}
            Err(e) => return Err(server_err(format!("cannot wait for it: {e}"))),
        }
        if Instant::now() > deadline {
            return Err(server_err("did not shut down in time".into()));
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    if !status.success() {
        return Err(server_err(format!("shut down with {status}")));
    }
    let text = fs::read_to_string(&err).unwrap_or_default();
    if !text.contains("Shutdown complete") {
        return Err(server_err("no clean shutdown".into()));
    }
    let notes = text
        .lines()
        .filter(|l| {
            l.contains("InnoDB: Starting crash recovery")
                || l.contains("InnoDB: To recover")
                || l.contains("InnoDB: End of log")
                || l.contains("InnoDB: Resizing redo log")
                || l.contains("rolled back")
                || l.contains("Rolled back")
        })
        .map(|l| l.split("[Note] ").last().unwrap_or(l).to_string())
        .collect();
    let mut done = cps.clone();
    done.backup_type = BackupType::FullPrepared;
    let path = dir.join(crate::checkpoints::FILE_NAMES[0]);
    let tmp = dir.join("xtrabackup_checkpoints.xbtmp");
    done.write_file(&tmp)?;
    fs::rename(&tmp, &path).map_err(|source| RecoverError::Io {
        action: "cannot write",
        path: path.clone(),
        source,
    })?;
    Ok(RecoverReport {
        mariadbd,
        seconds: t0.elapsed().as_secs_f64(),
        notes,
        ran: true,
    })
}

/// Whether `dir` looks like it was recovered by [`apply_redo`] (or prepared by mariabackup).
pub fn is_prepared(dir: &Path) -> bool {
    Checkpoints::read_dir(dir)
        .map(|c| c.backup_type == BackupType::FullPrepared)
        .unwrap_or(false)
}
