//! The public status page: components, incidents, updates and subscribers.
//!
//! The trait and the rows it reads and writes; both engines implement it in
//! `queries/status.rs`.

use async_trait::async_trait;
use gatehouse_domain::audit::NewAuditEntry;
use gatehouse_domain::status::{Impact, IncidentState, SubscriberState};
use gatehouse_domain::{Timestamp, TokenHash};
use serde::Serialize;

use crate::{NewNotice, Result};

/// Builds the status-update notice for one confirmed subscriber (the store
/// reads the subscribers inside the update's transaction and calls it for each).
pub type SubscriberNotice<'a> = &'a (dyn Fn(&StatusSubscriber) -> NewNotice + Send + Sync);

/// Builds the confirmation notice of a subscription, given the subscriber's id
/// (an address asking again keeps its first id).
pub type ConfirmNotice<'a> = &'a (dyn Fn(&str) -> NewNotice + Send + Sync);

/// The public status page: components, incidents and their updates, subscribers.
/// Every operator write appends its audit entry in the same transaction, and an
/// update's notices to subscribers are written in it too.
#[async_trait]
pub trait StatusStore {
    /// Creates or replaces a component.
    async fn put_component(
        &self,
        c: &NewStatusComponent,
        audit: NewAuditEntry,
    ) -> Result<StatusComponent>;

    /// Removes a component (and it from incidents). Returns whether it existed.
    async fn remove_component(&self, id: &str, audit: NewAuditEntry) -> Result<bool>;

    /// Every component, in page order.
    async fn components(&self) -> Result<Vec<StatusComponent>>;

    /// Writes a draft (not public). `NotFound`-like `Conflict` if a component is unknown.
    async fn create_incident(&self, new: &NewIncident, audit: NewAuditEntry) -> Result<Incident>;

    /// Edits an incident's wording. `None` if there is no such incident;
    /// `Conflict` for a draft-only change to a public incident or an unknown component.
    async fn edit_incident(
        &self,
        id: i64,
        edit: &IncidentEdit,
        now: Timestamp,
        audit: NewAuditEntry,
    ) -> Result<Option<Incident>>;

    /// Posts an update (publishing a draft, a progress note or the resolution)
    /// and, in the same transaction, one notice per confirmed subscriber built
    /// by `notice_for`. `None` if there is no such incident; `Conflict` if the
    /// incident's state does not allow it (see `IncidentState::update_allowed`).
    async fn post_incident_update(
        &self,
        id: i64,
        update: &NewIncidentUpdate,
        notice_for: SubscriberNotice<'_>,
        audit: NewAuditEntry,
    ) -> Result<Option<PostedUpdate>>;

    /// Writes (or replaces) the postmortem of a published incident. `None` if
    /// there is no such incident; `Conflict` for a draft.
    async fn set_postmortem(
        &self,
        id: i64,
        text: &str,
        now: Timestamp,
        audit: NewAuditEntry,
    ) -> Result<Option<Incident>>;

    /// One incident, with its updates (drafts included: the caller decides who sees it).
    async fn incident(&self, id: i64) -> Result<Option<Incident>>;

    /// Incidents, newest first (by publication, drafts by creation), with updates.
    async fn incidents(&self, filter: &IncidentFilter) -> Result<Vec<Incident>>;

    /// A subscription request: a new address, or one pending or unsubscribed,
    /// becomes `pending` with the new confirmation digest, and `notice` (the
    /// confirmation mail) and `audit` are written with it. A confirmed address
    /// is left alone and nothing is written. Returns whether a mail was enqueued.
    async fn subscribe(
        &self,
        s: &NewSubscription,
        notice: ConfirmNotice<'_>,
        audit: NewAuditEntry,
    ) -> Result<bool>;

    /// Confirms the pending subscription whose unexpired confirmation digest
    /// this is (the token then stops working). `None` if none matches.
    async fn confirm_subscription(
        &self,
        confirm: &TokenHash,
        now: Timestamp,
        audit: NewAuditEntry,
    ) -> Result<Option<StatusSubscriber>>;

    /// The subscriber an unsubscribe digest belongs to.
    async fn subscriber_by_unsubscribe(
        &self,
        token: &TokenHash,
    ) -> Result<Option<StatusSubscriber>>;

    /// Unsubscribes (idempotent: an unsubscribed subscriber stays so, and no
    /// second audit entry is written). `None` if the digest matches nobody.
    async fn unsubscribe(
        &self,
        token: &TokenHash,
        now: Timestamp,
        audit: NewAuditEntry,
    ) -> Result<Option<StatusSubscriber>>;

    /// Subscribers per state.
    async fn subscriber_counts(&self) -> Result<SubscriberCounts>;
}

/// A part of the service the status page lists.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[allow(missing_docs)] // fields named for their columns; documented where the name is not enough
pub struct StatusComponent {
    /// Stable id (`a-z 0-9 -`).
    pub id: String,
    /// Name shown.
    pub name: String,
    /// One line about it.
    pub description: String,
    /// Sort order (ascending, then by id).
    pub position: i64,
    pub created_at: Timestamp,
    /// Last edited.
    pub updated_at: Timestamp,
}

/// A component to create or replace.
#[derive(Clone, Debug)]
#[allow(missing_docs)] // fields named for their columns; documented where the name is not enough
pub struct NewStatusComponent {
    /// Stable id.
    pub id: String,
    /// Name shown.
    pub name: String,
    /// One line about it.
    pub description: String,
    /// Sort order.
    pub position: i64,
    pub now: Timestamp,
}

/// A new incident draft.
#[derive(Clone, Debug)]
#[allow(missing_docs)] // fields named for their columns; documented where the name is not enough
pub struct NewIncident {
    pub title: String,
    pub impact: Impact,
    /// The text (becomes the first update when published).
    pub body: String,
    /// Facts for operators from whoever drafted it (e.g. the breaker); never public.
    pub figures: Option<serde_json::Value>,
    /// Components affected (must exist).
    pub components: Vec<String>,
    /// `operator:<id>` or `system`.
    pub created_by: String,
    pub now: Timestamp,
}

/// Wording changes to an incident; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct IncidentEdit {
    /// New title.
    pub title: Option<String>,
    /// New impact.
    pub impact: Option<Impact>,
    /// New draft text (drafts only: a public incident's history is its updates).
    pub body: Option<String>,
    /// New set of affected components.
    pub components: Option<Vec<String>>,
}

/// An update to post (publishing a draft, a progress note, or the resolution).
#[derive(Clone, Debug)]
#[allow(missing_docs)] // fields named for their columns; documented where the name is not enough
pub struct NewIncidentUpdate {
    /// The state the incident moves to.
    pub state: IncidentState,
    /// What people are told.
    pub body: String,
    /// `operator:<id>` or `system`.
    pub author: String,
    pub at: Timestamp,
    /// Whether this update publishes a draft (only drafts can be published,
    /// and a draft can only be published).
    pub publish: bool,
}

/// One posted update.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[allow(missing_docs)] // fields named for their columns; documented where the name is not enough
pub struct IncidentUpdate {
    pub id: i64,
    /// State the incident moved to.
    pub state: IncidentState,
    pub body: String,
    pub at: Timestamp,
    pub author: String,
}

/// An incident with its updates (oldest first) and components.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[allow(missing_docs)] // fields named for their columns; documented where the name is not enough
pub struct Incident {
    pub id: i64,
    pub title: String,
    pub state: IncidentState,
    pub impact: Impact,
    /// Draft text (the first update once published).
    pub body: String,
    /// Figures from whoever drafted it; never public.
    pub figures: Option<serde_json::Value>,
    /// Postmortem, if written.
    pub postmortem: Option<String>,
    /// Affected components' ids.
    pub components: Vec<String>,
    pub created_at: Timestamp,
    /// By whom.
    pub created_by: String,
    /// Last change.
    pub updated_at: Timestamp,
    /// Made public.
    pub published_at: Option<Timestamp>,
    pub resolved_at: Option<Timestamp>,
    /// Updates, oldest first.
    pub updates: Vec<IncidentUpdate>,
}

/// Which incidents to list.
#[derive(Clone, Debug)]
pub struct IncidentFilter {
    /// Include drafts (operators only).
    pub drafts: bool,
    /// Only incidents still open or resolved at or after this time.
    pub resolved_since: Option<Timestamp>,
    /// Most incidents (newest first).
    pub limit: i64,
}

/// What a posted update did.
#[derive(Clone, Debug)]
pub struct PostedUpdate {
    /// The incident after the update.
    pub incident: Incident,
    /// Status-update notices enqueued (one per confirmed subscriber).
    pub notices: u64,
}

/// A status-page subscriber.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[allow(missing_docs)] // fields named for their columns; documented where the name is not enough
pub struct StatusSubscriber {
    pub id: String,
    /// Address as given.
    pub email: String,
    pub state: SubscriberState,
    pub created_at: Timestamp,
    pub confirmed_at: Option<Timestamp>,
    pub unsubscribed_at: Option<Timestamp>,
}

/// A subscription request.
#[derive(Clone, Debug)]
#[allow(missing_docs)] // fields named for their columns; documented where the name is not enough
pub struct NewSubscription {
    /// Id for a new subscriber (an existing one keeps its id).
    pub id: String,
    /// Address as given.
    pub email: String,
    /// Its lower-cased key.
    pub email_key: String,
    /// Digest of the confirmation token.
    pub confirm_hash: TokenHash,
    /// Until when the confirmation link works.
    pub confirm_expires_at: Timestamp,
    /// Digest of the unsubscribe token derived from `id` (kept by an existing subscriber).
    pub unsubscribe_hash: TokenHash,
    pub now: Timestamp,
}

/// Subscribers per state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[allow(missing_docs)] // fields named for their columns; documented where the name is not enough
pub struct SubscriberCounts {
    /// Waiting for confirmation.
    pub pending: i64,
    /// Getting updates.
    pub confirmed: i64,
    pub unsubscribed: i64,
}
