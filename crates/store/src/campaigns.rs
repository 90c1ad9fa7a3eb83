//! Remediation campaigns, the reset budget, the circuit breaker and undo.
//!
//! The trait and the rows it reads and writes; both engines implement it in
//! `queries/campaigns.rs` (applying and undoing one target's reset: `queries/resets.rs`).

use async_trait::async_trait;
use gatehouse_domain::audit::{Actor, NewAuditEntry};
use gatehouse_domain::campaign::{CampaignState, StagePlan};
use gatehouse_domain::time::rfc3339;
use gatehouse_domain::{AccountId, CampaignId, Timestamp};
use serde::{Serialize, Serializer};

/// The budget in force for one reset and what was drawn from it: the rule
/// itself (`BudgetLimits::allows`) is the domain's; the store only counts.
pub use gatehouse_domain::guardrail::{BudgetLimits, BudgetUse};

use crate::{NewNotice, NewRecovery, Operator, Result};

/// Remediation campaigns, the reset budget and the circuit breaker.
#[async_trait]
pub trait CampaignStore {
    /// Creates a draft with its targets, applied in the order given (an account
    /// listed twice is kept once). Audited. Refuses an empty target list.
    async fn create_campaign(
        &self,
        c: &NewCampaign,
        targets: &[NewTarget],
        audit: NewAuditEntry,
    ) -> Result<CampaignRecord>;

    /// One campaign.
    async fn campaign(&self, id: CampaignId) -> Result<Option<CampaignRecord>>;

    /// Campaigns, newest first, optionally in one state.
    async fn campaigns(
        &self,
        state: Option<CampaignState>,
        limit: i64,
    ) -> Result<Vec<CampaignRecord>>;

    /// A campaign's targets with `seq > after` (only those in `state`, if given),
    /// in order, at most `limit`.
    async fn campaign_targets(
        &self,
        id: CampaignId,
        state: Option<TargetState>,
        after: i64,
        limit: i64,
    ) -> Result<Vec<TargetRecord>>;

    /// Target counts by state.
    async fn campaign_target_counts(&self, id: CampaignId) -> Result<Vec<(TargetState, i64)>>;

    /// The campaign's target account ids, sorted (for the snapshot hash).
    async fn campaign_target_ids(&self, id: CampaignId) -> Result<Vec<AccountId>>;

    /// Applies `update` if the campaign is still in `from` (`Conflict` if it moved
    /// meanwhile: another operator, a replica, the breaker). Audited.
    async fn update_campaign(
        &self,
        id: CampaignId,
        from: CampaignState,
        update: &CampaignUpdate,
        audit: NewAuditEntry,
    ) -> Result<CampaignRecord>;

    /// Resets one target's password, in one transaction: breaker closed,
    /// campaign running, target pending, budget left (else nothing changes);
    /// credential → `reset_required` (the hash is kept, for undo); active
    /// sessions suspended (named by the campaign); older recovery requests
    /// superseded and `step.recovery` stored; the notice enqueued; the audit entry;
    /// the target `applied`. Idempotent per (campaign, account).
    async fn apply_campaign_target(&self, step: &ApplyStep<'_>) -> Result<ApplyOutcome>;

    /// Resets a batch of one campaign's targets in one transaction, with the
    /// same checks and effects as [`Self::apply_campaign_target`] for each, in
    /// order: the breaker and the campaign checked once under the breaker's row
    /// lock (held to the commit, so no trip or pause lands mid-batch), each
    /// account's budget draw checked before it is applied. Returns one outcome
    /// per target handled, in order; it stops early at the first outcome that
    /// ends a step (budget used up — then the last entry says so —, breaker
    /// open, campaign not running, or the reset that tripped the breaker), and
    /// targets after that stay pending. All or nothing: on an error nothing of
    /// the batch is written (a reference collision is
    /// `Conflict(NOTICE_REFERENCE_TAKEN)`; the caller retries or applies the
    /// targets one by one).
    async fn apply_campaign_targets(&self, batch: &ApplyBatch<'_>) -> Result<Vec<ApplyOutcome>>;

    /// Benchmarks only (feature `testing`): the rows a batch's resets write —
    /// credentials, sessions, recovery requests, notices, audit entries, target
    /// rows, budget bucket, campaign count — written in one plain transaction,
    /// with none of the checks (breaker, campaign, targets, budget). The
    /// baseline `gatehouse-bench campaign` compares the apply rate with.
    #[cfg(feature = "testing")]
    async fn write_reset_rows_unchecked(&self, batch: &ApplyBatch<'_>) -> Result<()>;

    /// Undoes one applied target, in one transaction: if the credential is still
    /// the version the campaign reset, it becomes active again, the sessions the
    /// campaign suspended since `reinstate_after` are reinstated, outstanding
    /// recovery requests end, and the correction is enqueued (`restored`); else the
    /// explanation is enqueued (`not_restorable`). Audited. Idempotent.
    async fn undo_campaign_target(&self, step: &UndoStep<'_>) -> Result<UndoOutcome>;

    /// Targets of the campaign undone (restored or explained) at or after `since`:
    /// the undo's pace.
    async fn campaign_undone_since(&self, id: CampaignId, since: Timestamp) -> Result<i64>;

    /// Accounts of this campaign that are also targets of another campaign that is
    /// approved, running or paused.
    async fn campaign_overlap(&self, id: CampaignId) -> Result<u64>;

    /// Records that the forced-reset notice `reference` was reported as unexpected
    /// (once per notice), with its audit entry. Returns whether it was a campaign's
    /// notice not reported before.
    async fn report_unexpected_notice(
        &self,
        reference: &str,
        now: Timestamp,
        audit: NewAuditEntry,
    ) -> Result<bool>;

    /// How many of the campaign's notices were reported as unexpected.
    async fn campaign_reports(&self, id: CampaignId) -> Result<i64>;

    /// The campaign's forced-reset notices that failed (5xx: bounced).
    async fn campaign_failed_notices(&self, id: CampaignId) -> Result<i64>;

    /// Forced resets applied since `since` (every campaign): the budget's usage.
    async fn resets_since(&self, since: Timestamp) -> Result<i64>;

    /// Forced resets per UTC day over `since..until` (widened to whole minutes):
    /// `(day, count)`, empty days left out.
    async fn resets_per_day(&self, since: Timestamp, until: Timestamp) -> Result<Vec<(i64, i64)>>;

    /// The breaker's state.
    async fn breaker(&self) -> Result<BreakerRecord>;

    /// Opens (trips) or closes the breaker. Opening also pauses every running
    /// automatic campaign and enqueues the operators' alerts `alerts` builds
    /// (given the trip's number, figures and the enabled operators, read in the
    /// same transaction). Returns whether it changed (tripping an open breaker
    /// changes nothing and mails nobody). Audited when it changes.
    async fn set_breaker(
        &self,
        open: bool,
        reason: &str,
        by: &Actor,
        now: Timestamp,
        alerts: TripAlerts<'_>,
        audit: NewAuditEntry,
    ) -> Result<bool>;

    /// The recovery-completion health gate's figures: among the campaign's
    /// applied targets whose forced-reset notice a mail server accepted at or
    /// before `sent_before`, how many there are and how many owners have set a
    /// new password since the reset: `(sample, completed)`.
    async fn campaign_recovery_completions(
        &self,
        id: CampaignId,
        sent_before: Timestamp,
    ) -> Result<(i64, i64)>;

    /// The campaigns that reset (or were to reset) this account, newest first:
    /// what its owner sees under "Was I affected?". Only targets that were
    /// applied (and possibly undone) are listed: a pending target has not
    /// touched the account.
    async fn account_campaigns(
        &self,
        account: AccountId,
        limit: i64,
    ) -> Result<Vec<AccountCampaign>>;
}

/// Where a campaign's targets come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignSource {
    /// An enforce rule's findings (automatic).
    Rule,
    /// An operator's list or query.
    List,
    /// One account.
    Account,
}

impl CampaignSource {
    /// Stable text form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rule => "rule",
            Self::List => "list",
            Self::Account => "account",
        }
    }
}

impl std::str::FromStr for CampaignSource {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "rule" => Ok(Self::Rule),
            "list" => Ok(Self::List),
            "account" => Ok(Self::Account),
            other => Err(format!("unknown campaign source {other:?}")),
        }
    }
}

/// A campaign to create (a draft).
#[derive(Clone, Debug)]
#[allow(missing_docs)] // fields named for their columns; documented where the name is not enough
pub struct NewCampaign {
    /// New id.
    pub id: CampaignId,
    /// A name for people.
    pub name: String,
    /// Where the targets come from.
    pub source: CampaignSource,
    /// Started by Gatehouse (an enforce rule) rather than an operator.
    pub automatic: bool,
    /// The rule and version, for rule campaigns.
    pub rule: Option<(String, i64)>,
    /// Why, in the notice and the audit.
    pub reason: String,
    /// Who creates it.
    pub created_by: Actor,
    pub created_at: Timestamp,
    pub stage_plan: StagePlan,
    /// Accounts per minute at most.
    pub rate_per_minute: i64,
    /// Seconds to wait between stages.
    pub bake_secs: i64,
}

/// A target to add to a campaign.
#[derive(Clone, Debug)]
pub struct NewTarget {
    /// The account.
    pub account: AccountId,
    /// The finding behind it, if any.
    pub finding_id: Option<i64>,
    /// Why this account (from the finding, or the operator's note).
    pub evidence: serde_json::Value,
}

/// A stored campaign.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[allow(missing_docs)] // fields named for their columns; documented where the name is not enough
pub struct CampaignRecord {
    pub id: CampaignId,
    pub name: String,
    pub source: CampaignSource,
    /// Automatic (an enforce rule's).
    pub automatic: bool,
    /// Rule id, for rule campaigns.
    pub rule_id: Option<String>,
    /// Rule version.
    pub rule_version: Option<i64>,
    pub reason: String,
    pub state: CampaignState,
    /// Creator (shown in its text form, `operator:<id>` or `system`).
    #[serde(serialize_with = "actor_text")]
    pub created_by: Actor,
    #[serde(serialize_with = "rfc3339::serialize")]
    pub created_at: Timestamp,
    /// Hash of the frozen target set, once previewed (shown as hex).
    #[serde(serialize_with = "hex_hash")]
    pub snapshot_hash: Option<[u8; 32]>,
    pub target_count: i64,
    /// Whether a second operator must approve.
    pub needs_second_approval: bool,
    /// Who approved (text form).
    #[serde(serialize_with = "actor_text_opt")]
    pub approved_by: Option<Actor>,
    #[serde(serialize_with = "rfc3339::option")]
    pub approved_at: Option<Timestamp>,
    /// The figures shown at preview.
    pub preview: Option<serde_json::Value>,
    pub stage_plan: StagePlan,
    /// Accounts per minute at most.
    pub rate_per_minute: i64,
    /// Seconds between stages.
    pub bake_secs: i64,
    /// Stage being applied (index).
    pub stage: i64,
    /// When it started.
    #[serde(serialize_with = "rfc3339::option")]
    pub stage_started_at: Option<Timestamp>,
    /// Accounts reset so far.
    pub applied: i64,
    /// Targets left alone so far (their credential was not active).
    pub skipped: i64,
    /// Why it is paused.
    pub paused_reason: Option<String>,
    /// Who asked for the undo (text form), once asked.
    #[serde(serialize_with = "actor_text_opt")]
    pub undo_by: Option<Actor>,
    /// Last change.
    #[serde(serialize_with = "rfc3339::serialize")]
    pub updated_at: Timestamp,
}

// The API has always shown actors as `kind:id` text and the snapshot as hex:
// typed inside, the same words outside.
fn actor_text<S: Serializer>(a: &Actor, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&a.text())
}

fn actor_text_opt<S: Serializer>(a: &Option<Actor>, s: S) -> std::result::Result<S::Ok, S::Error> {
    match a {
        Some(a) => s.serialize_some(&a.text()),
        None => s.serialize_none(),
    }
}

fn hex_hash<S: Serializer>(h: &Option<[u8; 32]>, s: S) -> std::result::Result<S::Ok, S::Error> {
    match h {
        Some(h) => s.serialize_some(&hex::encode(h)),
        None => s.serialize_none(),
    }
}

/// Where a campaign target stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetState {
    /// Not applied yet.
    Pending,
    /// Password reset, sessions suspended, notice queued.
    Applied,
    /// Left alone (already awaiting a reset, or gone).
    Skipped,
    /// Undone: prior password and sessions back, correction sent.
    Restored,
    /// Could not be undone (the owner set a new password since); told so.
    NotRestorable,
}

impl TargetState {
    /// Stable text form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Applied => "applied",
            Self::Skipped => "skipped",
            Self::Restored => "restored",
            Self::NotRestorable => "not_restorable",
        }
    }
}

impl std::str::FromStr for TargetState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        [
            Self::Pending,
            Self::Applied,
            Self::Skipped,
            Self::Restored,
            Self::NotRestorable,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
        .ok_or_else(|| format!("unknown target state {s:?}"))
    }
}

/// A stored campaign target.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[allow(missing_docs)] // fields named for their columns; documented where the name is not enough
pub struct TargetRecord {
    /// The account.
    pub account_id: AccountId,
    /// Its address.
    pub email: String,
    /// Order of application.
    pub seq: i64,
    /// The finding behind it.
    pub finding_id: Option<i64>,
    pub evidence: Option<serde_json::Value>,
    /// Where it stands.
    pub state: TargetState,
    /// The credential version reset.
    pub credential_version: Option<i64>,
    /// When it was applied.
    #[serde(serialize_with = "rfc3339::option")]
    pub applied_at: Option<Timestamp>,
    /// The forced-reset notice's reference.
    pub notice_reference: Option<String>,
}

/// Fields a transition sets besides the state (None: unchanged).
#[derive(Clone, Debug)]
#[allow(missing_docs)] // fields named for their columns; documented where the name is not enough
pub struct CampaignUpdate {
    /// The new state.
    pub state: Option<CampaignState>,
    /// Frozen snapshot: hash and size.
    pub snapshot: Option<([u8; 32], i64)>,
    /// Whether a second approval is needed (set with a snapshot).
    pub needs_second_approval: Option<bool>,
    /// Approval: who (Some(None) clears it).
    pub approved_by: Option<Option<Actor>>,
    /// Preview figures.
    pub preview: Option<serde_json::Value>,
    /// Stage index and its start.
    pub stage: Option<(i64, Timestamp)>,
    /// Pause reason (Some(None) clears it).
    pub paused_reason: Option<Option<String>>,
    /// Who asked for the undo.
    pub undo_by: Option<Option<Actor>>,
    pub now: Timestamp,
}

impl CampaignUpdate {
    /// An update at `now` that changes nothing yet.
    pub fn at(now: Timestamp) -> Self {
        CampaignUpdate {
            state: None,
            snapshot: None,
            needs_second_approval: None,
            approved_by: None,
            preview: None,
            stage: None,
            paused_reason: None,
            undo_by: None,
            now,
        }
    }
}

/// One account's forced reset: everything in one transaction.
#[derive(Debug)]
#[allow(missing_docs)] // fields named for their columns; documented where the name is not enough
pub struct ApplyStep<'a> {
    /// For an automatic campaign: the breaker trip this reset makes if it uses
    /// up the budget, in the same transaction (so no other reset, on any
    /// replica, runs between the budget's last unit and the trip).
    pub trip_on_exhaustion: Option<ExhaustionTrip<'a>>,
    /// The campaign.
    pub campaign: CampaignId,
    /// The target.
    pub account: AccountId,
    pub now: Timestamp,
    /// Budget limits.
    pub budget: BudgetLimits,
    /// The recovery request the notice's code belongs to.
    pub recovery: &'a NewRecovery,
    /// The forced-reset notice.
    pub notice: &'a NewNotice,
    /// The audit entry (`account.reset`).
    pub audit: NewAuditEntry,
}

/// Several targets of one campaign, reset in one transaction
/// ([`CampaignStore::apply_campaign_targets`]).
#[derive(Debug)]
pub struct ApplyBatch<'a> {
    /// As [`ApplyStep::trip_on_exhaustion`]: the reset that draws the budget's
    /// last unit trips the breaker in the batch's transaction.
    pub trip_on_exhaustion: Option<&'a ExhaustionTrip<'a>>,
    /// The campaign.
    pub campaign: CampaignId,
    /// The time of every reset in the batch.
    pub now: Timestamp,
    /// Budget limits, checked before each account.
    pub budget: BudgetLimits,
    /// The targets, in the order they are applied (each account once).
    pub targets: Vec<ApplyTarget<'a>>,
}

/// One account of an [`ApplyBatch`]: what its reset writes.
#[derive(Debug)]
pub struct ApplyTarget<'a> {
    /// The target.
    pub account: AccountId,
    /// The recovery request the notice's code belongs to.
    pub recovery: &'a NewRecovery,
    /// The forced-reset notice.
    pub notice: &'a NewNotice,
    /// The audit entry (`account.reset`).
    pub audit: NewAuditEntry,
}

/// The breaker trip an automatic campaign's reset makes when it draws the
/// budget's last unit.
pub struct ExhaustionTrip<'a> {
    /// The breaker's reason, from the budget used after this reset.
    pub reason: &'a (dyn Fn(BudgetUse) -> String + Send + Sync),
    /// The operators' alerts for the trip.
    pub alerts: TripAlerts<'a>,
    /// The trip's audit entry (`breaker.changed`).
    pub audit: NewAuditEntry,
}

impl std::fmt::Debug for ExhaustionTrip<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExhaustionTrip")
            .field("audit", &self.audit)
            .finish_non_exhaustive()
    }
}

/// What an apply step did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApplyOutcome {
    /// Reset; the notice's reference.
    Applied {
        /// Reference of the forced-reset notice.
        reference: String,
        /// The breaker's reason, when this reset used up the budget and tripped
        /// it in the same transaction.
        tripped: Option<String>,
    },
    /// Applied (or skipped) before: nothing done (idempotent per campaign and account).
    AlreadyDone,
    /// Left alone: the credential was not active (already awaiting a reset).
    Skipped,
    /// The budget is used up: nothing done.
    BudgetExhausted {
        /// Resets in the trailing hour.
        hour: i64,
        /// Resets in the trailing day.
        day: i64,
    },
    /// The campaign is not running (paused, aborted…): nothing done.
    NotRunning(CampaignState),
    /// The breaker is open: nothing done.
    BreakerOpen,
}

/// One account's undo.
#[derive(Debug)]
#[allow(missing_docs)] // fields named for their columns; documented where the name is not enough
pub struct UndoStep<'a> {
    /// The campaign.
    pub campaign: CampaignId,
    /// The target.
    pub account: AccountId,
    pub now: Timestamp,
    /// Sessions suspended before this are not reinstated (the undo window).
    pub reinstate_after: Timestamp,
    /// Correction ("disregard; your password still works") for a restorable account.
    pub correction: &'a NewNotice,
    /// Explanation for an account whose owner set a new password since.
    pub explanation: &'a NewNotice,
    /// The audit entry (`account.restored`).
    pub audit: NewAuditEntry,
}

/// What an undo step did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UndoOutcome {
    /// Prior password back, `sessions` reinstated, codes invalidated, and a
    /// correction queued — or, when the forced-reset notice had not gone out yet,
    /// that notice withdrawn instead (nothing to correct).
    Restored {
        /// Sessions reinstated.
        sessions: u64,
        /// The forced-reset notice was still unsent and is withdrawn; no correction.
        withdrawn: bool,
    },
    /// The owner set a new password since: explanation queued.
    NotRestorable,
    /// Undone before, or never applied: nothing done.
    AlreadyDone,
}

/// The circuit breaker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[allow(missing_docs)] // fields named for their columns; documented where the name is not enough
pub struct BreakerRecord {
    /// Open (tripped): automation and security notices wait.
    pub open: bool,
    /// Why it last changed.
    pub reason: Option<String>,
    /// When it last changed (RFC 3339; null when it never has).
    #[serde(serialize_with = "rfc3339::or_never")]
    pub changed_at: Timestamp,
    /// Who (actor text form).
    pub changed_by: String,
}

/// A breaker trip as its transaction saw it: what the operators' alert states.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(missing_docs)] // fields named for their columns; documented where the name is not enough
pub struct BreakerTrip {
    /// This trip's number (1 for the first trip ever): part of each alert's
    /// idempotency key, so one trip gives each operator one alert.
    pub trip: i64,
    pub at: Timestamp,
    pub reason: String,
    /// Who (actor text form: `system`, `operator:<id>`).
    pub by: String,
    /// Running automatic campaigns the trip paused.
    pub paused_campaigns: u64,
    /// Forced resets applied in the trailing hour.
    pub resets_last_hour: i64,
    /// In the trailing day.
    pub resets_last_day: i64,
    /// Every enabled operator (who gets the alert).
    pub operators: Vec<Operator>,
}

/// Builds the operators' alerts of a trip (the store calls it inside the trip's
/// transaction, with the figures and operators read there).
pub type TripAlerts<'a> = &'a (dyn Fn(&BreakerTrip) -> Vec<NewNotice> + Send + Sync);

/// One campaign an account was in, as its owner may see it ("Was I affected?").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountCampaign {
    /// The campaign.
    pub campaign_id: CampaignId,
    /// Why, as the notice said it.
    pub reason: String,
    /// Automatic (a rule's) or by an operator.
    pub automatic: bool,
    /// The campaign's state (`running`, `undone`…).
    pub campaign_state: CampaignState,
    /// This account's part in it.
    pub state: TargetState,
    /// When this account was reset.
    pub applied_at: Option<Timestamp>,
    /// The forced-reset notice's reference.
    pub notice_reference: Option<String>,
    /// When the reset was undone for this account.
    pub undone_at: Option<Timestamp>,
    /// Whether the owner set a new password since the reset.
    pub password_changed_since: bool,
    /// Whether the account still awaits a new password (reset and not changed since).
    pub awaiting_new_password: bool,
}
