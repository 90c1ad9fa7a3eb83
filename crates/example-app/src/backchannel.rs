//! `POST /backchannel-logout` (OpenID Connect Back-Channel Logout 1.0): Gatehouse
//! tells the app, server to server, that a session ended; the app ends its own
//! sessions of that `sid` (or of that `sub` when the token names no session).
//!
//! The logout token is a JWT; its signature is checked by the `openidconnect`
//! crate's JWK code against the provider's published JWKS (never Gatehouse's
//! code), with the algorithm limited to those discovery advertises for ID tokens
//! (so `none` and HMAC are refused). Then the claims, as §2.6 asks: `typ` is
//! `logout+jwt`, `iss` is the issuer, `aud` holds this client, `iat` is present
//! and `exp` (when present) is ahead, `events` holds the back-channel logout
//! event, there is no `nonce` (an ID token cannot pass as a logout token), `sid`
//! or `sub` names whom, and a `jti` seen before is refused (replay).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Form;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::JsonWebKey as _;
use openidconnect::core::CoreJwsSigningAlgorithm;
use serde::Deserialize;

use crate::ExampleApp;

const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// Clock skew allowed between Gatehouse and the app.
const SKEW_SECS: i64 = 120;
/// A token older than this is refused even without `exp` (and its `jti` forgotten).
const MAX_AGE_SECS: i64 = 10 * 60;
const MAX_SEEN: usize = 100_000;

#[derive(Deserialize)]
pub(crate) struct LogoutForm {
    logout_token: String,
}

/// `jti`s of accepted tokens, until they could no longer be accepted anyway.
#[derive(Default)]
pub(crate) struct SeenTokens(Mutex<HashMap<String, i64>>);

impl SeenTokens {
    /// Records `jti` until `until`; false if it was already seen.
    pub(crate) fn first_time(&self, jti: &str, until: i64, now: i64) -> bool {
        let mut seen = self.0.lock().unwrap_or_else(|e| e.into_inner());
        seen.retain(|_, u| *u >= now);
        if seen.contains_key(jti) || seen.len() >= MAX_SEEN {
            // Full: refuse rather than forget a live jti (Gatehouse retries).
            return false;
        }
        seen.insert(jti.to_owned(), until);
        true
    }
}

/// A JWS header (the logout token's and the SET's).
#[derive(Debug, Deserialize)]
pub(crate) struct Header {
    alg: String,
    pub(crate) typ: Option<String>,
    kid: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Claims {
    iss: String,
    #[serde(deserialize_with = "one_or_many")]
    aud: Vec<String>,
    iat: i64,
    exp: Option<i64>,
    jti: Option<String>,
    events: Option<serde_json::Map<String, serde_json::Value>>,
    nonce: Option<serde_json::Value>,
    sub: Option<String>,
    sid: Option<String>,
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Aud {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Aud::deserialize(d)? {
        Aud::One(a) => vec![a],
        Aud::Many(v) => v,
    })
}

/// What the endpoint answers: 200 when sessions were ended (or none were on),
/// 400 with the OAuth error shape §2.8 asks for when the token is refused.
fn refuse(why: &str) -> Response {
    tracing::warn!(reason = why, "back-channel logout token refused");
    (
        StatusCode::BAD_REQUEST,
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(serde_json::json!({"error": "invalid_request", "error_description": why})),
    )
        .into_response()
}

fn decode<T: serde::de::DeserializeOwned>(part: &str) -> Option<T> {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?).ok()
}

pub(crate) async fn backchannel_logout(
    State(app): State<Arc<ExampleApp>>,
    Form(form): Form<LogoutForm>,
) -> Response {
    match validate(&app, &form.logout_token).await {
        Ok(claims) => {
            let ended = match (&claims.sid, &claims.sub) {
                (Some(sid), _) => app.sessions.end_by_sid(sid),
                (None, Some(sub)) => app.sessions.end_by_sub(sub),
                (None, None) => unreachable!("validate requires sid or sub"),
            };
            tracing::info!(
                sid = claims.sid.as_deref().unwrap_or("-"),
                sub = claims.sub.as_deref().unwrap_or("-"),
                ended,
                "back-channel logout"
            );
            (StatusCode::OK, [(header::CACHE_CONTROL, "no-store")]).into_response()
        }
        Err(why) => refuse(&why),
    }
}

async fn validate(app: &ExampleApp, token: &str) -> Result<Claims, String> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("the logout token is not a signed JWT (three parts)".into());
    };
    let header: Header = decode(h).ok_or("the token's header is not JSON")?;
    if header.typ.as_deref() != Some("logout+jwt") {
        return Err("the token's typ is not logout+jwt".into());
    }
    let signature = URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| "the signature is not base64url")?;
    let message = &token.as_bytes()[..h.len() + 1 + p.len()];
    verify_signature(app, &header, message, &signature).await?;

    let claims: Claims = decode(p).ok_or("the token's claims are not the expected JSON")?;
    let meta = app.provider.metadata(false).await.map_err(|f| f.message)?;
    if claims.iss != meta.issuer().as_str() {
        return Err("iss is not the issuer".into());
    }
    if !claims.aud.contains(&app.config.client_id) {
        return Err("aud does not name this app".into());
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs() as i64;
    if claims.iat > now + SKEW_SECS || claims.iat < now - MAX_AGE_SECS {
        return Err("iat is not recent".into());
    }
    if claims.exp.is_some_and(|exp| exp + SKEW_SECS < now) {
        return Err("the token has expired".into());
    }
    if !claims
        .events
        .as_ref()
        .and_then(|e| e.get(EVENT))
        .is_some_and(|v| v.is_object())
    {
        return Err("events does not hold the back-channel logout event".into());
    }
    if claims.nonce.is_some() {
        return Err("a logout token carries no nonce".into());
    }
    if claims.sid.is_none() && claims.sub.is_none() {
        return Err("the token names neither sid nor sub".into());
    }
    let jti = claims.jti.as_deref().ok_or("the token has no jti")?;
    let until = claims.exp.unwrap_or(claims.iat + MAX_AGE_SECS) + SKEW_SECS;
    if !app.seen_logout_tokens.first_time(jti, until, now) {
        return Err("this logout token was already used".into());
    }
    Ok(claims)
}

/// The signature, by the library's JWK code, against the advertised algorithms
/// and the key the header names (discovery read again once for an unknown kid:
/// a rotated key).
pub(crate) async fn verify_signature(
    app: &ExampleApp,
    header: &Header,
    message: &[u8],
    signature: &[u8],
) -> Result<(), String> {
    let alg: CoreJwsSigningAlgorithm =
        serde_json::from_value(serde_json::Value::String(header.alg.clone()))
            .map_err(|_| format!("unknown alg {}", header.alg))?;
    for fresh in [false, true] {
        let meta = app.provider.metadata(fresh).await.map_err(|f| f.message)?;
        if !meta.id_token_signing_alg_values_supported().contains(&alg) {
            return Err(format!(
                "alg {} is not one the issuer signs with",
                header.alg
            ));
        }
        let mut candidates = meta.jwks().keys().iter().filter(|k| {
            header.kid.is_none() || k.key_id().map(|id| id.as_str()) == header.kid.as_deref()
        });
        let mut last_error = None;
        for key in candidates.by_ref() {
            match key.verify_signature(&alg, message, signature) {
                Ok(()) => return Ok(()),
                Err(e) => last_error = Some(e),
            }
        }
        if let Some(e) = last_error {
            return Err(format!("the signature does not verify: {e}"));
        }
    }
    Err("no published key matches the token's kid".into())
}
