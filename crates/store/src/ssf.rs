//! OpenID Shared Signals Framework 1.0 streams (issue 17, part 2): the
//! receivers' streams, the events each delivers and the subjects it added.
//!
//! The SETs themselves go through the app-delivery outbox (`kind = 'set'`,
//! see [`crate::AppDeliveryStore`]), written by the store calls that end
//! sessions or change credentials, in their own transactions, with one
//! `INSERT … SELECT` per event type joined to the streams that asked for it.
//! Both engines implement this trait in `queries/ssf.rs`.

use async_trait::async_trait;
use gatehouse_domain::{AccountId, Timestamp};

use crate::Result;

/// The event types Gatehouse transmits (their URIs, as in a SET's `events`).
pub mod set_event {
    /// CAEP 1.0 §3.1: a session ended.
    pub const SESSION_REVOKED: &str =
        "https://schemas.openid.net/secevent/caep/event-type/session-revoked";
    /// CAEP 1.0 §3.3: a credential changed (password change, recovery, undo).
    pub const CREDENTIAL_CHANGE: &str =
        "https://schemas.openid.net/secevent/caep/event-type/credential-change";
    /// RISC 1.0 §2.5: the account must change its credential (a forced reset).
    pub const CREDENTIAL_CHANGE_REQUIRED: &str =
        "https://schemas.openid.net/secevent/risc/event-type/account-credential-change-required";
    /// RISC 1.0 §2.9: all of the account's sessions ended.
    pub const SESSIONS_REVOKED: &str =
        "https://schemas.openid.net/secevent/risc/event-type/sessions-revoked";
    /// SSF 1.0 §8.1.4: the verification event a receiver asks for.
    pub const VERIFICATION: &str =
        "https://schemas.openid.net/secevent/ssf/event-type/verification";

    /// What a receiver may request (verification is always delivered).
    pub const SUPPORTED: [&str; 4] = [
        SESSION_REVOKED,
        CREDENTIAL_CHANGE,
        CREDENTIAL_CHANGE_REQUIRED,
        SESSIONS_REVOKED,
    ];
}

/// A stream's status (SSF 1.0 §8.1.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamStatus {
    /// Events are written and sent.
    Enabled,
    /// Events are written and held until the stream is enabled again.
    Paused,
    /// No event is written; those not yet sent are dropped.
    Disabled,
}

impl StreamStatus {
    /// Every status.
    pub const ALL: [Self; 3] = [Self::Enabled, Self::Paused, Self::Disabled];

    /// Stable text form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enabled => "enabled",
            Self::Paused => "paused",
            Self::Disabled => "disabled",
        }
    }
}

impl std::str::FromStr for StreamStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown stream status {s:?} (enabled, paused or disabled)"))
    }
}

/// A stored stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamRecord {
    /// `stream_id`.
    pub id: String,
    /// The receiver (the OIDC client it authenticates as; the SETs' `aud`).
    pub client_id: String,
    /// Where SETs are POSTed (RFC 8935).
    pub endpoint_url: String,
    /// The `Authorization` header value the receiver asked for, if any.
    pub authorization_header: Option<String>,
    /// The receiver's description.
    pub description: Option<String>,
    /// Status.
    pub status: StreamStatus,
    /// Why the status was last set.
    pub status_reason: Option<String>,
    /// The events the receiver asked for, as it sent them.
    pub requested: Vec<String>,
    /// The events delivered (requested ∩ supported), sorted.
    pub events: Vec<String>,
    /// When it was created.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

/// Receivers' streams and subjects.
#[async_trait]
pub trait SsfStore {
    /// Creates a stream. `Conflict` if the client has one already.
    async fn create_stream(&self, stream: &StreamRecord) -> Result<()>;

    /// A stream by id.
    async fn stream(&self, id: &str) -> Result<Option<StreamRecord>>;

    /// The client's stream, if any.
    async fn stream_of_client(&self, client_id: &str) -> Result<Option<StreamRecord>>;

    /// Replaces a stream's endpoint, header, description and events (status
    /// and ids unchanged). `false` if it does not exist.
    async fn update_stream(&self, stream: &StreamRecord) -> Result<bool>;

    /// Deletes a stream, its subjects and its SETs not sent yet (the
    /// receiver asked for no more). `false` if it did not exist.
    async fn delete_stream(&self, id: &str) -> Result<bool>;

    /// Sets a stream's status; `disabled` drops its SETs not sent yet.
    async fn set_stream_status(
        &self,
        id: &str,
        status: StreamStatus,
        reason: Option<&str>,
        now: Timestamp,
    ) -> Result<bool>;

    /// Adds a subject (an account) to a stream; adding it twice is one.
    async fn add_stream_subject(
        &self,
        stream_id: &str,
        account: AccountId,
        format: &str,
        now: Timestamp,
    ) -> Result<()>;

    /// Removes a subject. `false` if the stream did not have it.
    async fn remove_stream_subject(&self, stream_id: &str, account: AccountId) -> Result<bool>;

    /// The accounts a stream added, oldest first.
    async fn stream_subjects(&self, stream_id: &str) -> Result<Vec<String>>;

    /// Writes a verification SET for the stream (`jti` = `id`), with the
    /// receiver's `state` (SSF §8.1.4.2) as the event's claims.
    async fn owe_verification(
        &self,
        stream_id: &str,
        id: &str,
        event: &serde_json::Value,
        now: Timestamp,
    ) -> Result<bool>;

    /// The SETs a forced reset of these accounts would write now, per
    /// receiver (client id): one `account-credential-change-required` and one
    /// `sessions-revoked` per covered account (if the stream asked for them)
    /// and one `session-revoked` per active session it covers.
    async fn sets_of(&self, accounts: &[AccountId], now: Timestamp) -> Result<Vec<(String, i64)>>;
}
