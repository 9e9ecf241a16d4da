//! The journal of the apply-redo step (`xb prepare --apply-redo`): a file in the backup that
//! exists from just before the private server is started until the backup is marked prepared
//! (`log-applied`, or `full-prepared`), and for the whole run of an export (`export`).
//!
//! ```text
//! xb-apply-redo-journal 1
//! scratch <escaped path of the private server's temporary directory>
//! final                   (only when the server rolls back: the step must end full-prepared)
//! ```
//!
//! While it exists, a server has (or may have) changed the backup's pages: no incremental can be
//! merged onto it any more, a copy-back refuses it as an interrupted prepare (its name starts
//! with `xb_prepare` and ends with `journal`), and running the apply-redo step again finishes
//! it (the server's crash recovery is idempotent) after removing the temporary directory the
//! interrupted run left.

use std::path::Path;
#[cfg(feature = "hot")]
use std::path::PathBuf;

/// File name of the journal inside the backup.
pub(crate) const REDO_JOURNAL: &str = "xb_prepare.apply-redo.journal";

/// Whether an apply-redo step was started on `dir` and did not finish.
pub(crate) fn exists(dir: &Path) -> bool {
    dir.join(REDO_JOURNAL).exists()
}

#[cfg(feature = "hot")]
const MAGIC: &str = "xb-apply-redo-journal 1";

/// Writes the journal (temporary name, fsync, rename, fsync of the directory) naming the
/// temporary directory the step is about to create; `last`: the server changes more than the
/// redo does (a rollback), so the step, even finished by a later run, ends `full-prepared`.
#[cfg(feature = "hot")]
pub(crate) fn write(dir: &Path, scratch: &Path, last: bool) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = dir.join(format!("{REDO_JOURNAL}.xbtmp"));
    let mut text = format!("{MAGIC}\nscratch\t{}\n", super::names::escape_path(scratch));
    if last {
        text.push_str("final\n");
    }
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, dir.join(REDO_JOURNAL))?;
    sync_dir(dir)
}

/// The temporary directory named by the journal of an interrupted step (`None`: no journal,
/// or none named).
#[cfg(feature = "hot")]
pub(crate) fn scratch(dir: &Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string(dir.join(REDO_JOURNAL)).ok()?;
    let mut lines = text.lines();
    if lines.next() != Some(MAGIC) {
        return None;
    }
    lines
        .filter_map(|l| l.strip_prefix("scratch\t"))
        .find_map(super::names::unescape_path)
}

/// Whether the journal of an interrupted step says it must end `full-prepared`.
#[cfg(feature = "hot")]
pub(crate) fn is_final(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join(REDO_JOURNAL))
        .is_ok_and(|t| t.lines().next() == Some(MAGIC) && t.lines().any(|l| l == "final"))
}

/// Removes the journal (the step is finished and recorded) and syncs the directory.
#[cfg(feature = "hot")]
pub(crate) fn remove(dir: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(dir.join(REDO_JOURNAL)) {
        Ok(()) => sync_dir(dir),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// fsyncs a directory.
#[cfg(feature = "hot")]
pub(crate) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(all(test, feature = "hot"))]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let d = tempfile::tempdir().unwrap();
        assert!(!exists(d.path()));
        assert_eq!(scratch(d.path()), None);
        write(d.path(), Path::new("/tmp/xb-redo-1 2"), false).unwrap();
        assert!(exists(d.path()));
        assert!(!is_final(d.path()));
        assert_eq!(scratch(d.path()), Some(PathBuf::from("/tmp/xb-redo-1 2")));
        remove(d.path()).unwrap();
        assert!(!exists(d.path()));
        remove(d.path()).unwrap();
        write(d.path(), Path::new("/tmp/xb-redo-1"), true).unwrap();
        assert!(is_final(d.path()));
    }
}
