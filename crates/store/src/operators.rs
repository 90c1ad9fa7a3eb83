//! Operators and their API keys.
//!
//! The trait and the rows it reads and writes; both engines implement it in
//! `queries/operators.rs`.

use async_trait::async_trait;
use gatehouse_domain::audit::{Actor, NewAuditEntry};
use gatehouse_domain::{OperatorId, Timestamp, TokenHash};
use serde::Serialize;

use crate::Result;

/// Operators and their API keys.
#[async_trait]
pub trait OperatorStore {
    /// Creates an operator. `Conflict` if the e-mail is taken.
    async fn create_operator(&self, new: &NewOperator, audit: NewAuditEntry) -> Result<Operator>;

    /// The enabled operator holding this API key.
    async fn operator_by_key(&self, key: &TokenHash) -> Result<Option<Operator>>;

    /// The enabled operator with this e-mail key (the CLI names operators so).
    async fn operator_by_email(&self, email_key: &str) -> Result<Option<Operator>>;

    /// The enabled operator holding this key, if the key is not revoked, with
    /// the key's expiry and last use (the caller compares them with its clock).
    async fn operator_key_holder(&self, key: &TokenHash) -> Result<Option<KeyHolder>>;

    /// Every operator, disabled ones too, with their key's life cycle; by e-mail.
    async fn operators_overview(&self) -> Result<Vec<OperatorOverview>>;

    /// Replaces an enabled operator's key (the old one stops working at once),
    /// with its expiry, clearing any revocation; with the audit entry.
    /// `NotFound` if no enabled operator has this id.
    async fn rotate_operator_key(
        &self,
        operator: OperatorId,
        key_hash: &TokenHash,
        expires_at: Option<Timestamp>,
        now: Timestamp,
        audit: NewAuditEntry,
    ) -> Result<()>;

    /// Revokes an operator's key, with the audit entry. `false` (and no entry)
    /// if it was revoked already; `NotFound` if there is no such operator.
    async fn revoke_operator_key(
        &self,
        operator: OperatorId,
        now: Timestamp,
        audit: NewAuditEntry,
    ) -> Result<bool>;

    /// Disables (`Some(now)`) or enables (`None`) an operator, with the audit
    /// entry; disabling ends their console sessions in the same transaction
    /// and is refused (`Conflict`) for the last enabled operator. `false` (and
    /// no entry) if it was so already; `NotFound` if there is no such operator.
    async fn set_operator_disabled(
        &self,
        operator: OperatorId,
        disabled_at: Option<Timestamp>,
        audit: NewAuditEntry,
    ) -> Result<bool>;

    /// Records that the operator's key was used at `now`, unless a use at or
    /// after `not_before` is recorded already (so a busy key costs at most one
    /// write per interval).
    async fn touch_operator_key(
        &self,
        operator: OperatorId,
        now: Timestamp,
        not_before: Timestamp,
    ) -> Result<()>;
}

/// The operator holding a presented key, and that key's facts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyHolder {
    /// The operator (enabled; the key not revoked).
    pub operator: Operator,
    /// When the key stops working by itself, if ever.
    pub expires_at: Option<Timestamp>,
    /// When the key was last used (to the minute), if ever.
    pub last_used_at: Option<Timestamp>,
}

/// An operator and their key's life cycle, for listings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperatorOverview {
    /// The operator.
    pub operator: Operator,
    /// When they were disabled; `None`: enabled.
    pub disabled_at: Option<Timestamp>,
    /// When the current key was made (created or rotated).
    pub key_created_at: Option<Timestamp>,
    /// When the current key stops working by itself, if ever.
    pub key_expires_at: Option<Timestamp>,
    /// When the current key was revoked; `None`: not revoked.
    pub key_revoked_at: Option<Timestamp>,
    /// When the current key was last used (to the minute), if ever.
    pub key_last_used_at: Option<Timestamp>,
    /// Whether they have a console password.
    pub console_password: bool,
}

/// An operator to create.
#[derive(Clone, Debug)]
#[allow(missing_docs)] // fields named for their columns; documented where the name is not enough
pub struct NewOperator {
    /// New id.
    pub id: OperatorId,
    pub email: String,
    /// Uniqueness key.
    pub email_key: String,
    /// Digest of the API key.
    pub key_hash: TokenHash,
    /// When the key stops working by itself; `None`: never.
    pub key_expires_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

/// A stored operator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[allow(missing_docs)] // fields named for their columns; documented where the name is not enough
pub struct Operator {
    pub id: OperatorId,
    pub email: String,
    pub created_at: Timestamp,
}

impl Operator {
    /// This operator as an audit actor.
    pub fn actor(&self) -> Actor {
        Actor::Operator(self.id.to_string())
    }
}
