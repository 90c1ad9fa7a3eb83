//! Password credentials: verification data and password changes.
//!
//! The SQL both engines run (see `queries/mod.rs`).

use async_trait::async_trait;
use gatehouse_domain::AccountId;
use gatehouse_domain::audit::NewAuditEntry;
use gatehouse_domain::notice::password_changed_key;
use sqlx::Row as _;

use super::EngineStore;
use crate::{CredentialStore, PasswordChange, PasswordChanged, Result, StoreError};

#[async_trait]
impl CredentialStore for EngineStore {
    async fn rehash_credential(
        &self,
        account: AccountId,
        old_hash: &str,
        new_hash: &str,
        audit: NewAuditEntry,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let done =
            sqlx::query("UPDATE credentials SET hash = $1 WHERE account_id = $2 AND hash = $3")
                .bind(new_hash)
                .bind(account.to_string())
                .bind(old_hash)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                == 1;
        if done {
            Self::append_audit_in(&mut tx, &audit).await?;
        }
        tx.commit().await?;
        Ok(done)
    }

    async fn change_password(
        &self,
        c: &PasswordChange<'_>,
        audit: NewAuditEntry,
    ) -> Result<PasswordChanged> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "UPDATE credentials SET hash = $1, state = 'active', version = version + 1, \
             changed_at = $2 \
             WHERE account_id = $3 AND version = $4 RETURNING version",
        )
        .bind(c.new_hash)
        .bind(c.now.as_millis())
        .bind(c.account.to_string())
        .bind(c.expected_version)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Err(StoreError::Conflict("the password was changed meanwhile"));
        };
        let version: i64 = row.try_get("version")?;
        let ended = if c.end_other_sessions {
            Self::revoke_sessions_in(&mut tx, c.account, c.keep_session, c.now, c.end_reason)
                .await?
        } else {
            0
        };
        // The receivers covering the account: CAEP credential-change.
        Self::owe_credential_change_in(&mut tx, &c.account.to_string(), c.now, c.end_reason)
            .await?;
        if let Some(notice) = c.notice {
            let mut notice = notice.clone();
            notice.idempotency_key = password_changed_key(c.account, version);
            Self::insert_notice_in(&mut tx, &notice).await?;
        }
        let mut audit = audit;
        audit.detail = serde_json::json!({ "version": version, "sessions_ended": ended });
        Self::append_audit_in(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(PasswordChanged {
            version,
            sessions_ended: ended,
        })
    }
}
