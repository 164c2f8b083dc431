//! Checking a login, for the console, the JSON API and the components' registry API alike:
//! an attempt reserved under the login limits (`tutti_core::login_limits`) first, then the
//! Argon2id hash.

use std::net::{IpAddr, SocketAddr};

use axum::Extension;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, StatusCode};
use tutti_core::http_error::ApiError;
use tutti_core::password;

use crate::HubState;
use crate::store::{Account, name_key};

/// Who tries to log in.
#[derive(Debug, Clone)]
pub enum Who {
    Admin,
    User {
        user_name: String,
        group_name: String,
    },
}

impl Who {
    fn limit_key(&self) -> String {
        match self {
            Who::Admin => "admin".into(),
            Who::User {
                user_name,
                group_name,
            } => format!("{}/{}", name_key(user_name), name_key(group_name)),
        }
    }
}

pub enum LoginOutcome {
    Admin { must_change: bool },
    User(Box<Account>),
}

/// The one answer for a wrong user, group or password: it does not say which was wrong.
/// The administrator's login has only a password, so it names only that.
fn wrong_login(who: &Who) -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        match who {
            Who::Admin => "the administrator password is wrong",
            Who::User { .. } => "the user name, group or password is wrong",
        },
    )
}

impl HubState {
    /// The address a person's request comes from: the peer, or behind a trusted proxy the
    /// client it names (see `tutti_core::client_address`).
    pub fn client_address(
        &self,
        peer: Option<Extension<ConnectInfo<SocketAddr>>>,
        headers: &HeaderMap,
    ) -> Option<IpAddr> {
        tutti_core::client_address::client_address(
            peer.map(|Extension(ConnectInfo(a))| a),
            headers,
            &self.trusted_proxies,
        )
    }

    /// Checks a login from `address`, the client's address (none: unknown).
    pub async fn login(
        &self,
        who: &Who,
        password: &str,
        address: Option<IpAddr>,
    ) -> Result<LoginOutcome, ApiError> {
        let key = who.limit_key();
        let attempt = self.limits.reserve(&key, address)?;
        if password.len() > password::MAX_PASSWORD_LEN * 4 {
            attempt.failed();
            return Err(wrong_login(who));
        }
        // An error before the password is checked (Busy, the registry) gives the attempt back.
        let outcome = match who {
            Who::Admin => {
                let (hash, must_change) = self
                    .store
                    .admin()
                    .await
                    .map_err(|e| ApiError::internal("account registry", e))?;
                password::verify_blocking(password.to_string(), hash)
                    .await?
                    .then_some(LoginOutcome::Admin { must_change })
            }
            Who::User {
                user_name,
                group_name,
            } => {
                let account = self
                    .store
                    .account_by_login(user_name, group_name)
                    .await
                    .map_err(|e| ApiError::internal("account registry", e))?;
                match account {
                    Some(a)
                        if password::verify_blocking(
                            password.to_string(),
                            a.password_hash.clone(),
                        )
                        .await? =>
                    {
                        if a.disabled {
                            return Err(ApiError::new(
                                StatusCode::FORBIDDEN,
                                "this account is disabled; ask the administrator",
                            ));
                        }
                        Some(LoginOutcome::User(Box::new(a)))
                    }
                    Some(_) => None,
                    None => {
                        // Same work as a real check, so timing does not tell which accounts exist.
                        password::verify_blocking(password.to_string(), self.dummy_hash.clone())
                            .await?;
                        None
                    }
                }
            }
        };
        match outcome {
            Some(o) => {
                attempt.succeeded();
                self.logins.inc_by("accepted", 1);
                Ok(o)
            }
            None => {
                attempt.failed();
                self.logins.inc_by("refused", 1);
                match address {
                    Some(a) => tracing::info!("failed login for {key} from {a}"),
                    None => tracing::info!("failed login for {key} from an unknown address"),
                }
                Err(wrong_login(who))
            }
        }
    }
}
