//! Operators and API keys.

use super::*;

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
