//! The app's pages: plain, accessible HTML (landmarks, one heading per page,
//! real buttons), a small style sheet with light and dark colours, no script.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};

use crate::{AppConfig, AppSession, ExampleApp};

/// A failure shown to the person as a page, with what to do next.
pub(crate) struct Failure {
    pub status: StatusCode,
    pub message: String,
}

impl Failure {
    /// The request cannot go on (a stale or foreign callback, a refusal).
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    /// Gatehouse could not be reached or answered wrongly.
    pub fn provider(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_GATEWAY,
            message: message.into(),
        }
    }

    /// The app's own configuration is wrong.
    pub fn internal(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: message.into(),
        }
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::warn!(status = %self.status, message = %self.message, "example app failure");
        }
        let body = format!(
            "<h1>Not signed in</h1>\n<p role=\"alert\">{}</p>\n<p><a class=\"button\" href=\"/\">Back to the app</a></p>",
            escape(&self.message)
        );
        (self.status, page("Not signed in", &body)).into_response()
    }
}

/// The home page: who is signed in, or a "Sign in" button.
pub(crate) fn home(config: &AppConfig, session: Option<&AppSession>) -> Html<String> {
    let issuer = config.issuer.as_str().trim_end_matches('/');
    let body = match session {
        Some(s) => {
            let who = s.email.as_deref().unwrap_or(&s.sub);
            format!(
                "<h1>Example app</h1>\n\
                 <p>Signed in as <strong>{who}</strong>, through Gatehouse.</p>\n\
                 <p>Your password, sessions and security notices are on \
                 <a href=\"{issuer}/settings\">Gatehouse's settings page</a>.</p>\n\
                 <form method=\"post\" action=\"/logout\">\n\
                 <button type=\"submit\">Sign out</button>\n\
                 </form>",
                who = escape(who),
                issuer = escape(issuer),
            )
        }
        None => format!(
            "<h1>Example app</h1>\n\
             <p>You are not signed in. This app signs you in with your account at \
             Gatehouse ({issuer}).</p>\n\
             <p><a class=\"button\" href=\"/login\">Sign in</a></p>",
            issuer = escape(issuer),
        ),
    };
    page("Example app", &body)
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title} · Example app</title>\n<link rel=\"stylesheet\" href=\"/style.css\">\n\
         </head>\n<body>\n<header><a class=\"brand\" href=\"/\">Example app</a></header>\n\
         <main id=\"main\">\n{body}\n</main>\n<footer><p>An example app of the site, signed in \
         through Gatehouse with OpenID Connect.</p></footer>\n</body>\n</html>\n",
        title = escape(title),
    ))
}

/// HTML-escapes text for element content and quoted attribute values.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "\
:root { color-scheme: light dark; --fg: #1a1a1a; --bg: #ffffff; --muted: #4a4a4a; --accent: #0b57d0; --accent-fg: #ffffff; }
@media (prefers-color-scheme: dark) { :root { --fg: #ececec; --bg: #121212; --muted: #c4c4c4; --accent: #8ab4f8; --accent-fg: #0b0b0b; } }
* { box-sizing: border-box; }
body { margin: 0; font: 1.0625rem/1.5 system-ui, sans-serif; color: var(--fg); background: var(--bg); }
header, main, footer { max-width: 40rem; margin: 0 auto; padding: 1rem; }
header { border-bottom: 1px solid var(--muted); }
.brand { font-weight: 700; color: var(--fg); }
a { color: var(--accent); overflow-wrap: anywhere; }
strong { overflow-wrap: anywhere; }
footer { color: var(--muted); font-size: 0.9375rem; }
.button, button { display: inline-block; padding: 0.6rem 1.2rem; border: 2px solid var(--accent); border-radius: 0.4rem; background: var(--accent); color: var(--accent-fg); font: inherit; font-weight: 600; text-decoration: none; cursor: pointer; }
.button:focus-visible, button:focus-visible, a:focus-visible { outline: 3px solid var(--fg); outline-offset: 2px; }
[role=alert] { border-left: 4px solid #b3261e; padding-left: 0.75rem; }
";

pub(crate) async fn style() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        STYLE,
    )
        .into_response()
}

/// Headers on every answer: no framing, no script, forms only to the app and to
/// Gatehouse (the sign-out form's redirect goes on to Gatehouse, and Chromium
/// applies `form-action` to redirects), no referrer (the callback's URL holds the
/// code), and pages never cached (they show who is signed in).
pub(crate) async fn security_headers(
    State(app): State<Arc<ExampleApp>>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    let issuer_origin = app.config.issuer.origin().ascii_serialization();
    let csp = format!(
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self' {issuer_origin}; \
         frame-ancestors 'none'; base-uri 'none'"
    );
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}
