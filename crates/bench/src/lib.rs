//! The measurements behind BENCHMARKS.md, kept out of the production binary.
//!
//! The `gatehouse-bench` binary runs them (`gatehouse-bench <subcommand> …`);
//! `gatehouse` built with `--features bench` offers the same subcommands as
//! `gatehouse bench …`. Either way the code under test is the same: every
//! measured path goes through `App`'s use cases, the HTTP router or the
//! workers, as a user's request does. Store-level writes happen only where the
//! store is the subject — a baseline that measures the database without the
//! use case around it, or a bulk fixture no use case exists for — and go
//! through `App::raw_store`, so they are easy to find.
//!
//! - `argon2`: the raw argon2id verify rate, the baseline for login throughput.
//! - `hello`: a bare axum hello-world server, the baseline for cheap calls.
//! - `load`: an open-loop HTTP/1.1 load generator (see [`load`]).
//! - `delivery`: notice enqueue rate and SMTP delivery throughput (see [`delivery`]).
//! - `events`: login event ingestion over HTTP (see [`events`]).
//! - `detection`: the rules' precision, recall and backtest speed (see [`detection`]).
//! - `campaign`: campaign apply rate and breaker stop time (see [`campaign`]).
//! - `oidc`: the OpenID Connect endpoints against bare axum and the store (see [`oidc`]).

pub mod campaign;
pub mod delivery;
pub mod detection;
pub mod events;
pub mod oidc;
pub mod ssf;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use clap::Subcommand;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use tokio::sync::{Mutex, mpsc};
use tokio::time::Instant;

/// Benchmark subcommands.
#[derive(Subcommand)]
pub enum BenchCommand {
    /// Raw argon2id verify rate with the default parameters.
    Argon2 {
        /// Threads verifying at once.
        #[arg(long, default_value_t = 2)]
        threads: usize,
        /// Seconds to run.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// Serve a bare axum hello-world (GET / → "hello") until killed.
    Hello {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8081")]
        listen: SocketAddr,
    },
    /// Open-loop HTTP/1.1 load: requests are scheduled at a fixed rate whatever
    /// the responses; latency is measured from each request's scheduled time.
    Load(LoadArgs),
    /// Notice enqueue rate and delivery throughput into an SMTP server, with
    /// Postfix's smtp-source at the same concurrency as the baseline.
    Delivery(crate::delivery::DeliveryArgs),
    /// Login event ingestion over HTTP (batches of 1,000), with the store's own
    /// insert rate as the baseline.
    Events(crate::events::EventsArgs),
    /// The compromise-check rules on a generated trace with ground truth:
    /// precision and recall per rule, a broken rule's backtest, backtest speed.
    Detection(crate::detection::DetectionArgs),
    /// Campaign apply rate (every side effect) next to the recovery-request write,
    /// and the time from a breaker trip to the last reset.
    Campaign(crate::campaign::CampaignArgs),
    /// OpenID Connect: userinfo, introspection, JWKS and discovery vs a bare
    /// axum handler; the code exchange vs the store's write of its rows; ES256 cost.
    Oidc(crate::oidc::OidcArgs),
    /// Shared Signals: SET delivery by the real sender to a local receiver vs
    /// plain HTTP POSTs of the same bodies; ES256 signing cost per SET.
    Ssf(crate::ssf::SsfArgs),
}

/// Arguments of `gatehouse-bench load`.
#[derive(clap::Args, Clone)]
pub struct LoadArgs {
    /// Target URL (http only).
    #[arg(long)]
    url: hyper::Uri,
    /// HTTP method.
    #[arg(long, default_value = "GET")]
    method: hyper::Method,
    /// Request body (sent with content-type application/json unless a header says otherwise).
    #[arg(long)]
    body: Option<String>,
    /// Extra header "Name: value" (repeatable).
    #[arg(long = "header")]
    headers: Vec<String>,
    /// Requests per second, scheduled evenly.
    #[arg(long)]
    rate: f64,
    /// Seconds measured (after the warm-up).
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds sent at the same rate before measuring (not counted).
    #[arg(long, default_value_t = 0.0)]
    warmup: f64,
    /// Keep-alive connections; requests beyond what they carry wait client-side
    /// (that wait is part of the latency).
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Seconds after the last scheduled request to wait for the stragglers;
    /// requests still unanswered then are counted as "unfinished".
    #[arg(long, default_value_t = 10.0)]
    grace: f64,
}

/// Runs one benchmark.
pub async fn run(cmd: BenchCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        BenchCommand::Argon2 { threads, seconds } => {
            let rate = tokio::task::spawn_blocking(move || argon2_rate(threads, seconds)).await??;
            println!(
                "{{\"bench\":\"argon2\",\"threads\":{threads},\"verifies_per_second\":{rate:.1}}}"
            );
            Ok(ExitCode::SUCCESS)
        }
        BenchCommand::Hello { listen } => {
            let router = axum::Router::new().route("/", axum::routing::get(|| async { "hello" }));
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("cannot listen on {listen}"))?;
            eprintln!("hello server on http://{listen}/");
            axum::serve(listener, router).await?;
            Ok(ExitCode::SUCCESS)
        }
        BenchCommand::Delivery(args) => crate::delivery::run(args).await,
        BenchCommand::Events(args) => crate::events::run(args).await,
        BenchCommand::Detection(args) => crate::detection::run(args).await,
        BenchCommand::Campaign(args) => crate::campaign::run(args).await,
        BenchCommand::Oidc(args) => crate::oidc::run(args).await,
        BenchCommand::Ssf(args) => crate::ssf::run(args).await,
        BenchCommand::Load(args) => {
            let report = load(args).await?;
            println!("{report}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The raw argon2id verify rate: each thread owns one preallocated block
/// array (as the server's hash workers do), so this measures argon2 itself,
/// not the allocator. That makes it the strictest baseline for the login figure.
fn argon2_rate(threads: usize, seconds: u64) -> anyhow::Result<f64> {
    let params = argon2::Params::default();
    let password = b"correct horse battery staple";
    let salt = b"0123456789abcdef";
    let argon2 = argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        params.clone(),
    );
    let mut expected = [0u8; 32];
    argon2
        .hash_password_into(password, salt, &mut expected)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let blocks = params.block_count();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    let total: u64 = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads.max(1))
            .map(|_| {
                let argon2 = argon2.clone();
                s.spawn(move || {
                    let mut memory = vec![argon2::Block::default(); blocks];
                    let mut out = [0u8; 32];
                    let mut n = 0u64;
                    while std::time::Instant::now() < deadline {
                        let ok = argon2
                            .hash_password_into_with_memory(
                                password,
                                salt,
                                &mut out,
                                &mut memory[..],
                            )
                            .is_ok();
                        // A verify is the hash plus a comparison; keep both.
                        n += u64::from(ok && out == expected);
                    }
                    n
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0)).sum()
    });
    Ok(total as f64 / seconds.max(1) as f64)
}

/// One scheduled request.
struct Job {
    /// When it should have been sent: latency is measured from here, so time
    /// spent waiting for a free connection counts (no coordinated omission).
    scheduled: Instant,
    /// Inside the measured window (not warm-up).
    measured: bool,
}

/// What came back for one measured request.
enum Outcome {
    Status(u16, Duration),
    Error,
}

/// The fixed part of every request.
struct Template {
    uri: hyper::Uri,
    method: hyper::Method,
    headers: Vec<(hyper::header::HeaderName, hyper::header::HeaderValue)>,
    body: Bytes,
    addr: String,
}

impl Template {
    fn new(args: &LoadArgs) -> anyhow::Result<Self> {
        anyhow::ensure!(
            args.url.scheme_str() == Some("http"),
            "only http:// URLs are supported"
        );
        let authority = args
            .url
            .authority()
            .context("the URL needs a host")?
            .clone();
        let addr = format!(
            "{}:{}",
            authority.host(),
            authority.port_u16().unwrap_or(80)
        );
        let mut headers = vec![(
            hyper::header::HOST,
            hyper::header::HeaderValue::from_str(authority.as_str())?,
        )];
        for h in &args.headers {
            let (name, value) = h
                .split_once(':')
                .with_context(|| format!("header {h:?} is not \"Name: value\""))?;
            headers.push((
                name.trim().parse()?,
                hyper::header::HeaderValue::from_str(value.trim())?,
            ));
        }
        if args.body.is_some()
            && !headers
                .iter()
                .any(|(n, _)| n == hyper::header::CONTENT_TYPE)
        {
            headers.push((
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static("application/json"),
            ));
        }
        let path = args.url.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        Ok(Self {
            uri: path.parse()?,
            method: args.method.clone(),
            headers,
            body: Bytes::from(args.body.clone().unwrap_or_default()),
            addr,
        })
    }

    fn request(&self) -> hyper::Request<Full<Bytes>> {
        let mut req = hyper::Request::new(Full::new(self.body.clone()));
        *req.method_mut() = self.method.clone();
        *req.uri_mut() = self.uri.clone();
        for (n, v) in &self.headers {
            req.headers_mut().append(n.clone(), v.clone());
        }
        req
    }
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn connect(addr: &str) -> anyhow::Result<Sender> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// One keep-alive connection: takes the next scheduled request from the shared
/// queue, sends it, waits for the whole response, records it.
async fn connection(
    tpl: Arc<Template>,
    queue: Arc<Mutex<mpsc::UnboundedReceiver<Job>>>,
    backlog: Arc<AtomicUsize>,
    out: mpsc::UnboundedSender<Outcome>,
) {
    // Connect up front so the first measured requests do not pay for it.
    let mut sender: Option<Sender> = connect(&tpl.addr).await.ok();
    loop {
        let job = { queue.lock().await.recv().await };
        let Some(job) = job else { return };
        backlog.fetch_sub(1, Ordering::Relaxed);
        let result = async {
            let s = match sender.as_mut() {
                Some(s) if !s.is_closed() => s,
                _ => sender.insert(connect(&tpl.addr).await?),
            };
            s.ready().await?;
            let resp = s.send_request(tpl.request()).await?;
            let status = resp.status().as_u16();
            resp.into_body().collect().await?;
            anyhow::Ok(status)
        }
        .await;
        let outcome = match result {
            Ok(status) => Outcome::Status(status, job.scheduled.elapsed()),
            Err(_) => {
                sender = None;
                Outcome::Error
            }
        };
        if job.measured {
            let _ = out.send(outcome);
        }
    }
}

/// Latency summary in milliseconds.
fn summary(lat: &mut [Duration]) -> serde_json::Value {
    if lat.is_empty() {
        return serde_json::Value::Null;
    }
    lat.sort_unstable();
    // Nearest-rank percentile.
    let pct = |p: f64| {
        let rank = ((p / 100.0) * lat.len() as f64).ceil() as usize;
        let d = lat[rank.clamp(1, lat.len()) - 1];
        (d.as_secs_f64() * 1e5).round() / 100.0
    };
    serde_json::json!({
        "p50": pct(50.0),
        "p90": pct(90.0),
        "p99": pct(99.0),
        "max": pct(100.0),
    })
}

/// Runs the open-loop load and returns the JSON report.
async fn load(args: LoadArgs) -> anyhow::Result<serde_json::Value> {
    anyhow::ensure!(
        args.rate > 0.0 && args.duration > 0.0 && args.connections > 0,
        "rate, duration and connections must be > 0"
    );
    let tpl = Arc::new(Template::new(&args)?);
    // Fail early if nothing listens.
    drop(
        connect(&tpl.addr)
            .await
            .with_context(|| format!("cannot connect to {}", tpl.addr))?,
    );

    let (job_tx, job_rx) = mpsc::unbounded_channel::<Job>();
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Outcome>();
    let job_rx = Arc::new(Mutex::new(job_rx));
    // Scheduled requests not yet taken by a connection.
    let backlog = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..args.connections)
        .map(|_| {
            tokio::spawn(connection(
                tpl.clone(),
                job_rx.clone(),
                backlog.clone(),
                out_tx.clone(),
            ))
        })
        .collect();
    drop(out_tx);

    // The schedule: request i is due at start + i / rate, whatever happened to
    // the ones before it. If the scheduler itself falls behind (a busy CPU), it
    // sends the overdue ones at once, still stamped with their due time.
    let interval = Duration::from_secs_f64(1.0 / args.rate);
    let warmup = Duration::from_secs_f64(args.warmup);
    let total = warmup + Duration::from_secs_f64(args.duration);
    let start = Instant::now() + Duration::from_millis(10);
    let mut sent = 0u64;
    let mut i = 0u32;
    let mut max_backlog = 0usize;
    loop {
        let offset = interval * i;
        if offset >= total {
            break;
        }
        let due = start + offset;
        tokio::time::sleep_until(due).await;
        let measured = offset >= warmup;
        sent += u64::from(measured);
        max_backlog = max_backlog.max(backlog.fetch_add(1, Ordering::Relaxed) + 1);
        if job_tx
            .send(Job {
                scheduled: due,
                measured,
            })
            .is_err()
        {
            break;
        }
        i += 1;
    }
    drop(job_tx);
    let send_end = Instant::now();

    // Collect until every worker is done or the grace period ends.
    let mut statuses: BTreeMap<String, u64> = BTreeMap::new();
    let (mut ok, mut rejected) = (Vec::new(), Vec::new());
    let mut errors = 0u64;
    let deadline = send_end + Duration::from_secs_f64(args.grace);
    loop {
        match tokio::time::timeout_at(deadline, out_rx.recv()).await {
            Ok(Some(Outcome::Status(code, lat))) => {
                *statuses.entry(code.to_string()).or_default() += 1;
                if (200..300).contains(&code) {
                    ok.push(lat);
                } else if code == 503 {
                    rejected.push(lat);
                }
            }
            Ok(Some(Outcome::Error)) => errors += 1,
            Ok(None) | Err(_) => break,
        }
    }
    for w in workers {
        w.abort();
    }
    let answered: u64 = statuses.values().sum::<u64>() + errors;
    let unfinished = sent.saturating_sub(answered);
    Ok(serde_json::json!({
        "bench": "load",
        "url": args.url.to_string(),
        "method": args.method.as_str(),
        "rate": args.rate,
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "connections": args.connections,
        "sent": sent,
        "status": statuses,
        "errors": errors,
        "unfinished": unfinished,
        "ok_per_second": ((ok.len() as f64 / args.duration) * 10.0).round() / 10.0,
        "max_client_backlog": max_backlog,
        "ok_latency_ms": summary(&mut ok),
        "rejected_latency_ms": summary(&mut rejected),
    }))
}

/// An app over `database_url`, or over a new SQLite file in a temporary directory
/// (kept alive by the returned guard), with cheap argon2 (the benches never measure
/// it) and `settings` on top.
pub async fn scratch_app(
    database_url: Option<String>,
    settings: &[(&str, String)],
) -> anyhow::Result<(tempfile::TempDir, std::sync::Arc<gatehouse_server::App>)> {
    let dir = tempfile::tempdir()?;
    let database_url =
        database_url.unwrap_or_else(|| format!("sqlite:{}", dir.path().join("bench.db").display()));
    let mut pairs = vec![
        (
            "GATEHOUSE_DATA_DIR".to_string(),
            dir.path().display().to_string(),
        ),
        ("GATEHOUSE_DATABASE_URL".to_string(), database_url),
        (
            "GATEHOUSE_ARGON2_MEMORY_KIB".to_string(),
            "1024".to_string(),
        ),
        ("GATEHOUSE_ARGON2_ITERATIONS".to_string(), "1".to_string()),
    ];
    pairs.extend(settings.iter().map(|(k, v)| (k.to_string(), v.clone())));
    let config = gatehouse_server::Config::load_from(None, pairs)?;
    let app = gatehouse_server::build_app(config).await?;
    Ok((dir, app))
}
