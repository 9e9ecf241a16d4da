//! `xb bitmap dump` and `xb bitmap verify` against directories written with lsn-bitmap.

use std::path::Path;
use std::process::Command;

use innodb_page::Lsn;
use lsn_bitmap::{BitmapWriter, ChangedPages, WriterOptions};

fn xb(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_xb"))
        .args(args)
        .output()
        .expect("run xb");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// File 1: runs 100..200 (space 5 pages 3, 4; space 7 page 40000) and 200..300 (space 5 page 9).
fn sample(dir: &Path) -> std::path::PathBuf {
    let opts = WriterOptions::default().sync(false);
    let mut w = BitmapWriter::open(dir, opts).unwrap();
    let path = w.start_file(Lsn::new(100)).unwrap();
    let mut p = ChangedPages::new();
    p.insert(5, 3);
    p.insert(5, 4);
    p.insert(7, 40_000);
    w.write_run(Lsn::new(200), &p).unwrap();
    let mut p = ChangedPages::new();
    p.insert(5, 9);
    w.write_run(Lsn::new(300), &p).unwrap();
    path
}

#[test]
fn dump_lists_runs_and_pages() {
    let dir = tempfile::tempdir().unwrap();
    sample(dir.path());
    let d = dir.path().to_str().unwrap();
    let (code, out) = xb(&[
        "bitmap",
        "dump",
        d,
        "--start-lsn",
        "150",
        "--end-lsn",
        "300",
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("ib_modified_log_1_100.xdb: seq 1, start LSN 100, 12288 bytes"),
        "{out}"
    );
    assert!(
        out.contains("run at byte 0: LSN 100..200, 2 block(s)"),
        "{out}"
    );
    assert!(
        out.contains("run at byte 8192: LSN 200..300, 1 block(s)"),
        "{out}"
    );
    assert!(
        out.contains("covered by 2 run(s), 3 block(s), 4 page(s)"),
        "{out}"
    );
    assert!(out.contains("space 5: 3..5, 9"), "{out}");
    assert!(out.contains("space 7: 40000"), "{out}");
}

#[test]
fn dump_json() {
    let dir = tempfile::tempdir().unwrap();
    sample(dir.path());
    let d = dir.path().to_str().unwrap();
    let (code, out) = xb(&[
        "bitmap",
        "dump",
        d,
        "--start-lsn",
        "200",
        "--end-lsn",
        "250",
        "--json",
        "--blocks",
    ]);
    assert_eq!(code, 0, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let runs = &v["files"][0]["runs"];
    assert_eq!(runs.as_array().unwrap().len(), 2);
    assert_eq!(runs[0]["start_lsn"], 100);
    assert_eq!(runs[0]["end_lsn"], 200);
    assert_eq!(runs[0]["block_keys"][1]["first_page_id"], 32448);
    assert_eq!(v["range"]["covered"], true);
    assert_eq!(v["range"]["spaces"][0]["space_id"], 5);
    assert_eq!(v["range"]["spaces"][0]["ranges"][0]["start"], 9);
    assert_eq!(v["range"]["spaces"][0]["ranges"][0]["end"], 10);
}

#[test]
fn dump_range_not_covered_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    sample(dir.path());
    let d = dir.path().to_str().unwrap();
    let (code, out) = xb(&[
        "bitmap",
        "dump",
        d,
        "--start-lsn",
        "50",
        "--end-lsn",
        "300",
        "--json",
    ]);
    assert_eq!(code, 1, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["range"]["covered"], false);
    assert_eq!(v["range"]["reason"]["kind"], "start_not_covered");
    let (code, out) = xb(&[
        "bitmap",
        "dump",
        d,
        "--start-lsn",
        "150",
        "--end-lsn",
        "400",
    ]);
    assert_eq!(code, 1);
    assert!(
        out.contains("not covered: bitmap data ends at LSN 300"),
        "{out}"
    );
}

#[test]
fn verify_clean_then_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let path = sample(dir.path());
    let d = dir.path().to_str().unwrap();
    let (code, out) = xb(&["bitmap", "verify", d]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("ok  ib_modified_log_1_100.xdb: 3 block(s), 2 run(s), LSN 100..300"),
        "{out}"
    );

    // A torn tail is only a note.
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend_from_slice(&[1u8; 100]);
    std::fs::write(&path, &bytes).unwrap();
    let (code, out) = xb(&["bitmap", "verify", d]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("note: tail ignored by readers: partial block at byte 12288"),
        "{out}"
    );

    // A flipped byte in the first block is corruption.
    bytes[40] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    let (code, out) = xb(&["bitmap", "verify", d, "--json"]);
    assert_eq!(code, 1, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["clean"], false);
    assert_eq!(v["files"][0]["problems"][0]["kind"], "corrupt_block");
}

#[test]
fn missing_directory_is_exit_2() {
    let (code, _) = xb(&["bitmap", "verify", "/nonexistent/xb-bitmap-dir"]);
    assert_eq!(code, 2);
}
