//! Changed-page bitmaps as a page source: which pages of each data file to read.
//!
//! [`query`] asks a bitmap directory which pages changed between the scan threshold and the
//! backup's checkpoint (spec §5.6: `[threshold, checkpoint]`; later changes are in the copied
//! redo). Any reason the bitmaps cannot be trusted comes back as a sentence for the fallback
//! note. [`file_ranges`] turns a tablespace's page set into per-file page ranges (the bitmap
//! numbers pages across the files of the system tablespace; deltas number them per file).

use std::ops::Range;
use std::path::Path;

use innodb_page::Lsn;
use lsn_bitmap::{BitmapDir, ChangedPages, DataFileMap};

/// The pages that changed in `[start, end]` according to the bitmaps in `dir`, or why the
/// bitmaps do not cover that range.
///
/// ```
/// use innodb_page::Lsn;
/// let dir = tempfile::tempdir().unwrap();
/// let why = incremental_core::backup::bitmap_source::query(dir.path(), Lsn(100), Lsn(200))
///     .unwrap_err();
/// assert!(why.contains("no bitmap file"), "{why}");
/// ```
pub fn query(dir: &Path, start: Lsn, end: Lsn) -> Result<ChangedPages, String> {
    let bitmaps = BitmapDir::open(dir).map_err(|e| format!("cannot list bitmaps: {e}"))?;
    if bitmaps.files().is_empty() && start != end {
        return Err(format!(
            "no bitmap file (ib_modified_log_*.xdb) in {}",
            dir.display()
        ));
    }
    bitmaps
        .changed_pages(start, end)
        .map_err(|e| format!("bitmaps do not cover LSN {start}..{end}: {e}"))
}

/// The page ranges (file-relative, end exclusive, clipped to each file's size) to read from
/// each file of a tablespace whose files hold `file_pages` pages each, for the flagged pages of
/// `space_id`. One entry per file (possibly empty).
///
/// ```
/// use incremental_core::backup::bitmap_source::file_ranges;
/// let mut c = lsn_bitmap::ChangedPages::new();
/// for p in [1, 2, 3, 9, 12] { c.insert(0, p); }
/// assert_eq!(file_ranges(&c, 0, &[10, 10]), vec![vec![1..4, 9..10], vec![2..3]]);
/// assert_eq!(file_ranges(&c, 7, &[10]), vec![vec![]]);
/// ```
pub fn file_ranges(
    changed: &ChangedPages,
    space_id: u32,
    file_pages: &[u64],
) -> Vec<Vec<Range<u64>>> {
    let mut out: Vec<Vec<Range<u64>>> = vec![Vec::new(); file_pages.len()];
    let Some(set) = changed.space(space_id) else {
        return out;
    };
    let counts: Vec<u32> = file_pages
        .iter()
        .map(|&n| u32::try_from(n).unwrap_or(u32::MAX))
        .collect();
    let map = DataFileMap::new(&counts);
    for r in set.ranges() {
        for (file, local) in map.split(r) {
            let Some(limit) = file_pages.get(file) else {
                continue;
            };
            let start = u64::from(local.start).min(*limit);
            let end = u64::from(local.end).min(*limit);
            if start < end {
                out[file].push(start..end);
            }
        }
    }
    out
}
