//! `gatehouse serve` as a child process for the fault tests: its log kept in
//! a file to check what it told the operator, its port, whether it is still
//! running (a fault must not end it), and an HTTP client.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Serve {
    child: Child,
    pub port: u16,
    log: PathBuf,
}

impl Serve {
    /// Starts `serve` with its data in `dir/data` on `db`, cheap password
    /// hashing, and `env` on top; waits until `/healthz` answers 200.
    pub async fn start(dir: &Path, db: &str, env: &[(&str, &str)]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = dir.join(format!("serve-{port}.log"));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
        cmd.arg("serve")
            .env_remove("GATEHOUSE_CONFIG")
            .env_remove("RUST_LOG")
            .env("GATEHOUSE_DATA_DIR", dir.join("data"))
            .env("GATEHOUSE_DATABASE_URL", db)
            .env("GATEHOUSE_LISTEN", format!("127.0.0.1:{port}"))
            .env("GATEHOUSE_PUBLIC_URL", format!("http://127.0.0.1:{port}"))
            .env("GATEHOUSE_ARGON2_MEMORY_KIB", "1024")
            .env("GATEHOUSE_ARGON2_ITERATIONS", "1")
            .env("GATEHOUSE_DETECTION", "false");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start gatehouse serve");
        let serve = Self { child, port, log };
        let deadline = Instant::now() + Duration::from_secs(60);
        while serve.get("/healthz").await.map(|r| r.0) != Some(200) {
            assert!(
                Instant::now() < deadline,
                "serve did not start: {}",
                serve.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        serve
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// (status, JSON body or Null) of `GET path`; `None` if nothing answered.
    pub async fn get(&self, path: &str) -> Option<(u16, serde_json::Value)> {
        let r = client().get(self.url(path)).send().await.ok()?;
        Some(answer(r).await)
    }

    /// (status, JSON body or Null) of `POST path` with a JSON body and an
    /// optional bearer key.
    pub async fn post(
        &self,
        path: &str,
        key: Option<&str>,
        body: &serde_json::Value,
    ) -> Option<(u16, serde_json::Value)> {
        let mut req = client().post(self.url(path)).json(body);
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        Some(answer(req.send().await.ok()?).await)
    }

    /// Everything `serve` logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Panics if the process has ended (a fault must not end it).
    pub fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!("serve exited ({status}):\n{}", self.log());
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(40))
        .build()
        .unwrap()
}

async fn answer(r: reqwest::Response) -> (u16, serde_json::Value) {
    let status = r.status().as_u16();
    let body = r.json().await.unwrap_or(serde_json::Value::Null);
    (status, body)
}

/// Polls `check` every 100 ms until it is true; panics after `timeout`.
pub async fn eventually<F, Fut>(timeout: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while !check().await {
        assert!(Instant::now() < deadline, "waited {timeout:?} for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
