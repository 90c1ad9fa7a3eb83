//! Admin JSON routes of remediation: campaigns (create, preview, approve, start,
//! pause, resume, abort, undo) and the circuit breaker.

use std::sync::Arc;

use axum::extract::State;
use gatehouse_domain::CampaignId;
use gatehouse_domain::campaign::{CampaignCommand, CampaignState};
use gatehouse_store::CampaignRecord;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::campaigns::{BreakerView, CampaignSpec, Preview, UndoReport};
use crate::app::{App, AppError};
use crate::http::error::{ApiError, ApiJson, ApiPath, ApiQuery, ErrorBody, page_limit};
use crate::http::extract::{IdPath, OperatorAuth};

type AppState = State<Arc<App>>;

/// Which campaigns to list.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CampaignQuery {
    /// Only campaigns in this state (draft, previewed, approved, running, paused,
    /// completed, aborted, undoing, undone).
    #[param(
        pattern = "^(draft|previewed|approved|running|paused|completed|aborted|undoing|undone)$"
    )]
    pub state: Option<String>,
    /// At most this many (default 100, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

/// Campaigns, newest first.
#[utoipa::path(get, path = "/admin/campaigns", tag = "campaigns", params(CampaignQuery),
    responses((status = 200, body = Vec<Object>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("operator" = [])))]
async fn list(
    State(app): AppState,
    OperatorAuth(_op): OperatorAuth,
    ApiQuery(q): ApiQuery<CampaignQuery>,
) -> Result<axum::Json<Vec<CampaignRecord>>, ApiError> {
    let state = q
        .state
        .as_deref()
        .map(|s| {
            s.parse::<CampaignState>()
                .map_err(|message| AppError::Invalid {
                    field: "state",
                    message,
                })
        })
        .transpose()?;
    Ok(axum::Json(
        app.store
            .campaigns(state, page_limit(q.limit, 100)?)
            .await
            .map_err(AppError::from)?,
    ))
}

/// Creates a draft campaign over the accounts listed (addresses or ids). An
/// empty list is refused (never read as "all"); every account must exist.
#[utoipa::path(post, path = "/admin/campaigns", tag = "campaigns", request_body = CampaignSpec,
    responses((status = 201, body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("operator" = [])))]
async fn create(
    State(app): AppState,
    OperatorAuth(op): OperatorAuth,
    ApiJson(spec): ApiJson<CampaignSpec>,
) -> Result<(http::StatusCode, axum::Json<CampaignRecord>), ApiError> {
    let c = app.create_campaign(spec, op.actor()).await?;
    Ok((http::StatusCode::CREATED, axum::Json(c)))
}

/// A campaign with its target counts by state.
#[derive(Serialize, ToSchema)]
pub struct CampaignView {
    /// The campaign.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub campaign: CampaignRecord,
    /// Targets by state (pending, applied, skipped, restored, not_restorable).
    pub targets: std::collections::BTreeMap<String, i64>,
}

/// One campaign and where its targets stand.
#[utoipa::path(get, path = "/admin/campaigns/{id}", tag = "campaigns", params(("id" = String, Path)),
    responses((status = 200, body = CampaignView), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("operator" = [])))]
async fn show(
    State(app): AppState,
    OperatorAuth(_op): OperatorAuth,
    IdPath(id): IdPath<CampaignId>,
) -> Result<axum::Json<CampaignView>, ApiError> {
    let campaign = app.campaign(id).await?;
    let targets = app
        .store
        .campaign_target_counts(id)
        .await
        .map_err(AppError::from)?
        .into_iter()
        .map(|(s, n)| (s.as_str().to_owned(), n))
        .collect();
    Ok(axum::Json(CampaignView { campaign, targets }))
}

/// Freezes the target set and shows the figures: count, multiple of normal,
/// share of accounts, mail per domain, overlap, stages, a sample with evidence.
#[utoipa::path(post, path = "/admin/campaigns/{id}/preview", tag = "campaigns", params(("id" = String, Path)),
    responses((status = 200, body = Preview), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("operator" = [])))]
async fn preview(
    State(app): AppState,
    OperatorAuth(op): OperatorAuth,
    IdPath(id): IdPath<CampaignId>,
) -> Result<axum::Json<Preview>, ApiError> {
    let (_, p) = app.preview_campaign(id, op.actor()).await?;
    Ok(axum::Json(p))
}

/// The snapshot an approval is for.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveBody {
    /// The preview's `snapshot` (hex): approval binds to exactly that target set.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub snapshot: String,
}

/// Approves the previewed target set. Not by the campaign's creator; refused
/// if the set changed since the preview.
#[utoipa::path(post, path = "/admin/campaigns/{id}/approve", tag = "campaigns", params(("id" = String, Path)),
    request_body = ApproveBody,
    responses((status = 200, body = Object), (status = 409, body = ErrorBody, description = "`campaign_refused`: self-approval, stale snapshot, wrong state")),
    security(("operator" = [])))]
async fn approve(
    State(app): AppState,
    OperatorAuth(op): OperatorAuth,
    IdPath(id): IdPath<CampaignId>,
    ApiJson(body): ApiJson<ApproveBody>,
) -> Result<axum::Json<CampaignRecord>, ApiError> {
    Ok(axum::Json(
        app.approve_campaign(id, &body.snapshot, op.actor()).await?,
    ))
}

/// Why (for pause and abort).
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct ReasonBody {
    /// Why, for the audit log and the console.
    #[serde(default)]
    #[schema(format = "one-line", max_length = 500)]
    pub reason: Option<String>,
}

/// The command of `/admin/campaigns/{id}/{command}` (the id is an [`IdPath`]).
#[derive(Deserialize)]
struct CommandPath {
    command: String,
}

/// `start`, `pause`, `resume` or `abort` a campaign.
#[utoipa::path(post, path = "/admin/campaigns/{id}/{command}", tag = "campaigns",
    params(("id" = String, Path), ("command" = String, Path, description = "start, pause, resume or abort", pattern = "^(start|pause|resume|abort)$")),
    request_body = ReasonBody,
    responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("operator" = [])))]
async fn command(
    State(app): AppState,
    OperatorAuth(op): OperatorAuth,
    IdPath(id): IdPath<CampaignId>,
    ApiPath(CommandPath { command }): ApiPath<CommandPath>,
    body: axum::body::Bytes,
) -> Result<axum::Json<CampaignRecord>, ApiError> {
    // The body is optional: `{"reason": "…"}` or nothing.
    let reason = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        serde_json::from_slice::<ReasonBody>(&body)
            .map_err(|e| AppError::Invalid {
                field: "body",
                message: format!("must be {{\"reason\": \"…\"}} or empty: {e}"),
            })?
            .reason
    };
    Ok(axum::Json(
        app.command_campaign(id, parse_command(&command)?, reason, op.actor())
            .await?,
    ))
}

/// What an undo would restore (no side effects).
#[utoipa::path(get, path = "/admin/campaigns/{id}/undo", tag = "campaigns", params(("id" = String, Path)),
    responses((status = 200, body = UndoReport), (status = 404, body = ErrorBody)),
    security(("operator" = [])))]
async fn undo_preview(
    State(app): AppState,
    OperatorAuth(_op): OperatorAuth,
    IdPath(id): IdPath<CampaignId>,
) -> Result<axum::Json<UndoReport>, ApiError> {
    Ok(axum::Json(app.undo_preview(id).await?))
}

/// Starts the campaign's undo: it stops, and the campaign worker of a running
/// `serve` restores its accounts at up to the campaign's rate a minute — prior
/// passwords and sessions back where the owner has not changed anything, a
/// correction notice to each, an explanation to the rest. Answers 202 with what
/// the undo will do; `GET /admin/campaigns/{id}` follows it (state `undoing`,
/// then `undone`). Asking again changes nothing.
#[utoipa::path(post, path = "/admin/campaigns/{id}/undo", tag = "campaigns", params(("id" = String, Path)),
    responses((status = 202, body = UndoReport), (status = 409, body = ErrorBody)),
    security(("operator" = [])))]
async fn undo(
    State(app): AppState,
    OperatorAuth(op): OperatorAuth,
    IdPath(id): IdPath<CampaignId>,
) -> Result<(http::StatusCode, axum::Json<UndoReport>), ApiError> {
    // The figures first: undo changes them as it goes.
    let report = app.undo_preview(id).await?;
    app.begin_undo(id, op.actor()).await?;
    Ok((http::StatusCode::ACCEPTED, axum::Json(report)))
}

/// The circuit breaker's state and the reset budget.
#[utoipa::path(get, path = "/admin/breaker", tag = "campaigns",
    responses((status = 200, body = BreakerView), (status = 401, body = ErrorBody)),
    security(("operator" = [])))]
async fn breaker(
    State(app): AppState,
    OperatorAuth(_op): OperatorAuth,
) -> Result<axum::Json<BreakerView>, ApiError> {
    Ok(axum::Json(app.breaker_view().await?))
}

/// The reason a breaker command needs.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BreakerBody {
    /// Why (audited; for a trip, shown in the incident draft). A reset needs
    /// one; a trip (the kill switch) may leave it blank.
    #[schema(format = "optional-one-line", max_length = 1000)]
    pub reason: String,
}

/// `trip` (the kill switch) or `reset` (close, an operator's decision) the breaker.
#[utoipa::path(post, path = "/admin/breaker/{command}", tag = "campaigns",
    params(("command" = String, Path, description = "trip or reset", pattern = "^(trip|reset)$")), request_body = BreakerBody,
    responses((status = 200, body = BreakerView), (status = 400, body = ErrorBody)),
    security(("operator" = [])))]
async fn breaker_command(
    State(app): AppState,
    OperatorAuth(op): OperatorAuth,
    ApiPath(command): ApiPath<String>,
    ApiJson(body): ApiJson<BreakerBody>,
) -> Result<axum::Json<BreakerView>, ApiError> {
    match command.as_str() {
        "trip" => app.trip_breaker(&body.reason, op.actor()).await?,
        "reset" => app.reset_breaker(&body.reason, op.actor()).await?,
        other => {
            return Err(AppError::Invalid {
                field: "command",
                message: format!("unknown breaker command {other:?}: trip or reset"),
            }
            .into());
        }
    };
    Ok(axum::Json(app.breaker_view().await?))
}

/// The routes with their OpenAPI entries.
pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show))
        .routes(routes!(preview))
        .routes(routes!(approve))
        .routes(routes!(undo_preview, undo))
        .routes(routes!(command))
        .routes(routes!(breaker))
        .routes(routes!(breaker_command))
}

/// A campaign command named in a path or a form, parsed once here.
pub(crate) fn parse_command(command: &str) -> Result<CampaignCommand, AppError> {
    command.parse().map_err(|message| AppError::Invalid {
        field: "command",
        message,
    })
}
