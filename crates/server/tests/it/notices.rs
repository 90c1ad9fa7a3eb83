//! Notices and password recovery against a real SMTP server: Postfix's
//! `smtp-sink` on loopback, every received message parsed and asserted.
//! Every test runs on SQLite and on PostgreSQL.

use std::time::Duration;

use crate::support::*;
use gatehouse_testkit::{ReceivedMail, SinkMode, SmtpSink};
use reqwest::StatusCode;
use serde_json::{Value, json};

const PW: &str = "correct horse battery staple";
const NEW_PW: &str = "a completely different passphrase";
const WAIT: Duration = Duration::from_secs(30);

on_both_engines!(
    recovery_round_trip_through_the_api,
    recovery_round_trip_through_the_pages_with_the_link,
    concurrent_redemptions_exactly_one_succeeds,
    codes_expire_and_a_new_request_supersedes,
    mail_server_down_then_up_every_notice_arrives_once,
    permanent_refusal_is_failed_visible_and_retryable,
);

/// A server whose notices go to `sink` over SMTP, with fast retries.
async fn spawn(engine: Engine, sink: &SmtpSink, extra: &[(&str, &str)]) -> Option<TestApp> {
    let url = sink.url();
    let mut env = vec![
        ("GATEHOUSE_SMTP_URL", url.as_str()),
        ("GATEHOUSE_MAIL_FROM", "Gatehouse <no-reply@gatehouse.test>"),
        ("GATEHOUSE_MAIL_RETRY_BASE_MS", "50"),
        ("GATEHOUSE_SMTP_TIMEOUT_SECONDS", "5"),
    ];
    env.extend_from_slice(extra);
    TestApp::spawn(engine, &env).await
}

async fn request_recovery(t: &TestApp, email: &str) -> (StatusCode, String) {
    let r = t
        .post_json("/api/v1/recovery", &json!({ "email": email }))
        .await;
    (r.status(), r.text().await.unwrap())
}

async fn complete(t: &TestApp, body: Value) -> reqwest::Response {
    t.post_json("/api/v1/recovery/complete", &body).await
}

async fn login_status(t: &TestApp, email: &str, password: &str) -> StatusCode {
    t.post_json(
        "/api/v1/sessions",
        &json!({ "email": email, "password": password }),
    )
    .await
    .status()
}

/// The first `n` messages, once the outbox says `n` were accepted (so the
/// sink has written them completely).
async fn received(t: &TestApp, sink: &SmtpSink, n: usize) -> Vec<ReceivedMail> {
    t.wait_for_notices("sent", n).await;
    sink.wait_for(n, WAIT).await
}

fn only_mail_to<'a>(mails: &'a [ReceivedMail], to: &str) -> Vec<&'a ReceivedMail> {
    mails.iter().filter(|m| m.envelope_to == to).collect()
}

async fn recovery_round_trip_through_the_api(engine: Engine) {
    let sink = SmtpSink::start(SinkMode::Accept);
    let Some(t) = spawn(engine, &sink, &[]).await else {
        return;
    };
    let _worker = t.start_delivery();
    t.sign_up("ada@example.com", PW).await;
    let old_session = t.log_in("ada@example.com", PW).await;

    // Known and unknown addresses get byte-identical answers.
    let known = request_recovery(&t, "Ada@Example.com").await;
    let unknown = request_recovery(&t, "nobody@example.com").await;
    assert_eq!(known.0, StatusCode::ACCEPTED);
    assert_eq!(known, unknown);
    // Bad input is the only thing that differs, and says why.
    let r = t
        .post_json("/api/v1/recovery", &json!({ "email": "not an address" }))
        .await;
    assert_error(r, StatusCode::BAD_REQUEST, "invalid_input").await;

    let sent = t.wait_for_notices("sent", 1).await;
    let mails = received(&t, &sink, 1).await;
    assert_eq!(mails.len(), 1, "no mail for the unknown address");
    let mail = &mails[0];
    assert_eq!(mail.envelope_to, "ada@example.com");
    assert_eq!(mail.to, "ada@example.com");
    assert_eq!(mail.from, "no-reply@gatehouse.test");
    assert!(mail.subject.contains("recovery code"), "{}", mail.subject);
    assert_eq!(format!("<{}>", mail.message_id), sent[0].message_id);
    assert!(mail.html.is_some(), "multipart: text and HTML");
    // Phishing-resistant: type the address, why/when/where, a reference, no link by default.
    assert!(mail.text.contains("into your browser"), "{}", mail.text);
    assert!(mail.text.contains("127.0.0.1"), "where from: {}", mail.text);
    assert!(
        mail.link().is_none(),
        "no link unless configured: {}",
        mail.text
    );
    let reference = mail.reference().expect("reference");
    assert_eq!(reference, sent[0].reference);
    let code = mail.code().expect("code in the mail");

    // /verify answers for the reference, masked, and for nothing else.
    let v = t.get_json(&format!("/api/v1/verify/{reference}")).await;
    assert_eq!(v["kind"], "recovery");
    assert_eq!(v["recipient"], "a***@example.com");
    assert!(v["sent_at"].is_string());
    let r = t
        .http
        .get(t.url("/api/v1/verify/GH-0000-0000"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // A wrong code is refused; the right one (typed in lower case, without the hyphen) works.
    let wrong = if code.starts_with('0') {
        "1111-1111"
    } else {
        "0000-0000"
    };
    let r = complete(
        &t,
        json!({"email": "ada@example.com", "code": wrong, "new_password": NEW_PW}),
    )
    .await;
    assert_error(r, StatusCode::BAD_REQUEST, "invalid_recovery_code").await;
    let typed = code.replace('-', "").to_lowercase();
    let r = complete(
        &t,
        json!({"email": "ADA@example.com", "code": typed, "new_password": NEW_PW}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());

    // Single use; the old password and every session are gone; no automatic login.
    let r = complete(
        &t,
        json!({"email": "ada@example.com", "code": code, "new_password": "yet another passphrase"}),
    )
    .await;
    assert_error(r, StatusCode::BAD_REQUEST, "invalid_recovery_code").await;
    assert_eq!(
        login_status(&t, "ada@example.com", PW).await,
        StatusCode::UNAUTHORIZED
    );
    let r = t.get_auth("/api/v1/me", &old_session).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        login_status(&t, "ada@example.com", NEW_PW).await,
        StatusCode::CREATED
    );

    // The "password changed" notice follows, with its own reference.
    let mails = received(&t, &sink, 2).await;
    let changed = &mails[1];
    assert_eq!(changed.envelope_to, "ada@example.com");
    assert!(
        changed.subject.contains("password was changed"),
        "{}",
        changed.subject
    );
    assert!(
        changed.text.contains("password recovery"),
        "{}",
        changed.text
    );
    assert_ne!(changed.reference(), Some(reference));
    assert_ne!(changed.message_id, mail.message_id);
    let actions = t.audit_actions().await;
    for a in [
        "recovery.requested",
        "recovery.rejected",
        "recovery.completed",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} in {actions:?}");
    }
}

async fn recovery_round_trip_through_the_pages_with_the_link(engine: Engine) {
    let sink = SmtpSink::start(SinkMode::Accept);
    let Some(t) = spawn(engine, &sink, &[("GATEHOUSE_MAIL_LINK_KINDS", "recovery")]).await else {
        return;
    };
    let _worker = t.start_delivery();
    t.sign_up("bea@example.com", PW).await;

    let html = t.page("/login").await;
    assert!(
        html.contains("href=\"/recover\""),
        "login links to recovery"
    );
    let r = t
        .post_form("/recover", &[("email", "bea@example.com")])
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let known = r.text().await.unwrap();
    let r = t
        .post_form("/recover", &[("email", "nobody@example.com")])
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert_eq!(
        known,
        r.text().await.unwrap(),
        "same page for unknown addresses"
    );
    assert!(known.contains("If an account exists"));

    let mails = received(&t, &sink, 1).await;
    let link = mails[0].link().expect("a link when configured");
    // Built from the configured public URL, never from the request.
    assert!(
        link.starts_with(&format!("{}/recover/complete?token=ghr_", t.base)),
        "{link}"
    );
    let r = t.http.get(&link).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["referrer-policy"], "no-referrer");
    let page = r.text().await.unwrap();
    let token = link.split("token=").nth(1).unwrap();
    assert!(page.contains(token), "the link pre-fills the form");

    // Mismatched confirmation: nothing used up, the token stays in the form.
    let r = t
        .post_form(
            "/recover/complete",
            &[
                ("token", token),
                ("new_password", NEW_PW),
                ("new_password_confirm", "something else"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let page = r.text().await.unwrap();
    assert!(page.contains("not the same") && page.contains(token));

    let r = t
        .post_form(
            "/recover/complete",
            &[
                ("token", token),
                ("new_password", NEW_PW),
                ("new_password_confirm", NEW_PW),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/login?done=recovered");
    assert_eq!(
        login_status(&t, "bea@example.com", NEW_PW).await,
        StatusCode::CREATED
    );
    // The token is spent.
    let r = complete(&t, json!({"token": token, "new_password": PW})).await;
    assert_error(r, StatusCode::BAD_REQUEST, "invalid_recovery_code").await;

    // The /verify page shows the reference of the mail, masked, with no action links.
    let reference = mails[0].reference().unwrap();
    let html = t.page(&format!("/verify?reference={reference}")).await;
    assert!(html.contains("b***@example.com"), "{html}");
    assert!(!html.contains("token="), "no action links on /verify");
}

async fn concurrent_redemptions_exactly_one_succeeds(engine: Engine) {
    let sink = SmtpSink::start(SinkMode::Accept);
    let Some(t) = spawn(engine, &sink, &[("GATEHOUSE_MAIL_LINK_KINDS", "recovery")]).await else {
        return;
    };
    let _worker = t.start_delivery();
    t.sign_up("cy@example.com", PW).await;
    request_recovery(&t, "cy@example.com").await;
    let mails = received(&t, &sink, 1).await;
    let code = mails[0].code().unwrap();
    let link = mails[0].link().unwrap();
    let token = link.split("token=").nth(1).unwrap().to_owned();

    // Eight redemptions at once, half by code and half by link token.
    let mut tasks = Vec::new();
    for i in 0..8 {
        let http = reqwest::Client::new();
        let url = t.url("/api/v1/recovery/complete");
        let body = if i % 2 == 0 {
            json!({"email": "cy@example.com", "code": code, "new_password": format!("{NEW_PW} {i}")})
        } else {
            json!({"token": token, "new_password": format!("{NEW_PW} {i}")})
        };
        tasks.push(tokio::spawn(async move {
            // Eight argon2 hashes at once can overflow the test's small hash
            // pool: a 503 says "try again", and a client does.
            for _ in 0..100 {
                let r = http.post(&url).json(&body).send().await.unwrap();
                let status = r.status();
                if status != StatusCode::SERVICE_UNAVAILABLE {
                    return (i, status, r.text().await.unwrap());
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            panic!("still overloaded after 100 tries");
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            (i, StatusCode::OK, _) => winners.push(i),
            (_, StatusCode::BAD_REQUEST, _) => {}
            (_, other, body) => panic!("unexpected status {other}: {body}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one redemption wins");
    // The winner's password is the one set. (Trying the losers' passwords
    // would only trip the login throttle.)
    assert_eq!(
        login_status(&t, "cy@example.com", &format!("{NEW_PW} {}", winners[0])).await,
        StatusCode::CREATED
    );
    // And exactly one "password changed" notice.
    t.wait_for_notices("sent", 2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.messages().len(), 2);
}

async fn codes_expire_and_a_new_request_supersedes(engine: Engine) {
    let sink = SmtpSink::start(SinkMode::Accept);
    let Some(t) = spawn(engine, &sink, &[("GATEHOUSE_RECOVERY_CODE_MINUTES", "10")]).await else {
        return;
    };
    let _worker = t.start_delivery();
    t.sign_up("di@example.com", PW).await;

    request_recovery(&t, "di@example.com").await;
    let first = received(&t, &sink, 1).await[0].code().unwrap();
    assert!(sink.messages()[0].text.contains("10 minutes"));
    request_recovery(&t, "di@example.com").await;
    let second = received(&t, &sink, 2).await[1].code().unwrap();
    assert_ne!(first, second);
    // The newer request invalidates the older one.
    let r = complete(
        &t,
        json!({"email": "di@example.com", "code": first, "new_password": NEW_PW}),
    )
    .await;
    assert_error(r, StatusCode::BAD_REQUEST, "invalid_recovery_code").await;

    // Ten minutes and a second later, the current one has expired too.
    t.clock.advance(Duration::from_secs(10 * 60 + 1));
    let r = complete(
        &t,
        json!({"email": "di@example.com", "code": second, "new_password": NEW_PW}),
    )
    .await;
    assert_error(r, StatusCode::BAD_REQUEST, "invalid_recovery_code").await;
    assert_eq!(
        login_status(&t, "di@example.com", PW).await,
        StatusCode::CREATED,
        "nothing changed"
    );

    // Five wrong guesses use a request up, even with the right code after.
    request_recovery(&t, "di@example.com").await;
    let third = received(&t, &sink, 3).await[2].code().unwrap();
    let wrong = if third.starts_with('0') {
        "1111-1111"
    } else {
        "0000-0000"
    };
    for _ in 0..5 {
        let r = complete(
            &t,
            json!({"email": "di@example.com", "code": wrong, "new_password": NEW_PW}),
        )
        .await;
        assert_error(r, StatusCode::BAD_REQUEST, "invalid_recovery_code").await;
    }
    let r = complete(
        &t,
        json!({"email": "di@example.com", "code": third, "new_password": NEW_PW}),
    )
    .await;
    assert_error(r, StatusCode::BAD_REQUEST, "invalid_recovery_code").await;
}

async fn mail_server_down_then_up_every_notice_arrives_once(engine: Engine) {
    // The port is known but nothing listens: connections are refused.
    let mut sink = SmtpSink::reserve();
    let Some(t) = spawn(engine, &sink, &[]).await else {
        return;
    };
    let _worker = t.start_delivery();
    let people = ["e1@example.com", "e2@example.com", "e3@example.com"];
    for p in people {
        t.sign_up(p, PW).await;
        request_recovery(&t, p).await;
    }
    // Every notice has failed at least once and waits for a retry.
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let pending = t.app.outbox(None, 100).await.unwrap();
        // `attempts` counts a claim, so a notice on its first attempt shows 1
        // before its send has failed: wait for the recorded error too.
        let failed_once = |n: &gatehouse_store::Notice| {
            n.attempts >= 1 && n.last_error.as_deref().is_some_and(|e| !e.is_empty())
        };
        if pending.len() == 3 && pending.iter().all(failed_once) {
            assert!(pending.iter().all(|n| n.sent_at.is_none()), "{pending:?}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{pending:?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    // A temporary refusal (4xx) is also retried.
    sink.restart(SinkMode::TempFail);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(sink.messages().is_empty());

    sink.restart(SinkMode::Accept);
    let mails = received(&t, &sink, 3).await;
    // Give a wrongly repeated delivery time to show up.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mails_after = sink.messages();
    assert_eq!(mails_after.len(), mails.len());
    assert_eq!(mails.len(), 3, "each notice exactly once");
    for p in people {
        assert_eq!(only_mail_to(&mails, p).len(), 1, "{p}");
    }
}

async fn permanent_refusal_is_failed_visible_and_retryable(engine: Engine) {
    let mut sink = SmtpSink::start(SinkMode::PermFail);
    let Some(t) = spawn(engine, &sink, &[]).await else {
        return;
    };
    let _worker = t.start_delivery();
    let (_op, key) = t.app.create_operator("ops@example.com").await.unwrap();
    t.sign_up("fay@example.com", PW).await;
    request_recovery(&t, "fay@example.com").await;

    let failed = t.wait_for_notices("failed", 1).await;
    assert_eq!(failed[0].attempts, 1, "a 5xx is not retried");
    let r = t
        .get_auth("/api/v1/admin/outbox?state=failed", key.expose())
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let listed: Value = r.json().await.unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["recipient"], "fay@example.com");
    let error = listed[0]["last_error"].as_str().unwrap();
    assert!(
        error.contains("554") || error.contains("message refused"),
        "the server's answer is kept: {error}"
    );
    let r = t.get_auth("/api/v1/admin/outbox", "ghk_wrong").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // Once the operator has fixed the cause, a retry delivers it.
    sink.restart(SinkMode::Accept);
    let id = listed[0]["id"].as_str().unwrap();
    let r = t
        .post_json_auth(
            &format!("/api/v1/admin/outbox/{id}/retry"),
            key.expose(),
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let mails = received(&t, &sink, 1).await;
    assert_eq!(mails[0].envelope_to, "fay@example.com");
    assert!(
        t.audit_actions()
            .await
            .iter()
            .any(|a| a == "notice.retried")
    );
}
