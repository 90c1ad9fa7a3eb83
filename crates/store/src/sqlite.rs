//! SQLite: the zero-setup default engine.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::{ConnectOptions, Result, StoreError};

/// A store in one SQLite file.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file a `sqlite:` URL names.
    pub async fn connect(url: &str, opts: &ConnectOptions) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Config(format!("bad SQLite URL {url:?}: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // WAL with NORMAL is durable against application crashes; a power
            // loss may drop the last commits but never corrupts the file.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true)
            // Read pages through a shared memory map instead of a pread per page
            // missing from each connection's small private cache (2 MB by
            // default): the outbox claim and the session lookups read the same
            // hot pages from every pooled connection. Address space, not memory:
            // the kernel's page cache backs it.
            .pragma("mmap_size", "268435456");
        if let Some(dir) = options
            .get_filename()
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Config(format!("cannot create directory {}: {e}", dir.display()))
            })?;
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(opts.max_connections.max(1))
            .connect_with(options)
            .await?;
        Ok(Self { pool })
    }

    /// Starts a write transaction that holds SQLite's write lock from the start.
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }
}

/// What the shared SQL in `queries/` needs to know about this engine.
mod engine {
    pub(super) use super::SqliteStore as EngineStore;

    pub(super) type Db = sqlx::Sqlite;
    pub(super) type Conn = sqlx::SqliteConnection;

    pub(super) const ENGINE: &str = "sqlite";

    pub(super) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

    /// Ends a `SELECT` that claims work: empty, because the `BEGIN IMMEDIATE` of
    /// `begin_write` already excludes other writers.
    macro_rules! lock {
        () => {
            ""
        };
    }
    pub(super) use lock;
}

// The same files are compiled for the other engine too (in `postgres.rs`): that is
// how both engines run one SQL text.
#[allow(
    clippy::duplicate_mod,
    reason = "one SQL text, compiled once per engine"
)]
#[path = "queries/mod.rs"]
mod queries;
