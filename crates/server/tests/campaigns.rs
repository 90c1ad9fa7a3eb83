//! Guarded remediation end to end, on both engines: an operator campaign from
//! draft to undo (empty set refused, approval by another operator bound to the
//! snapshot, staged apply, forced reset with suspended sessions, undo with
//! corrections), and the budget and breaker stopping an automatic campaign.

mod support;

use std::time::Duration;

use gatehouse_server::app::monitor::Monitor;
use gatehouse_store::{ClaimPolicy, NoticeState};
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::*;

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
        .store
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
async fn enforced_stuffing_takeover(t: &TestApp, description: Option<&str>) -> String {
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
            assert_eq!(login_status(&t, e, PW).await, StatusCode::FORBIDDEN, "{e}");
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
        let undone = ok(post(&t, &ann, &format!("/campaigns/{id}/undo"), json!({})).await).await;
        assert_eq!(
            (undone["restored"].clone(), undone["explained"].clone()),
            (json!(2), json!(1))
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
            gatehouse_store::verify_audit_chain(t.app.store.as_ref())
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
        let stored = t.app.store.outbox_counts().await.unwrap();
        assert!(stored.iter().any(|(s, _)| *s == NoticeState::Sending));
    },
    |env: &mut Vec<(String, String)>| {
        env.push(("GATEHOUSE_BUDGET_HOURLY_FLOOR".into(), "1".into()));
        env.push(("GATEHOUSE_BUDGET_DAILY_FLOOR".into(), "1".into()));
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
            .store
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
                .store
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
            .store
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
