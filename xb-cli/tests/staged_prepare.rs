//! The staged prepare of mariabackup (`--prepare`, then `--prepare --incremental-dir=I1`, then
//! I2), done by `xb prepare --apply-redo` one stage at a time, against MariaDB 10.11: the same
//! pages as xb's one-pass merge, the same `xtrabackup_checkpoints` as mariabackup after each
//! stage, stages mixed between xb and mariabackup, and a server on each result with the
//! source's data. Needs MariaDB and mariabackup (fails without them).

mod common;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use xb_testkit::load::{self, Load};
use xb_testkit::sandbox::{copy_dir, short_tempdir, Sandbox, SandboxOptions};

const BIG_ROWS: u32 = 3_000;

/// The tables outside the load, changed by DDL between the backups.
const DDL_TABLES: &[&str] = &["d.cold", "d.t1r", "d.t2"];

fn options() -> SandboxOptions {
    SandboxOptions::default()
        .option("innodb_log_file_size", "16M")
        .option("innodb_flush_log_at_trx_commit", "2")
}

/// `xb ARGS`: its exit code and standard error.
fn xb(args: &[&str]) -> (i32, String) {
    let o = common::xb(args);
    (o.code, o.stderr)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn arg(name: &str, p: &Path) -> OsString {
    let mut a = OsString::from(format!("--{name}="));
    a.push(p);
    a
}

/// A hot xb backup of `sb` into `target` (an incremental of `base` when given).
fn backup(sb: &Sandbox, target: &Path, base: Option<&Path>) {
    let sock = sb.socket();
    let mut args = vec![
        "backup",
        "--datadir",
        s(sb.datadir()),
        "--target-dir",
        s(target),
        "--socket",
        s(&sock),
        "--user",
        "root",
        "--no-defaults",
        "--no-sync",
    ];
    if let Some(b) = base {
        args.extend(["--incremental-basedir", s(b)]);
    }
    let (code, err) = xb(&args);
    assert_eq!(code, 0, "{err}");
}

/// `xb prepare --target-dir T [--incremental-dir I] --apply-redo`.
fn xb_stage(target: &Path, inc: Option<&Path>) {
    let mut args = vec!["prepare", "--target-dir", s(target), "--apply-redo"];
    if let Some(i) = inc {
        args.extend(["--incremental-dir", s(i)]);
    }
    let (code, err) = xb(&args);
    assert_eq!(code, 0, "xb prepare {args:?}: {err}");
}

/// `mariabackup --prepare --target-dir=T [--incremental-dir=I]` (I copied first: mariabackup
/// deletes the deltas it applied).
fn mb_stage(sb: &Sandbox, target: &Path, inc: Option<&Path>, work: &Path) {
    let mut args = vec![OsString::from("--prepare"), arg("target-dir", target)];
    if let Some(i) = inc {
        let copy = work.join(format!(
            "{}-of-{}",
            i.file_name().unwrap().to_string_lossy(),
            target
                .parent()
                .unwrap()
                .file_name()
                .unwrap()
                .to_string_lossy()
        ));
        copy_dir(i, &copy).unwrap();
        args.push(arg("incremental-dir", &copy));
    }
    sb.mariabackup(args).expect("mariabackup --prepare");
}

fn checkpoints(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("xtrabackup_checkpoints")).unwrap()
}

/// The `.ibd` files of the database directories, relative.
fn ibd_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for db in std::fs::read_dir(dir).unwrap() {
        let db = db.unwrap();
        if !db.file_type().unwrap().is_dir() {
            continue;
        }
        for f in std::fs::read_dir(db.path()).unwrap() {
            let f = f.unwrap();
            if f.file_name().to_string_lossy().ends_with(".ibd") {
                out.push(Path::new(&db.file_name()).join(f.file_name()));
            }
        }
    }
    out.sort();
    out
}

/// Pages (16 KiB) of `a` and `b` that differ, per file; a file in one only counts as a
/// difference of every page. Pages past the end of the shorter file must be all zero.
fn page_differences(a: &Path, b: &Path) -> BTreeMap<PathBuf, Vec<u64>> {
    const PAGE: usize = 16 << 10;
    let mut out = BTreeMap::new();
    let files_a = ibd_files(a);
    let files_b = ibd_files(b);
    assert_eq!(files_a, files_b, "not the same tablespaces");
    for rel in files_a {
        let x = std::fs::read(a.join(&rel)).unwrap();
        let y = std::fs::read(b.join(&rel)).unwrap();
        let n = x.len().max(y.len()).div_ceil(PAGE);
        let page = |v: &Vec<u8>, i: usize| -> Vec<u8> {
            let lo = (i * PAGE).min(v.len());
            let hi = ((i + 1) * PAGE).min(v.len());
            let mut p = v[lo..hi].to_vec();
            p.resize(PAGE, 0);
            p
        };
        let diff: Vec<u64> = (0..n)
            .filter(|&i| page(&x, i) != page(&y, i))
            .map(|i| i as u64)
            .collect();
        if !diff.is_empty() {
            out.insert(rel, diff);
        }
    }
    out
}

/// Whether page `p` (< 16384, 16 KiB pages) is free by the extent descriptors of `page0`.
fn is_free(page0: &[u8], p: u64) -> bool {
    let be32 = |o: usize| u32::from_be_bytes(page0[o..o + 4].try_into().unwrap());
    let free_limit = be32(38 + 12);
    if p >= u64::from(free_limit) {
        return true;
    }
    assert!(
        p < 16384,
        "page {p}: beyond the first extent descriptor page"
    );
    let xdes = 150 + 40 * (p as usize / 64);
    let state = be32(xdes + 20);
    if state == 0 || state == 1 {
        return true; // not initialized, or XDES_FREE
    }
    let bit = 2 * (p as usize % 64);
    page0[xdes + 24 + bit / 8] >> (bit % 8) & 1 == 1
}

/// Starts a server on the prepared `dir` and checks the load's invariants and every checksum.
fn check_data(dir: &Path, reference: &BTreeMap<String, String>, what: &str) {
    let run = short_tempdir().unwrap();
    let r = Sandbox::on_datadir(run.path(), dir, &options())
        .unwrap_or_else(|e| panic!("server on {what}: {e}"));
    load::check(&r.socket(), BIG_ROWS).unwrap_or_else(|e| panic!("{what}: {e}"));
    let mut sums = load::checksums(&r.socket()).unwrap();
    sums.extend(r.checksum_tables(DDL_TABLES).unwrap());
    assert_eq!(&sums, reference, "{what}");
}

#[test]
fn staged_prepare_equals_one_pass_and_mariabackup() {
    let t0 = Instant::now();
    let sb = Sandbox::in_tempdir(&options()).expect("MariaDB sandbox");
    let sock = sb.socket();
    Load::setup(&sock, BIG_ROWS).unwrap();
    let rows = |n: u32, tag: &str| -> String {
        (1..=n)
            .map(|i| format!("({i}, '{tag}-{i:05}')"))
            .collect::<Vec<_>>()
            .join(",")
    };
    sb.sql(&format!(
        "CREATE DATABASE d;
         CREATE TABLE d.cold (id INT PRIMARY KEY, v VARCHAR(100)) ENGINE=InnoDB;
         INSERT INTO d.cold VALUES {};
         CREATE TABLE d.gone (id INT PRIMARY KEY, v VARCHAR(100)) ENGINE=InnoDB;
         INSERT INTO d.gone VALUES {};",
        rows(2000, "cold"),
        rows(300, "gone")
    ))
    .unwrap();
    let work = short_tempdir().unwrap();
    let w = work.path();
    let (full, inc1, inc2) = (w.join("full"), w.join("inc1"), w.join("inc2"));

    // full and inc1 under the write load, DDL between them; inc2 of the idle server
    let running = Load::start(&sock, BIG_ROWS).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    backup(&sb, &full, None);
    sb.sql(&format!(
        "ALTER TABLE d.cold ADD COLUMN w INT NOT NULL DEFAULT 7;
         UPDATE d.cold SET v = CONCAT(v, '+') WHERE id % 7 = 0;
         CREATE TABLE d.t1 (id INT PRIMARY KEY, v VARCHAR(100)) ENGINE=InnoDB;
         INSERT INTO d.t1 VALUES {};
         DROP TABLE d.gone;
         RENAME TABLE d.t1 TO d.t1r;",
        rows(500, "t1")
    ))
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    backup(&sb, &inc1, Some(&full));
    sb.sql(&format!(
        "TRUNCATE TABLE d.t1r;
         INSERT INTO d.t1r VALUES {};
         CREATE TABLE d.t2 (id INT PRIMARY KEY, v VARCHAR(100)) ENGINE=InnoDB;
         INSERT INTO d.t2 VALUES {};
         DELETE FROM d.cold WHERE id % 5 = 0;",
        rows(700, "t1b"),
        rows(400, "t2")
    ))
    .unwrap();
    running.stop().unwrap();
    backup(&sb, &inc2, Some(&inc1));
    let mut reference = load::checksums(&sock).unwrap();
    reference.extend(sb.checksum_tables(DDL_TABLES).unwrap());
    eprintln!("backups taken at {:.1} s", t0.elapsed().as_secs_f64());

    let copy = |name: &str| {
        let d = w.join(name).join("full");
        copy_dir(&full, &d).unwrap();
        d
    };
    let (staged, one_pass, mb, mixed) = (copy("staged"), copy("one"), copy("mb"), copy("mixed"));

    // xb staged and mariabackup staged, stage by stage: the same checkpoints
    let stages: [Option<&Path>; 3] = [None, Some(&inc1), Some(&inc2)];
    for (k, inc) in stages.iter().enumerate() {
        xb_stage(&staged, *inc);
        mb_stage(&sb, &mb, *inc, w);
        let (x, m) = (checkpoints(&staged), checkpoints(&mb));
        assert!(x.contains("backup_type = log-applied"), "stage {k}: {x}");
        assert_eq!(
            x, m,
            "xtrabackup_checkpoints after stage {k}: xb / mariabackup"
        );
    }
    // a stage run again: nothing to do
    xb_stage(&staged, Some(&inc2));

    // xb in one pass
    let (code, err) = xb(&[
        "prepare",
        "--target-dir",
        s(&one_pass),
        "--incremental-dir",
        s(&inc1),
        "--incremental-dir",
        s(&inc2),
        "--apply-redo",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(checkpoints(&one_pass), checkpoints(&staged));

    // mixed: xb, then mariabackup onto xb's stage, then xb onto mariabackup's
    xb_stage(&mixed, None);
    mb_stage(&sb, &mixed, Some(&inc1), w);
    xb_stage(&mixed, Some(&inc2));
    assert_eq!(checkpoints(&mixed), checkpoints(&staged));
    eprintln!("prepared at {:.1} s", t0.elapsed().as_secs_f64());

    // every page of every tablespace: staged = one pass (the pages of inc2, with its redo
    // applied; every page inc1's redo changed is in inc2); mariabackup's and the mixed route's
    // are counted for information
    // every page in use of every tablespace: staged = one pass (the pages of inc2, with its
    // redo applied; every page inc1's redo changed is in inc2) = mariabackup staged = mixed.
    // Free pages may differ: a page written by inc1's redo and freed before inc2 keeps what the
    // redo wrote in a staged prepare, and inc2 copies no free page.
    for (name, other) in [
        ("xb one pass", &one_pass),
        ("mariabackup staged", &mb),
        ("mixed", &mixed),
    ] {
        let diff = page_differences(&staged, other);
        let used: BTreeMap<_, _> = diff
            .iter()
            .map(|(rel, pages)| {
                let page0 = &std::fs::read(staged.join(rel)).unwrap()[..16 << 10];
                let used: Vec<u64> = pages
                    .iter()
                    .copied()
                    .filter(|&p| !is_free(page0, p))
                    .collect();
                (rel.clone(), used)
            })
            .filter(|(_, used)| !used.is_empty())
            .collect();
        eprintln!("xb staged / {name}: free pages that differ: {diff:?}");
        assert!(
            used.is_empty(),
            "pages in use differ, xb staged / {name}: {used:?}"
        );
    }

    // a server on each has the source's data
    for (name, dir) in [
        ("xb staged", &staged),
        ("xb one pass", &one_pass),
        ("mariabackup staged", &mb),
        ("mixed", &mixed),
    ] {
        check_data(dir, &reference, name);
    }
    eprintln!("done at {:.1} s", t0.elapsed().as_secs_f64());
}
