//! PostgreSQL restarted, then unreachable for longer than the pool waits for a
//! connection, while `serve` applies a campaign and delivers its forced-reset
//! notices to a real SMTP server (issue 18, "Faults beyond a killed serve").
//! The same `serve` process throughout: it must ride out both by itself.
//! Afterwards every account was reset exactly once (one audit entry, one budget
//! unit, one notice each) and every notice reached the mail server exactly
//! once; while the database was away, `/healthz` and requests said so (503 in
//! the error shape), and the log named it.
//!
//! On the test's own cluster (`support::pg`), which it stops and starts; runs
//! when the test run includes PostgreSQL (`scripts/with-postgres.sh`).

use std::time::{Duration, Instant};

use gatehouse_testkit::{SinkMode, SmtpSink};

use crate::support::pg::PgCluster;
use crate::support::serve::{Serve, eventually};
use crate::support::*;

const ACCOUNTS: usize = 600;
/// The outage. Longer than the pool's 10-second wait for a connection, so
/// that worker passes and requests fail rather than wait it out: what a
/// 30-second outage does, in 12 seconds.
const OUTAGE: Duration = Duration::from_secs(12);

fn ok(o: &std::process::Output) -> String {
    let (out, err) = text(o);
    assert!(o.status.success(), "{out}\n{err}");
    out
}

/// Imports the accounts, creates two operators and a campaign over every
/// account (approved by the second operator), started. Returns its id.
fn campaign(d: &std::path::Path, db: &str) -> String {
    let users: String = (0..ACCOUNTS)
        .map(|i| format!("{{\"email\":\"u{i}@example.com\",\"password_hash\":\"{BCRYPT}\"}}\n"))
        .collect();
    std::fs::write(d.join("users.jsonl"), users).unwrap();
    ok(&gatehouse(
        d,
        db,
        &["accounts", "import", "users.jsonl", "--quiet"],
    ));
    let list: String = (0..ACCOUNTS)
        .map(|i| format!("u{i}@example.com\n"))
        .collect();
    std::fs::write(d.join("targets.txt"), list).unwrap();
    let mut keys = Vec::new();
    for op in ["ann@ops.example", "bob@ops.example"] {
        keys.push(
            ok(&gatehouse(d, db, &["operator", "create", "--email", op]))
                .trim()
                .to_owned(),
        );
    }
    // 1,200 a minute: about 20 accounts a second, one transaction each pass,
    // so both outages land in the middle of the campaign.
    let out = ok(&gatehouse(
        d,
        db,
        &[
            "campaign",
            "create",
            "--name",
            "fault test",
            "--reason",
            "a test of resilience",
            "--accounts-file",
            "targets.txt",
            "--stages",
            "1",
            "--rate-per-minute",
            "1200",
            "--bake-secs",
            "0",
            "--operator",
            "ann@ops.example",
        ],
    ));
    let id = out.split_whitespace().nth(2).unwrap().to_owned();
    let preview: serde_json::Value = serde_json::from_str(&ok(&gatehouse(
        d,
        db,
        &["campaign", "preview", &id, "--operator", "ann@ops.example"],
    )))
    .unwrap();
    let snapshot = preview["snapshot"].as_str().unwrap().to_owned();
    ok(&gatehouse_cmd(
        d,
        db,
        &[
            "campaign",
            "approve",
            &id,
            "--snapshot",
            &snapshot,
            "--operator",
            "bob@ops.example",
        ],
    )
    .env("GATEHOUSE_OPERATOR_KEY", &keys[1])
    .output()
    .unwrap());
    ok(&gatehouse(
        d,
        db,
        &["campaign", "start", &id, "--operator", "ann@ops.example"],
    ));
    id
}

/// While the database is stopped: `/healthz` answers 503 naming it, and a
/// request that needs the database gets a 503 in the error shape.
async fn says_unavailable(serve: &Serve) {
    let (status, body) = serve.get("/healthz").await.expect("serve answers");
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "unhealthy", "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("database is unreachable") || message.contains("restarting"),
        "{body}"
    );
    let signup =
        serde_json::json!({"email": "new@example.com", "password": "correct horse battery staple"});
    let (status, body) = serve
        .post("/api/v1/accounts", None, &signup)
        .await
        .expect("serve answers");
    assert_eq!(status, 503, "{body}");
    let code = body["error"]["code"].as_str().unwrap_or_default();
    // "timeout" if the request's own time limit ends it first.
    assert!(code == "unavailable" || code == "timeout", "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarted_and_down_during_a_campaign_and_its_delivery() {
    let Some(pg) = PgCluster::start() else {
        return;
    };
    let db = pg.url();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_owned();
    let id = {
        let (d, db) = (d.clone(), db.clone());
        tokio::task::spawn_blocking(move || campaign(&d, &db))
            .await
            .unwrap()
    };
    let sink = SmtpSink::start(SinkMode::Accept);
    let smtp = sink.url();
    let mut serve = Serve::start(
        &d,
        &db,
        &[
            ("GATEHOUSE_SMTP_URL", &smtp),
            ("GATEHOUSE_BUDGET_HOURLY_FLOOR", "1000000"),
            ("GATEHOUSE_BUDGET_DAILY_FLOOR", "1000000"),
            ("GATEHOUSE_MAIL_RETRY_BASE_MS", "200"),
        ],
    )
    .await;
    let store = gatehouse_store::connect(&db, &Default::default())
        .await
        .unwrap();
    let cid: gatehouse_domain::CampaignId = id.parse().unwrap();
    let applied = async || store.campaign(cid).await.unwrap().unwrap().applied;

    // 1. A restart (fast shutdown: sessions ended, transactions rolled back).
    eventually(
        Duration::from_secs(60),
        "the campaign to start",
        async || applied().await >= 60,
    )
    .await;
    pg.stop();
    says_unavailable(&serve).await;
    pg.start_again();
    let before = applied().await;
    assert!(
        before < ACCOUNTS as i64,
        "the campaign ended before the outage"
    );
    eventually(
        Duration::from_secs(60),
        "the campaign to go on after the restart",
        async || applied().await >= before + 60,
    )
    .await;
    serve.assert_running();

    // 2. Down for longer than the pool waits.
    pg.stop();
    let down = Instant::now();
    says_unavailable(&serve).await;
    tokio::time::sleep(OUTAGE.saturating_sub(down.elapsed())).await;
    serve.assert_running();
    pg.start_again();
    assert!(
        applied().await < ACCOUNTS as i64,
        "the campaign ended before the outage"
    );

    // It recovers by itself: the campaign completes, every notice goes out.
    eventually(
        Duration::from_secs(120),
        "the campaign to complete and its notices to be sent",
        async || {
            let c = store.campaign(cid).await.unwrap().unwrap();
            let counts = store.outbox_counts().await.unwrap();
            c.state == gatehouse_domain::campaign::CampaignState::Completed
                && counts
                    .iter()
                    .all(|(s, _)| *s == gatehouse_store::NoticeState::Sent)
                && counts.iter().map(|(_, n)| n).sum::<i64>() == ACCOUNTS as i64
        },
    )
    .await;
    serve.assert_running();
    eventually(
        Duration::from_secs(10),
        "/healthz to be ok again",
        async || {
            serve
                .get("/healthz")
                .await
                .is_some_and(|(s, b)| s == 200 && b["status"] == "ok")
        },
    )
    .await;

    // Nothing lost, nothing doubled.
    let c = store.campaign(cid).await.unwrap().unwrap();
    assert_eq!(c.applied, ACCOUNTS as i64);
    assert_eq!(
        store.campaign_target_counts(cid).await.unwrap(),
        [(gatehouse_store::TargetState::Applied, ACCOUNTS as i64)]
    );
    let resets = crate::support::count_audit_actions(store.as_ref(), "account.reset").await;
    assert_eq!(resets, ACCOUNTS, "one audit entry per reset");
    assert_eq!(
        store
            .resets_since(gatehouse_domain::Timestamp::from_millis(0))
            .await
            .unwrap(),
        ACCOUNTS as i64,
        "the budget counts what was applied"
    );
    let mails = sink.wait_for(ACCOUNTS, Duration::from_secs(10)).await;
    let recipients: std::collections::BTreeSet<_> =
        mails.iter().map(|m| m.envelope_to.clone()).collect();
    assert_eq!(recipients.len(), ACCOUNTS, "every account got its notice");
    assert_eq!(mails.len(), ACCOUNTS, "and no notice was sent twice");
    assert!(matches!(
        gatehouse_store::verify_audit_chain(store.as_ref())
            .await
            .unwrap(),
        gatehouse_store::ChainReport::Intact { .. }
    ));

    // The log said what happened, and that it was over.
    let log = serve.log();
    eprintln!(
        "postgres faults: {} failed campaign passes, {} failed delivery rounds, {} sent notices recorded late, {} health checks failed",
        log.matches("campaign worker pass failed").count(),
        log.matches("notice delivery failed").count(),
        log.matches("recording notices the mail server accepted failed")
            .count(),
        log.matches("health check: the database").count(),
    );
    for said in [
        "health check: the database",
        "campaign worker pass failed",
        "campaign worker recovered",
    ] {
        assert!(log.contains(said), "the log does not say {said:?}:\n{log}");
    }
    store.close().await;
}
