//! Login limits: after too many failed logins for one account, or from one address, within
//! a window, further attempts are refused until the window has passed. Kept in memory: a
//! restart clears them.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const WINDOW: Duration = Duration::from_secs(15 * 60);
pub const MAX_PER_ACCOUNT: usize = 5;
pub const MAX_PER_ADDRESS: usize = 20;

#[derive(Default)]
pub struct LoginLimits {
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

/// Why a login is refused before its password is even checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Locked {
    pub message: String,
    pub retry_after: Duration,
}

impl LoginLimits {
    /// Refuses when the account or the address has too many recent failures.
    pub fn check(&self, account_key: &str, address: Option<&str>) -> Result<(), Locked> {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let mut wait = |key: String, max: usize| {
            let list = failures.entry(key).or_default();
            while list
                .front()
                .is_some_and(|t| now.duration_since(*t) > WINDOW)
            {
                list.pop_front();
            }
            (list.len() >= max).then(|| {
                list.front()
                    .map(|t| WINDOW.saturating_sub(now.duration_since(*t)))
                    .unwrap_or(WINDOW)
            })
        };
        if let Some(retry_after) = wait(format!("account:{account_key}"), MAX_PER_ACCOUNT) {
            return Err(Locked {
                message: format!(
                    "too many failed logins for this account: it is locked for {} more minute(s)",
                    retry_after.as_secs().div_ceil(60)
                ),
                retry_after,
            });
        }
        if let Some(address) = address
            && let Some(retry_after) = wait(format!("address:{address}"), MAX_PER_ADDRESS)
        {
            return Err(Locked {
                message: format!(
                    "too many failed logins from your address: try again in {} minute(s)",
                    retry_after.as_secs().div_ceil(60)
                ),
                retry_after,
            });
        }
        Ok(())
    }

    pub fn failed(&self, account_key: &str, address: Option<&str>) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        failures
            .entry(format!("account:{account_key}"))
            .or_default()
            .push_back(now);
        if let Some(address) = address {
            failures
                .entry(format!("address:{address}"))
                .or_default()
                .push_back(now);
        }
    }

    pub fn succeeded(&self, account_key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&format!("account:{account_key}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_locks_after_five_failures_and_a_success_clears_it() {
        let limits = LoginLimits::default();
        for _ in 0..MAX_PER_ACCOUNT {
            assert!(limits.check("anna/", Some("10.0.0.1")).is_ok());
            limits.failed("anna/", Some("10.0.0.1"));
        }
        let locked = limits.check("anna/", Some("10.0.0.2")).unwrap_err();
        assert!(
            locked.message.contains("locked for 15 more minute"),
            "{}",
            locked.message
        );
        assert!(
            limits.check("bob/", Some("10.0.0.2")).is_ok(),
            "other accounts are not affected"
        );
        limits.succeeded("anna/");
        assert!(limits.check("anna/", None).is_ok());
    }

    #[test]
    fn an_address_locks_after_many_failures_on_any_accounts() {
        let limits = LoginLimits::default();
        for i in 0..MAX_PER_ADDRESS {
            limits.failed(&format!("user{i}/"), Some("10.9.9.9"));
        }
        let locked = limits.check("someone/", Some("10.9.9.9")).unwrap_err();
        assert!(locked.message.contains("from your address"));
        assert!(limits.check("someone/", Some("10.9.9.8")).is_ok());
    }
}
