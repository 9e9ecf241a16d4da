//! `xb` in scripts and cron jobs (issue 13, "Scripted use"): the connection options of the
//! command line win over option files, errors say what the server answered, a stopped
//! server is never silently backed up cold when a connection was asked for, `--quiet` prints
//! only errors, a closed pipe ends xb quietly, `-p` asks for the password, and a backup that
//! must be refused is refused before the server or the target is touched. Needs MariaDB
//! (fails without it).

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Mutex;

use xb_testkit::sandbox::{short_tempdir, Sandbox, SandboxOptions};

mod common;
use common::{xb, Out};

/// The real-server tests of this binary run one at a time (2 cores shared).
static ONE_SERVER: Mutex<()> = Mutex::new(());

const USER: &str = "xb";
const PASSWORD: &str = "s3cret pw";

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A free TCP port on 127.0.0.1 (free when asked; the server takes it a moment later).
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A sandbox that also listens on 127.0.0.1:`port`, with a user `xb` (password
/// [`PASSWORD`]) that may back it up over TCP.
fn tcp_sandbox(port: u16) -> Sandbox {
    let opts = SandboxOptions::default()
        .option("skip-networking", "0")
        .option("bind-address", "127.0.0.1")
        .option("port", port.to_string());
    let sb = Sandbox::in_tempdir(&opts).expect("MariaDB sandbox");
    let mut sql = String::new();
    for host in ["localhost", "127.0.0.1", "%"] {
        sql.push_str(&format!(
            "CREATE USER '{USER}'@'{host}' IDENTIFIED BY '{PASSWORD}'; \
             GRANT ALL ON *.* TO '{USER}'@'{host}';"
        ));
    }
    sb.sql(&sql).unwrap();
    sb
}

/// Runs `xb ARGS` without a controlling terminal, with `stdin` as its standard input.
fn xb_without_terminal(args: &[&str], stdin: &str) -> Out {
    let mut c = Command::new(env!("CARGO_BIN_EXE_xb"));
    c.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: setsid is async-signal-safe; it detaches the child from any terminal.
    unsafe {
        c.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let mut child = c.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// Bytes in `xb`'s words ("12.3 MiB").
fn bytes(text: &str) -> f64 {
    let mut w = text.split_whitespace();
    let n: f64 = w.next().unwrap().parse().unwrap();
    let unit = match w.next().unwrap() {
        "B" => 1.0,
        "KiB" => 1024.0,
        "MiB" => 1048576.0,
        u => panic!("unit {u}"),
    };
    n * unit
}

/// The bytes of every "backup: N files, SIZE" line (the work planned), and those of the
/// "backup done: SIZE read" line.
fn planned_and_read(stderr: &str) -> (f64, f64) {
    let mut planned = 0.0;
    let mut read = 0.0;
    for l in stderr.lines() {
        if let Some(rest) = l.strip_prefix("xb: backup: ")
            && let Some((_, size)) = rest.split_once(" files, ")
        {
            planned += bytes(size);
        }
        if let Some(rest) = l.strip_prefix("xb: backup done: ") {
            read = bytes(rest.split(" read").next().unwrap());
        }
    }
    (planned, read)
}

/// No Rust debug text of the client library in what xb says.
fn assert_plain(o: &Out) {
    for debug in ["MySqlError", "DriverError", "IoError {", "{ "] {
        assert!(!o.stderr.contains(debug), "{debug} in: {}", o.all());
    }
}

#[test]
fn connection_options_errors_and_refusals_as_a_dba_scripts_them() {
    let _one = ONE_SERVER.lock().unwrap_or_else(|e| e.into_inner());
    let port = free_port();
    let mut sb = tcp_sandbox(port);
    let work = short_tempdir().unwrap();
    let w = |name: &str| work.path().join(name);
    let port_s = port.to_string();
    // an option file as on Debian: its [client] group names a socket (a wrong one here)
    let cnf = w("client.cnf");
    std::fs::write(
        &cnf,
        format!("[client]\nsocket=/nonexistent/xb-wrong.sock\nuser={USER}\npassword={PASSWORD}\n"),
    )
    .unwrap();

    // -H/-P on the command line beat the option file's socket: TCP; the line names the
    // server's process, with single spaces; an idle server gets no absurd headroom ratio
    let tcp = w("tcp");
    let o = xb(&[
        "backup",
        "--defaults-file",
        s(&cnf),
        "-H",
        "127.0.0.1",
        "-P",
        &port_s,
        "--target-dir",
        s(&tcp),
        "--no-sync",
    ]);
    assert_eq!(o.code, 0, "{}", o.all());
    assert!(
        o.stderr
            .contains(&format!("through TCP 127.0.0.1:{port} as {USER}")),
        "{}",
        o.all()
    );
    let pid = sb.pid().unwrap();
    assert!(
        o.stderr
            .contains(&format!("running server (process {pid}) (MariaDB")),
        "{}",
        o.all()
    );
    assert!(!o.stderr.contains("  "), "{}", o.all());
    let ratio = o.stderr.split("x headroom").next().unwrap();
    let digits = ratio.chars().rev().take_while(char::is_ascii_digit).count();
    assert!(digits < 7, "absurd headroom: {}", o.all());
    // the bytes planned cover the bytes read (the non-InnoDB files were left out)
    let (planned, read) = planned_and_read(&o.stderr);
    assert!(
        read <= planned * 1.01 + 65536.0,
        "{planned} < {read}: {}",
        o.all()
    );

    // a wrong password: the server's answer, in plain words
    let o = xb(&[
        "backup",
        "--no-defaults",
        "-H",
        "127.0.0.1",
        "-P",
        &port_s,
        "-u",
        USER,
        "--password=wrong",
        "--target-dir",
        s(&w("denied")),
    ]);
    assert_eq!(o.code, 2, "{}", o.all());
    assert!(
        o.stderr
            .contains(&format!("Access denied for user '{USER}'")),
        "{}",
        o.all()
    );
    assert!(!o.stderr.contains("no running server"), "{}", o.all());
    assert_plain(&o);

    // -p alone asks for the password; without a terminal, as mariadb does, it reads a line
    // of standard input
    let o = xb_without_terminal(
        &[
            "backup",
            "--no-defaults",
            "-H",
            "127.0.0.1",
            "-P",
            &port_s,
            "-u",
            USER,
            "-p",
            "--target-dir",
            s(&w("prompted")),
            "--no-sync",
            "--tables",
            "mysql.user",
        ],
        &format!("{PASSWORD}\n"),
    );
    assert_eq!(o.code, 0, "{}", o.all());
    assert!(o.stderr.contains("Enter password: "), "{}", o.all());

    // an incremental on a base that is not a backup of this server is refused before
    // BACKUP STAGE starts and before the target is created
    let alien = w("alien");
    std::fs::create_dir(&alien).unwrap();
    std::fs::write(
        alien.join("xtrabackup_checkpoints"),
        "backup_type = log-applied\nfrom_lsn = 0\nto_lsn = 999999999999\n\
         last_lsn = 999999999999\n",
    )
    .unwrap();
    let target = w("inc-on-alien");
    let sock = sb.socket();
    let o = xb(&[
        "backup",
        "--defaults-file",
        s(&cnf),
        "--socket",
        s(&sock),
        "--target-dir",
        s(&target),
        "--incremental-basedir",
        s(&alien),
        "--no-sync",
    ]);
    assert_eq!(o.code, 2, "{}", o.all());
    assert!(o.stderr.contains("not an earlier backup"), "{}", o.all());
    assert!(!target.exists(), "{}", o.all());
    // and so is a base that is not a backup at all, or a target that is not empty
    let o = xb(&[
        "backup",
        "--defaults-file",
        s(&cnf),
        "--socket",
        s(&sock),
        "--target-dir",
        s(&target),
        "--incremental-basedir",
        s(&work.path().join("nothing")),
    ]);
    assert_eq!(o.code, 2, "{}", o.all());
    assert!(!target.exists(), "{}", o.all());
    let o = xb(&[
        "backup",
        "--no-defaults",
        "-P",
        "1",
        "--target-dir",
        s(work.path()),
    ]);
    assert_eq!(o.code, 2, "{}", o.all());
    assert!(o.stderr.contains("not empty"), "{}", o.all());

    // the server dies right after a write: a backup that names the server refuses, saying
    // why and what to do
    sb.sql("CREATE DATABASE d; CREATE TABLE d.t (a INT) ENGINE=InnoDB; FLUSH TABLES d.t FOR EXPORT; UNLOCK TABLES; INSERT INTO d.t VALUES (1);")
        .unwrap();
    sb.kill().unwrap();
    let dd = sb.datadir().to_path_buf();
    let refused = w("refused");
    let o = xb(&[
        "backup",
        "--datadir",
        s(&dd),
        "--defaults-file",
        s(&cnf),
        "-H",
        "127.0.0.1",
        "-P",
        &port_s,
        "--target-dir",
        s(&refused),
        "--no-sync",
    ]);
    assert_eq!(o.code, 2, "{}", o.all());
    assert!(
        o.stderr.contains("no running server holds this datadir"),
        "{}",
        o.all()
    );
    assert!(o.stderr.contains("leave out --socket"), "{}", o.all());
    assert!(!refused.exists(), "{}", o.all());
    assert_plain(&o);

    // without a server named, the same datadir is backed up cold, saying so loudly
    let cold = w("cold");
    let o = xb(&[
        "backup",
        "--datadir",
        s(&dd),
        "--defaults-file",
        s(&cnf),
        "--target-dir",
        s(&cold),
        "--no-sync",
    ]);
    assert_eq!(o.code, 0, "{}", o.all());
    assert!(o.stderr.contains("xb: cold full backup"), "{}", o.all());
    assert!(
        o.stderr
            .contains("WARNING: cold backup of a datadir that was not shut down cleanly"),
        "{}",
        o.all()
    );

    // an incremental with nothing changed reads nothing: no "method bitmap" without bitmaps
    let o = xb(&[
        "backup",
        "--datadir",
        s(&dd),
        "--target-dir",
        s(&w("cold-inc")),
        "--incremental-basedir",
        s(&cold),
        "--no-sync",
    ]);
    assert_eq!(o.code, 0, "{}", o.all());
    assert!(!o.stderr.contains("method bitmap"), "{}", o.all());
    assert!(o.stderr.contains("no page read"), "{}", o.all());

    // --quiet: nothing at all on success, from backup, verify, prepare
    for args in [
        vec![
            "-q",
            "backup",
            "--datadir",
            s(&dd),
            "--target-dir",
            s(&w("quiet")),
            "--no-sync",
        ],
        vec![
            "backup",
            "-q",
            "--datadir",
            s(&dd),
            "--target-dir",
            s(&w("quiet2")),
        ],
        vec!["-q", "verify", s(&cold)],
        vec!["-q", "prepare", "--target-dir", s(&cold)],
    ] {
        let o = xb(&args);
        assert_eq!(o.code, 0, "{args:?}: {}", o.all());
        assert_eq!(o.stdout, "", "{args:?}");
        assert_eq!(o.stderr, "", "{args:?}");
    }

    // the restore's start command names the datadir absolutely, whatever was given
    let o = Command::new(env!("CARGO_BIN_EXE_xb"))
        .current_dir(work.path())
        .args([
            "copy-back",
            "--target-dir",
            s(&cold),
            "--datadir",
            "restored",
        ])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out} {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let abs = std::fs::canonicalize(w("restored")).unwrap();
    assert!(
        out.contains(&format!("--datadir={}", abs.display())),
        "{out}"
    );
}

/// `xb verify DIR | head -1`: the reader goes away; xb ends as Unix tools do (SIGPIPE), not
/// with a panic (exit 101).
#[test]
fn a_closed_pipe_ends_xb_quietly() {
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/mariadb-10.11/backup/full");
    let work = short_tempdir().unwrap();
    let dir = work.path().join("full");
    xb_testkit::sandbox::copy_dir(&fixture, &dir).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_xb"))
        .args(["verify", s(&dir)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader is gone before xb writes
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_ne!(o.status.code(), Some(101), "{err}");
    assert_eq!(
        o.status.signal(),
        Some(libc::SIGPIPE),
        "{:?} {err}",
        o.status
    );
}

/// `--parallel`'s help gives its real default once, not "(default: 4 …) [default: 0]".
#[test]
fn parallel_help_gives_one_default() {
    let o = xb(&["backup", "--help"]);
    assert_eq!(o.code, 0, "{}", o.all());
    let help = o.stdout.split("--parallel").nth(1).unwrap();
    let entry = help.split("\n      --").next().unwrap();
    assert!(entry.contains("default: 4"), "{entry}");
    assert!(!entry.contains("[default: 0]"), "{entry}");
}
