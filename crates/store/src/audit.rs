//! The audit log.
//!
//! The trait and the rows it reads and writes; both engines implement it in
//! `queries/audit.rs`.

use async_trait::async_trait;
use gatehouse_domain::Timestamp;
use gatehouse_domain::audit::NewAuditEntry;
use serde::Serialize;

use crate::Result;

/// The audit log.
#[async_trait]
pub trait AuditStore {
    /// Appends one entry on its own.
    async fn append_audit(&self, entry: NewAuditEntry) -> Result<i64>;

    /// Entries with `seq > after`, oldest first, at most `limit`.
    async fn audit_entries(&self, after: i64, limit: i64) -> Result<Vec<AuditEntry>>;

    /// The chain's head as the appenders keep it: the last sequence number
    /// handed out and its hash (hex; the genesis value before any entry).
    async fn audit_head(&self) -> Result<(i64, String)>;
}

/// A stored audit entry.
#[derive(Clone, Debug, Serialize)]
#[allow(missing_docs)] // fields named for their columns; documented where the name is not enough
pub struct AuditEntry {
    /// Position, from 1.
    pub seq: i64,
    pub at: Timestamp,
    /// `account`, `operator` or `system`.
    pub actor_kind: String,
    /// Actor id.
    pub actor_id: Option<String>,
    pub action: String,
    pub target: Option<String>,
    /// Client address.
    pub ip: Option<String>,
    /// Detail (JSON text).
    pub detail: String,
    /// Chain hash, hex.
    pub hash: String,
}
