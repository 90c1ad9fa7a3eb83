//! Signing keys: ES256 (P-256) keys made with `ring`, and RS256 (RSA 2048)
//! keys for old clients that validate nothing else; their private parts sealed
//! under a key derived from the server key, published as a JWKS.
//!
//! `ring` rather than a JWT crate: it is already in the build (TLS), its
//! ECDSA and RSA signing are constant-time and well reviewed, and a compact
//! JWS is three base64 strings — so the algorithm is fixed by the key (never
//! the token's `alg` header), and `none` or HS256-with-the-public-key cannot
//! be produced or accepted by construction. `ring` cannot generate RSA keys,
//! so the `rsa` crate makes them (once, at rotation); it never signs (its
//! private-key operations are not constant-time: RUSTSEC-2023-0071).
//!
//! Rotation and retention (issue 16): a new key is published at once and
//! signs [`PUBLISH_AHEAD`] later; the key it replaces stops signing then, and
//! stays published (and trusted) [`RETAIN_AFTER_SIGNING`] longer, until every
//! token it signed has expired — then it leaves the JWKS.

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

/// The default signing algorithm: access tokens, logout tokens, and the ID
/// tokens of every client not registered for RS256.
pub const ALG: &str = "ES256";

/// A signing algorithm Gatehouse offers.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
pub enum SigningAlg {
    /// ECDSA P-256 with SHA-256: the default.
    #[default]
    #[serde(rename = "ES256")]
    Es256,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (2048-bit keys), for old clients.
    #[serde(rename = "RS256")]
    Rs256,
}

impl SigningAlg {
    /// Both, the default first (discovery lists them so).
    pub const ALL: [SigningAlg; 2] = [SigningAlg::Es256, SigningAlg::Rs256];

    /// The JOSE name.
    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlg::Es256 => "ES256",
            SigningAlg::Rs256 => "RS256",
        }
    }

    /// From the JOSE name (exactly; `none`, `HS256` and the rest are `None`).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

impl std::fmt::Display for SigningAlg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// RSA keys are 2048 bits: what RS256 verifiers everywhere accept, and ring's
/// floor for verification.
const RSA_BITS: usize = 2048;

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

/// How long a key stays published after it stopped signing: the longest life
/// of anything it signed (ID token, access token, logout token), plus the
/// time a replica may keep signing with it from its cached key ring
/// ([`KEYS_TTL`]) and a minute of clock skew between Gatehouse and the apps.
pub const RETAIN_AFTER_SIGNING: Duration = {
    let a = super::ID_TOKEN_LIFETIME.as_secs();
    let b = super::ACCESS_TOKEN_LIFETIME.as_secs();
    let c = super::LOGOUT_TOKEN_LIFETIME.as_secs();
    let longest = if a > b { a } else { b };
    let longest = if longest > c { longest } else { c };
    Duration::from_secs(longest + KEYS_TTL.as_secs() + 60)
};

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
fn ec_jwk(public: &[u8]) -> (serde_json::Value, String) {
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

/// The public JWK of an RSA key (big-endian modulus and exponent, no leading
/// zeros), and its RFC 7638 thumbprint.
fn rsa_jwk(n: &[u8], e: &[u8]) -> (serde_json::Value, String) {
    let n = URL_SAFE_NO_PAD.encode(n);
    let e = URL_SAFE_NO_PAD.encode(e);
    let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()));
    let jwk = serde_json::json!({
        "kty": "RSA", "n": n, "e": e, "use": "sig", "alg": "RS256", "kid": kid,
    });
    (jwk, kid)
}

/// A new key of `alg`: its PKCS#8 document and public JWK with `kid`.
fn generate(alg: SigningAlg) -> Result<(Vec<u8>, serde_json::Value, String), AppError> {
    match alg {
        SigningAlg::Es256 => {
            let rng = SystemRandom::new();
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                .map_err(|_| {
                    AppError::Unexpected(anyhow::anyhow!("P-256 key generation failed"))
                })?;
            let pair =
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
                    .map_err(|_| {
                        AppError::Unexpected(anyhow::anyhow!("a fresh P-256 key did not parse"))
                    })?;
            let (jwk, kid) = ec_jwk(pair.public_key().as_ref());
            Ok((pkcs8.as_ref().to_vec(), jwk, kid))
        }
        SigningAlg::Rs256 => {
            use rsa::pkcs8::EncodePrivateKey as _;
            use rsa::traits::PublicKeyParts as _;
            let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, RSA_BITS)
                .map_err(|e| AppError::Unexpected(anyhow::anyhow!("RSA key generation: {e}")))?;
            let der = key
                .to_pkcs8_der()
                .map_err(|e| AppError::Unexpected(anyhow::anyhow!("RSA key encoding: {e}")))?;
            // Proves now that ring signs with it, not at the first token.
            signature::RsaKeyPair::from_pkcs8(der.as_bytes()).map_err(|e| {
                AppError::Unexpected(anyhow::anyhow!("a fresh RSA key did not parse: {e}"))
            })?;
            let (jwk, kid) = rsa_jwk(&key.n().to_bytes_be(), &key.e().to_bytes_be());
            Ok((der.as_bytes().to_vec(), jwk, kid))
        }
    }
}

/// The key of `alg` that signs at `now` among `records` (newest first): the
/// newest one published at least [`PUBLISH_AHEAD`] ago, else the oldest (a
/// lone new key: the JWKS that announces the first key of an algorithm is the
/// first one anybody can have fetched with it).
fn signing_record(
    records: &[SigningKeyRecord],
    alg: SigningAlg,
    now: Timestamp,
) -> Option<&SigningKeyRecord> {
    let mut of_alg = records.iter().filter(|r| r.alg == alg.as_str());
    let oldest = of_alg.clone().next_back();
    of_alg
        .find(|r| r.created_at <= now.minus(PUBLISH_AHEAD))
        .or(oldest)
}

/// When `r` stopped signing: when the next newer key of its algorithm took
/// over ([`PUBLISH_AHEAD`] after that one was made); `None` while no newer
/// key has (it may still sign).
fn stopped_signing(
    records: &[SigningKeyRecord],
    r: &SigningKeyRecord,
    now: Timestamp,
) -> Option<Timestamp> {
    records
        .iter()
        // "Newer" in the store's order (`created_at DESC, kid`), the order
        // `signing_record` reads: two keys made in the same millisecond (two
        // replicas' first start) must not each count the other as newer.
        .filter(|n| {
            n.alg == r.alg
                && (n.created_at > r.created_at || (n.created_at == r.created_at && n.kid < r.kid))
        })
        .map(|n| n.created_at.plus(PUBLISH_AHEAD))
        .filter(|&from| from <= now)
        .min()
}

/// Until when `r` is published: forever while it may sign, else until
/// [`RETAIN_AFTER_SIGNING`] after it stopped.
fn published_until(
    records: &[SigningKeyRecord],
    r: &SigningKeyRecord,
    now: Timestamp,
) -> Option<Timestamp> {
    stopped_signing(records, r, now).map(|t| t.plus(RETAIN_AFTER_SIGNING))
}

enum SignerKey {
    Ec(EcdsaKeyPair),
    Rsa(signature::RsaKeyPair),
}

/// A usable signing key.
pub(crate) struct Signer {
    pub(crate) kid: String,
    pub(crate) alg: SigningAlg,
    key: SignerKey,
}

impl Signer {
    fn open(record: &SigningKeyRecord, pkcs8: &[u8]) -> Result<Self, AppError> {
        let bad = |e: &dyn std::fmt::Display| {
            AppError::Unexpected(anyhow::anyhow!(
                "OIDC key {} is not a {} key: {e}",
                record.kid,
                record.alg
            ))
        };
        let (alg, key) = match SigningAlg::parse(&record.alg) {
            Some(SigningAlg::Es256) => (
                SigningAlg::Es256,
                SignerKey::Ec(
                    EcdsaKeyPair::from_pkcs8(
                        &ECDSA_P256_SHA256_FIXED_SIGNING,
                        pkcs8,
                        &SystemRandom::new(),
                    )
                    .map_err(|e| bad(&e))?,
                ),
            ),
            Some(SigningAlg::Rs256) => (
                SigningAlg::Rs256,
                SignerKey::Rsa(signature::RsaKeyPair::from_pkcs8(pkcs8).map_err(|e| bad(&e))?),
            ),
            None => return Err(bad(&"unknown algorithm")),
        };
        Ok(Self {
            kid: record.kid.clone(),
            alg,
            key,
        })
    }

    /// The JWS signature: fixed-size (r ‖ s) for ES256, PKCS#1 v1.5 for RS256.
    pub(crate) fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, AppError> {
        let failed = || AppError::Unexpected(anyhow::anyhow!("{} signing failed", self.alg));
        match &self.key {
            SignerKey::Ec(pair) => pair
                .sign(&SystemRandom::new(), msg)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| failed()),
            SignerKey::Rsa(pair) => {
                let mut sig = vec![0u8; pair.public().modulus_len()];
                pair.sign(
                    &signature::RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    msg,
                    &mut sig,
                )
                .map_err(|_| failed())?;
                Ok(sig)
            }
        }
    }
}

/// A published key's public part, for verification.
enum Verifier {
    /// Uncompressed P-256 point.
    Ec(Vec<u8>),
    /// Modulus and exponent, big-endian.
    Rsa { n: Vec<u8>, e: Vec<u8> },
}

/// The keys a replica holds: per algorithm one signs; all published keys
/// verify.
pub(crate) struct KeyRing {
    /// The ES256 signer (there always is one).
    pub(crate) signer: Signer,
    /// The RS256 signer, once an RS256 key exists.
    pub(crate) rs256: Option<Signer>,
    /// `(kid, key)` of every published key.
    verifiers: Vec<(String, Verifier)>,
    /// The JWKS document.
    pub(crate) jwks: Arc<serde_json::Value>,
    /// The same, serialized once per load: `/oauth2/jwks` answers these bytes
    /// (every relying party fetches it; no per-request serialization).
    pub(crate) jwks_body: axum::body::Bytes,
    loaded: std::time::Instant,
    /// The next time a key starts signing or leaves the JWKS: the ring is
    /// rebuilt then, not up to [`KEYS_TTL`] later.
    changes_at: Option<Timestamp>,
}

impl KeyRing {
    /// The signer for `alg`, if this ring has one.
    pub(crate) fn signer_for(&self, alg: SigningAlg) -> Option<&Signer> {
        match alg {
            SigningAlg::Es256 => Some(&self.signer),
            SigningAlg::Rs256 => self.rs256.as_ref(),
        }
    }

    /// Whether `kid` is in the JWKS (a token it signed still verifies).
    pub(crate) fn publishes(&self, kid: &str) -> bool {
        self.verifiers.iter().any(|(k, _)| k == kid)
    }

    /// Verifies a signature by the published key `kid`, which must be an
    /// `alg` key (the token's header names both; a mismatch is refused, so an
    /// RSA key can never be used as an HMAC secret or the other way round).
    /// `None` if the kid is unknown.
    pub(crate) fn verify(
        &self,
        alg: SigningAlg,
        kid: &str,
        msg: &[u8],
        sig: &[u8],
    ) -> Option<bool> {
        let (_, public) = self.verifiers.iter().find(|(k, _)| k == kid)?;
        Some(match (alg, public) {
            (SigningAlg::Es256, Verifier::Ec(point)) => {
                signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(msg, sig)
                    .is_ok()
            }
            (SigningAlg::Rs256, Verifier::Rsa { n, e }) => signature::RsaPublicKeyComponents {
                n: n.as_slice(),
                e: e.as_slice(),
            }
            .verify(&signature::RSA_PKCS1_2048_8192_SHA256, msg, sig)
            .is_ok(),
            _ => false,
        })
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
    /// When it leaves the JWKS (RFC 3339): set once a newer key replaced it,
    /// as late as the last token it signed may live; past, it is no longer
    /// published.
    pub published_until: Option<String>,
}

impl App {
    /// Makes a new key of `alg`, seals it and stores it (audited). It is
    /// published at once and signs after [`PUBLISH_AHEAD`] (at once if it is
    /// the first of its algorithm).
    async fn create_signing_key(&self, alg: SigningAlg, actor: Actor) -> Result<String, AppError> {
        let kid = self.store_new_signing_key(alg, actor).await?;
        *self.oidc.keys.ring.write().await = None;
        Ok(kid)
    }

    /// Makes and stores a key of `alg`, leaving the cached ring alone (the
    /// caller holds its lock, or drops it).
    async fn store_new_signing_key(
        &self,
        alg: SigningAlg,
        actor: Actor,
    ) -> Result<String, AppError> {
        // RSA generation takes tens of milliseconds of CPU: off the runtime.
        let (pkcs8, jwk, kid) = tokio::task::spawn_blocking(move || generate(alg))
            .await
            .map_err(|e| AppError::Unexpected(anyhow::anyhow!("key generation: {e}")))??;
        let now = self.clock.now();
        // A rotated key must be strictly newer than every key it replaces: in
        // the same millisecond as the previous one, the tie would be settled
        // by the random kids, and the old key could win.
        let newest = self
            .store
            .signing_keys()
            .await?
            .iter()
            .filter(|r| r.alg == alg.as_str())
            .map(|r| r.created_at)
            .max();
        let created_at = match newest {
            Some(t) if t >= now => t.plus(std::time::Duration::from_millis(1)),
            _ => now,
        };
        let record = SigningKeyRecord {
            kid: kid.clone(),
            alg: alg.as_str().into(),
            public_jwk: jwk.to_string(),
            sealed_private: seal(&self.oidc_seal_key(), &kid, &pkcs8),
            created_at,
        };
        let audit = NewAuditEntry::new(now, actor, AuditAction::OidcKeyChanged)
            .target(&kid)
            .detail(serde_json::json!({ "change": "created", "alg": alg.as_str() }));
        self.store.insert_signing_key(&record, audit).await?;
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
            && ring.changes_at.is_none_or(|at| self.clock.now() < at)
        {
            return Ok(ring.clone());
        }
        let mut slot = self.oidc.keys.ring.write().await;
        let mut records = self.store.signing_keys().await?;
        if !records.iter().any(|r| r.alg == ALG) {
            // Made under the lock: concurrent first requests on this replica
            // make one key, not one each.
            self.store_new_signing_key(SigningAlg::Es256, Actor::System)
                .await?;
            records = self.store.signing_keys().await?;
        }
        let ring = Arc::new(self.build_ring(&records)?);
        *slot = Some(ring.clone());
        Ok(ring)
    }

    /// The key ring, with a signer for `alg`: the first RS256 key is made when
    /// a client registered for RS256 first needs it.
    pub(crate) async fn key_ring_for(&self, alg: SigningAlg) -> Result<Arc<KeyRing>, AppError> {
        let ring = self.key_ring(false).await?;
        if ring.signer_for(alg).is_some() {
            return Ok(ring);
        }
        // Under the lock, as for the first ES256 key; another replica may
        // have made one since this ring was loaded.
        let mut slot = self.oidc.keys.ring.write().await;
        let mut records = self.store.signing_keys().await?;
        if !records.iter().any(|r| r.alg == alg.as_str()) {
            self.store_new_signing_key(alg, Actor::System).await?;
            records = self.store.signing_keys().await?;
        }
        let ring = Arc::new(self.build_ring(&records)?);
        *slot = Some(ring.clone());
        if ring.signer_for(alg).is_none() {
            return Err(AppError::Unexpected(anyhow::anyhow!(
                "no {alg} signing key after making one"
            )));
        }
        Ok(ring)
    }

    fn build_ring(&self, records: &[SigningKeyRecord]) -> Result<KeyRing, AppError> {
        let seal_key = self.oidc_seal_key();
        let now = self.clock.now();
        let signer = |alg: SigningAlg| -> Result<Option<Signer>, AppError> {
            signing_record(records, alg, now)
                .map(|r| Signer::open(r, &unseal(&seal_key, &r.kid, &r.sealed_private)?))
                .transpose()
        };
        let es256 = signer(SigningAlg::Es256)?
            .ok_or_else(|| AppError::Unexpected(anyhow::anyhow!("no ES256 OIDC signing key")))?;
        let rs256 = signer(SigningAlg::Rs256)?;
        let mut verifiers = Vec::new();
        let mut keys = Vec::new();
        for r in records {
            // Retired: every token it signed has expired; it is neither
            // published nor trusted any more.
            if published_until(records, r, now).is_some_and(|until| until <= now) {
                continue;
            }
            let jwk: serde_json::Value = serde_json::from_str(&r.public_jwk).map_err(|e| {
                AppError::Unexpected(anyhow::anyhow!("OIDC key {} JWK unreadable: {e}", r.kid))
            })?;
            let member = |name: &str| {
                jwk[name]
                    .as_str()
                    .and_then(|s| URL_SAFE_NO_PAD.decode(s).ok())
                    .ok_or_else(|| {
                        AppError::Unexpected(anyhow::anyhow!("OIDC key {} lacks {name}", r.kid))
                    })
            };
            let verifier = match SigningAlg::parse(&r.alg) {
                Some(SigningAlg::Es256) => {
                    let (x, y) = (member("x")?, member("y")?);
                    if x.len() != 32 || y.len() != 32 {
                        return Err(AppError::Unexpected(anyhow::anyhow!(
                            "OIDC key {} is not a P-256 point",
                            r.kid
                        )));
                    }
                    let mut point = vec![4u8];
                    point.extend(x);
                    point.extend(y);
                    Verifier::Ec(point)
                }
                Some(SigningAlg::Rs256) => Verifier::Rsa {
                    n: member("n")?,
                    e: member("e")?,
                },
                None => {
                    return Err(AppError::Unexpected(anyhow::anyhow!(
                        "OIDC key {} has an unknown algorithm {}",
                        r.kid,
                        r.alg
                    )));
                }
            };
            verifiers.push((r.kid.clone(), verifier));
            keys.push(jwk);
        }
        Ok(KeyRing {
            signer: es256,
            rs256,
            verifiers,
            jwks_body: serde_json::to_vec(&serde_json::json!({ "keys": &keys }))
                .map_err(|e| AppError::Unexpected(e.into()))?
                .into(),
            jwks: Arc::new(serde_json::json!({ "keys": keys })),
            loaded: std::time::Instant::now(),
            changes_at: records
                .iter()
                .flat_map(|r| {
                    [
                        Some(r.created_at.plus(PUBLISH_AHEAD)),
                        published_until(records, r, now),
                    ]
                })
                .flatten()
                .filter(|&t| t > now)
                .min(),
        })
    }

    /// `gatehouse oidc keys rotate [--alg RS256]`: a new key of `alg`
    /// (audited, by `actor`), published now, signing after [`PUBLISH_AHEAD`];
    /// the key it replaces stays published until what it signed has expired.
    pub async fn oidc_rotate_key(&self, alg: SigningAlg, actor: Actor) -> Result<String, AppError> {
        // The ES256 key the ring needs first, so a first rotation makes a second key.
        self.key_ring(false).await?;
        self.create_signing_key(alg, actor).await
    }

    /// `gatehouse oidc keys list`: the published keys, the signing one first.
    /// Makes the first key if there is none, like the first request would.
    pub async fn oidc_keys(&self) -> Result<Vec<KeyInfo>, AppError> {
        self.key_ring(false).await?;
        let records = self.store.signing_keys().await?;
        let now = self.clock.now();
        let signers: Vec<String> = SigningAlg::ALL
            .into_iter()
            .filter_map(|a| signing_record(&records, a, now).map(|r| r.kid.clone()))
            .collect();
        Ok(records
            .iter()
            .map(|r| {
                let signing = signers.contains(&r.kid);
                let from = r.created_at.plus(PUBLISH_AHEAD);
                KeyInfo {
                    signing,
                    signs_from: (!signing && from > now).then(|| from.to_rfc3339()),
                    published_until: published_until(&records, r, now).map(Timestamp::to_rfc3339),
                    kid: r.kid.clone(),
                    alg: r.alg.clone(),
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
        let es = SigningAlg::Es256;
        let first = key("first", 0);
        assert_eq!(
            signing_record(std::slice::from_ref(&first), es, Timestamp::from_millis(0))
                .unwrap()
                .kid,
            "first"
        );
        let keys = [key("second", 1_000_000), first];
        let just_after = Timestamp::from_millis(1_000_000 + ahead - 1);
        assert_eq!(signing_record(&keys, es, just_after).unwrap().kid, "first");
        let later = Timestamp::from_millis(1_000_000 + ahead);
        assert_eq!(signing_record(&keys, es, later).unwrap().kid, "second");
        assert!(signing_record(&keys, SigningAlg::Rs256, later).is_none());
    }

    #[test]
    fn a_replaced_key_is_published_until_what_it_signed_has_expired() {
        let key = |kid: &str, alg: SigningAlg, at: i64| SigningKeyRecord {
            kid: kid.into(),
            alg: alg.as_str().into(),
            public_jwk: String::new(),
            sealed_private: Vec::new(),
            created_at: Timestamp::from_millis(at),
        };
        let ahead = PUBLISH_AHEAD.as_millis() as i64;
        let keep = RETAIN_AFTER_SIGNING.as_millis() as i64;
        assert!(keep > super::super::ID_TOKEN_LIFETIME.as_millis() as i64);
        let keys = [
            key("new", SigningAlg::Es256, 1_000_000),
            key("rsa", SigningAlg::Rs256, 500),
            key("old", SigningAlg::Es256, 0),
        ];
        let at = Timestamp::from_millis;
        // Before the new key signs, the old one may sign: no end.
        assert_eq!(
            published_until(&keys, &keys[2], at(1_000_000 + ahead - 1)),
            None
        );
        // Once replaced: published for as long as its last token may live.
        let stopped = 1_000_000 + ahead;
        assert_eq!(
            published_until(&keys, &keys[2], at(stopped)),
            Some(at(stopped + keep))
        );
        // A key of the other algorithm is not replaced by it.
        assert_eq!(published_until(&keys, &keys[1], at(stopped + keep)), None);
        assert_eq!(published_until(&keys, &keys[0], at(stopped + keep)), None);
    }

    #[test]
    fn two_keys_of_one_millisecond_agree_on_which_signs() {
        // Two replicas' first start can make a key each in the same
        // millisecond: whichever signs must never also count as replaced.
        let key = |kid: &str| SigningKeyRecord {
            kid: kid.into(),
            alg: ALG.into(),
            public_jwk: String::new(),
            sealed_private: Vec::new(),
            created_at: Timestamp::from_millis(0),
        };
        // The store's order: created_at DESC, then kid.
        let keys = [key("a"), key("b")];
        let ahead = PUBLISH_AHEAD.as_millis() as i64;
        for now in [0, ahead, ahead + 1_000_000] {
            let now = Timestamp::from_millis(now);
            let signer = signing_record(&keys, SigningAlg::Es256, now).unwrap();
            assert_eq!(published_until(&keys, signer, now), None, "{}", signer.kid);
            let other = keys.iter().find(|k| k.kid != signer.kid).unwrap();
            if now.as_millis() >= ahead {
                assert!(
                    published_until(&keys, other, now).is_some(),
                    "{}",
                    other.kid
                );
            }
        }
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
