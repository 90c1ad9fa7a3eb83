//! The app's own state between requests, kept in memory (an example app; a real
//! one would use its own session store): sign-ins in progress, keyed by a random
//! cookie, and signed-in sessions, keyed by another.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::rp::AppIdToken as CoreIdToken;
use openidconnect::{CsrfToken, Nonce, PkceCodeVerifier};

/// How long a started sign-in may take (the person types a password, maybe
/// recovers it: generous, but not forever).
const PENDING_TTL: Duration = Duration::from_secs(15 * 60);
/// How long the app's own session lasts.
const SESSION_TTL: Duration = Duration::from_secs(12 * 60 * 60);
/// Bounds on memory: anyone can start sign-ins, so the oldest are dropped first.
const MAX_PENDING: usize = 10_000;
const MAX_SESSIONS: usize = 100_000;

/// A sign-in between `/login` and `/callback`.
pub(crate) struct Pending {
    pub state: CsrfToken,
    pub nonce: Nonce,
    pub verifier: PkceCodeVerifier,
    started: Instant,
}

/// A signed-in person, as the app knows them.
#[derive(Clone)]
pub struct AppSession {
    /// Gatehouse's subject identifier for the person.
    pub sub: String,
    pub email: Option<String>,
    /// Gatehouse's session (the ID token's `sid`): back-channel logout names it.
    pub sid: Option<String>,
    /// Sent back as `id_token_hint` when the person signs out.
    pub(crate) id_token: CoreIdToken,
    started: Instant,
}

/// Sign-ins in progress and signed-in sessions.
#[derive(Default)]
pub struct Sessions {
    pending: Mutex<HashMap<String, Pending>>,
    signed_in: Mutex<HashMap<String, AppSession>>,
}

/// A new random key for a cookie (256 bits from the OS, base64url).
pub(crate) fn random_key() -> String {
    CsrfToken::new_random_len(32).secret().clone()
}

impl Sessions {
    pub(crate) fn start_pending(
        &self,
        state: CsrfToken,
        nonce: Nonce,
        verifier: PkceCodeVerifier,
    ) -> String {
        let key = random_key();
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending.retain(|_, p| p.started.elapsed() < PENDING_TTL);
        if pending.len() >= MAX_PENDING
            && let Some(oldest) = pending
                .iter()
                .min_by_key(|(_, p)| p.started)
                .map(|(k, _)| k.clone())
        {
            pending.remove(&oldest);
        }
        pending.insert(
            key.clone(),
            Pending {
                state,
                nonce,
                verifier,
                started: Instant::now(),
            },
        );
        key
    }

    /// Takes the sign-in (single use: a replayed callback finds nothing).
    pub(crate) fn take_pending(&self, key: &str) -> Option<Pending> {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending
            .remove(key)
            .filter(|p| p.started.elapsed() < PENDING_TTL)
    }

    pub(crate) fn sign_in(
        &self,
        sub: String,
        email: Option<String>,
        sid: Option<String>,
        id_token: CoreIdToken,
    ) -> String {
        let key = random_key();
        let mut signed_in = self.signed_in.lock().unwrap_or_else(|e| e.into_inner());
        signed_in.retain(|_, s| s.started.elapsed() < SESSION_TTL);
        if signed_in.len() >= MAX_SESSIONS
            && let Some(oldest) = signed_in
                .iter()
                .min_by_key(|(_, s)| s.started)
                .map(|(k, _)| k.clone())
        {
            signed_in.remove(&oldest);
        }
        signed_in.insert(
            key.clone(),
            AppSession {
                sub,
                email,
                sid,
                id_token,
                started: Instant::now(),
            },
        );
        key
    }

    /// The session behind a cookie, if it is still on.
    pub fn get(&self, key: &str) -> Option<AppSession> {
        let signed_in = self.signed_in.lock().unwrap_or_else(|e| e.into_inner());
        signed_in
            .get(key)
            .filter(|s| s.started.elapsed() < SESSION_TTL)
            .cloned()
    }

    /// Ends the session behind a cookie (the person pressed "Sign out").
    pub fn end(&self, key: &str) -> Option<AppSession> {
        let mut signed_in = self.signed_in.lock().unwrap_or_else(|e| e.into_inner());
        signed_in.remove(key)
    }

    /// Ends every local session that belongs to Gatehouse's session `sid`.
    ///
    /// The seam for back-channel logout: when Gatehouse ends a session (sign
    /// out elsewhere, a password change, an operator, a forced reset), its
    /// logout token names the `sid`, and the app's sessions started from it end
    /// here. Returns how many ended.
    pub fn end_by_sid(&self, sid: &str) -> usize {
        self.end_where(|s| s.sid.as_deref() == Some(sid))
    }

    /// Ends every local session of the person `sub` (a logout token without `sid`).
    pub fn end_by_sub(&self, sub: &str) -> usize {
        self.end_where(|s| s.sub == sub)
    }

    fn end_where(&self, matches: impl Fn(&AppSession) -> bool) -> usize {
        let mut signed_in = self.signed_in.lock().unwrap_or_else(|e| e.into_inner());
        let before = signed_in.len();
        signed_in.retain(|_, s| !matches(s));
        before - signed_in.len()
    }
}
