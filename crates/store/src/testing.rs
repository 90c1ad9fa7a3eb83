//! Fresh, migrated stores for tests: a temporary SQLite file, or a new database
//! in the PostgreSQL server named by `GATEHOUSE_TEST_PG_URL` (the README's test
//! command starts a throwaway cluster and sets it).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::Connection as _;

use crate::{ConnectOptions, Store};

/// The engines every store test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// SQLite in a temporary file.
    Sqlite,
    /// A fresh database on the test PostgreSQL server.
    Postgres,
}

/// A migrated store plus whatever must live as long as it (the temp dir).
pub struct TestDb {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The URL it was opened with.
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

/// Opens a fresh, migrated store on `engine`.
///
/// For PostgreSQL, `GATEHOUSE_TEST_PG_URL` must name a server where the user
/// may create databases. Without it the call panics, so a run can never pass by
/// silently skipping PostgreSQL; set `GATEHOUSE_TEST_SKIP_PG=1` to opt out
/// knowingly (the call then returns `None`).
pub async fn fresh(engine: Engine) -> Option<TestDb> {
    let (url, dir) = match engine {
        Engine::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            (
                format!("sqlite:{}", dir.path().join("gatehouse.db").display()),
                Some(dir),
            )
        }
        Engine::Postgres => (fresh_pg_database().await?, None),
    };
    let store = crate::connect(&url, &ConnectOptions { max_connections: 8 })
        .await
        .expect("connect");
    store.migrate().await.expect("migrate");
    Some(TestDb {
        store,
        url,
        _dir: dir,
    })
}

/// Creates an empty database on the test server and returns its URL.
pub async fn fresh_pg_database() -> Option<String> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let Ok(admin) = std::env::var("GATEHOUSE_TEST_PG_URL") else {
        if std::env::var("GATEHOUSE_TEST_SKIP_PG").is_ok_and(|v| v == "1") {
            eprintln!("PostgreSQL skipped (GATEHOUSE_TEST_SKIP_PG=1)");
            return None;
        }
        panic!(
            "GATEHOUSE_TEST_PG_URL is not set: run the test command from README.md \
             (scripts/test.sh), which starts a throwaway PostgreSQL, or set \
             GATEHOUSE_TEST_SKIP_PG=1 to skip PostgreSQL knowingly"
        );
    };
    let name = format!(
        "gh_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    );
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .expect("connect to GATEHOUSE_TEST_PG_URL");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .expect("create test database");
    let _ = conn.close().await;
    let (base, _) = admin
        .rsplit_once('/')
        .expect("GATEHOUSE_TEST_PG_URL ends in /DBNAME");
    Some(format!("{base}/{name}"))
}
