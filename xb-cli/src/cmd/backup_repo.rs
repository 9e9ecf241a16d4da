//! `xb backup --repo`: a backup into a repository, full or incremental as the library decides
//! (an incremental on the stanza's newest complete backup, unless `--type=full` or there is
//! none), with the repository's compression and encryption settings.

use anyhow::Context;
use incremental_core::backup::BackupOptions;
use incremental_core::codec::CodecOptions;
use incremental_core::progress::Cancel;
use incremental_core::repo::{BaseChoice, RepoBackupOptions, RepoBackupReport, RepoError};

use super::backup::{Args, RepoBackupType};
use super::repo_args::{Config, GROUP};
use crate::ui::{self, CliProgress};

/// Runs `xb backup --repo`.
pub fn run(a: &Args, options: BackupOptions, config: &Config) -> anyhow::Result<u8> {
    if a.incremental_basedir.is_some()
        || a.incremental_lsn.is_some()
        || a.incremental_history_name.is_some()
        || a.incremental_history_uuid.is_some()
    {
        anyhow::bail!(
            "--repo chooses the base itself (the stanza's newest complete backup): leave out \
             --incremental-basedir, --incremental-lsn and --incremental-history-*; --type=full \
             forces a full backup"
        );
    }
    if a.extra_lsndir.is_some() {
        anyhow::bail!(
            "--extra-lsndir is not used with --repo (the repository keeps each backup's LSNs)"
        );
    }
    let repo = a.repository.open(config)?;
    let mut o = RepoBackupOptions::new(options);
    o.set_codec(codec_options(a, config)?)
        .set_force_full(a.backup_type == Some(RepoBackupType::Full));
    if let Some(n) = config.number::<usize>("upload-threads")? {
        o.set_upload_threads(n);
    }
    let location = repo.store().location().to_string();
    let plan = repo
        .plan_backup(&o)
        .map_err(|e| match e {
            RepoError::Backup(b) => super::backup::planning_error(a, b),
            e => anyhow::Error::new(e),
        })
        .with_context(|| format!("backup into {location}"))?;
    let kind = match plan.base() {
        BaseChoice::Forced => "full (asked for)".to_string(),
        BaseChoice::NoBackup => "full (the stanza has no complete backup to base on)".to_string(),
        BaseChoice::Newest { id } => format!("incremental on {id} (the stanza's newest backup)"),
        _ => "repository".to_string(),
    };
    ui::note(super::backup::describe(plan.engine(), Some(&kind)));
    ui::note(format!("into {location}, stanza {}", repo.stanza()));
    let progress = CliProgress::new("backup");
    let report = plan
        .run(&progress, &Cancel::new())
        .with_context(|| format!("backup into {location}"))?;
    progress.finish();
    describe(&report);
    let code = super::backup::print_report(a, &report.backup)?;
    if a.json {
        super::print_json(&report)?;
    }
    Ok(code)
}

/// The compression and encryption options: the command line's, else the `[xb]` group's
/// (`compress`, `compress-level`, `compress-threads`, `encrypt`, `encrypt-key-file`).
fn codec_options(a: &Args, config: &Config) -> anyhow::Result<CodecOptions> {
    let mut e = a.codec.clone();
    if e.compress.is_none() {
        e.compress = config.get("compress").map(|v| {
            if v.is_empty() {
                "zstd".to_string()
            } else {
                v.to_string()
            }
        });
        if e.compress_level.is_none() {
            e.compress_level = config.number("compress-level")?;
        }
        if e.compress_threads.is_none() {
            e.compress_threads = config.number("compress-threads")?;
        }
    }
    if !e.encrypt && config.flag("encrypt") {
        e.encrypt = true;
    }
    if e.keys.encrypt_key_file.is_none() {
        e.keys.encrypt_key_file = config.get("encrypt-key-file").map(Into::into);
    }
    e.options()
        .with_context(|| format!("compression and encryption (command line and [{GROUP}])"))
}

/// What was decided, and what became of an interrupted attempt.
fn describe(r: &RepoBackupReport) {
    let kind = match &r.base {
        BaseChoice::Forced => "full backup (asked for)".to_string(),
        BaseChoice::NoBackup => {
            "full backup (the stanza has no complete backup to base on)".to_string()
        }
        BaseChoice::Newest { id } => {
            format!("incremental backup on {id}, the newest complete backup")
        }
        _ => "backup".to_string(),
    };
    let mode = if r.backup.hot().is_some() {
        "hot"
    } else {
        "cold"
    };
    ui::note(format!("{mode} {kind}: {}", r.id));
    if let Some(s) = &r.resumed {
        if s.continued {
            ui::note(format!(
                "resumed the interrupted attempt {}: kept {} objects ({} bytes) already stored; {}",
                s.id, s.kept_objects, s.kept_bytes, s.why
            ));
        } else {
            ui::note(format!(
                "removed the interrupted attempt {} ({} objects): {}",
                s.id, s.deleted_objects, s.why
            ));
        }
    }
    if !r.base_names {
        ui::note(
            "the base's tablespace names could not be read (an encrypted base, and no identity to \
             decrypt it): a table renamed since the base is stored as a new one",
        );
    }
    ui::note(format!(
        "stored {} files ({} bundled): {} bytes, {} stored; {} objects uploaded, {} kept; {:.1} s",
        r.files,
        r.bundled_files,
        r.plain_bytes,
        r.stored_bytes,
        r.objects_uploaded,
        r.objects_kept,
        r.seconds
    ));
}
