//! The report API: a job's figures (people only, or everything).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use tutti_core::http_error::ApiError;
use tutti_core::rights::Right;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::figures::{Report, report};
use crate::LuiState;
use crate::jobs::api::{actor, job_for};
use crate::jobs::model::Actor;
use crate::session_api::LuiSession;

pub fn router() -> OpenApiRouter<Arc<LuiState>> {
    OpenApiRouter::new().routes(routes!(job_report))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ReportQuery {
    /// Count only people's opens and clicks (default true); false counts machines too.
    pub people_only: Option<bool>,
}

/// Whether the caller may see the job's report: `Err` says why not.
pub(crate) async fn may_view(
    state: &LuiState,
    session: &LuiSession,
    id: &str,
) -> Result<(), ApiError> {
    let actor = actor(state, session).await?;
    job_for(state, &actor, id).await?;
    if !matches!(actor, Actor::Admin) && !actor.has(Right::ViewReports) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "your account may not view reports",
        ));
    }
    Ok(())
}

/// A job's report for someone who may see it.
pub(crate) async fn report_for(
    state: &LuiState,
    session: &LuiSession,
    id: &str,
    people_only: bool,
) -> Result<Report, ApiError> {
    may_view(state, session, id).await?;
    let tracking = state
        .sending
        .tracking(id)
        .await
        .map_err(|e| ApiError::internal("the system database", e))?;
    let links: Vec<String> = crate::send::api::tracking_view(state, id)
        .await?
        .links
        .into_iter()
        .map(|l| l.url)
        .collect();
    report(&state.db, id, tracking.kind, people_only, &links)
        .await
        .map_err(|e| ApiError::internal("the system database", e))
}

/// What became of a job's messages and what their recipients did so far.
#[utoipa::path(get, path = "/jobs/{id}/report", tag = "reports", params(ReportQuery),
    responses((status = 200, body = Report), (status = 403), (status = 404)))]
async fn job_report(
    State(state): State<Arc<LuiState>>,
    session: LuiSession,
    Path(id): Path<String>,
    Query(q): Query<ReportQuery>,
) -> Result<Json<Report>, ApiError> {
    Ok(Json(
        report_for(&state, &session, &id, q.people_only.unwrap_or(true)).await?,
    ))
}
