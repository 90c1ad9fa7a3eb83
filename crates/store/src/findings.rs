//! Findings: accounts a rule judged likely compromised.
//!
//! The trait and the rows it reads and writes; both engines implement it in
//! `queries/findings.rs`.

use async_trait::async_trait;
use gatehouse_domain::audit::NewAuditEntry;
use gatehouse_domain::finding::{FindingStatus, RuleAction, RuleMode};
use gatehouse_domain::{AccountId, Timestamp};

use crate::Result;

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

    /// Findings recorded at or after `since`, per rule and status, with the
    /// newest's time: what each rule has been finding lately.
    async fn finding_counts(&self, since: Timestamp) -> Result<Vec<FindingCount>>;
}

/// Findings of one rule in one status (see [`FindingStore::finding_counts`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FindingCount {
    /// The rule.
    pub rule_id: String,
    /// Their status.
    pub status: FindingStatus,
    /// How many.
    pub count: i64,
    /// When the newest was recorded.
    pub newest: Timestamp,
}

/// The rule a batch of findings is recorded under.
#[derive(Clone, Debug)]
#[allow(missing_docs)] // fields named for their columns; documented where the name is not enough
pub struct FindingRule {
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
#[allow(missing_docs)] // fields named for their columns; documented where the name is not enough
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
    pub score: f64,
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
