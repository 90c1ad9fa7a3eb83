//! OpenID Connect Back-Channel Logout 1.0 (issue 17): the logout token an app
//! gets when a session it holds tokens in ends, and the operators' view of the
//! app-delivery outbox.
//!
//! The rows are written by the store in the transaction that ends the session
//! (see `gatehouse_store::AppDeliveryStore`); they hold the token's claims, and
//! the token is signed here at delivery time with the key that signs now — so
//! a key rotation between the session end and a retry never sends a token
//! signed by a key the app no longer finds in the JWKS.

use std::time::Duration;

use gatehouse_domain::audit::{Actor, AuditAction, NewAuditEntry};
use gatehouse_store::{AppDelivery, AppDeliveryCount, AppDeliveryFilter, AppDeliveryState};

use super::jwt;
use crate::app::{App, AppError};

/// The event a logout token carries (Back-Channel Logout 1.0 §2.4).
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// The JWT `typ` of a logout token (§2.4, RFC 8725 §3.11 explicit typing).
pub const LOGOUT_TOKEN_TYP: &str = "logout+jwt";

/// How long a logout token is valid after it is signed: long enough for
/// clock skew between Gatehouse and the app, short enough that a captured
/// token is not replayable for long (the app also drops repeated `jti`s).
pub const LOGOUT_TOKEN_LIFETIME: Duration = Duration::from_secs(120);

/// One receiver's deliveries by state.
#[derive(Clone, Debug, Default, serde::Serialize, utoipa::ToSchema)]
pub struct ReceiverCounts {
    /// The app (client id).
    pub client_id: String,
    /// Waiting (also retries waiting for their time).
    pub pending: i64,
    /// Being sent now.
    pub sending: i64,
    /// The app answered 2xx.
    pub sent: i64,
    /// Given up; retryable.
    pub failed: i64,
}

/// A delivery as operators see it.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct AppDeliveryView {
    /// The token's `jti` (the same on every attempt).
    pub id: String,
    /// `logout` (a back-channel logout token) or `set` (a Security Event Token).
    #[schema(example = "logout")]
    pub kind: &'static str,
    /// A SET's event type (its URI).
    pub event_type: Option<String>,
    /// A SET's stream.
    pub stream_id: Option<String>,
    /// The app it goes to (and the token's `aud`).
    pub client_id: String,
    /// The account (`sub`; empty for a stream's verification event).
    pub account_id: String,
    /// The Gatehouse session that ended (`sid`; empty for a SET about an account).
    pub session_id: String,
    /// Why it ended: `logout`, `ended_by_user`, `password_changed`, `forced_reset`, …
    pub reason: String,
    /// `pending`, `sending`, `sent` or `failed`.
    #[schema(example = "sent")]
    pub state: &'static str,
    /// Attempts so far.
    pub attempts: i64,
    /// RFC 3339: when the session ended.
    pub event_at: String,
    /// RFC 3339: the next attempt (pending rows).
    pub next_attempt_at: String,
    /// The app's last answer, or why it failed.
    pub last_error: Option<String>,
    /// RFC 3339, once the app answered 2xx.
    pub sent_at: Option<String>,
}

impl From<&AppDelivery> for AppDeliveryView {
    fn from(d: &AppDelivery) -> Self {
        Self {
            id: d.id.clone(),
            kind: d.kind.as_str(),
            event_type: d.event_type.clone(),
            stream_id: d.stream_id.clone(),
            client_id: d.client_id.clone(),
            account_id: d.account.clone(),
            session_id: d.session.clone(),
            reason: d.reason.clone(),
            state: d.state.as_str(),
            attempts: d.attempts,
            event_at: d.event_at.to_rfc3339(),
            next_attempt_at: d.next_attempt_at.to_rfc3339(),
            last_error: d.last_error.clone(),
            sent_at: d.sent_at.map(|t| t.to_rfc3339()),
        }
    }
}

/// Per-receiver counts from the store's (client, state) rows.
pub fn receiver_counts(rows: &[AppDeliveryCount]) -> Vec<ReceiverCounts> {
    let mut out: Vec<ReceiverCounts> = Vec::new();
    for r in rows {
        let entry = match out.iter_mut().find(|c| c.client_id == r.client_id) {
            Some(e) => e,
            None => {
                out.push(ReceiverCounts {
                    client_id: r.client_id.clone(),
                    ..ReceiverCounts::default()
                });
                out.last_mut().expect("just pushed")
            }
        };
        match r.state {
            AppDeliveryState::Pending => entry.pending += r.count,
            AppDeliveryState::Sending => entry.sending += r.count,
            AppDeliveryState::Sent => entry.sent += r.count,
            AppDeliveryState::Failed => entry.failed += r.count,
        }
    }
    out
}

impl App {
    /// The logout token of a delivery, signed now with the signing key: claims
    /// `iss aud iat exp jti sid sub events` and never `nonce` (§2.4).
    pub async fn logout_token(&self, d: &AppDelivery) -> Result<String, AppError> {
        let now = self.clock.now();
        let secs = |t: gatehouse_domain::Timestamp| t.as_millis().div_euclid(1000);
        let claims = serde_json::json!({
            "iss": self.oidc_issuer(),
            "aud": d.client_id,
            "iat": secs(now),
            "exp": secs(now.plus(LOGOUT_TOKEN_LIFETIME)),
            "jti": d.id,
            "sub": d.account,
            "sid": d.session,
            "events": { BACKCHANNEL_LOGOUT_EVENT: {} },
        });
        let ring = self.key_ring(false).await?;
        jwt::sign(&ring, LOGOUT_TOKEN_TYP, &claims)
    }

    /// Back-channel logout deliveries, newest first.
    pub async fn app_deliveries(
        &self,
        state: Option<AppDeliveryState>,
        client_id: Option<String>,
        limit: i64,
    ) -> Result<Vec<AppDelivery>, AppError> {
        // No client id holds one (PostgreSQL's text cannot hold a NUL at all: the
        // query would fail as a server error rather than match nothing).
        if client_id
            .as_deref()
            .is_some_and(gatehouse_domain::text::has_controls)
        {
            return Err(AppError::Invalid {
                field: "client_id",
                message: "is not a client id (it holds a control character)".into(),
            });
        }
        Ok(self
            .store
            .app_deliveries(&AppDeliveryFilter {
                state,
                client_id,
                limit,
            })
            .await?)
    }

    /// Deliveries per receiver and state.
    pub async fn app_delivery_counts(&self) -> Result<Vec<ReceiverCounts>, AppError> {
        Ok(receiver_counts(&self.store.app_delivery_counts().await?))
    }

    /// Sends a failed logout token again (same `jti`). Audited
    /// `oidc.logout_token_retried` as `actor`.
    pub async fn retry_app_delivery(&self, id: &str, actor: Actor) -> Result<(), AppError> {
        let now = self.clock.now();
        let audit = NewAuditEntry::new(now, actor, AuditAction::AppDeliveryRetried).target(id);
        if !self.store.retry_failed_app_delivery(id, now, audit).await? {
            return Err(AppError::Conflict(
                "only a failed delivery (logout token or SET) can be retried",
            ));
        }
        Ok(())
    }

    /// The apps a forced reset of `accounts` would sign out now: per client
    /// with a back-channel logout URI, how many of their active sessions it
    /// holds tokens in.
    pub async fn app_sessions_of(
        &self,
        accounts: &[gatehouse_domain::AccountId],
    ) -> Result<Vec<(String, i64)>, AppError> {
        Ok(self
            .store
            .app_sessions_of(accounts, self.clock.now())
            .await?)
    }
}
