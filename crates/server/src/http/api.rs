//! The JSON API under `/api/v1`. Every route is registered together with its
//! OpenAPI entry (utoipa-axum), so `/openapi.json` cannot miss one.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum_extra::extract::CookieJar;
use gatehouse_domain::SessionId;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::{App, AppError, Client};
use crate::http::cookies;
use crate::http::error::{ApiError, ApiJson, ApiQuery, ErrorBody, page_limit};
use crate::http::extract::{CurrentUser, IdPath, OperatorAuth};

type AppState = State<Arc<App>>;

/// Sign-up or login credentials.
#[derive(Deserialize, ToSchema)]
pub struct Credentials {
    /// E-mail address.
    #[schema(example = "ada@example.com", format = Email)]
    pub email: String,
    /// Password (new accounts: at least the configured minimum, 15 by default).
    #[schema(example = "correct horse battery staple", format = Password)]
    pub password: String,
}

/// An account.
#[derive(Serialize, ToSchema)]
pub struct AccountBody {
    /// Account id.
    pub id: String,
    /// E-mail address.
    pub email: String,
}

/// A new session.
#[derive(Serialize, ToSchema)]
pub struct SessionCreated {
    /// Bearer token for `Authorization: Bearer …` (also set as an HttpOnly cookie).
    pub token: String,
    /// Expiry, RFC 3339.
    pub expires_at: String,
    /// Whether the person should change their password now (signed in all the
    /// same; nothing was reset).
    pub password_change_recommended: bool,
    /// Why, when recommended: `breached_password` (the password has appeared in
    /// data breaches).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_change_reason: Option<&'static str>,
    /// What to tell the person, when recommended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_change_message: Option<String>,
}

/// The signed-in account.
#[derive(Serialize, ToSchema)]
pub struct MeBody {
    /// Account id.
    pub id: String,
    /// E-mail address.
    pub email: String,
    /// The session making this request.
    pub session_id: String,
    /// When it expires, RFC 3339.
    pub session_expires_at: String,
}

/// One session.
#[derive(Serialize, ToSchema)]
pub struct SessionView {
    /// Session id.
    pub id: String,
    /// Created, RFC 3339.
    pub created_at: String,
    /// Last used (to the minute), RFC 3339.
    pub last_seen_at: String,
    /// Expiry, RFC 3339.
    pub expires_at: String,
    /// Client address at login.
    pub ip: Option<String>,
    /// User agent at login.
    pub user_agent: Option<String>,
    /// Whether this is the session making the request.
    pub current: bool,
}

/// A password change.
#[derive(Deserialize, ToSchema)]
pub struct PasswordChangeBody {
    /// The password in use now.
    #[schema(format = Password)]
    pub current_password: String,
    /// The new password.
    #[schema(format = Password)]
    pub new_password: String,
    /// End every other session (default true).
    #[serde(default = "yes")]
    pub end_other_sessions: bool,
}

fn yes() -> bool {
    true
}

/// Result of a password change.
#[derive(Serialize, ToSchema)]
pub struct PasswordChangedBody {
    /// Other sessions ended.
    pub sessions_ended: u64,
}

/// Result of ending other sessions.
#[derive(Serialize, ToSchema)]
pub struct SessionsEndedBody {
    /// Sessions ended.
    pub sessions_ended: u64,
}

/// Paging of the audit log.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Entries after this sequence number (default 0).
    #[param(minimum = 0, maximum = 9_223_372_036_854_775_807_i64)]
    pub after: Option<i64>,
    /// At most this many (default 100, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

/// An audit entry.
#[derive(Serialize, ToSchema)]
pub struct AuditEntryBody {
    /// Position in the log (chain order: the order the entries were committed).
    pub seq: i64,
    /// When the action happened, RFC 3339: the clock reading its use case took
    /// when it began, before its transaction. Actions that overlap commit in
    /// either order, so `at` can go back a little from one `seq` to the next
    /// (by at most the length of a transaction); order by `seq`, not `at`.
    pub at: String,
    /// `account`, `operator` or `system`.
    pub actor_kind: String,
    /// Actor id.
    pub actor_id: Option<String>,
    /// Action, e.g. `login.failed`.
    pub action: String,
    /// Target id.
    pub target: Option<String>,
    /// Client address.
    pub ip: Option<String>,
    /// Extra facts.
    pub detail: serde_json::Value,
    /// Chain hash (hex).
    pub hash: String,
}

/// Result of an audit chain check.
#[derive(Serialize, ToSchema)]
pub struct AuditVerifyBody {
    /// Whether the chain is intact.
    pub intact: bool,
    /// Entries checked (when intact).
    pub entries: Option<i64>,
    /// First bad entry (when broken).
    pub broken_at: Option<i64>,
    /// Why (when broken).
    pub reason: Option<String>,
}

/// Creates an account.
#[utoipa::path(post, path = "/accounts", tag = "accounts", request_body = Credentials,
    responses((status = 201, body = AccountBody), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody), (status = 429, body = ErrorBody, description = "too many sign-ups from this network"), (status = 503, body = ErrorBody)))]
async fn create_account(
    State(app): AppState,
    client: Client,
    ApiJson(body): ApiJson<Credentials>,
) -> Result<impl IntoResponse, ApiError> {
    let acc = app.sign_up(&body.email, &body.password, &client).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(AccountBody {
            id: acc.id.to_string(),
            email: acc.email,
        }),
    ))
}

/// Logs in: returns a bearer token and sets the session cookie. When the password
/// has appeared in data breaches, the login still succeeds and the answer says
/// `password_change_recommended: true` with the reason.
#[utoipa::path(post, path = "/sessions", tag = "sessions", request_body = Credentials,
    responses((status = 201, body = SessionCreated), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn create_session(
    State(app): AppState,
    client: Client,
    jar: CookieJar,
    ApiJson(body): ApiJson<Credentials>,
) -> Result<impl IntoResponse, ApiError> {
    let out = app.log_in(&body.email, &body.password, &client).await?;
    let jar = jar.add(cookies::session_cookie(&app.config, out.token.expose()));
    let body = SessionCreated {
        token: out.token.expose().to_owned(),
        expires_at: out.who.expires_at.to_rfc3339(),
        password_change_recommended: out.advice.is_some(),
        password_change_reason: out.advice.as_ref().map(|a| a.reason()),
        password_change_message: out.advice.as_ref().map(|a| a.message()),
    };
    Ok((StatusCode::CREATED, jar, axum::Json(body)))
}

/// Logs out: ends the session making the request.
#[utoipa::path(delete, path = "/sessions/current", tag = "sessions",
    responses((status = 204), (status = 401, body = ErrorBody)), security(("session" = [])))]
async fn delete_current_session(
    State(app): AppState,
    client: Client,
    jar: CookieJar,
    CurrentUser(who): CurrentUser,
) -> Result<impl IntoResponse, ApiError> {
    app.end_session(&who, who.session, &client).await?;
    Ok((
        StatusCode::NO_CONTENT,
        jar.add(cookies::clear_session_cookie(&app.config)),
    ))
}

/// The signed-in account.
#[utoipa::path(get, path = "/me", tag = "me", responses((status = 200, body = MeBody), (status = 401, body = ErrorBody)),
    security(("session" = [])))]
pub(crate) async fn me(CurrentUser(who): CurrentUser) -> axum::Json<MeBody> {
    axum::Json(MeBody {
        id: who.account.to_string(),
        email: who.email,
        session_id: who.session.to_string(),
        session_expires_at: who.expires_at.to_rfc3339(),
    })
}

/// "Was I affected?": the campaigns that reset my password, newest first —
/// when, why, the notice's reference, whether it was undone, what to do now.
/// Only ever about the signed-in account.
#[utoipa::path(get, path = "/me/campaigns", tag = "me",
    responses((status = 200, body = Vec<crate::app::affected::MyCampaign>), (status = 401, body = ErrorBody)),
    security(("session" = [])))]
async fn my_campaigns(
    State(app): AppState,
    CurrentUser(who): CurrentUser,
) -> Result<axum::Json<Vec<crate::app::affected::MyCampaign>>, ApiError> {
    Ok(axum::Json(app.my_campaigns(&who).await?))
}

/// My live sessions, most recently used first.
#[utoipa::path(get, path = "/me/sessions", tag = "me",
    responses((status = 200, body = Vec<SessionView>), (status = 401, body = ErrorBody)), security(("session" = [])))]
async fn my_sessions(
    State(app): AppState,
    CurrentUser(who): CurrentUser,
) -> Result<axum::Json<Vec<SessionView>>, ApiError> {
    let list = app.list_sessions(&who).await?;
    Ok(axum::Json(
        list.into_iter()
            .map(|s| SessionView {
                id: s.id.to_string(),
                created_at: s.created_at.to_rfc3339(),
                last_seen_at: s.last_seen_at.to_rfc3339(),
                expires_at: s.expires_at.to_rfc3339(),
                ip: s.ip,
                user_agent: s.user_agent,
                current: s.id == who.session,
            })
            .collect(),
    ))
}

/// Ends every session but the one making the request.
#[utoipa::path(delete, path = "/me/sessions", tag = "me",
    responses((status = 200, body = SessionsEndedBody), (status = 401, body = ErrorBody)), security(("session" = [])))]
async fn end_other_sessions(
    State(app): AppState,
    client: Client,
    CurrentUser(who): CurrentUser,
) -> Result<axum::Json<SessionsEndedBody>, ApiError> {
    let n = app.end_other_sessions(&who, &client).await?;
    Ok(axum::Json(SessionsEndedBody { sessions_ended: n }))
}

/// Ends one of my sessions.
#[utoipa::path(delete, path = "/me/sessions/{id}", tag = "me", params(("id" = String, Path, description = "Session id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)), security(("session" = [])))]
async fn end_my_session(
    State(app): AppState,
    client: Client,
    CurrentUser(who): CurrentUser,
    IdPath(id): IdPath<SessionId>,
) -> Result<StatusCode, ApiError> {
    app.end_session(&who, id, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Changes my password (needs the current one). Ends other sessions unless asked not to.
#[utoipa::path(post, path = "/me/password", tag = "me", request_body = PasswordChangeBody,
    responses((status = 200, body = PasswordChangedBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)), security(("session" = [])))]
async fn change_password(
    State(app): AppState,
    client: Client,
    CurrentUser(who): CurrentUser,
    ApiJson(body): ApiJson<PasswordChangeBody>,
) -> Result<axum::Json<PasswordChangedBody>, ApiError> {
    let done = app
        .change_password(
            &who,
            &body.current_password,
            &body.new_password,
            !body.end_other_sessions,
            &client,
        )
        .await?;
    Ok(axum::Json(PasswordChangedBody {
        sessions_ended: done.sessions_ended,
    }))
}

/// Audit log entries (operator key).
#[utoipa::path(get, path = "/admin/audit", tag = "admin", params(AuditQuery),
    responses((status = 200, body = Vec<AuditEntryBody>), (status = 401, body = ErrorBody)), security(("operator" = [])))]
async fn admin_audit(
    State(app): AppState,
    OperatorAuth(_op): OperatorAuth,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<axum::Json<Vec<AuditEntryBody>>, ApiError> {
    let limit = page_limit(q.limit, 100)?;
    let after = match q.after {
        None => 0,
        Some(n) if n >= 0 => n,
        Some(n) => {
            return Err(AppError::Invalid {
                field: "after",
                message: format!("{n} is not a sequence number (0 or more)"),
            }
            .into());
        }
    };
    let entries = app
        .store
        .audit_entries(after, limit)
        .await
        .map_err(AppError::from)?;
    Ok(axum::Json(
        entries
            .into_iter()
            .map(|e| AuditEntryBody {
                seq: e.seq,
                at: e.at.to_rfc3339(),
                actor_kind: e.actor_kind,
                actor_id: e.actor_id,
                action: e.action,
                target: e.target,
                ip: e.ip,
                detail: serde_json::from_str(&e.detail)
                    .unwrap_or(serde_json::Value::String(e.detail)),
                hash: e.hash,
            })
            .collect(),
    ))
}

/// Checks the audit log's hash chain (operator key).
#[utoipa::path(get, path = "/admin/audit/verify", tag = "admin",
    responses((status = 200, body = AuditVerifyBody), (status = 401, body = ErrorBody)), security(("operator" = [])))]
async fn admin_audit_verify(
    State(app): AppState,
    OperatorAuth(_op): OperatorAuth,
) -> Result<axum::Json<AuditVerifyBody>, ApiError> {
    let report = gatehouse_store::verify_audit_chain(app.store.as_ref())
        .await
        .map_err(AppError::from)?;
    Ok(axum::Json(match report {
        gatehouse_store::ChainReport::Intact { entries } => AuditVerifyBody {
            intact: true,
            entries: Some(entries),
            broken_at: None,
            reason: None,
        },
        gatehouse_store::ChainReport::Broken { seq, reason } => AuditVerifyBody {
            intact: false,
            entries: None,
            broken_at: Some(seq),
            reason: Some(reason),
        },
    }))
}

/// The `/api/v1` routes with their OpenAPI entries.
pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(create_account))
        .routes(routes!(create_session))
        .routes(routes!(delete_current_session))
        .routes(routes!(me))
        .routes(routes!(my_sessions, end_other_sessions))
        .routes(routes!(my_campaigns))
        .routes(routes!(end_my_session))
        .routes(routes!(change_password))
        .routes(routes!(admin_audit))
        .routes(routes!(admin_audit_verify))
}
