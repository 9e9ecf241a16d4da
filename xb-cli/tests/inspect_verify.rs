//! `xb inspect` and `xb verify` as a user runs them: on the real fixture files, output, JSON
//! schema, exit codes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn data(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data/mariadb-10.11")
        .join(p)
}

fn xb(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xb"))
        .args(args)
        .output()
        .expect("run xb")
}

fn json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success() || out.status.code() == Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

#[test]
fn inspect_tablespace_json() {
    let out = xb(&[
        "inspect",
        "--json",
        data("datadir-16k/t_comp.ibd").to_str().unwrap(),
    ]);
    let v = json(&out);
    assert_eq!(v["space_id"], 6);
    assert_eq!(v["flags"], 41);
    assert_eq!(v["format"], "compressed");
    assert_eq!(v["logical_page_size"], 16384);
    assert_eq!(v["physical_page_size"], 8192);
    assert_eq!(v["page_count"], 8);
    assert_eq!(v["max_lsn"], 2500938);
    assert!(v.get("pages").is_none());
}

#[test]
fn inspect_pages_json() {
    let out = xb(&[
        "inspect",
        "--json",
        "--pages",
        data("datadir-16k/t_small.ibd").to_str().unwrap(),
    ]);
    let v = json(&out);
    assert_eq!(v["format"], "full_crc32");
    let pages = v["pages"].as_array().unwrap();
    assert_eq!(pages.len(), 4);
    let types: Vec<&str> = pages
        .iter()
        .map(|p| p["page_type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["FSP_HDR", "IBUF_BITMAP", "INODE", "INDEX"]);
    assert_eq!(pages[0]["lsn"], 45789);
    assert_eq!(pages[3]["lsn"], 2500545);
    assert!(pages
        .iter()
        .all(|p| p["checksum_ok"] == true && p["page_no"].is_u64()));
    assert_eq!(pages[3]["checksum"], "full_crc32");
}

#[test]
fn inspect_text_and_classic() {
    let out = xb(&["inspect", data("datadir-16k/t_crc32.ibd").to_str().unwrap()]);
    assert!(out.status.success());
    let s = String::from_utf8(out.stdout).unwrap();
    assert!(s.contains("classic") && s.contains("2498539"), "{s}");
}

#[test]
fn inspect_redo_json() {
    let v = json(&xb(&[
        "inspect",
        "--json",
        data("backup/full/ib_logfile0").to_str().unwrap(),
    ]));
    assert_eq!(v["kind"], "redo");
    assert_eq!(v["format"], "mariadb-10.8");
    assert_eq!(v["checkpoint_lsn"], 2500178);
    assert_eq!(v["end_lsn"], 2500194);
    let v = json(&xb(&[
        "inspect",
        "--json",
        data("datadir-16k/ib_logfile0.head16k").to_str().unwrap(),
    ]));
    assert_eq!(v["checkpoint_lsn"], 15297519);
}

#[test]
fn verify_sound_datadirs_exit_0() {
    let out = xb(&[
        "verify",
        data("datadir-16k").to_str().unwrap(),
        data("datadir-4k").to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let v = json(&xb(&[
        "verify",
        "--json",
        data("datadir-16k").to_str().unwrap(),
    ]));
    assert_eq!(v["corrupt"].as_array().unwrap().len(), 0);
    assert_eq!(v["files_checked"], 3);
    assert_eq!(v["pages_checked"], 16);
}

#[test]
fn verify_corrupt_page_exit_1_names_file_and_page() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = std::fs::read(data("datadir-16k/t_crc32.ibd")).unwrap();
    b[3 * 16384 + 5000] ^= 1;
    let p = dir.path().join("t.ibd");
    std::fs::write(&p, &b).unwrap();
    let out = xb(&["verify", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let s = String::from_utf8(out.stdout).unwrap();
    assert!(s.contains(&format!("{}: page 3: ", p.display())), "{s}");
    let v = json(&xb(&["verify", "--json", p.to_str().unwrap()]));
    let c = &v["corrupt"][0];
    assert_eq!(c["page_no"], 3);
    assert_eq!(c["file"], p.to_str().unwrap());
    assert!(c["reason"].as_str().unwrap().contains("checksum"), "{c}");
}

#[test]
fn verify_usage_and_io_errors_exit_2() {
    assert_eq!(xb(&["verify"]).status.code(), Some(2));
    let out = xb(&["verify", "/nonexistent/x.ibd"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/x.ibd"));
    assert_eq!(xb(&["inspect"]).status.code(), Some(2));
}

#[test]
fn verify_truncated_file_is_a_problem() {
    let dir = tempfile::tempdir().unwrap();
    let b = std::fs::read(data("datadir-16k/t_small.ibd")).unwrap();
    let p = dir.path().join("t.ibd");
    std::fs::write(&p, &b[..40000]).unwrap();
    let out = xb(&["verify", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("not a multiple of the page size"));
}

/// A backup directory killed mid-way (no xtrabackup_checkpoints) was checked as a datadir:
/// "all pages sound", exit 0. Now it is reported as an unfinished backup, exit 1, whichever
/// file marks it; a datadir is still checked as one.
#[test]
fn verify_reports_an_unfinished_backup() {
    let t = tempfile::tempdir().unwrap();
    let copy = |from: &str, to: &str| {
        xb_testkit::sandbox::copy_dir(&data(from), &t.path().join(to)).unwrap();
        t.path().join(to)
    };
    // A full backup without its checkpoints: backup-my.cnf marks it.
    let full = copy("backup/full", "full");
    std::fs::remove_file(full.join("xtrabackup_checkpoints")).unwrap();
    // An incremental without checkpoints nor backup-my.cnf: its deltas mark it.
    let inc = copy("backup/inc1", "inc");
    std::fs::remove_file(inc.join("xtrabackup_checkpoints")).unwrap();
    std::fs::remove_file(inc.join("backup-my.cnf")).unwrap();
    // Tablespaces and xb's redo log still under its temporary name.
    let hot = copy("datadir-16k", "hot");
    std::fs::write(hot.join("ib_logfile0.xbtmp"), b"").unwrap();
    for (dir, mark) in [
        (&full, "backup-my.cnf"),
        (&inc, ".ibd.delta"),
        (&hot, "ib_logfile0.xbtmp"),
    ] {
        for args in [vec!["verify"], vec!["verify", "--target-dir"]] {
            let mut args = args.clone();
            args.push(dir.to_str().unwrap());
            let out = xb(&args);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
            assert!(
                err.contains("unfinished backup") && err.contains(mark),
                "{args:?}: {err}"
            );
            assert!(!String::from_utf8_lossy(&out.stdout).contains("sound"));
        }
    }
    // The datadir itself: checked page by page, as before.
    std::fs::remove_file(hot.join("ib_logfile0.xbtmp")).unwrap();
    let out = xb(&["verify", hot.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("all pages sound"));
}

/// A full backup holding a DDL file of a hot backup (`X.new`): `xb copy-back` refuses it and
/// words the prepare to run; `xb verify` says not restorable with the same words. Once
/// prepared, both accept it. (The real server's refusal of such a datadir is shown by
/// incremental-core's restore_mariadb test.)
#[test]
fn copy_back_and_verify_want_ddl_files_prepared_first() {
    let t = tempfile::tempdir().unwrap();
    let full = t.path().join("full");
    xb_testkit::sandbox::copy_dir(&data("backup/full"), &full).unwrap();
    std::fs::copy(full.join("fx/t_small.ibd"), full.join("fx/t_twin.new")).unwrap();
    let f = full.to_str().unwrap();
    let dd = t.path().join("dd");
    let out = xb(&[
        "copy-back",
        "--target-dir",
        f,
        "--datadir",
        dd.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("t_twin.new") && err.contains(&format!("xb prepare --target-dir {f}")),
        "{err}"
    );
    assert!(!dd.exists());
    let out = xb(&["verify", f]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("restorable: no") && stdout.contains("xb prepare --target-dir"),
        "{stdout}"
    );
    let out = xb(&["prepare", "--target-dir", f]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(full.join("fx/t_twin.ibd").exists());
    let out = xb(&["verify", f]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
