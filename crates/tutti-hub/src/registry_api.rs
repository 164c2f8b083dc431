//! The registry API the other components call (with the ClusterSecret): check a login,
//! read an account with its rights and effective settings, read the component settings,
//! and a version number that grows with every change so they know when to read again.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::Deserialize;
use tutti_core::api::{
    AccountInfo, ComponentSettings, LoginRequest, MailerConnectionUse, RegistryVersion,
};
use tutti_core::http_error::ApiError;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::HubState;
use crate::login::{LoginOutcome, Who};
use crate::store::Account;

pub fn router() -> OpenApiRouter<Arc<HubState>> {
    OpenApiRouter::new()
        .routes(routes!(verify_login))
        .routes(routes!(verify_admin))
        .routes(routes!(account))
        .routes(routes!(version))
        .routes(routes!(component_settings))
        .routes(routes!(mailer_connections))
        .routes(routes!(group_members))
        .routes(routes!(groups))
}

/// Every group's id and name now, for components that key a group's things on its id.
#[utoipa::path(get, path = "/registry/groups", tag = "registry (components)",
    responses((status = 200, body = Vec<tutti_core::api::GroupRef>)))]
async fn groups(
    State(state): State<Arc<HubState>>,
) -> Result<Json<Vec<tutti_core::api::GroupRef>>, ApiError> {
    let groups = state
        .store
        .groups()
        .await
        .map_err(|e| ApiError::internal("account registry", e))?;
    Ok(Json(
        groups
            .into_iter()
            .map(|g| tutti_core::api::GroupRef {
                id: g.id,
                name: g.name,
            })
            .collect(),
    ))
}

impl HubState {
    pub async fn account_info(&self, account: Account) -> Result<AccountInfo, ApiError> {
        let settings = self.effective(&account).await?;
        Ok(AccountInfo {
            id: account.id,
            user_name: account.user_name,
            group_id: account.group_id,
            group_name: account.group_name,
            rights: account.rights,
            can_change_password: account.can_change_password,
            settings,
            password_stamp: tutti_core::web::token_hash(&account.password_hash),
        })
    }
}

/// The address a person logs in from, as the calling component names it (it resolved its
/// own trusted proxies); a component that names none is the client itself.
fn person_address(
    named: Option<&str>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
) -> Option<IpAddr> {
    named
        .and_then(|a| a.trim().parse::<IpAddr>().ok())
        .or_else(|| peer.map(|Extension(ConnectInfo(a))| a.ip()))
}

/// Check a user's login; answers the account, its rights and effective settings.
#[utoipa::path(post, path = "/registry/login", tag = "registry (components)", request_body = LoginRequest,
    responses((status = 200, body = AccountInfo), (status = 401, description = "wrong login"), (status = 403, description = "disabled"), (status = 429, description = "too many failed logins from the client address, or too many at once")))]
async fn verify_login(
    State(state): State<Arc<HubState>>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    Json(req): Json<LoginRequest>,
) -> Result<Json<AccountInfo>, ApiError> {
    let who = Who::User {
        user_name: req.user_name.clone(),
        group_name: req.group_name.clone().unwrap_or_default(),
    };
    let address = person_address(req.client_address.as_deref(), peer);
    match state.login(&who, &req.password, address).await? {
        LoginOutcome::User(account) => Ok(Json(state.account_info(*account).await?)),
        LoginOutcome::Admin { .. } => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "the user name, group or password is wrong",
        )),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AdminLogin {
    pub password: String,
    #[serde(default)]
    pub client_address: Option<String>,
}

/// Check the administrator password (the User Interface's special `admin` login).
#[utoipa::path(post, path = "/registry/admin-login", tag = "registry (components)", request_body = AdminLogin,
    responses((status = 204), (status = 401), (status = 403, description = "the one-time setup password is not changed yet"), (status = 429)))]
async fn verify_admin(
    State(state): State<Arc<HubState>>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    Json(req): Json<AdminLogin>,
) -> Result<StatusCode, ApiError> {
    let address = person_address(req.client_address.as_deref(), peer);
    match state.login(&Who::Admin, &req.password, address).await? {
        LoginOutcome::Admin { must_change: true } => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "the administrator password is still the one-time setup password: change it in the Administration Hub first",
        )),
        _ => Ok(StatusCode::NO_CONTENT),
    }
}

/// An account with its rights and effective settings; 404 when deleted or disabled.
#[utoipa::path(get, path = "/registry/accounts/{id}", tag = "registry (components)", responses((status = 200, body = AccountInfo), (status = 404)))]
async fn account(
    State(state): State<Arc<HubState>>,
    Path(id): Path<i64>,
) -> Result<Json<AccountInfo>, ApiError> {
    match state.store.account(id).await {
        Ok(a) if !a.disabled => Ok(Json(state.account_info(a).await?)),
        _ => Err(ApiError::not_found(format!(
            "account {id} does not exist or is disabled"
        ))),
    }
}

/// Grows with every change to accounts, groups and settings.
#[utoipa::path(get, path = "/registry/version", tag = "registry (components)", responses((status = 200, body = RegistryVersion)))]
async fn version(State(state): State<Arc<HubState>>) -> Result<Json<RegistryVersion>, ApiError> {
    let version = state
        .store
        .version()
        .await
        .map_err(|e| ApiError::internal("account registry", e))?;
    Ok(Json(RegistryVersion { version }))
}

/// The global component settings.
#[utoipa::path(get, path = "/registry/component-settings", tag = "registry (components)", responses((status = 200, body = ComponentSettings)))]
async fn component_settings(
    State(state): State<Arc<HubState>>,
) -> Result<Json<ComponentSettings>, ApiError> {
    Ok(Json(
        state
            .store
            .component_settings()
            .await
            .map_err(|e| ApiError::internal("account registry", e))?,
    ))
}

/// Every mailer connection set at any level, for `tutti check`.
#[utoipa::path(get, path = "/registry/mailer-connections", tag = "registry (components)", responses((status = 200, body = [MailerConnectionUse])))]
async fn mailer_connections(
    State(state): State<Arc<HubState>>,
) -> Result<Json<Vec<MailerConnectionUse>>, ApiError> {
    let registry = |e| ApiError::internal("account registry", e);
    let mut uses: Vec<MailerConnectionUse> = Vec::new();
    let mut add = |m: &tutti_core::settings::MailerConnection, level: String| match uses
        .iter_mut()
        .find(|u| u.host == m.host && u.client_address == m.client_address)
    {
        Some(u) => u.set_at.push(level),
        None => uses.push(MailerConnectionUse {
            host: m.host.clone(),
            client_address: m.client_address.clone(),
            set_at: vec![level],
        }),
    };
    if let Some(m) = state
        .store
        .global_settings()
        .await
        .map_err(registry)?
        .mailer
    {
        add(&m, "global default".into());
    }
    for g in state.store.groups().await.map_err(registry)? {
        if let Some(m) = &g.settings.mailer {
            add(m, format!("group {}", g.name));
        }
    }
    let (accounts, _) = state
        .store
        .accounts(String::new(), None, 0, i64::MAX)
        .await
        .map_err(registry)?;
    for a in accounts {
        if let Some(m) = &a.settings.mailer {
            add(
                m,
                format!(
                    "user {}",
                    crate::service::login_name(&a.user_name, a.group_name.as_deref())
                ),
            );
        }
    }
    Ok(Json(uses))
}

/// The enabled accounts of a group, by user name. The group is named by its id, which is
/// never given to another group (a name can be).
#[utoipa::path(get, path = "/registry/groups/{id}/members", tag = "registry (components)",
    responses((status = 200, body = [tutti_core::api::GroupMember]), (status = 404, description = "no such group")))]
async fn group_members(
    State(state): State<Arc<HubState>>,
    Path(id): Path<i64>,
) -> Result<Json<Vec<tutti_core::api::GroupMember>>, ApiError> {
    let store_error = |e| ApiError::internal("account registry", e);
    let groups = state.store.groups().await.map_err(store_error)?;
    let Some(group) = groups.iter().find(|g| g.id == id) else {
        return Err(ApiError::not_found(format!("there is no group {id}")));
    };
    let (accounts, _) = state
        .store
        .accounts(String::new(), Some(group.id), 0, 100_000)
        .await
        .map_err(store_error)?;
    Ok(Json(
        accounts
            .into_iter()
            .filter(|a| !a.disabled)
            .map(|a| tutti_core::api::GroupMember {
                id: a.id,
                user_name: a.user_name,
            })
            .collect(),
    ))
}
