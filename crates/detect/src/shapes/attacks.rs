//! The attacks a shape trace carries: a combo list (existing accounts, some
//! with the password on the list, and unknown names) run as credential stuffing
//! at one of the shapes' spreads, or a password spray.

use super::*;

/// The combo list: targets (existing accounts, some taken over) and unknown names.
struct Combo {
    /// (account, password on the list works?)
    tries: Vec<(Option<usize>, bool)>,
    success_rate: f64,
    unknown_share: f64,
}

fn combo(r: &mut SplitMix64, users: &[User]) -> Combo {
    let victims = range(r, 30, 60) as f64;
    let success_rate = frange(r, 0.005, 0.03);
    let unknown_share = frange(r, 0.3, 0.8);
    let existing = ((victims / success_rate) as usize).min(users.len() * 9 / 10);
    let unknown = (existing as f64 * unknown_share / (1.0 - unknown_share)) as usize;
    let mut idx: Vec<usize> = (0..users.len()).collect();
    for i in 0..existing {
        let j = i + r.below((idx.len() - i) as u64) as usize;
        idx.swap(i, j);
    }
    let mut tries: Vec<(Option<usize>, bool)> = idx[..existing]
        .iter()
        .map(|&u| (Some(u), r.chance(success_rate)))
        .chain((0..unknown).map(|_| (None, false)))
        .collect();
    for i in (1..tries.len()).rev() {
        tries.swap(i, r.below(i as u64 + 1) as usize);
    }
    Combo {
        tries,
        success_rate,
        unknown_share,
    }
}

pub(super) fn stuffing(
    shape: Shape,
    r: &mut SplitMix64,
    g: &mut Gen,
    w: &World,
    users: &[User],
    start: i64,
    truth: &mut ShapeTruth,
) -> String {
    let c = combo(r, users);
    let uas: Vec<u64> = (0..range(r, 3, 40)).map(|_| ua(w.uas.pick(r))).collect();
    // Infrastructure: a list of (ip, asn, country) to draw from, or fresh proxies.
    let (duration, pool, per_ip, desc) = match shape {
        Shape::Concentrated => {
            let asns: Vec<Net> = (0..range(r, 1, 2))
                .map(|_| w.hosting[r.below(20) as usize])
                .collect();
            let nets: Vec<(u32, Net)> = (0..range(r, 10, 20))
                .map(|_| {
                    let n = asns[r.below(asns.len() as u64) as usize];
                    (n.net24(r), n)
                })
                .collect();
            let ips = range(r, 200, 400);
            let pool: Vec<(IpAddr, u32, Country)> = (0..ips)
                .map(|_| {
                    let (b, n) = nets[r.below(nets.len() as u64) as usize];
                    (
                        IpAddr::V4(Ipv4Addr::from(b | (1 + r.below(254) as u32))),
                        n.asn,
                        n.country,
                    )
                })
                .collect();
            let d = range(r, 30, 90) as i64 * MIN;
            let desc = format!("{ips} IPs, {} /24s, {} ASNs", nets.len(), asns.len());
            (d, pool, 0, desc)
        }
        Shape::Botnet | Shape::LowAndSlow => {
            let (asn_n, net_n) = if shape == Shape::Botnet {
                (range(r, 20, 60), range(r, 300, 800))
            } else {
                (range(r, 10, 30), range(r, 100, 300))
            };
            let asns: Vec<Net> = (0..asn_n)
                .map(|_| {
                    if r.chance(0.5) {
                        w.consumer[r.below(40) as usize]
                    } else {
                        w.hosting[r.below(20) as usize]
                    }
                })
                .collect();
            let mut pool = Vec::new();
            for _ in 0..net_n {
                let n = asns[r.below(asns.len() as u64) as usize];
                let b = n.net24(r);
                for _ in 0..range(r, 2, 6) {
                    pool.push((
                        IpAddr::V4(Ipv4Addr::from(b | (1 + r.below(254) as u32))),
                        n.asn,
                        n.country,
                    ));
                }
            }
            let d = if shape == Shape::Botnet {
                range(r, 25, 40) as i64 * MIN
            } else {
                range(r, 48, 72) as i64 * HOUR
            };
            let desc = format!("{} IPs, {net_n} /24s, {asn_n} ASNs", pool.len());
            (d, pool, 0, desc)
        }
        _ => {
            // Residential proxies: a fresh address every 1–3 attempts, in consumer
            // ASNs of the site's own country that its users share.
            let asn_n = range(r, 5, 15);
            let asns: Vec<Net> = (0..asn_n)
                .map(|_| w.consumer[r.below(20) as usize])
                .collect();
            let d = range(r, 60, 180) as i64 * MIN;
            (
                d,
                asns.iter()
                    .map(|n| (IpAddr::V4(n.base.into()), n.asn, n.country))
                    .collect(),
                3,
                format!("{asn_n} consumer ASNs"),
            )
        }
    };
    let start = if shape == Shape::LowAndSlow {
        start - DAY
    } else {
        start
    };
    truth.attack = Some((start, start + duration));
    let mut current = (pool[0], 0u64);
    let mut proxies = 0usize;
    for &(target, works) in &c.tries {
        let (ip, asn, country) = if per_ip > 0 {
            if current.1 == 0 {
                let (_, asn, _) = pool[r.below(pool.len() as u64) as usize];
                let net = w.consumer.iter().find(|n| n.asn == asn).expect("consumer");
                current = ((net.addr(r), asn, net.country), range(r, 1, per_ip));
                proxies += 1;
            }
            current.1 -= 1;
            current.0
        } else {
            pool[r.below(pool.len() as u64) as usize]
        };
        let t = start + r.below(duration as u64) as i64;
        let device = uas[r.below(uas.len() as u64) as usize];
        match target {
            Some(u) => {
                let u = &users[u];
                let (outcome, pw) = if works {
                    truth.taken_over.insert(u.account);
                    truth.attacker_successes.push((u.account, t, ip));
                    (Outcome::Success, u.password)
                } else {
                    (Outcome::WrongPassword, PasswordDigest(r.next_u64()))
                };
                g.push(t, u.account, (ip, asn), country, device, outcome, pw);
            }
            None => {
                let pw = PasswordDigest(r.next_u64());
                g.push(
                    t,
                    AccountKey(r.next_u64()),
                    (ip, asn),
                    country,
                    device,
                    Outcome::UnknownAccount,
                    pw,
                );
            }
        }
    }
    let proxies = if per_ip > 0 {
        format!(", {proxies} proxy IPs")
    } else {
        String::new()
    };
    format!(
        "{desc}{proxies}; {} tries, success {:.3}, unknown {:.2}, {} UAs, {} min",
        c.tries.len(),
        c.success_rate,
        c.unknown_share,
        uas.len(),
        duration / MIN
    )
}

pub(super) fn spraying(
    r: &mut SplitMix64,
    g: &mut Gen,
    w: &World,
    users: &[User],
    start: i64,
    truth: &mut ShapeTruth,
) -> String {
    let passwords = &w.popular[..range(r, 1, 3) as usize];
    let coverage = frange(r, 0.3, 1.0);
    let unknown_share = frange(r, 0.1, 0.4);
    let proxies: Vec<(IpAddr, u32, Country)> = (0..range(r, 200, 1000))
        .map(|_| {
            let n = w.consumer[r.below(40) as usize];
            (n.addr(r), n.asn, n.country)
        })
        .collect();
    let uas: Vec<u64> = (0..range(r, 3, 40)).map(|_| ua(w.uas.pick(r))).collect();
    let duration = range(r, 60, 240) as i64 * MIN;
    truth.attack = Some((start, start + duration));
    let mut tries = 0;
    for &pw in passwords {
        for u in users {
            let unknown = r.chance(unknown_share);
            if !unknown && !r.chance(coverage) {
                continue;
            }
            tries += 1;
            let (ip, asn, country) = proxies[r.below(proxies.len() as u64) as usize];
            let t = start + r.below(duration as u64) as i64;
            let device = uas[r.below(uas.len() as u64) as usize];
            if unknown {
                g.push(
                    t,
                    AccountKey(r.next_u64()),
                    (ip, asn),
                    country,
                    device,
                    Outcome::UnknownAccount,
                    pw,
                );
            } else if u.password == pw {
                truth.taken_over.insert(u.account);
                truth.attacker_successes.push((u.account, t, ip));
                g.push(
                    t,
                    u.account,
                    (ip, asn),
                    country,
                    device,
                    Outcome::Success,
                    pw,
                );
            } else {
                g.push(
                    t,
                    u.account,
                    (ip, asn),
                    country,
                    device,
                    Outcome::WrongPassword,
                    pw,
                );
            }
        }
    }
    format!(
        "{} passwords, {tries} tries, coverage {coverage:.2}, unknown {unknown_share:.2}, {} proxies, {} min",
        passwords.len(),
        proxies.len(),
        duration / MIN
    )
}
