//! What a backup holds and where a restore puts it, against a real MariaDB 10.11 (fails, never
//! skips, without it). One server at a time.
//!
//! * A server with every log on (binary log under its own basename, relay logs, general, slow
//!   and error logs in the datadir, `ddl_recovery.log`): a hot full and a hot incremental hold
//!   none of them, and the restored InnoDB, MyISAM and Aria tables equal the source's.
//! * `copy_back_with`: the system tablespace, redo log, undo tablespaces and Aria log in
//!   directories of their own (with 3 threads), a restore into a non-empty datadir (and the
//!   refusal to overwrite an existing file), a move: each restored datadir starts and gives the
//!   source's `CHECKSUM TABLE`s.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use incremental_core::backup::sink::DirSink;
use incremental_core::backup::{BackupOptions, BackupPlan, ConnectOptions, Incremental};
use incremental_core::copy_back::{copy_back_with, CopyBackError, CopyBackOptions};
use incremental_core::prepare::{self, PrepareOptions};
use incremental_core::progress::{Cancel, NoProgress};
use incremental_core::source::DirSource;
use xb_testkit::sandbox::{all_files, copy_dir, short_tempdir, Sandbox, SandboxOptions};

static ONE_SERVER: Mutex<()> = Mutex::new(());

const TABLES: &[&str] = &["d.inno", "d.my", "d.ar"];

fn hot_backup(sb: &Sandbox, target: &Path, base: Option<&Path>) {
    let mut c = ConnectOptions::new();
    c.set_socket(sb.socket())
        .set_user("root")
        .set_no_defaults(true);
    let mut opts = BackupOptions::new(sb.datadir());
    opts.set_incremental(base.map(|b| Incremental::Basedir(b.to_path_buf())))
        .set_connect(c);
    let plan = BackupPlan::new(&opts).expect("plan");
    assert!(plan.mode().is_hot(), "{}", plan.mode());
    let mut sink = DirSink::new(target).unwrap().sync(false);
    plan.run(&mut sink, &NoProgress, &Cancel::new())
        .expect("hot backup");
}

fn load(sb: &Sandbox, from: u32) {
    sb.sql(&format!(
        "USE d; INSERT INTO d.inno SELECT seq, REPEAT('i', 100) FROM seq_{from}_to_{};
         INSERT INTO d.my SELECT seq, REPEAT('m', 100) FROM seq_{from}_to_{};
         INSERT INTO d.ar SELECT seq, REPEAT('a', 100) FROM seq_{from}_to_{};",
        from + 999,
        from + 999,
        from + 999
    ))
    .unwrap();
}

fn create_tables(sb: &Sandbox) {
    sb.sql(
        "CREATE DATABASE d; USE d;
         CREATE TABLE d.inno (id INT PRIMARY KEY, v VARCHAR(200)) ENGINE=InnoDB;
         CREATE TABLE d.my (id INT PRIMARY KEY, v VARCHAR(200)) ENGINE=MyISAM;
         CREATE TABLE d.ar (id INT PRIMARY KEY, v VARCHAR(200)) ENGINE=Aria;",
    )
    .unwrap();
}

/// Starts a server on a restored datadir with `options` (`--name=value`), returns the
/// checksums of [`TABLES`].
fn restored_sums(datadir: &Path, options: &[String], what: &str) -> BTreeMap<String, String> {
    let mut opts = SandboxOptions::default();
    for o in options {
        if let Some((k, v)) = o.trim_start_matches("--").split_once('=') {
            opts = opts.option(k, v);
        }
    }
    let run = short_tempdir().unwrap();
    let sb = Sandbox::on_datadir(run.path(), datadir, &opts)
        .unwrap_or_else(|e| panic!("{what}: server on the restored datadir: {e}"));
    sb.checksum_tables(TABLES).unwrap()
}

/// The source's log files a backup must not hold.
fn is_log(rel: &Path) -> bool {
    let name = rel.file_name().unwrap().to_string_lossy();
    name.starts_with("foo.")
        || name.starts_with("myrelay.")
        || ["gen.log", "slowq.log", "host.err", "ddl_recovery.log"].contains(&name.as_ref())
        || name.ends_with(".info")
}

#[test]
fn backups_hold_no_logs_and_restore_the_tables() {
    let _one = ONE_SERVER.lock().unwrap_or_else(|e| e.into_inner());
    let opts = SandboxOptions::default()
        .option("log-bin", "foo")
        .option("server-id", "1")
        .option("relay-log", "myrelay")
        .option("general-log", "1")
        .option("general-log-file", "gen.log")
        .option("slow-query-log", "1")
        .option("slow-query-log-file", "slowq.log")
        .option("long-query-time", "0")
        .option("log-error", "host.err");
    let sb = Sandbox::in_tempdir(&opts).expect("MariaDB sandbox");
    create_tables(&sb);
    load(&sb, 1);
    sb.sql(
        "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=1, MASTER_USER='nobody';
         FLUSH RELAY LOGS; FLUSH BINARY LOGS;",
    )
    .unwrap();
    let source: BTreeSet<PathBuf> = all_files(sb.datadir()).unwrap();
    let logs: Vec<&PathBuf> = source.iter().filter(|p| is_log(p)).collect();
    for must in ["foo.000002", "foo.index", "myrelay.000002", "myrelay.index"] {
        assert!(source.contains(Path::new(must)), "{must} in {logs:?}");
    }
    for must in ["gen.log", "slowq.log", "host.err", "ddl_recovery.log"] {
        assert!(source.contains(Path::new(must)), "{must} in {logs:?}");
    }

    let work = short_tempdir().unwrap();
    let (full, inc) = (work.path().join("full"), work.path().join("inc"));
    hot_backup(&sb, &full, None);
    load(&sb, 1001);
    hot_backup(&sb, &inc, Some(&full));
    let reference = sb.checksum_tables(TABLES).unwrap();
    for dir in [&full, &inc] {
        let files = all_files(dir).unwrap();
        let held: Vec<_> = files.iter().filter(|p| is_log(p)).collect();
        assert!(held.is_empty(), "{}: holds {held:?}", dir.display());
        for needed in ["aria_log_control", "d/my.MYD", "d/ar.MAD", "d/inno.frm"] {
            assert!(
                files.contains(Path::new(needed)),
                "{}: {needed}",
                dir.display()
            );
        }
    }
    // the binary log position is still recorded
    let pos = fs::read_to_string(inc.join("xtrabackup_binlog_info")).unwrap();
    assert!(pos.starts_with("foo.0000"), "{pos}");

    prepare::prepare(
        &full,
        std::slice::from_ref(&inc),
        &PrepareOptions::default(),
        &NoProgress,
        &Cancel::new(),
    )
    .expect("xb prepare");
    let dd = work.path().join("restored");
    let r = copy_back_with(
        &DirSource::new(&full),
        &dd,
        &CopyBackOptions::default(),
        &NoProgress,
        &Cancel::new(),
    )
    .unwrap();
    let sums = restored_sums(&dd, &r.startup_options(), "restored");
    assert_eq!(sums, reference);
}

#[test]
fn copy_back_places_moves_and_refuses_to_overwrite() {
    let _one = ONE_SERVER.lock().unwrap_or_else(|e| e.into_inner());
    let opts = SandboxOptions::default().option("innodb_undo_tablespaces", "2");
    let sb = Sandbox::in_tempdir(&opts).expect("MariaDB sandbox");
    create_tables(&sb);
    load(&sb, 1);
    let work = short_tempdir().unwrap();
    let w = work.path();
    let full = w.join("full");
    hot_backup(&sb, &full, None);
    let reference = sb.checksum_tables(TABLES).unwrap();
    drop(sb);
    prepare::prepare(
        &full,
        &[],
        &PrepareOptions::default(),
        &NoProgress,
        &Cancel::new(),
    )
    .expect("xb prepare");
    assert!(full.join("undo001").exists() && full.join("aria_log_control").exists());
    let restore = |dd: &Path, o: &CopyBackOptions, from: &Path| {
        copy_back_with(&DirSource::new(from), dd, o, &NoProgress, &Cancel::new())
    };

    // 1. every layout directory, 3 threads; relative ones are relative to the datadir
    let dd = w.join("laid-out");
    let mut o = CopyBackOptions::default();
    o.set_parallel(3)
        .set_innodb_data_home_dir(Some(w.join("sys")))
        .set_innodb_log_group_home_dir(Some("redo".into()))
        .set_innodb_undo_directory(Some(w.join("undo")))
        .set_aria_log_dir_path(Some(w.join("aria")));
    let r = restore(&dd, &o, &full).unwrap();
    for (dir, file) in [
        (w.join("sys"), "ibdata1"),
        (dd.join("redo"), "ib_logfile0"),
        (w.join("undo"), "undo002"),
        (w.join("aria"), "aria_log_control"),
    ] {
        assert!(dir.join(file).exists(), "{}", dir.join(file).display());
        assert!(!dd.join(file).exists(), "{file} also in the datadir");
    }
    assert_eq!(r.layout_options.len(), 4, "{:?}", r.layout_options);
    assert_eq!(
        restored_sums(&dd, &r.startup_options(), "laid out"),
        reference
    );
    // a second restore finds the files outside the datadir in place: refused, nothing written
    let e = restore(&w.join("again"), &o, &full).unwrap_err();
    match &e {
        CopyBackError::Exists { path } => assert!(
            ["sys", "undo", "aria"]
                .iter()
                .any(|d| path.starts_with(w.join(d))),
            "{e}"
        ),
        _ => panic!("{e}"),
    }
    assert!(!w.join("again").join("d").exists());

    // 2. a datadir that holds files: only what is missing is written
    let dd = w.join("non-empty");
    fs::create_dir_all(&dd).unwrap();
    fs::write(dd.join("keep.txt"), b"mine").unwrap();
    let e = restore(&dd, &CopyBackOptions::default(), &full).unwrap_err();
    assert!(matches!(e, CopyBackError::DatadirNotEmpty { .. }), "{e}");
    let mut force = CopyBackOptions::default();
    force.set_force_non_empty_directories(true);
    let r = restore(&dd, &force, &full).unwrap();
    assert_eq!(fs::read(dd.join("keep.txt")).unwrap(), b"mine");
    let e = restore(&dd, &force, &full).unwrap_err();
    assert!(matches!(e, CopyBackError::Exists { .. }), "{e}");
    assert_eq!(
        restored_sums(&dd, &r.startup_options(), "non-empty"),
        reference
    );

    // 3. a move: the backup gives its files up
    let moved_from = w.join("to-move");
    copy_dir(&full, &moved_from).unwrap();
    let dd = w.join("moved");
    let mut mv = CopyBackOptions::default();
    mv.set_move_back(true);
    let r = restore(&dd, &mv, &moved_from).unwrap();
    assert!(!moved_from.join("ibdata1").exists() && !moved_from.join("d/inno.ibd").exists());
    assert!(moved_from.join("xtrabackup_checkpoints").exists());
    assert_eq!(restored_sums(&dd, &r.startup_options(), "moved"), reference);
}
