//! The public status page (`/status`), its Atom feed (`/status.atom`), and the
//! pages behind the subscription mails (`/status/confirm`, `/status/unsubscribe`).
//!
//! Links in status mail land on a page with a button: a GET never confirms or
//! unsubscribes, because mail scanners follow links. The one exception to
//! "a form posts from our page" is RFC 8058's one-click POST, which a mail
//! provider sends with `List-Unsubscribe=One-Click` and the token in the URL;
//! it can only ever remove the one subscriber the token names.

use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use gatehouse_domain::status::{Impact, IncidentState};
use gatehouse_domain::{Email, Timestamp};
use serde::Deserialize;

use super::pages::{PageForm, form_failure, message, with_retry};
use crate::app::status::{PublicIncident, PublicStatus, SUBSCRIBE_ACCEPTED};
use crate::app::{App, Client};
use crate::human_time::When;

#[derive(Template, WebTemplate)]
#[template(path = "status.html")]
struct StatusPage {
    site_name: String,
    view: PublicStatus,
    active: Vec<IncidentView>,
    history: Vec<IncidentView>,
    email: String,
    notice: Option<&'static str>,
    error: Option<String>,
}

/// A published incident as the status page shows it: states and impact in
/// words, times for people (the raw values stay in the JSON API and the feed).
struct IncidentView {
    id: i64,
    title: String,
    /// The impact's stored value, only for the CSS class.
    impact_class: String,
    /// "Minor impact".
    impact: &'static str,
    published_at: Option<When>,
    resolved_at: Option<When>,
    postmortem: Option<String>,
    updates: Vec<UpdateView>,
}

struct UpdateView {
    /// "Investigating".
    state: &'static str,
    at: Option<When>,
    body: String,
}

impl IncidentView {
    fn new(i: PublicIncident, now: Timestamp) -> Self {
        Self {
            id: i.id,
            title: i.title,
            impact: i
                .impact
                .parse::<Impact>()
                .map_or("Impact unknown", Impact::label),
            impact_class: i.impact,
            published_at: When::parse(&i.published_at, now),
            resolved_at: i.resolved_at.as_deref().and_then(|t| When::parse(t, now)),
            postmortem: i.postmortem,
            updates: i
                .updates
                .into_iter()
                .map(|u| UpdateView {
                    // A state this version does not know reads as a plain "Update".
                    state: u
                        .state
                        .parse::<IncidentState>()
                        .map_or("Update", IncidentState::label),
                    at: When::parse(&u.at, now),
                    body: u.body,
                })
                .collect(),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "status_confirm.html")]
struct ConfirmPage {
    site_name: String,
    token: String,
    error: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "status_unsubscribe.html")]
struct UnsubscribePage {
    /// The operator's name for the site (`site_name`): title, header, footer.
    site_name: String,
    token: String,
    recipient: String,
    already: bool,
}

struct FeedEntry {
    id: String,
    title: String,
    updated: String,
    link: String,
    content: String,
}

#[derive(Template)]
#[template(path = "status.atom.xml", escape = "html")]
struct Feed {
    site_name: String,
    status_url: String,
    feed_url: String,
    updated: String,
    entries: Vec<FeedEntry>,
}

fn page_error(app: &App, e: crate::app::AppError) -> Response {
    let (status, msg, retry) = form_failure(e);
    with_retry(
        message(&app.config.site_name, status, "That did not work", msg),
        retry,
    )
}

async fn status_page(
    app: &App,
    status: StatusCode,
    email: String,
    notice: Option<&'static str>,
    error: Option<String>,
    retry: Option<u64>,
) -> Response {
    match app.public_status().await {
        Ok(mut view) => with_retry(
            (
                status,
                StatusPage {
                    site_name: app.config.site_name.clone(),
                    active: incident_views(&mut view.active, app.clock.now()),
                    history: incident_views(&mut view.history, app.clock.now()),
                    view,
                    email,
                    notice,
                    error,
                },
            )
                .into_response(),
            retry,
        ),
        Err(e) => page_error(app, e),
    }
}

/// Takes the incidents out of the view (the page shows them as [`IncidentView`]s).
fn incident_views(list: &mut Vec<PublicIncident>, now: Timestamp) -> Vec<IncidentView> {
    std::mem::take(list)
        .into_iter()
        .map(|i| IncidentView::new(i, now))
        .collect()
}

async fn show(State(app): State<Arc<App>>) -> Response {
    status_page(&app, StatusCode::OK, String::new(), None, None, None).await
}

#[derive(Deserialize)]
pub(crate) struct SubscribeForm {
    email: String,
}

async fn subscribe(
    State(app): State<Arc<App>>,
    client: Client,
    PageForm(f): PageForm<SubscribeForm>,
) -> Response {
    match app.subscribe_status(&f.email, &client).await {
        // The same page whether or not the address is subscribed already.
        Ok(()) => {
            status_page(
                &app,
                StatusCode::ACCEPTED,
                String::new(),
                Some(SUBSCRIBE_ACCEPTED),
                None,
                None,
            )
            .await
        }
        Err(e) => {
            let (status, msg, retry) = form_failure(e);
            status_page(&app, status, f.email, None, Some(msg), retry).await
        }
    }
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

async fn confirm_form(State(app): State<Arc<App>>, Query(q): Query<TokenQuery>) -> Response {
    ConfirmPage {
        site_name: app.config.site_name.clone(),
        token: q.token.unwrap_or_default(),
        error: None,
    }
    .into_response()
}

#[derive(Deserialize)]
pub(crate) struct TokenForm {
    token: Option<String>,
}

async fn confirm(
    State(app): State<Arc<App>>,
    client: Client,
    PageForm(f): PageForm<TokenForm>,
) -> Response {
    let token = f.token.unwrap_or_default();
    match app.confirm_status_subscription(&token, &client).await {
        Ok(sub) => message(
            &app.config.site_name,
            StatusCode::OK,
            "Subscription confirmed",
            format!(
                "We will e-mail {} when an incident is published, updated or resolved. Every e-mail has a link to stop them.",
                masked(&sub.email)
            ),
        ),
        Err(e) => {
            let (status, msg, retry) = form_failure(e);
            with_retry(
                (
                    status,
                    ConfirmPage {
                        site_name: app.config.site_name.clone(),
                        token,
                        error: Some(msg),
                    },
                )
                    .into_response(),
                retry,
            )
        }
    }
}

fn masked(email: &str) -> String {
    Email::parse(email)
        .map(|e| e.masked())
        .unwrap_or_else(|_| "this address".into())
}

async fn unsubscribe_form(State(app): State<Arc<App>>, Query(q): Query<TokenQuery>) -> Response {
    let token = q.token.unwrap_or_default();
    match app.status_subscriber_for_unsubscribe(&token).await {
        Ok(sub) => UnsubscribePage {
            site_name: app.config.site_name.clone(),
            token,
            recipient: masked(&sub.email),
            already: sub.state == gatehouse_domain::status::SubscriberState::Unsubscribed,
        }
        .into_response(),
        Err(e) => page_error(&app, e),
    }
}

#[derive(Deserialize)]
pub(crate) struct UnsubscribeForm {
    token: Option<String>,
    /// RFC 8058's body, `List-Unsubscribe=One-Click` (the token is then in the URL).
    #[serde(rename = "List-Unsubscribe")]
    #[allow(dead_code)] // its presence is all RFC 8058 asks for; the token decides
    one_click: Option<String>,
}

async fn unsubscribe(
    State(app): State<Arc<App>>,
    client: Client,
    Query(q): Query<TokenQuery>,
    PageForm(f): PageForm<UnsubscribeForm>,
) -> Response {
    let token = f.token.or(q.token).unwrap_or_default();
    match app.unsubscribe_status(&token, &client).await {
        Ok(sub) => message(
            &app.config.site_name,
            StatusCode::OK,
            "Unsubscribed",
            format!(
                "We will not e-mail status updates to {} any more. You can subscribe again on the status page at any time.",
                masked(&sub.email)
            ),
        ),
        Err(e) => page_error(&app, e),
    }
}

/// The Atom 1.0 feed: one entry per update of each published incident, newest
/// first. Entry ids use the update's position in its incident (updates are
/// only ever appended), so a feed reader sees each update once.
async fn atom(State(app): State<Arc<App>>) -> Response {
    let view = match app.public_status().await {
        Ok(v) => v,
        Err(e) => return page_error(&app, e),
    };
    // From the configured origin only, never the Host header.
    let base = app.config.public_url.as_str().trim_end_matches('/');
    let status_url = format!("{base}/status");
    let mut entries: Vec<FeedEntry> = Vec::new();
    for i in view.active.iter().chain(view.history.iter()) {
        let n = i.updates.len();
        for (k, u) in i.updates.iter().enumerate() {
            let state = u
                .state
                .parse::<gatehouse_domain::status::IncidentState>()
                .map_or("Update", |s| s.label());
            entries.push(FeedEntry {
                id: format!("{status_url}#incident-{}-update-{}", i.id, n - k),
                title: format!("{state}: {}", i.title),
                updated: u.at.clone(),
                link: format!("{status_url}#incident-{}", i.id),
                content: u.body.clone(),
            });
        }
    }
    entries.sort_by(|a, b| b.updated.cmp(&a.updated));
    let feed = Feed {
        site_name: app.config.site_name.clone(),
        updated: entries
            .first()
            .map_or_else(|| view.generated_at.clone(), |e| e.updated.clone()),
        feed_url: format!("{base}/status.atom"),
        status_url,
        entries,
    };
    match feed.render() {
        Ok(xml) => (
            [(header::CONTENT_TYPE, "application/atom+xml; charset=utf-8")],
            xml,
        )
            .into_response(),
        Err(e) => page_error(&app, crate::app::AppError::Unexpected(e.into())),
    }
}

/// The status page routes.
pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/status", get(show))
        .route("/status.atom", get(atom))
        .route("/status/subscribe", axum::routing::post(subscribe))
        .route("/status/confirm", get(confirm_form).post(confirm))
        .route(
            "/status/unsubscribe",
            get(unsubscribe_form).post(unsubscribe),
        )
}
