//! The demo's app of the site (issue 17): people signed in to the example app
//! through Gatehouse are signed out of it by the forced reset.
//!
//! While the demo plays, Gatehouse's own HTTP router serves the demo's store
//! on a loopback port (the example app discovers it, signs people in through
//! it, and fetches its keys there), the example app runs on another, and the
//! app-delivery sender `serve` runs pushes logout tokens and Security Event
//! Tokens to it. A few people sign in to the app before the attack — some of
//! the accounts the attackers took over, some bystanders — each in a browser
//! of their own (a cookie jar, following redirects: the real authorization
//! code flow, the login form, the app's callback). After the takeovers are
//! reset, the app's own page tells who is still signed in; the report's
//! delivery figures are read from the app-delivery outbox.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use gatehouse_server::App;
use gatehouse_store::{AppDeliveryKind, AppDeliveryState};
use serde::Serialize;

use crate::demo_app::CLIENT_ID;
use crate::demo_cmd::DEMO_PASSWORD;

/// What the home page of the example app says to a signed-in person.
const SIGNED_IN: &str = "Signed in as";
/// Longest wait for the outbox to empty.
const SETTLE: Duration = Duration::from_secs(60);

/// One person's browser.
struct Browser {
    email: String,
    /// An account the attackers took over (a reset is due).
    victim: bool,
    http: reqwest::Client,
}

/// Gatehouse served over HTTP, the example app, the sender, and the browsers.
pub struct Apps {
    gatehouse: tokio::task::JoinHandle<std::io::Result<()>>,
    sender: tokio::task::JoinHandle<()>,
    example_app: String,
    browsers: Vec<Browser>,
    /// Sign-ins Gatehouse refused (reported, not fatal).
    refused: Vec<String>,
    /// What the app's page said after the takeovers' resets: victims signed
    /// in, of them signed out; bystanders signed in, of them still in.
    pages: [u64; 4],
}

/// The apps' part of the report.
#[derive(Serialize)]
pub struct AppsReport {
    /// The app's client id.
    pub app: &'static str,
    /// People signed in to the app before the attack: takeover victims.
    pub victims_signed_in: u64,
    /// Of those, signed out of the app once the takeovers were reset (the
    /// app's own page says so).
    pub victims_signed_out_by_reset: u64,
    /// People signed in to the app before the attack whom no rule touched.
    pub bystanders_signed_in: u64,
    /// Of those, still signed in to the app after the takeovers' resets.
    pub bystanders_still_signed_in: u64,
    /// Sign-ins to the app that did not complete, with why.
    pub sign_ins_refused: Vec<String>,
    /// From the app-delivery outbox, for the whole run: app sessions ended
    /// (one logout token owed per session and app).
    pub app_sessions_ended: u64,
    /// Logout tokens the app accepted.
    pub logout_tokens_delivered: u64,
    /// SETs the app accepted, and per event type.
    pub sets_delivered: u64,
    pub sets_by_event: BTreeMap<String, u64>,
    /// Deliveries not yet sent, and given up on.
    pub deliveries_pending: u64,
    pub deliveries_failed: u64,
}

impl Apps {
    /// Serves `app` on `listener` (its `public_url` must be that address),
    /// starts the example app and the sender.
    pub async fn start(app: &Arc<App>, listener: tokio::net::TcpListener) -> anyhow::Result<Self> {
        let router = gatehouse_server::http::router(app.clone())?;
        let gatehouse = tokio::spawn(gatehouse_server::http::serve(
            listener,
            router,
            std::future::pending(),
        ));
        let example_app = crate::demo_app::start(app).await?;
        let sender = gatehouse_server::backchannel::spawn_backchannel(app.clone())?;
        Ok(Self {
            gatehouse,
            sender,
            example_app,
            browsers: Vec::new(),
            refused: Vec::new(),
            pages: [0; 4],
        })
    }

    /// `email` signs in to the example app in a new browser: the app sends
    /// them to Gatehouse, they type the demo's password, Gatehouse sends them
    /// back with a code. A refusal is recorded, not fatal.
    pub async fn sign_in(&mut self, email: &str, victim: bool) -> anyhow::Result<()> {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .timeout(Duration::from_secs(30))
            .build()?;
        let form = http
            .get(format!("{}/login", self.example_app))
            .send()
            .await
            .context("the example app's sign-in")?;
        let login_page = form.url().clone();
        let return_to = login_page
            .query_pairs()
            .find(|(k, _)| k == "return_to")
            .map(|(_, v)| v.into_owned())
            .with_context(|| format!("the app did not lead to Gatehouse's login: {login_page}"))?;
        let page = http
            .post(login_page.join("/login")?)
            .form(&[
                ("email", email),
                ("password", DEMO_PASSWORD),
                ("return_to", return_to.as_str()),
            ])
            .send()
            .await
            .context("Gatehouse's login form")?;
        let status = page.status();
        let body = page.text().await?;
        if status.is_success() && body.contains(SIGNED_IN) {
            self.browsers.push(Browser {
                email: email.to_owned(),
                victim,
                http,
            });
        } else {
            self.refused
                .push(format!("{email}: the app answered {status}"));
        }
        Ok(())
    }

    /// Waits until the outbox holds nothing to send (every logout token and
    /// SET delivered or given up on), or [`SETTLE`] passes.
    pub async fn settle(app: &App) -> anyhow::Result<()> {
        let deadline = Instant::now() + SETTLE;
        loop {
            let counts = app.app_delivery_counts().await?;
            if counts.iter().all(|c| c.pending + c.sending == 0) || Instant::now() > deadline {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Asks the app's page, in each browser, who is still signed in (once the
    /// takeovers' resets are applied and the outbox has settled).
    pub async fn check_pages(&mut self) -> anyhow::Result<()> {
        let (mut victims, mut out, mut bystanders, mut still) = (0, 0, 0, 0);
        for b in &self.browsers {
            let page = b
                .http
                .get(format!("{}/", self.example_app))
                .send()
                .await?
                .text()
                .await?;
            let signed_in = page.contains(SIGNED_IN);
            if b.victim {
                victims += 1;
                out += u64::from(!signed_in);
            } else {
                bystanders += 1;
                still += u64::from(signed_in);
            }
            tracing::debug!(email = b.email, signed_in, "the example app's page");
        }
        self.pages = [victims, out, bystanders, still];
        Ok(())
    }

    /// The report's figures: the pages' (see [`Apps::check_pages`]) and the
    /// outbox's for the whole run.
    pub async fn report(&self, app: &App) -> anyhow::Result<AppsReport> {
        let [victims, out, bystanders, still] = self.pages;
        let rows = app
            .app_deliveries(None, Some(CLIENT_ID.into()), 1000)
            .await
            .map_err(|e| anyhow::anyhow!("the app-delivery outbox: {e}"))?;
        let mut r = AppsReport {
            app: CLIENT_ID,
            victims_signed_in: victims,
            victims_signed_out_by_reset: out,
            bystanders_signed_in: bystanders,
            bystanders_still_signed_in: still,
            sign_ins_refused: self.refused.clone(),
            app_sessions_ended: 0,
            logout_tokens_delivered: 0,
            sets_delivered: 0,
            sets_by_event: BTreeMap::new(),
            deliveries_pending: 0,
            deliveries_failed: 0,
        };
        for d in &rows {
            let sent = d.state == AppDeliveryState::Sent;
            match d.kind {
                AppDeliveryKind::Logout => {
                    r.app_sessions_ended += 1;
                    r.logout_tokens_delivered += u64::from(sent);
                }
                AppDeliveryKind::Set if sent => {
                    r.sets_delivered += 1;
                    let event = d.event_type.as_deref().unwrap_or("?");
                    let short = event.rsplit('/').next().unwrap_or(event);
                    *r.sets_by_event.entry(short.to_owned()).or_default() += 1;
                }
                AppDeliveryKind::Set => {}
            }
            match d.state {
                AppDeliveryState::Pending | AppDeliveryState::Sending => r.deliveries_pending += 1,
                AppDeliveryState::Failed => r.deliveries_failed += 1,
                AppDeliveryState::Sent => {}
            }
        }
        Ok(r)
    }

    /// Stops Gatehouse's HTTP server and the sender (the example app runs
    /// until the process ends).
    pub fn stop(self) {
        self.sender.abort();
        self.gatehouse.abort();
    }
}
