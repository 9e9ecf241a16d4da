//! The faults injected before a round's backup, each followed by what a user would do, and
//! checked: a killed or starved backup never looks complete nor serves as a base.

use std::path::Path;
use std::process::Command;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use xb_testkit::load::{connect, Queryable};
use xb_testkit::sandbox::Sandbox;

use super::backup::{is_complete, kill_after, remove};
use super::cmd::{line, Cmds};
use super::error::{failure, Ctx, R};
use super::load::start_sysbench;
use super::plan::Plan;

/// A killed backup must not be complete, and must be refused as the base of an incremental.
fn check_unusable(cmds: &mut Cmds, xb: &Path, sb: &Sandbox, killed: &Path) -> R<()> {
    if is_complete(killed) {
        return failure(format!(
            "{} was killed but holds xtrabackup_checkpoints",
            killed.display()
        ));
    }
    let next = killed.with_extension("on-killed");
    let mut c = Command::new(xb);
    c.arg("backup")
        .arg("--defaults-file")
        .arg(sb.defaults_file())
        .arg("--target-dir")
        .arg(&next)
        .arg("--incremental-basedir")
        .arg(killed)
        .arg("--no-sync");
    let d = cmds.run("xb-backup-on-killed", &mut c)?;
    if d.status.success() || is_complete(&next) {
        return failure(format!(
            "an incremental on the killed backup {} was taken: {}",
            killed.display(),
            line(&c)
        ));
    }
    remove(&next)
}

/// `kill -9` of `cmd` (a backup into `target`) under the load after the plan's delay. Returns
/// whether it was killed (false: it ended first).
pub fn kill_backup(
    cmds: &mut Cmds,
    xb: &Path,
    sb: &Sandbox,
    plan: &Plan,
    seed: u64,
    cmd: &mut Command,
    target: &Path,
) -> R<bool> {
    let load = start_sysbench(cmds, &sb.socket(), plan.load_secs, plan.threads, seed)?;
    let mut s = cmds.spawn("xb-backup-killed", cmd)?;
    let killed = kill_after(&mut s, plan.kill_after_ms / 2);
    let d = s.wait()?;
    let _ = load.wait()?;
    if killed {
        check_unusable(cmds, xb, sb, target)?;
    } else if !d.status.success() {
        return failure(format!("xb backup failed: {}\n{}", line(cmd), d.tail()));
    }
    remove(target)?;
    Ok(killed)
}

/// A backup (`cmd`) into a tmpfs of the plan's size mounted at `mnt`: it must fail cleanly, or
/// succeed when it fits. Returns whether it ran out of space.
pub fn no_space(cmds: &mut Cmds, mnt: &Path, plan: &Plan, cmd: &mut Command) -> R<bool> {
    std::fs::create_dir_all(mnt).ctx("create the tmpfs mount point")?;
    cmds.run_ok(
        "mount-tmpfs",
        Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={}m", plan.tmpfs_mib),
                "tmpfs",
            ])
            .arg(mnt),
    )?;
    let d = cmds.run("xb-backup-no-space", cmd);
    let complete = is_complete(&mnt.join("b"));
    let _ = cmds.run("umount-tmpfs", Command::new("umount").arg(mnt));
    let d = d?;
    if d.status.success() {
        if !complete {
            return failure("xb backup succeeded but wrote no xtrabackup_checkpoints".to_string());
        }
        return Ok(false);
    }
    if complete {
        return failure(format!(
            "xb backup failed for lack of space but left xtrabackup_checkpoints: {}",
            d.tail()
        ));
    }
    if d.stderr.contains("panicked") || !d.stderr.to_lowercase().contains("space") {
        return failure(format!(
            "xb backup out of space did not say so cleanly (exit {}): {}",
            d.status,
            d.tail()
        ));
    }
    Ok(true)
}

/// `kill -9` of the server under the load, during a backup attempt (`cmd` into `target`) when
/// given; then a start, which runs crash recovery. Returns whether the backup attempt ended
/// before the kill.
pub fn kill_server(
    cmds: &mut Cmds,
    sb: &mut Sandbox,
    plan: &Plan,
    seed: u64,
    backup: Option<(&mut Command, &Path)>,
) -> R<()> {
    let load = start_sysbench(cmds, &sb.socket(), plan.load_secs, plan.threads, seed)?;
    let attempt = match backup {
        Some((cmd, target)) => Some((cmds.spawn("xb-backup-server-killed", cmd)?, target)),
        None => None,
    };
    thread::sleep(Duration::from_millis(plan.kill_after_ms));
    cmds.note("kill -9 of the server");
    sb.kill().ctx("kill the server")?;
    let _ = load.wait();
    if let Some((s, target)) = attempt {
        let d = s.wait()?;
        if !d.status.success() && is_complete(target) {
            return failure(format!(
                "xb backup failed when the server died but left xtrabackup_checkpoints: {}",
                d.tail()
            ));
        }
        if d.stderr.contains("panicked") {
            return failure(format!("xb backup panicked: {}", d.tail()));
        }
        remove(target)?;
    }
    cmds.note("server restarted: crash recovery");
    sb.start()
        .ctx("restart the server after kill -9 (recovery)")?;
    Ok(())
}

/// `SET GLOBAL innodb_log_file_size` after `after_ms`, from a thread; its result as text.
pub fn resize_later(socket: &Path, mib: u64, after_ms: u64) -> JoinHandle<String> {
    let socket = socket.to_path_buf();
    thread::spawn(move || {
        thread::sleep(Duration::from_millis(after_ms));
        let q = format!("SET GLOBAL innodb_log_file_size = {}", mib << 20);
        match connect(&socket).map(|mut c| c.query_drop(&q)) {
            Ok(Ok(())) => format!("{q}: ok"),
            Ok(Err(e)) => format!("{q}: {e}"),
            Err(e) => format!("{q}: {e}"),
        }
    })
}
