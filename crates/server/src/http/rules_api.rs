//! Admin JSON routes of the compromise checks: rules (list, read, create or
//! edit, backtest) and findings (list by rule, account, status and time).

use std::sync::Arc;

use axum::extract::State;
use gatehouse_domain::Timestamp;
use gatehouse_domain::finding::FindingStatus;
use gatehouse_store::FindingFilter;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::backtest::{BacktestReport, BacktestRequest};
use crate::app::findings::FindingView;
use crate::app::rules::{Rule, RuleChange, RuleSpec};
use crate::app::rules_status::RulesStatus;
use crate::app::{App, AppError, RuleUndoReport};
use crate::http::error::{ApiError, ApiJson, ApiPath, ApiQuery, ErrorBody, page_limit};
use crate::http::extract::OperatorAuth;

type AppState = State<Arc<App>>;

/// Every rule with its current version.
#[utoipa::path(get, path = "/admin/rules", tag = "rules",
    responses((status = 200, body = Vec<Rule>), (status = 401, body = ErrorBody)),
    security(("operator" = [])))]
async fn list_rules(
    State(app): AppState,
    OperatorAuth(_op): OperatorAuth,
) -> Result<axum::Json<Vec<Rule>>, ApiError> {
    Ok(axum::Json(app.rules().await?))
}

/// Which version of a rule to read.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VersionQuery {
    /// A past version (default: the current one).
    pub version: Option<i64>,
}

/// One rule: its current version, or `?version=N`.
#[utoipa::path(get, path = "/admin/rules/{id}", tag = "rules", params(("id" = String, Path), VersionQuery),
    responses((status = 200, body = Rule), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("operator" = [])))]
async fn get_rule(
    State(app): AppState,
    OperatorAuth(_op): OperatorAuth,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<VersionQuery>,
) -> Result<axum::Json<Rule>, ApiError> {
    Ok(axum::Json(app.rule(&id, q.version).await?))
}

/// Creates or edits a rule. The body is the whole rule (settings left out take
/// the detector's defaults); its `id` must match the path. A changed rule gets a
/// new version (`changed: true`); the same rule again changes nothing. Audited.
#[utoipa::path(put, path = "/admin/rules/{id}", tag = "rules", params(("id" = String, Path)),
    request_body = RuleSpec,
    responses((status = 200, body = RuleChange), (status = 400, body = ErrorBody, description = "`invalid_rule`, naming the setting"),
              (status = 401, body = ErrorBody)),
    security(("operator" = [])))]
async fn put_rule(
    State(app): AppState,
    OperatorAuth(op): OperatorAuth,
    ApiPath(id): ApiPath<String>,
    ApiJson(spec): ApiJson<RuleSpec>,
) -> Result<axum::Json<RuleChange>, ApiError> {
    if spec.id != id {
        return Err(AppError::InvalidRule(format!(
            "the body's id {:?} is not the rule in the path ({id:?})",
            spec.id
        ))
        .into());
    }
    Ok(axum::Json(app.put_rule(spec, op.actor()).await?))
}

/// How to give a backtest's results.
#[derive(Deserialize, IntoParams, Default)]
#[into_params(parameter_in = Query)]
pub struct BacktestQuery {
    /// `json` (default: the report, with a page of flagged accounts) or `csv`
    /// (every flagged account: `account_id,email,findings,score,first_seen,explanation`).
    #[param(pattern = "^(json|csv)$")]
    pub format: Option<String>,
}

/// Runs the rule — or `draft`, an edit of it — over the stored login events of
/// `since..until` (default: the last 7 days) with no side effects: how many
/// accounts it would flag (every one, paged with `offset` and `limit`, or all
/// as CSV with `?format=csv`), a sample with evidence, the sources it judged
/// attacking, the period's traffic and attack windows, the current version's
/// count and the rule's normal daily volume, and warnings when they are out of
/// line. With `record: true` a stored rule's results are recorded as shadow
/// findings (audited).
#[utoipa::path(post, path = "/admin/rules/{id}/backtest", tag = "rules", params(("id" = String, Path), BacktestQuery),
    request_body = BacktestRequest,
    responses((status = 200, description = "the report; with `?format=csv`, text/csv of every flagged account",
                content((BacktestReport = "application/json"), (String = "text/csv"))),
              (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 401, body = ErrorBody)),
    security(("operator" = [])))]
async fn backtest_rule(
    State(app): AppState,
    OperatorAuth(op): OperatorAuth,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<BacktestQuery>,
    ApiJson(req): ApiJson<BacktestRequest>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse as _;
    match q.format.as_deref() {
        None | Some("json") => Ok(axum::Json(
            app.backtest_rule(&id, req, op.actor(), |_, _| {}).await?,
        )
        .into_response()),
        Some("csv") => {
            let (_, csv) = app.backtest_csv(&id, req, op.actor(), |_, _| {}).await?;
            Ok((
                [(axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8")],
                csv,
            )
                .into_response())
        }
        Some(other) => Err(AppError::Invalid {
            field: "format",
            message: format!("must be json or csv, not {other:?}"),
        }
        .into()),
    }
}

/// What the checks are doing now: each rule's findings of the last 24 hours,
/// where the live monitor is in the event stream, history that arrived too
/// late for the live rules (with what to do about it), and the breaker.
#[utoipa::path(get, path = "/admin/detection/status", tag = "rules",
    responses((status = 200, body = RulesStatus), (status = 401, body = ErrorBody)),
    security(("operator" = [])))]
async fn detection_status(
    State(app): AppState,
    OperatorAuth(_op): OperatorAuth,
) -> Result<axum::Json<RulesStatus>, ApiError> {
    Ok(axum::Json(app.rules_status().await?))
}

/// Undoes what a rule did, in one audited action: its campaigns that reset
/// accounts begin their undo (the campaign worker restores them, paced), its
/// campaigns that reset nobody are aborted. The rule itself is left as it is.
#[utoipa::path(post, path = "/admin/rules/{id}/undo", tag = "rules", params(("id" = String, Path)),
    responses((status = 202, body = RuleUndoReport), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 401, body = ErrorBody)),
    security(("operator" = [])))]
async fn undo_rule(
    State(app): AppState,
    OperatorAuth(op): OperatorAuth,
    ApiPath(id): ApiPath<String>,
) -> Result<(axum::http::StatusCode, axum::Json<RuleUndoReport>), ApiError> {
    Ok((
        axum::http::StatusCode::ACCEPTED,
        axum::Json(app.undo_rule(&id, op.actor()).await?),
    ))
}

/// Which findings to list (all optional; newest first).
#[derive(Deserialize, IntoParams, Default)]
#[into_params(parameter_in = Query)]
pub struct FindingsQuery {
    /// One rule's id (no control characters; an id no rule has matches nothing).
    #[param(pattern = "^[^\\x00-\\x1f\\x7f-\\x9f\\u202a-\\u202e\\u2066-\\u2069]*$")]
    pub rule: Option<String>,
    /// One account: its id or e-mail address.
    #[param(schema_with = crate::http::openapi::account_ref)]
    pub account: Option<String>,
    /// `shadow`, `pending` or `held`.
    #[param(pattern = "^(shadow|pending|held)$")]
    pub status: Option<String>,
    /// Recorded at or after (RFC 3339).
    #[param(format = DateTime)]
    pub since: Option<String>,
    /// Recorded before (RFC 3339).
    #[param(format = DateTime)]
    pub until: Option<String>,
    /// Page: findings with ids below this (the last id of the previous page).
    pub before: Option<i64>,
    /// At most this many, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

impl FindingsQuery {
    /// The store filter, with a clear error for each bad parameter.
    pub async fn filter(&self, app: &App) -> Result<FindingFilter, AppError> {
        let time = |field: &'static str, v: &Option<String>| {
            v.as_deref()
                .map(|s| {
                    Timestamp::parse_rfc3339(s).map_err(|e| AppError::Invalid {
                        field,
                        message: format!("must be an RFC 3339 time: {e}"),
                    })
                })
                .transpose()
        };
        let account = match self.account.as_deref() {
            None => None,
            Some(a) => Some(app.find_account_ref(a).await?),
        };
        if let Some(rule) = self.rule.as_deref()
            && gatehouse_domain::text::has_controls(rule)
        {
            return Err(AppError::Invalid {
                field: "rule",
                message: "is not a rule id (rule ids are a-z, 0-9, _ and -)".into(),
            });
        }
        Ok(FindingFilter {
            rule: self.rule.clone(),
            account,
            since: time("since", &self.since)?,
            until: time("until", &self.until)?,
            status: self
                .status
                .as_deref()
                .map(|s| {
                    s.parse::<FindingStatus>()
                        .map_err(|message| AppError::Invalid {
                            field: "status",
                            message,
                        })
                })
                .transpose()?,
            before_id: self.before,
            limit: page_limit(self.limit, 100)?,
        })
    }
}

/// Findings by rule, account, status and time, newest first, each with its evidence.
#[utoipa::path(get, path = "/admin/findings", tag = "rules", params(FindingsQuery),
    responses((status = 200, body = Vec<FindingView>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody, description = "no account is named by `account`")),
    security(("operator" = [])))]
async fn list_findings(
    State(app): AppState,
    OperatorAuth(_op): OperatorAuth,
    ApiQuery(q): ApiQuery<FindingsQuery>,
) -> Result<axum::Json<Vec<FindingView>>, ApiError> {
    let filter = q.filter(&app).await?;
    Ok(axum::Json(app.findings(&filter).await?))
}

/// The routes with their OpenAPI entries.
pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(list_rules))
        .routes(routes!(get_rule, put_rule))
        .routes(routes!(backtest_rule))
        .routes(routes!(detection_status))
        .routes(routes!(undo_rule))
        .routes(routes!(list_findings))
}
