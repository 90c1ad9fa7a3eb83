//! Login events: what the compromise checks read and backtest against.
//!
//! The SQL both engines run (see `queries/mod.rs`).

use async_trait::async_trait;
use gatehouse_domain::Timestamp;
use gatehouse_domain::audit::NewAuditEntry;
use sqlx::Row as _;

use super::{Conn, Db, DbRow, EngineStore};
use crate::events::bulk::{BulkEvents as _, EventRow};
use crate::sql::parse;
use crate::{
    AccountLink, EventCursor, EventStore, LateEvents, LoginEvent, MonitorProgress, NewLoginEvent,
    Result, StoreError,
};

const EVENT_COLUMNS: &str = "id, time, account, account_id, ip, user_agent, outcome, country, \
    asn, origin, password_digest, received_at";

impl EngineStore {
    /// The accounts the batch's `Resolve` events name, by the text they
    /// gave (`BulkEvents::accounts_named`), where a subquery per row made two
    /// index probes for every event. An e-mail key or an account id (ids
    /// are UUIDs, with no '@', so at most one of the two can match).
    async fn resolve_accounts_in(
        conn: &mut Conn,
        events: &[NewLoginEvent],
    ) -> Result<std::collections::HashMap<String, String>> {
        let mut names: Vec<&str> = events
            .iter()
            .filter(|e| matches!(e.link, AccountLink::Resolve))
            .map(|e| e.account.as_str())
            .collect();
        names.sort_unstable();
        names.dedup();
        let mut found = std::collections::HashMap::new();
        if names.is_empty() {
            return Ok(found);
        }
        for (id, key) in conn.accounts_named(&names).await? {
            // The same row may match by its key and by its id; the key
            // wins, as the per-row lookup's COALESCE order had it.
            if names.binary_search(&key.as_str()).is_ok() {
                found.insert(key, id.clone());
            }
            if names.binary_search(&id.as_str()).is_ok() {
                found.entry(id.clone()).or_insert(id);
            }
        }
        Ok(found)
    }

    /// Inserts events, skipping stored dedupe keys. Returns how many went in.
    pub(super) async fn insert_events_in(conn: &mut Conn, events: &[NewLoginEvent]) -> Result<u64> {
        // Resolved in the same transaction as the insert, as the per-row
        // subqueries were: an account created or deleted meanwhile is seen
        // the same way by every event of the batch.
        let accounts = Self::resolve_accounts_in(conn, events).await?;
        let rows: Vec<EventRow<'_>> = events
            .iter()
            .map(|e| EventRow {
                event: e,
                account_id: match &e.link {
                    AccountLink::Known(id) => id.map(|a| a.to_string()),
                    AccountLink::Resolve => accounts.get(&e.account).cloned(),
                },
            })
            .collect();
        conn.insert_event_rows(&rows).await
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

    #[cfg(feature = "testing")]
    async fn load_login_events_unchecked(&self, events: &[NewLoginEvent]) -> Result<u64> {
        let rows: Vec<EventRow<'_>> = events
            .iter()
            .map(|e| EventRow {
                event: e,
                account_id: match &e.link {
                    AccountLink::Known(id) => id.map(|a| a.to_string()),
                    AccountLink::Resolve => None,
                },
            })
            .collect();
        let mut tx = self.begin_write().await?;
        let loaded = tx.load_event_rows(&rows).await?;
        tx.commit().await?;
        Ok(loaded)
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
