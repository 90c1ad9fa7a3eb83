//! Login events.

use super::*;

fn login_event(account: &str, at: Timestamp, outcome: EventOutcome, key: u8) -> NewLoginEvent {
    NewLoginEvent {
        time: at,
        account: account.into(),
        link: AccountLink::Resolve,
        ip: "192.0.2.9".into(),
        user_agent: Some("bot/1".into()),
        outcome,
        country: Some("NL".into()),
        asn: Some(64500),
        origin: EventOrigin::Api,
        password_digest: None,
        dedupe_key: [key; 16],
        received_at: T0,
    }
}

both_engines!(login_events_resolve_dedupe_scan_and_purge, |s: Arc<
    dyn Store,
>| async move {
    let a = new_account("known@example.com");
    s.create_account(&a, audit(AuditAction::AccountCreated))
        .await
        .unwrap();
    let t = |ms: i64| T0.plus(Duration::from_millis(ms as u64));
    let batch = vec![
        login_event("known@example.com", t(10), EventOutcome::WrongPassword, 1),
        login_event(&a.id.to_string(), t(10), EventOutcome::Success, 2),
        login_event("nobody@example.com", t(5), EventOutcome::UnknownAccount, 3),
        login_event("app-user-7", t(20), EventOutcome::Success, 4),
        // The same event twice in one batch: stored once.
        login_event("known@example.com", t(10), EventOutcome::WrongPassword, 1),
    ];
    let ingest = NewAuditEntry::new(
        T0,
        Actor::Operator("op".into()),
        AuditAction::LoginEventsIngested,
    )
    .detail(serde_json::json!({ "origin": "api" }));
    assert_eq!(
        s.insert_login_events(&batch, Some(ingest.clone()))
            .await
            .unwrap(),
        4
    );
    // Sent again (a retried request, a re-run import): nothing new.
    assert_eq!(
        s.insert_login_events(&batch[..2], Some(ingest))
            .await
            .unwrap(),
        0
    );
    let entries = s.audit_entries(0, 100).await.unwrap();
    let ingested: Vec<serde_json::Value> = entries
        .iter()
        .filter(|e| e.action == "login_events.ingested")
        .map(|e| serde_json::from_str(&e.detail).unwrap())
        .collect();
    assert_eq!(ingested.len(), 2);
    assert_eq!(ingested[0]["inserted"], 4);
    assert_eq!(ingested[0]["duplicates"], 1);
    assert_eq!(ingested[0]["origin"], "api");
    assert_eq!(ingested[1]["duplicates"], 2);

    // Scan in (time, id) order, two at a time.
    let (from, until) = (T0, t(1000));
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = s.login_events(from, until, after, 2).await.unwrap();
        after = page.last().map(LoginEvent::cursor);
        let short = page.len() < 2;
        seen.extend(page);
        if short {
            break;
        }
    }
    let accounts: Vec<&str> = seen.iter().map(|e| e.account.as_str()).collect();
    let id_text = a.id.to_string();
    assert_eq!(
        accounts,
        [
            "nobody@example.com",
            "known@example.com",
            id_text.as_str(),
            "app-user-7"
        ]
    );
    // Addresses and Gatehouse ids resolve; unknown addresses and foreign ids are kept, unlinked.
    let links: Vec<Option<AccountId>> = seen.iter().map(|e| e.account_id).collect();
    assert_eq!(links, [None, Some(a.id), Some(a.id), None]);
    let first = &seen[1];
    assert_eq!(first.outcome, EventOutcome::WrongPassword);
    assert_eq!(first.origin, EventOrigin::Api);
    assert_eq!(
        (first.ip.as_str(), first.user_agent.as_deref()),
        ("192.0.2.9", Some("bot/1"))
    );
    assert_eq!(
        (first.country.as_deref(), first.asn),
        (Some("NL"), Some(64500))
    );
    assert_eq!(
        (first.time, first.received_at, first.password_digest.clone()),
        (t(10), T0, None)
    );
    // Half-open ranges.
    assert_eq!(s.count_login_events(t(5), t(20)).await.unwrap(), 3);
    assert_eq!(
        s.login_events(t(10), t(11), None, 10).await.unwrap().len(),
        2
    );

    // Retention deletes the oldest first, in bounded steps.
    assert_eq!(s.purge_login_events(t(20), 2).await.unwrap(), 2);
    let left = s.login_events(from, until, None, 10).await.unwrap();
    assert_eq!(left.len(), 2);
    assert_eq!(left[0].time, t(10));
    assert_eq!(s.purge_login_events(t(20), 2).await.unwrap(), 1);
    assert_eq!(s.purge_login_events(t(20), 2).await.unwrap(), 0);
    assert_eq!(s.count_login_events(from, until).await.unwrap(), 1);
});

both_engines!(own_logins_store_their_event_with_the_login, |s: Arc<
    dyn Store,
>| async move {
    let a = new_account("own@example.com");
    s.create_account(&a, audit(AuditAction::AccountCreated))
        .await
        .unwrap();
    let own = |outcome, account: Option<AccountId>, key: u8| NewLoginEvent {
        link: AccountLink::Known(account),
        origin: EventOrigin::Gatehouse,
        password_digest: Some([key; 32]),
        user_agent: None,
        country: None,
        asn: None,
        ..login_event("own@example.com", T0, outcome, key)
    };
    let failed = own(EventOutcome::WrongPassword, Some(a.id), 1);
    s.record_login_failure(
        &[("acct:own@example.com", ThrottlePolicy::ACCOUNT)],
        T0,
        Some(&failed),
        audit(AuditAction::LoginFailed),
    )
    .await
    .unwrap();
    let unknown = NewLoginEvent {
        account: "ghost@example.com".into(),
        ..own(EventOutcome::UnknownAccount, None, 2)
    };
    s.record_login_failure(
        &[("acct:ghost@example.com", ThrottlePolicy::ACCOUNT)],
        T0,
        Some(&unknown),
        audit(AuditAction::LoginFailed),
    )
    .await
    .unwrap();
    let (sess, _) = new_session(a.id, T0);
    let ok = own(EventOutcome::Success, Some(a.id), 3);
    s.create_session(
        &sess,
        "acct:own@example.com",
        Some(&ok),
        audit(AuditAction::LoginSucceeded),
    )
    .await
    .unwrap();
    let events = s
        .login_events(T0, T0.plus(Duration::from_secs(1)), None, 10)
        .await
        .unwrap();
    let got: Vec<_> = events
        .iter()
        .map(|e| {
            (
                e.account.as_str(),
                e.account_id,
                e.outcome,
                e.origin,
                e.password_digest.clone(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "own@example.com",
                Some(a.id),
                EventOutcome::WrongPassword,
                EventOrigin::Gatehouse,
                Some(vec![1; 32])
            ),
            (
                "ghost@example.com",
                None,
                EventOutcome::UnknownAccount,
                EventOrigin::Gatehouse,
                Some(vec![2; 32])
            ),
            (
                "own@example.com",
                Some(a.id),
                EventOutcome::Success,
                EventOrigin::Gatehouse,
                Some(vec![3; 32])
            ),
        ]
    );
    // A login whose transaction fails (here: a session id taken) leaves no event behind.
    let dup = own(EventOutcome::Success, Some(a.id), 4);
    assert!(
        s.create_session(
            &sess,
            "acct:own@example.com",
            Some(&dup),
            audit(AuditAction::LoginSucceeded)
        )
        .await
        .is_err()
    );
    assert_eq!(
        s.count_login_events(T0, T0.plus(Duration::from_secs(1)))
            .await
            .unwrap(),
        3
    );
});

both_engines!(
    late_events_and_the_monitors_progress_are_reported,
    |s: Arc<dyn Store>| async move {
        let hour = Duration::from_secs(3600);
        let received = T0.plus(Duration::from_secs(10 * 86_400));
        let mut batch = Vec::new();
        // Two events a day old when they arrived, one live, one received long ago.
        for (key, age_secs, recv) in [
            (1u8, 86_400u64, received),
            (2, 2 * 86_400, received),
            (3, 60, received),
            (4, 86_400, T0),
        ] {
            let mut e = login_event("someone@example.com", received, EventOutcome::Success, key);
            e.time = recv.minus(Duration::from_secs(age_secs));
            e.received_at = recv;
            batch.push(e);
        }
        s.insert_login_events(&batch, None).await.unwrap();
        let late = s
            .late_login_events(hour, received.minus(hour))
            .await
            .unwrap();
        assert_eq!(late.count, 2, "{late:?}");
        assert_eq!(
            late.oldest,
            Some(received.minus(Duration::from_secs(2 * 86_400)))
        );
        assert_eq!(
            late.newest,
            Some(received.minus(Duration::from_secs(86_400)))
        );
        assert_eq!(late.last_received, Some(received));
        let none = s
            .late_login_events(hour, received.plus(hour))
            .await
            .unwrap();
        assert_eq!((none.count, none.oldest), (0, None));

        let before = s.monitor_progress("detection").await.unwrap();
        assert_eq!((before.after_id, before.saved_at), (0, None));
        assert!(before.latest_id > 0);
        s.save_monitor_checkpoint("detection", 2, received)
            .await
            .unwrap();
        let after = s.monitor_progress("detection").await.unwrap();
        assert_eq!((after.after_id, after.saved_at), (2, Some(received)));
        assert_eq!(after.latest_id, before.latest_id);
    }
);

// A batch as the API sends them (hundreds of events): on PostgreSQL it goes
// through COPY and a staging table, so every column must come back as sent,
// text the COPY format escapes included, ids in the batch's order, duplicates
// (stored or within the batch) skipped, and accounts resolved by address or id.
both_engines!(large_batches_store_every_field_in_order, |s: Arc<
    dyn Store,
>| async move {
    let a = new_account("big@example.com");
    s.create_account(&a, audit(AuditAction::AccountCreated))
        .await
        .unwrap();
    let id_text = a.id.to_string();
    let event = |n: u16| {
        let mut dedupe_key = [0u8; 16];
        dedupe_key[..2].copy_from_slice(&n.to_be_bytes());
        NewLoginEvent {
            account: match n % 3 {
                0 => "big@example.com".to_owned(),
                1 => id_text.clone(),
                _ => format!("stranger{n}@example.com"),
            },
            // Tab, newline, carriage return and backslash: COPY's escapes.
            user_agent: n.is_multiple_of(2).then(|| format!("agent\t{n}\\x\r\nend")),
            password_digest: n.is_multiple_of(5).then_some([n as u8; 32]),
            country: (!n.is_multiple_of(7)).then(|| "SE".to_owned()),
            asn: (!n.is_multiple_of(11)).then_some(u32::from(n) + 64_000),
            dedupe_key,
            ..login_event(
                "x",
                T0.plus(Duration::from_millis(u64::from(n))),
                EventOutcome::WrongPassword,
                0,
            )
        }
    };
    let mut batch: Vec<NewLoginEvent> = (0..300).map(event).collect();
    // Repeats within the batch are stored once.
    batch.push(event(7));
    batch.push(event(250));
    assert_eq!(s.insert_login_events(&batch, None).await.unwrap(), 300);
    // The same batch again, and one with one new event: only that one.
    assert_eq!(s.insert_login_events(&batch, None).await.unwrap(), 0);
    let mut again: Vec<NewLoginEvent> = (0..100).map(event).collect();
    again.push(event(300));
    assert_eq!(s.insert_login_events(&again, None).await.unwrap(), 1);

    let stored = s.login_events_after_id(0, 1000).await.unwrap();
    assert_eq!(stored.len(), 301);
    for (n, got) in stored.iter().enumerate() {
        let want = event(n as u16);
        assert_eq!(
            got.time, want.time,
            "event {n}: ids follow the batch's order"
        );
        assert_eq!(got.account, want.account);
        let linked = (n % 3 != 2).then_some(a.id);
        assert_eq!(got.account_id, linked, "event {n}");
        assert_eq!(got.user_agent, want.user_agent, "event {n}");
        assert_eq!(
            got.password_digest,
            want.password_digest.map(|d| d.to_vec())
        );
        assert_eq!((got.country.clone(), got.asn), (want.country, want.asn));
        assert_eq!(
            (got.ip.as_str(), got.outcome),
            ("192.0.2.9", EventOutcome::WrongPassword)
        );
        assert_eq!((got.origin, got.received_at), (EventOrigin::Api, T0));
    }
});

// PostgreSQL copies a batch straight into the table after probing its keys;
// a key another writer stores between that probe and the COPY makes the COPY
// fail, and the batch must then go in through ON CONFLICT with nothing lost
// and the key stored once. Made deterministic by holding the key in an open
// transaction until the COPY is seen waiting on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_batch_falls_back_when_a_key_is_written_concurrently() {
    use sqlx::Connection as _;
    let Some(db) = fresh(Engine::Postgres).await else {
        return;
    };
    let batch: Vec<NewLoginEvent> = (0..100u16)
        .map(|n| {
            let mut e = login_event(
                "racer@example.com",
                T0.plus(Duration::from_millis(u64::from(n))),
                EventOutcome::WrongPassword,
                0,
            );
            e.dedupe_key = [0; 16];
            e.dedupe_key[..2].copy_from_slice(&n.to_be_bytes());
            e
        })
        .collect();
    let mut other = sqlx::PgConnection::connect(&db.url).await.unwrap();
    let mut held = other.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO login_events (time, account, ip, outcome, origin, dedupe_key, received_at) \
         VALUES ($1, 'racer@example.com', '192.0.2.9', 'wrong_password', 'api', $2, $1)",
    )
    .bind(T0.as_millis())
    .bind(&batch[42].dedupe_key[..])
    .execute(&mut *held)
    .await
    .unwrap();

    let store = db.store.clone();
    let writer = tokio::spawn({
        let batch = batch.clone();
        async move { store.insert_login_events(&batch, None).await }
    });
    // The probe cannot see the uncommitted key, so the COPY goes ahead and
    // waits on it in the unique index. (Watched from a third connection: a
    // transaction sees one snapshot of `pg_stat_activity`.)
    let mut watch = sqlx::PgConnection::connect(&db.url).await.unwrap();
    let mut waited = false;
    for _ in 0..200 {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock' \
             AND query LIKE 'COPY login_events %'",
        )
        .fetch_one(&mut watch)
        .await
        .unwrap();
        if n > 0 {
            waited = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(waited, "the COPY never waited on the held key");
    held.commit().await.unwrap();

    assert_eq!(writer.await.unwrap().unwrap(), 99);
    let stored = db.store.login_events_after_id(0, 1000).await.unwrap();
    assert_eq!(stored.len(), 100, "every event once, the held one included");
    // The batch's own rows follow its order (after the concurrent one).
    let times: Vec<Timestamp> = stored[1..].iter().map(|e| e.time).collect();
    let want: Vec<Timestamp> = batch
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 42)
        .map(|(_, e)| e.time)
        .collect();
    assert_eq!(times, want);
}
