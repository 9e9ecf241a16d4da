//! Compressed and encrypted backups end to end (a throwaway MariaDB 10.11, cold backups): a
//! backup taken with `--compress --encrypt` (to a public key only) and an incremental on top
//! of it restore, through `xb copy-back` (decoding while copying) and `xb prepare` (decoding in
//! place first), to the same bytes as the plain route; `xb decompress` gives the plain backup's
//! files; a missing identity and a damaged file are refused naming the file, leaving nothing
//! under a final name.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{snapshot, xb, xb_ok};
use xb_testkit::sandbox::{short_tempdir, Sandbox, SandboxOptions};

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// Stops `src` and takes a cold backup into `target` with `extra` options.
fn cold(src: &mut Sandbox, target: &Path, base: Option<&Path>, extra: &[&str]) {
    if src.is_running() {
        src.checkpoint().unwrap();
        src.stop().unwrap();
    }
    let mut args = vec![
        "--quiet".to_string(),
        "backup".into(),
        "--datadir".into(),
        s(src.datadir()),
        "--target-dir".into(),
        s(target),
        "--no-sync".into(),
    ];
    if let Some(b) = base {
        args.extend(["--incremental-basedir".into(), s(b)]);
    }
    args.extend(extra.iter().map(|a| a.to_string()));
    xb_ok(&args);
}

/// The files of `dir` but the two whose contents name the backup itself (times, command line,
/// identity).
fn data_files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut m = snapshot(dir);
    m.retain(|p, _| !["xtrabackup_info", "xb_backup_info"].contains(&p.to_str().unwrap()));
    m
}

fn same(a: &Path, b: &Path) {
    let (x, y) = (data_files(a), data_files(b));
    assert_eq!(x.keys().collect::<Vec<_>>(), y.keys().collect::<Vec<_>>());
    for (k, v) in &x {
        assert!(
            v == &y[k],
            "{} differs between {} and {}",
            k.display(),
            a.display(),
            b.display()
        );
    }
}

#[test]
fn compressed_encrypted_backups_restore_to_the_plain_bytes() {
    let work = short_tempdir().unwrap();
    let w = |p: &str| work.path().join(p);
    let st = Command::new("age-keygen")
        .arg("-o")
        .arg(w("id.txt"))
        .output()
        .expect("age-keygen is needed (scripts/lib/ensure-tools.sh)");
    assert!(st.status.success());
    let public = String::from_utf8_lossy(&st.stderr)
        .split_whitespace()
        .last()
        .unwrap()
        .to_string();
    fs::write(w("pub.txt"), format!("{public}\n")).unwrap();
    let (id, pubkey) = (s(&w("id.txt")), s(&w("pub.txt")));
    let enc = ["--compress", "--encrypt", "--encrypt-key-file", &pubkey];

    let mut src = Sandbox::in_tempdir(&SandboxOptions::default()).expect("MariaDB sandbox");
    src.sql_batch(
        "CREATE DATABASE shop; USE shop;
         CREATE TABLE orders (id INT PRIMARY KEY, note VARCHAR(60)) ENGINE=InnoDB;
         INSERT INTO orders SELECT seq, CONCAT('order-', seq) FROM seq_1_to_3000;",
    )
    .unwrap();
    cold(&mut src, &w("full"), None, &[]);
    cold(&mut src, &w("fullz"), None, &enc);
    cold(&mut src, &w("full4"), None, &["--compress=lz4"]);
    assert!(w("fullz/shop/orders.ibd.zst.age").is_file());
    assert!(w("fullz/xtrabackup_checkpoints").is_file(), "kept plain");
    assert!(w("full4/shop/orders.ibd.lz4").is_file());
    src.start().unwrap();
    src.sql_batch("USE shop; UPDATE orders SET note = 'changed' WHERE id % 5 = 0;")
        .unwrap();
    // an incremental on the encrypted base: its plain xtrabackup_checkpoints is enough
    cold(&mut src, &w("inc"), Some(&w("full")), &[]);
    cold(&mut src, &w("incz"), Some(&w("fullz")), &enc);
    drop(src);

    // quicklz is refused with a clear message
    let o = xb(&[
        "backup",
        "--datadir",
        "/nonexistent",
        "--target-dir",
        &s(&w("q")),
        "--compress=quicklz",
    ]);
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("QuickLZ"), "{}", o.all());

    // xb decompress: the plain backup's files
    xb_ok(&[
        "--quiet",
        "decompress",
        "--remove-original",
        &s(&w("full4")),
    ]);
    same(&w("full"), &w("full4"));

    // copy-back decodes while copying; a public key cannot decrypt
    let o = xb(&[
        "copy-back",
        "--target-dir",
        &s(&w("fullz")),
        "--datadir",
        &s(&w("d")),
        "--encrypt-key-file",
        &pubkey,
    ]);
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("identity"), "{}", o.all());
    // another identity: told apart, with what to do
    let st = Command::new("age-keygen")
        .arg("-o")
        .arg(w("other.txt"))
        .output()
        .unwrap();
    assert!(st.status.success());
    let o = xb(&[
        "copy-back",
        "--target-dir",
        &s(&w("fullz")),
        "--datadir",
        &s(&w("d")),
        "--encrypt-key-file",
        &s(&w("other.txt")),
    ]);
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("encrypted to another key"), "{}", o.all());
    assert!(o.stderr.contains("--encrypt-key-file"), "{}", o.all());
    assert!(!w("d/shop").exists(), "{}", o.all());
    xb_ok(&[
        "--quiet",
        "copy-back",
        "--target-dir",
        &s(&w("full")),
        "--datadir",
        &s(&w("d0")),
    ]);
    xb_ok(&[
        "--quiet",
        "copy-back",
        "--target-dir",
        &s(&w("fullz")),
        "--datadir",
        &s(&w("d1")),
        "--encrypt-key-file",
        &id,
    ]);
    same(&w("d0"), &w("d1"));

    // a damaged file: refused, named, and not left in the datadir
    common::copy_dir(&w("fullz"), &w("bad")).unwrap();
    let ibd = w("bad/shop/orders.ibd.zst.age");
    let mut b = fs::read(&ibd).unwrap();
    let at = b.len() / 2;
    b[at] ^= 4;
    fs::write(&ibd, b).unwrap();
    let o = xb(&[
        "copy-back",
        "--target-dir",
        &s(&w("bad")),
        "--datadir",
        &s(&w("d2")),
        "--encrypt-key-file",
        &id,
    ]);
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("orders.ibd.zst.age"), "{}", o.all());
    assert!(!w("d2/shop/orders.ibd").exists());
    // prepare refuses it too, before merging anything, and leaves it encoded
    let o = xb(&[
        "prepare",
        "--target-dir",
        &s(&w("bad")),
        "--encrypt-key-file",
        &id,
    ]);
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("orders.ibd.zst.age"), "{}", o.all());
    assert!(!w("bad/shop/orders.ibd").exists() && ibd.exists());
    assert!(!w("bad/shop/orders.ibd.xbdecode").exists());

    // verify reads the encoded chain through a decoded copy, removed afterwards
    let o = xb(&[
        "verify",
        &s(&w("fullz")),
        &s(&w("incz")),
        "--encrypt-key-file",
        &id,
    ]);
    assert_eq!(o.code, 0, "{}", o.all());
    assert!(o.stdout.contains("restorable: yes"), "{}", o.all());
    let left: Vec<_> = fs::read_dir(work.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".xb-verify"))
        .collect();
    assert!(left.is_empty(), "{left:?}");

    // prepare decodes in place first, then merges: the plain route's bytes
    xb_ok(&[
        "--quiet",
        "prepare",
        "--target-dir",
        &s(&w("full")),
        "--incremental-dir",
        &s(&w("inc")),
    ]);
    xb_ok(&[
        "--quiet",
        "prepare",
        "--target-dir",
        &s(&w("fullz")),
        "--incremental-dir",
        &s(&w("incz")),
        "--encrypt-key-file",
        &id,
    ]);
    assert!(!w("fullz/shop/orders.ibd.zst.age").exists());
    same(&w("full"), &w("fullz"));
}
