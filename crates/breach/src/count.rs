//! Coarse breach counts: a 4-bit log-scale bucket per key.
//!
//! HIBP counts run from 1 to tens of millions. Sixteen buckets of a factor of 4 each
//! cover 1 ..= 4^16 (about 4.3 billion), which is enough for any count the corpus has
//! and keeps the exact tier at 4 bits of count per key.

/// Largest bucket code.
pub const MAX_CODE: u8 = 15;

/// The bucket code of a count: `floor(log4(count))`, capped at 15. A count of 0 is
/// treated as 1 (the key was listed, so it was seen at least once).
#[inline]
pub fn encode(count: u64) -> u8 {
    let c = count.max(1);
    let log2 = 63 - c.leading_zeros();
    ((log2 / 2) as u8).min(MAX_CODE)
}

/// The lower bound of a bucket: `4^code`. The true count lies in `[4^code, 4^(code+1))`
/// (the last bucket is open-ended).
#[inline]
pub fn decode(code: u8) -> u64 {
    1u64 << (2 * u32::from(code.min(MAX_CODE)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_lower_bounds_within_a_factor_of_four() {
        for count in [1u64, 2, 3, 4, 5, 15, 16, 17, 1000, 52_256_179, u64::MAX] {
            let lo = decode(encode(count));
            assert!(lo <= count, "{count}: {lo}");
            if encode(count) < MAX_CODE {
                assert!(count < lo * 4, "{count}: {lo}");
            }
        }
        assert_eq!(encode(0), 0);
        assert_eq!(decode(encode(1)), 1);
        assert_eq!(decode(encode(3)), 1);
        assert_eq!(decode(encode(4)), 4);
        assert_eq!(encode(u64::MAX), MAX_CODE);
    }
}
