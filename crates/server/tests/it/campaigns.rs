//! Guarded remediation end to end, on both engines: an operator campaign from
//! draft to undo (empty set refused, approval by another operator bound to the
//! snapshot, staged apply, forced reset with suspended sessions, undo with
//! corrections), and the budget and breaker stopping an automatic campaign.

use std::time::Duration;

use crate::support::*;
use gatehouse_server::app::monitor::Monitor;
use gatehouse_store::{ClaimPolicy, NoticeState};
use reqwest::StatusCode;
use serde_json::{Value, json};

const PW: &str = "correct horse battery staple";

async fn operator(t: &TestApp, email: &str) -> String {
    let (_op, key) = t.app.create_operator(email).await.unwrap();
    key.expose().to_owned()
}

async fn post(t: &TestApp, key: &str, path: &str, body: Value) -> reqwest::Response {
    t.post_json_auth(&format!("/api/v1/admin{path}"), key, &body)
        .await
}

async fn ok(r: reqwest::Response) -> Value {
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert!(status.is_success(), "{status}: {body}");
    body
}

/// Asks for a campaign's undo over the API (202, with what it will do) and lets
/// the campaign worker run it to the end, a minute at a time.
async fn undo(t: &TestApp, key: &str, id: &str) -> Value {
    let r = post(t, key, &format!("/campaigns/{id}/undo"), json!({})).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let figures: Value = r.json().await.unwrap();
    for _ in 0..30 {
        t.app.campaigns_pass().await.unwrap();
        let c = t.app.campaign(id.parse().unwrap()).await.unwrap();
        if c.state.as_str() == "undone" {
            return figures;
        }
        t.clock.advance(Duration::from_secs(61));
    }
    panic!("the undo of {id} did not finish");
}

/// The pending notices of `kind` a delivery worker could claim now, with their payloads.
async fn claimable(t: &TestApp, kind: &str) -> Vec<(String, Value)> {
    let policy = ClaimPolicy {
        now: t.app.clock.now(),
        lease_id: format!("test-{}", t.app.clock.now().as_millis()),
        lease: Duration::from_secs(1),
        limit: 1000,
        cap_per_recipient: 1000,
        cap_window: Duration::from_secs(86_400),
        status_per_hour: 1000,
    };
    t.app
        .raw_store()
        .claim_notices(&policy)
        .await
        .unwrap()
        .claimed
        .into_iter()
        .filter(|c| c.notice.kind.as_str() == kind)
        .map(|c| (c.notice.recipient.clone(), c.payload))
        .collect()
}

/// The stuffing rule enforced (action `force_reset`), and a stuffing run from
/// 203.0.113.0/24 that gets into three accounts, seen by the monitor: three
/// pending findings. Returns an operator key.
pub(crate) async fn enforced_stuffing_takeover(t: &TestApp, description: Option<&str>) -> String {
    t.app.install_rules().await.unwrap();
    let victims = t.people(3, PW).await;
    let ops = operator(t, "ops@ops.example").await;
    let mut rule = json!({
        "id": "credential-stuffing", "detector": "credential_stuffing",
        "mode": "enforce", "action": "force_reset"});
    if let Some(d) = description {
        rule["description"] = json!(d);
    }
    let r = t
        .put_json_auth("/api/v1/admin/rules/credential-stuffing", &ops, &rule)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let now = t.app.clock.now();
    let at = |s: u64| now.minus(Duration::from_secs(s)).to_rfc3339();
    let mut evs: Vec<Value> = (0..30)
        .map(|i| {
            json!({"time": at(600 - i), "account": format!("c{i}@example.net"),
                   "ip": format!("203.0.113.{}", i + 1), "outcome": "unknown_account"})
        })
        .collect();
    for (i, v) in victims.iter().enumerate() {
        evs.push(json!({"time": at(300 - i as u64), "account": v, "ip": "203.0.113.200", "outcome": "success"}));
    }
    let r = t
        .post_json_auth("/api/v1/events/login", &ops, &json!({"events": evs}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let mut monitor = Monitor::start(t.app.clone()).await.unwrap();
    assert_eq!(monitor.pass().await.unwrap().findings, 3);
    ops
}

async fn login_status(t: &TestApp, email: &str, password: &str) -> StatusCode {
    t.post_json(
        "/api/v1/sessions",
        &json!({ "email": email, "password": password }),
    )
    .await
    .status()
}

both_engines!(
    an_operator_campaign_from_preview_to_undo,
    |t: TestApp| async move {
        let emails = t.people(3, PW).await;
        let mut tokens = Vec::new();
        for e in &emails {
            tokens.push(t.log_in(e, PW).await);
        }
        let ann = operator(&t, "ann@ops.example").await;
        let bob = operator(&t, "bob@ops.example").await;

        // An empty or unknown target set is refused, never read as "all".
        let r = post(
            &t,
            &ann,
            "/campaigns",
            json!({"name": "x", "reason": "y", "accounts": []}),
        )
        .await;
        let body = assert_error(r, StatusCode::BAD_REQUEST, "invalid_input").await;
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("never means all")
        );
        let r = post(
            &t,
            &ann,
            "/campaigns",
            json!({"name": "x", "reason": "y", "accounts": ["ghost@example.com"]}),
        )
        .await;
        assert_error(r, StatusCode::BAD_REQUEST, "invalid_input").await;

        let c = ok(post(&t, &ann, "/campaigns", json!({
            "name": "leaked list", "reason": "your password appeared in a list of stolen credentials",
            "accounts": emails, "bake_secs": 0})).await).await;
        let id = c["id"].as_str().unwrap().to_owned();
        assert_eq!(c["state"], "draft");
        let preview =
            ok(post(&t, &ann, &format!("/campaigns/{id}/preview"), json!({})).await).await;
        assert_eq!(preview["accounts"], 3);
        assert_eq!(
            preview["needs_second_approval"], true,
            "3 accounts are 100% of all: {preview}"
        );
        assert_eq!(preview["mail_by_domain"], json!([["example.com", 3]]));
        assert_eq!(preview["sample"].as_array().unwrap().len(), 3);
        let snapshot = preview["snapshot"].as_str().unwrap().to_owned();

        // Not without approval; not by its creator; not for another snapshot.
        let r = post(&t, &ann, &format!("/campaigns/{id}/start"), json!({})).await;
        assert_error(r, StatusCode::CONFLICT, "campaign_refused").await;
        let r = post(
            &t,
            &ann,
            &format!("/campaigns/{id}/approve"),
            json!({"snapshot": snapshot}),
        )
        .await;
        let body = assert_error(r, StatusCode::CONFLICT, "campaign_refused").await;
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("nobody approves their own campaign")
        );
        let r = post(
            &t,
            &bob,
            &format!("/campaigns/{id}/approve"),
            json!({"snapshot": "00".repeat(32)}),
        )
        .await;
        let body = assert_error(r, StatusCode::CONFLICT, "campaign_refused").await;
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("changed since it was previewed")
        );
        let approved = ok(post(
            &t,
            &bob,
            &format!("/campaigns/{id}/approve"),
            json!({"snapshot": snapshot}),
        )
        .await)
        .await;
        assert_eq!(approved["state"], "approved");
        let running = ok(post(&t, &ann, &format!("/campaigns/{id}/start"), json!({})).await).await;
        assert_eq!(running["state"], "running");

        // The worker applies under the rate cap: one now, the rest a minute later.
        assert_eq!(t.app.campaigns_pass().await.unwrap().applied, 1);
        t.clock.advance(Duration::from_secs(61));
        assert_eq!(t.app.campaigns_pass().await.unwrap().applied, 2);
        t.app.campaigns_pass().await.unwrap();
        let shown = ok(t
            .get_auth(&format!("/api/v1/admin/campaigns/{id}"), &ann)
            .await)
        .await;
        assert_eq!(shown["state"], "completed");
        assert_eq!(shown["targets"]["applied"], 3);

        // Each account: password suspended, sessions suspended, a notice with a code.
        for (e, token) in emails.iter().zip(&tokens) {
            // The right password and a wrong one get the same answer: a reset
            // must not confirm a stolen password to whoever holds it.
            let right = t
                .post_json("/api/v1/sessions", &json!({ "email": e, "password": PW }))
                .await;
            let wrong = t
                .post_json(
                    "/api/v1/sessions",
                    &json!({ "email": e, "password": "not the password at all" }),
                )
                .await;
            assert_eq!(right.status(), StatusCode::UNAUTHORIZED, "{e}");
            assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED, "{e}");
            assert_eq!(
                right.json::<Value>().await.unwrap(),
                wrong.json::<Value>().await.unwrap()
            );
            assert_eq!(
                t.get_auth("/api/v1/me", token).await.status(),
                StatusCode::UNAUTHORIZED
            );
        }
        let notices = claimable(&t, "forced_reset").await;
        assert_eq!(notices.len(), 3, "one forced-reset notice per account");
        let actions = t.audit_actions().await;
        assert_eq!(actions.iter().filter(|a| *a == "account.reset").count(), 3);

        // One owner sets a new password with the code from the notice.
        let (to, payload) = notices
            .iter()
            .find(|(to, _)| to == "p2@example.com")
            .unwrap();
        let r = t
            .post_json("/api/v1/recovery/complete", &json!({
                "email": to, "code": payload["code"], "new_password": "a brand new passphrase here"}))
            .await;
        assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());

        // Undo: preview first, then restore the two untouched accounts.
        let preview = ok(t
            .get_auth(&format!("/api/v1/admin/campaigns/{id}/undo"), &ann)
            .await)
        .await;
        assert_eq!(
            (
                preview["restorable"].clone(),
                preview["not_restorable"].clone()
            ),
            (json!(2), json!(1))
        );
        let undone = undo(&t, &ann, &id).await;
        assert_eq!(
            (
                undone["restorable"].clone(),
                undone["not_restorable"].clone()
            ),
            (json!(2), json!(1))
        );
        let shown = ok(t
            .get_auth(&format!("/api/v1/admin/campaigns/{id}"), &ann)
            .await)
        .await;
        assert_eq!(
            (
                shown["targets"]["restored"].clone(),
                shown["targets"]["not_restorable"].clone()
            ),
            (json!(2), json!(1)),
            "{shown}"
        );
        for (e, token) in emails.iter().zip(&tokens).take(2) {
            assert_eq!(
                login_status(&t, e, PW).await,
                StatusCode::CREATED,
                "{e}: the old password works again"
            );
            assert_eq!(
                t.get_auth("/api/v1/me", token).await.status(),
                StatusCode::OK,
                "its session is back"
            );
        }
        assert_eq!(
            login_status(&t, "p2@example.com", "a brand new passphrase here").await,
            StatusCode::CREATED
        );
        let corrections = claimable(&t, "correction").await;
        assert_eq!(corrections.len(), 3);
        let still_works: Vec<bool> = corrections
            .iter()
            .map(|(_, p)| p["still_works"].as_bool().unwrap())
            .collect();
        assert_eq!(still_works.iter().filter(|w| **w).count(), 2);
        let shown = ok(t
            .get_auth(&format!("/api/v1/admin/campaigns/{id}"), &ann)
            .await)
        .await;
        assert_eq!(shown["state"], "undone");
        assert!(matches!(
            gatehouse_store::verify_audit_chain(t.app.raw_store().as_ref())
                .await
                .unwrap(),
            gatehouse_store::ChainReport::Intact { .. }
        ));
    },
    |env: &mut Vec<(String, String)>| {
        env.push(("GATEHOUSE_APPROVAL_MAX_ACCOUNTS".into(), "2".into()));
    }
);

both_engines!(
    the_budget_trips_the_breaker_on_an_automatic_campaign,
    |t: TestApp| async move {
        let ops = enforced_stuffing_takeover(
            &t,
            Some(
                "someone signed in to your account from a network that was trying stolen passwords",
            ),
        )
        .await;

        // The worker makes an automatic campaign and starts it; the budget allows one.
        let report = t.app.campaigns_pass().await.unwrap();
        assert_eq!(
            report.applied, 1,
            "the rate cap allows one at first: {report:?}"
        );
        // A minute later the rate allows more, but the budget (one an hour) does not.
        t.clock.advance(Duration::from_secs(61));
        assert_eq!(t.app.campaigns_pass().await.unwrap().applied, 0);
        let breaker = ok(t.get_auth("/api/v1/admin/breaker", &ops).await).await;
        assert_eq!(breaker["open"], true, "{breaker}");
        assert!(
            breaker["reason"]
                .as_str()
                .unwrap()
                .contains("reset budget used up"),
            "{breaker}"
        );
        assert_eq!(breaker["used_last_hour"], 1);
        let list = ok(t.get_auth("/api/v1/admin/campaigns", &ops).await).await;
        let c = &list[0];
        assert_eq!(c["automatic"], true);
        assert_eq!(c["rule_id"], "credential-stuffing");
        assert_eq!(c["state"], "paused");
        assert!(
            c["paused_reason"]
                .as_str()
                .unwrap()
                .starts_with("circuit breaker")
        );
        // Nothing more happens while it is open: no reset, no forced-reset mail.
        t.clock.advance(Duration::from_secs(3600 * 2));
        assert_eq!(t.app.campaigns_pass().await.unwrap().applied, 0);
        assert!(
            claimable(&t, "forced_reset").await.is_empty(),
            "held while the breaker is open"
        );
        let id = c["id"].as_str().unwrap();
        let r = post(&t, &ops, &format!("/campaigns/{id}/resume"), json!({})).await;
        assert_error(r, StatusCode::CONFLICT, "campaign_refused").await;

        // A statement is drafted, with the figures, for an operator to publish.
        let incidents = ok(t.get_auth("/api/v1/admin/status/incidents", &ops).await).await;
        let drafts: Vec<&Value> = incidents
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["state"] == "draft")
            .collect();
        assert_eq!(drafts.len(), 1, "{incidents:#}");
        let figures = &drafts[0]["figures"];
        assert_eq!(figures["resets_last_day"], 1, "{figures}");
        assert_eq!(figures["campaigns"][0]["rule"], "credential-stuffing");
        let public = ok(t.http.get(t.url("/api/v1/status")).send().await.unwrap()).await;
        assert!(
            !public.to_string().contains("Unexpected password reset"),
            "drafts are not public"
        );

        // Only an operator closes it, with a reason; then the held notice goes.
        let r = post(&t, &ops, "/breaker/reset", json!({"reason": " "})).await;
        assert_error(r, StatusCode::BAD_REQUEST, "invalid_input").await;
        let closed = ok(post(
            &t,
            &ops,
            "/breaker/reset",
            json!({"reason": "reviewed: real takeovers"}),
        )
        .await)
        .await;
        assert_eq!(closed["open"], false);
        assert_eq!(claimable(&t, "forced_reset").await.len(), 1);
        let actions = t.audit_actions().await;
        assert_eq!(
            actions.iter().filter(|a| *a == "breaker.changed").count(),
            2
        );
        // The store says the same as the API.
        let stored = t.app.raw_store().outbox_counts().await.unwrap();
        assert!(stored.iter().any(|(s, _)| *s == NoticeState::Sending));
    },
    |env: &mut Vec<(String, String)>| {
        env.push(("GATEHOUSE_BUDGET_HOURLY_FLOOR".into(), "1".into()));
        env.push(("GATEHOUSE_BUDGET_DAILY_FLOOR".into(), "1".into()));
        env.push(("GATEHOUSE_APPROVAL_MAX_SHARE_PERCENT".into(), "100".into()));
    }
);

both_engines!(
    undo_withdraws_a_forced_reset_notice_the_breaker_held,
    |t: TestApp| async move {
        let ops = enforced_stuffing_takeover(&t, None).await;
        // One reset, then the budget trips the breaker: its notice is held.
        assert_eq!(t.app.campaigns_pass().await.unwrap().applied, 1);
        t.clock.advance(Duration::from_secs(61));
        t.app.campaigns_pass().await.unwrap();
        assert!(t.app.raw_store().breaker().await.unwrap().open);
        assert!(claimable(&t, "forced_reset").await.is_empty());

        // Undone while the breaker is still open: the held notice is withdrawn and
        // no correction goes out (its owner never heard of the reset).
        let list = ok(t.get_auth("/api/v1/admin/campaigns", &ops).await).await;
        let id = list[0]["id"].as_str().unwrap().to_owned();
        let undone = undo(&t, &ops, &id).await;
        assert_eq!(undone["restorable"], 1, "{undone}");
        assert!(claimable(&t, "correction").await.is_empty());

        // Closing the breaker sends nothing late.
        ok(post(&t, &ops, "/breaker/reset", json!({"reason": "undone"})).await).await;
        assert!(claimable(&t, "forced_reset").await.is_empty());
        let withdrawn = t
            .app
            .raw_store()
            .notices(&gatehouse_store::NoticeFilter {
                limit: 100,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_iter()
            .filter(|n| n.kind.as_str() == "forced_reset")
            .map(|n| n.state)
            .collect::<Vec<_>>();
        assert_eq!(withdrawn, [NoticeState::Expired]);
    },
    |env: &mut Vec<(String, String)>| {
        env.push(("GATEHOUSE_BUDGET_HOURLY_FLOOR".into(), "1".into()));
        env.push(("GATEHOUSE_BUDGET_DAILY_FLOOR".into(), "1".into()));
        env.push(("GATEHOUSE_APPROVAL_MAX_SHARE_PERCENT".into(), "100".into()));
    }
);

both_engines!(
    undo_runs_in_the_worker_at_the_campaign_rate,
    |t: TestApp| async move {
        let emails = t.people(3, PW).await;
        let ann = operator(&t, "ann@ops.example").await;
        let bob = operator(&t, "bob@ops.example").await;
        let c = ok(post(
            &t,
            &ann,
            "/campaigns",
            json!({"name": "slow", "reason": "a list of stolen credentials", "accounts": emails,
                   "rate_per_minute": 2, "bake_secs": 0, "stages": [1.0]}),
        )
        .await)
        .await;
        let id = c["id"].as_str().unwrap().to_owned();
        // Below every approval threshold: the preview approves it by policy.
        let preview =
            ok(post(&t, &ann, &format!("/campaigns/{id}/preview"), json!({})).await).await;
        assert_eq!(preview["needs_second_approval"], false, "{preview}");
        ok(post(&t, &ann, &format!("/campaigns/{id}/start"), json!({})).await).await;
        for _ in 0..3 {
            t.app.campaigns_pass().await.unwrap();
            t.clock.advance(Duration::from_secs(61));
        }
        assert_eq!(
            t.app.campaign(id.parse().unwrap()).await.unwrap().applied,
            3
        );

        // The three forced-reset notices go out (a delivery worker takes them).
        assert_eq!(claimable(&t, "forced_reset").await.len(), 3);

        // Asked for, the undo stops the campaign and waits for the worker.
        let r = post(&t, &bob, &format!("/campaigns/{id}/undo"), json!({})).await;
        assert_eq!(r.status(), StatusCode::ACCEPTED);
        let figures: Value = r.json().await.unwrap();
        assert_eq!(figures["restorable"], 3, "{figures}");
        let shown = ok(t
            .get_auth(&format!("/api/v1/admin/campaigns/{id}"), &ann)
            .await)
        .await;
        assert_eq!(shown["state"], "undoing");
        assert!(shown["undo_by"].as_str().unwrap().starts_with("operator:"));
        // Asking again changes nothing.
        let again = post(&t, &ann, &format!("/campaigns/{id}/undo"), json!({})).await;
        assert_eq!(again.status(), StatusCode::ACCEPTED);

        // Two a minute, like the resets: corrections are paced the same way.
        assert_eq!(t.app.campaigns_pass().await.unwrap().undone, 2);
        assert_eq!(
            t.app.campaigns_pass().await.unwrap().undone,
            0,
            "same minute"
        );
        assert_eq!(claimable(&t, "correction").await.len(), 2);
        t.clock.advance(Duration::from_secs(61));
        assert_eq!(t.app.campaigns_pass().await.unwrap().undone, 1);
        let shown = ok(t
            .get_auth(&format!("/api/v1/admin/campaigns/{id}"), &ann)
            .await)
        .await;
        assert_eq!(shown["state"], "undone");
        assert_eq!(shown["targets"]["restored"], 3, "{shown}");
        let corrections = t
            .app
            .raw_store()
            .notices(&gatehouse_store::NoticeFilter {
                limit: 100,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_iter()
            .filter(|n| n.kind.as_str() == "correction")
            .count();
        assert_eq!(corrections, 3);

        // Every restore is audited in the name of the operator who asked.
        let restores = t
            .app
            .raw_store()
            .audit_entries(0, 1000)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.action == "account.restored")
            .collect::<Vec<_>>();
        assert_eq!(restores.len(), 3);
        assert!(restores.iter().all(|e| e.actor_kind == "operator"
            && e.actor_id.as_deref()
                == shown["undo_by"].as_str().unwrap().strip_prefix("operator:")));
    },
    |env: &mut Vec<(String, String)>| {
        env.push(("GATEHOUSE_APPROVAL_MAX_SHARE_PERCENT".into(), "100".into()));
    }
);

both_engines!(
    people_reporting_the_notice_as_unexpected_pause_the_campaign,
    |t: TestApp| async move {
        let emails = t.people(10, PW).await;
        let ann = operator(&t, "ann@ops.example").await;
        let c = ok(post(
            &t,
            &ann,
            "/campaigns",
            json!({
            "name": "mistake?", "reason": "signs of a compromised account",
            "accounts": emails, "bake_secs": 0}),
        )
        .await)
        .await;
        let id = c["id"].as_str().unwrap().to_owned();
        ok(post(&t, &ann, &format!("/campaigns/{id}/preview"), json!({})).await).await;
        ok(post(&t, &ann, &format!("/campaigns/{id}/start"), json!({})).await).await;
        t.app.campaigns_pass().await.unwrap();
        t.clock.advance(Duration::from_secs(3));
        t.app.campaigns_pass().await.unwrap();
        let applied = t.app.campaign(id.parse().unwrap()).await.unwrap().applied;
        assert_eq!(applied, 4, "the rate cap: one, then three more after 3 s");

        // Three owners check their notice on /verify and say they did not expect it.
        let refs: Vec<String> = t
            .app
            .raw_store()
            .campaign_targets(
                id.parse().unwrap(),
                Some(gatehouse_store::TargetState::Applied),
                -1,
                10,
            )
            .await
            .unwrap()
            .into_iter()
            .filter_map(|t| t.notice_reference)
            .collect();
        let page = t.page(&format!("/verify?reference={}", refs[0])).await;
        assert!(page.contains("I did not expect this"), "{page}");
        let r = t
            .post_form("/verify/report", &[("reference", refs[0].as_str())])
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        assert!(
            r.text()
                .await
                .unwrap()
                .contains("we have noted that you did not expect this reset")
        );
        for reference in &refs[1..3] {
            let r = t
                .post_json(&format!("/api/v1/verify/{reference}/report"), &json!({}))
                .await;
            assert_eq!(r.status(), StatusCode::NO_CONTENT);
        }
        // Twice is once.
        let r = t
            .post_json(&format!("/api/v1/verify/{}/report", refs[0]), &json!({}))
            .await;
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        assert_eq!(
            t.app
                .raw_store()
                .campaign_reports(id.parse().unwrap())
                .await
                .unwrap(),
            3
        );

        // The next step pauses instead of resetting more.
        t.clock.advance(Duration::from_secs(60));
        assert_eq!(t.app.campaigns_pass().await.unwrap().applied, 0);
        let c = t.app.campaign(id.parse().unwrap()).await.unwrap();
        assert_eq!(c.state, gatehouse_domain::campaign::CampaignState::Paused);
        assert!(
            c.paused_reason
                .unwrap()
                .contains("did not expect the notice")
        );
        assert_eq!(
            t.audit_actions()
                .await
                .iter()
                .filter(|a| *a == "notice.reported")
                .count(),
            3
        );
    },
    |env: &mut Vec<(String, String)>| {
        env.push(("GATEHOUSE_APPROVAL_MAX_SHARE_PERCENT".into(), "100".into()));
    }
);

both_engines!(
    a_failed_health_gate_on_an_automatic_campaign_trips_the_breaker,
    |t: TestApp| async move {
        let ops = enforced_stuffing_takeover(&t, None).await;
        assert_eq!(t.app.campaigns_pass().await.unwrap().applied, 1);
        t.clock.advance(Duration::from_secs(3));
        assert_eq!(t.app.campaigns_pass().await.unwrap().applied, 2);

        // Every owner says on /verify that the reset surprised them.
        let list = ok(t.get_auth("/api/v1/admin/campaigns", &ops).await).await;
        let id: gatehouse_domain::CampaignId = list[0]["id"].as_str().unwrap().parse().unwrap();
        for target in t
            .app
            .raw_store()
            .campaign_targets(id, Some(gatehouse_store::TargetState::Applied), -1, 10)
            .await
            .unwrap()
        {
            let reference = target.notice_reference.unwrap();
            let r = t
                .post_json(&format!("/api/v1/verify/{reference}/report"), &json!({}))
                .await;
            assert_eq!(r.status(), StatusCode::NO_CONTENT);
        }
        t.app.campaigns_pass().await.unwrap();
        let breaker = ok(t.get_auth("/api/v1/admin/breaker", &ops).await).await;
        assert_eq!(breaker["open"], true);
        assert!(
            breaker["reason"]
                .as_str()
                .unwrap()
                .contains("did not expect the notice"),
            "{breaker}"
        );
        assert_eq!(
            t.app.campaign(id).await.unwrap().state,
            gatehouse_domain::campaign::CampaignState::Paused
        );
    },
    |env: &mut Vec<(String, String)>| {
        env.push(("GATEHOUSE_APPROVAL_MAX_SHARE_PERCENT".into(), "100".into()));
    }
);

on_both_engines!(operators_are_mailed_once_per_trip);

/// Every enabled operator gets one alert per trip, over SMTP, while the
/// forced-reset notices stay held by the open breaker; tripping an open breaker
/// mails nobody; the console's address comes from `public_url`.
async fn operators_are_mailed_once_per_trip(engine: Engine) {
    use gatehouse_testkit::{SinkMode, SmtpSink};
    let sink = SmtpSink::start(SinkMode::Accept);
    let url = sink.url();
    let Some(t) = TestApp::spawn(
        engine,
        &[
            ("GATEHOUSE_SMTP_URL", url.as_str()),
            ("GATEHOUSE_MAIL_FROM", "Gatehouse <no-reply@gatehouse.test>"),
            ("GATEHOUSE_MAIL_RETRY_BASE_MS", "50"),
            ("GATEHOUSE_SMTP_TIMEOUT_SECONDS", "5"),
            ("GATEHOUSE_BUDGET_HOURLY_FLOOR", "1"),
            ("GATEHOUSE_BUDGET_DAILY_FLOOR", "1"),
            ("GATEHOUSE_APPROVAL_MAX_SHARE_PERCENT", "100"),
            // Not the address the tests talk to: links come from here only.
            ("GATEHOUSE_PUBLIC_URL", "http://id.gatehouse.test:8080"),
        ],
    )
    .await
    else {
        return;
    };
    let ops = enforced_stuffing_takeover(&t, None).await;
    let bob = operator(&t, "bob@ops.example").await;
    // Never tripped: no time to show (not the epoch as a number).
    let breaker = ok(t.get_auth("/api/v1/admin/breaker", &ops).await).await;
    assert_eq!(
        (breaker["open"].clone(), breaker["changed_at"].clone()),
        (json!(false), Value::Null),
        "{breaker}"
    );

    // The budget (one an hour) trips the breaker on the automatic campaign's
    // second account; the first account's forced-reset notice is pending.
    assert_eq!(t.app.campaigns_pass().await.unwrap().applied, 1);
    t.clock.advance(Duration::from_secs(61));
    assert_eq!(t.app.campaigns_pass().await.unwrap().applied, 0);
    let breaker = ok(t.get_auth("/api/v1/admin/breaker", &ops).await).await;
    assert_eq!(breaker["open"], true, "{breaker}");
    // Times in the API are RFC 3339, the breaker's and the campaigns' alike.
    let changed = breaker["changed_at"].as_str().expect("a time");
    assert!(
        gatehouse_domain::Timestamp::parse_rfc3339(changed).is_ok(),
        "{breaker}"
    );
    let campaigns = ok(t.get_auth("/api/v1/admin/campaigns", &ops).await).await;
    for c in campaigns.as_array().unwrap() {
        for k in ["created_at", "updated_at"] {
            assert!(
                gatehouse_domain::Timestamp::parse_rfc3339(c[k].as_str().unwrap()).is_ok(),
                "{c}"
            );
        }
    }
    // Tripping an open breaker changes nothing and mails nobody.
    ok(post(&t, &bob, "/breaker/trip", json!({"reason": "again"})).await).await;

    let _worker = t.start_delivery();
    t.wait_for_notices("sent", 2).await;
    let mails = sink.wait_for(2, Duration::from_secs(30)).await;
    let mut to: Vec<&str> = mails.iter().map(|m| m.envelope_to.as_str()).collect();
    to.sort_unstable();
    assert_eq!(to, ["bob@ops.example", "ops@ops.example"]);
    for m in &mails {
        assert!(
            m.subject.contains("Circuit breaker tripped"),
            "{}",
            m.subject
        );
        assert!(m.text.contains("reset budget used up"), "{}", m.text);
        assert!(
            m.text.contains("Gatehouse itself (an automatic guardrail)"),
            "{}",
            m.text
        );
        assert!(
            m.text.contains("Automatic campaigns paused: 1"),
            "{}",
            m.text
        );
        assert!(m.text.contains("in the last hour: 1"), "{}", m.text);
        assert!(
            m.text.contains("http://id.gatehouse.test:8080/console"),
            "{}",
            m.text
        );
        assert!(!m.text.contains("127.0.0.1"), "never the Host header");
        assert!(
            !m.html.as_deref().unwrap_or_default().contains("href"),
            "plain: no links to click"
        );
    }
    // The forced-reset notice is still held: the alert was not.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.messages().len(), 2, "nothing else went out");
    let pending = t.app.outbox(Some(NoticeState::Pending), 100).await.unwrap();
    assert_eq!(
        pending
            .iter()
            .filter(|n| n.kind == gatehouse_domain::NoticeKind::ForcedReset)
            .count(),
        1,
        "{pending:?}"
    );

    // Closed: the held forced-reset notice goes out. Waited for before the next
    // trip, or a trip that comes first would hold it again (a race seen under load).
    ok(post(&t, &bob, "/breaker/reset", json!({"reason": "reviewed"})).await).await;
    t.wait_for_notices("sent", 3).await;
    // Then tripped by hand: one more alert each, naming the operator.
    ok(post(
        &t,
        &ops,
        "/breaker/trip",
        json!({"reason": "kill switch drill"}),
    )
    .await)
    .await;
    // The two new alerts, and the forced-reset notice released by the reset.
    t.wait_for_notices("sent", 5).await;
    let mails = sink.wait_for(5, Duration::from_secs(30)).await;
    let alerts: Vec<_> = mails
        .iter()
        .filter(|m| m.subject.contains("Circuit breaker tripped"))
        .collect();
    assert_eq!(alerts.len(), 4, "one per operator per trip");
    for who in ["ops@ops.example", "bob@ops.example"] {
        let theirs: Vec<_> = alerts.iter().filter(|m| m.envelope_to == who).collect();
        assert_eq!(theirs.len(), 2, "{who}");
        assert!(
            theirs.iter().any(|m| m.text.contains("kill switch drill")
                && m.text.contains("the operator ops@ops.example")),
            "{who}"
        );
    }
    assert_eq!(
        mails
            .iter()
            .filter(|m| m.subject.contains("We reset your"))
            .count(),
        1
    );
    let detail: Vec<Value> = t
        .app
        .raw_store()
        .audit_entries(0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "breaker.changed")
        .map(|e| serde_json::from_str(&e.detail).unwrap())
        .collect();
    assert!(
        detail
            .iter()
            .any(|d| d["operators_alerted"] == 2 && d["trip"] == 2),
        "{detail:?}"
    );
}

/// Claims every due notice of `kind` and marks it sent at the server's "now",
/// as a delivery worker would: `(recipient, payload)` of each.
async fn deliver(t: &TestApp, kind: &str) -> Vec<(String, Value)> {
    let now = t.app.clock.now();
    let lease_id = format!("test-deliver-{}", now.as_millis());
    let policy = ClaimPolicy {
        now,
        lease_id: lease_id.clone(),
        lease: Duration::from_secs(60),
        limit: 1000,
        cap_per_recipient: 1000,
        cap_window: Duration::from_secs(86_400),
        status_per_hour: 1000,
    };
    let claimed = t
        .app
        .raw_store()
        .claim_notices(&policy)
        .await
        .unwrap()
        .claimed;
    let ids: Vec<_> = claimed.iter().map(|c| c.notice.id).collect();
    t.app
        .raw_store()
        .notices_sent(&ids, &lease_id, now)
        .await
        .unwrap();
    claimed
        .into_iter()
        .filter(|c| c.notice.kind.as_str() == kind)
        .map(|c| (c.notice.recipient.clone(), c.payload))
        .collect()
}

both_engines!(
    too_few_recoveries_pause_the_campaign_before_its_next_stage,
    |t: TestApp| async move {
        let emails = t.people(20, PW).await;
        let ann = operator(&t, "ann@ops.example").await;
        let c = ok(post(
            &t,
            &ann,
            "/campaigns",
            json!({
            "name": "dump", "reason": "your password appeared in a list of stolen credentials",
            "accounts": emails, "stages": [0.5, 1.0], "rate_per_minute": 1000, "bake_secs": 600}),
        )
        .await)
        .await;
        let id = c["id"].as_str().unwrap().to_owned();
        let cid: gatehouse_domain::CampaignId = id.parse().unwrap();
        ok(post(&t, &ann, &format!("/campaigns/{id}/preview"), json!({})).await).await;
        ok(post(&t, &ann, &format!("/campaigns/{id}/start"), json!({})).await).await;
        t.app.campaigns_pass().await.unwrap();
        t.clock.advance(Duration::from_secs(1));
        t.app.campaigns_pass().await.unwrap();
        assert_eq!(
            t.app.campaign(cid).await.unwrap().applied,
            10,
            "the first stage"
        );

        // The notices go out; one person of ten sets a new password.
        let notices = deliver(&t, "forced_reset").await;
        assert_eq!(notices.len(), 10);
        let complete = |i: usize| {
            let (to, payload) = notices[i].clone();
            let t = &t;
            async move {
                let r = t
                    .post_json("/api/v1/recovery/complete", &json!({
                        "email": to, "code": payload["code"], "new_password": "a brand new passphrase here"}))
                    .await;
                assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
            }
        };
        complete(0).await;

        // Before the bake time has passed, nothing is judged (nor widened).
        t.clock.advance(Duration::from_secs(300));
        t.app.campaigns_pass().await.unwrap();
        let now = t.app.campaign(cid).await.unwrap();
        assert_eq!((now.state.as_str(), now.stage), ("running", 0));

        // After it: 1 of 10 (10 %) is below the 20 % asked: paused, saying why.
        t.clock.advance(Duration::from_secs(400));
        assert_eq!(t.app.campaigns_pass().await.unwrap().applied, 0);
        let paused = t.app.campaign(cid).await.unwrap();
        assert_eq!(paused.state.as_str(), "paused");
        assert_eq!(paused.stage, 0, "not widened");
        let why = paused.paused_reason.unwrap();
        assert!(why.contains("only 1 of 10"), "{why}");
        assert!(why.contains("set a new password"), "{why}");

        // Two more recover: 30 %. Resumed, the campaign widens to its next stage.
        complete(1).await;
        complete(2).await;
        ok(post(&t, &ann, &format!("/campaigns/{id}/resume"), json!({})).await).await;
        t.app.campaigns_pass().await.unwrap();
        let widened = t.app.campaign(cid).await.unwrap();
        assert_eq!((widened.state.as_str(), widened.stage), ("running", 1));
        let breaker = ok(t.get_auth("/api/v1/admin/breaker", &ann).await).await;
        assert_eq!(
            breaker["open"], false,
            "an operator campaign pauses; it does not trip"
        );
    },
    |env: &mut Vec<(String, String)>| {
        env.push(("GATEHOUSE_APPROVAL_MAX_SHARE_PERCENT".into(), "100".into()));
        env.push((
            "GATEHOUSE_APPROVAL_MAX_MULTIPLE_OF_NORMAL".into(),
            "1000".into(),
        ));
        env.push(("GATEHOUSE_RECOVERY_GATE_MIN_SAMPLE".into(), "5".into()));
        env.push(("GATEHOUSE_RECOVERY_GATE_PERCENT".into(), "20".into()));
    }
);

both_engines!(
    the_preview_measures_against_active_accounts,
    |t: TestApp| async move {
        let emails = t.people(100, PW).await;
        let ann = operator(&t, "ann@ops.example").await;
        let preview = |accounts: Vec<String>| {
            let t = &t;
            let ann = ann.clone();
            async move {
                let c = ok(post(t, &ann, "/campaigns", json!({
                    "name": "one", "reason": "signs of a compromised account", "accounts": accounts})).await)
                .await;
                let id = c["id"].as_str().unwrap().to_owned();
                ok(post(t, &ann, &format!("/campaigns/{id}/preview"), json!({})).await).await
            }
        };

        // No login history at all: every account counts, and the preview says so.
        let p = preview(vec![emails[0].clone()]).await;
        assert_eq!(p["active_fallback"], true, "{p}");
        assert_eq!(p["active_accounts"], 100);
        assert!(
            p["active_basis"]
                .as_str()
                .unwrap()
                .contains("no login history")
        );
        assert_eq!(p["needs_second_approval"], false, "1 % of 100 is under 5 %");

        // Two people sign in here, an app reports a third one's sign-in, and a
        // fourth one's from 40 days ago (not active); failures do not count.
        t.log_in(&emails[1], PW).await;
        t.log_in(&emails[2], PW).await;
        let now = t.app.clock.now();
        let day = |d: u64| now.minus(Duration::from_secs(d * 86_400)).to_rfc3339();
        let r = t
            .post_json_auth("/api/v1/events/login", &ann, &json!({"events": [
                {"time": day(3), "account": emails[3], "ip": "192.0.2.3", "outcome": "success"},
                {"time": day(40), "account": emails[4], "ip": "192.0.2.4", "outcome": "success"},
                {"time": day(1), "account": emails[5], "ip": "192.0.2.5", "outcome": "wrong_password"},
            ]}))
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let p = preview(vec![emails[0].clone()]).await;
        assert_eq!(p["active_fallback"], false, "{p}");
        assert_eq!(p["active_accounts"], 3, "{p}");
        assert!((p["share_of_active"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-9);
        assert!((p["share_of_accounts"].as_f64().unwrap() - 0.01).abs() < 1e-9);
        assert!(p["active_basis"].as_str().unwrap().contains("last 30 days"));
        // The approval threshold reads the share of active accounts: 33 % > 5 %.
        assert_eq!(p["needs_second_approval"], true, "{p}");

        // A month later nobody has been active: the history is there, so no
        // fallback — and any campaign is all of the active accounts.
        t.clock.advance(Duration::from_secs(31 * 86_400));
        let p = preview(vec![emails[0].clone()]).await;
        assert_eq!(
            (p["active_fallback"].clone(), p["active_accounts"].clone()),
            (json!(false), json!(0)),
            "{p}"
        );
        assert_eq!(p["share_of_active"], 1.0);
    },
    |env: &mut Vec<(String, String)>| {
        env.push(("GATEHOUSE_APPROVAL_MAX_SHARE_PERCENT".into(), "5".into()));
        env.push((
            "GATEHOUSE_APPROVAL_MAX_MULTIPLE_OF_NORMAL".into(),
            "1000".into(),
        ));
    }
);

both_engines!(
    a_signed_in_person_sees_whether_a_campaign_reset_their_account,
    |t: TestApp| async move {
        let emails = t.people(3, PW).await;
        let (ada, bea, cy) = (&emails[0], &emails[1], &emails[2]);
        let ann = operator(&t, "ann@ops.example").await;
        let c = ok(post(
            &t,
            &ann,
            "/campaigns",
            json!({
            "name": "dump", "reason": "your password appeared in a list of stolen credentials",
            "accounts": [ada, cy], "bake_secs": 0}),
        )
        .await)
        .await;
        let id = c["id"].as_str().unwrap().to_owned();
        ok(post(&t, &ann, &format!("/campaigns/{id}/preview"), json!({})).await).await;
        ok(post(&t, &ann, &format!("/campaigns/{id}/start"), json!({})).await).await;
        t.app.campaigns_pass().await.unwrap();
        t.clock.advance(Duration::from_secs(61));
        t.app.campaigns_pass().await.unwrap();
        assert_eq!(
            t.app.campaign(id.parse().unwrap()).await.unwrap().applied,
            2
        );

        // Nobody unauthenticated learns anything.
        let r = t
            .http
            .get(t.url("/api/v1/me/campaigns"))
            .send()
            .await
            .unwrap();
        assert_error(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;

        // Ada sets a new password with the code from her notice, signs in, and sees it.
        let notices = claimable(&t, "forced_reset").await;
        let (_, payload) = notices.iter().find(|(to, _)| to == ada).unwrap();
        let r = t
            .post_json("/api/v1/recovery/complete", &json!({
                "email": ada, "code": payload["code"], "new_password": "a brand new passphrase here"}))
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let ada_token = t.log_in(ada, "a brand new passphrase here").await;
        let mine = ok(t.get_auth("/api/v1/me/campaigns", &ada_token).await).await;
        let list = mine.as_array().unwrap();
        assert_eq!(list.len(), 1, "{mine}");
        let reference = t
            .app
            .raw_store()
            .campaign_targets(id.parse().unwrap(), None, -1, 10)
            .await
            .unwrap()
            .into_iter()
            .find(|t| &t.email == ada)
            .unwrap()
            .notice_reference
            .unwrap();
        assert_eq!(list[0]["notice_reference"], reference.as_str());
        assert_eq!(list[0]["campaign_id"], id.as_str());
        assert_eq!(list[0]["status"], "new_password_set");
        assert_eq!(list[0]["decided_by"], "operator");
        assert_eq!(list[0]["undone"], false);
        assert!(list[0]["reset_at"].as_str().is_some());
        assert!(
            list[0]["summary"]
                .as_str()
                .unwrap()
                .contains("because your password appeared in a list of stolen credentials"),
            "{mine}"
        );

        // Bea, signed in too, was in no campaign, and sees nothing of Ada's.
        let bea_token = t.log_in(bea, PW).await;
        let theirs = ok(t.get_auth("/api/v1/me/campaigns", &bea_token).await).await;
        assert_eq!(theirs, json!([]));

        // The campaign is undone: Cy's old password works again and Cy sees why;
        // Ada's new password stays, and she is told so.
        undo(&t, &ann, &id).await;
        let cy_token = t.log_in(cy, PW).await;
        let cys = ok(t.get_auth("/api/v1/me/campaigns", &cy_token).await).await;
        assert_eq!(cys[0]["status"], "restored", "{cys}");
        assert_eq!(cys[0]["undone"], true);
        assert!(cys[0]["undone_at"].as_str().is_some());
        assert!(
            cys[0]["what_to_do"]
                .as_str()
                .unwrap()
                .contains("previous password works again")
        );
        let mine = ok(t.get_auth("/api/v1/me/campaigns", &ada_token).await).await;
        assert_eq!(mine[0]["status"], "undone_after_new_password", "{mine}");

        // The settings page shows the same, to its owner only.
        let r = t
            .post_json("/api/v1/sessions", &json!({"email": cy, "password": PW}))
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
        let page = t.page("/settings").await;
        assert!(page.contains("Was I affected?"), "{page}");
        assert!(page.contains("undone"), "{page}");
        let cy_ref = cys[0]["notice_reference"].as_str().unwrap();
        assert!(page.contains(cy_ref), "{page}");
        assert!(!page.contains(&reference), "not Ada's reference");
        let other = reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .unwrap();
        let r = other
            .post(t.url("/api/v1/sessions"))
            .json(&json!({"email": bea, "password": PW}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        let page = other
            .get(t.url("/settings"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            page.contains("has not reset the password of this account"),
            "{page}"
        );
        assert!(!page.contains(cy_ref));

        // The OpenAPI document lists the route.
        let api = t.get_json("/openapi.json").await;
        assert!(
            api["paths"]["/api/v1/me/campaigns"]["get"].is_object(),
            "{}",
            api["paths"]
        );
    },
    |env: &mut Vec<(String, String)>| {
        env.push(("GATEHOUSE_APPROVAL_MAX_SHARE_PERCENT".into(), "100".into()));
        env.push((
            "GATEHOUSE_APPROVAL_MAX_MULTIPLE_OF_NORMAL".into(),
            "1000".into(),
        ));
    }
);

both_engines!(
    findings_wait_as_findings_while_the_breaker_is_open,
    |t: TestApp| async move {
        let ops = enforced_stuffing_takeover(&t, None).await;
        // The kill switch first: the pass creates nothing, the findings wait.
        ok(post(&t, &ops, "/breaker/trip", json!({"reason": "drill"})).await).await;
        for _ in 0..3 {
            assert!(t.app.automatic_campaigns().await.unwrap().is_empty());
        }
        assert!(t.app.list_campaigns(None, 100).await.unwrap().is_empty());
        // Closed: one campaign takes every waiting finding.
        ok(post(&t, &ops, "/breaker/reset", json!({"reason": "reviewed"})).await).await;
        let made = t.app.automatic_campaigns().await.unwrap();
        assert_eq!(made.len(), 1);
        assert_eq!(made[0].target_count, 3);
        assert_eq!(t.app.list_campaigns(None, 100).await.unwrap().len(), 1);
        // Nothing new to act on: the next pass creates nothing.
        assert!(t.app.automatic_campaigns().await.unwrap().is_empty());
    }
);

both_engines!(
    undo_by_rule_undoes_what_reset_and_aborts_the_rest,
    |t: TestApp| async move {
        use gatehouse_domain::campaign::CampaignState as S;
        let ops = enforced_stuffing_takeover(&t, None).await;
        // One pass: the rule's campaign resets its first account.
        assert_eq!(t.app.campaigns_pass().await.unwrap().applied, 1);
        let undo = |rule: &'static str| {
            let t = &t;
            let ops = ops.clone();
            async move {
                t.post_json_auth(
                    &format!("/api/v1/admin/rules/{rule}/undo"),
                    &ops,
                    &json!({}),
                )
                .await
            }
        };
        let r = undo("credential-stuffing").await;
        assert_eq!(r.status(), StatusCode::ACCEPTED);
        let report: Value = r.json().await.unwrap();
        assert_eq!(report["undoing"].as_array().unwrap().len(), 1, "{report}");
        assert_eq!(report["aborted"].as_array().unwrap().len(), 0, "{report}");
        let c = t.app.list_campaigns(None, 10).await.unwrap();
        assert_eq!(c[0].state, S::Undoing);
        // Asked again: nothing more to do, and it says so.
        let again: Value = undo("credential-stuffing").await.json().await.unwrap();
        assert_eq!(again["already"].as_array().unwrap().len(), 1, "{again}");
        // One audited action for the rule, in the operator's name.
        let entries = t.app.raw_store().audit_entries(0, 10_000).await.unwrap();
        let by_rule: Vec<_> = entries
            .iter()
            .filter(|e| serde_json::from_str::<Value>(&e.detail).unwrap()["command"] == "undo_rule")
            .collect();
        assert_eq!(by_rule.len(), 2, "asked twice, recorded twice");
        assert_eq!(by_rule[0].target.as_deref(), Some("credential-stuffing"));
        assert_eq!(by_rule[0].actor_kind, "operator");
        // An unknown rule: 404 in the JSON shape.
        let r = undo("no-such-rule").await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "not_found", "{body}");
    },
    |env: &mut Vec<(String, String)>| {
        env.push(("GATEHOUSE_APPROVAL_MAX_SHARE_PERCENT".into(), "100".into()));
    }
);

both_engines!(
    undo_by_rule_aborts_a_campaign_that_reset_nobody,
    |t: TestApp| async move {
        use gatehouse_domain::campaign::CampaignState as S;
        let _ops = enforced_stuffing_takeover(&t, None).await;
        // The campaign is made and started, but no step has run: nobody reset.
        let made = t.app.automatic_campaigns().await.unwrap();
        assert_eq!(made.len(), 1);
        let op = gatehouse_domain::audit::Actor::Operator("op".into());
        let r = t.app.undo_rule("credential-stuffing", op).await.unwrap();
        assert_eq!((r.undoing.len(), r.aborted.len()), (0, 1), "{r:?}");
        let c = t.app.campaign(made[0].id).await.unwrap();
        assert_eq!(c.state, S::Aborted);
        // Nothing was reset, and nothing will be.
        assert_eq!(t.app.campaigns_pass().await.unwrap().applied, 0);
    }
);
