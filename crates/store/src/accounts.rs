//! Accounts: sign-up, import and lookup.
//!
//! The trait and the rows it reads and writes; both engines implement it in
//! `queries/accounts.rs`.

use async_trait::async_trait;
use gatehouse_domain::audit::NewAuditEntry;
use gatehouse_domain::{AccountId, CredentialState, Timestamp};
use serde::Serialize;

use crate::Result;

/// Accounts and their password credentials.
#[async_trait]
pub trait AccountStore {
    /// Creates an account with its first credential. `Conflict` if the e-mail key is taken.
    async fn create_account(&self, new: &NewAccount, audit: NewAuditEntry) -> Result<Account>;

    /// The account and credential for a login attempt, by e-mail key.
    async fn login_record(&self, email_key: &str) -> Result<Option<LoginRecord>>;

    /// One account by id.
    async fn account(&self, id: AccountId) -> Result<Option<Account>>;

    /// Number of accounts.
    async fn count_accounts(&self) -> Result<i64>;

    /// Accounts active since `since`: a successful sign-in (own or a login
    /// event from an app) or a session used since then. `None` when there is
    /// no login history at all (no successful sign-in event and no session
    /// ever), so the caller can say it fell back to every account.
    async fn active_accounts(&self, since: Timestamp) -> Result<Option<i64>>;

    /// Inserts a batch of imported accounts in one transaction, skipping
    /// e-mail keys that already exist. Returns, per row, whether it was inserted.
    async fn import_accounts(&self, rows: &[NewAccount], audit: NewAuditEntry)
    -> Result<Vec<bool>>;

    /// Up to `limit` accounts' stored address and key, by id, after `after`
    /// (`None`: from the start): for re-keying old addresses.
    async fn account_keys(&self, after: Option<AccountId>, limit: i64) -> Result<Vec<AccountKey>>;

    /// Stores a new address and key for an account, with its audit entry, in
    /// one transaction — only if the account still has the key `old_key`
    /// (`Conflict` otherwise, or if another account has `new_key`).
    async fn rekey_account(
        &self,
        id: AccountId,
        old_key: &str,
        new_email: &str,
        new_key: &str,
        audit: NewAuditEntry,
    ) -> Result<()>;
}

/// An account's stored address and uniqueness key.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(missing_docs)] // fields named for their columns
pub struct AccountKey {
    pub id: AccountId,
    pub email: String,
    pub email_key: String,
}

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
#[allow(missing_docs)] // fields named for their columns; documented where the name is not enough
pub struct Account {
    pub id: AccountId,
    pub email: String,
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
    /// When the password was last set (sign-up or import, change, recovery).
    pub changed_at: Timestamp,
}
