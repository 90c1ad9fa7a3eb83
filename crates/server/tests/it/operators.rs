//! Operators' API keys with a life cycle (issue 18 #6), on both engines:
//! rotate, revoke, expiry, last use, disable/enable (key and console refused,
//! console sessions ended), the last enabled operator kept; through the
//! admin API (in `/openapi.json`) and the console's CSRF-protected forms.

use std::time::Duration;

use crate::support::*;
use gatehouse_domain::audit::Actor;
use reqwest::StatusCode;
use serde_json::{Value, json};

const OP_PW: &str = "operators use long passphrases too";

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn csrf_of(html: &str) -> String {
    let at = html
        .find("name=\"csrf\" value=\"")
        .expect("a console form with its token");
    html[at + 19..at + 19 + 64].to_owned()
}

async fn console_sign_in(t: &TestApp, c: &reqwest::Client, email: &str) -> StatusCode {
    c.post(t.url("/console/login"))
        .form(&[("email", email), ("password", OP_PW)])
        .send()
        .await
        .unwrap()
        .status()
}

async fn console_page(t: &TestApp, c: &reqwest::Client, path: &str) -> (StatusCode, String) {
    let r = c.get(t.url(path)).send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

/// `GET /admin/operators` as `key`, the operator named `email` from it.
async fn listed(t: &TestApp, key: &str, email: &str) -> Value {
    let r = t.get_auth("/api/v1/admin/operators", key).await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    body["operators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["email"] == email)
        .cloned()
        .unwrap_or_else(|| panic!("{email} not in {body}"))
}

async fn works(t: &TestApp, key: &str) -> bool {
    match t.get_auth("/api/v1/admin/operators", key).await.status() {
        StatusCode::OK => true,
        StatusCode::UNAUTHORIZED => false,
        s => panic!("unexpected {s}"),
    }
}

both_engines!(
    operator_keys_rotate_revoke_expire_and_record_use,
    |t: TestApp| async move {
        let (_, ann) = t.app.create_operator("ann@ops.example").await.unwrap();
        let (bob_op, bob) = t.app.create_operator("bob@ops.example").await.unwrap();
        let (ann, bob) = (ann.expose().to_owned(), bob.expose().to_owned());

        // The listing: both enabled, keys active, never used until now.
        let a = listed(&t, &ann, "ann@ops.example").await;
        assert_eq!(a["enabled"], true);
        assert_eq!(a["key_state"], "active");
        assert_eq!(a["key_expires_at"], Value::Null);
        let b = listed(&t, &ann, "bob@ops.example").await;
        assert_eq!(b["key_last_used_at"], Value::Null, "{b}");
        // Ann's own use was recorded (to the minute) before the listing was read.
        assert!(
            a["key_last_used_at"].as_str().unwrap().ends_with('Z'),
            "{a}"
        );

        // Last use is written at most once a minute: two uses in a row keep the first time.
        assert!(works(&t, &bob).await);
        let first = listed(&t, &ann, "bob@ops.example").await["key_last_used_at"].clone();
        assert!(first.is_string(), "{first}");
        t.clock.advance(Duration::from_secs(20));
        assert!(works(&t, &bob).await);
        assert_eq!(
            listed(&t, &ann, "bob@ops.example").await["key_last_used_at"],
            first
        );

        // Ann rotates Bob's key with an expiry: a new key once, the old one refused at once.
        let r = t
            .post_json_auth(
                &format!("/api/v1/admin/operators/{}/rotate-key", bob_op.id),
                &ann,
                &json!({ "expires_in_days": 1 }),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let rotated: Value = r.json().await.unwrap();
        let bob2 = rotated["key"].as_str().unwrap().to_owned();
        assert_ne!(bob2, bob);
        assert!(
            rotated["operator"]["key_expires_at"].is_string(),
            "{rotated}"
        );
        assert!(!works(&t, &bob).await, "the old key still works");
        assert!(works(&t, &bob2).await);
        // ...until it expires.
        t.clock.advance(Duration::from_secs(86_400 + 1));
        assert!(!works(&t, &bob2).await, "an expired key still works");
        assert_eq!(
            listed(&t, &ann, "bob@ops.example").await["key_state"],
            "expired"
        );
        // A lifetime out of bounds is refused.
        let r = t
            .post_json_auth(
                "/api/v1/admin/operators/bob@ops.example/rotate-key",
                &ann,
                &json!({ "expires_in_days": 0 }),
            )
            .await;
        assert_error(r, StatusCode::BAD_REQUEST, "invalid_input").await;

        // Rotation by e-mail, without a body: a key that never expires.
        let r = t
            .http
            .post(t.url("/api/v1/admin/operators/bob@ops.example/rotate-key"))
            .bearer_auth(&ann)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["operator"]["key_expires_at"], Value::Null, "{v}");
        let bob3 = v["key"].as_str().unwrap().to_owned();
        assert!(works(&t, &bob3).await);

        // Revocation: refused at once; asking again changes nothing.
        let r = t
            .post_json_auth(
                "/api/v1/admin/operators/bob@ops.example/revoke-key",
                &ann,
                &Value::Null,
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let v: Value = r.json().await.unwrap();
        assert_eq!(
            (v["changed"].clone(), v["operator"]["key_state"].clone()),
            (json!(true), json!("revoked"))
        );
        assert!(!works(&t, &bob3).await, "a revoked key still works");
        let r = t
            .post_json_auth(
                "/api/v1/admin/operators/bob@ops.example/revoke-key",
                &ann,
                &Value::Null,
            )
            .await;
        assert_eq!(r.json::<Value>().await.unwrap()["changed"], false);

        // Unknown operators: 404.
        let r = t
            .post_json_auth(
                "/api/v1/admin/operators/nobody@ops.example/revoke-key",
                &ann,
                &Value::Null,
            )
            .await;
        assert_error(r, StatusCode::NOT_FOUND, "not_found").await;

        // Every change is audited once.
        let actions = t.audit_actions().await;
        let count = |a: &str| actions.iter().filter(|x| *x == a).count();
        assert_eq!(count("operator.key_rotated"), 2, "{actions:?}");
        assert_eq!(count("operator.key_revoked"), 1, "{actions:?}");

        // The routes are in the API description.
        let spec = t.get_json("/openapi.json").await;
        for path in [
            "/api/v1/admin/operators",
            "/api/v1/admin/operators/{id}/rotate-key",
            "/api/v1/admin/operators/{id}/revoke-key",
            "/api/v1/admin/operators/{id}/disable",
            "/api/v1/admin/operators/{id}/enable",
        ] {
            assert!(
                spec["paths"][path].is_object(),
                "{path} missing from /openapi.json"
            );
        }
    }
);

both_engines!(
    a_disabled_operator_is_locked_out_but_never_the_last,
    |t: TestApp| async move {
        let (_, ann) = t.app.create_operator("ann@ops.example").await.unwrap();
        let (_, bob) = t.app.create_operator("bob@ops.example").await.unwrap();
        let (ann, bob) = (ann.expose().to_owned(), bob.expose().to_owned());
        t.app
            .set_operator_password("bob@ops.example", OP_PW)
            .await
            .unwrap();
        let c = browser();
        assert_eq!(
            console_sign_in(&t, &c, "bob@ops.example").await,
            StatusCode::SEE_OTHER
        );
        assert_eq!(console_page(&t, &c, "/console").await.0, StatusCode::OK);

        // Ann disables Bob: his key, his console session and his sign-in are refused.
        let r = t
            .post_json_auth(
                "/api/v1/admin/operators/bob@ops.example/disable",
                &ann,
                &Value::Null,
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["operator"]["enabled"], false, "{v}");
        assert!(
            !works(&t, &bob).await,
            "a disabled operator's key still works"
        );
        let (s, _) = console_page(&t, &c, "/console").await;
        assert_eq!(s, StatusCode::SEE_OTHER, "the console session did not end");
        assert_eq!(
            console_sign_in(&t, &c, "bob@ops.example").await,
            StatusCode::UNAUTHORIZED
        );
        // A disabled operator's key cannot be rotated back to life behind their back.
        let r = t
            .post_json_auth(
                "/api/v1/admin/operators/bob@ops.example/rotate-key",
                &ann,
                &json!({}),
            )
            .await;
        assert_error(r, StatusCode::CONFLICT, "conflict").await;

        // No operator locks themselves out: Ann can neither disable herself
        // nor revoke her own key (rotating it is how she replaces it).
        for (action, says) in [
            ("disable", "cannot disable yourself"),
            ("revoke-key", "cannot revoke your own key"),
        ] {
            let r = t
                .post_json_auth(
                    &format!("/api/v1/admin/operators/ann@ops.example/{action}"),
                    &ann,
                    &Value::Null,
                )
                .await;
            let e = assert_error(r, StatusCode::CONFLICT, "conflict").await;
            assert!(
                e["error"]["message"].as_str().unwrap().contains(says),
                "{action}: {e}"
            );
        }
        // Nor can anyone (here the CLI, acting as the system) disable the
        // last enabled operator.
        let e = t
            .app
            .set_operator_enabled("ann@ops.example", false, Actor::System, "cli")
            .await
            .unwrap_err();
        assert!(e.to_string().contains("last enabled operator"), "{e}");
        assert!(works(&t, &ann).await);

        // Enabled again, Bob's key and console sign-in work again.
        let r = t
            .post_json_auth(
                "/api/v1/admin/operators/bob@ops.example/enable",
                &ann,
                &Value::Null,
            )
            .await;
        assert_eq!(r.json::<Value>().await.unwrap()["changed"], true);
        assert!(works(&t, &bob).await);
        assert_eq!(
            console_sign_in(&t, &c, "bob@ops.example").await,
            StatusCode::SEE_OTHER
        );

        let actions = t.audit_actions().await;
        assert_eq!(
            actions
                .iter()
                .filter(|a| a.starts_with("operator.disabled") || a.starts_with("operator.enabled"))
                .count(),
            2,
            "{actions:?}"
        );
    }
);

both_engines!(
    the_console_lists_operators_and_acts_on_keys,
    |t: TestApp| async move {
        let (_, ann) = t.app.create_operator("ann@ops.example").await.unwrap();
        let (bob_op, bob) = t.app.create_operator("bob@ops.example").await.unwrap();
        let bob = bob.expose().to_owned();
        let _ = ann;
        t.app
            .set_operator_password("ann@ops.example", OP_PW)
            .await
            .unwrap();
        let c = browser();
        assert_eq!(
            console_sign_in(&t, &c, "ann@ops.example").await,
            StatusCode::SEE_OTHER
        );
        let (s, page) = console_page(&t, &c, "/console/operators").await;
        assert_eq!(s, StatusCode::OK);
        assert!(page.contains("bob@ops.example"), "{page}");
        assert!(
            page.contains(r#"<dt>Key</dt><dd data-state="active">Works</dd>"#),
            "{page}"
        );
        assert!(
            page.contains("ann@ops.example <small>(you)</small>"),
            "{page}"
        );
        let csrf = csrf_of(&page);
        let rotate = format!("/console/operators/{}/rotate-key", bob_op.id);

        // Without the anti-forgery token: refused, nothing changed.
        let r = c
            .post(t.url(&rotate))
            .form(&[("expires_in_days", "")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert!(works(&t, &bob).await);

        // Rotate: the new key is on the answer once, with its expiry; the old one is refused.
        let r = c
            .post(t.url(&rotate))
            .form(&[("csrf", csrf.as_str()), ("expires_in_days", "30")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["cache-control"], "no-store");
        let page = r.text().await.unwrap();
        let at = page.find("<code id=\"new-key\">").expect("the new key") + 19;
        let key = page[at..at + page[at..].find('<').unwrap()].to_owned();
        assert!(page.contains("It stops working on <time"), "{page}");
        assert!(!works(&t, &bob).await);
        assert!(works(&t, &key).await);
        // Shown once: the listing does not show it again.
        assert!(
            !console_page(&t, &c, "/console/operators")
                .await
                .1
                .contains(&key)
        );

        // Revoke, disable, enable: each a form with the token, each redirected with its notice.
        for (action, notice) in [
            ("revoke-key", "Key revoked"),
            ("disable", "Operator disabled"),
            ("enable", "Operator enabled again"),
        ] {
            let r = c
                .post(t.url(&format!("/console/operators/{}/{action}", bob_op.id)))
                .form(&[("csrf", csrf.as_str())])
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::SEE_OTHER, "{action}");
            let to = r.headers()["location"].to_str().unwrap().to_owned();
            let (_, page) = console_page(&t, &c, &to).await;
            assert!(page.contains(notice), "{action}: {page}");
        }
        assert!(!works(&t, &key).await, "revoked");
        let (_, page) = console_page(&t, &c, "/console/operators").await;
        assert!(page.contains(r#"data-state="revoked""#), "{page}");

        // Ann alone enabled? No: Bob is enabled again, so both may be disabled...
        assert!(
            page.contains("aria-label=\"Disable ann@ops.example\""),
            "{page}"
        );
        // ...but once Bob is disabled, Ann's row says she is the last.
        let r = c
            .post(t.url(&format!("/console/operators/{}/disable", bob_op.id)))
            .form(&[("csrf", csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let (_, page) = console_page(&t, &c, "/console/operators").await;
        assert!(
            page.contains("The last enabled operator: cannot be disabled."),
            "{page}"
        );
        let actions = t.audit_actions().await;
        assert!(
            actions.iter().any(|a| a == "operator.key_rotated"),
            "{actions:?}"
        );
    }
);
