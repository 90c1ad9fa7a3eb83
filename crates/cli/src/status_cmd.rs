//! `gatehouse status incident …|component …`: the public status page from the
//! terminal. Whoever runs the CLI is trusted as an operator; the audit log
//! records these writes as done by `system`, as for `outbox retry`.

use std::process::ExitCode;

use clap::Subcommand;
use gatehouse_domain::audit::Actor;
use gatehouse_server::Config;
use gatehouse_server::app::status::{IncidentChanges, IncidentDraft};
use gatehouse_store::Incident;

#[derive(Subcommand)]
pub enum StatusCommand {
    /// Incidents: create (a draft), publish, update, resolve, list, show.
    Incident {
        #[command(subcommand)]
        command: IncidentCommand,
    },
    /// Components the page lists: list, set, remove.
    Component {
        #[command(subcommand)]
        command: ComponentCommand,
    },
}

#[derive(Subcommand)]
pub enum IncidentCommand {
    /// Write a draft (not public until published). Prints its id.
    Create {
        /// Title.
        #[arg(long)]
        title: String,
        /// What people will be told when it is published.
        #[arg(long, short = 'm')]
        message: String,
        /// none, minor, major or critical.
        #[arg(long, default_value = "minor")]
        impact: String,
        /// Affected component ids, comma-separated.
        #[arg(long, value_delimiter = ',')]
        components: Vec<String>,
    },
    /// Publish a draft (mails the subscribers).
    Publish {
        /// Incident id.
        id: i64,
        /// investigating (default), identified or monitoring.
        #[arg(long)]
        state: Option<String>,
        /// First update's text (default: the draft's text).
        #[arg(long, short = 'm')]
        message: Option<String>,
    },
    /// Post an update to a public incident (mails the subscribers).
    Update {
        /// Incident id.
        id: i64,
        /// investigating, identified, monitoring or resolved.
        #[arg(long)]
        state: String,
        /// What people are told.
        #[arg(long, short = 'm')]
        message: String,
    },
    /// Resolve a public incident with a last update (mails the subscribers).
    Resolve {
        /// Incident id.
        id: i64,
        /// What people are told.
        #[arg(long, short = 'm')]
        message: String,
    },
    /// Edit the wording: title, impact, components; a draft's text.
    Edit {
        /// Incident id.
        id: i64,
        #[arg(long)]
        title: Option<String>,
        #[arg(long)]
        impact: Option<String>,
        /// New text (drafts only).
        #[arg(long, short = 'm')]
        message: Option<String>,
        /// Affected component ids, comma-separated (replaces the set).
        #[arg(long, value_delimiter = ',')]
        components: Option<Vec<String>>,
    },
    /// Write or replace the postmortem of a published incident.
    Postmortem {
        /// Incident id.
        id: i64,
        /// The postmortem's text.
        #[arg(long, short = 'm')]
        message: String,
    },
    /// List incidents, newest first (drafts included).
    List {
        /// Most incidents.
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(i64).range(1..=1000))]
        limit: i64,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Show one incident with its updates.
    Show {
        /// Incident id.
        id: i64,
    },
}

#[derive(Subcommand)]
pub enum ComponentCommand {
    /// List components in page order.
    List,
    /// Create or replace a component.
    Set {
        /// Id: a-z, 0-9, -.
        id: String,
        /// Name shown.
        #[arg(long)]
        name: String,
        /// One line about it.
        #[arg(long, default_value = "")]
        description: String,
        /// Sort order.
        #[arg(long, default_value_t = 0)]
        position: i64,
    },
    /// Remove a component.
    Remove {
        /// Id.
        id: String,
    },
}

fn fail(e: gatehouse_server::app::AppError) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

fn print_incident(i: &Incident) {
    println!(
        "#{} [{}] {} (impact {}{})",
        i.id,
        i.state,
        i.title,
        i.impact,
        if i.components.is_empty() {
            String::new()
        } else {
            format!("; {}", i.components.join(", "))
        }
    );
    for u in &i.updates {
        println!(
            "  {}  {:<13}  {}",
            u.at.to_rfc3339(),
            u.state.as_str(),
            u.body
        );
    }
    if i.updates.is_empty() {
        println!("  draft text: {}", i.body);
    }
}

pub async fn run(config: Config, command: StatusCommand) -> anyhow::Result<ExitCode> {
    let app = gatehouse_server::build_app(config).await?;
    let actor = || Actor::System;
    match command {
        StatusCommand::Incident { command } => match command {
            IncidentCommand::Create {
                title,
                message,
                impact,
                components,
            } => {
                let draft = IncidentDraft {
                    title,
                    body: message,
                    impact: Some(impact),
                    components,
                    figures: None,
                };
                let i = app
                    .create_incident_draft(&draft, actor())
                    .await
                    .map_err(fail)?;
                println!(
                    "incident {} drafted (not public; `gatehouse status incident publish {}`)",
                    i.id, i.id
                );
            }
            IncidentCommand::Publish { id, state, message } => {
                let i = app
                    .publish_incident(id, state.as_deref(), message.as_deref(), actor())
                    .await
                    .map_err(fail)?;
                println!("incident {} published as {}", i.id, i.state);
            }
            IncidentCommand::Update { id, state, message } => {
                let i = app
                    .post_incident_update(id, &state, &message, actor())
                    .await
                    .map_err(fail)?;
                println!("incident {} is now {}", i.id, i.state);
            }
            IncidentCommand::Resolve { id, message } => {
                let i = app
                    .resolve_incident(id, &message, actor())
                    .await
                    .map_err(fail)?;
                println!("incident {} resolved", i.id);
            }
            IncidentCommand::Edit {
                id,
                title,
                impact,
                message,
                components,
            } => {
                let changes = IncidentChanges {
                    title,
                    impact,
                    body: message,
                    components,
                };
                let i = app
                    .edit_incident(id, &changes, actor())
                    .await
                    .map_err(fail)?;
                print_incident(&i);
            }
            IncidentCommand::Postmortem { id, message } => {
                let i = app
                    .set_incident_postmortem(id, &message, actor())
                    .await
                    .map_err(fail)?;
                println!("postmortem of incident {} saved", i.id);
            }
            IncidentCommand::List { limit, json } => {
                let list = app.incidents(limit).await.map_err(fail)?;
                for i in &list {
                    if json {
                        println!("{}", serde_json::to_string(i)?);
                    } else {
                        print_incident(i);
                    }
                }
                if list.is_empty() && !json {
                    eprintln!("no incidents");
                }
            }
            IncidentCommand::Show { id } => print_incident(&app.incident(id).await.map_err(fail)?),
        },
        StatusCommand::Component { command } => match command {
            ComponentCommand::List => {
                for c in app.status_components().await.map_err(fail)? {
                    println!(
                        "{:<24} {:>4}  {}  {}",
                        c.id, c.position, c.name, c.description
                    );
                }
            }
            ComponentCommand::Set {
                id,
                name,
                description,
                position,
            } => {
                let c = app
                    .put_status_component(&id, &name, &description, position, actor())
                    .await
                    .map_err(fail)?;
                println!("component {} saved", c.id);
            }
            ComponentCommand::Remove { id } => {
                app.remove_status_component(&id, actor())
                    .await
                    .map_err(fail)?;
                println!("component {id} removed");
            }
        },
    }
    Ok(ExitCode::SUCCESS)
}
