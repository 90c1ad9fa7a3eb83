//! Login sessions.
//!
//! The trait and the rows it reads and writes; both engines implement it in
//! `queries/sessions.rs`.

use async_trait::async_trait;
use gatehouse_domain::audit::NewAuditEntry;
use gatehouse_domain::{AccountId, SessionId, SessionState, Timestamp, TokenHash};

use crate::{NewLoginEvent, Result};

/// Login sessions.
#[async_trait]
pub trait SessionStore {
    /// Records a successful login: the session, the cleared account throttle
    /// key, its login event (if given) and the audit entry, in one transaction.
    async fn create_session(
        &self,
        new: &NewSession,
        clear_throttle_key: &str,
        event: Option<&NewLoginEvent>,
        audit: NewAuditEntry,
    ) -> Result<()>;

    /// A session by id (any state; an operator ending one session).
    async fn session_by_id(&self, id: SessionId) -> Result<Option<SessionRecord>>;

    /// The session a token belongs to (any state), with its account's e-mail.
    async fn session_by_token(&self, token: &TokenHash) -> Result<Option<SessionRecord>>;

    /// The account's sessions that are active and not past `expires_at` at `now`, newest use first.
    async fn active_sessions(
        &self,
        account: AccountId,
        now: Timestamp,
    ) -> Result<Vec<SessionRecord>>;

    /// Revokes one of the account's sessions. Returns whether one was active or suspended.
    async fn end_session(
        &self,
        account: AccountId,
        session: SessionId,
        now: Timestamp,
        reason: &str,
        audit: NewAuditEntry,
    ) -> Result<bool>;

    /// Revokes every session of the account except `keep`. Returns how many.
    async fn end_other_sessions(
        &self,
        account: AccountId,
        keep: Option<SessionId>,
        now: Timestamp,
        reason: &str,
        audit: NewAuditEntry,
    ) -> Result<u64>;

    /// Deletes sessions that expired, or were revoked, before `before`
    /// (their history stays in the audit log). Returns how many.
    async fn purge_sessions(&self, before: Timestamp) -> Result<u64>;

    /// Moves `last_seen_at` forward (not audited: it is bookkeeping, not an action).
    async fn touch_session(&self, session: SessionId, now: Timestamp) -> Result<()>;
}

/// A session to create.
#[derive(Clone, Debug)]
#[allow(missing_docs)] // fields named for their columns; documented where the name is not enough
pub struct NewSession {
    /// New id.
    pub id: SessionId,
    pub account: AccountId,
    /// Digest of the bearer token.
    pub token_hash: TokenHash,
    /// Created (and first seen).
    pub created_at: Timestamp,
    /// Absolute expiry.
    pub expires_at: Timestamp,
    /// Client address.
    pub ip: Option<String>,
    /// Client user agent (truncated).
    pub user_agent: Option<String>,
}

/// A stored session.
#[derive(Clone, Debug)]
#[allow(missing_docs)] // fields named for their columns; documented where the name is not enough
pub struct SessionRecord {
    pub id: SessionId,
    pub account: AccountId,
    /// Owner's address.
    pub account_email: String,
    /// Digest of the token.
    pub token_hash: TokenHash,
    pub state: SessionState,
    pub created_at: Timestamp,
    /// Last request seen (coarse: written at most once a minute).
    pub last_seen_at: Timestamp,
    /// Absolute expiry.
    pub expires_at: Timestamp,
    /// Client address at login.
    pub ip: Option<String>,
    /// User agent at login.
    pub user_agent: Option<String>,
}
