//! Benchmark of the applier (ignored by `cargo test`; run it with `scripts/bench-apply`).
//!
//! Builds a real MariaDB base of a few hundred MB, a first incremental changing about 90% of its
//! pages (over 200 MiB of changed pages, so that fixed costs do not dominate) and 4 more changing
//! about 10% each (a different range each time), then measures in one run:
//!
//! * `xb prepare` of one incremental, against `cp` + `sync` of the same number of bytes (the
//!   raw write floor);
//! * the same against `mariabackup --prepare --incremental-dir` (on a copy of the base prepared
//!   by mariabackup beforehand; only the incremental step is timed);
//! * the chain of 5 in one pass against the 5 incrementals applied one at a time.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use incremental_core::prepare::{self, PrepareOptions};
use incremental_core::progress::{Cancel, NoProgress};
use xb_testkit::sandbox::{short_tempdir, Sandbox, SandboxOptions};

/// Waits until purge has caught up (no history left) and persistent statistics are not being
/// recalculated, then checkpoints: no page changes while the next backup runs, so its `to_lsn`
/// equals the checkpoint its redo starts from (the quiescent case of the safety rule).
fn arg(name: &str, path: &Path) -> OsString {
    let mut a = OsString::from(format!("--{name}="));
    a.push(path);
    a
}

fn sh(cmd: &str) {
    let st = Command::new("sh").arg("-c").arg(cmd).status().unwrap();
    assert!(st.success(), "{cmd}");
}

fn cp(from: &Path, to: &Path) {
    sh(&format!(
        "cp -a '{}' '{}' && sync",
        from.display(),
        to.display()
    ));
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn xb(base: &Path, incs: &[PathBuf]) -> (f64, prepare::PrepareReport) {
    let t = Instant::now();
    let r = prepare::prepare(
        base,
        incs,
        &PrepareOptions::default(),
        &NoProgress,
        &Cancel::new(),
    )
    .expect("xb prepare");
    (t.elapsed().as_secs_f64(), r)
}

#[test]
#[ignore = "benchmark: run scripts/bench-apply"]
fn bench_apply() {
    let keep = std::env::var_os("XB_BENCH_KEEP").map(PathBuf::from);
    let tables = env_u64("XB_BENCH_TABLES", 6);
    let rows = env_u64("XB_BENCH_ROWS", 80_000);
    let opts = SandboxOptions::default()
        .option("innodb_stats_auto_recalc", "OFF")
        .option("innodb_buffer_pool_size", "256M")
        .option("innodb_log_file_size", "256M");
    let mut server = Sandbox::in_tempdir(&opts).expect("sandbox");
    let work = short_tempdir().unwrap();
    let w = work.path();
    let t0 = Instant::now();
    server.sql("CREATE DATABASE b").unwrap();
    for t in 0..tables {
        server
            .sql(&format!(
                "USE b; CREATE TABLE t{t} (id INT PRIMARY KEY, v VARCHAR(400)) ENGINE=InnoDB; \
                 INSERT INTO t{t} SELECT seq, REPEAT(CHAR(65 + seq % 26), 350) \
                 FROM seq_1_to_{rows};"
            ))
            .unwrap();
    }
    server.quiesce().unwrap();
    let full = w.join("full");
    server
        .mariabackup([OsString::from("--backup"), arg("target-dir", &full)])
        .unwrap();
    let mut incs = Vec::new();
    for k in 0..5u64 {
        // First 90% of the rows, then about 10%, a different contiguous range each time.
        let (lo, hi) = if k == 0 {
            (1, rows * 9 / 10)
        } else {
            (
                (k - 1) * rows / 10 * 2 + 1,
                (k - 1) * rows / 10 * 2 + rows / 10,
            )
        };
        let mut sql = String::from("USE b;");
        for t in 0..tables {
            sql.push_str(&format!(
                "UPDATE t{t} SET v = REPEAT(CHAR(97 + (id + {k}) % 26), 350) \
                 WHERE id BETWEEN {lo} AND {hi};"
            ));
        }
        server.sql(&sql).unwrap();
        server.quiesce().unwrap();
        let inc = w.join(format!("inc{}", k + 1));
        let basedir = incs.last().unwrap_or(&full).clone();
        server
            .mariabackup([
                OsString::from("--backup"),
                arg("target-dir", &inc),
                arg("incremental-basedir", &basedir),
            ])
            .unwrap();
        incs.push(inc);
    }
    server.stop().unwrap();
    let base_bytes: u64 = fs::read_dir(full.join("b"))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    eprintln!(
        "setup {:.0}s: base {} MiB of tables, 5 incrementals",
        t0.elapsed().as_secs_f64(),
        base_bytes >> 20
    );

    // The base, prepared by mariabackup (log-applied) beforehand, untimed, for both tools: with
    // a few hundred MB, a checkpoint nearly always moves during mariabackup's full backup (its
    // to_lsn ends up above its redo start), and the safety rule refuses an unprepared base then.
    let mbcmd = |args: Vec<OsString>| {
        let mut c = Command::new("mariabackup");
        c.arg(format!(
            "--defaults-file={}",
            server.defaults_file().display()
        ));
        c.args(args);
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let unprepared = full.clone();
    let prepared = w.join("prepared");
    cp(&full, &prepared);
    mbcmd(vec!["--prepare".into(), arg("target-dir", &prepared)]);
    let full = prepared;

    // 1. One incremental: xb vs cp of the same bytes.
    let x1 = w.join("x1");
    cp(&full, &x1);
    let (t_xb, r) = xb(&x1, &incs[..1]);
    let bytes = r.bytes_written;
    let blob = w.join("blob");
    sh(&format!(
        "head -c {bytes} /dev/urandom > '{}' && sync",
        blob.display()
    ));
    let t = Instant::now();
    cp(&blob, &w.join("blob.copy"));
    let t_cp = t.elapsed().as_secs_f64();
    let mib = bytes as f64 / 1048576.0;
    eprintln!(
        "xb prepare (1 incremental): {mib:.0} MiB of pages in {t_xb:.2}s = {:.0} MiB/s; \
         cp+sync of {mib:.0} MiB: {t_cp:.2}s = {:.0} MiB/s; ratio xb/cp = {:.2}",
        mib / t_xb,
        mib / t_cp,
        t_cp / t_xb
    );

    // 2. mariabackup --prepare --incremental-dir on the same backups.
    let mb = w.join("mb");
    cp(&full, &mb);
    let inc_copy = w.join("mbinc1");
    cp(&incs[0], &inc_copy);
    let t = Instant::now();
    mbcmd(vec![
        "--prepare".into(),
        arg("target-dir", &mb),
        arg("incremental-dir", &inc_copy),
    ]);
    sh("sync");
    let t_mb = t.elapsed().as_secs_f64();
    eprintln!(
        "mariabackup --prepare --incremental-dir: {t_mb:.2}s; xb is {:.1}x faster",
        t_mb / t_xb
    );

    // 3. Chain of 5: one pass vs one at a time.
    let c1 = w.join("c1");
    cp(&full, &c1);
    let (t_chain, rc) = xb(&c1, &incs);
    let c2 = w.join("c2");
    cp(&full, &c2);
    let mut t_seq = 0.0;
    let mut pages_seq = 0;
    for inc in &incs {
        let (t, r) = xb(&c2, std::slice::from_ref(inc));
        t_seq += t;
        pages_seq += r.pages_written;
    }
    eprintln!(
        "chain of 5 in one pass: {t_chain:.2}s, {} pages written; one at a time: {t_seq:.2}s, \
         {pages_seq} pages written; one pass / sequential = {:.2}; one pass / one incremental \
         = {:.2}",
        rc.pages_written,
        t_chain / t_seq,
        t_chain / t_xb
    );
    // Both ways give the same tablespaces.
    sh(&format!(
        "cd '{}' && for f in b/*.ibd; do cmp -s \"$f\" '{}'/\"$f\" || exit 1; done",
        c1.display(),
        c2.display()
    ));
    // For profiling by hand: keep the backups (the unprepared full, the prepared one, the
    // incrementals).
    if let Some(k) = keep {
        fs::create_dir_all(&k).unwrap();
        for d in std::iter::once(&unprepared)
            .chain(std::iter::once(&full))
            .chain(&incs)
        {
            sh(&format!("mv '{}' '{}'/", d.display(), k.display()));
        }
    }
}
