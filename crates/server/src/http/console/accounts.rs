//! Accounts in the console: search by address, one account's credential,
//! sessions and findings, and a forced reset (always a one-account campaign).

use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::IntoResponse;
use axum::routing::get;
use gatehouse_domain::AccountId;
use gatehouse_store::FindingFilter;
use serde::Deserialize;

use super::{Console, ConsoleId, FindingRow, Layout, PageResult};
use crate::app::{App, AppError};
use crate::human_time::When;

pub(super) fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/console/accounts", get(search))
        .route("/console/accounts/{id}", get(show))
}

struct AccountRow {
    id: String,
    email: String,
    created: When,
}

#[derive(Template, WebTemplate)]
#[template(path = "console/accounts.html")]
struct SearchPage {
    layout: Layout,
    q: String,
    results: Vec<AccountRow>,
    searched: bool,
}

#[derive(Deserialize, Default)]
struct SearchQuery {
    q: Option<String>,
}

async fn search(
    State(app): State<Arc<App>>,
    Console(who): Console,
    Query(q): Query<SearchQuery>,
) -> PageResult {
    let now = app.clock.now();
    let query = q.q.unwrap_or_default();
    let results = app
        .search_accounts(&query)
        .await?
        .into_iter()
        .map(|a| AccountRow {
            id: a.id.to_string(),
            email: a.email,
            created: When::new(a.created_at, now),
        })
        .collect();
    Ok(SearchPage {
        layout: Layout::new(&who, "accounts"),
        searched: !query.trim().is_empty(),
        q: query,
        results,
    }
    .into_response())
}

struct SessionRow {
    ip: String,
    user_agent: String,
    created: When,
    last_seen: When,
}

#[derive(Template, WebTemplate)]
#[template(path = "console/account.html")]
struct AccountPage {
    layout: Layout,
    id: String,
    email: String,
    created: When,
    /// The password's state in words, and as stored (`data-state`).
    credential: &'static str,
    credential_code: &'static str,
    password_changed: Option<When>,
    sessions: Vec<SessionRow>,
    findings: Vec<FindingRow>,
}

async fn show(
    State(app): State<Arc<App>>,
    Console(who): Console,
    ConsoleId(id): ConsoleId<AccountId>,
) -> PageResult {
    let account = app
        .store
        .account(id)
        .await?
        .ok_or(AppError::NotFound("account"))?;
    let record = app
        .store
        .login_record(&account.email.to_lowercase())
        .await?;
    let now = app.clock.now();
    let sessions = app
        .store
        .active_sessions(id, now)
        .await?
        .into_iter()
        .map(|s| SessionRow {
            ip: s.ip.unwrap_or_default(),
            user_agent: s.user_agent.unwrap_or_default(),
            created: When::new(s.created_at, now),
            last_seen: When::new(s.last_seen_at, now),
        })
        .collect();
    let findings = app
        .findings(&FindingFilter {
            account: Some(id),
            limit: 50,
            ..FindingFilter::default()
        })
        .await?
        .into_iter()
        .map(|f| FindingRow::new(f, now))
        .collect();
    Ok(AccountPage {
        layout: Layout::new(&who, "accounts"),
        id: account.id.to_string(),
        email: account.email,
        created: When::new(account.created_at, now),
        credential: super::words::credential_state(record.as_ref().map(|r| r.state)),
        credential_code: record.as_ref().map_or("none", |r| r.state.as_str()),
        password_changed: record.map(|r| When::new(r.changed_at, now)),
        sessions,
        findings,
    }
    .into_response())
}
