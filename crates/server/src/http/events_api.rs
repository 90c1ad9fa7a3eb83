//! `POST /api/v1/events/login`: apps that keep their own login send their login
//! events, for Gatehouse's compromise checks (operator key).

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::{App, Client, IngestReport};
use crate::http::error::{ApiError, ApiJson, ErrorBody};
use crate::http::extract::OperatorAuth;

/// Largest body this route reads: 1,000 events with long user agents fit
/// (the server-wide `max_body_bytes` is sized for forms, not batches).
const MAX_BODY: usize = 2 * 1024 * 1024;

/// One login event, as an app sends it.
#[derive(ToSchema)]
#[allow(dead_code)] // documents the shape; items are parsed one by one to name each bad one
pub struct LoginEventJson {
    /// When the attempt happened (RFC 3339); at most 5 minutes ahead of the server's clock.
    #[schema(example = "2026-11-27T04:50:00Z", format = DateTime)]
    time: String,
    /// The e-mail address tried, or the account's id.
    #[schema(example = "ann@example.com")]
    account: String,
    /// Client address, IPv4 or IPv6.
    #[schema(example = "192.0.2.7")]
    ip: String,
    /// User-Agent (cut to 512 characters).
    user_agent: Option<String>,
    /// `success`, `wrong_password` or `unknown_account`.
    #[schema(
        example = "wrong_password",
        pattern = "^(success|wrong_password|unknown_account)$"
    )]
    outcome: String,
    /// ISO 3166-1 alpha-2 country of the address.
    #[schema(example = "NL", pattern = "^[A-Za-z]{2}$")]
    country: Option<String>,
    /// Autonomous system number of the address.
    #[schema(example = 64500)]
    asn: Option<u32>,
    /// Keyed fingerprint of the attempted password, 64 hex digits:
    /// hex(HMAC-SHA256(key, "gatehouse/login-event-password/v1\0" + password))
    /// under the key `gatehouse events fingerprint-key` prints. Lets the
    /// password-spraying check see one password tried against many accounts;
    /// the password never leaves the app.
    #[schema(pattern = "^[0-9A-Fa-f]{64}$")]
    password_fingerprint: Option<String>,
}

/// A batch of login events.
#[derive(Deserialize, ToSchema)]
pub struct LoginEventsBody {
    /// Up to 1,000 events.
    #[schema(value_type = Vec<LoginEventJson>, max_items = 1000)]
    pub events: Vec<serde_json::Value>,
}

/// Stores a batch of up to 1,000 login events (operator key). All or nothing:
/// if any event is invalid, none is stored and the answer lists each bad one by
/// index (`error.items`). Events stored before (same content) are skipped, so a
/// retried request is safe; events older than `event_retention_days` are dropped.
/// Events for addresses without an account are kept but never lead to a reset.
#[utoipa::path(post, path = "/events/login", tag = "events", request_body = LoginEventsBody,
    responses((status = 200, body = IngestReport),
              (status = 400, body = ErrorBody, description = "`invalid_events` (with `items`: index and message of each bad event) or a malformed body"),
              (status = 401, body = ErrorBody),
              (status = 413, body = ErrorBody, description = "`payload_too_large` (over 2 MiB)")),
    security(("operator" = [])))]
async fn ingest_login_events(
    State(app): State<Arc<App>>,
    OperatorAuth(op): OperatorAuth,
    client: Client,
    ApiJson(body): ApiJson<LoginEventsBody>,
) -> Result<axum::Json<IngestReport>, ApiError> {
    Ok(axum::Json(
        app.ingest_login_events(body.events, op.actor(), &client)
            .await?,
    ))
}

/// The routes with their OpenAPI entries.
pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(ingest_login_events))
        .layer(DefaultBodyLimit::max(MAX_BODY))
}
