//! The library API: the group's drop-ins and templates (changed with the right to manage
//! drop-ins and templates), and starting a job's message from a template.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use tutti_core::http_error::ApiError;
use tutti_core::rights::Right;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::store::{Dropin, Saved, SenderProfile, Table, Template, scope};
use crate::LuiState;
use crate::jobs::api::{actor, job_for};
use crate::jobs::model::Actor;
use crate::message::api::{MessageView, editable, view};
use crate::message::store::MessageDraft;
use crate::session_api::LuiSession;

type ApiResult<T> = Result<T, ApiError>;

pub fn router() -> OpenApiRouter<Arc<LuiState>> {
    OpenApiRouter::new()
        .routes(routes!(list_dropins, create_dropin))
        .routes(routes!(update_dropin, delete_dropin))
        .routes(routes!(list_templates, create_template))
        .routes(routes!(delete_template))
        .routes(routes!(message_from_template))
        .routes(routes!(list_sender_profiles, create_sender_profile))
        .routes(routes!(delete_sender_profile))
}

fn db_error(e: sqlx::Error) -> ApiError {
    ApiError::internal("the system database", e)
}

/// The caller's library scope and name; the admin login has none.
async fn library_of(state: &LuiState, session: &LuiSession) -> ApiResult<(Actor, String, String)> {
    let actor = actor(state, session).await?;
    match &actor {
        Actor::User {
            id, name, group_id, ..
        } => {
            let s = scope(*group_id, *id);
            let name = name.clone();
            Ok((actor, s, name))
        }
        Actor::Admin => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "the admin login has no drop-ins or templates: log in as a user",
        )),
    }
}

fn may_manage(actor: &Actor) -> ApiResult<()> {
    if actor.has(Right::ManageDropinsTemplates) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "your account may not change drop-ins and templates",
        ))
    }
}

/// A drop-in's name: what goes between `{{` and `}}`.
fn check_name(what: &str, name: &str) -> ApiResult<String> {
    let name = name.trim();
    if name.is_empty()
        || name.chars().count() > 64
        || name.starts_with('*')
        || name.contains(['{', '}'])
    {
        return Err(ApiError::bad_request(format!(
            "\"{name}\" is not a {what} name: 1 to 64 characters, no braces, not starting with * (those are system drop-ins)"
        )));
    }
    tutti_core::names::check_visible(name)
        .map_err(|e| ApiError::bad_request(format!("the {what} name: {e}")))?;
    Ok(name.to_string())
}

fn saved(result: Saved, what: &str, name: &str) -> ApiResult<i64> {
    match result {
        Saved::Done(id) => Ok(id),
        Saved::NameTaken => Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("your group already has a {what} named \"{name}\""),
        )),
        Saved::NotFound => Err(ApiError::not_found(format!("there is no such {what}"))),
    }
}

/// The drop-ins of the caller's group.
#[utoipa::path(get, path = "/dropins", tag = "library", responses((status = 200, body = Vec<Dropin>)))]
async fn list_dropins(
    State(state): State<Arc<LuiState>>,
    session: LuiSession,
) -> ApiResult<Json<Vec<Dropin>>> {
    let (_, scope, _) = library_of(&state, &session).await?;
    Ok(Json(state.library.dropins(&scope).await.map_err(db_error)?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct DropinInput {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Merge text (fields, blocks, other drop-ins).
    pub content: String,
}

async fn save(
    state: &LuiState,
    session: &LuiSession,
    id: Option<i64>,
    input: DropinInput,
) -> ApiResult<Dropin> {
    let (actor, scope, by) = library_of(state, session).await?;
    may_manage(&actor)?;
    let name = check_name("drop-in", &input.name)?;
    if input.content.len() > 1 << 20 || input.description.len() > 2000 {
        return Err(ApiError::bad_request(
            "a drop-in holds at most 1 MB and its description 2000 bytes",
        ));
    }
    let result = state
        .library
        .save_dropin(
            &scope,
            id,
            &name,
            input.description.trim(),
            &input.content,
            &by,
        )
        .await
        .map_err(db_error)?;
    let id = saved(result, "drop-in", &name)?;
    state
        .library
        .dropins(&scope)
        .await
        .map_err(db_error)?
        .into_iter()
        .find(|d| d.id == id)
        .ok_or_else(|| ApiError::internal("drop-ins", "the saved drop-in is gone"))
}

/// Create a drop-in for the group.
#[utoipa::path(post, path = "/dropins", tag = "library", request_body = DropinInput,
    responses((status = 201, body = Dropin), (status = 400), (status = 403), (status = 409, description = "the name is taken")))]
async fn create_dropin(
    State(state): State<Arc<LuiState>>,
    session: LuiSession,
    Json(input): Json<DropinInput>,
) -> ApiResult<(StatusCode, Json<Dropin>)> {
    Ok((
        StatusCode::CREATED,
        Json(save(&state, &session, None, input).await?),
    ))
}

/// Change a drop-in (every job that uses it gets the new text when it is next checked or sent).
#[utoipa::path(put, path = "/dropins/{id}", tag = "library", request_body = DropinInput,
    responses((status = 200, body = Dropin), (status = 400), (status = 403), (status = 404), (status = 409)))]
async fn update_dropin(
    State(state): State<Arc<LuiState>>,
    session: LuiSession,
    Path(id): Path<i64>,
    Json(input): Json<DropinInput>,
) -> ApiResult<Json<Dropin>> {
    Ok(Json(save(&state, &session, Some(id), input).await?))
}

async fn delete_entry(
    state: &LuiState,
    session: &LuiSession,
    table: Table,
    id: i64,
) -> ApiResult<StatusCode> {
    let (actor, scope, _) = library_of(state, session).await?;
    may_manage(&actor)?;
    if state
        .library
        .delete(table, &scope, id)
        .await
        .map_err(db_error)?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("your group has no entry {id}")))
    }
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct DeleteDropin {
    /// Delete it also while open jobs or templates write it.
    #[serde(default)]
    pub force: bool,
}

/// Delete a drop-in. One that open jobs or templates of the group write is refused (409,
/// naming them) unless `force=true`: they would no longer check.
#[utoipa::path(delete, path = "/dropins/{id}", tag = "library", params(DeleteDropin),
    responses((status = 204), (status = 403), (status = 404), (status = 409, description = "in use; the error names the jobs and templates")))]
async fn delete_dropin(
    State(state): State<Arc<LuiState>>,
    session: LuiSession,
    Path(id): Path<i64>,
    Query(q): Query<DeleteDropin>,
) -> ApiResult<StatusCode> {
    if !q.force {
        let (_, scope, _) = library_of(&state, &session).await?;
        let dropins = state.library.dropins(&scope).await.map_err(db_error)?;
        if let Some(d) = dropins.iter().find(|d| d.id == id) {
            let users = state
                .library
                .dropin_users(&scope, &d.name)
                .await
                .map_err(db_error)?;
            if !users.is_empty() {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    format!(
                        "the drop-in {} is used by {}, which would no longer check; take it out there, or delete it anyway with force=true",
                        d.name,
                        users.join(", ")
                    ),
                ));
            }
        }
    }
    delete_entry(&state, &session, Table::Dropins, id).await
}

/// The templates of the caller's group.
#[utoipa::path(get, path = "/templates", tag = "library", responses((status = 200, body = Vec<Template>)))]
async fn list_templates(
    State(state): State<Arc<LuiState>>,
    session: LuiSession,
) -> ApiResult<Json<Vec<Template>>> {
    let (_, scope, _) = library_of(&state, &session).await?;
    Ok(Json(
        state.library.templates(&scope).await.map_err(db_error)?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TemplateInput {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Take the message of this job (one the caller may see)…
    pub from_job: Option<String>,
    /// …or this message.
    pub message: Option<MessageDraft>,
}

/// Save a template for the group, from a job's message or a given one.
#[utoipa::path(post, path = "/templates", tag = "library", request_body = TemplateInput,
    responses((status = 201, body = Template), (status = 400), (status = 403), (status = 404), (status = 409)))]
async fn create_template(
    State(state): State<Arc<LuiState>>,
    session: LuiSession,
    Json(input): Json<TemplateInput>,
) -> ApiResult<(StatusCode, Json<Template>)> {
    let (actor, scope, by) = library_of(&state, &session).await?;
    may_manage(&actor)?;
    let name = check_name("template", &input.name)?;
    let message = match (&input.from_job, input.message) {
        (Some(job), _) => {
            job_for(&state, &actor, job).await?;
            view(&state, job).await?.message
        }
        (None, Some(m)) => m,
        (None, None) => {
            return Err(ApiError::bad_request(
                "give from_job (a job whose message to keep) or message",
            ));
        }
    };
    let result = state
        .library
        .save_template(&scope, &name, input.description.trim(), &message, &by)
        .await
        .map_err(db_error)?;
    let id = saved(result, "template", &name)?;
    let template = state
        .library
        .templates(&scope)
        .await
        .map_err(db_error)?
        .into_iter()
        .find(|t| t.id == id)
        .ok_or_else(|| ApiError::internal("templates", "the saved template is gone"))?;
    Ok((StatusCode::CREATED, Json(template)))
}

/// Delete a template.
#[utoipa::path(delete, path = "/templates/{id}", tag = "library", responses((status = 204), (status = 403), (status = 404)))]
async fn delete_template(
    State(state): State<Arc<LuiState>>,
    session: LuiSession,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    delete_entry(&state, &session, Table::Templates, id).await
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct FromTemplate {
    pub template_id: i64,
}

/// Replace the job's message with a template of the group (voids test and authorization).
#[utoipa::path(post, path = "/jobs/{id}/message/from-template", tag = "library", request_body = FromTemplate,
    responses((status = 200, body = MessageView), (status = 403), (status = 404), (status = 409)))]
async fn message_from_template(
    State(state): State<Arc<LuiState>>,
    session: LuiSession,
    Path(id): Path<String>,
    Json(body): Json<FromTemplate>,
) -> ApiResult<Json<MessageView>> {
    let (actor, scope, _) = library_of(&state, &session).await?;
    let (job, access) = job_for(&state, &actor, &id).await?;
    editable(&job, access)?;
    let template = state
        .library
        .templates(&scope)
        .await
        .map_err(db_error)?
        .into_iter()
        .find(|t| t.id == body.template_id)
        .ok_or_else(|| {
            ApiError::not_found(format!("your group has no template {}", body.template_id))
        })?;
    state
        .messages
        .save(&id, &template.message)
        .await
        .map_err(db_error)?;
    Ok(Json(view(&state, &id).await?))
}

/// The sender profiles of the caller's group.
#[utoipa::path(get, path = "/sender-profiles", tag = "library", responses((status = 200, body = Vec<SenderProfile>)))]
async fn list_sender_profiles(
    State(state): State<Arc<LuiState>>,
    session: LuiSession,
) -> ApiResult<Json<Vec<SenderProfile>>> {
    let (_, scope, _) = library_of(&state, &session).await?;
    Ok(Json(
        state
            .library
            .sender_profiles(&scope)
            .await
            .map_err(db_error)?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SenderProfileInput {
    pub name: String,
    #[serde(default)]
    pub from_name: String,
    pub from_address: String,
    #[serde(default)]
    pub reply_to: String,
}

/// Save a sender profile for the group (merge fields allowed, as in the message).
#[utoipa::path(post, path = "/sender-profiles", tag = "library", request_body = SenderProfileInput,
    responses((status = 201, body = SenderProfile), (status = 400), (status = 403), (status = 409)))]
async fn create_sender_profile(
    State(state): State<Arc<LuiState>>,
    session: LuiSession,
    Json(input): Json<SenderProfileInput>,
) -> ApiResult<(StatusCode, Json<SenderProfile>)> {
    let (actor, scope, by) = library_of(&state, &session).await?;
    may_manage(&actor)?;
    let name = check_name("sender profile", &input.name)?;
    for (what, text) in [
        ("the sender name", &input.from_name),
        ("the sender address", &input.from_address),
        ("the reply-to", &input.reply_to),
    ] {
        if text.len() > 2000 || text.contains(['\r', '\n']) {
            return Err(ApiError::bad_request(format!(
                "{what} must be one line of at most 2000 bytes"
            )));
        }
    }
    if !input.from_address.contains('@') {
        return Err(ApiError::bad_request(format!(
            "\"{}\" is not a sender address",
            input.from_address
        )));
    }
    let profile = SenderProfile {
        id: 0,
        name: name.clone(),
        from_name: input.from_name.trim().to_string(),
        from_address: input.from_address.trim().to_string(),
        reply_to: input.reply_to.trim().to_string(),
        updated_by: by.clone(),
        updated_ms: 0,
    };
    let result = state
        .library
        .save_sender_profile(&scope, &profile, &by)
        .await
        .map_err(db_error)?;
    let id = saved(result, "sender profile", &name)?;
    let saved = state
        .library
        .sender_profiles(&scope)
        .await
        .map_err(db_error)?
        .into_iter()
        .find(|p| p.id == id)
        .ok_or_else(|| ApiError::internal("sender profiles", "the saved profile is gone"))?;
    Ok((StatusCode::CREATED, Json(saved)))
}

/// Delete a sender profile.
#[utoipa::path(delete, path = "/sender-profiles/{id}", tag = "library", responses((status = 204), (status = 403), (status = 404)))]
async fn delete_sender_profile(
    State(state): State<Arc<LuiState>>,
    session: LuiSession,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    delete_entry(&state, &session, Table::SenderProfiles, id).await
}
