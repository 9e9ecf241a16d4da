//! The round's hot backup and its reference: the load and the DDL run while `xb backup`
//! copies, then stop; a long write to a MyISAM table, started before the backup, holds the
//! backup's end (`BACKUP STAGE BLOCK_COMMIT` waits for it) until the tables' checksums are
//! taken, so that they are the backup's end state (the approach of
//! `xb-cli/tests/common/hot.rs`).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::Duration;

use xb_testkit::load::{connect, Queryable};
use xb_testkit::sandbox::Sandbox;

use super::cmd::{Cmds, Done, Spawned};
use super::error::{failure, Ctx, RoundError, R};
use super::load::{start_sysbench, Ddl};
use super::plan::{Kind, Plan};

/// `CHECKSUM TABLE … EXTENDED` by table.
pub type Sums = BTreeMap<String, String>;

/// One backup of the chain.
#[derive(Debug, Clone)]
pub struct Backup {
    /// Its directory.
    pub dir: PathBuf,
}

/// The current chain: a full and its incrementals, oldest first.
#[derive(Debug, Default)]
pub struct Chain {
    /// The backups.
    pub backups: Vec<Backup>,
    /// Incrementals to reach before the next full.
    pub target: usize,
}

/// What `xb backup --json` said.
#[derive(Debug, Clone)]
pub struct Report {
    /// `full`, `scan` or `bitmap`.
    pub method: String,
    /// Why bitmaps were not used, when they were asked for.
    pub fallback: Option<String>,
}

/// The `xb backup` command of a round.
pub fn backup_cmd(
    xb: &Path,
    sb: &Sandbox,
    target: &Path,
    base: Option<&Path>,
    kind: Kind,
    bitmaps: &Path,
    throttle: u64,
) -> Command {
    let mut c = Command::new(xb);
    c.arg("backup")
        .arg("--defaults-file")
        .arg(sb.defaults_file())
        .arg("--target-dir")
        .arg(target)
        .args(["--no-sync", "--json", &format!("--throttle={throttle}")]);
    if let Some(b) = base {
        c.arg("--incremental-basedir").arg(b);
        match kind {
            Kind::IncScan => {
                c.arg("--incremental-force-scan");
            }
            _ => {
                c.arg("--bitmap-dir").arg(bitmaps);
            }
        }
    }
    c
}

/// Parses the report of `xb backup --json`.
pub fn report(d: &Done) -> R<Report> {
    let v: serde_json::Value = serde_json::from_str(d.stdout.trim())
        .ctx(format!("xb backup --json printed {:?}", d.stdout))?;
    Ok(Report {
        method: v["method"].as_str().unwrap_or("?").to_string(),
        fallback: v["fallback_reason"].as_str().map(str::to_string),
    })
}

/// The tables of `sbtest` and `soak`.
pub fn tables(socket: &Path) -> R<Vec<String>> {
    let mut c = connect(socket).ctx("connect")?;
    c.query(
        "SELECT CONCAT(table_schema, '.', table_name) FROM information_schema.tables \
         WHERE table_schema IN ('sbtest', 'soak') AND table_type = 'BASE TABLE' ORDER BY 1",
    )
    .ctx("list the tables")
}

/// `CHECKSUM TABLE … EXTENDED` of every table of `sbtest` and `soak`.
pub fn checksums(socket: &Path) -> R<Sums> {
    let names = tables(socket)?;
    let mut c = connect(socket).ctx("connect")?;
    let rows: Vec<(String, Option<String>)> = c
        .query(format!("CHECKSUM TABLE {} EXTENDED", names.join(", ")))
        .ctx("CHECKSUM TABLE")?;
    rows.into_iter()
        .map(|(t, s)| match s {
            Some(s) => Ok((t, s)),
            None => failure(format!("{t}: no checksum")),
        })
        .collect()
}

/// What the hot backup under load did.
#[derive(Debug)]
pub struct Hot {
    /// xb's end.
    pub done: Done,
    /// The reference, if the hold lasted until it was taken.
    pub reference: Option<Sums>,
    /// DDL statements run (ok, failed).
    pub ddl: (u64, u64),
}

/// Runs `backup` (a prepared `xb backup` command) under the round's load, and takes the
/// reference while the backup's end is held back. `during` runs after the backup started
/// (a resize, for example).
pub fn hot_under_load(
    cmds: &mut Cmds,
    sb: &Sandbox,
    plan: &Plan,
    seed: u64,
    backup: &mut Command,
    during: impl FnOnce(),
) -> R<Hot> {
    let socket = sb.socket();
    let hold_secs = plan.load_secs + 15;
    let sysbench = start_sysbench(cmds, &socket, plan.load_secs, plan.threads, seed)?;
    let ddl = plan
        .ddl
        .then(|| Ddl::start(&socket, plan.ddl_seed, cmds.dir().join("ddl.sql")));
    thread::sleep(Duration::from_millis(300));
    let mut hold_cmd = sb.client_command();
    hold_cmd.args(["-e", &format!("UPDATE hold.m SET v = SLEEP({hold_secs})")]);
    let mut hold = cmds.spawn("hold", &mut hold_cmd)?;
    thread::sleep(Duration::from_millis(300));
    let xb = cmds.spawn("xb-backup", backup)?;
    during();
    let sb_done = sysbench.wait()?;
    let ddl_stats = ddl.map(Ddl::stop).unwrap_or_default();
    let held = matches!(hold.child.try_wait(), Ok(None));
    let reference = if held {
        Some(checksums(&socket)?)
    } else {
        None
    };
    let held = held && matches!(hold.child.try_wait(), Ok(None));
    let done = xb.wait()?;
    let _ = hold.wait();
    if !sb_done.status.success() {
        cmds.note(&format!("sysbench ended with {}", sb_done.status));
    }
    Ok(Hot {
        done,
        reference: if held { reference } else { None },
        ddl: (ddl_stats.ok, ddl_stats.failed),
    })
}

/// A backup directory holds `xtrabackup_checkpoints` (the mark of a complete backup).
pub fn is_complete(dir: &Path) -> bool {
    dir.join("xtrabackup_checkpoints").exists()
}

/// Removes a directory tree, ignoring a missing one.
pub fn remove(dir: &Path) -> R<()> {
    match fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(RoundError::Failure(format!(
            "remove {}: {e}",
            dir.display()
        ))),
        _ => Ok(()),
    }
}

/// A program that was started, waited for while a kill is pending.
pub fn kill_after(s: &mut Spawned, ms: u64) -> bool {
    let step = 20;
    let mut left = ms;
    while left > 0 {
        if let Ok(Some(_)) = s.child.try_wait() {
            return false;
        }
        thread::sleep(Duration::from_millis(step.min(left)));
        left = left.saturating_sub(step);
    }
    s.kill9()
}
