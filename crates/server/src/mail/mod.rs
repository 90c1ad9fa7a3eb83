//! Notice delivery: from an outbox row to an inbox.
//!
//! - [`facts`]: what each kind of notice states, typed per kind, and how it
//!   is stored in the outbox.
//! - [`render`]: notice → subject, text and HTML (askama, pure, snapshot-tested).
//! - [`transport`]: SMTP | maildir | memory behind one enum.
//! - [`Mailer`]: builds the MIME message (multipart text + HTML, `Message-ID`
//!   fixed at enqueue, `Date`, the configured sender, DKIM when configured).
//! - [`spawn_delivery`]: the worker inside `serve`. It needs only an
//!   [`Outbox`] (store, clock, randomness, wake-up, mail settings), not the
//!   whole application.
//!
//! The worker's cycle is *lease, commit, send, settle*: it claims due rows in
//! one short transaction (marking them `sending` with a lease), commits, then
//! talks SMTP with no transaction open, then marks each row sent, retried or
//! failed. If the process dies between the server accepting a message and the
//! row being marked sent, the lease runs out and another attempt re-sends it
//! with the same `Message-ID`; that window is the only way a duplicate can
//! happen. A notice is never lost: it stays `pending` or `sending` until a
//! mail server has accepted it, or is marked `failed` (visible to operators).

pub mod facts;
pub mod render;
pub mod smtp;
pub mod transport;

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use gatehouse_domain::notice::retry_delay;
use gatehouse_domain::{Clock, Email, Entropy, NoticeId};
use gatehouse_store::{ClaimPolicy, ClaimedNotice, Store};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use lettre::message::dkim::{DkimConfig, DkimSigningAlgorithm, DkimSigningKey};
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};

pub use facts::{
    BreakerTrippedFacts, CorrectionFacts, FactsError, ForcedResetFacts, NoticeFacts, Occasion,
    PasswordChangedFacts, RecoveryFacts, StatusConfirmFacts, StatusUpdateFacts,
};
pub use render::{RenderedNotice, SiteContext};
pub use transport::{SendError, SentMail, Transport};

use crate::config::{Config, MailConfig};

/// Composes and sends notices.
pub struct Mailer {
    transport: Transport,
    from: Mailbox,
    dkim: Option<DkimConfig>,
    site: SiteContext,
    /// Where delivery reports the mail server refusing (`/healthz`).
    health: crate::health::Health,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("transport", &self.transport)
            .field("from", &self.from.to_string())
            .field("dkim", &self.dkim.is_some())
            .finish()
    }
}

/// The site facts templates need, from the configuration.
pub fn site_context(config: &Config) -> SiteContext {
    SiteContext {
        site_name: config.site_name.clone(),
        public_url: config.public_url.clone(),
        link_kinds: config.mail.link_kinds.clone(),
    }
}

impl Mailer {
    /// The transport the configuration names: SMTP if `smtp_url` is set,
    /// otherwise the maildir `<data_dir>/mail`.
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let transport = match &config.smtp_url {
            Some(url) => Transport::smtp(url, config.mail.concurrency as u32)?,
            None => Transport::maildir(&config.data_dir.join("mail"))?,
        };
        Self::with_transport(config, transport)
    }

    /// A mailer over a given transport.
    pub fn with_transport(config: &Config, transport: Transport) -> anyhow::Result<Self> {
        let from: Mailbox = config
            .mail
            .from
            .parse()
            .map_err(|e| anyhow::anyhow!("mail_from: {e}"))?;
        let dkim = match &config.mail.dkim {
            None => None,
            Some((file, selector)) => {
                let text = std::fs::read_to_string(file)
                    .map_err(|e| anyhow::anyhow!("dkim_key_file {}: {e}", file.display()))?;
                // A PEM file is RSA; a bare base64 key is Ed25519 (lettre's convention).
                let algorithm = if text.contains("-----BEGIN") {
                    DkimSigningAlgorithm::Rsa
                } else {
                    DkimSigningAlgorithm::Ed25519
                };
                let key = DkimSigningKey::new(text.trim(), algorithm)
                    .map_err(|e| anyhow::anyhow!("dkim_key_file {}: {e}", file.display()))?;
                Some(DkimConfig::default_config(
                    selector.clone(),
                    from.email.domain().to_string(),
                    key,
                ))
            }
        };
        Ok(Self {
            transport,
            from,
            dkim,
            site: site_context(config),
            health: crate::health::Health::default(),
        })
    }

    /// Reports the mail server's failures (and the delivery worker's) to
    /// `health` (the app's, which `/healthz` shows).
    pub fn reporting_to(mut self, health: crate::health::Health) -> Self {
        self.health = health;
        self
    }

    /// The transport (tests read the memory one).
    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    /// Builds the message for a claimed notice.
    pub fn compose(&self, c: &ClaimedNotice, date: SystemTime) -> anyhow::Result<lettre::Message> {
        let facts = NoticeFacts::from_payload(c.notice.kind, &c.payload)
            .map_err(|e| anyhow::anyhow!("notice cannot be rendered: {e}"))?;
        let r = render::render(
            &facts,
            &c.notice.reference,
            &c.notice.recipient,
            c.notice.coalesced_count,
            &self.site,
        )?;
        let to: Mailbox = c
            .notice
            .recipient
            .parse()
            .map_err(|e| anyhow::anyhow!("recipient {:?}: {e}", c.notice.recipient))?;
        let mut message = lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(r.subject)
            .message_id(Some(c.notice.message_id.clone()))
            .date(date)
            .multipart(MultiPart::alternative_plain_html(r.text, r.html))?;
        if let Some(url) = &r.list_unsubscribe {
            // RFC 2369 + RFC 8058: mail clients show an "unsubscribe" button that
            // POSTs `List-Unsubscribe=One-Click` to the URL (the server takes it
            // without a CSRF check: it only ever removes this one subscriber).
            // Limit: DKIM here signs lettre's default header set, which leaves
            // these two out; RFC 8058 asks for them to be signed, so some large
            // providers may show no button (the link in the body always works).
            let headers = message.headers_mut();
            headers.insert_raw(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe"),
                format!("<{url}>"),
            ));
            headers.insert_raw(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                "List-Unsubscribe=One-Click".into(),
            ));
        }
        if let Some(dkim) = &self.dkim {
            message.sign(dkim);
        }
        Ok(message)
    }
}

/// A `Message-ID` for a new notice: fixed at enqueue, so every attempt repeats it.
pub fn message_id(id: NoticeId, config: &Config) -> String {
    let host = config.public_url.host_str().unwrap_or("localhost");
    let host = host.trim_start_matches('[').trim_end_matches(']');
    format!("<{id}@{host}>")
}

/// What the delivery worker needs of the application: the outbox's store,
/// time, randomness (lease ids, retry jitter), the wake-up enqueuers ring, and
/// the mail settings. The application gives one (`Outbox::from(&app)`), so
/// delivery does not depend on the rest of it.
#[derive(Clone)]
pub struct Outbox {
    /// Where notices are queued, leased and settled.
    pub store: Arc<dyn Store>,
    /// Time source (leases, retry times, `Date:`).
    pub clock: Arc<dyn Clock>,
    /// Randomness source (lease ids, retry jitter).
    pub entropy: Arc<dyn Entropy>,
    /// Notified when a notice is enqueued.
    pub wakeup: Arc<tokio::sync::Notify>,
    /// Rate, concurrency, caps, budgets, retries, timeout.
    pub settings: MailConfig,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// The delivery worker.
pub struct Delivery {
    outbox: Arc<Outbox>,
    mailer: Arc<Mailer>,
    limiter: DefaultDirectRateLimiter,
    /// One permit per SMTP connection, shared by consecutive batches: the
    /// next batch's first sends take the connections the current batch's
    /// last sends free, so none idles through a batch's tail and settle.
    slots: Arc<tokio::sync::Semaphore>,
}

/// A batch whose sends have all started: finishing it waits for them and for
/// its settler's last statement.
struct InFlight {
    tasks: tokio::task::JoinSet<anyhow::Result<()>>,
    settler: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl InFlight {
    async fn finish(mut self) -> anyhow::Result<()> {
        while let Some(done) = self.tasks.join_next().await {
            if let Err(e) = done.map_err(anyhow::Error::from).and_then(|r| r) {
                tracing::error!(error = %e, "settling a notice failed; its lease will run out and it will be retried");
            }
        }
        self.settler.await?
    }
}

impl Delivery {
    /// A worker for an outbox (an `App` converts into one) sending through `mailer`.
    pub fn new(outbox: impl Into<Outbox>, mailer: Arc<Mailer>) -> Self {
        let outbox = outbox.into();
        let rate = NonZeroU32::new(outbox.settings.rate_per_second).unwrap_or(NonZeroU32::MIN);
        Self {
            limiter: RateLimiter::direct(Quota::per_second(rate)),
            slots: Arc::new(tokio::sync::Semaphore::new(
                outbox.settings.concurrency.max(1),
            )),
            outbox: Arc::new(outbox),
            mailer,
        }
    }

    fn lease(&self) -> Duration {
        // Long enough for a slow server; a lease that runs out means a possible re-send.
        self.outbox.settings.smtp_timeout * 2 + Duration::from_secs(10)
    }

    /// Claims one batch and delivers it. Returns how many notices it tried.
    pub async fn run_once(&self) -> anyhow::Result<usize> {
        let (lease_id, batch) = self.claim().await?;
        let tried = batch.len();
        self.dispatch(&lease_id, batch).await.finish().await?;
        Ok(tried)
    }

    /// Delivers until nothing is due. The next batch is claimed while the
    /// current one's sends start, and its sends start as soon as the current
    /// one's last sends have all begun (the connections are shared, never
    /// more than `concurrency` at once): no connection waits for a claim, a
    /// batch's slowest send, or its settle statement. Returns how many
    /// notices it tried.
    pub async fn drain(&self) -> anyhow::Result<usize> {
        let mut tried = 0;
        let mut in_flight: Option<InFlight> = None;
        let mut next = self.claim().await;
        loop {
            let (lease_id, batch) = match next {
                Ok(claimed) => claimed,
                // Sends already started are seen through (and settled) before
                // the error is reported: dropping them would only make their
                // leases run out and the notices go twice.
                Err(e) => {
                    if let Some(previous) = in_flight {
                        previous.finish().await?;
                    }
                    return Err(e);
                }
            };
            if batch.is_empty() {
                break;
            }
            tried += batch.len();
            let (dispatched, claimed) = tokio::join!(self.dispatch(&lease_id, batch), self.claim());
            // Every send of the previous batch started before this batch's
            // first: by now most have ended, and its settler can finish.
            let previous = in_flight.replace(dispatched);
            next = claimed;
            if let Some(previous) = previous
                && let Err(e) = previous.finish().await
            {
                // A failed settle leaves its notices leased; the lease runs
                // out and they are claimed again, so nothing is lost.
                if let Some(current) = in_flight {
                    current.finish().await?;
                }
                return Err(e);
            }
        }
        if let Some(last) = in_flight {
            last.finish().await?;
        }
        Ok(tried)
    }

    /// Leases a batch of due notices (and applies the cap, expiry and merging).
    async fn claim(&self) -> anyhow::Result<(String, Vec<ClaimedNotice>)> {
        let cfg = &self.outbox.settings;
        let now = self.outbox.clock.now();
        let policy = ClaimPolicy {
            now,
            lease_id: NoticeId::generate(self.outbox.entropy.as_ref()).to_string(),
            lease: self.lease(),
            // Big enough that the claim and settle statements are shared by many
            // messages; small enough that a lease covers the batch comfortably.
            limit: (cfg.concurrency * 16) as i64,
            cap_per_recipient: cfg.cap_per_day,
            cap_window: Duration::from_secs(24 * 3600),
            status_per_hour: cfg.status_per_hour,
        };
        let report = self.outbox.store.claim_notices(&policy).await?;
        for (reference, recipient, merged) in &report.held {
            let masked = Email::parse(recipient)
                .map(|e| e.masked())
                .unwrap_or_default();
            tracing::warn!(
                reference,
                recipient = masked,
                merged,
                cap = cfg.cap_per_day,
                "per-recipient notice cap reached: notice held until the 24-hour window has room"
            );
        }
        if report.status_deferred > 0 {
            tracing::info!(
                count = report.status_deferred,
                budget = cfg.status_per_hour,
                "hourly status mail budget spent: status mail deferred (security notices are not affected)"
            );
            metrics::counter!("gatehouse_status_notices_deferred_total")
                .increment(report.status_deferred);
        }
        if report.coalesced > 0 {
            metrics::counter!("gatehouse_notices_coalesced_total").increment(report.coalesced);
        }
        if report.expired > 0 {
            tracing::info!(
                count = report.expired,
                "notices expired before they could be sent"
            );
            metrics::counter!("gatehouse_notices_expired_total").increment(report.expired);
        }
        Ok((policy.lease_id, report.claimed))
    }

    /// Starts sending a leased batch, `concurrency` at a time across batches,
    /// and returns once every send has started. A settler marks the sent ones
    /// in groups: one statement for whatever finished while the previous one
    /// ran, so a notice is recorded sent within a statement's time of its
    /// acceptance, without one commit per message.
    async fn dispatch(&self, lease_id: &str, batch: Vec<ClaimedNotice>) -> InFlight {
        let (sent_tx, sent_rx) = tokio::sync::mpsc::unbounded_channel();
        let settler = tokio::spawn({
            let outbox = self.outbox.clone();
            let lease_id = lease_id.to_owned();
            let patience = self.lease();
            async move { settle_sent(&outbox, sent_rx, &lease_id, patience).await }
        });
        let mut tasks = tokio::task::JoinSet::new();
        for claimed in batch {
            self.limiter.until_ready().await;
            // The semaphore is never closed, so this always gets a permit.
            let Ok(permit) = self.slots.clone().acquire_owned().await else {
                break;
            };
            let outbox = self.outbox.clone();
            let mailer = self.mailer.clone();
            let lease_id = lease_id.to_owned();
            let sent_tx = sent_tx.clone();
            tasks.spawn(async move {
                let _permit = permit;
                deliver_one(&outbox, &mailer, claimed, &lease_id, &sent_tx).await
            });
        }
        InFlight { tasks, settler }
    }

    /// Runs until aborted: a batch, then sleep until the next notice is due,
    /// an enqueue wakes it, or five seconds pass (another replica may have
    /// enqueued).
    pub async fn run(self) {
        loop {
            let drained = self.drain().await;
            let health = &self.mailer.health;
            match drained {
                Ok(n) => {
                    if let Some(p) = health.recovered("delivery") {
                        tracing::info!(
                            since = p.since,
                            failures = p.failures,
                            "notice delivery recovered"
                        );
                    }
                    if n > 0 {
                        continue;
                    }
                }
                Err(e) => {
                    // Nothing is lost: a notice stays in the outbox until it is
                    // recorded sent, and a lease that runs out frees it.
                    if health.failing("delivery", self.outbox.clock.now(), &e) {
                        tracing::error!(error = %e, "notice delivery failed; retrying every second until it works");
                    } else {
                        tracing::warn!(error = %e, "notice delivery failed again; retrying in a second");
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            }
            let now = self.outbox.clock.now();
            let wait = match self.outbox.store.next_notice_due().await {
                Ok(Some(t)) if t > now => t.since(now).min(Duration::from_secs(5)),
                Ok(Some(_)) => Duration::from_millis(50),
                _ => Duration::from_secs(5),
            };
            tokio::select! {
                _ = self.outbox.wakeup.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}

/// How long the settler gathers accepted notices before it records them,
/// unless [`SETTLE_GROUP`] arrive sooner. Each record is a statement and a
/// commit (on PostgreSQL a round trip to a busy server); taking whatever had
/// finished meanwhile made it one or two notices per statement at four
/// connections. The price: a crash may re-send up to this much more mail
/// (a notice accepted but not yet recorded is sent again after its lease).
const SETTLE_EVERY: Duration = Duration::from_millis(5);
/// See [`SETTLE_EVERY`].
const SETTLE_GROUP: usize = 32;

/// Marks sent notices in groups until every sender has finished.
async fn settle_sent(
    outbox: &Outbox,
    mut sent: tokio::sync::mpsc::UnboundedReceiver<(NoticeId, &'static str)>,
    lease_id: &str,
    patience: Duration,
) -> anyhow::Result<()> {
    let mut group = Vec::new();
    while sent.recv_many(&mut group, 1024).await > 0 {
        // Gather for a moment; a closed channel (every send of the batch
        // ended) records what it has at once.
        let until = tokio::time::Instant::now() + SETTLE_EVERY;
        while group.len() < SETTLE_GROUP {
            match tokio::time::timeout_at(until, sent.recv_many(&mut group, 1024)).await {
                Ok(n) if n > 0 => {}
                _ => break,
            }
        }
        let ids: Vec<NoticeId> = group.iter().map(|(id, _)| *id).collect();
        let marked = mark_sent(outbox, &ids, lease_id, patience).await?;
        for (id, kind) in group.drain(..) {
            if !marked.contains(&id) {
                tracing::warn!(notice = %id, "notice sent after its lease ran out; another worker may have sent it too");
            }
            metrics::counter!("gatehouse_notices_sent_total", "kind" => kind).increment(1);
        }
    }
    Ok(())
}

/// Records notices the mail server accepted. While the database is
/// unavailable (restarting, unreachable) it retries, with backoff, for up to
/// `patience` (a lease's length): a notice sent but not recorded is sent
/// again once its lease runs out, so waiting out a short outage here is what
/// keeps a database restart from doubling the mail in flight.
async fn mark_sent(
    outbox: &Outbox,
    ids: &[NoticeId],
    lease_id: &str,
    patience: Duration,
) -> anyhow::Result<Vec<NoticeId>> {
    let start = std::time::Instant::now();
    let mut delay = Duration::from_millis(200);
    loop {
        match outbox
            .store
            .notices_sent(ids, lease_id, outbox.clock.now())
            .await
        {
            Ok(marked) => return Ok(marked),
            Err(e) if e.unavailable().is_some() && start.elapsed() + delay < patience => {
                tracing::warn!(error = %e, count = ids.len(), "recording notices the mail server accepted failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

async fn deliver_one(
    outbox: &Outbox,
    mailer: &Mailer,
    c: ClaimedNotice,
    lease_id: &str,
    sent_tx: &tokio::sync::mpsc::UnboundedSender<(NoticeId, &'static str)>,
) -> anyhow::Result<()> {
    let cfg = &outbox.settings;
    let id = c.notice.id;
    let message = match mailer.compose(&c, outbox.clock.now().into()) {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(notice = %id, error = %e, "notice cannot be composed; marked failed");
            outbox
                .store
                .notice_failed(id, lease_id, &e.to_string())
                .await?;
            metrics::counter!("gatehouse_notices_failed_total").increment(1);
            return Ok(());
        }
    };
    let unique = format!(
        "{}.{}.gatehouse",
        c.notice.created_at.as_millis() / 1000,
        id
    );
    let sent = match tokio::time::timeout(
        cfg.smtp_timeout,
        mailer.transport.send(&message, &unique),
    )
    .await
    {
        Ok(r) => r,
        Err(_) => Err(SendError::Temporary(format!(
            "no answer within {} s",
            cfg.smtp_timeout.as_secs()
        ))),
    };
    let now = outbox.clock.now();
    match sent {
        Ok(()) => {
            if let Some(p) = mailer.health.recovered("smtp") {
                tracing::info!(
                    since = p.since,
                    failures = p.failures,
                    "the mail server accepts mail again"
                );
            }
            // The settler records it; if the settler failed, the lease runs out
            // and the notice is sent again (the documented duplicate window).
            let _ = sent_tx.send((id, c.notice.kind.as_str()));
        }
        Err(SendError::Temporary(msg)) if (c.notice.attempts as u32) < cfg.max_attempts => {
            if mailer.health.failing("smtp", now, &msg) {
                tracing::error!(error = %msg, "the mail server refuses or does not answer; notices wait and are retried with backoff");
            }
            let jitter = {
                let mut b = [0u8; 2];
                outbox.entropy.fill(&mut b);
                0.5 + f64::from(u16::from_le_bytes(b)) / f64::from(u16::MAX) / 2.0
            };
            let delay = retry_delay(
                c.notice.attempts as u32,
                cfg.retry_base,
                Duration::from_secs(3600),
                jitter,
            );
            tracing::warn!(notice = %id, attempt = c.notice.attempts, retry_in_ms = delay.as_millis() as u64, error = %msg, "notice delivery failed; will retry");
            outbox
                .store
                .notice_retry(id, lease_id, now.plus(delay), &msg)
                .await?;
            metrics::counter!("gatehouse_notices_retried_total").increment(1);
        }
        Err(e) => {
            let msg = match e {
                SendError::Temporary(m) => format!(
                    "gave up after {} attempts; last error: {m}",
                    c.notice.attempts
                ),
                SendError::Permanent(m) => m,
            };
            tracing::error!(notice = %id, error = %msg, "notice delivery failed for good");
            outbox.store.notice_failed(id, lease_id, &msg).await?;
            metrics::counter!("gatehouse_notices_failed_total").increment(1);
        }
    }
    Ok(())
}

/// Starts the delivery worker for an outbox (an `App` converts into one).
pub fn spawn_delivery(
    outbox: impl Into<Outbox>,
    mailer: Arc<Mailer>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(Delivery::new(outbox, mailer).run())
}
