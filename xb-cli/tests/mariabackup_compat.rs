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
    let o = Command::new(dir.join("mariabackup"))
        .args(args)
        .env_remove("MYSQL_GROUP_SUFFIX")
        .env_remove("MARIADB_GROUP_SUFFIX")
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
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
