//! Failed-login counters.

use super::*;

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
