//! mariabackup's modes as xb's commands: the settings become an xb command line, parsed by
//! that command's own arguments and run by its own `run`.

use clap::{CommandFactory, Parser, Subcommand};

use super::defaults::Leading;
use super::options::{self, Status, B, C, D, P};
use super::parse::{Settings, Val};
use super::{Failure, Outcome};
use crate::cmd;

/// xb's commands the front end runs.
#[derive(Parser)]
#[command(name = "xb")]
struct Xb {
    #[command(subcommand)]
    command: Sub,
}

#[derive(Subcommand)]
enum Sub {
    Backup(Box<cmd::backup::Args>),
    Prepare(cmd::prepare::Args),
    CopyBack(cmd::copy_back::Args),
    Decompress(cmd::decompress::Args),
}

/// mariabackup's default `--target-dir`.
const DEFAULT_TARGET: &str = "./xtrabackup_backupfiles/";

/// What mariabackup was asked to do.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    /// `--backup`.
    Backup,
    /// `--prepare` (`--apply-log`).
    Prepare,
    /// `--copy-back`.
    CopyBack,
    /// `--move-back`.
    MoveBack,
    /// `--decompress`.
    Decompress,
}

/// The mode the settings ask for: exactly one, as mariabackup requires.
pub fn mode(s: &Settings) -> Result<Mode, Failure> {
    let mut found = Vec::new();
    if s.on("backup") {
        found.push(Mode::Backup);
    }
    if s.on("prepare") || s.on("apply-log") {
        found.push(Mode::Prepare);
    }
    if s.on("copy-back") {
        found.push(Mode::CopyBack);
    }
    if s.on("move-back") {
        found.push(Mode::MoveBack);
    }
    if s.on("decompress") {
        found.push(Mode::Decompress);
    }
    match found.as_slice() {
        [m] => Ok(*m),
        [] => Err(Failure::new(
            1,
            "give one of --backup, --prepare, --copy-back, --move-back, --decompress (see \
             --help)",
        )),
        _ => Err(Failure::new(
            1,
            "give only one of --backup, --prepare, --copy-back, --move-back, --decompress",
        )),
    }
}

fn enabled(v: &Val) -> bool {
    match v {
        Val::On | Val::Bare => true,
        Val::Off => false,
        Val::Text(t) => !matches!(t.to_ascii_lowercase().as_str(), "0" | "" | "off" | "false"),
    }
}

/// Refuses what xb cannot do, and notes what it ignores (given for mariabackup: on the
/// command line or in its groups).
pub fn check_statuses(s: &Settings) -> Result<Vec<String>, Failure> {
    let mut notes = Vec::new();
    if let Some(v) = s.text("innodb-log-write-ahead-size") {
        // mariabackup checks it as the server does: a power of 2 (out of range: clamped)
        let n: u64 = v.parse().map_err(|_| {
            Failure::new(
                13,
                format!("option '--innodb-log-write-ahead-size' has an invalid value '{v}'"),
            )
        })?;
        let n = n.clamp(512, 4096);
        if !n.is_power_of_two() {
            return Err(Failure::fatal(format!(
                "innodb_log_write_ahead_size={v} should be a power of 2"
            )));
        }
    }
    for (name, (v, origin)) in &s.values {
        let Some(o) = options::by_name(name) else {
            continue;
        };
        match o.status {
            Status::Refused(why) if enabled(v) => {
                return Err(Failure::fatal(format!("--{name}: {why}")));
            }
            Status::Ignored(why) if origin.for_mariabackup() && *v != Val::Off => {
                notes.push(format!("--{name} ignored: {why}"));
            }
            _ => {}
        }
    }
    Ok(notes)
}

/// A POSIX regular expression of mariabackup's `--tables` (matched anywhere in `db.table`)
/// as one of xb's globs (matching the whole name), when it can be said with `*` and `?`.
pub fn regex_to_glob(re: &str) -> Option<String> {
    let (start, body) = match re.strip_prefix('^') {
        Some(b) => (true, b),
        None => (false, re),
    };
    let (end, body) = match body.strip_suffix('$') {
        Some(b) if !b.ends_with('\\') => (true, b),
        _ => (false, body),
    };
    let mut out = String::new();
    if !start {
        out.push('*');
    }
    let chars: Vec<char> = body.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '\\' => {
                let e = *chars.get(i)?;
                i += 1;
                if !".$^+()[]{}|\\".contains(e) {
                    return None; // \w, \*, \? ...: not a glob
                }
                out.push(e);
            }
            '.' if chars.get(i) == Some(&'*') => {
                i += 1;
                out.push('*');
            }
            '.' => out.push('?'),
            '*' | '+' | '?' | '(' | ')' | '[' | ']' | '{' | '}' | '|' | '^' | '$' => return None,
            c => out.push(c),
        }
    }
    if !end {
        out.push('*');
    }
    while out.contains("**") {
        out = out.replace("**", "*");
    }
    Some(out)
}

fn globs(option: &str, list: &str) -> Result<String, Failure> {
    let mut out = Vec::new();
    for re in list.split(',').filter(|r| !r.is_empty()) {
        match regex_to_glob(re) {
            Some(g) => out.push(g),
            None => {
                return Err(Failure::fatal(format!(
                    "--{option}={re}: xb matches table names with * and ? only, and this \
                     regular expression cannot be said so: use only ., .*, ^, $ and \\. \
                     (^db1\\.t.*$), or list exact names with --tables-file"
                )))
            }
        }
    }
    Ok(out.join(","))
}

/// The xb arguments of the options mapped to command `cmd` (those needing no conversion).
fn mapped(s: &Settings, cmd: u8, skip: &[&str], out: &mut Vec<String>) {
    for o in options::OPTIONS {
        let Status::Mapped { xb, cmds } = o.status else {
            continue;
        };
        if cmds & cmd == 0 || skip.contains(&o.name) {
            continue;
        }
        match s.get(o.name) {
            Some(Val::On | Val::Bare) => out.push(format!("--{xb}")),
            // an empty value from an option file (`user=`) is no value, but for a password
            Some(Val::Text(v)) if v.is_empty() && o.name != "password" => {}
            Some(Val::Text(v)) => out.push(format!("--{xb}={v}")),
            _ => {}
        }
    }
}

fn target(s: &Settings) -> String {
    s.text("target-dir").unwrap_or(DEFAULT_TARGET).to_string()
}

/// `xb backup`'s command line.
pub fn backup_args(
    prog: &str,
    s: &Settings,
    l: &Leading,
    notes: &mut Vec<String>,
) -> Result<Vec<String>, Failure> {
    let mut a = vec![
        "xb".to_string(),
        "backup".to_string(),
        format!("--tool-name={prog}"),
    ];
    if l.no_defaults {
        a.push("--no-defaults".into());
    } else {
        if let Some(f) = &l.defaults_file {
            a.push(format!("--defaults-file={}", f.display()));
        }
        if let Some(f) = &l.extra_file {
            a.push(format!("--defaults-extra-file={}", f.display()));
        }
    }
    match s.text("stream") {
        Some(f) if f.eq_ignore_ascii_case("xbstream") || f.eq_ignore_ascii_case("mbstream") => {
            a.push("--stream=xbstream".into())
        }
        Some(f) => {
            return Err(Failure::fatal(format!(
                "Invalid --stream argument: {f} (xbstream or mbstream)"
            )))
        }
        None => a.push(format!("--target-dir={}", target(s))),
    }
    let special = [
        "target-dir",
        "stream",
        "throttle",
        "tables",
        "tables-exclude",
        "kill-long-query-type",
        "compress",
        "port",
        "protocol",
    ];
    mapped(s, B, &special, &mut a);
    if let Some(n) = s.text("throttle") {
        let n: u64 = n
            .parse()
            .map_err(|_| Failure::fatal(format!("--throttle={n}: give a number")))?;
        if n > 0 {
            // mariabackup's unit: a read of up to 10 MiB (and its write) per second
            a.push(format!("--throttle={}", n.saturating_mul(10)));
            notes.push(format!(
                "--throttle={n}: reads limited to {} MiB/s (mariabackup counts reads of up to \
                 10 MiB)",
                n * 10
            ));
        }
    }
    for t in ["tables", "tables-exclude"] {
        if let Some(list) = s.text(t) {
            a.push(format!("--{t}={}", globs(t, list)?));
        }
    }
    if let Some(k) = s.text("kill-long-query-type") {
        a.push(format!("--kill-long-query-type={}", k.to_ascii_lowercase()));
    }
    match s.get("compress") {
        Some(Val::Bare) => {}
        Some(Val::Text(c)) if c.eq_ignore_ascii_case("quicklz") => {}
        Some(Val::Text(c)) => {
            return Err(Failure::fatal(format!(
                "--compress={c}: mariabackup knows only quicklz"
            )))
        }
        _ => {}
    }
    if matches!(s.get("compress"), Some(Val::Bare | Val::Text(_))) {
        a.push("--compress".into());
        notes.push(
            "--compress: files are compressed with zstd (X.zst), not QuickLZ (X.qp); \
             decompress them with --decompress or zstd -d"
                .into(),
        );
    }
    if let Some(p) = s.text("port").filter(|p| *p != "0") {
        a.push(format!("--port={p}"));
    }
    if let Some(p) = s.text("protocol") {
        let p = p.to_ascii_lowercase();
        if p != "tcp" && p != "socket" {
            return Err(Failure::fatal(format!(
                "--protocol={p}: xb connects with tcp or socket only"
            )));
        }
        a.push(format!("--protocol={p}"));
    }
    Ok(a)
}

/// Whether `xb prepare` takes `--export` (the `.cfg` files for IMPORT TABLESPACE).
fn prepare_exports() -> bool {
    Xb::command()
        .find_subcommand("prepare")
        .is_some_and(|c| c.get_arguments().any(|a| a.get_id() == "export"))
}

/// `xb prepare`'s command line: one incremental at a time onto the target, then the redo
/// log applied, as mariabackup's prepare leaves a backup ready to start.
pub fn prepare_args(s: &Settings) -> Result<Vec<String>, Failure> {
    let mut a = vec![
        "xb".to_string(),
        "prepare".into(),
        format!("--target-dir={}", target(s)),
    ];
    mapped(s, P, &["target-dir"], &mut a);
    a.push("--apply-redo".into());
    if s.on("export") {
        if !prepare_exports() {
            return Err(Failure::fatal(
                "--export: this xb prepare does not write the .cfg files of IMPORT TABLESPACE",
            ));
        }
        a.push("--export".into());
    }
    Ok(a)
}

/// `xb copy-back`'s command line (`--move-back` too).
pub fn copy_back_args(s: &Settings, move_back: bool) -> Result<Vec<String>, Failure> {
    if s.text("datadir").is_none() {
        return Err(Failure::fatal(
            "mariabackup: Error: Please set parameter 'datadir' (--datadir, -h, or datadir in \
             the [mysqld] group of an option file)",
        ));
    }
    let mut a = vec![
        "xb".to_string(),
        "copy-back".into(),
        format!("--target-dir={}", target(s)),
    ];
    mapped(s, C, &["target-dir"], &mut a);
    if move_back {
        a.push("--move-back".into());
    }
    Ok(a)
}

/// `xb decompress`'s command line.
pub fn decompress_args(s: &Settings) -> Vec<String> {
    let mut a = vec!["xb".to_string(), "decompress".into()];
    mapped(s, D, &["target-dir"], &mut a);
    a.push("--".into());
    a.push(target(s));
    a
}

/// Parses `args` as xb's command line and runs the command.
fn run_xb(args: &[String]) -> Result<Outcome, Failure> {
    let xb = Xb::try_parse_from(args).map_err(|e| {
        let text = e.to_string();
        let first = text
            .lines()
            .next()
            .unwrap_or_default()
            .trim_start_matches("error: ");
        Failure::fatal(format!("{first} (xb {})", args[1..].join(" ")))
    })?;
    let result = match xb.command {
        Sub::Backup(a) => cmd::backup::run(*a),
        Sub::Prepare(a) => cmd::prepare::run(a),
        Sub::CopyBack(a) => cmd::copy_back::run(a),
        Sub::Decompress(a) => cmd::decompress::run(a),
    };
    match result {
        Ok(0) => Ok(Outcome::Completed),
        Ok(code) => Err(Failure::fatal(format!(
            "xb {} ended with status {code} (see above)",
            args[1]
        ))),
        Err(e) => Err(Failure::fatal(crate::one_line(&e))),
    }
}

/// The xb command line for the mode.
pub fn xb_args(
    prog: &str,
    m: Mode,
    s: &Settings,
    l: &Leading,
    notes: &mut Vec<String>,
) -> Result<Vec<String>, Failure> {
    match m {
        Mode::Backup => backup_args(prog, s, l, notes),
        Mode::Prepare => prepare_args(s),
        Mode::CopyBack => copy_back_args(s, false),
        Mode::MoveBack => copy_back_args(s, true),
        Mode::Decompress => Ok(decompress_args(s)),
    }
}

/// Runs the mode the settings ask for.
pub fn run(prog: &str, s: &Settings, l: &Leading) -> Result<Outcome, Failure> {
    let m = mode(s)?;
    let mut notes = check_statuses(s)?;
    if m != Mode::Backup && s.get("stream").is_some() {
        notes.push("--stream is ignored: it only works together with --backup".into());
    }
    let args = xb_args(prog, m, s, l, &mut notes)?;
    if !(m == Mode::Backup && s.get("stream").is_some()) {
        // mariabackup writes nothing but a stream on standard output (scripts and mtr's
        // result files hold it): xb's summaries go to standard error
        // SAFETY: dup2 on the process's own standard descriptors.
        #[allow(unsafe_code)]
        unsafe {
            libc::dup2(2, 1);
        }
    }
    for n in notes {
        crate::ui::note(n);
    }
    run_xb(&args)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(a: &[&str]) -> Settings {
        let mut s = Settings::default();
        let v: Vec<String> = a.iter().map(|x| x.to_string()).collect();
        s.apply_command_line(&v).unwrap();
        s
    }

    #[test]
    fn regexes_as_globs() {
        assert_eq!(regex_to_glob("db1.t1").as_deref(), Some("*db1?t1*"));
        assert_eq!(regex_to_glob("^db1[.]t1$"), None);
        assert_eq!(regex_to_glob("^db1\\.t.*$").as_deref(), Some("db1.t*"));
        assert_eq!(regex_to_glob("^test.t$").as_deref(), Some("test?t"));
        assert_eq!(regex_to_glob("^(a|b)\\.t$"), None);
        assert_eq!(regex_to_glob("a\\wb"), None);
    }

    #[test]
    fn the_xb_command_lines() {
        let l = Leading::default();
        let s = settings(&[
            "--backup",
            "--target-dir=/t",
            "-uroot",
            "-psecret",
            "-S",
            "/s.sock",
            "--parallel=4",
            "--throttle=2",
            "--tables=^db\\.t.*$",
            "--kill-long-query-type=ALL",
            "--port=0",
            "--use-memory=1G",
            "--history=h",
        ]);
        let mut notes = vec![];
        let a = xb_args("mariabackup", mode(&s).unwrap(), &s, &l, &mut notes).unwrap();
        for want in [
            "--target-dir=/t",
            "--user=root",
            "--password=secret",
            "--socket=/s.sock",
            "--parallel=4",
            "--throttle=20",
            "--tables=db.t*",
            "--kill-long-query-type=all",
            "--history=h",
        ] {
            assert!(a.iter().any(|x| x == want), "{want} not in {a:?}");
        }
        assert!(!a.iter().any(|x| x.starts_with("--port")));
        assert!(Xb::try_parse_from(&a).is_ok(), "{a:?}");
        assert!(check_statuses(&s).unwrap()[0].contains("--use-memory ignored"));
        // prepare: the staged form, redo applied
        let s = settings(&["--prepare", "--target-dir", "/f", "--incremental-dir=/i"]);
        let a = xb_args("mariabackup", mode(&s).unwrap(), &s, &l, &mut notes).unwrap();
        assert_eq!(
            a,
            [
                "xb",
                "prepare",
                "--target-dir=/f",
                "--incremental-dir=/i",
                "--apply-redo"
            ]
        );
        assert!(Xb::try_parse_from(&a).is_ok());
        // copy-back needs a datadir
        let s = settings(&["--copy-back", "--target-dir=/f"]);
        let e = xb_args("mariabackup", mode(&s).unwrap(), &s, &l, &mut notes).unwrap_err();
        assert!(e.message.contains("datadir"));
        let s = settings(&["--move-back", "--target-dir=/f", "-h", "/d", "--parallel=3"]);
        let a = xb_args("mariabackup", mode(&s).unwrap(), &s, &l, &mut notes).unwrap();
        assert!(Xb::try_parse_from(&a).is_ok(), "{a:?}");
        assert!(a.contains(&"--move-back".to_string()) && a.contains(&"--datadir=/d".into()));
    }

    #[test]
    fn refusals_and_modes() {
        let e = check_statuses(&settings(&["--backup", "--rocksdb-backup"])).unwrap_err();
        assert!(e.message.contains("MyRocks"));
        assert!(check_statuses(&settings(&["--backup", "--skip-rocksdb-backup"])).is_ok());
        assert!(check_statuses(&settings(&["--backup", "--innodb-force-recovery=0"])).is_ok());
        let ahead = |v: &str| {
            check_statuses(&settings(&[
                "--backup",
                &format!("--innodb-log-write-ahead-size={v}"),
            ]))
        };
        assert!(ahead("4095").is_err());
        assert!(ahead("10000").is_ok() && ahead("512").is_ok());
        assert!(mode(&settings(&["--backup", "--prepare"])).is_err());
        assert!(mode(&settings(&["--target-dir=/x"])).is_err());
        let s = settings(&["--backup", "--stream=tar"]);
        let e = xb_args(
            "mariabackup",
            Mode::Backup,
            &s,
            &Leading::default(),
            &mut vec![],
        )
        .unwrap_err();
        assert!(e.message.contains("Invalid --stream"));
        let s = settings(&["--backup", "--tables=^(a|b)$"]);
        assert!(xb_args(
            "mariabackup",
            Mode::Backup,
            &s,
            &Leading::default(),
            &mut vec![]
        )
        .is_err());
    }
}
