//! Pages for password recovery and for checking a notice's reference.

use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;

use super::notices_api::{RECOVERY_ACCEPTED, proof};
use super::pages::{PageForm, form_failure, is_password_field_error, with_retry};
use crate::app::{App, AppError, Client, VerifiedNotice};
use crate::human_time::When;

#[derive(Template, WebTemplate)]
#[template(path = "recover.html")]
struct RecoverPage {
    /// The operator's name for the site (`site_name`): title, header, footer.
    site_name: String,
    email: String,
    error: Option<String>,
    notice: Option<&'static str>,
}

#[derive(Template, WebTemplate)]
#[template(path = "recover_complete.html")]
struct CompletePage {
    /// The operator's name for the site (`site_name`): title, header, footer.
    site_name: String,
    email: String,
    /// The code as typed, kept when the error was about the password alone (the
    /// code was not tried, so it still works).
    code: String,
    token: Option<String>,
    error: Option<String>,
    /// An error about the new password itself, shown at that field.
    password_error: Option<String>,
    min_length: usize,
}

#[derive(Template, WebTemplate)]
#[template(path = "verify.html")]
struct VerifyPage {
    /// The operator's name for the site (`site_name`): title, header, footer.
    site_name: String,
    reference: String,
    found: Option<VerifiedNotice>,
    /// When the found notice was written, for people.
    written: Option<When>,
    not_found: bool,
    error: Option<String>,
    /// The person just said they did not expect this notice.
    reported: bool,
}

async fn recover_form(State(app): State<Arc<App>>) -> RecoverPage {
    RecoverPage {
        site_name: app.config.site_name.clone(),
        email: String::new(),
        error: None,
        notice: None,
    }
}

#[derive(Deserialize)]
pub(crate) struct RecoverForm {
    email: String,
}

async fn recover(
    State(app): State<Arc<App>>,
    client: Client,
    PageForm(f): PageForm<RecoverForm>,
) -> Response {
    match app.request_recovery(&f.email, &client).await {
        // The same page whether or not the account exists.
        Ok(()) => (
            StatusCode::ACCEPTED,
            RecoverPage {
                site_name: app.config.site_name.clone(),
                email: String::new(),
                error: None,
                notice: Some(RECOVERY_ACCEPTED),
            },
        )
            .into_response(),
        Err(e) => {
            let (status, msg, retry) = form_failure(e);
            with_retry(
                (
                    status,
                    RecoverPage {
                        site_name: app.config.site_name.clone(),
                        email: f.email,
                        error: Some(msg),
                        notice: None,
                    },
                )
                    .into_response(),
                retry,
            )
        }
    }
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// The link in a recovery mail lands here: it only fills in the form (the
/// token is used when the person submits a new password, never on a GET that
/// a mail scanner might make). The global `Referrer-Policy: no-referrer` keeps
/// the token out of any request this page causes.
async fn complete_form(State(app): State<Arc<App>>, Query(q): Query<TokenQuery>) -> CompletePage {
    CompletePage {
        site_name: app.config.site_name.clone(),
        email: String::new(),
        code: String::new(),
        token: q.token.filter(|t| !t.trim().is_empty()),
        error: None,
        password_error: None,
        min_length: app.config.password_policy.min_chars(),
    }
}

#[derive(Deserialize)]
pub(crate) struct CompleteForm {
    email: Option<String>,
    code: Option<String>,
    token: Option<String>,
    new_password: String,
    new_password_confirm: String,
}

async fn complete(
    State(app): State<Arc<App>>,
    client: Client,
    PageForm(f): PageForm<CompleteForm>,
) -> Response {
    let page = |e: AppError| {
        // About the new password alone (too short, breached, the two differ):
        // the code was not tried, so it is kept and the error sits at the
        // password fields. Anything else is about the address or the code.
        let at_password = is_password_field_error(&e)
            || matches!(&e, AppError::Invalid { field, .. } if *field == "new_password");
        let (status, msg, retry) = form_failure(e);
        let (error, password_error) = if at_password {
            (None, Some(msg))
        } else {
            (Some(msg), None)
        };
        let p = CompletePage {
            site_name: app.config.site_name.clone(),
            email: f.email.clone().unwrap_or_default(),
            code: if at_password {
                f.code.clone().unwrap_or_default()
            } else {
                String::new()
            },
            token: f.token.clone().filter(|t| !t.trim().is_empty()),
            error,
            password_error,
            min_length: app.config.password_policy.min_chars(),
        };
        with_retry((status, p).into_response(), retry)
    };
    if f.new_password != f.new_password_confirm {
        return page(AppError::Invalid {
            field: "new_password",
            message: "the two passwords are not the same".into(),
        });
    }
    let proof = match proof(f.email.as_deref(), f.code.as_deref(), f.token.as_deref()) {
        Ok(p) => p,
        Err(e) => return page(e),
    };
    match app.complete_recovery(proof, &f.new_password, &client).await {
        Ok(()) => Redirect::to("/login?done=recovered").into_response(),
        Err(e) => page(e),
    }
}

#[derive(Deserialize)]
struct VerifyQuery {
    reference: Option<String>,
}

async fn verify(
    State(app): State<Arc<App>>,
    client: Client,
    Query(q): Query<VerifyQuery>,
) -> Response {
    let reference = q.reference.unwrap_or_default();
    let mut page = VerifyPage {
        site_name: app.config.site_name.clone(),
        reference: reference.clone(),
        found: None,
        written: None,
        not_found: false,
        error: None,
        reported: false,
    };
    if reference.trim().is_empty() {
        return page.into_response();
    }
    match app.verify_reference(&reference, &client).await {
        Ok(n) => {
            page.written = When::parse(&n.created_at, app.clock.now());
            page.found = Some(n);
            page.into_response()
        }
        Err(AppError::NotFound(_)) => {
            page.not_found = true;
            (StatusCode::NOT_FOUND, page).into_response()
        }
        Err(e) => {
            let (status, msg, retry) = form_failure(e);
            page.error = Some(msg);
            with_retry((status, page).into_response(), retry)
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct ReportForm {
    reference: String,
}

/// "I did not expect this": from the verify page of a forced-reset notice.
async fn report(
    State(app): State<Arc<App>>,
    client: Client,
    PageForm(f): PageForm<ReportForm>,
) -> Response {
    let mut page = VerifyPage {
        site_name: app.config.site_name.clone(),
        reference: f.reference.clone(),
        found: None,
        written: None,
        not_found: false,
        error: None,
        reported: false,
    };
    match app.report_unexpected_notice(&f.reference, &client).await {
        Ok(()) => {
            page.reported = true;
            page.found = app.verify_reference(&f.reference, &client).await.ok();
            page.written = page
                .found
                .as_ref()
                .and_then(|n| When::parse(&n.created_at, app.clock.now()));
            page.into_response()
        }
        Err(AppError::NotFound(_)) => {
            page.not_found = true;
            (StatusCode::NOT_FOUND, page).into_response()
        }
        Err(e) => {
            let (status, msg, retry) = form_failure(e);
            page.error = Some(msg);
            with_retry((status, page).into_response(), retry)
        }
    }
}

/// The routes.
pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/recover", get(recover_form).post(recover))
        .route("/recover/complete", get(complete_form).post(complete))
        .route("/verify", get(verify))
        .route("/verify/report", axum::routing::post(report))
}
