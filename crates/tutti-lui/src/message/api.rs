//! The message API (`/lui/api/jobs/{id}/message`, `/attachments/{name}`): read and save
//! the message, add and remove files; every answer carries the check's problems, each at
//! its line and column, from the same compiler the Mailer uses.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use serde::{Deserialize, Serialize};
use tutti_core::http_error::ApiError;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::store::{AttachmentInfo, MessageDraft};
use crate::LuiState;
use crate::jobs::api::{actor, job_for};
use crate::jobs::model::{Access, Job, JobState};
use crate::send::definition::{Tracking, definition};
use crate::session_api::LuiSession;

type ApiResult<T> = Result<T, ApiError>;

/// Largest file, and largest sum of a message's files.
pub const MAX_FILE: usize = 10 << 20;
const MAX_FILES_TOTAL: i64 = 20 << 20;
/// Largest HTML or text part.
const MAX_TEXT: usize = 2 << 20;

pub fn router() -> OpenApiRouter<Arc<LuiState>> {
    OpenApiRouter::new()
        .routes(routes!(get_message, save_message))
        .routes(routes!(preview))
        .routes(routes!(put_attachment, delete_attachment))
}

fn db_error(e: sqlx::Error) -> ApiError {
    ApiError::internal("the system database", e)
}

/// A problem the check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    /// Where: "subject", "HTML body", "text body", `drop-in "…"`, "charset", "recipients", …
    pub source: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl From<tutti_merge::MergeError> for Problem {
    fn from(p: tutti_merge::MergeError) -> Problem {
        Problem {
            source: p.source,
            line: p.line,
            column: p.column,
            message: p.message,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MessageView {
    pub message: MessageDraft,
    pub attachments: Vec<AttachmentInfo>,
    /// Empty when the message is ready to send.
    pub problems: Vec<Problem>,
}

/// The caller may change the job's content now.
pub(crate) fn editable(job: &Job, access: Access) -> ApiResult<()> {
    if !access.edit {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!("you may not change job {}", job.id),
        ));
    }
    if job.state != JobState::Open {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "job {} is {}: only open jobs can be changed (copy it to make a new one)",
                job.id,
                job.state.key()
            ),
        ));
    }
    Ok(())
}

pub(crate) async fn view(state: &LuiState, job: &str) -> ApiResult<MessageView> {
    let message = state
        .messages
        .get(job)
        .await
        .map_err(db_error)?
        .unwrap_or_else(|| MessageDraft {
            charset: state.default_charset.clone(),
            ..MessageDraft::default()
        });
    let attachments = state.messages.attachments(job).await.map_err(db_error)?;
    let problems = match definition(state, job, Tracking::for_check()).await? {
        Ok(definition) => match definition.composer(job) {
            Ok(_) => Vec::new(),
            Err(problems) => problems.into_iter().map(Problem::from).collect(),
        },
        Err(missing) => missing,
    };
    Ok(MessageView {
        message,
        attachments,
        problems,
    })
}

/// The message, its files and what the check finds.
#[utoipa::path(get, path = "/jobs/{id}/message", tag = "message",
    responses((status = 200, body = MessageView), (status = 404)))]
async fn get_message(
    State(state): State<Arc<LuiState>>,
    session: LuiSession,
    Path(id): Path<String>,
) -> ApiResult<Json<MessageView>> {
    let actor = actor(&state, &session).await?;
    job_for(&state, &actor, &id).await?;
    Ok(Json(view(&state, &id).await?))
}

fn check_single_line(what: &str, text: &str) -> ApiResult<()> {
    if text.len() > 2000 || text.contains(['\r', '\n']) {
        return Err(ApiError::bad_request(format!(
            "{what} must be one line of at most 2000 bytes"
        )));
    }
    Ok(())
}

/// Save the message (it may still have problems: they are in the answer). Voids the
/// test send and the authorization.
#[utoipa::path(put, path = "/jobs/{id}/message", tag = "message", request_body = MessageDraft,
    responses((status = 200, body = MessageView), (status = 400), (status = 403), (status = 404),
        (status = 409, description = "the job is no longer open")))]
async fn save_message(
    State(state): State<Arc<LuiState>>,
    session: LuiSession,
    Path(id): Path<String>,
    Json(draft): Json<MessageDraft>,
) -> ApiResult<Json<MessageView>> {
    let actor = actor(&state, &session).await?;
    let (job, access) = job_for(&state, &actor, &id).await?;
    editable(&job, access)?;
    for (what, text) in [
        ("the subject", &draft.subject),
        ("the sender name", &draft.from_name),
        ("the sender address", &draft.from_address),
        ("the reply-to address", &draft.reply_to),
        ("the charset", &draft.charset),
    ] {
        check_single_line(what, text)?;
    }
    for (what, part) in [
        ("the HTML part", &draft.html),
        ("the text part", &draft.text),
    ] {
        if part.as_ref().is_some_and(|p| p.len() > MAX_TEXT) {
            return Err(ApiError::bad_request(format!(
                "{what} is larger than {} MB",
                MAX_TEXT >> 20
            )));
        }
    }
    let charset = match draft.charset.trim() {
        "" => state.default_charset.clone(),
        c => c.to_string(),
    };
    if !state.allow_charset_choice && !charset.eq_ignore_ascii_case(&state.default_charset) {
        return Err(ApiError::bad_request(format!(
            "messages are written in {} here (AllowCharsetChoice=false in lui.ini), not {charset}",
            state.default_charset
        )));
    }
    if let crate::jobs::model::Actor::User { id: me, .. } = &actor
        && let Some(allowed) = state.cached_account(*me).await?.settings.charsets
        && !charset.eq_ignore_ascii_case(&state.default_charset)
        && !allowed
            .value
            .iter()
            .any(|c| c.eq_ignore_ascii_case(&charset))
    {
        return Err(ApiError::bad_request(format!(
            "your account may use the charsets {} (set in the Hub), not {charset}",
            allowed.value.join(", ")
        )));
    }
    let draft = MessageDraft {
        html: draft.html.filter(|h| !h.trim().is_empty()),
        text: draft.text.filter(|t| !t.trim().is_empty()),
        charset,
        ..draft
    };
    state.messages.save(&id, &draft).await.map_err(db_error)?;
    Ok(Json(view(&state, &id).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct AttachmentQuery {
    /// Makes the file an inline image the HTML shows as `cid:{content_id}`.
    pub content_id: Option<String>,
}

fn check_file_name(name: &str) -> ApiResult<()> {
    if name.is_empty() || name.len() > 200 || name.contains(['/', '\\']) {
        return Err(ApiError::bad_request(format!(
            "\"{name}\" is not a file name (1 to 200 bytes, no slashes)"
        )));
    }
    tutti_core::names::check_visible(name)
        .map_err(|e| ApiError::bad_request(format!("the file name: {e}")))
}

/// Add or replace a file: the request body is its content, the Content-Type header its
/// type.
#[utoipa::path(put, path = "/jobs/{id}/attachments/{name}", tag = "message", params(AttachmentQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, body = MessageView), (status = 400), (status = 403), (status = 404),
        (status = 409), (status = 413, description = "too large")))]
async fn put_attachment(
    State(state): State<Arc<LuiState>>,
    session: LuiSession,
    Path((id, name)): Path<(String, String)>,
    Query(q): Query<AttachmentQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<MessageView>> {
    let actor = actor(&state, &session).await?;
    let (job, access) = job_for(&state, &actor, &id).await?;
    editable(&job, access)?;
    check_file_name(&name)?;
    if body.len() > MAX_FILE {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("{name} is larger than {} MB", MAX_FILE >> 20),
        ));
    }
    let others: i64 = state
        .messages
        .attachments(&id)
        .await
        .map_err(db_error)?
        .iter()
        .filter(|a| a.name != name)
        .map(|a| a.size)
        .sum();
    if others + i64::try_from(body.len()).unwrap_or(i64::MAX) > MAX_FILES_TOTAL {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the message's files would be larger than {} MB together",
                MAX_FILES_TOTAL >> 20
            ),
        ));
    }
    let content_type = match headers.get(header::CONTENT_TYPE) {
        None => "application/octet-stream".to_string(),
        Some(value) => {
            let text = value.to_str().map(str::trim).unwrap_or_default();
            tutti_message::check_content_type(text)
                .map_err(|e| ApiError::bad_request(format!("{name}: {e}")))?;
            text.to_string()
        }
    };
    let content_id = q
        .content_id
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty());
    if let Some(cid) = &content_id
        && (cid.len() > 100
            || !cid
                .chars()
                .all(|c| c.is_ascii_graphic() && !"<>\"".contains(c)))
    {
        return Err(ApiError::bad_request(format!(
            "\"{cid}\" is not a content id (up to 100 visible ASCII characters, no <, > or \")"
        )));
    }
    let info = AttachmentInfo {
        name,
        content_type,
        content_id,
        size: 0,
    };
    state
        .messages
        .put_attachment(&id, &info, &body)
        .await
        .map_err(db_error)?;
    Ok(Json(view(&state, &id).await?))
}

/// Remove a file.
#[utoipa::path(delete, path = "/jobs/{id}/attachments/{name}", tag = "message",
    responses((status = 200, body = MessageView), (status = 403), (status = 404), (status = 409)))]
async fn delete_attachment(
    State(state): State<Arc<LuiState>>,
    session: LuiSession,
    Path((id, name)): Path<(String, String)>,
) -> ApiResult<Json<MessageView>> {
    let actor = actor(&state, &session).await?;
    let (job, access) = job_for(&state, &actor, &id).await?;
    editable(&job, access)?;
    if !state
        .messages
        .delete_attachment(&id, &name)
        .await
        .map_err(db_error)?
    {
        return Err(ApiError::not_found(format!("job {id} has no file {name}")));
    }
    Ok(Json(view(&state, &id).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct PreviewQuery {
    /// Which recipient, by position in the list (0: the first).
    #[serde(default)]
    pub recipient: i64,
}

/// The message as one recipient will get it (links show their targets).
#[derive(Debug, Serialize, ToSchema)]
pub struct PreviewView {
    pub recipient: i64,
    /// Recipients in the list, to choose from.
    pub recipients: i64,
    /// The recipient's row, by column.
    pub fields: Vec<String>,
    pub subject: String,
    pub from_name: String,
    pub from_address: String,
    pub reply_to: Option<String>,
    pub html: Option<String>,
    pub text: Option<String>,
}

/// Tracking URLs for a preview: each link leads to its own (merged) target.
struct PreviewUrls<'a> {
    links: &'a [tutti_message::Link],
}

impl tutti_message::TrackingUrls for PreviewUrls<'_> {
    fn unsubscribe(&self, out: &mut String) {
        out.push_str("#unsubscribe");
    }
    fn open(&self, out: &mut String) {
        out.push_str("data:image/gif;base64,R0lGODlhAQABAAAAACw=");
    }
    fn click(&self, link: usize, merged: Option<&str>, out: &mut String) {
        match merged {
            Some(target) => out.push_str(target),
            None => out.push_str(
                self.links
                    .get(link)
                    .and_then(|l| l.target.as_deref())
                    .unwrap_or("#"),
            ),
        }
    }
}

/// Why `row` cannot be written with `composer` (its own data makes an address invalid), if
/// it cannot.
pub(crate) fn unwritable(composer: &tutti_message::Composer, row: &[String]) -> Option<String> {
    composer
        .render(
            row,
            &PreviewUrls {
                links: composer.links(),
            },
        )
        .err()
}

/// The message merged for one recipient of the list: a 422 lists what stops it.
pub(crate) async fn preview_for(state: &LuiState, job: &str, index: i64) -> ApiResult<PreviewView> {
    let def = match definition(state, job, Tracking::for_check()).await? {
        Ok(def) => def,
        Err(problems) => {
            return Err(problems_error(
                "the message cannot be previewed yet",
                &problems,
            ));
        }
    };
    let composer = def.composer(job).map_err(|p| {
        problems_error(
            "the message cannot be previewed yet",
            &p.into_iter().map(Problem::from).collect::<Vec<_>>(),
        )
    })?;
    let list = state
        .lists
        .of_job(job)
        .await
        .map_err(db_error)?
        .ok_or_else(|| ApiError::not_found(format!("job {job} has no recipients")))?;
    let Some((_, fields)) = state
        .lists
        .row_at(list.id, index.max(0))
        .await
        .map_err(db_error)?
    else {
        return Err(ApiError::not_found(format!(
            "the list has {} recipients: there is no recipient {}",
            list.accepted,
            index + 1
        )));
    };
    let rendered = composer
        .render(
            &fields[..],
            &PreviewUrls {
                links: composer.links(),
            },
        )
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e))?;
    Ok(PreviewView {
        recipient: index.max(0),
        recipients: list.accepted,
        fields,
        subject: rendered.subject,
        from_name: rendered.from_name,
        from_address: rendered.from_address,
        reply_to: rendered.reply_to,
        html: rendered.html,
        text: rendered.text,
    })
}

/// A 422 that lists every problem at its place, after `what` ("job X is not ready").
pub(crate) fn problems_error(what: &str, problems: &[Problem]) -> ApiError {
    let listed: Vec<String> = problems
        .iter()
        .map(|p| {
            format!(
                "{}, line {}, column {}: {}",
                p.source, p.line, p.column, p.message
            )
        })
        .collect();
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        format!("{what}: {}", listed.join("; ")),
    )
}

/// The message as a chosen recipient will get it.
#[utoipa::path(get, path = "/jobs/{id}/preview", tag = "message", params(PreviewQuery),
    responses((status = 200, body = PreviewView), (status = 404), (status = 422, description = "the message does not check out yet")))]
async fn preview(
    State(state): State<Arc<LuiState>>,
    session: LuiSession,
    Path(id): Path<String>,
    Query(q): Query<PreviewQuery>,
) -> ApiResult<Json<PreviewView>> {
    let actor = actor(&state, &session).await?;
    job_for(&state, &actor, &id).await?;
    Ok(Json(preview_for(&state, &id, q.recipient).await?))
}
