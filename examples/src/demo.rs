//! The end-to-end demo: back up a real MariaDB with the `xb` binary, restore, compare.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::Command;

use xb_testkit::sandbox::{short_tempdir, Sandbox, SandboxOptions};

/// Any failure of the demo, as text (it is a program for people, not a library API).
pub type Error = Box<dyn std::error::Error>;

const TABLES: &[&str] = &["shop.orders", "shop.notes", "shop.audit", "shop.later"];

fn run_xb(xb: &Path, args: &[&str], out: &mut dyn Write) -> Result<(), Error> {
    writeln!(out, "\n$ xb {}", args.join(" "))?;
    let o = Command::new(xb).args(args).output()?;
    out.write_all(&o.stderr)?;
    out.write_all(&o.stdout)?;
    if !o.status.success() {
        return Err(format!("xb {} failed with {}", args.join(" "), o.status).into());
    }
    Ok(())
}

/// Runs the whole flow with the `xb` binary at `xb`, narrating to `out`. Returns whether every
/// table's checksum on the restored server equals the source's.
pub fn run(xb: &Path, out: &mut dyn Write) -> Result<bool, Error> {
    let work = short_tempdir()?;
    let w = |p: &str| work.path().join(p).to_string_lossy().into_owned();

    let mut src = loaded_source(out)?;
    let datadir = src.datadir().to_string_lossy().into_owned();

    writeln!(out, "\n== full backup of the stopped server")?;
    run_xb(
        xb,
        &["backup", "--datadir", &datadir, "--target-dir", &w("full")],
        out,
    )?;

    writeln!(out, "\n== changes: DML and DDL")?;
    let source = change(&mut src)?;

    writeln!(
        out,
        "\n== incremental backup (pages changed since the full)"
    )?;
    run_xb(
        xb,
        &[
            "backup",
            "--datadir",
            &datadir,
            "--target-dir",
            &w("inc1"),
            "--incremental-basedir",
            &w("full"),
        ],
        out,
    )?;

    prepare_and_restore(xb, &w("full"), &w("inc1"), &w("restored"), out)?;

    writeln!(
        out,
        "\n== a server on the restored datadir (its crash recovery applies the redo)"
    )?;
    let restored = Sandbox::on_datadir(
        work.path().join("run"),
        work.path().join("restored"),
        &SandboxOptions::default(),
    )?;
    let got = restored.checksum_tables(TABLES)?;
    drop(restored);
    compare(&source, &got, out)
}

/// A throwaway MariaDB with the demo's tables loaded, stopped.
fn loaded_source(out: &mut dyn Write) -> Result<Sandbox, Error> {
    writeln!(out, "== a throwaway MariaDB in a temporary directory")?;
    let mut src = Sandbox::in_tempdir(&SandboxOptions::default())?;
    writeln!(out, "datadir {}", src.datadir().display())?;
    src.sql_batch(
        "CREATE DATABASE shop; USE shop;
         CREATE TABLE orders (id INT PRIMARY KEY, customer VARCHAR(40), total DECIMAL(10,2),
                              KEY (customer)) ENGINE=InnoDB;
         INSERT INTO orders SELECT seq, CONCAT('customer-', seq % 997), seq * 1.25 FROM seq_1_to_20000;
         CREATE TABLE notes (id INT PRIMARY KEY, body TEXT) ENGINE=InnoDB
                ROW_FORMAT=COMPRESSED KEY_BLOCK_SIZE=8;
         INSERT INTO notes SELECT seq, REPEAT(SHA2(seq, 256), 8) FROM seq_1_to_3000;
         CREATE TABLE audit (id INT PRIMARY KEY, what VARCHAR(64)) ENGINE=InnoDB;
         INSERT INTO audit SELECT seq, CONCAT('event ', seq) FROM seq_1_to_500;",
    )?;
    writeln!(
        out,
        "loaded shop.orders (20000 rows), shop.notes (compressed), shop.audit"
    )?;
    src.checkpoint()?;
    src.stop()?;
    Ok(src)
}

/// Starts `src`, changes it (DML and DDL) and stops it again; returns its tables' checksums.
fn change(src: &mut Sandbox) -> Result<BTreeMap<String, String>, Error> {
    src.start()?;
    src.sql_batch(
        "USE shop;
         UPDATE orders SET total = total + 1 WHERE id % 50 = 0;
         INSERT INTO orders SELECT seq, 'new customer', 9.99 FROM seq_20001_to_21000;
         UPDATE notes SET body = REPEAT('changed', 20) WHERE id <= 100;
         TRUNCATE TABLE audit;
         INSERT INTO audit VALUES (1, 'after truncate');
         CREATE TABLE later (id INT PRIMARY KEY, v INT) ENGINE=InnoDB;
         INSERT INTO later SELECT seq, seq * seq FROM seq_1_to_1000;",
    )?;
    let source: BTreeMap<String, String> = src.checksum_tables(TABLES)?;
    src.checkpoint()?;
    src.stop()?;
    Ok(source)
}

/// Merges the incremental `inc1` into the full backup `full`, and restores that into the new
/// datadir `restored`.
fn prepare_and_restore(
    xb: &Path,
    full: &str,
    inc1: &str,
    restored: &str,
    out: &mut dyn Write,
) -> Result<(), Error> {
    writeln!(
        out,
        "\n== prepare: merge the incremental into the full (one pass)"
    )?;
    run_xb(
        xb,
        &["prepare", "--target-dir", full, "--incremental-dir", inc1],
        out,
    )?;

    writeln!(out, "\n== restore into a new datadir")?;
    run_xb(
        xb,
        &["copy-back", "--target-dir", full, "--datadir", restored],
        out,
    )
}

/// Prints the checksums of every table, on the source and restored; returns whether they all
/// match.
fn compare(
    source: &BTreeMap<String, String>,
    got: &BTreeMap<String, String>,
    out: &mut dyn Write,
) -> Result<bool, Error> {
    writeln!(out, "\n{:<14} {:>12} {:>12}", "table", "source", "restored")?;
    let mut all = true;
    for t in TABLES {
        let (a, b) = (source.get(*t), got.get(*t));
        let ok = a.is_some() && a == b;
        all &= ok;
        writeln!(
            out,
            "{:<14} {:>12} {:>12} {}",
            t,
            a.map(String::as_str).unwrap_or("-"),
            b.map(String::as_str).unwrap_or("-"),
            if ok { "match" } else { "DIFFERENT" }
        )?;
    }
    writeln!(
        out,
        "\n{}",
        if all {
            "CHECKSUM TABLE of every table matches the source."
        } else {
            "MISMATCH: the restored data differs from the source."
        }
    )?;
    Ok(all)
}
