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
