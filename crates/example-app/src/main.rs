//! `gatehouse-example-app`: the example app alone, against any Gatehouse.
//!
//!     gatehouse oidc client create example-app --name "Example app" --first-party \
//!       --redirect-uri http://127.0.0.1:4000/callback \
//!       --post-logout-redirect-uri http://127.0.0.1:4000/
//!     GATEHOUSE_EXAMPLE_CLIENT_SECRET=… gatehouse-example-app \
//!       --issuer http://127.0.0.1:8080 --client-id example-app

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
use gatehouse_example_app::AppConfig;

/// An example app that signs people in through Gatehouse (OpenID Connect).
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Gatehouse's issuer URL (its public_url).
    #[arg(long, env = "GATEHOUSE_EXAMPLE_ISSUER")]
    issuer: String,
    /// The client id registered with `gatehouse oidc client create`.
    #[arg(
        long,
        env = "GATEHOUSE_EXAMPLE_CLIENT_ID",
        default_value = "example-app"
    )]
    client_id: String,
    /// The client's secret (prefer the environment: a flag shows in `ps`).
    #[arg(long, env = "GATEHOUSE_EXAMPLE_CLIENT_SECRET", hide_env_values = true)]
    client_secret: String,
    /// Where the app listens.
    #[arg(
        long,
        env = "GATEHOUSE_EXAMPLE_LISTEN",
        default_value = "127.0.0.1:4000"
    )]
    listen: SocketAddr,
    /// The app's public URL (default: http://<listen>); its redirect URI is
    /// <public-url>/callback and its post-logout redirect URI <public-url>/.
    #[arg(long, env = "GATEHOUSE_EXAMPLE_PUBLIC_URL")]
    public_url: Option<String>,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Args::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let public = args
        .public_url
        .unwrap_or_else(|| format!("http://{}", args.listen));
    let config = AppConfig::new(&args.issuer, &args.client_id, &args.client_secret, &public)?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    eprintln!(
        "Example app on {public} (issuer {}, client {}); its registered URIs must be exactly \
         redirect {} and post-logout {}",
        config.issuer,
        config.client_id,
        config.redirect_uri(),
        config.post_logout_redirect_uri()
    );
    gatehouse_example_app::serve(listener, config, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}
