//! Operators and API keys.

use super::*;

both_engines!(operators_by_key, |s: Arc<dyn Store>| async move {
    let key = ApiKey::generate(&OsEntropy);
    let new = NewOperator {
        id: OperatorId::generate(&OsEntropy),
        email: "Ops@example.com".into(),
        email_key: "ops@example.com".into(),
        key_hash: key.hash(),
        key_expires_at: None,
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

fn new_operator(email: &str, key: &ApiKey) -> NewOperator {
    NewOperator {
        id: OperatorId::generate(&OsEntropy),
        email: email.into(),
        email_key: email.into(),
        key_hash: key.hash(),
        key_expires_at: Some(T0.plus(Duration::from_secs(86_400))),
        created_at: T0,
    }
}

both_engines!(operator_keys_rotate_revoke_and_touch, |s: Arc<
    dyn Store,
>| async move {
    let old = ApiKey::generate(&OsEntropy);
    let op = s
        .create_operator(
            &new_operator("a@example.com", &old),
            audit(AuditAction::OperatorCreated),
        )
        .await
        .unwrap();
    let held = s.operator_key_holder(&old.hash()).await.unwrap().unwrap();
    assert_eq!(held.operator, op);
    assert_eq!(held.expires_at, Some(T0.plus(Duration::from_secs(86_400))));
    assert_eq!(held.last_used_at, None);

    // Last use: written once, then not again before the interval is over.
    let t1 = T0.plus(Duration::from_secs(10));
    s.touch_operator_key(op.id, t1, T0).await.unwrap();
    s.touch_operator_key(
        op.id,
        t1.plus(Duration::from_secs(5)),
        t1.minus(Duration::from_secs(55)),
    )
    .await
    .unwrap();
    let held = s.operator_key_holder(&old.hash()).await.unwrap().unwrap();
    assert_eq!(held.last_used_at, Some(t1));

    // Rotation: the new key works, the old one does not, the facts start over.
    let new = ApiKey::generate(&OsEntropy);
    let t2 = T0.plus(Duration::from_secs(60));
    s.rotate_operator_key(
        op.id,
        &new.hash(),
        None,
        t2,
        audit(AuditAction::OperatorKeyRotated),
    )
    .await
    .unwrap();
    assert_eq!(s.operator_key_holder(&old.hash()).await.unwrap(), None);
    assert_eq!(s.operator_by_key(&old.hash()).await.unwrap(), None);
    let held = s.operator_key_holder(&new.hash()).await.unwrap().unwrap();
    assert_eq!((held.expires_at, held.last_used_at), (None, None));
    let view = s.operators_overview().await.unwrap();
    assert_eq!(view.len(), 1);
    assert_eq!(view[0].key_created_at, Some(t2));
    assert!(!view[0].console_password);

    // Revocation: no key works; a second revocation changes nothing.
    assert!(
        s.revoke_operator_key(op.id, t2, audit(AuditAction::OperatorKeyRevoked))
            .await
            .unwrap()
    );
    assert!(
        !s.revoke_operator_key(op.id, t2, audit(AuditAction::OperatorKeyRevoked))
            .await
            .unwrap()
    );
    assert_eq!(s.operator_key_holder(&new.hash()).await.unwrap(), None);
    assert_eq!(s.operator_by_key(&new.hash()).await.unwrap(), None);
    assert_eq!(
        s.operators_overview().await.unwrap()[0].key_revoked_at,
        Some(t2)
    );
    // Rotating again gives a working key.
    let third = ApiKey::generate(&OsEntropy);
    s.rotate_operator_key(
        op.id,
        &third.hash(),
        None,
        t2,
        audit(AuditAction::OperatorKeyRotated),
    )
    .await
    .unwrap();
    assert!(
        s.operator_key_holder(&third.hash())
            .await
            .unwrap()
            .is_some()
    );
    let nobody = OperatorId::generate(&OsEntropy);
    assert!(matches!(
        s.revoke_operator_key(nobody, t2, audit(AuditAction::OperatorKeyRevoked))
            .await,
        Err(StoreError::NotFound(_))
    ));
    // Each change wrote its entry (created, rotated, revoked once, rotated).
    assert_eq!(s.audit_entries(0, 100).await.unwrap().len(), 4);
});

both_engines!(the_last_enabled_operator_cannot_be_disabled, |s: Arc<
    dyn Store,
>| async move {
    let (ka, kb) = (ApiKey::generate(&OsEntropy), ApiKey::generate(&OsEntropy));
    let a = s
        .create_operator(
            &new_operator("a@example.com", &ka),
            audit(AuditAction::OperatorCreated),
        )
        .await
        .unwrap();
    let b = s
        .create_operator(
            &new_operator("b@example.com", &kb),
            audit(AuditAction::OperatorCreated),
        )
        .await
        .unwrap();
    let off = Some(T0.plus(Duration::from_secs(1)));
    assert!(
        s.set_operator_disabled(a.id, off, audit(AuditAction::OperatorDisabled))
            .await
            .unwrap()
    );
    assert!(
        !s.set_operator_disabled(a.id, off, audit(AuditAction::OperatorDisabled))
            .await
            .unwrap()
    );
    // A disabled operator's key, e-mail and key rotation are refused.
    assert_eq!(s.operator_key_holder(&ka.hash()).await.unwrap(), None);
    assert_eq!(s.operator_by_email("a@example.com").await.unwrap(), None);
    assert!(matches!(
        s.rotate_operator_key(
            a.id,
            &ApiKey::generate(&OsEntropy).hash(),
            None,
            T0,
            audit(AuditAction::OperatorKeyRotated)
        )
        .await,
        Err(StoreError::NotFound(_))
    ));
    // b is the last one enabled: refused, and nothing written.
    let entries = s.audit_entries(0, 100).await.unwrap().len();
    assert!(matches!(
        s.set_operator_disabled(b.id, off, audit(AuditAction::OperatorDisabled)).await,
        Err(StoreError::Conflict(m)) if m.contains("last enabled operator")
    ));
    assert_eq!(s.audit_entries(0, 100).await.unwrap().len(), entries);
    assert!(s.operator_key_holder(&kb.hash()).await.unwrap().is_some());
    // Enabled again, a's key works, and then b may be disabled.
    assert!(
        s.set_operator_disabled(a.id, None, audit(AuditAction::OperatorEnabled))
            .await
            .unwrap()
    );
    assert!(s.operator_key_holder(&ka.hash()).await.unwrap().is_some());
    assert!(
        s.set_operator_disabled(b.id, off, audit(AuditAction::OperatorDisabled))
            .await
            .unwrap()
    );
    let view = s.operators_overview().await.unwrap();
    assert_eq!(
        view.iter()
            .map(|o| (o.operator.email.as_str(), o.disabled_at.is_some()))
            .collect::<Vec<_>>(),
        [("a@example.com", false), ("b@example.com", true)]
    );
});
