//! The OpenID Connect provider over plain HTTP against the real server, on
//! both engines: code + PKCE, token responses, userinfo, introspection,
//! revocation, refresh rotation and reuse, code replay, the redirect variants,
//! consent, RP-initiated logout, and grants that end with their Gatehouse
//! session (logout, forced reset) and come back with an undo.
//! This file: the helpers, the code flow and refresh; `oidc_exact.rs`: exact
//! redirect URIs, PKCE, client binding, prompt/max_age; `oidc_session.rs`:
//! grants and their session (logout, forced reset, undo), consent, revocation,
//! RP-initiated logout. `oidc_rp.rs` drives the same server with an
//! independent RP library.

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
        ..ClientSpec::default()
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

pub(crate) fn query_of(location: &str) -> Vec<(String, String)> {
    let q = location.split_once('?').map(|(_, q)| q).unwrap_or("");
    serde_urlencoded::from_str(q).unwrap()
}

pub(crate) fn param(location: &str, name: &str) -> Option<String> {
    query_of(location)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

pub(crate) fn location(r: &reqwest::Response) -> String {
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

pub(crate) async fn token(
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

pub(crate) async fn oauth_error(r: reqwest::Response, status: StatusCode, code: &str) {
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

pub(crate) async fn exchange(
    t: &TestApp,
    code: &str,
    pkce: &Pkce,
    id: &str,
    secret: &str,
) -> Value {
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

pub(crate) async fn refresh(t: &TestApp, rt: &str, id: &str, secret: &str) -> reqwest::Response {
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

pub(crate) async fn introspect(t: &TestApp, tok: &str, id: &str, secret: &str) -> Value {
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

pub(crate) async fn userinfo(t: &TestApp, at: &str) -> reqwest::Response {
    t.http
        .get(t.url("/oauth2/userinfo"))
        .bearer_auth(at)
        .send()
        .await
        .unwrap()
}

/// A person signed in to the app `shop` (first party): the browser and the token response.
pub(crate) async fn signed_in_app(t: &TestApp, email: &str) -> (reqwest::Client, String, Value) {
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
);

async fn code_flow_userinfo_introspection_and_replay(engine: Engine) {
    let Some(t) = TestApp::spawn(engine, &[]).await else {
        return;
    };
    let d = t.get_json("/.well-known/openid-configuration").await;
    assert_eq!(d["issuer"], t.app.oidc_issuer());
    assert_eq!(
        d["id_token_signing_alg_values_supported"],
        json!(["ES256", "RS256"])
    );
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
