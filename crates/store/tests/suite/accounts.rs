//! Accounts: sign-up, import, uniqueness.

use super::*;

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
