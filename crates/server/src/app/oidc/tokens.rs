//! The token endpoint (code and refresh grants), userinfo, introspection,
//! revocation and RP-initiated logout.

use gatehouse_domain::oidc::{
    AuthCode, CodeChallenge, CodeDecision, CodeFacts, CodeRedemption, CodeVerifier,
    RefreshDecision, RefreshFacts, RefreshToken, Scope, Scopes, redeem_code, refresh,
};
use gatehouse_domain::{AccountId, SessionId, Timestamp};
use gatehouse_store::{Applied, GrantRecord, NewGrant, NewRefreshToken};
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use super::clients::ClientCredentials;
use super::jwt::{sign, sign_with};
use super::keys::SigningAlg;
use super::{ACCESS_TOKEN_LIFETIME, ID_TOKEN_LIFETIME, OAuthError, REFRESH_TOKEN_LIFETIME};
use crate::app::{App, AppError};

/// A token request's form fields, with the client's credentials.
#[derive(Clone, Debug, Default)]
pub struct TokenRequest {
    #[allow(missing_docs)]
    pub grant_type: Option<String>,
    #[allow(missing_docs)]
    pub code: Option<String>,
    #[allow(missing_docs)]
    pub redirect_uri: Option<String>,
    #[allow(missing_docs)]
    pub code_verifier: Option<String>,
    #[allow(missing_docs)]
    pub refresh_token: Option<String>,
    #[allow(missing_docs)]
    pub scope: Option<String>,
    /// From Basic or the form.
    pub creds: ClientCredentials,
}

/// A successful token response (RFC 6749 §5.1, OIDC Core §3.1.3.3).
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TokenResponse {
    /// A JWT (`typ: at+jwt`, ES256) naming the grant and the session (`sid`).
    pub access_token: String,
    /// `Bearer`.
    pub token_type: String,
    /// Seconds the access token lives.
    pub expires_in: u64,
    /// The ID token.
    pub id_token: String,
    /// Present with the `offline_access` scope; single use (rotated).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// Granted scopes.
    pub scope: String,
}

/// An introspection answer (RFC 7662 §2.2). Inactive tokens say only `active: false`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Introspection {
    /// Whether the token is usable now (its grant and session live).
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[allow(missing_docs)]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[allow(missing_docs)]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[allow(missing_docs)]
    pub sub: Option<String>,
    /// `access_token` or `refresh_token`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[allow(missing_docs)]
    pub exp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[allow(missing_docs)]
    pub iat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[allow(missing_docs)]
    pub iss: Option<String>,
    /// The Gatehouse session the grant belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

/// RP-initiated logout parameters.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct LogoutRequest {
    #[allow(missing_docs)]
    pub id_token_hint: Option<String>,
    #[allow(missing_docs)]
    pub post_logout_redirect_uri: Option<String>,
    #[allow(missing_docs)]
    pub state: Option<String>,
    #[allow(missing_docs)]
    pub client_id: Option<String>,
}

/// Where a logout goes, once checked.
#[derive(Clone, Debug, Default)]
pub struct LogoutTarget {
    /// The registered post-logout URI with `state`, if one was asked for.
    pub redirect: Option<String>,
    /// The session the ID token hint names (signing out without asking is
    /// allowed only for that session: it proves the app knew it).
    pub hint_sid: Option<String>,
    /// The app's name, for the confirmation page.
    pub client_name: Option<String>,
}

#[derive(Clone, Deserialize)]
pub(crate) struct AccessClaims {
    iss: String,
    sub: String,
    client_id: String,
    exp: i64,
    iat: i64,
    scope: String,
    sid: String,
    gid: String,
}

#[derive(Deserialize)]
struct HintClaims {
    iss: String,
    aud: serde_json::Value,
    sid: Option<String>,
}

fn secs(t: Timestamp) -> i64 {
    t.as_millis().div_euclid(1000)
}

/// What tokens say about one grant.
struct Subject<'a> {
    grant: &'a str,
    client_id: &'a str,
    account: AccountId,
    email: &'a str,
    session: SessionId,
    scopes: &'a Scopes,
    auth_time: Timestamp,
    /// The client's `id_token_signed_response_alg`.
    id_alg: SigningAlg,
}

impl App {
    fn mint(
        &self,
        ring: &super::keys::KeyRing,
        s: &Subject<'_>,
        nonce: Option<&str>,
        refresh: Option<RefreshToken>,
    ) -> Result<TokenResponse, AppError> {
        let now = self.clock.now();
        let iss = self.oidc_issuer();
        let mut jti = [0u8; 16];
        self.entropy.fill(&mut jti);
        let access = serde_json::json!({
            "iss": iss, "sub": s.account.to_string(), "aud": s.client_id,
            "client_id": s.client_id, "iat": secs(now),
            "exp": secs(now.plus(ACCESS_TOKEN_LIFETIME)),
            "jti": hex::encode(jti), "scope": s.scopes.to_string(),
            "sid": s.session.to_string(), "gid": s.grant,
        });
        let mut id = serde_json::json!({
            "iss": iss, "sub": s.account.to_string(), "aud": s.client_id,
            "azp": s.client_id, "iat": secs(now),
            "exp": secs(now.plus(ID_TOKEN_LIFETIME)),
            "auth_time": secs(s.auth_time), "sid": s.session.to_string(),
        });
        if let Some(n) = nonce {
            id["nonce"] = n.into();
        }
        if s.scopes.has(Scope::Email) {
            id["email"] = s.email.into();
            // Gatehouse does not confirm addresses at sign-up, so it does not claim to.
            id["email_verified"] = false.into();
        }
        Ok(TokenResponse {
            access_token: sign(ring, "at+jwt", &access)?,
            token_type: "Bearer".into(),
            expires_in: ACCESS_TOKEN_LIFETIME.as_secs(),
            id_token: sign_with(ring, s.id_alg, "JWT", &id)?,
            refresh_token: refresh.map(|r| r.expose().to_owned()),
            scope: s.scopes.to_string(),
        })
    }

    fn new_refresh(&self, generation: i64) -> (NewRefreshToken, RefreshToken) {
        let t = RefreshToken::generate(self.entropy.as_ref());
        let now = self.clock.now();
        (
            NewRefreshToken {
                token_hash: t.hash(),
                generation,
                created_at: now,
                expires_at: now.plus(REFRESH_TOKEN_LIFETIME),
            },
            t,
        )
    }

    /// `POST /oauth2/token`.
    pub async fn oidc_token(&self, req: &TokenRequest) -> Result<TokenResponse, OAuthError> {
        let client = self.oidc_authenticate_client(&req.creds, true).await?;
        // The store's CHECK admits only the two; anything else is a bug here.
        let alg = SigningAlg::parse(&client.id_token_alg).ok_or_else(|| {
            AppError::Unexpected(anyhow::anyhow!(
                "client {} has an unknown id_token_signed_response_alg {}",
                client.id,
                client.id_token_alg
            ))
        })?;
        match req.grant_type.as_deref() {
            Some("authorization_code") => self.token_from_code(req, &client.id, alg).await,
            Some("refresh_token") => self.token_from_refresh(req, &client.id, alg).await,
            Some(_) => Err(OAuthError {
                code: "unsupported_grant_type",
                description: "grant_type must be authorization_code or refresh_token".into(),
            }),
            None => Err(OAuthError::invalid_request("grant_type is missing")),
        }
    }

    async fn token_from_code(
        &self,
        req: &TokenRequest,
        client_id: &str,
        id_alg: SigningAlg,
    ) -> Result<TokenResponse, OAuthError> {
        let unknown = || OAuthError::invalid_grant("the code is not valid");
        let code = AuthCode::parse(req.code.as_deref().unwrap_or("")).map_err(|_| unknown())?;
        let rec = self
            .store
            .code(&code.hash())
            .await
            .map_err(AppError::from)?
            .ok_or_else(unknown)?;
        let verifier = req
            .code_verifier
            .as_deref()
            .and_then(|v| CodeVerifier::parse(v).ok());
        let now = self.clock.now();
        let facts = CodeFacts {
            client_id: rec.client_id.clone(),
            redirect_uri: rec.redirect_uri.clone(),
            challenge: CodeChallenge::from_stored(rec.code_challenge.clone()),
            created_at: rec.created_at,
            used_at: rec.used_at,
        };
        let redemption = CodeRedemption {
            client_id,
            redirect_uri: req.redirect_uri.as_deref().unwrap_or(""),
            verifier: verifier.as_ref(),
            now,
        };
        match redeem_code(&facts, &redemption) {
            CodeDecision::Issue => {}
            CodeDecision::Refuse(r) => return Err(OAuthError::invalid_grant(r.to_string())),
            CodeDecision::RevokeIssued => return Err(self.code_replayed(&code).await),
        }
        let scopes = Scopes::parse(&rec.scope)
            .map_err(|e| AppError::Unexpected(anyhow::anyhow!("stored scope unreadable: {e}")))?;
        let mut gid = [0u8; 16];
        self.entropy.fill(&mut gid);
        let grant = NewGrant {
            id: hex::encode(gid),
            client_id: client_id.to_owned(),
            account: rec.account,
            session: rec.session,
            scope: rec.scope.clone(),
            auth_time: rec.auth_time,
            created_at: now,
        };
        let refresh = scopes
            .has(Scope::OfflineAccess)
            .then(|| self.new_refresh(0));
        let applied = self
            .store
            .redeem_code(&code.hash(), now, &grant, refresh.as_ref().map(|r| &r.0))
            .await
            .map_err(AppError::from)?;
        if applied == Applied::Lost {
            // Redeemed by a concurrent request between our read and write: a replay.
            return Err(self.code_replayed(&code).await);
        }
        let stored = self.live_grant(&grant.id).await?;
        let ring = self.key_ring_for(id_alg).await?;
        metrics::counter!("gatehouse_oidc_tokens_total", "grant" => "authorization_code")
            .increment(1);
        Ok(self.mint(
            &ring,
            &Subject {
                grant: &grant.id,
                client_id,
                account: stored.account,
                email: &stored.account_email,
                session: stored.session,
                scopes: &scopes,
                auth_time: stored.auth_time,
                id_alg,
            },
            rec.nonce.as_deref(),
            refresh.map(|r| r.1),
        )?)
    }

    async fn code_replayed(&self, code: &AuthCode) -> OAuthError {
        let now = self.clock.now();
        match self.store.revoke_code_grant(&code.hash(), now).await {
            Ok(revoked) => {
                // The revoked grant is not named here; its tokens are at most
                // seconds old, so dropping every cached grant costs little.
                self.oidc.live.forget_all_grants();
                tracing::warn!(revoked, "OIDC: an authorization code was used twice");
                metrics::counter!("gatehouse_oidc_code_replays_total").increment(1);
            }
            Err(e) => tracing::error!(error = %e, "OIDC: revoking a replayed code's grant failed"),
        }
        OAuthError::invalid_grant(gatehouse_domain::oidc::GrantRefusal::CodeReplayed.to_string())
    }

    /// The grant, refused unless it and its session are live now.
    async fn live_grant(&self, id: &str) -> Result<GrantRecord, OAuthError> {
        let g = self
            .store
            .grant(id)
            .await
            .map_err(AppError::from)?
            .ok_or_else(|| OAuthError::invalid_grant("unknown grant"))?;
        if !g.is_live(self.clock.now()) {
            return Err(OAuthError::invalid_grant(
                gatehouse_domain::oidc::GrantRefusal::SessionInactive.to_string(),
            ));
        }
        Ok(g)
    }

    async fn token_from_refresh(
        &self,
        req: &TokenRequest,
        client_id: &str,
        id_alg: SigningAlg,
    ) -> Result<TokenResponse, OAuthError> {
        let unknown = || OAuthError::invalid_grant("the refresh token is not valid");
        let token = RefreshToken::parse(req.refresh_token.as_deref().unwrap_or(""))
            .map_err(|_| unknown())?;
        let rec = self
            .store
            .refresh_token(&token.hash())
            .await
            .map_err(AppError::from)?
            .ok_or_else(unknown)?;
        let now = self.clock.now();
        let g = &rec.grant;
        let facts = RefreshFacts {
            client_id: g.client_id.clone(),
            generation: rec.generation,
            current_generation: g.generation,
            revoked: g.revoked_at.is_some(),
            expires_at: rec.expires_at,
            session_active: g.session_active(now),
        };
        match refresh(&facts, client_id, now) {
            RefreshDecision::Rotate => {}
            RefreshDecision::Refuse(r) => return Err(OAuthError::invalid_grant(r.to_string())),
            RefreshDecision::RevokeFamily => return Err(self.refresh_reused(&g.id).await),
        }
        let granted = Scopes::parse(&g.scope)
            .map_err(|e| AppError::Unexpected(anyhow::anyhow!("stored scope unreadable: {e}")))?;
        // A narrower scope may be asked for this access token (RFC 6749 §6).
        let scopes = match req.scope.as_deref() {
            None | Some("") => granted.clone(),
            Some(s) => match Scopes::parse(s) {
                Ok(asked) if asked.within(&granted) => asked,
                _ => {
                    return Err(OAuthError {
                        code: "invalid_scope",
                        description: "a refresh may only narrow the granted scopes".into(),
                    });
                }
            },
        };
        let (next, next_token) = self.new_refresh(rec.generation + 1);
        let applied = self
            .store
            .rotate_refresh(&g.id, rec.generation, &next)
            .await
            .map_err(AppError::from)?;
        if applied == Applied::Lost {
            // Another request rotated this generation first: the same token twice.
            return Err(self.refresh_reused(&g.id).await);
        }
        let ring = self.key_ring_for(id_alg).await?;
        metrics::counter!("gatehouse_oidc_tokens_total", "grant" => "refresh_token").increment(1);
        Ok(self.mint(
            &ring,
            &Subject {
                grant: &g.id,
                client_id,
                account: g.account,
                email: &g.account_email,
                session: g.session,
                scopes: &scopes,
                auth_time: g.auth_time,
                id_alg,
            },
            None,
            Some(next_token),
        )?)
    }

    async fn refresh_reused(&self, grant: &str) -> OAuthError {
        match self
            .store
            .revoke_grant(grant, self.clock.now(), "refresh token reused")
            .await
        {
            Ok(_) => {
                self.oidc.live.forget_grant(grant);
                tracing::warn!(
                    grant,
                    "OIDC: a refresh token was reused; its family is revoked"
                );
                metrics::counter!("gatehouse_oidc_refresh_reuse_total").increment(1);
            }
            Err(e) => tracing::error!(error = %e, "OIDC: revoking a reused family failed"),
        }
        OAuthError::invalid_grant(gatehouse_domain::oidc::GrantRefusal::RefreshReused.to_string())
    }

    /// An access token's claims and its grant, if the token is ours, unexpired,
    /// and its grant and session are live now.
    /// The grant is read from the replica's cache (`live.rs`) for
    /// `session_cache_seconds` at most; a session end or revocation here drops it.
    async fn live_access(&self, token: &str) -> Option<(AccessClaims, GrantRecord)> {
        let key: [u8; 32] = sha2::Sha256::digest(token.as_bytes()).into();
        let claims = self.verified_access(&key, token).await?;
        let now = self.clock.now();
        if claims.iss != self.oidc_issuer() || claims.exp <= secs(now) {
            return None;
        }
        let grant = match self.oidc.live.grant(&key) {
            Some(g) => g.as_ref().clone(),
            None => {
                let g = self.store.grant(&claims.gid).await.ok()??;
                if g.is_live(now) {
                    self.oidc.live.keep_grant(key, g.clone());
                }
                g
            }
        };
        // Liveness is judged now, on the cached copy too (the session's expiry).
        (grant.is_live(now) && grant.client_id == claims.client_id).then_some((claims, grant))
    }

    /// An access token's claims once its signature checked. The ES256 check of
    /// the same bytes always gives the same answer, so it is made once per token
    /// (a resource server introspects the same token many times in its 10
    /// minutes); expiry, the grant and its session are still read at every use.
    /// Only tokens that verified are kept.
    async fn verified_access(&self, key: &[u8; 32], token: &str) -> Option<AccessClaims> {
        let key = *key;
        if let Some(claims) = self.oidc.verified_access.get(&key) {
            return Some(claims.as_ref().clone());
        }
        let claims: AccessClaims = self.verify_jwt(token, "at+jwt").await.ok()?;
        self.oidc
            .verified_access
            .insert(key, std::sync::Arc::new(claims.clone()));
        Some(claims)
    }

    /// `GET /oauth2/userinfo` with a bearer access token.
    pub async fn oidc_userinfo(&self, bearer: &str) -> Result<serde_json::Value, OAuthError> {
        let (claims, grant) = self.live_access(bearer).await.ok_or(OAuthError {
            code: "invalid_token",
            description: "the access token is not valid, has expired, or its sign-in has ended"
                .into(),
        })?;
        let scopes = Scopes::parse(&claims.scope)
            .unwrap_or_else(|_| Scopes::parse("openid").expect("openid parses"));
        let mut out = serde_json::json!({ "sub": claims.sub });
        if scopes.has(Scope::Email) {
            out["email"] = grant.account_email.clone().into();
            out["email_verified"] = false.into();
        }
        if scopes.has(Scope::Profile) {
            out["preferred_username"] = grant.account_email.into();
        }
        Ok(out)
    }

    /// `POST /oauth2/introspect` (RFC 7662), for a confidential client about
    /// its own tokens; anything else is simply inactive.
    pub async fn oidc_introspect(
        &self,
        creds: &ClientCredentials,
        token: &str,
    ) -> Result<Introspection, OAuthError> {
        let client = self.oidc_authenticate_confidential(creds).await?;
        let now = self.clock.now();
        if let Ok(rt) = RefreshToken::parse(token) {
            let Some(rec) = self
                .store
                .refresh_token(&rt.hash())
                .await
                .map_err(AppError::from)?
            else {
                return Ok(Introspection::default());
            };
            let g = &rec.grant;
            let active = g.client_id == client.id
                && rec.generation == g.generation
                && now < rec.expires_at
                && g.is_live(now);
            if !active {
                return Ok(Introspection::default());
            }
            return Ok(Introspection {
                active,
                scope: Some(g.scope.clone()),
                client_id: Some(g.client_id.clone()),
                sub: Some(g.account.to_string()),
                token_type: Some("refresh_token".into()),
                exp: Some(secs(rec.expires_at)),
                iat: None,
                iss: Some(self.oidc_issuer()),
                sid: Some(g.session.to_string()),
            });
        }
        match self.live_access(token).await {
            Some((c, _)) if c.client_id == client.id => Ok(Introspection {
                active: true,
                scope: Some(c.scope),
                client_id: Some(c.client_id),
                sub: Some(c.sub),
                token_type: Some("access_token".into()),
                exp: Some(c.exp),
                iat: Some(c.iat),
                iss: Some(c.iss),
                sid: Some(c.sid),
            }),
            _ => Ok(Introspection::default()),
        }
    }

    /// `POST /oauth2/revoke` (RFC 7009): revokes the grant behind a refresh or
    /// access token of this client. Unknown tokens are not an error.
    pub async fn oidc_revoke(
        &self,
        creds: &ClientCredentials,
        token: &str,
    ) -> Result<(), OAuthError> {
        let client = self.oidc_authenticate_client(creds, true).await?;
        let grant = if let Ok(rt) = RefreshToken::parse(token) {
            self.store
                .refresh_token(&rt.hash())
                .await
                .map_err(AppError::from)?
                .map(|r| r.grant)
        } else {
            match self.verify_jwt::<AccessClaims>(token, "at+jwt").await {
                Ok(c) => self.store.grant(&c.gid).await.map_err(AppError::from)?,
                Err(_) => None,
            }
        };
        if let Some(g) = grant.filter(|g| g.client_id == client.id) {
            self.store
                .revoke_grant(&g.id, self.clock.now(), "revoked by the client")
                .await
                .map_err(AppError::from)?;
            self.oidc.live.forget_grant(&g.id);
        }
        Ok(())
    }

    /// Checks an RP-initiated logout request. `Err` is a message for a page
    /// (an unregistered post-logout URI is never followed).
    pub async fn oidc_logout_target(&self, req: &LogoutRequest) -> Result<LogoutTarget, String> {
        let mut client_id = req.client_id.clone();
        let mut hint_sid = None;
        if let Some(hint) = req.id_token_hint.as_deref().filter(|h| !h.is_empty()) {
            // An expired hint is fine (RP-initiated logout §2): it identifies, it does not authorise.
            let claims: HintClaims = self
                .verify_jwt(hint, "JWT")
                .await
                .map_err(|_| "The app sent a sign-out request we cannot verify.".to_owned())?;
            if claims.iss != self.oidc_issuer() {
                return Err("The app sent a sign-out request for another site.".into());
            }
            let aud = match &claims.aud {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Array(a) => {
                    a.first().and_then(|v| v.as_str()).map(str::to_owned)
                }
                _ => None,
            };
            if client_id.is_some() && client_id != aud {
                return Err("The app's sign-out request names two different apps.".into());
            }
            client_id = aud;
            hint_sid = claims.sid;
        }
        let client = match client_id.as_deref() {
            Some(id) => self.store.client(id).await.map_err(|e| {
                tracing::error!(error = %e, "OIDC: reading a client failed");
                "Something went wrong on our side. Please try again later.".to_owned()
            })?,
            None => None,
        };
        let redirect = match req.post_logout_redirect_uri.as_deref() {
            None | Some("") => None,
            Some(uri) => {
                let Some(c) = client
                    .as_ref()
                    .filter(|c| c.post_logout_redirect_uris.iter().any(|u| u == uri))
                else {
                    return Err(
                        "The app asked to send you to an address it has not registered, so you \
                         were not sent there."
                            .into(),
                    );
                };
                let _ = c;
                let mut url = uri.to_owned();
                if let Some(s) = &req.state {
                    let sep = if url.contains('?') { '&' } else { '?' };
                    url.push(sep);
                    url.push_str(&serde_urlencoded::to_string([("state", s)]).unwrap_or_default());
                }
                Some(url)
            }
        };
        Ok(LogoutTarget {
            redirect,
            hint_sid,
            client_name: client.map(|c| c.name),
        })
    }
}
