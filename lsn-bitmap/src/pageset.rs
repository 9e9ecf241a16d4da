//! Sets of changed pages: [`PageSet`] for one tablespace, [`ChangedPages`] for all of them.
//!
//! Storage is one 32448-bit array (4056 bytes, the on-disk bitmap layout) per
//! `(space, 32448-page block)` that has at least one page, so memory grows with the number of
//! distinct blocks, not with the number of runs merged.

use std::collections::btree_map::{self, BTreeMap};
use std::fmt;
use std::ops::Range;

use bitvec::prelude::*;

use crate::block::{
    block_start, BlockKey, BITMAP_LEN, LAST_BLOCK_FIRST_PAGE, LAST_BLOCK_VALID_BITS,
    PAGES_PER_BLOCK,
};
pub use crate::block_bits::BlockBits;

/// The owned bits of one block (private: the public view is [`BlockBits`]).
type Bits = BitArray<[u8; BITMAP_LEN], Lsb0>;

fn zero_bits() -> Box<Bits> {
    Box::new(BitArray::ZERO)
}

/// Changed pages of one tablespace.
///
/// Page `u32::MAX` (FIL_NULL) is not a page number and is never stored.
///
/// ```
/// use lsn_bitmap::PageSet;
/// let mut s = PageSet::new();
/// for p in [0, 1, 2, 7, 32447, 32448, 100_000] {
///     s.insert(p);
/// }
/// assert!(s.contains(7) && !s.contains(8));
/// assert_eq!(s.len(), 7);
/// assert_eq!(s.ranges().collect::<Vec<_>>(), vec![0..3, 7..8, 32447..32449, 100_000..100_001]);
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct PageSet {
    /// Keyed by `first_page_id`; never holds an all-zero block.
    blocks: BTreeMap<u32, Box<Bits>>,
}

impl fmt::Debug for PageSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.ranges()).finish()
    }
}

impl PageSet {
    /// An empty set.
    ///
    /// ```
    /// assert!(lsn_bitmap::PageSet::new().is_empty());
    /// ```
    pub fn new() -> PageSet {
        PageSet::default()
    }

    /// Adds a page; returns whether it was newly added (always false for `u32::MAX`).
    ///
    /// ```
    /// let mut s = lsn_bitmap::PageSet::new();
    /// assert!(s.insert(5));
    /// assert!(!s.insert(5));
    /// assert!(!s.insert(u32::MAX));
    /// ```
    pub fn insert(&mut self, page_no: u32) -> bool {
        if page_no == u32::MAX {
            return false;
        }
        let first = block_start(page_no);
        let bits = self.blocks.entry(first).or_insert_with(zero_bits);
        let d = (page_no - first) as usize;
        match bits.get_mut(d) {
            Some(mut bit) => !bit.replace(true),
            None => false,
        }
    }

    /// Whether `page_no` is in the set.
    ///
    /// ```
    /// let mut s = lsn_bitmap::PageSet::new();
    /// s.insert(40000);
    /// assert!(s.contains(40000) && !s.contains(39999));
    /// ```
    pub fn contains(&self, page_no: u32) -> bool {
        let first = block_start(page_no);
        self.blocks
            .get(&first)
            .and_then(|bits| bits.get((page_no - first) as usize).map(|b| *b))
            .unwrap_or(false)
    }

    /// Number of pages.
    ///
    /// ```
    /// let mut s = lsn_bitmap::PageSet::new();
    /// s.insert(1);
    /// s.insert(100_000);
    /// assert_eq!(s.len(), 2);
    /// ```
    pub fn len(&self) -> u64 {
        self.blocks.values().map(|b| b.count_ones() as u64).sum()
    }

    /// Whether the set has no page.
    ///
    /// ```
    /// assert!(lsn_bitmap::PageSet::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// Number of 32448-page blocks holding at least one page (the memory use is about 4 KiB
    /// each).
    ///
    /// ```
    /// let mut s = lsn_bitmap::PageSet::new();
    /// s.insert(1);
    /// s.insert(2);
    /// s.insert(32448);
    /// assert_eq!(s.block_count(), 2);
    /// ```
    pub fn block_count(&self) -> usize {
        self.blocks.len()
    }

    /// ORs an on-disk bitmap into the block starting at `first_page_id`.
    ///
    /// `first_page_id` must be a multiple of 32448 (as [`crate::Block::validate`] checks);
    /// otherwise nothing is added and false is returned. Bits for page numbers above
    /// `0xFFFF_FFFE` are ignored.
    ///
    /// ```
    /// let mut s = lsn_bitmap::PageSet::new();
    /// let mut bitmap = [0u8; 4056];
    /// bitmap[0] = 0b101;
    /// assert!(s.union_bitmap(32448, &bitmap));
    /// assert_eq!(s.iter().collect::<Vec<_>>(), vec![32448, 32450]);
    /// assert!(!s.union_bitmap(1, &bitmap));
    /// ```
    pub fn union_bitmap(&mut self, first_page_id: u32, bitmap: &[u8; BITMAP_LEN]) -> bool {
        if !first_page_id.is_multiple_of(PAGES_PER_BLOCK) {
            return false;
        }
        if bitmap.iter().all(|&b| b == 0) {
            return true;
        }
        let dst = self.blocks.entry(first_page_id).or_insert_with(zero_bits);
        for (d, s) in dst.as_raw_mut_slice().iter_mut().zip(bitmap) {
            *d |= *s;
        }
        if first_page_id == LAST_BLOCK_FIRST_PAGE {
            if let Some(high) = dst.get_mut(LAST_BLOCK_VALID_BITS..) {
                high.fill(false);
            }
            if dst.not_any() {
                self.blocks.remove(&first_page_id);
            }
        }
        true
    }

    /// Adds every page of `other`.
    ///
    /// ```
    /// let mut a = lsn_bitmap::PageSet::new();
    /// let mut b = lsn_bitmap::PageSet::new();
    /// a.insert(1);
    /// b.insert(2);
    /// a.union(&b);
    /// assert_eq!(a.len(), 2);
    /// ```
    pub fn union(&mut self, other: &PageSet) {
        for (&first, bits) in &other.blocks {
            let dst = self.blocks.entry(first).or_insert_with(zero_bits);
            for (d, s) in dst.as_raw_mut_slice().iter_mut().zip(bits.as_raw_slice()) {
                *d |= *s;
            }
        }
    }

    /// The pages, ascending.
    ///
    /// ```
    /// let mut s = lsn_bitmap::PageSet::new();
    /// s.insert(9);
    /// s.insert(3);
    /// assert_eq!(s.iter().collect::<Vec<_>>(), vec![3, 9]);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.blocks.iter().flat_map(|(&first, bits)| {
            bits.iter_ones()
                .map_while(move |d| first.checked_add(d as u32))
        })
    }

    /// Maximal ranges of consecutive pages, ascending (end exclusive). Ranges are exact: they
    /// continue across adjacent blocks but never across pages that are not in the set. Use
    /// them as read batches.
    ///
    /// ```
    /// let mut s = lsn_bitmap::PageSet::new();
    /// for p in 32440..32460 {
    ///     s.insert(p);
    /// }
    /// assert_eq!(s.ranges().collect::<Vec<_>>(), vec![32440..32460]);
    /// ```
    pub fn ranges(&self) -> PageRanges<'_> {
        PageRanges {
            blocks: self.blocks.iter().peekable(),
            current: None,
        }
    }

    /// The blocks: `(first_page_id, bits)`, ascending.
    ///
    /// ```
    /// let mut s = lsn_bitmap::PageSet::new();
    /// s.insert(32449);
    /// let (first, bits) = s.blocks().next().unwrap();
    /// assert_eq!(first, 32448);
    /// assert!(bits[1]);
    /// ```
    pub fn blocks(&self) -> impl Iterator<Item = (u32, BlockBits<'_>)> + '_ {
        self.blocks
            .iter()
            .map(|(&first, bits)| (first, BlockBits::new(&bits.data)))
    }
}

/// Iterator of [`PageSet::ranges`].
///
/// ```
/// let mut s = lsn_bitmap::PageSet::new();
/// s.insert(4);
/// let mut it = s.ranges();
/// assert_eq!(it.next(), Some(4..5));
/// assert_eq!(it.next(), None);
/// ```
pub struct PageRanges<'a> {
    blocks: std::iter::Peekable<btree_map::Iter<'a, u32, Box<Bits>>>,
    /// Current block and the bit position to continue from.
    current: Option<(u32, &'a Bits, usize)>,
}

impl Iterator for PageRanges<'_> {
    type Item = Range<u32>;

    fn next(&mut self) -> Option<Range<u32>> {
        // Find the next set bit.
        let start = loop {
            let (first, bits, pos) = match self.current {
                Some(c) => c,
                None => {
                    let (&first, bits) = self.blocks.next()?;
                    (first, &**bits, 0)
                }
            };
            match bits.get(pos..).and_then(|b| b.first_one()) {
                Some(i) => {
                    self.current = Some((first, bits, pos + i));
                    break first.saturating_add((pos + i) as u32);
                }
                None => self.current = None,
            }
        };
        // Find the end: the next clear bit, continuing into adjacent blocks.
        loop {
            let (first, bits, pos) = self.current?;
            match bits.get(pos..).and_then(|b| b.first_zero()) {
                Some(i) => {
                    self.current = Some((first, bits, pos + i));
                    return Some(start..first.saturating_add((pos + i) as u32));
                }
                None => {
                    let end = first.saturating_add(PAGES_PER_BLOCK);
                    let next_adjacent = matches!(
                        self.blocks.peek(),
                        Some(&(&nf, nb)) if nf == end && nb.first().is_some_and(|b| *b)
                    );
                    if next_adjacent {
                        let (&nf, nb) = self.blocks.next()?;
                        self.current = Some((nf, &**nb, 0));
                    } else {
                        self.current = None;
                        return Some(start..end);
                    }
                }
            }
        }
    }
}

/// Changed pages of every tablespace: the answer to "which pages changed in an LSN range".
///
/// ```
/// use lsn_bitmap::ChangedPages;
/// let mut c = ChangedPages::new();
/// c.insert(5, 3);
/// c.insert(5, 4);
/// c.insert(0, 7);
/// assert_eq!(c.space_ids().collect::<Vec<_>>(), vec![0, 5]);
/// assert_eq!(c.space(5).unwrap().ranges().collect::<Vec<_>>(), vec![3..5]);
/// assert!(c.space(6).is_none());
/// assert_eq!(c.page_count(), 3);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChangedPages {
    /// Never holds an empty `PageSet`.
    spaces: BTreeMap<u32, PageSet>,
}

impl ChangedPages {
    /// No pages.
    ///
    /// ```
    /// assert!(lsn_bitmap::ChangedPages::new().is_empty());
    /// ```
    pub fn new() -> ChangedPages {
        ChangedPages::default()
    }

    /// Adds a page; returns whether it was newly added (false for page `u32::MAX`).
    ///
    /// ```
    /// let mut c = lsn_bitmap::ChangedPages::new();
    /// assert!(c.insert(1, 2));
    /// assert!(!c.insert(1, 2));
    /// ```
    pub fn insert(&mut self, space_id: u32, page_no: u32) -> bool {
        if page_no == u32::MAX {
            return false;
        }
        self.spaces.entry(space_id).or_default().insert(page_no)
    }

    /// Whether the page is in the set.
    ///
    /// ```
    /// let mut c = lsn_bitmap::ChangedPages::new();
    /// c.insert(1, 2);
    /// assert!(c.contains(1, 2) && !c.contains(2, 2));
    /// ```
    pub fn contains(&self, space_id: u32, page_no: u32) -> bool {
        self.spaces
            .get(&space_id)
            .is_some_and(|s| s.contains(page_no))
    }

    /// The pages of one tablespace; `None` if none changed (the `.delta` will be header-only).
    ///
    /// ```
    /// assert!(lsn_bitmap::ChangedPages::new().space(0).is_none());
    /// ```
    pub fn space(&self, space_id: u32) -> Option<&PageSet> {
        self.spaces.get(&space_id)
    }

    /// Tablespace ids with at least one changed page, ascending.
    ///
    /// ```
    /// let mut c = lsn_bitmap::ChangedPages::new();
    /// c.insert(9, 0);
    /// assert_eq!(c.space_ids().collect::<Vec<_>>(), vec![9]);
    /// ```
    pub fn space_ids(&self) -> impl Iterator<Item = u32> + '_ {
        self.spaces.keys().copied()
    }

    /// `(space_id, pages)` for every tablespace with changes, ascending.
    ///
    /// ```
    /// let mut c = lsn_bitmap::ChangedPages::new();
    /// c.insert(9, 0);
    /// assert_eq!(c.spaces().count(), 1);
    /// ```
    pub fn spaces(&self) -> impl Iterator<Item = (u32, &PageSet)> + '_ {
        self.spaces.iter().map(|(&id, s)| (id, s))
    }

    /// Whether no page changed.
    ///
    /// ```
    /// assert!(lsn_bitmap::ChangedPages::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.spaces.is_empty()
    }

    /// Total number of pages.
    ///
    /// ```
    /// let mut c = lsn_bitmap::ChangedPages::new();
    /// c.insert(1, 1);
    /// c.insert(2, 1);
    /// assert_eq!(c.page_count(), 2);
    /// ```
    pub fn page_count(&self) -> u64 {
        self.spaces.values().map(PageSet::len).sum()
    }

    /// Number of `(space, 32448-page block)` pairs held (about 4 KiB of memory each).
    ///
    /// ```
    /// let mut c = lsn_bitmap::ChangedPages::new();
    /// c.insert(1, 1);
    /// c.insert(1, 40000);
    /// assert_eq!(c.block_count(), 2);
    /// ```
    pub fn block_count(&self) -> usize {
        self.spaces.values().map(PageSet::block_count).sum()
    }

    /// ORs an on-disk bitmap into the block `key` (see [`PageSet::union_bitmap`]); returns
    /// false if `key.first_page_id` is not a multiple of 32448.
    ///
    /// ```
    /// use lsn_bitmap::{BlockKey, ChangedPages};
    /// let mut c = ChangedPages::new();
    /// let mut bitmap = [0u8; 4056];
    /// bitmap[1] = 1;
    /// assert!(c.union_bitmap(BlockKey { space_id: 3, first_page_id: 0 }, &bitmap));
    /// assert!(c.contains(3, 8));
    /// ```
    pub fn union_bitmap(&mut self, key: BlockKey, bitmap: &[u8; BITMAP_LEN]) -> bool {
        let space = self.spaces.entry(key.space_id).or_default();
        let ok = space.union_bitmap(key.first_page_id, bitmap);
        if space.is_empty() {
            self.spaces.remove(&key.space_id);
        }
        ok
    }

    /// Adds every page of `other`.
    ///
    /// ```
    /// let mut a = lsn_bitmap::ChangedPages::new();
    /// let mut b = lsn_bitmap::ChangedPages::new();
    /// b.insert(4, 4);
    /// a.union(&b);
    /// assert!(a.contains(4, 4));
    /// ```
    pub fn union(&mut self, other: &ChangedPages) {
        for (&id, set) in &other.spaces {
            self.spaces.entry(id).or_default().union(set);
        }
    }

    /// Every block in `(space_id, first_page_id)` order: the order the server writes a run in.
    ///
    /// ```
    /// let mut c = lsn_bitmap::ChangedPages::new();
    /// c.insert(2, 0);
    /// c.insert(1, 40000);
    /// let keys: Vec<_> = c.blocks().map(|(k, _)| (k.space_id, k.first_page_id)).collect();
    /// assert_eq!(keys, vec![(1, 32448), (2, 0)]);
    /// ```
    pub fn blocks(&self) -> impl Iterator<Item = (BlockKey, BlockBits<'_>)> + '_ {
        self.spaces.iter().flat_map(|(&space_id, set)| {
            set.blocks().map(move |(first_page_id, bits)| {
                (
                    BlockKey {
                        space_id,
                        first_page_id,
                    },
                    bits,
                )
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn naive_ranges(pages: &BTreeSet<u32>) -> Vec<Range<u32>> {
        let mut out: Vec<Range<u32>> = Vec::new();
        for &p in pages {
            match out.last_mut() {
                Some(r) if r.end == p => r.end = p + 1,
                _ => out.push(p..p + 1),
            }
        }
        out
    }

    #[test]
    fn ranges_do_not_bridge_gaps_between_blocks() {
        let mut s = PageSet::new();
        s.insert(32447);
        s.insert(64896 + 1);
        assert_eq!(
            s.ranges().collect::<Vec<_>>(),
            vec![32447..32448, 64897..64898]
        );
        let mut t = PageSet::new();
        t.insert(32447);
        t.insert(32448 + 1);
        assert_eq!(
            t.ranges().collect::<Vec<_>>(),
            vec![32447..32448, 32449..32450]
        );
    }

    #[test]
    fn highest_pages() {
        let mut s = PageSet::new();
        assert!(s.insert(u32::MAX - 1));
        assert!(s.insert(u32::MAX - 2));
        assert_eq!(s.ranges().collect::<Vec<_>>(), vec![u32::MAX - 2..u32::MAX]);
        assert_eq!(
            s.iter().collect::<Vec<_>>(),
            vec![u32::MAX - 2, u32::MAX - 1]
        );
        let mut bitmap = [0xFFu8; BITMAP_LEN];
        bitmap[0] = 0xFF;
        let mut t = PageSet::new();
        t.union_bitmap(LAST_BLOCK_FIRST_PAGE, &bitmap);
        assert_eq!(t.len(), LAST_BLOCK_VALID_BITS as u64);
        assert_eq!(
            t.ranges().collect::<Vec<_>>(),
            vec![LAST_BLOCK_FIRST_PAGE..u32::MAX]
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn ranges_and_iter_match_naive(
            pages in proptest::collection::btree_set(
                prop_oneof![0u32..70_000, 97_000u32..99_000, (u32::MAX - 40_000)..u32::MAX],
                0..400),
            runs in proptest::collection::vec((0u32..200_000, 1u32..40_000), 0..3),
        ) {
            let mut pages = pages;
            for (s, l) in runs {
                pages.extend(s..s + l);
            }
            let mut set = PageSet::new();
            for &p in &pages {
                set.insert(p);
            }
            prop_assert_eq!(set.len(), pages.len() as u64);
            prop_assert_eq!(set.iter().collect::<Vec<_>>(), pages.iter().copied().collect::<Vec<_>>());
            prop_assert_eq!(set.ranges().collect::<Vec<_>>(), naive_ranges(&pages));
            for &p in pages.iter().take(50) {
                prop_assert!(set.contains(p));
            }
        }
    }
}
