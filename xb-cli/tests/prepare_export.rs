//! `xb prepare --export` (mariabackup `--prepare --export`) against MariaDB 10.11: the `.cfg`
//! files it leaves let another server import the tables (`DISCARD TABLESPACE`, the `.ibd` and
//! `.cfg` copied in, `IMPORT TABLESPACE`) with the source's data. Needs MariaDB (fails
//! without it).

mod common;

use std::path::Path;

use xb_testkit::sandbox::{short_tempdir, Sandbox, SandboxOptions};

/// `xb ARGS`: its exit code and standard error.
fn xb(args: &[&str]) -> (i32, String) {
    let o = common::xb(args);
    (o.code, o.stderr)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

const CREATE: &[&str] = &[
    "CREATE TABLE e.plain (id INT PRIMARY KEY, v VARCHAR(100), n BIGINT, KEY n (n)) \
     ENGINE=InnoDB",
    "CREATE TABLE e.`odd-name` (id INT PRIMARY KEY, b BLOB) ENGINE=InnoDB ROW_FORMAT=COMPRESSED",
    "CREATE TABLE e.parted (id INT PRIMARY KEY, v INT) ENGINE=InnoDB \
     PARTITION BY HASH (id) PARTITIONS 3",
];
/// The tables imported (a partitioned table cannot discard its tablespace in MariaDB 10.11;
/// its partitions' `.cfg` files are only checked to exist).
const TABLES: &[&str] = &["e.plain", "e.odd-name"];

/// `db.t` quoted for SQL.
fn q(table: &str) -> String {
    let (d, t) = table.split_once('.').unwrap();
    format!("`{d}`.`{t}`")
}

#[test]
fn exported_tables_import_into_another_server() {
    let sb = Sandbox::in_tempdir(&SandboxOptions::default()).expect("MariaDB sandbox");
    let mut sql = String::from("CREATE DATABASE e;\n");
    for c in CREATE {
        sql.push_str(c);
        sql.push_str(";\n");
    }
    let plain: Vec<String> = (1..=3000)
        .map(|i| format!("({i}, REPEAT('p', {}), {})", i % 90, i * 7919 % 1000))
        .collect();
    let odd: Vec<String> = (1..=200)
        .map(|i| format!("({i}, REPEAT('o', {}))", i * 37 % 3000))
        .collect();
    let parted: Vec<String> = (1..=1000).map(|i| format!("({i}, {})", i * 3)).collect();
    sql.push_str(&format!(
        "INSERT INTO e.plain VALUES {};\nINSERT INTO e.`odd-name` VALUES {};\n\
         INSERT INTO e.parted VALUES {};\n",
        plain.join(","),
        odd.join(","),
        parted.join(",")
    ));
    sql.push_str("DELETE FROM e.plain WHERE id > 2900;\n");
    sb.sql(&sql).unwrap();
    let reference = sb.checksum_tables(TABLES).unwrap();

    let work = short_tempdir().unwrap();
    let full = work.path().join("full");
    let sock = sb.socket();
    let (code, err) = xb(&[
        "backup",
        "--datadir",
        s(sb.datadir()),
        "--target-dir",
        s(&full),
        "--socket",
        s(&sock),
        "--user",
        "root",
        "--no-defaults",
        "--no-sync",
    ]);
    assert_eq!(code, 0, "{err}");

    let (code, err) = xb(&["prepare", "--target-dir", s(&full), "--export"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("table(s) exported"), "{err}");
    let cps = std::fs::read_to_string(full.join("xtrabackup_checkpoints")).unwrap();
    assert!(cps.contains("backup_type = full-prepared"), "{cps}");
    let e = full.join("e");
    for f in [
        "plain.cfg",
        "odd@002dname.cfg",
        "parted#P#p0.cfg",
        "parted#P#p2.cfg",
    ] {
        assert!(e.join(f).is_file(), "{f} missing: {err}");
    }
    let leftovers: Vec<_> = std::fs::read_dir(&e)
        .unwrap()
        .filter_map(|f| f.ok())
        .filter(|f| f.file_name().to_string_lossy().contains(".xb-export"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // a fresh server: the same tables, their tablespaces discarded and imported
    let other = Sandbox::in_tempdir(&SandboxOptions::default()).expect("second sandbox");
    let mut sql = String::from("CREATE DATABASE e;\n");
    for c in &CREATE[..2] {
        sql.push_str(c);
        sql.push_str(";\n");
    }
    for t in TABLES {
        sql.push_str(&format!("ALTER TABLE {} DISCARD TABLESPACE;\n", q(t)));
    }
    other.sql(&sql).unwrap();
    let dest = other.datadir().join("e");
    for f in std::fs::read_dir(&e).unwrap() {
        let f = f.unwrap();
        let name = f.file_name().to_string_lossy().into_owned();
        if !name.starts_with("parted") && (name.ends_with(".ibd") || name.ends_with(".cfg")) {
            std::fs::copy(f.path(), dest.join(&name)).unwrap();
        }
    }
    let import: String = TABLES
        .iter()
        .map(|t| format!("ALTER TABLE {} IMPORT TABLESPACE;\n", q(t)))
        .collect();
    other.sql(&import).unwrap();
    let log = std::fs::read_to_string(other.error_log()).unwrap();
    // imported with the .cfg files (without one the server warns and imports without
    // checking the schema)
    assert!(!log.contains("without schema verification"), "{log}");
    assert!(!log.contains("Error opening"), "{log}");
    assert_eq!(other.checksum_tables(TABLES).unwrap(), reference);
}
