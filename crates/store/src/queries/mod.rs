//! The capability traits and `Store`, implemented once for both engines.
//!
//! This directory is compiled twice: `sqlite.rs` and `postgres.rs` each declare
//! it with `#[path = "queries/mod.rs"] mod queries;` next to their own `engine`
//! module, which is the only thing these files know about the engine:
//! `Db` and `Conn` (the sqlx database and connection types), `EngineStore`
//! (the store type, with its `pool` and `begin_write()`), `ENGINE`, `MIGRATOR`,
//! and `lock!()`, the clause that ends a `SELECT` claiming work: `FOR UPDATE
//! SKIP LOCKED` on PostgreSQL (so concurrent claimers take different rows and
//! never wait), empty on SQLite (whose immediate transaction already excludes
//! other writers). `lock!()` is a macro so it can go into `concat!` and the
//! statement stays one `&'static str`.
//!
//! Helpers shared between capabilities (`append_audit_in`, `insert_notice_in`,
//! …) are inherent methods of `EngineStore` in the capability they belong to,
//! `pub(super)` when another capability calls them.

mod accounts;
mod app_deliveries;
mod audit;
mod campaigns;
mod console;
mod credentials;
mod events;
mod findings;
mod oidc;
mod operators;
mod outbox;
mod recovery;
mod resets;
mod rules;
mod sessions;
mod ssf;
mod status;
mod throttle;

use async_trait::async_trait;

use super::engine::{Conn, Db, ENGINE, EngineStore, MIGRATOR, lock};
use crate::{Result, Store};

/// A row as the engine returns it.
type DbRow = <Db as sqlx::Database>::Row;

#[async_trait]
impl Store for EngineStore {
    fn engine(&self) -> &'static str {
        ENGINE
    }

    async fn migrate(&self) -> Result<()> {
        MIGRATOR.run(&self.pool).await?;
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
