//! The vocabulary of rules and findings: how a rule acts (`off`, `shadow`,
//! `enforce`), what it asks for (`notify`, `force_reset`), and where a finding
//! stands (`shadow`, `pending`, `held`).
//!
//! A finding is an account a rule judged likely compromised. Only an `enforce`
//! finding within its rule's daily cap is `pending`: handed to remediation. A
//! shadow finding acts on nothing; a held one waits for a person.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Declares a fieldless enum with a stable snake_case text form (stored, and the
/// API's vocabulary), `Display` and `FromStr` that names the accepted values.
macro_rules! text_enum {
    ($(#[$m:meta])* $name:ident, $what:literal { $($(#[$vm:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vm])* $variant),+ }

        impl $name {
            /// Stable text form.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok(Self::$variant),)+
                    other => Err(format!(
                        concat!("unknown ", $what, " {:?}: expected one of {}"),
                        other,
                        [$($text),+].join(", ")
                    )),
                }
            }
        }
    };
}

// Shared with the other vocabularies of stored states (`status`).
pub(crate) use text_enum;

text_enum!(
    /// How a rule acts on what it finds.
    RuleMode, "mode" {
        /// Not run at all.
        Off => "off",
        /// Findings are recorded and act on nothing: how a rule is tried out.
        Shadow => "shadow",
        /// Findings are handed to remediation (within the rule's cap).
        Enforce => "enforce",
    }
);

text_enum!(
    /// What an enforced finding asks remediation to do.
    RuleAction, "action" {
        /// Tell the owner (no reset).
        Notify => "notify",
        /// Reset the password through a guarded campaign.
        ForceReset => "force_reset",
    }
);

text_enum!(
    /// Where a finding stands.
    FindingStatus, "finding status" {
        /// From a shadow rule: recorded, acts on nothing.
        Shadow => "shadow",
        /// From an enforce rule, within its daily cap: handed to remediation.
        Pending => "pending",
        /// From an enforce rule past its daily cap: waits for a person.
        Held => "held",
    }
);

impl FindingStatus {
    /// The status a new finding gets: shadow under a shadow rule; under an
    /// enforce rule, pending while the rule has handed on fewer than `cap`
    /// findings in the trailing day, held after.
    pub fn for_new(mode: RuleMode, handed_on_today: i64, cap: i64) -> Option<Self> {
        match mode {
            RuleMode::Off => None,
            RuleMode::Shadow => Some(Self::Shadow),
            RuleMode::Enforce if handed_on_today < cap => Some(Self::Pending),
            RuleMode::Enforce => Some(Self::Held),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_forms_round_trip_and_errors_list_the_choices() {
        for m in [RuleMode::Off, RuleMode::Shadow, RuleMode::Enforce] {
            assert_eq!(m.as_str().parse::<RuleMode>().unwrap(), m);
        }
        let err = "enforced".parse::<RuleMode>().unwrap_err();
        assert_eq!(
            err,
            r#"unknown mode "enforced": expected one of off, shadow, enforce"#
        );
        assert_eq!(
            serde_json::to_string(&RuleAction::ForceReset).unwrap(),
            r#""force_reset""#
        );
    }

    #[test]
    fn the_cap_holds_enforced_findings_for_a_person() {
        assert_eq!(FindingStatus::for_new(RuleMode::Off, 0, 10), None);
        assert_eq!(
            FindingStatus::for_new(RuleMode::Shadow, 99, 10),
            Some(FindingStatus::Shadow)
        );
        assert_eq!(
            FindingStatus::for_new(RuleMode::Enforce, 9, 10),
            Some(FindingStatus::Pending)
        );
        assert_eq!(
            FindingStatus::for_new(RuleMode::Enforce, 10, 10),
            Some(FindingStatus::Held)
        );
        assert_eq!(
            FindingStatus::for_new(RuleMode::Enforce, 0, 0),
            Some(FindingStatus::Held),
            "a cap of 0 hands nothing on"
        );
    }
}
