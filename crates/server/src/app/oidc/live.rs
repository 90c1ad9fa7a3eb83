//! What userinfo and introspection read per call, kept per replica for
//! `session_cache_seconds` (issue 16: a session end is seen "at once, across
//! replicas within `session_cache_seconds` at most"), like `/me`'s session
//! cache:
//!
//! - the grant behind an access token (with its session's state), by the
//!   SHA-256 of the token; only live grants are kept, so a grant an undo
//!   reinstates is read fresh;
//! - the client a confidential client's credentials authenticate, by the
//!   SHA-256 of id and secret; only successful authentications are kept.
//!
//! A change made on this replica drops the entries it touches at once: a
//! session ended (logout, password change, recovery; see
//! `identity::sessions::forget_session*`), a grant revoked, any client change.
//! Another replica's change is seen when the entry expires.

use std::sync::Arc;
use std::time::Duration;

use gatehouse_domain::{AccountId, SessionId};
use gatehouse_store::{ClientRecord, GrantRecord};
use moka::sync::Cache;
use sha2::{Digest, Sha256};

use super::OAuthError;
use super::clients::ClientCredentials;
use crate::app::App;

/// The caches; `None` when `session_cache_seconds` is 0 (every call reads).
pub(crate) struct LiveCache {
    grants: Option<Cache<[u8; 32], Arc<GrantRecord>>>,
    clients: Option<Cache<[u8; 32], Arc<ClientRecord>>>,
}

impl LiveCache {
    pub(crate) fn new(ttl: Duration) -> Self {
        fn build<V: Clone + Send + Sync + 'static>(
            ttl: Duration,
            n: u64,
        ) -> Option<Cache<[u8; 32], V>> {
            (!ttl.is_zero()).then(|| {
                Cache::builder()
                    .max_capacity(n)
                    .time_to_live(ttl)
                    .support_invalidation_closures()
                    .build()
            })
        }
        Self {
            grants: build(ttl, 100_000),
            clients: build(ttl, 1_000),
        }
    }

    pub(crate) fn grant(&self, token_key: &[u8; 32]) -> Option<Arc<GrantRecord>> {
        self.grants.as_ref()?.get(token_key)
    }

    pub(crate) fn keep_grant(&self, token_key: [u8; 32], grant: GrantRecord) {
        if let Some(c) = &self.grants {
            c.insert(token_key, Arc::new(grant));
        }
    }

    /// Drops the grants of `account`'s `session`, or of all its sessions but
    /// `keep` when `session` is `None`.
    pub(crate) fn forget_sessions(
        &self,
        account: AccountId,
        session: Option<SessionId>,
        keep: Option<SessionId>,
    ) {
        if let Some(c) = &self.grants {
            let _ = c.invalidate_entries_if(move |_, g| {
                g.account == account
                    && session.is_none_or(|s| g.session == s)
                    && Some(g.session) != keep
            });
        }
    }

    /// Drops the grants of these accounts' sessions.
    pub(crate) fn forget_accounts(&self, accounts: Arc<std::collections::HashSet<AccountId>>) {
        if let Some(c) = &self.grants {
            let _ = c.invalidate_entries_if(move |_, g| accounts.contains(&g.account));
        }
    }

    /// Drops one grant (revoked here).
    pub(crate) fn forget_grant(&self, id: &str) {
        if let Some(c) = &self.grants {
            let id = id.to_owned();
            let _ = c.invalidate_entries_if(move |_, g| g.id == id);
        }
    }

    /// Drops every cached grant (a code replay revoked one we cannot name here).
    pub(crate) fn forget_all_grants(&self) {
        if let Some(c) = &self.grants {
            c.invalidate_all();
        }
    }

    /// Drops every cached client authentication (a client changed here).
    pub(crate) fn forget_clients(&self) {
        if let Some(c) = &self.clients {
            c.invalidate_all();
        }
    }
}

/// The key of a client's credentials: id and secret, length-prefixed so no
/// two pairs share a key.
fn credentials_key(id: &str, secret: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update((id.len() as u64).to_be_bytes());
    h.update(id.as_bytes());
    h.update(secret.as_bytes());
    h.finalize().into()
}

impl App {
    /// [`App::oidc_authenticate_client`] for a confidential client, served
    /// from the cache when these exact credentials succeeded within
    /// `session_cache_seconds` (a resource server introspects with the same
    /// credentials all day).
    pub(crate) async fn oidc_authenticate_confidential(
        &self,
        creds: &ClientCredentials,
    ) -> Result<Arc<ClientRecord>, OAuthError> {
        let key = match (&creds.id, &creds.secret, &self.oidc.live.clients) {
            (Some(id), Some(secret), Some(cache)) => {
                let key = credentials_key(id, secret);
                if let Some(hit) = cache.get(&key) {
                    return Ok(hit);
                }
                Some(key)
            }
            _ => None,
        };
        let client = Arc::new(self.oidc_authenticate_client(creds, false).await?);
        if let (Some(key), Some(cache)) = (key, &self.oidc.live.clients) {
            cache.insert(key, client.clone());
        }
        Ok(client)
    }
}
