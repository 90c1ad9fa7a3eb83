//! Grants belong to their Gatehouse session (logout, forced reset, undo);
//! consent, revocation and RP-initiated logout.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::LOCATION;
use serde_json::{Value, json};

use crate::oidc::*;
use crate::support::*;

on_both_engines!(
    grants_end_with_their_session,
    a_forced_reset_stops_grants_and_undo_restores_them,
    consent_logout_and_revocation,
    grant_reads_are_cached_per_replica_within_session_cache_seconds,
);

async fn grants_end_with_their_session(engine: Engine) {
    let Some(t) = TestApp::spawn(engine, &[]).await else {
        return;
    };
    let (b, secret, tokens) = signed_in_app(&t, "di@example.com").await;
    let at = tokens["access_token"].as_str().unwrap();
    let rt = tokens["refresh_token"].as_str().unwrap();
    assert_eq!(introspect(&t, at, "shop", &secret).await["active"], true);
    // Signing out of Gatehouse ends the app's grant at once.
    let r = b.post(t.url("/logout")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(introspect(&t, at, "shop", &secret).await["active"], false);
    assert_eq!(introspect(&t, rt, "shop", &secret).await["active"], false);
    assert_eq!(userinfo(&t, at).await.status(), StatusCode::UNAUTHORIZED);
    oauth_error(
        refresh(&t, rt, "shop", &secret).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
}

pub(crate) async fn campaign_reset(t: &TestApp, email: &str) -> (String, String) {
    let ann = t.app.create_operator("ann@ops.example").await.unwrap().1;
    let bob = t.app.create_operator("bob@ops.example").await.unwrap().1;
    let (ann, bob) = (ann.expose().to_owned(), bob.expose().to_owned());
    let post = |key: &str, path: &str, body: Value| {
        let (key, path) = (key.to_owned(), path.to_owned());
        async move {
            let r = t
                .post_json_auth(&format!("/api/v1/admin{path}"), &key, &body)
                .await;
            let status = r.status();
            let v: Value = r.json().await.unwrap_or(Value::Null);
            assert!(status.is_success(), "{path}: {status} {v}");
            v
        }
    };
    let c = post(&ann, "/campaigns", json!({"name": "leak", "reason": "a list of stolen passwords", "accounts": [email], "bake_secs": 0})).await;
    let id = c["id"].as_str().unwrap().to_owned();
    let preview = post(&ann, &format!("/campaigns/{id}/preview"), json!({})).await;
    post(
        &bob,
        &format!("/campaigns/{id}/approve"),
        json!({"snapshot": preview["snapshot"]}),
    )
    .await;
    post(&ann, &format!("/campaigns/{id}/start"), json!({})).await;
    assert_eq!(t.app.campaigns_pass().await.unwrap().applied, 1);
    (ann, id)
}

async fn a_forced_reset_stops_grants_and_undo_restores_them(engine: Engine) {
    let Some(t) = TestApp::spawn(engine, &[]).await else {
        return;
    };
    let (b, secret, tokens) = signed_in_app(&t, "ed@example.com").await;
    let at = tokens["access_token"].as_str().unwrap();
    let rt = tokens["refresh_token"].as_str().unwrap();
    let (ann, id) = campaign_reset(&t, "ed@example.com").await;
    // Suspended with the session, at once.
    assert_eq!(introspect(&t, at, "shop", &secret).await["active"], false);
    assert_eq!(introspect(&t, rt, "shop", &secret).await["active"], false);
    oauth_error(
        refresh(&t, rt, "shop", &secret).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    // No new token either: the session is suspended and the password refused.
    let p = pkce("r");
    let r = b
        .get(authorize_url(&t, "shop", &p, &[]))
        .send()
        .await
        .unwrap();
    assert!(location(&r).starts_with("/login?"), "sent to sign in again");
    let r = b
        .post(t.url("/login"))
        .form(&[
            ("email", "ed@example.com"),
            ("password", PW),
            ("return_to", &param(&location(&r), "return_to").unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(
        r.text().await.unwrap().contains("password recovery"),
        "pointed to recovery"
    );

    // The undo reinstates the session, and with it the grant.
    let r = t
        .post_json_auth(
            &format!("/api/v1/admin/campaigns/{id}/undo"),
            &ann,
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    for _ in 0..30 {
        t.app.campaigns_pass().await.unwrap();
        if t.app
            .campaign(id.parse().unwrap())
            .await
            .unwrap()
            .state
            .as_str()
            == "undone"
        {
            break;
        }
        t.clock.advance(Duration::from_secs(61));
    }
    assert_eq!(introspect(&t, rt, "shop", &secret).await["active"], true);
    assert_eq!(
        refresh(&t, rt, "shop", &secret).await.status(),
        StatusCode::OK
    );
}

/// An attribute value as the browser reads it (askama escapes these).
fn unescape(s: &str) -> String {
    [
        ("&lt;", "<"),
        ("&gt;", ">"),
        ("&quot;", "\""),
        ("&#34;", "\""),
        ("&#39;", "'"),
        ("&#x27;", "'"),
        ("&#x2f;", "/"),
        ("&#47;", "/"),
        ("&#x3d;", "="),
        ("&#61;", "="),
        ("&amp;", "&"),
    ]
    .iter()
    .fold(s.to_owned(), |acc, (from, to)| acc.replace(from, to))
}

async fn consent_logout_and_revocation(engine: Engine) {
    let Some(t) = TestApp::spawn(engine, &[]).await else {
        return;
    };
    t.sign_up("fa@example.com", PW).await;
    let secret = client(&t, "third", false, false).await.unwrap();
    let b = browser();
    let p = pkce("k");
    let r = authorize(
        &t,
        &b,
        &authorize_url(&t, "third", &p, &[]),
        "fa@example.com",
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK, "the consent page");
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    assert!(
        r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    let page = r.text().await.unwrap();
    assert!(page.contains("App third") && page.contains("see your e-mail address"));
    let token_field = page
        .split(r#"name="gh_form_token" value=""#)
        .nth(1)
        .unwrap();
    let form_token = token_field.split('"').next().unwrap().to_owned();
    let fields: Vec<(String, String)> = page
        .split(r#"<input type="hidden" name=""#)
        .skip(1)
        .map(|s| {
            let (name, rest) = s.split_once(r#"" value=""#).unwrap();
            (name.to_owned(), unescape(rest.split('"').next().unwrap()))
        })
        .filter(|(n, _)| n != "gh_form_token")
        .collect();
    // A forged form (wrong token) is refused.
    let mut forged = fields.clone();
    forged.push(("gh_form_token".into(), "0".repeat(64)));
    forged.push(("gh_decision".into(), "allow".into()));
    let r = b
        .post(t.url("/oauth2/authorize/consent"))
        .form(&forged)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // Deny, then allow.
    let mut deny = fields.clone();
    deny.push(("gh_form_token".into(), form_token.clone()));
    deny.push(("gh_decision".into(), "deny".into()));
    let r = b
        .post(t.url("/oauth2/authorize/consent"))
        .form(&deny)
        .send()
        .await
        .unwrap();
    assert_eq!(
        param(&location(&r), "error").as_deref(),
        Some("access_denied")
    );
    let mut allow = fields.clone();
    allow.push(("gh_form_token".into(), form_token));
    allow.push(("gh_decision".into(), "allow".into()));
    let r = b
        .post(t.url("/oauth2/authorize/consent"))
        .form(&allow)
        .send()
        .await
        .unwrap();
    let code = code_of(&t, &r);
    let tokens = exchange(&t, &code, &p, "third", &secret).await;
    // Consent is remembered.
    let p2 = pkce("k2");
    let r = b
        .get(authorize_url(&t, "third", &p2, &[]))
        .send()
        .await
        .unwrap();
    code_of(&t, &r);

    // Revocation: by another client, nothing happens; by the owner, the grant ends.
    let rt = tokens["refresh_token"].as_str().unwrap();
    let other = client(&t, "other", false, true).await.unwrap();
    let r = t
        .http
        .post(t.url("/oauth2/revoke"))
        .basic_auth("other", Some(&other))
        .form(&[("token", rt)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(introspect(&t, rt, "third", &secret).await["active"], true);
    let r = t
        .http
        .post(t.url("/oauth2/revoke"))
        .basic_auth("third", Some(&secret))
        .form(&[("token", rt)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(introspect(&t, rt, "third", &secret).await["active"], false);

    // RP-initiated logout: an unregistered destination is never followed.
    let idt = tokens["id_token"].as_str().unwrap();
    let q = serde_urlencoded::to_string([
        ("id_token_hint", idt),
        ("post_logout_redirect_uri", "https://evil.example/"),
        ("state", "s9"),
    ])
    .unwrap();
    let r = b
        .get(t.url(&format!("/oauth2/logout?{q}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.headers().get(LOCATION).is_none());
    // Without a hint naming this session, the person is asked first.
    let q =
        serde_urlencoded::to_string([("client_id", "third"), ("post_logout_redirect_uri", BYE)])
            .unwrap();
    let r = b
        .get(t.url(&format!("/oauth2/logout?{q}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("Sign out of"));
    // With the hint: signed out and sent back with state.
    let q = serde_urlencoded::to_string([
        ("id_token_hint", idt),
        ("post_logout_redirect_uri", BYE),
        ("state", "s9"),
    ])
    .unwrap();
    let r = b
        .get(t.url(&format!("/oauth2/logout?{q}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), format!("{BYE}?state=s9"));
    let r = b.get(t.url("/settings")).send().await.unwrap();
    assert_eq!(location(&r), "/login", "the Gatehouse session ended");
}

/// Userinfo and introspection reuse a replica's read of the grant for
/// `session_cache_seconds` (issue 16): a session end on this replica is seen
/// at once; on another replica over the same database, once its copy expires.
async fn grant_reads_are_cached_per_replica_within_session_cache_seconds(engine: Engine) {
    let Some(t) = TestApp::spawn(engine, &[("GATEHOUSE_SESSION_CACHE_SECONDS", "2")]).await else {
        return;
    };
    // A second replica of the same site: same database, issuer and server key.
    let key_file = t.app.config.secret_key_file.display().to_string();
    let other = t
        .restart_with(&[
            ("GATEHOUSE_PUBLIC_URL", &t.base),
            ("GATEHOUSE_SECRET_KEY_FILE", &key_file),
        ])
        .await;
    let (b, secret, tokens) = signed_in_app(&t, "cy@example.com").await;
    let at = tokens["access_token"].as_str().unwrap();
    // Both replicas read the grant and keep it.
    assert_eq!(introspect(&t, at, "shop", &secret).await["active"], true);
    assert_eq!(
        introspect(&other, at, "shop", &secret).await["active"],
        true
    );
    let cached_at = std::time::Instant::now();
    assert_eq!(userinfo(&t, at).await.status(), StatusCode::OK);
    let r = b.post(t.url("/logout")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    // Here: at once, though the grant was cached.
    assert_eq!(introspect(&t, at, "shop", &secret).await["active"], false);
    assert_eq!(userinfo(&t, at).await.status(), StatusCode::UNAUTHORIZED);
    // The other replica may answer from its copy until it expires (if this
    // machine was fast enough to ask within the cache's life), never after.
    let stale = introspect(&other, at, "shop", &secret).await["active"] == true;
    assert!(
        !stale || cached_at.elapsed() < Duration::from_secs(2),
        "a copy outlived session_cache_seconds"
    );
    tokio::time::sleep(
        Duration::from_secs(2).saturating_sub(cached_at.elapsed()) + Duration::from_millis(100),
    )
    .await;
    assert_eq!(
        introspect(&other, at, "shop", &secret).await["active"],
        false
    );

    // A forced reset on this replica: the next introspection is inactive at once.
    t.sign_up("dy@example.com", PW).await;
    let p = pkce("b");
    let r = authorize(
        &t,
        &browser(),
        &authorize_url(&t, "shop", &p, &[]),
        "dy@example.com",
    )
    .await;
    let tokens = exchange(&t, &code_of(&t, &r), &p, "shop", &secret).await;
    let at = tokens["access_token"].as_str().unwrap();
    assert_eq!(introspect(&t, at, "shop", &secret).await["active"], true);
    campaign_reset(&t, "dy@example.com").await;
    assert_eq!(introspect(&t, at, "shop", &secret).await["active"], false);
    assert_eq!(userinfo(&t, at).await.status(), StatusCode::UNAUTHORIZED);

    // A client whose secret was rotated here authenticates no more, at once.
    let fresh = t
        .app
        .oidc_rotate_client_secret("shop", gatehouse_domain::audit::Actor::System)
        .await
        .unwrap();
    let r = t
        .http
        .post(t.url("/oauth2/introspect"))
        .basic_auth("shop", Some(&secret))
        .form(&[("token", at)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        introspect(&t, at, "shop", fresh.expose()).await["active"],
        false
    );
}
