//! The SQL both engines share.
//!
//! SQLite and PostgreSQL accept the same statements: `$n` placeholders,
//! `ON CONFLICT … DO …`, `RETURNING`, 64-bit integer times, text ids, and byte
//! strings for digests. So the trait implementations are written once, one file
//! per capability in `src/queries/`, and that directory is compiled once per
//! engine (`#[path = "queries/mod.rs"] mod queries;` in `sqlite.rs` and
//! `postgres.rs`) against the engine's `engine` module: its sqlx types, its
//! store type, its migrations and its lock clause. An engine supplies only
//! those, `pool` and `begin_write()` (SQLite: `BEGIN IMMEDIATE`, so a writer
//! never fails with SQLITE_BUSY mid-transaction). This module holds what does
//! not depend on the engine and is compiled once.
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

/// Adds `extra`'s fields to an audit entry's detail (an object).
pub(crate) fn merge_detail(audit: &mut NewAuditEntry, extra: serde_json::Value) {
    let mut detail = match std::mem::take(&mut audit.detail) {
        serde_json::Value::Object(m) => m,
        _ => serde_json::Map::new(),
    };
    if let serde_json::Value::Object(extra) = extra {
        detail.extend(extra);
    }
    audit.detail = serde_json::Value::Object(detail);
}

/// A JSON text column, parsed.
pub(crate) fn json_column(what: &str, s: &str) -> Result<serde_json::Value, crate::StoreError> {
    serde_json::from_str(s).map_err(|e| crate::StoreError::corrupt(format!("{what}: {e}")))
}

pub(crate) fn parse<T: std::str::FromStr>(what: &str, s: &str) -> Result<T, crate::StoreError>
where
    T::Err: std::fmt::Display,
{
    s.parse()
        .map_err(|e| crate::StoreError::corrupt(format!("{what} {s:?}: {e}")))
}

/// The status-page notice kinds as an SQL list, for `concat!`. The partial
/// indexes of migration 0005 name the same list (the planners use them only
/// when a query's condition matches), and a test checks it against
/// `NoticeKind::is_status`.
macro_rules! status_kinds {
    () => {
        "('status_confirm', 'status_update')"
    };
}
pub(crate) use status_kinds;

/// The window of the status lane's budget (`ClaimPolicy::status_per_hour`).
pub(crate) const STATUS_BUDGET_WINDOW: std::time::Duration = std::time::Duration::from_secs(3600);

/// The conflict a reference collision raises (the caller retries with a new one).
pub const NOTICE_REFERENCE_TAKEN: &str = "notice reference taken";

#[cfg(test)]
mod tests {
    use gatehouse_domain::NoticeKind;

    #[test]
    fn status_kinds_list_matches_the_domain() {
        let listed = status_kinds!();
        for kind in NoticeKind::ALL {
            assert_eq!(
                listed.contains(&format!("'{}'", kind.as_str())),
                kind.is_status(),
                "{kind}"
            );
        }
    }
}
