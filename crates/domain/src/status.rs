//! The public status page's vocabulary: incident states, impact levels, and
//! the rules of an incident's life.
//!
//! ```text
//!   draft ──publish──▶ investigating ─▶ identified ─▶ monitoring ─▶ resolved
//!     (not public)         │  ▲            │  ▲           │
//!                          └──┴────────────┴──┴───────────┘  any order, forward or back,
//!                                                            until resolved (final)
//! ```
//!
//! A draft (written by an operator, or later by the circuit breaker) is never
//! public; only an operator publishes it, in one of the open states. Resolved
//! is final: a new problem is a new incident, so the history stays honest.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::finding::text_enum;

text_enum!(
    /// Where an incident stands.
    IncidentState, "incident state" {
        /// Written but not public (an operator must publish it).
        Draft => "draft",
        /// Something is wrong and being looked into.
        Investigating => "investigating",
        /// The cause is known.
        Identified => "identified",
        /// A fix is in place and being watched.
        Monitoring => "monitoring",
        /// Over.
        Resolved => "resolved",
    }
);

text_enum!(
    /// How badly an incident affects people.
    Impact, "impact" {
        /// Nothing visible (a notice, maintenance).
        None => "none",
        /// Some people or some features, degraded.
        Minor => "minor",
        /// Many people, or an important feature down.
        Major => "major",
        /// The service is down or unsafe for everyone.
        Critical => "critical",
    }
);

text_enum!(
    /// Where a status-page subscriber stands (double opt-in).
    SubscriberState, "subscriber state" {
        /// Asked to subscribe; the confirmation mail's link has not been used yet.
        Pending => "pending",
        /// Confirmed: gets status updates.
        Confirmed => "confirmed",
        /// Left (one click in any update mail); gets nothing.
        Unsubscribed => "unsubscribed",
    }
);

impl IncidentState {
    /// States an incident can be moved to by an update (every public state).
    pub const PUBLIC: [Self; 4] = [
        Self::Investigating,
        Self::Identified,
        Self::Monitoring,
        Self::Resolved,
    ];

    /// Whether an incident in this state may move to `next` with an update.
    /// A draft only by publishing (into an open state); a resolved incident
    /// never; an open one to any public state.
    pub fn update_allowed(self, next: Self, publishing: bool) -> Result<(), TransitionError> {
        match (self, next) {
            (_, Self::Draft) => Err(TransitionError::BackToDraft),
            (Self::Resolved, _) => Err(TransitionError::Resolved),
            (Self::Draft, _) if !publishing => Err(TransitionError::NotPublished),
            (Self::Draft, Self::Resolved) => Err(TransitionError::PublishResolved),
            (s, _) if s != Self::Draft && publishing => Err(TransitionError::AlreadyPublished),
            _ => Ok(()),
        }
    }

    /// Words for people ("Investigating").
    pub fn label(self) -> &'static str {
        match self {
            Self::Draft => "Draft",
            Self::Investigating => "Investigating",
            Self::Identified => "Identified",
            Self::Monitoring => "Monitoring",
            Self::Resolved => "Resolved",
        }
    }
}

impl Impact {
    /// Words for people.
    pub fn label(self) -> &'static str {
        match self {
            Self::None => "No impact",
            Self::Minor => "Minor impact",
            Self::Major => "Major impact",
            Self::Critical => "Critical impact",
        }
    }

    /// Severity order, for "the worst open incident decides a component's state".
    pub fn rank(self) -> u8 {
        match self {
            Self::None => 0,
            Self::Minor => 1,
            Self::Major => 2,
            Self::Critical => 3,
        }
    }
}

/// Why an incident cannot move as asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransitionError {
    /// Updates only go to public states.
    BackToDraft,
    /// Resolved is final.
    Resolved,
    /// A draft is published first.
    NotPublished,
    /// Publishing opens an incident.
    PublishResolved,
    /// Only drafts are published.
    AlreadyPublished,
}

impl TransitionError {
    /// The reason, for people (static: the store reports it as a conflict).
    pub fn message(self) -> &'static str {
        match self {
            Self::BackToDraft => "an incident cannot go back to draft",
            Self::Resolved => "the incident is resolved; open a new one for a new problem",
            Self::NotPublished => "the incident is a draft; publish it first",
            Self::PublishResolved => {
                "a draft is published as investigating, identified or monitoring, not resolved"
            }
            Self::AlreadyPublished => "the incident is already published",
        }
    }
}

impl fmt::Display for TransitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for TransitionError {}

/// Limits on what operators write, checked at the edge.
pub mod limits {
    /// Longest incident title, in characters.
    pub const TITLE: usize = 200;
    /// Longest update or postmortem text, in characters.
    pub const BODY: usize = 20_000;
    /// Longest component name.
    pub const COMPONENT_NAME: usize = 100;
}

/// A component's id: 1 to 64 of `a-z 0-9 -` (it appears in CLI commands and URLs).
pub fn valid_component_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Checks operator text that may span lines: trimmed, non-empty, at most `max`
/// characters, no control characters besides newlines and tabs. Returns the
/// trimmed text. (See [`crate::text`]; titles and names use
/// [`crate::text::one_line`].)
pub fn clean_text(s: &str, max: usize) -> Result<String, String> {
    crate::text::multi_line(s, max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use IncidentState::*;

    #[test]
    fn lifecycle() {
        assert_eq!(Draft.update_allowed(Investigating, true), Ok(()));
        assert_eq!(Draft.update_allowed(Monitoring, true), Ok(()));
        assert_eq!(
            Draft.update_allowed(Investigating, false),
            Err(TransitionError::NotPublished)
        );
        assert_eq!(
            Draft.update_allowed(Resolved, true),
            Err(TransitionError::PublishResolved)
        );
        assert_eq!(
            Investigating.update_allowed(Identified, true),
            Err(TransitionError::AlreadyPublished)
        );
        for from in [Investigating, Identified, Monitoring] {
            for to in IncidentState::PUBLIC {
                assert_eq!(from.update_allowed(to, false), Ok(()), "{from} → {to}");
            }
            assert_eq!(
                from.update_allowed(Draft, false),
                Err(TransitionError::BackToDraft)
            );
        }
        for to in IncidentState::PUBLIC {
            assert_eq!(
                Resolved.update_allowed(to, false),
                Err(TransitionError::Resolved)
            );
        }
    }

    #[test]
    fn text_forms_round_trip() {
        for s in [Draft, Investigating, Identified, Monitoring, Resolved] {
            assert_eq!(s.as_str().parse::<IncidentState>().unwrap(), s);
        }
        for i in [Impact::None, Impact::Minor, Impact::Major, Impact::Critical] {
            assert_eq!(i.as_str().parse::<Impact>().unwrap(), i);
        }
        assert!(Impact::Critical.rank() > Impact::Major.rank());
        assert!("bad".parse::<Impact>().unwrap_err().contains("critical"));
    }

    #[test]
    fn operator_text_is_checked() {
        assert_eq!(
            clean_text("  Login is slow \n", 100).unwrap(),
            "Login is slow"
        );
        assert!(clean_text("   ", 100).is_err());
        assert!(clean_text("abc", 2).is_err());
        assert!(clean_text("a\u{7}b", 10).is_err());
        assert!(clean_text("line one\nline two", 100).is_ok());
        assert!(valid_component_id("login-api"));
        assert!(!valid_component_id("Login"));
        assert!(!valid_component_id(""));
        assert!(!valid_component_id("a/b"));
    }
}
