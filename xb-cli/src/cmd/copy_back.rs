//! `xb copy-back --target-dir BACKUP --datadir DATADIR`: restore a prepared backup.

use std::path::PathBuf;

use incremental_core::codec::{self, DecodingSource};
use incremental_core::copy_back::{copy_back_with, CopyBackOptions};
use incremental_core::progress::Cancel;
use incremental_core::source::{BackupSource, DirSource};
use incremental_core::xbstream::StreamSource;

use crate::ui::{self, CliProgress};
use crate::EXIT_OK;

/// Arguments of `xb copy-back`.
#[derive(clap::Args)]
#[command(
    after_help = "The datadir must be empty or absent (it is created with mode 0700), \
unless --force-non-empty-directories. The backup is only read (with --move-back its files are \
moved out of it). The system tablespace, redo log, undo tablespaces and Aria log go into the \
directories given by --innodb-data-home-dir, --innodb-log-group-home-dir, \
--innodb-undo-directory and --aria-log-dir-path (relative ones: to the datadir, as the server \
reads them); the printed start command names them. After the copy, start the server on the datadir: its crash recovery \
applies the backup's redo log (ib_logfile0) on first start. The command to start it is printed \
on standard output.\n\nExit status: 0 restored; 2 refused or failed (e.g. an unprepared \
incremental, a hot backup holding DDL files (.new, .ren, .del) that xb prepare must process \
first, a datadir that is not empty).\n\nExamples:\n  \
xb copy-back --target-dir /backups/full --datadir /var/lib/mysql\n  \
xb copy-back --target-dir /backups/full --datadir /srv/restore --json"
)]
pub struct Args {
    /// The prepared backup (a full backup, with any incrementals already applied by xb
    /// prepare): a directory, or a full backup's stream file (xb backup --stream=xbstream),
    /// read in place without extracting it.
    #[arg(long, value_name = "BACKUP")]
    pub target_dir: PathBuf,
    /// The empty datadir to restore into.
    #[arg(long, value_name = "DATADIR")]
    pub datadir: PathBuf,
    /// Print the report as JSON on standard output (schema in docs/json.md).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub keys: super::codec_args::AgeKeyArgs,
    /// Files copied at once (default: 2).
    #[arg(long, value_name = "N", default_value_t = 0, hide_default_value = true)]
    pub parallel: usize,
    /// Return without waiting for the files to reach the disk, as mariabackup's copy-back
    /// does: faster, but a crash in the next 30 s or so can leave the datadir incomplete.
    #[arg(long)]
    pub no_sync: bool,
    /// Move the files instead of copying them (a rename; a copy and a removal across
    /// filesystems): fast, but the backup is used up.
    #[arg(long)]
    pub move_back: bool,
    /// Restore into directories that already hold files: only files that do not exist yet are
    /// written; a file that exists is an error naming it, before anything is written.
    #[arg(long)]
    pub force_non_empty_directories: bool,
    /// Put the system tablespace (ibdata*) here instead of the datadir.
    #[arg(long, value_name = "DIR")]
    pub innodb_data_home_dir: Option<PathBuf>,
    /// The restored server's innodb_data_file_path: each system tablespace file of the backup
    /// goes to the path it names there (absolute, or relative to --innodb-data-home-dir).
    #[arg(long, value_name = "SPEC")]
    pub innodb_data_file_path: Option<String>,
    /// Put the redo log (ib_logfile0) here instead of the datadir.
    #[arg(long, value_name = "DIR")]
    pub innodb_log_group_home_dir: Option<PathBuf>,
    /// Put the undo tablespaces (undo*) here instead of the datadir.
    #[arg(long, value_name = "DIR")]
    pub innodb_undo_directory: Option<PathBuf>,
    /// Put the Aria log (aria_log.*, aria_log_control) here instead of the datadir.
    #[arg(long, value_name = "DIR")]
    pub aria_log_dir_path: Option<PathBuf>,
}

/// Default of `--parallel`: two files at once keep the disk busy while the kernel copies.
const DEFAULT_PARALLEL: usize = 2;

impl Args {
    fn options(&self) -> CopyBackOptions {
        let mut o = CopyBackOptions::default();
        let parallel = if self.parallel == 0 {
            DEFAULT_PARALLEL
        } else {
            self.parallel
        };
        o.set_parallel(parallel)
            .set_sync(!self.no_sync)
            .set_move_back(self.move_back)
            .set_force_non_empty_directories(self.force_non_empty_directories)
            .set_innodb_data_home_dir(self.innodb_data_home_dir.clone())
            .set_innodb_data_file_path(self.innodb_data_file_path.clone())
            .set_innodb_log_group_home_dir(self.innodb_log_group_home_dir.clone())
            .set_innodb_undo_directory(self.innodb_undo_directory.clone())
            .set_aria_log_dir_path(self.aria_log_dir_path.clone());
        o
    }
}

/// Runs `xb copy-back`.
pub fn run(a: Args) -> anyhow::Result<u8> {
    let progress = CliProgress::new("copy-back");
    // a backup directory, or a stream file (xb backup --stream) read in place
    let source: Box<dyn BackupSource> = if a.target_dir.is_file() {
        Box::new(StreamSource::open(&a.target_dir)?)
    } else {
        Box::new(DirSource::new(&a.target_dir))
    };
    // a compressed or encrypted backup is decoded while it is copied
    let stored: Vec<PathBuf> = source.files()?.into_iter().map(|f| f.path).collect();
    let decoding;
    let source: &dyn BackupSource = if codec::names::any_encoded(stored.iter().map(|p| p.as_path()))
    {
        if a.move_back {
            anyhow::bail!(
                "{}: compressed or encrypted: --move-back moves files as they are; decode it \
                 first with xb decompress --remove-original (or copy it back without \
                 --move-back, decoding while copying)",
                a.target_dir.display()
            );
        }
        decoding = DecodingSource::new(source, a.keys.keys_for(&stored)?);
        &decoding
    } else {
        &source
    };
    // absolute, so that the start command printed works from any directory
    let datadir = std::path::absolute(&a.datadir)?;
    let r = copy_back_with(source, &datadir, &a.options(), &progress, &Cancel::new())?;
    progress.finish();
    ui::note(format!(
        "{} {} files ({} bytes) into {}",
        if a.move_back { "moved" } else { "restored" },
        r.files,
        r.bytes,
        r.datadir.display()
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
        r.datadir.display()
    ));
    let secret = r.option_file_only();
    if !secret.is_empty() {
        ui::note(format!(
            "the command above leaves out {} (it must never be on a command line): put it in \
             the server's option file, as in backup-my.cnf",
            secret.join(", ")
        ));
    }
    Ok(EXIT_OK)
}
