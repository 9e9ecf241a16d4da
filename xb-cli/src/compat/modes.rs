//! mariabackup's modes as xb's commands: the settings become an xb command line, parsed by
//! that command's own arguments and run by its own `run`.

use clap::{CommandFactory, Parser, Subcommand};

use super::defaults::Leading;
use super::options::{self, Status, B, C, D, P};
use super::parse::{Origin, Settings, Val};
use super::{values, Failure, Outcome};
use crate::cmd;
use incremental_core::backup::{BackupOptions, BackupReport, ReplicaPosition};
use incremental_core::prepare::apply_redo::ApplyRedoReport;

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

/// The TLS options that turn TLS on (as the MariaDB clients' `--ssl-*` options do) unless
/// `--skip-ssl` is given.
const TLS_IMPLYING: &[&str] = &[
    "ssl-ca",
    "ssl-capath",
    "ssl-cert",
    "ssl-key",
    "ssl-cipher",
    "ssl-crl",
    "ssl-crlpath",
    "tls-version",
    "ssl-verify-server-cert",
];

/// True when the connection is to use TLS: `--ssl`, or one of the options implying it without
/// `--skip-ssl`.
fn tls_on(s: &Settings) -> bool {
    match s.get("ssl") {
        Some(Val::Off) => false,
        Some(v) if enabled(v) => true,
        Some(_) => false,
        None => TLS_IMPLYING.iter().any(|o| s.get(o).is_some_and(enabled)),
    }
}

/// Refuses what xb cannot do, and notes what it ignores (given for mariabackup: on the
/// command line or in its groups).
pub fn check_statuses(s: &Settings) -> Result<Vec<String>, Failure> {
    let mut notes = Vec::new();
    if let Some(v) = s.text("innodb-log-write-ahead-size") {
        // mariabackup checks it as the server does: a power of 2 (out of range: clamped)
        let n = values::unsigned("innodb-log-write-ahead-size", v).clamp(512, 4096);
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
        if *name == FORCE_RECOVERY {
            continue; // force_recovery() decides, by mode
        }
        match o.status {
            // a TLS setting without TLS (--skip-ssl) changes nothing
            Status::Refused(why) if enabled(v) && (!TLS_IMPLYING.contains(name) || tls_on(s)) => {
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

/// `--innodb-force-recovery`: mariabackup's embedded InnoDB setting for `--prepare`.
const FORCE_RECOVERY: &str = "innodb-force-recovery";

/// `--innodb-force-recovery` (from any option group or the command line), as mariabackup
/// takes it: at most 1 (a larger value adjusted, with a warning); refused for a backup (status
/// 1, naming the mode it is for: `--apply-log` in the innobackupex mode); with `--prepare`
/// reported (xb's apply step already runs InnoDB with `innodb_force_recovery=3`, going past
/// corrupt pages, and fails when InnoDB logged an error: mariabackup's prepare fails then too).
/// Returns the lines to print.
pub fn force_recovery(s: &Settings, m: Mode, ibx: bool) -> Result<Vec<String>, Failure> {
    let n = match s.get(FORCE_RECOVERY) {
        Some(Val::Text(v)) => values::unsigned(FORCE_RECOVERY, v),
        Some(Val::Bare | Val::On) => 1,
        _ => 0,
    };
    let mut lines = Vec::new();
    if n > 1 {
        lines.push(format!(
            "Warning: option 'innodb_force_recovery': unsigned value {n} adjusted to 1"
        ));
    }
    let n = n.min(1);
    match m {
        Mode::Backup if n > 0 => Err(Failure::new(
            1,
            format!(
                "The option \"innodb_force_recovery\" should only be used with \"{}\".",
                if ibx { "--apply-log" } else { "--prepare" }
            ),
        )),
        Mode::Prepare if n > 0 => {
            lines.push(format!(
                "innodb_force_recovery = {n} (xb's apply step runs InnoDB with \
                 innodb_force_recovery=3 anyway, and fails when it logs an error)"
            ));
            Ok(lines)
        }
        _ => Ok(lines),
    }
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
        "check-privileges",
        "ssl",
        "ssl-ca",
        "ssl-cert",
        "ssl-key",
        "ssl-verify-server-cert",
        "socket",
    ];
    mapped(s, B, &special, &mut a);
    let tls = tls_on(s);
    // xb's TLS goes over TCP only: a socket (or the socket protocol) of an option file is
    // then passed over (xb connects to the host and port), one given on the command line is
    // refused by xb
    let given = |o: &str| {
        !tls || s
            .values
            .get(o)
            .is_some_and(|(_, origin)| *origin == Origin::CommandLine)
    };
    if let Some(v) = s
        .text("socket")
        .filter(|v| !v.is_empty() && given("socket"))
    {
        a.push(format!("--socket={v}"));
    }
    if tls {
        a.push("--ssl".into());
        for o in ["ssl-ca", "ssl-cert", "ssl-key"] {
            if let Some(v) = s.text(o).filter(|v| !v.is_empty()) {
                a.push(format!("--{o}={v}"));
            }
        }
        if s.get("ssl-verify-server-cert").is_some_and(enabled) {
            a.push("--ssl-verify-server-cert".into());
        }
    }
    if s.text("incremental-basedir").is_some() {
        // mariabackup takes an incremental of a partial base unasked
        a.push("--accept-partial-base".into());
    }
    // mariabackup checks privileges unless --skip-check-privileges, with its own rules
    match s.get("check-privileges") {
        Some(Val::Off) => a.push("--check-privileges=off".into()),
        _ => a.push("--check-privileges=mariabackup".into()),
    }
    // mariabackup's --no-lock backup succeeds whatever was written during it
    if s.on("no-lock") {
        a.push("--no-lock-accept-writes".into());
    }
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
        if p != "socket" || given("protocol") {
            a.push(format!("--protocol={p}"));
        }
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
    // mariabackup merges into a partial backup (and merges partial incrementals) unasked
    a.push("--accept-partial".into());
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

/// Whether mariabackup's `--decompress` takes a `.qp` file of this name (relative to the
/// target): it hands the name to `qpress` through a shell, and refuses any other character
/// than these (mariabackup 10.11.19, tried by hand).
fn qp_name_allowed(rel: &str) -> bool {
    rel.chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_.#@/".contains(c))
}

/// `--decompress`: the first `.qp` file whose name mariabackup refuses ends the run as
/// mariabackup's does (its three lines, status 1); xb does not read QuickLZ files at all, so
/// the others are refused by `xb decompress`.
fn check_qp_names(dir: &std::path::Path) -> Result<(), Failure> {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        let mut entries: Vec<_> = rd.filter_map(Result::ok).map(|e| e.path()).collect();
        entries.sort();
        for p in entries {
            if p.is_dir() && !p.is_symlink() {
                walk(&p, out);
            } else if p.extension().is_some_and(|e| e == "qp") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(dir, &mut files);
    for f in files {
        let rel = f
            .strip_prefix(dir)
            .unwrap_or(&f)
            .to_string_lossy()
            .into_owned();
        if !qp_name_allowed(&rel) {
            let ts = super::timestamp();
            eprintln!("[01] {ts} decompressing ./{rel}\n");
            eprintln!("[01] {ts} Error: invalid file name\n");
            eprintln!("[00] {ts} Error: thread 0 failed.");
            return Err(Failure::new(1, ""));
        }
    }
    Ok(())
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
        Sub::Backup(a) => cmd::backup::run_with(*a, as_mariabackup, |r| {
            for line in report_lines(r) {
                eprintln!("[00] {} {line}", super::timestamp());
            }
        }),
        Sub::Prepare(a) => cmd::prepare::run_with(a, |r| {
            for line in prepare_lines(r) {
                eprintln!("[00] {} {line}", super::timestamp());
            }
        }),
        Sub::CopyBack(a) => cmd::copy_back::run(a),
        Sub::Decompress(a) => cmd::decompress::run(a),
    };
    match result {
        Ok(0) => Ok(Outcome::Completed),
        Ok(code) => Err(Failure::fatal(format!(
            "xb {} ended with status {code} (see above)",
            args[1]
        ))),
        Err(e) => Err(Failure::fatal(mariabackup_words(&e))),
    }
}

/// What mariabackup does otherwise than `xb backup`: `--extra-lsndir` gets only
/// `xtrabackup_checkpoints` and `xtrabackup_info` (no `xb_backup_info`).
fn as_mariabackup(o: &mut BackupOptions) {
    o.set_extra_lsndir_backup_info(false);
}

/// The lines mariabackup logs about what a backup recorded (its wording: scripts and tests
/// look for them), from xb's report.
pub fn report_lines(r: &BackupReport) -> Vec<String> {
    let mut out = Vec::new();
    match r.hot().and_then(|h| h.replica.as_ref()) {
        Some(ReplicaPosition::NotAReplica) => out.push(
            "Failed to get master binlog coordinates from SHOW SLAVE STATUS.This means that \
             the server is not a replication slave. Ignoring the --slave-info option"
                .to_string(),
        ),
        Some(ReplicaPosition::Recorded(position)) => {
            out.push(format!("MySQL slave binlog position: {position}"))
        }
        _ => {}
    }
    out
}

/// The lines mariabackup logs about what its prepare recovered (its wording: the `binlog` test
/// of its suite looks for the first), from xb's report of the redo step.
pub fn prepare_lines(r: &ApplyRedoReport) -> Vec<String> {
    r.binlog
        .iter()
        .map(|b| format!("Last binlog file {}, position {}", b.file, b.offset))
        .collect()
}

/// An error of the run in mariabackup's words where its tests look for them, else xb's line.
fn mariabackup_words(e: &anyhow::Error) -> String {
    use incremental_core::backup::BackupError;
    match e.downcast_ref::<BackupError>() {
        Some(BackupError::UndoTablespacesChanged { .. }) => format!(
            "--incremental backup is impossible if the server had been restarted with \
             different innodb_undo_tablespaces. ({})",
            crate::one_line(e)
        ),
        Some(BackupError::CorruptPage { page_no, .. }) => format!(
            "Database page corruption detected at page {page_no} ({})",
            crate::one_line(e)
        ),
        Some(BackupError::MissingPrivileges { missing, grants }) => {
            // mariabackup's lines: each privilege, then the grants numbered
            let mut lines: Vec<String> = missing
                .iter()
                .map(|m| {
                    let kind = if m.required { "Error" } else { "Warning" };
                    format!("{kind}: missing required privilege {} on *.*", m.privilege)
                })
                .collect();
            lines.push("Current privileges, as reported by 'SHOW GRANTS': ".into());
            for (i, g) in grants.iter().enumerate() {
                lines.push(format!("  {}.{g}", i + 1));
            }
            lines.join(&format!("\n[00] {} ", super::timestamp()))
        }
        _ => crate::one_line(e),
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

/// Runs the mode the settings ask for (`ibx`: given in mariabackup's innobackupex mode).
pub fn run(prog: &str, s: &Settings, l: &Leading, ibx: bool) -> Result<Outcome, Failure> {
    let m = mode(s)?;
    for line in force_recovery(s, m, ibx)? {
        eprintln!("[00] {} {line}", super::timestamp());
    }
    let mut notes = check_statuses(s)?;
    if m != Mode::Backup && s.get("stream").is_some() {
        notes.push("--stream is ignored: it only works together with --backup".into());
    }
    if m == Mode::Decompress {
        check_qp_names(std::path::Path::new(&target(s)))?;
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

    /// TLS: on with --ssl or an option implying it (not after --skip-ssl); a socket or the
    /// socket protocol of an option file is then not passed (xb goes over TCP), one of the
    /// command line is (and xb refuses it); what xb cannot do is refused only with TLS on.
    #[test]
    fn tls_options_as_mariabackup() {
        // the client groups of an option file, then the command line (as read)
        let with = |entries: &[(&str, &str)], line: &[&str]| {
            let mut s = Settings::default();
            let e: Vec<(String, String)> = entries
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            s.apply_entries(
                &e,
                Some(super::options::Class::Client),
                Origin::ClientGroup,
                super::super::parse::Unknown::Skip,
            )
            .unwrap();
            let v: Vec<String> = line.iter().map(|x| x.to_string()).collect();
            s.apply_command_line(&v).unwrap();
            s
        };
        let args = |s: &Settings| {
            backup_args("mariabackup", s, &Leading::default(), &mut Vec::new())
                .unwrap()
                .join(" ")
        };
        let file = [
            ("socket", "/f.sock"),
            ("port", "3310"),
            ("protocol", "socket"),
        ];
        let a = args(&with(&file, &["--backup", "--ssl"]));
        assert!(a.contains(" --ssl") && a.contains("--port=3310"), "{a}");
        assert!(!a.contains("--socket") && !a.contains("--protocol"), "{a}");
        let a = args(&with(&file, &["--backup"]));
        assert!(
            !a.contains("--ssl") && a.contains("--socket=/f.sock"),
            "{a}"
        );
        let a = args(&with(
            &file,
            &["--backup", "--socket=/c.sock", "--ssl-ca=/ca.pem"],
        ));
        assert!(
            a.contains(" --ssl ")
                && a.contains("--ssl-ca=/ca.pem")
                && a.contains("--socket=/c.sock"),
            "{a}"
        );
        let s = with(
            &[("socket", "/f.sock"), ("ssl-ca", "/ca.pem")],
            &["--backup", "--skip-ssl"],
        );
        let a = args(&s);
        assert!(
            !a.contains("--ssl") && a.contains("--socket=/f.sock"),
            "{a}"
        );
        // without TLS nothing of it is refused; with it, what xb cannot do is
        let s = with(&[("ssl-cipher", "AES128-SHA")], &["--backup", "--skip-ssl"]);
        assert!(check_statuses(&s).is_ok());
        let s = with(&[("ssl-cipher", "AES128-SHA")], &["--backup"]);
        assert!(check_statuses(&s).is_err());
        let s = with(&[], &["--backup", "--ssl", "--ssl-verify-server-cert"]);
        assert!(args(&s).contains("--ssl-verify-server-cert"));
    }

    #[test]
    fn qp_names_as_mariabackup() {
        for ok in ["db/t1.ibd.qp", "a-b_c.d#e@f.qp"] {
            assert!(qp_name_allowed(ok), "{ok}");
        }
        for bad in [
            "a;touch b.qp",
            "a b.qp",
            "a'b.qp",
            "a$b.qp",
            "a,b.qp",
            "\u{e9}.qp",
        ] {
            assert!(!qp_name_allowed(bad), "{bad}");
        }
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("db")).unwrap();
        std::fs::write(d.path().join("db/ok.qp"), "x").unwrap();
        assert!(check_qp_names(d.path()).is_ok());
        std::fs::write(d.path().join("db/a;touch b.qp"), "x").unwrap();
        let e = check_qp_names(d.path()).unwrap_err();
        assert_eq!((e.code, e.message.as_str()), (1, ""));
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
            "--ftwrl-wait-timeout=1",
            "--innodb_log_checkpoint_now=1",
            "--no-lock",
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
            "--start-lock-timeout=1",
            "--force-checkpoint",
            "--check-privileges=mariabackup",
            "--no-lock-accept-writes",
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
                "--apply-redo",
                "--accept-partial"
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
        // --innodb-force-recovery: for --prepare only, at most 1
        let fr = |a: &[&str], ibx| {
            let s = settings(a);
            force_recovery(&s, mode(&s).unwrap(), ibx)
        };
        let e = fr(&["--backup", "--innodb-force-recovery=1"], false).unwrap_err();
        assert_eq!(e.code, 1);
        assert!(
            e.message.contains("should only be used with \"--prepare\""),
            "{}",
            e.message
        );
        let e = fr(&["--backup", "--innodb-force-recovery"], true).unwrap_err();
        assert!(e.message.contains("\"--apply-log\""), "{}", e.message);
        assert!(fr(&["--backup", "--innodb-force-recovery=0"], false)
            .unwrap()
            .is_empty());
        let lines = fr(&["--prepare", "--innodb-force-recovery=2"], false).unwrap();
        assert!(lines[0].contains("value 2 adjusted to 1"), "{lines:?}");
        assert!(
            lines[1].starts_with("innodb_force_recovery = 1"),
            "{lines:?}"
        );
        assert!(fr(&["--prepare", "--innodb-force-recovery=0"], false)
            .unwrap()
            .is_empty());
        assert!(fr(&["--copy-back", "--innodb-force-recovery=1"], false)
            .unwrap()
            .is_empty());
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
