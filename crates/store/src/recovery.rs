//! Password recovery requests.
//!
//! The trait and the rows it reads and writes; both engines implement it in
//! `queries/recovery.rs`.

use async_trait::async_trait;
use gatehouse_domain::audit::NewAuditEntry;
use gatehouse_domain::{AccountId, RecoveryId, Timestamp, TokenHash};

use crate::{NewNotice, PasswordChanged, Result};

/// Password recovery requests.
#[async_trait]
pub trait RecoveryStore {
    /// Stores a request, supersedes the account's older active ones and
    /// enqueues its notice, in one transaction.
    async fn create_recovery(
        &self,
        new: &NewRecovery,
        notice: &NewNotice,
        audit: NewAuditEntry,
    ) -> Result<()>;

    /// Counts one attempt against the active, unexpired request `lookup`
    /// names, if it has attempts left; returns it. The count is taken before
    /// the caller compares the code, so concurrent guesses cannot exceed
    /// `max_attempts`. A request that reaches `max_attempts` is exhausted.
    async fn recovery_attempt(
        &self,
        lookup: &RecoveryLookup,
        now: Timestamp,
        max_attempts: i64,
    ) -> Result<Option<RecoveryAttempt>>;

    /// Records a wrong code (audit), and exhausts the request if it has no attempts left.
    async fn reject_recovery_attempt(
        &self,
        request: RecoveryId,
        exhausted: bool,
        now: Timestamp,
        audit: NewAuditEntry,
    ) -> Result<()>;

    /// Uses up the request (if still active and unexpired) and sets the
    /// password: credential active with version + 1, every session revoked,
    /// the throttle keys cleared, the notice enqueued, the audit entry
    /// appended: one transaction. `Conflict` if the request was used meanwhile.
    async fn complete_recovery(
        &self,
        c: &RecoveryCompletion<'_>,
        audit: NewAuditEntry,
    ) -> Result<PasswordChanged>;
}

/// A recovery request to store.
#[derive(Clone, Debug)]
#[allow(missing_docs)] // fields named for their columns; documented where the name is not enough
pub struct NewRecovery {
    /// New id.
    pub id: RecoveryId,
    pub account: AccountId,
    /// Keyed digest of the code.
    pub code_hash: [u8; 32],
    /// Digest of the link token, if the mail carries a link.
    pub token_hash: Option<TokenHash>,
    pub created_at: Timestamp,
    /// Code and token stop working at this time.
    pub expires_at: Timestamp,
    /// Requesting client.
    pub ip: Option<String>,
}

/// How a redemption names its request.
#[derive(Clone, Debug)]
pub enum RecoveryLookup {
    /// The account's active request (the code is then checked by the caller).
    Account(AccountId),
    /// The request whose link token has this digest.
    Token(TokenHash),
}

/// An active request with one attempt counted against it.
#[derive(Clone, Debug)]
#[allow(missing_docs)] // fields named for their columns; documented where the name is not enough
pub struct RecoveryAttempt {
    pub id: RecoveryId,
    pub account: AccountId,
    /// The account's address.
    pub email: String,
    /// Stored code digest.
    pub code_hash: Vec<u8>,
    /// Attempts counted, including this one.
    pub attempts: i64,
}

/// A recovery to complete: the request is used up and the password set.
#[derive(Debug)]
#[allow(missing_docs)] // fields named for their columns; documented where the name is not enough
pub struct RecoveryCompletion<'a> {
    /// The request.
    pub request: RecoveryId,
    pub account: AccountId,
    /// New argon2id hash.
    pub new_hash: &'a str,
    pub now: Timestamp,
    /// Login throttle keys to clear (the account's).
    pub clear_throttle_keys: &'a [&'a str],
    /// The "password changed" notice (key set by the store from the new version).
    pub notice: &'a NewNotice,
}
