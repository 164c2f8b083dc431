//! Browser sessions and CSRF protection shared by the components that serve people (the
//! Hub's console, the User Interface): random tokens, cookies, and the double-submit CSRF
//! check.
//!
//! The CSRF token is a random value in a cookie (SameSite=Strict, HttpOnly) that every form
//! repeats in its `csrf` field and every JSON call in its `X-CSRF-Token` header. Another
//! site can neither read nor set the cookie, so it cannot forge a request carrying both.

use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The header JSON calls carry the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A new random token (32 bytes, base64url).
pub fn new_token() -> std::io::Result<String> {
    Ok(URL_SAFE_NO_PAD.encode(crate::secret::random_bytes::<32>()?))
}

/// What a session table stores of a token: its SHA-256, so a copy of the table opens no
/// session.
pub fn token_hash(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}

/// The cookies of one component: their names and path.
#[derive(Debug, Clone, Copy)]
pub struct CookieNames {
    pub session: &'static str,
    pub csrf: &'static str,
    pub path: &'static str,
}

impl CookieNames {
    fn cookie(
        &self,
        name: &'static str,
        value: String,
        tls: bool,
        same_site: SameSite,
    ) -> Cookie<'static> {
        Cookie::build((name, value))
            .path(self.path)
            .http_only(true)
            .secure(tls)
            .same_site(same_site)
            .build()
    }

    pub fn session_cookie(&self, token: String, tls: bool) -> Cookie<'static> {
        self.cookie(self.session, token, tls, SameSite::Lax)
    }

    /// A cookie that removes the session cookie.
    pub fn session_removal(&self) -> Cookie<'static> {
        Cookie::build((self.session, "")).path(self.path).build()
    }

    pub fn session_token(&self, jar: &CookieJar) -> Option<String> {
        jar.get(self.session).map(|c| c.value().to_string())
    }

    /// The browser's CSRF token; a new one (and its cookie) when it has none.
    pub fn csrf_token(&self, jar: CookieJar, tls: bool) -> std::io::Result<(CookieJar, String)> {
        if let Some(value) = self.current_csrf(&jar) {
            return Ok((jar, value));
        }
        let token = new_token()?;
        Ok((
            jar.add(self.cookie(self.csrf, token.clone(), tls, SameSite::Strict)),
            token,
        ))
    }

    pub fn current_csrf(&self, jar: &CookieJar) -> Option<String> {
        jar.get(self.csrf)
            .filter(|c| c.value().len() >= 32)
            .map(|c| c.value().to_string())
    }

    /// Whether `presented` is the browser's CSRF token (compared in constant time).
    pub fn csrf_ok(&self, jar: &CookieJar, presented: &str) -> bool {
        match self.current_csrf(jar) {
            Some(value) => value.as_bytes().ct_eq(presented.as_bytes()).into(),
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: CookieNames = CookieNames {
        session: "s",
        csrf: "c",
        path: "/x",
    };

    #[test]
    fn csrf_token_is_kept_and_checked() {
        let (jar, token) = NAMES.csrf_token(CookieJar::new(), false).unwrap();
        let (jar, again) = NAMES.csrf_token(jar, false).unwrap();
        assert_eq!(token, again);
        assert!(NAMES.csrf_ok(&jar, &token));
        assert!(!NAMES.csrf_ok(&jar, "forged"));
        assert!(!NAMES.csrf_ok(&CookieJar::new(), ""), "no cookie, no pass");
        let cookie = jar.get("c").unwrap();
        assert_eq!(
            (cookie.http_only(), cookie.same_site(), cookie.path()),
            (Some(true), Some(SameSite::Strict), Some("/x"))
        );
    }
}
