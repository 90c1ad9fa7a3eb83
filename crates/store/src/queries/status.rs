//! The public status page: components, incidents, updates and subscribers.
//!
//! The SQL both engines run (see `queries/mod.rs`).

use async_trait::async_trait;
use gatehouse_domain::audit::NewAuditEntry;
use gatehouse_domain::status::{IncidentState, SubscriberState};
use gatehouse_domain::{Timestamp, TokenHash};
use sqlx::Row as _;

use super::{Conn, Db, DbRow, EngineStore};
use crate::sql::parse;
use crate::{
    ConfirmNotice, Incident, IncidentEdit, IncidentFilter, IncidentUpdate, NewIncident,
    NewIncidentUpdate, NewNotice, NewStatusComponent, NewSubscription, PostedUpdate, Result,
    StatusComponent, StatusStore, StatusSubscriber, StoreError, SubscriberCounts, SubscriberNotice,
};

const INCIDENT_COLUMNS: &str = "id, title, state, impact, body, figures, postmortem, created_at, \
    created_by, updated_at, published_at, resolved_at";

const SUBSCRIBER_COLUMNS: &str = "id, email, state, created_at, confirmed_at, unsubscribed_at";

impl EngineStore {
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
    async fn incident_details_in(conn: &mut Conn, incidents: &mut [Incident]) -> Result<()> {
        if incidents.is_empty() {
            return Ok(());
        }
        let position: std::collections::HashMap<i64, usize> = incidents
            .iter()
            .enumerate()
            .map(|(i, x)| (x.id, i))
            .collect();
        let mut q = sqlx::QueryBuilder::<Db>::new(
            "SELECT id, incident_id, state, body, at, author FROM incident_updates WHERE \
             incident_id IN (",
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
        let mut q = sqlx::QueryBuilder::<Db>::new(
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

    async fn incident_in(conn: &mut Conn, id: i64) -> Result<Option<Incident>> {
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
    async fn lock_incident_in(conn: &mut Conn, id: i64) -> Result<Option<IncidentState>> {
        sqlx::query("UPDATE incidents SET updated_at = updated_at WHERE id = $1 RETURNING state")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?
            .map(|r| parse("incident state", &r.try_get::<String, _>("state")?))
            .transpose()
    }

    /// Replaces an incident's components; `Conflict` if one does not exist.
    async fn set_incident_components_in(
        conn: &mut Conn,
        id: i64,
        components: &[String],
    ) -> Result<()> {
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
}

#[async_trait]
impl StatusStore for EngineStore {
    async fn put_component(
        &self,
        c: &NewStatusComponent,
        audit: NewAuditEntry,
    ) -> Result<StatusComponent> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "INSERT INTO status_components (id, name, description, position, created_at, \
             updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5) \
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, description = \
             excluded.description, \
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

    async fn create_incident(
        &self,
        new: &NewIncident,
        mut audit: NewAuditEntry,
    ) -> Result<Incident> {
        let mut tx = self.begin_write().await?;
        let id: i64 = sqlx::query(
            "INSERT INTO incidents (title, state, impact, body, figures, created_at, created_by, \
             updated_at) \
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
        crate::sql::merge_detail(
            &mut audit,
            serde_json::json!({ "title": new.title, "impact": new.impact.as_str() }),
        );
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
                "only a draft's text can be edited; a public incident's history is its updates \
                 (post one)",
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
            "INSERT INTO incident_updates (incident_id, state, body, at, author) VALUES ($1, $2, \
             $3, $4, $5)",
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
            "SELECT {SUBSCRIBER_COLUMNS} FROM status_subscribers WHERE state = 'confirmed' ORDER \
             BY id"
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
            serde_json::json!({
                "state": update.state.as_str(),
                "previous_state": state.as_str(),
                "notices": enqueued,
            }),
        );
        Self::append_audit_in(&mut tx, &audit).await?;
        let incident = Self::incident_in(&mut tx, id)
            .await?
            .ok_or_else(|| StoreError::corrupt("updated incident vanished"))?;
        tx.commit().await?;
        Ok(Some(PostedUpdate {
            incident,
            notices: enqueued,
        }))
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
            return Err(StoreError::Conflict(
                "the incident is a draft; publish it first",
            ));
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
        let mut incidents = rows
            .iter()
            .map(Self::incident_from)
            .collect::<Result<Vec<_>>>()?;
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

    async fn subscriber_by_unsubscribe(
        &self,
        token: &TokenHash,
    ) -> Result<Option<StatusSubscriber>> {
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
            match parse::<SubscriberState>("subscriber state", &row.try_get::<String, _>("state")?)?
            {
                SubscriberState::Pending => counts.pending = n,
                SubscriberState::Confirmed => counts.confirmed = n,
                SubscriberState::Unsubscribed => counts.unsubscribed = n,
            }
        }
        Ok(counts)
    }
}
