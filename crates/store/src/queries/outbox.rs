//! The notice outbox: enqueue with a state change, claim with a lease, settle.
//!
//! The SQL both engines run (see `queries/mod.rs`).

use async_trait::async_trait;
use gatehouse_domain::audit::NewAuditEntry;
use gatehouse_domain::{NoticeId, NoticeKind, Timestamp};
use sqlx::Row as _;

use super::{Conn, Db, DbRow, EngineStore, lock};
use crate::error::unique_as_conflict;
use crate::outbox::recipients::RecipientLocks as _;
use crate::sql::{NOTICE_REFERENCE_TAKEN, STATUS_BUDGET_WINDOW, parse};
use crate::{
    ClaimPolicy, ClaimReport, ClaimedNotice, NewNotice, Notice, NoticeFilter, NoticeState,
    OutboxStore, Result, StoreError,
};

const NOTICE_COLUMNS: &str = "id, reference, kind, account_id, recipient, state, attempts, \
    next_attempt_at, last_error, coalesced_into, coalesced_count, created_at, sent_at, \
    expires_at, message_id";

impl EngineStore {
    /// Inserts a notice unless its idempotency key exists. Returns whether it did.
    pub(super) async fn insert_notice_in(conn: &mut Conn, n: &NewNotice) -> Result<bool> {
        Ok(sqlx::query(
            "INSERT INTO outbox (id, reference, idempotency_key, kind, account_id, recipient, \
             recipient_key, \
             payload, message_id, state, attempts, next_attempt_at, coalesced_count, expires_at, \
             created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', 0, $10, 0, $11, $10) \
             ON CONFLICT (idempotency_key) DO NOTHING",
        )
        .bind(n.id.to_string())
        .bind(&n.reference)
        .bind(&n.idempotency_key)
        .bind(n.kind.as_str())
        .bind(n.account.map(|a| a.to_string()))
        .bind(&n.recipient)
        .bind(&n.recipient_key)
        .bind(n.payload.to_string())
        .bind(&n.message_id)
        .bind(n.created_at.as_millis())
        .bind(n.expires_at.map(Timestamp::as_millis))
        .execute(&mut *conn)
        .await
        // The idempotency key is handled above; the only other unique
        // column is the random reference: a collision (one in a
        // million at a million notices) fails the use case, which the
        // caller retries with a fresh reference.
        .map_err(|e| unique_as_conflict(e, NOTICE_REFERENCE_TAKEN))?
        .rows_affected()
            == 1)
    }

    fn notice_from(row: &DbRow) -> Result<Notice> {
        let opt_ts = |v: Option<i64>| v.map(Timestamp::from_millis);
        Ok(Notice {
            id: parse("notice id", &row.try_get::<String, _>("id")?)?,
            reference: row.try_get("reference")?,
            kind: parse("notice kind", &row.try_get::<String, _>("kind")?)?,
            account: row
                .try_get::<Option<String>, _>("account_id")?
                .map(|a| parse("account id", &a))
                .transpose()?,
            recipient: row.try_get("recipient")?,
            state: parse("notice state", &row.try_get::<String, _>("state")?)?,
            attempts: row.try_get("attempts")?,
            next_attempt_at: Timestamp::from_millis(row.try_get("next_attempt_at")?),
            last_error: row.try_get("last_error")?,
            coalesced_into: row
                .try_get::<Option<String>, _>("coalesced_into")?
                .map(|a| parse("notice id", &a))
                .transpose()?,
            coalesced_count: row.try_get("coalesced_count")?,
            created_at: Timestamp::from_millis(row.try_get("created_at")?),
            sent_at: opt_ts(row.try_get("sent_at")?),
            expires_at: opt_ts(row.try_get("expires_at")?),
            message_id: row.try_get("message_id")?,
        })
    }

    /// Over the cap: merges the recipient's pending notices of this kind
    /// into the newest and holds it until the window has room.
    async fn hold_over_cap_in(
        conn: &mut Conn,
        p: &ClaimPolicy,
        current: &str,
        recipient_key: &str,
        kind: &str,
        settled: &mut std::collections::HashSet<String>,
    ) -> Result<(String, String, i64, u64)> {
        let now = p.now.as_millis();
        // SKIP LOCKED: never wait for a row another claimer holds (no deadlock).
        let rows = sqlx::query(concat!(
            "SELECT id, reference, recipient, coalesced_count FROM outbox \
             WHERE recipient_key = $1 AND kind = $2 AND (state = 'pending' OR id = $3) \
             ORDER BY created_at DESC ",
            lock!()
        ))
        .bind(recipient_key)
        .bind(kind)
        .bind(current)
        .fetch_all(&mut *conn)
        .await?;
        let survivor = rows
            .first()
            .ok_or_else(|| StoreError::corrupt("claimed notice vanished"))?;
        let survivor_id: String = survivor.try_get("id")?;
        let mut merged: i64 = survivor.try_get("coalesced_count")?;
        settled.insert(survivor_id.clone());
        for row in &rows[1..] {
            let id: String = row.try_get("id")?;
            settled.insert(id.clone());
            merged += 1 + row.try_get::<i64, _>("coalesced_count")?;
            sqlx::query(
                "UPDATE outbox SET state = 'coalesced', coalesced_into = $1, payload = NULL, \
                 lease_id = NULL, lease_until = NULL WHERE id = $2",
            )
            .bind(&survivor_id)
            .bind(&id)
            .execute(&mut *conn)
            .await?;
        }
        let oldest: Option<i64> = sqlx::query(
            "SELECT MIN(sent_at) AS t FROM outbox WHERE recipient_key = $1 AND state = 'sent' AND \
             sent_at > $2",
        )
        .bind(recipient_key)
        .bind(p.now.minus(p.cap_window).as_millis())
        .fetch_one(&mut *conn)
        .await?
        .try_get("t")?;
        // Room opens when the oldest notice in the window leaves it; if the
        // cap is filled by notices still being sent, look again in a minute.
        let next = oldest.map_or(now + 60_000, |t| t + p.cap_window.as_millis() as i64);
        sqlx::query(
            "UPDATE outbox SET state = 'pending', lease_id = NULL, lease_until = NULL, \
             next_attempt_at = $1, coalesced_count = $2 WHERE id = $3",
        )
        .bind(next)
        .bind(merged)
        .bind(&survivor_id)
        .execute(&mut *conn)
        .await?;
        Ok((
            survivor.try_get("reference")?,
            survivor.try_get("recipient")?,
            merged,
            (rows.len() - 1) as u64,
        ))
    }

    /// What is left of the status lane's hourly budget: the cap minus the
    /// status mail sent in the last hour or being sent under a live lease.
    /// Locks the lane's row first, so concurrent claimers count one at a time.
    async fn status_budget_in(conn: &mut Conn, p: &ClaimPolicy) -> Result<i64> {
        let now = p.now.as_millis();
        sqlx::query(
            "INSERT INTO outbox_lanes (lane, last_claim_at) VALUES ('status', $1) \
             ON CONFLICT (lane) DO UPDATE SET last_claim_at = excluded.last_claim_at",
        )
        .bind(now)
        .execute(&mut *conn)
        .await?;
        // Two counts, each from its own index (sent status mail by send time;
        // leased rows), where one OR made the planners scan the table.
        let used: i64 = sqlx::query(concat!(
            "SELECT (SELECT COUNT(*) FROM outbox WHERE kind IN ",
            crate::sql::status_kinds!(),
            " AND state = 'sent' AND sent_at > $1) + (SELECT COUNT(*) FROM outbox \
             WHERE state = 'sending' AND lease_until > $2 AND kind IN ",
            crate::sql::status_kinds!(),
            ") AS n"
        ))
        .bind(p.now.minus(STATUS_BUDGET_WINDOW).as_millis())
        .bind(now)
        .fetch_one(&mut *conn)
        .await?
        .try_get("n")?;
        Ok(p.status_per_hour - used)
    }

    /// The status budget is spent: moves due status mail to when the
    /// oldest send leaves the hour (or a minute on, if the budget is held
    /// by sends still in flight), so the worker sleeps instead of asking
    /// again and again. Returns how many notices were moved.
    async fn defer_status_in(conn: &mut Conn, p: &ClaimPolicy) -> Result<u64> {
        let now = p.now.as_millis();
        let oldest: Option<i64> = sqlx::query(concat!(
            "SELECT MIN(sent_at) AS t FROM outbox WHERE kind IN ",
            crate::sql::status_kinds!(),
            " AND state = 'sent' AND sent_at > $1"
        ))
        .bind(p.now.minus(STATUS_BUDGET_WINDOW).as_millis())
        .fetch_one(&mut *conn)
        .await?
        .try_get("t")?;
        let next = oldest.map_or(now + 60_000, |t| {
            t + STATUS_BUDGET_WINDOW.as_millis() as i64 + 1
        });
        Ok(sqlx::query(concat!(
            "UPDATE outbox SET next_attempt_at = $1 WHERE state = 'pending' AND next_attempt_at \
             <= $2 \
             AND kind IN ",
            crate::sql::status_kinds!()
        ))
        .bind(next.max(now + 1))
        .bind(now)
        .execute(&mut *conn)
        .await?
        .rows_affected())
    }

    /// Inserts notices in batches (skipping idempotency keys that exist).
    pub(super) async fn insert_notices_in<N>(conn: &mut Conn, notices: &[N]) -> Result<u64>
    where
        N: std::borrow::Borrow<NewNotice> + Send + Sync,
    {
        let mut inserted = 0;
        // 13 placeholders a row: 500 rows stay far below both engines' limits.
        for chunk in notices.chunks(500) {
            let mut q = sqlx::QueryBuilder::<Db>::new(
                "INSERT INTO outbox (id, reference, idempotency_key, kind, account_id, recipient, \
                 recipient_key, \
                 payload, message_id, state, attempts, next_attempt_at, coalesced_count, \
                 expires_at, created_at) ",
            );
            q.push_values(chunk, |mut b, n| {
                let n: &NewNotice = n.borrow();
                b.push_bind(n.id.to_string())
                    .push_bind(n.reference.clone())
                    .push_bind(n.idempotency_key.clone())
                    .push_bind(n.kind.as_str())
                    .push_bind(n.account.map(|a| a.to_string()))
                    .push_bind(n.recipient.clone())
                    .push_bind(n.recipient_key.clone())
                    .push_bind(n.payload.to_string())
                    .push_bind(n.message_id.clone())
                    .push("'pending'")
                    .push("0")
                    .push_bind(n.created_at.as_millis())
                    .push("0")
                    .push_bind(n.expires_at.map(Timestamp::as_millis))
                    .push_bind(n.created_at.as_millis());
            });
            q.push(" ON CONFLICT (idempotency_key) DO NOTHING");
            inserted += q
                .build()
                .execute(&mut *conn)
                .await
                // As in insert_notice_in: a reference collision fails the
                // write, and the caller retries with fresh references.
                .map_err(|e| unique_as_conflict(e, NOTICE_REFERENCE_TAKEN))?
                .rows_affected();
        }
        Ok(inserted)
    }
}

#[async_trait]
impl OutboxStore for EngineStore {
    async fn enqueue_notice(
        &self,
        notice: &NewNotice,
        audit: Option<NewAuditEntry>,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let inserted = Self::insert_notice_in(&mut tx, notice).await?;
        if let (true, Some(audit)) = (inserted, audit) {
            Self::append_audit_in(&mut tx, &audit).await?;
        }
        tx.commit().await?;
        Ok(inserted)
    }

    async fn claim_notices(&self, p: &ClaimPolicy) -> Result<ClaimReport> {
        let mut tx = self.begin_write().await?;
        let now = p.now.as_millis();
        let mut report = ClaimReport::default();
        // Separate queries, not one with OR: each walks its own partial index
        // (`outbox_leased` by lease expiry, `outbox_pending_*` in claim order;
        // migration 0016) and stops at the limit, where an OR made both
        // engines read every due row and sort them, once per batch.
        // Sends whose lease ran out (their sender died) go first.
        let mut due = sqlx::query(concat!(
            "SELECT id, recipient_key, kind, expires_at FROM outbox \
             WHERE state = 'sending' AND lease_until <= $1 ORDER BY lease_until LIMIT $2 ",
            lock!()
        ))
        .bind(now)
        .bind(p.limit)
        .fetch_all(&mut *tx)
        .await?;
        // Security notices next, all of them before any status-page mail:
        // a status blast never delays a security notice (each lane's query
        // walks its own partial index, so neither scans the other's rows).
        let room = p.limit - due.len() as i64;
        if room > 0 {
            due.extend(
                sqlx::query(concat!(
                    // While the circuit breaker is open, forced-reset notices wait
                    // (the breaker exists to stop a flood of them); notices people
                    // asked for and corrections keep going.
                    "SELECT id, recipient_key, kind, expires_at FROM outbox \
                     WHERE state = 'pending' AND next_attempt_at <= $1 \
                     AND NOT (kind = 'forced_reset' AND EXISTS (SELECT 1 FROM breaker WHERE id = \
                     1 AND state = 'open')) \
                     AND kind NOT IN ",
                    crate::sql::status_kinds!(),
                    " \
                     ORDER BY next_attempt_at, created_at LIMIT $2 ",
                    lock!()
                ))
                .bind(now)
                .bind(room)
                .fetch_all(&mut *tx)
                .await?,
            );
        }
        // Then status mail, within what is left of its hourly budget. The
        // budget is counted only when some is due, so a claim with no status
        // mail costs no extra statement.
        let room = p.limit - due.len() as i64;
        if room > 0 {
            let status_due = sqlx::query(concat!(
                "SELECT id, recipient_key, kind, expires_at FROM outbox \
                 WHERE state = 'pending' AND next_attempt_at <= $1 \
                 AND kind IN ",
                crate::sql::status_kinds!(),
                " \
                 ORDER BY next_attempt_at, created_at LIMIT $2 ",
                lock!()
            ))
            .bind(now)
            .bind(room)
            .fetch_all(&mut *tx)
            .await?;
            if !status_due.is_empty() {
                // Status mail whose lease ran out is being sent again: it
                // counts against the budget as well.
                let leased_again = due
                    .iter()
                    .map(|r| r.try_get::<String, _>("kind"))
                    .collect::<Result<Vec<_>, _>>()?
                    .iter()
                    .filter(|k| k.parse::<NoticeKind>().is_ok_and(NoticeKind::is_status))
                    .count() as i64;
                let budget = Self::status_budget_in(&mut tx, p).await? - leased_again;
                if budget > 0 {
                    due.extend(status_due.into_iter().take(budget as usize));
                } else {
                    report.status_deferred += Self::defer_status_in(&mut tx, p).await?;
                }
            }
        }
        // A handful of statements per batch, not per notice: on PostgreSQL
        // each statement is a round trip, and the claim is on the delivery path.
        let mut live = Vec::with_capacity(due.len());
        let mut expired = Vec::new();
        for row in &due {
            let id: String = row.try_get("id")?;
            let expires_at: Option<i64> = row.try_get("expires_at")?;
            if expires_at.is_some_and(|e| e <= now) {
                expired.push(id);
            } else {
                live.push((
                    id,
                    row.try_get::<String, _>("recipient_key")?,
                    row.try_get::<String, _>("kind")?,
                ));
            }
        }
        if !expired.is_empty() {
            let mut q = sqlx::QueryBuilder::<Db>::new(
                "UPDATE outbox SET state = 'expired', payload = NULL, lease_id = NULL, \
                 lease_until = NULL \
                 WHERE state IN ('pending', 'sending') AND id IN (",
            );
            let mut list = q.separated(", ");
            for id in &expired {
                list.push_bind(id);
            }
            q.push(")");
            report.expired += q.build().execute(&mut *tx).await?.rows_affected();
        }
        if live.is_empty() {
            tx.commit().await?;
            return Ok(report);
        }
        // Hold the recipients, in one fixed order: concurrent claimers check a
        // recipient's cap one at a time, and cannot deadlock on each other
        // (`outbox/recipients.rs`: nothing is written for it).
        let mut keys: Vec<&str> = live.iter().map(|(_, k, _)| k.as_str()).collect();
        keys.sort_unstable();
        keys.dedup();
        tx.lock_recipients(&keys).await?;
        // What each recipient already has in the cap window: sent recently, or
        // being sent under a live lease.
        let mut q = sqlx::QueryBuilder::<Db>::new(concat!(
            "SELECT recipient_key, COUNT(*) AS n FROM outbox WHERE kind NOT IN ",
            crate::sql::status_kinds!(),
            " AND ((state = 'sent' AND sent_at > "
        ));
        q.push_bind(p.now.minus(p.cap_window).as_millis())
            .push(") OR (state = 'sending' AND lease_until > ")
            .push_bind(now)
            .push(")) AND recipient_key IN (");
        let mut list = q.separated(", ");
        for key in &keys {
            list.push_bind(*key);
        }
        q.push(") GROUP BY recipient_key");
        let mut in_window: std::collections::HashMap<String, i64> = q
            .build()
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| Ok((r.try_get("recipient_key")?, r.try_get("n")?)))
            .collect::<Result<_>>()?;
        // In due order: a notice is claimed while its recipient has room. The
        // rest are held (and merged) after the claim, so a hold never merges a
        // notice this claim is about to send.
        let mut to_claim = Vec::new();
        let mut over_cap = Vec::new();
        for (id, key, kind) in &live {
            // Status mail has its own (hourly, global) budget: it neither
            // uses up nor is held by a person's security-notice cap.
            // Operator alerts (the breaker tripped) are never held either.
            if kind
                .parse::<NoticeKind>()
                .is_ok_and(|k| k.is_status() || k.is_operator_alert())
            {
                to_claim.push(id);
                continue;
            }
            let n = in_window.entry(key.clone()).or_insert(0);
            if *n >= p.cap_per_recipient {
                over_cap.push((id, key, kind));
            } else {
                *n += 1;
                to_claim.push(id);
            }
        }
        if !to_claim.is_empty() {
            let mut q =
                sqlx::QueryBuilder::<Db>::new("UPDATE outbox SET state = 'sending', lease_id = ");
            q.push_bind(&p.lease_id)
                .push(", lease_until = ")
                .push_bind(p.now.plus(p.lease).as_millis())
                .push(
                    ", attempts = attempts + 1 WHERE state IN ('pending', 'sending') AND id IN (",
                );
            let mut list = q.separated(", ");
            for id in &to_claim {
                list.push_bind(*id);
            }
            q.push(format!(") RETURNING {NOTICE_COLUMNS}, payload"));
            let position: std::collections::HashMap<&str, usize> = to_claim
                .iter()
                .enumerate()
                .map(|(i, id)| (id.as_str(), i))
                .collect();
            let mut claimed = Vec::with_capacity(to_claim.len());
            for row in q.build().fetch_all(&mut *tx).await? {
                let payload: Option<String> = row.try_get("payload")?;
                let payload = match payload {
                    Some(text) => serde_json::from_str(&text).map_err(StoreError::corrupt)?,
                    None => serde_json::Value::Null,
                };
                let notice = Self::notice_from(&row)?;
                let at = position
                    .get(notice.id.to_string().as_str())
                    .copied()
                    .unwrap_or(usize::MAX);
                claimed.push((at, ClaimedNotice { notice, payload }));
            }
            // The statement returns rows in no set order; send in due order.
            claimed.sort_by_key(|(at, _)| *at);
            report.claimed = claimed.into_iter().map(|(_, c)| c).collect();
        }
        // Rows a hold already merged: later over-cap rows may be among them.
        let mut settled = std::collections::HashSet::new();
        for (id, key, kind) in over_cap {
            if settled.contains(id) {
                continue;
            }
            let (reference, recipient, merged, coalesced) =
                Self::hold_over_cap_in(&mut tx, p, id, key, kind, &mut settled).await?;
            report.coalesced += coalesced;
            report.held.push((reference, recipient, merged));
        }
        tx.commit().await?;
        Ok(report)
    }

    async fn notices_sent(
        &self,
        ids: &[NoticeId],
        lease_id: &str,
        now: Timestamp,
    ) -> Result<Vec<NoticeId>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        // One placeholder per id ($3, $4, …): both engines take the same
        // text, and only placeholders are formatted in (no values).
        let list = (0..ids.len())
            .map(|i| format!("${}", i + 3))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "UPDATE outbox SET state = 'sent', sent_at = $1, payload = NULL, last_error = NULL, \
             lease_id = NULL, lease_until = NULL WHERE lease_id = $2 AND id IN ({list}) RETURNING \
             id"
        );
        let mut q = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql))
            .bind(now.as_millis())
            .bind(lease_id);
        for id in ids {
            q = q.bind(id.to_string());
        }
        q.fetch_all(&self.pool)
            .await?
            .iter()
            .map(|s| s.parse().map_err(StoreError::corrupt))
            .collect()
    }

    async fn notice_retry(
        &self,
        id: NoticeId,
        lease_id: &str,
        next_attempt_at: Timestamp,
        error: &str,
    ) -> Result<bool> {
        Ok(sqlx::query(
            "UPDATE outbox SET state = 'pending', next_attempt_at = $1, last_error = $2, \
             lease_id = NULL, lease_until = NULL WHERE id = $3 AND lease_id = $4",
        )
        .bind(next_attempt_at.as_millis())
        .bind(error)
        .bind(id.to_string())
        .bind(lease_id)
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1)
    }

    async fn notice_failed(&self, id: NoticeId, lease_id: &str, error: &str) -> Result<bool> {
        Ok(sqlx::query(
            "UPDATE outbox SET state = 'failed', last_error = $1, lease_id = NULL, lease_until = \
             NULL \
             WHERE id = $2 AND lease_id = $3",
        )
        .bind(error)
        .bind(id.to_string())
        .bind(lease_id)
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1)
    }

    async fn notices(&self, f: &NoticeFilter) -> Result<Vec<Notice>> {
        let mut q = sqlx::QueryBuilder::<Db>::new(format!(
            "SELECT {NOTICE_COLUMNS} FROM outbox WHERE 1 = 1"
        ));
        if let Some(state) = f.state {
            q.push(" AND state = ").push_bind(state.as_str());
        }
        if let Some(account) = f.account {
            q.push(" AND account_id = ").push_bind(account.to_string());
        }
        q.push(" ORDER BY created_at DESC, id LIMIT ")
            .push_bind(f.limit.clamp(1, 1000));
        q.build()
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(Self::notice_from)
            .collect()
    }

    async fn notice_by_reference(&self, reference: &str) -> Result<Option<Notice>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {NOTICE_COLUMNS} FROM outbox WHERE reference = $1"
        )))
        .bind(reference)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(Self::notice_from).transpose()
    }

    async fn retry_failed_notice(
        &self,
        id: NoticeId,
        now: Timestamp,
        audit: NewAuditEntry,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = $1 \
             WHERE id = $2 AND state = 'failed' AND payload IS NOT NULL",
        )
        .bind(now.as_millis())
        .bind(id.to_string())
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

    async fn outbox_counts(&self) -> Result<Vec<(NoticeState, i64)>> {
        sqlx::query("SELECT state, COUNT(*) AS n FROM outbox GROUP BY state ORDER BY state")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                Ok((
                    parse("notice state", &r.try_get::<String, _>("state")?)?,
                    r.try_get("n")?,
                ))
            })
            .collect()
    }

    async fn next_notice_due(&self) -> Result<Option<Timestamp>> {
        // The first row of each partial index (pending per lane, leased):
        // three index probes, where one query over both states read them all.
        let t: Option<i64> = sqlx::query(concat!(
            "SELECT MIN(t) AS t FROM (\
             SELECT (SELECT next_attempt_at FROM outbox WHERE state = 'pending' AND kind NOT IN ",
            crate::sql::status_kinds!(),
            " ORDER BY next_attempt_at, created_at LIMIT 1) AS t \
             UNION ALL SELECT (SELECT next_attempt_at FROM outbox WHERE state = 'pending' AND kind \
             IN ",
            crate::sql::status_kinds!(),
            " ORDER BY next_attempt_at, created_at LIMIT 1) AS t \
             UNION ALL SELECT (SELECT lease_until FROM outbox WHERE state = 'sending' \
             ORDER BY lease_until LIMIT 1) AS t) AS due"
        ))
        .fetch_one(&self.pool)
        .await?
        .try_get("t")?;
        Ok(t.map(Timestamp::from_millis))
    }

    async fn purge_notice_payloads(&self, before: Timestamp) -> Result<u64> {
        let cleared = sqlx::query(
            "UPDATE outbox SET payload = NULL WHERE payload IS NOT NULL \
             AND (state IN ('coalesced', 'expired') OR (state = 'failed' AND created_at < $1))",
        )
        .bind(before.as_millis())
        .execute(&self.pool)
        .await?
        .rows_affected();
        // Claims no longer write recipient rows (`outbox/recipients.rs`); this
        // clears those written before migration 0016, and any an older
        // replica writes during a rolling upgrade.
        sqlx::query("DELETE FROM outbox_recipients WHERE last_claim_at < $1")
            .bind(before.as_millis())
            .execute(&self.pool)
            .await?;
        Ok(cleared)
    }
}
