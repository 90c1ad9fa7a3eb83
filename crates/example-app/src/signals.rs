//! `POST /ssf/events`: the app as a Shared Signals receiver (RFC 8935 push
//! delivery of Security Event Tokens, RFC 8417). Gatehouse pushes a SET for
//! each event the app's stream asked for; the app acts on those that concern
//! its sessions:
//!
//! - CAEP `session-revoked` (subject: the person and Gatehouse's session):
//!   the app's sessions of that `sid` end;
//! - RISC `sessions-revoked` and `account-credential-change-required` (a
//!   forced reset; subject: the person): every app session of that `sub` ends;
//! - CAEP `credential-change` and the SSF verification event: accepted, and
//!   nothing to end.
//!
//! The SET is checked as the logout token is (the signature by the
//! `openidconnect` crate's JWK code against the published keys): `typ`
//! `secevent+jwt`, `iss`, `aud`, a recent `iat`, exactly one event, a `jti`
//! not seen before (a retry of one already acted on is answered 202 again,
//! since Gatehouse repeats the `jti` on a retry). A refused SET gets 400 with
//! RFC 8935 §2.4's error shape.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use crate::ExampleApp;
use crate::backchannel::{Header, verify_signature};

const SESSION_REVOKED: &str = "https://schemas.openid.net/secevent/caep/event-type/session-revoked";
const SESSIONS_REVOKED: &str =
    "https://schemas.openid.net/secevent/risc/event-type/sessions-revoked";
const CHANGE_REQUIRED: &str =
    "https://schemas.openid.net/secevent/risc/event-type/account-credential-change-required";
/// Clock skew allowed between Gatehouse and the app.
const SKEW_SECS: i64 = 120;
/// A SET older than this is refused (and its `jti` forgotten). Longer than
/// the logout token's: a SET may wait in Gatehouse's outbox while the app is
/// down, and is signed again on each attempt, so `iat` is the attempt's.
const MAX_AGE_SECS: i64 = 10 * 60;

#[derive(Debug, Deserialize)]
struct Claims {
    iss: String,
    aud: serde_json::Value,
    iat: i64,
    jti: String,
    events: serde_json::Map<String, serde_json::Value>,
    sub_id: serde_json::Value,
}

fn refuse(err: &str, why: &str) -> Response {
    tracing::warn!(reason = why, "security event token refused");
    (
        StatusCode::BAD_REQUEST,
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(serde_json::json!({"err": err, "description": why})),
    )
        .into_response()
}

pub(crate) async fn receive(
    State(app): State<Arc<ExampleApp>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !ct.eq_ignore_ascii_case("application/secevent+jwt") {
        return refuse(
            "invalid_request",
            "the body must be application/secevent+jwt",
        );
    }
    let claims = match validate(&app, body.trim()).await {
        Ok(c) => c,
        Err((err, why)) => return refuse(err, &why),
    };
    let now = now();
    if !app
        .seen_sets
        .first_time(&claims.jti, claims.iat + MAX_AGE_SECS + SKEW_SECS, now)
    {
        // Gatehouse sends the same jti again when our 202 was lost: done already.
        return StatusCode::ACCEPTED.into_response();
    }
    let (event, _) = claims.events.iter().next().expect("one event, checked");
    let sub = claims.sub_id["sub"]
        .as_str()
        .or(claims.sub_id["user"]["sub"].as_str());
    let ended = match event.as_str() {
        SESSION_REVOKED => claims.sub_id["session"]["id"]
            .as_str()
            .map_or(0, |sid| app.sessions.end_by_sid(sid)),
        SESSIONS_REVOKED | CHANGE_REQUIRED => sub.map_or(0, |s| app.sessions.end_by_sub(s)),
        _ => 0,
    };
    tracing::info!(event, sub = sub.unwrap_or("-"), ended, "security event");
    StatusCode::ACCEPTED.into_response()
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs() as i64
}

async fn validate(app: &ExampleApp, token: &str) -> Result<Claims, (&'static str, String)> {
    let bad = |why: &str| ("invalid_request", why.to_owned());
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("the SET is not a signed JWT (three parts)"));
    };
    let header: Header = decode(h).ok_or_else(|| bad("the SET's header is not JSON"))?;
    if header.typ.as_deref() != Some("secevent+jwt") {
        return Err(bad("the SET's typ is not secevent+jwt"));
    }
    let signature = URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| bad("the signature is not base64url"))?;
    let message = &token.as_bytes()[..h.len() + 1 + p.len()];
    verify_signature(app, &header, message, &signature)
        .await
        .map_err(|why| ("invalid_key", why))?;
    let claims: Claims =
        decode(p).ok_or_else(|| bad("the SET's claims are not the expected JSON"))?;
    let meta = app
        .provider
        .metadata(false)
        .await
        .map_err(|f| bad(&f.message))?;
    if claims.iss != meta.issuer().as_str() {
        return Err(("invalid_issuer", "iss is not the issuer".into()));
    }
    let aud_ok = match &claims.aud {
        serde_json::Value::String(a) => *a == app.config.client_id,
        serde_json::Value::Array(v) => v.iter().any(|a| *a == *app.config.client_id),
        _ => false,
    };
    if !aud_ok {
        return Err(("invalid_audience", "aud does not name this app".into()));
    }
    let now = now();
    if claims.iat > now + SKEW_SECS || claims.iat < now - MAX_AGE_SECS {
        return Err(bad("iat is not recent"));
    }
    if claims.events.len() != 1 {
        return Err(bad("a SET carries exactly one event"));
    }
    Ok(claims)
}

fn decode<T: serde::de::DeserializeOwned>(part: &str) -> Option<T> {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?).ok()
}
