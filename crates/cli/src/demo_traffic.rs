//! The demo's people and their sign-ins: a seeded population with 30 days of
//! ordinary logins, a credential-stuffing run with its ground truth, and live
//! sign-ins for after the broken rule is deployed.
//!
//! The shape is chosen so each rule meets what it would meet in production:
//! - about 30 % of people sign in only through one mobile carrier (one ASN, many
//!   addresses): an ASN-grouped rule with a bad failure ratio flags them all,
//!   which is the broken rule's mistake;
//! - everyone else is behind one of many small home ISPs (about 40 people per
//!   ASN) or, now and then, away from home: no address block or ASN of theirs
//!   looks like an attack;
//! - typos (about 12 % of logins start with one or two wrong passwords) and
//!   mistyped addresses give the normal failure rate the detectors must ignore;
//! - people sign in on their own one or two devices (browsers and phone apps);
//! - the stuffing botnet (300 addresses in 15 hosting /24s) tries a combo list
//!   for 50 minutes: mostly unknown addresses and wrong passwords, and a few dozen
//!   reused passwords that work (the accounts really taken over);
//! - at the same time a second combo list runs spread thin: 250 /24s in 30
//!   networks worldwide, about a dozen attempts per /24 (under the stuffing
//!   rule's 20 accounts per /24), browsers rotated from the people's own.
//!
//! Deterministic for a given seed and population size (times are offsets from
//! the `now` passed in).

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};

use gatehouse_domain::Timestamp;

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// The mobile carrier's ASN (documentation range, RFC 5398).
pub const CARRIER_ASN: u32 = 64_500;
/// The hosting provider the botnet rents from.
pub const HOSTING_ASN: u32 = 65_010;
/// The spread-thin botnet's networks: 30 ASNs from here.
pub const BOTNET_ASNS: u32 = 65_100;
/// User agents the people's devices (and the spread-thin botnet's spoofs) send.
const USER_AGENTS: [&str; 12] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0 Mobile Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36 Edg/124.0",
    "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "DemoShop/5.2 (iPhone; iOS 17.4)",
    "DemoShop/5.2 (Android 14)",
];
/// Days of history before the attack.
pub const HISTORY_DAYS: i64 = 30;
/// How long the stuffing run lasts. It fits in the shipped stuffing rule's
/// one-hour window with room to spare: the monitor skips events older than its
/// longest window when it reads them (history imported late is backtest
/// material), so the whole run must still be inside the window when it is fed.
pub const ATTACK: i64 = 50 * MINUTE;
/// The attack ended this long before the demo started.
pub const ATTACK_ENDED_AGO: i64 = 2 * MINUTE;
/// How many people share one home ISP's ASN, on average.
const PEOPLE_PER_ISP: usize = 40;
/// Domains of the people's addresses, by weight (reserved names, RFC 2606).
const DOMAINS: [(&str, u64); 3] = [("example.com", 5), ("example.net", 3), ("example.org", 2)];

/// SplitMix64 (the breach crate's): small, fast, and the same stream for the
/// same seed everywhere.
pub struct Rng(gatehouse_breach::synth::SplitMix64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(gatehouse_breach::synth::SplitMix64(
            seed ^ 0x6a09_e667_f3bc_c908,
        ))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }

    /// A public-looking IPv4 address: first octet 1..=223.
    fn v4(&mut self) -> u32 {
        let v = self.next_u64() as u32;
        (v % (223 << 24)) + (1 << 24)
    }
}

/// One person with an account.
pub struct Person {
    pub email: String,
    /// Signs in only through the mobile carrier.
    pub carrier: bool,
    home: Ipv4Addr,
    home_asn: u32,
    /// Indexes into [`USER_AGENTS`]: a laptop and a phone (or one device twice).
    devices: [u8; 2],
}

/// Everyone, and the networks they sign in from.
pub struct Population {
    pub people: Vec<Person>,
    /// The carrier's address pool (/16 prefixes).
    carrier_blocks: Vec<u32>,
}

/// One login attempt, as an app sends it to `POST /api/v1/events/login`.
#[derive(Clone, Debug)]
pub struct Event {
    pub time_ms: i64,
    pub account: String,
    pub ip: IpAddr,
    pub asn: u32,
    pub outcome: &'static str,
    /// Index into [`USER_AGENTS`].
    pub device: u8,
    pub country: &'static str,
}

impl Event {
    /// The event as the API and the event import take it.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "time": Timestamp::from_millis(self.time_ms).to_rfc3339(),
            "account": self.account,
            "ip": self.ip.to_string(),
            "asn": self.asn,
            "outcome": self.outcome,
            "user_agent": USER_AGENTS[usize::from(self.device) % USER_AGENTS.len()],
            "country": self.country,
        })
    }

    pub fn is_success(&self) -> bool {
        self.outcome == "success"
    }
}

/// The credential-stuffing run: its events and the accounts it really got into.
pub struct Attack {
    pub events: Vec<Event>,
    pub victims: BTreeSet<String>,
}

fn device(rng: &mut Rng) -> u8 {
    rng.below(USER_AGENTS.len() as u64) as u8
}

fn domain(rng: &mut Rng) -> &'static str {
    let total: u64 = DOMAINS.iter().map(|d| d.1).sum();
    let mut pick = rng.below(total);
    for (d, w) in DOMAINS {
        if pick < w {
            return d;
        }
        pick -= w;
    }
    DOMAINS[0].0
}

impl Population {
    /// `n` people: about 30 % on the carrier, the rest spread over small ISPs.
    pub fn generate(rng: &mut Rng, n: usize) -> Self {
        let carrier_blocks: Vec<u32> = (0..8).map(|_| rng.v4() & 0xffff_0000).collect();
        let isps = (n * 7 / 10 / PEOPLE_PER_ISP).max(1);
        let isp_blocks: Vec<u32> = (0..isps).map(|_| rng.v4() & 0xffff_0000).collect();
        let people = (0..n)
            .map(|i| {
                let isp = rng.below(isps as u64) as usize;
                Person {
                    email: format!("user{i:05}@{}", domain(rng)),
                    carrier: rng.chance(0.3),
                    home: Ipv4Addr::from(isp_blocks[isp] | (rng.next_u64() as u32 & 0xffff)),
                    home_asn: 64_600 + isp as u32,
                    devices: [device(rng), device(rng)],
                }
            })
            .collect();
        Population {
            people,
            carrier_blocks,
        }
    }

    /// Where `p` signs in from this time: the carrier for carrier people; home,
    /// or now and then (10 %) somewhere else, for the others.
    fn source(&self, rng: &mut Rng, p: &Person) -> (IpAddr, u32, &'static str) {
        if p.carrier {
            let block = self.carrier_blocks[rng.below(self.carrier_blocks.len() as u64) as usize];
            let ip = Ipv4Addr::from(block | (rng.next_u64() as u32 & 0xffff));
            (IpAddr::V4(ip), CARRIER_ASN, "NL")
        } else if rng.chance(0.1) {
            // Work, a café, a hotel (now and then abroad): one of many networks.
            let country = if rng.chance(0.2) { "PT" } else { "NL" };
            (
                IpAddr::V4(Ipv4Addr::from(rng.v4())),
                66_000 + rng.below(5000) as u32,
                country,
            )
        } else {
            (IpAddr::V4(p.home), p.home_asn, "NL")
        }
    }

    /// One sign-in by `p` that succeeds at `at_ms`, with the typos before it.
    pub fn login(&self, rng: &mut Rng, p: &Person, at_ms: i64, out: &mut Vec<Event>) {
        let (ip, asn, country) = self.source(rng, p);
        let device = p.devices[rng.below(2) as usize];
        let mut push = |time_ms, account: String, outcome| {
            out.push(Event {
                time_ms,
                account,
                ip,
                asn,
                outcome,
                device,
                country,
            })
        };
        if rng.chance(0.01) {
            // A mistyped address: an unknown account.
            let typo = format!("x{}", p.email);
            push(at_ms - 40_000, typo, "unknown_account");
        }
        let typos = if rng.chance(0.12) {
            1 + rng.below(2)
        } else {
            0
        };
        for k in (1..=typos).rev() {
            let before = k as i64 * (3_000 + rng.below(15_000) as i64);
            push(at_ms - before, p.email.clone(), "wrong_password");
        }
        push(at_ms, p.email.clone(), "success");
    }

    /// Ordinary logins from `from_ms` to `until_ms`: each person signs in 2 to 14
    /// times over the 30 days (a mean of one login every four days), sorted by time.
    pub fn history(&self, rng: &mut Rng, from_ms: i64, until_ms: i64) -> Vec<Event> {
        let span = (until_ms - from_ms).max(1) as u64;
        let mut out = Vec::with_capacity(self.people.len() * 10);
        for p in &self.people {
            for _ in 0..2 + rng.below(13) {
                let at = from_ms + rng.below(span) as i64;
                self.login(rng, p, at, &mut out);
            }
        }
        out.sort_by_key(|e| e.time_ms);
        out
    }

    /// One line of a combo list tried: 60 % addresses that do not exist here, the
    /// rest real people's addresses with a password that is not theirs.
    fn combo_try(&self, rng: &mut Rng) -> (String, &'static str) {
        if rng.chance(0.6) {
            (
                format!("{:010x}@{}", rng.next_u64() >> 24, domain(rng)),
                "unknown_account",
            )
        } else {
            let p = &self.people[rng.below(self.people.len() as u64) as usize];
            (p.email.clone(), "wrong_password")
        }
    }

    /// The stuffing run over the [`ATTACK`] starting at `start_ms`. Its successes come
    /// after the first ten minutes, when the botnet's /24s have tried enough
    /// accounts to be recognised (a success before that is caught too, but later,
    /// with others, in one larger campaign).
    pub fn stuffing(&self, rng: &mut Rng, start_ms: i64) -> Attack {
        let n = self.people.len();
        let nets: Vec<u32> = (0..15).map(|_| rng.v4() & 0xffff_ff00).collect();
        let bots: Vec<IpAddr> = (0..300)
            .map(|i| IpAddr::V4(Ipv4Addr::from(nets[i / 20] | (1 + rng.below(254) as u32))))
            .collect();
        let mut events = Vec::new();
        let attempts = (n * 3 / 2).max(3000);
        for _ in 0..attempts {
            let ip = bots[rng.below(bots.len() as u64) as usize];
            let time_ms = start_ms + rng.below(ATTACK as u64) as i64;
            let (account, outcome) = self.combo_try(rng);
            events.push(Event {
                time_ms,
                account,
                ip,
                asn: HOSTING_ASN,
                outcome,
                device: 0,
                country: "US",
            });
        }
        let wanted = (n / 700).clamp(5, 40);
        let mut victims = BTreeSet::new();
        while victims.len() < wanted {
            let p = &self.people[rng.below(n as u64) as usize];
            if !victims.insert(p.email.clone()) {
                continue;
            }
            events.push(Event {
                time_ms: start_ms + 10 * MINUTE + rng.below((ATTACK - 10 * MINUTE) as u64) as i64,
                account: p.email.clone(),
                ip: bots[rng.below(bots.len() as u64) as usize],
                asn: HOSTING_ASN,
                outcome: "success",
                device: 0,
                country: "US",
            });
        }
        events.sort_by_key(|e| e.time_ms);
        Attack { events, victims }
    }

    /// The second combo list, spread thin over the same [`ATTACK`]: 250 /24s in
    /// 30 networks in several countries, about a dozen attempts per /24 (60 %
    /// unknown addresses), browsers drawn from the people's own; a handful of
    /// reused passwords work (none of `exclude`, the other attack's victims),
    /// each from a /24 the list also ran through, on a browser the victim does
    /// not use.
    pub fn distributed(&self, rng: &mut Rng, start_ms: i64, exclude: &BTreeSet<String>) -> Attack {
        const COUNTRIES: [&str; 6] = ["US", "BR", "VN", "DE", "IN", "RU"];
        let n = self.people.len();
        let nets: Vec<(u32, u32, &'static str)> = (0..250)
            .map(|_| {
                let asn = rng.below(30) as u32;
                (
                    rng.v4() & 0xffff_ff00,
                    BOTNET_ASNS + asn,
                    COUNTRIES[asn as usize % COUNTRIES.len()],
                )
            })
            .collect();
        let mut events = Vec::new();
        let at =
            |rng: &mut Rng, from: i64| from + rng.below((start_ms + ATTACK - from) as u64) as i64;
        for &(net, asn, country) in &nets {
            for _ in 0..10 + rng.below(5) {
                let ip = IpAddr::V4(Ipv4Addr::from(net | (1 + rng.below(254) as u32)));
                let (account, outcome) = self.combo_try(rng);
                events.push(Event {
                    time_ms: at(rng, start_ms),
                    account,
                    ip,
                    asn,
                    outcome,
                    device: device(rng),
                    country,
                });
            }
        }
        // Few enough that both attacks' automatic resets stay within the
        // default hourly budget (50) at any population size.
        let wanted = (n / 2000).clamp(5, 9);
        let mut victims = BTreeSet::new();
        while victims.len() < wanted {
            let p = &self.people[rng.below(n as u64) as usize];
            if exclude.contains(&p.email) || !victims.insert(p.email.clone()) {
                continue;
            }
            let (net, asn, country) = nets[rng.below(nets.len() as u64) as usize];
            let device = loop {
                let d = device(rng);
                if !p.devices.contains(&d) {
                    break d;
                }
            };
            events.push(Event {
                time_ms: at(rng, start_ms + 10 * MINUTE),
                account: p.email.clone(),
                ip: IpAddr::V4(Ipv4Addr::from(net | (1 + rng.below(254) as u32))),
                asn,
                outcome: "success",
                device,
                country,
            });
        }
        events.sort_by_key(|e| e.time_ms);
        Attack { events, victims }
    }
}

/// The demo's timeline, from the moment it starts.
pub struct Timeline {
    pub history_from_ms: i64,
    pub attack_start_ms: i64,
    pub attack_end_ms: i64,
}

impl Timeline {
    pub fn ending_at(now_ms: i64) -> Self {
        let attack_end_ms = now_ms - ATTACK_ENDED_AGO;
        Timeline {
            history_from_ms: now_ms - HISTORY_DAYS * DAY,
            attack_start_ms: attack_end_ms - ATTACK,
            attack_end_ms,
        }
    }
}

/// Splits `events` (sorted by time) into slices that each end with a successful
/// sign-in: what the detection monitor and the campaign worker would see in one
/// pass each, had the traffic come in at its real pace (a site of this size sees
/// a sign-in every few seconds; the workers pass every second).
pub fn slices_by_sign_in(events: &[Event]) -> Vec<&[Event]> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, e) in events.iter().enumerate() {
        if e.is_success() {
            out.push(&events[start..=i]);
            start = i + 1;
        }
    }
    if start < events.len() {
        out.push(&events[start..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_people_and_attack() {
        let generate = |seed| {
            let mut rng = Rng::new(seed);
            let pop = Population::generate(&mut rng, 1000);
            let attack = pop.stuffing(&mut rng, 0);
            (
                pop.people
                    .iter()
                    .map(|p| p.email.clone())
                    .collect::<Vec<_>>(),
                attack.victims,
            )
        };
        assert_eq!(generate(7), generate(7));
        assert_ne!(generate(7).1, generate(8).1);
    }

    #[test]
    fn about_a_third_are_on_the_carrier_and_victims_scale() {
        let mut rng = Rng::new(1);
        let pop = Population::generate(&mut rng, 20_000);
        let share = pop.people.iter().filter(|p| p.carrier).count() as f64 / 20_000.0;
        assert!((0.28..0.32).contains(&share), "{share}");
        let attack = pop.stuffing(&mut rng, 0);
        assert_eq!(attack.victims.len(), 28);
        assert!(
            attack
                .events
                .windows(2)
                .all(|w| w[0].time_ms <= w[1].time_ms)
        );
    }

    #[test]
    fn each_slice_ends_with_one_sign_in() {
        let mut rng = Rng::new(3);
        let pop = Population::generate(&mut rng, 1000);
        let events = pop.history(&mut rng, 0, DAY);
        let slices = slices_by_sign_in(&events);
        assert_eq!(slices.iter().map(|s| s.len()).sum::<usize>(), events.len());
        for s in &slices {
            assert_eq!(s.iter().filter(|e| e.is_success()).count(), 1);
            assert!(s.last().is_some_and(Event::is_success));
        }
    }
}
