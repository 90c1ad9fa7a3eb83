//! OpenID Connect provider: signing keys, clients, codes, grants (refresh-token
//! families) and consents.
//!
//! The protocol decisions are `gatehouse_domain::oidc`'s; the store applies
//! them with conditional updates so two concurrent redemptions of one code, or
//! two rotations of one refresh token, cannot both succeed: the loser sees
//! [`Applied::Lost`] and the caller treats it as the replay or reuse it is.
//! Both engines implement it in `queries/oidc.rs`.

use async_trait::async_trait;
use gatehouse_domain::audit::NewAuditEntry;
use gatehouse_domain::{AccountId, SessionId, SessionState, Timestamp, TokenHash};

use crate::Result;

/// OpenID Connect provider storage.
#[async_trait]
pub trait OidcStore {
    /// Stores a new signing key with its audit entry.
    async fn insert_signing_key(&self, key: &SigningKeyRecord, audit: NewAuditEntry) -> Result<()>;

    /// Unretired signing keys, newest first (the first one signs).
    async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>>;

    /// Registers a client with its audit entry. A taken id is `Conflict`.
    async fn create_client(&self, client: &ClientRecord, audit: NewAuditEntry) -> Result<()>;

    /// One client (also a disabled one).
    async fn client(&self, id: &str) -> Result<Option<ClientRecord>>;

    /// Every client, by id.
    async fn clients(&self) -> Result<Vec<ClientRecord>>;

    /// Replaces a client's name, URIs (also the back-channel logout URI) and
    /// first-party flag (not its secret).
    /// Returns whether it exists.
    async fn update_client(&self, client: &ClientRecord, audit: NewAuditEntry) -> Result<bool>;

    /// Replaces a confidential client's secret digest. Returns whether it exists.
    async fn set_client_secret(
        &self,
        id: &str,
        secret_hash: &TokenHash,
        now: Timestamp,
        audit: NewAuditEntry,
    ) -> Result<bool>;

    /// Disables a client and revokes every grant it holds. Returns whether it
    /// was enabled.
    async fn disable_client(&self, id: &str, now: Timestamp, audit: NewAuditEntry) -> Result<bool>;

    /// Stores an authorization code.
    async fn insert_code(&self, code: &CodeRecord) -> Result<()>;

    /// The code with this digest.
    async fn code(&self, hash: &TokenHash) -> Result<Option<CodeRecord>>;

    /// Marks the code used and creates its grant with the first refresh token
    /// (if any), in one transaction — only if the code is still unused.
    async fn redeem_code(
        &self,
        code: &TokenHash,
        now: Timestamp,
        grant: &NewGrant,
        refresh: Option<&NewRefreshToken>,
    ) -> Result<Applied>;

    /// Revokes the grant a (replayed) code issued. Returns whether one was revoked.
    async fn revoke_code_grant(&self, code: &TokenHash, now: Timestamp) -> Result<bool>;

    /// A refresh token with its grant and the grant's session.
    async fn refresh_token(&self, hash: &TokenHash) -> Result<Option<RefreshRecord>>;

    /// Rotates a grant's family from `from_generation` to the next one, storing
    /// the new token — only if `from_generation` is still the newest and the
    /// grant is not revoked.
    async fn rotate_refresh(
        &self,
        grant: &str,
        from_generation: i64,
        next: &NewRefreshToken,
    ) -> Result<Applied>;

    /// A grant with its session's state.
    async fn grant(&self, id: &str) -> Result<Option<GrantRecord>>;

    /// Revokes a grant (its whole family). Returns whether it was live.
    async fn revoke_grant(&self, id: &str, now: Timestamp, reason: &str) -> Result<bool>;

    /// Housekeeping: deletes codes issued before `codes_before`, and grants
    /// (with their refresh tokens) revoked before `grants_before` or whose
    /// session is gone and that began before it. Returns how many grants.
    async fn purge_oidc(&self, codes_before: Timestamp, grants_before: Timestamp) -> Result<u64>;

    /// The scopes the account consented to for the client (space-separated).
    async fn consent(&self, account: AccountId, client: &str) -> Result<Option<String>>;

    /// Records (or widens) a consent.
    async fn save_consent(
        &self,
        account: AccountId,
        client: &str,
        scope: &str,
        now: Timestamp,
    ) -> Result<()>;
}

/// Whether a conditional write took effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// It did.
    Done,
    /// Another request got there first (the code was used, the generation
    /// rotated, the grant revoked) — nothing was written.
    Lost,
}

/// A signing key as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigningKeyRecord {
    /// RFC 7638 thumbprint.
    pub kid: String,
    /// `ES256`.
    pub alg: String,
    /// The public JWK (JSON text).
    pub public_jwk: String,
    /// The private key sealed under the server key.
    pub sealed_private: Vec<u8>,
    /// Created.
    pub created_at: Timestamp,
}

/// A registered client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientRecord {
    /// `client_id`.
    pub id: String,
    /// Shown on the consent page.
    pub name: String,
    /// Digest of the secret; `None` for a public client.
    pub secret_hash: Option<TokenHash>,
    /// Exact redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Exact post-logout redirect URIs.
    pub post_logout_redirect_uris: Vec<String>,
    /// Skips the consent page.
    pub first_party: bool,
    /// Where logout tokens go (OpenID Connect Back-Channel Logout); `None`:
    /// the client gets none.
    pub backchannel_logout_uri: Option<String>,
    /// The client asked for `sid` in logout tokens (Gatehouse always sends it).
    pub backchannel_logout_session_required: bool,
    /// Created.
    pub created_at: Timestamp,
    /// Last changed.
    pub updated_at: Timestamp,
    /// Disabled at, if so.
    pub disabled_at: Option<Timestamp>,
    /// The algorithm its ID tokens are signed with: `ES256` (the default) or
    /// `RS256` (old clients).
    pub id_token_alg: String,
}

/// An authorization code as stored.
#[derive(Clone, Debug)]
#[allow(missing_docs)] // fields named for their columns
pub struct CodeRecord {
    /// Digest of the code.
    pub code_hash: TokenHash,
    pub client_id: String,
    pub account: AccountId,
    pub session: SessionId,
    pub redirect_uri: String,
    pub scope: String,
    pub nonce: Option<String>,
    /// PKCE S256 challenge.
    pub code_challenge: String,
    /// When the person last entered their password.
    pub auth_time: Timestamp,
    pub created_at: Timestamp,
    pub used_at: Option<Timestamp>,
    /// The grant it issued, once used.
    pub grant_id: Option<String>,
}

/// A grant to create when a code is redeemed.
#[derive(Clone, Debug)]
#[allow(missing_docs)] // fields named for their columns
pub struct NewGrant {
    pub id: String,
    pub client_id: String,
    pub account: AccountId,
    pub session: SessionId,
    pub scope: String,
    pub auth_time: Timestamp,
    pub created_at: Timestamp,
}

/// A refresh token to store (generation 0 with a new grant, or the next one).
#[derive(Clone, Debug)]
#[allow(missing_docs)] // fields named for their columns
pub struct NewRefreshToken {
    pub token_hash: TokenHash,
    pub generation: i64,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// A grant with the state of its Gatehouse session, read together so the
/// session's state is checked at use time (never copied into the grant).
#[derive(Clone, Debug)]
#[allow(missing_docs)] // fields named for their columns
pub struct GrantRecord {
    pub id: String,
    pub client_id: String,
    pub account: AccountId,
    /// The account's address (for `email` claims).
    pub account_email: String,
    pub session: SessionId,
    pub scope: String,
    pub auth_time: Timestamp,
    /// The newest refresh generation.
    pub generation: i64,
    pub revoked_at: Option<Timestamp>,
    /// `None` when the session was purged.
    pub session_state: Option<SessionState>,
    /// The session's absolute expiry (`None` when purged).
    pub session_expires_at: Option<Timestamp>,
}

impl GrantRecord {
    /// Whether the grant is usable at `now`: not revoked, and its session
    /// active and unexpired.
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && self.session_active(now)
    }

    /// Whether the grant's Gatehouse session is active and unexpired at `now`.
    pub fn session_active(&self, now: Timestamp) -> bool {
        self.session_state == Some(SessionState::Active)
            && self.session_expires_at.is_some_and(|e| now < e)
    }
}

/// A stored refresh token with its grant.
#[derive(Clone, Debug)]
pub struct RefreshRecord {
    /// This token's generation.
    pub generation: i64,
    /// Its expiry.
    pub expires_at: Timestamp,
    /// Its grant.
    pub grant: GrantRecord,
}
