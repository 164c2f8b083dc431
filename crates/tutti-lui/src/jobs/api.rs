//! The jobs API (`/lui/api/jobs…`): list, create, change, copy, delete, folders; the
//! owner's grants to group members; the `admin` login's archive and change of owner.
//! Rights are checked on every call; a job the caller may not see is "not found".

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use tutti_core::api::AccountInfo;
use tutti_core::client::PeerError;
use tutti_core::http_error::ApiError;
use tutti_core::rights::Right;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::model::{Access, Actor, Grant, Job, JobState};
use super::store::{ListFilter, NewOwner};
use crate::LuiState;
use crate::registry_cache::SessionWho;
use crate::session_api::{LuiSession, display_name};

type ApiResult<T> = Result<T, ApiError>;

pub fn router() -> OpenApiRouter<Arc<LuiState>> {
    OpenApiRouter::new()
        .routes(routes!(list_jobs, create_job))
        .routes(routes!(get_job, update_job, delete_job))
        .routes(routes!(copy_job))
        .routes(routes!(archive_job))
        .routes(routes!(set_owner))
        .routes(routes!(get_grants, set_grants))
        .routes(routes!(group_members))
        .routes(routes!(list_folders))
}

const MAX_TITLE: usize = 200;
const MAX_FOLDER: usize = 100;

fn db_error(e: sqlx::Error) -> ApiError {
    ApiError::internal("the system database", e)
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("there is no job {id} you may see"))
}

/// Who is acting, with the rights the cache holds now.
pub(crate) async fn actor(state: &LuiState, session: &LuiSession) -> ApiResult<Actor> {
    match session.who {
        SessionWho::Admin => Ok(Actor::Admin),
        SessionWho::User { account_id } => {
            let a = state.cached_account(account_id).await?;
            // An answer cached by an earlier version names the group without its id:
            // acting on the name could reach another group's things.
            if a.group_name.is_some() && a.group_id.is_none() {
                return Err(ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "your group is not known yet: log in again once the Administration Hub answers",
                ));
            }
            Ok(Actor::User {
                id: a.id,
                name: display_name(&a),
                group_id: a.group_id,
                group: a.group_name,
                rights: a.rights,
            })
        }
    }
}

/// The job and the actor's access to it; "not found" when they may not see it.
pub(crate) async fn job_for(state: &LuiState, actor: &Actor, id: &str) -> ApiResult<(Job, Access)> {
    let job = state.jobs.get(id).await.map_err(db_error)?;
    let Some(job) = job else {
        return Err(not_found(id));
    };
    let grant = match actor {
        Actor::User { id: account, .. } if *account != job.owner_id => state
            .jobs
            .grant_of(&job.id, *account)
            .await
            .map_err(db_error)?,
        _ => None,
    };
    let access = actor.access(&job, grant.as_ref());
    if !access.view {
        return Err(not_found(id));
    }
    Ok((job, access))
}

fn forbidden(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, message)
}

fn check_text(what: &str, text: &str, max: usize, required: bool) -> ApiResult<String> {
    let text = text.trim();
    if required && text.is_empty() {
        return Err(ApiError::bad_request(format!("{what} must not be empty")));
    }
    if text.chars().count() > max {
        return Err(ApiError::bad_request(format!(
            "{what} is longer than {max} characters"
        )));
    }
    tutti_core::names::check_visible(text)
        .map_err(|e| ApiError::bad_request(format!("{what}: {e}")))?;
    Ok(text.to_string())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobView {
    #[serde(flatten)]
    pub job: Job,
    /// What the caller may do with it.
    pub access: Access,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobPage {
    pub jobs: Vec<JobView>,
    /// Jobs matching in all.
    pub total: i64,
    pub offset: i64,
    pub limit: i64,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ListQuery {
    /// Only jobs in this folder ("" for those in none).
    pub folder: Option<String>,
    /// Archived jobs instead of live ones.
    #[serde(default)]
    pub archived: bool,
    /// Part of the id or title.
    pub q: Option<String>,
    #[serde(default)]
    pub offset: i64,
    /// At most 200; 50 when left out.
    pub limit: Option<i64>,
}

/// The jobs the caller owns or was granted (every job for `admin`), newest first.
#[utoipa::path(get, path = "/jobs", tag = "jobs", params(ListQuery),
    responses((status = 200, body = JobPage), (status = 401, description = "not logged in")))]
async fn list_jobs(
    State(state): State<Arc<LuiState>>,
    session: LuiSession,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<JobPage>> {
    let actor = actor(&state, &session).await?;
    let limit = q.limit.unwrap_or(50).clamp(1, 200);
    let offset = q.offset.max(0);
    let filter = ListFilter {
        visible_to: actor.viewer(),
        folder: q.folder,
        archived: q.archived,
        search: q.q.filter(|s| !s.trim().is_empty()),
        offset,
        limit,
    };
    let (jobs, total) = state.jobs.list(&filter).await.map_err(db_error)?;
    let mut views = Vec::with_capacity(jobs.len());
    for job in jobs {
        let grant = match &actor {
            Actor::User { id, .. } if *id != job.owner_id => {
                state.jobs.grant_of(&job.id, *id).await.map_err(db_error)?
            }
            _ => None,
        };
        let access = actor.access(&job, grant.as_ref());
        views.push(JobView { job, access });
    }
    Ok(Json(JobPage {
        jobs: views,
        total,
        offset,
        limit,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewJob {
    pub title: String,
    #[serde(default)]
    pub folder: String,
}

/// Create an open job (needs the right to create jobs).
#[utoipa::path(post, path = "/jobs", tag = "jobs", request_body = NewJob,
    responses((status = 201, body = JobView), (status = 400, description = "a bad title or folder"),
        (status = 403, description = "no right to create jobs")))]
async fn create_job(
    State(state): State<Arc<LuiState>>,
    session: LuiSession,
    Json(body): Json<NewJob>,
) -> ApiResult<(StatusCode, Json<JobView>)> {
    let actor = actor(&state, &session).await?;
    let Actor::User {
        id,
        name,
        group_id,
        group,
        ..
    } = &actor
    else {
        return Err(forbidden(
            "the admin login does not own jobs: log in as a user to create one",
        ));
    };
    if !actor.has(Right::CreateJobs) {
        return Err(forbidden("your account may not create jobs"));
    }
    let title = check_text("the title", &body.title, MAX_TITLE, true)?;
    let folder = check_text("the folder", &body.folder, MAX_FOLDER, false)?;
    let owner = NewOwner {
        id: *id,
        name,
        group_id: *group_id,
        group: group.as_deref(),
    };
    let job = state
        .jobs
        .create(&state.job_id_prefix, &owner, &title, &folder, None)
        .await
        .map_err(db_error)?;
    tracing::info!("{name} created job {} \"{title}\"", job.id);
    let access = actor.access(&job, None);
    Ok((StatusCode::CREATED, Json(JobView { job, access })))
}

/// One job.
#[utoipa::path(get, path = "/jobs/{id}", tag = "jobs",
    responses((status = 200, body = JobView), (status = 404, description = "no such job the caller may see")))]
async fn get_job(
    State(state): State<Arc<LuiState>>,
    session: LuiSession,
    Path(id): Path<String>,
) -> ApiResult<Json<JobView>> {
    let actor = actor(&state, &session).await?;
    let (job, access) = job_for(&state, &actor, &id).await?;
    Ok(Json(JobView { job, access }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct JobChange {
    pub title: Option<String>,
    pub folder: Option<String>,
}

/// Change a job's title or folder (needs edit access).
#[utoipa::path(patch, path = "/jobs/{id}", tag = "jobs", request_body = JobChange,
    responses((status = 200, body = JobView), (status = 403, description = "no edit access"), (status = 404)))]
async fn update_job(
    State(state): State<Arc<LuiState>>,
    session: LuiSession,
    Path(id): Path<String>,
    Json(body): Json<JobChange>,
) -> ApiResult<Json<JobView>> {
    let actor = actor(&state, &session).await?;
    let (job, access) = job_for(&state, &actor, &id).await?;
    if !access.edit {
        return Err(forbidden(format!("you may not change job {id}")));
    }
    let title = match &body.title {
        Some(t) => check_text("the title", t, MAX_TITLE, true)?,
        None => job.title.clone(),
    };
    let folder = match &body.folder {
        Some(f) => check_text("the folder", f, MAX_FOLDER, false)?,
        None => job.folder.clone(),
    };
    state
        .jobs
        .update(&id, &title, &folder)
        .await
        .map_err(db_error)?;
    let (job, access) = job_for(&state, &actor, &id).await?;
    Ok(Json(JobView { job, access }))
}

/// Delete an open job (its owner only).
#[utoipa::path(delete, path = "/jobs/{id}", tag = "jobs",
    responses((status = 204), (status = 403, description = "not the owner"), (status = 404),
        (status = 409, description = "the job is no longer open")))]
async fn delete_job(
    State(state): State<Arc<LuiState>>,
    session: LuiSession,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let actor = actor(&state, &session).await?;
    let (job, access) = job_for(&state, &actor, &id).await?;
    if !(access.owner && access.edit) {
        return Err(forbidden(format!(
            "only the owner of job {id} may delete it"
        )));
    }
    if job.state != JobState::Open || !state.jobs.delete_open(&id).await.map_err(db_error)? {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "job {id} is {}: only open jobs can be deleted",
                job.state.key()
            ),
        ));
    }
    tracing::info!("job {id} deleted");
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CopyRequest {
    /// The new job's title; "Copy of …" when left out.
    pub title: Option<String>,
}

/// Copy a job the caller may see into a new open job they own.
#[utoipa::path(post, path = "/jobs/{id}/copy", tag = "jobs", request_body = CopyRequest,
    responses((status = 201, body = JobView), (status = 403), (status = 404)))]
async fn copy_job(
    State(state): State<Arc<LuiState>>,
    session: LuiSession,
    Path(id): Path<String>,
    Json(body): Json<CopyRequest>,
) -> ApiResult<(StatusCode, Json<JobView>)> {
    let actor = actor(&state, &session).await?;
    let (source, _) = job_for(&state, &actor, &id).await?;
    let Actor::User {
        id: me,
        name,
        group_id,
        group,
        ..
    } = &actor
    else {
        return Err(forbidden("the admin login does not own jobs"));
    };
    if !actor.has(Right::CreateJobs) {
        return Err(forbidden("your account may not create jobs"));
    }
    let title = match &body.title {
        Some(t) => check_text("the title", t, MAX_TITLE, true)?,
        None => format!("Copy of {}", source.title)
            .chars()
            .take(MAX_TITLE)
            .collect(),
    };
    let folder = if source.owner_id == *me {
        source.folder.clone()
    } else {
        String::new()
    };
    let owner = NewOwner {
        id: *me,
        name,
        group_id: *group_id,
        group: group.as_deref(),
    };
    let job = state
        .jobs
        .create(&state.job_id_prefix, &owner, &title, &folder, Some(&id))
        .await
        .map_err(db_error)?;
    tracing::info!("{name} copied job {id} into {}", job.id);
    let access = actor.access(&job, None);
    Ok((StatusCode::CREATED, Json(JobView { job, access })))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ArchiveRequest {
    pub archived: bool,
}

/// Archive or bring back a job (the `admin` login only; not while it is being sent).
#[utoipa::path(post, path = "/jobs/{id}/archive", tag = "admin", request_body = ArchiveRequest,
    responses((status = 200, body = JobView), (status = 403), (status = 404), (status = 409)))]
async fn archive_job(
    State(state): State<Arc<LuiState>>,
    session: LuiSession,
    Path(id): Path<String>,
    Json(body): Json<ArchiveRequest>,
) -> ApiResult<Json<JobView>> {
    let actor = actor(&state, &session).await?;
    let (job, access) = job_for(&state, &actor, &id).await?;
    if !access.administer {
        return Err(forbidden("only the admin login archives jobs"));
    }
    if job.state == JobState::Ongoing {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("job {id} is being sent: archive it when it has finished"),
        ));
    }
    state
        .jobs
        .set_archived(&id, body.archived)
        .await
        .map_err(db_error)?;
    let (job, access) = job_for(&state, &actor, &id).await?;
    Ok(Json(JobView { job, access }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct OwnerRequest {
    /// The new owner's account id at the Hub.
    pub account_id: i64,
}

/// The account as the Hub has it now; a clear error when it has none such.
async fn hub_account(state: &LuiState, id: i64) -> ApiResult<AccountInfo> {
    match state
        .hub
        .get::<AccountInfo>(&format!("/api/registry/accounts/{id}"))
        .await
    {
        Ok(a) => Ok(a),
        Err(PeerError::Status { status, .. }) if status == StatusCode::NOT_FOUND => {
            Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("the Hub has no enabled account {id}"),
            ))
        }
        Err(e) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the Hub cannot be asked about account {id} now: {e}"),
        )),
    }
}

/// Give a job to another account (the `admin` login only).
#[utoipa::path(put, path = "/jobs/{id}/owner", tag = "admin", request_body = OwnerRequest,
    responses((status = 200, body = JobView), (status = 403), (status = 404), (status = 422, description = "no such account")))]
async fn set_owner(
    State(state): State<Arc<LuiState>>,
    session: LuiSession,
    Path(id): Path<String>,
    Json(body): Json<OwnerRequest>,
) -> ApiResult<Json<JobView>> {
    let actor = actor(&state, &session).await?;
    let (_, access) = job_for(&state, &actor, &id).await?;
    if !access.administer {
        return Err(forbidden("only the admin login changes the owner of a job"));
    }
    let account = hub_account(&state, body.account_id).await?;
    let name = display_name(&account);
    let owner = NewOwner {
        id: account.id,
        name: &name,
        group_id: account.group_id,
        group: account.group_name.as_deref(),
    };
    state.jobs.set_owner(&id, &owner).await.map_err(db_error)?;
    tracing::info!("job {id} now belongs to {name}");
    let (job, access) = job_for(&state, &actor, &id).await?;
    Ok(Json(JobView { job, access }))
}

/// Who besides the owner may work on a job.
#[utoipa::path(get, path = "/jobs/{id}/grants", tag = "jobs",
    responses((status = 200, body = Vec<Grant>), (status = 404)))]
async fn get_grants(
    State(state): State<Arc<LuiState>>,
    session: LuiSession,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<Grant>>> {
    let actor = actor(&state, &session).await?;
    job_for(&state, &actor, &id).await?;
    Ok(Json(state.jobs.grants(&id).await.map_err(db_error)?))
}

/// Replace a job's grants (its owner only; members of the owner's group only).
#[utoipa::path(put, path = "/jobs/{id}/grants", tag = "jobs", request_body = Vec<Grant>,
    responses((status = 200, body = Vec<Grant>), (status = 403), (status = 404),
        (status = 422, description = "an account that is not in the owner's group")))]
async fn set_grants(
    State(state): State<Arc<LuiState>>,
    session: LuiSession,
    Path(id): Path<String>,
    Json(body): Json<Vec<Grant>>,
) -> ApiResult<Json<Vec<Grant>>> {
    let actor = actor(&state, &session).await?;
    let (job, access) = job_for(&state, &actor, &id).await?;
    if !access.owner {
        return Err(forbidden(format!(
            "only the owner of job {id} decides who else may work on it"
        )));
    }
    let mut grants = Vec::with_capacity(body.len());
    for g in body {
        if g.account_id == job.owner_id {
            continue;
        }
        let account = hub_account(&state, g.account_id).await?;
        if job.group_id.is_none() || account.group_id != job.group_id {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!(
                    "{} is not in the group {}: jobs are shared within the owner's group only",
                    display_name(&account),
                    job.group_name.as_deref().unwrap_or("(none)")
                ),
            ));
        }
        grants.push(Grant {
            user_name: account.user_name,
            ..g
        });
    }
    grants.sort_by_key(|g| g.account_id);
    grants.dedup_by_key(|g| g.account_id);
    state
        .jobs
        .set_grants(&id, &grants)
        .await
        .map_err(db_error)?;
    Ok(Json(state.jobs.grants(&id).await.map_err(db_error)?))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Folder {
    pub folder: String,
    pub jobs: i64,
}

/// The folders of the caller's live jobs.
#[utoipa::path(get, path = "/folders", tag = "jobs", responses((status = 200, body = Vec<Folder>)))]
async fn list_folders(
    State(state): State<Arc<LuiState>>,
    session: LuiSession,
) -> ApiResult<Json<Vec<Folder>>> {
    let actor = actor(&state, &session).await?;
    let folders = state.jobs.folders(actor.viewer()).await.map_err(db_error)?;
    Ok(Json(
        folders
            .into_iter()
            .map(|(folder, jobs)| Folder { folder, jobs })
            .collect(),
    ))
}

/// The members of the job's group (from the Hub): whom its owner can let work on it, and
/// to whom the `admin` login can give it.
#[utoipa::path(get, path = "/jobs/{id}/members", tag = "jobs",
    responses((status = 200, body = Vec<tutti_core::api::GroupMember>), (status = 404), (status = 503, description = "the Hub cannot be asked")))]
async fn group_members(
    State(state): State<Arc<LuiState>>,
    session: LuiSession,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<tutti_core::api::GroupMember>>> {
    let actor = actor(&state, &session).await?;
    let (job, _) = job_for(&state, &actor, &id).await?;
    Ok(Json(members(&state, &job).await?))
}

/// The members of `job`'s group; none for a job of an account without a group.
pub(crate) async fn members(
    state: &LuiState,
    job: &Job,
) -> ApiResult<Vec<tutti_core::api::GroupMember>> {
    let Some(group) = job.group_id else {
        return Ok(Vec::new());
    };
    state
        .hub
        .get(&format!("/api/registry/groups/{group}/members"))
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "the Hub cannot list the group {} now: {e}",
                    job.group_name.as_deref().unwrap_or_default()
                ),
            )
        })
}
