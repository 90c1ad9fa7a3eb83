//! Two `gatehouse serve` processes on one PostgreSQL apply the same campaign at
//! once and share one reset budget: together they reset exactly as many accounts
//! as the budget allows, never more, the breaker trips in the transaction of the
//! reset that used the budget up, and the campaign pauses saying why. And two
//! replicas starting together on a fresh database both come up, 30 times in a
//! row (every start-up write is safe to race).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

const ACCOUNTS: usize = 400;
const BUDGET: i64 = 120;

struct Serve(Child);
impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn replica(dir: &std::path::Path, db: &str) -> Serve {
    replica_on(dir, db, free_port(), Stdio::null())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn replica_on(dir: &std::path::Path, db: &str, port: u16, stderr: Stdio) -> Serve {
    replica_with(dir, db, port, stderr, &[("GATEHOUSE_DETECTION", "false")])
}

fn replica_with(
    dir: &std::path::Path,
    db: &str,
    port: u16,
    stderr: Stdio,
    env: &[(&str, &str)],
) -> Serve {
    Serve(
        Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .arg("serve")
            .env_remove("GATEHOUSE_CONFIG")
            .env("GATEHOUSE_DATA_DIR", dir.join("data"))
            .env("GATEHOUSE_DATABASE_URL", db)
            .env("GATEHOUSE_LISTEN", format!("127.0.0.1:{port}"))
            .env("GATEHOUSE_PUBLIC_URL", format!("http://127.0.0.1:{port}"))
            .env("GATEHOUSE_SMTP_URL", "smtp://127.0.0.1:9")
            .env("GATEHOUSE_BUDGET_HOURLY_FLOOR", BUDGET.to_string())
            .env("GATEHOUSE_BUDGET_DAILY_FLOOR", BUDGET.to_string())
            // The caller's settings last: they override the defaults above.
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("start gatehouse serve"),
    )
}

/// A fresh PostgreSQL database, when the run has a server.
async fn postgres(d: &std::path::Path) -> Option<String> {
    databases(d)
        .await
        .into_iter()
        .find(|u| u.starts_with("postgres"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_one_budget() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let Some(db) = postgres(d).await else {
        eprintln!("no PostgreSQL for this run: skipped");
        return;
    };
    let users: String = (0..ACCOUNTS)
        .map(|i| format!("{{\"email\":\"u{i}@example.com\",\"password_hash\":\"{BCRYPT}\"}}\n"))
        .collect();
    std::fs::write(d.join("users.jsonl"), users).unwrap();
    let run = |args: &[&str]| {
        let o = gatehouse_cmd(d, &db, args)
            // Small enough to be approved by policy: the budget, not a second
            // operator, is what limits it.
            .env("GATEHOUSE_APPROVAL_MAX_ACCOUNTS", "100000")
            .env("GATEHOUSE_APPROVAL_MAX_MULTIPLE_OF_NORMAL", "100000")
            .env("GATEHOUSE_APPROVAL_MAX_SHARE_PERCENT", "100")
            .output()
            .unwrap();
        let (out, err) = text(&o);
        assert!(o.status.success(), "{args:?}: {out}\n{err}");
        out
    };
    run(&["accounts", "import", "users.jsonl", "--quiet"]);
    run(&["operator", "create", "--email", "ann@ops.example"]);
    let list: String = (0..ACCOUNTS)
        .map(|i| format!("u{i}@example.com\n"))
        .collect();
    std::fs::write(d.join("targets.txt"), list).unwrap();
    let out = run(&[
        "campaign",
        "create",
        "--name",
        "two replicas",
        "--reason",
        "test",
        "--accounts-file",
        "targets.txt",
        "--stages",
        "1",
        "--rate-per-minute",
        "1000000",
        "--bake-secs",
        "0",
        "--operator",
        "ann@ops.example",
    ]);
    let id = out.split_whitespace().nth(2).unwrap().to_owned();
    run(&["campaign", "preview", &id, "--operator", "ann@ops.example"]);

    let a = replica(d, &db);
    let b = replica(d, &db);
    std::thread::sleep(Duration::from_secs(2));
    run(&["campaign", "start", &id, "--operator", "ann@ops.example"]);
    let store = gatehouse_store::connect(&db, &Default::default())
        .await
        .unwrap();
    let cid: gatehouse_domain::CampaignId = id.parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let c = loop {
        let c = store.campaign(cid).await.unwrap().unwrap();
        if c.state == gatehouse_domain::campaign::CampaignState::Paused {
            break c;
        }
        assert!(Instant::now() < deadline, "never paused: {c:?}");
        std::thread::sleep(Duration::from_millis(100));
    };
    // Let both replicas try again for a while: nothing more may pass.
    std::thread::sleep(Duration::from_secs(3));
    drop((a, b));
    let after = store.campaign(cid).await.unwrap().unwrap();
    assert_eq!(
        after.applied, BUDGET,
        "exactly the budget, with two replicas applying"
    );
    assert_eq!(c.applied, BUDGET);
    assert!(
        c.paused_reason
            .as_deref()
            .unwrap_or("")
            .contains("reset budget used up"),
        "{c:?}"
    );
    let since = gatehouse_domain::Timestamp::from_millis(0);
    assert_eq!(store.resets_since(since).await.unwrap(), BUDGET);
    store.close().await;
}

/// Two replicas with detection on and an enforced stuffing rule: both monitors
/// raise the same findings, both campaign workers apply the automatic
/// campaigns, and the reset that uses up the budget trips the breaker in its
/// own transaction — its time is that reset's to the millisecond, the operator
/// alert is queued with it, and nothing passes after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_trip_the_breaker_in_the_exhausting_transaction() {
    const SMALL_BUDGET: i64 = 8;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let Some(db) = postgres(d).await else {
        eprintln!("no PostgreSQL for this run: skipped");
        return;
    };
    let run = |args: &[&str]| {
        let o = gatehouse_cmd(d, &db, args).output().unwrap();
        let (out, err) = text(&o);
        assert!(o.status.success(), "{args:?}: {out}\n{err}");
        out
    };
    let users: String = (0..300)
        .map(|i| format!("{{\"email\":\"u{i}@example.com\",\"password_hash\":\"{BCRYPT}\"}}\n"))
        .collect();
    std::fs::write(d.join("users.jsonl"), users).unwrap();
    run(&["accounts", "import", "users.jsonl", "--quiet"]);
    run(&["operator", "create", "--email", "ann@ops.example"]);
    // A stuffing run in the last quarter hour: a combo list of 200 addresses
    // that do not exist from one /24, then 30 accounts taken over from it —
    // more than the budget allows.
    let now = gatehouse_domain::Timestamp::from_millis(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64,
    );
    let at = |secs: u64| now.minus(Duration::from_secs(secs)).to_rfc3339();
    let mut events: Vec<String> = (0..200)
        .map(|i| {
            format!(
                r#"{{"time":"{}","account":"combo{i}@example.net","ip":"203.0.113.{}","outcome":"unknown_account"}}"#,
                at(900 - i),
                i % 250 + 1
            )
        })
        .collect();
    for i in 0..30 {
        events.push(format!(
            r#"{{"time":"{}","account":"u{i}@example.com","ip":"203.0.113.200","outcome":"success"}}"#,
            at(600 - i)
        ));
    }
    std::fs::write(d.join("attack.jsonl"), events.join("\n") + "\n").unwrap();
    std::fs::write(
        d.join("enforce.toml"),
        "[[rule]]\nid = \"credential-stuffing\"\ndetector = \"credential_stuffing\"\nmode = \"enforce\"\naction = \"force_reset\"\nmax_findings_per_day = 1000\n",
    )
    .unwrap();
    run(&["rules", "apply", "enforce.toml"]);
    run(&["events", "import", "attack.jsonl", "--quiet"]);

    let budget = SMALL_BUDGET.to_string();
    let env = [
        ("GATEHOUSE_BUDGET_HOURLY_FLOOR", budget.as_str()),
        ("GATEHOUSE_BUDGET_DAILY_FLOOR", budget.as_str()),
        // Approved by policy: the budget, not a second operator, is the limit.
        ("GATEHOUSE_APPROVAL_MAX_ACCOUNTS", "100000"),
        ("GATEHOUSE_APPROVAL_MAX_MULTIPLE_OF_NORMAL", "100000"),
        ("GATEHOUSE_APPROVAL_MAX_SHARE_PERCENT", "100"),
    ];
    let a = replica_with(d, &db, free_port(), Stdio::null(), &env);
    let b = replica_with(d, &db, free_port(), Stdio::null(), &env);
    let store = gatehouse_store::connect(&db, &Default::default())
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !store.breaker().await.unwrap().open {
        if Instant::now() >= deadline {
            let resets = store
                .resets_since(gatehouse_domain::Timestamp::from_millis(0))
                .await
                .unwrap();
            let campaigns = store.campaigns(None, 100).await.unwrap();
            panic!("the breaker never tripped: {resets} resets; {campaigns:#?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Let both replicas try again for a while: nothing more may pass.
    tokio::time::sleep(Duration::from_secs(3)).await;
    drop((a, b));

    let since = gatehouse_domain::Timestamp::from_millis(0);
    assert_eq!(store.resets_since(since).await.unwrap(), SMALL_BUDGET);
    let breaker = store.breaker().await.unwrap();
    assert!(
        breaker
            .reason
            .as_deref()
            .unwrap_or("")
            .contains("reset budget used up"),
        "{breaker:?}"
    );
    let mut last_applied = 0;
    for c in store.campaigns(None, 1000).await.unwrap() {
        assert!(c.automatic, "{c:?}");
        let mut after = -1;
        loop {
            let page = store
                .campaign_targets(
                    c.id,
                    Some(gatehouse_store::TargetState::Applied),
                    after,
                    1000,
                )
                .await
                .unwrap();
            let Some(last) = page.last() else { break };
            after = last.seq;
            for t in &page {
                last_applied = last_applied.max(t.applied_at.unwrap().as_millis());
            }
        }
    }
    assert_eq!(
        breaker.changed_at.as_millis(),
        last_applied,
        "tripped in the exhausting reset's transaction: {breaker:?}"
    );
    let notices = store
        .notices(&gatehouse_store::NoticeFilter {
            state: None,
            account: None,
            limit: 1000,
        })
        .await
        .unwrap();
    let alerts = notices
        .iter()
        .filter(|n| n.kind.as_str() == "breaker_tripped")
        .count();
    assert_eq!(alerts, 1, "one alert, for ann, queued with the trip");
    store.close().await;
}

/// Whether `GET /healthz` on `port` answers 200 (plain HTTP/1.0 over a socket).
fn healthy(port: u16) -> bool {
    use std::io::{Read as _, Write as _};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    if s.write_all(b"GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    s.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.") && &head[9..12] == b"200"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_starting_together_on_a_fresh_database_both_come_up_30_times() {
    if gatehouse_store::testing::fresh_pg_database()
        .await
        .is_none()
    {
        eprintln!("no PostgreSQL for this run: skipped");
        return;
    }
    for round in 0..30 {
        let db = gatehouse_store::testing::fresh_pg_database()
            .await
            .expect("PostgreSQL");
        // One data directory, as replicas share their server key file.
        let dir = tempfile::tempdir().unwrap();
        let ports = [free_port(), free_port()];
        let mut replicas: Vec<Serve> = ports
            .iter()
            .map(|&p| replica_on(dir.path(), &db, p, Stdio::piped()))
            .collect();
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut up = [false, false];
        while up != [true, true] {
            for (i, r) in replicas.iter_mut().enumerate() {
                if let Some(status) = r.0.try_wait().unwrap() {
                    let mut err = String::new();
                    use std::io::Read as _;
                    r.0.stderr.take().unwrap().read_to_string(&mut err).unwrap();
                    panic!("round {round}: replica {i} exited ({status}) while starting: {err}");
                }
                if !up[i] {
                    up[i] = healthy(ports[i]);
                }
            }
            assert!(Instant::now() < deadline, "round {round}: not up: {up:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        drop(replicas);
        // The shipped rules were installed once: one version each.
        let store = gatehouse_store::connect(&db, &Default::default())
            .await
            .unwrap();
        let rules = store.rules().await.unwrap();
        assert_eq!(rules.len(), 6, "round {round}");
        assert!(
            rules.iter().all(|r| r.version == 1),
            "round {round}: {rules:?}"
        );
        store.close().await;
    }
}
