//! Remediation campaigns: every forced reset — of one account or a million — is
//! one. This module holds the use cases (create, preview, approve, start, pause,
//! resume, abort, undo), the apply loop the campaign worker runs, and the
//! breaker's trip and reset. The guardrails themselves are pure
//! (`gatehouse_domain::campaign`); the store applies each account in one
//! transaction with its budget draw, notice and audit entry.
//!
//! What keeps a campaign from doing what the 2012 incident did:
//! - an empty or unspecified target set is refused;
//! - the target set is frozen at preview (a hash of the sorted account ids) and
//!   approval binds to that hash;
//! - above the approval thresholds another operator must approve (never the creator);
//! - stages (1 % → 10 % → 100 %) with a rate cap and a bake time between them;
//! - every reset draws from one budget in the database, shared by every replica;
//!   an automatic campaign that hits it trips the breaker;
//! - the breaker stops every apply step, pauses automatic campaigns and holds
//!   security notices until an operator closes it;
//! - undo restores what the owner has not changed since.

use std::collections::BTreeMap;
use std::time::Duration;

use gatehouse_domain::audit::{Actor as AuditActor, AuditAction, NewAuditEntry};
use gatehouse_domain::campaign::{Campaign, CampaignState, Command, StagePlan};
use gatehouse_domain::guardrail::{NextStep, StepFacts, next_step};
use gatehouse_domain::{AccountId, CampaignId, Email, RecoveryCode, RecoveryId};
use gatehouse_store::{
    ApplyOutcome, ApplyStep, BreakerRecord, BreakerTrip, BudgetLimits, CampaignRecord,
    CampaignSource, CampaignUpdate, NewCampaign, NewNotice, NewRecovery, NewTarget, TargetState,
};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{App, AppError, Client};
use crate::mail::{BreakerTrippedFacts, ForcedResetFacts, NoticeFacts};

/// How long a forced reset's code works: people read such mail later than a
/// recovery they asked for themselves.
pub const RESET_CODE_TTL: Duration = Duration::from_secs(3 * 86_400);
/// Suspended sessions older than this are not reinstated by undo.
pub const UNDO_WINDOW: Duration = Duration::from_secs(7 * 86_400);
/// Targets applied per worker step at most (then the rate cap and other campaigns get a turn).
pub(super) const STEP: usize = 50;

/// A campaign as an operator asks for it.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignSpec {
    /// A name for people.
    pub name: String,
    /// Why, as the owners will read it in the notice ("your password appeared in a
    /// list of stolen credentials").
    pub reason: String,
    /// The accounts: e-mail addresses or ids. Never empty: an empty list is refused,
    /// never read as "all".
    pub accounts: Vec<String>,
    /// Stages as cumulative fractions (default 0.01, 0.1, 1.0).
    #[serde(default)]
    pub stages: Option<Vec<f64>>,
    /// Accounts per minute at most (default 60).
    #[serde(default)]
    pub rate_per_minute: Option<u32>,
    /// Seconds to wait between stages (default 600).
    #[serde(default)]
    pub bake_secs: Option<u32>,
}

/// What a preview shows; the target set is frozen with it.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Preview {
    /// Accounts in the frozen set.
    pub accounts: u64,
    /// SHA-256 of the sorted account ids (hex): what approval binds to.
    pub snapshot: String,
    /// Median forced resets a day over the last 30 days.
    pub normal_daily: f64,
    /// `accounts` over the normal daily volume (a normal of zero counts as one).
    pub multiple_of_normal: f64,
    /// Share of all accounts, 0 to 1.
    pub share_of_accounts: f64,
    /// Active accounts: a successful sign-in (here or in a login event from an
    /// app) or a session used in the last 30 days — or every account, when
    /// there is no login history at all (`active_fallback`).
    #[serde(default)]
    pub active_accounts: u64,
    /// `accounts` as a share of `active_accounts`, 0 to 1 (what the approval
    /// threshold `approval_max_share_percent` reads).
    #[serde(default)]
    pub share_of_active: f64,
    /// True when there is no login history at all, so `active_accounts` counts
    /// every account.
    #[serde(default)]
    pub active_fallback: bool,
    /// How `active_accounts` was counted, in words.
    #[serde(default)]
    pub active_basis: String,
    /// Notices per recipient domain, largest first (at most 20 domains).
    pub mail_by_domain: Vec<(String, u64)>,
    /// Accounts also in another campaign that is approved, running or paused.
    pub overlap_with_running: u64,
    /// Whether a second operator must approve.
    pub needs_second_approval: bool,
    /// Stage boundaries (cumulative accounts).
    pub stages: Vec<u64>,
    /// Up to 20 accounts with the evidence for each.
    #[schema(value_type = Vec<Object>)]
    pub sample: Vec<serde_json::Value>,
}

/// The window of "active accounts": a sign-in or session use within it.
pub const ACTIVE_WINDOW: Duration = Duration::from_secs(30 * 86_400);

/// How many accounts count as active (the base of a campaign's share).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ActiveAccounts {
    /// Accounts counted.
    pub count: u64,
    /// No login history at all: every account was counted.
    pub fallback: bool,
}

impl ActiveAccounts {
    /// How they were counted, in words.
    pub fn basis(&self) -> String {
        if self.fallback {
            "all accounts: there is no login history yet, so activity cannot be measured".into()
        } else {
            "accounts that signed in or used a session in the last 30 days".into()
        }
    }
}

/// What an undo would do, or did.
#[derive(Clone, Debug, Default, Serialize, utoipa::ToSchema)]
pub struct UndoReport {
    /// Accounts whose prior password and sessions come back.
    pub restorable: u64,
    /// Accounts whose owner set a new password since (they get an explanation).
    pub not_restorable: u64,
    /// Restored so far.
    pub restored: u64,
    /// Told it could not be restored.
    pub explained: u64,
    /// Restored before their forced-reset notice went out (held by the open
    /// breaker, or waiting its turn): that notice is withdrawn and no correction
    /// is needed. Included in `restored`.
    pub withdrawn: u64,
}

impl UndoReport {
    /// Accounts this report's step dealt with.
    pub fn restored_or_explained(&self) -> u64 {
        self.restored + self.explained
    }
}

/// What one worker step did to a campaign.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StepReport {
    /// Accounts reset.
    pub applied: u64,
    /// Accounts left alone (already awaiting a reset).
    pub skipped: u64,
    /// Accounts an undo restored or explained to.
    pub undone: u64,
}

/// The breaker and the budget.
#[derive(Serialize, utoipa::ToSchema)]
pub struct BreakerView {
    /// The breaker.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub breaker: BreakerRecord,
    /// Forced resets allowed per hour now.
    pub budget_per_hour: u64,
    /// Per day.
    pub budget_per_day: u64,
    /// Used in the trailing hour.
    pub used_last_hour: i64,
    /// Used in the trailing day.
    pub used_last_day: i64,
}

/// The domain view of a stored campaign, for the state machine.
pub(super) fn domain(c: &CampaignRecord) -> Campaign {
    Campaign {
        state: c.state,
        created_by: c.created_by.clone(),
        snapshot: c.snapshot_hash.map(|h| (h, c.target_count as u64)),
        needs_second_approval: c.needs_second_approval,
        approved_by: c.approved_by.clone(),
        applied: c.applied as u64,
    }
}

pub(super) fn refused(e: gatehouse_domain::campaign::Refusal) -> AppError {
    AppError::CampaignRefused(e.to_string())
}

impl App {
    /// Creates a draft campaign over the accounts named (e-mail addresses or
    /// ids). Every name must resolve to an account; none may be missing.
    pub async fn create_campaign(
        &self,
        spec: CampaignSpec,
        by: AuditActor,
    ) -> Result<CampaignRecord, AppError> {
        if spec.accounts.is_empty() {
            return Err(AppError::Invalid {
                field: "accounts",
                message: "a campaign needs at least one account; an empty list never means all"
                    .into(),
            });
        }
        if spec.name.trim().is_empty() || spec.reason.trim().is_empty() {
            return Err(AppError::Invalid {
                field: "reason",
                message: "a campaign needs a name and a reason (the reason is in the notice)"
                    .into(),
            });
        }
        let plan = StagePlan {
            fractions: spec
                .stages
                .unwrap_or_else(|| StagePlan::default().fractions),
            ..StagePlan::default()
        };
        plan.validate().map_err(|message| AppError::Invalid {
            field: "stages",
            message,
        })?;
        let mut targets = Vec::with_capacity(spec.accounts.len());
        let mut missing = Vec::new();
        for name in &spec.accounts {
            match self.find_account_ref(name).await {
                Ok(id) => targets.push(NewTarget {
                    account: id,
                    finding_id: None,
                    evidence: serde_json::json!({ "listed_by": by.text() }),
                }),
                Err(AppError::NotFound(_)) => missing.push(name.clone()),
                Err(e) => return Err(e),
            }
        }
        if !missing.is_empty() {
            return Err(AppError::Invalid {
                field: "accounts",
                message: format!(
                    "{} of {} accounts do not exist, so no campaign was created: {}",
                    missing.len(),
                    spec.accounts.len(),
                    missing
                        .iter()
                        .take(5)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
        let source = if targets.len() == 1 {
            CampaignSource::Account
        } else {
            CampaignSource::List
        };
        self.store_campaign(
            spec.name,
            spec.reason,
            source,
            None,
            targets,
            plan,
            spec.rate_per_minute.unwrap_or(60),
            spec.bake_secs.unwrap_or(600),
            by,
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn store_campaign(
        &self,
        name: String,
        reason: String,
        source: CampaignSource,
        rule: Option<(String, i64)>,
        targets: Vec<NewTarget>,
        plan: StagePlan,
        rate_per_minute: u32,
        bake_secs: u32,
        by: AuditActor,
    ) -> Result<CampaignRecord, AppError> {
        let now = self.clock.now();
        let c = NewCampaign {
            id: CampaignId::generate(self.entropy.as_ref()),
            name,
            source,
            automatic: by == AuditActor::System,
            rule,
            reason,
            created_by: by.clone(),
            created_at: now,
            stage_plan: plan.clone(),
            rate_per_minute: i64::from(rate_per_minute.clamp(1, 100_000)),
            bake_secs: i64::from(bake_secs),
        };
        let audit = NewAuditEntry::new(now, by, AuditAction::CampaignCreated).target(c.id);
        Ok(self.store.create_campaign(&c, &targets, audit).await?)
    }

    /// One campaign.
    pub async fn campaign(&self, id: CampaignId) -> Result<CampaignRecord, AppError> {
        self.store
            .campaign(id)
            .await?
            .ok_or(AppError::NotFound("campaign"))
    }

    /// Freezes the target set and shows what the campaign would do. No side effect
    /// beyond the freeze (and the state change it records).
    pub async fn preview_campaign(
        &self,
        id: CampaignId,
        by: AuditActor,
    ) -> Result<(CampaignRecord, Preview), AppError> {
        let c = self.campaign(id).await?;
        let ids = self.store.campaign_target_ids(id).await?;
        let mut h = Sha256::new();
        for a in &ids {
            h.update(a.to_string().as_bytes());
            h.update(b"\n");
        }
        let snapshot: [u8; 32] = h.finalize().into();
        let size = ids.len() as u64;
        let now = self.clock.now();
        let normal = self.normal_daily_resets().await?;
        let accounts = self.store.count_accounts().await?.max(0) as u64;
        let active = self.active_accounts().await?;
        let needs = self
            .config
            .approval
            .needs_second_approval(size, normal, active.count);
        let next = domain(&c)
            .apply(&Command::Preview { snapshot, size }, needs)
            .map_err(refused)?;
        // Mail volume per domain, overlap and a sample, from the targets.
        let mut by_domain: BTreeMap<String, u64> = BTreeMap::new();
        let mut sample = Vec::new();
        let mut after = -1;
        loop {
            let page = self.store.campaign_targets(id, None, after, 5000).await?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            for t in &page {
                let domain = t.email.rsplit_once('@').map_or("", |d| d.1).to_lowercase();
                *by_domain.entry(domain).or_default() += 1;
                if sample.len() < 20 {
                    sample.push(serde_json::json!({
                        "account_id": t.account_id.to_string(),
                        "email": t.email,
                        "evidence": t.evidence,
                    }));
                }
            }
        }
        let mut mail_by_domain: Vec<(String, u64)> = by_domain.into_iter().collect();
        mail_by_domain.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        mail_by_domain.truncate(20);
        let overlap = self.store.campaign_overlap(id).await?;
        let plan = &c.stage_plan;
        let preview = Preview {
            accounts: size,
            snapshot: hex::encode(snapshot),
            normal_daily: normal,
            multiple_of_normal: size as f64 / normal.max(1.0),
            share_of_accounts: if accounts == 0 {
                1.0
            } else {
                size as f64 / accounts as f64
            },
            active_accounts: active.count,
            share_of_active: if active.count == 0 {
                1.0
            } else {
                size as f64 / active.count as f64
            },
            active_fallback: active.fallback,
            active_basis: active.basis(),
            mail_by_domain,
            overlap_with_running: overlap,
            needs_second_approval: needs,
            stages: plan.boundaries(size),
            sample,
        };
        let mut u = CampaignUpdate::at(now);
        u.state = Some(next.state);
        u.snapshot = Some((snapshot, size as i64));
        u.needs_second_approval = Some(needs);
        u.approved_by = Some(None);
        u.preview =
            Some(serde_json::to_value(&preview).map_err(|e| AppError::Unexpected(e.into()))?);
        let audit = NewAuditEntry::new(now, by, AuditAction::CampaignTransition)
            .target(id)
            .detail(serde_json::json!({ "command": "preview", "accounts": size, "needs_second_approval": needs }));
        let stored = self.store.update_campaign(id, c.state, &u, audit).await?;
        Ok((stored, preview))
    }

    /// Approves the previewed snapshot `snapshot` (hex). Another operator than
    /// the creator; a changed target set needs a new preview.
    pub async fn approve_campaign(
        &self,
        id: CampaignId,
        snapshot: &str,
        by: AuditActor,
    ) -> Result<CampaignRecord, AppError> {
        let c = self.campaign(id).await?;
        let hash: [u8; 32] = hex::decode(snapshot.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| AppError::Invalid {
                field: "snapshot",
                message: "must be the preview's snapshot: 64 hexadecimal digits".into(),
            })?;
        let who = by.clone();
        let next = domain(&c)
            .apply(
                &Command::Approve {
                    by: who,
                    snapshot: hash,
                },
                c.needs_second_approval,
            )
            .map_err(refused)?;
        let now = self.clock.now();
        let mut u = CampaignUpdate::at(now);
        u.state = Some(next.state);
        u.approved_by = Some(Some(by.clone()));
        let audit = NewAuditEntry::new(now, by, AuditAction::CampaignTransition)
            .target(id)
            .detail(serde_json::json!({ "command": "approve", "snapshot": snapshot }));
        Ok(self.store.update_campaign(id, c.state, &u, audit).await?)
    }

    /// Start, pause, resume or abort (`command` as named in the CLI and API).
    pub async fn command_campaign(
        &self,
        id: CampaignId,
        command: &str,
        reason: Option<String>,
        by: AuditActor,
    ) -> Result<CampaignRecord, AppError> {
        let cmd = match command {
            "start" => Command::Start,
            "pause" => Command::Pause,
            "resume" => Command::Resume,
            "abort" => Command::Abort,
            other => {
                return Err(AppError::Invalid {
                    field: "command",
                    message: format!("unknown command {other:?}: start, pause, resume or abort"),
                });
            }
        };
        let c = self.campaign(id).await?;
        if matches!(cmd, Command::Start | Command::Resume) && self.store.breaker().await?.open {
            return Err(AppError::CampaignRefused(
                "the circuit breaker is open: an operator must close it (`gatehouse breaker reset`) before campaigns run".into(),
            ));
        }
        let next = domain(&c)
            .apply(&cmd, c.needs_second_approval)
            .map_err(refused)?;
        let now = self.clock.now();
        let mut u = CampaignUpdate::at(now);
        u.state = Some(next.state);
        match cmd {
            Command::Start => u.stage = Some((0, now)),
            Command::Pause => {
                u.paused_reason = Some(Some(
                    reason
                        .clone()
                        .unwrap_or_else(|| "paused by an operator".into()),
                ))
            }
            Command::Resume => u.paused_reason = Some(None),
            _ => {}
        }
        let audit = NewAuditEntry::new(now, by, AuditAction::CampaignTransition)
            .target(id)
            .detail(serde_json::json!({ "command": command, "reason": reason }));
        let stored = self.store.update_campaign(id, c.state, &u, audit).await?;
        self.campaigns_wakeup.notify_one();
        Ok(stored)
    }

    /// The normal volume: median forced resets a day over the last 30 days.
    pub async fn normal_daily_resets(&self) -> Result<f64, AppError> {
        let now = self.clock.now();
        let per_day = self
            .store
            .resets_per_day(now.minus(Duration::from_secs(30 * 86_400)), now)
            .await?;
        Ok(super::backtest::median_daily(&per_day, 30))
    }

    /// Active accounts: signed in successfully (own login or an app's login
    /// event) or used a session within [`ACTIVE_WINDOW`]; every account when
    /// there is no login history at all.
    pub async fn active_accounts(&self) -> Result<ActiveAccounts, AppError> {
        let since = self.clock.now().minus(ACTIVE_WINDOW);
        Ok(match self.store.active_accounts(since).await? {
            Some(n) => ActiveAccounts {
                count: n.max(0) as u64,
                fallback: false,
            },
            None => ActiveAccounts {
                count: self.store.count_accounts().await?.max(0) as u64,
                fallback: true,
            },
        })
    }

    /// The budget's limits now.
    pub async fn budget_limits(&self) -> Result<(u64, u64), AppError> {
        Ok(self.config.budget.limits(self.normal_daily_resets().await?))
    }

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
            done: self.done_targets(id).await?,
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
        for t in pending {
            match self.apply_one(&c, t.account_id, &t.email, budget).await? {
                ApplyOutcome::Applied { .. } => report.applied += 1,
                ApplyOutcome::Skipped | ApplyOutcome::AlreadyDone => report.skipped += 1,
                ApplyOutcome::BudgetExhausted { hour, day } => {
                    let why = format!(
                        "reset budget used up ({hour} in the last hour of {per_hour}, {day} in the last day of {per_day})"
                    );
                    if c.automatic {
                        self.trip_breaker(&why, AuditActor::System).await?;
                    } else {
                        self.command_campaign(id, "pause", Some(why), AuditActor::System)
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

    async fn done_targets(&self, id: CampaignId) -> Result<u64, AppError> {
        Ok(self
            .store
            .campaign_target_counts(id)
            .await?
            .into_iter()
            .filter(|(s, _)| *s != TargetState::Pending)
            .map(|(_, n)| n.max(0) as u64)
            .sum())
    }

    /// A failed health gate: an automatic campaign trips the breaker (which pauses
    /// it and every other automatic one); an operator campaign pauses.
    async fn gate_failed(&self, c: &CampaignRecord, reason: String) -> Result<(), AppError> {
        if c.automatic {
            self.trip_breaker(&reason, AuditActor::System).await?;
        } else {
            self.command_campaign(c.id, "pause", Some(reason), AuditActor::System)
                .await?;
        }
        Ok(())
    }

    /// The health gate checked at every step: too many people reported the
    /// campaign's notice as unexpected on `/verify` (at least 3, and more than
    /// `report_gate_percent` of those applied).
    async fn report_gate_failure(&self, c: &CampaignRecord) -> Result<Option<String>, AppError> {
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
    async fn health_gate_failure(&self, c: &CampaignRecord) -> Result<Option<String>, AppError> {
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
    async fn recovery_gate_failure(&self, c: &CampaignRecord) -> Result<Option<String>, AppError> {
        let gate = self.config.recovery_gate;
        let age = Duration::from_secs(gate.age_secs(c.bake_secs.max(0) as u64));
        let (sample, completed) = self
            .store
            .campaign_recovery_completions(c.id, self.clock.now().minus(age))
            .await?;
        Ok(gate.failure(sample.max(0) as u64, completed.max(0) as u64))
    }

    /// One account's forced reset (one store transaction).
    async fn apply_one(
        &self,
        c: &CampaignRecord,
        account: AccountId,
        email: &str,
        budget: BudgetLimits,
    ) -> Result<ApplyOutcome, AppError> {
        let to = Email::parse(email).map_err(AppError::email)?;
        let out = self
            .with_fresh_reference(|| async {
                let now = self.clock.now();
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
                    &to,
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
                let step = ApplyStep {
                    campaign: c.id,
                    account,
                    now,
                    budget,
                    recovery: &recovery,
                    notice: &notice,
                    audit,
                };
                self.store.apply_campaign_target(&step).await
            })
            .await?;
        Ok(out)
    }

    /// Trips the circuit breaker: every apply step stops, running automatic
    /// campaigns pause, forced-reset notices wait. Returns whether it changed.
    pub async fn trip_breaker(&self, reason: &str, by: AuditActor) -> Result<bool, AppError> {
        let changed = self.set_breaker(true, reason, by).await?;
        if changed {
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
        Ok(changed)
    }

    /// An incident draft for a breaker trip, with live figures for operators:
    /// accounts reset in the last hour and day, the campaigns and rules involved.
    async fn draft_breaker_incident(&self, reason: &str) -> Result<(), AppError> {
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
        let draft = super::status::IncidentDraft {
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

    async fn set_breaker(
        &self,
        open: bool,
        reason: &str,
        by: AuditActor,
    ) -> Result<bool, AppError> {
        let command = if open { "trip" } else { "reset" };
        let by_text = by.text();
        // The operators' alerts are built from what the trip's transaction read
        // (its number, figures, the enabled operators) and written in it.
        let alerts = |trip: &BreakerTrip| self.breaker_alerts(trip);
        let changed = self
            .with_fresh_reference(|| {
                let now = self.clock.now();
                let audit = NewAuditEntry::new(now, by.clone(), AuditAction::BreakerChanged)
                    .detail(serde_json::json!({ "command": command }));
                self.store
                    .set_breaker(open, reason, &by_text, now, &alerts, audit)
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
    fn breaker_alerts(&self, trip: &BreakerTrip) -> Vec<NewNotice> {
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

    /// Turns the pending findings of every enforced `force_reset` rule into an
    /// automatic campaign (one per rule per pass). A campaign small enough is
    /// approved by policy and started; one past the approval thresholds is a
    /// volume anomaly: it waits, previewed, for a person, and the breaker trips.
    /// Returns the campaigns created.
    pub async fn automatic_campaigns(&self) -> Result<Vec<CampaignRecord>, AppError> {
        use gatehouse_domain::finding::{RuleAction, RuleMode};
        let mut created = Vec::new();
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
                .command_campaign(c.id, "start", None, AuditActor::System)
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
