//! The audit log.
//!
//! The SQL both engines run (see `queries/mod.rs`).

use async_trait::async_trait;
use gatehouse_domain::Timestamp;
use gatehouse_domain::audit::NewAuditEntry;
use sqlx::Row as _;

use super::{Conn, Db, DbRow, EngineStore};
use crate::sql::audit_row;
use crate::{AuditEntry, AuditStore, Result, StoreError};

impl EngineStore {
    pub(super) async fn append_audit_in(conn: &mut Conn, entry: &NewAuditEntry) -> Result<i64> {
        Self::append_audits_in(conn, std::slice::from_ref(entry)).await
    }

    /// Appends entries in order, chained in one go: the head moves once by
    /// `entries.len()`, the rows go in as multi-row inserts, the head's hash is
    /// set to the last row's. Returns the last entry's `seq`.
    pub(super) async fn append_audits_in(
        conn: &mut Conn,
        entries: &[NewAuditEntry],
    ) -> Result<i64> {
        let n = i64::try_from(entries.len())
            .map_err(|_| StoreError::Invalid("too many audit entries"))?;
        // Taking the head first serialises appenders: the chain cannot fork.
        let head =
            sqlx::query("UPDATE audit_head SET seq = seq + $1 WHERE id = 1 RETURNING seq, hash")
                .bind(n)
                .fetch_one(&mut *conn)
                .await?;
        let last: i64 = head.try_get("seq")?;
        if entries.is_empty() {
            return Ok(last);
        }
        let mut prev: Vec<u8> = head.try_get("hash")?;
        let mut rows = Vec::with_capacity(entries.len());
        for (i, entry) in entries.iter().enumerate() {
            let row = audit_row(entry, last - n + i as i64, &prev)?;
            prev = row.hash.to_vec();
            rows.push((entry, row));
        }
        // 9 placeholders a row: 500 rows stay far below both engines' limits.
        for chunk in rows.chunks(500) {
            let mut q = sqlx::QueryBuilder::<Db>::new(
                "INSERT INTO audit_log (seq, at, actor_kind, actor_id, action, target, ip, detail, \
                 hash) ",
            );
            q.push_values(chunk, |mut b, (entry, row)| {
                b.push_bind(row.seq)
                    .push_bind(entry.at.as_millis())
                    .push_bind(row.actor_kind)
                    .push_bind(row.actor_id.clone())
                    .push_bind(entry.action.as_str())
                    .push_bind(entry.target.clone())
                    .push_bind(entry.ip.clone())
                    .push_bind(row.detail.clone())
                    .push_bind(row.hash.to_vec());
            });
            q.build().execute(&mut *conn).await?;
        }
        sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1")
            .bind(prev)
            .execute(&mut *conn)
            .await?;
        Ok(last)
    }

    pub(super) fn audit_entry_from(row: &DbRow) -> Result<AuditEntry> {
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
    }
}

#[async_trait]
impl AuditStore for EngineStore {
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
        .map(Self::audit_entry_from)
        .collect()
    }

    async fn audit_head(&self) -> Result<(i64, String)> {
        let row = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        Ok((
            row.try_get("seq")?,
            hex::encode(row.try_get::<Vec<u8>, _>("hash")?),
        ))
    }
}
