//! The audit log in the console, newest first, with chain verification.

use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::IntoResponse;
use axum::routing::get;
use serde::Deserialize;

use super::{Console, Layout, Names, PageResult};
use crate::app::App;
use crate::human_time::When;

pub(super) fn router() -> Router<Arc<App>> {
    Router::new().route("/console/audit", get(audit))
}

const PAGE: i64 = 100;

struct EntryRow {
    seq: i64,
    at: When,
    actor: String,
    action: String,
    target: String,
    ip: String,
    detail: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "console/audit.html")]
struct AuditPage {
    layout: Layout,
    entries: Vec<EntryRow>,
    /// Link to older entries (`?before=`), if there are any.
    older: Option<i64>,
    /// Chain verification, when asked for: (intact, sentence).
    verified: Option<(bool, String)>,
}

#[derive(Deserialize, Default)]
struct AuditQuery {
    before: Option<i64>,
    verify: Option<String>,
}

async fn audit(
    State(app): State<Arc<App>>,
    Console(who): Console,
    Query(q): Query<AuditQuery>,
) -> PageResult {
    let now = app.clock.now();
    let page = app.store.audit_latest(q.before, PAGE).await?;
    let older = (page.len() as i64 == PAGE)
        .then(|| page.last().map(|e| e.seq))
        .flatten()
        .filter(|s| *s > 1);
    let names = Names::load(&app).await?;
    let entries = page
        .into_iter()
        .map(|e| EntryRow {
            seq: e.seq,
            at: When::new(e.at, now),
            actor: match (e.actor_kind.as_str(), e.actor_id) {
                ("operator", Some(id)) => names.operator(&id),
                (kind, Some(id)) => format!("{kind}:{id}"),
                (kind, None) => kind.to_owned(),
            },
            action: e.action,
            target: e.target.unwrap_or_default(),
            ip: e.ip.unwrap_or_default(),
            detail: if e.detail == "null" {
                String::new()
            } else {
                e.detail
            },
        })
        .collect();
    let verified = if q.verify.is_some() {
        let report = gatehouse_store::verify_audit_chain(app.store.as_ref()).await?;
        Some(chain_sentence(&report))
    } else {
        None
    };
    Ok(AuditPage {
        layout: Layout::new(&who, "audit"),
        entries,
        older,
        verified,
    }
    .into_response())
}

fn chain_sentence(r: &gatehouse_store::ChainReport) -> (bool, String) {
    match r {
        gatehouse_store::ChainReport::Intact { entries } => (
            true,
            format!("The chain is intact: {entries} entries checked."),
        ),
        gatehouse_store::ChainReport::Broken { seq, reason } => (
            false,
            format!("The chain is broken at entry {seq}: {reason}."),
        ),
    }
}
