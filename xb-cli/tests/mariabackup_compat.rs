//! xb as a drop-in `mariabackup` (issue 18): a shell script written for mariabackup 10.11
//! (its option file and groups, a full and two incremental backups under a write load, the
//! staged prepare, `--copy-back`) runs unchanged with a `mariabackup` symlink to xb first on
//! PATH, and the restored server holds the source's tables as at the last backup's end; a
//! `--stream=xbstream` backup piped into the real `mbstream -x` prepares; option errors end
//! as mariabackup's do. Needs MariaDB (fails without it).

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use xb_testkit::load::{self, Load};
use xb_testkit::sandbox::{short_tempdir, Sandbox, SandboxOptions};

/// Rows of the load's big table.
const ROWS: u32 = 5_000;

/// A directory holding `mariabackup` (and `mariadb-backup`), symlinks to the xb binary.
fn bindir(root: &Path) -> PathBuf {
    let dir = root.join("bin");
    fs::create_dir_all(&dir).unwrap();
    for name in ["mariabackup", "mariadb-backup"] {
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_xb"), dir.join(name)).unwrap();
    }
    dir
}

/// PATH with `dir` first.
fn path_with(dir: &Path) -> String {
    format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// The script, as a DBA would write it for mariabackup: one step per call (cron runs the
/// backups; the restore is run by hand), each checking the exit status and that the last
/// line of the log says `completed OK!`.
const SCRIPT: &str = r#"#!/bin/bash
# usage: backup.sh CNF ROOT full|inc1|inc2|restore
set -u
CNF=$1; ROOT=$2; STEP=$3
LOG=$ROOT/$STEP.log
run() {
    "$@" 2>"$LOG.part"
    rc=$?
    cat "$LOG.part" >>"$LOG"
    if [ $rc -ne 0 ]; then echo "FAILED ($rc): $*" >&2; cat "$LOG.part" >&2; exit 1; fi
    if ! tail -n 1 "$LOG.part" | grep -q '^\[00\] [0-9-]* [0-9:]* completed OK!$'; then
        echo "NOT OK: $*" >&2; cat "$LOG.part" >&2; exit 1
    fi
}
case $STEP in
full) run mariabackup --defaults-file=$CNF --backup --target-dir=$ROOT/full ;;
inc1) run mariabackup --defaults-file=$CNF --backup --target-dir=$ROOT/inc1 \
        --incremental-basedir=$ROOT/full ;;
inc2) run mariadb-backup --defaults-file=$CNF --backup --target-dir $ROOT/inc2 \
        --incremental-basedir $ROOT/inc1 -u root ;;
restore)
    run mariabackup --prepare --target-dir=$ROOT/full
    run mariabackup --prepare --target-dir=$ROOT/full --incremental-dir=$ROOT/inc1
    run mariabackup --prepare --target-dir=$ROOT/full --incremental-dir=$ROOT/inc2
    run mariabackup --defaults-file=$CNF --defaults-group-suffix=.restore --copy-back \
        --target-dir=$ROOT/full
    ;;
esac
"#;

/// Runs the script's `step` with the write load running; it stops during the backup, whose
/// end is held back (by a long write to a MyISAM table, which the backup locks wait for)
/// until after the load stopped: returns the load tables' checksums then.
fn backup_under_load(
    sb: &Sandbox,
    script: &Path,
    cnf: &Path,
    root: &Path,
    step: &str,
    path: &str,
) -> BTreeMap<String, String> {
    let running = Load::start(&sb.socket(), ROWS).unwrap();
    let mut hold = sb
        .client_command()
        .args(["-e", "UPDATE hold.m SET v = SLEEP(3)"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let t0 = Instant::now();
    let mut child = Command::new("bash")
        .arg(script)
        .args([cnf, root])
        .arg(step)
        .env("PATH", path)
        .stderr(File::create(root.join(format!("{step}.err"))).unwrap())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1200));
    let stats = running.stop().unwrap();
    let held = hold.try_wait().unwrap().is_none();
    let reference = load::checksums(&sb.socket()).unwrap();
    let status = child.wait().unwrap();
    assert!(hold.wait().unwrap().success());
    let err = fs::read_to_string(root.join(format!("{step}.err"))).unwrap();
    let log = fs::read_to_string(root.join(format!("{step}.log"))).unwrap_or_default();
    eprintln!(
        "{step}: {:.1} s, load {stats:?}",
        t0.elapsed().as_secs_f64()
    );
    assert!(status.success(), "{step}: {err}\n{log}");
    assert!(log.contains("xb: hot "), "{log}");
    assert!(stats.appended > 0, "{stats:?}");
    assert!(
        held,
        "the backup's end state is unknown: the hold ended first\n{log}"
    );
    reference
}

/// The key names of a `key = value` file.
fn keys(path: &Path) -> Vec<String> {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.trim().to_string()))
        .collect()
}

#[test]
fn a_mariabackup_script_runs_unchanged() {
    let t0 = Instant::now();
    let sb = Sandbox::in_tempdir(&SandboxOptions::default()).expect("MariaDB sandbox");
    Load::setup(&sb.socket(), ROWS).unwrap();
    sb.sql(
        "CREATE DATABASE hold; CREATE TABLE hold.m (v INT) ENGINE=MyISAM; \
         INSERT INTO hold.m VALUES (1)",
    )
    .unwrap();
    let tmp = short_tempdir().unwrap();
    let root = tmp.path();
    let path = path_with(&bindir(root));
    let restore = root.join("restored");
    // the DBA's option file: the server's and the client's groups, mariabackup's own, and a
    // group with a suffix for the restore
    let cnf = root.join("backup.cnf");
    fs::write(
        &cnf,
        format!(
            "[mysqld]\ndatadir={}\ninnodb_buffer_pool_size=64M\nloose-some-plugin=1\n\
             [client]\nsocket={}\nuser=nobody-wins-later\n[client-server]\nport=0\n\
             [mariabackup]\nuser=root\nparallel=2\n[mysqld.restore]\ndatadir={}\n",
            sb.datadir().display(),
            sb.socket().display(),
            restore.display()
        ),
    )
    .unwrap();
    let script = root.join("backup.sh");
    fs::write(&script, SCRIPT).unwrap();

    // a checkpoint before each backup: the incrementals then hold pages, not only redo
    sb.checkpoint().unwrap();
    backup_under_load(&sb, &script, &cnf, root, "full", &path);
    sb.checkpoint().unwrap();
    backup_under_load(&sb, &script, &cnf, root, "inc1", &path);
    sb.checkpoint().unwrap();
    let reference = backup_under_load(&sb, &script, &cnf, root, "inc2", &path);
    for (dir, kind) in [
        ("full", "full-backuped"),
        ("inc1", "incremental"),
        ("inc2", "incremental"),
    ] {
        let c = fs::read_to_string(root.join(dir).join("xtrabackup_checkpoints")).unwrap();
        eprintln!("{dir}: {}", c.replace('\n', "; "));
        assert!(c.contains(&format!("backup_type = {kind}")), "{c}");
    }

    let out = Command::new("bash")
        .arg(&script)
        .args([&cnf, root])
        .arg("restore")
        .env("PATH", &path)
        .output()
        .unwrap();
    let log = fs::read_to_string(root.join("restore.log")).unwrap_or_default();
    assert!(out.status.success(), "restore failed:\n{log}");
    // as mariabackup: nothing on standard output (xb's summaries go to standard error)
    assert_eq!(String::from_utf8_lossy(&out.stdout), "", "{log}");
    assert_eq!(log.matches("completed OK!").count(), 4, "{log}");
    let c = fs::read_to_string(root.join("full/xtrabackup_checkpoints")).unwrap();
    // prepared as mariabackup leaves it: the redo applied, more incrementals accepted
    assert!(c.contains("backup_type = log-applied"), "{c}");

    let rdir = tempfile::Builder::new()
        .prefix("mbr")
        .tempdir_in("/tmp")
        .unwrap();
    let restored = Sandbox::on_datadir(rdir.path(), &restore, &SandboxOptions::default())
        .expect("the restored server starts");
    assert_eq!(load::checksums(&restored.socket()).unwrap(), reference);
    drop(restored);

    // a stream to standard output, extracted by the real mbstream, prepares
    let sdir = root.join("streamed");
    fs::create_dir(&sdir).unwrap();
    let mut backup = Command::new("mariabackup")
        .env("PATH", &path)
        .arg(format!("--defaults-file={}", cnf.display()))
        .args(["--backup", "--stream=xbstream"])
        .stdout(Stdio::piped())
        .stderr(File::create(root.join("stream.log")).unwrap())
        .spawn()
        .unwrap();
    let mbstream = Command::new("mbstream")
        .args(["-x", "-C"])
        .arg(&sdir)
        .stdin(backup.stdout.take().unwrap())
        .status()
        .unwrap();
    let ok = backup.wait().unwrap().success();
    let log = fs::read_to_string(root.join("stream.log")).unwrap();
    assert!(ok && mbstream.success(), "{log}");
    assert!(log.trim_end().ends_with("completed OK!"), "{log}");
    let out = Command::new("mariabackup")
        .env("PATH", &path)
        .arg("--prepare")
        .arg(format!("--target-dir={}", sdir.display()))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.trim_end().ends_with("completed OK!"), "{err}");

    // the files mariabackup leaves, with its key names
    let full = root.join("full");
    for f in ["xtrabackup_checkpoints", "xtrabackup_info", "backup-my.cnf"] {
        assert!(full.join(f).exists(), "{f} missing");
    }
    let k = keys(&full.join("xtrabackup_checkpoints"));
    for want in ["backup_type", "from_lsn", "to_lsn", "last_lsn"] {
        assert!(k.iter().any(|x| x == want), "{want} not in {k:?}");
    }
    eprintln!("whole test: {:.1} s", t0.elapsed().as_secs_f64());
}

/// Runs the `mariabackup` symlink with `args` and no option file.
fn mariabackup(args: &[&str]) -> (i32, String) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = bindir(tmp.path());
    let mut c = Command::new(dir.join("mariabackup"));
    c.env_remove("MYSQL_GROUP_SUFFIX")
        .env_remove("MARIADB_GROUP_SUFFIX");
    code_and_stderr(c, args)
}

#[test]
fn option_errors_end_as_mariabackups() {
    // an unknown option: my_getopt's status 2, its message
    let (code, err) = mariabackup(&["--no-defaults", "--backup", "--bogus-opt"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("mariabackup: unknown option '--bogus-opt'"),
        "{err}"
    );
    // --loose-: no error
    let (code, err) = mariabackup(&["--no-defaults", "--loose-bogus-opt", "--version"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("based on MariaDB server 10.11"), "{err}");
    // a refused option: status 1, saying why, nothing done
    let (code, err) = mariabackup(&[
        "--no-defaults",
        "--backup",
        "--target-dir=/nonexistent/x",
        "--rocksdb-backup",
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("--rocksdb-backup: xb does not back up MyRocks data"),
        "{err}"
    );
    assert!(!err.contains("completed OK!"), "{err}");
    // an unknown variable in mariabackup's group: status 7
    let tmp = tempfile::tempdir().unwrap();
    let cnf = tmp.path().join("b.cnf");
    fs::write(
        &cnf,
        "[mariabackup]\nbogus=1\n[mysqld]\nbogus-server-option=1\n",
    )
    .unwrap();
    let (code, err) = mariabackup(&[&format!("--defaults-file={}", cnf.display()), "--backup"]);
    assert_eq!(code, 7, "{err}");
    assert!(err.contains("unknown variable 'bogus=1'"), "{err}");
    // --defaults-file not first
    let (code, err) = mariabackup(&["--backup", &format!("--defaults-file={}", cnf.display())]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("--defaults-file must be specified first"),
        "{err}"
    );
    // a failure of the run: status 1, no completed OK!
    let (code, err) = mariabackup(&["--no-defaults", "--prepare", "--target-dir=/nonexistent/x"]);
    assert_eq!(code, 1, "{err}");
    assert!(!err.contains("completed OK!"), "{err}");
}

/// `--print-defaults` prints what the server groups (with the suffix of
/// `$MYSQL_GROUP_SUFFIX`) and the command line give, as mariabackup 10.11.19 does.
#[test]
fn print_defaults_with_a_group_suffix() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = bindir(tmp.path());
    let cnf = tmp.path().join("s.cnf");
    fs::write(
        &cnf,
        "[mysqld]\ndatadir=/a\n[mysqld.1]\ndatadir=/b\n[mysqld.2]\ndatadir=/c\n\
         [mariabackup]\nparallel=2\n",
    )
    .unwrap();
    let o = Command::new(dir.join("mariabackup"))
        .arg(format!("--defaults-file={}", cnf.display()))
        .args(["--print-defaults", "--parallel=3"])
        .env("MYSQL_GROUP_SUFFIX", ".1")
        .env_remove("MARIADB_GROUP_SUFFIX")
        .output()
        .unwrap();
    assert!(o.status.success());
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "mariabackup would have been started with the following arguments:\n\
         --datadir=/a --datadir=/b --parallel=3 \n"
    );
}

/// Option values checked as my_getopt checks them, with its statuses (mariabackup 10.11.19's,
/// run by hand): options_check's `innodb-flush-method=blablabla` in `[mariabackup]` over a
/// good one in `[mariadbd]` ends with 13, an unknown suffix with 9, a negative unsigned
/// number with 13, an ambiguous enumeration prefix with 3; a boolean's bad value is a warning.
#[test]
fn option_values_end_as_mariabackups() {
    let tmp = tempfile::tempdir().unwrap();
    let cnf = tmp.path().join("custom.cnf");
    fs::write(
        &cnf,
        "[mariadbd]\ninnodb-flush-method=O_DIRECT\n\n[mariabackup]\ninnodb-flush-method=blablabla\n",
    )
    .unwrap();
    let target = tmp.path().join("backup");
    let target = format!("--target-dir={}", target.display());
    let (code, err) = mariabackup(&[
        &format!("--defaults-file={}", cnf.display()),
        "--backup",
        &target,
    ]);
    assert_eq!(code, 13, "{err}");
    assert!(err.contains("'blablabla'"), "{err}");
    for (arg, want) in [
        ("--parallel=abc", 9),
        ("--parallel=-1", 13),
        ("--use-memory=1Q", 9),
        ("--innodb-flush-method=O_D", 3),
        ("--kill-long-query-type=bogus", 13),
    ] {
        let (code, err) = mariabackup(&["--no-defaults", "--backup", arg, &target]);
        assert_eq!(code, want, "{arg}: {err}");
    }
    // a boolean's invalid value: ignored with a warning; names in any case
    let (code, err) = mariabackup(&[
        "--no-defaults",
        "--Prepare",
        "--export=maybe",
        "--TARGET_DIR=/nonexistent/x",
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("ignoring option '--export' due to invalid value 'maybe'"),
        "{err}"
    );
    assert!(!err.contains("unknown option"), "{err}");
}

/// mariabackup's innobackupex mode: its command-line errors and statuses, and
/// `--innodb-force-recovery` refused for a backup (mtr's innodb_force_recovery).
#[test]
fn innobackupex_errors_end_as_mariabackups() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("b");
    let d = dir.to_str().unwrap();
    for (args, code, says) in [
        (vec!["--no-timestamp"], 1, "Missing argument"),
        (
            vec!["--no-timestamp", d, "extra"],
            1,
            "extra argument found extra",
        ),
        (
            vec!["--incremental-basedir=/a", d],
            1,
            "require the --incremental option",
        ),
        (
            vec!["--apply-log", "--redo-only", d],
            2,
            "unknown option '--redo-only'",
        ),
        (
            vec!["--apply-log", "--bogus=1", d],
            7,
            "unknown variable 'bogus=1'",
        ),
    ] {
        let mut a = vec!["--innobackupex", "--no-defaults"];
        a.extend(args.iter());
        let (got, err) = mariabackup(&a);
        assert_eq!(got, code, "{a:?}: {err}");
        assert!(err.contains(says), "{a:?}: {err}");
    }
    assert!(!dir.exists());
    // a backup with --innodb-force-recovery: status 1; the directory made first, as
    // mariabackup does
    let (code, err) = mariabackup(&[
        "--innobackupex",
        "--no-defaults",
        "--no-timestamp",
        "--innodb-force-recovery=1",
        d,
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(
            "The option \"innodb_force_recovery\" should only be used with \"--apply-log\""
        ),
        "{err}"
    );
    assert!(dir.is_dir());
    let (code, err) = mariabackup(&[
        "--no-defaults",
        "--backup",
        "--innodb-force-recovery=2",
        &format!("--target-dir={d}"),
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("should only be used with \"--prepare\""),
        "{err}"
    );
}

/// The innobackupex command lines of MariaDB's mtr suite against a server: a backup into a
/// timestamped subdirectory, an incremental on it (`--incremental
/// --incremental-basedir`), `--apply-log` of both (backup-my.cnf read from the directory
/// argument), and the restored server holds the incremental's rows.
#[test]
fn an_innobackupex_chain_restores() {
    let sb = Sandbox::in_tempdir(&SandboxOptions::default()).expect("MariaDB sandbox");
    sb.sql("CREATE DATABASE d; CREATE TABLE d.t (i INT) ENGINE=InnoDB; INSERT INTO d.t VALUES (1)")
        .unwrap();
    let tmp = short_tempdir().unwrap();
    let root = tmp.path();
    let bin = bindir(root);
    let cnf = root.join("my.cnf");
    let restore = root.join("restored");
    fs::write(
        &cnf,
        format!(
            "[mysqld]\ndatadir={}\n[client]\nsocket={}\nuser=root\n[mysqld.restore]\ndatadir={}\n",
            sb.datadir().display(),
            sb.socket().display(),
            restore.display()
        ),
    )
    .unwrap();
    let defaults = format!("--defaults-file={}", cnf.display());
    let run = |args: &[&str]| {
        let o = Command::new(bin.join("mariabackup"))
            .arg("--innobackupex")
            .args(args)
            .env_remove("MYSQL_GROUP_SUFFIX")
            .env_remove("MARIADB_GROUP_SUFFIX")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(o.status.success(), "{args:?}: {err}");
        assert!(err.trim_end().ends_with("completed OK!"), "{args:?}: {err}");
    };
    let stamped = root.join("stamped");
    run(&[&defaults, stamped.to_str().unwrap()]);
    let subdirs: Vec<String> = fs::read_dir(&stamped)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(subdirs.len(), 1, "{subdirs:?}");
    let name = &subdirs[0];
    assert!(
        name.len() == 19 && name.as_bytes()[10] == b'_' && !name.contains(' '),
        "{name}"
    );
    let full = stamped.join(name);
    assert!(full.join("xtrabackup_checkpoints").is_file());
    sb.sql("INSERT INTO d.t VALUES (2)").unwrap();
    let inc = root.join("inc");
    let (full_s, inc_s) = (full.to_str().unwrap(), inc.to_str().unwrap());
    run(&[
        &defaults,
        "--incremental",
        "--no-timestamp",
        &format!("--incremental-basedir={full_s}"),
        inc_s,
    ]);
    let c = fs::read_to_string(inc.join("xtrabackup_checkpoints")).unwrap();
    assert!(c.contains("backup_type = incremental"), "{c}");
    run(&["--apply-log", full_s]);
    run(&["--apply-log", &format!("--incremental-dir={inc_s}"), full_s]);
    let c = fs::read_to_string(full.join("xtrabackup_checkpoints")).unwrap();
    assert!(c.contains("backup_type = log-applied"), "{c}");
    run(&[
        &defaults,
        "--defaults-group-suffix=.restore",
        "--copy-back",
        full_s,
    ]);
    let rdir = tempfile::Builder::new()
        .prefix("mbi")
        .tempdir_in("/tmp")
        .unwrap();
    let restored = Sandbox::on_datadir(rdir.path(), &restore, &SandboxOptions::default())
        .expect("the restored server starts");
    assert_eq!(
        restored
            .sql("SELECT GROUP_CONCAT(i ORDER BY i) FROM d.t")
            .unwrap()
            .trim(),
        "1,2"
    );
}

/// Writes the option file `cnf` the tests hand mariabackup: the server's datadir, and its
/// socket and user for the client.
fn write_client_cnf(cnf: &Path, datadir: &Path, socket: impl AsRef<Path>) {
    let text = format!(
        "[mysqld]\ndatadir={}\n[client]\nsocket={}\nuser=root\n",
        datadir.display(),
        socket.as_ref().display()
    );
    fs::write(cnf, text).unwrap();
}

/// Runs `mariabackup` (the symlink on `path`) with `args`: its exit code and standard error.
fn run_mb(path: &str, args: &[String]) -> (i32, String) {
    let mut c = Command::new("mariabackup");
    c.env("PATH", path);
    code_and_stderr(c, args)
}

/// Runs `c` with `args`: its exit code (-1 for a signal) and standard error.
fn code_and_stderr<S: AsRef<std::ffi::OsStr>>(mut c: Command, args: &[S]) -> (i32, String) {
    let o = c.args(args).output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// What mariabackup's mtr tests xbstream, incremental_drop_db, partial_exclude and
/// undo_upgrade ask for, on one server: a full streamed with a `--databases-exclude` that
/// excludes nothing takes an incremental and merges it (mariabackup merges into partial
/// backups), its `xtrabackup_info` says `mariabackup` and `mbstream`; an empty database
/// directory is backed up (as an empty `db.opt`) and survives the merge; an incremental after
/// a restart with another `innodb_undo_tablespaces` fails with mariabackup's line.
#[test]
fn partial_full_empty_database_and_undo_change_as_mariabackup() {
    let opts = SandboxOptions::default().option("innodb_undo_tablespaces", "2");
    let mut sb = Sandbox::in_tempdir(&opts).expect("MariaDB sandbox");
    sb.sql("CREATE DATABASE d; CREATE TABLE d.t (i INT) ENGINE=InnoDB; INSERT INTO d.t VALUES (1)")
        .unwrap();
    fs::create_dir(sb.datadir().join("db5")).unwrap();
    let tmp = short_tempdir().unwrap();
    let root = tmp.path();
    let path = path_with(&bindir(root));
    let cnf = root.join("b.cnf");
    write_client_cnf(&cnf, sb.datadir(), sb.socket());
    let defaults = format!("--defaults-file={}", cnf.display());
    let (full, inc) = (root.join("full"), root.join("inc"));

    // the full, streamed into the real mbstream
    fs::create_dir(&full).unwrap();
    let mut backup = Command::new("mariabackup")
        .env("PATH", &path)
        .args([
            &defaults,
            "--backup",
            "--databases-exclude=foobar",
            "--stream=xbstream",
        ])
        .stdout(Stdio::piped())
        .stderr(File::create(root.join("full.log")).unwrap())
        .spawn()
        .unwrap();
    let x = Command::new("mbstream")
        .args(["-x", "-C"])
        .arg(&full)
        .stdin(backup.stdout.take().unwrap())
        .status()
        .unwrap();
    let log = fs::read_to_string(root.join("full.log")).unwrap();
    assert!(backup.wait().unwrap().success() && x.success(), "{log}");
    let info = fs::read_to_string(full.join("xtrabackup_info")).unwrap();
    for want in [
        "tool_name = mariabackup\n",
        "format = mbstream\n",
        "partial = Y\n",
    ] {
        assert!(info.contains(want), "{want} not in {info}");
    }
    assert_eq!(fs::read(full.join("db5/db.opt")).unwrap(), b"");

    sb.sql("INSERT INTO d.t VALUES (2), (3)").unwrap();
    let (code, err) = run_mb(
        &path,
        &[
            defaults.clone(),
            "--backup".into(),
            format!("--target-dir={}", inc.display()),
            format!("--incremental-basedir={}", full.display()),
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(inc.join("db5/db.opt").exists());
    // the incremental_drop_db case: a database directory emptied in the incremental
    fs::remove_file(inc.join("db5/db.opt")).unwrap();
    for inc_dir in [None, Some(&inc)] {
        let mut args = vec![
            "--prepare".to_string(),
            format!("--target-dir={}", full.display()),
        ];
        args.extend(inc_dir.map(|i| format!("--incremental-dir={}", i.display())));
        let (code, err) = run_mb(&path, &args);
        assert_eq!(code, 0, "{args:?}: {err}");
    }
    assert!(full.join("db5/db.opt").exists());
    {
        let run = short_tempdir().unwrap();
        let copy = root.join("restored");
        xb_testkit::sandbox::copy_dir(&full, &copy).unwrap();
        let r = Sandbox::on_datadir(run.path(), &copy, &SandboxOptions::default())
            .expect("a server on the prepared backup");
        assert_eq!(r.query_value("SELECT COUNT(*) FROM d.t").unwrap(), "3");
        assert_eq!(r.query_value("SHOW DATABASES LIKE 'db5'").unwrap(), "db5");
    }

    // a restart with 4 undo tablespaces (after a slow shutdown, as the server requires)
    sb.sql("SET GLOBAL innodb_fast_shutdown = 0").unwrap();
    sb.stop().unwrap();
    let run = short_tempdir().unwrap();
    let sb4 = Sandbox::on_datadir(
        run.path(),
        sb.datadir(),
        &SandboxOptions::default().option("innodb_undo_tablespaces", "4"),
    )
    .expect("restarted with 4 undo tablespaces");
    write_client_cnf(&cnf, sb4.datadir(), sb4.socket());
    let (code, err) = run_mb(
        &path,
        &[
            defaults,
            "--backup".into(),
            format!("--target-dir={}", root.join("inc2").display()),
            format!("--incremental-basedir={}", inc.display()),
        ],
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(
            "--incremental backup is impossible if the server had been restarted with \
             different innodb_undo_tablespaces"
        ),
        "{err}"
    );
    assert!(
        err.contains("innodb_undo_tablespaces=2 and the server now has 4"),
        "{err}"
    );
}

/// What mariabackup's mtr tests extra_lsndir, page_compression_level, slave_info_norpl and
/// unencrypted_page_compressed look for, on one server: `--extra-lsndir` holds exactly
/// `xtrabackup_checkpoints` and `xtrabackup_info`; `backup-my.cnf` has the server's
/// `innodb_compression_level`; `--slave-info` on a server that is no replica, then on one whose
/// connection (by GTID, 10.11's default, with no `gtid_slave_pos`) never ran, logs
/// mariabackup's lines and writes the file and position; a corrupt page is logged in
/// mariabackup's words.
#[test]
fn outputs_as_mariabackup() {
    let mut sb = Sandbox::in_tempdir(&SandboxOptions::default()).expect("MariaDB sandbox");
    sb.sql(
        "SET GLOBAL innodb_compression_level = 3; CREATE DATABASE test; \
         CREATE TABLE test.t (a INT PRIMARY KEY, b TEXT) ENGINE=InnoDB STATS_PERSISTENT=0; \
         INSERT INTO test.t VALUES (1, REPEAT('x', 500))",
    )
    .unwrap();
    let tmp = short_tempdir().unwrap();
    let root = tmp.path();
    let path = path_with(&bindir(root));
    let cnf = root.join("b.cnf");
    write_client_cnf(&cnf, sb.datadir(), sb.socket());
    let backup = |name: &str, extra: &[String]| -> (i32, String, PathBuf) {
        let dir = root.join(name);
        let mut args = vec![
            format!("--defaults-file={}", cnf.display()),
            "--backup".to_string(),
            "--slave-info".to_string(),
            format!("--target-dir={}", dir.display()),
        ];
        args.extend(extra.iter().cloned());
        let (code, err) = run_mb(&path, &args);
        (code, err, dir)
    };
    let stamped = |err: &str, line: &str| {
        err.lines().any(|l| {
            l.strip_prefix("[00] ")
                .is_some_and(|rest| rest.len() > 20 && &rest[20..] == line)
        })
    };

    let lsndir = root.join("lsn");
    let (code, err, dir) = backup("a", &[format!("--extra-lsndir={}", lsndir.display())]);
    assert_eq!(code, 0, "{err}");
    let mut names: Vec<String> = fs::read_dir(&lsndir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["xtrabackup_checkpoints", "xtrabackup_info"]);
    // an incremental on the extra-lsndir alone, as streaming scripts take them
    let (code, err, _) = backup(
        "a-inc",
        &[format!("--incremental-basedir={}", lsndir.display())],
    );
    assert_eq!(code, 0, "incremental on the extra-lsndir: {err}");
    let my = fs::read_to_string(dir.join("backup-my.cnf")).unwrap();
    assert!(my.contains("\ninnodb_compression_level=3\n"), "{my}");
    assert!(!dir.join("xtrabackup_slave_info").exists());
    assert!(
        stamped(
            &err,
            "Failed to get master binlog coordinates from SHOW SLAVE STATUS.This means that \
             the server is not a replication slave. Ignoring the --slave-info option"
        ),
        "{err}"
    );

    sb.sql("CHANGE MASTER TO MASTER_HOST='localhost', MASTER_PORT=10000")
        .unwrap();
    let (code, err, dir) = backup("b", &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        fs::read_to_string(dir.join("xtrabackup_slave_info")).unwrap(),
        "CHANGE MASTER TO MASTER_LOG_FILE='', MASTER_LOG_POS=0;\n"
    );
    assert!(
        stamped(
            &err,
            "MySQL slave binlog position: master '' filename '' position '0'"
        ),
        "{err}"
    );
    sb.sql("RESET SLAVE ALL").unwrap();

    // page 3 (the table's root) damaged while the server is down
    sb.stop().unwrap();
    {
        use std::os::unix::fs::FileExt;
        let f = fs::OpenOptions::new()
            .write(true)
            .open(sb.datadir().join("test/t.ibd"))
            .unwrap();
        f.write_all_at(&[0xAA; 4], 16384 * 3 + 75).unwrap();
    }
    sb.start().unwrap();
    let (code, err, _) = backup("c", &[]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("Database page corruption detected at page 3"),
        "{err}"
    );
}

/// What mariabackup's mtr tests absolute_ibdata_paths and aria_log_dir_path_rel ask for: a
/// server whose system tablespace files are named by `innodb_data_file_path` (one absolute
/// path outside the datadir, one name that is not `ibdataN`) and whose Aria log is in a
/// directory relative to the datadir, all given on its command line (not in the option file
/// the backup reads): the hot backup takes them from the server's variables and holds them at
/// its top level, under mariabackup's names; `backup-my.cnf` names them without directories;
/// the copy-back puts them where its own options say, and the restored server starts.
#[test]
fn system_tablespace_and_aria_log_where_the_server_says_as_mariabackup() {
    let tmp = short_tempdir().unwrap();
    let root = tmp.path();
    let abs = root.join("abs_ibdata1");
    let spec = format!("{}:6M;ibdata_second:1M:autoextend", abs.display());
    let aria = root.join("aria");
    fs::create_dir(&aria).unwrap();
    let opts = SandboxOptions::default()
        .option("innodb_data_home_dir", "")
        .option("innodb_data_file_path", spec.clone())
        .option("aria_log_dir_path", "../../aria");
    let mut sb = Sandbox::create(root.join("sb"), &opts).expect("MariaDB sandbox");
    assert!(abs.is_file() && aria.join("aria_log_control").is_file());
    sb.sql(
        "CREATE DATABASE d; CREATE TABLE d.t (i INT) ENGINE=InnoDB; INSERT INTO d.t VALUES (1); \
         CREATE TABLE d.a (i INT) ENGINE=Aria; INSERT INTO d.a VALUES (2);",
    )
    .unwrap();
    let path = path_with(&bindir(root));
    let cnf = root.join("b.cnf");
    write_client_cnf(&cnf, sb.datadir(), sb.socket());
    let defaults = format!("--defaults-file={}", cnf.display());
    let full = root.join("full");
    let (code, err) = run_mb(
        &path,
        &[
            defaults.clone(),
            "--backup".into(),
            format!("--target-dir={}", full.display()),
        ],
    );
    assert_eq!(code, 0, "{err}");
    for f in [
        "abs_ibdata1",
        "ibdata_second",
        "aria_log_control",
        "aria_log.00000001",
    ] {
        assert!(full.join(f).is_file(), "{f} is not in the backup: {err}");
    }
    let cnf_text = fs::read_to_string(full.join("backup-my.cnf")).unwrap();
    assert!(
        cnf_text.contains("innodb_data_file_path=abs_ibdata1:6M;ibdata_second:1M:autoextend\n"),
        "{cnf_text}"
    );
    let (code, err) = run_mb(
        &path,
        &[
            "--prepare".into(),
            format!("--target-dir={}", full.display()),
        ],
    );
    assert_eq!(code, 0, "{err}");

    let datadir = sb.datadir().to_path_buf();
    sb.stop().unwrap();
    drop(sb);
    fs::remove_dir_all(&datadir).unwrap();
    fs::remove_file(&abs).unwrap();
    fs::remove_dir_all(&aria).unwrap();
    let (code, err) = run_mb(
        &path,
        &[
            defaults,
            "--copy-back".into(),
            format!("--target-dir={}", full.display()),
            format!("--datadir={}", datadir.display()),
            "--innodb-data-home-dir=".into(),
            format!("--innodb-data-file-path={spec}"),
            "--aria-log-dir-path=../../aria".into(),
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        abs.is_file() && datadir.join("ibdata_second").is_file(),
        "{err}"
    );
    assert!(!datadir.join("abs_ibdata1").exists());
    assert!(aria.join("aria_log_control").is_file() && aria.join("aria_log.00000001").is_file());
    let r = Sandbox::on_datadir(root.join("r"), &datadir, &opts).expect("restored server");
    assert_eq!(r.query_u64("SELECT i FROM d.t").unwrap(), 1);
    assert_eq!(r.query_u64("SELECT i FROM d.a").unwrap(), 2);
}

/// What mariabackup's mtr test skip_innodb asks for: a server started with `--skip-innodb`
/// (its datadir still holds the InnoDB files it was created with) is backed up, the backup
/// prepares and restores, and the restored server reads its MyISAM and Aria tables.
#[test]
fn a_server_without_innodb_is_backed_up_as_mariabackup() {
    let tmp = short_tempdir().unwrap();
    let root = tmp.path();
    let mut sb =
        Sandbox::create(root.join("sb"), &SandboxOptions::default()).expect("MariaDB sandbox");
    sb.stop().unwrap();
    let opts = SandboxOptions::default()
        .flag("skip-innodb")
        .option("default_storage_engine", "MyISAM");
    let datadir = sb.datadir().to_path_buf();
    drop(sb);
    let sb = Sandbox::on_datadir(root.join("s"), &datadir, &opts).expect("server without InnoDB");
    sb.sql(
        "CREATE DATABASE d; CREATE TABLE d.m (i INT) ENGINE=MyISAM; INSERT INTO d.m VALUES (1); \
         CREATE TABLE d.a (i INT) ENGINE=Aria; INSERT INTO d.a VALUES (2);",
    )
    .unwrap();
    let path = path_with(&bindir(root));
    let cnf = root.join("b.cnf");
    write_client_cnf(&cnf, &datadir, sb.socket());
    let defaults = format!("--defaults-file={}", cnf.display());
    let full = root.join("full");
    let (code, err) = run_mb(
        &path,
        &[
            defaults.clone(),
            "--backup".into(),
            format!("--target-dir={}", full.display()),
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        full.join("d/m.MYD").is_file() && full.join("d/a.MAD").is_file(),
        "{err}"
    );
    let (code, err) = run_mb(
        &path,
        &[
            "--prepare".into(),
            format!("--target-dir={}", full.display()),
        ],
    );
    assert_eq!(code, 0, "{err}");
    drop(sb);
    let restored = root.join("restored");
    let (code, err) = run_mb(
        &path,
        &[
            defaults,
            "--copy-back".into(),
            format!("--target-dir={}", full.display()),
            format!("--datadir={}", restored.display()),
        ],
    );
    assert_eq!(code, 0, "{err}");
    let r = Sandbox::on_datadir(root.join("r"), &restored, &opts).expect("restored server");
    assert_eq!(r.query_u64("SELECT i FROM d.m").unwrap(), 1);
    assert_eq!(r.query_u64("SELECT i FROM d.a").unwrap(), 2);
}

/// Runs `cmd` for at most 60 s (killed after: status -9); returns its status, standard error
/// and how long it ran.
fn run_for_a_minute(mut cmd: Command) -> (i32, String, Duration) {
    let t0 = Instant::now();
    let err = tempfile::NamedTempFile::new().unwrap();
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(err.reopen().unwrap())
        .spawn()
        .unwrap();
    let code = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s.code().unwrap_or(-1);
        }
        if t0.elapsed() > Duration::from_secs(60) {
            child.kill().unwrap();
            child.wait().unwrap();
            break -9;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (code, fs::read_to_string(err.path()).unwrap(), t0.elapsed())
}

/// mariabackup's behaviours around locks, privileges and checkpoints, as its mtr tests
/// (full_backup, unsupported_redo, backup_lock_wait_timeout, backup_grants,
/// slave_provision_nolock) check them: `--innodb-log-checkpoint-now` makes the server
/// checkpoint first (a table created just before is copied whole, not as `.new`);
/// `--ftwrl-wait-timeout` gives up on `BACKUP STAGE START` held up by `LOCK TABLES`; an
/// account without privileges backs up with `--no-lock` (and its password is not recorded),
/// and without it fails naming the privileges and its grants; `--no-lock` under writes to a
/// MyISAM table succeeds with a warning, where `xb backup --no-lock` fails (exit 1) unless
/// `--no-lock-accept-writes`.
#[test]
fn locks_privileges_and_checkpoints_end_as_mariabackups() {
    let sb = Sandbox::in_tempdir(&SandboxOptions::default()).expect("MariaDB sandbox");
    let tmp = short_tempdir().unwrap();
    let root = tmp.path();
    let bin = bindir(root).join("mariabackup");
    let cnf = root.join("my.cnf");
    fs::write(
        &cnf,
        format!(
            "[client]\nsocket={}\nuser=root\n[mysqld]\ndatadir={}\n",
            sb.socket().display(),
            sb.datadir().display()
        ),
    )
    .unwrap();
    let backup = |name: &str, args: &[&str]| {
        let mut c = Command::new(&bin);
        c.arg(format!("--defaults-file={}", cnf.display()))
            .arg("--backup")
            .arg(format!("--target-dir={}", root.join(name).display()))
            .args(args);
        run_for_a_minute(c)
    };

    // a checkpoint first: the tables just created are copied whole
    sb.sql(
        "CREATE DATABASE c; CREATE TABLE c.t1 (i INT) ENGINE=InnoDB; \
         INSERT INTO c.t1 VALUES (1); CREATE TABLE c.t2 (i INT) ENGINE=InnoDB; \
         CREATE TABLE c.m (i INT) ENGINE=MyISAM",
    )
    .unwrap();
    let before = sb.lsn_current().unwrap();
    let (code, err, _) = backup("ck", &["--innodb_log_checkpoint_now=1"]);
    assert_eq!(code, 0, "{err}");
    let ck = fs::read_to_string(root.join("ck/xtrabackup_checkpoints")).unwrap();
    let to_lsn: u64 = ck
        .lines()
        .find_map(|l| l.strip_prefix("to_lsn = "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        to_lsn >= before,
        "to_lsn {to_lsn} < {before}: no checkpoint\n{err}"
    );
    for t in ["t1", "t2"] {
        assert!(
            root.join(format!("ck/c/{t}.ibd")).exists(),
            "{t}.ibd\n{err}"
        );
        assert!(
            !root.join(format!("ck/c/{t}.new")).exists(),
            "{t}.new\n{err}"
        );
    }

    // BACKUP STAGE START held up by LOCK TABLES: given up after --ftwrl-wait-timeout
    let mut holder = sb
        .client_command()
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = holder.stdin.take().unwrap();
    use std::io::Write;
    stdin
        .write_all(b"BEGIN; LOCK TABLES c.t1 WRITE; SELECT 1;\n")
        .unwrap();
    stdin.flush().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let (code, err, took) = backup("wait", &["--ftwrl-wait-timeout=1"]);
    stdin.write_all(b"COMMIT;\n").unwrap();
    drop(stdin);
    assert!(holder.wait().unwrap().success());
    assert_eq!(code, 1, "{err}");
    assert!(took < Duration::from_secs(20), "{took:?}\n{err}");
    assert!(err.contains("BACKUP STAGE START"), "{err}");

    // an account without privileges: --no-lock backs up, locks are refused at once
    sb.sql("CREATE USER backup@localhost IDENTIFIED BY 'xyz'")
        .unwrap();
    let (code, err, _) = backup("nolock", &["-ubackup", "-pxyz", "--no-lock"]);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("missing required privilege"), "{err}");
    let info = fs::read_to_string(root.join("nolock/xtrabackup_info")).unwrap();
    assert!(!info.contains("xyz"), "{info}");
    let (code, err, _) = backup("locks", &["-ubackup", "--password", "xyz"]);
    assert_eq!(code, 1, "{err}");
    for want in [
        "Error: missing required privilege RELOAD on *.*",
        "Error: missing required privilege PROCESS on *.*",
        "GRANT USAGE ON *.* TO `backup`@`localhost`",
    ] {
        assert!(err.contains(want), "{want}\n{err}");
    }
    assert!(!err.contains("PASSWORD '"), "{err}");

    // --no-lock while a MyISAM table is written: mariabackup's succeeds with a warning, xb's
    // fails unless told to accept it
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (stop, socket) = (stop.clone(), sb.socket());
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let status = Command::new("mariadb")
                    .args(["--no-defaults", "-uroot", "-S"])
                    .arg(&socket)
                    .args(["-e", &format!("INSERT INTO c.m VALUES ({n})")])
                    .status()
                    .unwrap();
                assert!(status.success());
                n += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let (code, err, _) = backup("written", &["--no-lock"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("WARNING: --no-lock: written during the backup"),
        "{err}"
    );
    let xb = |name: &str, extra: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_xb"));
        c.args(["backup", "--no-lock", "--user", "root", "--socket"])
            .arg(sb.socket())
            .arg("--target-dir")
            .arg(root.join(name))
            .args(extra);
        run_for_a_minute(c)
    };
    let (code, err, _) = xb("xb-written", &[]);
    assert_eq!(code, 1, "{err}");
    let (code, err, _) = xb("xb-accepted", &["--no-lock-accept-writes"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("accepted (--no-lock-accept-writes)"), "{err}");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.join().unwrap();
}

/// What mariabackup's mtr test binlog (and slave_provision_nolock's provisioning) asks for:
/// the prepare of a backup of a server with a binary log, taken under a write load, says
/// mariabackup's `Last binlog file NAME, position N` (InnoDB's recovered position) and
/// writes it to `xtrabackup_binlog_pos_innodb` as `NAME<TAB>N`; with the backup locks taken,
/// it is the position `xtrabackup_binlog_info` recorded (every write is to InnoDB).
#[test]
fn prepare_says_the_binlog_position_as_mariabackup() {
    let opts = SandboxOptions::default()
        .option("log-bin", "master-bin")
        .option("server-id", "1");
    let sb = Sandbox::in_tempdir(&opts).expect("MariaDB sandbox");
    sb.sql_batch(
        "CREATE DATABASE test;\n\
         CREATE TABLE test.t (a INT AUTO_INCREMENT PRIMARY KEY, b INT) ENGINE=InnoDB;\n\
         INSERT INTO test.t (b) VALUES (1);\n\
         DELIMITER //\n\
         CREATE PROCEDURE test.load(secs INT) BEGIN \
         DECLARE e DATETIME(6) DEFAULT NOW(6) + INTERVAL secs SECOND; \
         WHILE NOW(6) < e DO INSERT INTO test.t (b) VALUES (2); END WHILE; END//\n",
    )
    .unwrap();
    let tmp = short_tempdir().unwrap();
    let root = tmp.path();
    let path = path_with(&bindir(root));
    let cnf = root.join("b.cnf");
    write_client_cnf(&cnf, sb.datadir(), sb.socket());
    let mut load = sb
        .client_command()
        .args(["-e", "CALL test.load(4)"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let dir = root.join("full");
    let target = format!("--target-dir={}", dir.display());
    let (code, err) = run_mb(
        &path,
        &[
            format!("--defaults-file={}", cnf.display()),
            "--backup".into(),
            target.clone(),
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(load.wait().unwrap().success());
    let (code, err) = run_mb(
        &path,
        &["--prepare".into(), "--binlog-info=1".into(), target],
    );
    assert_eq!(code, 0, "{err}");
    let info = fs::read_to_string(dir.join("xtrabackup_binlog_info")).unwrap();
    let mut f = info.split('\t');
    let (file, pos) = (f.next().unwrap(), f.next().unwrap().trim());
    assert_eq!(file, "master-bin.000001", "{info}");
    assert!(pos.parse::<u64>().unwrap() > 1000, "{info}");
    assert_eq!(
        fs::read_to_string(dir.join("xtrabackup_binlog_pos_innodb")).unwrap(),
        format!("./{file}\t{pos}\n")
    );
    let line = format!("Last binlog file ./{file}, position {pos}");
    assert!(
        err.lines()
            .any(|l| l.starts_with("[00] ") && l.ends_with(&line)),
        "{err}"
    );

    // slave_provision_nolock: a --no-lock backup ends while a commit is held between its
    // InnoDB prepare and its binary log write (the group commit waits 5 s for more commits):
    // the prepare leaves that transaction prepared, as mariabackup's does, and the restored
    // server resolves it (here: rolls it back with tc-heuristic-recover)
    sb.sql("SET GLOBAL binlog_commit_wait_count = 100, binlog_commit_wait_usec = 5000000")
        .unwrap();
    let mut held = sb
        .client_command()
        .args(["-e", "INSERT INTO test.t (b) VALUES (3)"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    let dir = root.join("nolock");
    let target = format!("--target-dir={}", dir.display());
    let (code, err) = run_mb(
        &path,
        &[
            format!("--defaults-file={}", cnf.display()),
            "--backup".into(),
            "--no-lock".into(),
            target.clone(),
        ],
    );
    assert_eq!(code, 0, "{err}");
    let held_long = held.try_wait().unwrap().is_none();
    assert!(held.wait().unwrap().success());
    assert!(held_long, "the held commit ended before the backup did");
    let (code, err) = run_mb(&path, &["--prepare".into(), target]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains(
            "1 transaction(s) prepared by the binary log's two-phase commit left prepared"
        ),
        "{err}"
    );
    let heuristic = SandboxOptions::default().option("tc-heuristic-recover", "ROLLBACK");
    // the server stops after the heuristic recovery (the sandbox may or may not see it start)
    drop(Sandbox::on_datadir(root.join("r1"), &dir, &heuristic));
    let log = fs::read_to_string(root.join("r1/mysqld.err")).unwrap();
    assert!(
        log.contains("Found 1 prepared transaction(s) in InnoDB"),
        "{log}"
    );
    let r = Sandbox::on_datadir(root.join("r2"), &dir, &SandboxOptions::default())
        .expect("restored server");
    let rows = r.sql("SELECT COUNT(*), SUM(b = 3) FROM test.t").unwrap();
    assert!(rows.trim().ends_with("\t0"), "{rows}");
}

/// Runs `xb ARGS`: its exit code and standard error.
fn run_xb(args: &[String]) -> (i32, String) {
    code_and_stderr(Command::new(env!("CARGO_BIN_EXE_xb")), args)
}

/// mtr's backup_ssl and the TLS options, on a server with mtr's certificates (tests/data/tls)
/// that listens on TCP too: a user created REQUIRE SSL is refused without `--ssl` and backs up
/// with it (over TCP to the option file's port, its socket passed over: the server counts the
/// TLS handshakes); `--ssl-ca` checks the chain (a file that is not the issuer fails),
/// `--ssl-verify-server-cert` also the name (mtr's server certificate names `localhost` in its
/// CN only: refused); a REQUIRE X509 user needs `--ssl-cert`/`--ssl-key`; TLS with a socket
/// asked for, an unreadable CA file (named) and `--ssl-cipher` are refused.
#[test]
fn a_require_ssl_user_backs_up_over_tls_as_mariabackup() {
    let tls = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/tls");
    let pem = |f: &str| tls.join(f).display().to_string();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let opts = SandboxOptions::default()
        .option("skip-networking", "0")
        .option("bind-address", "127.0.0.1")
        .option("port", port.to_string())
        .option("ssl_ca", pem("cacert.pem"))
        .option("ssl_cert", pem("server-cert.pem"))
        .option("ssl_key", pem("server-key.pem"));
    let tmp = short_tempdir().unwrap();
    let root = tmp.path();
    let sb = Sandbox::create(root.join("sb"), &opts).expect("MariaDB sandbox");
    sb.sql(
        "GRANT ALL PRIVILEGES ON *.* TO backup_user IDENTIFIED BY 'x' REQUIRE SSL; \
         GRANT ALL PRIVILEGES ON *.* TO x509_user IDENTIFIED BY 'y' REQUIRE X509; \
         CREATE DATABASE d; CREATE TABLE d.t (i INT) ENGINE=InnoDB; INSERT INTO d.t VALUES (7);",
    )
    .unwrap();
    let handshakes = || {
        sb.query_u64(
            "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS \
             WHERE VARIABLE_NAME = 'SSL_ACCEPTS'",
        )
        .unwrap()
    };
    // as mtr's my.cnf: the client groups name the socket and the port
    let cnf = root.join("b.cnf");
    fs::write(
        &cnf,
        format!(
            "[mysqld]\ndatadir={}\n[client]\nsocket={}\nport={port}\n",
            sb.datadir().display(),
            sb.socket().display()
        ),
    )
    .unwrap();
    let path = path_with(&bindir(root));
    let defaults = format!("--defaults-file={}", cnf.display());
    let mb = |extra: &[&str], target: &str| {
        let mut a = vec![
            defaults.clone(),
            "--user=backup_user".into(),
            "--password=x".into(),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        a.push("--backup".into());
        a.push(format!("--target-dir={}", root.join(target).display()));
        run_mb(&path, &a)
    };
    let (code, err) = mb(&[], "plain");
    assert_ne!(code, 0, "{err}");
    assert!(
        err.contains("Access denied for user 'backup_user'"),
        "{err}"
    );
    let before = handshakes();
    let (code, err) = mb(&["--ssl"], "tls");
    assert_eq!(code, 0, "{err}");
    assert!(err.trim_end().ends_with("completed OK!"), "{err}");
    assert!(root.join("tls/d/t.frm").is_file(), "{err}");
    assert!(handshakes() > before, "no TLS handshake: {err}");
    let (code, err) = mb(&["--ssl-cipher=AES128-SHA"], "cipher");
    assert_ne!(code, 0, "{err}");
    assert!(err.contains("--ssl-cipher"), "{err}");

    let xb = |user: &str, password: &str, extra: &[String], target: &str| {
        let mut a = vec![
            "backup".to_string(),
            defaults.clone(),
            format!("--user={user}"),
            format!("--password={password}"),
            format!("--target-dir={}", root.join(target).display()),
        ];
        a.extend(extra.iter().cloned());
        run_xb(&a)
    };
    let ca = format!("--ssl-ca={}", pem("cacert.pem"));
    let (code, err) = xb("backup_user", "x", std::slice::from_ref(&ca), "ca");
    assert_eq!(code, 0, "{err}");
    let (code, err) = xb(
        "backup_user",
        "x",
        &[format!("--ssl-ca={}", pem("server-cert.pem"))],
        "wrong-ca",
    );
    assert_ne!(code, 0, "{err}");
    assert!(err.contains("UnknownIssuer"), "{err}");
    let (code, err) = xb(
        "backup_user",
        "x",
        &[ca.clone(), "--ssl-verify-server-cert".into()],
        "verify",
    );
    assert_ne!(code, 0, "{err}");
    assert!(
        err.contains("certificate not valid for name \"localhost\""),
        "{err}"
    );
    let (code, err) = xb("x509_user", "y", &["--ssl".into()], "no-cert");
    assert_ne!(code, 0, "{err}");
    assert!(err.contains("Access denied for user 'x509_user'"), "{err}");
    let identity = [
        format!("--ssl-cert={}", pem("client-cert.pem")),
        format!("--ssl-key={}", pem("client-key.pem")),
    ];
    let (code, err) = xb("x509_user", "y", &identity, "x509");
    assert_eq!(code, 0, "{err}");
    assert!(root.join("x509/d/t.frm").is_file(), "{err}");
    let (code, err) = xb(
        "backup_user",
        "x",
        &[
            "--ssl".into(),
            format!("--socket={}", sb.socket().display()),
        ],
        "socket",
    );
    assert_ne!(code, 0, "{err}");
    assert!(
        err.contains("TLS cannot be used over the Unix socket"),
        "{err}"
    );
    let (code, err) = xb(
        "backup_user",
        "x",
        &[format!("--ssl-ca={}", root.join("no-ca.pem").display())],
        "no-ca",
    );
    assert_ne!(code, 0, "{err}");
    assert!(
        err.contains("cannot read the TLS CA certificate file"),
        "{err}"
    );
    assert!(err.contains("no-ca.pem"), "{err}");
}
