//! How many rows a receiver's task claims at once, and for how long.
//!
//! A claim is a write transaction; a POST to a local receiver takes a few
//! microseconds. Claiming a concurrency-worth at a time makes the claim the
//! bound (issue 17's measurements: a claim of 16 rows cost about as long as
//! its 16 POSTs), so while claims come back full — a backlog — each claim
//! asks for twice the last, up to one second's worth at the receiver's rate
//! (and at most [`MAX_CLAIM`]); a short claim brings it back to a
//! concurrency-worth. The next claim is made while a claim's worth still
//! waits, so a receiver at the default rate (20 a second) has at most two
//! claims of 20 rows leased (and its concurrency's worth in flight); one
//! allowed 100,000 a second gets claims of 1,000.
//!
//! **The lease covers the batch.** A row of a claim starts once the rows
//! ahead of it have: at the receiver's rate, and at the pace measured over
//! the task's last whole claim (twice it, for a margin). Then its own POST
//! (the timeout), its settle, and ten seconds. The first claims, before a
//! pace is known, are a concurrency-worth: each row waits at most one
//! timeout for a slot, which the second timeout covers — as before batching.
//! The estimate is not trusted for safety: a row not started
//! [`Batching::start_within`] after its claim is handed back, not sent (its
//! POST could outlast the lease and another replica could send it again
//! meanwhile), and the next claim is a concurrency-worth again. So a sender
//! that dies holds its rows for about `2 × timeout + 10 s` plus the batch's
//! expected time, not for a worst case of every POST timing out.
//!
//! Pure: the caller passes the measurements in.

use std::time::Duration;

/// The most rows one claim takes (and one settle statement names).
pub(super) const MAX_CLAIM: usize = 1000;
/// What a lease adds for the settle after the last POST.
const SETTLE_MARGIN: Duration = Duration::from_secs(10);

/// One receiver's claim sizing.
#[derive(Debug, Clone)]
pub(super) struct Batching {
    concurrency: usize,
    /// Rows per second the receiver is allowed.
    rate: f64,
    timeout: Duration,
    /// The largest claim.
    cap: usize,
    next: usize,
    /// Seconds per row started, over the last whole claim (0 until one is).
    pace: f64,
}

impl Batching {
    /// Sizing for a receiver with these settings.
    pub(super) fn new(concurrency: usize, rate_per_second: u32, timeout: Duration) -> Self {
        let concurrency = concurrency.max(1);
        let cap = (rate_per_second as usize).clamp(concurrency, MAX_CLAIM.max(concurrency));
        Self {
            concurrency,
            rate: f64::from(rate_per_second.max(1)),
            timeout,
            cap,
            next: concurrency,
            pace: 0.0,
        }
    }

    /// How many rows the next claim asks for.
    pub(super) fn limit(&self) -> usize {
        self.next
    }

    /// The lease of a claim of `rows` (see the module's notes).
    pub(super) fn lease(&self, rows: usize) -> Duration {
        let ahead = rows as f64 * (1.0 / self.rate + 2.0 * self.pace);
        2 * self.timeout + Duration::from_secs_f64(ahead) + SETTLE_MARGIN
    }

    /// How long after its claim a row may still start: its POST (the
    /// timeout) and its settle must fit in what is left of the lease.
    pub(super) fn start_within(&self, lease: Duration) -> Duration {
        lease.saturating_sub(self.timeout + SETTLE_MARGIN / 2)
    }

    /// A claim that asked for `asked` rows got `got`: a full one means a
    /// backlog, and the next asks for twice as many (to the cap); a short
    /// one, a concurrency-worth.
    pub(super) fn claimed(&mut self, asked: usize, got: usize) {
        self.next = if got >= asked {
            (asked * 2).min(self.cap)
        } else {
            self.concurrency
        };
    }

    /// The last of a claim's `rows` started `took` after the claim.
    pub(super) fn started(&mut self, rows: usize, took: Duration) {
        if rows > 0 {
            self.pace = took.as_secs_f64() / rows as f64;
        }
    }

    /// Rows were handed back unstarted: the receiver is slower than the
    /// lease assumed; claim a concurrency-worth next.
    pub(super) fn fell_behind(&mut self) {
        self.next = self.concurrency;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(5);

    #[test]
    fn claims_double_while_full_up_to_a_second_at_the_rate() {
        let mut b = Batching::new(16, 100, TIMEOUT);
        let mut asked = Vec::new();
        for _ in 0..5 {
            let n = b.limit();
            asked.push(n);
            b.claimed(n, n);
        }
        assert_eq!(asked, [16, 32, 64, 100, 100]);
        // A short claim: the backlog is gone.
        b.claimed(100, 7);
        assert_eq!(b.limit(), 16);
        // The default rate (20 a second) keeps claims small.
        let mut b = Batching::new(16, 20, TIMEOUT);
        b.claimed(16, 16);
        assert_eq!(b.limit(), 20);
        // A high rate: at most MAX_CLAIM.
        let mut b = Batching::new(64, 100_000, TIMEOUT);
        for _ in 0..10 {
            let n = b.limit();
            b.claimed(n, n);
        }
        assert_eq!(b.limit(), MAX_CLAIM);
        b.fell_behind();
        assert_eq!(b.limit(), 64);
    }

    #[test]
    fn the_lease_covers_the_batch_at_the_measured_pace() {
        let mut b = Batching::new(16, 100_000, TIMEOUT);
        // Before a pace is known: two timeouts and the margin (and the rate).
        let first = b.lease(16);
        assert!(first >= 2 * TIMEOUT + SETTLE_MARGIN);
        assert!(first < 2 * TIMEOUT + SETTLE_MARGIN + Duration::from_millis(1));
        // A row of a concurrency-worth has a whole timeout to find a slot.
        assert!(b.start_within(first) >= TIMEOUT);
        // 16 rows took 16 ms to start: 1 ms a row; 1,000 rows get 2 s more.
        b.started(16, Duration::from_millis(16));
        let big = b.lease(1000);
        let extra = big - first;
        assert!(
            extra >= Duration::from_millis(2000) && extra < Duration::from_millis(2020),
            "{extra:?}"
        );
        // The receiver's rate counts too: 1,000 rows at 20 a second is 50 s.
        let slow = Batching::new(16, 20, TIMEOUT);
        assert!(slow.lease(1000) >= Duration::from_secs(50) + 2 * TIMEOUT);
    }
}
