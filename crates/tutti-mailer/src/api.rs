//! The distribute API (`/mailer/api/…`, behind the ClusterSecret): jobs in, progress and
//! delivery events out. See `tutti_core::distribute` for the protocol.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::Deserialize;
use subtle::ConstantTimeEq;
use tutti_core::api::ErrorBody;
use tutti_core::distribute::{
    CLIENT_HEADER, DeliveryPage, DistributeJob, JobProgress, JobState, PASSWORD_HEADER, Submit,
};
use tutti_core::http_error::ApiError;
use tutti_core::token::valid_job_id;

use crate::delivery::Engine;
use crate::prepare::Prepared;

/// Longest recipient row line, in bytes.
const MAX_ROW: usize = 1 << 20;
/// Rows stored per transaction while an upload streams in.
const ROWS_PER_BATCH: usize = 5000;

pub struct ApiState {
    pub engine: Arc<Engine>,
    pub clients: Vec<String>,
    pub password: String,
}

/// The distribute API's OpenAPI document: the ClusterSecret, and the mailer connection's
/// client address and password in their headers.
pub fn describe(doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityRequirement, SecurityScheme};
    let mut doc = tutti_core::openapi::cluster_api_doc(
        doc,
        "Tutti Mailer distribute API",
        "How the User Interface hands jobs to a Mailer: define, upload recipients, submit, \
         follow and control, read delivery events. Every path needs Authorization: Bearer \
         <ClusterSecret>, and the mailer connection's client address and password in \
         tutti-client and tutti-client-password (checked against DistributeClients and \
         DistributePassword in mailer.ini).",
        "/mailer/api",
    );
    let components = doc.components.get_or_insert_with(Default::default);
    for (name, header) in [
        ("client", CLIENT_HEADER),
        ("client_password", PASSWORD_HEADER),
    ] {
        components.add_security_scheme(
            name,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new(header))),
        );
    }
    doc.security = Some(vec![
        SecurityRequirement::new("cluster_secret", Vec::<String>::new())
            .add("client", Vec::<String>::new())
            .add("client_password", Vec::<String>::new()),
    ]);
    doc
}

fn problem(status: StatusCode, message: impl Into<String>) -> Response {
    ApiError::new(status, message).into_response()
}

/// The mailer connection's client address and password, checked against mailer.ini.
fn client_allowed(state: &ApiState, headers: &HeaderMap) -> Result<(), ApiError> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let client = header(CLIENT_HEADER).trim().to_ascii_lowercase();
    if !state.clients.is_empty() && !state.clients.contains(&client) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "client \"{client}\" may not distribute through this Mailer (DistributeClients in mailer.ini)"
            ),
        ));
    }
    let given = header(PASSWORD_HEADER).as_bytes();
    if !state.password.is_empty() && !bool::from(given.ct_eq(state.password.as_bytes())) {
        tracing::warn!("a distribute call from client \"{client}\" gave a wrong password");
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "wrong distribute password for this Mailer",
        ));
    }
    Ok(())
}

fn job_id(id: &str) -> Result<(), ApiError> {
    if valid_job_id(id) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("\"{id}\" is not a job id (letters, digits, - and _, up to 64)"),
        ))
    }
}

/// `PUT /api/jobs/{job}`: checks and spools a definition.
#[utoipa::path(put, path = "/jobs/{job}", tag = "mailer",
    params(("job" = String, Path, description = "the job's id: letters, digits, - and _, up to 64")),
    request_body = DistributeJob,
    responses(
        (status = 201, description = "spooled (fsynced): `{\"job\", \"state\": \"receiving\"}`"),
        (status = 200, description = "the same definition again: `{\"job\", \"unchanged\": true}`"),
        (status = 400, body = ErrorBody, description = "not a job id, or not JSON for a job"),
        (status = 403, body = ErrorBody, description = "client or password not allowed (DistributeClients, DistributePassword)"),
        (status = 409, body = ErrorBody, description = "the job is already defined differently"),
        (status = 422, description = "`{\"error\", \"problems\": [{\"source\", \"line\", \"column\", \"message\"}]}`: a merge error, an unknown field, a character the charset cannot hold; nothing spooled")))]
pub async fn define(
    State(state): State<Arc<ApiState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Json<DistributeJob>, axum::extract::rejection::JsonRejection>,
) -> Response {
    if let Err(e) = client_allowed(&state, &headers).and(job_id(&id)) {
        return e.into_response();
    }
    let Json(job) = match body {
        Ok(j) => j,
        Err(e) => {
            return problem(
                StatusCode::BAD_REQUEST,
                format!("the job definition is not valid JSON for a job: {e}"),
            );
        }
    };
    if let Err(problems) = Prepared::new(&id, &job, Vec::new()) {
        let list: Vec<serde_json::Value> = problems
            .iter()
            .map(|p| serde_json::json!({"source": p.source, "line": p.line, "column": p.column, "message": p.message}))
            .collect();
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(serde_json::json!({
                "error": format!("job {id} has {} problem(s); nothing was spooled", problems.len()),
                "problems": list,
            })),
        )
            .into_response();
    }
    match state.engine.spool.define(&id, &job).await {
        Ok(true) => (
            StatusCode::CREATED,
            Json(serde_json::json!({"job": id, "state": "receiving"})),
        )
            .into_response(),
        Ok(false) => (
            StatusCode::OK,
            Json(serde_json::json!({"job": id, "unchanged": true})),
        )
            .into_response(),
        Err(crate::spool::DefineError::Conflict(m)) => problem(
            StatusCode::CONFLICT,
            format!("job {m} is already defined differently"),
        ),
        Err(e) => problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot spool job {id}: {e}"),
        ),
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct First {
    /// The number of the first row in the body (rows are numbered from 0).
    #[serde(default)]
    first: u64,
}

/// `POST /api/jobs/{job}/recipients?first=N`: NDJSON rows, streamed into the spool.
///
/// One JSON array of strings per line, in the order of the job's `fields`. Sending the same
/// rows again (same numbers) is harmless.
#[utoipa::path(post, path = "/jobs/{job}/recipients", tag = "mailer",
    params(("job" = String, Path, description = "the job's id"), First),
    request_body(content = String, content_type = "application/x-ndjson", description = "one JSON array of strings per line"),
    responses(
        (status = 200, description = "`{\"job\", \"stored\", \"first\"}`"),
        (status = 400, body = ErrorBody, description = "names the line of a broken row; rows before it are kept"),
        (status = 404, body = ErrorBody, description = "the job is not defined"),
        (status = 409, body = ErrorBody, description = "the job no longer takes rows")))]
pub async fn recipients(
    State(state): State<Arc<ApiState>>,
    Path(id): Path<String>,
    Query(First { first }): Query<First>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if let Err(e) = client_allowed(&state, &headers).and(job_id(&id)) {
        return e.into_response();
    }
    let job = match state.engine.spool.job(&id).await {
        Ok(Some(j)) => j,
        Ok(None) => {
            return problem(
                StatusCode::NOT_FOUND,
                format!("job {id} is not defined; PUT it first"),
            );
        }
        Err(e) => return problem(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    let columns = job.definition.fields.len();
    let address_column = job.definition.address_column;
    let mut stream = body.into_data_stream();
    let mut pending: Vec<u8> = Vec::new();
    let mut rows: Vec<Vec<String>> = Vec::with_capacity(ROWS_PER_BATCH);
    let mut stored = 0u64;
    let mut line_no = 0u64;
    let mut batch_first = first;
    loop {
        let chunk = match stream.next().await {
            Some(Ok(c)) => Some(c),
            Some(Err(e)) => {
                return problem(
                    StatusCode::BAD_REQUEST,
                    format!("the upload broke off after {stored} rows: {e}"),
                );
            }
            None => None,
        };
        let done = chunk.is_none();
        if let Some(c) = chunk {
            pending.extend_from_slice(&c);
        } else if !pending.is_empty() {
            pending.push(b'\n');
        }
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            line_no += 1;
            let text = String::from_utf8_lossy(&line);
            let text = text.trim();
            if text.is_empty() {
                return problem(
                    StatusCode::BAD_REQUEST,
                    format!("line {line_no} is empty; each line must be one recipient"),
                );
            }
            let row: Vec<String> = match serde_json::from_str(text) {
                Ok(r) => r,
                Err(e) => {
                    return problem(
                        StatusCode::BAD_REQUEST,
                        format!("line {line_no}: not a JSON array of strings: {e}"),
                    );
                }
            };
            if row.len() != columns {
                return problem(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "line {line_no}: {} values, but the job has {columns} columns",
                        row.len()
                    ),
                );
            }
            let address = row[address_column].trim();
            if !address.contains('@')
                || address.contains(char::is_whitespace)
                || address.contains(['<', '>'])
            {
                return problem(
                    StatusCode::BAD_REQUEST,
                    format!("line {line_no}: \"{address}\" is not an email address"),
                );
            }
            rows.push(row);
            if rows.len() >= ROWS_PER_BATCH {
                let batch = std::mem::replace(&mut rows, Vec::with_capacity(ROWS_PER_BATCH));
                let n = batch.len() as u64;
                if let Err(e) = state
                    .engine
                    .spool
                    .add_recipients(&id, batch_first, batch)
                    .await
                {
                    return problem(StatusCode::CONFLICT, e.to_string());
                }
                batch_first += n;
                stored += n;
            }
        }
        if pending.len() > MAX_ROW {
            return problem(
                StatusCode::BAD_REQUEST,
                format!("line {} is longer than {MAX_ROW} bytes", line_no + 1),
            );
        }
        if done {
            break;
        }
    }
    if !rows.is_empty() {
        let n = rows.len() as u64;
        if let Err(e) = state
            .engine
            .spool
            .add_recipients(&id, batch_first, rows)
            .await
        {
            return problem(StatusCode::CONFLICT, e.to_string());
        }
        stored += n;
    }
    Json(serde_json::json!({"job": id, "stored": stored, "first": first})).into_response()
}

/// `POST /api/jobs/{job}/submit`: the upload is complete; sending starts.
#[utoipa::path(post, path = "/jobs/{job}/submit", tag = "mailer",
    params(("job" = String, Path, description = "the job's id")),
    request_body(content = Submit, description = "how many rows the job has (numbered 0..N)"),
    responses(
        (status = 200, body = JobProgress, description = "sending starts, or waits for `not_before`"),
        (status = 409, body = ErrorBody, description = "rows are missing")))]
pub async fn submit(
    State(state): State<Arc<ApiState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Json<Submit>, axum::extract::rejection::JsonRejection>,
) -> Response {
    if let Err(e) = client_allowed(&state, &headers).and(job_id(&id)) {
        return e.into_response();
    }
    let Ok(Json(submit)) = body else {
        return problem(StatusCode::BAD_REQUEST, "expected {\"recipients\": N}");
    };
    match state.engine.spool.submit(&id, submit.recipients).await {
        Ok(Ok(())) => {
            state.engine.wake.notify_waiters();
            progress_of(&state, &id).await
        }
        Ok(Err(m)) => problem(StatusCode::CONFLICT, m),
        Err(e) => problem(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn progress_of(state: &ApiState, id: &str) -> Response {
    match state.engine.progress(id).await {
        Ok(Some(p)) => Json(p).into_response(),
        Ok(None) => problem(StatusCode::NOT_FOUND, format!("job {id} is not defined")),
        Err(e) => problem(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// `GET /api/jobs/{job}`: progress.
#[utoipa::path(get, path = "/jobs/{job}", tag = "mailer",
    params(("job" = String, Path, description = "the job's id")),
    responses(
        (status = 200, body = JobProgress),
        (status = 404, body = ErrorBody, description = "the job is not defined")))]
pub async fn progress(
    State(state): State<Arc<ApiState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(e) = client_allowed(&state, &headers) {
        return e.into_response();
    }
    progress_of(&state, &id).await
}

/// `POST /api/jobs/{job}/{pause|resume|cancel}`.
#[utoipa::path(post, path = "/jobs/{job}/{action}", tag = "mailer",
    params(
        ("job" = String, Path, description = "the job's id"),
        ("action" = String, Path, description = "`pause`, `resume` or `cancel`; cancelling keeps the fates recorded so far")),
    responses(
        (status = 200, body = JobProgress),
        (status = 404, body = ErrorBody, description = "no such job or action"),
        (status = 409, body = ErrorBody, description = "the job's state does not allow it")))]
pub async fn control(
    State(state): State<Arc<ApiState>>,
    Path((id, action)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Err(e) = client_allowed(&state, &headers) {
        return e.into_response();
    }
    let (from, to): (&[JobState], JobState) = match action.as_str() {
        "pause" => (&[JobState::Sending], JobState::Paused),
        "resume" => (&[JobState::Paused], JobState::Sending),
        "cancel" => (
            &[JobState::Receiving, JobState::Sending, JobState::Paused],
            JobState::Cancelled,
        ),
        other => {
            return problem(
                StatusCode::NOT_FOUND,
                format!("no action \"{other}\"; expected pause, resume or cancel"),
            );
        }
    };
    match state.engine.spool.set_state(&id, from, to).await {
        Ok(true) => {
            state.engine.wake.notify_waiters();
            progress_of(&state, &id).await
        }
        Ok(false) => match state.engine.progress(&id).await {
            Ok(Some(p)) => problem(
                StatusCode::CONFLICT,
                format!("job {id} is {:?}; it cannot {action}", p.state).to_lowercase(),
            ),
            _ => problem(StatusCode::NOT_FOUND, format!("job {id} is not defined")),
        },
        Err(e) => problem(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct FeedQuery {
    /// 0, or the `next` of an earlier page.
    #[serde(default)]
    after: i64,
    /// At most this many events (1000 when left out).
    limit: Option<u32>,
}

/// `GET /api/events?after=CURSOR&limit=N`: delivery events in order.
#[utoipa::path(get, path = "/events", tag = "mailer", params(FeedQuery),
    responses(
        (status = 200, body = DeliveryPage, description = "the events after the cursor, in order, and the next cursor"),
        (status = 400, body = ErrorBody, description = "not a cursor this Mailer gave out")))]
pub async fn events(State(state): State<Arc<ApiState>>, Query(q): Query<FeedQuery>) -> Response {
    match state
        .engine
        .spool
        .events(q.after, q.limit.unwrap_or(1000))
        .await
    {
        Ok(Some(page)) => Json(page).into_response(),
        Ok(None) => problem(
            StatusCode::BAD_REQUEST,
            format!(
                "after={} is not a cursor of this event feed: pass 0 or the `next` of an earlier page",
                q.after
            ),
        ),
        Err(e) => problem(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}
