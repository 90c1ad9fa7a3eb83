//! The notice outbox: idempotent enqueue, leases, retries, the per-recipient cap.

use super::*;

both_engines!(outbox_enqueue_is_idempotent_and_leases_work, |s: Arc<
    dyn Store,
>| async move {
    let n = notice("a@example.com", NoticeKind::Recovery, "k1", T0);
    assert!(
        s.enqueue_notice(&n, Some(audit(AuditAction::RecoveryRequested)))
            .await
            .unwrap()
    );
    let again = notice("a@example.com", NoticeKind::Recovery, "k1", T0);
    assert!(
        !s.enqueue_notice(&again, None).await.unwrap(),
        "same key, one notice"
    );
    // A reference collision is a conflict the caller can retry.
    let mut clash = notice("b@example.com", NoticeKind::Recovery, "k2", T0);
    clash.reference = n.reference.clone();
    let err = s.enqueue_notice(&clash, None).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(NOTICE_REFERENCE_TAKEN)),
        "{err:?}"
    );

    let p = claim_policy(T0, 5);
    let report = s.claim_notices(&p).await.unwrap();
    assert_eq!(report.claimed.len(), 1);
    let c = &report.claimed[0];
    assert_eq!(c.notice.state, NoticeState::Sending);
    assert_eq!(c.notice.attempts, 1);
    assert_eq!(c.payload, serde_json::json!({ "n": "k1" }));
    assert_eq!(c.notice.message_id, n.message_id);
    // Leased: nobody else gets it until the lease runs out.
    assert!(
        s.claim_notices(&claim_policy(T0.plus(Duration::from_secs(59)), 5))
            .await
            .unwrap()
            .claimed
            .is_empty()
    );
    let later = claim_policy(T0.plus(Duration::from_secs(61)), 5);
    let re = s.claim_notices(&later).await.unwrap();
    assert_eq!(re.claimed.len(), 1, "an expired lease is taken over");
    assert_eq!(re.claimed[0].notice.attempts, 2);
    assert_eq!(
        re.claimed[0].notice.message_id, n.message_id,
        "a re-send repeats the Message-ID"
    );
    // The first worker lost its lease and cannot settle the row.
    assert!(!s.notice_sent(n.id, &p.lease_id, T0).await.unwrap());
    assert!(
        s.notice_sent(n.id, &later.lease_id, later.now)
            .await
            .unwrap()
    );
    let by_ref = s.notice_by_reference(&n.reference).await.unwrap().unwrap();
    assert_eq!(by_ref.state, NoticeState::Sent);
    assert_eq!(by_ref.sent_at, Some(later.now));
    assert!(
        s.notice_by_reference("GH-0000-0000")
            .await
            .unwrap()
            .is_none()
    );
    let log = s.audit_entries(0, 10).await.unwrap();
    assert_eq!(log.len(), 1, "only the first enqueue was audited");
});

both_engines!(
    outbox_retry_failure_and_expiry,
    |s: Arc<dyn Store>| async move {
        let a = notice("a@example.com", NoticeKind::PasswordChanged, "a", T0);
        let mut b = notice("b@example.com", NoticeKind::Recovery, "b", T0);
        b.expires_at = Some(T0.plus(Duration::from_secs(1800)));
        s.enqueue_notice(&a, None).await.unwrap();
        s.enqueue_notice(&b, None).await.unwrap();
        let p = claim_policy(T0, 5);
        let got = s.claim_notices(&p).await.unwrap();
        assert_eq!(got.claimed.len(), 2);
        // a: temporary failure, retried later; b: refused for good.
        let retry_at = T0.plus(Duration::from_secs(30));
        assert!(
            s.notice_retry(a.id, &p.lease_id, retry_at, "421 busy")
                .await
                .unwrap()
        );
        assert!(
            s.notice_failed(b.id, &p.lease_id, "550 no such user")
                .await
                .unwrap()
        );
        assert!(
            s.claim_notices(&claim_policy(T0.plus(Duration::from_secs(29)), 5))
                .await
                .unwrap()
                .claimed
                .is_empty()
        );
        let failed = s
            .notices(&NoticeFilter {
                state: Some(NoticeState::Failed),
                account: None,
                limit: 10,
            })
            .await
            .unwrap();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].last_error.as_deref(), Some("550 no such user"));
        let due = s.next_notice_due().await.unwrap();
        assert_eq!(due, Some(retry_at));
        let p2 = claim_policy(retry_at, 5);
        let again = s.claim_notices(&p2).await.unwrap();
        assert_eq!(again.claimed.len(), 1);
        assert_eq!(
            again.claimed[0].notice.last_error.as_deref(),
            Some("421 busy")
        );
        assert!(s.notice_sent(a.id, &p2.lease_id, retry_at).await.unwrap());
        // An operator sends the failed one again; by then its code has expired.
        assert!(
            s.retry_failed_notice(b.id, T0, audit(AuditAction::NoticeRetried))
                .await
                .unwrap()
        );
        assert!(
            !s.retry_failed_notice(b.id, T0, audit(AuditAction::NoticeRetried))
                .await
                .unwrap(),
            "only failed ones"
        );
        let late = s
            .claim_notices(&claim_policy(T0.plus(Duration::from_secs(3600)), 5))
            .await
            .unwrap();
        assert!(late.claimed.is_empty());
        assert_eq!(late.expired, 1);
        let counts: std::collections::HashMap<_, _> =
            s.outbox_counts().await.unwrap().into_iter().collect();
        assert_eq!(counts.get(&NoticeState::Sent), Some(&1));
        assert_eq!(counts.get(&NoticeState::Expired), Some(&1));
    }
);

both_engines!(an_operator_alert_is_never_held_by_the_cap, |s: Arc<
    dyn Store,
>| async move {
    // An operator who is also an account holder has used up the cap (1)...
    let to = "oncall@example.com";
    s.enqueue_notice(&notice(to, NoticeKind::PasswordChanged, "pc", T0), None)
        .await
        .unwrap();
    let p = claim_policy(T0, 1);
    let got = s.claim_notices(&p).await.unwrap();
    assert_eq!(got.claimed.len(), 1);
    s.notice_sent(got.claimed[0].notice.id, &p.lease_id, T0)
        .await
        .unwrap();
    // ...and the breaker trips: its alert goes out all the same, while another
    // security notice to the same address is held.
    let at = T0.plus(Duration::from_secs(60));
    s.enqueue_notice(&notice(to, NoticeKind::BreakerTripped, "trip/1", at), None)
        .await
        .unwrap();
    s.enqueue_notice(&notice(to, NoticeKind::PasswordChanged, "pc2", at), None)
        .await
        .unwrap();
    let got = s.claim_notices(&claim_policy(at, 1)).await.unwrap();
    let kinds: Vec<NoticeKind> = got.claimed.iter().map(|c| c.notice.kind).collect();
    assert_eq!(kinds, [NoticeKind::BreakerTripped]);
    assert_eq!(got.held.len(), 1);
});

both_engines!(outbox_per_recipient_cap_holds_and_coalesces, |s: Arc<
    dyn Store,
>| async move {
    let to = "Cap@Example.com";
    let mut t = T0;
    // Two notices go out (cap 2).
    for i in 0..2 {
        s.enqueue_notice(
            &notice(to, NoticeKind::PasswordChanged, &format!("s{i}"), t),
            None,
        )
        .await
        .unwrap();
        let p = claim_policy(t, 2);
        let got = s.claim_notices(&p).await.unwrap();
        assert_eq!(got.claimed.len(), 1);
        s.notice_sent(got.claimed[0].notice.id, &p.lease_id, t)
            .await
            .unwrap();
        t = t.plus(Duration::from_secs(60));
    }
    // Three more of one kind and one of another, all over the cap.
    let mut last = None;
    for i in 0..3 {
        let n = notice(
            &to.to_lowercase(),
            NoticeKind::PasswordChanged,
            &format!("o{i}"),
            t.plus(Duration::from_millis(i)),
        );
        s.enqueue_notice(&n, None).await.unwrap();
        last = Some(n);
    }
    s.enqueue_notice(&notice(to, NoticeKind::Recovery, "r", t), None)
        .await
        .unwrap();
    // Another address is not affected.
    s.enqueue_notice(
        &notice("other@example.com", NoticeKind::PasswordChanged, "x", t),
        None,
    )
    .await
    .unwrap();
    let p = claim_policy(t.plus(Duration::from_secs(1)), 2);
    let got = s.claim_notices(&p).await.unwrap();
    assert_eq!(got.claimed.len(), 1);
    assert_eq!(got.claimed[0].notice.recipient, "other@example.com");
    assert!(
        s.notice_sent(got.claimed[0].notice.id, &p.lease_id, p.now)
            .await
            .unwrap()
    );
    assert_eq!(
        got.coalesced, 2,
        "the older two password notices merged into the newest"
    );
    assert_eq!(got.held.len(), 2, "one held notice per kind");
    let last = last.unwrap();
    let survivor = s
        .notice_by_reference(&last.reference)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(survivor.state, NoticeState::Pending);
    assert_eq!(survivor.coalesced_count, 2);
    // Held until the first sent notice leaves the 24-hour window.
    assert_eq!(
        survivor.next_attempt_at,
        T0.plus(Duration::from_secs(24 * 3600))
    );
    let merged = s
        .notices(&NoticeFilter {
            state: Some(NoticeState::Coalesced),
            account: None,
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(merged.len(), 2);
    assert!(merged.iter().all(|m| m.coalesced_into == Some(last.id)));
    // Nothing is lost: once the window has room, the survivor goes out.
    // At T0+24h one slot is free: the held recovery notice (older) takes it
    // and the password notice waits for the next slot.
    let p = claim_policy(T0.plus(Duration::from_secs(24 * 3600)), 2);
    let got = s.claim_notices(&p).await.unwrap();
    assert_eq!(got.claimed.len(), 1, "{got:?}");
    assert_eq!(got.claimed[0].notice.kind, NoticeKind::Recovery);
    assert!(
        s.notice_sent(got.claimed[0].notice.id, &p.lease_id, p.now)
            .await
            .unwrap()
    );
    let p = claim_policy(T0.plus(Duration::from_secs(24 * 3600 + 61)), 2);
    let got = s.claim_notices(&p).await.unwrap();
    assert_eq!(got.claimed.len(), 1, "{got:?}");
    assert_eq!(got.claimed[0].notice.id, last.id);
});

both_engines!(outbox_concurrent_claimers_never_share_a_notice, |s: Arc<
    dyn Store,
>| async move {
    for i in 0..60 {
        s.enqueue_notice(
            &notice(
                &format!("u{i}@example.com"),
                NoticeKind::Recovery,
                &format!("c{i}"),
                T0,
            ),
            None,
        )
        .await
        .unwrap();
    }
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let mut p = claim_policy(T0, 5);
                p.limit = 7;
                let got = s.claim_notices(&p).await.unwrap();
                if got.claimed.is_empty() {
                    break mine;
                }
                for c in got.claimed {
                    assert!(s.notice_sent(c.notice.id, &p.lease_id, T0).await.unwrap());
                    mine.push(c.notice.id);
                }
            }
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let unique: std::collections::HashSet<_> = all.iter().collect();
    assert_eq!(all.len(), 60, "every notice claimed once");
    assert_eq!(unique.len(), 60);
});
