//! A windowed, cache-line-blocked count-min sketch with conservative update.
//!
//! Used to decide which keys are worth exact-ish tracking: it counts *failures* per
//! key (source, password digest or account) in a fixed number of bytes, whatever the
//! number of distinct keys.
//!
//! - **Blocked**: a key hashes to one 64-byte block and its 4 counters are picked
//!   inside that block, so an update or a query costs one cache miss, not four.
//! - **Conservative update**: only the counters at the current minimum are raised,
//!   which keeps the over-estimate of light keys far lower than plain count-min.
//! - **Windowed**: every cell holds two saturating `u8` counters, the current and
//!   the previous half-window; the estimate is their sum, so it covers between one
//!   half and one whole window. A block keeps its 32 current counters apart from
//!   its 32 previous ones, so rotating is two 32-byte array moves per block (a
//!   `memcpy`/`memset` even unoptimised: the shape tests rotate 4 MiB hundreds of
//!   times, and a per-counter loop made the debug test profile take minutes).
//!
//! Guarantee: an estimate is never below the true count (until a counter saturates
//! at 255, which is far above any promotion threshold).

/// Counters per block: 32 cells × (current, previous) = 64 bytes.
const CELLS: usize = 32;
/// Counters picked per key, inside its block.
const DEPTH: u32 = 4;

/// One cache line: `[0]` the current half-window's counters, `[1]` the previous.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Block([[u8; CELLS]; 2]);

/// See the module documentation.
pub struct WindowedCountMin {
    blocks: Vec<Block>,
    shift: u32,
}

impl WindowedCountMin {
    /// A sketch of about `bytes` bytes (rounded down to a power of two, at least 4 KiB).
    pub fn with_bytes(bytes: usize) -> Self {
        let n = (bytes / 64).max(64);
        let n = 1usize << (usize::BITS - 1 - n.leading_zeros());
        WindowedCountMin {
            blocks: vec![Block([[0; CELLS]; 2]); n],
            shift: 64 - n.trailing_zeros(),
        }
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.blocks.len() * 64
    }

    #[inline]
    fn locate(&self, h: u64) -> (usize, [usize; DEPTH as usize]) {
        let block = if self.shift == 64 {
            0
        } else {
            (h >> self.shift) as usize
        };
        let mut cells = [0usize; DEPTH as usize];
        for (i, c) in cells.iter_mut().enumerate() {
            *c = ((h >> (5 * i)) & (CELLS as u64 - 1)) as usize;
        }
        (block, cells)
    }

    /// Count one for `h` (a well-mixed key hash) in the current (`bucket = 0`) or the
    /// previous (`1`) half-window; returns the new estimate over both.
    #[inline]
    pub fn add(&mut self, h: u64, bucket: usize) -> u32 {
        let (b, cells) = self.locate(h);
        let block = &mut self.blocks[b].0;
        let min = cells.iter().map(|&c| block[bucket][c]).min().unwrap_or(0);
        let new = min.saturating_add(1);
        let mut est = u32::MAX;
        for &c in &cells {
            if block[bucket][c] < new {
                block[bucket][c] = new;
            }
            est = est.min(u32::from(block[0][c]) + u32::from(block[1][c]));
        }
        est
    }

    /// The estimate for `h` over both half-windows.
    #[inline]
    pub fn estimate(&self, h: u64) -> u32 {
        let (b, cells) = self.locate(h);
        let block = &self.blocks[b].0;
        cells
            .iter()
            .map(|&c| u32::from(block[0][c]) + u32::from(block[1][c]))
            .min()
            .unwrap_or(0)
    }

    /// Move on by `steps` half-windows: one step makes the current counts the
    /// previous ones; two or more forget everything.
    pub fn rotate(&mut self, steps: u64) {
        if steps == 1 {
            for block in &mut self.blocks {
                block.0 = [[0; CELLS], block.0[0]];
            }
        } else {
            self.blocks.fill(Block([[0; CELLS]; 2]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::mix64;

    #[test]
    fn never_underestimates_and_stays_close_for_light_keys() {
        let mut cm = WindowedCountMin::with_bytes(64 * 1024);
        // 20,000 keys with 1..=5 counts each: 60,000 increments over 32,768 counters.
        let truth: Vec<u32> = (0..20_000u64).map(|k| (k % 5 + 1) as u32).collect();
        for (k, &n) in truth.iter().enumerate() {
            for _ in 0..n {
                cm.add(mix64(k as u64), 0);
            }
        }
        let (mut over, mut exact) = (0u64, 0u32);
        for (k, &n) in truth.iter().enumerate() {
            let e = cm.estimate(mix64(k as u64));
            assert!(e >= n, "key {k}: estimate {e} < true {n}");
            over += u64::from(e - n);
            exact += u32::from(e == n);
        }
        // Heavily loaded (~1.8 increments per counter): still about one count over
        // on average, and a good share exact.
        let mean_over = over as f64 / truth.len() as f64;
        assert!(mean_over < 1.5, "mean over-estimate {mean_over}");
        assert!(exact > 5_000, "exact estimates: {exact}");
    }

    #[test]
    fn rotation_keeps_one_half_window_then_forgets() {
        let mut cm = WindowedCountMin::with_bytes(4096);
        let h = mix64(42);
        for _ in 0..7 {
            cm.add(h, 0);
        }
        cm.add(h, 1);
        assert_eq!(cm.estimate(h), 8);
        cm.rotate(1);
        assert_eq!(
            cm.estimate(h),
            7,
            "previous bucket now holds the old current"
        );
        cm.add(h, 0);
        assert_eq!(cm.estimate(h), 8);
        cm.rotate(1);
        assert_eq!(cm.estimate(h), 1);
        cm.rotate(2);
        assert_eq!(cm.estimate(h), 0);
    }

    #[test]
    fn size_is_a_power_of_two_of_blocks() {
        assert_eq!(WindowedCountMin::with_bytes(4 << 20).bytes(), 4 << 20);
        assert_eq!(WindowedCountMin::with_bytes(5 << 20).bytes(), 4 << 20);
        assert_eq!(WindowedCountMin::with_bytes(0).bytes(), 4096);
    }
}
