//! The audit log's vocabulary and its hash chain.
//!
//! Every security-relevant action is appended with who did it, when and from
//! where. Each entry carries `hash = SHA-256(prev_hash ‖ canonical entry)`, so
//! deleting or editing a past entry breaks every later hash: `gatehouse audit
//! verify` walks the chain and names the first entry that does not fit.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::time::Timestamp;

/// Who performed an action: the one actor type, for the audit log and for
/// campaigns (who created one, who approved it).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Actor {
    /// An end user (their account id), or an anonymous visitor if `None`.
    Account(Option<String>),
    /// An operator (their id).
    Operator(String),
    /// Gatehouse itself (a worker, a rule, the CLI without an operator).
    System,
}

impl Actor {
    /// `(kind, id)` as stored.
    pub fn parts(&self) -> (&'static str, Option<&str>) {
        match self {
            Self::Account(id) => ("account", id.as_deref()),
            Self::Operator(id) => ("operator", Some(id)),
            Self::System => ("system", None),
        }
    }

    /// The one-string form campaigns and incidents keep: `kind:id`, or `kind`.
    pub fn text(&self) -> String {
        match self.parts() {
            (kind, Some(id)) => format!("{kind}:{id}"),
            (kind, None) => kind.to_owned(),
        }
    }

    /// Whether this is an operator (the only kind that may approve a campaign).
    pub fn is_operator(&self) -> bool {
        matches!(self, Self::Operator(_))
    }
}

/// The [`Actor::text`] form read back; anything else is refused, never guessed
/// (a stored actor that does not parse is a corrupt row, not "the system").
impl std::str::FromStr for Actor {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (kind, id) = match s.split_once(':') {
            Some((kind, id)) => (kind, Some(id)),
            None => (s, None),
        };
        match (kind, id) {
            ("system", None) => Ok(Self::System),
            ("account", None) => Ok(Self::Account(None)),
            ("account", Some(id)) if !id.is_empty() => Ok(Self::Account(Some(id.to_owned()))),
            ("operator", Some(id)) if !id.is_empty() => Ok(Self::Operator(id.to_owned())),
            _ => Err(format!(
                "{s:?} is not an actor (system, account[:id] or operator:id)"
            )),
        }
    }
}

/// What happened. The text form is stable: it is stored and searched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)] // the names say it
pub enum AuditAction {
    AccountCreated,
    AccountsImported,
    AccountRekeyed,
    LoginSucceeded,
    LoginFailed,
    LoginThrottled,
    PasswordChanged,
    PasswordRehashed,
    SessionEnded,
    OtherSessionsEnded,
    OperatorCreated,
    RecoveryRequested,
    RecoveryRejected,
    RecoveryCompleted,
    NoticeRetried,
    /// A successful login whose password is in the breach index (exact tier).
    BreachLoginDetected,
    /// The breach index was loaded anew (or a reload failed).
    BreachIndexReloaded,
    /// A batch of login events from an app (API) or a file (import).
    LoginEventsIngested,
    /// A rule was created or edited (a new version).
    RuleChanged,
    /// A rule recorded findings (counts by status in the detail).
    FindingsRecorded,
    /// A leaked-credentials scan ran over a dump (counts in the detail).
    LeakedScanRun,
    /// A remediation campaign was created (with its targets).
    CampaignCreated,
    /// A campaign changed state (preview, approval, start, pause, resume,
    /// completion, abort, undo); the detail says which.
    CampaignTransition,
    /// A campaign reset one account's password (forced reset).
    AccountReset,
    /// A campaign's undo restored one account (or explained why it could not).
    AccountRestored,
    /// The circuit breaker opened (tripped) or was closed by an operator.
    BreakerChanged,
    /// Someone reported a forced-reset notice as unexpected on `/verify`.
    NoticeReported,
    /// A status page component was created or edited.
    StatusComponentChanged,
    /// A status page component was removed.
    StatusComponentRemoved,
    /// An incident draft was written (by an operator or by Gatehouse itself).
    IncidentDrafted,
    /// An incident's wording (title, impact, text, components) was edited.
    IncidentEdited,
    /// A draft incident was made public.
    IncidentPublished,
    /// An update was posted to a public incident.
    IncidentUpdated,
    /// An incident was resolved.
    IncidentResolved,
    /// An incident's postmortem was written or replaced.
    IncidentPostmortem,
    /// Someone asked to subscribe to status updates (a confirmation mail went out).
    StatusSubscribeRequested,
    /// A subscription was confirmed (double opt-in).
    StatusSubscribed,
    /// A subscriber left.
    StatusUnsubscribed,
    /// An operator's console password was set or replaced (their console sessions end).
    OperatorPasswordSet,
    /// An operator signed in to the console.
    OperatorSignedIn,
    /// An operator signed out of the console.
    OperatorSignedOut,
    // OpenID Connect provider (issue 16).
    /// An OIDC client was registered, edited, given a new secret or disabled
    /// (the detail says which).
    OidcClientChanged,
    /// An OIDC signing key was created or retired.
    OidcKeyChanged,
    /// An operator sent a failed back-channel logout token again (issue 17).
    AppDeliveryRetried,
    /// An operator's API key was replaced (the old one stopped working).
    OperatorKeyRotated,
    /// An operator's API key was revoked (no key works until the next rotation).
    OperatorKeyRevoked,
    /// An operator was disabled (key and console refused, console sessions ended).
    OperatorDisabled,
    /// A disabled operator was enabled again.
    OperatorEnabled,
}

impl AuditAction {
    /// Stable text form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AccountCreated => "account.created",
            Self::AccountsImported => "accounts.imported",
            Self::AccountRekeyed => "account.rekeyed",
            Self::LoginSucceeded => "login.succeeded",
            Self::LoginFailed => "login.failed",
            Self::LoginThrottled => "login.throttled",
            Self::PasswordChanged => "password.changed",
            Self::PasswordRehashed => "password.rehashed",
            Self::SessionEnded => "session.ended",
            Self::OtherSessionsEnded => "sessions.others_ended",
            Self::OperatorCreated => "operator.created",
            Self::RecoveryRequested => "recovery.requested",
            Self::RecoveryRejected => "recovery.rejected",
            Self::RecoveryCompleted => "recovery.completed",
            Self::NoticeRetried => "notice.retried",
            Self::BreachLoginDetected => "breach.login_detected",
            Self::BreachIndexReloaded => "breach.index_reloaded",
            Self::LoginEventsIngested => "login_events.ingested",
            Self::RuleChanged => "rule.changed",
            Self::FindingsRecorded => "findings.recorded",
            Self::LeakedScanRun => "scan.leaked",
            Self::CampaignCreated => "campaign.created",
            Self::CampaignTransition => "campaign.transition",
            Self::AccountReset => "account.reset",
            Self::AccountRestored => "account.restored",
            Self::BreakerChanged => "breaker.changed",
            Self::NoticeReported => "notice.reported",
            Self::StatusComponentChanged => "status.component_changed",
            Self::StatusComponentRemoved => "status.component_removed",
            Self::IncidentDrafted => "incident.drafted",
            Self::IncidentEdited => "incident.edited",
            Self::IncidentPublished => "incident.published",
            Self::IncidentUpdated => "incident.updated",
            Self::IncidentResolved => "incident.resolved",
            Self::IncidentPostmortem => "incident.postmortem",
            Self::StatusSubscribeRequested => "status.subscribe_requested",
            Self::StatusSubscribed => "status.subscribed",
            Self::StatusUnsubscribed => "status.unsubscribed",
            Self::OperatorPasswordSet => "operator.password_set",
            Self::OperatorSignedIn => "operator.signed_in",
            Self::OperatorSignedOut => "operator.signed_out",
            Self::OidcClientChanged => "oidc.client_changed",
            Self::OidcKeyChanged => "oidc.key_changed",
            Self::AppDeliveryRetried => "oidc.logout_token_retried",
            Self::OperatorKeyRotated => "operator.key_rotated",
            Self::OperatorKeyRevoked => "operator.key_revoked",
            Self::OperatorDisabled => "operator.disabled",
            Self::OperatorEnabled => "operator.enabled",
        }
    }
}

/// An entry about to be appended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewAuditEntry {
    /// When it happened.
    pub at: Timestamp,
    /// Who did it.
    pub actor: Actor,
    /// What was done.
    pub action: AuditAction,
    /// What it was done to (an account id, a session id…).
    pub target: Option<String>,
    /// The client address, when the action came over the network.
    pub ip: Option<String>,
    /// Extra facts as a JSON object.
    pub detail: serde_json::Value,
}

impl NewAuditEntry {
    /// An entry with no target, address or detail yet.
    pub fn new(at: Timestamp, actor: Actor, action: AuditAction) -> Self {
        Self {
            at,
            actor,
            action,
            target: None,
            ip: None,
            detail: serde_json::Value::Null,
        }
    }

    /// Sets the target.
    pub fn target(mut self, target: impl ToString) -> Self {
        self.target = Some(target.to_string());
        self
    }

    /// Sets the client address.
    pub fn ip(mut self, ip: Option<String>) -> Self {
        self.ip = ip;
        self
    }

    /// Sets the detail object.
    pub fn detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = detail;
        self
    }
}

/// The fields of a stored entry that the chain hash covers.
#[allow(missing_docs)] // fields named for their columns; documented where the name is not enough
pub struct ChainFields<'a> {
    /// Position in the log, from 1.
    pub seq: i64,
    /// Milliseconds since the epoch.
    pub at: i64,
    /// Actor kind.
    pub actor_kind: &'a str,
    /// Actor id.
    pub actor_id: Option<&'a str>,
    /// Action text.
    pub action: &'a str,
    pub target: Option<&'a str>,
    /// Client address.
    pub ip: Option<&'a str>,
    /// Detail as stored (JSON text).
    pub detail: &'a str,
}

/// The hash before the first entry.
pub const GENESIS: [u8; 32] = [0; 32];

/// `SHA-256(prev ‖ fields)`, each field length-prefixed so no two entries encode alike.
pub fn chain_hash(prev: &[u8; 32], f: &ChainFields<'_>) -> [u8; 32] {
    fn field(h: &mut Sha256, v: Option<&str>) {
        match v {
            None => h.update([0u8]),
            Some(s) => {
                h.update([1u8]);
                h.update((s.len() as u64).to_be_bytes());
                h.update(s.as_bytes());
            }
        }
    }
    let mut h = Sha256::new();
    h.update(prev);
    h.update(f.seq.to_be_bytes());
    h.update(f.at.to_be_bytes());
    field(&mut h, Some(f.actor_kind));
    field(&mut h, f.actor_id);
    field(&mut h, Some(f.action));
    field(&mut h, f.target);
    field(&mut h, f.ip);
    field(&mut h, Some(f.detail));
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(seq: i64, target: Option<&str>) -> ChainFields<'_> {
        ChainFields {
            seq,
            at: 1,
            actor_kind: "system",
            actor_id: None,
            action: "account.created",
            target,
            ip: None,
            detail: "null",
        }
    }

    #[test]
    fn chain_depends_on_every_field_and_the_past() {
        let a = chain_hash(&GENESIS, &fields(1, Some("x")));
        assert_ne!(a, chain_hash(&GENESIS, &fields(1, Some("y"))));
        assert_ne!(a, chain_hash(&GENESIS, &fields(1, None)));
        assert_ne!(a, chain_hash(&GENESIS, &fields(2, Some("x"))));
        assert_ne!(a, chain_hash(&[1; 32], &fields(1, Some("x"))));
        assert_eq!(a, chain_hash(&GENESIS, &fields(1, Some("x"))));
        // Length prefixes: moving a character between fields changes the hash.
        let mut f1 = fields(1, Some("ab"));
        f1.ip = Some("c");
        let mut f2 = fields(1, Some("a"));
        f2.ip = Some("bc");
        assert_ne!(chain_hash(&GENESIS, &f1), chain_hash(&GENESIS, &f2));
    }

    #[test]
    fn action_names_are_stable() {
        assert_eq!(AuditAction::LoginFailed.as_str(), "login.failed");
        assert_eq!(Actor::Operator("o".into()).parts(), ("operator", Some("o")));
        assert_eq!(Actor::Operator("o".into()).text(), "operator:o");
        assert_eq!(Actor::System.text(), "system");
        for a in [
            Actor::System,
            Actor::Account(None),
            Actor::Account(Some("a1".into())),
            Actor::Operator("o:with:colons".into()),
        ] {
            assert_eq!(a.text().parse::<Actor>(), Ok(a));
        }
        for bad in ["", "operator", "operator:", "system:x", "admin:1", "System"] {
            assert!(bad.parse::<Actor>().is_err(), "{bad:?} parsed");
        }
    }
}
