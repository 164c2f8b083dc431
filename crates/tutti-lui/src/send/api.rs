//! Tracking, test, authorization and sending (`/lui/api/jobs/{id}/…`): a job goes out only
//! after a test send and an authorization that no later change has voided. Sending
//! registers the job's links with the Tracker, hands the job and its recipients to the
//! Mailer of the sender's mailer connection, and follows its progress.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tutti_core::Component;
use tutti_core::api::{AccountInfo, JobRegistration, LinkSpec};
use tutti_core::client::{PeerClient, PeerError};
use tutti_core::distribute::{
    CLIENT_HEADER, DistributeJob, JobProgress, JobState as MailerState, PASSWORD_HEADER, Submit,
};
use tutti_core::hostport::HostPort;
use tutti_core::http_error::ApiError;
use tutti_core::settings::MailerConnection;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::definition::{Tracking, content_digest, definition};
use super::store::{Approvals, TrackingChoice};
use super::test_quota;
use crate::LuiState;
use crate::events::suppressions::Scope;
use crate::jobs::api::{actor, job_for};
use crate::jobs::model::{Actor, Job, JobState};
use crate::message::api::{Problem, editable, problems_error, unwritable};
use crate::session_api::LuiSession;

type ApiResult<T> = Result<T, ApiError>;

/// Recipient rows per upload call to the Mailer.
const ROWS_PER_CALL: i64 = 5000;

pub fn router() -> OpenApiRouter<Arc<LuiState>> {
    OpenApiRouter::new()
        .routes(routes!(get_tracking, set_tracking))
        .routes(routes!(send_test))
        .routes(routes!(authorize))
        .routes(routes!(send_job))
        .routes(routes!(release))
        .routes(routes!(progress))
        .routes(routes!(control))
}

fn db_error(e: sqlx::Error) -> ApiError {
    ApiError::internal("the system database", e)
}

fn conflict(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, message)
}

fn forbidden(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, message)
}

/// A call to another component that failed, as the caller should see it.
fn peer_error(what: &str, e: PeerError) -> ApiError {
    match e {
        PeerError::Status {
            status, message, ..
        } if status == StatusCode::UNPROCESSABLE_ENTITY || status == StatusCode::CONFLICT => {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("{what}: {message}"),
            )
        }
        e => ApiError::new(StatusCode::BAD_GATEWAY, format!("{what}: {e}")),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TrackingView {
    #[serde(flatten)]
    pub choice: TrackingChoice,
    /// The message's links in order, each with whether its clicks are recorded.
    pub links: Vec<LinkSpec>,
    /// Why the links cannot be listed yet (the message does not compile).
    pub problems: Vec<Problem>,
}

pub(crate) async fn tracking_view(state: &LuiState, job: &str) -> ApiResult<TrackingView> {
    let choice = state.sending.tracking(job).await.map_err(db_error)?;
    let (links, problems) = match definition(state, job, Tracking::for_check()).await? {
        Ok(def) => match compile(job, &def) {
            Ok(links) => (links, Vec::new()),
            Err(problems) => (Vec::new(), problems),
        },
        Err(problems) => (Vec::new(), problems),
    };
    Ok(TrackingView {
        choice,
        links,
        problems,
    })
}

/// Compiles a definition as the Mailer will; the link table on success.
fn compile(job: &str, def: &DistributeJob) -> Result<Vec<LinkSpec>, Vec<Problem>> {
    match def.composer(job) {
        Ok(composer) => Ok(composer
            .links()
            .iter()
            .map(|l| LinkSpec {
                url: l.target.clone().unwrap_or_else(|| l.written.clone()),
                tracked: l.tracked,
                merged: l.target.is_none(),
            })
            .collect()),
        Err(problems) => Err(problems.into_iter().map(Problem::from).collect()),
    }
}

/// How the job is tracked, and its links.
#[utoipa::path(get, path = "/jobs/{id}/tracking", tag = "sending",
    responses((status = 200, body = TrackingView), (status = 404)))]
async fn get_tracking(
    State(state): State<Arc<LuiState>>,
    session: LuiSession,
    Path(id): Path<String>,
) -> ApiResult<Json<TrackingView>> {
    let actor = actor(&state, &session).await?;
    job_for(&state, &actor, &id).await?;
    Ok(Json(tracking_view(&state, &id).await?))
}

/// Choose the tracking type, opens, and links not to track. Voids test and authorization.
#[utoipa::path(put, path = "/jobs/{id}/tracking", tag = "sending", request_body = TrackingChoice,
    responses((status = 200, body = TrackingView), (status = 403), (status = 404), (status = 409)))]
async fn set_tracking(
    State(state): State<Arc<LuiState>>,
    session: LuiSession,
    Path(id): Path<String>,
    Json(choice): Json<TrackingChoice>,
) -> ApiResult<Json<TrackingView>> {
    let actor = actor(&state, &session).await?;
    let (job, access) = job_for(&state, &actor, &id).await?;
    editable(&job, access)?;
    if choice.untracked.len() > 1000 {
        return Err(ApiError::bad_request("at most 1000 untracked links"));
    }
    state
        .sending
        .set_tracking(&id, &choice)
        .await
        .map_err(db_error)?;
    Ok(Json(tracking_view(&state, &id).await?))
}

/// The account's settings as the cache holds them.
async fn account(state: &LuiState, actor: &Actor) -> ApiResult<AccountInfo> {
    let Actor::User { id, .. } = actor else {
        return Err(forbidden("the admin login sends no jobs"));
    };
    state.cached_account(*id).await
}

/// The sender's mailer connection and tracking URL (Hub settings, user → group → global).
fn connection(account: &AccountInfo) -> ApiResult<(MailerConnection, String)> {
    let mailer = account.settings.mailer.as_ref().map(|m| m.value.clone()).ok_or_else(|| {
        conflict("no mailer connection is set for your account: an administrator sets one in the Hub (Settings)")
    })?;
    let tracking = account
        .settings
        .tracking
        .as_ref()
        .map(|t| t.value.base_url())
        .ok_or_else(|| {
            conflict("no Tracking URL is set for your account: an administrator sets one in the Hub (Settings)")
        })?;
    Ok((mailer, format!("{}/trk", tracking.trim_end_matches('/'))))
}

/// A client for the Mailer of `conn`.
pub(crate) fn mailer_client(state: &LuiState, conn: &MailerConnection) -> ApiResult<PeerClient> {
    let base: HostPort = conn.host.parse().map_err(|e| {
        conflict(format!(
            "the mailer connection's host \"{}\" is not host[:port]: {e}",
            conn.host
        ))
    })?;
    Ok(PeerClient::new(
        state.ctx.http.clone(),
        base,
        Component::Mailer,
        state.secret.clone(),
    ))
}

/// The suppression scope of a job: its group (or, for a job of no group, its owner's own
/// list, or the group the registry knows the owner in now).
pub(crate) async fn job_scope(state: &LuiState, job: &Job) -> ApiResult<Scope> {
    if job.group_id.is_some() {
        return Ok(Scope::of_account(job.group_id, job.owner_id));
    }
    let owner = state.cached_account(job.owner_id).await.map_err(|_| {
        conflict(format!(
            "job {}'s owner no longer exists: the admin login gives it a new owner first",
            job.id
        ))
    })?;
    Ok(Scope::of_account(owner.group_id, owner.id))
}

/// Hands a job to the Mailer: its links to the Tracker first (so no link is ever sent
/// that the Tracker does not know), then the definition, the rows and the submit.
async fn hand_over(
    state: &LuiState,
    conn: &MailerConnection,
    mailer_id: &str,
    def: &DistributeJob,
    rows: Rows<'_>,
) -> ApiResult<(u64, u64)> {
    let links = compile(mailer_id, def).map_err(|problems| not_ready(mailer_id, &problems))?;
    let registration = JobRegistration {
        key: def.tracking.key.clone(),
        tracking: def.tracking.kind,
        opens: def.tracking.opens,
        links,
    };
    state
        .tracker
        .call::<serde_json::Value>(
            reqwest::Method::PUT,
            &format!("/api/jobs/{mailer_id}"),
            |r| r.json(&registration),
        )
        .await
        .map_err(|e| peer_error("the Tracker refused the job's links", e))?;
    let mailer = mailer_client(state, conn)?;
    let with_client = |r: reqwest::RequestBuilder| {
        r.header(CLIENT_HEADER, &conn.client_address)
            .header(PASSWORD_HEADER, &conn.client_password)
    };
    mailer
        .call::<serde_json::Value>(
            reqwest::Method::PUT,
            &format!("/api/jobs/{mailer_id}"),
            |r| with_client(r).json(def),
        )
        .await
        .map_err(|e| peer_error("the Mailer refused the job", e))?;
    let mut sent = 0u64;
    let upload = |body: String, first: u64| {
        let mailer = mailer.clone();
        let path = format!("/api/jobs/{mailer_id}/recipients?first={first}");
        async move {
            mailer
                .call::<serde_json::Value>(reqwest::Method::POST, &path, |r| {
                    with_client(r)
                        .header(reqwest::header::CONTENT_TYPE, "application/x-ndjson")
                        .body(body)
                })
                .await
                .map_err(|e| peer_error("the Mailer refused the recipients", e))
        }
    };
    let mut suppressed = 0u64;
    match rows {
        Rows::List(list, scope) => {
            // Addresses on the suppression list are left out; the rest are numbered in
            // order, and who each number is is kept for the events that come back.
            let mut after = -1i64;
            loop {
                let page = state
                    .lists
                    .rows_for_send(list, scope, after, ROWS_PER_CALL)
                    .await
                    .map_err(db_error)?;
                let Some((last, ..)) = page.last() else { break };
                after = *last;
                let mut body = String::new();
                let mut sent_rows = Vec::with_capacity(page.len());
                for (seq, fields, key, is_suppressed) in page {
                    if is_suppressed {
                        suppressed += 1;
                        continue;
                    }
                    body.push_str(&fields);
                    body.push('\n');
                    sent_rows.push((seq, key));
                }
                if sent_rows.is_empty() {
                    continue;
                }
                let first = i64::try_from(sent).unwrap_or(i64::MAX);
                state
                    .events
                    .record_sent(mailer_id, list, first, &sent_rows)
                    .await
                    .map_err(db_error)?;
                let n = sent_rows.len() as u64;
                upload(body, sent).await?;
                sent += n;
            }
        }
        Rows::These(rows) => {
            let body: String = rows
                .iter()
                .map(|fields| serde_json::to_string(fields).unwrap_or_default() + "\n")
                .collect();
            upload(body, 0).await?;
            sent = rows.len() as u64;
        }
    }
    mailer
        .call::<serde_json::Value>(
            reqwest::Method::POST,
            &format!("/api/jobs/{mailer_id}/submit"),
            |r| with_client(r).json(&Submit { recipients: sent }),
        )
        .await
        .map_err(|e| peer_error("the Mailer refused to start the job", e))?;
    Ok((sent, suppressed))
}

/// The rows a hand-over sends.
enum Rows<'a> {
    /// A recipient list, in order, without the addresses suppressed for a scope.
    List(i64, Scope),
    /// Given rows (a test send).
    These(&'a [Vec<String>]),
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TestRequest {
    /// Where the test message goes (at most `TestSendMaxAddresses` of lui.ini, 20 unless
    /// set; and at most `TestSendMaxPerDay`, 100 unless set, per account and day).
    pub addresses: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TestSent {
    /// The test's own job id at the Mailer and the Tracker.
    pub test_job: String,
    pub addresses: Vec<String>,
}

/// A test address passes the check uploaded recipients pass, so a test goes where the
/// job itself could.
fn check_test_address(a: &str) -> ApiResult<String> {
    let a = a.trim();
    tutti_recipients::address_key(a)
        .map(|_| a.to_string())
        .map_err(|e| ApiError::bad_request(format!("\"{a}\" is not an e-mail address: {e}")))
}

/// Send the message, merged with the first recipient's data, to test addresses. Required
/// before authorization; any later change voids it. Needs send access to the job (the right
/// to send jobs, and the owner's grant for another's job), and is capped: addresses per call
/// (`TestSendMaxAddresses`) and per account and day (`TestSendMaxPerDay`, days in UTC).
#[utoipa::path(post, path = "/jobs/{id}/test", tag = "sending", request_body = TestRequest,
    responses((status = 200, body = TestSent), (status = 400), (status = 403, description = "no send access"), (status = 404),
        (status = 409, description = "not open, or no mailer connection or Tracking URL"),
        (status = 422, description = "the job does not compile, or more addresses than one test may go to"),
        (status = 429, description = "the account's test addresses of the day are used up: the answer says when the count starts again"),
        (status = 502, description = "the Mailer or the Tracker failed")))]
async fn send_test(
    State(state): State<Arc<LuiState>>,
    session: LuiSession,
    Path(id): Path<String>,
    Json(body): Json<TestRequest>,
) -> ApiResult<Json<TestSent>> {
    let actor = actor(&state, &session).await?;
    let (job, access) = job_for(&state, &actor, &id).await?;
    // A test send mails outside addresses: it needs what sending needs.
    if !access.send {
        return Err(forbidden(format!(
            "you may not send test messages of job {id}: that needs the right to send jobs (and, for another's job, the owner's grant to send it)"
        )));
    }
    if job.state != JobState::Open {
        return Err(conflict(format!("job {id} is {}", job.state.key())));
    }
    if body.addresses.is_empty() {
        return Err(ApiError::bad_request("give at least one test address"));
    }
    let caps = state.test_send_caps;
    if body.addresses.len() > caps.per_call as usize {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "a test send goes to at most {} addresses (TestSendMaxAddresses in lui.ini), not {}: nothing was sent",
                caps.per_call,
                body.addresses.len()
            ),
        ));
    }
    let addresses = body
        .addresses
        .iter()
        .map(|a| check_test_address(a))
        .collect::<ApiResult<Vec<_>>>()?;
    let account = account(&state, &actor).await?;
    let (conn, base_url) = connection(&account)?;
    let key = state
        .sending
        .tracking_key(&id)
        .await
        .map_err(|e| ApiError::internal("tracking key", e))?;
    let (def, composer) = ready_definition(&state, &id, Tracking { base_url, key }).await?;
    let list = state.lists.of_job(&id).await.map_err(db_error)?;
    let first = match &list {
        Some(l) => state.lists.rows(l.id, -1, 1).await.map_err(db_error)?,
        None => Vec::new(),
    };
    let Some((_, sample)) = first.into_iter().next() else {
        return Err(conflict(
            "the job has no recipients to merge a test message with",
        ));
    };
    let rows: Vec<Vec<String>> = addresses
        .iter()
        .map(|a| {
            let mut row = sample.clone();
            if let Some(cell) = row.get_mut(def.address_column) {
                cell.clone_from(a);
            }
            row
        })
        .collect();
    // The first recipient's data can still make a merged address invalid: say so now,
    // rather than report a test as sent that the Mailer can only fail.
    if let Some(why) = rows.iter().find_map(|row| unwritable(&composer, row)) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("the test message cannot be written with the first recipient's data: {why}"),
        ));
    }
    let day = reserve_test_addresses(&state, account.id, addresses.len()).await?;
    let n = state.sending.next_test(&id).await.map_err(db_error)?;
    let test_job = format!("{id}-T{n}");
    let digest = content_digest(&def, list.as_ref().map_or(0, |l| l.id));
    if let Err(e) = hand_over(&state, &conn, &test_job, &def, Rows::These(&rows)).await {
        // Nothing was submitted (or the Mailer's answer is unknown): the addresses are
        // given back rather than count a test the user never got.
        let n = i64::try_from(addresses.len()).unwrap_or(i64::MAX);
        if let Err(db) = state.test_quota.give_back(account.id, day, n).await {
            tracing::warn!("giving back test addresses of account {}: {db}", account.id);
        }
        return Err(e);
    }
    state.sending.tested(&id, &digest).await.map_err(db_error)?;
    tracing::info!(
        "test {test_job} of job {id} sent to {}",
        addresses.join(", ")
    );
    Ok(Json(TestSent {
        test_job,
        addresses,
    }))
}

/// Counts `n` test addresses against the account's cap of the day; the day counted, or a
/// 429 that says the cap and when it resets.
async fn reserve_test_addresses(state: &LuiState, account: i64, n: usize) -> ApiResult<i64> {
    let day = test_quota::day_of(Utc::now());
    let cap = i64::from(state.test_send_caps.per_day);
    let n = i64::try_from(n).unwrap_or(i64::MAX);
    if state
        .test_quota
        .reserve(account, day, n, cap)
        .await
        .map_err(db_error)?
    {
        return Ok(day);
    }
    let used = state
        .test_quota
        .used(account, day)
        .await
        .map_err(db_error)?;
    Err(ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        format!(
            "your test sends may go to {cap} addresses a day (TestSendMaxPerDay in lui.ini); {used} are used today and these {n} would go beyond it: nothing was sent. The count starts again at {} (00:00 UTC)",
            test_quota::end_of(day).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ),
    ))
}

/// The definition and its compiled message, or a 422 listing its problems.
async fn ready_definition(
    state: &LuiState,
    id: &str,
    tracking: Tracking,
) -> ApiResult<(DistributeJob, tutti_message::Composer)> {
    let problems = match definition(state, id, tracking).await? {
        Ok(def) => match def.composer(id) {
            Ok(composer) => return Ok((def, composer)),
            Err(problems) => problems.into_iter().map(Problem::from).collect(),
        },
        Err(problems) => problems,
    };
    Err(not_ready(id, &problems))
}

/// Voids the test and authorization of a job whose content is no longer what was tested
/// (a drop-in it uses was edited in the library, say), and says so.
async fn still_as_tested(
    state: &LuiState,
    id: &str,
    def: &DistributeJob,
    list_id: i64,
) -> ApiResult<()> {
    let tested = state.sending.tested_digest(id).await.map_err(db_error)?;
    if tested == content_digest(def, list_id) {
        return Ok(());
    }
    state.sending.void(id).await.map_err(db_error)?;
    tracing::info!("job {id} changed since its test: test and authorization voided");
    Err(conflict(format!(
        "job {id} changed since its test (its message, a drop-in it uses, its files, recipients or tracking): \
         the test and the authorization are void; send a new test"
    )))
}

fn not_ready(id: &str, problems: &[Problem]) -> ApiError {
    problems_error(&format!("job {id} is not ready"), problems)
}

/// Authorize the tested job for sending (needs send access).
#[utoipa::path(post, path = "/jobs/{id}/authorize", tag = "sending",
    responses((status = 200, body = Approvals), (status = 403), (status = 404),
        (status = 409, description = "not tested since the last change, or not open")))]
async fn authorize(
    State(state): State<Arc<LuiState>>,
    session: LuiSession,
    Path(id): Path<String>,
) -> ApiResult<Json<Approvals>> {
    let actor = actor(&state, &session).await?;
    let (job, access) = job_for(&state, &actor, &id).await?;
    let Actor::User { name, .. } = &actor else {
        return Err(forbidden("the admin login sends no jobs"));
    };
    if !access.send {
        return Err(forbidden(format!("you may not authorize job {id}")));
    }
    if job.state != JobState::Open {
        return Err(conflict(format!("job {id} is {}", job.state.key())));
    }
    if state
        .sending
        .approvals(&id)
        .await
        .map_err(db_error)?
        .tested_ms
        == 0
    {
        return Err(conflict(format!(
            "job {id} must be tested first: send a test message (nothing since the last change)"
        )));
    }
    let (def, _) = ready_definition(&state, &id, Tracking::for_check()).await?;
    let list_id = state
        .lists
        .of_job(&id)
        .await
        .map_err(db_error)?
        .map_or(0, |l| l.id);
    still_as_tested(&state, &id, &def, list_id).await?;
    state.sending.authorize(&id, name).await.map_err(db_error)?;
    Ok(Json(state.sending.approvals(&id).await.map_err(db_error)?))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct SendRequest {
    /// Not before this time; now when left out.
    pub at: Option<DateTime<Utc>>,
    /// Hold the job until it is released.
    #[serde(default)]
    pub hold: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SendView {
    pub job: Job,
    pub approvals: Approvals,
    /// Recipients handed to the Mailer (0 while held).
    pub recipients: u64,
    /// Recipients left out: their addresses are on the suppression list.
    pub suppressed: u64,
}

async fn checked_for_sending(state: &LuiState, actor: &Actor, id: &str) -> ApiResult<Job> {
    let (job, access) = job_for(state, actor, id).await?;
    if !access.send {
        return Err(forbidden(format!("you may not send job {id}")));
    }
    if job.state != JobState::Open {
        return Err(conflict(format!("job {id} is {}", job.state.key())));
    }
    if state
        .sending
        .approvals(id)
        .await
        .map_err(db_error)?
        .authorized_ms
        == 0
    {
        return Err(conflict(format!(
            "job {id} must be tested and authorized first (nothing since the last change)"
        )));
    }
    Ok(job)
}

async fn go(
    state: &LuiState,
    actor: &Actor,
    job: &Job,
    at: Option<DateTime<Utc>>,
) -> ApiResult<SendView> {
    let id = job.id.as_str();
    let account = account(state, actor).await?;
    let (conn, base_url) = connection(&account)?;
    let key = state
        .sending
        .tracking_key(id)
        .await
        .map_err(|e| ApiError::internal("tracking key", e))?;
    let (mut def, _) = ready_definition(state, id, Tracking { base_url, key }).await?;
    def.not_before = at;
    let list = state
        .lists
        .of_job(id)
        .await
        .map_err(db_error)?
        .ok_or_else(|| conflict(format!("job {id} has no recipients")))?;
    still_as_tested(state, id, &def, list.id).await?;
    // The owner's group's list and the installation's leave recipients out, and the job's
    // unsubscribes, bounces and complaints go to that group's list.
    let scope = job_scope(state, job).await?;
    state
        .suppressions
        .set_job_scope(id, scope)
        .await
        .map_err(db_error)?;
    let (recipients, suppressed) =
        hand_over(state, &conn, id, &def, Rows::List(list.id, scope)).await?;
    if recipients == 0 {
        return Err(conflict(format!(
            "every recipient of job {id} is on the suppression list: nothing was sent"
        )));
    }
    let at_ms = at.map_or_else(crate::database::now_ms, |t| t.timestamp_millis());
    state
        .sending
        .handed_over(
            id,
            &conn,
            at_ms,
            i64::try_from(suppressed).unwrap_or(i64::MAX),
        )
        .await
        .map_err(db_error)?;
    tracing::info!(
        "job {id} handed to the Mailer at {} with {recipients} recipients",
        conn.host
    );
    let (job, _) = job_for(state, actor, id).await?;
    Ok(SendView {
        job,
        approvals: state.sending.approvals(id).await.map_err(db_error)?,
        recipients,
        suppressed,
    })
}

/// Send the authorized job now, at a time, or hold it until released.
#[utoipa::path(post, path = "/jobs/{id}/send", tag = "sending", request_body = SendRequest,
    responses((status = 200, body = SendView), (status = 403), (status = 404),
        (status = 409, description = "not authorized since the last change, or not open"),
        (status = 422), (status = 502)))]
async fn send_job(
    State(state): State<Arc<LuiState>>,
    session: LuiSession,
    Path(id): Path<String>,
    Json(body): Json<SendRequest>,
) -> ApiResult<Json<SendView>> {
    let actor = actor(&state, &session).await?;
    let job = checked_for_sending(&state, &actor, &id).await?;
    if body.hold {
        state.sending.hold(&id).await.map_err(db_error)?;
        return Ok(Json(SendView {
            job,
            approvals: state.sending.approvals(&id).await.map_err(db_error)?,
            recipients: 0,
            suppressed: 0,
        }));
    }
    Ok(Json(go(&state, &actor, &job, body.at).await?))
}

/// Send a held job now.
#[utoipa::path(post, path = "/jobs/{id}/release", tag = "sending",
    responses((status = 200, body = SendView), (status = 403), (status = 404), (status = 409)))]
async fn release(
    State(state): State<Arc<LuiState>>,
    session: LuiSession,
    Path(id): Path<String>,
) -> ApiResult<Json<SendView>> {
    let actor = actor(&state, &session).await?;
    let job = checked_for_sending(&state, &actor, &id).await?;
    if state
        .sending
        .approvals(&id)
        .await
        .map_err(db_error)?
        .send_at_ms
        != Some(-1)
    {
        return Err(conflict(format!("job {id} is not held")));
    }
    Ok(Json(go(&state, &actor, &job, None).await?))
}

/// The job's progress at its Mailer, for the progress bar; a finished job is marked
/// completed (or failed when cancelled).
#[utoipa::path(get, path = "/jobs/{id}/progress", tag = "sending",
    responses((status = 200, body = JobProgress), (status = 404), (status = 409, description = "not sent yet"), (status = 502)))]
async fn progress(
    State(state): State<Arc<LuiState>>,
    session: LuiSession,
    Path(id): Path<String>,
) -> ApiResult<Json<JobProgress>> {
    let actor = actor(&state, &session).await?;
    let (job, _) = job_for(&state, &actor, &id).await?;
    let conn = state
        .sending
        .mailer_of(&id)
        .await
        .map_err(db_error)?
        .ok_or_else(|| conflict(format!("job {id} has not been sent")))?;
    let p: JobProgress = mailer_call(
        &state,
        &conn,
        reqwest::Method::GET,
        &format!("/api/jobs/{id}"),
    )
    .await?;
    if job.state == JobState::Ongoing {
        match p.state {
            MailerState::Completed => state.sending.finish(&id, true).await.map_err(db_error)?,
            MailerState::Cancelled => state.sending.finish(&id, false).await.map_err(db_error)?,
            _ => {}
        }
    }
    Ok(Json(p))
}

async fn mailer_call<T: serde::de::DeserializeOwned>(
    state: &LuiState,
    conn: &MailerConnection,
    method: reqwest::Method,
    path: &str,
) -> ApiResult<T> {
    mailer_client(state, conn)?
        .call(method, path, |r| {
            r.header(CLIENT_HEADER, &conn.client_address)
                .header(PASSWORD_HEADER, &conn.client_password)
        })
        .await
        .map_err(|e| peer_error("the Mailer", e))
}

/// Pause, resume or cancel a job being sent (needs send access).
#[utoipa::path(post, path = "/jobs/{id}/{action}", tag = "sending",
    params(("action" = String, Path, description = "pause, resume or cancel")),
    responses((status = 200, body = JobProgress), (status = 400), (status = 403), (status = 404), (status = 409)))]
async fn control(
    State(state): State<Arc<LuiState>>,
    session: LuiSession,
    Path((id, action)): Path<(String, String)>,
) -> ApiResult<Json<JobProgress>> {
    if !["pause", "resume", "cancel"].contains(&action.as_str()) {
        return Err(ApiError::not_found(format!(
            "no action {action} (pause, resume or cancel)"
        )));
    }
    let actor = actor(&state, &session).await?;
    let (job, access) = job_for(&state, &actor, &id).await?;
    if !access.send {
        return Err(forbidden(format!("you may not {action} job {id}")));
    }
    if job.state != JobState::Ongoing {
        return Err(conflict(format!(
            "job {id} is {}, not being sent",
            job.state.key()
        )));
    }
    let conn = state
        .sending
        .mailer_of(&id)
        .await
        .map_err(db_error)?
        .ok_or_else(|| conflict(format!("job {id} has not been sent")))?;
    let _: serde_json::Value = mailer_call(
        &state,
        &conn,
        reqwest::Method::POST,
        &format!("/api/jobs/{id}/{action}"),
    )
    .await?;
    let p: JobProgress = mailer_call(
        &state,
        &conn,
        reqwest::Method::GET,
        &format!("/api/jobs/{id}"),
    )
    .await?;
    if p.state == MailerState::Cancelled {
        state.sending.finish(&id, false).await.map_err(db_error)?;
    }
    Ok(Json(p))
}
