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
//!    own baseline: an attack in progress; and over the last 24 hours against its
//!    earlier days (`drift.rs`): an attack spread over days.
//!
//! A success is flagged ([`TakeoverRule`]) when its novelty is high enough *for*
//! the strength of the context: a suspicious address or /24 with a new device or
//! new network; a suspicious ASN with a new device *and* a new network, corroborated
//! by the address or /24 (`grain_excess`); during an attack, an address that tried
//! other people's accounts and mostly failed — more than the owner's mistyped
//! e-mail address — with a success unlike the owner (`address_tried_others`); or,
//! in an attack window, a mature account's new device, network and ASN in an
//! attacked ASN with the attacker's user agent (`attack_window`, off by default:
//! novelty alone is a carrier's people as often as a proxy). Successes are
//! kept for a few hours (a bounded ring) and judged again as evidence arrives, so a
//! proxy's success that came before its address's failures is still caught. The
//! site-level attack-in-progress windows are kept for operators
//! ([`Takeover::attack_windows`], at most [`ATTACK_WINDOWS_KEPT`]).
//!
//! A success through a user agent with a past and no combo list's excess is
//! not the attack's while the attack's own user agents show it
//! (`clients.rs`).
//!
//! Failures never teach the profile (an attacker's failures must not make its
//! network "known"); every success does, after it was judged.

use serde::{Deserialize, Serialize};

use crate::config::TakeoverConfig;
use crate::event::{
    AccountKey, Country, LoginEvent, Outcome, PasswordDigest, Source, SourceGrouping,
};
use crate::hash::mix2;
use crate::signal::{
    Corroboration, Detector, Evidence, Grain, Signal, SignalKind, Subject, SuccessSeen,
    TakeoverEvidence, TakeoverRule,
};

mod clients;
mod drift;
mod firsts;
mod grains;
mod judging;
mod profiles;
mod windows;

use clients::ClientMix;
use drift::Drift;
use firsts::Firsts;
use grains::{Decayed, GrainTable};
pub use profiles::{Novelty, Profiles};
use profiles::{tag8, ua8};

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
    /// Failures with a sprayed password, decayed over about a day.
    pub sprayed_day: f32,
}

/// Everything [`Takeover`] weighs for a success, at the moment it is asked.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Explanation {
    /// Address, /24 · /64, ASN, user agent, IPv6 /48 (default when not tracked).
    pub grains: [GrainView; 5],
    /// The site's unknown-account excess (z).
    pub site_z: f32,
    /// The account's novelty for the event.
    pub novelty: Novelty,
}

/// A site-level attack in progress, as the takeover detector saw it: opened when
/// the site's unknown-account excess over about the last hour reached
/// `TakeoverConfig::site_z`, closed when it fell below half of that (a window
/// that reopens within 30 minutes is the same attack and is extended).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AttackWindow {
    /// When it opened (event time, ms since the epoch).
    pub start_ms: i64,
    /// When it closed, or the last event seen while it is still open.
    pub end_ms: i64,
    /// Still open at the last event.
    pub open: bool,
    /// The highest site excess (z) seen in it.
    pub peak_site_z: f32,
    /// Attempts on unknown accounts while it was open.
    pub unknown: u64,
    /// Attempts while it was open.
    pub attempts: u64,
}

/// Attack windows kept (the oldest are dropped first).
pub const ATTACK_WINDOWS_KEPT: usize = 64;

/// The site's excess is also measured over ten-minute buckets.
const BUCKET_MS: i64 = 10 * 60_000;

/// The excess (z) over the running or last ten minutes an attack in progress
/// needs (besides the hour's `site_z`).
const NOW_Z: f32 = 3.0;

/// Unknown-account attempts ten minutes need before their excess counts.
const NOW_MIN_UNKNOWN: u32 = 5;

/// A reopening within this long extends the previous window.
const WINDOW_MERGE_MS: i64 = 30 * 60_000;

/// A success waiting to be judged again.
#[derive(Clone, Copy)]
struct Pending {
    account: AccountKey,
    time_ms: i64,
    ip: std::net::IpAddr,
    keys: [u64; 5],
    novelty: Novelty,
    country: Country,
    /// [`ua8`] of its user agent.
    ua: u8,
    /// Its password's key in [`Takeover::passwords`] (0: no digest sent).
    password: u64,
    /// The site was under attack (fast site excess ≥ `site_z`) when it came.
    site_hot: bool,
    /// The address slot's slow attempt count right after the success was counted
    /// (0: not tracked). A later judgement reads the address's counts only while
    /// they still cover the success: a busy shared address (a carrier's CGNAT)
    /// whose slot was taken and re-admitted since has fresh counts that would make
    /// it look like a proxy's (at 100,000 accounts, 7 innocents on one CGNAT
    /// address in one review).
    ip_slow: f32,
    /// The attack contexts seen while the success was young (within
    /// `context_minutes`): [`CTX_ASN`], [`CTX_UA_WARM`], [`CTX_UA_HOT`],
    /// [`CTX_DRIFT`], [`CTX_SITE`]; and whether its /24 · /64 and /48 were its people's:
    /// [`CTX_PEOPLES_NETWORK`], [`CTX_PEOPLES_BLOCK`]; and whether its user
    /// agent was cold in an attack shown by warm ones: [`CTX_COLD_CLIENT`]; and
    /// whether the site's first sign-ins surged: [`CTX_FIRSTS`]; whether its
    /// ASN was carrying the attack's names: [`CTX_ASN_NAMES`]. Set when it is
    /// created: whether its address had tried no name that does not exist
    /// before it, [`CTX_NO_NAMES_BEFORE`].
    /// Later judgements use these, not the contexts of the moment.
    ctx: u16,
    done: bool,
}

/// [`Pending::ctx`]: the success's ASN showed a combo list's excess.
const CTX_ASN: u16 = 1;
/// [`Pending::ctx`]: its user agent showed the excess at a local grain's share.
const CTX_UA_WARM: u16 = 2;
/// [`Pending::ctx`]: its user agent showed twice the wide excess.
const CTX_UA_HOT: u16 = 4;
/// [`Pending::ctx`]: the site's slow drift was open.
const CTX_DRIFT: u16 = 8;
/// [`Pending::ctx`]: its /24 · /64 was its people's when it came: other
/// attempts that day, mostly successes (`late_network_needs_context`).
const CTX_PEOPLES_NETWORK: u16 = 16;
/// [`Pending::ctx`]: the same for its IPv6 /48.
const CTX_PEOPLES_BLOCK: u16 = 32;
/// [`Pending::ctx`]: the site's attack window was open when it came, or opened
/// within 15 minutes after (the attack's first minutes).
const CTX_SITE: u16 = 64;
/// [`Pending::ctx`]: its user agent was cold while the site's attack showed in
/// warm ones (`cold_client_share`).
const CTX_COLD_CLIENT: u16 = 128;
/// [`Pending::ctx`]: the site's first sign-ins surged (`firsts.rs`).
const CTX_FIRSTS: u16 = 256;
/// [`Pending::ctx`]: its ASN tried a name that does not exist in about the
/// last hour (`abroad_asn_names`): the attack was passing through it.
const CTX_ASN_NAMES: u16 = 512;
/// [`Pending::ctx`]: its address had tried no name that does not exist before
/// it (`names_after_success`).
const CTX_NO_NAMES_BEFORE: u16 = 1024;
/// [`Pending::ctx`]: its ASN had none of the site's people and showed a combo
/// list's excess when it came (`peopleless_asn_share`).
const CTX_NO_PEOPLE: u16 = 2048;
/// [`Pending::ctx`]: its address's last name that does not exist came from its
/// own client, more than about an hour before it, and was not redeemed
/// (`names_long_before_first_sign_in`).
const CTX_OLD_NAMES: u16 = 4096;
/// Other attempts (decayed over about a day) a network needs for
/// [`CTX_PEOPLES_NETWORK`]: fewer say nothing about whose it is.
const PEOPLES_ATTEMPTS: f32 = 3.0;

/// The account-takeover detector; see the module documentation.
pub struct Takeover {
    cfg: TakeoverConfig,
    halves: [f32; 3],
    profiles: Profiles,
    grains: [GrainTable; 5],
    /// Failures per password digest (its `accounts` count: how many accounts a
    /// password failed on over about a day — a spray's, thousands).
    passwords: GrainTable,
    site: Decayed,
    pending: Vec<Pending>,
    next_pending: usize,
    next_review_ms: i64,
    /// Attack-in-progress windows, oldest first; the last may be open.
    windows: std::collections::VecDeque<AttackWindow>,
    /// The site's attempts and unknown-account attempts in the current ten
    /// minutes, and when they began: what is happening *now* (the hour-long fast
    /// counts stay high for hours after a burst).
    bucket: (i64, u32, u32),
    /// The unknown-account excess (z) of the last complete ten minutes.
    last_bucket_z: f32,
    /// When the window's excess is weighed next.
    next_window_check_ms: i64,
    /// The slow, day-long attack in progress (`drift.rs`).
    drift: Drift,
    /// Which user agents the site's unknown attempts come through (`clients.rs`).
    clients: ClientMix,
    /// The site's first sign-ins (`firsts.rs`).
    firsts: Firsts,
}

/// Keeps password keys apart from the grains' (they share the hash).
const PASSWORD_SEED: u64 = 0x7077_6473; // "pwds"

const GRAINS: [Grain; 5] = [
    Grain::Ip,
    Grain::Network,
    Grain::Asn,
    Grain::UserAgent,
    Grain::V6Block,
];

impl Takeover {
    /// A detector per `cfg`.
    pub fn new(cfg: TakeoverConfig) -> Takeover {
        let g = |slots| GrainTable::new(slots);
        Takeover {
            cfg,
            halves: [
                cfg.fast_half_life_hours,
                cfg.day_half_life_hours,
                cfg.baseline_half_life_hours,
            ],
            profiles: Profiles::new(cfg.profile_buckets),
            grains: [
                g(cfg.grain_slots),
                g(cfg.grain_slots),
                g(Self::asn_slots(cfg.grain_slots)),
                g(cfg.grain_slots),
                g(Self::block_slots(cfg.grain_slots)),
            ],
            passwords: g(Self::password_slots(cfg.grain_slots)),
            site: Decayed::default(),
            pending: Vec::with_capacity(cfg.pending as usize),
            next_pending: 0,
            next_review_ms: i64::MIN,
            windows: std::collections::VecDeque::with_capacity(ATTACK_WINDOWS_KEPT),
            bucket: (i64::MIN, 0, 0),
            last_bucket_z: 0.0,
            next_window_check_ms: i64::MIN,
            drift: Drift::new(),
            clients: ClientMix::default(),
            firsts: Firsts::default(),
        }
    }

    /// Slots of the ASN table: a quarter of the others (about 75,000 ASNs are
    /// routed worldwide; a site sees a few thousand of them in a day).
    fn asn_slots(grain_slots: u32) -> u32 {
        (grain_slots / 4).max(2)
    }

    /// Slots of the IPv6 /48 table: as many as the ASN table's. Only IPv6
    /// events count in it, and a /48 holds a customer's or a hosting tenant's
    /// 65,536 /64s: a site sees far fewer /48s in a day than addresses.
    fn block_slots(grain_slots: u32) -> u32 {
        Self::asn_slots(grain_slots)
    }

    /// Slots of the password table: a sixteenth of the others (8,192 by
    /// default, 208 KiB). A spray tries a handful of passwords; their slots are
    /// busy (failing on thousands of accounts) and keep their counts against the
    /// stream of a combo list's one-off passwords (see [`GrainTable`]'s
    /// admission), which need none.
    fn password_slots(grain_slots: u32) -> u32 {
        (grain_slots / 16).max(2)
    }

    /// Bytes held at most.
    pub fn bound_bytes(cfg: &TakeoverConfig) -> usize {
        Profiles::bytes(cfg.profile_buckets)
            + 3 * GrainTable::bytes(cfg.grain_slots)
            + GrainTable::bytes(Self::asn_slots(cfg.grain_slots))
            + GrainTable::bytes(Self::block_slots(cfg.grain_slots))
            + GrainTable::bytes(Self::password_slots(cfg.grain_slots))
            + cfg.pending as usize * std::mem::size_of::<Pending>()
            + ATTACK_WINDOWS_KEPT * std::mem::size_of::<AttackWindow>()
            + Drift::bytes()
    }

    fn keys(ev: &LoginEvent) -> [u64; 5] {
        [
            Source::of(SourceGrouping::Ip, ev.ip, None).key(),
            Source::of(SourceGrouping::Network, ev.ip, None).key(),
            ev.asn.map_or(0, |a| Source::Asn(a).key()),
            if ev.user_agent == 0 {
                0
            } else {
                mix2(0x7561, ev.user_agent)
            },
            match ev.ip {
                std::net::IpAddr::V4(_) => 0,
                std::net::IpAddr::V6(a) => mix2(0x3438, (u128::from(a) >> 80) as u64),
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

    /// Whether a password spray explains `ev`'s source as `grouping` groups it
    /// (its address, /24 · /64 or ASN: the stuffing detector's key) for a
    /// success with a password of its own: the source's failures over about
    /// the last day were mostly on sprayed passwords (`sprayed_share`), and
    /// `ev`'s password did not fail on other accounts. The sprayer knows the
    /// sprayed passwords only; a success with another one, from a network its
    /// proxies used, is not its. False without a password digest.
    pub fn spray_explains(&self, ev: &LoginEvent, grouping: SourceGrouping) -> bool {
        let c = &self.cfg;
        if !self.own_password(ev.password.map_or(0, Self::password_key)) {
            return false;
        }
        let keys = Self::keys(ev);
        let g = match grouping {
            SourceGrouping::Ip => 0,
            SourceGrouping::Network => 1,
            SourceGrouping::Asn if keys[2] != 0 => 2,
            SourceGrouping::Asn => 1,
        };
        self.grains[g]
            .peek(keys[g])
            .is_some_and(|d| d.sprayed(c.sprayed_share))
    }

    /// Whether the user agent of `key` is hot ([`Takeover::ua_excess_at`] at
    /// twice the wide z and three times a local grain's unknown share).
    fn ua_hot_at(&self, key: u64, prior: f32, spray_only: &dyn Fn(&Decayed) -> bool) -> bool {
        self.ua_excess_at(key, prior, spray_only, 2.0, 3.0)
    }

    /// Whether `ev` is the owner's own device at home (`novelty.device_home`)
    /// and that excuses it (`own_device_home`): the switch is on and `ev`'s user
    /// agent is not hot now ([`Takeover::ua_hot_at`]) — an attacker sending the
    /// site's most common browser string matches many people's, and that string
    /// then shows the combo list's excess.
    pub fn own_device_home(&self, ev: &LoginEvent, novelty: Novelty) -> bool {
        self.at_home(novelty) && !self.ua_hot_at(Self::keys(ev)[3], self.site_prior(), &|_| false)
    }

    /// The owner's own device at home, with `own_device_home` on: what
    /// [`Takeover::own_device_home`] and the judging of a success ask before
    /// their own check that the user agent is not hot.
    fn at_home(&self, novelty: Novelty) -> bool {
        self.cfg.own_device_home && novelty.known_successes > 0 && novelty.device_home
    }

    /// A password's key in [`Takeover::passwords`] (never 0).
    fn password_key(pw: PasswordDigest) -> u64 {
        mix2(PASSWORD_SEED, pw.0) | 1
    }

    /// Whether the guard `sprayed_share` applies to a success with the password
    /// of `key` (0: no digest sent, never): the guard is on, and the password is
    /// a person's own rather than a spray's — it failed on fewer than
    /// `success_password_accounts` accounts over about the last day (or is not
    /// tracked).
    fn own_password(&self, key: u64) -> bool {
        self.cfg.sprayed_share > 0.0
            && key != 0
            && self
                .passwords
                .peek(key)
                .is_none_or(|d| d.day[3] < self.cfg.success_password_accounts)
    }

    /// The counters [`Takeover`] judges `ev` with, as they are now (`novelty` is
    /// the account's novelty for it, taken before it was learnt).
    pub fn explain(&self, ev: &LoginEvent, novelty: Novelty) -> Explanation {
        let prior = self.site_prior();
        let keys = Self::keys(ev);
        let mut grains = [GrainView::default(); 5];
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
                    baseline_attempts: d.past_attempts(),
                    sprayed_day: d.day[4],
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

    /// `ev` is a wrong password that is the account's last good one, and
    /// `own_password_failures` is on (`novelty`: the account's history for `ev`,
    /// looked up here when `None`).
    pub fn own_password_failure(&self, ev: &LoginEvent, novelty: Option<Novelty>) -> bool {
        self.cfg.own_password_failures
            && ev.outcome == Outcome::WrongPassword
            && ev.password.is_some()
            && novelty
                .unwrap_or_else(|| self.profiles.novelty(ev))
                .own_password
    }

    /// [`Profiles::forget_password`].
    pub fn forget_password(&mut self, account: AccountKey) {
        self.profiles.forget_password(account);
    }

    /// Count `ev`; push `LikelyCompromised` signals to `out`. `novelty` is
    /// [`Takeover::novelty`] of `ev`, computed once by the caller for successes
    /// and wrong passwords with a digest (`None`: looked up here when needed).
    pub fn observe(&mut self, ev: &LoginEvent, novelty: Option<Novelty>, out: &mut Vec<Signal>) {
        let unknown = ev.outcome == Outcome::UnknownAccount;
        // The account's own password failing is the site failing, not a wrong
        // password (`own_password_failures`). At its address it is still the
        // person's own attempt on their own account: counted there as an attempt
        // that did not fail — people retry their accounts, a combo list tries each
        // credential once (not counted at all, the fourth trace's stale password
        // managers after a forced change left their addresses looking like a
        // proxy's: 7 innocents more on one held-out seed). Anywhere wider — the
        // network, the ASN, the device, the site — it is not counted: the
        // outage's retries of the evening before diluted a botnet's /24 under
        // the share its network must fail at (third trace, residential: a
        // takeover lost).
        if self.own_password_failure(ev, novelty) {
            let k = Self::keys(ev)[0];
            let (account, ua) = (tag8(ev.account), ua8(ev.user_agent));
            let halves = self.halves;
            self.grains[0].count(k, ev.time_ms, &halves, false, false, false, account, ua);
            return;
        }
        let failure = ev.outcome.is_failure();
        let keys = Self::keys(ev);
        let tag = tag8(ev.account);
        let ua_tag = ua8(ev.user_agent);
        let halves = self.halves;
        let password = ev.password.map_or(0, Self::password_key);
        // A failure's password: sprayed if it has now failed on many accounts
        // (the grains then count the failure as the spray's). Only wrong
        // passwords on accounts the site has are counted: a spray is one password
        // across real accounts, and a password typed only against names the site
        // does not have opens nothing (the non-customers of a phishing wave who
        // type the same junk into the kit, which relays it from the very address
        // that relays its victims' own passwords: fourth trace, `aitm_phish`,
        // 13 of 90 takeovers lost when they counted).
        let sprayed = failure && password != 0 && self.cfg.sprayed_share > 0.0 && {
            let t = &mut self.passwords;
            if !unknown {
                t.count(password, ev.time_ms, &halves, false, true, false, tag, 0);
            }
            t.peek(password)
                .is_some_and(|d| d.day[3] >= self.cfg.sprayed_password_accounts)
        };
        for (t, &k) in self.grains.iter_mut().zip(&keys) {
            if k != 0 {
                t.count(
                    k, ev.time_ms, &halves, unknown, failure, sprayed, tag, ua_tag,
                );
            }
        }
        self.site.age(ev.time_ms, &halves);
        self.site.add(unknown, failure, sprayed, tag, ua_tag);
        if unknown {
            self.firsts.add_unknown(ev.time_ms, self.first_halves());
        }
        if unknown && self.cfg.cold_client_share > 0.0 {
            let warm = self.ua_excess_at(keys[3], self.site_prior(), &|_| false, 1.0, 1.0);
            let half = self.cfg.fast_half_life_hours;
            self.clients.add(ev.time_ms, half, warm);
        }
        let in_window = self.in_window();
        self.drift.add(ev.time_ms, unknown, failure, in_window);
        self.track_window(ev.time_ms, unknown);
        if ev.outcome == Outcome::Success {
            let novelty = novelty.unwrap_or_else(|| self.profiles.novelty(ev));
            if novelty.known_successes == 0 {
                self.firsts.add(ev.time_ms, self.first_halves());
            }
            if self.cfg.enabled && novelty.level() >= self.cfg.min_novelty {
                let address = self.grains[0].peek(keys[0]);
                let p = Pending {
                    account: ev.account,
                    time_ms: ev.time_ms,
                    ip: ev.ip,
                    keys,
                    novelty,
                    country: ev.country,
                    ua: ua_tag,
                    password,
                    site_hot: self.in_window(),
                    ip_slow: address.map_or(0.0, |d| d.slow[0]),
                    ctx: match address {
                        Some(d) if d.day[1] >= 0.5 => {
                            if d.names_long_before(ua_tag) {
                                CTX_OLD_NAMES
                            } else {
                                0
                            }
                        }
                        _ => CTX_NO_NAMES_BEFORE,
                    },
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

    /// The site-level attack-in-progress windows seen, oldest first (at most
    /// [`ATTACK_WINDOWS_KEPT`]; the last one may still be open).
    pub fn attack_windows(&self) -> Vec<AttackWindow> {
        self.windows.iter().copied().collect()
    }

    /// The site's slow drift periods, oldest first (at most
    /// [`ATTACK_WINDOWS_KEPT`]; the last one may still be open): days whose
    /// share of attempts on unknown accounts rose well above the site's own
    /// earlier days (`drift.rs`) — an attack spread over days, which never opens
    /// an [`AttackWindow`] of the hour. `peak_site_z` is the drift's excess.
    pub fn drift_windows(&self) -> Vec<AttackWindow> {
        self.drift.windows.iter().copied().collect()
    }

    /// Whether a slow drift period is open.
    pub fn in_drift(&self) -> bool {
        self.drift.open()
    }

    /// The half-lives [`Firsts`] counts with: its own quarter of an hour and
    /// the baseline's.
    fn first_halves(&self) -> [f32; 2] {
        [firsts::FIRSTS_HALF_LIFE_HOURS, self.halves[2]]
    }

    /// Whether the site's first sign-ins surge at `now_ms`
    /// (`TakeoverConfig::first_sign_in_surge`, `firsts.rs`).
    fn first_sign_ins_surge(&self, now_ms: i64) -> bool {
        self.firsts
            .surge(now_ms, self.first_halves(), self.cfg.first_sign_in_surge)
    }

    /// Whether an attack-in-progress window is open.
    pub fn in_window(&self) -> bool {
        self.windows.back().is_some_and(|w| w.open)
    }

    /// The site's unknown-account excess over about the last hour (z).
    fn site_fast_z(&self) -> f32 {
        self.site.fast_z(self.site_own_share())
    }

    /// The site's own long-run unknown share, never below the prior.
    fn site_own_share(&self) -> f32 {
        self.site_prior()
    }

    fn site_prior(&self) -> f32 {
        // The site's own long-run unknown share (outside the last day).
        let a = self.site.past_attempts();
        let u = self.site.past_unknown();
        if a >= 1000.0 { u / a } else { 0.02 }
    }
}

#[cfg(test)]
mod tests;
