//! A residential proxy's exit used once or twice: novelty alone during the
//! site's attack window, from a country new to the account, through an ASN the
//! attack is passing through (`abroad_history`, `abroad_asn_names`); and a name
//! that does not exist tried from the exit right after its success
//! (`names_after_success`), also on a day without any attack window for an
//! account's first sign-in (`names_after_first_sign_in`).

use super::*;

/// A fresh address in ASN 777 that tries nothing but account `account`'s
/// password, with user agent 42, from `country`, at `at`.
fn single_success(account: u64, at: i64, country: &str) -> LoginEvent {
    LoginEvent {
        country: Country::from_code(country),
        ..ev(at, account, 0x5e00_0505, 777, 42, Outcome::Success)
    }
}

/// `n` attempts on names that do not exist from other addresses of ASN 777
/// over the `n` minutes before `at`: the list passing through the ISP.
fn names_through_777(t: &mut Takeover, at: i64, n: i64, out: &mut Vec<Signal>) {
    for k in 0..n {
        let e = ev(
            at - (n - k) * MIN,
            8_000_000 + k as u64,
            0x5e00_1000 | k as u32,
            777,
            60 + k as u64 % 3,
            Outcome::UnknownAccount,
        );
        t.observe(&e, None, out);
    }
}

/// Account 7's three sign-ins from home (user agent 1, ASN 300, US), six hours
/// of people, then — with a combo list's burst ([`account_7_in_a_burst`]) or without — its
/// single success abroad or at home, the list's names passing through ASN 777
/// or not. The signals on account 7.
fn abroad(cfg: TakeoverConfig, burst_on: bool, country: &str, names: i64) -> Vec<Signal> {
    let mut out = Vec::new();
    let mut t = if burst_on {
        account_7_in_a_burst(cfg, &mut out)
    } else {
        account_7_among_people(cfg, &mut out)
    };
    let at = (9 * 60 + 5) * MIN;
    names_through_777(&mut t, at, names, &mut out);
    out.clear();
    t.observe(&single_success(7, at, country), None, &mut out);
    out.retain(|s| s.account == Some(AccountKey(7)));
    out
}

#[test]
fn a_single_success_abroad_during_an_attack_through_an_attacked_asn_is_flagged() {
    let cfg = TakeoverConfig::default();
    let e = first_evidence(&abroad(cfg, true, "BR", 3));
    assert_eq!(e.rule, TakeoverRule::AbroadInWindow, "{e:?}");
    assert!(
        e.new_device && e.new_network && e.new_asn && e.new_country,
        "{e:?}"
    );
    // Off (0), nothing else speaks: the address tried nothing else.
    let off = TakeoverConfig {
        abroad_history: 0,
        ..cfg
    };
    let out = abroad(off, true, "BR", 3);
    assert!(out.is_empty(), "{out:?}");
}

#[test]
fn novelty_abroad_needs_the_window_the_country_and_the_attacks_asn() {
    let cfg = TakeoverConfig::default();
    // No attack in progress: a traveller's first sign-in abroad.
    let out = abroad(cfg, false, "BR", 3);
    assert!(out.is_empty(), "{out:?}");
    // From the account's own country: a new phone on another ISP.
    let out = abroad(cfg, true, "US", 3);
    assert!(out.is_empty(), "{out:?}");
    // Through an ASN the attack is not passing through: a hotel's network.
    let out = abroad(cfg, true, "BR", 0);
    assert!(out.is_empty(), "{out:?}");
}

/// Account 8's single sign-in at home, then the burst and its success abroad
/// through the attacked ASN 777. The signals on account 8.
fn after_one_success(cfg: TakeoverConfig) -> Vec<Signal> {
    let mut out = Vec::new();
    let mut t = account_7_among_people(cfg, &mut out);
    t.observe(
        &ev(8 * 60 * MIN, 8, 0x0b00_0202, 300, 1, Outcome::Success),
        None,
        &mut out,
    );
    let at = (9 * 60 + 5) * MIN;
    burst(&mut t, 9 * 60, 10, 30, &mut out);
    names_through_777(&mut t, at, 3, &mut out);
    out.clear();
    t.observe(&single_success(8, at, "BR"), None, &mut out);
    out.retain(|s| s.account == Some(AccountKey(8)));
    out
}

#[test]
fn novelty_abroad_needs_a_history_of_two_successes() {
    let cfg = TakeoverConfig::default();
    assert_eq!(cfg.abroad_history, 2);
    // With one success on record every second device is new.
    let out = after_one_success(cfg);
    assert!(out.is_empty(), "{out:?}");
    let one = TakeoverConfig {
        abroad_history: 1,
        ..cfg
    };
    let e = first_evidence(&after_one_success(one));
    assert_eq!(e.rule, TakeoverRule::AbroadInWindow, "{e:?}");
}

/// An account without history (4242) signs in from a fresh address during a
/// burst, and the same browser there tries a name that does not exist six
/// seconds later — a residential exit's next line — or (`typo_first`) six
/// seconds before. A quarter of an hour of people follows (the reviews). The
/// signals on account 4242.
fn exit_tries_a_name(cfg: TakeoverConfig, typo_first: bool) -> Vec<Signal> {
    exit_tries_a_name_as(cfg, typo_first, true, 4242)
}

/// [`exit_tries_a_name`] for `account`, during the burst or (`in_burst` false)
/// on a day without one: people signing in and nothing else.
fn exit_tries_a_name_as(
    cfg: TakeoverConfig,
    typo_first: bool,
    in_burst: bool,
    account: u64,
) -> Vec<Signal> {
    let mut out = Vec::new();
    let mut t = if in_burst {
        account_7_in_a_burst(cfg, &mut out)
    } else {
        let t = account_7_among_people(cfg, &mut out);
        assert!(!t.in_window());
        t
    };
    out.clear();
    let at = (9 * 60 + 5) * MIN;
    let exit = 0x5f00_0606;
    let name = ev(
        if typo_first { at - 6_000 } else { at + 6_000 },
        8_100_000,
        exit,
        888,
        42,
        Outcome::UnknownAccount,
    );
    let success = ev(at, account, exit, 888, 42, Outcome::Success);
    let (first, second) = if typo_first {
        (name, success)
    } else {
        (success, name)
    };
    t.observe(&first, None, &mut out);
    t.observe(&second, None, &mut out);
    people(&mut t, 9 * 60 + 6, 15, &mut out);
    out.retain(|s| s.account == Some(AccountKey(account)));
    out
}

#[test]
fn a_name_tried_only_after_the_success_is_a_lists_next_line_not_a_typo() {
    let cfg = TakeoverConfig::default();
    assert!(cfg.names_after_success);
    let e = first_evidence(&exit_tries_a_name(cfg, false));
    assert_eq!(e.rule, TakeoverRule::AddressTriedOthers, "{e:?}");
    assert_eq!(e.known_successes, 0, "{e:?}");
    // The same name before the success is the owner's mistyped address.
    let out = exit_tries_a_name(cfg, true);
    assert!(out.is_empty(), "{out:?}");
    // And after it, without the switch, too.
    let off = TakeoverConfig {
        names_after_success: false,
        ..cfg
    };
    let out = exit_tries_a_name(off, false);
    assert!(out.is_empty(), "{out:?}");
}

#[test]
fn a_first_sign_in_whose_exit_then_tries_a_name_is_flagged_without_an_attack_window() {
    let cfg = TakeoverConfig::default();
    assert!(cfg.names_after_first_sign_in);
    let e = first_evidence(&exit_tries_a_name_as(cfg, false, false, 4242));
    assert_eq!(e.rule, TakeoverRule::AddressTriedOthers, "{e:?}");
    assert_eq!(e.corroboration, Corroboration::NamesAfter, "{e:?}");
    assert_eq!(e.known_successes, 0, "{e:?}");
    // The owner's typo before their first sign-in is not.
    let out = exit_tries_a_name_as(cfg, true, false, 4242);
    assert!(out.is_empty(), "{out:?}");
    // Nor, without a window, a success of an account with history (7): its
    // novelty has rules of its own, which ask for an attack in progress.
    let out = exit_tries_a_name_as(cfg, false, false, 7);
    assert!(out.is_empty(), "{out:?}");
    // Nor when the name came an hour later: a shared address's next person.
    let out = exit_tries_a_name_late(cfg);
    assert!(out.is_empty(), "{out:?}");
    // Nor with the switch off.
    let off = TakeoverConfig {
        names_after_first_sign_in: false,
        ..cfg
    };
    let out = exit_tries_a_name_as(off, false, false, 4242);
    assert!(out.is_empty(), "{out:?}");
}

/// Account 4242's first sign-in from a fresh address on a day without an
/// attack window, that address's wrong password on another account, and an
/// hour later a name that does not exist from it (people all along).
fn exit_tries_a_name_late(cfg: TakeoverConfig) -> Vec<Signal> {
    let mut out = Vec::new();
    let mut t = account_7_among_people(cfg, &mut out);
    out.clear();
    let at = (9 * 60 + 5) * MIN;
    let exit = 0x5f00_0606;
    t.observe(
        &ev(at, 4242, exit, 888, 42, Outcome::Success),
        None,
        &mut out,
    );
    t.observe(
        &ev(at + 60_000, 4243, exit, 888, 42, Outcome::WrongPassword),
        None,
        &mut out,
    );
    people(&mut t, 9 * 60 + 6, 60, &mut out);
    let name = ev(
        at + 61 * MIN,
        8_100_000,
        exit,
        888,
        42,
        Outcome::UnknownAccount,
    );
    t.observe(&name, None, &mut out);
    people(&mut t, 10 * 60 + 7, 15, &mut out);
    out.retain(|s| s.account == Some(AccountKey(4242)));
    out
}

/// During a burst, four other addresses of the /24 0x5d00_07xx (ASN 778) fail
/// on four other accounts (two of them names that do not exist) in the ten
/// minutes before account 7 signs in from a fifth, silent address there, on a
/// new device, from `country`. The signals on account 7.
fn silent_address_in_a_failing_network(cfg: TakeoverConfig, country: &str) -> Vec<Signal> {
    let mut out = Vec::new();
    let mut t = account_7_in_a_burst(cfg, &mut out);
    out.clear();
    let at = (9 * 60 + 5) * MIN;
    for k in 0..4u32 {
        let outcome = if k % 2 == 0 {
            Outcome::UnknownAccount
        } else {
            Outcome::WrongPassword
        };
        let e = ev(
            at - i64::from(10 - 2 * k) * MIN,
            9_000_000 + u64::from(k),
            0x5d00_0710 | k,
            778,
            70 + u64::from(k),
            outcome,
        );
        t.observe(&e, None, &mut out);
    }
    let success = LoginEvent {
        country: Country::from_code(country),
        ..ev(at, 7, 0x5d00_0720, 778, 42, Outcome::Success)
    };
    t.observe(&success, None, &mut out);
    people(&mut t, 9 * 60 + 6, 15, &mut out);
    out.retain(|s| s.account == Some(AccountKey(7)));
    out
}

#[test]
fn a_silent_address_in_a_failing_network_speaks_only_from_abroad() {
    let cfg = TakeoverConfig::default();
    assert!(cfg.network_novelty && cfg.network_novelty_abroad);
    let e = first_evidence(&silent_address_in_a_failing_network(cfg, "BR"));
    assert_eq!(e.grain, Grain::Network, "{e:?}");
    assert_eq!(e.corroboration, Corroboration::NetworkFailures, "{e:?}");
    assert!(e.new_country, "{e:?}");
    // From the account's own country: one of the site's people in a /24 the
    // proxies exit through.
    let out = silent_address_in_a_failing_network(cfg, "US");
    assert!(out.is_empty(), "{out:?}");
    let anywhere = TakeoverConfig {
        network_novelty_abroad: false,
        ..cfg
    };
    let e = first_evidence(&silent_address_in_a_failing_network(anywhere, "US"));
    assert_eq!(e.grain, Grain::Network, "{e:?}");
    assert!(!e.new_country, "{e:?}");
}
