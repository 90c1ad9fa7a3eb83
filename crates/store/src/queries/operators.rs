//! Operators and their API keys.
//!
//! The SQL both engines run (see `queries/mod.rs`).

use async_trait::async_trait;
use gatehouse_domain::audit::NewAuditEntry;
use gatehouse_domain::{OperatorId, Timestamp, TokenHash};
use sqlx::Row as _;

use super::{DbRow, EngineStore};
use crate::error::unique_as_conflict;
use crate::sql::parse;
use crate::{
    KeyHolder, NewOperator, Operator, OperatorOverview, OperatorStore, Result, StoreError,
};

impl EngineStore {
    pub(super) fn operator_from(row: &DbRow) -> Result<Operator> {
        Ok(Operator {
            id: parse("operator id", &row.try_get::<String, _>("id")?)?,
            email: row.try_get("email")?,
            created_at: Timestamp::from_millis(row.try_get("created_at")?),
        })
    }
}

/// An optional time column.
fn at(row: &DbRow, column: &str) -> Result<Option<Timestamp>> {
    Ok(row
        .try_get::<Option<i64>, _>(column)?
        .map(Timestamp::from_millis))
}

#[async_trait]
impl OperatorStore for EngineStore {
    async fn create_operator(&self, new: &NewOperator, audit: NewAuditEntry) -> Result<Operator> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO operators (id, email, email_key, key_hash, created_at, key_created_at, \
             key_expires_at) VALUES ($1, $2, $3, $4, $5, $5, $6)",
        )
        .bind(new.id.to_string())
        .bind(&new.email)
        .bind(&new.email_key)
        .bind(new.key_hash.as_bytes())
        .bind(new.created_at.as_millis())
        .bind(new.key_expires_at.map(Timestamp::as_millis))
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
             disabled_at IS NULL AND key_revoked_at IS NULL",
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

    async fn operator_key_holder(&self, key: &TokenHash) -> Result<Option<KeyHolder>> {
        let row = sqlx::query(
            "SELECT id, email, created_at, key_hash, key_expires_at, key_last_used_at FROM \
             operators WHERE key_hash = $1 AND disabled_at IS NULL AND key_revoked_at IS NULL",
        )
        .bind(key.as_bytes())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let stored: Vec<u8> = row.try_get("key_hash")?;
        match TokenHash::from_slice(&stored) {
            Some(h) if h.ct_eq(key) => Ok(Some(KeyHolder {
                operator: Self::operator_from(&row)?,
                expires_at: at(&row, "key_expires_at")?,
                last_used_at: at(&row, "key_last_used_at")?,
            })),
            _ => Ok(None),
        }
    }

    async fn operators_overview(&self) -> Result<Vec<OperatorOverview>> {
        sqlx::query(
            "SELECT id, email, created_at, disabled_at, key_created_at, key_expires_at, \
             key_revoked_at, key_last_used_at, password_hash IS NOT NULL AS has_password FROM \
             operators ORDER BY email_key",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| {
            Ok(OperatorOverview {
                operator: Self::operator_from(row)?,
                disabled_at: at(row, "disabled_at")?,
                key_created_at: at(row, "key_created_at")?,
                key_expires_at: at(row, "key_expires_at")?,
                key_revoked_at: at(row, "key_revoked_at")?,
                key_last_used_at: at(row, "key_last_used_at")?,
                console_password: row.try_get("has_password")?,
            })
        })
        .collect()
    }

    async fn rotate_operator_key(
        &self,
        operator: OperatorId,
        key_hash: &TokenHash,
        expires_at: Option<Timestamp>,
        now: Timestamp,
        audit: NewAuditEntry,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE operators SET key_hash = $2, key_created_at = $3, key_expires_at = $4, \
             key_revoked_at = NULL, key_last_used_at = NULL WHERE id = $1 AND disabled_at IS \
             NULL",
        )
        .bind(operator.to_string())
        .bind(key_hash.as_bytes())
        .bind(now.as_millis())
        .bind(expires_at.map(Timestamp::as_millis))
        .execute(&mut *tx)
        .await
        .map_err(|e| unique_as_conflict(e, "that key is in use"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("enabled operator"));
        }
        Self::append_audit_in(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn revoke_operator_key(
        &self,
        operator: OperatorId,
        now: Timestamp,
        audit: NewAuditEntry,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE operators SET key_revoked_at = $2 WHERE id = $1 AND key_revoked_at IS NULL",
        )
        .bind(operator.to_string())
        .bind(now.as_millis())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            let exists = sqlx::query("SELECT 1 AS one FROM operators WHERE id = $1")
                .bind(operator.to_string())
                .fetch_optional(&mut *tx)
                .await?;
            return match exists {
                Some(_) => Ok(false),
                None => Err(StoreError::NotFound("operator")),
            };
        }
        Self::append_audit_in(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn set_operator_disabled(
        &self,
        operator: OperatorId,
        disabled_at: Option<Timestamp>,
        audit: NewAuditEntry,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        // The audit entry first: appending takes the chain's head row, which
        // serialises this with every other audited write, so two operators
        // disabling each other at once cannot both pass the check below.
        Self::append_audit_in(&mut tx, &audit).await?;
        let id = operator.to_string();
        let current = sqlx::query("SELECT disabled_at FROM operators WHERE id = $1")
            .bind(&id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound("operator"))?;
        let was_disabled = current.try_get::<Option<i64>, _>("disabled_at")?.is_some();
        if was_disabled == disabled_at.is_some() {
            // Nothing to change: roll back, so no entry is written either.
            return Ok(false);
        }
        if let Some(now) = disabled_at {
            let others: i64 = sqlx::query(
                "SELECT COUNT(*) AS n FROM operators WHERE disabled_at IS NULL AND id <> $1",
            )
            .bind(&id)
            .fetch_one(&mut *tx)
            .await?
            .try_get("n")?;
            if others == 0 {
                return Err(StoreError::Conflict(
                    "this is the last enabled operator: enable or create another one first, so \
                     someone can still use the console and the admin API",
                ));
            }
            sqlx::query("UPDATE operators SET disabled_at = $2 WHERE id = $1")
                .bind(&id)
                .bind(now.as_millis())
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "UPDATE console_sessions SET ended_at = $2 WHERE operator_id = $1 AND ended_at IS \
                 NULL",
            )
            .bind(&id)
            .bind(now.as_millis())
            .execute(&mut *tx)
            .await?;
        } else {
            sqlx::query("UPDATE operators SET disabled_at = NULL WHERE id = $1")
                .bind(&id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn touch_operator_key(
        &self,
        operator: OperatorId,
        now: Timestamp,
        not_before: Timestamp,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE operators SET key_last_used_at = $2 WHERE id = $1 AND (key_last_used_at IS \
             NULL OR key_last_used_at < $3)",
        )
        .bind(operator.to_string())
        .bind(now.as_millis())
        .bind(not_before.as_millis())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
