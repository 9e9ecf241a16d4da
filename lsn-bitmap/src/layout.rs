//! The layout of a 4096-byte bitmap block (spec §5.2): its size and the offsets of its fields,
//! re-exported by `crate::block`. A leaf module, so that both `block` and `checksum` can name
//! the layout without depending on each other.

/// Size of a block in bytes (`MODIFIED_PAGE_BLOCK_SIZE`).
pub const BLOCK_SIZE: usize = 4096;
/// Offset of the `is_last_block` flag (u32 BE).
pub const IS_LAST_OFFSET: usize = 0;
/// Offset of the run's start LSN (u64 BE).
pub const START_LSN_OFFSET: usize = 4;
/// Offset of the run's end LSN (u64 BE).
pub const END_LSN_OFFSET: usize = 12;
/// Offset of the space id (u32 BE).
pub const SPACE_ID_OFFSET: usize = 20;
/// Offset of the first page id (u32 BE).
pub const FIRST_PAGE_OFFSET: usize = 24;
/// Offset of the bitmap.
pub const BITMAP_OFFSET: usize = 32;
/// Length of the bitmap in bytes.
pub const BITMAP_LEN: usize = BLOCK_SIZE - 8 - BITMAP_OFFSET;
/// Number of pages one block describes (32448).
pub const PAGES_PER_BLOCK: u32 = (BITMAP_LEN * 8) as u32;
/// Offset of the checksum (u32 BE); the checksum covers the bytes before it.
pub const CHECKSUM_OFFSET: usize = BLOCK_SIZE - 4;
