//! `gatehouse-bench oidc`: the OpenID Connect provider's figures (issue 16),
//! each against a baseline measured in the same run and round.
//!
//! The real router serves on a loopback port in this process, next to a bare
//! axum server (same runtime, allocator and build) whose handler answers a
//! short fixed JSON. One closed-loop client (`--connections` keep-alive HTTP/1.1
//! connections, each sending its next request as soon as the last is
//! answered) drives both, so the ratio compares the servers, not the clients:
//!
//! - introspection of an access token (`POST /oauth2/introspect`, client
//!   authenticated) and userinfo (`GET /oauth2/userinfo`) vs the bare handler;
//! - JWKS and discovery vs the bare handler;
//! - the code-for-token exchange (`POST /oauth2/token`: client check, code
//!   read, the grant's rows written, two ES256 signatures) vs the store's own
//!   write of the same rows (`redeem_code` on codes issued the same way); each
//!   side at the better of one caller and as many callers as connections.
//!
//! Codes live 60 s, so each round issues its codes (untimed) just before it
//! redeems them. Rates are medians over `--rounds`; each ratio is the median of
//! the per-round ratios (a busy moment slows both sides of a round). The ES256 signing cost is
//! `ring`'s (the signer Gatehouse uses) on a token-sized input.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::Context as _;
use gatehouse_domain::oidc::{AuthCode, CodeVerifier};
use gatehouse_server::App;
use gatehouse_server::app::Client;
use gatehouse_server::app::oidc::{AuthorizeOutcome, AuthorizeParams, ClientSpec, ValidRequest};
use gatehouse_store::NewGrant;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;

/// Arguments of `gatehouse-bench oidc`.
#[derive(clap::Args, Clone)]
pub struct OidcArgs {
    /// Database (default: a new SQLite file in a temporary directory).
    #[arg(long)]
    database_url: Option<String>,
    /// Requests per round for the read endpoints and their baseline.
    #[arg(long, default_value_t = 4000)]
    requests: usize,
    /// Code exchanges per round (and store writes for its baseline).
    #[arg(long, default_value_t = 500)]
    exchanges: usize,
    /// Keep-alive connections (and store callers for the write baseline).
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// Rounds; the figures are medians.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
}

const REDIRECT: &str = "http://127.0.0.1:9/callback";
const CLIENT_ID: &str = "bench-app";
/// 43 characters, the shortest verifier RFC 7636 allows.
const VERIFIER: &str = "bench-verifier-bench-verifier-bench-verifie";

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;
type MakeRequest = dyn Fn(usize) -> hyper::Request<Full<Bytes>> + Send + Sync;

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

/// Sends requests `0..n` (built by `make`) over `connections` connections,
/// each as soon as the connection's last one was answered; every answer must be
/// 200. Returns requests per second (connections are opened before the clock).
async fn closed_loop(
    addr: &str,
    connections: usize,
    n: usize,
    make: Arc<MakeRequest>,
) -> anyhow::Result<f64> {
    let mut senders = Vec::with_capacity(connections);
    for _ in 0..connections {
        senders.push(connect(addr).await?);
    }
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = senders
        .into_iter()
        .map(|mut sender| {
            let (next, make) = (next.clone(), make.clone());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        return anyhow::Ok(());
                    }
                    sender.ready().await?;
                    let resp = sender.send_request(make(i)).await?;
                    let status = resp.status();
                    let body = resp.into_body().collect().await?.to_bytes();
                    anyhow::ensure!(
                        status == hyper::StatusCode::OK,
                        "request {i}: {status} {}",
                        String::from_utf8_lossy(&body)
                    );
                }
            })
        })
        .collect();
    for t in tasks {
        t.await??;
    }
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

fn get(addr: &str, path: &str, bearer: Option<&str>) -> hyper::Request<Full<Bytes>> {
    let mut b = hyper::Request::get(format!("http://{addr}{path}")).header("host", addr);
    if let Some(t) = bearer {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    b.body(Full::new(Bytes::new())).expect("a valid request")
}

fn post_form(addr: &str, path: &str, form: String) -> hyper::Request<Full<Bytes>> {
    hyper::Request::post(format!("http://{addr}{path}"))
        .header("host", addr)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from(form)))
        .expect("a valid request")
}

/// `count` fresh authorization codes for the bench client, issued as
/// `/oauth2/authorize` issues them for a signed-in person.
async fn codes(
    app: &App,
    req: &ValidRequest,
    who: &gatehouse_server::app::oidc::SignedIn,
    count: usize,
) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        match app.oidc_authorize(req, Some(who)).await? {
            AuthorizeOutcome::Redirect(url) => {
                let url = url::Url::parse(&url)?;
                let code = url
                    .query_pairs()
                    .find(|(k, _)| k == "code")
                    .map(|(_, v)| v.into_owned())
                    .with_context(|| format!("no code in {url}"))?;
                out.push(code);
            }
            other => anyhow::bail!("expected a code, got {other:?}"),
        }
    }
    Ok(out)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// ES256 signatures per second with `ring` on a token-sized signing input;
/// returns microseconds per signature.
fn es256_sign_us(count: usize) -> anyhow::Result<f64> {
    use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
        .map_err(|_| anyhow::anyhow!("cannot generate a P-256 key"))?;
    let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
        .map_err(|_| anyhow::anyhow!("cannot load the P-256 key"))?;
    // About the size of an ID token's header.payload.
    let input = vec![b'e'; 420];
    let started = Instant::now();
    for _ in 0..count {
        std::hint::black_box(
            key.sign(&rng, std::hint::black_box(&input))
                .map_err(|_| anyhow::anyhow!("signing failed"))?,
        );
    }
    Ok(started.elapsed().as_secs_f64() * 1e6 / count as f64)
}

pub async fn run(args: OidcArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.rounds > 0 && args.requests > 0 && args.exchanges > 0 && args.connections > 0,
        "rounds, requests, exchanges and connections must be > 0"
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?.to_string();
    let (_dir, app) = crate::scratch_app(
        args.database_url.clone(),
        &[("GATEHOUSE_PUBLIC_URL", format!("http://{addr}"))],
    )
    .await?;
    let router = gatehouse_server::http::router(app.clone())?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(gatehouse_server::http::serve(listener, router, async {
        let _ = stopped.await;
    }));
    // The baseline: a bare axum handler with a short fixed JSON answer, GET and POST.
    let bare_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let bare = bare_listener.local_addr()?.to_string();
    let bare_router = axum::Router::new().route(
        "/",
        axum::routing::get(|| async { axum::Json(serde_json::json!({"active": true})) })
            .post(|_body: String| async { axum::Json(serde_json::json!({"active": true})) }),
    );
    let bare_server = tokio::spawn(async move { axum::serve(bare_listener, bare_router).await });

    // A person signed in, and a first-party confidential client.
    let client = Client {
        ip: None,
        user_agent: None,
    };
    let (email, password) = ("bench@example.com", "correct horse battery staple");
    app.sign_up(email, password, &client).await?;
    let session = app.log_in(email, password, &client).await?;
    let who = app
        .oidc_signed_in(session.token.expose())
        .await
        .context("the bench's session is not usable for OIDC")?;
    let created = app
        .oidc_create_client(
            CLIENT_ID,
            &ClientSpec {
                name: "Bench".into(),
                redirect_uris: vec![REDIRECT.into()],
                post_logout_redirect_uris: vec![],
                first_party: true,
                backchannel_logout_uri: None,
                backchannel_logout_session_required: false,
                id_token_alg: None,
            },
            false,
            gatehouse_domain::audit::Actor::System,
        )
        .await?;
    let secret = created
        .secret
        .context("a confidential client has a secret")?
        .expose()
        .to_owned();
    let challenge = CodeVerifier::parse(VERIFIER)?.challenge();
    let authorize = app
        .oidc_check_authorize(&AuthorizeParams {
            client_id: Some(CLIENT_ID.into()),
            redirect_uri: Some(REDIRECT.into()),
            response_type: Some("code".into()),
            scope: Some("openid email".into()),
            nonce: Some("bench-nonce".into()),
            code_challenge: Some(challenge.as_str().to_owned()),
            code_challenge_method: Some("S256".into()),
            ..Default::default()
        })
        .await
        .map_err(|e| anyhow::anyhow!("the bench's authorization request is refused: {e:?}"))?;
    let exchange_form = {
        let secret = secret.clone();
        move |code: &str| {
            serde_urlencoded::to_string([
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
                ("client_id", CLIENT_ID),
                ("client_secret", secret.as_str()),
            ])
            .expect("a form")
        }
    };

    // One exchange for the access token the read endpoints are asked about.
    let first = codes(&app, &authorize, &who, 1).await?;
    let mut sender = connect(&addr).await?;
    let resp = sender
        .send_request(post_form(&addr, "/oauth2/token", exchange_form(&first[0])))
        .await?;
    let status = resp.status();
    let body = resp.into_body().collect().await?.to_bytes();
    anyhow::ensure!(
        status == hyper::StatusCode::OK,
        "the first exchange: {status} {}",
        String::from_utf8_lossy(&body)
    );
    let access_token = serde_json::from_slice::<serde_json::Value>(&body)?["access_token"]
        .as_str()
        .context("no access_token")?
        .to_owned();
    let introspect_form = serde_urlencoded::to_string([
        ("token", access_token.as_str()),
        ("client_id", CLIENT_ID),
        ("client_secret", secret.as_str()),
    ])?;

    let c = args.connections;
    let n = args.requests;
    let mut figures: std::collections::BTreeMap<&str, Vec<f64>> = Default::default();
    for round in 1..=args.rounds {
        let (a, b) = (addr.clone(), bare.clone());
        let baseline_get = closed_loop(&bare, c, n, Arc::new(move |_| get(&b, "/", None))).await?;
        let b = bare.clone();
        let form = introspect_form.clone();
        let baseline_post = closed_loop(
            &bare,
            c,
            n,
            Arc::new(move |_| post_form(&b, "/", form.clone())),
        )
        .await?;
        let token = access_token.clone();
        let userinfo = closed_loop(
            &addr,
            c,
            n,
            Arc::new(move |_| get(&a, "/oauth2/userinfo", Some(&token))),
        )
        .await?;
        let (a, form) = (addr.clone(), introspect_form.clone());
        let introspect = closed_loop(
            &addr,
            c,
            n,
            Arc::new(move |_| post_form(&a, "/oauth2/introspect", form.clone())),
        )
        .await?;
        let a = addr.clone();
        let jwks = closed_loop(
            &addr,
            c,
            n,
            Arc::new(move |_| get(&a, "/oauth2/jwks", None)),
        )
        .await?;
        let a = addr.clone();
        let discovery = closed_loop(
            &addr,
            c,
            n,
            Arc::new(move |_| get(&a, "/.well-known/openid-configuration", None)),
        )
        .await?;

        // The exchange over HTTP, then the store's write of the same rows.
        // Both sides at their best of one and `c` at once: SQLite takes one
        // writer at a time, so many concurrent writers mostly wait on each other.
        let mut exchange_at = Vec::new();
        for callers in [1, c] {
            let issued = Arc::new(codes(&app, &authorize, &who, args.exchanges).await?);
            let (a, form) = (addr.clone(), exchange_form.clone());
            exchange_at.push(
                closed_loop(
                    &addr,
                    callers,
                    args.exchanges,
                    Arc::new(move |i| post_form(&a, "/oauth2/token", form(&issued[i]))),
                )
                .await?,
            );
        }
        let (exchange_one, exchange_many) = (exchange_at[0], exchange_at[1]);
        let exchange = exchange_one.max(exchange_many);
        let store_one = store_round(&app, &authorize, &who, args.exchanges, 1).await?;
        let store_many = store_round(&app, &authorize, &who, args.exchanges, c).await?;
        let store_write = store_one.max(store_many);

        eprintln!(
            "round {round}: bare GET {baseline_get:.0}/s, bare POST {baseline_post:.0}/s, \
             userinfo {userinfo:.0}/s, introspect {introspect:.0}/s, jwks {jwks:.0}/s, \
             discovery {discovery:.0}/s, exchange {exchange_one:.0}/s (1 connection) {exchange_many:.0}/s ({c}), store write {store_one:.0}/s (1 caller) {store_many:.0}/s ({c} callers)"
        );
        for (k, v) in [
            ("bare_get", baseline_get),
            ("bare_post", baseline_post),
            ("userinfo", userinfo),
            ("introspect", introspect),
            ("jwks", jwks),
            ("discovery", discovery),
            ("exchange", exchange),
            ("store_write", store_write),
        ] {
            figures.entry(k).or_default().push(v);
        }
    }
    let sign_us = tokio::task::spawn_blocking(|| es256_sign_us(5000)).await??;
    let m: std::collections::BTreeMap<&str, f64> = figures
        .iter()
        .map(|(k, v)| (*k, median(v.clone())))
        .collect();
    // On a shared machine the rates of one round move together, so each ratio
    // is taken within its round, then the median over rounds.
    let ratio = |a: &str, b: &str| {
        let per_round: Vec<f64> = figures[a]
            .iter()
            .zip(&figures[b])
            .map(|(x, y)| x / y)
            .collect();
        (median(per_round) * 100.0).round() / 100.0
    };
    let report = serde_json::json!({
        "bench": "oidc",
        "engine": app.storage_engine(),
        "connections": c,
        "requests_per_round": n,
        "exchanges_per_round": args.exchanges,
        "rounds": args.rounds,
        "per_second": m.iter().map(|(k, v)| (k.to_string(), serde_json::json!(v.round()))).collect::<serde_json::Map<_, _>>(),
        "ratios": {
            "userinfo_vs_bare_get": ratio("userinfo", "bare_get"),
            "introspect_vs_bare_post": ratio("introspect", "bare_post"),
            "jwks_vs_bare_get": ratio("jwks", "bare_get"),
            "discovery_vs_bare_get": ratio("discovery", "bare_get"),
            "exchange_vs_store_write": ratio("exchange", "store_write"),
        },
        "es256_sign_us": (sign_us * 10.0).round() / 10.0,
        "es256_signatures_per_exchange": 2,
    });
    println!("{report}");
    let _ = stop.send(());
    let _ = server.await;
    bare_server.abort();
    app.close().await;
    Ok(ExitCode::SUCCESS)
}

/// The store's own write of an exchange's rows (the code marked used, the
/// grant inserted) on `count` codes issued the same way, by `callers` tasks;
/// returns writes per second.
async fn store_round(
    app: &Arc<App>,
    authorize: &ValidRequest,
    who: &gatehouse_server::app::oidc::SignedIn,
    count: usize,
    callers: usize,
) -> anyhow::Result<f64> {
    let issued = Arc::new(codes(app, authorize, who, count).await?);
    let rec = app
        .raw_store()
        .code(&AuthCode::parse(&issued[0])?.hash())
        .await?
        .context("an issued code is stored")?;
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..callers)
        .map(|_| {
            let (app, issued, next, rec) = (app.clone(), issued.clone(), next.clone(), rec.clone());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(code) = issued.get(i) else {
                        return anyhow::Ok(());
                    };
                    let now = app.clock.now();
                    let grant = NewGrant {
                        id: format!("{:032x}", rand_id(i)),
                        client_id: rec.client_id.clone(),
                        account: rec.account,
                        session: rec.session,
                        scope: rec.scope.clone(),
                        auth_time: rec.auth_time,
                        created_at: now,
                    };
                    let applied = app
                        .raw_store()
                        .redeem_code(&AuthCode::parse(code)?.hash(), now, &grant, None)
                        .await?;
                    anyhow::ensure!(
                        applied == gatehouse_store::Applied::Done,
                        "code {i} was already redeemed"
                    );
                }
            })
        })
        .collect();
    for t in tasks {
        t.await??;
    }
    Ok(count as f64 / started.elapsed().as_secs_f64())
}

/// A grant id unique in the run (the exchange draws 16 random bytes; the
/// baseline needs only uniqueness).
fn rand_id(i: usize) -> u128 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    (nanos << 20) ^ i as u128
}
