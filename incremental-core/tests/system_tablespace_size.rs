//! The system tablespace's size in `backup-my.cnf`, against a real MariaDB 10.11 (fails, never
//! skips, without it): `ibdata1` grown by the server since its last checkpoint (a table in the
//! system tablespace filled in one transaction), a hot full backup, prepared without the
//! redo step and restored: `innodb_data_file_path` in `backup-my.cnf` asks no more of the
//! auto-extending last file than the prepared copy holds, the restored datadir starts with the
//! options copy-back prints and gives the source's `CHECKSUM TABLE`, the redo step's private
//! server starts on the prepared backup, and `mariabackup --prepare` accepts the backups.
// needs the connection-side API of hot backups
#![cfg(feature = "hot")]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use incremental_core::backup::sink::DirSink;
use incremental_core::backup::{BackupOptions, BackupPlan, ConnectOptions, Incremental};
use incremental_core::copy_back::{copy_back_with, CopyBackOptions};
use incremental_core::format::backup_my_cnf::ServerSettings;
use incremental_core::prepare::apply_redo::{apply_redo, ApplyRedoOptions};
use incremental_core::prepare::{self, PrepareOptions};
use incremental_core::progress::{Cancel, NoProgress};
use incremental_core::source::DirSource;
use xb_testkit::sandbox::{copy_dir, short_tempdir, Sandbox, SandboxOptions};

/// The bytes of one `name:size` entry's size (`76M`, `64K`, `1G`).
fn spec_bytes(size: &str) -> u64 {
    let (num, unit) = size.split_at(size.len() - 1);
    let unit = match unit {
        "K" | "k" => 1 << 10,
        "M" | "m" => 1 << 20,
        "G" | "g" => 1 << 30,
        _ => return size.parse().unwrap(),
    };
    num.parse::<u64>().unwrap() * unit
}

/// Every file of `innodb_data_file_path` exists in `dir` and is at least as large as specified
/// (the server refuses an auto-extending last file smaller than specified, and any other file
/// of another size).
fn assert_files_fit(dir: &Path, path: &str) {
    for entry in path.split(';') {
        let parts: Vec<&str> = entry.split(':').collect();
        let want = spec_bytes(parts[1]);
        let have = std::fs::metadata(dir.join(parts[0])).unwrap().len();
        let autoextend = parts.get(2) == Some(&"autoextend");
        assert!(
            have == want || (autoextend && have > want),
            "{path}: {} is {have} bytes in {}",
            parts[0],
            dir.display()
        );
    }
}

static ONE_SERVER: Mutex<()> = Mutex::new(());

/// A backup of `sb`'s datadir into `target`: hot when `sb` runs, else cold.
fn backup(sb: &Sandbox, target: &Path, base: Option<&Path>, hot: bool) {
    let mut o = BackupOptions::new(sb.datadir());
    o.set_incremental(base.map(|b| Incremental::Basedir(b.to_path_buf())));
    if hot {
        let mut c = ConnectOptions::new();
        c.set_socket(sb.socket())
            .set_user("root")
            .set_no_defaults(true);
        o.set_connect(c);
    }
    let plan = BackupPlan::new(&o).expect("plan");
    assert_eq!(plan.mode().is_hot(), hot, "{}", plan.mode());
    let mut sink = DirSink::new(target).unwrap().sync(false);
    plan.run(&mut sink, &NoProgress, &Cancel::new())
        .expect("backup");
}

/// FSP_SIZE of page 0 of `ibdata1` (pages).
fn fsp_size(ibdata1: &Path) -> u32 {
    let mut head = [0u8; 64];
    std::fs::File::open(ibdata1)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
        .unwrap();
    u32::from_be_bytes(head[46..50].try_into().unwrap())
}

/// A server with a table in its system tablespace and few checkpoints.
fn source() -> Sandbox {
    let opts = SandboxOptions::default()
        .option("innodb_file_per_table", "0")
        .option("innodb_buffer_pool_size", "128M")
        .option("innodb_log_file_size", "256M")
        .option("innodb_max_dirty_pages_pct", "99")
        .option("innodb_max_dirty_pages_pct_lwm", "0")
        .option("innodb_adaptive_flushing", "OFF")
        .option("innodb_io_capacity", "100");
    let sb = Sandbox::in_tempdir(&opts).expect("MariaDB sandbox");
    sb.sql(
        "CREATE DATABASE d;
         CREATE TABLE d.t (id INT PRIMARY KEY, v VARCHAR(1000)) ENGINE=InnoDB;",
    )
    .unwrap();
    sb
}

/// Grows `ibdata1`; page 0 on disk keeps the old size until the next checkpoint.
fn grow(sb: &Sandbox) {
    let ibdata = sb.datadir().join("ibdata1");
    let before = std::fs::metadata(&ibdata).unwrap().len();
    sb.sql("USE d; INSERT INTO d.t SELECT seq, REPEAT('s', 1000) FROM seq_1_to_20000;")
        .unwrap();
    let grown = std::fs::metadata(&ibdata).unwrap().len();
    assert!(grown > before, "ibdata1 did not grow: {before} bytes");
    let on_disk = u64::from(fsp_size(&ibdata)) << 14;
    assert!(
        on_disk < grown,
        "a checkpoint came first: page 0 says {on_disk} bytes"
    );
}

/// Prepares `full` with `inc` (no redo step), restores it, starts a server with the options
/// copy-back prints: it gives `reference`. Returns `backup-my.cnf`'s `innodb_data_file_path`.
fn restore_and_check(full: &Path, inc: &Path, reference: &BTreeMap<String, String>) -> String {
    prepare::prepare(
        full,
        &[inc.to_path_buf()],
        &PrepareOptions::default(),
        &NoProgress,
        &Cancel::new(),
    )
    .expect("xb prepare");
    let settings = ServerSettings::read_dir(full).unwrap();
    let path = settings.data_file_path.expect("innodb_data_file_path");
    let dd = full.with_file_name("restored");
    let r = copy_back_with(
        &DirSource::new(full),
        &dd,
        &CopyBackOptions::default(),
        &NoProgress,
        &Cancel::new(),
    )
    .unwrap();
    let mut restored = SandboxOptions::default();
    for opt in r.startup_options() {
        if let Some((k, v)) = opt.trim_start_matches("--").split_once('=') {
            restored = restored.option(k, v);
        }
    }
    let run = short_tempdir().unwrap();
    let server = Sandbox::on_datadir(run.path(), &dd, &restored)
        .unwrap_or_else(|e| panic!("server on the restored datadir ({path}): {e}"));
    assert_eq!(&server.checksum_tables(&["d.t"]).unwrap(), reference);
    drop(server);
    assert_files_fit(&dd, &path);
    path
}

#[test]
fn hot_backups_write_the_server_setting() {
    let _one = ONE_SERVER.lock().unwrap_or_else(|e| e.into_inner());
    let sb = source();
    let work = short_tempdir().unwrap();
    let (full, inc) = (work.path().join("full"), work.path().join("inc"));
    backup(&sb, &full, None, true);
    grow(&sb);
    backup(&sb, &inc, Some(&full), true);
    let reference = sb.checksum_tables(&["d.t"]).unwrap();
    let server_path = sb.sql("SELECT @@innodb_data_file_path").unwrap();

    // mariabackup --prepare accepts both (on copies)
    let (mb_full, mb_inc) = (work.path().join("mb-full"), work.path().join("mb-inc"));
    copy_dir(&full, &mb_full).unwrap();
    copy_dir(&inc, &mb_inc).unwrap();
    let target = format!("--target-dir={}", mb_full.display());
    let inc_dir = format!("--incremental-dir={}", mb_inc.display());
    sb.mariabackup(["--prepare", target.as_str()])
        .expect("mariabackup --prepare");
    sb.mariabackup(["--prepare", target.as_str(), inc_dir.as_str()])
        .expect("mariabackup --prepare --incremental-dir");
    drop(sb);

    // the redo step's private server starts on the prepared backup (a copy)
    let redo = work.path().join("redo");
    copy_dir(&full, &redo).unwrap();
    let redo_inc = work.path().join("redo-inc");
    copy_dir(&inc, &redo_inc).unwrap();
    let no_redo = PrepareOptions::default();
    prepare::prepare(&redo, &[redo_inc], &no_redo, &NoProgress, &Cancel::new())
        .expect("xb prepare");
    apply_redo(&redo, &ApplyRedoOptions::default()).expect("apply_redo");

    let path = restore_and_check(&full, &inc, &reference);
    assert_eq!(path, server_path.trim(), "the server's setting");
}

#[test]
fn cold_backups_write_what_a_restore_holds() {
    let _one = ONE_SERVER.lock().unwrap_or_else(|e| e.into_inner());
    let mut sb = source();
    let work = short_tempdir().unwrap();
    let (full, inc) = (work.path().join("full"), work.path().join("inc"));
    backup(&sb, &full, None, true);
    grow(&sb);
    let reference = sb.checksum_tables(&["d.t"]).unwrap();
    // a crash: page 0 on disk still gives the old size
    sb.kill().unwrap();
    backup(&sb, &inc, Some(&full), false);
    restore_and_check(&full, &inc, &reference);
}
