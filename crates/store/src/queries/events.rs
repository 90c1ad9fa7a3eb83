//! Login events: what the compromise checks read and backtest against.
//!
//! The SQL both engines run (see `queries/mod.rs`).

use async_trait::async_trait;
use gatehouse_domain::Timestamp;
use gatehouse_domain::audit::NewAuditEntry;
use sqlx::Row as _;

use super::{Conn, Db, DbRow, EngineStore};
use crate::sql::parse;
use crate::{
    AccountLink, EventCursor, EventStore, LateEvents, LoginEvent, MonitorProgress, NewLoginEvent,
    Result, StoreError,
};

const EVENT_COLUMNS: &str = "id, time, account, account_id, ip, user_agent, outcome, country, \
    asn, origin, password_digest, received_at";

impl EngineStore {
    /// Inserts events, skipping stored dedupe keys. Returns how many went in.
    pub(super) async fn insert_events_in(conn: &mut Conn, events: &[NewLoginEvent]) -> Result<u64> {
        // 12 placeholders a row: 500 rows stay far below both engines' limits.
        let mut inserted = 0;
        for chunk in events.chunks(500) {
            let mut q = sqlx::QueryBuilder::<Db>::new(
                "INSERT INTO login_events (time, account, account_id, ip, user_agent, outcome, \
                 country, asn, \
                 origin, password_digest, dedupe_key, received_at) ",
            );
            q.push_values(chunk, |mut b, e| {
                let (known, lookup) = match &e.link {
                    AccountLink::Known(id) => (id.map(|a| a.to_string()), None),
                    AccountLink::Resolve => (None, Some(e.account.clone())),
                };
                b.push_bind(e.time.as_millis()).push_bind(e.account.clone());
                // Addresses are e-mail keys and ids are UUIDs (no '@'), so at
                // most one of the two lookups can match.
                b.push("COALESCE(")
                    .push_bind_unseparated(known)
                    .push_unseparated(", (SELECT id FROM accounts WHERE email_key = ")
                    .push_bind_unseparated(lookup.clone())
                    .push_unseparated("), (SELECT id FROM accounts WHERE id = ")
                    .push_bind_unseparated(lookup)
                    .push_unseparated("))");
                b.push_bind(e.ip.clone())
                    .push_bind(e.user_agent.clone())
                    .push_bind(e.outcome.as_str())
                    .push_bind(e.country.clone())
                    .push_bind(e.asn.map(i64::from))
                    .push_bind(e.origin.as_str())
                    .push_bind(e.password_digest.map(|d| d.to_vec()))
                    .push_bind(e.dedupe_key.to_vec())
                    .push_bind(e.received_at.as_millis());
            });
            q.push(" ON CONFLICT (dedupe_key) DO NOTHING");
            inserted += q.build().execute(&mut *conn).await?.rows_affected();
        }
        Ok(inserted)
    }

    fn login_event_from(row: &DbRow) -> Result<LoginEvent> {
        let asn: Option<i64> = row.try_get("asn")?;
        Ok(LoginEvent {
            id: row.try_get("id")?,
            time: Timestamp::from_millis(row.try_get("time")?),
            account: row.try_get("account")?,
            account_id: row
                .try_get::<Option<String>, _>("account_id")?
                .map(|a| parse("account id", &a))
                .transpose()?,
            ip: row.try_get("ip")?,
            user_agent: row.try_get("user_agent")?,
            outcome: parse("event outcome", &row.try_get::<String, _>("outcome")?)?,
            country: row.try_get("country")?,
            asn: asn
                .map(u32::try_from)
                .transpose()
                .map_err(StoreError::corrupt)?,
            origin: parse("event origin", &row.try_get::<String, _>("origin")?)?,
            password_digest: row.try_get("password_digest")?,
            received_at: Timestamp::from_millis(row.try_get("received_at")?),
        })
    }
}

#[async_trait]
impl EventStore for EngineStore {
    async fn insert_login_events(
        &self,
        events: &[NewLoginEvent],
        audit: Option<NewAuditEntry>,
    ) -> Result<u64> {
        if events.is_empty() {
            return Ok(0);
        }
        let mut tx = self.begin_write().await?;
        let inserted = Self::insert_events_in(&mut tx, events).await?;
        if let Some(mut audit) = audit {
            crate::sql::merge_detail(
                &mut audit,
                serde_json::json!({
                    "inserted": inserted,
                    "duplicates": events.len() as u64 - inserted,
                }),
            );
            Self::append_audit_in(&mut tx, &audit).await?;
        }
        tx.commit().await?;
        Ok(inserted)
    }

    async fn login_events(
        &self,
        from: Timestamp,
        until: Timestamp,
        after: Option<EventCursor>,
        limit: i64,
    ) -> Result<Vec<LoginEvent>> {
        // Without a cursor, start just before the first possible row at `from`.
        let after = after.unwrap_or(EventCursor {
            time: from,
            id: i64::MIN,
        });
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {EVENT_COLUMNS} FROM login_events \
             WHERE time >= $1 AND time < $2 AND (time, id) > ($3, $4) \
             ORDER BY time, id LIMIT $5"
        )))
        .bind(from.as_millis())
        .bind(until.as_millis())
        .bind(after.time.as_millis())
        .bind(after.id)
        .bind(limit.max(0))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(Self::login_event_from)
        .collect()
    }

    async fn count_login_events(&self, from: Timestamp, until: Timestamp) -> Result<i64> {
        Ok(
            sqlx::query("SELECT COUNT(*) AS n FROM login_events WHERE time >= $1 AND time < $2")
                .bind(from.as_millis())
                .bind(until.as_millis())
                .fetch_one(&self.pool)
                .await?
                .try_get("n")?,
        )
    }

    async fn purge_login_events(&self, before: Timestamp, limit: i64) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query(
            "DELETE FROM login_events WHERE id IN \
             (SELECT id FROM login_events WHERE time < $1 ORDER BY time, id LIMIT $2)",
        )
        .bind(before.as_millis())
        .bind(limit.max(0))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(n)
    }

    async fn login_events_after_id(&self, after: i64, limit: i64) -> Result<Vec<LoginEvent>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {EVENT_COLUMNS} FROM login_events WHERE id > $1 ORDER BY id LIMIT $2"
        )))
        .bind(after)
        .bind(limit.max(0))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(Self::login_event_from)
        .collect()
    }

    async fn login_events_by_ids(&self, ids: &[i64]) -> Result<Vec<LoginEvent>> {
        let mut out = Vec::new();
        for chunk in ids.chunks(500) {
            let mut q = sqlx::QueryBuilder::<Db>::new(format!(
                "SELECT {EVENT_COLUMNS} FROM login_events WHERE id IN ("
            ));
            let mut list = q.separated(", ");
            for id in chunk {
                list.push_bind(*id);
            }
            q.push(") ORDER BY id");
            for row in q.build().fetch_all(&self.pool).await? {
                out.push(Self::login_event_from(&row)?);
            }
        }
        Ok(out)
    }

    async fn monitor_checkpoint(&self, name: &str) -> Result<Option<i64>> {
        Ok(
            sqlx::query("SELECT after_id FROM monitor_checkpoints WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?
                .map(|r| r.try_get("after_id"))
                .transpose()?,
        )
    }

    async fn save_monitor_checkpoint(
        &self,
        name: &str,
        after_id: i64,
        now: Timestamp,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO monitor_checkpoints (name, after_id, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET after_id = excluded.after_id, updated_at = \
             excluded.updated_at",
        )
        .bind(name)
        .bind(after_id)
        .bind(now.as_millis())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn monitor_progress(&self, name: &str) -> Result<MonitorProgress> {
        let saved =
            sqlx::query("SELECT after_id, updated_at FROM monitor_checkpoints WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
        let (after_id, saved_at) = match saved {
            Some(r) => (
                r.try_get("after_id")?,
                Some(Timestamp::from_millis(r.try_get("updated_at")?)),
            ),
            None => (0, None),
        };
        let latest_id: Option<i64> = sqlx::query("SELECT MAX(id) AS id FROM login_events")
            .fetch_one(&self.pool)
            .await?
            .try_get("id")?;
        Ok(MonitorProgress {
            after_id,
            saved_at,
            latest_id: latest_id.unwrap_or(0),
        })
    }

    async fn late_login_events(
        &self,
        window: std::time::Duration,
        received_since: Timestamp,
    ) -> Result<LateEvents> {
        let r = sqlx::query(
            "SELECT COUNT(*) AS n, MIN(time) AS oldest, MAX(time) AS newest, MAX(received_at) AS \
             last FROM login_events WHERE received_at >= $1 AND time < received_at - $2",
        )
        .bind(received_since.as_millis())
        .bind(i64::try_from(window.as_millis()).unwrap_or(i64::MAX))
        .fetch_one(&self.pool)
        .await?;
        let at = |col: &str| -> Result<Option<Timestamp>> {
            Ok(r.try_get::<Option<i64>, _>(col)?
                .map(Timestamp::from_millis))
        };
        Ok(LateEvents {
            count: r.try_get("n")?,
            oldest: at("oldest")?,
            newest: at("newest")?,
            last_received: at("last")?,
        })
    }
}
