//! The app-delivery sender: from an app-delivery row to the app's
//! `backchannel_logout_uri` (OpenID Connect Back-Channel Logout 1.0 §2.5), or
//! a Security Event Token to a Shared Signals stream's push endpoint (RFC
//! 8935). Both kinds share each receiver's (client's) task: its rate,
//! concurrency, circuit and retries.
//!
//! The cycle is the notices' *lease, commit, send, settle*: a claim leases a
//! receiver's due rows in one short transaction, the POSTs happen with no
//! transaction open, then each row is marked sent, put back for a retry with
//! backoff, or failed after `backchannel_max_attempts`. A sender that dies
//! mid-POST leaves its rows leased; when the lease runs out any replica sends
//! them again with the same `jti` (fixed in the row), so an app sees at most
//! a repeat it can drop, never a token missing.
//!
//! **Each receiver on its own.** A dispatcher looks for receivers with due
//! rows and gives each one its own task, with its own rate limiter
//! (`backchannel_rate_per_second`), its own concurrency
//! (`backchannel_concurrency`) and its own circuit: after consecutive
//! failures the task stops claiming for a while (doubling up to a minute),
//! so an app that answers 500 or hangs holds only its own queue — the other
//! apps' tasks never wait on it, and its rows wait in the database, not in
//! memory. A 100,000-account reset therefore queues at each app's rate.
//!
//! The breaker is not consulted: it holds new resets, not the consequences
//! of the ones already applied (issue 17).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use gatehouse_domain::notice::retry_delay;
use gatehouse_store::{AppClaim, AppDeliveryKind, ClaimedAppDelivery};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use crate::app::App;

/// How often the dispatcher looks for due rows when idle.
const POLL: Duration = Duration::from_millis(500);
/// Consecutive failed POSTs that open a receiver's circuit.
const CIRCUIT_AFTER: u32 = 3;
/// The longest a circuit stays open before the receiver is tried again.
const CIRCUIT_MAX: Duration = Duration::from_secs(60);
/// The longest retry delay.
const RETRY_MAX: Duration = Duration::from_secs(3600);

/// What one POST came to.
#[derive(Debug)]
enum Outcome {
    Sent,
    Failed(String),
}

/// The sender of logout tokens (one per `serve` replica).
pub struct Backchannel {
    app: Arc<App>,
    http: reqwest::Client,
}

impl Backchannel {
    /// A sender over the application's store, clock, keys and settings.
    pub fn new(app: Arc<App>) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(app.config.backchannel.timeout)
            .connect_timeout(app.config.backchannel.timeout)
            // §2.5: the token goes to the registered URI, nowhere else.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Gatehouse/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { app, http })
    }

    /// The lease of one claim: every POST of it may wait its turn at the
    /// receiver's rate and then take the whole timeout.
    fn lease(&self) -> Duration {
        let c = &self.app.config.backchannel;
        let waits = Duration::from_secs_f64(c.concurrency as f64 / f64::from(c.rate_per_second));
        2 * c.timeout + waits + Duration::from_secs(10)
    }

    /// Runs until the task is aborted: each due receiver gets its own task.
    /// Those tasks live in a `JoinSet` owned here, so aborting the sender
    /// stops them too (a lease they held runs out; nothing is lost).
    pub async fn run(self) {
        let this = Arc::new(self);
        let mut tasks: tokio::task::JoinSet<()> = tokio::task::JoinSet::new();
        let mut receivers: HashMap<String, tokio::task::AbortHandle> = HashMap::new();
        let mut round = 0u64;
        loop {
            while let Some(done) = tasks.try_join_next() {
                if let Err(e) = done {
                    tracing::error!(error = %e, "back-channel logout: a receiver's task failed");
                }
            }
            receivers.retain(|_, t| !t.is_finished());
            if round.is_multiple_of(20) {
                this.report_queues().await;
            }
            round += 1;
            match this.app.store.due_app_receivers(this.app.clock.now()).await {
                Ok(due) => {
                    for client in due {
                        if receivers.contains_key(&client) {
                            continue;
                        }
                        let sender = this.clone();
                        let id = client.clone();
                        receivers
                            .insert(client, tasks.spawn(async move { sender.serve(id).await }));
                    }
                }
                Err(e) => tracing::warn!(error = %e, "back-channel logout: cannot read the queue"),
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Sets the per-receiver queue gauges (pending, failed) from the store.
    async fn report_queues(&self) {
        if let Ok(counts) = self.app.app_delivery_counts().await {
            for c in counts {
                metrics::gauge!("gatehouse_backchannel_queued", "client" => c.client_id.clone())
                    .set((c.pending + c.sending) as f64);
                metrics::gauge!("gatehouse_backchannel_failed", "client" => c.client_id)
                    .set(c.failed as f64);
            }
        }
    }

    /// One receiver's task: claims and sends its due rows at its own pace
    /// until none is due (or its circuit opens), then ends; the dispatcher
    /// starts it again when rows are due.
    async fn serve(&self, client: String) {
        let c = &self.app.config.backchannel;
        let limiter = RateLimiter::direct(Quota::per_second(
            NonZeroU32::new(c.rate_per_second).unwrap_or(NonZeroU32::MIN),
        ));
        let mut failures_in_a_row = 0u32;
        let mut opened = 0u32;
        loop {
            let mut lease_id = [0u8; 16];
            self.app.entropy.fill(&mut lease_id);
            let lease_id = hex::encode(lease_id);
            let claimed = match self
                .app
                .store
                .claim_app_deliveries(&AppClaim {
                    client_id: &client,
                    now: self.app.clock.now(),
                    lease_id: &lease_id,
                    lease: self.lease(),
                    limit: c.concurrency as i64,
                })
                .await
            {
                Ok(rows) => rows,
                Err(e) => {
                    tracing::warn!(client, error = %e, "back-channel logout: claim failed");
                    return;
                }
            };
            if claimed.is_empty() {
                return;
            }
            let mut sends = tokio::task::JoinSet::new();
            for row in claimed {
                let this = (self.app.clone(), self.http.clone());
                let limiter: &DefaultDirectRateLimiter = &limiter;
                limiter.until_ready().await;
                let lease_id = lease_id.clone();
                sends.spawn(async move {
                    let outcome = deliver(&this.0, &this.1, &row).await;
                    // A failure is settled at once (its retry time); the
                    // claim's successes are settled together below, one
                    // statement instead of one transaction per token.
                    if matches!(outcome, Outcome::Failed(_)) {
                        settle(&this.0, &row, &lease_id, &outcome).await;
                    }
                    (row.delivery.id, outcome)
                });
            }
            let mut sent_ids = Vec::new();
            while let Some(done) = sends.join_next().await {
                match done {
                    Ok((id, Outcome::Sent)) => sent_ids.push(id),
                    Ok((_, Outcome::Failed(_))) => failures_in_a_row += 1,
                    Err(e) => {
                        tracing::error!(client, error = %e, "back-channel logout: a send panicked")
                    }
                }
            }
            let any_sent = !sent_ids.is_empty();
            if any_sent {
                metrics::counter!("gatehouse_backchannel_deliveries_total", "client" => client.clone(), "outcome" => "sent")
                    .increment(sent_ids.len() as u64);
                match self
                    .app
                    .store
                    .app_deliveries_sent(&sent_ids, &lease_id, self.app.clock.now())
                    .await
                {
                    Ok(n) if n == sent_ids.len() as u64 => {}
                    Ok(n) => tracing::info!(
                        client,
                        settled = n,
                        delivered = sent_ids.len(),
                        "back-channel: some leases were lost before settling"
                    ),
                    // Left leased: sent again (same jti) when the lease runs out.
                    Err(e) => tracing::warn!(client, error = %e, "back-channel: cannot settle"),
                }
            }
            if any_sent {
                failures_in_a_row = 0;
                opened = 0;
            } else if failures_in_a_row >= CIRCUIT_AFTER {
                // The circuit: this receiver alone waits; its rows stay due
                // in the database (with their own retry times), leased by no one.
                let pause = Duration::from_secs(1u64 << opened.min(6)).min(CIRCUIT_MAX);
                opened += 1;
                metrics::counter!("gatehouse_backchannel_circuit_opened_total", "client" => client.clone())
                    .increment(1);
                tracing::info!(
                    client,
                    pause_s = pause.as_secs(),
                    "back-channel logout: receiver failing, pausing it"
                );
                tokio::time::sleep(pause).await;
                failures_in_a_row = 0;
            }
        }
    }
}

/// Signs and POSTs one delivery: a logout token as
/// `application/x-www-form-urlencoded` `logout_token=…` (Back-Channel Logout
/// §2.5), or a SET as `application/secevent+jwt` with the stream's
/// `Authorization` header (RFC 8935 §2). Only a 2xx answer counts as
/// delivered (RFC 8935 says 202; any 2xx is taken).
async fn deliver(app: &App, http: &reqwest::Client, row: &ClaimedAppDelivery) -> Outcome {
    let request = match row.delivery.kind {
        AppDeliveryKind::Logout => {
            let token = match app.logout_token(&row.delivery).await {
                Ok(t) => t,
                Err(e) => return Outcome::Failed(format!("cannot sign the logout token: {e}")),
            };
            let body = serde_urlencoded::to_string([("logout_token", token.as_str())])
                .expect("a string pair always encodes");
            http.post(&row.uri)
                .header(
                    http::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .body(body)
        }
        AppDeliveryKind::Set => {
            let token = match app.security_event_token(&row.delivery).await {
                Ok(t) => t,
                Err(e) => return Outcome::Failed(format!("cannot sign the SET: {e}")),
            };
            let mut r = http
                .post(&row.uri)
                .header(http::header::CONTENT_TYPE, "application/secevent+jwt")
                .header(http::header::ACCEPT, "application/json")
                .body(token);
            if let Some(auth) = &row.authorization {
                r = r.header(http::header::AUTHORIZATION, auth);
            }
            r
        }
    };
    let answer = request
        .header(http::header::CACHE_CONTROL, "no-store")
        .send()
        .await;
    match answer {
        Ok(r) if r.status().is_success() => Outcome::Sent,
        Ok(r) => Outcome::Failed(format!("the app answered {}", r.status())),
        Err(e) if e.is_timeout() => Outcome::Failed("the app did not answer in time".into()),
        Err(e) => Outcome::Failed(format!("cannot reach the app: {}", without_url(&e))),
    }
}

/// A reqwest error's text without the URL (which the row already names).
fn without_url(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    if let Some(url) = e.url() {
        text = text
            .replace(&format!(" ({url})"), "")
            .replace(url.as_str(), "the URI");
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    text
}

/// Records an outcome: sent, a retry at the backoff's time, or failed once
/// the attempts are used up.
async fn settle(app: &App, row: &ClaimedAppDelivery, lease_id: &str, outcome: &Outcome) {
    let d = &row.delivery;
    let c = &app.config.backchannel;
    let now = app.clock.now();
    let result = match outcome {
        Outcome::Sent => {
            metrics::counter!("gatehouse_backchannel_deliveries_total", "client" => d.client_id.clone(), "outcome" => "sent").increment(1);
            app.store.app_delivery_sent(&d.id, lease_id, now).await
        }
        Outcome::Failed(error) if d.attempts >= i64::from(c.max_attempts) => {
            metrics::counter!("gatehouse_backchannel_deliveries_total", "client" => d.client_id.clone(), "outcome" => "failed").increment(1);
            tracing::warn!(
                client = d.client_id,
                jti = d.id,
                error,
                "back-channel logout: giving up"
            );
            let error = format!("{error} (gave up after {} attempts)", d.attempts);
            app.store.app_delivery_failed(&d.id, lease_id, &error).await
        }
        Outcome::Failed(error) => {
            metrics::counter!("gatehouse_backchannel_deliveries_total", "client" => d.client_id.clone(), "outcome" => "retried").increment(1);
            let mut j = [0u8; 1];
            app.entropy.fill(&mut j);
            let jitter = 0.5 + f64::from(j[0]) / 510.0;
            let attempt = u32::try_from(d.attempts).unwrap_or(u32::MAX);
            let delay = retry_delay(attempt, c.retry_base, RETRY_MAX, jitter);
            app.store
                .app_delivery_retry(&d.id, lease_id, now.plus(delay), error)
                .await
        }
    };
    match result {
        Ok(true) => {}
        Ok(false) => tracing::info!(
            jti = d.id,
            "back-channel logout: lease lost before settling"
        ),
        Err(e) => tracing::warn!(jti = d.id, error = %e, "back-channel logout: cannot settle"),
    }
}

/// Starts the sender `serve` runs.
pub fn spawn_backchannel(app: Arc<App>) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let sender = Backchannel::new(app)?;
    Ok(tokio::spawn(sender.run()))
}
