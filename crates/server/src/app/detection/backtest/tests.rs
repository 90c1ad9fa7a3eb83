use super::*;

#[test]
fn median_counts_quiet_days_as_zero() {
    assert_eq!(median_daily(&[], 30), 0.0);
    assert_eq!(median_daily(&[(1, 5), (2, 7)], 3), 5.0);
    assert_eq!(median_daily(&[(1, 5), (2, 7), (3, 9), (4, 11)], 4), 8.0);
    let busy: Vec<_> = (0..30).map(|d| (d, 4)).collect();
    assert_eq!(median_daily(&busy, 30), 4.0);
}

#[test]
fn warnings_speak_up_for_a_broken_rule() {
    let broken = BacktestOutcome {
        version: None,
        flagged_accounts: 6000,
        findings: 6100,
        unknown_addresses: 0,
        per_day: 6000.0,
        share_of_accounts: 0.3,
        multiple_of_normal: Some(1500.0),
    };
    let current = BacktestOutcome {
        version: Some(3),
        flagged_accounts: 30,
        per_day: 30.0,
        share_of_accounts: 0.0015,
        multiple_of_normal: Some(7.5),
        ..broken.clone()
    };
    let w = warnings(&broken, Some(&current));
    assert_eq!(w.len(), 3, "{w:?}");
    assert!(w[0].contains("30.0% of all accounts"));
    assert!(w[1].contains("1500×"));
    assert!(w[2].contains("current version (v3) flags 30"));
    assert!(warnings(&current, None).is_empty());
}

#[test]
fn attack_windows_are_the_hours_far_above_normal_merged() {
    // A week of hours with 3–5 mistyped addresses each; a combo list in
    // hours 100–101 and a smaller burst in hour 140.
    let mut hours: BTreeMap<i64, (u64, u64)> =
        (0..168).map(|h| (h, (200, 3 + (h as u64 % 3)))).collect();
    hours.insert(100, (3200, 3004));
    hours.insert(101, (1700, 1504));
    hours.insert(140, (300, 90));
    let w = attack_windows(&hours, median_unknown(&hours));
    assert_eq!(w.len(), 2, "{w:?}");
    assert_eq!(
        w[0].start,
        Timestamp::from_millis(100 * 3_600_000).to_rfc3339()
    );
    assert_eq!(
        w[0].end,
        Timestamp::from_millis(102 * 3_600_000).to_rfc3339()
    );
    assert_eq!((w[0].unknown_account, w[0].attempts), (4508, 4900));
    assert_eq!(w[0].expected_unknown, 8.0, "two median hours");
    assert_eq!(w[1].unknown_account, 90);
    // An outage or a busy hour of people (more attempts, the same share of
    // mistyped addresses) is not an attack window.
    hours.insert(100, (3200, 40));
    hours.insert(101, (200, 4));
    hours.insert(140, (200, 4));
    assert!(attack_windows(&hours, median_unknown(&hours)).is_empty());
    assert!(attack_windows(&BTreeMap::new(), 0.0).is_empty());
    // A period that is all attack, judged against the history before it.
    let attack: BTreeMap<i64, (u64, u64)> = [(500, (3200, 3004))].into();
    assert!(attack_windows(&attack, median_unknown(&attack)).is_empty());
    assert_eq!(attack_windows(&attack, 4.0).len(), 1);
}

#[test]
fn csv_fields_are_quoted_and_never_formulas() {
    assert_eq!(csv_field("plain"), "plain");
    assert_eq!(csv_field("a, b"), "\"a, b\"");
    assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    assert_eq!(csv_field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
    assert_eq!(csv_field("-1,2"), "\"'-1,2\"");
}

/// A stored event at hour `h` logged as "unknown account", naming an existing
/// account or not.
fn unknown_event(h: i64, existing: bool) -> LoginEvent {
    LoginEvent {
        id: 1,
        time: Timestamp::from_millis(h * 3_600_000 + 60_000),
        account: "someone@example.com".to_owned(),
        account_id: existing.then(|| AccountId::from(uuid::Uuid::nil())),
        ip: "192.0.2.10".to_owned(),
        user_agent: None,
        outcome: EventOutcome::UnknownAccount,
        country: None,
        asn: None,
        origin: gatehouse_domain::login_event::EventOrigin::Import,
        password_digest: None,
        received_at: Timestamp::from_millis(h * 3_600_000 + 60_000),
    }
}

#[test]
fn an_outage_logged_as_unknown_accounts_is_an_outage_like_burst() {
    // The detectors read "unknown" on an existing account as a failed attempt
    // on it (the directory was down), and a truly unknown address as unknown.
    let mapper = crate::app::findings::EventMapper::new();
    let real = mapper
        .detect_event(&unknown_event(0, true))
        .expect("parses");
    assert_eq!(real.outcome, gatehouse_detect::Outcome::WrongPassword);
    let combo = mapper
        .detect_event(&unknown_event(0, false))
        .expect("parses");
    assert_eq!(combo.outcome, gatehouse_detect::Outcome::UnknownAccount);

    // A quiet week (3 mistyped addresses an hour), an outage hour (400
    // "unknown" attempts on existing accounts) and a combo list (400 on
    // addresses that do not exist): two windows, only the first outage-like.
    let mut hours = Hours::default();
    for h in 0..168 {
        for _ in 0..3 {
            hours.add(&unknown_event(h, false));
        }
    }
    for _ in 0..400 {
        hours.add(&unknown_event(100, true));
        hours.add(&unknown_event(140, false));
    }
    let mut w = attack_windows(&hours.0, median_unknown(&hours.0));
    hours.label(&mut w);
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(w[0].outage_like && w[0].existing_accounts == 400, "{w:?}");
    assert!(!w[1].outage_like && w[1].existing_accounts == 0, "{w:?}");
}
