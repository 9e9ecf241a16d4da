//! Where each file of a backup goes in a restored server's directories: the system
//! tablespace into `innodb_data_home_dir`, the redo log into `innodb_log_group_home_dir`, the
//! undo tablespaces into `innodb_undo_directory`, the Aria log and control file into
//! `aria_log_dir_path` (as mariabackup's copy-back places them), a tablespace created with
//! `DATA DIRECTORY` (`db/t.ibd` beside a `db/t.isl`) at the path its `.isl` file holds,
//! everything else under the datadir at its path in the backup.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::options::CopyBackOptions;
#[cfg(test)]
use crate::backup::files::isl_target;
use crate::backup::layout::normalized;
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
    /// `innodb_data_file_path` given for the restore: each file name and where it goes.
    system_paths: Vec<(String, PathBuf)>,
    data_file_path: Option<String>,
    /// Tablespaces outside the datadir (`db/t.ibd`, from `db/t.isl`) and where they go.
    remote: BTreeMap<PathBuf, PathBuf>,
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
        let abs = |d: Option<&Path>| d.map(|d| normalized(&datadir.join(d)));
        let data_home = abs(options.innodb_data_home_dir());
        let home = data_home.clone().unwrap_or_else(|| datadir.to_path_buf());
        let system_paths = options
            .innodb_data_file_path()
            .map(|spec| {
                spec.split(';')
                    .filter_map(|e| e.split(':').next())
                    .map(str::trim)
                    .filter_map(|e| {
                        let name = Path::new(e).file_name()?.to_string_lossy().into_owned();
                        Some((name, normalized(&home.join(e))))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Layout {
            datadir: datadir.to_path_buf(),
            system_names: system_names(settings),
            data_home,
            log_home: abs(options.innodb_log_group_home_dir()),
            undo: abs(options.innodb_undo_directory()),
            aria: abs(options.aria_log_dir_path()),
            system_paths,
            data_file_path: options.innodb_data_file_path().map(str::to_string),
            remote: BTreeMap::new(),
        }
    }

    /// The tablespace `ibd` of the backup (`db/t.ibd`) goes to `target` (the path its `.isl`
    /// file holds, absolute or relative to the datadir).
    pub(crate) fn add_remote(&mut self, ibd: PathBuf, target: &Path) {
        let dst = normalized(&self.datadir.join(target));
        self.remote.insert(ibd, dst);
    }

    /// The directory a top-level file named `name` goes into, when it is not the datadir.
    fn special_dir(&self, name: &str) -> Option<&PathBuf> {
        let system = if !self.system_paths.is_empty() {
            // placed by `destination`; any other `ibdataN` stays in the datadir
            false
        } else if self.system_names.is_empty() {
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
        if let Some(dst) = self.remote.get(rel) {
            return dst.clone();
        }
        if let Some((_, dst)) =
            top_name.and_then(|n| self.system_paths.iter().find(|(s, _)| s == n))
        {
            return dst.clone();
        }
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
        let dirs = [&self.data_home, &self.log_home, &self.undo, &self.aria];
        let files = self.system_paths.iter().map(|(_, p)| p);
        let files = files.chain(self.remote.values());
        let parents = files.filter_map(|p| p.parent());
        for d in dirs
            .into_iter()
            .flatten()
            .map(PathBuf::as_path)
            .chain(parents)
        {
            if !roots.contains(&d) {
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
            .chain(
                self.data_file_path
                    .iter()
                    .map(|p| format!("--innodb-data-file-path={p}")),
            )
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
        // the restore's own innodb_data_file_path: absolute, or relative to the home
        o.set_innodb_data_home_dir(Some("".into()))
            .set_innodb_data_file_path(Some("/abs/sys1:6M;sys2:1M:autoextend".into()));
        let l = Layout::new(Path::new("/x"), &o, &s);
        assert_eq!(l.destination(Path::new("sys1")), Path::new("/abs/sys1"));
        assert_eq!(l.destination(Path::new("sys2")), Path::new("/x/sys2"));
        assert!(l.roots().contains(&Path::new("/abs")));
        assert!(l
            .server_options()
            .iter()
            .any(|o| o.starts_with("--innodb-data-file-path=")));
    }

    #[test]
    fn a_data_directory_tablespace_goes_where_its_isl_says() {
        let mut l = Layout::new(
            Path::new("/x/data"),
            &CopyBackOptions::default(),
            &Default::default(),
        );
        let target = isl_target("\n/srv/remote/db/t.ibd\n").unwrap();
        l.add_remote("db/t.ibd".into(), &target);
        l.add_remote("db/u.ibd".into(), Path::new("../rel/db/u.ibd"));
        let dst = |r: &str| l.destination(Path::new(r));
        assert_eq!(dst("db/t.ibd"), Path::new("/srv/remote/db/t.ibd"));
        assert_eq!(dst("db/u.ibd"), Path::new("/x/rel/db/u.ibd"));
        assert_eq!(dst("db/t.isl"), Path::new("/x/data/db/t.isl"));
        assert!(l.is_outside(&dst("db/t.ibd")));
        assert!(l.roots().contains(&Path::new("/srv/remote/db")));
        assert_eq!(isl_target(" \n"), None);
    }
}
