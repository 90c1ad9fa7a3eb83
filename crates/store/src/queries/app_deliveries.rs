//! The app-delivery outbox (back-channel logout tokens).
//!
//! The SQL both engines run (see `queries/mod.rs`). The `owe_logouts_*_in`
//! helpers are called inside the transactions that end or suspend sessions;
//! the trait is the sender's and the operators' side.

use async_trait::async_trait;
use gatehouse_domain::audit::NewAuditEntry;
use gatehouse_domain::{AccountId, SessionId, Timestamp};
use sqlx::Row as _;

use super::{Conn, Db, DbRow, EngineStore, lock};
use crate::sql::parse;
use crate::{
    AppClaim, AppDelivery, AppDeliveryCount, AppDeliveryFilter, AppDeliveryStore,
    ClaimedAppDelivery, Result,
};

/// A row's columns, and its stored token from `app_delivery_tokens` (migration
/// 0020: the token is kept out of the row the claim and the settle rewrite).
/// For a statement on `app_deliveries` without an alias (the claim's
/// `RETURNING` too: both engines allow a subquery there).
const DELIVERY_COLUMNS: &str = "id, kind, stream_id, event_type, event, client_id, account_id, \
    session_id, reason, event_at, state, attempts, next_attempt_at, last_error, created_at, \
    sent_at, (SELECT t.token FROM app_delivery_tokens t WHERE t.id = app_deliveries.id) AS token";

/// Not held by a paused stream: a paused stream's SETs wait (SSF §8.1.2:
/// held, not sent, not dropped). A row is due when it is pending and due, or
/// leased by a sender that died (its lease ran out), and not held.
const NOT_HELD: &str = "(d.kind = 'logout' OR NOT EXISTS (SELECT 1 FROM ssf_streams st WHERE \
    st.id = d.stream_id AND st.status = 'paused'))";

/// Which sessions just ended, for [`EngineStore::owe_logouts_in`].
pub(super) enum Ended<'a> {
    /// One session, revoked at `now`.
    Session(SessionId),
    /// The account's sessions revoked at `now`, but `keep`.
    AccountRevoked(AccountId, Option<SessionId>),
    /// The accounts' sessions a campaign suspended.
    SuspendedBy(&'a str, &'a [String]),
}

impl EngineStore {
    /// Finishes a per-client count over some accounts and adds it to `out`:
    /// `q` ends with `<account column> IN (`; this appends the accounts,
    /// `) GROUP BY <group>` (the client id column), and adds each row's
    /// (`client_id`, `n`). The campaign preview's counts of app sessions and
    /// of SETs share it; callers pass at most 1,000 accounts, far below both
    /// engines' bind limits.
    pub(super) async fn add_counts_per_client(
        &self,
        mut q: sqlx::QueryBuilder<Db>,
        accounts: &[AccountId],
        group: &str,
        out: &mut std::collections::BTreeMap<String, i64>,
    ) -> Result<()> {
        let mut list = q.separated(", ");
        for a in accounts {
            list.push_bind(a.to_string());
        }
        list.push_unseparated(") GROUP BY ");
        q.push(group);
        for row in q.build().fetch_all(&self.pool).await? {
            *out.entry(row.try_get("client_id")?).or_default() += row.try_get::<i64, _>("n")?;
        }
        Ok(())
    }

    /// Writes one delivery row per (session that just ended, client with a
    /// logout URI holding a grant in it), with one `INSERT … SELECT` joined to
    /// `oidc_grants`, in the caller's transaction. A session that already
    /// owes its apps a token (suspended, then revoked) gets no second one:
    /// the unique index `app_deliveries_once` turns the repeat into nothing.
    ///
    /// The row id is the token's `jti`: the session, the client and the end's
    /// time in milliseconds — unique per (session end, client), fixed here,
    /// and it tells the receiver nothing the token's `sid` and `aud` do not.
    pub(super) async fn owe_logouts_in(
        conn: &mut Conn,
        ended: Ended<'_>,
        now: Timestamp,
        reason: &str,
    ) -> Result<u64> {
        let mut q = sqlx::QueryBuilder::<Db>::new(
            "INSERT INTO app_deliveries (id, client_id, account_id, session_id, reason, \
             event_at, state, attempts, next_attempt_at, created_at) \
             SELECT DISTINCT s.id || '.' || g.client_id || '.' || ",
        );
        q.push_bind(now.as_millis().to_string())
            .push(", g.client_id, s.account_id, s.id, ")
            .push_bind(reason.to_owned())
            .push(", ")
            .push_bind(now.as_millis())
            .push(", 'pending', 0, ")
            .push_bind(now.as_millis())
            .push(", ")
            .push_bind(now.as_millis())
            .push(
                " FROM sessions s JOIN oidc_grants g ON g.session_id = s.id \
                 JOIN oidc_clients c ON c.id = g.client_id \
                 WHERE c.backchannel_logout_uri IS NOT NULL AND c.disabled_at IS NULL",
            );
        if !Self::push_ended(&mut q, &ended, now) {
            return Ok(0);
        }
        q.push(" ON CONFLICT DO NOTHING");
        let owed = q.build().execute(&mut *conn).await?.rows_affected();
        // The receivers' streams are told too (CAEP session-revoked), in the
        // same transaction: every path that owes a logout token owes SETs.
        Self::owe_session_sets_in(conn, &ended, now, reason).await?;
        Ok(owed)
    }

    /// Appends the condition naming the sessions that just ended (alias `s`,
    /// after a `WHERE`). `false` when it names none.
    pub(super) fn push_ended(
        q: &mut sqlx::QueryBuilder<Db>,
        ended: &Ended<'_>,
        now: Timestamp,
    ) -> bool {
        match ended {
            Ended::Session(id) => {
                q.push(" AND s.id = ").push_bind(id.to_string());
            }
            Ended::AccountRevoked(account, keep) => {
                q.push(" AND s.account_id = ")
                    .push_bind(account.to_string())
                    .push(" AND s.state = 'revoked' AND s.ended_at = ")
                    .push_bind(now.as_millis())
                    .push(" AND s.id <> ")
                    .push_bind(keep.map(|s| s.to_string()).unwrap_or_default());
            }
            Ended::SuspendedBy(campaign, accounts) => {
                if accounts.is_empty() {
                    return false;
                }
                q.push(" AND s.state = 'suspended' AND s.suspended_by = ")
                    .push_bind((*campaign).to_owned())
                    .push(" AND s.account_id IN (");
                let mut list = q.separated(", ");
                for a in accounts.iter() {
                    list.push_bind(a.clone());
                }
                list.push_unseparated(")");
            }
        }
        true
    }

    /// Before an undo reinstates an account's sessions: their delivery rows
    /// stay (what was sent was sent) but no longer count as the session's
    /// end, so a later end of the reinstated session owes a new token.
    pub(super) async fn mark_reinstated_in(
        conn: &mut Conn,
        account: &str,
        campaign: &str,
        reinstate_after: Timestamp,
        now: Timestamp,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE app_deliveries SET reinstated_at = $1 WHERE reinstated_at IS NULL AND \
             session_id IN (SELECT id FROM sessions WHERE account_id = $2 AND state = \
             'suspended' AND suspended_by = $3 AND created_at >= $4 AND expires_at > $1)",
        )
        .bind(now.as_millis())
        .bind(account)
        .bind(campaign)
        .bind(reinstate_after.as_millis())
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    fn delivery_from(row: &DbRow) -> Result<AppDelivery> {
        Ok(AppDelivery {
            id: row.try_get("id")?,
            kind: parse("delivery kind", &row.try_get::<String, _>("kind")?)?,
            stream_id: row.try_get("stream_id")?,
            event_type: row.try_get("event_type")?,
            event: row.try_get("event")?,
            client_id: row.try_get("client_id")?,
            account: row.try_get("account_id")?,
            session: row.try_get("session_id")?,
            reason: row.try_get("reason")?,
            event_at: Timestamp::from_millis(row.try_get("event_at")?),
            state: parse("delivery state", &row.try_get::<String, _>("state")?)?,
            attempts: row.try_get("attempts")?,
            next_attempt_at: Timestamp::from_millis(row.try_get("next_attempt_at")?),
            last_error: row.try_get("last_error")?,
            created_at: Timestamp::from_millis(row.try_get("created_at")?),
            sent_at: row
                .try_get::<Option<i64>, _>("sent_at")?
                .map(Timestamp::from_millis),
            token: row.try_get("token")?,
        })
    }
}

#[async_trait]
impl AppDeliveryStore for EngineStore {
    async fn due_app_receivers(&self, now: Timestamp) -> Result<Vec<String>> {
        // Per client rather than DISTINCT over the rows: a 100,000-token
        // queue costs one index seek per client, not a scan, twice a second.
        // Two EXISTS, each an index range on (client_id, state, next_attempt_at)
        // or the leased index; a paused stream's rows are skipped one by one,
        // a logout row ends the search at once.
        Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT c.id FROM oidc_clients c WHERE EXISTS (SELECT 1 FROM app_deliveries d \
             WHERE d.client_id = c.id AND d.state = 'pending' AND d.next_attempt_at <= $1 AND \
             {NOT_HELD}) OR EXISTS (SELECT 1 FROM app_deliveries d WHERE d.client_id = c.id AND \
             d.state = 'sending' AND d.lease_until <= $1 AND {NOT_HELD}) ORDER BY c.id"
        )))
        .bind(now.as_millis())
        .fetch_all(&self.pool)
        .await?)
    }

    async fn claim_app_deliveries(&self, c: &AppClaim<'_>) -> Result<Vec<ClaimedAppDelivery>> {
        let mut tx = self.begin_write().await?;
        // Where each kind goes now: read before the rows, once per claim.
        let client = sqlx::query(
            "SELECT backchannel_logout_uri, disabled_at FROM oidc_clients WHERE id = $1",
        )
        .bind(c.client_id)
        .fetch_optional(&mut *tx)
        .await?;
        let (enabled, logout_uri) = match &client {
            Some(row) if row.try_get::<Option<i64>, _>("disabled_at")?.is_none() => (
                true,
                row.try_get::<Option<String>, _>("backchannel_logout_uri")?,
            ),
            _ => (false, None),
        };
        // The receiver's stream (one per client): where its SETs go now.
        let stream = sqlx::query(
            "SELECT id, endpoint_url, authorization_header FROM ssf_streams WHERE client_id = $1 \
             AND status <> 'disabled'",
        )
        .bind(c.client_id)
        .fetch_optional(&mut *tx)
        .await?;
        let stream: Option<(String, String, Option<String>)> = match stream {
            Some(r) if enabled => Some((
                r.try_get("id")?,
                r.try_get("endpoint_url")?,
                r.try_get("authorization_header")?,
            )),
            _ => None,
        };
        // The lease in one statement: the due rows are chosen and leased, and
        // come back whole, in one pass (a SELECT then an UPDATE … RETURNING
        // sent every row through the engine twice). The two kinds of due row
        // are chosen apart, each along its index in the claim's order and
        // stopping at the claim's size — one `OR` over both made the engine
        // read and sort the receiver's whole backlog for every claim. The
        // placeholders appear in their numbers' order, as SQLite numbers
        // them by first use.
        let leased = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE app_deliveries SET state = 'sending', attempts = attempts + 1, lease_id = $1, \
             lease_until = $2 WHERE id IN (SELECT id FROM (\
             SELECT id, next_attempt_at FROM (SELECT d.id, d.next_attempt_at FROM app_deliveries d \
             WHERE d.client_id = $3 AND d.state = 'pending' AND d.next_attempt_at <= $4 AND \
             {NOT_HELD} ORDER BY d.next_attempt_at LIMIT $5 {lock}) pending UNION ALL \
             SELECT id, next_attempt_at FROM (SELECT d.id, d.next_attempt_at FROM app_deliveries d \
             WHERE d.client_id = $3 AND d.state = 'sending' AND d.lease_until <= $4 AND \
             {NOT_HELD} ORDER BY d.lease_until LIMIT $5 {lock}) lapsed\
             ) due ORDER BY next_attempt_at, id LIMIT $5) RETURNING {DELIVERY_COLUMNS}",
            lock = lock!()
        )))
        .bind(c.lease_id)
        .bind(c.now.plus(c.lease).as_millis())
        .bind(c.client_id)
        .bind(c.now.as_millis())
        .bind(c.limit.max(1))
        .fetch_all(&mut *tx)
        .await?;
        // Each row goes where its kind says, or fails (visible, retryable)
        // when there is nowhere to send it any more.
        let mut claimed = Vec::with_capacity(leased.len());
        let mut orphaned: Vec<(String, &'static str)> = Vec::new();
        for r in &leased {
            let delivery = Self::delivery_from(r)?;
            let to = match delivery.kind {
                crate::AppDeliveryKind::Set => match &stream {
                    Some((sid, url, auth)) if delivery.stream_id.as_deref() == Some(sid) => {
                        Ok((url.clone(), auth.clone()))
                    }
                    _ => {
                        Err("the receiver's stream is gone or disabled, or the client is disabled")
                    }
                },
                crate::AppDeliveryKind::Logout => match &logout_uri {
                    Some(uri) if enabled => Ok((uri.clone(), None)),
                    _ => Err("the client has no back-channel logout URI any more, or is disabled"),
                },
            };
            match to {
                Ok((uri, authorization)) => claimed.push(ClaimedAppDelivery {
                    delivery,
                    uri,
                    authorization,
                }),
                Err(why) => orphaned.push((delivery.id, why)),
            }
        }
        for (id, why) in &orphaned {
            // Not an attempt: the lease's count is undone.
            sqlx::query(
                "UPDATE app_deliveries SET state = 'failed', attempts = attempts - 1, \
                 lease_id = NULL, lease_until = NULL, last_error = $1 WHERE id = $2",
            )
            .bind(*why)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        claimed.sort_by(|a, b| {
            (a.delivery.next_attempt_at, &a.delivery.id)
                .cmp(&(b.delivery.next_attempt_at, &b.delivery.id))
        });
        Ok(claimed)
    }

    async fn unsigned_sets(&self, limit: i64) -> Result<Vec<AppDelivery>> {
        // The partial index `app_deliveries_unsigned` in its order.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {DELIVERY_COLUMNS} FROM app_deliveries WHERE kind = 'set' AND state = \
             'pending' AND signed = 0 ORDER BY next_attempt_at, id LIMIT $1"
        )))
        .bind(limit.max(1))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(Self::delivery_from)
        .collect()
    }

    async fn store_set_tokens(&self, tokens: &[(String, String)]) -> Result<u64> {
        let mut stored = 0;
        // Up to 1,000 binds a statement: far below both engines' limits.
        for chunk in tokens.chunks(500) {
            let mut tx = self.begin_write().await?;
            // Marked first: the rows still there, still unsigned SETs (on
            // PostgreSQL now locked, so a stream's deletion cannot remove
            // them before their tokens are in).
            let mut q = sqlx::QueryBuilder::<Db>::new(
                "UPDATE app_deliveries SET signed = 1 WHERE signed = 0 AND kind = 'set' AND id IN (",
            );
            let mut list = q.separated(", ");
            for (id, _) in chunk {
                list.push_bind(id.clone());
            }
            list.push_unseparated(") RETURNING id");
            let marked: std::collections::HashSet<String> = q
                .build_query_scalar::<String>()
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .collect();
            if !marked.is_empty() {
                let mut q =
                    sqlx::QueryBuilder::<Db>::new("INSERT INTO app_delivery_tokens (id, token) ");
                q.push_values(
                    chunk.iter().filter(|(id, _)| marked.contains(id)),
                    |mut row, (id, token)| {
                        row.push_bind(id.clone()).push_bind(token.clone());
                    },
                );
                q.push(" ON CONFLICT (id) DO NOTHING");
                q.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
            stored += marked.len() as u64;
        }
        Ok(stored)
    }

    async fn app_delivery_sent(&self, id: &str, lease_id: &str, now: Timestamp) -> Result<bool> {
        Ok(sqlx::query(
            "UPDATE app_deliveries SET state = 'sent', sent_at = $1, last_error = NULL, \
             lease_id = NULL, lease_until = NULL WHERE id = $2 AND lease_id = $3 AND state = \
             'sending'",
        )
        .bind(now.as_millis())
        .bind(id)
        .bind(lease_id)
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1)
    }

    async fn app_deliveries_sent(
        &self,
        ids: &[String],
        lease_id: &str,
        now: Timestamp,
    ) -> Result<u64> {
        if ids.is_empty() {
            return Ok(0);
        }
        let mut q = sqlx::QueryBuilder::<Db>::new(
            "UPDATE app_deliveries SET state = 'sent', last_error = NULL, lease_id = NULL, \
             lease_until = NULL, sent_at = ",
        );
        q.push_bind(now.as_millis())
            // `state || ''`: found by the primary key, one lookup per id, not
            // along the state index through every leased row.
            .push(" WHERE state || '' = 'sending' AND lease_id = ")
            .push_bind(lease_id.to_owned())
            .push(" AND id IN (");
        let mut list = q.separated(", ");
        for id in ids {
            list.push_bind(id.clone());
        }
        list.push_unseparated(")");
        Ok(q.build().execute(&self.pool).await?.rows_affected())
    }

    async fn release_app_deliveries(&self, ids: &[String], lease_id: &str) -> Result<u64> {
        if ids.is_empty() {
            return Ok(0);
        }
        let mut q = sqlx::QueryBuilder::<Db>::new(
            "UPDATE app_deliveries SET state = 'pending', attempts = attempts - 1, \
             lease_id = NULL, lease_until = NULL WHERE state = 'sending' AND lease_id = ",
        );
        q.push_bind(lease_id.to_owned()).push(" AND id IN (");
        let mut list = q.separated(", ");
        for id in ids {
            list.push_bind(id.clone());
        }
        list.push_unseparated(")");
        Ok(q.build().execute(&self.pool).await?.rows_affected())
    }

    async fn app_delivery_retry(
        &self,
        id: &str,
        lease_id: &str,
        next_attempt_at: Timestamp,
        error: &str,
    ) -> Result<bool> {
        Ok(sqlx::query(
            "UPDATE app_deliveries SET state = 'pending', next_attempt_at = $1, last_error = $2, \
             lease_id = NULL, lease_until = NULL WHERE id = $3 AND lease_id = $4 AND state = \
             'sending'",
        )
        .bind(next_attempt_at.as_millis())
        .bind(error)
        .bind(id)
        .bind(lease_id)
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1)
    }

    async fn app_delivery_failed(&self, id: &str, lease_id: &str, error: &str) -> Result<bool> {
        Ok(sqlx::query(
            "UPDATE app_deliveries SET state = 'failed', last_error = $1, lease_id = NULL, \
             lease_until = NULL WHERE id = $2 AND lease_id = $3 AND state = 'sending'",
        )
        .bind(error)
        .bind(id)
        .bind(lease_id)
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1)
    }

    async fn app_deliveries(&self, f: &AppDeliveryFilter) -> Result<Vec<AppDelivery>> {
        let mut q = sqlx::QueryBuilder::<Db>::new(format!(
            "SELECT {DELIVERY_COLUMNS} FROM app_deliveries WHERE 1 = 1"
        ));
        if let Some(state) = f.state {
            // A literal, not a bind: the engines use a partial index (one per
            // state, `app_deliveries_pending` …) only when the query's own
            // text implies its `WHERE`. The state is one of four fixed words.
            q.push(format!(" AND state = '{}'", state.as_str()));
        }
        if let Some(client) = &f.client_id {
            q.push(" AND client_id = ").push_bind(client.clone());
        }
        q.push(" ORDER BY created_at DESC, id LIMIT ")
            .push_bind(f.limit.clamp(1, 1000));
        q.build()
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(Self::delivery_from)
            .collect()
    }

    async fn app_delivery_counts(&self) -> Result<Vec<AppDeliveryCount>> {
        // One state at a time, each along its partial index (a `GROUP BY
        // client_id, state` over the table would read every row: no index
        // holds `state` for all of them since migration 0019).
        sqlx::query(sqlx::AssertSqlSafe(
            ["pending", "sending", "sent", "failed"]
                .map(|state| {
                    format!(
                        "SELECT client_id, '{state}' AS state, COUNT(*) AS n FROM \
                         app_deliveries WHERE state = '{state}' GROUP BY client_id"
                    )
                })
                .join(" UNION ALL ")
                + " ORDER BY client_id, state",
        ))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(AppDeliveryCount {
                client_id: r.try_get("client_id")?,
                state: parse("delivery state", &r.try_get::<String, _>("state")?)?,
                count: r.try_get("n")?,
            })
        })
        .collect()
    }

    async fn retry_failed_app_delivery(
        &self,
        id: &str,
        now: Timestamp,
        audit: NewAuditEntry,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE app_deliveries SET state = 'pending', attempts = 0, next_attempt_at = $1 \
             WHERE id = $2 AND state = 'failed'",
        )
        .bind(now.as_millis())
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if done {
            Self::append_audit_in(&mut tx, &audit).await?;
        }
        tx.commit().await?;
        Ok(done)
    }

    async fn purge_app_deliveries(&self, before: Timestamp) -> Result<u64> {
        Ok(
            sqlx::query("DELETE FROM app_deliveries WHERE state = 'sent' AND sent_at < $1")
                .bind(before.as_millis())
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }

    async fn app_sessions_of(
        &self,
        accounts: &[AccountId],
        now: Timestamp,
    ) -> Result<Vec<(String, i64)>> {
        let mut out: std::collections::BTreeMap<String, i64> = Default::default();
        for chunk in accounts.chunks(1000) {
            let mut q = sqlx::QueryBuilder::<Db>::new(
                "SELECT g.client_id, COUNT(DISTINCT s.id) AS n FROM sessions s \
                 JOIN oidc_grants g ON g.session_id = s.id \
                 JOIN oidc_clients c ON c.id = g.client_id \
                 WHERE c.backchannel_logout_uri IS NOT NULL AND c.disabled_at IS NULL \
                 AND s.state = 'active' AND s.expires_at > ",
            );
            q.push_bind(now.as_millis()).push(" AND s.account_id IN (");
            self.add_counts_per_client(q, chunk, "g.client_id", &mut out)
                .await?;
        }
        Ok(out.into_iter().collect())
    }
}
