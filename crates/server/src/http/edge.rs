//! The edge: the one service every request enters first. It does, once and
//! without a layer each, what every answer needs — the request id (set and
//! echoed), sensitive request headers marked, the security headers from one
//! precomputed set, `Cache-Control: no-store` — and sends the hot read
//! routes (`/api/v1/me`, the breach check, userinfo, introspection,
//! discovery, JWKS) to a router of their own that skips what they cannot
//! use: the CSRF check (bearer or client credentials, never a browser's
//! ambient cookie, and no side effects) and the cross-origin refusal page.
//! Their timeout and metrics are applied here, with the route known
//! statically (no `MatchedPath` lookup, no label allocation).
//!
//! Why: `perf` put the breach check's own work under 0.7 % of samples; the
//! rest was a dozen layers (six of them adding one header each, every one a
//! future and a clone) and the nested router (BENCHMARKS.md, issue 19).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower::Service;

use super::error::ApiError;

const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The hot routes: `(method, path)`, matched exactly (they have no path
/// parameters), each its own metrics label. Any other method on these paths
/// goes the full way (and gets its 405 there).
const HOT: &[(Method, &str)] = &[
    (Method::GET, "/api/v1/me"),
    (Method::POST, "/api/v1/breach/check"),
    (Method::GET, "/oauth2/userinfo"),
    (Method::POST, "/oauth2/userinfo"),
    (Method::POST, "/oauth2/introspect"),
    (Method::GET, "/.well-known/openid-configuration"),
    (Method::GET, "/oauth2/jwks"),
];

/// The hot route `req` asks for, if any: its index in [`HOT`].
fn hot_route(method: &Method, path: &str) -> Option<usize> {
    HOT.iter().position(|(m, p)| m == method && *p == path)
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
        // One growth of the map instead of one per insert.
        headers.reserve(self.if_absent.len() + 3);
        if !headers.contains_key(&X_REQUEST_ID) {
            headers.insert(X_REQUEST_ID.clone(), id);
        }
        for (name, value) in &self.if_absent {
            if !headers.contains_key(name) {
                headers.insert(name.clone(), value.clone());
            }
        }
        if let Some(hsts) = &self.hsts {
            headers.insert(header::STRICT_TRANSPORT_SECURITY, hsts.clone());
        }
        if no_store && !headers.contains_key(header::CACHE_CONTROL) {
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
    }
}

/// The outermost service: see the module comment. `hot` and `full` are
/// complete routers with their own panic catching and tracing.
#[derive(Clone)]
pub(super) struct Edge {
    pub(super) hot: Router,
    pub(super) full: Router,
    pub(super) config: Arc<EdgeConfig>,
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
        let config = self.config.clone();
        let id = match req.headers().get(&X_REQUEST_ID) {
            Some(given) => given.clone(),
            None => {
                let id = config.ids.next();
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
        match hot_route(req.method(), req.uri().path()) {
            Some(route) => {
                let start = Instant::now();
                let fut = self.hot.call(req);
                Box::pin(async move {
                    let mut res = match tokio::time::timeout(config.timeout, fut).await {
                        Ok(res) => res.unwrap_or_else(|e| match e {}),
                        Err(_) => timed_out(config.timeout),
                    };
                    let (method, path) = &HOT[route];
                    super::metrics::record(method.as_str(), path, res.status(), start);
                    config.finish(res.headers_mut(), id, no_store);
                    Ok(res)
                })
            }
            None => {
                let fut = self.full.call(req);
                Box::pin(async move {
                    let mut res = fut.await.unwrap_or_else(|e| match e {});
                    config.finish(res.headers_mut(), id, no_store);
                    Ok(res)
                })
            }
        }
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
        assert!(hot_route(&Method::GET, "/api/v1/me").is_some());
        assert!(hot_route(&Method::POST, "/api/v1/me").is_none());
        assert!(hot_route(&Method::GET, "/api/v1/me/").is_none());
        assert!(hot_route(&Method::GET, "/api/v1/breach/check").is_none());
        assert!(hot_route(&Method::POST, "/oauth2/token").is_none());
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
