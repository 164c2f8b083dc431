//! The Hub's JSON API for people and automation: everything the console does. Described by
//! the OpenAPI document at `/hub/api/openapi.json`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::{Extension, Json};
use axum_extra::extract::cookie::CookieJar;
use serde::{Deserialize, Serialize};
use tutti_core::api::ComponentSettings;
use tutti_core::http_error::ApiError;
use tutti_core::settings::SettingsLevel;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::HubState;
use crate::audit::AuditEntry;
use crate::body::ApiJson;
use crate::login::{LoginOutcome, Who};
use crate::service::{
    AccountChange, AccountInput, AccountPage, AccountView, Actor, GroupInput, GroupView, Reliance,
};
use crate::web_auth::{self, ApiActor, ApiAnySession};

type HubResult<T> = Result<T, ApiError>;

pub fn router() -> OpenApiRouter<Arc<HubState>> {
    OpenApiRouter::new()
        .routes(routes!(login, whoami, logout))
        .routes(routes!(change_admin_password))
        .routes(routes!(change_own_password))
        .routes(routes!(list_accounts, create_account))
        .routes(routes!(get_account, update_account, delete_account))
        .routes(routes!(list_groups, create_group))
        .routes(routes!(update_group, delete_group))
        .routes(routes!(get_global_settings, set_global_settings))
        .routes(routes!(get_component_settings, set_component_settings))
        .routes(routes!(list_audit))
}

/// `POST /hub/api/session`: the administrator logs in with `password` alone; a group
/// administrator with `user_name`, `group_name` and `password`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionRequest {
    #[serde(default)]
    pub user_name: Option<String>,
    #[serde(default)]
    pub group_name: Option<String>,
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionInfo {
    /// `admin`, or `user` / `user/group`.
    pub actor: String,
    /// Send this as the `X-CSRF-Token` header with every POST, PUT and DELETE.
    pub csrf_token: String,
    /// The administrator must change the one-time setup password before anything else.
    pub must_change_password: bool,
}

/// Log in.
#[utoipa::path(post, path = "/session", tag = "session", request_body = SessionRequest,
    responses((status = 200, body = SessionInfo), (status = 401, description = "wrong login"), (status = 429, description = "too many failed logins from this address, or too many at once: the answer says when to try again (Retry-After)")))]
async fn login(
    State(state): State<Arc<HubState>>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    tls: Option<Extension<tutti_core::runtime::ViaTls>>,
    headers: HeaderMap,
    jar: CookieJar,
    ApiJson(req): ApiJson<SessionRequest>,
) -> HubResult<(CookieJar, Json<SessionInfo>)> {
    let who = match req
        .user_name
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
    {
        None => Who::Admin,
        Some(user) => Who::User {
            user_name: user.to_string(),
            group_name: req.group_name.clone().unwrap_or_default(),
        },
    };
    let address = state.client_address(peer, &headers);
    let outcome = state.login(&who, &req.password, address).await?;
    let (principal, actor, must_change) = match outcome {
        LoginOutcome::Admin { must_change } => {
            (crate::sessions::Principal::Admin, Actor::Admin, must_change)
        }
        LoginOutcome::User(account) => (
            crate::sessions::Principal::User {
                account_id: account.id,
            },
            Actor::User(account),
            false,
        ),
    };
    let token = state
        .sessions
        .create(&principal)
        .await
        .map_err(|e| ApiError::internal("sessions", e))?;
    let tls = tls.is_some();
    let (jar, csrf) = web_auth::COOKIES.logged_in(jar, token, tls);
    Ok((
        jar,
        Json(SessionInfo {
            actor: actor.name(),
            csrf_token: csrf,
            must_change_password: must_change,
        }),
    ))
}

/// Who this session is.
#[utoipa::path(get, path = "/session", tag = "session", responses((status = 200, body = SessionInfo), (status = 401)))]
async fn whoami(ApiAnySession(auth): ApiAnySession) -> HubResult<Json<SessionInfo>> {
    let csrf = auth.csrf();
    Ok(Json(SessionInfo {
        actor: auth.actor.name(),
        csrf_token: csrf,
        must_change_password: auth.must_change,
    }))
}

/// Log out.
#[utoipa::path(delete, path = "/session", tag = "session", responses((status = 204)))]
async fn logout(
    State(state): State<Arc<HubState>>,
    ApiAnySession(auth): ApiAnySession,
) -> HubResult<(CookieJar, StatusCode)> {
    state
        .sessions
        .delete(&auth.token)
        .await
        .map_err(|e| ApiError::internal("sessions", e))?;
    state.remote_keys.forget_session(&auth.token);
    Ok((auth.logged_out(), StatusCode::NO_CONTENT))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub old_password: String,
    pub new_password: String,
}

/// Change the administrator password (required first, while it is the one-time setup password).
#[utoipa::path(post, path = "/admin/password", tag = "session", request_body = PasswordChange,
    responses((status = 204), (status = 403, description = "wrong current password, or not the administrator"), (status = 422)))]
async fn change_admin_password(
    State(state): State<Arc<HubState>>,
    ApiAnySession(auth): ApiAnySession,
    ApiJson(req): ApiJson<PasswordChange>,
) -> HubResult<StatusCode> {
    if !matches!(auth.actor, Actor::Admin) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "only the administrator has this password",
        ));
    }
    state
        .change_admin_password(&req.old_password, &req.new_password, Some(&auth.token))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct AccountQuery {
    /// Part of a user or group name, any letter case.
    #[serde(default)]
    pub search: String,
    #[serde(default)]
    pub offset: i64,
    /// 1 to 500; default 50.
    #[serde(default)]
    pub limit: Option<i64>,
}

/// Accounts, searched and paged.
#[utoipa::path(get, path = "/accounts", tag = "accounts", params(AccountQuery), responses((status = 200, body = AccountPage)))]
async fn list_accounts(
    State(state): State<Arc<HubState>>,
    ApiActor(auth): ApiActor,
    Query(q): Query<AccountQuery>,
) -> HubResult<Json<AccountPage>> {
    Ok(Json(
        state
            .list_accounts(&auth.actor, q.search, q.offset, q.limit.unwrap_or(50))
            .await?,
    ))
}

/// Create an account. Without `rights` it gets its creator's rights (all for the
/// administrator); a group administrator grants only rights it holds.
#[utoipa::path(post, path = "/accounts", tag = "accounts", request_body = AccountInput,
    responses((status = 201, body = AccountView), (status = 409, description = "user and group exist already"), (status = 422, description = "a field is wrong")))]
async fn create_account(
    State(state): State<Arc<HubState>>,
    ApiActor(auth): ApiActor,
    ApiJson(input): ApiJson<AccountInput>,
) -> HubResult<(StatusCode, Json<AccountView>)> {
    Ok((
        StatusCode::CREATED,
        Json(state.create_account(&auth.actor, input).await?),
    ))
}

/// One account.
#[utoipa::path(get, path = "/accounts/{id}", tag = "accounts", responses((status = 200, body = AccountView), (status = 404)))]
async fn get_account(
    State(state): State<Arc<HubState>>,
    ApiActor(auth): ApiActor,
    Path(id): Path<i64>,
) -> HubResult<Json<AccountView>> {
    Ok(Json(state.get_account(&auth.actor, id).await?))
}

/// Change an account: only the fields given change; an empty password keeps the old one.
#[utoipa::path(put, path = "/accounts/{id}", tag = "accounts", request_body = AccountChange, responses((status = 200, body = AccountView), (status = 403, description = "beyond what a group administrator may do"), (status = 404), (status = 409), (status = 422)))]
async fn update_account(
    State(state): State<Arc<HubState>>,
    ApiActor(auth): ApiActor,
    Path(id): Path<i64>,
    ApiJson(input): ApiJson<AccountChange>,
) -> HubResult<Json<AccountView>> {
    Ok(Json(state.update_account(&auth.actor, id, input).await?))
}

/// Delete an account.
#[utoipa::path(delete, path = "/accounts/{id}", tag = "accounts", responses((status = 204), (status = 404)))]
async fn delete_account(
    State(state): State<Arc<HubState>>,
    ApiActor(auth): ApiActor,
    Path(id): Path<i64>,
) -> HubResult<StatusCode> {
    state.delete_account(&auth.actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Groups.
#[utoipa::path(get, path = "/groups", tag = "groups", responses((status = 200, body = [GroupView])))]
async fn list_groups(
    State(state): State<Arc<HubState>>,
    ApiActor(auth): ApiActor,
) -> HubResult<Json<Vec<GroupView>>> {
    Ok(Json(state.list_groups(&auth.actor).await?))
}

/// Create a group.
#[utoipa::path(post, path = "/groups", tag = "groups", request_body = GroupInput, responses((status = 201, body = GroupView), (status = 409), (status = 422)))]
async fn create_group(
    State(state): State<Arc<HubState>>,
    ApiActor(auth): ApiActor,
    ApiJson(input): ApiJson<GroupInput>,
) -> HubResult<(StatusCode, Json<GroupView>)> {
    Ok((
        StatusCode::CREATED,
        Json(state.create_group(&auth.actor, input).await?),
    ))
}

/// Rename a group or change its settings.
#[utoipa::path(put, path = "/groups/{id}", tag = "groups", request_body = GroupInput, responses((status = 200, body = GroupView), (status = 404), (status = 409), (status = 422)))]
async fn update_group(
    State(state): State<Arc<HubState>>,
    ApiActor(auth): ApiActor,
    Path(id): Path<i64>,
    ApiJson(input): ApiJson<GroupInput>,
) -> HubResult<Json<GroupView>> {
    Ok(Json(state.update_group(&auth.actor, id, input).await?))
}

/// Delete an empty group.
#[utoipa::path(delete, path = "/groups/{id}", tag = "groups", responses((status = 204), (status = 404), (status = 409, description = "the group has accounts")))]
async fn delete_group(
    State(state): State<Arc<HubState>>,
    ApiActor(auth): ApiActor,
    Path(id): Path<i64>,
) -> HubResult<StatusCode> {
    state.delete_group(&auth.actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GlobalSettingsView {
    pub settings: SettingsLevel,
    /// How many accounts take each value from here.
    pub relied_on_by: Reliance,
}

/// The global defaults of the inherited settings.
#[utoipa::path(get, path = "/settings/global", tag = "settings", responses((status = 200, body = GlobalSettingsView)))]
async fn get_global_settings(
    State(state): State<Arc<HubState>>,
    ApiActor(auth): ApiActor,
) -> HubResult<Json<GlobalSettingsView>> {
    let settings = state.global_settings(&auth.actor).await?;
    Ok(Json(GlobalSettingsView {
        settings,
        relied_on_by: state.reliance().await?,
    }))
}

/// Set the global defaults. A value accounts rely on cannot be emptied.
#[utoipa::path(put, path = "/settings/global", tag = "settings", request_body = SettingsLevel, responses((status = 200, body = SettingsLevel), (status = 422)))]
async fn set_global_settings(
    State(state): State<Arc<HubState>>,
    ApiActor(auth): ApiActor,
    ApiJson(input): ApiJson<SettingsLevel>,
) -> HubResult<Json<SettingsLevel>> {
    Ok(Json(state.set_global_settings(&auth.actor, input).await?))
}

/// Global component settings.
#[utoipa::path(get, path = "/settings/components", tag = "settings", responses((status = 200, body = ComponentSettings)))]
async fn get_component_settings(
    State(state): State<Arc<HubState>>,
    ApiActor(auth): ApiActor,
) -> HubResult<Json<ComponentSettings>> {
    if !matches!(auth.actor, Actor::Admin) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "only the administrator may do this",
        ));
    }
    Ok(Json(
        state
            .store
            .component_settings()
            .await
            .map_err(|e| ApiError::internal("account registry", e))?,
    ))
}

/// Set the global component settings.
#[utoipa::path(put, path = "/settings/components", tag = "settings", request_body = ComponentSettings, responses((status = 200, body = ComponentSettings), (status = 422)))]
async fn set_component_settings(
    State(state): State<Arc<HubState>>,
    ApiActor(auth): ApiActor,
    ApiJson(input): ApiJson<serde_json::Value>,
) -> HubResult<Json<ComponentSettings>> {
    // A wire type the components read too, so not `deny_unknown_fields`; checked here.
    let input: ComponentSettings = crate::body::parse_flat(input)?;
    Ok(Json(
        state.set_component_settings(&auth.actor, input).await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct PageQuery {
    #[serde(default)]
    pub offset: i64,
    #[serde(default)]
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    pub total: i64,
}

/// The audit log, newest first.
#[utoipa::path(get, path = "/audit", tag = "audit", params(PageQuery), responses((status = 200, body = AuditPage)))]
async fn list_audit(
    State(state): State<Arc<HubState>>,
    ApiActor(auth): ApiActor,
    Query(q): Query<PageQuery>,
) -> HubResult<Json<AuditPage>> {
    if !matches!(auth.actor, Actor::Admin) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "only the administrator may read the audit log",
        ));
    }
    let (entries, total) = state
        .audit
        .list(q.offset.max(0), q.limit.unwrap_or(100).clamp(1, 1000))
        .await
        .map_err(|e| ApiError::internal("audit log", e))?;
    Ok(Json(AuditPage { entries, total }))
}

/// A user changes their own password (when their account allows it).
#[utoipa::path(post, path = "/session/password", tag = "session", request_body = PasswordChange,
    responses((status = 204), (status = 403, description = "wrong current password, or the account may not change it"), (status = 422)))]
async fn change_own_password(
    State(state): State<Arc<HubState>>,
    ApiAnySession(auth): ApiAnySession,
    ApiJson(req): ApiJson<PasswordChange>,
) -> HubResult<StatusCode> {
    match &auth.actor {
        Actor::Admin => {
            state
                .change_admin_password(&req.old_password, &req.new_password, Some(&auth.token))
                .await?
        }
        Actor::User(account) => {
            state
                .change_own_password(account, &req.old_password, &req.new_password, &auth.token)
                .await?
        }
    }
    Ok(StatusCode::NO_CONTENT)
}
