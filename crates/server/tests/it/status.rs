//! The public status page end to end: drafts stay private, published incidents
//! show on `/status`, `/status.atom` and `GET /api/v1/status`; subscribers
//! confirm, get updates over real SMTP (Postfix's `smtp-sink`), and leave with
//! one click; status mail keeps to its own budget while security notices go out.
//! Every test runs on SQLite and on PostgreSQL.

use std::time::Duration;

use crate::support::*;
use gatehouse_domain::audit::{Actor, AuditAction, NewAuditEntry};
use gatehouse_domain::{NoticeId, NoticeKind, OsEntropy, Reference, StatusConfirmToken};
use gatehouse_store::{NewNotice, NewSubscription, NoticeState};
use gatehouse_testkit::{ReceivedMail, SinkMode, SmtpSink};
use reqwest::StatusCode;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);

on_both_engines!(
    drafts_stay_private_until_published,
    subscribe_confirm_update_unsubscribe_over_smtp,
    status_mail_budget_never_holds_back_security_notices,
);

async fn spawn(engine: Engine, sink: &SmtpSink, extra: &[(&str, &str)]) -> Option<TestApp> {
    let url = sink.url();
    let mut env = vec![
        ("GATEHOUSE_SMTP_URL", url.as_str()),
        ("GATEHOUSE_MAIL_FROM", "Status <status@gatehouse.test>"),
        ("GATEHOUSE_MAIL_RETRY_BASE_MS", "50"),
        ("GATEHOUSE_SMTP_TIMEOUT_SECONDS", "5"),
    ];
    env.extend_from_slice(extra);
    TestApp::spawn(engine, &env).await
}

async fn admin(
    t: &TestApp,
    method: reqwest::Method,
    path: &str,
    key: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut r = t.http.request(method, t.url(path)).bearer_auth(key);
    if let Some(b) = body {
        r = r.json(&b);
    }
    r.send().await.unwrap()
}

async fn ok_json(r: reqwest::Response) -> Value {
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert!(status.is_success(), "{status}: {body}");
    body
}

async fn drafts_stay_private_until_published(engine: Engine) {
    let Some(t) = TestApp::spawn(engine, &[]).await else {
        return;
    };
    let (_op, key) = t.app.create_operator("ops@example.com").await.unwrap();
    let key = key.expose();
    use reqwest::Method as M;

    // Operator routes need the operator key.
    let r = t
        .post_json(
            "/api/v1/admin/status/incidents",
            &json!({"title": "x", "body": "y"}),
        )
        .await;
    assert_error(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;

    ok_json(
        admin(
            &t,
            M::PUT,
            "/api/v1/admin/status/components/login",
            key,
            Some(json!({"name": "Sign-in", "position": 1})),
        )
        .await,
    )
    .await;
    ok_json(
        admin(
            &t,
            M::PUT,
            "/api/v1/admin/status/components/api",
            key,
            Some(json!({"name": "API", "position": 2})),
        )
        .await,
    )
    .await;
    let r = admin(
        &t,
        M::PUT,
        "/api/v1/admin/status/components/Bad%20Id",
        key,
        Some(json!({"name": "x"})),
    )
    .await;
    assert_error(r, StatusCode::BAD_REQUEST, "invalid_input").await;

    // A draft, as the circuit breaker will write one: title with markup, figures.
    let title = "Resets <paused> & checked";
    let r = admin(
        &t,
        M::POST,
        "/api/v1/admin/status/incidents",
        key,
        Some(json!({
            "title": title, "body": "We paused automatic password resets.", "impact": "major",
            "components": ["login"], "figures": {"resets_last_minute": 4200}
        })),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let draft = r.json::<Value>().await.unwrap();
    let id = draft["id"].as_i64().unwrap();
    assert_eq!(draft["state"], "draft");
    let r = admin(
        &t,
        M::POST,
        "/api/v1/admin/status/incidents",
        key,
        Some(json!({"title": "t", "body": "b", "components": ["nope"]})),
    )
    .await;
    assert_error(r, StatusCode::CONFLICT, "conflict").await;
    // Issue 18 #13: a title is one line (it becomes a mail subject and a feed
    // title): CR/LF is refused, never turned into a second header.
    for title in ["Resets\r\nBcc: everyone@example.com", "Resets\nsecond line"] {
        let r = admin(
            &t,
            M::POST,
            "/api/v1/admin/status/incidents",
            key,
            Some(json!({"title": title, "body": "b"})),
        )
        .await;
        let e = assert_error(r, StatusCode::BAD_REQUEST, "invalid_input").await;
        assert_eq!(e["error"]["field"], "title", "{e}");
    }

    // Not public: not on the page, the feed or the API.
    let page = t.page("/status").await;
    assert!(!page.contains("Resets"), "{page}");
    assert!(page.contains("All systems operational"));
    assert!(!t.page("/status.atom").await.contains("Resets"));
    let public = t.get_json("/api/v1/status").await;
    assert_eq!(public["active"], json!([]));
    assert_eq!(public["status"], "operational");
    // An update before publishing is refused.
    let r = admin(
        &t,
        M::POST,
        &format!("/api/v1/admin/status/incidents/{id}/updates"),
        key,
        Some(json!({"state": "identified", "body": "x"})),
    )
    .await;
    assert_error(r, StatusCode::CONFLICT, "conflict").await;

    let published = ok_json(
        admin(
            &t,
            M::POST,
            &format!("/api/v1/admin/status/incidents/{id}/publish"),
            key,
            Some(json!({})),
        )
        .await,
    )
    .await;
    assert_eq!(published["state"], "investigating");
    assert_eq!(
        published["updates"][0]["body"],
        "We paused automatic password resets."
    );

    let public = t.get_json("/api/v1/status").await;
    assert_eq!(public["status"], "partial_outage");
    assert_eq!(public["active"][0]["title"], title);
    assert!(
        public["active"][0].get("figures").is_none(),
        "figures are never public"
    );
    let login = &public["components"][0];
    assert_eq!(
        (login["id"].as_str(), login["status"].as_str()),
        (Some("login"), Some("partial_outage"))
    );
    assert_eq!(public["components"][1]["status"], "operational");

    let page = t.page("/status").await;
    assert!(
        page.contains("Resets &#60;paused&#62; &#38; checked")
            || page.contains("Resets &lt;paused&gt; &amp; checked"),
        "escaped: {page}"
    );
    assert!(page.contains("href=\"/verify\""), "links to /verify");
    // "Was I affected?": the one way to find out is to sign in; the page itself
    // says nothing about any account and links to nothing that acts on one
    // (not even to /settings: people type the address themselves).
    assert!(page.contains("Was I affected?"));
    for account_action in ["/settings", "/recover", "/login\"", "token="] {
        assert!(
            !page.contains(account_action),
            "no account action links ({account_action})"
        );
    }
    assert!(page.contains("<label for=\"email\">"), "labelled form");

    let r = t.http.get(t.url("/status.atom")).send().await.unwrap();
    assert_eq!(
        r.headers()["content-type"],
        "application/atom+xml; charset=utf-8"
    );
    let feed = r.text().await.unwrap();
    assert!(feed.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>"));
    assert!(feed.contains("<feed xmlns=\"http://www.w3.org/2005/Atom\">"));
    assert!(
        feed.contains(&format!("<id>{}/status</id>", t.base)),
        "ids from public_url: {feed}"
    );
    assert!(
        feed.contains("Investigating: Resets &#60;paused&#62; &#38; checked")
            || feed.contains("Investigating: Resets &lt;paused&gt; &amp; checked"),
        "{feed}"
    );
    assert_eq!(feed.matches("<entry>").count(), 1);

    ok_json(
        admin(
            &t,
            M::POST,
            &format!("/api/v1/admin/status/incidents/{id}/updates"),
            key,
            Some(json!({"state": "identified", "body": "A rule misfired."})),
        )
        .await,
    )
    .await;
    let r = admin(
        &t,
        M::PATCH,
        &format!("/api/v1/admin/status/incidents/{id}"),
        key,
        Some(json!({"body": "rewrite"})),
    )
    .await;
    assert_error(r, StatusCode::CONFLICT, "conflict").await;
    ok_json(
        admin(
            &t,
            M::PATCH,
            &format!("/api/v1/admin/status/incidents/{id}"),
            key,
            Some(json!({"impact": "minor"})),
        )
        .await,
    )
    .await;
    assert_eq!(t.get_json("/api/v1/status").await["status"], "degraded");
    ok_json(
        admin(
            &t,
            M::POST,
            &format!("/api/v1/admin/status/incidents/{id}/resolve"),
            key,
            Some(json!({"body": "All accounts restored."})),
        )
        .await,
    )
    .await;
    ok_json(
        admin(
            &t,
            M::PUT,
            &format!("/api/v1/admin/status/incidents/{id}/postmortem"),
            key,
            Some(json!({"body": "What happened."})),
        )
        .await,
    )
    .await;
    let r = admin(
        &t,
        M::POST,
        &format!("/api/v1/admin/status/incidents/{id}/updates"),
        key,
        Some(json!({"state": "monitoring", "body": "x"})),
    )
    .await;
    assert_error(r, StatusCode::CONFLICT, "conflict").await;

    let public = t.get_json("/api/v1/status").await;
    assert_eq!(public["status"], "operational");
    assert_eq!(public["active"], json!([]));
    let past = &public["history"][0];
    assert_eq!(past["state"], "resolved");
    assert_eq!(past["postmortem"], "What happened.");
    let states: Vec<&str> = past["updates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["state"].as_str().unwrap())
        .collect();
    assert_eq!(
        states,
        ["resolved", "identified", "investigating"],
        "newest first"
    );
    assert_eq!(t.page("/status.atom").await.matches("<entry>").count(), 3);
    assert!(t.page("/status").await.contains("Postmortem"));

    let list = ok_json(admin(&t, M::GET, "/api/v1/admin/status/incidents", key, None).await).await;
    assert_eq!(
        list[0]["figures"]["resets_last_minute"], 4200,
        "operators see the figures"
    );
    let actions = t.audit_actions().await;
    for a in [
        "incident.drafted",
        "incident.published",
        "incident.updated",
        "incident.edited",
        "incident.resolved",
        "incident.postmortem",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} audited");
    }
    let spec = t.get_json("/openapi.json").await;
    assert!(spec["paths"]["/api/v1/status"]["get"].is_object());
    assert!(spec["paths"]["/api/v1/admin/status/incidents/{id}/publish"]["post"].is_object());
}

/// The link in a mail that starts with `prefix` (up to the next whitespace).
fn link_in(mail: &ReceivedMail, prefix: &str) -> String {
    let at = mail
        .text
        .find(prefix)
        .unwrap_or_else(|| panic!("no {prefix} in {}", mail.text));
    mail.text[at..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

fn query_token(link: &str) -> String {
    link.split("token=").nth(1).unwrap().to_string()
}

async fn subscribe_json(t: &TestApp, email: &str) -> (StatusCode, String) {
    let r = t
        .post_json("/api/v1/status/subscribe", &json!({ "email": email }))
        .await;
    (r.status(), r.text().await.unwrap())
}

async fn subscribe_confirm_update_unsubscribe_over_smtp(engine: Engine) {
    let sink = SmtpSink::start(SinkMode::Accept);
    let Some(t) = spawn(engine, &sink, &[]).await else {
        return;
    };
    let _worker = t.start_delivery();
    let (_op, key) = t.app.create_operator("ops@example.com").await.unwrap();
    let key = key.expose();

    // The page form: 202 and the same words for everyone.
    let r = t
        .post_form("/status/subscribe", &[("email", "Ann@Example.com")])
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("Unless this address is subscribed already")
    );
    let r = t
        .post_form("/status/subscribe", &[("email", "not an address")])
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    t.wait_for_notices("sent", 1).await;
    let mails = sink.wait_for(1, WAIT).await;
    let confirm = &mails[0];
    assert_eq!(
        confirm.envelope_to, "Ann@example.com",
        "the address as given (domain folded)"
    );
    assert!(confirm.subject.contains("Confirm"), "{}", confirm.subject);
    let link = link_in(confirm, &format!("{}/status/confirm?token=ghc_", t.base));
    assert!(
        !confirm.raw.contains("List-Unsubscribe"),
        "not a list mail yet"
    );

    // The link only shows a button: a mail scanner's GET confirms nothing.
    let page = t
        .http
        .get(&link)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Confirm my subscription"), "{page}");
    assert_eq!(t.app.status_subscriber_counts().await.unwrap().pending, 1);
    let r = t
        .post_form("/status/confirm", &[("token", query_token(&link))])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("Subscription confirmed"));
    assert_eq!(t.app.status_subscriber_counts().await.unwrap().confirmed, 1);
    let r = t
        .post_form("/status/confirm", &[("token", query_token(&link))])
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "a link works once");

    // Subscribed already or not: the same answer.
    let known = subscribe_json(&t, "ann@example.com").await;
    let fresh = subscribe_json(&t, "bob@example.com").await;
    assert_eq!(known.0, StatusCode::ACCEPTED);
    assert_eq!(known, fresh);
    t.wait_for_notices("sent", 2).await; // bob's confirmation; none for ann

    use reqwest::Method as M;
    let incident = ok_json(
        admin(
            &t,
            M::POST,
            "/api/v1/admin/status/incidents",
            key,
            Some(json!({"title": "Sign-in is slow", "body": "We are looking into slow sign-ins."})),
        )
        .await,
    )
    .await;
    let id = incident["id"].as_i64().unwrap();
    assert_eq!(
        t.app.outbox(None, 100).await.unwrap().len(),
        2,
        "a draft mails nobody"
    );
    ok_json(
        admin(
            &t,
            M::POST,
            &format!("/api/v1/admin/status/incidents/{id}/publish"),
            key,
            Some(json!({})),
        )
        .await,
    )
    .await;

    t.wait_for_notices("sent", 3).await;
    let mails = sink.wait_for(3, WAIT).await;
    let to_ann: Vec<&ReceivedMail> = mails
        .iter()
        .filter(|m| m.envelope_to.eq_ignore_ascii_case("ann@example.com"))
        .collect();
    assert_eq!(
        to_ann.len(),
        2,
        "confirmation and the update; nothing for the repeated request"
    );
    let update = to_ann
        .iter()
        .find(|m| m.subject.contains("Sign-in is slow"))
        .expect("update mail");
    assert!(
        !mails
            .iter()
            .any(|m| m.envelope_to == "bob@example.com" && m.subject.contains("Sign-in")),
        "bob has not confirmed"
    );
    assert!(update.text.contains("We are looking into slow sign-ins."));
    let unsubscribe = link_in(update, &format!("{}/status/unsubscribe?token=ghx_", t.base));
    assert!(
        update
            .raw
            .contains(&format!("List-Unsubscribe: <{unsubscribe}>")),
        "{}",
        update.raw
    );
    assert!(
        update
            .raw
            .contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click")
    );
    assert!(
        update.text.contains("/verify"),
        "a reference anyone can check"
    );

    // The link shows a button; RFC 8058's one-click POST (no cookies, no
    // Origin: a mail provider's server) unsubscribes.
    let page = t
        .http
        .get(&unsubscribe)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("A***@example.com") && page.contains("Unsubscribe"),
        "{page}"
    );
    assert_eq!(t.app.status_subscriber_counts().await.unwrap().confirmed, 1);
    let r = reqwest::Client::new()
        .post(&unsubscribe)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(t.app.status_subscriber_counts().await.unwrap().confirmed, 0);
    let page = t
        .http
        .get(&unsubscribe)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("receives no status updates"), "{page}");

    // No more mail after leaving.
    ok_json(
        admin(
            &t,
            M::POST,
            &format!("/api/v1/admin/status/incidents/{id}/resolve"),
            key,
            Some(json!({"body": "Fixed."})),
        )
        .await,
    )
    .await;
    let updates = t
        .app
        .outbox(None, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|n| n.kind == NoticeKind::StatusUpdate)
        .count();
    assert_eq!(updates, 1, "the resolution went to nobody");
    let actions = t.audit_actions().await;
    for a in [
        "status.subscribe_requested",
        "status.subscribed",
        "status.unsubscribed",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} audited");
    }
}

/// A confirmed subscriber written straight to the store. Its confirmation
/// notice is born expired, so it never uses the status budget under test.
async fn confirmed_subscriber(t: &TestApp, email: &str) {
    let now = t.app.clock.now();
    let confirm = StatusConfirmToken::generate(&OsEntropy);
    let id = NoticeId::generate(&OsEntropy).to_string();
    let s = NewSubscription {
        unsubscribe_hash: gatehouse_domain::token::unsubscribe_token(b"test", &id).hash(),
        id,
        email: email.into(),
        email_key: email.into(),
        confirm_hash: confirm.hash(),
        confirm_expires_at: now.plus(Duration::from_secs(3600)),
        now,
    };
    let notice = |_: &str| {
        let nid = NoticeId::generate(&OsEntropy);
        NewNotice {
            id: nid,
            reference: Reference::generate(&OsEntropy).to_string(),
            idempotency_key: format!("test-confirm/{nid}"),
            kind: NoticeKind::StatusConfirm,
            account: None,
            recipient: email.into(),
            recipient_key: email.into(),
            payload: json!({}),
            message_id: format!("<{nid}@test>"),
            created_at: now,
            expires_at: Some(now.minus(Duration::from_secs(1))),
        }
    };
    let audit = || NewAuditEntry::new(now, Actor::System, AuditAction::StatusSubscribeRequested);
    assert!(
        t.app
            .raw_store()
            .subscribe(&s, &notice, audit())
            .await
            .unwrap()
    );
    t.app
        .raw_store()
        .confirm_subscription(&confirm.hash(), now, audit())
        .await
        .unwrap()
        .unwrap();
}

async fn status_mail_budget_never_holds_back_security_notices(engine: Engine) {
    let sink = SmtpSink::start(SinkMode::Accept);
    let Some(t) = spawn(engine, &sink, &[("GATEHOUSE_STATUS_MAIL_PER_HOUR", "2")]).await else {
        return;
    };
    for i in 0..4 {
        confirmed_subscriber(&t, &format!("sub{i}@example.com")).await;
    }
    t.sign_up("ada@example.com", "correct horse battery staple")
        .await;
    let (_op, key) = t.app.create_operator("ops@example.com").await.unwrap();
    let key = key.expose();
    use reqwest::Method as M;
    let incident = ok_json(
        admin(
            &t,
            M::POST,
            "/api/v1/admin/status/incidents",
            key,
            Some(json!({"title": "Mail is slow", "body": "Looking."})),
        )
        .await,
    )
    .await;
    let id = incident["id"].as_i64().unwrap();
    ok_json(
        admin(
            &t,
            M::POST,
            &format!("/api/v1/admin/status/incidents/{id}/publish"),
            key,
            Some(json!({})),
        )
        .await,
    )
    .await;
    // Four status mails are due before the security notice is even written.
    let r = t
        .post_json("/api/v1/recovery", &json!({ "email": "ada@example.com" }))
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let pending_recovery = async {
        loop {
            if t.app
                .outbox(None, 100)
                .await
                .unwrap()
                .iter()
                .any(|n| n.kind == NoticeKind::Recovery)
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(WAIT, pending_recovery)
        .await
        .expect("recovery notice written");

    let _worker = t.start_delivery();
    // The recovery code and two status mails (the hour's budget) go out.
    t.wait_for_notices("sent", 3).await;
    let mails = sink.wait_for(3, WAIT).await;
    assert!(
        mails
            .iter()
            .any(|m| m.envelope_to == "ada@example.com" && m.subject.contains("recovery code"))
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let outbox = t.app.outbox(None, 100).await.unwrap();
    let status: Vec<_> = outbox
        .iter()
        .filter(|n| n.kind == NoticeKind::StatusUpdate)
        .collect();
    assert_eq!(
        status
            .iter()
            .filter(|n| n.state == NoticeState::Sent)
            .count(),
        2,
        "capped at 2 an hour"
    );
    let waiting: Vec<_> = status
        .iter()
        .filter(|n| n.state == NoticeState::Pending)
        .collect();
    assert_eq!(waiting.len(), 2);
    let now = t.app.clock.now();
    // Deferred (to when the hour has room, or a minute on while the budget's
    // sends were still in flight), so the worker does not spin on them.
    assert!(
        waiting.iter().all(|n| n.next_attempt_at > now),
        "deferred: {waiting:?}"
    );

    // A security notice written now still goes out at once.
    t.sign_up("bob@example.com", "correct horse battery staple")
        .await;
    let r = t
        .post_json("/api/v1/recovery", &json!({ "email": "bob@example.com" }))
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    t.wait_for_notices("sent", 4).await;
    assert_eq!(
        t.app
            .outbox(Some(NoticeState::Pending), 100)
            .await
            .unwrap()
            .len(),
        2,
        "only the deferred status mail waits"
    );

    // An hour later the rest of the status mail goes.
    t.clock.advance(Duration::from_secs(3601));
    t.wait_for_notices("sent", 6).await;
    let mails = sink.wait_for(6, WAIT).await;
    assert_eq!(
        mails
            .iter()
            .filter(|m| m.subject.contains("Mail is slow"))
            .count(),
        4
    );
}
