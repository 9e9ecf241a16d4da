//! Helpers shared by the real-server tests: reach a sandbox, take a hot backup of it, take a
//! reference while the backup holds commits blocked, keep a work directory on demand.
#![allow(dead_code)] // each test binary uses a part

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use incremental_core::backup::sink::DirSink;
use incremental_core::backup::{
    BackupOptions, BackupPlan, BackupReport, ConnectOptions, Incremental,
};
use incremental_core::prepare::{self, PrepareOptions};
use incremental_core::progress::{Cancel, Event, NoProgress, Progress};
use xb_testkit::sandbox::{short_tempdir, Sandbox};

/// How the tests reach a sandbox: its socket, as root, no option files.
pub fn connect(sb: &Sandbox) -> ConnectOptions {
    let mut c = ConnectOptions::new();
    c.set_socket(sb.socket())
        .set_user("root")
        .set_no_defaults(true);
    c
}

/// A hot backup of the running `sb` into `target` (an incremental on `base` when given),
/// reading at most `mib_per_s` MiB per second (none: as fast as it can), so that writes and
/// DDL happen during the copy. Panics unless the backup succeeds and was hot.
pub fn hot_backup(
    sb: &Sandbox,
    target: &Path,
    base: Option<&Path>,
    mib_per_s: Option<u64>,
    progress: &dyn Progress,
) -> BackupReport {
    let mut opts = BackupOptions::new(sb.datadir());
    opts.set_incremental(base.map(|b| Incremental::Basedir(b.to_path_buf())))
        .set_chunk_bytes(256 << 10)
        .set_parallel(2)
        .set_read_limit(mib_per_s.map(|m| m << 20))
        .set_connect(connect(sb));
    let plan = BackupPlan::new(&opts).expect("plan");
    assert!(plan.mode().is_hot(), "{}", plan.mode());
    let mut sink = DirSink::new(target).unwrap().sync(false);
    plan.run(&mut sink, progress, &Cancel::new())
        .unwrap_or_else(|e| panic!("hot backup into {}: {e}", target.display()))
}

/// `xb prepare` of the full backup `full` alone, with the default options; panics on failure.
pub fn prepare_full(full: &Path) {
    let opts = PrepareOptions::default();
    prepare::prepare(full, &[], &opts, &NoProgress, &Cancel::new())
        .unwrap_or_else(|e| panic!("xb prepare of {}: {e}", full.display()));
}

/// Takes a value (a reference of the source's tables) when the backup reaches its consistent
/// point, while commits are blocked: the state the restored backup must show.
pub struct AtConsistentPoint<T, F> {
    take: F,
    value: Mutex<Option<T>>,
}

impl<T: Send, F: Fn() -> T + Sync> AtConsistentPoint<T, F> {
    /// Calls `take` at the consistent point.
    pub fn new(take: F) -> Self {
        AtConsistentPoint {
            take,
            value: Mutex::new(None),
        }
    }

    /// What `take` returned; panics if the backup never reached its consistent point.
    pub fn value(self) -> T {
        self.value
            .into_inner()
            .unwrap()
            .expect("no consistent point was reported")
    }
}

impl<T: Send, F: Fn() -> T + Sync> Progress for AtConsistentPoint<T, F> {
    fn event(&self, e: Event<'_>) {
        if let Event::ConsistentPoint { .. } = e {
            *self.value.lock().unwrap() = Some((self.take)());
        }
    }
}

/// A temporary work directory; kept (and named) when `XB_TEST_KEEP` is set, to look at a
/// failure.
pub fn work_dir() -> (Option<tempfile::TempDir>, PathBuf) {
    let t = short_tempdir().unwrap();
    if std::env::var_os("XB_TEST_KEEP").is_some() {
        let p = t.keep();
        eprintln!("work dir kept: {}", p.display());
        (None, p)
    } else {
        let p = t.path().to_path_buf();
        (Some(t), p)
    }
}

/// `--name=path`, for `mariabackup`.
pub fn arg(name: &str, path: &Path) -> OsString {
    let mut a = OsString::from(format!("--{name}="));
    a.push(path);
    a
}
