//! Comparisons a user keeps under a name: which jobs, people only or all.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use tutti_core::http_error::ApiError;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::LuiState;
use crate::database::now_ms;
use crate::jobs::api::{actor, job_for};
use crate::jobs::model::Actor;
use crate::session_api::LuiSession;

pub fn router() -> OpenApiRouter<Arc<LuiState>> {
    OpenApiRouter::new()
        .routes(routes!(list_saved, save))
        .routes(routes!(delete_saved))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SavedReport {
    pub id: i64,
    pub name: String,
    pub jobs: Vec<String>,
    pub people_only: bool,
}

fn db_error(e: sqlx::Error) -> ApiError {
    ApiError::internal("the system database", e)
}

/// The caller's account id (saved reports are a user's own).
async fn owner(state: &LuiState, session: &LuiSession) -> Result<(Actor, i64), ApiError> {
    let actor = actor(state, session).await?;
    let id = match &actor {
        Actor::User { id, .. } => *id,
        Actor::Admin => 0,
    };
    Ok((actor, id))
}

/// The caller's saved comparisons.
pub(crate) async fn saved_of(state: &LuiState, owner: i64) -> Result<Vec<SavedReport>, ApiError> {
    let rows = sqlx::query(
        "SELECT id, name, jobs, people_only FROM saved_reports WHERE owner_id = $1 ORDER BY name",
    )
    .bind(owner)
    .fetch_all(&state.db.pool)
    .await
    .map_err(db_error)?;
    rows.iter()
        .map(|r| {
            let jobs: String = r.try_get(2)?;
            Ok(SavedReport {
                id: r.try_get(0)?,
                name: r.try_get(1)?,
                jobs: jobs.split(',').map(str::to_string).collect(),
                people_only: r.try_get::<i64, _>(3)? != 0,
            })
        })
        .collect::<sqlx::Result<Vec<_>>>()
        .map_err(db_error)
}

/// The caller's saved comparisons.
#[utoipa::path(get, path = "/saved-reports", tag = "reports", responses((status = 200, body = Vec<SavedReport>)))]
async fn list_saved(
    State(state): State<Arc<LuiState>>,
    session: LuiSession,
) -> Result<Json<Vec<SavedReport>>, ApiError> {
    let (_, owner) = owner(&state, &session).await?;
    Ok(Json(saved_of(&state, owner).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SaveReport {
    pub name: String,
    /// Job ids (at most 20), each one the caller may see: a list, as the answer gives
    /// them, or one text with the ids separated by commas, as the page's form sends it.
    pub jobs: JobIds,
    #[serde(default = "yes")]
    pub people_only: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum JobIds {
    List(Vec<String>),
    Text(String),
}

impl JobIds {
    fn ids(&self) -> Vec<String> {
        let all: Vec<&str> = match self {
            JobIds::List(list) => list.iter().map(String::as_str).collect(),
            JobIds::Text(text) => text.split(',').collect(),
        };
        all.into_iter()
            .map(|j| j.trim().to_string())
            .filter(|j| !j.is_empty())
            .collect()
    }
}

fn yes() -> bool {
    true
}

/// Keep a comparison under a name.
#[utoipa::path(post, path = "/saved-reports", tag = "reports", request_body = SaveReport,
    responses((status = 201, body = SavedReport), (status = 400), (status = 404), (status = 409)))]
async fn save(
    State(state): State<Arc<LuiState>>,
    session: LuiSession,
    Json(body): Json<SaveReport>,
) -> Result<(StatusCode, Json<SavedReport>), ApiError> {
    let (actor, owner) = owner(&state, &session).await?;
    let name = body.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::bad_request(
            "a saved report's name has 1 to 100 characters",
        ));
    }
    tutti_core::names::check_visible(&name)
        .map_err(|e| ApiError::bad_request(format!("the saved report's name: {e}")))?;
    let jobs = body.jobs.ids();
    if jobs.is_empty() || jobs.len() > 20 {
        return Err(ApiError::bad_request("name 1 to 20 jobs"));
    }
    for job in &jobs {
        job_for(&state, &actor, job).await?;
    }
    let taken: i64 =
        sqlx::query("SELECT count(*) FROM saved_reports WHERE owner_id = $1 AND name = $2")
            .bind(owner)
            .bind(&name)
            .fetch_one(&state.db.pool)
            .await
            .and_then(|r| r.try_get(0))
            .map_err(db_error)?;
    if taken > 0 {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("you already keep a report named \"{name}\""),
        ));
    }
    let id: i64 = sqlx::query(
        "INSERT INTO saved_reports (owner_id, name, jobs, people_only, created_ms) VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(owner)
    .bind(&name)
    .bind(jobs.join(","))
    .bind(i64::from(body.people_only))
    .bind(now_ms())
    .fetch_one(&state.db.pool)
    .await
    .and_then(|r| r.try_get(0))
    .map_err(db_error)?;
    Ok((
        StatusCode::CREATED,
        Json(SavedReport {
            id,
            name,
            jobs,
            people_only: body.people_only,
        }),
    ))
}

/// Forget a saved comparison.
#[utoipa::path(delete, path = "/saved-reports/{id}", tag = "reports", responses((status = 204), (status = 404)))]
async fn delete_saved(
    State(state): State<Arc<LuiState>>,
    session: LuiSession,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    let (_, owner) = owner(&state, &session).await?;
    let done = sqlx::query("DELETE FROM saved_reports WHERE id = $1 AND owner_id = $2")
        .bind(id)
        .bind(owner)
        .execute(&state.db.pool)
        .await
        .map_err(db_error)?;
    if done.rows_affected() == 1 {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("you keep no report {id}")))
    }
}
