//! `gatehouse outbox list|retry`: the operators' view of notice delivery.

use std::process::ExitCode;

use clap::Subcommand;
use gatehouse_domain::NoticeId;
use gatehouse_server::Config;
use gatehouse_store::NoticeState;

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
