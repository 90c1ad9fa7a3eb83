//! `gatehouse campaign …` and `gatehouse breaker …`: remediation from the command
//! line, the same use cases as the admin API. Actions name the operator taking
//! them (`--operator EMAIL`, or `GATEHOUSE_OPERATOR`), and every action is
//! audited under that name. An approval must also *prove* it: the approver's
//! own API key in `GATEHOUSE_OPERATOR_KEY` (never on the command line, where
//! other users of the machine can read it) — otherwise whoever can run the CLI
//! could approve their own campaign under a colleague's name, and the two-person
//! rule would be honour-based.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use gatehouse_domain::CampaignId;
use gatehouse_domain::audit::Actor;
use gatehouse_domain::campaign::CampaignCommand as Do;
use gatehouse_server::Config;
use gatehouse_server::app::campaigns::CampaignSpec;

#[derive(Subcommand)]
pub enum CampaignCommand {
    /// Create a draft campaign over accounts (addresses or ids). An empty list is
    /// refused; every account must exist.
    Create {
        /// A name for people.
        #[arg(long)]
        name: String,
        /// Why, as the owners will read it in the notice.
        #[arg(long)]
        reason: String,
        /// An account (repeatable).
        #[arg(long = "account")]
        accounts: Vec<String>,
        /// A file with one account (address or id) per line.
        #[arg(long)]
        accounts_file: Option<PathBuf>,
        /// Stages as cumulative fractions, e.g. 0.01,0.1,1 (the default).
        #[arg(long, value_delimiter = ',')]
        stages: Option<Vec<f64>>,
        /// Accounts per minute at most (default 60).
        #[arg(long)]
        rate_per_minute: Option<u32>,
        /// Seconds between stages (default 600).
        #[arg(long)]
        bake_secs: Option<u32>,
        #[command(flatten)]
        who: Who,
    },
    /// Freeze the target set and show what the campaign would do.
    Preview {
        /// Campaign id.
        id: String,
        #[command(flatten)]
        who: Who,
    },
    /// Approve the previewed target set (not your own campaign).
    Approve {
        /// Campaign id.
        id: String,
        /// The preview's snapshot (approval binds to exactly that set).
        #[arg(long)]
        snapshot: String,
        #[command(flatten)]
        who: Who,
    },
    /// Start applying (stage by stage, under the budget).
    Start {
        /// Campaign id.
        id: String,
        #[command(flatten)]
        who: Who,
    },
    /// Stop applying for now.
    Pause {
        /// Campaign id.
        id: String,
        /// Why.
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        who: Who,
    },
    /// Go on applying.
    Resume {
        /// Campaign id.
        id: String,
        #[command(flatten)]
        who: Who,
    },
    /// Stop for good (what was applied stays, and can be undone).
    Abort {
        /// Campaign id.
        id: String,
        /// Why.
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        who: Who,
    },
    /// Restore the accounts the campaign reset (shows what it would do first
    /// unless --yes).
    Undo {
        /// Campaign id (or --rule).
        #[arg(required_unless_present = "rule", conflicts_with = "rule")]
        id: Option<String>,
        /// Undo every campaign of this rule at once: those that reset accounts
        /// begin their undo, those that reset nobody are aborted (one audited
        /// action). Without --yes: say what it would do.
        #[arg(long)]
        rule: Option<String>,
        /// Do it (without: only say how many can be restored). A running
        /// `serve` restores the accounts at up to the campaign's rate a minute.
        #[arg(long)]
        yes: bool,
        /// With --yes: restore them here and now, unpaced (when no `serve` runs).
        #[arg(long, requires = "yes")]
        now: bool,
        #[command(flatten)]
        who: Who,
    },
    /// One campaign and its targets' states.
    Show {
        /// Campaign id.
        id: String,
    },
    /// Campaigns, newest first.
    List {
        /// Only this state.
        #[arg(long)]
        state: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum BreakerCommand {
    /// The breaker's state and the reset budget.
    Status,
    /// Trip the breaker (the kill switch): automation and forced-reset notices stop.
    Trip {
        /// Why.
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        who: Who,
    },
    /// Close the breaker (an operator's decision, with a reason).
    Reset {
        /// Why it is safe to go on.
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        who: Who,
    },
}

/// The operator taking an action.
#[derive(clap::Args)]
pub struct Who {
    /// Operator e-mail (see `gatehouse operator create`).
    #[arg(long, env = "GATEHOUSE_OPERATOR")]
    operator: String,
    /// That operator's API key, which approvals require as proof (from the
    /// environment only).
    #[arg(skip = std::env::var("GATEHOUSE_OPERATOR_KEY").ok())]
    key: Option<String>,
}

/// The operator named, proven by their own API key: what an approval needs.
async fn proven_actor(app: &gatehouse_server::App, who: &Who) -> anyhow::Result<Actor> {
    let named = actor(app, who).await?;
    let Some(key) = who.key.as_deref().filter(|k| !k.trim().is_empty()) else {
        anyhow::bail!(
            "an approval must prove who approves: set GATEHOUSE_OPERATOR_KEY to {}'s own API \
             key (or approve in the console or over the API, signed in as them)",
            who.operator
        );
    };
    let op = app
        .authenticate_operator(key.trim())
        .await
        .map_err(|_| anyhow::anyhow!("GATEHOUSE_OPERATOR_KEY is not a valid operator API key"))?;
    if Actor::Operator(op.id.to_string()) != named {
        anyhow::bail!(
            "GATEHOUSE_OPERATOR_KEY belongs to {}, not to --operator {}: an operator approves only as themselves",
            op.email,
            who.operator
        );
    }
    Ok(named)
}

async fn actor(app: &gatehouse_server::App, who: &Who) -> anyhow::Result<Actor> {
    let key = gatehouse_domain::Email::parse(&who.operator)
        .map_err(|e| anyhow::anyhow!("--operator: {e}"))?
        .key();
    let op = app.operator_by_email(&key).await?.ok_or_else(|| {
        anyhow::anyhow!(
            "--operator: no operator {:?} (create one with `gatehouse operator create`)",
            who.operator
        )
    })?;
    Ok(Actor::Operator(op.id.to_string()))
}

fn id(s: &str) -> anyhow::Result<CampaignId> {
    s.parse()
        .map_err(|_| anyhow::anyhow!("{s:?} is not a campaign id (see `gatehouse campaign list`)"))
}

fn print_json(v: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

pub async fn run(config: Config, command: CampaignCommand) -> anyhow::Result<ExitCode> {
    let app = gatehouse_server::build_app(config).await?;
    let result = run_with(&app, command).await;
    app.close().await;
    result
}

async fn run_with(
    app: &gatehouse_server::App,
    command: CampaignCommand,
) -> anyhow::Result<ExitCode> {
    match command {
        CampaignCommand::Create {
            name,
            reason,
            mut accounts,
            accounts_file,
            stages,
            rate_per_minute,
            bake_secs,
            who,
        } => {
            if let Some(f) = accounts_file {
                let text = std::fs::read_to_string(&f)
                    .with_context(|| format!("cannot read {}", f.display()))?;
                accounts.extend(
                    text.lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty())
                        .map(String::from),
                );
            }
            let by = actor(app, &who).await?;
            let c = app
                .create_campaign(
                    CampaignSpec {
                        name,
                        reason,
                        accounts,
                        stages,
                        rate_per_minute,
                        bake_secs,
                    },
                    by,
                )
                .await?;
            println!(
                "created campaign {} ({} accounts); next: gatehouse campaign preview {}",
                c.id, c.target_count, c.id
            );
        }
        CampaignCommand::Preview { id: c, who } => {
            let by = actor(app, &who).await?;
            let (c, p) = app.preview_campaign(id(&c)?, by).await?;
            print_json(&p)?;
            eprintln!(
                "{} accounts: {:.1}× the normal daily volume, {:.2}% of {} active accounts ({})",
                p.accounts,
                p.multiple_of_normal,
                p.share_of_active * 100.0,
                p.active_accounts,
                p.active_basis,
            );
            for a in &p.app_sessions {
                eprintln!(
                    "signs {} session(s) out of app {} (back-channel logout; {:.0} s at least at \
                     its rate)",
                    a.sessions, a.client_id, a.seconds_at_rate
                );
            }
            for r in &p.security_events {
                eprintln!(
                    "sends {} security event(s) to Shared Signals receiver {} ({:.0} s at least \
                     at its rate)",
                    r.events, r.client_id, r.seconds_at_rate
                );
            }
            if p.needs_second_approval {
                eprintln!(
                    "campaign {} needs a second operator: gatehouse campaign approve {} --snapshot {} --operator OTHER",
                    c.id, c.id, p.snapshot
                );
            } else {
                eprintln!(
                    "campaign {} is approved by policy: gatehouse campaign start {}",
                    c.id, c.id
                );
            }
        }
        CampaignCommand::Approve {
            id: c,
            snapshot,
            who,
        } => {
            let by = proven_actor(app, &who).await?;
            let c = app.approve_campaign(id(&c)?, &snapshot, by).await?;
            println!("campaign {} {}", c.id, c.state);
        }
        CampaignCommand::Start { id: c, who } => {
            let by = actor(app, &who).await?;
            let c = app.command_campaign(id(&c)?, Do::Start, None, by).await?;
            println!(
                "campaign {} {} (a running `gatehouse serve` applies it)",
                c.id, c.state
            );
        }
        CampaignCommand::Pause { id: c, reason, who } => {
            let by = actor(app, &who).await?;
            let c = app.command_campaign(id(&c)?, Do::Pause, reason, by).await?;
            println!("campaign {} {}", c.id, c.state);
        }
        CampaignCommand::Resume { id: c, who } => {
            let by = actor(app, &who).await?;
            let c = app.command_campaign(id(&c)?, Do::Resume, None, by).await?;
            println!("campaign {} {}", c.id, c.state);
        }
        CampaignCommand::Abort { id: c, reason, who } => {
            let by = actor(app, &who).await?;
            let c = app.command_campaign(id(&c)?, Do::Abort, reason, by).await?;
            println!("campaign {} {}", c.id, c.state);
        }
        CampaignCommand::Undo {
            id: c,
            rule,
            yes,
            now,
            who,
        } => {
            let by = actor(app, &who).await?;
            if let Some(rule) = rule {
                return undo_rule(app, &rule, yes, now, by).await;
            }
            let c = id(c.as_deref().unwrap_or_default())?;
            let r = app.undo_preview(c).await?;
            if !yes {
                println!(
                    "undo would restore {} accounts; {} cannot be restored (their owner set a new password) and will get an explanation. Run again with --yes.",
                    r.restorable, r.not_restorable
                );
                return Ok(ExitCode::SUCCESS);
            }
            if now {
                let r = app.undo_campaign(c, by).await?;
                println!(
                    "restored {} accounts ({} before their notice went out: withdrawn); {} told why they could not be",
                    r.restored, r.withdrawn, r.explained
                );
            } else {
                let rec = app.begin_undo(c, by).await?;
                println!(
                    "undo of {} started: a running `gatehouse serve` restores {} accounts and explains to {}, at up to {} a minute; `gatehouse campaign show {}` follows it",
                    rec.id, r.restorable, r.not_restorable, rec.rate_per_minute, rec.id
                );
            }
        }
        CampaignCommand::Show { id: c } => {
            let c = id(&c)?;
            let campaign = app.campaign(c).await?;
            let counts = app.campaign_target_counts(c).await?;
            print_json(&campaign)?;
            for (state, n) in counts {
                println!("{:<15} {n}", state.as_str());
            }
        }
        CampaignCommand::List { state } => {
            let state = state
                .map(|s| {
                    s.parse()
                        .map_err(|e: String| anyhow::anyhow!("--state: {e}"))
                })
                .transpose()?;
            for c in app.list_campaigns(state, 100).await? {
                println!(
                    "{} {:<10} {:>7} applied of {:<7} {} — {}",
                    c.id,
                    c.state.as_str(),
                    c.applied,
                    c.target_count,
                    c.created_at.to_rfc3339(),
                    c.name
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn breaker(config: Config, command: BreakerCommand) -> anyhow::Result<ExitCode> {
    let app = gatehouse_server::build_app(config).await?;
    match command {
        BreakerCommand::Status => {}
        BreakerCommand::Trip { reason, who } => {
            let by = actor(&app, &who).await?;
            app.trip_breaker(&reason, by).await?;
        }
        BreakerCommand::Reset { reason, who } => {
            let by = actor(&app, &who).await?;
            app.reset_breaker(&reason, by).await?;
        }
    }
    let v = app.breaker_view().await?;
    println!(
        "breaker {} since {} ({}: {})",
        if v.breaker.open { "OPEN" } else { "closed" },
        v.breaker.changed_at.to_rfc3339(),
        v.breaker.changed_by,
        v.breaker.reason.as_deref().unwrap_or("-")
    );
    println!(
        "budget: {} of {} resets used in the last hour, {} of {} in the last day",
        v.used_last_hour, v.budget_per_hour, v.used_last_day, v.budget_per_day
    );
    app.close().await;
    Ok(ExitCode::SUCCESS)
}

/// `campaign undo --rule R`: every campaign of the rule at once.
async fn undo_rule(
    app: &gatehouse_server::App,
    rule: &str,
    yes: bool,
    now: bool,
    by: Actor,
) -> anyhow::Result<ExitCode> {
    if now {
        anyhow::bail!(
            "--now undoes one campaign in place; with --rule, a running `serve` restores the accounts"
        );
    }
    if !yes {
        let plan = app.undo_rule_plan(rule).await?;
        println!(
            "undo of rule {rule} would undo {} campaigns that reset accounts and abort {} that reset nobody. Run again with --yes.",
            plan.undoing.len(),
            plan.aborted.len()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let r = app.undo_rule(rule, by).await?;
    println!(
        "rule {rule}: {} campaigns undoing (a running `gatehouse serve` restores their accounts), {} aborted, {} already undone or undoing",
        r.undoing.len(),
        r.aborted.len(),
        r.already.len()
    );
    Ok(ExitCode::SUCCESS)
}
