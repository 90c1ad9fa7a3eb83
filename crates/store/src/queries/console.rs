//! The operator console: operators' passwords, console sessions and the lookups its pages need.
//!
//! The SQL both engines run (see `queries/mod.rs`).

use async_trait::async_trait;
use gatehouse_domain::audit::NewAuditEntry;
use gatehouse_domain::{OperatorId, SessionId, Timestamp, TokenHash};
use sqlx::Row as _;

use super::EngineStore;
use crate::sql::parse;
use crate::{
    Account, AuditEntry, ConsoleSession, ConsoleStore, NewConsoleSession, OperatorLogin, Result,
    StoreError,
};

#[async_trait]
impl ConsoleStore for EngineStore {
    async fn set_operator_password(
        &self,
        operator: OperatorId,
        password_hash: &str,
        now: Timestamp,
        audit: NewAuditEntry,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE operators SET password_hash = $1, password_set_at = $2 \
             WHERE id = $3 AND disabled_at IS NULL",
        )
        .bind(password_hash)
        .bind(now.as_millis())
        .bind(operator.to_string())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if done == 0 {
            return Err(StoreError::NotFound("operator"));
        }
        // A new password ends every console session: whoever knew the old
        // one is signed out with it.
        sqlx::query(
            "UPDATE console_sessions SET ended_at = $1 WHERE operator_id = $2 AND ended_at IS NULL",
        )
        .bind(now.as_millis())
        .bind(operator.to_string())
        .execute(&mut *tx)
        .await?;
        Self::append_audit_in(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn operator_login(&self, email_key: &str) -> Result<Option<OperatorLogin>> {
        let row = sqlx::query(
            "SELECT id, email, created_at, password_hash FROM operators \
             WHERE email_key = $1 AND disabled_at IS NULL",
        )
        .bind(email_key)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(OperatorLogin {
            operator: Self::operator_from(&row)?,
            password_hash: row.try_get("password_hash")?,
        }))
    }

    async fn create_console_session(
        &self,
        new: &NewConsoleSession,
        audit: NewAuditEntry,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO console_sessions (id, operator_id, token_hash, created_at, last_seen_at, \
             expires_at, ip, user_agent) VALUES ($1, $2, $3, $4, $4, $5, $6, $7)",
        )
        .bind(new.id.to_string())
        .bind(new.operator.to_string())
        .bind(new.token_hash.as_bytes())
        .bind(new.created_at.as_millis())
        .bind(new.expires_at.as_millis())
        .bind(&new.ip)
        .bind(&new.user_agent)
        .execute(&mut *tx)
        .await?;
        Self::append_audit_in(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn console_session(&self, token: &TokenHash) -> Result<Option<ConsoleSession>> {
        let row = sqlx::query(
            "SELECT s.id AS session_id, s.token_hash, s.created_at AS session_created_at, \
             s.last_seen_at, s.expires_at, s.ended_at, o.id, o.email, o.created_at \
             FROM console_sessions s JOIN operators o ON o.id = s.operator_id \
             WHERE s.token_hash = $1 AND o.disabled_at IS NULL",
        )
        .bind(token.as_bytes())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let hash: Vec<u8> = row.try_get("token_hash")?;
        let token_hash = TokenHash::from_slice(&hash)
            .ok_or_else(|| StoreError::corrupt("console session token hash"))?;
        Ok(Some(ConsoleSession {
            id: parse("session id", &row.try_get::<String, _>("session_id")?)?,
            operator: Self::operator_from(&row)?,
            token_hash,
            created_at: Timestamp::from_millis(row.try_get("session_created_at")?),
            last_seen_at: Timestamp::from_millis(row.try_get("last_seen_at")?),
            expires_at: Timestamp::from_millis(row.try_get("expires_at")?),
            ended_at: row
                .try_get::<Option<i64>, _>("ended_at")?
                .map(Timestamp::from_millis),
        }))
    }

    async fn touch_console_session(&self, id: SessionId, now: Timestamp) -> Result<()> {
        sqlx::query(
            "UPDATE console_sessions SET last_seen_at = $1 WHERE id = $2 AND last_seen_at < $1",
        )
        .bind(now.as_millis())
        .bind(id.to_string())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn end_console_session(
        &self,
        id: SessionId,
        now: Timestamp,
        audit: NewAuditEntry,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let ended = sqlx::query(
            "UPDATE console_sessions SET ended_at = $1 WHERE id = $2 AND ended_at IS NULL",
        )
        .bind(now.as_millis())
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?
        .rows_affected()
            > 0;
        if ended {
            Self::append_audit_in(&mut tx, &audit).await?;
        }
        tx.commit().await?;
        Ok(ended)
    }

    async fn operator_emails(&self) -> Result<Vec<(OperatorId, String)>> {
        sqlx::query("SELECT id, email FROM operators ORDER BY email")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|row| {
                Ok((
                    parse("operator id", &row.try_get::<String, _>("id")?)?,
                    row.try_get("email")?,
                ))
            })
            .collect()
    }

    async fn audit_latest(&self, before: Option<i64>, limit: i64) -> Result<Vec<AuditEntry>> {
        sqlx::query(
            "SELECT seq, at, actor_kind, actor_id, action, target, ip, detail, hash FROM audit_log \
             WHERE seq < $1 ORDER BY seq DESC LIMIT $2",
        )
        .bind(before.unwrap_or(i64::MAX))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(Self::audit_entry_from)
        .collect()
    }

    async fn search_accounts(&self, prefix: &str, limit: i64) -> Result<Vec<Account>> {
        // LIKE with the pattern's own wildcards escaped, so "a_b" finds only "a_b…".
        let mut pattern = String::with_capacity(prefix.len() + 1);
        for c in prefix.chars() {
            if matches!(c, '%' | '_' | '\\') {
                pattern.push('\\');
            }
            pattern.push(c);
        }
        pattern.push('%');
        sqlx::query(
            "SELECT id, email, created_at FROM accounts \
             WHERE email_key LIKE $1 ESCAPE '\\' OR id = $2 ORDER BY email_key LIMIT $3",
        )
        .bind(pattern)
        .bind(prefix)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(Self::account_from)
        .collect()
    }
}
