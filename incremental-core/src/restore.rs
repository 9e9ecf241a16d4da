//! Restoring a prepared backup into a data directory (`xb copy-back`).
//!
//! The backup's files are copied into an empty (or absent) datadir, except the backup's own
//! metadata (`xtrabackup_*`, `mariadb_backup_*`, `backup-my.cnf`, `xb_backup_info`). The redo log
//! `ib_logfile0` is copied: the server's crash recovery applies it on first start.
//!
//! While copying, the datadir holds a marker file ([`MARKER`]); a copy that was interrupted is
//! recognised by it, and running the restore again clears what the interrupted run copied and
//! starts over. Nothing outside the datadir is changed, and the backup is only read.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::checkpoints::{BackupType, Checkpoints};
use crate::progress::{Cancel, Event, Progress};

/// Marker present in the datadir while a restore is in progress.
pub const MARKER: &str = ".xb-copy-back-in-progress";

/// Names of backup metadata files that are not copied into a datadir.
pub fn is_backup_metadata(name: &str) -> bool {
    name.starts_with("xtrabackup_")
        || name.starts_with("mariadb_backup_")
        || name == "backup-my.cnf"
        || name == crate::backup_info::FILE_NAME
        || name.starts_with("xb_prepare")
}

/// Why a restore was refused or failed.
#[derive(Debug, Error)]
pub enum RestoreError {
    /// A file could not be read, written or listed.
    #[error("{}: {action}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The backup's checkpoints file is missing or unreadable.
    #[error("{0}")]
    Checkpoints(#[from] crate::error::Error),
    /// The backup is an incremental, or still has unapplied deltas, or a prepare is half done.
    #[error("{}: {why}", path.display())]
    NotRestorable {
        /// The backup directory.
        path: PathBuf,
        /// What is wrong and what to do.
        why: String,
    },
    /// The datadir has files in it that this restore did not put there.
    #[error("{}: the datadir is not empty ({first} and possibly more); restore into an empty or new directory", path.display())]
    DatadirNotEmpty {
        /// The datadir.
        path: PathBuf,
        /// One of the entries found.
        first: String,
    },
    /// The caller cancelled.
    #[error("cancelled; run the restore again to start over")]
    Cancelled,
}

fn io_err<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> RestoreError + 'a {
    move |source| RestoreError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// Server settings a restored datadir needs, from the backup's `backup-my.cnf`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerSettings {
    /// `innodb_page_size` (the server refuses to start with another one).
    pub page_size: Option<u32>,
    /// `innodb_data_file_path`.
    pub data_file_path: Option<String>,
    /// `innodb_undo_tablespaces`.
    pub undo_tablespaces: Option<u32>,
    /// Every `key=value` of the `[mysqld]` group, in file order.
    pub all: Vec<(String, String)>,
}

impl ServerSettings {
    /// Parses `backup-my.cnf` text (`key=value` lines of the `[mysqld]` group).
    ///
    /// ```
    /// use incremental_core::restore::ServerSettings;
    /// let s = ServerSettings::parse("[mysqld]\ninnodb_page_size=4096\ninnodb_undo_tablespaces=0\n");
    /// assert_eq!(s.page_size, Some(4096));
    /// assert_eq!(s.startup_options(), vec!["--innodb-page-size=4096".to_string()]);
    /// ```
    pub fn parse(text: &str) -> ServerSettings {
        let mut s = ServerSettings::default();
        let mut in_server = false;
        for line in text.lines().map(str::trim) {
            if line.starts_with('[') {
                in_server = matches!(line, "[mysqld]" | "[mariadbd]" | "[server]");
                continue;
            }
            if !in_server || line.starts_with('#') || line.is_empty() {
                continue;
            }
            let (k, v) = line.split_once('=').unwrap_or((line, ""));
            let (k, v) = (k.trim().replace('-', "_"), v.trim().to_string());
            match k.as_str() {
                "innodb_page_size" => s.page_size = v.parse().ok(),
                "innodb_data_file_path" => s.data_file_path = Some(v.clone()),
                "innodb_undo_tablespaces" => s.undo_tablespaces = v.parse().ok(),
                _ => {}
            }
            s.all.push((k, v));
        }
        s
    }

    /// Reads `dir/backup-my.cnf`; empty settings if there is none.
    pub fn read_dir(dir: &Path) -> Result<ServerSettings, RestoreError> {
        let p = dir.join("backup-my.cnf");
        match fs::read_to_string(&p) {
            Ok(t) => Ok(ServerSettings::parse(&t)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(ServerSettings::default()),
            Err(e) => Err(io_err("cannot read", &p)(e)),
        }
    }

    /// `mariadbd` options the restored datadir needs beyond the defaults.
    pub fn startup_options(&self) -> Vec<String> {
        let mut o = Vec::new();
        if let Some(p) = self.page_size.filter(|&p| p != 16384) {
            o.push(format!("--innodb-page-size={p}"));
        }
        if let Some(d) = self
            .data_file_path
            .as_ref()
            .filter(|d| d.as_str() != "ibdata1:12M:autoextend")
        {
            o.push(format!("--innodb-data-file-path={d}"));
        }
        if let Some(n) = self.undo_tablespaces.filter(|&n| n != 0) {
            o.push(format!("--innodb-undo-tablespaces={n}"));
        }
        o
    }
}

/// What a restore did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RestoreReport {
    /// Files copied.
    pub files: u64,
    /// Bytes copied.
    pub bytes: u64,
    /// The server settings the datadir needs (from `backup-my.cnf`).
    pub settings: ServerSettings,
}

/// Checks that `backup` can be restored: a full backup (`full-backuped`, `log-applied` or
/// `full-prepared`), no `.delta` files left, no prepare in progress.
pub fn check_restorable(backup: &Path) -> Result<Checkpoints, RestoreError> {
    let cp = Checkpoints::read_dir(backup)?;
    let refuse = |why: String| RestoreError::NotRestorable {
        path: backup.to_path_buf(),
        why,
    };
    if cp.backup_type == BackupType::Incremental {
        return Err(refuse(
            "this is an incremental backup; prepare it onto its base first (xb prepare --target-dir BASE --incremental-dir THIS) and restore the base".into(),
        ));
    }
    for entry in walk(backup)? {
        let name = entry
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.starts_with("xb_prepare") && name.ends_with("journal") {
            return Err(refuse(format!(
                "a prepare was interrupted ({}); run the same xb prepare again to finish it",
                entry.display()
            )));
        }
        if name.ends_with(".delta") {
            return Err(refuse(format!(
                "{} is an unapplied delta: this directory is not a full backup",
                entry.display()
            )));
        }
    }
    Ok(cp)
}

/// Every regular file below `dir`, sorted.
fn walk(dir: &Path) -> Result<Vec<PathBuf>, RestoreError> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).map_err(io_err("cannot list", &d))? {
            let e = e.map_err(io_err("cannot list", &d))?;
            let ft = e.file_type().map_err(io_err("cannot stat", &e.path()))?;
            if ft.is_dir() {
                stack.push(e.path());
            } else if ft.is_file() {
                out.push(e.path());
            }
        }
    }
    out.sort();
    Ok(out)
}

fn create_private_dir(p: &Path) -> Result<(), RestoreError> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(p)
        .map_err(io_err("cannot create directory", p))
}

/// Prepares `datadir` for a restore: creates it (0700) if absent; clears a previous interrupted
/// restore (recognised by [`MARKER`]); refuses any other content.
fn prepare_datadir(datadir: &Path) -> Result<(), RestoreError> {
    if !datadir.exists() {
        return create_private_dir(datadir);
    }
    let mut entries: Vec<_> = fs::read_dir(datadir)
        .map_err(io_err("cannot list", datadir))?
        .collect::<Result<_, _>>()
        .map_err(io_err("cannot list", datadir))?;
    if entries.is_empty() {
        return Ok(());
    }
    if !datadir.join(MARKER).exists() {
        entries.sort_by_key(|e| e.file_name());
        return Err(RestoreError::DatadirNotEmpty {
            path: datadir.to_path_buf(),
            first: entries[0].file_name().to_string_lossy().into_owned(),
        });
    }
    // An interrupted restore: everything here was put by it (the datadir was empty before).
    for e in entries {
        let p = e.path();
        if p.file_name().is_some_and(|n| n == MARKER) {
            continue;
        }
        let r = if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            fs::remove_dir_all(&p)
        } else {
            fs::remove_file(&p)
        };
        r.map_err(io_err(
            "cannot remove the leftover of an interrupted restore",
            &p,
        ))?;
    }
    Ok(())
}

/// Copies the full backup in `backup` into `datadir` (absent or empty), as the server will read
/// it. Files are fsynced; the marker is removed last.
///
/// ```no_run
/// use incremental_core::progress::{Cancel, NoProgress};
/// use incremental_core::restore::copy_back;
/// let r = copy_back("/backups/full".as_ref(), "/var/lib/mysql".as_ref(), &NoProgress, &Cancel::new())?;
/// println!("{} files; start the server with {:?}", r.files, r.settings.startup_options());
/// # Ok::<(), incremental_core::restore::RestoreError>(())
/// ```
pub fn copy_back(
    backup: &Path,
    datadir: &Path,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<RestoreReport, RestoreError> {
    check_restorable(backup)?;
    let settings = ServerSettings::read_dir(backup)?;
    let files: Vec<PathBuf> = walk(backup)?
        .into_iter()
        .filter(|p| {
            let top_level = p.parent() == Some(backup);
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default();
            // `.meta` files are left beside applied deltas by mariabackup's prepare.
            let skip = name.ends_with(".meta") || (top_level && is_backup_metadata(&name));
            !skip
        })
        .collect();
    let total: u64 = files
        .iter()
        .map(|p| fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .sum();
    prepare_datadir(datadir)?;
    let marker = datadir.join(MARKER);
    fs::write(&marker, b"").map_err(io_err("cannot write", &marker))?;
    progress.event(Event::Planned {
        files: files.len() as u64,
        bytes: total,
    });
    let mut report = RestoreReport {
        settings,
        ..Default::default()
    };
    for src in &files {
        if cancel.is_cancelled() {
            return Err(RestoreError::Cancelled);
        }
        let rel = src.strip_prefix(backup).unwrap_or(src);
        let dst = datadir.join(rel);
        if let Some(parent) = dst.parent() {
            create_private_dir(parent)?;
        }
        let len = fs::metadata(src).map_err(io_err("cannot stat", src))?.len();
        progress.event(Event::FileStarted {
            path: rel,
            bytes: len,
        });
        fs::copy(src, &dst).map_err(io_err("cannot copy to the datadir", &dst))?;
        fs::File::open(&dst)
            .and_then(|f| f.sync_all())
            .map_err(io_err("cannot sync", &dst))?;
        report.files += 1;
        report.bytes += len;
        progress.event(Event::Pages {
            scanned: 0,
            copied: 0,
            bytes: len,
        });
        progress.event(Event::FileDone { path: rel });
    }
    fs::remove_file(&marker).map_err(io_err("cannot remove", &marker))?;
    fs::File::open(datadir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("cannot sync", datadir))?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::NoProgress;

    fn fixture(p: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/data/mariadb-10.11/backup")
            .join(p)
    }

    #[test]
    fn restores_a_full_backup_without_its_metadata() {
        let t = tempfile::tempdir().unwrap();
        let dd = t.path().join("data");
        let r = copy_back(&fixture("full"), &dd, &NoProgress, &Cancel::new()).unwrap();
        assert_eq!(r.files, 2);
        assert_eq!(r.settings.page_size, Some(16384));
        assert!(r.settings.startup_options().is_empty());
        assert_eq!(
            fs::read(dd.join("fx/t_small.ibd")).unwrap(),
            fs::read(fixture("full/fx/t_small.ibd")).unwrap()
        );
        assert!(dd.join("ib_logfile0").exists());
        for gone in [
            "xtrabackup_checkpoints",
            "xtrabackup_info",
            "backup-my.cnf",
            MARKER,
        ] {
            assert!(!dd.join(gone).exists(), "{gone}");
        }
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(&dd).unwrap().permissions().mode() & 0o777,
            0o700
        );
        // The datadir is no longer empty: a second restore is refused.
        let e = copy_back(&fixture("full"), &dd, &NoProgress, &Cancel::new()).unwrap_err();
        assert!(matches!(e, RestoreError::DatadirNotEmpty { .. }), "{e}");
    }

    #[test]
    fn refuses_incrementals_and_resumes_interrupted_restores() {
        let t = tempfile::tempdir().unwrap();
        let e = copy_back(
            &fixture("inc1"),
            &t.path().join("d"),
            &NoProgress,
            &Cancel::new(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("incremental"), "{e}");
        assert!(!t.path().join("d").exists());
        // An interrupted restore leaves the marker and partial files; a rerun starts over.
        let dd = t.path().join("d2");
        fs::create_dir_all(dd.join("fx")).unwrap();
        fs::write(dd.join(MARKER), b"").unwrap();
        fs::write(dd.join("fx/t_small.ibd"), b"partial").unwrap();
        copy_back(&fixture("full"), &dd, &NoProgress, &Cancel::new()).unwrap();
        assert_eq!(
            fs::metadata(dd.join("fx/t_small.ibd")).unwrap().len(),
            65536
        );
        assert!(!dd.join(MARKER).exists());
    }

    #[test]
    fn cancel_leaves_the_marker() {
        let t = tempfile::tempdir().unwrap();
        let c = Cancel::new();
        c.cancel();
        let dd = t.path().join("d");
        assert!(matches!(
            copy_back(&fixture("full"), &dd, &NoProgress, &c),
            Err(RestoreError::Cancelled)
        ));
        assert!(dd.join(MARKER).exists());
    }
}
