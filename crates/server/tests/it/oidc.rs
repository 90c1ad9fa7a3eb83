//! The OpenID Connect provider over plain HTTP against the real server, on
//! both engines: code + PKCE, token responses, userinfo, introspection,
//! revocation, refresh rotation and reuse, code replay, the redirect variants,
//! consent, RP-initiated logout, and grants that end with their Gatehouse
//! session (logout, forced reset) and come back with an undo.
//! `oidc_rp.rs` drives the same server with an independent RP library.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use gatehouse_domain::audit::Actor;
use gatehouse_server::app::oidc::ClientSpec;
use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, LOCATION};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::support::*;

pub(crate) const PW: &str = "correct horse battery staple";
pub(crate) const CB: &str = "https://app.example/auth/callback";
pub(crate) const BYE: &str = "https://app.example/signed-out";

/// Registers a client; returns its secret (confidential clients).
pub(crate) async fn client(
    t: &TestApp,
    id: &str,
    public: bool,
    first_party: bool,
) -> Option<String> {
    let spec = ClientSpec {
        name: format!("App {id}"),
        redirect_uris: vec![CB.into()],
        post_logout_redirect_uris: vec![BYE.into()],
        first_party,
    };
    let created = t
        .app
        .oidc_create_client(id, &spec, public, Actor::System)
        .await
        .unwrap();
    created.secret.map(|s| s.expose().to_owned())
}

pub(crate) struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

pub(crate) fn pkce(seed: &str) -> Pkce {
    let verifier = format!("{seed}-{}", "v".repeat(50));
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    Pkce {
        verifier,
        challenge,
    }
}

fn query_of(location: &str) -> Vec<(String, String)> {
    let q = location.split_once('?').map(|(_, q)| q).unwrap_or("");
    serde_urlencoded::from_str(q).unwrap()
}

fn param(location: &str, name: &str) -> Option<String> {
    query_of(location)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get(LOCATION)
        .unwrap_or_else(|| panic!("no Location in a {} answer", r.status()))
        .to_str()
        .unwrap()
        .to_owned()
}

pub(crate) fn authorize_url(
    t: &TestApp,
    client_id: &str,
    pkce: &Pkce,
    extra: &[(&str, &str)],
) -> String {
    let mut p = vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", CB),
        ("scope", "openid email offline_access"),
        ("state", "st-1"),
        ("nonce", "no-1"),
        ("code_challenge", &pkce.challenge),
        ("code_challenge_method", "S256"),
    ];
    for (k, v) in extra {
        p.retain(|(pk, _)| pk != k);
        if !v.is_empty() {
            p.push((k, v));
        }
    }
    t.url(&format!(
        "/oauth2/authorize?{}",
        serde_urlencoded::to_string(&p).unwrap()
    ))
}

/// A browser-like client (own cookie jar, no redirects followed).
pub(crate) fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Follows an authorization request through `/login` (signing in if asked)
/// to the answer for the client: the final redirect's URL (or the consent page).
pub(crate) async fn authorize(
    t: &TestApp,
    b: &reqwest::Client,
    url: &str,
    email: &str,
) -> reqwest::Response {
    let r = b.get(url).send().await.unwrap();
    if r.status() != StatusCode::SEE_OTHER || !location(&r).starts_with("/login?") {
        return r;
    }
    let return_to = param(&location(&r), "return_to").unwrap();
    assert!(return_to.starts_with("/oauth2/authorize?"));
    let login = b.get(t.url(&location(&r))).send().await.unwrap();
    // Browsers check form-action against the redirects after the form: the
    // app's origin is allowed, nothing else.
    let csp = login.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("form-action 'self' https://app.example;"),
        "{csp}"
    );
    let page = login.text().await.unwrap();
    assert!(
        page.contains(r#"name="return_to""#),
        "the login form carries the return-to"
    );
    let r = b
        .post(t.url("/login"))
        .form(&[
            ("email", email),
            ("password", PW),
            ("return_to", &return_to),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), return_to);
    b.get(t.url(&return_to)).send().await.unwrap()
}

/// The code from a successful authorization answer, after checking `state` and `iss`.
pub(crate) fn code_of(t: &TestApp, r: &reqwest::Response) -> String {
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "authorization answer");
    let loc = location(r);
    assert!(loc.starts_with(CB), "{loc}");
    assert_eq!(param(&loc, "state").as_deref(), Some("st-1"));
    assert_eq!(
        param(&loc, "iss").as_deref(),
        Some(t.app.oidc_issuer().as_str())
    );
    param(&loc, "code").unwrap_or_else(|| panic!("no code in {loc}"))
}

async fn token(
    t: &TestApp,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> reqwest::Response {
    let mut req = t.http.post(t.url("/oauth2/token")).form(form);
    if let Some((id, secret)) = basic {
        req = req.header(
            "authorization",
            format!("Basic {}", STANDARD.encode(format!("{id}:{secret}"))),
        );
    }
    req.send().await.unwrap()
}

async fn oauth_error(r: reqwest::Response, status: StatusCode, code: &str) {
    assert_eq!(r.status(), status);
    assert_eq!(r.headers()[CACHE_CONTROL], "no-store");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], code, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty())
    );
}

async fn exchange(t: &TestApp, code: &str, pkce: &Pkce, id: &str, secret: &str) -> Value {
    let r = token(
        t,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", CB),
            ("code_verifier", &pkce.verifier),
        ],
        Some((id, secret)),
    )
    .await;
    assert_eq!(r.headers()[CACHE_CONTROL], "no-store");
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn refresh(t: &TestApp, rt: &str, id: &str, secret: &str) -> reqwest::Response {
    // client_secret_post this time.
    token(
        t,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt),
            ("client_id", id),
            ("client_secret", secret),
        ],
        None,
    )
    .await
}

async fn introspect(t: &TestApp, tok: &str, id: &str, secret: &str) -> Value {
    let r = t
        .http
        .post(t.url("/oauth2/introspect"))
        .basic_auth(id, Some(secret))
        .form(&[("token", tok)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

async fn userinfo(t: &TestApp, at: &str) -> reqwest::Response {
    t.http
        .get(t.url("/oauth2/userinfo"))
        .bearer_auth(at)
        .send()
        .await
        .unwrap()
}

/// A person signed in to the app `shop` (first party): the browser and the token response.
async fn signed_in_app(t: &TestApp, email: &str) -> (reqwest::Client, String, Value) {
    t.sign_up(email, PW).await;
    let secret = client(t, "shop", false, true).await.unwrap();
    let b = browser();
    let p = pkce("a");
    let r = authorize(t, &b, &authorize_url(t, "shop", &p, &[]), email).await;
    let code = code_of(t, &r);
    let tokens = exchange(t, &code, &p, "shop", &secret).await;
    (b, secret, tokens)
}

on_both_engines!(
    code_flow_userinfo_introspection_and_replay,
    refresh_rotates_and_reuse_revokes_the_family,
    redirects_pkce_and_clients_are_exact,
    grants_end_with_their_session,
    a_forced_reset_stops_grants_and_undo_restores_them,
    consent_logout_and_revocation,
);

async fn code_flow_userinfo_introspection_and_replay(engine: Engine) {
    let Some(t) = TestApp::spawn(engine, &[]).await else {
        return;
    };
    let d = t.get_json("/.well-known/openid-configuration").await;
    assert_eq!(d["issuer"], t.app.oidc_issuer());
    assert_eq!(d["id_token_signing_alg_values_supported"], json!(["ES256"]));
    assert_eq!(d["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(d["authorization_response_iss_parameter_supported"], true);
    let jwks = t.get_json("/oauth2/jwks").await;
    assert_eq!(jwks["keys"][0]["alg"], "ES256");
    assert!(
        jwks["keys"][0].get("d").is_none(),
        "no private part is published"
    );

    let (_b, secret, tokens) = signed_in_app(&t, "ada@example.com").await;
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 600);
    assert_eq!(tokens["scope"], "openid email offline_access");
    let at = tokens["access_token"].as_str().unwrap();
    let rt = tokens["refresh_token"].as_str().unwrap();
    // The ID token carries what the request asked for (an RP validates its
    // signature in oidc_rp.rs; here the claims).
    let claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(
                tokens["id_token"]
                    .as_str()
                    .unwrap()
                    .split('.')
                    .nth(1)
                    .unwrap(),
            )
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["nonce"], "no-1");
    assert_eq!(claims["aud"], "shop");
    assert_eq!(claims["email"], "ada@example.com");
    assert!(claims["sid"].is_string() && claims["auth_time"].is_i64());

    let r = userinfo(&t, at).await;
    assert_eq!(r.headers()[CACHE_CONTROL], "no-store");
    let info: Value = r.json().await.unwrap();
    assert_eq!(info["email"], "ada@example.com");
    assert_eq!(info["sub"], claims["sub"]);

    // Forgeries: `alg: none`, HS256 keyed with the public key, a changed
    // payload under the real signature — all refused before any claim is read.
    let parts: Vec<&str> = at.split('.').collect();
    let kid = jwks["keys"][0]["kid"].as_str().unwrap();
    let header = |alg: &str| {
        URL_SAFE_NO_PAD.encode(json!({"alg": alg, "typ": "at+jwt", "kid": kid}).to_string())
    };
    let none = format!("{}.{}.", header("none"), parts[1]);
    let hs_input = format!("{}.{}", header("HS256"), parts[1]);
    let mut mac = <hmac::Hmac<Sha256> as hmac::KeyInit>::new_from_slice(
        jwks["keys"][0].to_string().as_bytes(),
    )
    .unwrap();
    hmac::Mac::update(&mut mac, hs_input.as_bytes());
    let hs = format!(
        "{hs_input}.{}",
        URL_SAFE_NO_PAD.encode(hmac::Mac::finalize(mac).into_bytes())
    );
    let mut payload: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    payload["scope"] = json!("openid email profile offline_access");
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(payload.to_string()),
        parts[2]
    );
    for forged in [&none, &hs, &tampered] {
        assert_eq!(
            userinfo(&t, forged).await.status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            introspect(&t, forged, "shop", &secret).await["active"],
            false
        );
    }
    // The API description lists the JSON endpoints.
    let spec = t.get_json("/openapi.json").await;
    for path in [
        "/oauth2/token",
        "/oauth2/introspect",
        "/oauth2/revoke",
        "/oauth2/userinfo",
        "/.well-known/openid-configuration",
    ] {
        assert!(
            spec["paths"][path].is_object(),
            "{path} missing from /openapi.json"
        );
    }

    let i = introspect(&t, at, "shop", &secret).await;
    assert_eq!(i["active"], true);
    assert_eq!(i["sid"], claims["sid"]);
    assert_eq!(introspect(&t, rt, "shop", &secret).await["active"], true);
    // A client that cannot authenticate learns nothing.
    let r = t
        .http
        .post(t.url("/oauth2/introspect"))
        .basic_auth("shop", Some("ghk_wrong"))
        .form(&[("token", at)])
        .send()
        .await
        .unwrap();
    oauth_error(r, StatusCode::UNAUTHORIZED, "invalid_client").await;

    // The code again: refused, and what it issued is revoked.
    let b2 = browser();
    let p = pkce("b");
    let r = authorize(
        &t,
        &b2,
        &authorize_url(&t, "shop", &p, &[]),
        "ada@example.com",
    )
    .await;
    let code = code_of(&t, &r);
    let second = exchange(&t, &code, &p, "shop", &secret).await;
    let replay = token(
        &t,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CB),
            ("code_verifier", &p.verifier),
        ],
        Some(("shop", &secret)),
    )
    .await;
    oauth_error(replay, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let at2 = second["access_token"].as_str().unwrap();
    assert_eq!(introspect(&t, at2, "shop", &secret).await["active"], false);
    assert_eq!(userinfo(&t, at2).await.status(), StatusCode::UNAUTHORIZED);
    let r = refresh(
        &t,
        second["refresh_token"].as_str().unwrap(),
        "shop",
        &secret,
    )
    .await;
    oauth_error(r, StatusCode::BAD_REQUEST, "invalid_grant").await;
    // The first grant is untouched.
    assert_eq!(introspect(&t, at, "shop", &secret).await["active"], true);

    // A code lives at most a minute.
    let p = pkce("c");
    let r = authorize(
        &t,
        &b2,
        &authorize_url(&t, "shop", &p, &[]),
        "ada@example.com",
    )
    .await;
    let code = code_of(&t, &r);
    t.clock.advance(Duration::from_secs(61));
    let late = token(
        &t,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CB),
            ("code_verifier", &p.verifier),
        ],
        Some(("shop", &secret)),
    )
    .await;
    oauth_error(late, StatusCode::BAD_REQUEST, "invalid_grant").await;
}

async fn refresh_rotates_and_reuse_revokes_the_family(engine: Engine) {
    let Some(t) = TestApp::spawn(engine, &[]).await else {
        return;
    };
    let (_b, secret, tokens) = signed_in_app(&t, "bo@example.com").await;
    let rt0 = tokens["refresh_token"].as_str().unwrap();
    let r = refresh(&t, rt0, "shop", &secret).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()[CACHE_CONTROL], "no-store");
    let next: Value = r.json().await.unwrap();
    let rt1 = next["refresh_token"].as_str().unwrap();
    assert_ne!(rt0, rt1, "rotated");
    assert_eq!(introspect(&t, rt0, "shop", &secret).await["active"], false);
    assert_eq!(introspect(&t, rt1, "shop", &secret).await["active"], true);
    // Narrowing is allowed, widening is not.
    let r = token(
        &t,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt1),
            ("scope", "openid profile"),
        ],
        Some(("shop", &secret)),
    )
    .await;
    oauth_error(r, StatusCode::BAD_REQUEST, "invalid_scope").await;

    // Another client cannot use it (and does not revoke it by trying).
    let other = client(&t, "other", false, true).await.unwrap();
    let r = refresh(&t, rt1, "other", &other).await;
    oauth_error(r, StatusCode::BAD_REQUEST, "invalid_grant").await;
    assert_eq!(introspect(&t, rt1, "shop", &secret).await["active"], true);

    // The old one again: the whole family is revoked, the newest token too.
    let r = refresh(&t, rt0, "shop", &secret).await;
    oauth_error(r, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let r = refresh(&t, rt1, "shop", &secret).await;
    oauth_error(r, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let at1 = next["access_token"].as_str().unwrap();
    assert_eq!(introspect(&t, at1, "shop", &secret).await["active"], false);
}

async fn redirects_pkce_and_clients_are_exact(engine: Engine) {
    let Some(t) = TestApp::spawn(engine, &[]).await else {
        return;
    };
    t.sign_up("cy@example.com", PW).await;
    let secret = client(&t, "shop", false, true).await.unwrap();
    let other = client(&t, "other", false, true).await.unwrap();
    let b = browser();
    let p = pkce("a");

    // Unknown client: a page, never a redirect.
    let r = b
        .get(authorize_url(&t, "nobody", &p, &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.headers().get(LOCATION).is_none());

    // Every variant of the registered redirect URI: a page, never a redirect.
    let variants = [
        "https://app.example:444/auth/callback",
        "https://app.example/auth/callback/evil",
        "https://app.example/auth/callbackx",
        "https://app.example/auth/callback?next=https://evil.example/",
        "https://app.example/auth/callback#x",
        "https://evil.example@app.example/auth/callback",
        "https://user:pw@app.example/auth/callback",
        "https://APP.example/auth/callback",
        "https://app.example/AUTH/callback",
        "https://app.example/auth%2Fcallback",
        "https://app.example/auth/callback%2F..%2Fevil",
        "http://app.example/auth/callback",
        "https://evil.example/auth/callback",
        "",
    ];
    for v in variants {
        let r = b
            .get(authorize_url(&t, "shop", &p, &[("redirect_uri", v)]))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{v}");
        assert!(r.headers().get(LOCATION).is_none(), "{v} redirected");
    }

    // Without PKCE, or with plain: refused back to the client.
    for extra in [
        vec![("code_challenge", ""), ("code_challenge_method", "")],
        vec![("code_challenge_method", "plain")],
    ] {
        let r = b
            .get(authorize_url(&t, "shop", &p, &extra))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let loc = location(&r);
        assert!(loc.starts_with(CB));
        assert_eq!(param(&loc, "error").as_deref(), Some("invalid_request"));
        assert_eq!(param(&loc, "state").as_deref(), Some("st-1"));
    }
    // Unknown scope, implicit flow: refused.
    let r = b
        .get(authorize_url(&t, "shop", &p, &[("scope", "openid admin")]))
        .send()
        .await
        .unwrap();
    assert_eq!(
        param(&location(&r), "error").as_deref(),
        Some("invalid_scope")
    );
    let r = b
        .get(authorize_url(&t, "shop", &p, &[("response_type", "token")]))
        .send()
        .await
        .unwrap();
    assert_eq!(
        param(&location(&r), "error").as_deref(),
        Some("unsupported_response_type")
    );
    // prompt=none with nobody signed in.
    let r = b
        .get(authorize_url(&t, "shop", &p, &[("prompt", "none")]))
        .send()
        .await
        .unwrap();
    assert_eq!(
        param(&location(&r), "error").as_deref(),
        Some("login_required")
    );
    // /login follows only a local authorization request.
    for bad in [
        "https://evil.example/",
        "//evil.example/oauth2/authorize?x",
        "/settings",
    ] {
        let r = b
            .post(t.url("/login"))
            .form(&[
                ("email", "cy@example.com"),
                ("password", PW),
                ("return_to", bad),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(location(&r), "/settings", "{bad}");
    }

    // Codes are bound to their client, redirect and verifier.
    let r = authorize(
        &t,
        &b,
        &authorize_url(&t, "shop", &p, &[]),
        "cy@example.com",
    )
    .await;
    let code = code_of(&t, &r);
    for (form, basic) in [
        (
            vec![
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", CB),
                ("code_verifier", p.verifier.as_str()),
            ],
            ("other", other.as_str()),
        ),
        (
            vec![
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", "https://app.example/other"),
                ("code_verifier", p.verifier.as_str()),
            ],
            ("shop", secret.as_str()),
        ),
        (
            vec![
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", CB),
                ("code_verifier", pkce("z").verifier.as_str()),
            ],
            ("shop", secret.as_str()),
        ),
        (
            vec![
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", CB),
            ],
            ("shop", secret.as_str()),
        ),
    ] {
        let r = token(&t, &form, Some(basic)).await;
        oauth_error(r, StatusCode::BAD_REQUEST, "invalid_grant").await;
    }
    // A wrong secret, or none, for a confidential client.
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CB),
        ("code_verifier", p.verifier.as_str()),
    ];
    oauth_error(
        token(&t, &form, Some(("shop", "ghk_nope"))).await,
        StatusCode::UNAUTHORIZED,
        "invalid_client",
    )
    .await;
    let mut no_secret = form.to_vec();
    no_secret.push(("client_id", "shop"));
    oauth_error(
        token(&t, &no_secret, None).await,
        StatusCode::UNAUTHORIZED,
        "invalid_client",
    )
    .await;
    // After all that, the right request still works (the failures did not use it).
    exchange(&t, &code, &p, "shop", &secret).await;

    // A public client: PKCE and its id, no secret.
    client(&t, "spa", true, true).await;
    let p2 = pkce("spa");
    let r = b
        .get(authorize_url(&t, "spa", &p2, &[]))
        .send()
        .await
        .unwrap();
    let code = code_of(&t, &r);
    let r = token(
        &t,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CB),
            ("code_verifier", &p2.verifier),
            ("client_id", "spa"),
        ],
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
}

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

async fn campaign_reset(t: &TestApp, email: &str) -> (String, String) {
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
