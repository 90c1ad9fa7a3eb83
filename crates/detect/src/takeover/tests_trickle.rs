//! A list trickling through for days, no window open: an account's first
//! sign-in through a provider that carries none of the site's people
//! (`peopleless_asn_share`), and from an address whose own client tried a
//! name that does not exist hours before (`names_long_before_first_sign_in`).

use super::*;

/// The minute after four ordinary days of the site's people (ASN 100).
const AT: i64 = 4 * 24 * 60;

/// An account with no sign-in on record.
const NEWCOMER: u64 = 4_444_444;

/// Four ordinary days, then over the last 20 hours a list trickling through
/// ASN `asn`: every 20 minutes a name that does not exist or a wrong password,
/// each from an address and a /24 of its own, rotating user agents. Then
/// `account` signs in there from a fresh address with user agent 42. The
/// signals on `account`.
fn through(cfg: TakeoverConfig, asn: u32, account: u64) -> Vec<Signal> {
    let mut t = days_with_a_slow_list(4, 99);
    t.cfg = cfg;
    let mut out = Vec::new();
    for k in 0..60i64 {
        let outcome = if k % 2 == 0 {
            Outcome::UnknownAccount
        } else {
            Outcome::WrongPassword
        };
        let e = ev(
            (AT - (60 - k) * 20) * MIN,
            60_000_000 + k as u64,
            0xd100_0001 | (k as u32) << 8,
            asn,
            60 + k as u64 % 5,
            outcome,
        );
        t.observe(&e, None, &mut out);
    }
    out.clear();
    let e = ev(AT * MIN, account, 0xd1ff_0001, asn, 42, Outcome::Success);
    t.observe(&e, None, &mut out);
    out.retain(|s| s.account == Some(AccountKey(account)));
    out
}

#[test]
fn a_provider_without_the_sites_people_speaks_for_a_first_sign_in() {
    let cfg = TakeoverConfig::default();
    assert!(cfg.peopleless_asn_share > 0.0);
    // A hosting ASN (700) the site never saw: its excess is the list's alone.
    let e = first_evidence(&through(cfg, 700, NEWCOMER));
    assert_eq!(e.rule, TakeoverRule::GrainExcess, "{e:?}");
    assert_eq!(e.grain, Grain::Asn, "{e:?}");
    assert_eq!(e.corroboration, Corroboration::NoPeople, "{e:?}");
    assert_eq!(e.known_successes, 0, "{e:?}");
    assert!(e.z >= cfg.wide_z, "{e:?}");
    // The same trickle through the site's people's own ISP (ASN 100): its
    // excess is shared by its people, and a first sign-in there is one of them.
    let out = through(cfg, 100, NEWCOMER);
    assert!(out.is_empty(), "{out:?}");
    // An account with a history (7: one sign-in from ASN 300) is not judged by
    // it: a traveller on a hotel computer is new on every count there too.
    let out = through(cfg, 700, 7);
    assert!(out.is_empty(), "{out:?}");
    // Off, the hosting ASN is silent too: the address tried nothing else.
    let off = TakeoverConfig {
        peopleless_asn_share: 0.0,
        ..cfg
    };
    let out = through(off, 700, NEWCOMER);
    assert!(out.is_empty(), "{out:?}");
}

/// Four ordinary days, then an address (ASN 400) tries a name that does not
/// exist with user agent `name_ua`, `gap` minutes before `account` signs in
/// there with user agent 42. The signals on `account`.
fn name_then_sign_in(cfg: TakeoverConfig, gap: i64, name_ua: u64, account: u64) -> Vec<Signal> {
    let mut t = days_with_a_slow_list(4, 99);
    t.cfg = cfg;
    let mut out = Vec::new();
    let exit = 0xc9aa_0a0a;
    let e = ev(
        (AT - gap) * MIN,
        70_000_000,
        exit,
        400,
        name_ua,
        Outcome::UnknownAccount,
    );
    t.observe(&e, None, &mut out);
    out.clear();
    t.observe(
        &ev(AT * MIN, account, exit, 400, 42, Outcome::Success),
        None,
        &mut out,
    );
    out.retain(|s| s.account == Some(AccountKey(account)));
    out
}

#[test]
fn an_exits_name_hours_before_a_first_sign_in_is_a_lists() {
    let cfg = TakeoverConfig::default();
    assert!(cfg.names_long_before_first_sign_in);
    // Its own client tried a name two hours before: an exit kept by one
    // session, trying a list's lines now and then.
    let e = first_evidence(&name_then_sign_in(cfg, 120, 42, NEWCOMER));
    assert_eq!(e.rule, TakeoverRule::AddressTriedOthers, "{e:?}");
    assert_eq!(e.corroboration, Corroboration::NamesLongBefore, "{e:?}");
    // Five minutes before: the owner's own mistyped e-mail address.
    let out = name_then_sign_in(cfg, 5, 42, NEWCOMER);
    assert!(out.is_empty(), "{out:?}");
    // From another browser: the address's next person (a household's, a
    // CGNAT's), not this one's.
    let out = name_then_sign_in(cfg, 120, 41, NEWCOMER);
    assert!(out.is_empty(), "{out:?}");
    // An account with a history has its novelty's own rules.
    let out = name_then_sign_in(cfg, 120, 42, 7);
    assert!(out.is_empty(), "{out:?}");
    let off = TakeoverConfig {
        names_long_before_first_sign_in: false,
        ..cfg
    };
    let out = name_then_sign_in(off, 120, 42, NEWCOMER);
    assert!(out.is_empty(), "{out:?}");
}
