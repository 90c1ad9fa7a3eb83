//! `address_attempts_per_account`: people retrying their own accounts behind a
//! shared address are not a combo list trying each credential once.

use super::*;

/// A carrier's CGNAT address (100.64.3.9, ASN 500), new to the site.
const SHARED: u32 = 0x6440_0309;

/// Account 7's history and six hours of people, then a combo list's burst (the
/// attack window). Five minutes into it, with `retries`, three returners behind
/// the shared address each fail twice on their own dormant account and then get
/// it right (a marketing e-mail brought them back); without, a proxy exiting
/// there fails once each on three other accounts. Then account 4,242, with no
/// history, signs in from it. The signals from that success on.
fn behind_the_address(cfg: TakeoverConfig, retries: bool) -> Vec<Signal> {
    let mut out = Vec::new();
    let mut t = account_7_in_a_burst(cfg, &mut out);
    out.clear();
    let at = (9 * 60 + 5) * MIN;
    for (k, account) in [600_101u64, 600_102, 600_103].into_iter().enumerate() {
        let ua = 60 + k as u64;
        let when = at + k as i64 * 40_000;
        let tries: &[Outcome] = if retries {
            &[
                Outcome::WrongPassword,
                Outcome::WrongPassword,
                Outcome::Success,
            ]
        } else {
            &[Outcome::WrongPassword]
        };
        for (i, outcome) in tries.iter().enumerate() {
            let e = ev(when + i as i64 * 5_000, account, SHARED, 500, ua, *outcome);
            t.observe(&e, None, &mut out);
        }
    }
    t.observe(
        &ev(at + 3 * MIN, 4_242, SHARED, 500, 70, Outcome::Success),
        None,
        &mut out,
    );
    out
}

#[test]
fn people_retrying_their_own_accounts_do_not_make_an_address_a_combo_lists() {
    let flagged = |out: &[Signal]| out.iter().filter_map(|s| s.account).collect::<Vec<_>>();
    // Returners: 10 attempts on 4 accounts, 6 of the 9 others failed — past the
    // failure share and the accounts, but 2.5 attempts an account. Quiet.
    let out = behind_the_address(TakeoverConfig::default(), true);
    assert!(flagged(&out).is_empty(), "{out:?}");
    // The guard off: the third returner (whose address had by then tried three
    // accounts, two thirds failing) and the first sign-in are flagged by the
    // rule under test — the second trace's quiet-day innocents.
    let off = TakeoverConfig {
        address_attempts_per_account: 0.0,
        ..TakeoverConfig::default()
    };
    let out = behind_the_address(off, true);
    assert_eq!(
        flagged(&out),
        vec![AccountKey(600_103), AccountKey(4_242)],
        "{out:?}"
    );
    for s in &out {
        let e = s.evidence.takeover.expect("takeover evidence");
        assert_eq!(e.rule, TakeoverRule::AddressTriedOthers);
    }
    // A proxy: one failure on each of three accounts, then the success — about
    // one attempt an account, flagged with the guard on.
    let out = behind_the_address(TakeoverConfig::default(), false);
    assert_eq!(flagged(&out), vec![AccountKey(4_242)], "{out:?}");
    let e = out[0].evidence.takeover.expect("takeover evidence");
    assert_eq!(e.rule, TakeoverRule::AddressTriedOthers);
}

/// Account 7 (three sign-ins from home with its password, `7 ^ 0x55`) fails
/// five times from a café's address: with its own password (an outage logged as
/// wrong passwords) or with another. What the address's and its /24's counts
/// then say.
fn cafe_failures(cfg: TakeoverConfig, own: bool) -> [GrainView; 2] {
    let mut out = Vec::new();
    let mut t = with_account_7(cfg, &mut out);
    const CAFE: u32 = 0x0c00_0a01;
    for k in 0..5 {
        let mut e = ev(
            3 * 60 * MIN + k * 20_000,
            7,
            CAFE,
            400,
            9,
            Outcome::WrongPassword,
        );
        if !own {
            e.password = Some(PasswordDigest(0xbad));
        }
        t.observe(&e, None, &mut out);
    }
    let probe = ev(3 * 60 * MIN + 2 * MIN, 8, CAFE, 400, 9, Outcome::Success);
    let g = t.explain(&probe, t.novelty(&probe)).grains;
    [g[0], g[1]]
}

#[test]
fn the_accounts_own_password_failing_is_not_a_failure() {
    // Its own password: the site failing. At the address, five attempts on the
    // person's own account that did not fail; at the /24, nothing.
    let [ip, net] = cafe_failures(TakeoverConfig::default(), true);
    assert!(ip.attempts_day > 4.9 && ip.failures_day == 0.0, "{ip:?}");
    assert_eq!((net.attempts_day, net.failures_day), (0.0, 0.0), "{net:?}");
    // Another password: five failures at both.
    let [ip, net] = cafe_failures(TakeoverConfig::default(), false);
    assert!(
        ip.failures_day > 4.9 && net.failures_day > 4.9,
        "{ip:?} {net:?}"
    );
    // With the switch off the own password's failures count too.
    let off = TakeoverConfig {
        own_password_failures: false,
        ..TakeoverConfig::default()
    };
    let [ip, net] = cafe_failures(off, true);
    assert!(
        ip.failures_day > 4.9 && net.failures_day > 4.9,
        "{ip:?} {net:?}"
    );
}
