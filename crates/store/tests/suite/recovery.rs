//! Password recovery.

use super::*;

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
