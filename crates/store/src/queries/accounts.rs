//! Accounts: sign-up, import and lookup.
//!
//! The SQL both engines run (see `queries/mod.rs`).

use async_trait::async_trait;
use gatehouse_domain::audit::NewAuditEntry;
use gatehouse_domain::{AccountId, Timestamp};
use sqlx::Row as _;

use super::{Db, DbRow, EngineStore};
use crate::error::unique_as_conflict;
use crate::sql::parse;
use crate::{Account, AccountKey, AccountStore, LoginRecord, NewAccount, Result, StoreError};

impl EngineStore {
    pub(super) fn account_from(row: &DbRow) -> Result<Account> {
        Ok(Account {
            id: parse("account id", &row.try_get::<String, _>("id")?)?,
            email: row.try_get("email")?,
            created_at: Timestamp::from_millis(row.try_get("created_at")?),
        })
    }
}

#[async_trait]
impl AccountStore for EngineStore {
    async fn create_account(&self, new: &NewAccount, audit: NewAuditEntry) -> Result<Account> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO accounts (id, email, email_key, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(new.id.to_string())
        .bind(&new.email)
        .bind(&new.email_key)
        .bind(new.created_at.as_millis())
        .execute(&mut *tx)
        .await
        .map_err(|e| unique_as_conflict(e, "an account with this e-mail address exists"))?;
        sqlx::query(
            "INSERT INTO credentials (account_id, hash, state, version, changed_at) \
             VALUES ($1, $2, 'active', 1, $3)",
        )
        .bind(new.id.to_string())
        .bind(&new.password_hash)
        .bind(new.created_at.as_millis())
        .execute(&mut *tx)
        .await?;
        Self::append_audit_in(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(Account {
            id: new.id,
            email: new.email.clone(),
            created_at: new.created_at,
        })
    }

    async fn login_record(&self, email_key: &str) -> Result<Option<LoginRecord>> {
        let row = sqlx::query(
            "SELECT a.id, a.email, a.created_at, c.hash, c.state, c.version, c.changed_at \
             FROM accounts a JOIN credentials c ON c.account_id = a.id WHERE a.email_key = $1",
        )
        .bind(email_key)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(LoginRecord {
                account: Self::account_from(&row)?,
                hash: row.try_get("hash")?,
                state: parse("credential state", &row.try_get::<String, _>("state")?)?,
                version: row.try_get("version")?,
                changed_at: Timestamp::from_millis(row.try_get("changed_at")?),
            })
        })
        .transpose()
    }

    async fn account(&self, id: AccountId) -> Result<Option<Account>> {
        let row = sqlx::query("SELECT id, email, created_at FROM accounts WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(Self::account_from).transpose()
    }

    async fn count_accounts(&self) -> Result<i64> {
        Ok(sqlx::query("SELECT COUNT(*) AS n FROM accounts")
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?)
    }

    async fn active_accounts(&self, since: Timestamp) -> Result<Option<i64>> {
        // Any login history at all? Two probes that stop at the first row.
        let history = sqlx::query(
            "SELECT 1 AS one FROM login_events WHERE outcome = 'success' AND account_id IS NOT \
             NULL LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?
        .is_some()
            || sqlx::query("SELECT 1 AS one FROM sessions LIMIT 1")
                .fetch_optional(&self.pool)
                .await?
                .is_some();
        if !history {
            return Ok(None);
        }
        // Per account, two index probes (login_events_success_by_account,
        // sessions_by_account_seen): the cost follows the accounts, not
        // the month's traffic.
        Ok(Some(
            sqlx::query(
                "SELECT COUNT(*) AS n FROM accounts a WHERE \
                 EXISTS (SELECT 1 FROM login_events e WHERE e.account_id = a.id AND e.outcome = \
                 'success' AND e.time >= $1) \
                 OR EXISTS (SELECT 1 FROM sessions s WHERE s.account_id = a.id AND s.last_seen_at \
                 >= $1)",
            )
            .bind(since.as_millis())
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?,
        ))
    }

    async fn import_accounts(
        &self,
        rows: &[NewAccount],
        audit: NewAuditEntry,
    ) -> Result<Vec<bool>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.begin_write().await?;
        let mut q = sqlx::QueryBuilder::<Db>::new(
            "INSERT INTO accounts (id, email, email_key, created_at) ",
        );
        q.push_values(rows, |mut b, r| {
            b.push_bind(r.id.to_string())
                .push_bind(r.email.as_str())
                .push_bind(r.email_key.as_str())
                .push_bind(r.created_at.as_millis());
        });
        q.push(" ON CONFLICT (email_key) DO NOTHING RETURNING id");
        let inserted: std::collections::HashSet<String> = q
            .build()
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| r.try_get::<String, _>("id"))
            .collect::<Result<_, _>>()?;
        let flags: Vec<bool> = rows
            .iter()
            .map(|r| inserted.contains(&r.id.to_string()))
            .collect();
        if !inserted.is_empty() {
            let mut q = sqlx::QueryBuilder::<Db>::new(
                "INSERT INTO credentials (account_id, hash, state, version, changed_at) ",
            );
            q.push_values(
                rows.iter().zip(&flags).filter(|(_, f)| **f),
                |mut b, (r, _)| {
                    b.push_bind(r.id.to_string())
                        .push_bind(r.password_hash.as_str())
                        .push_bind("active")
                        .push_bind(1i64)
                        .push_bind(r.created_at.as_millis());
                },
            );
            q.build().execute(&mut *tx).await?;
        }
        let mut audit = audit;
        audit.detail = serde_json::json!({
            "inserted": inserted.len(),
            "skipped_existing": rows.len() - inserted.len(),
        });
        Self::append_audit_in(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(flags)
    }

    async fn account_keys(&self, after: Option<AccountId>, limit: i64) -> Result<Vec<AccountKey>> {
        let rows = sqlx::query(
            "SELECT id, email, email_key FROM accounts WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after.map(|a| a.to_string()).unwrap_or_default())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AccountKey {
                    id: parse("account id", &r.try_get::<String, _>("id")?)?,
                    email: r.try_get("email")?,
                    email_key: r.try_get("email_key")?,
                })
            })
            .collect()
    }

    async fn rekey_account(
        &self,
        id: AccountId,
        old_key: &str,
        new_email: &str,
        new_key: &str,
        audit: NewAuditEntry,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let changed = sqlx::query(
            "UPDATE accounts SET email = $1, email_key = $2 WHERE id = $3 AND email_key = $4",
        )
        .bind(new_email)
        .bind(new_key)
        .bind(id.to_string())
        .bind(old_key)
        .execute(&mut *tx)
        .await
        .map_err(|e| unique_as_conflict(e, "another account has this e-mail address"))?
        .rows_affected();
        if changed != 1 {
            return Err(StoreError::Conflict(
                "the account's address changed meanwhile",
            ));
        }
        Self::append_audit_in(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(())
    }
}
