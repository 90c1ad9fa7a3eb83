//! The public status page: components, incidents and their updates, and the
//! people subscribed to them by e-mail.
//!
//! Operators (API key or CLI) manage components and incidents; every write is
//! audited in its own transaction. An incident starts as a draft, which is
//! never public — Gatehouse itself may write one (the circuit breaker, through
//! [`App::create_incident_draft`]), but only an operator publishes it, edits
//! its wording, posts updates and resolves it. Each published update goes to
//! the confirmed subscribers through the outbox, in the update's transaction,
//! as `status_update` notices: claimed only after every due security notice
//! and under their own hourly budget (`status_mail_per_hour`).
//!
//! Subscribing is double opt-in and answers the same whether or not the
//! address is subscribed already (the work happens after the answer, as in
//! recovery). Leaving takes one click: every update mail carries a link (and
//! `List-Unsubscribe` headers) with a token derived from the subscriber under
//! the server key, stored only as its digest.

use std::sync::Arc;
use std::time::Duration;

use gatehouse_domain::audit::{Actor, AuditAction, NewAuditEntry};
use gatehouse_domain::status::{Impact, IncidentState, clean_text, limits, valid_component_id};
use gatehouse_domain::throttle::ThrottlePolicy;
use gatehouse_domain::token::unsubscribe_token;
use gatehouse_domain::{
    Email, NoticeId, Reference, StatusConfirmToken, Timestamp, UnsubscribeToken,
};
use gatehouse_store::{
    Incident, IncidentEdit, IncidentFilter, NewIncident, NewIncidentUpdate, NewNotice,
    NewStatusComponent, NewSubscription, StatusComponent, StatusSubscriber, SubscriberCounts,
};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use super::{App, AppError, Client};
use crate::mail::{NoticeFacts, StatusConfirmFacts, StatusUpdateFacts, message_id};

/// How long a subscription's confirmation link works.
pub const CONFIRM_TTL: Duration = Duration::from_secs(48 * 3600);

/// How far back the public page shows resolved incidents.
pub const HISTORY: Duration = Duration::from_secs(90 * 24 * 3600);

/// Most incidents the public page lists.
const PUBLIC_LIMIT: i64 = 50;

/// Subscription requests per client network: 10 free an hour, then slower, 30 at most.
const SUBSCRIBES_PER_CLIENT: ThrottlePolicy = ThrottlePolicy {
    free_failures: 10,
    base_delay: Duration::from_secs(1),
    max_delay: Duration::from_secs(10 * 60),
    cap: 30,
    window: Duration::from_secs(3600),
};

/// Confirmation mails per address: 3 an hour, 5 at most, so nobody can use the
/// subscription form to flood someone's inbox (status mail is outside the
/// security notices' per-recipient cap).
const SUBSCRIBES_PER_ADDRESS: ThrottlePolicy = ThrottlePolicy {
    free_failures: 3,
    base_delay: Duration::from_secs(60),
    max_delay: Duration::from_secs(30 * 60),
    cap: 5,
    window: Duration::from_secs(3600),
};

/// The answer to every subscription request.
pub const SUBSCRIBE_ACCEPTED: &str = "Thank you. Unless this address is subscribed already, we have e-mailed it a link to confirm the subscription; nothing is sent before it is used.";

/// A draft to write (by an operator, or by Gatehouse itself).
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct IncidentDraft {
    /// Title (up to 200 characters).
    #[schema(format = "one-line", max_length = 200)]
    pub title: String,
    /// What people will be told when it is published (up to 20,000 characters).
    #[schema(format = "multi-line", max_length = 20000)]
    pub body: String,
    /// `none`, `minor`, `major` or `critical` (default `minor`).
    #[serde(default)]
    #[schema(pattern = "^(none|minor|major|critical)$")]
    pub impact: Option<String>,
    /// Ids of the affected components.
    #[serde(default)]
    #[schema(inline, value_type = Vec<ComponentIdSchema>)]
    pub components: Vec<String>,
    /// Facts for operators (e.g. the circuit breaker's live figures); never public.
    #[serde(default)]
    #[schema(value_type = Option<serde_json::Value>)]
    pub figures: Option<serde_json::Value>,
}

/// Wording changes; absent fields stay as they are.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct IncidentChanges {
    /// New title.
    #[schema(format = "one-line", max_length = 200)]
    pub title: Option<String>,
    /// New impact.
    #[schema(pattern = "^(none|minor|major|critical)$")]
    pub impact: Option<String>,
    /// New text (drafts only; a public incident gets updates instead).
    #[schema(format = "multi-line", max_length = 20000)]
    pub body: Option<String>,
    /// New set of affected components.
    #[schema(inline, value_type = Option<Vec<ComponentIdSchema>>)]
    pub components: Option<Vec<String>>,
}

/// A component id in a request (see `valid_component_id`): only for the document.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, pattern = "^[\\t\\n\\x0b\\x0c\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*[a-z0-9-]{1,64}[\\t\\n\\x0b\\x0c\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*$")]
#[allow(dead_code)]
struct ComponentIdSchema(String);

/// A component's state on the page, from the worst open incident affecting it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ComponentStatus {
    /// No open incident (or only ones without impact).
    Operational,
    /// A minor incident.
    Degraded,
    /// A major incident.
    PartialOutage,
    /// A critical incident.
    MajorOutage,
}

impl ComponentStatus {
    fn from_impact(impact: Option<Impact>) -> Self {
        match impact {
            None | Some(Impact::None) => Self::Operational,
            Some(Impact::Minor) => Self::Degraded,
            Some(Impact::Major) => Self::PartialOutage,
            Some(Impact::Critical) => Self::MajorOutage,
        }
    }

    /// Words for people.
    pub fn label(self) -> &'static str {
        match self {
            Self::Operational => "Operational",
            Self::Degraded => "Degraded performance",
            Self::PartialOutage => "Partial outage",
            Self::MajorOutage => "Major outage",
        }
    }

    /// Stable text form (also a CSS class).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Operational => "operational",
            Self::Degraded => "degraded",
            Self::PartialOutage => "partial_outage",
            Self::MajorOutage => "major_outage",
        }
    }
}

/// A component as the public sees it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct PublicComponent {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// One line about it.
    pub description: String,
    /// Its state now.
    pub status: ComponentStatus,
}

/// One update as the public sees it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct PublicUpdate {
    /// `investigating`, `identified`, `monitoring` or `resolved`.
    pub state: String,
    /// What was said.
    pub body: String,
    /// When (RFC 3339).
    pub at: String,
}

/// A published incident as the public sees it (no figures, no operator ids).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct PublicIncident {
    /// Id.
    pub id: i64,
    /// Title.
    pub title: String,
    /// Current state.
    pub state: String,
    /// `none`, `minor`, `major` or `critical`.
    pub impact: String,
    /// Affected components' ids.
    pub components: Vec<String>,
    /// Published (RFC 3339).
    pub published_at: String,
    /// Last change (RFC 3339).
    pub updated_at: String,
    /// Resolved (RFC 3339), if it is.
    pub resolved_at: Option<String>,
    /// The postmortem, once written.
    pub postmortem: Option<String>,
    /// Updates, newest first.
    pub updates: Vec<PublicUpdate>,
}

/// The whole public page.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct PublicStatus {
    /// The worst state of all open incidents.
    pub status: ComponentStatus,
    /// Components in page order.
    pub components: Vec<PublicComponent>,
    /// Open incidents, newest first.
    pub active: Vec<PublicIncident>,
    /// Incidents resolved in the last 90 days, newest first.
    pub history: Vec<PublicIncident>,
    /// When this view was made (RFC 3339).
    pub generated_at: String,
}

fn title(s: &str) -> Result<String, AppError> {
    // One line: it is a mail subject and a feed title.
    gatehouse_domain::text::one_line(s, limits::TITLE).map_err(|message| AppError::Invalid {
        field: "title",
        message: format!("the title {message}"),
    })
}

fn body(field: &'static str, s: &str) -> Result<String, AppError> {
    clean_text(s, limits::BODY).map_err(|message| AppError::Invalid {
        field,
        message: format!("the text {message}"),
    })
}

fn impact(s: Option<&str>) -> Result<Option<Impact>, AppError> {
    s.map(|s| {
        s.trim().parse().map_err(|message| AppError::Invalid {
            field: "impact",
            message,
        })
    })
    .transpose()
}

fn components(ids: &[String]) -> Result<Vec<String>, AppError> {
    let mut out: Vec<String> = Vec::with_capacity(ids.len());
    for id in ids {
        let id = id.trim();
        if !valid_component_id(id) {
            return Err(AppError::Invalid {
                field: "components",
                message: format!("{id:?} is not a component id (1 to 64 of a-z, 0-9, -)"),
            });
        }
        if !out.iter().any(|o| o == id) {
            out.push(id.to_string());
        }
    }
    Ok(out)
}

fn public_incident(i: &Incident) -> PublicIncident {
    PublicIncident {
        id: i.id,
        title: i.title.clone(),
        state: i.state.as_str().to_owned(),
        impact: i.impact.as_str().to_owned(),
        components: i.components.clone(),
        published_at: i.published_at.unwrap_or(i.created_at).to_rfc3339(),
        updated_at: i.updated_at.to_rfc3339(),
        resolved_at: i.resolved_at.map(Timestamp::to_rfc3339),
        postmortem: i.postmortem.clone(),
        updates: i
            .updates
            .iter()
            .rev()
            .map(|u| PublicUpdate {
                state: u.state.as_str().to_owned(),
                body: u.body.clone(),
                at: u.at.to_rfc3339(),
            })
            .collect(),
    }
}

impl App {
    /// Creates or replaces a component.
    pub async fn put_status_component(
        &self,
        id: &str,
        name: &str,
        description: &str,
        position: i64,
        actor: Actor,
    ) -> Result<StatusComponent, AppError> {
        let id = components(&[id.to_string()])?.remove(0);
        let name = gatehouse_domain::text::one_line(name, limits::COMPONENT_NAME).map_err(|m| {
            AppError::Invalid {
                field: "name",
                message: format!("the name {m}"),
            }
        })?;
        let description = if description.trim().is_empty() {
            String::new()
        } else {
            gatehouse_domain::text::one_line(description, limits::TITLE).map_err(|m| {
                AppError::Invalid {
                    field: "description",
                    message: format!("the description {m}"),
                }
            })?
        };
        let now = self.clock.now();
        let audit = NewAuditEntry::new(now, actor, AuditAction::StatusComponentChanged)
            .target(&id)
            .detail(serde_json::json!({ "name": name, "position": position }));
        let c = NewStatusComponent {
            id,
            name,
            description,
            position,
            now,
        };
        Ok(self.store.put_component(&c, audit).await?)
    }

    /// Removes a component (and it from every incident).
    pub async fn remove_status_component(&self, id: &str, actor: Actor) -> Result<(), AppError> {
        let audit =
            NewAuditEntry::new(self.clock.now(), actor, AuditAction::StatusComponentRemoved)
                .target(id);
        if self.store.remove_component(id, audit).await? {
            Ok(())
        } else {
            Err(AppError::NotFound("status component"))
        }
    }

    /// Components in page order.
    pub async fn status_components(&self) -> Result<Vec<StatusComponent>, AppError> {
        Ok(self.store.components().await?)
    }

    /// Writes an incident draft: not public until an operator publishes it.
    /// The circuit breaker calls this with `Actor::System` and its live figures.
    pub async fn create_incident_draft(
        &self,
        draft: &IncidentDraft,
        actor: Actor,
    ) -> Result<Incident, AppError> {
        let new = NewIncident {
            title: title(&draft.title)?,
            impact: impact(draft.impact.as_deref())?.unwrap_or(Impact::Minor),
            body: body("body", &draft.body)?,
            figures: draft.figures.clone(),
            components: components(&draft.components)?,
            created_by: actor.text(),
            now: self.clock.now(),
        };
        let audit = NewAuditEntry::new(new.now, actor, AuditAction::IncidentDrafted);
        Ok(self.store.create_incident(&new, audit).await?)
    }

    /// Edits an incident's wording (title, impact, components; a draft's text).
    pub async fn edit_incident(
        &self,
        id: i64,
        changes: &IncidentChanges,
        actor: Actor,
    ) -> Result<Incident, AppError> {
        let edit = IncidentEdit {
            title: changes.title.as_deref().map(title).transpose()?,
            impact: impact(changes.impact.as_deref())?,
            body: changes
                .body
                .as_deref()
                .map(|b| body("body", b))
                .transpose()?,
            components: changes.components.as_deref().map(components).transpose()?,
        };
        let now = self.clock.now();
        let audit = NewAuditEntry::new(now, actor, AuditAction::IncidentEdited)
            .target(id)
            .detail(serde_json::json!({
                "title": edit.title, "impact": edit.impact.map(Impact::as_str),
                "body_changed": edit.body.is_some(), "components": edit.components,
            }));
        self.store
            .edit_incident(id, &edit, now, audit)
            .await?
            .ok_or(AppError::NotFound("incident"))
    }

    /// Publishes a draft as `state` (default investigating) with `text` (default
    /// the draft's own) as its first update, and mails the subscribers.
    pub async fn publish_incident(
        &self,
        id: i64,
        state: Option<&str>,
        text: Option<&str>,
        actor: Actor,
    ) -> Result<Incident, AppError> {
        let draft = self
            .store
            .incident(id)
            .await?
            .ok_or(AppError::NotFound("incident"))?;
        let state = match state {
            Some(s) => parse_state(s)?,
            None => IncidentState::Investigating,
        };
        let text = match text {
            Some(t) => body("body", t)?,
            None => draft.body.clone(),
        };
        self.post_update(id, state, text, true, actor, AuditAction::IncidentPublished)
            .await
    }

    /// Posts an update to a public incident (and mails the subscribers).
    pub async fn post_incident_update(
        &self,
        id: i64,
        state: &str,
        text: &str,
        actor: Actor,
    ) -> Result<Incident, AppError> {
        let state = parse_state(state)?;
        let action = if state == IncidentState::Resolved {
            AuditAction::IncidentResolved
        } else {
            AuditAction::IncidentUpdated
        };
        self.post_update(id, state, body("body", text)?, false, actor, action)
            .await
    }

    /// Resolves a public incident with a last update (and mails the subscribers).
    pub async fn resolve_incident(
        &self,
        id: i64,
        text: &str,
        actor: Actor,
    ) -> Result<Incident, AppError> {
        self.post_update(
            id,
            IncidentState::Resolved,
            body("body", text)?,
            false,
            actor,
            AuditAction::IncidentResolved,
        )
        .await
    }

    /// Writes or replaces the postmortem of a published incident.
    pub async fn set_incident_postmortem(
        &self,
        id: i64,
        text: &str,
        actor: Actor,
    ) -> Result<Incident, AppError> {
        let text = body("postmortem", text)?;
        let now = self.clock.now();
        let audit = NewAuditEntry::new(now, actor, AuditAction::IncidentPostmortem);
        self.store
            .set_postmortem(id, &text, now, audit)
            .await?
            .ok_or(AppError::NotFound("incident"))
    }

    /// Incidents for operators (drafts included), newest first.
    pub async fn incidents(&self, limit: i64) -> Result<Vec<Incident>, AppError> {
        Ok(self
            .store
            .incidents(&IncidentFilter {
                drafts: true,
                resolved_since: None,
                limit,
            })
            .await?)
    }

    /// One incident for operators (drafts included).
    pub async fn incident(&self, id: i64) -> Result<Incident, AppError> {
        self.store
            .incident(id)
            .await?
            .ok_or(AppError::NotFound("incident"))
    }

    /// Subscribers per state.
    pub async fn status_subscriber_counts(&self) -> Result<SubscriberCounts, AppError> {
        Ok(self.store.subscriber_counts().await?)
    }

    /// What the public page shows: published incidents only.
    pub async fn public_status(&self) -> Result<PublicStatus, AppError> {
        let now = self.clock.now();
        let components = self.store.components().await?;
        let incidents = self
            .store
            .incidents(&IncidentFilter {
                drafts: false,
                resolved_since: Some(now.minus(HISTORY)),
                limit: PUBLIC_LIMIT,
            })
            .await?;
        let (active, history): (Vec<&Incident>, Vec<&Incident>) = incidents
            .iter()
            .partition(|i| i.state != IncidentState::Resolved);
        let worst = |component: Option<&str>| {
            active
                .iter()
                .filter(|i| component.is_none_or(|c| i.components.iter().any(|x| x == c)))
                .map(|i| i.impact)
                .max_by_key(|i| i.rank())
        };
        Ok(PublicStatus {
            status: ComponentStatus::from_impact(worst(None)),
            components: components
                .iter()
                .map(|c| PublicComponent {
                    id: c.id.clone(),
                    name: c.name.clone(),
                    description: c.description.clone(),
                    status: ComponentStatus::from_impact(worst(Some(&c.id))),
                })
                .collect(),
            active: active.into_iter().map(public_incident).collect(),
            history: history.into_iter().map(public_incident).collect(),
            generated_at: now.to_rfc3339(),
        })
    }

    /// Accepts a subscription request. Answers the same whether or not the
    /// address is subscribed; the rest happens in the background.
    pub async fn subscribe_status(
        self: &Arc<Self>,
        email: &str,
        client: &Client,
    ) -> Result<(), AppError> {
        let email = Email::parse(email).map_err(AppError::email)?;
        let key = format!("status-subscribe:{}", client.throttle_key());
        self.rate_limit(&key, SUBSCRIBES_PER_CLIENT).await?;
        let app = self.clone();
        let client = client.clone();
        tokio::spawn(async move {
            if let Err(e) = app.send_subscription(&email, &client).await {
                tracing::error!(error = %e, "status subscription request could not be processed");
            }
        });
        Ok(())
    }

    /// The background half of a subscription: limit, store, enqueue the confirmation.
    async fn send_subscription(&self, email: &Email, client: &Client) -> Result<(), AppError> {
        let address_key = format!("status-subscribe:addr:{}", email.key());
        match self.rate_limit(&address_key, SUBSCRIBES_PER_ADDRESS).await {
            Ok(()) => {}
            Err(AppError::Throttled(_)) => {
                tracing::info!(
                    recipient = email.masked(),
                    "status subscription limit reached for the address; no mail sent"
                );
                return Ok(());
            }
            Err(e) => return Err(e),
        }
        let sent = self
            .with_fresh_reference(|| async {
                let now = self.clock.now();
                let id = NoticeId::generate(self.entropy.as_ref()).to_string();
                let confirm = StatusConfirmToken::generate(self.entropy.as_ref());
                let expires_at = now.plus(CONFIRM_TTL);
                let facts = NoticeFacts::StatusConfirm(StatusConfirmFacts {
                    occasion: self.occasion(now, client),
                    token: confirm.expose().to_owned(),
                    expires_minutes: CONFIRM_TTL.as_secs() / 60,
                });
                let confirm_hash = confirm.hash();
                let nonce = hex::encode(&confirm_hash.as_bytes()[..8]);
                let notice = |subscriber: &str| {
                    self.status_notice(
                        email.as_str(),
                        &email.key(),
                        format!("status-confirm/{subscriber}/{nonce}"),
                        &facts,
                        Some(expires_at),
                    )
                };
                let s = NewSubscription {
                    unsubscribe_hash: self.unsubscribe_token_for(&id).hash(),
                    id,
                    email: email.as_str().to_owned(),
                    email_key: email.key(),
                    confirm_hash,
                    confirm_expires_at: expires_at,
                    now,
                };
                let audit = NewAuditEntry::new(
                    now,
                    Actor::Account(None),
                    AuditAction::StatusSubscribeRequested,
                )
                .ip(client.ip_string())
                .detail(serde_json::json!({ "recipient": email.masked() }));
                self.store.subscribe(&s, &notice, audit).await
            })
            .await?;
        if sent {
            self.wake_outbox();
        }
        Ok(())
    }

    /// Confirms a subscription with the token from its confirmation mail.
    pub async fn confirm_status_subscription(
        &self,
        token: &str,
        client: &Client,
    ) -> Result<StatusSubscriber, AppError> {
        let token = StatusConfirmToken::parse(token.trim()).map_err(|_| link_damaged())?;
        let now = self.clock.now();
        let audit = NewAuditEntry::new(now, Actor::Account(None), AuditAction::StatusSubscribed)
            .ip(client.ip_string());
        self.store
            .confirm_subscription(&token.hash(), now, audit)
            .await?
            .ok_or(AppError::Invalid {
                field: "token",
                message: "this confirmation link was used already or has expired; subscribe again to get a new one".into(),
            })
    }

    /// The subscriber an unsubscribe link names (for the page that asks "leave?").
    pub async fn status_subscriber_for_unsubscribe(
        &self,
        token: &str,
    ) -> Result<StatusSubscriber, AppError> {
        let token = UnsubscribeToken::parse(token.trim()).map_err(|_| link_damaged())?;
        self.store
            .subscriber_by_unsubscribe(&token.hash())
            .await?
            .ok_or(AppError::NotFound("subscription for this link"))
    }

    /// Unsubscribes (one click; a second click changes nothing).
    pub async fn unsubscribe_status(
        &self,
        token: &str,
        client: &Client,
    ) -> Result<StatusSubscriber, AppError> {
        let token = UnsubscribeToken::parse(token.trim()).map_err(|_| link_damaged())?;
        let now = self.clock.now();
        let audit = NewAuditEntry::new(now, Actor::Account(None), AuditAction::StatusUnsubscribed)
            .ip(client.ip_string());
        self.store
            .unsubscribe(&token.hash(), now, audit)
            .await?
            .ok_or(AppError::NotFound("subscription for this link"))
    }

    fn unsubscribe_token_for(&self, subscriber: &str) -> UnsubscribeToken {
        unsubscribe_token(self.secret_key.expose_secret(), subscriber)
    }

    /// An outbox row for status mail (its recipient is a subscriber, not an account).
    fn status_notice(
        &self,
        recipient: &str,
        recipient_key: &str,
        idempotency_key: String,
        facts: &NoticeFacts,
        expires_at: Option<Timestamp>,
    ) -> NewNotice {
        let id = NoticeId::generate(self.entropy.as_ref());
        NewNotice {
            id,
            reference: Reference::generate(self.entropy.as_ref()).to_string(),
            idempotency_key,
            kind: facts.kind(),
            account: None,
            recipient: recipient.to_owned(),
            recipient_key: recipient_key.to_owned(),
            payload: facts.payload(),
            message_id: message_id(id, &self.config),
            created_at: self.clock.now(),
            expires_at,
        }
    }

    async fn post_update(
        &self,
        id: i64,
        state: IncidentState,
        text: String,
        publish: bool,
        actor: Actor,
        action: AuditAction,
    ) -> Result<Incident, AppError> {
        let posted = self
            .with_fresh_reference(|| async {
                let now = self.clock.now();
                let incident = self.store.incident(id).await?;
                let title = incident
                    .as_ref()
                    .map(|i| i.title.clone())
                    .unwrap_or_default();
                let impact = incident.as_ref().map(|i| i.impact);
                // One key per posting: a retried commit (fresh references) starts anew.
                let nonce = NoticeId::generate(self.entropy.as_ref());
                let notice_for = |s: &StatusSubscriber| {
                    let facts = NoticeFacts::StatusUpdate(StatusUpdateFacts::new(
                        now.to_rfc3339(),
                        title.clone(),
                        state,
                        impact,
                        text.clone(),
                        self.unsubscribe_token_for(&s.id).expose().to_owned(),
                    ));
                    let key = Email::parse(&s.email)
                        .map(|e| e.key())
                        .unwrap_or_else(|_| s.email.to_lowercase());
                    self.status_notice(
                        &s.email,
                        &key,
                        format!("status-update/{id}/{nonce}/{}", s.id),
                        &facts,
                        None,
                    )
                };
                let update = NewIncidentUpdate {
                    state,
                    body: text.clone(),
                    author: actor.text(),
                    at: now,
                    publish,
                };
                let audit = NewAuditEntry::new(now, actor.clone(), action);
                self.store
                    .post_incident_update(id, &update, &notice_for, audit)
                    .await
            })
            .await?
            .ok_or(AppError::NotFound("incident"))?;
        if posted.notices > 0 {
            metrics::counter!("gatehouse_status_notices_enqueued_total").increment(posted.notices);
            self.wake_outbox();
        }
        Ok(posted.incident)
    }
}

fn parse_state(s: &str) -> Result<IncidentState, AppError> {
    let state: IncidentState = s.trim().parse().map_err(|message| AppError::Invalid {
        field: "state",
        message,
    })?;
    if state == IncidentState::Draft {
        return Err(AppError::Invalid {
            field: "state",
            message:
                "an update moves an incident to investigating, identified, monitoring or resolved"
                    .into(),
        });
    }
    Ok(state)
}

fn link_damaged() -> AppError {
    AppError::Invalid {
        field: "token",
        message: "this link is damaged; copy the whole link from the e-mail".into(),
    }
}
