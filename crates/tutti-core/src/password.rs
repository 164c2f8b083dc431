//! Password hashing with Argon2id (PHC strings). Hashing takes tens of milliseconds of CPU
//! on purpose: call these from `spawn_blocking` (see [`hash_blocking`], [`verify_blocking`]).

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

/// Fewest characters a password may have.
pub const MIN_PASSWORD_LEN: usize = 8;
/// Most characters a password may have (hashing cost and request size stay bounded).
pub const MAX_PASSWORD_LEN: usize = 256;

/// Checks a new password; the error says what is wrong.
pub fn check_new_password(password: &str) -> Result<(), String> {
    let len = password.chars().count();
    if len < MIN_PASSWORD_LEN {
        return Err(format!(
            "the password has {len} characters; it needs at least {MIN_PASSWORD_LEN}"
        ));
    }
    if len > MAX_PASSWORD_LEN {
        return Err(format!(
            "the password has {len} characters; at most {MAX_PASSWORD_LEN} are allowed"
        ));
    }
    Ok(())
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

pub async fn hash_blocking(password: String) -> Result<String, String> {
    tokio::task::spawn_blocking(move || hash(&password))
        .await
        .map_err(|e| format!("password hashing stopped: {e}"))?
}

pub async fn verify_blocking(password: String, phc: String) -> bool {
    tokio::task::spawn_blocking(move || verify(&password, &phc))
        .await
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(check_new_password("12345678").is_ok());
        assert!(check_new_password(&"x".repeat(257)).is_err());
    }
}
