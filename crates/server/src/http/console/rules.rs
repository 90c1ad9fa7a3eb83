//! Rules and their findings in the console (read-only: rules change through
//! files or the API, where they are versioned and backtested first).

use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::IntoResponse;
use axum::routing::get;
use gatehouse_store::FindingFilter;
use serde::Deserialize;

use super::{Console, FindingRow, Layout, PageResult};
use crate::app::App;
use crate::http::pages::readable;

pub(super) fn router() -> Router<Arc<App>> {
    Router::new().route("/console/rules", get(rules))
}

struct RuleRow {
    id: String,
    description: String,
    detector: String,
    mode: String,
    action: String,
    version: i64,
    cap: u32,
    updated: String,
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
            updated: readable(r.updated_at),
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
        .map(FindingRow::from)
        .collect();
    Ok(RulesPage {
        layout: Layout::new(&who, "rules"),
        rules,
        rule: rule.unwrap_or_default(),
        findings,
    }
    .into_response())
}
