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
