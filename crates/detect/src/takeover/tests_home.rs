//! The carrier's own people at home: their own device on a new network — the
//! carrier's CGNAT address a proxy network also exits through
//! (`own_device_home`) — and a new phone on a /24 whose failing neighbours are
//! a past burst's (`neighbours_need_site`) or the carrier pool's own
//! (`peoples_network_share`), or on a day the site drifts
//! (`drift_needs_abroad`, `drift_home_fresh`); their own browsers while
//! the attack's show it (`cold_client_share`); and a young history on its own
//! ISP, which a residential proxy network exits through (`asn_home_history`).

use super::*;

/// Account 7's three sign-ins from home (user agent 1, ASN 300, US), six hours
/// of people, then a burst whose attempts all send user agent `burst_ua`. Five
/// minutes in, a proxy (ASN 400, US) fails on another account, and nine seconds
/// later account 7 signs in there with user agent `ua`. The signals on account 7.
fn on_the_proxys_address(cfg: TakeoverConfig, burst_ua: u64, ua: u64) -> Vec<Signal> {
    let mut out = Vec::new();
    let mut t = account_7_among_people(cfg, &mut out);
    burst_as(&mut t, (9 * 60, 10, 30), burst_ua, &mut out);
    assert!(t.in_window());
    out.clear();
    proxy_success_from(&mut t, (9 * 60 + 5) * MIN, ("US", ua), &mut out);
    out.retain(|s| s.account == Some(AccountKey(7)));
    out
}

#[test]
fn the_owners_own_device_at_home_is_not_the_proxys() {
    let cfg = TakeoverConfig::default();
    assert!(cfg.own_device_home);
    // Account 7's own browser (user agent 1), in its own country.
    let out = on_the_proxys_address(cfg, 99, 1);
    assert!(out.is_empty(), "{out:?}");
    // Without the switch the address's failure on another account flags it
    // (and without `cold_client_share`: the people's browser 1 is cold too).
    let off = TakeoverConfig {
        own_device_home: false,
        cold_client_share: 0.0,
        ..cfg
    };
    let e = first_evidence(&on_the_proxys_address(off, 99, 1));
    assert_eq!(e.rule, TakeoverRule::AddressTriedOthers, "{e:?}");
    assert!(
        !e.new_device && e.new_network && e.new_asn && !e.new_country,
        "{e:?}"
    );
    // A device new to the account is flagged either way.
    let e = first_evidence(&on_the_proxys_address(cfg, 99, 42));
    assert!(e.new_device, "{e:?}");
}

#[test]
fn a_browser_string_the_attack_is_rotating_excuses_nothing() {
    // The burst sends account 7's own browser string (the site's most common
    // one): that user agent is hot with the combo list, and is no alibi.
    let e = first_evidence(&on_the_proxys_address(TakeoverConfig::default(), 1, 1));
    assert_eq!(e.rule, TakeoverRule::AddressTriedOthers, "{e:?}");
    assert!(!e.new_device, "{e:?}");
}

/// Four ordinary days (the drift's earlier days), then at day 4 a /24 whose
/// other addresses failed on other accounts in the last hour, and a proxy there
/// that fails on another account and signs in to account 7 (history at home, in
/// the US) from `country`, on a new device. The signals.
fn after_quiet_days(cfg: TakeoverConfig, country: &str) -> Vec<Signal> {
    let mut t = days_with_a_slow_list(4, 99);
    t.cfg = cfg;
    let at = 4 * 24 * 60 * MIN;
    let mut out = Vec::new();
    failing_neighbours(&mut t, at, &mut out);
    assert!(!t.in_window() && !t.in_drift());
    out.clear();
    proxy_success_from(&mut t, at, (country, 42), &mut out);
    out
}

#[test]
fn failing_neighbours_alone_need_another_country_or_the_sites_day() {
    let cfg = TakeoverConfig::default();
    assert!(cfg.neighbours_need_site);
    // In the account's own country, on a day like the site's earlier ones: the
    // /24's failures are a past burst's, and this is the carrier's own person.
    let out = after_quiet_days(cfg, "US");
    assert!(out.is_empty(), "{out:?}");
    // From another country, the neighbours speak.
    let e = first_evidence(&after_quiet_days(cfg, "BR"));
    assert_eq!(e.rule, TakeoverRule::AddressTriedOthers, "{e:?}");
    assert_eq!(e.corroboration, Corroboration::NetworkFailures, "{e:?}");
    // And without the switch, at home too (as before the drift knew its days:
    // `without_an_attack_window_a_slow_attack_shows_in_the_failing_neighbours`).
    let off = TakeoverConfig {
        neighbours_need_site: false,
        ..cfg
    };
    let e = first_evidence(&after_quiet_days(off, "US"));
    assert_eq!(e.corroboration, Corroboration::NetworkFailures, "{e:?}");
}

/// Four days in which a carrier's pool (the proxy's /24) carried its people's
/// sign-ins on the first day (the carrier's next /24 since), and over the last
/// six hours its other addresses failed on other accounts every five minutes
/// (`days_of_people`); then the proxy's wrong password on another account and
/// success on account 7 (a new device) from abroad. The signals.
fn pool_failing_after_its_people(cfg: TakeoverConfig) -> Vec<Signal> {
    let at = 4 * 24 * 60;
    let mut t = days_of_people(4, 99, Some((0xc900_0900, 24 * 60, at - 360)));
    t.cfg = cfg;
    assert!(!t.in_window() && !t.in_drift());
    let mut out = Vec::new();
    proxy_success_from(&mut t, at * MIN, ("BR", 42), &mut out);
    out
}

#[test]
fn failing_neighbours_in_the_sites_peoples_network_are_no_attacks_context() {
    // The proxy's /24 is a carrier's pool that carried its people's sign-ins
    // (a few percent of the site's attempts before the last day): its other
    // addresses failing on other accounts now is an attack exiting through
    // the pool, which says nothing of its people's sign-ins — even from
    // another country, where failing neighbours speak on an ordinary /24
    // (`failing_neighbours_alone_need_another_country_or_the_sites_day`).
    // The /24's own excess, which the switch silences too
    // (`the_sites_peoples_network_does_not_speak_on_its_own`), is out of the
    // way here (`local_z`), so only the neighbours' part is judged.
    let cfg = TakeoverConfig {
        local_z: 1_000.0,
        ..TakeoverConfig::default()
    };
    assert!(cfg.peoples_network_share > 0.0);
    let out = pool_failing_after_its_people(cfg);
    assert!(out.is_empty(), "{out:?}");
    // Without the switch the neighbours speak there.
    let off = TakeoverConfig {
        peoples_network_share: 0.0,
        ..cfg
    };
    let e = first_evidence(&pool_failing_after_its_people(off));
    assert_eq!(e.rule, TakeoverRule::AddressTriedOthers, "{e:?}");
    assert_eq!(e.corroboration, Corroboration::NetworkFailures, "{e:?}");
}

#[test]
fn the_sites_drift_alone_speaks_for_a_success_from_abroad_or_a_burst() {
    let cfg = TakeoverConfig::default();
    assert!(cfg.drift_needs_abroad && cfg.drift_home_fresh > 0.0);
    // A combo list spread over days has opened the site's drift; an address
    // failed on another account, then signs in to account 7 (from a new
    // device, user agent 42) from `country`, `gap` later.
    let from = |cfg: TakeoverConfig, country: &str, gap: i64| {
        let mut t = days_with_a_slow_list(4, 3);
        t.cfg = cfg;
        assert!(t.in_drift());
        let country = Country::from_code(country);
        let (at, addr) = (4 * 24 * 60 * MIN, 0xc900_0909);
        let mut out = Vec::new();
        let e = ev(at - gap, 12_345, addr, 400, 41, Outcome::WrongPassword);
        t.observe(&LoginEvent { country, ..e }, None, &mut out);
        let e = ev(at, 7, addr, 400, 42, Outcome::Success);
        t.observe(&LoginEvent { country, ..e }, None, &mut out);
        out
    };
    let (burst, through_the_day) = (9_000, 90 * MIN);
    // From the account's own country: only a burst, a proxy's session.
    let e = first_evidence(&from(cfg, "US", burst));
    assert_eq!(e.corroboration, Corroboration::SiteDrift, "{e:?}");
    assert!(!e.new_country, "{e:?}");
    let out = from(cfg, "US", through_the_day);
    assert!(out.is_empty(), "{out:?}");
    // From a country new to the account, either.
    let e = first_evidence(&from(cfg, "BR", through_the_day));
    assert_eq!(e.corroboration, Corroboration::SiteDrift, "{e:?}");
    assert!(e.new_country, "{e:?}");
    // Without the burst's exception, only from abroad.
    let no_burst = TakeoverConfig {
        drift_home_fresh: 0.0,
        ..cfg
    };
    let out = from(no_burst, "US", burst);
    assert!(out.is_empty(), "{out:?}");
    // Without either switch the drift speaks for any of them.
    let off = TakeoverConfig {
        drift_needs_abroad: false,
        ..cfg
    };
    let e = first_evidence(&from(off, "US", through_the_day));
    assert_eq!(e.corroboration, Corroboration::SiteDrift, "{e:?}");
}

#[test]
fn a_cold_browser_is_not_the_attacks_while_the_attacks_browsers_show_it() {
    let cfg = TakeoverConfig::default();
    assert!(cfg.cold_client_share > 0.0);
    // Account 7 signs in on the proxy's address with user agent 5: new to the
    // account (its own is 1), but one the site's people use all day at their
    // share of mistyped names (cold), while the burst's names all came
    // through user agent 99 (warm with the excess).
    let out = on_the_proxys_address(cfg, 99, 5);
    assert!(out.is_empty(), "{out:?}");
    // Without the switch the address's failure on another account flags it.
    let off = TakeoverConfig {
        cold_client_share: 0.0,
        ..cfg
    };
    let e = first_evidence(&on_the_proxys_address(off, 99, 5));
    assert_eq!(e.rule, TakeoverRule::AddressTriedOthers, "{e:?}");
    assert!(e.new_device, "{e:?}");
    // A browser string without a past here (42) is not cold: flagged.
    let e = first_evidence(&on_the_proxys_address(cfg, 99, 42));
    assert!(e.new_device, "{e:?}");
    // And a burst that sends the people's own browser string (5) warms it:
    // no alibi then.
    let e = first_evidence(&on_the_proxys_address(cfg, 5, 5));
    assert_eq!(e.rule, TakeoverRule::AddressTriedOthers, "{e:?}");
}

#[test]
fn an_attack_whose_browsers_do_not_show_spares_nobody_by_browser() {
    // The same burst, each attempt with a browser string of its own: none warms
    // up, the mix of the site's names shows no attack's browsers, and user
    // agent 5 — cold — is no alibi.
    let cfg = TakeoverConfig::default();
    let mut out = Vec::new();
    let mut t = account_7_among_people(cfg, &mut out);
    for m in 0..10 {
        for k in 0..30 {
            let n = m * 30 + k;
            let e = ev(
                (9 * 60 + m) * MIN + k * 2_000 + 500,
                9_000_000 + n as u64,
                0xc800_0000 | (n as u32 % 200),
                200,
                10_000 + n as u64,
                Outcome::UnknownAccount,
            );
            t.observe(&e, None, &mut out);
        }
    }
    assert!(t.in_window());
    assert!(!t.attack_in_clients((9 * 60 + 10) * MIN + T0));
    out.clear();
    proxy_success_from(&mut t, (9 * 60 + 10) * MIN, ("US", 5), &mut out);
    out.retain(|s| s.account == Some(AccountKey(7)));
    let e = first_evidence(&out);
    assert_eq!(e.rule, TakeoverRule::AddressTriedOthers, "{e:?}");
}

/// Account 7's `history` sign-ins from home (user agent 1, ASN 300, US), six
/// hours of people, then a residential-proxy network's burst through a consumer
/// ISP (ASN 600): ten minutes of 30 names a minute that do not exist, each from
/// an address of its own in a /24 of its own, all through user agent 77. At its
/// end account 7 signs in from another address of that ISP, which tried
/// nothing else, in `country`, through user agent 77. The signals on account 7.
fn through_the_proxys_isp(cfg: TakeoverConfig, history: i64, country: &str) -> Vec<Signal> {
    let mut t = Takeover::new(cfg);
    let mut out = Vec::new();
    for n in 0..history {
        let e = ev(n * MIN, 7, 0x0b00_0101, 300, 1, Outcome::Success);
        t.observe(&e, None, &mut out);
    }
    people(&mut t, 3 * 60, 6 * 60, &mut out);
    for m in 0..10i64 {
        for k in 0..30i64 {
            let n = (m * 30 + k) as u32;
            let e = ev(
                (9 * 60 + m) * MIN + k * 2_000 + 500,
                8_000_000 + u64::from(n),
                0x5000_0001 | (n << 8),
                600,
                77,
                Outcome::UnknownAccount,
            );
            t.observe(&e, None, &mut out);
        }
    }
    assert!(t.in_window());
    out.clear();
    let e = ev(
        (9 * 60 + 10) * MIN,
        7,
        0x5100_0001,
        600,
        77,
        Outcome::Success,
    );
    let country = Country::from_code(country);
    t.observe(&LoginEvent { country, ..e }, None, &mut out);
    out.retain(|s| s.account == Some(AccountKey(7)));
    out
}

#[test]
fn an_isps_excess_and_a_browsers_speak_at_home_only_for_a_longer_history() {
    let cfg = TakeoverConfig::default();
    assert_eq!(cfg.asn_home_history, 5);
    // Three earlier sign-ins, at home: the ISP's and the browser's excess are
    // all that speaks, and this is as often the owner on a new laptop.
    let out = through_the_proxys_isp(cfg, 3, "US");
    assert!(out.is_empty(), "{out:?}");
    // Five earlier sign-ins: the ISP speaks, corroborated by the browser.
    let e = first_evidence(&through_the_proxys_isp(cfg, 5, "US"));
    assert_eq!(e.rule, TakeoverRule::GrainExcess, "{e:?}");
    assert_eq!(e.grain, Grain::Asn, "{e:?}");
    assert_eq!(e.corroboration, Corroboration::UserAgent, "{e:?}");
    assert!(!e.new_country, "{e:?}");
    // From abroad, the three earlier sign-ins are enough.
    let e = first_evidence(&through_the_proxys_isp(cfg, 3, "BR"));
    assert!(e.new_country, "{e:?}");
    // And without the need, at home too.
    let off = TakeoverConfig {
        asn_home_history: 0,
        ..cfg
    };
    let e = first_evidence(&through_the_proxys_isp(off, 3, "US"));
    assert_eq!(e.grain, Grain::Asn, "{e:?}");
    assert_eq!(e.corroboration, Corroboration::UserAgent, "{e:?}");
}
