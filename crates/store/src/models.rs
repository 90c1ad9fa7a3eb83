//! Rows as the rest of Gatehouse sees them.

use gatehouse_domain::audit::{Actor, NewAuditEntry};
use gatehouse_domain::campaign::CampaignState;
use gatehouse_domain::finding::{FindingStatus, RuleAction, RuleMode};
use gatehouse_domain::login_event::{EventOrigin, EventOutcome};
use gatehouse_domain::status::{Impact, IncidentState, SubscriberState};
use std::time::Duration;

use gatehouse_domain::{
    AccountId, CampaignId, CredentialState, NoticeId, NoticeKind, OperatorId, RecoveryId,
    SessionId, SessionState, Timestamp, TokenHash,
};
use serde::Serialize;

/// An account to create (sign-up or import).
#[derive(Clone, Debug)]
pub struct NewAccount {
    /// New id.
    pub id: AccountId,
    /// Address as given (domain lower-cased).
    pub email: String,
    /// Uniqueness key (lower-cased address).
    pub email_key: String,
    /// Creation time (imported accounts keep theirs).
    pub created_at: Timestamp,
    /// PHC string (argon2id) or bcrypt hash.
    pub password_hash: String,
}

/// A stored account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Account {
    /// Id.
    pub id: AccountId,
    /// Address.
    pub email: String,
    /// Created.
    pub created_at: Timestamp,
}

/// What a login attempt needs: account and credential.
#[derive(Clone, Debug)]
pub struct LoginRecord {
    /// The account.
    pub account: Account,
    /// Stored hash.
    pub hash: String,
    /// Credential state.
    pub state: CredentialState,
    /// Credential version (password changes so far + 1).
    pub version: i64,
    /// When the password was last set (sign-up or import, change, recovery).
    pub changed_at: Timestamp,
}

/// A password change to commit.
#[derive(Debug)]
pub struct PasswordChange<'a> {
    /// Whose.
    pub account: AccountId,
    /// Version the caller verified against.
    pub expected_version: i64,
    /// New argon2id hash.
    pub new_hash: &'a str,
    /// When.
    pub now: Timestamp,
    /// Session to keep (the one making the change), if any.
    pub keep_session: Option<SessionId>,
    /// Whether to revoke every session but `keep_session` (the default), or none.
    pub end_other_sessions: bool,
    /// Reason recorded on revoked sessions.
    pub end_reason: &'a str,
    /// The "password changed" notice to enqueue with the change. The store
    /// sets its idempotency key from the new credential version.
    pub notice: Option<&'a NewNotice>,
}

/// Outcome of a password change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PasswordChanged {
    /// The credential's new version.
    pub version: i64,
    /// Sessions revoked.
    pub sessions_ended: u64,
}

/// A session to create.
#[derive(Clone, Debug)]
pub struct NewSession {
    /// New id.
    pub id: SessionId,
    /// Owner.
    pub account: AccountId,
    /// Digest of the bearer token.
    pub token_hash: TokenHash,
    /// Created (and first seen).
    pub created_at: Timestamp,
    /// Absolute expiry.
    pub expires_at: Timestamp,
    /// Client address.
    pub ip: Option<String>,
    /// Client user agent (truncated).
    pub user_agent: Option<String>,
}

/// A stored session.
#[derive(Clone, Debug)]
pub struct SessionRecord {
    /// Id.
    pub id: SessionId,
    /// Owner.
    pub account: AccountId,
    /// Owner's address.
    pub account_email: String,
    /// Digest of the token.
    pub token_hash: TokenHash,
    /// State.
    pub state: SessionState,
    /// Created.
    pub created_at: Timestamp,
    /// Last request seen (coarse: written at most once a minute).
    pub last_seen_at: Timestamp,
    /// Absolute expiry.
    pub expires_at: Timestamp,
    /// Client address at login.
    pub ip: Option<String>,
    /// User agent at login.
    pub user_agent: Option<String>,
}

/// An operator to create.
#[derive(Clone, Debug)]
pub struct NewOperator {
    /// New id.
    pub id: OperatorId,
    /// Address.
    pub email: String,
    /// Uniqueness key.
    pub email_key: String,
    /// Digest of the API key.
    pub key_hash: TokenHash,
    /// Created.
    pub created_at: Timestamp,
}

/// A stored operator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Operator {
    /// Id.
    pub id: OperatorId,
    /// Address.
    pub email: String,
    /// Created.
    pub created_at: Timestamp,
}

impl Operator {
    /// This operator as an audit actor.
    pub fn actor(&self) -> Actor {
        Actor::Operator(self.id.to_string())
    }
}

/// An operator with their console password hash, for a console sign-in.
#[derive(Clone, Debug)]
pub struct OperatorLogin {
    /// The operator (enabled).
    pub operator: Operator,
    /// argon2id PHC string; `None`: no console access yet.
    pub password_hash: Option<String>,
}

/// A console session to create.
#[derive(Clone, Debug)]
pub struct NewConsoleSession {
    /// New id.
    pub id: SessionId,
    /// Who signed in.
    pub operator: OperatorId,
    /// Digest of the cookie's token.
    pub token_hash: TokenHash,
    /// Created.
    pub created_at: Timestamp,
    /// Absolute end.
    pub expires_at: Timestamp,
    /// Client address at sign-in.
    pub ip: Option<String>,
    /// User agent at sign-in.
    pub user_agent: Option<String>,
}

/// A stored console session with its operator.
#[derive(Clone, Debug)]
pub struct ConsoleSession {
    /// Id.
    pub id: SessionId,
    /// The operator (only returned while enabled).
    pub operator: Operator,
    /// Digest of the token.
    pub token_hash: TokenHash,
    /// Created.
    pub created_at: Timestamp,
    /// Last request.
    pub last_seen_at: Timestamp,
    /// Absolute end.
    pub expires_at: Timestamp,
    /// Ended (signed out, or password replaced).
    pub ended_at: Option<Timestamp>,
}

/// A stored audit entry.
#[derive(Clone, Debug, Serialize)]
pub struct AuditEntry {
    /// Position, from 1.
    pub seq: i64,
    /// When.
    pub at: Timestamp,
    /// `account`, `operator` or `system`.
    pub actor_kind: String,
    /// Actor id.
    pub actor_id: Option<String>,
    /// Action.
    pub action: String,
    /// Target.
    pub target: Option<String>,
    /// Client address.
    pub ip: Option<String>,
    /// Detail (JSON text).
    pub detail: String,
    /// Chain hash, hex.
    pub hash: String,
}

/// A notice to put in the outbox (in the transaction of the change it reports).
#[derive(Clone, Debug)]
pub struct NewNotice {
    /// New id.
    pub id: NoticeId,
    /// Public reference (`GH-XXXX-XXXX`).
    pub reference: String,
    /// Writing the same key twice yields one notice.
    pub idempotency_key: String,
    /// What it is.
    pub kind: NoticeKind,
    /// The account it is about, if any.
    pub account: Option<AccountId>,
    /// Address to send to.
    pub recipient: String,
    /// Lower-cased address: the per-recipient cap counts by this.
    pub recipient_key: String,
    /// Facts the templates need (may hold a recovery code until sent).
    pub payload: serde_json::Value,
    /// `Message-ID` header value, fixed at enqueue so a re-send repeats it.
    pub message_id: String,
    /// Enqueued.
    pub created_at: Timestamp,
    /// After this the notice is pointless (its code expired): not sent.
    pub expires_at: Option<Timestamp>,
}

/// Where a notice is in its delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeState {
    /// Waiting to be sent (or to be retried).
    Pending,
    /// Leased by a worker that is sending it now.
    Sending,
    /// Accepted by the mail server.
    Sent,
    /// Refused for good (a 5xx answer, or retries exhausted); an operator may retry.
    Failed,
    /// Merged into a later notice of the same kind (per-recipient cap).
    Coalesced,
    /// Its content ran out (e.g. the recovery code expired) before it could be sent.
    Expired,
}

impl NoticeState {
    /// Every state.
    pub const ALL: [Self; 6] = [
        Self::Pending,
        Self::Sending,
        Self::Sent,
        Self::Failed,
        Self::Coalesced,
        Self::Expired,
    ];

    /// Stable text form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Failed => "failed",
            Self::Coalesced => "coalesced",
            Self::Expired => "expired",
        }
    }
}

impl std::str::FromStr for NoticeState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown notice state {s:?} (one of: {})",
                    Self::ALL.map(Self::as_str).join(", ")
                )
            })
    }
}

/// A stored notice, without its payload (which may hold a code).
#[derive(Clone, Debug, Serialize)]
pub struct Notice {
    /// Id.
    pub id: NoticeId,
    /// Public reference.
    pub reference: String,
    /// Kind.
    pub kind: NoticeKind,
    /// Account, if any.
    pub account: Option<AccountId>,
    /// Recipient address.
    pub recipient: String,
    /// Delivery state.
    pub state: NoticeState,
    /// Delivery attempts so far.
    pub attempts: i64,
    /// When the next attempt is due (pending rows).
    pub next_attempt_at: Timestamp,
    /// The mail server's last answer, or why the notice failed.
    pub last_error: Option<String>,
    /// The notice this one was merged into.
    pub coalesced_into: Option<NoticeId>,
    /// How many earlier notices were merged into this one.
    pub coalesced_count: i64,
    /// Enqueued.
    pub created_at: Timestamp,
    /// Accepted by the mail server.
    pub sent_at: Option<Timestamp>,
    /// Pointless after this.
    pub expires_at: Option<Timestamp>,
    /// `Message-ID` header.
    pub message_id: String,
}

/// A notice leased to a worker for sending.
#[derive(Clone, Debug)]
pub struct ClaimedNotice {
    /// The row.
    pub notice: Notice,
    /// Template facts.
    pub payload: serde_json::Value,
}

/// How a worker claims notices.
#[derive(Clone, Debug)]
pub struct ClaimPolicy {
    /// Now.
    pub now: Timestamp,
    /// This claim's lease id: only its holder may settle the rows.
    pub lease_id: String,
    /// How long the lease lasts; past it, another worker may re-send.
    pub lease: Duration,
    /// Most rows per claim.
    pub limit: i64,
    /// Most notices sent to one address per `cap_window`.
    pub cap_per_recipient: i64,
    /// The cap's sliding window (24 h).
    pub cap_window: Duration,
    /// Most status-page notices (any replica) per hour: their own budget, claimed
    /// only after every due security notice (see [`NoticeKind::is_status`]).
    pub status_per_hour: i64,
}

/// What one claim did.
#[derive(Clone, Debug, Default)]
pub struct ClaimReport {
    /// Leased for sending now.
    pub claimed: Vec<ClaimedNotice>,
    /// Held back by the per-recipient cap (reference, recipient, merged so far).
    pub held: Vec<(String, String, i64)>,
    /// Rows merged into a later one by this claim.
    pub coalesced: u64,
    /// Rows that ran out before sending.
    pub expired: u64,
    /// Status-page notices moved later because the status budget is spent.
    pub status_deferred: u64,
}

/// Which notices to list.
#[derive(Clone, Debug, Default)]
pub struct NoticeFilter {
    /// Only this state.
    pub state: Option<NoticeState>,
    /// Only this account.
    pub account: Option<AccountId>,
    /// Most rows (newest first).
    pub limit: i64,
}

/// A recovery request to store.
#[derive(Clone, Debug)]
pub struct NewRecovery {
    /// New id.
    pub id: RecoveryId,
    /// Whose.
    pub account: AccountId,
    /// Keyed digest of the code.
    pub code_hash: [u8; 32],
    /// Digest of the link token, if the mail carries a link.
    pub token_hash: Option<TokenHash>,
    /// Created.
    pub created_at: Timestamp,
    /// Code and token stop working at this time.
    pub expires_at: Timestamp,
    /// Requesting client.
    pub ip: Option<String>,
}

/// How a redemption names its request.
#[derive(Clone, Debug)]
pub enum RecoveryLookup {
    /// The account's active request (the code is then checked by the caller).
    Account(AccountId),
    /// The request whose link token has this digest.
    Token(TokenHash),
}

/// An active request with one attempt counted against it.
#[derive(Clone, Debug)]
pub struct RecoveryAttempt {
    /// Request.
    pub id: RecoveryId,
    /// Whose.
    pub account: AccountId,
    /// The account's address.
    pub email: String,
    /// Stored code digest.
    pub code_hash: Vec<u8>,
    /// Attempts counted, including this one.
    pub attempts: i64,
}

/// A recovery to complete: the request is used up and the password set.
#[derive(Debug)]
pub struct RecoveryCompletion<'a> {
    /// The request.
    pub request: RecoveryId,
    /// Whose.
    pub account: AccountId,
    /// New argon2id hash.
    pub new_hash: &'a str,
    /// When.
    pub now: Timestamp,
    /// Login throttle keys to clear (the account's).
    pub clear_throttle_keys: &'a [&'a str],
    /// The "password changed" notice (key set by the store from the new version).
    pub notice: &'a NewNotice,
}

/// How a new login event finds its Gatehouse account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccountLink {
    /// The caller knows already (Gatehouse's own logins): this account, or none.
    Known(Option<AccountId>),
    /// Look the `account` text up, as an e-mail key or an account id, at insert.
    Resolve,
}

/// A login event to store.
#[derive(Clone, Debug)]
pub struct NewLoginEvent {
    /// When the attempt happened.
    pub time: Timestamp,
    /// E-mail key, or the id as given.
    pub account: String,
    /// How `account_id` is found.
    pub link: AccountLink,
    /// Client address (canonical text).
    pub ip: String,
    /// User-Agent.
    pub user_agent: Option<String>,
    /// What it came to.
    pub outcome: EventOutcome,
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
    /// Autonomous system number.
    pub asn: Option<u32>,
    /// Where it came from.
    pub origin: EventOrigin,
    /// Keyed digest of the attempted password (own logins only).
    pub password_digest: Option<[u8; 32]>,
    /// Unique per distinct event: a second insert of the same key is skipped.
    pub dedupe_key: [u8; 16],
    /// When Gatehouse received it.
    pub received_at: Timestamp,
}

/// A stored login event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginEvent {
    /// Row id: increases with insertion; with `time`, the scan order.
    pub id: i64,
    /// When the attempt happened.
    pub time: Timestamp,
    /// E-mail key, or the id as given.
    pub account: String,
    /// The Gatehouse account it resolved to, if any.
    pub account_id: Option<AccountId>,
    /// Client address.
    pub ip: String,
    /// User-Agent.
    pub user_agent: Option<String>,
    /// What it came to.
    pub outcome: EventOutcome,
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
    /// Autonomous system number.
    pub asn: Option<u32>,
    /// Where it came from.
    pub origin: EventOrigin,
    /// Keyed digest of the attempted password (own logins only).
    pub password_digest: Option<Vec<u8>>,
    /// When Gatehouse received it.
    pub received_at: Timestamp,
}

impl LoginEvent {
    /// Where a scan that ended at this event goes on from.
    pub fn cursor(&self) -> EventCursor {
        EventCursor {
            time: self.time,
            id: self.id,
        }
    }
}

/// A position in the (time, id) order of events: a scan continues after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventCursor {
    /// Time of the last event seen.
    pub time: Timestamp,
    /// Its id.
    pub id: i64,
}

/// A rule as stored: its current version and definition (canonical JSON the
/// server parses; the store only compares and keeps it).
#[derive(Clone, Debug, PartialEq)]
pub struct RuleRecord {
    /// Operator-chosen id.
    pub id: String,
    /// Bumped by every change of the definition.
    pub version: i64,
    /// Detector name (also inside the definition; here for filtering).
    pub detector: String,
    /// Mode (also inside the definition).
    pub mode: RuleMode,
    /// The whole rule.
    pub definition: serde_json::Value,
    /// When this version was written.
    pub updated_at: Timestamp,
    /// Who wrote it (an actor's text form).
    pub updated_by: String,
}

/// A rule to create or update.
#[derive(Clone, Debug)]
pub struct NewRuleVersion {
    /// Id.
    pub id: String,
    /// Detector name.
    pub detector: String,
    /// Mode.
    pub mode: RuleMode,
    /// The whole rule (compared as a value with the stored one: equal → no new version).
    pub definition: serde_json::Value,
    /// When.
    pub now: Timestamp,
    /// Who (an actor's text form).
    pub by: String,
}

/// The rule a batch of findings is recorded under.
#[derive(Clone, Debug)]
pub struct FindingRule {
    /// Id.
    pub id: String,
    /// Version that produced the findings.
    pub version: i64,
    /// Its mode (shadow or enforce; off records nothing).
    pub mode: RuleMode,
    /// Its action.
    pub action: RuleAction,
    /// Enforce findings handed on per trailing 24 hours; past it they are held.
    pub max_per_day: i64,
}

/// A finding to record.
#[derive(Clone, Debug)]
pub struct NewFinding {
    /// The account (resolved: events for unknown addresses never become findings).
    pub account: AccountId,
    /// Detector name.
    pub detector: String,
    /// Confidence, `0..=1`.
    pub score: f64,
    /// Why, for people: source, counts, window, the login.
    pub evidence: serde_json::Value,
    /// When the behaviour happened.
    pub observed_at: Timestamp,
    /// Rule, account and behaviour: the same finding is recorded once.
    pub dedupe_key: [u8; 16],
}

/// A stored finding.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    /// Row id (increases with insertion).
    pub id: i64,
    /// The account.
    pub account_id: AccountId,
    /// Its address now.
    pub email: String,
    /// Rule id.
    pub rule_id: String,
    /// Rule version.
    pub rule_version: i64,
    /// Detector name.
    pub detector: String,
    /// Rule mode when recorded.
    pub mode: RuleMode,
    /// Rule action when recorded.
    pub action: RuleAction,
    /// Where it stands.
    pub status: FindingStatus,
    /// Confidence.
    pub score: f64,
    /// Why.
    pub evidence: serde_json::Value,
    /// When the behaviour happened.
    pub observed_at: Timestamp,
    /// When it was recorded.
    pub created_at: Timestamp,
}

/// Which findings to list: all filters optional, newest first.
#[derive(Clone, Debug, Default)]
pub struct FindingFilter {
    /// One rule.
    pub rule: Option<String>,
    /// One account.
    pub account: Option<AccountId>,
    /// Recorded at or after.
    pub since: Option<Timestamp>,
    /// Recorded before.
    pub until: Option<Timestamp>,
    /// One status.
    pub status: Option<FindingStatus>,
    /// Page: ids below this (the last id of the previous page).
    pub before_id: Option<i64>,
    /// At most this many (capped at 1,000).
    pub limit: i64,
}

/// What recording a batch of findings did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecordedFindings {
    /// Recorded now, by status.
    pub shadow: u64,
    /// Handed to remediation.
    pub pending: u64,
    /// Over the cap.
    pub held: u64,
    /// Recorded before (same rule, account and behaviour): skipped.
    pub duplicates: u64,
    /// Ids of the findings recorded now.
    pub ids: Vec<i64>,
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
    /// Actor text form.
    pub created_by: String,
    /// When.
    pub created_at: Timestamp,
    /// Stages (JSON of the domain's `StagePlan`).
    pub stage_plan: serde_json::Value,
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
pub struct CampaignRecord {
    /// Id.
    pub id: CampaignId,
    /// Name.
    pub name: String,
    /// Source.
    pub source: CampaignSource,
    /// Automatic (an enforce rule's).
    pub automatic: bool,
    /// Rule id, for rule campaigns.
    pub rule_id: Option<String>,
    /// Rule version.
    pub rule_version: Option<i64>,
    /// Why.
    pub reason: String,
    /// State.
    pub state: CampaignState,
    /// Creator (actor text form).
    pub created_by: String,
    /// Created.
    pub created_at: Timestamp,
    /// Hash of the frozen target set (hex), once previewed.
    pub snapshot_hash: Option<String>,
    /// Targets.
    pub target_count: i64,
    /// Whether a second operator must approve.
    pub needs_second_approval: bool,
    /// Who approved.
    pub approved_by: Option<String>,
    /// When.
    pub approved_at: Option<Timestamp>,
    /// The figures shown at preview.
    pub preview: Option<serde_json::Value>,
    /// Stages.
    pub stage_plan: serde_json::Value,
    /// Accounts per minute at most.
    pub rate_per_minute: i64,
    /// Seconds between stages.
    pub bake_secs: i64,
    /// Stage being applied (index).
    pub stage: i64,
    /// When it started.
    pub stage_started_at: Option<Timestamp>,
    /// Accounts reset so far.
    pub applied: i64,
    /// Why it is paused.
    pub paused_reason: Option<String>,
    /// Who asked for the undo (actor text), once asked.
    pub undo_by: Option<String>,
    /// Last change.
    pub updated_at: Timestamp,
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
pub struct TargetRecord {
    /// The account.
    pub account_id: AccountId,
    /// Its address.
    pub email: String,
    /// Order of application.
    pub seq: i64,
    /// The finding behind it.
    pub finding_id: Option<i64>,
    /// Why.
    pub evidence: Option<serde_json::Value>,
    /// Where it stands.
    pub state: TargetState,
    /// The credential version reset.
    pub credential_version: Option<i64>,
    /// When it was applied.
    pub applied_at: Option<Timestamp>,
    /// The forced-reset notice's reference.
    pub notice_reference: Option<String>,
}

/// Fields a transition sets besides the state (None: unchanged).
#[derive(Clone, Debug)]
pub struct CampaignUpdate {
    /// The new state.
    pub state: Option<CampaignState>,
    /// Frozen snapshot: hash and size.
    pub snapshot: Option<([u8; 32], i64)>,
    /// Whether a second approval is needed (set with a snapshot).
    pub needs_second_approval: Option<bool>,
    /// Approval: who (Some(None) clears it).
    pub approved_by: Option<Option<String>>,
    /// Preview figures.
    pub preview: Option<serde_json::Value>,
    /// Stage index and its start.
    pub stage: Option<(i64, Timestamp)>,
    /// Pause reason (Some(None) clears it).
    pub paused_reason: Option<Option<String>>,
    /// Who asked for the undo.
    pub undo_by: Option<Option<String>>,
    /// When.
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

/// The budget an apply step must respect.
#[derive(Clone, Copy, Debug)]
pub struct BudgetLimits {
    /// Resets in the trailing hour, across every campaign.
    pub per_hour: i64,
    /// Resets in the trailing day.
    pub per_day: i64,
    /// An operator campaign a second operator approved may go past the budget.
    pub may_exceed: bool,
}

/// One account's forced reset: everything in one transaction.
#[derive(Debug)]
pub struct ApplyStep<'a> {
    /// The campaign.
    pub campaign: CampaignId,
    /// The target.
    pub account: AccountId,
    /// When.
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

/// What an apply step did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApplyOutcome {
    /// Reset; the notice's reference.
    Applied {
        /// Reference of the forced-reset notice.
        reference: String,
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
pub struct UndoStep<'a> {
    /// The campaign.
    pub campaign: CampaignId,
    /// The target.
    pub account: AccountId,
    /// When.
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
pub struct BreakerRecord {
    /// Open (tripped): automation and security notices wait.
    pub open: bool,
    /// Why it last changed.
    pub reason: Option<String>,
    /// When.
    pub changed_at: Timestamp,
    /// Who (actor text form).
    pub changed_by: String,
}

/// A breaker trip as its transaction saw it: what the operators' alert states.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BreakerTrip {
    /// This trip's number (1 for the first trip ever): part of each alert's
    /// idempotency key, so one trip gives each operator one alert.
    pub trip: i64,
    /// When.
    pub at: Timestamp,
    /// Why.
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

// ---- The status page --------------------------------------------------------

/// A part of the service the status page lists.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StatusComponent {
    /// Stable id (`a-z 0-9 -`).
    pub id: String,
    /// Name shown.
    pub name: String,
    /// One line about it.
    pub description: String,
    /// Sort order (ascending, then by id).
    pub position: i64,
    /// Created.
    pub created_at: Timestamp,
    /// Last edited.
    pub updated_at: Timestamp,
}

/// A component to create or replace.
#[derive(Clone, Debug)]
pub struct NewStatusComponent {
    /// Stable id.
    pub id: String,
    /// Name shown.
    pub name: String,
    /// One line about it.
    pub description: String,
    /// Sort order.
    pub position: i64,
    /// Now.
    pub now: Timestamp,
}

/// A new incident draft.
#[derive(Clone, Debug)]
pub struct NewIncident {
    /// Title.
    pub title: String,
    /// Impact.
    pub impact: Impact,
    /// The text (becomes the first update when published).
    pub body: String,
    /// Facts for operators from whoever drafted it (e.g. the breaker); never public.
    pub figures: Option<serde_json::Value>,
    /// Components affected (must exist).
    pub components: Vec<String>,
    /// `operator:<id>` or `system`.
    pub created_by: String,
    /// Now.
    pub now: Timestamp,
}

/// Wording changes to an incident; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct IncidentEdit {
    /// New title.
    pub title: Option<String>,
    /// New impact.
    pub impact: Option<Impact>,
    /// New draft text (drafts only: a public incident's history is its updates).
    pub body: Option<String>,
    /// New set of affected components.
    pub components: Option<Vec<String>>,
}

/// An update to post (publishing a draft, a progress note, or the resolution).
#[derive(Clone, Debug)]
pub struct NewIncidentUpdate {
    /// The state the incident moves to.
    pub state: IncidentState,
    /// What people are told.
    pub body: String,
    /// `operator:<id>` or `system`.
    pub author: String,
    /// Now.
    pub at: Timestamp,
    /// Whether this update publishes a draft (only drafts can be published,
    /// and a draft can only be published).
    pub publish: bool,
}

/// One posted update.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IncidentUpdate {
    /// Id.
    pub id: i64,
    /// State the incident moved to.
    pub state: IncidentState,
    /// Text.
    pub body: String,
    /// When.
    pub at: Timestamp,
    /// Who.
    pub author: String,
}

/// An incident with its updates (oldest first) and components.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Incident {
    /// Id.
    pub id: i64,
    /// Title.
    pub title: String,
    /// State.
    pub state: IncidentState,
    /// Impact.
    pub impact: Impact,
    /// Draft text (the first update once published).
    pub body: String,
    /// Figures from whoever drafted it; never public.
    pub figures: Option<serde_json::Value>,
    /// Postmortem, if written.
    pub postmortem: Option<String>,
    /// Affected components' ids.
    pub components: Vec<String>,
    /// Created.
    pub created_at: Timestamp,
    /// By whom.
    pub created_by: String,
    /// Last change.
    pub updated_at: Timestamp,
    /// Made public.
    pub published_at: Option<Timestamp>,
    /// Resolved.
    pub resolved_at: Option<Timestamp>,
    /// Updates, oldest first.
    pub updates: Vec<IncidentUpdate>,
}

/// Which incidents to list.
#[derive(Clone, Debug)]
pub struct IncidentFilter {
    /// Include drafts (operators only).
    pub drafts: bool,
    /// Only incidents still open or resolved at or after this time.
    pub resolved_since: Option<Timestamp>,
    /// Most incidents (newest first).
    pub limit: i64,
}

/// What a posted update did.
#[derive(Clone, Debug)]
pub struct PostedUpdate {
    /// The incident after the update.
    pub incident: Incident,
    /// Status-update notices enqueued (one per confirmed subscriber).
    pub notices: u64,
}

/// A status-page subscriber.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StatusSubscriber {
    /// Id.
    pub id: String,
    /// Address as given.
    pub email: String,
    /// State.
    pub state: SubscriberState,
    /// Asked.
    pub created_at: Timestamp,
    /// Confirmed.
    pub confirmed_at: Option<Timestamp>,
    /// Left.
    pub unsubscribed_at: Option<Timestamp>,
}

/// A subscription request.
#[derive(Clone, Debug)]
pub struct NewSubscription {
    /// Id for a new subscriber (an existing one keeps its id).
    pub id: String,
    /// Address as given.
    pub email: String,
    /// Its lower-cased key.
    pub email_key: String,
    /// Digest of the confirmation token.
    pub confirm_hash: TokenHash,
    /// Until when the confirmation link works.
    pub confirm_expires_at: Timestamp,
    /// Digest of the unsubscribe token derived from `id` (kept by an existing subscriber).
    pub unsubscribe_hash: TokenHash,
    /// Now.
    pub now: Timestamp,
}

/// Subscribers per state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SubscriberCounts {
    /// Waiting for confirmation.
    pub pending: i64,
    /// Getting updates.
    pub confirmed: i64,
    /// Left.
    pub unsubscribed: i64,
}
