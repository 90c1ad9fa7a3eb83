//! One forced reset on one campaign target, and its undo: the two statements
//! of a campaign that change an account (its credential, sessions, recovery
//! requests and notices), within the reset budget and the circuit breaker.
//!
//! The SQL both engines run (see `queries/mod.rs`). `CampaignStore` in
//! `campaigns.rs` calls these; they are here to keep that file readable.

use gatehouse_domain::audit::Actor;
use gatehouse_domain::campaign::CampaignState;
use sqlx::Row as _;

use std::collections::{HashMap, HashSet};

use gatehouse_domain::audit::NewAuditEntry;

use super::app_deliveries::Ended;
use super::{Conn, Db, EngineStore};
use crate::sql::parse;
use crate::ssf::set_event;
use crate::{
    ApplyBatch, ApplyOutcome, ApplyStep, ApplyTarget, BudgetUse, NewNotice, NewRecovery, Result,
    StoreError, UndoOutcome, UndoStep,
};

/// Appends `{column} IN (…)` over `values` (never empty: callers check).
fn push_in<S: AsRef<str>>(q: &mut sqlx::QueryBuilder<Db>, column: &str, values: &[S]) {
    q.push(column);
    q.push(" IN (");
    let mut list = q.separated(", ");
    for v in values {
        list.push_bind(v.as_ref().to_owned());
    }
    list.push_unseparated(")");
}

impl EngineStore {
    /// [`crate::CampaignStore::apply_campaign_target`]: a batch of one.
    pub(super) async fn apply_target(&self, step: &ApplyStep<'_>) -> Result<ApplyOutcome> {
        let batch = ApplyBatch {
            trip_on_exhaustion: step.trip_on_exhaustion.as_ref(),
            campaign: step.campaign,
            now: step.now,
            budget: step.budget,
            targets: vec![ApplyTarget {
                account: step.account,
                recovery: step.recovery,
                notice: step.notice,
                audit: step.audit.clone(),
            }],
        };
        self.apply_batch(&batch)
            .await?
            .pop()
            .ok_or_else(|| StoreError::corrupt("an apply of one target decided nothing"))
    }

    /// [`crate::CampaignStore::apply_campaign_targets`]. A fixed number of
    /// statements per batch, whatever its size: the breaker row lock, the
    /// campaign, the targets' states and the budget are read once; each
    /// account's budget draw is decided in order before any write; the writes
    /// are set-based (one statement per table, multi-row where rows differ).
    pub(super) async fn apply_batch(&self, b: &ApplyBatch<'_>) -> Result<Vec<ApplyOutcome>> {
        if b.targets.is_empty() {
            return Ok(Vec::new());
        }
        let campaign = b.campaign.to_string();
        let accounts: Vec<String> = b.targets.iter().map(|t| t.account.to_string()).collect();
        if accounts.iter().collect::<HashSet<_>>().len() != accounts.len() {
            return Err(StoreError::Invalid("an apply batch names an account twice"));
        }
        let mut tx = self.begin_write().await?;
        if Self::lock_breaker_in(&mut tx).await? {
            return Ok(vec![ApplyOutcome::BreakerOpen]);
        }
        let state: String = sqlx::query("SELECT state FROM campaigns WHERE id = $1")
            .bind(&campaign)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound("campaign"))?
            .try_get("state")?;
        let state: CampaignState = parse("campaign state", &state)?;
        if state != CampaignState::Running {
            return Ok(vec![ApplyOutcome::NotRunning(state)]);
        }
        let mut q = sqlx::QueryBuilder::<Db>::new(
            "SELECT account_id, state FROM campaign_targets WHERE campaign_id = ",
        );
        q.push_bind(&campaign);
        push_in(&mut q, " AND account_id", &accounts);
        let mut states = HashMap::new();
        for row in q.build().fetch_all(&mut *tx).await? {
            states.insert(
                row.try_get::<String, _>("account_id")?,
                row.try_get::<String, _>("state")?,
            );
        }
        let now = b.now.as_millis();
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
        let used = BudgetUse {
            hour: used.try_get("hour")?,
            day: used.try_get("day")?,
        };
        let after = |draws: usize| BudgetUse {
            hour: used.hour + draws as i64,
            day: used.day + draws as i64,
        };
        // Each pending target in order, while the budget has room for one more
        // draw: its credential goes to `reset_required` if active (applied, one
        // unit drawn), else it is skipped (none drawn). In rounds, so that a
        // skipped target leaves its unit to the next one.
        let pending = |a: &String| states.get(a).map(String::as_str) == Some("pending");
        if accounts.iter().any(|a| !states.contains_key(a)) {
            return Err(StoreError::NotFound("campaign target"));
        }
        let mut decided: HashMap<&String, Option<i64>> = HashMap::new();
        let mut drawn = 0;
        let mut next = 0;
        loop {
            let mut candidates = Vec::new();
            while let Some(account) = accounts.get(next) {
                if pending(account) {
                    if !b.budget.allows(after(drawn + candidates.len())) {
                        break;
                    }
                    candidates.push(account);
                }
                next += 1;
            }
            if candidates.is_empty() {
                break;
            }
            let versions = Self::require_resets_in(&mut tx, &candidates).await?;
            drawn += versions.len();
            for c in candidates {
                decided.insert(c, versions.get(c).copied());
            }
        }
        // The outcomes, in the targets' order, up to the first pending target
        // the budget had no room for.
        let mut outcomes = Vec::new();
        let (mut applied, mut skipped) = (Vec::new(), Vec::new());
        for (t, account) in b.targets.iter().zip(&accounts) {
            match decided.get(account) {
                _ if !pending(account) => outcomes.push(ApplyOutcome::AlreadyDone),
                Some(Some(version)) => {
                    applied.push((t, account, *version));
                    outcomes.push(ApplyOutcome::Applied {
                        reference: t.notice.reference.clone(),
                        tripped: None,
                    });
                }
                Some(None) => {
                    skipped.push(account.clone());
                    outcomes.push(ApplyOutcome::Skipped);
                }
                None => {
                    let used = after(drawn);
                    outcomes.push(ApplyOutcome::BudgetExhausted {
                        hour: used.hour,
                        day: used.day,
                    });
                    break;
                }
            }
        }
        Self::write_resets(&mut tx, b, &campaign, &applied, &skipped).await?;
        // The reset that drew the budget's last unit: an automatic campaign
        // trips the breaker now, in this transaction, not on the next attempt
        // (which, with sparse traffic, might come much later or never).
        if let Some(trip) = b.trip_on_exhaustion
            && !applied.is_empty()
            && b.budget.exhausted_after(after(applied.len()))
        {
            let reason = (trip.reason)(after(applied.len()));
            Self::change_breaker_in(
                &mut tx,
                true,
                &reason,
                &Actor::System,
                b.now,
                trip.alerts,
                trip.audit.clone(),
            )
            .await?;
            if let Some(ApplyOutcome::Applied { tripped, .. }) = outcomes
                .iter_mut()
                .rev()
                .find(|o| matches!(o, ApplyOutcome::Applied { .. }))
            {
                *tripped = Some(reason);
            }
        }
        tx.commit().await?;
        Ok(outcomes)
    }

    /// [`crate::CampaignStore::write_reset_rows_unchecked`].
    #[cfg(feature = "testing")]
    pub(super) async fn write_batch_unchecked(&self, b: &ApplyBatch<'_>) -> Result<()> {
        let accounts: Vec<String> = b.targets.iter().map(|t| t.account.to_string()).collect();
        let mut tx = self.begin_write().await?;
        let versions = Self::require_resets_in(&mut tx, &accounts).await?;
        let applied: Vec<_> = b
            .targets
            .iter()
            .zip(&accounts)
            .filter_map(|(t, a)| versions.get(a).map(|v| (t, a, *v)))
            .collect();
        Self::write_resets(&mut tx, b, &b.campaign.to_string(), &applied, &[]).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Moves the accounts' active credentials to `reset_required`; returns the
    /// credential version of each one that was active (the others are left).
    async fn require_resets_in<S: AsRef<str>>(
        tx: &mut Conn,
        accounts: &[S],
    ) -> Result<HashMap<String, i64>> {
        let mut q = sqlx::QueryBuilder::<Db>::new(
            "UPDATE credentials SET state = 'reset_required' WHERE state = 'active'",
        );
        push_in(&mut q, " AND account_id", accounts);
        q.push(" RETURNING account_id, version");
        let mut versions = HashMap::new();
        for row in q.build().fetch_all(&mut *tx).await? {
            versions.insert(
                row.try_get::<String, _>("account_id")?,
                row.try_get::<i64, _>("version")?,
            );
        }
        Ok(versions)
    }

    /// The writes of a batch's decided targets: for the skipped, their target
    /// rows; for the applied, sessions suspended, recovery requests, notices,
    /// audit entries (chained in one go), target rows and the budget's minute
    /// bucket; the campaign's counts for both.
    async fn write_resets(
        tx: &mut Conn,
        b: &ApplyBatch<'_>,
        campaign: &str,
        applied: &[(&ApplyTarget<'_>, &String, i64)],
        skipped: &[String],
    ) -> Result<()> {
        let now = b.now.as_millis();
        if !skipped.is_empty() {
            let mut q = sqlx::QueryBuilder::<Db>::new(
                "UPDATE campaign_targets SET state = 'skipped' WHERE campaign_id = ",
            );
            q.push_bind(campaign);
            push_in(&mut q, " AND account_id", skipped);
            q.build().execute(&mut *tx).await?;
        }
        if !applied.is_empty() {
            Self::write_applied(tx, b, campaign, applied).await?;
        }
        if !applied.is_empty() || !skipped.is_empty() {
            sqlx::query(
                "UPDATE campaigns SET applied = applied + $1, skipped = skipped + $2, updated_at \
                 = $3 WHERE id = $4",
            )
            .bind(applied.len() as i64)
            .bind(skipped.len() as i64)
            .bind(now)
            .bind(campaign)
            .execute(&mut *tx)
            .await?;
        }
        Ok(())
    }

    /// The rows of the applied resets (see [`Self::write_resets`]).
    async fn write_applied(
        tx: &mut Conn,
        b: &ApplyBatch<'_>,
        campaign: &str,
        applied: &[(&ApplyTarget<'_>, &String, i64)],
    ) -> Result<()> {
        let now = b.now.as_millis();
        let accounts: Vec<String> = applied.iter().map(|(_, a, _)| (*a).clone()).collect();
        let mut q = sqlx::QueryBuilder::<Db>::new(
            "UPDATE sessions SET state = 'suspended', suspended_by = ",
        );
        q.push_bind(campaign);
        q.push(" WHERE state = 'active'");
        push_in(&mut q, " AND account_id", &accounts);
        q.build().execute(&mut *tx).await?;
        // Every app signed in through a suspended session is owed a logout
        // token: one set-based insert for the batch, in its transaction.
        Self::owe_logouts_in(
            tx,
            Ended::SuspendedBy(campaign, &accounts),
            b.now,
            "forced_reset",
        )
        .await?;
        // And every stream covering an account: RISC
        // account-credential-change-required and sessions-revoked, one
        // set-based insert per event type for the whole batch.
        for (event, key) in [
            (set_event::CREDENTIAL_CHANGE_REQUIRED, "ccr"),
            (set_event::SESSIONS_REVOKED, "ssr"),
        ] {
            Self::owe_account_sets_in(tx, &accounts, event, key, b.now, "forced_reset").await?;
        }
        let recoveries: Vec<&NewRecovery> = applied.iter().map(|(t, _, _)| t.recovery).collect();
        Self::insert_recoveries_in(tx, &recoveries).await?;
        let notices: Vec<&NewNotice> = applied.iter().map(|(t, _, _)| t.notice).collect();
        Self::insert_notices_in(tx, &notices).await?;
        let audits: Vec<NewAuditEntry> = applied.iter().map(|(t, _, _)| t.audit.clone()).collect();
        Self::append_audits_in(tx, &audits).await?;
        // 3 placeholders a row: 500 rows stay far below both engines' limits.
        for chunk in applied.chunks(500) {
            let mut q = sqlx::QueryBuilder::<Db>::new(
                "UPDATE campaign_targets SET state = 'applied', credential_version = v.column2, \
                 applied_at = ",
            );
            q.push_bind(now);
            q.push(", notice_reference = v.column3 FROM (");
            q.push_values(chunk, |mut row, (t, account, version)| {
                row.push_bind((*account).clone())
                    .push("CAST(")
                    .push_bind_unseparated(*version)
                    .push_unseparated(" AS BIGINT)")
                    .push_bind(t.notice.reference.clone());
            });
            q.push(") AS v WHERE campaign_targets.campaign_id = ");
            q.push_bind(campaign);
            q.push(" AND campaign_targets.account_id = v.column1");
            q.build().execute(&mut *tx).await?;
        }
        let n = applied.len() as i64;
        sqlx::query(
            "INSERT INTO reset_counts (minute, n) VALUES ($1, $2) ON CONFLICT (minute) DO UPDATE \
             SET n = reset_counts.n + $2",
        )
        .bind(now / 60_000)
        .bind(n)
        .execute(&mut *tx)
        .await?;
        Ok(())
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
            Self::mark_reinstated_in(&mut tx, &account, &campaign, step.reinstate_after, step.now)
                .await?;
            // The prior password works again: CAEP credential-change (see
            // the SET's claims in the server for what it says and why).
            Self::owe_credential_change_in(&mut tx, &account, step.now, "forced_reset_undone")
                .await?;
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
