//! Rules (declarative compromise checks) and their versions.
//!
//! The SQL both engines run (see `queries/mod.rs`).

use async_trait::async_trait;
use gatehouse_domain::Timestamp;
use gatehouse_domain::audit::NewAuditEntry;
use gatehouse_domain::finding::RuleMode;
use sqlx::Row as _;

use super::{DbRow, EngineStore};
use crate::sql::parse;
use crate::{NewRuleVersion, Result, RuleRecord, RuleStore, StoreError};

const RULE_COLUMNS: &str = "id, version, detector, mode, definition, updated_at, updated_by";

impl EngineStore {
    fn rule_from(row: &DbRow) -> Result<RuleRecord> {
        Ok(RuleRecord {
            id: row.try_get("id")?,
            version: row.try_get("version")?,
            detector: row.try_get("detector")?,
            mode: parse("rule mode", &row.try_get::<String, _>("mode")?)?,
            definition: crate::sql::json_column(
                "rule definition",
                &row.try_get::<String, _>("definition")?,
            )?,
            updated_at: Timestamp::from_millis(row.try_get("updated_at")?),
            updated_by: row.try_get("updated_by")?,
        })
    }
}

#[async_trait]
impl RuleStore for EngineStore {
    async fn rules(&self) -> Result<Vec<RuleRecord>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RULE_COLUMNS} FROM rules ORDER BY id"
        )))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(Self::rule_from)
        .collect()
    }

    async fn rule(&self, id: &str) -> Result<Option<RuleRecord>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RULE_COLUMNS} FROM rules WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(Self::rule_from)
        .transpose()
    }

    async fn rule_version(&self, id: &str, version: i64) -> Result<Option<RuleRecord>> {
        sqlx::query(
            "SELECT rule_id AS id, version, definition, created_at AS updated_at, created_by AS \
             updated_by, \
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
            r.detector = r.definition["detector"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            r.mode = r.definition["mode"]
                .as_str()
                .map(|m| parse("rule mode", m))
                .transpose()?
                .unwrap_or(RuleMode::Off);
            Ok(r)
        })
        .transpose()
    }

    async fn put_rule(
        &self,
        rule: &NewRuleVersion,
        audit: NewAuditEntry,
    ) -> Result<(RuleRecord, bool)> {
        // Two writers of the same new rule (two replicas installing the shipped
        // rules at once) both see no row, and the second's version insert
        // collides. On PostgreSQL a row that does not exist yet cannot be locked,
        // so the loser tries again: it then sees the winner's row, and an
        // identical definition changes nothing.
        let mut attempts = 0;
        loop {
            match self.put_rule_once(rule, audit.clone()).await {
                Err(StoreError::Database(sqlx::Error::Database(e)))
                    if e.is_unique_violation() && attempts < 3 =>
                {
                    attempts += 1;
                }
                other => return other,
            }
        }
    }
}

impl EngineStore {
    async fn put_rule_once(
        &self,
        rule: &NewRuleVersion,
        mut audit: NewAuditEntry,
    ) -> Result<(RuleRecord, bool)> {
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
        if let Some(current) = &current
            && current.definition == rule.definition
        {
            tx.commit().await?;
            return Ok((current.clone(), false));
        }
        let version = current.as_ref().map_or(1, |c| c.version + 1);
        let definition = rule.definition.to_string();
        sqlx::query(
            "INSERT INTO rules (id, version, detector, mode, definition, updated_at, updated_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (id) DO UPDATE SET version = excluded.version, detector = \
             excluded.detector, \
             mode = excluded.mode, definition = excluded.definition, updated_at = \
             excluded.updated_at, \
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
