//! The apps that sign people in through Gatehouse (OpenID Connect clients), as
//! operators see them: read-only here. Registering, changing and disabling are
//! the CLI's (`gatehouse oidc client …`) and the admin API's, which audit each
//! change; the page says so rather than offering half of them.

use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;

use super::{Console, Layout, PageResult};
use crate::app::App;
use crate::app::oidc::ReceiverCounts;
use crate::human_time::When;

pub(super) fn router() -> Router<Arc<App>> {
    Router::new().route("/console/apps", get(apps))
}

struct AppRow {
    id: String,
    name: String,
    /// "Confidential (has a secret)" or "Public (PKCE only)".
    kind: &'static str,
    first_party: bool,
    redirect_uris: Vec<String>,
    post_logout_redirect_uris: Vec<String>,
    backchannel_logout_uri: Option<String>,
    /// Its logout tokens by state.
    deliveries: ReceiverCounts,
    created: When,
    updated: When,
    disabled: Option<When>,
}

#[derive(Template, WebTemplate)]
#[template(path = "console/apps.html")]
struct AppsPage {
    layout: Layout,
    rows: Vec<AppRow>,
    issuer: String,
}

async fn apps(State(app): State<Arc<App>>, Console(who): Console) -> PageResult {
    let now = app.clock.now();
    let counts = app.app_delivery_counts().await?;
    let rows = app
        .oidc_clients()
        .await?
        .into_iter()
        .map(|c| AppRow {
            kind: if c.secret_hash.is_some() {
                "Confidential (has a secret)"
            } else {
                "Public (PKCE only, no secret)"
            },
            first_party: c.first_party,
            created: When::new(c.created_at, now),
            updated: When::new(c.updated_at, now),
            disabled: c.disabled_at.map(|t| When::new(t, now)),
            deliveries: counts
                .iter()
                .find(|d| d.client_id == c.id)
                .cloned()
                .unwrap_or_default(),
            backchannel_logout_uri: c.backchannel_logout_uri,
            id: c.id,
            name: c.name,
            redirect_uris: c.redirect_uris,
            post_logout_redirect_uris: c.post_logout_redirect_uris,
        })
        .collect();
    Ok(AppsPage {
        layout: Layout::new(&who, "apps"),
        rows,
        issuer: app.oidc_issuer(),
    }
    .into_response())
}
