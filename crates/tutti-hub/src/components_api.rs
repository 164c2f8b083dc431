//! `/hub/api/components`: components announce themselves; administrators and `tutti check`
//! list every component the installation knows of, where it is and whether it answers.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use chrono::Utc;
use tokio::task::JoinSet;
use tutti_core::Component;
use tutti_core::api::{Announce, ComponentEntry, ComponentList, VERSION};
use tutti_core::client::probe_health;
use tutti_core::hostport::HostPort;
use tutti_core::http_error::ApiError;

use crate::HubState;
use crate::registry::Known;

/// Records the Hub itself, at the address other components reach it by.
pub(crate) async fn register_self(state: &HubState) -> anyhow::Result<()> {
    let server = &state.ctx.server;
    let address = match server.advertised_host() {
        Some(host) => {
            // HTTPS with AnnounceHttps, as the other components of this server announce.
            let (scheme, port) = server.announced_scheme_port();
            HostPort::new(scheme, host, port)
        }
        None => server.local_host_port(),
    };
    let now = Utc::now();
    state
        .registry
        .upsert(
            Component::Hub,
            state.ctx.instance_id.clone(),
            address,
            VERSION.into(),
            state.ctx.started_at,
            now,
        )
        .await
}

/// `POST /hub/api/components`.
pub(crate) async fn announce(
    State(state): State<Arc<HubState>>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    Json(announce): Json<Announce>,
) -> Result<StatusCode, ApiError> {
    if announce.component == Component::Hub {
        return Err(ApiError::bad_request(
            "a Hub does not announce itself to another Hub",
        ));
    }
    if announce.instance_id.len() != 32
        || !announce.instance_id.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return Err(ApiError::bad_request(
            "instance_id must be 32 hexadecimal digits",
        ));
    }
    if announce.version.is_empty() || announce.version.len() > 64 {
        return Err(ApiError::bad_request("version must be 1 to 64 characters"));
    }
    let host = match (&announce.host, peer) {
        (Some(host), _) => host.clone(),
        (None, Some(Extension(ConnectInfo(addr)))) => match addr.ip() {
            IpAddr::V6(v6) => format!("[{v6}]"),
            v4 => v4.to_string(),
        },
        (None, None) => {
            return Err(ApiError::bad_request(
                "host is missing and the caller's address is unknown",
            ));
        }
    };
    let address: HostPort = format!("{}://{host}:{}", announce.scheme.as_str(), announce.port)
        .parse()
        .map_err(|e| ApiError::bad_request(format!("host/port: {e}")))?;
    let first_time = !state
        .registry
        .contains(announce.instance_id.clone())
        .await
        .map_err(|e| ApiError::internal("cannot read the component registry", e))?;
    let url = format!("{}{}", address.base_url(), announce.component.prefix());
    state
        .registry
        .upsert(
            announce.component,
            announce.instance_id.clone(),
            address,
            announce.version,
            announce.started_at,
            Utc::now(),
        )
        .await
        .map_err(|e| ApiError::internal("cannot write the component registry", e))?;
    if first_time {
        tracing::info!(
            "new component: {} {} at {url}",
            announce.component.title(),
            announce.instance_id
        );
    } else {
        tracing::debug!(
            "{} {} announced at {url}",
            announce.component.title(),
            announce.instance_id
        );
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /hub/api/components`: every known component, each probed now.
pub(crate) async fn list(
    State(state): State<Arc<HubState>>,
) -> Result<Json<ComponentList>, ApiError> {
    state.component_list().await.map(Json)
}

impl HubState {
    /// Every known component, each probed now.
    pub(crate) async fn component_list(&self) -> Result<ComponentList, ApiError> {
        let state = self;
        let known = state
            .registry
            .all()
            .await
            .map_err(|e| ApiError::internal("cannot read the component registry", e))?;
        let mut probes = JoinSet::new();
        for (index, entry) in known.iter().enumerate() {
            let (http, address, component) = (
                state.ctx.http.clone(),
                entry.address.clone(),
                entry.component,
            );
            let expected = entry.instance_id.clone();
            probes.spawn(async move {
                let problem = match probe_health(&http, &address, component).await {
                    Ok(h) if h.instance_id == expected => None,
                    Ok(h) => Some(format!(
                        "another instance ({}) answers at this address now",
                        h.instance_id
                    )),
                    Err(e) => Some(e.to_string()),
                };
                (index, problem)
            });
        }
        let mut problems = vec![None; known.len()];
        while let Some(done) = probes.join_next().await {
            if let Ok((index, problem)) = done {
                problems[index] = problem;
            }
        }
        let components = known
            .into_iter()
            .zip(problems)
            .map(|(k, problem): (Known, Option<String>)| ComponentEntry {
                component: k.component,
                title: k.component.title().to_string(),
                url: format!("{}{}", k.address.base_url(), k.component.prefix()),
                instance_id: k.instance_id,
                version: k.version,
                started_at: k.started_at,
                first_seen: k.first_seen,
                last_seen: k.last_seen,
                answering: problem.is_none(),
                problem,
            })
            .collect();
        Ok(ComponentList {
            hub_instance_id: state.ctx.instance_id.clone(),
            components,
        })
    }
}

/// `DELETE /hub/api/components/{instance_id}`: forget a component that is gone for good.
pub(crate) async fn forget(
    State(state): State<Arc<HubState>>,
    Path(instance_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if instance_id == state.ctx.instance_id {
        return Err(ApiError::bad_request("the Hub cannot forget itself"));
    }
    // What it was, for the audit log: once forgotten it is gone.
    let known = state
        .registry
        .all()
        .await
        .map_err(|e| ApiError::internal("cannot read the component registry", e))?
        .into_iter()
        .find(|k| k.instance_id == instance_id);
    match state.registry.forget(instance_id.clone()).await {
        Ok(true) => {
            tracing::info!("component {instance_id} removed from the registry");
            let details = known.map_or_else(String::new, |k| {
                format!("{} at {}", k.component.title(), k.address.base_url())
            });
            state
                .audit
                .record(
                    crate::audit::CLUSTER_SECRET,
                    "component.forget",
                    &instance_id,
                    &details,
                )
                .await
                .map_err(|e| ApiError::internal("cannot write the audit log", e))?;
            Ok(StatusCode::NO_CONTENT)
        }
        Ok(false) => Err(ApiError::not_found(format!(
            "no component {instance_id} is known"
        ))),
        Err(e) => Err(ApiError::internal("cannot write the component registry", e)),
    }
}
