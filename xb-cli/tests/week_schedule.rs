//! A week of backups in miniature, as a user runs them with `xb` against a real MariaDB 10.11:
//! a full backup on day 0, then one incremental a day for six days, with DML and DDL in between
//! (INSERT/UPDATE/DELETE, CREATE, DROP, RENAME including a name swap, TRUNCATE, ADD COLUMN,
//! ALTER ... FORCE, ROW_FORMAT=COMPRESSED tables), each backup cold (server checkpointed and
//! stopped). Then:
//!
//! * `xb prepare` refuses a chain with a missing or misplaced incremental, naming the expected
//!   from_lsn, exit 2, the target untouched;
//! * `xb verify` finds the chain restorable;
//! * `xb prepare` merges all six incrementals in one pass, `xb copy-back` restores into a new
//!   datadir, and a server started there has exactly the source's tables (dropped ones gone,
//!   renamed ones present) with the source's `CHECKSUM TABLE` at the time of the last backup.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::week::{checksums, tables, DAYS};
use common::{checkpoint_value, cold_backup, snapshot, xb, xb_ok};
use xb_testkit::sandbox::{short_tempdir, Sandbox, SandboxOptions};

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// A prepare that must be refused before anything is written.
fn refused(full: &Path, incs: &[&PathBuf], expected_from: u64, found_from: u64) {
    let before = snapshot(full);
    let mut args = vec!["prepare".to_string(), "--target-dir".into(), s(full)];
    for i in incs {
        args.push("--incremental-dir".into());
        args.push(s(i));
    }
    let o = xb(&args);
    assert_eq!(o.code, 2, "{}", o.all());
    let err = o.stderr.trim();
    assert_eq!(err.lines().count(), 1, "one line: {}", o.all());
    assert!(
        err.contains(&format!(
            "from_lsn is {found_from}, expected from_lsn {expected_from}"
        )),
        "{}",
        o.all()
    );
    assert!(
        snapshot(full) == before,
        "a refused prepare changed the target"
    );
}

#[test]
fn a_week_of_incrementals_restores_the_last_state() {
    let t0 = std::time::Instant::now();
    let work = short_tempdir().unwrap();
    let w = |p: &str| work.path().join(p);
    let mut src = Sandbox::in_tempdir(&SandboxOptions::default()).expect("MariaDB sandbox");
    let mut dirs: Vec<PathBuf> = Vec::new();
    let mut expected = (Vec::new(), BTreeMap::new());
    for (day, sql) in DAYS.iter().enumerate() {
        if !src.is_running() {
            src.start().unwrap();
        }
        src.sql_batch(sql).unwrap();
        if day == DAYS.len() - 1 {
            // The source's state at the time of the last backup.
            let names = tables(&src);
            let sums = checksums(&src, &names);
            expected = (names, sums);
        }
        let dir = w(&if day == 0 {
            "full".to_string()
        } else {
            format!("inc{day}")
        });
        cold_backup(&mut src, &dir, dirs.last().map(PathBuf::as_path));
        dirs.push(dir);
    }
    drop(src);
    let backups = t0.elapsed().as_secs_f64();
    let (full, incs) = (&dirs[0], &dirs[1..]);
    let lsn = |d: &Path, k: &str| checkpoint_value(d, k);

    // (b) Missing base, out of order, a gap: refused, the expected from_lsn named, target
    // untouched.
    refused(
        full,
        &[&incs[1]],
        lsn(full, "to_lsn"),
        lsn(&incs[1], "from_lsn"),
    );
    refused(
        full,
        &[&incs[1], &incs[0]],
        lsn(full, "to_lsn"),
        lsn(&incs[1], "from_lsn"),
    );
    refused(
        full,
        &[&incs[0], &incs[2]],
        lsn(&incs[0], "to_lsn"),
        lsn(&incs[2], "from_lsn"),
    );

    // The whole chain verifies as restorable.
    let mut args: Vec<String> = vec!["verify".into()];
    args.extend(dirs.iter().map(|d| s(d)));
    let o = xb(&args);
    assert_eq!(o.code, 0, "{}", o.all());
    assert!(o.stdout.contains("restorable: yes"), "{}", o.all());

    // (a) One pass over the six incrementals, restore, a server on the result.
    let mut args = vec![
        "prepare".to_string(),
        "--json".into(),
        "--target-dir".into(),
        s(full),
    ];
    for i in incs {
        args.push("--incremental-dir".into());
        args.push(s(i));
    }
    let o = xb_ok(&args);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v["incrementals"], 6);
    assert_eq!(v["to_lsn"], lsn(&incs[5], "to_lsn"));
    assert!(v["pages_written"].as_u64().unwrap() > 0, "{v}");
    assert!(v["files_removed"].as_u64().unwrap() > 0, "{v}");
    assert!(v["files_renamed"].as_u64().unwrap() > 0, "{v}");

    let restored = w("restored");
    let o = xb_ok(&[
        "copy-back",
        "--json",
        "--target-dir",
        &s(full),
        "--datadir",
        &s(&restored),
    ]);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert!(v["start_command"].as_str().unwrap().starts_with("mariadbd"));
    assert!(v["files"].as_u64().unwrap() > 10, "{v}");

    let server =
        Sandbox::on_datadir(w("run"), &restored, &SandboxOptions::default()).expect("restored");
    let names = tables(&server);
    assert_eq!(names, expected.0, "the restored server's tables");
    for gone in ["week.scratch", "week.legacy", "week.swap_tmp"] {
        assert!(!names.iter().any(|n| n == gone), "{gone} is back");
    }
    for present in ["week.archive", "week.events", "week.zipped", "week.swap_a"] {
        assert!(names.iter().any(|n| n == present), "{present} is missing");
    }
    let got = checksums(&server, &names);
    assert_eq!(got, expected.1, "CHECKSUM TABLE on the restored server");
    // The swap really swapped: swap_a holds the rows that were swap_b's.
    assert_eq!(
        server
            .query_value("SELECT COUNT(*) FROM week.swap_a")
            .unwrap(),
        "150"
    );
    drop(server);
    eprintln!(
        "week schedule: 7 backups in {backups:.1} s, whole test {:.1} s",
        t0.elapsed().as_secs_f64()
    );
}
