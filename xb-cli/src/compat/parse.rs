//! mariabackup's command line and option-file entries into settings, by MariaDB's rules
//! (mysys/my_getopt.c): `--opt=value`, `--opt value` for an option that takes a value, `-cV`
//! or `-c V`, `-p` alone, `_` as `-`, `--skip-`/`--disable-`/`--enable-` for booleans,
//! `--loose-` (an unknown one is skipped), the last setting wins; no abbreviations.

use std::collections::BTreeMap;

use super::options::{self, Class, Opt, Takes};
use super::{values, Failure};

/// An option's value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Val {
    /// A boolean set on.
    On,
    /// A boolean set off (or a value option skipped).
    Off,
    /// An optional value left out (`--history`, `-p`).
    Bare,
    /// A value.
    Text(String),
}

/// Where a setting came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A server group of an option file.
    ServerGroup,
    /// A client group.
    ClientGroup,
    /// One of mariabackup's groups.
    BackupGroup,
    /// The command line.
    CommandLine,
    /// After `--mysqld-args`.
    MysqldArgs,
}

impl Origin {
    /// Given by the user for mariabackup (not a server's or client's setting it shares).
    pub fn for_mariabackup(self) -> bool {
        matches!(self, Origin::BackupGroup | Origin::CommandLine)
    }
}

/// What to do with an option mariabackup does not know.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Unknown {
    /// Skip it (the server and client groups, `--mysqld-args`).
    Skip,
    /// An error (`unknown variable` in mariabackup's groups).
    FileError,
    /// An error (`unknown option` on the command line).
    Error,
}

/// The settings, last one winning.
#[derive(Debug, Default)]
pub struct Settings {
    /// By option name.
    pub values: BTreeMap<&'static str, (Val, Origin)>,
    /// Warnings to print (unknown `--loose-` options).
    pub warnings: Vec<String>,
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "on" | "true" | "yes" => Some(true),
        "0" | "off" | "false" | "no" => Some(false),
        _ => None,
    }
}

/// A name without its `loose-` prefix and its `skip-`/`disable-`/`enable-` prefix: (loose,
/// forced boolean, the option's name).
pub fn split_prefixes(name: &str) -> (bool, Option<bool>, String) {
    // my_getopt compares option names without regard to case
    let name = name.replace('_', "-").to_ascii_lowercase();
    let (loose, name) = match name.strip_prefix("loose-") {
        Some(n) => (true, n.to_string()),
        None => (false, name),
    };
    for (p, state) in [("skip-", false), ("disable-", false), ("enable-", true)] {
        if let Some(n) = name.strip_prefix(p)
            && (options::by_name(n).is_some() || options::by_name(&name).is_none())
        {
            return (loose, Some(state), n.to_string());
        }
    }
    (loose, None, name)
}

impl Settings {
    /// The setting of option `name`.
    pub fn get(&self, name: &str) -> Option<&Val> {
        self.values.get(name).map(|(v, _)| v)
    }

    /// The value of option `name` when it has one.
    pub fn text(&self, name: &str) -> Option<&str> {
        match self.get(name) {
            Some(Val::Text(t)) => Some(t),
            _ => None,
        }
    }

    /// Whether boolean option `name` is on.
    pub fn on(&self, name: &str) -> bool {
        matches!(self.get(name), Some(Val::On))
    }

    /// Option files' entries (names with `_`, `""` for a bare name) of one set of groups:
    /// only options of `class` are known there (`None`: all).
    pub fn apply_entries(
        &mut self,
        entries: &[(String, String)],
        class: Option<Class>,
        origin: Origin,
        unknown: Unknown,
    ) -> Result<(), Failure> {
        for (name, value) in entries {
            // `name=` is an empty value for an option that takes one (an empty password, not
            // a prompt); a bare `name` is a boolean set, or an optional value left out
            let (_, _, n) = split_prefixes(name);
            let empty_value = options::by_name(&n)
                .is_some_and(|o| o.takes == Takes::Value || o.name == "password");
            let v = (!value.is_empty() || empty_value).then_some(value.as_str());
            self.set(name, v, class, origin, unknown)?;
        }
        Ok(())
    }

    /// Sets option `raw` (as written, without `--`) to `value`.
    pub fn set(
        &mut self,
        raw: &str,
        value: Option<&str>,
        class: Option<Class>,
        origin: Origin,
        unknown: Unknown,
    ) -> Result<(), Failure> {
        let (loose, forced, name) = split_prefixes(raw);
        let known = options::by_name(&name).filter(|o| class.is_none_or(|c| o.class == c));
        let Some(o) = known else {
            if unknown == Unknown::Skip {
                return Ok(());
            }
            if loose {
                if origin == Origin::CommandLine {
                    self.warnings.push(format!("unknown option '--{raw}'"));
                }
                return Ok(());
            }
            let shown = match value {
                Some(v) => format!("{raw}={v}"),
                None => raw.to_string(),
            };
            // as my_getopt: with a value it is an unknown variable (status 7)
            return Err(match (unknown, value) {
                (Unknown::FileError, _) | (_, Some(_)) => {
                    Failure::new(7, format!("unknown variable '{shown}'"))
                }
                _ => Failure::new(2, format!("unknown option '--{raw}'")),
            });
        };
        let val = match (o.takes, forced, value) {
            (Takes::Nothing, _, v) => {
                let b = match v {
                    None => true,
                    Some(t) => match parse_bool(t) {
                        Some(b) => b,
                        None => {
                            // as my_getopt: a warning, and the option is left as it was
                            self.warnings.push(format!(
                                "ignoring option '--{raw}' due to invalid value '{t}'"
                            ));
                            return Ok(());
                        }
                    },
                };
                // --skip-x=0 is on, as in MariaDB
                if b == forced.unwrap_or(true) {
                    Val::On
                } else {
                    Val::Off
                }
            }
            (_, Some(false), _) => Val::Off,
            (_, Some(true), _) => {
                return Err(Failure::new(
                    2,
                    format!("unknown option '--{raw}' (--enable- is for booleans)"),
                ))
            }
            (Takes::Value, None, None) => {
                return Err(Failure::new(
                    5,
                    format!("option '--{}' requires an argument", o.name),
                ))
            }
            (Takes::Optional, None, None) => Val::Bare,
            (_, None, Some(v)) => {
                values::check(o.name, v)?;
                Val::Text(v.to_string())
            }
        };
        self.values.insert(o.name, (val, origin));
        Ok(())
    }

    /// The command line after the option-file options: options, each set in turn; after
    /// `--mysqld-args`, server options, the unknown ones skipped.
    pub fn apply_command_line(&mut self, args: &[String]) -> Result<(), Failure> {
        let mut i = 0;
        let mut origin = Origin::CommandLine;
        let mut unknown = Unknown::Error;
        let mut class = None;
        while i < args.len() {
            let a = &args[i];
            i += 1;
            if a == "--mysqld-args" {
                origin = Origin::MysqldArgs;
                unknown = Unknown::Skip;
                class = Some(Class::Server);
                continue;
            }
            if let Some(body) = a.strip_prefix("--") {
                if body.is_empty() {
                    continue;
                }
                let (name, value) = match body.split_once('=') {
                    Some((n, v)) => (n, Some(v)),
                    None => (body, None),
                };
                let norm = name.replace('_', "-");
                if norm == "defaults-file" || norm == "defaults-extra-file" {
                    return Err(Failure::new(
                        1,
                        format!("--{norm} must be specified first on the command line"),
                    ));
                }
                if matches!(
                    norm.as_str(),
                    "no-defaults" | "print-defaults" | "defaults-group-suffix"
                ) {
                    continue; // only read at the start of the line
                }
                let (_, forced, n) = split_prefixes(name);
                let takes_next = value.is_none()
                    && forced.is_none()
                    && options::by_name(&n).is_some_and(|o: &Opt| o.takes == Takes::Value);
                let value = if takes_next && i < args.len() {
                    i += 1;
                    Some(args[i - 1].as_str())
                } else {
                    value
                };
                self.set(name, value, class, origin, unknown)?;
                continue;
            }
            if a.len() > 1 && a.starts_with('-') {
                let chars: Vec<char> = a[1..].chars().collect();
                let mut k = 0;
                while k < chars.len() {
                    let c = chars[k];
                    k += 1;
                    let Some(o) = options::by_short(c) else {
                        if unknown == Unknown::Skip {
                            break;
                        }
                        return Err(Failure::new(2, format!("unknown option '-{c}'")));
                    };
                    let rest: String = chars[k..].iter().collect();
                    let value = match o.takes {
                        Takes::Nothing => None,
                        Takes::Optional => (!rest.is_empty()).then_some(rest),
                        Takes::Value if !rest.is_empty() => Some(rest),
                        Takes::Value if i < args.len() => {
                            i += 1;
                            Some(args[i - 1].clone())
                        }
                        Takes::Value => {
                            return Err(Failure::new(
                                5,
                                format!("option '-{c}' requires an argument"),
                            ))
                        }
                    };
                    let stop = value.is_some() || o.takes != Takes::Nothing;
                    self.set(o.name, value.as_deref(), class, origin, unknown)?;
                    if stop {
                        break;
                    }
                }
                continue;
            }
            if origin == Origin::MysqldArgs {
                continue;
            }
            return Err(Failure::new(1, format!("Error: unknown argument: '{a}'")));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cl(a: &[&str]) -> Result<Settings, Failure> {
        let mut s = Settings::default();
        let v: Vec<String> = a.iter().map(|x| x.to_string()).collect();
        s.apply_command_line(&v)?;
        Ok(s)
    }

    #[test]
    fn argument_forms() {
        let s = cl(&[
            "--backup",
            "--target-dir",
            "/t",
            "--incremental_basedir=/b",
            "-uroot",
            "-H",
            "h1",
            "-h/data",
            "--parallel=3",
            "--history",
            "--skip-no-lock",
            "--enable-galera-info",
            "--slave_info=OFF",
            "--loose-no-such-thing=1",
        ])
        .unwrap();
        assert!(s.on("backup"));
        assert_eq!(s.text("target-dir"), Some("/t"));
        assert_eq!(s.text("incremental-basedir"), Some("/b"));
        assert_eq!(s.text("user"), Some("root"));
        assert_eq!(s.text("host"), Some("h1"));
        assert_eq!(s.text("datadir"), Some("/data"));
        assert_eq!(s.text("parallel"), Some("3"));
        assert_eq!(s.get("history"), Some(&Val::Bare));
        assert_eq!(s.get("no-lock"), Some(&Val::Off));
        assert!(s.on("galera-info"));
        assert_eq!(s.get("slave-info"), Some(&Val::Off));
        assert_eq!(s.warnings.len(), 1);
        // -pSECRET, combined short flags, the last setting wins
        let s = cl(&["-psecret", "-vV", "--parallel=2", "--parallel", "5"]).unwrap();
        assert_eq!(s.text("password"), Some("secret"));
        assert!(s.on("version") && s.on("verbose"));
        assert_eq!(s.text("parallel"), Some("5"));
        // mariabackup 10.11's password takes the next argument as its value
        let s = cl(&["--password", "xyz", "-p", "abc"]).unwrap();
        assert_eq!(s.text("password"), Some("abc"));
        let s = cl(&["--user", "backup", "--password", "xyz"]).unwrap();
        assert_eq!(s.text("password"), Some("xyz"));
        // an optional value is never taken from the next argument
        let s = cl(&["--history", "--backup"]).unwrap();
        assert_eq!(s.get("history"), Some(&Val::Bare));
        assert!(s.on("backup"));
    }

    #[test]
    fn errors_as_mariabackup() {
        let e = cl(&["--backup", "--bogus-opt"]).unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            (2, "unknown option '--bogus-opt'")
        );
        let e = cl(&["--skip-bogus"]).unwrap_err();
        assert_eq!(e.code, 2);
        let e = cl(&["--bogus=1"]).unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            (7, "unknown variable 'bogus=1'")
        );
        let e = cl(&["-u"]).unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            (5, "option '-u' requires an argument")
        );
        let e = cl(&["--target-dir"]).unwrap_err();
        assert_eq!(e.code, 5);
        let e = cl(&["--backup", "junk"]).unwrap_err();
        assert_eq!(e.code, 1);
        assert!(e.message.contains("unknown argument: 'junk'"));
        let e = cl(&["--backup", "--defaults-file=/x"]).unwrap_err();
        assert!(
            e.message.contains("must be specified first"),
            "{}",
            e.message
        );
        // a boolean's invalid value: a warning, the option ignored (my_getopt)
        let s = cl(&["--no-lock=maybe"]).unwrap();
        assert_eq!(s.get("no-lock"), None);
        assert_eq!(
            s.warnings,
            ["ignoring option '--no-lock' due to invalid value 'maybe'"]
        );
        // option names in any case; values checked by their kind
        let s = cl(&["--Prepare", "--TARGET_DIR=/t", "--Skip-No-Lock"]).unwrap();
        assert!(s.on("prepare"));
        assert_eq!(s.text("target-dir"), Some("/t"));
        assert_eq!(s.get("no-lock"), Some(&Val::Off));
        for (a, code) in [
            ("--parallel=abc", 9),
            ("--parallel=-1", 13),
            ("--innodb-flush-method=blablabla", 13),
            ("--innodb-flush-method=O_D", 3),
        ] {
            assert_eq!(cl(&[a]).unwrap_err().code, code, "{a}");
        }
        // a value option takes the next argument, even one that looks like an option
        assert_eq!(cl(&["--parallel", "--target-dir=/t"]).unwrap_err().code, 13);
        // later --no-defaults or --defaults-group-suffix: no effect, no error
        assert!(cl(&["--backup", "--no-defaults", "--defaults-group-suffix=.1"]).is_ok());
    }

    #[test]
    fn mysqld_args_skip_unknown() {
        let s = cl(&[
            "--backup",
            "--mysqld-args",
            "--innodb-page-size=4096",
            "--whatever=1",
            "-h",
            "/d",
            "--user=x",
        ])
        .unwrap();
        assert_eq!(s.text("innodb-page-size"), Some("4096"));
        assert_eq!(s.text("datadir"), Some("/d"));
        // --user is a client option: not a server's
        assert_eq!(s.text("user"), None);
    }

    #[test]
    fn file_entries_by_class() {
        let mut s = Settings::default();
        let e = |a: &[(&str, &str)]| -> Vec<(String, String)> {
            a.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        // server groups: only server options; the others (and unknown ones) skipped
        s.apply_entries(
            &e(&[
                ("datadir", "/a"),
                ("user", "mysql"),
                ("port", "3306"),
                ("foo", "1"),
            ]),
            Some(Class::Server),
            Origin::ServerGroup,
            Unknown::Skip,
        )
        .unwrap();
        assert_eq!(s.text("datadir"), Some("/a"));
        assert_eq!(s.text("user"), None);
        s.apply_entries(
            &e(&[("user", "u"), ("datadir", "/no")]),
            Some(Class::Client),
            Origin::ClientGroup,
            Unknown::Skip,
        )
        .unwrap();
        assert_eq!(s.text("user"), Some("u"));
        assert_eq!(s.text("datadir"), Some("/a"));
        // mariabackup's groups: everything, and an unknown variable is an error
        s.apply_entries(
            &e(&[
                ("user", "bk"),
                ("loose_nothing", "1"),
                ("skip_galera_info", ""),
            ]),
            None,
            Origin::BackupGroup,
            Unknown::FileError,
        )
        .unwrap();
        assert_eq!(s.text("user"), Some("bk"));
        // an empty password in a file is an empty password, not a prompt
        s.apply_entries(
            &e(&[("password", "")]),
            None,
            Origin::BackupGroup,
            Unknown::FileError,
        )
        .unwrap();
        assert_eq!(s.text("password"), Some(""));
        let err = s
            .apply_entries(
                &e(&[("bogus", "1")]),
                None,
                Origin::BackupGroup,
                Unknown::FileError,
            )
            .unwrap_err();
        assert_eq!(
            (err.code, err.message.as_str()),
            (7, "unknown variable 'bogus=1'")
        );
        // the command line wins over the files
        s.apply_command_line(&["--user=cl".to_string()]).unwrap();
        assert_eq!(s.text("user"), Some("cl"));
    }
}
