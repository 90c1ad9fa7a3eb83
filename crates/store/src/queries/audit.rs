//! The audit log.
//!
//! The SQL both engines run (see `queries/mod.rs`).

use async_trait::async_trait;
use gatehouse_domain::Timestamp;
use gatehouse_domain::audit::NewAuditEntry;
use sqlx::Row as _;

use super::{Conn, DbRow, EngineStore};
use crate::sql::audit_row;
use crate::{AuditEntry, AuditStore, Result};

impl EngineStore {
    pub(super) async fn append_audit_in(conn: &mut Conn, entry: &NewAuditEntry) -> Result<i64> {
        // Taking the head first serialises appenders: the chain cannot fork.
        let head =
            sqlx::query("UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash")
                .fetch_one(&mut *conn)
                .await?;
        let seq: i64 = head.try_get("seq")?;
        let prev: Vec<u8> = head.try_get("hash")?;
        let row = audit_row(entry, seq - 1, &prev)?;
        sqlx::query(
            "INSERT INTO audit_log (seq, at, actor_kind, actor_id, action, target, ip, detail, \
             hash) \
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
