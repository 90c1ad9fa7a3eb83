//! Login events in the server: the event of each of Gatehouse's own logins,
//! batches from apps (`POST /api/v1/events/login`), files (`gatehouse events
//! import`), and retention.
//!
//! Batches from outside are all-or-nothing: one bad event refuses the whole
//! batch, with every bad event named by its index, so nothing is half-stored
//! without the sender knowing. (Files are different: a line is reported and
//! skipped, or `--strict` refuses the file; see [`App::import_login_events`].)
//! Events older than the retention window are counted and dropped, not stored:
//! housekeeping would delete them at its next run.

use std::io::BufRead;

use gatehouse_domain::audit::{Actor, AuditAction, NewAuditEntry};
use gatehouse_domain::login_event::{EventOrigin, EventOutcome, LoginEventInput, password_digest};
use gatehouse_domain::{AccountId, Email, LoginPassword, Timestamp};
use gatehouse_store::{AccountLink, NewLoginEvent};
use secrecy::ExposeSecret;
use serde::Serialize;

use crate::app::import::{JsonLines, LineError};
use crate::app::{App, AppError, Client};

/// Most events in one API request.
pub const MAX_EVENTS_PER_REQUEST: usize = 1000;

/// Events deleted per retention transaction (short, so logins never wait long).
const PURGE_STEP: i64 = 10_000;

/// One bad event of a batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ItemError {
    /// 0-based position in the `events` array.
    pub index: usize,
    /// What is wrong, naming the field.
    pub message: String,
}

/// What storing a batch did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct IngestReport {
    /// Events in the request.
    pub received: u64,
    /// Events stored now.
    pub inserted: u64,
    /// Events stored already (sent before): skipped.
    pub duplicates: u64,
    /// Events older than `event_retention_days`: dropped.
    pub older_than_retention: u64,
}

/// What a file import did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventImportReport {
    /// Non-blank lines read.
    pub lines: u64,
    /// Counts of the good lines.
    pub stored: IngestReport,
    /// Bad lines (at most the first 1,000; `error_count` counts all).
    pub errors: Vec<LineError>,
    /// Number of bad lines.
    pub error_count: u64,
}

impl EventImportReport {
    fn error(&mut self, line: u64, message: String) {
        crate::app::import::note_bad_line(&mut self.errors, &mut self.error_count, line, message);
    }
}

/// The first few item errors, for a one-line message (all are in the error's `items`).
pub(crate) fn summarize(items: &[ItemError]) -> String {
    let mut s = items
        .iter()
        .take(3)
        .map(|e| format!("#{}: {}", e.index, e.message))
        .collect::<Vec<_>>()
        .join("; ");
    if items.len() > 3 {
        s.push_str(&format!("; … ({} more in `items`)", items.len() - 3));
    }
    s
}

/// The row a validated event from outside (`origin` API or import) is stored as,
/// its account to be resolved at insert.
pub fn to_new_event(e: &LoginEventInput, origin: EventOrigin, now: Timestamp) -> NewLoginEvent {
    NewLoginEvent {
        time: e.time,
        account: e.account.as_str().to_owned(),
        link: AccountLink::Resolve,
        ip: e.ip.to_string(),
        user_agent: e.user_agent.clone(),
        outcome: e.outcome,
        country: e.country.map(|c| c.to_string()),
        asn: e.asn,
        origin,
        password_digest: e.password_fingerprint,
        dedupe_key: e.dedupe_key(),
        received_at: now,
    }
}

impl App {
    /// The event of one of Gatehouse's own logins. The caller builds it for every
    /// checked attempt, known account or not, so both cost the same (invariant *Same answer for every account*).
    pub(crate) fn own_login_event(
        &self,
        email: &Email,
        account: Option<AccountId>,
        outcome: EventOutcome,
        password: &LoginPassword,
        client: &Client,
        now: Timestamp,
    ) -> NewLoginEvent {
        let mut dedupe_key = [0u8; 16];
        self.entropy.fill(&mut dedupe_key);
        NewLoginEvent {
            time: now,
            account: email.key(),
            link: AccountLink::Known(account),
            // A login without a known peer address (only in-process callers) still counts.
            ip: client.ip.map_or_else(
                || "0.0.0.0".to_owned(),
                |ip| gatehouse_domain::login_event::canonical_ip(ip).to_string(),
            ),
            user_agent: client.user_agent.clone(),
            outcome,
            country: None,
            asn: None,
            origin: EventOrigin::Gatehouse,
            // Under the fingerprint key apps use too, so an app's fingerprints
            // and Gatehouse's own digests of one password are equal.
            password_digest: Some(password_digest(
                self.fingerprint_key.expose_secret(),
                password.expose(),
            )),
            dedupe_key,
            received_at: now,
        }
    }

    /// The key apps compute `password_fingerprint` under (see
    /// [`gatehouse_domain::login_event::password_fingerprint_key`]). A secret:
    /// shown only by `gatehouse events fingerprint-key`, never over HTTP.
    pub fn password_fingerprint_key(&self) -> zeroize::Zeroizing<[u8; 32]> {
        zeroize::Zeroizing::new(*self.fingerprint_key.expose_secret())
    }

    /// Stores a batch of events an app sent (at most [`MAX_EVENTS_PER_REQUEST`]).
    /// All or nothing: any bad event refuses the batch with every bad one named.
    pub async fn ingest_login_events(
        &self,
        items: Vec<serde_json::Value>,
        actor: Actor,
        client: &Client,
    ) -> Result<IngestReport, AppError> {
        if items.len() > MAX_EVENTS_PER_REQUEST {
            return Err(AppError::TooManyEvents {
                got: items.len(),
                max: MAX_EVENTS_PER_REQUEST,
            });
        }
        let now = self.clock.now();
        let mut good = Vec::with_capacity(items.len());
        let mut bad = Vec::new();
        for (index, item) in items.into_iter().enumerate() {
            match LoginEventInput::from_value(item, now) {
                Ok(e) => good.push(e),
                Err(message) => bad.push(ItemError { index, message }),
            }
        }
        if !bad.is_empty() {
            return Err(AppError::InvalidEvents {
                of: good.len() + bad.len(),
                items: bad,
            });
        }
        let audit = NewAuditEntry::new(now, actor, AuditAction::LoginEventsIngested)
            .ip(client.ip_string())
            .detail(serde_json::json!({ "origin": "api" }));
        self.store_batch(&good, EventOrigin::Api, now, audit).await
    }

    async fn store_batch(
        &self,
        events: &[LoginEventInput],
        origin: EventOrigin,
        now: Timestamp,
        audit: NewAuditEntry,
    ) -> Result<IngestReport, AppError> {
        let cutoff = now.minus(self.config.event_retention);
        let rows: Vec<NewLoginEvent> = events
            .iter()
            .filter(|e| e.time >= cutoff)
            .map(|e| to_new_event(e, origin, now))
            .collect();
        let inserted = if rows.is_empty() {
            0
        } else {
            // Batches from this replica are written one at a time, in arrival
            // order. On SQLite every write takes the one write lock, and a writer
            // waiting in SQLite's busy handler is neither queued fairly nor kept
            // past `busy_timeout`: four concurrent 1,000-event batches were seen
            // to fail with "database is locked" on a loaded machine, and logins
            // would wait behind all of them. Here they wait in a FIFO queue instead,
            // and a login waits for one batch at most.
            let _turn = self
                .event_writes
                .acquire()
                .await
                .map_err(|e| AppError::Unexpected(e.into()))?;
            self.store.insert_login_events(&rows, Some(audit)).await?
        };
        metrics::counter!("gatehouse_login_events_stored_total", "origin" => origin.as_str())
            .increment(inserted);
        Ok(IngestReport {
            received: events.len() as u64,
            inserted,
            duplicates: rows.len() as u64 - inserted,
            older_than_retention: (events.len() - rows.len()) as u64,
        })
    }

    /// Checks every line of an event file without writing anything (`--strict`).
    pub fn check_event_import(
        &self,
        reader: impl BufRead,
        mut progress: impl FnMut(u64),
    ) -> anyhow::Result<EventImportReport> {
        let mut report = EventImportReport::default();
        let now = self.clock.now();
        let mut lines = JsonLines::new(reader);
        while let Some((n, text)) = lines.next_line()? {
            report.lines += 1;
            if let Err(m) = LoginEventInput::parse_json(&text, now) {
                report.error(n, m);
            }
            if report.lines % 4096 == 0 {
                progress(lines.bytes());
            }
        }
        progress(lines.bytes());
        Ok(report)
    }

    /// Imports events from JSON Lines, read as a stream and stored in batches of
    /// `batch_size`, one transaction each. Bad lines are reported with their
    /// number and skipped. Events stored already (an earlier, interrupted run of
    /// the same file) are skipped by their dedupe key, so running the import
    /// again resumes it. `progress` receives the bytes read so far.
    pub async fn import_login_events(
        &self,
        reader: impl BufRead,
        batch_size: usize,
        mut progress: impl FnMut(u64),
    ) -> anyhow::Result<EventImportReport> {
        let mut report = EventImportReport::default();
        let mut batch = Vec::with_capacity(batch_size);
        let now = self.clock.now();
        let mut lines = JsonLines::new(reader);
        loop {
            let next = lines.next_line()?;
            let done = next.is_none();
            if let Some((n, text)) = next {
                report.lines += 1;
                match LoginEventInput::parse_json(&text, now) {
                    Ok(e) => batch.push(e),
                    Err(m) => report.error(n, m),
                }
            }
            if batch.len() >= batch_size.max(1) || (done && !batch.is_empty()) {
                let audit = NewAuditEntry::new(
                    self.clock.now(),
                    Actor::System,
                    AuditAction::LoginEventsIngested,
                )
                .detail(serde_json::json!({ "origin": "import" }));
                let r = self
                    .store_batch(&batch, EventOrigin::Import, now, audit)
                    .await
                    .map_err(|e| {
                        anyhow::anyhow!("storing events before line {}: {e}", lines.line_number())
                    })?;
                report.stored.received += r.received;
                report.stored.inserted += r.inserted;
                report.stored.duplicates += r.duplicates;
                report.stored.older_than_retention += r.older_than_retention;
                batch.clear();
                progress(lines.bytes());
            }
            if done {
                break;
            }
        }
        progress(lines.bytes());
        Ok(report)
    }

    /// Deletes events older than `event_retention_days`, a step at a time. Returns how many.
    pub async fn purge_login_events(&self, now: Timestamp) -> Result<u64, AppError> {
        let before = now.minus(self.config.event_retention);
        let mut total = 0;
        loop {
            let n = self.store.purge_login_events(before, PURGE_STEP).await?;
            total += n;
            if n < PURGE_STEP as u64 {
                return Ok(total);
            }
        }
    }
}
