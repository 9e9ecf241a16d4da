//! `xb track`: follow a running MariaDB 10.8+ server's redo log and write changed-page bitmaps.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::Context;

use incremental_core::key_options::{FoundKeys, KeyOptions};
use innodb_page::crypto::cipher::Mode;
use innodb_page::progress::Cancel;
use innodb_page::redo::crypt::ServerKey;
use innodb_page::redo::follow::FollowError;
use lsn_bitmap::track::{track, TrackError, TrackOptions};
use lsn_bitmap::WriterOptions;

use crate::ui::{self, CliProgress};
use crate::{EXIT_FOUND_PROBLEM, EXIT_OK};

/// Arguments of `xb track`.
#[derive(clap::Args)]
#[command(after_help = "\
Reads the server's ib_logfile0 (never writes to it) and appends runs of changed pages to \
ib_modified_log_<seq>_<lsn>.xdb files in the bitmap directory, up to the server's latest \
checkpoint, as Percona Server's tracker does; `xb backup --incremental-basedir` uses them \
instead of reading every page. Only .xdb files are written, only in the bitmap directory \
(default: the datadir), which must exist. Restarting resumes where the files end; if the \
server overwrote log not yet read, the gap is recorded (incrementals across it scan); so is \
a mini-transaction holding a record that cannot be decoded, and tracking goes on after it. \
--follow keeps going while the server stops and starts again, also when it rebuilds its log \
with a new innodb_log_file_size: no gap (the Debian package runs it as xb-track.service).

An encrypted log (innodb_encrypt_log=ON) is read with the server's key 1, found as the \
server finds it: the --file-key-management-* options, each over the server's option files \
(--defaults-file, else /etc/my.cnf, /etc/mysql/my.cnf, ~/.my.cnf; groups [mysqld], [server], \
[mariadb], [mariadbd]); relative paths are taken from the datadir. The key file's password is \
given only as FILE:path (a password on the command line is visible to every user in ps) or \
in the option files.

Exit status: 0 done; 1 done, but a gap was recorded (make innodb_log_file_size larger or \
track more often; the GAP line says why); 2 usage or I/O error, unsupported log, encrypted \
log without its key or with a wrong one.

Examples:
  xb track --datadir /var/lib/mysql --once
  xb track --datadir /var/lib/mysql --bitmap-dir /var/lib/xb-bitmaps --follow
  xb track --datadir /var/lib/mysql --once --file-key-management-filename /etc/mysql/keys.enc \
    --file-key-management-filekey FILE:/etc/mysql/keys.pass")]
pub struct Args {
    /// The server's datadir (holding ib_logfile0 and ibdata1).
    #[arg(long)]
    pub datadir: PathBuf,
    /// Directory for the bitmap files (must exist; default: the datadir).
    #[arg(long)]
    pub bitmap_dir: Option<PathBuf>,
    /// Track up to the server's latest checkpoint, then exit (the default).
    #[arg(long, conflicts_with = "follow")]
    pub once: bool,
    /// Keep following the log; SIGINT or SIGTERM finishes the run in progress and exits.
    #[arg(long)]
    pub follow: bool,
    /// Seconds between passes with --follow when caught up.
    #[arg(long, default_value_t = 1.0)]
    pub interval: f64,
    /// Do not fsync the bitmap files (faster; a crash may lose the last runs).
    #[arg(long)]
    pub no_sync: bool,
    /// Read the server's key settings only from this option file.
    #[arg(long)]
    pub defaults_file: Option<PathBuf>,
    /// The server's key settings.
    #[command(flatten)]
    pub keys: KeyArgs,
}

/// The `file_key_management` settings of a server read without a connection (`xb track`, a
/// cold `xb backup`), each over the one in the server's option files.
#[derive(Debug, clap::Args)]
pub struct KeyArgs {
    /// The server's key file (file_key_management_filename), for an encrypted log.
    #[arg(long, value_name = "PATH")]
    pub file_key_management_filename: Option<String>,
    /// The key file's password, as FILE:path only (file_key_management_filekey).
    #[arg(long, value_name = "FILE:PATH")]
    pub file_key_management_filekey: Option<String>,
    /// aes_cbc (default) or aes_ctr (file_key_management_encryption_algorithm).
    #[arg(long, value_name = "NAME")]
    pub file_key_management_encryption_algorithm: Option<String>,
}

/// The key options of `a` over the option files (`defaults_file`, else the default ones): a
/// literal password is refused (it would be visible in `ps` for as long as xb runs, the
/// tracker often as a service); `FILE:` and the option files keep it out of the command line.
pub fn key_options(a: &KeyArgs, defaults_file: Option<&Path>) -> anyhow::Result<KeyOptions> {
    let mut k = KeyOptions::default();
    if let Some(f) = defaults_file {
        k = k.set_defaults_file(f);
    }
    if let Some(v) = &a.file_key_management_filename {
        k = k.set_filename(v);
    }
    if let Some(v) = &a.file_key_management_filekey {
        if !v.starts_with("FILE:") {
            anyhow::bail!(
                "--file-key-management-filekey takes FILE:path (a file holding the password), \
                 not the password itself: a password on the command line is visible to every \
                 user of the machine; put it in a file only you can read, or leave it in the \
                 server's option file"
            );
        }
        k = k.set_filekey(v);
    }
    if let Some(v) = &a.file_key_management_encryption_algorithm {
        k = k.set_algorithm(v);
    }
    Ok(k)
}

/// The files named in a message: `a, b`, or `none`.
fn file_list(files: &[PathBuf]) -> String {
    if files.is_empty() {
        return "none".into();
    }
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    names.join(", ")
}

/// Key 1 and the cipher mode, when a key file is named (given or in the option files).
fn decryption(a: &Args, found: &FoundKeys) -> anyhow::Result<Option<(ServerKey, Mode)>> {
    let Some(settings) = &found.settings else {
        return Ok(None);
    };
    let log_key = settings.log_key(&a.datadir).with_context(|| {
        format!(
            "the redo log's key (from the --file-key-management-* options and the option \
             files read: {}; relative paths from {})",
            file_list(&found.option_files),
            a.datadir.display()
        )
    })?;
    Ok(Some(log_key))
}

/// `e`, saying where the key was looked for when the log needs one.
fn explain_keys(e: TrackError, a: &Args, found: &FoundKeys) -> anyhow::Error {
    let context = match (&e, &found.settings) {
        (TrackError::Follow(FollowError::WrongKey { .. }), Some(s)) => format!(
            "reading the redo log with key 1 of {}",
            s.key_file(&a.datadir).display()
        ),
        (TrackError::Follow(FollowError::EncryptedPageIds { .. }), None) => format!(
            "no key file was given, nor named in the option files read ({})",
            file_list(&found.option_files)
        ),
        _ => return e.into(),
    };
    anyhow::Error::new(e).context(context)
}

/// Cancelled by SIGINT/SIGTERM (set before the handlers are installed).
static STOP: OnceLock<Cancel> = OnceLock::new();

extern "C" fn on_signal(sig: libc::c_int) {
    // OnceLock::get is an atomic load and Cancel::cancel an atomic store: async-signal-safe.
    if let Some(stop) = STOP.get() {
        stop.cancel();
    }
    // A second signal ends the process at once.
    // SAFETY: signal() is async-signal-safe; SIG_DFL is a valid disposition.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
    }
}

fn install_signal_handlers() {
    let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the handler only stores to an atomic and resets the disposition, both
        // async-signal-safe.
        unsafe {
            libc::signal(sig, handler);
        }
    }
}

/// Runs the command.
pub fn run(a: Args) -> anyhow::Result<u8> {
    if !(a.interval.is_finite() && a.interval > 0.0) {
        anyhow::bail!("--interval must be a positive number of seconds");
    }
    let bitmap_dir = a.bitmap_dir.clone().unwrap_or_else(|| a.datadir.clone());
    let opts = TrackOptions::new(&a.datadir, &bitmap_dir)
        .follow(a.follow)
        .interval(Duration::from_secs_f64(a.interval))
        .writer(WriterOptions::default().sync(!a.no_sync));
    let found = key_options(&a.keys, a.defaults_file.as_deref())?.find();
    let opts = match decryption(&a, &found)? {
        Some((key, mode)) => opts.decrypt_with(key, mode),
        None => opts,
    };
    let stop = STOP.get_or_init(Cancel::new);
    install_signal_handlers();
    let report =
        track(&opts, &CliProgress::new("track"), stop).map_err(|e| explain_keys(e, &a, &found))?;
    let secs = report.elapsed.as_secs_f64();
    ui::note(format!(
        "track: tracked to LSN {} (read to {}): {} runs, {} pages, {} gaps; {:.1} MiB of redo \
         in {:.1} s",
        report.tracked_lsn,
        report.read_lsn,
        report.runs,
        report.pages,
        report.gaps,
        report.bytes as f64 / (1u64 << 20) as f64,
        secs
    ));
    Ok(if report.gaps > 0 {
        EXIT_FOUND_PROBLEM
    } else {
        EXIT_OK
    })
}
