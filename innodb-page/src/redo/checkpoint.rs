//! Checkpoint blocks: layout per format family, validity rules, and which block is current.
//!
//! | Family | Where | Fields | Valid iff | Current |
//! |---|---|---|---|---|
//! | MySQL 5.7, 8.0 ≤ 8.0.29, MariaDB 10.2–10.7 | 512 and 1536 of `ib_logfile0` | @0 checkpoint_no, @8 LSN, @16 offset; MariaDB: @496 end LSN | CRC-32C @508 | larger checkpoint_no |
//! | MySQL 8.0.30+ | 512 and 1536 of every `#ib_redoN` | @8 LSN | CRC-32C @508, LSN inside the file's range | larger LSN |
//! | MariaDB 10.8+ | 0x1000 and 0x2000 (64 bytes) | @0 LSN, @8 end LSN | CRC-32C @60, 16..60 zero, LSN ≥ first_lsn, end ≥ LSN | larger LSN |

use super::format::RedoFormat;
use super::header::CHECKSUM_OFFSET;
use super::{be_u32, be_u64, lsn, RedoError};
use crate::Lsn;

/// First checkpoint block of block-framed formats.
pub const BLOCK_CHECKPOINT_1: u64 = 512;
/// Second checkpoint block of block-framed formats.
pub const BLOCK_CHECKPOINT_2: u64 = 1536;
/// Size of a block-framed checkpoint block.
pub const BLOCK_CHECKPOINT_LEN: usize = 512;
/// Offset of MariaDB's end LSN in a block-framed checkpoint block (512 − 16).
pub const MARIADB_END_LSN_OFFSET: usize = 496;
/// First checkpoint block of MariaDB 10.8+.
pub const MARIADB_108_CHECKPOINT_1: u64 = 0x1000;
/// Second checkpoint block of MariaDB 10.8+.
pub const MARIADB_108_CHECKPOINT_2: u64 = 0x2000;
/// Size of a MariaDB 10.8+ checkpoint block.
pub const MARIADB_108_CHECKPOINT_LEN: usize = 64;
/// Offset of the CRC-32C in a MariaDB 10.8+ checkpoint block.
pub const MARIADB_108_CHECKPOINT_CRC: usize = 60;
/// Size of the header of a block-framed file (4 blocks).
pub const LOG_FILE_HDR_SIZE: u64 = 2048;

/// One checkpoint, as read from a valid checkpoint block.
///
/// ```
/// use innodb_page::redo::{checkpoint, RedoFormat};
/// use innodb_page::Lsn;
/// let mut b = [0u8; 64];
/// b[0..8].copy_from_slice(&2500178u64.to_be_bytes());
/// b[8..16].copy_from_slice(&2500178u64.to_be_bytes());
/// let crc = crc32c::crc32c(&b[..60]);
/// b[60..].copy_from_slice(&crc.to_be_bytes());
/// let c = checkpoint::parse(RedoFormat::MariaDb108, &b, 0x1000, Lsn::new(2500178), None).unwrap();
/// assert_eq!(c.lsn, Lsn::new(2500178));
/// assert_eq!(c.end_lsn, Some(Lsn::new(2500178)));
/// assert_eq!(c.checkpoint_no, None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    /// Byte offset of the checkpoint block in its file.
    pub block_offset: u64,
    /// The checkpoint LSN: recovery starts reading the log here.
    pub lsn: Lsn,
    /// The checkpoint number (formats that select by it; `None` for MariaDB 10.8+ and MySQL
    /// 8.0.30+).
    pub checkpoint_no: Option<u64>,
    /// Byte offset of [`lsn`](Checkpoint::lsn) in the concatenation of the log files, headers
    /// included (ring formats: MySQL ≤ 8.0.29, MariaDB 10.2–10.7).
    pub offset: Option<u64>,
    /// Header-provided end LSN (MariaDB only): the LSN where the `FILE_CHECKPOINT` /
    /// `MLOG_CHECKPOINT` mini-transaction written for this checkpoint starts. `None` for MySQL,
    /// and for MariaDB 10.2–10.7 blocks where the field is 0 (not written). This is **not** the
    /// current end of the log; see [`crate::redo::RedoLog::end_lsn`] for that.
    pub end_lsn: Option<Lsn>,
}

/// The two checkpoint block offsets of a format (in `ib_logfile0`, or in each `#ib_redoN`).
///
/// ```
/// use innodb_page::redo::{checkpoint::block_offsets, RedoFormat};
/// assert_eq!(block_offsets(RedoFormat::MariaDb108), [0x1000, 0x2000]);
/// assert_eq!(block_offsets(RedoFormat::MySql80), [512, 1536]);
/// ```
pub fn block_offsets(format: RedoFormat) -> [u64; 2] {
    if format == RedoFormat::MariaDb108 {
        [MARIADB_108_CHECKPOINT_1, MARIADB_108_CHECKPOINT_2]
    } else {
        [BLOCK_CHECKPOINT_1, BLOCK_CHECKPOINT_2]
    }
}

/// Size of a checkpoint block of `format`.
///
/// ```
/// use innodb_page::redo::{checkpoint::block_len, RedoFormat};
/// assert_eq!(block_len(RedoFormat::MariaDb108), 64);
/// assert_eq!(block_len(RedoFormat::MySql57), 512);
/// ```
pub fn block_len(format: RedoFormat) -> usize {
    if format == RedoFormat::MariaDb108 {
        MARIADB_108_CHECKPOINT_LEN
    } else {
        BLOCK_CHECKPOINT_LEN
    }
}

/// Parses and validates one checkpoint block of `format`.
///
/// * `block`: the block's bytes (at least [`block_len`]);
/// * `block_offset`: where it was read (kept in [`Checkpoint::block_offset`]);
/// * `first_lsn`: the file header's start LSN; MariaDB 10.8+ and MySQL 8.0.30+ checkpoints
///   below it are invalid;
/// * `file_size`: MySQL 8.0.30+ only: with `Some`, the checkpoint must also lie below the end
///   of the file's LSN range (`first_lsn + file_size − 2048`).
///
/// ```
/// use innodb_page::redo::{checkpoint, RedoError, RedoFormat};
/// use innodb_page::Lsn;
/// let zero = [0u8; 512];
/// let err = checkpoint::parse(RedoFormat::MySql57, &zero, 512, Lsn::new(8192), None).unwrap_err();
/// assert!(matches!(err, RedoError::BadChecksum { .. }));
/// ```
pub fn parse(
    format: RedoFormat,
    block: &[u8],
    block_offset: u64,
    first_lsn: Lsn,
    file_size: Option<u64>,
) -> Result<Checkpoint, RedoError> {
    let need = block_len(format);
    if block.len() < need {
        return Err(RedoError::truncated("checkpoint block", block.len(), need));
    }
    let crc_at = if format == RedoFormat::MariaDb108 {
        MARIADB_108_CHECKPOINT_CRC
    } else {
        CHECKSUM_OFFSET
    };
    let stored = be_u32(block, crc_at).unwrap_or(0);
    let computed = block.get(..crc_at).map(crc32c::crc32c).unwrap_or(0);
    if stored != computed {
        return Err(RedoError::BadChecksum {
            what: "checkpoint block",
            stored,
            computed,
        });
    }
    match format {
        RedoFormat::MariaDb108 => parse_108(block, block_offset, first_lsn, crc_at),
        RedoFormat::MySql8030 => parse_8030(block, block_offset, first_lsn, file_size),
        _ => Ok(parse_ring(format, block, block_offset)),
    }
}

/// The big-endian `u64` at `off` of a checkpoint block (0 past its end).
fn u64_at(block: &[u8], off: usize) -> u64 {
    be_u64(block, off).unwrap_or(0)
}

/// A MariaDB 10.8+ checkpoint block (its checksum, at `crc_at`, checked).
fn parse_108(
    block: &[u8],
    block_offset: u64,
    first_lsn: Lsn,
    crc_at: usize,
) -> Result<Checkpoint, RedoError> {
    let l = u64_at(block, 0);
    let end = u64_at(block, 8);
    if block
        .get(16..crc_at)
        .is_some_and(|r| r.iter().any(|&b| b != 0))
    {
        return Err(RedoError::BadField {
            what: "checkpoint bytes 16..60",
            value: 0,
            why: "must be zero",
        });
    }
    if l < first_lsn.get() {
        return Err(RedoError::BadField {
            what: "checkpoint LSN",
            value: l,
            why: "below the file's first LSN",
        });
    }
    if end < l {
        return Err(RedoError::BadField {
            what: "checkpoint end LSN",
            value: end,
            why: "below the checkpoint LSN",
        });
    }
    Ok(Checkpoint {
        block_offset,
        lsn: lsn(l),
        checkpoint_no: None,
        offset: None,
        end_lsn: Some(lsn(end)),
    })
}

/// A MySQL 8.0.30+ checkpoint block (its checksum checked).
fn parse_8030(
    block: &[u8],
    block_offset: u64,
    first_lsn: Lsn,
    file_size: Option<u64>,
) -> Result<Checkpoint, RedoError> {
    let l = u64_at(block, 8);
    if l < first_lsn.get() {
        return Err(RedoError::BadField {
            what: "checkpoint LSN",
            value: l,
            why: "below the file's start LSN",
        });
    }
    if let Some(size) = file_size {
        let data = size.saturating_sub(LOG_FILE_HDR_SIZE);
        let end = first_lsn.get().saturating_add(data);
        if l >= end {
            return Err(RedoError::BadField {
                what: "checkpoint LSN",
                value: l,
                why: "past the end of the file's LSN range",
            });
        }
    }
    Ok(Checkpoint {
        block_offset,
        lsn: lsn(l),
        checkpoint_no: None,
        offset: None,
        end_lsn: None,
    })
}

/// A checkpoint block of the ring formats (MySQL ≤ 8.0.29, MariaDB 10.2–10.7; its checksum
/// checked).
fn parse_ring(format: RedoFormat, block: &[u8], block_offset: u64) -> Checkpoint {
    let end_lsn = if format.vendor() == crate::page_type::Vendor::MariaDb {
        Some(u64_at(block, MARIADB_END_LSN_OFFSET))
            .filter(|&e| e != 0)
            .map(lsn)
    } else {
        None
    };
    Checkpoint {
        block_offset,
        lsn: lsn(u64_at(block, 8)),
        checkpoint_no: Some(u64_at(block, 0)),
        offset: Some(u64_at(block, 16)),
        end_lsn,
    }
}

/// Picks the current checkpoint among parsed candidates: the valid one with the larger LSN
/// (MariaDB 10.8+, MySQL 8.0.30+) or the larger checkpoint number (the others). On a tie the
/// earlier candidate wins. With no valid candidate, [`RedoError::NoValidCheckpoint`] carries
/// the first candidate's error.
///
/// ```
/// use innodb_page::redo::{checkpoint::{select, Checkpoint}, RedoError, RedoFormat};
/// use innodb_page::Lsn;
/// let c = |no, l| Checkpoint { block_offset: 512, lsn: Lsn::new(l), checkpoint_no: Some(no),
///                              offset: Some(2048), end_lsn: None };
/// let picked = select(RedoFormat::MySql57, &[Ok(c(7, 9000)), Ok(c(8, 8800))]).unwrap();
/// assert_eq!(picked.checkpoint_no, Some(8));
/// assert!(matches!(select(RedoFormat::MySql57, &[]), Err(RedoError::NoValidCheckpoint { .. })));
/// ```
pub fn select(
    format: RedoFormat,
    candidates: &[Result<Checkpoint, RedoError>],
) -> Result<Checkpoint, RedoError> {
    let i = select_index(format, candidates)?;
    match candidates.get(i) {
        Some(Ok(c)) => Ok(*c),
        _ => Err(no_valid(candidates)),
    }
}

/// Like [`select`], but gives the index of the current checkpoint in `candidates`.
///
/// ```
/// use innodb_page::redo::{checkpoint::{select_index, Checkpoint}, RedoFormat};
/// use innodb_page::Lsn;
/// let c = |l| Checkpoint { block_offset: 0x1000, lsn: Lsn::new(l), checkpoint_no: None,
///                          offset: None, end_lsn: Some(Lsn::new(l)) };
/// assert_eq!(select_index(RedoFormat::MariaDb108, &[Ok(c(100)), Ok(c(200))]), Ok(1));
/// ```
pub fn select_index(
    format: RedoFormat,
    candidates: &[Result<Checkpoint, RedoError>],
) -> Result<usize, RedoError> {
    let key = |c: &Checkpoint| {
        if format.selects_by_checkpoint_no() {
            c.checkpoint_no.unwrap_or(0)
        } else {
            c.lsn.get()
        }
    };
    let mut best: Option<(usize, u64)> = None;
    let valid = candidates
        .iter()
        .enumerate()
        .filter_map(|(i, c)| c.as_ref().ok().map(|c| (i, key(c))));
    for (i, k) in valid {
        if best.is_none_or(|(_, b)| k > b) {
            best = Some((i, k));
        }
    }
    best.map(|(i, _)| i).ok_or_else(|| no_valid(candidates))
}

fn no_valid(candidates: &[Result<Checkpoint, RedoError>]) -> RedoError {
    RedoError::NoValidCheckpoint {
        blocks: candidates.len(),
        why: Box::new(match candidates.first() {
            Some(Err(e)) => e.clone(),
            _ => RedoError::BadField {
                what: "checkpoint blocks",
                value: 0,
                why: "none present",
            },
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seal512(b: &mut [u8]) {
        let crc = crc32c::crc32c(&b[..508]);
        b[508..512].copy_from_slice(&crc.to_be_bytes());
    }

    fn seal64(b: &mut [u8]) {
        let crc = crc32c::crc32c(&b[..60]);
        b[60..64].copy_from_slice(&crc.to_be_bytes());
    }

    #[test]
    fn block_family_fields() {
        let mut b = vec![0u8; 512];
        b[0..8].copy_from_slice(&42u64.to_be_bytes());
        b[8..16].copy_from_slice(&123_456u64.to_be_bytes());
        b[16..24].copy_from_slice(&(2048u64 + 123_456 % 512).to_be_bytes());
        b[496..504].copy_from_slice(&123_500u64.to_be_bytes());
        seal512(&mut b);
        let my = parse(RedoFormat::MySql57, &b, 512, Lsn::new(8192), None).unwrap();
        assert_eq!(my.checkpoint_no, Some(42));
        assert_eq!(my.lsn, Lsn::new(123_456));
        assert_eq!(my.offset, Some(2048 + 123_456 % 512));
        assert_eq!(my.end_lsn, None, "MySQL has no end LSN field");
        let ma = parse(RedoFormat::MariaDb105, &b, 1536, Lsn::new(8192), None).unwrap();
        assert_eq!(ma.end_lsn, Some(Lsn::new(123_500)));
        assert_eq!(ma.block_offset, 1536);
        b[496..504].fill(0);
        seal512(&mut b);
        let ma = parse(RedoFormat::MariaDb103, &b, 512, Lsn::new(8192), None).unwrap();
        assert_eq!(ma.end_lsn, None, "0 means not written");
    }

    #[test]
    fn mysql_8030_range() {
        let mut b = vec![0u8; 512];
        b[8..16].copy_from_slice(&(8192u64 + 1000).to_be_bytes());
        seal512(&mut b);
        let ok = parse(
            RedoFormat::MySql8030,
            &b,
            512,
            Lsn::new(8192),
            Some(2048 + 4096),
        );
        assert_eq!(ok.unwrap().lsn, Lsn::new(9192));
        assert!(parse(
            RedoFormat::MySql8030,
            &b,
            512,
            Lsn::new(8192),
            Some(2048 + 1000)
        )
        .is_err());
        assert!(parse(RedoFormat::MySql8030, &b, 512, Lsn::new(9193), None).is_err());
    }

    #[test]
    fn mariadb_108_rules() {
        let mut b = [0u8; 64];
        b[0..8].copy_from_slice(&20_000u64.to_be_bytes());
        b[8..16].copy_from_slice(&20_100u64.to_be_bytes());
        seal64(&mut b);
        let f = Lsn::new(0x3000);
        assert!(parse(RedoFormat::MariaDb108, &b, 0x1000, f, None).is_ok());
        // Reserved bytes must be zero.
        let mut r = b;
        r[30] = 1;
        seal64(&mut r);
        assert!(matches!(
            parse(RedoFormat::MariaDb108, &r, 0x1000, f, None),
            Err(RedoError::BadField { .. })
        ));
        // end < lsn
        let mut r = b;
        r[8..16].copy_from_slice(&19_999u64.to_be_bytes());
        seal64(&mut r);
        assert!(parse(RedoFormat::MariaDb108, &r, 0x1000, f, None).is_err());
        // lsn < first_lsn
        assert!(parse(RedoFormat::MariaDb108, &b, 0x1000, Lsn::new(20_001), None).is_err());
        // CRC
        let mut r = b;
        r[0] ^= 0x80;
        assert!(matches!(
            parse(RedoFormat::MariaDb108, &r, 0x1000, f, None),
            Err(RedoError::BadChecksum { .. })
        ));
        assert!(matches!(
            parse(RedoFormat::MariaDb108, &b[..63], 0x1000, f, None),
            Err(RedoError::Truncated { .. })
        ));
    }

    #[test]
    fn selection() {
        let c = |no: Option<u64>, l: u64| Checkpoint {
            block_offset: 0,
            lsn: Lsn::new(l),
            checkpoint_no: no,
            offset: None,
            end_lsn: None,
        };
        let bad = Err(RedoError::BadField {
            what: "x",
            value: 1,
            why: "y",
        });
        // By LSN for 10.8+ even if the other block is first.
        let s = select(RedoFormat::MariaDb108, &[Ok(c(None, 5)), Ok(c(None, 9))]).unwrap();
        assert_eq!(s.lsn, Lsn::new(9));
        // By checkpoint_no for 5.7 even if its LSN is smaller.
        let s = select(
            RedoFormat::MySql57,
            &[Ok(c(Some(3), 900)), Ok(c(Some(4), 800))],
        )
        .unwrap();
        assert_eq!(s.lsn, Lsn::new(800));
        // Invalid blocks are skipped.
        let s = select(RedoFormat::MySql57, &[bad.clone(), Ok(c(Some(1), 800))]).unwrap();
        assert_eq!(s.lsn, Lsn::new(800));
        match select(RedoFormat::MySql57, &[bad.clone(), bad.clone()]) {
            Err(RedoError::NoValidCheckpoint { blocks: 2, why }) => {
                assert_eq!(Err(*why), bad)
            }
            other => panic!("{other:?}"),
        }
    }
}
