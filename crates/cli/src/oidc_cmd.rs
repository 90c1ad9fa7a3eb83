//! `gatehouse oidc client …|keys …`: register the apps that sign people in
//! through Gatehouse (OpenID Connect), and manage the signing keys.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use gatehouse_domain::audit::Actor;
use gatehouse_server::Config;
use gatehouse_server::app::oidc::{ClientSpec, ClientView, SigningAlg};
use gatehouse_store::ClientRecord;

#[derive(Subcommand)]
pub enum OidcCommand {
    /// Registered apps (OpenID Connect clients).
    Client {
        #[command(subcommand)]
        command: ClientCommand,
    },
    /// The keys ID and access tokens are signed with.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
}

#[derive(Args)]
pub struct SpecArgs {
    /// The name people see on the consent page.
    #[arg(long)]
    name: String,
    /// A redirect URI, exactly as the app sends it (repeat for several).
    #[arg(long = "redirect-uri", required = true)]
    redirect_uris: Vec<String>,
    /// Where the app may send people after signing out (repeat for several).
    #[arg(long = "post-logout-redirect-uri")]
    post_logout_redirect_uris: Vec<String>,
    /// The site's own app: no consent page.
    #[arg(long)]
    first_party: bool,
    /// Where the app takes back-channel logout tokens (https, or http on
    /// loopback; no fragment): every session end it holds tokens in is POSTed
    /// there. Left out: none (an update without it removes it).
    #[arg(long = "backchannel-logout-uri")]
    backchannel_logout_uri: Option<String>,
    /// The app needs `sid` in logout tokens (Gatehouse always sends it).
    #[arg(long)]
    backchannel_logout_session_required: bool,
    /// How the app's ID tokens are signed: ES256 (default) or RS256, for an
    /// old client that validates nothing else. Left out on an update: kept.
    #[arg(long = "id-token-alg", value_parser = parse_alg)]
    id_token_alg: Option<SigningAlg>,
}

fn parse_alg(s: &str) -> Result<SigningAlg, String> {
    SigningAlg::parse(s).ok_or_else(|| format!("{s}: the algorithms offered are ES256 and RS256"))
}

impl SpecArgs {
    fn spec(self) -> ClientSpec {
        ClientSpec {
            name: self.name,
            redirect_uris: self.redirect_uris,
            post_logout_redirect_uris: self.post_logout_redirect_uris,
            first_party: self.first_party,
            backchannel_logout_uri: self.backchannel_logout_uri,
            backchannel_logout_session_required: self.backchannel_logout_session_required,
            id_token_alg: self.id_token_alg,
        }
    }
}

#[derive(Subcommand)]
pub enum ClientCommand {
    /// Register an app; a confidential client's secret is printed once.
    Create {
        /// The client id the app will send (letters, digits, '.', '_', '-').
        id: String,
        #[command(flatten)]
        spec: SpecArgs,
        /// A browser or mobile app that cannot keep a secret (PKCE only).
        #[arg(long)]
        public: bool,
    },
    /// List registered apps.
    List {
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Show one app.
    Show {
        /// The client id.
        id: String,
    },
    /// Replace an app's name, redirect URIs and first-party flag.
    Update {
        /// The client id.
        id: String,
        #[command(flatten)]
        spec: SpecArgs,
    },
    /// Give a confidential app a new secret (printed once; the old one stops working).
    RotateSecret {
        /// The client id.
        id: String,
    },
    /// Disable an app: it signs no one in, and every grant it holds is revoked.
    Disable {
        /// The client id.
        id: String,
    },
}

#[derive(Subcommand)]
pub enum KeysCommand {
    /// The published signing keys (the newest signs).
    List,
    /// Add a new signing key: published now, it signs five minutes later (when
    /// every relying party's cached JWKS has it); the key it replaces stays
    /// published until every token it signed has expired.
    Rotate {
        /// ES256 (the default key) or RS256 (the key of clients registered
        /// with `--id-token-alg RS256`).
        #[arg(long, value_parser = parse_alg, default_value = "ES256")]
        alg: SigningAlg,
    },
}

fn view(c: &ClientRecord) -> serde_json::Value {
    // The same facts, in the same shape, as the admin API's.
    serde_json::to_value(ClientView::from(c)).unwrap_or_default()
}

fn print_client(c: &ClientRecord) {
    let v = view(c);
    println!("client_id:     {}", c.id);
    println!("name:          {}", c.name);
    println!("type:          {}", v["type"].as_str().unwrap_or(""));
    println!(
        "first party:   {}",
        if c.first_party {
            "yes (no consent page)"
        } else {
            "no"
        }
    );
    for u in &c.redirect_uris {
        println!("redirect URI:  {u}");
    }
    for u in &c.post_logout_redirect_uris {
        println!("after logout:  {u}");
    }
    if let Some(u) = &c.backchannel_logout_uri {
        println!("logout tokens: {u}");
    }
    println!("created:       {}", c.created_at.to_rfc3339());
    if let Some(d) = c.disabled_at {
        println!("DISABLED:      {}", d.to_rfc3339());
    }
}

pub async fn run(config: Config, command: OidcCommand) -> anyhow::Result<ExitCode> {
    let issuer = config.public_url.as_str().trim_end_matches('/').to_owned();
    let app = gatehouse_server::build_app(config).await?;
    let fail = |e: gatehouse_server::app::AppError| anyhow::anyhow!("{e}");
    match command {
        OidcCommand::Client { command } => match command {
            ClientCommand::Create { id, spec, public } => {
                let created = app
                    .oidc_create_client(&id, &spec.spec(), public, Actor::System)
                    .await
                    .map_err(fail)?;
                print_client(&created.client);
                if let Some(secret) = created.secret {
                    println!("client_secret: {}", secret.expose());
                    eprintln!(
                        "\nThe secret is shown only this once: store it in the app's configuration now."
                    );
                }
                eprintln!("Discovery: {issuer}/.well-known/openid-configuration");
            }
            ClientCommand::List { json } => {
                let clients = app.oidc_clients().await.map_err(fail)?;
                if json {
                    for c in &clients {
                        println!("{}", view(c));
                    }
                } else {
                    println!(
                        "{:<24}  {:<12}  {:<8}  {:<9}  name",
                        "client_id", "type", "1st party", "state"
                    );
                    for c in &clients {
                        println!(
                            "{:<24}  {:<12}  {:<9}  {:<9}  {}",
                            c.id,
                            if c.secret_hash.is_some() {
                                "confidential"
                            } else {
                                "public"
                            },
                            if c.first_party { "yes" } else { "no" },
                            if c.disabled_at.is_some() {
                                "disabled"
                            } else {
                                "enabled"
                            },
                            c.name
                        );
                    }
                    if clients.is_empty() {
                        eprintln!("no clients; register one with `gatehouse oidc client create`");
                    }
                }
            }
            ClientCommand::Show { id } => print_client(&app.oidc_client(&id).await.map_err(fail)?),
            ClientCommand::Update { id, spec } => {
                print_client(
                    &app.oidc_update_client(&id, &spec.spec(), Actor::System)
                        .await
                        .map_err(fail)?,
                );
            }
            ClientCommand::RotateSecret { id } => {
                let secret = app
                    .oidc_rotate_client_secret(&id, Actor::System)
                    .await
                    .map_err(fail)?;
                println!("client_secret: {}", secret.expose());
                eprintln!("The old secret no longer works. This one is shown only this once.");
            }
            ClientCommand::Disable { id } => {
                if app
                    .oidc_disable_client(&id, Actor::System)
                    .await
                    .map_err(fail)?
                {
                    println!("{id} is disabled; its grants are revoked");
                } else {
                    println!("{id} was already disabled");
                }
            }
        },
        OidcCommand::Keys { command } => match command {
            KeysCommand::List => {
                for k in app.oidc_keys().await.map_err(fail)? {
                    let role = match (k.signing, &k.signs_from, &k.published_until) {
                        (true, _, _) => "  (signing)".to_owned(),
                        (false, Some(from), _) => format!("  (published; signs from {from})"),
                        (false, None, Some(until)) => {
                            format!("  (replaced; published until {until})")
                        }
                        (false, None, None) => String::new(),
                    };
                    println!("{}  {}  {}{role}", k.kid, k.alg, k.created_at);
                }
            }
            KeysCommand::Rotate { alg } => {
                let kid = app
                    .oidc_rotate_key(alg, Actor::System)
                    .await
                    .map_err(fail)?;
                println!(
                    "{kid}  {alg}  published now; signs in {} minutes (when every cached JWKS \
                     has it); the {alg} key it replaces stays published {} minutes longer \
                     (until every token it signed has expired)",
                    gatehouse_server::app::oidc::PUBLISH_AHEAD.as_secs() / 60,
                    gatehouse_server::app::oidc::RETAIN_AFTER_SIGNING.as_secs() / 60
                );
            }
        },
    }
    Ok(ExitCode::SUCCESS)
}
