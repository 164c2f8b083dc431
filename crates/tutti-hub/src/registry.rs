//! The Hub's registry of components, in `hub/hubreg/hubreg.sqlite` (SQLite, WAL, synchronous
//! FULL: what was answered survives `kill -9` and power loss).

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use tutti_core::Component;
use tutti_core::hostport::{HostPort, Scheme};

use tutti_core::sqlite::Db;

/// One known component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    pub component: Component,
    pub instance_id: String,
    pub address: HostPort,
    pub version: String,
    pub started_at: DateTime<Utc>,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
}

/// The component registry, a table of `hub/hubreg/hubreg.sqlite`.
#[derive(Clone)]
pub struct Registry {
    db: Db,
}

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS components (
    instance_id TEXT PRIMARY KEY,
    component   TEXT NOT NULL,
    scheme      TEXT NOT NULL,
    host        TEXT NOT NULL,
    port        INTEGER NOT NULL,
    version     TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    first_seen  TEXT NOT NULL,
    last_seen   TEXT NOT NULL
);";

impl Registry {
    pub fn new(db: Db) -> Registry {
        Registry { db }
    }

    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        self.db.run(move |conn| f(conn)).await
    }

    /// Records that `instance_id` runs at `address` now; keeps its first sighting.
    pub async fn upsert(
        &self,
        component: Component,
        instance_id: String,
        address: HostPort,
        version: String,
        started_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        self.with(move |conn| {
            conn.execute(
                "INSERT INTO components (instance_id, component, scheme, host, port, version, started_at, first_seen, last_seen)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)
                 ON CONFLICT (instance_id) DO UPDATE SET
                   component = excluded.component, scheme = excluded.scheme, host = excluded.host,
                   port = excluded.port, version = excluded.version, started_at = excluded.started_at,
                   last_seen = excluded.last_seen",
                params![
                    instance_id,
                    component.name(),
                    address.scheme.as_str(),
                    address.host,
                    address.port,
                    version,
                    started_at.to_rfc3339(),
                    now.to_rfc3339()
                ],
            )
            .map(drop)
        })
        .await
    }

    pub async fn all(&self) -> anyhow::Result<Vec<Known>> {
        let rows = self
            .with(|conn| {
                let mut stmt = conn.prepare(
                    "SELECT component, instance_id, scheme, host, port, version, started_at, first_seen, last_seen
                     FROM components ORDER BY component, first_seen",
                )?;
                let rows = stmt.query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, u16>(4)?,
                        r.get::<_, String>(5)?,
                        [r.get::<_, String>(6)?, r.get::<_, String>(7)?, r.get::<_, String>(8)?],
                    ))
                })?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?;
        rows.into_iter()
            .map(
                |(component, instance_id, scheme, host, port, version, times)| {
                    let time = |s: &str| -> anyhow::Result<DateTime<Utc>> {
                        Ok(DateTime::parse_from_rfc3339(s)?.with_timezone(&Utc))
                    };
                    let scheme = if scheme == "https" {
                        Scheme::Https
                    } else {
                        Scheme::Http
                    };
                    Ok(Known {
                        component: component.parse().map_err(anyhow::Error::msg)?,
                        instance_id,
                        address: HostPort::new(scheme, host, port),
                        version,
                        started_at: time(&times[0])?,
                        first_seen: time(&times[1])?,
                        last_seen: time(&times[2])?,
                    })
                },
            )
            .collect()
    }

    /// Removes a component from the registry; false if it was not there.
    pub async fn forget(&self, instance_id: String) -> anyhow::Result<bool> {
        self.with(move |conn| {
            conn.execute(
                "DELETE FROM components WHERE instance_id = ?1",
                [instance_id],
            )
        })
        .await
        .map(|n| n > 0)
    }

    /// Whether `instance_id` is known.
    pub async fn contains(&self, instance_id: String) -> anyhow::Result<bool> {
        self.with(move |conn| {
            conn.query_row(
                "SELECT 1 FROM components WHERE instance_id = ?1",
                [instance_id],
                |_| Ok(()),
            )
            .optional()
            .map(|r| r.is_some())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn upsert_keeps_first_seen_and_moves_the_address() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hubreg.sqlite");
        let reg = Registry::new(Db::open(&path, &[SCHEMA]).await.unwrap());
        let t0 = Utc::now();
        let t1 = t0 + chrono::Duration::seconds(30);
        let id = "0123456789abcdef0123456789abcdef".to_string();
        let old = HostPort::new(Scheme::Http, "127.0.0.4", 8080);
        let new = HostPort::new(Scheme::Http, "127.0.0.7", 9090);
        reg.upsert(Component::Trk, id.clone(), old, "0.1.0".into(), t0, t0)
            .await
            .unwrap();
        reg.upsert(
            Component::Trk,
            id.clone(),
            new.clone(),
            "0.1.0".into(),
            t1,
            t1,
        )
        .await
        .unwrap();
        let all = reg.all().await.unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].address, new);
        assert_eq!(all[0].first_seen.timestamp(), t0.timestamp());
        assert_eq!(all[0].last_seen.timestamp(), t1.timestamp());
        drop(reg);
        let reopened = Registry::new(Db::open(&path, &[SCHEMA]).await.unwrap());
        assert!(reopened.contains(id.clone()).await.unwrap());
        assert!(reopened.forget(id.clone()).await.unwrap());
        assert!(!reopened.forget(id).await.unwrap());
    }
}
