//! JSON routes for recovery, `/verify` and the operators' outbox view.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use gatehouse_domain::NoticeId;
use gatehouse_store::{Notice, NoticeState};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::recovery::RecoveryProof;
use crate::app::{App, AppError, Client, VerifiedNotice};
use crate::http::error::{ApiError, ApiJson, ApiPath, ApiQuery, ErrorBody, page_limit};
use crate::http::extract::{IdPath, OperatorAuth};

type AppState = State<Arc<App>>;

/// The answer to every recovery request, whether or not the account exists.
pub const RECOVERY_ACCEPTED: &str = "If an account exists for this address, we have e-mailed it a recovery code. It works for a limited time; check your inbox and spam folder.";

/// A recovery request.
#[derive(Deserialize, ToSchema)]
pub struct RecoveryRequestBody {
    /// The account's e-mail address.
    #[schema(example = "ada@example.com", format = Email)]
    pub email: String,
}

/// The same answer for every valid request.
#[derive(Serialize, ToSchema)]
pub struct RecoveryAccepted {
    /// Always `accepted`.
    pub status: &'static str,
    /// What happens next.
    pub message: &'static str,
}

/// A recovery completion: `email` + `code`, or `token` (from the mail's link).
#[derive(Deserialize, ToSchema)]
pub struct RecoveryCompleteBody {
    /// The account's address (with `code`).
    #[schema(format = Email)]
    pub email: Option<String>,
    /// The code from the mail, `XXXX-XXXX` (hyphens, spaces and case
    /// optional; O reads as 0, I and L as 1).
    #[schema(
        example = "7K3Q-9XMD",
        pattern = "^[ \t-]*(?:[0-9A-TV-Za-tv-z][ \t-]*){8}$"
    )]
    pub code: Option<String>,
    /// The token from the mail's link, instead of `email` and `code`.
    pub token: Option<String>,
    /// The new password.
    #[schema(format = Password)]
    pub new_password: String,
}

/// Recovery done.
#[derive(Serialize, ToSchema)]
pub struct RecoveryDone {
    /// Always `password_changed`.
    pub status: &'static str,
    /// What happened.
    pub message: &'static str,
}

/// Requests a recovery code by e-mail. Always 202 with the same body.
#[utoipa::path(post, path = "/recovery", tag = "recovery", request_body = RecoveryRequestBody,
    responses((status = 202, body = RecoveryAccepted), (status = 400, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn request_recovery(
    State(app): AppState,
    client: Client,
    ApiJson(body): ApiJson<RecoveryRequestBody>,
) -> Result<(StatusCode, axum::Json<RecoveryAccepted>), ApiError> {
    app.request_recovery(&body.email, &client).await?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(RecoveryAccepted {
            status: "accepted",
            message: RECOVERY_ACCEPTED,
        }),
    ))
}

/// Reads which proof a completion presents.
pub fn proof<'a>(
    email: Option<&'a str>,
    code: Option<&'a str>,
    token: Option<&'a str>,
) -> Result<RecoveryProof<'a>, AppError> {
    let present = |v: Option<&'a str>| v.map(str::trim).filter(|s| !s.is_empty());
    match (present(email), present(code), present(token)) {
        (_, _, Some(token)) => Ok(RecoveryProof::Token(token)),
        (Some(email), Some(code), None) => Ok(RecoveryProof::Code { email, code }),
        (None, _, None) => Err(AppError::Invalid {
            field: "email",
            message: "give the account's e-mail address with the code".into(),
        }),
        (Some(_), None, None) => Err(AppError::Invalid {
            field: "code",
            message: "give the code from the e-mail".into(),
        }),
    }
}

/// Sets a new password with the mailed code (or link token). Ends every session; does not sign in.
#[utoipa::path(post, path = "/recovery/complete", tag = "recovery", request_body = RecoveryCompleteBody,
    responses((status = 200, body = RecoveryDone), (status = 400, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn complete_recovery(
    State(app): AppState,
    client: Client,
    ApiJson(body): ApiJson<RecoveryCompleteBody>,
) -> Result<axum::Json<RecoveryDone>, ApiError> {
    let proof = proof(
        body.email.as_deref(),
        body.code.as_deref(),
        body.token.as_deref(),
    )?;
    app.complete_recovery(proof, &body.new_password, &client)
        .await?;
    Ok(axum::Json(RecoveryDone {
        status: "password_changed",
        message: "Your password was changed and every session was ended. Sign in with the new password.",
    }))
}

/// "I did not expect this": a person who checked a forced-reset notice says it
/// surprised them. Counted by the campaign's health gate (too many: it pauses).
/// Rate-limited like the check; 204 whether or not the notice was a campaign's.
#[utoipa::path(post, path = "/verify/{reference}/report", tag = "recovery",
    params(("reference" = String, Path, description = "Reference from the notice, e.g. GH-7K3Q-9XMD (`GH-`, hyphens, spaces and case optional)", pattern = "^[\\t\\n\\x0b\\x0c\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*(?![\\t\\n\\x0b\\x0c\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000])(?:[Gg][Hh][ \\t-]*(?:[0-9A-TV-Za-tv-z][ \\t-]*){8}|(?![Gg][Hh])[ \\t-]*(?:[0-9A-TV-Za-tv-z][ \\t-]*){8})[\\t\\n\\x0b\\x0c\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*$")),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn report_unexpected(
    State(app): AppState,
    client: Client,
    ApiPath(reference): ApiPath<String>,
) -> Result<axum::http::StatusCode, ApiError> {
    app.report_unexpected_notice(&reference, &client).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// Checks a notice reference: whether Gatehouse sent it, when, its kind, and the masked recipient.
#[utoipa::path(get, path = "/verify/{reference}", tag = "recovery",
    params(("reference" = String, Path, description = "Reference from the notice, e.g. GH-7K3Q-9XMD (`GH-`, hyphens, spaces and case optional)", pattern = "^[\\t\\n\\x0b\\x0c\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*(?![\\t\\n\\x0b\\x0c\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000])(?:[Gg][Hh][ \\t-]*(?:[0-9A-TV-Za-tv-z][ \\t-]*){8}|(?![Gg][Hh])[ \\t-]*(?:[0-9A-TV-Za-tv-z][ \\t-]*){8})[\\t\\n\\x0b\\x0c\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*$")),
    responses((status = 200, body = VerifiedNotice), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn verify(
    State(app): AppState,
    client: Client,
    ApiPath(reference): ApiPath<String>,
) -> Result<axum::Json<VerifiedNotice>, ApiError> {
    Ok(axum::Json(app.verify_reference(&reference, &client).await?))
}

/// Outbox filter.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OutboxQuery {
    /// Only notices in this state (pending, sending, sent, failed, coalesced, expired).
    #[param(pattern = "^(pending|sending|sent|failed|coalesced|expired)$")]
    pub state: Option<String>,
    /// Most rows, newest first (default 100, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

/// One notice as operators see it (no payload: it may hold a code).
#[derive(Serialize, ToSchema)]
pub struct NoticeBody {
    /// Id.
    pub id: String,
    /// Reference.
    pub reference: String,
    /// Kind.
    pub kind: String,
    /// Account id.
    pub account: Option<String>,
    /// Recipient address.
    pub recipient: String,
    /// State.
    pub state: String,
    /// Attempts so far.
    pub attempts: i64,
    /// Next attempt (pending), RFC 3339.
    pub next_attempt_at: String,
    /// The mail server's last answer.
    pub last_error: Option<String>,
    /// Merged into this notice.
    pub coalesced_into: Option<String>,
    /// Earlier notices merged into this one.
    pub coalesced_count: i64,
    /// Enqueued, RFC 3339.
    pub created_at: String,
    /// Accepted by the mail server, RFC 3339.
    pub sent_at: Option<String>,
    /// Message-ID header.
    pub message_id: String,
}

impl From<Notice> for NoticeBody {
    fn from(n: Notice) -> Self {
        Self {
            id: n.id.to_string(),
            reference: n.reference,
            kind: n.kind.as_str().into(),
            account: n.account.map(|a| a.to_string()),
            recipient: n.recipient,
            state: n.state.as_str().into(),
            attempts: n.attempts,
            next_attempt_at: n.next_attempt_at.to_rfc3339(),
            last_error: n.last_error,
            coalesced_into: n.coalesced_into.map(|a| a.to_string()),
            coalesced_count: n.coalesced_count,
            created_at: n.created_at.to_rfc3339(),
            sent_at: n.sent_at.map(|t| t.to_rfc3339()),
            message_id: n.message_id,
        }
    }
}

/// The outbox, newest first (operator key).
#[utoipa::path(get, path = "/admin/outbox", tag = "admin", params(OutboxQuery),
    responses((status = 200, body = Vec<NoticeBody>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)), security(("operator" = [])))]
async fn admin_outbox(
    State(app): AppState,
    OperatorAuth(_op): OperatorAuth,
    ApiQuery(q): ApiQuery<OutboxQuery>,
) -> Result<axum::Json<Vec<NoticeBody>>, ApiError> {
    let state = q
        .state
        .as_deref()
        .map(|s| s.parse::<NoticeState>())
        .transpose()
        .map_err(|message| AppError::Invalid {
            field: "state",
            message,
        })?;
    let notices = app.outbox(state, page_limit(q.limit, 100)?).await?;
    Ok(axum::Json(
        notices.into_iter().map(NoticeBody::from).collect(),
    ))
}

/// Sends a failed notice again (operator key).
#[utoipa::path(post, path = "/admin/outbox/{id}/retry", tag = "admin",
    params(("id" = String, Path, description = "Notice id")),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody)), security(("operator" = [])))]
async fn admin_outbox_retry(
    State(app): AppState,
    OperatorAuth(op): OperatorAuth,
    IdPath(id): IdPath<NoticeId>,
) -> Result<StatusCode, ApiError> {
    app.retry_notice(id, Some(&op)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The routes with their OpenAPI entries.
pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(request_recovery))
        .routes(routes!(complete_recovery))
        .routes(routes!(verify))
        .routes(routes!(report_unexpected))
        .routes(routes!(admin_outbox))
        .routes(routes!(admin_outbox_retry))
}
