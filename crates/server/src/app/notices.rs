//! Notices as use cases: building outbox rows, `/verify`, and the operators'
//! view of the outbox.

use std::future::Future;
use std::sync::Arc;

use gatehouse_domain::audit::{Actor, AuditAction, NewAuditEntry};
use gatehouse_domain::notice::approximate_user_agent;
use gatehouse_domain::{AccountId, Email, NoticeId, Reference, Timestamp};
use gatehouse_store::{
    NOTICE_REFERENCE_TAKEN, NewNotice, Notice, NoticeFilter, NoticeState, Operator, StoreError,
};
use serde::Serialize;

use super::{App, AppError, Client};
use crate::mail::{NoticeFacts, Occasion, Outbox, message_id};

/// What `/verify` tells anyone about a reference: nothing more.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct VerifiedNotice {
    /// The reference, in canonical form.
    pub reference: String,
    /// Kind (`recovery`, `password_changed`, `forced_reset`, `correction`).
    pub kind: String,
    /// The kind in words.
    pub description: String,
    /// The recipient, masked (`j***@example.com`).
    pub recipient: String,
    /// When Gatehouse wrote it (RFC 3339).
    pub created_at: String,
    /// When a mail server accepted it, if it has.
    pub sent_at: Option<String>,
    /// `sent`, `queued`, or `not_sent`.
    pub status: &'static str,
}

/// What the delivery worker needs of the application, and no more.
impl From<&App> for Outbox {
    fn from(app: &App) -> Self {
        Outbox {
            store: app.store.clone(),
            clock: app.clock.clone(),
            entropy: app.entropy.clone(),
            wakeup: app.outbox_wakeup.clone(),
            settings: app.config.mail.clone(),
        }
    }
}

impl From<Arc<App>> for Outbox {
    fn from(app: Arc<App>) -> Self {
        Self::from(app.as_ref())
    }
}

impl App {
    /// When and from where a person's request came (address, approximate
    /// device), for the notices that tell them about it.
    pub fn occasion(&self, at: Timestamp, client: &Client) -> Occasion {
        Occasion {
            at: at.to_rfc3339(),
            ip: client.ip_string(),
            device: Some(approximate_user_agent(client.user_agent.as_deref())),
        }
    }

    /// An outbox row (fresh id, reference and Message-ID) of the facts' kind.
    pub fn new_notice(
        &self,
        account: Option<AccountId>,
        to: &Email,
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
            account,
            recipient: to.as_str().to_owned(),
            recipient_key: to.key(),
            payload: facts.payload(),
            message_id: message_id(id, &self.config),
            created_at: self.clock.now(),
            expires_at,
        }
    }

    /// Runs a write that enqueues a notice, again with a fresh reference if the
    /// random one collided with a stored one (`write` builds the notice anew each time).
    pub(crate) async fn with_fresh_reference<T, F, Fut>(
        &self,
        mut write: F,
    ) -> Result<T, StoreError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, StoreError>>,
    {
        for _ in 0..3 {
            match write().await {
                Err(StoreError::Conflict(NOTICE_REFERENCE_TAKEN)) => continue,
                other => return other,
            }
        }
        write().await
    }

    /// Tells the delivery worker there is something to send.
    pub(crate) fn wake_outbox(&self) {
        self.outbox_wakeup.notify_one();
    }

    /// Looks up a reference for `/verify`. Rate-limited per client network.
    pub async fn verify_reference(
        &self,
        input: &str,
        client: &Client,
    ) -> Result<VerifiedNotice, AppError> {
        if self
            .verify_limiter
            .check_key(&client.throttle_key())
            .is_err()
        {
            return Err(AppError::Throttled(std::time::Duration::from_secs(60)));
        }
        let reference = Reference::parse(input).map_err(|e| AppError::Invalid {
            field: "reference",
            message: format!("{e} (a reference looks like GH-7K3Q-9XMD)"),
        })?;
        let n = self
            .store
            .notice_by_reference(reference.as_str())
            .await?
            .ok_or(AppError::NotFound("notice with this reference"))?;
        Ok(VerifiedNotice {
            reference: n.reference,
            kind: n.kind.as_str().to_owned(),
            description: n.kind.description().to_owned(),
            recipient: Email::parse(&n.recipient)
                .map(|e| e.masked())
                .unwrap_or_else(|_| "***".into()),
            created_at: n.created_at.to_rfc3339(),
            sent_at: n.sent_at.map(Timestamp::to_rfc3339),
            status: match n.state {
                NoticeState::Sent => "sent",
                NoticeState::Pending | NoticeState::Sending => "queued",
                NoticeState::Failed | NoticeState::Coalesced | NoticeState::Expired => "not_sent",
            },
        })
    }

    /// The outbox for operators, newest first.
    pub async fn outbox(
        &self,
        state: Option<NoticeState>,
        limit: i64,
    ) -> Result<Vec<Notice>, AppError> {
        Ok(self
            .store
            .notices(&NoticeFilter {
                state,
                account: None,
                limit,
            })
            .await?)
    }

    /// Sends a failed notice again. `by` is `None` for the CLI.
    pub async fn retry_notice(&self, id: NoticeId, by: Option<&Operator>) -> Result<(), AppError> {
        let now = self.clock.now();
        let actor = by.map(Operator::actor).unwrap_or(Actor::System);
        let audit = NewAuditEntry::new(now, actor, AuditAction::NoticeRetried).target(id);
        if !self.store.retry_failed_notice(id, now, audit).await? {
            return Err(AppError::Conflict(
                "only a failed notice whose content is still stored can be retried",
            ));
        }
        self.wake_outbox();
        Ok(())
    }
}
