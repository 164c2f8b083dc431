//! The RemoteAdminPasswords the administrator typed on the console's Logs page, kept in the
//! Hub's memory for the session that typed them, so that the page's later forms (the log
//! level, each download) name only the component: a password never goes back to the
//! browser. One is forgotten after [`IDLE`] without use, when the component refuses it, at
//! logout, and when the Hub stops; the administrator then types it again.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a password is kept without being used.
pub const IDLE: Duration = Duration::from_secs(30 * 60);

#[derive(Default)]
pub struct RemoteKeys {
    /// By (session token digest, component instance id): the password and its last use.
    keys: Mutex<HashMap<(String, String), (String, Instant)>>,
}

fn session_key(session: &str) -> String {
    tutti_core::web::token_hash(session)
}

impl RemoteKeys {
    fn keys(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), (String, Instant)>> {
        // Every change is one insert or remove: a panic elsewhere leaves nothing half done.
        self.keys.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps the password `session` opened the component `instance` with.
    pub fn remember(&self, session: &str, instance: &str, password: String) {
        let now = Instant::now();
        let mut keys = self.keys();
        keys.retain(|_, (_, used)| now.duration_since(*used) < IDLE);
        keys.insert(
            (session_key(session), instance.to_string()),
            (password, now),
        );
    }

    /// The password `session` opened `instance` with, if it is still kept.
    pub fn get(&self, session: &str, instance: &str) -> Option<String> {
        self.get_at(session, instance, Instant::now())
    }

    fn get_at(&self, session: &str, instance: &str, now: Instant) -> Option<String> {
        let key = (session_key(session), instance.to_string());
        let mut keys = self.keys();
        match keys.get_mut(&key) {
            Some((password, used)) if now.duration_since(*used) < IDLE => {
                *used = now;
                Some(password.clone())
            }
            Some(_) => {
                keys.remove(&key);
                None
            }
            None => None,
        }
    }

    /// Forgets what `session` opened `instance` with (the component refused it).
    pub fn forget(&self, session: &str, instance: &str) {
        self.keys()
            .remove(&(session_key(session), instance.to_string()));
    }

    /// Forgets every password of `session` (it logged out).
    pub fn forget_session(&self, session: &str) {
        let session = session_key(session);
        self.keys().retain(|(s, _), _| *s != session);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_is_kept_for_its_session_and_component_only() {
        let keys = RemoteKeys::default();
        keys.remember("session-a", "trk-1", "pw".into());
        assert_eq!(keys.get("session-a", "trk-1").as_deref(), Some("pw"));
        assert_eq!(keys.get("session-b", "trk-1"), None);
        assert_eq!(keys.get("session-a", "mailer-1"), None);
        keys.forget("session-a", "trk-1");
        assert_eq!(keys.get("session-a", "trk-1"), None);
    }

    #[test]
    fn logging_out_forgets_every_password_of_the_session() {
        let keys = RemoteKeys::default();
        keys.remember("session-a", "trk-1", "pw".into());
        keys.remember("session-a", "mailer-1", "pw2".into());
        keys.remember("session-b", "trk-1", "pw3".into());
        keys.forget_session("session-a");
        assert_eq!(keys.get("session-a", "trk-1"), None);
        assert_eq!(keys.get("session-a", "mailer-1"), None);
        assert_eq!(keys.get("session-b", "trk-1").as_deref(), Some("pw3"));
    }

    #[test]
    fn a_password_unused_for_the_idle_time_is_forgotten_and_use_keeps_it() {
        let keys = RemoteKeys::default();
        keys.remember("s", "trk-1", "pw".into());
        let start = Instant::now();
        let almost = start + IDLE - Duration::from_secs(1);
        assert!(keys.get_at("s", "trk-1", almost).is_some());
        // Used just now: kept for another IDLE from here.
        assert!(
            keys.get_at("s", "trk-1", almost + IDLE - Duration::from_secs(1))
                .is_some()
        );
        let later = almost + IDLE - Duration::from_secs(1) + IDLE;
        assert_eq!(keys.get_at("s", "trk-1", later), None);
    }
}
