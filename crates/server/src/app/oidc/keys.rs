//! Signing keys: ES256 (P-256) keys made with `ring`, their private parts
//! sealed under a key derived from the server key, published as a JWKS.
//!
//! `ring` rather than a JWT crate: it is already in the build (TLS), its
//! ECDSA is constant-time and well reviewed, and a compact JWS is three base64
//! strings — so the algorithm is fixed by the key (ES256, never the token's
//! `alg` header), and `none` or HS256-with-the-public-key cannot be produced or
//! accepted by construction.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse_domain::Timestamp;
use gatehouse_domain::audit::{Actor, AuditAction, NewAuditEntry};
use gatehouse_store::SigningKeyRecord;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::SystemRandom;
use ring::signature::{self, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use sha2::{Digest, Sha256};

use crate::app::{App, AppError};

/// The only signing algorithm offered (ES256). RS256 for old clients is not
/// built yet (see the README).
pub const ALG: &str = "ES256";

/// How long a replica trusts its copy of the key list before reading it again
/// (a key rotated on another replica is used here within this time; an
/// unknown `kid` reloads at once).
const KEYS_TTL: Duration = Duration::from_secs(60);

/// A new key is published this long before it signs: the JWKS is served with
/// `max-age=300`, so by then every relying party that caches it has seen the
/// key (RFC 7517 rollover). The very first key signs at once: the JWKS that
/// announces it is the first one anybody can have fetched.
pub const PUBLISH_AHEAD: Duration = Duration::from_secs(300);

/// The least time between two forced reloads.
const MIN_RELOAD: Duration = Duration::from_secs(2);

/// The key that seals signing keys: HMAC-SHA256 of a fixed label under the
/// server key, so the database alone cannot sign tokens.
pub(crate) fn seal_key(server_key: &[u8]) -> [u8; 32] {
    derive_key(server_key, b"gatehouse/oidc-signing-key-seal/v1")
}

/// A key for one purpose, derived from the server key (one label per use, so
/// no key serves two purposes).
pub(crate) fn derive_key(server_key: &[u8], label: &[u8]) -> [u8; 32] {
    use hmac::{KeyInit, Mac};
    let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(server_key)
        .expect("HMAC takes keys of any length");
    mac.update(label);
    mac.finalize().into_bytes().into()
}

fn aead(seal_key: &[u8; 32]) -> LessSafeKey {
    LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, seal_key).expect("32-byte key"))
}

/// Seals `plain` (a PKCS#8 document) bound to `kid`: nonce ‖ ciphertext ‖ tag.
fn seal(seal_key: &[u8; 32], kid: &str, plain: &[u8]) -> Vec<u8> {
    let mut nonce = [0u8; NONCE_LEN];
    ring::rand::SecureRandom::fill(&SystemRandom::new(), &mut nonce).expect("OS RNG");
    let mut buf = plain.to_vec();
    aead(seal_key)
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(kid.as_bytes()),
            &mut buf,
        )
        .expect("sealing cannot fail for small inputs");
    let mut out = nonce.to_vec();
    out.extend_from_slice(&buf);
    out
}

fn unseal(seal_key: &[u8; 32], kid: &str, sealed: &[u8]) -> Result<Vec<u8>, AppError> {
    let fail = || {
        AppError::Unexpected(anyhow::anyhow!(
            "the OIDC signing key {kid} cannot be unsealed: the server key \
             (secret_key_file) is not the one it was sealed under, or the row was altered"
        ))
    };
    if sealed.len() < NONCE_LEN {
        return Err(fail());
    }
    let (nonce, body) = sealed.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| fail())?;
    let mut buf = body.to_vec();
    let plain = aead(seal_key)
        .open_in_place(nonce, Aad::from(kid.as_bytes()), &mut buf)
        .map_err(|_| fail())?;
    Ok(plain.to_vec())
}

/// The public JWK members of an uncompressed P-256 point, and its RFC 7638
/// thumbprint (the `kid`).
fn jwk_of(public: &[u8]) -> (serde_json::Value, String) {
    debug_assert_eq!(public.len(), 65);
    let x = URL_SAFE_NO_PAD.encode(&public[1..33]);
    let y = URL_SAFE_NO_PAD.encode(&public[33..65]);
    // RFC 7638 §3.2: required members only, lexicographic order, no spaces.
    let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()));
    let jwk = serde_json::json!({
        "kty": "EC", "crv": "P-256", "x": x, "y": y,
        "use": "sig", "alg": ALG, "kid": kid,
    });
    (jwk, kid)
}

/// The key that signs at `now` among `records` (newest first): the newest one
/// published at least [`PUBLISH_AHEAD`] ago, else the oldest (a lone new key).
fn signing_record(records: &[SigningKeyRecord], now: Timestamp) -> Option<&SigningKeyRecord> {
    records
        .iter()
        .find(|r| r.created_at <= now.minus(PUBLISH_AHEAD))
        .or(records.last())
}

/// A usable signing key.
pub(crate) struct Signer {
    pub(crate) kid: String,
    pair: EcdsaKeyPair,
}

impl Signer {
    /// A fixed-size (r ‖ s) ES256 signature, as JWS wants it.
    pub(crate) fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, AppError> {
        self.pair
            .sign(&SystemRandom::new(), msg)
            .map(|s| s.as_ref().to_vec())
            .map_err(|_| AppError::Unexpected(anyhow::anyhow!("ES256 signing failed")))
    }
}

/// The keys a replica holds: the newest signs, all verify and are published.
pub(crate) struct KeyRing {
    pub(crate) signer: Signer,
    /// `(kid, uncompressed public point)`.
    verifiers: Vec<(String, Vec<u8>)>,
    /// The JWKS document.
    pub(crate) jwks: Arc<serde_json::Value>,
    /// The same, serialized once per load: `/oauth2/jwks` answers these bytes
    /// (every relying party fetches it; no per-request serialization).
    pub(crate) jwks_body: axum::body::Bytes,
    loaded: std::time::Instant,
}

impl KeyRing {
    /// Verifies an ES256 signature by the key `kid`; `None` if the kid is unknown.
    pub(crate) fn verify(&self, kid: &str, msg: &[u8], sig: &[u8]) -> Option<bool> {
        let (_, public) = self.verifiers.iter().find(|(k, _)| k == kid)?;
        Some(
            signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, public)
                .verify(msg, sig)
                .is_ok(),
        )
    }
}

/// The replica's cached key ring.
#[derive(Default)]
pub(crate) struct KeyCache {
    ring: tokio::sync::RwLock<Option<Arc<KeyRing>>>,
}

/// A signing key as `gatehouse oidc keys list` shows it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct KeyInfo {
    /// RFC 7638 thumbprint.
    pub kid: String,
    /// Algorithm.
    pub alg: String,
    /// Created (RFC 3339).
    pub created_at: String,
    /// Whether it signs new tokens now.
    pub signing: bool,
    /// When it signs from, if it does not yet (RFC 3339).
    pub signs_from: Option<String>,
}

impl App {
    /// Makes a new ES256 key, seals it and stores it (audited). It is published
    /// at once and signs after [`PUBLISH_AHEAD`]; every key stays published.
    async fn create_signing_key(&self, actor: Actor) -> Result<String, AppError> {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| AppError::Unexpected(anyhow::anyhow!("P-256 key generation failed")))?;
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .map_err(|_| {
                AppError::Unexpected(anyhow::anyhow!("a fresh P-256 key did not parse"))
            })?;
        let (jwk, kid) = jwk_of(pair.public_key().as_ref());
        let now = self.clock.now();
        let record = SigningKeyRecord {
            kid: kid.clone(),
            alg: ALG.into(),
            public_jwk: jwk.to_string(),
            sealed_private: seal(&self.oidc_seal_key(), &kid, pkcs8.as_ref()),
            created_at: now,
        };
        let audit = NewAuditEntry::new(now, actor, AuditAction::OidcKeyChanged)
            .target(&kid)
            .detail(serde_json::json!({ "change": "created", "alg": ALG }));
        self.store.insert_signing_key(&record, audit).await?;
        *self.oidc.keys.ring.write().await = None;
        Ok(kid)
    }

    fn oidc_seal_key(&self) -> [u8; 32] {
        seal_key(secrecy::ExposeSecret::expose_secret(&self.secret_key))
    }

    /// The key ring, read from the store when missing or stale; with no key
    /// stored yet, the first one is made (the first start of an OIDC-using
    /// Gatehouse). Two replicas racing here both make a key: harmless, both
    /// are published and the newer signs.
    pub(crate) async fn key_ring(&self, force_reload: bool) -> Result<Arc<KeyRing>, AppError> {
        // A forced reload (an unknown `kid`) is still served from a copy made
        // in the last seconds, so tokens with made-up kids cannot turn into a
        // database read each.
        let fresh_enough = if force_reload { MIN_RELOAD } else { KEYS_TTL };
        if let Some(ring) = self.oidc.keys.ring.read().await.as_ref()
            && ring.loaded.elapsed() < fresh_enough
        {
            return Ok(ring.clone());
        }
        let mut slot = self.oidc.keys.ring.write().await;
        let mut records = self.store.signing_keys().await?;
        if records.is_empty() {
            drop(slot);
            self.create_signing_key(Actor::System).await?;
            slot = self.oidc.keys.ring.write().await;
            records = self.store.signing_keys().await?;
        }
        let ring = Arc::new(self.build_ring(&records)?);
        *slot = Some(ring.clone());
        Ok(ring)
    }

    fn build_ring(&self, records: &[SigningKeyRecord]) -> Result<KeyRing, AppError> {
        let seal_key = self.oidc_seal_key();
        let newest = signing_record(records, self.clock.now())
            .ok_or_else(|| AppError::Unexpected(anyhow::anyhow!("no OIDC signing key")))?;
        let pkcs8 = unseal(&seal_key, &newest.kid, &newest.sealed_private)?;
        let pair = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &pkcs8,
            &SystemRandom::new(),
        )
        .map_err(|_| {
            AppError::Unexpected(anyhow::anyhow!("OIDC key {} is not P-256", newest.kid))
        })?;
        let mut verifiers = Vec::new();
        let mut keys = Vec::new();
        for r in records {
            let jwk: serde_json::Value = serde_json::from_str(&r.public_jwk).map_err(|e| {
                AppError::Unexpected(anyhow::anyhow!("OIDC key {} JWK unreadable: {e}", r.kid))
            })?;
            let coord = |name: &str| {
                jwk[name]
                    .as_str()
                    .and_then(|s| URL_SAFE_NO_PAD.decode(s).ok())
                    .filter(|b| b.len() == 32)
                    .ok_or_else(|| {
                        AppError::Unexpected(anyhow::anyhow!("OIDC key {} lacks {name}", r.kid))
                    })
            };
            let mut point = vec![4u8];
            point.extend(coord("x")?);
            point.extend(coord("y")?);
            verifiers.push((r.kid.clone(), point));
            keys.push(jwk);
        }
        Ok(KeyRing {
            signer: Signer {
                kid: newest.kid.clone(),
                pair,
            },
            verifiers,
            jwks_body: serde_json::to_vec(&serde_json::json!({ "keys": &keys }))
                .map_err(|e| AppError::Unexpected(e.into()))?
                .into(),
            jwks: Arc::new(serde_json::json!({ "keys": keys })),
            loaded: std::time::Instant::now(),
        })
    }

    /// `gatehouse oidc keys rotate`: a new key (audited, by `actor`), published
    /// now, signing after [`PUBLISH_AHEAD`].
    pub async fn oidc_rotate_key(&self, actor: Actor) -> Result<String, AppError> {
        self.create_signing_key(actor).await
    }

    /// `gatehouse oidc keys list`: the published keys, the signing one first.
    /// Makes the first key if there is none, like the first request would.
    pub async fn oidc_keys(&self) -> Result<Vec<KeyInfo>, AppError> {
        self.key_ring(false).await?;
        let records = self.store.signing_keys().await?;
        let now = self.clock.now();
        let signer = signing_record(&records, now).map(|r| r.kid.clone());
        Ok(records
            .into_iter()
            .map(|r| {
                let signing = Some(&r.kid) == signer.as_ref();
                let from = r.created_at.plus(PUBLISH_AHEAD);
                KeyInfo {
                    signing,
                    signs_from: (!signing && from > now).then(|| from.to_rfc3339()),
                    kid: r.kid,
                    alg: r.alg,
                    created_at: Timestamp::to_rfc3339(r.created_at),
                }
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rotated_key_signs_only_once_published_long_enough() {
        let key = |kid: &str, at: i64| SigningKeyRecord {
            kid: kid.into(),
            alg: ALG.into(),
            public_jwk: String::new(),
            sealed_private: Vec::new(),
            created_at: Timestamp::from_millis(at),
        };
        let ahead = PUBLISH_AHEAD.as_millis() as i64;
        let first = key("first", 0);
        assert_eq!(
            signing_record(std::slice::from_ref(&first), Timestamp::from_millis(0))
                .unwrap()
                .kid,
            "first"
        );
        let keys = [key("second", 1_000_000), first];
        let just_after = Timestamp::from_millis(1_000_000 + ahead - 1);
        assert_eq!(signing_record(&keys, just_after).unwrap().kid, "first");
        let later = Timestamp::from_millis(1_000_000 + ahead);
        assert_eq!(signing_record(&keys, later).unwrap().kid, "second");
    }

    #[test]
    fn sealed_keys_open_only_under_their_key_and_kid() {
        let k = seal_key(b"server key one");
        let sealed = seal(&k, "kid-1", b"private");
        assert_eq!(unseal(&k, "kid-1", &sealed).unwrap(), b"private");
        assert!(unseal(&seal_key(b"server key two"), "kid-1", &sealed).is_err());
        assert!(unseal(&k, "kid-2", &sealed).is_err());
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(unseal(&k, "kid-1", &tampered).is_err());
    }
}
