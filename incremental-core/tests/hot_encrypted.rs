//! Hot backups of a real MariaDB 10.11 that encrypts its redo log and tables with the
//! `file_key_management` plugin (fails, never skips, without MariaDB). The keys are found from
//! the connection, as mariabackup finds them; the redo copy stays encrypted, and the file
//! records naming tablespaces are read decrypted (DDL during the backup).
//!
//! * A plain key file, `aes_cbc`: a hot full and a hot incremental, with inserts and a CREATE,
//!   RENAME and DROP running during the incremental; `xb prepare` (whose server loads the keys
//!   named by `backup-my.cnf`), copy-back, a server started with the printed options gives the
//!   source's `CHECKSUM TABLE`s at the incremental's end; `mariabackup --prepare` (no option file
//!   but the backup's `backup-my.cnf`) accepts the full.
//! * An encrypted key file whose password is in a `FILE:` file, `aes_ctr`: a hot full restores.
//! * An encrypted key file whose password is given literally: `apply_redo` recovers a hot full
//!   (the password goes to its private option file), copy-back names it as option-file-only.
//! * The wrong key file: the backup fails naming key 1 and the file, and writes no
//!   `xtrabackup_checkpoints`.
//! * MariaDB's test plugin `debug_key_management` (keys derived from a version number),
//!   crc32 pages: a hot full with extended validation (every encrypted page decrypted with the
//!   key of its version, its own checksum checked), the key derivation checked on a page the
//!   server wrote, the log read with its header's key version, prepare and restore; a page
//!   corrupted as MariaDB's `encrypted_page_corruption` test does fails extended validation
//!   (naming the file and page) and only it.
// needs the connection-side API of hot backups
#![cfg(feature = "hot")]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use incremental_core::backup::sink::DirSink;
use incremental_core::backup::{BackupError, BackupOptions, BackupPlan};
use incremental_core::copy_back::{copy_back_with, CopyBackOptions};
use incremental_core::prepare::apply_redo::{apply_redo, ApplyRedoOptions};
use incremental_core::prepare::{self, PrepareOptions};
use incremental_core::progress::{Cancel, Event, NoProgress, Progress};
use incremental_core::source::DirSource;
use xb_testkit::load::{self, Queryable};
use xb_testkit::sandbox::{copy_dir, short_tempdir, Sandbox, SandboxOptions};

use common::{arg, connect, hot_backup, work_dir, AtConsistentPoint};

static ONE_SERVER: Mutex<()> = Mutex::new(());

const KEYS: &str =
    "# test keys\n1;0123456789ABCDEF0123456789abcdef00112233445566778899AABBCCDDEEFF\n\
                    2;F5502320F8429037B8DAEF761B189D12\n";

fn encrypted_server(key_file: &Path, filekey: Option<&str>, algorithm: &str) -> SandboxOptions {
    let mut o = SandboxOptions::default()
        .option("plugin_load_add", "file_key_management")
        .option(
            "file_key_management_filename",
            key_file.display().to_string(),
        )
        .option("file_key_management_encryption_algorithm", algorithm)
        .option("innodb_encrypt_log", "ON")
        .option("innodb_encrypt_tables", "ON")
        .option("innodb_log_file_size", "16M");
    if let Some(k) = filekey {
        o = o.option("file_key_management_filekey", k);
    }
    o
}

/// `CHECKSUM TABLE … EXTENDED` of every base table of database `d`.
fn sums(socket: &Path) -> BTreeMap<String, String> {
    let mut c = load::connect(socket).unwrap();
    c.query_drop("SET SESSION lock_wait_timeout = 20").unwrap();
    let tables: Vec<String> = c
        .query(
            "SELECT CONCAT('d.', table_name) FROM information_schema.tables \
             WHERE table_schema = 'd' AND table_type = 'BASE TABLE' ORDER BY 1",
        )
        .unwrap();
    let mut out = BTreeMap::new();
    for t in tables {
        let rows: Vec<(String, Option<String>)> =
            c.query(format!("CHECKSUM TABLE {t} EXTENDED")).unwrap();
        for (name, sum) in rows {
            out.insert(name, sum.unwrap_or_default());
        }
    }
    out
}

fn setup(sb: &Sandbox) {
    sb.sql(
        "CREATE DATABASE d; USE d;
         CREATE TABLE d.t (id INT PRIMARY KEY, v VARCHAR(200)) ENGINE=InnoDB;
         CREATE TABLE d.r (id INT PRIMARY KEY, v VARCHAR(200)) ENGINE=InnoDB;
         CREATE TABLE d.x (id INT PRIMARY KEY, v VARCHAR(200)) ENGINE=InnoDB;
         INSERT INTO d.t SELECT seq, REPEAT('t', 200) FROM seq_1_to_20000;
         INSERT INTO d.r SELECT seq, REPEAT('r', 100) FROM seq_1_to_2000;
         INSERT INTO d.x SELECT seq, REPEAT('x', 100) FROM seq_1_to_2000;",
    )
    .unwrap();
}

/// Inserts rows into `d.t` until `stop`; with `ddl`, runs the DDL after its delay, then sets its
/// flag.
fn writes(
    socket: &Path,
    stop: &AtomicBool,
    from: u32,
    ddl: Option<(Duration, &AtomicBool)>,
) -> u32 {
    let mut c = load::connect(socket).unwrap();
    c.query_drop("USE d").unwrap();
    let t0 = Instant::now();
    let (mut id, mut ddl) = (from, ddl);
    while !stop.load(Ordering::Relaxed) {
        c.query_drop(format!(
            "INSERT INTO d.t VALUES ({id}, REPEAT('w', 150)), ({}, 'w')",
            id + 1
        ))
        .unwrap();
        id += 2;
        if let Some((_, done)) = ddl.filter(|(d, _)| t0.elapsed() >= *d) {
            ddl = None;
            for q in [
                "CREATE TABLE d.c (id INT PRIMARY KEY, v VARCHAR(100)) ENGINE=InnoDB",
                "INSERT INTO d.c SELECT seq, 'c' FROM seq_1_to_500",
                "RENAME TABLE d.r TO d.r2",
                "DROP TABLE d.x",
            ] {
                c.query_drop(q).unwrap();
            }
            done.store(true, Ordering::Relaxed);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    id - from
}

/// Passes events on to `then`; at the first file started, waits (up to a minute) for the
/// writer's DDL.
struct AfterFirstFile<'a, P> {
    ddl_done: &'a AtomicBool,
    then: &'a P,
}

impl<P: Progress> Progress for AfterFirstFile<'_, P> {
    fn event(&self, e: Event<'_>) {
        if let Event::FileStarted { .. } = e {
            let t0 = Instant::now();
            while !self.ddl_done.load(Ordering::Relaxed) && t0.elapsed() < Duration::from_secs(60) {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        self.then.event(e);
    }
}

/// Prepares `full` (+ `incs`) with xb, copies it back, starts a server with the printed
/// options and returns its checksums.
fn restore(
    full: &Path,
    incs: &[std::path::PathBuf],
    work: &Path,
    what: &str,
) -> BTreeMap<String, String> {
    restore_with(full, incs, work, what, "file_key_management")
}

/// [`restore`] of a backup whose server loaded the key plugin `plugin`.
fn restore_with(
    full: &Path,
    incs: &[std::path::PathBuf],
    work: &Path,
    what: &str,
    plugin: &str,
) -> BTreeMap<String, String> {
    prepare::prepare(
        full,
        incs,
        &PrepareOptions::default(),
        &NoProgress,
        &Cancel::new(),
    )
    .unwrap_or_else(|e| panic!("{what}: xb prepare: {e}"));
    let dd = work.join(format!("restored-{what}"));
    let r = copy_back_with(
        &DirSource::new(full),
        &dd,
        &CopyBackOptions::default(),
        &NoProgress,
        &Cancel::new(),
    )
    .unwrap_or_else(|e| panic!("{what}: copy-back: {e}"));
    let options = r.startup_options();
    assert!(
        options
            .iter()
            .any(|o| o.starts_with(&format!("--plugin-load-add={plugin}"))),
        "{what}: {options:?}"
    );
    let mut opts = SandboxOptions::default();
    for o in &options {
        if let Some((k, v)) = o.trim_start_matches("--").split_once('=') {
            opts = opts.option(k, v);
        }
    }
    let run = short_tempdir().unwrap();
    let sb = Sandbox::on_datadir(run.path(), &dd, &opts)
        .unwrap_or_else(|e| panic!("{what}: server on the restored datadir: {e}"));
    sums(&sb.socket())
}

#[test]
fn hot_full_and_incremental_of_an_encrypted_server_with_ddl_restore_exactly() {
    let _one = ONE_SERVER.lock().unwrap_or_else(|e| e.into_inner());
    let t0 = Instant::now();
    let keys = tempfile::tempdir().unwrap();
    let key_file = keys.path().join("keys.txt");
    std::fs::write(&key_file, KEYS).unwrap();
    let sb = Sandbox::in_tempdir(&encrypted_server(&key_file, None, "aes_cbc"))
        .expect("MariaDB sandbox with file_key_management");
    assert_eq!(sb.query_value("SELECT @@innodb_encrypt_log").unwrap(), "1");
    setup(&sb);
    let (_keep, work) = work_dir();
    let (full, inc) = (work.join("full"), work.join("inc"));

    let (stop, ddl_done) = (AtomicBool::new(false), AtomicBool::new(false));
    let socket = sb.socket();
    let (reference, written) = std::thread::scope(|s| {
        let w = s.spawn(|| writes(&socket, &stop, 1_000_000, None));
        hot_backup(&sb, &full, None, Some(25), &NoProgress);
        stop.store(true, Ordering::Relaxed);
        let n = w.join().unwrap();
        stop.store(false, Ordering::Relaxed);
        let ddl = Some((Duration::from_millis(150), &ddl_done));
        let (socket, stop) = (&socket, &stop);
        let w = s.spawn(move || writes(socket, stop, 2_000_000, ddl));
        let at_end = AtConsistentPoint::new(|| sums(socket));
        // the DDL runs during the incremental's copy, however slow the machine: its first
        // file waits for it
        let after_ddl = AfterFirstFile {
            ddl_done: &ddl_done,
            then: &at_end,
        };
        hot_backup(&sb, &inc, Some(&full), Some(12), &after_ddl);
        stop.store(true, Ordering::Relaxed);
        (at_end.value(), n + w.join().unwrap())
    });
    assert!(written > 10, "{written} rows written during the backups");
    // the DDL ran during the incremental
    assert!(
        reference.contains_key("d.c") && reference.contains_key("d.r2"),
        "{reference:?}"
    );
    assert!(
        !reference.contains_key("d.x") && !reference.contains_key("d.r"),
        "{reference:?}"
    );
    let cnf = std::fs::read_to_string(full.join("backup-my.cnf")).unwrap();
    for line in [
        "plugin_load=file_key_management=file_key_management",
        "file_key_management_encryption_algorithm=aes_cbc",
        &format!("file_key_management_filename={}", key_file.display()),
        "innodb_encrypt_log=1",
        "innodb_encrypt_tables=ON",
    ] {
        assert!(cnf.lines().any(|l| l == line), "{line} not in:\n{cnf}");
    }

    // mariabackup --prepare of a copy of our full, with no option file but its backup-my.cnf
    let mb = work.join("mb");
    copy_dir(&full, &mb).unwrap();
    let out = Command::new(&sb.binaries().mariabackup)
        .args([
            arg("defaults-file", &mb.join("backup-my.cnf")),
            "--prepare".into(),
            arg("target-dir", &mb),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "mariabackup --prepare of xb's encrypted full: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let restored = restore(&full, std::slice::from_ref(&inc), &work, "chain");
    assert_eq!(restored, reference);
    eprintln!("total {:.1} s", t0.elapsed().as_secs_f64());
}

/// The redo log names a DATA DIRECTORY table by the source's absolute path; an encrypted log's
/// names cannot be rewritten to the backup's copy, so applying it is refused before any server
/// could open the source's file.
#[test]
fn an_encrypted_log_with_a_data_directory_table_is_refused_by_prepare() {
    let _one = ONE_SERVER.lock().unwrap_or_else(|e| e.into_inner());
    let keys = tempfile::tempdir().unwrap();
    let key_file = keys.path().join("keys.txt");
    std::fs::write(&key_file, KEYS).unwrap();
    let sb = Sandbox::in_tempdir(&encrypted_server(&key_file, None, "aes_ctr"))
        .expect("MariaDB sandbox with file_key_management");
    let remote = tempfile::tempdir().unwrap();
    sb.sql(&format!(
        "CREATE DATABASE d; USE d; CREATE TABLE d.rem (id INT PRIMARY KEY) ENGINE=InnoDB \
         DATA DIRECTORY='{}'; INSERT INTO d.rem SELECT seq FROM seq_1_to_100;",
        remote.path().display()
    ))
    .unwrap();
    let (_keep, work) = work_dir();
    let full = work.join("full");
    hot_backup(&sb, &full, None, None, &NoProgress);
    assert!(full.join("d/rem.isl").exists());
    let source = remote.path().join("d/rem.ibd");
    let before = std::fs::read(&source).unwrap();
    common::prepare_full(&full);
    let e = apply_redo(&full, &ApplyRedoOptions::default())
        .expect_err("applying an encrypted log naming a DATA DIRECTORY table");
    let msg = e.to_string();
    assert!(
        msg.contains("d/rem.isl") && msg.contains("encrypted"),
        "{msg}"
    );
    assert_eq!(std::fs::read(&source).unwrap(), before);
}

#[test]
fn an_encrypted_key_file_with_a_file_key_restores() {
    let _one = ONE_SERVER.lock().unwrap_or_else(|e| e.into_inner());
    let keys = tempfile::tempdir().unwrap();
    let plain = keys.path().join("keys.txt");
    std::fs::write(&plain, KEYS).unwrap();
    let pass = keys.path().join("pass.key");
    std::fs::write(&pass, "a-long-test-password\n").unwrap();
    let enc = keys.path().join("keys.enc");
    let st = Command::new("openssl")
        .args(["enc", "-aes-256-cbc", "-md", "sha1", "-pass"])
        .arg(format!("file:{}", pass.display()))
        .arg("-in")
        .arg(&plain)
        .arg("-out")
        .arg(&enc)
        .status()
        .expect("openssl");
    assert!(st.success());
    std::fs::remove_file(&plain).unwrap();
    let filekey = format!("FILE:{}", pass.display());
    let sb = Sandbox::in_tempdir(&encrypted_server(&enc, Some(&filekey), "aes_ctr"))
        .expect("MariaDB sandbox with an encrypted key file");
    setup(&sb);
    let (_keep, work) = work_dir();
    let full = work.join("full");
    let reference = sums(&sb.socket());
    hot_backup(&sb, &full, None, None, &NoProgress);
    let restored = restore(&full, &[], &work, "file-key");
    assert_eq!(restored, reference);
}

/// The backup of a server whose key file no longer decrypts its log fails, names key 1 and
/// the key file, and leaves no `xtrabackup_checkpoints`.
#[test]
fn a_wrong_key_fails_the_backup_naming_key_1_and_the_file() {
    let _one = ONE_SERVER.lock().unwrap_or_else(|e| e.into_inner());
    let keys = tempfile::tempdir().unwrap();
    let key_file = keys.path().join("keys.txt");
    std::fs::write(&key_file, KEYS).unwrap();
    let sb = Sandbox::in_tempdir(&encrypted_server(&key_file, None, "aes_cbc"))
        .expect("MariaDB sandbox with file_key_management");
    // the server read its keys at start; the file now holds another key 1
    std::fs::write(&key_file, "1;F5502320F8429037B8DAEF761B189D12\n").unwrap();
    let (_keep, work) = work_dir();
    let target = work.join("full");
    let mut opts = BackupOptions::new(sb.datadir());
    opts.set_connect(connect(&sb));
    let plan = BackupPlan::new(&opts).expect("plan");
    let mut sink = DirSink::new(&target).unwrap().sync(false);
    let e = plan
        .run(&mut sink, &NoProgress, &Cancel::new())
        .expect_err("a backup with the wrong key");
    let text = e.to_string();
    assert!(
        text.contains("key 1") && text.contains(&key_file.display().to_string()),
        "{text}"
    );
    assert!(!text.contains("F5502320"), "{text}");
    assert!(!target.join("xtrabackup_checkpoints").exists());
}

/// A key file encrypted with a password given literally as `file_key_management_filekey`
/// (issue 14): `--apply-redo`'s private server gets the password from its option file and
/// recovers the backup; copy-back leaves it out of the start command and says it must come
/// from an option file.
#[test]
fn a_literal_file_key_applies_redo_and_copy_back_names_it_option_file_only() {
    let _one = ONE_SERVER.lock().unwrap_or_else(|e| e.into_inner());
    let keys = tempfile::tempdir().unwrap();
    let plain = keys.path().join("keys.txt");
    std::fs::write(&plain, KEYS).unwrap();
    let enc = keys.path().join("keys.enc");
    let password = "literal-test-password-42";
    let st = Command::new("openssl")
        .args(["enc", "-aes-256-cbc", "-md", "sha1", "-pass"])
        .arg(format!("pass:{password}"))
        .arg("-in")
        .arg(&plain)
        .arg("-out")
        .arg(&enc)
        .status()
        .expect("openssl");
    assert!(st.success());
    std::fs::remove_file(&plain).unwrap();
    let sb = Sandbox::in_tempdir(&encrypted_server(&enc, Some(password), "aes_cbc"))
        .expect("MariaDB sandbox with a literal file key");
    sb.sql(
        "CREATE DATABASE d; USE d; CREATE TABLE d.t (id INT PRIMARY KEY, v VARCHAR(200)) ENGINE=InnoDB;
         INSERT INTO d.t SELECT seq, REPEAT('t', 200) FROM seq_1_to_5000;",
    )
    .unwrap();
    let (_keep, work) = work_dir();
    let full = work.join("full");
    hot_backup(&sb, &full, None, None, &NoProgress);
    common::prepare_full(&full);
    let r = apply_redo(&full, &ApplyRedoOptions::default())
        .unwrap_or_else(|e| panic!("apply_redo with a literal file key: {e}"));
    assert!(!format!("{r:?}").contains(password));
    let dd = work.join("restored");
    let cb = copy_back_with(
        &DirSource::new(&full),
        &dd,
        &CopyBackOptions::default(),
        &NoProgress,
        &Cancel::new(),
    )
    .expect("copy-back");
    assert!(
        !cb.start_command().contains(password),
        "{}",
        cb.start_command()
    );
    assert_eq!(
        cb.option_file_only(),
        vec!["file_key_management_filekey".to_string()]
    );
}

/// A page as MariaDB's `encrypted_page_corruption` test writes it over page 3 of a crc32
/// tablespace: zeros but the page number, key version 1 and the space id, with the crc32 of
/// that (never encrypted) content in both checksum fields and as the post-encryption
/// checksum, so that only a decryption shows it is no page.
fn fake_encrypted_page(ps: usize, page_no: u32, space: u32) -> Vec<u8> {
    let mut p = vec![0u8; ps];
    p[4..8].copy_from_slice(&page_no.to_be_bytes());
    p[26..30].copy_from_slice(&1u32.to_be_bytes());
    p[34..38].copy_from_slice(&space.to_be_bytes());
    let ck = innodb_page::checksum::crc32_page(innodb_page::Page::new(&p).unwrap()).to_be_bytes();
    p[..4].copy_from_slice(&ck);
    p[ps - 8..ps - 4].copy_from_slice(&ck);
    p[30..34].copy_from_slice(&ck);
    p
}

fn backup_validating(sb: &Sandbox, target: &Path, extended: bool) -> Result<(), BackupError> {
    let mut opts = BackupOptions::new(sb.datadir());
    opts.set_connect(connect(sb))
        .set_parallel(2)
        .set_extended_validation(extended);
    let plan = BackupPlan::new(&opts).expect("plan");
    let mut sink = DirSink::new(target).unwrap().sync(false);
    plan.run(&mut sink, &NoProgress, &Cancel::new()).map(|_| ())
}

#[test]
fn debug_key_management_keys_validate_decrypted_pages_and_restore() {
    use incremental_core::encryption::KeySettings;
    use innodb_page::checksum::{validate, Algorithm, ChecksumContext, Verdict};
    use innodb_page::crypto::cipher::Mode;
    use innodb_page::crypto::page::{classic_key_version, decrypt_classic, page_key, CryptData};

    let _one = ONE_SERVER.lock().unwrap_or_else(|e| e.into_inner());
    let opts = SandboxOptions::default()
        .option("plugin_load_add", "debug_key_management")
        .option("plugin_maturity", "experimental")
        .option("debug_key_management_version", "3")
        .option("innodb_encrypt_log", "ON")
        .option("innodb_encrypt_tables", "ON")
        .option("innodb_checksum_algorithm", "crc32")
        .option("innodb_log_file_size", "16M");
    let mut sb = Sandbox::in_tempdir(&opts).expect("MariaDB sandbox with debug_key_management");
    setup(&sb);
    // pages written from now on get key version 4; the redo log keeps its header's version 3;
    // a checkpoint writes every page (page 0 with the crypt data too)
    sb.sql(
        "SET GLOBAL debug_key_management_version = 4; UPDATE d.r SET v = 'four';
         SET GLOBAL innodb_log_checkpoint_now = ON;",
    )
    .unwrap();
    let (_keep, work) = work_dir();
    let full = work.join("full");
    backup_validating(&sb, &full, true).expect("hot backup with extended validation");
    let cnf = std::fs::read_to_string(full.join("backup-my.cnf")).unwrap();
    for line in [
        "plugin_load=debug_key_management=debug_key_management",
        "debug_key_management_version=4",
        "innodb_encrypt_log=1",
    ] {
        assert!(cnf.lines().any(|l| l == line), "{line} not in:\n{cnf}");
    }

    // the log was read with the key of its header's version, not the latest
    let head = std::fs::read(full.join("ib_logfile0")).unwrap();
    let info = innodb_page::redo::crypt::LogCryptInfo::from_block(&head[..512]).unwrap();
    assert_eq!(info.key_version(), 3);

    // The derivation, on a page the server wrote: page 3 (the root) of d/t.ibd decrypts with
    // the key of its version to a page whose crc32 matches, with the next version not.
    let ibd = std::fs::read(full.join("d/t.ibd")).unwrap();
    let ps = 16384;
    let space = innodb_page::fsp::TablespaceFormat::detect(&ibd[..ps])
        .unwrap()
        .space_id;
    let crypt = CryptData::read(&ibd[..ps]).expect("crypt data on page 0");
    assert_eq!(crypt.key_id, 1);
    let page = &ibd[3 * ps..4 * ps];
    let version = classic_key_version(page).expect("page 3 is encrypted");
    assert!(version == 3 || version == 4, "key version {version}");
    let ring = KeySettings::for_plugin(
        "debug_key_management",
        [("debug_key_management_version", "4")],
        true,
        None,
        None,
    )
    .unwrap()
    .keys(Path::new("/"))
    .unwrap();
    assert_eq!((ring.mode(), ring.latest_version()), (Mode::Cbc, 4));
    let decrypted = |v: u32| {
        let key = ring.key(1, v).unwrap();
        let mut expected = [0u8; 16];
        expected[..4].copy_from_slice(&v.to_be_bytes());
        assert_eq!(key.as_bytes(), expected);
        let pk = page_key(key.as_bytes(), &crypt.iv).unwrap();
        let mut p = page.to_vec();
        decrypt_classic(&mut p, space, &pk, ring.mode()).unwrap();
        let ctx = ChecksumContext {
            vendor: innodb_page::page_type::Vendor::MariaDb,
            ..Default::default()
        };
        validate(innodb_page::Page::new(&p).unwrap(), &ctx)
    };
    assert_eq!(decrypted(version), Verdict::Valid(Algorithm::Crc32));
    assert!(decrypted(version + 1).is_corrupt());

    let reference = sums(&sb.socket());
    let restored = restore_with(&full, &[], &work, "debug-keys", "debug_key_management");
    assert_eq!(restored, reference);

    // corrupt page 3 of d.x as MariaDB's encrypted_page_corruption test does
    let xs = innodb_page::fsp::TablespaceFormat::detect(
        &std::fs::read(sb.datadir().join("d/x.ibd")).unwrap()[..ps],
    )
    .unwrap()
    .space_id;
    sb.stop().unwrap();
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(sb.datadir().join("d/x.ibd"))
            .unwrap();
        f.write_all_at(&fake_encrypted_page(ps, 3, xs), 3 * ps as u64)
            .unwrap();
    }
    sb.start().unwrap();
    let e = backup_validating(&sb, &work.join("corrupt"), true)
        .expect_err("extended validation of a corrupt encrypted page");
    match &e {
        BackupError::CorruptPage { path, page_no, .. } => {
            assert!(path.ends_with("d/x.ibd") && *page_no == 3, "{e}")
        }
        _ => panic!("not a corrupt page: {e}"),
    }
    assert!(
        e.to_string().contains("decrypted with key 1 version 1"),
        "{e}"
    );
    // without it the page passes: its stored checksums match
    backup_validating(&sb, &work.join("plain"), false).expect("backup without extended validation");
}
