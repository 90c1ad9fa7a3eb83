//! Failed-login counters.
//!
//! The trait and the rows it reads and writes; both engines implement it in
//! `queries/throttle.rs`.

use async_trait::async_trait;
use gatehouse_domain::Timestamp;
use gatehouse_domain::audit::NewAuditEntry;
use gatehouse_domain::throttle::{ThrottlePolicy, ThrottleState};

use crate::{NewLoginEvent, Result};

/// Failed-login counters.
#[async_trait]
pub trait ThrottleStore {
    /// Current state of each key (`None` where it has none).
    async fn throttle_states(&self, keys: &[&str]) -> Result<Vec<Option<ThrottleState>>>;

    /// Counts one failure against each key under its policy, stores the login
    /// event (if given) and appends the audit entry, in one transaction.
    /// Returns the new states in order.
    async fn record_login_failure(
        &self,
        keys: &[(&str, ThrottlePolicy)],
        now: Timestamp,
        event: Option<&NewLoginEvent>,
        audit: NewAuditEntry,
    ) -> Result<Vec<ThrottleState>>;

    /// Counts one event against each key with no audit entry of its own (for
    /// rate limits on actions that are audited when they succeed, like sign-up).
    async fn count_throttle_event(
        &self,
        keys: &[(&str, ThrottlePolicy)],
        now: Timestamp,
    ) -> Result<Vec<ThrottleState>>;

    /// Deletes counters whose window began at or before `window_closed_before`
    /// and whose block has ended by `now`. Returns how many.
    async fn purge_throttle(&self, window_closed_before: Timestamp, now: Timestamp) -> Result<u64>;
}
