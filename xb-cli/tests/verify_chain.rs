//! `xb verify` on a real backup chain (a throwaway MariaDB 10.11, cold backups taken with this
//! `xb`): a sound chain is restorable and left untouched; a corrupt byte in a delta page, a
//! missing middle incremental and a `.meta` with another space id are each caught, with the
//! file, page or LSN named, and exit status 1.

mod common;

use std::fs;
use std::path::Path;

use common::{checkpoint_value, cold_backup, copy_dir, delta_pages, snapshot, xb};
use xb_testkit::sandbox::{short_tempdir, Sandbox, SandboxOptions};

fn s(p: &Path) -> String {
    p.display().to_string()
}

#[test]
fn verify_a_real_chain_and_catch_what_breaks_it() {
    let work = short_tempdir().unwrap();
    let w = |p: &str| work.path().join(p);
    let mut src = Sandbox::in_tempdir(&SandboxOptions::default()).expect("MariaDB sandbox");
    src.sql_batch(
        "CREATE DATABASE shop; USE shop;
         CREATE TABLE orders (id INT PRIMARY KEY, customer VARCHAR(40), total DECIMAL(10,2),
                              KEY (customer)) ENGINE=InnoDB;
         INSERT INTO orders SELECT seq, CONCAT('customer-', seq % 97), seq * 1.5
                FROM seq_1_to_4000;
         CREATE TABLE notes (id INT PRIMARY KEY, body TEXT) ENGINE=InnoDB
                ROW_FORMAT=COMPRESSED KEY_BLOCK_SIZE=8;
         INSERT INTO notes SELECT seq, REPEAT(SHA2(seq, 256), 4) FROM seq_1_to_800;",
    )
    .unwrap();
    cold_backup(&mut src, &w("full"), None);
    src.start().unwrap();
    src.sql_batch(
        "USE shop; UPDATE orders SET total = total + 1 WHERE id % 7 = 0;
         INSERT INTO orders SELECT seq, 'late', 2.5 FROM seq_4001_to_5000;
         UPDATE notes SET body = REPEAT('x', 300) WHERE id <= 50;",
    )
    .unwrap();
    cold_backup(&mut src, &w("inc1"), Some(&w("full")));
    src.start().unwrap();
    src.sql_batch(
        "USE shop; DELETE FROM orders WHERE id % 11 = 0;
         CREATE TABLE later (id INT PRIMARY KEY) ENGINE=InnoDB;
         INSERT INTO later SELECT seq FROM seq_1_to_100;",
    )
    .unwrap();
    cold_backup(&mut src, &w("inc2"), Some(&w("inc1")));
    drop(src);

    let (full, inc1, inc2) = (w("full"), w("inc1"), w("inc2"));
    let before: Vec<_> = [&full, &inc1, &inc2].iter().map(|d| snapshot(d)).collect();

    // A sound chain: restorable, the newest to_lsn reported.
    let o = xb(&["verify", &s(&full), &s(&inc1), &s(&inc2)]);
    assert_eq!(o.code, 0, "{}", o.all());
    assert!(o.stdout.contains("restorable: yes"), "{}", o.all());
    let to = checkpoint_value(&inc2, "to_lsn");
    assert!(
        o.stdout.contains(&format!("newest to_lsn: {to}")),
        "{}",
        o.all()
    );
    let o = xb(&[
        "verify",
        "--json",
        "--target-dir",
        &s(&full),
        "--incremental-dir",
        &s(&inc1),
        "--incremental-dir",
        &s(&inc2),
    ]);
    assert_eq!(o.code, 0, "{}", o.all());
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v["kind"], "chain");
    assert_eq!(v["restorable"], true);
    assert_eq!(v["to_lsn"], to);
    assert_eq!(v["backups"].as_array().unwrap().len(), 3);
    assert_eq!(
        v["backups"][2]["from_lsn"],
        checkpoint_value(&inc1, "to_lsn")
    );
    assert!(
        v["backups"][1]["pages_checked"].as_u64().unwrap() > 10,
        "{v}"
    );
    assert!(v["corrupt"].as_array().unwrap().is_empty(), "{v}");
    assert!(v["refusal"].is_null(), "{v}");
    assert!(v["plan"]["delta_pages"].as_u64().unwrap() > 0, "{v}");
    // Verify only reads.
    let after: Vec<_> = [&full, &inc1, &inc2].iter().map(|d| snapshot(d)).collect();
    assert!(before == after, "xb verify changed a backup directory");

    // The middle incremental missing: not restorable, the expected from_lsn named.
    let o = xb(&["verify", &s(&full), &s(&inc2)]);
    assert_eq!(o.code, 1, "{}", o.all());
    let full_to = checkpoint_value(&full, "to_lsn");
    let inc2_from = checkpoint_value(&inc2, "from_lsn");
    assert!(o.stdout.contains("restorable: no"), "{}", o.all());
    assert!(
        o.stdout.contains(&format!("expected from_lsn {full_to}"))
            && o.stdout.contains(&format!("from_lsn is {inc2_from}")),
        "{}",
        o.all()
    );

    // A corrupt byte in a page of a delta: exit 1, the delta and the page named.
    let bad = w("inc1-corrupt");
    copy_dir(&inc1, &bad).unwrap();
    let delta = bad.join("shop/orders.ibd.delta");
    let pages = delta_pages(&delta, 16384);
    let (page_no, offset) = *pages.last().expect("orders changed in inc1");
    let mut bytes = fs::read(&delta).unwrap();
    bytes[offset as usize + 5000] ^= 0x5a;
    fs::write(&delta, bytes).unwrap();
    let o = xb(&["verify", &s(&full), &s(&bad), &s(&inc2)]);
    assert_eq!(o.code, 1, "{}", o.all());
    assert!(
        o.stdout
            .contains(&format!("{}: page {page_no}: checksum", delta.display())),
        "{}",
        o.all()
    );
    assert!(o.stdout.contains("restorable: no"), "{}", o.all());
    let o = xb(&["verify", "--json", &s(&full), &s(&bad)]);
    assert_eq!(o.code, 1, "{}", o.all());
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v["restorable"], false);
    assert_eq!(v["corrupt"][0]["file"], s(&delta));
    assert_eq!(v["corrupt"][0]["page_no"], page_no);

    // A .meta naming another tablespace (the compressed table's space id on the orders delta).
    let bad = w("inc1-meta");
    copy_dir(&inc1, &bad).unwrap();
    let meta = bad.join("shop/orders.ibd.meta");
    let notes_meta = fs::read_to_string(bad.join("shop/notes.ibd.meta")).unwrap();
    let notes_id = notes_meta
        .lines()
        .find_map(|l| l.strip_prefix("space_id = "))
        .unwrap()
        .trim()
        .to_string();
    let text = fs::read_to_string(&meta).unwrap();
    let edited: String = text
        .lines()
        .map(|l| {
            if l.starts_with("space_id") {
                format!("space_id = {notes_id}\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    assert_ne!(text, edited);
    fs::write(&meta, edited).unwrap();
    let o = xb(&["verify", &s(&full), &s(&bad)]);
    assert_eq!(o.code, 1, "{}", o.all());
    assert!(o.stdout.contains("restorable: no"), "{}", o.all());
    assert!(
        o.stdout.contains("orders.ibd") && o.stdout.contains(&format!("space_id = {notes_id}"))
            || o.stdout
                .contains(&format!("orders.ibd.meta says {notes_id}")),
        "{}",
        o.all()
    );

    // Usage: a backup directory mixed with a datadir path; a directory that is not a backup
    // (a private one: other tests create and remove files in /tmp meanwhile).
    let other = w("not-a-backup");
    std::fs::create_dir_all(other.join("db")).unwrap();
    std::fs::write(other.join("db/notes.txt"), b"not a backup").unwrap();
    let o = xb(&["verify", &s(&full), &s(&other)]);
    assert_eq!(o.code, 2, "{}", o.all());
    assert!(o.stderr.contains("not both"), "{}", o.all());
    let o = xb(&["verify", "--target-dir", &s(&other)]);
    assert_eq!(o.code, 2, "{}", o.all());
    assert!(o.stderr.contains("not a backup directory"), "{}", o.all());
}
