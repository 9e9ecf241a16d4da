//! A hot `xb backup` under a write load whose end state is known: the load runs while the
//! backup copies the tablespaces (at a `--throttle`d rate), then stops; the tables do not
//! change from then on, so their `CHECKSUM TABLE` then is their state at the backup's end,
//! provided the backup reaches its end point (under `BACKUP STAGE BLOCK_COMMIT`) after the
//! load stopped. A long write to a MyISAM table, started before the backup, holds the
//! backup's `BACKUP STAGE` locks back until it ends; the helper checks that it still runs when
//! the load has stopped.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use xb_testkit::load::{self, Load};
use xb_testkit::sandbox::Sandbox;

/// Rows of the load's big table.
pub const ROWS: u32 = 5_000;
/// MiB/s of reads: the copy of the sandbox's tablespaces (about 30 MiB) lasts a second or two.
pub const THROTTLE: &str = "--throttle=16";
/// How long the MyISAM write that holds each backup's end back lasts.
const HOLD: &str = "UPDATE hold.m SET v = SLEEP(3)";

/// `CHECKSUM TABLE` results by table.
pub type Sums = BTreeMap<String, String>;

/// Creates the load's tables and the MyISAM table that holds the backups' ends back.
pub fn setup(sb: &Sandbox) {
    Load::setup(&sb.socket(), ROWS).unwrap();
    sb.sql("CREATE DATABASE hold; CREATE TABLE hold.m (v INT) ENGINE=MyISAM; INSERT INTO hold.m VALUES (1)")
        .unwrap();
}

/// A hot `xb backup` of `sb` with `args` (and the environment `env`), standard output into
/// `stdout` when given, under the write load, which stops before the backup's end; returns the
/// load tables' checksums then. Its standard error goes to `log`.
pub fn hot_backup(
    sb: &Sandbox,
    args: &[&str],
    stdout: Option<&Path>,
    log: &Path,
    env: &[(&str, String)],
) -> Sums {
    let running = Load::start(&sb.socket(), ROWS).unwrap();
    let mut hold = sb
        .client_command()
        .args(["-e", HOLD])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let cnf = sb.defaults_file();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xb"));
    cmd.args([
        "backup",
        "--defaults-file",
        cnf.to_str().unwrap(),
        "--no-sync",
        THROTTLE,
    ])
    .args(args)
    .envs(env.iter().map(|(k, v)| (k, v)))
    .stderr(File::create(log).unwrap())
    .stdout(match stdout {
        Some(p) => Stdio::from(File::create(p).unwrap()),
        None => Stdio::null(),
    });
    let t0 = Instant::now();
    let mut child = cmd.spawn().unwrap();
    std::thread::sleep(Duration::from_millis(1200));
    let stats = running.stop().unwrap();
    let held = hold.try_wait().unwrap().is_none();
    let reference = load::checksums(&sb.socket()).unwrap();
    let status = child.wait().unwrap();
    assert!(hold.wait().unwrap().success());
    let err = std::fs::read_to_string(log).unwrap();
    eprintln!(
        "backup {args:?}: {:.1} s, load {stats:?}",
        t0.elapsed().as_secs_f64()
    );
    assert!(status.success(), "{err}");
    assert!(err.contains("xb: hot "), "{err}");
    assert!(stats.appended > 0, "{stats:?}");
    assert!(
        held,
        "the write that holds the backup's end back ended before the load stopped: the \
         backup's end state is unknown\n{err}"
    );
    reference
}
