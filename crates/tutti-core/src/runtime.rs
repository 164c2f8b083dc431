//! What every component gets from the process that runs it, what it gives back, and the
//! pieces of a component every component has: health, ping, request spans, announcing
//! itself to the Hub.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tower_http::trace::TraceLayer;
use tracing::{Instrument, Span};

use crate::api::{Announce, Health, Ping, VERSION};
use crate::auth::require_cluster_secret;
use crate::client::PeerClient;
use crate::component::Component;
use crate::config::ServerConfig;
use crate::hostport::HostPort;
use crate::secret::ClusterSecret;

/// Told to every task of a process when it is asked to stop.
#[derive(Debug, Clone)]
pub struct Shutdown(watch::Receiver<bool>);

impl Shutdown {
    pub fn new() -> (watch::Sender<bool>, Shutdown) {
        let (tx, rx) = watch::channel(false);
        (tx, Shutdown(rx))
    }

    /// Resolves when the process stops.
    pub async fn wait(&mut self) {
        let _ = self.0.wait_for(|stop| *stop).await;
    }

    pub fn is_stopping(&self) -> bool {
        *self.0.borrow()
    }
}

/// What the process hands a component when it starts it.
#[derive(Debug, Clone)]
pub struct ComponentContext {
    pub root: PathBuf,
    pub server: ServerConfig,
    pub instance_id: String,
    pub started_at: DateTime<Utc>,
    pub http: reqwest::Client,
    pub shutdown: Shutdown,
    /// The component's metrics (`/{component}/metrics`).
    pub metrics: crate::metrics::Metrics,
}

/// A started component: its routes (below its prefix) and its background tasks.
pub struct Started {
    pub router: Router,
    pub tasks: Vec<JoinHandle<()>>,
    /// Paths answered ahead of the router (the Tracker's open and click URLs).
    pub fast: Vec<crate::fast_route::FastRoute>,
    /// The same paths, served by their own event loops on the plain-HTTP listener.
    pub hot: Option<crate::hot_http::Starter>,
}

/// The routes every component has — `GET /health` (open) and `GET /api/ping`
/// (authenticated) — merged with the component's own, with `api` behind the cluster
/// secret and every request run in the component's span.
pub fn component_router(
    component: Component,
    ctx: &ComponentContext,
    secret: &ClusterSecret,
    public: Router,
    api: Router,
) -> Router {
    let instance_id = &ctx.instance_id;
    let backups = (ctx.root.clone(), component);
    let health = Health {
        component,
        instance_id: instance_id.to_string(),
        version: VERSION.to_string(),
        status: "ok".to_string(),
    };
    let ping = Ping {
        component,
        instance_id: instance_id.to_string(),
    };
    let api = api
        .route("/ping", get(move || async move { Json(ping) }))
        .route(
            "/backup",
            axum::routing::post(back_up).with_state(Arc::new(backups)),
        )
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(secret.clone()),
            require_cluster_secret,
        ));
    public
        .route("/health", get(move || async move { Json(health) }))
        .nest("/api", api)
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(move |req: &Request| request_span(component, req)),
        )
}

/// `POST /{component}/api/backup`: snapshots the component's files now (see
/// [`crate::backup`]).
async fn back_up(
    axum::extract::State(at): axum::extract::State<Arc<(std::path::PathBuf, Component)>>,
    Json(request): Json<crate::backup::BackupRequest>,
) -> Result<Json<crate::backup::Snapshot>, crate::http_error::ApiError> {
    let (root, component) = (at.0.clone(), at.1);
    let id = request.id.clone();
    let taken = tokio::task::spawn_blocking(move || {
        crate::backup::snapshot(&root, component, &request.id, request.keep)
    })
    .await
    .map_err(|e| crate::http_error::ApiError::internal("the backup stopped", e))?;
    match taken {
        Ok(snapshot) => {
            tracing::info!(
                "backup {id}: {} databases and {} files ({} bytes) in {}",
                snapshot.databases,
                snapshot.files,
                snapshot.bytes,
                snapshot.folder
            );
            Ok(Json(snapshot))
        }
        Err(e) => {
            tracing::error!("backup {id} failed: {e}");
            Err(crate::http_error::ApiError::new(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                format!("backup {id}: {e}"),
            ))
        }
    }
}

/// The span a component's requests and tasks run in; its name is the component's crate
/// name, which is how the logging layer routes lines to the component's log.
pub fn component_span(component: Component) -> Span {
    match component {
        Component::Hub => tracing::info_span!("tutti_hub"),
        Component::Lui => tracing::info_span!("tutti_lui"),
        Component::Trk => tracing::info_span!("tutti_trk"),
        Component::Mailer => tracing::info_span!("tutti_mailer"),
    }
}

fn request_span(component: Component, req: &Request) -> Span {
    let (method, path) = (req.method(), req.uri().path());
    match component {
        Component::Hub => tracing::info_span!("tutti_hub", %method, path),
        Component::Lui => tracing::info_span!("tutti_lui", %method, path),
        Component::Trk => tracing::info_span!("tutti_trk", %method, path),
        Component::Mailer => tracing::info_span!("tutti_mailer", %method, path),
    }
}

/// Starts a component that reports to a Hub (User Interface, Tracker, Mailer): its routes
/// (with health and ping) and its announcer.
pub fn start_hub_client(
    ctx: &ComponentContext,
    component: Component,
    common: &crate::config::CommonConfig,
    hub: &HostPort,
    announce_interval: Duration,
    public: Router,
    api: Router,
) -> Started {
    let announcer = spawn_announcer(
        ctx,
        component,
        hub.clone(),
        common.cluster_secret.clone(),
        announce_interval,
    );
    let _span = component_span(component).entered();
    tracing::info!(
        "{} started (instance {}), Hub at {}",
        component.title(),
        ctx.instance_id,
        hub.base_url()
    );
    let router = component_router(component, ctx, &common.cluster_secret, public, api);
    Started {
        router,
        tasks: vec![announcer],
        fast: Vec::new(),
        hot: None,
    }
}

/// Announces `component` to the Hub at `hub` now and every `interval`, until shutdown.
/// After a failure it tries again after 1 s, doubling up to `interval`.
pub fn spawn_announcer(
    ctx: &ComponentContext,
    component: Component,
    hub: HostPort,
    secret: ClusterSecret,
    interval: Duration,
) -> JoinHandle<()> {
    let client = PeerClient::new(ctx.http.clone(), hub, Component::Hub, secret);
    // HTTP, or HTTPS when server.ini says AnnounceHttps=true.
    let (scheme, port) = ctx.server.announced_scheme_port();
    let announce = Announce {
        component,
        instance_id: ctx.instance_id.clone(),
        version: VERSION.to_string(),
        scheme,
        host: ctx.server.advertised_host(),
        port,
        started_at: ctx.started_at,
    };
    let mut shutdown = ctx.shutdown.clone();
    let task = async move {
        let mut failures = 0u32;
        loop {
            let wait = match client
                .post::<_, serde_json::Value>("/api/components", &announce)
                .await
            {
                Ok(_) => {
                    if failures > 0 {
                        tracing::info!(
                            "announced to the Hub at {} again after {failures} failed attempts",
                            client.url("")
                        );
                    } else {
                        tracing::debug!("announced to the Hub at {}", client.url(""));
                    }
                    failures = 0;
                    interval
                }
                Err(e) => {
                    failures += 1;
                    if failures == 1 {
                        tracing::warn!("cannot announce to the Hub: {e}; trying again");
                    } else {
                        tracing::debug!("announce attempt {failures} failed: {e}");
                    }
                    Duration::from_secs(1u64 << failures.min(16)).min(interval)
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.wait() => break,
            }
        }
    };
    tokio::spawn(task.instrument(component_span(component)))
}

/// A request extension that marks requests which came in over the HTTPS listener.
#[derive(Debug, Clone, Copy)]
pub struct ViaTls;
