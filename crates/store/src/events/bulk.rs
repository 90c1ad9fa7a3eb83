//! How each engine writes a batch of login events fastest (issue 19).
//!
//! The SQL in `queries/` is shared by both engines; this is the one place the
//! event insert differs. PostgreSQL drops the batch's repeated keys, asks the
//! unique index which of the rest are stored already (one `= ANY` probe per
//! key), and `COPY`s the survivors straight into `login_events`: one message
//! per row instead of twelve bind parameters, and each row written once. A
//! unique violation during that `COPY` (only a concurrent writer of the same
//! key can cause one: a replica writes one batch at a time) rolls back to a
//! savepoint and takes the staging path instead: `COPY` into a session-local
//! table, then `INSERT … SELECT … ON CONFLICT DO NOTHING`, exact whatever
//! others write meanwhile. SQLite has no bulk path cheaper than a prepared
//! multi-row `INSERT`, which is what it runs.

use async_trait::async_trait;
use std::fmt::Write as _;

use super::NewLoginEvent;
use crate::Result;

/// An event ready to store: its account already resolved.
pub(crate) struct EventRow<'a> {
    pub event: &'a NewLoginEvent,
    pub account_id: Option<String>,
}

const COLUMNS: &str = "time, account, account_id, ip, user_agent, outcome, country, asn, origin, \
    password_digest, dedupe_key, received_at";

/// Writes event rows on one engine's connection.
#[async_trait]
pub(crate) trait BulkEvents {
    /// Inserts the rows, skipping dedupe keys stored already or repeated in
    /// the batch. Returns how many went in.
    async fn insert_event_rows(&mut self, rows: &[EventRow<'_>]) -> Result<u64>;

    /// The accounts whose e-mail key or id is one of `names` (sorted, no
    /// repeats), as `(id, email_key)`.
    async fn accounts_named(&mut self, names: &[&str]) -> Result<Vec<(String, String)>>;

    /// The engine's fastest plain load of the same rows (no dedupe skip, no
    /// resolution): the baseline `gatehouse-bench events` compares against.
    #[cfg(feature = "testing")]
    async fn load_event_rows(&mut self, rows: &[EventRow<'_>]) -> Result<u64>;
}

/// `INSERT INTO login_events … VALUES (…), (…)` for `rows`, `suffix` after it.
fn multi_row_insert<'q, DB>(rows: &'q [EventRow<'q>], suffix: &str) -> sqlx::QueryBuilder<DB>
where
    DB: sqlx::Database,
    <DB as sqlx::Database>::Arguments: Default,
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<i64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<&'q str>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<&'q [u8]>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    &'q [u8]: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let mut q = sqlx::QueryBuilder::<DB>::new(format!("INSERT INTO login_events ({COLUMNS}) "));
    q.push_values(rows, |mut b, r| {
        let e = r.event;
        b.push_bind(e.time.as_millis())
            .push_bind(e.account.as_str())
            .push_bind(r.account_id.as_deref())
            .push_bind(e.ip.as_str())
            .push_bind(e.user_agent.as_deref())
            .push_bind(e.outcome.as_str())
            .push_bind(e.country.as_deref())
            .push_bind(e.asn.map(i64::from))
            .push_bind(e.origin.as_str())
            .push_bind(e.password_digest.as_ref().map(|d| &d[..]))
            .push_bind(&e.dedupe_key[..])
            .push_bind(e.received_at.as_millis());
    });
    q.push(suffix);
    q
}

#[async_trait]
impl BulkEvents for sqlx::SqliteConnection {
    async fn insert_event_rows(&mut self, rows: &[EventRow<'_>]) -> Result<u64> {
        // 12 parameters a row: 1,000 rows (the API's batch) stay below
        // SQLite's 32,766.
        let mut inserted = 0;
        for chunk in rows.chunks(1000) {
            inserted +=
                multi_row_insert::<sqlx::Sqlite>(chunk, " ON CONFLICT (dedupe_key) DO NOTHING")
                    .build()
                    .execute(&mut *self)
                    .await?
                    .rows_affected();
        }
        Ok(inserted)
    }

    async fn accounts_named(&mut self, names: &[&str]) -> Result<Vec<(String, String)>> {
        // One query per 500 names (two parameters each, under SQLite's limit).
        let mut found = Vec::new();
        for chunk in names.chunks(500) {
            let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
                "SELECT id, email_key FROM accounts WHERE email_key IN (",
            );
            let mut list = q.separated(", ");
            for name in chunk {
                list.push_bind(*name);
            }
            q.push(") OR id IN (");
            let mut list = q.separated(", ");
            for name in chunk {
                list.push_bind(*name);
            }
            q.push(")");
            found.extend(
                q.build_query_as::<(String, String)>()
                    .fetch_all(&mut *self)
                    .await?,
            );
        }
        Ok(found)
    }

    #[cfg(feature = "testing")]
    async fn load_event_rows(&mut self, rows: &[EventRow<'_>]) -> Result<u64> {
        let mut loaded = 0;
        for chunk in rows.chunks(1000) {
            loaded += multi_row_insert::<sqlx::Sqlite>(chunk, "")
                .build()
                .execute(&mut *self)
                .await?
                .rows_affected();
        }
        Ok(loaded)
    }
}

/// The rows in `COPY … FROM STDIN` text format.
fn copy_text<'r>(rows: impl IntoIterator<Item = &'r EventRow<'r>>) -> String {
    fn text(out: &mut String, v: Option<&str>) {
        let Some(v) = v else {
            out.push_str("\\N");
            return;
        };
        for c in v.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\t' => out.push_str("\\t"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                c => out.push(c),
            }
        }
    }
    // bytea in hex (`\x…`), its backslash escaped for the text format.
    fn bytes(out: &mut String, v: Option<&[u8]>) {
        let Some(v) = v else {
            out.push_str("\\N");
            return;
        };
        out.push_str("\\\\x");
        for b in v {
            let _ = write!(out, "{b:02x}");
        }
    }
    let mut out = String::new();
    for r in rows {
        let e = r.event;
        let _ = write!(out, "{}\t", e.time.as_millis());
        text(&mut out, Some(&e.account));
        out.push('\t');
        text(&mut out, r.account_id.as_deref());
        out.push('\t');
        text(&mut out, Some(&e.ip));
        out.push('\t');
        text(&mut out, e.user_agent.as_deref());
        out.push('\t');
        text(&mut out, Some(e.outcome.as_str()));
        out.push('\t');
        text(&mut out, e.country.as_deref());
        out.push('\t');
        match e.asn {
            Some(asn) => {
                let _ = write!(out, "{asn}");
            }
            None => out.push_str("\\N"),
        }
        out.push('\t');
        text(&mut out, Some(e.origin.as_str()));
        out.push('\t');
        bytes(&mut out, e.password_digest.as_ref().map(|d| &d[..]));
        out.push('\t');
        bytes(&mut out, Some(&e.dedupe_key[..]));
        let _ = writeln!(out, "\t{}", e.received_at.as_millis());
    }
    out
}

/// Sends `rows` with `COPY <target> FROM STDIN`. Returns the rows copied.
async fn copy_rows<'r>(
    conn: &mut sqlx::PgConnection,
    target: &str,
    rows: impl IntoIterator<Item = &'r EventRow<'r>>,
) -> std::result::Result<u64, sqlx::Error> {
    let mut copy = conn
        .copy_in_raw(&format!("COPY {target} ({COLUMNS}) FROM STDIN"))
        .await?;
    if let Err(e) = copy.send(copy_text(rows).into_bytes()).await {
        // Ends the COPY so the connection is usable (and the error is the cause).
        let _ = copy.abort(e.to_string()).await;
        return Err(e);
    }
    copy.finish().await
}

/// Batches at least this large are `COPY`d on PostgreSQL.
const COPY_FROM: usize = 64;

/// The rows whose dedupe key is neither stored already nor used by an
/// earlier row of the batch, in the batch's order.
async fn unseen_rows<'r>(
    conn: &mut sqlx::PgConnection,
    rows: &'r [EventRow<'r>],
) -> Result<Vec<&'r EventRow<'r>>> {
    let mut seen = std::collections::HashSet::with_capacity(rows.len());
    let first: Vec<&EventRow<'_>> = rows
        .iter()
        .filter(|r| seen.insert(r.event.dedupe_key))
        .collect();
    let keys: Vec<&[u8]> = first.iter().map(|r| &r.event.dedupe_key[..]).collect();
    // One probe of the unique index per key; no sort, no row written.
    let stored: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT dedupe_key FROM login_events WHERE dedupe_key = ANY($1)")
            .bind(keys)
            .fetch_all(&mut *conn)
            .await?;
    if stored.is_empty() {
        return Ok(first);
    }
    let stored: std::collections::HashSet<&[u8]> = stored.iter().map(Vec::as_slice).collect();
    Ok(first
        .into_iter()
        .filter(|r| !stored.contains(&r.event.dedupe_key[..]))
        .collect())
}

/// `COPY` into a session-local staging table, then one `INSERT … SELECT …
/// ON CONFLICT DO NOTHING`: exact whatever concurrent writers do, at the
/// price of writing every row twice (the fallback of the direct `COPY`).
async fn insert_via_staging(conn: &mut sqlx::PgConnection, rows: &[EventRow<'_>]) -> Result<u64> {
    // A staging table per session, emptied by every commit: created the
    // first time a connection needs it. Temporary tables skip the WAL, and
    // this one has no index, so the COPY costs only the parsing.
    let exists: bool =
        sqlx::query_scalar("SELECT to_regclass('pg_temp.login_events_incoming') IS NOT NULL")
            .fetch_one(&mut *conn)
            .await?;
    if !exists {
        sqlx::query(
            "CREATE TEMPORARY TABLE login_events_incoming (\
             ord BIGSERIAL, time BIGINT NOT NULL, account TEXT NOT NULL, account_id TEXT, \
             ip TEXT NOT NULL, user_agent TEXT, outcome TEXT NOT NULL, country TEXT, \
             asn BIGINT, origin TEXT NOT NULL, password_digest BYTEA, \
             dedupe_key BYTEA NOT NULL, received_at BIGINT NOT NULL) \
             ON COMMIT DELETE ROWS",
        )
        .execute(&mut *conn)
        .await?;
    }
    copy_rows(conn, "login_events_incoming", rows).await?;
    // In the batch's order (ids follow it, as they did with VALUES); a key
    // stored already, or repeated in the batch, is skipped.
    let inserted = sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO login_events ({COLUMNS}) SELECT {COLUMNS} FROM login_events_incoming \
         ORDER BY ord ON CONFLICT (dedupe_key) DO NOTHING"
    )))
    .execute(&mut *conn)
    .await?
    .rows_affected();
    // Emptied now, not only at commit, should a caller insert twice in one
    // transaction (a DELETE: TRUNCATE would make a new file each time).
    sqlx::query("DELETE FROM login_events_incoming")
        .execute(&mut *conn)
        .await?;
    Ok(inserted)
}

#[async_trait]
impl BulkEvents for sqlx::PgConnection {
    async fn insert_event_rows(&mut self, rows: &[EventRow<'_>]) -> Result<u64> {
        // A login's own event (one row) or a small batch: the extra
        // statements would cost more than they save.
        if rows.len() < COPY_FROM {
            return Ok(multi_row_insert::<sqlx::Postgres>(
                rows,
                " ON CONFLICT (dedupe_key) DO NOTHING",
            )
            .build()
            .execute(&mut *self)
            .await?
            .rows_affected());
        }
        let fresh = unseen_rows(self, rows).await?;
        if fresh.is_empty() {
            return Ok(0);
        }
        // The savepoint undoes only a failed COPY, not the caller's work
        // before it in the same transaction (the accounts it resolved).
        sqlx::raw_sql("SAVEPOINT login_events_copy")
            .execute(&mut *self)
            .await?;
        match copy_rows(self, "login_events", fresh.iter().copied()).await {
            Ok(copied) => {
                sqlx::raw_sql("RELEASE SAVEPOINT login_events_copy")
                    .execute(&mut *self)
                    .await?;
                Ok(copied)
            }
            // A key stored by a concurrent writer since the probe above.
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                tracing::debug!(
                    "login events: a key was stored concurrently; inserting with ON CONFLICT"
                );
                sqlx::raw_sql("ROLLBACK TO SAVEPOINT login_events_copy")
                    .execute(&mut *self)
                    .await?;
                insert_via_staging(self, rows).await
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn accounts_named(&mut self, names: &[&str]) -> Result<Vec<(String, String)>> {
        // One statement text whatever the batch's count of names, so it is
        // prepared once per connection (an `IN` list of N parameters was a new
        // statement, parsed and planned, for every N).
        Ok(sqlx::query_as(
            "SELECT id, email_key FROM accounts WHERE email_key = ANY($1) OR id = ANY($1)",
        )
        .bind(names)
        .fetch_all(&mut *self)
        .await?)
    }

    #[cfg(feature = "testing")]
    async fn load_event_rows(&mut self, rows: &[EventRow<'_>]) -> Result<u64> {
        Ok(copy_rows(self, "login_events", rows).await?)
    }
}
