//! Checking a login, for the console, the JSON API and the components' registry API alike:
//! login limits first, then the Argon2id hash.

use axum::http::StatusCode;
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
    pub async fn login(
        &self,
        who: &Who,
        password: &str,
        address: Option<&str>,
    ) -> Result<LoginOutcome, ApiError> {
        let key = who.limit_key();
        self.limits
            .check(&key, address)
            .map_err(|l| ApiError::new(StatusCode::TOO_MANY_REQUESTS, l.message))?;
        if password.len() > password::MAX_PASSWORD_LEN * 4 {
            return Err(wrong_login(who));
        }
        let outcome = match who {
            Who::Admin => {
                let (hash, must_change) = self
                    .store
                    .admin()
                    .await
                    .map_err(|e| ApiError::internal("account registry", e))?;
                password::verify_blocking(password.to_string(), hash)
                    .await
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
                        .await =>
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
                        let _ = password::verify_blocking(
                            password.to_string(),
                            self.dummy_hash.clone(),
                        )
                        .await;
                        None
                    }
                }
            }
        };
        match outcome {
            Some(o) => {
                self.limits.succeeded(&key);
                self.logins.inc_by("accepted", 1);
                Ok(o)
            }
            None => {
                self.limits.failed(&key, address);
                self.logins.inc_by("refused", 1);
                tracing::info!(
                    "failed login for {key} from {}",
                    address.unwrap_or("a component")
                );
                Err(wrong_login(who))
            }
        }
    }
}
