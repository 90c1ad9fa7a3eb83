//! The audit chain.

use super::*;

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

/// `n` plain entries (failed logins), appended one by one.
async fn append_failures(store: &Arc<dyn Store>, n: i64) {
    for i in 0..n {
        let e = NewAuditEntry::new(T0, Actor::System, AuditAction::LoginFailed)
            .detail(serde_json::json!({ "i": i }));
        store.append_audit(e).await.unwrap();
    }
}

#[tokio::test]
async fn audit_verify_names_the_first_tampered_entry() {
    use sqlx::Connection as _;
    let db = fresh(Engine::Sqlite).await.unwrap();
    append_failures(&db.store, 5).await;
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
    sqlx::query(
        "INSERT INTO audit_log SELECT 4, at, actor_kind, actor_id, action, target, ip, \
         detail, hash FROM audit_log WHERE seq = 2",
    )
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

/// Rows deleted from the end of the log leave it shorter than its head says:
/// `verify` names the first missing entry instead of reporting "intact".
#[tokio::test]
async fn audit_verify_notices_entries_cut_from_the_end() {
    use sqlx::Connection as _;
    let db = fresh(Engine::Sqlite).await.unwrap();
    append_failures(&db.store, 5).await;
    assert_eq!(
        verify_audit_chain(db.store.as_ref()).await.unwrap(),
        ChainReport::Intact { entries: 5 }
    );
    assert_eq!(db.store.audit_head().await.unwrap().0, 5);
    let mut conn = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
    sqlx::query("DELETE FROM audit_log WHERE seq > 3")
        .execute(&mut conn)
        .await
        .unwrap();
    match verify_audit_chain(db.store.as_ref()).await.unwrap() {
        ChainReport::Broken { seq, reason } => {
            assert_eq!(seq, 4);
            assert!(reason.contains("entries removed from the end"), "{reason}");
        }
        other => panic!("a cut log reported as {other:?}"),
    }
}

/// Someone with the database cuts the log and moves its head back to match:
/// the chain alone looks intact; a checkpoint saved earlier says otherwise.
#[tokio::test]
async fn a_checkpoint_catches_a_cut_that_the_chain_cannot() {
    use sqlx::Connection as _;
    let db = fresh(Engine::Sqlite).await.unwrap();
    append_failures(&db.store, 6).await;
    let (seq, hash) = db.store.audit_head().await.unwrap();
    let at = "2026-12-03T00:00:00Z";
    assert_eq!(
        verify_audit_chain_against(db.store.as_ref(), seq, &hash, at)
            .await
            .unwrap(),
        ChainReport::Intact { entries: 6 }
    );
    let mut conn = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
    sqlx::query("DELETE FROM audit_log WHERE seq > 4")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query(
        "UPDATE audit_head SET seq = 4, hash = (SELECT hash FROM audit_log WHERE seq = 4) WHERE id = 1",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        verify_audit_chain(db.store.as_ref()).await.unwrap(),
        ChainReport::Intact { entries: 4 },
        "the chain alone cannot tell"
    );
    match verify_audit_chain_against(db.store.as_ref(), seq, &hash, at)
        .await
        .unwrap()
    {
        ChainReport::Broken { seq: 6, reason } => assert!(reason.contains("cut short"), "{reason}"),
        other => panic!("{other:?}"),
    }
}
