//! Remediation campaigns: every forced reset — of one account or a million — is
//! one. This module holds the campaign's use cases (create, preview, approve,
//! start, pause, resume, abort) and its types; the worker's step is in `apply`,
//! automatic campaigns in `automatic`, the breaker in `breaker`, undo in `undo`.
//! The guardrails themselves are pure (`gatehouse_domain::campaign` and
//! `gatehouse_domain::guardrail`); the store applies each account in one
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

use gatehouse_domain::CampaignId;
use gatehouse_domain::audit::{Actor as AuditActor, AuditAction, NewAuditEntry};
use gatehouse_domain::campaign::{Campaign, CampaignCommand, Command, StagePlan};
use gatehouse_domain::text;
use gatehouse_store::{
    BreakerRecord, CampaignRecord, CampaignSource, CampaignUpdate, NewCampaign, NewTarget,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::app::{App, AppError};

/// How long a forced reset's code works: people read such mail later than a
/// recovery they asked for themselves.
pub const RESET_CODE_TTL: Duration = Duration::from_secs(3 * 86_400);
/// Suspended sessions older than this are not reinstated by undo.
pub const UNDO_WINDOW: Duration = Duration::from_secs(7 * 86_400);
/// Targets applied per worker step at most (then the rate cap and other campaigns get a turn).
pub(crate) const STEP: usize = 500;
/// The highest rate cap a campaign may ask for: 1,000,000 accounts a minute,
/// above what one database applies (about 5,000–10,000 a second on two cores),
/// so the cap never hides the apply rate; the budget and the breaker are what
/// bound a campaign's blast radius, the rate cap paces it.
pub const MAX_RATE_PER_MINUTE: u32 = 1_000_000;

/// A campaign as an operator asks for it.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignSpec {
    /// A name for people.
    #[schema(format = "one-line", max_length = 200)]
    pub name: String,
    /// Why, as the owners will read it in the notice ("your password appeared in a
    /// list of stolen credentials").
    #[schema(format = "one-line", max_length = 500)]
    pub reason: String,
    /// The accounts: e-mail addresses or ids. Never empty: an empty list is refused,
    /// never read as "all".
    #[schema(min_items = 1)]
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
    /// The app sessions the resets would end (as of the preview): per app
    /// with a back-channel logout URI, the targets' active sessions it holds
    /// tokens in. Each gets one logout token, even while the breaker is open.
    #[serde(default)]
    pub app_sessions: Vec<AppSessions>,
    /// The Security Event Tokens the resets would send (as of the preview):
    /// per Shared Signals receiver, the events its stream asked for about
    /// the targets it covers (RISC account-credential-change-required and
    /// sessions-revoked per account, CAEP session-revoked per active session).
    #[serde(default)]
    pub security_events: Vec<ReceiverEvents>,
}

/// One receiver's SETs a campaign would send (see [`Preview::security_events`]).
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReceiverEvents {
    /// The receiver (client id; the SETs' `aud`).
    pub client_id: String,
    /// How many SETs.
    pub events: i64,
    /// How long they take at the receiver's rate (`backchannel_rate_per_second`,
    /// shared with its logout tokens), at the least.
    pub seconds_at_rate: f64,
}

/// One app's sessions a campaign would end (see [`Preview::app_sessions`]).
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AppSessions {
    /// The app (client id).
    pub client_id: String,
    /// Its sessions among the targets' active ones: the logout tokens it will get.
    pub sessions: i64,
    /// How long its tokens take at the per-app rate
    /// (`backchannel_rate_per_second`), at the least: they queue, never flood it.
    pub seconds_at_rate: f64,
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
pub(crate) fn domain(c: &CampaignRecord) -> Campaign {
    Campaign {
        state: c.state,
        created_by: c.created_by.clone(),
        snapshot: c.snapshot_hash.map(|h| (h, c.target_count as u64)),
        needs_second_approval: c.needs_second_approval,
        approved_by: c.approved_by.clone(),
        applied: c.applied as u64,
    }
}

/// Longest campaign name, in characters.
pub const CAMPAIGN_NAME_MAX: usize = 200;
/// Longest campaign reason (it is in every notice), in characters.
pub const CAMPAIGN_REASON_MAX: usize = 500;

pub(crate) fn refused(e: gatehouse_domain::campaign::Refusal) -> AppError {
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
        // The reason goes into every forced-reset e-mail, the name into tables
        // and terminals: one plain line each, of a length a person reads.
        let name =
            text::one_line(&spec.name, CAMPAIGN_NAME_MAX).map_err(|m| AppError::Invalid {
                field: "name",
                message: format!("the name {m}"),
            })?;
        let reason =
            text::one_line(&spec.reason, CAMPAIGN_REASON_MAX).map_err(|m| AppError::Invalid {
                field: "reason",
                message: format!("the reason {m}"),
            })?;
        let spec = CampaignSpec {
            name,
            reason,
            ..spec
        };
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
    pub(crate) async fn store_campaign(
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
            rate_per_minute: i64::from(rate_per_minute.clamp(1, MAX_RATE_PER_MINUTE)),
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
        let rate = f64::from(self.config.backchannel.rate_per_second);
        let app_sessions = self
            .app_sessions_of(&ids)
            .await?
            .into_iter()
            .map(|(client_id, sessions)| AppSessions {
                client_id,
                sessions,
                seconds_at_rate: sessions as f64 / rate,
            })
            .collect();
        let security_events = self
            .sets_of(&ids)
            .await?
            .into_iter()
            .map(|(client_id, events)| ReceiverEvents {
                client_id,
                events,
                seconds_at_rate: events as f64 / rate,
            })
            .collect();
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
            app_sessions,
            security_events,
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

    /// Start, pause, resume or abort.
    pub async fn command_campaign(
        &self,
        id: CampaignId,
        command: CampaignCommand,
        reason: Option<String>,
        by: AuditActor,
    ) -> Result<CampaignRecord, AppError> {
        let cmd = command.command();
        let reason = reason
            .filter(|r| !r.trim().is_empty())
            .map(|r| {
                text::one_line(&r, CAMPAIGN_REASON_MAX).map_err(|m| AppError::Invalid {
                    field: "reason",
                    message: format!("the reason {m}"),
                })
            })
            .transpose()?;
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
            .detail(serde_json::json!({ "command": command.as_str(), "reason": reason }));
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
        Ok(crate::app::backtest::median_daily(&per_day, 30))
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
}
