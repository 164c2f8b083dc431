//! The link tables of sent jobs, in `trk/data/jobs.sqlite`, held in memory as well: the
//! request path never reads the disk to find a link.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use rusqlite::params;
use tutti_core::api::JobRegistration;
use tutti_core::sqlite::Db;
use tutti_core::token::{JobKey, valid_job_id};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS jobs (
    id            TEXT PRIMARY KEY,
    registration  TEXT NOT NULL,
    registered_at TEXT NOT NULL
);";

/// Most links one job may have.
pub const MAX_LINKS: usize = 10_000;
/// Longest link target.
pub const MAX_URL_LEN: usize = 4096;

/// A registered job, ready for the request path.
pub struct Job {
    pub key: JobKey,
    pub registration: JobRegistration,
}

#[derive(Clone)]
pub struct Jobs {
    db: Db,
    map: Arc<RwLock<HashMap<String, Arc<Job>>>>,
}

/// How a registration went.
pub enum Registered {
    New,
    Same,
}

/// Whether `url` may be a redirect target: an absolute http(s) URL without spaces.
pub fn valid_target(url: &str) -> bool {
    let lower = url
        .get(..8)
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    (lower.starts_with("http://") || lower.starts_with("https://"))
        && url.len() <= MAX_URL_LEN
        && url.len() > "http://".len()
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn check(id: &str, reg: &JobRegistration) -> Result<JobKey, String> {
    if !valid_job_id(id) {
        return Err("the job id must be 1 to 64 letters, digits, '_', '.' or '-'".into());
    }
    let key = JobKey::from_base64(&reg.key)?;
    if reg.links.len() > MAX_LINKS {
        return Err(format!("a job may have at most {MAX_LINKS} links"));
    }
    for (i, link) in reg.links.iter().enumerate() {
        if !link.merged && !valid_target(&link.url) {
            return Err(format!(
                "link {i}: \"{}\" is not an absolute http or https URL",
                link.url.chars().take(200).collect::<String>()
            ));
        }
        if link.url.len() > MAX_URL_LEN {
            return Err(format!("link {i}: longer than {MAX_URL_LEN} characters"));
        }
    }
    Ok(key)
}

impl Jobs {
    pub async fn open(path: &std::path::Path) -> anyhow::Result<Jobs> {
        let db = Db::open(path, &[SCHEMA]).await?;
        let rows = db
            .run(|conn| {
                let mut stmt = conn.prepare("SELECT id, registration FROM jobs")?;
                let rows =
                    stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?;
        let mut map = HashMap::new();
        for (id, text) in rows {
            let registration: JobRegistration = serde_json::from_str(&text)?;
            let key = JobKey::from_base64(&registration.key).map_err(anyhow::Error::msg)?;
            map.insert(id, Arc::new(Job { key, registration }));
        }
        tracing::info!("{} job link tables loaded", map.len());
        Ok(Jobs {
            db,
            map: Arc::new(RwLock::new(map)),
        })
    }

    pub fn get(&self, id: &str) -> Option<Arc<Job>> {
        self.map
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
    }

    /// Stores a job's link table durably before answering; registering the same table
    /// again is fine, a different one for the same job is refused (links already sent must
    /// keep their meaning).
    pub async fn register(
        &self,
        id: String,
        reg: JobRegistration,
    ) -> Result<Registered, RegisterError> {
        let key = check(&id, &reg).map_err(RegisterError::Invalid)?;
        if let Some(existing) = self.get(&id) {
            return if existing.registration == reg {
                Ok(Registered::Same)
            } else {
                Err(RegisterError::Conflict(format!(
                    "job {id} is registered with another key or link table; links already sent must keep their meaning"
                )))
            };
        }
        let text = serde_json::to_string(&reg).map_err(|e| RegisterError::Failed(e.to_string()))?;
        let db_id = id.clone();
        self.db
            .run(move |conn| {
                conn.execute(
                    "INSERT INTO jobs (id, registration, registered_at) VALUES (?1, ?2, ?3) ON CONFLICT (id) DO NOTHING",
                    params![db_id, text, chrono::Utc::now().to_rfc3339()],
                )
            })
            .await
            .map_err(|e| RegisterError::Failed(e.to_string()))?;
        self.map.write().unwrap_or_else(|p| p.into_inner()).insert(
            id,
            Arc::new(Job {
                key,
                registration: reg,
            }),
        );
        Ok(Registered::New)
    }
}

pub enum RegisterError {
    Invalid(String),
    Conflict(String),
    Failed(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_must_be_absolute_http() {
        assert!(valid_target("https://shop.example/sale?x=1"));
        assert!(valid_target("HTTP://shop.example"));
        assert!(!valid_target("javascript:alert(1)"));
        assert!(!valid_target("//evil.example"));
        assert!(!valid_target("https://shop.example/a b"));
        assert!(!valid_target("http://"));
    }
}
