//! One forced reset on one campaign target, and its undo: the two statements
//! of a campaign that change an account (its credential, sessions, recovery
//! requests and notices), within the reset budget and the circuit breaker.
//!
//! The SQL both engines run (see `queries/mod.rs`). `CampaignStore` in
//! `campaigns.rs` calls these; they are here to keep that file readable.

use gatehouse_domain::audit::Actor;
use gatehouse_domain::campaign::CampaignState;
use sqlx::Row as _;

use super::EngineStore;
use crate::sql::parse;
use crate::{ApplyOutcome, ApplyStep, BudgetUse, Result, StoreError, UndoOutcome, UndoStep};

impl EngineStore {
    /// [`crate::CampaignStore::apply_campaign_target`].
    pub(super) async fn apply_target(&self, step: &ApplyStep<'_>) -> Result<ApplyOutcome> {
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
            "SELECT CAST(COALESCE(SUM(CASE WHEN minute > $1 THEN n ELSE 0 END), 0) AS BIGINT) AS \
             hour, \
             CAST(COALESCE(SUM(n), 0) AS BIGINT) AS day \
             FROM reset_counts WHERE minute > $2",
        )
        .bind(minute - 60)
        .bind(minute - 1440)
        .fetch_one(&mut *tx)
        .await?;
        let (hour, day): (i64, i64) = (used.try_get("hour")?, used.try_get("day")?);
        if !step.budget.allows(BudgetUse { hour, day }) {
            return Ok(ApplyOutcome::BudgetExhausted { hour, day });
        }
        let version: Option<i64> = sqlx::query(
            "UPDATE credentials SET state = 'reset_required' WHERE account_id = $1 AND state = \
             'active' RETURNING version",
        )
        .bind(&account)
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| r.try_get("version"))
        .transpose()?;
        let Some(version) = version else {
            sqlx::query(
                "UPDATE campaign_targets SET state = 'skipped' WHERE campaign_id = $1 AND \
                         account_id = $2",
            )
            .bind(&campaign)
            .bind(&account)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            return Ok(ApplyOutcome::Skipped);
        };
        sqlx::query(
            "UPDATE sessions SET state = 'suspended', suspended_by = $1 WHERE account_id = $2 AND \
             state = 'active'",
        )
        .bind(&campaign)
        .bind(&account)
        .execute(&mut *tx)
        .await?;
        Self::insert_recovery_in(&mut tx, step.recovery).await?;
        Self::insert_notice_in(&mut tx, step.notice).await?;
        Self::append_audit_in(&mut tx, &step.audit).await?;
        sqlx::query(
            "UPDATE campaign_targets SET state = 'applied', credential_version = $1, applied_at = \
             $2, notice_reference = $3 \
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
            "INSERT INTO reset_counts (minute, n) VALUES ($1, 1) ON CONFLICT (minute) DO UPDATE \
             SET n = reset_counts.n + 1",
        )
        .bind(minute)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE campaigns SET applied = applied + 1, updated_at = $1 WHERE id = $2")
            .bind(now)
            .bind(&campaign)
            .execute(&mut *tx)
            .await?;
        // This reset drew the budget's last unit: an automatic campaign trips the
        // breaker now, in this transaction, not on the next attempt (which, with
        // sparse traffic, might come much later or never).
        let after = BudgetUse {
            hour: hour + 1,
            day: day + 1,
        };
        let mut tripped = None;
        if let Some(trip) = &step.trip_on_exhaustion
            && step.budget.exhausted_after(after)
        {
            let reason = (trip.reason)(after);
            Self::change_breaker_in(
                &mut tx,
                true,
                &reason,
                &Actor::System,
                step.now,
                trip.alerts,
                trip.audit.clone(),
            )
            .await?;
            tripped = Some(reason);
        }
        tx.commit().await?;
        Ok(ApplyOutcome::Applied {
            reference: step.notice.reference.clone(),
            tripped,
        })
    }

    /// [`crate::CampaignStore::undo_campaign_target`].
    pub(super) async fn undo_target(&self, step: &UndoStep<'_>) -> Result<UndoOutcome> {
        let mut tx = self.begin_write().await?;
        Self::lock_breaker_in(&mut tx).await?;
        let campaign = step.campaign.to_string();
        let account = step.account.to_string();
        let row = sqlx::query(
            "SELECT state, credential_version FROM campaign_targets WHERE campaign_id = $1 AND \
             account_id = $2",
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
            "UPDATE credentials SET state = 'active' WHERE account_id = $1 AND state = \
             'reset_required' AND version = $2",
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
             (SELECT notice_reference FROM campaign_targets WHERE campaign_id = $1 AND account_id \
             = $2)",
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
                 WHERE account_id = $1 AND state = 'suspended' AND suspended_by = $2 AND \
                 created_at >= $3 AND expires_at > $4",
            )
            .bind(&account)
            .bind(&campaign)
            .bind(step.reinstate_after.as_millis())
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            sqlx::query(
                "UPDATE recovery_requests SET state = 'superseded', ended_at = $1 WHERE \
                 account_id = $2 AND state = 'active'",
            )
            .bind(now)
            .bind(&account)
            .execute(&mut *tx)
            .await?;
            if !withdrawn {
                Self::insert_notice_in(&mut tx, step.correction).await?;
            }
            UndoOutcome::Restored {
                sessions,
                withdrawn,
            }
        } else {
            Self::insert_notice_in(&mut tx, step.explanation).await?;
            UndoOutcome::NotRestorable
        };
        let mut audit = step.audit.clone();
        crate::sql::merge_detail(
            &mut audit,
            serde_json::json!({
                "campaign": campaign,
                "restored": restored,
                "notice_withdrawn": withdrawn,
            }),
        );
        Self::append_audit_in(&mut tx, &audit).await?;
        sqlx::query(
            "UPDATE campaign_targets SET state = $1, undone_at = $2 WHERE campaign_id = $3 AND \
             account_id = $4",
        )
        .bind(if restored {
            "restored"
        } else {
            "not_restorable"
        })
        .bind(now)
        .bind(&campaign)
        .bind(&account)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(outcome)
    }
}
