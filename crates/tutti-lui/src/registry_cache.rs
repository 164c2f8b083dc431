//! `lui/registry/registry.sqlite`: what the User Interface read from the Hub, so that
//! people who logged in here before can log in and work while the Hub is down.
//!
//! Per account it keeps the Hub's answer (rights, effective settings) and a hash of the
//! password made here at the last successful online login (the Hub's own hash never leaves
//! the Hub). A refresher keeps entries current while the Hub is reachable: it notices every
//! change within [`REFRESH_INTERVAL`], drops deleted or disabled accounts, and forgets a
//! cached password when the Hub says the password changed. While the Hub is unreachable
//! the cache is as old as the outage.
//!
//! Sessions of the User Interface are kept here too.

use std::time::Duration;

use chrono::Utc;
use rusqlite::{OptionalExtension, params};
use tutti_core::api::AccountInfo;
use tutti_core::sessions::SessionStore;
use tutti_core::sqlite::Db;

/// How often the refresher asks the Hub whether anything changed.
pub const REFRESH_INTERVAL: Duration = Duration::from_secs(2);

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS accounts (
    id            INTEGER PRIMARY KEY,
    login_key     TEXT NOT NULL UNIQUE,
    info          TEXT NOT NULL,
    password_hash TEXT,
    fetched_at    TEXT NOT NULL
);
";

/// `user/group` in lower case: how logins are looked up.
pub fn login_key(user_name: &str, group_name: &str) -> String {
    format!(
        "{}/{}",
        user_name.trim().to_lowercase(),
        group_name.trim().to_lowercase()
    )
}

/// Who a session is: an account (by Hub id) or the special `admin` login.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum SessionWho {
    Admin,
    User { account_id: i64 },
}

/// The owner of a User Interface session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct LuiPrincipal {
    who: SessionWho,
    /// The login was checked against this cache because the Hub could not be reached.
    offline: bool,
}

#[derive(Clone)]
pub struct RegistryCache {
    db: Db,
    sessions: SessionStore,
}

impl RegistryCache {
    pub async fn open(path: &std::path::Path) -> anyhow::Result<RegistryCache> {
        let db = Db::open(path, &[SCHEMA, tutti_core::sessions::SCHEMA]).await?;
        Ok(RegistryCache {
            sessions: SessionStore::new(db.clone()),
            db,
        })
    }

    /// Stores the Hub's answer for a successful online login, with a hash of the password.
    pub async fn remember(&self, info: &AccountInfo, password_hash: String) -> anyhow::Result<()> {
        let key = login_key(&info.user_name, info.group_name.as_deref().unwrap_or(""));
        let (id, text) = (info.id, serde_json::to_string(info)?);
        self.db
            .run(move |conn| {
                // A renamed account keeps its id; a new account may take an old login name.
                conn.execute("DELETE FROM accounts WHERE login_key = ?1 AND id <> ?2", params![key, id])?;
                conn.execute(
                    "INSERT INTO accounts (id, login_key, info, password_hash, fetched_at) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (id) DO UPDATE SET login_key = excluded.login_key, info = excluded.info,
                       password_hash = excluded.password_hash, fetched_at = excluded.fetched_at",
                    params![id, key, text, password_hash, Utc::now().to_rfc3339()],
                )
            })
            .await?;
        Ok(())
    }

    /// The cached account for a login, and the cached password hash if there is one.
    pub async fn lookup(
        &self,
        user_name: &str,
        group_name: &str,
    ) -> anyhow::Result<Option<(AccountInfo, Option<String>)>> {
        let key = login_key(user_name, group_name);
        let row = self
            .db
            .run(move |conn| {
                conn.query_row(
                    "SELECT info, password_hash FROM accounts WHERE login_key = ?1",
                    [key],
                    |r| Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?)),
                )
                .optional()
            })
            .await?;
        row.map(|(info, hash)| Ok((serde_json::from_str(&info)?, hash)))
            .transpose()
    }

    pub async fn account(&self, id: i64) -> anyhow::Result<Option<AccountInfo>> {
        let row = self
            .db
            .run(move |conn| {
                conn.query_row("SELECT info FROM accounts WHERE id = ?1", [id], |r| {
                    r.get::<_, String>(0)
                })
                .optional()
            })
            .await?;
        row.map(|info| Ok(serde_json::from_str(&info)?)).transpose()
    }

    pub async fn account_ids(&self) -> anyhow::Result<Vec<i64>> {
        self.db
            .run(|conn| {
                let mut stmt = conn.prepare("SELECT id FROM accounts")?;
                let ids = stmt
                    .query_map([], |r| r.get(0))?
                    .collect::<rusqlite::Result<Vec<i64>>>()?;
                Ok(ids)
            })
            .await
    }

    /// Replaces an account's information; forgets its cached password when the Hub's
    /// password stamp changed.
    pub async fn refresh(&self, info: &AccountInfo) -> anyhow::Result<()> {
        let Some(old) = self.account(info.id).await? else {
            return Ok(());
        };
        let password_changed = old.password_stamp != info.password_stamp;
        let key = login_key(&info.user_name, info.group_name.as_deref().unwrap_or(""));
        let (id, text) = (info.id, serde_json::to_string(info)?);
        self.db
            .run(move |conn| {
                conn.execute(
                    "DELETE FROM accounts WHERE login_key = ?1 AND id <> ?2",
                    params![key, id],
                )?;
                conn.execute(
                    "UPDATE accounts SET login_key = ?1, info = ?2, fetched_at = ?3,
                       password_hash = CASE WHEN ?4 THEN NULL ELSE password_hash END
                     WHERE id = ?5",
                    params![key, text, Utc::now().to_rfc3339(), password_changed, id],
                )
            })
            .await?;
        if password_changed {
            self.end_sessions(SessionWho::User {
                account_id: info.id,
            })
            .await?;
        }
        Ok(())
    }

    /// Forgets an account the Hub no longer has (deleted or disabled), and ends its sessions.
    pub async fn forget(&self, id: i64) -> anyhow::Result<()> {
        self.db
            .run(move |conn| conn.execute("DELETE FROM accounts WHERE id = ?1", [id]))
            .await?;
        self.end_sessions(SessionWho::User { account_id: id }).await
    }

    pub async fn version(&self) -> anyhow::Result<Option<i64>> {
        self.db
            .run(|conn| {
                conn.query_row(
                    "SELECT value FROM meta WHERE key = 'hub_version'",
                    [],
                    |r| r.get::<_, String>(0),
                )
                .optional()
                .map(|v| v.and_then(|v| v.parse().ok()))
            })
            .await
    }

    pub async fn set_version(&self, version: i64) -> anyhow::Result<()> {
        self.db
            .run(move |conn| {
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('hub_version', ?1) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    [version.to_string()],
                )
            })
            .await?;
        Ok(())
    }

    pub async fn create_session(&self, who: SessionWho, offline: bool) -> anyhow::Result<String> {
        self.sessions.create(&LuiPrincipal { who, offline }).await
    }

    /// The session's owner and whether it began while the Hub was unreachable.
    pub async fn session(&self, token: &str) -> anyhow::Result<Option<(SessionWho, bool)>> {
        Ok(self
            .sessions
            .get::<LuiPrincipal>(token)
            .await?
            .map(|p| (p.who, p.offline)))
    }

    pub async fn end_session(&self, token: &str) -> anyhow::Result<()> {
        self.sessions.delete(token).await
    }

    async fn end_sessions(&self, who: SessionWho) -> anyhow::Result<()> {
        for offline in [false, true] {
            self.sessions
                .end_all(&LuiPrincipal { who, offline }, None)
                .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tutti_core::settings::EffectiveSettings;

    fn info(id: i64, user: &str, stamp: &str) -> AccountInfo {
        AccountInfo {
            id,
            user_name: user.into(),
            group_id: Some(1),
            group_name: Some("Sales".into()),
            rights: vec![],
            can_change_password: true,
            settings: EffectiveSettings::default(),
            password_stamp: stamp.into(),
        }
    }

    #[tokio::test]
    async fn a_password_change_at_the_hub_forgets_the_cached_password_and_sessions() {
        let dir = tempfile::tempdir().unwrap();
        let cache = RegistryCache::open(&dir.path().join("registry.sqlite"))
            .await
            .unwrap();
        cache
            .remember(&info(7, "Anna", "s1"), "hash".into())
            .await
            .unwrap();
        let token = cache
            .create_session(SessionWho::User { account_id: 7 }, false)
            .await
            .unwrap();
        let (_, hash) = cache.lookup("ANNA", "sales").await.unwrap().unwrap();
        assert_eq!(hash.as_deref(), Some("hash"));
        cache.refresh(&info(7, "Anna", "s1")).await.unwrap();
        assert!(
            cache
                .lookup("anna", "Sales")
                .await
                .unwrap()
                .unwrap()
                .1
                .is_some(),
            "same stamp keeps it"
        );
        cache.refresh(&info(7, "Anna", "s2")).await.unwrap();
        assert!(
            cache
                .lookup("anna", "Sales")
                .await
                .unwrap()
                .unwrap()
                .1
                .is_none()
        );
        assert!(cache.session(&token).await.unwrap().is_none());
        cache.forget(7).await.unwrap();
        assert!(cache.lookup("anna", "sales").await.unwrap().is_none());
    }
}
