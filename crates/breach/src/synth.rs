//! Synthetic corpora in the downloader's text format, for benchmarks and tests.
//!
//! Hashes are uniformly spread and emitted in sorted order (as the real files are),
//! without holding them in memory: each 64-bit prefix is the previous one plus a random
//! gap, and the remaining 96 bits are random. Counts follow a Zipf-like tail
//! (`P(count ≥ c) ≈ 1/c`), so most are 1–3 digits long as in the real corpus.

use std::io::{self, Write};
use std::path::Path;

/// SplitMix64: small, fast, good enough for synthetic data.
#[derive(Debug, Clone)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// `n` sorted, unique, uniformly spread SHA-1-like hashes with counts.
#[derive(Debug, Clone)]
pub struct Corpus {
    rng: SplitMix64,
    left: u64,
    prefix: u64,
    max_gap: u64,
}

impl Corpus {
    /// A corpus of `n` hashes from `seed`.
    pub fn new(n: u64, seed: u64) -> Corpus {
        // Gaps uniform in [1, max_gap] average about max_gap/2, so n of them span
        // about n * max_gap / 2: the whole key space less 1/64 of slack, so the sum
        // does not reach 2^64 (it saturates if it ever would).
        let max_gap = (u64::MAX / n.max(1)).saturating_mul(2).max(1);
        let max_gap = (max_gap - max_gap / 64).max(1);
        Corpus {
            rng: SplitMix64(seed),
            left: n,
            prefix: 0,
            max_gap,
        }
    }
}

impl Iterator for Corpus {
    type Item = ([u8; 20], u64);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let gap = 1 + self.rng.next_u64() % self.max_gap;
        self.prefix = self.prefix.saturating_add(gap);
        let mut h = [0u8; 20];
        h[..8].copy_from_slice(&self.prefix.to_be_bytes());
        h[8..16].copy_from_slice(&self.rng.next_u64().to_le_bytes());
        h[16..].copy_from_slice(&self.rng.next_u64().to_le_bytes()[..4]);
        // Zipf-like: 2^32 / u for u uniform in [1, 2^32].
        let u = (self.rng.next_u64() >> 32) + 1;
        let count = (1u64 << 32) / u;
        Some((h, count.max(1)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left as usize, Some(self.left as usize))
    }
}

const UPPER_HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Writes `hash` as 40 upper-case hex digits.
pub fn hex_upper(hash: &[u8; 20], out: &mut [u8; 40]) {
    for (i, b) in hash.iter().enumerate() {
        out[2 * i] = UPPER_HEX[usize::from(b >> 4)];
        out[2 * i + 1] = UPPER_HEX[usize::from(b & 0x0f)];
    }
}

/// Writes one `HASH40:COUNT\r\n` line (the downloader's single-file format).
pub fn write_line(w: &mut impl Write, hash: &[u8; 20], count: u64) -> io::Result<()> {
    let mut hex = [0u8; 40];
    hex_upper(hash, &mut hex);
    w.write_all(&hex)?;
    write!(w, ":{count}\r\n")
}

/// Writes a corpus of `n` hashes as one `HASH40:COUNT` file; returns its size.
pub fn write_corpus_file(path: &Path, n: u64, seed: u64) -> io::Result<u64> {
    let mut w = io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    for (h, c) in Corpus::new(n, seed) {
        write_line(&mut w, &h, c)?;
    }
    w.flush()?;
    Ok(std::fs::metadata(path)?.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corpus_is_sorted_unique_and_spread() {
        let hashes: Vec<[u8; 20]> = Corpus::new(10_000, 3).map(|(h, _)| h).collect();
        assert_eq!(hashes.len(), 10_000);
        assert!(hashes.windows(2).all(|w| w[0] < w[1]));
        // Spread over the whole key space, not bunched at the start.
        assert!(
            hashes.last().unwrap()[0] >= 0xf0,
            "{:x}",
            hashes.last().unwrap()[0]
        );
        let mut line = Vec::new();
        write_line(&mut line, &hashes[0], 12).unwrap();
        assert_eq!(line.len(), 40 + 1 + 2 + 2);
        assert!(line.ends_with(b":12\r\n"));
    }
}
