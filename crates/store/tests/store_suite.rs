//! The store test suite: every test runs on SQLite and on PostgreSQL.

use std::sync::Arc;
use std::time::Duration;

use gatehouse_domain::audit::{Actor, AuditAction, NewAuditEntry};
use gatehouse_domain::login_event::{EventOrigin, EventOutcome};
use gatehouse_domain::status::{Impact, IncidentState, SubscriberState};
use gatehouse_domain::throttle::ThrottlePolicy;
use gatehouse_domain::{
    AccountId, ApiKey, NoticeId, NoticeKind, OperatorId, OsEntropy, RecoveryId, Reference,
    SessionId, SessionToken, Timestamp,
};
use gatehouse_store::testing::{Engine, fresh};
use gatehouse_store::*;

const T0: Timestamp = Timestamp::from_millis(1_700_000_000_000);

fn audit(action: AuditAction) -> NewAuditEntry {
    NewAuditEntry::new(T0, Actor::System, action)
}

fn new_account(email: &str) -> NewAccount {
    NewAccount {
        id: AccountId::generate(&OsEntropy),
        email: email.to_string(),
        email_key: email.to_lowercase(),
        created_at: T0,
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA".into(),
    }
}

fn new_session(account: AccountId, at: Timestamp) -> (NewSession, SessionToken) {
    let token = SessionToken::generate(&OsEntropy);
    let s = NewSession {
        id: SessionId::generate(&OsEntropy),
        account,
        token_hash: token.hash(),
        created_at: at,
        expires_at: at.plus(Duration::from_secs(3600)),
        ip: Some("192.0.2.1".into()),
        user_agent: Some("test".into()),
    };
    (s, token)
}

/// Runs one async test body on both engines, as two named tests.
macro_rules! both_engines {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = fresh(Engine::Sqlite).await.unwrap();
                ($body)(db.store.clone()).await;
                assert_chain_intact(&db.store).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(db) = fresh(Engine::Postgres).await else {
                    return;
                };
                ($body)(db.store.clone()).await;
                assert_chain_intact(&db.store).await;
            }
        }
    };
}

async fn assert_chain_intact(store: &Arc<dyn Store>) {
    match verify_audit_chain(store.as_ref()).await.unwrap() {
        ChainReport::Intact { .. } => {}
        broken => panic!("audit chain broken: {broken:?}"),
    }
}

both_engines!(accounts_are_unique_by_case_folded_email, |s: Arc<
    dyn Store,
>| async move {
    let a = new_account("Alice@example.com");
    let created = s
        .create_account(&a, audit(AuditAction::AccountCreated))
        .await
        .unwrap();
    assert_eq!(created.email, "Alice@example.com");
    let dup = new_account("alice@EXAMPLE.com");
    let err = s
        .create_account(&dup, audit(AuditAction::AccountCreated))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let rec = s.login_record("alice@example.com").await.unwrap().unwrap();
    assert_eq!(rec.account.id, a.id);
    assert_eq!(rec.version, 1);
    assert_eq!(rec.state, gatehouse_domain::CredentialState::Active);
    assert_eq!(rec.hash, a.password_hash);
    assert_eq!(
        rec.changed_at, a.created_at,
        "the password was set with the account"
    );
    assert!(s.login_record("bob@example.com").await.unwrap().is_none());
    assert_eq!(s.account(a.id).await.unwrap().unwrap(), created);
    assert_eq!(s.count_accounts().await.unwrap(), 1);
    let log = s.audit_entries(0, 10).await.unwrap();
    assert_eq!(log.len(), 1, "the failed insert left no audit entry");
    assert_eq!(log[0].action, "account.created");
});

both_engines!(import_skips_existing_and_reports_per_row, |s: Arc<
    dyn Store,
>| async move {
    s.create_account(
        &new_account("old@example.com"),
        audit(AuditAction::AccountCreated),
    )
    .await
    .unwrap();
    let rows: Vec<NewAccount> = [
        "a@example.com",
        "old@example.com",
        "b@example.com",
        "A@example.com",
    ]
    .iter()
    .map(|e| new_account(e))
    .collect();
    let flags = s
        .import_accounts(&rows, audit(AuditAction::AccountsImported))
        .await
        .unwrap();
    assert_eq!(flags, vec![true, false, true, false]);
    assert_eq!(s.count_accounts().await.unwrap(), 3);
    assert!(s.login_record("b@example.com").await.unwrap().is_some());
    // Re-running is harmless: nothing is inserted twice.
    let again = s
        .import_accounts(&rows, audit(AuditAction::AccountsImported))
        .await
        .unwrap();
    assert_eq!(again, vec![false; 4]);
    let log = s.audit_entries(0, 10).await.unwrap();
    assert_eq!(log[1].detail, r#"{"inserted":2,"skipped_existing":2}"#);
});

both_engines!(sessions_lifecycle, |s: Arc<dyn Store>| async move {
    let a = new_account("s@example.com");
    s.create_account(&a, audit(AuditAction::AccountCreated))
        .await
        .unwrap();
    let other = new_account("other@example.com");
    s.create_account(&other, audit(AuditAction::AccountCreated))
        .await
        .unwrap();

    let (s1, t1) = new_session(a.id, T0);
    let (s2, _t2) = new_session(a.id, T0.plus(Duration::from_secs(1)));
    let (s3, _t3) = new_session(a.id, T0.plus(Duration::from_secs(2)));
    for n in [&s1, &s2, &s3] {
        s.create_session(
            n,
            "acct:s@example.com",
            None,
            audit(AuditAction::LoginSucceeded),
        )
        .await
        .unwrap();
    }
    let found = s.session_by_token(&t1.hash()).await.unwrap().unwrap();
    assert_eq!(found.id, s1.id);
    assert_eq!(found.account_email, "s@example.com");
    assert_eq!(found.ip.as_deref(), Some("192.0.2.1"));
    assert!(
        s.session_by_token(&SessionToken::generate(&OsEntropy).hash())
            .await
            .unwrap()
            .is_none()
    );

    let later = T0.plus(Duration::from_secs(120));
    s.touch_session(s1.id, later).await.unwrap();
    let list = s.active_sessions(a.id, T0).await.unwrap();
    assert_eq!(
        list.iter().map(|x| x.id).collect::<Vec<_>>(),
        vec![s1.id, s3.id, s2.id]
    );
    // Expired sessions are not listed.
    assert!(
        s.active_sessions(a.id, T0.plus(Duration::from_secs(7200)))
            .await
            .unwrap()
            .is_empty()
    );

    // Another account cannot end my session.
    assert!(
        !s.end_session(
            other.id,
            s2.id,
            later,
            "user",
            audit(AuditAction::SessionEnded)
        )
        .await
        .unwrap()
    );
    assert!(
        s.end_session(a.id, s2.id, later, "user", audit(AuditAction::SessionEnded))
            .await
            .unwrap()
    );
    assert!(
        !s.end_session(a.id, s2.id, later, "user", audit(AuditAction::SessionEnded))
            .await
            .unwrap()
    );
    let n = s
        .end_other_sessions(
            a.id,
            Some(s1.id),
            later,
            "user",
            audit(AuditAction::OtherSessionsEnded),
        )
        .await;
    assert_eq!(n.unwrap(), 1);
    let left = s.active_sessions(a.id, later).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].id, s1.id);
    let revoked = s.session_by_token(&s2.token_hash).await.unwrap().unwrap();
    assert_eq!(revoked.state, gatehouse_domain::SessionState::Revoked);
});

both_engines!(
    password_change_bumps_version_and_ends_other_sessions,
    |s: Arc<dyn Store>| async move {
        let a = new_account("p@example.com");
        s.create_account(&a, audit(AuditAction::AccountCreated))
            .await
            .unwrap();
        let (keep, _) = new_session(a.id, T0);
        let (other, _) = new_session(a.id, T0);
        s.create_session(&keep, "k", None, audit(AuditAction::LoginSucceeded))
            .await
            .unwrap();
        s.create_session(&other, "k", None, audit(AuditAction::LoginSucceeded))
            .await
            .unwrap();
        let change = PasswordChange {
            account: a.id,
            expected_version: 1,
            new_hash: "$argon2id$new",
            now: T0,
            keep_session: Some(keep.id),
            end_other_sessions: true,
            end_reason: "password_changed",
            notice: None,
        };
        let done = s
            .change_password(&change, audit(AuditAction::PasswordChanged))
            .await
            .unwrap();
        assert_eq!(
            done,
            PasswordChanged {
                version: 2,
                sessions_ended: 1
            }
        );
        let rec = s.login_record("p@example.com").await.unwrap().unwrap();
        assert_eq!((rec.version, rec.hash.as_str()), (2, "$argon2id$new"));
        // A change based on a stale version is refused.
        let err = s
            .change_password(&change, audit(AuditAction::PasswordChanged))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)));
        // Rehash is compare-and-swap on the old hash.
        assert!(
            !s.rehash_credential(
                a.id,
                "$argon2id$old",
                "$x",
                audit(AuditAction::PasswordRehashed)
            )
            .await
            .unwrap()
        );
        assert!(
            s.rehash_credential(
                a.id,
                "$argon2id$new",
                "$x",
                audit(AuditAction::PasswordRehashed)
            )
            .await
            .unwrap()
        );
        assert_eq!(
            s.login_record("p@example.com")
                .await
                .unwrap()
                .unwrap()
                .version,
            2,
            "rehash keeps the version"
        );
        // Without a session to keep, all end.
        let change = PasswordChange {
            expected_version: 2,
            new_hash: "$y",
            keep_session: None,
            ..change
        };
        assert_eq!(
            s.change_password(&change, audit(AuditAction::PasswordChanged))
                .await
                .unwrap()
                .sessions_ended,
            1
        );
        // Keeping other sessions is possible on request.
        let (extra, _) = new_session(a.id, T0);
        s.create_session(&extra, "k", None, audit(AuditAction::LoginSucceeded))
            .await
            .unwrap();
        let change = PasswordChange {
            expected_version: 3,
            new_hash: "$z",
            end_other_sessions: false,
            ..change
        };
        assert_eq!(
            s.change_password(&change, audit(AuditAction::PasswordChanged))
                .await
                .unwrap()
                .sessions_ended,
            0
        );
        assert_eq!(s.active_sessions(a.id, T0).await.unwrap().len(), 1);
    }
);

both_engines!(throttle_counts_and_clears, |s: Arc<dyn Store>| async move {
    let keys = [
        ("acct:t@example.com", ThrottlePolicy::ACCOUNT),
        ("ip:192.0.2.1", ThrottlePolicy::CLIENT),
    ];
    assert_eq!(
        s.throttle_states(&["acct:t@example.com"]).await.unwrap(),
        vec![None]
    );
    let mut last = Vec::new();
    for _ in 0..6 {
        last = s
            .record_login_failure(&keys, T0, None, audit(AuditAction::LoginFailed))
            .await
            .unwrap();
    }
    assert_eq!(last[0].failures, 6);
    assert!(
        last[0].check(T0).is_err(),
        "sixth failure delays the account"
    );
    assert!(last[1].check(T0).is_ok(), "the client budget is larger");
    let states = s
        .throttle_states(&["acct:t@example.com", "ip:192.0.2.1"])
        .await
        .unwrap();
    assert_eq!(states[0], Some(last[0]));
    assert_eq!(states[1], Some(last[1]));
    // A successful login clears the account key, not the client key.
    let a = new_account("t@example.com");
    s.create_account(&a, audit(AuditAction::AccountCreated))
        .await
        .unwrap();
    let (sess, _) = new_session(a.id, T0);
    s.create_session(
        &sess,
        "acct:t@example.com",
        None,
        audit(AuditAction::LoginSucceeded),
    )
    .await
    .unwrap();
    let states = s
        .throttle_states(&["acct:t@example.com", "ip:192.0.2.1"])
        .await
        .unwrap();
    assert_eq!(states[0], None);
    assert!(states[1].is_some());
});

both_engines!(
    concurrent_failures_are_all_counted,
    |s: Arc<dyn Store>| async move {
        let mut handles = Vec::new();
        for _ in 0..40 {
            let s = s.clone();
            handles.push(tokio::spawn(async move {
                s.record_login_failure(
                    &[("acct:race@example.com", ThrottlePolicy::ACCOUNT)],
                    T0,
                    None,
                    audit(AuditAction::LoginFailed),
                )
                .await
                .unwrap()
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
        let st = s.throttle_states(&["acct:race@example.com"]).await.unwrap()[0].unwrap();
        assert_eq!(
            st.failures, 40,
            "no lost updates between concurrent writers"
        );
        assert_eq!(s.audit_entries(0, 100).await.unwrap().len(), 40);
    }
);

both_engines!(operators_by_key, |s: Arc<dyn Store>| async move {
    let key = ApiKey::generate(&OsEntropy);
    let new = NewOperator {
        id: OperatorId::generate(&OsEntropy),
        email: "Ops@example.com".into(),
        email_key: "ops@example.com".into(),
        key_hash: key.hash(),
        created_at: T0,
    };
    let op = s
        .create_operator(&new, audit(AuditAction::OperatorCreated))
        .await
        .unwrap();
    assert_eq!(s.operator_by_key(&key.hash()).await.unwrap(), Some(op));
    assert_eq!(
        s.operator_by_key(&ApiKey::generate(&OsEntropy).hash())
            .await
            .unwrap(),
        None
    );
    let again = NewOperator {
        id: OperatorId::generate(&OsEntropy),
        key_hash: ApiKey::generate(&OsEntropy).hash(),
        ..new
    };
    assert!(matches!(
        s.create_operator(&again, audit(AuditAction::OperatorCreated))
            .await,
        Err(StoreError::Conflict(_))
    ));
});

both_engines!(audit_chain_survives_concurrent_appenders, |s: Arc<
    dyn Store,
>| async move {
    let mut handles = Vec::new();
    for i in 0..30 {
        let s = s.clone();
        handles.push(tokio::spawn(async move {
            let e = NewAuditEntry::new(
                T0,
                Actor::Account(Some(format!("a{i}"))),
                AuditAction::LoginSucceeded,
            )
            .ip(Some("198.51.100.7".into()))
            .detail(serde_json::json!({ "i": i }));
            s.append_audit(e).await.unwrap()
        }));
    }
    let mut seqs = Vec::new();
    for h in handles {
        seqs.push(h.await.unwrap());
    }
    seqs.sort();
    assert_eq!(seqs, (1..=30).collect::<Vec<i64>>());
    assert_eq!(
        verify_audit_chain(s.as_ref()).await.unwrap(),
        ChainReport::Intact { entries: 30 }
    );
});

#[tokio::test]
async fn audit_verify_names_the_first_tampered_entry() {
    use sqlx::Connection as _;
    let db = fresh(Engine::Sqlite).await.unwrap();
    for i in 0..5 {
        let e = NewAuditEntry::new(T0, Actor::System, AuditAction::LoginFailed)
            .detail(serde_json::json!({ "i": i }));
        db.store.append_audit(e).await.unwrap();
    }
    let mut conn = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
    sqlx::query("UPDATE audit_log SET ip = '203.0.113.9' WHERE seq = 3")
        .execute(&mut conn)
        .await
        .unwrap();
    match verify_audit_chain(db.store.as_ref()).await.unwrap() {
        ChainReport::Broken { seq, .. } => assert_eq!(seq, 3),
        other => panic!("tampering not detected: {other:?}"),
    }
    sqlx::query("DELETE FROM audit_log WHERE seq >= 3")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("INSERT INTO audit_log SELECT 4, at, actor_kind, actor_id, action, target, ip, detail, hash FROM audit_log WHERE seq = 2")
        .execute(&mut conn)
        .await
        .unwrap();
    match verify_audit_chain(db.store.as_ref()).await.unwrap() {
        ChainReport::Broken { seq, reason } => {
            assert_eq!(seq, 3);
            assert!(reason.contains("missing"), "{reason}");
        }
        other => panic!("deletion not detected: {other:?}"),
    }
}

both_engines!(housekeeping_purges_only_what_is_over, |s: Arc<
    dyn Store,
>| async move {
    let hour = Duration::from_secs(3600);
    let p = ThrottlePolicy::ACCOUNT;
    s.count_throttle_event(&[("old", p)], T0).await.unwrap();
    s.count_throttle_event(&[("recent", p)], T0.plus(hour))
        .await
        .unwrap();
    let later = T0.plus(hour).plus(Duration::from_secs(1));
    assert_eq!(s.purge_throttle(later.minus(hour), later).await.unwrap(), 1);
    assert_eq!(
        s.throttle_states(&["old", "recent"])
            .await
            .unwrap()
            .iter()
            .filter(|x| x.is_some())
            .count(),
        1
    );
    assert!(
        s.audit_entries(0, 10).await.unwrap().is_empty(),
        "counting an event writes no audit entry"
    );

    let a = new_account("hk@example.com");
    s.create_account(&a, audit(AuditAction::AccountCreated))
        .await
        .unwrap();
    let (expired, _) = new_session(a.id, T0); // expires at T0 + 1 h
    let (live, _) = new_session(a.id, T0.plus(hour));
    let (ended, _) = new_session(a.id, T0.plus(hour));
    for n in [&expired, &live, &ended] {
        s.create_session(n, "k", None, audit(AuditAction::LoginSucceeded))
            .await
            .unwrap();
    }
    s.end_session(
        a.id,
        ended.id,
        T0.plus(hour),
        "user",
        audit(AuditAction::SessionEnded),
    )
    .await
    .unwrap();
    assert_eq!(
        s.purge_sessions(T0.plus(hour).plus(Duration::from_secs(1)))
            .await
            .unwrap(),
        2
    );
    assert!(
        s.session_by_token(&live.token_hash)
            .await
            .unwrap()
            .is_some()
    );
});

fn notice(to: &str, kind: NoticeKind, key: &str, at: Timestamp) -> NewNotice {
    let id = NoticeId::generate(&OsEntropy);
    NewNotice {
        id,
        reference: Reference::generate(&OsEntropy).to_string(),
        idempotency_key: key.to_string(),
        kind,
        account: None,
        recipient: to.to_string(),
        recipient_key: to.to_lowercase(),
        payload: serde_json::json!({ "n": key }),
        message_id: format!("<{id}@test>"),
        created_at: at,
        expires_at: None,
    }
}

fn claim_policy(now: Timestamp, cap: i64) -> ClaimPolicy {
    ClaimPolicy {
        now,
        lease_id: NoticeId::generate(&OsEntropy).to_string(),
        lease: Duration::from_secs(60),
        limit: 100,
        cap_per_recipient: cap,
        cap_window: Duration::from_secs(24 * 3600),
        status_per_hour: 1000,
    }
}

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

async fn recovery_fixture(
    s: &Arc<dyn Store>,
    email: &str,
    expires: Timestamp,
) -> (AccountId, RecoveryId) {
    let a = new_account(email);
    s.create_account(&a, audit(AuditAction::AccountCreated))
        .await
        .unwrap();
    let id = RecoveryId::generate(&OsEntropy);
    let req = NewRecovery {
        id,
        account: a.id,
        code_hash: [7; 32],
        token_hash: Some(SessionToken::generate(&OsEntropy).hash()),
        created_at: T0,
        expires_at: expires,
        ip: None,
    };
    let n = notice(email, NoticeKind::Recovery, &format!("recovery/{id}"), T0);
    s.create_recovery(&req, &n, audit(AuditAction::RecoveryRequested))
        .await
        .unwrap();
    (a.id, id)
}

both_engines!(
    recovery_attempts_are_capped_even_when_concurrent,
    |s: Arc<dyn Store>| async move {
        let expires = T0.plus(Duration::from_secs(1800));
        let (account, id) = recovery_fixture(&s, "r@example.com", expires).await;
        let lookup = RecoveryLookup::Account(account);
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let s = s.clone();
            let lookup = lookup.clone();
            tasks.push(tokio::spawn(async move {
                s.recovery_attempt(&lookup, T0, 5).await.unwrap()
            }));
        }
        let mut granted = 0;
        for t in tasks {
            if let Some(a) = t.await.unwrap() {
                assert_eq!(a.id, id);
                assert_eq!(a.email, "r@example.com");
                assert_eq!(a.code_hash, vec![7; 32]);
                granted += 1;
            }
        }
        assert_eq!(granted, 5, "at most five guesses per request");
        s.reject_recovery_attempt(id, true, T0, audit(AuditAction::RecoveryRejected))
            .await
            .unwrap();
        assert!(s.recovery_attempt(&lookup, T0, 5).await.unwrap().is_none());
    }
);

both_engines!(
    recovery_completes_exactly_once,
    |s: Arc<dyn Store>| async move {
        let expires = T0.plus(Duration::from_secs(1800));
        let (account, first) = recovery_fixture(&s, "once@example.com", expires).await;
        // A second request supersedes the first.
        let second = RecoveryId::generate(&OsEntropy);
        let req = NewRecovery {
            id: second,
            account,
            code_hash: [8; 32],
            token_hash: None,
            created_at: T0,
            expires_at: expires,
            ip: Some("192.0.2.9".into()),
        };
        s.create_recovery(
            &req,
            &notice("once@example.com", NoticeKind::Recovery, "second", T0),
            audit(AuditAction::RecoveryRequested),
        )
        .await
        .unwrap();
        let attempt = s
            .recovery_attempt(&RecoveryLookup::Account(account), T0, 5)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(attempt.id, second, "only the newest request is active");
        let (sess, _) = new_session(account, T0);
        s.create_session(
            &sess,
            "acct:once@example.com",
            None,
            audit(AuditAction::LoginSucceeded),
        )
        .await
        .unwrap();
        s.count_throttle_event(&[("acct:once@example.com", ThrottlePolicy::ACCOUNT)], T0)
            .await
            .unwrap();
        let mut tasks = Vec::new();
        for i in 0..8 {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                let n = notice(
                    "once@example.com",
                    NoticeKind::PasswordChanged,
                    "ignored",
                    T0,
                );
                let hash = format!("$argon2id$new{i}");
                let keys = ["acct:once@example.com"];
                let c = RecoveryCompletion {
                    request: second,
                    account,
                    new_hash: &hash,
                    now: T0.plus(Duration::from_secs(1)),
                    clear_throttle_keys: &keys,
                    notice: &n,
                };
                s.complete_recovery(&c, audit(AuditAction::RecoveryCompleted))
                    .await
            }));
        }
        let mut ok = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(done) => {
                    ok += 1;
                    assert_eq!(
                        done,
                        PasswordChanged {
                            version: 2,
                            sessions_ended: 1
                        }
                    );
                }
                Err(StoreError::Conflict(_)) => {}
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(ok, 1, "of many concurrent redemptions exactly one succeeds");
        assert!(
            s.throttle_states(&["acct:once@example.com"]).await.unwrap()[0].is_none(),
            "throttle cleared"
        );
        assert!(s.active_sessions(account, T0).await.unwrap().is_empty());
        let notices = s
            .notices(&NoticeFilter {
                state: None,
                account: None,
                limit: 10,
            })
            .await
            .unwrap();
        let changed: Vec<_> = notices
            .iter()
            .filter(|n| n.kind == NoticeKind::PasswordChanged)
            .collect();
        assert_eq!(changed.len(), 1);
        // The first request was superseded and cannot be completed.
        let n = notice("once@example.com", NoticeKind::PasswordChanged, "x", T0);
        let c = RecoveryCompletion {
            request: first,
            account,
            new_hash: "$h",
            now: T0,
            clear_throttle_keys: &[],
            notice: &n,
        };
        assert!(matches!(
            s.complete_recovery(&c, audit(AuditAction::RecoveryCompleted))
                .await,
            Err(StoreError::Conflict(_))
        ));
        // Expired requests take no attempts.
        let (other, _) =
            recovery_fixture(&s, "late@example.com", T0.plus(Duration::from_secs(1))).await;
        assert!(
            s.recovery_attempt(
                &RecoveryLookup::Account(other),
                T0.plus(Duration::from_secs(1)),
                5
            )
            .await
            .unwrap()
            .is_none()
        );
    }
);

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

fn finding(account: AccountId, n: u32) -> NewFinding {
    let mut dedupe_key = [0u8; 16];
    dedupe_key[..16].copy_from_slice(&AccountId::generate(&OsEntropy).as_uuid().into_bytes());
    dedupe_key[0] = n as u8;
    NewFinding {
        account,
        detector: "credential_stuffing".into(),
        score: 0.5,
        evidence: serde_json::json!({ "n": n }),
        observed_at: T0,
        dedupe_key,
    }
}

async fn stuffing_rule(
    store: &Arc<dyn Store>,
    mode: gatehouse_domain::finding::RuleMode,
) -> RuleRecord {
    let (rule, changed) = store
        .put_rule(
            &NewRuleVersion {
                id: "stuffing".into(),
                detector: "credential_stuffing".into(),
                mode,
                definition: serde_json::json!({ "id": "stuffing", "mode": mode.as_str(), "detector": "credential_stuffing" }),
                now: T0,
                by: "system".into(),
            },
            audit(AuditAction::RuleChanged),
        )
        .await
        .unwrap();
    assert!(changed);
    rule
}

both_engines!(
    rules_keep_every_version,
    |store: Arc<dyn Store>| async move {
        use gatehouse_domain::finding::RuleMode;
        let v1 = stuffing_rule(&store, RuleMode::Shadow).await;
        assert_eq!(v1.version, 1);
        // The same definition again: no new version, no audit entry.
        let entries = store.audit_entries(0, 1000).await.unwrap().len();
        let (same, changed) = store
            .put_rule(
                &NewRuleVersion {
                    id: "stuffing".into(),
                    detector: "credential_stuffing".into(),
                    mode: RuleMode::Shadow,
                    definition: v1.definition.clone(),
                    now: T0,
                    by: "operator:x".into(),
                },
                audit(AuditAction::RuleChanged),
            )
            .await
            .unwrap();
        assert!(!changed);
        assert_eq!(same.version, 1);
        assert_eq!(store.audit_entries(0, 1000).await.unwrap().len(), entries);
        let v2 = stuffing_rule(&store, RuleMode::Enforce).await;
        assert_eq!((v2.version, v2.mode), (2, RuleMode::Enforce));
        let old = store.rule_version("stuffing", 1).await.unwrap().unwrap();
        assert_eq!(
            (old.mode, old.detector.as_str()),
            (RuleMode::Shadow, "credential_stuffing")
        );
        assert_eq!(store.rule("stuffing").await.unwrap().unwrap().version, 2);
        assert!(store.rule_version("stuffing", 3).await.unwrap().is_none());
        assert_eq!(store.rules().await.unwrap().len(), 1);
    }
);

both_engines!(concurrent_recorders_share_one_daily_cap, |store: Arc<
    dyn Store,
>| async move {
    use gatehouse_domain::finding::{FindingStatus, RuleAction, RuleMode};
    let rule = stuffing_rule(&store, RuleMode::Enforce).await;
    let accounts: Vec<AccountId> = {
        let mut v = Vec::new();
        for i in 0..4 {
            let a = new_account(&format!("f{i}@example.com"));
            v.push(
                store
                    .create_account(&a, audit(AuditAction::AccountCreated))
                    .await
                    .unwrap()
                    .id,
            );
        }
        v
    };
    let target = FindingRule {
        id: rule.id.clone(),
        version: rule.version,
        mode: RuleMode::Enforce,
        action: RuleAction::ForceReset,
        max_per_day: 10,
    };
    // Four "replicas" record five findings each at once, against a cap of ten.
    let mut tasks = Vec::new();
    let batches: Vec<Vec<NewFinding>> = accounts
        .iter()
        .enumerate()
        .map(|(r, account)| {
            (0..5)
                .map(|n| finding(*account, r as u32 * 10 + n))
                .collect()
        })
        .collect();
    for batch in batches.clone() {
        let store = store.clone();
        let target = target.clone();
        tasks.push(tokio::spawn(async move {
            store
                .record_findings(&target, &batch, T0, audit(AuditAction::FindingsRecorded))
                .await
                .unwrap()
        }));
    }
    let mut pending = 0;
    let mut held = 0;
    let mut all = Vec::new();
    for t in tasks {
        let r = t.await.unwrap();
        pending += r.pending;
        held += r.held;
        all.push(r);
    }
    assert_eq!((pending, held), (10, 10), "{all:?}");
    let page = store
        .findings(&FindingFilter {
            status: Some(FindingStatus::Pending),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.len(), 10);
    // Recording the same findings again (a replay) records nothing.
    let r = store
        .record_findings(
            &target,
            &batches[0],
            T0,
            audit(AuditAction::FindingsRecorded),
        )
        .await
        .unwrap();
    assert_eq!(
        r,
        RecordedFindings {
            duplicates: 5,
            ..Default::default()
        }
    );
    // A day later the cap has room again.
    let later = T0.plus(Duration::from_secs(86_401));
    let r = store
        .record_findings(
            &target,
            &[finding(accounts[0], 99)],
            later,
            audit(AuditAction::FindingsRecorded),
        )
        .await
        .unwrap();
    assert_eq!(r.pending, 1);
    let per_day = store
        .findings_per_day(
            "stuffing",
            T0.minus(Duration::from_secs(86_400)),
            later.plus(Duration::from_secs(1)),
        )
        .await
        .unwrap();
    assert_eq!(per_day.iter().map(|d| d.1).sum::<i64>(), 21);
});

both_engines!(
    findings_are_recorded_once,
    |store: Arc<dyn Store>| async move {
        use gatehouse_domain::finding::{RuleAction, RuleMode};
        let rule = stuffing_rule(&store, RuleMode::Shadow).await;
        let a = store
            .create_account(
                &new_account("once@example.com"),
                audit(AuditAction::AccountCreated),
            )
            .await
            .unwrap()
            .id;
        let target = FindingRule {
            id: rule.id.clone(),
            version: 1,
            mode: RuleMode::Shadow,
            action: RuleAction::Notify,
            max_per_day: 0,
        };
        let f = finding(a, 1);
        let first = store
            .record_findings(
                &target,
                &[f.clone(), f.clone()],
                T0,
                audit(AuditAction::FindingsRecorded),
            )
            .await
            .unwrap();
        assert_eq!(
            (first.shadow, first.duplicates),
            (1, 1),
            "a cap of 0 does not hold shadow findings"
        );
        let second = store
            .record_findings(&target, &[f], T0, audit(AuditAction::FindingsRecorded))
            .await
            .unwrap();
        assert_eq!((second.shadow, second.duplicates), (0, 1));
        let listed = store
            .findings(&FindingFilter {
                account: Some(a),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].email, "once@example.com");
        assert_eq!(listed[0].evidence["n"], 1);
    }
);

// ---- Campaigns, budget, breaker ----

fn new_campaign(automatic: bool) -> NewCampaign {
    NewCampaign {
        id: gatehouse_domain::CampaignId::generate(&OsEntropy),
        name: "test".into(),
        source: if automatic {
            CampaignSource::Rule
        } else {
            CampaignSource::List
        },
        automatic,
        rule: automatic.then(|| ("credential-stuffing".to_string(), 1)),
        reason: "signed in from a credential-stuffing source".into(),
        created_by: "operator:ann".into(),
        created_at: T0,
        stage_plan: serde_json::json!({ "fractions": [1.0], "min_stage": 1 }),
        rate_per_minute: 600,
        bake_secs: 0,
    }
}

async fn accounts_with_sessions(s: &Arc<dyn Store>, n: usize) -> Vec<(AccountId, SessionToken)> {
    let mut out = Vec::new();
    for i in 0..n {
        let a = new_account(&format!("c{i}@example.com"));
        s.create_account(&a, audit(AuditAction::AccountCreated))
            .await
            .unwrap();
        let (sess, token) = new_session(a.id, T0);
        s.create_session(&sess, "k", None, audit(AuditAction::LoginSucceeded))
            .await
            .unwrap();
        out.push((a.id, token));
    }
    out
}

async fn running(s: &Arc<dyn Store>, automatic: bool, accounts: &[AccountId]) -> CampaignRecord {
    use gatehouse_domain::campaign::CampaignState as S;
    let targets: Vec<NewTarget> = accounts
        .iter()
        .map(|a| NewTarget {
            account: *a,
            finding_id: None,
            evidence: serde_json::json!({}),
        })
        .collect();
    let c = s
        .create_campaign(
            &new_campaign(automatic),
            &targets,
            audit(AuditAction::CampaignCreated),
        )
        .await
        .unwrap();
    assert_eq!((c.state, c.target_count), (S::Draft, accounts.len() as i64));
    let mut u = CampaignUpdate::at(T0);
    u.state = Some(S::Approved);
    u.snapshot = Some(([1; 32], accounts.len() as i64));
    s.update_campaign(c.id, S::Draft, &u, audit(AuditAction::CampaignTransition))
        .await
        .unwrap();
    let mut u = CampaignUpdate::at(T0);
    u.state = Some(S::Running);
    s.update_campaign(
        c.id,
        S::Approved,
        &u,
        audit(AuditAction::CampaignTransition),
    )
    .await
    .unwrap()
}

fn apply_step<'a>(
    c: &CampaignRecord,
    account: AccountId,
    at: Timestamp,
    budget: BudgetLimits,
    rec: &'a NewRecovery,
    n: &'a NewNotice,
) -> ApplyStep<'a> {
    ApplyStep {
        campaign: c.id,
        account,
        now: at,
        budget,
        recovery: rec,
        notice: n,
        audit: audit(AuditAction::AccountReset).target(account),
    }
}

fn recovery_for(account: AccountId, at: Timestamp) -> NewRecovery {
    NewRecovery {
        id: RecoveryId::generate(&OsEntropy),
        account,
        code_hash: [3; 32],
        token_hash: None,
        created_at: at,
        expires_at: at.plus(Duration::from_secs(86_400)),
        ip: None,
    }
}

const ROOMY: BudgetLimits = BudgetLimits {
    per_hour: 1000,
    per_day: 1000,
    may_exceed: false,
};

both_engines!(a_forced_reset_suspends_and_undo_restores, |s: Arc<
    dyn Store,
>| async move {
    use gatehouse_domain::campaign::CampaignState as S;
    let people = accounts_with_sessions(&s, 2).await;
    let ids: Vec<AccountId> = people.iter().map(|p| p.0).collect();
    let c = running(&s, false, &ids).await;
    let empty = s
        .create_campaign(
            &new_campaign(false),
            &[],
            audit(AuditAction::CampaignCreated),
        )
        .await;
    assert!(
        matches!(empty, Err(StoreError::Invalid(_))),
        "an empty set is refused"
    );

    for (i, (a, _)) in people.iter().enumerate() {
        let rec = recovery_for(*a, T0);
        let n = notice(
            &format!("c{i}@example.com"),
            NoticeKind::ForcedReset,
            &format!("reset/{}/{a}", c.id),
            T0,
        );
        let out = s
            .apply_campaign_target(&apply_step(&c, *a, T0, ROOMY, &rec, &n))
            .await
            .unwrap();
        assert_eq!(
            out,
            ApplyOutcome::Applied {
                reference: n.reference.clone()
            }
        );
        // Applying again does nothing: idempotent per (campaign, account).
        let again = s
            .apply_campaign_target(&apply_step(&c, *a, T0, ROOMY, &rec, &n))
            .await
            .unwrap();
        assert_eq!(again, ApplyOutcome::AlreadyDone);
    }
    for (a, token) in &people {
        let r = s
            .login_record(&format!(
                "c{}@example.com",
                ids.iter().position(|x| x == a).unwrap()
            ))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(r.state, gatehouse_domain::CredentialState::ResetRequired);
        let sess = s.session_by_token(&token.hash()).await.unwrap().unwrap();
        assert_eq!(sess.state, gatehouse_domain::SessionState::Suspended);
    }
    assert_eq!(s.campaign(c.id).await.unwrap().unwrap().applied, 2);
    assert_eq!(
        s.resets_since(T0.minus(Duration::from_secs(1)))
            .await
            .unwrap(),
        2
    );
    let forced: Vec<_> = s
        .notices(&NoticeFilter {
            limit: 100,
            ..NoticeFilter::default()
        })
        .await
        .unwrap()
        .into_iter()
        .filter(|n| n.kind == NoticeKind::ForcedReset)
        .collect();
    assert_eq!(forced.len(), 2);
    // The first owner's forced-reset notice went out; the second's is still waiting
    // (put back with a retry, as after a temporary failure).
    let p = claim_policy(T0, 100);
    for claimed in s.claim_notices(&p).await.unwrap().claimed {
        if claimed.notice.recipient == "c0@example.com" {
            assert!(
                s.notice_sent(claimed.notice.id, &p.lease_id, T0)
                    .await
                    .unwrap()
            );
        } else {
            assert!(
                s.notice_retry(claimed.notice.id, &p.lease_id, T0, "421 try later")
                    .await
                    .unwrap()
            );
        }
    }

    // The second owner sets a new password before the undo.
    let r1 = s.login_record("c1@example.com").await.unwrap().unwrap();
    s.change_password(
        &PasswordChange {
            account: ids[1],
            expected_version: r1.version,
            new_hash: "$argon2id$v=19$m=19456,t=2,p=1$bmV3c2FsdA$bmV3aGFzaG5ld2hhc2g",
            now: T0.plus(Duration::from_secs(60)),
            keep_session: None,
            end_other_sessions: true,
            end_reason: "password_changed",
            notice: None,
        },
        audit(AuditAction::PasswordChanged),
    )
    .await
    .unwrap();

    let mut u = CampaignUpdate::at(T0);
    u.state = Some(S::Undoing);
    s.update_campaign(c.id, S::Running, &u, audit(AuditAction::CampaignTransition))
        .await
        .unwrap();
    let mut outcomes = Vec::new();
    for (i, a) in ids.iter().enumerate() {
        let corr = notice(
            &format!("c{i}@example.com"),
            NoticeKind::Correction,
            &format!("undo/{}/{a}", c.id),
            T0,
        );
        let expl = notice(
            &format!("c{i}@example.com"),
            NoticeKind::Correction,
            &format!("undo-x/{}/{a}", c.id),
            T0,
        );
        let step = UndoStep {
            campaign: c.id,
            account: *a,
            now: T0.plus(Duration::from_secs(120)),
            reinstate_after: T0.minus(Duration::from_secs(7 * 86_400)),
            correction: &corr,
            explanation: &expl,
            audit: audit(AuditAction::AccountRestored).target(a),
        };
        outcomes.push(s.undo_campaign_target(&step).await.unwrap());
        assert_eq!(
            s.undo_campaign_target(&step).await.unwrap(),
            UndoOutcome::AlreadyDone
        );
    }
    assert_eq!(
        outcomes,
        [
            UndoOutcome::Restored {
                sessions: 1,
                withdrawn: false
            },
            UndoOutcome::NotRestorable
        ]
    );
    // The sent notice gets its correction; the unsent one is withdrawn, never to
    // arrive after the explanation.
    let after: Vec<_> = s
        .notices(&NoticeFilter {
            limit: 100,
            ..NoticeFilter::default()
        })
        .await
        .unwrap();
    let state_of = |to: &str, kind: NoticeKind| -> Vec<NoticeState> {
        after
            .iter()
            .filter(|n| n.recipient == to && n.kind == kind)
            .map(|n| n.state)
            .collect()
    };
    assert_eq!(
        state_of("c0@example.com", NoticeKind::ForcedReset),
        [NoticeState::Sent]
    );
    assert_eq!(
        state_of("c1@example.com", NoticeKind::ForcedReset),
        [NoticeState::Expired]
    );
    assert_eq!(state_of("c0@example.com", NoticeKind::Correction).len(), 1);
    assert_eq!(state_of("c1@example.com", NoticeKind::Correction).len(), 1);
    let r0 = s.login_record("c0@example.com").await.unwrap().unwrap();
    assert_eq!(
        r0.state,
        gatehouse_domain::CredentialState::Active,
        "the prior password works again"
    );
    let sess = s
        .session_by_token(&people[0].1.hash())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        sess.state,
        gatehouse_domain::SessionState::Active,
        "its session is back"
    );
    let counts = s.campaign_target_counts(c.id).await.unwrap();
    assert_eq!(
        counts,
        [(TargetState::NotRestorable, 1), (TargetState::Restored, 1)]
    );
});

both_engines!(the_budget_and_the_breaker_stop_resets, |s: Arc<
    dyn Store,
>| async move {
    use gatehouse_domain::campaign::CampaignState as S;
    let people = accounts_with_sessions(&s, 5).await;
    let ids: Vec<AccountId> = people.iter().map(|p| p.0).collect();
    let auto = running(&s, true, &ids[..4]).await;
    let tight = BudgetLimits {
        per_hour: 2,
        per_day: 10,
        may_exceed: false,
    };
    let mut outcomes = Vec::new();
    for (i, a) in ids[..3].iter().enumerate() {
        let rec = recovery_for(*a, T0);
        let n = notice(
            &format!("c{i}@example.com"),
            NoticeKind::ForcedReset,
            &format!("r/{a}"),
            T0,
        );
        outcomes.push(
            s.apply_campaign_target(&apply_step(&auto, *a, T0, tight, &rec, &n))
                .await
                .unwrap(),
        );
    }
    assert!(
        matches!(
            outcomes[2],
            ApplyOutcome::BudgetExhausted { hour: 2, day: 2 }
        ),
        "{outcomes:?}"
    );
    // An hour later the hourly budget has room again.
    let later = T0.plus(Duration::from_secs(3601));
    let rec = recovery_for(ids[2], later);
    let n = notice(
        "c2@example.com",
        NoticeKind::ForcedReset,
        &format!("r2/{}", ids[2]),
        later,
    );
    assert!(matches!(
        s.apply_campaign_target(&apply_step(&auto, ids[2], later, tight, &rec, &n))
            .await
            .unwrap(),
        ApplyOutcome::Applied { .. }
    ));

    // The breaker: opening pauses running automatic campaigns, not operator ones,
    // and no apply step passes while it is open.
    let manual = running(&s, false, &ids[4..]).await;
    // The trip hands its figures to the alert builder inside its transaction;
    // its notices are written with it.
    let seen = std::sync::Mutex::new(Vec::new());
    let alert = |trip: &gatehouse_store::BreakerTrip| {
        seen.lock().unwrap().push(trip.clone());
        vec![notice(
            "oncall@example.com",
            NoticeKind::BreakerTripped,
            &format!("breaker-tripped/{}/oncall", trip.trip),
            later,
        )]
    };
    assert!(
        s.set_breaker(
            true,
            "volume anomaly",
            "system",
            later,
            &alert,
            audit(AuditAction::BreakerChanged)
        )
        .await
        .unwrap()
    );
    assert!(
        !s.set_breaker(
            true,
            "again",
            "system",
            later,
            &alert,
            audit(AuditAction::BreakerChanged)
        )
        .await
        .unwrap()
    );
    {
        let seen = seen.lock().unwrap();
        assert_eq!(
            seen.len(),
            1,
            "a second trip of an open breaker alerts nobody"
        );
        assert_eq!(seen[0].trip, 1);
        assert_eq!(seen[0].paused_campaigns, 1);
        assert_eq!(seen[0].reason, "volume anomaly");
    }
    let alerts = s
        .notices(&NoticeFilter {
            state: None,
            account: None,
            limit: 100,
        })
        .await
        .unwrap()
        .into_iter()
        .filter(|n| n.kind == NoticeKind::BreakerTripped)
        .count();
    assert_eq!(alerts, 1);
    let b = s.breaker().await.unwrap();
    assert!(b.open);
    assert_eq!(b.reason.as_deref(), Some("volume anomaly"));
    let a = s.campaign(auto.id).await.unwrap().unwrap();
    assert_eq!(a.state, S::Paused);
    assert_eq!(
        a.paused_reason.as_deref(),
        Some("circuit breaker: volume anomaly")
    );
    assert_eq!(
        s.campaign(manual.id).await.unwrap().unwrap().state,
        S::Running
    );
    let rec = recovery_for(ids[4], later);
    let n = notice(
        "c4@example.com",
        NoticeKind::ForcedReset,
        &format!("r/{}", ids[4]),
        later,
    );
    assert_eq!(
        s.apply_campaign_target(&apply_step(&manual, ids[4], later, ROOMY, &rec, &n))
            .await
            .unwrap(),
        ApplyOutcome::BreakerOpen
    );
    assert!(
        s.set_breaker(
            false,
            "reviewed; the rule is fixed",
            "operator:bob",
            later,
            &|_: &gatehouse_store::BreakerTrip| Vec::new(),
            audit(AuditAction::BreakerChanged)
        )
        .await
        .unwrap()
    );
    assert!(matches!(
        s.apply_campaign_target(&apply_step(&manual, ids[4], later, ROOMY, &rec, &n))
            .await
            .unwrap(),
        ApplyOutcome::Applied { .. }
    ));
    // A paused campaign applies nothing.
    let rec = recovery_for(ids[3], later);
    let n = notice(
        "c3@example.com",
        NoticeKind::ForcedReset,
        &format!("r/{}", ids[3]),
        later,
    );
    assert_eq!(
        s.apply_campaign_target(&apply_step(&auto, ids[3], later, ROOMY, &rec, &n))
            .await
            .unwrap(),
        ApplyOutcome::NotRunning(S::Paused)
    );
    // A stale transition is refused.
    let mut u = CampaignUpdate::at(later);
    u.state = Some(S::Completed);
    assert!(matches!(
        s.update_campaign(
            auto.id,
            S::Running,
            &u,
            audit(AuditAction::CampaignTransition)
        )
        .await,
        Err(StoreError::Conflict(_))
    ));
    let per_day = s
        .resets_per_day(
            T0.minus(Duration::from_secs(86_400)),
            later.plus(Duration::from_secs(1)),
        )
        .await
        .unwrap();
    assert_eq!(per_day.iter().map(|d| d.1).sum::<i64>(), 4);
});

both_engines!(concurrent_apply_steps_share_one_budget, |s: Arc<
    dyn Store,
>| async move {
    let people = accounts_with_sessions(&s, 12).await;
    let ids: Vec<AccountId> = people.iter().map(|p| p.0).collect();
    // Two campaigns (as two replicas would run them) against one budget of 5.
    let a = running(&s, true, &ids[..6]).await;
    let b = running(&s, true, &ids[6..]).await;
    let budget = BudgetLimits {
        per_hour: 5,
        per_day: 100,
        may_exceed: false,
    };
    let mut tasks = Vec::new();
    for (i, acct) in ids.iter().enumerate() {
        let s = s.clone();
        let c = if i < 6 { a.clone() } else { b.clone() };
        let acct = *acct;
        tasks.push(tokio::spawn(async move {
            let rec = recovery_for(acct, T0);
            let n = notice(
                &format!("c{i}@example.com"),
                NoticeKind::ForcedReset,
                &format!("r/{acct}"),
                T0,
            );
            s.apply_campaign_target(&apply_step(&c, acct, T0, budget, &rec, &n))
                .await
                .unwrap()
        }));
    }
    let mut applied = 0;
    for t in tasks {
        if matches!(t.await.unwrap(), ApplyOutcome::Applied { .. }) {
            applied += 1;
        }
    }
    assert_eq!(applied, 5, "never more than the budget, whoever applies");
    assert_eq!(
        s.resets_since(T0.minus(Duration::from_secs(1)))
            .await
            .unwrap(),
        5
    );
});

// ---- The status page --------------------------------------------------------

fn component(id: &str, position: i64) -> NewStatusComponent {
    NewStatusComponent {
        id: id.into(),
        name: format!("The {id}"),
        description: String::new(),
        position,
        now: T0,
    }
}

fn draft(title: &str, components: &[&str]) -> NewIncident {
    NewIncident {
        title: title.into(),
        impact: Impact::Major,
        body: "We are looking into it.".into(),
        figures: Some(serde_json::json!({ "resets_last_minute": 4200 })),
        components: components.iter().map(|c| c.to_string()).collect(),
        created_by: "system".into(),
        now: T0,
    }
}

fn update(state: IncidentState, body: &str, at: Timestamp, publish: bool) -> NewIncidentUpdate {
    NewIncidentUpdate {
        state,
        body: body.into(),
        author: "operator:test".into(),
        at,
        publish,
    }
}

/// The notice a status update sends one subscriber.
fn update_notice(s: &StatusSubscriber) -> NewNotice {
    notice(
        &s.email,
        NoticeKind::StatusUpdate,
        &format!("status-update/{}/{}", s.id, NoticeId::generate(&OsEntropy)),
        T0,
    )
}

fn public(drafts: bool) -> IncidentFilter {
    IncidentFilter {
        drafts,
        resolved_since: None,
        limit: 100,
    }
}

both_engines!(status_incident_lifecycle, |s: Arc<dyn Store>| async move {
    s.put_component(
        &component("api", 2),
        audit(AuditAction::StatusComponentChanged),
    )
    .await
    .unwrap();
    s.put_component(
        &component("login", 1),
        audit(AuditAction::StatusComponentChanged),
    )
    .await
    .unwrap();
    let renamed = NewStatusComponent {
        name: "Sign-in".into(),
        ..component("login", 1)
    };
    assert_eq!(
        s.put_component(&renamed, audit(AuditAction::StatusComponentChanged))
            .await
            .unwrap()
            .name,
        "Sign-in",
        "put replaces"
    );
    let ids: Vec<String> = s
        .components()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(ids, ["login", "api"], "page order");

    // An unknown component refuses the draft, and nothing is written.
    let err = s
        .create_incident(&draft("x", &["nope"]), audit(AuditAction::IncidentDrafted))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert!(s.incidents(&public(true)).await.unwrap().is_empty());

    let d = s
        .create_incident(
            &draft("Resets stopped", &["login", "api"]),
            audit(AuditAction::IncidentDrafted),
        )
        .await
        .unwrap();
    assert_eq!(d.state, IncidentState::Draft);
    assert_eq!(d.components, ["login", "api"]);
    assert_eq!(
        d.figures,
        Some(serde_json::json!({ "resets_last_minute": 4200 }))
    );
    assert!(
        s.incidents(&public(false)).await.unwrap().is_empty(),
        "a draft is not public"
    );
    assert_eq!(s.incidents(&public(true)).await.unwrap().len(), 1);

    // A draft takes no update until it is published; it cannot be published resolved.
    let t1 = T0.plus(Duration::from_secs(60));
    for (u, why) in [
        (
            update(IncidentState::Identified, "x", t1, false),
            "unpublished",
        ),
        (
            update(IncidentState::Resolved, "x", t1, true),
            "published resolved",
        ),
    ] {
        let err = s
            .post_incident_update(
                d.id,
                &u,
                &update_notice,
                audit(AuditAction::IncidentUpdated),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{why}: {err:?}");
    }
    // Edits: a draft's text can change.
    let edited = s
        .edit_incident(
            d.id,
            &IncidentEdit {
                title: Some("Automatic resets paused".into()),
                body: Some("Resets are paused while we check a rule.".into()),
                components: Some(vec!["login".into()]),
                ..IncidentEdit::default()
            },
            t1,
            audit(AuditAction::IncidentEdited),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(edited.title, "Automatic resets paused");
    assert_eq!(edited.components, ["login"]);

    let published = s
        .post_incident_update(
            d.id,
            &update(IncidentState::Investigating, &edited.body, t1, true),
            &update_notice,
            audit(AuditAction::IncidentPublished),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(published.notices, 0, "no subscribers yet");
    assert_eq!(published.incident.published_at, Some(t1));
    assert_eq!(s.incidents(&public(false)).await.unwrap().len(), 1);
    // Publishing twice is refused; a public incident's text is its updates.
    let err = s
        .post_incident_update(
            d.id,
            &update(IncidentState::Identified, "x", t1, true),
            &update_notice,
            audit(AuditAction::IncidentPublished),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let err = s
        .edit_incident(
            d.id,
            &IncidentEdit {
                body: Some("rewrite history".into()),
                ..IncidentEdit::default()
            },
            t1,
            audit(AuditAction::IncidentEdited),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");

    let t2 = t1.plus(Duration::from_secs(60));
    let t3 = t2.plus(Duration::from_secs(60));
    s.post_incident_update(
        d.id,
        &update(IncidentState::Identified, "A rule misfired.", t2, false),
        &update_notice,
        audit(AuditAction::IncidentUpdated),
    )
    .await
    .unwrap()
    .unwrap();
    let resolved = s
        .post_incident_update(
            d.id,
            &update(
                IncidentState::Resolved,
                "Undone; corrections sent.",
                t3,
                false,
            ),
            &update_notice,
            audit(AuditAction::IncidentResolved),
        )
        .await
        .unwrap()
        .unwrap()
        .incident;
    assert_eq!(resolved.state, IncidentState::Resolved);
    assert_eq!(resolved.resolved_at, Some(t3));
    let states: Vec<IncidentState> = resolved.updates.iter().map(|u| u.state).collect();
    assert_eq!(
        states,
        [
            IncidentState::Investigating,
            IncidentState::Identified,
            IncidentState::Resolved
        ]
    );
    let err = s
        .post_incident_update(
            d.id,
            &update(IncidentState::Monitoring, "again", t3, false),
            &update_notice,
            audit(AuditAction::IncidentUpdated),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(_)),
        "resolved is final: {err:?}"
    );
    let pm = s
        .set_postmortem(
            d.id,
            "What happened, and what we changed.",
            t3,
            audit(AuditAction::IncidentPostmortem),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        pm.postmortem.as_deref(),
        Some("What happened, and what we changed.")
    );
    // History: a resolved incident drops out of a window that starts after it.
    let recent = IncidentFilter {
        drafts: false,
        resolved_since: Some(t3.plus(Duration::from_secs(1))),
        limit: 10,
    };
    assert!(s.incidents(&recent).await.unwrap().is_empty());
    assert!(s.incident(9999).await.unwrap().is_none());
    assert!(
        s.post_incident_update(
            9999,
            &update(IncidentState::Identified, "x", t3, false),
            &update_notice,
            audit(AuditAction::IncidentUpdated)
        )
        .await
        .unwrap()
        .is_none()
    );
    // Removing a component takes it off incidents too.
    assert!(
        s.remove_component("login", audit(AuditAction::StatusComponentRemoved))
            .await
            .unwrap()
    );
    assert!(
        !s.remove_component("login", audit(AuditAction::StatusComponentRemoved))
            .await
            .unwrap()
    );
    assert!(
        s.incident(d.id)
            .await
            .unwrap()
            .unwrap()
            .components
            .is_empty()
    );

    // Every write above was audited (the failed ones were not).
    let actions: Vec<String> = s
        .audit_entries(0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    for a in [
        "status.component_changed",
        "incident.drafted",
        "incident.edited",
        "incident.published",
        "incident.updated",
        "incident.resolved",
        "incident.postmortem",
        "status.component_removed",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} in {actions:?}");
    }
    assert_eq!(
        actions.iter().filter(|a| *a == "incident.drafted").count(),
        1
    );
});

fn subscription(
    email: &str,
    confirm: &SessionToken,
    unsub: &SessionToken,
    now: Timestamp,
) -> NewSubscription {
    NewSubscription {
        id: NoticeId::generate(&OsEntropy).to_string(),
        email: email.into(),
        email_key: email.to_lowercase(),
        confirm_hash: confirm.hash(),
        confirm_expires_at: now.plus(Duration::from_secs(3600)),
        unsubscribe_hash: unsub.hash(),
        now,
    }
}

both_engines!(status_subscribers_double_opt_in_and_fan_out, |s: Arc<
    dyn Store,
>| async move {
    let confirm_mail = |id: &str| {
        notice(
            "ann@example.com",
            NoticeKind::StatusConfirm,
            &format!("status-confirm/{id}/{}", NoticeId::generate(&OsEntropy)),
            T0,
        )
    };
    let unsub = SessionToken::generate(&OsEntropy);
    let first = SessionToken::generate(&OsEntropy);
    assert!(
        s.subscribe(
            &subscription("ann@example.com", &first, &unsub, T0),
            &confirm_mail,
            audit(AuditAction::StatusSubscribeRequested)
        )
        .await
        .unwrap()
    );
    // Asking again while pending sends a new link; the old one stops working.
    let second = SessionToken::generate(&OsEntropy);
    let other_unsub = SessionToken::generate(&OsEntropy);
    assert!(
        s.subscribe(
            &subscription("Ann@Example.com", &second, &other_unsub, T0),
            &confirm_mail,
            audit(AuditAction::StatusSubscribeRequested)
        )
        .await
        .unwrap()
    );
    let counts = s.subscriber_counts().await.unwrap();
    assert_eq!(
        (counts.pending, counts.confirmed),
        (1, 0),
        "one row per address"
    );
    assert!(
        s.confirm_subscription(&first.hash(), T0, audit(AuditAction::StatusSubscribed))
            .await
            .unwrap()
            .is_none()
    );
    // An expired link does not confirm.
    let late = T0.plus(Duration::from_secs(3601));
    assert!(
        s.confirm_subscription(&second.hash(), late, audit(AuditAction::StatusSubscribed))
            .await
            .unwrap()
            .is_none()
    );
    let sub = s
        .confirm_subscription(&second.hash(), T0, audit(AuditAction::StatusSubscribed))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sub.state, SubscriberState::Confirmed);
    assert!(
        s.confirm_subscription(&second.hash(), T0, audit(AuditAction::StatusSubscribed))
            .await
            .unwrap()
            .is_none(),
        "used once"
    );
    // A confirmed address asking again: nothing written, no mail.
    assert!(
        !s.subscribe(
            &subscription(
                "ann@example.com",
                &SessionToken::generate(&OsEntropy),
                &other_unsub,
                T0
            ),
            &confirm_mail,
            audit(AuditAction::StatusSubscribeRequested)
        )
        .await
        .unwrap()
    );
    let confirms = s
        .notices(&NoticeFilter {
            state: None,
            account: None,
            limit: 100,
        })
        .await
        .unwrap()
        .into_iter()
        .filter(|n| n.kind == NoticeKind::StatusConfirm)
        .count();
    assert_eq!(confirms, 2);

    // The existing subscriber kept its first unsubscribe digest.
    assert_eq!(
        s.subscriber_by_unsubscribe(&unsub.hash())
            .await
            .unwrap()
            .unwrap()
            .id,
        sub.id
    );
    assert!(
        s.subscriber_by_unsubscribe(&other_unsub.hash())
            .await
            .unwrap()
            .is_none()
    );

    // An update goes to the confirmed subscriber, in the update's transaction.
    let d = s
        .create_incident(&draft("Slow", &[]), audit(AuditAction::IncidentDrafted))
        .await
        .unwrap();
    let posted = s
        .post_incident_update(
            d.id,
            &update(IncidentState::Investigating, "Looking.", T0, true),
            &update_notice,
            audit(AuditAction::IncidentPublished),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(posted.notices, 1);

    let left = s
        .unsubscribe(&unsub.hash(), T0, audit(AuditAction::StatusUnsubscribed))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(left.state, SubscriberState::Unsubscribed);
    let again = s
        .unsubscribe(&unsub.hash(), T0, audit(AuditAction::StatusUnsubscribed))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        again.state,
        SubscriberState::Unsubscribed,
        "a second click changes nothing"
    );
    assert!(
        s.unsubscribe(&first.hash(), T0, audit(AuditAction::StatusUnsubscribed))
            .await
            .unwrap()
            .is_none()
    );
    let posted = s
        .post_incident_update(
            d.id,
            &update(IncidentState::Monitoring, "Better.", T0, false),
            &update_notice,
            audit(AuditAction::IncidentUpdated),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(posted.notices, 0, "no mail after unsubscribing");
    let actions: Vec<String> = s
        .audit_entries(0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "status.unsubscribed")
            .count(),
        1
    );
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "status.subscribe_requested")
            .count(),
        2
    );
    assert_eq!(
        actions.iter().filter(|a| *a == "status.subscribed").count(),
        1
    );
    // Subscribing again after leaving starts over with a new confirmation.
    assert!(
        s.subscribe(
            &subscription(
                "ann@example.com",
                &SessionToken::generate(&OsEntropy),
                &other_unsub,
                T0
            ),
            &confirm_mail,
            audit(AuditAction::StatusSubscribeRequested)
        )
        .await
        .unwrap()
    );
    assert_eq!(s.subscriber_counts().await.unwrap().pending, 1);
});

both_engines!(
    status_mail_has_its_own_budget_behind_security_notices,
    |s: Arc<dyn Store>| async move {
        // Five status mails are due before two security notices.
        for i in 0..5 {
            s.enqueue_notice(
                &notice(
                    &format!("sub{i}@example.com"),
                    NoticeKind::StatusUpdate,
                    &format!("st{i}"),
                    T0,
                ),
                None,
            )
            .await
            .unwrap();
        }
        let later = T0.plus(Duration::from_secs(1));
        for (i, to) in ["ann@example.com", "sub0@example.com"].iter().enumerate() {
            s.enqueue_notice(
                &notice(to, NoticeKind::ForcedReset, &format!("sec{i}"), later),
                None,
            )
            .await
            .unwrap();
        }
        let now = T0.plus(Duration::from_secs(2));
        // Room for three: both security notices go first, though they are younger.
        let p = ClaimPolicy {
            limit: 3,
            status_per_hour: 2,
            ..claim_policy(now, 1)
        };
        let first = s.claim_notices(&p).await.unwrap();
        let kinds: Vec<NoticeKind> = first.claimed.iter().map(|c| c.notice.kind).collect();
        assert_eq!(
            kinds,
            [
                NoticeKind::ForcedReset,
                NoticeKind::ForcedReset,
                NoticeKind::StatusUpdate
            ]
        );
        let ids: Vec<NoticeId> = first.claimed.iter().map(|c| c.notice.id).collect();
        s.notices_sent(&ids, &p.lease_id, now).await.unwrap();

        // A third security notice to sub0, whose status mail was sent: the status
        // mail did not use up the per-recipient cap (1).
        let sub0_status_sent = first.claimed.iter().any(|c| {
            c.notice.kind == NoticeKind::StatusUpdate && c.notice.recipient == "sub0@example.com"
        });
        assert!(sub0_status_sent, "oldest status mail first");
        s.enqueue_notice(
            &notice("sub0@example.com", NoticeKind::Recovery, "sec2", now),
            None,
        )
        .await
        .unwrap();
        let p2 = ClaimPolicy {
            limit: 100,
            status_per_hour: 2,
            ..claim_policy(now, 2)
        };
        let second = s.claim_notices(&p2).await.unwrap();
        let kinds: Vec<NoticeKind> = second.claimed.iter().map(|c| c.notice.kind).collect();
        assert_eq!(
            kinds,
            [NoticeKind::Recovery, NoticeKind::StatusUpdate],
            "the security notice, then one status mail: the budget of 2 an hour is spent"
        );
        let ids: Vec<NoticeId> = second.claimed.iter().map(|c| c.notice.id).collect();
        s.notices_sent(&ids, &p2.lease_id, now).await.unwrap();

        // Budget spent: the rest is deferred until the first send leaves the hour.
        let third = s.claim_notices(&claim_policy_budget(now, 2)).await.unwrap();
        assert!(third.claimed.is_empty());
        assert_eq!(third.status_deferred, 3);
        let due = s.next_notice_due().await.unwrap().unwrap();
        assert_eq!(
            due,
            now.plus(Duration::from_secs(3600))
                .plus(Duration::from_millis(1))
        );
        // A security notice still goes out at once.
        s.enqueue_notice(
            &notice("bob@example.com", NoticeKind::PasswordChanged, "sec3", now),
            None,
        )
        .await
        .unwrap();
        let p4 = claim_policy_budget(now, 2);
        let fourth = s.claim_notices(&p4).await.unwrap();
        assert_eq!(fourth.claimed.len(), 1);
        assert_eq!(fourth.claimed[0].notice.kind, NoticeKind::PasswordChanged);
        assert!(
            s.notice_sent(fourth.claimed[0].notice.id, &p4.lease_id, now)
                .await
                .unwrap()
        );
        // An hour on, the budget has room again.
        let hour = due.plus(Duration::from_secs(1));
        let fifth = s
            .claim_notices(&claim_policy_budget(hour, 2))
            .await
            .unwrap();
        assert_eq!(fifth.claimed.len(), 2);
        assert!(
            fifth
                .claimed
                .iter()
                .all(|c| c.notice.kind == NoticeKind::StatusUpdate)
        );
    }
);

fn claim_policy_budget(now: Timestamp, per_hour: i64) -> ClaimPolicy {
    ClaimPolicy {
        status_per_hour: per_hour,
        ..claim_policy(now, 5)
    }
}
