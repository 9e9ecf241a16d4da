//! Database directories without files: a backup keeps them as mariabackup does, with an empty
//! `db.opt` in each (a stream carries no directory, and a server lists every directory of its
//! datadir as a database: `mkdir datadir/db5` makes database `db5`).

use std::io;
use std::path::{Path, PathBuf};

use super::files::Filter;
use super::sink::{put, Sink};
use super::BackupError;

/// The database directories of the datadir `dd` that hold no entry at all, that the filter
/// keeps and that are not among `ignored` (the server's `ignore_db_dirs`: not databases), as
/// the paths of the `db.opt` files that stand for them (relative), sorted. A server's own
/// directories (`#innodb_redo`, `#innodb_temp`) and hidden ones are not databases.
pub(crate) fn empty_databases(
    dd: &Path,
    filter: &Filter,
    ignored: &[&str],
) -> Result<Vec<PathBuf>, BackupError> {
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| BackupError::Io { path, source }
    };
    let mut out = Vec::new();
    for e in std::fs::read_dir(dd).map_err(io_err(dd))? {
        let e = e.map_err(io_err(dd))?;
        let Some(name) = e.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if name.starts_with('#') || name.starts_with('.') || ignored.contains(&name.as_str()) {
            continue;
        }
        let path = e.path();
        match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => continue,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(source) => return Err(BackupError::Io { path, source }),
        }
        if !filter.keeps_table(&name, "") {
            continue;
        }
        let empty = match std::fs::read_dir(&path) {
            Ok(mut it) => it.next().is_none(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => false,
            Err(source) => return Err(BackupError::Io { path, source }),
        };
        if empty {
            out.push(Path::new(&name).join("db.opt"));
        }
    }
    out.sort();
    Ok(out)
}

/// Writes an empty `db.opt` for each empty database directory of `dd` ([`empty_databases`]);
/// returns their paths.
pub(crate) fn put_empty_databases(
    sink: &mut dyn Sink,
    dd: &Path,
    filter: &Filter,
    ignored: &[&str],
) -> Result<Vec<PathBuf>, BackupError> {
    let opts = empty_databases(dd, filter, ignored)?;
    for o in &opts {
        put(sink, o, b"")?;
    }
    Ok(opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_directories_kept_unless_ignored_or_filtered() {
        let t = tempfile::tempdir().unwrap();
        let dd = t.path();
        for d in ["db3", "db4", "db5", "full", "#innodb_temp", "gone"] {
            std::fs::create_dir(dd.join(d)).unwrap();
        }
        std::fs::write(dd.join("full/db.opt"), "x").unwrap();
        std::fs::write(dd.join("file.txt"), "x").unwrap();
        let mut f = Filter::default();
        f.set_databases_exclude("gone");
        let got = empty_databases(dd, &f, &["db3", "db4"]).unwrap();
        assert_eq!(got, [PathBuf::from("db5/db.opt")]);
        let all = empty_databases(dd, &Filter::default(), &[]).unwrap();
        let names: Vec<_> = all.iter().map(|p| p.to_str().unwrap()).collect();
        assert_eq!(
            names,
            ["db3/db.opt", "db4/db.opt", "db5/db.opt", "gone/db.opt"]
        );
    }
}
