//! Shared Signals streams and the SETs owed to them.
//!
//! The SQL both engines run (see `queries/mod.rs`). The `owe_*_sets_in`
//! helpers are called inside the transactions that end sessions or change
//! credentials, next to `owe_logouts_in`: one `INSERT … SELECT` per event
//! type, joined to the streams that asked for it, whatever the batch's size.

use async_trait::async_trait;
use gatehouse_domain::{AccountId, Timestamp};
use sqlx::Row as _;

use super::app_deliveries::Ended;
use super::{Conn, Db, DbRow, EngineStore};
use crate::error::unique_as_conflict;
use crate::sql::parse;
use crate::ssf::set_event;
use crate::{Result, SsfStore, StreamRecord, StreamStatus};

const STREAM_COLUMNS: &str = "id, client_id, endpoint_url, authorization_header, description, \
    events_requested, status, status_reason, created_at, updated_at";

/// The columns every SET row writes, in the order the `SELECT`s give them.
const SET_INSERT: &str = "INSERT INTO app_deliveries (id, kind, client_id, stream_id, account_id, \
    session_id, reason, event_type, event_at, state, attempts, next_attempt_at, created_at) ";

/// The streams that want `event_type` and may be written to: the event
/// requested, the stream not disabled, its client enabled.
fn push_streams_wanting(q: &mut sqlx::QueryBuilder<Db>, event_type: &str) {
    q.push(" JOIN ssf_stream_events e ON e.event_type = ")
        .push_bind(event_type.to_owned())
        .push(
            " JOIN ssf_streams st ON st.id = e.stream_id AND st.status <> 'disabled' \
         JOIN oidc_clients c ON c.id = st.client_id AND c.disabled_at IS NULL",
        );
}

/// The common tail of a SET row after its id: kind, receiver, stream.
fn push_row_head(q: &mut sqlx::QueryBuilder<Db>) {
    q.push(", 'set', st.client_id, st.id, ");
}

/// reason, event_type, event_at, state, attempts, next_attempt_at, created_at.
fn push_row_tail(q: &mut sqlx::QueryBuilder<Db>, reason: &str, event_type: &str, now: Timestamp) {
    q.push_bind(reason.to_owned())
        .push(", ")
        .push_bind(event_type.to_owned())
        .push(", ")
        .push_bind(now.as_millis())
        .push(", 'pending', 0, ")
        .push_bind(now.as_millis())
        .push(", ")
        .push_bind(now.as_millis());
}

impl EngineStore {
    /// One CAEP `session-revoked` SET per (session that just ended, stream
    /// that wants it and covers it): the stream's client holds a grant in the
    /// session, or the receiver added the session's account as a subject.
    /// The `jti` is the stream, the session and the end's time; a session
    /// already told (suspended, then revoked) gets no second one
    /// (`app_deliveries_set_once`).
    pub(super) async fn owe_session_sets_in(
        conn: &mut Conn,
        ended: &Ended<'_>,
        now: Timestamp,
        reason: &str,
    ) -> Result<u64> {
        let t = set_event::SESSION_REVOKED;
        let mut q = sqlx::QueryBuilder::<Db>::new(SET_INSERT);
        q.push("SELECT DISTINCT 'set.' || st.id || '.' || s.id || '.sr.' || ")
            .push_bind(now.as_millis().to_string());
        push_row_head(&mut q);
        q.push("s.account_id, s.id, ");
        push_row_tail(&mut q, reason, t, now);
        q.push(" FROM sessions s");
        push_streams_wanting(&mut q, t);
        q.push(
            " WHERE (EXISTS (SELECT 1 FROM oidc_grants g WHERE g.session_id = s.id AND \
             g.client_id = st.client_id) OR EXISTS (SELECT 1 FROM ssf_subjects sj WHERE \
             sj.stream_id = st.id AND sj.account_id = s.account_id))",
        );
        if !Self::push_ended(&mut q, ended, now) {
            return Ok(0);
        }
        q.push(" ON CONFLICT DO NOTHING");
        Ok(q.build().execute(&mut *conn).await?.rows_affected())
    }

    /// One account-level SET (`event_type`) per (account, stream that wants
    /// it and covers the account): its client holds a grant of the account
    /// (any session, any time), or the receiver added the account as a
    /// subject. `key` makes the `jti` (with the stream, account and time).
    pub(super) async fn owe_account_sets_in(
        conn: &mut Conn,
        accounts: &[String],
        event_type: &str,
        key: &str,
        now: Timestamp,
        reason: &str,
    ) -> Result<u64> {
        if accounts.is_empty() {
            return Ok(0);
        }
        let mut q = sqlx::QueryBuilder::<Db>::new(SET_INSERT);
        q.push("SELECT 'set.' || st.id || '.' || a.id || '.' || ")
            .push_bind(format!("{key}.{}", now.as_millis()));
        push_row_head(&mut q);
        q.push("a.id, '', ");
        push_row_tail(&mut q, reason, event_type, now);
        q.push(" FROM accounts a");
        push_streams_wanting(&mut q, event_type);
        q.push(
            " WHERE (EXISTS (SELECT 1 FROM oidc_grants g WHERE g.account_id = a.id AND \
             g.client_id = st.client_id) OR EXISTS (SELECT 1 FROM ssf_subjects sj WHERE \
             sj.stream_id = st.id AND sj.account_id = a.id)) AND a.id IN (",
        );
        let mut list = q.separated(", ");
        for a in accounts {
            list.push_bind(a.clone());
        }
        list.push_unseparated(") ON CONFLICT DO NOTHING");
        Ok(q.build().execute(&mut *conn).await?.rows_affected())
    }

    /// A credential changed (password change, recovery, an undo that gave
    /// the prior one back): CAEP `credential-change` to the streams covering
    /// the account.
    pub(super) async fn owe_credential_change_in(
        conn: &mut Conn,
        account: &str,
        now: Timestamp,
        reason: &str,
    ) -> Result<u64> {
        Self::owe_account_sets_in(
            conn,
            std::slice::from_ref(&account.to_owned()),
            set_event::CREDENTIAL_CHANGE,
            "cc",
            now,
            reason,
        )
        .await
    }

    fn stream_from(row: &DbRow, events: Vec<String>) -> Result<StreamRecord> {
        Ok(StreamRecord {
            id: row.try_get("id")?,
            client_id: row.try_get("client_id")?,
            endpoint_url: row.try_get("endpoint_url")?,
            authorization_header: row.try_get("authorization_header")?,
            description: row.try_get("description")?,
            requested: serde_json::from_str(&row.try_get::<String, _>("events_requested")?)
                .map_err(|e| crate::StoreError::corrupt(format!("events_requested: {e}")))?,
            status: parse("stream status", &row.try_get::<String, _>("status")?)?,
            status_reason: row.try_get("status_reason")?,
            events,
            created_at: Timestamp::from_millis(row.try_get("created_at")?),
            updated_at: Timestamp::from_millis(row.try_get("updated_at")?),
        })
    }

    async fn stream_where(&self, column: &str, value: &str) -> Result<Option<StreamRecord>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {STREAM_COLUMNS} FROM ssf_streams WHERE {column} = $1"
        )))
        .bind(value)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let id: String = row.try_get("id")?;
        let events = sqlx::query_scalar(
            "SELECT event_type FROM ssf_stream_events WHERE stream_id = $1 ORDER BY event_type",
        )
        .bind(&id)
        .fetch_all(&self.pool)
        .await?;
        Ok(Some(Self::stream_from(&row, events)?))
    }

    async fn write_stream_events_in(conn: &mut Conn, s: &StreamRecord) -> Result<()> {
        sqlx::query("DELETE FROM ssf_stream_events WHERE stream_id = $1")
            .bind(&s.id)
            .execute(&mut *conn)
            .await?;
        for e in &s.events {
            sqlx::query("INSERT INTO ssf_stream_events (stream_id, event_type) VALUES ($1, $2)")
                .bind(&s.id)
                .bind(e)
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }

    /// Drops a stream's SETs not sent yet (deleted or disabled stream).
    async fn drop_unsent_in(conn: &mut Conn, stream_id: &str) -> Result<()> {
        sqlx::query(
            "DELETE FROM app_deliveries WHERE kind = 'set' AND stream_id = $1 AND state IN \
             ('pending', 'sending', 'failed')",
        )
        .bind(stream_id)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }
}

#[async_trait]
impl SsfStore for EngineStore {
    async fn create_stream(&self, s: &StreamRecord) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO ssf_streams ({STREAM_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        )))
        .bind(&s.id)
        .bind(&s.client_id)
        .bind(&s.endpoint_url)
        .bind(&s.authorization_header)
        .bind(&s.description)
        .bind(serde_json::to_string(&s.requested).expect("strings serialize"))
        .bind(s.status.as_str())
        .bind(&s.status_reason)
        .bind(s.created_at.as_millis())
        .bind(s.updated_at.as_millis())
        .execute(&mut *tx)
        .await
        .map_err(|e| unique_as_conflict(e, "this receiver has a stream already"))?;
        Self::write_stream_events_in(&mut tx, s).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn stream(&self, id: &str) -> Result<Option<StreamRecord>> {
        self.stream_where("id", id).await
    }

    async fn stream_of_client(&self, client_id: &str) -> Result<Option<StreamRecord>> {
        self.stream_where("client_id", client_id).await
    }

    async fn update_stream(&self, s: &StreamRecord) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE ssf_streams SET endpoint_url = $1, authorization_header = $2, description = \
             $3, updated_at = $4, events_requested = $6 WHERE id = $5",
        )
        .bind(&s.endpoint_url)
        .bind(&s.authorization_header)
        .bind(&s.description)
        .bind(s.updated_at.as_millis())
        .bind(&s.id)
        .bind(serde_json::to_string(&s.requested).expect("strings serialize"))
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if done {
            Self::write_stream_events_in(&mut tx, s).await?;
        }
        tx.commit().await?;
        Ok(done)
    }

    async fn delete_stream(&self, id: &str) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        Self::drop_unsent_in(&mut tx, id).await?;
        for table in ["ssf_stream_events", "ssf_subjects"] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE stream_id = $1"
            )))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        let done = sqlx::query("DELETE FROM ssf_streams WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
        tx.commit().await?;
        Ok(done)
    }

    async fn set_stream_status(
        &self,
        id: &str,
        status: StreamStatus,
        reason: Option<&str>,
        now: Timestamp,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE ssf_streams SET status = $1, status_reason = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(status.as_str())
        .bind(reason)
        .bind(now.as_millis())
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if done && status == StreamStatus::Disabled {
            // SSF §8.1.2: a disabled stream neither sends nor holds events.
            Self::drop_unsent_in(&mut tx, id).await?;
        }
        tx.commit().await?;
        Ok(done)
    }

    async fn add_stream_subject(
        &self,
        stream_id: &str,
        account: AccountId,
        format: &str,
        now: Timestamp,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO ssf_subjects (stream_id, account_id, format, added_at) VALUES ($1, $2, \
             $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind(stream_id)
        .bind(account.to_string())
        .bind(format)
        .bind(now.as_millis())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn remove_stream_subject(&self, stream_id: &str, account: AccountId) -> Result<bool> {
        Ok(
            sqlx::query("DELETE FROM ssf_subjects WHERE stream_id = $1 AND account_id = $2")
                .bind(stream_id)
                .bind(account.to_string())
                .execute(&self.pool)
                .await?
                .rows_affected()
                == 1,
        )
    }

    async fn stream_subjects(&self, stream_id: &str) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT account_id FROM ssf_subjects WHERE stream_id = $1 ORDER BY added_at, account_id",
        )
        .bind(stream_id)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn owe_verification(
        &self,
        stream_id: &str,
        id: &str,
        event: &serde_json::Value,
        now: Timestamp,
    ) -> Result<bool> {
        let n = now.as_millis();
        Ok(sqlx::query(
            "INSERT INTO app_deliveries (id, kind, client_id, stream_id, account_id, session_id, \
             reason, event_type, event, event_at, state, attempts, next_attempt_at, created_at) \
             SELECT $1, 'set', client_id, id, '', '', 'verification', $2, $3, $4, 'pending', 0, \
             $4, $4 FROM ssf_streams WHERE id = $5 AND status <> 'disabled'",
        )
        .bind(id)
        .bind(set_event::VERIFICATION)
        .bind(event.to_string())
        .bind(n)
        .bind(stream_id)
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1)
    }

    async fn sets_of(&self, accounts: &[AccountId], now: Timestamp) -> Result<Vec<(String, i64)>> {
        let mut out: std::collections::BTreeMap<String, i64> = Default::default();
        let covers = |alias: &str| {
            format!(
                "(EXISTS (SELECT 1 FROM oidc_grants g WHERE g.account_id = {alias} AND \
                 g.client_id = st.client_id) OR EXISTS (SELECT 1 FROM ssf_subjects sj WHERE \
                 sj.stream_id = st.id AND sj.account_id = {alias}))"
            )
        };
        for chunk in accounts.chunks(1000) {
            // The account-level events: one per covered account and event.
            let mut q = sqlx::QueryBuilder::<Db>::new(
                "SELECT st.client_id, COUNT(*) AS n FROM accounts a \
                 JOIN ssf_streams st ON st.status <> 'disabled' \
                 JOIN oidc_clients c ON c.id = st.client_id AND c.disabled_at IS NULL \
                 JOIN ssf_stream_events e ON e.stream_id = st.id AND e.event_type IN (",
            );
            q.push_bind(set_event::CREDENTIAL_CHANGE_REQUIRED)
                .push(", ")
                .push_bind(set_event::SESSIONS_REVOKED)
                .push(") WHERE ")
                .push(covers("a.id"))
                .push(" AND a.id IN (");
            self.add_counts_per_client(q, chunk, "st.client_id", &mut out)
                .await?;
            // One session-revoked per active session the stream covers.
            let mut q = sqlx::QueryBuilder::<Db>::new(
                "SELECT st.client_id, COUNT(*) AS n FROM sessions s \
                 JOIN ssf_streams st ON st.status <> 'disabled' \
                 JOIN oidc_clients c ON c.id = st.client_id AND c.disabled_at IS NULL \
                 JOIN ssf_stream_events e ON e.stream_id = st.id AND e.event_type = ",
            );
            q.push_bind(set_event::SESSION_REVOKED).push(
                " WHERE (EXISTS (SELECT 1 FROM oidc_grants g WHERE g.session_id = s.id AND \
                 g.client_id = st.client_id) OR EXISTS (SELECT 1 FROM ssf_subjects sj WHERE \
                 sj.stream_id = st.id AND sj.account_id = s.account_id)) AND s.state = 'active' \
                 AND s.expires_at > ",
            );
            q.push_bind(now.as_millis()).push(" AND s.account_id IN (");
            self.add_counts_per_client(q, chunk, "st.client_id", &mut out)
                .await?;
        }
        Ok(out.into_iter().collect())
    }
}
