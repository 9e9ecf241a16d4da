//! 512-byte log blocks (MySQL 5.7/8.0, MariaDB 10.2–10.7) and the end-of-log block scan.
//!
//! | Off | Len | Field |
//! |---|---|---|
//! | 0 | 4 | hdr_no = `1 + (block_start_lsn / 512) mod 0x40000000`; bit 31 = flush bit |
//! | 4 | 2 | data_len, counting the 12-byte header (512 = full); MySQL 8: bit 15 = encrypted |
//! | 6 | 2 | first_rec_group |
//! | 8 | 4 | checkpoint_no (low 32 bits), or epoch_no in MySQL 8.0.30+ |
//! | 508 | 4 | CRC-32C of bytes 0..508 (0xDEADBEEF when log checksums are disabled) |

use super::checkpoint::LOG_FILE_HDR_SIZE;
use super::{be_u16, be_u32, lsn, RedoError};
use crate::Lsn;

/// Size of a log block.
pub const BLOCK_SIZE: u64 = 512;
/// Size of a block header.
pub const BLOCK_HDR_SIZE: u16 = 12;
/// Size of a block trailer (the checksum).
pub const BLOCK_TRL_SIZE: u16 = 4;
/// The stored "checksum" of blocks written with log checksums disabled.
pub const NO_CHECKSUM_MAGIC: u32 = 0xDEAD_BEEF;
/// Flush bit of hdr_no.
pub const FLUSH_BIT: u32 = 0x8000_0000;
/// Encryption bit of data_len (MySQL 8).
pub const DATA_LEN_ENCRYPTED_BIT: u16 = 0x8000;
/// Block numbers wrap at this value (hdr_no is 1 + block number modulo it).
pub const HDR_NO_WRAP: u64 = 0x4000_0000;

/// The hdr_no a block starting at `block_start_lsn` must carry (flush bit clear).
///
/// ```
/// use innodb_page::redo::block::expected_hdr_no;
/// use innodb_page::Lsn;
/// assert_eq!(expected_hdr_no(Lsn::new(8192)), 17);
/// assert_eq!(expected_hdr_no(Lsn::new(512 * 0x4000_0000)), 1);
/// ```
pub fn expected_hdr_no(block_start_lsn: Lsn) -> u32 {
    let n = (block_start_lsn.get() / BLOCK_SIZE) % HDR_NO_WRAP;
    (1 + n) as u32
}

/// The epoch_no a MySQL 8.0.30+ block starting at `block_start_lsn` must carry.
///
/// ```
/// use innodb_page::redo::block::expected_epoch;
/// use innodb_page::Lsn;
/// assert_eq!(expected_epoch(Lsn::new(8192)), 0);
/// assert_eq!(expected_epoch(Lsn::new(512 * 0x4000_0000 * 3 + 512)), 3);
/// ```
pub fn expected_epoch(block_start_lsn: Lsn) -> u32 {
    ((block_start_lsn.get() / BLOCK_SIZE) / HDR_NO_WRAP) as u32
}

/// The legacy "innodb" log block checksum over bytes 0..508 (5.6-era logs), for diagnostics.
///
/// ```
/// use innodb_page::redo::block::legacy_innodb_checksum;
/// assert_eq!(legacy_innodb_checksum(&[0u8; 512]), Some(1));
/// assert_eq!(legacy_innodb_checksum(&[0u8; 10]), None);
/// ```
pub fn legacy_innodb_checksum(block: &[u8]) -> Option<u32> {
    let data = block.get(..508)?;
    let mut s: u32 = 1;
    let mut sh: u32 = 0;
    for &b in data {
        let b = u32::from(b);
        s &= 0x7FFF_FFFF;
        s = s.wrapping_add(b);
        s = s.wrapping_add(b << sh);
        sh += 1;
        if sh > 24 {
            sh = 0;
        }
    }
    Some(s)
}

/// What a block's stored checksum matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BlockChecksum {
    /// CRC-32C of bytes 0..508.
    Crc32c,
    /// The "checksums disabled" magic 0xDEADBEEF.
    Disabled,
    /// The legacy innodb algorithm (5.6-era logs; not accepted by the end scan).
    LegacyInnodb,
    /// Nothing: the block is corrupt or stale.
    Bad,
}

/// A zero-copy view of one 512-byte log block.
///
/// ```
/// use innodb_page::redo::block::{LogBlock, BlockChecksum};
/// use innodb_page::Lsn;
/// let mut b = [0u8; 512];
/// b[0..4].copy_from_slice(&17u32.to_be_bytes());   // block at LSN 8192
/// b[4..6].copy_from_slice(&100u16.to_be_bytes());
/// let crc = crc32c::crc32c(&b[..508]);
/// b[508..].copy_from_slice(&crc.to_be_bytes());
/// let blk = LogBlock::new(&b).unwrap();
/// assert_eq!(blk.hdr_no(), 17);
/// assert_eq!(blk.data_len(), 100);
/// assert_eq!(blk.checksum(), BlockChecksum::Crc32c);
/// assert!(blk.is_valid_at(Lsn::new(8192), false, false));
/// assert!(!blk.is_valid_at(Lsn::new(8704), false, false));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogBlock<'a> {
    data: &'a [u8],
}

impl<'a> LogBlock<'a> {
    /// Views the first 512 bytes of `data` as a block.
    pub fn new(data: &'a [u8]) -> Result<LogBlock<'a>, RedoError> {
        match data.get(..BLOCK_SIZE as usize) {
            Some(d) => Ok(LogBlock { data: d }),
            None => Err(RedoError::truncated("log block", data.len(), 512)),
        }
    }

    /// The 512 bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.data
    }

    /// hdr_no with the flush bit masked off.
    pub fn hdr_no(&self) -> u32 {
        be_u32(self.data, 0).unwrap_or(0) & !FLUSH_BIT
    }

    /// The flush bit (bit 31 of the first word, old versions).
    pub fn flush_bit(&self) -> bool {
        be_u32(self.data, 0).unwrap_or(0) & FLUSH_BIT != 0
    }

    /// The raw data_len field.
    pub fn raw_data_len(&self) -> u16 {
        be_u16(self.data, 4).unwrap_or(0)
    }

    /// data_len with MySQL 8's encryption bit masked off.
    pub fn data_len(&self) -> u16 {
        self.raw_data_len() & !DATA_LEN_ENCRYPTED_BIT
    }

    /// MySQL 8: the block's encryption bit.
    pub fn encrypted_bit(&self) -> bool {
        self.raw_data_len() & DATA_LEN_ENCRYPTED_BIT != 0
    }

    /// Offset of the first mini-transaction starting in this block (0 = none).
    pub fn first_rec_group(&self) -> u16 {
        be_u16(self.data, 6).unwrap_or(0)
    }

    /// The word at offset 8: low 32 bits of the checkpoint number, or the epoch (8.0.30+).
    pub fn checkpoint_no_or_epoch(&self) -> u32 {
        be_u32(self.data, 8).unwrap_or(0)
    }

    /// The stored checksum at 508.
    pub fn stored_checksum(&self) -> u32 {
        be_u32(self.data, 508).unwrap_or(0)
    }

    /// Which algorithm the stored checksum matches.
    pub fn checksum(&self) -> BlockChecksum {
        let stored = self.stored_checksum();
        let crc = self.data.get(..508).map(crc32c::crc32c);
        if crc == Some(stored) {
            BlockChecksum::Crc32c
        } else if stored == NO_CHECKSUM_MAGIC {
            BlockChecksum::Disabled
        } else if legacy_innodb_checksum(self.data) == Some(stored) {
            BlockChecksum::LegacyInnodb
        } else {
            BlockChecksum::Bad
        }
    }

    /// The end-of-log validity rule for a block expected at `block_start_lsn`: checksum is
    /// CRC-32C (or the checksums-disabled magic), hdr_no matches, with `check_epoch` the epoch
    /// matches too, and data_len (masked when `mask_len_bit15`) lies in 12..=512.
    pub fn is_valid_at(
        &self,
        block_start_lsn: Lsn,
        check_epoch: bool,
        mask_len_bit15: bool,
    ) -> bool {
        if !matches!(
            self.checksum(),
            BlockChecksum::Crc32c | BlockChecksum::Disabled
        ) {
            return false;
        }
        if self.hdr_no() != expected_hdr_no(block_start_lsn) {
            return false;
        }
        if check_epoch && self.checkpoint_no_or_epoch() != expected_epoch(block_start_lsn) {
            return false;
        }
        let len = self.effective_len(mask_len_bit15);
        (BLOCK_HDR_SIZE..=BLOCK_SIZE as u16).contains(&len)
    }

    fn effective_len(&self, mask_len_bit15: bool) -> u16 {
        if mask_len_bit15 {
            self.data_len()
        } else {
            self.raw_data_len()
        }
    }
}

/// Why a block scan stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BlockStop {
    /// The last valid block is not full: the log ends inside it.
    PartialBlock,
    /// The next block fails the validity rule (bad checksum, wrong hdr_no or epoch, bad length).
    InvalidBlock,
    /// The next block is not available (past the last file, or a short file).
    Unreadable,
    /// A whole capacity was scanned without finding the end.
    Capacity,
}

/// Result of [`scan`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct BlockScan {
    /// The scanned end LSN; `None` if even the block holding the start LSN is not valid, or the
    /// end found lies before the start LSN (the files do not hold the log the checkpoint
    /// describes).
    pub end_lsn: Option<Lsn>,
    /// Number of valid blocks read.
    pub valid_blocks: u64,
    /// Why the scan stopped.
    pub stop: BlockStop,
}

/// Options of [`scan`], derived from the format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ScanRules {
    /// Check the epoch word (MySQL 8.0.30+).
    pub check_epoch: bool,
    /// Mask bit 15 of data_len (MySQL 8).
    pub mask_len_bit15: bool,
    /// Stop after this many blocks (the capacity in blocks of a ring log).
    pub max_blocks: u64,
}

impl ScanRules {
    /// No epoch check, no masking, a limit of `max_blocks` blocks; see the setters and
    /// [`ScanRules::for_format`].
    ///
    /// ```
    /// use innodb_page::redo::block::ScanRules;
    /// let r = ScanRules::new(8).check_epoch(true).mask_len_bit15(true);
    /// assert!(r.check_epoch && r.mask_len_bit15);
    /// assert_eq!(r.max_blocks, 8);
    /// ```
    pub const fn new(max_blocks: u64) -> ScanRules {
        ScanRules {
            check_epoch: false,
            mask_len_bit15: false,
            max_blocks,
        }
    }

    /// Sets [`ScanRules::check_epoch`].
    pub const fn check_epoch(mut self, check: bool) -> ScanRules {
        self.check_epoch = check;
        self
    }

    /// Sets [`ScanRules::mask_len_bit15`].
    pub const fn mask_len_bit15(mut self, mask: bool) -> ScanRules {
        self.mask_len_bit15 = mask;
        self
    }

    /// The rules for `format`, with a limit of `max_blocks` blocks.
    ///
    /// ```
    /// use innodb_page::redo::{block::ScanRules, RedoFormat};
    /// let r = ScanRules::for_format(RedoFormat::MySql8030, 100);
    /// assert!(r.check_epoch && r.mask_len_bit15);
    /// ```
    pub fn for_format(format: super::RedoFormat, max_blocks: u64) -> ScanRules {
        ScanRules {
            check_epoch: format.checks_epoch(),
            mask_len_bit15: format.masks_data_len_bit15(),
            max_blocks,
        }
    }
}

/// The end-of-log scan of §6.1: starting with the block that holds `start` (the checkpoint
/// LSN), reads consecutive blocks through `read(block_start_lsn, buf)` while they are valid.
/// `read` returns `Ok(false)` when no block exists at that LSN. In the last valid block, a
/// data_len below 512 ends the log at `block_start + data_len`; a full block goes on.
///
/// ```
/// use innodb_page::redo::block::{scan, ScanRules, BlockStop};
/// use innodb_page::Lsn;
/// // One block at LSN 8192 holding 100 bytes.
/// let mut b = [0u8; 512];
/// b[0..4].copy_from_slice(&17u32.to_be_bytes());
/// b[4..6].copy_from_slice(&100u16.to_be_bytes());
/// let crc = crc32c::crc32c(&b[..508]);
/// b[508..].copy_from_slice(&crc.to_be_bytes());
/// let rules = ScanRules::new(10);
/// let r = scan(Lsn::new(8200), rules, |l, buf| {
///     if l == 8192 { buf.copy_from_slice(&b); Ok::<_, ()>(true) } else { Ok(false) }
/// }).unwrap();
/// assert_eq!(r.end_lsn, Some(Lsn::new(8292)));
/// assert_eq!(r.stop, BlockStop::PartialBlock);
/// ```
pub fn scan<E>(
    start: Lsn,
    rules: ScanRules,
    mut read: impl FnMut(u64, &mut [u8; 512]) -> Result<bool, E>,
) -> Result<BlockScan, E> {
    let mut block_lsn = start.get() - start.get() % BLOCK_SIZE;
    let mut buf = [0u8; 512];
    let mut valid_blocks = 0u64;
    let mut end: Option<u64> = None;
    let stop = loop {
        if valid_blocks >= rules.max_blocks {
            break BlockStop::Capacity;
        }
        if !read(block_lsn, &mut buf)? {
            break BlockStop::Unreadable;
        }
        let blk = LogBlock { data: &buf };
        if !blk.is_valid_at(lsn(block_lsn), rules.check_epoch, rules.mask_len_bit15) {
            break BlockStop::InvalidBlock;
        }
        valid_blocks += 1;
        let len = u64::from(blk.effective_len(rules.mask_len_bit15));
        let Some(e) = block_lsn.checked_add(len) else {
            break BlockStop::InvalidBlock;
        };
        end = Some(e);
        if len < BLOCK_SIZE {
            break BlockStop::PartialBlock;
        }
        block_lsn = e;
    };
    let end_lsn = end.filter(|&e| e >= start.get()).map(lsn);
    Ok(BlockScan {
        end_lsn,
        valid_blocks,
        stop,
    })
}

/// The LSN → file position mapping of a ring of `files` equal files of `file_size` bytes, each
/// with a 2048-byte header (MySQL ≤ 8.0.29, MariaDB 10.2–10.7), anchored at a checkpoint's LSN
/// and byte offset.
///
/// ```
/// use innodb_page::redo::block::RingGeometry;
/// use innodb_page::Lsn;
/// // Two files of 4 KiB; the checkpoint LSN 8204 is at real offset 2048 + 12.
/// let g = RingGeometry::new(4096, 2, Lsn::new(8204), 2060).unwrap();
/// assert_eq!(g.capacity(), 4096);
/// assert_eq!(g.locate(Lsn::new(8192)), (0, 2048));
/// assert_eq!(g.locate(Lsn::new(8192 + 2048)), (1, 2048)); // second file
/// assert_eq!(g.locate(Lsn::new(8192 + 4096)), (0, 2048)); // wrapped
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingGeometry {
    file_size: u64,
    files: u64,
    capacity: u64,
    anchor_lsn: u64,
    anchor_data_pos: u64,
}

impl RingGeometry {
    /// Validates the geometry: `file_size` a multiple of 512 above 2048, at least one file, the
    /// checkpoint offset inside a file's data area, and in the same place of its block as the
    /// checkpoint LSN.
    pub fn new(
        file_size: u64,
        files: u64,
        checkpoint_lsn: Lsn,
        checkpoint_offset: u64,
    ) -> Result<RingGeometry, RedoError> {
        if !file_size.is_multiple_of(BLOCK_SIZE) || file_size <= LOG_FILE_HDR_SIZE {
            return Err(RedoError::BadGeometry {
                why: "log file size must be a multiple of 512 larger than 2048",
                value: file_size,
            });
        }
        if files == 0 {
            return Err(RedoError::BadGeometry {
                why: "no log files",
                value: 0,
            });
        }
        let per_file = file_size - LOG_FILE_HDR_SIZE;
        let capacity = per_file.checked_mul(files).ok_or(RedoError::BadGeometry {
            why: "log capacity overflows",
            value: files,
        })?;
        let total = file_size.checked_mul(files).ok_or(RedoError::BadGeometry {
            why: "log size overflows",
            value: files,
        })?;
        let o = checkpoint_offset;
        if o >= total || o % file_size < LOG_FILE_HDR_SIZE {
            return Err(RedoError::BadGeometry {
                why: "checkpoint offset outside the data area of the log files",
                value: o,
            });
        }
        if o % BLOCK_SIZE != checkpoint_lsn.get() % BLOCK_SIZE {
            return Err(RedoError::BadGeometry {
                why: "checkpoint offset and LSN disagree on the position inside a block",
                value: o,
            });
        }
        let anchor_data_pos = o - LOG_FILE_HDR_SIZE * (1 + o / file_size);
        Ok(RingGeometry {
            file_size,
            files,
            capacity,
            anchor_lsn: checkpoint_lsn.get(),
            anchor_data_pos,
        })
    }

    /// Total data bytes of the ring: `files × (file_size − 2048)`.
    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    /// Number of files.
    pub fn files(&self) -> u64 {
        self.files
    }

    /// Size of each file.
    pub fn file_size(&self) -> u64 {
        self.file_size
    }

    /// (file index, offset in that file) of `lsn`, going forwards or backwards from the anchor
    /// modulo the capacity.
    pub fn locate(&self, lsn: Lsn) -> (u64, u64) {
        let c = self.capacity;
        let pos = self.anchor_data_pos; // < c
                                        // Modular distance from the anchor, without overflow: forward if lsn ≥ anchor.
        let d = if lsn.get() >= self.anchor_lsn {
            let fwd = (lsn.get() - self.anchor_lsn) % c;
            if fwd >= c - pos {
                fwd - (c - pos)
            } else {
                pos + fwd
            }
        } else {
            let back = (self.anchor_lsn - lsn.get()) % c;
            if back <= pos {
                pos - back
            } else {
                c - (back - pos)
            }
        };
        let per_file = self.file_size - LOG_FILE_HDR_SIZE;
        let real = d + LOG_FILE_HDR_SIZE * (1 + d / per_file);
        (real / self.file_size, real % self.file_size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a valid block for `start` with `len` data bytes.
    fn block(start: u64, len: u16, epoch: bool) -> [u8; 512] {
        let mut b = [0u8; 512];
        b[0..4].copy_from_slice(&expected_hdr_no(Lsn::new(start)).to_be_bytes());
        b[4..6].copy_from_slice(&len.to_be_bytes());
        b[6..8].copy_from_slice(&12u16.to_be_bytes());
        if epoch {
            b[8..12].copy_from_slice(&expected_epoch(Lsn::new(start)).to_be_bytes());
        }
        for (i, x) in b[12..508].iter_mut().enumerate() {
            *x = (start as usize + i) as u8 | 0x80;
        }
        let crc = crc32c::crc32c(&b[..508]);
        b[508..].copy_from_slice(&crc.to_be_bytes());
        b
    }

    fn rules() -> ScanRules {
        ScanRules {
            check_epoch: false,
            mask_len_bit15: false,
            max_blocks: 100,
        }
    }

    #[test]
    fn scan_multi_block_partial() {
        let blocks = [
            block(8192, 512, false),
            block(8704, 512, false),
            block(9216, 300, false),
        ];
        let r = scan(Lsn::new(8300), rules(), |l, buf| {
            let i = ((l - 8192) / 512) as usize;
            match blocks.get(i) {
                Some(b) => {
                    buf.copy_from_slice(b);
                    Ok::<_, ()>(true)
                }
                None => Ok(false),
            }
        })
        .unwrap();
        assert_eq!(r.end_lsn, Some(Lsn::new(9216 + 300)));
        assert_eq!(r.valid_blocks, 3);
        assert_eq!(r.stop, BlockStop::PartialBlock);
    }

    #[test]
    fn scan_stops_at_bad_crc_and_stale_hdr_no() {
        let mut bad = block(8704, 512, false);
        bad[100] ^= 1;
        let blocks = [block(8192, 512, false), bad];
        let r = scan(Lsn::new(8192), rules(), |l, buf| {
            buf.copy_from_slice(&blocks[((l - 8192) / 512) as usize % 2]);
            Ok::<_, ()>(true)
        })
        .unwrap();
        assert_eq!(r.end_lsn, Some(Lsn::new(8704)));
        assert_eq!(r.stop, BlockStop::InvalidBlock);
        // A block from the previous lap (hdr_no of an older LSN) ends the log.
        let blocks = [block(8192, 512, false), block(8704 - 4096, 512, false)];
        let r = scan(Lsn::new(8192), rules(), |l, buf| {
            buf.copy_from_slice(&blocks[((l - 8192) / 512) as usize % 2]);
            Ok::<_, ()>(true)
        })
        .unwrap();
        assert_eq!(r.end_lsn, Some(Lsn::new(8704)));
        // The first block itself invalid: no end.
        let r = scan(Lsn::new(8192), rules(), |_, buf| {
            buf.fill(0);
            Ok::<_, ()>(true)
        })
        .unwrap();
        assert_eq!(r.end_lsn, None);
        assert_eq!(r.valid_blocks, 0);
    }

    #[test]
    fn scan_epoch_and_len_bit() {
        let start = 512 * HDR_NO_WRAP * 2; // epoch 2, hdr_no 1
        let mut b = block(start, 200, true);
        let r = scan(
            Lsn::new(start),
            ScanRules {
                check_epoch: true,
                mask_len_bit15: true,
                max_blocks: 4,
            },
            |_, buf| {
                buf.copy_from_slice(&b);
                Ok::<_, ()>(true)
            },
        )
        .unwrap();
        assert_eq!(r.end_lsn, Some(Lsn::new(start + 200)));
        // Wrong epoch.
        b[8..12].copy_from_slice(&1u32.to_be_bytes());
        let crc = crc32c::crc32c(&b[..508]);
        b[508..].copy_from_slice(&crc.to_be_bytes());
        let blk = LogBlock::new(&b).unwrap();
        assert!(!blk.is_valid_at(Lsn::new(start), true, true));
        assert!(blk.is_valid_at(Lsn::new(start), false, true));
        // Encrypted bit in data_len.
        let mut e = block(8192, 200, false);
        e[4..6].copy_from_slice(&(200u16 | 0x8000).to_be_bytes());
        let crc = crc32c::crc32c(&e[..508]);
        e[508..].copy_from_slice(&crc.to_be_bytes());
        let blk = LogBlock::new(&e).unwrap();
        assert!(blk.encrypted_bit());
        assert_eq!(blk.data_len(), 200);
        assert!(blk.is_valid_at(Lsn::new(8192), false, true));
        assert!(!blk.is_valid_at(Lsn::new(8192), false, false));
    }

    #[test]
    fn scan_capacity_limit_and_disabled_checksum() {
        let mut b = block(8192, 512, false);
        b[508..].copy_from_slice(&NO_CHECKSUM_MAGIC.to_be_bytes());
        assert_eq!(
            LogBlock::new(&b).unwrap().checksum(),
            BlockChecksum::Disabled
        );
        let r = scan(
            Lsn::new(8192),
            ScanRules {
                max_blocks: 3,
                ..rules()
            },
            |l, buf| {
                *buf = block(l, 512, false);
                Ok::<_, ()>(true)
            },
        )
        .unwrap();
        assert_eq!(r.stop, BlockStop::Capacity);
        assert_eq!(r.end_lsn, Some(Lsn::new(8192 + 3 * 512)));
    }

    #[test]
    fn legacy_checksum_detected() {
        let mut b = block(8192, 100, false);
        let l = legacy_innodb_checksum(&b).unwrap();
        b[508..].copy_from_slice(&l.to_be_bytes());
        let blk = LogBlock::new(&b).unwrap();
        assert_eq!(blk.checksum(), BlockChecksum::LegacyInnodb);
        assert!(!blk.is_valid_at(Lsn::new(8192), false, false));
    }

    #[test]
    fn ring_geometry() {
        assert!(RingGeometry::new(4000, 1, Lsn::new(8192), 2048).is_err());
        assert!(RingGeometry::new(2048, 1, Lsn::new(8192), 2048).is_err());
        assert!(RingGeometry::new(4096, 0, Lsn::new(8192), 2048).is_err());
        assert!(RingGeometry::new(4096, 1, Lsn::new(8192), 100).is_err());
        assert!(RingGeometry::new(4096, 2, Lsn::new(8192), 4096 + 100).is_err());
        assert!(RingGeometry::new(4096, 1, Lsn::new(8193), 2048).is_err());
        assert!(RingGeometry::new(u64::MAX - 511, 3, Lsn::new(8192), 2048).is_err());
        // Checkpoint in the second file.
        let g = RingGeometry::new(4096, 3, Lsn::new(100_000), 4096 + 2048 + 100_000 % 512).unwrap();
        let d0 = 100_000 - 100_000 % 512;
        assert_eq!(g.locate(Lsn::new(d0)), (1, 2048));
        assert_eq!(g.locate(Lsn::new(d0 + 2048)), (2, 2048));
        assert_eq!(g.locate(Lsn::new(d0 + 4096)), (0, 2048));
        assert_eq!(g.locate(Lsn::new(d0 - 512)), (0, 4096 - 512));
        assert_eq!(g.locate(Lsn::new(0)), g.locate(Lsn::new(3 * 2048)));
    }
}
