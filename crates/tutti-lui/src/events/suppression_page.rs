//! The suppression list page (`/lui/suppressions`): the caller's group's list (the `admin`
//! login's: the installation's), with search, paging, adding, removing and a download.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use tutti_core::http_error::ApiError;
use tutti_core::rights::Right;

use super::suppression_api::{ListQuery, list_name, readable};
use super::suppressions::Suppression;
use crate::LuiState;
use crate::pages::{Frame, local_time, refused, render};
use crate::session_api::LuiSession;

/// Entries per page.
const PER_PAGE: i64 = 50;

struct Row {
    entry: Suppression,
    at: String,
}

#[derive(Template)]
#[template(path = "suppressions.html")]
struct SuppressionsPage {
    frame: Frame,
    /// `group`, `account` or `installation`.
    list: &'static str,
    rows: Vec<Row>,
    total: i64,
    q: String,
    offset: i64,
    per_page: i64,
    can_change: bool,
}

impl SuppressionsPage {
    fn previous(&self) -> Option<i64> {
        (self.offset > 0).then(|| (self.offset - self.per_page).max(0))
    }

    fn next(&self) -> Option<i64> {
        (self.offset + self.per_page < self.total).then_some(self.offset + self.per_page)
    }
}

pub async fn suppressions_page(
    State(state): State<Arc<LuiState>>,
    session: Result<LuiSession, ApiError>,
    Query(q): Query<ListQuery>,
) -> Response {
    let session = match session {
        Ok(s) => s,
        Err(e) => return refused(e),
    };
    match page_for(&state, &session, q).await {
        Ok(page) => render(page),
        Err(e) => refused(e),
    }
}

async fn page_for(
    state: &LuiState,
    session: &LuiSession,
    q: ListQuery,
) -> Result<SuppressionsPage, ApiError> {
    let (actor, scope) = readable(state, session).await?;
    let filter = ListQuery {
        limit: Some(PER_PAGE),
        ..q
    }
    .filter()?;
    let (entries, total) = state
        .suppressions
        .list(scope, &filter)
        .await
        .map_err(|e| ApiError::internal("the system database", e))?;
    Ok(SuppressionsPage {
        frame: Frame::of(state, session, &actor),
        list: list_name(scope),
        rows: entries
            .into_iter()
            .map(|entry| Row {
                at: local_time(entry.at_ms),
                entry,
            })
            .collect(),
        total,
        q: filter.search,
        offset: filter.offset,
        per_page: PER_PAGE,
        can_change: matches!(actor, crate::jobs::model::Actor::Admin) || actor.has(Right::SendJobs),
    })
}
