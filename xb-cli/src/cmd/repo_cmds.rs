//! The repository commands: `xb info`, `xb expire` and `xb restore` (`xb backup --repo` is in
//! `backup_repo`, `xb verify --repo` in `verify`).

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use incremental_core::prepare::apply_redo::ApplyRedoOptions;
use incremental_core::progress::Cancel;
use incremental_core::repo::{
    BackupEntry, BackupType, Catalog, ExpirePolicy, Repository, RestoreOptions,
};

use super::print_json;
use super::repo_args::{Config, RepoArgs};
use crate::ui::{self, CliProgress};
use crate::{EXIT_FOUND_PROBLEM, EXIT_OK};

/// Where the `[xb]` group is read from.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ConfigArgs {
    /// Read the xb group from this option file only.
    #[arg(long, value_name = "FILE", help_heading = "Repository")]
    pub defaults_file: Option<PathBuf>,
    /// Read this option file after the global ones.
    #[arg(long, value_name = "FILE", help_heading = "Repository")]
    pub defaults_extra_file: Option<PathBuf>,
}

impl ConfigArgs {
    fn read(&self) -> Config {
        Config::read(
            self.defaults_file.as_deref(),
            self.defaults_extra_file.as_deref(),
        )
    }
}

/// Opens the repository of `repo` over the `[xb]` group that `config` names.
fn open(repo: &RepoArgs, config: &ConfigArgs) -> anyhow::Result<(Repository, Config)> {
    let c = config.read();
    Ok((repo.open(&c)?, c))
}

/// Arguments of `xb info`.
#[derive(clap::Args)]
#[command(after_help = "\
Lists a stanza's backups by chain (a full backup and the incrementals that descend from it): \
each backup's id (the UTC time it started, F full, I incremental), its parent, LSN range, page \
selection method, hot or cold, original and stored sizes, duration, and its last verification \
(xb verify --repo). Backups without a manifest (interrupted, or running) are listed apart as \
incomplete: never used as a base, resumed or removed by the next backup.

Exit status: 0; 1 a complete backup whose chain is broken (a parent is missing); 2 error.

Examples:
  xb info --repo s3://backups/db1
  xb info --repo /srv/xb-repo --stanza db2 --json")]
pub struct InfoArgs {
    #[command(flatten)]
    pub repository: RepoArgs,
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Print JSON (schema in docs/json.md).
    #[arg(long)]
    pub json: bool,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
}

fn ago(at: u64) -> String {
    let s = now().saturating_sub(at);
    match s {
        0..120 => format!("{s} s ago"),
        120..7200 => format!("{} min ago", s / 60),
        7200..172_800 => format!("{} h ago", s / 3600),
        _ => format!("{} days ago", s / 86_400),
    }
}

fn line(b: &BackupEntry) -> String {
    let kind = match (b.kind, &b.parent) {
        (BackupType::Incremental, Some(p)) => format!("incremental of {p}"),
        _ => "full".to_string(),
    };
    let verified = match &b.verified {
        None => "not verified".to_string(),
        Some(v) if v.ok => format!("verified {}", ago(v.at)),
        Some(v) => format!("VERIFY FAILED {} ({} problems)", ago(v.at), v.problems),
    };
    format!(
        "  {}  {kind}; LSN {}..{}; {} {}{}; {} files, {} stored as {}{}; {} s; {verified}",
        b.id,
        b.from_lsn,
        b.to_lsn,
        if b.hot { "hot" } else { "cold" },
        b.method,
        if b.partial { ", partial" } else { "" },
        b.files,
        mib(b.plain_bytes),
        mib(b.stored_bytes),
        match (&b.compression, b.encrypted) {
            (Some(c), true) => format!(" ({c}, encrypted)"),
            (Some(c), false) => format!(" ({c})"),
            (None, true) => " (encrypted)".to_string(),
            (None, false) => String::new(),
        },
        b.finished.saturating_sub(b.started),
    )
}

fn print_catalog(c: &Catalog) {
    let chains = c.chains();
    println!(
        "{} stanza {}: {} backups in {} chains",
        c.location(),
        c.stanza(),
        c.backups().len(),
        chains.len()
    );
    for chain in &chains {
        if let Some(full) = chain.first() {
            println!("chain of {} ({} backups):", full.id, chain.len());
        }
        for b in chain {
            println!("{}", line(b));
        }
    }
    for b in c.broken() {
        println!("BROKEN (a parent is missing): {}", line(b));
    }
    for i in c.incomplete() {
        println!(
            "incomplete: {} ({}{}), started {}, {} objects, {}: the next backup resumes or removes it",
            i.id,
            i.kind,
            i.parent.as_ref().map_or(String::new(), |p| format!(" of {p}")),
            ago(i.started),
            i.objects,
            mib(i.bytes)
        );
    }
}

/// Runs `xb info`.
pub fn info(a: InfoArgs) -> anyhow::Result<u8> {
    let (repo, _) = open(&a.repository, &a.config)?;
    let c = repo.catalog()?;
    if a.json {
        print_json(&c)?;
    } else {
        print_catalog(&c);
    }
    Ok(if c.broken().is_empty() {
        EXIT_OK
    } else {
        EXIT_FOUND_PROBLEM
    })
}

/// Arguments of `xb expire`.
#[derive(clap::Args)]
#[command(after_help = "\
Deletes whole chains only (a full backup and every incremental descending from it): a chain is \
kept while its full backup is one of the --retain-full newest, or (with --retain-days) while one \
of its backups finished less than D days ago; a backup that a kept one needs is never deleted. \
Incomplete attempts (interrupted backups) are removed too. A backup's manifest is deleted first: \
an expire interrupted half-way leaves an incomplete backup, never one that looks complete. \
expire takes the stanza's lock (STANZA/lock.json), which a running backup holds: it is refused \
while one runs.

Examples:
  xb expire --repo s3://backups/db1 --retain-full 2
  xb expire --retain-full 4 --retain-days 30 --dry-run      # repo from the [xb] group")]
pub struct ExpireArgs {
    #[command(flatten)]
    pub repository: RepoArgs,
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Keep the chains of the N newest full backups (default: `retain-full` in the xb option group).
    #[arg(long, value_name = "N")]
    pub retain_full: Option<usize>,
    /// Also keep every chain with a backup that finished less than D days ago (default:
    /// `retain-days` in the xb option group).
    #[arg(long, value_name = "D")]
    pub retain_days: Option<u64>,
    /// Say what would be deleted; delete nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print JSON (schema in docs/json.md).
    #[arg(long)]
    pub json: bool,
}

/// Runs `xb expire`.
pub fn expire(a: ExpireArgs) -> anyhow::Result<u8> {
    let (repo, config) = open(&a.repository, &a.config)?;
    let Some(full) = a.retain_full.or(config.number("retain-full")?) else {
        anyhow::bail!("give --retain-full N (or retain-full in the [xb] group)");
    };
    let mut policy = ExpirePolicy::new(full);
    policy.set_retain_days(a.retain_days.or(config.number("retain-days")?));
    let r = repo.expire(&policy, a.dry_run)?;
    if a.json {
        print_json(&r)?;
        return Ok(EXIT_OK);
    }
    let verb = if a.dry_run { "would delete" } else { "deleted" };
    for d in &r.deleted {
        ui::summary(format!(
            "{verb} {} ({}{}, {} objects, {})",
            d.id,
            if d.complete {
                d.kind.to_string()
            } else {
                "incomplete".to_string()
            },
            d.chain
                .as_ref()
                .map_or(String::new(), |c| format!(", chain of {c}")),
            d.objects,
            mib(d.bytes)
        ));
    }
    if let Some(h) = &r.locked_by {
        ui::summary(format!(
            "the stanza is locked by {h}: a real run would be refused now"
        ));
    }
    ui::summary(format!(
        "{verb} {} backups ({} objects, {}); kept {}: {}",
        r.deleted.len(),
        r.objects,
        mib(r.bytes),
        r.kept.len(),
        r.kept.join(" ")
    ));
    Ok(EXIT_OK)
}

/// Arguments of `xb restore`.
#[derive(clap::Args)]
#[command(after_help = "\
Restores a backup of the repository (the newest complete one, or --backup ID) into a new \
datadir in one command: its chain is read from the repository in parallel, every object checked \
against its manifest checksum; the full backup is downloaded beside the datadir (DATADIR.xb-restore, \
the same filesystem), the incrementals are merged into it in one pass straight from the \
repository (never downloaded whole), then the files are moved into the datadir. Disk use: the \
restored datadir plus a few parts in memory. With --apply-redo the server's crash recovery runs \
on the result, so that the first start needs none. A restore that was interrupted is finished by \
running the same command again.

Exit status: 0 restored; 2 error (a missing or damaged object is named; nothing is left looking \
restored).

Examples:
  xb restore --repo s3://backups/db1 --datadir /var/lib/mysql.new
  xb restore --repo /srv/xb-repo --backup 20261206-020000I --datadir /srv/restore --apply-redo")]
pub struct RestoreArgs {
    #[command(flatten)]
    pub repository: RepoArgs,
    #[command(flatten)]
    pub config: ConfigArgs,
    /// The new datadir (absent or empty).
    #[arg(long, value_name = "DIR")]
    pub datadir: PathBuf,
    /// The backup to restore (default: the newest complete one).
    #[arg(long, value_name = "ID")]
    pub backup: Option<String>,
    /// Run the server's crash recovery on the result (as xb prepare --apply-redo).
    #[arg(long)]
    pub apply_redo: bool,
    /// The server binary for --apply-redo (default: mariadbd on PATH or in /usr/sbin).
    #[arg(long, value_name = "PATH", requires = "apply_redo")]
    pub mariadbd: Option<PathBuf>,
    /// Download and copy threads (default 4).
    #[arg(long, value_name = "N")]
    pub parallel: Option<usize>,
    /// Where to stage the full backup (default: DATADIR.xb-restore; must be on the
    /// datadir's filesystem for the final move to be a rename).
    #[arg(long, value_name = "DIR")]
    pub staging_dir: Option<PathBuf>,
    #[command(flatten)]
    pub keys: super::codec_args::AgeKeyArgs,
    /// Print JSON (schema in docs/json.md).
    #[arg(long)]
    pub json: bool,
}

/// Runs `xb restore`.
pub fn restore(a: RestoreArgs) -> anyhow::Result<u8> {
    let (repo, config) = open(&a.repository, &a.config)?;
    let mut keys = a.keys.clone();
    if keys.encrypt_key_file.is_none() {
        keys.encrypt_key_file = config.get("encrypt-key-file").map(Into::into);
    }
    let mut o = RestoreOptions::new(&a.datadir);
    o.set_backup(a.backup.clone())
        .set_keys(keys.keys()?)
        .set_staging_dir(a.staging_dir.clone());
    if let Some(n) = a.parallel {
        o.set_parallel(n);
    }
    if a.apply_redo {
        let mut r = ApplyRedoOptions::default();
        r.set_mariadbd(a.mariadbd.clone());
        o.set_apply_redo(Some(r));
    }
    let progress = CliProgress::new("restore");
    let r = repo
        .restore(&o, &progress, &Cancel::new())
        .with_context(|| format!("restoring into {}", a.datadir.display()))?;
    progress.finish();
    if r.resumed {
        ui::note("finished an interrupted restore");
    }
    for n in &r.recovery_notes {
        ui::note(format!("mariadbd: {n}"));
    }
    ui::note(format!(
        "restored {} (chain {}) into {}: {} files, {} downloaded in {:.1} s{}",
        r.backup,
        r.chain.join(" + "),
        a.datadir.display(),
        r.files_downloaded,
        mib(r.bytes_downloaded),
        r.seconds,
        if r.redo_applied {
            "; redo applied: no crash recovery needed at first start"
        } else {
            ""
        }
    ));
    if a.json {
        print_json(&r)?;
    } else {
        ui::summary(format!("start the server with: {}", r.start_command));
    }
    Ok(EXIT_OK)
}

/// Runs `xb verify --repo`.
pub fn verify(a: &super::verify::Args) -> anyhow::Result<u8> {
    use incremental_core::repo::RepoVerifyOptions;
    let (repo, config) = open(&a.repository, &a.config)?;
    let mut keys = a.keys.clone();
    if keys.encrypt_key_file.is_none() {
        keys.encrypt_key_file = config.get("encrypt-key-file").map(Into::into);
    }
    let mut o = RepoVerifyOptions::default();
    o.set_backup(a.backup.clone()).set_keys(keys.keys()?);
    if let Some(n) = a.parallel {
        o.set_parallel(n);
    }
    let progress = CliProgress::new("verify");
    let r = repo.verify(&o, &progress, &Cancel::new())?;
    progress.finish();
    if a.json {
        print_json(&r)?;
    } else {
        for b in &r.backups {
            for p in &b.problems {
                println!("{p}");
            }
            let what = if b.decoded {
                format!("{} files, {} pages", b.files, b.pages)
            } else {
                "encrypted: objects only (give the identity to check files and pages)".to_string()
            };
            println!(
                "{}: {} objects ({}), {what}: {}",
                b.id,
                b.objects,
                mib(b.bytes),
                if b.problems.is_empty() {
                    "sound".to_string()
                } else {
                    format!("{} PROBLEMS", b.problems.len())
                }
            );
        }
        println!(
            "{} backups checked in {:.1} s: {}",
            r.backups.len(),
            r.seconds,
            if r.ok() {
                "all sound"
            } else {
                "problems found"
            }
        );
    }
    Ok(if r.ok() { EXIT_OK } else { EXIT_FOUND_PROBLEM })
}
