//! The SQL both engines share.
//!
//! SQLite and PostgreSQL accept the same statements here: `$n` placeholders,
//! `ON CONFLICT … DO …`, `RETURNING`, 64-bit integer times, text ids, and byte
//! strings for digests. So the trait implementations are written once, in
//! [`impl_store!`], and expanded for each engine's concrete sqlx types. An
//! engine supplies only `pool`, `begin_write()` (SQLite: `BEGIN IMMEDIATE`,
//! so a writer never fails with SQLITE_BUSY mid-transaction) and its migrations.
//!
//! Row locking without engine-specific syntax: `INSERT … ON CONFLICT DO UPDATE
//! … RETURNING` and `UPDATE … RETURNING` take the row lock on PostgreSQL, and
//! on SQLite the immediate transaction already holds the write lock.

use gatehouse_domain::audit::{ChainFields, NewAuditEntry, chain_hash};

/// Computes the stored columns of an audit entry appended after `(prev_seq, prev_hash)`.
pub(crate) struct AuditRow {
    pub seq: i64,
    pub actor_kind: &'static str,
    pub actor_id: Option<String>,
    pub detail: String,
    pub hash: [u8; 32],
}

pub(crate) fn audit_row(
    entry: &NewAuditEntry,
    prev_seq: i64,
    prev_hash: &[u8],
) -> Result<AuditRow, crate::StoreError> {
    let prev: [u8; 32] = prev_hash
        .try_into()
        .map_err(|_| crate::StoreError::corrupt("audit_head.hash is not 32 bytes"))?;
    let (actor_kind, actor_id) = entry.actor.parts();
    let detail = entry.detail.to_string();
    let seq = prev_seq + 1;
    let hash = chain_hash(
        &prev,
        &ChainFields {
            seq,
            at: entry.at.as_millis(),
            actor_kind,
            actor_id,
            action: entry.action.as_str(),
            target: entry.target.as_deref(),
            ip: entry.ip.as_deref(),
            detail: &detail,
        },
    );
    Ok(AuditRow {
        seq,
        actor_kind,
        actor_id: actor_id.map(str::to_owned),
        detail,
        hash,
    })
}

pub(crate) fn parse<T: std::str::FromStr>(what: &str, s: &str) -> Result<T, crate::StoreError>
where
    T::Err: std::fmt::Display,
{
    s.parse()
        .map_err(|e| crate::StoreError::corrupt(format!("{what} {s:?}: {e}")))
}

/// Expands the capability traits and `Store` for one engine:
/// `impl_store!(StoreType, sqlx::Db, ConnType, "name", sqlx::migrate!("dir"))`.
macro_rules! impl_store {
    ($store:ty, $db:ty, $conn:ty, $engine:literal, $migrator:expr) => {
        #[async_trait]
        impl Store for $store {
            fn engine(&self) -> &'static str {
                $engine
            }

            async fn migrate(&self) -> Result<()> {
                $migrator.run(&self.pool).await?;
                Ok(())
            }

            async fn ping(&self) -> Result<()> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn close(&self) {
                self.pool.close().await;
            }
        }

        use async_trait::async_trait;
        use gatehouse_domain::audit::NewAuditEntry;
        use gatehouse_domain::throttle::{ThrottlePolicy, ThrottleState};
        use gatehouse_domain::{AccountId, SessionId, Timestamp, TokenHash};
        use sqlx::Row as _;

        use crate::error::unique_as_conflict;
        use crate::sql::{audit_row, parse};
        use crate::*;

        type DbRow = <$db as sqlx::Database>::Row;

        const SESSION_COLUMNS: &str = "s.id, s.account_id, a.email, s.token_hash, s.state, s.created_at, \
             s.last_seen_at, s.expires_at, s.ip, s.user_agent";

        impl $store {
            async fn append_audit_in(conn: &mut $conn, entry: &NewAuditEntry) -> Result<i64> {
                // Taking the head first serialises appenders: the chain cannot fork.
                let head = sqlx::query("UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash")
                    .fetch_one(&mut *conn)
                    .await?;
                let seq: i64 = head.try_get("seq")?;
                let prev: Vec<u8> = head.try_get("hash")?;
                let row = audit_row(entry, seq - 1, &prev)?;
                sqlx::query(
                    "INSERT INTO audit_log (seq, at, actor_kind, actor_id, action, target, ip, detail, hash) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(row.seq)
                .bind(entry.at.as_millis())
                .bind(row.actor_kind)
                .bind(row.actor_id)
                .bind(entry.action.as_str())
                .bind(entry.target.as_deref())
                .bind(entry.ip.as_deref())
                .bind(&row.detail)
                .bind(&row.hash[..])
                .execute(&mut *conn)
                .await?;
                sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1")
                    .bind(&row.hash[..])
                    .execute(&mut *conn)
                    .await?;
                Ok(row.seq)
            }

            async fn revoke_sessions_in(
                conn: &mut $conn,
                account: AccountId,
                keep: Option<SessionId>,
                now: Timestamp,
                reason: &str,
            ) -> Result<u64> {
                Ok(sqlx::query(
                    "UPDATE sessions SET state = 'revoked', ended_at = $1, end_reason = $2 \
                     WHERE account_id = $3 AND state <> 'revoked' AND id <> $4",
                )
                .bind(now.as_millis())
                .bind(reason)
                .bind(account.to_string())
                .bind(keep.map(|s| s.to_string()).unwrap_or_default())
                .execute(&mut *conn)
                .await?
                .rows_affected())
            }

            async fn count_throttle_in(
                conn: &mut $conn,
                keys: &[(&str, ThrottlePolicy)],
                now: Timestamp,
            ) -> Result<Vec<ThrottleState>> {
                let mut out = Vec::with_capacity(keys.len());
                for (key, policy) in keys {
                    // Creates the row if missing and locks it either way.
                    let row = sqlx::query(
                        "INSERT INTO login_throttle (key, window_start, failures, blocked_until) VALUES ($1, $2, 0, $2) \
                         ON CONFLICT (key) DO UPDATE SET key = excluded.key \
                         RETURNING window_start, failures, blocked_until",
                    )
                    .bind(*key)
                    .bind(now.as_millis())
                    .fetch_one(&mut *conn)
                    .await?;
                    let next = Self::throttle_from(&row)?.record_failure(now, policy);
                    sqlx::query(
                        "UPDATE login_throttle SET window_start = $1, failures = $2, blocked_until = $3 WHERE key = $4",
                    )
                    .bind(next.window_start.as_millis())
                    .bind(i64::from(next.failures))
                    .bind(next.blocked_until.as_millis())
                    .bind(*key)
                    .execute(&mut *conn)
                    .await?;
                    out.push(next);
                }
                Ok(out)
            }

            fn account_from(row: &DbRow) -> Result<Account> {
                Ok(Account {
                    id: parse("account id", &row.try_get::<String, _>("id")?)?,
                    email: row.try_get("email")?,
                    created_at: Timestamp::from_millis(row.try_get("created_at")?),
                })
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

            fn throttle_from(row: &DbRow) -> Result<ThrottleState> {
                let failures: i64 = row.try_get("failures")?;
                Ok(ThrottleState {
                    window_start: Timestamp::from_millis(row.try_get("window_start")?),
                    failures: u32::try_from(failures).map_err(StoreError::corrupt)?,
                    blocked_until: Timestamp::from_millis(row.try_get("blocked_until")?),
                })
            }

            fn operator_from(row: &DbRow) -> Result<Operator> {
                Ok(Operator {
                    id: parse("operator id", &row.try_get::<String, _>("id")?)?,
                    email: row.try_get("email")?,
                    created_at: Timestamp::from_millis(row.try_get("created_at")?),
                })
            }
        }

        #[async_trait]
        impl AccountStore for $store {
            async fn create_account(&self, new: &NewAccount, audit: NewAuditEntry) -> Result<Account> {
                let mut tx = self.begin_write().await?;
                sqlx::query("INSERT INTO accounts (id, email, email_key, created_at) VALUES ($1, $2, $3, $4)")
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
                Ok(Account { id: new.id, email: new.email.clone(), created_at: new.created_at })
            }

            async fn login_record(&self, email_key: &str) -> Result<Option<LoginRecord>> {
                let row = sqlx::query(
                    "SELECT a.id, a.email, a.created_at, c.hash, c.state, c.version \
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
                Ok(sqlx::query("SELECT COUNT(*) AS n FROM accounts").fetch_one(&self.pool).await?.try_get("n")?)
            }

            async fn import_accounts(&self, rows: &[NewAccount], audit: NewAuditEntry) -> Result<Vec<bool>> {
                if rows.is_empty() {
                    return Ok(Vec::new());
                }
                let mut tx = self.begin_write().await?;
                let mut q = sqlx::QueryBuilder::<$db>::new("INSERT INTO accounts (id, email, email_key, created_at) ");
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
                let flags: Vec<bool> = rows.iter().map(|r| inserted.contains(&r.id.to_string())).collect();
                if !inserted.is_empty() {
                    let mut q = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO credentials (account_id, hash, state, version, changed_at) ",
                    );
                    q.push_values(rows.iter().zip(&flags).filter(|(_, f)| **f), |mut b, (r, _)| {
                        b.push_bind(r.id.to_string())
                            .push_bind(r.password_hash.as_str())
                            .push_bind("active")
                            .push_bind(1i64)
                            .push_bind(r.created_at.as_millis());
                    });
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
        }

        #[async_trait]
        impl CredentialStore for $store {
            async fn rehash_credential(
                &self,
                account: AccountId,
                old_hash: &str,
                new_hash: &str,
                audit: NewAuditEntry,
            ) -> Result<bool> {
                let mut tx = self.begin_write().await?;
                let done = sqlx::query("UPDATE credentials SET hash = $1 WHERE account_id = $2 AND hash = $3")
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

            async fn change_password(&self, c: &PasswordChange<'_>, audit: NewAuditEntry) -> Result<PasswordChanged> {
                let mut tx = self.begin_write().await?;
                let row = sqlx::query(
                    "UPDATE credentials SET hash = $1, state = 'active', version = version + 1, changed_at = $2 \
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
                    Self::revoke_sessions_in(&mut tx, c.account, c.keep_session, c.now, c.end_reason).await?
                } else {
                    0
                };
                let mut audit = audit;
                audit.detail = serde_json::json!({ "version": version, "sessions_ended": ended });
                Self::append_audit_in(&mut tx, &audit).await?;
                tx.commit().await?;
                Ok(PasswordChanged { version, sessions_ended: ended })
            }
        }

        #[async_trait]
        impl SessionStore for $store {
            async fn create_session(
                &self,
                new: &NewSession,
                clear_throttle_key: &str,
                audit: NewAuditEntry,
            ) -> Result<()> {
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "INSERT INTO sessions (id, account_id, token_hash, state, created_at, last_seen_at, expires_at, ip, user_agent) \
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

            async fn active_sessions(&self, account: AccountId, now: Timestamp) -> Result<Vec<SessionRecord>> {
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

        #[async_trait]
        impl ThrottleStore for $store {
            async fn throttle_states(&self, keys: &[&str]) -> Result<Vec<Option<ThrottleState>>> {
                if keys.is_empty() {
                    return Ok(Vec::new());
                }
                // One round trip for all keys: this runs before every login.
                let mut q = sqlx::QueryBuilder::<$db>::new(
                    "SELECT key, window_start, failures, blocked_until FROM login_throttle WHERE key IN (",
                );
                let mut list = q.separated(", ");
                for key in keys {
                    list.push_bind(*key);
                }
                q.push(")");
                let rows = q.build().fetch_all(&self.pool).await?;
                let mut found = std::collections::HashMap::with_capacity(rows.len());
                for row in &rows {
                    found.insert(row.try_get::<String, _>("key")?, Self::throttle_from(row)?);
                }
                Ok(keys.iter().map(|k| found.get(*k).copied()).collect())
            }

            async fn record_login_failure(
                &self,
                keys: &[(&str, ThrottlePolicy)],
                now: Timestamp,
                audit: NewAuditEntry,
            ) -> Result<Vec<ThrottleState>> {
                let mut tx = self.begin_write().await?;
                let out = Self::count_throttle_in(&mut tx, keys, now).await?;
                Self::append_audit_in(&mut tx, &audit).await?;
                tx.commit().await?;
                Ok(out)
            }

            async fn count_throttle_event(
                &self,
                keys: &[(&str, ThrottlePolicy)],
                now: Timestamp,
            ) -> Result<Vec<ThrottleState>> {
                let mut tx = self.begin_write().await?;
                let out = Self::count_throttle_in(&mut tx, keys, now).await?;
                tx.commit().await?;
                Ok(out)
            }

            async fn purge_throttle(&self, window_closed_before: Timestamp, now: Timestamp) -> Result<u64> {
                Ok(sqlx::query("DELETE FROM login_throttle WHERE window_start <= $1 AND blocked_until <= $2")
                    .bind(window_closed_before.as_millis())
                    .bind(now.as_millis())
                    .execute(&self.pool)
                    .await?
                    .rows_affected())
            }
        }

        #[async_trait]
        impl OperatorStore for $store {
            async fn create_operator(&self, new: &NewOperator, audit: NewAuditEntry) -> Result<Operator> {
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "INSERT INTO operators (id, email, email_key, key_hash, created_at) VALUES ($1, $2, $3, $4, $5)",
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
                Ok(Operator { id: new.id, email: new.email.clone(), created_at: new.created_at })
            }

            async fn operator_by_key(&self, key: &TokenHash) -> Result<Option<Operator>> {
                let row = sqlx::query(
                    "SELECT id, email, created_at, key_hash FROM operators WHERE key_hash = $1 AND disabled_at IS NULL",
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
        }

        #[async_trait]
        impl AuditStore for $store {
            async fn append_audit(&self, entry: NewAuditEntry) -> Result<i64> {
                let mut tx = self.begin_write().await?;
                let seq = Self::append_audit_in(&mut tx, &entry).await?;
                tx.commit().await?;
                Ok(seq)
            }

            async fn audit_entries(&self, after: i64, limit: i64) -> Result<Vec<AuditEntry>> {
                sqlx::query(
                    "SELECT seq, at, actor_kind, actor_id, action, target, ip, detail, hash FROM audit_log \
                     WHERE seq > $1 ORDER BY seq LIMIT $2",
                )
                .bind(after)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|row| {
                    Ok(AuditEntry {
                        seq: row.try_get("seq")?,
                        at: Timestamp::from_millis(row.try_get("at")?),
                        actor_kind: row.try_get("actor_kind")?,
                        actor_id: row.try_get("actor_id")?,
                        action: row.try_get("action")?,
                        target: row.try_get("target")?,
                        ip: row.try_get("ip")?,
                        detail: row.try_get("detail")?,
                        hash: hex::encode(row.try_get::<Vec<u8>, _>("hash")?),
                    })
                })
                .collect()
            }
        }
    };
}
pub(crate) use impl_store;
