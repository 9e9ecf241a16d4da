//! End to end, against a running MariaDB 10.11 under a write load, with the real `mbstream`,
//! `mariabackup`, `zstd`/`lz4` layouts and `age` keys: a hot full and two hot incrementals, each
//! taken by another route (full: a plain xbstream; inc1: an xbstream of zstd-compressed,
//! age-encrypted files; inc2: a directory of lz4-compressed files); the streams extracted by
//! `mbstream -x` and by `xb extract` to the same bytes; restored three ways, each checked with
//! `CHECKSUM TABLE` against the source's state at that backup's end:
//! - the full alone, extracted by `mbstream` and prepared by `mariabackup --prepare`;
//! - full + inc1, prepared by `xb prepare` straight from the two streams;
//! - full + inc1 + inc2, prepared by `xb prepare` from directories (the full extracted by
//!   `xb extract`, inc1 extracted by `mbstream` then decoded by `xb decompress`, inc2 read
//!   compressed as it is).
//!
//! And a `mariabackup --stream=xbstream` backup (taken after inc2, the load stopped) extracted
//! by `xb extract` to the bytes `mbstream` gives, and restored, with inc2's checksums, by
//! `xb prepare` straight from it. Needs MariaDB (fails without it).
//!
//! The reference of each backup: the write load runs while the backup copies the tablespaces
//! (at a `--throttle`d rate), then stops; the tables do not change from then on, so their
//! `CHECKSUM TABLE` then is their state at the backup's end, provided the backup reaches its
//! end point (under `BACKUP STAGE BLOCK_COMMIT`) after the load stopped. A long write to a
//! MyISAM table, started before the backup, holds the backup's `BACKUP STAGE` locks back
//! until it ends; the test checks that it still runs when the load has stopped.

mod common;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use common::hot::{self, hot_backup, Sums, ROWS};
use common::{snapshot, xb_ok};
use xb_testkit::load;
use xb_testkit::sandbox::{short_tempdir, Sandbox, SandboxOptions};

/// Runs `cmd`, which must succeed; standard input from `stdin` when given.
fn run(cmd: &mut Command, stdin: Option<&Path>) {
    if let Some(p) = stdin {
        cmd.stdin(File::open(p).unwrap());
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `mbstream -x` of `stream` into the new directory `dir`.
fn mbstream_x(stream: &Path, dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    run(
        Command::new("mbstream").args(["-x", "-C", s(dir)]),
        Some(stream),
    );
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Restores the prepared backup `dir`, starts a server on it and compares its checksums with
/// `reference`.
fn restore_and_check(dir: &Path, work: &Path, name: &str, opts: &SandboxOptions, reference: &Sums) {
    let datadir = work.join(format!("{name}.datadir"));
    xb_ok(&[
        "copy-back",
        "--quiet",
        "--no-sync",
        "--target-dir",
        s(dir),
        "--datadir",
        s(&datadir),
    ]);
    let run = short_tempdir().unwrap();
    let r = Sandbox::on_datadir(run.path(), &datadir, opts).expect("restored server");
    load::check(&r.socket(), ROWS).unwrap();
    assert_eq!(&load::checksums(&r.socket()).unwrap(), reference, "{name}");
}

/// An age key file with the identity and its recipient (age-keygen's).
fn age_key(path: &Path) {
    run(Command::new("age-keygen").args(["-o", s(path)]), None);
    let public = Command::new("age-keygen")
        .args(["-y", s(path)])
        .output()
        .unwrap();
    assert!(public.status.success());
    let mut text = std::fs::read_to_string(path).unwrap();
    text.push_str(&String::from_utf8(public.stdout).unwrap());
    std::fs::write(path, text).unwrap();
}

#[test]
fn hot_chain_streamed_compressed_encrypted_restores_by_every_route() {
    let t_all = Instant::now();
    // pages flushed and checkpoints taken during the backups: the incrementals hold deltas
    let opts = SandboxOptions::default()
        .option("innodb_log_file_size", "8M")
        .option("innodb_max_dirty_pages_pct", "5")
        .option("innodb_flush_log_at_trx_commit", "2");
    let mut sb = Sandbox::in_tempdir(&opts).expect("MariaDB sandbox");
    hot::setup(&sb);
    let work = short_tempdir().unwrap();
    let w = work.path();
    let key = w.join("key.txt");
    age_key(&key);
    let p = |n: &str| -> PathBuf { w.join(n) };

    // the chain, each backup by another route
    let ref0 = hot_backup(
        &sb,
        &["--stream=xbstream", "--extra-lsndir", s(&p("lsn0"))],
        Some(&p("full.xbs")),
        &p("full.log"),
        &[],
    );
    let ref1 = hot_backup(
        &sb,
        &[
            "--stream=xbstream",
            "--compress=zstd",
            "--encrypt",
            "--encrypt-key-file",
            s(&key),
            "--incremental-basedir",
            s(&p("lsn0")),
            "--extra-lsndir",
            s(&p("lsn1")),
        ],
        Some(&p("inc1.xbs")),
        &p("inc1.log"),
        &[],
    );
    let ref2 = hot_backup(
        &sb,
        &[
            "--target-dir",
            s(&p("inc2")),
            "--compress=lz4",
            "--incremental-basedir",
            s(&p("lsn1")),
        ],
        None,
        &p("inc2.log"),
        &[],
    );
    assert_ne!(ref0, ref1);
    assert_ne!(ref1, ref2);
    for log in ["inc1.log", "inc2.log"] {
        let err = std::fs::read_to_string(p(log)).unwrap();
        assert!(
            !err.contains(" 0 copied"),
            "an incremental without deltas:\n{err}"
        );
    }
    // mariabackup's own stream of the same server
    let out = sb
        .mariabackup_command()
        .args(["--backup", "--stream=xbstream"])
        .arg(format!("--target-dir={}", s(&p("mb.tmp"))))
        .stdout(File::create(p("mb.xbs")).unwrap())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    sb.stop().unwrap();
    eprintln!("backups taken at {:.1} s", t_all.elapsed().as_secs_f64());

    // extraction: mbstream and xb extract (from a file, and from standard input) agree
    mbstream_x(&p("full.xbs"), &p("full.mb"));
    xb_ok(&[
        "extract",
        "--quiet",
        "--no-sync",
        "--target-dir",
        s(&p("full.xb")),
        s(&p("full.xbs")),
    ]);
    assert_eq!(snapshot(&p("full.mb")), snapshot(&p("full.xb")));
    assert!(p("full.xb/ibdata1").exists() && p("full.xb/xtrabackup_checkpoints").exists());
    mbstream_x(&p("inc1.xbs"), &p("inc1.mb"));
    run(
        Command::new(env!("CARGO_BIN_EXE_xb")).args([
            "extract",
            "--quiet",
            "--no-sync",
            "--target-dir",
            s(&p("inc1.xb")),
            "-",
        ]),
        Some(&p("inc1.xbs")),
    );
    assert_eq!(snapshot(&p("inc1.mb")), snapshot(&p("inc1.xb")));
    assert!(p("inc1.mb/ibdata1.delta.zst.age").exists());
    mbstream_x(&p("mb.xbs"), &p("mb.mb"));
    xb_ok(&[
        "extract",
        "--quiet",
        "--no-sync",
        "--target-dir",
        s(&p("mb.xb")),
        s(&p("mb.xbs")),
    ]);
    assert_eq!(snapshot(&p("mb.mb")), snapshot(&p("mb.xb")));
    assert!(p("mb.xb/ibdata1").exists());

    // the full alone: mbstream's extraction prepared by mariabackup
    run(
        Command::new("mariabackup")
            .args(["--prepare", &format!("--target-dir={}", s(&p("full.mb")))]),
        None,
    );
    restore_and_check(&p("full.mb"), w, "a", &opts, &ref0);

    // full + inc1: xb prepare straight from the streams
    xb_ok(&[
        "prepare",
        "--quiet",
        "--stream",
        s(&p("full.xbs")),
        "--target-dir",
        s(&p("c")),
        "--incremental-dir",
        s(&p("inc1.xbs")),
        "--encrypt-key-file",
        s(&key),
    ]);
    restore_and_check(&p("c"), w, "c", &opts, &ref1);

    // full + inc1 + inc2 from directories: inc1 decoded by xb decompress, inc2 as it is
    xb_ok(&[
        "decompress",
        "--quiet",
        "--remove-original",
        "--encrypt-key-file",
        s(&key),
        s(&p("inc1.mb")),
    ]);
    assert!(p("inc1.mb/ibdata1.delta").exists());
    assert!(!p("inc1.mb/ibdata1.delta.zst.age").exists());
    assert!(p("inc2/ibdata1.delta.lz4").exists());
    xb_ok(&[
        "prepare",
        "--quiet",
        "--target-dir",
        s(&p("full.xb")),
        "--incremental-dir",
        s(&p("inc1.mb")),
        "--incremental-dir",
        s(&p("inc2")),
    ]);
    restore_and_check(&p("full.xb"), w, "b", &opts, &ref2);

    // mariabackup's stream, taken after inc2 with the load stopped: xb prepare straight from it
    xb_ok(&[
        "prepare",
        "--quiet",
        "--stream",
        s(&p("mb.xbs")),
        "--target-dir",
        s(&p("d")),
    ]);
    restore_and_check(&p("d"), w, "d", &opts, &ref2);
    eprintln!("done in {:.1} s", t_all.elapsed().as_secs_f64());
}
