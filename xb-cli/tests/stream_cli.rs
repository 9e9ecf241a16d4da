//! `xb backup --stream=xbstream` and `xb extract` against the real `mbstream`, `mariabackup`
//! and MariaDB 10.11: cold full and incremental streams extract with `mbstream -x` to the
//! bytes of the same backups written to directories and are prepared by `mariabackup`;
//! `mariabackup --stream=xbstream` extracts with xb as with mbstream; copy-back reads a stream
//! file in place; a hot backup streamed, extracted, prepared and restored has the source's data.

mod common;

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use common::{snapshot, xb, xb_ok};
use xb_testkit::load::{self, Load};
use xb_testkit::sandbox::{short_tempdir, Sandbox, SandboxOptions};

/// One server at a time in this binary (2 cores).
static ONE_SERVER: Mutex<()> = Mutex::new(());

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `xb ARGS > out`; the exit code and standard error.
fn xb_to(args: &[&str], out: &Path) -> (i32, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_xb"))
        .args(args)
        .stdout(File::create(out).unwrap())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// `mbstream -x -C dir < stream`, which must succeed.
fn mbstream_x(stream: &Path, dir: &Path) {
    fs::create_dir_all(dir).unwrap();
    let o = Command::new("mbstream")
        .args(["-x", "-C", s(dir)])
        .stdin(File::open(stream).unwrap())
        .output()
        .expect("run mbstream");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// The files of a backup directory, with the lines that name the run (times, ids and the
/// base's id, the command line) left out of the info files.
fn comparable(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    const RUN_KEYS: &[&str] = &[
        "uuid",
        "tool_command",
        "start_time",
        "end_time",
        "backup_id",
        "base_backup_id",
        // `file` or `mbstream`: how the backup was written, as mariabackup records it
        "format",
    ];
    let mut files = snapshot(dir);
    for name in ["xtrabackup_info", "xb_backup_info"] {
        let f = files.get_mut(Path::new(name)).expect(name);
        let text = String::from_utf8(f.clone()).unwrap();
        let kept: Vec<&str> = text
            .lines()
            .filter(|l| !RUN_KEYS.iter().any(|k| l.starts_with(&format!("{k} ="))))
            .collect();
        *f = kept.join("\n").into_bytes();
    }
    files
}

/// Asserts that two trees are equal, naming the files that differ.
fn same_files(a: &BTreeMap<PathBuf, Vec<u8>>, b: &BTreeMap<PathBuf, Vec<u8>>) {
    let keys: std::collections::BTreeSet<_> = a.keys().chain(b.keys()).collect();
    let differ: Vec<String> = keys
        .into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| match (a.get(k), b.get(k)) {
            (Some(x), Some(y)) if k.to_str().unwrap().contains("info") => format!(
                "{}:\n{}\n---\n{}",
                k.display(),
                String::from_utf8_lossy(x),
                String::from_utf8_lossy(y)
            ),
            _ => k.display().to_string(),
        })
        .collect();
    assert!(differ.is_empty(), "files differ: {differ:#?}");
}

fn stop(sb: &mut Sandbox) {
    sb.checkpoint().unwrap();
    sb.stop().unwrap();
}

#[test]
fn cold_streams_give_the_directory_bytes_with_mbstream_and_mariabackup_streams_extract_alike() {
    let _one = ONE_SERVER.lock().unwrap_or_else(|p| p.into_inner());
    let mut sb = Sandbox::in_tempdir(&SandboxOptions::default()).expect("MariaDB sandbox");
    sb.sql(
        "CREATE DATABASE d; USE d; \
         CREATE TABLE d.t (id INT PRIMARY KEY, v VARCHAR(100)) ENGINE=InnoDB; \
         INSERT INTO d.t SELECT seq, REPEAT('x', 60) FROM seq_1_to_3000; \
         CREATE TABLE d.m (id INT) ENGINE=MyISAM; INSERT INTO d.m VALUES (1), (2); \
         CREATE TABLE d.a (id INT) ENGINE=Aria; INSERT INTO d.a VALUES (1); \
         CREATE TABLE d.e (id INT NOT NULL) ENGINE=CSV;",
    )
    .unwrap();
    let w = short_tempdir().unwrap();
    let w = w.path();

    // mariabackup's own stream: xb extract and mbstream -x give the same files
    let mb_stream = w.join("mb.xbs");
    let o = sb
        .mariabackup_command()
        .args(["--backup", "--stream=xbstream"])
        .arg(format!("--target-dir={}", w.join("mbtmp").display()))
        .stdout(File::create(&mb_stream).unwrap())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    mbstream_x(&mb_stream, &w.join("mb-by-mbstream"));
    let out = xb_ok(&[
        "extract",
        "--no-sync",
        "--parallel",
        "2",
        "--target-dir",
        s(&w.join("mb-by-xb")),
        s(&mb_stream),
    ]);
    assert!(out.stderr.contains("extracted"), "{}", out.all());
    let by_xb = snapshot(&w.join("mb-by-xb"));
    assert!(
        by_xb.contains_key(Path::new("d/m.MYD")),
        "{:?}",
        by_xb.keys()
    );
    assert!(by_xb.contains_key(Path::new("xtrabackup_checkpoints")));
    same_files(&by_xb, &snapshot(&w.join("mb-by-mbstream")));

    // cold full: streamed (with --extra-lsndir) and to a directory
    stop(&mut sb);
    let dd = sb.datadir().to_path_buf();
    let (full_s, full_d, lsn) = (w.join("full.xbs"), w.join("full-dir"), w.join("lsn"));
    let (code, err) = xb_to(
        &[
            "backup",
            "--datadir",
            s(&dd),
            "--stream=xbstream",
            "--extra-lsndir",
            s(&lsn),
        ],
        &full_s,
    );
    assert_eq!(code, 0, "{err}");
    xb_ok(&[
        "--quiet",
        "backup",
        "--datadir",
        s(&dd),
        "--target-dir",
        s(&full_d),
        "--no-sync",
    ]);
    let full_x = w.join("full-mb");
    mbstream_x(&full_s, &full_x);
    same_files(&comparable(&full_x), &comparable(&full_d));
    // xb extract gives mbstream's files exactly
    xb_ok(&[
        "extract",
        "--no-sync",
        "-C",
        s(&w.join("full-xb")),
        s(&full_s),
    ]);
    same_files(&snapshot(&w.join("full-xb")), &snapshot(&full_x));
    // compressed in the stream, decoded by xb extract --decode: the same files again
    let zst_s = w.join("full-zst.xbs");
    let (code, err) = xb_to(
        &[
            "backup",
            "--datadir",
            s(&dd),
            "--stream=xbstream",
            "--compress",
        ],
        &zst_s,
    );
    assert_eq!(code, 0, "{err}");
    let zst_x = w.join("full-zst");
    xb_ok(&[
        "extract",
        "--no-sync",
        "--decode",
        "--parallel",
        "2",
        "-C",
        s(&zst_x),
        s(&zst_s),
    ]);
    let mut decoded = comparable(&zst_x);
    let info = decoded.get_mut(Path::new("xtrabackup_info")).unwrap();
    let text = String::from_utf8(info.clone()).unwrap();
    // the one difference: the info file says the backup was compressed
    assert!(text.contains("compressed = compressed"), "{text}");
    *info = text
        .replace("compressed = compressed", "compressed = N")
        .into_bytes();
    same_files(&decoded, &comparable(&full_d));
    // copy-back straight from the stream file restores what copy-back of the directory does
    let (rs, rd) = (w.join("restored-s"), w.join("restored-d"));
    xb_ok(&[
        "copy-back",
        "--no-sync",
        "--target-dir",
        s(&full_s),
        "--datadir",
        s(&rs),
    ]);
    xb_ok(&[
        "copy-back",
        "--no-sync",
        "--target-dir",
        s(&full_d),
        "--datadir",
        s(&rd),
    ]);
    let restored = snapshot(&rs);
    assert!(
        restored.contains_key(Path::new("d/t.ibd")),
        "{:?}",
        restored.keys()
    );
    same_files(&restored, &snapshot(&rd));
    // --extra-lsndir holds what the next incremental needs of its base
    let mut kept: Vec<_> = fs::read_dir(&lsn)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    kept.sort();
    assert_eq!(
        kept,
        [
            "xb_backup_info",
            "xtrabackup_checkpoints",
            "xtrabackup_info"
        ]
    );

    // cold incremental: streamed on the --extra-lsndir, and to a directory on the full
    sb.start().unwrap();
    sb.sql("UPDATE d.t SET v = REPEAT('y', 70) WHERE id % 7 = 0; INSERT INTO d.m VALUES (3)")
        .unwrap();
    stop(&mut sb);
    let (inc_s, inc_d) = (w.join("inc.xbs"), w.join("inc-dir"));
    let (code, err) = xb_to(
        &[
            "backup",
            "--datadir",
            s(&dd),
            "--stream=xbstream",
            "--incremental-basedir",
            s(&lsn),
        ],
        &inc_s,
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("cold incremental backup"), "{err}");
    xb_ok(&[
        "--quiet",
        "backup",
        "--datadir",
        s(&dd),
        "--target-dir",
        s(&inc_d),
        "--incremental-basedir",
        s(&full_d),
        "--no-sync",
    ]);
    let inc_x = w.join("inc-mb");
    mbstream_x(&inc_s, &inc_x);
    let inc_files = comparable(&inc_x);
    assert!(
        inc_files.contains_key(Path::new("d/t.ibd.delta")),
        "{:?}",
        inc_files.keys()
    );
    same_files(&inc_files, &comparable(&inc_d));

    // xb prepares what xb extracted: the chain links through the --extra-lsndir's identity
    let inc_xb = w.join("inc-xb");
    xb_ok(&["extract", "--no-sync", "-C", s(&inc_xb), s(&inc_s)]);
    let full_xb = w.join("full-xb");
    xb_ok(&[
        "prepare",
        "--target-dir",
        s(&full_xb),
        "--incremental-dir",
        s(&inc_xb),
    ]);

    // mariabackup prepares what mbstream extracted: the full, then the incremental
    let arg = |k: &str, p: &Path| format!("--{k}={}", p.display());
    sb.mariabackup(["--prepare".to_string(), arg("target-dir", &full_x)])
        .expect("mariabackup --prepare of the extracted full");
    sb.mariabackup([
        "--prepare".to_string(),
        arg("target-dir", &full_x),
        arg("incremental-dir", &inc_x),
    ])
    .expect("mariabackup --prepare --incremental-dir of the extracted incremental");
}

#[test]
fn stream_refusals_on_the_command_line() {
    let w = tempfile::tempdir().unwrap();
    let w = w.path();
    // --target-dir - without --stream: refused, no directory named "-"
    let o = Command::new(env!("CARGO_BIN_EXE_xb"))
        .current_dir(w)
        .args(["backup", "--datadir", s(w), "--target-dir", "-"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("--stream=xbstream"), "{err}");
    assert!(!w.join("-").exists());
    // a damaged stream: exit 2, the offset named, nothing under a final name incomplete
    let mut stream = Vec::new();
    let mut wr = incremental_core::xbstream::StreamWriter::new(&mut stream);
    wr.payload(b"a", b"complete").unwrap();
    wr.end(b"a").unwrap();
    wr.payload(b"b", b"cut short").unwrap();
    fs::write(w.join("s.xbs"), &stream).unwrap();
    let o = xb(&[
        "extract",
        "--no-sync",
        "-C",
        s(&w.join("x")),
        s(&w.join("s.xbs")),
    ]);
    assert_eq!(o.code, 2, "{}", o.all());
    assert!(o.stderr.contains("truncated stream"), "{}", o.all());
    assert!(o.stderr.contains("byte 102"), "{}", o.all());
    assert_eq!(fs::read(w.join("x/a")).unwrap(), b"complete");
    assert!(!w.join("x/b").exists());
    // standard input when no stream is named (or `-`)
    let mut ok = Vec::new();
    let mut wr = incremental_core::xbstream::StreamWriter::new(&mut ok);
    wr.payload(b"db/t.frm", b"frm").unwrap();
    wr.end(b"db/t.frm").unwrap();
    fs::write(w.join("ok.xbs"), &ok).unwrap();
    for args in [&["extract", "-C"][..], &["extract", "-", "-C"][..]] {
        let dir = w.join(format!("stdin{}", args.len()));
        let o = Command::new(env!("CARGO_BIN_EXE_xb"))
            .args(args)
            .arg(&dir)
            .stdin(File::open(w.join("ok.xbs")).unwrap())
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(fs::read(dir.join("db/t.frm")).unwrap(), b"frm");
    }
    // a target that is not empty is refused before reading
    let o = xb(&["extract", "-C", s(&w.join("x")), s(&w.join("s.xbs"))]);
    assert_eq!(o.code, 2, "{}", o.all());
    assert!(o.stderr.contains("not empty"), "{}", o.all());
}

#[test]
fn hot_backup_streamed_extracts_prepares_and_restores_the_source_data() {
    let _one = ONE_SERVER.lock().unwrap_or_else(|p| p.into_inner());
    const ROWS: u32 = 2_000;
    let opts = SandboxOptions::default().option("innodb_log_file_size", "8M");
    let sb = Sandbox::in_tempdir(&opts).expect("MariaDB sandbox");
    Load::setup(&sb.socket(), ROWS).unwrap();
    let running = Load::start(&sb.socket(), ROWS).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    running.stop().unwrap();
    // a MyISAM table written just before: a file a directory backup copies twice (it is
    // unsettled under BLOCK_DDL); a stream must have it once
    sb.sql(
        "CREATE DATABASE d; CREATE TABLE d.m (id INT) ENGINE=MyISAM; \
         INSERT INTO d.m VALUES (1), (2), (3)",
    )
    .unwrap();
    let w = short_tempdir().unwrap();
    let w = w.path();
    let stream = w.join("hot.xbs");
    let (code, err) = xb_to(
        &[
            "backup",
            "--stream=xbstream",
            "--socket",
            s(&sb.socket()),
            "--user",
            "root",
            "--no-defaults",
            "--json",
        ],
        &stream,
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("hot full backup"), "{err}");
    // --json went to standard error: the stream is intact
    assert!(err.contains("\"mode\":\"hot\""), "{err}");
    let reference = load::checksums(&sb.socket()).unwrap();
    let myisam = sb.query_rows("CHECKSUM TABLE d.m").unwrap();
    drop(sb);

    let ext = w.join("ext");
    xb_ok(&[
        "extract",
        "--no-sync",
        "--parallel",
        "2",
        "-C",
        s(&ext),
        s(&stream),
    ]);
    xb_ok(&["prepare", "--target-dir", s(&ext), "--apply-redo"]);
    let restored = w.join("restored");
    xb_ok(&[
        "copy-back",
        "--target-dir",
        s(&ext),
        "--datadir",
        s(&restored),
    ]);
    let run = short_tempdir().unwrap();
    let r = Sandbox::on_datadir(run.path(), &restored, &opts).expect("restored server");
    load::check(&r.socket(), ROWS).unwrap();
    assert_eq!(load::checksums(&r.socket()).unwrap(), reference);
    assert_eq!(r.query_rows("CHECKSUM TABLE d.m").unwrap(), myisam);
}
