//! xb as a drop-in `mariabackup`: installed or linked as `mariabackup` or `mariadb-backup`,
//! xb takes mariabackup 10.11's command line and option files, runs the matching xb command
//! and ends as mariabackup does (`[00] YYYY-MM-DD HH:MM:SS completed OK!` last on standard
//! error, exit status 0; otherwise the error on standard error and a nonzero status).
//!
//! - defaults.rs: which option files and groups are read (MariaDB's rules);
//! - parse.rs: the command line and the files' entries into settings;
//! - options.rs: the table of mariabackup's options and what xb does with each;
//! - modes.rs: the settings as an xb command, run.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

mod defaults;
mod innobackupex;
mod modes;
mod options;
mod parse;
mod values;

use options::{Class, Status};
use parse::{Origin, Settings, Unknown};

/// The names under which xb is mariabackup.
const NAMES: &[&str] = &["mariabackup", "mariadb-backup"];

/// Environment variable: run as mariabackup whatever the program's name (tests, and the
/// `xb` binary called directly); its value is the name to print.
pub const ENV: &str = "XB_AS_MARIABACKUP";

/// How a run ended well.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Prints `completed OK!`.
    Completed,
    /// Prints nothing more (`--version`, `--help`, `--print-defaults`).
    Quiet,
}

/// How a run failed: mariabackup's exit status and message.
#[derive(Debug)]
pub struct Failure {
    /// Exit status (my_getopt's codes for option errors, 1 otherwise).
    pub code: u8,
    /// The message.
    pub message: String,
    /// Printed as mariabackup's fatal errors (`[00] FATAL ERROR: date message`), not as an
    /// option error (`mariabackup: message`).
    pub fatal: bool,
}

impl Failure {
    /// An option error.
    pub fn new(code: u8, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
            fatal: false,
        }
    }

    /// A failure of the run (exit status 1).
    pub fn fatal(message: impl Into<String>) -> Failure {
        Failure {
            code: 1,
            message: message.into(),
            fatal: true,
        }
    }
}

/// The program's name when xb runs as mariabackup: `argv[0]`'s file name is `mariabackup` or
/// `mariadb-backup`, or [`ENV`] is set.
pub fn personality(argv0: Option<&OsString>) -> Option<String> {
    if let Some(n) = std::env::var_os(ENV).filter(|v| !v.is_empty()) {
        return Some(n.to_string_lossy().into_owned());
    }
    let name = Path::new(argv0?).file_name()?.to_str()?;
    NAMES.contains(&name).then(|| name.to_string())
}

/// Local time as mariabackup prints it: `YYYY-MM-DD HH:MM:SS`.
pub fn timestamp() -> String {
    // SAFETY: time and localtime_r write only into the structures given.
    #[allow(unsafe_code)]
    let tm = unsafe {
        let t = libc::time(std::ptr::null_mut());
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&t, &mut tm);
        tm
    };
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec
    )
}

/// Runs xb as mariabackup `prog` with the arguments after the program name.
pub fn main(prog: &str, args: Vec<OsString>) -> ExitCode {
    let args: Vec<String> = args
        .into_iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    match run(prog, &args) {
        Ok(Outcome::Completed) => {
            eprintln!("[00] {} completed OK!", timestamp());
            ExitCode::SUCCESS
        }
        Ok(Outcome::Quiet) => ExitCode::SUCCESS,
        // already said, in mariabackup's words
        Err(f) if f.message.is_empty() => ExitCode::from(f.code),
        Err(f) => {
            if f.fatal {
                eprintln!("[00] FATAL ERROR: {} {}", timestamp(), f.message);
            } else {
                eprintln!("{prog}: {}", f.message);
            }
            ExitCode::from(f.code)
        }
    }
}

/// The options that, before `--mysqld-args`, choose more groups or the prepare's option file.
struct Prescan {
    server_groups: Vec<String>,
    client_groups: Vec<String>,
    /// mariabackup reads only `DIR/backup-my.cnf` on `--prepare` with `--target-dir DIR` or
    /// `--incremental-dir DIR` (the latter first), unless `--defaults-file` names a file.
    prepare_file: Option<PathBuf>,
}

fn prescan(args: &[String]) -> Prescan {
    let mut p = Prescan {
        server_groups: vec![],
        client_groups: vec![],
        prepare_file: None,
    };
    let (mut prepare, mut inc, mut target) = (false, None, None);
    let mut i = 0;
    while i < args.len() && args[i] != "--mysqld-args" {
        let a = &args[i];
        i += 1;
        let Some(body) = a.strip_prefix("--") else {
            continue;
        };
        let (raw, value) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (body, None),
        };
        let name = raw.replace('_', "-").to_ascii_lowercase();
        // `--name value` for an option that takes one
        let value = match value {
            None if options::by_name(&name).is_some_and(|o| o.takes == options::Takes::Value)
                && i < args.len() =>
            {
                i += 1;
                Some(args[i - 1].clone())
            }
            v => v,
        };
        match (name.as_str(), value) {
            ("defaults-group", Some(g)) => p.server_groups.push(g),
            ("login-path", Some(g)) => p.client_groups.push(g),
            ("prepare" | "apply-log", _) => prepare = true,
            ("incremental-dir", Some(d)) => inc = Some(d),
            ("target-dir", Some(d)) => target = Some(d),
            _ => {}
        }
    }
    if prepare {
        p.prepare_file = inc.or(target).map(|d| Path::new(&d).join("backup-my.cnf"));
    }
    p
}

fn version(prog: &str) {
    eprintln!(
        "{prog} based on MariaDB server 10.11-MariaDB Linux ({}): xb {}",
        std::env::consts::ARCH,
        env!("CARGO_PKG_VERSION")
    );
}

fn help(prog: &str) {
    println!(
        "{prog}: xb ({}) taking mariabackup 10.11's command line.\n\nUsage: {prog} \
         [--defaults-file=#] [--backup | --prepare | --copy-back | --move-back] [OPTIONS]\n\n\
         Default options are read from /etc/my.cnf /etc/mysql/my.cnf ~/.my.cnf; groups: {} \
         (server options), {} (client options), {} (all options), each also with \
         --defaults-group-suffix.\n\nOptions and what xb does with them:",
        env!("CARGO_PKG_VERSION"),
        defaults::SERVER_GROUPS.join(" "),
        defaults::CLIENT_GROUPS.join(" "),
        defaults::BACKUP_GROUPS.join(" "),
    );
    for o in options::OPTIONS {
        let name = match o.short {
            Some(c) => format!("-{c}, --{}", o.name),
            None => format!("--{}", o.name),
        };
        let what = match o.status {
            Status::Mode => "mode".to_string(),
            Status::Mapped { xb, .. } => format!("xb's --{xb}"),
            Status::FrontEnd => "chooses the option groups".to_string(),
            Status::Ignored(why) => format!("ignored: {why}"),
            Status::Refused(why) => format!("refused: {why}"),
        };
        println!("  {name:<32} {what}");
    }
}

/// `--print-param`: the server options a copy-back needs, as an option file.
fn print_param(s: &Settings) {
    println!("# This MySQL options file was generated by XtraBackup.\n[mysqld]");
    for o in options::OPTIONS.iter().filter(|o| o.class == Class::Server) {
        if let Some(v) = s.text(o.name) {
            println!("{}={v}", o.name.replace('-', "_"));
        }
    }
}

fn run(prog: &str, args: &[String]) -> Result<Outcome, Failure> {
    if let Some(first) = args.first().filter(|a| *a == "--mysqld") {
        return Err(Failure::new(
            2,
            format!("{first}: xb does not offer mariabackup's {first} mode"),
        ));
    }
    let env = |k: &str| std::env::var(k).ok();
    let ibx = args.first().is_some_and(|a| a == innobackupex::FLAG);
    let translated = if ibx {
        let rest = &args[1..];
        let l = defaults::leading(rest, env);
        Some(innobackupex::translate(
            rest,
            l.consumed,
            innobackupex::stamp,
        )?)
    } else {
        None
    };
    let args = translated.as_ref().map_or(args, |t| &t.args[..]);
    let l = defaults::leading(args, env);
    let rest = &args[l.consumed..];
    let pre = prescan(rest);
    let groups = defaults::Groups::new(&pre.server_groups, &pre.client_groups, l.suffix.as_deref());
    let only = pre
        .prepare_file
        .as_deref()
        .filter(|_| l.defaults_file.is_none());
    let files = defaults::read(&l, &groups, only)?;
    if l.print_defaults {
        let mut line: Vec<String> = files
            .server
            .iter()
            .map(|(k, v)| defaults::as_argument(k, v))
            .collect();
        line.extend(rest.iter().cloned());
        println!("{prog} would have been started with the following arguments:");
        println!("{} ", line.join(" "));
        return Ok(Outcome::Quiet);
    }
    let mut s = Settings::default();
    s.apply_entries(
        &files.server,
        Some(Class::Server),
        Origin::ServerGroup,
        Unknown::Skip,
    )?;
    s.apply_entries(
        &files.client,
        Some(Class::Client),
        Origin::ClientGroup,
        Unknown::Skip,
    )?;
    s.apply_entries(&files.backup, None, Origin::BackupGroup, Unknown::FileError)?;
    s.apply_command_line(rest)?;
    for w in &s.warnings {
        eprintln!("Warning: {prog}: {w}");
    }
    if s.on("help") {
        help(prog);
        return Ok(Outcome::Quiet);
    }
    if s.on("version") {
        version(prog);
        return Ok(Outcome::Quiet);
    }
    if s.on("print-param") {
        print_param(&s);
        return Ok(Outcome::Completed);
    }
    version(prog);
    if let Some(dir) = translated.as_ref().and_then(|t| t.make_dir.as_deref()) {
        // innobackupex makes the backup's directory first
        std::fs::create_dir_all(dir)
            .map_err(|e| Failure::fatal(format!("cannot create {}: {e}", dir.display())))?;
    }
    modes::run(prog, &s, &l, ibx)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn names() {
        let n = |s: &str| personality(Some(&OsString::from(s)));
        if std::env::var_os(ENV).is_none() {
            assert_eq!(n("/usr/bin/mariabackup").as_deref(), Some("mariabackup"));
            assert_eq!(n("mariadb-backup").as_deref(), Some("mariadb-backup"));
            assert_eq!(n("/usr/bin/xb"), None);
        }
    }

    #[test]
    fn prepare_reads_backup_my_cnf_of_the_target() {
        let p = prescan(&a(&[
            "--prepare",
            "--target-dir=/f",
            "--incremental-dir=/i",
        ]));
        assert_eq!(p.prepare_file, Some(PathBuf::from("/i/backup-my.cnf")));
        // mariabackup 10.11.19 reads DIR/backup-my.cnf with `--target-dir DIR` too, and with
        // the option's name in any case
        let p = prescan(&a(&["--Prepare", "--target_dir", "/f", "--user", "u"]));
        assert_eq!(p.prepare_file, Some(PathBuf::from("/f/backup-my.cnf")));
        let p = prescan(&a(&[
            "--backup",
            "--target-dir=/f",
            "--defaults-group=mysqld.9",
        ]));
        assert_eq!(p.prepare_file, None);
        assert_eq!(p.server_groups, ["mysqld.9"]);
    }

    /// Files, then mariabackup's groups, then the command line: the last one wins; server
    /// options only from server groups, client options only from client groups.
    #[test]
    fn precedence_of_files_and_command_line() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("my.cnf");
        std::fs::write(
            &f,
            "[mariabackup]\nparallel=5\nuser=from-backup-group\n[mysqld]\ndatadir=/srv\n\
             parallel=2\nuser=mysql\n[client]\nuser=from-client\nsocket=/c.sock\n\
             [client-server]\nport=3307\n[mysqld.1]\ndatadir=/srv1\n",
        )
        .unwrap();
        let args = a(&[
            &format!("--defaults-file={}", f.display()),
            "--defaults-group-suffix=.1",
            "--backup",
            "--parallel=7",
        ]);
        let l = defaults::leading(&args, |_| None);
        let g = defaults::Groups::new(&[], &[], l.suffix.as_deref());
        let files = defaults::read(&l, &g, None).unwrap();
        let mut s = Settings::default();
        s.apply_entries(
            &files.server,
            Some(Class::Server),
            Origin::ServerGroup,
            Unknown::Skip,
        )
        .unwrap();
        s.apply_entries(
            &files.client,
            Some(Class::Client),
            Origin::ClientGroup,
            Unknown::Skip,
        )
        .unwrap();
        s.apply_entries(&files.backup, None, Origin::BackupGroup, Unknown::FileError)
            .unwrap();
        assert_eq!(s.text("datadir"), Some("/srv1"));
        assert_eq!(s.text("parallel"), Some("5"));
        assert_eq!(s.text("user"), Some("from-backup-group"));
        assert_eq!(s.text("socket"), Some("/c.sock"));
        assert_eq!(s.text("port"), Some("3307"));
        s.apply_command_line(&args[l.consumed..]).unwrap();
        assert_eq!(s.text("parallel"), Some("7"));
    }
}
