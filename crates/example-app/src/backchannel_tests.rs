//! The back-channel logout endpoint against a real issuer stand-in: an axum
//! server on a loopback port publishing discovery and a JWKS with a P-256 key
//! (made with `ring`), whose private half signs the tokens below. The app
//! discovers it over HTTP as it would Gatehouse.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use serde_json::json;

use crate::rp::AppIdToken;
use crate::{AppConfig, ExampleApp};

pub(crate) const CLIENT: &str = "example-app";
const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

pub(crate) struct Issuer {
    pub(crate) url: String,
    key: EcdsaKeyPair,
}

impl Issuer {
    pub(crate) async fn start() -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        let point = key.public_key().as_ref().to_vec();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let discovery = json!({
            "issuer": url,
            "authorization_endpoint": format!("{url}/oauth2/authorize"),
            "token_endpoint": format!("{url}/oauth2/token"),
            "jwks_uri": format!("{url}/oauth2/jwks"),
            "end_session_endpoint": format!("{url}/oauth2/logout"),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256"],
        });
        let jwks = json!({"keys": [{
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": "k1",
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
        }]});
        let router = axum::Router::new()
            .route(
                "/.well-known/openid-configuration",
                axum::routing::get(move || async move { axum::Json(discovery) }),
            )
            .route(
                "/oauth2/jwks",
                axum::routing::get(move || async move { axum::Json(jwks) }),
            );
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self { url, key }
    }

    pub(crate) fn sign(&self, header: serde_json::Value, claims: &serde_json::Value) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let sig = self
            .key
            .sign(&SystemRandom::new(), input.as_bytes())
            .unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
    }

    fn es256(&self, claims: &serde_json::Value) -> String {
        self.sign(
            json!({"alg": "ES256", "typ": "logout+jwt", "kid": "k1"}),
            claims,
        )
    }

    fn logout_claims(&self, sid: &str) -> serde_json::Value {
        let now = now();
        json!({
            "iss": self.url, "aud": CLIENT, "iat": now, "exp": now + 120,
            "jti": format!("jti-{sid}-{}", rand()), "sid": sid, "sub": "person-1",
            "events": {EVENT: {}},
        })
    }

    /// An ID token as the app keeps it (only its text matters to the sessions).
    pub(crate) fn id_token(&self, sid: &str) -> AppIdToken {
        let now = now();
        let t = self.sign(
            json!({"alg": "ES256", "kid": "k1"}),
            &json!({"iss": self.url, "aud": CLIENT, "sub": "person-1", "iat": now,
                    "exp": now + 600, "sid": sid}),
        );
        t.parse().unwrap()
    }
}

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn rand() -> u64 {
    let mut b = [0u8; 8];
    ring::rand::SecureRandom::fill(&SystemRandom::new(), &mut b).unwrap();
    u64::from_le_bytes(b)
}

async fn post(app_url: &str, token: &str) -> reqwest::StatusCode {
    answer(app_url, token).await.0
}

/// The status and, for a refusal, its `error_description`.
async fn answer(app_url: &str, token: &str) -> (reqwest::StatusCode, String) {
    let r = reqwest::Client::new()
        .post(format!("{app_url}/backchannel-logout"))
        .form(&[("logout_token", token)])
        .send()
        .await
        .unwrap();
    let status = r.status();
    let body: serde_json::Value =
        serde_json::from_slice(&r.bytes().await.unwrap()).unwrap_or_default();
    (
        status,
        body["error_description"].as_str().unwrap_or("").to_owned(),
    )
}

pub(crate) async fn serve_app(issuer: &Issuer) -> (Arc<ExampleApp>, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app =
        ExampleApp::new(AppConfig::new(&issuer.url, CLIENT, "secret", &url).unwrap()).unwrap();
    let router = crate::router(app.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (app, url)
}

#[tokio::test]
async fn a_valid_logout_token_ends_the_sessions_of_its_sid() {
    let issuer = Issuer::start().await;
    let (app, url) = serve_app(&issuer).await;
    let s = &app.sessions;
    let a1 = s.sign_in(
        "person-1".into(),
        None,
        Some("sid-a".into()),
        issuer.id_token("sid-a"),
    );
    let a2 = s.sign_in(
        "person-1".into(),
        None,
        Some("sid-a".into()),
        issuer.id_token("sid-a"),
    );
    let b = s.sign_in(
        "person-1".into(),
        None,
        Some("sid-b".into()),
        issuer.id_token("sid-b"),
    );

    let token = issuer.es256(&issuer.logout_claims("sid-a"));
    assert_eq!(post(&url, &token).await, 200);
    assert!(
        s.get(&a1).is_none() && s.get(&a2).is_none(),
        "sid-a's sessions ended"
    );
    assert!(
        s.get(&b).is_some(),
        "another Gatehouse session's app session stays"
    );
    // The same token again is a replay.
    assert_eq!(post(&url, &token).await, 400);

    // Without sid, the person's sessions end (sub).
    let mut claims = issuer.logout_claims("unused");
    claims.as_object_mut().unwrap().remove("sid");
    assert_eq!(post(&url, &issuer.es256(&claims)).await, 200);
    assert!(s.get(&b).is_none());
}

#[tokio::test]
async fn forged_or_misdirected_logout_tokens_are_refused() {
    let issuer = Issuer::start().await;
    let (app, url) = serve_app(&issuer).await;
    let kept = app.sessions.sign_in(
        "person-1".into(),
        None,
        Some("sid-a".into()),
        issuer.id_token("sid-a"),
    );
    let with = |k: &str, v: serde_json::Value| {
        let mut c = issuer.logout_claims("sid-a");
        c[k] = v;
        c
    };
    let without = |k: &str| {
        let mut c = issuer.logout_claims("sid-a");
        c.as_object_mut().unwrap().remove(k);
        c
    };
    let refused = [
        (
            "another audience",
            "aud",
            issuer.es256(&with("aud", json!("someone-else"))),
        ),
        (
            "another issuer",
            "iss",
            issuer.es256(&with("iss", json!("http://evil.example"))),
        ),
        (
            "a nonce (an ID token)",
            "nonce",
            issuer.es256(&with("nonce", json!("n"))),
        ),
        (
            "no event",
            "events",
            issuer.es256(&with("events", json!({}))),
        ),
        (
            "expired",
            "expired",
            issuer.es256(&with("exp", json!(now() - 3600))),
        ),
        ("no jti", "jti", issuer.es256(&without("jti"))),
        ("neither sid nor sub", "neither", {
            let mut c = without("sid");
            c.as_object_mut().unwrap().remove("sub");
            issuer.es256(&c)
        }),
        (
            "typ JWT",
            "typ",
            issuer.sign(
                json!({"alg": "ES256", "typ": "JWT", "kid": "k1"}),
                &issuer.logout_claims("sid-a"),
            ),
        ),
        (
            "an unknown kid",
            "kid",
            issuer.sign(
                json!({"alg": "ES256", "typ": "logout+jwt", "kid": "k9"}),
                &issuer.logout_claims("sid-a"),
            ),
        ),
        ("alg none", "alg", {
            let t = issuer.es256(&issuer.logout_claims("sid-a"));
            let mut parts: Vec<&str> = t.split('.').collect();
            let none =
                URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": "logout+jwt"}).to_string());
            parts[0] = &none;
            format!("{}.{}.", parts[0], parts[1])
        }),
        ("HS256 under the public key", "alg", {
            let h = URL_SAFE_NO_PAD
                .encode(json!({"alg": "HS256", "typ": "logout+jwt", "kid": "k1"}).to_string());
            let p = URL_SAFE_NO_PAD.encode(issuer.logout_claims("sid-a").to_string());
            format!("{h}.{p}.{}", URL_SAFE_NO_PAD.encode([7u8; 32]))
        }),
        ("a changed payload", "signature", {
            let t = issuer.es256(&issuer.logout_claims("sid-a"));
            let parts: Vec<&str> = t.split('.').collect();
            let other = URL_SAFE_NO_PAD.encode(with("sid", json!("sid-b")).to_string());
            format!("{}.{other}.{}", parts[0], parts[2])
        }),
    ];
    for (what, reason, token) in refused {
        let (status, said) = answer(&url, &token).await;
        assert_eq!(status, 400, "{what} must be refused");
        assert!(
            said.contains(reason),
            "{what}: refused for {said:?}, not for {reason}"
        );
    }
    assert!(
        app.sessions.get(&kept).is_some(),
        "no refused token ended a session"
    );
}
