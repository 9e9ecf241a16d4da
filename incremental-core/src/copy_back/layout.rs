//! Where each file of a backup goes in a restored server's directories: the system
//! tablespace into `innodb_data_home_dir`, the redo log into `innodb_log_group_home_dir`, the
//! undo tablespaces into `innodb_undo_directory`, the Aria log and control file into
//! `aria_log_dir_path` (as mariabackup's copy-back places them), everything else under the
//! datadir at its path in the backup.

use std::path::{Path, PathBuf};

use super::options::CopyBackOptions;
use crate::format::backup_my_cnf::ServerSettings;

/// The directories of a restored server.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    datadir: PathBuf,
    system_names: Vec<String>,
    data_home: Option<PathBuf>,
    log_home: Option<PathBuf>,
    undo: Option<PathBuf>,
    aria: Option<PathBuf>,
}

fn numbered(name: &str, prefix: &str) -> bool {
    name.strip_prefix(prefix)
        .is_some_and(|r| !r.is_empty() && r.bytes().all(|b| b.is_ascii_digit()))
}

/// The system tablespace's file names of `innodb_data_file_path` (`ibdata1:12M;ibdata2:…`).
fn system_names(settings: &ServerSettings) -> Vec<String> {
    let Some(path) = &settings.data_file_path else {
        return Vec::new();
    };
    path.split(';')
        .filter_map(|f| f.split(':').next())
        .filter_map(|n| Path::new(n.trim()).file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .collect()
}

impl Layout {
    /// The layout of `options` for a restore into `datadir` of a backup with `settings`.
    pub(crate) fn new(
        datadir: &Path,
        options: &CopyBackOptions,
        settings: &ServerSettings,
    ) -> Layout {
        let abs = |d: Option<&Path>| d.map(|d| datadir.join(d));
        Layout {
            datadir: datadir.to_path_buf(),
            system_names: system_names(settings),
            data_home: abs(options.innodb_data_home_dir()),
            log_home: abs(options.innodb_log_group_home_dir()),
            undo: abs(options.innodb_undo_directory()),
            aria: abs(options.aria_log_dir_path()),
        }
    }

    /// The directory a top-level file named `name` goes into, when it is not the datadir.
    fn special_dir(&self, name: &str) -> Option<&PathBuf> {
        let system = if self.system_names.is_empty() {
            numbered(name, "ibdata")
        } else {
            self.system_names.iter().any(|n| n == name)
        };
        if system {
            self.data_home.as_ref()
        } else if numbered(name, "ib_logfile") {
            self.log_home.as_ref()
        } else if numbered(name, "undo") {
            self.undo.as_ref()
        } else if name == "aria_log_control" || numbered(name, "aria_log.") {
            self.aria.as_ref()
        } else {
            None
        }
    }

    /// Where the backup's file `rel` goes.
    pub(crate) fn destination(&self, rel: &Path) -> PathBuf {
        let top_name = match (rel.components().count(), rel.file_name()) {
            (1, Some(n)) => n.to_str(),
            _ => None,
        };
        match top_name.and_then(|n| self.special_dir(n)) {
            Some(dir) => dir.join(rel),
            None => self.datadir.join(rel),
        }
    }

    /// Whether `dst` is outside the datadir (in a layout directory elsewhere).
    pub(crate) fn is_outside(&self, dst: &Path) -> bool {
        !dst.starts_with(&self.datadir)
    }

    /// Every directory files go into (the datadir first).
    pub(crate) fn roots(&self) -> Vec<&Path> {
        let mut roots = vec![self.datadir.as_path()];
        for d in [&self.data_home, &self.log_home, &self.undo, &self.aria]
            .into_iter()
            .flatten()
        {
            if !roots.contains(&d.as_path()) {
                roots.push(d);
            }
        }
        roots
    }

    /// The server options that tell a server where the files are (none when all are in the
    /// datadir).
    pub(crate) fn server_options(&self) -> Vec<String> {
        let named = [
            ("innodb-data-home-dir", &self.data_home),
            ("innodb-log-group-home-dir", &self.log_home),
            ("innodb-undo-directory", &self.undo),
            ("aria-log-dir-path", &self.aria),
        ];
        named
            .into_iter()
            .filter_map(|(k, v)| v.as_ref().map(|d| format!("--{k}={}", d.display())))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_innodb_and_aria_files_in_their_directories() {
        let mut o = CopyBackOptions::default();
        o.set_innodb_data_home_dir(Some("/d/sys".into()))
            .set_innodb_log_group_home_dir(Some("redo".into()))
            .set_innodb_undo_directory(Some("/d/undo".into()))
            .set_aria_log_dir_path(Some("/d/aria".into()));
        let l = Layout::new(Path::new("/d/data"), &o, &ServerSettings::default());
        let dst = |r: &str| l.destination(Path::new(r));
        assert_eq!(dst("ibdata1"), Path::new("/d/sys/ibdata1"));
        assert_eq!(dst("ib_logfile0"), Path::new("/d/data/redo/ib_logfile0"));
        assert_eq!(dst("undo001"), Path::new("/d/undo/undo001"));
        assert_eq!(
            dst("aria_log.00000001"),
            Path::new("/d/aria/aria_log.00000001")
        );
        assert_eq!(
            dst("aria_log_control"),
            Path::new("/d/aria/aria_log_control")
        );
        assert_eq!(dst("db/ibdata1"), Path::new("/d/data/db/ibdata1"));
        assert_eq!(dst("db/t.ibd"), Path::new("/d/data/db/t.ibd"));
        assert!(!l.is_outside(&dst("ib_logfile0")) && l.is_outside(&dst("undo001")));
        assert_eq!(l.roots().len(), 5);
        assert_eq!(l.server_options().len(), 4);
        let none = Layout::new(
            Path::new("/x"),
            &CopyBackOptions::default(),
            &Default::default(),
        );
        assert_eq!(
            none.destination(Path::new("ibdata1")),
            Path::new("/x/ibdata1")
        );
        assert!(none.server_options().is_empty());
    }

    #[test]
    fn system_files_follow_the_data_file_path() {
        let s =
            ServerSettings::parse("[mysqld]\ninnodb_data_file_path=sys1:12M;sys2:12M:autoextend\n");
        let mut o = CopyBackOptions::default();
        o.set_innodb_data_home_dir(Some("/h".into()));
        let l = Layout::new(Path::new("/x"), &o, &s);
        assert_eq!(l.destination(Path::new("sys2")), Path::new("/h/sys2"));
        assert_eq!(l.destination(Path::new("ibdata1")), Path::new("/x/ibdata1"));
    }
}
