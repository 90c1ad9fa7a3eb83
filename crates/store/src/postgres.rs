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

mod imp {
    use super::PgStore;
    crate::sql::impl_store!(
        PgStore,
        sqlx::Postgres,
        sqlx::PgConnection,
        "postgres",
        sqlx::migrate!("./migrations/postgres"),
        "FOR UPDATE SKIP LOCKED"
    );
}
