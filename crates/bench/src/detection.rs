//! `gatehouse-bench detection`: the rules, measured end to end on a generated
//! trace with ground truth (`gatehouse_detect::synth`).
//!
//! The trace (ordinary users with typos and travel, a stuffing botnet with a few
//! successes, a password spray, distributed guessing) is stored the way events
//! arrive: its accounts imported, its events inserted through the store (account
//! resolution in SQL). That part is a fixture written with `App::raw_store`: the
//! trace's events are Gatehouse's own logins, with password digests and chosen
//! account ids, which no ingestion use case takes from outside. Then, through
//! the same code a backtest runs (`App::backtest_rule`, `App::flagged_accounts`):
//!
//! - precision and recall of each shipped event rule against the accounts the
//!   trace says were taken over by that attack;
//! - the backtest of a deliberately broken draft of the stuffing rule, next to the
//!   shipped version: the inflated count and the report's warnings;
//! - the backtest's speed (events/s, store reads included), with the in-process
//!   detectors over the same events in memory as the baseline, in the same run.

use std::collections::{HashMap, HashSet};
use std::process::ExitCode;
use std::time::Instant;

use gatehouse_detect::synth::{T0, Trace, TraceSpec};
use gatehouse_detect::{AccountKey, DetectConfig, Detectors, Outcome, SignalKind};
use gatehouse_domain::audit::{Actor, AuditAction, NewAuditEntry};
use gatehouse_domain::login_event::{EventOrigin, EventOutcome};
use gatehouse_domain::{AccountId, Timestamp};
use gatehouse_server::app::backtest::BacktestRequest;
use gatehouse_server::app::rules::{DetectorKind, Rule, parse_rules_toml};
use gatehouse_store::{AccountLink, NewAccount, NewLoginEvent};

/// Arguments of `gatehouse-bench detection`.
#[derive(clap::Args, Clone)]
pub struct DetectionArgs {
    /// Database (default: a new SQLite file in a temporary directory).
    #[arg(long)]
    database_url: Option<String>,
    /// Ordinary users in the trace.
    #[arg(long, default_value_t = 20_000)]
    users: u32,
    /// Hours the trace covers.
    #[arg(long, default_value_t = 6)]
    hours: u32,
    /// Trace seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Timed backtest rounds; the median is reported.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
}

fn email(k: AccountKey) -> String {
    format!("u{:016x}@example.com", k.0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

pub async fn run(args: DetectionArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.rounds > 0, "--rounds must be positive");
    let (_dir, app) = crate::scratch_app(args.database_url.clone(), &[]).await?;
    app.install_rules().await?;

    let trace = Trace::generate(TraceSpec {
        seed: args.seed,
        users: args.users,
        hours: args.hours,
        attacks: true,
    });
    eprintln!("trace: {} events", trace.events.len());

    // Accounts: every key that ever signs in or mistypes its password exists.
    let existing: HashSet<AccountKey> = trace
        .events
        .iter()
        .filter(|e| e.outcome != Outcome::UnknownAccount)
        .map(|e| e.account)
        .collect();
    // Never verified here: any well-formed hash will do.
    let hash = app
        .hasher
        .hash_now("bench-password-not-used", app.entropy.as_ref())?;
    let created = Timestamp::from_millis(T0 - 86_400_000);
    let rows: Vec<NewAccount> = existing
        .iter()
        .map(|k| {
            let e = email(*k);
            NewAccount {
                id: AccountId::generate(app.entropy.as_ref()),
                email_key: e.clone(),
                email: e,
                created_at: created,
                password_hash: hash.clone(),
            }
        })
        .collect();
    // A fixture, written by the store (`App::raw_store`): the accounts need
    // ids chosen here to compare the rules' findings with the trace's truth,
    // which the import use case (it makes its own ids) does not offer.
    for chunk in rows.chunks(1000) {
        let audit = NewAuditEntry::new(
            app.clock.now(),
            Actor::System,
            AuditAction::AccountsImported,
        );
        app.raw_store().import_accounts(chunk, audit).await?;
    }
    let started = Instant::now();
    for (c, chunk) in trace.events.chunks(1000).enumerate() {
        let batch: Vec<NewLoginEvent> = chunk
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let mut digest = [0u8; 32];
                if let Some(p) = e.password {
                    digest[..8].copy_from_slice(&p.0.to_be_bytes());
                }
                let n = (c * 1000 + i) as u128;
                NewLoginEvent {
                    time: Timestamp::from_millis(e.time_ms),
                    account: email(e.account),
                    link: AccountLink::Resolve,
                    ip: e.ip.to_string(),
                    user_agent: None,
                    outcome: match e.outcome {
                        Outcome::Success => EventOutcome::Success,
                        Outcome::WrongPassword => EventOutcome::WrongPassword,
                        Outcome::UnknownAccount => EventOutcome::UnknownAccount,
                    },
                    country: None,
                    asn: e.asn,
                    origin: EventOrigin::Gatehouse,
                    password_digest: e.password.map(|_| digest),
                    dedupe_key: n.to_be_bytes(),
                    received_at: Timestamp::from_millis(e.time_ms),
                }
            })
            .collect();
        app.raw_store().insert_login_events(&batch, None).await?;
    }
    eprintln!(
        "stored {} accounts and {} events in {:.1} s",
        rows.len(),
        trace.events.len(),
        started.elapsed().as_secs_f64()
    );
    let since = Timestamp::from_millis(T0 - 1);
    let until = Timestamp::from_millis(trace.events.last().map_or(T0, |e| e.time_ms) + 1);

    // Account id → the trace's key, to compare with the ground truth.
    let mut key_of: HashMap<AccountId, AccountKey> = HashMap::new();
    for r in &rows {
        let hex = &r.email[1..17];
        key_of.insert(r.id, AccountKey(u64::from_str_radix(hex, 16)?));
    }
    let rules: Vec<Rule> = app
        .rules()
        .await?
        .into_iter()
        .filter(|r| r.spec.detector.reads_events())
        .collect();
    println!(
        "| rule | taken over (truth) | flagged | precision | recall | in-process detectors: flagged / precision / recall |"
    );
    println!("|---|---:|---:|---:|---:|---|");
    for rule in &rules {
        let truth = match rule.spec.detector {
            DetectorKind::CredentialStuffing => &trace.truth.stuffing_victims,
            DetectorKind::PasswordSpraying => &trace.truth.spray_victims,
            _ => &trace.truth.guessing_victims,
        };
        let flagged = app.flagged_accounts(rule.clone(), since, until).await?;
        let hits = flagged
            .iter()
            .filter(|a| key_of.get(a).is_some_and(|k| truth.contains(k)))
            .count();
        let ratio = |a: usize, b: usize| if b == 0 { 1.0 } else { a as f64 / b as f64 };
        // The same rule's detectors fed the trace in memory: what the store path
        // should match.
        let mut d = Detectors::new(rule.spec.detect_config().expect("event rule"));
        let mut signals = Vec::new();
        for e in &trace.events {
            d.observe(e, &mut signals);
        }
        let direct: HashSet<AccountKey> = signals
            .iter()
            .filter(|s| {
                s.kind == SignalKind::LikelyCompromised
                    && existing.contains(&s.account.unwrap_or(AccountKey(0)))
            })
            .filter_map(|s| s.account)
            .collect();
        let direct_hits = direct.iter().filter(|k| truth.contains(k)).count();
        println!(
            "| {} | {} | {} | {:.3} | {:.3} | {} / {:.3} / {:.3} |",
            rule.spec.id,
            truth.len(),
            flagged.len(),
            ratio(hits, flagged.len()),
            ratio(hits, truth.len()),
            direct.len(),
            ratio(direct_hits, direct.len()),
            ratio(direct_hits, truth.len())
        );
    }

    // A broken edit of the stuffing rule: any failure in an ASN makes every later
    // success from that ASN suspect.
    let broken = parse_rules_toml(
        "[[rule]]\nid = \"credential-stuffing\"\ndetector = \"credential_stuffing\"\ngrouping = \"asn\"\n\
         thresholds = { min_distinct = 1, min_failures = 1, min_failure_ratio = 0.0 }\n\
         skip_familiar_logins = false\n",
    )?
    .remove(0);
    let report = app
        .backtest_rule(
            "credential-stuffing",
            BacktestRequest {
                since: Some(since.to_rfc3339()),
                until: Some(until.to_rfc3339()),
                draft: Some(broken),
                ..BacktestRequest::default()
            },
            gatehouse_domain::audit::Actor::System,
            |_, _| {},
        )
        .await?;
    let current = report
        .current
        .as_ref()
        .expect("the stored rule is compared");
    println!();
    println!(
        "broken draft: {} accounts flagged ({:.1}% of {}), current version {}: {}",
        report.tested.flagged_accounts,
        report.tested.share_of_accounts * 100.0,
        report.accounts,
        current.version.unwrap_or(0),
        current.flagged_accounts
    );
    for w in &report.warnings {
        println!("  warning: {w}");
    }

    // Speed: a backtest of the three shipped rules (store reads, resolution,
    // evaluation) against the in-process detectors over the same events.
    let (mut backtest, mut inproc) = (Vec::new(), Vec::new());
    let n = trace.events.len() as f64;
    for _ in 0..args.rounds {
        let t = Instant::now();
        for rule in &rules {
            app.flagged_accounts(rule.clone(), since, until).await?;
        }
        backtest.push(n * rules.len() as f64 / t.elapsed().as_secs_f64());
        let t = Instant::now();
        let mut signals = Vec::new();
        for rule in &rules {
            let cfg: DetectConfig = rule.spec.detect_config().expect("event rule");
            let mut d = Detectors::new(cfg);
            for e in &trace.events {
                d.observe(e, &mut signals);
            }
        }
        std::hint::black_box(&signals);
        inproc.push(n * rules.len() as f64 / t.elapsed().as_secs_f64());
    }
    let (b, i) = (median(backtest), median(inproc));
    println!();
    println!(
        "backtest: {:.0} rule-events/s (median of {}); in-process detectors on the same events: {:.0}/s; ratio {:.3}",
        b,
        args.rounds,
        i,
        b / i
    );
    app.close().await;
    Ok(ExitCode::SUCCESS)
}
