use std::net::{IpAddr, Ipv4Addr};

use super::*;
use crate::event::PasswordDigest;

const T0: i64 = 1_800_000_000_000;
const MIN: i64 = 60_000;

fn ev(t: i64, account: u64, ip: u32, asn: u32, ua: u64, outcome: Outcome) -> LoginEvent {
    LoginEvent {
        time_ms: T0 + t,
        account: AccountKey(account),
        ip: IpAddr::V4(Ipv4Addr::from(ip)),
        asn: Some(asn),
        outcome,
        password: Some(PasswordDigest(account ^ 0x55)),
        // User agents are 64-bit hashes (`user_agent_hash`).
        user_agent: mix2(0x7e57, ua),
        country: Country::from_code("US"),
    }
}

/// Account 7's three sign-ins from home (a day apart, in minutes 0, 60 and 120
/// of the trace) under `cfg`.
fn with_account_7(cfg: TakeoverConfig, out: &mut Vec<Signal>) -> Takeover {
    let mut t = Takeover::new(cfg);
    for day in 0..3 {
        t.observe(
            &ev(day * 60 * MIN, 7, 0x0b00_0101, 300, 1, Outcome::Success),
            None,
            out,
        );
    }
    t
}

/// Account 7's three sign-ins from home, then six hours of people (to minute 540).
fn account_7_among_people(cfg: TakeoverConfig, out: &mut Vec<Signal>) -> Takeover {
    let mut t = with_account_7(cfg, out);
    people(&mut t, 3 * 60, 6 * 60, out);
    t
}

/// [`account_7_among_people`], then a combo list's burst from minute 540 (ten
/// minutes of 30 unknown accounts a minute): the site's attack window is open.
fn account_7_in_a_burst(cfg: TakeoverConfig, out: &mut Vec<Signal>) -> Takeover {
    let mut t = account_7_among_people(cfg, out);
    burst(&mut t, 9 * 60, 10, 30, out);
    assert!(t.in_window());
    t
}

/// `minutes` of ordinary traffic from `start`: 20 sign-ins a minute, each its
/// own account and home address, one in 50 a mistyped (unknown) account.
fn people(t: &mut Takeover, start: i64, minutes: i64, out: &mut Vec<Signal>) {
    for m in 0..minutes {
        for k in 0..20u64 {
            let n = ((start + m) as u64) * 20 + k;
            let outcome = if n.is_multiple_of(50) {
                Outcome::UnknownAccount
            } else {
                Outcome::Success
            };
            let e = ev(
                (start + m) * MIN + k as i64 * 2_000,
                1_000_000 + n % 5_000,
                0x0a00_0000 | (n % 5_000) as u32,
                100,
                1 + n % 7,
                outcome,
            );
            t.observe(&e, None, out);
        }
    }
}

/// A combo list's burst: `per_min` unknown accounts a minute from a botnet.
fn burst(t: &mut Takeover, start: i64, minutes: i64, per_min: i64, out: &mut Vec<Signal>) {
    burst_as(t, (start, minutes, per_min), 99, out);
}

/// [`burst`] with the user agent `ua` on every attempt.
fn burst_as(
    t: &mut Takeover,
    (start, minutes, per_min): (i64, i64, i64),
    ua: u64,
    out: &mut Vec<Signal>,
) {
    for m in 0..minutes {
        for k in 0..per_min {
            let e = ev(
                (start + m) * MIN + k * (MIN / per_min) + 500,
                9_000_000 + ((start + m) * per_min + k) as u64,
                0xc800_0000 | ((m * per_min + k) as u32 % 200),
                200,
                ua,
                Outcome::UnknownAccount,
            );
            t.observe(&e, None, out);
        }
    }
}

#[test]
fn an_attack_window_opens_on_a_burst_and_closes_after_it() {
    let mut t = Takeover::new(TakeoverConfig::default());
    let mut out = Vec::new();
    people(&mut t, 0, 6 * 60, &mut out);
    assert!(
        t.attack_windows().is_empty(),
        "ordinary traffic is no attack"
    );
    burst(&mut t, 6 * 60, 30, 30, &mut out);
    assert!(t.in_window(), "open during the burst");
    people(&mut t, 6 * 60 + 30, 3 * 60, &mut out);
    let w = t.attack_windows();
    assert_eq!(w.len(), 1, "{w:?}");
    let w = w[0];
    assert!(!w.open);
    assert!(
        (T0 + 6 * 60 * MIN..T0 + (6 * 60 + 10) * MIN).contains(&w.start_ms),
        "{w:?}"
    );
    // Closed within about twenty minutes of the burst's end, not hours later
    // when the hour-long counts have decayed.
    assert!(
        (T0 + (6 * 60 + 30) * MIN..T0 + (6 * 60 + 60) * MIN).contains(&w.end_ms),
        "{w:?}"
    );
    assert!(w.peak_site_z >= TakeoverConfig::default().site_z);
    assert!(w.unknown >= 500 && w.attempts > w.unknown, "{w:?}");
}

#[test]
fn attack_windows_are_bounded() {
    // Without the share floor: a burst every 110 minutes for five days becomes
    // the site's own long-run share, and with `site_share_ratio` only the first
    // few bursts open a window (5 of 70) — the bound is what is tested here.
    let mut t = Takeover::new(TakeoverConfig {
        site_share_ratio: 0.0,
        ..TakeoverConfig::default()
    });
    let mut out = Vec::new();
    people(&mut t, 0, 60, &mut out);
    for b in 0..(ATTACK_WINDOWS_KEPT as i64 + 6) {
        let start = 60 + b * 110;
        burst(&mut t, start, 10, 30, &mut out);
        people(&mut t, start + 10, 100, &mut out);
    }
    let w = t.attack_windows();
    assert_eq!(w.len(), ATTACK_WINDOWS_KEPT);
    assert!(w.windows(2).all(|p| p[0].end_ms < p[1].start_ms));
    // The oldest were dropped: the first kept is not the first burst.
    assert!(w[0].start_ms > T0 + (60 + 110) * MIN);
}

#[test]
fn an_address_that_tried_other_accounts_during_an_attack_flags_a_new_device() {
    let mut t = Takeover::new(TakeoverConfig::default());
    let mut out = Vec::new();
    // The victim and a typist: each signs in three times from home.
    for day in 0..3 {
        for (acct, home) in [(7u64, 0x0b00_0101u32), (8, 0x0b00_0201)] {
            t.observe(
                &ev(day * 60 * MIN, acct, home, 300, 1, Outcome::Success),
                None,
                &mut out,
            );
        }
    }
    people(&mut t, 3 * 60, 6 * 60, &mut out);
    burst(&mut t, 9 * 60, 10, 30, &mut out);
    assert!(t.in_window());
    out.clear();
    let at = (9 * 60 + 5) * MIN;
    // A proxy: a wrong password on another account, then the victim's
    // password on a new device, from a new network in a new ASN.
    proxy_fails_then_signs_in(&mut t, at, 7, &mut out);
    // The typist: a mistyped e-mail address from their new phone on a new
    // network, then their own success from it — the same browser.
    let cafe = 0xca00_0a0a;
    t.observe(
        &ev(at, 54_321, cafe, 400, 43, Outcome::UnknownAccount),
        None,
        &mut out,
    );
    t.observe(
        &ev(at + 5_000, 8, cafe, 400, 43, Outcome::Success),
        None,
        &mut out,
    );
    let flagged: Vec<_> = out.iter().filter_map(|s| s.account).collect();
    assert_eq!(flagged, vec![AccountKey(7)], "{out:?}");
    let e = out[0].evidence.takeover.expect("takeover evidence");
    assert_eq!(e.rule, TakeoverRule::AddressTriedOthers);
    assert!(e.new_device && e.new_network && e.new_asn, "{e:?}");
    assert!(e.address_accounts >= 1.5, "{e:?}");
    assert!(e.address_failure_share >= 0.4, "{e:?}");
}

/// A proxy's address (0xc900_0909, ASN 400) fails on account 12,345 at `at`
/// (user agent 41), then signs in to `account` nine seconds later (42).
fn proxy_fails_then_signs_in(t: &mut Takeover, at: i64, account: u64, out: &mut Vec<Signal>) {
    let proxy = 0xc900_0909;
    t.observe(
        &ev(at, 12_345, proxy, 400, 41, Outcome::WrongPassword),
        None,
        out,
    );
    t.observe(
        &ev(at + 9_000, account, proxy, 400, 42, Outcome::Success),
        None,
        out,
    );
}

/// Low-and-slow: no site window, no hot ASN or user agent — only the success's
/// /24, whose other addresses failed on other accounts and tried unknown names.
fn slow_case(neighbours_fail: bool) -> Vec<Signal> {
    let mut out = Vec::new();
    let mut t = account_7_among_people(TakeoverConfig::default(), &mut out);
    let at = (9 * 60 + 5) * MIN;
    if neighbours_fail {
        failing_neighbours(&mut t, at, &mut out);
    }
    assert!(!t.in_window());
    out.clear();
    // The address itself: a wrong password on another account, then the
    // victim's password on a new device, network and ASN.
    proxy_success_from(&mut t, at, ("US", 42), &mut out);
    out
}

/// Three other addresses of the proxy's /24, each trying two accounts in the
/// hour before `at` (different browsers: nothing adds up in the ASN or a user
/// agent).
fn failing_neighbours(t: &mut Takeover, at: i64, out: &mut Vec<Signal>) {
    for h in 0..3u32 {
        for (k, outcome) in [Outcome::WrongPassword, Outcome::UnknownAccount]
            .into_iter()
            .enumerate()
        {
            let when = at - (50 - 15 * i64::from(h) - 5 * k as i64) * MIN;
            let acct = 70_000 + u64::from(h) * 10 + k as u64;
            t.observe(
                &ev(
                    when,
                    acct,
                    0xc900_0900 | (20 + h),
                    400,
                    50 + u64::from(h),
                    outcome,
                ),
                None,
                out,
            );
        }
    }
}

#[test]
fn without_an_attack_window_a_slow_attack_shows_in_the_failing_neighbours() {
    let out = slow_case(true);
    let flagged: Vec<_> = out.iter().filter_map(|s| s.account).collect();
    assert_eq!(flagged, vec![AccountKey(7)], "{out:?}");
    let e = out[0].evidence.takeover.expect("takeover evidence");
    assert_eq!(e.rule, TakeoverRule::AddressTriedOthers);
    assert_eq!(e.corroboration, Corroboration::NetworkFailures, "{e:?}");
    // The same address alone, outside any attack: not enough.
    let out = slow_case(false);
    assert!(out.is_empty(), "{out:?}");
}

/// Days of ordinary traffic (two sign-ins a minute, one in 50 a mistyped
/// account, one in 25 a wrong password: people's failures are mostly their own
/// wrong passwords, which the drift's share of failures weighs), and from `slow_from` (a day number) on a combo list spread thin:
/// one unknown account every ten minutes from ever-new addresses — too little
/// for any ten minutes or hour to stand out.
fn days_with_a_slow_list(days: i64, slow_from: i64) -> Takeover {
    days_of_people(days, slow_from, None)
}

/// [`days_with_a_slow_list`], and with `pool` = (`net`, `until`, `failing`) a
/// carrier's /24 (ASN 400) whose people sign in from its addresses 100–199
/// every five minutes until minute `until` (the site's people's own network,
/// `peoples_network_share`), then from the carrier's next /24; and from minute
/// `failing`, every five minutes, one of its addresses 30–89 fails on another
/// account (two in seven on names that do not exist).
fn days_of_people(days: i64, slow_from: i64, pool: Option<(u32, i64, i64)>) -> Takeover {
    let mut t = Takeover::new(TakeoverConfig::default());
    let mut out = Vec::new();
    t.observe(
        &ev(0, 7, 0x0b00_0101, 300, 1, Outcome::Success),
        None,
        &mut out,
    );
    for m in 1..days * 24 * 60 {
        for k in 0..2u64 {
            let n = m as u64 * 2 + k;
            let outcome = if n.is_multiple_of(50) {
                Outcome::UnknownAccount
            } else if n % 25 == 1 {
                Outcome::WrongPassword
            } else {
                Outcome::Success
            };
            let e = ev(
                m * MIN + k as i64 * 20_000,
                1_000_000 + n % 5_000,
                0x0a00_0000 | (n % 5_000) as u32,
                100,
                1 + n % 7,
                outcome,
            );
            t.observe(&e, None, &mut out);
        }
        if let Some((net, until, failing)) = pool
            && m % 5 == 2
        {
            let n = (m / 5) as u32;
            let people = if m < until { net } else { net + 0x100 };
            let e = ev(
                m * MIN,
                2_000_000 + u64::from(n % 500),
                people | (100 + n % 100),
                400,
                1 + u64::from(n % 7),
                Outcome::Success,
            );
            t.observe(&e, None, &mut out);
            if m >= failing {
                let outcome = if n % 7 < 2 {
                    Outcome::UnknownAccount
                } else {
                    Outcome::WrongPassword
                };
                let e = ev(
                    m * MIN + 30_000,
                    80_000 + u64::from(n),
                    net | (30 + n % 60),
                    400,
                    50 + u64::from(n % 5),
                    outcome,
                );
                t.observe(&e, None, &mut out);
            }
        }
        if m >= slow_from * 24 * 60 && m % 10 == 0 {
            let e = ev(
                m * MIN + 45_000,
                50_000_000 + m as u64,
                0xd000_0000 | (m as u32 % 60_000),
                500 + (m as u32 % 20),
                60 + (m as u64 % 9),
                Outcome::UnknownAccount,
            );
            t.observe(&e, None, &mut out);
        }
    }
    assert!(out.is_empty(), "{out:?}");
    t
}

/// A proxy: a wrong password on another account, then the victim's (7)
/// password on a new device, network and ASN.
fn proxy_success(t: &mut Takeover, at: i64) -> Vec<Signal> {
    let mut out = Vec::new();
    proxy_success_from(t, at, ("US", 42), &mut out);
    out
}

/// [`proxy_success`] from an address in `country`, the success with user agent
/// `ua` (42: new to account 7).
fn proxy_success_from(
    t: &mut Takeover,
    at: i64,
    (country, ua): (&str, u64),
    out: &mut Vec<Signal>,
) {
    let country = Country::from_code(country);
    let proxy = 0xc900_0909;
    let e = ev(at, 12_345, proxy, 400, 41, Outcome::WrongPassword);
    t.observe(&LoginEvent { country, ..e }, None, out);
    let e = ev(at + 9_000, 7, proxy, 400, ua, Outcome::Success);
    t.observe(&LoginEvent { country, ..e }, None, out);
}

#[test]
fn a_combo_list_spread_over_days_opens_a_drift_period_that_serves_as_context() {
    let mut t = days_with_a_slow_list(4, 3);
    // Never an hour's window: the list adds 6 unknown accounts an hour to the
    // site's 2.4.
    assert!(t.attack_windows().is_empty(), "{:?}", t.attack_windows());
    assert!(t.in_drift());
    let w = t.drift_windows();
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].start_ms >= T0 + 3 * 24 * 60 * MIN, "{w:?}");
    assert!(
        w[0].peak_site_z >= TakeoverConfig::default().drift_z,
        "{w:?}"
    );
    // From a country new to the account (`drift_needs_abroad`: the drift is
    // the weakest context).
    let mut out = Vec::new();
    proxy_success_from(&mut t, 4 * 24 * 60 * MIN, ("BR", 42), &mut out);
    let flagged: Vec<_> = out.iter().filter_map(|s| s.account).collect();
    assert_eq!(flagged, vec![AccountKey(7)], "{out:?}");
    let e = out[0].evidence.takeover.expect("takeover evidence");
    assert_eq!(e.rule, TakeoverRule::AddressTriedOthers);
    assert_eq!(e.corroboration, Corroboration::SiteDrift, "{e:?}");
    assert!(e.new_country, "{e:?}");
    assert!(e.site_drifting && e.site_drift >= 1.25, "{e:?}");
    // The same days without the list: no drift, and the same address is
    // not enough.
    let mut t = days_with_a_slow_list(4, 99);
    assert!(t.drift_windows().is_empty());
    let out = proxy_success(&mut t, 4 * 24 * 60 * MIN);
    assert!(out.is_empty(), "{out:?}");
}

/// Account 7's three sign-ins from home, six hours of people, then a proxy-like
/// address in ASN 200 — a wrong password on another account, then account 7 on a
/// new device — `before` minutes before a combo list from ASN 200 begins.
fn sign_in_then_burst(before: i64, cfg: TakeoverConfig) -> Vec<Signal> {
    let mut out = Vec::new();
    let mut t = account_7_among_people(cfg, &mut out);
    let at = 9 * 60;
    let shared = 0xc800_0f0f;
    t.observe(
        &ev(at * MIN, 12_345, shared, 200, 41, Outcome::WrongPassword),
        None,
        &mut out,
    );
    t.observe(
        &ev(at * MIN + 9_000, 7, shared, 200, 42, Outcome::Success),
        None,
        &mut out,
    );
    people(&mut t, at + 1, before - 1, &mut out);
    burst(&mut t, at + before, 20, 30, &mut out);
    people(&mut t, at + before + 20, 30, &mut out);
    out
}

#[test]
fn a_sign_in_made_hours_before_an_attack_is_not_judged_by_its_context() {
    // Ten minutes before the burst: the attack's first minutes, still judged.
    let cfg = TakeoverConfig::default();
    let soon = sign_in_then_burst(10, cfg);
    assert!(
        soon.iter().any(|s| s.account == Some(AccountKey(7))),
        "{soon:?}"
    );
    // Two hours before: the ASN's later excess says nothing about that sign-in.
    let early = sign_in_then_burst(120, cfg);
    assert!(
        early.iter().all(|s| s.account != Some(AccountKey(7))),
        "{early:?}"
    );
    // Without the bound it was re-judged with the ASN's later excess.
    let unbounded = TakeoverConfig {
        context_minutes: 0,
        ..cfg
    };
    assert!(
        sign_in_then_burst(120, unbounded)
            .iter()
            .any(|s| s.account == Some(AccountKey(7)))
    );
}

/// A proxy's address (ASN 400, user agent 42) fails on three other accounts, a
/// minute apart from `from_ms` (trace time).
fn proxy_tries_others(t: &mut Takeover, from_ms: i64, proxy: u32, out: &mut Vec<Signal>) {
    for k in 0..3 {
        let e = ev(
            from_ms + k * MIN,
            20_000 + k as u64,
            proxy,
            400,
            42,
            Outcome::WrongPassword,
        );
        t.observe(&e, None, out);
    }
}

#[test]
fn a_success_judged_after_the_fact_says_so() {
    let mut out = Vec::new();
    let mut t = account_7_among_people(TakeoverConfig::default(), &mut out);
    burst(&mut t, 9 * 60, 10, 30, &mut out);
    assert!(t.in_window());
    // During the attack, a fresh address signs in to account 7 on a new device:
    // nothing else known about it yet.
    let proxy = 0xc900_0909;
    let at = (9 * 60 + 10) * MIN;
    t.observe(&ev(at, 7, proxy, 400, 42, Outcome::Success), None, &mut out);
    assert!(out.is_empty(), "{out:?}");
    // Twenty minutes later the same address fails on three other accounts.
    people(&mut t, 9 * 60 + 11, 19, &mut out);
    proxy_tries_others(&mut t, at + 20 * MIN, proxy, &mut out);
    people(&mut t, 9 * 60 + 34, 10, &mut out);
    let s = out
        .iter()
        .find(|s| s.account == Some(AccountKey(7)))
        .unwrap_or_else(|| panic!("{out:?}"));
    let e = s.evidence.takeover.expect("takeover evidence");
    assert_eq!(e.rule, TakeoverRule::AddressTriedOthers);
    assert!(e.judged_after_secs >= 20 * 60, "{e:?}");
}

#[test]
fn an_outage_on_existing_accounts_stays_silent() {
    // Every active user's sign-in fails for an hour (the server feeds an outage
    // logged as "unknown account" on existing accounts as failed attempts on
    // them); they retry and come back: no attack window, no finding.
    let mut t = Takeover::new(TakeoverConfig::default());
    let mut out = Vec::new();
    people(&mut t, 0, 9 * 60, &mut out);
    for m in 0..60i64 {
        for k in 0..20u64 {
            let n = ((9 * 60 + m) as u64) * 20 + k;
            for retry in 0..3 {
                let e = ev(
                    (9 * 60 + m) * MIN + k as i64 * 2_000 + retry * 500,
                    1_000_000 + n % 5_000,
                    0x0a00_0000 | (n % 5_000) as u32,
                    100,
                    1 + n % 7,
                    Outcome::WrongPassword,
                );
                t.observe(&e, None, &mut out);
            }
        }
    }
    people(&mut t, 10 * 60, 3 * 60, &mut out);
    assert!(t.attack_windows().is_empty(), "{:?}", t.attack_windows());
    assert!(out.is_empty(), "{out:?}");
}

/// A carrier's CGNAT address (100.64.2.7, in the carrier's ASN 500): its /24 is
/// not account 7's home /24, nor its ASN account 7's ASN 300.
const CGNAT: u32 = 0x6440_0207;

/// The evidence of the first signal.
fn first_evidence(out: &[Signal]) -> TakeoverEvidence {
    out.first()
        .and_then(|s| s.evidence.takeover)
        .unwrap_or_else(|| panic!("no takeover signal: {out:?}"))
}

#[path = "tests_v6.rs"]
mod v6;

#[path = "tests_retries.rs"]
mod retries;

#[path = "tests_spray.rs"]
mod spray;

#[path = "tests_late.rs"]
mod late;

#[path = "tests_home.rs"]
mod home;

#[path = "tests_firsts.rs"]
mod firsts;

#[path = "tests_established.rs"]
mod established;

#[path = "tests_exits.rs"]
mod exits;

#[path = "tests_trickle.rs"]
mod trickle;

#[path = "tests_carrier.rs"]
mod carrier;
