//! The DDL files of a hot backup (mariabackup's names): for a tablespace `db/t.ibd`,
//!
//! * `db/t.del` (empty): the tablespace was dropped during the backup;
//! * `db/t.ren`: it was renamed during the backup; the file holds the new name without
//!   `.ibd` (`db/t2`);
//! * `db/t.new`: the tablespace was created or rebuilt during the backup and is copied whole
//!   under this name (prepare puts it in place of `db/t.ibd`).
//!
//! Prepare applies them in that order: deletions, renames, new files.
//!
//! ```
//! use std::path::Path;
//! use incremental_core::format::ddl_files::{DdlFile, marker_path, parse_marker};
//! let p = marker_path(Path::new("db/t.ibd"), DdlFile::Renamed);
//! assert_eq!(p, Path::new("db/t.ren"));
//! assert_eq!(parse_marker(&p), Some((DdlFile::Renamed, "db/t.ibd".into())));
//! assert_eq!(parse_marker(Path::new("db/t.ibd.delta")), None);
//! ```

use std::path::{Path, PathBuf};

/// Which DDL file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DdlFile {
    /// `.del`: dropped.
    Deleted,
    /// `.ren`: renamed.
    Renamed,
    /// `.new`: created or rebuilt, copied whole.
    New,
}

impl DdlFile {
    /// The file name extension, with its dot.
    pub fn extension(self) -> &'static str {
        match self {
            DdlFile::Deleted => ".del",
            DdlFile::Renamed => ".ren",
            DdlFile::New => ".new",
        }
    }
}

/// `db/t.ibd` (or `db/t`) → `db/t` + the extension of `kind`.
pub fn marker_path(ibd: &Path, kind: DdlFile) -> PathBuf {
    PathBuf::from(format!("{}{}", stem(ibd), kind.extension()))
}

/// `db/t.ibd` → `db/t`: a tablespace's name as a `.ren` file holds it.
pub fn table_name(ibd: &Path) -> String {
    stem(ibd)
}

/// The kind of a DDL file and the tablespace it concerns (`db/t.ren` → `db/t.ibd`); `None`
/// for any other name.
pub fn parse_marker(rel: &Path) -> Option<(DdlFile, PathBuf)> {
    let name = rel.file_name()?.to_str()?;
    [DdlFile::Deleted, DdlFile::Renamed, DdlFile::New]
        .into_iter()
        .find_map(|k| {
            let stem = name.strip_suffix(k.extension()).filter(|s| !s.is_empty())?;
            Some((k, rel.with_file_name(format!("{stem}.ibd"))))
        })
}

/// The tablespace a `.ren` file's content names (`db/t2` → `db/t2.ibd`); `None` when it is
/// not UTF-8.
pub fn parse_rename_target(content: &[u8]) -> Option<PathBuf> {
    let name = std::str::from_utf8(content).ok()?.trim();
    Some(PathBuf::from(format!("{name}.ibd")))
}

fn stem(ibd: &Path) -> String {
    let s = ibd.to_string_lossy();
    s.strip_suffix(".ibd").unwrap_or(&s).to_string()
}
