//! Helpers shared by the end-to-end tests: run `xb`, take cold backups of a sandbox, snapshot
//! and copy backup directories.
#![allow(dead_code)] // each test binary uses a part

pub mod hot;
pub mod synthetic;
pub mod week;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

#[allow(unused_imports)] // each test binary uses a part
pub use xb_testkit::sandbox::copy_dir;
use xb_testkit::sandbox::Sandbox;

/// What `xb` did: exit code, stdout, stderr.
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// Both streams, for assertion messages.
    pub fn all(&self) -> String {
        format!("stdout:\n{}\nstderr:\n{}", self.stdout, self.stderr)
    }
}

/// Runs `xb ARGS`.
pub fn xb<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Out {
    let o = Command::new(env!("CARGO_BIN_EXE_xb"))
        .args(args)
        .output()
        .expect("run xb");
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// `xb ARGS`, which must succeed.
pub fn xb_ok<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Out {
    let o = xb(args);
    let shown: Vec<String> = args
        .iter()
        .map(|a| a.as_ref().to_string_lossy().into_owned())
        .collect();
    assert_eq!(o.code, 0, "xb {} failed:\n{}", shown.join(" "), o.all());
    o
}

/// Checkpoints and stops `src`, takes a cold backup of its datadir into `target` (an
/// incremental on `base` when given), and leaves the server stopped.
pub fn cold_backup(src: &mut Sandbox, target: &Path, base: Option<&Path>) {
    if src.is_running() {
        src.checkpoint().expect("checkpoint");
        src.stop().expect("stop the source");
    }
    let mut args: Vec<String> = vec![
        "--quiet".into(),
        "backup".into(),
        "--datadir".into(),
        src.datadir().display().to_string(),
        "--target-dir".into(),
        target.display().to_string(),
        "--no-sync".into(),
    ];
    if let Some(b) = base {
        args.push("--incremental-basedir".into());
        args.push(b.display().to_string());
    }
    xb_ok(&args);
}

/// `key = value` of `xtrabackup_checkpoints`.
pub fn checkpoint_value(dir: &Path, key: &str) -> u64 {
    let text = fs::read_to_string(dir.join("xtrabackup_checkpoints")).expect("checkpoints");
    text.lines()
        .find_map(|l| {
            let (k, v) = l.split_once('=')?;
            (k.trim() == key).then(|| v.trim().parse().ok())?
        })
        .unwrap_or_else(|| panic!("no {key} in {}", dir.display()))
}

/// Every file under `dir` (relative path → bytes), and every directory (→ empty, with a `/`
/// appended), for comparing a tree before and after a command.
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, d: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for e in fs::read_dir(d).expect("list") {
            let p = e.expect("entry").path();
            let rel = p.strip_prefix(root).unwrap().to_path_buf();
            if p.is_dir() {
                out.insert(rel.join(""), Vec::new());
                walk(root, &p, out);
            } else {
                out.insert(rel, fs::read(&p).expect("read"));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// `.delta` files of an incremental (relative paths), sorted.
pub fn deltas(dir: &Path) -> Vec<PathBuf> {
    snapshot(dir)
        .into_keys()
        .filter(|p| p.to_string_lossy().ends_with(".delta"))
        .collect()
}

/// Data pages a delta carries: (page number, byte offset), from its first header page (enough
/// for the small deltas of these tests).
pub fn delta_pages(path: &Path, page_size: usize) -> Vec<(u32, u64)> {
    let b = fs::read(path).unwrap();
    let mut out = Vec::new();
    for (i, slot) in b[4..page_size].chunks_exact(4).enumerate() {
        let n = u32::from_be_bytes(slot.try_into().unwrap());
        if n == u32::MAX {
            break;
        }
        out.push((n, ((i + 1) * page_size) as u64));
    }
    out
}
