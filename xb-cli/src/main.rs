//! `xb`: page-level incremental backups of InnoDB data.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;
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
    about = "Page-level incremental backups of InnoDB data"
)]
#[command(
    after_help = "Exit status: 0 success; 1 the data checked has a problem (corrupt page, \
bad bitmap); 2 usage or I/O error."
)]
struct Cli {
    /// Print only errors (no progress, no log lines).
    #[arg(long, short, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Take a full or incremental backup of a datadir.
    Backup(cmd::backup::Args),
    /// Prepare a backup: merge incrementals into a base (a synthetic full).
    Prepare(cmd::prepare::Args),
    /// Restore a prepared backup into an empty datadir.
    CopyBack(cmd::copy_back::Args),
    /// Show the facts of a tablespace or redo log file.
    Inspect(cmd::inspect::Args),
    /// Check every page checksum of files or datadirs.
    Verify(cmd::verify::Args),
    /// Read and check changed-page bitmap files.
    #[command(subcommand)]
    Bitmap(cmd::bitmap::BitmapCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    ui::set_quiet(cli.quiet);
    let result = match cli.command {
        Command::Backup(a) => cmd::backup::run(a),
        Command::Prepare(a) => cmd::prepare::run(a),
        Command::CopyBack(a) => cmd::copy_back::run(a),
        Command::Inspect(a) => cmd::inspect::run(a),
        Command::Verify(a) => cmd::verify::run(a),
        Command::Bitmap(c) => cmd::bitmap::run(c),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("xb: error: {e:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}
