//! `gatehouse-bench events`: login event ingestion over HTTP, in events/s.
//!
//! The real router (middleware, operator-key check, JSON parsing, per-event
//! validation, one transaction per batch with the dedupe check and account
//! resolution, the audit entry) serves on a loopback port in this process;
//! `--clients` keep-alive connections each POST batches of `--batch-size` events
//! to `/api/v1/events/login` back to back. The baseline, in the same round and
//! on the same database, is the store alone: the same number of already
//! validated batches handed to `EventStore::insert_login_events` by one caller
//! back to back — what the database takes without HTTP and JSON, with one batch
//! in flight, as the server writes them (one at a time per replica). Every event
//! is distinct (nothing is skipped as a duplicate); the table grows across
//! rounds. The goal's baseline, also in the same round and on the same
//! database, is the engine's fastest bulk load of the same rows
//! (`EventStore::load_login_events_unchecked`: PostgreSQL `COPY` into the table,
//! SQLite one multi-row `INSERT` per batch; accounts resolved beforehand, no
//! dedupe skip, no audit entry). Medians over the rounds (and of the per-round
//! HTTP ÷ bulk ratios) are printed as one JSON line.
//!
//! Also measured: what a login's event adds to the login's write. A failed
//! login's store call (two throttle counters and the audit entry, one
//! transaction) is timed without and with its event, interleaved, 3 × 1,000
//! calls each; the event is built in both cases so only the insert differs.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use gatehouse_domain::Timestamp;
use gatehouse_domain::audit::{Actor, AuditAction, NewAuditEntry};
use gatehouse_domain::login_event::{EventOrigin, LoginEventInput};
use gatehouse_store::NewLoginEvent;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;

/// Arguments of `gatehouse-bench events`.
#[derive(clap::Args, Clone)]
pub struct EventsArgs {
    /// Database (default: a new SQLite file in a temporary directory).
    #[arg(long)]
    database_url: Option<String>,
    /// Batches per round and path.
    #[arg(long, default_value_t = 100)]
    batches: usize,
    /// Events per batch (the API takes at most 1,000).
    #[arg(long, default_value_t = 1000)]
    batch_size: usize,
    /// Concurrent HTTP clients (the server writes one batch at a time; the others wait their turn).
    #[arg(long, default_value_t = 4)]
    clients: usize,
    /// Rounds; medians are reported.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
}

/// One event of the generated stream: `n` makes it distinct. A quarter name
/// accounts that exist (so resolution finds something), the rest do not.
fn event_json(n: u64, now_ms: i64) -> serde_json::Value {
    let account = if n.is_multiple_of(4) {
        format!("user{}@example.com", n % 1000)
    } else {
        format!("visitor{}@elsewhere.example", n % 100_000)
    };
    serde_json::json!({
        "time": Timestamp::from_millis(now_ms - 3_600_000 + (n % 3_000_000) as i64).to_rfc3339(),
        "account": account,
        "ip": format!("10.{}.{}.{}", (n >> 16) & 255, (n >> 8) & 255, n & 255),
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
        "outcome": if n.is_multiple_of(10) { "success" } else { "wrong_password" },
        "country": "NL",
        "asn": 64500 + (n % 50) as u32,
    })
}

/// The engine's fastest bulk load of the same batches (PostgreSQL `COPY`,
/// SQLite one multi-row `INSERT` per batch; accounts resolved beforehand, no
/// dedupe skip), one batch per transaction by one caller; returns events/s.
async fn bulk_round(
    app: &gatehouse_server::App,
    batches: &[Vec<NewLoginEvent>],
) -> anyhow::Result<f64> {
    let total: usize = batches.iter().map(Vec::len).sum();
    let started = Instant::now();
    for batch in batches {
        let n = app.raw_store().load_login_events_unchecked(batch).await?;
        anyhow::ensure!(
            n == batch.len() as u64,
            "bulk load stored {n} of {}",
            batch.len()
        );
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

/// Mean microseconds per failed-login write, without and with its event (medians of 3).
async fn login_write_cost(app: &gatehouse_server::App, calls: usize) -> anyhow::Result<(f64, f64)> {
    use gatehouse_domain::login_event::EventOutcome;
    use gatehouse_domain::throttle::ThrottlePolicy;
    let (mut without, mut with) = (Vec::new(), Vec::new());
    for round in 0..3 {
        for with_event in [false, true] {
            let started = Instant::now();
            for i in 0..calls {
                let now = app.clock.now();
                let key = format!("acct:login{round}-{with_event}-{i}@example.com");
                let mut dedupe_key = [0u8; 16];
                app.entropy.fill(&mut dedupe_key);
                let event = NewLoginEvent {
                    time: now,
                    account: key[5..].to_owned(),
                    link: gatehouse_store::AccountLink::Known(None),
                    ip: "192.0.2.1".into(),
                    user_agent: Some("bench".into()),
                    outcome: EventOutcome::UnknownAccount,
                    country: None,
                    asn: None,
                    origin: EventOrigin::Gatehouse,
                    password_digest: Some([7; 32]),
                    dedupe_key,
                    received_at: now,
                };
                let audit = NewAuditEntry::new(now, Actor::Account(None), AuditAction::LoginFailed);
                // The store's write alone (`App::raw_store`): what is measured is
                // the event's share of the login's transaction, not the login.
                app.raw_store()
                    .record_login_failure(
                        &[
                            (key.as_str(), ThrottlePolicy::ACCOUNT),
                            ("ip:bench", ThrottlePolicy::CLIENT),
                        ],
                        now,
                        with_event.then_some(&event),
                        audit,
                    )
                    .await?;
            }
            let us = started.elapsed().as_secs_f64() * 1e6 / calls as f64;
            if with_event {
                with.push(us)
            } else {
                without.push(us)
            }
        }
    }
    Ok((median(without), median(with)))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
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

/// Posts every body over `clients` connections; returns events/s.
async fn http_round(
    addr: &str,
    key: &str,
    bodies: Arc<Vec<Bytes>>,
    per_batch: usize,
    clients: usize,
) -> anyhow::Result<f64> {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (bodies, next) = (bodies.clone(), next.clone());
        let mut sender = connect(addr).await?;
        let (auth, uri) = (
            format!("Bearer {key}"),
            format!("http://{addr}/api/v1/events/login"),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(body) = bodies.get(i) else {
                    return anyhow::Ok(());
                };
                let req = hyper::Request::post(&uri)
                    .header("authorization", &auth)
                    .header("content-type", "application/json")
                    .body(Full::new(body.clone()))?;
                sender.ready().await?;
                let resp = sender.send_request(req).await?;
                let status = resp.status();
                let text = resp.into_body().collect().await?.to_bytes();
                anyhow::ensure!(
                    status.is_success() && text.windows(9).any(|w| w == b"\"inserted"),
                    "batch {i}: {status} {}",
                    String::from_utf8_lossy(&text)
                );
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok((bodies.len() * per_batch) as f64 / started.elapsed().as_secs_f64())
}

/// Inserts every batch through the store with `clients` callers; returns events/s.
/// The bench uses one caller, as the server does (see the module comment).
async fn store_round(
    app: &Arc<gatehouse_server::App>,
    batches: Arc<Vec<Vec<NewLoginEvent>>>,
    clients: usize,
) -> anyhow::Result<f64> {
    let next = Arc::new(AtomicUsize::new(0));
    let total: usize = batches.iter().map(Vec::len).sum();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (app, batches, next) = (app.clone(), batches.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(batch) = batches.get(i) else {
                    return anyhow::Ok(());
                };
                let audit = NewAuditEntry::new(
                    app.clock.now(),
                    Actor::System,
                    AuditAction::LoginEventsIngested,
                )
                .detail(serde_json::json!({ "origin": "bench" }));
                let n = app
                    .raw_store()
                    .insert_login_events(batch, Some(audit))
                    .await?;
                anyhow::ensure!(
                    n == batch.len() as u64,
                    "batch {i}: duplicates in the bench stream"
                );
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

pub async fn run(args: EventsArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.batches > 0 && args.rounds > 0 && args.clients > 0,
        "--batches, --rounds and --clients must be positive"
    );
    anyhow::ensure!(
        (1..=1000).contains(&args.batch_size),
        "--batch-size must be 1 to 1000 (the API's limit)"
    );
    let (_dir, app) = crate::scratch_app(args.database_url.clone(), &[]).await?;
    let (_, key) = app
        .create_operator("bench@example.com")
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    // A thousand accounts for a quarter of the events to resolve to.
    let accounts: Vec<String> = (0..1000)
        .map(|i| {
            format!(
                r#"{{"email":"user{i}@example.com","password_hash":"$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW"}}"#
            )
        })
        .collect();
    app.import_accounts(std::io::Cursor::new(accounts.join("\n")), 1000, |_| {})
        .await?;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?.to_string();
    let router = gatehouse_server::http::router(app.clone())?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(gatehouse_server::http::serve(listener, router, async {
        let _ = stopped.await;
    }));

    // The bulk baseline gets the account ids the ingestion resolves.
    let mut known = std::collections::HashMap::new();
    for i in 0..1000 {
        let email = format!("user{i}@example.com");
        if let Some(r) = app.raw_store().login_record(&email).await? {
            known.insert(email, r.account.id);
        }
    }
    anyhow::ensure!(known.len() == 1000, "the bench accounts were not imported");

    let now_ms = app.clock.now().as_millis();
    let per_round = (args.batches * args.batch_size) as u64;
    let mut stream = 0u64;
    let (mut over_http, mut direct, mut bulk) = (Vec::new(), Vec::new(), Vec::new());
    let mut ratios = Vec::new();
    for round in 0..args.rounds {
        // Bodies and rows are built before the clock starts.
        let bodies: Vec<Bytes> = (0..args.batches)
            .map(|b| {
                let start = stream + (b * args.batch_size) as u64;
                let events: Vec<_> = (start..start + args.batch_size as u64)
                    .map(|n| event_json(n, now_ms))
                    .collect();
                Bytes::from(serde_json::to_vec(&serde_json::json!({ "events": events })).unwrap())
            })
            .collect();
        stream += per_round;
        let now = app.clock.now();
        let rows = |stream: u64| -> Vec<Vec<NewLoginEvent>> {
            (0..args.batches)
                .map(|b| {
                    let start = stream + (b * args.batch_size) as u64;
                    (start..start + args.batch_size as u64)
                        .map(|n| {
                            let e = LoginEventInput::parse_json(
                                &event_json(n, now_ms).to_string(),
                                now,
                            )
                            .expect("generated events are valid");
                            gatehouse_server::app::events::to_new_event(&e, EventOrigin::Api, now)
                        })
                        .collect()
                })
                .collect()
        };
        let stored = rows(stream);
        stream += per_round;
        let mut loaded = rows(stream);
        stream += per_round;
        for e in loaded.iter_mut().flatten() {
            e.link = gatehouse_store::AccountLink::Known(known.get(&e.account).copied());
        }
        let h = http_round(
            &addr,
            key.expose(),
            Arc::new(bodies),
            args.batch_size,
            args.clients,
        )
        .await?;
        let d = store_round(&app, Arc::new(stored), 1).await?;
        let b = bulk_round(&app, &loaded).await?;
        eprintln!(
            "round {}: HTTP {h:.0} events/s, store alone {d:.0} events/s, bulk load {b:.0} \
             events/s, HTTP ÷ bulk {:.2} ({} events stored)",
            round + 1,
            h / b,
            app.raw_store()
                .count_login_events(Timestamp::from_millis(0), Timestamp::from_millis(i64::MAX))
                .await?
        );
        ratios.push(h / b);
        over_http.push(h);
        direct.push(d);
        bulk.push(b);
    }
    let (h, d, b) = (median(over_http), median(direct), median(bulk));
    let ratio = median(ratios);
    let (plain, evented) = login_write_cost(&app, 1000).await?;
    eprintln!("failed-login write: {plain:.0} µs without its event, {evented:.0} µs with it");
    println!(
        "{{\"bench\":\"events\",\"engine\":\"{}\",\"batch_size\":{},\"batches\":{},\"clients\":{},\"rounds\":{},\"http_events_per_second\":{h:.0},\"store_events_per_second\":{d:.0},\"bulk_events_per_second\":{b:.0},\"ratio_store\":{:.2},\"ratio_bulk\":{ratio:.2},\"login_write_us\":{plain:.0},\"login_write_with_event_us\":{evented:.0}}}",
        app.storage_engine(),
        args.batch_size,
        args.batches,
        args.clients,
        args.rounds,
        h / d
    );
    let _ = stop.send(());
    let _ = server.await;
    app.close().await;
    Ok(ExitCode::SUCCESS)
}
