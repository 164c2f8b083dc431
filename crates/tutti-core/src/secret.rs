//! The cluster secret: the shared secret with which components authenticate each other's
//! API calls. It never appears in logs or `Debug` output.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq;

/// Fewest characters a cluster secret may have.
pub const MIN_SECRET_LEN: usize = 24;

#[derive(Clone, PartialEq, Eq)]
pub struct ClusterSecret(String);

impl ClusterSecret {
    /// A new random secret: 32 bytes from the OS, base64url (43 characters).
    pub fn generate() -> std::io::Result<Self> {
        Ok(ClusterSecret(URL_SAFE_NO_PAD.encode(random_bytes::<32>()?)))
    }

    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.is_empty() {
            return Err("the cluster secret is empty".into());
        }
        if s.len() < MIN_SECRET_LEN {
            return Err(format!(
                "the cluster secret is {} characters long; it needs at least {MIN_SECRET_LEN} (tutti init generates one)",
                s.len()
            ));
        }
        // Say where, never which character: the message is logged and the secret is not.
        if let Some(at) = s.chars().position(|c| !c.is_ascii_graphic()) {
            return Err(format!(
                "character {} of the cluster secret is a space or not printable ASCII; use printable ASCII without spaces",
                at + 1
            ));
        }
        Ok(ClusterSecret(s.to_string()))
    }

    /// The secret itself, for writing it into an INI file or an `Authorization` header.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Compares in constant time, so that timing tells an attacker nothing.
    pub fn matches(&self, presented: &[u8]) -> bool {
        self.0.as_bytes().ct_eq(presented).into()
    }
}

/// `N` bytes from the operating system's random source.
pub fn random_bytes<const N: usize>() -> std::io::Result<[u8; N]> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(bytes)
}

impl fmt::Debug for ClusterSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClusterSecret(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_are_distinct_and_valid() {
        let a = ClusterSecret::generate().unwrap();
        let b = ClusterSecret::generate().unwrap();
        assert_ne!(a, b);
        assert_eq!(ClusterSecret::parse(a.expose()).unwrap(), a);
    }

    #[test]
    fn debug_hides_the_secret() {
        let s = ClusterSecret::generate().unwrap();
        assert!(!format!("{s:?}").contains(s.expose()));
    }

    #[test]
    fn matching_is_exact() {
        let s = ClusterSecret::parse("abcdefghijklmnopqrstuvwxyz").unwrap();
        assert!(s.matches(b"abcdefghijklmnopqrstuvwxyz"));
        assert!(!s.matches(b"abcdefghijklmnopqrstuvwxy"));
        assert!(!s.matches(b"abcdefghijklmnopqrstuvwxyZ"));
        assert!(!s.matches(b""));
    }

    #[test]
    fn short_or_spaced_secrets_are_refused() {
        assert!(
            ClusterSecret::parse("short")
                .unwrap_err()
                .contains("at least")
        );
        assert!(ClusterSecret::parse("abcdefghijkl mnopqrstuvwxyz").is_err());
        assert!(ClusterSecret::parse("").is_err());
    }
}
