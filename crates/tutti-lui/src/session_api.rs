//! `/lui/api/session`: logging in to the User Interface. The Hub checks the login; when
//! the Hub cannot be reached, an account that logged in here before is checked against the
//! `lui/registry` cache, and one that never did gets a clear message. Either way the
//! attempt is reserved under the User Interface's own login limits first
//! (`tutti_core::login_limits`), so that the offline check is limited as the Hub's is.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::{Extension, Json};
use axum_extra::extract::cookie::CookieJar;
use serde::{Deserialize, Serialize};
use tutti_core::api::{AccountInfo, LoginRequest};
use tutti_core::client::PeerError;
use tutti_core::http_error::ApiError;
use tutti_core::password;
use tutti_core::rights::Right;
use tutti_core::web::{CSRF_HEADER, CookieNames};

use crate::LuiState;
use crate::registry_cache::{SessionWho, login_key};

/// The User Interface's cookies, all under `/lui` (over TLS `__Host-` ones under `/`).
pub const COOKIES: CookieNames = CookieNames {
    session: "tutti_lui_session",
    csrf: "tutti_lui_csrf",
    path: "/lui",
};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct LoginBody {
    pub user_name: String,
    #[serde(default)]
    pub group_name: Option<String>,
    pub password: String,
}

/// Who is logged in, as the User Interface's API answers it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionView {
    /// `admin`, or `user` / `user/group`.
    pub actor: String,
    pub user_name: String,
    pub group_name: Option<String>,
    pub rights: Vec<Right>,
    /// Send as `X-CSRF-Token` with every change.
    pub csrf_token: String,
    /// The login was checked against the cache because the Hub could not be reached.
    pub offline: bool,
}

fn hub_unreachable_for_new_account() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "the Administration Hub cannot be reached, and this account has not logged in here before, so it cannot be checked; try again when the Hub is back",
    )
}

fn wrong_login() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "the user name, group or password is wrong",
    )
}

/// Whether a failed Hub call means "the Hub is not there" (then the cache may answer).
fn hub_down(e: &PeerError) -> bool {
    match e {
        PeerError::Unreachable { .. } | PeerError::Unexpected { .. } => true,
        PeerError::Status { status, .. } => status.is_server_error(),
        PeerError::Unauthorized { .. } => false,
    }
}

/// Whether the Hub refused the password itself (not the call, nor a limit).
fn wrong_password(e: &PeerError) -> bool {
    matches!(e, PeerError::Status { status, .. } if *status == StatusCode::UNAUTHORIZED)
}

fn peer_error(e: PeerError) -> ApiError {
    match e {
        PeerError::Status {
            status, message, ..
        } if status.is_client_error() => ApiError::new(status, message),
        PeerError::Unauthorized { .. } => ApiError::internal(
            "the Hub refused this User Interface's ClusterSecret (check lui/lui.ini)",
            e,
        ),
        other => ApiError::internal("the Hub answered unexpectedly", other),
    }
}

/// Log in with user name, group and password (checked by the Hub, or by the cache while
/// the Hub cannot be reached); `admin` with the administrator password.
#[utoipa::path(post, path = "/session", tag = "session", request_body = LoginBody,
    responses((status = 200, body = SessionView), (status = 401, description = "wrong login"),
        (status = 429, description = "too many failed logins, or too many at once: the answer says when to try again"),
        (status = 503, description = "the Hub cannot be reached and the account never logged in here")))]
pub async fn login(
    State(state): State<Arc<LuiState>>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    tls: Option<Extension<tutti_core::runtime::ViaTls>>,
    headers: HeaderMap,
    jar: CookieJar,
    Json(body): Json<LoginBody>,
) -> Result<(CookieJar, Json<SessionView>), ApiError> {
    let group = body.group_name.clone().unwrap_or_default();
    let address = tutti_core::client_address::client_address(
        peer.map(|Extension(ConnectInfo(a))| a),
        &headers,
        &state.trusted_proxies,
    );
    let admin = body.user_name.trim().eq_ignore_ascii_case("admin") && group.trim().is_empty();
    let key = if admin {
        "admin".to_string()
    } else {
        login_key(&body.user_name, &group)
    };
    // Given back when no password gets checked (the Hub down for admin, a limit of the Hub's).
    let attempt = state.limits.reserve(&key, address)?;
    let client_address = address.map(|a| a.to_string());
    let (who, offline) = if admin {
        let request =
            serde_json::json!({"password": body.password, "client_address": client_address});
        match state
            .hub
            .post::<_, ()>("/api/registry/admin-login", &request)
            .await
        {
            Ok(()) => {
                attempt.succeeded();
                (SessionWho::Admin, false)
            }
            Err(e) if hub_down(&e) => {
                return Err(ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the Administration Hub cannot be reached, and the admin login is checked there; try again when the Hub is back",
                ));
            }
            Err(e) => {
                if wrong_password(&e) {
                    attempt.failed();
                }
                return Err(peer_error(e));
            }
        }
    } else {
        let request = LoginRequest {
            user_name: body.user_name.clone(),
            group_name: Some(group.clone()),
            password: body.password.clone(),
            client_address,
        };
        match state
            .hub
            .post::<_, AccountInfo>("/api/registry/login", &request)
            .await
        {
            Ok(info) => {
                attempt.succeeded();
                let hash = password::hash_blocking(body.password.clone()).await?;
                state
                    .cache
                    .remember(&info, hash)
                    .await
                    .map_err(|e| ApiError::internal("lui/registry", e))?;
                tracing::info!("login: {}", info.user_name);
                (
                    SessionWho::User {
                        account_id: info.id,
                    },
                    false,
                )
            }
            Err(e) if hub_down(&e) => {
                tracing::warn!(
                    "the Hub cannot be reached ({e}); checking the login against lui/registry"
                );
                match state
                    .cache
                    .lookup(&body.user_name, &group)
                    .await
                    .map_err(|e| ApiError::internal("lui/registry", e))?
                {
                    Some((info, Some(hash))) => {
                        if !password::verify_blocking(body.password.clone(), hash).await? {
                            attempt.failed();
                            return Err(wrong_login());
                        }
                        attempt.succeeded();
                        tracing::info!("login while the Hub is unreachable: {}", info.user_name);
                        (
                            SessionWho::User {
                                account_id: info.id,
                            },
                            true,
                        )
                    }
                    _ => return Err(hub_unreachable_for_new_account()),
                }
            }
            Err(e) => {
                if wrong_password(&e) {
                    attempt.failed();
                }
                return Err(peer_error(e));
            }
        }
    };
    let token = state
        .cache
        .create_session(who, offline)
        .await
        .map_err(|e| ApiError::internal("sessions", e))?;
    let tls = tls.is_some();
    let (jar, csrf) = COOKIES.logged_in(jar, token, tls);
    let view = state.view(who, offline, csrf).await?;
    Ok((jar, Json(view)))
}

/// A logged-in person, with the account as the cache has it now (rights refresh within
/// seconds of a change at the Hub).
pub struct LuiSession {
    pub token: String,
    pub who: SessionWho,
    pub offline: bool,
    pub jar: CookieJar,
    /// Whether the request came over TLS (the cookies then have `__Host-` names).
    pub tls: bool,
}

impl LuiSession {
    /// The session's CSRF token (renewed at every login).
    pub fn csrf(&self) -> String {
        COOKIES
            .current_csrf(&self.jar, self.tls)
            .unwrap_or_default()
    }
}

impl FromRequestParts<Arc<LuiState>> for LuiSession {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<LuiState>,
    ) -> Result<Self, Self::Rejection> {
        let jar = CookieJar::from_headers(&parts.headers);
        let unauthenticated = || {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "log in first: POST /lui/api/session",
            )
        };
        let tls = parts
            .extensions
            .get::<tutti_core::runtime::ViaTls>()
            .is_some();
        let token = COOKIES
            .session_token(&jar, tls)
            .ok_or_else(unauthenticated)?;
        let (who, offline) = state
            .cache
            .session(&token)
            .await
            .map_err(|e| ApiError::internal("sessions", e))?
            .ok_or_else(unauthenticated)?;
        // An account the Hub deleted or disabled is gone from the cache: its sessions end.
        if let SessionWho::User { account_id } = who {
            state
                .cache
                .account(account_id)
                .await
                .map_err(|e| ApiError::internal("lui/registry", e))?
                .ok_or_else(unauthenticated)?;
        }
        let safe = matches!(
            parts.method,
            axum::http::Method::GET | axum::http::Method::HEAD
        );
        let presented = parts
            .headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !safe && !COOKIES.csrf_ok(&jar, tls, presented) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "the X-CSRF-Token header is missing or wrong",
            ));
        }
        Ok(LuiSession {
            token,
            who,
            offline,
            jar,
            tls,
        })
    }
}

/// `user` or `user/group`, as logs and pages show an account.
pub fn display_name(a: &AccountInfo) -> String {
    match &a.group_name {
        Some(g) => format!("{}/{g}", a.user_name),
        None => a.user_name.clone(),
    }
}

impl LuiState {
    /// The account as the cache holds it now; gone means the session is over.
    pub(crate) async fn cached_account(&self, id: i64) -> Result<AccountInfo, ApiError> {
        self.cache
            .account(id)
            .await
            .map_err(|e| ApiError::internal("lui/registry", e))?
            .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "the account no longer exists"))
    }

    async fn view(
        &self,
        who: SessionWho,
        offline: bool,
        csrf_token: String,
    ) -> Result<SessionView, ApiError> {
        Ok(match who {
            SessionWho::Admin => SessionView {
                actor: "admin".into(),
                user_name: "admin".into(),
                group_name: None,
                rights: Right::ALL.to_vec(),
                csrf_token,
                offline,
            },
            SessionWho::User { account_id } => {
                let a = self.cached_account(account_id).await?;
                let actor = display_name(&a);
                SessionView {
                    actor,
                    user_name: a.user_name,
                    group_name: a.group_name,
                    rights: a.rights,
                    csrf_token,
                    offline,
                }
            }
        })
    }
}

/// Who is logged in.
#[utoipa::path(get, path = "/session", tag = "session",
    responses((status = 200, body = SessionView), (status = 401, description = "not logged in")))]
pub async fn whoami(
    State(state): State<Arc<LuiState>>,
    session: LuiSession,
) -> Result<Json<SessionView>, ApiError> {
    let csrf = session.csrf();
    Ok(Json(state.view(session.who, session.offline, csrf).await?))
}

/// Log out.
#[utoipa::path(delete, path = "/session", tag = "session", responses((status = 204)))]
pub async fn logout(
    State(state): State<Arc<LuiState>>,
    session: LuiSession,
) -> Result<(CookieJar, StatusCode), ApiError> {
    state
        .cache
        .end_session(&session.token)
        .await
        .map_err(|e| ApiError::internal("sessions", e))?;
    Ok((
        session.jar.remove(COOKIES.session_removal(session.tls)),
        StatusCode::NO_CONTENT,
    ))
}
