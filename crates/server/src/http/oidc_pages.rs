//! The OpenID Connect pages: the authorization endpoint (which signs people
//! in through `/login` and asks for consent), and RP-initiated logout.
//!
//! Both pages are forms that change state, so they carry what every form here
//! carries — the CSRF layer's Origin/Sec-Fetch-Site check, `frame-ancestors
//! 'none'` and `X-Frame-Options: DENY` — plus an HMAC anti-forgery token bound
//! to the session (as the console's forms).

use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use gatehouse_domain::csrf_matches;
use gatehouse_domain::oidc::Scope;

use crate::app::oidc::{
    AuthorizeError, AuthorizeOutcome, AuthorizeParams, LogoutRequest, SignedIn, ValidRequest,
};
use crate::app::{App, Client};
use crate::http::cookies;
use crate::http::pages::message;

#[derive(Template, WebTemplate)]
#[template(path = "oidc_consent.html")]
struct ConsentPage {
    site_name: String,
    client_name: String,
    email: String,
    asks: Vec<&'static str>,
    fields: Vec<(String, String)>,
    token: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "oidc_logout.html")]
struct LogoutPage {
    site_name: String,
    client_name: Option<String>,
    email: String,
    fields: Vec<(String, String)>,
    token: String,
}

fn page_error(app: &App, msg: impl Into<String>) -> Response {
    message(
        &app.config.site_name,
        StatusCode::BAD_REQUEST,
        "This sign-in cannot continue",
        msg,
    )
}

async fn signed_in(app: &App, jar: &CookieJar) -> Option<SignedIn> {
    let cookie = jar.get(cookies::session_cookie_name(&app.config))?;
    app.oidc_signed_in(cookie.value()).await
}

/// A form's fields as pairs (a parameter twice is refused, as in the query).
fn pairs(body: &[u8]) -> Option<Vec<(String, String)>> {
    let v: Vec<(String, String)> = serde_urlencoded::from_bytes(body).ok()?;
    let mut seen = std::collections::HashSet::new();
    v.iter().all(|(k, _)| seen.insert(k.clone())).then_some(v)
}

/// Takes our own fields out of a form, leaving the protocol's.
fn take(fields: &mut Vec<(String, String)>, name: &str) -> Option<String> {
    let i = fields.iter().position(|(k, _)| k == name)?;
    Some(fields.remove(i).1)
}

/// Parameters as hidden fields (empty ones left out).
fn hidden<T: serde::Serialize>(params: &T) -> Vec<(String, String)> {
    serde_urlencoded::to_string(params)
        .ok()
        .and_then(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(&q).ok())
        .unwrap_or_default()
}

/// The page CSP, with the client's origin allowed as a form target: a form's
/// answer that redirects to the app is checked against `form-action`.
fn csp_allowing(redirect_uri: &str) -> Option<HeaderValue> {
    let origin = url::Url::parse(redirect_uri)
        .ok()?
        .origin()
        .ascii_serialization();
    HeaderValue::from_str(&format!(
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self' {origin}; \
         frame-ancestors 'none'; base-uri 'none'"
    ))
    .ok()
}

fn redirect_with_csp(url: &str) -> Response {
    let mut res = Redirect::to(url).into_response();
    if let Some(csp) = csp_allowing(url) {
        res.headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    res
}

fn consent_asks(req: &ValidRequest) -> Vec<&'static str> {
    req.scopes
        .iter()
        .map(|s| match s {
            Scope::Openid => "know who you are on this site (an identifier only it sees)",
            Scope::Email => "see your e-mail address",
            Scope::Profile => "see your user name (your e-mail address)",
            Scope::OfflineAccess => "stay signed in while you are signed in here",
        })
        .collect()
}

async fn authorize(State(app): State<Arc<App>>, jar: CookieJar, RawQuery(q): RawQuery) -> Response {
    let params: AuthorizeParams = match serde_urlencoded::from_str(q.as_deref().unwrap_or("")) {
        Ok(p) => p,
        Err(_) => return page_error(&app, "The app sent a request that cannot be read."),
    };
    run_authorize(&app, &jar, &params).await
}

async fn run_authorize(app: &App, jar: &CookieJar, params: &AuthorizeParams) -> Response {
    let req = match app.oidc_check_authorize(params).await {
        Ok(r) => r,
        Err(AuthorizeError::Page(m)) => return page_error(app, m),
        Err(AuthorizeError::Redirect(url)) => return redirect_with_csp(&url),
    };
    let who = signed_in(app, jar).await;
    match app.oidc_authorize(&req, who.as_ref()).await {
        Ok(AuthorizeOutcome::Login { return_to }) => {
            let q = serde_urlencoded::to_string([("return_to", return_to)]).unwrap_or_default();
            Redirect::to(&format!("/login?{q}")).into_response()
        }
        Ok(AuthorizeOutcome::Redirect(url)) => redirect_with_csp(&url),
        Ok(AuthorizeOutcome::Consent) => {
            let who = who.expect("consent is asked only of a signed-in person");
            let page = ConsentPage {
                site_name: app.config.site_name.clone(),
                client_name: req.client.name.clone(),
                email: who.who.email.clone(),
                asks: consent_asks(&req),
                fields: hidden(&req.params),
                token: app.oidc_form_token(who.who.session),
            };
            let mut res = page.into_response();
            if let Some(csp) = csp_allowing(&req.redirect_uri) {
                res.headers_mut()
                    .insert(header::CONTENT_SECURITY_POLICY, csp);
            }
            res
        }
        Err(e) => {
            let (status, msg, _) = crate::http::pages::form_failure(e);
            message(&app.config.site_name, status, "That did not work", msg)
        }
    }
}

async fn consent(State(app): State<Arc<App>>, jar: CookieJar, body: Bytes) -> Response {
    let Some(mut fields) = pairs(&body) else {
        return page_error(&app, "That form could not be read.");
    };
    let token = take(&mut fields, "gh_form_token").unwrap_or_default();
    let decision = take(&mut fields, "gh_decision");
    let Some(who) = signed_in(&app, &jar).await else {
        return Redirect::to("/login").into_response();
    };
    if !csrf_matches(&token, &app.oidc_form_token(who.who.session)) {
        return message(
            &app.config.site_name,
            StatusCode::FORBIDDEN,
            "This form has expired",
            "Go back to the app and sign in again.",
        );
    }
    let query = serde_urlencoded::to_string(&fields).unwrap_or_default();
    let params: AuthorizeParams = match serde_urlencoded::from_str(&query) {
        Ok(p) => p,
        Err(_) => return page_error(&app, "That form could not be read."),
    };
    // Everything is checked again: the form came back from the browser.
    let req = match app.oidc_check_authorize(&params).await {
        Ok(r) => r,
        Err(AuthorizeError::Page(m)) => return page_error(&app, m),
        Err(AuthorizeError::Redirect(url)) => return redirect_with_csp(&url),
    };
    match app
        .oidc_consent(&req, &who, decision.as_deref() == Some("allow"))
        .await
    {
        Ok(url) => redirect_with_csp(&url),
        Err(e) => {
            let (status, msg, _) = crate::http::pages::form_failure(e);
            message(&app.config.site_name, status, "That did not work", msg)
        }
    }
}

fn signed_out(app: &App, jar: CookieJar, redirect: Option<&str>) -> Response {
    let jar = jar.add(cookies::clear_session_cookie(&app.config));
    match redirect {
        Some(url) => (jar, redirect_with_csp(url)).into_response(),
        None => (
            jar,
            message(
                &app.config.site_name,
                StatusCode::OK,
                "You are signed out",
                "You are signed out of this site and of the apps you signed in to with it.",
            ),
        )
            .into_response(),
    }
}

async fn logout(
    app: &App,
    jar: CookieJar,
    client: &Client,
    req: LogoutRequest,
    confirmed: bool,
) -> Response {
    let target = match app.oidc_logout_target(&req).await {
        Ok(t) => t,
        Err(m) => return page_error(app, m),
    };
    let Some(who) = signed_in(app, &jar).await else {
        // Nobody to sign out here: follow a checked redirect, or say so.
        return signed_out(app, jar, target.redirect.as_deref());
    };
    let proven = target.hint_sid.as_deref() == Some(who.who.session.to_string().as_str());
    if !(confirmed || proven) {
        // Without proof that the app knew this session, a link anyone could
        // send must not sign people out: ask.
        return LogoutPage {
            site_name: app.config.site_name.clone(),
            client_name: target.client_name,
            email: who.who.email,
            fields: hidden(&req),
            token: app.oidc_form_token(who.who.session),
        }
        .into_response();
    }
    // Already ended elsewhere is fine: the person wants to be signed out.
    let _ = app.end_session(&who.who, who.who.session, client).await;
    signed_out(app, jar, target.redirect.as_deref())
}

async fn logout_get(
    State(app): State<Arc<App>>,
    client: Client,
    jar: CookieJar,
    RawQuery(q): RawQuery,
) -> Response {
    match serde_urlencoded::from_str::<LogoutRequest>(q.as_deref().unwrap_or("")) {
        Ok(req) => logout(&app, jar, &client, req, false).await,
        Err(_) => page_error(&app, "The app sent a sign-out request that cannot be read."),
    }
}

async fn logout_post(
    State(app): State<Arc<App>>,
    client: Client,
    jar: CookieJar,
    body: Bytes,
) -> Response {
    let Some(mut fields) = pairs(&body) else {
        return page_error(&app, "That form could not be read.");
    };
    let token = take(&mut fields, "gh_form_token");
    let query = serde_urlencoded::to_string(&fields).unwrap_or_default();
    let Ok(req) = serde_urlencoded::from_str::<LogoutRequest>(&query) else {
        return page_error(&app, "That form could not be read.");
    };
    // Our confirmation form carries a token; an app may also POST the request
    // itself (then it is treated like a GET).
    let confirmed = match (&token, signed_in(&app, &jar).await) {
        (Some(t), Some(who)) => csrf_matches(t, &app.oidc_form_token(who.who.session)),
        _ => false,
    };
    if token.is_some() && !confirmed {
        return message(
            &app.config.site_name,
            StatusCode::FORBIDDEN,
            "This form has expired",
            "You were not signed out. Reload the page and try again.",
        );
    }
    logout(&app, jar, &client, req, confirmed).await
}

/// The OIDC page routes.
pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/oauth2/authorize", get(authorize))
        .route("/oauth2/authorize/consent", post(consent))
        .route("/oauth2/logout", get(logout_get).post(logout_post))
}
