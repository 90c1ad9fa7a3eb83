//! `gatehouse demo --serve` also starts the example app (crates/example-app)
//! in this process, on a loopback port, registered as a first-party client of
//! the demo's Gatehouse: a newcomer sees an app of the site sign people in.
//! The demo's run starts it too, so that a forced reset signs people out of
//! it (issue 17): it has a back-channel logout URI and a Shared Signals
//! stream asking for every event.

use gatehouse_domain::audit::Actor;
use gatehouse_server::App;
use gatehouse_server::app::AppError;
use gatehouse_server::app::oidc::{ClientSpec, Delivery, PUSH_METHOD, StreamRequest};
use gatehouse_store::set_event;

/// The client id the demo registers for the example app.
pub const CLIENT_ID: &str = "example-app";

/// Registers the example app (or, on a database that has it, updates its URIs
/// and gives it a new secret, since the old one was shown once and is gone),
/// then serves it on a free loopback port for the life of the process.
/// Returns its URL.
pub async fn start(app: &App) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .map_err(|e| {
            anyhow::anyhow!("cannot listen on a loopback port for the example app: {e}")
        })?;
    let public = format!("http://{}", listener.local_addr()?);
    let issuer = app.oidc_issuer();
    // Register the URIs the app will send, exactly: AppConfig derives them.
    let probe = gatehouse_example_app::AppConfig::new(&issuer, CLIENT_ID, "-", &public)?;
    let spec = ClientSpec {
        name: "Example app".into(),
        redirect_uris: vec![probe.redirect_uri()],
        post_logout_redirect_uris: vec![probe.post_logout_redirect_uri()],
        first_party: true,
        // A forced reset signs the person out of the app at once (issue 17).
        backchannel_logout_uri: Some(probe.backchannel_logout_uri()),
        backchannel_logout_session_required: true,
        id_token_alg: None,
    };
    let secret = match app
        .oidc_create_client(CLIENT_ID, &spec, false, Actor::System)
        .await
    {
        Ok(created) => created.secret,
        Err(AppError::Conflict(_)) => {
            app.oidc_update_client(CLIENT_ID, &spec, Actor::System)
                .await
                .map_err(anyhow_app)?;
            Some(
                app.oidc_rotate_client_secret(CLIENT_ID, Actor::System)
                    .await
                    .map_err(anyhow_app)?,
            )
        }
        Err(e) => return Err(anyhow_app(e)),
    };
    let secret = secret.ok_or_else(|| anyhow::anyhow!("the example app's client has no secret"))?;
    stream_to(app, &probe.set_endpoint()).await?;
    let config =
        gatehouse_example_app::AppConfig::new(&issuer, CLIENT_ID, secret.expose(), &public)?;
    tokio::spawn(async move {
        // Runs until the process ends (with `serve`); a failure is logged, and
        // the rest of the demo goes on.
        if let Err(e) = gatehouse_example_app::serve(listener, config, std::future::pending()).await
        {
            tracing::error!(error = %format!("{e:#}"), "the example app stopped");
        }
    });
    Ok(public)
}

/// The example app's Shared Signals stream (one per receiver), pushing every
/// event Gatehouse transmits to `endpoint`: created, or pointed at this run's
/// app when a previous run made it.
async fn stream_to(app: &App, endpoint: &str) -> anyhow::Result<()> {
    let delivery = Delivery {
        method: PUSH_METHOD.into(),
        endpoint_url: Some(endpoint.to_owned()),
        authorization_header: None,
    };
    let why = |e: gatehouse_server::app::oidc::SsfError| {
        anyhow::anyhow!("the example app's Shared Signals stream: {}", e.description)
    };
    let existing = app.ssf_streams(CLIENT_ID, None).await.map_err(why)?;
    let mut req = StreamRequest {
        delivery: Some(delivery),
        events_requested: Some(set_event::SUPPORTED.iter().map(|e| e.to_string()).collect()),
        description: Some("The example app: signs people out on a revoked session".into()),
        ..StreamRequest::default()
    };
    match existing.first() {
        Some(s) => {
            req.stream_id = Some(s.stream_id.clone());
            app.ssf_update_stream(CLIENT_ID, &req, true)
                .await
                .map_err(why)?;
        }
        None => {
            app.ssf_create_stream(CLIENT_ID, &req).await.map_err(why)?;
        }
    }
    Ok(())
}

fn anyhow_app(e: AppError) -> anyhow::Error {
    anyhow::anyhow!("registering the example app: {e}")
}
