//! The SQL both engines share.
//!
//! SQLite and PostgreSQL accept the same statements here: `$n` placeholders,
//! `ON CONFLICT … DO …`, `RETURNING`, 64-bit integer times, text ids, and byte
//! strings for digests. So the trait implementations are written once, in
//! [`impl_store!`], and expanded for each engine's concrete sqlx types. An
//! engine supplies only `pool`, `begin_write()` (SQLite: `BEGIN IMMEDIATE`,
//! so a writer never fails with SQLITE_BUSY mid-transaction) and its migrations.
//!
//! Row locking without engine-specific syntax: `INSERT … ON CONFLICT DO UPDATE
//! … RETURNING` and `UPDATE … RETURNING` take the row lock on PostgreSQL, and
//! on SQLite the immediate transaction already holds the write lock.

use gatehouse_domain::audit::{ChainFields, NewAuditEntry, chain_hash};

/// Computes the stored columns of an audit entry appended after `(prev_seq, prev_hash)`.
pub(crate) struct AuditRow {
    pub seq: i64,
    pub actor_kind: &'static str,
    pub actor_id: Option<String>,
    pub detail: String,
    pub hash: [u8; 32],
}

pub(crate) fn audit_row(
    entry: &NewAuditEntry,
    prev_seq: i64,
    prev_hash: &[u8],
) -> Result<AuditRow, crate::StoreError> {
    let prev: [u8; 32] = prev_hash
        .try_into()
        .map_err(|_| crate::StoreError::corrupt("audit_head.hash is not 32 bytes"))?;
    let (actor_kind, actor_id) = entry.actor.parts();
    let detail = entry.detail.to_string();
    let seq = prev_seq + 1;
    let hash = chain_hash(
        &prev,
        &ChainFields {
            seq,
            at: entry.at.as_millis(),
            actor_kind,
            actor_id,
            action: entry.action.as_str(),
            target: entry.target.as_deref(),
            ip: entry.ip.as_deref(),
            detail: &detail,
        },
    );
    Ok(AuditRow {
        seq,
        actor_kind,
        actor_id: actor_id.map(str::to_owned),
        detail,
        hash,
    })
}

/// Adds `extra`'s fields to an audit entry's detail (an object).
pub(crate) fn merge_detail(audit: &mut NewAuditEntry, extra: serde_json::Value) {
    let mut detail = match std::mem::take(&mut audit.detail) {
        serde_json::Value::Object(m) => m,
        _ => serde_json::Map::new(),
    };
    if let serde_json::Value::Object(extra) = extra {
        detail.extend(extra);
    }
    audit.detail = serde_json::Value::Object(detail);
}

/// A JSON text column, parsed.
pub(crate) fn json_column(what: &str, s: &str) -> Result<serde_json::Value, crate::StoreError> {
    serde_json::from_str(s).map_err(|e| crate::StoreError::corrupt(format!("{what}: {e}")))
}

pub(crate) fn parse<T: std::str::FromStr>(what: &str, s: &str) -> Result<T, crate::StoreError>
where
    T::Err: std::fmt::Display,
{
    s.parse()
        .map_err(|e| crate::StoreError::corrupt(format!("{what} {s:?}: {e}")))
}

/// The status-page notice kinds as an SQL list, for `concat!`. The partial
/// indexes of migration 0005 name the same list (the planners use them only
/// when a query's condition matches), and a test checks it against
/// `NoticeKind::is_status`.
macro_rules! status_kinds {
    () => {
        "('status_confirm', 'status_update')"
    };
}
pub(crate) use status_kinds;

/// The window of the status lane's budget (`ClaimPolicy::status_per_hour`).
pub(crate) const STATUS_BUDGET_WINDOW: std::time::Duration = std::time::Duration::from_secs(3600);

/// Expands the capability traits and `Store` for one engine:
/// `impl_store!(StoreType, sqlx::Db, ConnType, "name", sqlx::migrate!("dir"), "lock clause")`.
/// The lock clause ends a `SELECT` that claims work: `FOR UPDATE SKIP LOCKED`
/// on PostgreSQL (so concurrent claimers take different rows and never wait),
/// empty on SQLite (whose immediate transaction already excludes other writers).
macro_rules! impl_store {
    ($store:ty, $db:ty, $conn:ty, $engine:literal, $migrator:expr, $lock:literal) => {
        #[async_trait]
        impl Store for $store {
            fn engine(&self) -> &'static str {
                $engine
            }

            async fn migrate(&self) -> Result<()> {
                $migrator.run(&self.pool).await?;
                Ok(())
            }

            async fn ping(&self) -> Result<()> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn close(&self) {
                self.pool.close().await;
            }
        }

        use async_trait::async_trait;
        use gatehouse_domain::audit::NewAuditEntry;
        use gatehouse_domain::campaign::CampaignState;
        use gatehouse_domain::finding::{FindingStatus, RuleMode};
        use gatehouse_domain::status::{IncidentState, SubscriberState};
        use gatehouse_domain::throttle::{ThrottlePolicy, ThrottleState};
        use gatehouse_domain::{AccountId, CampaignId, NoticeId, OperatorId, RecoveryId, SessionId, Timestamp, TokenHash};
        use gatehouse_domain::notice::password_changed_key;
        use gatehouse_domain::NoticeKind;
        use sqlx::Row as _;

        use crate::error::unique_as_conflict;
        use crate::sql::{NOTICE_REFERENCE_TAKEN, STATUS_BUDGET_WINDOW, audit_row, parse};
        use crate::*;

        type DbRow = <$db as sqlx::Database>::Row;

        const SESSION_COLUMNS: &str = "s.id, s.account_id, a.email, s.token_hash, s.state, s.created_at, \
             s.last_seen_at, s.expires_at, s.ip, s.user_agent";

        const EVENT_COLUMNS: &str = "id, time, account, account_id, ip, user_agent, outcome, country, asn, origin, \
             password_digest, received_at";

        const CAMPAIGN_COLUMNS: &str = "id, name, source, automatic, rule_id, rule_version, reason, state, created_by, \
             created_at, snapshot_hash, target_count, needs_second_approval, approved_by, approved_at, preview, stage_plan, \
             rate_per_minute, bake_secs, stage, stage_started_at, applied, paused_reason, undo_by, updated_at";

        const RULE_COLUMNS: &str = "id, version, detector, mode, definition, updated_at, updated_by";

        const NOTICE_COLUMNS: &str = "id, reference, kind, account_id, recipient, state, attempts, next_attempt_at, \
             last_error, coalesced_into, coalesced_count, created_at, sent_at, expires_at, message_id";

        impl $store {
            /// Stores a recovery request, superseding the account's older ones.
            async fn insert_recovery_in(conn: &mut $conn, new: &NewRecovery) -> Result<()> {
                // A new request invalidates the older ones.
                sqlx::query(
                    "UPDATE recovery_requests SET state = 'superseded', ended_at = $1 \
                     WHERE account_id = $2 AND state = 'active'",
                )
                .bind(new.created_at.as_millis())
                .bind(new.account.to_string())
                .execute(&mut *conn)
                .await?;
                sqlx::query(
                    "INSERT INTO recovery_requests (id, account_id, code_hash, token_hash, state, attempts, created_at, expires_at, ip) \
                     VALUES ($1, $2, $3, $4, 'active', 0, $5, $6, $7)",
                )
                .bind(new.id.to_string())
                .bind(new.account.to_string())
                .bind(&new.code_hash[..])
                .bind(new.token_hash.as_ref().map(|t| t.as_bytes().to_vec()))
                .bind(new.created_at.as_millis())
                .bind(new.expires_at.as_millis())
                .bind(new.ip.as_deref())
                .execute(&mut *conn)
                .await?;
                Ok(())
            }

            /// Inserts a notice unless its idempotency key exists. Returns whether it did.
            async fn insert_notice_in(conn: &mut $conn, n: &NewNotice) -> Result<bool> {
                Ok(sqlx::query(
                    "INSERT INTO outbox (id, reference, idempotency_key, kind, account_id, recipient, recipient_key, \
                     payload, message_id, state, attempts, next_attempt_at, coalesced_count, expires_at, created_at) \
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
                conn: &mut $conn,
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
                    $lock
                ))
                .bind(recipient_key)
                .bind(kind)
                .bind(current)
                .fetch_all(&mut *conn)
                .await?;
                let survivor = rows.first().ok_or_else(|| StoreError::corrupt("claimed notice vanished"))?;
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
                    "SELECT MIN(sent_at) AS t FROM outbox WHERE recipient_key = $1 AND state = 'sent' AND sent_at > $2",
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
            async fn status_budget_in(conn: &mut $conn, p: &ClaimPolicy) -> Result<i64> {
                let now = p.now.as_millis();
                sqlx::query(
                    "INSERT INTO outbox_lanes (lane, last_claim_at) VALUES ('status', $1) \
                     ON CONFLICT (lane) DO UPDATE SET last_claim_at = excluded.last_claim_at",
                )
                .bind(now)
                .execute(&mut *conn)
                .await?;
                let used: i64 = sqlx::query(concat!(
                    "SELECT COUNT(*) AS n FROM outbox WHERE kind IN ", $crate::sql::status_kinds!(),
                    " AND ((state = 'sent' AND sent_at > $1) OR (state = 'sending' AND lease_until > $2))"
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
            async fn defer_status_in(conn: &mut $conn, p: &ClaimPolicy) -> Result<u64> {
                let now = p.now.as_millis();
                let oldest: Option<i64> = sqlx::query(concat!(
                    "SELECT MIN(sent_at) AS t FROM outbox WHERE kind IN ", $crate::sql::status_kinds!(),
                    " AND state = 'sent' AND sent_at > $1"
                ))
                .bind(p.now.minus(STATUS_BUDGET_WINDOW).as_millis())
                .fetch_one(&mut *conn)
                .await?
                .try_get("t")?;
                let next = oldest.map_or(now + 60_000, |t| t + STATUS_BUDGET_WINDOW.as_millis() as i64 + 1);
                Ok(sqlx::query(concat!(
                    "UPDATE outbox SET next_attempt_at = $1 WHERE state = 'pending' AND next_attempt_at <= $2 \
                     AND kind IN ", $crate::sql::status_kinds!()
                ))
                .bind(next.max(now + 1))
                .bind(now)
                .execute(&mut *conn)
                .await?
                .rows_affected())
            }

            async fn append_audit_in(conn: &mut $conn, entry: &NewAuditEntry) -> Result<i64> {
                // Taking the head first serialises appenders: the chain cannot fork.
                let head = sqlx::query("UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash")
                    .fetch_one(&mut *conn)
                    .await?;
                let seq: i64 = head.try_get("seq")?;
                let prev: Vec<u8> = head.try_get("hash")?;
                let row = audit_row(entry, seq - 1, &prev)?;
                sqlx::query(
                    "INSERT INTO audit_log (seq, at, actor_kind, actor_id, action, target, ip, detail, hash) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(row.seq)
                .bind(entry.at.as_millis())
                .bind(row.actor_kind)
                .bind(row.actor_id)
                .bind(entry.action.as_str())
                .bind(entry.target.as_deref())
                .bind(entry.ip.as_deref())
                .bind(&row.detail)
                .bind(&row.hash[..])
                .execute(&mut *conn)
                .await?;
                sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1")
                    .bind(&row.hash[..])
                    .execute(&mut *conn)
                    .await?;
                Ok(row.seq)
            }

            async fn revoke_sessions_in(
                conn: &mut $conn,
                account: AccountId,
                keep: Option<SessionId>,
                now: Timestamp,
                reason: &str,
            ) -> Result<u64> {
                Ok(sqlx::query(
                    "UPDATE sessions SET state = 'revoked', ended_at = $1, end_reason = $2 \
                     WHERE account_id = $3 AND state <> 'revoked' AND id <> $4",
                )
                .bind(now.as_millis())
                .bind(reason)
                .bind(account.to_string())
                .bind(keep.map(|s| s.to_string()).unwrap_or_default())
                .execute(&mut *conn)
                .await?
                .rows_affected())
            }

            async fn count_throttle_in(
                conn: &mut $conn,
                keys: &[(&str, ThrottlePolicy)],
                now: Timestamp,
            ) -> Result<Vec<ThrottleState>> {
                let mut out = Vec::with_capacity(keys.len());
                for (key, policy) in keys {
                    // Creates the row if missing and locks it either way.
                    let row = sqlx::query(
                        "INSERT INTO login_throttle (key, window_start, failures, blocked_until) VALUES ($1, $2, 0, 0) \
                         ON CONFLICT (key) DO UPDATE SET key = excluded.key \
                         RETURNING window_start, failures, blocked_until",
                    )
                    .bind(*key)
                    .bind(now.as_millis())
                    .fetch_one(&mut *conn)
                    .await?;
                    let next = Self::throttle_from(&row)?.record_failure(now, policy);
                    sqlx::query(
                        "UPDATE login_throttle SET window_start = $1, failures = $2, blocked_until = $3 WHERE key = $4",
                    )
                    .bind(next.window_start.as_millis())
                    .bind(i64::from(next.failures))
                    .bind(next.blocked_until.as_millis())
                    .bind(*key)
                    .execute(&mut *conn)
                    .await?;
                    out.push(next);
                }
                Ok(out)
            }

            /// Inserts events, skipping stored dedupe keys. Returns how many went in.
            async fn insert_events_in(conn: &mut $conn, events: &[NewLoginEvent]) -> Result<u64> {
                // 12 placeholders a row: 500 rows stay far below both engines' limits.
                let mut inserted = 0;
                for chunk in events.chunks(500) {
                    let mut q = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO login_events (time, account, account_id, ip, user_agent, outcome, country, asn, \
                         origin, password_digest, dedupe_key, received_at) ",
                    );
                    q.push_values(chunk, |mut b, e| {
                        let (known, lookup) = match &e.link {
                            AccountLink::Known(id) => (id.map(|a| a.to_string()), None),
                            AccountLink::Resolve => (None, Some(e.account.clone())),
                        };
                        b.push_bind(e.time.as_millis()).push_bind(e.account.clone());
                        // Addresses are e-mail keys and ids are UUIDs (no '@'), so at
                        // most one of the two lookups can match.
                        b.push("COALESCE(")
                            .push_bind_unseparated(known)
                            .push_unseparated(", (SELECT id FROM accounts WHERE email_key = ")
                            .push_bind_unseparated(lookup.clone())
                            .push_unseparated("), (SELECT id FROM accounts WHERE id = ")
                            .push_bind_unseparated(lookup)
                            .push_unseparated("))");
                        b.push_bind(e.ip.clone())
                            .push_bind(e.user_agent.clone())
                            .push_bind(e.outcome.as_str())
                            .push_bind(e.country.clone())
                            .push_bind(e.asn.map(i64::from))
                            .push_bind(e.origin.as_str())
                            .push_bind(e.password_digest.map(|d| d.to_vec()))
                            .push_bind(e.dedupe_key.to_vec())
                            .push_bind(e.received_at.as_millis());
                    });
                    q.push(" ON CONFLICT (dedupe_key) DO NOTHING");
                    inserted += q.build().execute(&mut *conn).await?.rows_affected();
                }
                Ok(inserted)
            }

            fn campaign_from(row: &DbRow) -> Result<CampaignRecord> {
                let opt_ts = |v: Option<i64>| v.map(Timestamp::from_millis);
                let json = |what: &str, v: Option<String>| v.map(|t| crate::sql::json_column(what, &t)).transpose();
                Ok(CampaignRecord {
                    id: parse("campaign id", &row.try_get::<String, _>("id")?)?,
                    name: row.try_get("name")?,
                    source: parse("campaign source", &row.try_get::<String, _>("source")?)?,
                    automatic: row.try_get::<i64, _>("automatic")? != 0,
                    rule_id: row.try_get("rule_id")?,
                    rule_version: row.try_get("rule_version")?,
                    reason: row.try_get("reason")?,
                    state: parse("campaign state", &row.try_get::<String, _>("state")?)?,
                    created_by: row.try_get("created_by")?,
                    created_at: Timestamp::from_millis(row.try_get("created_at")?),
                    snapshot_hash: row.try_get::<Option<Vec<u8>>, _>("snapshot_hash")?.map(hex::encode),
                    target_count: row.try_get("target_count")?,
                    needs_second_approval: row.try_get::<i64, _>("needs_second_approval")? != 0,
                    approved_by: row.try_get("approved_by")?,
                    approved_at: opt_ts(row.try_get("approved_at")?),
                    preview: json("campaign preview", row.try_get("preview")?)?,
                    stage_plan: crate::sql::json_column("stage plan", &row.try_get::<String, _>("stage_plan")?)?,
                    rate_per_minute: row.try_get("rate_per_minute")?,
                    bake_secs: row.try_get("bake_secs")?,
                    stage: row.try_get("stage")?,
                    stage_started_at: opt_ts(row.try_get("stage_started_at")?),
                    applied: row.try_get("applied")?,
                    paused_reason: row.try_get("paused_reason")?,
                    undo_by: row.try_get("undo_by")?,
                    updated_at: Timestamp::from_millis(row.try_get("updated_at")?),
                })
            }

            fn target_from(row: &DbRow) -> Result<TargetRecord> {
                Ok(TargetRecord {
                    account_id: parse("account id", &row.try_get::<String, _>("account_id")?)?,
                    email: row.try_get("email")?,
                    seq: row.try_get("seq")?,
                    finding_id: row.try_get("finding_id")?,
                    evidence: row
                        .try_get::<Option<String>, _>("evidence")?
                        .map(|t| crate::sql::json_column("target evidence", &t))
                        .transpose()?,
                    state: parse("target state", &row.try_get::<String, _>("state")?)?,
                    credential_version: row.try_get("credential_version")?,
                    applied_at: row.try_get::<Option<i64>, _>("applied_at")?.map(Timestamp::from_millis),
                    notice_reference: row.try_get("notice_reference")?,
                })
            }

            async fn campaign_in(conn: &mut $conn, id: CampaignId) -> Result<Option<CampaignRecord>> {
                sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE id = $1")))
                    .bind(id.to_string())
                    .fetch_optional(&mut *conn)
                    .await?
                    .as_ref()
                    .map(Self::campaign_from)
                    .transpose()
            }

            /// Locks the breaker row (every apply and undo step goes through it, so
            /// steps and the budget count are serialised across replicas) and says
            /// whether it is open.
            async fn lock_breaker_in(conn: &mut $conn) -> Result<bool> {
                let state: String = sqlx::query("UPDATE breaker SET id = id WHERE id = 1 RETURNING state")
                    .fetch_one(&mut *conn)
                    .await?
                    .try_get("state")?;
                Ok(state == "open")
            }

            fn audit_entry_from(row: &DbRow) -> Result<AuditEntry> {
                Ok(AuditEntry {
                    seq: row.try_get("seq")?,
                    at: Timestamp::from_millis(row.try_get("at")?),
                    actor_kind: row.try_get("actor_kind")?,
                    actor_id: row.try_get("actor_id")?,
                    action: row.try_get("action")?,
                    target: row.try_get("target")?,
                    ip: row.try_get("ip")?,
                    detail: row.try_get("detail")?,
                    hash: hex::encode(row.try_get::<Vec<u8>, _>("hash")?),
                })
            }

            fn rule_from(row: &DbRow) -> Result<RuleRecord> {
                Ok(RuleRecord {
                    id: row.try_get("id")?,
                    version: row.try_get("version")?,
                    detector: row.try_get("detector")?,
                    mode: parse("rule mode", &row.try_get::<String, _>("mode")?)?,
                    definition: crate::sql::json_column("rule definition", &row.try_get::<String, _>("definition")?)?,
                    updated_at: Timestamp::from_millis(row.try_get("updated_at")?),
                    updated_by: row.try_get("updated_by")?,
                })
            }

            fn login_event_from(row: &DbRow) -> Result<LoginEvent> {
                let asn: Option<i64> = row.try_get("asn")?;
                Ok(LoginEvent {
                    id: row.try_get("id")?,
                    time: Timestamp::from_millis(row.try_get("time")?),
                    account: row.try_get("account")?,
                    account_id: row
                        .try_get::<Option<String>, _>("account_id")?
                        .map(|a| parse("account id", &a))
                        .transpose()?,
                    ip: row.try_get("ip")?,
                    user_agent: row.try_get("user_agent")?,
                    outcome: parse("event outcome", &row.try_get::<String, _>("outcome")?)?,
                    country: row.try_get("country")?,
                    asn: asn.map(u32::try_from).transpose().map_err(StoreError::corrupt)?,
                    origin: parse("event origin", &row.try_get::<String, _>("origin")?)?,
                    password_digest: row.try_get("password_digest")?,
                    received_at: Timestamp::from_millis(row.try_get("received_at")?),
                })
            }

            fn account_from(row: &DbRow) -> Result<Account> {
                Ok(Account {
                    id: parse("account id", &row.try_get::<String, _>("id")?)?,
                    email: row.try_get("email")?,
                    created_at: Timestamp::from_millis(row.try_get("created_at")?),
                })
            }

            fn session_from(row: &DbRow) -> Result<SessionRecord> {
                let hash: Vec<u8> = row.try_get("token_hash")?;
                Ok(SessionRecord {
                    id: parse("session id", &row.try_get::<String, _>("id")?)?,
                    account: parse("account id", &row.try_get::<String, _>("account_id")?)?,
                    account_email: row.try_get("email")?,
                    token_hash: TokenHash::from_slice(&hash)
                        .ok_or_else(|| StoreError::corrupt("session token hash is not 32 bytes"))?,
                    state: parse("session state", &row.try_get::<String, _>("state")?)?,
                    created_at: Timestamp::from_millis(row.try_get("created_at")?),
                    last_seen_at: Timestamp::from_millis(row.try_get("last_seen_at")?),
                    expires_at: Timestamp::from_millis(row.try_get("expires_at")?),
                    ip: row.try_get("ip")?,
                    user_agent: row.try_get("user_agent")?,
                })
            }

            fn throttle_from(row: &DbRow) -> Result<ThrottleState> {
                let failures: i64 = row.try_get("failures")?;
                Ok(ThrottleState {
                    window_start: Timestamp::from_millis(row.try_get("window_start")?),
                    failures: u32::try_from(failures).map_err(StoreError::corrupt)?,
                    blocked_until: Timestamp::from_millis(row.try_get("blocked_until")?),
                })
            }

            fn operator_from(row: &DbRow) -> Result<Operator> {
                Ok(Operator {
                    id: parse("operator id", &row.try_get::<String, _>("id")?)?,
                    email: row.try_get("email")?,
                    created_at: Timestamp::from_millis(row.try_get("created_at")?),
                })
            }
        }

        #[async_trait]
        impl AccountStore for $store {
            async fn create_account(&self, new: &NewAccount, audit: NewAuditEntry) -> Result<Account> {
                let mut tx = self.begin_write().await?;
                sqlx::query("INSERT INTO accounts (id, email, email_key, created_at) VALUES ($1, $2, $3, $4)")
                    .bind(new.id.to_string())
                    .bind(&new.email)
                    .bind(&new.email_key)
                    .bind(new.created_at.as_millis())
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| unique_as_conflict(e, "an account with this e-mail address exists"))?;
                sqlx::query(
                    "INSERT INTO credentials (account_id, hash, state, version, changed_at) \
                     VALUES ($1, $2, 'active', 1, $3)",
                )
                .bind(new.id.to_string())
                .bind(&new.password_hash)
                .bind(new.created_at.as_millis())
                .execute(&mut *tx)
                .await?;
                Self::append_audit_in(&mut tx, &audit).await?;
                tx.commit().await?;
                Ok(Account { id: new.id, email: new.email.clone(), created_at: new.created_at })
            }

            async fn login_record(&self, email_key: &str) -> Result<Option<LoginRecord>> {
                let row = sqlx::query(
                    "SELECT a.id, a.email, a.created_at, c.hash, c.state, c.version, c.changed_at \
                     FROM accounts a JOIN credentials c ON c.account_id = a.id WHERE a.email_key = $1",
                )
                .bind(email_key)
                .fetch_optional(&self.pool)
                .await?;
                row.map(|row| {
                    Ok(LoginRecord {
                        account: Self::account_from(&row)?,
                        hash: row.try_get("hash")?,
                        state: parse("credential state", &row.try_get::<String, _>("state")?)?,
                        version: row.try_get("version")?,
                        changed_at: Timestamp::from_millis(row.try_get("changed_at")?),
                    })
                })
                .transpose()
            }

            async fn account(&self, id: AccountId) -> Result<Option<Account>> {
                let row = sqlx::query("SELECT id, email, created_at FROM accounts WHERE id = $1")
                    .bind(id.to_string())
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(Self::account_from).transpose()
            }

            async fn count_accounts(&self) -> Result<i64> {
                Ok(sqlx::query("SELECT COUNT(*) AS n FROM accounts").fetch_one(&self.pool).await?.try_get("n")?)
            }

            async fn active_accounts(&self, since: Timestamp) -> Result<Option<i64>> {
                // Any login history at all? Two probes that stop at the first row.
                let history = sqlx::query(
                    "SELECT 1 AS one FROM login_events WHERE outcome = 'success' AND account_id IS NOT NULL LIMIT 1",
                )
                .fetch_optional(&self.pool)
                .await?
                .is_some()
                    || sqlx::query("SELECT 1 AS one FROM sessions LIMIT 1")
                        .fetch_optional(&self.pool)
                        .await?
                        .is_some();
                if !history {
                    return Ok(None);
                }
                // Per account, two index probes (login_events_success_by_account,
                // sessions_by_account_seen): the cost follows the accounts, not
                // the month's traffic.
                Ok(Some(
                    sqlx::query(
                        "SELECT COUNT(*) AS n FROM accounts a WHERE \
                         EXISTS (SELECT 1 FROM login_events e WHERE e.account_id = a.id AND e.outcome = 'success' AND e.time >= $1) \
                         OR EXISTS (SELECT 1 FROM sessions s WHERE s.account_id = a.id AND s.last_seen_at >= $1)",
                    )
                    .bind(since.as_millis())
                    .fetch_one(&self.pool)
                    .await?
                    .try_get("n")?,
                ))
            }

            async fn import_accounts(&self, rows: &[NewAccount], audit: NewAuditEntry) -> Result<Vec<bool>> {
                if rows.is_empty() {
                    return Ok(Vec::new());
                }
                let mut tx = self.begin_write().await?;
                let mut q = sqlx::QueryBuilder::<$db>::new("INSERT INTO accounts (id, email, email_key, created_at) ");
                q.push_values(rows, |mut b, r| {
                    b.push_bind(r.id.to_string())
                        .push_bind(r.email.as_str())
                        .push_bind(r.email_key.as_str())
                        .push_bind(r.created_at.as_millis());
                });
                q.push(" ON CONFLICT (email_key) DO NOTHING RETURNING id");
                let inserted: std::collections::HashSet<String> = q
                    .build()
                    .fetch_all(&mut *tx)
                    .await?
                    .iter()
                    .map(|r| r.try_get::<String, _>("id"))
                    .collect::<Result<_, _>>()?;
                let flags: Vec<bool> = rows.iter().map(|r| inserted.contains(&r.id.to_string())).collect();
                if !inserted.is_empty() {
                    let mut q = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO credentials (account_id, hash, state, version, changed_at) ",
                    );
                    q.push_values(rows.iter().zip(&flags).filter(|(_, f)| **f), |mut b, (r, _)| {
                        b.push_bind(r.id.to_string())
                            .push_bind(r.password_hash.as_str())
                            .push_bind("active")
                            .push_bind(1i64)
                            .push_bind(r.created_at.as_millis());
                    });
                    q.build().execute(&mut *tx).await?;
                }
                let mut audit = audit;
                audit.detail = serde_json::json!({
                    "inserted": inserted.len(),
                    "skipped_existing": rows.len() - inserted.len(),
                });
                Self::append_audit_in(&mut tx, &audit).await?;
                tx.commit().await?;
                Ok(flags)
            }
        }

        #[async_trait]
        impl CredentialStore for $store {
            async fn rehash_credential(
                &self,
                account: AccountId,
                old_hash: &str,
                new_hash: &str,
                audit: NewAuditEntry,
            ) -> Result<bool> {
                let mut tx = self.begin_write().await?;
                let done = sqlx::query("UPDATE credentials SET hash = $1 WHERE account_id = $2 AND hash = $3")
                    .bind(new_hash)
                    .bind(account.to_string())
                    .bind(old_hash)
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

            async fn change_password(&self, c: &PasswordChange<'_>, audit: NewAuditEntry) -> Result<PasswordChanged> {
                let mut tx = self.begin_write().await?;
                let row = sqlx::query(
                    "UPDATE credentials SET hash = $1, state = 'active', version = version + 1, changed_at = $2 \
                     WHERE account_id = $3 AND version = $4 RETURNING version",
                )
                .bind(c.new_hash)
                .bind(c.now.as_millis())
                .bind(c.account.to_string())
                .bind(c.expected_version)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(row) = row else {
                    return Err(StoreError::Conflict("the password was changed meanwhile"));
                };
                let version: i64 = row.try_get("version")?;
                let ended = if c.end_other_sessions {
                    Self::revoke_sessions_in(&mut tx, c.account, c.keep_session, c.now, c.end_reason).await?
                } else {
                    0
                };
                if let Some(notice) = c.notice {
                    let mut notice = notice.clone();
                    notice.idempotency_key = password_changed_key(c.account, version);
                    Self::insert_notice_in(&mut tx, &notice).await?;
                }
                let mut audit = audit;
                audit.detail = serde_json::json!({ "version": version, "sessions_ended": ended });
                Self::append_audit_in(&mut tx, &audit).await?;
                tx.commit().await?;
                Ok(PasswordChanged { version, sessions_ended: ended })
            }
        }

        #[async_trait]
        impl SessionStore for $store {
            async fn create_session(
                &self,
                new: &NewSession,
                clear_throttle_key: &str,
                event: Option<&NewLoginEvent>,
                audit: NewAuditEntry,
            ) -> Result<()> {
                let mut tx = self.begin_write().await?;
                if let Some(event) = event {
                    Self::insert_events_in(&mut tx, std::slice::from_ref(event)).await?;
                }
                sqlx::query(
                    "INSERT INTO sessions (id, account_id, token_hash, state, created_at, last_seen_at, expires_at, ip, user_agent) \
                     VALUES ($1, $2, $3, 'active', $4, $4, $5, $6, $7)",
                )
                .bind(new.id.to_string())
                .bind(new.account.to_string())
                .bind(new.token_hash.as_bytes())
                .bind(new.created_at.as_millis())
                .bind(new.expires_at.as_millis())
                .bind(new.ip.as_deref())
                .bind(new.user_agent.as_deref())
                .execute(&mut *tx)
                .await?;
                sqlx::query("DELETE FROM login_throttle WHERE key = $1")
                    .bind(clear_throttle_key)
                    .execute(&mut *tx)
                    .await?;
                Self::append_audit_in(&mut tx, &audit).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn session_by_token(&self, token: &TokenHash) -> Result<Option<SessionRecord>> {
                let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {SESSION_COLUMNS} FROM sessions s JOIN accounts a ON a.id = s.account_id \
                     WHERE s.token_hash = $1"
                )))
                .bind(token.as_bytes())
                .fetch_optional(&self.pool)
                .await?;
                row.as_ref().map(Self::session_from).transpose()
            }

            async fn active_sessions(&self, account: AccountId, now: Timestamp) -> Result<Vec<SessionRecord>> {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {SESSION_COLUMNS} FROM sessions s JOIN accounts a ON a.id = s.account_id \
                     WHERE s.account_id = $1 AND s.state = 'active' AND s.expires_at > $2 \
                     ORDER BY s.last_seen_at DESC, s.created_at DESC"
                )))
                .bind(account.to_string())
                .bind(now.as_millis())
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(Self::session_from)
                .collect()
            }

            async fn end_session(
                &self,
                account: AccountId,
                session: SessionId,
                now: Timestamp,
                reason: &str,
                audit: NewAuditEntry,
            ) -> Result<bool> {
                let mut tx = self.begin_write().await?;
                let ended = sqlx::query(
                    "UPDATE sessions SET state = 'revoked', ended_at = $1, end_reason = $2 \
                     WHERE id = $3 AND account_id = $4 AND state <> 'revoked'",
                )
                .bind(now.as_millis())
                .bind(reason)
                .bind(session.to_string())
                .bind(account.to_string())
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1;
                if ended {
                    Self::append_audit_in(&mut tx, &audit).await?;
                }
                tx.commit().await?;
                Ok(ended)
            }

            async fn end_other_sessions(
                &self,
                account: AccountId,
                keep: Option<SessionId>,
                now: Timestamp,
                reason: &str,
                audit: NewAuditEntry,
            ) -> Result<u64> {
                let mut tx = self.begin_write().await?;
                let ended = Self::revoke_sessions_in(&mut tx, account, keep, now, reason).await?;
                let mut audit = audit;
                audit.detail = serde_json::json!({ "sessions_ended": ended });
                Self::append_audit_in(&mut tx, &audit).await?;
                tx.commit().await?;
                Ok(ended)
            }

            async fn purge_sessions(&self, before: Timestamp) -> Result<u64> {
                Ok(sqlx::query(
                    "DELETE FROM sessions WHERE expires_at < $1 OR (state = 'revoked' AND ended_at < $1)",
                )
                .bind(before.as_millis())
                .execute(&self.pool)
                .await?
                .rows_affected())
            }

            async fn touch_session(&self, session: SessionId, now: Timestamp) -> Result<()> {
                sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id = $2 AND last_seen_at < $1")
                    .bind(now.as_millis())
                    .bind(session.to_string())
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }
        }

        #[async_trait]
        impl ThrottleStore for $store {
            async fn throttle_states(&self, keys: &[&str]) -> Result<Vec<Option<ThrottleState>>> {
                if keys.is_empty() {
                    return Ok(Vec::new());
                }
                // One round trip for all keys: this runs before every login.
                let mut q = sqlx::QueryBuilder::<$db>::new(
                    "SELECT key, window_start, failures, blocked_until FROM login_throttle WHERE key IN (",
                );
                let mut list = q.separated(", ");
                for key in keys {
                    list.push_bind(*key);
                }
                q.push(")");
                let rows = q.build().fetch_all(&self.pool).await?;
                let mut found = std::collections::HashMap::with_capacity(rows.len());
                for row in &rows {
                    found.insert(row.try_get::<String, _>("key")?, Self::throttle_from(row)?);
                }
                Ok(keys.iter().map(|k| found.get(*k).copied()).collect())
            }

            async fn record_login_failure(
                &self,
                keys: &[(&str, ThrottlePolicy)],
                now: Timestamp,
                event: Option<&NewLoginEvent>,
                audit: NewAuditEntry,
            ) -> Result<Vec<ThrottleState>> {
                let mut tx = self.begin_write().await?;
                let out = Self::count_throttle_in(&mut tx, keys, now).await?;
                if let Some(event) = event {
                    Self::insert_events_in(&mut tx, std::slice::from_ref(event)).await?;
                }
                Self::append_audit_in(&mut tx, &audit).await?;
                tx.commit().await?;
                Ok(out)
            }

            async fn count_throttle_event(
                &self,
                keys: &[(&str, ThrottlePolicy)],
                now: Timestamp,
            ) -> Result<Vec<ThrottleState>> {
                let mut tx = self.begin_write().await?;
                let out = Self::count_throttle_in(&mut tx, keys, now).await?;
                tx.commit().await?;
                Ok(out)
            }

            async fn purge_throttle(&self, window_closed_before: Timestamp, now: Timestamp) -> Result<u64> {
                Ok(sqlx::query("DELETE FROM login_throttle WHERE window_start <= $1 AND blocked_until <= $2")
                    .bind(window_closed_before.as_millis())
                    .bind(now.as_millis())
                    .execute(&self.pool)
                    .await?
                    .rows_affected())
            }
        }

        #[async_trait]
        impl OperatorStore for $store {
            async fn create_operator(&self, new: &NewOperator, audit: NewAuditEntry) -> Result<Operator> {
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "INSERT INTO operators (id, email, email_key, key_hash, created_at) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(new.id.to_string())
                .bind(&new.email)
                .bind(&new.email_key)
                .bind(new.key_hash.as_bytes())
                .bind(new.created_at.as_millis())
                .execute(&mut *tx)
                .await
                .map_err(|e| unique_as_conflict(e, "an operator with this e-mail address exists"))?;
                Self::append_audit_in(&mut tx, &audit).await?;
                tx.commit().await?;
                Ok(Operator { id: new.id, email: new.email.clone(), created_at: new.created_at })
            }

            async fn operator_by_key(&self, key: &TokenHash) -> Result<Option<Operator>> {
                let row = sqlx::query(
                    "SELECT id, email, created_at, key_hash FROM operators WHERE key_hash = $1 AND disabled_at IS NULL",
                )
                .bind(key.as_bytes())
                .fetch_optional(&self.pool)
                .await?;
                let Some(row) = row else { return Ok(None) };
                let stored: Vec<u8> = row.try_get("key_hash")?;
                // The lookup was by digest; compare again in constant time as a matter of principle.
                match TokenHash::from_slice(&stored) {
                    Some(h) if h.ct_eq(key) => Ok(Some(Self::operator_from(&row)?)),
                    _ => Ok(None),
                }
            }

            async fn operator_by_email(&self, email_key: &str) -> Result<Option<Operator>> {
                sqlx::query(
                    "SELECT id, email, created_at, key_hash FROM operators WHERE lower(email) = $1 AND disabled_at IS NULL",
                )
                .bind(email_key)
                .fetch_optional(&self.pool)
                .await?
                .as_ref()
                .map(Self::operator_from)
                .transpose()
            }
        }

        #[async_trait]
        impl ConsoleStore for $store {
            async fn set_operator_password(
                &self,
                operator: OperatorId,
                password_hash: &str,
                now: Timestamp,
                audit: NewAuditEntry,
            ) -> Result<()> {
                let mut tx = self.begin_write().await?;
                let done = sqlx::query(
                    "UPDATE operators SET password_hash = $1, password_set_at = $2 \
                     WHERE id = $3 AND disabled_at IS NULL",
                )
                .bind(password_hash)
                .bind(now.as_millis())
                .bind(operator.to_string())
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if done == 0 {
                    return Err(StoreError::NotFound("operator"));
                }
                // A new password ends every console session: whoever knew the old
                // one is signed out with it.
                sqlx::query(
                    "UPDATE console_sessions SET ended_at = $1 WHERE operator_id = $2 AND ended_at IS NULL",
                )
                .bind(now.as_millis())
                .bind(operator.to_string())
                .execute(&mut *tx)
                .await?;
                Self::append_audit_in(&mut tx, &audit).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn operator_login(&self, email_key: &str) -> Result<Option<OperatorLogin>> {
                let row = sqlx::query(
                    "SELECT id, email, created_at, password_hash FROM operators \
                     WHERE email_key = $1 AND disabled_at IS NULL",
                )
                .bind(email_key)
                .fetch_optional(&self.pool)
                .await?;
                let Some(row) = row else { return Ok(None) };
                Ok(Some(OperatorLogin {
                    operator: Self::operator_from(&row)?,
                    password_hash: row.try_get("password_hash")?,
                }))
            }

            async fn create_console_session(
                &self,
                new: &NewConsoleSession,
                audit: NewAuditEntry,
            ) -> Result<()> {
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "INSERT INTO console_sessions (id, operator_id, token_hash, created_at, last_seen_at, \
                     expires_at, ip, user_agent) VALUES ($1, $2, $3, $4, $4, $5, $6, $7)",
                )
                .bind(new.id.to_string())
                .bind(new.operator.to_string())
                .bind(new.token_hash.as_bytes())
                .bind(new.created_at.as_millis())
                .bind(new.expires_at.as_millis())
                .bind(&new.ip)
                .bind(&new.user_agent)
                .execute(&mut *tx)
                .await?;
                Self::append_audit_in(&mut tx, &audit).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn console_session(&self, token: &TokenHash) -> Result<Option<ConsoleSession>> {
                let row = sqlx::query(
                    "SELECT s.id AS session_id, s.token_hash, s.created_at AS session_created_at, \
                     s.last_seen_at, s.expires_at, s.ended_at, o.id, o.email, o.created_at \
                     FROM console_sessions s JOIN operators o ON o.id = s.operator_id \
                     WHERE s.token_hash = $1 AND o.disabled_at IS NULL",
                )
                .bind(token.as_bytes())
                .fetch_optional(&self.pool)
                .await?;
                let Some(row) = row else { return Ok(None) };
                let hash: Vec<u8> = row.try_get("token_hash")?;
                let token_hash = TokenHash::from_slice(&hash)
                    .ok_or_else(|| StoreError::corrupt("console session token hash"))?;
                Ok(Some(ConsoleSession {
                    id: parse("session id", &row.try_get::<String, _>("session_id")?)?,
                    operator: Self::operator_from(&row)?,
                    token_hash,
                    created_at: Timestamp::from_millis(row.try_get("session_created_at")?),
                    last_seen_at: Timestamp::from_millis(row.try_get("last_seen_at")?),
                    expires_at: Timestamp::from_millis(row.try_get("expires_at")?),
                    ended_at: row.try_get::<Option<i64>, _>("ended_at")?.map(Timestamp::from_millis),
                }))
            }

            async fn touch_console_session(&self, id: SessionId, now: Timestamp) -> Result<()> {
                sqlx::query("UPDATE console_sessions SET last_seen_at = $1 WHERE id = $2 AND last_seen_at < $1")
                    .bind(now.as_millis())
                    .bind(id.to_string())
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn end_console_session(
                &self,
                id: SessionId,
                now: Timestamp,
                audit: NewAuditEntry,
            ) -> Result<bool> {
                let mut tx = self.begin_write().await?;
                let ended = sqlx::query(
                    "UPDATE console_sessions SET ended_at = $1 WHERE id = $2 AND ended_at IS NULL",
                )
                .bind(now.as_millis())
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    > 0;
                if ended {
                    Self::append_audit_in(&mut tx, &audit).await?;
                }
                tx.commit().await?;
                Ok(ended)
            }

            async fn operator_emails(&self) -> Result<Vec<(OperatorId, String)>> {
                sqlx::query("SELECT id, email FROM operators ORDER BY email")
                    .fetch_all(&self.pool)
                    .await?
                    .iter()
                    .map(|row| {
                        Ok((
                            parse("operator id", &row.try_get::<String, _>("id")?)?,
                            row.try_get("email")?,
                        ))
                    })
                    .collect()
            }

            async fn audit_latest(&self, before: Option<i64>, limit: i64) -> Result<Vec<AuditEntry>> {
                sqlx::query(
                    "SELECT seq, at, actor_kind, actor_id, action, target, ip, detail, hash FROM audit_log \
                     WHERE seq < $1 ORDER BY seq DESC LIMIT $2",
                )
                .bind(before.unwrap_or(i64::MAX))
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(Self::audit_entry_from)
                .collect()
            }

            async fn search_accounts(&self, prefix: &str, limit: i64) -> Result<Vec<Account>> {
                // LIKE with the pattern's own wildcards escaped, so "a_b" finds only "a_b…".
                let mut pattern = String::with_capacity(prefix.len() + 1);
                for c in prefix.chars() {
                    if matches!(c, '%' | '_' | '\\') {
                        pattern.push('\\');
                    }
                    pattern.push(c);
                }
                pattern.push('%');
                sqlx::query(
                    "SELECT id, email, created_at FROM accounts \
                     WHERE email_key LIKE $1 ESCAPE '\\' OR id = $2 ORDER BY email_key LIMIT $3",
                )
                .bind(pattern)
                .bind(prefix)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(Self::account_from)
                .collect()
            }
        }

        #[async_trait]
        impl AuditStore for $store {
            async fn append_audit(&self, entry: NewAuditEntry) -> Result<i64> {
                let mut tx = self.begin_write().await?;
                let seq = Self::append_audit_in(&mut tx, &entry).await?;
                tx.commit().await?;
                Ok(seq)
            }

            async fn audit_entries(&self, after: i64, limit: i64) -> Result<Vec<AuditEntry>> {
                sqlx::query(
                    "SELECT seq, at, actor_kind, actor_id, action, target, ip, detail, hash FROM audit_log \
                     WHERE seq > $1 ORDER BY seq LIMIT $2",
                )
                .bind(after)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(Self::audit_entry_from)
                .collect()
            }
        }

        #[async_trait]
        impl OutboxStore for $store {
            async fn enqueue_notice(&self, notice: &NewNotice, audit: Option<NewAuditEntry>) -> Result<bool> {
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
                // Two queries, not one with OR: each walks the `outbox_due` index
                // (state, next_attempt_at) and stops at the limit, where an OR made
                // both engines read every due row and sort them, once per batch.
                // Sends whose lease ran out (their sender died) go first.
                let mut due = sqlx::query(concat!(
                    "SELECT id, recipient_key, kind, expires_at FROM outbox \
                     WHERE state = 'sending' AND lease_until <= $1 ORDER BY lease_until LIMIT $2 ",
                    $lock
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
                             AND NOT (kind = 'forced_reset' AND EXISTS (SELECT 1 FROM breaker WHERE id = 1 AND state = 'open')) \
                             AND kind NOT IN ", $crate::sql::status_kinds!(), " \
                             ORDER BY next_attempt_at, created_at LIMIT $2 ",
                            $lock
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
                         AND kind IN ", $crate::sql::status_kinds!(), " \
                         ORDER BY next_attempt_at, created_at LIMIT $2 ",
                        $lock
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
                        live.push((id, row.try_get::<String, _>("recipient_key")?, row.try_get::<String, _>("kind")?));
                    }
                }
                if !expired.is_empty() {
                    let mut q = sqlx::QueryBuilder::<$db>::new(
                        "UPDATE outbox SET state = 'expired', payload = NULL, lease_id = NULL, lease_until = NULL \
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
                // Lock the recipients, in one fixed order: concurrent claimers check a
                // recipient's cap one at a time, and cannot deadlock on each other.
                let mut keys: Vec<&str> = live.iter().map(|(_, k, _)| k.as_str()).collect();
                keys.sort_unstable();
                keys.dedup();
                let mut q = sqlx::QueryBuilder::<$db>::new("INSERT INTO outbox_recipients (recipient_key, last_claim_at) ");
                q.push_values(&keys, |mut row, key| {
                    row.push_bind(*key).push_bind(now);
                });
                q.push(" ON CONFLICT (recipient_key) DO UPDATE SET last_claim_at = excluded.last_claim_at");
                q.build().execute(&mut *tx).await?;
                // What each recipient already has in the cap window: sent recently, or
                // being sent under a live lease.
                let mut q = sqlx::QueryBuilder::<$db>::new(
                    concat!(
                        "SELECT recipient_key, COUNT(*) AS n FROM outbox WHERE kind NOT IN ",
                        $crate::sql::status_kinds!(),
                        " AND ((state = 'sent' AND sent_at > "
                    ),
                );
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
                    let mut q = sqlx::QueryBuilder::<$db>::new("UPDATE outbox SET state = 'sending', lease_id = ");
                    q.push_bind(&p.lease_id)
                        .push(", lease_until = ")
                        .push_bind(p.now.plus(p.lease).as_millis())
                        .push(", attempts = attempts + 1 WHERE state IN ('pending', 'sending') AND id IN (");
                    let mut list = q.separated(", ");
                    for id in &to_claim {
                        list.push_bind(*id);
                    }
                    q.push(format!(") RETURNING {NOTICE_COLUMNS}, payload"));
                    let position: std::collections::HashMap<&str, usize> =
                        to_claim.iter().enumerate().map(|(i, id)| (id.as_str(), i)).collect();
                    let mut claimed = Vec::with_capacity(to_claim.len());
                    for row in q.build().fetch_all(&mut *tx).await? {
                        let payload: Option<String> = row.try_get("payload")?;
                        let payload = match payload {
                            Some(text) => serde_json::from_str(&text).map_err(StoreError::corrupt)?,
                            None => serde_json::Value::Null,
                        };
                        let notice = Self::notice_from(&row)?;
                        let at = position.get(notice.id.to_string().as_str()).copied().unwrap_or(usize::MAX);
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
                     lease_id = NULL, lease_until = NULL WHERE lease_id = $2 AND id IN ({list}) RETURNING id"
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
                    "UPDATE outbox SET state = 'failed', last_error = $1, lease_id = NULL, lease_until = NULL \
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
                let mut q = sqlx::QueryBuilder::<$db>::new(format!("SELECT {NOTICE_COLUMNS} FROM outbox WHERE 1 = 1"));
                if let Some(state) = f.state {
                    q.push(" AND state = ").push_bind(state.as_str());
                }
                if let Some(account) = f.account {
                    q.push(" AND account_id = ").push_bind(account.to_string());
                }
                q.push(" ORDER BY created_at DESC, id LIMIT ").push_bind(f.limit.clamp(1, 1000));
                q.build().fetch_all(&self.pool).await?.iter().map(Self::notice_from).collect()
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

            async fn retry_failed_notice(&self, id: NoticeId, now: Timestamp, audit: NewAuditEntry) -> Result<bool> {
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
                    .map(|r| Ok((parse("notice state", &r.try_get::<String, _>("state")?)?, r.try_get("n")?)))
                    .collect()
            }

            async fn next_notice_due(&self) -> Result<Option<Timestamp>> {
                let t: Option<i64> = sqlx::query(
                    "SELECT MIN(CASE WHEN state = 'pending' THEN next_attempt_at ELSE lease_until END) AS t \
                     FROM outbox WHERE state IN ('pending', 'sending')",
                )
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
                sqlx::query("DELETE FROM outbox_recipients WHERE last_claim_at < $1")
                    .bind(before.as_millis())
                    .execute(&self.pool)
                    .await?;
                Ok(cleared)
            }
        }

        #[async_trait]
        impl EventStore for $store {
            async fn insert_login_events(
                &self,
                events: &[NewLoginEvent],
                audit: Option<NewAuditEntry>,
            ) -> Result<u64> {
                if events.is_empty() {
                    return Ok(0);
                }
                let mut tx = self.begin_write().await?;
                let inserted = Self::insert_events_in(&mut tx, events).await?;
                if let Some(mut audit) = audit {
                    crate::sql::merge_detail(
                        &mut audit,
                        serde_json::json!({
                            "inserted": inserted,
                            "duplicates": events.len() as u64 - inserted,
                        }),
                    );
                    Self::append_audit_in(&mut tx, &audit).await?;
                }
                tx.commit().await?;
                Ok(inserted)
            }

            async fn login_events(
                &self,
                from: Timestamp,
                until: Timestamp,
                after: Option<EventCursor>,
                limit: i64,
            ) -> Result<Vec<LoginEvent>> {
                // Without a cursor, start just before the first possible row at `from`.
                let after = after.unwrap_or(EventCursor { time: from, id: i64::MIN });
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {EVENT_COLUMNS} FROM login_events \
                     WHERE time >= $1 AND time < $2 AND (time, id) > ($3, $4) \
                     ORDER BY time, id LIMIT $5"
                )))
                .bind(from.as_millis())
                .bind(until.as_millis())
                .bind(after.time.as_millis())
                .bind(after.id)
                .bind(limit.max(0))
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(Self::login_event_from)
                .collect()
            }

            async fn count_login_events(&self, from: Timestamp, until: Timestamp) -> Result<i64> {
                Ok(sqlx::query("SELECT COUNT(*) AS n FROM login_events WHERE time >= $1 AND time < $2")
                    .bind(from.as_millis())
                    .bind(until.as_millis())
                    .fetch_one(&self.pool)
                    .await?
                    .try_get("n")?)
            }

            async fn purge_login_events(&self, before: Timestamp, limit: i64) -> Result<u64> {
                let mut tx = self.begin_write().await?;
                let n = sqlx::query(
                    "DELETE FROM login_events WHERE id IN \
                     (SELECT id FROM login_events WHERE time < $1 ORDER BY time, id LIMIT $2)",
                )
                .bind(before.as_millis())
                .bind(limit.max(0))
                .execute(&mut *tx)
                .await?
                .rows_affected();
                tx.commit().await?;
                Ok(n)
            }

            async fn login_events_after_id(&self, after: i64, limit: i64) -> Result<Vec<LoginEvent>> {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {EVENT_COLUMNS} FROM login_events WHERE id > $1 ORDER BY id LIMIT $2"
                )))
                .bind(after)
                .bind(limit.max(0))
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(Self::login_event_from)
                .collect()
            }

            async fn login_events_by_ids(&self, ids: &[i64]) -> Result<Vec<LoginEvent>> {
                let mut out = Vec::new();
                for chunk in ids.chunks(500) {
                    let mut q = sqlx::QueryBuilder::<$db>::new(format!(
                        "SELECT {EVENT_COLUMNS} FROM login_events WHERE id IN ("
                    ));
                    let mut list = q.separated(", ");
                    for id in chunk {
                        list.push_bind(*id);
                    }
                    q.push(") ORDER BY id");
                    for row in q.build().fetch_all(&self.pool).await? {
                        out.push(Self::login_event_from(&row)?);
                    }
                }
                Ok(out)
            }

            async fn monitor_checkpoint(&self, name: &str) -> Result<Option<i64>> {
                Ok(sqlx::query("SELECT after_id FROM monitor_checkpoints WHERE name = $1")
                    .bind(name)
                    .fetch_optional(&self.pool)
                    .await?
                    .map(|r| r.try_get("after_id"))
                    .transpose()?)
            }

            async fn save_monitor_checkpoint(&self, name: &str, after_id: i64, now: Timestamp) -> Result<()> {
                sqlx::query(
                    "INSERT INTO monitor_checkpoints (name, after_id, updated_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (name) DO UPDATE SET after_id = excluded.after_id, updated_at = excluded.updated_at",
                )
                .bind(name)
                .bind(after_id)
                .bind(now.as_millis())
                .execute(&self.pool)
                .await?;
                Ok(())
            }
        }

        #[async_trait]
        impl RuleStore for $store {
            async fn rules(&self) -> Result<Vec<RuleRecord>> {
                sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {RULE_COLUMNS} FROM rules ORDER BY id")))
                    .fetch_all(&self.pool)
                    .await?
                    .iter()
                    .map(Self::rule_from)
                    .collect()
            }

            async fn rule(&self, id: &str) -> Result<Option<RuleRecord>> {
                sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {RULE_COLUMNS} FROM rules WHERE id = $1")))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?
                    .as_ref()
                    .map(Self::rule_from)
                    .transpose()
            }

            async fn rule_version(&self, id: &str, version: i64) -> Result<Option<RuleRecord>> {
                sqlx::query(
                    "SELECT rule_id AS id, version, definition, created_at AS updated_at, created_by AS updated_by, \
                     '' AS detector, 'off' AS mode FROM rule_versions WHERE rule_id = $1 AND version = $2",
                )
                .bind(id)
                .bind(version)
                .fetch_optional(&self.pool)
                .await?
                .as_ref()
                .map(Self::rule_from)
                .transpose()?
                // Detector and mode live inside the definition.
                .map(|mut r| {
                    r.detector = r.definition["detector"].as_str().unwrap_or_default().to_owned();
                    r.mode = r.definition["mode"]
                        .as_str()
                        .map(|m| parse("rule mode", m))
                        .transpose()?
                        .unwrap_or(RuleMode::Off);
                    Ok(r)
                })
                .transpose()
            }

            async fn put_rule(&self, rule: &NewRuleVersion, mut audit: NewAuditEntry) -> Result<(RuleRecord, bool)> {
                let mut tx = self.begin_write().await?;
                let current = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {RULE_COLUMNS} FROM rules WHERE id = $1"
                )))
                .bind(&rule.id)
                .fetch_optional(&mut *tx)
                .await?
                .as_ref()
                .map(Self::rule_from)
                .transpose()?;
                if let Some(current) = &current {
                    if current.definition == rule.definition {
                        tx.commit().await?;
                        return Ok((current.clone(), false));
                    }
                }
                let version = current.as_ref().map_or(1, |c| c.version + 1);
                let definition = rule.definition.to_string();
                sqlx::query(
                    "INSERT INTO rules (id, version, detector, mode, definition, updated_at, updated_by) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) \
                     ON CONFLICT (id) DO UPDATE SET version = excluded.version, detector = excluded.detector, \
                     mode = excluded.mode, definition = excluded.definition, updated_at = excluded.updated_at, \
                     updated_by = excluded.updated_by",
                )
                .bind(&rule.id)
                .bind(version)
                .bind(&rule.detector)
                .bind(rule.mode.as_str())
                .bind(&definition)
                .bind(rule.now.as_millis())
                .bind(&rule.by)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO rule_versions (rule_id, version, definition, created_at, created_by) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&rule.id)
                .bind(version)
                .bind(&definition)
                .bind(rule.now.as_millis())
                .bind(&rule.by)
                .execute(&mut *tx)
                .await?;
                crate::sql::merge_detail(
                    &mut audit,
                    serde_json::json!({
                        "rule": rule.id,
                        "version": version,
                        "previous_version": current.as_ref().map(|c| c.version),
                        "mode": rule.mode.as_str(),
                    }),
                );
                Self::append_audit_in(&mut tx, &audit).await?;
                tx.commit().await?;
                let stored = RuleRecord {
                    id: rule.id.clone(),
                    version,
                    detector: rule.detector.clone(),
                    mode: rule.mode,
                    definition: rule.definition.clone(),
                    updated_at: rule.now,
                    updated_by: rule.by.clone(),
                };
                Ok((stored, true))
            }
        }

        #[async_trait]
        impl FindingStore for $store {
            async fn record_findings(
                &self,
                rule: &FindingRule,
                findings: &[NewFinding],
                now: Timestamp,
                mut audit: NewAuditEntry,
            ) -> Result<RecordedFindings> {
                let mut report = RecordedFindings::default();
                if findings.is_empty() || rule.mode == RuleMode::Off {
                    return Ok(report);
                }
                let mut tx = self.begin_write().await?;
                // Lock the rule's row (a no-op update) so replicas count the cap one at a time.
                sqlx::query("UPDATE rules SET updated_at = updated_at WHERE id = $1")
                    .bind(&rule.id)
                    .execute(&mut *tx)
                    .await?;
                let mut handed_on: i64 = sqlx::query(
                    "SELECT COUNT(*) AS n FROM findings WHERE rule_id = $1 AND status = 'pending' AND created_at > $2",
                )
                .bind(&rule.id)
                .bind(now.minus(std::time::Duration::from_secs(86_400)).as_millis())
                .fetch_one(&mut *tx)
                .await?
                .try_get("n")?;
                for f in findings {
                    let Some(status) = FindingStatus::for_new(rule.mode, handed_on, rule.max_per_day) else {
                        break;
                    };
                    let row = sqlx::query(
                        "INSERT INTO findings (account_id, rule_id, rule_version, detector, mode, action, status, \
                         score, evidence, observed_at, created_at, dedupe_key) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
                         ON CONFLICT (dedupe_key) DO NOTHING RETURNING id",
                    )
                    .bind(f.account.to_string())
                    .bind(&rule.id)
                    .bind(rule.version)
                    .bind(&f.detector)
                    .bind(rule.mode.as_str())
                    .bind(rule.action.as_str())
                    .bind(status.as_str())
                    .bind(f.score)
                    .bind(f.evidence.to_string())
                    .bind(f.observed_at.as_millis())
                    .bind(now.as_millis())
                    .bind(&f.dedupe_key[..])
                    .fetch_optional(&mut *tx)
                    .await?;
                    let Some(row) = row else {
                        report.duplicates += 1;
                        continue;
                    };
                    report.ids.push(row.try_get("id")?);
                    match status {
                        FindingStatus::Shadow => report.shadow += 1,
                        FindingStatus::Pending => {
                            report.pending += 1;
                            handed_on += 1;
                        }
                        FindingStatus::Held => report.held += 1,
                    }
                }
                if !report.ids.is_empty() {
                    crate::sql::merge_detail(
                        &mut audit,
                        serde_json::json!({
                            "rule": rule.id,
                            "version": rule.version,
                            "mode": rule.mode.as_str(),
                            "shadow": report.shadow,
                            "pending": report.pending,
                            "held": report.held,
                            "first_id": report.ids.first(),
                            "last_id": report.ids.last(),
                        }),
                    );
                    Self::append_audit_in(&mut tx, &audit).await?;
                }
                tx.commit().await?;
                Ok(report)
            }

            async fn findings(&self, filter: &FindingFilter) -> Result<Vec<Finding>> {
                let mut q = sqlx::QueryBuilder::<$db>::new(
                    "SELECT f.id, f.account_id, a.email, f.rule_id, f.rule_version, f.detector, f.mode, f.action, \
                     f.status, f.score, f.evidence, f.observed_at, f.created_at \
                     FROM findings f JOIN accounts a ON a.id = f.account_id WHERE 1 = 1",
                );
                if let Some(rule) = &filter.rule {
                    q.push(" AND f.rule_id = ").push_bind(rule.clone());
                }
                if let Some(account) = filter.account {
                    q.push(" AND f.account_id = ").push_bind(account.to_string());
                }
                if let Some(since) = filter.since {
                    q.push(" AND f.created_at >= ").push_bind(since.as_millis());
                }
                if let Some(until) = filter.until {
                    q.push(" AND f.created_at < ").push_bind(until.as_millis());
                }
                if let Some(status) = filter.status {
                    q.push(" AND f.status = ").push_bind(status.as_str());
                }
                if let Some(before) = filter.before_id {
                    q.push(" AND f.id < ").push_bind(before);
                }
                q.push(" ORDER BY f.id DESC LIMIT ").push_bind(filter.limit.clamp(0, 1000));
                q.build()
                    .fetch_all(&self.pool)
                    .await?
                    .iter()
                    .map(|row| {
                        Ok(Finding {
                            id: row.try_get("id")?,
                            account_id: parse("account id", &row.try_get::<String, _>("account_id")?)?,
                            email: row.try_get("email")?,
                            rule_id: row.try_get("rule_id")?,
                            rule_version: row.try_get("rule_version")?,
                            detector: row.try_get("detector")?,
                            mode: parse("rule mode", &row.try_get::<String, _>("mode")?)?,
                            action: parse("rule action", &row.try_get::<String, _>("action")?)?,
                            status: parse("finding status", &row.try_get::<String, _>("status")?)?,
                            score: row.try_get("score")?,
                            evidence: crate::sql::json_column("finding evidence", &row.try_get::<String, _>("evidence")?)?,
                            observed_at: Timestamp::from_millis(row.try_get("observed_at")?),
                            created_at: Timestamp::from_millis(row.try_get("created_at")?),
                        })
                    })
                    .collect()
            }

            async fn unassigned_findings(&self, rule: &str, limit: i64) -> Result<Vec<(i64, AccountId, serde_json::Value)>> {
                sqlx::query(
                    "SELECT f.id, f.account_id, f.evidence FROM findings f WHERE f.rule_id = $1 AND f.status = 'pending' \
                     AND NOT EXISTS (SELECT 1 FROM campaign_targets t WHERE t.finding_id = f.id) ORDER BY f.id LIMIT $2",
                )
                .bind(rule)
                .bind(limit.clamp(0, 100_000))
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|r| {
                    Ok((
                        r.try_get("id")?,
                        parse("account id", &r.try_get::<String, _>("account_id")?)?,
                        crate::sql::json_column("finding evidence", &r.try_get::<String, _>("evidence")?)?,
                    ))
                })
                .collect()
            }

            async fn findings_per_day(&self, rule: &str, since: Timestamp, until: Timestamp) -> Result<Vec<(i64, i64)>> {
                sqlx::query(
                    "SELECT created_at / 86400000 AS day, COUNT(*) AS n FROM findings \
                     WHERE rule_id = $1 AND created_at >= $2 AND created_at < $3 GROUP BY created_at / 86400000 ORDER BY day",
                )
                .bind(rule)
                .bind(since.as_millis())
                .bind(until.as_millis())
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|r| Ok((r.try_get("day")?, r.try_get("n")?)))
                .collect()
            }
        }

        #[async_trait]
        impl CampaignStore for $store {
            async fn create_campaign(&self, c: &NewCampaign, targets: &[NewTarget], audit: NewAuditEntry) -> Result<CampaignRecord> {
                if targets.is_empty() {
                    return Err(StoreError::Invalid("a campaign needs at least one target; an empty set never means all"));
                }
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "INSERT INTO campaigns (id, name, source, automatic, rule_id, rule_version, reason, state, created_by, \
                     created_at, target_count, needs_second_approval, stage_plan, rate_per_minute, bake_secs, stage, applied, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, 'draft', $8, $9, 0, 0, $10, $11, $12, 0, 0, $9)",
                )
                .bind(c.id.to_string())
                .bind(&c.name)
                .bind(c.source.as_str())
                .bind(i64::from(c.automatic))
                .bind(c.rule.as_ref().map(|r| r.0.clone()))
                .bind(c.rule.as_ref().map(|r| r.1))
                .bind(&c.reason)
                .bind(&c.created_by)
                .bind(c.created_at.as_millis())
                .bind(c.stage_plan.to_string())
                .bind(c.rate_per_minute)
                .bind(c.bake_secs)
                .execute(&mut *tx)
                .await?;
                let mut seq: i64 = 0;
                for chunk in targets.chunks(500) {
                    let mut q = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO campaign_targets (campaign_id, account_id, seq, finding_id, evidence, state) ",
                    );
                    q.push_values(chunk, |mut b, t| {
                        b.push_bind(c.id.to_string())
                            .push_bind(t.account.to_string())
                            .push_bind(seq)
                            .push_bind(t.finding_id)
                            .push_bind(t.evidence.to_string())
                            .push_bind("pending");
                        seq += 1;
                    });
                    q.push(" ON CONFLICT (campaign_id, account_id) DO NOTHING");
                    q.build().execute(&mut *tx).await?;
                }
                let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM campaign_targets WHERE campaign_id = $1")
                    .bind(c.id.to_string())
                    .fetch_one(&mut *tx)
                    .await?
                    .try_get("n")?;
                sqlx::query("UPDATE campaigns SET target_count = $1 WHERE id = $2")
                    .bind(n)
                    .bind(c.id.to_string())
                    .execute(&mut *tx)
                    .await?;
                let mut audit = audit;
                crate::sql::merge_detail(&mut audit, serde_json::json!({ "campaign": c.id.to_string(), "targets": n }));
                Self::append_audit_in(&mut tx, &audit).await?;
                let stored = Self::campaign_in(&mut tx, c.id).await?.ok_or_else(|| StoreError::corrupt("campaign vanished"))?;
                tx.commit().await?;
                Ok(stored)
            }

            async fn campaign(&self, id: CampaignId) -> Result<Option<CampaignRecord>> {
                let mut conn = self.pool.acquire().await?;
                Self::campaign_in(&mut conn, id).await
            }

            async fn campaigns(&self, state: Option<CampaignState>, limit: i64) -> Result<Vec<CampaignRecord>> {
                let mut q = sqlx::QueryBuilder::<$db>::new(format!("SELECT {CAMPAIGN_COLUMNS} FROM campaigns"));
                if let Some(state) = state {
                    q.push(" WHERE state = ").push_bind(state.as_str());
                }
                q.push(" ORDER BY created_at DESC, id LIMIT ").push_bind(limit.clamp(0, 1000));
                q.build().fetch_all(&self.pool).await?.iter().map(Self::campaign_from).collect()
            }

            async fn campaign_targets(
                &self,
                id: CampaignId,
                state: Option<TargetState>,
                after: i64,
                limit: i64,
            ) -> Result<Vec<TargetRecord>> {
                let mut q = sqlx::QueryBuilder::<$db>::new(
                    "SELECT t.account_id, a.email, t.seq, t.finding_id, t.evidence, t.state, t.credential_version, \
                     t.applied_at, t.notice_reference FROM campaign_targets t JOIN accounts a ON a.id = t.account_id \
                     WHERE t.campaign_id = ",
                );
                q.push_bind(id.to_string());
                if let Some(state) = state {
                    q.push(" AND t.state = ").push_bind(state.as_str());
                }
                q.push(" AND t.seq > ").push_bind(after);
                q.push(" ORDER BY t.seq LIMIT ").push_bind(limit.clamp(0, 10_000));
                q.build().fetch_all(&self.pool).await?.iter().map(Self::target_from).collect()
            }

            async fn campaign_target_counts(&self, id: CampaignId) -> Result<Vec<(TargetState, i64)>> {
                sqlx::query("SELECT state, COUNT(*) AS n FROM campaign_targets WHERE campaign_id = $1 GROUP BY state ORDER BY state")
                    .bind(id.to_string())
                    .fetch_all(&self.pool)
                    .await?
                    .iter()
                    .map(|r| Ok((parse("target state", &r.try_get::<String, _>("state")?)?, r.try_get("n")?)))
                    .collect()
            }

            async fn campaign_target_ids(&self, id: CampaignId) -> Result<Vec<AccountId>> {
                sqlx::query("SELECT account_id FROM campaign_targets WHERE campaign_id = $1 ORDER BY account_id")
                    .bind(id.to_string())
                    .fetch_all(&self.pool)
                    .await?
                    .iter()
                    .map(|r| parse("account id", &r.try_get::<String, _>("account_id")?))
                    .collect()
            }

            async fn update_campaign(
                &self,
                id: CampaignId,
                from: CampaignState,
                u: &CampaignUpdate,
                audit: NewAuditEntry,
            ) -> Result<CampaignRecord> {
                let mut tx = self.begin_write().await?;
                let mut q = sqlx::QueryBuilder::<$db>::new("UPDATE campaigns SET updated_at = ");
                q.push_bind(u.now.as_millis());
                if let Some(state) = u.state {
                    q.push(", state = ").push_bind(state.as_str());
                }
                if let Some((hash, size)) = u.snapshot {
                    q.push(", snapshot_hash = ").push_bind(hash.to_vec());
                    q.push(", target_count = ").push_bind(size);
                }
                if let Some(needs) = u.needs_second_approval {
                    q.push(", needs_second_approval = ").push_bind(i64::from(needs));
                }
                if let Some(by) = &u.approved_by {
                    q.push(", approved_by = ").push_bind(by.clone());
                    q.push(", approved_at = ").push_bind(by.as_ref().map(|_| u.now.as_millis()));
                }
                if let Some(p) = &u.preview {
                    q.push(", preview = ").push_bind(p.to_string());
                }
                if let Some((stage, at)) = u.stage {
                    q.push(", stage = ").push_bind(stage);
                    q.push(", stage_started_at = ").push_bind(at.as_millis());
                }
                if let Some(reason) = &u.paused_reason {
                    q.push(", paused_reason = ").push_bind(reason.clone());
                }
                if let Some(by) = &u.undo_by {
                    q.push(", undo_by = ").push_bind(by.clone());
                }
                q.push(" WHERE id = ").push_bind(id.to_string());
                q.push(" AND state = ").push_bind(from.as_str());
                if q.build().execute(&mut *tx).await?.rows_affected() == 0 {
                    return Err(StoreError::Conflict("the campaign changed meanwhile; look at it again"));
                }
                let mut audit = audit;
                crate::sql::merge_detail(
                    &mut audit,
                    serde_json::json!({ "campaign": id.to_string(), "from": from.as_str(), "to": u.state.unwrap_or(from).as_str() }),
                );
                Self::append_audit_in(&mut tx, &audit).await?;
                let stored = Self::campaign_in(&mut tx, id).await?.ok_or_else(|| StoreError::corrupt("campaign vanished"))?;
                tx.commit().await?;
                Ok(stored)
            }

            async fn apply_campaign_target(&self, step: &ApplyStep<'_>) -> Result<ApplyOutcome> {
                let mut tx = self.begin_write().await?;
                if Self::lock_breaker_in(&mut tx).await? {
                    return Ok(ApplyOutcome::BreakerOpen);
                }
                let campaign = step.campaign.to_string();
                let account = step.account.to_string();
                let state: String = sqlx::query("SELECT state FROM campaigns WHERE id = $1")
                    .bind(&campaign)
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or(StoreError::NotFound("campaign"))?
                    .try_get("state")?;
                let state: CampaignState = parse("campaign state", &state)?;
                if state != CampaignState::Running {
                    return Ok(ApplyOutcome::NotRunning(state));
                }
                let target: Option<String> = sqlx::query(
                    "SELECT state FROM campaign_targets WHERE campaign_id = $1 AND account_id = $2",
                )
                .bind(&campaign)
                .bind(&account)
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| r.try_get("state"))
                .transpose()?;
                match target.as_deref() {
                    None => return Err(StoreError::NotFound("campaign target")),
                    Some("pending") => {}
                    Some(_) => return Ok(ApplyOutcome::AlreadyDone),
                }
                let now = step.now.as_millis();
                let minute = now / 60_000;
                let used = sqlx::query(
                    "SELECT CAST(COALESCE(SUM(CASE WHEN minute > $1 THEN n ELSE 0 END), 0) AS BIGINT) AS hour, \
                     CAST(COALESCE(SUM(n), 0) AS BIGINT) AS day \
                     FROM reset_counts WHERE minute > $2",
                )
                .bind(minute - 60)
                .bind(minute - 1440)
                .fetch_one(&mut *tx)
                .await?;
                let (hour, day): (i64, i64) = (used.try_get("hour")?, used.try_get("day")?);
                if !step.budget.may_exceed && (hour >= step.budget.per_hour || day >= step.budget.per_day) {
                    return Ok(ApplyOutcome::BudgetExhausted { hour, day });
                }
                let version: Option<i64> = sqlx::query(
                    "UPDATE credentials SET state = 'reset_required' WHERE account_id = $1 AND state = 'active' RETURNING version",
                )
                .bind(&account)
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| r.try_get("version"))
                .transpose()?;
                let Some(version) = version else {
                    sqlx::query("UPDATE campaign_targets SET state = 'skipped' WHERE campaign_id = $1 AND account_id = $2")
                        .bind(&campaign)
                        .bind(&account)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    return Ok(ApplyOutcome::Skipped);
                };
                sqlx::query(
                    "UPDATE sessions SET state = 'suspended', suspended_by = $1 WHERE account_id = $2 AND state = 'active'",
                )
                .bind(&campaign)
                .bind(&account)
                .execute(&mut *tx)
                .await?;
                Self::insert_recovery_in(&mut tx, step.recovery).await?;
                Self::insert_notice_in(&mut tx, step.notice).await?;
                Self::append_audit_in(&mut tx, &step.audit).await?;
                sqlx::query(
                    "UPDATE campaign_targets SET state = 'applied', credential_version = $1, applied_at = $2, notice_reference = $3 \
                     WHERE campaign_id = $4 AND account_id = $5",
                )
                .bind(version)
                .bind(now)
                .bind(&step.notice.reference)
                .bind(&campaign)
                .bind(&account)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO reset_counts (minute, n) VALUES ($1, 1) ON CONFLICT (minute) DO UPDATE SET n = reset_counts.n + 1",
                )
                .bind(minute)
                .execute(&mut *tx)
                .await?;
                sqlx::query("UPDATE campaigns SET applied = applied + 1, updated_at = $1 WHERE id = $2")
                    .bind(now)
                    .bind(&campaign)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(ApplyOutcome::Applied { reference: step.notice.reference.clone() })
            }

            async fn undo_campaign_target(&self, step: &UndoStep<'_>) -> Result<UndoOutcome> {
                let mut tx = self.begin_write().await?;
                Self::lock_breaker_in(&mut tx).await?;
                let campaign = step.campaign.to_string();
                let account = step.account.to_string();
                let row = sqlx::query(
                    "SELECT state, credential_version FROM campaign_targets WHERE campaign_id = $1 AND account_id = $2",
                )
                .bind(&campaign)
                .bind(&account)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(StoreError::NotFound("campaign target"))?;
                let state: String = row.try_get("state")?;
                let Some(version) = row.try_get::<Option<i64>, _>("credential_version")? else {
                    return Ok(UndoOutcome::AlreadyDone);
                };
                if state != "applied" {
                    return Ok(UndoOutcome::AlreadyDone);
                }
                let now = step.now.as_millis();
                // Restorable only while the credential is the one the campaign reset:
                // the owner has not set a new password since.
                let restored = sqlx::query(
                    "UPDATE credentials SET state = 'active' WHERE account_id = $1 AND state = 'reset_required' AND version = $2",
                )
                .bind(&account)
                .bind(version)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1;
                // A forced-reset notice not sent yet (held while the breaker is open,
                // or waiting its turn) is withdrawn: sent later, it would tell of a
                // reset that no longer exists, after its own correction. One being
                // sent right now (leased) goes out, and the correction follows it.
                let withdrawn = sqlx::query(
                    "UPDATE outbox SET state = 'expired', payload = NULL, \
                     last_error = 'withdrawn: the campaign was undone before it was sent' \
                     WHERE state = 'pending' AND reference = \
                     (SELECT notice_reference FROM campaign_targets WHERE campaign_id = $1 AND account_id = $2)",
                )
                .bind(&campaign)
                .bind(&account)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1;
                let outcome = if restored {
                    let sessions = sqlx::query(
                        "UPDATE sessions SET state = 'active', suspended_by = NULL \
                         WHERE account_id = $1 AND state = 'suspended' AND suspended_by = $2 AND created_at >= $3 AND expires_at > $4",
                    )
                    .bind(&account)
                    .bind(&campaign)
                    .bind(step.reinstate_after.as_millis())
                    .bind(now)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    sqlx::query(
                        "UPDATE recovery_requests SET state = 'superseded', ended_at = $1 WHERE account_id = $2 AND state = 'active'",
                    )
                    .bind(now)
                    .bind(&account)
                    .execute(&mut *tx)
                    .await?;
                    if !withdrawn {
                        Self::insert_notice_in(&mut tx, step.correction).await?;
                    }
                    UndoOutcome::Restored { sessions, withdrawn }
                } else {
                    Self::insert_notice_in(&mut tx, step.explanation).await?;
                    UndoOutcome::NotRestorable
                };
                let mut audit = step.audit.clone();
                crate::sql::merge_detail(
                    &mut audit,
                    serde_json::json!({ "campaign": campaign, "restored": restored, "notice_withdrawn": withdrawn }),
                );
                Self::append_audit_in(&mut tx, &audit).await?;
                sqlx::query(
                    "UPDATE campaign_targets SET state = $1, undone_at = $2 WHERE campaign_id = $3 AND account_id = $4",
                )
                .bind(if restored { "restored" } else { "not_restorable" })
                .bind(now)
                .bind(&campaign)
                .bind(&account)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(outcome)
            }

            async fn campaign_undone_since(&self, id: CampaignId, since: Timestamp) -> Result<i64> {
                Ok(sqlx::query("SELECT COUNT(*) AS n FROM campaign_targets WHERE campaign_id = $1 AND undone_at >= $2")
                    .bind(id.to_string())
                    .bind(since.as_millis())
                    .fetch_one(&self.pool)
                    .await?
                    .try_get("n")?)
            }

            async fn campaign_overlap(&self, id: CampaignId) -> Result<u64> {
                let n: i64 = sqlx::query(
                    "SELECT COUNT(DISTINCT t.account_id) AS n FROM campaign_targets t \
                     JOIN campaign_targets o ON o.account_id = t.account_id AND o.campaign_id <> t.campaign_id \
                     JOIN campaigns c ON c.id = o.campaign_id \
                     WHERE t.campaign_id = $1 AND c.state IN ('approved', 'running', 'paused')",
                )
                .bind(id.to_string())
                .fetch_one(&self.pool)
                .await?
                .try_get("n")?;
                Ok(n.max(0) as u64)
            }

            async fn report_unexpected_notice(&self, reference: &str, now: Timestamp, audit: NewAuditEntry) -> Result<bool> {
                let mut tx = self.begin_write().await?;
                let hit = sqlx::query(
                    "UPDATE campaign_targets SET reported_at = $1 WHERE notice_reference = $2 AND reported_at IS NULL",
                )
                .bind(now.as_millis())
                .bind(reference)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    > 0;
                if hit {
                    Self::append_audit_in(&mut tx, &audit).await?;
                }
                tx.commit().await?;
                Ok(hit)
            }

            async fn campaign_reports(&self, id: CampaignId) -> Result<i64> {
                Ok(sqlx::query("SELECT COUNT(*) AS n FROM campaign_targets WHERE campaign_id = $1 AND reported_at IS NOT NULL")
                    .bind(id.to_string())
                    .fetch_one(&self.pool)
                    .await?
                    .try_get("n")?)
            }

            async fn campaign_recovery_completions(&self, id: CampaignId, sent_before: Timestamp) -> Result<(i64, i64)> {
                // A reset credential keeps its version; setting a new password
                // (recovery or settings) moves it up, and undo does not.
                let row = sqlx::query(
                    "SELECT COUNT(*) AS sample, COUNT(CASE WHEN c.version > t.credential_version THEN 1 END) AS completed \
                     FROM campaign_targets t JOIN outbox o ON o.reference = t.notice_reference \
                     JOIN credentials c ON c.account_id = t.account_id \
                     WHERE t.campaign_id = $1 AND t.state = 'applied' AND o.state = 'sent' AND o.sent_at <= $2",
                )
                .bind(id.to_string())
                .bind(sent_before.as_millis())
                .fetch_one(&self.pool)
                .await?;
                Ok((row.try_get("sample")?, row.try_get("completed")?))
            }

            async fn account_campaigns(&self, account: AccountId, limit: i64) -> Result<Vec<AccountCampaign>> {
                sqlx::query(
                    "SELECT t.campaign_id, c.reason, c.automatic, c.state AS campaign_state, t.state, t.applied_at, \
                     t.notice_reference, t.undone_at, t.credential_version, cr.version, cr.state AS credential_state \
                     FROM campaign_targets t JOIN campaigns c ON c.id = t.campaign_id \
                     JOIN credentials cr ON cr.account_id = t.account_id \
                     WHERE t.account_id = $1 AND t.applied_at IS NOT NULL \
                     ORDER BY t.applied_at DESC LIMIT $2",
                )
                .bind(account.to_string())
                .bind(limit.clamp(0, 1000))
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|r| {
                    let reset_version: Option<i64> = r.try_get("credential_version")?;
                    let version: i64 = r.try_get("version")?;
                    let changed = reset_version.is_some_and(|v| version > v);
                    let state: TargetState = parse("target state", &r.try_get::<String, _>("state")?)?;
                    Ok(AccountCampaign {
                        campaign_id: parse("campaign id", &r.try_get::<String, _>("campaign_id")?)?,
                        reason: r.try_get("reason")?,
                        automatic: r.try_get::<i64, _>("automatic")? != 0,
                        campaign_state: parse("campaign state", &r.try_get::<String, _>("campaign_state")?)?,
                        state,
                        applied_at: r.try_get::<Option<i64>, _>("applied_at")?.map(Timestamp::from_millis),
                        notice_reference: r.try_get("notice_reference")?,
                        undone_at: r.try_get::<Option<i64>, _>("undone_at")?.map(Timestamp::from_millis),
                        password_changed_since: changed,
                        awaiting_new_password: !changed
                            && state == TargetState::Applied
                            && r.try_get::<String, _>("credential_state")? == "reset_required",
                    })
                })
                .collect()
            }

            async fn campaign_failed_notices(&self, id: CampaignId) -> Result<i64> {
                Ok(sqlx::query(
                    "SELECT COUNT(*) AS n FROM outbox o JOIN campaign_targets t \
                     ON t.notice_reference = o.reference WHERE t.campaign_id = $1 AND o.state = 'failed'",
                )
                .bind(id.to_string())
                .fetch_one(&self.pool)
                .await?
                .try_get("n")?)
            }

            async fn resets_since(&self, since: Timestamp) -> Result<i64> {
                Ok(sqlx::query("SELECT COUNT(*) AS n FROM campaign_targets WHERE applied_at > $1")
                    .bind(since.as_millis())
                    .fetch_one(&self.pool)
                    .await?
                    .try_get("n")?)
            }

            async fn resets_per_day(&self, since: Timestamp, until: Timestamp) -> Result<Vec<(i64, i64)>> {
                sqlx::query(
                    "SELECT applied_at / 86400000 AS day, COUNT(*) AS n FROM campaign_targets \
                     WHERE applied_at >= $1 AND applied_at < $2 GROUP BY applied_at / 86400000 ORDER BY day",
                )
                .bind(since.as_millis())
                .bind(until.as_millis())
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|r| Ok((r.try_get("day")?, r.try_get("n")?)))
                .collect()
            }

            async fn breaker(&self) -> Result<BreakerRecord> {
                let r = sqlx::query("SELECT state, reason, changed_at, changed_by FROM breaker WHERE id = 1")
                    .fetch_one(&self.pool)
                    .await?;
                Ok(BreakerRecord {
                    open: r.try_get::<String, _>("state")? == "open",
                    reason: r.try_get("reason")?,
                    changed_at: Timestamp::from_millis(r.try_get("changed_at")?),
                    changed_by: r.try_get("changed_by")?,
                })
            }

            async fn set_breaker(&self, open: bool, reason: &str, by: &str, now: Timestamp, alerts: TripAlerts<'_>, audit: NewAuditEntry) -> Result<bool> {
                let mut tx = self.begin_write().await?;
                let was_open = Self::lock_breaker_in(&mut tx).await?;
                if was_open == open {
                    tx.commit().await?;
                    return Ok(false);
                }
                let trip: i64 = sqlx::query(
                    "UPDATE breaker SET state = $1, reason = $2, changed_at = $3, changed_by = $4, \
                     trips = trips + CASE WHEN $5 THEN 1 ELSE 0 END WHERE id = 1 RETURNING trips",
                )
                .bind(if open { "open" } else { "closed" })
                .bind(reason)
                .bind(now.as_millis())
                .bind(by)
                .bind(open)
                .fetch_one(&mut *tx)
                .await?
                .try_get("trips")?;
                let mut paused = 0;
                let mut alerted = 0;
                if open {
                    paused = sqlx::query(
                        "UPDATE campaigns SET state = 'paused', paused_reason = $1, updated_at = $2 \
                         WHERE state = 'running' AND automatic = 1",
                    )
                    .bind(format!("circuit breaker: {reason}"))
                    .bind(now.as_millis())
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    // The operators' alerts, in the trip's transaction: a trip that
                    // commits has its alerts, and a retried trip finds the breaker open.
                    let count_since = |since: Timestamp| {
                        sqlx::query("SELECT COUNT(*) AS n FROM campaign_targets WHERE applied_at > $1")
                            .bind(since.as_millis())
                    };
                    let resets_last_hour: i64 = count_since(now.minus(std::time::Duration::from_secs(3600)))
                        .fetch_one(&mut *tx)
                        .await?
                        .try_get("n")?;
                    let resets_last_day: i64 = count_since(now.minus(std::time::Duration::from_secs(86_400)))
                        .fetch_one(&mut *tx)
                        .await?
                        .try_get("n")?;
                    let operators = sqlx::query(
                        "SELECT id, email, created_at FROM operators WHERE disabled_at IS NULL ORDER BY created_at, id",
                    )
                    .fetch_all(&mut *tx)
                    .await?
                    .iter()
                    .map(Self::operator_from)
                    .collect::<Result<Vec<_>>>()?;
                    let notices = alerts(&BreakerTrip {
                        trip,
                        at: now,
                        reason: reason.to_owned(),
                        by: by.to_owned(),
                        paused_campaigns: paused,
                        resets_last_hour,
                        resets_last_day,
                        operators,
                    });
                    alerted = Self::insert_notices_in(&mut tx, &notices).await?;
                }
                let mut audit = audit;
                crate::sql::merge_detail(
                    &mut audit,
                    serde_json::json!({ "open": open, "reason": reason, "paused_campaigns": paused, "trip": trip, "operators_alerted": alerted }),
                );
                Self::append_audit_in(&mut tx, &audit).await?;
                tx.commit().await?;
                Ok(true)
            }
        }

        #[async_trait]
        impl RecoveryStore for $store {
            async fn create_recovery(&self, new: &NewRecovery, notice: &NewNotice, audit: NewAuditEntry) -> Result<()> {
                let mut tx = self.begin_write().await?;
                Self::insert_recovery_in(&mut tx, new).await?;
                Self::insert_notice_in(&mut tx, notice).await?;
                Self::append_audit_in(&mut tx, &audit).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn recovery_attempt(
                &self,
                lookup: &RecoveryLookup,
                now: Timestamp,
                max_attempts: i64,
            ) -> Result<Option<RecoveryAttempt>> {
                let mut tx = self.begin_write().await?;
                let base = "UPDATE recovery_requests SET attempts = attempts + 1 \
                     WHERE state = 'active' AND expires_at > $1 AND attempts < $2 AND ";
                let row = match lookup {
                    RecoveryLookup::Account(account) => {
                        sqlx::query(sqlx::AssertSqlSafe(format!(
                            "{base}account_id = $3 RETURNING id, account_id, code_hash, attempts"
                        )))
                        .bind(now.as_millis())
                        .bind(max_attempts)
                        .bind(account.to_string())
                        .fetch_optional(&mut *tx)
                        .await?
                    }
                    RecoveryLookup::Token(hash) => {
                        sqlx::query(sqlx::AssertSqlSafe(format!(
                            "{base}token_hash = $3 RETURNING id, account_id, code_hash, attempts"
                        )))
                        .bind(now.as_millis())
                        .bind(max_attempts)
                        .bind(hash.as_bytes())
                        .fetch_optional(&mut *tx)
                        .await?
                    }
                };
                let Some(row) = row else {
                    tx.commit().await?;
                    return Ok(None);
                };
                let account: String = row.try_get("account_id")?;
                let email: String = sqlx::query("SELECT email FROM accounts WHERE id = $1")
                    .bind(&account)
                    .fetch_one(&mut *tx)
                    .await?
                    .try_get("email")?;
                tx.commit().await?;
                Ok(Some(RecoveryAttempt {
                    id: parse("recovery id", &row.try_get::<String, _>("id")?)?,
                    account: parse("account id", &account)?,
                    email,
                    code_hash: row.try_get("code_hash")?,
                    attempts: row.try_get("attempts")?,
                }))
            }

            async fn reject_recovery_attempt(
                &self,
                request: RecoveryId,
                exhausted: bool,
                now: Timestamp,
                audit: NewAuditEntry,
            ) -> Result<()> {
                let mut tx = self.begin_write().await?;
                if exhausted {
                    sqlx::query(
                        "UPDATE recovery_requests SET state = 'exhausted', ended_at = $1 WHERE id = $2 AND state = 'active'",
                    )
                    .bind(now.as_millis())
                    .bind(request.to_string())
                    .execute(&mut *tx)
                    .await?;
                }
                Self::append_audit_in(&mut tx, &audit).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn complete_recovery(&self, c: &RecoveryCompletion<'_>, audit: NewAuditEntry) -> Result<PasswordChanged> {
                let mut tx = self.begin_write().await?;
                // Of many concurrent redemptions, exactly one gets this row.
                let used = sqlx::query(
                    "UPDATE recovery_requests SET state = 'used', ended_at = $1 \
                     WHERE id = $2 AND account_id = $3 AND state = 'active' AND expires_at > $1",
                )
                .bind(c.now.as_millis())
                .bind(c.request.to_string())
                .bind(c.account.to_string())
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if used != 1 {
                    return Err(StoreError::Conflict("this recovery code was used already or has expired"));
                }
                let version: i64 = sqlx::query(
                    "UPDATE credentials SET hash = $1, state = 'active', version = version + 1, changed_at = $2 \
                     WHERE account_id = $3 RETURNING version",
                )
                .bind(c.new_hash)
                .bind(c.now.as_millis())
                .bind(c.account.to_string())
                .fetch_one(&mut *tx)
                .await?
                .try_get("version")?;
                let ended = Self::revoke_sessions_in(&mut tx, c.account, None, c.now, "password_recovered").await?;
                for key in c.clear_throttle_keys {
                    sqlx::query("DELETE FROM login_throttle WHERE key = $1")
                        .bind(*key)
                        .execute(&mut *tx)
                        .await?;
                }
                let mut notice = c.notice.clone();
                notice.idempotency_key = password_changed_key(c.account, version);
                Self::insert_notice_in(&mut tx, &notice).await?;
                let mut audit = audit;
                audit.detail = serde_json::json!({
                    "request": c.request.to_string(),
                    "version": version,
                    "sessions_ended": ended,
                });
                Self::append_audit_in(&mut tx, &audit).await?;
                tx.commit().await?;
                Ok(PasswordChanged { version, sessions_ended: ended })
            }
        }

        const INCIDENT_COLUMNS: &str = "id, title, state, impact, body, figures, postmortem, created_at, created_by, \
             updated_at, published_at, resolved_at";

        const SUBSCRIBER_COLUMNS: &str = "id, email, state, created_at, confirmed_at, unsubscribed_at";

        impl $store {
            fn incident_from(row: &DbRow) -> Result<Incident> {
                let opt_ts = |v: Option<i64>| v.map(Timestamp::from_millis);
                Ok(Incident {
                    id: row.try_get("id")?,
                    title: row.try_get("title")?,
                    state: parse("incident state", &row.try_get::<String, _>("state")?)?,
                    impact: parse("incident impact", &row.try_get::<String, _>("impact")?)?,
                    body: row.try_get("body")?,
                    figures: row
                        .try_get::<Option<String>, _>("figures")?
                        .map(|f| crate::sql::json_column("incident figures", &f))
                        .transpose()?,
                    postmortem: row.try_get("postmortem")?,
                    components: Vec::new(),
                    created_at: Timestamp::from_millis(row.try_get("created_at")?),
                    created_by: row.try_get("created_by")?,
                    updated_at: Timestamp::from_millis(row.try_get("updated_at")?),
                    published_at: opt_ts(row.try_get("published_at")?),
                    resolved_at: opt_ts(row.try_get("resolved_at")?),
                    updates: Vec::new(),
                })
            }

            fn subscriber_from(row: &DbRow) -> Result<StatusSubscriber> {
                let opt_ts = |v: Option<i64>| v.map(Timestamp::from_millis);
                Ok(StatusSubscriber {
                    id: row.try_get("id")?,
                    email: row.try_get("email")?,
                    state: parse("subscriber state", &row.try_get::<String, _>("state")?)?,
                    created_at: Timestamp::from_millis(row.try_get("created_at")?),
                    confirmed_at: opt_ts(row.try_get("confirmed_at")?),
                    unsubscribed_at: opt_ts(row.try_get("unsubscribed_at")?),
                })
            }

            /// Fills in the updates and components of incidents read without them:
            /// two statements for the whole list, not two per incident.
            async fn incident_details_in(conn: &mut $conn, incidents: &mut [Incident]) -> Result<()> {
                if incidents.is_empty() {
                    return Ok(());
                }
                let position: std::collections::HashMap<i64, usize> =
                    incidents.iter().enumerate().map(|(i, x)| (x.id, i)).collect();
                let mut q = sqlx::QueryBuilder::<$db>::new(
                    "SELECT id, incident_id, state, body, at, author FROM incident_updates WHERE incident_id IN (",
                );
                let mut list = q.separated(", ");
                for x in incidents.iter() {
                    list.push_bind(x.id);
                }
                q.push(") ORDER BY at, id");
                for row in q.build().fetch_all(&mut *conn).await? {
                    let incident: i64 = row.try_get("incident_id")?;
                    if let Some(&i) = position.get(&incident) {
                        incidents[i].updates.push(IncidentUpdate {
                            id: row.try_get("id")?,
                            state: parse("update state", &row.try_get::<String, _>("state")?)?,
                            body: row.try_get("body")?,
                            at: Timestamp::from_millis(row.try_get("at")?),
                            author: row.try_get("author")?,
                        });
                    }
                }
                let mut q = sqlx::QueryBuilder::<$db>::new(
                    "SELECT ic.incident_id, ic.component_id FROM incident_components ic \
                     JOIN status_components c ON c.id = ic.component_id WHERE ic.incident_id IN (",
                );
                let mut list = q.separated(", ");
                for x in incidents.iter() {
                    list.push_bind(x.id);
                }
                q.push(") ORDER BY c.position, c.id");
                for row in q.build().fetch_all(&mut *conn).await? {
                    let incident: i64 = row.try_get("incident_id")?;
                    if let Some(&i) = position.get(&incident) {
                        incidents[i].components.push(row.try_get("component_id")?);
                    }
                }
                Ok(())
            }

            async fn incident_in(conn: &mut $conn, id: i64) -> Result<Option<Incident>> {
                let Some(row) = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = $1"
                )))
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?
                else {
                    return Ok(None);
                };
                let mut one = [Self::incident_from(&row)?];
                Self::incident_details_in(conn, &mut one).await?;
                let [incident] = one;
                Ok(Some(incident))
            }

            /// Locks the incident's row (PostgreSQL: `UPDATE … RETURNING` takes the
            /// row lock; SQLite: the immediate transaction holds the database) and
            /// returns its state, so concurrent updates apply one after the other.
            async fn lock_incident_in(conn: &mut $conn, id: i64) -> Result<Option<IncidentState>> {
                sqlx::query("UPDATE incidents SET updated_at = updated_at WHERE id = $1 RETURNING state")
                    .bind(id)
                    .fetch_optional(&mut *conn)
                    .await?
                    .map(|r| parse("incident state", &r.try_get::<String, _>("state")?))
                    .transpose()
            }

            /// Replaces an incident's components; `Conflict` if one does not exist.
            async fn set_incident_components_in(conn: &mut $conn, id: i64, components: &[String]) -> Result<()> {
                sqlx::query("DELETE FROM incident_components WHERE incident_id = $1")
                    .bind(id)
                    .execute(&mut *conn)
                    .await?;
                for c in components {
                    let inserted = sqlx::query(
                        "INSERT INTO incident_components (incident_id, component_id) \
                         SELECT $1, id FROM status_components WHERE id = $2 ON CONFLICT DO NOTHING",
                    )
                    .bind(id)
                    .bind(c)
                    .execute(&mut *conn)
                    .await?
                    .rows_affected();
                    if inserted == 0
                        && sqlx::query("SELECT 1 FROM status_components WHERE id = $1")
                            .bind(c)
                            .fetch_optional(&mut *conn)
                            .await?
                            .is_none()
                    {
                        return Err(StoreError::Conflict("no status component with this id"));
                    }
                }
                Ok(())
            }

            /// Inserts notices in batches (skipping idempotency keys that exist).
            async fn insert_notices_in(conn: &mut $conn, notices: &[NewNotice]) -> Result<u64> {
                let mut inserted = 0;
                // 13 placeholders a row: 500 rows stay far below both engines' limits.
                for chunk in notices.chunks(500) {
                    let mut q = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO outbox (id, reference, idempotency_key, kind, account_id, recipient, recipient_key, \
                         payload, message_id, state, attempts, next_attempt_at, coalesced_count, expires_at, created_at) ",
                    );
                    q.push_values(chunk, |mut b, n| {
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
        impl StatusStore for $store {
            async fn put_component(&self, c: &NewStatusComponent, audit: NewAuditEntry) -> Result<StatusComponent> {
                let mut tx = self.begin_write().await?;
                let row = sqlx::query(
                    "INSERT INTO status_components (id, name, description, position, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $5) \
                     ON CONFLICT (id) DO UPDATE SET name = excluded.name, description = excluded.description, \
                     position = excluded.position, updated_at = excluded.updated_at \
                     RETURNING id, name, description, position, created_at, updated_at",
                )
                .bind(&c.id)
                .bind(&c.name)
                .bind(&c.description)
                .bind(c.position)
                .bind(c.now.as_millis())
                .fetch_one(&mut *tx)
                .await?;
                Self::append_audit_in(&mut tx, &audit).await?;
                tx.commit().await?;
                Ok(StatusComponent {
                    id: row.try_get("id")?,
                    name: row.try_get("name")?,
                    description: row.try_get("description")?,
                    position: row.try_get("position")?,
                    created_at: Timestamp::from_millis(row.try_get("created_at")?),
                    updated_at: Timestamp::from_millis(row.try_get("updated_at")?),
                })
            }

            async fn remove_component(&self, id: &str, audit: NewAuditEntry) -> Result<bool> {
                let mut tx = self.begin_write().await?;
                sqlx::query("DELETE FROM incident_components WHERE component_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                let removed = sqlx::query("DELETE FROM status_components WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                    == 1;
                if removed {
                    Self::append_audit_in(&mut tx, &audit).await?;
                }
                tx.commit().await?;
                Ok(removed)
            }

            async fn components(&self) -> Result<Vec<StatusComponent>> {
                sqlx::query(
                    "SELECT id, name, description, position, created_at, updated_at FROM status_components \
                     ORDER BY position, id",
                )
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|row| {
                    Ok(StatusComponent {
                        id: row.try_get("id")?,
                        name: row.try_get("name")?,
                        description: row.try_get("description")?,
                        position: row.try_get("position")?,
                        created_at: Timestamp::from_millis(row.try_get("created_at")?),
                        updated_at: Timestamp::from_millis(row.try_get("updated_at")?),
                    })
                })
                .collect()
            }

            async fn create_incident(&self, new: &NewIncident, mut audit: NewAuditEntry) -> Result<Incident> {
                let mut tx = self.begin_write().await?;
                let id: i64 = sqlx::query(
                    "INSERT INTO incidents (title, state, impact, body, figures, created_at, created_by, updated_at) \
                     VALUES ($1, 'draft', $2, $3, $4, $5, $6, $5) RETURNING id",
                )
                .bind(&new.title)
                .bind(new.impact.as_str())
                .bind(&new.body)
                .bind(new.figures.as_ref().map(|f| f.to_string()))
                .bind(new.now.as_millis())
                .bind(&new.created_by)
                .fetch_one(&mut *tx)
                .await?
                .try_get("id")?;
                Self::set_incident_components_in(&mut tx, id, &new.components).await?;
                audit.target = Some(id.to_string());
                crate::sql::merge_detail(&mut audit, serde_json::json!({ "title": new.title, "impact": new.impact.as_str() }));
                Self::append_audit_in(&mut tx, &audit).await?;
                let incident = Self::incident_in(&mut tx, id)
                    .await?
                    .ok_or_else(|| StoreError::corrupt("inserted incident vanished"))?;
                tx.commit().await?;
                Ok(incident)
            }

            async fn edit_incident(
                &self,
                id: i64,
                edit: &IncidentEdit,
                now: Timestamp,
                audit: NewAuditEntry,
            ) -> Result<Option<Incident>> {
                let mut tx = self.begin_write().await?;
                let Some(state) = Self::lock_incident_in(&mut tx, id).await? else {
                    return Ok(None);
                };
                if edit.body.is_some() && state != IncidentState::Draft {
                    return Err(StoreError::Conflict(
                        "only a draft's text can be edited; a public incident's history is its updates (post one)",
                    ));
                }
                sqlx::query(
                    "UPDATE incidents SET title = COALESCE($1, title), impact = COALESCE($2, impact), \
                     body = COALESCE($3, body), updated_at = $4 WHERE id = $5",
                )
                .bind(edit.title.as_deref())
                .bind(edit.impact.map(|i| i.as_str()))
                .bind(edit.body.as_deref())
                .bind(now.as_millis())
                .bind(id)
                .execute(&mut *tx)
                .await?;
                if let Some(components) = &edit.components {
                    Self::set_incident_components_in(&mut tx, id, components).await?;
                }
                Self::append_audit_in(&mut tx, &audit).await?;
                let incident = Self::incident_in(&mut tx, id).await?;
                tx.commit().await?;
                Ok(incident)
            }

            async fn post_incident_update(
                &self,
                id: i64,
                update: &NewIncidentUpdate,
                notice_for: SubscriberNotice<'_>,
                mut audit: NewAuditEntry,
            ) -> Result<Option<PostedUpdate>> {
                let mut tx = self.begin_write().await?;
                let Some(state) = Self::lock_incident_in(&mut tx, id).await? else {
                    return Ok(None);
                };
                state
                    .update_allowed(update.state, update.publish)
                    .map_err(|e| StoreError::Conflict(e.message()))?;
                let at = update.at.as_millis();
                let resolved = update.state == IncidentState::Resolved;
                sqlx::query(
                    "UPDATE incidents SET state = $1, updated_at = $2, \
                     published_at = CASE WHEN $3 THEN $2 ELSE published_at END, \
                     resolved_at = CASE WHEN $4 THEN $2 ELSE resolved_at END WHERE id = $5",
                )
                .bind(update.state.as_str())
                .bind(at)
                .bind(update.publish)
                .bind(resolved)
                .bind(id)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO incident_updates (incident_id, state, body, at, author) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(id)
                .bind(update.state.as_str())
                .bind(&update.body)
                .bind(at)
                .bind(&update.author)
                .execute(&mut *tx)
                .await?;
                // Subscribers read inside the transaction: whoever is confirmed
                // when the update commits gets it, and nobody who left before.
                let subscribers = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {SUBSCRIBER_COLUMNS} FROM status_subscribers WHERE state = 'confirmed' ORDER BY id"
                )))
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(Self::subscriber_from)
                .collect::<Result<Vec<_>>>()?;
                let notices: Vec<NewNotice> = subscribers.iter().map(notice_for).collect();
                let enqueued = Self::insert_notices_in(&mut tx, &notices).await?;
                audit.target = Some(id.to_string());
                crate::sql::merge_detail(
                    &mut audit,
                    serde_json::json!({ "state": update.state.as_str(), "previous_state": state.as_str(), "notices": enqueued }),
                );
                Self::append_audit_in(&mut tx, &audit).await?;
                let incident = Self::incident_in(&mut tx, id)
                    .await?
                    .ok_or_else(|| StoreError::corrupt("updated incident vanished"))?;
                tx.commit().await?;
                Ok(Some(PostedUpdate { incident, notices: enqueued }))
            }

            async fn set_postmortem(
                &self,
                id: i64,
                text: &str,
                now: Timestamp,
                mut audit: NewAuditEntry,
            ) -> Result<Option<Incident>> {
                let mut tx = self.begin_write().await?;
                let Some(state) = Self::lock_incident_in(&mut tx, id).await? else {
                    return Ok(None);
                };
                if state == IncidentState::Draft {
                    return Err(StoreError::Conflict("the incident is a draft; publish it first"));
                }
                sqlx::query("UPDATE incidents SET postmortem = $1, updated_at = $2 WHERE id = $3")
                    .bind(text)
                    .bind(now.as_millis())
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                audit.target = Some(id.to_string());
                Self::append_audit_in(&mut tx, &audit).await?;
                let incident = Self::incident_in(&mut tx, id).await?;
                tx.commit().await?;
                Ok(incident)
            }

            async fn incident(&self, id: i64) -> Result<Option<Incident>> {
                let mut conn = self.pool.acquire().await?;
                Self::incident_in(&mut conn, id).await
            }

            async fn incidents(&self, f: &IncidentFilter) -> Result<Vec<Incident>> {
                let mut conn = self.pool.acquire().await?;
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {INCIDENT_COLUMNS} FROM incidents \
                     WHERE ($1 OR published_at IS NOT NULL) \
                     AND (resolved_at IS NULL OR resolved_at >= $2) \
                     ORDER BY COALESCE(published_at, created_at) DESC, id DESC LIMIT $3"
                )))
                .bind(f.drafts)
                .bind(f.resolved_since.map_or(i64::MIN, Timestamp::as_millis))
                .bind(f.limit)
                .fetch_all(&mut *conn)
                .await?;
                let mut incidents = rows.iter().map(Self::incident_from).collect::<Result<Vec<_>>>()?;
                Self::incident_details_in(&mut conn, &mut incidents).await?;
                Ok(incidents)
            }

            async fn subscribe(
                &self,
                s: &NewSubscription,
                notice: ConfirmNotice<'_>,
                mut audit: NewAuditEntry,
            ) -> Result<bool> {
                let mut tx = self.begin_write().await?;
                // A confirmed address is left alone (the WHERE of the upsert), so
                // asking again neither mails a confirmed subscriber nor says so.
                let row = sqlx::query(
                    "INSERT INTO status_subscribers (id, email, email_key, state, confirm_token_hash, \
                     confirm_expires_at, unsubscribe_token_hash, created_at) \
                     VALUES ($1, $2, $3, 'pending', $4, $5, $6, $7) \
                     ON CONFLICT (email_key) DO UPDATE SET state = 'pending', email = excluded.email, \
                     confirm_token_hash = excluded.confirm_token_hash, \
                     confirm_expires_at = excluded.confirm_expires_at, unsubscribed_at = NULL \
                     WHERE status_subscribers.state <> 'confirmed' \
                     RETURNING id",
                )
                .bind(&s.id)
                .bind(&s.email)
                .bind(&s.email_key)
                .bind(s.confirm_hash.as_bytes())
                .bind(s.confirm_expires_at.as_millis())
                .bind(s.unsubscribe_hash.as_bytes())
                .bind(s.now.as_millis())
                .fetch_optional(&mut *tx)
                .await?;
                let Some(row) = row else {
                    tx.commit().await?;
                    return Ok(false);
                };
                let id: String = row.try_get("id")?;
                Self::insert_notice_in(&mut tx, &notice(&id)).await?;
                audit.target = Some(id);
                Self::append_audit_in(&mut tx, &audit).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn confirm_subscription(
                &self,
                confirm: &TokenHash,
                now: Timestamp,
                mut audit: NewAuditEntry,
            ) -> Result<Option<StatusSubscriber>> {
                let mut tx = self.begin_write().await?;
                let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "UPDATE status_subscribers SET state = 'confirmed', confirmed_at = $1, \
                     confirm_token_hash = NULL, confirm_expires_at = NULL \
                     WHERE confirm_token_hash = $2 AND state = 'pending' AND confirm_expires_at > $1 \
                     RETURNING {SUBSCRIBER_COLUMNS}"
                )))
                .bind(now.as_millis())
                .bind(confirm.as_bytes())
                .fetch_optional(&mut *tx)
                .await?;
                let Some(row) = row else {
                    tx.commit().await?;
                    return Ok(None);
                };
                let sub = Self::subscriber_from(&row)?;
                audit.target = Some(sub.id.clone());
                Self::append_audit_in(&mut tx, &audit).await?;
                tx.commit().await?;
                Ok(Some(sub))
            }

            async fn subscriber_by_unsubscribe(&self, token: &TokenHash) -> Result<Option<StatusSubscriber>> {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {SUBSCRIBER_COLUMNS} FROM status_subscribers WHERE unsubscribe_token_hash = $1"
                )))
                .bind(token.as_bytes())
                .fetch_optional(&self.pool)
                .await?
                .as_ref()
                .map(Self::subscriber_from)
                .transpose()
            }

            async fn unsubscribe(
                &self,
                token: &TokenHash,
                now: Timestamp,
                mut audit: NewAuditEntry,
            ) -> Result<Option<StatusSubscriber>> {
                let mut tx = self.begin_write().await?;
                let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "UPDATE status_subscribers SET state = 'unsubscribed', unsubscribed_at = $1, \
                     confirm_token_hash = NULL, confirm_expires_at = NULL \
                     WHERE unsubscribe_token_hash = $2 AND state <> 'unsubscribed' \
                     RETURNING {SUBSCRIBER_COLUMNS}"
                )))
                .bind(now.as_millis())
                .bind(token.as_bytes())
                .fetch_optional(&mut *tx)
                .await?;
                let Some(row) = row else {
                    tx.commit().await?;
                    // Already unsubscribed (a second click), or no such token.
                    return self.subscriber_by_unsubscribe(token).await;
                };
                let sub = Self::subscriber_from(&row)?;
                audit.target = Some(sub.id.clone());
                Self::append_audit_in(&mut tx, &audit).await?;
                tx.commit().await?;
                Ok(Some(sub))
            }

            async fn subscriber_counts(&self) -> Result<SubscriberCounts> {
                let mut counts = SubscriberCounts::default();
                for row in sqlx::query("SELECT state, COUNT(*) AS n FROM status_subscribers GROUP BY state")
                    .fetch_all(&self.pool)
                    .await?
                {
                    let n: i64 = row.try_get("n")?;
                    match parse::<SubscriberState>("subscriber state", &row.try_get::<String, _>("state")?)? {
                        SubscriberState::Pending => counts.pending = n,
                        SubscriberState::Confirmed => counts.confirmed = n,
                        SubscriberState::Unsubscribed => counts.unsubscribed = n,
                    }
                }
                Ok(counts)
            }
        }
    };
}
pub(crate) use impl_store;

/// The conflict a reference collision raises (the caller retries with a new one).
pub const NOTICE_REFERENCE_TAKEN: &str = "notice reference taken";

#[cfg(test)]
mod tests {
    use gatehouse_domain::NoticeKind;

    #[test]
    fn status_kinds_list_matches_the_domain() {
        let listed = status_kinds!();
        for kind in NoticeKind::ALL {
            assert_eq!(
                listed.contains(&format!("'{}'", kind.as_str())),
                kind.is_status(),
                "{kind}"
            );
        }
    }
}
