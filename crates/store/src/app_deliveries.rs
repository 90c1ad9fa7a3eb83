//! The app-delivery outbox: OpenID Connect Back-Channel Logout tokens owed to
//! the apps a person was signed in to when a session ended, and Security
//! Event Tokens owed to Shared Signals receivers' streams (`kind`).
//!
//! Rows are never written through this trait: every store call that ends or
//! suspends sessions (`end_session`, `end_other_sessions`, `change_password`,
//! a campaign's apply batch) writes them itself, in its own transaction, with
//! one `INSERT … SELECT` joined to `oidc_grants` — so a session cannot end
//! without its apps being owed a token. This trait is the sender's and the
//! operators' side: claim with a lease, settle, list, retry. Both engines
//! implement it in `queries/app_deliveries.rs`.

use std::time::Duration;

use async_trait::async_trait;
use gatehouse_domain::Timestamp;
use gatehouse_domain::audit::NewAuditEntry;
use serde::Serialize;

use crate::Result;

/// The app-delivery outbox (back-channel logout tokens).
#[async_trait]
pub trait AppDeliveryStore {
    /// The receivers (client ids) with a delivery due at `now`: pending and
    /// due, or sending under a lease that ran out (its sender died).
    async fn due_app_receivers(&self, now: Timestamp) -> Result<Vec<String>>;

    /// Leases up to `limit` due deliveries of one receiver, oldest first, and
    /// commits before returning (the caller talks HTTP outside any
    /// transaction). A client whose logout URI was removed, or that was
    /// disabled, since the row was written gets its rows failed, not sent.
    async fn claim_app_deliveries(&self, claim: &AppClaim<'_>) -> Result<Vec<ClaimedAppDelivery>>;

    /// Pending SETs not signed yet, oldest first, at most `limit`: the sender's
    /// sign-ahead stage signs them and stores the tokens
    /// ([`AppDeliveryStore::store_set_tokens`]).
    async fn unsigned_sets(&self, limit: i64) -> Result<Vec<AppDelivery>>;

    /// Stores signed SETs (`(id, compact JWS)`) in `app_delivery_tokens` and
    /// marks their rows signed, one transaction (two statements) per 500
    /// rows; a row that has a token already keeps it (two replicas signing the
    /// same row: the first one written is the one sent). Returns how many
    /// were stored.
    async fn store_set_tokens(&self, tokens: &[(String, String)]) -> Result<u64>;

    /// Marks a leased delivery sent. `false` if the lease was lost.
    async fn app_delivery_sent(&self, id: &str, lease_id: &str, now: Timestamp) -> Result<bool>;

    /// Marks a claim's delivered rows sent in one statement (the sender
    /// settles a claim's successes together). Returns how many were still
    /// held by the lease.
    async fn app_deliveries_sent(
        &self,
        ids: &[String],
        lease_id: &str,
        now: Timestamp,
    ) -> Result<u64>;

    /// Gives back leased rows that were never attempted (the sender claims
    /// ahead of its sends, and hands the rest back when a receiver's circuit
    /// opens): pending again, due as they were, the claim's attempt undone.
    /// Returns how many were still held by the lease.
    async fn release_app_deliveries(&self, ids: &[String], lease_id: &str) -> Result<u64>;

    /// Puts a leased delivery back for another attempt at `next_attempt_at`.
    async fn app_delivery_retry(
        &self,
        id: &str,
        lease_id: &str,
        next_attempt_at: Timestamp,
        error: &str,
    ) -> Result<bool>;

    /// Marks a leased delivery failed for good (retryable by hand).
    async fn app_delivery_failed(&self, id: &str, lease_id: &str, error: &str) -> Result<bool>;

    /// Deliveries, newest first.
    async fn app_deliveries(&self, filter: &AppDeliveryFilter) -> Result<Vec<AppDelivery>>;

    /// Deliveries per receiver and state.
    async fn app_delivery_counts(&self) -> Result<Vec<AppDeliveryCount>>;

    /// Sends a failed delivery again (pending, attempts reset, same `jti`),
    /// with its audit entry. `false` if it was not failed.
    async fn retry_failed_app_delivery(
        &self,
        id: &str,
        now: Timestamp,
        audit: NewAuditEntry,
    ) -> Result<bool>;

    /// Deletes deliveries sent before `before` (what was sent is in the
    /// receiver's hands; failed ones stay until an operator retries them).
    /// Returns how many.
    async fn purge_app_deliveries(&self, before: Timestamp) -> Result<u64>;

    /// The app sessions a forced reset of these accounts would end now: per
    /// client with a logout URI, how many of the accounts' active sessions it
    /// holds tokens in.
    async fn app_sessions_of(
        &self,
        accounts: &[gatehouse_domain::AccountId],
        now: Timestamp,
    ) -> Result<Vec<(String, i64)>>;
}

/// One claim of one receiver's due deliveries.
#[derive(Clone, Debug)]
pub struct AppClaim<'a> {
    /// The receiver (client id).
    pub client_id: &'a str,
    /// Now.
    pub now: Timestamp,
    /// This claim's lease id: only its holder may settle the rows.
    pub lease_id: &'a str,
    /// How long the lease lasts; past it another sender may send again.
    pub lease: Duration,
    /// Most rows.
    pub limit: i64,
}

/// Where a delivery is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AppDeliveryState {
    /// Waiting to be sent (or retried).
    Pending,
    /// Leased by a sender now.
    Sending,
    /// The app answered 2xx.
    Sent,
    /// Gave up (attempts exhausted, or the client lost its logout URI);
    /// an operator may retry.
    Failed,
}

impl AppDeliveryState {
    /// Every state.
    pub const ALL: [Self; 4] = [Self::Pending, Self::Sending, Self::Sent, Self::Failed];

    /// Stable text form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Failed => "failed",
        }
    }
}

impl std::str::FromStr for AppDeliveryState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown delivery state {s:?} (one of: {})",
                    Self::ALL.map(Self::as_str).join(", ")
                )
            })
    }
}

/// What a delivery carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AppDeliveryKind {
    /// A back-channel logout token to the client's `backchannel_logout_uri`.
    Logout,
    /// A Security Event Token (RFC 8417) to a stream's push endpoint.
    Set,
}

impl AppDeliveryKind {
    /// Stable text form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Logout => "logout",
            Self::Set => "set",
        }
    }
}

impl std::str::FromStr for AppDeliveryKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "logout" => Ok(Self::Logout),
            "set" => Ok(Self::Set),
            _ => Err(format!("unknown delivery kind {s:?} (logout or set)")),
        }
    }
}

/// A stored delivery: the token's claims and the delivery's progress.
#[derive(Clone, Debug)]
#[allow(missing_docs)] // fields named for their columns
pub struct AppDelivery {
    /// The token's `jti`, fixed when the row was written.
    pub id: String,
    /// A logout token or a SET.
    pub kind: AppDeliveryKind,
    /// A SET's stream.
    pub stream_id: Option<String>,
    /// A SET's event type (its URI).
    pub event_type: Option<String>,
    /// A SET's extra event claims (JSON object), e.g. a verification's `state`.
    pub event: Option<String>,
    /// The receiver and the token's `aud`.
    pub client_id: String,
    /// The token's `sub` (`""` for a stream's verification event).
    pub account: String,
    /// The token's `sid` (`""` for a SET about an account, not a session).
    pub session: String,
    /// Why the session ended (`logout`, `password_changed`, `forced_reset`, …).
    pub reason: String,
    /// When the session ended.
    pub event_at: Timestamp,
    pub state: AppDeliveryState,
    pub attempts: i64,
    pub next_attempt_at: Timestamp,
    /// The receiver's last answer, or why it failed.
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub sent_at: Option<Timestamp>,
    /// A SET signed ahead of its delivery (compact JWS), sent as is by every
    /// attempt while its key is published; `None` until then, and always for
    /// logout tokens (their `exp` is set at each attempt).
    pub token: Option<String>,
}

/// A delivery leased for sending, with where it goes.
#[derive(Clone, Debug)]
pub struct ClaimedAppDelivery {
    /// The row.
    pub delivery: AppDelivery,
    /// The client's `backchannel_logout_uri` now, or the stream's endpoint.
    pub uri: String,
    /// The `Authorization` header the stream asked for (SETs only).
    pub authorization: Option<String>,
}

/// How many deliveries one receiver has in one state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppDeliveryCount {
    /// Receiver (client id).
    pub client_id: String,
    /// State.
    pub state: AppDeliveryState,
    /// How many.
    pub count: i64,
}

/// Which deliveries to list.
#[derive(Clone, Debug, Default)]
pub struct AppDeliveryFilter {
    /// Only this state.
    pub state: Option<AppDeliveryState>,
    /// Only this receiver.
    pub client_id: Option<String>,
    /// Most rows (newest first).
    pub limit: i64,
}
