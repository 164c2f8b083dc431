//! The audit log: every administrative change, who made it and when. Kept in `hub/hubreg`.

use chrono::{DateTime, Utc};
use rusqlite::params;
use serde::Serialize;
use utoipa::ToSchema;

use tutti_core::sqlite::Db;

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS audit (
    id      INTEGER PRIMARY KEY,
    at      TEXT NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    target  TEXT NOT NULL,
    details TEXT NOT NULL
);";

/// The actor of a call made with the ClusterSecret (`tutti backup`, scripts).
pub const CLUSTER_SECRET: &str = "cluster secret";

/// One administrative change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    /// `admin`, the account (`user` or `user/group`) that made the change, or
    /// `cluster secret` for a call made with the ClusterSecret.
    pub actor: String,
    /// e.g. `account.create`, `settings.global`, `log.level`, `backup.run`,
    /// `component.forget`.
    pub action: String,
    pub target: String,
    pub details: String,
}

#[derive(Clone)]
pub struct Audit {
    db: Db,
}

impl Audit {
    pub fn new(db: Db) -> Audit {
        Audit { db }
    }

    pub async fn record(
        &self,
        actor: &str,
        action: &str,
        target: &str,
        details: &str,
    ) -> anyhow::Result<()> {
        let values = (
            actor.to_string(),
            action.to_string(),
            target.to_string(),
            details.to_string(),
        );
        tracing::info!("audit: {} {} {} {}", values.0, values.1, values.2, values.3);
        self.db
            .run(move |conn| {
                conn.execute(
                    "INSERT INTO audit (at, actor, action, target, details) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![Utc::now().to_rfc3339(), values.0, values.1, values.2, values.3],
                )
            })
            .await?;
        Ok(())
    }

    /// Newest first, one page; and the number of entries.
    pub async fn list(&self, offset: i64, limit: i64) -> anyhow::Result<(Vec<AuditEntry>, i64)> {
        let (rows, total) = self
            .db
            .run(move |conn| {
                let total: i64 = conn.query_row("SELECT count(*) FROM audit", [], |r| r.get(0))?;
                let mut stmt = conn.prepare("SELECT id, at, actor, action, target, details FROM audit ORDER BY id DESC LIMIT ?1 OFFSET ?2")?;
                let rows = stmt
                    .query_map(params![limit, offset], |r| {
                        Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                Ok((rows, total))
            })
            .await?;
        let entries = rows
            .into_iter()
            .map(|(id, at, actor, action, target, details)| {
                Ok(AuditEntry {
                    id,
                    at: DateTime::parse_from_rfc3339(&at)?.with_timezone(&Utc),
                    actor,
                    action,
                    target,
                    details,
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok((entries, total))
    }
}
