//! The link tables of sent jobs, in `trk/data/jobs.sqlite`, held in memory as well: the
//! request path never reads the disk to find a link.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use axum::http::HeaderValue;
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
    /// Each link's `Location`, made once; `None` for a link whose target is merged per
    /// recipient (it comes in the token).
    pub locations: Vec<Option<HeaderValue>>,
}

impl Job {
    fn new(key: JobKey, registration: JobRegistration) -> Job {
        let locations = registration
            .links
            .iter()
            .map(|link| {
                (!link.merged)
                    .then(|| redirect_target(&link.url))
                    .flatten()
                    .and_then(|t| HeaderValue::from_str(&t).ok())
            })
            .collect();
        Job {
            key,
            registration,
            locations,
        }
    }
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

/// The `Location` for a link target, if it may be one: an absolute http(s) URL with a
/// host and no control characters, in its ASCII form (spaces and other characters
/// percent-encoded, an international host as punycode), as a header must be.
pub fn redirect_target(target: &str) -> Option<String> {
    if target.len() > MAX_URL_LEN || target.chars().any(char::is_control) {
        return None;
    }
    let url = url::Url::parse(target).ok()?;
    (matches!(url.scheme(), "http" | "https") && url.host().is_some()).then(|| url.into())
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
        if !link.merged && redirect_target(&link.url).is_none() {
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
            map.insert(id, Arc::new(Job::new(key, registration)));
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
        self.map
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, Arc::new(Job::new(key, reg)));
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
    fn targets_must_be_absolute_http_and_are_sent_as_ascii() {
        let target = |t: &str| redirect_target(t);
        assert_eq!(
            target("https://shop.example/sale?x=1").as_deref(),
            Some("https://shop.example/sale?x=1")
        );
        assert_eq!(
            target("HTTP://shop.example").as_deref(),
            Some("http://shop.example/")
        );
        assert_eq!(target("javascript:alert(1)"), None);
        assert_eq!(target("//evil.example"), None);
        assert_eq!(target("http://"), None);
        assert_eq!(target("https://shop.example/a\nLocation: x"), None);
        assert_eq!(target("mailto:a@shop.example"), None);
        // A value merged into a link may hold spaces and any script: the browser gets
        // them percent-encoded, and a host in its ASCII form.
        assert_eq!(
            target("https://bücher.example/über uns?name=Иван Петров").as_deref(),
            Some(
                "https://xn--bcher-kva.example/%C3%BCber%20uns?name=%D0%98%D0%B2%D0%B0%D0%BD%20%D0%9F%D0%B5%D1%82%D1%80%D0%BE%D0%B2"
            )
        );
    }
}
