//! Browser sessions and CSRF protection shared by the components that serve people (the
//! Hub's console, the User Interface): random tokens, cookies, and the CSRF check.
//!
//! Every form repeats the CSRF token in its `csrf` field and every JSON call in its
//! `X-CSRF-Token` header. With a session cookie, the token is derived from the session's
//! token (an HMAC under it): it is new at every login, and worthless with another session
//! or after logout. Before login (the login form itself) it is a random value in a cookie
//! (SameSite=Strict, HttpOnly), double-submitted. Another site can neither read these
//! cookies nor the pages that carry the token, so it cannot forge a request that carries
//! both. Over TLS the cookies have `__Host-` names (Secure, `Path=/`, no Domain), which no
//! plain-HTTP page or other host can set.

use std::borrow::Cow;

use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
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

/// The CSRF token of the session whose token is `session_token`.
fn session_csrf(session_token: &str) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(session_token.as_bytes())
        .expect("HMAC takes any key length");
    mac.update(b"tutti csrf token");
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// The cookies of one component: their names and path (over plain HTTP; over TLS the
/// names get the `__Host-` prefix and the path is `/`).
#[derive(Debug, Clone, Copy)]
pub struct CookieNames {
    pub session: &'static str,
    pub csrf: &'static str,
    pub path: &'static str,
}

impl CookieNames {
    fn name(base: &'static str, tls: bool) -> Cow<'static, str> {
        if tls {
            Cow::Owned(format!("__Host-{base}"))
        } else {
            Cow::Borrowed(base)
        }
    }

    fn path(&self, tls: bool) -> &'static str {
        if tls { "/" } else { self.path }
    }

    fn cookie(
        &self,
        base: &'static str,
        value: String,
        tls: bool,
        same_site: SameSite,
    ) -> Cookie<'static> {
        Cookie::build((Self::name(base, tls), value))
            .path(self.path(tls))
            .http_only(true)
            .secure(tls)
            .same_site(same_site)
            .build()
    }

    /// After a login: the session cookie, the pre-login CSRF cookie removed, and the
    /// session's CSRF token (new with every login).
    pub fn logged_in(
        &self,
        jar: CookieJar,
        session_token: String,
        tls: bool,
    ) -> (CookieJar, String) {
        let csrf = session_csrf(&session_token);
        let jar = jar
            .remove(
                Cookie::build((Self::name(self.csrf, tls), ""))
                    .path(self.path(tls))
                    .build(),
            )
            .add(self.cookie(self.session, session_token, tls, SameSite::Lax));
        (jar, csrf)
    }

    /// A cookie that removes the session cookie.
    pub fn session_removal(&self, tls: bool) -> Cookie<'static> {
        Cookie::build((Self::name(self.session, tls), ""))
            .path(self.path(tls))
            .build()
    }

    pub fn session_token(&self, jar: &CookieJar, tls: bool) -> Option<String> {
        jar.get(&Self::name(self.session, tls))
            .map(|c| c.value().to_string())
    }

    /// The request's CSRF token; before login a new one (and its cookie) when it has none.
    pub fn csrf_token(&self, jar: CookieJar, tls: bool) -> std::io::Result<(CookieJar, String)> {
        if let Some(value) = self.current_csrf(&jar, tls) {
            return Ok((jar, value));
        }
        let token = new_token()?;
        Ok((
            jar.add(self.cookie(self.csrf, token.clone(), tls, SameSite::Strict)),
            token,
        ))
    }

    /// The CSRF token a request must present: its session's, or before login (no session
    /// cookie) the one of its CSRF cookie.
    pub fn current_csrf(&self, jar: &CookieJar, tls: bool) -> Option<String> {
        if let Some(session) = self.session_token(jar, tls) {
            return Some(session_csrf(&session));
        }
        jar.get(&Self::name(self.csrf, tls))
            .filter(|c| c.value().len() >= 32)
            .map(|c| c.value().to_string())
    }

    /// Whether `presented` is the request's CSRF token (compared in constant time).
    pub fn csrf_ok(&self, jar: &CookieJar, tls: bool, presented: &str) -> bool {
        match self.current_csrf(jar, tls) {
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
    fn the_pre_login_csrf_token_is_kept_and_checked() {
        let (jar, token) = NAMES.csrf_token(CookieJar::new(), false).unwrap();
        let (jar, again) = NAMES.csrf_token(jar, false).unwrap();
        assert_eq!(token, again);
        assert!(NAMES.csrf_ok(&jar, false, &token));
        assert!(!NAMES.csrf_ok(&jar, false, "forged"));
        assert!(
            !NAMES.csrf_ok(&CookieJar::new(), false, ""),
            "no cookie, no pass"
        );
        let cookie = jar.get("c").unwrap();
        assert_eq!(
            (cookie.http_only(), cookie.same_site(), cookie.path()),
            (Some(true), Some(SameSite::Strict), Some("/x"))
        );
    }

    #[test]
    fn a_login_renews_the_csrf_token_and_binds_it_to_the_session() {
        let (jar, before) = NAMES.csrf_token(CookieJar::new(), false).unwrap();
        let (jar, after) = NAMES.logged_in(jar, "session-one".into(), false);
        assert_ne!(before, after);
        assert!(NAMES.csrf_ok(&jar, false, &after));
        assert!(
            !NAMES.csrf_ok(&jar, false, &before),
            "the pre-login token is void"
        );
        // Another session's token does not pass, and a new login gives a new one.
        let (other, other_csrf) = NAMES.logged_in(CookieJar::new(), "session-two".into(), false);
        assert!(!NAMES.csrf_ok(&jar, false, &other_csrf));
        assert!(NAMES.csrf_ok(&other, false, &other_csrf));
        assert_eq!(NAMES.current_csrf(&jar, false), Some(after));
    }

    #[test]
    fn over_tls_the_cookies_have_host_names() {
        let (jar, csrf) = NAMES.csrf_token(CookieJar::new(), true).unwrap();
        let cookie = jar.get("__Host-c").unwrap();
        assert_eq!(
            (cookie.secure(), cookie.path(), cookie.domain()),
            (Some(true), Some("/"), None)
        );
        assert!(jar.get("c").is_none());
        assert!(NAMES.csrf_ok(&jar, true, &csrf));
        assert!(
            !NAMES.csrf_ok(&jar, false, &csrf),
            "plain names are not read over TLS"
        );
        let (jar, _) = NAMES.logged_in(jar, "s1".into(), true);
        let session = jar.get("__Host-s").unwrap();
        assert_eq!((session.secure(), session.path()), (Some(true), Some("/")));
        assert_eq!(NAMES.session_token(&jar, true).as_deref(), Some("s1"));
        assert_eq!(NAMES.session_token(&jar, false), None);
    }
}
