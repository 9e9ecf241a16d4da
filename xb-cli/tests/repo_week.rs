//! A week of hot backups into two repositories, a local path and an S3 bucket (PyPI's `moto`
//! server on 127.0.0.1, started by the test), against a running MariaDB 10.11 under a write
//! load: each day the week's DML and DDL (`common::week::DAYS`: CREATE, DROP, RENAME with a
//! name swap, TRUNCATE, ADD COLUMN, ALTER … FORCE, compressed tables), then a backup with
//! `xb backup --repo` alone: into the S3 repository every day, into the local one on days 1, 4
//! and 7 (so its incrementals span several days of DDL; the local store itself is covered
//! further by `repo_faults` and the library's tests). The first backup of each repository is a
//! full, every later one an incremental on the one before, chosen by xb. Then, for each
//! repository:
//!
//! * `xb info --json` lists one chain of its backups, each with its parent;
//! * `xb verify --repo` finds every object and page sound;
//! * `xb restore --backup ID` of every backup gives a server whose tables have the source's
//!   `CHECKSUM TABLE` at that backup's end (the load's tables, and the week's).
//!
//! Needs MariaDB and moto (fails without them).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use common::hot::{self, hot_backup, Sums};
use common::week::{checksums, tables, DAYS};
use xb_testkit::load;
use xb_testkit::s3::S3Server;
use xb_testkit::sandbox::{short_tempdir, Sandbox, SandboxOptions};

/// The source's state at a backup's end: the load's tables, the week's tables and their sums.
struct Reference {
    load: Sums,
    week_tables: Vec<String>,
    week: Sums,
}

/// One repository of the test.
struct Repo {
    name: &'static str,
    /// The days (indexes into `DAYS`) that end with a backup into this repository.
    days: &'static [usize],
    url: String,
    env: Vec<(&'static str, String)>,
}

impl Repo {
    fn xb(&self, args: &[&str]) -> common::Out {
        let o = Command::new(env!("CARGO_BIN_EXE_xb"))
            .args(args)
            .args(["--repo", &self.url, "--stanza", "week"])
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .output()
            .unwrap();
        let out = common::Out {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        };
        assert_eq!(out.code, 0, "{}: xb {args:?}: {}", self.name, out.all());
        out
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Restores backup `id` of `repo` into a new datadir, starts a server on it and compares it
/// with `reference`.
fn restore_and_check(repo: &Repo, id: &str, work: &Path, apply_redo: bool, reference: &Reference) {
    let datadir = work.join(format!("{}-{id}", repo.name));
    let mut args = vec![
        "restore",
        "--json",
        "--backup",
        id,
        "--datadir",
        s(&datadir),
    ];
    if apply_redo {
        args.push("--apply-redo");
    }
    let o = repo.xb(&args);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v["backup"], id, "{v}");
    let run = short_tempdir().unwrap();
    let r = Sandbox::on_datadir(run.path(), &datadir, &SandboxOptions::default())
        .unwrap_or_else(|e| panic!("{}: server on the restore of {id}: {e}", repo.name));
    load::check(&r.socket(), hot::ROWS).unwrap();
    let what = format!("{}: restore of {id}", repo.name);
    assert_eq!(
        load::checksums(&r.socket()).unwrap(),
        reference.load,
        "{what}"
    );
    let names = tables(&r);
    assert_eq!(names, reference.week_tables, "{what}");
    assert_eq!(checksums(&r, &names), reference.week, "{what}");
    drop(r);
    std::fs::remove_dir_all(&datadir).unwrap();
}

/// `xb info --json` lists one chain of `n` backups, each the incremental of the one before.
fn listed_chain(repo: &Repo, n: usize) -> Vec<String> {
    let o = repo.xb(&["info", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    let backups = v["backups"].as_array().unwrap();
    assert_eq!(backups.len(), n, "{}: {v}", repo.name);
    assert_eq!(v["chains"].as_array().unwrap().len(), 1, "{v}");
    assert!(v["incomplete"].as_array().unwrap().is_empty(), "{v}");
    let ids: Vec<String> = backups
        .iter()
        .map(|b| b["id"].as_str().unwrap().to_string())
        .collect();
    for (i, b) in backups.iter().enumerate() {
        assert_eq!(b["hot"], true, "{b}");
        if i == 0 {
            assert_eq!(b["kind"], "full", "{b}");
            assert!(b["parent"].is_null(), "{b}");
        } else {
            assert_eq!(b["kind"], "incremental", "{b}");
            assert_eq!(b["parent"], ids[i - 1].as_str(), "{b}");
            assert_eq!(b["from_lsn"], backups[i - 1]["to_lsn"], "{b}");
        }
    }
    let text = repo.xb(&["info"]).stdout;
    assert!(
        text.contains("1 chains") && text.contains(&ids[0]),
        "{text}"
    );
    ids
}

#[test]
fn a_week_of_hot_backups_into_a_local_and_an_s3_repository_restores_every_day() {
    let t0 = Instant::now();
    let s3 = S3Server::start().expect("the S3 server (moto) starts");
    let work = short_tempdir().unwrap();
    let w = work.path();
    let repos = [
        Repo {
            name: "local",
            days: &[0, 3, 6],
            url: s(&w.join("repo")).to_string(),
            env: Vec::new(),
        },
        Repo {
            name: "s3",
            days: &[0, 1, 2, 3, 4, 5, 6],
            url: s3.url("week"),
            env: s3.env(),
        },
    ];
    let opts = SandboxOptions::default()
        .option("innodb_log_file_size", "8M")
        .option("innodb_max_dirty_pages_pct", "5")
        .option("innodb_flush_log_at_trx_commit", "2");
    let sb = Sandbox::in_tempdir(&opts).expect("MariaDB sandbox");
    hot::setup(&sb);
    let mut references: Vec<Vec<Reference>> = vec![Vec::new(), Vec::new()];
    for (day, sql) in DAYS.iter().enumerate() {
        sb.sql_batch(sql).unwrap();
        let week_tables = tables(&sb);
        let week = checksums(&sb, &week_tables);
        for (r, repo) in repos.iter().enumerate() {
            if !repo.days.contains(&day) {
                continue;
            }
            let log = w.join(format!("{}-{day}.log", repo.name));
            let args = ["--repo", repo.url.as_str(), "--stanza", "week"];
            let load = hot_backup(&sb, &args, None, &log, &repo.env);
            let err = std::fs::read_to_string(&log).unwrap();
            let expected = if day == 0 {
                "hot full backup"
            } else {
                "hot incremental backup on"
            };
            assert!(err.contains(expected), "{}: day {day}: {err}", repo.name);
            references[r].push(Reference {
                load,
                week_tables: week_tables.clone(),
                week: week.clone(),
            });
        }
    }
    drop(sb);
    let backups = t0.elapsed().as_secs_f64();
    let restores: Vec<PathBuf> = repos
        .iter()
        .map(|r| w.join(format!("restores-{}", r.name)))
        .collect();
    std::thread::scope(|scope| {
        for ((repo, refs), dir) in repos.iter().zip(&references).zip(&restores) {
            scope.spawn(move || {
                std::fs::create_dir_all(dir).unwrap();
                let n = repo.days.len();
                let ids = listed_chain(repo, n);
                let o = repo.xb(&["verify"]);
                assert!(
                    o.stdout.contains(&format!("{n} backups checked"))
                        && o.stdout.contains("all sound"),
                    "{}",
                    o.all()
                );
                let listed = repo.xb(&["info"]).stdout;
                assert_eq!(listed.matches("verified").count(), n, "{listed}");
                for (i, id) in ids.iter().enumerate() {
                    restore_and_check(repo, id, dir, i == ids.len() - 1, &refs[i]);
                }
            });
        }
    });
    eprintln!(
        "repository week: 10 backups in {backups:.1} s, whole test {:.1} s",
        t0.elapsed().as_secs_f64()
    );
}
