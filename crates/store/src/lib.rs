//! Gatehouse storage.
//!
//! The store is split by capability ([`AccountStore`], [`SessionStore`], …)
//! and combined in [`Store`]. Each write method is one *use-case transaction*:
//! it takes the [`NewAuditEntry`] that records it and commits state change and
//! audit entry together (design invariant 3), so a caller cannot forget either.
//!
//! Two engines implement every trait with the same SQL text (see [`sql`]):
//! SQLite (the zero-setup default; WAL, `busy_timeout`, `BEGIN IMMEDIATE` for
//! writes) and PostgreSQL (the scale-out engine). [`connect`] picks one from the
//! URL; nothing else in Gatehouse branches on the engine.
#![deny(missing_docs)]

mod audit_verify;
mod error;
mod models;
mod postgres;
mod sql;
mod sqlite;
#[cfg(feature = "testing")]
pub mod testing;

use std::sync::Arc;

use async_trait::async_trait;
use gatehouse_domain::audit::NewAuditEntry;
use gatehouse_domain::campaign::CampaignState;
use gatehouse_domain::throttle::{ThrottlePolicy, ThrottleState};
use gatehouse_domain::{
    AccountId, CampaignId, NoticeId, OperatorId, RecoveryId, SessionId, Timestamp, TokenHash,
};

pub use audit_verify::{ChainReport, verify_audit_chain};
pub use error::StoreError;
pub use models::*;
pub use postgres::PgStore;
pub use sql::NOTICE_REFERENCE_TAKEN;
pub use sqlite::SqliteStore;

/// Result of a store call.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Accounts and their password credentials.
#[async_trait]
pub trait AccountStore {
    /// Creates an account with its first credential. `Conflict` if the e-mail key is taken.
    async fn create_account(&self, new: &NewAccount, audit: NewAuditEntry) -> Result<Account>;

    /// The account and credential for a login attempt, by e-mail key.
    async fn login_record(&self, email_key: &str) -> Result<Option<LoginRecord>>;

    /// One account by id.
    async fn account(&self, id: AccountId) -> Result<Option<Account>>;

    /// Number of accounts.
    async fn count_accounts(&self) -> Result<i64>;

    /// Accounts active since `since`: a successful sign-in (own or a login
    /// event from an app) or a session used since then. `None` when there is
    /// no login history at all (no successful sign-in event and no session
    /// ever), so the caller can say it fell back to every account.
    async fn active_accounts(&self, since: Timestamp) -> Result<Option<i64>>;

    /// Inserts a batch of imported accounts in one transaction, skipping
    /// e-mail keys that already exist. Returns, per row, whether it was inserted.
    async fn import_accounts(&self, rows: &[NewAccount], audit: NewAuditEntry)
    -> Result<Vec<bool>>;
}

/// Password credentials.
#[async_trait]
pub trait CredentialStore {
    /// Replaces the hash with an equivalent one (same password, better
    /// parameters) if the stored hash is still `old_hash`. Returns whether it did.
    async fn rehash_credential(
        &self,
        account: AccountId,
        old_hash: &str,
        new_hash: &str,
        audit: NewAuditEntry,
    ) -> Result<bool>;

    /// Sets a new password if the credential is still at `expected_version`:
    /// state becomes active, version goes up by one, and every other session
    /// (all but `keep`) is revoked. `Conflict` if the version moved.
    async fn change_password(
        &self,
        change: &PasswordChange<'_>,
        audit: NewAuditEntry,
    ) -> Result<PasswordChanged>;
}

/// Login sessions.
#[async_trait]
pub trait SessionStore {
    /// Records a successful login: the session, the cleared account throttle
    /// key, its login event (if given) and the audit entry, in one transaction.
    async fn create_session(
        &self,
        new: &NewSession,
        clear_throttle_key: &str,
        event: Option<&NewLoginEvent>,
        audit: NewAuditEntry,
    ) -> Result<()>;

    /// The session a token belongs to (any state), with its account's e-mail.
    async fn session_by_token(&self, token: &TokenHash) -> Result<Option<SessionRecord>>;

    /// The account's sessions that are active and not past `expires_at` at `now`, newest use first.
    async fn active_sessions(
        &self,
        account: AccountId,
        now: Timestamp,
    ) -> Result<Vec<SessionRecord>>;

    /// Revokes one of the account's sessions. Returns whether one was active or suspended.
    async fn end_session(
        &self,
        account: AccountId,
        session: SessionId,
        now: Timestamp,
        reason: &str,
        audit: NewAuditEntry,
    ) -> Result<bool>;

    /// Revokes every session of the account except `keep`. Returns how many.
    async fn end_other_sessions(
        &self,
        account: AccountId,
        keep: Option<SessionId>,
        now: Timestamp,
        reason: &str,
        audit: NewAuditEntry,
    ) -> Result<u64>;

    /// Deletes sessions that expired, or were revoked, before `before`
    /// (their history stays in the audit log). Returns how many.
    async fn purge_sessions(&self, before: Timestamp) -> Result<u64>;

    /// Moves `last_seen_at` forward (not audited: it is bookkeeping, not an action).
    async fn touch_session(&self, session: SessionId, now: Timestamp) -> Result<()>;
}

/// Failed-login counters.
#[async_trait]
pub trait ThrottleStore {
    /// Current state of each key (`None` where it has none).
    async fn throttle_states(&self, keys: &[&str]) -> Result<Vec<Option<ThrottleState>>>;

    /// Counts one failure against each key under its policy, stores the login
    /// event (if given) and appends the audit entry, in one transaction.
    /// Returns the new states in order.
    async fn record_login_failure(
        &self,
        keys: &[(&str, ThrottlePolicy)],
        now: Timestamp,
        event: Option<&NewLoginEvent>,
        audit: NewAuditEntry,
    ) -> Result<Vec<ThrottleState>>;

    /// Counts one event against each key with no audit entry of its own (for
    /// rate limits on actions that are audited when they succeed, like sign-up).
    async fn count_throttle_event(
        &self,
        keys: &[(&str, ThrottlePolicy)],
        now: Timestamp,
    ) -> Result<Vec<ThrottleState>>;

    /// Deletes counters whose window began at or before `window_closed_before`
    /// and whose block has ended by `now`. Returns how many.
    async fn purge_throttle(&self, window_closed_before: Timestamp, now: Timestamp) -> Result<u64>;
}

/// Operators and their API keys.
#[async_trait]
pub trait OperatorStore {
    /// Creates an operator. `Conflict` if the e-mail is taken.
    async fn create_operator(&self, new: &NewOperator, audit: NewAuditEntry) -> Result<Operator>;

    /// The enabled operator holding this API key.
    async fn operator_by_key(&self, key: &TokenHash) -> Result<Option<Operator>>;

    /// The enabled operator with this e-mail key (the CLI names operators so).
    async fn operator_by_email(&self, email_key: &str) -> Result<Option<Operator>>;
}

/// The operator console: operators' passwords, console sessions, and the
/// lookups its pages need.
#[async_trait]
pub trait ConsoleStore {
    /// Sets (or replaces) an operator's console password and ends their console
    /// sessions, with the audit entry. `NotFound` if no enabled operator has this id.
    async fn set_operator_password(
        &self,
        operator: OperatorId,
        password_hash: &str,
        now: Timestamp,
        audit: NewAuditEntry,
    ) -> Result<()>;

    /// The enabled operator with this e-mail key and their password hash.
    async fn operator_login(&self, email_key: &str) -> Result<Option<OperatorLogin>>;

    /// Opens a console session, with the audit entry.
    async fn create_console_session(
        &self,
        new: &NewConsoleSession,
        audit: NewAuditEntry,
    ) -> Result<()>;

    /// The console session holding this token, if its operator is enabled
    /// (ended or expired sessions are returned too: the caller decides).
    async fn console_session(&self, token: &TokenHash) -> Result<Option<ConsoleSession>>;

    /// Records activity on a console session (only ever moves forward).
    async fn touch_console_session(&self, id: SessionId, now: Timestamp) -> Result<()>;

    /// Ends a console session, with the audit entry. `false` if it had ended already.
    async fn end_console_session(
        &self,
        id: SessionId,
        now: Timestamp,
        audit: NewAuditEntry,
    ) -> Result<bool>;

    /// Every operator's id and address, disabled ones too (to name who did what).
    async fn operator_emails(&self) -> Result<Vec<(OperatorId, String)>>;

    /// Audit entries with `seq < before` (all if `None`), newest first, at most `limit`.
    async fn audit_latest(&self, before: Option<i64>, limit: i64) -> Result<Vec<AuditEntry>>;

    /// Accounts whose e-mail key starts with `prefix` (already lower-cased),
    /// or whose id is `prefix`; at most `limit`, by e-mail.
    async fn search_accounts(&self, prefix: &str, limit: i64) -> Result<Vec<Account>>;
}

/// The audit log.
#[async_trait]
pub trait AuditStore {
    /// Appends one entry on its own.
    async fn append_audit(&self, entry: NewAuditEntry) -> Result<i64>;

    /// Entries with `seq > after`, oldest first, at most `limit`.
    async fn audit_entries(&self, after: i64, limit: i64) -> Result<Vec<AuditEntry>>;
}

/// The notice outbox: enqueue with a state change, claim with a lease, settle.
#[async_trait]
pub trait OutboxStore {
    /// Enqueues a notice on its own (with an audit entry if given). Returns
    /// `false` if a notice with the same idempotency key exists already.
    async fn enqueue_notice(
        &self,
        notice: &NewNotice,
        audit: Option<NewAuditEntry>,
    ) -> Result<bool>;

    /// Leases due notices (pending and due, or sending with an expired lease)
    /// for sending, applying the per-recipient cap: a notice over the cap is
    /// held, and pending notices of its kind to that address merge into the
    /// newest. Expired notices are marked so. Commits before returning: the
    /// caller sends outside any transaction.
    async fn claim_notices(&self, policy: &ClaimPolicy) -> Result<ClaimReport>;

    /// Marks leased notices sent and clears their payloads, in one statement
    /// (the delivery worker settles what its connections finished together).
    /// Returns the ids that were marked; an id missing from it had lost its lease.
    async fn notices_sent(
        &self,
        ids: &[NoticeId],
        lease_id: &str,
        now: Timestamp,
    ) -> Result<Vec<NoticeId>>;

    /// [`notices_sent`](Self::notices_sent) for one notice. `false` if the lease was lost.
    async fn notice_sent(&self, id: NoticeId, lease_id: &str, now: Timestamp) -> Result<bool> {
        Ok(!self.notices_sent(&[id], lease_id, now).await?.is_empty())
    }

    /// Puts a leased notice back for a retry at `next_attempt_at`, recording the error.
    async fn notice_retry(
        &self,
        id: NoticeId,
        lease_id: &str,
        next_attempt_at: Timestamp,
        error: &str,
    ) -> Result<bool>;

    /// Marks a leased notice failed for good with the server's answer.
    async fn notice_failed(&self, id: NoticeId, lease_id: &str, error: &str) -> Result<bool>;

    /// Notices, newest first.
    async fn notices(&self, filter: &NoticeFilter) -> Result<Vec<Notice>>;

    /// The notice with this reference.
    async fn notice_by_reference(&self, reference: &str) -> Result<Option<Notice>>;

    /// Sends a failed notice again (pending, attempts reset). `false` if it was not failed.
    async fn retry_failed_notice(
        &self,
        id: NoticeId,
        now: Timestamp,
        audit: NewAuditEntry,
    ) -> Result<bool>;

    /// Notices per state.
    async fn outbox_counts(&self) -> Result<Vec<(NoticeState, i64)>>;

    /// The earliest `next_attempt_at` among pending notices (when to wake up next).
    async fn next_notice_due(&self) -> Result<Option<Timestamp>>;

    /// Clears the payload (which may hold a code) of notices that will not be
    /// sent any more or were created before `before`, and forgets cap rows
    /// unused since then. Returns how many payloads were cleared.
    async fn purge_notice_payloads(&self, before: Timestamp) -> Result<u64>;
}

/// Password recovery requests.
#[async_trait]
pub trait RecoveryStore {
    /// Stores a request, supersedes the account's older active ones and
    /// enqueues its notice, in one transaction.
    async fn create_recovery(
        &self,
        new: &NewRecovery,
        notice: &NewNotice,
        audit: NewAuditEntry,
    ) -> Result<()>;

    /// Counts one attempt against the active, unexpired request `lookup`
    /// names, if it has attempts left; returns it. The count is taken before
    /// the caller compares the code, so concurrent guesses cannot exceed
    /// `max_attempts`. A request that reaches `max_attempts` is exhausted.
    async fn recovery_attempt(
        &self,
        lookup: &RecoveryLookup,
        now: Timestamp,
        max_attempts: i64,
    ) -> Result<Option<RecoveryAttempt>>;

    /// Records a wrong code (audit), and exhausts the request if it has no attempts left.
    async fn reject_recovery_attempt(
        &self,
        request: RecoveryId,
        exhausted: bool,
        now: Timestamp,
        audit: NewAuditEntry,
    ) -> Result<()>;

    /// Uses up the request (if still active and unexpired) and sets the
    /// password: credential active with version + 1, every session revoked,
    /// the throttle keys cleared, the notice enqueued, the audit entry
    /// appended: one transaction. `Conflict` if the request was used meanwhile.
    async fn complete_recovery(
        &self,
        c: &RecoveryCompletion<'_>,
        audit: NewAuditEntry,
    ) -> Result<PasswordChanged>;
}

/// Login events: what the compromise checks read and backtest against.
/// (Gatehouse's own logins are stored by [`SessionStore::create_session`] and
/// [`ThrottleStore::record_login_failure`], in the transaction of the login.)
#[async_trait]
pub trait EventStore {
    /// Stores a batch in one transaction, skipping events whose `dedupe_key` is
    /// stored already (or came earlier in the batch), and appends the audit entry,
    /// if given, with the counts. Returns how many were inserted.
    async fn insert_login_events(
        &self,
        events: &[NewLoginEvent],
        audit: Option<NewAuditEntry>,
    ) -> Result<u64>;

    /// Events with `from <= time < until`, in `(time, id)` order, starting after
    /// `after` (a page of a scan), at most `limit`. A scan pages on with the
    /// last event's [`cursor`](LoginEvent::cursor) until a page comes back short.
    async fn login_events(
        &self,
        from: Timestamp,
        until: Timestamp,
        after: Option<EventCursor>,
        limit: i64,
    ) -> Result<Vec<LoginEvent>>;

    /// Number of events with `from <= time < until`.
    async fn count_login_events(&self, from: Timestamp, until: Timestamp) -> Result<i64>;

    /// Deletes up to `limit` of the oldest events with `time < before`, so
    /// retention runs in short transactions that never hold up logins for long.
    /// Returns how many.
    async fn purge_login_events(&self, before: Timestamp, limit: i64) -> Result<u64>;

    /// Events with `id > after`, in id (insertion) order, at most `limit`: how a
    /// detection monitor tails the table.
    async fn login_events_after_id(&self, after: i64, limit: i64) -> Result<Vec<LoginEvent>>;

    /// The events among `ids` that exist (a monitor re-asks for ids it saw skipped,
    /// in case their transaction commits late).
    async fn login_events_by_ids(&self, ids: &[i64]) -> Result<Vec<LoginEvent>>;

    /// Where the monitor `name` got to (`None` before its first save).
    async fn monitor_checkpoint(&self, name: &str) -> Result<Option<i64>>;

    /// Saves where the monitor `name` got to.
    async fn save_monitor_checkpoint(
        &self,
        name: &str,
        after_id: i64,
        now: Timestamp,
    ) -> Result<()>;
}

/// Rules (declarative compromise checks) and their versions.
#[async_trait]
pub trait RuleStore {
    /// Every rule, by id.
    async fn rules(&self) -> Result<Vec<RuleRecord>>;

    /// One rule's current version.
    async fn rule(&self, id: &str) -> Result<Option<RuleRecord>>;

    /// One past or current version of a rule.
    async fn rule_version(&self, id: &str, version: i64) -> Result<Option<RuleRecord>>;

    /// Creates the rule (version 1) or, when its definition differs from the
    /// stored one, writes version + 1; an identical definition changes nothing.
    /// The audit entry (given the new version in its detail) is appended only
    /// when something changed. Returns the rule as stored and whether it changed.
    async fn put_rule(
        &self,
        rule: &NewRuleVersion,
        audit: NewAuditEntry,
    ) -> Result<(RuleRecord, bool)>;
}

/// Findings: accounts a rule judged likely compromised.
#[async_trait]
pub trait FindingStore {
    /// Records a batch under one rule in one transaction: a finding whose
    /// dedupe key is stored already is skipped; under an enforce rule the first
    /// findings up to `max_per_day` (counting those handed on in the trailing 24
    /// hours) are `pending`, the rest `held`. Two replicas recording under the
    /// same rule are serialised on the rule's row, so they never exceed the cap
    /// together. The audit entry, given the counts, is appended if anything was recorded.
    async fn record_findings(
        &self,
        rule: &FindingRule,
        findings: &[NewFinding],
        now: Timestamp,
        audit: NewAuditEntry,
    ) -> Result<RecordedFindings>;

    /// Findings matching `filter`, newest first.
    async fn findings(&self, filter: &FindingFilter) -> Result<Vec<Finding>>;

    /// Up to `limit` pending findings of `rule` (enforced, within the cap) that no
    /// campaign holds yet, oldest first: `(finding id, account, evidence)`.
    async fn unassigned_findings(
        &self,
        rule: &str,
        limit: i64,
    ) -> Result<Vec<(i64, AccountId, serde_json::Value)>>;

    /// Findings of `rule` recorded per UTC day over `since..until`: `(day number
    /// since the epoch, count)`, days without findings left out.
    async fn findings_per_day(
        &self,
        rule: &str,
        since: Timestamp,
        until: Timestamp,
    ) -> Result<Vec<(i64, i64)>>;
}

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

    /// Forced resets per UTC day over `since..until`: `(day, count)`, empty days left out.
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
        by: &str,
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

/// Builds the status-update notice for one confirmed subscriber (the store
/// reads the subscribers inside the update's transaction and calls it for each).
pub type SubscriberNotice<'a> = &'a (dyn Fn(&StatusSubscriber) -> NewNotice + Send + Sync);

/// Builds the confirmation notice of a subscription, given the subscriber's id
/// (an address asking again keeps its first id).
pub type ConfirmNotice<'a> = &'a (dyn Fn(&str) -> NewNotice + Send + Sync);

/// The public status page: components, incidents and their updates, subscribers.
/// Every operator write appends its audit entry in the same transaction, and an
/// update's notices to subscribers are written in it too.
#[async_trait]
pub trait StatusStore {
    /// Creates or replaces a component.
    async fn put_component(
        &self,
        c: &NewStatusComponent,
        audit: NewAuditEntry,
    ) -> Result<StatusComponent>;

    /// Removes a component (and it from incidents). Returns whether it existed.
    async fn remove_component(&self, id: &str, audit: NewAuditEntry) -> Result<bool>;

    /// Every component, in page order.
    async fn components(&self) -> Result<Vec<StatusComponent>>;

    /// Writes a draft (not public). `NotFound`-like `Conflict` if a component is unknown.
    async fn create_incident(&self, new: &NewIncident, audit: NewAuditEntry) -> Result<Incident>;

    /// Edits an incident's wording. `None` if there is no such incident;
    /// `Conflict` for a draft-only change to a public incident or an unknown component.
    async fn edit_incident(
        &self,
        id: i64,
        edit: &IncidentEdit,
        now: Timestamp,
        audit: NewAuditEntry,
    ) -> Result<Option<Incident>>;

    /// Posts an update (publishing a draft, a progress note or the resolution)
    /// and, in the same transaction, one notice per confirmed subscriber built
    /// by `notice_for`. `None` if there is no such incident; `Conflict` if the
    /// incident's state does not allow it (see `IncidentState::update_allowed`).
    async fn post_incident_update(
        &self,
        id: i64,
        update: &NewIncidentUpdate,
        notice_for: SubscriberNotice<'_>,
        audit: NewAuditEntry,
    ) -> Result<Option<PostedUpdate>>;

    /// Writes (or replaces) the postmortem of a published incident. `None` if
    /// there is no such incident; `Conflict` for a draft.
    async fn set_postmortem(
        &self,
        id: i64,
        text: &str,
        now: Timestamp,
        audit: NewAuditEntry,
    ) -> Result<Option<Incident>>;

    /// One incident, with its updates (drafts included: the caller decides who sees it).
    async fn incident(&self, id: i64) -> Result<Option<Incident>>;

    /// Incidents, newest first (by publication, drafts by creation), with updates.
    async fn incidents(&self, filter: &IncidentFilter) -> Result<Vec<Incident>>;

    /// A subscription request: a new address, or one pending or unsubscribed,
    /// becomes `pending` with the new confirmation digest, and `notice` (the
    /// confirmation mail) and `audit` are written with it. A confirmed address
    /// is left alone and nothing is written. Returns whether a mail was enqueued.
    async fn subscribe(
        &self,
        s: &NewSubscription,
        notice: ConfirmNotice<'_>,
        audit: NewAuditEntry,
    ) -> Result<bool>;

    /// Confirms the pending subscription whose unexpired confirmation digest
    /// this is (the token then stops working). `None` if none matches.
    async fn confirm_subscription(
        &self,
        confirm: &TokenHash,
        now: Timestamp,
        audit: NewAuditEntry,
    ) -> Result<Option<StatusSubscriber>>;

    /// The subscriber an unsubscribe digest belongs to.
    async fn subscriber_by_unsubscribe(
        &self,
        token: &TokenHash,
    ) -> Result<Option<StatusSubscriber>>;

    /// Unsubscribes (idempotent: an unsubscribed subscriber stays so, and no
    /// second audit entry is written). `None` if the digest matches nobody.
    async fn unsubscribe(
        &self,
        token: &TokenHash,
        now: Timestamp,
        audit: NewAuditEntry,
    ) -> Result<Option<StatusSubscriber>>;

    /// Subscribers per state.
    async fn subscriber_counts(&self) -> Result<SubscriberCounts>;
}

/// Everything Gatehouse stores, in one object.
#[async_trait]
pub trait Store:
    AccountStore
    + CredentialStore
    + SessionStore
    + ThrottleStore
    + OperatorStore
    + ConsoleStore
    + AuditStore
    + OutboxStore
    + RecoveryStore
    + EventStore
    + RuleStore
    + FindingStore
    + CampaignStore
    + StatusStore
    + Send
    + Sync
{
    /// `"sqlite"` or `"postgres"`.
    fn engine(&self) -> &'static str;

    /// Applies pending migrations.
    async fn migrate(&self) -> Result<()>;

    /// Cheap liveness check.
    async fn ping(&self) -> Result<()>;

    /// Closes the pool.
    async fn close(&self);
}

/// Pool settings common to both engines.
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    /// Most connections in the pool.
    pub max_connections: u32,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
        }
    }
}

/// Opens the store a URL names: `sqlite:…` or `postgres://…` (`postgresql://`).
/// Does not migrate.
pub async fn connect(url: &str, opts: &ConnectOptions) -> Result<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::connect(url, opts).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PgStore::connect(url, opts).await?))
    } else {
        Err(StoreError::Config(format!(
            "unsupported database URL {:?}: use sqlite:PATH or postgres://…",
            redact_url(url)
        )))
    }
}

/// A URL with any password replaced by `***`, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn redacts_passwords() {
        assert_eq!(
            super::redact_url("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(super::redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(super::redact_url("sqlite:x.db"), "sqlite:x.db");
    }
}
