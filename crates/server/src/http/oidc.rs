//! OpenID Connect JSON endpoints: discovery, JWKS, token, userinfo,
//! introspection, revocation (issue 16). The pages (authorize, consent,
//! logout) are in `oidc_pages.rs`.
//!
//! Errors here use the OAuth shape, `{"error": "invalid_grant",
//! "error_description": "…"}` (RFC 6749 §5.2) — the one documented exception
//! to Gatehouse's `{"error": {"code", "message"}}`, because every OAuth client
//! library parses exactly this.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::App;
use crate::app::oidc::{ClientCredentials, Introspection, OAuthError, TokenRequest, TokenResponse};

type AppState = State<Arc<App>>;

/// The OAuth error body (RFC 6749 §5.2).
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct OAuthErrorBody {
    /// `invalid_request`, `invalid_client`, `invalid_grant`, `unsupported_grant_type`, …
    pub error: String,
    /// What went wrong, for the developer.
    pub error_description: String,
}

/// The token request's form (RFC 6749 §4.1.3, §6), for the document: the
/// handler reads the fields itself, to answer in the OAuth error shape.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct TokenForm {
    /// `authorization_code` or `refresh_token`.
    #[schema(pattern = "^(authorization_code|refresh_token)$")]
    grant_type: String,
    /// The code (authorization_code).
    code: Option<String>,
    /// The redirect URI the code was issued to (authorization_code).
    redirect_uri: Option<String>,
    /// The PKCE verifier (authorization_code): 43 to 128 of RFC 7636's characters.
    #[schema(pattern = "^[A-Za-z0-9._~-]{43,128}$")]
    code_verifier: Option<String>,
    /// The refresh token (refresh_token).
    refresh_token: Option<String>,
    /// A narrower scope (refresh_token).
    scope: Option<String>,
    /// The client, unless sent with HTTP Basic.
    client_id: Option<String>,
    /// A confidential client's secret, unless sent with HTTP Basic.
    client_secret: Option<String>,
}

/// An introspection or revocation form (RFC 7662 §2.1, RFC 7009 §2.1).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct TokenHintForm {
    /// The access or refresh token.
    #[schema(min_length = 1)]
    token: String,
    /// `access_token` or `refresh_token` (a hint; both are looked up).
    token_type_hint: Option<String>,
    /// The client, unless sent with HTTP Basic.
    client_id: Option<String>,
    /// A confidential client's secret, unless sent with HTTP Basic.
    client_secret: Option<String>,
}

/// An OAuth error as a response: its status, `no-store`, and for a client
/// that failed to authenticate, `WWW-Authenticate` (RFC 6749 §5.2).
pub(crate) fn oauth_error(e: OAuthError) -> Response {
    let status = if e.code == "invalid_token" {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST)
    };
    let mut res = (
        status,
        axum::Json(OAuthErrorBody {
            error: e.code.to_owned(),
            error_description: e.description,
        }),
    )
        .into_response();
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if e.code == "invalid_client" {
        h.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"gatehouse\""),
        );
    } else if e.code == "invalid_token" {
        h.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer error=\"invalid_token\""),
        );
    }
    res
}

fn no_store(body: impl serde::Serialize) -> Response {
    (
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::PRAGMA, "no-cache"),
        ],
        axum::Json(body),
    )
        .into_response()
}

/// A form body as name → value, refusing a parameter sent twice (RFC 6749
/// §3.2) and anything that is not `application/x-www-form-urlencoded`.
fn form_fields(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<std::collections::HashMap<String, String>, OAuthError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.split(';').next().is_some_and(|m| {
        m.trim()
            .eq_ignore_ascii_case("application/x-www-form-urlencoded")
    }) {
        return Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|_| OAuthError::invalid_request("the form body cannot be read"))?;
    let mut out = std::collections::HashMap::new();
    for (k, v) in pairs {
        if out.insert(k.clone(), v).is_some() {
            return Err(OAuthError::invalid_request(format!(
                "the parameter {k} is sent more than once"
            )));
        }
    }
    Ok(out)
}

/// Client credentials from `Authorization: Basic` (RFC 6749 §2.3.1: each part
/// form-urlencoded) or from the form; both at once is refused.
pub(crate) fn client_credentials(
    headers: &HeaderMap,
    form: &mut std::collections::HashMap<String, String>,
) -> Result<ClientCredentials, OAuthError> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Basic ")
                .or_else(|| v.strip_prefix("basic "))
        });
    let form_secret = form.remove("client_secret");
    let form_id = form.remove("client_id");
    let Some(b64) = basic else {
        return Ok(ClientCredentials {
            id: form_id,
            secret: form_secret,
        });
    };
    let bad = || OAuthError::invalid_client("the Basic credentials cannot be read");
    if form_secret.is_some() {
        return Err(OAuthError::invalid_request(
            "use one client authentication method, not Basic and client_secret together",
        ));
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|_| bad())?;
    let text = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = text.split_once(':').ok_or_else(bad)?;
    let unescape = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8()
            .map(|c| c.into_owned())
            .map_err(|_| bad())
    };
    let id = unescape(id)?;
    if form_id.as_ref().is_some_and(|f| *f != id) {
        return Err(OAuthError::invalid_request(
            "client_id in the form differs from the Basic credentials",
        ));
    }
    Ok(ClientCredentials {
        id: Some(id),
        secret: Some(unescape(secret)?),
    })
}

/// OpenID Connect discovery.
#[utoipa::path(get, path = "/.well-known/openid-configuration", tag = "oidc",
    responses((status = 200, description = "The provider metadata (OpenID Connect Discovery 1.0)")))]
async fn discovery(State(app): AppState) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        app.oidc_discovery_body(),
    )
        .into_response()
}

/// The public signing keys.
#[utoipa::path(get, path = "/oauth2/jwks", tag = "oidc",
    responses((status = 200, description = "A JWK Set of the ES256 keys tokens are signed with")))]
async fn jwks(State(app): AppState) -> Response {
    match app.oidc_jwks_body().await {
        Ok(body) => (
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::CACHE_CONTROL, "public, max-age=300"),
            ],
            body,
        )
            .into_response(),
        Err(e) => oauth_error(e.into()),
    }
}

/// The token endpoint: `authorization_code` (with the PKCE verifier) and
/// `refresh_token` grants; `client_secret_basic`, `client_secret_post`, or
/// none for a public client.
#[utoipa::path(post, path = "/oauth2/token", tag = "oidc",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded", description = "grant_type, code, redirect_uri, code_verifier | refresh_token, scope; client_id/client_secret unless sent as Basic"),
    responses((status = 200, body = TokenResponse), (status = 400, body = OAuthErrorBody), (status = 401, body = OAuthErrorBody)))]
async fn token(State(app): AppState, headers: HeaderMap, body: Bytes) -> Response {
    let run = async {
        let mut form = form_fields(&headers, &body)?;
        let creds = client_credentials(&headers, &mut form)?;
        let req = TokenRequest {
            grant_type: form.remove("grant_type"),
            code: form.remove("code"),
            redirect_uri: form.remove("redirect_uri"),
            code_verifier: form.remove("code_verifier"),
            refresh_token: form.remove("refresh_token"),
            scope: form.remove("scope"),
            creds,
        };
        app.oidc_token(&req).await
    };
    match run.await {
        Ok(t) => no_store(t),
        Err(e) => oauth_error(e),
    }
}

/// The signed-in person's claims, for a bearer access token.
#[utoipa::path(get, path = "/oauth2/userinfo", tag = "oidc",
    responses((status = 200, description = "`sub`, and `email`/`email_verified`, `preferred_username` by scope"),
              (status = 401, body = OAuthErrorBody)),
    security(("oidc_access_token" = [])))]
async fn userinfo(State(app): AppState, headers: HeaderMap) -> Response {
    userinfo_answer(&app, &headers).await
}

/// The same, by POST (OpenID Connect Core §5.3.1 asks for both).
#[utoipa::path(post, path = "/oauth2/userinfo", tag = "oidc",
    responses((status = 200, description = "As GET"), (status = 401, body = OAuthErrorBody)),
    security(("oidc_access_token" = [])))]
async fn userinfo_post(State(app): AppState, headers: HeaderMap) -> Response {
    userinfo_answer(&app, &headers).await
}

async fn userinfo_answer(app: &App, headers: &HeaderMap) -> Response {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    match app.oidc_userinfo(bearer.trim()).await {
        Ok(v) => no_store(v),
        Err(e) => oauth_error(e),
    }
}

/// Token introspection (RFC 7662), for a confidential client about its own
/// tokens. An ended session or revoked grant answers `active: false` at once.
#[utoipa::path(post, path = "/oauth2/introspect", tag = "oidc",
    request_body(content = TokenHintForm, content_type = "application/x-www-form-urlencoded", description = "token (access or refresh); client credentials"),
    responses((status = 200, body = Introspection), (status = 400, body = OAuthErrorBody), (status = 401, body = OAuthErrorBody)))]
async fn introspect(State(app): AppState, headers: HeaderMap, body: Bytes) -> Response {
    let run = async {
        let mut form = form_fields(&headers, &body)?;
        let creds = client_credentials(&headers, &mut form)?;
        let token = form
            .remove("token")
            .ok_or_else(|| OAuthError::invalid_request("token is missing"))?;
        app.oidc_introspect(&creds, &token).await
    };
    match run.await {
        Ok(i) => no_store(i),
        Err(e) => oauth_error(e),
    }
}

/// Token revocation (RFC 7009): revokes the grant behind a refresh or access
/// token (the whole family). Unknown tokens answer 200 as well.
#[utoipa::path(post, path = "/oauth2/revoke", tag = "oidc",
    request_body(content = TokenHintForm, content_type = "application/x-www-form-urlencoded", description = "token; client credentials"),
    responses((status = 200, description = "Revoked, or nothing to revoke"), (status = 400, body = OAuthErrorBody), (status = 401, body = OAuthErrorBody)))]
async fn revoke(State(app): AppState, headers: HeaderMap, body: Bytes) -> Response {
    let run = async {
        let mut form = form_fields(&headers, &body)?;
        let creds = client_credentials(&headers, &mut form)?;
        let token = form
            .remove("token")
            .ok_or_else(|| OAuthError::invalid_request("token is missing"))?;
        app.oidc_revoke(&creds, &token).await
    };
    match run.await {
        Ok(()) => (StatusCode::OK, [(header::CACHE_CONTROL, "no-store")]).into_response(),
        Err(e) => oauth_error(e),
    }
}

/// The JSON endpoints, for the API description.
pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(discovery))
        .routes(routes!(jwks))
        .routes(routes!(token))
        .routes(routes!(userinfo, userinfo_post))
        .routes(routes!(introspect))
        .routes(routes!(revoke))
}

/// The hot read endpoints, mounted by `http::edge` without the CSRF check
/// (they take a bearer token or client credentials, never a cookie, and
/// change nothing).
pub(super) fn hot_routes() -> Vec<super::edge::HotRoute> {
    use super::edge::HotRoute;
    use axum::handler::Handler as _;
    use axum::http::Method;
    vec![
        HotRoute {
            method: Method::GET,
            path: "/.well-known/openid-configuration",
            handler: |req, app| discovery.call(req, app),
        },
        HotRoute {
            method: Method::GET,
            path: "/oauth2/jwks",
            handler: |req, app| jwks.call(req, app),
        },
        HotRoute {
            method: Method::GET,
            path: "/oauth2/userinfo",
            handler: |req, app| userinfo.call(req, app),
        },
        HotRoute {
            method: Method::POST,
            path: "/oauth2/userinfo",
            handler: |req, app| userinfo_post.call(req, app),
        },
        HotRoute {
            method: Method::POST,
            path: "/oauth2/introspect",
            handler: |req, app| introspect.call(req, app),
        },
    ]
}
