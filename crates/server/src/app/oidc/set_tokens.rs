//! SETs signed ahead of their delivery (issue 17's delivery rate).
//!
//! A SET's claims are fixed when its row is written (event, subject, time,
//! reason, `jti`), so it can be signed once, right after, instead of at each
//! delivery attempt: the sender's sign-ahead stage ([`App::sign_ahead`])
//! takes pending SET rows without a token, signs them on the blocking pool —
//! spread over the cores, off the per-receiver delivery tasks — and stores
//! the compact JWS beside the row (`app_delivery_tokens`, keyed by the row's
//! id, so the claim and the settle do not rewrite it). Every attempt then POSTs the stored bytes
//! ([`App::set_to_send`]): the same `jti` and `iat` on a retry or a resend
//! after a lost lease, and no signature on the delivery path.
//!
//! **Key rotation.** A stored token names its key (`kid`). An attempt sends it
//! only while that key is still published in the JWKS (a rotated key stays
//! published for `RETAIN_AFTER_SIGNING` after it stops signing, so receivers
//! can still verify tokens it signed); once it is not, the attempt signs the
//! SET again with the key that signs now, like a row never signed ahead.
//!
//! **What it costs.** The writer (logout, password change, a campaign's
//! apply batch) pays nothing: it still writes facts in its transaction. The
//! stage pays one signature per SET (as the delivery did, but once, not per
//! attempt) and two statements per few hundred rows to store them; each SET
//! keeps its token (about 500 bytes) until its row is purged. A row the sender
//! claims before the stage reaches it is signed at the attempt, as before.
//! Logout tokens are not signed ahead: their `exp` (two minutes after
//! signing) would run out while a large queue drains at a receiver's rate.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse_store::AppDelivery;

use super::jwt;
use super::keys::KeyRing;
use super::ssf::SET_TYP;
use crate::app::{App, AppError};

/// The `kid` in a compact JWS's header, if it has one.
fn kid_of(token: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Header {
        kid: Option<String>,
    }
    let header = token.split('.').next()?;
    let bytes = URL_SAFE_NO_PAD.decode(header).ok()?;
    serde_json::from_slice::<Header>(&bytes).ok()?.kid
}

/// Signs each `(id, claims)` with the ring's ES256 key, on `workers` blocking
/// threads (ECDSA signing is CPU work: on the async workers it would hold up
/// every other task of the replica).
async fn sign_all(
    ring: Arc<KeyRing>,
    claims: Vec<(String, serde_json::Value)>,
    workers: usize,
) -> Result<Vec<(String, String)>, AppError> {
    let per = claims.len().div_ceil(workers.max(1)).max(1);
    let mut chunks = Vec::new();
    let mut rest = claims;
    while !rest.is_empty() {
        let tail = rest.split_off(per.min(rest.len()));
        chunks.push(std::mem::replace(&mut rest, tail));
    }
    let tasks: Vec<_> = chunks
        .into_iter()
        .map(|chunk| {
            let ring = ring.clone();
            tokio::task::spawn_blocking(move || {
                chunk
                    .into_iter()
                    .map(|(id, c)| jwt::sign(&ring, SET_TYP, &c).map(|t| (id, t)))
                    .collect::<Result<Vec<_>, AppError>>()
            })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.extend(t.await.map_err(|e| AppError::Unexpected(e.into()))??);
    }
    Ok(out)
}

impl App {
    /// Signs up to `limit` pending SETs that have no token yet and stores
    /// the tokens. Returns how many rows it found (when that is `limit`, more
    /// may be waiting). A row whose claims cannot be built (never the case
    /// for rows the store writes) is left unsigned and signed, or failed, at
    /// its attempt.
    pub async fn sign_ahead(&self, limit: i64) -> Result<usize, AppError> {
        let rows = self.store.unsigned_sets(limit).await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let mut claims = Vec::with_capacity(rows.len());
        for d in &rows {
            match self.set_claims(d) {
                Ok(c) => claims.push((d.id.clone(), c)),
                Err(e) => tracing::warn!(jti = d.id, error = %e, "SET: cannot sign ahead"),
            }
        }
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
        let tokens = sign_all(self.key_ring(false).await?, claims, workers).await?;
        self.store.store_set_tokens(&tokens).await?;
        Ok(rows.len())
    }

    /// The SET an attempt POSTs: the token signed ahead while its key is
    /// published, else one signed now (see the module's notes on rotation).
    pub async fn set_to_send(&self, d: &AppDelivery) -> Result<String, AppError> {
        if let Some(token) = &d.token {
            let ring = self.key_ring(false).await?;
            if kid_of(token).is_some_and(|kid| ring.publishes(&kid)) {
                return Ok(token.clone());
            }
        }
        self.security_event_token(d).await
    }
}

#[cfg(test)]
mod tests {
    use super::kid_of;

    #[test]
    fn the_kid_is_read_from_the_header() {
        // {"alg":"ES256","kid":"k1","typ":"secevent+jwt"}
        let header = "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIiwidHlwIjoic2VjZXZlbnQrand0In0";
        assert_eq!(kid_of(&format!("{header}.e30.c2ln")).as_deref(), Some("k1"));
        // {"alg":"ES256"}
        assert_eq!(kid_of("eyJhbGciOiJFUzI1NiJ9.e30.c2ln"), None);
        assert_eq!(kid_of("not a token"), None);
    }
}
