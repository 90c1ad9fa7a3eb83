//! The HTTP surface: JSON API (`/api/v1`), pages, `/healthz`, `/metrics`,
//! `/openapi.json`, and the middleware every request passes through.

pub mod api;
pub mod app_deliveries_api;
pub mod breach_api;
pub mod campaigns_api;
pub mod console;
pub mod cookies;
pub mod error;
pub mod events_api;
pub mod extract;
mod metrics;
pub mod notices_api;
// OpenID Connect provider (issue 16): JSON endpoints, and the authorize/logout pages.
pub mod oidc;
pub mod oidc_clients_api;
pub mod oidc_pages;
pub(crate) mod openapi;
pub mod operators_api;
pub mod pages;
pub mod recovery_pages;
pub mod rules_api;
pub mod status_api;
pub mod status_pages;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::csrf::CsrfLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::app::App;
use error::ApiError;

const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

/// The complete application router, with middleware, for `app`.
pub fn router(app: Arc<App>) -> anyhow::Result<Router> {
    // Install the recorder before the first request, so none goes uncounted.
    metrics::handle();
    let (api, mut spec) = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(utoipa_axum::routes!(healthz))
        .merge(oidc::router())
        .nest(
            "/api/v1",
            api::router()
                .merge(notices_api::router())
                .merge(app_deliveries_api::router())
                .merge(breach_api::router())
                .merge(events_api::router())
                .merge(rules_api::router())
                .merge(campaigns_api::router())
                .merge(operators_api::router())
                .merge(oidc_clients_api::router())
                .merge(status_api::router()),
        )
        .split_for_parts();
    openapi::complete(&mut spec);
    let spec = Arc::new(openapi::served(&spec));

    let api = api
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed);
    let csrf = CsrfLayer::new()
        .add_trusted_origin(app.config.public_origin())
        .map_err(|e| anyhow::anyhow!("public_url cannot be a CSRF origin: {e:?}"))?
        .with_rejection_response(|_e| error::cross_origin_refused());
    let https = app.config.is_https();
    let metrics_token = app
        .config
        .metrics_token_file
        .as_deref()
        .map(metrics::load_token)
        .transpose()?
        .map(Arc::new);
    let timeout = app.config.request_timeout;
    let max_body = app.config.max_body_bytes;
    let refusals = app.clone();

    let router = Router::new()
        .merge(api)
        .merge(pages::router())
        .merge(oidc_pages::router())
        .merge(status_pages::router())
        .merge(console::router())
        .route(
            "/metrics",
            get(move |headers: axum::http::HeaderMap| {
                metrics::serve(metrics_token.clone(), headers)
            }),
        )
        .route(
            "/openapi.json",
            get(move || async move { axum::Json(spec.as_ref().clone()) }),
        )
        .fallback(fallback)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(timeout, time_limit))
        .layer(axum::middleware::from_fn(metrics::track))
        .layer(axum::middleware::from_fn(no_store))
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(app);

    let hsts = https.then(|| HeaderValue::from_static("max-age=31536000; includeSubDomains"));
    let stack = ServiceBuilder::new()
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error",
            )
            .into_response()
        }))
        .layer(SetRequestIdLayer::x_request_id(SequentialRequestId::new()))
        .layer(SetSensitiveRequestHeadersLayer::new([
            header::AUTHORIZATION,
            header::COOKIE,
        ]))
        .layer(TraceLayer::new_for_http())
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::STRICT_TRANSPORT_SECURITY,
            hsts,
        ))
        // Outside the CSRF layer: its refusal of a page's form becomes a page.
        .layer(axum::middleware::from_fn_with_state(
            refusals,
            error::refusals_as_pages,
        ))
        .layer(csrf);
    Ok(router.layer(stack))
}

/// `Cache-Control: no-store` on every answer that did not choose its own
/// caching, except the public status page and the API description: session
/// tokens (`POST /sessions`), account pages and console pages with their
/// anti-forgery token must never sit in a shared or browser cache.
async fn no_store(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let path = req.uri().path();
    let public = req.method() == axum::http::Method::GET
        && (path == "/status"
            || path.starts_with("/status/")
            || path == "/status.atom"
            || path == "/openapi.json");
    let mut res = next.run(req).await;
    if !public && !res.headers().contains_key(header::CACHE_CONTROL) {
        res.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

/// Request ids: a random per-process prefix and a counter. Unique across
/// replicas and restarts for practical purposes, without a system call per
/// request (a UUID v4 per request cost one `getrandom` each).
#[derive(Clone)]
struct SequentialRequestId {
    prefix: Arc<str>,
    next: Arc<std::sync::atomic::AtomicU64>,
}

impl SequentialRequestId {
    fn new() -> Self {
        let mut b = [0u8; 6];
        gatehouse_domain::Entropy::fill(&gatehouse_domain::OsEntropy, &mut b);
        let prefix: String = b.iter().map(|x| format!("{x:02x}")).collect();
        Self {
            prefix: prefix.into(),
            next: Arc::new(std::sync::atomic::AtomicU64::new(1)),
        }
    }
}

impl MakeRequestId for SequentialRequestId {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        HeaderValue::from_str(&format!("{}-{n:x}", self.prefix))
            .ok()
            .map(RequestId::new)
    }
}

/// Health: the process answers and the database is reachable (else 503), and
/// what the workers found failing (the mail server refusing, the database
/// failing a worker's pass): `"status": "degraded"` with `problems`, still
/// 200 — the replica serves, and taking every replica out of a load
/// balancer because the mail server is down would only make things worse.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "`{\"status\": \"ok\"|\"degraded\", \"engine\": \"sqlite\"|\"postgres\", \"problems\": [{\"part\", \"since\", \"error\", \"failures\"}]}`"),
              (status = 503, body = error::ErrorBody)))]
async fn healthz(State(app): State<Arc<App>>) -> Response {
    // A database that does not answer within seconds is down, as far as a
    // load balancer is concerned (the pool would wait 10 s for a connection).
    let ping = tokio::time::timeout(std::time::Duration::from_secs(3), app.store.ping()).await;
    // The answer names the trouble; the details (which may name hosts) go
    // to the log only.
    let problem = match ping {
        Ok(Ok(())) => None,
        Ok(Err(e)) => {
            let why = e.unavailable().unwrap_or("the database is unreachable");
            tracing::error!(error = %e, "health check: {why}");
            Some(why)
        }
        Err(_) => {
            tracing::error!("health check: the database did not answer within 3 s");
            Some("the database is unreachable")
        }
    };
    match problem {
        None => {
            let problems = app.health.problems();
            let status = if problems.is_empty() {
                "ok"
            } else {
                "degraded"
            };
            axum::Json(serde_json::json!({
                "status": status,
                "engine": app.store.engine(),
                "problems": problems,
            }))
            .into_response()
        }
        Some(why) => {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unhealthy", why).into_response()
        }
    }
}

/// Ends a request that runs past `request_timeout_seconds` with a 503 in the
/// usual error shape (tower-http's timeout layer answers with an empty body).
async fn time_limit(
    State(limit): State<std::time::Duration>,
    req: Request,
    next: axum::middleware::Next,
) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(res) => res,
        Err(_) => {
            tracing::warn!(?limit, "request timed out");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "timeout",
                "the request took too long; try again",
            )
            .into_response()
        }
    }
}

/// JSON 404 under `/api`, an HTML page elsewhere.
async fn fallback(State(app): State<Arc<App>>, req: Request<Body>) -> Response {
    if req.uri().path().starts_with("/api/") {
        error::not_found().await.into_response()
    } else {
        pages::not_found_page(&app).await
    }
}

/// Serves `router` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Histograms must be drained now and then, or they grow without bound.
    let upkeep = tokio::spawn(async {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
        loop {
            tick.tick().await;
            metrics::handle().run_upkeep();
        }
    });
    let out = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await;
    upkeep.abort();
    out
}
