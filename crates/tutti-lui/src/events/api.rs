//! The suppression list and a job's event counts.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use tutti_core::http_error::ApiError;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::store::Suppression;
use crate::LuiState;
use crate::jobs::api::actor;
use crate::jobs::model::Actor;
use crate::session_api::LuiSession;

type ApiResult<T> = Result<T, ApiError>;

pub fn router() -> OpenApiRouter<Arc<LuiState>> {
    OpenApiRouter::new()
        .routes(routes!(list_suppressions))
        .routes(routes!(remove_suppression))
        .routes(routes!(event_counts))
}

fn db_error(e: sqlx::Error) -> ApiError {
    ApiError::internal("the system database", e)
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct Paging {
    #[serde(default)]
    pub offset: i64,
    /// At most 1000; 100 when left out.
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SuppressionPage {
    pub suppressions: Vec<Suppression>,
    pub total: i64,
}

/// The addresses no job sends to (unsubscribed, hard-bounced, complained), newest first.
#[utoipa::path(get, path = "/suppressions", tag = "suppression", params(Paging),
    responses((status = 200, body = SuppressionPage), (status = 403)))]
async fn list_suppressions(
    State(state): State<Arc<LuiState>>,
    session: LuiSession,
    Query(q): Query<Paging>,
) -> ApiResult<Json<SuppressionPage>> {
    crate::report::api::may_view_reports(&actor(&state, &session).await?)?;
    let (suppressions, total) = state
        .events
        .suppressions(q.offset.max(0), q.limit.unwrap_or(100).clamp(1, 1000))
        .await
        .map_err(db_error)?;
    Ok(Json(SuppressionPage {
        suppressions,
        total,
    }))
}

/// Take an address off the suppression list (the `admin` login only: for a person who
/// asked to get mail again).
#[utoipa::path(delete, path = "/suppressions/{address}", tag = "suppression",
    responses((status = 204), (status = 403), (status = 404)))]
async fn remove_suppression(
    State(state): State<Arc<LuiState>>,
    session: LuiSession,
    Path(address): Path<String>,
) -> ApiResult<StatusCode> {
    let actor = actor(&state, &session).await?;
    if !matches!(actor, Actor::Admin) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "only the admin login takes addresses off the suppression list",
        ));
    }
    let key = tutti_recipients::address_key(address.trim()).map_err(|e| {
        ApiError::bad_request(format!("\"{address}\" is not an e-mail address: {e}"))
    })?;
    if state.events.unsuppress(&key).await.map_err(db_error)? {
        tracing::info!("{key} was taken off the suppression list");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!(
            "{key} is not on the suppression list"
        )))
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventCount {
    /// `open`, `click`, `unsubscribe`, `sent`, `deferred`, `failed`, `hard_bounce`, `soft_bounce`, `complaint`.
    pub kind: String,
    pub events: i64,
}

/// How many events of each kind have come in for a job so far.
#[utoipa::path(get, path = "/jobs/{id}/events", tag = "suppression",
    responses((status = 200, body = Vec<EventCount>), (status = 403), (status = 404)))]
async fn event_counts(
    State(state): State<Arc<LuiState>>,
    session: LuiSession,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<EventCount>>> {
    // The counts are a report's figures: the same right as the report.
    crate::report::api::may_view(&state, &session, &id).await?;
    Ok(Json(
        state
            .events
            .counts(&id)
            .await
            .map_err(db_error)?
            .into_iter()
            .map(|(kind, events)| EventCount { kind, events })
            .collect(),
    ))
}
