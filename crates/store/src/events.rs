//! Login events: what the compromise checks read and backtest against.
//!
//! The trait and the rows it reads and writes; both engines implement it in
//! `queries/events.rs`.

use async_trait::async_trait;
use gatehouse_domain::audit::NewAuditEntry;
use gatehouse_domain::login_event::{EventOrigin, EventOutcome};
use gatehouse_domain::{AccountId, Timestamp};

use crate::Result;

pub(crate) mod bulk;

/// Login events: what the compromise checks read and backtest against.
/// (Gatehouse's own logins are stored by
/// [`SessionStore::create_session`](crate::SessionStore::create_session) and
/// [`ThrottleStore::record_login_failure`](crate::ThrottleStore::record_login_failure),
/// in the transaction of the login.)
#[async_trait]
pub trait EventStore {
    /// Stores a batch in one transaction, skipping events whose `dedupe_key` is
    /// stored already (or came earlier in the batch), and appends the audit entry,
    /// if given, with the counts. Returns how many were inserted.
    async fn insert_login_events(
        &self,
        events: &[NewLoginEvent],
        audit: Option<NewAuditEntry>,
    ) -> Result<u64>;

    /// The engine's fastest plain load of a batch, in one transaction:
    /// PostgreSQL `COPY` straight into the table, SQLite one multi-row
    /// `INSERT`. No dedupe skip (a stored key fails the batch), no account
    /// resolution (`Resolve` stores no account id), no audit entry: the
    /// baseline `gatehouse-bench events` measures ingestion against.
    #[cfg(feature = "testing")]
    async fn load_login_events_unchecked(&self, events: &[NewLoginEvent]) -> Result<u64>;

    /// Events with `from <= time < until`, in `(time, id)` order, starting after
    /// `after` (a page of a scan), at most `limit`. A scan pages on with the
    /// last event's [`cursor`](LoginEvent::cursor) until a page comes back short.
    async fn login_events(
        &self,
        from: Timestamp,
        until: Timestamp,
        after: Option<EventCursor>,
        limit: i64,
    ) -> Result<Vec<LoginEvent>>;

    /// Number of events with `from <= time < until`.
    async fn count_login_events(&self, from: Timestamp, until: Timestamp) -> Result<i64>;

    /// Deletes up to `limit` of the oldest events with `time < before`, so
    /// retention runs in short transactions that never hold up logins for long.
    /// Returns how many.
    async fn purge_login_events(&self, before: Timestamp, limit: i64) -> Result<u64>;

    /// Events with `id > after`, in id (insertion) order, at most `limit`: how a
    /// detection monitor tails the table.
    async fn login_events_after_id(&self, after: i64, limit: i64) -> Result<Vec<LoginEvent>>;

    /// The events among `ids` that exist (a monitor re-asks for ids it saw skipped,
    /// in case their transaction commits late).
    async fn login_events_by_ids(&self, ids: &[i64]) -> Result<Vec<LoginEvent>>;

    /// Where the monitor `name` got to (`None` before its first save).
    async fn monitor_checkpoint(&self, name: &str) -> Result<Option<i64>>;

    /// Saves where the monitor `name` got to.
    async fn save_monitor_checkpoint(
        &self,
        name: &str,
        after_id: i64,
        now: Timestamp,
    ) -> Result<()>;

    /// Where the monitor `name` is against the newest stored event.
    async fn monitor_progress(&self, name: &str) -> Result<MonitorProgress>;

    /// Events received at or after `received_since` that were already older than
    /// `window` when they arrived (`time < received_at - window`): history
    /// imported late, which the live monitor does not turn into findings. Reads
    /// every event received in the period (an operator's question, not a hot path).
    async fn late_login_events(
        &self,
        window: std::time::Duration,
        received_since: Timestamp,
    ) -> Result<LateEvents>;
}

/// A detection monitor's position (see [`EventStore::monitor_progress`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MonitorProgress {
    /// Every event id at or below this has been read (0: never saved).
    pub after_id: i64,
    /// When the checkpoint was last saved (`None`: never).
    pub saved_at: Option<Timestamp>,
    /// The newest stored event's id (0: none).
    pub latest_id: i64,
}

/// Events that arrived too late for the live monitor (see
/// [`EventStore::late_login_events`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LateEvents {
    /// How many.
    pub count: i64,
    /// The oldest and newest of their times (`None` when there are none).
    pub oldest: Option<Timestamp>,
    /// See `oldest`.
    pub newest: Option<Timestamp>,
    /// When the last of them arrived.
    pub last_received: Option<Timestamp>,
}

/// How a new login event finds its Gatehouse account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccountLink {
    /// The caller knows already (Gatehouse's own logins): this account, or none.
    Known(Option<AccountId>),
    /// Look the `account` text up, as an e-mail key or an account id, at insert.
    Resolve,
}

/// A login event to store.
#[derive(Clone, Debug)]
pub struct NewLoginEvent {
    /// When the attempt happened.
    pub time: Timestamp,
    /// E-mail key, or the id as given.
    pub account: String,
    /// How `account_id` is found.
    pub link: AccountLink,
    /// Client address (canonical text).
    pub ip: String,
    /// User-Agent.
    pub user_agent: Option<String>,
    /// What it came to.
    pub outcome: EventOutcome,
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
    /// Autonomous system number.
    pub asn: Option<u32>,
    /// Where it came from.
    pub origin: EventOrigin,
    /// Keyed digest of the attempted password (own logins only).
    pub password_digest: Option<[u8; 32]>,
    /// Unique per distinct event: a second insert of the same key is skipped.
    pub dedupe_key: [u8; 16],
    /// When Gatehouse received it.
    pub received_at: Timestamp,
}

/// A stored login event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginEvent {
    /// Row id: increases with insertion; with `time`, the scan order.
    pub id: i64,
    /// When the attempt happened.
    pub time: Timestamp,
    /// E-mail key, or the id as given.
    pub account: String,
    /// The Gatehouse account it resolved to, if any.
    pub account_id: Option<AccountId>,
    /// Client address.
    pub ip: String,
    /// User-Agent.
    pub user_agent: Option<String>,
    /// What it came to.
    pub outcome: EventOutcome,
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
    /// Autonomous system number.
    pub asn: Option<u32>,
    /// Where it came from.
    pub origin: EventOrigin,
    /// Keyed digest of the attempted password (own logins only).
    pub password_digest: Option<Vec<u8>>,
    /// When Gatehouse received it.
    pub received_at: Timestamp,
}

impl LoginEvent {
    /// Where a scan that ended at this event goes on from.
    pub fn cursor(&self) -> EventCursor {
        EventCursor {
            time: self.time,
            id: self.id,
        }
    }
}

/// A position in the (time, id) order of events: a scan continues after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventCursor {
    /// Time of the last event seen.
    pub time: Timestamp,
    /// Its id.
    pub id: i64,
}
