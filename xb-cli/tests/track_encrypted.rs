//! `xb track` on a real MariaDB 10.11 with an encrypted redo log (`innodb_encrypt_log=ON`,
//! `innodb_encrypt_tables=ON`, keys of `file_key_management` in a key file encrypted with a
//! `FILE:` password, `aes_ctr`; fails, never skips, without the server): with the key options,
//! and with the server's option file instead, `--once` writes bitmaps that flag every page
//! written after tracking started (as the page LSNs on disk say); without the keys it refuses
//! and says which options give them; with a wrong key it says so; a literal password on the
//! command line is refused. Nothing is written by a refused run.
//!
//! The combined case: a hot full, `xb track --follow` (keys from the server's option file)
//! while writes run, a hot incremental that selects its pages from those bitmaps
//! (`--bitmap-dir`, method `bitmap`), `xb prepare`, `copy-back`, and a server started with the
//! printed options gives the source's `CHECKSUM TABLE`s.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lsn_bitmap::BitmapDir;
use xb_testkit::load::{self, Load};
use xb_testkit::sandbox::{page_lsns, short_tempdir, Sandbox, SandboxOptions};

fn xb(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_xb"))
        .args(args)
        .output()
        .expect("run xb");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `openssl enc -aes-256-cbc -md sha1`, the form the plugin reads.
fn encrypt_key_file(plain: &Path, pass: &Path, out: &Path) {
    let st = Command::new("openssl")
        .args(["enc", "-aes-256-cbc", "-md", "sha1", "-pass"])
        .arg(format!("file:{}", s(pass)))
        .args(["-in", s(plain), "-out", s(out)])
        .status()
        .expect("openssl");
    assert!(st.success());
}

fn xdb_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".xdb")
        })
        .count()
}

/// A server in `dir/srv` whose tables and log are encrypted with keys 1 and 2 of
/// `dir/keys/keys.enc` (password in `dir/keys/keys.pass`, given as `FILE:`), `aes_ctr`; returns
/// it, the key file and the `FILE:` value.
fn keyed_server(dir: &Path) -> (Sandbox, std::path::PathBuf, String) {
    let k = dir.join("keys");
    std::fs::create_dir(&k).unwrap();
    let plain = k.join("keys.txt");
    std::fs::write(
        &plain,
        "1;0123456789ABCDEF0123456789abcdef00112233445566778899AABBCCDDEEFF\n\
         2;F5502320F8429037B8DAEF761B189D12\n",
    )
    .unwrap();
    let pass = k.join("keys.pass");
    std::fs::write(&pass, "a throwaway password\n").unwrap();
    let enc = k.join("keys.enc");
    encrypt_key_file(&plain, &pass, &enc);
    let filekey = format!("FILE:{}", s(&pass));
    let opts = SandboxOptions::default()
        .option("plugin_load_add", "file_key_management")
        .option("file_key_management_filename", s(&enc))
        .option("file_key_management_filekey", filekey.as_str())
        .option("file_key_management_encryption_algorithm", "aes_ctr")
        .option("innodb_encrypt_log", "ON")
        .option("innodb_encrypt_tables", "ON");
    let server = Sandbox::create(dir.join("srv"), &opts).expect("MariaDB");
    (server, enc, filekey)
}

#[test]
fn track_reads_an_encrypted_log_with_the_server_keys() {
    let t0 = Instant::now();
    let tmp = short_tempdir().unwrap();
    let (server, enc, filekey) = keyed_server(tmp.path());
    let k = tmp.path().join("keys");
    let dd = server.datadir().to_path_buf();
    server
        .sql_batch(
            "CREATE DATABASE d; USE d;
             CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(200)) ENGINE=InnoDB;
             INSERT INTO t SELECT seq, REPEAT('x', 150) FROM seq_1_to_2000;",
        )
        .unwrap();
    server.checkpoint().unwrap();
    let bm = |name: &str| {
        let p = tmp.path().join(name);
        std::fs::create_dir(&p).unwrap();
        p
    };
    let (nokey, wrong, lit, given, cnf) = (bm("n"), bm("w"), bm("l"), bm("g"), bm("c"));
    let track = |dir: &Path, extra: &[&str]| {
        let mut args = vec![
            "track",
            "--once",
            "--datadir",
            s(&dd),
            "--bitmap-dir",
            s(dir),
        ];
        args.extend_from_slice(extra);
        xb(&args)
    };

    // Without the keys: refused, naming the options that give them; nothing written.
    let (code, err) = track(&nokey, &[]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("encrypted")
            && err.contains("no key file was given")
            && err.contains("--file-key-management-filename"),
        "{err}"
    );
    assert_eq!(xdb_files(&nokey), 0);

    // A wrong key 1 (a plain key file): refused as a wrong key; nothing written.
    let bad = k.join("wrong.txt");
    std::fs::write(&bad, "1;00112233445566778899AABBCCDDEEFF\n").unwrap();
    let (code, err) = track(
        &wrong,
        &[
            "--file-key-management-filename",
            s(&bad),
            "--file-key-management-encryption-algorithm",
            "aes_ctr",
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("wrong key") && err.contains(s(&bad)), "{err}");
    assert_eq!(xdb_files(&wrong), 0);

    // A literal password on the command line is refused.
    let (code, err) = track(
        &lit,
        &[
            "--file-key-management-filename",
            s(&enc),
            "--file-key-management-filekey",
            "pw",
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("FILE:"), "{err}");

    // With the key options, and with the server's option file: tracking starts.
    let with_keys = [
        "--file-key-management-filename",
        s(&enc),
        "--file-key-management-filekey",
        filekey.as_str(),
        "--file-key-management-encryption-algorithm",
        "aes_ctr",
    ];
    let defaults = server.defaults_file();
    let by_cnf = ["--defaults-file", s(&defaults)];
    for (dir, extra) in [(&given, &with_keys[..]), (&cnf, &by_cnf[..])] {
        let (code, err) = track(dir, extra);
        assert_eq!(code, 0, "{err}");
    }
    let start = BitmapDir::open(&given).unwrap().files()[0].name.start_lsn;

    server
        .sql_batch(
            "UPDATE d.t SET v = 'one' WHERE id % 7 = 0;
             CREATE TABLE d.t2 (id INT PRIMARY KEY, v VARCHAR(200)) ENGINE=InnoDB;
             INSERT INTO d.t2 SELECT seq, REPEAT('y', 150) FROM d.seq_1_to_1500;",
        )
        .unwrap();
    let end = server.checkpoint().unwrap().checkpoint_lsn;
    let t2: u32 = server
        .query_value("SELECT SPACE FROM information_schema.INNODB_SYS_TABLES WHERE NAME='d/t2'")
        .unwrap()
        .parse()
        .unwrap();
    let lsns = page_lsns(&dd).unwrap();
    for (dir, extra) in [(&given, &with_keys[..]), (&cnf, &by_cnf[..])] {
        let (code, err) = track(dir, extra);
        assert_eq!(code, 0, "{err}");
        let d = BitmapDir::open(dir).unwrap();
        let changed = d.changed_pages(start, innodb_page::Lsn::new(end)).unwrap();
        let mut checked = 0;
        for ((space, page), lsn) in &lsns {
            if *lsn >= start.get() && *lsn <= end && *space != 0xFFFF_FFFE {
                let hit = changed
                    .space(*space)
                    .is_some_and(|p| p.contains(u32::try_from(*page).unwrap()));
                assert!(
                    hit,
                    "{extra:?}: page {space}:{page} (LSN {lsn}) not in the bitmaps"
                );
                checked += 1;
            }
        }
        assert!(changed.space(t2).is_some_and(|p| p.len() > 10), "{extra:?}");
        assert!(checked > 20, "{extra:?}: {checked} pages changed");
    }
    assert!(t0.elapsed() < Duration::from_secs(30), "{:?}", t0.elapsed());
}

/// `xb ARGS` with its stdout and stderr; the call must succeed.
fn xb_ok(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_xb"))
        .args(args)
        .output()
        .expect("run xb");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "xb {}: {err}", args.join(" "));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The end LSN of the last complete run in `dir`.
fn tracked(dir: &Path) -> Option<u64> {
    let d = BitmapDir::open(dir).ok()?;
    d.files()
        .iter()
        .filter_map(|f| {
            lsn_bitmap::verify_file(&f.path, Some(f.name.start_lsn))
                .ok()?
                .last_lsn
        })
        .map(|l| l.get())
        .max()
}

/// SIGTERM to `child`; it must exit 0.
fn stop(child: Child) {
    let st = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The combined case of issue 14: tables and log encrypted, `xb track --follow` running while
/// the load writes, then a hot incremental from its bitmaps restores the source's data.
#[test]
fn a_bitmap_incremental_of_an_encrypted_server_restores() {
    let t0 = Instant::now();
    let tmp = short_tempdir().unwrap();
    let (server, _, _) = keyed_server(tmp.path());
    let dd = server.datadir().to_path_buf();
    let cnf = server.defaults_file();
    let socket = server.socket();
    let (bm, full, inc) = (
        tmp.path().join("bm"),
        tmp.path().join("full"),
        tmp.path().join("inc"),
    );
    std::fs::create_dir(&bm).unwrap();
    let track = ["track", "--datadir", s(&dd), "--bitmap-dir", s(&bm)];
    let by_cnf = ["--defaults-file", s(&cnf)];
    // tracking starts (at the checkpoint P, in a file named P + 1) before the writes and the
    // checkpoint that the full starts from, so the bitmaps cover from the full's LSN on
    xb_ok(&[&track[..], &["--once"], &by_cnf[..]].concat());
    Load::setup(&socket, 2_000).unwrap();
    server.checkpoint().unwrap();
    let backup = |target: &Path, extra: &[&str]| {
        let mut args = vec![
            "backup",
            "--datadir",
            s(&dd),
            "--target-dir",
            s(target),
            "--defaults-file",
            s(&cnf),
            "--no-sync",
            "--json",
        ];
        args.extend_from_slice(extra);
        serde_json::from_str::<serde_json::Value>(xb_ok(&args).trim()).unwrap()
    };
    backup(&full, &[]);

    let follow = Command::new(env!("CARGO_BIN_EXE_xb"))
        .args([&track[..], &["--follow", "--interval", "0.2"], &by_cnf[..]].concat())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let running = Load::start(&socket, 2_000).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let stats = running.stop().unwrap();
    assert!(stats.appended > 0, "{stats:?}");
    // the tracker follows up to the checkpoint; the incremental's checkpoint is this one
    let now = server.checkpoint().unwrap().checkpoint_lsn;
    let deadline = Instant::now() + Duration::from_secs(20);
    while tracked(&bm).is_none_or(|l| l < now) {
        assert!(Instant::now() < deadline, "no run up to LSN {now} written");
        std::thread::sleep(Duration::from_millis(100));
    }
    stop(follow);
    let reference = load::checksums(&socket).unwrap();

    let base = format!("--incremental-basedir={}", s(&full));
    let bitmaps = format!("--bitmap-dir={}", s(&bm));
    let report = backup(&inc, &[&base, &bitmaps]);
    assert_eq!(report["method"], "bitmap", "{report}");
    let tablespaces = report["tablespaces"].as_array().unwrap();
    assert!(
        tablespaces.iter().all(|t| t["method"] == "bitmap"),
        "{report}"
    );
    // the load's rows reach the restore only through the pages the bitmaps flag
    let append = tablespaces
        .iter()
        .find(|t| t["path"] == "xbload/append.ibd")
        .unwrap();
    assert!(append["pages_copied"].as_u64().unwrap() > 0, "{report}");

    xb_ok(&[
        "prepare",
        "--target-dir",
        s(&full),
        "--incremental-dir",
        s(&inc),
    ]);
    let restored = tmp.path().join("restored");
    let command = xb_ok(&[
        "copy-back",
        "--target-dir",
        s(&full),
        "--datadir",
        s(&restored),
    ]);
    // the server started with the printed options (the datadir is the sandbox's)
    let mut opts = SandboxOptions::default();
    for word in command.split_whitespace().skip(1) {
        let (k, v) = word.trim_start_matches("--").split_once('=').unwrap();
        if k != "datadir" {
            opts = opts.option(k, v);
        }
    }
    assert!(
        command.contains("--file-key-management-filename="),
        "{command}"
    );
    let run = short_tempdir().unwrap();
    let r = Sandbox::on_datadir(run.path(), &restored, &opts).expect("restored server");
    assert_eq!(load::checksums(&r.socket()).unwrap(), reference);
    load::check(&r.socket(), 2_000).unwrap();
    assert!(t0.elapsed() < Duration::from_secs(30), "{:?}", t0.elapsed());
}

/// Cold backups of an encrypted server (stopped; its log and tables encrypted): without keys
/// refused, naming the options that give them; with them (given, then from the server's option
/// file), a full and an incremental (writes in between) copy the encrypted log and load the keys in `backup-my.cnf`; `xb prepare`
/// (which reads the base's encrypted redo) merges them and a server started with the printed
/// options gives the source's `CHECKSUM TABLE`s.
#[test]
fn cold_backups_of_an_encrypted_server_restore() {
    let t0 = Instant::now();
    let tmp = short_tempdir().unwrap();
    let (mut server, enc, filekey) = keyed_server(tmp.path());
    let dd = server.datadir().to_path_buf();
    let socket = server.socket();
    let (full, inc, none) = (
        tmp.path().join("full"),
        tmp.path().join("inc"),
        tmp.path().join("none"),
    );
    Load::setup(&socket, 2_000).unwrap();
    server.stop().unwrap();
    let keys = [
        "--file-key-management-filename",
        s(&enc),
        "--file-key-management-filekey",
        filekey.as_str(),
        "--file-key-management-encryption-algorithm",
        "aes_ctr",
    ];
    let backup = |target: &Path, extra: &[&str]| {
        let args = ["backup", "--datadir", s(&dd), "--target-dir", s(target)];
        xb(&[&args[..], &["--no-sync", "--no-defaults"], extra].concat())
    };
    let (code, err) = backup(&none, &[]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("encrypted") && err.contains("--file-key-management-filename"),
        "{err}"
    );
    let (code, err) = backup(&full, &keys);
    assert_eq!(code, 0, "{err}");

    server.start().unwrap();
    let running = Load::start(&socket, 2_000).unwrap();
    std::thread::sleep(Duration::from_millis(800));
    assert!(running.stop().unwrap().appended > 0);
    let reference = load::checksums(&socket).unwrap();
    server.stop().unwrap();
    // the incremental finds the keys in the server's option file
    let base = format!("--incremental-basedir={}", s(&full));
    let cnf = format!("--defaults-file={}", s(&server.defaults_file()));
    let args = [
        "backup",
        "--datadir",
        s(&dd),
        "--target-dir",
        s(&inc),
        "--no-sync",
    ];
    let (code, err) = xb(&[&args[..], &[cnf.as_str(), base.as_str()]].concat());
    assert_eq!(code, 0, "{err}");

    xb_ok(&[
        "prepare",
        "--target-dir",
        s(&full),
        "--incremental-dir",
        s(&inc),
    ]);
    let restored = tmp.path().join("restored");
    let command = xb_ok(&[
        "copy-back",
        "--target-dir",
        s(&full),
        "--datadir",
        s(&restored),
    ]);
    let mut opts = SandboxOptions::default();
    for word in command.split_whitespace().skip(1) {
        let (k, v) = word.trim_start_matches("--").split_once('=').unwrap();
        if k != "datadir" {
            opts = opts.option(k, v);
        }
    }
    assert!(
        command.contains("--file-key-management-filename="),
        "{command}"
    );
    let run = short_tempdir().unwrap();
    let r = Sandbox::on_datadir(run.path(), &restored, &opts).expect("restored server");
    assert_eq!(load::checksums(&r.socket()).unwrap(), reference);
    assert!(t0.elapsed() < Duration::from_secs(40), "{:?}", t0.elapsed());
}
