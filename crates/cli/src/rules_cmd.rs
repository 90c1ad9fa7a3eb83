//! `gatehouse rules …` and `gatehouse findings`: the compromise-check rules and
//! what they found, from the command line (the same use cases as the admin API).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use gatehouse_domain::audit::Actor;
use gatehouse_server::Config;
use gatehouse_server::app::backtest::{BacktestOutcome, BacktestReport, BacktestRequest};
use gatehouse_server::app::rules::{Rule, parse_rules_toml};
use gatehouse_server::app::rules_status::RulesStatus;
use gatehouse_server::http::rules_api::FindingsQuery;

#[derive(Subcommand)]
pub enum RulesCommand {
    /// List the rules: id, version, detector, mode, action, daily cap.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one rule in full (as TOML), or a past version of it.
    Show {
        /// Rule id.
        id: String,
        /// A past version (default: the current one).
        #[arg(long)]
        version: Option<i64>,
    },
    /// Create or edit rules from a TOML file of `[[rule]]` tables. A rule that
    /// differs from the stored one gets a new version; rules not in the file are
    /// left as they are. The whole file is checked before anything is stored.
    Apply {
        /// The .toml file.
        file: PathBuf,
    },
    /// Run a rule over stored login events without side effects: how many
    /// accounts it would flag, a sample with evidence, compared with the current
    /// version and the rule's normal daily volume.
    Backtest {
        /// Rule id.
        id: String,
        /// Start of the period: RFC 3339 time, or a duration back from now such
        /// as 24h, 7d (default 7d).
        #[arg(long)]
        since: Option<String>,
        /// End of the period: RFC 3339 time (default now).
        #[arg(long)]
        until: Option<String>,
        /// Test this draft instead (a TOML file holding one `[[rule]]` with this
        /// id), compared with the stored version.
        #[arg(long)]
        draft: Option<PathBuf>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Also write every flagged account to this CSV file
        /// (account_id,email,findings,score,first_seen,explanation).
        #[arg(long)]
        csv: Option<PathBuf>,
        /// Record the stored rule's results as shadow findings (audited; the same
        /// behaviour is recorded once): how findings are raised from history
        /// imported too late for the live monitor.
        #[arg(long, conflicts_with = "draft")]
        record: bool,
    },
    /// What the checks are doing now: each rule's findings of the last 24 hours,
    /// the live monitor's position, history that arrived too late for it.
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `gatehouse findings` options.
#[derive(Args)]
pub struct FindingsArgs {
    /// Only this rule's findings.
    #[arg(long)]
    rule: Option<String>,
    /// Only this account's (id or e-mail address).
    #[arg(long)]
    account: Option<String>,
    /// Only this status: shadow, pending or held.
    #[arg(long)]
    status: Option<String>,
    /// Recorded at or after: RFC 3339 time, or a duration back such as 24h, 7d.
    #[arg(long)]
    since: Option<String>,
    /// Recorded before: RFC 3339 time.
    #[arg(long)]
    until: Option<String>,
    /// At most this many (newest first).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(i64).range(1..=1000))]
    limit: i64,
    /// Print JSON (with the full evidence).
    #[arg(long)]
    json: bool,
}

/// "7d", "24h", "90m" back from now, or an RFC 3339 time as given.
fn time_arg(now: gatehouse_domain::Timestamp, s: &str) -> anyhow::Result<String> {
    let unit = |c: char| match c {
        'm' => Some(60),
        'h' => Some(3600),
        'd' => Some(86_400),
        _ => None,
    };
    if let Some(last) = s.chars().last()
        && let Some(secs) = unit(last)
        && let Ok(n) = s[..s.len() - 1].parse::<u64>()
    {
        return Ok(now
            .minus(std::time::Duration::from_secs(n * secs))
            .to_rfc3339());
    }
    gatehouse_domain::Timestamp::parse_rfc3339(s)
        .map(|t| t.to_rfc3339())
        .map_err(|e| {
            anyhow::anyhow!("{s:?} is neither an RFC 3339 time nor a duration like 24h or 7d: {e}")
        })
}

fn print_rules(rules: &[Rule]) {
    println!(
        "{:<28} {:>3}  {:<22} {:<8} {:<12} {:>9}",
        "RULE", "VER", "DETECTOR", "MODE", "ACTION", "CAP/DAY"
    );
    for r in rules {
        println!(
            "{:<28} {:>3}  {:<22} {:<8} {:<12} {:>9}",
            r.spec.id,
            r.version,
            r.spec.detector.as_str(),
            r.spec.mode.as_str(),
            r.spec.action.as_str(),
            r.spec.max_findings_per_day
        );
    }
}

fn outcome_line(label: &str, o: &BacktestOutcome) -> String {
    format!(
        "{label}: {} accounts flagged ({:.2}% of all accounts, {:.1}/day{}), {} findings, {} signals about unknown addresses",
        o.flagged_accounts,
        o.share_of_accounts * 100.0,
        o.per_day,
        o.multiple_of_normal
            .map(|m| format!(", {m:.1}× normal"))
            .unwrap_or_default(),
        o.findings,
        o.unknown_addresses
    )
}

fn print_backtest(r: &BacktestReport) {
    println!(
        "Backtest of rule {:?} over {} .. {}: {} events, {} accounts",
        r.rule, r.since, r.until, r.events, r.accounts
    );
    let label = match r.tested.version {
        Some(v) => format!("version {v}"),
        None => "draft".to_owned(),
    };
    println!("  {}", outcome_line(&label, &r.tested));
    if let Some(c) = &r.current {
        println!(
            "  {}",
            outcome_line(&format!("current version {}", c.version.unwrap_or(0)), c)
        );
    }
    println!(
        "  normal volume: {} findings a day (median, last 30 days)",
        r.normal_daily_findings
    );
    for w in &r.warnings {
        println!("  WARNING: {w}");
    }
    let t = &r.traffic;
    println!(
        "  traffic: {} attempts ({} successful, {} wrong password, {} on addresses that do not exist; peak hour {} with {}, median hour {})",
        t.attempts,
        t.successes,
        t.wrong_password,
        t.unknown_account,
        t.peak_hour.as_deref().unwrap_or("-"),
        t.peak_hour_unknown,
        t.median_hour_unknown
    );
    for w in &r.attack_windows {
        // An outage logged as "unknown account" is a burst too; the operator
        // must see it named as such, not as an attack (nor see nothing).
        let kind = if w.outage_like {
            "outage-like burst"
        } else {
            "attack window"
        };
        println!(
            "  {kind} {} – {}: {} attempts on addresses that do not exist (about {:.0} expected; {} of them existing accounts), {} attempts in all",
            w.start, w.end, w.unknown_account, w.expected_unknown, w.existing_accounts, w.attempts
        );
    }
    if r.sources_total > 0 {
        println!(
            "  sources judged attacking: {} (strongest {} below)",
            r.sources_total,
            r.sources.len().min(10)
        );
        for s in r.sources.iter().take(10) {
            println!("    {} {}: {}", s.kind, s.subject, s.why);
        }
    }
    if !r.sample.is_empty() {
        println!(
            "  flagged accounts (first {} of {}; --json --offset, or --csv for all):",
            r.sample.len(),
            r.accounts_page.total
        );
        for s in &r.sample {
            println!(
                "    {} (score {:.2}): {}",
                s.email,
                s.score,
                s.evidence["explanation"].as_str().unwrap_or("")
            );
        }
    }
    if let Some(rec) = &r.recorded {
        println!(
            "  recorded as shadow findings: {} new, {} already recorded",
            rec.recorded, rec.duplicates
        );
    }
}

fn print_status(s: &RulesStatus) {
    println!(
        "{:<28} {:>3}  {:<22} {:<8} {:<12} {:>7} {:>7} {:>5}  NEWEST FINDING",
        "RULE", "VER", "DETECTOR", "MODE", "ACTION", "SHADOW", "PENDING", "HELD"
    );
    for r in &s.rules {
        println!(
            "{:<28} {:>3}  {:<22} {:<8} {:<12} {:>7} {:>7} {:>5}  {}",
            r.id,
            r.version,
            r.detector,
            r.mode,
            r.action,
            r.shadow_24h,
            r.pending_24h,
            r.held_24h,
            r.newest_finding.as_deref().unwrap_or("-")
        );
    }
    println!("(findings of the last 24 hours)");
    let m = &s.monitor;
    println!(
        "\nmonitor: checkpoint {} of {} ({} behind), last saved {}; live window {} s, account histories {} days",
        m.checkpoint,
        m.latest_event,
        m.behind,
        m.saved_at
            .as_deref()
            .unwrap_or("never (is `gatehouse serve` running?)"),
        m.live_window_secs,
        m.history_secs / 86_400
    );
    let l = &s.late_history;
    match &l.advice {
        None => println!("late history: none in the last 7 days"),
        Some(advice) => println!(
            "late history: {} events ({} .. {}), last received {}\n  {advice}",
            l.events,
            l.oldest.as_deref().unwrap_or("-"),
            l.newest.as_deref().unwrap_or("-"),
            l.last_received.as_deref().unwrap_or("-")
        ),
    }
    println!(
        "breaker: {}",
        if s.breaker_open {
            "OPEN (enforced findings wait; see `gatehouse breaker`)"
        } else {
            "closed"
        }
    );
}

pub async fn run(config: Config, command: RulesCommand) -> anyhow::Result<ExitCode> {
    // Read input files before touching the database: a wrong path fails fast.
    let read = |p: &PathBuf| {
        std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))
    };
    let draft = match &command {
        RulesCommand::Apply { file } => Some(read(file)?),
        RulesCommand::Backtest {
            draft: Some(file), ..
        } => Some(read(file)?),
        _ => None,
    };
    let app = gatehouse_server::build_app(config).await?;
    app.install_rules().await?;
    match command {
        RulesCommand::Status { json } => {
            let status = app.rules_status().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&status)?);
            } else {
                print_status(&status);
            }
        }
        RulesCommand::List { json } => {
            let rules = app.rules().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rules)?);
            } else {
                print_rules(&rules);
            }
        }
        RulesCommand::Show { id, version } => {
            let rule = app.rule(&id, version).await?;
            println!(
                "# version {}, written {} by {}",
                rule.version,
                rule.updated_at.to_rfc3339(),
                rule.updated_by
            );
            #[derive(serde::Serialize)]
            struct File<'a> {
                rule: [&'a gatehouse_server::app::rules::RuleSpec; 1],
            }
            print!("{}", toml::to_string(&File { rule: [&rule.spec] })?);
        }
        RulesCommand::Apply { file } => {
            let text = draft.expect("read above");
            let changes = app
                .apply_rules(&text, Actor::System)
                .await
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            for c in &changes {
                println!(
                    "{} {} (version {}, {})",
                    if c.changed { "stored" } else { "unchanged" },
                    c.rule.spec.id,
                    c.rule.version,
                    c.rule.spec.mode
                );
            }
        }
        RulesCommand::Backtest {
            id,
            since,
            until,
            draft: draft_path,
            json,
            csv,
            record,
        } => {
            let now = app.clock.now();
            let draft = match (draft, draft_path) {
                (Some(text), Some(path)) => {
                    let mut rules = parse_rules_toml(&text)
                        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
                    if rules.len() != 1 {
                        anyhow::bail!(
                            "{}: a draft file holds exactly one [[rule]]; this one has {}",
                            path.display(),
                            rules.len()
                        );
                    }
                    Some(rules.remove(0))
                }
                _ => None,
            };
            let req = BacktestRequest {
                since: since.map(|s| time_arg(now, &s)).transpose()?,
                until: until.map(|s| time_arg(now, &s)).transpose()?,
                draft,
                record,
                ..BacktestRequest::default()
            };
            let pb = indicatif::ProgressBar::new(0).with_style(
                indicatif::ProgressStyle::with_template(
                    "backtest {bar:40} {pos}/{len} events ({per_sec}, {eta})",
                )
                .expect("valid template"),
            );
            if json {
                pb.set_draw_target(indicatif::ProgressDrawTarget::hidden());
            }
            let progress = |done, total| {
                pb.set_length(total);
                pb.set_position(done);
            };
            let report = match &csv {
                None => app
                    .backtest_rule(&id, req, Actor::System, progress)
                    .await
                    .map(|r| (r, String::new())),
                Some(_) => app.backtest_csv(&id, req, Actor::System, progress).await,
            };
            pb.finish_and_clear();
            let (report, text) = report?;
            if let Some(path) = &csv {
                std::fs::write(path, text)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                eprintln!(
                    "wrote {} flagged accounts to {}",
                    report.accounts_page.total,
                    path.display()
                );
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print_backtest(&report);
            }
        }
    }
    app.close().await;
    Ok(ExitCode::SUCCESS)
}

pub async fn findings(config: Config, args: FindingsArgs) -> anyhow::Result<ExitCode> {
    let app = gatehouse_server::build_app(config).await?;
    let now = app.clock.now();
    let q = FindingsQuery {
        rule: args.rule,
        account: args.account,
        status: args.status,
        since: args.since.map(|s| time_arg(now, &s)).transpose()?,
        until: args.until.map(|s| time_arg(now, &s)).transpose()?,
        before: None,
        limit: Some(args.limit),
    };
    let filter = q.filter(&app).await?;
    let found = app.findings(&filter).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&found)?);
    } else if found.is_empty() {
        println!("no findings");
    } else {
        for f in &found {
            println!(
                "#{} {} {} v{} {} score {:.2} — {} — {}",
                f.id,
                f.created_at,
                f.rule,
                f.rule_version,
                f.status,
                f.score,
                f.email,
                f.evidence["explanation"].as_str().unwrap_or("")
            );
        }
    }
    app.close().await;
    Ok(ExitCode::SUCCESS)
}
