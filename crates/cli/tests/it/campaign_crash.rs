//! A 10,000-account campaign applied by `gatehouse serve` while the process is
//! killed (SIGKILL) at random moments, again and again, and restarted each time.
//! Afterwards, on SQLite and PostgreSQL: the campaign completed; every account was
//! reset exactly once, with exactly one forced-reset notice and one audit entry;
//! and the budget's count of resets equals the number applied. A tenth of the
//! people are signed in to two apps (issue 17), each app with its own
//! receiver (a separate server on its own port) for back-channel logout and
//! for a Shared Signals stream: each app gets exactly one logout token per
//! session the reset suspended — none missing, a repeat only with the same
//! `jti` — and exactly one SET per (event, subject) — CAEP session-revoked
//! per session, RISC account-credential-change-required and sessions-revoked
//! per account —, a repeat only with the same `jti`.
//!
//! The second app's receiver is broken throughout: it answers 500 while the
//! campaign runs, then hangs; the first app's deliveries all complete while
//! it hangs, and the second app's complete once it answers again.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::app::{CB, LogoutReceiver, Mode, sign_in};
use crate::support::*;

const ACCOUNTS: usize = 10_000;
/// People signed in to the two apps before the campaign, spread over it: a
/// tenth, so the apps get thousands of deliveries between the kills.
const SIGNED_IN: usize = 1000;
/// Browsers signing people in at once.
const SIGN_IN_TASKS: usize = 4;
const PASSWORD: &str = "correct horse battery staple";
/// What each app's stream asks for: session-revoked first (per session), then
/// the per-account events.
const SET_EVENTS: [&str; 3] = [
    "https://schemas.openid.net/secevent/caep/event-type/session-revoked",
    "https://schemas.openid.net/secevent/risc/event-type/account-credential-change-required",
    "https://schemas.openid.net/secevent/risc/event-type/sessions-revoked",
];

/// A cheap argon2id hash of `password` (the import takes PHC strings).
fn known_hash(password: &str) -> String {
    use argon2::password_hash::PasswordHasher as _;
    let params = argon2::Params::new(1024, 1, 1, None).unwrap();
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password_with_salt(password.as_bytes(), b"fixed salt, test")
        .unwrap()
        .to_string()
}

fn ok(o: &std::process::Output) -> String {
    let (out, err) = text(o);
    assert!(o.status.success(), "{out}\n{err}");
    out
}

fn serve(dir: &Path, db: &str) -> (Child, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .arg("serve")
        .env_remove("GATEHOUSE_CONFIG")
        .env("GATEHOUSE_DATA_DIR", dir.join("data"))
        .env("GATEHOUSE_DATABASE_URL", db)
        .env("GATEHOUSE_LISTEN", format!("127.0.0.1:{port}"))
        .env("GATEHOUSE_PUBLIC_URL", format!("http://127.0.0.1:{port}"))
        // Nothing listens there: notices stay in the outbox (what is checked).
        .env("GATEHOUSE_SMTP_URL", "smtp://127.0.0.1:9")
        .env("GATEHOUSE_BUDGET_HOURLY_FLOOR", "1000000")
        .env("GATEHOUSE_BUDGET_DAILY_FLOOR", "1000000")
        .env("GATEHOUSE_DETECTION", "false")
        // A killed sender's leases run out soon (2 × timeout + 10 s).
        .env("GATEHOUSE_BACKCHANNEL_TIMEOUT_SECONDS", "1")
        .env("GATEHOUSE_BACKCHANNEL_RETRY_BASE_MS", "50")
        // Deliveries as fast as the sender goes (the pacing is tested
        // elsewhere), and attempts enough for the broken receiver's rows to
        // outlive its 500s and its hang at this compressed backoff.
        .env("GATEHOUSE_BACKCHANNEL_RATE_PER_SECOND", "10000")
        .env("GATEHOUSE_BACKCHANNEL_CONCURRENCY", "16")
        .env("GATEHOUSE_BACKCHANNEL_MAX_ATTEMPTS", "1000")
        // The browsers sign in a few at once: their password checks wait for
        // a hash worker rather than being refused as overload.
        .env("GATEHOUSE_HASH_QUEUE_TIMEOUT_MS", "30000")
        // Cheap argon2id, as the imported hashes are: a sign-in costs its HTTP
        // round trips, not a password hash (nor an upgrade of one).
        .env("GATEHOUSE_ARGON2_MEMORY_KIB", "1024")
        .env("GATEHOUSE_ARGON2_ITERATIONS", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start gatehouse serve");
    (child, port)
}

/// Waits until `serve` on `port` answers `/healthz`.
async fn ready(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !reqwest::get(format!("http://127.0.0.1:{port}/healthz"))
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(Instant::now() < deadline, "serve did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A small deterministic generator, so a failing run can be replayed from its seed.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_survives_sigkill_at_random_points() {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    eprintln!("seed {seed}");
    let mut rng = Lcg(seed);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for db in databases(d).await {
        let _ = std::fs::remove_dir_all(d.join("data"));
        // The people who sign in to the apps have a password the test types.
        let typed = known_hash(PASSWORD);
        let users: String = (0..ACCOUNTS)
            .map(|i| {
                let hash = if i % (ACCOUNTS / SIGNED_IN) == 0 {
                    typed.as_str()
                } else {
                    BCRYPT
                };
                format!("{{\"email\":\"u{i}@example.com\",\"password_hash\":\"{hash}\"}}\n")
            })
            .collect();
        std::fs::write(d.join("users.jsonl"), users).unwrap();
        ok(&gatehouse(
            d,
            &db,
            &["accounts", "import", "users.jsonl", "--quiet"],
        ));
        let list: String = (0..ACCOUNTS)
            .map(|i| format!("u{i}@example.com\n"))
            .collect();
        std::fs::write(d.join("targets.txt"), list).unwrap();

        // Two apps with back-channel logout, each with its own receiver, and
        // people signed in to both.
        let receivers = [LogoutReceiver::start().await, LogoutReceiver::start().await];
        let mut apps = Vec::new();
        for (app, receiver) in ["crm", "shop"].into_iter().zip(&receivers) {
            let out = ok(&gatehouse(
                d,
                &db,
                &[
                    "oidc",
                    "client",
                    "create",
                    app,
                    "--name",
                    app,
                    "--redirect-uri",
                    CB,
                    "--first-party",
                    "--backchannel-logout-uri",
                    &receiver.url,
                ],
            ));
            let secret = out
                .lines()
                .find_map(|l| l.strip_prefix("client_secret: "))
                .expect("the secret is printed")
                .trim()
                .to_owned();
            apps.push((app.to_owned(), secret));
        }
        let (mut child, port) = serve(d, &db);
        ready(port).await;
        let signing_in = Instant::now();
        let mut browsers = tokio::task::JoinSet::new();
        for t in 0..SIGN_IN_TASKS {
            let (base, apps) = (format!("http://127.0.0.1:{port}"), apps.clone());
            browsers.spawn(async move {
                let mut sids = Vec::new();
                for i in (0..ACCOUNTS)
                    .step_by(ACCOUNTS / SIGNED_IN)
                    .skip(t)
                    .step_by(SIGN_IN_TASKS)
                {
                    sids.push(sign_in(&base, &format!("u{i}@example.com"), PASSWORD, &apps).await);
                }
                sids
            });
        }
        let mut sids = std::collections::BTreeSet::new();
        while let Some(some) = browsers.join_next().await {
            sids.extend(some.unwrap());
        }
        eprintln!(
            "{db}: {SIGNED_IN} people signed in to both apps in {:?}",
            signing_in.elapsed()
        );
        // Each app's Shared Signals stream, asking for every event.
        for ((app, secret), receiver) in apps.iter().zip(&receivers) {
            let r = reqwest::Client::new()
                .post(format!("http://127.0.0.1:{port}/ssf/streams"))
                .basic_auth(app, Some(secret))
                .json(&serde_json::json!({
                    "delivery": {"method": "urn:ietf:rfc:8935", "endpoint_url": receiver.set_url},
                    "events_requested": SET_EVENTS,
                }))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), reqwest::StatusCode::CREATED);
        }
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(sids.len(), SIGNED_IN);
        let mut keys = Vec::new();
        for op in ["ann@ops.example", "bob@ops.example"] {
            keys.push(
                ok(&gatehouse(d, &db, &["operator", "create", "--email", op]))
                    .trim()
                    .to_owned(),
            );
        }
        let out = ok(&gatehouse(
            d,
            &db,
            &[
                "campaign",
                "create",
                "--name",
                "crash test",
                "--reason",
                "a test of resilience",
                "--accounts-file",
                "targets.txt",
                "--stages",
                "1",
                "--rate-per-minute",
                "10000000",
                "--bake-secs",
                "0",
                "--operator",
                "ann@ops.example",
            ],
        ));
        let id = out.split_whitespace().nth(2).unwrap().to_owned();
        let preview: serde_json::Value = serde_json::from_str(&ok(&gatehouse(
            d,
            &db,
            &["campaign", "preview", &id, "--operator", "ann@ops.example"],
        )))
        .unwrap();
        assert_eq!(preview["accounts"], ACCOUNTS);
        assert_eq!(preview["needs_second_approval"], true);
        for (i, app) in ["crm", "shop"].iter().enumerate() {
            assert_eq!(preview["app_sessions"][i]["client_id"], *app);
            assert_eq!(preview["app_sessions"][i]["sessions"], SIGNED_IN);
            assert_eq!(preview["security_events"][i]["client_id"], *app);
            assert_eq!(preview["security_events"][i]["events"], 3 * SIGNED_IN);
        }
        let snapshot = preview["snapshot"].as_str().unwrap();
        let approve = |key: &str| {
            gatehouse_cmd(
                d,
                &db,
                &[
                    "campaign",
                    "approve",
                    &id,
                    "--snapshot",
                    snapshot,
                    "--operator",
                    "bob@ops.example",
                ],
            )
            .env("GATEHOUSE_OPERATOR_KEY", key)
            .output()
            .unwrap()
        };
        // Naming bob is not enough: ann's key (or none) does not approve as bob.
        let o = approve(&keys[0]);
        assert!(!o.status.success());
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("approves only as themselves"),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let o = approve("");
        assert!(!o.status.success());
        assert!(String::from_utf8_lossy(&o.stderr).contains("GATEHOUSE_OPERATOR_KEY"));
        ok(&approve(&keys[1]));
        // The second app breaks as the campaign starts: 500 to everything.
        receivers[1].set_mode(Mode::Fail);
        ok(&gatehouse(
            d,
            &db,
            &["campaign", "start", &id, "--operator", "ann@ops.example"],
        ));

        // Kill and restart until the campaign is complete.
        let store = gatehouse_store::connect(&db, &Default::default())
            .await
            .unwrap();
        let cid: gatehouse_domain::CampaignId = id.parse().unwrap();
        let deadline = Instant::now() + Duration::from_secs(600);
        let mut kills = 0;
        loop {
            let c = store.campaign(cid).await.unwrap().unwrap();
            if c.state == gatehouse_domain::campaign::CampaignState::Completed {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "not complete after 10 minutes: {c:?}"
            );
            let (mut child, _) = serve(d, &db);
            // Kill at a random point of the run, whatever the machine's speed:
            // one run in four at a random moment of start-up or the first
            // batch; the others once the campaign has moved on by a random
            // number of accounts (a step's batch is one transaction of up to
            // 500, so the kill lands before, inside or after one), or after
            // five seconds on a slow machine.
            let started = Instant::now();
            let before = c.applied;
            if rng.next().is_multiple_of(4) {
                std::thread::sleep(Duration::from_millis(50 + rng.next() % 800));
            } else {
                let moved = 1 + (rng.next() % 1200) as i64;
                while started.elapsed() < Duration::from_secs(5) {
                    std::thread::sleep(Duration::from_millis(10));
                    let now = store.campaign(cid).await.unwrap().unwrap();
                    if now.applied - before >= moved
                        || now.state == gatehouse_domain::campaign::CampaignState::Completed
                    {
                        break;
                    }
                }
            }
            child.kill().unwrap();
            child.wait().unwrap();
            kills += 1;
        }
        eprintln!("{db}: completed after {kills} SIGKILLs");
        assert!(
            kills >= 8,
            "the campaign finished too fast to test anything ({kills} kills)"
        );

        let c = store.campaign(cid).await.unwrap().unwrap();
        assert_eq!(
            c.applied, ACCOUNTS as i64,
            "the applied counter moves with each reset"
        );
        let counts = store.campaign_target_counts(cid).await.unwrap();
        assert_eq!(
            counts,
            [(gatehouse_store::TargetState::Applied, ACCOUNTS as i64)]
        );
        let outbox: i64 = store
            .outbox_counts()
            .await
            .unwrap()
            .iter()
            .map(|(_, n)| n)
            .sum();
        assert_eq!(
            outbox, ACCOUNTS as i64,
            "exactly one forced-reset notice per account"
        );
        let resets = crate::support::count_audit_actions(store.as_ref(), "account.reset").await;
        assert_eq!(resets, ACCOUNTS, "one audit entry per reset");
        let budget = store
            .resets_since(gatehouse_domain::Timestamp::from_millis(0))
            .await
            .unwrap();
        assert_eq!(
            budget, ACCOUNTS as i64,
            "the budget counts what was applied"
        );
        // The deliveries: a last `serve` sends what the kills left (rows
        // whose sender died wait for their lease to run out). The second
        // app's receiver now hangs: the first app's deliveries all complete
        // regardless, and none of the second's can.
        let failed_during_campaign = receivers[1].refused();
        assert!(
            failed_during_campaign > 0,
            "the broken receiver was tried during the campaign"
        );
        receivers[1].set_mode(Mode::Hang);
        let per_app = (SIGNED_IN + 3 * SIGNED_IN) as i64;
        let (mut child, _) = serve(d, &db);
        let started = Instant::now();
        let sent_to = |counts: &[gatehouse_store::AppDeliveryCount], app: &str| -> (i64, i64) {
            let of_app = counts.iter().filter(|c| c.client_id == app);
            let sent = of_app
                .clone()
                .filter(|c| c.state == gatehouse_store::AppDeliveryState::Sent)
                .map(|c| c.count)
                .sum();
            (sent, of_app.map(|c| c.count).sum())
        };
        let deadline = started + Duration::from_secs(120);
        loop {
            let counts = store.app_delivery_counts().await.unwrap();
            let (sent, all) = sent_to(&counts, "crm");
            assert_eq!(
                all, per_app,
                "one logout row per (session, app), three SETs per (person, app)"
            );
            if sent == all {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the healthy app's deliveries not done while the other hangs: {counts:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let healthy_done = started.elapsed();
        // The hanging receiver is tried too (its rows may still be in their
        // backoff when the healthy app is done), and holds only its own queue.
        let deadline = Instant::now() + Duration::from_secs(60);
        while receivers[1].refused() == failed_during_campaign {
            assert!(
                Instant::now() < deadline,
                "the hanging receiver was never tried"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let counts = store.app_delivery_counts().await.unwrap();
        assert!(
            sent_to(&counts, "shop").0 < per_app,
            "the hanging receiver cannot have everything: {counts:?}"
        );
        // It recovers: everything it is owed arrives.
        receivers[1].set_mode(Mode::Ok);
        let recovered = Instant::now();
        let deadline = recovered + Duration::from_secs(180);
        loop {
            let counts = store.app_delivery_counts().await.unwrap();
            let (sent, all) = sent_to(&counts, "shop");
            assert_eq!(all, per_app);
            if sent == all {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the recovered app's deliveries not done: {counts:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        eprintln!(
            "{db}: the healthy app's last deliveries took {healthy_done:?} while the other \
             hung; the other's took {:?} once it recovered ({} pushes refused in all)",
            recovered.elapsed(),
            receivers[1].refused()
        );
        child.kill().unwrap();
        child.wait().unwrap();
        let mut jtis: std::collections::BTreeMap<
            (String, String),
            std::collections::BTreeSet<String>,
        > = Default::default();
        for (receiver, app) in receivers.iter().zip(["crm", "shop"]) {
            assert!(
                receiver.received().iter().all(|(aud, _, _)| aud == app)
                    && receiver.received_sets().iter().all(|(aud, ..)| aud == app),
                "each receiver gets only its own app's tokens"
            );
        }
        let received: Vec<_> = receivers.iter().flat_map(|r| r.received()).collect();
        for (aud, sid, jti) in &received {
            jtis.entry((aud.clone(), sid.clone()))
                .or_default()
                .insert(jti.clone());
        }
        let expected: std::collections::BTreeSet<(String, String)> = ["crm", "shop"]
            .iter()
            .flat_map(|a| sids.iter().map(move |s| (a.to_string(), s.clone())))
            .collect();
        assert_eq!(
            jtis.keys()
                .cloned()
                .collect::<std::collections::BTreeSet<_>>(),
            expected,
            "every (app, session) got a token, and no other"
        );
        assert!(
            jtis.values().all(|j| j.len() == 1),
            "a repeat carries the same jti: {jtis:?}"
        );
        eprintln!(
            "{db}: {} logout tokens received for {} (app, session) pairs",
            received.len(),
            expected.len()
        );
        // The SETs: exactly one per (app, event, subject), a repeat only with
        // the same jti.
        let mut subs = std::collections::BTreeSet::new();
        for sid in &sids {
            let s = store
                .session_by_id(sid.parse().unwrap())
                .await
                .unwrap()
                .expect("the session exists");
            subs.insert(s.account.to_string());
        }
        let mut set_jtis: std::collections::BTreeMap<
            (String, String, String),
            std::collections::BTreeSet<String>,
        > = Default::default();
        let sets: Vec<_> = receivers.iter().flat_map(|r| r.received_sets()).collect();
        for (aud, event, subject, jti) in &sets {
            set_jtis
                .entry((aud.clone(), event.clone(), subject.clone()))
                .or_default()
                .insert(jti.clone());
        }
        let mut expected_sets = std::collections::BTreeSet::new();
        for app in ["crm", "shop"] {
            for sid in &sids {
                expected_sets.insert((app.to_owned(), SET_EVENTS[0].to_owned(), sid.clone()));
            }
            for sub in &subs {
                for event in &SET_EVENTS[1..] {
                    expected_sets.insert((app.to_owned(), event.to_string(), sub.clone()));
                }
            }
        }
        assert_eq!(
            set_jtis
                .keys()
                .cloned()
                .collect::<std::collections::BTreeSet<_>>(),
            expected_sets,
            "every (app, event, subject) got a SET, and no other"
        );
        assert!(
            set_jtis.values().all(|j| j.len() == 1),
            "a repeated SET carries the same jti: {set_jtis:?}"
        );
        eprintln!(
            "{db}: {} SETs received for {} (app, event, subject) triples",
            sets.len(),
            expected_sets.len()
        );
        assert!(matches!(
            gatehouse_store::verify_audit_chain(store.as_ref())
                .await
                .unwrap(),
            gatehouse_store::ChainReport::Intact { .. }
        ));
        store.close().await;
    }
}
