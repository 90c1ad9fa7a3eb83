//! Fast 64-bit mixing for keys that are already (or are cheaply turned into) integers.
//!
//! Sketch positions and table slots all come from [`mix64`]: the SplitMix64 finaliser,
//! which spreads every input bit over the whole output, so `u64` account keys,
//! password digests and IP addresses can be used directly. It is not keyed: the
//! inputs that matter to an attacker (accounts, digests) are already keyed hashes
//! made by the caller, and addresses are hashed with a per-detector seed.

use std::hash::{BuildHasherDefault, Hasher};

/// SplitMix64's finaliser: a bijection on `u64` with full avalanche.
#[inline]
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Combine a seed and a value into one well-mixed word.
#[inline]
pub fn mix2(seed: u64, v: u64) -> u64 {
    mix64(seed ^ mix64(v.wrapping_add(0x9e37_79b9_7f4a_7c15)))
}

/// A `Hasher` for maps keyed by an already-mixed `u64`: it passes the key through,
/// saving SipHash's ~20 ns per lookup on the hot path.
#[derive(Default, Clone, Copy)]
pub struct PassThrough(u64);

impl Hasher for PassThrough {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        // Only reached for non-u64 keys, which this crate does not use; fold anyway
        // so the hasher stays correct if one ever is.
        for &b in bytes {
            self.0 = mix64(self.0 ^ u64::from(b));
        }
    }
    #[inline]
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

/// `BuildHasher` for [`PassThrough`].
pub type BuildPassThrough = BuildHasherDefault<PassThrough>;

/// SplitMix64 as a small seeded generator, for the synthetic trace and sampling.
#[derive(Debug, Clone)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix64(self.0)
    }

    /// Uniform in `0..n` (`n > 0`), by multiply-shift (bias below 2^-32 for small `n`).
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// True with probability `p`.
    #[inline]
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64) < p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mix_is_a_bijection_on_a_sample_and_spreads_bits() {
        let outs: std::collections::HashSet<u64> = (0..10_000u64).map(mix64).collect();
        assert_eq!(outs.len(), 10_000);
        // Neighbouring inputs differ in about half the output bits.
        let flips: u32 = (0..1000u64)
            .map(|i| (mix64(i) ^ mix64(i + 1)).count_ones())
            .sum();
        let mean = f64::from(flips) / 1000.0;
        assert!((28.0..36.0).contains(&mean), "mean flipped bits {mean}");
    }

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut r = SplitMix64(7);
        let mut seen = [0u32; 10];
        for _ in 0..10_000 {
            seen[r.below(10) as usize] += 1;
        }
        assert!(seen.iter().all(|&c| (800..1200).contains(&c)), "{seen:?}");
    }
}
