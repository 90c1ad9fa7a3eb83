//! The status page: incidents, subscribers, the status-mail budget.

use super::*;

fn component(id: &str, position: i64) -> NewStatusComponent {
    NewStatusComponent {
        id: id.into(),
        name: format!("The {id}"),
        description: String::new(),
        position,
        now: T0,
    }
}

fn draft(title: &str, components: &[&str]) -> NewIncident {
    NewIncident {
        title: title.into(),
        impact: Impact::Major,
        body: "We are looking into it.".into(),
        figures: Some(serde_json::json!({ "resets_last_minute": 4200 })),
        components: components.iter().map(|c| c.to_string()).collect(),
        created_by: "system".into(),
        now: T0,
    }
}

fn update(state: IncidentState, body: &str, at: Timestamp, publish: bool) -> NewIncidentUpdate {
    NewIncidentUpdate {
        state,
        body: body.into(),
        author: "operator:test".into(),
        at,
        publish,
    }
}

/// The notice a status update sends one subscriber.
fn update_notice(s: &StatusSubscriber) -> NewNotice {
    notice(
        &s.email,
        NoticeKind::StatusUpdate,
        &format!("status-update/{}/{}", s.id, NoticeId::generate(&OsEntropy)),
        T0,
    )
}

fn public(drafts: bool) -> IncidentFilter {
    IncidentFilter {
        drafts,
        resolved_since: None,
        limit: 100,
    }
}

both_engines!(status_incident_lifecycle, |s: Arc<dyn Store>| async move {
    s.put_component(
        &component("api", 2),
        audit(AuditAction::StatusComponentChanged),
    )
    .await
    .unwrap();
    s.put_component(
        &component("login", 1),
        audit(AuditAction::StatusComponentChanged),
    )
    .await
    .unwrap();
    let renamed = NewStatusComponent {
        name: "Sign-in".into(),
        ..component("login", 1)
    };
    assert_eq!(
        s.put_component(&renamed, audit(AuditAction::StatusComponentChanged))
            .await
            .unwrap()
            .name,
        "Sign-in",
        "put replaces"
    );
    let ids: Vec<String> = s
        .components()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(ids, ["login", "api"], "page order");

    // An unknown component refuses the draft, and nothing is written.
    let err = s
        .create_incident(&draft("x", &["nope"]), audit(AuditAction::IncidentDrafted))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert!(s.incidents(&public(true)).await.unwrap().is_empty());

    let d = s
        .create_incident(
            &draft("Resets stopped", &["login", "api"]),
            audit(AuditAction::IncidentDrafted),
        )
        .await
        .unwrap();
    assert_eq!(d.state, IncidentState::Draft);
    assert_eq!(d.components, ["login", "api"]);
    assert_eq!(
        d.figures,
        Some(serde_json::json!({ "resets_last_minute": 4200 }))
    );
    assert!(
        s.incidents(&public(false)).await.unwrap().is_empty(),
        "a draft is not public"
    );
    assert_eq!(s.incidents(&public(true)).await.unwrap().len(), 1);

    // A draft takes no update until it is published; it cannot be published resolved.
    let t1 = T0.plus(Duration::from_secs(60));
    for (u, why) in [
        (
            update(IncidentState::Identified, "x", t1, false),
            "unpublished",
        ),
        (
            update(IncidentState::Resolved, "x", t1, true),
            "published resolved",
        ),
    ] {
        let err = s
            .post_incident_update(
                d.id,
                &u,
                &update_notice,
                audit(AuditAction::IncidentUpdated),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{why}: {err:?}");
    }
    // Edits: a draft's text can change.
    let edited = s
        .edit_incident(
            d.id,
            &IncidentEdit {
                title: Some("Automatic resets paused".into()),
                body: Some("Resets are paused while we check a rule.".into()),
                components: Some(vec!["login".into()]),
                ..IncidentEdit::default()
            },
            t1,
            audit(AuditAction::IncidentEdited),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(edited.title, "Automatic resets paused");
    assert_eq!(edited.components, ["login"]);

    let published = s
        .post_incident_update(
            d.id,
            &update(IncidentState::Investigating, &edited.body, t1, true),
            &update_notice,
            audit(AuditAction::IncidentPublished),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(published.notices, 0, "no subscribers yet");
    assert_eq!(published.incident.published_at, Some(t1));
    assert_eq!(s.incidents(&public(false)).await.unwrap().len(), 1);
    // Publishing twice is refused; a public incident's text is its updates.
    let err = s
        .post_incident_update(
            d.id,
            &update(IncidentState::Identified, "x", t1, true),
            &update_notice,
            audit(AuditAction::IncidentPublished),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let err = s
        .edit_incident(
            d.id,
            &IncidentEdit {
                body: Some("rewrite history".into()),
                ..IncidentEdit::default()
            },
            t1,
            audit(AuditAction::IncidentEdited),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");

    let t2 = t1.plus(Duration::from_secs(60));
    let t3 = t2.plus(Duration::from_secs(60));
    s.post_incident_update(
        d.id,
        &update(IncidentState::Identified, "A rule misfired.", t2, false),
        &update_notice,
        audit(AuditAction::IncidentUpdated),
    )
    .await
    .unwrap()
    .unwrap();
    let resolved = s
        .post_incident_update(
            d.id,
            &update(
                IncidentState::Resolved,
                "Undone; corrections sent.",
                t3,
                false,
            ),
            &update_notice,
            audit(AuditAction::IncidentResolved),
        )
        .await
        .unwrap()
        .unwrap()
        .incident;
    assert_eq!(resolved.state, IncidentState::Resolved);
    assert_eq!(resolved.resolved_at, Some(t3));
    let states: Vec<IncidentState> = resolved.updates.iter().map(|u| u.state).collect();
    assert_eq!(
        states,
        [
            IncidentState::Investigating,
            IncidentState::Identified,
            IncidentState::Resolved
        ]
    );
    let err = s
        .post_incident_update(
            d.id,
            &update(IncidentState::Monitoring, "again", t3, false),
            &update_notice,
            audit(AuditAction::IncidentUpdated),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(_)),
        "resolved is final: {err:?}"
    );
    let pm = s
        .set_postmortem(
            d.id,
            "What happened, and what we changed.",
            t3,
            audit(AuditAction::IncidentPostmortem),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        pm.postmortem.as_deref(),
        Some("What happened, and what we changed.")
    );
    // History: a resolved incident drops out of a window that starts after it.
    let recent = IncidentFilter {
        drafts: false,
        resolved_since: Some(t3.plus(Duration::from_secs(1))),
        limit: 10,
    };
    assert!(s.incidents(&recent).await.unwrap().is_empty());
    assert!(s.incident(9999).await.unwrap().is_none());
    assert!(
        s.post_incident_update(
            9999,
            &update(IncidentState::Identified, "x", t3, false),
            &update_notice,
            audit(AuditAction::IncidentUpdated)
        )
        .await
        .unwrap()
        .is_none()
    );
    // Removing a component takes it off incidents too.
    assert!(
        s.remove_component("login", audit(AuditAction::StatusComponentRemoved))
            .await
            .unwrap()
    );
    assert!(
        !s.remove_component("login", audit(AuditAction::StatusComponentRemoved))
            .await
            .unwrap()
    );
    assert!(
        s.incident(d.id)
            .await
            .unwrap()
            .unwrap()
            .components
            .is_empty()
    );

    // Every write above was audited (the failed ones were not).
    let actions: Vec<String> = s
        .audit_entries(0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    for a in [
        "status.component_changed",
        "incident.drafted",
        "incident.edited",
        "incident.published",
        "incident.updated",
        "incident.resolved",
        "incident.postmortem",
        "status.component_removed",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} in {actions:?}");
    }
    assert_eq!(
        actions.iter().filter(|a| *a == "incident.drafted").count(),
        1
    );
});

fn subscription(
    email: &str,
    confirm: &SessionToken,
    unsub: &SessionToken,
    now: Timestamp,
) -> NewSubscription {
    NewSubscription {
        id: NoticeId::generate(&OsEntropy).to_string(),
        email: email.into(),
        email_key: email.to_lowercase(),
        confirm_hash: confirm.hash(),
        confirm_expires_at: now.plus(Duration::from_secs(3600)),
        unsubscribe_hash: unsub.hash(),
        now,
    }
}

both_engines!(status_subscribers_double_opt_in_and_fan_out, |s: Arc<
    dyn Store,
>| async move {
    let confirm_mail = |id: &str| {
        notice(
            "ann@example.com",
            NoticeKind::StatusConfirm,
            &format!("status-confirm/{id}/{}", NoticeId::generate(&OsEntropy)),
            T0,
        )
    };
    let unsub = SessionToken::generate(&OsEntropy);
    let first = SessionToken::generate(&OsEntropy);
    assert!(
        s.subscribe(
            &subscription("ann@example.com", &first, &unsub, T0),
            &confirm_mail,
            audit(AuditAction::StatusSubscribeRequested)
        )
        .await
        .unwrap()
    );
    // Asking again while pending sends a new link; the old one stops working.
    let second = SessionToken::generate(&OsEntropy);
    let other_unsub = SessionToken::generate(&OsEntropy);
    assert!(
        s.subscribe(
            &subscription("Ann@Example.com", &second, &other_unsub, T0),
            &confirm_mail,
            audit(AuditAction::StatusSubscribeRequested)
        )
        .await
        .unwrap()
    );
    let counts = s.subscriber_counts().await.unwrap();
    assert_eq!(
        (counts.pending, counts.confirmed),
        (1, 0),
        "one row per address"
    );
    assert!(
        s.confirm_subscription(&first.hash(), T0, audit(AuditAction::StatusSubscribed))
            .await
            .unwrap()
            .is_none()
    );
    // An expired link does not confirm.
    let late = T0.plus(Duration::from_secs(3601));
    assert!(
        s.confirm_subscription(&second.hash(), late, audit(AuditAction::StatusSubscribed))
            .await
            .unwrap()
            .is_none()
    );
    let sub = s
        .confirm_subscription(&second.hash(), T0, audit(AuditAction::StatusSubscribed))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sub.state, SubscriberState::Confirmed);
    assert!(
        s.confirm_subscription(&second.hash(), T0, audit(AuditAction::StatusSubscribed))
            .await
            .unwrap()
            .is_none(),
        "used once"
    );
    // A confirmed address asking again: nothing written, no mail.
    assert!(
        !s.subscribe(
            &subscription(
                "ann@example.com",
                &SessionToken::generate(&OsEntropy),
                &other_unsub,
                T0
            ),
            &confirm_mail,
            audit(AuditAction::StatusSubscribeRequested)
        )
        .await
        .unwrap()
    );
    let confirms = s
        .notices(&NoticeFilter {
            state: None,
            account: None,
            limit: 100,
        })
        .await
        .unwrap()
        .into_iter()
        .filter(|n| n.kind == NoticeKind::StatusConfirm)
        .count();
    assert_eq!(confirms, 2);

    // The existing subscriber kept its first unsubscribe digest.
    assert_eq!(
        s.subscriber_by_unsubscribe(&unsub.hash())
            .await
            .unwrap()
            .unwrap()
            .id,
        sub.id
    );
    assert!(
        s.subscriber_by_unsubscribe(&other_unsub.hash())
            .await
            .unwrap()
            .is_none()
    );

    // An update goes to the confirmed subscriber, in the update's transaction.
    let d = s
        .create_incident(&draft("Slow", &[]), audit(AuditAction::IncidentDrafted))
        .await
        .unwrap();
    let posted = s
        .post_incident_update(
            d.id,
            &update(IncidentState::Investigating, "Looking.", T0, true),
            &update_notice,
            audit(AuditAction::IncidentPublished),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(posted.notices, 1);

    let left = s
        .unsubscribe(&unsub.hash(), T0, audit(AuditAction::StatusUnsubscribed))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(left.state, SubscriberState::Unsubscribed);
    let again = s
        .unsubscribe(&unsub.hash(), T0, audit(AuditAction::StatusUnsubscribed))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        again.state,
        SubscriberState::Unsubscribed,
        "a second click changes nothing"
    );
    assert!(
        s.unsubscribe(&first.hash(), T0, audit(AuditAction::StatusUnsubscribed))
            .await
            .unwrap()
            .is_none()
    );
    let posted = s
        .post_incident_update(
            d.id,
            &update(IncidentState::Monitoring, "Better.", T0, false),
            &update_notice,
            audit(AuditAction::IncidentUpdated),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(posted.notices, 0, "no mail after unsubscribing");
    let actions: Vec<String> = s
        .audit_entries(0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "status.unsubscribed")
            .count(),
        1
    );
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "status.subscribe_requested")
            .count(),
        2
    );
    assert_eq!(
        actions.iter().filter(|a| *a == "status.subscribed").count(),
        1
    );
    // Subscribing again after leaving starts over with a new confirmation.
    assert!(
        s.subscribe(
            &subscription(
                "ann@example.com",
                &SessionToken::generate(&OsEntropy),
                &other_unsub,
                T0
            ),
            &confirm_mail,
            audit(AuditAction::StatusSubscribeRequested)
        )
        .await
        .unwrap()
    );
    assert_eq!(s.subscriber_counts().await.unwrap().pending, 1);
});

both_engines!(
    status_mail_has_its_own_budget_behind_security_notices,
    |s: Arc<dyn Store>| async move {
        // Five status mails are due before two security notices.
        for i in 0..5 {
            s.enqueue_notice(
                &notice(
                    &format!("sub{i}@example.com"),
                    NoticeKind::StatusUpdate,
                    &format!("st{i}"),
                    T0,
                ),
                None,
            )
            .await
            .unwrap();
        }
        let later = T0.plus(Duration::from_secs(1));
        for (i, to) in ["ann@example.com", "sub0@example.com"].iter().enumerate() {
            s.enqueue_notice(
                &notice(to, NoticeKind::ForcedReset, &format!("sec{i}"), later),
                None,
            )
            .await
            .unwrap();
        }
        let now = T0.plus(Duration::from_secs(2));
        // Room for three: both security notices go first, though they are younger.
        let p = ClaimPolicy {
            limit: 3,
            status_per_hour: 2,
            ..claim_policy(now, 1)
        };
        let first = s.claim_notices(&p).await.unwrap();
        let kinds: Vec<NoticeKind> = first.claimed.iter().map(|c| c.notice.kind).collect();
        assert_eq!(
            kinds,
            [
                NoticeKind::ForcedReset,
                NoticeKind::ForcedReset,
                NoticeKind::StatusUpdate
            ]
        );
        let ids: Vec<NoticeId> = first.claimed.iter().map(|c| c.notice.id).collect();
        s.notices_sent(&ids, &p.lease_id, now).await.unwrap();

        // A third security notice to sub0, whose status mail was sent: the status
        // mail did not use up the per-recipient cap (1).
        let sub0_status_sent = first.claimed.iter().any(|c| {
            c.notice.kind == NoticeKind::StatusUpdate && c.notice.recipient == "sub0@example.com"
        });
        assert!(sub0_status_sent, "oldest status mail first");
        s.enqueue_notice(
            &notice("sub0@example.com", NoticeKind::Recovery, "sec2", now),
            None,
        )
        .await
        .unwrap();
        let p2 = ClaimPolicy {
            limit: 100,
            status_per_hour: 2,
            ..claim_policy(now, 2)
        };
        let second = s.claim_notices(&p2).await.unwrap();
        let kinds: Vec<NoticeKind> = second.claimed.iter().map(|c| c.notice.kind).collect();
        assert_eq!(
            kinds,
            [NoticeKind::Recovery, NoticeKind::StatusUpdate],
            "the security notice, then one status mail: the budget of 2 an hour is spent"
        );
        let ids: Vec<NoticeId> = second.claimed.iter().map(|c| c.notice.id).collect();
        s.notices_sent(&ids, &p2.lease_id, now).await.unwrap();

        // Budget spent: the rest is deferred until the first send leaves the hour.
        let third = s.claim_notices(&claim_policy_budget(now, 2)).await.unwrap();
        assert!(third.claimed.is_empty());
        assert_eq!(third.status_deferred, 3);
        let due = s.next_notice_due().await.unwrap().unwrap();
        assert_eq!(
            due,
            now.plus(Duration::from_secs(3600))
                .plus(Duration::from_millis(1))
        );
        // A security notice still goes out at once.
        s.enqueue_notice(
            &notice("bob@example.com", NoticeKind::PasswordChanged, "sec3", now),
            None,
        )
        .await
        .unwrap();
        let p4 = claim_policy_budget(now, 2);
        let fourth = s.claim_notices(&p4).await.unwrap();
        assert_eq!(fourth.claimed.len(), 1);
        assert_eq!(fourth.claimed[0].notice.kind, NoticeKind::PasswordChanged);
        assert!(
            s.notice_sent(fourth.claimed[0].notice.id, &p4.lease_id, now)
                .await
                .unwrap()
        );
        // An hour on, the budget has room again.
        let hour = due.plus(Duration::from_secs(1));
        let fifth = s
            .claim_notices(&claim_policy_budget(hour, 2))
            .await
            .unwrap();
        assert_eq!(fifth.claimed.len(), 2);
        assert!(
            fifth
                .claimed
                .iter()
                .all(|c| c.notice.kind == NoticeKind::StatusUpdate)
        );
    }
);

fn claim_policy_budget(now: Timestamp, per_hour: i64) -> ClaimPolicy {
    ClaimPolicy {
        status_per_hour: per_hour,
        ..claim_policy(now, 5)
    }
}
