//! The User Interface's pages, rendered on the server (askama). They show; every change
//! is made by the page's forms through the JSON API (static/tutti.js), so a person in a
//! browser and a script follow the same rules.

use std::sync::{Arc, OnceLock};

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;
use tutti_core::http_error::ApiError;
use tutti_core::rights::Right;

use crate::LuiState;
use crate::events::suppressions::Scope;
use crate::jobs::api::{actor, job_for};
use crate::jobs::model::{Access, Actor, Job, JobState};
use crate::jobs::store::ListFilter;
use crate::library::store::{Dropin, SenderProfile, Template as MessageTemplate, scope};
use crate::message::api::{PreviewView, Problem, preview_for, view as message_view};
use crate::message::store::{AttachmentInfo, MessageDraft};
use crate::recipients::store::ListInfo;
use crate::send::api::tracking_view;
use crate::send::store::{Approvals, TrackingChoice, kind_key};
use crate::send::test_quota::day_of;
use crate::session_api::{COOKIES, LuiSession};
use tutti_core::api::LinkSpec;

pub fn router() -> Router<Arc<LuiState>> {
    Router::new()
        .route("/", get(jobs_page))
        .route("/login", get(login_page))
        .route("/jobs/{id}", get(job_page))
        .route("/jobs/{id}/preview", get(preview_page))
        .route("/library", get(library_page))
        .route("/connections", get(connections_page))
        .route("/jobs/{id}/report", get(report_page))
        .route("/reports", get(reports_page))
        .route(
            "/suppressions",
            get(crate::events::suppression_page::suppressions_page),
        )
        .route("/static/tutti.js", get(script))
        .route("/static/tutti.css", get(style))
        .route("/branding/logo", get(logo))
}

/// The logo of `lui/branding`, public: the login page shows it.
async fn logo(State(state): State<Arc<LuiState>>, headers: header::HeaderMap) -> Response {
    state.branding.logo_response(&headers)
}

/// A file built into the binary, with the ETag of its content.
struct BuiltIn {
    content_type: &'static str,
    body: &'static str,
    etag: OnceLock<String>,
}

impl BuiltIn {
    const fn new(content_type: &'static str, body: &'static str) -> BuiltIn {
        BuiltIn {
            content_type,
            body,
            etag: OnceLock::new(),
        }
    }

    /// The file, or 304 if the browser has it. The browser asks each time (`no-cache`), so
    /// the pages of a new version never run with the script of the old one.
    fn answer(&self, request: &header::HeaderMap) -> Response {
        let etag = self
            .etag
            .get_or_init(|| format!("\"{}\"", tutti_core::web::token_hash(self.body)));
        let headers = [(header::CACHE_CONTROL, "no-cache"), (header::ETAG, etag)];
        if tutti_core::browser_headers::etag_matches(request, etag) {
            return (StatusCode::NOT_MODIFIED, headers).into_response();
        }
        (
            headers,
            [(header::CONTENT_TYPE, self.content_type)],
            self.body,
        )
            .into_response()
    }
}

static SCRIPT: BuiltIn = BuiltIn::new(
    "text/javascript; charset=utf-8",
    include_str!("../static/tutti.js"),
);
static STYLE: BuiltIn = BuiltIn::new(
    "text/css; charset=utf-8",
    include_str!("../static/tutti.css"),
);

async fn script(headers: header::HeaderMap) -> Response {
    SCRIPT.answer(&headers)
}

async fn style(headers: header::HeaderMap) -> Response {
    STYLE.answer(&headers)
}

/// What every page shows around its content.
pub struct Frame {
    pub csrf: String,
    /// Who is logged in ("" on the login page).
    pub actor: String,
    pub offline: bool,
    /// Company name, header text, logo and colours (`lui/branding/branding.ini`).
    pub brand: Arc<tutti_core::branding::Branding>,
}

impl Frame {
    pub(crate) fn of(state: &LuiState, session: &LuiSession, actor: &Actor) -> Frame {
        Frame {
            brand: state.branding.clone(),
            csrf: session.csrf(),
            actor: match actor {
                Actor::Admin => "admin".into(),
                Actor::User { name, .. } => name.clone(),
            },
            offline: session.offline,
        }
    }
}

pub(crate) fn render(t: impl Template) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => ApiError::internal("a page failed to render", e).into_response(),
    }
}

/// A page's answer to a refused session: to the login page; other errors as they are.
pub(crate) fn refused(e: ApiError) -> Response {
    if e.status == StatusCode::UNAUTHORIZED {
        Redirect::to("/lui/login").into_response()
    } else {
        e.into_response()
    }
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    frame: Frame,
    hub_console_url: String,
}

async fn login_page(
    State(state): State<Arc<LuiState>>,
    tls: Option<axum::Extension<tutti_core::runtime::ViaTls>>,
    jar: CookieJar,
) -> Response {
    render(LoginPage {
        frame: Frame {
            csrf: COOKIES
                .current_csrf(&jar, tls.is_some())
                .unwrap_or_default(),
            actor: String::new(),
            offline: false,
            brand: state.branding.clone(),
        },
        hub_console_url: state.hub_console_url.clone(),
    })
}

/// A job as the list shows it.
struct JobRow {
    id: String,
    title: String,
    state: JobState,
    owner_name: String,
    folder: String,
    created: String,
}

#[derive(Template)]
#[template(path = "jobs.html")]
struct JobsPage {
    frame: Frame,
    jobs: Vec<JobRow>,
    total: i64,
    folders: Vec<(String, i64)>,
    folder: Option<String>,
    archived: bool,
    q: String,
    can_create: bool,
}

#[derive(Debug, Default, Deserialize)]
struct JobsQuery {
    folder: Option<String>,
    #[serde(default)]
    archived: bool,
    #[serde(default)]
    q: String,
}

pub(crate) fn local_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| {
            t.with_timezone(&chrono::Local)
                .format("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_default()
}

async fn jobs_page(
    State(state): State<Arc<LuiState>>,
    session: Result<LuiSession, ApiError>,
    Query(q): Query<JobsQuery>,
) -> Response {
    let session = match session {
        Ok(s) => s,
        Err(e) => return refused(e),
    };
    let actor = match actor(&state, &session).await {
        Ok(a) => a,
        Err(e) => return refused(e),
    };
    let visible_to = actor.viewer();
    let filter = ListFilter {
        visible_to,
        folder: q.folder.clone(),
        archived: q.archived,
        search: Some(q.q.clone()).filter(|s| !s.trim().is_empty()),
        offset: 0,
        limit: 200,
    };
    let listed = state.jobs.list(&filter).await;
    let folders = state.jobs.folders(visible_to).await;
    let (Ok((jobs, total)), Ok(folders)) = (listed, folders) else {
        return ApiError::internal("the system database", "listing jobs failed").into_response();
    };
    render(JobsPage {
        frame: Frame::of(&state, &session, &actor),
        jobs: jobs
            .into_iter()
            .map(|j| JobRow {
                created: local_time(j.created_ms),
                id: j.id,
                title: j.title,
                state: j.state,
                owner_name: j.owner_name,
                folder: j.folder,
            })
            .collect(),
        total,
        folders,
        folder: q.folder,
        archived: q.archived,
        q: q.q,
        can_create: actor.has(Right::CreateJobs),
    })
}

#[derive(Template)]
#[template(path = "job.html")]
struct JobPage {
    frame: Frame,
    job: Job,
    access: Access,
    editable: bool,
    list: Option<ListInfo>,
    recipients_ready: bool,
    saved: Vec<ListInfo>,
    can_save_lists: bool,
    message: MessageDraft,
    attachments: Vec<AttachmentInfo>,
    problems: Vec<Problem>,
    charsets: Vec<String>,
    default_from: String,
    default_reply_to: String,
    tracking: TrackingChoice,
    /// Whether the marketer saved the tracking choices (the defaults are not a choice).
    tracking_saved: bool,
    tracking_kind: &'static str,
    links: Vec<LinkSpec>,
    approvals: Approvals,
    can_create: bool,
    /// The job's group besides its owner, with what each may do (owner and admin only).
    members: Vec<MemberRow>,
    members_error: Option<String>,
    templates: Vec<MessageTemplate>,
    profiles: Vec<SenderProfile>,
    can_manage_library: bool,
    /// Addresses of the list on the suppression list.
    suppressed_in_list: i64,
    /// `TestSendMaxAddresses` and `TestSendMaxPerDay`, and the caller's test addresses today.
    test_caps: tutti_core::config::TestSendCaps,
    tests_used_today: i64,
    /// The list the job had before, shown when the current one failed to import.
    previous_list: Option<ListInfo>,
    /// Jobs the caller may see that were sent: sources of reaction lists.
    sent_jobs: Vec<(String, String)>,
    connections: Vec<crate::recipients::query::Connection>,
    can_query: bool,
    /// Imported events by kind.
    event_counts: Vec<(String, i64)>,
}

/// A member of the job's group and their grant.
struct MemberRow {
    id: i64,
    user_name: String,
    see: bool,
    edit: bool,
    send: bool,
}

async fn job_page(
    State(state): State<Arc<LuiState>>,
    session: Result<LuiSession, ApiError>,
    Path(id): Path<String>,
) -> Response {
    let session = match session {
        Ok(s) => s,
        Err(e) => return refused(e),
    };
    match job_page_for(&state, &session, &id).await {
        Ok(page) => render(page),
        Err(e) => refused(e),
    }
}

async fn job_page_for(
    state: &LuiState,
    session: &LuiSession,
    id: &str,
) -> Result<JobPage, ApiError> {
    let db = |e: sqlx::Error| ApiError::internal("the system database", e);
    let actor = actor(state, session).await?;
    let (job, access) = job_for(state, &actor, id).await?;
    let list = state.lists.of_job(id).await.map_err(db)?;
    let (saved, settings) = match &actor {
        Actor::User {
            id: me, group_id, ..
        } => (
            state.lists.saved(*me, *group_id).await.map_err(db)?,
            Some(state.cached_account(*me).await?.settings),
        ),
        Actor::Admin => (Vec::new(), None),
    };
    let (members, members_error) = if access.owner || access.administer {
        match crate::jobs::api::members(state, &job).await {
            Ok(all) => {
                let grants = state.jobs.grants(id).await.map_err(db)?;
                let rows = all
                    .into_iter()
                    .filter(|m| m.id != job.owner_id)
                    .map(|m| {
                        let grant = grants.iter().find(|g| g.account_id == m.id);
                        MemberRow {
                            see: grant.is_some(),
                            edit: grant.is_some_and(|g| g.edit),
                            send: grant.is_some_and(|g| g.send),
                            id: m.id,
                            user_name: m.user_name,
                        }
                    })
                    .collect();
                (rows, None)
            }
            Err(e) => (Vec::new(), Some(e.message)),
        }
    } else {
        (Vec::new(), None)
    };
    let suppressed_in_list = match &list {
        Some(l) => {
            // A job whose owner is gone counts what every group leaves out.
            let scope = crate::send::api::job_scope(state, &job)
                .await
                .unwrap_or(Scope::Installation);
            state
                .suppressions
                .suppressed_in_list(l.id, scope)
                .await
                .map_err(db)?
        }
        None => 0,
    };
    let test_caps = state.test_send_caps;
    let tests_used_today = match &actor {
        Actor::User { id: me, .. } => state
            .test_quota
            .used(*me, day_of(chrono::Utc::now()))
            .await
            .map_err(db)?,
        Actor::Admin => 0,
    };
    let previous_list = match &list {
        Some(l) if l.state == "failed" => state.lists.previous_of_job(id).await.map_err(db)?,
        _ => None,
    };
    let event_counts = if crate::report::api::may_view_reports(&actor).is_ok() {
        state.events.counts(id).await.map_err(db)?
    } else {
        Vec::new()
    };
    let visible = ListFilter {
        visible_to: actor.viewer(),
        limit: 200,
        ..ListFilter::default()
    };
    let sent_jobs = state
        .jobs
        .list(&visible)
        .await
        .map_err(db)?
        .0
        .into_iter()
        .filter(|j| j.state != JobState::Open && j.id != id)
        .map(|j| (j.id, j.title))
        .collect();
    let message = message_view(state, id).await?;
    let tracking = tracking_view(state, id).await?;
    let mut charsets: Vec<String> = if !state.allow_charset_choice {
        vec![state.default_charset.clone()]
    } else {
        settings
            .as_ref()
            .and_then(|s| s.charsets.as_ref())
            .map(|c| c.value.clone())
            .unwrap_or_else(|| {
                tutti_core::settings::KNOWN_CHARSETS
                    .iter()
                    .map(|n| n.to_string())
                    .collect()
            })
    };
    if !charsets
        .iter()
        .any(|c| c.eq_ignore_ascii_case(&message.message.charset))
    {
        charsets.insert(0, message.message.charset.clone());
    }
    let default_of = |pick: fn(&tutti_core::settings::EffectiveSettings) -> Option<String>| {
        settings.as_ref().and_then(pick).unwrap_or_default()
    };
    Ok(JobPage {
        frame: Frame::of(state, session, &actor),
        editable: access.edit && job.state == JobState::Open,
        recipients_ready: list.as_ref().is_some_and(|l| l.state == "ready"),
        list,
        saved,
        can_save_lists: actor.has(Right::ManageRecipientLists),
        problems: message.problems,
        message: message.message,
        attachments: message.attachments,
        charsets,
        default_from: default_of(|s| s.sender_from.as_ref().map(|v| v.value.clone())),
        default_reply_to: default_of(|s| s.sender_reply_to.as_ref().map(|v| v.value.clone())),
        tracking_saved: state.sending.tracking_saved(id).await.map_err(db)?,
        tracking_kind: kind_key(tracking.choice.kind),
        tracking: tracking.choice,
        links: tracking.links,
        approvals: state.sending.approvals(id).await.map_err(db)?,
        can_create: actor.has(Right::CreateJobs),
        templates: match &actor {
            Actor::User {
                id: me, group_id, ..
            } => state
                .library
                .templates(&scope(*group_id, *me))
                .await
                .map_err(db)?,
            Actor::Admin => Vec::new(),
        },
        profiles: match &actor {
            Actor::User {
                id: me, group_id, ..
            } => state
                .library
                .sender_profiles(&scope(*group_id, *me))
                .await
                .map_err(db)?,
            Actor::Admin => Vec::new(),
        },
        can_manage_library: actor.has(Right::ManageDropinsTemplates),
        suppressed_in_list,
        test_caps,
        tests_used_today,
        previous_list,
        event_counts,
        sent_jobs,
        connections: state.connections.list(false).await.map_err(db)?,
        can_query: actor.has(Right::DatabaseRecipients),
        members,
        members_error,
        access,
        job,
    })
}

#[derive(Template)]
#[template(path = "preview.html")]
struct PreviewPage {
    frame: Frame,
    job: Job,
    p: PreviewView,
}

/// The preview page counts recipients from 1, as people do (the API counts from 0).
#[derive(Deserialize)]
struct PreviewPageQuery {
    #[serde(default)]
    number: Option<i64>,
}

async fn preview_page(
    State(state): State<Arc<LuiState>>,
    session: Result<LuiSession, ApiError>,
    Path(id): Path<String>,
    Query(q): Query<PreviewPageQuery>,
) -> Response {
    let session = match session {
        Ok(s) => s,
        Err(e) => return refused(e),
    };
    let page = async {
        let actor = actor(&state, &session).await?;
        let (job, _) = job_for(&state, &actor, &id).await?;
        let index = q.number.unwrap_or(1).max(1) - 1;
        let p = preview_for(&state, &id, index).await?;
        Ok::<_, ApiError>(PreviewPage {
            frame: Frame::of(&state, &session, &actor),
            job,
            p,
        })
    };
    match page.await {
        Ok(page) => render(page),
        Err(e) => refused(e),
    }
}

#[derive(Template)]
#[template(path = "library.html")]
struct LibraryPage {
    frame: Frame,
    profiles: Vec<SenderProfile>,
    /// Each drop-in with the confirmation its delete button asks (naming what uses it).
    dropins: Vec<(Dropin, String)>,
    templates: Vec<MessageTemplate>,
    can_manage: bool,
}

async fn library_page(
    State(state): State<Arc<LuiState>>,
    session: Result<LuiSession, ApiError>,
) -> Response {
    let session = match session {
        Ok(s) => s,
        Err(e) => return refused(e),
    };
    let page = async {
        let actor = actor(&state, &session).await?;
        let db = |e: sqlx::Error| ApiError::internal("the system database", e);
        let (dropins, templates, profiles) = match &actor {
            Actor::User { id, group_id, .. } => {
                let scope = scope(*group_id, *id);
                let mut dropins = Vec::new();
                for d in state.library.dropins(&scope).await.map_err(db)? {
                    let users = state
                        .library
                        .dropin_users(&scope, &d.name)
                        .await
                        .map_err(db)?;
                    let confirm = if users.is_empty() {
                        format!("Delete the drop-in {}?", d.name)
                    } else {
                        format!(
                            "Delete the drop-in {}? It is used by {}, which will no longer check until it is taken out.",
                            d.name,
                            users.join(", ")
                        )
                    };
                    dropins.push((d, confirm));
                }
                (
                    dropins,
                    state.library.templates(&scope).await.map_err(db)?,
                    state.library.sender_profiles(&scope).await.map_err(db)?,
                )
            }
            Actor::Admin => (Vec::new(), Vec::new(), Vec::new()),
        };
        Ok::<_, ApiError>(LibraryPage {
            frame: Frame::of(&state, &session, &actor),
            can_manage: actor.has(Right::ManageDropinsTemplates),
            dropins,
            templates,
            profiles,
        })
    };
    match page.await {
        Ok(page) => render(page),
        Err(e) => refused(e),
    }
}

#[derive(Template)]
#[template(path = "connections.html")]
struct ConnectionsPage {
    frame: Frame,
    connections: Vec<crate::recipients::query::Connection>,
}

async fn connections_page(
    State(state): State<Arc<LuiState>>,
    session: Result<LuiSession, ApiError>,
) -> Response {
    let session = match session {
        Ok(s) => s,
        Err(e) => return refused(e),
    };
    let page = async {
        let actor = actor(&state, &session).await?;
        if !matches!(actor, Actor::Admin) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "only the admin login manages database connections",
            ));
        }
        Ok(ConnectionsPage {
            frame: Frame::of(&state, &session, &actor),
            connections: state
                .connections
                .list(true)
                .await
                .map_err(|e| ApiError::internal("the system database", e))?,
        })
    };
    match page.await {
        Ok(page) => render(page),
        Err(e) => refused(e),
    }
}

/// A report's figures as the page writes them.
struct ReportFigures {
    opens_unique: String,
    clicks_unique: String,
    unsubscribes_unique: String,
    open_rate: String,
    click_rate: String,
    click_to_open: String,
    /// (number from 1, URL, unique, total)
    links: Vec<(i64, String, String, i64)>,
}

fn known(n: Option<i64>) -> String {
    n.map_or_else(|| "not known".to_string(), |n| n.to_string())
}

fn percent(r: Option<f64>) -> String {
    r.map_or_else(
        || "not known".to_string(),
        |r| format!("{:.1} %", r * 100.0),
    )
}

#[derive(Template)]
#[template(path = "report.html")]
struct ReportPage {
    frame: Frame,
    job: Job,
    r: crate::report::figures::Report,
    f: ReportFigures,
    hours_json: String,
}

#[derive(Debug, Default, Deserialize)]
struct ReportPageQuery {
    people_only: Option<bool>,
}

async fn report_page(
    State(state): State<Arc<LuiState>>,
    session: Result<LuiSession, ApiError>,
    Path(id): Path<String>,
    Query(q): Query<ReportPageQuery>,
) -> Response {
    let session = match session {
        Ok(s) => s,
        Err(e) => return refused(e),
    };
    let page = async {
        let actor = actor(&state, &session).await?;
        let (job, _) = job_for(&state, &actor, &id).await?;
        let r =
            crate::report::api::report_for(&state, &session, &id, q.people_only.unwrap_or(true))
                .await?;
        let f = ReportFigures {
            opens_unique: known(r.opens.unique),
            clicks_unique: known(r.clicks.unique),
            unsubscribes_unique: known(r.unsubscribes.unique),
            open_rate: percent(r.open_rate),
            click_rate: percent(r.click_rate),
            click_to_open: percent(r.click_to_open),
            links: r
                .links
                .iter()
                .map(|l| {
                    (
                        l.link + 1,
                        l.url.clone(),
                        known(l.clicks.unique),
                        l.clicks.total,
                    )
                })
                .collect(),
        };
        let hours_json = serde_json::to_string(&r.hours).unwrap_or_else(|_| "[]".into());
        Ok::<_, ApiError>(ReportPage {
            frame: Frame::of(&state, &session, &actor),
            job,
            r,
            f,
            hours_json,
        })
    };
    match page.await {
        Ok(page) => render(page),
        Err(e) => refused(e),
    }
}

/// A job's line in the comparison.
struct CompareRow {
    job: String,
    title: String,
    recipients: i64,
    delivered: i64,
    bounced: i64,
    opened: String,
    clicked: String,
    open_rate: String,
    click_rate: String,
    click_to_open: String,
    unsubscribed: String,
}

#[derive(Template)]
#[template(path = "reports.html")]
struct ReportsPage {
    frame: Frame,
    saved: Vec<crate::report::saved::SavedReport>,
    jobs: String,
    people_only: bool,
    rows: Vec<CompareRow>,
}

#[derive(Debug, Default, Deserialize)]
struct ReportsQuery {
    #[serde(default)]
    jobs: String,
    people_only: Option<bool>,
}

async fn reports_page(
    State(state): State<Arc<LuiState>>,
    session: Result<LuiSession, ApiError>,
    Query(q): Query<ReportsQuery>,
) -> Response {
    let session = match session {
        Ok(s) => s,
        Err(e) => return refused(e),
    };
    let page = async {
        let actor = actor(&state, &session).await?;
        let people_only = q.people_only.unwrap_or(true);
        let ids: Vec<String> = if q.jobs.trim().is_empty() {
            crate::report::api::recent_sent(&state, &session, 10).await?
        } else {
            q.jobs
                .split(',')
                .map(|j| j.trim().to_string())
                .filter(|j| !j.is_empty())
                .take(20)
                .collect()
        };
        let mut rows = Vec::with_capacity(ids.len());
        for id in &ids {
            let (job, _) = job_for(&state, &actor, id).await?;
            let r = crate::report::api::report_for(&state, &session, id, people_only).await?;
            rows.push(CompareRow {
                job: job.id,
                title: job.title,
                recipients: r.recipients,
                delivered: r.delivered,
                bounced: r.hard_bounces + r.soft_bounces,
                opened: known(r.opens.unique),
                clicked: known(r.clicks.unique),
                open_rate: percent(r.open_rate),
                click_rate: percent(r.click_rate),
                click_to_open: percent(r.click_to_open),
                unsubscribed: known(r.unsubscribes.unique),
            });
        }
        let owner = match &actor {
            Actor::User { id, .. } => *id,
            Actor::Admin => 0,
        };
        Ok::<_, ApiError>(ReportsPage {
            saved: crate::report::saved::saved_of(&state, owner).await?,
            frame: Frame::of(&state, &session, &actor),
            jobs: q.jobs.clone(),
            people_only,
            rows,
        })
    };
    match page.await {
        Ok(page) => render(page),
        Err(e) => refused(e),
    }
}
