//! The operator console: `/console/…`, plain server-rendered HTML behind an
//! operator sign-in (a console session, not an API key).
//!
//! Forgery protection is layered: the global CSRF layer refuses cross-origin
//! form posts (Origin / Sec-Fetch-Site), the console cookie is SameSite=Strict,
//! and every console form carries the session's keyed anti-forgery token
//! ([`gatehouse_domain::console_csrf_token`]), checked by [`ConsoleAction`]
//! before the form is even parsed.
//!
//! Every state change goes through the same `App` methods as the admin API and
//! the CLI, with the operator as the audited actor.

mod accounts;
mod apps;
mod audit;
mod auth;
mod campaigns;
mod incidents;
mod operators;
mod overview;
mod rules;
mod words;

use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use gatehouse_domain::csrf_matches;
use serde::de::DeserializeOwned;

use crate::app::console::{CONSOLE_LIFETIME, ConsoleOperator};
use crate::app::{App, AppError};
use crate::config::Config;
use crate::http::extract::{IdPath, PathId};

/// Routes under `/console`.
pub fn router() -> Router<Arc<App>> {
    Router::new()
        .merge(auth::router())
        .merge(overview::router())
        .merge(accounts::router())
        .merge(rules::router())
        .merge(campaigns::router())
        .merge(incidents::router())
        .merge(operators::router())
        .merge(apps::router())
        .merge(audit::router())
}

/// The console cookie's name: `__Host-` on https (no Domain, Path=/, Secure).
fn cookie_name(config: &Config) -> &'static str {
    if config.is_https() {
        "__Host-gatehouse_console"
    } else {
        "gatehouse_console"
    }
}

/// The console cookie. SameSite=Strict: a console page is never the target of
/// a link from elsewhere that should arrive signed in.
fn session_cookie(config: &Config, value: String, max_age: std::time::Duration) -> Cookie<'static> {
    Cookie::build((cookie_name(config), value))
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(config.is_https())
        .path("/")
        .max_age(time::Duration::seconds(
            i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX),
        ))
        .build()
}

fn new_session_cookie(config: &Config, token: &str) -> Cookie<'static> {
    session_cookie(config, token.to_owned(), CONSOLE_LIFETIME)
}

fn clear_session_cookie(config: &Config) -> Cookie<'static> {
    session_cookie(config, String::new(), std::time::Duration::ZERO)
}

/// A signed-in operator, for console pages. Without a live console session the
/// request is sent to the sign-in page (and back here afterwards).
pub(crate) struct Console(pub ConsoleOperator);

impl FromRequestParts<Arc<App>> for Console {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, Response> {
        let jar = CookieJar::from_headers(&parts.headers);
        let Some(cookie) = jar.get(cookie_name(&app.config)) else {
            return Err(to_sign_in(parts));
        };
        match app.console_authenticate(cookie.value()).await {
            Ok(who) => Ok(Self(who)),
            Err(AppError::Unauthenticated) => Err(to_sign_in(parts)),
            Err(e) => Err(failure(e)),
        }
    }
}

/// 303 to the sign-in page, remembering where the operator was going (only a
/// console path: never a redirect off the site).
fn to_sign_in(parts: &Parts) -> Response {
    let path = parts.uri.path();
    // `safe_next` admits only characters that need no escaping in a query.
    let next = if parts.method == axum::http::Method::GET && safe_next(path) {
        format!("?next={path}")
    } else {
        String::new()
    };
    Redirect::to(&format!("/console/login{next}")).into_response()
}

/// Whether `next` is a console path we may redirect to after sign-in.
fn safe_next(next: &str) -> bool {
    next.starts_with("/console")
        && !next.starts_with("/console/login")
        && next
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/-_".contains(c))
}

/// A console form post: the signed-in operator and the form, after the
/// anti-forgery token (`csrf` field) matched. Wrong or missing token: 403.
pub(crate) struct ConsoleAction<T> {
    pub who: ConsoleOperator,
    pub form: T,
}

impl<T: DeserializeOwned> FromRequest<Arc<App>> for ConsoleAction<T> {
    type Rejection = Response;

    async fn from_request(req: Request, app: &Arc<App>) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let Console(who) = Console::from_request_parts(&mut parts, app).await?;
        let req = Request::from_parts(parts, body);
        let bytes = axum::body::Bytes::from_request(req, app)
            .await
            .map_err(IntoResponse::into_response)?;
        let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes)
            .map_err(|e| bad_request(format!("The form could not be read: {e}.")))?;
        let presented = fields
            .iter()
            .find(|(k, _)| k == "csrf")
            .map_or("", |(_, v)| v.as_str());
        if !csrf_matches(&who.csrf, presented) {
            return Err(page_error(
                StatusCode::FORBIDDEN,
                "This form has expired",
                "The form's security token did not match your session. Go back, reload the page and try again.",
            ));
        }
        let form = serde_urlencoded::from_bytes(&bytes)
            .map_err(|e| bad_request(format!("The form could not be read: {e}.")))?;
        Ok(Self { who, form })
    }
}

/// Decodes `body` as every console form the way [`ConsoleAction`] does (the
/// field list for the token, then the form), for the fuzz targets
/// (`crate::fuzzing`). Returns how many forms accepted it.
#[doc(hidden)]
pub(crate) fn decode_forms(body: &[u8]) -> usize {
    fn one<T: DeserializeOwned>(body: &[u8]) -> usize {
        usize::from(serde_urlencoded::from_bytes::<T>(body).is_ok())
    }
    let _ = serde_urlencoded::from_bytes::<Vec<(String, String)>>(body);
    one::<auth::SignInForm>(body)
        + one::<campaigns::CreateForm>(body)
        + one::<campaigns::ApproveForm>(body)
        + one::<campaigns::CommandForm>(body)
        + one::<incidents::DraftForm>(body)
        + one::<incidents::StateForm>(body)
        + one::<incidents::PostmortemForm>(body)
        + one::<operators::RotateForm>(body)
        + one::<overview::ReasonForm>(body)
}

/// What every console page shows around its content.
pub(crate) struct Layout {
    /// The signed-in operator's address.
    pub email: String,
    /// The signed-in operator's id.
    pub operator_id: String,
    /// The anti-forgery token for the page's forms.
    pub csrf: String,
    /// Which navigation entry is current.
    pub active: &'static str,
    /// A confirmation after a redirect (fixed texts only: never echoed input).
    pub notice: Option<&'static str>,
}

impl Layout {
    pub(crate) fn new(who: &ConsoleOperator, active: &'static str) -> Self {
        Self {
            email: who.operator.email.clone(),
            operator_id: who.operator.id.to_string(),
            csrf: who.csrf.clone(),
            active,
            notice: None,
        }
    }

    pub(crate) fn with_notice(mut self, key: Option<&str>) -> Self {
        self.notice = key.and_then(notice_text);
        self
    }
}

/// Confirmations shown after an action's redirect, by key.
fn notice_text(key: &str) -> Option<&'static str> {
    Some(match key {
        "created" => "Campaign created as a draft. Preview it to freeze its accounts.",
        "previewed" => "Preview done: the accounts are frozen. Approval binds to this snapshot.",
        "approved" => "Campaign approved.",
        "start" => "Campaign started. It runs in stages under the budget.",
        "pause" => "Campaign paused.",
        "resume" => "Campaign resumed.",
        "abort" => "Campaign aborted. Accounts already reset stay reset until you undo.",
        "undone" => {
            "Undo started: the campaign worker restores the accounts at the campaign's rate, and corrections follow. Refresh to follow it."
        }
        "rule_undone" => {
            "Undo of the rule's campaigns started: campaigns that reset accounts are restoring them (paced, with corrections), campaigns that reset nobody are aborted. The rule itself is unchanged: set it to off or shadow if it is wrong."
        }
        "tripped" => "Breaker tripped. Automation and unsent security notices are paused.",
        "closed" => "Breaker closed. Automation may resume.",
        "saved" => "Saved.",
        "published" => "Incident published on the status page.",
        "updated" => "Update posted.",
        "resolved" => "Incident resolved.",
        "drafted" => "Draft saved. It is not public until you publish it.",
        "key_revoked" => "Key revoked: it no longer works. Rotate it to give a new one.",
        "operator_disabled" => {
            "Operator disabled: their key and console sign-in are refused, and their console sessions ended."
        }
        "operator_enabled" => "Operator enabled again.",
        _ => return None,
    })
}

/// Names for actors: `operator:<id>` becomes the operator's address, `system`
/// says it was Gatehouse itself; anything else is shown as stored.
pub(crate) struct Names(std::collections::HashMap<String, String>);

impl Names {
    pub(crate) async fn load(app: &App) -> Result<Self, ConsoleError> {
        Ok(Self(
            app.store
                .operator_emails()
                .await?
                .into_iter()
                .map(|(id, email)| (id.to_string(), email))
                .collect(),
        ))
    }

    /// `kind:id` (campaigns, incidents, the breaker) for people.
    pub(crate) fn actor(&self, text: &str) -> String {
        match text.split_once(':') {
            Some(("operator", id)) => self.operator(id),
            _ if text == "system" => "Gatehouse (automatic)".to_owned(),
            _ => text.to_owned(),
        }
    }

    /// An operator id for people (an id no longer known stays as it is).
    pub(crate) fn operator(&self, id: &str) -> String {
        self.0
            .get(id)
            .cloned()
            .unwrap_or_else(|| format!("operator {id}"))
    }
}

/// A finding as the rules and account pages list it.
pub(crate) struct FindingRow {
    pub account_id: String,
    pub email: String,
    pub rule: String,
    /// The status in words, and as stored (`data-state`).
    pub status: String,
    pub status_code: String,
    pub score: String,
    pub explanation: String,
    /// When the finding was made; the raw string if it does not parse.
    pub created: String,
    pub created_at: Option<crate::human_time::When>,
}

impl FindingRow {
    pub(crate) fn new(
        f: crate::app::findings::FindingView,
        now: gatehouse_domain::Timestamp,
    ) -> Self {
        Self {
            rule: format!("{} v{}", f.rule, f.rule_version),
            score: format!("{:.2}", f.score),
            explanation: f.evidence["explanation"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            account_id: f.account_id,
            email: f.email,
            status: words::finding_status(&f.status),
            status_code: f.status,
            created_at: crate::human_time::When::parse(&f.created_at, now),
            created: f.created_at,
        }
    }
}

/// The console is Gatehouse's own tool for the operator: its sign-in and error
/// pages carry the product's name, not the site's.
pub(crate) const CONSOLE_NAME: &str = "Gatehouse";

/// An error page inside the console.
#[derive(Template, WebTemplate)]
#[template(path = "console_message.html")]
struct MessagePage {
    /// The operator's name for the site (`site_name`): title, header, footer.
    site_name: String,
    title: String,
    message: String,
}

fn page_error(status: StatusCode, title: &str, message: &str) -> Response {
    (
        status,
        MessagePage {
            site_name: CONSOLE_NAME.to_owned(),
            title: title.to_owned(),
            message: message.to_owned(),
        },
    )
        .into_response()
}

fn bad_request(message: String) -> Response {
    page_error(
        StatusCode::BAD_REQUEST,
        "That form could not be read",
        &message,
    )
}

/// A failed console action as a page with the status the API would answer.
pub(crate) fn failure(e: AppError) -> Response {
    let (status, message, retry) = crate::http::pages::form_failure(e);
    crate::http::pages::with_retry(page_error(status, "That did not work", &message), retry)
}

/// A failed console action: shown as the console's error page with the status
/// the API would answer (the one error→HTTP mapping, `http::error`).
pub(crate) struct ConsoleError(AppError);

impl From<AppError> for ConsoleError {
    fn from(e: AppError) -> Self {
        Self(e)
    }
}

impl From<gatehouse_store::StoreError> for ConsoleError {
    fn from(e: gatehouse_store::StoreError) -> Self {
        Self(e.into())
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        failure(self.0)
    }
}

/// The path's `{id}` on a console page: an [`IdPath`], refused with the
/// console's 404 page whatever the API answers for a malformed id (a page
/// link that does not parse names nothing).
///
/// Before that 404 the caller must be signed in, as for an id that parses: a
/// form post takes this before its [`ConsoleAction`], which checks that.
pub(crate) struct ConsoleId<T>(pub T);

impl<T: PathId + Send> FromRequestParts<Arc<App>> for ConsoleId<T> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, Response> {
        match IdPath::<T>::from_request_parts(parts, app).await {
            Ok(IdPath(id)) => return Ok(Self(id)),
            Err(e @ AppError::Unexpected(_)) => return Err(failure(e)),
            Err(_) => {}
        }
        Console::from_request_parts(parts, app).await?;
        Err(failure(AppError::NotFound(T::NOUN)))
    }
}

/// A console handler's result: a page, or an error page.
pub(crate) type PageResult = Result<Response, ConsoleError>;

/// 303 See Other after a successful post, with a confirmation key.
pub(crate) fn done(to: &str, notice: &str) -> Response {
    let sep = if to.contains('?') { '&' } else { '?' };
    Redirect::to(&format!("{to}{sep}ok={notice}")).into_response()
}

/// `?ok=` on console pages.
#[derive(serde::Deserialize, Default)]
pub(crate) struct Flash {
    pub ok: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_is_only_a_console_path() {
        assert!(safe_next("/console"));
        assert!(safe_next("/console/campaigns/abc-123"));
        assert!(!safe_next("/console/login"));
        assert!(!safe_next("//evil.example/console"));
        assert!(!safe_next("https://evil.example/console"));
        assert!(!safe_next("/console/../settings?x"));
        assert!(!safe_next("/settings"));
    }
}
