//! An example app of the site: it signs people in through Gatehouse with an
//! OpenID Connect relying-party library made for apps (the `openidconnect`
//! crate), never with Gatehouse's own code, so it shows what any app of the site
//! does and proves the provider works with one.
//!
//! Pages: `/` (who is signed in, or a "Sign in" button), `/login` (starts the
//! authorization code flow with PKCE S256, `state` and `nonce`), `/callback`
//! (checks `state` and `iss`, exchanges the code, validates the ID token through
//! the library, starts the app's own session), `POST /logout` (ends the app's
//! session and sends the person to Gatehouse's `end_session_endpoint` with
//! `id_token_hint` and the registered `post_logout_redirect_uri`),
//! `POST /backchannel-logout` (Gatehouse ends the app's sessions of a `sid` or
//! `sub`, with a logout token the app validates), `POST /ssf/events` (a
//! Shared Signals receiver: Gatehouse pushes Security Event Tokens; a revoked
//! session or a forced reset ends the app's sessions too).
//!
//! Run alone with the `gatehouse-example-app` binary, or inside
//! `gatehouse demo --serve` ([`serve`] on a listener the demo chose).

mod backchannel;
#[cfg(test)]
mod backchannel_tests;
mod pages;
mod rp;
mod sessions;
mod signals;
#[cfg(test)]
mod signals_tests;

use std::future::Future;
use std::sync::Arc;

use anyhow::Context as _;
use axum::Router;
use axum::routing::{get, post};
use url::Url;

pub use sessions::{AppSession, Sessions};

/// What the app needs to know: where Gatehouse is, who the app is there, and
/// where the app itself is reached.
#[derive(Clone, Debug)]
pub struct AppConfig {
    /// Gatehouse's issuer (its `public_url`), e.g. `https://gatehouse.example`.
    pub issuer: Url,
    /// The client id registered with `gatehouse oidc client create`.
    pub client_id: String,
    /// The client's secret (printed once when it was registered).
    pub client_secret: String,
    /// The app's own public URL, e.g. `http://127.0.0.1:4000`: the redirect URI
    /// is `<public_url>/callback` and the post-logout redirect URI `<public_url>/`.
    pub public_url: Url,
}

impl AppConfig {
    /// Checks the URLs (clear errors before anything listens).
    pub fn new(
        issuer: &str,
        client_id: &str,
        client_secret: &str,
        public_url: &str,
    ) -> anyhow::Result<Self> {
        let issuer = Url::parse(issuer.trim_end_matches('/'))
            .with_context(|| format!("the issuer URL {issuer:?} is not a URL"))?;
        let public_url = Url::parse(public_url)
            .with_context(|| format!("the app's public URL {public_url:?} is not a URL"))?;
        for (what, u) in [("issuer", &issuer), ("app's public", &public_url)] {
            anyhow::ensure!(
                matches!(u.scheme(), "http" | "https") && u.host().is_some(),
                "the {what} URL {u} must be an http or https URL with a host"
            );
            anyhow::ensure!(
                u.query().is_none() && u.fragment().is_none(),
                "the {what} URL {u} must have no query or fragment"
            );
        }
        anyhow::ensure!(
            public_url.path() == "/",
            "the app's public URL {public_url} must be an origin (no path): the app's pages are at its root"
        );
        anyhow::ensure!(!client_id.is_empty(), "the client id is empty");
        anyhow::ensure!(
            !client_secret.is_empty(),
            "the client secret is empty (it was printed once by `gatehouse oidc client create`; \
             `gatehouse oidc client rotate-secret` makes a new one)"
        );
        Ok(Self {
            issuer,
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            public_url,
        })
    }

    /// The redirect URI to register (exactly this text).
    pub fn redirect_uri(&self) -> String {
        format!("{}/callback", self.origin())
    }

    /// The back-channel logout URI to register: where Gatehouse posts a logout
    /// token when a session this app holds tokens in ends.
    pub fn backchannel_logout_uri(&self) -> String {
        format!("{}/backchannel-logout", self.origin())
    }

    /// The post-logout redirect URI to register (exactly this text).
    pub fn post_logout_redirect_uri(&self) -> String {
        format!("{}/", self.origin())
    }

    /// Where a Shared Signals stream pushes its SETs (RFC 8935).
    pub fn set_endpoint(&self) -> String {
        format!("{}/ssf/events", self.origin())
    }

    fn origin(&self) -> String {
        self.public_url.origin().ascii_serialization()
    }

    /// Cookies are `Secure` (with the `__Host-` prefix) when the app is served over https.
    fn https(&self) -> bool {
        self.public_url.scheme() == "https"
    }
}

/// The app's state: configuration, the provider's cached metadata, the HTTP
/// client the library uses, and the sessions.
pub struct ExampleApp {
    config: AppConfig,
    provider: rp::Provider,
    sessions: Sessions,
    /// `jti`s of accepted back-channel logout tokens (replay).
    seen_logout_tokens: backchannel::SeenTokens,
    /// `jti`s of SETs acted on (a retry is not acted on twice).
    seen_sets: backchannel::SeenTokens,
}

impl ExampleApp {
    pub fn new(config: AppConfig) -> anyhow::Result<Arc<Self>> {
        Ok(Arc::new(Self {
            provider: rp::Provider::new(&config)?,
            config,
            sessions: Sessions::default(),
            seen_logout_tokens: Default::default(),
            seen_sets: Default::default(),
        }))
    }

    /// The app's sessions; back-channel logout ends them by `sid` or `sub`
    /// ([`Sessions::end_by_sid`], [`Sessions::end_by_sub`]).
    pub fn sessions(&self) -> &Sessions {
        &self.sessions
    }

    pub fn config(&self) -> &AppConfig {
        &self.config
    }
}

/// The app's routes.
pub fn router(app: Arc<ExampleApp>) -> Router {
    Router::new()
        .route("/", get(rp::home))
        .route("/login", get(rp::login))
        .route("/callback", get(rp::callback))
        .route("/logout", post(rp::logout))
        .route("/backchannel-logout", post(backchannel::backchannel_logout))
        .route("/ssf/events", post(signals::receive))
        .route("/style.css", get(pages::style))
        .fallback(rp::not_found)
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            pages::security_headers,
        ))
        .with_state(app)
}

/// Serves the app on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: AppConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let app = ExampleApp::new(config)?;
    axum::serve(listener, router(app))
        .with_graceful_shutdown(shutdown)
        .await
        .context("the example app's server stopped")
}

#[cfg(test)]
mod tests {
    use super::AppConfig;

    #[test]
    fn the_registered_uris_derive_from_the_public_url() {
        let c = AppConfig::new(
            "http://127.0.0.1:8080/",
            "app",
            "s",
            "http://127.0.0.1:4000",
        )
        .unwrap();
        assert_eq!(c.issuer.as_str(), "http://127.0.0.1:8080/");
        assert_eq!(c.redirect_uri(), "http://127.0.0.1:4000/callback");
        assert_eq!(c.post_logout_redirect_uri(), "http://127.0.0.1:4000/");
        assert!(!c.https());
        assert!(
            AppConfig::new("https://g.example", "app", "s", "https://app.example/")
                .unwrap()
                .https()
        );
    }

    #[test]
    fn bad_configuration_is_refused_with_the_reason() {
        let err = |i: &str, id: &str, s: &str, p: &str| {
            AppConfig::new(i, id, s, p).unwrap_err().to_string()
        };
        assert!(err("not a url", "a", "s", "http://x").contains("issuer URL"));
        assert!(err("ftp://g.example", "a", "s", "http://x").contains("http or https"));
        assert!(err("http://g", "a", "s", "http://x/app").contains("no path"));
        assert!(err("http://g", "a", "s", "http://x/?q=1").contains("no query"));
        assert!(err("http://g", "", "s", "http://x").contains("client id is empty"));
        assert!(err("http://g", "a", "", "http://x").contains("rotate-secret"));
    }
}
