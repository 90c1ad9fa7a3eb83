//! `gatehouse rules status` and `GET /admin/rules/status`: what the checks are
//! doing right now — each rule's findings of the last day, where the live
//! monitor is in the event stream, and history that arrived too late for it.
//!
//! Late history is never skipped in silence: the monitor logs and counts it
//! (`gatehouse_monitor_events_skipped_total`), and this report finds it in the
//! store (events whose time was already older than the longest rule window when
//! they were received), with what to do about it.

use std::time::Duration;

use gatehouse_domain::finding::{FindingStatus, RuleMode};
use serde::Serialize;

use crate::app::evaluate::Evaluator;
use crate::app::monitor::CHECKPOINT;
use crate::app::{App, AppError};

/// How far back "late history" is looked for.
pub const LATE_LOOKBACK: Duration = Duration::from_secs(7 * 86_400);

/// One rule's state.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct RuleStatus {
    /// Rule id.
    pub id: String,
    /// Current version.
    pub version: i64,
    /// Detector.
    pub detector: String,
    /// `off`, `shadow` or `enforce`.
    pub mode: String,
    /// `notify` or `force_reset`.
    pub action: String,
    /// Enforced findings handed on per day at most.
    pub max_findings_per_day: u32,
    /// Findings recorded in the last 24 hours: shadow.
    pub shadow_24h: i64,
    /// … handed to remediation.
    pub pending_24h: i64,
    /// … held over the daily cap.
    pub held_24h: i64,
    /// When its newest finding of the last 24 hours was recorded (RFC 3339).
    pub newest_finding: Option<String>,
}

/// The live monitor's position.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct MonitorStatus {
    /// Every event id at or below this has been read.
    pub checkpoint: i64,
    /// The newest stored event's id.
    pub latest_event: i64,
    /// Events stored but not read yet (by id; a few may be ids never used).
    pub behind: i64,
    /// When the checkpoint was last saved (RFC 3339; `None`: the monitor never ran).
    pub saved_at: Option<String>,
    /// Events older than this many seconds when read raise no live findings.
    pub live_window_secs: u64,
    /// How far back the rules learn account histories from, in seconds.
    pub history_secs: u64,
}

/// Events that arrived too late for the live rules.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct LateHistory {
    /// Received in the last 7 days, already older than the live window.
    pub events: i64,
    /// Their oldest and newest times (RFC 3339).
    pub oldest: Option<String>,
    /// See `oldest`.
    pub newest: Option<String>,
    /// When the last of them arrived (RFC 3339).
    pub last_received: Option<String>,
    /// What to do about them, when there are any.
    pub advice: Option<String>,
}

/// The report.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct RulesStatus {
    /// Every rule, by id.
    pub rules: Vec<RuleStatus>,
    /// The live monitor.
    pub monitor: MonitorStatus,
    /// History the live rules did not see.
    pub late_history: LateHistory,
    /// Whether the circuit breaker is open (enforced findings then wait).
    pub breaker_open: bool,
}

impl App {
    /// What the checks are doing now; reads only.
    pub async fn rules_status(&self) -> Result<RulesStatus, AppError> {
        let now = self.clock.now();
        let rules = self.rules().await?;
        let live: Vec<_> = rules
            .iter()
            .filter(|r| r.spec.mode != RuleMode::Off && r.spec.detector.reads_events())
            .cloned()
            .collect();
        let eval = Evaluator::new(live);
        let window = eval.longest_window();
        let counts = self
            .store
            .finding_counts(now.minus(Duration::from_secs(86_400)))
            .await?;
        let rules = rules
            .into_iter()
            .map(|r| {
                let mine = counts.iter().filter(|c| c.rule_id == r.spec.id);
                let n = |s: FindingStatus| {
                    counts
                        .iter()
                        .filter(|c| c.rule_id == r.spec.id && c.status == s)
                        .map(|c| c.count)
                        .sum()
                };
                RuleStatus {
                    version: r.version,
                    detector: r.spec.detector.as_str().to_owned(),
                    mode: r.spec.mode.to_string(),
                    action: r.spec.action.to_string(),
                    max_findings_per_day: r.spec.max_findings_per_day,
                    shadow_24h: n(FindingStatus::Shadow),
                    pending_24h: n(FindingStatus::Pending),
                    held_24h: n(FindingStatus::Held),
                    newest_finding: mine.map(|c| c.newest).max().map(|t| t.to_rfc3339()),
                    id: r.spec.id,
                }
            })
            .collect();
        let progress = self.store.monitor_progress(CHECKPOINT).await?;
        let late = if window.is_zero() {
            gatehouse_store::LateEvents::default()
        } else {
            self.store
                .late_login_events(window, now.minus(LATE_LOOKBACK))
                .await?
        };
        let advice = (late.count > 0).then(|| {
            format!(
                "{} events received in the last 7 days were already older than the live window \
                 ({} s) when they arrived: the live rules raised no findings from them (those \
                 within the last {} days still teach the accounts' histories). To raise findings \
                 from them, backtest each rule over their period and record the results as shadow \
                 findings: gatehouse rules backtest RULE --since {} --until {} --record",
                late.count,
                window.as_secs(),
                eval.history().as_secs() / 86_400,
                late.oldest.map(|t| t.to_rfc3339()).unwrap_or_default(),
                late.newest
                    .map(|t| t.plus(Duration::from_millis(1)).to_rfc3339())
                    .unwrap_or_default(),
            )
        });
        let rfc = |t: Option<gatehouse_domain::Timestamp>| t.map(|t| t.to_rfc3339());
        Ok(RulesStatus {
            rules,
            monitor: MonitorStatus {
                checkpoint: progress.after_id,
                latest_event: progress.latest_id,
                behind: (progress.latest_id - progress.after_id).max(0),
                saved_at: rfc(progress.saved_at),
                live_window_secs: window.as_secs(),
                history_secs: eval.history().as_secs(),
            },
            late_history: LateHistory {
                events: late.count,
                oldest: rfc(late.oldest),
                newest: rfc(late.newest),
                last_received: rfc(late.last_received),
                advice,
            },
            breaker_open: self.store.breaker().await?.open,
        })
    }
}
