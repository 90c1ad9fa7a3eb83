//! Attack *shapes* with ground truth: one generated site (users with several days
//! of history) and one attack drawn per seed, so detection is measured on kinds of
//! attack rather than on one trace.
//!
//! Every parameter that an attacker or a site could plausibly change is drawn per
//! seed from a range (botnet size, ASN count, attempts per address, the combo
//! list's success rate 0.5–3 % and unknown-address share 30–80 %, duration, start,
//! carrier share, outage hour …), so a detector tuned on seeds 1–3 is judged on
//! other seeds with other values.
//!
//! **The site** (every shape): six days of sign-ins. Users have a home country, a
//! home network in a consumer ASN (or, for a carrier's share of 25–40 % of them,
//! only the carrier's CGNAT pool: a few hundred addresses shared by everyone on it),
//! 1–3 devices (user agents drawn from a Zipf population of 3,000, so popular ones
//! are shared by many), and a daily rate. Innocent behaviour the detectors must not
//! flag: an office behind one NAT address (50–300 users), the carrier's CGNAT,
//! travellers (a trip of 1–2 days abroad, own devices, 3 % of sessions on a hotel
//! computer), password managers with a stale password (autofill fails 1–3 times),
//! typos, mistyped e-mail addresses, new devices (0.5 % of sessions) and a
//! friend's network (1 %), and on day 5 a one-hour **outage** in which every
//! sign-in fails and users retry 2–4 times, then succeed after it.
//!
//! **The attacks** (day 4, after four days of history; low-and-slow from day 3):
//!
//! | shape | infrastructure |
//! |---|---|
//! | `quiet` | none (the outage day still happens) |
//! | `concentrated` | 200–400 addresses in 10–20 hosting /24s, 1–2 hosting ASNs, 30–90 min |
//! | `botnet` | 300–800 /24s (2–6 addresses each) in 20–60 ASNs worldwide, 25–40 min |
//! | `residential` | residential proxies: a fresh address for every 1–3 attempts, inside 5–15 consumer ASNs of the site's own country (shared with its users), 1–3 h |
//! | `low_and_slow` | 300–1,000 addresses in 10–30 ASNs, spread over 2–3 days |
//! | `spraying` | 1–3 popular passwords against 30–100 % of the accounts (+10–40 % unknown names), one try per account, 200–1,000 proxies, 1–4 h |
//!
//! The combo list's attacker rotates 3–40 user agents drawn from the same
//! population as the users' (spoofing popular browsers). An account is **taken
//! over** when the attacker got a success on it.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr};

use crate::event::{AccountKey, Country, LoginEvent, Outcome, PasswordDigest};
use crate::hash::{SplitMix64, mix2};

mod attacks;

use attacks::{spraying, stuffing};

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;
/// Days of sign-ins in every trace.
pub const DAYS: i64 = 6;
/// Start of every trace (shared with [`crate::synth::T0`]).
pub const T0: i64 = crate::synth::T0;

/// The kind of attack in a trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Shape {
    /// No attack (the outage day still happens).
    Quiet,
    /// Few hosting /24s.
    Concentrated,
    /// Hundreds of /24s in dozens of ASNs, about a dozen attempts per /24.
    Botnet,
    /// Residential proxies: thousands of addresses, 1–3 attempts each, in consumer ASNs.
    Residential,
    /// A botnet spread over days.
    LowAndSlow,
    /// Popular passwords against many accounts.
    Spraying,
}

impl Shape {
    /// Every shape.
    pub const ALL: [Shape; 6] = [
        Shape::Quiet,
        Shape::Concentrated,
        Shape::Botnet,
        Shape::Residential,
        Shape::LowAndSlow,
        Shape::Spraying,
    ];

    /// Its name in tables and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Shape::Quiet => "quiet",
            Shape::Concentrated => "concentrated",
            Shape::Botnet => "botnet",
            Shape::Residential => "residential",
            Shape::LowAndSlow => "low_and_slow",
            Shape::Spraying => "spraying",
        }
    }

    /// The shape of a name.
    pub fn parse(name: &str) -> Option<Shape> {
        Shape::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// What kind of innocent user an account is (for false positives by class).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Class {
    /// Home network, some mobile sessions.
    Ordinary,
    /// Also signs in from an office behind one NAT address.
    OfficeNat,
    /// Only on the mobile carrier's CGNAT.
    Carrier,
    /// Travels abroad during the trace.
    Traveller,
    /// A password manager with a stale password.
    PasswordManager,
}

impl Class {
    /// Every class.
    pub const ALL: [Class; 5] = [
        Class::Ordinary,
        Class::OfficeNat,
        Class::Carrier,
        Class::Traveller,
        Class::PasswordManager,
    ];

    /// Its name in tables.
    pub fn name(self) -> &'static str {
        match self {
            Class::Ordinary => "ordinary",
            Class::OfficeNat => "nat",
            Class::Carrier => "cgnat",
            Class::Traveller => "traveller",
            Class::PasswordManager => "pwmgr",
        }
    }
}

/// What really happened.
#[derive(Clone, Debug, Default)]
pub struct ShapeTruth {
    /// Accounts the attacker got a success on.
    pub taken_over: HashSet<AccountKey>,
    /// Every real account's class.
    pub class: HashMap<AccountKey, Class>,
    /// When the attack ran (`None` for `quiet`).
    pub attack: Option<(i64, i64)>,
    /// When the outage hour was.
    pub outage: (i64, i64),
    /// The drawn parameters, for the record.
    pub params: String,
    /// The attacker's successes (account, time, address), to explain each miss.
    pub attacker_successes: Vec<(AccountKey, i64, IpAddr)>,
}

/// A time-ordered trace of one shape.
#[derive(Clone, Debug)]
pub struct ShapeTrace {
    /// Events, sorted by time.
    pub events: Vec<LoginEvent>,
    /// Ground truth.
    pub truth: ShapeTruth,
}

/// A network block: an ASN, its country and a /12 of addresses.
#[derive(Clone, Copy, Debug)]
struct Net {
    asn: u32,
    country: Country,
    base: u32,
}

impl Net {
    fn addr(&self, r: &mut SplitMix64) -> IpAddr {
        let v = self.base | ((r.below(1 << 12) as u32) << 8) | (1 + r.below(254) as u32);
        IpAddr::V4(Ipv4Addr::from(v))
    }
    fn net24(&self, r: &mut SplitMix64) -> u32 {
        self.base | ((r.below(1 << 12) as u32) << 8)
    }
}

/// Zipf-weighted choice over `0..n`.
struct Zipf(Vec<f64>);

impl Zipf {
    fn new(n: usize, s: f64) -> Zipf {
        let mut acc = 0.0;
        Zipf(
            (0..n)
                .map(|i| {
                    acc += 1.0 / ((i + 1) as f64).powf(s);
                    acc
                })
                .collect(),
        )
    }
    fn pick(&self, r: &mut SplitMix64) -> usize {
        let total = *self.0.last().expect("non-empty");
        let x = (r.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * total;
        self.0.partition_point(|&c| c < x).min(self.0.len() - 1)
    }
}

fn range(r: &mut SplitMix64, lo: u64, hi: u64) -> u64 {
    lo + r.below(hi - lo + 1)
}

fn frange(r: &mut SplitMix64, lo: f64, hi: f64) -> f64 {
    lo + (r.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * (hi - lo)
}

const COUNTRIES: [&str; 16] = [
    "US", "CA", "GB", "DE", "FR", "BR", "IN", "MX", "ES", "IT", "NL", "PL", "JP", "AU", "RU", "VN",
];

fn ua(i: usize) -> u64 {
    mix2(0x0a0a, i as u64).max(1)
}

struct User {
    account: AccountKey,
    password: PasswordDigest,
    class: Class,
    country: Country,
    home: (IpAddr, u32),
    office: Option<(IpAddr, u32)>,
    devices: Vec<u64>,
    rate: f64,
    mobile: f64,
    trip: Option<(i64, i64, Net)>,
}

struct World {
    consumer: Vec<Net>,
    consumer_pick: Zipf,
    hosting: Vec<Net>,
    carrier: Vec<IpAddr>,
    carrier_asn: u32,
    main: Country,
    uas: Zipf,
    popular: Vec<PasswordDigest>,
    popular_pick: Zipf,
}

impl World {
    fn new(r: &mut SplitMix64) -> World {
        let block =
            |r: &mut SplitMix64| ((1 + r.below(222)) as u32) << 24 | (r.below(16) as u32) << 20;
        let main = Country::from_code(COUNTRIES[0]);
        // 40 consumer ASNs: the first 20 in the site's own country.
        let consumer = (0..40)
            .map(|i| Net {
                asn: 7_000 + i,
                country: if i < 20 {
                    main
                } else {
                    Country::from_code(COUNTRIES[1 + (i as usize % 15)])
                },
                base: block(r),
            })
            .collect();
        let hosting = (0..20)
            .map(|i| Net {
                asn: 16_000 + i,
                country: Country::from_code(COUNTRIES[r.below(16) as usize]),
                base: block(r),
            })
            .collect();
        let carrier_net = Net {
            asn: 21_000,
            country: main,
            base: block(r),
        };
        // A CGNAT pool: 32 /24s of 8 addresses, shared by everyone on the carrier.
        let carrier = (0..32)
            .flat_map(|_| {
                let n = carrier_net.net24(r);
                (0..8u32).map(move |h| IpAddr::V4(Ipv4Addr::from(n | (10 + h * 7))))
            })
            .collect();
        World {
            consumer,
            consumer_pick: Zipf::new(40, 0.8),
            hosting,
            carrier,
            carrier_asn: 21_000,
            main,
            uas: Zipf::new(3_000, 1.0),
            popular: (0..10).map(|k| PasswordDigest(mix2(0x0b0b, k))).collect(),
            popular_pick: Zipf::new(10, 1.0),
        }
    }

    fn home_net(&self, r: &mut SplitMix64, country: Country) -> Net {
        loop {
            let n = self.consumer[self.consumer_pick.pick(r)];
            if n.country == country || r.chance(0.05) {
                return n;
            }
        }
    }
}

/// Sizes of one shape trace.
#[derive(Clone, Copy, Debug)]
pub struct ShapeSpec {
    /// The attack.
    pub shape: Shape,
    /// RNG seed (every drawn parameter depends on it).
    pub seed: u64,
    /// Real accounts.
    pub accounts: u32,
}

struct Gen {
    r: SplitMix64,
    ev: Vec<LoginEvent>,
}

impl Gen {
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        time_ms: i64,
        account: AccountKey,
        (ip, asn): (IpAddr, u32),
        country: Country,
        user_agent: u64,
        outcome: Outcome,
        password: PasswordDigest,
    ) {
        self.ev.push(LoginEvent {
            time_ms,
            account,
            ip,
            asn: Some(asn),
            outcome,
            password: Some(password),
            user_agent,
            country,
        });
    }
    fn wrong(&mut self) -> PasswordDigest {
        PasswordDigest(self.r.next_u64())
    }
}

impl ShapeTrace {
    /// Generate the trace of `spec`.
    pub fn generate(spec: ShapeSpec) -> ShapeTrace {
        let mut r = SplitMix64(mix2(spec.seed, spec.shape as u64));
        let w = World::new(&mut r);
        let mut truth = ShapeTruth::default();
        let carrier_share = frange(&mut r, 0.25, 0.40);
        let offices: Vec<(IpAddr, u32)> = (0..range(&mut r, 1, 3))
            .map(|_| {
                let n = w.consumer[r.below(20) as usize];
                (n.addr(&mut r), n.asn)
            })
            .collect();
        let office_size = range(&mut r, 50, 300) as usize;
        let popular_share = frange(&mut r, 0.01, 0.03);
        let outage_start = T0 + 5 * DAY + range(&mut r, 8, 20) as i64 * HOUR;
        truth.outage = (outage_start, outage_start + HOUR);

        let users: Vec<User> = (0..spec.accounts)
            .map(|u| {
                let account = AccountKey(mix2(0xacc ^ spec.seed, u64::from(u)));
                let password = if r.chance(popular_share) {
                    w.popular[w.popular_pick.pick(&mut r)]
                } else {
                    PasswordDigest(mix2(0xface ^ spec.seed, u64::from(u)))
                };
                let country = if r.chance(0.85) {
                    w.main
                } else {
                    Country::from_code(COUNTRIES[1 + r.below(15) as usize])
                };
                let carrier = country == w.main && r.chance(carrier_share / 0.85);
                let net = w.home_net(&mut r, country);
                let home = if carrier {
                    (
                        w.carrier[r.below(w.carrier.len() as u64) as usize],
                        w.carrier_asn,
                    )
                } else {
                    (net.addr(&mut r), net.asn)
                };
                let office = (!carrier && (u as usize) < offices.len() * office_size)
                    .then(|| offices[u as usize % offices.len()]);
                let traveller = !carrier && office.is_none() && r.chance(0.05);
                let class = if carrier {
                    Class::Carrier
                } else if office.is_some() {
                    Class::OfficeNat
                } else if traveller {
                    Class::Traveller
                } else if r.chance(0.03) {
                    Class::PasswordManager
                } else {
                    Class::Ordinary
                };
                let trip = traveller.then(|| {
                    let start = T0 + r.below((DAYS - 2) as u64 * DAY as u64) as i64 + DAY;
                    let mut abroad = w.consumer[20 + r.below(20) as usize];
                    if abroad.country == country {
                        abroad = w.hosting[r.below(20) as usize];
                    }
                    (start, start + range(&mut r, 1, 2) as i64 * DAY, abroad)
                });
                let devices = (0..range(&mut r, 1, 3))
                    .map(|_| ua(w.uas.pick(&mut r)))
                    .collect();
                truth.class.insert(account, class);
                User {
                    account,
                    password,
                    class,
                    country,
                    home,
                    office,
                    devices,
                    rate: [0.3, 0.7, 1.0, 2.0, 3.0][r.below(5) as usize],
                    mobile: if carrier { 1.0 } else { 0.2 },
                    trip,
                }
            })
            .collect();

        let mut g = Gen {
            r: SplitMix64(mix2(spec.seed, 0x5e55)),
            ev: Vec::with_capacity(spec.accounts as usize * 8),
        };
        let mut users = users;
        for u in &mut users {
            sessions(&mut g, &w, u, truth.outage);
        }

        let attack_start = T0 + 4 * DAY + range(&mut r, 8, 20) as i64 * HOUR;
        let params = match spec.shape {
            Shape::Quiet => format!("carrier {carrier_share:.2}"),
            Shape::Spraying => spraying(&mut r, &mut g, &w, &users, attack_start, &mut truth),
            shape => stuffing(shape, &mut r, &mut g, &w, &users, attack_start, &mut truth),
        };
        truth.params = params;
        let mut events = g.ev;
        events.sort_by_key(|e| e.time_ms);
        ShapeTrace { events, truth }
    }
}

/// A user's sign-ins over the trace.
fn sessions(g: &mut Gen, w: &World, u: &mut User, outage: (i64, i64)) {
    for day in 0..DAYS {
        let n = u.rate.floor() as u64 + u64::from(g.r.chance(u.rate.fract()));
        for _ in 0..n {
            let mut t = T0
                + day * DAY
                + range(&mut g.r, 6, 23) as i64 * HOUR
                + g.r.below(HOUR as u64) as i64;
            let r = &mut g.r;
            let mut device = u.devices[r.below(u.devices.len() as u64) as usize];
            let mut country = u.country;
            let abroad = u.trip.filter(|&(s, e, _)| (s..e).contains(&t));
            let at = if let Some((_, _, net)) = abroad {
                country = net.country;
                if r.chance(0.03) {
                    device = ua(w.uas.pick(r)); // a hotel computer
                }
                (net.addr(r), net.asn)
            } else if let Some(office) = u.office.filter(|_| r.chance(0.5)) {
                office
            } else if r.chance(u.mobile) {
                (
                    w.carrier[r.below(w.carrier.len() as u64) as usize],
                    w.carrier_asn,
                )
            } else if r.chance(0.01) {
                // A friend's network.
                let net = w.home_net(r, u.country);
                (net.addr(r), net.asn)
            } else {
                u.home
            };
            if r.chance(0.005) {
                // A new phone or browser, kept from now on.
                device = ua(w.uas.pick(r));
                u.devices.push(device);
            }
            if r.chance(0.01) {
                let wrong = g.wrong();
                let typo = AccountKey(g.r.next_u64());
                g.push(t, typo, at, country, device, Outcome::UnknownAccount, wrong);
                t += 5_000;
            }
            let r = &mut g.r;
            let fails = if (outage.0..outage.1).contains(&t) {
                range(r, 2, 4)
            } else if u.class == Class::PasswordManager && r.chance(0.3) {
                range(r, 1, 3)
            } else if r.chance(0.1) {
                range(r, 1, 2)
            } else {
                0
            };
            let gives_up = u.class == Class::PasswordManager && fails > 0 && g.r.chance(0.2);
            for _ in 0..fails {
                let wrong = g.wrong();
                g.push(
                    t,
                    u.account,
                    at,
                    country,
                    device,
                    Outcome::WrongPassword,
                    wrong,
                );
                t += 3_000 + g.r.below(60_000) as i64;
            }
            if (outage.0..outage.1).contains(&t) {
                // Retry once the site is back.
                t = outage.1 + g.r.below(30 * MIN as u64) as i64;
            }
            if !gives_up {
                g.push(
                    t,
                    u.account,
                    at,
                    country,
                    device,
                    Outcome::Success,
                    u.password,
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shape_is_reproducible_and_has_its_victims() {
        for shape in Shape::ALL {
            let spec = ShapeSpec {
                shape,
                seed: 1,
                accounts: 3_000,
            };
            let a = ShapeTrace::generate(spec);
            let b = ShapeTrace::generate(spec);
            assert!(a.events == b.events, "{shape:?}");
            assert!(a.events.windows(2).all(|w| w[0].time_ms <= w[1].time_ms));
            if shape == Shape::Quiet {
                assert!(a.truth.taken_over.is_empty());
            } else {
                assert!(
                    !a.truth.taken_over.is_empty(),
                    "{shape:?} {}",
                    a.truth.params
                );
            }
        }
    }
}

/// How the detectors did on one trace.
#[derive(Clone, Debug, Default)]
pub struct Outcomes {
    /// Accounts really taken over.
    pub taken_over: usize,
    /// Accounts flagged `LikelyCompromised` by any detector.
    pub flagged: usize,
    /// Flagged and taken over.
    pub true_positives: usize,
    /// Flagged, not taken over, by innocent class.
    pub false_positives: HashMap<Class, usize>,
    /// `LikelyCompromised` signals raised (all detectors).
    pub compromised_signals: usize,
    /// Flagged accounts per detector (`Debug` name).
    pub by_detector: HashMap<String, usize>,
    /// Taken-over accounts not flagged.
    pub missed: Vec<AccountKey>,
    /// Flagged innocents.
    pub innocents: Vec<AccountKey>,
}

impl Outcomes {
    /// Every false positive.
    pub fn fp(&self) -> usize {
        self.false_positives.values().sum()
    }
    /// TP / flagged (1 when nothing was flagged).
    pub fn precision(&self) -> f64 {
        if self.flagged == 0 {
            1.0
        } else {
            self.true_positives as f64 / self.flagged as f64
        }
    }
    /// TP / taken over (1 when nothing was taken over).
    pub fn recall(&self) -> f64 {
        if self.taken_over == 0 {
            1.0
        } else {
            self.true_positives as f64 / self.taken_over as f64
        }
    }
    /// False positives among NAT, CGNAT, traveller and password-manager users.
    pub fn special_innocents(&self) -> usize {
        self.false_positives
            .iter()
            .filter(|(c, _)| **c != Class::Ordinary)
            .map(|(_, n)| n)
            .sum()
    }
}

/// Score `signals` against `truth`: a flag is any `LikelyCompromised` signal's account.
pub fn evaluate(signals: &[crate::Signal], truth: &ShapeTruth) -> Outcomes {
    let mut flagged: HashSet<AccountKey> = HashSet::new();
    let mut o = Outcomes::default();
    let mut per: HashMap<String, HashSet<AccountKey>> = HashMap::new();
    for s in signals
        .iter()
        .filter(|s| s.kind == crate::SignalKind::LikelyCompromised)
    {
        o.compromised_signals += 1;
        if let Some(a) = s.account {
            flagged.insert(a);
            per.entry(format!("{:?}", s.detector))
                .or_default()
                .insert(a);
        }
    }
    o.by_detector = per.into_iter().map(|(k, v)| (k, v.len())).collect();
    o.taken_over = truth.taken_over.len();
    o.flagged = flagged.len();
    for a in &flagged {
        if truth.taken_over.contains(a) {
            o.true_positives += 1;
        } else {
            let c = truth.class.get(a).copied().unwrap_or(Class::Ordinary);
            *o.false_positives.entry(c).or_default() += 1;
            o.innocents.push(*a);
        }
    }
    o.missed = truth
        .taken_over
        .iter()
        .filter(|a| !flagged.contains(a))
        .copied()
        .collect();
    o
}
