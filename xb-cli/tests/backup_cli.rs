//! `xb backup` on a datadir made of real MariaDB 10.11 files (the committed fixtures).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn fixture(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data/mariadb-10.11")
        .join(p)
}

/// ibdata1 (first 4 pages of a real one), the redo log of a real backup, real .ibd files.
fn datadir(root: &Path) -> PathBuf {
    let d = root.join("data");
    fs::create_dir_all(d.join("fx")).unwrap();
    fs::copy(fixture("datadir-16k/ibdata1.head64k"), d.join("ibdata1")).unwrap();
    fs::copy(fixture("backup/full/ib_logfile0"), d.join("ib_logfile0")).unwrap();
    for t in ["t_small", "t_comp", "t_crc32"] {
        fs::copy(
            fixture(&format!("datadir-16k/{t}.ibd")),
            d.join(format!("fx/{t}.ibd")),
        )
        .unwrap();
    }
    fs::write(d.join("fx/db.opt"), b"default-character-set=latin1\n").unwrap();
    fs::write(d.join("ibtmp1"), vec![0u8; 16384]).unwrap();
    d
}

fn xb(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_xb"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn full_and_incremental_from_the_command_line() {
    let t = tempfile::tempdir().unwrap();
    let d = datadir(t.path());
    let full = t.path().join("full");
    let (code, _, err) = xb(&[
        "backup",
        "--datadir",
        d.to_str().unwrap(),
        "--target-dir",
        full.to_str().unwrap(),
        "--no-sync",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("full backup"), "{err}");
    for f in [
        "ibdata1",
        "fx/t_comp.ibd",
        "fx/db.opt",
        "ib_logfile0",
        "backup-my.cnf",
    ] {
        assert!(full.join(f).exists(), "{f}");
    }
    assert!(!full.join("ibtmp1").exists());
    assert_eq!(
        fs::read(full.join("fx/t_comp.ibd")).unwrap(),
        fs::read(d.join("fx/t_comp.ibd")).unwrap()
    );
    let cps = fs::read_to_string(full.join("xtrabackup_checkpoints")).unwrap();
    assert_eq!(
        cps,
        "backup_type = full-backuped\nfrom_lsn = 0\nto_lsn = 2500178\nlast_lsn = 2500194\n\
         recover_binlog_info = 0\n"
    );

    // a non-empty target is refused with exit 2 and a one-line message
    let (code, _, err) = xb(&[
        "backup",
        "--datadir",
        d.to_str().unwrap(),
        "--target-dir",
        full.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("not empty"), "{err}");

    // incremental by LSN: t_small's page 3 (2500545) and t_comp's page 3 (2500938) qualify
    let inc = t.path().join("inc");
    let (code, out, err) = xb(&[
        "backup",
        "--datadir",
        d.to_str().unwrap(),
        "--target-dir",
        inc.to_str().unwrap(),
        "--incremental-lsn",
        "2500100",
        "--json",
        "--no-sync",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["backup_type"], "incremental");
    assert_eq!(v["method"], "scan");
    assert!(v["fallback_reason"].as_str().unwrap().contains("no bitmap"));
    let small = fs::read(inc.join("fx/t_small.ibd.delta")).unwrap();
    assert_eq!(&small[..12], b"XTRA\x00\x00\x00\x03\xff\xff\xff\xff");
    assert_eq!(
        fs::read(inc.join("fx/t_small.ibd.meta")).unwrap(),
        b"page_size = 16384\nzip_size = 0 \nspace_id = 5\n"
    );
    assert_eq!(
        fs::read(inc.join("fx/t_comp.ibd.meta")).unwrap(),
        b"page_size = 8192\nzip_size = 8192 \nspace_id = 6\n"
    );
    // t_crc32 has no page at or above the LSN: a header-only delta
    assert_eq!(
        fs::read(inc.join("fx/t_crc32.ibd.delta")).unwrap().len(),
        16384
    );
    let cps = fs::read_to_string(inc.join("xtrabackup_checkpoints")).unwrap();
    assert!(
        cps.starts_with("backup_type = incremental\nfrom_lsn = 2500100\n"),
        "{cps}"
    );

    // an LSN after the source's checkpoint is refused
    let (code, _, err) = xb(&[
        "backup",
        "--datadir",
        d.to_str().unwrap(),
        "--target-dir",
        t.path().join("y").to_str().unwrap(),
        "--incremental-lsn",
        "9999999",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("--incremental-lsn 9999999 is after"), "{err}");

    // a missing datadir: exit 2, the path in the message
    let (code, _, err) = xb(&[
        "backup",
        "--datadir",
        "/nonexistent/dd",
        "--target-dir",
        t.path().join("x").to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent/dd"), "{err}");
}

#[test]
fn a_partial_base_is_refused_with_the_flag_that_accepts_it() {
    let t = tempfile::tempdir().unwrap();
    let d = datadir(t.path());
    let part = t.path().join("part");
    let (code, _, err) = xb(&[
        "backup",
        "--datadir",
        d.to_str().unwrap(),
        "--target-dir",
        part.to_str().unwrap(),
        "--databases",
        "fx",
        "--no-sync",
    ]);
    assert_eq!(code, 0, "{err}");
    let inc = t.path().join("inc");
    let args = [
        "backup",
        "--datadir",
        d.to_str().unwrap(),
        "--target-dir",
        inc.to_str().unwrap(),
        "--incremental-basedir",
        part.to_str().unwrap(),
        "--no-sync",
    ];
    let (code, _, err) = xb(&args);
    assert_eq!(code, 2);
    assert!(
        err.contains(
            "the base is a partial backup: tables it lacks would be missing from the result; \
             pass --accept-partial-base to take the incremental anyway"
        ),
        "{err}"
    );
    let mut accepted = args.to_vec();
    accepted.push("--accept-partial-base");
    let (code, _, err) = xb(&accepted);
    assert_eq!(code, 0, "{err}");
}

/// `--throttle=10` keeps a 20 MiB backup to 10 MiB/s of reads, all reader threads together:
/// at least about 2 s (only the lower bound is asserted: a busy machine makes any run slower),
/// and the same bytes as without it. A 0 is refused.
#[test]
fn throttle_limits_the_read_rate_of_all_readers_together() {
    let t = tempfile::tempdir().unwrap();
    let d = datadir(t.path());
    // a 20 MiB tablespace: the fixture's pages, then never-written (zero) pages
    fs::OpenOptions::new()
        .write(true)
        .open(d.join("fx/t_small.ibd"))
        .unwrap()
        .set_len(20 << 20)
        .unwrap();
    let run = |name: &str, extra: &[&str]| {
        let target = t.path().join(name);
        let mut args = vec![
            "backup",
            "--datadir",
            d.to_str().unwrap(),
            "--target-dir",
            target.to_str().unwrap(),
            "--no-sync",
            "--parallel",
            "4",
        ];
        args.extend_from_slice(extra);
        let t0 = std::time::Instant::now();
        let (code, _, err) = xb(&args);
        assert_eq!(code, 0, "{err}");
        (target, t0.elapsed())
    };
    let (free, fast) = run("free", &[]);
    let (slow, took) = run("slow", &["--throttle=10"]);
    eprintln!("without --throttle {fast:?}, with --throttle=10 {took:?}");
    assert!(
        took >= std::time::Duration::from_millis(1500),
        "20 MiB at 10 MiB/s took {took:?}"
    );
    let rel = "fx/t_small.ibd";
    assert_eq!(
        fs::read(free.join(rel)).unwrap(),
        fs::read(slow.join(rel)).unwrap()
    );
    let (code, _, err) = xb(&[
        "backup",
        "--datadir",
        d.to_str().unwrap(),
        "--target-dir",
        t.path().join("zero").to_str().unwrap(),
        "--throttle=0",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--throttle"), "{err}");
}
