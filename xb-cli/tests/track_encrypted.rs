//! `xb track` on a real MariaDB 10.11 with an encrypted redo log (`innodb_encrypt_log=ON`,
//! `innodb_encrypt_tables=ON`, keys of `file_key_management` in a key file encrypted with a
//! `FILE:` password, `aes_ctr`; fails, never skips, without the server): with the key options,
//! and with the server's option file instead, `--once` writes bitmaps that flag every page
//! written after tracking started (as the page LSNs on disk say); without the keys it refuses
//! and says which options give them; with a wrong key it says so; a literal password on the
//! command line is refused. Nothing is written by a refused run.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use lsn_bitmap::BitmapDir;
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

#[test]
fn track_reads_an_encrypted_log_with_the_server_keys() {
    let t0 = Instant::now();
    let tmp = short_tempdir().unwrap();
    let k = tmp.path().join("keys");
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
    let server = Sandbox::create(tmp.path().join("srv"), &opts).expect("MariaDB");
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
