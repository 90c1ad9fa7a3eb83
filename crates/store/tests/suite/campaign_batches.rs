//! A campaign's targets applied in batches (`apply_campaign_targets`): the same
//! per-account checks and effects as one by one, in one transaction.

use super::campaigns::{
    accounts_with_sessions, apply_step, breaker_alerts_written, recovery_for, running,
};
use super::*;

/// What a batch writes for each target, kept alive for the borrow.
struct Prepared {
    account: AccountId,
    recovery: NewRecovery,
    notice: NewNotice,
}

fn prepared(c: &CampaignRecord, ids: &[AccountId], at: Timestamp) -> Vec<Prepared> {
    ids.iter()
        .map(|a| Prepared {
            account: *a,
            recovery: recovery_for(*a, at),
            notice: notice(
                &format!("{a}@example.com"),
                NoticeKind::ForcedReset,
                &format!("reset/{}/{a}", c.id),
                at,
            ),
        })
        .collect()
}

fn batch<'a>(
    c: &CampaignRecord,
    p: &'a [Prepared],
    budget: BudgetLimits,
    trip: Option<&'a ExhaustionTrip<'a>>,
) -> ApplyBatch<'a> {
    ApplyBatch {
        trip_on_exhaustion: trip,
        campaign: c.id,
        now: T0,
        budget,
        targets: p
            .iter()
            .map(|p| ApplyTarget {
                account: p.account,
                recovery: &p.recovery,
                notice: &p.notice,
                audit: audit(AuditAction::AccountReset).target(p.account),
            })
            .collect(),
    }
}

async fn target_states(s: &Arc<dyn Store>, c: &CampaignRecord) -> Vec<TargetState> {
    s.campaign_targets(c.id, None, -1, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.state)
        .collect()
}

async fn forced_notices(s: &Arc<dyn Store>) -> usize {
    s.notices(&NoticeFilter {
        limit: 1000,
        ..NoticeFilter::default()
    })
    .await
    .unwrap()
    .into_iter()
    .filter(|n| n.kind == NoticeKind::ForcedReset)
    .count()
}

both_engines!(a_batch_decides_each_account_in_order, |s: Arc<
    dyn Store,
>| async move {
    let people = accounts_with_sessions(&s, 7).await;
    let ids: Vec<AccountId> = people.iter().map(|p| p.0).collect();
    // ids[1] is already awaiting a reset from another campaign: skipped.
    let other = running(&s, false, &ids[1..2]).await;
    let p = prepared(&other, &ids[1..2], T0);
    let roomy = BudgetLimits {
        per_hour: 1000,
        per_day: 1000,
        may_exceed: false,
    };
    s.apply_campaign_target(&apply_step(
        &other,
        ids[1],
        T0,
        roomy,
        &p[0].recovery,
        &p[0].notice,
    ))
    .await
    .unwrap();

    let auto = running(&s, true, &ids).await;
    // ids[0] applied alone first: already done when the batch comes.
    let first = prepared(&auto, &ids[..1], T0);
    s.apply_campaign_target(&apply_step(
        &auto,
        ids[0],
        T0,
        roomy,
        &first[0].recovery,
        &first[0].notice,
    ))
    .await
    .unwrap();
    let before = forced_notices(&s).await;
    assert_eq!(before, 2);

    // Two resets drawn so far; room for three more this hour.
    let tight = BudgetLimits {
        per_hour: 5,
        per_day: 100,
        may_exceed: false,
    };
    let alerts = |_: &BreakerTrip| {
        vec![notice(
            "oncall@example.com",
            NoticeKind::BreakerTripped,
            "breaker/oncall",
            T0,
        )]
    };
    let reason = |u: BudgetUse| format!("budget used up: {} this hour", u.hour);
    let trip = ExhaustionTrip {
        reason: &reason,
        alerts: &alerts,
        audit: audit(AuditAction::BreakerChanged),
    };
    let p = prepared(&auto, &ids, T0);
    let outcomes = s
        .apply_campaign_targets(&batch(&auto, &p, tight, Some(&trip)))
        .await
        .unwrap();
    let applied = |i: usize, tripped: Option<&str>| ApplyOutcome::Applied {
        reference: p[i].notice.reference.clone(),
        tripped: tripped.map(str::to_owned),
    };
    assert_eq!(
        outcomes,
        vec![
            ApplyOutcome::AlreadyDone,
            ApplyOutcome::Skipped,
            applied(2, None),
            applied(3, None),
            applied(4, Some("budget used up: 5 this hour")),
            ApplyOutcome::BudgetExhausted { hour: 5, day: 5 },
        ],
        "each account decided in order; the reset drawing the last unit trips"
    );
    use TargetState::{Applied, Pending, Skipped};
    assert_eq!(
        target_states(&s, &auto).await,
        vec![
            Applied, Skipped, Applied, Applied, Applied, Pending, Pending
        ]
    );
    assert_eq!(forced_notices(&s).await, before + 3);
    assert_eq!(breaker_alerts_written(&s).await, 1);
    assert!(s.breaker().await.unwrap().open);
    let counted = s.campaign(auto.id).await.unwrap().unwrap();
    assert_eq!((counted.applied, counted.skipped), (4, 1));
    let days = s
        .resets_per_day(
            T0.minus(Duration::from_secs(86_400)),
            T0.plus(Duration::from_secs(60)),
        )
        .await
        .unwrap();
    assert_eq!(days, vec![(T0.as_millis() / 86_400_000, 5)]);
    assert_eq!(
        s.resets_since(T0.minus(Duration::from_secs(1)))
            .await
            .unwrap(),
        5
    );
    for (i, (_, token)) in people.iter().enumerate() {
        let sess = s.session_by_token(&token.hash()).await.unwrap().unwrap();
        let expected = if i < 5 {
            gatehouse_domain::SessionState::Suspended
        } else {
            gatehouse_domain::SessionState::Active
        };
        assert_eq!(sess.state, expected, "session of target {i}");
    }

    // The breaker is open now: a batch changes nothing.
    let rest = prepared(&auto, &ids[5..], T0);
    let open = s
        .apply_campaign_targets(&batch(&auto, &rest, roomy, None))
        .await
        .unwrap();
    assert!(matches!(open[..], [ApplyOutcome::BreakerOpen]), "{open:?}");
    assert_eq!(forced_notices(&s).await, before + 3);
});

both_engines!(a_batch_is_all_or_nothing, |s: Arc<dyn Store>| async move {
    let people = accounts_with_sessions(&s, 4).await;
    let ids: Vec<AccountId> = people.iter().map(|p| p.0).collect();
    let c = running(&s, false, &ids).await;
    let roomy = BudgetLimits {
        per_hour: 1000,
        per_day: 1000,
        may_exceed: false,
    };
    let twice = prepared(&c, &[ids[0], ids[0]], T0);
    assert!(matches!(
        s.apply_campaign_targets(&batch(&c, &twice, roomy, None))
            .await,
        Err(StoreError::Invalid(_))
    ));
    // The last notice's reference is taken by an earlier notice: the
    // collision fails the whole batch, and nothing of it is written.
    let mut p = prepared(&c, &ids, T0);
    let taken = notice("x@example.com", NoticeKind::Recovery, "earlier", T0);
    s.enqueue_notice(&taken, None).await.unwrap();
    p[3].notice.reference = taken.reference.clone();
    let err = s
        .apply_campaign_targets(&batch(&c, &p, roomy, None))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(NOTICE_REFERENCE_TAKEN)),
        "{err:?}"
    );
    assert_eq!(target_states(&s, &c).await, vec![TargetState::Pending; 4]);
    assert_eq!(forced_notices(&s).await, 0);
    assert_eq!(s.campaign(c.id).await.unwrap().unwrap().applied, 0);
    for (_, token) in &people {
        let sess = s.session_by_token(&token.hash()).await.unwrap().unwrap();
        assert_eq!(sess.state, gatehouse_domain::SessionState::Active);
    }
    // With a fresh reference the same batch goes through whole.
    p[3].notice.reference = Reference::generate(&OsEntropy).to_string();
    let outcomes = s
        .apply_campaign_targets(&batch(&c, &p, roomy, None))
        .await
        .unwrap();
    assert_eq!(outcomes.len(), 4);
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, ApplyOutcome::Applied { tripped: None, .. }))
    );
    assert_eq!(target_states(&s, &c).await, vec![TargetState::Applied; 4]);
    assert_eq!(forced_notices(&s).await, 4);
});
