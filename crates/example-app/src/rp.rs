//! The relying party: every OpenID Connect step goes through the
//! `openidconnect` crate (discovery, authorization URL with PKCE, code
//! exchange, ID-token validation, userinfo, logout URL); this file only keeps
//! state and turns failures into pages.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreErrorResponseType,
    CoreGenderClaim, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
    CoreRevocableToken, CoreRevocationErrorResponse, CoreTokenIntrospectionResponse, CoreTokenType,
    CoreUserInfoClaims,
};
use openidconnect::{
    AdditionalClaims, AuthorizationCode, Client, ClientId, ClientSecret, CsrfToken,
    EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet, IdToken, IdTokenFields,
    IssuerUrl, LogoutRequest, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PostLogoutRedirectUrl,
    ProviderMetadataWithLogout, RedirectUrl, Scope, StandardErrorResponse, StandardTokenResponse,
    TokenResponse,
};
use serde::{Deserialize, Serialize};

use crate::pages::{self, Failure};
use crate::{AppConfig, ExampleApp};

/// Gatehouse's ID tokens carry `sid` (its session), which back-channel logout
/// names; the library reads it as an additional claim of the validated token.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct GatehouseClaims {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}
impl AdditionalClaims for GatehouseClaims {}

pub type AppIdToken = IdToken<
    GatehouseClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type AppTokenResponse = StandardTokenResponse<
    IdTokenFields<
        GatehouseClaims,
        EmptyExtraTokenFields,
        CoreGenderClaim,
        CoreJweContentEncryptionAlgorithm,
        CoreJwsSigningAlgorithm,
    >,
    CoreTokenType,
>;
/// The library's client, as discovery configures it (authorization endpoint
/// set; token and userinfo endpoints as the metadata says).
type AppClient = Client<
    GatehouseClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    AppTokenResponse,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// Gatehouse caches its discovery document for 5 minutes; the app re-reads it
/// (and the JWKS with it) as often, so a rotated key is known in time.
const METADATA_TTL: Duration = Duration::from_secs(5 * 60);

/// The provider as discovered, re-read when stale or when a token names a key
/// the cached JWKS lacks.
pub(crate) struct Provider {
    issuer: IssuerUrl,
    /// The library's HTTP client. No redirects: the library's requests go to the
    /// endpoints discovery named, never where a redirect would lead (SSRF).
    pub(crate) http: reqwest::Client,
    cached: tokio::sync::Mutex<Option<(Instant, Arc<ProviderMetadataWithLogout>)>>,
}

impl Provider {
    pub(crate) fn new(config: &AppConfig) -> anyhow::Result<Self> {
        Ok(Self {
            issuer: IssuerUrl::new(config.issuer.as_str().trim_end_matches('/').to_owned())?,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(10))
                .build()?,
            cached: tokio::sync::Mutex::new(None),
        })
    }

    /// The discovery document (with the JWKS), from the cache unless stale or `fresh`.
    pub(crate) async fn metadata(
        &self,
        fresh: bool,
    ) -> Result<Arc<ProviderMetadataWithLogout>, Failure> {
        let mut cached = self.cached.lock().await;
        if !fresh
            && let Some((at, meta)) = cached.as_ref()
            && at.elapsed() < METADATA_TTL
        {
            return Ok(meta.clone());
        }
        let meta = ProviderMetadataWithLogout::discover_async(self.issuer.clone(), &self.http)
            .await
            .map_err(|e| {
                tracing::warn!(issuer = %self.issuer.as_str(), error = %error_chain(&e), "discovery failed");
                Failure::provider(format!(
                    "Gatehouse ({}) could not be reached or answered discovery with something \
                     unexpected: {}",
                    self.issuer.as_str(),
                    error_chain(&e)
                ))
            })?;
        let meta = Arc::new(meta);
        *cached = Some((Instant::now(), meta.clone()));
        Ok(meta)
    }

    async fn client(
        &self,
        config: &AppConfig,
        fresh: bool,
    ) -> Result<(AppClient, Arc<ProviderMetadataWithLogout>), Failure> {
        let meta = self.metadata(fresh).await?;
        let redirect = RedirectUrl::new(config.redirect_uri())
            .map_err(|e| Failure::internal(format!("the redirect URI is not a URL: {e}")))?;
        let client = AppClient::from_provider_metadata(
            (*meta).clone(),
            ClientId::new(config.client_id.clone()),
            Some(ClientSecret::new(config.client_secret.clone())),
        )
        .set_redirect_uri(redirect);
        Ok((client, meta))
    }
}

/// The whole `source()` chain of an error, which the library's errors need to say what went wrong.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Cookie names: with https, the `__Host-` prefix (Secure, no Domain, Path=/),
/// so a neighbour on the same domain cannot plant them. Distinct from
/// Gatehouse's own cookie, which a loopback demo serves from the same host.
fn cookie_name(app: &ExampleApp, base: &'static str) -> String {
    if app.config.https() {
        format!("__Host-{base}")
    } else {
        base.to_owned()
    }
}
const SESSION_COOKIE: &str = "example_app_session";
const PENDING_COOKIE: &str = "example_app_signin";

fn cookie(
    app: &ExampleApp,
    base: &'static str,
    value: String,
    max_age: Duration,
) -> Cookie<'static> {
    Cookie::build((cookie_name(app, base), value))
        .http_only(true)
        // Lax: sent on the top-level GET that comes back from Gatehouse to
        // /callback, never on another site's POST (so "Sign out" cannot be forged).
        .same_site(SameSite::Lax)
        .secure(app.config.https())
        .path("/")
        .max_age(time::Duration::seconds(
            i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX),
        ))
        .build()
}

fn removal(app: &ExampleApp, base: &'static str) -> Cookie<'static> {
    cookie(app, base, String::new(), Duration::ZERO)
}

pub(crate) async fn home(State(app): State<Arc<ExampleApp>>, jar: CookieJar) -> Response {
    let session = jar
        .get(&cookie_name(&app, SESSION_COOKIE))
        .and_then(|c| app.sessions.get(c.value()));
    pages::home(&app.config, session.as_ref()).into_response()
}

/// Starts the authorization code flow: PKCE S256, `state` and `nonce`, kept
/// server-side under a random cookie.
pub(crate) async fn login(State(app): State<Arc<ExampleApp>>, jar: CookieJar) -> Response {
    let (client, _) = match app.provider.client(&app.config, false).await {
        Ok(c) => c,
        Err(f) => return f.into_response(),
    };
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();
    let key = app.sessions.start_pending(state, nonce, verifier);
    let jar = jar.add(cookie(
        &app,
        PENDING_COOKIE,
        key,
        Duration::from_secs(15 * 60),
    ));
    (jar, Redirect::to(url.as_str())).into_response()
}

/// Where Gatehouse sends the person back: `state` and `iss` checked, the code
/// exchanged, the ID token validated by the library, the app's session started.
pub(crate) async fn callback(
    State(app): State<Arc<ExampleApp>>,
    jar: CookieJar,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let pending_name = cookie_name(&app, PENDING_COOKIE);
    let pending = jar
        .get(&pending_name)
        .and_then(|c| app.sessions.take_pending(c.value()));
    // The sign-in cookie is single use, whatever happens next.
    let jar = jar.add(removal(&app, PENDING_COOKIE));
    match finish_sign_in(&app, pending, &q).await {
        Ok(key) => {
            let jar = jar.add(cookie(
                &app,
                SESSION_COOKIE,
                key,
                Duration::from_secs(12 * 60 * 60),
            ));
            (jar, Redirect::to("/")).into_response()
        }
        Err(f) => (jar, f).into_response(),
    }
}

async fn finish_sign_in(
    app: &ExampleApp,
    pending: Option<crate::sessions::Pending>,
    q: &HashMap<String, String>,
) -> Result<String, Failure> {
    let pending = pending.ok_or_else(|| {
        Failure::bad_request(
            "This sign-in was not started here, was already finished, or took longer than 15 minutes.",
        )
    })?;
    // state first: an answer that is not to our request says nothing we may act on.
    if q.get("state").map(String::as_str) != Some(pending.state.secret().as_str()) {
        return Err(Failure::bad_request(
            "The answer from Gatehouse does not belong to this sign-in (its state differs).",
        ));
    }
    let (client, meta) = app.provider.client(&app.config, false).await?;
    // RFC 9207: the answer names its issuer; one from another issuer (a mix-up
    // attack between providers) is refused. Gatehouse always sends it.
    if q.get("iss").map(String::as_str) != Some(meta.issuer().as_str()) {
        return Err(Failure::bad_request(
            "The answer does not come from the expected Gatehouse (its iss differs).",
        ));
    }
    if let Some(error) = q.get("error") {
        let described = q.get("error_description").cloned().unwrap_or_default();
        return Err(if error == "access_denied" {
            Failure::bad_request("Sign-in was cancelled, so you are not signed in.")
        } else {
            Failure::bad_request(format!(
                "Gatehouse did not sign you in: {error} {described}"
            ))
        });
    }
    let code = q
        .get("code")
        .ok_or_else(|| Failure::bad_request("The answer from Gatehouse carries no code."))?;
    let tokens = client
        .exchange_code(AuthorizationCode::new(code.clone()))
        .map_err(|e| Failure::provider(format!("Gatehouse publishes no token endpoint: {e}")))?
        .set_pkce_verifier(pending.verifier)
        .request_async(&app.provider.http)
        .await
        .map_err(|e| {
            Failure::provider(format!("Gatehouse refused the code: {}", error_chain(&e)))
        })?;
    let id_token = tokens
        .id_token()
        .ok_or_else(|| Failure::provider("Gatehouse's answer carries no ID token."))?
        .clone();
    // Signature (against the JWKS), iss, aud, exp and nonce, by the library. A
    // token signed by a key newer than the cached JWKS: discover again, once.
    let claims = match id_token.claims(&client.id_token_verifier(), &pending.nonce) {
        Ok(c) => c.clone(),
        Err(first) => {
            let (fresh, _) = app.provider.client(&app.config, true).await?;
            id_token
                .claims(&fresh.id_token_verifier(), &pending.nonce)
                .map_err(|e| {
                    tracing::warn!(error = %first, again = %e, "ID token refused");
                    Failure::provider(format!("Gatehouse's ID token did not validate: {e}"))
                })?
                .clone()
        }
    };
    let sub = claims.subject().to_string();
    let email = match claims.email() {
        Some(e) => Some(e.to_string()),
        // Not in the ID token: ask userinfo (with the access token), which must
        // name the same subject.
        None => {
            let info: CoreUserInfoClaims = client
                .user_info(
                    tokens.access_token().clone(),
                    Some(claims.subject().clone()),
                )
                .map_err(|e| {
                    Failure::provider(format!("Gatehouse publishes no userinfo endpoint: {e}"))
                })?
                .request_async(&app.provider.http)
                .await
                .map_err(|e| Failure::provider(format!("userinfo failed: {}", error_chain(&e))))?;
            info.email().map(|e| e.to_string())
        }
    };
    let sid = claims.additional_claims().sid.clone();
    tracing::info!(%sub, sid = sid.as_deref().unwrap_or("-"), "signed in through Gatehouse");
    Ok(app.sessions.sign_in(sub, email, sid, id_token))
}

/// Ends the app's session, then sends the person to Gatehouse's
/// `end_session_endpoint` (RP-initiated logout) with `id_token_hint` and the
/// registered `post_logout_redirect_uri`, which brings them back here signed out.
pub(crate) async fn logout(State(app): State<Arc<ExampleApp>>, jar: CookieJar) -> Response {
    let ended = jar
        .get(&cookie_name(&app, SESSION_COOKIE))
        .and_then(|c| app.sessions.end(c.value()));
    let jar = jar.add(removal(&app, SESSION_COOKIE));
    let Some(session) = ended else {
        // Not signed in here (or already signed out): nothing to end at Gatehouse.
        return (jar, Redirect::to("/")).into_response();
    };
    let end_session = match app.provider.metadata(false).await {
        Ok(meta) => meta.additional_metadata().end_session_endpoint.clone(),
        Err(f) => return (jar, f).into_response(),
    };
    let Some(end_session) = end_session else {
        return (
            jar,
            Failure::provider(
                "You are signed out of this app, but Gatehouse publishes no end_session_endpoint, \
                 so you may still be signed in to Gatehouse.",
            ),
        )
            .into_response();
    };
    let back = match PostLogoutRedirectUrl::new(app.config.post_logout_redirect_uri()) {
        Ok(u) => u,
        Err(e) => {
            return (
                jar,
                Failure::internal(format!("the post-logout URI is not a URL: {e}")),
            )
                .into_response();
        }
    };
    let url = LogoutRequest::from(end_session)
        .set_id_token_hint(&session.id_token)
        .set_client_id(ClientId::new(app.config.client_id.clone()))
        .set_post_logout_redirect_uri(back)
        .http_get_url();
    (jar, Redirect::to(url.as_str())).into_response()
}

pub(crate) async fn not_found() -> Response {
    Failure {
        status: StatusCode::NOT_FOUND,
        message: "There is no such page in this app.".into(),
    }
    .into_response()
}
