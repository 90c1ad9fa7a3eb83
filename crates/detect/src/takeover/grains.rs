//! Decayed counts per grain (address, network, ASN, user agent): attempts and
//! attempts on unknown accounts at two speeds against a slow baseline, in
//! bounded 2-way tables.

use super::*;

/// The names that do not exist a person's redeemed typos may account for
/// (`redeemed_typos`): a few variants of their own address, some tried twice.
/// More, at one address or /24, are a list's, whoever redeemed the last.
const REDEEMED_NAMES: f32 = 4.0;

/// Exponentially decayed counts at two speeds plus a slow baseline: the working
/// form (the site keeps one; a [`GrainTable`] stores them packed in 24 bytes).
#[derive(Clone, Copy, Default)]
pub(super) struct Decayed {
    /// [attempts, unknown] with a ~1 h half-life.
    pub(super) fast: [f32; 2],
    /// [attempts, unknown, failures, accounts, sprayed] with a ~1 day half-life.
    /// `accounts` counts attempts on another account than the grain's previous
    /// attempt: a person's address tries one account (theirs), a proxy's tries a
    /// new one every time — a distinct count that costs one counter. `sprayed`
    /// counts failures with a password that was then failing on many accounts
    /// across the site (`TakeoverConfig::sprayed_password_accounts`): a spray's.
    pub(super) day: [f32; 5],
    /// [attempts, unknown] with a ~3 days half-life.
    pub(super) slow: [f32; 2],
    /// 8-bit tag of the account of the last attempt (0: none yet).
    pub(super) last_account: u8,
    /// 8-bit tag of the account of the last wrong password (0: none yet): a
    /// person's wrong passwords are on their own account, a combo list's on
    /// everyone else's. (One tag in 255 is another account's: rarely, a proxy's
    /// wrong password reads as the owner's own, which only loses evidence.)
    pub(super) last_wrong: u8,
    /// 8-bit tag of the user agent of the last unknown-account attempt (0: none
    /// yet): the owner's mistyped e-mail address comes from the browser that then
    /// succeeds; a proxy rotating user agents tried it from another. User agent
    /// tags are odd ([`ua8`]); its low bit cleared means the names were
    /// *redeemed* ([`Decayed::unknown_redeemed`]). Read it through
    /// [`Decayed::unknown_client`].
    pub(super) last_unknown_ua: u8,
    /// Minutes since the epoch of the last update (0: never). Counts are aged in
    /// whole minutes: exact over any stretch of time, at most a minute late
    /// within one.
    pub(super) last_min: u32,
}

impl Decayed {
    pub(super) fn age(&mut self, now_ms: i64, halves: &[f32; 3]) {
        let now = minutes(now_ms);
        if self.last_min == 0 || now <= self.last_min {
            self.last_min = self.last_min.max(now);
            return;
        }
        let dt = (now - self.last_min) as f32 / 60.0;
        let k = |h: f32| (-dt / h).exp2();
        let (kf, kd, ks) = (k(halves[0]), k(halves[1]), k(halves[2]));
        self.fast.iter_mut().for_each(|v| *v *= kf);
        self.day.iter_mut().for_each(|v| *v *= kd);
        self.slow.iter_mut().for_each(|v| *v *= ks);
        self.last_min = now;
    }

    pub(super) fn add(&mut self, unknown: bool, failure: bool, sprayed: bool, account: u8, ua: u8) {
        let (u, f) = (f32::from(u8::from(unknown)), f32::from(u8::from(failure)));
        let sp = f32::from(u8::from(failure && sprayed));
        // Another account: not the previous attempt's, nor the one its last wrong
        // password was on. A person who forgot their password tries their account,
        // then another address of theirs (unknown here), then their account again:
        // two accounts, not three (counting every change, the returners of a
        // marketing e-mail — dormant accounts, no history — read as an address
        // trying a third account: 112–121 innocents a day on the second trace).
        // A combo list's next account is a new one either way.
        let other = f32::from(u8::from(
            account != self.last_account && account != self.last_wrong,
        ));
        self.last_account = account;
        if failure && !unknown {
            self.last_wrong = account;
        }
        if unknown {
            self.last_unknown_ua = ua;
        } else if !failure && ua != 0 && ua == self.last_unknown_ua && account == self.last_wrong {
            // The client that tried the names then got into the account its
            // wrong password was on: a person who mistyped their address, then
            // their password, not a list.
            self.last_unknown_ua = ua & !1;
        }
        self.fast[0] += 1.0;
        self.fast[1] += u;
        self.day[0] += 1.0;
        self.day[1] += u;
        self.day[2] += f;
        self.day[3] += other;
        self.day[4] += sp;
        self.slow[0] += 1.0;
        self.slow[1] += u;
    }

    /// The user agent tag of the last unknown-account attempt (0: none yet),
    /// redeemed or not.
    pub(super) fn unknown_client(&self) -> u8 {
        if self.last_unknown_ua == 0 {
            0
        } else {
            self.last_unknown_ua | 1
        }
    }

    /// Whether the client that last tried a name the site does not have then
    /// got into the account it had failed on here (a wrong password): that
    /// person's own typos, not a list's names.
    pub(super) fn unknown_redeemed(&self) -> bool {
        self.last_unknown_ua != 0 && self.last_unknown_ua & 1 == 0
    }

    /// Whether the grain's names that do not exist (at least about one within
    /// the last day) were tried by the client `ua` and never redeemed, more
    /// than about an hour ago: the fast (1 h) count holds under half the day's
    /// (24 h), which for a single name means over an hour old. A person's
    /// mistyped e-mail address comes minutes before the sign-in that redeems
    /// it; a residential exit kept by one session for hours tries a list's
    /// lines now and then.
    pub(super) fn names_long_before(&self, ua: u8) -> bool {
        ua != 0
            && self.day[1] >= 0.5
            && self.fast[1] < 0.5 * self.day[1]
            && !self.unknown_redeemed()
            && self.unknown_client() == ua
    }

    /// Whether the grain's names that do not exist are a person's redeemed typos
    /// ([`Decayed::unknown_redeemed`]) and no more than such typos come to
    /// ([`REDEEMED_NAMES`]).
    pub(super) fn only_redeemed_typos(&self) -> bool {
        self.unknown_redeemed() && self.day[1] <= REDEEMED_NAMES
    }

    /// Attempts before about the last day: the slow count with the day's taken
    /// out (a grain's past, which an attack in progress does not make).
    pub(super) fn past_attempts(&self) -> f32 {
        (self.slow[0] - self.day[0]).max(0.0)
    }

    /// Attempts on names that do not exist before about the last day (as
    /// [`Decayed::past_attempts`]).
    pub(super) fn past_unknown(&self) -> f32 {
        (self.slow[1] - self.day[1]).max(0.0)
    }

    /// Whether the grain carries none of the site's people: no past at all
    /// (under one attempt before about the last day), or a small past (under
    /// `size` of the site's, `site_past`) whose share of names that do not
    /// exist is at least `share` — an attack's days, not people's (theirs is
    /// the site's few percent of mistyped addresses). The size matters because
    /// the past is the slow count less the day's, which still holds much of a
    /// burst a day or two old: a carrier's ASN with a sixth of the site's
    /// attempts read 0.2 names that do not exist 37 hours after a 4G proxy
    /// burst through it (the second trace's `mobile_proxy`, seed 44).
    pub(super) fn peopleless(&self, share: f32, size: f32, site_past: f32) -> bool {
        let past = self.past_attempts();
        past < 1.0 || (past < size * site_past && self.past_unknown() >= share * past)
    }

    /// The unknown-account share the grain's counts are judged against: its own
    /// before the last day once it has `min_history` attempts there, never below
    /// the site's share `prior`.
    pub(super) fn baseline_share(&self, prior: f32, min_history: f32) -> f32 {
        let own = if self.slow[0] >= min_history {
            // The slow baseline includes the recent counts; take them out so an
            // attack does not excuse itself.
            let a = self.past_attempts();
            let u = self.past_unknown();
            if a >= min_history { u / a } else { 0.0 }
        } else {
            0.0
        };
        own.max(prior).max(1e-4)
    }

    /// The share of the grain's attempts over about the last day that came in
    /// about the last hour (the two speeds' ratio): near 1 for an address whose
    /// attempts all came in minutes — a proxy's session — and lower for one used
    /// through the day, as a carrier's shared address is.
    pub(super) fn fresh_share(&self) -> f32 {
        if self.day[0] > 0.0 {
            self.fast[0] / self.day[0]
        } else {
            0.0
        }
    }

    /// The share of the grain's *other* attempts over about the last day that
    /// failed, the attempt being judged (already counted) left out.
    pub(super) fn others_failure_share(&self) -> f32 {
        self.day[2] / (self.day[0] - 1.0).max(1e-3)
    }

    /// The unknown-account share of about the last hour: what the grain is
    /// doing *now*. A busy grain's share falls back to its people's within hours
    /// of an attack leaving it (a carrier's CGNAT /24 after a proxy burst); a
    /// grain with no traffic of its own keeps the attack's share.
    pub(super) fn fast_share(&self) -> f32 {
        if self.fast[0] > 0.0 {
            self.fast[1] / self.fast[0]
        } else {
            0.0
        }
    }

    /// The attack left this grain: its other attempts of about the last hour
    /// (beside the one being judged) are a few at least, hold less than about
    /// one name that does not exist, and their share of such names is under
    /// half the day's. (Not the share alone: a spray trickling through a busy
    /// /24 of VPN concentrators — FireProx through AWS — is a small share of its
    /// hour, but still there.) A busy grain is its
    /// people's again within hours of an attack leaving it (a carrier's CGNAT
    /// /24 after a proxy burst), while its day-long counts keep the attack's
    /// failures for a day; a grain with little traffic of its own since (a
    /// botnet's /24 trying a few accounts a day) keeps the day's mix.
    pub(super) fn attack_left(&self) -> bool {
        let others = self.fast[0] - 1.0;
        let day = if self.day[0] > 0.0 {
            self.day[1] / self.day[0]
        } else {
            0.0
        };
        others >= 2.0 && self.fast[1] < 1.0 && day > 0.0 && self.fast[1] / others < 0.5 * day
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

    /// Whether a password spray explains the grain's failures: at least `share`
    /// of them, and at least [`SPRAYED_MIN`], were on a password then being
    /// sprayed.
    pub(super) fn sprayed(&self, share: f32) -> bool {
        share > 0.0 && self.day[4] >= SPRAYED_MIN && self.day[4] >= share * self.day[2]
    }

    /// The strongest unknown-account excess (z, excess, attempts, expected) of the
    /// two speeds against the baseline share: the grain's own slow history once it
    /// has `min_history` attempts, never below the site's share `prior`.
    pub(super) fn excess(&self, prior: f32, min_history: f32) -> (f32, f32, f32, f32) {
        let p = self.baseline_share(prior, min_history);
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

/// Sprayed failures (decayed over about a day) a grain needs before a spray
/// explains it: one within about the last day (a residential proxy's address
/// tries one to three accounts; at 1.0, a single failure two hours old, decayed
/// to 0.94, did not count, and 60 people behind such addresses were flagged on
/// the fifth trace's spray at 100,000 accounts).
const SPRAYED_MIN: f32 = 0.5;

/// Minutes since the epoch (at least 1: 0 means "never").
pub(super) fn minutes(now_ms: i64) -> u32 {
    (now_ms / 60_000).clamp(1, i64::from(u32::MAX)) as u32
}

/// The smallest power of two a packed counter holds (smaller counts are 0): a
/// count decayed below 1/256 of an attempt says nothing.
const EXP_MIN: i32 = -8;

/// A count packed in 16 bits: a float with a 5-bit exponent (2^-8 up to 2^24,
/// where an `f32` stops counting single attempts too) and an 11-bit mantissa
/// (0.05 % steps). Rounded *stochastically* with `noise` (12 bits): a busy grain
/// is aged every minute by less than one step of its count (the 3-day baseline
/// loses 0.016 % a minute), which rounding to nearest would never apply.
#[inline]
fn pack(v: f32, noise: u32) -> u16 {
    // (NaN too: a count is never one.)
    if v.is_nan() || v < (EXP_MIN as f32).exp2() {
        return 0;
    }
    let b = v.to_bits().wrapping_add(noise & 0xFFF);
    let e = (b >> 23) as i32 - 127 - EXP_MIN;
    if e > 31 {
        return u16::MAX;
    }
    ((e as u32) << 11 | (b >> 12) & 0x7FF) as u16
}

#[inline]
fn unpack(c: u16) -> f32 {
    if c == 0 {
        return 0.0;
    }
    let c = u32::from(c);
    f32::from_bits((((c >> 11) as i32 + EXP_MIN + 127) as u32) << 23 | (c & 0x7FF) << 12)
}

/// One grain's [`Decayed`] counts as a table stores them: 26 bytes instead of 52,
/// so twice the slots fit in the same memory (at 100,000 accounts more addresses
/// are active in a day than 65,536 slots hold: a quarter of the missed takeovers
/// had lost their address's counts).
#[derive(Clone, Copy, Default)]
#[repr(C)]
pub(super) struct Slot {
    /// 15 bits of the key, | 1 (0: empty). With the 17 bits that chose the pair, a
    /// key not in the table matches another's slot with probability 2^-14.
    tag: u16,
    /// fast[2], day[5], slow[2], packed ([`pack`]).
    counts: [u16; 9],
    /// Low 16 and high 8 bits of the minute of the last update (wraps after 32
    /// years; read relative to the table's latest minute).
    min_lo: u16,
    min_hi: u8,
    /// last_account, last_wrong, last_unknown_ua.
    tags: [u8; 3],
}

impl Slot {
    fn minute(&self, now_min: u32) -> u32 {
        let stored = u32::from(self.min_lo) | u32::from(self.min_hi) << 16;
        // The signed 24-bit distance to the table's latest minute (a slightly
        // out-of-order event may have stored a later minute).
        let d = (((now_min.wrapping_sub(stored)) << 8) as i32) >> 8;
        now_min.wrapping_sub(d as u32)
    }

    fn load(&self, now_min: u32) -> Decayed {
        let c = |i: usize| unpack(self.counts[i]);
        Decayed {
            fast: [c(0), c(1)],
            day: [c(2), c(3), c(4), c(5), c(6)],
            slow: [c(7), c(8)],
            last_account: self.tags[0],
            last_wrong: self.tags[1],
            last_unknown_ua: self.tags[2],
            last_min: self.minute(now_min),
        }
    }

    /// Stores `d`, rounding each count with 12 bits of `noise`.
    fn store(&mut self, d: &Decayed, noise: [u64; 2]) {
        let v = [
            d.fast[0], d.fast[1], d.day[0], d.day[1], d.day[2], d.day[3], d.day[4], d.slow[0],
            d.slow[1],
        ];
        for (i, (c, v)) in self.counts.iter_mut().zip(v).enumerate() {
            *c = pack(v, (noise[i / 5] >> (12 * (i % 5))) as u32);
        }
        self.min_lo = d.last_min as u16;
        self.min_hi = (d.last_min >> 16) as u8;
        self.tags = [d.last_account, d.last_wrong, d.last_unknown_ua];
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
    slots: Vec<Slot>,
    mask: usize,
    /// The latest minute counted (to read the slots' 24-bit minutes).
    now_min: u32,
    /// xorshift state for the counts' stochastic rounding (deterministic: the
    /// same events give the same counts).
    noise: u64,
}

impl GrainTable {
    pub(super) fn new(slots: u32) -> GrainTable {
        let n = (slots.max(2) as usize).next_power_of_two();
        GrainTable {
            slots: vec![Slot::default(); n],
            mask: n - 1,
            now_min: 0,
            noise: 0x9e37_79b9_7f4a_7c15,
        }
    }

    pub(super) fn bytes(slots: u32) -> usize {
        (slots.max(2) as usize).next_power_of_two() * std::mem::size_of::<Slot>()
    }

    #[inline]
    fn find(&self, key: u64) -> (usize, u16, Option<usize>) {
        let i = (key as usize) & self.mask & !1;
        let tag = (key >> 32) as u16 | 1;
        let hit = if self.slots[i].tag == tag {
            Some(i)
        } else if self.slots[i + 1].tag == tag {
            Some(i + 1)
        } else {
            None
        };
        (i, tag, hit)
    }

    /// Counts one attempt of `key` at `now` (aging its counts first); nothing when
    /// the key is not tracked and lost the draw for a slot (see [`GrainTable`]).
    #[inline]
    #[allow(clippy::too_many_arguments)]
    pub(super) fn count(
        &mut self,
        key: u64,
        now: i64,
        halves: &[f32; 3],
        unknown: bool,
        failure: bool,
        sprayed: bool,
        account: u8,
        ua: u8,
    ) {
        let now_min = minutes(now);
        self.now_min = self.now_min.max(now_min);
        let (i, tag, hit) = self.find(key);
        let mut d = match hit {
            Some(j) => (j, self.slots[j].load(self.now_min)),
            None => {
                // The day's attempts, aged to now — roughly: 1 / (1 + t / half-life)
                // instead of 2^(-t / half-life) (no exp2 on a miss, which with
                // millions of distinct addresses is most events; it only has to
                // rank two slots and tell idle from busy).
                let activity = |s: &Slot| {
                    if s.tag == 0 {
                        return 0.0;
                    }
                    let dt = now_min.saturating_sub(s.minute(self.now_min)) as f32 / 60.0;
                    unpack(s.counts[2]) / (1.0 + dt / halves[1])
                };
                let (a, b) = (activity(&self.slots[i]), activity(&self.slots[i + 1]));
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
                        return;
                    }
                }
                self.slots[j].tag = tag;
                (j, Decayed::default())
            }
        };
        d.1.age(now, halves);
        d.1.add(unknown, failure, sprayed, account, ua);
        let noise = [self.next_noise(), self.next_noise()];
        self.slots[d.0].store(&d.1, noise);
    }

    fn next_noise(&mut self) -> u64 {
        self.noise ^= self.noise << 13;
        self.noise ^= self.noise >> 7;
        self.noise ^= self.noise << 17;
        self.noise
    }

    /// The counts of `key` as of its last update (not aged), if tracked.
    pub(super) fn peek(&self, key: u64) -> Option<Decayed> {
        self.find(key).2.map(|j| self.slots[j].load(self.now_min))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_counts_are_close_and_unbiased() {
        for v in [
            0.0f32, 0.004, 0.5, 1.0, 1.5, 2.0, 3.0, 1000.0, 2047.0, 123_456.7,
        ] {
            let back = unpack(pack(v, 0));
            assert!((back - v).abs() <= v * 1e-3 + 4e-3, "{v} -> {back}");
        }
        // Integers up to 2048 are exact whatever the noise.
        for v in [1.0f32, 7.0, 300.0, 2048.0] {
            for n in [0, 0x7FF, 0xFFF] {
                assert_eq!(unpack(pack(v, n)), v);
            }
        }
        // Aging a busy count by a tiny factor every minute, for three days:
        // stochastic rounding follows the exact decay (round-to-nearest stalls).
        let (mut exact, mut packed, mut noise) = (5_000.0f64, pack(5_000.0, 0), 1u64);
        let k = (-1.0f64 / (72.0 * 60.0)).exp2();
        for _ in 0..3 * 24 * 60 {
            exact *= k;
            noise ^= noise << 13;
            noise ^= noise >> 7;
            noise ^= noise << 17;
            packed = pack((f64::from(unpack(packed)) * k) as f32, noise as u32);
        }
        let got = f64::from(unpack(packed));
        assert!((got - exact).abs() < exact * 0.005, "{got} vs {exact}");
        assert_eq!(pack(1e12, 0), u16::MAX);
    }

    #[test]
    fn an_address_returning_to_the_account_it_failed_on_tried_two_accounts() {
        let (own, other) = (tag8(AccountKey(1)), tag8(AccountKey(2)));
        // A person who forgot their password: their account, their other address
        // (unknown here), their account again, which then opens.
        let mut person = Decayed::default();
        person.add(false, true, false, own, 5);
        person.add(true, true, false, other, 5);
        person.add(false, true, false, own, 5);
        person.add(true, true, false, other, 5);
        person.add(false, false, false, own, 5);
        assert_eq!(person.day[3], 3.0, "own, other, other again: not five");
        let mut once = Decayed::default();
        once.add(false, true, false, own, 5);
        once.add(true, true, false, other, 5);
        once.add(false, false, false, own, 5);
        assert_eq!(once.day[3], 2.0);
        // A proxy: every attempt on a new account.
        let mut proxy = Decayed::default();
        for a in 10..14u64 {
            proxy.add(a % 2 == 0, true, false, tag8(AccountKey(a)), 9);
        }
        proxy.add(false, false, false, tag8(AccountKey(20)), 9);
        assert_eq!(proxy.day[3], 5.0);
    }

    #[test]
    fn a_slot_is_26_bytes_and_reads_back_what_it_stored() {
        assert_eq!(std::mem::size_of::<Slot>(), 26);
        let d = Decayed {
            fast: [3.0, 1.0],
            day: [5.0, 2.0, 4.0, 3.0, 2.0],
            slow: [250.0, 6.0],
            last_account: 7,
            last_wrong: 9,
            last_unknown_ua: 11,
            last_min: 29_500_000,
        };
        let mut s = Slot::default();
        s.store(&d, [0, 0]);
        let back = s.load(29_500_010);
        assert_eq!(back.fast, d.fast);
        assert_eq!(back.day, d.day);
        assert_eq!(back.slow, d.slow);
        assert_eq!(back.last_min, d.last_min);
        assert_eq!(
            (back.last_account, back.last_wrong, back.last_unknown_ua),
            (7, 9, 11)
        );
        // A minute slightly after the table's latest (an out-of-order event).
        assert_eq!(s.load(29_499_998).last_min, d.last_min);
    }
}
