//! `gatehouse serve` killed (SIGKILL) while a notice is in flight to a real SMTP
//! server: after a restart the notice is delivered, once, with the same
//! `Message-ID`. On SQLite and PostgreSQL.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use gatehouse_store::testing::fresh_pg_database;
use gatehouse_testkit::{SinkMode, SmtpSink};

struct Serve {
    child: Child,
}

impl Serve {
    fn start(dir: &Path, db: &str, sink: &SmtpSink, port: u16) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .arg("serve")
            .env_remove("GATEHOUSE_CONFIG")
            .env("GATEHOUSE_DATA_DIR", dir.join("data"))
            .env("GATEHOUSE_DATABASE_URL", db)
            .env("GATEHOUSE_LISTEN", format!("127.0.0.1:{port}"))
            .env("GATEHOUSE_PUBLIC_URL", format!("http://127.0.0.1:{port}"))
            .env("GATEHOUSE_SMTP_URL", sink.url())
            // A short timeout keeps the lease (2 × timeout + 10 s) short.
            .env("GATEHOUSE_SMTP_TIMEOUT_SECONDS", "3")
            .env("GATEHOUSE_MAIL_RETRY_BASE_MS", "100")
            .env("GATEHOUSE_ARGON2_MEMORY_KIB", "1024")
            .env("GATEHOUSE_ARGON2_ITERATIONS", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start gatehouse serve");
        let serve = Self { child };
        wait_until(Duration::from_secs(60), "serve to answer /healthz", || {
            http(port, "GET", "/healthz", "").is_some_and(|(s, _)| s == 200)
        });
        serve
    }

    /// SIGKILL: no shutdown code runs, as in a crash or an OOM kill.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal HTTP/1.1 exchange: (status, body).
fn http(port: u16, method: &str, path: &str, json: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
        json.len()
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let status = out.split(' ').nth(1)?.parse().ok()?;
    let body = out.split_once("\r\n\r\n")?.1.to_owned();
    Some((status, body))
}

fn outbox(dir: &Path, db: &str) -> Vec<serde_json::Value> {
    let o = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["outbox", "list", "--json"])
        .env_remove("GATEHOUSE_CONFIG")
        .env("GATEHOUSE_DATA_DIR", dir.join("data"))
        .env("GATEHOUSE_DATABASE_URL", db)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn wait_until(timeout: Duration, what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !ready() {
        assert!(Instant::now() < deadline, "waited {timeout:?} for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn kill_and_restart(dir: &Path, db: &str) {
    // The sink waits 20 s before answering DATA: the notice stays in flight.
    let mut sink = SmtpSink::start(SinkMode::Slow(20));
    let port = free_port();
    let serve = Serve::start(dir, db, &sink, port);
    let body = r#"{"email":"kim@example.com","password":"correct horse battery staple"}"#;
    assert_eq!(
        http(port, "POST", "/api/v1/accounts", body).map(|r| r.0),
        Some(201)
    );
    assert_eq!(
        http(
            port,
            "POST",
            "/api/v1/recovery",
            r#"{"email":"kim@example.com"}"#
        )
        .map(|r| r.0),
        Some(202)
    );
    wait_until(
        Duration::from_secs(30),
        "the notice to be in flight",
        || {
            outbox(dir, db).iter().any(|n| {
                n["state"]
                    .as_str()
                    .is_some_and(|s| s.eq_ignore_ascii_case("sending"))
            })
        },
    );
    serve.kill();
    assert!(
        sink.messages().is_empty(),
        "nothing was accepted before the kill"
    );

    // The mail server recovers; so does Gatehouse, on the same database.
    sink.restart(SinkMode::Accept);
    let serve = Serve::start(dir, db, &sink, port);
    // The dead process's lease (2 × 3 s + 10 s) must run out first.
    wait_until(Duration::from_secs(60), "the notice to be sent", || {
        outbox(dir, db).iter().any(|n| {
            n["state"]
                .as_str()
                .is_some_and(|s| s.eq_ignore_ascii_case("sent"))
        })
    });
    let notices = outbox(dir, db);
    assert_eq!(notices.len(), 1, "{notices:?}");
    let mails = sink.messages();
    assert_eq!(mails.len(), 1, "delivered once");
    assert_eq!(mails[0].envelope_to, "kim@example.com");
    assert_eq!(
        format!("<{}>", mails[0].message_id),
        notices[0]["message_id"].as_str().unwrap(),
        "the same Message-ID the notice was given at enqueue"
    );
    assert!(mails[0].code().is_some());
    drop(serve);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_delivery_then_restarted_loses_nothing_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("data/gatehouse.db").display());
    tokio::task::spawn_blocking(move || kill_and_restart(dir.path(), &db))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_delivery_then_restarted_loses_nothing_postgres() {
    let Some(db) = fresh_pg_database().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    tokio::task::spawn_blocking(move || kill_and_restart(dir.path(), &db))
        .await
        .unwrap();
}
