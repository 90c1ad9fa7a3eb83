//! The live detection monitor: `serve` tails `login_events` and runs every event
//! rule not `off` over each new event, recording findings as they arise.
//!
//! **Tailing by id.** Events are read in id order after a low-water mark. On
//! PostgreSQL ids are handed out before commit, so a later id can become visible
//! before an earlier one; ids skipped over are asked for again for
//! [`GAP_GRACE`] before being given up (most never come: `ON CONFLICT DO
//! NOTHING` uses up ids of duplicate events). The low-water mark — every id at or
//! below it seen or given up — is saved as the checkpoint.
//!
//! **State after a restart, or after a rule changed.** The detectors' state is
//! rebuilt by replaying, in time order, the stored events of the last window
//! with ids at or below the checkpoint; tailing then goes on after it, so no event is
//! counted twice. Findings the replay raises again are recognised by their
//! dedupe key and not recorded twice. Events older than the longest window
//! when they are read (history imported late) are not fed: they are backtest
//! material, not live traffic.
//!
//! Two replicas each run a monitor over the same table; they raise the same
//! findings, which the store records once, and share each rule's daily cap.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gatehouse_domain::audit::Actor;
use gatehouse_domain::finding::RuleMode;
use gatehouse_store::{LoginEvent, NewFinding};

use crate::app::App;
use crate::app::evaluate::{Candidate, Evaluator};

/// The checkpoint's name in `monitor_checkpoints`.
pub const CHECKPOINT: &str = "detection";
/// How long an id skipped over is asked for again.
pub const GAP_GRACE: Duration = Duration::from_secs(5);
/// Gaps remembered at once (beyond this the oldest are given up).
const MAX_GAPS: usize = 10_000;
/// Events read per query.
const PAGE: i64 = 2000;
/// How often the monitor looks for new events when nothing wakes it.
const POLL: Duration = Duration::from_millis(500);
/// How often it checks whether another replica changed a rule.
const RULES_CHECK: Duration = Duration::from_secs(10);
/// Least time between two rebuilds for late history (an app that keeps sending
/// events hours late must not make the monitor replay days of history each pass).
const LATE_HISTORY_REBUILD: Duration = Duration::from_secs(60);

/// What one pass did (for tests and logs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PassReport {
    /// Events fed to the rules.
    pub events: u64,
    /// Findings recorded now.
    pub findings: u64,
    /// Events read but older than the longest rule window (history imported
    /// late): not live traffic, so not fed; a backtest over them is how to
    /// look (said in the log and counted in
    /// `gatehouse_monitor_events_skipped_total`, never silently).
    pub skipped_old: u64,
    /// Events replayed by a rebuild only for what they teach (older than the
    /// live window, within the account histories' reach).
    pub warmed_up: u64,
    /// Late events within the account histories' reach: the monitor rebuilds
    /// its state (in time order) so the accounts' histories include them.
    pub late_history: u64,
}

/// The monitor's state.
pub struct Monitor {
    app: Arc<App>,
    eval: Evaluator,
    /// Rule ids and versions the engines were built from.
    built_from: Vec<(String, i64)>,
    tail: Tail,
    saved: i64,
}

/// Which ids of `login_events` the monitor has read: everything at or below
/// `low_water`, everything up to `max_seen` except the `gaps`, which are asked
/// for again until [`GAP_GRACE`] passes. Pure: time comes in as `Instant`s.
#[derive(Debug, Default)]
pub struct Tail {
    max_seen: i64,
    gaps: BTreeMap<i64, Instant>,
}

impl Tail {
    /// A tail that has read every id up to `checkpoint`.
    pub fn at(checkpoint: i64) -> Self {
        Tail {
            max_seen: checkpoint,
            gaps: BTreeMap::new(),
        }
    }

    /// Where the next read starts after.
    pub fn max_seen(&self) -> i64 {
        self.max_seen
    }

    /// Notes a newly read id (ids come in increasing order); the ids skipped
    /// over become gaps, at most [`MAX_GAPS`] of them.
    pub fn saw(&mut self, id: i64, now: Instant) {
        if id <= self.max_seen {
            self.gaps.remove(&id);
            return;
        }
        let skipped = id - self.max_seen - 1;
        let first = self.max_seen + 1 + (skipped - MAX_GAPS as i64).max(0);
        for missing in first..id {
            self.gaps.insert(missing, now);
        }
        self.max_seen = id;
        while self.gaps.len() > MAX_GAPS {
            self.gaps.pop_first();
        }
    }

    /// The gaps to ask for again.
    pub fn gaps(&self) -> Vec<i64> {
        self.gaps.keys().copied().collect()
    }

    /// Gives up gaps older than [`GAP_GRACE`] (a rolled-back insert, or an id a
    /// duplicate event used up).
    pub fn expire(&mut self, now: Instant) {
        self.gaps
            .retain(|_, since| now.duration_since(*since) < GAP_GRACE);
    }

    /// Every id at or below this has been read or given up: the checkpoint.
    pub fn low_water(&self) -> i64 {
        self.gaps
            .keys()
            .next()
            .map_or(self.max_seen, |first| first - 1)
    }
}

impl Monitor {
    /// A monitor with its state rebuilt from the stored events and checkpoint.
    pub async fn start(app: Arc<App>) -> anyhow::Result<Self> {
        let mut m = Monitor {
            app,
            eval: Evaluator::new([]),
            built_from: Vec::new(),
            tail: Tail::default(),
            saved: 0,
        };
        m.rebuild().await?;
        Ok(m)
    }

    /// Rebuilds the engines from the rules in force and replays the last window.
    pub async fn rebuild(&mut self) -> anyhow::Result<PassReport> {
        let store = self.app.store.clone();
        let rules: Vec<_> = self
            .app
            .rules()
            .await?
            .into_iter()
            .filter(|r| r.spec.mode != RuleMode::Off && r.spec.detector.reads_events())
            .collect();
        self.built_from = rules
            .iter()
            .map(|r| (r.spec.id.clone(), r.version))
            .collect();
        self.eval = Evaluator::new(rules);
        let checkpoint = store.monitor_checkpoint(CHECKPOINT).await?.unwrap_or(0);
        self.tail = Tail::at(checkpoint);
        self.saved = checkpoint;
        let now = self.app.clock.now();
        let from = now.minus(self.eval.history());
        let live_from = now.minus(self.eval.longest_window());
        let until = gatehouse_domain::Timestamp::from_millis(i64::MAX);
        let mut after = None;
        let mut report = PassReport::default();
        let mut batch = Vec::new();
        loop {
            let page = store.login_events(from, until, after, PAGE).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.cursor());
            let full = page.len() as i64 == PAGE;
            let replay: Vec<_> = page.into_iter().filter(|e| e.id <= checkpoint).collect();
            // Older than the live window: it only teaches (account histories,
            // baselines); it was live once, and an edited rule must not turn days
            // of old history into findings.
            let split = replay.partition_point(|e| e.time < live_from);
            for ev in &replay[..split] {
                self.eval.warm_up(ev);
            }
            report.warmed_up += split as u64;
            report = report + self.feed(&replay[split..], &mut batch).await?;
            if !full {
                break;
            }
        }
        tracing::info!(
            rules = self.built_from.len(),
            replayed = report.events,
            checkpoint,
            "detection monitor state rebuilt"
        );
        Ok(report)
    }

    /// Feeds events to the rules and records the findings they raise.
    async fn feed(
        &mut self,
        events: &[LoginEvent],
        candidates: &mut Vec<Candidate>,
    ) -> anyhow::Result<PassReport> {
        let now = self.app.clock.now();
        let oldest = now.minus(self.eval.longest_window());
        let history = now.minus(self.eval.history());
        candidates.clear();
        let mut fed = 0;
        let mut skipped_old = 0;
        let mut late_history = 0;
        for ev in events {
            if ev.time < oldest {
                skipped_old += 1;
                if ev.time >= history {
                    late_history += 1;
                }
                continue;
            }
            fed += 1;
            self.eval.observe(ev, candidates);
        }
        let mut by_rule: BTreeMap<usize, Vec<NewFinding>> = BTreeMap::new();
        for c in candidates.iter() {
            if let Some(f) = self.eval.finding(self.app.store.as_ref(), c).await? {
                by_rule.entry(c.engine).or_default().push(f);
            }
        }
        let mut recorded = 0;
        for (engine, findings) in by_rule {
            let rule = &self.eval.engines[engine].rule;
            let r = self
                .app
                .record_findings(rule, &findings, Actor::System)
                .await?;
            recorded += r.ids.len() as u64;
        }
        if skipped_old > 0 {
            metrics::counter!("gatehouse_monitor_events_skipped_total").increment(skipped_old);
            tracing::warn!(
                skipped = skipped_old,
                window_secs = self.eval.longest_window().as_secs(),
                late_history,
                "login events older than the longest rule window were not fed to the live \
                 rules (history imported late); those within the account histories' reach \
                 are learnt at the next rebuild; to raise findings from them, backtest the \
                 rules over that period and record the results \
                 (`gatehouse rules backtest RULE --since … --record`)"
            );
        }
        Ok(PassReport {
            events: fed,
            findings: recorded,
            skipped_old,
            late_history,
            ..PassReport::default()
        })
    }

    /// Reads and processes everything new, re-asks for gaps, saves the checkpoint.
    pub async fn pass(&mut self) -> anyhow::Result<PassReport> {
        let store = self.app.store.clone();
        let mut report = PassReport::default();
        let mut candidates = Vec::new();
        loop {
            let page = store
                .login_events_after_id(self.tail.max_seen(), PAGE)
                .await?;
            let full = page.len() as i64 == PAGE;
            let now = Instant::now();
            for ev in &page {
                self.tail.saw(ev.id, now);
            }
            report = report + self.feed(&page, &mut candidates).await?;
            if !full {
                break;
            }
        }
        let gaps = self.tail.gaps();
        if !gaps.is_empty() {
            let late = store.login_events_by_ids(&gaps).await?;
            let now = Instant::now();
            for ev in &late {
                self.tail.saw(ev.id, now);
            }
            report = report + self.feed(&late, &mut candidates).await?;
            self.tail.expire(now);
        }
        let low_water = self.tail.low_water();
        if low_water != self.saved {
            store
                .save_monitor_checkpoint(CHECKPOINT, low_water, self.app.clock.now())
                .await?;
            self.saved = low_water;
        }
        Ok(report)
    }

    /// Whether the rules in force differ from those the engines were built from.
    async fn rules_differ(&self) -> anyhow::Result<bool> {
        let now: Vec<(String, i64)> = self
            .app
            .rules()
            .await?
            .into_iter()
            .filter(|r| r.spec.mode != RuleMode::Off && r.spec.detector.reads_events())
            .map(|r| (r.spec.id, r.version))
            .collect();
        Ok(now != self.built_from)
    }

    /// Runs until `shutdown` resolves: a pass every [`POLL`], a rebuild when a
    /// rule changes (here, or on another replica). Errors are logged and retried.
    pub async fn run(mut self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let changed = self.app.rules_changed.clone();
        let mut last_rules_check = Instant::now();
        let mut last_rebuild = Instant::now();
        let mut late_history = false;
        loop {
            let mut rebuild = late_history && last_rebuild.elapsed() >= LATE_HISTORY_REBUILD;
            tokio::select! {
                _ = &mut shutdown => return,
                _ = changed.notified() => rebuild = true,
                _ = tokio::time::sleep(POLL) => {}
            }
            if !rebuild && last_rules_check.elapsed() >= RULES_CHECK {
                last_rules_check = Instant::now();
                rebuild = self.rules_differ().await.unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "detection monitor could not read the rules");
                    false
                });
            }
            let result = if rebuild {
                last_rebuild = Instant::now();
                late_history = false;
                // Save where we are first: the replay covers everything up to it.
                match self.pass().await {
                    Ok(_) => self.rebuild().await,
                    Err(e) => Err(e),
                }
            } else {
                self.pass().await
            };
            if let Ok(r) = &result
                && r.late_history > 0
            {
                late_history = true;
            }
            match result {
                Ok(r) if r.findings > 0 => {
                    tracing::info!(
                        events = r.events,
                        findings = r.findings,
                        "detection monitor recorded findings"
                    )
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "detection monitor pass failed; retrying"),
            }
        }
    }
}

impl std::ops::Add for PassReport {
    type Output = PassReport;
    fn add(self, o: PassReport) -> PassReport {
        PassReport {
            events: self.events + o.events,
            findings: self.findings + o.findings,
            skipped_old: self.skipped_old + o.skipped_old,
            warmed_up: self.warmed_up + o.warmed_up,
            late_history: self.late_history + o.late_history,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checkpoint_waits_for_late_ids_then_gives_them_up() {
        let t0 = Instant::now();
        let mut tail = Tail::at(10);
        tail.saw(11, t0);
        tail.saw(14, t0); // 12 and 13 not visible yet
        assert_eq!(tail.max_seen(), 14);
        assert_eq!(tail.gaps(), [12, 13]);
        assert_eq!(tail.low_water(), 11, "not past an id that may still commit");
        tail.saw(12, t0); // committed late: read by id
        assert_eq!(tail.gaps(), [13]);
        assert_eq!(tail.low_water(), 12);
        tail.expire(t0 + GAP_GRACE / 2);
        assert_eq!(tail.low_water(), 12, "still within the grace period");
        tail.expire(t0 + GAP_GRACE);
        assert_eq!(tail.low_water(), 14, "13 given up: a duplicate used the id");
        assert!(tail.gaps().is_empty());
    }

    #[test]
    fn a_huge_jump_keeps_only_the_newest_gaps() {
        let t0 = Instant::now();
        let mut tail = Tail::at(0);
        tail.saw(1_000_000, t0);
        let gaps = tail.gaps();
        assert_eq!(gaps.len(), MAX_GAPS);
        assert_eq!(*gaps.last().unwrap(), 999_999);
        assert_eq!(tail.low_water(), 1_000_000 - MAX_GAPS as i64 - 1);
    }
}
