//! MySQL/MariaDB option files (`my.cnf`): where a client finds its connection settings.
//!
//! Read as the MariaDB client programs read them: the global files `/etc/my.cnf`,
//! `/etc/mysql/my.cnf`, `$MARIADB_HOME/my.cnf` (or `$MYSQL_HOME/my.cnf`), then an extra file
//! if one is given (`--defaults-extra-file`), then `~/.my.cnf`; or only the file given with
//! `--defaults-file`. A later value of an option replaces an earlier one. Lines:
//! `[group]`, `name = value` or a bare `name`, comments starting with `#` or `;`,
//! `!include FILE` and `!includedir DIR` (its `*.cnf` files in name order). Values may be
//! quoted with `'` or `"` (with `\n`, `\t`, `\\`, `\'`, `\"`, `\s` escapes); `-` and `_` in
//! option names are the same.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// The groups a backup client reads, in order (later groups win within one file position,
/// as every group's options are applied in file order).
pub const CLIENT_GROUPS: &[&str] = &[
    "client",
    "client-server",
    "client-mariadb",
    "mariadb-client",
    "mariabackup",
    "mariadb-backup",
    "xb",
];

/// Options read from option files: name (with `_`) → value (`""` for a bare name).
///
/// ```
/// use incremental_core::format::option_file::OptionFiles;
/// let dir = tempfile::tempdir().unwrap();
/// let f = dir.path().join("my.cnf");
/// std::fs::write(&f, "[mysqld]\nuser=mysql\n[client]\nuser = backup\npassword=\"s3 #cret\" # note\n\
///     socket=/run/mysqld/mysqld.sock\n").unwrap();
/// let o = OptionFiles::read_file(&f, &["client"]);
/// assert_eq!(o.get("user"), Some("backup"));
/// assert_eq!(o.get("password"), Some("s3 #cret"));
/// assert_eq!(o.get("socket"), Some("/run/mysqld/mysqld.sock"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OptionFiles {
    values: BTreeMap<String, String>,
    entries: Vec<(String, String)>,
    /// The files read, in order.
    pub files: Vec<PathBuf>,
}

/// Option files are nested through `!include` at most this deep.
const MAX_DEPTH: usize = 10;

impl OptionFiles {
    /// Reads the default files (see the module docs), or only `defaults_file` if given, plus
    /// `extra_file`, keeping the options of `groups`. Missing or unreadable files are skipped,
    /// as the MariaDB clients do.
    pub fn read(
        defaults_file: Option<&Path>,
        extra_file: Option<&Path>,
        groups: &[&str],
    ) -> OptionFiles {
        let mut o = OptionFiles::default();
        if let Some(f) = defaults_file {
            o.load(f, groups, 0);
            if let Some(x) = extra_file {
                o.load(x, groups, 0);
            }
            return o;
        }
        for f in ["/etc/my.cnf", "/etc/mysql/my.cnf"] {
            o.load(Path::new(f), groups, 0);
        }
        if let Some(home) =
            std::env::var_os("MARIADB_HOME").or_else(|| std::env::var_os("MYSQL_HOME"))
        {
            o.load(&Path::new(&home).join("my.cnf"), groups, 0);
        }
        if let Some(x) = extra_file {
            o.load(x, groups, 0);
        }
        if let Some(home) = std::env::var_os("HOME") {
            o.load(&Path::new(&home).join(".my.cnf"), groups, 0);
        }
        o
    }

    /// Reads one file (and its includes), keeping the options of `groups`.
    pub fn read_file(path: &Path, groups: &[&str]) -> OptionFiles {
        let mut o = OptionFiles::default();
        o.load(path, groups, 0);
        o
    }

    /// Parses option-file text (its `!include` lines relative to the current directory),
    /// keeping the options of `groups`.
    ///
    /// ```
    /// use incremental_core::format::option_file::OptionFiles;
    /// let o = OptionFiles::parse("[mysqld]\ninnodb-page-size=4096\n[client]\nuser=x\n", &["mysqld"]);
    /// assert_eq!(o.entries(), [("innodb_page_size".to_string(), "4096".to_string())]);
    /// ```
    pub fn parse(text: &str, groups: &[&str]) -> OptionFiles {
        let mut o = OptionFiles::default();
        o.load_text(text, groups, 0);
        o
    }

    /// Every option of the kept groups in file order (names with `_`; repeated options appear
    /// each time).
    pub fn entries(&self) -> &[(String, String)] {
        &self.entries
    }

    /// The value of option `name` (`-` or `_`), if set.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(&name.replace('-', "_")).map(String::as_str)
    }

    fn load(&mut self, path: &Path, groups: &[&str], depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        let Ok(text) = fs::read_to_string(path) else {
            return;
        };
        self.files.push(path.to_path_buf());
        self.load_text(&text, groups, depth);
    }

    fn load_text(&mut self, text: &str, groups: &[&str], depth: usize) {
        let mut keep = false;
        for raw in text.lines() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if let Some(rest) = line.strip_prefix("!includedir") {
                let dir = Path::new(rest.trim());
                let mut names: Vec<PathBuf> = fs::read_dir(dir)
                    .map(|rd| {
                        rd.filter_map(|e| e.ok().map(|e| e.path()))
                            .filter(|p| p.extension().is_some_and(|x| x == "cnf"))
                            .collect()
                    })
                    .unwrap_or_default();
                names.sort();
                for n in names {
                    self.load(&n, groups, depth + 1);
                }
                continue;
            }
            if let Some(rest) = line.strip_prefix("!include") {
                self.load(Path::new(rest.trim()), groups, depth + 1);
                continue;
            }
            if let Some(g) = line.strip_prefix('[') {
                let g = g
                    .split(']')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                keep = groups.iter().any(|x| *x == g);
                continue;
            }
            if !keep {
                continue;
            }
            let (name, value) = match line.split_once('=') {
                Some((n, v)) => (n.trim(), parse_value(v.trim())),
                None => (line, String::new()),
            };
            let name = name.trim_start_matches("--").replace('-', "_");
            if !name.is_empty() {
                self.entries.push((name.clone(), value.clone()));
                self.values.insert(name, value);
            }
        }
    }
}

/// An option value: quoted (escapes undone) or bare (up to a ` #` comment, trimmed).
fn parse_value(v: &str) -> String {
    let mut chars = v.chars();
    match chars.next() {
        Some(q @ ('\'' | '"')) => {
            let mut out = String::new();
            let mut esc = false;
            for c in chars {
                if esc {
                    out.push(match c {
                        'n' => '\n',
                        't' => '\t',
                        's' => ' ',
                        'b' => '\u{8}',
                        'r' => '\r',
                        other => other,
                    });
                    esc = false;
                } else if c == '\\' {
                    esc = true;
                } else if c == q {
                    return out;
                } else {
                    out.push(c);
                }
            }
            out
        }
        _ => {
            let mut end = v.len();
            let b = v.as_bytes();
            for i in 0..b.len() {
                if b[i] == b'#' && (i == 0 || b[i - 1].is_ascii_whitespace()) {
                    end = i;
                    break;
                }
            }
            v[..end].trim().to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_includes_and_overrides() {
        let d = tempfile::tempdir().unwrap();
        let inc = d.path().join("conf.d");
        fs::create_dir(&inc).unwrap();
        fs::write(inc.join("b.cnf"), "[client]\nport=3307\n").unwrap();
        fs::write(inc.join("a.cnf"), "[client]\nport=3306\nhost=h1\n").unwrap();
        fs::write(inc.join("c.txt"), "[client]\nhost=ignored\n").unwrap();
        let main = d.path().join("my.cnf");
        fs::write(
            &main,
            format!(
                "# comment\n[mysqld]\nsocket=/srv.sock\n[client]\nsocket = /c.sock\n\
                 !includedir {}\n[mariadb-backup]\nuser='bk'\nskip-ssl\n[other]\nuser=no\n",
                inc.display()
            ),
        )
        .unwrap();
        let o = OptionFiles::read(Some(&main), None, CLIENT_GROUPS);
        assert_eq!(o.get("socket"), Some("/c.sock"));
        assert_eq!(o.get("port"), Some("3307"));
        assert_eq!(o.get("host"), Some("h1"));
        assert_eq!(o.get("user"), Some("bk"));
        assert_eq!(o.get("skip-ssl"), Some(""));
        assert_eq!(o.files.len(), 3);
        // an extra file overrides the defaults file
        let extra = d.path().join("extra.cnf");
        fs::write(&extra, "[client]\nuser=x\n").unwrap();
        let o = OptionFiles::read(Some(&main), Some(&extra), CLIENT_GROUPS);
        assert_eq!(o.get("user"), Some("x"));
    }

    #[test]
    fn values() {
        assert_eq!(parse_value("'a\\tb'"), "a\tb");
        assert_eq!(parse_value("\"it\\'s\" trailing"), "it's");
        assert_eq!(parse_value("plain # c"), "plain");
        assert_eq!(parse_value("pa#ss"), "pa#ss");
        assert_eq!(parse_value(""), "");
    }

    #[test]
    fn include_loops_end() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("loop.cnf");
        fs::write(&f, format!("!include {}\n[client]\nuser=u\n", f.display())).unwrap();
        assert_eq!(
            OptionFiles::read_file(&f, &["client"]).get("user"),
            Some("u")
        );
    }
}
