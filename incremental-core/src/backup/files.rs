//! The source datadir: which files it holds and which of them a backup copies (the table
//! filters of partial backups).
//!
//! A source is a datadir whose server is stopped, a filesystem snapshot of a running server's
//! datadir (crash consistent), or a running server's datadir (a hot backup, see
//! [`detect`](super::detect())).

use std::fs::File;
use std::io;
use std::os::unix::io::AsRawFd;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use innodb_page::datadir::{self, DatadirFiles};
use innodb_page::tablespace::{OpenOptions, ReadMode, Tablespace};

use super::contents::{DataFilePlan, OtherFile, TablespacePlan};
use super::layout::SourceDirs;
use super::needed::{self, LogFiles};
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
/// * `table_names`: exact `db.table` names (mariabackup's `--tables-file`, one a line); a table
///   is kept if it is listed here or matches `tables`.
/// * `databases_exclude`: like `databases`, but a listed database or table is dropped; it wins
///   over `databases` (as mariabackup's `--databases-exclude`).
///
/// A table is dropped when `tables_exclude` or `databases_exclude` names it; otherwise it is
/// kept when every include filter given (`tables`/`table_names`, `databases`) names it.
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
    /// Exact `db.table` names kept.
    pub(crate) table_names: Vec<String>,
    /// Databases (or `db.table` names) dropped.
    pub(crate) databases_exclude: String,
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

    /// Databases (or `db.table` names) dropped: space- or comma-separated, globs allowed (as
    /// mariabackup's `--databases-exclude`, which wins over `--databases`).
    pub fn set_databases_exclude(&mut self, names: &str) -> &mut Self {
        self.databases_exclude = names.to_string();
        self
    }

    /// Exact `db.table` names kept (as mariabackup's `--tables-file`): a table is kept if it
    /// is one of these or matches [`set_tables`](Self::set_tables).
    pub fn set_table_names<I, S>(&mut self, names: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.table_names = names.into_iter().map(Into::into).collect();
        self
    }

    /// Reads the exact `db.table` names of a `--tables-file` (one a line; blank lines are
    /// skipped) into [`set_table_names`](Self::set_table_names).
    pub fn read_tables_file(&mut self, path: &Path) -> Result<&mut Self, BackupError> {
        let names = read_names(path)?;
        Ok(self.set_table_names(names))
    }

    /// Reads the database (or `db.table`) names of a `--databases-file` (one a line) and adds
    /// them to [`set_databases`](Self::set_databases).
    pub fn read_databases_file(&mut self, path: &Path) -> Result<&mut Self, BackupError> {
        let names = read_names(path)?;
        let mut all: Vec<String> = split_list(&self.databases).map(str::to_string).collect();
        all.extend(names);
        self.databases = all.join(",");
        Ok(self)
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

    /// The databases dropped, as given.
    pub fn databases_exclude(&self) -> &str {
        &self.databases_exclude
    }

    /// The exact table names kept.
    pub fn table_names(&self) -> &[String] {
        &self.table_names
    }

    /// True if any filter is set.
    pub fn is_partial(&self) -> bool {
        let lists = [
            &self.tables,
            &self.tables_exclude,
            &self.databases,
            &self.databases_exclude,
        ];
        lists.iter().any(|s| !s.trim().is_empty()) || !self.table_names.is_empty()
    }

    /// Whether `db` (a whole database) or `db.table` is named by a `databases`-style list.
    fn names(list: &str, db: &str, full: &str) -> bool {
        split_list(list).any(|d| {
            if d.contains('.') {
                glob_match(d, full)
            } else {
                glob_match(d, db)
            }
        })
    }

    /// Whether a table include filter (`tables`, `table_names`) is given.
    fn includes_tables(&self) -> bool {
        !self.tables.trim().is_empty() || !self.table_names.is_empty()
    }

    /// Whether table `db.table` is backed up (`table` empty: the database's own files, kept
    /// when the database has any chance of being selected).
    pub fn keeps_table(&self, db: &str, table: &str) -> bool {
        let full = format!("{db}.{table}");
        if table.is_empty() {
            return self.keeps_database(db);
        }
        if split_list(&self.tables_exclude).any(|p| glob_match(p, &full))
            || Self::names(&self.databases_exclude, db, &full)
        {
            return false;
        }
        if self.includes_tables()
            && !split_list(&self.tables).any(|p| glob_match(p, &full))
            && !self.table_names.contains(&full)
        {
            return false;
        }
        self.databases.trim().is_empty() || Self::names(&self.databases, db, &full)
    }

    /// Whether the database's own files (`db.opt`) are kept: when it is not excluded as a
    /// whole and some table of it may be selected.
    fn keeps_database(&self, db: &str) -> bool {
        let db_of = |p: &str| p.split('.').next().unwrap_or(p).to_string();
        let excluded =
            split_list(&self.databases_exclude).any(|d| !d.contains('.') && glob_match(d, db));
        let db_listed = self.databases.trim().is_empty()
            || split_list(&self.databases).any(|d| glob_match(&db_of(d), db));
        let tables_ok = !self.includes_tables()
            || split_list(&self.tables).any(|p| glob_match(&db_of(p), db))
            || self.table_names.iter().any(|n| db_of(n) == db);
        !excluded && db_listed && tables_ok
    }

    /// Whether the file at `rel` (relative to the datadir) is backed up.
    pub fn keeps_file(&self, rel: &Path) -> bool {
        if !self.is_partial() {
            return true;
        }
        match table_of(rel) {
            // `db.opt` under a list of tables: kept only if the list names table `db` of the
            // database, as mariabackup filters it (its name read as a table's)
            Some((db, table)) if table.is_empty() && self.includes_tables() => {
                self.keeps_table(&db, "db")
            }
            Some((db, table)) => self.keeps_table(&db, &table),
            None => true,
        }
    }
}

/// The names of a filter file: one a line, surrounding blanks and blank lines dropped.
fn read_names(path: &Path) -> Result<Vec<String>, BackupError> {
    let text = std::fs::read_to_string(path).map_err(|source| BackupError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let names = text.lines().map(str::trim).filter(|l| !l.is_empty());
    Ok(names.map(str::to_string).collect())
}

/// The path of a source file in the backup: relative to the datadir, or for a file kept
/// outside it (see [`layout`](super::layout)), its name at the top level.
///
/// A tablespace outside the datadir that is not one of those (a table created with `DATA
/// DIRECTORY`, `DIR/db/t.ibd`, which the datadir's `db/t.isl` names) is `db/t.ibd`, as
/// mariabackup names it.
pub(crate) fn rel_to(datadir: &Path, p: &Path) -> PathBuf {
    let inside = p
        .strip_prefix(datadir)
        .ok()
        .filter(|r| r.components().all(|c| matches!(c, Component::Normal(_))));
    if let Some(rel) = inside {
        return rel.to_path_buf();
    }
    let name = p.file_name().map_or_else(|| p.to_path_buf(), PathBuf::from);
    let db = p.parent().and_then(Path::file_name);
    match db {
        Some(db) if name.extension().is_some_and(|e| e == "ibd") => Path::new(db).join(name),
        _ => name,
    }
}

/// Lists `datadir` and the files its server keeps in the directories `dirs`; there must be a
/// system tablespace.
pub(crate) fn scan_datadir(dd: &Path, dirs: &SourceDirs) -> Result<DatadirFiles, BackupError> {
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
    let mut files = datadir::scan(dd)?;
    dirs.add_files(dd, &mut files)?;
    add_remote_tablespaces(dd, &mut files)?;
    if files.system.is_empty() {
        return Err(BackupError::Unsupported {
            path: dd.to_path_buf(),
            what: "no system tablespace (ibdata1): not an InnoDB datadir".into(),
        });
    }
    Ok(files)
}

/// The tablespace a `db/t.isl` file of the datadir names (`DATA DIRECTORY`): the path it
/// holds (one line, absolute, or relative to the datadir). `None` when the file is gone (a
/// table dropped since the listing), empty, or names a file that does not exist (the server
/// cannot open that table either).
pub(crate) fn read_isl(dd: &Path, isl: &Path) -> Result<Option<PathBuf>, BackupError> {
    let text = match std::fs::read(isl) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(BackupError::Io {
                path: isl.to_path_buf(),
                source,
            })
        }
    };
    let Some(line) = isl_target(&String::from_utf8_lossy(&text)) else {
        return Ok(None);
    };
    let target = super::layout::normalized(&dd.join(line));
    Ok(target.is_file().then_some(target))
}

/// The path an `.isl` file holds (its first line that is not blank), `None` when it holds
/// none.
pub(crate) fn isl_target(text: &str) -> Option<PathBuf> {
    let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    Some(PathBuf::from(line))
}

/// Adds to `files` the tablespaces kept outside the datadir that its `db/t.isl` files name
/// (tables created with `DATA DIRECTORY`), unless a `db/t.ibd` in the datadir is the table's
/// file already.
fn add_remote_tablespaces(dd: &Path, files: &mut DatadirFiles) -> Result<(), BackupError> {
    let isls: Vec<PathBuf> = files
        .other
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "isl"))
        .filter(|p| p.parent() != Some(dd))
        .cloned()
        .collect();
    let mut added = false;
    for isl in isls {
        let local = isl.with_extension("ibd");
        if files.tablespaces.contains(&local) {
            continue;
        }
        if let Some(target) = read_isl(dd, &isl)?
            && !files.tablespaces.contains(&target)
        {
            files.tablespaces.push(target);
            added = true;
        }
    }
    if added {
        files.tablespaces.sort_by_key(|p| rel_to(dd, p));
    }
    Ok(())
}

/// The non-InnoDB files of a listing that a backup copies (with their sizes now), and those
/// it leaves out (files a restore does not need, see [`needed`], the server's logs `logs`,
/// filtered tables, files gone since the listing).
pub(crate) fn list_other_files(
    dd: &Path,
    files: &DatadirFiles,
    filter: &Filter,
    logs: &LogFiles,
) -> Result<(Vec<OtherFile>, Vec<PathBuf>), BackupError> {
    let mut other_files = Vec::new();
    let mut skipped = Vec::new();
    for p in &files.other {
        let rel = rel_to(dd, p);
        if !needed::is_needed(&rel) || logs.contains(&rel) || !filter.keeps_file(&rel) {
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
    // the crypt data's IV is what the page keys derive from (extended validation)
    let crypt = match format.encryption {
        Some(innodb_page::fsp::Encryption::MariaDb { .. }) => {
            let mut scratch = Vec::new();
            ts.page(0, &mut scratch)
                .ok()
                .and_then(|p| innodb_page::crypto::page::CryptData::read(p.as_bytes()))
        }
        _ => None,
    };
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
        crypt,
        ranges: None,
        pinned,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_data_directory_tablespace_is_db_t_ibd_beside_its_isl() {
        let t = tempfile::tempdir().unwrap();
        let (dd, remote) = (t.path().join("data"), t.path().join("remote"));
        std::fs::create_dir_all(dd.join("db")).unwrap();
        std::fs::create_dir_all(remote.join("db")).unwrap();
        std::fs::write(remote.join("db/t.ibd"), b"").unwrap();
        let isl = format!("{}\n", remote.join("db/t.ibd").display());
        std::fs::write(dd.join("db/t.isl"), isl).unwrap();
        std::fs::write(dd.join("db/gone.isl"), "/nonexistent/db/gone.ibd").unwrap();
        let mut files = datadir::scan(&dd).unwrap();
        add_remote_tablespaces(&dd, &mut files).unwrap();
        assert_eq!(files.tablespaces, [remote.join("db/t.ibd")]);
        assert_eq!(rel_to(&dd, &remote.join("db/t.ibd")), Path::new("db/t.ibd"));
        assert_eq!(rel_to(&dd, &dd.join("db/t.frm")), Path::new("db/t.frm"));
        assert_eq!(
            rel_to(&dd, &dd.join("../aria/aria_log.1")),
            Path::new("aria_log.1")
        );
        assert_eq!(rel_to(&dd, Path::new("/sys/ibdata1")), Path::new("ibdata1"));
    }

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
    fn exclude_and_exact_names() {
        let mut f = Filter::default();
        f.set_databases("a,b").set_databases_exclude("b c.t");
        assert!(f.keeps_table("a", "x") && !f.keeps_table("b", "x"));
        assert!(f.keeps_table("a", "") && !f.keeps_table("b", ""));
        assert!(!f.keeps_table("c", "t"));
        let mut f = Filter::default();
        f.set_databases_exclude("c.t");
        assert!(!f.keeps_table("c", "t") && f.keeps_table("c", "u") && f.keeps_table("c", ""));
        let mut f = Filter::default();
        f.set_table_names(["a.t1", "b.t2"]);
        assert!(f.is_partial());
        assert!(f.keeps_table("a", "t1") && !f.keeps_table("a", "t10"));
        assert!(f.keeps_table("b", "") && !f.keeps_table("c", ""));
        // db.opt under a list of tables: filtered as a table named `db` (as mariabackup)
        assert!(!f.keeps_file(Path::new("a/db.opt")) && f.keeps_file(Path::new("a/t1.frm")));
        f.set_tables("c.*");
        assert!(f.keeps_table("c", "x") && f.keeps_table("a", "t1"));
    }
}
