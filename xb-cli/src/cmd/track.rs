//! `xb track`: follow a running MariaDB 10.8+ server's redo log and write changed-page bitmaps.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use innodb_page::progress::Cancel;
use lsn_bitmap::track::{track, TrackOptions};
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
server overwrote log not yet read, the gap is recorded (incrementals across it scan). \
--follow keeps going while the server stops and starts again, also when it rebuilds its log \
with a new innodb_log_file_size: no gap (the Debian package runs it as xb-track.service).

Exit status: 0 done; 1 done, but a gap was recorded (make innodb_log_file_size larger or \
track more often); 2 usage or I/O error, unsupported or encrypted (FORMAT_ENC_11) log.

Examples:
  xb track --datadir /var/lib/mysql --once
  xb track --datadir /var/lib/mysql --bitmap-dir /var/lib/xb-bitmaps --follow")]
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
    let stop = STOP.get_or_init(Cancel::new);
    install_signal_handlers();
    let report = track(&opts, &CliProgress::new("track"), stop)?;
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
