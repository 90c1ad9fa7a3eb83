//! Failed-login counters.
//!
//! The SQL both engines run (see `queries/mod.rs`).

use async_trait::async_trait;
use gatehouse_domain::Timestamp;
use gatehouse_domain::audit::NewAuditEntry;
use gatehouse_domain::throttle::{ThrottlePolicy, ThrottleState};
use sqlx::Row as _;

use super::{Conn, Db, DbRow, EngineStore};
use crate::{NewLoginEvent, Result, StoreError, ThrottleStore};

impl EngineStore {
    async fn count_throttle_in(
        conn: &mut Conn,
        keys: &[(&str, ThrottlePolicy)],
        now: Timestamp,
    ) -> Result<Vec<ThrottleState>> {
        let mut out = Vec::with_capacity(keys.len());
        for (key, policy) in keys {
            // Creates the row if missing and locks it either way.
            let row = sqlx::query(
                "INSERT INTO login_throttle (key, window_start, failures, blocked_until) VALUES \
                 ($1, $2, 0, 0) \
                 ON CONFLICT (key) DO UPDATE SET key = excluded.key \
                 RETURNING window_start, failures, blocked_until",
            )
            .bind(*key)
            .bind(now.as_millis())
            .fetch_one(&mut *conn)
            .await?;
            let next = Self::throttle_from(&row)?.record_failure(now, policy);
            sqlx::query(
                "UPDATE login_throttle SET window_start = $1, failures = $2, blocked_until = $3 \
                 WHERE key = $4",
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

    fn throttle_from(row: &DbRow) -> Result<ThrottleState> {
        let failures: i64 = row.try_get("failures")?;
        Ok(ThrottleState {
            window_start: Timestamp::from_millis(row.try_get("window_start")?),
            failures: u32::try_from(failures).map_err(StoreError::corrupt)?,
            blocked_until: Timestamp::from_millis(row.try_get("blocked_until")?),
        })
    }
}

#[async_trait]
impl ThrottleStore for EngineStore {
    async fn throttle_states(&self, keys: &[&str]) -> Result<Vec<Option<ThrottleState>>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        // One round trip for all keys: this runs before every login.
        let mut q = sqlx::QueryBuilder::<Db>::new(
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
        event: Option<&NewLoginEvent>,
        audit: NewAuditEntry,
    ) -> Result<Vec<ThrottleState>> {
        let mut tx = self.begin_write().await?;
        let out = Self::count_throttle_in(&mut tx, keys, now).await?;
        if let Some(event) = event {
            Self::insert_events_in(&mut tx, std::slice::from_ref(event)).await?;
        }
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
        Ok(sqlx::query(
            "DELETE FROM login_throttle WHERE window_start <= $1 AND blocked_until <= $2",
        )
        .bind(window_closed_before.as_millis())
        .bind(now.as_millis())
        .execute(&self.pool)
        .await?
        .rows_affected())
    }
}
