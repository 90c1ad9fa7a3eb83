//! `gatehouse-bench campaign`: how fast a campaign resets accounts with every
//! side effect (credential, sessions, recovery code, notice, audit entry, budget
//! draw, target and campaign rows: one transaction per account), and how long the
//! breaker takes to stop it.
//!
//! Baseline, same run, same database: `RecoveryStore::create_recovery` for the same
//! number of accounts — a recovery request, its notice and its audit entry in one
//! transaction: the part of an apply step every other write rides on.
//!
//! Breaker: a second campaign runs in the worker task `serve` uses; the breaker is
//! tripped from another task, and the time until the last reset commits is
//! measured (the apply step checks the breaker inside its transaction, so at most
//! the steps already past that check finish).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use gatehouse_domain::audit::{Actor, AuditAction, NewAuditEntry};
use gatehouse_domain::campaign::CampaignCommand;
use gatehouse_domain::{RecoveryCode, RecoveryId};
use gatehouse_server::app::campaigns::CampaignSpec;
use gatehouse_server::mail::{NoticeFacts, RecoveryFacts};
use gatehouse_store::NewRecovery;

/// Arguments of `gatehouse-bench campaign`.
#[derive(clap::Args, Clone)]
pub struct CampaignArgs {
    /// Database (default: a new SQLite file in a temporary directory).
    #[arg(long)]
    database_url: Option<String>,
    /// Accounts per campaign.
    #[arg(long, default_value_t = 2000)]
    accounts: usize,
    /// Rounds; medians are reported.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Imports `emails` as accounts (one hash for all: never verified here).
async fn import(app: &gatehouse_server::App, emails: &[String], hash: &str) -> anyhow::Result<()> {
    let lines: String = emails
        .iter()
        .map(|e| {
            format!(
                "{}\n",
                serde_json::json!({"email": e, "password_hash": hash})
            )
        })
        .collect();
    app.import_accounts(lines.as_bytes(), 1000, |_| {}).await?;
    Ok(())
}

/// A started one-stage campaign over `emails`, without rate cap or bake time.
async fn started(
    app: &gatehouse_server::App,
    name: String,
    emails: Vec<String>,
    by: &Actor,
) -> anyhow::Result<gatehouse_store::CampaignRecord> {
    let c = app
        .create_campaign(
            CampaignSpec {
                name,
                reason: "benchmark".into(),
                accounts: emails,
                stages: Some(vec![1.0]),
                rate_per_minute: Some(100_000_000),
                bake_secs: Some(0),
            },
            by.clone(),
        )
        .await?;
    app.preview_campaign(c.id, by.clone()).await?;
    Ok(app
        .command_campaign(c.id, CampaignCommand::Start, None, by.clone())
        .await?)
}

pub async fn run(args: CampaignArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.accounts > 0 && args.rounds > 0,
        "--accounts and --rounds must be positive"
    );
    let (_dir, app) = crate::scratch_app(
        args.database_url.clone(),
        &[
            ("GATEHOUSE_BUDGET_HOURLY_FLOOR", "10000000".into()),
            ("GATEHOUSE_BUDGET_DAILY_FLOOR", "10000000".into()),
            ("GATEHOUSE_APPROVAL_MAX_ACCOUNTS", "1000000000".into()),
            (
                "GATEHOUSE_APPROVAL_MAX_MULTIPLE_OF_NORMAL",
                "1000000".into(),
            ),
            ("GATEHOUSE_APPROVAL_MAX_SHARE_PERCENT", "100".into()),
        ],
    )
    .await?;
    let (op, _) = app
        .create_operator("bench@ops.example")
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let by = Actor::Operator(op.id.to_string());
    let hash = app
        .hasher
        .hash_now("bench-password-not-used", app.entropy.as_ref())?;
    let (mut apply, mut base) = (Vec::new(), Vec::new());
    for round in 0..args.rounds {
        let emails: Vec<String> = (0..args.accounts)
            .map(|i| format!("r{round}-{i}@example.com"))
            .collect();
        import(&app, &emails, &hash).await?;

        // Baseline: a recovery request + notice + audit entry per account,
        // written by the store alone (`App::raw_store`): the baseline is the
        // database's cost of the transaction every apply step rides on, without
        // the use case's throttles and code hashing around it.
        let t = Instant::now();
        for e in &emails {
            let rec = app.raw_store().login_record(e).await?.expect("imported");
            let now = app.clock.now();
            let id = RecoveryId::generate(app.entropy.as_ref());
            let to = gatehouse_domain::Email::parse(e)?;
            // A recovery notice carries its code (as a real request's does).
            let facts = NoticeFacts::Recovery(RecoveryFacts {
                occasion: app.occasion(now, &Default::default()),
                code: RecoveryCode::generate(app.entropy.as_ref()).display(),
                token: None,
                expires_minutes: 10,
            });
            let notice = app.new_notice(
                Some(rec.account.id),
                &to,
                format!("bench/{id}"),
                &facts,
                None,
            );
            let req = NewRecovery {
                id,
                account: rec.account.id,
                code_hash: [1; 32],
                token_hash: None,
                created_at: now,
                expires_at: now.plus(Duration::from_secs(600)),
                ip: None,
            };
            let audit = NewAuditEntry::new(now, Actor::System, AuditAction::RecoveryRequested);
            app.raw_store()
                .create_recovery(&req, &notice, audit)
                .await?;
        }
        base.push(args.accounts as f64 / t.elapsed().as_secs_f64());

        // The campaign, applied by the worker's own loop.
        let c = started(&app, format!("bench {round}"), emails.clone(), &by).await?;
        let t = Instant::now();
        loop {
            let r = app.campaign_step(c.id).await?;
            if r.applied == 0 && r.skipped == 0 {
                let c = app.campaign(c.id).await?;
                if c.state != gatehouse_domain::campaign::CampaignState::Running {
                    break;
                }
            }
        }
        apply.push(args.accounts as f64 / t.elapsed().as_secs_f64());
        eprintln!(
            "round {round}: apply {:.0}/s, baseline {:.0}/s",
            apply[round], base[round]
        );
    }

    // Breaker: trip while the worker applies a campaign; time to the last reset.
    let emails: Vec<String> = (0..args.accounts)
        .map(|i| format!("brk-{i}@example.com"))
        .collect();
    import(&app, &emails, &hash).await?;
    let c = started(&app, "breaker".into(), emails, &by).await?;
    let worker = gatehouse_server::spawn_campaigns(app.clone());
    while app.campaign(c.id).await?.applied < (args.accounts / 10) as i64 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let tripped = Instant::now();
    app.trip_breaker("benchmark", by.clone()).await?;
    let trip_call = tripped.elapsed();
    let at_trip = app.campaign(c.id).await?.applied;
    // Watch for a second: any reset after the trip returned is counted.
    let mut last_change = Duration::ZERO;
    let mut last = at_trip;
    while tripped.elapsed() < Duration::from_secs(1) {
        let now = app.campaign(c.id).await?.applied;
        if now != last {
            last = now;
            last_change = tripped.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    worker.abort();
    println!(
        "{}",
        serde_json::json!({
            "engine": app.storage_engine(),
            "accounts": args.accounts,
            "rounds": args.rounds,
            "apply_per_s": median(apply),
            "baseline_recovery_per_s": median(base),
            "breaker": {
                "trip_call_ms": trip_call.as_secs_f64() * 1000.0,
                "applied_when_tripped": at_trip,
                "applied_after_trip": last - at_trip,
                "last_reset_after_trip_ms": last_change.as_secs_f64() * 1000.0,
            }
        })
    );
    app.close().await;
    Ok(ExitCode::SUCCESS)
}
