//! Backtests: run a rule — as stored, or a draft of it — over the stored login
//! events of a period, with no side effects, and say how many accounts it would
//! flag, next to the current version and the rule's normal daily volume.
//!
//! This is how an operator sees, before enforcing an edit, that it would flag a
//! third of all accounts: the report gives the count, its share of all accounts,
//! the multiple of the normal daily volume, a sample with evidence, and warnings
//! when those are out of the ordinary.
//!
//! It is also how an operator sees what the checks saw: every flagged account
//! (paged, or all of them as CSV), the sources the detectors judged attacking
//! and why, the period's traffic with the hours in which attempts on addresses
//! that do not exist stood far above the period's normal (*attack windows*), and
//! a warning when those came and the rule flagged nothing. On request
//! (`record`) the results of a stored rule are recorded as shadow findings:
//! the explicit way to raise findings from history imported too late for the
//! live monitor.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use gatehouse_detect::{Signal, Subject};
use gatehouse_domain::audit::Actor;
use gatehouse_domain::finding::RuleMode;
use gatehouse_domain::login_event::EventOutcome;
use gatehouse_domain::{AccountId, Timestamp};
use gatehouse_store::{LoginEvent, NewFinding};

use crate::app::evaluate::Evaluator;
use crate::app::rules::Rule;
use crate::app::{App, AppError};

/// Flagged accounts per page by default, and at most.
const PAGE_DEFAULT: u64 = 20;
/// See [`PAGE_DEFAULT`].
pub const PAGE_MAX: u64 = 1000;
/// Attacking sources listed at most (the strongest first).
const SOURCES_MAX: usize = 100;
/// Distinct sources kept while the backtest runs.
const SOURCES_KEPT: usize = 10_000;

/// Days of history behind "normal daily volume".
const NORMAL_DAYS: i64 = 30;
/// Default period: the last week.
pub const DEFAULT_PERIOD: Duration = Duration::from_secs(7 * 86_400);

mod report;

pub use report::*;

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

/// One flagged account while the backtest runs (the evidence kept only for the
/// page asked for, the explanation only for CSV: a broken rule may flag
/// hundreds of thousands).
struct Flagged {
    account: AccountId,
    findings: u32,
    score: f64,
    first_seen: Timestamp,
    evidence: Option<serde_json::Value>,
    explanation: Option<String>,
}

/// What to keep of each flagged account.
#[derive(Clone, Copy)]
struct Keep {
    offset: u64,
    limit: u64,
    explanations: bool,
}

#[derive(Default)]
struct Tally {
    flagged: Vec<Flagged>,
    index: HashMap<AccountId, usize>,
    findings: u64,
    unknown: u64,
    sources: HashMap<String, AttackingSource>,
    sources_total: u64,
}

impl Tally {
    fn add(&mut self, f: &NewFinding, keep: Keep) {
        self.findings += 1;
        if let Some(&i) = self.index.get(&f.account) {
            let a = &mut self.flagged[i];
            a.findings += 1;
            a.score = a.score.max(f.score);
            return;
        }
        let i = self.flagged.len() as u64;
        let in_page = i >= keep.offset && i - keep.offset < keep.limit;
        let sample = i < PAGE_DEFAULT;
        self.index.insert(f.account, self.flagged.len());
        self.flagged.push(Flagged {
            account: f.account,
            findings: 1,
            score: f.score,
            first_seen: f.observed_at,
            evidence: (in_page || sample).then(|| f.evidence.clone()),
            explanation: keep.explanations.then(|| {
                f.evidence["explanation"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            }),
        });
        if let Some(s) = takeover_grain(f) {
            self.source(s);
        }
    }

    fn source(&mut self, s: AttackingSource) {
        let key = format!("{}|{}", s.kind, s.subject);
        if let Some(seen) = self.sources.get_mut(&key) {
            seen.attempts = seen.attempts.max(s.attempts);
            seen.failures = seen.failures.max(s.failures);
            seen.distinct = seen.distinct.max(s.distinct);
            return;
        }
        self.sources_total += 1;
        if self.sources.len() < SOURCES_KEPT {
            self.sources.insert(key, s);
        }
    }

    fn attack(&mut self, sig: &Signal) {
        let e = &sig.evidence;
        let (kind, subject) = match e.subject {
            Subject::Source(src) => ("source", src.to_string()),
            Subject::Password(p) => ("password", format!("#{:016x}", p.0)),
            Subject::Account(_) => ("account", "one account (its key is not kept)".to_owned()),
        };
        let distinct = u64::from(e.distinct.min(e.attempts));
        let why = format!(
            "{} attempts on about {distinct} {}, {:.0}% failed, within {} – {}",
            e.attempts,
            if kind == "account" {
                "sources"
            } else {
                "accounts"
            },
            e.failure_ratio * 100.0,
            Timestamp::from_millis(e.window_start_ms).to_rfc3339(),
            Timestamp::from_millis(e.window_end_ms).to_rfc3339()
        );
        self.source(AttackingSource {
            kind: kind.to_owned(),
            subject,
            distinct,
            attempts: u64::from(e.attempts),
            failures: u64::from(e.failures),
            first_seen: Timestamp::from_millis(e.window_end_ms).to_rfc3339(),
            why,
        });
    }
}

/// The grain behind an account-takeover finding, as an attacking source.
fn takeover_grain(f: &NewFinding) -> Option<AttackingSource> {
    let ev = &f.evidence;
    let grain = ev.get("grain")?.as_str()?;
    let source = ev["login"]["source"].as_str().unwrap_or_default();
    let subject = match grain {
        "ip" => source.to_owned(),
        "network" => match source.parse::<std::net::IpAddr>() {
            Ok(ip) => {
                gatehouse_detect::Source::of(gatehouse_detect::SourceGrouping::Network, ip, None)
                    .to_string()
            }
            Err(_) => source.to_owned(),
        },
        other => format!("the {} of {source}", other.replace('_', " ")),
    };
    let num = |k: &str| ev[k].as_f64().unwrap_or(0.0);
    Some(AttackingSource {
        kind: grain.to_owned(),
        subject,
        distinct: 0,
        attempts: num("grain_attempts").round() as u64,
        failures: num("unknown_attempts").round() as u64,
        first_seen: f.observed_at.to_rfc3339(),
        why: format!(
            "about {:.0} attempts on addresses that do not exist where {:.0} were expected ({:.1} standard deviations over its baseline)",
            num("unknown_attempts"),
            num("expected_unknown"),
            num("z")
        ),
    })
}

/// Attempts per hour: (hour number since the epoch) → (attempts, unknown); and
/// of the unknown, those whose address is an existing account (resolved).
#[derive(Default)]
struct Hours(BTreeMap<i64, (u64, u64)>, BTreeMap<i64, u64>);

impl Hours {
    fn add(&mut self, ev: &LoginEvent) {
        let hour = ev.time.as_millis().div_euclid(3_600_000);
        let h = self.0.entry(hour).or_default();
        h.0 += 1;
        if ev.outcome == EventOutcome::UnknownAccount {
            h.1 += 1;
            if ev.account_id.is_some() {
                *self.1.entry(hour).or_default() += 1;
            }
        }
    }

    /// Fills each window's attempts on existing accounts, and calls it
    /// outage-like when they are most of its "unknown" attempts.
    fn label(&self, windows: &mut [AttackWindow]) {
        for w in windows {
            let (Ok(a), Ok(b)) = (parse_time("start", &w.start), parse_time("end", &w.end)) else {
                continue;
            };
            let hours = a.as_millis().div_euclid(3_600_000)..b.as_millis().div_euclid(3_600_000);
            w.existing_accounts = self.1.range(hours).map(|(_, n)| n).sum();
            w.outage_like = 2 * w.existing_accounts >= w.unknown_account.max(1);
        }
    }
}

/// The median of the hours' unknown-address attempts (hours with traffic).
fn median_unknown(hours: &BTreeMap<i64, (u64, u64)>) -> f64 {
    let mut v: Vec<u64> = hours.values().map(|h| h.1).collect();
    v.sort_unstable();
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2] as f64,
        n => (v[n / 2 - 1] + v[n / 2]) as f64 / 2.0,
    }
}

/// Hours of the period whose attempts on unknown addresses exceed the normal
/// hour (`median`: of the period and the history read before it) by far — at
/// least 50 more, at least five times as many, and more than six Poisson
/// standard deviations — merged when consecutive. A site's people mistype their
/// address at a steady rate; a combo list brings thousands of addresses that do
/// not exist. Pure: the caller counts.
pub fn attack_windows(hours: &BTreeMap<i64, (u64, u64)>, median: f64) -> Vec<AttackWindow> {
    let hot = |u: u64| {
        let u = u as f64;
        u >= median + 50.0 && u >= 5.0 * median && u - median > 6.0 * median.max(1.0).sqrt()
    };
    let mut out: Vec<(i64, i64, u64, u64, f64)> = Vec::new();
    for (&h, &(attempts, unknown)) in hours {
        if !hot(unknown) {
            continue;
        }
        match out.last_mut() {
            Some(w) if w.1 == h => {
                w.1 = h + 1;
                w.2 += unknown;
                w.3 += attempts;
                w.4 += median;
            }
            _ => out.push((h, h + 1, unknown, attempts, median)),
        }
    }
    out.into_iter()
        .map(|(a, b, unknown, attempts, expected)| AttackWindow {
            start: Timestamp::from_millis(a * 3_600_000).to_rfc3339(),
            end: Timestamp::from_millis(b * 3_600_000).to_rfc3339(),
            unknown_account: unknown,
            attempts,
            expected_unknown: expected,
            existing_accounts: 0,
            outage_like: false,
        })
        .collect()
}

/// Everything a run over the stored events gives.
struct Run {
    tallies: Vec<Tally>,
    detector_windows: Vec<DetectorWindow>,
    events: u64,
    hours: Hours,
    /// The normal hour's unknown-address attempts.
    median_unknown: f64,
    traffic: Traffic,
    recorded: Option<Recorded>,
}

impl App {
    /// Backtests rule `id` (or `req.draft`) over stored events. Reads only,
    /// unless `req.record` (then the stored rule's results are recorded as
    /// shadow findings, audited as `by`). `progress` gets (events read, events
    /// in the period).
    pub async fn backtest_rule(
        &self,
        id: &str,
        req: BacktestRequest,
        by: Actor,
        progress: impl FnMut(u64, u64),
    ) -> Result<BacktestReport, AppError> {
        let (offset, limit) = req.page()?;
        let keep = Keep {
            offset,
            limit,
            explanations: false,
        };
        let (report, _) = self.backtest(id, req, by, keep, progress).await?;
        Ok(report)
    }

    /// Every account the backtest flags, as CSV (`account_id, email, findings,
    /// score, first_seen, explanation`), after the report. Same run as
    /// [`App::backtest_rule`]; `offset` and `limit` do not apply.
    pub async fn backtest_csv(
        &self,
        id: &str,
        req: BacktestRequest,
        by: Actor,
        progress: impl FnMut(u64, u64),
    ) -> Result<(BacktestReport, String), AppError> {
        let keep = Keep {
            offset: 0,
            limit: PAGE_DEFAULT,
            explanations: true,
        };
        self.backtest(id, req, by, keep, progress).await
    }

    async fn backtest(
        &self,
        id: &str,
        req: BacktestRequest,
        by: Actor,
        keep: Keep,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<(BacktestReport, String), AppError> {
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
        if req.record && req.draft.is_some() {
            return Err(AppError::Invalid {
                field: "record",
                message: "only a stored rule's results can be recorded (findings name the \
                          rule version that made them); store the draft first"
                    .into(),
            });
        }
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
        // A draft is compared with the stored version of its id, when that one
        // reads events too (a draft may reuse the id of a login-time rule).
        let compare = if is_draft {
            stored.clone().filter(|s| s.spec.detector.reads_events())
        } else {
            None
        };
        let mut rules = vec![tested.clone()];
        rules.extend(compare.clone());
        let record = req.record.then(|| (tested.clone(), by));
        let mut run = self
            .run_rules(rules, since, until, keep, record, &mut progress)
            .await?;
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
            let flagged = t.flagged.len() as u64;
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
        let tested_outcome = outcome(&run.tallies[0], (!is_draft).then_some(tested.version));
        let current = compare
            .as_ref()
            .map(|c| outcome(&run.tallies[1], Some(c.version)));
        let tally = run.tallies.swap_remove(0);
        let mut emails: HashMap<AccountId, String> = HashMap::new();
        let mut email = async |a: AccountId| -> Result<String, AppError> {
            if let Some(e) = emails.get(&a) {
                return Ok(e.clone());
            }
            let e = self
                .store
                .account(a)
                .await?
                .map(|a| a.email)
                .unwrap_or_default();
            emails.insert(a, e.clone());
            Ok(e)
        };
        let mut sample = Vec::new();
        let mut items = Vec::new();
        for (i, f) in tally.flagged.iter().enumerate() {
            let i = i as u64;
            let in_page = i >= keep.offset && i - keep.offset < keep.limit;
            if i >= PAGE_DEFAULT && !in_page {
                continue;
            }
            let evidence = f.evidence.clone().unwrap_or_default();
            let address = email(f.account).await?;
            if i < PAGE_DEFAULT {
                sample.push(BacktestSample {
                    account_id: f.account.to_string(),
                    email: address.clone(),
                    score: f.score,
                    evidence: evidence.clone(),
                });
            }
            if in_page {
                items.push(BacktestAccount {
                    account_id: f.account.to_string(),
                    email: address,
                    findings: f.findings,
                    score: f.score,
                    first_seen: f.first_seen.to_rfc3339(),
                    evidence,
                });
            }
        }
        let mut csv = String::new();
        if keep.explanations {
            csv.push_str("account_id,email,findings,score,first_seen,explanation\n");
            for f in &tally.flagged {
                let address = email(f.account).await?;
                csv.push_str(&format!(
                    "{},{},{},{:.3},{},{}\n",
                    f.account,
                    csv_field(&address),
                    f.findings,
                    f.score,
                    f.first_seen.to_rfc3339(),
                    csv_field(f.explanation.as_deref().unwrap_or_default())
                ));
            }
        }
        let mut sources: Vec<AttackingSource> = tally.sources.into_values().collect();
        sources.sort_by(|a, b| {
            (b.failures, b.attempts, &a.subject).cmp(&(a.failures, a.attempts, &b.subject))
        });
        sources.truncate(SOURCES_MAX);
        let mut attack_windows = attack_windows(&run.hours.0, run.median_unknown);
        run.hours.label(&mut attack_windows);
        let mut warnings = warnings(&tested_outcome, current.as_ref());
        for w in attack_windows.iter().filter(|w| w.outage_like) {
            warnings.push(format!(
                "outage-like burst from {} to {}: {} of its {} attempts logged as addresses that \
                 do not exist named existing accounts (the sender's directory, not the address, \
                 was missing); judged as failed sign-ins on those accounts, not as an attack",
                w.start, w.end, w.existing_accounts, w.unknown_account
            ));
        }
        if tested_outcome.flagged_accounts == 0 && attack_windows.iter().any(|w| !w.outage_like) {
            let attack_windows: Vec<&AttackWindow> =
                attack_windows.iter().filter(|w| !w.outage_like).collect();
            let unknown: u64 = attack_windows.iter().map(|w| w.unknown_account).sum();
            warnings.push(format!(
                "{unknown} attempts on addresses that do not exist came in {} attack window(s) \
                 (from {}), far above the period's normal hour, and this rule flagged no account: \
                 an attack it does not catch may have run (backtest the account-takeover rule \
                 over the same period)",
                attack_windows.len(),
                attack_windows[0].start
            ));
        }
        let report = BacktestReport {
            rule: id.to_owned(),
            since: since.to_rfc3339(),
            until: until.to_rfc3339(),
            events: run.events,
            accounts,
            normal_daily_findings: normal,
            tested: tested_outcome,
            current,
            sample,
            accounts_page: BacktestPage {
                total: tally.flagged.len() as u64,
                offset: keep.offset,
                limit: keep.limit,
                items,
            },
            sources,
            sources_total: tally.sources_total,
            traffic: std::mem::take(&mut run.traffic),
            attack_windows,
            detector_windows: std::mem::take(&mut run.detector_windows),
            recorded: run.recorded,
            warnings,
        };
        Ok((report, csv))
    }
}

/// A CSV field: quoted when it holds a comma, quote or line break; a leading
/// `=`, `+`, `-` or `@` is prefixed with `'` so a spreadsheet never runs it.
fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

impl App {
    /// Runs `rules` over the stored events of `since..until` (after learning
    /// the lead-in before `since`), reading only — unless `record` names the
    /// rule (the first) whose findings are recorded as shadow findings.
    async fn run_rules(
        &self,
        rules: Vec<Rule>,
        since: Timestamp,
        until: Timestamp,
        keep: Keep,
        record: Option<(Rule, Actor)>,
        progress: &mut impl FnMut(u64, u64),
    ) -> Result<Run, AppError> {
        let mut eval = Evaluator::new(rules);
        eval.attacks = Some(Vec::new());
        // The live monitor knows the accounts' histories and the sources'
        // baselines when the period starts; so must the backtest, or its first
        // hours would judge every account as if it had never signed in.
        let lead_in = since.minus(eval.history());
        let total = self.store.count_login_events(since, until).await?.max(0) as u64;
        let mut tallies: Vec<Tally> = (0..eval.engines.len()).map(|_| Tally::default()).collect();
        let mut hours = Hours::default();
        // The history before the period, for what a normal hour is: a short
        // period may be all attack.
        let mut before = Hours::default();
        let mut traffic = Traffic::default();
        let mut recorded = record.as_ref().map(|_| Recorded {
            recorded: 0,
            duplicates: 0,
        });
        // Recorded as shadow findings whatever the rule's mode: a backtest
        // never hands anything to remediation.
        let record = record.map(|(mut rule, by)| {
            rule.spec.mode = RuleMode::Shadow;
            (rule, by)
        });
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
                before.add(ev);
            }
            for ev in &page[split..] {
                eval.observe(ev, &mut candidates);
                hours.add(ev);
                traffic.attempts += 1;
                match ev.outcome {
                    EventOutcome::Success => traffic.successes += 1,
                    EventOutcome::WrongPassword => traffic.wrong_password += 1,
                    EventOutcome::UnknownAccount => traffic.unknown_account += 1,
                }
            }
            for (engine, sig) in eval
                .attacks
                .as_mut()
                .map(std::mem::take)
                .unwrap_or_default()
            {
                tallies[engine].attack(&sig);
            }
            let mut to_record = Vec::new();
            for c in &candidates {
                let t = &mut tallies[c.engine];
                match eval.finding(self.store.as_ref(), c).await? {
                    Some(f) => {
                        t.add(&f, keep);
                        if c.engine == 0 && record.is_some() {
                            to_record.push(f);
                        }
                    }
                    None => t.unknown += 1,
                }
            }
            if let (Some((rule, by)), Some(r)) = (&record, &mut recorded)
                && !to_record.is_empty()
            {
                let done = self.record_findings(rule, &to_record, by.clone()).await?;
                r.recorded += done.ids.len() as u64;
                r.duplicates += done.duplicates;
            }
            progress(eval.events, total);
            if !full {
                break;
            }
        }
        if let Some((peak, &(_, unknown))) = hours.0.iter().max_by_key(|(h, c)| (c.1, -**h)) {
            traffic.peak_hour = Some(Timestamp::from_millis(peak * 3_600_000).to_rfc3339());
            traffic.peak_hour_unknown = unknown;
        }
        let mut all = before.0;
        all.extend(hours.0.iter().map(|(h, c)| (*h, *c)));
        let median = median_unknown(&all);
        traffic.median_hour_unknown = median;
        let rfc = |ms: i64| Timestamp::from_millis(ms).to_rfc3339();
        let detector_windows = eval
            .engines
            .first()
            .map(|e| e.attack_windows())
            .unwrap_or_default()
            .into_iter()
            .filter(|w| w.end_ms >= since.as_millis())
            .map(|w| DetectorWindow {
                start: rfc(w.start_ms),
                end: rfc(w.end_ms),
                open: w.open,
                peak_site_z: w.peak_site_z,
                unknown_account: w.unknown,
                attempts: w.attempts,
            })
            .collect();
        Ok(Run {
            tallies,
            detector_windows,
            events: eval.events,
            hours,
            median_unknown: median,
            traffic,
            recorded,
        })
    }

    /// Every account `rule` would flag over the stored events of `since..until`
    /// (reads only): for measuring a rule against ground truth.
    pub async fn flagged_accounts(
        &self,
        rule: Rule,
        since: Timestamp,
        until: Timestamp,
    ) -> Result<std::collections::HashSet<AccountId>, AppError> {
        let keep = Keep {
            offset: 0,
            limit: 0,
            explanations: false,
        };
        let mut run = self
            .run_rules(vec![rule], since, until, keep, None, &mut |_, _| {})
            .await?;
        Ok(run
            .tallies
            .pop()
            .map(|t| t.flagged.iter().map(|f| f.account).collect())
            .unwrap_or_default())
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
mod tests;
