//! `xb copy-back --target-dir BACKUP --datadir DATADIR`: restore a prepared backup.

use std::path::PathBuf;

use incremental_core::copy_back::copy_back;
use incremental_core::progress::Cancel;
use incremental_core::source::DirSource;

use crate::ui::{self, CliProgress};
use crate::EXIT_OK;

/// Arguments of `xb copy-back`.
#[derive(clap::Args)]
#[command(
    after_help = "The datadir must be empty or absent (it is created with mode 0700). \
The backup is only read. After the copy, start the server on the datadir: its crash recovery \
applies the backup's redo log (ib_logfile0) on first start. The command to start it is printed \
on standard output.\n\nExit status: 0 restored; 2 refused or failed (e.g. an unprepared \
incremental, a datadir that is not empty).\n\nExamples:\n  \
xb copy-back --target-dir /backups/full --datadir /var/lib/mysql\n  \
xb copy-back --target-dir /backups/full --datadir /srv/restore --json"
)]
pub struct Args {
    /// The prepared backup (a full backup, with any incrementals already applied by xb prepare).
    #[arg(long, value_name = "BACKUP")]
    pub target_dir: PathBuf,
    /// The empty datadir to restore into.
    #[arg(long, value_name = "DATADIR")]
    pub datadir: PathBuf,
    /// Print the report as JSON on standard output (schema in the README).
    #[arg(long)]
    pub json: bool,
}

/// Runs `xb copy-back`.
pub fn run(a: Args) -> anyhow::Result<u8> {
    let progress = CliProgress::new("copy-back");
    let source = DirSource::new(&a.target_dir);
    let r = copy_back(&source, &a.datadir, &progress, &Cancel::new())?;
    progress.finish();
    ui::note(format!(
        "restored {} files ({} bytes) into {}",
        r.files,
        r.bytes,
        a.datadir.display()
    ));
    if a.json {
        println!("{}", serde_json::to_value(&r)?);
        return Ok(EXIT_OK);
    }
    // The start command is the one thing a user must see, even with --quiet: stdout.
    println!("{}", r.start_command());
    ui::note(format!(
        "start the server with the command above{}; the files belong to the user who ran xb: \
         give them to the server's user (e.g. chown -R mysql:mysql {})",
        if r.startup_options().is_empty() {
            " (no options beyond the defaults are needed)"
        } else {
            ""
        },
        a.datadir.display()
    ));
    Ok(EXIT_OK)
}
