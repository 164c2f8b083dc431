//! The suppression list of the caller's group (`/lui/api/suppressions`): a user sees and
//! manages their group's list only; the `admin` login, the installation's.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tutti_core::http_error::ApiError;
use tutti_core::rights::Right;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::suppressions::{Filter, Scope, Suppression};
use crate::LuiState;
use crate::jobs::api::actor;
use crate::jobs::model::Actor;
use crate::recipients::api::{csv_header, csv_line, csv_response};
use crate::session_api::LuiSession;

type ApiResult<T> = Result<T, ApiError>;

/// Entries per page of a download.
const DOWNLOAD_PAGE: i64 = 1000;
/// The longest search text.
const MAX_SEARCH: usize = 254;

pub fn router() -> OpenApiRouter<Arc<LuiState>> {
    OpenApiRouter::new()
        .routes(routes!(list_suppressions, add_suppression))
        .routes(routes!(remove_suppression))
        .routes(routes!(download_suppressions))
}

fn db_error(e: sqlx::Error) -> ApiError {
    ApiError::internal("the system database", e)
}

/// The list the caller may see: their group's (right to view reports), or the
/// installation's for the `admin` login.
pub(crate) async fn readable(state: &LuiState, session: &LuiSession) -> ApiResult<(Actor, Scope)> {
    let actor = actor(state, session).await?;
    if !matches!(actor, Actor::Admin) && !actor.has(Right::ViewReports) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "your account may not view reports, nor the suppression list",
        ));
    }
    let scope = Scope::of_actor(&actor);
    Ok((actor, scope))
}

/// The list the caller may change: their group's (right to send jobs, whose recipients it
/// bounds), or the installation's for the `admin` login.
async fn writable(state: &LuiState, session: &LuiSession) -> ApiResult<Scope> {
    let actor = actor(state, session).await?;
    if !matches!(actor, Actor::Admin) && !actor.has(Right::SendJobs) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "your account may not send jobs, nor change the suppression list",
        ));
    }
    Ok(Scope::of_actor(&actor))
}

fn address_key(address: &str) -> ApiResult<String> {
    tutti_recipients::address_key(address.trim())
        .map_err(|e| ApiError::bad_request(format!("\"{address}\" is not an e-mail address: {e}")))
}

fn search(q: &str) -> ApiResult<String> {
    if q.chars().count() > MAX_SEARCH {
        return Err(ApiError::bad_request(format!(
            "search for at most {MAX_SEARCH} characters"
        )));
    }
    Ok(q.trim().to_string())
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ListQuery {
    /// Only addresses that contain this text (any case).
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub offset: i64,
    /// At most 1000; 100 when left out.
    pub limit: Option<i64>,
}

impl ListQuery {
    pub(crate) fn filter(&self) -> ApiResult<Filter> {
        Ok(Filter {
            search: search(&self.q)?,
            offset: self.offset.max(0),
            limit: self.limit.unwrap_or(100).clamp(1, 1000),
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SuppressionPage {
    pub suppressions: Vec<Suppression>,
    /// Entries that match, on every page.
    pub total: i64,
    /// `group`, `account` (an account without a group) or `installation` (the `admin`
    /// login's list, which applies to every group).
    pub list: String,
}

pub(crate) fn list_name(scope: Scope) -> &'static str {
    match scope {
        Scope::Installation => "installation",
        Scope::Group(_) => "group",
        Scope::Account(_) => "account",
    }
}

/// The addresses your group's jobs leave out (unsubscribed, hard-bounced, complained, added
/// by hand), newest first; for the `admin` login, the installation's list, which every group's
/// jobs leave out (hard bounces and complaints). Needs the right to view reports.
#[utoipa::path(get, path = "/suppressions", tag = "suppression", params(ListQuery),
    responses((status = 200, body = SuppressionPage), (status = 400), (status = 403)))]
async fn list_suppressions(
    State(state): State<Arc<LuiState>>,
    session: LuiSession,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<SuppressionPage>> {
    let (_, scope) = readable(&state, &session).await?;
    let (suppressions, total) = state
        .suppressions
        .list(scope, &q.filter()?)
        .await
        .map_err(db_error)?;
    Ok(Json(SuppressionPage {
        suppressions,
        total,
        list: list_name(scope).into(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewSuppression {
    pub address: String,
}

/// Put an address on your group's list by hand (the `admin` login: on the installation's).
/// Needs the right to send jobs.
#[utoipa::path(post, path = "/suppressions", tag = "suppression", request_body = NewSuppression,
    responses((status = 201, body = Suppression), (status = 400), (status = 403),
        (status = 409, description = "already on the list")))]
async fn add_suppression(
    State(state): State<Arc<LuiState>>,
    session: LuiSession,
    Json(body): Json<NewSuppression>,
) -> ApiResult<(StatusCode, Json<Suppression>)> {
    let scope = writable(&state, &session).await?;
    let key = address_key(&body.address)?;
    if !state
        .suppressions
        .add(scope, &key)
        .await
        .map_err(db_error)?
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("{key} is on the suppression list already"),
        ));
    }
    tracing::info!("{key} was put on the {} suppression list", scope.key());
    Ok((
        StatusCode::CREATED,
        Json(Suppression {
            address: key,
            reason: "added".into(),
            job: String::new(),
            at_ms: crate::database::now_ms(),
        }),
    ))
}

/// Take an address off your group's list (the `admin` login: off the installation's), for
/// a person who asked to get mail again. Needs the right to send jobs.
#[utoipa::path(delete, path = "/suppressions/{address}", tag = "suppression",
    responses((status = 204), (status = 400), (status = 403), (status = 404, description = "not on your list")))]
async fn remove_suppression(
    State(state): State<Arc<LuiState>>,
    session: LuiSession,
    Path(address): Path<String>,
) -> ApiResult<StatusCode> {
    let scope = writable(&state, &session).await?;
    let key = address_key(&address)?;
    if state
        .suppressions
        .remove(scope, &key)
        .await
        .map_err(db_error)?
    {
        tracing::info!("{key} was taken off the {} suppression list", scope.key());
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!(
            "{key} is not on your suppression list"
        )))
    }
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct DownloadQuery {
    /// Only addresses that contain this text (any case).
    #[serde(default)]
    pub q: String,
}

/// Your list as CSV (address, reason, job, at), in address order, streamed. Needs the right
/// to view reports.
#[utoipa::path(get, path = "/suppressions.csv", tag = "suppression", params(DownloadQuery),
    responses((status = 200, content_type = "text/csv"), (status = 400), (status = 403)))]
async fn download_suppressions(
    State(state): State<Arc<LuiState>>,
    session: LuiSession,
    Query(q): Query<DownloadQuery>,
) -> ApiResult<Response> {
    let (_, scope) = readable(&state, &session).await?;
    let search = search(&q.q)?;
    let store = state.suppressions.clone();
    // Pages go on after the last address written: the next one is a short indexed read
    // however long the list is.
    let pages = futures_util::stream::unfold(Some(String::new()), move |after| {
        let store = store.clone();
        let search = search.clone();
        async move {
            let after = after?;
            match store.after(scope, &search, &after, DOWNLOAD_PAGE).await {
                Ok(page) if page.is_empty() => None,
                Ok(page) => {
                    let next = page.last().map(|s| s.address.clone());
                    let text: String = page.iter().map(csv_row).collect();
                    Some((Ok::<_, std::io::Error>(text), next))
                }
                Err(e) => Some((Err(std::io::Error::other(e.to_string())), None)),
            }
        }
    });
    let header = csv_header(["address", "reason", "job", "at"]);
    let body =
        Body::from_stream(futures_util::stream::once(async move { Ok(header) }).chain(pages));
    Ok(csv_response("suppressions.csv".into(), body))
}

fn csv_row(s: &Suppression) -> String {
    let at = chrono::DateTime::from_timestamp_millis(s.at_ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default();
    csv_line([s.address.as_str(), &s.reason, &s.job, &at])
}
