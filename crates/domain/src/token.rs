//! Bearer secrets: session tokens and operator API keys.
//!
//! A secret is 256 bits from the injected entropy source (the OS RNG in
//! production), shown once as `<prefix>_<base64url>`, and stored only as its
//! SHA-256 digest. Looking a secret up by digest reveals nothing useful to a
//! timing observer (the digest of a guess is unrelated to the stored one), and
//! the final comparison is constant-time anyway.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::entropy::Entropy;

pub(crate) const SECRET_BYTES: usize = 32;
pub(crate) const ENCODED_LEN: usize = 43; // base64url of 32 bytes, no padding

/// SHA-256 digest of a secret: what the database stores.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TokenHash(pub [u8; 32]);

impl TokenHash {
    /// Constant-time equality.
    pub fn ct_eq(&self, other: &TokenHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }

    /// The digest as bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Rebuilds a digest read from storage; `None` if it is not 32 bytes.
    pub fn from_slice(b: &[u8]) -> Option<Self> {
        <[u8; 32]>::try_from(b).ok().map(Self)
    }
}

impl std::fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenHash({}…)", hex::encode(&self.0[..4]))
    }
}

/// Why a presented secret was not even looked up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Wrong prefix, length or alphabet.
    #[error("malformed credential")]
    Malformed,
}

macro_rules! secret_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        pub struct $name(SecretString);

        impl $name {
            /// The text prefix that marks this kind of secret.
            pub const PREFIX: &'static str = $prefix;

            /// Mints a new secret.
            pub fn generate(entropy: &dyn Entropy) -> Self {
                let mut raw = zeroize::Zeroizing::new([0u8; SECRET_BYTES]);
                entropy.fill(raw.as_mut());
                Self(SecretString::from(format!("{}_{}", $prefix, URL_SAFE_NO_PAD.encode(raw.as_ref()))))
            }

            /// Accepts a presented secret if it has the right shape.
            pub fn parse(s: &str) -> Result<Self, TokenError> {
                let body = s.strip_prefix(concat!($prefix, "_")).ok_or(TokenError::Malformed)?;
                if body.len() != ENCODED_LEN
                    || !body.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                {
                    return Err(TokenError::Malformed);
                }
                Ok(Self(SecretString::from(s)))
            }

            /// The secret text, to hand to its owner once.
            pub fn expose(&self) -> &str {
                self.0.expose_secret()
            }

            /// The digest to store or look up.
            pub fn hash(&self) -> TokenHash {
                TokenHash(Sha256::digest(self.0.expose_secret().as_bytes()).into())
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, concat!(stringify!($name), "({}_[REDACTED])"), $prefix)
            }
        }
    };
}

// The OIDC module mints its own secrets (client secrets, codes, refresh tokens) the same way.
pub(crate) use secret_type;

secret_type!(
    /// A session's bearer token (cookie value or `Authorization: Bearer`).
    SessionToken,
    "ghs"
);
secret_type!(
    /// An operator's API key for `/api/v1/admin`.
    ApiKey,
    "gho"
);
secret_type!(
    /// The token in an (optional) recovery link: 256 bits, single use.
    RecoveryToken,
    "ghr"
);
secret_type!(
    /// The token in a status-page subscription's confirmation link (double opt-in).
    StatusConfirmToken,
    "ghc"
);
secret_type!(
    /// The token in a status update's one-click unsubscribe link. Not random:
    /// derived from the subscriber with the server key ([`unsubscribe_token`]),
    /// so every update mail can carry it while the database keeps only its digest.
    UnsubscribeToken,
    "ghx"
);

/// A subscriber's unsubscribe token: HMAC-SHA256 of its id under the server
/// key. Stable for the subscriber (every mail's link works), unguessable
/// without the key, and stored only as its SHA-256 digest.
pub fn unsubscribe_token(key: &[u8], subscriber_id: &str) -> UnsubscribeToken {
    use hmac::{KeyInit, Mac};
    let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .expect("HMAC takes keys of any length");
    mac.update(b"status-unsubscribe\0");
    mac.update(subscriber_id.as_bytes());
    let raw = zeroize::Zeroizing::new(<[u8; 32]>::from(mac.finalize().into_bytes()));
    UnsubscribeToken(SecretString::from(format!(
        "{}_{}",
        UnsubscribeToken::PREFIX,
        URL_SAFE_NO_PAD.encode(raw.as_ref())
    )))
}

/// The anti-forgery token of a console session: HMAC-SHA256 of the session id
/// under the server key, hex. Every console form carries it in a hidden field,
/// on top of the Origin/Sec-Fetch-Site check and the SameSite=Strict cookie, so
/// a form submitted from anywhere else fails even if a browser skips both.
/// Derived, not stored: nothing to keep in step across replicas.
pub fn console_csrf_token(key: &[u8], session_id: &str) -> String {
    use hmac::{KeyInit, Mac};
    let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .expect("HMAC takes keys of any length");
    mac.update(b"console-csrf\0");
    mac.update(session_id.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Compares a presented anti-forgery token with the expected one in constant time.
pub fn csrf_matches(expected: &str, presented: &str) -> bool {
    use subtle::ConstantTimeEq;
    expected.len() == presented.len() && bool::from(expected.as_bytes().ct_eq(presented.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entropy::{Fixed, OsEntropy};

    #[test]
    fn console_csrf_is_keyed_and_per_session() {
        let a = console_csrf_token(b"key one", "session-1");
        assert_eq!(a.len(), 64);
        assert_eq!(a, console_csrf_token(b"key one", "session-1"));
        assert_ne!(a, console_csrf_token(b"key two", "session-1"));
        assert_ne!(a, console_csrf_token(b"key one", "session-2"));
        assert!(csrf_matches(&a, &a.clone()));
        assert!(!csrf_matches(&a, &a[..63]));
        assert!(!csrf_matches(&a, ""));
    }

    #[test]
    fn generate_parse_hash() {
        let t = SessionToken::generate(&OsEntropy);
        assert!(t.expose().starts_with("ghs_"));
        assert_eq!(t.expose().len(), 4 + ENCODED_LEN);
        let again = SessionToken::parse(t.expose()).unwrap();
        assert!(again.hash().ct_eq(&t.hash()));
        assert!(!SessionToken::generate(&OsEntropy).hash().ct_eq(&t.hash()));
        assert!(format!("{t:?}").contains("REDACTED"));
    }

    #[test]
    fn deterministic_with_fixed_entropy() {
        let a = ApiKey::generate(&Fixed(7));
        let b = ApiKey::generate(&Fixed(7));
        assert_eq!(a.expose(), b.expose());
        assert!(a.expose().starts_with("gho_"));
    }

    #[test]
    fn rejects_malformed() {
        let t = SessionToken::generate(&OsEntropy);
        for bad in [
            "",
            "ghs_",
            "gho_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "ghs_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "ghs_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        ] {
            assert_eq!(
                SessionToken::parse(bad).unwrap_err(),
                TokenError::Malformed,
                "{bad}"
            );
        }
        assert!(ApiKey::parse(t.expose()).is_err());
    }

    #[test]
    fn unsubscribe_tokens_are_keyed_and_stable() {
        let a = unsubscribe_token(b"key", "sub-1");
        assert_eq!(a.expose(), unsubscribe_token(b"key", "sub-1").expose());
        assert_ne!(a.expose(), unsubscribe_token(b"key", "sub-2").expose());
        assert_ne!(a.expose(), unsubscribe_token(b"other", "sub-1").expose());
        let parsed = UnsubscribeToken::parse(a.expose()).unwrap();
        assert!(parsed.hash().ct_eq(&a.hash()));
    }
}
