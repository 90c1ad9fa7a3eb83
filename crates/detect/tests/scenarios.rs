//! Each detector on small hand-made scenarios, sketch and exact side by side.

use std::net::{IpAddr, Ipv4Addr};

use gatehouse_detect::{
    AccountKey, DetectConfig, Detector, Detectors, ExactDetectors, LoginEvent, Outcome,
    PasswordDigest, Signal, SignalKind, Source, Subject,
};

const T0: i64 = 1_800_000_000_000;
const MIN: u64 = 60_000;

fn ev(t: u64, account: u64, ip: [u8; 4], outcome: Outcome, pw: Option<u64>) -> LoginEvent {
    LoginEvent {
        time_ms: T0 + t as i64,
        account: AccountKey(account),
        ip: IpAddr::V4(Ipv4Addr::from(ip)),
        asn: Some(64_500),
        outcome,
        password: pw.map(PasswordDigest),
        user_agent: 0,
        country: gatehouse_detect::Country::UNKNOWN,
    }
}

/// Run both implementations; they must agree on which accounts are flagged.
///
/// These scenarios test the key detectors' counting, so the account-history gate
/// and the takeover detector are off: their events carry no user agent, one ASN
/// for every address and no unknown-account excess, which the gate would rightly
/// read as "the owner's own ASN" or "no combo list here" (`tests/shapes.rs` tests
/// the shipped defaults as a whole).
fn run(mut cfg: DetectConfig, events: &[LoginEvent]) -> Vec<Signal> {
    cfg.takeover.enabled = false;
    cfg.takeover.legacy_gate = false;
    both(cfg, events)
}

/// The sketch and the exact detectors over `events`; they must agree.
fn both(cfg: DetectConfig, events: &[LoginEvent]) -> Vec<Signal> {
    let (mut sketch, mut exact) = (Detectors::new(cfg), ExactDetectors::new(cfg));
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for e in events {
        sketch.observe(e, &mut a);
        exact.observe(e, &mut b);
    }
    let key = |s: &Signal| (s.detector as u8, s.kind as u8, s.account);
    let (mut ka, mut kb): (Vec<_>, Vec<_>) =
        (a.iter().map(key).collect(), b.iter().map(key).collect());
    ka.sort();
    kb.sort();
    assert_eq!(ka, kb, "sketch and exact detectors disagree");
    a
}

fn compromised(signals: &[Signal], d: Detector) -> Vec<u64> {
    let mut v: Vec<u64> = signals
        .iter()
        .filter(|s| s.detector == d && s.kind == SignalKind::LikelyCompromised)
        .map(|s| s.account.unwrap().0)
        .collect();
    v.sort();
    v
}

#[test]
fn stuffing_flags_a_success_from_the_attacking_network_and_explains_it() {
    let mut events = Vec::new();
    // 40 accounts fail from 203.0.113.0/24 (several addresses), then account 7 works.
    for a in 0..40u64 {
        events.push(ev(
            a * 1000,
            1000 + a,
            [203, 0, 113, (a % 5) as u8 + 1],
            Outcome::UnknownAccount,
            None,
        ));
    }
    events.push(ev(50_000, 7, [203, 0, 113, 9], Outcome::Success, None));
    // The same account elsewhere, and another account at home: not signalled.
    events.push(ev(51_000, 8, [198, 51, 100, 1], Outcome::Success, None));
    let signals = run(DetectConfig::default(), &events);
    assert_eq!(compromised(&signals, Detector::CredentialStuffing), vec![7]);
    let attack = signals
        .iter()
        .find(|s| s.kind == SignalKind::Attack)
        .unwrap();
    let Subject::Source(src) = attack.evidence.subject else {
        panic!("subject {:?}", attack.evidence.subject)
    };
    assert_eq!(src.to_string(), "203.0.113.0/24");
    let s = signals
        .iter()
        .find(|s| s.account == Some(AccountKey(7)))
        .unwrap();
    assert!(
        s.evidence.distinct >= 20 && s.evidence.failure_ratio > 0.9,
        "{:?}",
        s.evidence
    );
    assert!(s.score > 0.4 && s.score <= 1.0);
    assert_eq!(s.evidence.window_end_ms, T0 + 50_000);
}

#[test]
fn stuffing_reports_successes_that_came_before_the_threshold() {
    let mut events = vec![];
    for a in 0..10u64 {
        events.push(ev(
            a * 1000,
            500 + a,
            [203, 0, 113, 1],
            Outcome::WrongPassword,
            None,
        ));
    }
    // Success early in the attack, before the source looks like one.
    events.push(ev(10_500, 42, [203, 0, 113, 2], Outcome::Success, None));
    for a in 10..40u64 {
        events.push(ev(
            a * 1000,
            500 + a,
            [203, 0, 113, 1],
            Outcome::WrongPassword,
            None,
        ));
    }
    let signals = run(DetectConfig::default(), &events);
    assert_eq!(
        compromised(&signals, Detector::CredentialStuffing),
        vec![42]
    );
    let s = signals
        .iter()
        .find(|s| s.account == Some(AccountKey(42)))
        .unwrap();
    assert_eq!(s.evidence.success.unwrap().time_ms, T0 + 10_500);
}

#[test]
fn a_busy_nat_with_mostly_successes_is_not_stuffing() {
    let mut events = vec![];
    for a in 0..300u64 {
        let outcome = if a % 8 == 0 {
            Outcome::WrongPassword
        } else {
            Outcome::Success
        };
        events.push(ev(a * 500, a, [100, 64, 0, 1], outcome, None));
    }
    let signals = run(DetectConfig::default(), &events);
    assert!(signals.is_empty(), "{signals:?}");
}

#[test]
fn grouping_by_single_address_misses_a_spread_subnet() {
    let mut cfg = DetectConfig::default();
    cfg.stuffing.grouping = gatehouse_detect::SourceGrouping::Ip;
    let mut events = vec![];
    for a in 0..60u64 {
        events.push(ev(
            a * 1000,
            1000 + a,
            [203, 0, 113, (a % 30) as u8 + 1],
            Outcome::WrongPassword,
            None,
        ));
    }
    events.push(ev(70_000, 7, [203, 0, 113, 3], Outcome::Success, None));
    assert!(
        run(cfg, &events).is_empty(),
        "2 tries per address stay under the thresholds"
    );
    cfg.stuffing.grouping = gatehouse_detect::SourceGrouping::Network;
    assert_eq!(
        compromised(&run(cfg, &events), Detector::CredentialStuffing),
        vec![7]
    );
}

#[test]
fn the_window_forgets_old_failures() {
    let mut events = vec![];
    for a in 0..15u64 {
        events.push(ev(
            a * 1000,
            1000 + a,
            [203, 0, 113, 1],
            Outcome::WrongPassword,
            None,
        ));
    }
    // Three hours later (window 1 h): 15 more; never 20 inside one window.
    for a in 15..30u64 {
        events.push(ev(
            180 * MIN + a * 1000,
            1000 + a,
            [203, 0, 113, 1],
            Outcome::WrongPassword,
            None,
        ));
    }
    events.push(ev(181 * MIN, 7, [203, 0, 113, 1], Outcome::Success, None));
    assert!(run(DetectConfig::default(), &events).is_empty());
}

#[test]
fn spraying_flags_the_password_and_attacker_successes_only() {
    const SPRAYED: u64 = 0xdead;
    let mut events = vec![];
    // The owner of account 5 uses the sprayed password and logs in from home.
    events.push(ev(0, 5, [198, 51, 100, 7], Outcome::Success, Some(SPRAYED)));
    // Ten proxies, each trying the password on five accounts.
    for a in 0..50u64 {
        let proxy = [192, 0, (a % 10) as u8, 1];
        events.push(ev(
            1000 + a * 1000,
            100 + a,
            proxy,
            Outcome::WrongPassword,
            Some(SPRAYED),
        ));
    }
    // A proxy that already failed gets into account 77; the owner of 5 logs in again.
    events.push(ev(
        60_000,
        77,
        [192, 0, 3, 1],
        Outcome::Success,
        Some(SPRAYED),
    ));
    events.push(ev(
        61_000,
        5,
        [198, 51, 100, 7],
        Outcome::Success,
        Some(SPRAYED),
    ));
    let signals = run(DetectConfig::default(), &events);
    assert_eq!(compromised(&signals, Detector::PasswordSpraying), vec![77]);
    let attack = signals
        .iter()
        .find(|s| s.detector == Detector::PasswordSpraying && s.kind == SignalKind::Attack)
        .unwrap();
    assert_eq!(
        attack.evidence.subject,
        Subject::Password(PasswordDigest(SPRAYED))
    );
    assert!(attack.evidence.distinct >= 20);
}

/// A spray aimed at one company: 25 of its accounts tried with one password over
/// five hours (one every 12 minutes, each from a fresh address), then the
/// sprayer's success from an address that failed with it, and — two hours after
/// the spray's last failure — the success of someone whose own password it is,
/// from an address the spray had also failed from (a carrier's shared address).
fn slow_targeted_spray() -> Vec<LoginEvent> {
    const SPRAYED: u64 = 0xc0ffee;
    let mut events = vec![];
    for a in 0..25u64 {
        let proxy = [203, 0, (a % 5) as u8, 10 + a as u8];
        events.push(ev(
            a * 12 * MIN,
            300 + a,
            proxy,
            Outcome::WrongPassword,
            Some(SPRAYED),
        ));
    }
    let last = 24 * 12 * MIN;
    events.push(ev(
        last + 5 * MIN,
        77,
        [203, 0, 2, 99],
        Outcome::Success,
        Some(SPRAYED),
    ));
    events.push(ev(
        last + 125 * MIN,
        78,
        [203, 0, 3, 98],
        Outcome::Success,
        Some(SPRAYED),
    ));
    events
}

#[test]
fn a_window_of_hours_adds_up_a_slow_spray_and_its_tail_flags_nobody() {
    let hours = |h: u32, recent: u32| {
        let mut cfg = DetectConfig {
            window_secs: h * 3600,
            ..DetectConfig::default()
        };
        cfg.spraying.recent_failure_minutes = recent;
        cfg
    };
    // An hour's window never sees more than five of the accounts: no spray.
    assert!(
        compromised(
            &run(hours(1, 60), &slow_targeted_spray()),
            Detector::PasswordSpraying
        )
        .is_empty()
    );
    // Six hours add them up: the sprayer's success is flagged, amid its failures;
    // the success two hours after the spray's last failure is not.
    assert_eq!(
        compromised(
            &run(hours(6, 60), &slow_targeted_spray()),
            Detector::PasswordSpraying
        ),
        vec![77]
    );
    // Without the recency the window's tail flags the owner too.
    assert_eq!(
        compromised(
            &run(hours(6, 0), &slow_targeted_spray()),
            Detector::PasswordSpraying
        ),
        vec![77, 78]
    );
}

#[test]
fn a_popular_password_used_by_its_owners_is_not_a_spray() {
    let mut events = vec![];
    for a in 0..100u64 {
        let outcome = if a % 10 == 0 {
            Outcome::WrongPassword
        } else {
            Outcome::Success
        };
        events.push(ev(
            a * 1000,
            a,
            [10, 0, (a % 200) as u8, 1],
            outcome,
            Some(0xbeef),
        ));
    }
    assert!(run(DetectConfig::default(), &events).is_empty());
}

#[test]
fn distributed_guessing_flags_a_success_from_a_guessing_source() {
    let target = 9;
    let mut events = vec![];
    for i in 0..30u64 {
        events.push(ev(
            i * 2000,
            target,
            [198, 18, (i % 15) as u8, 1],
            Outcome::WrongPassword,
            None,
        ));
    }
    // The owner, from home, logs in during the attack: not the attacker.
    events.push(ev(
        61_000,
        target,
        [198, 51, 100, 7],
        Outcome::Success,
        None,
    ));
    assert!(
        compromised(
            &run(DetectConfig::default(), &events),
            Detector::DistributedGuessing
        )
        .is_empty()
    );
    // A guessing address gets in.
    events.push(ev(62_000, target, [198, 18, 4, 1], Outcome::Success, None));
    let signals = run(DetectConfig::default(), &events);
    assert_eq!(
        compromised(&signals, Detector::DistributedGuessing),
        vec![target]
    );
    let s = signals
        .iter()
        .find(|s| s.kind == SignalKind::LikelyCompromised)
        .unwrap();
    assert_eq!(s.evidence.subject, Subject::Account(AccountKey(target)));
    assert_eq!(s.evidence.distinct, 15);
    let seen = s.evidence.success.unwrap();
    assert!(seen.source_failed_before);
    assert_eq!(seen.source, Source::Ip("198.18.4.1".parse().unwrap()));
}

#[test]
fn a_user_mistyping_from_two_places_is_not_guessing() {
    let mut events = vec![];
    for i in 0..12u64 {
        events.push(ev(
            i * 1000,
            3,
            [198, 51, 100, (i % 2) as u8 + 1],
            Outcome::WrongPassword,
            None,
        ));
    }
    events.push(ev(13_000, 3, [198, 51, 100, 1], Outcome::Success, None));
    assert!(run(DetectConfig::default(), &events).is_empty());
}

#[test]
fn late_events_are_ignored_and_counted() {
    let mut d = Detectors::new(DetectConfig::default());
    let mut out = vec![];
    d.observe(
        &ev(300 * MIN, 1, [203, 0, 113, 1], Outcome::WrongPassword, None),
        &mut out,
    );
    d.observe(
        &ev(0, 1, [203, 0, 113, 1], Outcome::WrongPassword, None),
        &mut out,
    );
    assert_eq!(d.stats().stuffing.late, 1);
    assert_eq!(d.stats().stuffing.attempts, 2);
}

/// Gatehouse's own sign-ins are stamped as they happen; an app's batch can
/// arrive after them. Buckets are aligned to half the window, so an attack
/// from 38–52 minutes before a sign-in seen first (window 1 h, buckets at :00
/// and :30) used to fall two buckets back and be dropped as late: the live
/// monitor missed what a replay in time order found.
#[test]
fn an_attack_arriving_after_newer_events_is_still_judged_within_the_window() {
    let newest = ev(90 * MIN, 500, [192, 0, 2, 1], Outcome::Success, None);
    let mut attack = Vec::new();
    for a in 0..40u64 {
        attack.push(ev(
            38 * MIN + a * 20_000,
            1000 + a,
            [203, 0, 113, (a % 5) as u8 + 1],
            Outcome::UnknownAccount,
            None,
        ));
    }
    attack.push(ev(52 * MIN, 7, [203, 0, 113, 9], Outcome::Success, None));
    let in_order: Vec<_> = attack.iter().copied().chain([newest]).collect();
    let arrived: Vec<_> = [newest].into_iter().chain(attack.iter().copied()).collect();
    let mut cfg = DetectConfig::default();
    cfg.takeover.enabled = false;
    cfg.takeover.legacy_gate = false;
    for events in [&in_order, &arrived] {
        let signals = run(cfg, events);
        assert_eq!(compromised(&signals, Detector::CredentialStuffing), vec![7]);
        let found = signals
            .iter()
            .find(|s| s.kind == SignalKind::LikelyCompromised)
            .unwrap();
        // The evidence's window covers the attempts it counted: from the one
        // that promoted the network (its third failure), as in time order.
        assert_eq!(
            found.evidence.window_start_ms,
            T0 + (38 * MIN) as i64 + 40_000
        );
        assert!(found.evidence.window_end_ms >= T0 + (52 * MIN) as i64);
    }
    let mut d = Detectors::new(cfg);
    let mut out = vec![];
    for e in &arrived {
        d.observe(e, &mut out);
    }
    let stats = d.stats().stuffing;
    assert_eq!((stats.late, stats.clamped), (0, 41), "{stats:?}");
    // A success that arrived out of order leaves the window with its bucket:
    // the same attack an hour later than that (past the rotation) finds
    // nothing more, and an event more than a window older than the newest is
    // still late.
    d.observe(
        &ev(121 * MIN, 9, [203, 0, 113, 9], Outcome::Success, None),
        &mut out,
    );
    d.observe(
        &ev(20 * MIN, 10, [203, 0, 113, 9], Outcome::WrongPassword, None),
        &mut out,
    );
    assert_eq!(d.stats().stuffing.late, 1);
}

#[test]
fn memory_stays_within_the_bound_under_many_sources() {
    let cfg = DetectConfig::default();
    let mut cfg_small = cfg;
    for c in [
        &mut cfg_small.stuffing.capacity,
        &mut cfg_small.spraying.capacity,
        &mut cfg_small.guessing.capacity,
    ] {
        c.tracked_keys = 256;
        c.sketch_bytes = 64 << 10;
        c.promote_after_failures = 1;
    }
    let mut d = Detectors::new(cfg_small);
    let mut out = vec![];
    for e in gatehouse_detect::synth::WideStream::new(200_000, 1, 50_000, 3_600_000, 9) {
        d.observe(&e, &mut out);
    }
    let st = d.stats();
    assert!(st.stuffing.tracked <= 256 && st.guessing.tracked <= 256 && st.spraying.tracked <= 256);
    assert!(
        st.stuffing.promotions > 256,
        "the table turned over: {st:?}"
    );
}

/// Both implementations with the account-history gate on (its histories are what
/// marks a spray's failures), the takeover detector's own rules off.
fn run_gated(events: &[LoginEvent]) -> Vec<Signal> {
    both(gated(), events)
}

/// The defaults with the account-history gate on and the takeover rules off.
fn gated() -> DetectConfig {
    let mut cfg = DetectConfig::default();
    cfg.takeover.enabled = false;
    cfg.takeover.legacy_gate = true;
    cfg
}

/// An identity provider's outage: 40 people of one company, who always signed in
/// through it (no password history here), guess the same default password on
/// their own accounts from the office's /24 — one of them an unknown name (a
/// mistyped address). A colleague whose password it really is signs in from the
/// office a quarter of an hour in. The last `unknown_names` failures are names the
/// site does not have.
fn idp_fallback(unknown_names: u64) -> Vec<LoginEvent> {
    const DEFAULT: u64 = 0x1d0;
    let office = |i: u64| [203, 0, 113, (i % 8) as u8 + 1];
    let mut events = vec![];
    for a in 0..40u64 {
        let outcome = if a == 0 || a >= 40 - unknown_names {
            Outcome::UnknownAccount
        } else {
            Outcome::WrongPassword
        };
        events.push(ev(a * 30_000, 1000 + a, office(a), outcome, Some(DEFAULT)));
    }
    events.push(ev(
        15 * MIN,
        2000,
        office(3),
        Outcome::Success,
        Some(DEFAULT),
    ));
    events.sort_by_key(|e| e.time_ms);
    events
}

#[test]
fn people_guessing_their_own_forgotten_password_are_not_a_spray() {
    let signals = run_gated(&idp_fallback(0));
    assert!(
        signals
            .iter()
            .any(|s| s.detector == Detector::PasswordSpraying && s.kind == SignalKind::Attack),
        "over the thresholds by count"
    );
    assert_eq!(
        compromised(&signals, Detector::PasswordSpraying),
        Vec::<u64>::new(),
        "1 unknown name in 40 failures, no account tried from a new network"
    );
}

#[test]
fn a_spray_with_stale_names_reports_its_successes_held_until_marked() {
    // The same counts with 6 of 40 names unknown (15 %): a list, not people. The
    // success came when 1 of 30 failures was marked; it is reported once the
    // unknown names that follow make a tenth.
    let signals = run_gated(&idp_fallback(5));
    let flagged = compromised(&signals, Detector::PasswordSpraying);
    assert_eq!(flagged, vec![2000]);
    let s = signals
        .iter()
        .find(|s| {
            s.detector == Detector::PasswordSpraying && s.kind == SignalKind::LikelyCompromised
        })
        .unwrap();
    assert!(
        s.evidence.marked > 1 && s.evidence.marked as f32 >= 0.1 * s.evidence.failures as f32,
        "reported at a tenth, with more than the one typo"
    );
}

/// Accounts 100..150 signed in from home (each with its own password); at
/// `SPRAY_AT` a spray tries them from proxies' /24s they never used (no unknown
/// names at all), and gets into 77.
const SPRAYED: u64 = 0xdead;
const SPRAY_AT: u64 = 70 * MIN;

fn spray_into_77() -> Vec<LoginEvent> {
    let mut events = vec![];
    for a in 0..50u64 {
        events.push(ev(
            a * 1000,
            100 + a,
            [198, 51, (a % 100) as u8, 9],
            Outcome::Success,
            Some(a),
        ));
    }
    for a in 0..50u64 {
        let proxy = [192, 0, (a % 10) as u8, 1];
        events.push(ev(
            SPRAY_AT + a * 1000,
            100 + a,
            proxy,
            Outcome::WrongPassword,
            Some(SPRAYED),
        ));
    }
    events.push(ev(
        SPRAY_AT + 60_000,
        77,
        [192, 0, 3, 1],
        Outcome::Success,
        Some(SPRAYED),
    ));
    events
}

#[test]
fn real_accounts_tried_from_networks_new_to_them_are_marked() {
    let events = spray_into_77();
    let signals = run_gated(&events);
    assert_eq!(compromised(&signals, Detector::PasswordSpraying), vec![77]);
}

/// An outage logged as wrong passwords: 40 people whose password is the same
/// common one (0xc0c0) signed in from home earlier; during the outage each fails
/// twice with it from their phone, on a carrier's /24s and ASN new to them, and
/// afterwards account 120 gets in from there. With `own_password_failures` off
/// that is a spray by count, marks and all.
fn outage_on_a_common_password(own_password_failures: bool) -> Vec<Signal> {
    const COMMON: u64 = 0xc0c0;
    let phone = |t: u64, account: u64, outcome: Outcome| LoginEvent {
        asn: Some(64_600),
        user_agent: 0xfeed,
        ..ev(
            t,
            account,
            [100, 64, (account % 4) as u8, 1],
            outcome,
            Some(COMMON),
        )
    };
    let mut events = vec![];
    for a in 0..40u64 {
        let home = [198, 51, a as u8, 9];
        events.push(ev(a * 1000, 100 + a, home, Outcome::Success, Some(COMMON)));
    }
    let t = 70 * MIN;
    for a in 0..40u64 {
        for k in 0..2 {
            events.push(phone(
                t + a * 1000 + k * 400,
                100 + a,
                Outcome::WrongPassword,
            ));
        }
    }
    events.push(phone(t + 60_000, 120, Outcome::Success));
    let mut cfg = gated();
    cfg.takeover.own_password_failures = own_password_failures;
    both(cfg, &events)
}

#[test]
fn the_accounts_own_password_failing_is_the_site_failing_not_a_spray() {
    let on = outage_on_a_common_password(true);
    assert!(on.is_empty(), "{on:?}");
    // The same events counted as wrong passwords: a spray, and 120 flagged.
    let off = outage_on_a_common_password(false);
    assert!(
        off.iter()
            .any(|s| s.detector == Detector::PasswordSpraying && s.kind == SignalKind::Attack),
        "{off:?}"
    );
    assert_eq!(compromised(&off, Detector::PasswordSpraying), vec![120]);
}

#[test]
fn an_account_judged_taken_over_forgets_the_stolen_password() {
    // The spray gets into 77, whose history then holds the sprayed password.
    // Account 120 signed in with its own before and was never flagged.
    let mut d = Detectors::new(gated());
    let mut out = vec![];
    for e in &spray_into_77() {
        d.observe(e, &mut out);
    }
    assert_eq!(compromised(&out, Detector::PasswordSpraying), vec![77]);
    let retry = |account, pw| {
        let e = ev(
            SPRAY_AT + 90 * MIN,
            account,
            [192, 0, 3, 1],
            Outcome::WrongPassword,
            Some(pw),
        );
        d.takeover()
            .expect("the history gate is on")
            .novelty(&e)
            .own_password
    };
    // The attacker retrying the stolen password on 77 (force-reset since): a
    // wrong password, counted as one.
    assert!(!retry(77, SPRAYED));
    // Account 120 retrying its own password: the site failing.
    assert!(retry(120, 20));
}

/// Account 7 signs in three times from home (ASN 64,501, its browser 1, the US);
/// then 40 unknown names are tried from a carrier's /24 (ASN 64,502, in the US,
/// browser 9), and account 7 signs in from that /24 with browser `ua`.
fn home_device_on_the_carriers_network(ua: u64) -> Vec<LoginEvent> {
    let at = |t: u64, account: u64, ip: [u8; 4], asn: u32, ua: u64, outcome: Outcome| LoginEvent {
        asn: Some(asn),
        // User agents are 64-bit hashes (`user_agent_hash`).
        user_agent: ua.wrapping_mul(0x9e37_79b9_7f4a_7c15),
        country: gatehouse_detect::Country::from_code("US"),
        ..ev(t, account, ip, outcome, None)
    };
    let mut events: Vec<LoginEvent> = (0..3)
        .map(|d| {
            at(
                d * 60 * MIN,
                7,
                [198, 51, 100, 1],
                64_501,
                1,
                Outcome::Success,
            )
        })
        .collect();
    for a in 0..40u64 {
        let ip = [203, 0, 113, (a % 5) as u8 + 1];
        events.push(at(
            4 * 60 * MIN + a * 1000,
            1000 + a,
            ip,
            64_502,
            9,
            Outcome::UnknownAccount,
        ));
    }
    events.push(at(
        4 * 60 * MIN + 50_000,
        7,
        [203, 0, 113, 9],
        64_502,
        ua,
        Outcome::Success,
    ));
    events
}

#[test]
fn the_owners_own_device_at_home_is_not_the_stuffers() {
    // Account 7's own browser in its own country, on the carrier's /24 that
    // the combo list came through: the owner's phone off the home Wi-Fi.
    let signals = run_gated(&home_device_on_the_carriers_network(1));
    assert!(
        compromised(&signals, Detector::CredentialStuffing).is_empty(),
        "{signals:?}"
    );
    // A browser the account never used is reported.
    let signals = run_gated(&home_device_on_the_carriers_network(2));
    assert_eq!(compromised(&signals, Detector::CredentialStuffing), vec![7]);
    // And so is its own browser without the switch.
    let mut cfg = gated();
    cfg.takeover.own_device_home = false;
    let signals = both(cfg, &home_device_on_the_carriers_network(1));
    assert_eq!(compromised(&signals, Detector::CredentialStuffing), vec![7]);
}
