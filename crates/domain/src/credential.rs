//! Password credentials and their lifecycle.
//!
//! ```text
//!            forced reset (campaign)             owner sets a new password
//!  Active ───────────────────────────▶ ResetRequired ─────────────────────────▶ Active (new hash, version+1)
//!    ▲                                      │
//!    └──────────── undo (prior hash kept) ──┘
//! ```
//!
//! A forced reset never destroys the prior hash: it stays in the row, unusable
//! for login while the state is `ResetRequired`, so a mistaken campaign can be
//! undone (invariant *Reversible*). The `version` counts password changes and keys
//! the notices about them.

use std::fmt;
use std::str::FromStr;

/// Whether a credential may be used to log in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CredentialState {
    /// Usable.
    Active,
    /// Suspended by a forced reset: the hash is kept, but only recovery
    /// (or an undo) opens the account again.
    ResetRequired,
}

impl CredentialState {
    /// Stable text form used in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::ResetRequired => "reset_required",
        }
    }
}

impl FromStr for CredentialState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "active" => Ok(Self::Active),
            "reset_required" => Ok(Self::ResetRequired),
            other => Err(format!("unknown credential state {other:?}")),
        }
    }
}

impl fmt::Display for CredentialState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The algorithm a stored hash was made with, read from its prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashScheme {
    /// `$argon2id$…` PHC string: Gatehouse's own.
    Argon2id,
    /// `$2a$`, `$2b$` or `$2y$` bcrypt, accepted from imports and upgraded at next login.
    Bcrypt,
}

impl HashScheme {
    /// Detects the scheme of a stored hash string.
    pub fn detect(hash: &str) -> Option<Self> {
        if hash.starts_with("$argon2id$") {
            Some(Self::Argon2id)
        } else if ["$2a$", "$2b$", "$2y$"].iter().any(|p| hash.starts_with(p)) {
            Some(Self::Bcrypt)
        } else {
            None
        }
    }
}

/// Checks the shape of a bcrypt hash: `$2b$NN$` + 53 characters of bcrypt's base64.
pub fn is_wellformed_bcrypt(hash: &str) -> bool {
    let b = hash.as_bytes();
    if b.len() != 60 || HashScheme::detect(hash) != Some(HashScheme::Bcrypt) {
        return false;
    }
    // Digits first: the cost computed from other bytes overflowed (a panic
    // in a debug build; found by the `import_lines` fuzz target).
    if !(b[4].is_ascii_digit() && b[5].is_ascii_digit() && b[6] == b'$') {
        return false;
    }
    let cost = (b[4] - b'0') * 10 + (b[5] - b'0');
    (4..=31).contains(&cost)
        && b[7..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'.' || *c == b'/')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `import_lines` fuzz target: letters where the cost's
    /// digits go overflowed the cost's arithmetic (a panic in debug builds).
    #[test]
    fn a_bcrypt_hash_with_letters_for_its_cost_is_refused() {
        let hash = "$2b$rd$R9h/cIPz0gi.URNNX3kh2/P9SToPgBkqquzi.Ss7KIUgO2t(jWMUW";
        assert_eq!(hash.len(), 60);
        assert!(!is_wellformed_bcrypt(hash));
        assert!(!is_wellformed_bcrypt(
            "$2b$rd$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW"
        ));
        assert!(!is_wellformed_bcrypt(
            "$2b$!!$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW"
        ));
        assert!(is_wellformed_bcrypt(
            "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW"
        ));
    }

    #[test]
    fn state_round_trip() {
        for s in [CredentialState::Active, CredentialState::ResetRequired] {
            assert_eq!(s.as_str().parse::<CredentialState>().unwrap(), s);
        }
        assert!("gone".parse::<CredentialState>().is_err());
    }

    #[test]
    fn detects_schemes() {
        assert_eq!(
            HashScheme::detect("$argon2id$v=19$m=19456,t=2,p=1$x$y"),
            Some(HashScheme::Argon2id)
        );
        assert_eq!(HashScheme::detect("$argon2i$v=19$m=1,t=1,p=1$x$y"), None);
        assert_eq!(HashScheme::detect("$2y$10$abc"), Some(HashScheme::Bcrypt));
        assert_eq!(HashScheme::detect("5f4dcc3b5aa765d61d8327deb882cf99"), None);
    }

    #[test]
    fn bcrypt_shape() {
        let good = "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW";
        assert!(is_wellformed_bcrypt(good));
        assert!(!is_wellformed_bcrypt(&good[..59]));
        assert!(!is_wellformed_bcrypt(&good.replace("$12$", "$99$")));
        assert!(!is_wellformed_bcrypt(&good.replace("$12$", "$1a$")));
        assert!(!is_wellformed_bcrypt(&good.replace('R', "!")));
    }
}
