//! Holding a claim's recipients while their per-recipient cap is checked:
//! the one step of the outbox claim where the engines differ (issue 19).
//!
//! Two claimers that count a recipient's notices at the same time could each
//! see room for one more and both send it. Each engine serializes them
//! without writing a row per recipient, which the claim used to do
//! (`outbox_recipients`: a row inserted or rewritten, with its index entry,
//! for every notice sent):
//! - SQLite: the claim runs in a `BEGIN IMMEDIATE` transaction, which holds
//!   the database's only write lock from its first statement to its commit,
//!   so no other claimer can count meanwhile. Nothing more to take.
//! - PostgreSQL: a transaction-scoped advisory lock per recipient, taken in
//!   one fixed order (sorted hashes), so concurrent claimers cannot deadlock;
//!   released by the claim's commit. Nothing is written.

use async_trait::async_trait;

use crate::Result;

/// Serializes cap checks on a claim's recipients, for the claim's transaction.
#[async_trait]
pub(crate) trait RecipientLocks {
    /// `keys` sorted and without repeats.
    async fn lock_recipients(&mut self, keys: &[&str]) -> Result<()>;
}

#[async_trait]
impl RecipientLocks for sqlx::SqliteConnection {
    async fn lock_recipients(&mut self, _keys: &[&str]) -> Result<()> {
        // Held already: see the module comment.
        Ok(())
    }
}

#[async_trait]
impl RecipientLocks for sqlx::PgConnection {
    async fn lock_recipients(&mut self, keys: &[&str]) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        // 64-bit hashes of the keys; two keys sharing one only share a lock.
        // The locks are taken one by one in the subquery's order (sorted,
        // distinct), the same order in every claimer.
        sqlx::query(
            "SELECT COUNT(pg_advisory_xact_lock(h)) FROM (SELECT DISTINCT \
             hashtextextended('gatehouse.outbox.recipient:' || k, 0) AS h FROM UNNEST($1::text[]) \
             AS k ORDER BY h) AS locks",
        )
        .bind(keys)
        .execute(&mut *self)
        .await?;
        Ok(())
    }
}
