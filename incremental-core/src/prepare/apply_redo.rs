//! Finishing a backup's recovery with the real server (`xb prepare --apply-redo`; feature
//! `hot`).
//!
//! A prepared xb backup still holds its redo log: a server started on it runs crash recovery
//! first. [`apply_redo()`] does that once, on the backup itself: it starts the installed
//! `mariadbd` on the backup directory in a private temporary setup (its own option file,
//! socket and error log in a new directory under `/tmp`; no network; no grant tables; no
//! binary log, replication or events), waits until crash recovery is done, and shuts the
//! server down cleanly.
//!
//! By default it does what `mariabackup --prepare` does: the redo is applied and nothing else
//! (the server runs with `innodb_force_recovery=3`: no rollback, no purge, no background
//! work, no persistent statistics written), so every page is a version the source server had;
//! the backup's `xtrabackup_checkpoints` says `log-applied`, and more incrementals can be
//! merged onto it, each followed by this step again (a staged prepare, as with mariabackup).
//! The transactions that were open at the end of the backup are rolled back by the restored
//! server at its first start, in the background, as after `mariabackup --prepare`. The same
//! setting also has InnoDB go on past what a normal recovery stops at (a corrupt page, a file
//! shorter than its page 0 says), with an error in its log: any error the server logged fails
//! the step ([`ApplyRedoError::Server`]).
//!
//! With [`ApplyRedoOptions::set_rollback`] the server also rolls them back before its
//! shutdown: the backup then needs no recovery of any kind at its first start, but the server
//! has changed its pages, so it is marked `full-prepared` and no incremental can be merged
//! onto it any more.
//!
//! Only the backup's own files are touched: the server's datadir is the backup directory, and
//! the settings come from its `backup-my.cnf` (page size, system tablespace, undo
//! tablespaces).
//!
//! The private server runs with the smallest redo log (`innodb_log_file_size` 4 MiB): it
//! recovers from the backup's log as it is, then replaces it by a 4 MiB one before it rolls
//! back, and leaves that, empty, at its clean shutdown. A server started on the restored
//! datadir resizes it to its own `innodb_log_file_size` at first start, as it does after a
//! `mariabackup --prepare` (which leaves a 12 KiB log); a copy-back copies 4 MiB instead of a
//! log of the source's `innodb_log_file_size`, which the server would create otherwise.
//! The rollback then runs with the small log too: measured on a shared 2-core machine, the
//! whole step with a 400,000-row rollback took 15–24 s, against 18 s with the source's
//! 256 MiB log shrunk online before the shutdown; the online shrink (`SET GLOBAL
//! innodb_log_file_size`) costs 1–2 s even with nothing to roll back, a small log at startup
//! nothing.
//!
//! **Interruptions.** The step is journalled (`xb_prepare.apply-redo.journal` in the backup,
//! written before the server starts, removed after the backup is marked prepared, which
//! happens only after a clean shutdown and an fsync of every file): while the journal exists,
//! the backup is neither mergeable nor restorable, and running the step again finishes it (the
//! server's crash recovery is idempotent) after removing the temporary directory the
//! interrupted run left. The private server dies with the process that started it: it is
//! started with a parent-death signal (`SIGKILL`), so a `kill -9` of the caller takes it along
//! instead of leaving a server without grant tables on the backup. The signal follows the
//! thread that started the server; [`apply_redo()`] keeps that thread (the caller's) blocked
//! until the server has exited, so only the death of the process can fire it.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mysql::prelude::Queryable;

use innodb_page::redo::file::{log_file_path, LOG_FILE_0};

use super::redo_journal;
use crate::backup::server::plain_text;
use crate::copy_back::{self, CopyBackError};
use crate::format::backup_my_cnf::ServerSettings;
use crate::format::checkpoints::{self, BackupType, Checkpoints};
use crate::source::DirSource;
use crate::Remedy;

/// How to run the server: `ApplyRedoOptions::default()`, then setters.
///
/// ```
/// use std::time::Duration;
/// use incremental_core::prepare::apply_redo::ApplyRedoOptions;
/// let mut o = ApplyRedoOptions::default();
/// o.set_mariadbd(Some("/usr/sbin/mariadbd".into()))
///     .set_timeout(Duration::from_secs(600));
/// assert_eq!(o.timeout(), Duration::from_secs(600));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApplyRedoOptions {
    mariadbd: Option<PathBuf>,
    timeout: Duration,
    buffer_pool: String,
    rollback: bool,
}

impl Default for ApplyRedoOptions {
    fn default() -> Self {
        ApplyRedoOptions {
            mariadbd: None,
            timeout: Duration::from_secs(3600),
            buffer_pool: "256M".into(),
            rollback: false,
        }
    }
}

impl ApplyRedoOptions {
    /// The server binary (`None`, the default: [`find_mariadbd`]).
    pub fn set_mariadbd(&mut self, path: Option<PathBuf>) -> &mut Self {
        self.mariadbd = path;
        self
    }

    /// Also roll back the transactions open at the end of the backup (default `false`: the
    /// redo only, the backup `log-applied` and still mergeable; `true`: `full-prepared`, final;
    /// see the module docs).
    pub fn set_rollback(&mut self, rollback: bool) -> &mut Self {
        self.rollback = rollback;
        self
    }

    /// Whether the open transactions are rolled back ([`ApplyRedoOptions::set_rollback`]).
    pub fn rollback(&self) -> bool {
        self.rollback
    }

    /// How long recovery, rollback and shutdown may take together (default one hour).
    pub fn set_timeout(&mut self, limit: Duration) -> &mut Self {
        self.timeout = limit;
        self
    }

    /// `innodb_buffer_pool_size` of the private server (default `256M`).
    pub fn set_buffer_pool(&mut self, size: impl Into<String>) -> &mut Self {
        self.buffer_pool = size.into();
        self
    }

    /// The server binary asked for ([`ApplyRedoOptions::set_mariadbd`]).
    pub fn mariadbd(&self) -> Option<&std::path::Path> {
        self.mariadbd.as_deref()
    }

    /// The time limit ([`ApplyRedoOptions::set_timeout`]).
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// `innodb_buffer_pool_size` of the private server ([`ApplyRedoOptions::set_buffer_pool`]).
    pub fn buffer_pool(&self) -> &str {
        &self.buffer_pool
    }
}

/// What [`apply_redo()`] did.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ApplyRedoReport {
    /// The server run.
    pub mariadbd: PathBuf,
    /// Seconds from start to the end of the shutdown.
    pub seconds: f64,
    /// The server's own account of the recovery (its `InnoDB:` notes about the log).
    pub notes: Vec<String>,
    /// False when the redo was applied already (`log-applied`, or `full-prepared`; nothing was
    /// run).
    pub ran: bool,
    /// An interrupted run of the step was found and finished.
    pub resumed: bool,
    /// The binary log position InnoDB recovered (the newest recorded in the rollback segment
    /// headers, or the legacy one of the system header): the server's own `Last binlog
    /// file` note of its crash recovery. `None` when the source had no binary log, when the
    /// server ran no crash recovery (the log held nothing past its checkpoint: the server
    /// then does not say), or when nothing was run. When known, it is also written to
    /// [`BINLOG_POS_FILE`] in the backup, as mariabackup's prepare does.
    pub binlog: Option<BinlogPosition>,
    /// Transactions the server found prepared by the two-phase commit of the source's binary
    /// log (internal XIDs: the backup ended between their prepare and their commit), left
    /// prepared as mariabackup's prepare leaves them: the restored server resolves them at its
    /// first start (with its binary log, or `tc-heuristic-recover`). The private server
    /// refuses to start with them (it has no binary log to resolve them with) but shuts InnoDB
    /// down cleanly when it stops there, after the recovery and before anything else; that
    /// clean shutdown is checked (the redo log then holds nothing past its checkpoint).
    pub left_prepared: u64,
}

/// The file, in the backup, of the binary log position InnoDB recovered: `NAME<TAB>OFFSET`
/// and a newline, as mariabackup writes it (the name as InnoDB recorded it, often with a
/// leading `./`).
pub const BINLOG_POS_FILE: &str = "xtrabackup_binlog_pos_innodb";

/// A binary log position recorded by InnoDB with the commits it made durable.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BinlogPosition {
    /// The binary log file's name as the server recorded it (e.g. `./master-bin.000001`).
    pub file: String,
    /// The byte offset in that file after the last commit InnoDB recovered.
    pub offset: u64,
}

impl BinlogPosition {
    /// The line of [`BINLOG_POS_FILE`] (with its newline).
    pub fn file_line(&self) -> String {
        format!("{}\t{}\n", self.file, self.offset)
    }
}

/// Why [`apply_redo()`] failed. The backup directory may then hold a partly recovered datadir:
/// run it again (recovery is idempotent), or restore from the backup's source files.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApplyRedoError {
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
    /// No `mariadbd` was found.
    #[error("{}: mariadbd was not found (PATH, /usr/sbin)", path.display())]
    ServerNotFound {
        /// The backup.
        path: PathBuf,
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
    /// The backup cannot be restored as it is (an incremental, an interrupted prepare, ...).
    #[error(transparent)]
    CopyBack(#[from] CopyBackError),
    /// The backup's metadata could not be written.
    #[error(transparent)]
    Format(#[from] crate::Error),
}

impl ApplyRedoError {
    /// What the caller can do about it, when it is an action a front end words (the message
    /// leaves it out).
    pub fn remedy(&self) -> Option<Remedy> {
        match self {
            ApplyRedoError::ServerNotFound { .. } => Some(Remedy::InstallServer),
            ApplyRedoError::CopyBack(e) => e.remedy(),
            _ => None,
        }
    }
}

/// Finds `mariadbd`: next to the running program (its directory, then `../sbin`; mariabackup
/// runs the server built into itself), then on `PATH`, then in `/usr/sbin`, `/usr/local/sbin`,
/// `/usr/local/mysql/bin`, `/usr/bin`.
pub fn find_mariadbd() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(bin) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        dirs.push(bin.join("../sbin"));
        dirs.insert(0, bin);
    }
    dirs.extend(
        std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
            .unwrap_or_default(),
    );
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

pub(super) fn tail(path: &Path, n: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Where the private directories go (short: the socket's path must stay under 108 bytes).
const SCRATCH_PARENT: &str = "/tmp";
/// The start of their names.
const SCRATCH_PREFIX: &str = "xb-redo-";

/// A private directory for the server's socket and logs, removed on drop.
pub(super) struct Scratch(pub(super) PathBuf);

impl Scratch {
    /// A new name (not created yet).
    pub(super) fn name() -> PathBuf {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        Path::new(SCRATCH_PARENT).join(format!("{SCRATCH_PREFIX}{}-{nanos:x}", std::process::id()))
    }

    pub(super) fn create(p: PathBuf) -> Result<Scratch, ApplyRedoError> {
        use std::os::unix::fs::DirBuilderExt;
        fs::DirBuilder::new()
            .mode(0o700)
            .create(&p)
            .map_err(|source| ApplyRedoError::Io {
                action: "cannot create",
                path: p.clone(),
                source,
            })?;
        Ok(Scratch(p))
    }

    /// Whether `p` can be a directory made by [`Scratch::name`] (a journal names nothing else
    /// that may be removed).
    pub(super) fn is_ours(p: &Path) -> bool {
        p.parent() == Some(Path::new(SCRATCH_PARENT))
            && p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(SCRATCH_PREFIX))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

pub(super) struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// The private server's `innodb_log_file_size`: the smallest MariaDB 10.11 accepts (see the
/// module docs).
const SMALLEST_LOG: &str = "4M";

/// In the child before `exec`: `SIGKILL` when the parent dies, and no start at all when it has
/// died already (then the child was reparented before the signal was set).
fn die_with_parent(parent: u32) -> io::Result<()> {
    // SAFETY: prctl(PR_SET_PDEATHSIG) and getppid have no memory-safety preconditions.
    #[allow(unsafe_code)]
    let (set, ppid) = unsafe {
        (
            libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0 as libc::c_ulong,
                0 as libc::c_ulong,
                0 as libc::c_ulong,
            ),
            libc::getppid(),
        )
    };
    if set != 0 {
        return Err(io::Error::last_os_error());
    }
    if u32::try_from(ppid).ok() != Some(parent) {
        return Err(io::Error::from_raw_os_error(libc::ESRCH));
    }
    Ok(())
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
/// use incremental_core::prepare::apply_redo::{apply_redo, ApplyRedoOptions};
/// let r = apply_redo("/backups/full".as_ref(), &ApplyRedoOptions::default())?;
/// println!("recovered in {:.1} s", r.seconds);
/// # Ok::<(), incremental_core::prepare::apply_redo::ApplyRedoError>(())
/// ```
pub fn apply_redo(dir: &Path, opts: &ApplyRedoOptions) -> Result<ApplyRedoReport, ApplyRedoError> {
    let t0 = Instant::now();
    let dir = fs::canonicalize(dir).map_err(|source| ApplyRedoError::Io {
        action: "cannot resolve",
        path: dir.to_path_buf(),
        source,
    })?;
    let cps = restorable(&dir)?;
    let mariadbd = opts
        .mariadbd
        .clone()
        .or_else(find_mariadbd)
        .ok_or_else(|| ApplyRedoError::ServerNotFound { path: dir.clone() })?;
    let resumed = redo_journal::exists(&dir);
    // an interrupted run that rolled back ends as it began, whatever is asked now
    let rollback = opts.rollback || redo_journal::is_final(&dir);
    let done = match cps.backup_type {
        BackupType::FullPrepared => true,
        BackupType::LogApplied => !rollback,
        _ => false,
    };
    if done {
        // Marked prepared after everything was synced: only the journal may be left.
        clear_interrupted(&dir)?;
        finish_journal(&dir)?;
        return Ok(ApplyRedoReport {
            mariadbd,
            seconds: 0.0,
            notes: vec![format!(
                "already {}: nothing to do",
                cps.backup_type.as_str()
            )],
            ran: false,
            resumed,
            binlog: None,
            left_prepared: 0,
        });
    }
    check_runnable(&dir)?;
    // DATA DIRECTORY tablespaces: the private server must open the backup's copies
    super::remote_names::localize(&dir)?;
    let settings = ServerSettings::read_dir(&dir)?;
    // The private server would fail on an encrypted backup without its keys: say so first.
    copy_back::check_keys(&dir, &settings, &dir)?;
    clear_interrupted(&dir)?;
    let name = Scratch::name();
    redo_journal::write(&dir, &name, rollback).map_err(io_err("cannot write", &dir))?;
    let scratch = Scratch::create(name)?;
    let mode = if rollback {
        Mode::Rollback
    } else {
        Mode::RedoOnly
    };
    let (notes, binlog, left_prepared) =
        run_server(&dir, &scratch.0, &mariadbd, opts, mode, &settings, t0)?;
    drop(scratch);
    if let Some(b) = &binlog {
        let path = dir.join(BINLOG_POS_FILE);
        fs::write(&path, b.file_line()).map_err(io_err("cannot write", &path))?;
    }
    sync_tree(&dir)?;
    let state = if rollback {
        BackupType::FullPrepared
    } else {
        BackupType::LogApplied
    };
    mark_prepared(&dir, &cps, state)?;
    finish_journal(&dir)?;
    Ok(ApplyRedoReport {
        mariadbd,
        seconds: t0.elapsed().as_secs_f64(),
        notes,
        ran: true,
        resumed,
        binlog,
        left_prepared,
    })
}

/// How the private server runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// Recovery of the redo only (`innodb_force_recovery=3`): no rollback, no purge.
    RedoOnly,
    /// Recovery and the rollback of the open transactions.
    Rollback,
    /// A normal server that also purges and merges everything before its (slow) shutdown, as
    /// mariabackup's `--export` runs it.
    Export,
}

/// The server's part: start, recovery, rollback (unless redo only), clean shutdown. Returns
/// the notes about the recovery, the binary log position it recovered and the number of
/// transactions left prepared (redo only: see [`ApplyRedoReport::left_prepared`]).
fn run_server(
    dir: &Path,
    scratch: &Path,
    mariadbd: &Path,
    opts: &ApplyRedoOptions,
    mode: Mode,
    settings: &ServerSettings,
    t0: Instant,
) -> Result<(Vec<String>, Option<BinlogPosition>, u64), ApplyRedoError> {
    let server = Server::new(dir, scratch);
    server.write_options(&opts.buffer_pool, mode, settings)?;
    let mut child = server.start(mariadbd)?;
    let deadline = t0 + opts.timeout;
    let (notes, left_prepared) = match server.connect(&mut child, deadline) {
        Ok(mut conn) => {
            if mode != Mode::RedoOnly {
                server.wait_rollback(&mut conn, deadline)?;
            }
            server.shutdown(conn)?;
            (server.wait_shutdown(&mut child, deadline)?, 0)
        }
        Err(e) => match server.stopped_at_prepared(&mut child, mode) {
            Some(n) => {
                let text = fs::read_to_string(&server.err).unwrap_or_default();
                let mut notes = recovery_notes(&text);
                notes.push(format!(
                    "{n} transaction(s) prepared by the binary log's two-phase commit left \
                     prepared (the restored server resolves them); InnoDB shut down cleanly"
                ));
                (notes, n)
            }
            None => return Err(e),
        },
    };
    if mode == Mode::RedoOnly {
        server.refuse_ignored_errors(left_prepared > 0)?;
    }
    let log = fs::read_to_string(&server.err).unwrap_or_default();
    Ok((notes, recovered_binlog(&log), left_prepared))
}

/// The start of the SQL layer's error when InnoDB recovered transactions prepared with an
/// internal XID and there is no transaction coordinator log to resolve them.
const PREPARED_FOUND: &str = "[ERROR] Found ";
/// Its continuation.
const PREPARED_FOUND_REST: &str = " prepared transactions! ";

/// The number of transactions of that error, when `line` is it.
fn prepared_found(line: &str) -> Option<u64> {
    let rest = line.split_once(PREPARED_FOUND)?.1;
    let (n, _) = rest.split_once(PREPARED_FOUND_REST)?;
    n.parse().ok()
}

/// Whether the redo log of `dir` holds nothing past its checkpoint but the checkpoint's own
/// FILE_CHECKPOINT mini-transaction: what a clean InnoDB shutdown leaves.
fn redo_is_clean(dir: &Path) -> bool {
    let Ok(log) = innodb_page::redo::open(&log_file_path(dir)) else {
        return false;
    };
    let (Some(cp_end), Some(end)) = (log.checkpoint_end_lsn(), log.end_lsn()) else {
        return false;
    };
    if cp_end != log.checkpoint_lsn() {
        return false;
    }
    let Ok(mut r) = log.mtr_reader(cp_end) else {
        return false;
    };
    matches!(r.next_mtr(), Ok(Some(m)) if m.end_lsn() == end)
}

fn io_err(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> ApplyRedoError {
    let path = path.to_path_buf();
    move |source| ApplyRedoError::Io {
        action,
        path,
        source,
    }
}

/// The backup's checkpoints, once it is known to be restorable but for the redo: the journal
/// of an interrupted apply-redo step (which a copy-back refuses) is this step's to finish. A
/// journal exists only once the checks passed, and no merge is accepted while it exists.
pub(super) fn restorable(dir: &Path) -> Result<Checkpoints, ApplyRedoError> {
    match copy_back::check_restorable(&DirSource::new(dir)) {
        Ok(cps) => Ok(cps),
        Err(CopyBackError::PrepareInterrupted { journal, .. })
            if journal == dir.join(redo_journal::REDO_JOURNAL) =>
        {
            Ok(Checkpoints::read_dir(dir)?)
        }
        Err(e) => Err(e.into()),
    }
}

/// Removes the temporary directory an interrupted run left (named by its journal).
pub(super) fn clear_interrupted(dir: &Path) -> Result<(), ApplyRedoError> {
    match redo_journal::scratch(dir) {
        Some(old) if Scratch::is_ours(&old) && old.exists() => {
            fs::remove_dir_all(&old).map_err(io_err("cannot remove", &old))
        }
        _ => Ok(()),
    }
}

/// Removes the journal: the step is finished and recorded.
pub(super) fn finish_journal(dir: &Path) -> Result<(), ApplyRedoError> {
    redo_journal::remove(dir).map_err(io_err("cannot remove the journal in", dir))
}

/// fsyncs every file and directory of the backup (those the server wrote are synced by its
/// clean shutdown already; this costs little then, and covers every engine).
pub(super) fn sync_tree(dir: &Path) -> Result<(), ApplyRedoError> {
    for entry in fs::read_dir(dir).map_err(io_err("cannot list", dir))? {
        let entry = entry.map_err(io_err("cannot list", dir))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(io_err("cannot stat", &path))?;
        if kind.is_dir() {
            sync_tree(&path)?;
        } else if kind.is_file() {
            fs::File::open(&path)
                .and_then(|f| f.sync_all())
                .map_err(io_err("cannot sync", &path))?;
        }
    }
    redo_journal::sync_dir(dir).map_err(io_err("cannot sync", dir))
}

/// No server runs on `dir`, and it has a redo log to apply.
pub(super) fn check_runnable(dir: &Path) -> Result<(), ApplyRedoError> {
    if let Some(pid) = innodb_page::datadir::server_holding(dir) {
        let why = if started_by_interrupted_run(dir, pid) {
            format!(
                "the private server of an interrupted apply-redo step (process {pid}) still runs \
                 on this directory; stop it (kill {pid}) and run the step again"
            )
        } else {
            format!("a server (process {pid}) is running on this directory")
        };
        return Err(ApplyRedoError::Refused {
            path: dir.to_path_buf(),
            why,
        });
    }
    if !log_file_path(dir).is_file() {
        return Err(ApplyRedoError::Refused {
            path: dir.to_path_buf(),
            why: format!("no redo log ({LOG_FILE_0}): not an xb or mariabackup backup"),
        });
    }
    Ok(())
}

/// Whether process `pid` is the private server of the interrupted run journalled in `dir` (its
/// command line names that run's option file). One started by an older xb, or whose
/// parent-death signal was lost, can outlive it.
fn started_by_interrupted_run(dir: &Path, pid: i32) -> bool {
    let Some(old) = redo_journal::scratch(dir) else {
        return false;
    };
    let Ok(cmdline) = fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let cnf = old.join("my.cnf");
    let cnf = cnf.as_os_str().as_encoded_bytes();
    cmdline.windows(cnf.len()).any(|w| w == cnf)
}

/// The backup's checkpoints say `state` (written atomically and durably).
pub(super) fn mark_prepared(
    dir: &Path,
    cps: &Checkpoints,
    state: BackupType,
) -> Result<(), ApplyRedoError> {
    let mut done = cps.clone();
    done.backup_type = state;
    let path = dir.join(checkpoints::FILE_NAMES[0]);
    let tmp = dir.join("xtrabackup_checkpoints.xbtmp");
    done.write_file(&tmp)?;
    fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(io_err("cannot sync", &tmp))?;
    fs::rename(&tmp, &path).map_err(io_err("cannot write", &path))?;
    redo_journal::sync_dir(dir).map_err(io_err("cannot sync", dir))
}

/// Writes `text` to a new file readable by its owner only (it may hold a file key).
fn write_private(path: &Path, text: &str) -> io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())
}

/// The private server on a backup: its datadir and the files of its scratch directory.
pub(super) struct Server {
    dir: PathBuf,
    scratch: PathBuf,
    sock: PathBuf,
    err: PathBuf,
    cnf: PathBuf,
}

impl Server {
    pub(super) fn new(dir: &Path, scratch: &Path) -> Server {
        Server {
            dir: dir.to_path_buf(),
            scratch: scratch.to_path_buf(),
            sock: scratch.join("sock"),
            err: scratch.join("mariadbd.err"),
            cnf: scratch.join("my.cnf"),
        }
    }

    /// A failure of the server, with the end of its error log.
    pub(super) fn failed(&self, why: String) -> ApplyRedoError {
        ApplyRedoError::Server {
            path: self.dir.clone(),
            why,
            log: tail(&self.err, 20),
        }
    }

    /// Writes the server's option file.
    pub(super) fn write_options(
        &self,
        buffer_pool: &str,
        mode: Mode,
        settings: &ServerSettings,
    ) -> Result<(), ApplyRedoError> {
        let s = &self.scratch;
        let mut text = String::from("[mariadbd]\n");
        let mut line = |k: &str, v: &str| text.push_str(&format!("{k}={v}\n"));
        line("datadir", &self.dir.to_string_lossy());
        line("socket", &self.sock.to_string_lossy());
        line("pid-file", &s.join("pid").to_string_lossy());
        line("log-error", &self.err.to_string_lossy());
        line("tmpdir", &s.to_string_lossy());
        line("innodb_buffer_pool_size", buffer_pool);
        match mode {
            Mode::RedoOnly => {
                // no rollback, no purge, no background work: only the redo changes pages
                line("innodb_force_recovery", "3");
                line("innodb_stats_persistent", "OFF");
                line("innodb_stats_auto_recalc", "OFF");
                line("innodb_fast_shutdown", "1");
            }
            Mode::Rollback => line("innodb_fast_shutdown", "1"),
            Mode::Export => {
                line("innodb_fast_shutdown", "0");
                line("innodb_purge_rseg_truncate_frequency", "1");
            }
        }
        line("innodb_buffer_pool_load_at_startup", "OFF");
        line("innodb_buffer_pool_dump_at_shutdown", "OFF");
        line("event_scheduler", "OFF");
        // Recovery reads the backup's log whatever its size; the server then writes a new
        // one of this size.
        line("innodb_log_file_size", SMALLEST_LOG);
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
        // a literal file key may not go on a command line, but this file is private
        for (k, v) in settings.secret_options() {
            text.push_str(&format!("{k}={v}\n"));
        }
        write_private(&self.cnf, &text).map_err(|source| ApplyRedoError::Io {
            action: "cannot write",
            path: self.cnf.clone(),
            source,
        })
    }

    /// Starts `mariadbd` with its output into the error log.
    pub(super) fn start(&self, mariadbd: &Path) -> Result<Running, ApplyRedoError> {
        let io = |action: &'static str, path: &Path| {
            let path = path.to_path_buf();
            move |source| ApplyRedoError::Io {
                action,
                path,
                source,
            }
        };
        let log = fs::File::create(&self.err).map_err(io("cannot create", &self.err))?;
        let log2 = log.try_clone().map_err(io("cannot open", &self.err))?;
        let mut arg = std::ffi::OsString::from("--defaults-file=");
        arg.push(&self.cnf);
        let mut cmd = Command::new(mariadbd);
        cmd.arg(arg).stdin(Stdio::null()).stdout(log).stderr(log2);
        let parent = std::process::id();
        // SAFETY: the closure runs in the child between fork and exec and calls only prctl and
        // getppid (async-signal-safe) and allocates nothing.
        #[allow(unsafe_code)]
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut cmd, move || die_with_parent(parent));
        }
        let child = cmd.spawn().map_err(io("cannot run", mariadbd))?;
        Ok(Running(child))
    }

    /// Connects once crash recovery is done (the server then listens).
    pub(super) fn connect(
        &self,
        child: &mut Running,
        deadline: Instant,
    ) -> Result<mysql::Conn, ApplyRedoError> {
        let conn_opts = mysql::OptsBuilder::new()
            .socket(Some(self.sock.to_string_lossy().into_owned()))
            .user(Some("root"))
            .prefer_socket(false);
        loop {
            if let Ok(Some(st)) = child.0.try_wait() {
                return Err(self.failed(format!("exited during recovery ({st})")));
            }
            if self.sock.exists()
                && let Ok(c) = mysql::Conn::new(conn_opts.clone())
            {
                return Ok(c);
            }
            if Instant::now() > deadline {
                return Err(self.failed("did not finish recovery in time".into()));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until the transactions open at the end of the backup are rolled back (in the
    /// background, after recovery).
    pub(super) fn wait_rollback(
        &self,
        conn: &mut mysql::Conn,
        deadline: Instant,
    ) -> Result<(), ApplyRedoError> {
        loop {
            let open: Option<u64> = conn
                .query_first("SELECT COUNT(*) FROM information_schema.INNODB_TRX")
                .map_err(|e| self.failed(format!("cannot query it: {}", plain_text(&e))))?;
            if open.unwrap_or(0) == 0 {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(self.failed("did not finish rolling back in time".into()));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Asks the server to shut down.
    pub(super) fn shutdown(&self, mut conn: mysql::Conn) -> Result<(), ApplyRedoError> {
        conn.query_drop("SHUTDOWN")
            .map_err(|e| self.failed(format!("SHUTDOWN failed: {}", plain_text(&e))))
    }

    /// Waits for a clean shutdown; returns the server's notes about the recovery.
    pub(super) fn wait_shutdown(
        &self,
        child: &mut Running,
        deadline: Instant,
    ) -> Result<Vec<String>, ApplyRedoError> {
        let status = loop {
            match child.0.try_wait() {
                Ok(Some(st)) => break st,
                Ok(None) => {}
                Err(e) => return Err(self.failed(format!("cannot wait for it: {e}"))),
            }
            if Instant::now() > deadline {
                return Err(self.failed("did not shut down in time".into()));
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        if !status.success() {
            return Err(self.failed(format!("shut down with {status}")));
        }
        let text = fs::read_to_string(&self.err).unwrap_or_default();
        if !text.contains("Shutdown complete") {
            return Err(self.failed("no clean shutdown".into()));
        }
        Ok(recovery_notes(&text))
    }

    /// Fails when the server logged an error. The redo-only run has `innodb_force_recovery`
    /// set (no rollback, no purge), which also has InnoDB go on past what a normal recovery
    /// refuses (a corrupt page, a data file shorter than its page 0 says): it logs an error
    /// and leaves the page as it found it. Such a backup is not restored as the source was.
    ///
    /// A partial backup lacks the files of the tables it left out, which the dictionary and
    /// the redo still name: the server's errors that such a file is missing (and the system
    /// error that comes with each) are expected there, as mariabackup's prepare skips those
    /// tables.
    /// With `left_prepared`, the server's stop at the transactions left prepared is expected
    /// ([`Server::stopped_at_prepared`]).
    fn refuse_ignored_errors(&self, left_prepared: bool) -> Result<(), ApplyRedoError> {
        let text = fs::read_to_string(&self.err).map_err(io_err("cannot read", &self.err))?;
        let partial = is_partial(&self.dir);
        let errors: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("[ERROR]"))
            .filter(|l| !(partial && self.left_out_file_error(l)))
            .filter(|l| {
                !(left_prepared && (prepared_found(l).is_some() || l.ends_with("[ERROR] Aborting")))
            })
            .collect();
        match errors.first() {
            None => Ok(()),
            Some(first) => Err(self.failed(format!(
                "its recovery logged {} error(s), which a normal recovery would have stopped \
                 at, the first: {}",
                errors.len(),
                first.split("[ERROR] ").last().unwrap_or(first)
            ))),
        }
    }
}

impl Server {
    /// When the redo-only server exited (status 1) because InnoDB recovered transactions
    /// prepared by the binary log's two-phase commit, which its SQL layer refuses to leave
    /// unresolved without a coordinator log, after InnoDB shut down cleanly: their number.
    /// Those transactions are then as the backup left them (no rollback, no commit), which is
    /// what mariabackup's prepare leaves. `None` for any other failure.
    fn stopped_at_prepared(&self, child: &mut Running, mode: Mode) -> Option<u64> {
        if mode != Mode::RedoOnly {
            return None;
        }
        let status = child.0.try_wait().ok()??;
        if status.code() != Some(1) {
            return None;
        }
        let text = fs::read_to_string(&self.err).ok()?;
        let n = text.lines().find_map(prepared_found)?;
        (n > 0 && redo_is_clean(&self.dir)).then_some(n)
    }

    /// Whether an `[ERROR]` line of the log says that a data file the backup does not hold
    /// could not be found (`File ./db/t.ibd was not found`, then the system error ENOENT), or
    /// that the redo of such a file could not be applied.
    fn left_out_file_error(&self, line: &str) -> bool {
        let Some(msg) = line.split("[ERROR] ").nth(1) else {
            return false;
        };
        if msg == "InnoDB: Operating system error number 2 in a file operation."
            || msg == "InnoDB: Error number 2 means 'No such file or directory'"
        {
            return true;
        }
        let missing = |f: &str| !self.dir.join(f).exists();
        if let Some(rest) = msg.strip_prefix("InnoDB: Cannot apply log to ") {
            // a table created in the copied redo: `... of corrupted file './db/t.ibd'`
            return rest
                .split_once("of corrupted file '")
                .and_then(|(_, f)| f.strip_suffix('\''))
                .is_some_and(missing);
        }
        if let Some(rest) = msg.strip_prefix("InnoDB: Cannot open datafile for read-only: '") {
            return rest.split_once('\'').is_some_and(|(f, _)| missing(f));
        }
        if let Some(rest) = msg.strip_prefix("InnoDB: Could not find a valid tablespace file for ")
        {
            let name = rest.split_once(". ").map_or(rest, |(n, _)| n);
            let name = name.trim_end_matches('.').replace('`', "");
            return missing(&format!("{name}.ibd"));
        }
        msg.strip_prefix("InnoDB: File ")
            .and_then(|m| m.strip_suffix(" was not found"))
            .is_some_and(missing)
    }
}

/// Whether the backup in `dir` holds only some tables, or is merged from one that did
/// (`xb_backup_info`, else `partial = Y` in `xtrabackup_info`).
fn is_partial(dir: &Path) -> bool {
    match crate::format::backup_info::BackupInfo::read_dir(dir) {
        Ok(Some(xb)) => xb.partial || xb.base_partial,
        _ => crate::format::info::Info::read_dir(dir)
            .ok()
            .and_then(|i| i.partial().ok().flatten())
            .unwrap_or(false),
    }
}

/// The lines of the error log about the recovery, without their prefix.
fn recovery_notes(log: &str) -> Vec<String> {
    log.lines()
        .filter(|l| {
            l.contains("InnoDB: Starting crash recovery")
                || l.contains("InnoDB: To recover")
                || l.contains("InnoDB: End of log")
                || l.contains("InnoDB: Resizing redo log")
                || l.contains("rolled back")
                || l.contains("Rolled back")
        })
        .map(|l| l.split("[Note] ").last().unwrap_or(l).to_string())
        .collect()
}

/// The position of the server's `InnoDB: Last binlog file '<name>', position <N>` note (the
/// last one, should there be several).
fn recovered_binlog(log: &str) -> Option<BinlogPosition> {
    log.lines().rev().find_map(|l| {
        let rest = l.split_once("InnoDB: Last binlog file '")?.1;
        let (file, offset) = rest.rsplit_once("', position ")?;
        Some(BinlogPosition {
            file: file.to_string(),
            offset: offset.trim().parse().ok()?,
        })
    })
}

/// Whether `dir` looks like it was recovered by [`apply_redo()`] (or prepared by mariabackup):
/// `log-applied` or `full-prepared`.
pub fn is_prepared(dir: &Path) -> bool {
    Checkpoints::read_dir(dir)
        .map(|c| {
            matches!(
                c.backup_type,
                BackupType::FullPrepared | BackupType::LogApplied
            )
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_recovered_binlog_position_from_the_log() {
        let log = "2026-12-07  6:34:11 0 [Note] InnoDB: To recover: 55 pages\n\
                   2026-12-07  6:34:11 0 [Note] InnoDB: Last binlog file './master-bin.000001', position 3558887\n\
                   2026-12-07  6:34:12 0 [Note] mariadbd: Shutdown complete\n";
        let b = recovered_binlog(log).unwrap();
        assert_eq!(
            (b.file.as_str(), b.offset),
            ("./master-bin.000001", 3558887)
        );
        assert_eq!(b.file_line(), "./master-bin.000001\t3558887\n");
        assert_eq!(
            recovered_binlog("[Note] InnoDB: End of log at LSN=1\n"),
            None
        );
        let odd = "[Note] InnoDB: Last binlog file './it''s', position 4\n";
        assert_eq!(recovered_binlog(odd).unwrap().file, "./it''s");
    }

    #[test]
    fn the_prepared_transactions_error() {
        let l = "2026-12-07  6:51:37 0 [ERROR] Found 3 prepared transactions! It means that \
                 server was not shut down properly last time";
        assert_eq!(prepared_found(l), Some(3));
        assert_eq!(
            prepared_found("[Note] Found 3 prepared transaction(s) in InnoDB"),
            None
        );
    }
}
