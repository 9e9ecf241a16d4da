//! The source datadir: which files it holds and which of them a backup copies (the table
//! filters of partial backups).
//!
//! A source is a datadir whose server is stopped, a filesystem snapshot of a running server's
//! datadir (crash consistent), or a running server's datadir (a hot backup, see
//! [`detect`](super::detect())).

use std::fs::File;
use std::io;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use innodb_page::datadir::{self, DatadirFiles};
use innodb_page::tablespace::{OpenOptions, ReadMode, Tablespace};

use super::contents::{DataFilePlan, OtherFile, TablespacePlan};
use super::BackupError;
use crate::format::backup_info::Method;

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

/// Database and table a file in a datadir belongs to: `db/t.ibd` → `("db", "t")`, a partition
/// `db/t#P#p0.ibd` → `("db", "t")`. `None` for files at the top level.
///
/// ```
/// use incremental_core::backup::files::table_of;
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
/// use incremental_core::backup::files::glob_match;
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
/// use incremental_core::backup::files::Filter;
/// let mut f = Filter::default();
/// f.set_tables("shop.o*");
/// assert!(f.keeps_table("shop", "orders"));
/// assert!(!f.keeps_table("shop", "customers"));
/// assert!(f.is_partial());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Filter {
    /// Tables kept: `db.table` globs.
    pub(crate) tables: String,
    /// Tables dropped: `db.table` globs.
    pub(crate) tables_exclude: String,
    /// Databases (or `db.table` names) kept.
    pub(crate) databases: String,
}

fn split_list(s: &str) -> impl Iterator<Item = &str> {
    s.split([',', ' ', '\n', '\t']).filter(|x| !x.is_empty())
}

impl Filter {
    /// Tables kept: comma-separated `db.table` globs (as mariabackup's `--tables`).
    pub fn set_tables(&mut self, globs: &str) -> &mut Self {
        self.tables = globs.to_string();
        self
    }

    /// Tables dropped: comma-separated `db.table` globs (as mariabackup's `--tables-exclude`).
    pub fn set_tables_exclude(&mut self, globs: &str) -> &mut Self {
        self.tables_exclude = globs.to_string();
        self
    }

    /// Databases (or `db.table` names) kept: comma-separated (as mariabackup's `--databases`).
    pub fn set_databases(&mut self, names: &str) -> &mut Self {
        self.databases = names.to_string();
        self
    }

    /// The tables kept, as given.
    pub fn tables(&self) -> &str {
        &self.tables
    }

    /// The tables dropped, as given.
    pub fn tables_exclude(&self) -> &str {
        &self.tables_exclude
    }

    /// The databases kept, as given.
    pub fn databases(&self) -> &str {
        &self.databases
    }

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

pub(crate) fn rel_to(datadir: &Path, p: &Path) -> PathBuf {
    p.strip_prefix(datadir).unwrap_or(p).to_path_buf()
}

/// Files of a datadir that are never copied: xb's own metadata at the top (a datadir restored
/// from a backup still holds it), pid files, sockets, temporary files of an interrupted run.
fn is_transient(rel: &Path) -> bool {
    let name = rel
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let top = rel.components().count() == 1;
    (top && RESERVED_NAMES.contains(&name.as_str()))
        || name.ends_with(".pid")
        || name.ends_with(".xbtmp")
        || name == "mysql.sock"
        || name.ends_with(".sock.lock")
}

/// Lists `datadir`, which must hold a system tablespace.
pub(crate) fn scan_datadir(dd: &Path) -> Result<DatadirFiles, BackupError> {
    let md = std::fs::metadata(dd).map_err(|source| BackupError::Io {
        path: dd.to_path_buf(),
        source,
    })?;
    if !md.is_dir() {
        return Err(BackupError::Io {
            path: dd.to_path_buf(),
            source: io::Error::new(io::ErrorKind::InvalidInput, "not a directory"),
        });
    }
    let files = datadir::scan(dd)?;
    if files.system.is_empty() {
        return Err(BackupError::Unsupported {
            path: dd.to_path_buf(),
            what: "no system tablespace (ibdata1): not an InnoDB datadir".into(),
        });
    }
    Ok(files)
}

/// The non-InnoDB files of a listing that a backup copies (with their sizes now), and those
/// it leaves out (transient files, filtered tables, files gone since the listing).
pub(crate) fn list_other_files(
    dd: &Path,
    files: &DatadirFiles,
    filter: &Filter,
) -> Result<(Vec<OtherFile>, Vec<PathBuf>), BackupError> {
    let mut other_files = Vec::new();
    let mut skipped = Vec::new();
    for p in &files.other {
        let rel = rel_to(dd, p);
        if is_transient(&rel) || !filter.keeps_file(&rel) {
            skipped.push(p.clone());
            continue;
        }
        match std::fs::metadata(p) {
            Ok(m) => other_files.push(OtherFile::new(p.clone(), rel, m.len())),
            // gone since the listing (a running server's temporary file): nothing to copy
            Err(e) if e.kind() == io::ErrorKind::NotFound => skipped.push(p.clone()),
            Err(source) => {
                return Err(BackupError::Io {
                    path: p.clone(),
                    source,
                });
            }
        }
    }
    Ok((other_files, skipped))
}

/// Opens each file of `group` once, for reading through that descriptor from then on.
fn pin(group: &[PathBuf]) -> Result<Vec<Arc<File>>, BackupError> {
    group
        .iter()
        .map(|p| {
            File::open(p)
                .map(Arc::new)
                .map_err(|source| BackupError::Io {
                    path: p.clone(),
                    source,
                })
        })
        .collect()
}

/// Opens one tablespace (its files in order) and describes it for a full copy. With `pin`,
/// each file is opened once and read through that descriptor from then on.
pub(crate) fn open_tablespace(
    dd: &Path,
    group: &[PathBuf],
    pin_files: bool,
) -> Result<TablespacePlan, BackupError> {
    let pinned = if pin_files { pin(group)? } else { Vec::new() };
    let open_paths: Vec<PathBuf> = if pin_files {
        let fd_path = |f: &Arc<File>| PathBuf::from(format!("/proc/self/fd/{}", f.as_raw_fd()));
        pinned.iter().map(fd_path).collect()
    } else {
        group.to_vec()
    };
    let options = OpenOptions::default()
        .mode(ReadMode::Pread)
        .allow_partial_tail(true);
    let ts = Tablespace::open_with(&open_paths, options).map_err(|e| match e {
        // name the real file, not /proc/self/fd/N
        e if pin_files => BackupError::Unsupported {
            path: group[0].clone(),
            what: e
                .to_string()
                .replace(&open_paths[0].display().to_string(), "page 0"),
        },
        e => BackupError::Page(e),
    })?;
    let format = *ts.format();
    let files = ts
        .files()
        .zip(group)
        .map(|(f, src)| DataFilePlan {
            src: src.clone(),
            rel: rel_to(dd, src),
            first_page: f.first_page,
            pages: f.pages,
            trailing_bytes: f.trailing_bytes,
        })
        .collect();
    Ok(TablespacePlan {
        space_id: format.space_id,
        page_size: ts.page_size(),
        compressed: format.flags.zip_size().is_some(),
        flags: format.flags.raw(),
        files,
        method: Method::Full,
        why: "full backup".into(),
        checksum: innodb_page::verify::checksum_context(&format),
        doublewrite: ts.doublewrite().cloned(),
        format,
        ranges: None,
        pinned,
    })
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
    fn transient_names() {
        assert!(is_transient(Path::new("xtrabackup_checkpoints")));
        assert!(is_transient(Path::new("host.pid")));
        assert!(!is_transient(Path::new("db/xtrabackup_checkpoints")));
        assert!(!is_transient(Path::new("db/t.frm")));
    }
}
