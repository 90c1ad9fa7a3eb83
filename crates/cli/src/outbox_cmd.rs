//! `gatehouse outbox list|retry|apps|retry-app`: the operators' view of notice
//! delivery and of the back-channel logout tokens owed to apps.

use std::process::ExitCode;

use clap::Subcommand;
use gatehouse_domain::NoticeId;
use gatehouse_server::Config;
use gatehouse_server::app::oidc::AppDeliveryView;
use gatehouse_store::{AppDeliveryKind, AppDeliveryState, NoticeState};

#[derive(Subcommand)]
pub enum OutboxCommand {
    /// List notices, newest first (failed ones show the mail server's answer).
    List {
        /// Only this state: pending, sending, sent, failed, coalesced, expired.
        #[arg(long)]
        state: Option<String>,
        /// Most notices to show.
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(i64).range(1..=1000))]
        limit: i64,
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Send a failed notice again.
    Retry {
        /// The notice's id (from `outbox list`).
        id: String,
    },
    /// Back-channel logout tokens and Shared Signals SETs owed to apps: counts
    /// per app, then the deliveries, newest first (failed ones show the app's
    /// last answer).
    Apps {
        /// Only this state: pending, sending, sent, failed.
        #[arg(long)]
        state: Option<String>,
        /// Only this app (client id).
        #[arg(long)]
        client: Option<String>,
        /// Most deliveries to show.
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(i64).range(1..=1000))]
        limit: i64,
        /// One JSON object per line instead of tables.
        #[arg(long)]
        json: bool,
    },
    /// Send a failed logout token or SET again (the same jti).
    RetryApp {
        /// The delivery's id (from `outbox apps`).
        id: String,
    },
}

pub async fn run(config: Config, command: OutboxCommand) -> anyhow::Result<ExitCode> {
    let app = gatehouse_server::build_app(config).await?;
    match command {
        OutboxCommand::List { state, limit, json } => {
            let state = state
                .as_deref()
                .map(str::parse::<NoticeState>)
                .transpose()
                .map_err(|e| anyhow::anyhow!("--state: {e}"))?;
            let notices = app
                .outbox(state, limit)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            if json {
                for n in &notices {
                    println!("{}", serde_json::to_string(n)?);
                }
            } else {
                println!(
                    "{:<36}  {:<12}  {:<16}  {:<9}  {:>3}  {:<24}  recipient / last answer",
                    "id", "reference", "kind", "state", "try", "created"
                );
                for n in &notices {
                    println!(
                        "{:<36}  {:<12}  {:<16}  {:<9}  {:>3}  {:<24}  {}{}",
                        n.id,
                        n.reference,
                        n.kind.as_str(),
                        n.state.as_str(),
                        n.attempts,
                        n.created_at.to_rfc3339(),
                        n.recipient,
                        n.last_error
                            .as_deref()
                            .map(|e| format!(" — {e}"))
                            .unwrap_or_default()
                    );
                }
                if notices.is_empty() {
                    eprintln!("no notices");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        OutboxCommand::Apps {
            state,
            client,
            limit,
            json,
        } => {
            let state = state
                .as_deref()
                .map(str::parse::<AppDeliveryState>)
                .transpose()
                .map_err(|e| anyhow::anyhow!("--state: {e}"))?;
            let fail = |e: gatehouse_server::app::AppError| anyhow::anyhow!("{e}");
            let counts = app.app_delivery_counts().await.map_err(fail)?;
            let rows = app
                .app_deliveries(state, client, limit)
                .await
                .map_err(fail)?;
            if json {
                for c in &counts {
                    println!("{}", serde_json::json!({ "receiver": c }));
                }
                for d in &rows {
                    println!("{}", serde_json::to_string(&AppDeliveryView::from(d))?);
                }
                return Ok(ExitCode::SUCCESS);
            }
            println!(
                "{:<24}  {:>8}  {:>8}  {:>8}  {:>8}",
                "app", "pending", "sending", "sent", "failed"
            );
            for c in &counts {
                println!(
                    "{:<24}  {:>8}  {:>8}  {:>8}  {:>8}",
                    c.client_id, c.pending, c.sending, c.sent, c.failed
                );
            }
            println!();
            println!(
                "{:<24}  {:<26}  {:<16}  {:<8}  {:>3}  {:<24}  id (jti) / last answer",
                "app", "what", "reason", "state", "try", "when"
            );
            for d in &rows {
                // A SET by the last segment of its event URI.
                let what = match (&d.kind, &d.event_type) {
                    (AppDeliveryKind::Set, Some(t)) => {
                        format!("set:{}", t.rsplit('/').next().unwrap_or(t))
                    }
                    _ => "logout token".to_owned(),
                };
                println!(
                    "{:<24}  {:<26}  {:<16}  {:<8}  {:>3}  {:<24}  {}{}",
                    d.client_id,
                    what,
                    d.reason,
                    d.state.as_str(),
                    d.attempts,
                    d.event_at.to_rfc3339(),
                    d.id,
                    d.last_error
                        .as_deref()
                        .map(|e| format!(" — {e}"))
                        .unwrap_or_default()
                );
            }
            if rows.is_empty() {
                eprintln!("no logout tokens or SETs");
            }
            Ok(ExitCode::SUCCESS)
        }
        OutboxCommand::RetryApp { id } => {
            app.retry_app_delivery(&id, gatehouse_domain::audit::Actor::System)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("delivery {id} queued again (same jti)");
            Ok(ExitCode::SUCCESS)
        }
        OutboxCommand::Retry { id } => {
            let id: NoticeId = id
                .parse()
                .map_err(|_| anyhow::anyhow!("{id:?} is not a notice id"))?;
            app.retry_notice(id, None)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("notice {id} queued again");
            Ok(ExitCode::SUCCESS)
        }
    }
}
