//! Backtests: run a rule — as stored, or a draft of it — over the stored login
//! events of a period, with no side effects, and say how many accounts it would
//! flag, next to the current version and the rule's normal daily volume.
//!
//! This is how an operator sees, before enforcing an edit, that it would flag a
//! third of all accounts: the report gives the count, its share of all accounts,
//! the multiple of the normal daily volume, a sample with evidence, and warnings
//! when those are out of the ordinary.

use std::collections::HashSet;
use std::time::Duration;

use gatehouse_domain::{AccountId, Timestamp};
use serde::{Deserialize, Serialize};

use crate::app::evaluate::Evaluator;
use crate::app::rules::{Rule, RuleSpec};
use crate::app::{App, AppError};

/// Sample findings shown.
const SAMPLE: usize = 20;
/// Days of history behind "normal daily volume".
const NORMAL_DAYS: i64 = 30;
/// Default period: the last week.
pub const DEFAULT_PERIOD: Duration = Duration::from_secs(7 * 86_400);

/// What to backtest.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BacktestRequest {
    /// Start of the period (RFC 3339; default a week before `until`).
    #[serde(default)]
    pub since: Option<String>,
    /// End of the period (RFC 3339; default now).
    #[serde(default)]
    pub until: Option<String>,
    /// A draft of the rule to test instead of the stored version (same id, or
    /// a new id); compared with the stored version when there is one.
    #[serde(default)]
    pub draft: Option<RuleSpec>,
}

/// What one version of a rule would have done.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct BacktestOutcome {
    /// The stored version tested, or `None` for a draft.
    pub version: Option<i64>,
    /// Distinct Gatehouse accounts it would flag.
    pub flagged_accounts: u64,
    /// Findings (an account can be flagged more than once).
    pub findings: u64,
    /// Signals about addresses Gatehouse has no account for (never findings).
    pub unknown_addresses: u64,
    /// Flagged accounts per day of the period.
    pub per_day: f64,
    /// Flagged accounts as a share of all accounts, 0 to 1.
    pub share_of_accounts: f64,
    /// `per_day` over the normal daily volume (`None` when the rule has no history).
    pub multiple_of_normal: Option<f64>,
}

/// One flagged account, with why.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct BacktestSample {
    /// Account id.
    pub account_id: String,
    /// Its address.
    pub email: String,
    /// Confidence.
    pub score: f64,
    /// Why.
    #[schema(value_type = Object)]
    pub evidence: serde_json::Value,
}

/// The report.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct BacktestReport {
    /// Rule id.
    pub rule: String,
    /// Period start.
    pub since: String,
    /// Period end.
    pub until: String,
    /// Events read.
    pub events: u64,
    /// Accounts Gatehouse has.
    pub accounts: i64,
    /// Median findings per day of the stored rule over the last 30 days (zero days included).
    pub normal_daily_findings: f64,
    /// What the tested rule (the draft, or the stored version) would do.
    pub tested: BacktestOutcome,
    /// What the stored version would do, when a draft was tested against it.
    pub current: Option<BacktestOutcome>,
    /// Flagged accounts of the tested rule, with evidence (up to 20).
    pub sample: Vec<BacktestSample>,
    /// Plain warnings: a large share of accounts, far above normal, many more than the current version.
    pub warnings: Vec<String>,
}

fn parse_time(field: &'static str, s: &str) -> Result<Timestamp, AppError> {
    Timestamp::parse_rfc3339(s).map_err(|e| AppError::Invalid {
        field,
        message: format!("must be an RFC 3339 time such as 2026-11-20T00:00:00Z: {e}"),
    })
}

/// Median of daily counts over `days` days, days absent from `per_day` counting as 0.
pub fn median_daily(per_day: &[(i64, i64)], days: i64) -> f64 {
    let mut counts: Vec<i64> = per_day.iter().map(|&(_, n)| n).collect();
    counts.resize(days.max(counts.len() as i64) as usize, 0);
    counts.sort_unstable();
    let n = counts.len();
    if n == 0 {
        return 0.0;
    }
    if n % 2 == 1 {
        counts[n / 2] as f64
    } else {
        (counts[n / 2 - 1] + counts[n / 2]) as f64 / 2.0
    }
}

#[derive(Default)]
struct Tally {
    accounts: HashSet<AccountId>,
    findings: u64,
    unknown: u64,
    sample: Vec<(AccountId, f64, serde_json::Value)>,
}

impl App {
    /// Backtests rule `id` (or `req.draft`) over stored events. Reads only.
    /// `progress` gets (events read, events in the period).
    pub async fn backtest_rule(
        &self,
        id: &str,
        req: BacktestRequest,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<BacktestReport, AppError> {
        let now = self.clock.now();
        let until = match &req.until {
            Some(s) => parse_time("until", s)?,
            None => now,
        };
        let since = match &req.since {
            Some(s) => parse_time("since", s)?,
            None => until.minus(DEFAULT_PERIOD),
        };
        if since >= until {
            return Err(AppError::Invalid {
                field: "since",
                message: "must be before `until`".into(),
            });
        }
        let stored = match self.store.rule(id).await? {
            Some(r) => Some(Rule::from_record(r)?),
            None => None,
        };
        let tested = match req.draft {
            Some(draft) => {
                if draft.id != id {
                    return Err(AppError::InvalidRule(format!(
                        "the draft's id {:?} is not the rule being backtested ({id:?})",
                        draft.id
                    )));
                }
                Rule {
                    spec: draft.resolve()?,
                    version: 0,
                    updated_at: now,
                    updated_by: "draft".into(),
                }
            }
            None => stored.clone().ok_or(AppError::NotFound("rule"))?,
        };
        if !tested.spec.detector.reads_events() {
            return Err(AppError::InvalidRule(format!(
                "rule {id:?} uses the {} detector, which acts at login or in scans, not on stored login events: it cannot be backtested",
                tested.spec.detector.as_str()
            )));
        }
        let is_draft = tested.version == 0;
        let compare = if is_draft { stored.clone() } else { None };
        let mut rules = vec![tested.clone()];
        rules.extend(compare.clone());
        let (mut tallies, events) = self.run_rules(rules, since, until, &mut progress).await?;
        let accounts = self.store.count_accounts().await?;
        let per_day = self
            .store
            .findings_per_day(
                id,
                now.minus(Duration::from_secs(NORMAL_DAYS as u64 * 86_400)),
                now,
            )
            .await?;
        let normal = median_daily(&per_day, NORMAL_DAYS);
        let days = (until.since(since).as_secs_f64() / 86_400.0).max(1.0 / 24.0);
        let outcome = |t: &Tally, version: Option<i64>| {
            let flagged = t.accounts.len() as u64;
            let per_day = flagged as f64 / days;
            BacktestOutcome {
                version,
                flagged_accounts: flagged,
                findings: t.findings,
                unknown_addresses: t.unknown,
                per_day,
                share_of_accounts: if accounts > 0 {
                    flagged as f64 / accounts as f64
                } else {
                    0.0
                },
                multiple_of_normal: (normal > 0.0).then(|| per_day / normal),
            }
        };
        let tested_outcome = outcome(&tallies[0], (!is_draft).then_some(tested.version));
        let current = compare
            .as_ref()
            .map(|c| outcome(&tallies[1], Some(c.version)));
        let mut sample = Vec::new();
        for (account, score, evidence) in tallies.swap_remove(0).sample {
            let email = self
                .store
                .account(account)
                .await?
                .map(|a| a.email)
                .unwrap_or_default();
            sample.push(BacktestSample {
                account_id: account.to_string(),
                email,
                score,
                evidence,
            });
        }
        let warnings = warnings(&tested_outcome, current.as_ref());
        Ok(BacktestReport {
            rule: id.to_owned(),
            since: since.to_rfc3339(),
            until: until.to_rfc3339(),
            events,
            accounts,
            normal_daily_findings: normal,
            tested: tested_outcome,
            current,
            sample,
            warnings,
        })
    }
}

impl App {
    /// Runs `rules` over the stored events of `since..until`, reading only.
    async fn run_rules(
        &self,
        rules: Vec<Rule>,
        since: Timestamp,
        until: Timestamp,
        progress: &mut impl FnMut(u64, u64),
    ) -> Result<(Vec<Tally>, u64), AppError> {
        let mut eval = Evaluator::new(rules);
        // The live monitor knows the accounts' histories and the sources'
        // baselines when the period starts; so must the backtest, or its first
        // hours would judge every account as if it had never signed in.
        let lead_in = since.minus(eval.history());
        let total = self.store.count_login_events(since, until).await?.max(0) as u64;
        let mut tallies: Vec<Tally> = (0..eval.engines.len()).map(|_| Tally::default()).collect();
        let mut after = None;
        let mut candidates = Vec::new();
        loop {
            let page = self.store.login_events(lead_in, until, after, 5000).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.cursor());
            let full = page.len() == 5000;
            candidates.clear();
            let split = page.partition_point(|e| e.time < since);
            for ev in &page[..split] {
                eval.warm_up(ev);
            }
            for ev in &page[split..] {
                eval.observe(ev, &mut candidates);
            }
            for c in &candidates {
                let t = &mut tallies[c.engine];
                match eval.finding(self.store.as_ref(), c).await? {
                    Some(f) => {
                        t.findings += 1;
                        if t.accounts.insert(f.account) && t.sample.len() < SAMPLE {
                            t.sample.push((f.account, f.score, f.evidence));
                        }
                    }
                    None => t.unknown += 1,
                }
            }
            progress(eval.events, total);
            if !full {
                break;
            }
        }
        Ok((tallies, eval.events))
    }

    /// Every account `rule` would flag over the stored events of `since..until`
    /// (reads only): for measuring a rule against ground truth.
    pub async fn flagged_accounts(
        &self,
        rule: Rule,
        since: Timestamp,
        until: Timestamp,
    ) -> Result<HashSet<AccountId>, AppError> {
        let (mut tallies, _) = self
            .run_rules(vec![rule], since, until, &mut |_, _| {})
            .await?;
        Ok(tallies.pop().map(|t| t.accounts).unwrap_or_default())
    }
}

/// The plain-language alarms of a backtest.
pub fn warnings(tested: &BacktestOutcome, current: Option<&BacktestOutcome>) -> Vec<String> {
    let mut w = Vec::new();
    // A share alone means little in a small population: one of thirty is 3 %.
    if tested.share_of_accounts >= 0.01 && tested.flagged_accounts >= 10 {
        w.push(format!(
            "this rule would flag {:.1}% of all accounts ({}): far more than compromised accounts usually are",
            tested.share_of_accounts * 100.0,
            tested.flagged_accounts
        ));
    }
    if let Some(m) = tested.multiple_of_normal.filter(|m| *m >= 10.0) {
        w.push(format!(
            "{:.1} accounts a day is {m:.0}× this rule's normal daily volume",
            tested.per_day
        ));
    }
    if let Some(c) = current
        && tested.flagged_accounts >= 10
        && tested.flagged_accounts >= c.flagged_accounts.saturating_mul(3)
    {
        w.push(format!(
            "the draft flags {} accounts where the current version (v{}) flags {}",
            tested.flagged_accounts,
            c.version.unwrap_or_default(),
            c.flagged_accounts
        ));
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_counts_quiet_days_as_zero() {
        assert_eq!(median_daily(&[], 30), 0.0);
        assert_eq!(median_daily(&[(1, 5), (2, 7)], 3), 5.0);
        assert_eq!(median_daily(&[(1, 5), (2, 7), (3, 9), (4, 11)], 4), 8.0);
        let busy: Vec<_> = (0..30).map(|d| (d, 4)).collect();
        assert_eq!(median_daily(&busy, 30), 4.0);
    }

    #[test]
    fn warnings_speak_up_for_a_broken_rule() {
        let broken = BacktestOutcome {
            version: None,
            flagged_accounts: 6000,
            findings: 6100,
            unknown_addresses: 0,
            per_day: 6000.0,
            share_of_accounts: 0.3,
            multiple_of_normal: Some(1500.0),
        };
        let current = BacktestOutcome {
            version: Some(3),
            flagged_accounts: 30,
            per_day: 30.0,
            share_of_accounts: 0.0015,
            multiple_of_normal: Some(7.5),
            ..broken.clone()
        };
        let w = warnings(&broken, Some(&current));
        assert_eq!(w.len(), 3, "{w:?}");
        assert!(w[0].contains("30.0% of all accounts"));
        assert!(w[1].contains("1500×"));
        assert!(w[2].contains("current version (v3) flags 30"));
        assert!(warnings(&current, None).is_empty());
    }
}
