use thiserror::Error;

/// What can go wrong in the store. Never HTTP-shaped: the server maps it.
#[derive(Debug, Error)]
pub enum StoreError {
    /// A uniqueness rule or an optimistic version check refused the write.
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// The database holds a value Gatehouse cannot read (a bug or manual edit).
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// What was asked for does not exist (a campaign, a campaign target).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A request the store refuses on principle (an empty campaign).
    #[error("{0}")]
    Invalid(&'static str),
    /// A bad database URL or option.
    #[error("{0}")]
    Config(String),
    /// Migrations failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database failed or could not be reached.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

impl StoreError {
    pub(crate) fn corrupt(what: impl std::fmt::Display) -> Self {
        Self::Corrupt(what.to_string())
    }
}

/// Maps a unique-constraint violation to `Conflict(what)`, other errors unchanged.
pub(crate) fn unique_as_conflict(e: sqlx::Error, what: &'static str) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(what),
        _ => StoreError::Database(e),
    }
}
