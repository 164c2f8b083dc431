//! The recipients API: preview a file, upload it (streamed to disk, imported in the
//! background with counts growing for the progress bar), the job's list and its accepted
//! and rejected rows as CSV downloads, saved lists and choosing one for a job.

use std::sync::Arc;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;
use tutti_core::http_error::ApiError;
use tutti_core::rights::Right;
use tutti_recipients::{Column, Options, Record};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::import::import;
use super::query;
use super::store::{ListInfo, NewList, Reaction};
use crate::LuiState;
use crate::jobs::api::{actor, job_for};
use crate::jobs::model::{Actor, Job};
use crate::message::api::editable;
use crate::session_api::LuiSession;

type ApiResult<T> = Result<T, ApiError>;

/// Rows per page of a download.
const PAGE: i64 = 5000;

pub fn router() -> OpenApiRouter<Arc<LuiState>> {
    OpenApiRouter::new()
        .routes(routes!(preview))
        .routes(routes!(upload, get_recipients))
        .routes(routes!(download_accepted))
        .routes(routes!(download_rejected))
        .routes(routes!(use_list))
        .routes(routes!(use_previous))
        .routes(routes!(from_reaction))
        .routes(routes!(list_connections, add_connection))
        .routes(routes!(remove_connection))
        .routes(routes!(from_query))
        .routes(routes!(saved_lists))
}

/// Whose a new list of `job` is: the actor's (with their group), or for the `admin` login
/// the job owner's.
fn list_owner(actor: &Actor, job: &Job) -> (i64, Option<i64>, Option<String>) {
    match actor {
        Actor::User {
            id,
            group_id,
            group,
            ..
        } => (*id, *group_id, group.clone()),
        Actor::Admin => (job.owner_id, job.group_id, job.group_name.clone()),
    }
}

fn db_error(e: sqlx::Error) -> ApiError {
    ApiError::internal("the system database", e)
}

/// How to read the file; every choice left out is detected.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
pub struct ReadQuery {
    /// `,` `;` `tab` `|` or any one character.
    pub separator: Option<String>,
    /// The quote character, or `none`.
    pub quote: Option<String>,
    /// Whether the first row names the columns (default true).
    pub header: Option<bool>,
    /// e.g. `UTF-8`, `ISO-8859-1`, `windows-1252`, `Shift_JIS`.
    pub encoding: Option<String>,
    /// The e-mail column: its 0-based number or its name.
    pub email_column: Option<String>,
    /// The name column: its 0-based number or its name.
    pub name_column: Option<String>,
    /// Also save the list under this name for other jobs of the group.
    pub save_as: Option<String>,
    /// The file's name, for the list's source.
    pub file_name: Option<String>,
}

fn column(text: &str) -> Column {
    match text.trim().parse::<usize>() {
        Ok(n) => Column::Index(n),
        Err(_) => Column::Name(text.trim().to_string()),
    }
}

impl ReadQuery {
    fn options(&self) -> ApiResult<Options> {
        let single = |what: &str, text: &str| -> ApiResult<char> {
            let mut chars = text.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => Ok(c),
                _ => Err(ApiError::bad_request(format!(
                    "{what} must be one character (or tab / none), not \"{text}\""
                ))),
            }
        };
        let separator = match self.separator.as_deref() {
            None | Some("") => None,
            Some(s) if s.eq_ignore_ascii_case("tab") || s == "\\t" => Some('\t'),
            Some(s) => Some(single("the separator", s)?),
        };
        let quote = match self.quote.as_deref() {
            None | Some("") => Some('"'),
            Some(q) if q.eq_ignore_ascii_case("none") => None,
            Some(q) => Some(single("the quote character", q)?),
        };
        Ok(Options {
            separator,
            quote,
            header: self.header.unwrap_or(true),
            encoding: self.encoding.clone().filter(|e| !e.trim().is_empty()),
            email_column: self
                .email_column
                .as_deref()
                .filter(|c| !c.trim().is_empty())
                .map(column),
            name_column: self
                .name_column
                .as_deref()
                .filter(|c| !c.trim().is_empty())
                .map(column),
            ..Options::default()
        })
    }
}

fn import_error(e: tutti_recipients::ImportError) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string())
}

/// A previewed row.
#[derive(Debug, Serialize, ToSchema)]
pub struct PreviewRow {
    pub line: u64,
    pub fields: Vec<String>,
    /// Why it would be rejected; `None` when it would be imported.
    pub rejected: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Preview {
    pub separator: String,
    pub quote: Option<String>,
    pub encoding: String,
    pub header: bool,
    pub columns: Vec<String>,
    pub email_column: usize,
    pub name_column: Option<usize>,
    pub rows: Vec<PreviewRow>,
}

/// How a file would be read: send its start (64 KB is enough) and the choices made so far.
#[utoipa::path(post, path = "/jobs/{id}/recipients/preview", tag = "recipients", params(ReadQuery),
    request_body(content = Vec<u8>, content_type = "text/csv"),
    responses((status = 200, body = Preview), (status = 400), (status = 404),
        (status = 422, description = "the file cannot be read: the message says what and where")))]
async fn preview(
    State(state): State<Arc<LuiState>>,
    session: LuiSession,
    Path(id): Path<String>,
    Query(q): Query<ReadQuery>,
    body: Bytes,
) -> ApiResult<Json<Preview>> {
    let actor = actor(&state, &session).await?;
    job_for(&state, &actor, &id).await?;
    let sample = &body[..body.len().min(tutti_recipients::SAMPLE_BYTES)];
    let s = tutti_recipients::sniff(sample, &q.options()?).map_err(import_error)?;
    Ok(Json(Preview {
        separator: s.separator.to_string(),
        quote: s.quote.map(|c| c.to_string()),
        encoding: s.encoding.to_string(),
        header: s.header,
        email_column: s.email_column,
        name_column: s.name_column,
        rows: s
            .rows
            .iter()
            .map(|r| match r {
                Record::Accepted { line, fields, .. } => PreviewRow {
                    line: *line,
                    fields: fields.clone(),
                    rejected: None,
                },
                Record::Rejected { line, raw, reason } => PreviewRow {
                    line: *line,
                    fields: vec![raw.clone()],
                    rejected: Some(reason.to_string()),
                },
            })
            .collect(),
        columns: s.columns,
    }))
}

fn may_upload(actor: &Actor) -> ApiResult<()> {
    if actor.has(Right::UploadRecipients) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "your account may not upload recipient files",
        ))
    }
}

/// Upload the whole file: it is stored, checked and imported in the background; the
/// answer is the new list in state `importing` (follow it with GET). The list becomes the
/// job's recipients at once; a file that cannot be read at all is refused here and
/// changes nothing.
#[utoipa::path(post, path = "/jobs/{id}/recipients", tag = "recipients", params(ReadQuery),
    request_body(content = Vec<u8>, content_type = "text/csv"),
    responses((status = 202, body = ListInfo), (status = 400), (status = 403), (status = 404),
        (status = 409), (status = 413), (status = 422, description = "the file cannot be read")))]
async fn upload(
    State(state): State<Arc<LuiState>>,
    session: LuiSession,
    Path(id): Path<String>,
    Query(q): Query<ReadQuery>,
    body: Body,
) -> ApiResult<(StatusCode, Json<ListInfo>)> {
    let actor = actor(&state, &session).await?;
    let (job, access) = job_for(&state, &actor, &id).await?;
    editable(&job, access)?;
    may_upload(&actor)?;
    let options = q.options()?;
    let save_as = q
        .save_as
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_string);
    if save_as.is_some() && !actor.has(Right::ManageRecipientLists) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "your account may not save recipient lists",
        ));
    }
    // The upload goes to disk first: bounded by disk, not memory.
    let dir = state.ctx.root.join("lui/luidata/uploads");
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(|e| ApiError::internal("lui/luidata/uploads", e))?;
    let mut random = [0u8; 12];
    getrandom::fill(&mut random).map_err(|e| ApiError::internal("random", e))?;
    let path = dir.join(format!(
        "{id}-{}.upload",
        random
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    ));
    let mut file = tokio::fs::File::create(&path)
        .await
        .map_err(|e| ApiError::internal("lui/luidata/uploads", e))?;
    let mut stream = body.into_data_stream();
    let mut size = 0u64;
    let mut sample = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::bad_request(format!("the upload broke off: {e}")))?;
        size += chunk.len() as u64;
        if size > state.max_upload {
            drop(file);
            let _ = tokio::fs::remove_file(&path).await;
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "the file is larger than {} MB (MaxUploadMegabytes in lui.ini); nothing was imported",
                    state.max_upload >> 20
                ),
            ));
        }
        if sample.len() < tutti_recipients::SAMPLE_BYTES {
            sample.extend_from_slice(
                &chunk[..chunk
                    .len()
                    .min(tutti_recipients::SAMPLE_BYTES - sample.len())],
            );
        }
        file.write_all(&chunk)
            .await
            .map_err(|e| ApiError::internal("lui/luidata/uploads", e))?;
    }
    file.flush()
        .await
        .map_err(|e| ApiError::internal("lui/luidata/uploads", e))?;
    drop(file);
    // A file that cannot be read at all is refused now, with nothing changed.
    let sniffed = match tutti_recipients::sniff(&sample, &options) {
        Ok(s) => s,
        Err(e) => {
            let _ = tokio::fs::remove_file(&path).await;
            return Err(import_error(e));
        }
    };
    let (owner_id, group_id, group) = list_owner(&actor, &job);
    let source = q
        .file_name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| "uploaded file".into());
    let list = state
        .lists
        .create(&NewList {
            name: save_as.as_deref(),
            owner_id,
            group_id,
            group_name: group.as_deref(),
            columns: &sniffed.columns,
            email_column: sniffed.email_column,
            name_column: sniffed.name_column,
            source: &source,
        })
        .await
        .map_err(db_error)?;
    state.lists.use_for_job(&id, list).await.map_err(db_error)?;
    let lists = state.lists.clone();
    let options = sniffed.options();
    tokio::spawn(async move {
        match import(&lists, list, path.clone(), options).await {
            Ok(n) => tracing::info!(
                "recipient list {list}: {} rows read, {} accepted, {} rejected, {} duplicates",
                n.read,
                n.accepted,
                n.rejected,
                n.duplicates
            ),
            Err(e) => tracing::error!("recipient list {list}: the import failed: {e}"),
        }
        let _ = tokio::fs::remove_file(&path).await;
    });
    let info = state
        .lists
        .get(list)
        .await
        .map_err(db_error)?
        .ok_or_else(|| ApiError::internal("recipient lists", "the new list is gone"))?;
    Ok((StatusCode::ACCEPTED, Json(info)))
}

/// The job's recipient list with its counts (they grow while it is imported).
#[utoipa::path(get, path = "/jobs/{id}/recipients", tag = "recipients",
    responses((status = 200, body = ListInfo), (status = 404, description = "no such job, or no recipients yet")))]
async fn get_recipients(
    State(state): State<Arc<LuiState>>,
    session: LuiSession,
    Path(id): Path<String>,
) -> ApiResult<Json<ListInfo>> {
    let actor = actor(&state, &session).await?;
    job_for(&state, &actor, &id).await?;
    state
        .lists
        .of_job(&id)
        .await
        .map_err(db_error)?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("job {id} has no recipients yet")))
}

/// A CSV field, quoted when it must be. A spreadsheet takes a cell that starts with `=`,
/// `+`, `-`, `@` (or a tab or carriage return before one) for a formula, which a recipient
/// could have written to run on the downloader's machine: such a cell is written with a
/// `'` in front, which shows it as the text it is.
fn csv_field(text: &str, out: &mut String) {
    let formula = text.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let text = if formula {
        std::borrow::Cow::Owned(format!("'{text}"))
    } else {
        std::borrow::Cow::Borrowed(text)
    };
    if text.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&text.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(&text);
    }
}

/// The first line of a CSV download: a byte order mark, then the column names. The mark
/// tells Excel that the file is UTF-8; without it Excel reads it in the system's legacy
/// code page and garbles every name that is not ASCII. Tutti's own upload skips it.
pub(crate) fn csv_header(fields: impl IntoIterator<Item = impl AsRef<str>>) -> String {
    format!("\u{feff}{}", csv_line(fields))
}

pub(crate) fn csv_line(fields: impl IntoIterator<Item = impl AsRef<str>>) -> String {
    let mut line = String::new();
    for (i, f) in fields.into_iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        csv_field(f.as_ref(), &mut line);
    }
    line.push_str("\r\n");
    line
}

/// A CSV body: `header`, then pages from `page(after)` (text and the key to go on after)
/// until one is empty; a database error ends the download broken off.
pub(crate) fn paged_csv<F, Fut>(header: String, start: i64, page: F) -> Body
where
    F: Fn(i64) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = sqlx::Result<(String, Option<i64>)>> + Send + 'static,
{
    let pages = futures_util::stream::unfold(Some(start), move |after| {
        let next_page = after.map(&page);
        async move {
            match next_page?.await {
                Ok((_, None)) => None,
                Ok((text, next)) => Some((Ok::<_, std::io::Error>(text), next)),
                Err(e) => Some((Err(std::io::Error::other(e.to_string())), None)),
            }
        }
    });
    Body::from_stream(futures_util::stream::once(async move { Ok(header) }).chain(pages))
}

pub(crate) fn csv_response(name: String, body: Body) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        body,
    )
        .into_response()
}

/// The accepted rows as CSV (UTF-8, header row), streamed.
#[utoipa::path(get, path = "/jobs/{id}/recipients/accepted.csv", tag = "recipients",
    responses((status = 200, content_type = "text/csv"), (status = 404)))]
async fn download_accepted(
    State(state): State<Arc<LuiState>>,
    session: LuiSession,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let actor = actor(&state, &session).await?;
    job_for(&state, &actor, &id).await?;
    let list = state
        .lists
        .of_job(&id)
        .await
        .map_err(db_error)?
        .ok_or_else(|| ApiError::not_found(format!("job {id} has no recipients yet")))?;
    let lists = state.lists.clone();
    let body = paged_csv(csv_header(&list.columns), 0, move |after| {
        let lists = lists.clone();
        async move {
            let rows = lists.rows(list.id, after, PAGE).await?;
            let next = rows.last().map(|(seq, _)| *seq);
            Ok((rows.iter().map(|(_, f)| csv_line(f)).collect(), next))
        }
    });
    Ok(csv_response(format!("{id}-accepted.csv"), body))
}

/// The rejected rows as CSV: line, reason, the row as written.
#[utoipa::path(get, path = "/jobs/{id}/recipients/rejected.csv", tag = "recipients",
    responses((status = 200, content_type = "text/csv"), (status = 404)))]
async fn download_rejected(
    State(state): State<Arc<LuiState>>,
    session: LuiSession,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let actor = actor(&state, &session).await?;
    job_for(&state, &actor, &id).await?;
    let list = state
        .lists
        .of_job(&id)
        .await
        .map_err(db_error)?
        .ok_or_else(|| ApiError::not_found(format!("job {id} has no recipients yet")))?;
    let lists = state.lists.clone();
    let body = paged_csv(csv_header(["line", "reason", "row"]), 0, move |after| {
        let lists = lists.clone();
        async move {
            let rows = lists.rejected(list.id, after, PAGE).await?;
            let next = rows.last().map(|r| r.line);
            let text = rows
                .iter()
                .map(|r| csv_line([r.line.to_string(), r.reason.clone(), r.raw.clone()]))
                .collect();
            Ok((text, next))
        }
    });
    Ok(csv_response(format!("{id}-rejected.csv"), body))
}

/// Go back to the recipients the job had before its current list (after an upload that
/// found no valid recipient, say). The current list becomes the previous one in turn.
#[utoipa::path(post, path = "/jobs/{id}/recipients/previous", tag = "recipients",
    responses((status = 200, body = ListInfo), (status = 403), (status = 404, description = "no earlier list imported whole"),
        (status = 409, description = "the job is no longer open")))]
async fn use_previous(
    State(state): State<Arc<LuiState>>,
    session: LuiSession,
    Path(id): Path<String>,
) -> ApiResult<Json<ListInfo>> {
    let actor = actor(&state, &session).await?;
    let (job, access) = job_for(&state, &actor, &id).await?;
    editable(&job, access)?;
    let Some(previous) = state.lists.previous_of_job(&id).await.map_err(db_error)? else {
        return Err(ApiError::not_found(format!(
            "job {id} has no earlier recipient list to go back to"
        )));
    };
    state
        .lists
        .use_for_job(&id, previous.id)
        .await
        .map_err(db_error)?;
    tracing::info!("job {id} went back to recipient list {}", previous.id);
    Ok(Json(previous))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UseList {
    pub list_id: i64,
}

/// Send the job to a saved list of the group.
#[utoipa::path(put, path = "/jobs/{id}/recipients/list", tag = "recipients", request_body = UseList,
    responses((status = 200, body = ListInfo), (status = 403), (status = 404), (status = 409)))]
async fn use_list(
    State(state): State<Arc<LuiState>>,
    session: LuiSession,
    Path(id): Path<String>,
    Json(body): Json<UseList>,
) -> ApiResult<Json<ListInfo>> {
    let actor = actor(&state, &session).await?;
    let (job, access) = job_for(&state, &actor, &id).await?;
    editable(&job, access)?;
    let Actor::User {
        id: me, group_id, ..
    } = &actor
    else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "the admin login sends no jobs",
        ));
    };
    let saved = state.lists.saved(*me, *group_id).await.map_err(db_error)?;
    let Some(list) = saved.into_iter().find(|l| l.id == body.list_id) else {
        return Err(ApiError::not_found(format!(
            "there is no saved list {} in your group",
            body.list_id
        )));
    };
    state
        .lists
        .use_for_job(&id, list.id)
        .await
        .map_err(db_error)?;
    Ok(Json(list))
}

/// The saved recipient lists of the caller's group.
#[utoipa::path(get, path = "/lists", tag = "recipients", responses((status = 200, body = Vec<ListInfo>)))]
async fn saved_lists(
    State(state): State<Arc<LuiState>>,
    session: LuiSession,
) -> ApiResult<Json<Vec<ListInfo>>> {
    let actor = actor(&state, &session).await?;
    let Actor::User { id, group_id, .. } = &actor else {
        return Ok(Json(Vec::new()));
    };
    Ok(Json(
        state.lists.saved(*id, *group_id).await.map_err(db_error)?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ReactionRequest {
    /// The earlier job (sent, with personal tracking, visible to the caller).
    pub job: String,
    pub reaction: Reaction,
    /// Count only opens and clicks of people, not those of scanners, prefetchers and
    /// privacy proxies (default true).
    #[serde(default = "yes")]
    pub people_only: bool,
}

fn yes() -> bool {
    true
}

/// Send the job to the recipients of an earlier job who opened or clicked it, or did not.
#[utoipa::path(post, path = "/jobs/{id}/recipients/reaction", tag = "recipients", request_body = ReactionRequest,
    responses((status = 200, body = ListInfo), (status = 403), (status = 404),
        (status = 409, description = "this job is not open, or the earlier one was not sent with personal tracking")))]
async fn from_reaction(
    State(state): State<Arc<LuiState>>,
    session: LuiSession,
    Path(id): Path<String>,
    Json(body): Json<ReactionRequest>,
) -> ApiResult<Json<ListInfo>> {
    let actor = actor(&state, &session).await?;
    let (job, access) = job_for(&state, &actor, &id).await?;
    editable(&job, access)?;
    let (earlier, _) = job_for(&state, &actor, &body.job).await?;
    if earlier.state == crate::jobs::model::JobState::Open {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("job {} has not been sent", earlier.id),
        ));
    }
    let tracking = state
        .sending
        .tracking(&earlier.id)
        .await
        .map_err(db_error)?;
    if tracking.kind != tutti_core::api::TrackingType::Personal {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "job {} was tracked {}: only personal tracking knows who reacted",
                earlier.id,
                crate::send::store::kind_key(tracking.kind)
            ),
        ));
    }
    let source_list = state
        .lists
        .of_job(&earlier.id)
        .await
        .map_err(db_error)?
        .ok_or_else(|| ApiError::not_found(format!("job {} has no recipients", earlier.id)))?;
    let (owner_id, group_id, group) = list_owner(&actor, &job);
    let what = match body.reaction {
        Reaction::Openers => "openers",
        Reaction::Clickers => "clickers",
        Reaction::NonOpeners => "non-openers",
        Reaction::NonClickers => "non-clickers",
    };
    let source = format!("{what} of job {}", earlier.id);
    let list = state
        .lists
        .create(&NewList {
            name: None,
            owner_id,
            group_id,
            group_name: group.as_deref(),
            columns: &source_list.columns,
            email_column: source_list.email_column,
            name_column: source_list.name_column,
            source: &source,
        })
        .await
        .map_err(db_error)?;
    state
        .lists
        .fill_from_reaction(list, &earlier.id, body.reaction, body.people_only)
        .await
        .map_err(db_error)?;
    state.lists.use_for_job(&id, list).await.map_err(db_error)?;
    state
        .lists
        .get(list)
        .await
        .map_err(db_error)?
        .map(Json)
        .ok_or_else(|| ApiError::internal("recipient lists", "the new list is gone"))
}

fn admin_only(actor: &Actor) -> ApiResult<()> {
    if matches!(actor, Actor::Admin) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "only the admin login manages database connections",
        ))
    }
}

/// The database connections recipients can be queried from (URLs for `admin` only).
#[utoipa::path(get, path = "/connections", tag = "recipients", responses((status = 200, body = Vec<query::Connection>)))]
async fn list_connections(
    State(state): State<Arc<LuiState>>,
    session: LuiSession,
) -> ApiResult<Json<Vec<query::Connection>>> {
    let actor = actor(&state, &session).await?;
    let admin = matches!(actor, Actor::Admin);
    Ok(Json(state.connections.list(admin).await.map_err(db_error)?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewConnection {
    pub name: String,
    /// `postgres://user:password@host:port/database`, `mysql://…` (MySQL or MariaDB) or
    /// `sqlite:///path/file.db` (opened read-only).
    pub url: String,
}

/// Define a database connection (the `admin` login only); it is tried first.
#[utoipa::path(post, path = "/connections", tag = "recipients", request_body = NewConnection,
    responses((status = 201, body = query::Connection), (status = 403), (status = 409, description = "the name is taken"),
        (status = 422, description = "the database cannot be reached with it")))]
async fn add_connection(
    State(state): State<Arc<LuiState>>,
    session: LuiSession,
    Json(body): Json<NewConnection>,
) -> ApiResult<(StatusCode, Json<query::Connection>)> {
    let actor = actor(&state, &session).await?;
    admin_only(&actor)?;
    let name = body.name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(ApiError::bad_request(
            "a connection's name has 1 to 100 characters",
        ));
    }
    tutti_core::names::check_visible(name)
        .map_err(|e| ApiError::bad_request(format!("the connection's name: {e}")))?;
    let Some(kind) = query::kind_of(body.url.trim()) else {
        return Err(ApiError::bad_request(
            "the URL is postgres://user:password@host:port/database, mysql://user:password@host:port/database or sqlite:///path/file.db",
        ));
    };
    let pool = query::open(body.url.trim())
        .await
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
    sqlx::query("SELECT 1").execute(&pool).await.map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("the database answers: {e}"),
        )
    })?;
    pool.close().await;
    let id = state
        .connections
        .add(name, body.url.trim())
        .await
        .map_err(db_error)?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::CONFLICT,
                format!("a connection named {name} exists"),
            )
        })?;
    tracing::info!("database connection {name} ({kind}) defined");
    let added = state
        .connections
        .list(true)
        .await
        .map_err(db_error)?
        .into_iter()
        .find(|c| c.id == id)
        .ok_or_else(|| ApiError::internal("connections", "the new connection is gone"))?;
    Ok((StatusCode::CREATED, Json(added)))
}

/// Remove a database connection (the `admin` login only).
#[utoipa::path(delete, path = "/connections/{connection}", tag = "recipients",
    responses((status = 204), (status = 403), (status = 404)))]
async fn remove_connection(
    State(state): State<Arc<LuiState>>,
    session: LuiSession,
    Path(connection): Path<i64>,
) -> ApiResult<StatusCode> {
    let actor = actor(&state, &session).await?;
    admin_only(&actor)?;
    if state
        .connections
        .remove(connection)
        .await
        .map_err(db_error)?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!(
            "there is no connection {connection}"
        )))
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct QueryRequest {
    pub connection_id: i64,
    /// One SELECT (or WITH … SELECT); it runs read-only.
    pub query: String,
    /// The column with the address; detected by its name when left out.
    pub email_column: Option<String>,
    pub name_column: Option<String>,
}

/// Take the job's recipients from a query (needs the right to use database recipient
/// sources). The query is tried for its columns first; its rows then stream into a new
/// list in the background, as an upload's do.
#[utoipa::path(post, path = "/jobs/{id}/recipients/query", tag = "recipients", request_body = QueryRequest,
    responses((status = 202, body = ListInfo), (status = 400), (status = 403), (status = 404), (status = 409),
        (status = 422, description = "the query does not run, or gives no usable columns")))]
async fn from_query(
    State(state): State<Arc<LuiState>>,
    session: LuiSession,
    Path(id): Path<String>,
    Json(body): Json<QueryRequest>,
) -> ApiResult<(StatusCode, Json<ListInfo>)> {
    let actor = actor(&state, &session).await?;
    let (job, access) = job_for(&state, &actor, &id).await?;
    editable(&job, access)?;
    if !actor.has(Right::DatabaseRecipients) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "your account may not use database recipient sources",
        ));
    }
    let sql = query::check_query(&body.query).map_err(ApiError::bad_request)?;
    let url = state
        .connections
        .url(body.connection_id)
        .await
        .map_err(db_error)?
        .ok_or_else(|| {
            ApiError::not_found(format!("there is no connection {}", body.connection_id))
        })?;
    let unprocessable = |e: String| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e);
    let pool = query::open(&url)
        .await
        .map_err(|e| unprocessable(e.to_string()))?;
    let shape = query::shape(
        &pool,
        &sql,
        body.email_column
            .as_deref()
            .filter(|c| !c.trim().is_empty()),
        body.name_column.as_deref().filter(|c| !c.trim().is_empty()),
    )
    .await
    .map_err(unprocessable)?;
    let (owner_id, group_id, group) = list_owner(&actor, &job);
    let connection_name = state
        .connections
        .list(false)
        .await
        .map_err(db_error)?
        .into_iter()
        .find(|c| c.id == body.connection_id)
        .map(|c| c.name)
        .unwrap_or_default();
    let list = state
        .lists
        .create(&NewList {
            name: None,
            owner_id,
            group_id,
            group_name: group.as_deref(),
            columns: &shape.columns,
            email_column: shape.email,
            name_column: shape.name,
            source: &format!("query on {connection_name}"),
        })
        .await
        .map_err(db_error)?;
    state.lists.use_for_job(&id, list).await.map_err(db_error)?;
    let lists = state.lists.clone();
    tokio::spawn(async move { query::fill(&lists, list, pool, sql, shape.email).await });
    let info = state
        .lists
        .get(list)
        .await
        .map_err(db_error)?
        .ok_or_else(|| ApiError::internal("recipient lists", "the new list is gone"))?;
    Ok((StatusCode::ACCEPTED, Json(info)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_that_a_spreadsheet_would_run_are_written_as_text() {
        assert_eq!(
            csv_line([
                "=HYPERLINK(\"http://x\")",
                "+1",
                "-2",
                "@SUM(A1)",
                "a=b",
                "plain"
            ]),
            "\"'=HYPERLINK(\"\"http://x\"\")\",'+1,'-2,'@SUM(A1),a=b,plain\r\n"
        );
        assert_eq!(csv_line(["\t=1", "x,y"]), "'\t=1,\"x,y\"\r\n");
    }
}
