//! Removing bitmap files that only describe changes before an LSN (`xb bitmap purge`), as
//! Percona Server's `PURGE CHANGED_PAGE_BITMAPS BEFORE` does.
//!
//! A file is removed when a later file (higher sequence number) starts at or before the LSN:
//! its data then ends before the LSN, and every query starting at or after the LSN is answered
//! from that later file onwards ([`BitmapDir::changed_pages`] starts from the file with the
//! greatest start LSN at or below the query's start). The newest file is never removed (a
//! tracker may be appending to it). Queries starting before the LSN are refused afterwards
//! ([`Error::StartNotCovered`]), so an incremental from such an old base falls back to the
//! full scan.

use std::path::{Path, PathBuf};

use innodb_page::Lsn;

use crate::dir::BitmapDir;
use crate::error::Error;

/// The files of `dir` that [`purge_before`] would remove for `lsn`, oldest first.
///
/// ```
/// use innodb_page::Lsn;
/// let dir = tempfile::tempdir().unwrap();
/// for n in ["ib_modified_log_1_100.xdb", "ib_modified_log_2_500.xdb", "ib_modified_log_3_900.xdb"] {
///     std::fs::write(dir.path().join(n), b"").unwrap();
/// }
/// let names = |v: Vec<std::path::PathBuf>| -> Vec<String> {
///     v.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect()
/// };
/// let p = |l| names(lsn_bitmap::purge::purgeable(dir.path(), Lsn::new(l)).unwrap());
/// assert!(p(499).is_empty());
/// assert_eq!(p(500), ["ib_modified_log_1_100.xdb"]);
/// assert_eq!(p(10_000), ["ib_modified_log_1_100.xdb", "ib_modified_log_2_500.xdb"]);
/// ```
pub fn purgeable(dir: &Path, lsn: Lsn) -> Result<Vec<PathBuf>, Error> {
    let listing = BitmapDir::open(dir)?;
    let files = listing.files();
    let mut out = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let later_start = files[i + 1..]
            .iter()
            .filter(|g| g.name.seq > f.name.seq)
            .map(|g| g.name.start_lsn)
            .min();
        if later_start.is_some_and(|s| s <= lsn) {
            out.push(f.path.clone());
        }
    }
    Ok(out)
}

/// Removes the files [`purgeable`] lists; returns them. Stops at the first file that cannot
/// be removed (the ones before it are gone, the rest are kept: purging again finishes).
///
/// ```
/// use innodb_page::Lsn;
/// let dir = tempfile::tempdir().unwrap();
/// for n in ["ib_modified_log_1_100.xdb", "ib_modified_log_2_500.xdb"] {
///     std::fs::write(dir.path().join(n), b"").unwrap();
/// }
/// let gone = lsn_bitmap::purge::purge_before(dir.path(), Lsn::new(600)).unwrap();
/// assert_eq!(gone.len(), 1);
/// assert!(dir.path().join("ib_modified_log_2_500.xdb").exists());
/// ```
pub fn purge_before(dir: &Path, lsn: Lsn) -> Result<Vec<PathBuf>, Error> {
    let victims = purgeable(dir, lsn)?;
    for p in &victims {
        std::fs::remove_file(p).map_err(|e| Error::io(p, 0, e))?;
    }
    if !victims.is_empty()
        && let Ok(d) = std::fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
    Ok(victims)
}
