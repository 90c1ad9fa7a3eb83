//! Rules and their findings in the console (rules change through files or the
//! API, where they are versioned and backtested first), and the one action on
//! a rule here: undo everything it did (preview first).

use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use axum::routing::get;
use gatehouse_store::FindingFilter;
use serde::Deserialize;

use super::{Console, ConsoleAction, FindingRow, Flash, Layout, PageResult, done};
use crate::app::App;
use crate::human_time::When;

pub(super) fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/console/rules", get(rules))
        .route("/console/rules/{id}/undo", get(undo_preview).post(undo))
}

struct RuleRow {
    id: String,
    description: String,
    detector: String,
    mode: String,
    action: String,
    version: i64,
    cap: u32,
    updated: When,
    updated_by: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "console/rules.html")]
struct RulesPage {
    layout: Layout,
    rules: Vec<RuleRow>,
    rule: String,
    findings: Vec<FindingRow>,
}

#[derive(Deserialize, Default)]
struct RulesQuery {
    /// Show this rule's findings only.
    rule: Option<String>,
    /// A confirmation to show (after an action's redirect).
    ok: Option<String>,
}

fn text<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

async fn rules(
    State(app): State<Arc<App>>,
    Console(who): Console,
    Query(q): Query<RulesQuery>,
) -> PageResult {
    let now = app.clock.now();
    let rules = app
        .rules()
        .await?
        .into_iter()
        .map(|r| RuleRow {
            detector: text(&r.spec.detector),
            mode: text(&r.spec.mode),
            action: text(&r.spec.action),
            id: r.spec.id,
            description: r.spec.description,
            version: r.version,
            cap: r.spec.max_findings_per_day,
            updated: When::new(r.updated_at, now),
            updated_by: r.updated_by,
        })
        .collect();
    let rule = q.rule.filter(|r| !r.trim().is_empty());
    let findings = app
        .findings(&FindingFilter {
            rule: rule.clone(),
            limit: 100,
            ..FindingFilter::default()
        })
        .await?
        .into_iter()
        .map(|f| FindingRow::new(f, now))
        .collect();
    Ok(RulesPage {
        layout: Layout::new(&who, "rules").with_notice(q.ok.as_deref()),
        rules,
        rule: rule.unwrap_or_default(),
        findings,
    }
    .into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "console/rule_undo.html")]
struct RuleUndoPage {
    layout: Layout,
    rule: String,
    /// Campaigns that reset accounts, to undo.
    undoing: usize,
    /// Their accounts that come back / that get an explanation instead.
    restorable: u64,
    not_restorable: u64,
    /// Campaigns that reset nobody, to abort.
    aborted: usize,
    /// Already undoing or undone.
    already: usize,
}

/// What undoing the rule would do, with the button that does it.
async fn undo_preview(
    State(app): State<Arc<App>>,
    Console(who): Console,
    Path(id): Path<String>,
    Query(flash): Query<Flash>,
) -> PageResult {
    let plan = app.undo_rule_plan(&id).await?;
    let (mut restorable, mut not_restorable) = (0, 0);
    for &c in &plan.undoing {
        let r = app.undo_preview(c).await?;
        restorable += r.restorable;
        not_restorable += r.not_restorable;
    }
    Ok(RuleUndoPage {
        layout: Layout::new(&who, "rules").with_notice(flash.ok.as_deref()),
        undoing: plan.undoing.len(),
        aborted: plan.aborted.len(),
        already: plan.already.len(),
        restorable,
        not_restorable,
        rule: plan.rule,
    }
    .into_response())
}

async fn undo(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    a: ConsoleAction<Empty>,
) -> PageResult {
    app.undo_rule(&id, a.who.operator.actor()).await?;
    Ok(done(
        &format!("/console/rules?rule={}", urlencoding(&id)),
        "rule_undone",
    ))
}

#[derive(Deserialize)]
struct Empty {}

/// A rule id in a query string (ids are `a-z 0-9 _ -`, but a stored id is
/// never trusted to be).
fn urlencoding(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
