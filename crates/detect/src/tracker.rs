//! The bounded-memory core shared by the three detectors: which keys (sources,
//! passwords, accounts) are attacking, counted in a fixed number of bytes.
//!
//! ```text
//!  failure ──► count-min (failures per key, all keys, fixed bytes)
//!                 │ estimate ≥ promote_after_failures
//!                 ▼
//!  tracked table (≤ tracked_keys entries): attempts, failures, HLL of distinct
//!  targets, failed-target bitmap, a few pending successes — per half-window bucket
//!                 │ thresholds met (judge)
//!                 ▼
//!  Attack signal once; LikelyCompromised for each success under the key
//! ```
//!
//! When the table is full a newcomer replaces, among 8 sampled entries, an expired
//! one or else the quietest one not yet judged an attack, if that one has fewer
//! failures than the newcomer's estimate (Space-Saving's "replace the minimum",
//! sampled so admission costs O(1)). Memory is therefore
//! `sketch_bytes + tracked_keys × size_of::<Entry>()` plus the slot map, whatever the
//! number of distinct keys. What is lost: counts from before a key was promoted
//! (a few failures), and keys that never beat the table's quietest entries.

use std::collections::HashMap;

use crate::config::{Capacity, Thresholds};
use crate::event::{AccountKey, Source};
use crate::hash::{BuildPassThrough, SplitMix64, mix64};
use crate::judge::{Counts, PendingSuccess, Raise, judge};
use crate::signal::{Detector, Signal, Subject};
use crate::sketch::countmin::WindowedCountMin;
use crate::sketch::hll::WindowedHll;

/// One attempt as a tracker sees it: a key, a target item, an outcome.
#[derive(Clone, Copy, Debug)]
pub struct Attempt {
    /// Event time.
    pub time_ms: i64,
    /// The attacking key, well mixed.
    pub key: u64,
    /// What the evidence names.
    pub subject: Subject,
    /// The target whose distinct count matters (account or source), well mixed.
    pub item: u64,
    /// What "had this failed under the key before?" is asked of (the source, for
    /// spraying and guessing), well mixed.
    pub witness: u64,
    /// Failed?
    pub failure: bool,
    /// The account tried.
    pub account: AccountKey,
    /// Where from (under the detector's grouping).
    pub source: Source,
    /// For a success: it came from a device and network the account already
    /// knows (and the legacy gate is on): never reported as compromised.
    pub owner_like: bool,
    /// For a success: it is unlike the account's history (a new device on a new
    /// network, for an account with history). Such a success from a
    /// source that had not failed under the key is reported with
    /// `novel_unseen_factor`.
    pub novel: bool,
    /// For a failure: it carries an attacker's mark (for spraying: an unknown
    /// account, or an account with history tried from a network it never signed
    /// in from). Counted per key; see [`TrackerParams::min_marked_share`].
    pub marked: bool,
}

/// Everything a tracker is built from.
#[derive(Clone, Copy, Debug)]
pub struct TrackerParams {
    /// Which detector this is.
    pub detector: Detector,
    /// When a key is attacking.
    pub thresholds: Thresholds,
    /// Memory bounds.
    pub capacity: Capacity,
    /// Score factor for a success whose witness had not failed under the key
    /// (0: no signal).
    pub unseen_source_factor: f32,
    /// Score factor for such a success when it is unlike the account's history
    /// ([`Attempt::novel`]); the larger of the two applies.
    pub novel_unseen_factor: f32,
    /// Share of a key's failures that must be [`Attempt::marked`] before its
    /// successes are reported (0: always); until then they are held as pending.
    pub min_marked_share: f32,
    /// A success counts only if the key failed at most this long before it (0:
    /// any time in the window). With a window of hours — a spray aimed at one
    /// company adds up its few dozen accounts over an afternoon — a big spray's
    /// counts outlast it by hours; the people whose own (popular) password it was
    /// sign in after it ended. The sprayer's own success comes amid its failures.
    pub recent_failure_ms: i64,
    /// Half the window.
    pub half_window_ms: i64,
}

impl TrackerParams {
    /// Whether a success at `time_ms` is close enough to its key's last failure
    /// (`last_failure_ms`) to count ([`TrackerParams::recent_failure_ms`]).
    #[inline]
    pub(crate) fn recent(&self, last_failure_ms: i64, time_ms: i64) -> bool {
        self.recent_failure_ms <= 0
            || time_ms.saturating_sub(last_failure_ms) <= self.recent_failure_ms
    }
}

/// Counters for operators and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrackerStats {
    /// Attempts seen.
    pub attempts: u64,
    /// Keys admitted to the table.
    pub promotions: u64,
    /// Keys pushed out to make room.
    pub evictions: u64,
    /// Keys that qualified but found no room.
    pub rejected: u64,
    /// Attempts more than a window older than the newest one seen, ignored.
    pub late: u64,
    /// Attempts that arrived after the buckets had moved past their time but
    /// within a window of the newest one, counted in the older bucket.
    pub clamped: u64,
    /// Keys tracked now.
    pub tracked: u64,
}

/// One way of counting per key: the sketch [`SketchTracker`] or the exact
/// [`ExactTracker`](crate::exact::ExactTracker) baseline.
pub trait KeyTracker {
    /// A tracker.
    fn new(p: TrackerParams) -> Self;
    /// Count `a`; push any signals it raises to `out`.
    fn observe(&mut self, a: &Attempt, out: &mut Vec<Signal>);
    /// Counters.
    fn stats(&self) -> TrackerStats;
}

/// Successes kept per key before it is judged.
pub(crate) const PENDING: usize = 4;

/// Window bookkeeping shared by both trackers: which bucket an event falls in.
///
/// Buckets are aligned to multiples of half the window, so an event only a
/// little more than half a window older than the newest one can already fall
/// two buckets back. Events do not all arrive in time order — Gatehouse's own
/// sign-ins are stamped as they happen while an app's batch can arrive minutes
/// late — so an event within one window of the newest event seen is still
/// counted, in the older bucket ([`Placed::clamped`]): it then leaves the window
/// at the next rotation, at most half a window later than it would have in
/// order. Only events older than that are late.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Clock {
    pub half_ms: i64,
    pub epoch: i64,
    /// The newest event time seen.
    pub newest_ms: i64,
}

/// Where [`Clock::place`] put an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Placed {
    /// Half-windows that passed (0 if none): rotate the buckets this often.
    pub steps: u64,
    /// 0 current, 1 previous, `None` too late to count.
    pub bucket: Option<usize>,
    /// It arrived after the buckets had moved past its time and is counted in
    /// the older bucket as if it had happened at the window's start.
    pub clamped: bool,
}

impl Clock {
    pub fn new(half_ms: i64) -> Self {
        Clock {
            half_ms: half_ms.max(1),
            epoch: i64::MIN,
            newest_ms: i64::MIN,
        }
    }

    /// Advance to `time_ms` if it is newer and say where the event counts.
    #[inline]
    pub fn place(&mut self, time_ms: i64) -> Placed {
        let e = time_ms.div_euclid(self.half_ms);
        if self.epoch == i64::MIN {
            self.epoch = e;
            self.newest_ms = time_ms;
            return Placed {
                steps: 0,
                bucket: Some(0),
                clamped: false,
            };
        }
        let mut steps = 0;
        if e > self.epoch {
            steps = (e - self.epoch) as u64;
            self.epoch = e;
        }
        self.newest_ms = self.newest_ms.max(time_ms);
        let (bucket, clamped) = match self.epoch - e {
            0 => (Some(0), false),
            1 => (Some(1), false),
            _ if time_ms >= self.newest_ms.saturating_sub(2 * self.half_ms) => (Some(1), true),
            _ => (None, false),
        };
        Placed {
            steps,
            bucket,
            clamped,
        }
    }

    /// Start of the window covered now.
    pub fn window_start(&self) -> i64 {
        self.epoch.saturating_sub(1).saturating_mul(self.half_ms)
    }

    /// The time the window counts an event at: its own, or the window's start
    /// for one [`Placed::clamped`] into the older bucket (which leaves the
    /// window at the next rotation, whatever its own time).
    pub fn counted_at(&self, time_ms: i64, placed: Placed) -> i64 {
        if placed.clamped {
            self.window_start()
        } else {
            time_ms
        }
    }
}

/// Words of the failed-witness bitmap (4096 bits).
const WITNESS_WORDS: usize = 64;

/// The two bits (word, bit) a witness sets: a two-hash Bloom filter.
#[inline]
fn witness_bits(witness: u64) -> [(usize, u64); 2] {
    let bit = |v: u64| (((v >> 6) as usize) % WITNESS_WORDS, v & 63);
    [bit(witness), bit(witness >> 12)]
}

struct Entry {
    key: u64,
    subject: Subject,
    epoch: i64,
    first_ms: i64,
    /// The earliest attempt counted after arriving out of order
    /// ([`Placed::clamped`]; `i64::MAX` if none): it sits in the older bucket,
    /// so it leaves with the next rotation.
    late_from: i64,
    attempts: [u32; 2],
    failures: [u32; 2],
    marked: [u32; 2],
    distinct: WindowedHll,
    distinct_cached: Option<u32>,
    /// Two bits of 4096 set when `witness` failed under this key, per bucket (a
    /// two-hash Bloom filter: "had this source failed with this password / on this
    /// account?"); with 200 failing sources in the window a false "yes" is about
    /// 0.5 %, with 1,000 about 8 %.
    failed_witnesses: [[u64; WITNESS_WORDS]; 2],
    announced: bool,
    /// Its successes have been reported (the key was over the thresholds and
    /// corroborated): from then on each success is reported as it comes.
    reporting: bool,
    pending: [Option<PendingSuccess>; PENDING],
    /// Its newest failure's time ([`TrackerParams::recent_failure_ms`]).
    last_failure_ms: i64,
}

impl Entry {
    fn new(key: u64, subject: Subject, epoch: i64, now_ms: i64) -> Self {
        Entry {
            key,
            subject,
            epoch,
            first_ms: now_ms,
            late_from: i64::MAX,
            attempts: [0; 2],
            failures: [0; 2],
            marked: [0; 2],
            distinct: WindowedHll::default(),
            distinct_cached: None,
            failed_witnesses: [[0; WITNESS_WORDS]; 2],
            announced: false,
            reporting: false,
            pending: [None; PENDING],
            last_failure_ms: i64::MIN,
        }
    }

    /// Bring the buckets up to `epoch` (lazily, on touch).
    fn sync(&mut self, epoch: i64, now_ms: i64) {
        if self.epoch >= epoch {
            return;
        }
        let steps = (epoch - self.epoch) as u64;
        self.epoch = epoch;
        self.distinct.rotate(steps);
        self.distinct_cached = None;
        if steps == 1 {
            self.late_from = i64::MAX;
            self.attempts = [0, self.attempts[0]];
            self.failures = [0, self.failures[0]];
            self.marked = [0, self.marked[0]];
            self.failed_witnesses = [[0; WITNESS_WORDS], self.failed_witnesses[0]];
        } else {
            // Everything it knew is out of the window: start afresh.
            let (key, subject, last) = (self.key, self.subject, self.last_failure_ms);
            *self = Entry::new(key, subject, epoch, now_ms);
            self.last_failure_ms = last;
        }
    }

    fn failures_at(&self, epoch: i64) -> u32 {
        match epoch - self.epoch {
            0 => self.failures[0] + self.failures[1],
            1 => self.failures[0],
            _ => 0,
        }
    }

    fn counts(&mut self) -> Counts {
        let distinct = match self.distinct_cached {
            Some(d) => d,
            None => {
                let d = self.distinct.estimate().round() as u32;
                self.distinct_cached = Some(d);
                d
            }
        };
        Counts {
            distinct,
            attempts: self.attempts[0] + self.attempts[1],
            failures: self.failures[0] + self.failures[1],
            marked: self.marked[0] + self.marked[1],
        }
    }

    /// Keep `s` among the newest few: replace an empty or the oldest slot.
    fn hold(&mut self, s: PendingSuccess) {
        let slot = self
            .pending
            .iter_mut()
            .min_by_key(|p| p.map_or(i64::MIN, |p| p.time_ms))
            .expect("PENDING > 0");
        *slot = Some(s);
    }

    #[inline]
    fn witness_failed(&self, witness: u64) -> bool {
        // Both bits in the same bucket: checking the union of the buckets would
        // raise the false "yes" rate for no gain.
        let bits = witness_bits(witness);
        self.failed_witnesses
            .iter()
            .any(|m| bits.iter().all(|&(w, b)| m[w] >> b & 1 == 1))
    }
}

/// The bounded-memory tracker; see the module documentation.
pub struct SketchTracker {
    p: TrackerParams,
    clock: Clock,
    cms: WindowedCountMin,
    slots: HashMap<u64, u32, BuildPassThrough>,
    entries: Vec<Entry>,
    rng: SplitMix64,
    stats: TrackerStats,
}

impl SketchTracker {
    /// Bytes held by the sketch and the table at full capacity (the bound).
    pub fn bound_bytes(c: &Capacity) -> usize {
        let n = c.tracked_keys as usize;
        WindowedCountMin::with_bytes(c.sketch_bytes as usize).bytes()
            + n * std::mem::size_of::<Entry>()
            // hashbrown: one control byte + one (u64, u32) slot per bucket,
            // buckets = next power of two ≥ 8/7 n.
            + (n * 8 / 7).next_power_of_two() * (1 + 16)
    }

    fn admit(&mut self, a: &Attempt, estimate: u32) -> Option<usize> {
        let epoch = self.clock.epoch;
        let cap = self.p.capacity.tracked_keys.max(1) as usize;
        let idx = if self.entries.len() < cap {
            self.entries
                .push(Entry::new(a.key, a.subject, epoch, a.time_ms));
            self.entries.len() - 1
        } else {
            let mut victim: Option<(usize, u32)> = None;
            for _ in 0..8 {
                let i = self.rng.below(cap as u64) as usize;
                let e = &self.entries[i];
                if e.epoch < epoch - 1 {
                    victim = Some((i, 0));
                    break;
                }
                if e.announced {
                    continue;
                }
                let f = e.failures_at(epoch);
                if victim.is_none_or(|(_, vf)| f < vf) {
                    victim = Some((i, f));
                }
            }
            match victim {
                Some((i, f)) if f < estimate => {
                    self.slots.remove(&self.entries[i].key);
                    self.entries[i] = Entry::new(a.key, a.subject, epoch, a.time_ms);
                    self.stats.evictions += 1;
                    i
                }
                _ => {
                    self.stats.rejected += 1;
                    return None;
                }
            }
        };
        self.slots.insert(a.key, idx as u32);
        self.stats.promotions += 1;
        Some(idx)
    }
}

impl KeyTracker for SketchTracker {
    fn new(p: TrackerParams) -> Self {
        SketchTracker {
            p,
            clock: Clock::new(p.half_window_ms),
            cms: WindowedCountMin::with_bytes(p.capacity.sketch_bytes as usize),
            slots: HashMap::with_capacity_and_hasher(
                p.capacity.tracked_keys as usize,
                BuildPassThrough::default(),
            ),
            // Reserved at once: growing by doubling would briefly hold 1.5× the
            // table, and pages are only resident once an entry is written.
            entries: Vec::with_capacity(p.capacity.tracked_keys.max(1) as usize),
            rng: SplitMix64(0x5eed ^ p.half_window_ms as u64),
            stats: TrackerStats::default(),
        }
    }

    fn stats(&self) -> TrackerStats {
        TrackerStats {
            tracked: self.slots.len() as u64,
            ..self.stats
        }
    }

    #[inline]
    fn observe(&mut self, a: &Attempt, out: &mut Vec<Signal>) {
        self.stats.attempts += 1;
        let placed = self.clock.place(a.time_ms);
        if placed.steps > 0 {
            self.cms.rotate(placed.steps);
        }
        let Some(b) = placed.bucket else {
            self.stats.late += 1;
            return;
        };
        self.stats.clamped += u64::from(placed.clamped);
        let idx = match self.slots.get(&a.key) {
            Some(&i) => i as usize,
            None if a.failure => {
                let est = self.cms.add(a.key, b);
                if est < self.p.capacity.promote_after_failures {
                    return;
                }
                match self.admit(a, est) {
                    Some(i) => i,
                    None => return,
                }
            }
            None => return,
        };
        let epoch = self.clock.epoch;
        let window_start = self.clock.window_start();
        let e = &mut self.entries[idx];
        e.sync(epoch, a.time_ms);
        if placed.clamped {
            e.late_from = e.late_from.min(a.time_ms);
        }
        let item = mix64(a.item);
        let witness = mix64(a.witness);
        let failed_before = e.witness_failed(witness);
        let counts_success = !a.failure && self.p.recent(e.last_failure_ms, a.time_ms);
        e.attempts[b] += 1;
        if a.failure {
            e.last_failure_ms = e.last_failure_ms.max(a.time_ms);
            e.failures[b] += 1;
            e.marked[b] += u32::from(a.marked);
            for (w, bit) in witness_bits(witness) {
                e.failed_witnesses[b][w] |= 1 << bit;
            }
        }
        if e.distinct.add(item, b) {
            e.distinct_cached = None;
        }
        let counts = e.counts();
        let verdict = judge(&self.p.thresholds, &counts);
        let (detector, subject) = (self.p.detector, e.subject);
        let (from_ms, now_ms) = (
            window_start.max(e.first_ms).min(e.late_from),
            self.clock.newest_ms,
        );
        let raise = |score| Raise {
            detector,
            subject,
            counts,
            score,
            window_start_ms: from_ms,
            now_ms,
        };
        let success = counts_success.then_some(PendingSuccess {
            account: a.account,
            time_ms: a.time_ms,
            counted_ms: self.clock.counted_at(a.time_ms, placed),
            source: a.source,
            source_failed_before: failed_before,
            owner_like: a.owner_like,
            novel: a.novel,
        });
        match verdict {
            Some(score) => {
                let r = raise(score);
                if !e.announced {
                    e.announced = true;
                    out.push(r.attack());
                }
                let (unseen, novel) = (self.p.unseen_source_factor, self.p.novel_unseen_factor);
                if !counts.corroborated(self.p.min_marked_share) {
                    // Over the thresholds but not (yet) an attacker's: people
                    // guessing their own forgotten password. Hold its successes.
                    if let Some(s) = success {
                        e.hold(s);
                    }
                } else {
                    if !e.reporting {
                        e.reporting = true;
                        for s in e.pending.iter_mut().filter_map(Option::take) {
                            if s.counted_ms >= window_start {
                                out.extend(r.compromised(&s, unseen, novel));
                            }
                        }
                    }
                    if let Some(s) = success {
                        out.extend(r.compromised(&s, unseen, novel));
                    }
                }
            }
            None => {
                if let Some(s) = success {
                    e.hold(s);
                }
            }
        }
    }
}
