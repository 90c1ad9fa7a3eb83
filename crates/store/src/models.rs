//! Rows as the rest of Gatehouse sees them.

use gatehouse_domain::audit::Actor;
use gatehouse_domain::{
    AccountId, CredentialState, OperatorId, SessionId, SessionState, Timestamp, TokenHash,
};
use serde::Serialize;

/// An account to create (sign-up or import).
#[derive(Clone, Debug)]
pub struct NewAccount {
    /// New id.
    pub id: AccountId,
    /// Address as given (domain lower-cased).
    pub email: String,
    /// Uniqueness key (lower-cased address).
    pub email_key: String,
    /// Creation time (imported accounts keep theirs).
    pub created_at: Timestamp,
    /// PHC string (argon2id) or bcrypt hash.
    pub password_hash: String,
}

/// A stored account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Account {
    /// Id.
    pub id: AccountId,
    /// Address.
    pub email: String,
    /// Created.
    pub created_at: Timestamp,
}

/// What a login attempt needs: account and credential.
#[derive(Clone, Debug)]
pub struct LoginRecord {
    /// The account.
    pub account: Account,
    /// Stored hash.
    pub hash: String,
    /// Credential state.
    pub state: CredentialState,
    /// Credential version (password changes so far + 1).
    pub version: i64,
}

/// A password change to commit.
#[derive(Debug)]
pub struct PasswordChange<'a> {
    /// Whose.
    pub account: AccountId,
    /// Version the caller verified against.
    pub expected_version: i64,
    /// New argon2id hash.
    pub new_hash: &'a str,
    /// When.
    pub now: Timestamp,
    /// Session to keep (the one making the change), if any.
    pub keep_session: Option<SessionId>,
    /// Whether to revoke every session but `keep_session` (the default), or none.
    pub end_other_sessions: bool,
    /// Reason recorded on revoked sessions.
    pub end_reason: &'a str,
}

/// Outcome of a password change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PasswordChanged {
    /// The credential's new version.
    pub version: i64,
    /// Sessions revoked.
    pub sessions_ended: u64,
}

/// A session to create.
#[derive(Clone, Debug)]
pub struct NewSession {
    /// New id.
    pub id: SessionId,
    /// Owner.
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
pub struct SessionRecord {
    /// Id.
    pub id: SessionId,
    /// Owner.
    pub account: AccountId,
    /// Owner's address.
    pub account_email: String,
    /// Digest of the token.
    pub token_hash: TokenHash,
    /// State.
    pub state: SessionState,
    /// Created.
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

/// An operator to create.
#[derive(Clone, Debug)]
pub struct NewOperator {
    /// New id.
    pub id: OperatorId,
    /// Address.
    pub email: String,
    /// Uniqueness key.
    pub email_key: String,
    /// Digest of the API key.
    pub key_hash: TokenHash,
    /// Created.
    pub created_at: Timestamp,
}

/// A stored operator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Operator {
    /// Id.
    pub id: OperatorId,
    /// Address.
    pub email: String,
    /// Created.
    pub created_at: Timestamp,
}

impl Operator {
    /// This operator as an audit actor.
    pub fn actor(&self) -> Actor {
        Actor::Operator(self.id.to_string())
    }
}

/// A stored audit entry.
#[derive(Clone, Debug, Serialize)]
pub struct AuditEntry {
    /// Position, from 1.
    pub seq: i64,
    /// When.
    pub at: Timestamp,
    /// `account`, `operator` or `system`.
    pub actor_kind: String,
    /// Actor id.
    pub actor_id: Option<String>,
    /// Action.
    pub action: String,
    /// Target.
    pub target: Option<String>,
    /// Client address.
    pub ip: Option<String>,
    /// Detail (JSON text).
    pub detail: String,
    /// Chain hash, hex.
    pub hash: String,
}
