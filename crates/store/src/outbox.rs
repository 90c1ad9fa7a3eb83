//! The notice outbox: enqueue with a state change, claim with a lease, settle.
//!
//! The trait and the rows it reads and writes; both engines implement it in
//! `queries/outbox.rs`.

use std::time::Duration;

use async_trait::async_trait;
use gatehouse_domain::audit::NewAuditEntry;
use gatehouse_domain::{AccountId, NoticeId, NoticeKind, Timestamp};
use serde::Serialize;

use crate::Result;

pub(crate) mod recipients;

/// The notice outbox: enqueue with a state change, claim with a lease, settle.
#[async_trait]
pub trait OutboxStore {
    /// Enqueues a notice on its own (with an audit entry if given). Returns
    /// `false` if a notice with the same idempotency key exists already.
    async fn enqueue_notice(
        &self,
        notice: &NewNotice,
        audit: Option<NewAuditEntry>,
    ) -> Result<bool>;

    /// Leases due notices (pending and due, or sending with an expired lease)
    /// for sending, applying the per-recipient cap: a notice over the cap is
    /// held, and pending notices of its kind to that address merge into the
    /// newest. Expired notices are marked so. Commits before returning: the
    /// caller sends outside any transaction.
    async fn claim_notices(&self, policy: &ClaimPolicy) -> Result<ClaimReport>;

    /// Marks leased notices sent and clears their payloads, in one statement
    /// (the delivery worker settles what its connections finished together).
    /// Returns the ids that were marked; an id missing from it had lost its lease.
    async fn notices_sent(
        &self,
        ids: &[NoticeId],
        lease_id: &str,
        now: Timestamp,
    ) -> Result<Vec<NoticeId>>;

    /// [`notices_sent`](Self::notices_sent) for one notice. `false` if the lease was lost.
    async fn notice_sent(&self, id: NoticeId, lease_id: &str, now: Timestamp) -> Result<bool> {
        Ok(!self.notices_sent(&[id], lease_id, now).await?.is_empty())
    }

    /// Puts a leased notice back for a retry at `next_attempt_at`, recording the error.
    async fn notice_retry(
        &self,
        id: NoticeId,
        lease_id: &str,
        next_attempt_at: Timestamp,
        error: &str,
    ) -> Result<bool>;

    /// Marks a leased notice failed for good with the server's answer.
    async fn notice_failed(&self, id: NoticeId, lease_id: &str, error: &str) -> Result<bool>;

    /// Notices, newest first.
    async fn notices(&self, filter: &NoticeFilter) -> Result<Vec<Notice>>;

    /// The notice with this reference.
    async fn notice_by_reference(&self, reference: &str) -> Result<Option<Notice>>;

    /// Sends a failed notice again (pending, attempts reset). `false` if it was not failed.
    async fn retry_failed_notice(
        &self,
        id: NoticeId,
        now: Timestamp,
        audit: NewAuditEntry,
    ) -> Result<bool>;

    /// Notices per state.
    async fn outbox_counts(&self) -> Result<Vec<(NoticeState, i64)>>;

    /// The earliest `next_attempt_at` among pending notices (when to wake up next).
    async fn next_notice_due(&self) -> Result<Option<Timestamp>>;

    /// Clears the payload (which may hold a code) of notices that will not be
    /// sent any more or were created before `before`, and forgets cap rows
    /// unused since then. Returns how many payloads were cleared.
    async fn purge_notice_payloads(&self, before: Timestamp) -> Result<u64>;
}

/// A notice to put in the outbox (in the transaction of the change it reports).
#[derive(Clone, Debug)]
#[allow(missing_docs)] // fields named for their columns; documented where the name is not enough
pub struct NewNotice {
    /// New id.
    pub id: NoticeId,
    /// Public reference (`GH-XXXX-XXXX`).
    pub reference: String,
    /// Writing the same key twice yields one notice.
    pub idempotency_key: String,
    /// What it is.
    pub kind: NoticeKind,
    /// The account it is about, if any.
    pub account: Option<AccountId>,
    /// Address to send to.
    pub recipient: String,
    /// Lower-cased address: the per-recipient cap counts by this.
    pub recipient_key: String,
    /// Facts the templates need (may hold a recovery code until sent).
    pub payload: serde_json::Value,
    /// `Message-ID` header value, fixed at enqueue so a re-send repeats it.
    pub message_id: String,
    pub created_at: Timestamp,
    /// After this the notice is pointless (its code expired): not sent.
    pub expires_at: Option<Timestamp>,
}

/// Where a notice is in its delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeState {
    /// Waiting to be sent (or to be retried).
    Pending,
    /// Leased by a worker that is sending it now.
    Sending,
    /// Accepted by the mail server.
    Sent,
    /// Refused for good (a 5xx answer, or retries exhausted); an operator may retry.
    Failed,
    /// Merged into a later notice of the same kind (per-recipient cap).
    Coalesced,
    /// Its content ran out (e.g. the recovery code expired) before it could be sent.
    Expired,
}

impl NoticeState {
    /// Every state.
    pub const ALL: [Self; 6] = [
        Self::Pending,
        Self::Sending,
        Self::Sent,
        Self::Failed,
        Self::Coalesced,
        Self::Expired,
    ];

    /// Stable text form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Failed => "failed",
            Self::Coalesced => "coalesced",
            Self::Expired => "expired",
        }
    }
}

impl std::str::FromStr for NoticeState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown notice state {s:?} (one of: {})",
                    Self::ALL.map(Self::as_str).join(", ")
                )
            })
    }
}

/// A stored notice, without its payload (which may hold a code).
#[derive(Clone, Debug, Serialize)]
#[allow(missing_docs)] // fields named for their columns; documented where the name is not enough
pub struct Notice {
    pub id: NoticeId,
    /// Public reference.
    pub reference: String,
    pub kind: NoticeKind,
    /// Account, if any.
    pub account: Option<AccountId>,
    /// Recipient address.
    pub recipient: String,
    /// Delivery state.
    pub state: NoticeState,
    /// Delivery attempts so far.
    pub attempts: i64,
    /// When the next attempt is due (pending rows).
    pub next_attempt_at: Timestamp,
    /// The mail server's last answer, or why the notice failed.
    pub last_error: Option<String>,
    /// The notice this one was merged into.
    pub coalesced_into: Option<NoticeId>,
    /// How many earlier notices were merged into this one.
    pub coalesced_count: i64,
    pub created_at: Timestamp,
    /// Accepted by the mail server.
    pub sent_at: Option<Timestamp>,
    /// Pointless after this.
    pub expires_at: Option<Timestamp>,
    /// `Message-ID` header.
    pub message_id: String,
}

/// A notice leased to a worker for sending.
#[derive(Clone, Debug)]
pub struct ClaimedNotice {
    /// The row.
    pub notice: Notice,
    /// Template facts.
    pub payload: serde_json::Value,
}

/// How a worker claims notices.
#[derive(Clone, Debug)]
#[allow(missing_docs)] // fields named for their columns; documented where the name is not enough
pub struct ClaimPolicy {
    pub now: Timestamp,
    /// This claim's lease id: only its holder may settle the rows.
    pub lease_id: String,
    /// How long the lease lasts; past it, another worker may re-send.
    pub lease: Duration,
    /// Most rows per claim.
    pub limit: i64,
    /// Most notices sent to one address per `cap_window`.
    pub cap_per_recipient: i64,
    /// The cap's sliding window (24 h).
    pub cap_window: Duration,
    /// Most status-page notices (any replica) per hour: their own budget, claimed
    /// only after every due security notice (see [`NoticeKind::is_status`]).
    pub status_per_hour: i64,
}

/// What one claim did.
#[derive(Clone, Debug, Default)]
pub struct ClaimReport {
    /// Leased for sending now.
    pub claimed: Vec<ClaimedNotice>,
    /// Held back by the per-recipient cap (reference, recipient, merged so far).
    pub held: Vec<(String, String, i64)>,
    /// Rows merged into a later one by this claim.
    pub coalesced: u64,
    /// Rows that ran out before sending.
    pub expired: u64,
    /// Status-page notices moved later because the status budget is spent.
    pub status_deferred: u64,
}

/// Which notices to list.
#[derive(Clone, Debug, Default)]
pub struct NoticeFilter {
    /// Only this state.
    pub state: Option<NoticeState>,
    /// Only this account.
    pub account: Option<AccountId>,
    /// Most rows (newest first).
    pub limit: i64,
}
