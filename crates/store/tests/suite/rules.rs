//! Rules and their versions.

use super::*;

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

both_engines!(two_writers_of_a_new_rule_both_succeed, |store: Arc<
    dyn Store,
>| async move {
    use gatehouse_domain::finding::RuleMode;
    // Two replicas installing the shipped rules on a fresh database at the
    // same moment: both writes succeed, one version is written, once.
    for i in 0..30 {
        let rule = NewRuleVersion {
            id: format!("race-{i}"),
            detector: "credential_stuffing".into(),
            mode: RuleMode::Shadow,
            definition: serde_json::json!({ "id": format!("race-{i}") }),
            now: T0,
            by: "system".into(),
        };
        let (a, b) = tokio::join!(
            store.put_rule(&rule, audit(AuditAction::RuleChanged)),
            store.put_rule(&rule, audit(AuditAction::RuleChanged)),
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!((a.0.version, b.0.version), (1, 1), "race {i}");
        assert!(a.1 ^ b.1, "exactly one writer changed it (race {i})");
        assert!(store.rule_version(&rule.id, 2).await.unwrap().is_none());
    }
});
