//! The console's overview (breaker, budget, findings today against normal,
//! outbox, campaigns and drafts waiting for someone) and the breaker page
//! (kill switch and reset).

use std::sync::Arc;
use std::time::Duration;

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use gatehouse_domain::campaign::CampaignState;
use gatehouse_domain::status::IncidentState;
use serde::Deserialize;

use super::{Console, ConsoleAction, Flash, Layout, Names, PageResult, done};
use crate::app::App;
use crate::app::campaigns::BreakerView;
use crate::human_time::When;

pub(super) fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/console", get(overview))
        .route("/console/breaker", get(breaker))
        .route("/console/breaker/trip", post(trip))
        .route("/console/breaker/reset", post(reset))
}

/// The breaker and budget as the templates show them.
pub(super) struct BreakerFacts {
    pub open: bool,
    pub reason: String,
    pub changed_at: When,
    pub changed_by: String,
    pub per_hour: u64,
    pub per_day: u64,
    pub used_hour: i64,
    pub used_day: i64,
    pub left_hour: i64,
    pub left_day: i64,
}

impl BreakerFacts {
    fn new(v: BreakerView, now: gatehouse_domain::Timestamp) -> Self {
        let left = |limit: u64, used: i64| (i64::try_from(limit).unwrap_or(i64::MAX) - used).max(0);
        Self {
            open: v.breaker.open,
            reason: v.breaker.reason.unwrap_or_default(),
            changed_at: When::new(v.breaker.changed_at, now),
            changed_by: v.breaker.changed_by,
            per_hour: v.budget_per_hour,
            per_day: v.budget_per_day,
            used_hour: v.used_last_hour,
            used_day: v.used_last_day,
            left_hour: left(v.budget_per_hour, v.used_last_hour),
            left_day: left(v.budget_per_day, v.used_last_day),
        }
    }
}

struct CampaignLine {
    id: String,
    name: String,
    /// The state in words, and as stored (`data-state`).
    state: &'static str,
    state_code: &'static str,
    applied: i64,
    targets: i64,
    automatic: bool,
    waiting: &'static str,
}

#[derive(Template, WebTemplate)]
#[template(path = "console/overview.html")]
struct OverviewPage {
    layout: Layout,
    breaker: BreakerFacts,
    accounts: i64,
    findings_today: i64,
    findings_normal: f64,
    /// The median as people write it ("2.5", never "0.0").
    findings_normal_words: String,
    outbox: Vec<(&'static str, i64)>,
    outbox_failed: i64,
    outbox_backlog: i64,
    attention: Vec<CampaignLine>,
    drafts: usize,
    open_incidents: usize,
}

/// Median of daily counts over the `days` days before today (days without any
/// count as zero; today is not part of normal): the backtests' median over that window.
fn median_daily(per_day: &std::collections::BTreeMap<i64, i64>, today: i64, days: i64) -> f64 {
    let window: Vec<(i64, i64)> = per_day
        .range(today - days..today)
        .map(|(&d, &n)| (d, n))
        .collect();
    crate::app::backtest::median_daily(&window, days)
}

async fn overview(
    State(app): State<Arc<App>>,
    Console(who): Console,
    Query(flash): Query<Flash>,
) -> PageResult {
    let now = app.clock.now();
    let breaker = BreakerFacts::new(app.breaker_view().await?, now);
    let accounts = app.store.count_accounts().await?;
    // Findings per UTC day over every rule: today against the last 30 days' median.
    let since = now.minus(Duration::from_secs(31 * 86_400));
    let mut per_day = std::collections::BTreeMap::new();
    for rule in app.rules().await? {
        for (day, n) in app
            .store
            .findings_per_day(&rule.spec.id, since, now)
            .await?
        {
            *per_day.entry(day).or_insert(0) += n;
        }
    }
    let today = now.as_millis().div_euclid(86_400_000);
    let findings_today = per_day.get(&today).copied().unwrap_or(0);
    let findings_normal = median_daily(&per_day, today, 30);
    let counts = app.store.outbox_counts().await?;
    let count_of = |states: &[&str]| -> i64 {
        counts
            .iter()
            .filter(|(s, _)| states.contains(&s.as_str()))
            .map(|(_, n)| n)
            .sum()
    };
    let outbox_failed = count_of(&["failed"]);
    let outbox_backlog = count_of(&["pending", "sending"]);
    let outbox = counts
        .iter()
        .map(|(s, n)| (super::words::notice_state(*s), *n))
        .collect();
    let attention = app
        .store
        .campaigns(None, 200)
        .await?
        .into_iter()
        .filter_map(|c| {
            let waiting = match c.state {
                CampaignState::Draft => "needs a preview",
                CampaignState::Previewed if c.needs_second_approval => {
                    "needs a second operator's approval"
                }
                CampaignState::Previewed => "needs approval",
                CampaignState::Approved => "approved, not started",
                CampaignState::Running => "running",
                CampaignState::Paused => "paused",
                CampaignState::Undoing => "undo in progress",
                _ => return None,
            };
            Some(CampaignLine {
                id: c.id.to_string(),
                name: c.name,
                state: super::words::campaign_state(c.state),
                state_code: c.state.as_str(),
                applied: c.applied,
                targets: c.target_count,
                automatic: c.automatic,
                waiting,
            })
        })
        .collect();
    let incidents = app.incidents(200).await?;
    let drafts = incidents
        .iter()
        .filter(|i| i.state == IncidentState::Draft)
        .count();
    let open_incidents = incidents
        .iter()
        .filter(|i| !matches!(i.state, IncidentState::Draft | IncidentState::Resolved))
        .count();
    Ok(OverviewPage {
        layout: Layout::new(&who, "overview").with_notice(flash.ok.as_deref()),
        breaker,
        accounts,
        findings_today,
        findings_normal_words: super::campaigns::plain_number(findings_normal),
        findings_normal,
        outbox,
        outbox_failed,
        outbox_backlog,
        attention,
        drafts,
        open_incidents,
    }
    .into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "console/breaker.html")]
struct BreakerPage {
    layout: Layout,
    breaker: BreakerFacts,
}

async fn breaker(
    State(app): State<Arc<App>>,
    Console(who): Console,
    Query(flash): Query<Flash>,
) -> PageResult {
    let mut breaker = BreakerFacts::new(app.breaker_view().await?, app.clock.now());
    breaker.changed_by = Names::load(&app).await?.actor(&breaker.changed_by);
    Ok(BreakerPage {
        layout: Layout::new(&who, "breaker").with_notice(flash.ok.as_deref()),
        breaker,
    }
    .into_response())
}

#[derive(Deserialize)]
pub(super) struct ReasonForm {
    reason: String,
}

/// The kill switch: trips the breaker now.
async fn trip(State(app): State<Arc<App>>, a: ConsoleAction<ReasonForm>) -> PageResult {
    app.trip_breaker(&a.form.reason, a.who.operator.actor())
        .await?;
    Ok(done("/console/breaker", "tripped"))
}

/// Closes the breaker (an operator, with a reason; audited).
async fn reset(State(app): State<Arc<App>>, a: ConsoleAction<ReasonForm>) -> PageResult {
    app.reset_breaker(&a.form.reason, a.who.operator.actor())
        .await?;
    Ok(done("/console/breaker", "closed"))
}

#[cfg(test)]
mod tests {
    use super::median_daily;

    #[test]
    fn median_counts_quiet_days_as_zero() {
        let mut m = std::collections::BTreeMap::new();
        m.insert(99, 10);
        m.insert(98, 4);
        // 30 days, 28 of them zero: the median is zero.
        assert_eq!(median_daily(&m, 100, 30), 0.0);
        let all: std::collections::BTreeMap<i64, i64> = (90..100).map(|d| (d, d - 89)).collect();
        // 1..=10 over ten days: (5 + 6) / 2.
        assert_eq!(median_daily(&all, 100, 10), 5.5);
        // Today itself is not part of normal.
        assert_eq!(
            median_daily(&std::collections::BTreeMap::from([(100, 50)]), 100, 1),
            0.0
        );
    }
}
