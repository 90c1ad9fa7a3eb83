//! The arithmetic of a staged apply: which step a running campaign takes next,
//! and whether the reset budget allows one more forced reset.
//!
//! These are the rules that stop a campaign from resetting more, or faster, than
//! it was approved for (invariants *Staged* and *Budgeted* in ARCHITECTURE.md).
//! They are pure and property-tested here; the campaign worker
//! (`crates/server/src/app/remediation/campaigns.rs`) only reads the counts,
//! asks [`next_step`], and carries the step out, and the store only reads the
//! budget's counters and asks [`BudgetLimits::allows`] inside the transaction
//! that would draw from it.

use std::time::Duration;

use crate::Timestamp;
use crate::campaign::StagePlan;

/// What the worker knows about a running campaign when it takes a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)] // fields named for their columns; documented where the name is not enough
pub struct StepFacts {
    /// Accounts in the frozen target set.
    pub targets: u64,
    /// Targets no longer pending (applied, skipped, or already done).
    pub done: u64,
    /// The current stage (0-based).
    pub stage: usize,
    /// When the current stage began.
    pub stage_started_at: Timestamp,
    pub now: Timestamp,
    /// How long a finished stage waits before the next one (its effects —
    /// bounces, complaints, recoveries — show first).
    pub bake: Duration,
    /// The rate cap: accounts per minute since the stage began.
    pub rate_per_minute: u64,
    /// At most this many accounts in one step (one pass of the worker).
    pub max_batch: u64,
}

/// The next thing a running campaign does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NextStep {
    /// Every stage is done: the campaign completes.
    Complete,
    /// The stage is done and still baking: nothing to do before `remaining` passes.
    Bake {
        /// Time left in the bake.
        remaining: Duration,
    },
    /// The stage is done and baked: if the health gates pass, move to `stage`.
    Widen {
        /// The stage to move to.
        stage: usize,
    },
    /// Apply up to `n` pending targets now (`n ≥ 1`).
    Apply {
        /// How many.
        n: u64,
    },
    /// The rate cap is reached for now; wait.
    Wait,
}

/// How many accounts of a stage the rate cap allows after `elapsed`:
/// `rate_per_minute × whole-minute fractions elapsed`, plus one so a stage never
/// waits a full interval for its first account.
pub fn rate_allowance(rate_per_minute: u64, elapsed: Duration) -> u64 {
    let allowed = elapsed
        .as_millis()
        .saturating_mul(u128::from(rate_per_minute))
        / 60_000;
    u64::try_from(allowed).unwrap_or(u64::MAX).saturating_add(1)
}

/// Decides the next step of a running campaign from its plan and counts.
///
/// Guarantees (property-tested below): an `Apply` never crosses the current
/// stage's boundary, never exceeds the rate cap counted from the stage's start,
/// never exceeds `max_batch`; a stage widens only once it is done and baked;
/// the campaign completes only when every target is done.
pub fn next_step(plan: &StagePlan, f: &StepFacts) -> NextStep {
    let bounds = plan.boundaries(f.targets);
    let stage_end = bounds.get(f.stage).copied().unwrap_or(f.targets);
    if f.done >= stage_end {
        if f.stage + 1 >= bounds.len() {
            return NextStep::Complete;
        }
        let elapsed = f.now.since(f.stage_started_at);
        if elapsed < f.bake {
            return NextStep::Bake {
                remaining: f.bake - elapsed,
            };
        }
        return NextStep::Widen { stage: f.stage + 1 };
    }
    let stage_start = match f.stage {
        0 => 0,
        s => bounds.get(s - 1).copied().unwrap_or(0).min(stage_end),
    };
    let allowed = rate_allowance(f.rate_per_minute, f.now.since(f.stage_started_at))
        .min(stage_end - stage_start);
    let in_stage = f.done.saturating_sub(stage_start);
    let room = allowed
        .saturating_sub(in_stage)
        .min(f.max_batch)
        .min(stage_end - f.done);
    if room == 0 {
        NextStep::Wait
    } else {
        NextStep::Apply { n: room }
    }
}

/// The reset budget in force for one forced reset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BudgetLimits {
    /// Resets in the trailing hour, across every campaign.
    pub per_hour: i64,
    /// Resets in the trailing day.
    pub per_day: i64,
    /// An operator campaign a second operator approved may go past the budget.
    pub may_exceed: bool,
}

/// Forced resets already drawn from the budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct BudgetUse {
    /// In the trailing hour.
    pub hour: i64,
    /// In the trailing day.
    pub day: i64,
}

impl BudgetLimits {
    /// Whether one more reset fits: both windows below their limit, or the
    /// campaign may exceed the budget (two operators approved it).
    pub fn allows(&self, used: BudgetUse) -> bool {
        self.may_exceed || (used.hour < self.per_hour && used.day < self.per_day)
    }

    /// Whether this draw uses up the budget: after it, no further reset fits.
    /// The breaker trips in the transaction that makes this true, not on the
    /// next attempt.
    pub fn exhausted_after(&self, used: BudgetUse) -> bool {
        !self.allows(used)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(ms: i64) -> Timestamp {
        Timestamp::from_millis(ms)
    }

    fn facts(targets: u64, done: u64, stage: usize, elapsed_ms: i64) -> StepFacts {
        StepFacts {
            targets,
            done,
            stage,
            stage_started_at: at(1_000_000),
            now: at(1_000_000 + elapsed_ms),
            bake: Duration::from_secs(600),
            rate_per_minute: 60,
            max_batch: 200,
        }
    }

    #[test]
    fn the_default_plan_walks_its_stages() {
        let plan = StagePlan::default();
        // 10,000 targets: stages end at 100, 1,000, 10,000.
        assert_eq!(
            next_step(&plan, &facts(10_000, 0, 0, 0)),
            NextStep::Apply { n: 1 }
        );
        // After 30 s at 60/min: 30 + 1 allowed, 10 done.
        assert_eq!(
            next_step(&plan, &facts(10_000, 10, 0, 30_000)),
            NextStep::Apply { n: 21 }
        );
        // The stage's end caps the step even when the rate allows more.
        assert_eq!(
            next_step(&plan, &facts(10_000, 90, 0, 3_600_000)),
            NextStep::Apply { n: 10 }
        );
        assert_eq!(
            next_step(&plan, &facts(10_000, 100, 0, 60_000)),
            NextStep::Bake {
                remaining: Duration::from_secs(540)
            }
        );
        assert_eq!(
            next_step(&plan, &facts(10_000, 100, 0, 600_000)),
            NextStep::Widen { stage: 1 }
        );
        assert_eq!(
            next_step(&plan, &facts(10_000, 10_000, 2, 0)),
            NextStep::Complete
        );
        // The rate cap reached: wait.
        assert_eq!(
            next_step(&plan, &facts(10_000, 131, 1, 30_000)),
            NextStep::Wait
        );
    }

    #[test]
    fn an_empty_or_tiny_campaign_completes() {
        let plan = StagePlan::default();
        assert_eq!(next_step(&plan, &facts(0, 0, 0, 0)), NextStep::Complete);
        // Three targets are one stage (min_stage 10): no bake before completing.
        assert_eq!(
            next_step(&plan, &facts(3, 0, 0, 0)),
            NextStep::Apply { n: 1 }
        );
        assert_eq!(next_step(&plan, &facts(3, 3, 0, 0)), NextStep::Complete);
    }

    #[test]
    fn the_budget_allows_below_both_limits_only() {
        let b = BudgetLimits {
            per_hour: 50,
            per_day: 100,
            may_exceed: false,
        };
        assert!(b.allows(BudgetUse { hour: 49, day: 99 }));
        assert!(!b.allows(BudgetUse { hour: 50, day: 60 }));
        assert!(!b.allows(BudgetUse { hour: 10, day: 100 }));
        assert!(b.exhausted_after(BudgetUse { hour: 50, day: 60 }));
        let approved = BudgetLimits {
            may_exceed: true,
            ..b
        };
        assert!(approved.allows(BudgetUse {
            hour: 5_000,
            day: 5_000
        }));
        assert!(!approved.exhausted_after(BudgetUse {
            hour: 5_000,
            day: 5_000
        }));
    }

    fn any_plan() -> impl Strategy<Value = StagePlan> {
        (proptest::collection::btree_set(1u32..100, 0..4), 0u64..50).prop_map(
            |(cuts, min_stage)| {
                let mut fractions: Vec<f64> = cuts.into_iter().map(|c| c as f64 / 100.0).collect();
                fractions.push(1.0);
                StagePlan {
                    fractions,
                    min_stage,
                }
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// One step, from any state: an apply stays inside the stage, the rate
        /// cap and the batch; a widen comes only after the bake; completion
        /// only when every target is done.
        #[test]
        fn a_step_never_breaks_a_guardrail(
            plan in any_plan(),
            targets in 0u64..5_000,
            done_frac in 0.0f64..=1.0,
            stage in 0usize..5,
            elapsed_ms in 0i64..4_000_000,
            bake_s in 0u64..1_000,
            rate in 1u64..500,
            max_batch in 1u64..300,
        ) {
            let done = (targets as f64 * done_frac) as u64;
            let f = StepFacts {
                targets, done, stage,
                stage_started_at: at(0),
                now: at(elapsed_ms),
                bake: Duration::from_secs(bake_s),
                rate_per_minute: rate,
                max_batch,
            };
            let bounds = plan.boundaries(targets);
            let stage_end = bounds.get(stage).copied().unwrap_or(targets);
            match next_step(&plan, &f) {
                NextStep::Apply { n } => {
                    prop_assert!(n >= 1 && n <= max_batch);
                    prop_assert!(done + n <= stage_end, "crosses the stage's end");
                    let start = if stage == 0 { 0 } else { bounds.get(stage - 1).copied().unwrap_or(0) };
                    let allowance = rate_allowance(rate, Duration::from_millis(elapsed_ms as u64));
                    prop_assert!(done.saturating_sub(start) + n <= allowance, "past the rate cap");
                }
                NextStep::Widen { stage: next } => {
                    prop_assert_eq!(next, stage + 1);
                    prop_assert!(done >= stage_end);
                    prop_assert!(elapsed_ms as u64 >= bake_s * 1000);
                }
                NextStep::Bake { remaining } => {
                    prop_assert!(done >= stage_end);
                    prop_assert!(remaining <= Duration::from_secs(bake_s));
                }
                NextStep::Complete => {
                    prop_assert!(done >= bounds.last().copied().unwrap_or(0));
                    prop_assert!(stage + 1 >= bounds.len());
                }
                NextStep::Wait => prop_assert!(done < stage_end),
            }
        }

        /// A whole run under a moving clock: the campaign walks every stage in
        /// order, applies exactly its targets, never more per stage than the
        /// rate cap allows at that moment, bakes between stages, and completes.
        #[test]
        fn a_run_applies_every_target_once_within_its_caps(
            plan in any_plan(),
            targets in 0u64..3_000,
            bake_s in 0u64..300,
            rate in 1u64..2_000,
            max_batch in 1u64..250,
            ticks in proptest::collection::vec(1i64..20_000, 1..50),
        ) {
            let bounds = plan.boundaries(targets);
            let (mut done, mut stage, mut now, mut stage_started) = (0u64, 0usize, 0i64, 0i64);
            let mut widened_at = vec![0i64];
            let mut tick = ticks.iter().cycle();
            for _ in 0..200_000 {
                let f = StepFacts {
                    targets, done, stage,
                    stage_started_at: at(stage_started),
                    now: at(now),
                    bake: Duration::from_secs(bake_s),
                    rate_per_minute: rate,
                    max_batch,
                };
                match next_step(&plan, &f) {
                    NextStep::Complete => break,
                    NextStep::Apply { n } => {
                        done += n;
                        let start = if stage == 0 { 0 } else { bounds[stage - 1] };
                        let allowance = rate_allowance(rate, Duration::from_millis((now - stage_started) as u64));
                        prop_assert!(done - start <= allowance);
                    }
                    NextStep::Widen { stage: next } => {
                        prop_assert!(now - stage_started >= (bake_s * 1000) as i64);
                        stage = next;
                        stage_started = now;
                        widened_at.push(now);
                    }
                    NextStep::Bake { .. } | NextStep::Wait => now += tick.next().unwrap(),
                }
            }
            prop_assert_eq!(done, targets, "every target applied exactly once");
            prop_assert_eq!(stage + 1, bounds.len().max(1), "every stage walked");
        }

        /// The budget never allows a reset at or past either limit unless the
        /// campaign may exceed it; and using more never turns a refusal into a yes.
        #[test]
        fn the_budget_is_monotone(
            per_hour in 0i64..200, per_day in 0i64..500,
            hour in 0i64..300, day in 0i64..600,
            more_h in 0i64..50, more_d in 0i64..50,
        ) {
            let b = BudgetLimits { per_hour, per_day, may_exceed: false };
            let used = BudgetUse { hour, day };
            prop_assert_eq!(b.allows(used), hour < per_hour && day < per_day);
            if !b.allows(used) {
                let more = BudgetUse { hour: hour + more_h, day: day + more_d };
                prop_assert!(!b.allows(more));
            }
            let approved = BudgetLimits { may_exceed: true, ..b };
            prop_assert!(approved.allows(used));
        }
    }
}
