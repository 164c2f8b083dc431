//! The administrator's console: server-rendered pages under `/hub`, no JavaScript needed.
//! Every form carries the CSRF token; every change goes through the same service functions
//! as the JSON API.

use std::net::SocketAddr;
use std::sync::Arc;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;
use tutti_core::api::{ComponentEntry, ComponentSettings};
use tutti_core::branding::Branding;
use tutti_core::hostport::Scheme;
use tutti_core::http_error::ApiError;
use tutti_core::rights::Right;
use tutti_core::settings::{
    EffectiveSettings, FieldError, MailerConnection, SettingsLevel, TrackingUrl, label,
};

use crate::HubState;
use crate::audit::AuditEntry;
use crate::login::{LoginOutcome, Who};
use crate::service::{AccountInput, AccountPage, Actor, GroupInput, Reliance};
use crate::sessions::Principal;
use crate::web_auth::{self, PageActor, PageAnySession};

pub fn router() -> Router<Arc<HubState>> {
    Router::new()
        .route("/", get(overview))
        .route("/login", get(login_page).post(login_submit))
        .route("/logout", post(logout))
        .route("/password", get(password_page).post(password_submit))
        .route("/accounts", get(accounts))
        .route("/accounts/new", get(new_account).post(create_account))
        .route("/accounts/{id}", get(edit_account).post(save_account))
        .route("/accounts/{id}/delete", post(delete_account))
        .route("/groups", get(groups).post(create_group))
        .route("/groups/{id}", get(edit_group).post(save_group))
        .route("/groups/{id}/delete", post(delete_group))
        .route("/settings", get(settings).post(save_settings))
        .route("/settings/components", post(save_component_settings))
        .route("/components", get(components))
        .route("/audit", get(audit))
        .route("/backups", get(backups_page).post(back_up_now))
        .route("/logs", get(logs_page).post(component_logs))
        .route("/logs/level", post(set_log_level))
        .route("/logs/download", post(download_log))
        .route("/branding/logo", get(logo))
}

/// The logo of `hub/branding`, public: the login page shows it.
async fn logo(State(state): State<Arc<HubState>>, headers: HeaderMap) -> Response {
    state.branding.logo_response(&headers)
}

/// What every page shows around its content.
pub struct Frame {
    pub nav: bool,
    pub csrf: String,
    pub error: String,
    pub notice: String,
    /// Company name, header text, logo and colours (`hub/branding/branding.ini`).
    pub brand: Arc<Branding>,
}

impl Frame {
    fn of(state: &HubState, auth: &web_auth::Authed, done: &Done) -> Frame {
        let csrf = auth.csrf();
        Frame {
            nav: true,
            csrf,
            error: String::new(),
            notice: done.message(),
            brand: state.branding.clone(),
        }
    }
}

/// `?done=...` after a successful form: a fixed message, never text from the URL.
#[derive(Debug, Default, Deserialize)]
pub struct Done {
    #[serde(default)]
    done: String,
    #[serde(default)]
    offset: i64,
    #[serde(default)]
    search: String,
}

impl Done {
    fn message(&self) -> String {
        match self.done.as_str() {
            "created" => "Created.",
            "saved" => "Saved.",
            "deleted" => "Deleted.",
            "password" => "The administrator password is changed.",
            "backup" => "The backup is done: its report is the first below.",
            _ => "",
        }
        .to_string()
    }
}

fn render(t: impl Template, status: StatusCode) -> Response {
    match t.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => ApiError::internal("a console page failed to render", e).into_response(),
    }
}

fn csrf_refused() -> Response {
    FormRefused::Csrf.into_response()
}

/// Why a form was not even read.
enum FormRefused {
    Unreadable(String),
    Csrf,
}

impl IntoResponse for FormRefused {
    fn into_response(self) -> Response {
        match self {
            FormRefused::Unreadable(e) => (
                StatusCode::BAD_REQUEST,
                format!("the form could not be read: {e}"),
            )
                .into_response(),
            FormRefused::Csrf => (
                StatusCode::FORBIDDEN,
                "the form's security token is missing or wrong: reload the page and try again",
            )
                .into_response(),
        }
    }
}

#[derive(Deserialize)]
struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

fn form<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, FormRefused> {
    serde_html_form::from_bytes(body).map_err(|e| FormRefused::Unreadable(e.to_string()))
}

fn check_csrf(auth: &web_auth::Authed, body: &Bytes) -> Result<(), FormRefused> {
    let f: CsrfOnly = form(body)?;
    if auth.csrf_ok(&f.csrf) {
        Ok(())
    } else {
        Err(FormRefused::Csrf)
    }
}

// ---- login, logout, password ----

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    frame: Frame,
    /// Where the one-time setup password is, while the administrator has not chosen one.
    setup_file: Option<String>,
}

impl LoginPage {
    fn new(state: &HubState, frame: Frame) -> LoginPage {
        // The path inside the installation root: where the root is is nobody's business.
        let file = crate::setup_password::path(&state.ctx.root);
        LoginPage {
            frame,
            setup_file: file
                .exists()
                .then(|| crate::setup_password::FILE.to_string()),
        }
    }
}

async fn login_page(
    State(state): State<Arc<HubState>>,
    tls: Option<Extension<tutti_core::runtime::ViaTls>>,
    jar: CookieJar,
) -> Response {
    match web_auth::COOKIES.csrf_token(jar, tls.is_some()) {
        Ok((jar, csrf)) => {
            let frame = Frame {
                nav: false,
                csrf,
                error: String::new(),
                notice: String::new(),
                brand: state.branding.clone(),
            };
            (jar, render(LoginPage::new(&state, frame), StatusCode::OK)).into_response()
        }
        Err(e) => ApiError::internal("csrf", e).into_response(),
    }
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    password: String,
}

async fn login_submit(
    State(state): State<Arc<HubState>>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    tls: Option<Extension<tutti_core::runtime::ViaTls>>,
    headers: HeaderMap,
    jar: CookieJar,
    body: Bytes,
) -> Response {
    let f: LoginForm = match form(&body) {
        Ok(f) => f,
        Err(r) => return r.into_response(),
    };
    if !web_auth::COOKIES.csrf_ok(&jar, tls.is_some(), &f.csrf) {
        return csrf_refused();
    }
    let address = state.client_address(peer, &headers);
    match state.login(&Who::Admin, &f.password, address).await {
        Ok(LoginOutcome::Admin { must_change }) => {
            let token = match state.sessions.create(&Principal::Admin).await {
                Ok(t) => t,
                Err(e) => return ApiError::internal("sessions", e).into_response(),
            };
            let (jar, _) = web_auth::COOKIES.logged_in(jar, token, tls.is_some());
            let to = if must_change { "/hub/password" } else { "/hub" };
            (jar, Redirect::to(to)).into_response()
        }
        Ok(LoginOutcome::User(_)) => csrf_refused(),
        Err(e) => {
            let frame = Frame {
                nav: false,
                csrf: f.csrf,
                error: e.message.clone(),
                notice: String::new(),
                brand: state.branding.clone(),
            };
            render(LoginPage::new(&state, frame), e.status)
        }
    }
}

async fn logout(
    State(state): State<Arc<HubState>>,
    PageAnySession(auth): PageAnySession,
    body: Bytes,
) -> Response {
    if let Err(r) = check_csrf(&auth, &body) {
        return r.into_response();
    }
    if let Err(e) = state.sessions.delete(&auth.token).await {
        return ApiError::internal("sessions", e).into_response();
    }
    state.remote_keys.forget_session(&auth.token);
    (auth.logged_out(), Redirect::to("/hub/login")).into_response()
}

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage {
    frame: Frame,
    must_change: bool,
}

async fn password_page(
    State(state): State<Arc<HubState>>,
    PageAnySession(auth): PageAnySession,
) -> Response {
    if !matches!(auth.actor, Actor::Admin) {
        return Redirect::to("/hub/login").into_response();
    }
    let frame = Frame {
        nav: !auth.must_change,
        ..Frame::of(&state, &auth, &Done::default())
    };
    render(
        PasswordPage {
            frame,
            must_change: auth.must_change,
        },
        StatusCode::OK,
    )
}

#[derive(Deserialize)]
struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    old_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    confirm: String,
}

async fn password_submit(
    State(state): State<Arc<HubState>>,
    PageAnySession(auth): PageAnySession,
    body: Bytes,
) -> Response {
    let f: PasswordForm = match form(&body) {
        Ok(f) => f,
        Err(r) => return r.into_response(),
    };
    if !auth.csrf_ok(&f.csrf) {
        return csrf_refused();
    }
    if !matches!(auth.actor, Actor::Admin) {
        return Redirect::to("/hub/login").into_response();
    }
    let result = if f.new_password != f.confirm {
        Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "the two new passwords differ",
        ))
    } else {
        state
            .change_admin_password(&f.old_password, &f.new_password, Some(&auth.token))
            .await
    };
    match result {
        Ok(()) => Redirect::to("/hub?done=password").into_response(),
        Err(e) => {
            let frame = Frame {
                nav: !auth.must_change,
                error: e.message.clone(),
                ..Frame::of(&state, &auth, &Done::default())
            };
            render(
                PasswordPage {
                    frame,
                    must_change: auth.must_change,
                },
                e.status,
            )
        }
    }
}

// ---- overview and components ----

#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewPage {
    frame: Frame,
    warnings: Vec<String>,
    accounts: i64,
    groups: usize,
    components: Vec<ComponentEntry>,
    /// Where browsers open the User Interface: the setting, else where it announced itself.
    lui_url: Option<String>,
}

async fn overview(
    State(state): State<Arc<HubState>>,
    PageActor(auth): PageActor,
    Query(done): Query<Done>,
) -> Response {
    let frame = Frame::of(&state, &auth, &done);
    let page = async {
        let reliance = state.reliance().await?;
        let global = state
            .store
            .global_settings()
            .await
            .map_err(|e| ApiError::internal("account registry", e))?;
        let mut warnings = Vec::new();
        if global.mailer.is_none() && reliance.mailer > 0 {
            warnings.push(format!(
                "No default mailer connection is set, and {} account(s) rely on it: their jobs cannot be sent. Set it under Settings.",
                reliance.mailer
            ));
        }
        if global.tracking.is_none() && reliance.tracking > 0 {
            warnings.push(format!("No default tracking URL is set, and {} account(s) rely on it. Set it under Settings.", reliance.tracking));
        }
        let (_, accounts) = state
            .store
            .accounts(String::new(), None, 0, 1)
            .await
            .map_err(|e| ApiError::internal("account registry", e))?;
        let groups = state
            .store
            .groups()
            .await
            .map_err(|e| ApiError::internal("account registry", e))?
            .len();
        let components = state.component_list().await?.components;
        let lui_url = state
            .store
            .component_settings()
            .await
            .map_err(|e| ApiError::internal("account registry", e))?
            .lui_url
            .and_then(|u| u.parse::<tutti_core::HostPort>().ok())
            .map(|h| format!("{}/lui", h.base_url()))
            .or_else(|| {
                components
                    .iter()
                    .find(|c| c.component == tutti_core::Component::Lui)
                    .map(|c| c.url.clone())
            });
        Ok::<_, ApiError>(OverviewPage {
            frame,
            warnings,
            accounts,
            groups,
            components,
            lui_url,
        })
    };
    match page.await {
        Ok(p) => render(p, StatusCode::OK),
        Err(e) => e.into_response(),
    }
}

#[derive(Template)]
#[template(path = "components.html")]
struct ComponentsPage {
    frame: Frame,
    components: Vec<ComponentEntry>,
}

async fn components(State(state): State<Arc<HubState>>, PageActor(auth): PageActor) -> Response {
    match state.component_list().await {
        Ok(list) => render(
            ComponentsPage {
                frame: Frame::of(&state, &auth, &Done::default()),
                components: list.components,
            },
            StatusCode::OK,
        ),
        Err(e) => e.into_response(),
    }
}

// ---- accounts ----

const PAGE_SIZE: i64 = 50;

#[derive(Template)]
#[template(path = "accounts.html")]
struct AccountsPage {
    frame: Frame,
    search: String,
    search_q: String,
    page: AccountPage,
    all_rights: usize,
    first: i64,
    last: i64,
    prev: Option<i64>,
    next: Option<i64>,
}

async fn accounts(
    State(state): State<Arc<HubState>>,
    PageActor(auth): PageActor,
    Query(q): Query<Done>,
) -> Response {
    match state
        .list_accounts(&auth.actor, q.search.clone(), q.offset, PAGE_SIZE)
        .await
    {
        Ok(page) => {
            let last = (page.offset + page.accounts.len() as i64).min(page.total);
            let p = AccountsPage {
                frame: Frame::of(&state, &auth, &q),
                search_q: urlencoding::encode(&q.search).into_owned(),
                search: q.search,
                first: if page.total == 0 { 0 } else { page.offset + 1 },
                last,
                prev: (page.offset > 0).then(|| (page.offset - PAGE_SIZE).max(0)),
                next: (last < page.total).then_some(last),
                all_rights: Right::ALL.len(),
                page,
            };
            render(p, StatusCode::OK)
        }
        Err(e) => e.into_response(),
    }
}

/// The settings fields of a form, as text.
#[derive(Debug, Default, Deserialize)]
struct SettingsForm {
    #[serde(default)]
    mailer_host: String,
    #[serde(default)]
    mailer_client_address: String,
    #[serde(default)]
    mailer_client_password: String,
    #[serde(default)]
    tracking_scheme: String,
    #[serde(default)]
    tracking_host: String,
    #[serde(default)]
    tracking_port: String,
    #[serde(default)]
    sender_from: String,
    #[serde(default)]
    sender_reply_to: String,
    #[serde(default)]
    charsets: String,
}

impl SettingsForm {
    fn from_level(l: &SettingsLevel) -> SettingsForm {
        let (mh, ma, mp) = l
            .mailer
            .as_ref()
            .map(|m| {
                (
                    m.host.clone(),
                    m.client_address.clone(),
                    m.client_password.clone(),
                )
            })
            .unwrap_or_default();
        let (ts, th, tp) = l
            .tracking
            .as_ref()
            .map(|t| {
                (
                    t.scheme.as_str().to_string(),
                    t.host.clone(),
                    t.port.to_string(),
                )
            })
            .unwrap_or_else(|| ("http".into(), String::new(), String::new()));
        SettingsForm {
            mailer_host: mh,
            mailer_client_address: ma,
            mailer_client_password: mp,
            tracking_scheme: ts,
            tracking_host: th,
            tracking_port: tp,
            sender_from: l.sender_from.clone().unwrap_or_default(),
            sender_reply_to: l.sender_reply_to.clone().unwrap_or_default(),
            charsets: l
                .charsets
                .as_ref()
                .map(|c| c.join(", "))
                .unwrap_or_default(),
        }
    }

    /// The level these fields describe. Only what cannot be put into a [`SettingsLevel`]
    /// (a protocol other than http or https, a port that is not a number) is refused here;
    /// everything else is checked by [`SettingsLevel::validated`].
    fn level(&self) -> Result<SettingsLevel, ApiError> {
        let opt = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        let mailer = opt(&self.mailer_host).map(|host| MailerConnection {
            host,
            client_address: self.mailer_client_address.trim().to_string(),
            client_password: self.mailer_client_password.clone(),
        });
        let tracking = match opt(&self.tracking_host) {
            None => None,
            Some(host) => {
                let mut errors = Vec::new();
                // The page's select offers http and https; anything else is a forged or
                // stale form, refused rather than quietly taken as http.
                let scheme = match self.tracking_scheme.trim().to_ascii_lowercase().as_str() {
                    "" | "http" => Scheme::Http,
                    "https" => Scheme::Https,
                    other => {
                        errors.push(FieldError {
                            field: "tracking.scheme".into(),
                            message: format!(
                                "{}: \"{other}\" is not a protocol for tracking links; choose http or https",
                                label::PROTOCOL
                            ),
                        });
                        Scheme::Http
                    }
                };
                let port = match self.tracking_port.trim() {
                    "" => scheme.default_port(),
                    p => p.parse::<u16>().unwrap_or_else(|_| {
                        errors.push(FieldError {
                            field: "tracking.port".into(),
                            message: format!(
                                "{}: \"{p}\" is not a port number; give 1 to 65535",
                                label::PORT
                            ),
                        });
                        0
                    }),
                };
                if !errors.is_empty() {
                    return Err(ApiError::invalid(errors));
                }
                Some(TrackingUrl { scheme, host, port })
            }
        };
        let charsets: Vec<String> = self
            .charsets
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        Ok(SettingsLevel {
            mailer,
            tracking,
            sender_from: opt(&self.sender_from),
            sender_reply_to: opt(&self.sender_reply_to),
            charsets: (!charsets.is_empty()).then_some(charsets),
        })
    }
}

#[derive(Debug, Default, Deserialize)]
struct AccountForm {
    #[serde(default)]
    user_name: String,
    #[serde(default)]
    group_name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
    #[serde(default)]
    can_change_password: Option<String>,
    #[serde(default)]
    disabled: Option<String>,
    #[serde(default)]
    rights: Vec<String>,
}

/// What the account template shows in its fields.
struct AccountFields {
    user_name: String,
    group_name: String,
    can_change_password: bool,
    disabled: bool,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPageT {
    frame: Frame,
    id: Option<i64>,
    form: AccountFieldsAndSettings,
    groups: Vec<String>,
    /// (key, title, checked)
    rights: Vec<(&'static str, &'static str, bool)>,
    effective: Option<EffectiveSettings>,
}

/// The account template reads login fields and settings fields from one `form`.
struct AccountFieldsAndSettings {
    user_name: String,
    group_name: String,
    can_change_password: bool,
    disabled: bool,
    mailer_host: String,
    mailer_client_address: String,
    mailer_client_password: String,
    tracking_scheme: String,
    tracking_host: String,
    tracking_port: String,
    sender_from: String,
    sender_reply_to: String,
    charsets: String,
}

fn combine(a: AccountFields, s: SettingsForm) -> AccountFieldsAndSettings {
    AccountFieldsAndSettings {
        user_name: a.user_name,
        group_name: a.group_name,
        can_change_password: a.can_change_password,
        disabled: a.disabled,
        mailer_host: s.mailer_host,
        mailer_client_address: s.mailer_client_address,
        mailer_client_password: s.mailer_client_password,
        tracking_scheme: s.tracking_scheme,
        tracking_host: s.tracking_host,
        tracking_port: s.tracking_port,
        sender_from: s.sender_from,
        sender_reply_to: s.sender_reply_to,
        charsets: s.charsets,
    }
}

fn right_boxes(granted: &[Right]) -> Vec<(&'static str, &'static str, bool)> {
    Right::ALL
        .iter()
        .map(|r| (r.key(), r.title(), granted.contains(r)))
        .collect()
}

async fn group_names(state: &HubState, actor: &Actor) -> Vec<String> {
    state
        .list_groups(actor)
        .await
        .map(|g| g.into_iter().map(|g| g.name).collect())
        .unwrap_or_default()
}

async fn new_account(State(state): State<Arc<HubState>>, PageActor(auth): PageActor) -> Response {
    let page = AccountPageT {
        frame: Frame::of(&state, &auth, &Done::default()),
        id: None,
        form: combine(
            AccountFields {
                user_name: String::new(),
                group_name: String::new(),
                can_change_password: true,
                disabled: false,
            },
            SettingsForm::from_level(&SettingsLevel::default()),
        ),
        groups: group_names(&state, &auth.actor).await,
        rights: right_boxes(&crate::service::default_rights(&auth.actor)),
        effective: None,
    };
    render(page, StatusCode::OK)
}

async fn edit_account(
    State(state): State<Arc<HubState>>,
    PageActor(auth): PageActor,
    Path(id): Path<i64>,
    Query(done): Query<Done>,
) -> Response {
    let view = match state.get_account(&auth.actor, id).await {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let page = AccountPageT {
        frame: Frame::of(&state, &auth, &done),
        id: Some(id),
        form: combine(
            AccountFields {
                user_name: view.user_name.clone(),
                group_name: view.group_name.clone().unwrap_or_default(),
                can_change_password: view.can_change_password,
                disabled: view.disabled,
            },
            SettingsForm::from_level(&view.settings),
        ),
        groups: group_names(&state, &auth.actor).await,
        rights: right_boxes(&view.rights),
        effective: Some(view.effective),
    };
    render(page, StatusCode::OK)
}

/// Reads an account form; on a mistake, shows the form again with the error and what was typed.
async fn submit_account(
    state: &HubState,
    auth: &web_auth::Authed,
    id: Option<i64>,
    body: &Bytes,
) -> Response {
    if let Err(r) = check_csrf(auth, body) {
        return r.into_response();
    }
    let (f, s): (AccountForm, SettingsForm) = match (form(body), form(body)) {
        (Ok(f), Ok(s)) => (f, s),
        (Err(r), _) | (_, Err(r)) => return r.into_response(),
    };
    let rights: Vec<Right> = f.rights.iter().filter_map(|k| Right::from_key(k)).collect();
    let result = async {
        if f.password != f.confirm {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Password again: the two passwords differ",
            ));
        }
        let input = AccountInput {
            user_name: f.user_name.clone(),
            group_name: Some(f.group_name.clone()),
            password: Some(f.password.clone()),
            can_change_password: f.can_change_password.is_some(),
            disabled: f.disabled.is_some(),
            rights: Some(rights.clone()),
            settings: Some(s.level()?),
        };
        match id {
            None => state.create_account(&auth.actor, input).await,
            Some(id) => state.update_account(&auth.actor, id, input.into()).await,
        }
    };
    match result.await {
        Ok(view) => Redirect::to(&format!(
            "/hub/accounts/{}?done={}",
            view.id,
            if id.is_some() { "saved" } else { "created" }
        ))
        .into_response(),
        Err(e) => {
            let frame = Frame {
                error: e.message.clone(),
                ..Frame::of(state, auth, &Done::default())
            };
            let fields = AccountFields {
                user_name: f.user_name,
                group_name: f.group_name,
                can_change_password: f.can_change_password.is_some(),
                disabled: f.disabled.is_some(),
            };
            let page = AccountPageT {
                frame,
                id,
                form: combine(fields, s),
                groups: group_names(state, &auth.actor).await,
                rights: right_boxes(&rights),
                effective: None,
            };
            render(page, e.status)
        }
    }
}

async fn create_account(
    State(state): State<Arc<HubState>>,
    PageActor(auth): PageActor,
    body: Bytes,
) -> Response {
    submit_account(&state, &auth, None, &body).await
}

async fn save_account(
    State(state): State<Arc<HubState>>,
    PageActor(auth): PageActor,
    Path(id): Path<i64>,
    body: Bytes,
) -> Response {
    submit_account(&state, &auth, Some(id), &body).await
}

async fn delete_account(
    State(state): State<Arc<HubState>>,
    PageActor(auth): PageActor,
    Path(id): Path<i64>,
    body: Bytes,
) -> Response {
    if let Err(r) = check_csrf(&auth, &body) {
        return r.into_response();
    }
    match state.delete_account(&auth.actor, id).await {
        Ok(()) => Redirect::to("/hub/accounts?done=deleted").into_response(),
        Err(e) => e.into_response(),
    }
}

// ---- groups ----

#[derive(Template)]
#[template(path = "groups.html")]
struct GroupsPage {
    frame: Frame,
    groups: Vec<crate::service::GroupView>,
}

async fn groups(
    State(state): State<Arc<HubState>>,
    PageActor(auth): PageActor,
    Query(done): Query<Done>,
) -> Response {
    match state.list_groups(&auth.actor).await {
        Ok(groups) => render(
            GroupsPage {
                frame: Frame::of(&state, &auth, &done),
                groups,
            },
            StatusCode::OK,
        ),
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
struct GroupForm {
    #[serde(default)]
    name: String,
}

async fn create_group(
    State(state): State<Arc<HubState>>,
    PageActor(auth): PageActor,
    body: Bytes,
) -> Response {
    if let Err(r) = check_csrf(&auth, &body) {
        return r.into_response();
    }
    let f: GroupForm = match form(&body) {
        Ok(f) => f,
        Err(r) => return r.into_response(),
    };
    match state
        .create_group(
            &auth.actor,
            GroupInput {
                name: f.name,
                settings: None,
            },
        )
        .await
    {
        Ok(_) => Redirect::to("/hub/groups?done=created").into_response(),
        Err(e) => {
            let groups = state.list_groups(&auth.actor).await.unwrap_or_default();
            let frame = Frame {
                error: e.message.clone(),
                ..Frame::of(&state, &auth, &Done::default())
            };
            render(GroupsPage { frame, groups }, e.status)
        }
    }
}

#[derive(Template)]
#[template(path = "group.html")]
struct GroupPage {
    frame: Frame,
    id: i64,
    name: String,
    form: SettingsForm,
    effective: Option<EffectiveSettings>,
}

async fn edit_group(
    State(state): State<Arc<HubState>>,
    PageActor(auth): PageActor,
    Path(id): Path<i64>,
    Query(done): Query<Done>,
) -> Response {
    let group = match state
        .list_groups(&auth.actor)
        .await
        .map(|g| g.into_iter().find(|g| g.id == id))
    {
        Ok(Some(g)) => g,
        Ok(None) => return ApiError::not_found(format!("there is no group {id}")).into_response(),
        Err(e) => return e.into_response(),
    };
    let page = GroupPage {
        frame: Frame::of(&state, &auth, &done),
        id,
        form: SettingsForm::from_level(&group.settings),
        name: group.name,
        effective: None,
    };
    render(page, StatusCode::OK)
}

async fn save_group(
    State(state): State<Arc<HubState>>,
    PageActor(auth): PageActor,
    Path(id): Path<i64>,
    body: Bytes,
) -> Response {
    if let Err(r) = check_csrf(&auth, &body) {
        return r.into_response();
    }
    let (g, s): (GroupForm, SettingsForm) = match (form(&body), form(&body)) {
        (Ok(g), Ok(s)) => (g, s),
        (Err(r), _) | (_, Err(r)) => return r.into_response(),
    };
    let result = async {
        state
            .update_group(
                &auth.actor,
                id,
                GroupInput {
                    name: g.name.clone(),
                    settings: Some(s.level()?),
                },
            )
            .await
    };
    match result.await {
        Ok(_) => Redirect::to(&format!("/hub/groups/{id}?done=saved")).into_response(),
        Err(e) => {
            let frame = Frame {
                error: e.message.clone(),
                ..Frame::of(&state, &auth, &Done::default())
            };
            render(
                GroupPage {
                    frame,
                    id,
                    name: g.name,
                    form: s,
                    effective: None,
                },
                e.status,
            )
        }
    }
}

async fn delete_group(
    State(state): State<Arc<HubState>>,
    PageActor(auth): PageActor,
    Path(id): Path<i64>,
    body: Bytes,
) -> Response {
    if let Err(r) = check_csrf(&auth, &body) {
        return r.into_response();
    }
    match state.delete_group(&auth.actor, id).await {
        Ok(()) => Redirect::to("/hub/groups?done=deleted").into_response(),
        Err(e) => {
            let groups = state.list_groups(&auth.actor).await.unwrap_or_default();
            let frame = Frame {
                error: e.message.clone(),
                ..Frame::of(&state, &auth, &Done::default())
            };
            render(GroupsPage { frame, groups }, e.status)
        }
    }
}

// ---- settings ----

/// Component settings as text fields.
struct ComponentFields {
    lui_url: String,
    tracker_url: String,
    event_transfer_seconds: String,
    personal_profile_fields: String,
    anonymous_profile_fields: String,
}

impl ComponentFields {
    fn of(c: &ComponentSettings) -> ComponentFields {
        ComponentFields {
            lui_url: c.lui_url.clone().unwrap_or_default(),
            tracker_url: c.tracker_url.clone().unwrap_or_default(),
            event_transfer_seconds: c.event_transfer_seconds.to_string(),
            personal_profile_fields: c
                .personal_profile_fields
                .as_ref()
                .map(|f| f.join(", "))
                .unwrap_or_default(),
            anonymous_profile_fields: c.anonymous_profile_fields.join(", "),
        }
    }
}

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    frame: Frame,
    form: SettingsForm,
    effective: Option<EffectiveSettings>,
    reliance: Reliance,
    components: ComponentFields,
}

async fn settings_page(
    state: &HubState,
    auth: &web_auth::Authed,
    frame: Frame,
    form: Option<SettingsForm>,
    status: StatusCode,
) -> Response {
    let page = async {
        let global = state.global_settings(&auth.actor).await?;
        let components = state
            .store
            .component_settings()
            .await
            .map_err(|e| ApiError::internal("account registry", e))?;
        Ok::<_, ApiError>(SettingsPage {
            frame,
            form: form.unwrap_or_else(|| SettingsForm::from_level(&global)),
            effective: None,
            reliance: state.reliance().await?,
            components: ComponentFields::of(&components),
        })
    };
    match page.await {
        Ok(p) => render(p, status),
        Err(e) => e.into_response(),
    }
}

async fn settings(
    State(state): State<Arc<HubState>>,
    PageActor(auth): PageActor,
    Query(done): Query<Done>,
) -> Response {
    let frame = Frame::of(&state, &auth, &done);
    settings_page(&state, &auth, frame, None, StatusCode::OK).await
}

async fn save_settings(
    State(state): State<Arc<HubState>>,
    PageActor(auth): PageActor,
    body: Bytes,
) -> Response {
    if let Err(r) = check_csrf(&auth, &body) {
        return r.into_response();
    }
    let s: SettingsForm = match form(&body) {
        Ok(s) => s,
        Err(r) => return r.into_response(),
    };
    let result = async { state.set_global_settings(&auth.actor, s.level()?).await };
    match result.await {
        Ok(_) => Redirect::to("/hub/settings?done=saved").into_response(),
        Err(e) => {
            let frame = Frame {
                error: e.message.clone(),
                ..Frame::of(&state, &auth, &Done::default())
            };
            settings_page(&state, &auth, frame, Some(s), e.status).await
        }
    }
}

#[derive(Deserialize)]
struct ComponentForm {
    #[serde(default)]
    lui_url: String,
    #[serde(default)]
    tracker_url: String,
    #[serde(default)]
    event_transfer_seconds: String,
    #[serde(default)]
    personal_profile_fields: String,
    #[serde(default)]
    anonymous_profile_fields: String,
}

async fn save_component_settings(
    State(state): State<Arc<HubState>>,
    PageActor(auth): PageActor,
    body: Bytes,
) -> Response {
    if let Err(r) = check_csrf(&auth, &body) {
        return r.into_response();
    }
    let f: ComponentForm = match form(&body) {
        Ok(f) => f,
        Err(r) => return r.into_response(),
    };
    let list = |s: &str| {
        s.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect::<Vec<_>>()
    };
    let opt = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    let result = async {
        let seconds = f
            .event_transfer_seconds
            .trim()
            .parse::<u32>()
            .map_err(|_| {
                ApiError::invalid(vec![FieldError {
                    field: "event_transfer_seconds".into(),
                    message: format!(
                        "{}: expected a whole number of seconds (1 to 3600)",
                        crate::service::COMPONENT_LABELS.event_transfer_seconds
                    ),
                }])
            })?;
        let personal = list(&f.personal_profile_fields);
        let settings = ComponentSettings {
            lui_url: opt(&f.lui_url),
            tracker_url: opt(&f.tracker_url),
            event_transfer_seconds: seconds,
            personal_profile_fields: (!personal.is_empty()).then_some(personal),
            anonymous_profile_fields: list(&f.anonymous_profile_fields),
        };
        state.set_component_settings(&auth.actor, settings).await
    };
    match result.await {
        Ok(_) => Redirect::to("/hub/settings?done=saved").into_response(),
        Err(e) => {
            let frame = Frame {
                error: e.message.clone(),
                ..Frame::of(&state, &auth, &Done::default())
            };
            settings_page(&state, &auth, frame, None, e.status).await
        }
    }
}

// ---- audit ----

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPageT {
    frame: Frame,
    entries: Vec<AuditEntry>,
    total: i64,
    prev: Option<i64>,
    next: Option<i64>,
}

async fn audit(
    State(state): State<Arc<HubState>>,
    PageActor(auth): PageActor,
    Query(q): Query<Done>,
) -> Response {
    if !matches!(auth.actor, Actor::Admin) {
        return (
            StatusCode::FORBIDDEN,
            "only the administrator may read the audit log",
        )
            .into_response();
    }
    let offset = q.offset.max(0);
    match state.audit.list(offset, 100).await {
        Ok((entries, total)) => {
            let next = (offset + (entries.len() as i64) < total).then_some(offset + 100);
            let prev = (offset > 0).then(|| (offset - 100).max(0));
            render(
                AuditPageT {
                    frame: Frame::of(&state, &auth, &q),
                    entries,
                    total,
                    prev,
                    next,
                },
                StatusCode::OK,
            )
        }
        Err(e) => ApiError::internal("audit log", e).into_response(),
    }
}

// ---- backups ----

#[derive(Template)]
#[template(path = "backups.html")]
struct BackupsPage {
    frame: Frame,
    schedule: String,
    keep: u32,
    /// (id, report), newest first.
    reports: Vec<(String, String)>,
}

async fn backups_page(
    State(state): State<Arc<HubState>>,
    PageActor(auth): PageActor,
    Query(done): Query<Done>,
) -> Response {
    if !matches!(auth.actor, Actor::Admin) {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "only the administrator may see backups",
        )
        .into_response();
    }
    let schedule = match state.backup.backup_time {
        Some((h, m)) => format!("daily at {h:02}:{m:02} UTC (BackupTime in hub/hub.ini)"),
        None => "on demand only (set BackupTime in hub/hub.ini for a daily backup)".into(),
    };
    render(
        BackupsPage {
            frame: Frame::of(&state, &auth, &done),
            schedule,
            keep: state.backup.backup_keep,
            reports: crate::backups::reports(&state, 20),
        },
        StatusCode::OK,
    )
}

async fn back_up_now(
    State(state): State<Arc<HubState>>,
    PageActor(auth): PageActor,
    body: Bytes,
) -> Response {
    if let Err(r) = check_csrf(&auth, &body) {
        return r.into_response();
    }
    if !matches!(auth.actor, Actor::Admin) {
        return ApiError::new(StatusCode::FORBIDDEN, "only the administrator may back up")
            .into_response();
    }
    let report = match crate::backups::run(&state).await {
        Ok(report) => report,
        Err(e) => return e.into_response(),
    };
    match crate::backups::audit(&state, &auth.actor.name(), &report).await {
        Ok(()) => Redirect::to("/hub/backups?done=backup").into_response(),
        Err(e) => e.into_response(),
    }
}

// ---- logs of the components (their RemoteAdminPassword) ----

#[derive(Template)]
#[template(path = "logs.html")]
struct LogsPage {
    frame: Frame,
    components: Vec<ComponentEntry>,
    /// The component whose logs are open, with what it said.
    open: Option<OpenLogs>,
}

struct OpenLogs {
    component: ComponentEntry,
    logs: Result<tutti_core::remote_admin::Logs, String>,
}

#[derive(Deserialize)]
struct LogsForm {
    #[serde(default)]
    csrf: String,
    instance_id: String,
    /// Typed to open a component's logs; the later forms leave it out (see `remote_keys`).
    #[serde(default)]
    password: String,
    #[serde(default)]
    level: String,
    #[serde(default)]
    name: String,
}

async fn logs_page(
    State(state): State<Arc<HubState>>,
    PageActor(auth): PageActor,
    Query(done): Query<Done>,
) -> Response {
    logs_view(&state, &auth, &done, None).await
}

async fn logs_view(
    state: &Arc<HubState>,
    auth: &web_auth::Authed,
    done: &Done,
    open: Option<OpenLogs>,
) -> Response {
    if !matches!(auth.actor, Actor::Admin) {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "only the administrator may read logs",
        )
        .into_response();
    }
    match state.component_list().await {
        Ok(list) => render(
            LogsPage {
                frame: Frame::of(state, auth, done),
                components: list.components,
                open,
            },
            StatusCode::OK,
        ),
        Err(e) => e.into_response(),
    }
}

/// Reads a logs form (CSRF checked, administrator only) and finds its component.
async fn logs_form(
    state: &HubState,
    auth: &web_auth::Authed,
    body: &Bytes,
) -> Result<(LogsForm, ComponentEntry), Response> {
    let f: LogsForm = form(body).map_err(IntoResponse::into_response)?;
    if !auth.csrf_ok(&f.csrf) {
        return Err(csrf_refused());
    }
    if !matches!(auth.actor, Actor::Admin) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "only the administrator may read logs",
        )
        .into_response());
    }
    let list = state
        .component_list()
        .await
        .map_err(IntoResponse::into_response)?;
    let entry = list
        .components
        .into_iter()
        .find(|c| c.instance_id == f.instance_id)
        .ok_or_else(|| {
            ApiError::new(StatusCode::NOT_FOUND, "no such component in the registry")
                .into_response()
        })?;
    Ok((f, entry))
}

/// Why a remote administration call failed, and whether the component refused the
/// password (then the Hub forgets it; a missing file or a component that does not answer
/// says nothing about the password).
struct RemoteAdminError {
    message: String,
    refused: bool,
}

/// A call to the component's remote administration, with its password.
async fn remote_admin(
    state: &HubState,
    entry: &ComponentEntry,
    password: &str,
    request: impl FnOnce(&reqwest::Client, String) -> reqwest::RequestBuilder,
) -> Result<reqwest::Response, RemoteAdminError> {
    let response = request(&state.ctx.http, format!("{}/remote-admin", entry.url))
        .bearer_auth(password)
        .timeout(std::time::Duration::from_secs(60))
        .send()
        .await
        .map_err(|e| RemoteAdminError {
            message: format!("the {} did not answer: {e}", entry.title),
            refused: false,
        })?;
    if response.status().is_success() {
        Ok(response)
    } else {
        let status = response.status();
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        Err(RemoteAdminError {
            message: format!(
                "the {} refused ({status}): {}",
                entry.title,
                body["error"].as_str().unwrap_or("no reason given")
            ),
            refused: matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN),
        })
    }
}

/// Reads the component's log list with `password`; the session keeps a password that
/// works, for the page's later forms.
async fn open_logs(
    state: &HubState,
    auth: &web_auth::Authed,
    entry: ComponentEntry,
    password: &str,
) -> OpenLogs {
    let logs = match remote_admin(state, &entry, password, |http, base| {
        http.get(format!("{base}/logs"))
    })
    .await
    {
        Ok(r) => r
            .json()
            .await
            .map_err(|e| format!("an answer that is not a list: {e}")),
        Err(e) => {
            if e.refused {
                state.remote_keys.forget(&auth.token, &entry.instance_id);
            }
            Err(e.message)
        }
    };
    if logs.is_ok() {
        state
            .remote_keys
            .remember(&auth.token, &entry.instance_id, password.to_string());
    }
    OpenLogs {
        component: entry,
        logs,
    }
}

/// The password this session opened the component's logs with, or the page that asks for
/// it again.
async fn kept_password(
    state: &Arc<HubState>,
    auth: &web_auth::Authed,
    entry: ComponentEntry,
) -> Result<String, Response> {
    match state.remote_keys.get(&auth.token, &entry.instance_id) {
        Some(password) => Ok(password),
        None => {
            let again = OpenLogs {
                logs: Err(format!(
                    "type the RemoteAdminPassword of the {} again: the Hub forgets it after {} minutes without use, at logout and when it restarts",
                    entry.title,
                    crate::remote_keys::IDLE.as_secs() / 60
                )),
                component: entry,
            };
            Err(logs_view(state, auth, &Done::default(), Some(again)).await)
        }
    }
}

/// `POST /hub/logs`: the log files and level of one component.
async fn component_logs(
    State(state): State<Arc<HubState>>,
    PageActor(auth): PageActor,
    body: Bytes,
) -> Response {
    let (f, entry) = match logs_form(&state, &auth, &body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    if f.password.is_empty() {
        return ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("type the RemoteAdminPassword of the {}", entry.title),
        )
        .into_response();
    }
    let open = open_logs(&state, &auth, entry, &f.password).await;
    logs_view(&state, &auth, &Done::default(), Some(open)).await
}

/// `POST /hub/logs/level`: changes the component's log level now.
async fn set_log_level(
    State(state): State<Arc<HubState>>,
    PageActor(auth): PageActor,
    body: Bytes,
) -> Response {
    let (f, entry) = match logs_form(&state, &auth, &body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let password = match kept_password(&state, &auth, entry.clone()).await {
        Ok(p) => p,
        Err(page) => return page,
    };
    let level = f.level.clone();
    let mut set = remote_admin(&state, &entry, &password, |http, base| {
        http.put(format!("{base}/log-level"))
            .json(&tutti_core::remote_admin::SetLevel { level })
    })
    .await
    .map(|_| ())
    .map_err(|e| e.message);
    if set.is_ok() {
        // Only a level the component took is a change.
        set = state
            .audit(
                &auth.actor,
                "log.level",
                &format!("{} {}", entry.title, entry.instance_id),
                &format!("level: {}", f.level),
            )
            .await
            .map_err(|e| e.message);
    }
    let mut open = open_logs(&state, &auth, entry, &password).await;
    if let Err(e) = set {
        open.logs = Err(e);
    }
    logs_view(&state, &auth, &Done::default(), Some(open)).await
}

/// `POST /hub/logs/download`: one log file, passed through.
async fn download_log(
    State(state): State<Arc<HubState>>,
    PageActor(auth): PageActor,
    body: Bytes,
) -> Response {
    let (f, entry) = match logs_form(&state, &auth, &body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let password = match kept_password(&state, &auth, entry.clone()).await {
        Ok(p) => p,
        Err(page) => return page,
    };
    let name = f.name.clone();
    let fetched = remote_admin(&state, &entry, &password, |http, base| {
        http.get(format!("{base}/logs/{name}"))
    })
    .await;
    let response = match fetched {
        Ok(r) => r,
        Err(e) => {
            if e.refused {
                state.remote_keys.forget(&auth.token, &entry.instance_id);
            }
            // The Logs page again, saying why (a file rotated away since the list was read).
            let failed = OpenLogs {
                component: entry,
                logs: Err(e.message),
            };
            return logs_view(&state, &auth, &Done::default(), Some(failed)).await;
        }
    };
    match response.bytes().await {
        Ok(content) => (
            [
                (
                    header::CONTENT_TYPE,
                    "text/plain; charset=utf-8".to_string(),
                ),
                (
                    header::CONTENT_DISPOSITION,
                    format!(
                        "attachment; filename=\"{}-{}\"",
                        entry.component.name(),
                        f.name.replace(['"', '\\', '/'], "_")
                    ),
                ),
            ],
            content,
        )
            .into_response(),
        Err(e) => ApiError::new(
            StatusCode::BAD_GATEWAY,
            format!("the download broke off: {e}"),
        )
        .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracking_form(scheme: &str, host: &str, port: &str) -> SettingsForm {
        SettingsForm {
            tracking_scheme: scheme.into(),
            tracking_host: host.into(),
            tracking_port: port.into(),
            ..Default::default()
        }
    }

    #[test]
    fn an_unknown_protocol_is_refused_not_taken_as_http() {
        let e = tracking_form("ftp", "trk.example.com", "")
            .level()
            .unwrap_err();
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            e.message,
            "Protocol: \"ftp\" is not a protocol for tracking links; choose http or https"
        );
        assert_eq!(e.fields[0].field, "tracking.scheme");
        let level = tracking_form("https", "trk.example.com", "")
            .level()
            .unwrap();
        assert_eq!(
            level.tracking.map(|t| (t.scheme, t.port)),
            Some((Scheme::Https, 443))
        );
    }

    #[test]
    fn a_port_that_is_no_number_names_the_port_field() {
        let e = tracking_form("http", "trk.example.com", "99999")
            .level()
            .unwrap_err();
        assert_eq!(
            e.message,
            "Port: \"99999\" is not a port number; give 1 to 65535"
        );
        assert_eq!(e.fields[0].field, "tracking.port");
    }

    /// The reviewer's case end to end through the form: a scheme typed into the host is
    /// taken into the protocol, and the links are built once with it.
    #[test]
    fn a_scheme_in_the_tracker_host_field_is_stored_bare() {
        let level = tracking_form("http", "http://localhost", "18180")
            .level()
            .unwrap()
            .validated()
            .unwrap();
        let t = level.tracking.unwrap();
        assert_eq!(t.host, "localhost");
        assert_eq!(t.base_url(), "http://localhost:18180");
    }

    /// Messages name the settings fields by the labels the page shows: keep them alike.
    #[test]
    fn messages_use_the_labels_the_settings_fields_show() {
        let page = include_str!("../templates/settings_fields.html");
        for l in [
            label::MAILER_HOST,
            label::CLIENT_ADDRESS,
            label::CLIENT_PASSWORD,
            label::PROTOCOL,
            label::TRACKER_HOST,
            label::PORT,
            label::FROM_ADDRESS,
            label::REPLY_TO_ADDRESS,
        ] {
            assert!(page.contains(&format!("\">{l}</label>")), "{l}");
        }
        for l in [
            label::MAILER_CONNECTION,
            label::TRACKING_URL,
            label::CHARSETS,
        ] {
            assert!(
                page.contains(&format!("<legend>{l}</legend>"))
                    || page.contains(&format!("\">{l},")),
                "{l}"
            );
        }
        let page = include_str!("../templates/settings.html");
        let c = crate::service::COMPONENT_LABELS;
        for l in [
            c.lui_url,
            c.tracker_url,
            c.event_transfer_seconds,
            c.anonymous_profile_fields,
        ] {
            assert!(page.contains(&format!("\">{l}")), "{l}");
        }
    }
}
