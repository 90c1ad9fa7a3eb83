//! Login sessions.

use super::*;

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
