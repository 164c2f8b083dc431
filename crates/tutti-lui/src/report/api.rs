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
    OpenApiRouter::new()
        .routes(routes!(job_report))
        .routes(routes!(compare))
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
    may_view_reports(&actor)
}

/// Whether the caller may see figures of jobs (reports, event counts, suppressions).
pub(crate) fn may_view_reports(actor: &Actor) -> Result<(), ApiError> {
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

#[derive(Debug, Deserialize, IntoParams)]
pub struct CompareQuery {
    /// Job ids separated by commas (at most 20); empty: the caller's 10 most recent sent jobs.
    pub jobs: Option<String>,
    pub people_only: Option<bool>,
}

/// Several jobs' reports side by side (the dashboard shows the most recent ones).
#[utoipa::path(get, path = "/reports", tag = "reports", params(CompareQuery),
    responses((status = 200, body = Vec<Report>), (status = 400), (status = 403), (status = 404)))]
async fn compare(
    State(state): State<Arc<LuiState>>,
    session: LuiSession,
    Query(q): Query<CompareQuery>,
) -> Result<Json<Vec<Report>>, ApiError> {
    let people_only = q.people_only.unwrap_or(true);
    let ids = match q.jobs.as_deref().map(str::trim).filter(|j| !j.is_empty()) {
        Some(list) => list
            .split(',')
            .map(|j| j.trim().to_string())
            .filter(|j| !j.is_empty())
            .collect::<Vec<_>>(),
        None => recent_sent(&state, &session, 10).await?,
    };
    if ids.len() > 20 {
        return Err(ApiError::bad_request("compare at most 20 jobs"));
    }
    let mut reports = Vec::with_capacity(ids.len());
    for id in &ids {
        reports.push(report_for(&state, &session, id, people_only).await?);
    }
    Ok(Json(reports))
}

/// The caller's most recent jobs that were sent.
pub(crate) async fn recent_sent(
    state: &LuiState,
    session: &LuiSession,
    limit: usize,
) -> Result<Vec<String>, ApiError> {
    let actor = actor(state, session).await?;
    let filter = crate::jobs::store::ListFilter {
        visible_to: actor.viewer(),
        limit: 200,
        ..crate::jobs::store::ListFilter::default()
    };
    Ok(state
        .jobs
        .list(&filter)
        .await
        .map_err(|e| ApiError::internal("the system database", e))?
        .0
        .into_iter()
        .filter(|j| j.state != crate::jobs::model::JobState::Open)
        .take(limit)
        .map(|j| j.id)
        .collect())
}
