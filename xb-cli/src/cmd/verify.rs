//! `xb verify`: check every page of tablespace files or whole datadirs, or check a backup chain
//! (every page of the full backup and of every delta, every `.meta`, and whether `xb prepare`
//! and `xb copy-back` would accept it).

use std::path::{Path, PathBuf};

use anyhow::Context;
use incremental_core::format::checkpoints;
use incremental_core::progress::Cancel;
use incremental_core::verify::{
    unfinished_backup, verify_chain, ChainReport, Refusal, VerifyError,
};
use innodb_page::verify;

use super::print_json;
use crate::ui::CliProgress;
use crate::{EXIT_ERROR, EXIT_FOUND_PROBLEM, EXIT_OK};

/// Arguments of `xb verify`.
#[derive(clap::Args)]
#[command(after_help = "\
PATHs that are backup directories (they hold xtrabackup_checkpoints) are checked as a chain, the \
full backup first, then its incrementals in the order they were taken; the same as \
--target-dir FULL --incremental-dir INC1 .... A chain is checked page by page (the full \
backup's tablespaces and every .delta), every .meta against its delta, and with the very checks \
of xb prepare and xb copy-back (LSN continuity: each from_lsn equals the previous to_lsn; states; \
the merge safety rule); the report ends with the newest to_lsn and \"restorable: yes\" or \
\"restorable: no (why)\". Nothing is written; the backups are only read.

A compressed or encrypted backup (X.zst, X.lz4, X.age…; the identity from --encrypt-key-file \
or XB_ENCRYPT_KEY) is first decoded, every frame checksum and encrypted chunk checked, into a \
temporary directory beside it (removed afterwards; it needs the backup's decoded size), and that \
copy is checked; messages name the copy.

Other PATHs are tablespace files or datadirs: every page of every InnoDB tablespace in them is \
checked.

A directory that holds files only a backup writes (backup-my.cnf, *.delta, *.xbtmp) but no \
xtrabackup_checkpoints, which a backup writes last, is an unfinished backup (interrupted, or \
still running): it is reported as such, not checked as a datadir.

Exit status: 0 every page sound (and, for a chain, restorable); 1 a corrupt page or file, a \
chain that would not restore, or an unfinished backup; 2 usage or I/O error.

Examples:
  xb verify /var/lib/mysql
  xb verify --json shop/orders.ibd shop/customers.ibd
  xb verify /backups/full /backups/inc1 /backups/inc2
  xb verify --target-dir /backups/full --incremental-dir /backups/inc1 --json
  xb verify --repo s3://backups/db1 [--backup 20261206-020000I]

With --repo, the backups of the repository's stanza (or --backup ID) are checked where they are \
stored, several objects at once: every object against its manifest's size and SHA-256 (no key \
needed), then, when the backup can be decoded (not encrypted, or its identity given), every \
file against its plain SHA-256 and every page and delta as above. Each backup's result is \
recorded next to it and shown by xb info. Exit status 1 if a problem is found; each names the \
backup, the object and the file.")]
pub struct Args {
    /// Tablespace files or datadirs; or backup directories, full first (a chain).
    #[arg(required_unless_present_any = ["target_dir", "repo"], conflicts_with = "target_dir")]
    pub paths: Vec<PathBuf>,
    /// Check the backup chain starting at this full backup.
    #[arg(long, value_name = "FULL")]
    pub target_dir: Option<PathBuf>,
    /// An incremental of the chain; repeat, oldest first (with --target-dir).
    #[arg(long, value_name = "DIR", requires = "target_dir")]
    pub incremental_dir: Vec<PathBuf>,
    /// Print JSON (schemas in docs/json.md).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub keys: super::codec_args::AgeKeyArgs,
    #[command(flatten)]
    pub repository: super::repo_args::RepoArgs,
    #[command(flatten)]
    pub config: super::repo_cmds::ConfigArgs,
    /// With --repo: check only this backup (default: every complete backup of the stanza).
    #[arg(
        long,
        value_name = "ID",
        requires = "repo",
        help_heading = "Repository"
    )]
    pub backup: Option<String>,
    /// With --repo: objects read at once (default 4).
    #[arg(long, value_name = "N", requires = "repo", help_heading = "Repository")]
    pub parallel: Option<usize>,
}

/// A backup directory, finished or not (an unfinished one is reported as such, not checked as
/// a datadir).
fn is_backup_dir(p: &Path) -> bool {
    p.is_dir() && (checkpoints::find(p).is_ok() || unfinished_backup(p).is_some())
}

/// Runs `xb verify`.
pub fn run(a: Args) -> anyhow::Result<u8> {
    if a.repository.repo.is_some() {
        if !a.paths.is_empty() || a.target_dir.is_some() {
            anyhow::bail!(
                "--repo checks the repository's backups: give no PATH or --target-dir with it"
            );
        }
        return super::repo_cmds::verify(&a);
    }
    if let Some(t) = &a.target_dir {
        let d = super::codec_args::decoded_chain(t, &a.incremental_dir, &a.keys)?;
        return run_chain(&d.target, &d.incs, a.json);
    }
    let backups: Vec<&PathBuf> = a.paths.iter().filter(|p| is_backup_dir(p)).collect();
    if !backups.is_empty() {
        if let Some(other) = a.paths.iter().find(|p| !is_backup_dir(p)) {
            anyhow::bail!(
                "{} is a backup directory but {} is not: give either backup directories (a \
                 chain, full backup first) or datadirs and tablespace files, not both",
                backups[0].display(),
                other.display()
            );
        }
        let d = super::codec_args::decoded_chain(&a.paths[0], &a.paths[1..], &a.keys)?;
        return run_chain(&d.target, &d.incs, a.json);
    }
    for p in &a.paths {
        std::fs::metadata(p).with_context(|| format!("{}: cannot read", p.display()))?;
    }
    let r = verify::verify_paths(&a.paths)?;
    let code = if !r.errors.is_empty() {
        EXIT_ERROR
    } else if !r.corrupt.is_empty() {
        EXIT_FOUND_PROBLEM
    } else {
        EXIT_OK
    };
    if a.json {
        print_json(&r)?;
        return Ok(code);
    }
    for f in &r.corrupt {
        println!("{f}");
    }
    for e in &r.errors {
        eprintln!("xb: error: {e}");
    }
    crate::ui::summary(format!(
        "checked {} tablespaces ({} files, {} pages): {}",
        r.tablespaces,
        r.files_checked,
        r.pages_checked,
        match r.corrupt.len() {
            0 => "all pages sound".to_string(),
            n => format!("{n} problems"),
        }
    ));
    Ok(code)
}

/// `xb verify` on a backup chain.
fn run_chain(target: &Path, incs: &[PathBuf], json_out: bool) -> anyhow::Result<u8> {
    let progress = CliProgress::new("verify");
    let r = match verify_chain(target, incs, &progress, &Cancel::new()) {
        Err(e @ VerifyError::Unfinished { .. }) => {
            eprintln!("xb: {e}");
            return Ok(EXIT_FOUND_PROBLEM);
        }
        r => r?,
    };
    progress.finish();
    let io = !r.io_errors.is_empty() || r.refusal.as_ref().is_some_and(Refusal::is_io);
    let code = if io {
        EXIT_ERROR
    } else if r.restorable() {
        EXIT_OK
    } else {
        EXIT_FOUND_PROBLEM
    };
    if json_out {
        print_chain_json(&r)?;
        return Ok(code);
    }
    for b in &r.backups {
        let what = match &b.checkpoints {
            Some(c) if c.backup_type == checkpoints::BackupType::Incremental => format!(
                "incremental, from_lsn {} to_lsn {}: {} deltas",
                c.from_lsn, c.to_lsn, b.files_checked
            ),
            Some(c) => format!(
                "{}, to_lsn {}: {} tablespace files",
                c.backup_type, c.to_lsn, b.files_checked
            ),
            None => format!("unreadable checkpoints: {} files", b.files_checked),
        };
        crate::ui::summary(format!(
            "{}: {what}, {} pages",
            b.dir.display(),
            b.pages_checked
        ));
    }
    for f in &r.corrupt {
        println!("{f}");
    }
    for e in &r.io_errors {
        eprintln!("xb: error: {e}");
    }
    crate::ui::summary(format!(
        "checked {} files, {} pages: {}",
        r.files_checked,
        r.pages_checked,
        match r.corrupt.len() {
            0 => "all sound".to_string(),
            n => format!("{n} problems"),
        }
    ));
    crate::ui::summary(match r.to_lsn() {
        Some(l) => format!("newest to_lsn: {l}"),
        None => "newest to_lsn: unknown (unreadable xtrabackup_checkpoints)".into(),
    });
    // the verdict is the finding: printed under --quiet too when it is "not restorable"
    let verdict = r.verdict_with(word_refusal);
    if code == EXIT_OK {
        crate::ui::summary(verdict);
    } else {
        println!("{verdict}");
    }
    Ok(code)
}

/// A refusal as the CLI words it: its message and its remedy in `xb`'s terms.
fn word_refusal(r: &Refusal) -> String {
    crate::remedy::with_remedy(r)
}

/// The chain report's serialization, its refusal worded by the CLI.
fn print_chain_json(r: &ChainReport) -> anyhow::Result<()> {
    let mut v = serde_json::to_value(r)?;
    v["reasons"] = serde_json::to_value(r.reasons_with(word_refusal))?;
    v["refusal"] = serde_json::to_value(r.refusal.as_ref().map(word_refusal))?;
    println!("{}", serde_json::to_string_pretty(&v)?);
    Ok(())
}
