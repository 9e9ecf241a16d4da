//! Finding the InnoDB files of a data directory.
//!
//! Classification is by name, as the servers lay datadirs out:
//!
//! * system tablespace: `ibdata1`, `ibdata2`, … (one tablespace, in numeric order);
//! * undo tablespaces: `undo001`… (MySQL 5.7, MariaDB), `undo_001`… and `*.ibu` (MySQL 8);
//! * other tablespaces: `*.ibd` at the top level (MySQL 8 `mysql.ibd`, general tablespaces) and
//!   one directory down (file-per-table, one directory per database);
//! * redo logs: `ib_logfile<N>` and `#innodb_redo/#ib_redo<N>`;
//! * never tablespaces to read: the temporary tablespace `ibtmp1`, MySQL 8 session temporary
//!   tablespaces (`#innodb_temp/`, `*.ibt`), doublewrite files `*.dblwr`, changed-page bitmaps
//!   `*.xdb`, `ib_buffer_pool`.
//!
//! Everything else is listed as [`DatadirFiles::other`]: the non-InnoDB files a backup copies
//! whole (`.frm`, `.MYD`, `.opt`, Aria files, …).
//!
//! # Is a server running on it?
//!
//! A running server holds a POSIX (`fcntl`) write lock on its system tablespace and its redo
//! log. [`lock_holder`] and [`server_holding`] probe those locks with `F_GETLK` ([`locked_by`]),
//! without taking any lock, so the probe never disturbs the server.

use std::fs::{self, File};
use std::io;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use crate::redo::file::{log_file_path, LOG_FILE_PREFIX, REDO_DIR, REDO_FILE_PREFIX};
use crate::Error;

/// The files of a datadir, by role. Paths are absolute (joined to the datadir given).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DatadirFiles {
    /// The system tablespace's files in order (`ibdata1`, `ibdata2`, …).
    pub system: Vec<PathBuf>,
    /// Undo tablespaces.
    pub undo: Vec<PathBuf>,
    /// Other tablespaces (`*.ibd`), sorted.
    pub tablespaces: Vec<PathBuf>,
    /// Redo log files.
    pub redo: Vec<PathBuf>,
    /// Files the InnoDB layer skips on purpose (temporary tablespaces and the like).
    pub skipped: Vec<PathBuf>,
    /// Everything else (non-InnoDB files), sorted.
    pub other: Vec<PathBuf>,
}

impl DatadirFiles {
    /// Every tablespace as a list of files: the system tablespace first (all its files as one
    /// entry), then undo tablespaces, then the rest.
    pub fn tablespace_groups(&self) -> Vec<Vec<PathBuf>> {
        let mut out = Vec::new();
        if !self.system.is_empty() {
            out.push(self.system.clone());
        }
        out.extend(
            self.undo
                .iter()
                .chain(&self.tablespaces)
                .map(|p| vec![p.clone()]),
        );
        out
    }
}

fn numbered(name: &str, prefix: &str) -> Option<u64> {
    let rest = name.strip_prefix(prefix)?;
    if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    rest.parse().ok()
}

/// What a top-level or database-directory file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    System(u64),
    Undo,
    Tablespace,
    Redo,
    Skipped,
    Other,
}

fn role(name: &str, top: bool) -> Role {
    if top {
        if let Some(n) = numbered(name, "ibdata") {
            return Role::System(n);
        }
        if numbered(name, "undo").is_some() || numbered(name, "undo_").is_some() {
            return Role::Undo;
        }
        if numbered(name, LOG_FILE_PREFIX).is_some() {
            return Role::Redo;
        }
        if name == "ibtmp1" || name == "ib_buffer_pool" || name.starts_with("ib_modified_log_") {
            return Role::Skipped;
        }
    }
    if name.ends_with(".ibu") {
        Role::Undo
    } else if name.ends_with(".ibd") {
        Role::Tablespace
    } else if name.ends_with(".ibt") || name.ends_with(".dblwr") || name.ends_with(".xdb") {
        Role::Skipped
    } else {
        Role::Other
    }
}

fn entries(dir: &Path) -> Result<Vec<(String, PathBuf, fs::FileType)>, Error> {
    let rd = fs::read_dir(dir).map_err(|e| Error::io(dir, 0, e))?;
    let mut out = Vec::new();
    for e in rd {
        let e = e.map_err(|e| Error::io(dir, 0, e))?;
        let ft = e.file_type().map_err(|err| Error::io(e.path(), 0, err))?;
        out.push((e.file_name().to_string_lossy().into_owned(), e.path(), ft));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// The system tablespace's files in `dir` (`ibdata1`, `ibdata2`, …) in numeric order, reading
/// only the top level of the directory.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// for f in ["ibdata10", "ibdata2", "ibdata1", "ibdata", "ib_logfile0"] {
///     std::fs::write(dir.path().join(f), b"").unwrap();
/// }
/// let names: Vec<_> = innodb_page::datadir::system_files(dir.path()).unwrap()
///     .iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
/// assert_eq!(names, ["ibdata1", "ibdata2", "ibdata10"]);
/// ```
pub fn system_files(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let mut system: Vec<(u64, PathBuf)> = entries(dir)?
        .into_iter()
        .filter(|(_, _, ft)| ft.is_file())
        .filter_map(|(name, path, _)| numbered(&name, "ibdata").map(|n| (n, path)))
        .collect();
    system.sort();
    Ok(system.into_iter().map(|(_, p)| p).collect())
}

/// The files of the tablespace `path` belongs to: for `ibdataN`, every `ibdataN` beside it in
/// numeric order; otherwise the file alone.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// for f in ["ibdata1", "ibdata2", "t.ibd"] {
///     std::fs::write(dir.path().join(f), b"").unwrap();
/// }
/// let files = innodb_page::datadir::tablespace_files(&dir.path().join("ibdata2"));
/// assert_eq!(files, [dir.path().join("ibdata1"), dir.path().join("ibdata2")]);
/// let files = innodb_page::datadir::tablespace_files(&dir.path().join("t.ibd"));
/// assert_eq!(files, [dir.path().join("t.ibd")]);
/// ```
pub fn tablespace_files(path: &Path) -> Vec<PathBuf> {
    let dir = path.parent().unwrap_or(Path::new("."));
    match system_files(dir) {
        Ok(system) if system.iter().any(|p| p.file_name() == path.file_name()) => system,
        _ => vec![path.to_path_buf()],
    }
}

/// Lists the files of `datadir` by role (see the module documentation).
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// std::fs::write(dir.path().join("ibdata1"), b"").unwrap();
/// std::fs::write(dir.path().join("ibtmp1"), b"").unwrap();
/// std::fs::create_dir(dir.path().join("db")).unwrap();
/// std::fs::write(dir.path().join("db/t.ibd"), b"").unwrap();
/// std::fs::write(dir.path().join("db/t.frm"), b"").unwrap();
/// let f = innodb_page::datadir::scan(dir.path()).unwrap();
/// assert_eq!(f.system.len(), 1);
/// assert_eq!(f.tablespaces, vec![dir.path().join("db/t.ibd")]);
/// assert_eq!(f.other, vec![dir.path().join("db/t.frm")]);
/// assert_eq!(f.skipped, vec![dir.path().join("ibtmp1")]);
/// ```
pub fn scan(datadir: &Path) -> Result<DatadirFiles, Error> {
    let mut out = DatadirFiles::default();
    let mut system = Vec::new();
    for (name, path, ft) in entries(datadir)? {
        if ft.is_dir() {
            match name.as_str() {
                REDO_DIR => {
                    for (n, p, t) in entries(&path)? {
                        if t.is_file() && numbered(&n, REDO_FILE_PREFIX).is_some() {
                            out.redo.push(p);
                        } else {
                            out.skipped.push(p);
                        }
                    }
                }
                "#innodb_temp" => out.skipped.push(path),
                _ => {
                    for (n, p, t) in entries(&path)? {
                        if !t.is_file() {
                            continue;
                        }
                        match role(&n, false) {
                            Role::Tablespace => out.tablespaces.push(p),
                            Role::Undo => out.undo.push(p),
                            Role::Skipped => out.skipped.push(p),
                            _ => out.other.push(p),
                        }
                    }
                }
            }
            continue;
        }
        if !ft.is_file() {
            continue;
        }
        match role(&name, true) {
            Role::System(n) => system.push((n, path)),
            Role::Undo => out.undo.push(path),
            Role::Tablespace => out.tablespaces.push(path),
            Role::Redo => out.redo.push(path),
            Role::Skipped => out.skipped.push(path),
            Role::Other => out.other.push(path),
        }
    }
    system.sort();
    out.system = system.into_iter().map(|(_, p)| p).collect();
    out.tablespaces.sort();
    out.other.sort();
    Ok(out)
}

/// The process holding a conflicting POSIX lock on `path`, if any (`fcntl(F_GETLK)` for a
/// write lock over the whole file; no lock is taken). `Ok(None)` when the file is not locked.
/// Locks held by the calling process itself never conflict, so they are not seen.
///
/// ```
/// let f = tempfile::NamedTempFile::new().unwrap();
/// assert_eq!(innodb_page::datadir::locked_by(f.path()).unwrap(), None);
/// assert!(innodb_page::datadir::locked_by("/nonexistent/ibdata1".as_ref()).is_err());
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
    // SAFETY: F_GETLK reads and writes the flock structure we own; the fd is valid while
    // `file` lives.
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

/// A process holding a lock on a file of a datadir: a server running on it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LockHolder {
    /// The locked file.
    pub path: PathBuf,
    /// The process id of the holder.
    pub pid: i32,
}

/// The files a running server keeps locked, in the order they are probed: the first file of
/// the system tablespace (`ibdata1`) and the redo log (`ib_logfile0`).
fn lock_probes(datadir: &Path) -> Vec<PathBuf> {
    let system = system_files(datadir)
        .ok()
        .and_then(|f| f.into_iter().next())
        .unwrap_or_else(|| datadir.join("ibdata1"));
    vec![system, log_file_path(datadir)]
}

/// The server running on `datadir`, found by its POSIX locks on the system tablespace and the
/// redo log ([`locked_by`]); files that do not exist are skipped. An error names the file that
/// could not be probed ([`Error::Io`]).
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// std::fs::write(dir.path().join("ibdata1"), b"").unwrap();
/// assert_eq!(innodb_page::datadir::lock_holder(dir.path()).unwrap(), None);
/// ```
pub fn lock_holder(datadir: &Path) -> Result<Option<LockHolder>, Error> {
    for path in lock_probes(datadir) {
        if !path.exists() {
            continue;
        }
        match locked_by(&path) {
            Ok(Some(pid)) => return Ok(Some(LockHolder { path, pid })),
            Ok(None) => {}
            Err(e) => return Err(Error::io(path, 0, e)),
        }
    }
    Ok(None)
}

/// The process id of the server running on `datadir`, if any: like [`lock_holder`], but a file
/// that cannot be probed counts as not locked.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// assert_eq!(innodb_page::datadir::server_holding(dir.path()), None);
/// ```
pub fn server_holding(datadir: &Path) -> Option<i32> {
    lock_probes(datadir)
        .iter()
        .find_map(|p| locked_by(p).ok().flatten())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_a_mixed_datadir() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        for f in [
            "ibdata10",
            "ibdata2",
            "ibdata1",
            "undo001",
            "undo_002",
            "ib_logfile0",
            "ib_logfile1",
            "ibtmp1",
            "mysql.ibd",
            "aria_log.00000001",
            "ib_modified_log_1_0.xdb",
            "x.ibu",
            "ib_buffer_pool",
            "ibdata",
            "#ib_16384_0.dblwr",
        ] {
            fs::write(r.join(f), b"").unwrap();
        }
        fs::create_dir_all(r.join("db")).unwrap();
        fs::create_dir_all(r.join("#innodb_redo")).unwrap();
        fs::create_dir_all(r.join("#innodb_temp")).unwrap();
        for f in [
            "db/a.ibd",
            "db/a.frm",
            "db/db.opt",
            "#innodb_redo/#ib_redo7",
            "#innodb_redo/#ib_redo8_tmp",
        ] {
            fs::write(r.join(f), b"").unwrap();
        }
        let s = scan(r).unwrap();
        let names = |v: &[PathBuf]| {
            v.iter()
                .map(|p| p.strip_prefix(r).unwrap().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&s.system), ["ibdata1", "ibdata2", "ibdata10"]);
        assert_eq!(names(&s.undo), ["undo001", "undo_002", "x.ibu"]);
        assert_eq!(names(&s.tablespaces), ["db/a.ibd", "mysql.ibd"]);
        assert_eq!(
            names(&s.redo),
            ["#innodb_redo/#ib_redo7", "ib_logfile0", "ib_logfile1"]
        );
        assert_eq!(
            names(&s.other),
            ["aria_log.00000001", "db/a.frm", "db/db.opt", "ibdata"]
        );
        assert_eq!(s.tablespace_groups().len(), 1 + 3 + 2);
        assert!(names(&s.skipped).contains(&"ibtmp1".to_string()));
    }

    /// Set in the child process of [`a_lock_held_by_another_process_is_seen`]: the file to
    /// lock as a server does.
    const HOLD_LOCK: &str = "INNODB_PAGE_TEST_HOLD_LOCK";

    /// Takes a POSIX write lock on `path` as `mariadbd` does, says so on stdout, and keeps it
    /// until stdin is closed.
    fn hold_lock(path: &Path) {
        use std::io::{BufRead, Write};
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .unwrap();
        let fl = libc::flock {
            l_type: libc::F_WRLCK as libc::c_short,
            l_whence: libc::SEEK_SET as libc::c_short,
            l_start: 0,
            l_len: 0,
            l_pid: 0,
        };
        // SAFETY: F_SETLK reads the flock structure we own; the fd is valid while `file` lives.
        #[allow(unsafe_code)]
        let r = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLK, &fl) };
        assert_eq!(r, 0, "{}", io::Error::last_os_error());
        println!("locked");
        io::stdout().flush().unwrap();
        let mut line = String::new();
        let _ = io::stdin().lock().read_line(&mut line);
        drop(file);
    }

    #[test]
    fn a_lock_held_by_another_process_is_seen() {
        use std::io::{BufRead, BufReader};
        use std::process::{Command, Stdio};
        if let Some(path) = std::env::var_os(HOLD_LOCK) {
            hold_lock(Path::new(&path));
            return;
        }
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        fs::write(r.join("ibdata1"), b"").unwrap();
        fs::write(r.join("ib_logfile0"), b"").unwrap();
        // Own locks never conflict with ourselves: the lock is taken by a child process (this
        // test binary, running only this test).
        assert_eq!(lock_holder(r).unwrap(), None);
        assert_eq!(server_holding(r), None);
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "datadir::tests::a_lock_held_by_another_process_is_seen",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(HOLD_LOCK, log_file_path(r))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        // The harness prints "test … … " before the test's own output, on the same line.
        while !line.trim_end().ends_with("locked") {
            line.clear();
            assert_ne!(
                out.read_line(&mut line).unwrap(),
                0,
                "the child did not lock"
            );
        }
        let pid = i32::try_from(child.id()).unwrap();
        assert_eq!(locked_by(&r.join("ibdata1")).unwrap(), None);
        assert_eq!(locked_by(&log_file_path(r)).unwrap(), Some(pid));
        assert_eq!(
            lock_holder(r).unwrap(),
            Some(LockHolder {
                path: log_file_path(r),
                pid
            })
        );
        assert_eq!(server_holding(r), Some(pid));
        drop(child.stdin.take());
        assert!(child.wait().unwrap().success());
        assert_eq!(server_holding(r), None);
        fs::remove_file(r.join("ib_logfile0")).unwrap();
        assert_eq!(lock_holder(r).unwrap(), None, "missing files are skipped");
    }
}
