//! Where a source server keeps the files that need not be in its datadir: the system
//! tablespace (`innodb_data_home_dir`), the redo log (`innodb_log_group_home_dir`), the undo
//! tablespaces (`innodb_undo_directory`), the Aria log and control file (`aria_log_dir_path`),
//! and the binary logs (`log_bin`). A relative directory is relative to the datadir, as for
//! the server.
//!
//! A backup holds these files at its top level, as mariabackup's does (`ibdata1`,
//! `ib_logfile0`, `undo001`, `aria_log_control`, …), so that a prepare and a copy-back find
//! them there; the copy-back's own layout options put them back in such directories.
//!
//! A hot backup takes each directory not given from the server's variable of the same name,
//! and the system tablespace's files from its `innodb_data_file_path` (names absolute, or
//! relative to `innodb_data_home_dir`; a server without InnoDB has none of these variables).

use std::path::{Path, PathBuf};

use innodb_page::datadir::{self, DatadirFiles};
use innodb_page::redo::file::log_file_path;

use super::BackupError;

/// The directories of a source's files outside its datadir (`None`: in the datadir).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SourceDirs {
    /// `innodb_data_home_dir`: the system tablespace.
    pub data_home: Option<PathBuf>,
    /// `innodb_log_group_home_dir`: the redo log.
    pub log_group_home: Option<PathBuf>,
    /// `innodb_undo_directory`: the undo tablespaces.
    pub undo: Option<PathBuf>,
    /// `aria_log_dir_path`: `aria_log_control` and `aria_log.N`.
    pub aria_log: Option<PathBuf>,
    /// `log_bin`: the binary logs' base name.
    pub log_bin: Option<PathBuf>,
    /// `innodb_data_file_path` (`None`: the `ibdataN` files of `data_home`).
    pub data_file_path: Option<String>,
}

/// The file paths of `innodb_data_file_path` (`ibdata1:12M;/abs/ibdata2:1M:autoextend`), as
/// written (absolute, or relative to `innodb_data_home_dir`).
pub(crate) fn data_file_names(spec: &str) -> Vec<PathBuf> {
    spec.split(';')
        .filter_map(|e| e.split(':').next())
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(PathBuf::from)
        .collect()
}

/// `dir` made absolute against the datadir, when it is set and is not the datadir itself.
fn elsewhere(dd: &Path, dir: Option<&PathBuf>) -> Option<PathBuf> {
    let d = normalized(&dd.join(dir?));
    let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    (canon(&d) != canon(dd)).then_some(d)
}

fn numbered(name: &str, prefix: &str) -> bool {
    name.strip_prefix(prefix)
        .is_some_and(|r| !r.is_empty() && r.bytes().all(|b| b.is_ascii_digit()))
}

/// The files of `dir` whose names satisfy `keep`, sorted.
fn files_named(dir: &Path, keep: impl Fn(&str) -> bool) -> Result<Vec<PathBuf>, BackupError> {
    let entries = std::fs::read_dir(dir).map_err(|source| BackupError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut out: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter(|e| keep(&e.file_name().to_string_lossy()))
        .map(|e| e.path())
        .collect();
    out.sort();
    Ok(out)
}

impl SourceDirs {
    /// The directory of the redo log.
    pub(crate) fn log_dir(&self, dd: &Path) -> PathBuf {
        elsewhere(dd, self.log_group_home.as_ref()).unwrap_or_else(|| dd.to_path_buf())
    }

    /// The files outside the datadir a running server keeps locked: the first file of the
    /// system tablespace and the redo log.
    pub(crate) fn lock_probes(&self, dd: &Path) -> Vec<PathBuf> {
        let mut probes = Vec::new();
        if let Some(first) = self.named_system_files(dd).into_iter().next() {
            if first.parent() != Some(dd) {
                probes.push(first);
            }
        } else if let Some(home) = elsewhere(dd, self.data_home.as_ref()) {
            let first = datadir::system_files(&home)
                .ok()
                .and_then(|f| f.into_iter().next());
            probes.push(first.unwrap_or_else(|| home.join("ibdata1")));
        }
        if let Some(logs) = elsewhere(dd, self.log_group_home.as_ref()) {
            probes.push(log_file_path(&logs));
        }
        probes
    }

    /// The system tablespace's files `innodb_data_file_path` names, in its order (empty when
    /// it is not known).
    fn named_system_files(&self, dd: &Path) -> Vec<PathBuf> {
        let Some(spec) = &self.data_file_path else {
            return Vec::new();
        };
        let home = elsewhere(dd, self.data_home.as_ref()).unwrap_or_else(|| dd.to_path_buf());
        data_file_names(spec)
            .into_iter()
            .map(|n| normalized(&home.join(n)))
            .collect()
    }

    /// Adds the files kept outside the datadir to its listing `files`. The files named by
    /// `innodb_data_file_path` must exist ([`BackupError::Io`] naming the one missing).
    pub(crate) fn add_files(&self, dd: &Path, files: &mut DatadirFiles) -> Result<(), BackupError> {
        let named = self.named_system_files(dd);
        if !named.is_empty() {
            for p in &named {
                std::fs::metadata(p).map_err(|source| BackupError::Io {
                    path: p.clone(),
                    source,
                })?;
            }
            // a name that is not `ibdataN` was listed as another file of the datadir
            let ours = |p: &PathBuf| named.contains(p);
            files.other.retain(|p| !ours(p));
            files.skipped.retain(|p| !ours(p));
            files.system = named;
        } else if let Some(home) = elsewhere(dd, self.data_home.as_ref()) {
            files.system = datadir::system_files(&home)?;
        }
        if let Some(undo) = elsewhere(dd, self.undo.as_ref()) {
            files.undo.retain(|p| p.parent() != Some(dd));
            files
                .undo
                .extend(files_named(&undo, |n| numbered(n, "undo"))?);
        }
        if let Some(logs) = elsewhere(dd, self.log_group_home.as_ref()) {
            files.redo = files_named(&logs, |n| numbered(n, "ib_logfile"))?;
        }
        if let Some(aria) = elsewhere(dd, self.aria_log.as_ref()) {
            let aria_file = |n: &str| n == "aria_log_control" || numbered(n, "aria_log.");
            files.other.extend(files_named(&aria, aria_file)?);
            files.other.sort();
        }
        Ok(())
    }

    /// The binary logs' base name, absolute.
    pub(crate) fn log_bin(&self, dd: &Path) -> Option<PathBuf> {
        self.log_bin.as_ref().map(|b| dd.join(b))
    }

    /// Each directory not set taken from the running server's variable of the same name, and
    /// its `innodb_data_file_path`. A variable the server does not have (no InnoDB, no Aria)
    /// leaves its setting as it was. Returns whether the server runs InnoDB (one started with
    /// `--skip-innodb` has none of its variables).
    #[cfg(feature = "hot")]
    pub(crate) fn fill_from(
        &mut self,
        server: &mut super::server::Server,
    ) -> Result<bool, super::ServerError> {
        let vars = server.name_values(
            "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('innodb_data_home_dir', \
             'innodb_log_group_home_dir', 'innodb_undo_directory', 'aria_log_dir_path', \
             'innodb_data_file_path')",
        )?;
        let value = |name: &str| vars.get(name).filter(|s| !s.is_empty()).map(str::to_string);
        let slots = [
            (&mut self.data_home, "innodb_data_home_dir"),
            (&mut self.log_group_home, "innodb_log_group_home_dir"),
            (&mut self.undo, "innodb_undo_directory"),
            (&mut self.aria_log, "aria_log_dir_path"),
        ];
        for (slot, name) in slots {
            if slot.is_none() {
                *slot = value(name).map(PathBuf::from);
            }
        }
        let innodb = vars.get("innodb_data_file_path").is_some();
        if self.data_file_path.is_none() {
            self.data_file_path = value("innodb_data_file_path");
        }
        Ok(innodb)
    }
}

/// `p` without `.` components and with each `..` taking away the component before it (the
/// path the server opens when no symbolic link is involved).
pub(crate) fn normalized(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_outside_the_datadir_are_listed() {
        let t = tempfile::tempdir().unwrap();
        let (dd, sys, logs, undo, aria) = (
            t.path().join("data"),
            t.path().join("sys"),
            t.path().join("logs"),
            t.path().join("undo"),
            t.path().join("aria"),
        );
        for d in [&dd, &sys, &logs, &undo, &aria] {
            std::fs::create_dir(d).unwrap();
        }
        for f in [
            sys.join("ibdata1"),
            logs.join("ib_logfile0"),
            undo.join("undo001"),
            undo.join("undo002"),
            aria.join("aria_log_control"),
            aria.join("aria_log.00000001"),
            aria.join("other"),
        ] {
            std::fs::write(f, b"").unwrap();
        }
        let dirs = SourceDirs {
            data_home: Some(sys.clone()),
            log_group_home: Some("../logs".into()),
            undo: Some(undo.clone()),
            aria_log: Some(aria.clone()),
            log_bin: None,
            data_file_path: None,
        };
        let mut files = DatadirFiles::default();
        dirs.add_files(&dd, &mut files).unwrap();
        assert_eq!(files.system, [sys.join("ibdata1")]);
        assert_eq!(files.undo, [undo.join("undo001"), undo.join("undo002")]);
        assert_eq!(files.redo, [logs.join("ib_logfile0")]);
        assert_eq!(files.other.len(), 2);
        assert_eq!(dirs.log_dir(&dd), logs);
        assert_eq!(dirs.lock_probes(&dd).len(), 2);
        let same = SourceDirs {
            log_group_home: Some("./".into()),
            ..Default::default()
        };
        assert_eq!(same.log_dir(&dd), dd);
        assert!(same.lock_probes(&dd).is_empty());
        // a relative directory above the datadir is a directory of its own
        let up = SourceDirs {
            aria_log: Some("../aria".into()),
            ..Default::default()
        };
        let mut files = DatadirFiles::default();
        up.add_files(&dd, &mut files).unwrap();
        assert_eq!(
            files.other,
            [
                aria.join("aria_log.00000001"),
                aria.join("aria_log_control")
            ]
        );
    }

    #[test]
    fn the_data_file_path_names_the_system_tablespace() {
        let t = tempfile::tempdir().unwrap();
        let (dd, sys) = (t.path().join("data"), t.path().join("sys"));
        std::fs::create_dir(&dd).unwrap();
        std::fs::create_dir(&sys).unwrap();
        std::fs::write(sys.join("first"), b"").unwrap();
        std::fs::write(dd.join("second"), b"").unwrap();
        let dirs = SourceDirs {
            data_file_path: Some(format!(
                "{}:6M;second:1M:autoextend",
                sys.join("first").display()
            )),
            ..Default::default()
        };
        let mut files = DatadirFiles::default();
        files.other.push(dd.join("second"));
        dirs.add_files(&dd, &mut files).unwrap();
        assert_eq!(files.system, [sys.join("first"), dd.join("second")]);
        assert!(files.other.is_empty());
        assert_eq!(dirs.lock_probes(&dd), [sys.join("first")]);
        let missing = SourceDirs {
            data_file_path: Some("ibdata1:12M:autoextend".into()),
            ..Default::default()
        };
        let e = missing
            .add_files(&dd, &mut DatadirFiles::default())
            .unwrap_err();
        assert!(
            matches!(e, BackupError::Io { ref path, .. } if path == &dd.join("ibdata1")),
            "{e}"
        );
    }
}
