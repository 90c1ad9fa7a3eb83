//! `first_sign_in_surge`: while the site's first sign-ins surge (a single
//! sign-on outage's staff falling back to passwords), a success without history
//! is not unlike its owner by that alone; outside a surge it is, and a victim
//! with a history is judged as ever.

use super::*;

/// The attack's day (minutes): three days after the site's first people.
const ATTACK: i64 = 4 * 24 * 60;

/// An office's addresses (ASN 600) the fallback comes through.
const OFFICE: u32 = 0x0c00_0000;

/// Account 7's history and six hours of people, then, three days later, an
/// hour of people and a combo list's burst. With `fallback`, 400 accounts that
/// never signed in here do so through the office's eight addresses from half an
/// hour before the burst to ten minutes into it. Five minutes into the burst, a
/// proxy fails on another account and then `account` signs in from it: on a
/// device and a network new to the site. The accounts flagged from that
/// success on.
fn proxy_success_after(cfg: TakeoverConfig, fallback: bool, account: u64) -> Vec<AccountKey> {
    let mut out = Vec::new();
    let mut t = account_7_among_people(cfg, &mut out);
    people(&mut t, ATTACK - 60, 60, &mut out);
    if fallback {
        for i in 0..400u32 {
            let at = (ATTACK - 30) * MIN + i64::from(i) * 6_000;
            let e = ev(
                at,
                700_000 + u64::from(i),
                OFFICE | (i % 8),
                600,
                60 + u64::from(i % 3),
                Outcome::Success,
            );
            t.observe(&e, None, &mut out);
        }
    }
    burst(&mut t, ATTACK, 10, 30, &mut out);
    assert!(t.in_window());
    out.clear();
    proxy_fails_then_signs_in(&mut t, (ATTACK + 5) * MIN + 30_000, account, &mut out);
    // Its review a few minutes on.
    people(&mut t, ATTACK + 10, 10, &mut out);
    out.iter().filter_map(|s| s.account).collect()
}

#[test]
fn a_first_sign_in_is_spared_only_while_first_sign_ins_surge() {
    let cfg = TakeoverConfig::default();
    assert!(cfg.first_sign_in_surge > 0.0);
    // An account without history (4,242): flagged for its address outside a
    // surge, spared in one — the office's colleague whose neighbour at the
    // desk mistyped first looks no different.
    let new = AccountKey(4_242);
    assert_eq!(proxy_success_after(cfg, false, new.0), vec![new]);
    assert_eq!(proxy_success_after(cfg, true, new.0), vec![]);
    // The guard off: flagged during the surge too.
    let off = TakeoverConfig {
        first_sign_in_surge: 0.0,
        ..cfg
    };
    assert_eq!(proxy_success_after(off, true, new.0), vec![new]);
    // A victim with a history (account 7: three sign-ins from home) is judged
    // as ever, surge or not.
    let seven = AccountKey(7);
    assert_eq!(proxy_success_after(cfg, true, 7), vec![seven]);
    assert_eq!(proxy_success_after(cfg, false, 7), vec![seven]);
}

#[test]
fn a_surge_of_first_sign_ins_needs_more_than_the_attacks_unknown_names() {
    // The same 400 first sign-ins under a combo list ten times as busy (300
    // names that do not exist a minute): an attack's hour, not a fallback's.
    let mut out = Vec::new();
    let mut t = account_7_among_people(TakeoverConfig::default(), &mut out);
    people(&mut t, ATTACK - 60, 60, &mut out);
    for i in 0..400u32 {
        let at = (ATTACK - 30) * MIN + i64::from(i) * 6_000;
        t.observe(
            &ev(
                at,
                700_000 + u64::from(i),
                OFFICE | (i % 8),
                600,
                60,
                Outcome::Success,
            ),
            None,
            &mut out,
        );
    }
    let at = T0 + (ATTACK + 10) * MIN;
    assert!(t.first_sign_ins_surge(at), "the fallback alone");
    burst(&mut t, ATTACK, 10, 300, &mut out);
    assert!(
        !t.first_sign_ins_surge(at),
        "under 3,000 names that do not exist"
    );
}
