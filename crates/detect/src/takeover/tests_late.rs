//! Successes judged after the fact: a people's network and an attack that came
//! later (`late_network_needs_context`), a busy network after an attack has
//! left it (`failing_network_ends`), and the attack's first minutes (the
//! site's window kept as a context). And a busy network's or address's names
//! that do not exist, which are its people's or a proxy's, not the success's
//! (`unknown_network_fails`, `unknown_address_fails`), or a person's redeemed
//! typos (`redeemed_typos`).

use super::*;

/// The carrier's /24 (100.64.1.0/24, ASN 500).
const CARRIER: u32 = 0x6400_0100;

/// Minutes `from` to `to` of people (`people`), and one of the carrier's people
/// signing in every `every` minutes, each on their own account, from the /24's
/// addresses below `hosts`.
fn carrier_evening(
    t: &mut Takeover,
    (from, to): (i64, i64),
    every: i64,
    hosts: u32,
    out: &mut Vec<Signal>,
) {
    for m in from..to {
        people(t, m, 1, out);
        if m % every == 0 {
            let n = m / every;
            let e = ev(
                m * MIN + 2_000,
                3_000_000 + (n % 2_000) as u64,
                CARRIER | (n % i64::from(hosts)) as u32,
                500,
                1 + (n % 7) as u64,
                Outcome::Success,
            );
            t.observe(&e, None, out);
        }
    }
}

/// A proxy burst through the carrier's /24 (its addresses 100–199) for
/// `minutes` from minute `start`: `per_min` attempts a minute, each on another
/// account, half of them on names the site does not have, the rest wrong
/// passwords. With `at_77`, the person's address 77 is one of the proxy's exits
/// for four attempts (wrong passwords).
fn proxy_burst(
    t: &mut Takeover,
    start: i64,
    (minutes, per_min): (i64, i64),
    at_77: bool,
    out: &mut Vec<Signal>,
) {
    for m in start..start + minutes {
        people(t, m, 1, out);
        for k in 0..per_min {
            let n = m * per_min + k;
            let at = at_77 && k == 1 && m < start + 4;
            let host = if at { 77 } else { 100 + (n % 100) as u32 };
            let outcome = if n % 2 == 0 && !at {
                Outcome::UnknownAccount
            } else {
                Outcome::WrongPassword
            };
            let e = ev(
                m * MIN + k * (MIN / per_min) + 500,
                9_000_000 + n as u64,
                CARRIER | host,
                500,
                99,
                outcome,
            );
            t.observe(&e, None, out);
        }
    }
}

/// Account 7's three sign-ins from home, two hours of people, and the
/// carrier's evening from minute 480 to 600.
fn carrier_site(cfg: TakeoverConfig) -> (Takeover, Vec<Signal>) {
    let mut out = Vec::new();
    let mut t = with_account_7(cfg, &mut out);
    people(&mut t, 3 * 60, 5 * 60, &mut out);
    carrier_evening(&mut t, (8 * 60, 10 * 60), 5, 100, &mut out);
    (t, out)
}

/// Account 7 signs in on a new phone on the carrier (address 77 of its /24) at
/// minute `at`.
fn new_phone(t: &mut Takeover, at: i64, out: &mut Vec<Signal>) {
    t.observe(
        &ev(
            at * MIN + 30_000,
            7,
            CARRIER | 77,
            500,
            42,
            Outcome::Success,
        ),
        None,
        out,
    );
}

/// Account 7 (three sign-ins from home) gets a new phone on the carrier, from
/// the /24's address 77, at minute 600, while the carrier's people sign in
/// there; the proxies come through the /24 `burst_after` minutes later. The
/// signals on account 7.
fn phone_then_proxies(cfg: TakeoverConfig, burst_after: i64) -> Vec<Signal> {
    let (mut t, mut out) = carrier_site(cfg);
    let at = 10 * 60;
    new_phone(&mut t, at, &mut out);
    carrier_evening(&mut t, (at + 1, at + burst_after), 5, 100, &mut out);
    proxy_burst(&mut t, at + burst_after, (60, 20), false, &mut out);
    people(&mut t, at + burst_after + 60, 30, &mut out);
    out.retain(|s| s.account == Some(AccountKey(7)));
    out
}

#[test]
fn a_peoples_network_is_not_blamed_for_proxies_that_came_hours_later() {
    let cfg = TakeoverConfig::default();
    assert!(cfg.late_network_needs_context);
    // The proxies came two hours after the person's sign-in, on a /24 that was
    // its people's then: nothing.
    let out = phone_then_proxies(cfg, 120);
    assert!(out.is_empty(), "{out:?}");
    // Without the switch, the /24's later excess was blamed on the sign-in.
    let off = TakeoverConfig {
        late_network_needs_context: false,
        ..cfg
    };
    let out = phone_then_proxies(off, 120);
    let e = first_evidence(&out);
    assert_eq!(e.grain, Grain::Network, "{e:?}");
    assert!(e.judged_after_secs >= 120 * 60, "{e:?}");
}

/// The proxies come through the carrier's /24 (and the address 77) at minute
/// 600 for twenty minutes; one of the carrier's people signs in there every
/// twenty minutes for `hours` after; then account 7's new phone signs in from
/// address 77. The signals on account 7.
fn proxies_then_phone(cfg: TakeoverConfig, hours: i64) -> Vec<Signal> {
    let (mut t, mut out) = carrier_site(cfg);
    let at = 10 * 60;
    proxy_burst(&mut t, at, (20, 10), true, &mut out);
    // Not from address 77 (the person's, below).
    let after = at + 20 + hours * 60;
    carrier_evening(&mut t, (at + 20, after), 20, 77, &mut out);
    out.clear();
    new_phone(&mut t, after, &mut out);
    people(&mut t, after + 1, 20, &mut out);
    out.retain(|s| s.account == Some(AccountKey(7)));
    out
}

#[test]
fn a_busy_network_stops_failing_once_the_attack_has_left_it() {
    let cfg = TakeoverConfig::default();
    assert!(cfg.failing_network_ends);
    let kept = TakeoverConfig {
        failing_network_ends: false,
        ..cfg
    };
    // Right after the burst the /24 still fails on others, either way.
    for c in [cfg, kept] {
        assert!(!proxies_then_phone(c, 0).is_empty(), "just after the burst");
    }
    // Eight hours later its last hour is its people's successes again (a
    // few, and no name that does not exist); its day-long counts still hold the
    // burst's failures, which — with the proxy's four wrong passwords at the
    // person's address — flagged the person's new phone without the switch.
    let out = proxies_then_phone(kept, 8);
    let e = first_evidence(&out);
    assert_eq!(e.rule, TakeoverRule::AddressTriedOthers, "{e:?}");
    assert_eq!(e.corroboration, Corroboration::NetworkFailures, "{e:?}");
    let out = proxies_then_phone(cfg, 8);
    assert!(out.is_empty(), "{out:?}");
}

#[test]
fn a_success_in_an_attacks_first_minutes_keeps_its_context_when_judged_later() {
    let mut out = Vec::new();
    let mut t = account_7_among_people(TakeoverConfig::default(), &mut out);
    // A proxy signs in to account 7 on a new device seconds before a combo
    // list's burst shows: no attack window yet.
    let proxy = 0xc900_0909;
    let at = 9 * 60;
    t.observe(
        &ev(at * MIN + 5_000, 7, proxy, 400, 42, Outcome::Success),
        None,
        &mut out,
    );
    assert!(!t.in_window());
    burst(&mut t, at + 1, 10, 30, &mut out);
    assert!(t.in_window());
    people(&mut t, at + 11, 14, &mut out);
    assert!(out.is_empty(), "{out:?}");
    // Twenty-five minutes after its success the proxy's address fails on three
    // other accounts: judged then, the success is in the attack it came in.
    proxy_tries_others(&mut t, (at + 25) * MIN, proxy, &mut out);
    people(&mut t, at + 28, 10, &mut out);
    let e = out
        .iter()
        .find(|s| s.account == Some(AccountKey(7)))
        .and_then(|s| s.evidence.takeover)
        .unwrap_or_else(|| panic!("{out:?}"));
    assert_eq!(e.rule, TakeoverRule::AddressTriedOthers, "{e:?}");
    assert!(e.judged_after_secs >= 20 * 60, "{e:?}");
}

/// Account 7's new phone signs in from the carrier's /24 (address 77) at minute
/// 630, while residential proxies trickle a combo list through the /24 (one
/// attempt a minute from its addresses 100–199, half of them on names the site
/// does not have) among its people (one success a minute). The signals on
/// account 7.
///
/// With `typist`, just before the phone, a person at that address (their phone,
/// user agent 10) fails twice on their own account, tries a variant of their
/// e-mail address twice (a name the site does not have), and gets in.
fn phone_among_proxies(cfg: TakeoverConfig, typist: bool) -> Vec<Signal> {
    let (mut t, mut out) = carrier_site(cfg);
    let at = 10 * 60;
    for m in at..at + 60 {
        carrier_evening(&mut t, (m, m + 1), 1, 60, &mut out);
        proxy_burst(&mut t, m, (1, 1), false, &mut out);
        if m == at + 30 {
            if typist {
                let own = [Outcome::WrongPassword, Outcome::WrongPassword];
                let typos = [Outcome::UnknownAccount, Outcome::UnknownAccount];
                for (k, outcome) in own
                    .into_iter()
                    .chain(typos)
                    .chain([Outcome::Success])
                    .enumerate()
                {
                    let account = if outcome == Outcome::UnknownAccount {
                        600_001
                    } else {
                        500
                    };
                    let e = ev(
                        m * MIN + 1_000 + k as i64 * 4_000,
                        account,
                        CARRIER | 77,
                        500,
                        10,
                        outcome,
                    );
                    t.observe(&e, None, &mut out);
                }
            }
            new_phone(&mut t, m, &mut out);
        }
    }
    out.retain(|s| s.account == Some(AccountKey(7)));
    out
}

#[test]
fn a_busy_networks_unknown_names_corroborate_only_if_it_mostly_fails() {
    let cfg = TakeoverConfig::default();
    assert!(cfg.unknown_network_fails);
    // The /24's other attempts are half its people's successes: its names that
    // do not exist are the proxies', not the new phone's.
    let out = phone_among_proxies(cfg, false);
    assert!(out.is_empty(), "{out:?}");
    // Without the switch they corroborated the carrier's ASN, hot with the list.
    let off = TakeoverConfig {
        unknown_network_fails: false,
        ..cfg
    };
    let out = phone_among_proxies(off, false);
    let e = first_evidence(&out);
    assert_eq!(e.grain, Grain::Asn, "{e:?}");
    assert_eq!(e.corroboration, Corroboration::NetworkUnknown, "{e:?}");
}

/// A marketing e-mail's evening behind one of the carrier's CGNAT addresses
/// (its address 0): from minute 600, one of its people signs in there every
/// minute, and every minute another mistypes their address (a name the site does
/// not have, from their own phone); half an hour in, account 7's new phone signs
/// in from it. The signals on account 7.
fn phone_among_returners(cfg: TakeoverConfig) -> Vec<Signal> {
    let (mut t, mut out) = carrier_site(cfg);
    let at = 10 * 60;
    for m in at..at + 60 {
        carrier_evening(&mut t, (m, m + 1), 1, 1, &mut out);
        let typo = ev(
            m * MIN + 30_000,
            8_000_000 + m as u64,
            CARRIER,
            500,
            10 + (m % 5) as u64,
            Outcome::UnknownAccount,
        );
        t.observe(&typo, None, &mut out);
        if m == at + 30 {
            let phone = ev(m * MIN + 45_000, 7, CARRIER, 500, 42, Outcome::Success);
            t.observe(&phone, None, &mut out);
        }
    }
    out.retain(|s| s.account == Some(AccountKey(7)));
    out
}

#[test]
fn an_address_mostly_succeeding_does_not_corroborate_with_its_peoples_typos() {
    let cfg = TakeoverConfig::default();
    assert!(cfg.unknown_address_fails);
    let out = phone_among_returners(cfg);
    assert!(out.is_empty(), "{out:?}");
    let off = TakeoverConfig {
        unknown_address_fails: false,
        ..cfg
    };
    let e = first_evidence(&phone_among_returners(off));
    assert_eq!(e.grain, Grain::Asn, "{e:?}");
    assert_eq!(e.corroboration, Corroboration::AddressUnknown, "{e:?}");
}

#[test]
fn a_persons_redeemed_typos_do_not_speak_against_the_next_phone() {
    let cfg = TakeoverConfig::default();
    assert!(cfg.redeemed_typos);
    // The names that do not exist at the address were the typist's, who then
    // got into the account their wrong passwords were on.
    let out = phone_among_proxies(cfg, true);
    assert!(out.is_empty(), "{out:?}");
    // Without the switch they corroborated the carrier's ASN, hot with the list.
    let off = TakeoverConfig {
        redeemed_typos: false,
        ..cfg
    };
    let e = first_evidence(&phone_among_proxies(off, true));
    assert_eq!(e.grain, Grain::Asn, "{e:?}");
    assert_eq!(e.corroboration, Corroboration::AddressUnknown, "{e:?}");
}
