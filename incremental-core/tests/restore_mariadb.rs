//! A restore is right or refused, on a real MariaDB 10.11: a hot backup during which tables
//! were created, renamed, rebuilt and dropped holds DDL files (`.new`, `.ren`, `.del`) that only
//! a prepare turns into tablespaces. Copied as they are, the server's first start recovers them
//! from the redo under stale names, and after a restart the rebuilt and renamed tables have no
//! tablespace ("Tablespace is missing for a table"); so the copy-back refuses such a backup
//! (naming the prepare to run) and the verify says it is not restorable, by the same rule. Once
//! prepared, both accept it and the server starts on the result with every table right. Needs
//! MariaDB (fails without it).

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Mutex;

use incremental_core::backup::sink::DirSink;
use incremental_core::backup::{BackupOptions, BackupPlan, HotOptions};
use incremental_core::copy_back::{copy_back, is_backup_metadata, CopyBackError};
use incremental_core::progress::{Cancel, Event, NoProgress, Progress};
use incremental_core::source::DirSource;
use incremental_core::verify::{verify_chain, Refusal};
use incremental_core::Remedy;
use xb_testkit::load::{self, Queryable};
use xb_testkit::sandbox::{short_tempdir, Sandbox, SandboxOptions};

static ONE_SERVER: Mutex<()> = Mutex::new(());

fn server_options() -> SandboxOptions {
    SandboxOptions::default().option("innodb_log_file_size", "16M")
}

/// Runs `statements` once, when the backup starts copying its first file (after it listed the
/// datadir's files, before `BLOCK_DDL`).
struct DdlDuringCopy {
    conn: Mutex<Option<load::Conn>>,
    statements: Vec<String>,
}

impl DdlDuringCopy {
    fn new(sb: &Sandbox, statements: &[&str]) -> Self {
        DdlDuringCopy {
            conn: Mutex::new(Some(load::connect(&sb.socket()).unwrap())),
            statements: statements.iter().map(|s| s.to_string()).collect(),
        }
    }
}

impl Progress for DdlDuringCopy {
    fn event(&self, e: Event<'_>) {
        if let Event::FileStarted { .. } = e
            && let Some(mut c) = self.conn.lock().unwrap().take()
        {
            for s in &self.statements {
                c.query_drop(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            }
        }
    }
}

/// What the copy-back did before it knew DDL files: every file but the backup's metadata.
fn copy_as_it_is(backup: &Path, datadir: &Path) {
    for rel in xb_testkit::sandbox::all_files(backup).unwrap() {
        let name = rel.file_name().unwrap().to_string_lossy().into_owned();
        let top = rel.components().count() == 1;
        if (top && is_backup_metadata(&name)) || name.ends_with(".meta") {
            continue;
        }
        let to = datadir.join(&rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(backup.join(&rel), &to).unwrap();
    }
}

#[test]
fn an_unprepared_hot_backup_with_ddl_files_is_refused_until_prepared() {
    let _one = ONE_SERVER.lock().unwrap_or_else(|e| e.into_inner());
    let sb = Sandbox::in_tempdir(&server_options()).expect("MariaDB sandbox");
    sb.sql(
        "CREATE DATABASE d; \
         CREATE TABLE d.t_old (id INT PRIMARY KEY, v VARCHAR(40)) ENGINE=InnoDB; \
         CREATE TABLE d.t_rebuilt (id INT PRIMARY KEY, v VARCHAR(40)) ENGINE=InnoDB; \
         CREATE TABLE d.t_gone (id INT PRIMARY KEY) ENGINE=InnoDB; \
         INSERT INTO d.t_old SELECT seq, CONCAT('old ', seq) FROM d.seq_1_to_300; \
         INSERT INTO d.t_rebuilt SELECT seq, CONCAT('rebuilt ', seq) FROM d.seq_1_to_300; \
         INSERT INTO d.t_gone SELECT seq FROM d.seq_1_to_300;",
    )
    .unwrap();
    let work = short_tempdir().unwrap();
    let full = work.path().join("full");
    let mut opts = BackupOptions::new(sb.datadir());
    opts.set_connect(common::connect(&sb))
        .set_hot(HotOptions::default());
    let hook = DdlDuringCopy::new(
        &sb,
        &[
            "CREATE TABLE d.t_new (id INT PRIMARY KEY, v VARCHAR(40)) ENGINE=InnoDB",
            "INSERT INTO d.t_new SELECT seq, CONCAT('new ', seq) FROM d.seq_1_to_300",
            "RENAME TABLE d.t_old TO d.t_renamed",
            "ALTER TABLE d.t_rebuilt FORCE",
            "DROP TABLE d.t_gone",
        ],
    );
    let plan = BackupPlan::new(&opts).unwrap();
    assert!(plan.mode().is_hot(), "{}", plan.mode());
    let mut sink = DirSink::new(&full).unwrap().sync(false);
    let report = plan.run(&mut sink, &hook, &Cancel::new()).unwrap();
    assert!(hook.conn.lock().unwrap().is_none(), "the DDL did not run");
    let hot = report.hot().unwrap();
    let ddl_files: BTreeSet<String> = xb_testkit::sandbox::all_files(&full)
        .unwrap()
        .into_iter()
        .map(|p| p.to_string_lossy().into_owned())
        .filter(|p| p.ends_with(".new") || p.ends_with(".ren") || p.ends_with(".del"))
        .collect();
    eprintln!(
        "DDL files {ddl_files:?}; tracked: {} new, {} renamed, {} deleted",
        hot.new.len(),
        hot.renamed.len(),
        hot.deleted.len()
    );
    assert!(ddl_files.contains("d/t_new.new"), "{ddl_files:?}");

    // The files as they are (what the copy-back did before): the first start recovers from the
    // redo, but leaves the rebuilt and renamed tables' data under stale names (`.new`, the old
    // name), and after a restart InnoDB finds no tablespace for them.
    let raw = work.path().join("raw");
    copy_as_it_is(&full, &raw);
    let run = short_tempdir().unwrap();
    let mut r = Sandbox::on_datadir(run.path(), &raw, &server_options())
        .expect("first start on the unprepared files");
    r.stop().unwrap();
    let restarted = r.start();
    let lost: Vec<&str> = ["t_rebuilt", "t_renamed"]
        .into_iter()
        .filter(|t| {
            restarted.is_err() || r.query_u64(&format!("SELECT COUNT(*) FROM d.{t}")).is_err()
        })
        .collect();
    assert!(
        !lost.is_empty(),
        "the unprepared files restored every table: the refusal below has no reason"
    );
    drop(r);

    // So the copy-back refuses it, naming the prepare; the verify says so too.
    let dd = work.path().join("dd");
    let e = copy_back(&DirSource::new(&full), &dd, &NoProgress, &Cancel::new()).unwrap_err();
    assert!(matches!(e, CopyBackError::NeedsPrepare { .. }), "{e}");
    assert_eq!(e.remedy(), Some(Remedy::PrepareFirst));
    assert!(!dd.exists(), "a refused copy-back created the datadir");
    let v = verify_chain(&full, &[], &NoProgress, &Cancel::new()).unwrap();
    assert!(!v.restorable(), "{}", v.verdict());
    assert!(
        matches!(
            v.refusal,
            Some(Refusal::CopyBack(CopyBackError::NeedsPrepare { .. }))
        ),
        "{}",
        v.verdict()
    );

    // Prepared (no incremental: the DDL files are processed), both accept it and it starts.
    common::prepare_full(&full);
    let v = verify_chain(&full, &[], &NoProgress, &Cancel::new()).unwrap();
    assert!(v.restorable(), "{}", v.verdict());
    copy_back(&DirSource::new(&full), &dd, &NoProgress, &Cancel::new()).unwrap();
    let run = short_tempdir().unwrap();
    let r = Sandbox::on_datadir(run.path(), &dd, &server_options())
        .expect("server on the prepared and restored backup");
    let tables = r
        .query_rows(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'd' \
             ORDER BY table_name",
        )
        .unwrap();
    let tables: Vec<&str> = tables.iter().map(|row| row[0].as_str()).collect();
    assert_eq!(tables, ["t_new", "t_rebuilt", "t_renamed"]);
    for (t, rows) in [("t_new", 300), ("t_rebuilt", 300), ("t_renamed", 300)] {
        let n = r.query_u64(&format!("SELECT COUNT(*) FROM d.{t}")).unwrap();
        assert_eq!(n, rows, "d.{t}");
        let check = r.query_rows(&format!("CHECK TABLE d.{t}")).unwrap();
        assert!(check.iter().any(|row| row[3] == "OK"), "d.{t}: {check:?}");
    }
}

/// A table created with `DATA DIRECTORY` (its `.ibd` outside the datadir, named by the
/// datadir's `db/t.isl`) is backed up as `db/t.ibd` beside its `.isl`, as mariabackup does, and
/// the copy-back puts it back at the path the `.isl` names (creating its directory), where the
/// restored server finds it: one table written before the backup, one created while it runs.
#[test]
fn a_data_directory_table_is_backed_up_as_db_t_ibd_and_restored_where_its_isl_says() {
    let _one = ONE_SERVER.lock().unwrap_or_else(|e| e.into_inner());
    let mut sb = Sandbox::in_tempdir(&server_options()).expect("MariaDB sandbox");
    let work = short_tempdir().unwrap();
    let remote = work.path().join("remote");
    std::fs::create_dir(&remote).unwrap();
    sb.sql(&format!(
        "CREATE DATABASE d; \
         CREATE TABLE d.old (id INT PRIMARY KEY) ENGINE=InnoDB DATA DIRECTORY='{r}'; \
         INSERT INTO d.old SELECT seq FROM d.seq_1_to_500;",
        r = remote.display()
    ))
    .unwrap();
    // the first table reaches its file before the backup; the second is created during it
    sb.checkpoint().unwrap();
    let full = work.path().join("full");
    let mut opts = BackupOptions::new(sb.datadir());
    opts.set_connect(common::connect(&sb))
        .set_hot(HotOptions::default());
    let create = format!(
        "CREATE TABLE d.new (id INT PRIMARY KEY) ENGINE=InnoDB DATA DIRECTORY='{r}'",
        r = remote.display()
    );
    let hook = DdlDuringCopy::new(
        &sb,
        &[&create, "INSERT INTO d.new SELECT seq FROM d.seq_1_to_300"],
    );
    let plan = BackupPlan::new(&opts).unwrap();
    let old_ibd = remote.join("d/old.ibd");
    let mut sink = DirSink::new(&full).unwrap().sync(false);
    plan.run(&mut sink, &hook, &Cancel::new()).unwrap();
    assert!(hook.conn.lock().unwrap().is_none(), "the DDL did not run");
    let files = xb_testkit::sandbox::all_files(&full).unwrap();
    let names: BTreeSet<String> = files
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .filter(|p| p.starts_with("d/"))
        .collect();
    eprintln!("backup of d: {names:?}");
    assert!(
        names.contains("d/old.ibd") && names.contains("d/old.isl"),
        "{names:?}"
    );
    assert!(
        names.iter().any(|n| n.starts_with("d/new.")) && names.contains("d/new.isl"),
        "{names:?}"
    );
    assert!(files.iter().all(|p| !p.starts_with("remote")), "{files:?}");
    sb.stop().unwrap();
    // the prepare's recovery works on the backup's copies, never on the source's files
    let source_files = |name: &str| std::fs::read(remote.join("d").join(name)).unwrap();
    let before = (source_files("old.ibd"), source_files("new.ibd"));
    common::prepare_full(&full);
    assert!(
        before == (source_files("old.ibd"), source_files("new.ibd")),
        "the prepare changed the source's DATA DIRECTORY files"
    );
    std::fs::remove_dir_all(&remote).unwrap();
    let dd = work.path().join("dd");
    copy_back(&DirSource::new(&full), &dd, &NoProgress, &Cancel::new()).unwrap();
    assert!(old_ibd.is_file() && remote.join("d/new.ibd").is_file());
    assert!(!dd.join("d/old.ibd").exists() && dd.join("d/old.isl").is_file());
    let run = short_tempdir().unwrap();
    let r = Sandbox::on_datadir(run.path(), &dd, &server_options())
        .expect("server on the restored backup");
    assert_eq!(r.query_u64("SELECT COUNT(*) FROM d.old").unwrap(), 500);
    assert_eq!(r.query_u64("SELECT COUNT(*) FROM d.new").unwrap(), 300);
}
