//! The HTTP surface: JSON API (`/api/v1`), pages, `/healthz`, `/metrics`,
//! `/openapi.json`, and the middleware every request passes through.

pub mod api;
pub mod app_deliveries_api;
pub mod breach_api;
pub mod campaigns_api;
pub mod console;
pub mod cookies;
mod edge;
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
pub mod ssf;
pub mod status_api;
pub mod status_pages;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::csrf::CsrfLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::app::App;
use error::ApiError;

/// The complete application router, with middleware, for `app`.
pub fn router(app: Arc<App>) -> anyhow::Result<HttpService> {
    // Install the recorder before the first request, so none goes uncounted.
    metrics::handle();
    let (api, mut spec) = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(utoipa_axum::routes!(healthz))
        .merge(oidc::router())
        .merge(ssf::router())
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
    let refusals_app = app.clone();

    let catch_panic = || {
        CatchPanicLayer::custom(|_| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error",
            )
            .into_response()
        })
    };

    let full = Router::new()
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
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(app)
        .layer(
            ServiceBuilder::new()
                .layer(catch_panic())
                .layer(TraceLayer::new_for_http())
                // Outside the CSRF layer: its refusal of a page's form becomes a page.
                .layer(axum::middleware::from_fn_with_state(
                    refusals,
                    error::refusals_as_pages,
                ))
                .layer(csrf),
        );

    // The request id, sensitive headers, security headers and `no-store`
    // are the edge's, for the hot routes and the full router alike (one
    // precomputed set, one pass); the hot routes skip the router (`edge.rs`).
    Ok(HttpService(edge::Edge::new(edge::EdgeParts {
        hot: hot_routes(),
        app: refusals_app,
        full,
        body_limit: DefaultBodyLimit::max(max_body),
        config: edge::EdgeConfig::new(https, timeout),
    })))
}

/// The whole HTTP surface, ready for [`serve`].
pub struct HttpService(edge::Edge);

/// The hot read routes the edge calls without a router (see `edge.rs`): the
/// same handlers the API description lists, which the full router also
/// serves (it answers their other methods).
fn hot_routes() -> Vec<edge::HotRoute> {
    use axum::handler::Handler as _;
    let mut routes = vec![
        edge::HotRoute {
            method: Method::GET,
            path: "/api/v1/me",
            handler: |req, app| api::me.call(req, app),
        },
        edge::HotRoute {
            method: Method::POST,
            path: "/api/v1/breach/check",
            handler: |req, app| breach_api::breach_check.call(req, app),
        },
    ];
    routes.extend(oidc::hot_routes());
    routes
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
        Err(_) => edge::timed_out(limit),
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

/// Serves `service` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    service: HttpService,
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
        axum::ServiceExt::<Request>::into_make_service_with_connect_info::<SocketAddr>(service.0),
    )
    .with_graceful_shutdown(shutdown)
    .await;
    upkeep.abort();
    out
}
