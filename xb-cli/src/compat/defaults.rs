//! Which option files and groups mariabackup reads, by MariaDB's rules (mysys/my_default.c
//! and mariabackup's `handle_options`): the options that choose the files come first on the
//! command line; three sets of groups are read, each also with the group suffix.

use std::path::{Path, PathBuf};

use incremental_core::format::option_file::OptionFiles;

use super::Failure;

/// The server groups: their server options (datadir, innodb_*) apply.
pub use incremental_core::key_options::SERVER_GROUPS;
/// The client groups: their client options (user, password, socket, ...) apply.
pub const CLIENT_GROUPS: &[&str] = &["client", "client-server", "client-mariadb"];
/// mariabackup's own groups: every option applies, and an unknown one is an error.
pub const BACKUP_GROUPS: &[&str] = &["xtrabackup", "mariabackup", "mariadb-backup"];

/// The options that choose the option files, from the start of the command line.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Leading {
    /// `--no-defaults`.
    pub no_defaults: bool,
    /// `--defaults-file=F`.
    pub defaults_file: Option<PathBuf>,
    /// `--defaults-extra-file=F`.
    pub extra_file: Option<PathBuf>,
    /// `--defaults-group-suffix=S`, else `$MARIADB_GROUP_SUFFIX`, else `$MYSQL_GROUP_SUFFIX`.
    pub suffix: Option<String>,
    /// `--print-defaults` (right after the options above).
    pub print_defaults: bool,
    /// How many arguments these were.
    pub consumed: usize,
}

/// The file-choosing options at the start of `args` (MariaDB looks for them there only, in
/// any order, each as `--name=value`; `--print-defaults` may follow them).
pub fn leading(args: &[String], env: impl Fn(&str) -> Option<String>) -> Leading {
    let mut l = Leading::default();
    for a in args {
        if a == "--no-defaults" {
            l.no_defaults = true;
        } else if let Some(f) = a.strip_prefix("--defaults-file=") {
            l.defaults_file = Some(PathBuf::from(f));
        } else if let Some(f) = a.strip_prefix("--defaults-extra-file=") {
            l.extra_file = Some(PathBuf::from(f));
        } else if let Some(s) = a.strip_prefix("--defaults-group-suffix=") {
            l.suffix = Some(s.to_string());
        } else {
            break;
        }
        l.consumed += 1;
    }
    if args
        .get(l.consumed)
        .is_some_and(|a| a == "--print-defaults")
    {
        l.print_defaults = true;
        l.consumed += 1;
    }
    if l.suffix.is_none() {
        l.suffix = env("MARIADB_GROUP_SUFFIX").or_else(|| env("MYSQL_GROUP_SUFFIX"));
    }
    l
}

/// `groups`, each followed by itself with `suffix` appended.
pub fn with_suffix(groups: &[String], suffix: Option<&str>) -> Vec<String> {
    let mut out = Vec::new();
    for g in groups {
        out.push(g.clone());
        if let Some(s) = suffix.filter(|s| !s.is_empty()) {
            out.push(format!("{g}{s}"));
        }
    }
    out
}

/// The options of the three sets of groups, each in file order (names with `_`).
#[derive(Debug, Default)]
pub struct FileOptions {
    /// From the server groups.
    pub server: Vec<(String, String)>,
    /// From the client groups.
    pub client: Vec<(String, String)>,
    /// From mariabackup's groups.
    pub backup: Vec<(String, String)>,
}

/// The groups read, by set.
#[derive(Debug, Clone)]
pub struct Groups {
    /// Server groups (with `--defaults-group`).
    pub server: Vec<String>,
    /// Client groups (with `--login-path`).
    pub client: Vec<String>,
    /// mariabackup's groups.
    pub backup: Vec<String>,
}

impl Groups {
    /// The default groups plus `extra_server` (`--defaults-group`) and `extra_client`
    /// (`--login-path`), each with the suffix.
    pub fn new(extra_server: &[String], extra_client: &[String], suffix: Option<&str>) -> Groups {
        let own = |base: &[&str], extra: &[String]| {
            let mut v: Vec<String> = base.iter().map(|s| s.to_string()).collect();
            v.extend(extra.iter().cloned());
            with_suffix(&v, suffix)
        };
        Groups {
            server: own(SERVER_GROUPS, extra_server),
            client: own(CLIENT_GROUPS, extra_client),
            backup: own(BACKUP_GROUPS, &[]),
        }
    }
}

/// Reads the option files `l` names (or only `only`, mariabackup's `backup-my.cnf` on
/// `--prepare`): a `--defaults-file` or `--defaults-extra-file` that cannot be read is an
/// error, as in MariaDB.
pub fn read(l: &Leading, groups: &Groups, only: Option<&Path>) -> Result<FileOptions, Failure> {
    if l.no_defaults {
        return Ok(FileOptions::default());
    }
    for f in [&l.defaults_file, &l.extra_file].into_iter().flatten() {
        if std::fs::metadata(f).map(|m| !m.is_file()).unwrap_or(true) {
            return Err(Failure::new(
                1,
                format!(
                    "Could not open required defaults file: {}\nFatal error in defaults \
                     handling. Program aborted",
                    f.display()
                ),
            ));
        }
    }
    let load = |groups: &[String]| -> Vec<(String, String)> {
        let g: Vec<&str> = groups.iter().map(String::as_str).collect();
        let files = match only {
            Some(f) => OptionFiles::read_file(f, &g),
            None => OptionFiles::read(l.defaults_file.as_deref(), l.extra_file.as_deref(), &g),
        };
        files.entries().to_vec()
    };
    Ok(FileOptions {
        server: load(&groups.server),
        client: load(&groups.client),
        backup: load(&groups.backup),
    })
}

/// An option file's entry as a command-line argument (`--name=value`, `--name` when bare).
pub fn as_argument(name: &str, value: &str) -> String {
    if value.is_empty() {
        format!("--{name}")
    } else {
        format!("--{name}={value}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn leading_options_any_order_then_print_defaults() {
        let l = leading(
            &args(&[
                "--defaults-group-suffix=.1",
                "--defaults-file=/a.cnf",
                "--print-defaults",
                "--backup",
            ]),
            |_| None,
        );
        assert_eq!(l.suffix.as_deref(), Some(".1"));
        assert_eq!(l.defaults_file, Some(PathBuf::from("/a.cnf")));
        assert!(l.print_defaults);
        assert_eq!(l.consumed, 3);
        // --print-defaults first: what follows is not looked at
        let l = leading(&args(&["--print-defaults", "--defaults-file=/a"]), |_| None);
        assert!(l.print_defaults && l.defaults_file.is_none() && l.consumed == 1);
        // only at the start
        let l = leading(&args(&["--backup", "--no-defaults"]), |_| None);
        assert!(!l.no_defaults && l.consumed == 0);
    }

    #[test]
    fn suffix_from_the_environment() {
        let env = |k: &str| (k == "MYSQL_GROUP_SUFFIX").then(|| ".2".to_string());
        assert_eq!(leading(&[], env).suffix.as_deref(), Some(".2"));
        let env = |k: &str| Some(format!("{k}!"));
        assert_eq!(
            leading(&[], env).suffix.as_deref(),
            Some("MARIADB_GROUP_SUFFIX!")
        );
        let l = leading(&args(&["--defaults-group-suffix=.1"]), env);
        assert_eq!(l.suffix.as_deref(), Some(".1"));
    }

    #[test]
    fn groups_and_precedence_in_files() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("my.cnf");
        std::fs::write(
            &f,
            "[mysqld]\ndatadir=/a\n[mysqld.1]\ndatadir=/b\n[mysqld.2]\ndatadir=/c\n\
             [client]\nuser=u1\n[client.1]\nuser=u2\n[mariabackup]\nparallel=3\n\
             [mariadb-backup.1]\nparallel=4\n[xb]\nuser=no\n",
        )
        .unwrap();
        let l = Leading {
            defaults_file: Some(f.clone()),
            ..Default::default()
        };
        let g = Groups::new(&[], &[], Some(".1"));
        let o = read(&l, &g, None).unwrap();
        let v = |e: &[(String, String)]| e.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let got: Vec<String> = v(&o.server);
        assert_eq!(got, ["datadir=/a", "datadir=/b"]);
        let got: Vec<String> = v(&o.client);
        assert_eq!(got, ["user=u1", "user=u2"]);
        let got: Vec<String> = v(&o.backup);
        assert_eq!(got, ["parallel=3", "parallel=4"]);
        // --defaults-group adds a server group
        let g = Groups::new(&["mysqld.2".into()], &[], None);
        let got: Vec<String> = v(&read(&l, &g, None).unwrap().server);
        assert_eq!(got, ["datadir=/a", "datadir=/c"]);
        // --no-defaults reads nothing; a missing --defaults-file is an error
        let nd = Leading {
            no_defaults: true,
            ..l.clone()
        };
        assert!(read(&nd, &g, None).unwrap().server.is_empty());
        let missing = Leading {
            defaults_file: Some(d.path().join("nope.cnf")),
            ..Default::default()
        };
        let e = read(&missing, &g, None).unwrap_err();
        assert!(e.message.contains("Could not open required defaults file"));
    }
}
