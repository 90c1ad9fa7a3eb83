//! Operators and their API keys.
//!
//! The SQL both engines run (see `queries/mod.rs`).

use async_trait::async_trait;
use gatehouse_domain::audit::NewAuditEntry;
use gatehouse_domain::{Timestamp, TokenHash};
use sqlx::Row as _;

use super::{DbRow, EngineStore};
use crate::error::unique_as_conflict;
use crate::sql::parse;
use crate::{NewOperator, Operator, OperatorStore, Result};

impl EngineStore {
    pub(super) fn operator_from(row: &DbRow) -> Result<Operator> {
        Ok(Operator {
            id: parse("operator id", &row.try_get::<String, _>("id")?)?,
            email: row.try_get("email")?,
            created_at: Timestamp::from_millis(row.try_get("created_at")?),
        })
    }
}

#[async_trait]
impl OperatorStore for EngineStore {
    async fn create_operator(&self, new: &NewOperator, audit: NewAuditEntry) -> Result<Operator> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO operators (id, email, email_key, key_hash, created_at) VALUES ($1, $2, \
             $3, $4, $5)",
        )
        .bind(new.id.to_string())
        .bind(&new.email)
        .bind(&new.email_key)
        .bind(new.key_hash.as_bytes())
        .bind(new.created_at.as_millis())
        .execute(&mut *tx)
        .await
        .map_err(|e| unique_as_conflict(e, "an operator with this e-mail address exists"))?;
        Self::append_audit_in(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(Operator {
            id: new.id,
            email: new.email.clone(),
            created_at: new.created_at,
        })
    }

    async fn operator_by_key(&self, key: &TokenHash) -> Result<Option<Operator>> {
        let row = sqlx::query(
            "SELECT id, email, created_at, key_hash FROM operators WHERE key_hash = $1 AND \
             disabled_at IS NULL",
        )
        .bind(key.as_bytes())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let stored: Vec<u8> = row.try_get("key_hash")?;
        // The lookup was by digest; compare again in constant time as a matter of principle.
        match TokenHash::from_slice(&stored) {
            Some(h) if h.ct_eq(key) => Ok(Some(Self::operator_from(&row)?)),
            _ => Ok(None),
        }
    }

    async fn operator_by_email(&self, email_key: &str) -> Result<Option<Operator>> {
        sqlx::query(
            "SELECT id, email, created_at, key_hash FROM operators WHERE lower(email) = $1 AND \
             disabled_at IS NULL",
        )
        .bind(email_key)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(Self::operator_from)
        .transpose()
    }
}
