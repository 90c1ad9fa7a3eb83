//! Login sessions.
//!
//! The SQL both engines run (see `queries/mod.rs`).

use async_trait::async_trait;
use gatehouse_domain::audit::NewAuditEntry;
use gatehouse_domain::{AccountId, SessionId, Timestamp, TokenHash};
use sqlx::Row as _;

use super::app_deliveries::Ended;
use super::{Conn, DbRow, EngineStore};
use crate::sql::parse;
use crate::{NewLoginEvent, NewSession, Result, SessionRecord, SessionStore, StoreError};

const SESSION_COLUMNS: &str = "s.id, s.account_id, a.email, s.token_hash, s.state, s.created_at, \
    s.last_seen_at, s.expires_at, s.ip, s.user_agent";

impl EngineStore {
    pub(super) async fn revoke_sessions_in(
        conn: &mut Conn,
        account: AccountId,
        keep: Option<SessionId>,
        now: Timestamp,
        reason: &str,
    ) -> Result<u64> {
        let ended = sqlx::query(
            "UPDATE sessions SET state = 'revoked', ended_at = $1, end_reason = $2 \
             WHERE account_id = $3 AND state <> 'revoked' AND id <> $4",
        )
        .bind(now.as_millis())
        .bind(reason)
        .bind(account.to_string())
        .bind(keep.map(|s| s.to_string()).unwrap_or_default())
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if ended > 0 {
            // The apps signed in through these sessions are owed a logout token.
            Self::owe_logouts_in(conn, Ended::AccountRevoked(account, keep), now, reason).await?;
            if keep.is_none() {
                // Every session of the account ended: RISC sessions-revoked.
                Self::owe_account_sets_in(
                    conn,
                    &[account.to_string()],
                    crate::ssf::set_event::SESSIONS_REVOKED,
                    "ssr",
                    now,
                    reason,
                )
                .await?;
            }
        }
        Ok(ended)
    }

    fn session_from(row: &DbRow) -> Result<SessionRecord> {
        let hash: Vec<u8> = row.try_get("token_hash")?;
        Ok(SessionRecord {
            id: parse("session id", &row.try_get::<String, _>("id")?)?,
            account: parse("account id", &row.try_get::<String, _>("account_id")?)?,
            account_email: row.try_get("email")?,
            token_hash: TokenHash::from_slice(&hash)
                .ok_or_else(|| StoreError::corrupt("session token hash is not 32 bytes"))?,
            state: parse("session state", &row.try_get::<String, _>("state")?)?,
            created_at: Timestamp::from_millis(row.try_get("created_at")?),
            last_seen_at: Timestamp::from_millis(row.try_get("last_seen_at")?),
            expires_at: Timestamp::from_millis(row.try_get("expires_at")?),
            ip: row.try_get("ip")?,
            user_agent: row.try_get("user_agent")?,
        })
    }
}

#[async_trait]
impl SessionStore for EngineStore {
    async fn create_session(
        &self,
        new: &NewSession,
        clear_throttle_key: &str,
        event: Option<&NewLoginEvent>,
        audit: NewAuditEntry,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        if let Some(event) = event {
            Self::insert_events_in(&mut tx, std::slice::from_ref(event)).await?;
        }
        sqlx::query(
            "INSERT INTO sessions (id, account_id, token_hash, state, created_at, last_seen_at, \
             expires_at, ip, user_agent) \
             VALUES ($1, $2, $3, 'active', $4, $4, $5, $6, $7)",
        )
        .bind(new.id.to_string())
        .bind(new.account.to_string())
        .bind(new.token_hash.as_bytes())
        .bind(new.created_at.as_millis())
        .bind(new.expires_at.as_millis())
        .bind(new.ip.as_deref())
        .bind(new.user_agent.as_deref())
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM login_throttle WHERE key = $1")
            .bind(clear_throttle_key)
            .execute(&mut *tx)
            .await?;
        Self::append_audit_in(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn session_by_id(&self, id: SessionId) -> Result<Option<SessionRecord>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {SESSION_COLUMNS} FROM sessions s JOIN accounts a ON a.id = s.account_id \
             WHERE s.id = $1"
        )))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(Self::session_from).transpose()
    }

    async fn session_by_token(&self, token: &TokenHash) -> Result<Option<SessionRecord>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {SESSION_COLUMNS} FROM sessions s JOIN accounts a ON a.id = s.account_id \
             WHERE s.token_hash = $1"
        )))
        .bind(token.as_bytes())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(Self::session_from).transpose()
    }

    async fn active_sessions(
        &self,
        account: AccountId,
        now: Timestamp,
    ) -> Result<Vec<SessionRecord>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {SESSION_COLUMNS} FROM sessions s JOIN accounts a ON a.id = s.account_id \
             WHERE s.account_id = $1 AND s.state = 'active' AND s.expires_at > $2 \
             ORDER BY s.last_seen_at DESC, s.created_at DESC"
        )))
        .bind(account.to_string())
        .bind(now.as_millis())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(Self::session_from)
        .collect()
    }

    async fn end_session(
        &self,
        account: AccountId,
        session: SessionId,
        now: Timestamp,
        reason: &str,
        audit: NewAuditEntry,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let ended = sqlx::query(
            "UPDATE sessions SET state = 'revoked', ended_at = $1, end_reason = $2 \
             WHERE id = $3 AND account_id = $4 AND state <> 'revoked'",
        )
        .bind(now.as_millis())
        .bind(reason)
        .bind(session.to_string())
        .bind(account.to_string())
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if ended {
            Self::owe_logouts_in(&mut tx, Ended::Session(session), now, reason).await?;
            Self::append_audit_in(&mut tx, &audit).await?;
        }
        tx.commit().await?;
        Ok(ended)
    }

    async fn end_other_sessions(
        &self,
        account: AccountId,
        keep: Option<SessionId>,
        now: Timestamp,
        reason: &str,
        audit: NewAuditEntry,
    ) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let ended = Self::revoke_sessions_in(&mut tx, account, keep, now, reason).await?;
        let mut audit = audit;
        audit.detail = serde_json::json!({ "sessions_ended": ended });
        Self::append_audit_in(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(ended)
    }

    async fn purge_sessions(&self, before: Timestamp) -> Result<u64> {
        Ok(sqlx::query(
            "DELETE FROM sessions WHERE expires_at < $1 OR (state = 'revoked' AND ended_at < $1)",
        )
        .bind(before.as_millis())
        .execute(&self.pool)
        .await?
        .rows_affected())
    }

    async fn touch_session(&self, session: SessionId, now: Timestamp) -> Result<()> {
        sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id = $2 AND last_seen_at < $1")
            .bind(now.as_millis())
            .bind(session.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
