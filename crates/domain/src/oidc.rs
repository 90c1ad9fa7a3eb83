//! OpenID Connect provider: the protocol rules, pure (issue 16).
//!
//! Everything an authorization server must decide without I/O lives here so it
//! can be property-tested: the exact redirect-URI match ([`redirect`]), PKCE
//! S256 ([`pkce`]), scopes, `prompt` and `max_age` ([`request`]), and the grant
//! state machine — a code used once within 60 s, a replayed code revoking what
//! it issued, refresh tokens rotated within a family whose reuse revokes the
//! family ([`grant`]). The server's use cases persist what these functions
//! decide; they never decide it themselves.

pub mod grant;
pub mod pkce;
pub mod redirect;
pub mod request;

// What `secret_type!` expands to refers to these by name.
use crate::entropy::Entropy;
use crate::token::{ENCODED_LEN, SECRET_BYTES, TokenError, TokenHash, secret_type};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

pub use grant::{
    CODE_LIFETIME, CodeDecision, CodeFacts, CodeRedemption, GrantRefusal, RefreshDecision,
    RefreshFacts, redeem_code, refresh,
};
pub use pkce::{CodeChallenge, CodeVerifier, PkceError};
pub use redirect::{RedirectUri, RedirectUriError};
pub use request::{MaxAge, Prompt, RequestError, Scope, Scopes, needs_login};

secret_type!(
    /// A confidential client's secret: shown once when created or rotated,
    /// stored only as its SHA-256 digest.
    ClientSecret,
    "ghk"
);
secret_type!(
    /// An authorization code (single use, at most [`CODE_LIFETIME`]); stored hashed.
    AuthCode,
    "gha"
);
secret_type!(
    /// A refresh token; stored hashed, rotated on every use.
    RefreshToken,
    "ghf"
);

/// Whether `s` is an acceptable client id: 1–64 characters of
/// `[A-Za-z0-9._-]`. Client ids appear in URLs, logs and tokens' `aud`, so
/// the alphabet is kept boring on purpose.
pub fn valid_client_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entropy::Fixed;

    #[test]
    fn secrets_round_trip_and_differ_by_kind() {
        let code = AuthCode::generate(&Fixed(7));
        assert!(code.expose().starts_with("gha_"));
        assert_eq!(AuthCode::parse(code.expose()).unwrap().hash(), code.hash());
        // A refresh token is not accepted where a code is expected, and vice versa.
        assert!(RefreshToken::parse(code.expose()).is_err());
        assert!(ClientSecret::parse(RefreshToken::generate(&Fixed(7)).expose()).is_err());
    }

    #[test]
    fn client_ids() {
        assert!(valid_client_id("shop-web_1.0"));
        assert!(!valid_client_id(""));
        assert!(!valid_client_id("has space"));
        assert!(!valid_client_id("a/b"));
        assert!(!valid_client_id(&"x".repeat(65)));
    }
}
