//! Two `gatehouse serve` processes on one PostgreSQL apply the same campaign at
//! once and share one reset budget: together they reset exactly as many accounts
//! as the budget allows, never more, and the campaign pauses saying why.

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
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    Serve(
        Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .arg("serve")
            .env_remove("GATEHOUSE_CONFIG")
            .env("GATEHOUSE_DATA_DIR", dir.join("data"))
            .env("GATEHOUSE_DATABASE_URL", db)
            .env("GATEHOUSE_LISTEN", format!("127.0.0.1:{port}"))
            .env("GATEHOUSE_PUBLIC_URL", format!("http://127.0.0.1:{port}"))
            .env("GATEHOUSE_SMTP_URL", "smtp://127.0.0.1:9")
            .env("GATEHOUSE_DETECTION", "false")
            .env("GATEHOUSE_BUDGET_HOURLY_FLOOR", BUDGET.to_string())
            .env("GATEHOUSE_BUDGET_DAILY_FLOOR", BUDGET.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start gatehouse serve"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_one_budget() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let Some(db) = databases(d)
        .await
        .into_iter()
        .find(|u| u.starts_with("postgres"))
    else {
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
