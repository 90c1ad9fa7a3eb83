//! The in-RAM tier: binary fuse filters with 16-bit fingerprints (Graf & Lemire),
//! built with `xorf` and probed here directly over the mmapped fingerprint array.
//!
//! The filter is split into 2^p partitions by the top p bits of the key so that a
//! build never needs more than one partition's keys in memory. A partition holds at
//! least about 2 million keys at any corpus size where p > 0, which keeps xorf's size
//! factor at its floor (1.125, i.e. 18 bits per key).
//!
//! The probe must compute exactly what `xorf::BinaryFuse16::contains` computes; the
//! test `probe_matches_xorf` holds it to that.

use xorf::BinaryFuse16;

use crate::error::{BreachError, Result};
use crate::format::PartitionEntry;

/// xorf's key mixer: murmur3's 64-bit finaliser over `key + seed`.
#[inline(always)]
pub fn mix(key: u64, seed: u64) -> u64 {
    let mut k = key.wrapping_add(seed);
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^= k >> 33;
    k
}

/// Whether `key` may be in the partition described by `p` with fingerprints `fps`.
/// A `true` is only a candidate; see the exact tier.
#[inline(always)]
pub fn probe(p: &PartitionEntry, fps: &[u16], key: u64) -> bool {
    if p.segment_count_length == 0 {
        return false;
    }
    let hash = mix(key, p.seed);
    let f = (hash ^ (hash >> 32)) as u16;
    let h0 = ((u128::from(hash) * u128::from(p.segment_count_length)) >> 64) as u32;
    let mut h1 = h0 + p.segment_length;
    let mut h2 = h1 + p.segment_length;
    h1 ^= ((hash >> 18) as u32) & p.segment_length_mask;
    h2 ^= (hash as u32) & p.segment_length_mask;
    f ^ fps[h0 as usize] ^ fps[h1 as usize] ^ fps[h2 as usize] == 0
}

/// Builds one partition over unique keys. Returns its parameters (with `fp_start`
/// left 0 for the caller to set) and its fingerprints.
pub fn build_partition(keys: &[u64]) -> Result<(PartitionEntry, Box<[u16]>)> {
    if keys.is_empty() {
        return Ok((PartitionEntry::default(), Box::new([])));
    }
    let f = BinaryFuse16::try_from(keys).map_err(BreachError::Filter)?;
    let d = &f.descriptor;
    let entry = PartitionEntry {
        seed: d.seed,
        segment_length: d.segment_length,
        segment_length_mask: d.segment_length_mask,
        segment_count_length: d.segment_count_length,
        fp_start: 0,
        fp_len: u32::try_from(f.fingerprints.len())
            .map_err(|_| BreachError::Filter("too many fingerprints"))?,
    };
    Ok((entry, f.fingerprints))
}

/// Whether a partition's parameters keep every probe inside its fingerprints: the
/// probe reads up to index `segment_count_length + 2 * segment_length - 1`.
pub fn entry_is_sound(p: &PartitionEntry) -> bool {
    if p.segment_count_length == 0 {
        return true;
    }
    p.segment_length.is_power_of_two()
        && p.segment_length_mask == p.segment_length - 1
        && u64::from(p.segment_count_length) + 2 * u64::from(p.segment_length)
            <= u64::from(p.fp_len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use xorf::Filter as _;

    fn keys(n: usize, seed: u64) -> Vec<u64> {
        let mut s = seed;
        let mut v: Vec<u64> = (0..n)
            .map(|_| {
                s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
                mix(s, 0)
            })
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    #[test]
    fn probe_matches_xorf() {
        for n in [1usize, 2, 3, 10, 1000, 200_000] {
            let ks = keys(n, n as u64);
            let f = BinaryFuse16::try_from(ks.as_slice()).unwrap();
            let (entry, fps) = build_partition(&ks).unwrap();
            assert!(entry_is_sound(&entry), "n={n}: {entry:?}");
            for &k in &ks {
                assert!(probe(&entry, &fps, k), "n={n}: member missing");
            }
            let mut agree_pos = 0;
            for q in keys(100_000, 7 + n as u64) {
                let ours = probe(&entry, &fps, q);
                assert_eq!(ours, f.contains(&q), "n={n} key={q:#x}");
                agree_pos += usize::from(ours);
            }
            // 100k random queries at 2^-16 should give a handful of positives at most.
            assert!(agree_pos < 20, "n={n}: {agree_pos} positives");
        }
    }

    #[test]
    fn empty_partition_holds_nothing() {
        let (e, fps) = build_partition(&[]).unwrap();
        assert!(entry_is_sound(&e));
        assert!(!probe(&e, &fps, 0));
        assert!(!probe(&e, &fps, u64::MAX));
    }
}
