//! The edge: the one service every request enters first (it is what
//! `serve` runs; no router sits above it). It does, once and without a layer
//! each, what every answer needs — the request id (set and echoed), sensitive
//! request headers marked, the security headers from one precomputed set,
//! `Cache-Control: no-store` — and calls the hot read routes (`/api/v1/me`,
//! the breach check, userinfo, introspection, discovery, JWKS) straight from
//! a table, by exact method and path: no router, no CSRF check (bearer or
//! client credentials, never a browser's ambient cookie, and no side
//! effects), no cross-origin refusal page. What the layers did for them is
//! done here, each once: the body limit, the time limit, the request span
//! and its failure log, the panic catcher, the metrics (with the route known
//! statically: no `MatchedPath` lookup, no label allocation).
//!
//! Why: `perf` put the breach check's own work under 0.7 % of samples; the
//! rest was a dozen layers (six of them adding one header each, every one a
//! future and a clone) and the nested router (BENCHMARKS.md, issue 19). On
//! `/api/v1/me`, after the headers were merged, the router (route match, URL
//! parameters, matched path, a boxed service cloned per request), tower-http's
//! trace and panic layers (a future and a body wrapper each) and the router
//! the edge sat in were what remained of the stack.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower::Service;
use tracing::Instrument as _;

use super::error::ApiError;
use crate::app::App;

const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// What a hot route's handler returns: axum's own future for a handler.
pub(super) type HotFuture = Pin<Box<dyn Future<Output = Response> + Send>>;

/// A hot route: an exact method and path (they have no path parameters),
/// which is also its metrics label, and the handler, called with the app.
/// Any other method on the path goes the full way (and gets its 405 there).
pub(super) struct HotRoute {
    pub(super) method: Method,
    pub(super) path: &'static str,
    pub(super) handler: fn(Request, Arc<App>) -> HotFuture,
}

/// The hot route `method path` asks for, if any.
fn hot_route<'a>(routes: &'a [HotRoute], method: &Method, path: &str) -> Option<&'a HotRoute> {
    routes
        .iter()
        .find(|r| r.method == *method && r.path == path)
}

/// Whether an answer to `method path` may be cached when its handler did not
/// say: only the public status page and the API description. Everything else
/// (session tokens, account and console pages with their anti-forgery token)
/// must never sit in a shared or browser cache.
fn publicly_cacheable(method: &Method, path: &str) -> bool {
    *method == Method::GET
        && (path == "/status"
            || path.starts_with("/status/")
            || path == "/status.atom"
            || path == "/openapi.json")
}

/// What the edge adds, built once.
pub(super) struct EdgeConfig {
    /// Added when the handler did not set them (a page may set its own CSP).
    if_absent: Vec<(HeaderName, HeaderValue)>,
    /// Set on every answer over HTTPS, whatever the handler said.
    hsts: Option<HeaderValue>,
    ids: SequentialRequestId,
    /// `request_timeout_seconds`, for the hot routes (the full router has its own).
    timeout: Duration,
}

impl EdgeConfig {
    pub(super) fn new(https: bool, timeout: Duration) -> Self {
        let h = |v: &'static str| HeaderValue::from_static(v);
        Self {
            if_absent: vec![
                (header::CONTENT_SECURITY_POLICY, h(CSP)),
                (header::X_CONTENT_TYPE_OPTIONS, h("nosniff")),
                (header::X_FRAME_OPTIONS, h("DENY")),
                (header::REFERRER_POLICY, h("no-referrer")),
                (
                    HeaderName::from_static("cross-origin-opener-policy"),
                    h("same-origin"),
                ),
            ],
            hsts: https.then(|| h("max-age=31536000; includeSubDomains")),
            ids: SequentialRequestId::new(),
            timeout,
        }
    }

    /// The headers every answer leaves with.
    fn finish(&self, headers: &mut HeaderMap, id: HeaderValue, no_store: bool) {
        // One growth of the map instead of one per insert, and one hash of
        // each name (`entry`), not two (`contains_key`, then `insert`).
        headers.reserve(self.if_absent.len() + 3);
        headers.entry(&X_REQUEST_ID).or_insert(id);
        for (name, value) in &self.if_absent {
            headers.entry(name).or_insert_with(|| value.clone());
        }
        if let Some(hsts) = &self.hsts {
            headers.insert(header::STRICT_TRANSPORT_SECURITY, hsts.clone());
        }
        if no_store {
            headers
                .entry(header::CACHE_CONTROL)
                .or_insert_with(|| HeaderValue::from_static("no-store"));
        }
    }
}

/// The outermost service: see the module comment. `full` is the complete
/// router, with its own panic catching and tracing. Cloned for every request
/// (hyper's service glue does), so all of it sits behind one `Arc`.
#[derive(Clone)]
pub(super) struct Edge(Arc<EdgeParts>);

pub(super) struct EdgeParts {
    pub(super) hot: Vec<HotRoute>,
    pub(super) app: Arc<App>,
    pub(super) full: Router,
    pub(super) body_limit: DefaultBodyLimit,
    pub(super) config: EdgeConfig,
}

impl Edge {
    pub(super) fn new(parts: EdgeParts) -> Self {
        Self(Arc::new(parts))
    }
}

/// A handler future whose panic becomes `Err` (a 500 for the caller), as
/// tower-http's panic layer did, without its response-body wrapper.
struct CatchPanic(HotFuture);

impl Future for CatchPanic {
    type Output = Result<Response, ()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let fut = &mut self.0;
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| fut.as_mut().poll(cx))) {
            Ok(Poll::Ready(res)) => Poll::Ready(Ok(res)),
            Ok(Poll::Pending) => Poll::Pending,
            // The panic hook has printed the message and location already.
            Err(_) => Poll::Ready(Err(())),
        }
    }
}

/// The answer to a request whose handler panicked (as the full router's
/// panic layer answers).
pub(super) fn internal_error() -> Response {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "internal error",
    )
    .into_response()
}

impl Service<Request> for Edge {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // Routers are always ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        let parts = self.0.clone();
        let id = match req.headers().get(&X_REQUEST_ID) {
            Some(given) => given.clone(),
            None => {
                let id = parts.config.ids.next();
                req.headers_mut().insert(X_REQUEST_ID.clone(), id.clone());
                id
            }
        };
        req.extensions_mut()
            .insert(tower_http::request_id::RequestId::new(id.clone()));
        // Kept out of any log or debug output (tokens, session cookies).
        for name in [header::AUTHORIZATION, header::COOKIE] {
            if let header::Entry::Occupied(mut e) = req.headers_mut().entry(name) {
                for v in e.iter_mut() {
                    v.set_sensitive(true);
                }
            }
        }
        let no_store = !publicly_cacheable(req.method(), req.uri().path());
        let Some(route) = hot_route(&parts.hot, req.method(), req.uri().path()) else {
            let fut = parts.full.clone().call(req);
            return Box::pin(async move {
                let mut res = fut.await.unwrap_or_else(|e| match e {});
                parts.config.finish(res.headers_mut(), id, no_store);
                Ok(res)
            });
        };
        let start = Instant::now();
        let (method, path) = (route.method.clone(), route.path);
        parts.body_limit.apply(&mut req);
        // The span and events tower-http's trace layer made (DEBUG, failures
        // at ERROR), plus the request id; nothing is built when disabled.
        let span = tracing::debug_span!(
            "request",
            method = %req.method(),
            uri = %req.uri(),
            version = ?req.version(),
            request_id = ?id,
        );
        let handled = CatchPanic((route.handler)(req, parts.app.clone()));
        Box::pin(
            async move {
                tracing::debug!("started processing request");
                let timeout = parts.config.timeout;
                let mut res = match tokio::time::timeout(timeout, handled).await {
                    Ok(Ok(res)) => res,
                    Ok(Err(())) => internal_error(),
                    Err(_) => timed_out(timeout),
                };
                let latency = start.elapsed();
                if res.status().is_server_error() {
                    tracing::error!(status = res.status().as_u16(), ?latency, "response failed");
                } else {
                    tracing::debug!(
                        status = res.status().as_u16(),
                        ?latency,
                        "finished processing request"
                    );
                }
                super::metrics::record(method.as_str(), path, res.status(), start);
                parts.config.finish(res.headers_mut(), id, no_store);
                Ok(res)
            }
            .instrument(span),
        )
    }
}

/// The answer to a request that ran past `request_timeout_seconds`: a 503 in
/// the usual error shape (tower-http's timeout layer answers an empty body).
pub(super) fn timed_out(limit: Duration) -> Response {
    tracing::warn!(?limit, "request timed out");
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "timeout",
        "the request took too long; try again",
    )
    .into_response()
}

/// Request ids: a random per-process prefix and a counter. Unique across
/// replicas and restarts for practical purposes, without a system call per
/// request (a UUID v4 per request cost one `getrandom` each).
struct SequentialRequestId {
    prefix: String,
    next: std::sync::atomic::AtomicU64,
}

impl SequentialRequestId {
    fn new() -> Self {
        let mut b = [0u8; 6];
        gatehouse_domain::Entropy::fill(&gatehouse_domain::OsEntropy, &mut b);
        Self {
            prefix: b.iter().map(|x| format!("{x:02x}")).collect(),
            next: std::sync::atomic::AtomicU64::new(1),
        }
    }

    fn next(&self) -> HeaderValue {
        use std::fmt::Write as _;
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut s = String::with_capacity(self.prefix.len() + 17);
        s.push_str(&self.prefix);
        let _ = write!(s, "-{n:x}");
        HeaderValue::try_from(s).expect("hex digits and a dash are a valid header value")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_listed_method_and_exact_path_are_hot() {
        let routes = super::super::hot_routes();
        let hot = |m: Method, p: &str| hot_route(&routes, &m, p).map(|r| r.path);
        assert_eq!(hot(Method::GET, "/api/v1/me"), Some("/api/v1/me"));
        assert_eq!(hot(Method::POST, "/api/v1/me"), None);
        assert_eq!(hot(Method::GET, "/api/v1/me/"), None);
        assert_eq!(hot(Method::GET, "/api/v1/breach/check"), None);
        assert_eq!(
            hot(Method::POST, "/api/v1/breach/check"),
            Some("/api/v1/breach/check")
        );
        assert_eq!(
            hot(Method::POST, "/oauth2/userinfo"),
            Some("/oauth2/userinfo")
        );
        assert_eq!(hot(Method::POST, "/oauth2/token"), None);
    }

    #[test]
    fn headers_are_added_if_absent_and_hsts_always() {
        let config = EdgeConfig::new(true, Duration::from_secs(1));
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("mine"),
        );
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=1"),
        );
        config.finish(&mut h, HeaderValue::from_static("id-1"), true);
        assert_eq!(h[header::CONTENT_SECURITY_POLICY], "mine");
        assert_eq!(h[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(
            h[header::STRICT_TRANSPORT_SECURITY],
            "max-age=31536000; includeSubDomains"
        );
        assert_eq!(h[header::CACHE_CONTROL], "no-store");
        assert_eq!(h["x-request-id"], "id-1");
        let ids = SequentialRequestId::new();
        assert_ne!(ids.next(), ids.next());
    }
}
