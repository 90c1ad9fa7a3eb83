//! Password recovery requests.
//!
//! The SQL both engines run (see `queries/mod.rs`).

use async_trait::async_trait;
use gatehouse_domain::audit::NewAuditEntry;
use gatehouse_domain::notice::password_changed_key;
use gatehouse_domain::{RecoveryId, Timestamp};
use sqlx::Row as _;

use super::{Conn, Db, EngineStore};
use crate::sql::parse;
use crate::{
    NewNotice, NewRecovery, PasswordChanged, RecoveryAttempt, RecoveryCompletion, RecoveryLookup,
    RecoveryStore, Result, StoreError,
};

impl EngineStore {
    /// Stores a recovery request, superseding the account's older ones.
    pub(super) async fn insert_recovery_in(conn: &mut Conn, new: &NewRecovery) -> Result<()> {
        Self::insert_recoveries_in(conn, &[new]).await
    }

    /// Stores recovery requests (one per account), superseding the accounts'
    /// older ones: one update and multi-row inserts, whatever the count.
    pub(super) async fn insert_recoveries_in(conn: &mut Conn, new: &[&NewRecovery]) -> Result<()> {
        let Some(first) = new.first() else {
            return Ok(());
        };
        // 7 placeholders a row: 500 rows stay far below both engines' limits.
        for chunk in new.chunks(500) {
            // A new request invalidates the older ones.
            let mut q = sqlx::QueryBuilder::<Db>::new(
                "UPDATE recovery_requests SET state = 'superseded', ended_at = ",
            );
            q.push_bind(first.created_at.as_millis());
            q.push(" WHERE state = 'active' AND account_id IN (");
            let mut ids = q.separated(", ");
            for r in chunk {
                ids.push_bind(r.account.to_string());
            }
            q.push(")");
            q.build().execute(&mut *conn).await?;
            let mut q = sqlx::QueryBuilder::<Db>::new(
                "INSERT INTO recovery_requests (id, account_id, code_hash, token_hash, state, \
                 attempts, created_at, expires_at, ip) ",
            );
            q.push_values(chunk, |mut b, r| {
                b.push_bind(r.id.to_string())
                    .push_bind(r.account.to_string())
                    .push_bind(r.code_hash.to_vec())
                    .push_bind(r.token_hash.as_ref().map(|t| t.as_bytes().to_vec()))
                    .push("'active'")
                    .push("0")
                    .push_bind(r.created_at.as_millis())
                    .push_bind(r.expires_at.as_millis())
                    .push_bind(r.ip.clone());
            });
            q.build().execute(&mut *conn).await?;
        }
        Ok(())
    }
}

#[async_trait]
impl RecoveryStore for EngineStore {
    async fn create_recovery(
        &self,
        new: &NewRecovery,
        notice: &NewNotice,
        audit: NewAuditEntry,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        Self::insert_recovery_in(&mut tx, new).await?;
        Self::insert_notice_in(&mut tx, notice).await?;
        Self::append_audit_in(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn recovery_attempt(
        &self,
        lookup: &RecoveryLookup,
        now: Timestamp,
        max_attempts: i64,
    ) -> Result<Option<RecoveryAttempt>> {
        let mut tx = self.begin_write().await?;
        let base = "UPDATE recovery_requests SET attempts = attempts + 1 \
             WHERE state = 'active' AND expires_at > $1 AND attempts < $2 AND ";
        let row = match lookup {
            RecoveryLookup::Account(account) => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "{base}account_id = $3 RETURNING id, account_id, code_hash, attempts"
                )))
                .bind(now.as_millis())
                .bind(max_attempts)
                .bind(account.to_string())
                .fetch_optional(&mut *tx)
                .await?
            }
            RecoveryLookup::Token(hash) => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "{base}token_hash = $3 RETURNING id, account_id, code_hash, attempts"
                )))
                .bind(now.as_millis())
                .bind(max_attempts)
                .bind(hash.as_bytes())
                .fetch_optional(&mut *tx)
                .await?
            }
        };
        let Some(row) = row else {
            tx.commit().await?;
            return Ok(None);
        };
        let account: String = row.try_get("account_id")?;
        let email: String = sqlx::query("SELECT email FROM accounts WHERE id = $1")
            .bind(&account)
            .fetch_one(&mut *tx)
            .await?
            .try_get("email")?;
        tx.commit().await?;
        Ok(Some(RecoveryAttempt {
            id: parse("recovery id", &row.try_get::<String, _>("id")?)?,
            account: parse("account id", &account)?,
            email,
            code_hash: row.try_get("code_hash")?,
            attempts: row.try_get("attempts")?,
        }))
    }

    async fn reject_recovery_attempt(
        &self,
        request: RecoveryId,
        exhausted: bool,
        now: Timestamp,
        audit: NewAuditEntry,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        if exhausted {
            sqlx::query(
                "UPDATE recovery_requests SET state = 'exhausted', ended_at = $1 WHERE id = $2 \
                 AND state = 'active'",
            )
            .bind(now.as_millis())
            .bind(request.to_string())
            .execute(&mut *tx)
            .await?;
        }
        Self::append_audit_in(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn complete_recovery(
        &self,
        c: &RecoveryCompletion<'_>,
        audit: NewAuditEntry,
    ) -> Result<PasswordChanged> {
        let mut tx = self.begin_write().await?;
        // Of many concurrent redemptions, exactly one gets this row.
        let used = sqlx::query(
            "UPDATE recovery_requests SET state = 'used', ended_at = $1 \
             WHERE id = $2 AND account_id = $3 AND state = 'active' AND expires_at > $1",
        )
        .bind(c.now.as_millis())
        .bind(c.request.to_string())
        .bind(c.account.to_string())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if used != 1 {
            return Err(StoreError::Conflict(
                "this recovery code was used already or has expired",
            ));
        }
        let version: i64 = sqlx::query(
            "UPDATE credentials SET hash = $1, state = 'active', version = version + 1, \
             changed_at = $2 \
             WHERE account_id = $3 RETURNING version",
        )
        .bind(c.new_hash)
        .bind(c.now.as_millis())
        .bind(c.account.to_string())
        .fetch_one(&mut *tx)
        .await?
        .try_get("version")?;
        let ended =
            Self::revoke_sessions_in(&mut tx, c.account, None, c.now, "password_recovered").await?;
        Self::owe_credential_change_in(
            &mut tx,
            &c.account.to_string(),
            c.now,
            "password_recovered",
        )
        .await?;
        for key in c.clear_throttle_keys {
            sqlx::query("DELETE FROM login_throttle WHERE key = $1")
                .bind(*key)
                .execute(&mut *tx)
                .await?;
        }
        let mut notice = c.notice.clone();
        notice.idempotency_key = password_changed_key(c.account, version);
        Self::insert_notice_in(&mut tx, &notice).await?;
        let mut audit = audit;
        audit.detail = serde_json::json!({
            "request": c.request.to_string(),
            "version": version,
            "sessions_ended": ended,
        });
        Self::append_audit_in(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(PasswordChanged {
            version,
            sessions_ended: ended,
        })
    }
}
