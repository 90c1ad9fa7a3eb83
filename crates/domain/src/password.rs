//! Passwords, normalised and length-checked at the edge, wiped from memory on drop.
//!
//! Following NIST SP 800-63B-4: Unicode is normalised with NFKC so the same
//! password typed on different keyboards hashes the same; length is counted in
//! code points; there are no composition rules ("one digit, one symbol").
//! A *new* password must meet the [`PasswordPolicy`]; a password offered at
//! login only needs to be non-empty and not absurdly long, because it may have
//! been set under an older, weaker policy (or imported).

use secrecy::{ExposeSecret, SecretString};
use unicode_normalization::UnicodeNormalization;
use zeroize::Zeroizing;

/// Shortest minimum an operator may configure (NIST's floor for passwords used with a second factor).
pub const MIN_CONFIGURABLE: usize = 8;
/// Default minimum: NIST SP 800-63B-4's minimum for single-factor passwords.
pub const DEFAULT_MIN_CHARS: usize = 15;
/// Longest password accepted, in code points (NIST asks for at least 64).
pub const MAX_CHARS: usize = 256;

/// Length rules for new passwords.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PasswordPolicy {
    min_chars: usize,
}

impl PasswordPolicy {
    /// A policy with the given minimum length, which must lie in `8..=64`.
    pub fn new(min_chars: usize) -> Result<Self, String> {
        if (MIN_CONFIGURABLE..=64).contains(&min_chars) {
            Ok(Self { min_chars })
        } else {
            Err(format!(
                "the minimum password length must be between {MIN_CONFIGURABLE} and 64, not {min_chars}"
            ))
        }
    }

    /// The minimum length in code points.
    pub fn min_chars(&self) -> usize {
        self.min_chars
    }
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_chars: DEFAULT_MIN_CHARS,
        }
    }
}

/// Why a password was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// Nothing was given.
    #[error("the password is empty")]
    Empty,
    /// Shorter than the policy's minimum.
    #[error("the password must be at least {min} characters long (it has {got})")]
    TooShort {
        /// Required minimum.
        min: usize,
        /// Length given.
        got: usize,
    },
    /// Longer than [`MAX_CHARS`].
    #[error("the password must be at most {MAX_CHARS} characters long")]
    TooLong,
    /// Contains a control character (likely a paste accident, never typeable).
    #[error("the password contains a control character")]
    ControlCharacter,
}

fn normalise(raw: &str) -> Result<Zeroizing<String>, PasswordError> {
    if raw.is_empty() {
        return Err(PasswordError::Empty);
    }
    // Judged on the password as typed, not as normalised: that is what
    // `/openapi.json` can state (`maxLength`, no control characters), and what
    // the person sees. It also bounds the work: NFKC expands text by a small
    // factor at most (18 characters for the widest ligature).
    if raw.chars().count() > MAX_CHARS {
        return Err(PasswordError::TooLong);
    }
    if raw.chars().any(char::is_control) {
        return Err(PasswordError::ControlCharacter);
    }
    Ok(Zeroizing::new(raw.nfkc().collect()))
}

/// A password chosen by a person for their account: meets the policy.
pub struct NewPassword(SecretString);

impl NewPassword {
    /// Normalises `raw` and checks it against `policy`.
    pub fn parse(raw: &str, policy: &PasswordPolicy) -> Result<Self, PasswordError> {
        let n = normalise(raw)?;
        let got = n.chars().count();
        if got < policy.min_chars {
            return Err(PasswordError::TooShort {
                min: policy.min_chars,
                got,
            });
        }
        Ok(Self(SecretString::from(n.as_str())))
    }

    /// The normalised password, for hashing.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl std::fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewPassword([REDACTED])")
    }
}

/// A password offered to prove identity: normalised, not policy-checked.
pub struct LoginPassword {
    normalised: SecretString,
    /// The raw input when it differs from the normalised form: hashes imported
    /// from systems that did not normalise are checked against it as well.
    raw_if_different: Option<SecretString>,
}

impl LoginPassword {
    /// Normalises `raw`; refuses only empty, overlong or control-character input.
    pub fn parse(raw: &str) -> Result<Self, PasswordError> {
        let n = normalise(raw)?;
        let raw_if_different = (n.as_str() != raw).then(|| SecretString::from(raw));
        Ok(Self {
            normalised: SecretString::from(n.as_str()),
            raw_if_different,
        })
    }

    /// The normalised password.
    pub fn expose(&self) -> &str {
        self.normalised.expose_secret()
    }

    /// The raw input, when normalisation changed it.
    pub fn expose_raw_if_different(&self) -> Option<&str> {
        self.raw_if_different.as_ref().map(|s| s.expose_secret())
    }
}

impl From<NewPassword> for LoginPassword {
    fn from(p: NewPassword) -> Self {
        Self {
            normalised: p.0,
            raw_if_different: None,
        }
    }
}

impl std::fmt::Debug for LoginPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LoginPassword([REDACTED])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn policy_bounds() {
        assert!(PasswordPolicy::new(7).is_err());
        assert!(PasswordPolicy::new(65).is_err());
        assert_eq!(PasswordPolicy::new(8).unwrap().min_chars(), 8);
        assert_eq!(PasswordPolicy::default().min_chars(), 15);
    }

    #[test]
    fn length_in_code_points_after_nfkc() {
        let p = PasswordPolicy::default();
        assert_eq!(
            NewPassword::parse("short", &p).unwrap_err(),
            PasswordError::TooShort { min: 15, got: 5 }
        );
        // 15 non-ASCII code points are enough, whatever their byte length.
        assert!(NewPassword::parse(&"é".repeat(15), &p).is_ok());
        // Fullwidth letters become ASCII under NFKC.
        let full = NewPassword::parse("ｃｏｒｒｅｃｔ horse battery", &p).unwrap();
        assert_eq!(full.expose(), "correct horse battery");
        // Composed and decomposed forms agree.
        let a = NewPassword::parse("cafe\u{301} au lait, s'il vous plait", &p).unwrap();
        let b = NewPassword::parse("café au lait, s'il vous plait", &p).unwrap();
        assert_eq!(a.expose(), b.expose());
    }

    #[test]
    fn limits_and_controls() {
        let p = PasswordPolicy::default();
        assert!(NewPassword::parse(&"x".repeat(64), &p).is_ok());
        assert!(NewPassword::parse(&"x".repeat(MAX_CHARS), &p).is_ok());
        assert_eq!(
            NewPassword::parse(&"x".repeat(MAX_CHARS + 1), &p).unwrap_err(),
            PasswordError::TooLong
        );
        assert_eq!(
            NewPassword::parse("", &p).unwrap_err(),
            PasswordError::Empty
        );
        assert_eq!(
            NewPassword::parse("a long password\u{7}here", &p).unwrap_err(),
            PasswordError::ControlCharacter
        );
        assert!(
            format!("{:?}", NewPassword::parse(&"s".repeat(20), &p).unwrap()).contains("REDACTED")
        );
    }

    #[test]
    fn login_password_keeps_raw_only_when_it_differs() {
        assert!(
            LoginPassword::parse("plain")
                .unwrap()
                .expose_raw_if_different()
                .is_none()
        );
        let l = LoginPassword::parse("ｐass").unwrap();
        assert_eq!(l.expose(), "pass");
        assert_eq!(l.expose_raw_if_different(), Some("ｐass"));
    }

    proptest! {
        #[test]
        fn normalisation_is_idempotent(s in "\\PC{1,80}") {
            if let Ok(p) = LoginPassword::parse(&s) {
                let again = LoginPassword::parse(p.expose()).unwrap();
                prop_assert_eq!(again.expose(), p.expose());
                prop_assert!(again.expose_raw_if_different().is_none());
            }
        }
    }
}
