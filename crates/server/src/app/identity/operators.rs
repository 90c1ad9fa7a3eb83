//! Operators: created from the CLI, authenticated by API key.

use std::time::Duration;

use gatehouse_domain::audit::{Actor, AuditAction, NewAuditEntry};
use gatehouse_domain::{ApiKey, Email, OperatorId};
use gatehouse_store::{NewOperator, Operator};
use moka::sync::Cache;

use crate::app::{App, AppError};

/// Operator keys this replica checked recently, keyed by the key's SHA-256, so a
/// service calling an operator route at a high rate (`/api/v1/breach/check`) does
/// not cost a database read per request. Same lifetime as the session cache
/// (`session_cache_seconds`): a key disabled on another replica stops working here
/// within that time. Only valid keys are kept; a wrong key always goes to the store.
pub(crate) struct OperatorCache {
    cache: Option<Cache<[u8; 32], Operator>>,
}

impl OperatorCache {
    pub(crate) fn new(ttl: Duration) -> Self {
        let cache = (!ttl.is_zero()).then(|| {
            Cache::builder()
                .max_capacity(1_000)
                .time_to_live(ttl)
                .build()
        });
        Self { cache }
    }
}

impl App {
    /// Creates an operator and returns the API key, which is shown once and stored only hashed.
    pub async fn create_operator(&self, email: &str) -> Result<(Operator, ApiKey), AppError> {
        let email = Email::parse(email).map_err(AppError::email)?;
        let key = ApiKey::generate(self.entropy.as_ref());
        let now = self.clock.now();
        let id = OperatorId::generate(self.entropy.as_ref());
        let new = NewOperator {
            id,
            email: email.as_str().to_owned(),
            email_key: email.key(),
            key_hash: key.hash(),
            created_at: now,
        };
        let audit = NewAuditEntry::new(now, Actor::System, AuditAction::OperatorCreated)
            .target(id)
            .detail(serde_json::json!({ "email": email.as_str(), "via": "cli" }));
        let op = self.store.create_operator(&new, audit).await?;
        Ok((op, key))
    }

    /// The operator holding `presented`, if it is a valid, enabled key.
    pub async fn authenticate_operator(&self, presented: &str) -> Result<Operator, AppError> {
        let key = ApiKey::parse(presented).map_err(|_| AppError::Unauthenticated)?;
        let hash = key.hash();
        // The cache key is the SHA-256 of a 256-bit random key: looking it up in a
        // hash map reveals nothing useful about the key through timing.
        if let Some(hit) = self.operators.cache.as_ref().and_then(|c| c.get(&hash.0)) {
            return Ok(hit);
        }
        let op = self
            .store
            .operator_by_key(&hash)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        if let Some(cache) = &self.operators.cache {
            cache.insert(hash.0, op.clone());
        }
        Ok(op)
    }
}
