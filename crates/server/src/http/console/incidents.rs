//! Status-page incidents in the console: drafts (the breaker's, with their
//! live figures, and operators' own), editing, publishing, updates, resolving
//! and the postmortem. Only here — or the API — does anything become public.

use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use gatehouse_domain::status::{Impact, IncidentState};
use gatehouse_store::Incident;
use serde::Deserialize;

use super::{Console, ConsoleAction, ConsoleId, Flash, Layout, Names, PageResult, done};
use crate::app::App;
use crate::app::status::{IncidentChanges, IncidentDraft};
use crate::http::extract::IncidentId;
use crate::human_time::When;

pub(super) fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/console/incidents", get(list).post(create))
        .route("/console/incidents/{id}", get(show))
        .route("/console/incidents/{id}/edit", post(edit))
        .route("/console/incidents/{id}/publish", post(publish))
        .route("/console/incidents/{id}/update", post(update))
        .route("/console/incidents/{id}/postmortem", post(postmortem))
}

fn path_of(id: i64) -> String {
    format!("/console/incidents/{id}")
}

struct Row {
    id: i64,
    title: String,
    state: &'static str,
    impact: &'static str,
    created: When,
    created_by: String,
}

impl Row {
    fn new(i: &Incident, names: &Names, now: gatehouse_domain::Timestamp) -> Self {
        Self {
            id: i.id,
            title: i.title.clone(),
            state: i.state.label(),
            impact: i.impact.label(),
            created: When::new(i.created_at, now),
            created_by: names.actor(&i.created_by),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "console/incidents.html")]
struct ListPage {
    layout: Layout,
    /// (heading, incidents): drafts, open, resolved.
    sections: Vec<(&'static str, Vec<Row>)>,
}

async fn list(
    State(app): State<Arc<App>>,
    Console(who): Console,
    Query(flash): Query<Flash>,
) -> PageResult {
    let now = app.clock.now();
    let all = app.incidents(200).await?;
    let names = Names::load(&app).await?;
    let of = |f: &dyn Fn(IncidentState) -> bool| -> Vec<Row> {
        all.iter()
            .filter(|i| f(i.state))
            .map(|i| Row::new(i, &names, now))
            .collect()
    };
    Ok(ListPage {
        layout: Layout::new(&who, "incidents").with_notice(flash.ok.as_deref()),
        sections: vec![
            ("Drafts", of(&|s| s == IncidentState::Draft)),
            (
                "Open (public)",
                of(&|s| !matches!(s, IncidentState::Draft | IncidentState::Resolved)),
            ),
            ("Resolved", of(&|s| s == IncidentState::Resolved)),
        ],
    }
    .into_response())
}

#[derive(Deserialize)]
pub(super) struct DraftForm {
    title: String,
    impact: String,
    body: String,
}

async fn create(State(app): State<Arc<App>>, a: ConsoleAction<DraftForm>) -> PageResult {
    let draft = IncidentDraft {
        title: a.form.title,
        body: a.form.body,
        impact: Some(a.form.impact),
        components: Vec::new(),
        figures: None,
    };
    let i = app
        .create_incident_draft(&draft, a.who.operator.actor())
        .await?;
    Ok(done(&path_of(i.id), "drafted"))
}

struct UpdateRow {
    state: &'static str,
    body: String,
    at: When,
    author: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "console/incident.html")]
struct IncidentPage {
    layout: Layout,
    row: Row,
    is_draft: bool,
    is_resolved: bool,
    title: String,
    impact: &'static str,
    body: String,
    /// The breaker's live figures, as label/value pairs (never public).
    figures: Vec<(String, String)>,
    postmortem: String,
    updates: Vec<UpdateRow>,
    /// (value, label) for the impact choice.
    impacts: [(&'static str, &'static str); 4],
}

/// A draft's figures as lines for people: nested values as compact JSON.
fn figure_lines(figures: Option<&serde_json::Value>) -> Vec<(String, String)> {
    let Some(serde_json::Value::Object(map)) = figures else {
        return Vec::new();
    };
    map.iter()
        .map(|(k, v)| (k.replace('_', " "), plain(v)))
        .collect()
}

/// A figure as plain words: lists joined by "; ", objects as "key value" pairs.
fn plain(v: &serde_json::Value) -> String {
    use serde_json::Value as V;
    match v {
        V::String(s) => s.clone(),
        V::Null => "—".to_owned(),
        V::Array(items) if items.is_empty() => "none".to_owned(),
        V::Array(items) => items.iter().map(plain).collect::<Vec<_>>().join("; "),
        V::Object(fields) => fields
            .iter()
            .map(|(k, v)| format!("{} {}", k.replace('_', " "), plain(v)))
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_read_as_words() {
        let f = serde_json::json!({
            "resets_last_hour": 50,
            "campaigns": [{"name": "auto", "rule": "stuffing"}, {"name": "b", "rule": null}],
            "nothing": [],
        });
        assert_eq!(
            figure_lines(Some(&f)),
            [
                (
                    "campaigns".to_owned(),
                    "name auto, rule stuffing; name b, rule —".to_owned()
                ),
                ("nothing".to_owned(), "none".to_owned()),
                ("resets last hour".to_owned(), "50".to_owned()),
            ]
        );
        assert!(figure_lines(None).is_empty());
    }
}

async fn show(
    State(app): State<Arc<App>>,
    Console(who): Console,
    ConsoleId(IncidentId(id)): ConsoleId<IncidentId>,
    Query(flash): Query<Flash>,
) -> PageResult {
    let now = app.clock.now();
    let i = app.incident(id).await?;
    let names = Names::load(&app).await?;
    Ok(IncidentPage {
        layout: Layout::new(&who, "incidents").with_notice(flash.ok.as_deref()),
        row: Row::new(&i, &names, now),
        is_draft: i.state == IncidentState::Draft,
        is_resolved: i.state == IncidentState::Resolved,
        title: i.title.clone(),
        impact: i.impact.as_str(),
        body: i.body.clone(),
        figures: figure_lines(i.figures.as_ref()),
        postmortem: i.postmortem.clone().unwrap_or_default(),
        updates: i
            .updates
            .iter()
            .rev()
            .map(|u| UpdateRow {
                state: u.state.label(),
                body: u.body.clone(),
                at: When::new(u.at, now),
                author: names.actor(&u.author),
            })
            .collect(),
        impacts: [Impact::None, Impact::Minor, Impact::Major, Impact::Critical]
            .map(|i| (i.as_str(), i.label())),
    }
    .into_response())
}

async fn edit(
    State(app): State<Arc<App>>,
    ConsoleId(IncidentId(id)): ConsoleId<IncidentId>,
    a: ConsoleAction<DraftForm>,
) -> PageResult {
    let changes = IncidentChanges {
        title: Some(a.form.title),
        impact: Some(a.form.impact),
        body: Some(a.form.body),
        components: None,
    };

    app.edit_incident(id, &changes, a.who.operator.actor())
        .await?;
    Ok(done(&path_of(id), "saved"))
}

#[derive(Deserialize)]
pub(super) struct StateForm {
    state: String,
    body: String,
}

async fn publish(
    State(app): State<Arc<App>>,
    ConsoleId(IncidentId(id)): ConsoleId<IncidentId>,
    a: ConsoleAction<StateForm>,
) -> PageResult {
    let text = Some(a.form.body.as_str()).filter(|t| !t.trim().is_empty());

    app.publish_incident(id, Some(&a.form.state), text, a.who.operator.actor())
        .await?;
    Ok(done(&path_of(id), "published"))
}

async fn update(
    State(app): State<Arc<App>>,
    ConsoleId(IncidentId(id)): ConsoleId<IncidentId>,
    a: ConsoleAction<StateForm>,
) -> PageResult {
    app.post_incident_update(id, &a.form.state, &a.form.body, a.who.operator.actor())
        .await?;
    let key = if a.form.state == "resolved" {
        "resolved"
    } else {
        "updated"
    };
    Ok(done(&path_of(id), key))
}

#[derive(Deserialize)]
pub(super) struct PostmortemForm {
    postmortem: String,
}

async fn postmortem(
    State(app): State<Arc<App>>,
    ConsoleId(IncidentId(id)): ConsoleId<IncidentId>,
    a: ConsoleAction<PostmortemForm>,
) -> PageResult {
    app.set_incident_postmortem(id, &a.form.postmortem, a.who.operator.actor())
        .await?;
    Ok(done(&path_of(id), "saved"))
}
