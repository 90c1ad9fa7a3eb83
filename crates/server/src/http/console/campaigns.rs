//! Campaigns in the console: the list, a new campaign from a list of
//! accounts, one campaign's preview, approval, stages and live progress,
//! pause/resume/abort, and undo (preview first).

use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use gatehouse_domain::CampaignId;
use gatehouse_domain::campaign::CampaignState;
use gatehouse_store::{CampaignRecord, TargetState};
use serde::Deserialize;

use super::{Console, ConsoleAction, ConsoleId, Flash, Layout, Names, PageResult, done};
use crate::app::campaigns::{CampaignSpec, Preview, UndoReport};
use crate::app::{App, AppError};
use crate::human_time::When;

pub(super) fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/console/campaigns", get(list).post(create))
        .route("/console/campaigns/{id}", get(show))
        .route("/console/campaigns/{id}/preview", post(preview))
        .route("/console/campaigns/{id}/approve", post(approve))
        .route("/console/campaigns/{id}/command", post(command))
        .route("/console/campaigns/{id}/undo", get(undo_preview).post(undo))
}

fn path_of(id: CampaignId) -> String {
    format!("/console/campaigns/{id}")
}

struct Row {
    id: String,
    name: String,
    /// The state in words ("Previewed — waiting for approval").
    state: &'static str,
    /// The state as stored ("previewed"), for `data-state`.
    state_code: &'static str,
    automatic: bool,
    applied: i64,
    targets: i64,
    created: When,
    created_by: String,
}

impl Row {
    fn new(c: CampaignRecord, names: &Names, now: gatehouse_domain::Timestamp) -> Self {
        Self {
            id: c.id.to_string(),
            name: c.name,
            state: super::words::campaign_state(c.state),
            state_code: c.state.as_str(),
            automatic: c.automatic,
            applied: c.applied,
            targets: c.target_count,
            created: When::new(c.created_at, now),
            created_by: names.actor(&c.created_by.text()),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "console/campaigns.html")]
struct ListPage {
    layout: Layout,
    campaigns: Vec<Row>,
    /// Prefill for the new-campaign form (from an account page's "force reset").
    prefill: String,
}

#[derive(Deserialize, Default)]
struct ListQuery {
    ok: Option<String>,
    account: Option<String>,
}

async fn list(
    State(app): State<Arc<App>>,
    Console(who): Console,
    Query(q): Query<ListQuery>,
) -> PageResult {
    let now = app.clock.now();
    let names = Names::load(&app).await?;
    let campaigns = app
        .store
        .campaigns(None, 200)
        .await?
        .into_iter()
        .map(|c| Row::new(c, &names, now))
        .collect();
    Ok(ListPage {
        layout: Layout::new(&who, "campaigns").with_notice(q.ok.as_deref()),
        campaigns,
        prefill: q.account.unwrap_or_default(),
    }
    .into_response())
}

#[derive(Deserialize)]
pub(super) struct CreateForm {
    name: String,
    reason: String,
    /// One address or id per line (commas and spaces also separate).
    accounts: String,
    rate_per_minute: Option<String>,
    bake_secs: Option<String>,
}

/// An optional whole number from a form field ("" = default).
fn optional_number(field: &'static str, v: Option<&str>) -> Result<Option<u32>, AppError> {
    match v.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => s.parse().map(Some).map_err(|_| AppError::Invalid {
            field,
            message: format!("{field} must be a whole number, not {s:?}"),
        }),
    }
}

fn spec_from(f: CreateForm) -> Result<CampaignSpec, AppError> {
    Ok(CampaignSpec {
        name: f.name,
        reason: f.reason,
        accounts: f
            .accounts
            .split(|c: char| c.is_whitespace() || c == ',' || c == ';')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        stages: None,
        rate_per_minute: optional_number("rate_per_minute", f.rate_per_minute.as_deref())?,
        bake_secs: optional_number("bake_secs", f.bake_secs.as_deref())?,
    })
}

async fn create(State(app): State<Arc<App>>, a: ConsoleAction<CreateForm>) -> PageResult {
    let spec = spec_from(a.form)?;
    let c = app.create_campaign(spec, a.who.operator.actor()).await?;
    Ok(done(&path_of(c.id), "created"))
}

struct SampleRow {
    email: String,
    explanation: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "console/campaign.html")]
struct CampaignPage {
    layout: Layout,
    c: Row,
    reason: String,
    source: &'static str,
    rule: String,
    approved_by: String,
    paused_reason: String,
    state: CampaignState,
    needs_second_approval: bool,
    /// The signed-in operator created it (and so cannot approve it).
    own: bool,
    snapshot: String,
    preview: Option<Preview>,
    sample: Vec<SampleRow>,
    targets: Vec<(&'static str, i64)>,
    /// The preview's figures in words.
    preview_words: Option<PreviewWords>,
    stages: Vec<StageRow>,
    rate_per_minute: i64,
    /// The pause between stages in words: "10 minutes between stages", or
    /// "no pause between stages".
    bake: String,
    stage_started: Option<When>,
}

struct StageRow {
    number: usize,
    upto: u64,
    status: &'static str,
}

/// A number as people write it: `2.0` → "2", `2.46` → "2.5", `1234.0` → "1,234".
pub(super) fn plain_number(x: f64) -> String {
    let tenths = (x * 10.0).round();
    let whole = (tenths / 10.0).trunc();
    let frac = (tenths - whole * 10.0).abs();
    // Thousands separated, so "12000" is not misread as "1200".
    let digits = format!("{}", whole.abs() as u64);
    let mut grouped = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    let sign = if x < 0.0 && tenths != 0.0 { "-" } else { "" };
    if frac == 0.0 {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped}.{}", frac as u64)
    }
}

/// A share (0 to 1) as a percentage people read: "100 %", "12.5 %",
/// "less than 0.1 %" (never "0.000 %" for a share that is not zero).
fn percent(share: f64) -> String {
    let pct = share * 100.0;
    if share <= 0.0 {
        "0 %".to_owned()
    } else if pct < 0.05 {
        "less than 0.1 %".to_owned()
    } else {
        format!("{} %", plain_number(pct))
    }
}

/// The preview's figures in words for the campaign page.
struct PreviewWords {
    /// "3 forced resets a day (median of the last 30 days)".
    normal: String,
    /// "40 times the normal daily volume", or why there is no multiple.
    multiple: String,
    /// "0.4 % of all accounts".
    share: String,
}

impl PreviewWords {
    fn new(p: &Preview) -> Self {
        // A median of zero has no multiple: say what the history is instead
        // of the "× 1" the preview computes to keep its threshold arithmetic going.
        let quiet = p.normal_daily <= 0.0;
        Self {
            normal: if quiet {
                "No forced resets in the last 30 days".to_owned()
            } else {
                format!(
                    "{} forced {} a day (median of the last 30 days)",
                    plain_number(p.normal_daily),
                    if plain_number(p.normal_daily) == "1" {
                        "reset"
                    } else {
                        "resets"
                    }
                )
            },
            multiple: if quiet {
                "None: there were no forced resets in the last 30 days".to_owned()
            } else {
                format!(
                    "{} times the normal daily volume",
                    plain_number(p.multiple_of_normal)
                )
            },
            share: format!("{} of all accounts", percent(p.share_of_accounts)),
        }
    }
}

/// A campaign target's state in words.
fn target_state_words(s: TargetState) -> &'static str {
    match s {
        TargetState::Pending => "Not reset yet",
        TargetState::Applied => "Reset",
        TargetState::Skipped => "Left alone (already awaiting a new password, or gone)",
        TargetState::Restored => "Reset undone",
        TargetState::NotRestorable => "Not undone (a new password was set since)",
    }
}

fn stage_rows(c: &CampaignRecord, preview: Option<&Preview>) -> Vec<StageRow> {
    let boundaries = match preview {
        Some(p) => p.stages.clone(),
        None => c
            .stage_plan
            .boundaries(u64::try_from(c.target_count).unwrap_or(0)),
    };
    let current = usize::try_from(c.stage).unwrap_or(0);
    let started = matches!(
        c.state,
        CampaignState::Running
            | CampaignState::Paused
            | CampaignState::Completed
            | CampaignState::Aborted
            | CampaignState::Undoing
            | CampaignState::Undone
    );
    boundaries
        .into_iter()
        .enumerate()
        .map(|(i, upto)| StageRow {
            number: i + 1,
            upto,
            status: if !started {
                "planned"
            } else if c.state == CampaignState::Completed
                || i < current
                || (u64::try_from(c.applied).unwrap_or(0) >= upto)
            {
                "done"
            } else if i == current {
                "current"
            } else {
                "planned"
            },
        })
        .collect()
}

async fn show(
    State(app): State<Arc<App>>,
    Console(who): Console,
    ConsoleId(id): ConsoleId<CampaignId>,
    Query(flash): Query<Flash>,
) -> PageResult {
    let now = app.clock.now();
    let c = app.campaign(id).await?;
    let targets = app
        .store
        .campaign_target_counts(id)
        .await?
        .into_iter()
        .map(|(s, n)| (target_state_words(s), n))
        .collect();
    let preview: Option<Preview> = c
        .preview
        .clone()
        .and_then(|p| serde_json::from_value(p).ok());
    let sample = preview
        .as_ref()
        .map(|p| {
            p.sample
                .iter()
                .map(|s| SampleRow {
                    email: s["email"].as_str().unwrap_or_default().to_owned(),
                    explanation: s["evidence"]["explanation"]
                        .as_str()
                        .unwrap_or("named by an operator")
                        .to_owned(),
                })
                .collect()
        })
        .unwrap_or_default();
    let stages = stage_rows(&c, preview.as_ref());
    let own = c.created_by == who.operator.actor();
    let names = Names::load(&app).await?;
    Ok(CampaignPage {
        layout: Layout::new(&who, "campaigns").with_notice(flash.ok.as_deref()),
        reason: c.reason.clone(),
        source: super::words::campaign_source(c.source),
        rule: c
            .rule_id
            .as_ref()
            .map(|r| format!("{r} v{}", c.rule_version.unwrap_or(0)))
            .unwrap_or_default(),
        approved_by: c
            .approved_by
            .as_ref()
            .map(|a| names.actor(&a.text()))
            .unwrap_or_default(),
        paused_reason: c.paused_reason.clone().unwrap_or_default(),
        state: c.state,
        needs_second_approval: c.needs_second_approval,
        own,
        snapshot: c.snapshot_hash.map(hex::encode).unwrap_or_default(),
        preview_words: preview.as_ref().map(PreviewWords::new),
        preview,
        sample,
        targets,
        stages,
        rate_per_minute: c.rate_per_minute,
        bake: match u64::try_from(c.bake_secs).unwrap_or(0) {
            0 => "no pause between stages".to_owned(),
            secs => format!(
                "{} between stages",
                crate::human_time::duration(std::time::Duration::from_secs(secs))
            ),
        },
        stage_started: c.stage_started_at.map(|t| When::new(t, now)),
        c: Row::new(c, &names, now),
    }
    .into_response())
}

#[derive(Deserialize)]
struct Empty {}

async fn preview(
    State(app): State<Arc<App>>,
    ConsoleId(id): ConsoleId<CampaignId>,
    a: ConsoleAction<Empty>,
) -> PageResult {
    app.preview_campaign(id, a.who.operator.actor()).await?;
    Ok(done(&path_of(id), "previewed"))
}

#[derive(Deserialize)]
pub(super) struct ApproveForm {
    /// The snapshot the operator saw: approval binds to it.
    snapshot: String,
}

async fn approve(
    State(app): State<Arc<App>>,
    ConsoleId(id): ConsoleId<CampaignId>,
    a: ConsoleAction<ApproveForm>,
) -> PageResult {
    app.approve_campaign(id, &a.form.snapshot, a.who.operator.actor())
        .await?;
    Ok(done(&path_of(id), "approved"))
}

#[derive(Deserialize)]
pub(super) struct CommandForm {
    command: String,
    reason: Option<String>,
}

async fn command(
    State(app): State<Arc<App>>,
    ConsoleId(id): ConsoleId<CampaignId>,
    a: ConsoleAction<CommandForm>,
) -> PageResult {
    let reason = a.form.reason.filter(|r| !r.trim().is_empty());

    let command = crate::http::campaigns_api::parse_command(&a.form.command)?;
    app.command_campaign(id, command, reason, a.who.operator.actor())
        .await?;
    // Only known commands get here (the app refuses others), so the key is fixed text.
    let key = match a.form.command.as_str() {
        "start" => "start",
        "pause" => "pause",
        "resume" => "resume",
        _ => "abort",
    };
    Ok(done(&path_of(id), key))
}

#[derive(Template, WebTemplate)]
#[template(path = "console/undo.html")]
struct UndoPage {
    layout: Layout,
    id: String,
    name: String,
    /// The state in words, and as stored (`data-state`).
    state: &'static str,
    state_code: &'static str,
    report: UndoReport,
}

async fn undo_preview(
    State(app): State<Arc<App>>,
    Console(who): Console,
    ConsoleId(id): ConsoleId<CampaignId>,
) -> PageResult {
    let c = app.campaign(id).await?;
    let report = app.undo_preview(id).await?;
    Ok(UndoPage {
        layout: Layout::new(&who, "campaigns"),
        id: id.to_string(),
        name: c.name,
        state: super::words::campaign_state(c.state),
        state_code: c.state.as_str(),
        report,
    }
    .into_response())
}

async fn undo(
    State(app): State<Arc<App>>,
    ConsoleId(id): ConsoleId<CampaignId>,
    a: ConsoleAction<Empty>,
) -> PageResult {
    app.begin_undo(id, a.who.operator.actor()).await?;
    Ok(done(&path_of(id), "undone"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_read_as_people_write_them() {
        assert_eq!(plain_number(2.0), "2");
        assert_eq!(plain_number(2.46), "2.5");
        assert_eq!(plain_number(12_000.0), "12,000");
        assert_eq!(plain_number(0.04), "0");
        assert_eq!(percent(1.0), "100 %");
        assert_eq!(percent(0.125), "12.5 %");
        assert_eq!(percent(0.000_2), "less than 0.1 %");
        assert_eq!(percent(0.0), "0 %");
    }

    #[test]
    fn accounts_split_on_lines_commas_and_spaces() {
        let spec = spec_from(CreateForm {
            name: "n".into(),
            reason: "r".into(),
            accounts: "a@example.org\r\nb@example.org, c@example.org;d@example.org\n\n".into(),
            rate_per_minute: Some(" ".into()),
            bake_secs: Some("30".into()),
        })
        .unwrap();
        assert_eq!(spec.accounts.len(), 4);
        assert_eq!(spec.rate_per_minute, None);
        assert_eq!(spec.bake_secs, Some(30));
        let bad = spec_from(CreateForm {
            name: "n".into(),
            reason: "r".into(),
            accounts: "a@example.org".into(),
            rate_per_minute: Some("fast".into()),
            bake_secs: None,
        });
        assert!(matches!(
            bad,
            Err(AppError::Invalid {
                field: "rate_per_minute",
                ..
            })
        ));
    }
}
