//! The test harness: spawns the real server (router, middleware, listener) on
//! port 0 over a fresh database, talks to it over HTTP, and shuts it down on drop.

use std::sync::Arc;

use gatehouse_domain::{Clock, OsEntropy, SystemClock, Timestamp};
use gatehouse_server::{App, Config};
pub use gatehouse_store::testing::{Engine, TestDb, fresh};
use reqwest::StatusCode;
use serde_json::Value;

pub struct TestApp {
    pub base: String,
    /// A client with a cookie jar and no redirect following, like a browser tab.
    pub http: reqwest::Client,
    pub app: Arc<App>,
    pub engine: &'static str,
    /// The server's clock: the system's, moved forward by [`TestClock::advance`].
    pub clock: Arc<TestClock>,
    db_url: String,
    env: Vec<(String, String)>,
    _db: Option<TestDb>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

/// The bearer token every test server takes for `/metrics`.
pub const METRICS_TOKEN: &str = "test-metrics-token-0123456789abcdef0123456789";

impl TestApp {
    /// A server over a fresh database. `None` only when PostgreSQL is knowingly skipped.
    pub async fn spawn(engine: Engine, extra_env: &[(&str, &str)]) -> Option<Self> {
        let env: Vec<(String, String)> = extra_env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Self::spawn_env(engine, env).await
    }

    pub async fn spawn_env(engine: Engine, env: Vec<(String, String)>) -> Option<Self> {
        let db = fresh(engine).await?;
        let url = db.url.clone();
        Some(Self::start(url, env, Some(db)).await)
    }

    /// A second server over the same database with more settings.
    pub async fn restart_with(&self, extra: &[(&str, &str)]) -> Self {
        let mut env = self.env.clone();
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Self::start(self.db_url.clone(), env, None).await
    }

    async fn start(db_url: String, env: Vec<(String, String)>, db: Option<TestDb>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        // Cheap hashing keeps the suite fast; one test checks the real defaults.
        // Server key and maildir go to a per-test directory, never the working tree.
        let data_dir = std::env::temp_dir().join(format!("gatehouse-test-{}", uuid_like()));
        std::fs::create_dir_all(&data_dir).unwrap();
        let metrics_token = data_dir.join("metrics.token");
        std::fs::write(&metrics_token, format!("{METRICS_TOKEN}\n")).unwrap();
        let mut all = vec![
            (
                "GATEHOUSE_METRICS_TOKEN_FILE".to_string(),
                metrics_token.display().to_string(),
            ),
            (
                "GATEHOUSE_DATA_DIR".to_string(),
                data_dir.display().to_string(),
            ),
            ("GATEHOUSE_DATABASE_URL".to_string(), db_url.clone()),
            ("GATEHOUSE_PUBLIC_URL".to_string(), base.clone()),
            (
                "GATEHOUSE_ARGON2_MEMORY_KIB".to_string(),
                "1024".to_string(),
            ),
            ("GATEHOUSE_ARGON2_ITERATIONS".to_string(), "1".to_string()),
            // Failed sign-ins answer at once here; one test checks the floor.
            (
                "GATEHOUSE_LOGIN_FAILURE_FLOOR_MS".to_string(),
                "0".to_string(),
            ),
        ];
        all.extend(env.iter().cloned());
        let config = Config::load_from(None, all).expect("test config");
        let store = match &db {
            Some(db) => db.store.clone(),
            None => gatehouse_store::connect(&db_url, &Default::default())
                .await
                .unwrap(),
        };
        let engine = store.engine();
        let clock = Arc::new(TestClock::default());
        let app = Arc::new(App::new(config, store, clock.clone(), Arc::new(OsEntropy)).unwrap());
        let router = gatehouse_server::http::router(app.clone()).unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            gatehouse_server::http::serve(listener, router, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("gatehouse-tests")
            .build()
            .unwrap();
        Self {
            base,
            http,
            app,
            engine,
            clock,
            db_url,
            env,
            _db: db,
            shutdown: Some(tx),
        }
    }

    /// Starts the notice delivery worker `serve` runs, on the configured
    /// transport (SMTP when `GATEHOUSE_SMTP_URL` is set); stopped on drop.
    pub fn start_delivery(&self) -> Worker {
        let mailer = gatehouse_server::mail::Mailer::from_config(&self.app.config).unwrap();
        Worker(gatehouse_server::mail::spawn_delivery(
            self.app.clone(),
            Arc::new(mailer),
        ))
    }

    /// Waits until the outbox holds `n` notices in `state` (e.g. "sent").
    pub async fn wait_for_notices(&self, state: &str, n: usize) -> Vec<gatehouse_store::Notice> {
        let wanted: gatehouse_store::NoticeState = state.parse().unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let notices = self.app.outbox(Some(wanted), 1000).await.unwrap();
            if notices.len() >= n {
                return notices;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "expected {n} {state} notices within 30 s, found {}: {:?}",
                notices.len(),
                self.app.outbox(None, 1000).await.unwrap()
            );
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn post_json_auth(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn put_json_auth(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.http
            .put(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Posts a form from this client (its cookie jar), as a browser would.
    pub async fn post_form<F: serde::Serialize + ?Sized>(
        &self,
        path: &str,
        form: &F,
    ) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// A page's HTML, fetched with this client's cookies.
    /// `/metrics` as Prometheus scrapes it, with the test servers' token.
    pub async fn metrics(&self) -> String {
        let r = self
            .http
            .get(self.url("/metrics"))
            .bearer_auth(METRICS_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        r.text().await.unwrap()
    }

    pub async fn page(&self, path: &str) -> String {
        self.http
            .get(self.url(path))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// An unauthenticated GET answered with JSON.
    pub async fn get_json(&self, path: &str) -> Value {
        self.http
            .get(self.url(path))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn delete_auth(&self, path: &str, token: &str) -> reqwest::Response {
        self.http
            .delete(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn get_auth(&self, path: &str, token: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn sign_up(&self, email: &str, password: &str) {
        let r = self
            .post_json(
                "/api/v1/accounts",
                &serde_json::json!({"email": email, "password": password}),
            )
            .await;
        assert_eq!(
            r.status(),
            StatusCode::CREATED,
            "sign-up of {email}: {}",
            r.text().await.unwrap()
        );
    }

    /// `n` accounts `p0@example.com`… that sign in with `password`, imported with
    /// a real hash (no sign-up limit, no argon2 per account).
    pub async fn people(&self, n: usize, password: &str) -> Vec<String> {
        let hash = self
            .app
            .hasher
            .hash_now(password, &gatehouse_domain::OsEntropy)
            .unwrap();
        let emails: Vec<String> = (0..n).map(|i| format!("p{i}@example.com")).collect();
        let lines: String = emails
            .iter()
            .map(|e| {
                format!(
                    "{}\n",
                    serde_json::json!({"email": e, "password_hash": hash})
                )
            })
            .collect();
        self.app
            .import_accounts(lines.as_bytes(), 100, |_| {})
            .await
            .unwrap();
        emails
    }

    /// Logs in from a separate client (another device) and returns the bearer token.
    pub async fn log_in(&self, email: &str, password: &str) -> String {
        let other = reqwest::Client::builder()
            .user_agent("gatehouse-tests")
            .build()
            .unwrap();
        let r = other
            .post(self.url("/api/v1/sessions"))
            .json(&serde_json::json!({"email": email, "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED, "login of {email}");
        r.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// The password hash stored for an address.
    pub async fn stored_hash(&self, email_key: &str) -> String {
        self.app
            .raw_store()
            .login_record(email_key)
            .await
            .unwrap()
            .expect("account exists")
            .hash
    }

    pub async fn audit_actions(&self) -> Vec<String> {
        self.app
            .raw_store()
            .audit_entries(0, 10_000)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// The delivery worker of a test server; aborted on drop, like a process dying.
pub struct Worker(tokio::task::JoinHandle<()>);

impl Drop for Worker {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The system clock plus an offset tests move forward (expiry, leases).
#[derive(Debug, Default)]
pub struct TestClock {
    offset_ms: std::sync::atomic::AtomicI64,
}

impl TestClock {
    pub fn advance(&self, by: std::time::Duration) {
        self.offset_ms
            .fetch_add(by.as_millis() as i64, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now(&self) -> Timestamp {
        let offset = self.offset_ms.load(std::sync::atomic::Ordering::SeqCst);
        Timestamp::from_millis(SystemClock.now().as_millis() + offset)
    }
}

/// Asserts an error response: status and the `{"error": {"code", "message"}}` shape.
pub async fn assert_error(r: reqwest::Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(r.status(), status, "expected {status} {code}");
    let body: Value = r.json().await.expect("error body is JSON");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    body
}

/// Runs each named `async fn(Engine)` on SQLite and on PostgreSQL, as two tests
/// `<name>::sqlite` and `<name>::postgres`. The one both-engines helper: every
/// test file uses it or [`both_engines!`], which is built on the same shape.
macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::support::Engine::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::support::Engine::Postgres).await;
            }
        }
    )*};
}

/// Runs a test body on SQLite and PostgreSQL as two named tests; an optional
/// closure adds `GATEHOUSE_*` settings.
macro_rules! both_engines {
    ($name:ident, $body:expr) => {
        both_engines!($name, $body, |_c: &mut Vec<(String, String)>| {});
    };
    ($name:ident, $body:expr, $env:expr) => {
        mod $name {
            use super::*;
            async fn run(engine: Engine) {
                let mut env: Vec<(String, String)> = Vec::new();
                ($env)(&mut env);
                let Some(t) = TestApp::spawn_env(engine, env).await else {
                    return;
                };
                ($body)(t).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                run(Engine::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                run(Engine::Postgres).await;
            }
        }
    };
}

/// A directory name no earlier run used: process ids repeat across runs and the
/// directories stay behind, so an old run's files (a breach index) once leaked
/// into a new test. Random bits make each name fresh.
fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let mut r = [0u8; 8];
    gatehouse_domain::Entropy::fill(&OsEntropy, &mut r);
    format!(
        "{}-{}-{:016x}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        u64::from_le_bytes(r)
    )
}
