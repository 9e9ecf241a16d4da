//! One 4096-byte bitmap block (spec §5.2): a zero-copy view [`Block`] and an owned builder
//! [`BlockBuf`].

use bitvec::prelude::*;
use byteorder::{BigEndian, ByteOrder};
use innodb_page::Lsn;

use crate::block_bits::BlockBits;
use crate::checksum::block_checksum;

pub use crate::layout::{
    BITMAP_LEN, BITMAP_OFFSET, BLOCK_SIZE, CHECKSUM_OFFSET, END_LSN_OFFSET, FIRST_PAGE_OFFSET,
    IS_LAST_OFFSET, PAGES_PER_BLOCK, SPACE_ID_OFFSET, START_LSN_OFFSET,
};

/// `first_page_id` of the last block that can hold real page numbers: page numbers are `u32`
/// and `0xFFFF_FFFF` (FIL_NULL) is not a page.
pub(crate) const LAST_BLOCK_FIRST_PAGE: u32 = (u32::MAX / PAGES_PER_BLOCK) * PAGES_PER_BLOCK;
/// Number of bits of the last possible block that stand for valid pages (`first ..= 0xFFFF_FFFE`).
pub(crate) const LAST_BLOCK_VALID_BITS: usize = (u32::MAX - LAST_BLOCK_FIRST_PAGE) as usize;

/// The key the server orders blocks by: `(space_id, first_page_id)`.
///
/// ```
/// use lsn_bitmap::BlockKey;
/// assert!(BlockKey { space_id: 1, first_page_id: 32448 } < BlockKey { space_id: 2, first_page_id: 0 });
/// assert_eq!(BlockKey::for_page(7, 40000), BlockKey { space_id: 7, first_page_id: 32448 });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct BlockKey {
    /// Tablespace id.
    pub space_id: u32,
    /// Page number of bit 0; a multiple of [`PAGES_PER_BLOCK`].
    pub first_page_id: u32,
}

impl BlockKey {
    /// The key of the block that holds the bit of `page_no` in `space_id`.
    pub fn for_page(space_id: u32, page_no: u32) -> BlockKey {
        BlockKey {
            space_id,
            first_page_id: block_start(page_no),
        }
    }
}

/// First page of the block that holds `page_no`: `page_no` rounded down to a multiple of 32448.
///
/// ```
/// assert_eq!(lsn_bitmap::block::block_start(32447), 0);
/// assert_eq!(lsn_bitmap::block::block_start(32448), 32448);
/// ```
pub fn block_start(page_no: u32) -> u32 {
    page_no - page_no % PAGES_PER_BLOCK
}

/// Why a block cannot be used.
///
/// ```
/// use lsn_bitmap::{Block, BlockError};
/// let err = Block::from_array(&[0u8; 4096]).validate().unwrap_err();
/// assert_eq!(err, BlockError::Checksum { stored: 0, computed: 1 });
/// assert_eq!(err.to_string(), "checksum mismatch: stored 0x00000000, computed 0x00000001");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BlockError {
    /// The input is not exactly [`BLOCK_SIZE`] bytes long.
    #[error("a bitmap block is 4096 bytes, got {len}")]
    Length {
        /// Length given.
        len: usize,
    },
    /// The stored checksum does not match the bytes.
    #[error("checksum mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    Checksum {
        /// Value at offset 4092.
        stored: u32,
        /// Value computed from bytes 0..4092.
        computed: u32,
    },
    /// `first_page_id` is not a multiple of 32448.
    #[error("first_page_id {first_page_id} is not a multiple of 32448")]
    UnalignedFirstPage {
        /// The stored value.
        first_page_id: u32,
    },
    /// A bit is set for a page number above `0xFFFF_FFFE`.
    #[error("bit set for a page number beyond 0xFFFFFFFE (block at page {first_page_id})")]
    PageOutOfRange {
        /// The stored value.
        first_page_id: u32,
    },
    /// The run's end LSN is not greater than its start LSN.
    #[error("run LSN range is empty or reversed: start {start_lsn}, end {end_lsn}")]
    EmptyLsnRange {
        /// Start LSN of the block.
        start_lsn: Lsn,
        /// End LSN of the block.
        end_lsn: Lsn,
    },
}

/// A read-only view of one bitmap block.
///
/// ```
/// use innodb_page::Lsn;
/// use lsn_bitmap::{Block, BlockBuf};
/// let mut buf = BlockBuf::new(5, 0);
/// buf.set_lsns(Lsn::new(8916), Lsn::new(1_234_567));
/// buf.set_last(true);
/// buf.set_page(3);
/// let bytes = buf.finish();
/// let block = Block::new(&bytes[..]).unwrap();
/// assert_eq!(block.stored_checksum(), 0x0A3B_2E7C);
/// assert!(block.validate().is_ok());
/// assert_eq!(block.pages().collect::<Vec<_>>(), vec![3]);
/// ```
#[derive(Clone, Copy)]
pub struct Block<'a> {
    bytes: &'a [u8; BLOCK_SIZE],
}

impl std::fmt::Debug for Block<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Block")
            .field("is_last", &self.is_last())
            .field("start_lsn", &self.start_lsn())
            .field("end_lsn", &self.end_lsn())
            .field("space_id", &self.space_id())
            .field("first_page_id", &self.first_page_id())
            .field("stored_checksum", &self.stored_checksum())
            .finish()
    }
}

impl<'a> Block<'a> {
    /// A view of `bytes`, which must be exactly 4096 bytes. Nothing else is checked: use
    /// [`Block::validate`].
    ///
    /// ```
    /// use lsn_bitmap::{Block, BlockError};
    /// assert_eq!(Block::new(&[0u8; 10]).unwrap_err(), BlockError::Length { len: 10 });
    /// assert!(Block::new(&[0u8; 4096]).is_ok());
    /// ```
    pub fn new(bytes: &'a [u8]) -> Result<Block<'a>, BlockError> {
        let bytes = <&[u8; BLOCK_SIZE]>::try_from(bytes)
            .map_err(|_| BlockError::Length { len: bytes.len() })?;
        Ok(Block { bytes })
    }

    /// A view of a 4096-byte array.
    ///
    /// ```
    /// let b = lsn_bitmap::Block::from_array(&[0u8; 4096]);
    /// assert_eq!(b.space_id(), 0);
    /// ```
    pub fn from_array(bytes: &'a [u8; BLOCK_SIZE]) -> Block<'a> {
        Block { bytes }
    }

    /// The underlying bytes.
    ///
    /// ```
    /// let raw = [0u8; 4096];
    /// assert_eq!(lsn_bitmap::Block::from_array(&raw).as_bytes().len(), 4096);
    /// ```
    pub fn as_bytes(&self) -> &'a [u8; BLOCK_SIZE] {
        self.bytes
    }

    /// The raw `is_last_block` field.
    ///
    /// ```
    /// assert_eq!(lsn_bitmap::Block::from_array(&[0u8; 4096]).raw_is_last(), 0);
    /// ```
    pub fn raw_is_last(&self) -> u32 {
        BigEndian::read_u32(&self.bytes[IS_LAST_OFFSET..IS_LAST_OFFSET + 4])
    }

    /// Whether this block ends its write run (the field is non-zero).
    ///
    /// ```
    /// let mut raw = [0u8; 4096];
    /// raw[3] = 7;
    /// assert!(lsn_bitmap::Block::from_array(&raw).is_last());
    /// ```
    pub fn is_last(&self) -> bool {
        self.raw_is_last() != 0
    }

    /// Start LSN of the run this block belongs to.
    ///
    /// ```
    /// let mut raw = [0u8; 4096];
    /// raw[11] = 9;
    /// assert_eq!(lsn_bitmap::Block::from_array(&raw).start_lsn().get(), 9);
    /// ```
    pub fn start_lsn(&self) -> Lsn {
        Lsn::new(BigEndian::read_u64(
            &self.bytes[START_LSN_OFFSET..START_LSN_OFFSET + 8],
        ))
    }

    /// End LSN of the run this block belongs to.
    ///
    /// ```
    /// let mut raw = [0u8; 4096];
    /// raw[19] = 9;
    /// assert_eq!(lsn_bitmap::Block::from_array(&raw).end_lsn().get(), 9);
    /// ```
    pub fn end_lsn(&self) -> Lsn {
        Lsn::new(BigEndian::read_u64(
            &self.bytes[END_LSN_OFFSET..END_LSN_OFFSET + 8],
        ))
    }

    /// Tablespace id of every page this block tracks.
    ///
    /// ```
    /// let mut raw = [0u8; 4096];
    /// raw[23] = 5;
    /// assert_eq!(lsn_bitmap::Block::from_array(&raw).space_id(), 5);
    /// ```
    pub fn space_id(&self) -> u32 {
        BigEndian::read_u32(&self.bytes[SPACE_ID_OFFSET..SPACE_ID_OFFSET + 4])
    }

    /// Page number that bit 0 stands for.
    ///
    /// ```
    /// let mut raw = [0u8; 4096];
    /// raw[24..28].copy_from_slice(&32448u32.to_be_bytes());
    /// assert_eq!(lsn_bitmap::Block::from_array(&raw).first_page_id(), 32448);
    /// ```
    pub fn first_page_id(&self) -> u32 {
        BigEndian::read_u32(&self.bytes[FIRST_PAGE_OFFSET..FIRST_PAGE_OFFSET + 4])
    }

    /// `(space_id, first_page_id)`.
    ///
    /// ```
    /// let k = lsn_bitmap::Block::from_array(&[0u8; 4096]).key();
    /// assert_eq!((k.space_id, k.first_page_id), (0, 0));
    /// ```
    pub fn key(&self) -> BlockKey {
        BlockKey {
            space_id: self.space_id(),
            first_page_id: self.first_page_id(),
        }
    }

    /// The 4056 bitmap bytes; page `first + d` is bit `d % 8` (LSB first) of byte `d / 8`.
    ///
    /// ```
    /// assert_eq!(lsn_bitmap::Block::from_array(&[0u8; 4096]).bitmap().len(), 4056);
    /// ```
    pub fn bitmap(&self) -> &'a [u8; BITMAP_LEN] {
        let (_, rest) = self.bytes.split_at(BITMAP_OFFSET);
        let (bitmap, _) = rest.split_at(BITMAP_LEN);
        // The split sizes are constants, so this conversion cannot fail; fall back to an empty
        // bitmap rather than panic.
        <&[u8; BITMAP_LEN]>::try_from(bitmap).unwrap_or(&ZERO_BITMAP)
    }

    /// The bitmap as bits, byte-wise LSB-first (bit `d` = page `first_page_id + d`).
    ///
    /// ```
    /// let mut raw = [0u8; 4096];
    /// raw[33] = 0b10;
    /// assert!(lsn_bitmap::Block::from_array(&raw).bits()[9]);
    /// ```
    pub fn bits(&self) -> BlockBits<'a> {
        BlockBits::new(self.bitmap())
    }

    /// Whether the bit of `page_no` is set (false if the page is outside this block).
    ///
    /// ```
    /// let mut raw = [0u8; 4096];
    /// raw[32] = 0x08;
    /// let b = lsn_bitmap::Block::from_array(&raw);
    /// assert!(b.contains_page(3) && !b.contains_page(2) && !b.contains_page(40000));
    /// ```
    pub fn contains_page(&self, page_no: u32) -> bool {
        match page_no.checked_sub(self.first_page_id()) {
            Some(d) => self.bits().get(d as usize),
            None => false,
        }
    }

    /// The pages whose bits are set, ascending. Bits that would stand for a page number above
    /// `u32::MAX` are not yielded.
    ///
    /// ```
    /// let mut raw = [0u8; 4096];
    /// raw[32] = 0x03;
    /// raw[4087] = 0x80;
    /// let b = lsn_bitmap::Block::from_array(&raw);
    /// assert_eq!(b.pages().collect::<Vec<_>>(), vec![0, 1, 32447]);
    /// ```
    pub fn pages(&self) -> impl Iterator<Item = u32> + 'a {
        let first = self.first_page_id();
        self.bits()
            .iter_ones()
            .map_while(move |d| first.checked_add(d as u32))
    }

    /// The stored checksum (offset 4092).
    ///
    /// ```
    /// assert_eq!(lsn_bitmap::Block::from_array(&[0u8; 4096]).stored_checksum(), 0);
    /// ```
    pub fn stored_checksum(&self) -> u32 {
        BigEndian::read_u32(&self.bytes[CHECKSUM_OFFSET..BLOCK_SIZE])
    }

    /// The checksum computed from bytes 0..4092.
    ///
    /// ```
    /// assert_eq!(lsn_bitmap::Block::from_array(&[0u8; 4096]).computed_checksum(), 1);
    /// ```
    pub fn computed_checksum(&self) -> u32 {
        block_checksum(self.bytes)
    }

    /// Checks the checksum only.
    ///
    /// ```
    /// use lsn_bitmap::{Block, BlockError};
    /// let err = Block::from_array(&[0u8; 4096]).verify_checksum().unwrap_err();
    /// assert_eq!(err, BlockError::Checksum { stored: 0, computed: 1 });
    /// ```
    pub fn verify_checksum(&self) -> Result<(), BlockError> {
        let stored = self.stored_checksum();
        let computed = self.computed_checksum();
        if stored == computed {
            Ok(())
        } else {
            Err(BlockError::Checksum { stored, computed })
        }
    }

    /// Checks everything a reader relies on: the checksum, `first_page_id` alignment, no bit
    /// for a page number above `0xFFFF_FFFE`, and `start_lsn < end_lsn`.
    ///
    /// ```
    /// use innodb_page::Lsn;
    /// use lsn_bitmap::{Block, BlockBuf, BlockError};
    /// let mut buf = BlockBuf::new(1, 0);
    /// buf.set_lsns(Lsn::new(10), Lsn::new(10));
    /// let bytes = buf.finish();
    /// assert!(matches!(Block::from_array(&bytes).validate(), Err(BlockError::EmptyLsnRange { .. })));
    /// ```
    pub fn validate(&self) -> Result<(), BlockError> {
        self.verify_checksum()?;
        let first_page_id = self.first_page_id();
        if !first_page_id.is_multiple_of(PAGES_PER_BLOCK) {
            return Err(BlockError::UnalignedFirstPage { first_page_id });
        }
        if first_page_id == LAST_BLOCK_FIRST_PAGE
            && self
                .bitmap()
                .view_bits::<Lsb0>()
                .get(LAST_BLOCK_VALID_BITS..)
                .is_some_and(|b| b.any())
        {
            return Err(BlockError::PageOutOfRange { first_page_id });
        }
        let (start_lsn, end_lsn) = (self.start_lsn(), self.end_lsn());
        if start_lsn >= end_lsn {
            return Err(BlockError::EmptyLsnRange { start_lsn, end_lsn });
        }
        Ok(())
    }
}

static ZERO_BITMAP: [u8; BITMAP_LEN] = [0; BITMAP_LEN];

/// An owned block being built, e.g. by the writer or by tests.
///
/// ```
/// use innodb_page::Lsn;
/// use lsn_bitmap::{Block, BlockBuf};
/// let mut buf = BlockBuf::new(0xFFFF_FFFE, 32448);
/// buf.set_lsns(Lsn::new(0x1122334455667788), Lsn::new(0x1122334455667799));
/// for p in [32448, 32449, 64895] {
///     assert!(buf.set_page(p));
/// }
/// assert!(!buf.set_page(5)); // not in this block
/// let bytes = buf.finish();
/// assert_eq!(Block::from_array(&bytes).stored_checksum(), 0x7698_9122);
/// ```
#[derive(Clone)]
pub struct BlockBuf {
    bytes: Box<[u8; BLOCK_SIZE]>,
}

impl std::fmt::Debug for BlockBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        Block::from_array(&self.bytes).fmt(f)
    }
}

impl BlockBuf {
    /// A zeroed block for `space_id` whose bit 0 is `first_page_id` (stored as given).
    ///
    /// ```
    /// let b = lsn_bitmap::BlockBuf::new(3, 0);
    /// assert_eq!(b.as_block().space_id(), 3);
    /// ```
    pub fn new(space_id: u32, first_page_id: u32) -> BlockBuf {
        let mut bytes = Box::new([0u8; BLOCK_SIZE]);
        BigEndian::write_u32(&mut bytes[SPACE_ID_OFFSET..SPACE_ID_OFFSET + 4], space_id);
        BigEndian::write_u32(
            &mut bytes[FIRST_PAGE_OFFSET..FIRST_PAGE_OFFSET + 4],
            first_page_id,
        );
        BlockBuf { bytes }
    }

    /// Sets the `is_last_block` flag to 1 or 0.
    ///
    /// ```
    /// let mut b = lsn_bitmap::BlockBuf::new(3, 0);
    /// b.set_last(true);
    /// assert!(b.as_block().is_last());
    /// ```
    pub fn set_last(&mut self, last: bool) {
        BigEndian::write_u32(
            &mut self.bytes[IS_LAST_OFFSET..IS_LAST_OFFSET + 4],
            u32::from(last),
        );
    }

    /// Sets the run's start and end LSN.
    ///
    /// ```
    /// use innodb_page::Lsn;
    /// let mut b = lsn_bitmap::BlockBuf::new(3, 0);
    /// b.set_lsns(Lsn::new(1), Lsn::new(2));
    /// assert_eq!(b.as_block().end_lsn(), Lsn::new(2));
    /// ```
    pub fn set_lsns(&mut self, start_lsn: Lsn, end_lsn: Lsn) {
        BigEndian::write_u64(
            &mut self.bytes[START_LSN_OFFSET..START_LSN_OFFSET + 8],
            start_lsn.get(),
        );
        BigEndian::write_u64(
            &mut self.bytes[END_LSN_OFFSET..END_LSN_OFFSET + 8],
            end_lsn.get(),
        );
    }

    /// The bitmap bytes, to fill directly.
    ///
    /// ```
    /// let mut b = lsn_bitmap::BlockBuf::new(3, 0);
    /// b.bitmap_mut()[0] = 1;
    /// assert!(b.as_block().contains_page(0));
    /// ```
    pub fn bitmap_mut(&mut self) -> &mut [u8] {
        &mut self.bytes[BITMAP_OFFSET..BITMAP_OFFSET + BITMAP_LEN]
    }

    /// Sets the bit of `page_no`; returns false (and changes nothing) if the page is not in
    /// this block.
    ///
    /// ```
    /// let mut b = lsn_bitmap::BlockBuf::new(3, 32448);
    /// assert!(b.set_page(32450));
    /// assert_eq!(b.as_block().bitmap()[0], 0b100);
    /// ```
    pub fn set_page(&mut self, page_no: u32) -> bool {
        let first = Block::from_array(&self.bytes).first_page_id();
        match page_no.checked_sub(first) {
            Some(d) if d < PAGES_PER_BLOCK => {
                let d = d as usize;
                if let Some(byte) = self.bitmap_mut().get_mut(d / 8) {
                    *byte |= 1 << (d % 8);
                }
                true
            }
            _ => false,
        }
    }

    /// Writes raw bytes over the block (for tests of corrupt data): `offset` and the length
    /// are clipped to the block.
    ///
    /// ```
    /// let mut b = lsn_bitmap::BlockBuf::new(3, 0);
    /// b.patch(4095, &[1, 2, 3]);
    /// assert_eq!(b.as_block().as_bytes()[4095], 1);
    /// ```
    pub fn patch(&mut self, offset: usize, bytes: &[u8]) {
        if let Some(dst) = self.bytes.get_mut(offset..) {
            for (d, s) in dst.iter_mut().zip(bytes) {
                *d = *s;
            }
        }
    }

    /// A view of the current contents (checksum as last stored).
    ///
    /// ```
    /// assert_eq!(lsn_bitmap::BlockBuf::new(3, 0).as_block().stored_checksum(), 0);
    /// ```
    pub fn as_block(&self) -> Block<'_> {
        Block::from_array(&self.bytes)
    }

    /// Stores the checksum and returns the finished bytes.
    ///
    /// ```
    /// let bytes = lsn_bitmap::BlockBuf::new(3, 0).finish();
    /// assert!(lsn_bitmap::Block::from_array(&bytes).verify_checksum().is_ok());
    /// ```
    pub fn finish(mut self) -> Box<[u8; BLOCK_SIZE]> {
        self.update_checksum();
        self.bytes
    }

    /// Stores the checksum of the current contents.
    ///
    /// ```
    /// let mut b = lsn_bitmap::BlockBuf::new(3, 0);
    /// b.update_checksum();
    /// assert!(b.as_block().verify_checksum().is_ok());
    /// ```
    pub fn update_checksum(&mut self) {
        let sum = block_checksum(&self.bytes);
        BigEndian::write_u32(&mut self.bytes[CHECKSUM_OFFSET..BLOCK_SIZE], sum);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants() {
        assert_eq!(BITMAP_LEN, 4056);
        assert_eq!(PAGES_PER_BLOCK, 32448);
        assert_eq!(LAST_BLOCK_FIRST_PAGE, 4_294_947_072);
        assert_eq!(LAST_BLOCK_VALID_BITS, 20_223);
    }

    #[test]
    fn bit_addressing_is_bytewise_lsb_first() {
        let mut b = BlockBuf::new(1, 64896);
        for d in [0u32, 7, 8, 63, 64, 32447] {
            let mut one = BlockBuf::new(1, 64896);
            assert!(one.set_page(64896 + d));
            let bm = one.as_block().bitmap();
            let d = d as usize;
            assert_eq!(bm[d / 8], 1 << (d % 8));
            assert_eq!(bm.iter().filter(|&&x| x != 0).count(), 1);
            b.set_page(64896 + d as u32);
        }
        let pages: Vec<u32> = b.as_block().pages().collect();
        assert_eq!(pages, vec![64896, 64903, 64904, 64959, 64960, 97343]);
    }

    #[test]
    fn validate_rejects_unaligned_and_out_of_range() {
        let mut b = BlockBuf::new(1, 5);
        b.set_lsns(Lsn::new(1), Lsn::new(2));
        let bytes = b.finish();
        assert_eq!(
            Block::from_array(&bytes).validate(),
            Err(BlockError::UnalignedFirstPage { first_page_id: 5 })
        );

        let mut b = BlockBuf::new(1, LAST_BLOCK_FIRST_PAGE);
        b.set_lsns(Lsn::new(1), Lsn::new(2));
        assert!(b.set_page(u32::MAX - 1));
        let ok = b.clone().finish();
        assert!(Block::from_array(&ok).validate().is_ok());
        assert!(b.set_page(u32::MAX));
        let bad = b.finish();
        assert!(matches!(
            Block::from_array(&bad).validate(),
            Err(BlockError::PageOutOfRange { .. })
        ));
    }

    #[test]
    fn corrupt_checksum_detected() {
        let mut b = BlockBuf::new(1, 0);
        b.set_lsns(Lsn::new(1), Lsn::new(2));
        let mut bytes = b.finish();
        bytes[100] ^= 1;
        assert!(matches!(
            Block::from_array(&bytes).validate(),
            Err(BlockError::Checksum { .. })
        ));
    }
}
