//! Compact JWS (ES256, RS256) made and checked by hand over
//! [`KeyRing`](super::keys::KeyRing).
//!
//! Verification pins the algorithm: the header must say `ES256` or `RS256`
//! and name a published `kid` of that algorithm; the signature is then
//! checked with that key's verifier. A token saying `none`, `HS256` or
//! anything else is refused before any key is touched (RFC 8725 §3.1), and an
//! `alg` that is not its key's is refused, so algorithm confusion cannot happen.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;

use super::keys::{KeyRing, SigningAlg};
use crate::app::{App, AppError};

/// Why a presented JWT was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    /// Not three base64url parts of JSON.
    #[error("malformed token")]
    Malformed,
    /// An algorithm other than ES256 or RS256, or an unexpected `typ`.
    #[error("unsupported token type or algorithm")]
    WrongAlgorithm,
    /// Signed by a key we do not publish.
    #[error("unknown signing key")]
    UnknownKey,
    /// The signature does not verify.
    #[error("bad signature")]
    BadSignature,
}

#[derive(serde::Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
    typ: Option<String>,
}

fn encode_part(v: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string().as_bytes())
}

/// Signs `claims` with the ring's ES256 key, `typ` in the header.
pub(crate) fn sign(
    ring: &KeyRing,
    typ: &str,
    claims: &serde_json::Value,
) -> Result<String, AppError> {
    sign_with(ring, SigningAlg::Es256, typ, claims)
}

/// Signs `claims` with the ring's `alg` key (the ring must have one: see
/// `App::key_ring_for`), `typ` in the header.
pub(crate) fn sign_with(
    ring: &KeyRing,
    alg: SigningAlg,
    typ: &str,
    claims: &serde_json::Value,
) -> Result<String, AppError> {
    let signer = ring
        .signer_for(alg)
        .ok_or_else(|| AppError::Unexpected(anyhow::anyhow!("no {alg} signing key loaded")))?;
    let header = serde_json::json!({ "alg": signer.alg.as_str(), "typ": typ, "kid": signer.kid });
    let input = format!("{}.{}", encode_part(&header), encode_part(claims));
    let sig = signer.sign(input.as_bytes())?;
    Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig)))
}

fn split(token: &str) -> Result<(Header, &str, &str, Vec<u8>), JwtError> {
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed);
    };
    let header: Header = URL_SAFE_NO_PAD
        .decode(h)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(JwtError::Malformed)?;
    let sig = URL_SAFE_NO_PAD.decode(s).map_err(|_| JwtError::Malformed)?;
    Ok((header, &token[..h.len() + 1 + c.len()], c, sig))
}

impl App {
    /// Checks a JWT we issued (signature by a published key, `typ` as
    /// expected) and returns its claims. Expiry and audience are the caller's.
    pub(crate) async fn verify_jwt<T: DeserializeOwned>(
        &self,
        token: &str,
        typ: &str,
    ) -> Result<T, JwtError> {
        let (header, input, claims, sig) = split(token)?;
        let alg = SigningAlg::parse(&header.alg).ok_or(JwtError::WrongAlgorithm)?;
        if header.typ.as_deref() != Some(typ) {
            return Err(JwtError::WrongAlgorithm);
        }
        let kid = header.kid.ok_or(JwtError::UnknownKey)?;
        let ring = self
            .key_ring(false)
            .await
            .map_err(|_| JwtError::UnknownKey)?;
        let ok = match ring.verify(alg, &kid, input.as_bytes(), &sig) {
            Some(ok) => ok,
            // Perhaps rotated on another replica since this one loaded its keys.
            None => self
                .key_ring(true)
                .await
                .map_err(|_| JwtError::UnknownKey)?
                .verify(alg, &kid, input.as_bytes(), &sig)
                .ok_or(JwtError::UnknownKey)?,
        };
        if !ok {
            return Err(JwtError::BadSignature);
        }
        URL_SAFE_NO_PAD
            .decode(claims)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(JwtError::Malformed)
    }
}
