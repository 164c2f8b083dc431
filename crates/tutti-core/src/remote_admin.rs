//! Remote administration of a component by the Hub's console: its log files (list and
//! download) and its log level at run time, at `/{component}/remote-admin/...`, allowed by
//! the component's `RemoteAdminPassword` (sent as a bearer token). Without that key
//! remote administration of the component is off.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::Component;
use crate::config::{ConfigValue, LogLevel};
use crate::http_error::ApiError;
use crate::logging;

/// One log file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LogFile {
    pub name: String,
    pub bytes: u64,
    pub modified: DateTime<Utc>,
}

/// `GET /{component}/remote-admin/logs`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Logs {
    /// `severe`, `standard` or `all`.
    pub level: String,
    /// Newest first.
    pub files: Vec<LogFile>,
}

/// `PUT /{component}/remote-admin/log-level`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SetLevel {
    pub level: String,
}

struct Admin {
    component: Component,
    dir: PathBuf,
    password: Option<String>,
}

/// The remote administration routes of `component` (to nest below its prefix).
pub fn router(component: Component, root: &std::path::Path, password: Option<String>) -> Router {
    let admin = Arc::new(Admin {
        component,
        dir: root.join(component.log_dir()),
        password,
    });
    Router::new()
        .route("/remote-admin/logs", get(list))
        .route("/remote-admin/logs/{name}", get(download))
        .route("/remote-admin/log-level", get(get_level).put(put_level))
        .layer(axum::middleware::from_fn_with_state(admin.clone(), allowed))
        .with_state(admin)
}

async fn allowed(State(admin): State<Arc<Admin>>, request: Request, next: Next) -> Response {
    let Some(password) = &admin.password else {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "remote administration of the {} is off: set RemoteAdminPassword in {}",
                admin.component.title(),
                admin.component.ini_file()
            ),
        )
        .into_response();
    };
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !bool::from(given.as_bytes().ct_eq(password.as_bytes())) {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "wrong RemoteAdminPassword for the {}",
                admin.component.title()
            ),
        )
        .into_response();
    }
    next.run(request).await
}

async fn list(State(admin): State<Arc<Admin>>) -> Result<Json<Logs>, ApiError> {
    let mut files = Vec::new();
    if let Ok(entries) = std::fs::read_dir(&admin.dir) {
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            if meta.is_file() {
                files.push(LogFile {
                    name,
                    bytes: meta.len(),
                    modified: meta
                        .modified()
                        .map(DateTime::<Utc>::from)
                        .unwrap_or_default(),
                });
            }
        }
    }
    files.sort_by(|a, b| b.modified.cmp(&a.modified).then(b.name.cmp(&a.name)));
    Ok(Json(Logs {
        level: logging::level(admin.component).as_str().to_string(),
        files,
    }))
}

/// A name that stays in the log folder: no separators, no dot files.
fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

async fn download(
    State(admin): State<Arc<Admin>>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let path = admin.dir.join(&name);
    if !plain_name(&name) || !path.is_file() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no log file {name:?} in {}", admin.component.log_dir()),
        ));
    }
    let content = tokio::fs::read(&path)
        .await
        .map_err(|e| ApiError::internal("cannot read the log file", e))?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "text/plain; charset=utf-8".to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        content,
    )
        .into_response())
}

async fn get_level(State(admin): State<Arc<Admin>>) -> Json<SetLevel> {
    Json(SetLevel {
        level: logging::level(admin.component).as_str().to_string(),
    })
}

async fn put_level(
    State(admin): State<Arc<Admin>>,
    Json(body): Json<SetLevel>,
) -> Result<Json<SetLevel>, ApiError> {
    let level = LogLevel::parse_value(&body.level).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("{e}: expected severe, standard or all"),
        )
    })?;
    logging::set_level(admin.component, level);
    let _span = crate::runtime::component_span(admin.component).entered();
    tracing::warn!(
        "log level set to {} from the Hub's console (until the next start; LogLevel in {} stays as it is)",
        level.as_str(),
        admin.component.ini_file()
    );
    Ok(Json(SetLevel {
        level: level.as_str().to_string(),
    }))
}

#[cfg(test)]
mod tests {
    use super::plain_name;

    #[test]
    fn only_plain_names_are_read() {
        assert!(plain_name("trk.2026-11-30.log"));
        for bad in ["", "../hub.ini", ".hidden", "a/b", "a\\b", "x\0"] {
            assert!(!plain_name(bad), "{bad:?}");
        }
    }
}
