//! OpenID Connect provider use cases (issue 16): Gatehouse signs people in to
//! other apps with its own login page and session.
//!
//! The rules are `gatehouse_domain::oidc`'s; this module reads what they need,
//! asks them, and applies the answer through `OidcStore`. Grants belong to the
//! Gatehouse session that signed the person in: every refresh, introspection
//! and userinfo call reads that session's state *now* (never a copy), so a
//! logout, a password change, an operator ending it or a forced reset's
//! suspension stops the app's tokens at once — and an undo that reinstates the
//! session makes them work again.
//!
//! - `keys.rs` — ES256 signing keys (sealed under the server key), the JWKS.
//! - `jwt.rs` — compact JWS made and verified with the algorithm pinned.
//! - `clients.rs` — client registration (CLI) and client authentication.
//! - `authorize.rs` — the authorization request, login/consent decisions, codes.
//! - `tokens.rs` — the token endpoint (code, refresh), userinfo, introspection,
//!   revocation, RP-initiated logout.
//! - `backchannel.rs` — Back-Channel Logout: logout tokens signed at delivery,
//!   the app-delivery outbox as operators see it (the sender is
//!   `crate::backchannel`).
//! - `ssf.rs` — the Shared Signals transmitter: streams, SET claims.
//! - `set_tokens.rs` — SETs signed ahead of delivery, stored in their rows,
//!   signed again at the attempt if their key is no longer published.

mod authorize;
mod backchannel;
mod clients;
mod jwt;
pub(crate) mod keys;
mod live;
mod set_tokens;
mod ssf;
mod tokens;

pub use authorize::{AuthorizeError, AuthorizeOutcome, AuthorizeParams, SignedIn, ValidRequest};
pub use backchannel::{
    AppDeliveryView, BACKCHANNEL_LOGOUT_EVENT, LOGOUT_TOKEN_LIFETIME, LOGOUT_TOKEN_TYP,
    ReceiverCounts, receiver_counts,
};
pub use clients::{
    ClientCredentials, ClientSpec, ClientView, CreatedClient, check_backchannel_logout_uri,
};
pub use jwt::JwtError;
pub use keys::{KeyInfo, PUBLISH_AHEAD, RETAIN_AFTER_SIGNING, SigningAlg};
pub use ssf::{
    AUTH_SCHEME, Delivery, PUSH_METHOD, SET_TYP, SsfError, StreamConfig, StreamRequest,
    StreamStatusBody, SubjectRequest, VerifyRequest,
};
pub use tokens::{Introspection, LogoutRequest, LogoutTarget, TokenRequest, TokenResponse};

use std::time::Duration;

use crate::app::{App, AppError};

/// Access tokens (JWT) live ten minutes: short enough that a resource server
/// which only checks the signature stops accepting one soon after its grant
/// ends; resource servers that must know at once use introspection.
pub const ACCESS_TOKEN_LIFETIME: Duration = Duration::from_secs(600);
/// ID tokens are read once, at sign-in.
pub const ID_TOKEN_LIFETIME: Duration = Duration::from_secs(600);
/// Refresh tokens: also bounded by the Gatehouse session, which must be live.
pub const REFRESH_TOKEN_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);

/// The replica's OIDC state.
pub(crate) struct OidcState {
    pub(crate) keys: keys::KeyCache,
    /// Access tokens whose signature verified, by the SHA-256 of their text
    /// (see `verified_access`): bounded, and kept no longer than a token lives.
    pub(crate) verified_access: moka::sync::Cache<[u8; 32], std::sync::Arc<tokens::AccessClaims>>,
    /// The discovery document, serialized once: it depends only on the
    /// configuration, and every relying party asks for it.
    discovery_body: std::sync::OnceLock<axum::body::Bytes>,
    /// Grants and client authentications, for `session_cache_seconds` (`live.rs`).
    pub(crate) live: live::LiveCache,
}

/// An error in the OAuth shape (RFC 6749 §5.2): `{"error": "invalid_grant",
/// "error_description": "…"}` — the one exception to Gatehouse's own error
/// shape, because every OAuth client library expects exactly this.
impl OidcState {
    /// `session_cache` bounds how long a grant or client read is reused.
    pub(crate) fn new(session_cache: Duration) -> Self {
        Self {
            keys: Default::default(),
            verified_access: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(ACCESS_TOKEN_LIFETIME)
                .build(),
            discovery_body: Default::default(),
            live: live::LiveCache::new(session_cache),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {description}")]
pub struct OAuthError {
    /// The RFC 6749 error code.
    pub code: &'static str,
    /// What went wrong, safe to show.
    pub description: String,
}

impl OAuthError {
    fn new(code: &'static str, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
        }
    }
    pub(crate) fn invalid_request(d: impl Into<String>) -> Self {
        Self::new("invalid_request", d)
    }
    pub(crate) fn invalid_client(d: impl Into<String>) -> Self {
        Self::new("invalid_client", d)
    }
    pub(crate) fn invalid_grant(d: impl Into<String>) -> Self {
        Self::new("invalid_grant", d)
    }
    /// The status this error is answered with (401 for a client that failed
    /// to authenticate, 500 for ours, 400 otherwise).
    pub fn status(&self) -> u16 {
        match self.code {
            "invalid_client" => 401,
            "server_error" => 500,
            _ => 400,
        }
    }
}

impl From<AppError> for OAuthError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Unexpected(err) => {
                tracing::error!(error = ?err, "OIDC: unexpected error");
                Self::new("server_error", "internal error")
            }
            AppError::Overloaded | AppError::Throttled(_) => {
                Self::new("temporarily_unavailable", e.to_string())
            }
            other => {
                // Store failures arrive as Unexpected; anything else here is a
                // refusal the caller did not map, still not the client's secret.
                tracing::warn!(error = %other, "OIDC: request refused");
                Self::new("invalid_request", other.to_string())
            }
        }
    }
}

impl App {
    /// The issuer: `public_url` without a trailing slash (what discovery
    /// documents, what `iss` says, what clients compare byte for byte).
    pub fn oidc_issuer(&self) -> String {
        self.config
            .public_url
            .as_str()
            .trim_end_matches('/')
            .to_owned()
    }

    /// The published JWKS document.
    pub async fn oidc_jwks(&self) -> Result<std::sync::Arc<serde_json::Value>, AppError> {
        Ok(self.key_ring(false).await?.jwks.clone())
    }

    /// The published JWKS document, serialized (what `/oauth2/jwks` serves).
    pub async fn oidc_jwks_body(&self) -> Result<axum::body::Bytes, AppError> {
        Ok(self.key_ring(false).await?.jwks_body.clone())
    }

    /// [`App::oidc_discovery`] serialized, made once per process.
    pub fn oidc_discovery_body(&self) -> axum::body::Bytes {
        self.oidc
            .discovery_body
            .get_or_init(|| {
                serde_json::to_vec(&self.oidc_discovery())
                    .expect("a JSON value serializes")
                    .into()
            })
            .clone()
    }

    /// The discovery document (`/.well-known/openid-configuration`).
    pub fn oidc_discovery(&self) -> serde_json::Value {
        let iss = self.oidc_issuer();
        serde_json::json!({
            "issuer": iss,
            "authorization_endpoint": format!("{iss}/oauth2/authorize"),
            "token_endpoint": format!("{iss}/oauth2/token"),
            "userinfo_endpoint": format!("{iss}/oauth2/userinfo"),
            "jwks_uri": format!("{iss}/oauth2/jwks"),
            "revocation_endpoint": format!("{iss}/oauth2/revoke"),
            "introspection_endpoint": format!("{iss}/oauth2/introspect"),
            "end_session_endpoint": format!("{iss}/oauth2/logout"),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": keys::SigningAlg::ALL,
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": gatehouse_domain::oidc::Scope::ALL.map(|s| s.as_str()),
            "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "sid", "email", "email_verified", "preferred_username"],
            "prompt_values_supported": ["none", "login", "consent"],
            "authorization_response_iss_parameter_supported": true,
            // Back-Channel Logout 1.0 §2.1: logout tokens carry `sid` too.
            "backchannel_logout_supported": true,
            "backchannel_logout_session_supported": true,
            "claims_parameter_supported": false,
            "request_parameter_supported": false,
            "request_uri_parameter_supported": false,
        })
    }
}
