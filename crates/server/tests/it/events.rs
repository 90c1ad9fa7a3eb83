//! Login events over HTTP, on both engines: Gatehouse's own logins produce them,
//! apps send theirs to `POST /api/v1/events/login`, and housekeeping applies the
//! retention.

use std::time::Duration;

use crate::support::*;
use gatehouse_domain::Timestamp;
use gatehouse_domain::login_event::{EventOrigin, EventOutcome};
use gatehouse_store::LoginEvent;
use reqwest::StatusCode;
use serde_json::{Value, json};

const PW: &str = "correct horse battery staple";

/// Every stored event from an hour ago to a minute ahead, in time order.
async fn events(t: &TestApp) -> Vec<LoginEvent> {
    let now = t.app.clock.now();
    t.app
        .raw_store()
        .login_events(
            now.minus(Duration::from_secs(3600 * 24 * 400)),
            now.plus(Duration::from_secs(600)),
            None,
            100_000,
        )
        .await
        .unwrap()
}

fn rfc3339(t: Timestamp) -> String {
    t.to_rfc3339()
}

fn event(t: &TestApp, account: &str, ip: &str, outcome: &str, ago_ms: u64) -> Value {
    json!({
        "time": rfc3339(t.app.clock.now().minus(Duration::from_millis(ago_ms))),
        "account": account,
        "ip": ip,
        "user_agent": "app/1.0",
        "outcome": outcome,
        "country": "NL",
        "asn": 64500,
    })
}

async fn post_events(t: &TestApp, key: &str, events: Vec<Value>) -> reqwest::Response {
    t.post_json_auth("/api/v1/events/login", key, &json!({ "events": events }))
        .await
}

both_engines!(own_logins_produce_events, |t: TestApp| async move {
    t.sign_up("ann@example.com", PW).await;
    t.sign_up("bob@example.com", PW).await;
    t.log_in("Ann@Example.com", PW).await;
    let wrong = t
        .post_json(
            "/api/v1/sessions",
            &json!({"email": "ann@example.com", "password": "not the right password"}),
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let unknown = t
        .post_json(
            "/api/v1/sessions",
            &json!({"email": "nobody@example.com", "password": PW}),
        )
        .await;
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    t.log_in("bob@example.com", PW).await;

    let ann = t
        .app
        .raw_store()
        .login_record("ann@example.com")
        .await
        .unwrap()
        .unwrap()
        .account
        .id;
    let got = events(&t).await;
    let summary: Vec<(&str, Option<_>, EventOutcome)> = got
        .iter()
        .map(|e| (e.account.as_str(), e.account_id, e.outcome))
        .collect();
    assert_eq!(
        summary[..3],
        [
            ("ann@example.com", Some(ann), EventOutcome::Success),
            ("ann@example.com", Some(ann), EventOutcome::WrongPassword),
            ("nobody@example.com", None, EventOutcome::UnknownAccount),
        ]
    );
    for e in &got {
        assert_eq!(e.origin, EventOrigin::Gatehouse);
        assert_eq!(e.ip, "127.0.0.1");
        assert_eq!(e.user_agent.as_deref(), Some("gatehouse-tests"));
        // A keyed digest, not the password.
        let digest = e
            .password_digest
            .as_ref()
            .expect("own logins carry a digest");
        assert_eq!(digest.len(), 32);
        assert!(!String::from_utf8_lossy(digest).contains("horse"));
    }
    // One password tried on several accounts shows as one digest (spraying);
    // another password shows as another.
    assert_eq!(got[0].password_digest, got[2].password_digest);
    assert_eq!(got[0].password_digest, got[3].password_digest);
    assert_ne!(got[0].password_digest, got[1].password_digest);
    assert_eq!(got[3].outcome, EventOutcome::Success);
});

both_engines!(throttled_logins_store_no_event, |t: TestApp| async move {
    t.sign_up("c@example.com", PW).await;
    let mut throttled = 0;
    for _ in 0..8 {
        let r = t
            .post_json(
                "/api/v1/sessions",
                &json!({"email": "c@example.com", "password": "wrong wrong wrong"}),
            )
            .await;
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            throttled += 1;
        }
    }
    assert!(throttled > 0, "the throttle should have engaged");
    // Only attempts whose password was checked are events.
    assert_eq!(events(&t).await.len(), 8 - throttled);
});

both_engines!(api_stores_batches_once, |t: TestApp| async move {
    let (_op, key) = t.app.create_operator("ops@example.com").await.unwrap();
    let key = key.expose().to_owned();
    t.sign_up("dee@example.com", PW).await;
    let dee = t
        .app
        .raw_store()
        .login_record("dee@example.com")
        .await
        .unwrap()
        .unwrap()
        .account
        .id;
    // A full batch is larger than the server-wide body limit (64 KiB), and fits.
    let batch: Vec<Value> = (0..1000)
        .map(|i| {
            let account = match i % 4 {
                0 => "DEE@example.com".to_string(),
                1 => dee.to_string(),
                _ => format!("user{i}@elsewhere.example"),
            };
            event(
                &t,
                &account,
                &format!("2001:db8::{i:x}"),
                "wrong_password",
                1000 + i,
            )
        })
        .collect();
    assert!(serde_json::to_vec(&batch).unwrap().len() > 65536);
    let r = post_events(&t, &key, batch.clone()).await;
    assert_eq!(r.status(), StatusCode::OK);
    let report: Value = r.json().await.unwrap();
    assert_eq!(
        report,
        json!({"received": 1000, "inserted": 1000, "duplicates": 0, "older_than_retention": 0})
    );
    // Sent again (a retry): nothing new.
    let again: Value = post_events(&t, &key, batch).await.json().await.unwrap();
    assert_eq!(
        (again["inserted"].as_u64(), again["duplicates"].as_u64()),
        (Some(0), Some(1000))
    );

    let stored = events(&t).await;
    assert_eq!(stored.len(), 1000);
    let linked = stored.iter().filter(|e| e.account_id == Some(dee)).count();
    assert_eq!(
        linked, 500,
        "addresses (any case) and Gatehouse ids resolve"
    );
    let first = stored
        .iter()
        .find(|e| e.account == "dee@example.com")
        .unwrap();
    assert_eq!(first.origin, EventOrigin::Api);
    assert_eq!(
        (first.country.as_deref(), first.asn),
        (Some("NL"), Some(64500))
    );
    assert_eq!(first.user_agent.as_deref(), Some("app/1.0"));
    assert_eq!(first.password_digest, None);
    assert!(
        t.audit_actions()
            .await
            .contains(&"login_events.ingested".to_string())
    );

    // Older than the retention: dropped and counted, not stored.
    let old = event(
        &t,
        "dee@example.com",
        "192.0.2.1",
        "success",
        91 * 24 * 3600 * 1000,
    );
    let r: Value = post_events(&t, &key, vec![old]).await.json().await.unwrap();
    assert_eq!(
        (r["inserted"].as_u64(), r["older_than_retention"].as_u64()),
        (Some(0), Some(1))
    );
});

both_engines!(api_refuses_bad_batches_whole, |t: TestApp| async move {
    let (_op, key) = t.app.create_operator("ops@example.com").await.unwrap();
    let key = key.expose().to_owned();
    let good = event(&t, "e@example.com", "192.0.2.1", "success", 10);
    let mut bad_ip = event(&t, "e@example.com", "192.0.2.300", "success", 10);
    bad_ip["user_agent"] = json!("other");
    let mut bad_outcome = event(&t, "e@example.com", "192.0.2.1", "maybe", 10);
    bad_outcome["country"] = json!("Netherlands");
    let body = assert_error(
        post_events(
            &t,
            &key,
            vec![good.clone(), bad_ip, good.clone(), bad_outcome, json!(7)],
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_events",
    )
    .await;
    let items = body["error"]["items"].as_array().unwrap();
    let indexes: Vec<u64> = items.iter().map(|i| i["index"].as_u64().unwrap()).collect();
    assert_eq!(indexes, [1, 3, 4]);
    assert!(
        items[0]["message"].as_str().unwrap().starts_with("ip:"),
        "{body}"
    );
    assert!(
        items[1]["message"]
            .as_str()
            .unwrap()
            .starts_with("outcome:"),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("3 of 5 events are invalid")
    );
    assert!(
        events(&t).await.is_empty(),
        "nothing of a refused batch is stored"
    );

    let too_many = vec![good.clone(); 1001];
    let body = assert_error(
        post_events(&t, &key, too_many).await,
        StatusCode::BAD_REQUEST,
        "too_many_events",
    )
    .await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at most 1000")
    );
    // The operator key is required; a session token is not one.
    assert_error(
        t.http
            .post(t.url("/api/v1/events/login"))
            .json(&json!({ "events": [good.clone()] }))
            .send()
            .await
            .unwrap(),
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    t.sign_up("f@example.com", PW).await;
    let session = t.log_in("f@example.com", PW).await;
    assert_error(
        post_events(&t, &session, vec![good.clone()]).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    // A bare array is not the documented body.
    assert_error(
        t.post_json_auth("/api/v1/events/login", &key, &json!([good]))
            .await,
        StatusCode::BAD_REQUEST,
        "malformed_body",
    )
    .await;
    let spec = t.get_json("/openapi.json").await;
    assert!(spec["paths"]["/api/v1/events/login"]["post"].is_object());
});

both_engines!(
    housekeeping_applies_retention,
    |t: TestApp| async move {
        let (_op, key) = t.app.create_operator("ops@example.com").await.unwrap();
        let key = key.expose().to_owned();
        let day = 24 * 3600 * 1000;
        let batch = vec![
            event(&t, "g@example.com", "192.0.2.1", "success", day + 1000),
            event(&t, "g@example.com", "192.0.2.1", "success", 1000),
        ];
        let r: Value = post_events(&t, &key, batch).await.json().await.unwrap();
        assert_eq!(r["inserted"], 2);
        t.app.housekeeping().await.unwrap();
        assert_eq!(events(&t).await.len(), 2, "both are within 2 days");
        t.clock.advance(Duration::from_secs(24 * 3600));
        t.app.housekeeping().await.unwrap();
        let left = events(&t).await;
        assert_eq!(left.len(), 1, "the older one passed the 2 days");
    },
    |env: &mut Vec<(String, String)>| env
        .push(("GATEHOUSE_EVENT_RETENTION_DAYS".into(), "2".into()))
);
