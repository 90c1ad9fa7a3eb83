//! JSON routes of the status page: the public view (`GET /status`), a
//! subscription request, and the operators' components and incidents
//! (`/admin/status/…`, operator key).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use gatehouse_store::{Incident, StatusComponent, SubscriberCounts};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::status::{IncidentChanges, IncidentDraft, PublicStatus, SUBSCRIBE_ACCEPTED};
use crate::app::{App, Client};
use crate::http::error::{ApiError, ApiJson, ApiPath, ApiQuery, ErrorBody, page_limit};
use crate::http::extract::{IdPath, IncidentId, OperatorAuth};

type AppState = State<Arc<App>>;

/// The public status: components, open incidents, the last 90 days.
#[utoipa::path(get, path = "/status", tag = "status",
    responses((status = 200, body = PublicStatus)))]
async fn public_status(State(app): AppState) -> Result<axum::Json<PublicStatus>, ApiError> {
    Ok(axum::Json(app.public_status().await?))
}

/// A subscription request.
#[derive(Deserialize, ToSchema)]
pub struct SubscribeBody {
    /// Where to send status updates.
    #[schema(example = "ada@example.com", format = Email)]
    pub email: String,
}

/// The same answer for every valid request.
#[derive(Serialize, ToSchema)]
pub struct SubscribeAccepted {
    /// Always `accepted`.
    pub status: &'static str,
    /// What happens next.
    pub message: &'static str,
}

/// Asks for status updates by e-mail (double opt-in: a confirmation link is
/// mailed). Always 202 with the same body, subscribed already or not.
#[utoipa::path(post, path = "/status/subscribe", tag = "status", request_body = SubscribeBody,
    responses((status = 202, body = SubscribeAccepted), (status = 400, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn subscribe(
    State(app): AppState,
    client: Client,
    ApiJson(body): ApiJson<SubscribeBody>,
) -> Result<(StatusCode, axum::Json<SubscribeAccepted>), ApiError> {
    app.subscribe_status(&body.email, &client).await?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(SubscribeAccepted {
            status: "accepted",
            message: SUBSCRIBE_ACCEPTED,
        }),
    ))
}

/// A component.
#[derive(Serialize, ToSchema)]
pub struct ComponentBody {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// One line about it.
    pub description: String,
    /// Sort order.
    pub position: i64,
    /// Last edited, RFC 3339.
    pub updated_at: String,
}

impl From<StatusComponent> for ComponentBody {
    fn from(c: StatusComponent) -> Self {
        Self {
            id: c.id,
            name: c.name,
            description: c.description,
            position: c.position,
            updated_at: c.updated_at.to_rfc3339(),
        }
    }
}

/// A component to create or replace.
#[derive(Deserialize, ToSchema)]
pub struct PutComponentBody {
    /// Name shown.
    #[schema(format = "one-line", max_length = 100)]
    pub name: String,
    /// One line about it (blank: none).
    #[serde(default)]
    #[schema(format = "optional-one-line", max_length = 200)]
    pub description: String,
    /// Sort order (default 0; then by id).
    #[serde(default)]
    pub position: i64,
}

/// One update, for operators.
#[derive(Serialize, ToSchema)]
pub struct UpdateBody {
    /// Id.
    pub id: i64,
    /// State it moved to.
    pub state: String,
    /// Text.
    pub body: String,
    /// When, RFC 3339.
    pub at: String,
    /// `operator:<id>` or `system`.
    pub author: String,
}

/// An incident, for operators (drafts and figures included).
#[derive(Serialize, ToSchema)]
pub struct IncidentBody {
    /// Id.
    pub id: i64,
    /// Title.
    pub title: String,
    /// `draft`, `investigating`, `identified`, `monitoring` or `resolved`.
    pub state: String,
    /// `none`, `minor`, `major` or `critical`.
    pub impact: String,
    /// The draft's text (the first update once published).
    pub body: String,
    /// Facts from whoever drafted it; never public.
    #[schema(value_type = Option<serde_json::Value>)]
    pub figures: Option<serde_json::Value>,
    /// Postmortem.
    pub postmortem: Option<String>,
    /// Affected components.
    pub components: Vec<String>,
    /// Created, RFC 3339.
    pub created_at: String,
    /// `operator:<id>` or `system`.
    pub created_by: String,
    /// Published, RFC 3339.
    pub published_at: Option<String>,
    /// Resolved, RFC 3339.
    pub resolved_at: Option<String>,
    /// Updates, oldest first.
    pub updates: Vec<UpdateBody>,
}

impl From<Incident> for IncidentBody {
    fn from(i: Incident) -> Self {
        Self {
            id: i.id,
            title: i.title,
            state: i.state.as_str().into(),
            impact: i.impact.as_str().into(),
            body: i.body,
            figures: i.figures,
            postmortem: i.postmortem,
            components: i.components,
            created_at: i.created_at.to_rfc3339(),
            created_by: i.created_by,
            published_at: i.published_at.map(|t| t.to_rfc3339()),
            resolved_at: i.resolved_at.map(|t| t.to_rfc3339()),
            updates: i
                .updates
                .into_iter()
                .map(|u| UpdateBody {
                    id: u.id,
                    state: u.state.as_str().into(),
                    body: u.body,
                    at: u.at.to_rfc3339(),
                    author: u.author,
                })
                .collect(),
        }
    }
}

/// Publishing a draft.
#[derive(Deserialize, ToSchema, Default)]
pub struct PublishBody {
    /// `investigating` (default), `identified` or `monitoring`.
    #[schema(pattern = "^(investigating|identified|monitoring)$")]
    pub state: Option<String>,
    /// The first update's text (default: the draft's text).
    #[schema(format = "multi-line", max_length = 20000)]
    pub body: Option<String>,
}

/// An update to post.
#[derive(Deserialize, ToSchema)]
pub struct PostUpdateBody {
    /// `investigating`, `identified`, `monitoring` or `resolved`.
    #[schema(pattern = "^(investigating|identified|monitoring|resolved)$")]
    pub state: String,
    /// What people are told.
    #[schema(format = "multi-line", max_length = 20000)]
    pub body: String,
}

/// Text for a resolution or a postmortem.
#[derive(Deserialize, ToSchema)]
pub struct TextBody {
    /// The text.
    #[schema(format = "multi-line", max_length = 20000)]
    pub body: String,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Most incidents (default 50, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
}

/// Components in page order (operator key).
#[utoipa::path(get, path = "/admin/status/components", tag = "admin",
    responses((status = 200, body = Vec<ComponentBody>), (status = 401, body = ErrorBody)), security(("operator" = [])))]
async fn list_components(
    State(app): AppState,
    OperatorAuth(_op): OperatorAuth,
) -> Result<axum::Json<Vec<ComponentBody>>, ApiError> {
    let list = app.status_components().await?;
    Ok(axum::Json(list.into_iter().map(Into::into).collect()))
}

/// Creates or replaces a component (operator key).
#[utoipa::path(put, path = "/admin/status/components/{id}", tag = "admin", request_body = PutComponentBody,
    params(("id" = String, Path, description = "Component id: 1 to 64 of a-z, 0-9, - (white space around it is ignored)", pattern = "^[\\t\\n\\x0b\\x0c\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*[a-z0-9-]{1,64}[\\t\\n\\x0b\\x0c\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*$")),
    responses((status = 200, body = ComponentBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)), security(("operator" = [])))]
async fn put_component(
    State(app): AppState,
    OperatorAuth(op): OperatorAuth,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<PutComponentBody>,
) -> Result<axum::Json<ComponentBody>, ApiError> {
    let c = app
        .put_status_component(
            &id,
            &body.name,
            &body.description,
            body.position,
            op.actor(),
        )
        .await?;
    Ok(axum::Json(c.into()))
}

/// Removes a component (operator key).
#[utoipa::path(delete, path = "/admin/status/components/{id}", tag = "admin",
    params(("id" = String, Path, description = "Component id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)), security(("operator" = [])))]
async fn remove_component(
    State(app): AppState,
    OperatorAuth(op): OperatorAuth,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    app.remove_status_component(&id, op.actor()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Incidents, newest first, drafts included (operator key).
#[utoipa::path(get, path = "/admin/status/incidents", tag = "admin", params(ListQuery),
    responses((status = 200, body = Vec<IncidentBody>), (status = 401, body = ErrorBody)), security(("operator" = [])))]
async fn list_incidents(
    State(app): AppState,
    OperatorAuth(_op): OperatorAuth,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<axum::Json<Vec<IncidentBody>>, ApiError> {
    let list = app.incidents(page_limit(q.limit, 50)?).await?;
    Ok(axum::Json(list.into_iter().map(Into::into).collect()))
}

/// Writes an incident draft; it is not public until published (operator key).
#[utoipa::path(post, path = "/admin/status/incidents", tag = "admin", request_body = IncidentDraft,
    responses((status = 201, body = IncidentBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "an unknown component")), security(("operator" = [])))]
async fn create_incident(
    State(app): AppState,
    OperatorAuth(op): OperatorAuth,
    ApiJson(draft): ApiJson<IncidentDraft>,
) -> Result<(StatusCode, axum::Json<IncidentBody>), ApiError> {
    let i = app.create_incident_draft(&draft, op.actor()).await?;
    Ok((StatusCode::CREATED, axum::Json(i.into())))
}

/// One incident (operator key).
#[utoipa::path(get, path = "/admin/status/incidents/{id}", tag = "admin",
    params(("id" = i64, Path, description = "Incident id")),
    responses((status = 200, body = IncidentBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)), security(("operator" = [])))]
async fn get_incident(
    State(app): AppState,
    OperatorAuth(_op): OperatorAuth,
    IdPath(IncidentId(id)): IdPath<IncidentId>,
) -> Result<axum::Json<IncidentBody>, ApiError> {
    Ok(axum::Json(app.incident(id).await?.into()))
}

/// Edits an incident's wording: title, impact, components; a draft's text (operator key).
#[utoipa::path(patch, path = "/admin/status/incidents/{id}", tag = "admin", request_body = IncidentChanges,
    params(("id" = i64, Path, description = "Incident id")),
    responses((status = 200, body = IncidentBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)), security(("operator" = [])))]
async fn edit_incident(
    State(app): AppState,
    OperatorAuth(op): OperatorAuth,
    IdPath(IncidentId(id)): IdPath<IncidentId>,
    ApiJson(changes): ApiJson<IncidentChanges>,
) -> Result<axum::Json<IncidentBody>, ApiError> {
    Ok(axum::Json(
        app.edit_incident(id, &changes, op.actor()).await?.into(),
    ))
}

/// Publishes a draft and mails the subscribers (operator key).
#[utoipa::path(post, path = "/admin/status/incidents/{id}/publish", tag = "admin", request_body = PublishBody,
    params(("id" = i64, Path, description = "Incident id")),
    responses((status = 200, body = IncidentBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "not a draft")), security(("operator" = [])))]
async fn publish(
    State(app): AppState,
    OperatorAuth(op): OperatorAuth,
    IdPath(IncidentId(id)): IdPath<IncidentId>,
    ApiJson(body): ApiJson<PublishBody>,
) -> Result<axum::Json<IncidentBody>, ApiError> {
    let i = app
        .publish_incident(id, body.state.as_deref(), body.body.as_deref(), op.actor())
        .await?;
    Ok(axum::Json(i.into()))
}

/// Posts an update to a public incident and mails the subscribers (operator key).
#[utoipa::path(post, path = "/admin/status/incidents/{id}/updates", tag = "admin", request_body = PostUpdateBody,
    params(("id" = i64, Path, description = "Incident id")),
    responses((status = 200, body = IncidentBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "a draft, or resolved")), security(("operator" = [])))]
async fn post_update(
    State(app): AppState,
    OperatorAuth(op): OperatorAuth,
    IdPath(IncidentId(id)): IdPath<IncidentId>,
    ApiJson(body): ApiJson<PostUpdateBody>,
) -> Result<axum::Json<IncidentBody>, ApiError> {
    let i = app
        .post_incident_update(id, &body.state, &body.body, op.actor())
        .await?;
    Ok(axum::Json(i.into()))
}

/// Resolves a public incident with a last update (operator key).
#[utoipa::path(post, path = "/admin/status/incidents/{id}/resolve", tag = "admin", request_body = TextBody,
    params(("id" = i64, Path, description = "Incident id")),
    responses((status = 200, body = IncidentBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)), security(("operator" = [])))]
async fn resolve(
    State(app): AppState,
    OperatorAuth(op): OperatorAuth,
    IdPath(IncidentId(id)): IdPath<IncidentId>,
    ApiJson(body): ApiJson<TextBody>,
) -> Result<axum::Json<IncidentBody>, ApiError> {
    Ok(axum::Json(
        app.resolve_incident(id, &body.body, op.actor())
            .await?
            .into(),
    ))
}

/// Writes or replaces the postmortem (operator key).
#[utoipa::path(put, path = "/admin/status/incidents/{id}/postmortem", tag = "admin", request_body = TextBody,
    params(("id" = i64, Path, description = "Incident id")),
    responses((status = 200, body = IncidentBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "a draft")), security(("operator" = [])))]
async fn postmortem(
    State(app): AppState,
    OperatorAuth(op): OperatorAuth,
    IdPath(IncidentId(id)): IdPath<IncidentId>,
    ApiJson(body): ApiJson<TextBody>,
) -> Result<axum::Json<IncidentBody>, ApiError> {
    Ok(axum::Json(
        app.set_incident_postmortem(id, &body.body, op.actor())
            .await?
            .into(),
    ))
}

/// Subscribers per state (operator key).
#[utoipa::path(get, path = "/admin/status/subscribers", tag = "admin",
    responses((status = 200, description = "`{pending, confirmed, unsubscribed}`"), (status = 401, body = ErrorBody)), security(("operator" = [])))]
async fn subscribers(
    State(app): AppState,
    OperatorAuth(_op): OperatorAuth,
) -> Result<axum::Json<SubscriberCounts>, ApiError> {
    Ok(axum::Json(app.status_subscriber_counts().await?))
}

/// The routes with their OpenAPI entries.
pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(public_status))
        .routes(routes!(subscribe))
        .routes(routes!(list_components))
        .routes(routes!(put_component, remove_component))
        .routes(routes!(list_incidents, create_incident))
        .routes(routes!(get_incident, edit_incident))
        .routes(routes!(publish))
        .routes(routes!(post_update))
        .routes(routes!(resolve))
        .routes(routes!(postmortem))
        .routes(routes!(subscribers))
}
