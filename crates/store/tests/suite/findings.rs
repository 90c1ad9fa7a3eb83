//! Findings and their daily cap.

use super::*;

fn finding(account: AccountId, n: u32) -> NewFinding {
    let mut dedupe_key = [0u8; 16];
    dedupe_key[..16].copy_from_slice(&AccountId::generate(&OsEntropy).as_uuid().into_bytes());
    dedupe_key[0] = n as u8;
    NewFinding {
        account,
        detector: "credential_stuffing".into(),
        score: 0.5,
        evidence: serde_json::json!({ "n": n }),
        observed_at: T0,
        dedupe_key,
    }
}

both_engines!(concurrent_recorders_share_one_daily_cap, |store: Arc<
    dyn Store,
>| async move {
    use gatehouse_domain::finding::{FindingStatus, RuleAction, RuleMode};
    let rule = stuffing_rule(&store, RuleMode::Enforce).await;
    let accounts: Vec<AccountId> = {
        let mut v = Vec::new();
        for i in 0..4 {
            let a = new_account(&format!("f{i}@example.com"));
            v.push(
                store
                    .create_account(&a, audit(AuditAction::AccountCreated))
                    .await
                    .unwrap()
                    .id,
            );
        }
        v
    };
    let target = FindingRule {
        id: rule.id.clone(),
        version: rule.version,
        mode: RuleMode::Enforce,
        action: RuleAction::ForceReset,
        max_per_day: 10,
    };
    // Four "replicas" record five findings each at once, against a cap of ten.
    let mut tasks = Vec::new();
    let batches: Vec<Vec<NewFinding>> = accounts
        .iter()
        .enumerate()
        .map(|(r, account)| {
            (0..5)
                .map(|n| finding(*account, r as u32 * 10 + n))
                .collect()
        })
        .collect();
    for batch in batches.clone() {
        let store = store.clone();
        let target = target.clone();
        tasks.push(tokio::spawn(async move {
            store
                .record_findings(&target, &batch, T0, audit(AuditAction::FindingsRecorded))
                .await
                .unwrap()
        }));
    }
    let mut pending = 0;
    let mut held = 0;
    let mut all = Vec::new();
    for t in tasks {
        let r = t.await.unwrap();
        pending += r.pending;
        held += r.held;
        all.push(r);
    }
    assert_eq!((pending, held), (10, 10), "{all:?}");
    let page = store
        .findings(&FindingFilter {
            status: Some(FindingStatus::Pending),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.len(), 10);
    // Recording the same findings again (a replay) records nothing.
    let r = store
        .record_findings(
            &target,
            &batches[0],
            T0,
            audit(AuditAction::FindingsRecorded),
        )
        .await
        .unwrap();
    assert_eq!(
        r,
        RecordedFindings {
            duplicates: 5,
            ..Default::default()
        }
    );
    // A day later the cap has room again.
    let later = T0.plus(Duration::from_secs(86_401));
    let r = store
        .record_findings(
            &target,
            &[finding(accounts[0], 99)],
            later,
            audit(AuditAction::FindingsRecorded),
        )
        .await
        .unwrap();
    assert_eq!(r.pending, 1);
    let per_day = store
        .findings_per_day(
            "stuffing",
            T0.minus(Duration::from_secs(86_400)),
            later.plus(Duration::from_secs(1)),
        )
        .await
        .unwrap();
    assert_eq!(per_day.iter().map(|d| d.1).sum::<i64>(), 21);
    // What the rule found lately, by status.
    let counts = store.finding_counts(T0).await.unwrap();
    let by: Vec<(&str, FindingStatus, i64)> = counts
        .iter()
        .map(|c| (c.rule_id.as_str(), c.status, c.count))
        .collect();
    assert_eq!(
        by,
        [
            ("stuffing", FindingStatus::Held, 10),
            ("stuffing", FindingStatus::Pending, 11)
        ]
    );
    assert_eq!(counts[1].newest, later);
    let since_later = store.finding_counts(later).await.unwrap();
    assert_eq!(since_later.len(), 1);
    assert_eq!(since_later[0].count, 1);
});

both_engines!(
    findings_are_recorded_once,
    |store: Arc<dyn Store>| async move {
        use gatehouse_domain::finding::{RuleAction, RuleMode};
        let rule = stuffing_rule(&store, RuleMode::Shadow).await;
        let a = store
            .create_account(
                &new_account("once@example.com"),
                audit(AuditAction::AccountCreated),
            )
            .await
            .unwrap()
            .id;
        let target = FindingRule {
            id: rule.id.clone(),
            version: 1,
            mode: RuleMode::Shadow,
            action: RuleAction::Notify,
            max_per_day: 0,
        };
        let f = finding(a, 1);
        let first = store
            .record_findings(
                &target,
                &[f.clone(), f.clone()],
                T0,
                audit(AuditAction::FindingsRecorded),
            )
            .await
            .unwrap();
        assert_eq!(
            (first.shadow, first.duplicates),
            (1, 1),
            "a cap of 0 does not hold shadow findings"
        );
        let second = store
            .record_findings(&target, &[f], T0, audit(AuditAction::FindingsRecorded))
            .await
            .unwrap();
        assert_eq!((second.shadow, second.duplicates), (0, 1));
        let listed = store
            .findings(&FindingFilter {
                account: Some(a),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].email, "once@example.com");
        assert_eq!(listed[0].evidence["n"], 1);
    }
);
