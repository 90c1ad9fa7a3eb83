//! Operators in the console: each operator with their key's state, expiry and
//! last use, and the actions on them — rotate a key (the new one shown once,
//! on the answer to the post, never in a link), revoke it, disable or enable
//! the operator. The same `App` methods as the admin API and the CLI.

use std::sync::Arc;
use std::time::Duration;

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use gatehouse_domain::OperatorId;
use gatehouse_store::OperatorOverview;
use serde::Deserialize;

use super::{Console, ConsoleAction, ConsoleId, Flash, Layout, PageResult, done};
use crate::app::operators::KeyState;
use crate::app::{App, AppError};
use crate::human_time::When;

pub(super) fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/console/operators", get(list))
        .route("/console/operators/{id}/rotate-key", post(rotate))
        .route("/console/operators/{id}/revoke-key", post(revoke))
        .route("/console/operators/{id}/disable", post(disable))
        .route("/console/operators/{id}/enable", post(enable))
}

struct Row {
    id: String,
    email: String,
    /// The signed-in operator.
    me: bool,
    enabled: bool,
    disabled: Option<When>,
    /// The key's state in words, and as in the API (`data-state`).
    key: &'static str,
    key_code: &'static str,
    key_created: Option<When>,
    key_expires: Option<When>,
    key_last_used: Option<When>,
    console_password: bool,
}

impl Row {
    fn new(o: &OperatorOverview, me: &str, now: gatehouse_domain::Timestamp) -> Self {
        let state = KeyState::of(o, now);
        let when = |t: Option<gatehouse_domain::Timestamp>| t.map(|t| When::new(t, now));
        Self {
            id: o.operator.id.to_string(),
            email: o.operator.email.clone(),
            me: o.operator.id.to_string() == me,
            enabled: o.disabled_at.is_none(),
            disabled: when(o.disabled_at),
            key: match state {
                KeyState::Active => "Works",
                KeyState::Revoked => "Revoked — rotate it to give a new one",
                KeyState::Expired => "Expired — rotate it to give a new one",
            },
            key_code: state.as_str(),
            key_created: when(o.key_created_at),
            key_expires: when(o.key_expires_at),
            key_last_used: when(o.key_last_used_at),
            console_password: o.console_password,
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "console/operators.html")]
struct ListPage {
    layout: Layout,
    rows: Vec<Row>,
    /// Enabled operators: with one left, it cannot be disabled.
    enabled: usize,
    /// A key just made, shown once: (operator's address, key, its expiry).
    new_key: Option<(String, String, Option<When>)>,
}

async fn page(
    app: &App,
    layout: Layout,
    new_key: Option<(String, String, Option<When>)>,
) -> PageResult {
    let now = app.clock.now();
    let all = app.operators_overview().await?;
    let me = layout.operator_id.clone();
    Ok(ListPage {
        enabled: all.iter().filter(|o| o.disabled_at.is_none()).count(),
        rows: all.iter().map(|o| Row::new(o, &me, now)).collect(),
        layout,
        new_key,
    }
    .into_response())
}

async fn list(
    State(app): State<Arc<App>>,
    Console(who): Console,
    Query(flash): Query<Flash>,
) -> PageResult {
    page(
        &app,
        Layout::new(&who, "operators").with_notice(flash.ok.as_deref()),
        None,
    )
    .await
}

#[derive(Deserialize)]
pub(super) struct RotateForm {
    /// Days until the new key expires; empty: never.
    expires_in_days: Option<String>,
}

/// Rotates and answers with the page itself (200, `no-store`), the new key
/// in it once: a redirect would have to carry the key in its URL.
async fn rotate(
    State(app): State<Arc<App>>,
    ConsoleId(id): ConsoleId<OperatorId>,
    a: ConsoleAction<RotateForm>,
) -> PageResult {
    let days = match a.form.expires_in_days.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(s) => Some(s.parse::<u32>().map_err(|_| AppError::Invalid {
            field: "expires_in_days",
            message: format!("days until the key expires must be a whole number, not {s:?}"),
        })?),
    };
    let lifetime = days.map(|d| Duration::from_secs(u64::from(d) * 86_400));
    let rotated = app
        .rotate_operator_key(&id.to_string(), lifetime, a.who.operator.actor(), "console")
        .await?;
    let now = app.clock.now();
    let mut layout = Layout::new(&a.who, "operators");
    layout.notice = Some("Key rotated: the old key no longer works.");
    page(
        &app,
        layout,
        Some((
            rotated.operator.email,
            rotated.key.expose().to_owned(),
            rotated.expires_at.map(|t| When::new(t, now)),
        )),
    )
    .await
}

#[derive(Deserialize)]
struct Empty {}

async fn revoke(
    State(app): State<Arc<App>>,
    ConsoleId(id): ConsoleId<OperatorId>,
    a: ConsoleAction<Empty>,
) -> PageResult {
    app.revoke_operator_key(&id.to_string(), a.who.operator.actor(), "console")
        .await?;
    Ok(done("/console/operators", "key_revoked"))
}

async fn disable(
    State(app): State<Arc<App>>,
    ConsoleId(id): ConsoleId<OperatorId>,
    a: ConsoleAction<Empty>,
) -> PageResult {
    app.set_operator_enabled(&id.to_string(), false, a.who.operator.actor(), "console")
        .await?;
    Ok(done("/console/operators", "operator_disabled"))
}

async fn enable(
    State(app): State<Arc<App>>,
    ConsoleId(id): ConsoleId<OperatorId>,
    a: ConsoleAction<Empty>,
) -> PageResult {
    app.set_operator_enabled(&id.to_string(), true, a.who.operator.actor(), "console")
        .await?;
    Ok(done("/console/operators", "operator_enabled"))
}
