//! The Shared Signals Framework 1.0 transmitter's endpoints (issue 17):
//! `/.well-known/ssf-configuration` and stream management under `/ssf/`.
//!
//! Receivers authenticate as their registered OIDC client with
//! `client_secret_basic` (RFC 6749 §2.3.1; the metadata's
//! `authorization_schemes` says `urn:ietf:rfc:6749`). Errors use the OAuth
//! shape, like the other OpenID endpoints, with SSF's statuses (400, 401,
//! 404, 409).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::oidc::{OAuthErrorBody, client_credentials};
use crate::app::App;
use crate::app::oidc::{
    SsfError, StreamConfig, StreamRequest, StreamStatusBody, SubjectRequest, VerifyRequest,
};

type AppState = State<Arc<App>>;

/// Which stream (`GET`/`DELETE` of the configuration, `GET` of the status).
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    /// The stream; without it, `GET /ssf/streams` lists the receiver's.
    stream_id: Option<String>,
}

/// Every refusal of the transmitter's endpoints becomes HTTP here, and only
/// here: the OAuth error shape with the refusal's status, never cached, and
/// a `Basic` challenge with a 401.
impl IntoResponse for SsfError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        let mut res = (
            status,
            axum::Json(OAuthErrorBody {
                error: self.code.to_owned(),
                error_description: self.description,
            }),
        )
            .into_response();
        let h = res.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if status == StatusCode::UNAUTHORIZED {
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"gatehouse\""),
            );
        }
        res
    }
}

/// What a handler answers: its response, or a refusal mapped above.
type Answer = Result<Response, SsfError>;

fn json<T: serde::Serialize>(status: StatusCode, body: T) -> Response {
    (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(body),
    )
        .into_response()
}

/// The receiver (client id) the request authenticates as.
async fn receiver(app: &App, headers: &HeaderMap) -> Result<String, SsfError> {
    let creds = client_credentials(headers, &mut Default::default())?;
    app.ssf_receiver(&creds).await
}

/// A JSON body, refused in the OAuth shape when it is not one.
fn body<T: DeserializeOwned>(headers: &HeaderMap, bytes: &[u8]) -> Result<T, SsfError> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return Err(SsfError {
            status: 415,
            code: "invalid_request",
            description: "the body must be application/json".into(),
        });
    }
    serde_json::from_slice(bytes).map_err(|e| SsfError {
        status: 400,
        code: "invalid_request",
        description: format!("the body cannot be read: {e}"),
    })
}

fn required(id: Option<String>) -> Result<String, SsfError> {
    id.ok_or_else(|| SsfError {
        status: 400,
        code: "invalid_request",
        description: "stream_id is required".into(),
    })
}

/// The transmitter configuration metadata (SSF 1.0 §7).
#[utoipa::path(get, path = "/.well-known/ssf-configuration", tag = "ssf",
    responses((status = 200, description = "The transmitter metadata: issuer, jwks_uri, push delivery, the stream endpoints, authorization_schemes")))]
async fn configuration(State(app): AppState) -> Response {
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        axum::Json(app.ssf_configuration()),
    )
        .into_response()
}

/// Creates the receiver's stream (one per receiver; push delivery).
#[utoipa::path(post, path = "/ssf/streams", tag = "ssf",
    request_body(content = StreamRequest, content_type = "application/json"),
    responses((status = 201, body = StreamConfig), (status = 400, body = OAuthErrorBody),
              (status = 401, body = OAuthErrorBody), (status = 409, body = OAuthErrorBody),
              (status = 415, body = OAuthErrorBody)))]
async fn create_stream(State(app): AppState, headers: HeaderMap, bytes: Bytes) -> Answer {
    let client = receiver(&app, &headers).await?;
    let req: StreamRequest = body(&headers, &bytes)?;
    let created = app.ssf_create_stream(&client, &req).await?;
    Ok(json(StatusCode::CREATED, created))
}

/// The receiver's stream (`stream_id`), or all of them (a list of at most one).
#[utoipa::path(get, path = "/ssf/streams", tag = "ssf", params(StreamQuery),
    responses((status = 200, content_type = "application/json", description = "With stream_id: that stream's configuration (as `POST` answers); without: a JSON array of the receiver's streams (at most one)"),
              (status = 400, body = OAuthErrorBody), (status = 401, body = OAuthErrorBody),
              (status = 404, body = OAuthErrorBody)))]
async fn read_stream(
    State(app): AppState,
    headers: HeaderMap,
    Query(q): Query<StreamQuery>,
) -> Answer {
    let client = receiver(&app, &headers).await?;
    let one = q.stream_id.is_some();
    let mut list = app.ssf_streams(&client, q.stream_id.as_deref()).await?;
    Ok(if one {
        json(StatusCode::OK, list.pop())
    } else {
        json(StatusCode::OK, list)
    })
}

/// Updates the stream: the fields given (`stream_id` required).
#[utoipa::path(patch, path = "/ssf/streams", tag = "ssf",
    request_body(content = StreamRequest, content_type = "application/json"),
    responses((status = 200, body = StreamConfig), (status = 400, body = OAuthErrorBody),
              (status = 401, body = OAuthErrorBody), (status = 404, body = OAuthErrorBody),
              (status = 415, body = OAuthErrorBody)))]
async fn update_stream(State(app): AppState, headers: HeaderMap, bytes: Bytes) -> Answer {
    change_stream(&app, &headers, &bytes, false).await
}

/// Replaces the stream's configuration (`stream_id` and `delivery` required).
#[utoipa::path(put, path = "/ssf/streams", tag = "ssf",
    request_body(content = StreamRequest, content_type = "application/json"),
    responses((status = 200, body = StreamConfig), (status = 400, body = OAuthErrorBody),
              (status = 401, body = OAuthErrorBody), (status = 404, body = OAuthErrorBody),
              (status = 415, body = OAuthErrorBody)))]
async fn replace_stream(State(app): AppState, headers: HeaderMap, bytes: Bytes) -> Answer {
    change_stream(&app, &headers, &bytes, true).await
}

async fn change_stream(app: &App, headers: &HeaderMap, bytes: &[u8], replace: bool) -> Answer {
    let client = receiver(app, headers).await?;
    let req: StreamRequest = body(headers, bytes)?;
    let changed = app.ssf_update_stream(&client, &req, replace).await?;
    Ok(json(StatusCode::OK, changed))
}

/// Deletes the stream; its SETs not sent yet are dropped.
#[utoipa::path(delete, path = "/ssf/streams", tag = "ssf", params(StreamQuery),
    responses((status = 204, description = "Deleted"), (status = 400, body = OAuthErrorBody),
              (status = 401, body = OAuthErrorBody), (status = 404, body = OAuthErrorBody)))]
async fn delete_stream(
    State(app): AppState,
    headers: HeaderMap,
    Query(q): Query<StreamQuery>,
) -> Answer {
    let client = receiver(&app, &headers).await?;
    app.ssf_delete_stream(&client, &required(q.stream_id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A stream's status.
#[utoipa::path(get, path = "/ssf/status", tag = "ssf", params(StreamQuery),
    responses((status = 200, body = StreamStatusBody), (status = 400, body = OAuthErrorBody),
              (status = 401, body = OAuthErrorBody), (status = 404, body = OAuthErrorBody)))]
async fn read_status(
    State(app): AppState,
    headers: HeaderMap,
    Query(q): Query<StreamQuery>,
) -> Answer {
    let client = receiver(&app, &headers).await?;
    let status = app.ssf_status(&client, &required(q.stream_id)?).await?;
    Ok(json(StatusCode::OK, status))
}

/// Sets a stream's status: `enabled`, `paused` (SETs held) or `disabled`
/// (none written; those not sent dropped).
#[utoipa::path(post, path = "/ssf/status", tag = "ssf",
    request_body(content = StreamStatusBody, content_type = "application/json"),
    responses((status = 200, body = StreamStatusBody), (status = 400, body = OAuthErrorBody),
              (status = 401, body = OAuthErrorBody), (status = 404, body = OAuthErrorBody),
              (status = 415, body = OAuthErrorBody)))]
async fn update_status(State(app): AppState, headers: HeaderMap, bytes: Bytes) -> Answer {
    let client = receiver(&app, &headers).await?;
    let req: StreamStatusBody = body(&headers, &bytes)?;
    let status = app.ssf_set_status(&client, &req).await?;
    Ok(json(StatusCode::OK, status))
}

/// Adds a subject (RFC 9493 `email` or `iss_sub`) to the stream. A subject
/// naming no account is accepted and ignored.
#[utoipa::path(post, path = "/ssf/subjects:add", tag = "ssf",
    request_body(content = SubjectRequest, content_type = "application/json"),
    responses((status = 200, description = "Added (or nothing to add)"), (status = 400, body = OAuthErrorBody),
              (status = 401, body = OAuthErrorBody), (status = 404, body = OAuthErrorBody),
              (status = 415, body = OAuthErrorBody)))]
async fn add_subject(State(app): AppState, headers: HeaderMap, bytes: Bytes) -> Answer {
    let client = receiver(&app, &headers).await?;
    let req: SubjectRequest = body(&headers, &bytes)?;
    app.ssf_add_subject(&client, &req).await?;
    Ok((StatusCode::OK, [(header::CACHE_CONTROL, "no-store")]).into_response())
}

/// Removes a subject from the stream.
#[utoipa::path(post, path = "/ssf/subjects:remove", tag = "ssf",
    request_body(content = SubjectRequest, content_type = "application/json"),
    responses((status = 204, description = "Removed (or was not there)"), (status = 400, body = OAuthErrorBody),
              (status = 401, body = OAuthErrorBody), (status = 404, body = OAuthErrorBody),
              (status = 415, body = OAuthErrorBody)))]
async fn remove_subject(State(app): AppState, headers: HeaderMap, bytes: Bytes) -> Answer {
    let client = receiver(&app, &headers).await?;
    let req: SubjectRequest = body(&headers, &bytes)?;
    app.ssf_remove_subject(&client, &req).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Asks for a verification event, sent to the stream like every SET.
#[utoipa::path(post, path = "/ssf/verify", tag = "ssf",
    request_body(content = VerifyRequest, content_type = "application/json"),
    responses((status = 204, description = "Queued"), (status = 400, body = OAuthErrorBody),
              (status = 401, body = OAuthErrorBody), (status = 404, body = OAuthErrorBody),
              (status = 409, body = OAuthErrorBody), (status = 415, body = OAuthErrorBody)))]
async fn verify(State(app): AppState, headers: HeaderMap, bytes: Bytes) -> Answer {
    let client = receiver(&app, &headers).await?;
    let req: VerifyRequest = body(&headers, &bytes)?;
    app.ssf_verify(&client, &req).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The transmitter's endpoints, for the API description.
pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(configuration))
        .routes(routes!(
            create_stream,
            read_stream,
            update_stream,
            replace_stream,
            delete_stream
        ))
        .routes(routes!(read_status, update_status))
        .routes(routes!(add_subject))
        .routes(routes!(remove_subject))
        .routes(routes!(verify))
}
