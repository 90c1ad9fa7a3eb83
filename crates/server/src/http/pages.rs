//! Server-rendered pages: plain HTML forms that work without JavaScript.
//! Forms are protected against cross-site submission by the CSRF layer
//! (Sec-Fetch-Site / Origin) plus the SameSite=Lax session cookie.

use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use gatehouse_domain::SessionId;
use serde::Deserialize;

use crate::app::{App, AppError, Authenticated, Client};
use crate::http::cookies;
use crate::http::error::ApiError;
use crate::http::extract::IdPath;
use crate::human_time::When;

#[derive(Template, WebTemplate)]
#[template(path = "signup.html")]
struct SignupPage {
    /// The operator's name for the site (`site_name`): title, header, footer.
    site_name: String,
    email: String,
    error: Option<String>,
    /// An error about the password itself, shown at that field (a breached password).
    password_error: Option<String>,
    min_length: usize,
}

#[derive(Template, WebTemplate)]
#[template(path = "login.html")]
struct LoginPage {
    /// The operator's name for the site (`site_name`): title, header, footer.
    site_name: String,
    email: String,
    error: Option<String>,
    notice: Option<&'static str>,
    /// Where to go after signing in (OIDC: a local `/oauth2/authorize?…` only).
    return_to: Option<String>,
}

struct SessionRow {
    id: String,
    user_agent: String,
    ip: String,
    created_at: When,
    last_seen_at: When,
    current: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "settings.html")]
struct SettingsPage {
    email: String,
    sessions: Vec<SessionRow>,
    /// "Was I affected?": the campaigns that reset this account.
    campaigns: Vec<AffectedRow>,
    site_name: String,
    notice: Option<&'static str>,
    /// An explanatory banner asking for something (e.g. change a breached password).
    warning: Option<&'static str>,
    error: Option<String>,
    /// An error about the new password itself, shown at that field.
    new_password_error: Option<String>,
    min_length: usize,
}

/// One campaign that reset the signed-in account, for "Was I affected?".
struct AffectedRow {
    reset_at: Option<When>,
    undone: bool,
    summary: String,
    reference: Option<String>,
    what_to_do: String,
}

/// What a settings page shows besides the account and its sessions.
#[derive(Default)]
struct SettingsView {
    notice: Option<&'static str>,
    warning: Option<&'static str>,
    error: Option<String>,
    new_password_error: Option<String>,
}

/// Errors that belong to the password field rather than the form as a whole.
pub(crate) fn is_password_field_error(e: &AppError) -> bool {
    matches!(e, AppError::BreachedPassword { .. })
}

/// The banner after signing in with a breached password (the login's advice).
const BREACHED_LOGIN_WARNING: &str = "The password you signed in with has appeared in data \
    breaches, so attackers may try it on your account. Please choose a new one below. \
    You are signed in and nothing was reset.";

#[derive(Template, WebTemplate)]
#[template(path = "message.html")]
struct MessagePage {
    /// The operator's name for the site (`site_name`): title, header, footer.
    site_name: String,
    title: String,
    message: String,
    /// A way on from here (href, words), for errors that end a person's errand.
    link: Option<(&'static str, &'static str)>,
}

/// A page-shaped answer for errors that are not about a form field.
pub(crate) fn message(
    site_name: &str,
    status: StatusCode,
    title: &str,
    message: impl Into<String>,
) -> Response {
    (
        status,
        MessagePage {
            site_name: site_name.to_owned(),
            title: title.into(),
            message: message.into(),
            link: None,
        },
    )
        .into_response()
}

/// [`message`] for a refused request, with a link back to where the person
/// can carry on (the refusal itself is decided in `http::error`).
pub(crate) fn refusal(
    site_name: &str,
    status: StatusCode,
    title: &str,
    message: impl Into<String>,
    link: (&'static str, &'static str),
) -> Response {
    (
        status,
        MessagePage {
            site_name: site_name.to_owned(),
            title: title.into(),
            message: message.into(),
            link: Some(link),
        },
    )
        .into_response()
}

/// The message for a failed form, and the status to answer it with (keeping
/// Retry-After for throttling and overload).
pub(crate) fn form_failure(e: AppError) -> (StatusCode, String, Option<u64>) {
    // On a page the field is evident from the form: show the reason alone.
    let reason = match &e {
        AppError::Invalid { message, .. } => Some(message.clone()),
        _ => None,
    };
    let api = ApiError::from(e);
    (
        api.status(),
        sentence(reason.as_deref().unwrap_or(api.message())),
        api.retry_after(),
    )
}

/// "the password is empty" → "The password is empty."
fn sentence(msg: &str) -> String {
    let mut chars = msg.chars();
    let mut out: String = chars
        .next()
        .map(|c| c.to_uppercase().collect())
        .unwrap_or_default();
    out.push_str(chars.as_str());
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}

/// An error page for a failed action that has no form to return to.
fn action_failed(app: &App, e: AppError) -> Response {
    let (status, msg, retry) = form_failure(e);
    with_retry(
        message(&app.config.site_name, status, "That did not work", msg),
        retry,
    )
}

pub(crate) fn with_retry(mut res: Response, retry: Option<u64>) -> Response {
    if let Some(s) = retry {
        res.headers_mut()
            .insert(axum::http::header::RETRY_AFTER, s.into());
    }
    res
}

pub(crate) fn bad_form(site_name: &str, r: FormRejection) -> Response {
    let api = ApiError::from(r);
    refusal(
        site_name,
        api.status(),
        "That form could not be read",
        format!("{} Nothing was changed.", sentence(api.message())),
        ("/", "Go to the start page"),
    )
}

/// A form body; a body that cannot be read gets an HTML error page.
pub(crate) struct PageForm<T>(pub(crate) T);

impl<T: serde::de::DeserializeOwned> axum::extract::FromRequest<Arc<App>> for PageForm<T> {
    type Rejection = Response;

    async fn from_request(req: axum::extract::Request, app: &Arc<App>) -> Result<Self, Response> {
        Form::<T>::from_request(req, app)
            .await
            .map(|Form(v)| Self(v))
            .map_err(|r| bad_form(&app.config.site_name, r))
    }
}

/// The answer to a successful sign-in: the session cookie and a redirect.
fn signed_in(app: &App, jar: CookieJar, out: &crate::app::LoginOutcome, to: &str) -> Response {
    (
        jar.add(cookies::session_cookie(&app.config, out.token.expose())),
        Redirect::to(to),
    )
        .into_response()
}

/// Who is signed in, for pages: `None` sends the visitor to /login.
async fn page_user(app: &App, jar: &CookieJar) -> Option<Authenticated> {
    let cookie = jar.get(cookies::session_cookie_name(&app.config))?;
    app.authenticate(cookie.value()).await.ok()
}

async fn root(State(app): State<Arc<App>>, jar: CookieJar) -> Redirect {
    if page_user(&app, &jar).await.is_some() {
        Redirect::to("/settings")
    } else {
        Redirect::to("/login")
    }
}

async fn signup_form(State(app): State<Arc<App>>) -> SignupPage {
    SignupPage {
        site_name: app.config.site_name.clone(),
        email: String::new(),
        error: None,
        password_error: None,
        min_length: app.config.password_policy.min_chars(),
    }
}

#[derive(Deserialize)]
pub(crate) struct SignupForm {
    email: String,
    password: String,
    password_confirm: String,
}

async fn signup(
    State(app): State<Arc<App>>,
    client: Client,
    jar: CookieJar,
    PageForm(f): PageForm<SignupForm>,
) -> Response {
    let page = |status: StatusCode, error: String, retry: Option<u64>, at_password: bool| {
        let (error, password_error) = if at_password {
            (None, Some(error))
        } else {
            (Some(error), None)
        };
        let p = SignupPage {
            site_name: app.config.site_name.clone(),
            email: f.email.clone(),
            error,
            password_error,
            min_length: app.config.password_policy.min_chars(),
        };
        with_retry((status, p).into_response(), retry)
    };
    if f.password != f.password_confirm {
        return page(
            StatusCode::BAD_REQUEST,
            "The two passwords are not the same.".into(),
            None,
            false,
        );
    }
    if let Err(e) = app.sign_up(&f.email, &f.password, &client).await {
        let at_password = is_password_field_error(&e);
        let (status, msg, retry) = form_failure(e);
        return page(status, msg, retry, at_password);
    }
    match app.log_in(&f.email, &f.password, &client).await {
        Ok(out) => signed_in(&app, jar, &out, "/settings?done=welcome"),
        Err(_) => Redirect::to("/login?done=created").into_response(),
    }
}

#[derive(Deserialize)]
struct Done {
    done: Option<String>,
    /// OIDC (issue 16): the authorization request to resume after signing in.
    return_to: Option<String>,
}

/// A return-to accepted after sign-in: only a local OpenID Connect
/// authorization request, so `/login` cannot be made an open redirect
/// (no other path, no `//host`, no backslash or control characters).
fn safe_return_to(r: Option<&str>) -> Option<String> {
    let r = r?;
    (r.starts_with("/oauth2/authorize?")
        && !r.contains('\\')
        && !r.chars().any(|c| c.is_control() || c.is_whitespace()))
    .then(|| r.to_owned())
}

fn warning_for(done: Option<&str>) -> Option<&'static str> {
    (done? == "breached").then_some(BREACHED_LOGIN_WARNING)
}

fn notice_for(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "welcome" => "Your account is ready.",
        "created" => "Your account is ready. Please sign in.",
        "password" => "Your password was changed.",
        "ended" => "That session was signed out.",
        "others" => "All other sessions were signed out.",
        "logout" => "You are signed out.",
        "recovered" => {
            "Your password was changed and every session was signed out. Sign in with the new password."
        }
        _ => return None,
    })
}

async fn login_form(State(app): State<Arc<App>>, Query(q): Query<Done>) -> Response {
    let page = LoginPage {
        site_name: app.config.site_name.clone(),
        email: String::new(),
        error: None,
        notice: notice_for(q.done.as_deref()),
        return_to: safe_return_to(q.return_to.as_deref()),
    };
    login_page_for(&app, page).await
}

/// The login page; with an OIDC return-to, its CSP also allows the app's
/// origin as a form target (the sign-in's redirects end there, and browsers
/// check `form-action` against each one).
async fn login_page_for(app: &App, page: LoginPage) -> Response {
    let origin = match &page.return_to {
        Some(r) => app.oidc_return_origin(r).await,
        None => None,
    };
    let mut res = page.into_response();
    if let Some(origin) = origin
        && let Ok(csp) = axum::http::HeaderValue::from_str(&format!(
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self' {origin}; \
             frame-ancestors 'none'; base-uri 'none'"
        ))
    {
        res.headers_mut()
            .insert(axum::http::header::CONTENT_SECURITY_POLICY, csp);
    }
    res
}

#[derive(Deserialize)]
pub(crate) struct LoginForm {
    email: String,
    password: String,
    return_to: Option<String>,
}

async fn login(
    State(app): State<Arc<App>>,
    client: Client,
    jar: CookieJar,
    PageForm(f): PageForm<LoginForm>,
) -> Response {
    match app.log_in(&f.email, &f.password, &client).await {
        // A breached password: straight to the change form, with the banner saying why.
        Ok(out) if out.advice.is_some() => {
            signed_in(&app, jar, &out, "/settings?done=breached#change-password")
        }
        Ok(out) => {
            let to = safe_return_to(f.return_to.as_deref());
            signed_in(&app, jar, &out, to.as_deref().unwrap_or("/settings"))
        }
        Err(e) => {
            let (status, msg, retry) = form_failure(e);
            let page = LoginPage {
                site_name: app.config.site_name.clone(),
                email: f.email,
                error: Some(msg),
                notice: None,
                return_to: safe_return_to(f.return_to.as_deref()),
            };
            let mut res = login_page_for(&app, page).await;
            *res.status_mut() = status;
            with_retry(res, retry)
        }
    }
}

async fn settings_page(
    app: &App,
    who: &Authenticated,
    status: StatusCode,
    view: SettingsView,
) -> Response {
    let sessions = match app.list_sessions(who).await {
        Ok(list) => list,
        Err(e) => return action_failed(app, e),
    };
    // Relative times ("12 minutes ago") against the clock that stamped them.
    let now = app.clock.now();
    let rows = sessions
        .into_iter()
        .map(|s| SessionRow {
            id: s.id.to_string(),
            user_agent: s.user_agent.unwrap_or_else(|| "Unknown device".into()),
            ip: s.ip.unwrap_or_else(|| "unknown".into()),
            created_at: When::new(s.created_at, now),
            last_seen_at: When::new(s.last_seen_at, now),
            current: s.id == who.session,
        })
        .collect();
    let campaigns = match app.my_campaigns(who).await {
        Ok(list) => list,
        Err(e) => return action_failed(app, e),
    };
    let campaigns = campaigns
        .into_iter()
        .map(|c| AffectedRow {
            reset_at: c.reset_at.as_deref().and_then(|t| When::parse(t, now)),
            undone: c.undone,
            summary: c.summary,
            reference: c.notice_reference,
            what_to_do: c.what_to_do,
        })
        .collect();
    let page = SettingsPage {
        email: who.email.clone(),
        sessions: rows,
        campaigns,
        site_name: app.config.site_name.clone(),
        notice: view.notice,
        warning: view.warning,
        error: view.error,
        new_password_error: view.new_password_error,
        min_length: app.config.password_policy.min_chars(),
    };
    (status, page).into_response()
}

async fn settings(State(app): State<Arc<App>>, jar: CookieJar, Query(q): Query<Done>) -> Response {
    match page_user(&app, &jar).await {
        Some(who) => {
            let view = SettingsView {
                notice: notice_for(q.done.as_deref()),
                warning: warning_for(q.done.as_deref()),
                ..SettingsView::default()
            };
            settings_page(&app, &who, StatusCode::OK, view).await
        }
        None => Redirect::to("/login").into_response(),
    }
}

#[derive(Deserialize)]
pub(crate) struct PasswordForm {
    current_password: String,
    new_password: String,
    new_password_confirm: String,
    end_other_sessions: Option<String>,
}

async fn change_password(
    State(app): State<Arc<App>>,
    client: Client,
    jar: CookieJar,
    PageForm(f): PageForm<PasswordForm>,
) -> Response {
    let Some(who) = page_user(&app, &jar).await else {
        return Redirect::to("/login").into_response();
    };
    if f.new_password != f.new_password_confirm {
        let view = SettingsView {
            error: Some("The two new passwords are not the same.".to_owned()),
            ..SettingsView::default()
        };
        return settings_page(&app, &who, StatusCode::BAD_REQUEST, view).await;
    }
    let keep_others = f.end_other_sessions.is_none();
    match app
        .change_password(
            &who,
            &f.current_password,
            &f.new_password,
            keep_others,
            &client,
        )
        .await
    {
        Ok(_) => Redirect::to("/settings?done=password").into_response(),
        Err(e) => {
            let at_password = is_password_field_error(&e);
            let (status, msg, retry) = form_failure(e);
            let view = if at_password {
                SettingsView {
                    new_password_error: Some(msg),
                    ..SettingsView::default()
                }
            } else {
                SettingsView {
                    error: Some(msg),
                    ..SettingsView::default()
                }
            };
            with_retry(settings_page(&app, &who, status, view).await, retry)
        }
    }
}

async fn end_session(
    State(app): State<Arc<App>>,
    client: Client,
    jar: CookieJar,
    // Taken as a Result so that signing in is checked first, as for an id
    // that parses.
    id: Result<IdPath<SessionId>, AppError>,
) -> Response {
    let Some(who) = page_user(&app, &jar).await else {
        return Redirect::to("/login").into_response();
    };
    let Ok(IdPath(id)) = id else {
        return message(
            &app.config.site_name,
            StatusCode::NOT_FOUND,
            "Not found",
            "There is no such session.",
        );
    };
    match app.end_session(&who, id, &client).await {
        Ok(()) => Redirect::to("/settings?done=ended").into_response(),
        Err(AppError::NotFound(_)) => message(
            &app.config.site_name,
            StatusCode::NOT_FOUND,
            "Not found",
            "There is no such session.",
        ),
        Err(e) => ApiError::from(e).into_response(),
    }
}

async fn end_others(State(app): State<Arc<App>>, client: Client, jar: CookieJar) -> Response {
    let Some(who) = page_user(&app, &jar).await else {
        return Redirect::to("/login").into_response();
    };
    match app.end_other_sessions(&who, &client).await {
        Ok(_) => Redirect::to("/settings?done=others").into_response(),
        Err(e) => action_failed(&app, e),
    }
}

async fn logout(State(app): State<Arc<App>>, client: Client, jar: CookieJar) -> Response {
    if let Some(who) = page_user(&app, &jar).await {
        // Already ended elsewhere is fine: the visitor wants to be signed out.
        let _ = app.end_session(&who, who.session, &client).await;
    }
    (
        jar.add(cookies::clear_session_cookie(&app.config)),
        Redirect::to("/login?done=logout"),
    )
        .into_response()
}

/// An HTML 404 for paths outside the API.
pub async fn not_found_page(app: &App) -> Response {
    message(
        &app.config.site_name,
        StatusCode::NOT_FOUND,
        "Page not found",
        "There is nothing at this address.",
    )
}

async fn stylesheet() -> impl IntoResponse {
    (
        [
            (axum::http::header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (axum::http::header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../static/style.css"),
    )
}

/// The page routes.
pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/", get(root))
        .route("/signup", get(signup_form).post(signup))
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route("/settings", get(settings))
        .route("/settings/password", post(change_password))
        .route("/settings/sessions/end-others", post(end_others))
        .route("/settings/sessions/{id}/end", post(end_session))
        .merge(super::recovery_pages::router())
        .route("/static/style.css", get(stylesheet))
        // Browsers ask for it on every visit; answer without a 404 in the logs.
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
}
