//! `established_address`: on an address with a past of its own (a carrier's
//! CGNAT address, an office's NAT), a success is unlike the owner for
//! [`TakeoverRule::AddressTriedOthers`] only for an account with history that
//! is new there on network, device and ASN.

use super::*;

/// The attack's minute: three days after account 7's first sign-in.
const ATTACK: i64 = 3 * 24 * 60 + 9 * 60;

/// Account 7's three sign-ins from home and six hours of people; with `past`,
/// the carrier's subscribers sign in through [`CGNAT`] two and three days
/// before the attack. On the attack's day, an hour of people, then a combo
/// list's burst; five minutes into it, a residential proxy exiting through
/// the same CGNAT address fails on three other accounts, and then `account`
/// signs in from it with user agent `ua`. The signals from that success on,
/// and the address's attempts before the last day (`slow - day`, as the
/// guard reads them) when the success came.
fn through_the_cgnat(cfg: TakeoverConfig, past: bool, account: u64, ua: u64) -> (Vec<Signal>, f32) {
    let mut out = Vec::new();
    let mut t = account_7_among_people(cfg, &mut out);
    if past {
        // The address's past: subscribers' ordinary sign-ins, mostly
        // successes on their own accounts (one forgot their password and got
        // it right the second time), on the evening of the first day and of the
        // second.
        let subscribers = [
            (10 * 60, 600_001, 3, Outcome::Success),
            (10 * 60 + 40, 600_002, 5, Outcome::WrongPassword),
            (10 * 60 + 41, 600_002, 5, Outcome::Success),
            (11 * 60 + 40, 600_003, 2, Outcome::Success),
            (24 * 60 + 10 * 60, 600_004, 6, Outcome::Success),
            (24 * 60 + 11 * 60, 600_005, 1, Outcome::Success),
            (24 * 60 + 11 * 60 + 40, 600_001, 3, Outcome::Success),
        ];
        for (m, acct, ua, outcome) in subscribers {
            t.observe(&ev(m * MIN, acct, CGNAT, 500, ua, outcome), None, &mut out);
        }
    }
    people(&mut t, ATTACK - 60, 60, &mut out);
    burst(&mut t, ATTACK, 10, 30, &mut out);
    assert!(t.in_window());
    out.clear();
    let at = (ATTACK + 5) * MIN;
    // The proxy: a combo list's real names with wrong passwords, each from
    // another of its rotated browsers (no unknown names: the address's own
    // excess stays quiet, only the rule under test can speak).
    for k in 0..3u64 {
        t.observe(
            &ev(
                at + k as i64 * 10_000,
                12_345 + k,
                CGNAT,
                500,
                41 + k,
                Outcome::WrongPassword,
            ),
            None,
            &mut out,
        );
    }
    let success = ev(at + 40_000, account, CGNAT, 500, ua, Outcome::Success);
    let ip = t.explain(&success, t.novelty(&success)).grains[0];
    t.observe(&success, None, &mut out);
    (out, ip.baseline_attempts)
}

/// A new subscriber's first sign-in on the site (no history), from the
/// carrier's address in the attack's hour, on a phone nobody at the site used
/// before (user agent 43: a browser the site's people use all day is cold,
/// `cold_client_share`, and would be spared for that during the burst).
fn first_sign_in(cfg: TakeoverConfig, past: bool) -> (Vec<Signal>, f32) {
    through_the_cgnat(cfg, past, 4_242, 43)
}

#[test]
fn on_an_address_with_a_past_only_a_history_unlike_on_every_count_is_flagged() {
    let cfg = TakeoverConfig::default();
    assert!(cfg.established_address > 0.0);
    // (a) The new subscriber: the address tried other accounts and mostly
    // failed during an attack, but it is a CGNAT address the site has known for
    // days, and an account without history is nothing to be unlike.
    let (out, past) = first_sign_in(cfg, true);
    assert!(past >= cfg.established_address, "{past}");
    assert!(out.is_empty(), "{out:?}");
    // (b) Account 7 (three sign-ins from home, ASN 300, browser 1) through the
    // same address on a new device: new network, device and ASN — the proxy
    // with account 7's password. "New" is about account 7's history, not the
    // address's, so the address's past does not hide it.
    let (out, past) = through_the_cgnat(cfg, true, 7, 42);
    assert!(past >= cfg.established_address, "{past}");
    let flagged: Vec<_> = out.iter().filter_map(|s| s.account).collect();
    assert_eq!(flagged, vec![AccountKey(7)], "{out:?}");
    let e = out[0].evidence.takeover.expect("takeover evidence");
    assert_eq!(e.rule, TakeoverRule::AddressTriedOthers, "{e:?}");
    assert_eq!(e.known_successes, 3, "{e:?}");
    assert!(e.new_device && e.new_network && e.new_asn, "{e:?}");
    assert!(e.address_failure_share >= 0.5, "{e:?}");
}

#[test]
fn without_the_guard_or_the_past_the_first_sign_in_is_flagged() {
    // The same scenario with the guard off: the first sign-in is flagged, for
    // the address's other accounts — the guard is what kept it quiet.
    let off = TakeoverConfig {
        established_address: 0.0,
        ..TakeoverConfig::default()
    };
    let (out, past) = first_sign_in(off, true);
    assert!(
        past >= TakeoverConfig::default().established_address,
        "{past}"
    );
    let flagged: Vec<_> = out.iter().filter_map(|s| s.account).collect();
    assert_eq!(flagged, vec![AccountKey(4_242)], "{out:?}");
    let e = out[0].evidence.takeover.expect("takeover evidence");
    assert_eq!(e.rule, TakeoverRule::AddressTriedOthers, "{e:?}");
    assert_eq!(e.known_successes, 0, "{e:?}");
    // With the guard on, an address without a past (a residential proxy's
    // exit, new to the site) is not excused: the same first sign-in is flagged.
    let cfg = TakeoverConfig::default();
    let (out, past) = first_sign_in(cfg, false);
    assert!(past < cfg.established_address, "{past}");
    let flagged: Vec<_> = out.iter().filter_map(|s| s.account).collect();
    assert_eq!(flagged, vec![AccountKey(4_242)], "{out:?}");
}
