//! PKCE (RFC 7636), S256 only.
//!
//! `plain` is refused: it protects nothing against an attacker who can read
//! the authorization request, and RFC 9700 §2.1.1 says not to use it. Every
//! client, confidential or public, must send a challenge (the rule).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Why a PKCE parameter was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PkceError {
    /// No `code_challenge` in the authorization request.
    #[error("code_challenge is required (PKCE with S256)")]
    Missing,
    /// A method other than S256 (including `plain` and an absent method, which means plain).
    #[error("code_challenge_method must be S256")]
    MethodNotS256,
    /// Not 43 base64url characters (a SHA-256 digest).
    #[error("code_challenge must be the base64url SHA-256 of the verifier (43 characters)")]
    MalformedChallenge,
    /// The verifier is not 43–128 characters of the unreserved alphabet.
    #[error("code_verifier must be 43 to 128 characters of [A-Za-z0-9-._~]")]
    MalformedVerifier,
}

/// A `code_challenge` with method S256, as the authorization request sent it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeChallenge(String);

impl CodeChallenge {
    /// Accepts `code_challenge` and `code_challenge_method` from the request.
    /// An absent method means `plain` (RFC 7636 §4.3) and is refused.
    pub fn parse(challenge: Option<&str>, method: Option<&str>) -> Result<Self, PkceError> {
        let challenge = challenge.ok_or(PkceError::Missing)?;
        if method != Some("S256") {
            return Err(PkceError::MethodNotS256);
        }
        let ok = challenge.len() == 43
            && challenge
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && URL_SAFE_NO_PAD
                .decode(challenge)
                .is_ok_and(|d| d.len() == 32);
        if !ok {
            return Err(PkceError::MalformedChallenge);
        }
        Ok(Self(challenge.to_owned()))
    }

    /// Rebuilds a challenge read from storage (already checked when stored).
    pub fn from_stored(s: String) -> Self {
        Self(s)
    }

    /// The challenge text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `verifier` hashes to this challenge (constant-time compare).
    pub fn verify(&self, verifier: &CodeVerifier) -> bool {
        let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.0.as_bytes()));
        computed.as_bytes().ct_eq(self.0.as_bytes()).into()
    }
}

/// A `code_verifier` from the token request.
#[derive(Clone, Debug)]
pub struct CodeVerifier(String);

impl CodeVerifier {
    /// Accepts a verifier of the shape RFC 7636 §4.1 requires.
    pub fn parse(s: &str) -> Result<Self, PkceError> {
        let ok = (43..=128).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(PkceError::MalformedVerifier)
        }
    }

    /// The S256 challenge of this verifier (what a client sends; used by tests and tools).
    pub fn challenge(&self) -> CodeChallenge {
        CodeChallenge(URL_SAFE_NO_PAD.encode(Sha256::digest(self.0.as_bytes())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc_7636_appendix_b() {
        let v = CodeVerifier::parse("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk").unwrap();
        let c = CodeChallenge::parse(
            Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
            Some("S256"),
        )
        .unwrap();
        assert!(c.verify(&v));
        assert_eq!(v.challenge(), c);
    }

    #[test]
    fn plain_and_missing_are_refused() {
        let c = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert_eq!(
            CodeChallenge::parse(None, Some("S256")),
            Err(PkceError::Missing)
        );
        assert_eq!(
            CodeChallenge::parse(Some(c), None),
            Err(PkceError::MethodNotS256)
        );
        assert_eq!(
            CodeChallenge::parse(Some(c), Some("plain")),
            Err(PkceError::MethodNotS256)
        );
        assert_eq!(
            CodeChallenge::parse(Some("short"), Some("S256")),
            Err(PkceError::MalformedChallenge)
        );
        assert!(CodeVerifier::parse("too-short").is_err());
        assert!(CodeVerifier::parse(&"a".repeat(129)).is_err());
    }

    proptest! {
        #[test]
        fn only_the_right_verifier_passes(
            a in "[A-Za-z0-9._~-]{43,128}",
            b in "[A-Za-z0-9._~-]{43,128}",
        ) {
            let va = CodeVerifier::parse(&a).unwrap();
            let vb = CodeVerifier::parse(&b).unwrap();
            let challenge = CodeChallenge::parse(Some(va.challenge().as_str()), Some("S256")).unwrap();
            prop_assert!(challenge.verify(&va));
            prop_assert_eq!(challenge.verify(&vb), a == b);
        }
    }
}
