//! Prometheus metrics: one process-wide recorder, rendered at `/metrics` for
//! whoever presents the metrics token (`metrics_token_file`); without one
//! configured, `/metrics` is off (404): the counters tell an outsider how many
//! people sign in, recover and get reset, and when.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{OnceLock, RwLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics::{Counter, Histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's recorder handle, installing it on first use. If another
/// recorder was installed first (an embedding program's), metrics go there
/// and `/metrics` renders an empty page.
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&[
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ])
            .expect("static buckets are valid")
            .build_recorder();
        let handle = recorder.handle();
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// The counter and histogram for one (method, route, status).
struct Series {
    method: Box<str>,
    route: Box<str>,
    status: u16,
    requests: Counter,
    duration: Histogram,
}

/// Handles already registered, so the hot path neither allocates label
/// strings nor searches the registry: a read lock and a hash lookup.
/// Bounded: routes are templates (never raw paths) and statuses few.
#[derive(Default)]
struct SeriesCache {
    hasher: std::collections::hash_map::RandomState,
    map: RwLock<HashMap<u64, Vec<Series>>>,
}

impl SeriesCache {
    fn get(&self, method: &str, route: &str, status: u16) -> (Counter, Histogram) {
        let key = self.hasher.hash_one((method, route, status));
        let found = |list: &Vec<Series>| {
            list.iter()
                .find(|s| s.status == status && &*s.method == method && &*s.route == route)
                .map(|s| (s.requests.clone(), s.duration.clone()))
        };
        if let Some(hit) = self
            .map
            .read()
            .ok()
            .and_then(|m| m.get(&key).and_then(found))
        {
            return hit;
        }
        let requests = metrics::counter!(
            "http_requests_total",
            "method" => method.to_owned(),
            "route" => route.to_owned(),
            "status" => status.to_string()
        );
        let duration =
            metrics::histogram!("http_request_duration_seconds", "route" => route.to_owned());
        if let Ok(mut m) = self.map.write() {
            let list = m.entry(key).or_default();
            if found(list).is_none() {
                list.push(Series {
                    method: method.into(),
                    route: route.into(),
                    status,
                    requests: requests.clone(),
                    duration: duration.clone(),
                });
            }
        }
        (requests, duration)
    }
}

static SERIES: OnceLock<SeriesCache> = OnceLock::new();

/// Counts requests and their latency by route template (never the raw path,
/// which would let clients create unbounded label values).
pub async fn track(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = req.extensions().get::<MatchedPath>().cloned();
    let method = req.method().clone();
    let res = next.run(req).await;
    let route = route.as_ref().map_or("unmatched", |p| p.as_str());
    record(method.as_str(), route, res.status(), start);
    res
}

/// Counts one answer of `route` (a template, or a hot route's fixed path)
/// begun at `start`.
pub fn record(method: &str, route: &str, status: axum::http::StatusCode, start: Instant) {
    let (requests, duration) =
        SERIES
            .get_or_init(SeriesCache::default)
            .get(method, route, status.as_u16());
    requests.increment(1);
    duration.record(start.elapsed().as_secs_f64());
}

/// Reads the metrics bearer token from `path` (trimmed; at least 32 characters,
/// so it cannot be guessed).
pub fn load_token(path: &std::path::Path) -> anyhow::Result<secrecy::SecretString> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("metrics_token_file {}: {e}", path.display()))?;
    let token = text.trim();
    if token.chars().count() < 32 || token.chars().any(char::is_whitespace) {
        anyhow::bail!(
            "metrics_token_file {}: the token must be at least 32 characters without spaces \
             (e.g. from `openssl rand -hex 32`)",
            path.display()
        );
    }
    Ok(secrecy::SecretString::from(token.to_owned()))
}

/// `GET /metrics`: the Prometheus text for the bearer of `token`; 401 for
/// anyone else; 404 when no token is configured.
pub async fn serve(
    token: Option<std::sync::Arc<secrecy::SecretString>>,
    headers: axum::http::HeaderMap,
) -> Response {
    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse as _;
    use secrecy::ExposeSecret as _;
    use subtle::ConstantTimeEq as _;
    let Some(token) = token else {
        return (
            StatusCode::NOT_FOUND,
            "metrics are off: set metrics_token_file to serve them to Prometheus",
        )
            .into_response();
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    // Compared as SHA-256 digests: equal length, constant time, whatever was sent.
    use sha2::Digest as _;
    let ok: bool = sha2::Sha256::digest(given.as_bytes())
        .ct_eq(&sha2::Sha256::digest(token.expose_secret().as_bytes()))
        .into();
    if !ok {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer realm=\"metrics\"")],
            "the metrics token is required",
        )
            .into_response();
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle().render(),
    )
        .into_response()
}
