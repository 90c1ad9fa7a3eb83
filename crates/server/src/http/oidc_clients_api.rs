//! Admin JSON routes of the OpenID Connect clients (issue 16): list, register
//! (a confidential client's secret is in the answer, once), show, change,
//! rotate the secret, disable. The same `App` methods serve the CLI
//! (`gatehouse oidc client …`); each change is audited `oidc.client_changed`
//! under the operator whose key made it.

use std::sync::Arc;

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::oidc::{ClientSpec, ClientView, SigningAlg};
use crate::app::{App, AppError};
use crate::http::error::{ApiError, ApiJson, ApiPath, ErrorBody};
use crate::http::extract::OperatorAuth;

type AppState = State<Arc<App>>;

/// Every registered client.
#[derive(Serialize, ToSchema)]
pub struct ClientList {
    /// By `client_id`; disabled clients too.
    pub clients: Vec<ClientView>,
}

/// Every registered client (operator key).
#[utoipa::path(get, path = "/admin/oidc/clients", tag = "oidc",
    responses((status = 200, body = ClientList), (status = 401, body = ErrorBody)),
    security(("operator" = [])))]
async fn list(
    State(app): AppState,
    OperatorAuth(_op): OperatorAuth,
) -> Result<axum::Json<ClientList>, ApiError> {
    Ok(axum::Json(ClientList {
        clients: app.oidc_clients().await?.iter().map(Into::into).collect(),
    }))
}

/// A client to register.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewClientBody {
    /// The id the app will send: 1 to 64 letters, digits, `.`, `_` or `-`.
    #[schema(pattern = "^[A-Za-z0-9._-]{1,64}$")]
    pub client_id: String,
    /// The name people see on the consent page (1 to 100 characters).
    #[schema(format = "one-line", max_length = 100)]
    pub name: String,
    /// Exact redirect URIs (at least one; no wildcards, matched byte for byte).
    #[schema(min_items = 1)]
    pub redirect_uris: Vec<String>,
    /// Exact URIs the app may send people to after signing out.
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// The site's own app: no consent page (default false).
    #[serde(default)]
    pub first_party: bool,
    /// A browser or mobile app that cannot keep a secret: no secret, PKCE only
    /// (default false: a confidential client, with a secret).
    #[serde(default)]
    pub public: bool,
    /// Where the app takes OpenID Connect Back-Channel Logout tokens: absolute
    /// `https` (or `http` on a loopback host), no fragment. Left out: none.
    #[serde(default)]
    pub backchannel_logout_uri: Option<String>,
    /// The app needs `sid` in logout tokens (Gatehouse always sends it).
    #[serde(default)]
    pub backchannel_logout_session_required: bool,
    /// How its ID tokens are signed: `ES256` (default) or `RS256` for an old
    /// client that validates nothing else.
    #[serde(default)]
    pub id_token_signed_response_alg: Option<SigningAlg>,
}

/// A client with its new secret, shown once.
#[derive(Serialize, ToSchema)]
pub struct ClientWithSecret {
    /// The client.
    pub client: ClientView,
    /// The secret of a confidential client (null for a public one): shown in
    /// this answer only, stored only as its digest. Put it in the app's
    /// configuration now.
    pub client_secret: Option<String>,
}

/// Registers a client. A confidential client's secret is in the answer, and
/// never again. Audited `oidc.client_changed` (`change: created`).
#[utoipa::path(post, path = "/admin/oidc/clients", tag = "oidc", request_body = NewClientBody,
    responses((status = 201, body = ClientWithSecret),
              (status = 400, body = ErrorBody, description = "`invalid_input`: a bad id, name or URI (`field` says which)"),
              (status = 401, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "a client with this id exists")),
    security(("operator" = [])))]
async fn create(
    State(app): AppState,
    OperatorAuth(op): OperatorAuth,
    ApiJson(body): ApiJson<NewClientBody>,
) -> Result<(http::StatusCode, axum::Json<ClientWithSecret>), ApiError> {
    let spec = ClientSpec {
        name: body.name,
        redirect_uris: body.redirect_uris,
        post_logout_redirect_uris: body.post_logout_redirect_uris,
        first_party: body.first_party,
        backchannel_logout_uri: body.backchannel_logout_uri,
        backchannel_logout_session_required: body.backchannel_logout_session_required,
        id_token_alg: body.id_token_signed_response_alg,
    };
    let created = app
        .oidc_create_client(&body.client_id, &spec, body.public, op.actor())
        .await?;
    Ok((
        http::StatusCode::CREATED,
        axum::Json(ClientWithSecret {
            client: (&created.client).into(),
            client_secret: created.secret.map(|s| s.expose().to_owned()),
        }),
    ))
}

/// One client.
#[utoipa::path(get, path = "/admin/oidc/clients/{id}", tag = "oidc",
    params(("id" = String, Path, description = "the client_id")),
    responses((status = 200, body = ClientView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("operator" = [])))]
async fn show(
    State(app): AppState,
    OperatorAuth(_op): OperatorAuth,
    ApiPath(id): ApiPath<String>,
) -> Result<axum::Json<ClientView>, ApiError> {
    Ok(axum::Json((&app.oidc_client(&id).await?).into()))
}

/// What to change; fields left out stay as they are.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(min_properties = 1)]
pub struct ClientPatch {
    /// The name on the consent page.
    #[schema(format = "one-line", max_length = 100)]
    #[schema(nullable = false)]
    pub name: Option<String>,
    /// Replaces every redirect URI (at least one).
    #[schema(min_items = 1)]
    #[schema(nullable = false)]
    pub redirect_uris: Option<Vec<String>>,
    /// Replaces every post-logout redirect URI (may be empty).
    #[schema(nullable = false)]
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// Whether the consent page is skipped.
    #[schema(nullable = false)]
    pub first_party: Option<bool>,
    /// The back-channel logout URI; an empty string removes it (no more
    /// logout tokens; those queued for the app then fail, retryable).
    #[schema(nullable = false)]
    pub backchannel_logout_uri: Option<String>,
    /// Whether the app needs `sid` in logout tokens.
    #[schema(nullable = false)]
    pub backchannel_logout_session_required: Option<bool>,
    /// How its ID tokens are signed: `ES256` or `RS256`.
    #[schema(nullable = false)]
    pub id_token_signed_response_alg: Option<SigningAlg>,
}

/// Changes a client's name, URIs or first-party flag (the fields given; a
/// public client stays public). A redirect URI taken away stops working at
/// once. Audited `oidc.client_changed` (`change: updated`).
#[utoipa::path(patch, path = "/admin/oidc/clients/{id}", tag = "oidc",
    params(("id" = String, Path, description = "the client_id")), request_body = ClientPatch,
    responses((status = 200, body = ClientView),
              (status = 400, body = ErrorBody, description = "`invalid_input`: a bad name or URI, or nothing to change"),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("operator" = [])))]
async fn update(
    State(app): AppState,
    OperatorAuth(op): OperatorAuth,
    ApiPath(id): ApiPath<String>,
    ApiJson(patch): ApiJson<ClientPatch>,
) -> Result<axum::Json<ClientView>, ApiError> {
    if patch.name.is_none()
        && patch.redirect_uris.is_none()
        && patch.post_logout_redirect_uris.is_none()
        && patch.first_party.is_none()
        && patch.backchannel_logout_uri.is_none()
        && patch.backchannel_logout_session_required.is_none()
        && patch.id_token_signed_response_alg.is_none()
    {
        // Refused rather than audited as a change that changed nothing.
        return Err(AppError::Invalid {
            field: "body",
            message: "give at least one of name, redirect_uris, post_logout_redirect_uris, \
                      first_party, backchannel_logout_uri, backchannel_logout_session_required, \
                      id_token_signed_response_alg"
                .into(),
        }
        .into());
    }
    let old = app.oidc_client(&id).await?;
    let spec = ClientSpec {
        name: patch.name.unwrap_or(old.name),
        redirect_uris: patch.redirect_uris.unwrap_or(old.redirect_uris),
        post_logout_redirect_uris: patch
            .post_logout_redirect_uris
            .unwrap_or(old.post_logout_redirect_uris),
        first_party: patch.first_party.unwrap_or(old.first_party),
        backchannel_logout_uri: match patch.backchannel_logout_uri {
            Some(u) if u.trim().is_empty() => None,
            Some(u) => Some(u),
            None => old.backchannel_logout_uri,
        },
        backchannel_logout_session_required: patch
            .backchannel_logout_session_required
            .unwrap_or(old.backchannel_logout_session_required),
        id_token_alg: patch.id_token_signed_response_alg,
    };
    Ok(axum::Json(
        (&app.oidc_update_client(&id, &spec, op.actor()).await?).into(),
    ))
}

/// Gives a confidential client a new secret, in the answer once; the old one
/// stops working at once (hand the new one to the app first, or expect its
/// token requests to fail until it has it). Audited `oidc.client_changed`
/// (`change: secret_rotated`).
#[utoipa::path(post, path = "/admin/oidc/clients/{id}/rotate-secret", tag = "oidc",
    params(("id" = String, Path, description = "the client_id")),
    responses((status = 200, body = ClientWithSecret),
              (status = 400, body = ErrorBody, description = "a public client has no secret"),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("operator" = [])))]
async fn rotate_secret(
    State(app): AppState,
    OperatorAuth(op): OperatorAuth,
    ApiPath(id): ApiPath<String>,
) -> Result<axum::Json<ClientWithSecret>, ApiError> {
    let secret = app.oidc_rotate_client_secret(&id, op.actor()).await?;
    Ok(axum::Json(ClientWithSecret {
        client: (&app.oidc_client(&id).await?).into(),
        client_secret: Some(secret.expose().to_owned()),
    }))
}

/// What a disable did.
#[derive(Serialize, ToSchema)]
pub struct ClientChange {
    /// False when it was disabled already (nothing written, nothing audited).
    pub changed: bool,
    /// The client, after the change.
    pub client: ClientView,
}

/// Disables a client: it signs no one in, its secret is refused, and every
/// grant it holds is revoked (refresh tokens refused, introspection inactive).
/// Audited `oidc.client_changed` (`change: disabled`).
#[utoipa::path(post, path = "/admin/oidc/clients/{id}/disable", tag = "oidc",
    params(("id" = String, Path, description = "the client_id")),
    responses((status = 200, body = ClientChange), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("operator" = [])))]
async fn disable(
    State(app): AppState,
    OperatorAuth(op): OperatorAuth,
    ApiPath(id): ApiPath<String>,
) -> Result<axum::Json<ClientChange>, ApiError> {
    let changed = app.oidc_disable_client(&id, op.actor()).await?;
    Ok(axum::Json(ClientChange {
        changed,
        client: (&app.oidc_client(&id).await?).into(),
    }))
}

/// The routes with their OpenAPI entries.
pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show, update))
        .routes(routes!(rotate_secret))
        .routes(routes!(disable))
}
