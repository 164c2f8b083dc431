//! Password hashing with Argon2id (PHC strings). Hashing takes tens of milliseconds of CPU
//! on purpose: call these from `spawn_blocking` (see [`hash_blocking`], [`verify_blocking`]).

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

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
    Ok(())
}

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
        assert!(check_new_password(" abcdefgh ").is_ok());
    }
}
