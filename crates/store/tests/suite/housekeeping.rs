//! Purging what is past its retention.

use super::*;

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
