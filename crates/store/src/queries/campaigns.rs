//! Remediation campaigns, the reset budget, the circuit breaker and undo.
//!
//! The SQL both engines run (see `queries/mod.rs`).

use async_trait::async_trait;
use gatehouse_domain::audit::{Actor, NewAuditEntry};
use gatehouse_domain::campaign::CampaignState;
use gatehouse_domain::{AccountId, CampaignId, Timestamp};
use sqlx::Row as _;

use super::{Conn, Db, DbRow, EngineStore};
use crate::sql::parse;
use crate::{
    AccountCampaign, ApplyBatch, ApplyOutcome, ApplyStep, BreakerRecord, BreakerTrip,
    CampaignRecord, CampaignStore, CampaignUpdate, NewCampaign, NewTarget, Result, StoreError,
    TargetRecord, TargetState, TripAlerts, UndoOutcome, UndoStep,
};

const CAMPAIGN_COLUMNS: &str = "id, name, source, automatic, rule_id, rule_version, reason, \
    state, created_by, created_at, snapshot_hash, target_count, needs_second_approval, \
    approved_by, approved_at, preview, stage_plan, rate_per_minute, bake_secs, stage, \
    stage_started_at, applied, skipped, paused_reason, undo_by, updated_at";

impl EngineStore {
    fn campaign_from(row: &DbRow) -> Result<CampaignRecord> {
        let opt_ts = |v: Option<i64>| v.map(Timestamp::from_millis);
        let actor = |what: &str, v: Option<String>| v.map(|t| parse(what, &t)).transpose();
        let json = |what: &str, v: Option<String>| {
            v.map(|t| crate::sql::json_column(what, &t)).transpose()
        };
        Ok(CampaignRecord {
            id: parse("campaign id", &row.try_get::<String, _>("id")?)?,
            name: row.try_get("name")?,
            source: parse("campaign source", &row.try_get::<String, _>("source")?)?,
            automatic: row.try_get::<i64, _>("automatic")? != 0,
            rule_id: row.try_get("rule_id")?,
            rule_version: row.try_get("rule_version")?,
            reason: row.try_get("reason")?,
            state: parse("campaign state", &row.try_get::<String, _>("state")?)?,
            created_by: parse(
                "campaign created_by",
                &row.try_get::<String, _>("created_by")?,
            )?,
            created_at: Timestamp::from_millis(row.try_get("created_at")?),
            snapshot_hash: row
                .try_get::<Option<Vec<u8>>, _>("snapshot_hash")?
                .map(|h| {
                    <[u8; 32]>::try_from(h.as_slice()).map_err(|_| {
                        StoreError::corrupt(format!(
                            "campaign snapshot_hash is {} bytes, not 32",
                            h.len()
                        ))
                    })
                })
                .transpose()?,
            target_count: row.try_get("target_count")?,
            needs_second_approval: row.try_get::<i64, _>("needs_second_approval")? != 0,
            approved_by: actor("campaign approved_by", row.try_get("approved_by")?)?,
            approved_at: opt_ts(row.try_get("approved_at")?),
            preview: json("campaign preview", row.try_get("preview")?)?,
            stage_plan: serde_json::from_str(&row.try_get::<String, _>("stage_plan")?)
                .map_err(|e| StoreError::corrupt(format!("campaign stage_plan: {e}")))?,
            rate_per_minute: row.try_get("rate_per_minute")?,
            bake_secs: row.try_get("bake_secs")?,
            stage: row.try_get("stage")?,
            stage_started_at: opt_ts(row.try_get("stage_started_at")?),
            applied: row.try_get("applied")?,
            skipped: row.try_get("skipped")?,
            paused_reason: row.try_get("paused_reason")?,
            undo_by: actor("campaign undo_by", row.try_get("undo_by")?)?,
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
            applied_at: row
                .try_get::<Option<i64>, _>("applied_at")?
                .map(Timestamp::from_millis),
            notice_reference: row.try_get("notice_reference")?,
        })
    }

    async fn campaign_in(conn: &mut Conn, id: CampaignId) -> Result<Option<CampaignRecord>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE id = $1"
        )))
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
    pub(super) async fn lock_breaker_in(conn: &mut Conn) -> Result<bool> {
        let state: String = sqlx::query("UPDATE breaker SET id = id WHERE id = 1 RETURNING state")
            .fetch_one(&mut *conn)
            .await?
            .try_get("state")?;
        Ok(state == "open")
    }
}

#[async_trait]
impl CampaignStore for EngineStore {
    async fn create_campaign(
        &self,
        c: &NewCampaign,
        targets: &[NewTarget],
        audit: NewAuditEntry,
    ) -> Result<CampaignRecord> {
        if targets.is_empty() {
            return Err(StoreError::Invalid(
                "a campaign needs at least one target; an empty set never means all",
            ));
        }
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO campaigns (id, name, source, automatic, rule_id, rule_version, reason, \
             state, created_by, \
             created_at, target_count, needs_second_approval, stage_plan, rate_per_minute, \
             bake_secs, stage, applied, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'draft', $8, $9, 0, 0, $10, $11, $12, 0, 0, $9)",
        )
        .bind(c.id.to_string())
        .bind(&c.name)
        .bind(c.source.as_str())
        .bind(i64::from(c.automatic))
        .bind(c.rule.as_ref().map(|r| r.0.clone()))
        .bind(c.rule.as_ref().map(|r| r.1))
        .bind(&c.reason)
        .bind(c.created_by.text())
        .bind(c.created_at.as_millis())
        .bind(
            // A plan of numbers always serialises; the error path only names it.
            serde_json::to_string(&c.stage_plan)
                .map_err(|e| StoreError::corrupt(format!("stage plan: {e}")))?,
        )
        .bind(c.rate_per_minute)
        .bind(c.bake_secs)
        .execute(&mut *tx)
        .await?;
        let mut seq: i64 = 0;
        for chunk in targets.chunks(500) {
            let mut q = sqlx::QueryBuilder::<Db>::new(
                "INSERT INTO campaign_targets (campaign_id, account_id, seq, finding_id, \
                 evidence, state) ",
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
        let n: i64 =
            sqlx::query("SELECT COUNT(*) AS n FROM campaign_targets WHERE campaign_id = $1")
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
        crate::sql::merge_detail(
            &mut audit,
            serde_json::json!({ "campaign": c.id.to_string(), "targets": n }),
        );
        Self::append_audit_in(&mut tx, &audit).await?;
        let stored = Self::campaign_in(&mut tx, c.id)
            .await?
            .ok_or_else(|| StoreError::corrupt("campaign vanished"))?;
        tx.commit().await?;
        Ok(stored)
    }

    async fn campaign(&self, id: CampaignId) -> Result<Option<CampaignRecord>> {
        let mut conn = self.pool.acquire().await?;
        Self::campaign_in(&mut conn, id).await
    }

    async fn campaigns(
        &self,
        state: Option<CampaignState>,
        limit: i64,
    ) -> Result<Vec<CampaignRecord>> {
        let mut q =
            sqlx::QueryBuilder::<Db>::new(format!("SELECT {CAMPAIGN_COLUMNS} FROM campaigns"));
        if let Some(state) = state {
            q.push(" WHERE state = ").push_bind(state.as_str());
        }
        q.push(" ORDER BY created_at DESC, id LIMIT ")
            .push_bind(limit.clamp(0, 1000));
        q.build()
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(Self::campaign_from)
            .collect()
    }

    async fn campaign_targets(
        &self,
        id: CampaignId,
        state: Option<TargetState>,
        after: i64,
        limit: i64,
    ) -> Result<Vec<TargetRecord>> {
        let mut q = sqlx::QueryBuilder::<Db>::new(
            "SELECT t.account_id, a.email, t.seq, t.finding_id, t.evidence, t.state, \
             t.credential_version, \
             t.applied_at, t.notice_reference FROM campaign_targets t JOIN accounts a ON a.id = \
             t.account_id \
             WHERE t.campaign_id = ",
        );
        q.push_bind(id.to_string());
        if let Some(state) = state {
            q.push(" AND t.state = ").push_bind(state.as_str());
        }
        q.push(" AND t.seq > ").push_bind(after);
        q.push(" ORDER BY t.seq LIMIT ")
            .push_bind(limit.clamp(0, 10_000));
        q.build()
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(Self::target_from)
            .collect()
    }

    async fn campaign_target_counts(&self, id: CampaignId) -> Result<Vec<(TargetState, i64)>> {
        sqlx::query(
            "SELECT state, COUNT(*) AS n FROM campaign_targets WHERE campaign_id = $1 \
                     GROUP BY state ORDER BY state",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok((
                parse(
                    "target \
                                state",
                    &r.try_get::<String, _>("state")?,
                )?,
                r.try_get("n")?,
            ))
        })
        .collect()
    }

    async fn campaign_target_ids(&self, id: CampaignId) -> Result<Vec<AccountId>> {
        sqlx::query(
            "SELECT account_id FROM campaign_targets WHERE campaign_id = $1 ORDER BY account_id",
        )
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
        let mut q = sqlx::QueryBuilder::<Db>::new("UPDATE campaigns SET updated_at = ");
        q.push_bind(u.now.as_millis());
        if let Some(state) = u.state {
            q.push(", state = ").push_bind(state.as_str());
        }
        if let Some((hash, size)) = u.snapshot {
            q.push(", snapshot_hash = ").push_bind(hash.to_vec());
            q.push(", target_count = ").push_bind(size);
        }
        if let Some(needs) = u.needs_second_approval {
            q.push(", needs_second_approval = ")
                .push_bind(i64::from(needs));
        }
        if let Some(by) = &u.approved_by {
            q.push(", approved_by = ")
                .push_bind(by.as_ref().map(Actor::text));
            q.push(", approved_at = ")
                .push_bind(by.as_ref().map(|_| u.now.as_millis()));
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
            q.push(", undo_by = ")
                .push_bind(by.as_ref().map(Actor::text));
        }
        q.push(" WHERE id = ").push_bind(id.to_string());
        q.push(" AND state = ").push_bind(from.as_str());
        if q.build().execute(&mut *tx).await?.rows_affected() == 0 {
            return Err(StoreError::Conflict(
                "the campaign changed meanwhile; look at it again",
            ));
        }
        let mut audit = audit;
        crate::sql::merge_detail(
            &mut audit,
            serde_json::json!({
                "campaign": id.to_string(),
                "from": from.as_str(),
                "to": u.state.unwrap_or(from).as_str(),
            }),
        );
        Self::append_audit_in(&mut tx, &audit).await?;
        let stored = Self::campaign_in(&mut tx, id)
            .await?
            .ok_or_else(|| StoreError::corrupt("campaign vanished"))?;
        tx.commit().await?;
        Ok(stored)
    }

    async fn apply_campaign_target(&self, step: &ApplyStep<'_>) -> Result<ApplyOutcome> {
        self.apply_target(step).await
    }

    async fn apply_campaign_targets(&self, batch: &ApplyBatch<'_>) -> Result<Vec<ApplyOutcome>> {
        self.apply_batch(batch).await
    }

    #[cfg(feature = "testing")]
    async fn write_reset_rows_unchecked(&self, batch: &ApplyBatch<'_>) -> Result<()> {
        self.write_batch_unchecked(batch).await
    }

    async fn undo_campaign_target(&self, step: &UndoStep<'_>) -> Result<UndoOutcome> {
        self.undo_target(step).await
    }

    async fn campaign_undone_since(&self, id: CampaignId, since: Timestamp) -> Result<i64> {
        Ok(sqlx::query(
            "SELECT COUNT(*) AS n FROM campaign_targets WHERE campaign_id = $1 AND undone_at >= $2",
        )
        .bind(id.to_string())
        .bind(since.as_millis())
        .fetch_one(&self.pool)
        .await?
        .try_get("n")?)
    }

    async fn campaign_overlap(&self, id: CampaignId) -> Result<u64> {
        let n: i64 = sqlx::query(
            "SELECT COUNT(DISTINCT t.account_id) AS n FROM campaign_targets t \
             JOIN campaign_targets o ON o.account_id = t.account_id AND o.campaign_id <> \
             t.campaign_id \
             JOIN campaigns c ON c.id = o.campaign_id \
             WHERE t.campaign_id = $1 AND c.state IN ('approved', 'running', 'paused')",
        )
        .bind(id.to_string())
        .fetch_one(&self.pool)
        .await?
        .try_get("n")?;
        Ok(n.max(0) as u64)
    }

    async fn report_unexpected_notice(
        &self,
        reference: &str,
        now: Timestamp,
        audit: NewAuditEntry,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let hit = sqlx::query(
            "UPDATE campaign_targets SET reported_at = $1 WHERE notice_reference = $2 AND \
             reported_at IS NULL",
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
        Ok(sqlx::query(
            "SELECT COUNT(*) AS n FROM campaign_targets WHERE campaign_id = $1 AND \
                        reported_at IS NOT NULL",
        )
        .bind(id.to_string())
        .fetch_one(&self.pool)
        .await?
        .try_get("n")?)
    }

    async fn campaign_recovery_completions(
        &self,
        id: CampaignId,
        sent_before: Timestamp,
    ) -> Result<(i64, i64)> {
        // A reset credential keeps its version; setting a new password
        // (recovery or settings) moves it up, and undo does not.
        let row = sqlx::query(
            "SELECT COUNT(*) AS sample, COUNT(CASE WHEN c.version > t.credential_version THEN 1 \
             END) AS completed \
             FROM campaign_targets t JOIN outbox o ON o.reference = t.notice_reference \
             JOIN credentials c ON c.account_id = t.account_id \
             WHERE t.campaign_id = $1 AND t.state = 'applied' AND o.state = 'sent' AND o.sent_at \
             <= $2",
        )
        .bind(id.to_string())
        .bind(sent_before.as_millis())
        .fetch_one(&self.pool)
        .await?;
        Ok((row.try_get("sample")?, row.try_get("completed")?))
    }

    async fn account_campaigns(
        &self,
        account: AccountId,
        limit: i64,
    ) -> Result<Vec<AccountCampaign>> {
        sqlx::query(
            "SELECT t.campaign_id, c.reason, c.automatic, c.state AS campaign_state, t.state, \
             t.applied_at, \
             t.notice_reference, t.undone_at, t.credential_version, cr.version, cr.state AS \
             credential_state \
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
                campaign_state: parse(
                    "campaign \
                                       state",
                    &r.try_get::<String, _>("campaign_state")?,
                )?,
                state,
                applied_at: r
                    .try_get::<Option<i64>, _>("applied_at")?
                    .map(Timestamp::from_millis),
                notice_reference: r.try_get("notice_reference")?,
                undone_at: r
                    .try_get::<Option<i64>, _>("undone_at")?
                    .map(Timestamp::from_millis),
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
        Ok(
            sqlx::query("SELECT COUNT(*) AS n FROM campaign_targets WHERE applied_at > $1")
                .bind(since.as_millis())
                .fetch_one(&self.pool)
                .await?
                .try_get("n")?,
        )
    }

    async fn resets_per_day(&self, since: Timestamp, until: Timestamp) -> Result<Vec<(i64, i64)>> {
        // From the budget's minute buckets (every reset is counted there in its
        // own transaction), not the targets: a 30-day window reads at most one
        // row per minute that had resets, however many resets a day held. The
        // window is widened to whole minutes at both ends.
        sqlx::query(
            "SELECT minute / 1440 AS day, CAST(SUM(n) AS BIGINT) AS n FROM reset_counts \
             WHERE minute >= $1 AND minute < $2 GROUP BY minute / 1440 ORDER BY day",
        )
        .bind(since.as_millis().div_euclid(60_000))
        .bind((until.as_millis() + 59_999).div_euclid(60_000))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| Ok((r.try_get("day")?, r.try_get("n")?)))
        .collect()
    }

    async fn breaker(&self) -> Result<BreakerRecord> {
        let r =
            sqlx::query("SELECT state, reason, changed_at, changed_by FROM breaker WHERE id = 1")
                .fetch_one(&self.pool)
                .await?;
        Ok(BreakerRecord {
            open: r.try_get::<String, _>("state")? == "open",
            reason: r.try_get("reason")?,
            changed_at: Timestamp::from_millis(r.try_get("changed_at")?),
            changed_by: r.try_get("changed_by")?,
        })
    }

    async fn set_breaker(
        &self,
        open: bool,
        reason: &str,
        by: &Actor,
        now: Timestamp,
        alerts: TripAlerts<'_>,
        audit: NewAuditEntry,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let was_open = Self::lock_breaker_in(&mut tx).await?;
        if was_open == open {
            tx.commit().await?;
            return Ok(false);
        }
        Self::change_breaker_in(&mut tx, open, reason, by, now, alerts, audit).await?;
        tx.commit().await?;
        Ok(true)
    }
}

impl EngineStore {
    /// Opens or closes the breaker inside `tx`, whose breaker row is locked and
    /// in the other state: pauses running automatic campaigns and writes the
    /// operators' alerts on a trip, and the audit entry. Shared by the breaker
    /// commands and by the reset that uses up the budget.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn change_breaker_in(
        tx: &mut Conn,
        open: bool,
        reason: &str,
        by: &Actor,
        now: Timestamp,
        alerts: TripAlerts<'_>,
        audit: NewAuditEntry,
    ) -> Result<()> {
        let trip: i64 = sqlx::query(
            "UPDATE breaker SET state = $1, reason = $2, changed_at = $3, changed_by = $4, \
             trips = trips + CASE WHEN $5 THEN 1 ELSE 0 END WHERE id = 1 RETURNING trips",
        )
        .bind(if open { "open" } else { "closed" })
        .bind(reason)
        .bind(now.as_millis())
        .bind(by.text())
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
            let resets_last_hour: i64 =
                count_since(now.minus(std::time::Duration::from_secs(3600)))
                    .fetch_one(&mut *tx)
                    .await?
                    .try_get("n")?;
            let resets_last_day: i64 =
                count_since(now.minus(std::time::Duration::from_secs(86_400)))
                    .fetch_one(&mut *tx)
                    .await?
                    .try_get("n")?;
            let operators = sqlx::query(
                "SELECT id, email, created_at FROM operators WHERE disabled_at IS NULL ORDER BY \
                 created_at, id",
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
                by: by.text(),
                paused_campaigns: paused,
                resets_last_hour,
                resets_last_day,
                operators,
            });
            alerted = Self::insert_notices_in(tx, &notices).await?;
        }
        let mut audit = audit;
        crate::sql::merge_detail(
            &mut audit,
            serde_json::json!({
                "open": open,
                "reason": reason,
                "paused_campaigns": paused,
                "trip": trip,
                "operators_alerted": alerted,
            }),
        );
        Self::append_audit_in(tx, &audit).await?;
        Ok(())
    }
}
