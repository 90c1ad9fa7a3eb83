//! `gatehouse demo`: the 2012 incident, replayed against Gatehouse on a fresh
//! embedded store, with the figures that matter printed at the end.
//!
//! 1. A population (default 20,000 accounts) through the account import, with a
//!    precomputed argon2id hash (seconds, not the minutes 20,000 hashes take),
//!    and 30 days of ordinary sign-ins through the event import.
//! 2. The shipped credential-stuffing and account-takeover rules are enforced;
//!    50 minutes of two combo lists come in at once — one concentrated in 15
//!    hosting /24s, one spread thin over 250 /24s in 30 ASNs (under the stuffing
//!    rule's threshold per /24) — with a few dozen real takeovers, and the rules'
//!    automatic campaigns reset exactly those (precision and recall against the
//!    ground truth, and which rule found which attack).
//! 3. A broken rule (ASN grouping, failure ratio 0.08 where 0.8 was meant)
//!    matches about 30 % of accounts. In shadow mode, its backtest and its
//!    campaign preview show the volume; the preview asks for a second operator
//!    and self-approval is refused. Its author then forces it through by
//!    enforcing the rule (automatic campaigns need no approval when small):
//!    live sign-ins come in, the budget runs out, the breaker trips, an incident
//!    is drafted.
//! 4. The second operator undoes the broken rule's campaigns: prior passwords
//!    and sessions back, corrections sent.
//!
//! Everything goes through the same code `serve` runs: the detection monitor,
//! the campaign worker's passes, the delivery worker writing to the maildir.
//! The demo drives the monitor and the campaign worker itself, one pass per
//! incoming sign-in (what they would see at the traffic's real pace), so the
//! 50 minutes of attack take seconds and the outcome does not depend on timing.
//! The clock is the real one.

use std::collections::{BTreeSet, HashMap};
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use gatehouse_domain::audit::Actor;
use gatehouse_domain::campaign::CampaignState;
use gatehouse_domain::finding::{FindingStatus, RuleMode};
use gatehouse_server::app::backtest::BacktestRequest;
use gatehouse_server::app::campaigns::CampaignSpec;
use gatehouse_server::app::monitor::Monitor;
use gatehouse_server::app::rules::parse_rules_toml;
use gatehouse_server::app::{AppError, Client};
use gatehouse_server::{App, Config};
use gatehouse_store::{CampaignRecord, FindingFilter, NoticeState, TargetRecord, TargetState};

mod guardrails;
mod setup;

use setup::{count_bar, demo_config, maildir_message_ids, prepare_dir};

use crate::demo_report::{
    AttackReport, AuditChain, BrokenRuleReport, ConsoleLogin, HaltReport, MailReport, PhaseTime,
    PopulationReport, Report, Settings, StuffingReport, UndoSummary,
};
use crate::demo_traffic::{Attack, Event, Population, Rng, Timeline, slices_by_sign_in};

/// Marks a directory as the demo's: only such a directory is ever emptied.
const MARKER: &str = ".gatehouse-demo";
/// What the demo writes in its directory (and removes on the next run).
const DEMO_ENTRIES: [&str; 6] = [
    "gatehouse.db",
    "gatehouse.db-wal",
    "gatehouse.db-shm",
    "secret.key",
    "mail",
    MARKER,
];
/// Every demo account's password, so a newcomer can sign in as any of them.
pub const DEMO_PASSWORD: &str = "demo password for every account";
const ALICE: &str = "alice@demo.invalid";
const BOB: &str = "bob@demo.invalid";
const STUFFING_RULE: &str = "credential-stuffing";
const TAKEOVER_RULE: &str = "account-takeover";
pub const BROKEN_RULE_ID: &str = "slow-stuffing";
/// The broken rule as its author wrote it.
const BROKEN_RULE: &str = r#"[[rule]]
id = "slow-stuffing"
description = "A network tried many accounts over a day, most attempts failing; an account that then signed in from it is likely taken over."
detector = "credential_stuffing"
mode = "shadow"
action = "force_reset"
max_findings_per_day = 1000
window_secs = 86400
grouping = "asn"
# The author meant 0.8 (80 % of attempts failing). At 0.08 any busy network
# with ordinary typos qualifies: here, the mobile carrier 30 % of people use.
thresholds = { min_distinct = 20, min_failures = 10, min_failure_ratio = 0.08 }
# And "slow stuffing comes from people's own ISPs", so the author also turned off
# the guard that spares a sign-in from the account's own device and network.
skip_familiar_logins = false
"#;
/// Live sign-ins tried at most before the demo gives up waiting for the breaker.
const MAX_LIVE_SIGN_INS: usize = 5000;
/// Longest wait for campaigns to finish or mail to be delivered.
const SETTLE: Duration = Duration::from_secs(120);

/// Arguments of `gatehouse demo`.
#[derive(clap::Args, Clone)]
pub struct DemoArgs {
    /// Accounts in the population.
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u32).range(1000..=1_000_000))]
    accounts: u32,
    /// The demo's directory (SQLite database, maildir, server key). A previous
    /// demo's directory is emptied; any other non-empty directory is refused.
    #[arg(long, default_value = "./gatehouse-demo")]
    data_dir: PathBuf,
    /// After the report, serve HTTP on the demo's store (console, status page).
    #[arg(long)]
    pub serve: bool,
    /// Print the report as JSON (and no progress bars).
    #[arg(long)]
    json: bool,
    /// Seed of the population and the attack.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// Runs the demo; returns the exit code and, with `--serve`, the configuration
/// to serve with.
pub async fn run(args: DemoArgs) -> anyhow::Result<(ExitCode, Option<Config>)> {
    prepare_dir(&args.data_dir)?;
    let config = demo_config(&args.data_dir)?;
    // While it plays, the demo serves Gatehouse on a loopback port of its own
    // (the example app signs people in through it): that is its public URL.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .context("cannot listen on a loopback port for the demo's Gatehouse")?;
    let mut playing = config.clone();
    playing.listen = listener.local_addr()?;
    playing.public_url = format!("http://{}", playing.listen).parse()?;
    let app = gatehouse_server::build_app(playing).await?;
    let mut demo = Demo::start(app, &args, listener).await?;
    let report = demo.play(&args).await;
    demo.finish().await;
    let report = report?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.text());
    }
    // The report is printed either way; a broken audit chain is a failure.
    let code = if report.audit_chain.intact {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    };
    if args.serve {
        // The demo's own handle closed its pool when it finished: a new one.
        let app = gatehouse_server::build_app(config.clone()).await?;
        let example_app = crate::demo_app::start(&app).await?;
        serve_banner(&config, &example_app);
    }
    Ok((code, args.serve.then_some(config)))
}

/// What to open once `serve` runs on the demo's store (on stderr: stdout holds
/// the report, which may be JSON).
fn serve_banner(config: &Config, example_app: &str) {
    let public = config.public_origin();
    eprintln!(
        "\nServing the demo's store ({}):",
        config.data_dir.display()
    );
    eprintln!(
        "  an app of the site: {example_app}/  (signs in through Gatehouse with OpenID Connect)"
    );
    eprintln!("  your settings:     {public}/settings");
    eprintln!(
        "  status page:       {public}/status  (the breaker's incident is a draft until an operator publishes it)"
    );
    eprintln!(
        "  check a mail:      {public}/verify  (the GH-… reference in any mail under {})",
        config.data_dir.join("mail/new").display()
    );
    eprintln!(
        "  operator console:  {public}/console  (sign in as alice or bob with the console passwords in the report)"
    );
    eprintln!(
        "  admin API:         {public}/api/v1/admin/… with `Authorization: Bearer <alice's key above>`"
    );
    eprintln!(
        "  a demo account:    any userNNNNN address in the mails, password \"{DEMO_PASSWORD}\""
    );
}

/// The run's state.
struct Demo {
    app: Arc<App>,
    monitor: Monitor,
    delivery: tokio::task::JoinHandle<()>,
    apps: crate::demo_apps::Apps,
    mailer: Arc<gatehouse_server::mail::Mailer>,
    rng: Rng,
    quiet: bool,
    alice: Actor,
    bob: Actor,
    alice_key: String,
    phases: Vec<(&'static str, f64)>,
}

impl Demo {
    async fn start(
        app: Arc<App>,
        args: &DemoArgs,
        listener: tokio::net::TcpListener,
    ) -> anyhow::Result<Self> {
        app.install_rules().await?;
        let (alice, alice_key) = app.create_operator(ALICE).await.map_err(anyhow_app)?;
        let (bob, _) = app.create_operator(BOB).await.map_err(anyhow_app)?;
        let mailer = Arc::new(gatehouse_server::mail::Mailer::from_config(&app.config)?);
        // The delivery worker `serve` runs: notices reach the maildir as they would.
        let delivery = gatehouse_server::mail::spawn_delivery(app.clone(), mailer.clone());
        let monitor = Monitor::start(app.clone()).await?;
        let apps = crate::demo_apps::Apps::start(&app, listener).await?;
        Ok(Demo {
            app,
            monitor,
            delivery,
            apps,
            mailer,
            rng: Rng::new(args.seed),
            quiet: args.json,
            alice: Actor::Operator(alice.id.to_string()),
            bob: Actor::Operator(bob.id.to_string()),
            alice_key: alice_key.expose().to_owned(),
            phases: Vec::new(),
        })
    }

    async fn finish(self) {
        self.delivery.abort();
        self.apps.stop();
        self.app.close().await;
    }

    fn say(&self, line: &str) {
        if !self.quiet {
            eprintln!("{line}");
        }
    }

    fn phase(&mut self, name: &'static str, started: Instant) {
        self.phases.push((name, started.elapsed().as_secs_f64()));
    }

    async fn play(&mut self, args: &DemoArgs) -> anyhow::Result<Report> {
        let total = Instant::now();
        let now_ms = self.app.clock.now().as_millis();
        let timeline = Timeline::ending_at(now_ms);
        let pop = Population::generate(&mut self.rng, args.accounts as usize);

        let t = Instant::now();
        self.say(&format!(
            "1/5 population: {} accounts and 30 days of sign-ins",
            args.accounts
        ));
        let (history, recent) = self.population(&pop, &timeline).await?;
        self.phase("population", t);

        let t = Instant::now();
        self.say("2/5 two credential-stuffing runs against the enforced shipped rules");
        let attack = pop.stuffing(&mut self.rng, timeline.attack_start_ms);
        let spread = pop.distributed(&mut self.rng, timeline.attack_start_ms, &attack.victims);
        let stuffing = self.stuffing(&attack, &spread, recent, &pop).await?;
        let victims: BTreeSet<String> = attack.victims.union(&spread.victims).cloned().collect();
        // The takeovers' resets reach the example app: who is signed out.
        crate::demo_apps::Apps::settle(&self.app).await?;
        self.apps.check_pages().await?;
        self.phase("stuffing", t);

        let t = Instant::now();
        self.say("3/5 a broken rule: backtest and preview");
        let preview = self.broken_rule_preview().await?;
        self.phase("broken rule preview", t);

        let t = Instant::now();
        self.say("4/5 the broken rule forced through as an automatic rule");
        let halt = self.force_through(&pop, &victims).await?;
        self.phase("forced through until halted", t);

        let t = Instant::now();
        self.say("5/5 undo");
        let undo = self.undo(&halt.campaigns).await?;
        self.phase("undo", t);

        let t = Instant::now();
        let mail = self.mail(&stuffing.reset, &halt.wrong).await?;
        let audit_chain = match self.app.verify_audit_chain().await? {
            gatehouse_store::ChainReport::Intact { entries } => AuditChain {
                intact: true,
                entries,
                problem: None,
            },
            gatehouse_store::ChainReport::Broken { seq, reason } => AuditChain {
                intact: false,
                entries: seq,
                problem: Some(reason),
            },
        };
        crate::demo_apps::Apps::settle(&self.app).await?;
        let apps = self.apps.report(&self.app).await?;
        self.phase("mail and audit check", t);

        let c = &self.app.config;
        Ok(Report {
            data_dir: args.data_dir.display().to_string(),
            seed: args.seed,
            settings: Settings {
                note: "all defaults (only data_dir is the demo's)",
                approval_max_accounts: c.approval.max_accounts,
                approval_max_multiple_of_normal: c.approval.max_multiple_of_normal,
                approval_max_share_percent: c.approval.max_share_of_active * 100.0,
                budget_hourly_floor: c.budget.hourly_floor,
                budget_daily_floor: c.budget.daily_floor,
                budget_multiple_of_normal: c.budget.multiple_of_normal,
            },
            population: PopulationReport {
                accounts: pop.people.len() as u64,
                carrier_share: pop.people.iter().filter(|p| p.carrier).count() as f64
                    / pop.people.len() as f64,
                history_events: history,
                demo_password: DEMO_PASSWORD,
            },
            stuffing: stuffing.report,
            apps,
            broken_rule: preview,
            halt: halt.report,
            undo,
            mail,
            audit_chain,
            phases: self
                .phases
                .iter()
                .map(|(name, secs)| PhaseTime {
                    phase: name,
                    seconds: round2(*secs),
                })
                .collect(),
            total_seconds: round2(total.elapsed().as_secs_f64()),
            operators: vec![ALICE, BOB],
            operator_api_key_alice: args.serve.then(|| self.alice_key.clone()),
            console_logins: if args.serve {
                Some(self.console_logins().await?)
            } else {
                None
            },
        })
    }

    /// Imports the accounts and the sign-in history older than the attack's
    /// hour; returns (events imported, the ordinary events of the last hour+,
    /// which come in live with the attack).
    async fn population(
        &mut self,
        pop: &Population,
        timeline: &Timeline,
    ) -> anyhow::Result<(u64, Vec<Event>)> {
        let hash = self
            .app
            .hasher
            .hash_now(DEMO_PASSWORD, self.app.entropy.as_ref())?;
        let now_ms = timeline.attack_end_ms;
        let mut lines = String::with_capacity(pop.people.len() * 160);
        for p in &pop.people {
            // Accounts older than the history: 31 days to a year and a half.
            let age_days = 31 + self.rng.below(520) as i64;
            let created = gatehouse_domain::Timestamp::from_millis(now_ms - age_days * 86_400_000);
            lines.push_str(
                &serde_json::json!({
                    "email": p.email, "password_hash": hash, "created_at": created.to_rfc3339()
                })
                .to_string(),
            );
            lines.push('\n');
        }
        let pb = crate::file_import::bar(self.quiet, lines.len() as u64, "accounts");
        let imported = self
            .app
            .import_accounts(Cursor::new(lines.as_bytes()), 1000, |b| pb.set_position(b))
            .await?;
        pb.finish_and_clear();
        anyhow::ensure!(
            imported.error_count == 0 && imported.inserted == pop.people.len() as u64,
            "the account import stored {} of {} accounts",
            imported.inserted,
            pop.people.len()
        );

        let events = pop.history(
            &mut self.rng,
            timeline.history_from_ms,
            timeline.attack_end_ms,
        );
        let split = events.partition_point(|e| e.time_ms < timeline.attack_start_ms);
        let mut lines = String::with_capacity(split * 150);
        for e in &events[..split] {
            lines.push_str(&e.to_json().to_string());
            lines.push('\n');
        }
        let pb = crate::file_import::bar(self.quiet, lines.len() as u64, "sign-in history");
        let stored = self
            .app
            .import_login_events(Cursor::new(lines.as_bytes()), 1000, |b| pb.set_position(b))
            .await?;
        pb.finish_and_clear();
        anyhow::ensure!(
            stored.error_count == 0,
            "the event import refused {} lines",
            stored.error_count
        );
        // The monitor reads what was imported, as `serve` would after an import:
        // history older than the rules' window raises no findings (backtest
        // material); the last 30 days of it (all of it here) teach the accounts' histories at
        // the rebuild that follows (here the rule changes of the next phase).
        self.monitor.pass().await?;
        Ok((stored.stored.inserted, events[split..].to_vec()))
    }

    /// Stores `events` as an app's batch (`POST /api/v1/events/login`), then
    /// runs one pass of the detection monitor and of the campaign worker.
    async fn arrive(&mut self, events: &[Event]) -> anyhow::Result<()> {
        for chunk in events.chunks(gatehouse_server::app::events::MAX_EVENTS_PER_REQUEST) {
            let items = chunk.iter().map(Event::to_json).collect();
            self.app
                .ingest_login_events(items, Actor::System, &Client::default())
                .await
                .map_err(anyhow_app)?;
        }
        self.monitor.pass().await?;
        self.app.campaigns_pass().await.map_err(anyhow_app)?;
        Ok(())
    }

    /// A rule change, seen by the monitor as `serve`'s sees it: a pass, then
    /// its state rebuilt from the last window of events.
    async fn put_rule_mode(&mut self, id: &str, mode: RuleMode, by: &Actor) -> anyhow::Result<()> {
        let mut spec = self.app.rule(id, None).await.map_err(anyhow_app)?.spec;
        spec.mode = mode;
        self.app
            .put_rule(spec, by.clone())
            .await
            .map_err(anyhow_app)?;
        self.monitor.pass().await?;
        self.monitor.rebuild().await?;
        Ok(())
    }

    /// Passes of the campaign worker until no campaign is running.
    async fn settle_campaigns(&self) -> anyhow::Result<()> {
        let deadline = Instant::now() + SETTLE;
        loop {
            let r = self.app.campaigns_pass().await.map_err(anyhow_app)?;
            let running = self
                .app
                .list_campaigns(Some(CampaignState::Running), 1)
                .await?;
            if running.is_empty() {
                return Ok(());
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "campaigns still running after {} s",
                SETTLE.as_secs()
            );
            if r.applied == 0 {
                // The rate cap: one account a second per campaign.
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }

    /// Both attacks at once, with the shipped stuffing and account-takeover
    /// rules enforced: what each rule found, and what their automatic
    /// campaigns reset, against the ground truth.
    async fn stuffing(
        &mut self,
        attack: &Attack,
        spread: &Attack,
        recent: Vec<Event>,
        pop: &Population,
    ) -> anyhow::Result<Stuffing> {
        // Before the attack, some of the people it will take over, and some
        // it will not (not on the carrier the broken rule later hits), are
        // signed in to the example app.
        for email in attack
            .victims
            .iter()
            .take(3)
            .chain(spread.victims.iter().take(2))
        {
            self.apps.sign_in(email, true).await?;
        }
        let bystanders = pop.people.iter().filter(|p| {
            !p.carrier && !attack.victims.contains(&p.email) && !spread.victims.contains(&p.email)
        });
        for p in bystanders.take(3) {
            self.apps.sign_in(&p.email, false).await?;
        }
        let alice = self.alice.clone();
        for rule in [STUFFING_RULE, TAKEOVER_RULE] {
            self.put_rule_mode(rule, RuleMode::Enforce, &alice).await?;
        }
        let mut events = recent;
        events.extend(attack.events.iter().cloned());
        events.extend(spread.events.iter().cloned());
        events.sort_by_key(|e| e.time_ms);
        let slices = slices_by_sign_in(&events);
        let pb = count_bar(self.quiet, slices.len() as u64, "the attacks (sign-ins)");
        for slice in slices {
            self.arrive(slice).await?;
            pb.inc(1);
        }
        pb.finish_and_clear();
        self.settle_campaigns().await?;
        let mut campaigns = self.rule_campaigns(STUFFING_RULE).await?;
        campaigns.extend(self.rule_campaigns(TAKEOVER_RULE).await?);
        let reset: BTreeSet<String> = self
            .applied_targets(&campaigns)
            .await?
            .into_iter()
            .map(|t| t.email)
            .collect();
        let victims: BTreeSet<String> = attack.victims.union(&spread.victims).cloned().collect();
        let mut found: HashMap<&str, BTreeSet<String>> = HashMap::new();
        for rule in [STUFFING_RULE, TAKEOVER_RULE] {
            let filter = FindingFilter {
                rule: Some(rule.to_owned()),
                limit: 100_000,
                ..FindingFilter::default()
            };
            let emails = self
                .app
                .findings(&filter)
                .await
                .map_err(anyhow_app)?
                .into_iter()
                .map(|f| f.email)
                .collect();
            found.insert(rule, emails);
        }
        let one = |name: &'static str, shape: String, a: &Attack| {
            let caught = |rule: &str| found[rule].intersection(&a.victims).count() as u64;
            AttackReport {
                attack: name,
                shape,
                attack_events: a.events.len() as u64,
                true_takeovers: a.victims.len() as u64,
                found_by_stuffing_rule: caught(STUFFING_RULE),
                found_by_takeover_rule: caught(TAKEOVER_RULE),
                reset: reset.intersection(&a.victims).count() as u64,
                recall: ratio(
                    reset.intersection(&a.victims).count() as f64,
                    a.victims.len(),
                ),
            }
        };
        let hit = reset.intersection(&victims).count() as f64;
        Ok(Stuffing {
            report: StuffingReport {
                attack_events: (attack.events.len() + spread.events.len()) as u64,
                true_takeovers: victims.len() as u64,
                accounts_reset: reset.len() as u64,
                precision: ratio(hit, reset.len()),
                recall: ratio(hit, victims.len()),
                exactly_the_takeovers: reset == victims,
                campaigns: campaigns.len() as u64,
                attacks: vec![
                    one(
                        "concentrated",
                        "300 addresses in 15 hosting /24s, one ASN".into(),
                        attack,
                    ),
                    one(
                        "spread thin",
                        "250 /24s in 30 ASNs, 10–14 attempts per /24, browsers like the people's"
                            .into(),
                        spread,
                    ),
                ],
            },
            reset,
        })
    }

    /// Console passwords for both operators, generated here and shown once in
    /// the report (only with `--serve`: otherwise nobody could use them).
    async fn console_logins(&self) -> anyhow::Result<Vec<ConsoleLogin>> {
        use secrecy::ExposeSecret as _;
        let mut out = Vec::new();
        for email in [ALICE, BOB] {
            let password = crate::generated_password();
            self.app
                .set_operator_password(email, password.expose_secret())
                .await
                .map_err(anyhow_app)?;
            out.push(ConsoleLogin {
                email,
                password: password.expose_secret().to_owned(),
            });
        }
        Ok(out)
    }

    /// Delivers what is due, then counts the mails in the maildir by kind.
    async fn mail(
        &self,
        stuffing_reset: &BTreeSet<String>,
        wrong: &BTreeSet<String>,
    ) -> anyhow::Result<MailReport> {
        let delivery = gatehouse_server::mail::Delivery::new(self.app.clone(), self.mailer.clone());
        let deadline = Instant::now() + SETTLE;
        loop {
            delivery.drain().await?;
            let in_flight = self.app.outbox(Some(NoticeState::Sending), 1).await?;
            if in_flight.is_empty() {
                break;
            }
            anyhow::ensure!(Instant::now() < deadline, "notices still being sent");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let notices = self.app.outbox(None, 10_000_000).await?;
        let by_id: HashMap<&str, &gatehouse_store::Notice> = notices
            .iter()
            .map(|n| (n.message_id.trim_matches(['<', '>']), n))
            .collect();
        let mut r = MailReport::default();
        for message_id in maildir_message_ids(&self.app.config.data_dir.join("mail"))? {
            r.in_maildir += 1;
            let Some(n) = by_id.get(message_id.as_str()) else {
                continue;
            };
            let kind = n.kind.as_str();
            *r.by_kind.entry(kind.to_owned()).or_default() += 1;
            match kind {
                "forced_reset" if wrong.contains(&n.recipient) => r.forced_reset_wrong += 1,
                "forced_reset" if stuffing_reset.contains(&n.recipient) => {
                    r.forced_reset_takeovers += 1
                }
                "correction" if wrong.contains(&n.recipient) => r.corrections += 1,
                "breaker_tripped" => r.operators_alerted += 1,
                _ => {}
            }
        }
        r.forced_reset_held = notices
            .iter()
            .filter(|n| n.kind.as_str() == "forced_reset" && n.state == NoticeState::Pending)
            .count() as u64;
        // Held by the breaker (the reset that used up the budget trips it in its
        // own transaction, so its notice never leaves), then withdrawn by the
        // undo: that person gets neither the reset mail nor a correction.
        r.forced_reset_withdrawn = notices
            .iter()
            .filter(|n| {
                n.kind.as_str() == "forced_reset"
                    && n.state == NoticeState::Expired
                    && n.last_error
                        .as_deref()
                        .is_some_and(|e| e.starts_with("withdrawn"))
            })
            .count() as u64;
        Ok(r)
    }

    async fn pending_findings(&self, rule: &str) -> anyhow::Result<u64> {
        let filter = FindingFilter {
            rule: Some(rule.to_owned()),
            status: Some(FindingStatus::Pending),
            limit: 100_000,
            ..FindingFilter::default()
        };
        Ok(self.app.findings(&filter).await.map_err(anyhow_app)?.len() as u64)
    }

    async fn rule_campaigns(&self, rule: &str) -> anyhow::Result<Vec<CampaignRecord>> {
        Ok(self
            .app
            .list_campaigns(None, 100_000)
            .await?
            .into_iter()
            .filter(|c| c.automatic && c.rule_id.as_deref() == Some(rule))
            .collect())
    }

    async fn applied_targets(
        &self,
        campaigns: &[CampaignRecord],
    ) -> anyhow::Result<Vec<TargetRecord>> {
        let mut out = Vec::new();
        for c in campaigns {
            let mut after = -1;
            loop {
                let page = self
                    .app
                    .campaign_targets(c.id, Some(TargetState::Applied), after, 5000)
                    .await?;
                let Some(last) = page.last() else { break };
                after = last.seq;
                out.extend(page);
            }
        }
        Ok(out)
    }
}

fn anyhow_app(e: AppError) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

fn ratio(hit: f64, of: usize) -> f64 {
    if of == 0 {
        1.0
    } else {
        round4(hit / of as f64)
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

struct Stuffing {
    report: StuffingReport,
    reset: BTreeSet<String>,
}

struct Halt {
    report: HaltReport,
    campaigns: Vec<CampaignRecord>,
    wrong: BTreeSet<String>,
}
