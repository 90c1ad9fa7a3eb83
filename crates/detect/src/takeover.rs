//! Account takeover: which *successful* sign-ins look like an attacker's, judged
//! with what separates a combo list from ordinary people rather than with one
//! source's counters.
//!
//! Three kinds of evidence, all in fixed memory:
//!
//! 1. **The account's own history** ([`Profiles`]): the networks (/24 · /64), ASNs,
//!    devices (user-agent hashes) and countries it signed in from successfully.
//!    A success on a *new device* from a *new network / ASN / country* is what a
//!    proxy's attempt looks like; a traveller keeps their device, a carrier's user
//!    keeps their carrier's ASN and device, an office worker the office address.
//! 2. **Sources at several grains at once** — the address, its /24 · /64, its ASN
//!    and the user agent — each with decayed counts of attempts and of attempts on
//!    *unknown accounts* (a combo list is full of addresses that do not exist; people
//!    mistype their own, so the share of unknown accounts barely moves during an
//!    outage). A grain is suspicious when its unknown attempts exceed what its own
//!    history (or, without enough history, the site's) predicts by many standard
//!    deviations — a carrier ASN with 30 % of the site's users has a large normal
//!    volume and a small normal unknown share; a hosting ASN or a proxy address has
//!    no normal volume at all. Counts are kept at two speeds (about an hour and
//!    about a day) so a botnet spread thin in time (low-and-slow) still adds up.
//! 3. **The site**: the same unknown-account excess over the whole site against its
//!    own baseline: an attack in progress.
//!
//! A success is flagged when its novelty is high enough *for* the strength of the
//! context: a suspicious address or /24 with a new device or new network; a
//! suspicious ASN or user agent with a new device *and* a new network; only the
//! site-wide alarm with a new device, network, ASN and country. Successes are kept
//! for a few hours (a bounded ring) and judged again as evidence arrives, so a
//! proxy's success that came before its address's failures is still caught.
//!
//! Failures never teach the profile (an attacker's failures must not make its
//! network "known"); every success does, after it was judged.

use crate::config::TakeoverConfig;
use crate::event::{AccountKey, Country, LoginEvent, Outcome, Source, SourceGrouping};
use crate::hash::mix2;
use crate::signal::{
    Detector, Evidence, Grain, Signal, SignalKind, Subject, SuccessSeen, TakeoverEvidence,
};

const HOUR_MS: f32 = 3_600_000.0;

/// Slots per profile bucket (a bucket is one 4-way set).
const WAYS: usize = 4;

/// One account's history: small most-recent-first sets of hashes.
#[derive(Clone, Copy, Default)]
struct Profile {
    /// High bits of the account key (0: empty slot).
    tag: u32,
    /// Minutes since the epoch of its last success (for eviction).
    last_min: u32,
    successes: u16,
    countries: [Country; 3],
    nets: [u32; 4],
    asns: [u32; 3],
    uas: [u32; 3],
}

/// What a success has that the account's history does not.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Novelty {
    /// Successes the account had before (0: no history kept for it).
    pub known_successes: u16,
    /// A user agent it never succeeded with (false when the event has none).
    pub new_device: bool,
    /// A /24 · /64 it never succeeded from.
    pub new_network: bool,
    /// An ASN it never succeeded from (false when the event has none).
    pub new_asn: bool,
    /// A country it never succeeded from (false when the event has none).
    pub new_country: bool,
}

impl Novelty {
    /// Looks like the owner: a known device (or none sent) on a known network or ASN.
    pub fn owner_like(&self) -> bool {
        self.known_successes > 0 && !self.new_device && (!self.new_network || !self.new_asn)
    }

    /// How unlike the owner, 0..=1: device 0.4, network 0.2, ASN 0.2, country 0.2.
    /// Without history everything is new: 1.
    pub fn level(&self) -> f32 {
        if self.known_successes == 0 {
            return 1.0;
        }
        let b = |v: bool, w: f32| if v { w } else { 0.0 };
        b(self.new_device, 0.4)
            + b(self.new_network, 0.2)
            + b(self.new_asn, 0.2)
            + b(self.new_country, 0.2)
    }
}

fn has<T: PartialEq + Copy>(set: &[T], v: T) -> bool {
    set.contains(&v)
}

/// Put `v` first, keeping the others in recency order (drops the oldest when full).
fn remember<T: PartialEq + Copy>(set: &mut [T], v: T) {
    let pos = set.iter().position(|&x| x == v).unwrap_or(set.len() - 1);
    set.copy_within(0..pos, 1);
    set[0] = v;
}

/// Bounded per-account histories: a 4-way set-associative table; a full set
/// evicts the account whose last success is oldest.
pub struct Profiles {
    slots: Vec<Profile>,
    mask: usize,
}

fn net32(ip: std::net::IpAddr) -> u32 {
    (Source::of(SourceGrouping::Network, ip, None).key() >> 32) as u32 | 1
}

fn h32(v: u64) -> u32 {
    (v >> 32) as u32 | 1
}

impl Profiles {
    /// A table of `buckets` (a power of two) × 4 accounts.
    pub fn new(buckets: u32) -> Profiles {
        let b = (buckets.max(1) as usize).next_power_of_two();
        Profiles {
            slots: vec![Profile::default(); b * WAYS],
            mask: b - 1,
        }
    }

    /// Bytes held.
    pub fn bytes(buckets: u32) -> usize {
        (buckets.max(1) as usize).next_power_of_two() * WAYS * std::mem::size_of::<Profile>()
    }

    fn place(&self, a: AccountKey) -> (usize, u32) {
        let h = mix2(0x7072_6f66, a.0);
        (((h as usize) & self.mask) * WAYS, (h >> 32) as u32 | 1)
    }

    /// How `ev` differs from the account's history.
    pub fn novelty(&self, ev: &LoginEvent) -> Novelty {
        let (base, tag) = self.place(ev.account);
        let Some(p) = self.slots[base..base + WAYS].iter().find(|p| p.tag == tag) else {
            return Novelty::default();
        };
        Novelty {
            known_successes: p.successes,
            new_device: ev.user_agent != 0 && !has(&p.uas, h32(ev.user_agent)),
            new_network: !has(&p.nets, net32(ev.ip)),
            new_asn: ev.asn.is_some_and(|a| !has(&p.asns, a | 0x8000_0000)),
            new_country: ev.country.is_known() && !has(&p.countries, ev.country),
        }
    }

    /// Learn a success.
    pub fn learn(&mut self, ev: &LoginEvent) {
        let (base, tag) = self.place(ev.account);
        let now = (ev.time_ms / 60_000) as u32;
        let set = &mut self.slots[base..base + WAYS];
        let i = set.iter().position(|p| p.tag == tag).unwrap_or_else(|| {
            let (i, _) = set
                .iter()
                .enumerate()
                .min_by_key(|(_, p)| if p.tag == 0 { 0 } else { p.last_min.max(1) })
                .expect("WAYS > 0");
            set[i] = Profile {
                tag,
                ..Profile::default()
            };
            i
        });
        let p = &mut set[i];
        p.last_min = now;
        p.successes = p.successes.saturating_add(1);
        remember(&mut p.nets, net32(ev.ip));
        if let Some(a) = ev.asn {
            remember(&mut p.asns, a | 0x8000_0000);
        }
        if ev.user_agent != 0 {
            remember(&mut p.uas, h32(ev.user_agent));
        }
        if ev.country.is_known() {
            remember(&mut p.countries, ev.country);
        }
    }
}

/// Exponentially decayed counts at two speeds plus a slow baseline.
#[derive(Clone, Copy, Default)]
struct Decayed {
    /// [attempts, unknown, failures] with ~1 h, ~1 day and ~3 days half-lives.
    fast: [f32; 3],
    day: [f32; 3],
    slow: [f32; 2],
    last_ms: i64,
}

impl Decayed {
    fn age(&mut self, now: i64, halves: &[f32; 3]) {
        if self.last_ms == 0 || now <= self.last_ms {
            self.last_ms = self.last_ms.max(now);
            return;
        }
        let dt = (now - self.last_ms) as f32 / HOUR_MS;
        let k = |h: f32| (-dt / h).exp2();
        let (kf, kd, ks) = (k(halves[0]), k(halves[1]), k(halves[2]));
        self.fast.iter_mut().for_each(|v| *v *= kf);
        self.day.iter_mut().for_each(|v| *v *= kd);
        self.slow.iter_mut().for_each(|v| *v *= ks);
        self.last_ms = now;
    }

    fn add(&mut self, unknown: bool, failure: bool) {
        let (u, f) = (f32::from(u8::from(unknown)), f32::from(u8::from(failure)));
        for c in [&mut self.fast, &mut self.day] {
            c[0] += 1.0;
            c[1] += u;
            c[2] += f;
        }
        self.slow[0] += 1.0;
        self.slow[1] += u;
    }

    /// The larger of the fast and day unknown-account shares.
    fn unknown_share(&self) -> f32 {
        let s = |c: &[f32; 3]| if c[0] > 0.0 { c[1] / c[0] } else { 0.0 };
        s(&self.fast).max(s(&self.day))
    }

    /// The strongest unknown-account excess (z, excess, attempts, expected) of the
    /// two speeds against the baseline share: the grain's own slow history once it
    /// has `min_history` attempts, never below the site's share `prior`.
    fn excess(&self, prior: f32, min_history: f32) -> (f32, f32, f32, f32) {
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
        for c in [&self.fast, &self.day] {
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

/// A direct-mapped table of decayed counts per grain key (a colliding key takes
/// the slot over: bounded memory, and a grain that matters is busy enough to hold it).
struct GrainTable {
    tags: Vec<u32>,
    counts: Vec<Decayed>,
    mask: usize,
}

impl GrainTable {
    fn new(slots: u32) -> GrainTable {
        let n = (slots.max(1) as usize).next_power_of_two();
        GrainTable {
            tags: vec![0; n],
            counts: vec![Decayed::default(); n],
            mask: n - 1,
        }
    }

    fn bytes(slots: u32) -> usize {
        (slots.max(1) as usize).next_power_of_two() * (4 + std::mem::size_of::<Decayed>())
    }

    #[inline]
    fn slot(&mut self, key: u64, now: i64, halves: &[f32; 3]) -> &mut Decayed {
        let i = (key as usize) & self.mask;
        let tag = (key >> 32) as u32 | 1;
        if self.tags[i] != tag {
            self.tags[i] = tag;
            self.counts[i] = Decayed::default();
        }
        let c = &mut self.counts[i];
        c.age(now, halves);
        c
    }

    fn peek(&self, key: u64) -> Option<&Decayed> {
        let i = (key as usize) & self.mask;
        (self.tags[i] == (key >> 32) as u32 | 1).then(|| &self.counts[i])
    }
}

/// What one grain's counters say about an event's source right now (for
/// explaining a decision: [`Takeover::explain`]).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct GrainView {
    /// The strongest unknown-account excess of the two speeds, in standard deviations.
    pub z: f32,
    /// Unknown-account attempts over the expected, at that speed.
    pub excess: f32,
    /// The larger of the fast and day unknown-account shares.
    pub unknown_share: f32,
    /// Unknown-account attempts, decayed over about a day.
    pub unknown_day: f32,
    /// Attempts, decayed over about a day.
    pub attempts_day: f32,
    /// Failures (wrong password or unknown account), decayed over about a day.
    pub failures_day: f32,
    /// Attempts in the slow baseline before the last day.
    pub baseline_attempts: f32,
}

/// Everything [`Takeover`] weighs for a success, at the moment it is asked.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Explanation {
    /// Address, /24 · /64, ASN, user agent (default when not tracked).
    pub grains: [GrainView; 4],
    /// The site's unknown-account excess (z).
    pub site_z: f32,
    /// The account's novelty for the event.
    pub novelty: Novelty,
}

/// A success waiting to be judged again.
#[derive(Clone, Copy)]
struct Pending {
    account: AccountKey,
    time_ms: i64,
    ip: std::net::IpAddr,
    keys: [u64; 4],
    novelty: Novelty,
    country: Country,
    done: bool,
}

/// The account-takeover detector; see the module documentation.
pub struct Takeover {
    cfg: TakeoverConfig,
    halves: [f32; 3],
    profiles: Profiles,
    grains: [GrainTable; 4],
    site: Decayed,
    pending: Vec<Pending>,
    next_pending: usize,
    next_review_ms: i64,
}

const GRAINS: [Grain; 4] = [Grain::Ip, Grain::Network, Grain::Asn, Grain::UserAgent];

impl Takeover {
    /// A detector per `cfg`.
    pub fn new(cfg: TakeoverConfig) -> Takeover {
        let g = || GrainTable::new(cfg.grain_slots);
        Takeover {
            cfg,
            halves: [
                cfg.fast_half_life_hours,
                cfg.day_half_life_hours,
                cfg.baseline_half_life_hours,
            ],
            profiles: Profiles::new(cfg.profile_buckets),
            grains: [g(), g(), g(), g()],
            site: Decayed::default(),
            pending: Vec::with_capacity(cfg.pending as usize),
            next_pending: 0,
            next_review_ms: i64::MIN,
        }
    }

    /// Bytes held at most.
    pub fn bound_bytes(cfg: &TakeoverConfig) -> usize {
        Profiles::bytes(cfg.profile_buckets)
            + 4 * GrainTable::bytes(cfg.grain_slots)
            + cfg.pending as usize * std::mem::size_of::<Pending>()
    }

    fn keys(ev: &LoginEvent) -> [u64; 4] {
        [
            Source::of(SourceGrouping::Ip, ev.ip, None).key(),
            Source::of(SourceGrouping::Network, ev.ip, None).key(),
            ev.asn.map_or(0, |a| Source::Asn(a).key()),
            if ev.user_agent == 0 {
                0
            } else {
                mix2(0x7561, ev.user_agent)
            },
        ]
    }

    /// Whether `ev`'s address or network looks like a combo list right now (its
    /// unknown-account excess and share at the local thresholds), before `ev`.
    pub fn source_combo_like(&self, ev: &LoginEvent) -> bool {
        let keys = Self::keys(ev);
        let prior = self.site_prior();
        let c = &self.cfg;
        self.grains[..2].iter().zip(&keys).any(|(t, &k)| {
            t.peek(k).is_some_and(|d| {
                let (z, excess, ..) = d.excess(prior, c.min_history);
                z >= c.local_z
                    && excess >= c.min_excess
                    && d.unknown_share() >= c.local_unknown_share
            })
        })
    }

    /// Whether `ev`'s address or network has tried unknown accounts lately at more
    /// than people's share (decayed count ≥ `wide_corroboration`, share ≥
    /// `wide_unknown_share`), before `ev`. A spray proxy tries harvested *and*
    /// made-up names; a carrier's CGNAT address, shared by hundreds, sees its
    /// users' mistyped e-mail addresses at about 1 %.
    pub fn source_tried_unknown(&self, ev: &LoginEvent) -> bool {
        let keys = Self::keys(ev);
        let c = &self.cfg;
        self.grains[..2].iter().zip(&keys).any(|(t, &k)| {
            t.peek(k).is_some_and(|d| {
                d.day[1] >= c.wide_corroboration && d.unknown_share() >= c.wide_unknown_share
            })
        })
    }

    /// The counters [`Takeover`] judges `ev` with, as they are now (`novelty` is
    /// the account's novelty for it, taken before it was learnt).
    pub fn explain(&self, ev: &LoginEvent, novelty: Novelty) -> Explanation {
        let prior = self.site_prior();
        let keys = Self::keys(ev);
        let mut grains = [GrainView::default(); 4];
        for (v, (t, &k)) in grains.iter_mut().zip(self.grains.iter().zip(&keys)) {
            if let Some(d) = (k != 0).then(|| t.peek(k)).flatten() {
                let (z, excess, ..) = d.excess(prior, self.cfg.min_history);
                *v = GrainView {
                    z,
                    excess,
                    unknown_share: d.unknown_share(),
                    unknown_day: d.day[1],
                    attempts_day: d.day[0],
                    failures_day: d.day[2],
                    baseline_attempts: (d.slow[0] - d.day[0]).max(0.0),
                };
            }
        }
        Explanation {
            grains,
            site_z: self.site.excess(prior, self.cfg.min_history).0,
            novelty,
        }
    }

    /// The account's novelty for `ev` (before learning it).
    pub fn novelty(&self, ev: &LoginEvent) -> Novelty {
        self.profiles.novelty(ev)
    }

    /// Count `ev`; push `LikelyCompromised` signals to `out`. `novelty` is
    /// [`Takeover::novelty`] of `ev`, computed once by the caller for successes.
    pub fn observe(&mut self, ev: &LoginEvent, novelty: Option<Novelty>, out: &mut Vec<Signal>) {
        let unknown = ev.outcome == Outcome::UnknownAccount;
        let failure = ev.outcome.is_failure();
        let keys = Self::keys(ev);
        let halves = self.halves;
        for (t, &k) in self.grains.iter_mut().zip(&keys) {
            if k != 0 {
                t.slot(k, ev.time_ms, &halves).add(unknown, failure);
            }
        }
        self.site.age(ev.time_ms, &halves);
        self.site.add(unknown, failure);
        if ev.outcome == Outcome::Success {
            let novelty = novelty.unwrap_or_else(|| self.profiles.novelty(ev));
            if self.cfg.enabled && novelty.level() >= self.cfg.min_novelty {
                let p = Pending {
                    account: ev.account,
                    time_ms: ev.time_ms,
                    ip: ev.ip,
                    keys,
                    novelty,
                    country: ev.country,
                    done: false,
                };
                let idx = if self.pending.len() < self.cfg.pending as usize {
                    self.pending.push(p);
                    self.pending.len() - 1
                } else {
                    let i = self.next_pending;
                    self.next_pending = (i + 1) % self.pending.len().max(1);
                    self.pending[i] = p;
                    i
                };
                self.judge(idx, ev.time_ms, out);
            }
            self.profiles.learn(ev);
        }
        if self.cfg.enabled && ev.time_ms >= self.next_review_ms {
            self.next_review_ms = ev.time_ms + i64::from(self.cfg.review_minutes) * 60_000;
            let horizon = ev.time_ms - i64::from(self.cfg.pending_hours) * 3_600_000;
            for i in 0..self.pending.len() {
                let p = &self.pending[i];
                if !p.done && p.time_ms >= horizon {
                    self.judge(i, ev.time_ms, out);
                }
            }
        }
    }

    fn site_prior(&self) -> f32 {
        // The site's own long-run unknown share (outside the last day).
        let a = (self.site.slow[0] - self.site.day[0]).max(0.0);
        let u = (self.site.slow[1] - self.site.day[1]).max(0.0);
        if a >= 1000.0 { u / a } else { 0.02 }
    }

    fn judge(&mut self, idx: usize, now: i64, out: &mut Vec<Signal>) {
        let prior = self.site_prior();
        let p = self.pending[idx];
        let c = &self.cfg;
        // The strongest grain, its z, and its figures.
        let mut best: Option<(Grain, f32, f32, f32, f32, f32)> = None;
        let mut need = f32::INFINITY;
        // Did the success's own address or network try unknown accounts too?
        let local_unknown = self.grains[..2]
            .iter()
            .zip(&p.keys)
            .filter_map(|(t, &k)| t.peek(k))
            // At a combo list's share, not a busy /24's occasional mistyped e-mail
            // address (at 100,000 accounts a /24 holds several households).
            .filter(|d| d.unknown_share() >= c.local_unknown_share)
            .map(|d| d.day[1])
            .fold(0.0f32, f32::max);
        // Or does its user agent show the combo list's excess too (a residential
        // proxy's fresh address has no past, but the attacker's rotated user agents
        // do)? Only at twice the wide z and three times a local grain's unknown
        // share: a popular browser the attacker spoofs is diluted by its real users
        // and must not implicate them (at 2× the share, botnet precision at 100,000
        // accounts fell from 0.95 to 0.89 on the tuning seeds).
        let ua_hot = self.grains[3].peek(p.keys[3]).is_some_and(|d| {
            let (z, excess, ..) = d.excess(prior, c.min_history);
            p.keys[3] != 0
                && z >= 2.0 * c.wide_z
                && excess >= c.min_excess
                && d.unknown_share() >= 3.0 * c.local_unknown_share
        });
        let corroborated = local_unknown >= c.wide_corroboration || ua_hot;
        for (g, (t, &k)) in GRAINS.iter().zip(self.grains.iter().zip(&p.keys)) {
            let Some(d) = (k != 0).then(|| t.peek(k)).flatten() else {
                continue;
            };
            let (z, excess, attempts, expected) = d.excess(prior, c.min_history);
            let local = matches!(g, Grain::Ip | Grain::Network);
            let (zmin, novelty_min, share_min) = if local {
                (c.local_z, c.local_novelty, c.local_unknown_share)
            } else {
                (c.wide_z, c.wide_novelty, c.wide_unknown_share)
            };
            // Without history every success is "new": only an address or network
            // that itself looks like a combo list may then speak.
            // A user agent is only reported: attackers spoof popular ones, so a
            // popular browser in a combo list would implicate its innocent users.
            // A network the account already signed in from does not speak against
            // it: the owner's own /24 (home, office, a carrier's pool) is where a
            // combo list's neighbours show up, not where the attacker comes from.
            // Nor, for an account without history, does a network: only its
            // address can then speak (a first sign-in behind a busy NAT or CGNAT
            // /24 the attack also used is not the attacker's).
            let network_ok = *g != Grain::Network || p.novelty.new_network;
            let history_ok = network_ok
                && (local
                    || (*g == Grain::Asn
                        && p.novelty.known_successes >= c.wide_history
                        && corroborated));
            if z >= zmin
                && excess >= c.min_excess
                && d.unknown_share() >= share_min
                && history_ok
                && p.novelty.level() >= novelty_min
            {
                let margin = z / zmin;
                if best.is_none_or(|b| margin > b.1 / need) {
                    best = Some((*g, z, excess, attempts, expected, d.fast[1].max(d.day[1])));
                    need = zmin;
                }
            }
        }
        // The site-wide excess is reported, not used alone: during an attack every
        // innocent new device would otherwise be flagged.
        let (site_z, ..) = self.site.excess(prior, c.min_history);
        let Some((grain, z, _excess, attempts, expected, unknown)) = best else {
            return;
        };
        self.pending[idx].done = true;
        let strength = ((z / need).log2() / 2.0).clamp(0.0, 1.0);
        let score = (0.5 + 0.25 * p.novelty.level() + 0.25 * strength).clamp(0.0, 1.0);
        let ip_failed = self.grains[0]
            .peek(p.keys[0])
            .is_some_and(|d| d.day[2] >= 1.0);
        out.push(Signal {
            detector: Detector::AccountTakeover,
            kind: SignalKind::LikelyCompromised,
            account: Some(p.account),
            score,
            evidence: Evidence {
                subject: Subject::Account(p.account),
                distinct: 0,
                attempts: attempts.round() as u32,
                failures: unknown.round() as u32,
                failure_ratio: if attempts > 0.0 {
                    unknown / attempts
                } else {
                    0.0
                },
                window_start_ms: p.time_ms,
                window_end_ms: now,
                success: Some(SuccessSeen {
                    time_ms: p.time_ms,
                    source: Source::Ip(p.ip),
                    source_failed_before: ip_failed,
                }),
                takeover: Some(TakeoverEvidence {
                    grain,
                    z,
                    unknown,
                    expected_unknown: expected,
                    site_z,
                    known_successes: p.novelty.known_successes,
                    new_device: p.novelty.new_device,
                    new_network: p.novelty.new_network,
                    new_asn: p.novelty.new_asn,
                    new_country: p.novelty.new_country,
                    country: p.country,
                }),
            },
        });
    }
}
