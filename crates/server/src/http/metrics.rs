//! Prometheus metrics: one process-wide recorder, rendered at `/metrics`.

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
    let (requests, duration) =
        SERIES
            .get_or_init(SeriesCache::default)
            .get(method.as_str(), route, res.status().as_u16());
    requests.increment(1);
    duration.record(start.elapsed().as_secs_f64());
    res
}
