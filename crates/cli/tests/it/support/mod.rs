//! What the CLI tests share: running the binary against a database, and the
//! databases to run against (SQLite always, PostgreSQL when the test run has one).

use std::path::Path;
use std::process::{Command, Output};

use gatehouse_store::testing::fresh_pg_database;

pub mod app;
pub mod pg;
pub mod serve;

/// A bcrypt hash of "password" (cost 12), for imported accounts whose password
/// the test never types.
pub const BCRYPT: &str = "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW";

/// `gatehouse ARGS` in `dir`, its data directory `dir/data`, on `db`.
pub fn gatehouse_cmd(dir: &Path, db: &str, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    c.args(args)
        .current_dir(dir)
        .env("GATEHOUSE_DATA_DIR", dir.join("data"))
        .env("GATEHOUSE_DATABASE_URL", db)
        .env_remove("GATEHOUSE_CONFIG");
    c
}

/// Runs `gatehouse ARGS` to completion.
pub fn gatehouse(dir: &Path, db: &str, args: &[&str]) -> Output {
    gatehouse_cmd(dir, db, args)
        .output()
        .expect("run gatehouse")
}

/// (stdout, stderr) as text.
pub fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// A SQLite URL in `dir/data`, and a fresh PostgreSQL database when available.
pub async fn databases(dir: &Path) -> Vec<String> {
    let mut dbs = vec![format!(
        "sqlite:{}",
        dir.join("data/gatehouse.db").display()
    )];
    if let Some(pg) = fresh_pg_database().await {
        dbs.push(pg);
    }
    dbs
}

/// How many audit entries record `action`, read page by page over the whole log
/// (the crash and fault tests count one `account.reset` per reset).
pub async fn count_audit_actions(store: &dyn gatehouse_store::Store, action: &str) -> usize {
    let mut count = 0;
    let mut after = 0;
    loop {
        let page = store.audit_entries(after, 1000).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.seq;
        count += page.iter().filter(|e| e.action == action).count();
    }
    count
}
