//! The block checksum (`log_online_calc_checksum`, spec §5.3).
//!
//! The server computes, over the first 4092 bytes of a block, with `sh` cycling 0, 1, …, 24:
//! `sum = 1; for each byte b: sum &= 0x7FFF_FFFF; sum += b + (b << sh)`.
//!
//! Masking with `0x7FFF_FFFF` is reduction modulo 2³¹, which commutes with addition. So the
//! value before the last addition is `(1 + Σ tᵢ) mod 2³¹` over all bytes but the last, where
//! `tᵢ = bᵢ + (bᵢ << (i mod 25))`, and `Σ (bᵢ << (i mod 25))` regroups into 25 sums of the bytes in
//! each residue class modulo 25. [`checksum`] uses that form: independent additions the
//! compiler can vectorise, instead of one long dependency chain. A property test checks it
//! against the literal loop on random blocks.

use crate::layout::{BLOCK_SIZE, CHECKSUM_OFFSET};

/// Period of the shift amount.
const SHIFT_PERIOD: usize = 25;
/// Bytes summed position-wise per step: a multiple of 25 and of 8.
const SUPER: usize = 200;
/// Steps before the 16-bit accumulators must be folded (256 × 255 < 65536).
const MAX_PENDING: u32 = 256;

fn fold(lanes: &mut [u64; SHIFT_PERIOD], acc: &mut [u16; SUPER]) {
    for part in acc.chunks_exact_mut(SHIFT_PERIOD) {
        for (lane, a) in lanes.iter_mut().zip(part.iter_mut()) {
            *lane += u64::from(*a);
            *a = 0;
        }
    }
}

/// Checksum of arbitrary bytes with the server's algorithm (the low 32 bits of the sum).
///
/// A block's checksum is this function applied to its first 4092 bytes; see [`block_checksum`].
///
/// ```
/// use lsn_bitmap::checksum::checksum;
/// assert_eq!(checksum(&[]), 1);
/// assert_eq!(checksum(&[0u8; 4092]), 1);
/// // 1 + 2 + (2 << 0) = 5, then masked, plus 3 + (3 << 1) = 14.
/// assert_eq!(checksum(&[2, 3]), 14);
/// ```
pub fn checksum(bytes: &[u8]) -> u32 {
    let Some((&last, body)) = bytes.split_last() else {
        return 1;
    };
    // Sums of the bytes at positions ≡ k (mod 25). Bytes are first added position-wise into
    // 200 16-bit accumulators (200 is a multiple of 25 and of the vector width, so this loop
    // vectorises), which are folded into the 25 residue classes before they can overflow.
    let mut lanes = [0u64; SHIFT_PERIOD];
    let mut acc = [0u16; SUPER];
    let mut pending = 0u32;
    let mut chunks = body.chunks_exact(SUPER);
    for chunk in &mut chunks {
        for (a, &b) in acc.iter_mut().zip(chunk) {
            *a += u16::from(b);
        }
        pending += 1;
        if pending == MAX_PENDING {
            fold(&mut lanes, &mut acc);
            pending = 0;
        }
    }
    fold(&mut lanes, &mut acc);
    // The remainder starts at a multiple of 200, hence of 25.
    for (i, &b) in chunks.remainder().iter().enumerate() {
        if let Some(lane) = lanes.get_mut(i % SHIFT_PERIOD) {
            *lane += u64::from(b);
        }
    }
    // Σ tᵢ = Σ_k (1 + 2^k)·lane_k; only the value modulo 2³¹ matters, so wrapping is fine.
    let mut sum: u64 = 1;
    for (k, &lane) in lanes.iter().enumerate() {
        sum = sum.wrapping_add(lane.wrapping_mul(1 + (1u64 << k)));
    }
    let last = u64::from(last);
    let shift = body.len() % SHIFT_PERIOD;
    let total = (sum & 0x7FFF_FFFF) + last + (last << shift);
    total as u32
}

/// Checksum of a 4096-byte block: [`checksum`] of bytes `0..4092`.
///
/// ```
/// use lsn_bitmap::checksum::block_checksum;
/// assert_eq!(block_checksum(&[0u8; 4096]), 0x0000_0001);
/// ```
pub fn block_checksum(block: &[u8; BLOCK_SIZE]) -> u32 {
    let (covered, _) = block.split_at(CHECKSUM_OFFSET);
    checksum(covered)
}

#[cfg(test)]
pub(crate) fn checksum_reference(bytes: &[u8]) -> u32 {
    let mut sum: u64 = 1;
    let mut sh = 0u32;
    for &b in bytes {
        let b = u64::from(b);
        sum &= 0x7FFF_FFFF;
        sum += b;
        sum += b << sh;
        sh += 1;
        if sh > 24 {
            sh = 0;
        }
    }
    sum as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn vector2() -> [u8; BLOCK_SIZE] {
        let mut b = [0u8; BLOCK_SIZE];
        b[0..4].copy_from_slice(&1u32.to_be_bytes());
        b[4..12].copy_from_slice(&8916u64.to_be_bytes());
        b[12..20].copy_from_slice(&1_234_567u64.to_be_bytes());
        b[20..24].copy_from_slice(&5u32.to_be_bytes());
        b[24..28].copy_from_slice(&0u32.to_be_bytes());
        b[32] = 0x08;
        b
    }

    fn vector3() -> [u8; BLOCK_SIZE] {
        let mut b = [0u8; BLOCK_SIZE];
        b[4..12].copy_from_slice(&0x1122_3344_5566_7788u64.to_be_bytes());
        b[12..20].copy_from_slice(&0x1122_3344_5566_7799u64.to_be_bytes());
        b[20..24].copy_from_slice(&0xFFFF_FFFEu32.to_be_bytes());
        b[24..28].copy_from_slice(&32448u32.to_be_bytes());
        b[32] = 0x03;
        b[4087] = 0x80;
        b
    }

    #[test]
    fn spec_vector_zero_block() {
        let b = [0u8; BLOCK_SIZE];
        assert_eq!(block_checksum(&b), 0x0000_0001);
        assert_eq!(checksum_reference(&b[..CHECKSUM_OFFSET]), 0x0000_0001);
    }

    #[test]
    fn spec_vector_two() {
        let b = vector2();
        let head: Vec<u8> = b[..40].to_vec();
        let expected_head = [
            0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x22, 0xd4, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x12, 0xd6, 0x87, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        ];
        assert_eq!(head, expected_head);
        assert_eq!(block_checksum(&b), 0x0A3B_2E7C);
        assert_eq!(checksum_reference(&b[..CHECKSUM_OFFSET]), 0x0A3B_2E7C);
    }

    #[test]
    fn spec_vector_three() {
        let b = vector3();
        assert_eq!(block_checksum(&b), 0x7698_9122);
        assert_eq!(checksum_reference(&b[..CHECKSUM_OFFSET]), 0x7698_9122);
    }

    #[test]
    fn all_ones_block_matches_reference() {
        let b = [0xFFu8; BLOCK_SIZE];
        assert_eq!(
            block_checksum(&b),
            checksum_reference(&b[..CHECKSUM_OFFSET])
        );
    }

    #[test]
    fn long_inputs_fold_accumulators() {
        for len in [51_199usize, 51_200, 51_201, 120_001] {
            let b = vec![0xFFu8; len];
            assert_eq!(checksum(&b), checksum_reference(&b), "len {len}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn fast_equals_reference(bytes in proptest::collection::vec(any::<u8>(), 0..5000)) {
            prop_assert_eq!(checksum(&bytes), checksum_reference(&bytes));
        }

        #[test]
        fn fast_equals_reference_dense_blocks(fill in any::<u8>(), hi in 0usize..CHECKSUM_OFFSET) {
            let mut b = vec![fill; CHECKSUM_OFFSET];
            b[hi] = fill.wrapping_add(1);
            prop_assert_eq!(checksum(&b), checksum_reference(&b));
        }
    }
}
