//! PostgreSQL: the scale-out engine; several `gatehouse serve` replicas share one.

use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};

use crate::{ConnectOptions, Result};

/// A store in a PostgreSQL database.
#[derive(Clone, Debug)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to the database a `postgres://` URL names.
    pub async fn connect(url: &str, opts: &ConnectOptions) -> Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(opts.max_connections.max(1))
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        Ok(Self { pool })
    }

    /// Starts a write transaction (READ COMMITTED; rows are locked by the statements).
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>> {
        Ok(self.pool.begin().await?)
    }
}

/// What the shared SQL in `queries/` needs to know about this engine.
mod engine {
    pub(super) use super::PgStore as EngineStore;

    pub(super) type Db = sqlx::Postgres;
    pub(super) type Conn = sqlx::PgConnection;

    pub(super) const ENGINE: &str = "postgres";

    pub(super) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

    /// Ends a `SELECT` that claims work: concurrent claimers take different rows
    /// and never wait for each other.
    macro_rules! lock {
        () => {
            "FOR UPDATE SKIP LOCKED"
        };
    }
    pub(super) use lock;
}

// The same files are compiled for the other engine too (in `sqlite.rs`): that is
// how both engines run one SQL text.
#[allow(
    clippy::duplicate_mod,
    reason = "one SQL text, compiled once per engine"
)]
#[path = "queries/mod.rs"]
mod queries;
