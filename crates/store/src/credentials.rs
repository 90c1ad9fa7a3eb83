//! Password credentials: verification data and password changes.
//!
//! The trait and the rows it reads and writes; both engines implement it in
//! `queries/credentials.rs`.

use async_trait::async_trait;
use gatehouse_domain::audit::NewAuditEntry;
use gatehouse_domain::{AccountId, SessionId, Timestamp};

use crate::{NewNotice, Result};

/// Password credentials.
#[async_trait]
pub trait CredentialStore {
    /// Replaces the hash with an equivalent one (same password, better
    /// parameters) if the stored hash is still `old_hash`. Returns whether it did.
    async fn rehash_credential(
        &self,
        account: AccountId,
        old_hash: &str,
        new_hash: &str,
        audit: NewAuditEntry,
    ) -> Result<bool>;

    /// Sets a new password if the credential is still at `expected_version`:
    /// state becomes active, version goes up by one, and every other session
    /// (all but `keep`) is revoked. `Conflict` if the version moved.
    async fn change_password(
        &self,
        change: &PasswordChange<'_>,
        audit: NewAuditEntry,
    ) -> Result<PasswordChanged>;
}

/// A password change to commit.
#[derive(Debug)]
#[allow(missing_docs)] // fields named for their columns; documented where the name is not enough
pub struct PasswordChange<'a> {
    pub account: AccountId,
    /// Version the caller verified against.
    pub expected_version: i64,
    /// New argon2id hash.
    pub new_hash: &'a str,
    pub now: Timestamp,
    /// Session to keep (the one making the change), if any.
    pub keep_session: Option<SessionId>,
    /// Whether to revoke every session but `keep_session` (the default), or none.
    pub end_other_sessions: bool,
    /// Reason recorded on revoked sessions.
    pub end_reason: &'a str,
    /// The "password changed" notice to enqueue with the change. The store
    /// sets its idempotency key from the new credential version.
    pub notice: Option<&'a NewNotice>,
}

/// Outcome of a password change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PasswordChanged {
    /// The credential's new version.
    pub version: i64,
    /// Sessions revoked.
    pub sessions_ended: u64,
}
