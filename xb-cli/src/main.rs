//! `xb`: page-level incremental backups of InnoDB data.

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

mod cmd;
mod compat;
mod password;
mod remedy;
mod ui;

/// Exit status: everything checked is sound.
pub const EXIT_OK: u8 = 0;
/// Exit status: the command ran and found a problem in the data (a corrupt page, a broken bitmap).
pub const EXIT_FOUND_PROBLEM: u8 = 1;
/// Exit status: usage error, unreadable file or other failure to run.
pub const EXIT_ERROR: u8 = 2;

#[derive(Parser)]
#[command(
    name = "xb",
    version,
    disable_version_flag = true,
    about = "Page-level incremental backups of InnoDB data"
)]
#[command(after_help = "\
Exit status: 0 success; 1 the data checked has a problem (corrupt page, bad bitmap, a backup \
chain that would not restore); 2 usage or I/O error.

Examples (the server stopped, or DATADIR a filesystem snapshot):
  xb backup --datadir /var/lib/mysql --target-dir /backups/full
  xb backup --datadir /var/lib/mysql --target-dir /backups/inc1 --incremental-basedir /backups/full
  xb verify /backups/full /backups/inc1
  xb prepare --target-dir /backups/full --incremental-dir /backups/inc1
  xb copy-back --target-dir /backups/full --datadir /srv/mysql-restored

Run xb help COMMAND for each command's options and examples.")]
struct Cli {
    /// Print the version and exit (`-v` as in mariabackup; `-V` too).
    #[arg(short = 'v', long, short_alias = 'V', action = clap::ArgAction::Version)]
    version: (),
    /// Print only errors: no progress, no log lines, no summaries (what a command exists to
    /// print, such as `inspect`, `bitmap dump` or `--json`, is still printed), so that a cron
    /// job mails only failures.
    #[arg(long, short, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Take a full or incremental backup of a datadir.
    Backup(Box<cmd::backup::Args>),
    /// Prepare a backup: merge incrementals into a base (a synthetic full).
    Prepare(cmd::prepare::Args),
    /// Restore a prepared backup into an empty datadir.
    CopyBack(cmd::copy_back::Args),
    /// Decode a compressed or encrypted backup directory in place (X.zst.age -> X).
    Decompress(cmd::decompress::Args),
    /// Extract the files of an xbstream (xb's or mariabackup's) into a directory.
    Extract(cmd::extract::Args),
    /// List the backups of a repository: chains, parents, LSNs, sizes, verification.
    Info(cmd::repo_cmds::InfoArgs),
    /// Delete whole chains of a repository's backups by retention policy.
    Expire(cmd::repo_cmds::ExpireArgs),
    /// Restore a backup of a repository into a new datadir in one command.
    Restore(Box<cmd::repo_cmds::RestoreArgs>),
    /// Show the facts of a tablespace or redo log file.
    Inspect(cmd::inspect::Args),
    /// Check every page of files or datadirs, or a backup chain (restorable or not).
    Verify(cmd::verify::Args),
    /// Follow a running server's redo log and write changed-page bitmaps.
    Track(cmd::track::Args),
    /// Read and check changed-page bitmap files.
    #[command(
        subcommand,
        after_help = "Examples:\n  xb bitmap dump /var/lib/mysql --start-lsn 2500178 --end-lsn \
2600000\n  xb bitmap verify /var/lib/mysql"
    )]
    Bitmap(cmd::bitmap::BitmapCommand),
    /// Write the manual pages into a directory (used to build the Debian package).
    #[command(hide = true)]
    Man(cmd::man::Args),
}

/// An error and its causes on one line, leaving out a cause whose text the line already holds
/// (the libraries' messages often include their source's); each cause followed by its remedy
/// in the CLI's words.
fn one_line(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let m = cause.to_string();
        if out.contains(&m) {
            // its words are there already, but not its remedy (an error carried by another)
            let words = remedy::worded(cause).unwrap_or_default();
            if !out.contains(&words) {
                out.push_str(&words);
            }
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&m);
        out.push_str(&remedy::worded(cause).unwrap_or_default());
    }
    out.replace('\n', " ")
}

/// Output to a closed pipe (`xb verify DIR | head -1`) ends xb quietly, killed by SIGPIPE as
/// other Unix tools are, instead of a panic (exit 101). The Rust runtime ignores SIGPIPE, so the
/// printing macros panic on the failed write; this hook turns that panic into the signal.
/// SIGPIPE stays ignored otherwise: a write to a server's closed socket remains an error xb
/// reports (and cleans up after), not a silent death.
fn die_on_closed_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info.to_string();
        if msg.contains("failed printing to std") && msg.contains("Broken pipe") {
            // SAFETY: restoring a signal's default action and raising it; nothing runs after.
            #[allow(unsafe_code)]
            unsafe {
                libc::signal(libc::SIGPIPE, libc::SIG_DFL);
                libc::raise(libc::SIGPIPE);
            }
        }
        default(info);
    }));
}

fn main() -> ExitCode {
    die_on_closed_pipe();
    let mut argv = std::env::args_os();
    if let Some(prog) = compat::personality(argv.next().as_ref()) {
        return compat::main(&prog, argv.collect());
    }
    let cli = Cli::parse();
    ui::set_quiet(cli.quiet);
    let result = match cli.command {
        Command::Backup(a) => cmd::backup::run(*a),
        Command::Prepare(a) => cmd::prepare::run(a),
        Command::CopyBack(a) => cmd::copy_back::run(a),
        Command::Decompress(a) => cmd::decompress::run(a),
        Command::Extract(a) => cmd::extract::run(a),
        Command::Inspect(a) => cmd::inspect::run(a),
        Command::Info(a) => cmd::repo_cmds::info(a),
        Command::Expire(a) => cmd::repo_cmds::expire(a),
        Command::Restore(a) => cmd::repo_cmds::restore(*a),
        Command::Verify(a) => cmd::verify::run(a),
        Command::Track(a) => cmd::track::run(a),
        Command::Bitmap(c) => cmd::bitmap::run(c),
        Command::Man(a) => cmd::man::run(a, Cli::command()),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("xb: error: {}", one_line(&e));
            ExitCode::from(EXIT_ERROR)
        }
    }
}
