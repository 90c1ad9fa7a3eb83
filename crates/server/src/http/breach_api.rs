//! JSON routes of the breached-password index: the check other services call, and
//! the operators' reload.

use std::sync::Arc;

use axum::extract::State;
use gatehouse_breach::Verdict;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::{App, BreachIndexInfo};
use crate::http::error::{ApiError, ApiJson, ErrorBody};
use crate::http::extract::OperatorAuth;

type AppState = State<Arc<App>>;

/// A password to check, as its SHA-1 (the password itself never travels).
#[derive(Deserialize, ToSchema)]
pub struct BreachCheckBody {
    /// SHA-1 of the password's UTF-8 bytes: 40 hex digits, either case.
    #[schema(
        example = "5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8",
        pattern = "^[0-9A-Fa-f]{40}$"
    )]
    pub sha1: String,
}

/// The verdict.
#[derive(Serialize, ToSchema)]
pub struct BreachCheckResult {
    /// Whether the password has appeared in breaches (confirmed by the exact tier;
    /// a filter hit alone is never reported).
    pub breached: bool,
    /// About how often (a lower bound; the true count is below 4× this), or null
    /// when not breached.
    pub count: Option<u64>,
}

/// Checks a password, given as its SHA-1, against the breached-password index
/// (operator key).
#[utoipa::path(post, path = "/breach/check", tag = "breach", request_body = BreachCheckBody,
    responses((status = 200, body = BreachCheckResult), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 409, body = ErrorBody, description = "`breach_index_unavailable`: no breach index is loaded")),
    security(("operator" = [])))]
pub(crate) async fn breach_check(
    State(app): AppState,
    OperatorAuth(_op): OperatorAuth,
    ApiJson(body): ApiJson<BreachCheckBody>,
) -> Result<axum::Json<BreachCheckResult>, ApiError> {
    Ok(axum::Json(match app.check_breached_sha1(&body.sha1)? {
        Verdict::Clean => BreachCheckResult {
            breached: false,
            count: None,
        },
        Verdict::Breached { approx_count } => BreachCheckResult {
            breached: true,
            count: Some(approx_count),
        },
    }))
}

/// Loads the configured breach index file anew (after `gatehouse breach import`)
/// and swaps it in while requests keep answering from the old one (operator key).
/// On failure the old index stays in use and the error says why. Same as SIGHUP.
#[utoipa::path(post, path = "/admin/breach/reload", tag = "admin",
    responses((status = 200, body = BreachIndexInfo), (status = 401, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "`breach_reload_failed`: the previous index stays in use")),
    security(("operator" = [])))]
async fn breach_reload(
    State(app): AppState,
    OperatorAuth(op): OperatorAuth,
) -> Result<axum::Json<BreachIndexInfo>, ApiError> {
    Ok(axum::Json(app.reload_breach_index(op.actor()).await?))
}

/// The routes with their OpenAPI entries.
pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(breach_check))
        .routes(routes!(breach_reload))
}
