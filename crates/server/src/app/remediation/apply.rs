//! The campaign worker's step: one pass over running campaigns and undos, and
//! one step of a campaign — the pure guardrail (`domain::guardrail::next_step`)
//! decides complete / bake / widen / apply n / wait, the health gates (bounces,
//! reports, recovery completions) are checked before a stage widens, and each
//! account is applied in one store transaction with its budget draw, notice and
//! audit entry (invariant *Bounded blast radius*).

use std::time::Duration;

use gatehouse_domain::audit::{Actor as AuditActor, AuditAction, NewAuditEntry};
use gatehouse_domain::campaign::{CampaignCommand, CampaignState, Command};
use gatehouse_domain::guardrail::{NextStep, StepFacts, next_step};
use gatehouse_domain::{AccountId, CampaignId, Email, RecoveryCode, RecoveryId, Timestamp};
use gatehouse_store::{
    ApplyBatch, ApplyOutcome, ApplyStep, ApplyTarget, BreakerTrip, BudgetLimits, BudgetUse,
    CampaignRecord, CampaignUpdate, ExhaustionTrip, NOTICE_REFERENCE_TAKEN, NewNotice, NewRecovery,
    StoreError, TargetRecord, TargetState, TripAlerts,
};
use secrecy::ExposeSecret;

use super::campaigns::{RESET_CODE_TTL, STEP, StepReport, domain, refused};
use crate::app::{App, AppError, Client};
use crate::mail::{ForcedResetFacts, NoticeFacts};

impl App {
    /// Applies up to one step of a running campaign: the next pending targets of
    /// the current stage, at most the rate cap allows since the stage began.
    /// Moves to the next stage after the bake time, completes at the end. An
    /// automatic campaign that finds the budget used up trips the breaker; an
    /// operator campaign pauses.
    pub async fn campaign_step(&self, id: CampaignId) -> Result<StepReport, AppError> {
        let c = self.campaign(id).await?;
        let mut report = StepReport::default();
        if c.state != CampaignState::Running {
            return Ok(report);
        }
        if let Some(reason) = self.report_gate_failure(&c).await? {
            self.gate_failed(&c, reason).await?;
            return Ok(report);
        }
        let now = self.clock.now();
        let plan = &c.stage_plan;
        let facts = StepFacts {
            targets: c.target_count.max(0) as u64,
            // From the campaign's own counts: counting its targets by state
            // was a scan per step.
            done: (c.applied + c.skipped).max(0) as u64,
            stage: c.stage.max(0) as usize,
            stage_started_at: c.stage_started_at.unwrap_or(now),
            now,
            bake: Duration::from_secs(c.bake_secs.max(0) as u64),
            rate_per_minute: c.rate_per_minute.max(0) as u64,
            max_batch: STEP as u64,
        };
        let room = match next_step(plan, &facts) {
            NextStep::Complete => {
                let next = domain(&c)
                    .apply(&Command::Complete, false)
                    .map_err(refused)?;
                let mut u = CampaignUpdate::at(now);
                u.state = Some(next.state);
                let audit =
                    NewAuditEntry::new(now, AuditActor::System, AuditAction::CampaignTransition)
                        .target(id)
                        .detail(serde_json::json!({ "command": "complete", "applied": c.applied }));
                self.store.update_campaign(id, c.state, &u, audit).await?;
                return Ok(report);
            }
            // Bake: the stage's effects (bounces, complaints) show before the next one.
            NextStep::Bake { .. } | NextStep::Wait => return Ok(report),
            NextStep::Widen { stage } => {
                if let Some(reason) = self.health_gate_failure(&c).await? {
                    self.gate_failed(&c, reason).await?;
                    return Ok(report);
                }
                if let Some(reason) = self.recovery_gate_failure(&c).await? {
                    self.gate_failed(&c, reason).await?;
                    return Ok(report);
                }
                let mut u = CampaignUpdate::at(now);
                u.stage = Some((stage as i64, now));
                let audit =
                    NewAuditEntry::new(now, AuditActor::System, AuditAction::CampaignTransition)
                        .target(id)
                        .detail(serde_json::json!({ "command": "next_stage", "stage": stage, "applied": c.applied }));
                self.store.update_campaign(id, c.state, &u, audit).await?;
                return Ok(report);
            }
            NextStep::Apply { n } => n,
        };
        let (per_hour, per_day) = self.budget_limits().await?;
        let budget = BudgetLimits {
            per_hour: per_hour as i64,
            per_day: per_day as i64,
            may_exceed: !c.automatic && c.needs_second_approval && c.approved_by.is_some(),
        };
        let pending: Vec<_> = self
            .store
            .campaign_targets(id, Some(TargetState::Pending), -1, room as i64)
            .await?;
        for outcome in self.apply_targets(&c, &pending, budget).await? {
            match outcome {
                ApplyOutcome::Applied { tripped, .. } => {
                    report.applied += 1;
                    if let Some(why) = tripped {
                        // The reset that used up the budget tripped the breaker
                        // in its own transaction; what follows a trip (the
                        // incident draft) follows it at once.
                        self.after_trip(&why).await;
                        break;
                    }
                }
                ApplyOutcome::Skipped | ApplyOutcome::AlreadyDone => report.skipped += 1,
                ApplyOutcome::BudgetExhausted { hour, day } => {
                    let why = budget_used_up(BudgetUse { hour, day }, budget);
                    if c.automatic {
                        self.trip_breaker(&why, AuditActor::System).await?;
                    } else {
                        self.command_campaign(
                            id,
                            CampaignCommand::Pause,
                            Some(why),
                            AuditActor::System,
                        )
                        .await?;
                    }
                    break;
                }
                ApplyOutcome::NotRunning(_) | ApplyOutcome::BreakerOpen => break,
            }
        }
        if report.applied > 0 {
            self.wake_outbox();
            metrics::counter!("gatehouse_forced_resets_total").increment(report.applied);
        }
        Ok(report)
    }

    /// A failed health gate: an automatic campaign trips the breaker (which pauses
    /// it and every other automatic one); an operator campaign pauses.
    pub(crate) async fn gate_failed(
        &self,
        c: &CampaignRecord,
        reason: String,
    ) -> Result<(), AppError> {
        if c.automatic {
            self.trip_breaker(&reason, AuditActor::System).await?;
        } else {
            self.command_campaign(
                c.id,
                CampaignCommand::Pause,
                Some(reason),
                AuditActor::System,
            )
            .await?;
        }
        Ok(())
    }

    /// The health gate checked at every step: too many people reported the
    /// campaign's notice as unexpected on `/verify` (at least 3, and more than
    /// `report_gate_percent` of those applied).
    pub(crate) async fn report_gate_failure(
        &self,
        c: &CampaignRecord,
    ) -> Result<Option<String>, AppError> {
        let reports = self.store.campaign_reports(c.id).await?;
        let share = reports as f64 / c.applied.max(1) as f64;
        Ok((reports >= 3 && share > self.config.report_gate).then(|| {
            format!(
                "health gate: {reports} of {} people said on /verify they did not expect the notice ({:.0}% > {:.0}%)",
                c.applied,
                share * 100.0,
                self.config.report_gate * 100.0
            )
        }))
    }

    /// Records a person's "I did not expect this" about a forced-reset notice
    /// they checked on `/verify` (rate-limited like the check). Answers the same
    /// whether or not the reference was a campaign's.
    pub async fn report_unexpected_notice(
        &self,
        input: &str,
        client: &Client,
    ) -> Result<(), AppError> {
        let verified = self.verify_reference(input, client).await?;
        let now = self.clock.now();
        let audit = NewAuditEntry::new(now, AuditActor::Account(None), AuditAction::NoticeReported)
            .ip(client.ip_string())
            .detail(serde_json::json!({ "reference": verified.reference }));
        if self
            .store
            .report_unexpected_notice(&verified.reference, now, audit)
            .await?
        {
            metrics::counter!("gatehouse_notice_reports_total").increment(1);
            // The worker looks at the gate at its next step.
            self.campaigns_wakeup.notify_one();
        }
        Ok(())
    }

    /// A health gate that failed for the stage just applied, if any: too many of
    /// the campaign's notices bounced (failed), in share of those applied.
    pub(crate) async fn health_gate_failure(
        &self,
        c: &CampaignRecord,
    ) -> Result<Option<String>, AppError> {
        let failed = self.store.campaign_failed_notices(c.id).await?;
        let applied = c.applied.max(1) as f64;
        let share = failed as f64 / applied;
        Ok((failed >= 3 && share > self.config.bounce_gate).then(|| {
            format!(
                "health gate: {failed} of {} forced-reset notices bounced ({:.0}% > {:.0}%)",
                c.applied,
                share * 100.0,
                self.config.bounce_gate * 100.0
            )
        }))
    }

    /// The recovery-completion gate, before widening to the next stage: among
    /// the people whose notice was delivered at least the gate's age ago (or
    /// the bake time, if longer), too few set a new password
    /// (`recovery_gate_percent` of at least `recovery_gate_min_sample`).
    pub(crate) async fn recovery_gate_failure(
        &self,
        c: &CampaignRecord,
    ) -> Result<Option<String>, AppError> {
        let gate = self.config.recovery_gate;
        let age = Duration::from_secs(gate.age_secs(c.bake_secs.max(0) as u64));
        let (sample, completed) = self
            .store
            .campaign_recovery_completions(c.id, self.clock.now().minus(age))
            .await?;
        Ok(gate.failure(sample.max(0) as u64, completed.max(0) as u64))
    }

    /// The forced resets of a step's targets, in one store transaction
    /// (`apply_campaign_targets`: the breaker and the budget checked before each
    /// account, all or nothing). A notice-reference collision re-runs the batch
    /// with fresh references; any other failure re-runs the targets one by one,
    /// so an account that cannot be applied fails alone, after those before it.
    /// The outcomes are in the targets' order, as far as the batch went.
    pub(crate) async fn apply_targets(
        &self,
        c: &CampaignRecord,
        targets: &[TargetRecord],
        budget: BudgetLimits,
    ) -> Result<Vec<ApplyOutcome>, AppError> {
        let alerts = |trip: &BreakerTrip| self.breaker_alerts(trip);
        let reason = |used: BudgetUse| budget_used_up(used, budget);
        let mut attempts = 0;
        loop {
            let now = self.clock.now();
            let mut prepared = Vec::with_capacity(targets.len());
            let mut unprepared = None;
            for t in targets {
                match Email::parse(&t.email) {
                    Ok(to) => prepared.push(self.prepare_reset(c, t.account_id, &to, now)),
                    Err(e) => {
                        unprepared = Some(AppError::email(e));
                        break;
                    }
                }
            }
            let trip = c.automatic.then(|| exhaustion_trip(now, &reason, &alerts));
            let batch = ApplyBatch {
                trip_on_exhaustion: trip.as_ref(),
                campaign: c.id,
                now,
                budget,
                targets: prepared.iter().map(PreparedReset::target).collect(),
            };
            match self.store.apply_campaign_targets(&batch).await {
                Ok(outcomes) => {
                    // As in `apply_one`: the suspended sessions stop here at once.
                    let applied: Vec<AccountId> = targets
                        .iter()
                        .take(outcomes.len())
                        .map(|t| t.account_id)
                        .collect();
                    self.forget_sessions_of_accounts(&applied);
                    let finished =
                        outcomes.len() == prepared.len() && !outcomes.iter().any(ends_step);
                    // An address that no longer parses: the accounts before it
                    // are applied, and the step fails on it (as one by one).
                    return match unprepared {
                        Some(e) if finished => Err(e),
                        _ => Ok(outcomes),
                    };
                }
                Err(StoreError::Conflict(NOTICE_REFERENCE_TAKEN)) if attempts < 3 => attempts += 1,
                Err(_) if prepared.len() > 1 => break,
                Err(e) => return Err(e.into()),
            }
        }
        let mut outcomes = Vec::new();
        for t in targets {
            let outcome = self.apply_one(c, t.account_id, &t.email, budget).await?;
            let stop = ends_step(&outcome);
            outcomes.push(outcome);
            if stop {
                break;
            }
        }
        Ok(outcomes)
    }

    /// One account's forced reset (one store transaction).
    pub(crate) async fn apply_one(
        &self,
        c: &CampaignRecord,
        account: AccountId,
        email: &str,
        budget: BudgetLimits,
    ) -> Result<ApplyOutcome, AppError> {
        let to = Email::parse(email).map_err(AppError::email)?;
        let alerts = |trip: &BreakerTrip| self.breaker_alerts(trip);
        let reason = |used: BudgetUse| budget_used_up(used, budget);
        let out = self
            .with_fresh_reference(|| async {
                let now = self.clock.now();
                let p = self.prepare_reset(c, account, &to, now);
                let step = ApplyStep {
                    trip_on_exhaustion: c.automatic.then(|| exhaustion_trip(now, &reason, &alerts)),
                    campaign: c.id,
                    account,
                    now,
                    budget,
                    recovery: &p.recovery,
                    notice: &p.notice,
                    audit: p.audit,
                };
                self.store.apply_campaign_target(&step).await
            })
            .await?;
        // The suspended sessions, and the apps' grants on them, stop on this
        // replica at once (others follow within `session_cache_seconds`).
        self.forget_sessions_of_accounts(&[account]);
        Ok(out)
    }

    /// What one account's forced reset writes: a recovery request with a fresh
    /// code, the forced-reset notice carrying it, the audit entry.
    fn prepare_reset(
        &self,
        c: &CampaignRecord,
        account: AccountId,
        to: &Email,
        now: Timestamp,
    ) -> PreparedReset {
        let rid = RecoveryId::generate(self.entropy.as_ref());
        let code = RecoveryCode::generate(self.entropy.as_ref());
        let expires_at = now.plus(RESET_CODE_TTL);
        // No address or device: Gatehouse acted, not a person's request.
        let facts = NoticeFacts::ForcedReset(ForcedResetFacts {
            at: now.to_rfc3339(),
            code: code.display(),
            token: None,
            expires_minutes: RESET_CODE_TTL.as_secs() / 60,
            reason: c.reason.clone(),
        });
        let notice = self.new_notice(
            Some(account),
            to,
            format!("reset/{}/{account}", c.id),
            &facts,
            Some(expires_at),
        );
        let recovery = NewRecovery {
            id: rid,
            account,
            code_hash: code.digest(self.secret_key.expose_secret(), &rid.to_string()),
            token_hash: None,
            created_at: now,
            expires_at,
            ip: None,
        };
        let audit = NewAuditEntry::new(now, AuditActor::System, AuditAction::AccountReset)
            .target(account)
            .detail(serde_json::json!({
                "campaign": c.id.to_string(),
                "rule": c.rule_id,
                "rule_version": c.rule_version,
                "created_by": c.created_by.text(),
                "approved_by": c.approved_by.as_ref().map(AuditActor::text),
                "reference": notice.reference,
            }));
        PreparedReset {
            account,
            recovery,
            notice,
            audit,
        }
    }

    /// One pass of the campaign worker: automatic campaigns from new findings,
    /// then a step of every running campaign and of every undo.
    pub async fn campaigns_pass(&self) -> Result<StepReport, AppError> {
        self.automatic_campaigns().await?;
        let mut total = StepReport::default();
        for c in self
            .store
            .campaigns(Some(CampaignState::Running), 100)
            .await?
        {
            let r = self.campaign_step(c.id).await?;
            total.applied += r.applied;
            total.skipped += r.skipped;
        }
        for c in self
            .store
            .campaigns(Some(CampaignState::Undoing), 100)
            .await?
        {
            total.undone += self.undo_step(c.id).await?.restored_or_explained();
        }
        Ok(total)
    }
}

/// One account's prepared forced reset (see `App::prepare_reset`).
struct PreparedReset {
    account: AccountId,
    recovery: NewRecovery,
    notice: NewNotice,
    audit: NewAuditEntry,
}

impl PreparedReset {
    fn target(&self) -> ApplyTarget<'_> {
        ApplyTarget {
            account: self.account,
            recovery: &self.recovery,
            notice: &self.notice,
            audit: self.audit.clone(),
        }
    }
}

/// Whether an outcome ends the step: nothing after it is applied in this pass.
fn ends_step(outcome: &ApplyOutcome) -> bool {
    match outcome {
        ApplyOutcome::Applied { tripped, .. } => tripped.is_some(),
        ApplyOutcome::Skipped | ApplyOutcome::AlreadyDone => false,
        ApplyOutcome::BudgetExhausted { .. }
        | ApplyOutcome::NotRunning(_)
        | ApplyOutcome::BreakerOpen => true,
    }
}

/// The breaker trip an automatic campaign's reset makes when it draws the
/// budget's last unit.
fn exhaustion_trip<'a>(
    now: Timestamp,
    reason: &'a (dyn Fn(BudgetUse) -> String + Send + Sync),
    alerts: TripAlerts<'a>,
) -> ExhaustionTrip<'a> {
    ExhaustionTrip {
        reason,
        alerts,
        audit: NewAuditEntry::new(now, AuditActor::System, AuditAction::BreakerChanged)
            .detail(serde_json::json!({ "command": "trip" })),
    }
}

/// The breaker's (or the pause's) reason when the budget is used up.
fn budget_used_up(used: BudgetUse, budget: BudgetLimits) -> String {
    format!(
        "reset budget used up ({} in the last hour of {}, {} in the last day of {})",
        used.hour, budget.per_hour, used.day, budget.per_day
    )
}
