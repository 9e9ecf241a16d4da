//! Mapping tablespace-global page numbers to the data files of a multi-file tablespace.
//!
//! Bitmap page numbers are tablespace-global. For the system tablespace made of several data
//! files (`ibdata1;ibdata2;…`), page `p` lives in the file whose cumulative page range holds
//! it, at offset `p − (pages of the files before it)` (spec §5.7).

use std::ops::Range;

/// The page counts of the data files of one tablespace, in order.
///
/// Pages at or beyond the sum of the counts belong to the last file: only the last data file
/// of the system tablespace auto-extends, so its size as read may already be stale.
///
/// ```
/// use lsn_bitmap::DataFileMap;
/// let map = DataFileMap::new(&[100, 50, 10]);
/// assert_eq!(map.locate(0), Some((0, 0)));
/// assert_eq!(map.locate(120), Some((1, 20)));
/// assert_eq!(map.locate(155), Some((2, 5)));
/// assert_eq!(map.locate(1000), Some((2, 850))); // the last file grew
/// let parts: Vec<_> = map.split(95..152).collect();
/// assert_eq!(parts, vec![(0, 95..100), (1, 0..50), (2, 0..2)]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataFileMap {
    /// First global page of each file.
    starts: Vec<u64>,
}

impl DataFileMap {
    /// A map for files with these page counts (in tablespace order).
    ///
    /// ```
    /// assert_eq!(lsn_bitmap::DataFileMap::new(&[8, 8]).file_count(), 2);
    /// ```
    pub fn new(page_counts: &[u32]) -> DataFileMap {
        let mut starts = Vec::with_capacity(page_counts.len());
        let mut next = 0u64;
        for &n in page_counts {
            starts.push(next);
            next += u64::from(n);
        }
        DataFileMap { starts }
    }

    /// Number of files.
    ///
    /// ```
    /// assert_eq!(lsn_bitmap::DataFileMap::new(&[]).file_count(), 0);
    /// ```
    pub fn file_count(&self) -> usize {
        self.starts.len()
    }

    /// `(file index, page offset within that file)` of a global page number; `None` only when
    /// there are no files.
    ///
    /// ```
    /// let map = lsn_bitmap::DataFileMap::new(&[0, 4, 4]);
    /// assert_eq!(map.locate(0), Some((1, 0)));
    /// assert_eq!(map.locate(4), Some((2, 0)));
    /// ```
    pub fn locate(&self, page_no: u32) -> Option<(usize, u32)> {
        let p = u64::from(page_no);
        let idx = self.starts.partition_point(|&s| s <= p).checked_sub(1)?;
        let start = *self.starts.get(idx)?;
        Some((idx, (p - start) as u32))
    }

    /// Splits a global page range into per-file local ranges, in order. Empty input gives
    /// nothing; with no files, nothing.
    ///
    /// ```
    /// let map = lsn_bitmap::DataFileMap::new(&[10, 10]);
    /// assert_eq!(map.split(5..8).collect::<Vec<_>>(), vec![(0, 5..8)]);
    /// assert_eq!(map.split(5..25).collect::<Vec<_>>(), vec![(0, 5..10), (1, 0..15)]);
    /// ```
    pub fn split(&self, range: Range<u32>) -> SplitRanges<'_> {
        SplitRanges {
            map: self,
            next: u64::from(range.start),
            end: u64::from(range.end),
        }
    }
}

/// Iterator of [`DataFileMap::split`].
///
/// ```
/// let map = lsn_bitmap::DataFileMap::new(&[2]);
/// assert_eq!(map.split(0..3).collect::<Vec<_>>(), vec![(0, 0..3)]);
/// ```
pub struct SplitRanges<'a> {
    map: &'a DataFileMap,
    next: u64,
    end: u64,
}

impl Iterator for SplitRanges<'_> {
    type Item = (usize, Range<u32>);

    fn next(&mut self) -> Option<(usize, Range<u32>)> {
        if self.next >= self.end {
            return None;
        }
        let (idx, local_start) = self.map.locate(u32::try_from(self.next).ok()?)?;
        let file_start = self.next - u64::from(local_start);
        let file_end = self
            .map
            .starts
            .get(idx + 1)
            .copied()
            .unwrap_or(u64::MAX)
            .min(self.end);
        let local_end = u32::try_from(file_end - file_start).ok()?;
        self.next = file_end;
        Some((idx, local_start..local_end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn split_agrees_with_locate(
            counts in proptest::collection::vec(0u32..50, 1..6),
            start in 0u32..300,
            len in 0u32..300,
        ) {
            let map = DataFileMap::new(&counts);
            let end = start + len;
            let mut expected = Vec::new();
            for p in start..end {
                expected.push(map.locate(p).unwrap());
            }
            let mut got = Vec::new();
            for (f, r) in map.split(start..end) {
                prop_assert!(!r.is_empty());
                for l in r {
                    got.push((f, l));
                }
            }
            prop_assert_eq!(got, expected);
        }
    }
}
