//! The one place where errors become HTTP responses.
//!
//! JSON errors always have the shape `{"error": {"code": "...", "message": "..."}}`
//! (plus `field` for invalid input). Messages are safe to show: an unexpected
//! error is logged with its cause chain and shown only as "internal error".
//!
//! The one exception: the OpenID Connect token, introspection and revocation
//! endpoints answer in the OAuth shape (`{"error": "invalid_grant", …}`, RFC
//! 6749 §5.2) that every OAuth library expects — see `http/oidc.rs`.

use std::sync::Arc;

use axum::extract::rejection::{FormRejection, JsonRejection};
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::{App, AppError};

/// The error envelope.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `invalid_credentials`.
    pub code: &'static str,
    /// Human-readable explanation, safe to show.
    pub message: String,
    /// The request field at fault, for `invalid_input` and `breached_password`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<&'static str>,
    /// For `invalid_events`: every bad event of the batch, by index.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<crate::app::ItemError>>,
}

/// An error answered as JSON.
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    field: Option<&'static str>,
    items: Option<Vec<crate::app::ItemError>>,
    retry_after: Option<u64>,
}

impl ApiError {
    /// An error with an explicit status and code.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
            items: None,
            retry_after: None,
        }
    }

    /// The status this error is answered with.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The message shown to the client.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The Retry-After seconds, for 429 and 503.
    pub fn retry_after(&self) -> Option<u64> {
        self.retry_after
    }
}

/// Why the store cannot work for now, if that is what `err` is (a
/// [`gatehouse_store::StoreError`] anywhere in its chain).
pub(crate) fn store_unavailable(err: &anyhow::Error) -> Option<&'static str> {
    err.chain()
        .find_map(|c| c.downcast_ref::<gatehouse_store::StoreError>())
        .and_then(gatehouse_store::StoreError::unavailable)
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        use StatusCode as S;
        let message = e.to_string();
        let (status, code) = match &e {
            AppError::Invalid { .. } | AppError::InvalidRequest(_) => {
                (S::BAD_REQUEST, "invalid_input")
            }
            AppError::InvalidCredentials => (S::UNAUTHORIZED, "invalid_credentials"),
            AppError::WrongCurrentPassword => (S::FORBIDDEN, "wrong_password"),
            AppError::Throttled(_) => (S::TOO_MANY_REQUESTS, "too_many_attempts"),
            AppError::Overloaded => (S::SERVICE_UNAVAILABLE, "overloaded"),
            AppError::Unauthenticated => (S::UNAUTHORIZED, "unauthenticated"),
            AppError::Forbidden => (S::FORBIDDEN, "forbidden"),
            AppError::NotFound(_) => (S::NOT_FOUND, "not_found"),
            AppError::Conflict(_) => (S::CONFLICT, "conflict"),
            AppError::RecoveryCodeInvalid => (S::BAD_REQUEST, "invalid_recovery_code"),
            AppError::BreachedPassword { .. } => (S::BAD_REQUEST, "breached_password"),
            // 409, not 5xx: nothing is wrong with the server, and retrying
            // does not help until an operator loads a usable index.
            AppError::BreachIndexUnavailable => (S::CONFLICT, "breach_index_unavailable"),
            AppError::BreachReloadFailed(_) => (S::CONFLICT, "breach_reload_failed"),
            // 400, not 413: the body may be small; the batch breaks a stated limit.
            AppError::TooManyEvents { .. } => (S::BAD_REQUEST, "too_many_events"),
            AppError::InvalidEvents { .. } => (S::BAD_REQUEST, "invalid_events"),
            AppError::InvalidRule(_) => (S::BAD_REQUEST, "invalid_rule"),
            AppError::CampaignRefused(_) => (S::CONFLICT, "campaign_refused"),
            AppError::Unexpected(err) => {
                // The database down, restarting or out of disk is the site's
                // state, not a bug: 503 saying which, and when to try again.
                if let Some(why) = store_unavailable(err) {
                    tracing::error!(error = %err, "{why}: request refused with 503");
                    return Self {
                        retry_after: Some(5),
                        ..Self::new(
                            S::SERVICE_UNAVAILABLE,
                            "unavailable",
                            format!("{why}; the request was not completed: try again in a moment"),
                        )
                    };
                }
                tracing::error!(error = ?err, "unexpected error");
                return Self::new(S::INTERNAL_SERVER_ERROR, "internal", "internal error");
            }
        };
        let retry_after = match &e {
            AppError::Throttled(d) => Some(d.as_secs_f64().ceil().max(1.0) as u64),
            AppError::Overloaded => Some(1),
            _ => None,
        };
        let field = match &e {
            AppError::Invalid { field, .. } | AppError::BreachedPassword { field, .. } => {
                Some(*field)
            }
            _ => None,
        };
        let items = match e {
            AppError::InvalidEvents { items, .. } => Some(items),
            _ => None,
        };
        Self {
            status,
            code,
            message,
            field,
            items,
            retry_after,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message,
                field: self.field,
                items: self.items,
            },
        };
        let mut res = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        res
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        ApiError::from(self).into_response()
    }
}

/// Maps body-reading failures (shared by JSON and forms).
fn body_rejection(status: StatusCode, text: String, what: &str) -> ApiError {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            status,
            "payload_too_large",
            "the request body is larger than the server accepts",
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::new(
            status,
            "unsupported_media_type",
            format!("expected a {what} body with the matching Content-Type"),
        ),
        _ => ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_body",
            format!("the {what} body could not be read: {text}"),
        ),
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        body_rejection(r.status(), r.body_text(), "JSON")
    }
}

impl From<FormRejection> for ApiError {
    fn from(r: FormRejection) -> Self {
        body_rejection(r.status(), r.body_text(), "form")
    }
}

/// `Json<T>` whose rejections use the error shape.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        // Every JSON body of the API is an object. serde would also read a
        // struct from an array of its fields in order (`[null, 5]`), which
        // nobody means and the document does not allow.
        let axum::Json(mut v) = axum::Json::<serde_json::Value>::from_request(req, state).await?;
        integral_numbers_as_integers(&mut v);
        if !v.is_object() {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "malformed_body",
                "the JSON body must be an object",
            ));
        }
        serde_json::from_value(v).map(Self).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "malformed_body",
                format!("the JSON body could not be read: {e}"),
            )
        })
    }
}

/// JSON (and the document's JSON Schema) has one number type: `20.0` is the
/// integer 20. serde would refuse it for an integer field, so integral
/// floats are made integers before the body is read.
fn integral_numbers_as_integers(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::Number(n) if !n.is_i64() && !n.is_u64() => {
            // Only where a float holds integers exactly (below 2^53): an
            // integer literal too large for 64 bits also arrives as a float,
            // and must stay out of range rather than become the nearest bound.
            const EXACT: f64 = 9_007_199_254_740_992.0;
            if let Some(f) = n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < EXACT) {
                *v = Value::from(f as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_numbers_as_integers),
        Value::Object(m) => m.values_mut().for_each(integral_numbers_as_integers),
        _ => {}
    }
}

/// `Query<T>` whose rejections use the error shape: 400 `invalid_input`
/// naming the query string's problem (a bad number, a duplicate parameter).
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequestParts<S>
    for ApiQuery<T>
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| Self(v))
            .map_err(|r| {
                let mut e = ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_input",
                    format!("the query string is not valid: {}", r.body_text()),
                );
                e.field = Some("query");
                e
            })
    }
}

/// `Path<T>` whose rejections use the error shape: a path segment that does
/// not decode (e.g. `%FF`) names nothing, so 404 `not_found`.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned + Send> axum::extract::FromRequestParts<S>
    for ApiPath<T>
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| Self(v))
            .map_err(|_| ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such resource"))
    }
}

/// 404 for any path no route matches.
pub async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such resource")
}

/// 405 for a known path with the wrong method.
pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this method is not allowed here",
    )
}

/// Marks the CSRF layer's refusal (a form posted from another origin), so
/// [`refusals_as_pages`] can tell it from a handler's own 403.
#[derive(Clone, Copy)]
struct CrossOriginRefused;

/// The CSRF layer's answer: the API's JSON error, marked as a cross-origin
/// refusal. The layer sees no route, so whether a person gets a page instead
/// is decided by [`refusals_as_pages`], around it.
pub(crate) fn cross_origin_refused() -> Response {
    let mut res = ApiError::new(
        StatusCode::FORBIDDEN,
        "cross_origin_request",
        "cross-origin form submissions are refused",
    )
    .into_response();
    res.extensions_mut().insert(CrossOriginRefused);
    res
}

/// Whether `path` is one of the pages people read, rather than the JSON API
/// or an endpoint for machines (their callers read the JSON error shape).
pub(crate) fn is_page_path(path: &str) -> bool {
    !(path.starts_with("/api/")
        || matches!(
            path,
            "/healthz" | "/metrics" | "/openapi.json" | "/status.atom"
        ))
}

/// Middleware around the CSRF layer: a refused cross-origin post to a page
/// is answered with a page (same 403, plain words, a way back) instead of
/// the JSON a person's browser would otherwise show; the API keeps its JSON.
pub(crate) async fn refusals_as_pages(
    State(app): State<Arc<App>>,
    req: Request,
    next: axum::middleware::Next,
) -> Response {
    let page = is_page_path(req.uri().path());
    let console = req.uri().path().starts_with("/console");
    let res = next.run(req).await;
    if !page || res.extensions().get::<CrossOriginRefused>().is_none() {
        return res;
    }
    let status = res.status();
    let (site_name, link) = if console {
        (
            crate::http::console::CONSOLE_NAME,
            ("/console", "Back to the console"),
        )
    } else {
        (app.config.site_name.as_str(), ("/", "Go to the start page"))
    };
    crate::http::pages::refusal(
        site_name,
        status,
        "This form came from another site",
        format!(
            "{site_name} accepts forms only from its own pages, so nothing was changed. \
             If you meant to do this, type {} into your browser yourself and try again there.",
            app.config.public_origin()
        ),
        link,
    )
}

/// The most rows one page of a list answers.
pub const MAX_PAGE: i64 = 1000;

/// A page size from the query: `default` when absent, a 400 naming `limit`
/// outside 1..=[`MAX_PAGE`] (the document declares that range; answering
/// another size than the one asked for would be a quiet surprise).
pub fn page_limit(limit: Option<i64>, default: i64) -> Result<i64, AppError> {
    match limit {
        None => Ok(default),
        Some(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
        Some(n) => Err(AppError::Invalid {
            field: "limit",
            message: format!("{n} is not a page size: give 1 to {MAX_PAGE}"),
        }),
    }
}
