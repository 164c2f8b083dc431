//! Who is calling the Hub's console and JSON API: the session cookie, the CSRF token, and
//! the extractors that turn them into an [`Actor`].
//!
//! CSRF protection is `tutti_core::web`'s: a token bound to the session (renewed at every
//! login) that every form repeats in its `csrf` field and every JSON call in its
//! `X-CSRF-Token` header.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use tutti_core::http_error::ApiError;
use tutti_core::runtime::ViaTls;
use tutti_core::web::{CSRF_HEADER, CookieNames};

use crate::HubState;
use crate::service::Actor;
use crate::sessions::Principal;

/// The Hub's cookies, all under `/hub` (over TLS `__Host-` ones under `/`).
pub const COOKIES: CookieNames = CookieNames {
    session: "tutti_hub_session",
    csrf: "tutti_hub_csrf",
    path: "/hub",
};

/// Why a request has no usable session.
#[derive(Debug)]
pub enum Refusal {
    NoSession,
    MustChangePassword,
    BadCsrf,
    Failed(ApiError),
}

/// The session of a request, if any: its token and actor, and whether the administrator
/// must still change the one-time setup password.
pub async fn session_of(
    state: &HubState,
    jar: &CookieJar,
    tls: bool,
) -> Result<Option<(String, Actor, bool)>, ApiError> {
    let Some(token) = COOKIES.session_token(jar, tls) else {
        return Ok(None);
    };
    let principal = state
        .sessions
        .get::<Principal>(&token)
        .await
        .map_err(|e| ApiError::internal("sessions", e))?;
    match principal {
        None => Ok(None),
        Some(Principal::Admin) => {
            let (_, must_change) = state
                .store
                .admin()
                .await
                .map_err(|e| ApiError::internal("account registry", e))?;
            Ok(Some((token, Actor::Admin, must_change)))
        }
        Some(Principal::User { account_id }) => match state.store.account(account_id).await {
            Ok(a) if !a.disabled => Ok(Some((token, Actor::User(Box::new(a)), false))),
            _ => Ok(None),
        },
    }
}

async fn authenticate(
    parts: &Parts,
    state: &HubState,
    allow_default_password: bool,
    csrf_from_header: bool,
) -> Result<Authed, Refusal> {
    let jar = CookieJar::from_headers(&parts.headers);
    let tls = parts.extensions.get::<ViaTls>().is_some();
    let (token, actor, must_change) = session_of(state, &jar, tls)
        .await
        .map_err(Refusal::Failed)?
        .ok_or(Refusal::NoSession)?;
    if must_change && !allow_default_password {
        return Err(Refusal::MustChangePassword);
    }
    let unsafe_method = !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
    if csrf_from_header && unsafe_method {
        let presented = header(&parts.headers, CSRF_HEADER);
        if !COOKIES.csrf_ok(&jar, tls, presented) {
            return Err(Refusal::BadCsrf);
        }
    }
    Ok(Authed {
        token,
        actor,
        must_change,
        jar,
        tls,
    })
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// An authenticated session.
pub struct Authed {
    pub token: String,
    pub actor: Actor,
    pub must_change: bool,
    pub jar: CookieJar,
    /// Whether the request came over TLS (the cookies then have `__Host-` names).
    pub tls: bool,
}

impl Authed {
    /// The session's CSRF token, for the forms of a page.
    pub fn csrf(&self) -> String {
        COOKIES
            .current_csrf(&self.jar, self.tls)
            .unwrap_or_default()
    }

    /// Whether a form's CSRF field is the session's token.
    pub fn csrf_ok(&self, presented: &str) -> bool {
        COOKIES.csrf_ok(&self.jar, self.tls, presented)
    }

    /// The jar that logs this session out of the browser.
    pub fn logged_out(self) -> CookieJar {
        self.jar.remove(COOKIES.session_removal(self.tls))
    }
}

/// JSON API caller; unsafe methods need the `X-CSRF-Token` header.
pub struct ApiActor(pub Authed);

/// Like [`ApiActor`], but also while the one-time setup password is unchanged.
pub struct ApiAnySession(pub Authed);

fn api_refusal(r: Refusal) -> ApiError {
    match r {
        Refusal::NoSession => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "log in first: POST /hub/api/session",
        ),
        Refusal::MustChangePassword => ApiError::new(
            StatusCode::FORBIDDEN,
            "the administrator password is still the one-time setup password: change it first (POST /hub/api/admin/password)",
        ),
        Refusal::BadCsrf => ApiError::new(
            StatusCode::FORBIDDEN,
            "the X-CSRF-Token header is missing or is not this session's token (the token is in the answer to POST /hub/api/session and GET /hub/api/session)",
        ),
        Refusal::Failed(e) => e,
    }
}

impl FromRequestParts<Arc<HubState>> for ApiActor {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<HubState>,
    ) -> Result<Self, Self::Rejection> {
        authenticate(parts, state, false, true)
            .await
            .map(ApiActor)
            .map_err(api_refusal)
    }
}

impl FromRequestParts<Arc<HubState>> for ApiAnySession {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<HubState>,
    ) -> Result<Self, Self::Rejection> {
        authenticate(parts, state, true, true)
            .await
            .map(ApiAnySession)
            .map_err(api_refusal)
    }
}

/// Console page caller: without a session, the browser goes to the login page; with the
/// setup password, to the password page. Forms check their CSRF field themselves.
pub struct PageActor(pub Authed);

/// Like [`PageActor`], also while the setup password is unchanged.
pub struct PageAnySession(pub Authed);

fn page_refusal(r: Refusal) -> Response {
    match r {
        Refusal::NoSession => Redirect::to("/hub/login").into_response(),
        Refusal::MustChangePassword => Redirect::to("/hub/password").into_response(),
        Refusal::BadCsrf => (
            StatusCode::FORBIDDEN,
            "the form's CSRF token is missing or wrong: reload the page",
        )
            .into_response(),
        Refusal::Failed(e) => e.into_response(),
    }
}

impl FromRequestParts<Arc<HubState>> for PageActor {
    type Rejection = Response;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<HubState>,
    ) -> Result<Self, Self::Rejection> {
        authenticate(parts, state, false, false)
            .await
            .map(PageActor)
            .map_err(page_refusal)
    }
}

impl FromRequestParts<Arc<HubState>> for PageAnySession {
    type Rejection = Response;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<HubState>,
    ) -> Result<Self, Self::Rejection> {
        authenticate(parts, state, true, false)
            .await
            .map(PageAnySession)
            .map_err(page_refusal)
    }
}
