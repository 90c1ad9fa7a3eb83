//! Automatic campaigns: an enforced `force_reset` rule's pending findings become
//! one campaign per rule per pass, approved by policy when small enough, waiting
//! for a person (and tripping the breaker) when past the approval thresholds.

use gatehouse_domain::audit::Actor as AuditActor;
use gatehouse_domain::campaign::{CampaignCommand, StagePlan};
use gatehouse_store::{CampaignRecord, CampaignSource, NewTarget};

use crate::app::{App, AppError};

impl App {
    /// Turns the pending findings of every enforced `force_reset` rule into an
    /// automatic campaign (one per rule per pass). A campaign small enough is
    /// approved by policy and started; one past the approval thresholds is a
    /// volume anomaly: it waits, previewed, for a person, and the breaker trips.
    /// Returns the campaigns created.
    ///
    /// While the breaker is open, findings wait as findings: no campaign is
    /// created (each would only wait for an operator, and undo could not clear
    /// them). And a rule has at most one automatic campaign waiting for a person
    /// (drafted, previewed or approved, not yet running): new findings wait for
    /// that one to be decided.
    pub async fn automatic_campaigns(&self) -> Result<Vec<CampaignRecord>, AppError> {
        use gatehouse_domain::campaign::CampaignState as S;
        use gatehouse_domain::finding::{RuleAction, RuleMode};
        let mut created = Vec::new();
        // Read only once a rule has findings to act on: the worker calls this
        // every second, and most passes have nothing to do.
        let mut waiting: Option<std::collections::BTreeSet<String>> = None;
        for rule in self.rules().await? {
            if rule.spec.mode != RuleMode::Enforce || rule.spec.action != RuleAction::ForceReset {
                continue;
            }
            let found = self
                .store
                .unassigned_findings(&rule.spec.id, 100_000)
                .await?;
            if found.is_empty() {
                continue;
            }
            let waiting = match &mut waiting {
                Some(w) => w,
                None => {
                    if self.store.breaker().await?.open {
                        return Ok(created);
                    }
                    let mut w = std::collections::BTreeSet::new();
                    for state in [S::Draft, S::Previewed, S::Approved] {
                        for c in self.store.campaigns(Some(state), 1_000).await? {
                            if let (true, Some(rule)) = (c.automatic, c.rule_id) {
                                w.insert(rule);
                            }
                        }
                    }
                    waiting.insert(w)
                }
            };
            if waiting.contains(&rule.spec.id) {
                continue;
            }
            let targets: Vec<NewTarget> = found
                .into_iter()
                .map(|(finding, account, evidence)| NewTarget {
                    account,
                    finding_id: Some(finding),
                    evidence,
                })
                .collect();
            let reason = if rule.spec.description.is_empty() {
                "our routine checks found signs that someone else signed in to your account"
                    .to_owned()
            } else {
                rule.spec.description.clone()
            };
            let c = self
                .store_campaign(
                    format!("{} (automatic)", rule.spec.id),
                    reason,
                    CampaignSource::Rule,
                    Some((rule.spec.id.clone(), rule.version)),
                    targets,
                    StagePlan::default(),
                    60,
                    0,
                    AuditActor::System,
                )
                .await?;
            let (c, preview) = self.preview_campaign(c.id, AuditActor::System).await?;
            if preview.needs_second_approval {
                let why = format!(
                    "volume anomaly: rule {} v{} would reset {} accounts ({:.1}× the normal daily volume); campaign {} waits for an operator",
                    rule.spec.id, rule.version, preview.accounts, preview.multiple_of_normal, c.id
                );
                tracing::warn!(campaign = %c.id, accounts = preview.accounts, "{why}");
                self.trip_breaker(&why, AuditActor::System).await?;
                created.push(c);
                continue;
            }
            let started = match self
                .command_campaign(c.id, CampaignCommand::Start, None, AuditActor::System)
                .await
            {
                Ok(c) => c,
                // The breaker is open: the campaign waits, approved, for a person.
                Err(AppError::CampaignRefused(_)) => c,
                Err(e) => return Err(e),
            };
            created.push(started);
        }
        Ok(created)
    }
}
