//! A generated login trace with ground truth, from a seed.
//!
//! [`Trace::generate`] mixes ordinary users with four kinds of traffic:
//!
//! - **Normal users**: a home address (IPv4, IPv6, or one of a few carrier-NAT
//!   addresses shared by ~50 users each), mobile logins from carrier networks,
//!   travellers logging in from random addresses, typos (one or two wrong passwords
//!   before the right one), forgetful sessions (several old passwords), mistyped
//!   e-mail addresses (unknown account), and 2 % of users on one of five popular
//!   passwords.
//! - **Credential stuffing**: a botnet of 300 addresses in 15 hosting /24s tries a
//!   combo list for an hour: mostly unknown accounts and wrong passwords, plus a few
//!   dozen reused credentials that work (the victims).
//! - **Password spraying**: 200 residential proxies try the most popular password
//!   against 5,000 accounts for two hours; the accounts that use it are the victims.
//! - **Distributed guessing**: 30 accounts each guessed by a pool of 40 addresses;
//!   20 of them are cracked after 100–200 tries (the victims).
//!
//! Attackers reuse each address for several tries, as real botnets with a limited
//! pool do; an attacker rotating to a fresh address for every single try is a
//! documented limit of the per-account signal (see the crate README).
//!
//! [`WideStream`] is the memory benchmark's stream: ordinary-looking traffic from
//! any number of distinct addresses, generated on the fly.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::event::{
    AccountKey, Country, LoginEvent, Outcome, PasswordDigest, Source, SourceGrouping,
};
use crate::hash::{SplitMix64, mix2, mix64};
use crate::signal::{Detector, Signal, SignalKind, Subject};

const HOUR: i64 = 3_600_000;

/// What actually happened in a trace.
#[derive(Clone, Debug, Default)]
pub struct Truth {
    /// Accounts the stuffing botnet got into.
    pub stuffing_victims: HashSet<AccountKey>,
    /// Accounts the sprayer got into.
    pub spray_victims: HashSet<AccountKey>,
    /// Accounts the guessers got into.
    pub guessing_victims: HashSet<AccountKey>,
    /// The sprayed password.
    pub sprayed: Option<PasswordDigest>,
    /// The accounts under distributed guessing.
    pub guessed: HashSet<AccountKey>,
    /// The stuffing botnet's addresses.
    pub botnet: HashSet<IpAddr>,
    /// Every attacking address (botnet, spray proxies, guessing pools).
    pub attackers: HashSet<IpAddr>,
}

impl Truth {
    /// Every account an attacker got into.
    pub fn compromised(&self) -> HashSet<AccountKey> {
        let mut all = self.stuffing_victims.clone();
        all.extend(&self.spray_victims);
        all.extend(&self.guessing_victims);
        all
    }
}

/// Sizes of a generated trace.
#[derive(Clone, Copy, Debug)]
pub struct TraceSpec {
    /// RNG seed.
    pub seed: u64,
    /// Ordinary users.
    pub users: u32,
    /// Length in hours.
    pub hours: u32,
    /// Include the three attacks.
    pub attacks: bool,
}

impl Default for TraceSpec {
    fn default() -> Self {
        TraceSpec {
            seed: 1,
            users: 20_000,
            hours: 6,
            attacks: true,
        }
    }
}

/// A time-ordered list of events and what happened.
#[derive(Clone, Debug)]
pub struct Trace {
    /// Events, sorted by time.
    pub events: Vec<LoginEvent>,
    /// Ground truth.
    pub truth: Truth,
}

struct User {
    account: AccountKey,
    password: PasswordDigest,
    home: IpAddr,
    asn: u32,
    traveller: bool,
}

/// Start of every trace: 2027-01-15T08:00:00Z.
pub const T0: i64 = 1_800_000_000_000;

fn popular(k: u64) -> PasswordDigest {
    PasswordDigest(mix2(0x0b0b, k))
}

fn random_v4(r: &mut SplitMix64) -> Ipv4Addr {
    // Public-looking unicast: first octet 1..=223.
    let v = r.next_u64() as u32;
    Ipv4Addr::from((v % (223 << 24)) + (1 << 24))
}

fn asn_of(ip: IpAddr) -> u32 {
    let top = match ip {
        IpAddr::V4(a) => u64::from(u32::from(a) >> 16),
        IpAddr::V6(a) => (u128::from(a) >> 80) as u64,
    };
    64_512 + (mix64(top) % 300) as u32
}

fn wrong(r: &mut SplitMix64) -> Option<PasswordDigest> {
    Some(PasswordDigest(r.next_u64()))
}

impl Trace {
    /// Generate a trace per `spec`.
    pub fn generate(spec: TraceSpec) -> Trace {
        let mut r = SplitMix64(spec.seed);
        let span = i64::from(spec.hours) * HOUR;
        let mut ev = Vec::new();
        let mut truth = Truth::default();
        let cgnat: Vec<IpAddr> = (0..(spec.users / 1000).max(1))
            .map(|_| IpAddr::V4(random_v4(&mut r)))
            .collect();
        let carriers: Vec<u32> = (0..10)
            .map(|_| u32::from(random_v4(&mut r)) & 0xffff_0000)
            .collect();
        let users: Vec<User> = (0..spec.users)
            .map(|u| {
                let password = if r.chance(0.02) {
                    popular(r.below(5))
                } else {
                    PasswordDigest(mix2(0xface, u64::from(u)))
                };
                let home = match r.below(100) {
                    0..80 => IpAddr::V4(random_v4(&mut r)),
                    80..95 => IpAddr::V6(Ipv6Addr::from(
                        (u128::from(0x2a00_u16) << 112)
                            | u128::from(r.next_u64()) << 48
                            | u128::from(r.next_u64() as u16),
                    )),
                    _ => cgnat[r.below(cgnat.len() as u64) as usize],
                };
                User {
                    account: AccountKey(mix2(0xacc, u64::from(u))),
                    password,
                    home,
                    asn: asn_of(home),
                    traveller: r.chance(0.05),
                }
            })
            .collect();

        for u in &users {
            for _ in 0..1 + r.below(4) {
                let mut t = T0 + r.below(span as u64) as i64;
                let (ip, asn) = match r.below(100) {
                    0..70 => (u.home, u.asn),
                    70..90 => {
                        let c = carriers[r.below(10) as usize] | (r.next_u64() as u32 & 0xffff);
                        (IpAddr::V4(c.into()), 64_900)
                    }
                    _ if u.traveller => {
                        let ip = IpAddr::V4(random_v4(&mut r));
                        (ip, asn_of(ip))
                    }
                    _ => (u.home, u.asn),
                };
                let mut push = |t: i64, account, outcome, password| {
                    ev.push(LoginEvent {
                        time_ms: t,
                        account,
                        ip,
                        asn: Some(asn),
                        outcome,
                        password,
                        user_agent: 0,
                        country: Country::UNKNOWN,
                    });
                };
                if r.chance(0.01) {
                    push(
                        t,
                        AccountKey(r.next_u64()),
                        Outcome::UnknownAccount,
                        wrong(&mut r),
                    );
                    t += 5_000;
                }
                let forgetful = r.chance(0.02);
                let typos = if forgetful {
                    3 + r.below(4)
                } else if r.chance(0.15) {
                    1 + r.below(2)
                } else {
                    0
                };
                for _ in 0..typos {
                    push(t, u.account, Outcome::WrongPassword, wrong(&mut r));
                    t += 3_000 + r.below(20_000) as i64;
                }
                if !forgetful || r.chance(0.5) {
                    push(t, u.account, Outcome::Success, Some(u.password));
                }
            }
        }

        if spec.attacks && spec.users >= 1000 {
            stuffing(&mut r, &users, &mut ev, &mut truth, T0 + HOUR);
            spraying(&mut r, &users, &mut ev, &mut truth, T0 + HOUR * 5 / 2);
            guessing(&mut r, &users, &mut ev, &mut truth, T0 + 4 * HOUR);
        }
        ev.sort_by_key(|e| e.time_ms);
        Trace { events: ev, truth }
    }
}

fn stuffing(
    r: &mut SplitMix64,
    users: &[User],
    ev: &mut Vec<LoginEvent>,
    truth: &mut Truth,
    start: i64,
) {
    let nets: Vec<u32> = (0..15)
        .map(|_| u32::from(random_v4(r)) & 0xffff_ff00)
        .collect();
    let bots: Vec<IpAddr> = (0..300)
        .map(|i| IpAddr::V4((nets[i / 20] | (1 + r.below(254) as u32)).into()))
        .collect();
    truth.botnet.extend(&bots);
    truth.attackers.extend(&bots);
    let at = |r: &mut SplitMix64| {
        (
            bots[r.below(300) as usize],
            start + r.below(HOUR as u64) as i64,
        )
    };
    for _ in 0..30_000 {
        let (ip, t) = at(r);
        let (account, outcome) = if r.chance(0.6) {
            (AccountKey(r.next_u64()), Outcome::UnknownAccount)
        } else {
            (
                users[r.below(users.len() as u64) as usize].account,
                Outcome::WrongPassword,
            )
        };
        ev.push(LoginEvent {
            time_ms: t,
            account,
            ip,
            asn: Some(65_010),
            outcome,
            password: wrong(r),
            user_agent: 0,
            country: Country::UNKNOWN,
        });
    }
    for _ in 0..40 {
        let u = &users[r.below(users.len() as u64) as usize];
        let (ip, t) = at(r);
        truth.stuffing_victims.insert(u.account);
        ev.push(LoginEvent {
            time_ms: t,
            account: u.account,
            ip,
            asn: Some(65_010),
            outcome: Outcome::Success,
            password: Some(u.password),
            user_agent: 0,
            country: Country::UNKNOWN,
        });
    }
}

fn spraying(
    r: &mut SplitMix64,
    users: &[User],
    ev: &mut Vec<LoginEvent>,
    truth: &mut Truth,
    start: i64,
) {
    let pw = popular(0);
    truth.sprayed = Some(pw);
    let proxies: Vec<IpAddr> = (0..200).map(|_| IpAddr::V4(random_v4(r))).collect();
    truth.attackers.extend(&proxies);
    // Distinct targets in draw order (a Vec, so the trace does not depend on
    // HashSet iteration order).
    let (mut seen, mut targets) = (HashSet::new(), Vec::new());
    while targets.len() < 5_000.min(users.len()) {
        let u = r.below(users.len() as u64) as usize;
        if seen.insert(u) {
            targets.push(u);
        }
    }
    for (i, &u) in targets.iter().enumerate() {
        let u = &users[u];
        let ip = proxies[i % proxies.len()];
        let outcome = if u.password == pw {
            truth.spray_victims.insert(u.account);
            Outcome::Success
        } else {
            Outcome::WrongPassword
        };
        ev.push(LoginEvent {
            time_ms: start + r.below(2 * HOUR as u64) as i64,
            account: u.account,
            ip,
            asn: Some(asn_of(ip)),
            outcome,
            password: Some(pw),
            user_agent: 0,
            country: Country::UNKNOWN,
        });
    }
}

fn guessing(
    r: &mut SplitMix64,
    users: &[User],
    ev: &mut Vec<LoginEvent>,
    truth: &mut Truth,
    start: i64,
) {
    for k in 0..30 {
        let u = &users[r.below(users.len() as u64) as usize];
        truth.guessed.insert(u.account);
        let pool: Vec<IpAddr> = (0..40).map(|_| IpAddr::V4(random_v4(r))).collect();
        truth.attackers.extend(&pool);
        let cracked_at = (k < 20).then(|| 100 + r.below(100) as usize);
        let mut times: Vec<i64> = (0..200)
            .map(|_| start + r.below(HOUR as u64) as i64)
            .collect();
        times.sort_unstable();
        for (i, t) in times.into_iter().enumerate() {
            let ip = pool[r.below(40) as usize];
            let ok = cracked_at == Some(i);
            ev.push(LoginEvent {
                time_ms: t,
                account: u.account,
                ip,
                asn: Some(asn_of(ip)),
                outcome: if ok {
                    Outcome::Success
                } else {
                    Outcome::WrongPassword
                },
                password: if ok { Some(u.password) } else { wrong(r) },
                user_agent: 0,
                country: Country::UNKNOWN,
            });
            if ok {
                truth.guessing_victims.insert(u.account);
                break;
            }
        }
    }
}

/// Ordinary traffic from `sources` distinct IPv4 addresses (each appearing
/// `per_source` times, spread evenly over `span_ms`), against `accounts` accounts,
/// 10 % failures, password digests on half the events. Generated on the fly so the
/// stream itself takes no memory.
#[derive(Clone, Debug)]
pub struct WideStream {
    r: SplitMix64,
    i: u64,
    n: u64,
    sources: u64,
    accounts: u64,
    span_ms: i64,
}

impl WideStream {
    /// The stream.
    pub fn new(sources: u64, per_source: u64, accounts: u64, span_ms: i64, seed: u64) -> Self {
        WideStream {
            r: SplitMix64(seed),
            i: 0,
            n: sources * per_source,
            sources,
            accounts,
            span_ms,
        }
    }

    /// Events in the stream.
    pub fn len(&self) -> u64 {
        self.n
    }

    /// True when it has no events.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }
}

impl Iterator for WideStream {
    type Item = LoginEvent;

    #[inline]
    fn next(&mut self) -> Option<LoginEvent> {
        if self.i >= self.n {
            return None;
        }
        let i = self.i;
        self.i += 1;
        // Source i mod n, scattered over the v4 space by an odd multiplier (a
        // bijection mod 2^32), so all `sources` addresses are distinct.
        let s = (i % self.sources) as u32;
        let ip = IpAddr::V4(Ipv4Addr::from(s.wrapping_mul(0x9e37_79b1) ^ 0x5bd1_e995));
        let account = AccountKey(mix64(self.r.below(self.accounts)));
        let fail = self.r.below(10) == 0;
        let password = (self.r.next_u64() & 1 == 0).then(|| {
            PasswordDigest(if fail {
                self.r.next_u64()
            } else {
                mix64(account.0)
            })
        });
        Some(LoginEvent {
            time_ms: T0 + (i as i128 * self.span_ms as i128 / self.n as i128) as i64,
            account,
            ip,
            asn: Some(asn_of(ip)),
            outcome: if fail {
                Outcome::WrongPassword
            } else {
                Outcome::Success
            },
            password,
            user_agent: 0,
            country: Country::UNKNOWN,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_trace_and_time_ordered() {
        let spec = TraceSpec {
            users: 2_000,
            ..TraceSpec::default()
        };
        let a = Trace::generate(spec);
        let b = Trace::generate(spec);
        assert!(a.events == b.events, "same seed, different events");
        assert!(a.events.windows(2).all(|w| w[0].time_ms <= w[1].time_ms));
        assert!(!a.truth.stuffing_victims.is_empty());
        // 20 cracked; two picks of the same account among 2,000 users can merge.
        assert!((15..=20).contains(&a.truth.guessing_victims.len()));
    }

    #[test]
    fn wide_stream_has_the_distinct_sources_it_claims() {
        let s = WideStream::new(50_000, 2, 1_000, HOUR, 3);
        assert_eq!(s.len(), 100_000);
        let ips: HashSet<IpAddr> = s.map(|e| e.ip).collect();
        assert_eq!(ips.len(), 50_000);
    }
}

/// Precision and recall of one detector's `LikelyCompromised` signals on a trace.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Quality {
    /// The detector.
    pub detector: Detector,
    /// Distinct accounts it flagged that an attacker (any attack) really got into.
    pub true_positives: usize,
    /// Distinct accounts it flagged that no attacker got into.
    pub false_positives: usize,
    /// Accounts its own attack got into that it did not flag.
    pub missed: usize,
    /// Attack signals, and how many named a real attacker (a network holding an
    /// attacking address — the botnet's, or a spray proxy's, which is stuffing too —,
    /// the sprayed password, a guessed account).
    pub attacks: (usize, usize),
    /// Of the true positives, those another attack got into.
    pub cross: usize,
}

impl Quality {
    /// TP / (TP + FP); 1 when nothing was flagged.
    pub fn precision(&self) -> f64 {
        let n = self.true_positives + self.false_positives;
        if n == 0 {
            1.0
        } else {
            self.true_positives as f64 / n as f64
        }
    }

    /// TP of its own attack / its own victims.
    pub fn recall(&self) -> f64 {
        let n = self.own_found() + self.missed;
        if n == 0 {
            1.0
        } else {
            self.own_found() as f64 / n as f64
        }
    }

    /// True positives from the detector's own attack.
    pub fn own_found(&self) -> usize {
        self.true_positives.saturating_sub(self.cross)
    }
}

/// Score each detector's signals against `truth`. A flag counts as a true positive
/// if any attack got into the account (a detector catching another attack's victim
/// is right); recall is over the detector's own attack's victims.
pub fn quality(signals: &[Signal], truth: &Truth) -> [Quality; 3] {
    let all = truth.compromised();
    let attacker_nets: HashSet<Source> = truth
        .attackers
        .iter()
        .map(|&ip| Source::of(SourceGrouping::Network, ip, None))
        .collect();
    let one = |d: Detector, own: &HashSet<AccountKey>| {
        let flagged: HashSet<AccountKey> = signals
            .iter()
            .filter(|s| s.detector == d && s.kind == SignalKind::LikelyCompromised)
            .filter_map(|s| s.account)
            .collect();
        let tp = flagged.iter().filter(|a| all.contains(a)).count();
        let own_tp = flagged.iter().filter(|a| own.contains(a)).count();
        let attacks: Vec<&Signal> = signals
            .iter()
            .filter(|s| s.detector == d && s.kind == SignalKind::Attack)
            .collect();
        let real = attacks
            .iter()
            .filter(|s| match s.evidence.subject {
                Subject::Source(src) => {
                    attacker_nets.contains(&src) || matches!(src, Source::Asn(65_010))
                }
                Subject::Password(p) => Some(p) == truth.sprayed,
                Subject::Account(a) => truth.guessed.contains(&a),
            })
            .count();
        Quality {
            detector: d,
            true_positives: tp,
            false_positives: flagged.len() - tp,
            missed: own.len() - own_tp,
            attacks: (attacks.len(), real),
            cross: tp - own_tp,
        }
    };
    [
        one(Detector::CredentialStuffing, &truth.stuffing_victims),
        one(Detector::PasswordSpraying, &truth.spray_victims),
        one(Detector::DistributedGuessing, &truth.guessing_victims),
    ]
}
