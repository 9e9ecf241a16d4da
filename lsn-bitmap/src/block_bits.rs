//! [`BlockBits`], the borrowed bits of one block, re-exported by `crate::pageset` (and at the
//! crate root). A leaf module (it names only `crate::layout`), so that `block` and `pageset`
//! can both use it without depending on each other.

use std::fmt;
use std::ops::Index;

use bitvec::prelude::*;

use crate::layout::{BITMAP_LEN, PAGES_PER_BLOCK};

/// The bits of one 32448-page block, borrowed from a [`PageSet`](crate::PageSet) or a [`crate::Block`]: bit
/// `d` is page `first_page_id + d`, byte-wise LSB-first exactly as on disk.
///
/// ```
/// use lsn_bitmap::BlockBits;
/// let mut bitmap = [0u8; 4056];
/// bitmap[1] = 0b0000_0101;
/// let bits = BlockBits::new(&bitmap);
/// assert!(bits[8] && !bits[9] && bits.get(10));
/// assert_eq!(bits.count_ones(), 2);
/// assert_eq!(bits.iter_ones().collect::<Vec<_>>(), vec![8, 10]);
/// assert!(!bits.get(40_000)); // outside the block
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct BlockBits<'a> {
    bytes: &'a [u8; BITMAP_LEN],
}

impl fmt::Debug for BlockBits<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockBits")
            .field("ones", &self.count_ones())
            .finish()
    }
}

impl<'a> BlockBits<'a> {
    /// A view of an on-disk bitmap (the 4056 bytes of a block after its header).
    pub fn new(bytes: &'a [u8; BITMAP_LEN]) -> BlockBits<'a> {
        BlockBits { bytes }
    }

    fn bits(&self) -> &'a BitSlice<u8, Lsb0> {
        self.bytes.view_bits::<Lsb0>()
    }

    /// Whether bit `d` is set (false for `d` outside the block, i.e. `d ≥ 32448`).
    pub fn get(&self, d: usize) -> bool {
        self.bits().get(d).is_some_and(|b| *b)
    }

    /// Number of bits set.
    pub fn count_ones(&self) -> usize {
        self.bits().count_ones()
    }

    /// Whether any bit is set.
    pub fn any(&self) -> bool {
        self.bits().any()
    }

    /// The positions of the bits set, ascending.
    pub fn iter_ones(self) -> impl Iterator<Item = usize> + 'a {
        self.bits().iter_ones()
    }

    /// The bytes, as on disk.
    pub fn as_bytes(&self) -> &'a [u8; BITMAP_LEN] {
        self.bytes
    }
}

impl Index<usize> for BlockBits<'_> {
    type Output = bool;

    /// Bit `d`.
    ///
    /// # Panics
    ///
    /// If `d` is outside the block (`d ≥ 32448`), as slices do.
    fn index(&self, d: usize) -> &bool {
        assert!(
            d < PAGES_PER_BLOCK as usize,
            "bit {d} is outside the block (32448 bits)"
        );
        if self.get(d) {
            &true
        } else {
            &false
        }
    }
}
