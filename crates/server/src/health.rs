//! What the background workers found wrong with the services the site depends
//! on (the database, the mail server), for `/healthz` and the log: a worker
//! that fails says so here when the trouble starts and clears it when a pass
//! works again. In memory, per replica: each replica reports what its own
//! workers see.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use gatehouse_domain::Timestamp;

/// A shared register of failing parts (cheap to clone).
#[derive(Clone, Debug, Default)]
pub struct Health(Arc<Mutex<BTreeMap<&'static str, Problem>>>);

/// One part failing: since when, the latest error, how many failures.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// The part: `smtp` (the mail server refuses or does not answer),
    /// `delivery` or `campaigns` (the worker's passes fail, e.g. on the database).
    pub part: &'static str,
    /// When the first failure of this run of failures happened (RFC 3339).
    pub since: String,
    /// The latest error, as logged.
    pub error: String,
    /// Failures since `since`.
    pub failures: u64,
}

impl Health {
    /// Records a failure of `part`. Returns true for the first of a run, so
    /// that the caller can log the start of an outage once, loudly.
    pub fn failing(
        &self,
        part: &'static str,
        now: Timestamp,
        error: impl std::fmt::Display,
    ) -> bool {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let error = error.to_string();
        match map.get_mut(part) {
            Some(p) => {
                p.error = error;
                p.failures += 1;
                false
            }
            None => {
                map.insert(
                    part,
                    Problem {
                        part,
                        since: now.to_rfc3339(),
                        error,
                        failures: 1,
                    },
                );
                true
            }
        }
    }

    /// Records that `part` works again. Returns the run of failures it ends.
    pub fn recovered(&self, part: &'static str) -> Option<Problem> {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(part)
    }

    /// Every part failing now, by name.
    pub fn problems(&self) -> Vec<Problem> {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.values().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_of_failures_starts_once_and_ends_on_recovery() {
        let h = Health::default();
        let t0 = Timestamp::from_millis(1_000);
        assert!(h.failing("smtp", t0, "421 try later"));
        assert!(!h.failing(
            "smtp",
            t0.plus(std::time::Duration::from_secs(5)),
            "connection refused"
        ));
        let p = h.problems();
        assert_eq!(p.len(), 1);
        assert_eq!(
            (p[0].failures, p[0].error.as_str()),
            (2, "connection refused")
        );
        assert_eq!(p[0].since, t0.to_rfc3339(), "the run's start is kept");
        assert_eq!(h.recovered("smtp").map(|p| p.failures), Some(2));
        assert!(h.problems().is_empty());
        assert_eq!(h.recovered("smtp"), None);
    }
}
