//! Findings: accounts a rule judged likely compromised.
//!
//! The SQL both engines run (see `queries/mod.rs`).

use async_trait::async_trait;
use gatehouse_domain::audit::NewAuditEntry;
use gatehouse_domain::finding::{FindingStatus, RuleMode};
use gatehouse_domain::{AccountId, Timestamp};
use sqlx::Row as _;

use super::{Db, EngineStore};
use crate::sql::parse;
use crate::{
    Finding, FindingCount, FindingFilter, FindingRule, FindingStore, NewFinding, RecordedFindings,
    Result,
};

#[async_trait]
impl FindingStore for EngineStore {
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
            "SELECT COUNT(*) AS n FROM findings WHERE rule_id = $1 AND status = 'pending' AND \
             created_at > $2",
        )
        .bind(&rule.id)
        .bind(
            now.minus(std::time::Duration::from_secs(86_400))
                .as_millis(),
        )
        .fetch_one(&mut *tx)
        .await?
        .try_get("n")?;
        for f in findings {
            let Some(status) = FindingStatus::for_new(rule.mode, handed_on, rule.max_per_day)
            else {
                break;
            };
            let row = sqlx::query(
                "INSERT INTO findings (account_id, rule_id, rule_version, detector, mode, action, \
                 status, \
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
        let mut q = sqlx::QueryBuilder::<Db>::new(
            "SELECT f.id, f.account_id, a.email, f.rule_id, f.rule_version, f.detector, f.mode, \
             f.action, \
             f.status, f.score, f.evidence, f.observed_at, f.created_at \
             FROM findings f JOIN accounts a ON a.id = f.account_id WHERE 1 = 1",
        );
        if let Some(rule) = &filter.rule {
            q.push(" AND f.rule_id = ").push_bind(rule.clone());
        }
        if let Some(account) = filter.account {
            q.push(" AND f.account_id = ")
                .push_bind(account.to_string());
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
        q.push(" ORDER BY f.id DESC LIMIT ")
            .push_bind(filter.limit.clamp(0, 1000));
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
                    evidence: crate::sql::json_column(
                        "finding evidence",
                        &row.try_get::<String, _>("evidence")?,
                    )?,
                    observed_at: Timestamp::from_millis(row.try_get("observed_at")?),
                    created_at: Timestamp::from_millis(row.try_get("created_at")?),
                })
            })
            .collect()
    }

    async fn unassigned_findings(
        &self,
        rule: &str,
        limit: i64,
    ) -> Result<Vec<(i64, AccountId, serde_json::Value)>> {
        sqlx::query(
            "SELECT f.id, f.account_id, f.evidence FROM findings f WHERE f.rule_id = $1 AND \
             f.status = 'pending' \
             AND NOT EXISTS (SELECT 1 FROM campaign_targets t WHERE t.finding_id = f.id) ORDER BY \
             f.id LIMIT $2",
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

    async fn findings_per_day(
        &self,
        rule: &str,
        since: Timestamp,
        until: Timestamp,
    ) -> Result<Vec<(i64, i64)>> {
        sqlx::query(
            "SELECT created_at / 86400000 AS day, COUNT(*) AS n FROM findings \
             WHERE rule_id = $1 AND created_at >= $2 AND created_at < $3 GROUP BY created_at / \
             86400000 ORDER BY day",
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

    async fn finding_counts(&self, since: Timestamp) -> Result<Vec<FindingCount>> {
        sqlx::query(
            "SELECT rule_id, status, COUNT(*) AS n, MAX(created_at) AS newest FROM findings \
             WHERE created_at >= $1 GROUP BY rule_id, status ORDER BY rule_id, status",
        )
        .bind(since.as_millis())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(FindingCount {
                rule_id: r.try_get("rule_id")?,
                status: parse("finding status", &r.try_get::<String, _>("status")?)?,
                count: r.try_get("n")?,
                newest: Timestamp::from_millis(r.try_get("newest")?),
            })
        })
        .collect()
    }
}
