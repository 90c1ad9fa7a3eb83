//! `gatehouse-bench ssf`: Shared Signals delivery (issue 17), against a
//! baseline measured in the same run and round.
//!
//! A local receiver (axum on a loopback port, in this process) answers 202
//! to every push and counts them. Each round writes `--sets` SET rows to the
//! app-delivery outbox (verification events of one stream, untimed — the
//! outbox's write is measured by the campaign bench), then times:
//!
//! - **signing**: `App::security_event_token` for up to 1,000 of the rows,
//!   one after the other on one thread (claims built, ES256 with the
//!   provider's key), microseconds per token — the cost of a signature;
//! - **sign-ahead** (unless `--end-to-end`): the sender's sign-ahead stage
//!   (`App::sign_ahead`: read unsigned rows, sign them on the blocking pool,
//!   store the tokens) until every row of the round has its token,
//!   microseconds per SET of wall time;
//! - **delivery**: the real sender (`backchannel::spawn_backchannel`: its
//!   sign-ahead stage and the receiver's task — claim with a lease, POST the
//!   stored token or sign one, settle) from start until the receiver has
//!   every SET, with `backchannel_concurrency` = `--concurrency` and the
//!   per-receiver rate set out of the way. With `--end-to-end` the rows are
//!   not signed before the clock starts: the sender signs them (its stage and
//!   its attempts) inside the timed section, so the figure is everything the
//!   product does per SET after the row is written;
//!   The **settled** figure stops the clock when every row is also `sent` in
//!   the outbox (the last settle runs after the receiver has the last SET);
//! - **baseline**: the signed bodies of the signing step (cycled over
//!   `--sets`) POSTed by a minimal hyper client over `--concurrency`
//!   keep-alive connections, each sending its next as soon as the last was
//!   answered.
//!
//! Figures are medians over `--rounds`; the ratio is the median of the
//! per-round ratios (a busy moment slows both sides of a round).

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use gatehouse_domain::audit::Actor;
use gatehouse_server::app::oidc::{
    ClientSpec, Delivery, PUSH_METHOD, StreamRequest, VerifyRequest,
};
use gatehouse_store::AppDeliveryState;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;

/// Arguments of `gatehouse-bench ssf`.
#[derive(clap::Args, Clone)]
pub struct SsfArgs {
    /// Database (default: a new SQLite file in a temporary directory).
    #[arg(long)]
    database_url: Option<String>,
    /// SETs per round.
    #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    sets: u64,
    /// The sender's concurrency per receiver, and the baseline's connections.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..=64))]
    concurrency: u64,
    /// Rounds; the figures are medians.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Leave the rows unsigned before the clock: the timed delivery includes
    /// the signing (the sender's sign-ahead stage racing its sends).
    #[arg(long)]
    end_to_end: bool,
}

const RECEIVER: &str = "bench-receiver";

fn unix_seconds() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Waits until `counter` reaches `target` (or 120 s pass).
async fn reached(counter: &AtomicUsize, target: usize) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    while counter.load(Ordering::Relaxed) < target {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the receiver did not get every SET"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Ok(())
}

/// POSTs every body over `connections` keep-alive HTTP/1.1 connections;
/// every answer must be 202. Returns pushes per second.
async fn baseline(addr: &str, connections: usize, bodies: Arc<Vec<String>>) -> anyhow::Result<f64> {
    let mut senders = Vec::with_capacity(connections);
    for _ in 0..connections {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        senders.push(sender);
    }
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = senders
        .into_iter()
        .map(
            |mut sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>| {
                let (next, bodies, addr) = (next.clone(), bodies.clone(), addr.to_owned());
                tokio::spawn(async move {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(body) = bodies.get(i) else {
                            return anyhow::Ok(());
                        };
                        sender.ready().await?;
                        let req = hyper::Request::post(format!("http://{addr}/events"))
                            .header("host", &addr)
                            .header("content-type", "application/secevent+jwt")
                            .body(Full::new(Bytes::from(body.clone())))?;
                        let resp = sender.send_request(req).await?;
                        let status = resp.status();
                        resp.into_body().collect().await?;
                        anyhow::ensure!(
                            status == hyper::StatusCode::ACCEPTED,
                            "push {i}: {status}"
                        );
                    }
                })
            },
        )
        .collect();
    for t in tasks {
        t.await??;
    }
    Ok(bodies.len() as f64 / started.elapsed().as_secs_f64())
}

pub async fn run(args: SsfArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.rounds > 0, "rounds must be > 0");
    let n = args.sets as usize;
    // The receiver: 202 to every push, counted.
    let got = Arc::new(AtomicUsize::new(0));
    let counter = got.clone();
    let router = axum::Router::new().route(
        "/events",
        axum::routing::post(move |_body: Bytes| {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::Relaxed);
                axum::http::StatusCode::ACCEPTED
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?.to_string();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let (_dir, app) = crate::scratch_app(
        args.database_url.clone(),
        &[
            ("GATEHOUSE_BACKCHANNEL_RATE_PER_SECOND", "100000".to_owned()),
            (
                "GATEHOUSE_BACKCHANNEL_CONCURRENCY",
                args.concurrency.to_string(),
            ),
        ],
    )
    .await?;
    let spec = ClientSpec {
        name: "Bench receiver".into(),
        redirect_uris: vec!["http://127.0.0.1:9/callback".into()],
        first_party: true,
        ..ClientSpec::default()
    };
    app.oidc_create_client(RECEIVER, &spec, false, Actor::System)
        .await?;
    let stream = app
        .ssf_create_stream(
            RECEIVER,
            &StreamRequest {
                delivery: Some(Delivery {
                    method: PUSH_METHOD.into(),
                    endpoint_url: Some(format!("http://{addr}/events")),
                    authorization_header: None,
                }),
                events_requested: Some(Vec::new()),
                ..StreamRequest::default()
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("cannot create the stream: {}", e.description))?;

    let (mut sign_us, mut ahead_us, mut sender_rates, mut base_rates, mut ratios) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut settled_ratios = Vec::new();
    for round in 0..args.rounds {
        for i in 0..n {
            app.ssf_verify(
                RECEIVER,
                &VerifyRequest {
                    stream_id: stream.stream_id.clone(),
                    state: Some(format!("round {round}, SET {i}")),
                },
            )
            .await
            .map_err(|e| anyhow::anyhow!("cannot queue a SET: {}", e.description))?;
        }
        let counts = app.app_delivery_counts().await?;
        let pending = counts
            .iter()
            .find(|c| c.client_id == RECEIVER)
            .map_or(0, |c| c.pending);
        anyhow::ensure!(pending == n as i64, "{pending} rows pending, not {n}");
        // Signing: one signature after the other, as an attempt signs.
        let rows = app
            .app_deliveries(
                Some(AppDeliveryState::Pending),
                Some(RECEIVER.into()),
                n.min(1000) as i64,
            )
            .await?;
        let started = Instant::now();
        let mut bodies = Vec::with_capacity(rows.len());
        for d in &rows {
            bodies.push(app.security_event_token(d).await?);
        }
        sign_us.push(started.elapsed().as_secs_f64() * 1e6 / rows.len() as f64);
        let bodies: Vec<String> = bodies.iter().cycle().take(n).cloned().collect();

        // The sign-ahead stage, on its own clock.
        if !args.end_to_end {
            let started = Instant::now();
            while app.sign_ahead(1000).await? > 0 {}
            ahead_us.push(started.elapsed().as_secs_f64() * 1e6 / n as f64);
        }

        // The sender, from start to the receiver's last SET.
        let before = got.load(Ordering::Relaxed);
        let wall = unix_seconds();
        let started = Instant::now();
        let sender = gatehouse_server::backchannel::spawn_backchannel(app.clone())?;
        reached(&got, before + n).await?;
        let sender_rate = n as f64 / started.elapsed().as_secs_f64();
        // The timed section on the wall clock, to cut a profile to it
        // (`perf record -k realtime`, then `perf report --time FROM,TO`).
        let timed = (wall, unix_seconds());
        // Settled before the baseline runs, so the two never overlap; timed
        // too (the settle of the last rows runs after the receiver has them),
        // polled every 2 ms once the receiver has every SET.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let counts = app.app_delivery_counts().await?;
            let c = counts.iter().find(|c| c.client_id == RECEIVER);
            if c.is_some_and(|c| c.pending + c.sending == 0) {
                break;
            }
            anyhow::ensure!(Instant::now() < deadline, "the sender did not settle");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let settled_rate = n as f64 / started.elapsed().as_secs_f64();
        sender.abort();

        let base_rate = baseline(&addr, args.concurrency as usize, Arc::new(bodies)).await?;
        eprintln!(
            "round {round}: sender {sender_rate:.0}/s, plain POSTs {base_rate:.0}/s, ratio {:.3}, \
             settled {settled_rate:.0}/s (ratio {:.3}), signing {:.1} µs/SET, sign-ahead {} \
             µs/SET, sender timed {:.6},{:.6} (Unix s)",
            sender_rate / base_rate,
            settled_rate / base_rate,
            sign_us[round],
            ahead_us
                .get(round)
                .map_or("(in the delivery)".to_owned(), |us| format!("{us:.1}")),
            timed.0,
            timed.1,
        );
        ratios.push(sender_rate / base_rate);
        settled_ratios.push(settled_rate / base_rate);
        sender_rates.push(sender_rate);
        base_rates.push(base_rate);
    }
    println!(
        "{}",
        serde_json::json!({
            "bench": "ssf",
            "sets_per_round": n,
            "concurrency": args.concurrency,
            "rounds": args.rounds,
            "end_to_end": args.end_to_end,
            "sender_sets_per_second": median(sender_rates),
            "baseline_posts_per_second": median(base_rates),
            "ratio": median(ratios),
            "settled_ratio": median(settled_ratios),
            "signing_us_per_set": median(sign_us),
            "sign_ahead_us_per_set": (!ahead_us.is_empty()).then(|| median(ahead_us)),
        })
    );
    Ok(ExitCode::SUCCESS)
}
