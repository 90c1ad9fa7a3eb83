//! The mail server refusing every message (`451` to `DATA`) for a while, then
//! accepting again (issue 18, "Faults beyond a killed serve"): the notices wait
//! in the outbox, retried with backoff; `/healthz` says mail is failing (200,
//! `degraded`: the replica still serves); once the server is back every notice
//! goes out, each once, and `/healthz` is `ok` again. The same `serve`
//! throughout. On SQLite and PostgreSQL.

use std::time::{Duration, Instant};

use gatehouse_testkit::{SinkMode, SmtpSink};

use crate::support::serve::{Serve, eventually};
use crate::support::*;

const PEOPLE: usize = 5;
/// How long the mail server refuses: the minute, shortened. What it
/// shows — notices retried with growing delays, none given up (20 attempts
/// by default), all sent once the server is back — is what a minute shows
/// with the default 30-second retry base, here with a 100-ms base.
const REFUSAL: Duration = Duration::from_secs(8);

async fn refused_then_accepted(d: &std::path::Path, db: &str) {
    let users: String = (0..PEOPLE)
        .map(|i| format!("{{\"email\":\"p{i}@example.com\",\"password_hash\":\"{BCRYPT}\"}}\n"))
        .collect();
    std::fs::write(d.join("people.jsonl"), users).unwrap();
    let o = gatehouse(d, db, &["accounts", "import", "people.jsonl", "--quiet"]);
    assert!(o.status.success(), "{:?}", text(&o));

    let mut sink = SmtpSink::start(SinkMode::TempFail);
    let smtp = sink.url();
    let mut serve = Serve::start(
        d,
        db,
        &[
            ("GATEHOUSE_SMTP_URL", &smtp),
            ("GATEHOUSE_SMTP_TIMEOUT_SECONDS", "3"),
            ("GATEHOUSE_MAIL_RETRY_BASE_MS", "100"),
        ],
    )
    .await;
    let refusing = Instant::now();
    for i in 0..PEOPLE {
        let body = serde_json::json!({ "email": format!("p{i}@example.com") });
        let (status, body) = serve.post("/api/v1/recovery", None, &body).await.unwrap();
        assert_eq!(status, 202, "{body}");
    }
    eventually(
        Duration::from_secs(20),
        "/healthz to say mail is failing",
        async || {
            serve.get("/healthz").await.is_some_and(|(s, b)| {
                s == 200
                    && b["status"] == "degraded"
                    && b["problems"].as_array().is_some_and(|p| {
                        p.iter().any(|p| {
                            p["part"] == "smtp" && p["error"].as_str().unwrap_or("").contains("451")
                        })
                    })
            })
        },
    )
    .await;
    tokio::time::sleep(REFUSAL.saturating_sub(refusing.elapsed())).await;

    // Still waiting: none sent, none given up, retried more than once.
    let store = gatehouse_store::connect(db, &Default::default())
        .await
        .unwrap();
    use gatehouse_store::NoticeState::{Pending, Sending};
    let counts = store.outbox_counts().await.unwrap();
    assert!(
        counts.iter().all(|(s, _)| matches!(s, Pending | Sending))
            && counts.iter().map(|(_, n)| n).sum::<i64>() == PEOPLE as i64,
        "every notice waits (none sent, none given up): {counts:?}"
    );
    assert!(sink.messages().is_empty());
    let retries = serve
        .log()
        .matches("notice delivery failed; will retry")
        .count();
    assert!(
        retries >= 2 * PEOPLE,
        "retried with backoff ({retries} retries)"
    );

    // The server is back: everything goes out, once.
    sink.restart(SinkMode::Accept);
    eventually(
        Duration::from_secs(30),
        "every notice to be sent",
        async || {
            store.outbox_counts().await.unwrap()
                == [(gatehouse_store::NoticeState::Sent, PEOPLE as i64)]
        },
    )
    .await;
    let mails = sink.wait_for(PEOPLE, Duration::from_secs(5)).await;
    assert_eq!(mails.len(), PEOPLE, "no notice was sent twice");
    let to: std::collections::BTreeSet<_> = mails.iter().map(|m| m.envelope_to.as_str()).collect();
    assert_eq!(to.len(), PEOPLE);
    assert!(mails.iter().all(|m| m.code().is_some()));
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
    serve.assert_running();
    let log = serve.log();
    for said in [
        "the mail server refuses or does not answer",
        "the mail server accepts mail again",
    ] {
        assert!(log.contains(said), "the log does not say {said:?}:\n{log}");
    }
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notices_wait_out_a_refusing_mail_server() {
    let dir = tempfile::tempdir().unwrap();
    for db in databases(dir.path()).await {
        let _ = std::fs::remove_dir_all(dir.path().join("data"));
        refused_then_accepted(dir.path(), &db).await;
    }
}
