//! Gatehouse's server: configuration, application services and the HTTP surface.
//!
//! - [`config`]: defaults, TOML file, `GATEHOUSE_*` environment.
//! - [`app`]: use cases (sign-up, login, sessions, password change, import,
//!   operators, breached-password checks) over the store, with time and
//!   randomness injected.
//! - [`http`]: axum router, extractors, the single error→HTTP mapping, pages.
//! - [`mail`]: notice rendering, transports and the delivery worker.
//! - [`backchannel`]: the back-channel logout sender (logout tokens to apps).
//! - [`health`]: what the workers found failing, for `/healthz`.

pub mod app;
pub mod backchannel;
pub mod config;
#[doc(hidden)]
pub mod fuzzing;
pub mod health;
pub mod http;
pub mod human_time;
pub mod mail;

use std::sync::Arc;

use gatehouse_domain::{OsEntropy, SystemClock};

pub use app::App;
pub use config::Config;

/// Connects the store named in `config`, migrates it, and assembles the app
/// with the system clock and the OS random number generator.
pub async fn build_app(config: Config) -> anyhow::Result<Arc<App>> {
    let opts = gatehouse_store::ConnectOptions {
        max_connections: config.database_max_connections,
    };
    let store = gatehouse_store::connect(&config.database_url, &opts)
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot open the database {}: {e}",
                gatehouse_store::redact_url(&config.database_url)
            )
        })?;
    store.migrate().await?;
    Ok(Arc::new(App::new(
        config,
        store,
        Arc::new(SystemClock),
        Arc::new(OsEntropy),
    )?))
}

/// Runs [`App::housekeeping`] every ten minutes until the task is aborted.
pub fn spawn_housekeeping(app: Arc<App>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(600));
        loop {
            tick.tick().await;
            match app.housekeeping().await {
                Ok((counters, sessions)) => {
                    tracing::debug!(counters, sessions, "housekeeping purged stale rows")
                }
                Err(e) => tracing::warn!(error = %e, "housekeeping failed"),
            }
        }
    })
}

/// Installs the rules (shipped ones into an empty store, then `rules_file`) and
/// runs the detection monitor over incoming login events until the task is
/// aborted. A monitor that cannot start is retried every ten seconds.
pub fn spawn_detection(app: Arc<App>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match app::monitor::Monitor::start(app.clone()).await {
                Ok(m) => return m.run(std::future::pending()).await,
                Err(e) => {
                    tracing::warn!(error = %e, "detection monitor could not start; retrying in 10 s");
                    tokio::time::sleep(std::time::Duration::from_secs(10)).await;
                }
            }
        }
    })
}

/// Runs the campaign worker until the task is aborted: automatic campaigns from
/// enforced findings, and the next step of every running campaign, every second
/// (at once when a campaign starts or the breaker closes).
pub fn spawn_campaigns(app: Arc<App>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut busy = false;
        loop {
            // A pass that reset accounts goes straight on (the rate cap and the
            // budget are what limit it); an idle one waits.
            if !busy {
                tokio::select! {
                    _ = app.campaigns_wakeup.notified() => {}
                    _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                }
            }
            busy = match app.campaigns_pass().await {
                Ok(r) => {
                    if let Some(p) = app.health.recovered("campaigns") {
                        tracing::info!(
                            since = p.since,
                            failures = p.failures,
                            "campaign worker recovered"
                        );
                    }
                    r.applied > 0
                }
                Err(e) => {
                    // Nothing is lost: a step is one transaction, and the next
                    // pass starts from what the database holds.
                    if app.health.failing("campaigns", app.clock.now(), &e) {
                        tracing::error!(error = %e, "campaign worker pass failed; retrying every second until it works");
                    } else {
                        tracing::warn!(error = %e, "campaign worker pass failed again; retrying");
                    }
                    false
                }
            };
        }
    })
}
