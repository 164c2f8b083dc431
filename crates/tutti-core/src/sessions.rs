//! Login sessions kept in a component's SQLite database, so a restart logs nobody out. The
//! cookie holds a random token; the table holds only its SHA-256. A session ends after
//! [`IDLE_LIMIT`] without a request, and in any case [`ABSOLUTE_LIMIT`] after login.

use chrono::{DateTime, Duration, Utc};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::sqlite::Db;
use crate::web::{new_token, token_hash};

pub const IDLE_LIMIT: Duration = Duration::hours(2);
pub const ABSOLUTE_LIMIT: Duration = Duration::hours(12);

/// The table; add it to the schema of the database the store uses.
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY,
    principal  TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_seen  TEXT NOT NULL
);";

/// Sessions whose owner is a `P` (stored as JSON).
#[derive(Clone)]
pub struct SessionStore {
    db: Db,
}

fn parse_time(s: &str) -> anyhow::Result<DateTime<Utc>> {
    Ok(DateTime::parse_from_rfc3339(s)?.with_timezone(&Utc))
}

impl SessionStore {
    pub fn new(db: Db) -> SessionStore {
        SessionStore { db }
    }

    /// Starts a session; returns its token for the cookie.
    pub async fn create<P: Serialize>(&self, principal: &P) -> anyhow::Result<String> {
        let token = new_token()?;
        let (hash, text) = (token_hash(&token), serde_json::to_string(principal)?);
        self.db
            .run(move |conn| {
                let now = Utc::now().to_rfc3339();
                conn.execute(
                    "INSERT INTO sessions (token_hash, principal, created_at, last_seen) VALUES (?1, ?2, ?3, ?3)",
                    params![hash, text, now],
                )
            })
            .await?;
        Ok(token)
    }

    /// The owner of a valid, unexpired session; refreshes its last use.
    pub async fn get<P: DeserializeOwned>(&self, token: &str) -> anyhow::Result<Option<P>> {
        let hash = token_hash(token);
        let key = hash.clone();
        let row = self
            .db
            .run(move |conn| {
                conn.query_row(
                    "SELECT principal, created_at, last_seen FROM sessions WHERE token_hash = ?1",
                    [key],
                    |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                        ))
                    },
                )
                .optional()
            })
            .await?;
        let Some((principal, created, last)) = row else {
            return Ok(None);
        };
        let now = Utc::now();
        let idle = now - parse_time(&last)?;
        if now - parse_time(&created)? > ABSOLUTE_LIMIT || idle > IDLE_LIMIT {
            self.delete(token).await?;
            return Ok(None);
        }
        if idle > Duration::minutes(1) {
            self.db
                .run(move |conn| {
                    conn.execute(
                        "UPDATE sessions SET last_seen = ?1 WHERE token_hash = ?2",
                        params![now.to_rfc3339(), hash],
                    )
                })
                .await?;
        }
        Ok(Some(serde_json::from_str(&principal)?))
    }

    pub async fn delete(&self, token: &str) -> anyhow::Result<()> {
        let hash = token_hash(token);
        self.db
            .run(move |conn| conn.execute("DELETE FROM sessions WHERE token_hash = ?1", [hash]))
            .await?;
        Ok(())
    }

    /// Ends every session of `principal` but the one with token `keep`.
    pub async fn end_all<P: Serialize>(
        &self,
        principal: &P,
        keep: Option<&str>,
    ) -> anyhow::Result<()> {
        let text = serde_json::to_string(principal)?;
        let keep = keep.map(token_hash).unwrap_or_default();
        self.db
            .run(move |conn| {
                conn.execute(
                    "DELETE FROM sessions WHERE principal = ?1 AND token_hash <> ?2",
                    params![text, keep],
                )
            })
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sessions_start_end_and_end_together() {
        let dir = tempfile::tempdir().unwrap();
        let store = SessionStore::new(
            Db::open(&dir.path().join("s.sqlite"), &[SCHEMA])
                .await
                .unwrap(),
        );
        let a = store.create(&"anna").await.unwrap();
        let b = store.create(&"anna").await.unwrap();
        let c = store.create(&"bob").await.unwrap();
        assert_eq!(
            store.get::<String>(&a).await.unwrap().as_deref(),
            Some("anna")
        );
        assert!(store.get::<String>("forged").await.unwrap().is_none());
        store.end_all(&"anna", Some(&b)).await.unwrap();
        assert!(store.get::<String>(&a).await.unwrap().is_none());
        assert!(
            store.get::<String>(&b).await.unwrap().is_some(),
            "the kept one stays"
        );
        store.delete(&c).await.unwrap();
        assert!(store.get::<String>(&c).await.unwrap().is_none());
    }
}
