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

    /// Why the database cannot do its work *for now* — unreachable, restarting,
    /// out of space, out of connections — as a short phrase for the caller,
    /// or `None` for any other failure. Such a failure is the site's, not
    /// the request's, and goes away by itself or by an operator's hand
    /// (start the database, free space): callers answer 503 and retry
    /// (workers), rather than 500 and a bug report.
    pub fn unavailable(&self) -> Option<&'static str> {
        let Self::Database(e) = self else {
            return None;
        };
        match e {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => {
                Some("the database is unreachable")
            }
            sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::Protocol(_) => {
                Some("the database is unreachable")
            }
            sqlx::Error::Database(db)
                if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() =>
            {
                // Extended result codes: the primary code is the low byte.
                let code = db.code().and_then(|c| c.parse::<u32>().ok()).unwrap_or(0);
                match code & 0xff {
                    13 => Some("the database's disk is full"),
                    10 => Some("the database cannot write to its disk"),
                    _ => None,
                }
            }
            sqlx::Error::Database(db) => match db.code().as_deref().unwrap_or("") {
                // PostgreSQL: disk_full, insufficient_resources, out_of_memory.
                "53100" | "53000" | "53200" => Some("the database is out of space or memory"),
                // too_many_connections.
                "53300" => Some("the database has no free connections"),
                // Connection exceptions (08xxx), admin or crash shutdown, cannot
                // connect now (starting up or shutting down).
                c if c.starts_with("08") => Some("the database is unreachable"),
                "57P01" | "57P02" | "57P03" => Some("the database is restarting"),
                _ => None,
            },
            _ => None,
        }
    }
}

/// Maps a unique-constraint violation to `Conflict(what)`, other errors unchanged.
pub(crate) fn unique_as_conflict(e: sqlx::Error, what: &'static str) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(what),
        _ => StoreError::Database(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real `SQLITE_FULL`: a database capped at a few pages
    /// (`max_page_count`, per connection) filled up.
    #[tokio::test]
    async fn a_full_sqlite_database_is_unavailable_not_a_bug() {
        use sqlx::Connection as _;
        let mut c = sqlx::SqliteConnection::connect("sqlite::memory:")
            .await
            .unwrap();
        sqlx::query("CREATE TABLE t (x BLOB)")
            .execute(&mut c)
            .await
            .unwrap();
        sqlx::query("PRAGMA max_page_count = 8")
            .execute(&mut c)
            .await
            .unwrap();
        let mut full = None;
        for _ in 0..100 {
            if let Err(e) = sqlx::query("INSERT INTO t VALUES (zeroblob(4000))")
                .execute(&mut c)
                .await
            {
                full = Some(StoreError::Database(e));
                break;
            }
        }
        let full = full.expect("the capped database filled up");
        assert_eq!(
            full.unavailable(),
            Some("the database's disk is full"),
            "{full}"
        );
        // Still readable, and a request's own fault stays what it was.
        let bad = sqlx::query("SELECT nope FROM t")
            .execute(&mut c)
            .await
            .unwrap_err();
        assert_eq!(StoreError::Database(bad).unavailable(), None);
    }

    #[test]
    fn an_unreachable_database_is_unavailable() {
        let e = StoreError::Database(sqlx::Error::PoolTimedOut);
        assert_eq!(e.unavailable(), Some("the database is unreachable"));
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(
            StoreError::Database(sqlx::Error::Io(refused)).unavailable(),
            Some("the database is unreachable")
        );
        assert_eq!(StoreError::Conflict("x").unavailable(), None);
    }
}
