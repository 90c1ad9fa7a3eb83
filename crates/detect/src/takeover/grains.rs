//! Decayed counts per grain (address, network, ASN, user agent): attempts and
//! attempts on unknown accounts at two speeds against a slow baseline, in
//! bounded 2-way tables.

use super::*;

/// Exponentially decayed counts at two speeds plus a slow baseline (40 bytes).
#[derive(Clone, Copy, Default)]
pub(super) struct Decayed {
    /// [attempts, unknown] with a ~1 h half-life.
    pub(super) fast: [f32; 2],
    /// [attempts, unknown, failures, accounts] with a ~1 day half-life. `accounts`
    /// counts attempts on another account than the grain's previous attempt: a
    /// person's address tries one account (theirs), a proxy's tries a new one
    /// every time — a distinct count that costs four bytes.
    pub(super) day: [f32; 4],
    /// [attempts, unknown] with a ~3 days half-life.
    pub(super) slow: [f32; 2],
    /// 16-bit tag of the account of the last attempt (0: none yet).
    pub(super) last_account: u16,
    /// 16-bit tag of the account of the last wrong password (0: none yet): a
    /// person's wrong passwords are on their own account, a combo list's on
    /// everyone else's.
    pub(super) last_wrong: u16,
    /// 16-bit tag of the user agent of the last unknown-account attempt (0: none
    /// yet): the owner's mistyped e-mail address comes from the browser that then
    /// succeeds; a proxy rotating user agents tried it from another.
    pub(super) last_unknown_ua: u16,
    /// Seconds since the epoch of the last update (0: never); seconds, not
    /// milliseconds, to keep the slot at 40 bytes (good until 2106).
    pub(super) last_s: u32,
}

impl Decayed {
    pub(super) fn age(&mut self, now_ms: i64, halves: &[f32; 3]) {
        let now = (now_ms / 1000).clamp(1, i64::from(u32::MAX)) as u32;
        if self.last_s == 0 || now <= self.last_s {
            self.last_s = self.last_s.max(now);
            return;
        }
        let dt = (now - self.last_s) as f32 / HOUR_S;
        let k = |h: f32| (-dt / h).exp2();
        let (kf, kd, ks) = (k(halves[0]), k(halves[1]), k(halves[2]));
        self.fast.iter_mut().for_each(|v| *v *= kf);
        self.day.iter_mut().for_each(|v| *v *= kd);
        self.slow.iter_mut().for_each(|v| *v *= ks);
        self.last_s = now;
    }

    pub(super) fn add(&mut self, unknown: bool, failure: bool, account: u16, ua: u16) {
        let (u, f) = (f32::from(u8::from(unknown)), f32::from(u8::from(failure)));
        let other = f32::from(u8::from(account != self.last_account));
        self.last_account = account;
        if failure && !unknown {
            self.last_wrong = account;
        }
        if unknown {
            self.last_unknown_ua = ua;
        }
        self.fast[0] += 1.0;
        self.fast[1] += u;
        self.day[0] += 1.0;
        self.day[1] += u;
        self.day[2] += f;
        self.day[3] += other;
        self.slow[0] += 1.0;
        self.slow[1] += u;
    }

    /// The larger of the fast and day unknown-account shares.
    pub(super) fn unknown_share(&self) -> f32 {
        let s = |c: &[f32]| if c[0] > 0.0 { c[1] / c[0] } else { 0.0 };
        s(&self.fast).max(s(&self.day))
    }

    /// The fast (about an hour) unknown-account excess in standard deviations
    /// against the share `p`: what is happening now, not today.
    pub(super) fn fast_z(&self, p: f32) -> f32 {
        let expected = p.max(1e-4) * self.fast[0];
        (self.fast[1] - expected) / (expected + 1.0).sqrt()
    }

    /// The day's share of failures (wrong password or unknown account).
    pub(super) fn failure_share(&self) -> f32 {
        if self.day[0] > 0.0 {
            self.day[2] / self.day[0]
        } else {
            0.0
        }
    }

    /// The strongest unknown-account excess (z, excess, attempts, expected) of the
    /// two speeds against the baseline share: the grain's own slow history once it
    /// has `min_history` attempts, never below the site's share `prior`.
    pub(super) fn excess(&self, prior: f32, min_history: f32) -> (f32, f32, f32, f32) {
        let own = if self.slow[0] >= min_history {
            // The slow baseline includes the recent counts; take them out so an
            // attack does not excuse itself.
            let a = (self.slow[0] - self.day[0]).max(0.0);
            let u = (self.slow[1] - self.day[1]).max(0.0);
            if a >= min_history { u / a } else { 0.0 }
        } else {
            0.0
        };
        let p = own.max(prior).max(1e-4);
        let mut best = (0.0f32, 0.0f32, 0.0f32, 0.0f32);
        for c in [&self.fast[..], &self.day[..2]] {
            let expected = p * c[0];
            let excess = c[1] - expected;
            let z = excess / (expected + 1.0).sqrt();
            if z > best.0 {
                best = (z, excess, c[0], expected);
            }
        }
        best
    }
}

/// A 2-way set-associative table of decayed counts per grain key. A newcomer
/// goes to the quieter of the two slots (fewer attempts over the last day, aged
/// to now) — always if that one is idle, otherwise with a probability that falls
/// with its activity: bounded memory, and a busy grain (a carrier's CGNAT
/// address, an office NAT, a botnet's /24) keeps its history instead of losing it
/// to every quiet address that hashes to its slot (direct-mapped, a shared
/// address's counts were reset so often that it looked as fresh as a proxy's).
pub(super) struct GrainTable {
    pub(super) tags: Vec<u32>,
    pub(super) counts: Vec<Decayed>,
    pub(super) mask: usize,
}

impl GrainTable {
    pub(super) fn new(slots: u32) -> GrainTable {
        let n = (slots.max(2) as usize).next_power_of_two();
        GrainTable {
            tags: vec![0; n],
            counts: vec![Decayed::default(); n],
            mask: n - 1,
        }
    }

    pub(super) fn bytes(slots: u32) -> usize {
        (slots.max(2) as usize).next_power_of_two() * (4 + std::mem::size_of::<Decayed>())
    }

    #[inline]
    pub(super) fn find(&self, key: u64) -> (usize, u32, Option<usize>) {
        let i = (key as usize) & self.mask & !1;
        let tag = (key >> 32) as u32 | 1;
        let hit = if self.tags[i] == tag {
            Some(i)
        } else if self.tags[i + 1] == tag {
            Some(i + 1)
        } else {
            None
        };
        (i, tag, hit)
    }

    /// The counts of `key`, aged to `now`; `None` when the key is not tracked and
    /// lost the draw for a slot (see [`GrainTable`]).
    #[inline]
    pub(super) fn slot(&mut self, key: u64, now: i64, halves: &[f32; 3]) -> Option<&mut Decayed> {
        let (i, tag, hit) = self.find(key);
        let j = match hit {
            Some(j) => j,
            None => {
                let now_s = (now / 1000).max(0) as f32;
                // The day's attempts, aged to now — roughly: 1 / (1 + t / half-life)
                // instead of 2^(-t / half-life) (no exp2 on a miss, which with
                // millions of distinct addresses is most events; it only has to
                // rank two slots and tell idle from busy).
                let activity = |d: &Decayed| {
                    if d.last_s == 0 {
                        return 0.0;
                    }
                    let dt = (now_s - d.last_s as f32).max(0.0) / HOUR_S;
                    d.day[0] / (1.0 + dt / halves[1])
                };
                let (a, b) = (activity(&self.counts[i]), activity(&self.counts[i + 1]));
                let (j, quiet) = if a <= b { (i, a) } else { (i + 1, b) };
                // A newcomer takes a quiet slot, and a busy one only with
                // probability 1 / (1 + its day's attempts): a shared address with
                // hundreds of attempts a day keeps its history (at 100,000
                // accounts more addresses are active in a day than there are
                // slots, and each newcomer used to evict a CGNAT address's counts,
                // making it look as fresh as a proxy's).
                if quiet >= 1.0 {
                    let draw = (mix2(key, now as u64) >> 40) as f32 / (1u64 << 24) as f32;
                    if draw * (1.0 + quiet) >= 1.0 {
                        return None;
                    }
                }
                self.tags[j] = tag;
                self.counts[j] = Decayed::default();
                j
            }
        };
        let c = &mut self.counts[j];
        c.age(now, halves);
        Some(c)
    }

    pub(super) fn peek(&self, key: u64) -> Option<&Decayed> {
        self.find(key).2.map(|j| &self.counts[j])
    }
}
