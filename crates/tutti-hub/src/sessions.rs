//! Console and API sessions, kept in `hub/hubreg` so a restart logs nobody out. The cookie
//! holds a random token; the database holds only its SHA-256, so a copy of the database
//! opens no session.

use chrono::{DateTime, Duration, Utc};
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};
use tutti_core::web::{new_token, token_hash};

use tutti_core::sqlite::Db;

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY,
    principal  TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_seen  TEXT NOT NULL
);";

/// A session ends after this long without a request...
pub const IDLE_LIMIT: Duration = Duration::hours(2);
/// ...and in any case this long after login.
pub const ABSOLUTE_LIMIT: Duration = Duration::hours(12);

/// Who a session belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Principal {
    Admin,
    User { account_id: i64 },
}

#[derive(Clone)]
pub struct Sessions {
    db: Db,
}

impl Sessions {
    pub fn new(db: Db) -> Sessions {
        Sessions { db }
    }

    /// Starts a session; returns its token for the cookie.
    pub async fn create(&self, principal: Principal) -> anyhow::Result<String> {
        let token = new_token()?;
        let (hash, text) = (token_hash(&token), serde_json::to_string(&principal)?);
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

    /// The session's principal, if the token is valid and not expired; refreshes its
    /// last use.
    pub async fn get(&self, token: &str) -> anyhow::Result<Option<Principal>> {
        let hash = token_hash(token);
        let row = self
            .db
            .run({
                let hash = hash.clone();
                move |conn| {
                    conn.query_row("SELECT principal, created_at, last_seen FROM sessions WHERE token_hash = ?1", [hash], |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?))
                    })
                    .optional()
                }
            })
            .await?;
        let Some((principal, created, last)) = row else {
            return Ok(None);
        };
        let parse = |s: &str| DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc));
        let now = Utc::now();
        if now - parse(&created)? > ABSOLUTE_LIMIT || now - parse(&last)? > IDLE_LIMIT {
            self.delete(token).await?;
            return Ok(None);
        }
        if now - parse(&last)? > Duration::minutes(1) {
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

    /// Ends every session of `principal` but the one with `keep` (after a password change,
    /// a disabled or deleted account).
    pub async fn end_all(&self, principal: Principal, keep: Option<&str>) -> anyhow::Result<()> {
        let text = serde_json::to_string(&principal)?;
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
