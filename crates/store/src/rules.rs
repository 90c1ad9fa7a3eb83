//! Rules (declarative compromise checks) and their versions.
//!
//! The trait and the rows it reads and writes; both engines implement it in
//! `queries/rules.rs`.

use async_trait::async_trait;
use gatehouse_domain::Timestamp;
use gatehouse_domain::audit::NewAuditEntry;
use gatehouse_domain::finding::RuleMode;

use crate::Result;

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
#[allow(missing_docs)] // fields named for their columns; documented where the name is not enough
pub struct NewRuleVersion {
    pub id: String,
    /// Detector name.
    pub detector: String,
    pub mode: RuleMode,
    /// The whole rule (compared as a value with the stored one: equal → no new version).
    pub definition: serde_json::Value,
    pub now: Timestamp,
    /// Who (an actor's text form).
    pub by: String,
}
