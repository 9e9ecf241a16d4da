//! mariabackup's innobackupex mode (`mariabackup --innobackupex ...`, the old Perl script's
//! command line), as mariabackup 10.11 takes it (extra/mariabackup/innobackupex.cc): translated
//! into mariabackup's own command line, which the front end then runs as usual.
//!
//! - The mode is `--apply-log`, `--copy-back`, `--move-back` or `--decompress` (the first of
//!   these given, in this order), else a backup.
//! - One argument that is not an option is the directory: the backup's, or for a backup the
//!   root under which a subdirectory named by the time (`YYYY-MM-DD_HH-MM-SS`) is made, unless
//!   `--no-timestamp` or `--stream` is given. It replaces any `--target-dir`. None: "Missing
//!   argument"; two: "extra argument found"; both end with status 1.
//! - `--incremental` must come with `--incremental-basedir`, `--incremental-lsn`,
//!   `--incremental-history-name` or `--incremental-history-uuid` (status 1 otherwise).
//! - `--include=REGEX` is `--tables`; `--databases` is `--databases-file` when it starts with
//!   `/`.
//! - Every other option is mariabackup's own (`--user`, `--password`, `--parallel`,
//!   `--export`, `--incremental-dir`, `--stream`, ...). mariabackup 10.11 has no
//!   `--redo-only` (unknown option, status 2). The option files and groups are mariabackup's
//!   (there is no `[innobackupex]` group).
//!
//! mariabackup makes the backup's directory before anything else; so does this.

use std::path::PathBuf;

use super::options::{self, Takes};
use super::parse::split_prefixes;
use super::Failure;

/// The first argument that selects the mode.
pub const FLAG: &str = "--innobackupex";

/// The innobackupex command line as mariabackup's.
#[derive(Debug, PartialEq, Eq)]
pub struct Translated {
    /// mariabackup's arguments (the leading option-file options first, as given).
    pub args: Vec<String>,
    /// The directory a backup goes to (to be made before the run).
    pub make_dir: Option<PathBuf>,
}

/// The innobackupex-only options: (name, takes a value).
const OWN: &[(&str, bool)] = &[
    ("apply-log", false),
    ("copy-back", false),
    ("move-back", false),
    ("decompress", false),
    ("incremental", false),
    ("no-timestamp", false),
    ("include", true),
    ("databases", true),
];

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "on" | "true" | "yes" => Some(true),
        "0" | "off" | "false" | "no" => Some(false),
        _ => None,
    }
}

/// Translates `args` (after `--innobackupex`; `leading` of them are the option-file options
/// at the start); `stamp` gives the time as a subdirectory name.
pub fn translate(
    args: &[String],
    leading: usize,
    stamp: impl Fn() -> String,
) -> Result<Translated, Failure> {
    let mut out: Vec<String> = args[..leading].to_vec();
    let mut flags: Vec<&str> = Vec::new();
    let mut values: Vec<(&str, String)> = Vec::new();
    let mut positional: Vec<String> = Vec::new();
    let mut incremental_sources = Vec::new();
    let mut stream = false;
    let mut tail: Vec<String> = Vec::new();
    let mut i = leading;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if a == "--mysqld-args" {
            tail = args[i - 1..].to_vec();
            break;
        }
        if let Some(body) = a.strip_prefix("--") {
            let (raw, value) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (body, None),
            };
            let (_, forced, name) = split_prefixes(raw);
            if name == "password" && value.is_none() && forced.is_none() && i < args.len() {
                // innobackupex's --password takes a value (mariabackup's: optional)
                out.push(format!("--password={}", args[i]));
                i += 1;
                continue;
            }
            if let Some(&(own, takes)) = OWN.iter().find(|(n, _)| *n == name) {
                if takes {
                    let v = match value {
                        Some(v) => v.to_string(),
                        None if i < args.len() => {
                            i += 1;
                            args[i - 1].clone()
                        }
                        None => {
                            return Err(Failure::new(
                                1,
                                format!("option '--{own}' requires an argument"),
                            ))
                        }
                    };
                    values.retain(|(n, _)| *n != own);
                    values.push((own, v));
                } else {
                    let on = match value.map(parse_bool) {
                        None => true,
                        Some(Some(b)) => b,
                        Some(None) => continue, // ignored, as my_getopt does
                    } == forced.unwrap_or(true);
                    flags.retain(|n| *n != own);
                    if on {
                        flags.push(own);
                    }
                }
                continue;
            }
            let takes_next = value.is_none()
                && forced.is_none()
                && options::by_name(&name).is_some_and(|o| o.takes == Takes::Value);
            let next = (takes_next && i < args.len()).then(|| {
                i += 1;
                args[i - 1].clone()
            });
            if matches!(
                name.as_str(),
                "incremental-lsn"
                    | "incremental-basedir"
                    | "incremental-history-name"
                    | "incremental-history-uuid"
            ) {
                incremental_sources.push(name.clone());
            }
            if name == "stream" {
                stream = true;
            }
            if name == "target-dir" {
                continue; // the directory argument is the target
            }
            out.push(a.clone());
            out.extend(next);
            continue;
        }
        if a.len() == 2 && a.starts_with('-') {
            // -u NAME: the short option's value is the next argument
            out.push(a.clone());
            let c = a.chars().nth(1).unwrap_or('-');
            let takes = |o: &options::Opt| o.takes == Takes::Value || o.name == "password";
            if options::by_short(c).is_some_and(takes) && i < args.len() {
                out.push(args[i].clone());
                i += 1;
            }
            continue;
        }
        if a.starts_with('-') && a.len() > 2 {
            out.push(a.clone()); // -uroot, -pSECRET, combined flags
            continue;
        }
        positional.push(a.clone());
    }
    if positional.len() > 1 {
        return Err(Failure::new(
            1,
            positional[1..]
                .iter()
                .map(|p| format!("Error: extra argument found {p}"))
                .collect::<Vec<_>>()
                .join("\n"),
        ));
    }
    let Some(dir) = positional.pop() else {
        return Err(Failure::new(1, "Missing argument"));
    };
    let on = |f: &str| flags.contains(&f);
    if !on("incremental") && !incremental_sources.is_empty() {
        return Err(Failure::new(
            1,
            "Error: --incremental-lsn, --incremental-basedir, --incremental-history-name and \
             --incremental-history-uuid require the --incremental option.",
        ));
    }
    let mode = ["apply-log", "copy-back", "move-back", "decompress"]
        .into_iter()
        .find(|m| on(m));
    let mut own = Vec::new();
    let mut make_dir = None;
    let target = match mode {
        Some("apply-log") => {
            own.push("--prepare".to_string());
            dir
        }
        Some(m) => {
            own.push(format!("--{m}"));
            dir
        }
        None => {
            own.push("--backup".to_string());
            let d = if on("no-timestamp") || stream {
                dir
            } else {
                format!("{}/{}", dir.trim_end_matches('/'), stamp())
            };
            make_dir = Some(PathBuf::from(&d));
            d
        }
    };
    for (name, v) in values {
        match name {
            "include" => own.push(format!("--tables={v}")),
            _ if v.starts_with('/') => own.push(format!("--databases-file={v}")),
            _ => own.push(format!("--databases={v}")),
        }
    }
    own.push(format!("--target-dir={target}"));
    out.extend(own);
    out.extend(tail);
    Ok(Translated {
        args: out,
        make_dir,
    })
}

/// The time as innobackupex names a backup's subdirectory: `YYYY-MM-DD_HH-MM-SS`.
pub fn stamp() -> String {
    super::timestamp().replace(' ', "_").replace(':', "-")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(a: &[&str], leading: usize) -> Result<Translated, Failure> {
        let v: Vec<String> = a.iter().map(|s| s.to_string()).collect();
        translate(&v, leading, || "2026-12-07_05-00-00".to_string())
    }

    /// The seven innobackupex lines of MariaDB's mtr suite, and the other forms.
    #[test]
    fn command_lines_as_mariabackups() {
        let r = t(
            &["--defaults-file=/v/my.cnf", "--no-timestamp", "/v/tmp/b"],
            1,
        )
        .unwrap();
        assert_eq!(
            r.args,
            [
                "--defaults-file=/v/my.cnf",
                "--backup",
                "--target-dir=/v/tmp/b"
            ]
        );
        assert_eq!(r.make_dir, Some(PathBuf::from("/v/tmp/b")));
        let r = t(&["--Apply_log", "-u", "root", "/v/tmp/b"], 0).unwrap();
        assert_eq!(r.args, ["-u", "root", "--prepare", "--target-dir=/v/tmp/b"]);
        assert_eq!(r.make_dir, None);
        let r = t(
            &[
                "--defaults-file=/v/my.cnf",
                "--incremental",
                "--no-timestamp",
                "--incremental-basedir=/v/tmp/full",
                "/v/tmp/inc",
            ],
            1,
        )
        .unwrap();
        assert_eq!(
            r.args,
            [
                "--defaults-file=/v/my.cnf",
                "--incremental-basedir=/v/tmp/full",
                "--backup",
                "--target-dir=/v/tmp/inc"
            ]
        );
        let r = t(
            &[
                "--apply-log",
                "--incremental-dir",
                "/v/tmp/inc",
                "--innodb-force-recovery=1",
                "/v/tmp/full",
            ],
            0,
        )
        .unwrap();
        assert_eq!(
            r.args,
            [
                "--incremental-dir",
                "/v/tmp/inc",
                "--innodb-force-recovery=1",
                "--prepare",
                "--target-dir=/v/tmp/full"
            ]
        );
        // the timestamped subdirectory; --stream needs none
        let r = t(&["--user=u", "/root/"], 0).unwrap();
        assert_eq!(
            r.args,
            [
                "--user=u",
                "--backup",
                "--target-dir=/root/2026-12-07_05-00-00"
            ]
        );
        let r = t(&["--stream=xbstream", "/root"], 0).unwrap();
        assert_eq!(r.make_dir, Some(PathBuf::from("/root")));
        // the other modes, --include, --databases, the positional over --target-dir
        let r = t(
            &[
                "--copy-back",
                "--target-dir=/x",
                "/b",
                "--mysqld-args",
                "--y=1",
                "z",
            ],
            0,
        )
        .unwrap();
        assert_eq!(
            r.args,
            [
                "--copy-back",
                "--target-dir=/b",
                "--mysqld-args",
                "--y=1",
                "z"
            ]
        );
        let r = t(&["--move-back", "--decompress", "/b"], 0).unwrap();
        assert_eq!(r.args, ["--move-back", "--target-dir=/b"]);
        let r = t(
            &[
                "--include=^db\\.t",
                "--databases",
                "/list",
                "--no-timestamp",
                "/b",
            ],
            0,
        )
        .unwrap();
        assert_eq!(
            r.args,
            [
                "--backup",
                "--tables=^db\\.t",
                "--databases-file=/list",
                "--target-dir=/b"
            ]
        );
        let r = t(&["--databases=db1 db2.t", "--no-timestamp", "/b"], 0).unwrap();
        assert!(r.args.contains(&"--databases=db1 db2.t".to_string()));
    }

    #[test]
    fn errors_as_mariabackups() {
        let e = t(&["--no-timestamp"], 0).unwrap_err();
        assert_eq!((e.code, e.message.as_str()), (1, "Missing argument"));
        let e = t(&["--no-timestamp", "a", "b"], 0).unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            (1, "Error: extra argument found b")
        );
        let e = t(&["--incremental-basedir=/a", "/b"], 0).unwrap_err();
        assert_eq!(e.code, 1);
        assert!(e.message.contains("require the --incremental option"));
        // --redo-only is no option of mariabackup 10.11: left for the parser (status 2)
        let r = t(&["--apply-log", "--redo-only", "/b"], 0).unwrap();
        assert_eq!(r.args, ["--redo-only", "--prepare", "--target-dir=/b"]);
    }
}
