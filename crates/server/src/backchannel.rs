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
//! **Throughput** (issue 17's goal: delivery to a local receiver at half the
//! rate of plain POSTs). A receiver with a backlog gets claims that grow to
//! a second's worth at its rate (at most 1,000 rows), each leased for the
//! time the batch needs at the pace measured (`backchannel/batching.rs`),
//! and settled a claim at a time. SETs are signed ahead by a stage of their
//! own ([`sign_ahead`], `App::sign_ahead`) that runs beside the receivers'
//! tasks and stores each token in its row; an attempt sends the stored
//! token, or signs one if the stage has not reached the row yet.
//!
//! The breaker is not consulted: it holds new resets, not the consequences
//! of the ones already applied (issue 17).

mod batching;
mod posting;

use std::collections::{HashMap, VecDeque};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use gatehouse_domain::notice::retry_delay;
use gatehouse_store::{AppClaim, AppDeliveryKind, ClaimedAppDelivery};
use governor::{Quota, RateLimiter};
use tokio::task::JoinSet;

use crate::app::App;
use batching::{Batching, MAX_CLAIM};
use posting::{Post, PostError, Poster};

/// How often the dispatcher looks for due rows when idle.
const POLL: Duration = Duration::from_millis(500);
/// Consecutive failed POSTs that open a receiver's circuit.
const CIRCUIT_AFTER: u32 = 3;
/// The longest a circuit stays open before the receiver is tried again.
const CIRCUIT_MAX: Duration = Duration::from_secs(60);
/// The longest a delivered row waits to be settled with others.
const SETTLE_WITHIN: Duration = Duration::from_millis(200);
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
    http: Arc<Poster>,
}

impl Backchannel {
    /// A sender over the application's store, clock, keys and settings.
    pub fn new(app: Arc<App>) -> anyhow::Result<Self> {
        let http = Arc::new(Poster::new(app.config.backchannel.timeout)?);
        Ok(Self { app, http })
    }

    /// Runs until the task is aborted: each due receiver gets its own task.
    /// Those tasks live in a `JoinSet` owned here, so aborting the sender
    /// stops them too (a lease they held runs out; nothing is lost).
    pub async fn run(self) {
        let this = Arc::new(self);
        let mut tasks: tokio::task::JoinSet<()> = tokio::task::JoinSet::new();
        let mut receivers: HashMap<String, tokio::task::AbortHandle> = HashMap::new();
        tasks.spawn(sign_ahead(this.app.clone()));
        let mut round = 0u64;
        loop {
            while let Some(done) = tasks.try_join_next() {
                if let Err(e) = done {
                    tracing::error!(error = %e, "back-channel logout: a receiver's task failed");
                }
            }
            receivers.retain(|_, t| !t.is_finished());
            match this.app.store.due_app_receivers(this.app.clock.now()).await {
                Ok(due) => {
                    for client in due {
                        if receivers.contains_key(&client) {
                            continue;
                        }
                        let sender = this.clone();
                        let id = client.clone();
                        receivers.insert(client, tasks.spawn(sender.serve(id)));
                    }
                }
                Err(e) => tracing::warn!(error = %e, "back-channel logout: cannot read the queue"),
            }
            // After the receivers have started: the counts read the whole
            // outbox, which a receiver with a backlog should not wait for.
            if round.is_multiple_of(20) {
                this.report_queues().await;
            }
            round += 1;
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
    /// until none is due, then ends; the dispatcher starts it again when rows
    /// are due.
    ///
    /// It keeps `backchannel_concurrency` POSTs in flight and starts the next
    /// claim while a claim's worth of the last one is still waiting for a
    /// slot — the claim's transaction runs beside the POSTs, so the receiver
    /// is not left idle while the database works. Claims grow while the
    /// backlog lasts and their lease covers the rows ahead of them and the
    /// batch ([`batching`]); a row that could not start in time for its lease
    /// is handed back, not sent. Delivered rows are settled together, one
    /// statement per claim, once a claim-worth has gathered or within
    /// [`SETTLE_WITHIN`]; failures are settled at once, each with its retry
    /// time. Settles and claims are one writer, one write at a time: a claim
    /// first settles what was delivered so far (on SQLite a second write of
    /// the same task would only wait for the first in the busy handler).
    async fn serve(self: Arc<Self>, client: String) {
        let c = &self.app.config.backchannel;
        let limiter = RateLimiter::direct(Quota::per_second(
            NonZeroU32::new(c.rate_per_second).unwrap_or(NonZeroU32::MIN),
        ));
        let concurrency = c.concurrency.max(1);
        let mut batching = Batching::new(concurrency, c.rate_per_second, c.timeout);
        // Claimed rows waiting for a slot, oldest first, each with its lease
        // and the time by which it must start.
        let mut waiting: VecDeque<Waiting> = VecDeque::new();
        // The claims `waiting` holds rows of, in order (for their pace).
        let mut batches: VecDeque<Batch> = VecDeque::new();
        // The task's one writer: a settle of the delivered rows, then the
        // next claim when one is due, in a task of its own so that its writes
        // end without waiting for this loop (which may be waiting for the
        // rate limiter); aborted with this task. One at a time: two writes of
        // one receiver at once contend for SQLite's single write lock, and
        // the one that waits sleeps in the busy handler, milliseconds a time.
        let mut writing: JoinSet<Option<Claimed>> = JoinSet::new();
        let mut sends: JoinSet<(String, Arc<str>, Outcome)> = JoinSet::new();
        let mut run = Run::default();
        // The last claim came back empty: finish what is in flight, then end.
        let mut drained = false;
        let mut failures_in_a_row = 0u32;
        let mut opened = 0u32;
        loop {
            if writing.is_empty() {
                // Settles go first: a delivered row must not wait for the next
                // claim to be settled — the longer a row stays `sending` after
                // its POST, the likelier a sender stopped meanwhile leaves it
                // to be sent again once its lease runs out.
                let settle_at = batching.limit().clamp(concurrency, MAX_CLAIM);
                let settle = run.delivered.len() >= settle_at
                    || (sends.is_empty() && !run.delivered.is_empty())
                    || run
                        .settle_by()
                        .is_some_and(|by| by <= tokio::time::Instant::now());
                // The next claim while a claim's worth is still waiting (a
                // claim of a thousand rows takes milliseconds, in which the
                // POSTs of a local receiver drain hundreds): its lease counts
                // the rows ahead of it.
                let claim = !drained && waiting.len() <= concurrency.max(batching.limit());
                if settle || claim {
                    // A claim settles what was delivered so far on its way.
                    let delivered = run.take();
                    let next = claim.then(|| {
                        let limit = batching.limit();
                        let ahead = waiting.len() + sends.len();
                        let lease = batching.lease(limit + ahead);
                        (limit, ahead, lease, batching.start_within(lease))
                    });
                    let (this, client) = (self.clone(), client.clone());
                    writing.spawn(async move {
                        settle_delivered(&this.app, &client, delivered).await;
                        let (limit, ahead, lease, start_within) = next?;
                        let made = tokio::time::Instant::now();
                        let rows = this.claim(&client, limit, lease).await;
                        Some(Claimed {
                            asked: limit,
                            made,
                            ahead,
                            start_by: made + start_within,
                            rows,
                        })
                    });
                }
            }
            while sends.len() < concurrency {
                let Some(w) = waiting.pop_front() else {
                    break;
                };
                limiter.until_ready().await;
                if tokio::time::Instant::now() > w.start_by {
                    // Slower than the lease assumed: what has not started
                    // goes back (due as it was), and the next claim is small.
                    waiting.push_front(w);
                    self.release(&client, waiting.drain(..)).await;
                    batches.clear();
                    batching.fell_behind();
                    break;
                }
                if let Some(b) = batches.front_mut() {
                    b.left -= 1;
                    if b.left == 0 {
                        batching.started(b.rows, b.made.elapsed());
                        batches.pop_front();
                    }
                }
                let (app, http, lease, row) = (self.app.clone(), self.http.clone(), w.lease, w.row);
                sends.spawn(async move {
                    let outcome = deliver(&app, &http, &row).await;
                    if matches!(outcome, Outcome::Failed(_)) {
                        settle(&app, &row, &lease, &outcome).await;
                    }
                    (row.delivery.id, lease, outcome)
                });
            }
            if sends.is_empty()
                && writing.is_empty()
                && waiting.is_empty()
                && run.delivered.is_empty()
                && drained
            {
                break;
            }
            // While a write runs, its end wakes the loop.
            let settle_by = run.settle_by().filter(|_| writing.is_empty());
            let done = tokio::select! {
                Some(written) = writing.join_next(), if !writing.is_empty() => {
                    // A settle alone: nothing to take in.
                    if matches!(written, Ok(None)) {
                        continue;
                    }
                    // A writer that panicked counts as a failed claim.
                    match written.ok().flatten().and_then(Claimed::rows_with_meta) {
                        Some((claimed, lease, rows)) if !rows.is_empty() => {
                            batching.claimed(claimed.asked, rows.len());
                            batches.push_back(Batch {
                                made: claimed.made,
                                rows: rows.len() + claimed.ahead,
                                left: rows.len(),
                            });
                            waiting.extend(rows.into_iter().map(|row| Waiting {
                                lease: lease.clone(),
                                start_by: claimed.start_by,
                                row,
                            }));
                        }
                        _ => drained = true,
                    }
                    continue;
                }
                done = sends.join_next(), if !sends.is_empty() => done,
                // The loop's top settles.
                () = sleep_until(settle_by), if settle_by.is_some() => continue,
                // Nothing in flight or coming: the loop claims again.
                else => continue,
            };
            let Some(done) = done else {
                continue;
            };
            match done {
                Ok((id, lease, Outcome::Sent)) => {
                    run.delivered(lease, id);
                    failures_in_a_row = 0;
                    opened = 0;
                }
                Ok((_, _, Outcome::Failed(_))) => failures_in_a_row += 1,
                Err(e) => {
                    tracing::error!(client, error = %e, "back-channel: a send panicked")
                }
            }
            if failures_in_a_row >= CIRCUIT_AFTER {
                // The circuit: this receiver alone waits. What was claimed but
                // not started goes back to the database (due as it was), with
                // the rows of a claim being made, what is in flight ends (each
                // within the timeout), and then the task pauses; its rows wait
                // in the database, leased by no one.
                if let Some(Ok(Some(claimed))) = writing.join_next().await
                    && let Some((lease, rows)) = claimed.rows
                {
                    waiting.extend(rows.into_iter().map(|row| Waiting {
                        lease: lease.clone(),
                        start_by: tokio::time::Instant::now(),
                        row,
                    }));
                }
                self.release(&client, waiting.drain(..)).await;
                batches.clear();
                batching.fell_behind();
                while let Some(done) = sends.join_next().await {
                    if let Ok((id, lease, Outcome::Sent)) = done {
                        run.delivered(lease, id);
                        failures_in_a_row = 0;
                    }
                }
                settle_delivered(&self.app, &client, run.take()).await;
                if failures_in_a_row >= CIRCUIT_AFTER {
                    let pause = Duration::from_secs(1u64 << opened.min(6)).min(CIRCUIT_MAX);
                    opened += 1;
                    metrics::counter!("gatehouse_backchannel_circuit_opened_total", "client" => client.clone())
                        .increment(1);
                    tracing::info!(
                        client,
                        pause_s = pause.as_secs(),
                        "back-channel: receiver failing, pausing it"
                    );
                    tokio::time::sleep(pause).await;
                }
                failures_in_a_row = 0;
                drained = false;
            }
        }
        settle_delivered(&self.app, &client, run.take()).await;
    }

    /// Leases up to `limit` of the receiver's due rows for `lease` under a
    /// new lease id; `None` (logged) when the store cannot.
    async fn claim(
        &self,
        client: &str,
        limit: usize,
        lease: Duration,
    ) -> Option<(Arc<str>, Vec<ClaimedAppDelivery>)> {
        let mut lease_id = [0u8; 16];
        self.app.entropy.fill(&mut lease_id);
        let lease_id = hex::encode(lease_id);
        match self
            .app
            .store
            .claim_app_deliveries(&AppClaim {
                client_id: client,
                now: self.app.clock.now(),
                lease_id: &lease_id,
                lease,
                limit: limit as i64,
            })
            .await
        {
            Ok(rows) => Some((lease_id.into(), rows)),
            Err(e) => {
                tracing::warn!(client, error = %e, "back-channel: claim failed");
                None
            }
        }
    }

    /// Hands claimed, never-attempted rows back (one statement per claim);
    /// if that fails their lease runs out and they are sent then.
    async fn release(&self, client: &str, rows: impl Iterator<Item = Waiting>) {
        for (lease, ids) in by_lease(rows.map(|w| (w.lease, w.row.delivery.id))) {
            if let Err(e) = self.app.store.release_app_deliveries(&ids, &lease).await {
                tracing::warn!(client, error = %e, "back-channel: cannot give back unsent rows");
            }
        }
    }
}

/// A claimed row waiting for a slot.
struct Waiting {
    lease: Arc<str>,
    /// Not started by then, it is handed back ([`Batching::start_within`]).
    start_by: tokio::time::Instant,
    row: ClaimedAppDelivery,
}

/// A claim some of whose rows are waiting for a slot.
struct Batch {
    /// When it was made.
    made: tokio::time::Instant,
    /// Its rows and those ahead of it when it was made (its pace's count).
    rows: usize,
    /// Its rows not started yet.
    left: usize,
}

/// What a claim came back with.
struct Claimed {
    asked: usize,
    made: tokio::time::Instant,
    /// Rows waiting or in flight when it was made.
    ahead: usize,
    start_by: tokio::time::Instant,
    /// `None` when the store failed (logged).
    rows: Option<(Arc<str>, Vec<ClaimedAppDelivery>)>,
}

impl Claimed {
    /// The claim's rows apart from what is known of it; `None` when the
    /// store failed.
    fn rows_with_meta(mut self) -> Option<(Self, Arc<str>, Vec<ClaimedAppDelivery>)> {
        let (lease, rows) = self.rows.take()?;
        Some((self, lease, rows))
    }
}

/// Sleeps until `at` (never ends when `None`).
async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Rows the sign-ahead stage takes at once.
const SIGN_AHEAD_BATCH: i64 = 1000;

/// The sign-ahead stage (`app::oidc::set_tokens`): signs pending SETs as they
/// are written, so the receivers' tasks send stored tokens. Runs until the
/// sender is aborted; a batch that came back full is followed at once by the
/// next, an empty one by a [`POLL`]'s wait.
async fn sign_ahead(app: Arc<App>) {
    loop {
        match app.sign_ahead(SIGN_AHEAD_BATCH).await {
            Ok(n) if n as i64 >= SIGN_AHEAD_BATCH => continue,
            Ok(_) => {}
            // Unsigned rows are signed at their attempt meanwhile.
            Err(e) => tracing::warn!(error = %e, "SET: cannot sign ahead"),
        }
        tokio::time::sleep(POLL).await;
    }
}

/// A receiver task's delivered rows not yet settled.
#[derive(Default)]
struct Run {
    delivered: Vec<(Arc<str>, String)>,
    /// When the oldest of `delivered` came back.
    oldest: Option<tokio::time::Instant>,
}

impl Run {
    fn delivered(&mut self, lease: Arc<str>, id: String) {
        self.oldest.get_or_insert_with(tokio::time::Instant::now);
        self.delivered.push((lease, id));
    }

    /// When the delivered rows are due to be settled ([`SETTLE_WITHIN`]).
    fn settle_by(&self) -> Option<tokio::time::Instant> {
        self.oldest.map(|oldest| oldest + SETTLE_WITHIN)
    }

    /// The delivered rows, by lease, to settle now.
    fn take(&mut self) -> HashMap<Arc<str>, Vec<String>> {
        self.oldest = None;
        by_lease(self.delivered.drain(..))
    }
}

/// Row ids grouped by the lease they were claimed under: a settle or a
/// release is one statement per lease.
fn by_lease(rows: impl Iterator<Item = (Arc<str>, String)>) -> HashMap<Arc<str>, Vec<String>> {
    let mut grouped: HashMap<Arc<str>, Vec<String>> = HashMap::new();
    for (lease, id) in rows {
        grouped.entry(lease).or_default().push(id);
    }
    grouped
}

/// Settles delivered rows as `sent`, one statement per claim.
async fn settle_delivered(app: &App, client: &str, by_lease: HashMap<Arc<str>, Vec<String>>) {
    for (lease, ids) in by_lease {
        metrics::counter!("gatehouse_backchannel_deliveries_total", "client" => client.to_owned(), "outcome" => "sent")
            .increment(ids.len() as u64);
        match app
            .store
            .app_deliveries_sent(&ids, &lease, app.clock.now())
            .await
        {
            Ok(n) if n == ids.len() as u64 => {}
            Ok(n) => tracing::info!(
                client,
                settled = n,
                delivered = ids.len(),
                "back-channel: some leases were lost before settling"
            ),
            // Left leased: sent again (same jti) when the lease runs out.
            Err(e) => tracing::warn!(client, error = %e, "back-channel: cannot settle"),
        }
    }
}

/// Signs and POSTs one delivery: a logout token as
/// `application/x-www-form-urlencoded` `logout_token=…` (Back-Channel Logout
/// §2.5), or a SET as `application/secevent+jwt` with the stream's
/// `Authorization` header (RFC 8935 §2). Only a 2xx answer counts as
/// delivered (RFC 8935 says 202; any 2xx is taken).
async fn deliver(app: &App, http: &Poster, row: &ClaimedAppDelivery) -> Outcome {
    let post = match row.delivery.kind {
        AppDeliveryKind::Logout => {
            let token = match app.logout_token(&row.delivery).await {
                Ok(t) => t,
                Err(e) => return Outcome::Failed(format!("cannot sign the logout token: {e}")),
            };
            let body = serde_urlencoded::to_string([("logout_token", token.as_str())])
                .expect("a string pair always encodes");
            Post {
                uri: &row.uri,
                content_type: "application/x-www-form-urlencoded",
                accept: None,
                authorization: None,
                body: body.into(),
            }
        }
        AppDeliveryKind::Set => {
            let token = match app.set_to_send(&row.delivery).await {
                Ok(t) => t,
                Err(e) => return Outcome::Failed(format!("cannot sign the SET: {e}")),
            };
            Post {
                uri: &row.uri,
                content_type: "application/secevent+jwt",
                accept: Some("application/json"),
                authorization: row.authorization.as_deref(),
                body: token.into(),
            }
        }
    };
    match http.post(post).await {
        Ok(status) if status.is_success() => Outcome::Sent,
        Ok(status) => Outcome::Failed(format!("the app answered {status}")),
        Err(PostError::Timeout) => Outcome::Failed("the app did not answer in time".into()),
        Err(PostError::Unreachable(why)) => Outcome::Failed(format!("cannot reach the app: {why}")),
    }
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
