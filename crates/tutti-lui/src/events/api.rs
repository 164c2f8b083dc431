//! A job's event counts.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;
use tutti_core::http_error::ApiError;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::LuiState;
use crate::session_api::LuiSession;

type ApiResult<T> = Result<T, ApiError>;

pub fn router() -> OpenApiRouter<Arc<LuiState>> {
    OpenApiRouter::new().routes(routes!(event_counts))
}

fn db_error(e: sqlx::Error) -> ApiError {
    ApiError::internal("the system database", e)
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
