//! DDL at a chosen moment of a hot incremental (issue 17): a table renamed after its copy and
//! a new table created under its old name, then the name swap of two tables through a third
//! name. The statements run from the backup's own progress events, right after the copy of
//! the tables concerned, so every run sees the same order of copy and DDL.
//!
//! The chain (full, then one incremental per scenario) is restored both ways, and both must
//! give the `CHECKSUM TABLE` the source had at each backup's consistent point: `xb prepare` +
//! a server started on the result, and `mariabackup --prepare` staged on copies of our
//! backups. Needs MariaDB (fails without it).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use common::{arg, hot_backup, work_dir};
use incremental_core::prepare::{self, PrepareOptions};
use incremental_core::progress::{Cancel, Event, NoProgress, Progress};
use xb_testkit::load::{self, Queryable};
use xb_testkit::sandbox::{copy_dir, short_tempdir, Sandbox, SandboxOptions};

const TABLES: [&str; 3] = ["soak.t4", "soak.t5", "soak.other"];

fn options() -> SandboxOptions {
    SandboxOptions::default()
}

fn checksums(socket: &Path) -> BTreeMap<String, String> {
    let mut c = load::connect(socket).unwrap();
    let rows: Vec<(String, Option<String>)> = c
        .query(format!("CHECKSUM TABLE {} EXTENDED", TABLES.join(", ")))
        .unwrap();
    rows.into_iter()
        .map(|(t, s)| (t.clone(), s.unwrap_or_else(|| panic!("{t}: no checksum"))))
        .collect()
}

/// Runs `statements` once, right after the backup finished copying every file whose path
/// ends with one of `after` (as the copy names them: `soak/t5.ibd.delta`), and takes the
/// source's checksums at the consistent point.
struct DdlAt {
    socket: PathBuf,
    after: Vec<&'static str>,
    statements: Vec<String>,
    done: Mutex<BTreeSet<String>>,
    ran: Mutex<bool>,
    sums: Mutex<Option<BTreeMap<String, String>>>,
}

impl DdlAt {
    fn new(socket: PathBuf, after: &[&'static str], statements: &[&str]) -> Self {
        DdlAt {
            socket,
            after: after.to_vec(),
            statements: statements.iter().map(|s| s.to_string()).collect(),
            done: Mutex::new(BTreeSet::new()),
            ran: Mutex::new(false),
            sums: Mutex::new(None),
        }
    }

    fn reference(&self) -> BTreeMap<String, String> {
        assert!(*self.ran.lock().unwrap(), "the DDL never ran");
        self.sums
            .lock()
            .unwrap()
            .clone()
            .expect("no consistent point")
    }
}

impl Progress for DdlAt {
    fn event(&self, e: Event<'_>) {
        match e {
            Event::FileDone { path } => {
                let p = path.to_string_lossy();
                let Some(a) = self.after.iter().find(|a| p.ends_with(**a)) else {
                    return;
                };
                let mut done = self.done.lock().unwrap();
                done.insert(a.to_string());
                let mut ran = self.ran.lock().unwrap();
                if *ran || done.len() < self.after.len() {
                    return;
                }
                let mut c = load::connect(&self.socket).unwrap();
                for s in &self.statements {
                    c.query_drop(s).unwrap_or_else(|e| panic!("{s}: {e}"));
                }
                *ran = true;
            }
            Event::ConsistentPoint { .. } => {
                *self.sums.lock().unwrap() = Some(checksums(&self.socket));
            }
            _ => {}
        }
    }
}

/// The files of a backup directory's `soak` schema.
fn soak_files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir.join("soak"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".frm") && n != "db.opt")
        .collect();
    v.sort();
    v
}

fn restored_checksums(datadir: &Path, what: &str) -> BTreeMap<String, String> {
    let run = short_tempdir().unwrap();
    let r = Sandbox::on_datadir(run.path(), datadir, &options())
        .unwrap_or_else(|e| panic!("{what}: server on the restored backup: {e}"));
    checksums(&r.socket())
}

#[test]
fn rename_then_create_under_the_old_name_and_a_name_swap_restore_both_ways() {
    let sb = Sandbox::in_tempdir(&options()).expect("MariaDB sandbox");
    let rows = |from: u32, to: u32| {
        (from..=to)
            .map(|n| format!("({n}, REPEAT('v{n}', 20))"))
            .collect::<Vec<_>>()
            .join(",")
    };
    sb.sql(&format!(
        "CREATE DATABASE soak; \
         CREATE TABLE soak.t5 (id INT PRIMARY KEY, v VARCHAR(200)) ENGINE=InnoDB; \
         CREATE TABLE soak.other (id INT PRIMARY KEY, v VARCHAR(200)) ENGINE=InnoDB; \
         INSERT INTO soak.t5 VALUES {r}; INSERT INTO soak.other VALUES {r};",
        r = rows(1, 2000)
    ))
    .unwrap();
    // page 0 of every table on disk: they are copied as tablespaces, not as raw `.new` files
    sb.checkpoint().unwrap();
    let (_keep, work) = work_dir();
    let (full, inc1, inc2) = (work.join("full"), work.join("inc1"), work.join("inc2"));
    common::hot_backup(&sb, &full, None, None, &NoProgress);
    // a few rows changed: the incremental holds some pages of t5, not its page 0
    sb.sql("UPDATE soak.t5 SET v = 'changed' WHERE id <= 3")
        .unwrap();
    sb.checkpoint().unwrap();

    // 1: t5 renamed to t4 after its copy, a new t5 created, rows written to both
    let ddl1 = DdlAt::new(
        sb.socket(),
        &["soak/t5.ibd.delta"],
        &[
            "RENAME TABLE soak.t5 TO soak.t4",
            "CREATE TABLE soak.t5 (id INT PRIMARY KEY, v VARCHAR(200)) ENGINE=InnoDB",
            "INSERT INTO soak.t5 VALUES (1, 'new t5'), (2, 'new t5')",
            "UPDATE soak.t4 SET v = 'after the rename' WHERE id <= 5",
        ],
    );
    hot_backup(&sb, &inc1, Some(&full), None, &ddl1);
    let ref1 = ddl1.reference();
    let files1 = soak_files(&inc1);
    eprintln!("inc1 soak/: {files1:?}");

    // 2: t4 and t5 swap their names through a third one, after both were copied
    sb.sql("UPDATE soak.t4 SET v = 'before the swap' WHERE id <= 2")
        .unwrap();
    sb.checkpoint().unwrap();
    let ddl2 = DdlAt::new(
        sb.socket(),
        &["soak/t4.ibd.delta", "soak/t5.ibd.delta"],
        &[
            "RENAME TABLE soak.t4 TO soak.tmp, soak.t5 TO soak.t4, soak.tmp TO soak.t5",
            "UPDATE soak.t4 SET v = 'swapped' WHERE id = 1",
            "UPDATE soak.t5 SET v = 'swapped' WHERE id <= 4",
        ],
    );
    hot_backup(&sb, &inc2, Some(&inc1), None, &ddl2);
    let ref2 = ddl2.reference();
    eprintln!("inc2 soak/: {:?}", soak_files(&inc2));

    // xb prepare: the full with inc1, then the full with both
    for (incs, reference, what) in [
        (vec![inc1.clone()], &ref1, "xb prepare full+inc1"),
        (
            vec![inc1.clone(), inc2.clone()],
            &ref2,
            "xb prepare full+inc1+inc2",
        ),
    ] {
        let merged = work.join(format!("xb{}", incs.len()));
        copy_dir(&full, &merged).unwrap();
        prepare::prepare(
            &merged,
            &incs,
            &PrepareOptions::default(),
            &NoProgress,
            &Cancel::new(),
        )
        .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(&restored_checksums(&merged, what), reference, "{what}");
    }

    // mariabackup --prepare, staged, on copies of our backups
    let mb = work.join("mb");
    for d in ["full", "inc1", "inc2"] {
        copy_dir(&work.join(d), &mb.join(d)).unwrap();
    }
    let target = mb.join("full");
    sb.mariabackup(["--prepare".into(), arg("target-dir", &target)])
        .expect("mariabackup --prepare of our full");
    for (inc, reference) in [("inc1", &ref1), ("inc2", &ref2)] {
        sb.mariabackup([
            "--prepare".into(),
            arg("target-dir", &target),
            arg("incremental-dir", &mb.join(inc)),
        ])
        .unwrap_or_else(|e| panic!("mariabackup --prepare --incremental-dir {inc}: {e}"));
        let restored = mb.join(format!("restored-{inc}"));
        copy_dir(&target, &restored).unwrap();
        let what = format!("mariabackup --prepare up to {inc}");
        assert_eq!(&restored_checksums(&restored, &what), reference, "{what}");
    }
}
