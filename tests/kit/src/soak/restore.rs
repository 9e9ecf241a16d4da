//! Restoring the chain by both routes, and comparing each restored server with the reference:
//! the same tables, the same `CHECKSUM TABLE … EXTENDED`, and `CHECK TABLE … EXTENDED` OK.
//!
//! * route xb: `xb prepare` of the chain in one pass (on a copy), `xb copy-back --move-back`,
//!   and the server's recovery at its first start (or `--apply-redo`);
//! * route mariabackup: `mariabackup --prepare` of the full, then `--prepare
//!   --incremental-dir` per incremental, on a copy, and a server started on the result.

use std::path::{Path, PathBuf};
use std::process::Command;

use xb_testkit::load::{connect, Queryable};
use xb_testkit::sandbox::{copy_dir, Sandbox, SandboxOptions};

use super::backup::{checksums, remove, Backup, Sums};
use super::cmd::Cmds;
use super::error::{Ctx, RoundError, R};

/// Copies the chain into `dir` (`0-full`, `1-inc`, …); returns the copies, oldest first.
pub fn copy_chain(cmds: &mut Cmds, chain: &[Backup], dir: &Path) -> R<Vec<PathBuf>> {
    let mut out = Vec::new();
    for (i, b) in chain.iter().enumerate() {
        let to = dir.join(format!("{i}-{}", if i == 0 { "full" } else { "inc" }));
        cmds.note(&format!("cp -a {} {}", b.dir.display(), to.display()));
        copy_dir(&b.dir, &to).ctx(format!("copy {}", b.dir.display()))?;
        out.push(to);
    }
    Ok(out)
}

/// `xb prepare` of a copied chain.
pub fn xb_prepare_cmd(xb: &Path, copies: &[PathBuf], apply_redo: bool) -> Command {
    let mut c = Command::new(xb);
    c.arg("prepare").arg("--target-dir").arg(&copies[0]);
    for inc in &copies[1..] {
        c.arg("--incremental-dir").arg(inc);
    }
    if apply_redo {
        c.arg("--apply-redo");
    }
    c
}

/// The rest of route xb after the prepare: copy-back into `dir/data`, then a server on it,
/// compared with `reference`.
pub fn xb_restore(
    cmds: &mut Cmds,
    xb: &Path,
    prepared: &Path,
    dir: &Path,
    opts: &SandboxOptions,
    reference: &Sums,
) -> R<()> {
    let data = dir.join("data");
    cmds.run_ok(
        "xb-copy-back",
        Command::new(xb)
            .arg("copy-back")
            .arg("--target-dir")
            .arg(prepared)
            .arg("--datadir")
            .arg(&data)
            .args(["--move-back", "--no-sync"]),
    )?;
    compare_on(cmds, &data, &dir.join("run"), opts, reference, "xb")
}

/// Route mariabackup on a copied chain, then the comparison.
pub fn mariabackup_restore(
    cmds: &mut Cmds,
    mariabackup: &Path,
    copies: &[PathBuf],
    dir: &Path,
    opts: &SandboxOptions,
    reference: &Sums,
) -> R<()> {
    let mut c = Command::new(mariabackup);
    c.arg("--prepare")
        .arg(format!("--target-dir={}", copies[0].display()));
    cmds.run_ok("mariabackup-prepare", &mut c)?;
    for inc in &copies[1..] {
        let mut c = Command::new(mariabackup);
        c.arg("--prepare")
            .arg(format!("--target-dir={}", copies[0].display()))
            .arg(format!("--incremental-dir={}", inc.display()));
        cmds.run_ok("mariabackup-prepare-inc", &mut c)?;
    }
    compare_on(
        cmds,
        &copies[0],
        &dir.join("run"),
        opts,
        reference,
        "mariabackup",
    )
}

/// Starts a server on `data` (sandbox files in `run`) and compares.
fn compare_on(
    cmds: &mut Cmds,
    data: &Path,
    run: &Path,
    opts: &SandboxOptions,
    reference: &Sums,
    route: &str,
) -> R<()> {
    cmds.note(&format!(
        "mariadbd on {} (sandbox in {})",
        data.display(),
        run.display()
    ));
    // a restore the server cannot start on is a wrong restore
    let mut sb = Sandbox::on_datadir(run, data, opts)
        .map_err(|e| RoundError::Mismatch(format!("route {route}: the restored server: {e}")))?;
    let r = compare(&sb, reference, route);
    let _ = sb.stop();
    let log = run.join("mysqld.err");
    let _ = std::fs::copy(
        &log,
        cmds.dir().join(format!("mysqld-restored-{route}.err")),
    );
    r
}

/// The restored server at `sb` against the reference.
pub fn compare(sb: &Sandbox, reference: &Sums, route: &str) -> R<()> {
    // a table the restored server cannot read (no checksum) is a wrong restore
    let got = checksums(&sb.socket()).map_err(|e| match e {
        RoundError::Failure(m) => RoundError::Mismatch(format!("route {route}: {m}")),
        e => e,
    })?;
    let mut diffs = Vec::new();
    for (t, want) in reference {
        match got.get(t) {
            None => diffs.push(format!("{t}: missing")),
            Some(g) if g != want => diffs.push(format!("{t}: checksum {g}, reference {want}")),
            _ => {}
        }
    }
    for t in got.keys().filter(|t| !reference.contains_key(*t)) {
        diffs.push(format!("{t}: not in the reference"));
    }
    let mut c = connect(&sb.socket()).ctx("connect to the restored server")?;
    let names: Vec<&str> = got.keys().map(String::as_str).collect();
    let rows: Vec<(String, String, String, String)> = c
        .query(format!("CHECK TABLE {} EXTENDED", names.join(", ")))
        .ctx("CHECK TABLE")?;
    for (t, _, ty, text) in rows {
        if ty.eq_ignore_ascii_case("error")
            || (ty.eq_ignore_ascii_case("status") && !text.eq_ignore_ascii_case("OK"))
        {
            diffs.push(format!("CHECK TABLE {t}: {ty}: {text}"));
        }
    }
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(RoundError::Mismatch(format!(
            "route {route}: {}",
            diffs.join("; ")
        )))
    }
}

/// Removes a restore's directory.
pub fn clean(dir: &Path) -> R<()> {
    remove(dir)
}
