//! Backups of the whole installation at one point: the Hub asks every component it knows
//! of (itself included) to snapshot its files now, all at once, writes a report per backup
//! (`hub/log/backupReport_<ID>.txt`: per component, success or the error) and runs
//! `BackupCommand`. Daily at `BackupTime`, and on demand from the console's Backups page
//! and `tutti backup --root DIR` (through the registry API).

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::task::JoinSet;
use tracing::Instrument;
use tutti_core::Component;
use tutti_core::backup::{BackupRequest, Snapshot, new_id, snapshot};
use tutti_core::config::HubConfig;
use tutti_core::http_error::ApiError;
use tutti_core::runtime::component_span;

use crate::HubState;

/// How long one component may take to write its snapshot.
const SNAPSHOT_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// One component's part of a backup.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ComponentBackup {
    pub component: Component,
    pub instance_id: String,
    pub url: String,
    pub snapshot: Option<Snapshot>,
    /// Why there is no snapshot.
    pub error: Option<String>,
}

/// `POST /hub/api/backups` (cluster secret) and the console's Backups page.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackupReport {
    pub id: String,
    pub started: DateTime<Utc>,
    pub finished: DateTime<Utc>,
    pub components: Vec<ComponentBackup>,
    /// Where the report is, on the Hub's server.
    pub report_file: String,
    /// How `BackupCommand` ended, if there is one.
    pub command: Option<String>,
}

impl BackupReport {
    pub fn ok(&self) -> bool {
        self.components.iter().all(|c| c.error.is_none())
    }

    fn text(&self) -> String {
        let mut t = format!(
            "Tutti backup {}\nstarted  {}\nfinished {}\n\n",
            self.id,
            self.started.format("%Y-%m-%d %H:%M:%S UTC"),
            self.finished.format("%Y-%m-%d %H:%M:%S UTC")
        );
        for c in &self.components {
            let _ = write!(
                t,
                "{:<20} {} {}\n    ",
                c.component.title(),
                c.instance_id,
                c.url
            );
            match (&c.snapshot, &c.error) {
                (Some(s), _) => {
                    let _ = writeln!(
                        t,
                        "OK: {} databases and {} files, {} bytes, in {}",
                        s.databases, s.files, s.bytes, s.folder
                    );
                    if !s.deleted.is_empty() {
                        let _ = writeln!(t, "    deleted older backups: {}", s.deleted.join(", "));
                    }
                }
                (None, error) => {
                    let _ = writeln!(t, "FAILED: {}", error.as_deref().unwrap_or("unknown"));
                }
            }
        }
        let failed = self.components.iter().filter(|c| c.error.is_some()).count();
        let _ = writeln!(
            t,
            "\n{}",
            if failed == 0 && self.components.len() == 1 {
                "The one component is backed up.".to_string()
            } else if failed == 0 {
                format!("All {} components are backed up.", self.components.len())
            } else {
                format!("{failed} of {} components FAILED.", self.components.len())
            }
        );
        if let Some(command) = &self.command {
            let _ = writeln!(t, "BackupCommand: {command}");
        }
        t
    }
}

/// Backs up every component now. One backup at a time: a second waits for the first.
pub async fn run(state: &Arc<HubState>) -> Result<BackupReport, ApiError> {
    let mut last = state.backup_lock.lock().await;
    let config = &state.backup;
    // Ids are seconds: a backup right after another waits for the next one.
    let mut id = new_id();
    while id <= *last {
        tokio::time::sleep(Duration::from_millis(100)).await;
        id = new_id();
    }
    last.clone_from(&id);
    let started = Utc::now();
    tracing::info!("backup {id} starts");
    let list = state.component_list().await?;
    let mut tasks = JoinSet::new();
    for entry in list.components {
        let (state, id, keep) = (state.clone(), id.clone(), config.backup_keep);
        tasks.spawn(async move {
            let result = if entry.component == Component::Hub
                && entry.instance_id == state.ctx.instance_id
            {
                let root = state.ctx.root.clone();
                let id = id.clone();
                tokio::task::spawn_blocking(move || snapshot(&root, Component::Hub, &id, keep))
                    .await
                    .map_err(|e| e.to_string())
                    .and_then(|r| r)
            } else {
                remote(&state, &entry.url, &id, keep).await
            };
            let (snapshot, error) = match result {
                Ok(s) => (Some(s), None),
                Err(e) => (None, Some(e)),
            };
            ComponentBackup {
                component: entry.component,
                instance_id: entry.instance_id,
                url: entry.url,
                snapshot,
                error,
            }
        });
    }
    let mut components = Vec::new();
    while let Some(done) = tasks.join_next().await {
        components.push(done.map_err(|e| ApiError::internal("a backup task stopped", e))?);
    }
    components.sort_by(|a, b| (a.component.name(), &a.url).cmp(&(b.component.name(), &b.url)));
    let report_file = state
        .ctx
        .root
        .join(Component::Hub.log_dir())
        .join(format!("backupReport_{id}.txt"));
    let mut report = BackupReport {
        id: id.clone(),
        started,
        finished: Utc::now(),
        components,
        report_file: report_file.display().to_string(),
        command: None,
    };
    write_report(&report_file, &report.text())?;
    if let Some(command) = &config.backup_command {
        report.command = Some(run_command(command, &report).await);
        write_report(&report_file, &report.text())?;
    }
    if report.ok() {
        tracing::info!("backup {id}: every component is backed up");
    } else {
        tracing::error!(
            "backup {id}: some components failed; see {}",
            report.report_file
        );
    }
    Ok(report)
}

fn write_report(path: &std::path::Path, text: &str) -> Result<(), ApiError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| ApiError::internal("backup report", e))?;
    }
    std::fs::write(path, text).map_err(|e| ApiError::internal("backup report", e))
}

/// Asks the component at `url` (its base URL, with its prefix) for a snapshot.
async fn remote(state: &HubState, url: &str, id: &str, keep: u32) -> Result<Snapshot, String> {
    let response = state
        .ctx
        .http
        .post(format!("{url}/api/backup"))
        .bearer_auth(state.secret.expose())
        .timeout(SNAPSHOT_TIMEOUT)
        .json(&BackupRequest {
            id: id.to_string(),
            keep,
        })
        .send()
        .await
        .map_err(|e| format!("not reached: {e}"))?;
    let status = response.status();
    if status.is_success() {
        response
            .json()
            .await
            .map_err(|e| format!("an answer that is not a snapshot: {e}"))
    } else {
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        Err(format!(
            "{status}: {}",
            body["error"].as_str().unwrap_or("no reason given")
        ))
    }
}

/// Runs `BackupCommand`; how it ended.
async fn run_command(command: &str, report: &BackupReport) -> String {
    let output = tokio::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(command)
        .env("TUTTI_BACKUP_ID", &report.id)
        .env("TUTTI_BACKUP_REPORT", &report.report_file)
        .env("TUTTI_BACKUP_OK", report.ok().to_string())
        .output()
        .await;
    match output {
        Ok(o) if o.status.success() => "ran, exit 0".into(),
        Ok(o) => {
            let said = String::from_utf8_lossy(&o.stderr);
            let said = said.trim();
            tracing::error!("BackupCommand failed ({}): {said}", o.status);
            format!("FAILED ({}): {said}", o.status)
        }
        Err(e) => {
            tracing::error!("BackupCommand could not run: {e}");
            format!("FAILED: could not run: {e}")
        }
    }
}

/// The backups the Hub has reports of, newest first: (id, report text).
pub fn reports(state: &HubState, most: usize) -> Vec<(String, String)> {
    let dir = state.ctx.root.join(Component::Hub.log_dir());
    let mut ids: Vec<String> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let id = name.strip_prefix("backupReport_")?.strip_suffix(".txt")?;
            tutti_core::backup::valid_id(id).then(|| id.to_string())
        })
        .collect();
    ids.sort_unstable_by(|a, b| b.cmp(a));
    ids.into_iter()
        .take(most)
        .map(|id| {
            let text = std::fs::read_to_string(dir.join(format!("backupReport_{id}.txt")))
                .unwrap_or_default();
            (id, text)
        })
        .collect()
}

/// `POST /hub/api/backups` (cluster secret): a backup now, for `tutti backup --root DIR`.
pub async fn run_now(State(state): State<Arc<HubState>>) -> Result<Json<BackupReport>, ApiError> {
    let report = run(&state).await?;
    audit(&state, crate::audit::CLUSTER_SECRET, &report).await?;
    Ok(Json(report))
}

/// Writes a backup someone asked for to the audit log (the daily one is not a change
/// anyone made; its reports are on the Backups page).
pub async fn audit(state: &HubState, actor: &str, report: &BackupReport) -> Result<(), ApiError> {
    let failed = report
        .components
        .iter()
        .filter(|c| c.error.is_some())
        .count();
    let details = if failed == 0 {
        format!("{} component(s) backed up", report.components.len())
    } else {
        format!(
            "{failed} of {} component(s) FAILED; see {}",
            report.components.len(),
            report.report_file
        )
    };
    state
        .audit
        .record(actor, "backup.run", &report.id, &details)
        .await
        .map_err(|e| ApiError::internal("cannot write the audit log", e))
}

/// The first `hour:minute` (UTC) after `now`.
fn next_run(now: DateTime<Utc>, hour: u32, minute: u32) -> DateTime<Utc> {
    let today = now
        .date_naive()
        .and_hms_opt(hour, minute, 0)
        .map_or(now, |t| t.and_utc());
    if today > now {
        today
    } else {
        today + chrono::Duration::days(1)
    }
}

/// The daily backup at `BackupTime` (UTC), until shutdown.
pub fn schedule(state: Arc<HubState>, config: &HubConfig) -> Option<tokio::task::JoinHandle<()>> {
    let (hour, minute) = config.backup_time?;
    let mut shutdown = state.ctx.shutdown.clone();
    let task = async move {
        loop {
            let now = Utc::now();
            let next = next_run(now, hour, minute);
            let wait = (next - now).to_std().unwrap_or(Duration::from_secs(60));
            tracing::debug!("next backup at {next}");
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.wait() => return,
            }
            if let Err(e) = run(&state).await {
                tracing::error!("the daily backup failed: {}", e.message);
            }
        }
    };
    Some(tokio::spawn(
        task.instrument(component_span(Component::Hub)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_daily_backup_is_at_the_next_backup_time() {
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        assert_eq!(
            next_run(at("2026-11-30T01:00:00Z"), 2, 30),
            at("2026-11-30T02:30:00Z")
        );
        assert_eq!(
            next_run(at("2026-11-30T02:30:00Z"), 2, 30),
            at("2026-12-01T02:30:00Z")
        );
        assert_eq!(
            next_run(at("2026-12-31T23:59:59Z"), 0, 0),
            at("2027-01-01T00:00:00Z")
        );
    }
}
