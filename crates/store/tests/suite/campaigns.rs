//! Campaigns, the reset budget, the breaker and undo.

use gatehouse_domain::campaign::StagePlan;

use super::*;

fn new_campaign(automatic: bool) -> NewCampaign {
    NewCampaign {
        id: gatehouse_domain::CampaignId::generate(&OsEntropy),
        name: "test".into(),
        source: if automatic {
            CampaignSource::Rule
        } else {
            CampaignSource::List
        },
        automatic,
        rule: automatic.then(|| ("credential-stuffing".to_string(), 1)),
        reason: "signed in from a credential-stuffing source".into(),
        created_by: Actor::Operator("ann".into()),
        created_at: T0,
        stage_plan: StagePlan {
            fractions: vec![1.0],
            min_stage: 1,
        },
        rate_per_minute: 600,
        bake_secs: 0,
    }
}

pub(super) async fn accounts_with_sessions(
    s: &Arc<dyn Store>,
    n: usize,
) -> Vec<(AccountId, SessionToken)> {
    let mut out = Vec::new();
    for i in 0..n {
        let a = new_account(&format!("c{i}@example.com"));
        s.create_account(&a, audit(AuditAction::AccountCreated))
            .await
            .unwrap();
        let (sess, token) = new_session(a.id, T0);
        s.create_session(&sess, "k", None, audit(AuditAction::LoginSucceeded))
            .await
            .unwrap();
        out.push((a.id, token));
    }
    out
}

pub(super) async fn running(
    s: &Arc<dyn Store>,
    automatic: bool,
    accounts: &[AccountId],
) -> CampaignRecord {
    use gatehouse_domain::campaign::CampaignState as S;
    let targets: Vec<NewTarget> = accounts
        .iter()
        .map(|a| NewTarget {
            account: *a,
            finding_id: None,
            evidence: serde_json::json!({}),
        })
        .collect();
    let c = s
        .create_campaign(
            &new_campaign(automatic),
            &targets,
            audit(AuditAction::CampaignCreated),
        )
        .await
        .unwrap();
    assert_eq!((c.state, c.target_count), (S::Draft, accounts.len() as i64));
    let mut u = CampaignUpdate::at(T0);
    u.state = Some(S::Approved);
    u.snapshot = Some(([1; 32], accounts.len() as i64));
    s.update_campaign(c.id, S::Draft, &u, audit(AuditAction::CampaignTransition))
        .await
        .unwrap();
    let mut u = CampaignUpdate::at(T0);
    u.state = Some(S::Running);
    s.update_campaign(
        c.id,
        S::Approved,
        &u,
        audit(AuditAction::CampaignTransition),
    )
    .await
    .unwrap()
}

pub(super) fn apply_step<'a>(
    c: &CampaignRecord,
    account: AccountId,
    at: Timestamp,
    budget: BudgetLimits,
    rec: &'a NewRecovery,
    n: &'a NewNotice,
) -> ApplyStep<'a> {
    ApplyStep {
        trip_on_exhaustion: None,
        campaign: c.id,
        account,
        now: at,
        budget,
        recovery: rec,
        notice: n,
        audit: audit(AuditAction::AccountReset).target(account),
    }
}

pub(super) fn recovery_for(account: AccountId, at: Timestamp) -> NewRecovery {
    NewRecovery {
        id: RecoveryId::generate(&OsEntropy),
        account,
        code_hash: [3; 32],
        token_hash: None,
        created_at: at,
        expires_at: at.plus(Duration::from_secs(86_400)),
        ip: None,
    }
}

const ROOMY: BudgetLimits = BudgetLimits {
    per_hour: 1000,
    per_day: 1000,
    may_exceed: false,
};

both_engines!(a_forced_reset_suspends_and_undo_restores, |s: Arc<
    dyn Store,
>| async move {
    use gatehouse_domain::campaign::CampaignState as S;
    let people = accounts_with_sessions(&s, 2).await;
    let ids: Vec<AccountId> = people.iter().map(|p| p.0).collect();
    let c = running(&s, false, &ids).await;
    let empty = s
        .create_campaign(
            &new_campaign(false),
            &[],
            audit(AuditAction::CampaignCreated),
        )
        .await;
    assert!(
        matches!(empty, Err(StoreError::Invalid(_))),
        "an empty set is refused"
    );

    for (i, (a, _)) in people.iter().enumerate() {
        let rec = recovery_for(*a, T0);
        let n = notice(
            &format!("c{i}@example.com"),
            NoticeKind::ForcedReset,
            &format!("reset/{}/{a}", c.id),
            T0,
        );
        let out = s
            .apply_campaign_target(&apply_step(&c, *a, T0, ROOMY, &rec, &n))
            .await
            .unwrap();
        assert_eq!(
            out,
            ApplyOutcome::Applied {
                reference: n.reference.clone(),
                tripped: None,
            }
        );
        // Applying again does nothing: idempotent per (campaign, account).
        let again = s
            .apply_campaign_target(&apply_step(&c, *a, T0, ROOMY, &rec, &n))
            .await
            .unwrap();
        assert_eq!(again, ApplyOutcome::AlreadyDone);
    }
    for (a, token) in &people {
        let r = s
            .login_record(&format!(
                "c{}@example.com",
                ids.iter().position(|x| x == a).unwrap()
            ))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(r.state, gatehouse_domain::CredentialState::ResetRequired);
        let sess = s.session_by_token(&token.hash()).await.unwrap().unwrap();
        assert_eq!(sess.state, gatehouse_domain::SessionState::Suspended);
    }
    assert_eq!(s.campaign(c.id).await.unwrap().unwrap().applied, 2);
    assert_eq!(
        s.resets_since(T0.minus(Duration::from_secs(1)))
            .await
            .unwrap(),
        2
    );
    let forced: Vec<_> = s
        .notices(&NoticeFilter {
            limit: 100,
            ..NoticeFilter::default()
        })
        .await
        .unwrap()
        .into_iter()
        .filter(|n| n.kind == NoticeKind::ForcedReset)
        .collect();
    assert_eq!(forced.len(), 2);
    // The first owner's forced-reset notice went out; the second's is still waiting
    // (put back with a retry, as after a temporary failure).
    let p = claim_policy(T0, 100);
    for claimed in s.claim_notices(&p).await.unwrap().claimed {
        if claimed.notice.recipient == "c0@example.com" {
            assert!(
                s.notice_sent(claimed.notice.id, &p.lease_id, T0)
                    .await
                    .unwrap()
            );
        } else {
            assert!(
                s.notice_retry(claimed.notice.id, &p.lease_id, T0, "421 try later")
                    .await
                    .unwrap()
            );
        }
    }

    // The second owner sets a new password before the undo.
    let r1 = s.login_record("c1@example.com").await.unwrap().unwrap();
    s.change_password(
        &PasswordChange {
            account: ids[1],
            expected_version: r1.version,
            new_hash: "$argon2id$v=19$m=19456,t=2,p=1$bmV3c2FsdA$bmV3aGFzaG5ld2hhc2g",
            now: T0.plus(Duration::from_secs(60)),
            keep_session: None,
            end_other_sessions: true,
            end_reason: "password_changed",
            notice: None,
        },
        audit(AuditAction::PasswordChanged),
    )
    .await
    .unwrap();

    let mut u = CampaignUpdate::at(T0);
    u.state = Some(S::Undoing);
    s.update_campaign(c.id, S::Running, &u, audit(AuditAction::CampaignTransition))
        .await
        .unwrap();
    let mut outcomes = Vec::new();
    for (i, a) in ids.iter().enumerate() {
        let corr = notice(
            &format!("c{i}@example.com"),
            NoticeKind::Correction,
            &format!("undo/{}/{a}", c.id),
            T0,
        );
        let expl = notice(
            &format!("c{i}@example.com"),
            NoticeKind::Correction,
            &format!("undo-x/{}/{a}", c.id),
            T0,
        );
        let step = UndoStep {
            campaign: c.id,
            account: *a,
            now: T0.plus(Duration::from_secs(120)),
            reinstate_after: T0.minus(Duration::from_secs(7 * 86_400)),
            correction: &corr,
            explanation: &expl,
            audit: audit(AuditAction::AccountRestored).target(a),
        };
        outcomes.push(s.undo_campaign_target(&step).await.unwrap());
        assert_eq!(
            s.undo_campaign_target(&step).await.unwrap(),
            UndoOutcome::AlreadyDone
        );
    }
    assert_eq!(
        outcomes,
        [
            UndoOutcome::Restored {
                sessions: 1,
                withdrawn: false
            },
            UndoOutcome::NotRestorable
        ]
    );
    // The sent notice gets its correction; the unsent one is withdrawn, never to
    // arrive after the explanation.
    let after: Vec<_> = s
        .notices(&NoticeFilter {
            limit: 100,
            ..NoticeFilter::default()
        })
        .await
        .unwrap();
    let state_of = |to: &str, kind: NoticeKind| -> Vec<NoticeState> {
        after
            .iter()
            .filter(|n| n.recipient == to && n.kind == kind)
            .map(|n| n.state)
            .collect()
    };
    assert_eq!(
        state_of("c0@example.com", NoticeKind::ForcedReset),
        [NoticeState::Sent]
    );
    assert_eq!(
        state_of("c1@example.com", NoticeKind::ForcedReset),
        [NoticeState::Expired]
    );
    assert_eq!(state_of("c0@example.com", NoticeKind::Correction).len(), 1);
    assert_eq!(state_of("c1@example.com", NoticeKind::Correction).len(), 1);
    let r0 = s.login_record("c0@example.com").await.unwrap().unwrap();
    assert_eq!(
        r0.state,
        gatehouse_domain::CredentialState::Active,
        "the prior password works again"
    );
    let sess = s
        .session_by_token(&people[0].1.hash())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        sess.state,
        gatehouse_domain::SessionState::Active,
        "its session is back"
    );
    let counts = s.campaign_target_counts(c.id).await.unwrap();
    assert_eq!(
        counts,
        [(TargetState::NotRestorable, 1), (TargetState::Restored, 1)]
    );
});

both_engines!(the_budget_and_the_breaker_stop_resets, |s: Arc<
    dyn Store,
>| async move {
    use gatehouse_domain::campaign::CampaignState as S;
    let people = accounts_with_sessions(&s, 5).await;
    let ids: Vec<AccountId> = people.iter().map(|p| p.0).collect();
    let auto = running(&s, true, &ids[..4]).await;
    let tight = BudgetLimits {
        per_hour: 2,
        per_day: 10,
        may_exceed: false,
    };
    let mut outcomes = Vec::new();
    for (i, a) in ids[..3].iter().enumerate() {
        let rec = recovery_for(*a, T0);
        let n = notice(
            &format!("c{i}@example.com"),
            NoticeKind::ForcedReset,
            &format!("r/{a}"),
            T0,
        );
        outcomes.push(
            s.apply_campaign_target(&apply_step(&auto, *a, T0, tight, &rec, &n))
                .await
                .unwrap(),
        );
    }
    assert!(
        matches!(
            outcomes[2],
            ApplyOutcome::BudgetExhausted { hour: 2, day: 2 }
        ),
        "{outcomes:?}"
    );
    // An hour later the hourly budget has room again.
    let later = T0.plus(Duration::from_secs(3601));
    let rec = recovery_for(ids[2], later);
    let n = notice(
        "c2@example.com",
        NoticeKind::ForcedReset,
        &format!("r2/{}", ids[2]),
        later,
    );
    assert!(matches!(
        s.apply_campaign_target(&apply_step(&auto, ids[2], later, tight, &rec, &n))
            .await
            .unwrap(),
        ApplyOutcome::Applied { .. }
    ));

    // The breaker: opening pauses running automatic campaigns, not operator ones,
    // and no apply step passes while it is open.
    let manual = running(&s, false, &ids[4..]).await;
    // The trip hands its figures to the alert builder inside its transaction;
    // its notices are written with it.
    let seen = std::sync::Mutex::new(Vec::new());
    let alert = |trip: &gatehouse_store::BreakerTrip| {
        seen.lock().unwrap().push(trip.clone());
        vec![notice(
            "oncall@example.com",
            NoticeKind::BreakerTripped,
            &format!("breaker-tripped/{}/oncall", trip.trip),
            later,
        )]
    };
    assert!(
        s.set_breaker(
            true,
            "volume anomaly",
            &Actor::System,
            later,
            &alert,
            audit(AuditAction::BreakerChanged)
        )
        .await
        .unwrap()
    );
    assert!(
        !s.set_breaker(
            true,
            "again",
            &Actor::System,
            later,
            &alert,
            audit(AuditAction::BreakerChanged)
        )
        .await
        .unwrap()
    );
    {
        let seen = seen.lock().unwrap();
        assert_eq!(
            seen.len(),
            1,
            "a second trip of an open breaker alerts nobody"
        );
        assert_eq!(seen[0].trip, 1);
        assert_eq!(seen[0].paused_campaigns, 1);
        assert_eq!(seen[0].reason, "volume anomaly");
    }
    let alerts = breaker_alerts_written(&s).await;
    assert_eq!(alerts, 1);
    let b = s.breaker().await.unwrap();
    assert!(b.open);
    assert_eq!(b.reason.as_deref(), Some("volume anomaly"));
    let a = s.campaign(auto.id).await.unwrap().unwrap();
    assert_eq!(a.state, S::Paused);
    assert_eq!(
        a.paused_reason.as_deref(),
        Some("circuit breaker: volume anomaly")
    );
    assert_eq!(
        s.campaign(manual.id).await.unwrap().unwrap().state,
        S::Running
    );
    let rec = recovery_for(ids[4], later);
    let n = notice(
        "c4@example.com",
        NoticeKind::ForcedReset,
        &format!("r/{}", ids[4]),
        later,
    );
    assert_eq!(
        s.apply_campaign_target(&apply_step(&manual, ids[4], later, ROOMY, &rec, &n))
            .await
            .unwrap(),
        ApplyOutcome::BreakerOpen
    );
    assert!(
        s.set_breaker(
            false,
            "reviewed; the rule is fixed",
            &Actor::Operator("bob".into()),
            later,
            &|_: &gatehouse_store::BreakerTrip| Vec::new(),
            audit(AuditAction::BreakerChanged)
        )
        .await
        .unwrap()
    );
    assert!(matches!(
        s.apply_campaign_target(&apply_step(&manual, ids[4], later, ROOMY, &rec, &n))
            .await
            .unwrap(),
        ApplyOutcome::Applied { .. }
    ));
    // A paused campaign applies nothing.
    let rec = recovery_for(ids[3], later);
    let n = notice(
        "c3@example.com",
        NoticeKind::ForcedReset,
        &format!("r/{}", ids[3]),
        later,
    );
    assert_eq!(
        s.apply_campaign_target(&apply_step(&auto, ids[3], later, ROOMY, &rec, &n))
            .await
            .unwrap(),
        ApplyOutcome::NotRunning(S::Paused)
    );
    // A stale transition is refused.
    let mut u = CampaignUpdate::at(later);
    u.state = Some(S::Completed);
    assert!(matches!(
        s.update_campaign(
            auto.id,
            S::Running,
            &u,
            audit(AuditAction::CampaignTransition)
        )
        .await,
        Err(StoreError::Conflict(_))
    ));
    let per_day = s
        .resets_per_day(
            T0.minus(Duration::from_secs(86_400)),
            later.plus(Duration::from_secs(1)),
        )
        .await
        .unwrap();
    assert_eq!(per_day.iter().map(|d| d.1).sum::<i64>(), 4);
});

both_engines!(concurrent_apply_steps_share_one_budget, |s: Arc<
    dyn Store,
>| async move {
    let people = accounts_with_sessions(&s, 12).await;
    let ids: Vec<AccountId> = people.iter().map(|p| p.0).collect();
    // Two campaigns (as two replicas would run them) against one budget of 5.
    let a = running(&s, true, &ids[..6]).await;
    let b = running(&s, true, &ids[6..]).await;
    let budget = BudgetLimits {
        per_hour: 5,
        per_day: 100,
        may_exceed: false,
    };
    let mut tasks = Vec::new();
    for (i, acct) in ids.iter().enumerate() {
        let s = s.clone();
        let c = if i < 6 { a.clone() } else { b.clone() };
        let acct = *acct;
        tasks.push(tokio::spawn(async move {
            let rec = recovery_for(acct, T0);
            let n = notice(
                &format!("c{i}@example.com"),
                NoticeKind::ForcedReset,
                &format!("r/{acct}"),
                T0,
            );
            s.apply_campaign_target(&apply_step(&c, acct, T0, budget, &rec, &n))
                .await
                .unwrap()
        }));
    }
    let mut applied = 0;
    for t in tasks {
        if matches!(t.await.unwrap(), ApplyOutcome::Applied { .. }) {
            applied += 1;
        }
    }
    assert_eq!(applied, 5, "never more than the budget, whoever applies");
    assert_eq!(
        s.resets_since(T0.minus(Duration::from_secs(1)))
            .await
            .unwrap(),
        5
    );
});

/// A campaign row that does not parse is reported as corrupt, naming the column,
/// never read as a default (a stranger's actor as "the system", a broken plan as
/// the default plan).
#[tokio::test]
async fn a_corrupt_campaign_row_is_an_error_not_a_default() {
    use sqlx::Connection as _;
    let db = fresh(Engine::Sqlite).await.unwrap();
    let (a, _) = accounts_with_sessions(&db.store, 1).await.remove(0);
    let c = db
        .store
        .create_campaign(
            &new_campaign(false),
            &[NewTarget {
                account: a,
                finding_id: None,
                evidence: serde_json::json!({}),
            }],
            audit(AuditAction::CampaignCreated),
        )
        .await
        .unwrap();
    let read = db.store.campaign(c.id).await.unwrap().unwrap();
    assert_eq!(read.created_by, Actor::Operator("ann".into()));
    assert_eq!(read.stage_plan.fractions, vec![1.0]);
    let mut conn = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
    for (column, value, names) in [
        ("created_by", "admin:ann", "created_by"),
        ("approved_by", "operator:", "approved_by"),
        ("stage_plan", "{\"fractions\": \"all\"}", "stage_plan"),
    ] {
        let original: String = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COALESCE({column}, '') FROM campaigns WHERE id = $1"
        )))
        .bind(c.id.to_string())
        .fetch_one(&mut conn)
        .await
        .unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE campaigns SET {column} = $1 WHERE id = $2"
        )))
        .bind(value)
        .bind(c.id.to_string())
        .execute(&mut conn)
        .await
        .unwrap();
        match db.store.campaign(c.id).await {
            Err(StoreError::Corrupt(why)) => assert!(why.contains(names), "{why}"),
            other => panic!("{column} = {value:?} read as {other:?}"),
        }
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE campaigns SET {column} = NULLIF($1, '') WHERE id = $2"
        )))
        .bind(original)
        .bind(c.id.to_string())
        .execute(&mut conn)
        .await
        .unwrap();
    }
    assert_eq!(db.store.campaign(c.id).await.unwrap().unwrap(), read);
}

both_engines!(
    the_reset_that_uses_up_the_budget_trips_the_breaker,
    |s: Arc<dyn Store>| async move {
        use gatehouse_domain::campaign::CampaignState as S;
        let people = accounts_with_sessions(&s, 4).await;
        let ids: Vec<AccountId> = people.iter().map(|p| p.0).collect();
        let auto = running(&s, true, &ids).await;
        let tight = BudgetLimits {
            per_hour: 2,
            per_day: 10,
            may_exceed: false,
        };
        let alert = |trip: &gatehouse_store::BreakerTrip| {
            vec![notice(
                "oncall@example.com",
                NoticeKind::BreakerTripped,
                &format!("breaker-tripped/{}/oncall", trip.trip),
                T0,
            )]
        };
        let reason = |used: BudgetUse| format!("budget used up: {} this hour", used.hour);
        let mut outcomes = Vec::new();
        for (i, a) in ids[..3].iter().enumerate() {
            let rec = recovery_for(*a, T0);
            let n = notice(
                &format!("c{i}@example.com"),
                NoticeKind::ForcedReset,
                &format!("r/{a}"),
                T0,
            );
            let mut step = apply_step(&auto, *a, T0, tight, &rec, &n);
            step.trip_on_exhaustion = Some(ExhaustionTrip {
                reason: &reason,
                alerts: &alert,
                audit: audit(AuditAction::BreakerChanged),
            });
            outcomes.push(s.apply_campaign_target(&step).await.unwrap());
        }
        // The first reset leaves room; the second draws the last unit and trips
        // the breaker in its own transaction; the third finds it open.
        assert!(
            matches!(&outcomes[0], ApplyOutcome::Applied { tripped: None, .. }),
            "{outcomes:?}"
        );
        match &outcomes[1] {
            ApplyOutcome::Applied {
                tripped: Some(why), ..
            } => assert_eq!(why, "budget used up: 2 this hour"),
            other => panic!("the exhausting reset did not trip: {other:?}"),
        }
        assert_eq!(outcomes[2], ApplyOutcome::BreakerOpen);
        let b = s.breaker().await.unwrap();
        assert!(b.open);
        assert_eq!(b.reason.as_deref(), Some("budget used up: 2 this hour"));
        // The trip paused the automatic campaign and wrote the operators' alert.
        assert_eq!(s.campaign(auto.id).await.unwrap().unwrap().state, S::Paused);
        let alerts = breaker_alerts_written(&s).await;
        assert_eq!(alerts, 1);
        assert_eq!(
            s.resets_since(T0.minus(Duration::from_secs(60)))
                .await
                .unwrap(),
            2
        );
    }
);

/// How many operators' breaker alerts the outbox holds.
pub(super) async fn breaker_alerts_written(s: &Arc<dyn Store>) -> usize {
    s.notices(&NoticeFilter {
        state: None,
        account: None,
        limit: 100,
    })
    .await
    .unwrap()
    .into_iter()
    .filter(|n| n.kind == NoticeKind::BreakerTripped)
    .count()
}
