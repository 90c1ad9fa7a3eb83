//! `gatehouse sessions end ID`: an operator ends one session (issue 17).

use std::process::ExitCode;

use clap::Subcommand;
use gatehouse_server::Config;

#[derive(Subcommand)]
pub enum SessionsCommand {
    /// End one session now (any account's): it is revoked, and the apps
    /// signed in through it get their back-channel logout tokens and
    /// Shared Signals SETs like on any other session end. Audited
    /// `session.ended` (reason `ended_by_operator`).
    End {
        /// The session's id (the `sid` of its ID tokens).
        id: String,
    },
}

pub async fn run(config: Config, command: SessionsCommand) -> anyhow::Result<ExitCode> {
    let app = gatehouse_server::build_app(config).await?;
    match command {
        SessionsCommand::End { id } => {
            let session = id
                .parse()
                .map_err(|_| anyhow::anyhow!("{id:?} is not a session id"))?;
            let ended = app
                .operator_end_session(session, gatehouse_domain::audit::Actor::System)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "session {id} of account {} ended; its apps are told",
                ended.account
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
