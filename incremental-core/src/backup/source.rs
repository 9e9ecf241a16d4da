//! The source datadir: which files it holds, whether a server holds it, and the table filters
//! of partial backups.
//!
//! A source is a datadir whose server is stopped, or a filesystem snapshot of a running
//! server's datadir (crash consistent). A live datadir is refused: `mariadbd` holds a POSIX
//! (`fcntl`) write lock on its system tablespace and redo log files, which
//! [`locked_by`] detects with `F_GETLK` without taking any lock.

use std::fs::File;
use std::io;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

/// Names xb writes at the top of a backup directory: never copied from a source (a datadir
/// that was restored from a backup still holds them).
pub const RESERVED_NAMES: &[&str] = &[
    "xtrabackup_checkpoints",
    "xtrabackup_info",
    "mariadb_backup_checkpoints",
    "mariadb_backup_info",
    "xb_backup_info",
    "backup-my.cnf",
    "xtrabackup_binlog_info",
    "xtrabackup_galera_info",
];

/// The process holding a conflicting POSIX lock on `path`, if any (`fcntl(F_GETLK)` for a
/// write lock over the whole file). `Ok(None)` when the file is not locked.
///
/// ```
/// let f = tempfile::NamedTempFile::new().unwrap();
/// assert_eq!(incremental_core::backup::source::locked_by(f.path()).unwrap(), None);
/// ```
pub fn locked_by(path: &Path) -> io::Result<Option<i32>> {
    let file = File::open(path)?;
    let mut fl = libc::flock {
        l_type: libc::F_WRLCK as libc::c_short,
        l_whence: libc::SEEK_SET as libc::c_short,
        l_start: 0,
        l_len: 0,
        l_pid: 0,
    };
    // SAFETY: F_GETLK reads and writes the flock structure we own; the fd is valid.
    #[allow(unsafe_code)]
    let r = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETLK, &mut fl) };
    if r == -1 {
        return Err(io::Error::last_os_error());
    }
    if fl.l_type == libc::F_UNLCK as libc::c_short {
        Ok(None)
    } else {
        Ok(Some(fl.l_pid))
    }
}

/// Database and table a file in a datadir belongs to: `db/t.ibd` → `("db", "t")`, a partition
/// `db/t#P#p0.ibd` → `("db", "t")`. `None` for files at the top level.
///
/// ```
/// use incremental_core::backup::source::table_of;
/// assert_eq!(table_of("shop/orders.ibd".as_ref()), Some(("shop".into(), "orders".into())));
/// assert_eq!(table_of("shop/orders#P#p1.ibd".as_ref()), Some(("shop".into(), "orders".into())));
/// assert_eq!(table_of("shop/db.opt".as_ref()), Some(("shop".into(), "".into())));
/// assert_eq!(table_of("ibdata1".as_ref()), None);
/// ```
pub fn table_of(rel: &Path) -> Option<(String, String)> {
    let mut comps = rel.iter();
    let db = comps.next()?.to_string_lossy().into_owned();
    let file = comps.next()?.to_string_lossy().into_owned();
    if comps.next().is_some() {
        return None;
    }
    if file == "db.opt" {
        return Some((db, String::new()));
    }
    let stem = match file.rfind('.') {
        Some(i) => &file[..i],
        None => &file[..],
    };
    let stem = match stem.find("#P#").or_else(|| stem.find("#p#")) {
        Some(i) => &stem[..i],
        None => stem,
    };
    Some((db, stem.to_string()))
}

/// `*` (any run of characters) and `?` (one character) glob matching.
///
/// ```
/// use incremental_core::backup::source::glob_match;
/// assert!(glob_match("shop.*", "shop.orders"));
/// assert!(glob_match("*.t?", "db.t1"));
/// assert!(!glob_match("shop.*", "shopx.orders"));
/// ```
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// The table filters of a partial backup.
///
/// * `tables`: comma-separated `db.table` glob patterns (`*`, `?`); a table is kept if it
///   matches one. (mariabackup takes a regular expression here; xb takes globs.)
/// * `tables_exclude`: comma-separated `db.table` globs; a matching table is dropped.
/// * `databases`: space- or comma-separated `db` or `db.table` names (globs allowed); a table
///   is kept if its database or itself is listed.
///
/// The system tablespace, undo tablespaces, the redo log and files outside database
/// directories are always backed up. Filters apply to file-per-table tablespaces and to the
/// files of database directories (`.frm`, `db.opt`, …).
///
/// ```
/// use incremental_core::backup::source::Filter;
/// let f = Filter { tables: "shop.o*".into(), ..Default::default() };
/// assert!(f.keeps_table("shop", "orders"));
/// assert!(!f.keeps_table("shop", "customers"));
/// assert!(f.is_partial());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// `--tables`.
    pub tables: String,
    /// `--tables-exclude`.
    pub tables_exclude: String,
    /// `--databases`.
    pub databases: String,
}

fn split_list(s: &str) -> impl Iterator<Item = &str> {
    s.split([',', ' ', '\n', '\t']).filter(|x| !x.is_empty())
}

impl Filter {
    /// True if any filter is set.
    pub fn is_partial(&self) -> bool {
        [&self.tables, &self.tables_exclude, &self.databases]
            .iter()
            .any(|s| !s.trim().is_empty())
    }

    /// Whether table `db.table` is backed up (`table` empty: the database's own files, kept
    /// when the database has any chance of being selected).
    pub fn keeps_table(&self, db: &str, table: &str) -> bool {
        let full = format!("{db}.{table}");
        if table.is_empty() {
            let db_listed = self.databases.trim().is_empty()
                || split_list(&self.databases).any(|d| {
                    let d_db = d.split('.').next().unwrap_or(d);
                    glob_match(d_db, db)
                });
            let tables_ok = self.tables.trim().is_empty()
                || split_list(&self.tables).any(|p| {
                    let p_db = p.split('.').next().unwrap_or(p);
                    glob_match(p_db, db)
                });
            return db_listed && tables_ok;
        }
        if !self.tables.trim().is_empty() && !split_list(&self.tables).any(|p| glob_match(p, &full))
        {
            return false;
        }
        if split_list(&self.tables_exclude).any(|p| glob_match(p, &full)) {
            return false;
        }
        if !self.databases.trim().is_empty()
            && !split_list(&self.databases).any(|d| {
                if d.contains('.') {
                    glob_match(d, &full)
                } else {
                    glob_match(d, db)
                }
            })
        {
            return false;
        }
        true
    }

    /// Whether the file at `rel` (relative to the datadir) is backed up.
    pub fn keeps_file(&self, rel: &Path) -> bool {
        if !self.is_partial() {
            return true;
        }
        match table_of(rel) {
            Some((db, table)) => self.keeps_table(&db, &table),
            None => true,
        }
    }
}

/// Refuses a datadir a running server holds: checks the POSIX locks on the system tablespace
/// and the redo log.
pub fn check_not_running(datadir: &Path, system: &[PathBuf]) -> Result<(), super::BackupError> {
    let mut probe: Vec<PathBuf> = system.iter().take(1).cloned().collect();
    probe.push(datadir.join("ib_logfile0"));
    for p in probe {
        if !p.exists() {
            continue;
        }
        match locked_by(&p) {
            Ok(Some(pid)) => {
                return Err(super::BackupError::ServerRunning { path: p, pid });
            }
            Ok(None) => {}
            Err(source) => return Err(super::BackupError::Io { path: p, source }),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("*", ""));
        assert!(glob_match("a*b*c", "aXXbYc"));
        assert!(!glob_match("a*b*c", "aXXbY"));
        assert!(glob_match("d?.t", "d1.t"));
        assert!(!glob_match("", "x"));
    }

    #[test]
    fn filters() {
        let f = Filter {
            databases: "a b.t1".into(),
            ..Default::default()
        };
        assert!(f.keeps_table("a", "x"));
        assert!(f.keeps_table("b", "t1"));
        assert!(!f.keeps_table("b", "t2"));
        assert!(f.keeps_table("b", ""));
        assert!(!f.keeps_table("c", ""));
        assert!(f.keeps_file(Path::new("ibdata1")));
        assert!(!f.keeps_file(Path::new("c/t.ibd")));
        let f = Filter {
            tables_exclude: "*.big".into(),
            ..Default::default()
        };
        assert!(!f.keeps_table("x", "big"));
        assert!(f.keeps_table("x", "small"));
        assert!(!Filter::default().is_partial());
    }

    #[test]
    fn a_lock_held_by_another_process_is_seen() {
        let f = tempfile::NamedTempFile::new().unwrap();
        assert_eq!(locked_by(f.path()).unwrap(), None);
        // Own locks never conflict with ourselves; a real server is probed in the MariaDB test.
        assert!(locked_by(Path::new("/nonexistent/x")).is_err());
    }
}
