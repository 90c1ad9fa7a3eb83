//! Admin JSON routes of the app-delivery outbox (issue 17): the back-channel
//! logout tokens owed to apps, with per-receiver counts, and a retry of a
//! failed one. Next to the notices' `/admin/outbox`; the same `App` methods
//! serve `gatehouse outbox apps|retry-app` and the console's apps page.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use gatehouse_store::AppDeliveryState;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::oidc::{AppDeliveryView, ReceiverCounts};
use crate::app::{App, AppError};
use crate::http::error::{ApiError, ApiPath, ApiQuery, ErrorBody, page_limit};
use crate::http::extract::OperatorAuth;

type AppState = State<Arc<App>>;

/// Which deliveries to list.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AppOutboxQuery {
    /// Only this state: pending, sending, sent or failed.
    #[param(pattern = "^(pending|sending|sent|failed)$")]
    pub state: Option<String>,
    /// Only this app (client id; no control characters: an id no client has
    /// matches nothing).
    #[param(pattern = "^[^\\x00-\\x1f\\x7f-\\x9f\\u202a-\\u202e\\u2066-\\u2069]*$")]
    pub client_id: Option<String>,
    /// Most deliveries (newest first; default 100, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

/// The app-delivery outbox.
#[derive(Serialize, ToSchema)]
pub struct AppOutbox {
    /// Every receiver's deliveries by state (all of them, whatever the filter).
    pub receivers: Vec<ReceiverCounts>,
    /// The deliveries the query asked for, newest first.
    pub deliveries: Vec<AppDeliveryView>,
}

/// Back-channel logout tokens owed to apps, with per-receiver counts
/// (operator key).
#[utoipa::path(get, path = "/admin/outbox/apps", tag = "admin", params(AppOutboxQuery),
    responses((status = 200, body = AppOutbox), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("operator" = [])))]
async fn app_outbox(
    State(app): AppState,
    OperatorAuth(_op): OperatorAuth,
    ApiQuery(q): ApiQuery<AppOutboxQuery>,
) -> Result<axum::Json<AppOutbox>, ApiError> {
    let state = q
        .state
        .as_deref()
        .map(str::parse::<AppDeliveryState>)
        .transpose()
        .map_err(|message| AppError::Invalid {
            field: "state",
            message,
        })?;
    let deliveries = app
        .app_deliveries(state, q.client_id, page_limit(q.limit, 100)?)
        .await?;
    Ok(axum::Json(AppOutbox {
        receivers: app.app_delivery_counts().await?,
        deliveries: deliveries.iter().map(Into::into).collect(),
    }))
}

/// Sends a failed logout token again, with the same `jti` (operator key).
/// Audited `oidc.logout_token_retried`.
#[utoipa::path(post, path = "/admin/outbox/apps/{id}/retry", tag = "admin",
    params(("id" = String, Path, description = "the delivery's id (the token's jti)")),
    responses((status = 204), (status = 401, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "not failed (unknown, pending or sent)")),
    security(("operator" = [])))]
async fn app_outbox_retry(
    State(app): AppState,
    OperatorAuth(op): OperatorAuth,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    app.retry_app_delivery(&id, op.actor()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ends one session (any account's) as an operator: revoked at once, its
/// apps owed their logout tokens and SETs like every session end (operator
/// key). Audited `session.ended` with reason `ended_by_operator`.
#[utoipa::path(post, path = "/admin/sessions/{id}/end", tag = "admin",
    params(("id" = String, Path, description = "the session's id (the `sid` of its ID tokens)")),
    responses((status = 204), (status = 401, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "the session has ended already")),
    security(("operator" = [])))]
async fn end_session(
    State(app): AppState,
    OperatorAuth(op): OperatorAuth,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let session = id.parse().map_err(|_| AppError::NotFound("session"))?;
    app.operator_end_session(session, op.actor()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The routes with their OpenAPI entries.
pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(app_outbox))
        .routes(routes!(app_outbox_retry))
        .routes(routes!(end_session))
}
