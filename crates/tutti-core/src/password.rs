//! Password hashing with Argon2id (PHC strings). Hashing takes tens of milliseconds of CPU
//! and about 19 MiB of memory on purpose: async code calls [`hash_blocking`] and
//! [`verify_blocking`], which run at most [`max_concurrent_hashes`] at once per process and
//! refuse a request that found no turn within [`HASH_QUEUE_WAIT`] as [`Busy`], so that a
//! burst of logins cannot take every core and all memory.

use std::collections::HashSet;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use axum::http::StatusCode;
use tokio::sync::Semaphore;

use crate::http_error::ApiError;

/// Fewest characters a password may have, not counting spaces at its start and end.
pub const MIN_PASSWORD_LEN: usize = 8;
/// Most characters a password may have (hashing cost and request size stay bounded).
pub const MAX_PASSWORD_LEN: usize = 256;

/// Checks a new password (of the administrator or an account); the error says what is
/// wrong with "it", for the caller to name the field in front, e.g. "New password: ...".
/// The password is kept exactly as typed, but spaces at its ends do not count towards
/// the length: eight spaces, or "  abc  ", are no password.
pub fn check_new_password(password: &str) -> Result<(), String> {
    let len = password.chars().count();
    let trimmed = password.trim().chars().count();
    if len > MAX_PASSWORD_LEN {
        return Err(format!(
            "it has {len} characters; a password may have at most {MAX_PASSWORD_LEN}"
        ));
    }
    if len < MIN_PASSWORD_LEN {
        return Err(format!(
            "it has {len} characters; a password needs at least {MIN_PASSWORD_LEN}"
        ));
    }
    if trimmed == 0 {
        return Err(format!(
            "it is only spaces; a password needs at least {MIN_PASSWORD_LEN} other characters"
        ));
    }
    if trimmed < MIN_PASSWORD_LEN {
        return Err(format!(
            "it has only {trimmed} characters besides the spaces at its start and end; a password needs at least {MIN_PASSWORD_LEN}"
        ));
    }
    if COMMON_PASSWORDS.contains(password.trim().to_lowercase().as_str()) {
        return Err(
            "it is one of the most common passwords, which attackers try first; choose another"
                .into(),
        );
    }
    Ok(())
}

/// Common passwords (lower case, one a line, `#` comments), refused ignoring letter case.
static COMMON_PASSWORDS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("common-passwords.txt")
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
});

/// A random password of 20 letters and digits (about 100 bits), without the ones that
/// are easy to misread (0/O, 1/l/I).
pub fn random_password() -> std::io::Result<String> {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut out = String::with_capacity(20);
    while out.len() < 20 {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
        // Bytes above the largest multiple of the alphabet's size would favour its start.
        let limit = 256 - 256 % ALPHABET.len();
        for b in bytes.iter().filter(|&&b| usize::from(b) < limit) {
            if out.len() < 20 {
                out.push(char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]));
            }
        }
    }
    Ok(out)
}

/// An Argon2id PHC string with a random salt.
pub fn hash(password: &str) -> Result<String, String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash the password: {e}"))
}

/// Whether `password` matches `phc`; a malformed hash matches nothing.
pub fn verify(password: &str, phc: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), phc)
        .is_ok()
}

/// How long a password check waits for its turn before it is refused as [`Busy`].
pub const HASH_QUEUE_WAIT: Duration = Duration::from_secs(3);

/// Most hashes computed at once in this process: twice the cores.
pub fn max_concurrent_hashes() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get() * 2)
}

/// Too many passwords are being hashed at once (see [`max_concurrent_hashes`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the server is checking too many passwords at once; try again in a few seconds")]
pub struct Busy;

impl From<Busy> for ApiError {
    fn from(busy: Busy) -> Self {
        ApiError::new(StatusCode::TOO_MANY_REQUESTS, busy.to_string())
            .retry_after(Duration::from_secs(2))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error(transparent)]
    Busy(#[from] Busy),
    #[error("{0}")]
    Failed(String),
}

impl From<HashError> for ApiError {
    fn from(e: HashError) -> Self {
        match e {
            HashError::Busy(busy) => busy.into(),
            HashError::Failed(e) => ApiError::internal("password", e),
        }
    }
}

/// Runs hashing work on the blocking threads, a bounded number at once.
struct HashPool {
    permits: Arc<Semaphore>,
    wait: Duration,
}

impl HashPool {
    fn new(size: usize, wait: Duration) -> Self {
        HashPool {
            permits: Arc::new(Semaphore::new(size)),
            wait,
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<Option<T>, Busy> {
        let permit = tokio::time::timeout(self.wait, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| Busy)?
            .map_err(|_| Busy)?;
        // The permit goes with the work: a caller that gives up waiting (a closed
        // connection) does not free a turn while its hash is still being computed.
        Ok(tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await
        .ok())
    }
}

static POOL: LazyLock<HashPool> =
    LazyLock::new(|| HashPool::new(max_concurrent_hashes(), HASH_QUEUE_WAIT));

pub async fn hash_blocking(password: String) -> Result<String, HashError> {
    POOL.run(move || hash(&password))
        .await?
        .unwrap_or_else(|| Err("password hashing stopped".into()))
        .map_err(HashError::Failed)
}

/// Whether `password` matches `phc` (a check that stopped matches nothing).
pub async fn verify_blocking(password: String, phc: String) -> Result<bool, Busy> {
    Ok(POOL
        .run(move || verify(&password, &phc))
        .await?
        .unwrap_or(false))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn hashing_runs_a_bounded_number_at_once_and_the_excess_is_refused_as_busy() {
        let pool = Arc::new(HashPool::new(2, Duration::from_millis(300)));
        let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let tasks: Vec<_> = (0..12)
            .map(|_| {
                let (pool, running, most) = (pool.clone(), running.clone(), most.clone());
                tokio::spawn(async move {
                    pool.run(move || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(100));
                        running.fetch_sub(1, Ordering::SeqCst);
                    })
                    .await
                })
            })
            .collect();
        let mut outcomes = Vec::new();
        for t in tasks {
            outcomes.push(t.await.expect("task"));
        }
        assert_eq!(
            most.load(Ordering::SeqCst),
            2,
            "never more than the pool's size"
        );
        let busy = outcomes.iter().filter(|o| **o == Err(Busy)).count();
        // Two at a time for 100 ms each: within 300 ms about six get a turn, the rest not.
        assert!(busy > 0 && busy < 12, "{busy} of 12 refused");
        let e = ApiError::from(Busy);
        assert_eq!(e.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(
            e.message.contains("too many passwords at once"),
            "{}",
            e.message
        );
    }

    #[tokio::test]
    async fn the_blocking_helpers_hash_and_verify() {
        let h = hash_blocking("correct horse".into()).await.expect("hashed");
        assert_eq!(
            verify_blocking("correct horse".into(), h.clone()).await,
            Ok(true)
        );
        assert_eq!(verify_blocking("wrong horse".into(), h).await, Ok(false));
    }

    #[test]
    fn hashes_verify_and_are_argon2id() {
        let h = hash("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse", &h));
        assert!(!verify("Correct horse", &h), "passwords are case-sensitive");
        assert!(!verify("correct horse", "not a hash"));
        assert_ne!(h, hash("correct horse").unwrap(), "salted");
    }

    #[test]
    fn new_passwords_are_checked() {
        assert!(
            check_new_password("1234567")
                .unwrap_err()
                .contains("at least 8")
        );
        assert!(check_new_password("12345679x").is_ok());
        assert!(check_new_password(&"x".repeat(256)).is_ok());
        assert!(
            check_new_password(&"x".repeat(257))
                .unwrap_err()
                .contains("at most 256")
        );
    }

    #[test]
    fn spaces_at_the_ends_do_not_count() {
        for blank in [" ".repeat(8), " ".repeat(300), "\t \u{a0}\n    ".into()] {
            let e = check_new_password(&blank).unwrap_err();
            assert!(
                e.contains("only spaces") || e.contains("at most"),
                "{blank:?}: {e}"
            );
        }
        assert_eq!(
            check_new_password(&" ".repeat(8)).unwrap_err(),
            "it is only spaces; a password needs at least 8 other characters"
        );
        assert_eq!(
            check_new_password("  abcdefg  ").unwrap_err(),
            "it has only 7 characters besides the spaces at its start and end; a password needs at least 8"
        );
        // Spaces inside count, and spaces at the ends are allowed (and kept) around enough.
        assert!(check_new_password("correct horse").is_ok());
        assert!(check_new_password(" abcdefgz ").is_ok());
    }

    #[test]
    fn common_passwords_are_refused_in_any_letter_case() {
        for common in [
            "password",
            "12345678",
            "qwertyui",
            "PassWord1",
            " iloveyou ",
            "Sunshine",
        ] {
            assert_eq!(
                check_new_password(common).unwrap_err(),
                "it is one of the most common passwords, which attackers try first; choose another",
                "{common}"
            );
        }
        // Every entry is one the rules would otherwise take, written as it is compared.
        for entry in COMMON_PASSWORDS.iter() {
            assert_eq!(*entry, entry.trim().to_lowercase(), "{entry}");
            assert!(entry.chars().count() >= MIN_PASSWORD_LEN, "{entry}");
        }
        assert!(COMMON_PASSWORDS.len() > 500);
        for ours in ["anna-password", "new-admin-pw", "correct horse"] {
            assert!(check_new_password(ours).is_ok(), "{ours}");
        }
    }
}
