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
