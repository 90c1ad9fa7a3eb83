//! Operators: created from the CLI, authenticated by API key.

use gatehouse_domain::audit::{Actor, AuditAction, NewAuditEntry};
use gatehouse_domain::{ApiKey, Email, OperatorId};
use gatehouse_store::{NewOperator, Operator};

use super::{App, AppError};

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
        self.store
            .operator_by_key(&key.hash())
            .await?
            .ok_or(AppError::Unauthenticated)
    }
}
