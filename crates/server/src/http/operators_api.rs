//! JSON routes for operators and their API keys (issue 18 #6): list them with
//! their keys' life cycle, rotate or revoke a key, disable or enable an
//! operator. The same `App` methods serve the CLI and the console.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::operators::OperatorView;
use crate::app::{App, AppError};
use crate::http::error::{ApiError, ApiPath, ErrorBody};
use crate::http::extract::OperatorAuth;

type AppState = State<Arc<App>>;

/// Every operator.
#[derive(Serialize, ToSchema)]
pub struct OperatorList {
    /// By e-mail address; disabled operators too.
    pub operators: Vec<OperatorView>,
}

/// Every operator with their key's state, expiry and last use (operator key).
#[utoipa::path(get, path = "/admin/operators", tag = "admin",
    responses((status = 200, body = OperatorList), (status = 401, body = ErrorBody)),
    security(("operator" = [])))]
async fn list(
    State(app): AppState,
    OperatorAuth(_op): OperatorAuth,
) -> Result<axum::Json<OperatorList>, ApiError> {
    let now = app.clock.now();
    Ok(axum::Json(OperatorList {
        operators: app
            .operators_overview()
            .await?
            .iter()
            .map(|o| OperatorView::new(o, now))
            .collect(),
    }))
}

/// How long a new key works. The body is optional (no body: no expiry).
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct RotateBody {
    /// Days until the new key stops working by itself (1 to 3650); absent or
    /// null: it never expires.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 3650)]
    pub expires_in_days: Option<u32>,
}

/// The new key, shown once.
#[derive(Serialize, ToSchema)]
pub struct RotatedKeyView {
    /// The operator, after the rotation.
    pub operator: OperatorView,
    /// The new API key: shown once, stored only as its SHA-256. The old key
    /// stopped working (on other replicas within `session_cache_seconds`).
    pub key: String,
}

/// What a revoke, disable or enable did.
#[derive(Serialize, ToSchema)]
pub struct OperatorChange {
    /// False when it was so already (nothing written, nothing audited).
    pub changed: bool,
    /// The operator, after the change.
    pub operator: OperatorView,
}

async fn view_of(app: &App, who: &str) -> Result<OperatorView, AppError> {
    let o = app.find_operator(who).await?;
    Ok(OperatorView::new(&o, app.clock.now()))
}

/// Replaces the operator's API key: the new key is in the answer (once), the
/// old one stops working. A revoked key is replaced too; a disabled
/// operator's is not (409: enable them first). Audited `operator.key_rotated`.
#[utoipa::path(post, path = "/admin/operators/{id}/rotate-key", tag = "admin",
    params(("id" = String, Path, description = "the operator's id or e-mail address")),
    request_body(content = RotateBody, description = "optional"),
    responses((status = 200, body = RotatedKeyView), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "the operator is disabled")),
    security(("operator" = [])))]
async fn rotate(
    State(app): AppState,
    OperatorAuth(op): OperatorAuth,
    ApiPath(id): ApiPath<String>,
    body: axum::body::Bytes,
) -> Result<axum::Json<RotatedKeyView>, ApiError> {
    let body: RotateBody = if body.iter().all(u8::is_ascii_whitespace) {
        RotateBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| AppError::Invalid {
            field: "body",
            message: format!("must be {{\"expires_in_days\": N}} or empty: {e}"),
        })?
    };
    let lifetime = body
        .expires_in_days
        .map(|d| Duration::from_secs(u64::from(d) * 86_400));
    let rotated = app
        .rotate_operator_key(&id, lifetime, op.actor(), "api")
        .await?;
    Ok(axum::Json(RotatedKeyView {
        operator: view_of(&app, &rotated.operator.id.to_string()).await?,
        key: rotated.key.expose().to_owned(),
    }))
}

/// Revokes the operator's API key: no key of theirs works until it is rotated
/// (their console password still does). An operator cannot revoke their own
/// key (409: rotate it instead). Audited `operator.key_revoked`.
#[utoipa::path(post, path = "/admin/operators/{id}/revoke-key", tag = "admin",
    params(("id" = String, Path, description = "the operator's id or e-mail address")),
    responses((status = 200, body = OperatorChange), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "the caller's own key")),
    security(("operator" = [])))]
async fn revoke(
    State(app): AppState,
    OperatorAuth(op): OperatorAuth,
    ApiPath(id): ApiPath<String>,
) -> Result<axum::Json<OperatorChange>, ApiError> {
    let changed = app.revoke_operator_key(&id, op.actor(), "api").await?;
    Ok(axum::Json(OperatorChange {
        changed,
        operator: view_of(&app, &id).await?,
    }))
}

/// Disables the operator: their key and console sign-in are refused and their
/// console sessions end. The last enabled operator cannot be disabled, nor
/// can an operator disable themselves (409). Audited `operator.disabled`.
#[utoipa::path(post, path = "/admin/operators/{id}/disable", tag = "admin",
    params(("id" = String, Path, description = "the operator's id or e-mail address")),
    responses((status = 200, body = OperatorChange), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "the last enabled operator, or the caller")),
    security(("operator" = [])))]
async fn disable(
    State(app): AppState,
    OperatorAuth(op): OperatorAuth,
    ApiPath(id): ApiPath<String>,
) -> Result<axum::Json<OperatorChange>, ApiError> {
    let changed = app
        .set_operator_enabled(&id, false, op.actor(), "api")
        .await?;
    Ok(axum::Json(OperatorChange {
        changed,
        operator: view_of(&app, &id).await?,
    }))
}

/// Enables a disabled operator again (their key, if not revoked or expired,
/// works again). Audited `operator.enabled`.
#[utoipa::path(post, path = "/admin/operators/{id}/enable", tag = "admin",
    params(("id" = String, Path, description = "the operator's id or e-mail address")),
    responses((status = 200, body = OperatorChange), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody)),
    security(("operator" = [])))]
async fn enable(
    State(app): AppState,
    OperatorAuth(op): OperatorAuth,
    ApiPath(id): ApiPath<String>,
) -> Result<axum::Json<OperatorChange>, ApiError> {
    let changed = app
        .set_operator_enabled(&id, true, op.actor(), "api")
        .await?;
    Ok(axum::Json(OperatorChange {
        changed,
        operator: view_of(&app, &id).await?,
    }))
}

/// The routes with their OpenAPI entries.
pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(rotate))
        .routes(routes!(revoke))
        .routes(routes!(disable))
        .routes(routes!(enable))
}
