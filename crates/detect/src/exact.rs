//! The baseline: the same detectors with exact per-key state in hash maps.
//!
//! Every key that ever fails gets an entry with the exact set of distinct targets per
//! half-window bucket, so memory grows with the number of distinct keys (sources,
//! passwords, accounts) in the window. It exists to measure the sketch detectors
//! against (memory, speed, and agreement in tests), not to run in production.

use std::collections::{HashMap, HashSet};

use crate::hash::BuildPassThrough;
use crate::judge::{Counts, PendingSuccess, Raise, judge};
use crate::signal::{Signal, Subject};
use crate::tracker::{Attempt, Clock, KeyTracker, PENDING, TrackerParams, TrackerStats};

struct ExactEntry {
    subject: Subject,
    epoch: i64,
    first_ms: i64,
    /// The earliest attempt counted out of order (see the sketch's entry).
    late_from: i64,
    attempts: [u32; 2],
    failures: [u32; 2],
    marked: [u32; 2],
    items: [HashSet<u64, BuildPassThrough>; 2],
    failed: [HashSet<u64, BuildPassThrough>; 2],
    /// Items in the previous bucket and not in the current one, kept up to date
    /// so the union is O(1) per event.
    prev_only: usize,
    announced: bool,
    /// Its successes are being reported (see the sketch tracker's `reporting`).
    reporting: bool,
    pending: Vec<PendingSuccess>,
    /// Its newest failure's time (see the sketch's entry).
    last_failure_ms: i64,
}

impl ExactEntry {
    /// Keep `s` among the newest few (the oldest goes).
    fn hold(&mut self, s: PendingSuccess) {
        if self.pending.len() == PENDING {
            self.pending.remove(0);
        }
        self.pending.push(s);
    }

    fn new(subject: Subject, epoch: i64, now_ms: i64) -> Self {
        ExactEntry {
            subject,
            epoch,
            first_ms: now_ms,
            late_from: i64::MAX,
            attempts: [0; 2],
            failures: [0; 2],
            marked: [0; 2],
            items: Default::default(),
            failed: Default::default(),
            prev_only: 0,
            announced: false,
            reporting: false,
            pending: Vec::new(),
            last_failure_ms: i64::MIN,
        }
    }

    fn sync(&mut self, epoch: i64, now_ms: i64) {
        if self.epoch >= epoch {
            return;
        }
        if epoch - self.epoch == 1 {
            self.epoch = epoch;
            self.late_from = i64::MAX;
            self.attempts = [0, self.attempts[0]];
            self.failures = [0, self.failures[0]];
            self.marked = [0, self.marked[0]];
            self.items.swap(0, 1);
            self.items[0].clear();
            self.failed.swap(0, 1);
            self.failed[0].clear();
            self.prev_only = self.items[1].len();
        } else {
            let last = self.last_failure_ms;
            *self = ExactEntry::new(self.subject, epoch, now_ms);
            self.last_failure_ms = last;
        }
    }
}

/// Exact per-key counting; see the module documentation.
pub struct ExactTracker {
    p: TrackerParams,
    clock: Clock,
    entries: HashMap<u64, ExactEntry, BuildPassThrough>,
    stats: TrackerStats,
}

impl KeyTracker for ExactTracker {
    fn new(p: TrackerParams) -> Self {
        ExactTracker {
            p,
            clock: Clock::new(p.half_window_ms),
            entries: HashMap::default(),
            stats: TrackerStats::default(),
        }
    }

    fn stats(&self) -> TrackerStats {
        TrackerStats {
            tracked: self.entries.len() as u64,
            ..self.stats
        }
    }

    fn observe(&mut self, a: &Attempt, out: &mut Vec<Signal>) {
        self.stats.attempts += 1;
        let placed = self.clock.place(a.time_ms);
        let epoch = self.clock.epoch;
        if placed.steps > 0 {
            // Drop keys whose whole window has passed, as the sketch's table does.
            self.entries.retain(|_, e| e.epoch >= epoch - 1);
        }
        let Some(b) = placed.bucket else {
            self.stats.late += 1;
            return;
        };
        self.stats.clamped += u64::from(placed.clamped);
        let window_start = self.clock.window_start();
        let e = match self.entries.get_mut(&a.key) {
            Some(e) => e,
            None if a.failure => {
                self.stats.promotions += 1;
                self.entries
                    .entry(a.key)
                    .or_insert_with(|| ExactEntry::new(a.subject, epoch, a.time_ms))
            }
            None => return,
        };
        e.sync(epoch, a.time_ms);
        if placed.clamped {
            e.late_from = e.late_from.min(a.time_ms);
        }
        let failed_before = e.failed[0].contains(&a.witness) || e.failed[1].contains(&a.witness);
        let counts_success = !a.failure && self.p.recent(e.last_failure_ms, a.time_ms);
        e.attempts[b] += 1;
        if a.failure {
            e.last_failure_ms = e.last_failure_ms.max(a.time_ms);
            e.failures[b] += 1;
            e.marked[b] += u32::from(a.marked);
            e.failed[b].insert(a.witness);
        }
        if e.items[b].insert(a.item) {
            if b == 0 && e.items[1].contains(&a.item) {
                e.prev_only -= 1;
            } else if b == 1 && !e.items[0].contains(&a.item) {
                e.prev_only += 1;
            }
        }
        let distinct = e.items[0].len() + e.prev_only;
        let counts = Counts {
            distinct: distinct as u32,
            attempts: e.attempts[0] + e.attempts[1],
            failures: e.failures[0] + e.failures[1],
            marked: e.marked[0] + e.marked[1],
        };
        let success = counts_success.then_some(PendingSuccess {
            account: a.account,
            time_ms: a.time_ms,
            counted_ms: self.clock.counted_at(a.time_ms, placed),
            source: a.source,
            source_failed_before: failed_before,
            owner_like: a.owner_like,
            novel: a.novel,
        });
        match judge(&self.p.thresholds, &counts) {
            Some(score) => {
                let r = Raise {
                    detector: self.p.detector,
                    subject: e.subject,
                    counts,
                    score,
                    window_start_ms: window_start.max(e.first_ms).min(e.late_from),
                    now_ms: self.clock.newest_ms,
                };
                if !e.announced {
                    e.announced = true;
                    out.push(r.attack());
                }
                let (unseen, novel) = (self.p.unseen_source_factor, self.p.novel_unseen_factor);
                if !counts.corroborated(self.p.min_marked_share) {
                    if let Some(s) = success {
                        e.hold(s);
                    }
                } else {
                    if !e.reporting {
                        e.reporting = true;
                        for s in e.pending.drain(..) {
                            if s.counted_ms >= window_start {
                                out.extend(r.compromised(&s, unseen, novel));
                            }
                        }
                    }
                    if let Some(s) = success {
                        out.extend(r.compromised(&s, unseen, novel));
                    }
                }
            }
            None => {
                if let Some(s) = success {
                    e.hold(s);
                }
            }
        }
    }
}
