//! Repository faults, with the real `xb` binary, a real MariaDB 10.11 datadir (stopped: its
//! files do not change between two runs, so a resumed backup can keep what was uploaded) and a
//! real S3-protocol server (PyPI's `moto`, on 127.0.0.1):
//!
//! * `xb backup --repo` killed with SIGKILL in the middle of its uploads: `xb info` lists the
//!   attempt as incomplete (never as a backup); the next run resumes it, keeping the parts
//!   already stored, and the result restores to the source's `CHECKSUM TABLE`;
//! * the S3 server gone in the middle of an upload (its connections cut, new ones refused)
//!   for longer than `--repo-retry-timeout`: the backup fails naming the object, writes no
//!   manifest; once the server is back, the next run resumes and restores;
//! * an object deleted, or one byte of one changed: `xb verify --repo` names the backup, the
//!   object and the file (exit 1), `xb restore` refuses naming them (exit 2) and leaves no
//!   datadir that looks restored;
//! * `xb expire --retain-full 1` after two chains deletes the older chain only, `--dry-run`
//!   first says the same and deletes nothing, and so do the repository and policy given in the
//!   `[xb]` group of an option file; a lock held by another host is named and refused.
//!
//! Needs MariaDB and moto (fails without them).

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::Out;
use xb_testkit::s3::S3Server;
use xb_testkit::sandbox::{short_tempdir, Sandbox, SandboxOptions};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Runs `xb ARGS` with `env`.
fn xb(args: &[&str], env: &[(&'static str, String)]) -> Out {
    let o = Command::new(env!("CARGO_BIN_EXE_xb"))
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

fn xb_ok(args: &[&str], env: &[(&'static str, String)]) -> Out {
    let o = xb(args, env);
    assert_eq!(o.code, 0, "xb {args:?}: {}", o.all());
    o
}

/// A stopped server's datadir with some InnoDB and MyISAM data (about 60 MiB), and the
/// checksums of its tables.
fn source(work: &Path) -> (Sandbox, BTreeMap<String, String>) {
    let mut sb =
        Sandbox::create(work.join("src"), &SandboxOptions::default()).expect("MariaDB sandbox");
    sb.sql_batch(
        "CREATE DATABASE f; USE f;
         CREATE TABLE big (id INT PRIMARY KEY, v VARCHAR(600)) ENGINE=InnoDB;
         INSERT INTO big SELECT seq, REPEAT(SHA2(seq, 256), 9) FROM seq_1_to_40000;
         CREATE TABLE small (id INT PRIMARY KEY, v INT) ENGINE=InnoDB;
         INSERT INTO small SELECT seq, seq FROM seq_1_to_100;
         CREATE TABLE m (id INT PRIMARY KEY) ENGINE=MyISAM;
         INSERT INTO m SELECT seq FROM seq_1_to_100;",
    )
    .unwrap();
    let sums = sb.checksum_tables(&["f.big", "f.small", "f.m"]).unwrap();
    sb.checkpoint().unwrap();
    sb.stop().unwrap();
    (sb, sums)
}

/// Restores the newest backup of `repo` into `datadir` and checks it against `sums`.
fn restores(
    repo: &str,
    env: &[(&'static str, String)],
    datadir: &Path,
    sums: &BTreeMap<String, String>,
) {
    xb_ok(&["restore", "--repo", repo, "--datadir", s(datadir)], env);
    let run = short_tempdir().unwrap();
    let r = Sandbox::on_datadir(run.path(), datadir, &SandboxOptions::default())
        .expect("restored server");
    assert_eq!(
        &r.checksum_tables(&["f.big", "f.small", "f.m"]).unwrap(),
        sums
    );
}

/// `xb info --json` of `repo`.
fn info(repo: &str, env: &[(&'static str, String)]) -> serde_json::Value {
    serde_json::from_str(&xb_ok(&["info", "--json", "--repo", repo], env).stdout).unwrap()
}

/// Waits until `ready` or panics after 60 s.
fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !ready() {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The part objects stored under a local repository.
fn local_parts(repo: &Path) -> usize {
    fn walk(d: &Path, n: &mut usize) {
        for e in fs::read_dir(d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, n);
            } else if p.components().any(|c| c.as_os_str() == "data")
                // object_store writes a local object as NAME#N, then renames it
                && !p.to_string_lossy().contains('#')
            {
                *n += 1;
            }
        }
    }
    let mut n = 0;
    walk(repo, &mut n);
    n
}

#[test]
fn a_killed_backup_is_resumed_and_a_store_that_went_away_is_waited_for_or_resumed() {
    let work = short_tempdir().unwrap();
    let w = work.path();
    let (sb, sums) = source(w);
    let dd = s(sb.datadir()).to_string();

    // kill -9 in the middle of the uploads, into a local repository
    let repo = w.join("repo");
    let mut child = Command::new(env!("CARGO_BIN_EXE_xb"))
        .args([
            "backup",
            "--datadir",
            &dd,
            "--repo",
            s(&repo),
            "--throttle=10",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("a first stored part", || local_parts(&repo) >= 2);
    child.kill().unwrap();
    child.wait().unwrap();
    let v = info(s(&repo), &[]);
    assert!(v["backups"].as_array().unwrap().is_empty(), "{v}");
    let incomplete = v["incomplete"].as_array().unwrap();
    assert_eq!(incomplete.len(), 1, "{v}");
    let attempt = incomplete[0]["id"].as_str().unwrap().to_string();
    let o = xb_ok(&["backup", "--datadir", &dd, "--repo", s(&repo)], &[]);
    assert!(
        o.stderr
            .contains(&format!("resumed the interrupted attempt {attempt}: kept")),
        "{}",
        o.all()
    );
    let v = info(s(&repo), &[]);
    assert_eq!(v["backups"][0]["id"], attempt.as_str(), "{v}");
    assert!(v["incomplete"].as_array().unwrap().is_empty(), "{v}");
    restores(s(&repo), &[], &w.join("restored-after-kill"), &sums);

    // the S3 server gone for longer than the retry timeout in the middle of an upload
    let s3 = S3Server::start().expect("the S3 server (moto) starts");
    let env = s3.env();
    let url = s3.url("faults");
    let child = Command::new(env!("CARGO_BIN_EXE_xb"))
        .args([
            "backup",
            "--datadir",
            &dd,
            "--repo",
            &url,
            "--throttle=10",
            "--repo-retry-timeout",
            "3",
        ])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("a first stored part", || {
        s3.log().matches("/data/").count() >= 2
    });
    s3.cut();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&url) || err.contains("faults/"),
        "the error names the object: {err}"
    );
    s3.restore();
    let v = info(&url, &env);
    assert!(
        v["backups"].as_array().unwrap().is_empty(),
        "no manifest: {v}"
    );
    let o = xb_ok(&["backup", "--datadir", &dd, "--repo", &url], &env);
    assert!(
        o.stderr.contains("resumed the interrupted attempt"),
        "{}",
        o.all()
    );
    restores(&url, &env, &w.join("restored-after-cut"), &sums);

    // a hung server (SIGSTOP) for less than the retry timeout: waited for
    let o = {
        let child = Command::new(env!("CARGO_BIN_EXE_xb"))
            .args([
                "backup",
                "--datadir",
                &dd,
                "--repo",
                &url,
                "--type",
                "full",
                "--repo-retry-timeout",
                "60",
            ])
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(300));
        s3.pause();
        std::thread::sleep(Duration::from_secs(3));
        s3.resume();
        child.wait_with_output().unwrap()
    };
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(info(&url, &env)["backups"].as_array().unwrap().len(), 2);
}

/// One object of the newest full backup of a local repository: a part of `f/big.ibd`.
fn a_part(repo: &Path) -> PathBuf {
    let v = info(s(repo), &[]);
    let full = v["backups"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|b| b["kind"] == "full")
        .unwrap();
    let id = full["id"].as_str().unwrap().to_string();
    let manifest: serde_json::Value = serde_json::from_slice(
        &fs::read(repo.join("main").join(&id).join("manifest.json")).unwrap(),
    )
    .unwrap();
    let file = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "f/big.ibd")
        .unwrap();
    repo.join(file["parts"][1]["object"]["key"].as_str().unwrap())
}

/// `xb verify --repo` and `xb restore` of a repository whose object `key` is damaged.
fn refused(repo: &Path, key: &str, what: &str, work: &Path) {
    let o = xb(&["verify", "--repo", s(repo)], &[]);
    assert_eq!(o.code, 1, "{what}: {}", o.all());
    assert!(
        o.stdout.contains(key) && o.stdout.contains("f/big.ibd"),
        "{what}: {}",
        o.all()
    );
    let datadir = work.join(format!("restored-{}", what.replace(' ', "-")));
    let o = xb(
        &["restore", "--repo", s(repo), "--datadir", s(&datadir)],
        &[],
    );
    assert_eq!(o.code, 2, "{what}: {}", o.all());
    assert!(o.stderr.contains(key), "{what}: {}", o.all());
    let restored =
        datadir.join("ibdata1").exists() && !datadir.join(".xb-copy-back-in-progress").exists();
    assert!(
        !restored,
        "{what}: a refused restore left a datadir that looks restored"
    );
}

#[test]
fn a_damaged_repository_is_named_by_verify_and_refused_by_restore_and_expire_keeps_whole_chains() {
    let work = short_tempdir().unwrap();
    let w = work.path();
    let (mut sb, _) = source(w);
    let dd = s(sb.datadir()).to_string();
    let repo = w.join("repo");
    let r = s(&repo).to_string();

    // two chains: full + incremental, full + incremental
    for (i, extra) in ["", "--type=full"].iter().enumerate() {
        let mut args = vec!["backup", "--datadir", dd.as_str(), "--repo", r.as_str()];
        if !extra.is_empty() {
            args.push(extra);
        }
        xb_ok(&args, &[]);
        sb.start().unwrap();
        sb.sql(&format!("INSERT INTO f.small VALUES ({}, 1)", 1000 + i))
            .unwrap();
        sb.checkpoint().unwrap();
        sb.stop().unwrap();
        xb_ok(&["backup", "--datadir", &dd, "--repo", &r], &[]);
    }
    let v = info(&r, &[]);
    let ids: Vec<String> = v["backups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 4, "{v}");
    assert_eq!(v["chains"].as_array().unwrap().len(), 2, "{v}");
    assert_eq!(xb(&["verify", "--repo", &r], &[]).code, 0);

    // expire: the dry run says, the real run does; only the older chain goes
    let dry = xb_ok(
        &["expire", "--repo", &r, "--retain-full", "1", "--dry-run"],
        &[],
    );
    assert!(
        dry.stdout.contains(&format!("would delete {}", ids[0])),
        "{}",
        dry.all()
    );
    assert!(
        dry.stdout.contains(&format!("would delete {}", ids[1])),
        "{}",
        dry.all()
    );
    assert_eq!(info(&r, &[])["backups"].as_array().unwrap().len(), 4);
    // the same from the [xb] group of an option file: repo, stanza and policy
    let cnf = w.join("xb.cnf");
    let text = format!("[client]\nuser=nobody\n[xb]\nrepo = {r}\nstanza = main\nretain-full = 1\n");
    fs::write(&cnf, text).unwrap();
    let from_cnf = xb_ok(&["expire", "--defaults-file", s(&cnf), "--dry-run"], &[]);
    assert_eq!(from_cnf.stdout, dry.stdout, "{}", from_cnf.all());
    let listed = xb_ok(&["info", "--defaults-file", s(&cnf), "--json"], &[]);
    let listed: serde_json::Value = serde_json::from_str(&listed.stdout).unwrap();
    assert_eq!(listed, info(&r, &[]));
    fs::write(
        repo.join("main/lock.json"),
        br#"{"host":"elsewhere","pid":1,"purpose":"backup","since":0}"#,
    )
    .unwrap();
    let locked = xb(&["expire", "--repo", &r, "--retain-full", "1"], &[]);
    assert_eq!(locked.code, 2, "{}", locked.all());
    assert!(
        locked.stderr.contains("elsewhere") && locked.stderr.contains("lock.json"),
        "{}",
        locked.all()
    );
    fs::remove_file(repo.join("main/lock.json")).unwrap();
    xb_ok(&["expire", "--repo", &r, "--retain-full", "1"], &[]);
    let v = info(&r, &[]);
    let kept: Vec<&str> = v["backups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_str().unwrap())
        .collect();
    assert_eq!(kept, [ids[2].as_str(), ids[3].as_str()], "{v}");
    assert!(!repo.join("main").join(&ids[0]).exists());

    // damage: one byte of one part changed, then the part deleted
    let part = a_part(&repo);
    let key = part
        .strip_prefix(&repo)
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let good = fs::read(&part).unwrap();
    let mut bad = good.clone();
    bad[good.len() / 2] ^= 0x20;
    fs::write(&part, &bad).unwrap();
    refused(&repo, &key, "a changed byte", w);
    fs::remove_file(&part).unwrap();
    refused(&repo, &key, "a deleted object", w);
    fs::write(&part, &good).unwrap();
    assert_eq!(xb(&["verify", "--repo", &r], &[]).code, 0);
}
