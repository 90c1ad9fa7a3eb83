//! The operator console: operators' passwords, console sessions and the lookups its pages need.
//!
//! The trait and the rows it reads and writes; both engines implement it in
//! `queries/console.rs`.

use async_trait::async_trait;
use gatehouse_domain::audit::NewAuditEntry;
use gatehouse_domain::{OperatorId, SessionId, Timestamp, TokenHash};

use crate::{Account, AuditEntry, Operator, Result};

/// The operator console: operators' passwords, console sessions, and the
/// lookups its pages need.
#[async_trait]
pub trait ConsoleStore {
    /// Sets (or replaces) an operator's console password and ends their console
    /// sessions, with the audit entry. `NotFound` if no enabled operator has this id.
    async fn set_operator_password(
        &self,
        operator: OperatorId,
        password_hash: &str,
        now: Timestamp,
        audit: NewAuditEntry,
    ) -> Result<()>;

    /// The enabled operator with this e-mail key and their password hash.
    async fn operator_login(&self, email_key: &str) -> Result<Option<OperatorLogin>>;

    /// Opens a console session, with the audit entry.
    async fn create_console_session(
        &self,
        new: &NewConsoleSession,
        audit: NewAuditEntry,
    ) -> Result<()>;

    /// The console session holding this token, if its operator is enabled
    /// (ended or expired sessions are returned too: the caller decides).
    async fn console_session(&self, token: &TokenHash) -> Result<Option<ConsoleSession>>;

    /// Records activity on a console session (only ever moves forward).
    async fn touch_console_session(&self, id: SessionId, now: Timestamp) -> Result<()>;

    /// Ends a console session, with the audit entry. `false` if it had ended already.
    async fn end_console_session(
        &self,
        id: SessionId,
        now: Timestamp,
        audit: NewAuditEntry,
    ) -> Result<bool>;

    /// Every operator's id and address, disabled ones too (to name who did what).
    async fn operator_emails(&self) -> Result<Vec<(OperatorId, String)>>;

    /// Audit entries with `seq < before` (all if `None`), newest first, at most `limit`.
    async fn audit_latest(&self, before: Option<i64>, limit: i64) -> Result<Vec<AuditEntry>>;

    /// Accounts whose e-mail key starts with `prefix` (already lower-cased),
    /// or whose id is `prefix`; at most `limit`, by e-mail.
    async fn search_accounts(&self, prefix: &str, limit: i64) -> Result<Vec<Account>>;
}

/// An operator with their console password hash, for a console sign-in.
#[derive(Clone, Debug)]
pub struct OperatorLogin {
    /// The operator (enabled).
    pub operator: Operator,
    /// argon2id PHC string; `None`: no console access yet.
    pub password_hash: Option<String>,
}

/// A console session to create.
#[derive(Clone, Debug)]
#[allow(missing_docs)] // fields named for their columns; documented where the name is not enough
pub struct NewConsoleSession {
    /// New id.
    pub id: SessionId,
    /// Who signed in.
    pub operator: OperatorId,
    /// Digest of the cookie's token.
    pub token_hash: TokenHash,
    pub created_at: Timestamp,
    /// Absolute end.
    pub expires_at: Timestamp,
    /// Client address at sign-in.
    pub ip: Option<String>,
    /// User agent at sign-in.
    pub user_agent: Option<String>,
}

/// A stored console session with its operator.
#[derive(Clone, Debug)]
#[allow(missing_docs)] // fields named for their columns; documented where the name is not enough
pub struct ConsoleSession {
    pub id: SessionId,
    /// The operator (only returned while enabled).
    pub operator: Operator,
    /// Digest of the token.
    pub token_hash: TokenHash,
    pub created_at: Timestamp,
    /// Last request.
    pub last_seen_at: Timestamp,
    /// Absolute end.
    pub expires_at: Timestamp,
    /// Ended (signed out, or password replaced).
    pub ended_at: Option<Timestamp>,
}
