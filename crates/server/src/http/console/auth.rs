//! Console sign-in and sign-out.

use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use serde::Deserialize;

use super::{
    CONSOLE_NAME, ConsoleAction, clear_session_cookie, cookie_name, new_session_cookie, safe_next,
};
use crate::app::{App, AppError, Client};
use crate::http::pages::{PageForm, form_failure, with_retry};

pub(super) fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/console/login", get(form).post(sign_in))
        .route("/console/logout", post(sign_out))
}

#[derive(Template, WebTemplate)]
#[template(path = "console_login.html")]
struct LoginPage {
    /// The operator's name for the site (`site_name`): title, header, footer.
    site_name: String,
    email: String,
    next: String,
    error: Option<String>,
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

fn next_or_home(next: Option<&str>) -> String {
    next.filter(|n| safe_next(n))
        .unwrap_or("/console")
        .to_owned()
}

async fn form(State(app): State<Arc<App>>, jar: CookieJar, Query(q): Query<NextQuery>) -> Response {
    let next = next_or_home(q.next.as_deref());
    // Already signed in: straight on.
    if let Some(c) = jar.get(cookie_name(&app.config))
        && app.console_authenticate(c.value()).await.is_ok()
    {
        return Redirect::to(&next).into_response();
    }
    LoginPage {
        site_name: CONSOLE_NAME.to_owned(),
        email: String::new(),
        next,
        error: None,
    }
    .into_response()
}

#[derive(Deserialize)]
pub(super) struct SignInForm {
    email: String,
    password: String,
    next: Option<String>,
}

async fn sign_in(
    State(app): State<Arc<App>>,
    client: Client,
    jar: CookieJar,
    PageForm(f): PageForm<SignInForm>,
) -> Response {
    let next = next_or_home(f.next.as_deref());
    match app.console_sign_in(&f.email, &f.password, &client).await {
        Ok(s) => (
            jar.add(new_session_cookie(&app.config, s.token.expose())),
            Redirect::to(&next),
        )
            .into_response(),
        Err(e) => {
            // One message for unknown operator, no password yet and wrong password.
            let (status, msg, retry) = match e {
                AppError::InvalidCredentials => (
                    axum::http::StatusCode::UNAUTHORIZED,
                    "That e-mail and password do not match an operator.".to_owned(),
                    None,
                ),
                other => form_failure(other),
            };
            let page = LoginPage {
                site_name: CONSOLE_NAME.to_owned(),
                email: f.email,
                next,
                error: Some(msg),
            };
            with_retry((status, page).into_response(), retry)
        }
    }
}

#[derive(Deserialize)]
struct Empty {}

async fn sign_out(
    State(app): State<Arc<App>>,
    client: Client,
    jar: CookieJar,
    action: ConsoleAction<Empty>,
) -> Response {
    // Best effort on the server side; the cookie goes either way.
    if let Err(e) = app.console_sign_out(&action.who, &client).await {
        tracing::warn!(error = %e, "could not end a console session");
    }
    (
        jar.add(clear_session_cookie(&app.config)),
        Redirect::to("/console/login"),
    )
        .into_response()
}
