//! `gatehouse-bench delivery`: notice enqueue rate and delivery throughput.
//!
//! Each round enqueues `--count` recovery notices (distinct recipients, the
//! same facts a real request stores) with `--writers` concurrent writers, one
//! transaction per notice as the use cases write them, then runs the delivery
//! worker's cycle (lease, commit, render, send over SMTP, settle) until all
//! are sent. The baseline, in the same round, is Postfix's `smtp-source`
//! sending the same number of messages of the same size at the same
//! concurrency over kept-alive connections: the SMTP server's and the
//! loopback's own limit. Medians over the rounds are printed as one JSON line.

use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use gatehouse_domain::Email;
use gatehouse_server::app::Client;
use gatehouse_server::mail::{Delivery, Mailer, NoticeFacts, RecoveryFacts};
use gatehouse_store::{ClaimedNotice, NoticeState};

/// Arguments of `gatehouse-bench delivery`.
#[derive(clap::Args, Clone)]
pub struct DeliveryArgs {
    /// The SMTP server to deliver to, e.g. smtp://127.0.0.1:2525 (an smtp-sink).
    #[arg(long)]
    smtp_url: String,
    /// Database to enqueue into (default: a new SQLite file in a temporary directory).
    #[arg(long)]
    database_url: Option<String>,
    /// Notices per round.
    #[arg(long, default_value_t = 5000)]
    count: usize,
    /// Concurrent SMTP connections, for Gatehouse and for smtp-source alike.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Concurrent enqueue writers.
    #[arg(long, default_value_t = 4)]
    writers: usize,
    /// Rounds; medians are reported.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// The baseline sender.
    #[arg(long, default_value = "/usr/sbin/smtp-source")]
    smtp_source: PathBuf,
}

pub async fn run(args: DeliveryArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.count > 0 && args.rounds > 0,
        "--count and --rounds must be positive"
    );
    let (_dir, app) = crate::scratch_app(
        args.database_url.clone(),
        &[
            ("GATEHOUSE_PUBLIC_URL", "https://id.example.com".into()),
            ("GATEHOUSE_SMTP_URL", args.smtp_url.clone()),
            ("GATEHOUSE_MAIL_CONCURRENCY", args.concurrency.to_string()),
            // The global send-rate limit is a safety valve, not what is measured.
            ("GATEHOUSE_MAIL_RATE_PER_SECOND", "100000".into()),
        ],
    )
    .await?;
    let mailer = Arc::new(Mailer::from_config(&app.config)?);
    let size = message_size(&app, &mailer).await?;
    let (host_port, _) = smtp_target(&args.smtp_url)?;

    let mut enqueue = Vec::new();
    let mut delivery = Vec::new();
    let mut baseline = Vec::new();
    for round in 0..args.rounds {
        baseline.push(smtp_source(&args, &host_port, size)?);
        let e = enqueue_round(&app, &args, round).await?;
        let d = deliver_round(&app, &mailer, args.count).await?;
        eprintln!(
            "round {}: enqueue {e:.0} rows/s, delivery {d:.0} msg/s, smtp-source {:.0} msg/s",
            round + 1,
            baseline[round]
        );
        enqueue.push(e);
        delivery.push(d);
    }
    let (e, d, b) = (median(enqueue), median(delivery), median(baseline));
    println!(
        "{{\"bench\":\"delivery\",\"engine\":\"{}\",\"count\":{},\"concurrency\":{},\"writers\":{},\"rounds\":{},\"message_bytes\":{size},\"enqueue_rows_per_second\":{e:.0},\"delivery_per_second\":{d:.0},\"smtp_source_per_second\":{b:.0},\"ratio\":{:.2}}}",
        app.storage_engine(),
        args.count,
        args.concurrency,
        args.writers,
        args.rounds,
        d / b
    );
    app.close().await;
    Ok(ExitCode::SUCCESS)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// `host:port` of an `smtp://` URL, for smtp-source.
fn smtp_target(url: &str) -> anyhow::Result<(String, u16)> {
    let u = url::Url::parse(url).with_context(|| format!("--smtp-url {url:?}"))?;
    let host = u.host_str().context("--smtp-url has no host")?.to_owned();
    let port = u.port().unwrap_or(25);
    Ok((format!("{host}:{port}"), port))
}

/// The notice every round sends: a recovery code, as a real request stores it.
fn notice(app: &gatehouse_server::App, round: usize, i: usize) -> gatehouse_store::NewNotice {
    let to = Email::parse(&format!("user{i}.r{round}@bench.example.com")).expect("valid address");
    let client = Client {
        ip: Some([192, 0, 2, 44].into()),
        user_agent: Some(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
                .into(),
        ),
    };
    let now = app.clock.now();
    let facts = NoticeFacts::Recovery(RecoveryFacts {
        occasion: app.occasion(now, &client),
        code: "7K3Q-9XMD".into(),
        token: None,
        expires_minutes: 30,
    });
    app.new_notice(None, &to, format!("bench/{round}/{i}"), &facts, None)
}

/// The size of one composed message, so smtp-source sends as many bytes.
async fn message_size(app: &gatehouse_server::App, mailer: &Mailer) -> anyhow::Result<usize> {
    let n = notice(app, usize::MAX, 0);
    let claimed = ClaimedNotice {
        notice: gatehouse_store::Notice {
            id: n.id,
            reference: n.reference.clone(),
            kind: n.kind,
            account: None,
            recipient: n.recipient.clone(),
            state: NoticeState::Sending,
            attempts: 1,
            next_attempt_at: n.created_at,
            last_error: None,
            coalesced_into: None,
            coalesced_count: 0,
            created_at: n.created_at,
            sent_at: None,
            expires_at: None,
            message_id: n.message_id.clone(),
        },
        payload: n.payload,
    };
    Ok(mailer
        .compose(&claimed, app.clock.now().into())?
        .formatted()
        .len())
}

async fn enqueue_round(
    app: &Arc<gatehouse_server::App>,
    args: &DeliveryArgs,
    round: usize,
) -> anyhow::Result<f64> {
    let notices: Vec<_> = (0..args.count).map(|i| notice(app, round, i)).collect();
    let notices = Arc::new(notices);
    let writers = args.writers.max(1);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..writers {
        let app = app.clone();
        let notices = notices.clone();
        tasks.spawn(async move {
            for n in notices.iter().skip(w).step_by(writers) {
                // No use case enqueues a bare notice (each writes its notice in
                // its own transaction), so this is the store's enqueue: the
                // write every use case's notice rides on.
                app.raw_store().enqueue_notice(n, None).await?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(r) = tasks.join_next().await {
        r??;
    }
    Ok(args.count as f64 / started.elapsed().as_secs_f64())
}

async fn deliver_round(
    app: &Arc<gatehouse_server::App>,
    mailer: &Arc<Mailer>,
    count: usize,
) -> anyhow::Result<f64> {
    let before = sent(app).await?;
    let worker = Delivery::new(app.clone(), mailer.clone());
    let started = Instant::now();
    worker.drain().await?;
    let elapsed = started.elapsed();
    let delivered = sent(app).await? - before;
    anyhow::ensure!(
        delivered == count as i64,
        "{delivered} of {count} notices were sent; is the SMTP server accepting?"
    );
    Ok(count as f64 / elapsed.as_secs_f64())
}

async fn sent(app: &gatehouse_server::App) -> anyhow::Result<i64> {
    Ok(app
        .raw_store()
        .outbox_counts()
        .await?
        .into_iter()
        .find(|(s, _)| *s == NoticeState::Sent)
        .map_or(0, |(_, n)| n))
}

/// smtp-source: `count` messages of `size` bytes over `concurrency` kept-alive sessions.
fn smtp_source(args: &DeliveryArgs, target: &str, size: usize) -> anyhow::Result<f64> {
    let started = Instant::now();
    let out = Command::new(&args.smtp_source)
        .args([
            "-d",
            "-s",
            &args.concurrency.to_string(),
            "-m",
            &args.count.to_string(),
            "-l",
            &size.to_string(),
            "-f",
            "no-reply@id.example.com",
            "-t",
            "user@bench.example.com",
            target,
        ])
        .output()
        .with_context(|| format!("run {}", args.smtp_source.display()))?;
    let elapsed = started.elapsed().max(Duration::from_micros(1));
    anyhow::ensure!(
        out.status.success(),
        "smtp-source failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(args.count as f64 / elapsed.as_secs_f64())
}
