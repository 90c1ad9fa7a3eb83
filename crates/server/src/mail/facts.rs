//! What each kind of notice states: one type per [`NoticeKind`], so a notice
//! that lacks a fact its mail needs cannot be written (it does not compile),
//! rather than failing at delivery hours later.
//!
//! Stored with the notice in the outbox as a flat JSON object; the kind has its
//! own column and decides how the object is read ([`NoticeFacts::from_payload`]).
//! The keys are those of the one all-optional struct earlier versions wrote,
//! and reading keeps that version's meaning, so notices queued before an
//! upgrade still go out with the same words:
//! - a fact it required (a code, a reason…) is required here, and a payload
//!   without it fails with the same words ("forced_reset notice without a code");
//! - a fact it filled in when absent (`expires_minutes` 30, `via`, …) is a plain
//!   field here that every writer sets, read with the same default.
//!
//! The store scrubs a sent notice's payload as a whole (codes and tokens do not
//! outlive delivery); a scrubbed payload reads as "no stored facts".

use gatehouse_domain::NoticeKind;
use gatehouse_domain::status::{Impact, IncidentState};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// When and from where the person's own action came (request address and
/// approximate device), for notices about something someone just did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Occasion {
    /// When the event happened (RFC 3339).
    pub at: String,
    /// From which address, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// Approximate device ("Firefox on Windows").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
}

/// Defaults the previous, all-optional reader applied; kept for rows it wrote.
fn thirty_minutes() -> u64 {
    30
}
fn account_settings() -> String {
    "your account settings".into()
}
fn still_works_default() -> bool {
    true
}
fn not_recorded() -> String {
    "not recorded".into()
}

/// [`NoticeKind::Recovery`]: the code someone asked for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryFacts {
    /// When and from where it was asked for.
    #[serde(flatten)]
    pub occasion: Occasion,
    /// The code, display form (`XXXX-XXXX`).
    pub code: String,
    /// Link token, when the operator allows links in recovery mail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// How long the code works.
    #[serde(default = "thirty_minutes")]
    pub expires_minutes: u64,
}

/// [`NoticeKind::PasswordChanged`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordChangedFacts {
    /// When and from where it was changed.
    #[serde(flatten)]
    pub occasion: Occasion,
    /// How ("your account settings", "password recovery").
    #[serde(default = "account_settings")]
    pub via: String,
}

/// [`NoticeKind::ForcedReset`]: Gatehouse reset the password (a campaign).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForcedResetFacts {
    /// When it was reset (RFC 3339).
    pub at: String,
    /// The code to set a new password with, display form.
    pub code: String,
    /// Link token; the template shows a link when there is one and the
    /// operator allows links for this kind (no writer creates one today).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// How long the code works.
    #[serde(default = "thirty_minutes")]
    pub expires_minutes: u64,
    /// Why, in words the account holder can follow.
    pub reason: String,
}

/// [`NoticeKind::Correction`]: an earlier notice was sent in error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorrectionFacts {
    /// When (RFC 3339).
    pub at: String,
    /// The reference of the notice it corrects.
    pub corrects: String,
    /// Why the earlier notice was wrong, if said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Whether the old password works again.
    #[serde(default = "still_works_default")]
    pub still_works: bool,
}

/// [`NoticeKind::StatusConfirm`]: confirm a status subscription (double opt-in).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusConfirmFacts {
    /// When and from where someone subscribed the address.
    #[serde(flatten)]
    pub occasion: Occasion,
    /// The confirmation token (the link's only content).
    pub token: String,
    /// How long the link works.
    #[serde(default = "thirty_minutes")]
    pub expires_minutes: u64,
}

/// [`NoticeKind::StatusUpdate`]: an incident was published or updated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusUpdateFacts {
    /// When it was posted (RFC 3339).
    pub at: String,
    /// The incident's title.
    pub incident_title: String,
    /// The state it moved to (`investigating`…), as stored words: the mail says
    /// "Update" for one it does not know.
    #[serde(default)]
    pub incident_state: String,
    /// The incident's impact (`minor`…), if the incident was found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impact: Option<String>,
    /// What the operators wrote.
    pub update: String,
    /// The subscriber's one-click unsubscribe token.
    pub unsubscribe: String,
}

impl StatusUpdateFacts {
    /// The facts of one subscriber's copy of an update.
    pub fn new(
        at: String,
        title: String,
        state: IncidentState,
        impact: Option<Impact>,
        update: String,
        unsubscribe: String,
    ) -> Self {
        Self {
            at,
            incident_title: title,
            incident_state: state.as_str().to_owned(),
            impact: impact.map(|i| i.as_str().to_owned()),
            update,
            unsubscribe,
        }
    }
}

/// [`NoticeKind::BreakerTripped`]: the alert to an operator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakerTrippedFacts {
    /// When it tripped (RFC 3339).
    pub at: String,
    /// Why it tripped.
    pub reason: String,
    /// Who tripped it, in words.
    #[serde(default = "not_recorded")]
    pub tripped_by: String,
    /// Forced resets in the trailing hour at the trip.
    #[serde(default)]
    pub resets_last_hour: i64,
    /// In the trailing day.
    #[serde(default)]
    pub resets_last_day: i64,
    /// Automatic campaigns the trip paused.
    #[serde(default)]
    pub campaigns_paused: u64,
}

/// The facts a notice states, one variant per [`NoticeKind`].
///
/// Serialises to the variant's own flat object (no tag: the kind is stored in
/// its own column).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum NoticeFacts {
    /// See [`RecoveryFacts`].
    Recovery(RecoveryFacts),
    /// See [`PasswordChangedFacts`].
    PasswordChanged(PasswordChangedFacts),
    /// See [`ForcedResetFacts`].
    ForcedReset(ForcedResetFacts),
    /// See [`CorrectionFacts`].
    Correction(CorrectionFacts),
    /// See [`StatusConfirmFacts`].
    StatusConfirm(StatusConfirmFacts),
    /// See [`StatusUpdateFacts`].
    StatusUpdate(StatusUpdateFacts),
    /// See [`BreakerTrippedFacts`].
    BreakerTripped(BreakerTrippedFacts),
}

/// Why a stored payload is not the facts of its kind. Permanent: the same
/// payload never reads differently, so the notice is marked failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FactsError(pub String);

impl NoticeFacts {
    /// The kind these facts are for.
    pub fn kind(&self) -> NoticeKind {
        match self {
            Self::Recovery(_) => NoticeKind::Recovery,
            Self::PasswordChanged(_) => NoticeKind::PasswordChanged,
            Self::ForcedReset(_) => NoticeKind::ForcedReset,
            Self::Correction(_) => NoticeKind::Correction,
            Self::StatusConfirm(_) => NoticeKind::StatusConfirm,
            Self::StatusUpdate(_) => NoticeKind::StatusUpdate,
            Self::BreakerTripped(_) => NoticeKind::BreakerTripped,
        }
    }

    /// When the event happened (RFC 3339).
    pub fn at(&self) -> &str {
        match self {
            Self::Recovery(f) => &f.occasion.at,
            Self::PasswordChanged(f) => &f.occasion.at,
            Self::StatusConfirm(f) => &f.occasion.at,
            Self::ForcedReset(f) => &f.at,
            Self::Correction(f) => &f.at,
            Self::StatusUpdate(f) => &f.at,
            Self::BreakerTripped(f) => &f.at,
        }
    }

    /// Where the person's action came from, for the kinds that say so.
    pub fn occasion(&self) -> Option<&Occasion> {
        match self {
            Self::Recovery(f) => Some(&f.occasion),
            Self::PasswordChanged(f) => Some(&f.occasion),
            Self::StatusConfirm(f) => Some(&f.occasion),
            Self::ForcedReset(_)
            | Self::Correction(_)
            | Self::StatusUpdate(_)
            | Self::BreakerTripped(_) => None,
        }
    }

    /// The JSON stored in the outbox.
    pub fn payload(&self) -> serde_json::Value {
        // Strings, integers and booleans only: serialising cannot fail.
        serde_json::to_value(self).expect("notice facts serialise to JSON")
    }

    /// Reads a stored payload as the facts of `kind`.
    pub fn from_payload(kind: NoticeKind, payload: &serde_json::Value) -> Result<Self, FactsError> {
        if payload.is_null() {
            return Err(FactsError(format!(
                "the {kind} notice's stored facts are gone (a sent, expired or purged notice keeps none); it cannot be rendered"
            )));
        }
        Ok(match kind {
            NoticeKind::Recovery => Self::Recovery(read(kind, payload)?),
            NoticeKind::PasswordChanged => Self::PasswordChanged(read(kind, payload)?),
            NoticeKind::ForcedReset => Self::ForcedReset(read(kind, payload)?),
            NoticeKind::Correction => Self::Correction(read(kind, payload)?),
            NoticeKind::StatusConfirm => Self::StatusConfirm(read(kind, payload)?),
            NoticeKind::StatusUpdate => Self::StatusUpdate(read(kind, payload)?),
            NoticeKind::BreakerTripped => Self::BreakerTripped(read(kind, payload)?),
        })
    }
}

/// A required fact in the words the notice errors have always used.
fn fact_in_words(key: &str) -> String {
    match key {
        "at" => "the time of the event".into(),
        "code" => "a code".into(),
        "reason" => "a reason".into(),
        "corrects" => "the reference it corrects".into(),
        "token" => "a token".into(),
        "incident_title" => "an incident title".into(),
        "update" => "the update's text".into(),
        "unsubscribe" => "an unsubscribe token".into(),
        other => format!("its {other:?}"),
    }
}

fn read<T: DeserializeOwned>(
    kind: NoticeKind,
    payload: &serde_json::Value,
) -> Result<T, FactsError> {
    serde_path_to_error::deserialize(payload).map_err(|e| {
        let inner = e.inner().to_string();
        // serde's wording for an absent field is "missing field `name`".
        if let Some(rest) = inner.strip_prefix("missing field `")
            && let Some(key) = rest.split('`').next()
        {
            return FactsError(format!("{kind} notice without {}", fact_in_words(key)));
        }
        let path = e.path().to_string();
        if path.is_empty() || path == "." {
            FactsError(format!("{kind} notice with unreadable facts: {inner}"))
        } else {
            FactsError(format!(
                "{kind} notice with an unreadable {path:?}: {inner}"
            ))
        }
    })
}

/// Literal payloads as the previous version wrote them, one per kind (from its
/// enqueue sites), for the tests here and in [`super::render`].
#[cfg(test)]
pub(crate) mod examples {
    use serde_json::{Value, json};

    /// `recovery::request_recovery` (link allowed: with a token).
    pub fn recovery() -> Value {
        json!({"at": "2026-11-26T14:03:00Z", "ip": "192.0.2.44", "device": "Firefox on Windows",
               "code": "7K3Q-9XMD", "token": "ghr_TOKEN", "expires_minutes": 30})
    }
    /// `accounts::change_password` / `recovery::complete_recovery`.
    pub fn password_changed() -> Value {
        json!({"at": "2026-11-26T14:03:00Z", "ip": "192.0.2.44", "device": "Firefox on Windows",
               "via": "password recovery"})
    }
    /// `campaigns::apply_one` (no address or device: Gatehouse acted).
    pub fn forced_reset() -> Value {
        json!({"at": "2026-11-26T14:03:00Z", "code": "ABCD-1234", "expires_minutes": 1440,
               "reason": "your password appeared in a list of passwords stolen from another site"})
    }
    /// `undo::undo_page`, the first of the two.
    pub fn correction() -> Value {
        json!({"at": "2026-11-26T14:03:00Z", "corrects": "GH-EEEE-FFFF",
               "reason": "a faulty rule flagged accounts that were never at risk", "still_works": true})
    }
    /// `status::subscribe`.
    pub fn status_confirm() -> Value {
        json!({"at": "2026-11-26T14:03:00Z", "ip": "192.0.2.44", "device": "Firefox on Windows",
               "token": "ghc_CONFIRM", "expires_minutes": 2880})
    }
    /// `status::post_update`, one subscriber's copy.
    pub fn status_update() -> Value {
        json!({"at": "2026-11-26T14:03:00Z", "incident_title": "Sign-in is slow",
               "incident_state": "identified", "impact": "minor",
               "update": "A database replica is lagging; we are moving traffic away from it.",
               "unsubscribe": "ghx_UNSUB"})
    }
    /// `campaigns::breaker_alerts`.
    pub fn breaker_tripped() -> Value {
        json!({"at": "2026-11-26T14:03:00Z",
               "reason": "reset budget used up (50 in the last hour of 50, 60 in the last day of 100)",
               "tripped_by": "Gatehouse itself (an automatic guardrail)",
               "resets_last_hour": 50, "resets_last_day": 60, "campaigns_paused": 1})
    }

    /// Every example with its kind.
    pub fn all() -> Vec<(gatehouse_domain::NoticeKind, Value)> {
        use gatehouse_domain::NoticeKind as K;
        vec![
            (K::Recovery, recovery()),
            (K::PasswordChanged, password_changed()),
            (K::ForcedReset, forced_reset()),
            (K::Correction, correction()),
            (K::StatusConfirm, status_confirm()),
            (K::StatusUpdate, status_update()),
            (K::BreakerTripped, breaker_tripped()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn todays_payloads_read_and_write_back_unchanged() {
        for (kind, payload) in examples::all() {
            let facts =
                NoticeFacts::from_payload(kind, &payload).unwrap_or_else(|e| panic!("{kind}: {e}"));
            assert_eq!(facts.kind(), kind);
            // New notices are stored in the very shape the previous version wrote.
            assert_eq!(facts.payload(), payload, "{kind}");
        }
        assert_eq!(
            NoticeKind::ALL.len(),
            examples::all().len(),
            "an example per kind"
        );
    }

    #[test]
    fn defaults_of_the_previous_reader_are_kept() {
        let f = NoticeFacts::from_payload(NoticeKind::Recovery, &json!({"at": "t", "code": "C"}))
            .unwrap();
        let NoticeFacts::Recovery(r) = f else {
            panic!()
        };
        assert_eq!(
            (r.expires_minutes, r.token, r.occasion.ip),
            (30, None, None)
        );
        let NoticeFacts::PasswordChanged(p) =
            NoticeFacts::from_payload(NoticeKind::PasswordChanged, &json!({"at": "t"})).unwrap()
        else {
            panic!()
        };
        assert_eq!(p.via, "your account settings");
        let NoticeFacts::Correction(c) = NoticeFacts::from_payload(
            NoticeKind::Correction,
            &json!({"at": "t", "corrects": "GH-AAAA-BBBB"}),
        )
        .unwrap() else {
            panic!()
        };
        assert!(c.still_works && c.reason.is_none());
        let NoticeFacts::BreakerTripped(b) = NoticeFacts::from_payload(
            NoticeKind::BreakerTripped,
            &json!({"at": "t", "reason": "r"}),
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(
            (
                b.tripped_by.as_str(),
                b.resets_last_hour,
                b.resets_last_day,
                b.campaigns_paused
            ),
            ("not recorded", 0, 0, 0)
        );
        // Keys of other kinds (the old struct was shared) are ignored, as before.
        let mut extra = examples::password_changed();
        extra["code"] = json!("ABCD-1234");
        assert!(NoticeFacts::from_payload(NoticeKind::PasswordChanged, &extra).is_ok());
    }

    #[test]
    fn a_payload_that_does_not_fit_its_kind_says_what_is_missing() {
        let cases = [
            (
                NoticeKind::Recovery,
                "code",
                "recovery notice without a code",
            ),
            (
                NoticeKind::ForcedReset,
                "code",
                "forced_reset notice without a code",
            ),
            (
                NoticeKind::ForcedReset,
                "reason",
                "forced_reset notice without a reason",
            ),
            (
                NoticeKind::Correction,
                "corrects",
                "correction notice without the reference it corrects",
            ),
            (
                NoticeKind::StatusConfirm,
                "token",
                "status_confirm notice without a token",
            ),
            (
                NoticeKind::StatusUpdate,
                "incident_title",
                "status_update notice without an incident title",
            ),
            (
                NoticeKind::StatusUpdate,
                "update",
                "status_update notice without the update's text",
            ),
            (
                NoticeKind::StatusUpdate,
                "unsubscribe",
                "status_update notice without an unsubscribe token",
            ),
            (
                NoticeKind::BreakerTripped,
                "reason",
                "breaker_tripped notice without a reason",
            ),
            (
                NoticeKind::PasswordChanged,
                "at",
                "password_changed notice without the time of the event",
            ),
        ];
        for (kind, key, words) in cases {
            let mut payload = examples::all()
                .into_iter()
                .find(|(k, _)| *k == kind)
                .unwrap()
                .1;
            payload.as_object_mut().unwrap().remove(key);
            let err = NoticeFacts::from_payload(kind, &payload).unwrap_err();
            assert_eq!(err.to_string(), words);
        }
        // A wrong type names the fact; a forced reset's payload is not a recovery's.
        let mut bad = examples::forced_reset();
        bad["expires_minutes"] = json!("soon");
        let err = NoticeFacts::from_payload(NoticeKind::ForcedReset, &bad).unwrap_err();
        assert!(err.to_string().contains("expires_minutes"), "{err}");
        assert!(err.to_string().starts_with("forced_reset notice"), "{err}");
        let err = NoticeFacts::from_payload(NoticeKind::Correction, &examples::forced_reset())
            .unwrap_err();
        assert!(
            err.to_string().contains("the reference it corrects"),
            "{err}"
        );
        for payload in [serde_json::Value::Null, json!([1, 2]), json!("text")] {
            let err = NoticeFacts::from_payload(NoticeKind::Recovery, &payload).unwrap_err();
            assert!(err.to_string().contains("recovery notice"), "{err}");
        }
    }
}
