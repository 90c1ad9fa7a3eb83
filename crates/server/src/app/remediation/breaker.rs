//! The circuit breaker: trip (every apply step stops, automatic campaigns pause,
//! forced-reset notices wait), reset, the operators' alert mail written in the
//! trip's own transaction, the incident draft, and the breaker's view.

use std::time::Duration;

use gatehouse_domain::Email;
use gatehouse_domain::audit::{Actor as AuditActor, AuditAction, NewAuditEntry};
use gatehouse_domain::campaign::CampaignState;
use gatehouse_store::{BreakerTrip, NewNotice};

use super::campaigns::BreakerView;
use crate::app::{App, AppError};
use crate::mail::{BreakerTrippedFacts, NoticeFacts};

/// Longest breaker reason, in characters.
pub const BREAKER_REASON_MAX: usize = 1000;

impl App {
    /// Trips the circuit breaker: every apply step stops, running automatic
    /// campaigns pause, forced-reset notices wait. Returns whether it changed.
    pub async fn trip_breaker(&self, reason: &str, by: AuditActor) -> Result<bool, AppError> {
        let changed = self.set_breaker(true, reason, by).await?;
        if changed {
            self.after_trip(reason).await;
        }
        Ok(changed)
    }

    /// What follows a trip that committed (by a command, or by the reset that
    /// used up the budget): the metric, the log line, the incident draft.
    pub(crate) async fn after_trip(&self, reason: &str) {
        metrics::counter!("gatehouse_breaker_trips_total").increment(1);
        tracing::error!(
            reason,
            "circuit breaker tripped: automation and forced-reset notices paused"
        );
        // The statement people will need, drafted now with the figures; only an
        // operator publishes it. Best effort: the breaker is what matters.
        if let Err(e) = self.draft_breaker_incident(reason).await {
            tracing::error!(error = %e, "could not draft the incident for the breaker trip");
        }
    }

    /// An incident draft for a breaker trip, with live figures for operators:
    /// accounts reset in the last hour and day, the campaigns and rules involved.
    pub(crate) async fn draft_breaker_incident(&self, reason: &str) -> Result<(), AppError> {
        let now = self.clock.now();
        let day = self
            .store
            .resets_since(now.minus(Duration::from_secs(86_400)))
            .await?;
        let hour = self
            .store
            .resets_since(now.minus(Duration::from_secs(3600)))
            .await?;
        let mut campaigns = Vec::new();
        for state in [CampaignState::Paused, CampaignState::Running] {
            for c in self.store.campaigns(Some(state), 100).await? {
                campaigns.push(serde_json::json!({
                    "id": c.id.to_string(), "name": c.name, "state": c.state.as_str(),
                    "automatic": c.automatic, "rule": c.rule_id, "rule_version": c.rule_version,
                    "applied": c.applied, "targets": c.target_count, "paused_reason": c.paused_reason,
                }));
            }
        }
        let draft = crate::app::status::IncidentDraft {
            title: "Unexpected password reset e-mails".into(),
            body: format!(
                "Our routine checks for compromised accounts reset the passwords of {day} accounts in the last 24 hours. \
                 We stopped all automatic resets at {} and are reviewing them. If you received a password reset e-mail \
                 from us, you can check that it is genuine by entering its reference at /verify. We will post an update here.",
                now.to_rfc3339()
            ),
            impact: Some("major".into()),
            components: Vec::new(),
            figures: Some(serde_json::json!({
                "breaker_reason": reason,
                "tripped_at": now.to_rfc3339(),
                "resets_last_hour": hour,
                "resets_last_day": day,
                "campaigns": campaigns,
            })),
        };
        self.create_incident_draft(&draft, AuditActor::System)
            .await?;
        Ok(())
    }

    /// Closes the breaker: an operator's decision, with a reason.
    pub async fn reset_breaker(&self, reason: &str, by: AuditActor) -> Result<bool, AppError> {
        if !matches!(by, AuditActor::Operator(_)) {
            return Err(AppError::Forbidden);
        }
        if reason.trim().is_empty() {
            return Err(AppError::Invalid {
                field: "reason",
                message: "say why the breaker can close (it is audited)".into(),
            });
        }
        let changed = self.set_breaker(false, reason, by).await?;
        if changed {
            self.campaigns_wakeup.notify_one();
            self.wake_outbox();
        }
        Ok(changed)
    }

    pub(crate) async fn set_breaker(
        &self,
        open: bool,
        reason: &str,
        by: AuditActor,
    ) -> Result<bool, AppError> {
        let command = if open { "trip" } else { "reset" };
        // It is in the operators' alert, the incident draft and the audit log.
        let reason = if reason.trim().is_empty() {
            String::new()
        } else {
            gatehouse_domain::text::one_line(reason, BREAKER_REASON_MAX).map_err(|m| {
                AppError::Invalid {
                    field: "reason",
                    message: format!("the reason {m}"),
                }
            })?
        };
        let reason = reason.as_str();
        // The operators' alerts are built from what the trip's transaction read
        // (its number, figures, the enabled operators) and written in it.
        let alerts = |trip: &BreakerTrip| self.breaker_alerts(trip);
        let changed = self
            .with_fresh_reference(|| {
                let now = self.clock.now();
                let audit = NewAuditEntry::new(now, by.clone(), AuditAction::BreakerChanged)
                    .detail(serde_json::json!({ "command": command }));
                self.store
                    .set_breaker(open, reason, &by, now, &alerts, audit)
            })
            .await?;
        if changed && open {
            // Not held by the open breaker: the alert goes out precisely now.
            self.wake_outbox();
        }
        Ok(changed)
    }

    /// One alert per enabled operator for a trip: reason, who, figures and the
    /// console's address (from `public_url`). Keyed by trip and operator, so a
    /// trip mails each operator once.
    pub(crate) fn breaker_alerts(&self, trip: &BreakerTrip) -> Vec<NewNotice> {
        let tripped_by = match trip.by.strip_prefix("operator:") {
            Some(id) => match trip.operators.iter().find(|o| o.id.to_string() == id) {
                Some(o) => format!("the operator {}", o.email),
                None => format!("the operator {id}"),
            },
            None => "Gatehouse itself (an automatic guardrail)".to_owned(),
        };
        if trip.operators.is_empty() {
            tracing::warn!(
                trip = trip.trip,
                "the breaker tripped and there is no enabled operator to e-mail (gatehouse operator create)"
            );
        }
        trip.operators
            .iter()
            .filter_map(|op| {
                let Ok(to) = Email::parse(&op.email) else {
                    tracing::error!(operator = %op.id, "operator address does not parse; no breaker alert for it");
                    return None;
                };
                let facts = NoticeFacts::BreakerTripped(BreakerTrippedFacts {
                    at: trip.at.to_rfc3339(),
                    reason: trip.reason.clone(),
                    tripped_by: tripped_by.clone(),
                    resets_last_hour: trip.resets_last_hour,
                    resets_last_day: trip.resets_last_day,
                    campaigns_paused: trip.paused_campaigns,
                });
                Some(self.new_notice(
                    None,
                    &to,
                    format!("breaker-tripped/{}/{}", trip.trip, op.id),
                    &facts,
                    None,
                ))
            })
            .collect()
    }
}

impl App {
    /// The breaker with the budget's limits and use.
    pub async fn breaker_view(&self) -> Result<BreakerView, AppError> {
        let now = self.clock.now();
        let (per_hour, per_day) = self.budget_limits().await?;
        Ok(BreakerView {
            breaker: self.store.breaker().await?,
            budget_per_hour: per_hour,
            budget_per_day: per_day,
            used_last_hour: self
                .store
                .resets_since(now.minus(Duration::from_secs(3600)))
                .await?,
            used_last_day: self
                .store
                .resets_since(now.minus(Duration::from_secs(86_400)))
                .await?,
        })
    }
}
