//! `gatehouse-bench campaign`: how fast a campaign resets accounts with every
//! side effect (credential, sessions, recovery code, notice, audit entry, budget
//! draw, target and campaign rows; a step's targets in one transaction), and how
//! long the breaker takes to stop it.
//!
//! Baseline, same run, same database: the same rows for as many other accounts,
//! written by the store in plain transactions of the same batch size with none
//! of the checks (`CampaignStore::write_reset_rows_unchecked`).
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
use gatehouse_server::mail::{ForcedResetFacts, NoticeFacts};
use gatehouse_store::{ApplyBatch, ApplyTarget, BudgetLimits, NewRecovery};

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

/// The worker's batch: targets applied per transaction (`campaigns::STEP`).
const APPLY_BATCH: usize = 500;

/// The rows one account's reset writes, built as the worker builds them.
fn reset_rows(
    app: &gatehouse_server::App,
    campaign: gatehouse_domain::CampaignId,
    t: &gatehouse_store::TargetRecord,
    now: gatehouse_domain::Timestamp,
) -> anyhow::Result<(
    gatehouse_domain::AccountId,
    NewRecovery,
    gatehouse_store::NewNotice,
    NewAuditEntry,
)> {
    let id = RecoveryId::generate(app.entropy.as_ref());
    let code = RecoveryCode::generate(app.entropy.as_ref());
    let facts = NoticeFacts::ForcedReset(ForcedResetFacts {
        at: now.to_rfc3339(),
        code: code.display(),
        token: None,
        expires_minutes: 3 * 24 * 60,
        reason: "benchmark".into(),
    });
    let to = gatehouse_domain::Email::parse(&t.email)?;
    let notice = app.new_notice(
        Some(t.account_id),
        &to,
        format!("reset/{campaign}/{}", t.account_id),
        &facts,
        Some(now.plus(Duration::from_secs(3 * 86_400))),
    );
    let recovery = NewRecovery {
        id,
        account: t.account_id,
        code_hash: [1; 32],
        token_hash: None,
        created_at: now,
        expires_at: now.plus(Duration::from_secs(3 * 86_400)),
        ip: None,
    };
    let audit = NewAuditEntry::new(now, Actor::System, AuditAction::AccountReset)
        .target(t.account_id)
        .detail(serde_json::json!({
            "campaign": campaign.to_string(),
            "reference": notice.reference,
        }));
    Ok((t.account_id, recovery, notice, audit))
}

/// The baseline's write of one batch's rows (see `run`).
async fn write_plain(
    app: &gatehouse_server::App,
    campaign: gatehouse_domain::CampaignId,
    chunk: &[gatehouse_store::TargetRecord],
) -> anyhow::Result<Result<(), gatehouse_store::StoreError>> {
    let now = app.clock.now();
    let rows: Vec<_> = chunk
        .iter()
        .map(|t| reset_rows(app, campaign, t, now))
        .collect::<anyhow::Result<_>>()?;
    let batch = ApplyBatch {
        trip_on_exhaustion: None,
        campaign,
        now,
        budget: BudgetLimits {
            per_hour: i64::MAX,
            per_day: i64::MAX,
            may_exceed: true,
        },
        targets: rows
            .iter()
            .map(|(account, recovery, notice, audit)| ApplyTarget {
                account: *account,
                recovery,
                notice,
                audit: audit.clone(),
            })
            .collect(),
    };
    Ok(app.raw_store().write_reset_rows_unchecked(&batch).await)
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

        // Baseline: the same rows a campaign's resets write (credential,
        // sessions, recovery request, notice, audit entry, target row, budget
        // bucket, campaign count), written by the store alone in plain
        // transactions of the worker's batch size, with none of the checks
        // (breaker, campaign state, targets, budget) and none of the use case's
        // work around them except building the same notice.
        let base_emails: Vec<String> = (0..args.accounts)
            .map(|i| format!("b{round}-{i}@example.com"))
            .collect();
        import(&app, &base_emails, &hash).await?;
        let draft = app
            .create_campaign(
                CampaignSpec {
                    name: format!("baseline {round}"),
                    reason: "benchmark".into(),
                    accounts: base_emails,
                    stages: Some(vec![1.0]),
                    rate_per_minute: None,
                    bake_secs: None,
                },
                by.clone(),
            )
            .await?;
        // Paged: the store answers at most 10,000 targets a call.
        let mut targets = Vec::with_capacity(args.accounts);
        loop {
            let after = targets
                .last()
                .map_or(-1, |t: &gatehouse_store::TargetRecord| t.seq);
            let page = app
                .raw_store()
                .campaign_targets(draft.id, None, after, 10_000)
                .await?;
            if page.is_empty() {
                break;
            }
            targets.extend(page);
        }
        anyhow::ensure!(
            targets.len() == args.accounts,
            "baseline: {} targets of {}",
            targets.len(),
            args.accounts
        );
        let t = Instant::now();
        for chunk in targets.chunks(APPLY_BATCH) {
            // A notice reference taken already (40 random bits: a few in a
            // million notices) fails the batch; the worker retries with fresh
            // references, and so does the baseline.
            let mut attempts = 0;
            loop {
                match write_plain(&app, draft.id, chunk).await? {
                    Err(gatehouse_store::StoreError::Conflict(_)) if attempts < 3 => attempts += 1,
                    other => break other?,
                }
            }
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
    let ratio = median(apply.iter().zip(&base).map(|(a, b)| a / b).collect());
    println!(
        "{}",
        serde_json::json!({
            "engine": app.storage_engine(),
            "accounts": args.accounts,
            "rounds": args.rounds,
            "apply_per_s": median(apply.clone()),
            "baseline_plain_rows_per_s": median(base.clone()),
            "apply_per_s_rounds": apply,
            "baseline_per_s_rounds": base,
            "ratio": ratio,
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
