//! The User Interface, where people build, send and follow email jobs.
//!
//! So far: logging in through the Hub (`/lui/api/session`), with the `lui/registry` cache
//! that keeps logins working while the Hub is down; the system database (SQLite or
//! PostgreSQL) with jobs, their folders and grants (`/lui/api/jobs`), described at
//! `/lui/api/openapi.json`; and the frame every component has (health, ping, announcing
//! itself to the Hub).

mod database;
mod events;
mod group_ids;
mod jobs;
mod library;
mod message;
mod move_db;
mod pages;
mod recipients;
mod refresher;
mod registry_cache;
mod report;
mod send;
mod session_api;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

use std::sync::Arc;

use axum::routing::get;
use axum::{Json, Router};
use tracing::Instrument;
use tutti_core::Component;
use tutti_core::client::PeerClient;
use tutti_core::config::LuiConfig;
use tutti_core::hostport::HostPort;
use tutti_core::runtime::{ComponentContext, Started, component_span, start_hub_client};
use utoipa::openapi::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use move_db::{Moved, move_database};

pub(crate) struct LuiState {
    pub ctx: ComponentContext,
    /// The system database, for queries that span its parts (reports).
    pub db: database::Database,
    pub hub: PeerClient,
    pub cache: registry_cache::RegistryCache,
    pub jobs: jobs::store::Jobs,
    pub messages: message::store::Messages,
    pub lists: recipients::store::Lists,
    pub sending: send::store::Sending,
    pub library: library::store::Library,
    pub events: events::store::Events,
    /// The suppression lists of the groups and of the installation.
    pub suppressions: events::suppressions::Suppressions,
    /// Test addresses used per account and day.
    pub test_quota: send::test_quota::TestQuota,
    /// `TestSendMaxAddresses` and `TestSendMaxPerDay`.
    pub test_send_caps: tutti_core::config::TestSendCaps,
    pub connections: recipients::query::Connections,
    pub tracker: PeerClient,
    pub secret: tutti_core::ClusterSecret,
    pub job_id_prefix: String,
    /// `DefaultMailCharset` and `AllowCharsetChoice`.
    pub default_charset: String,
    pub allow_charset_choice: bool,
    /// `MaxUploadMegabytes`, in bytes.
    pub max_upload: u64,
    /// The Hub's console as browsers reach it (`ExternalHubHostName`, else
    /// `RegistryHubHost`).
    pub hub_console_url: String,
    /// Events imported from the Tracker and the Mailers (`tutti_lui_events_imported_total`).
    pub events_imported: tutti_core::metrics::CounterBy,
    /// Company name, header text, logo and colours of the pages (`lui/branding`).
    pub branding: Arc<tutti_core::branding::Branding>,
    /// Failed logins, online and offline (the Hub keeps its own as well).
    pub limits: tutti_core::login_limits::LoginLimits,
    /// `TrustedProxies`: whose `X-Forwarded-For` names the client of a login.
    pub trusted_proxies: tutti_core::client_address::TrustedProxies,
}

/// Starts the component: returns its routes and its background tasks.
pub async fn start(ctx: ComponentContext, config: LuiConfig) -> anyhow::Result<Started> {
    let cache =
        registry_cache::RegistryCache::open(&ctx.root.join("lui/registry/registry.sqlite")).await?;
    let hub = PeerClient::new(
        ctx.http.clone(),
        config.registry_hub_host.clone(),
        Component::Hub,
        config.common.cluster_secret.clone(),
    );
    let db = database::Database::open(&config.database, &ctx.root).await?;
    let tracker = PeerClient::new(
        ctx.http.clone(),
        config.tracker_host.clone(),
        Component::Trk,
        config.common.cluster_secret.clone(),
    );
    let events_imported = ctx.metrics.counter_by(
        "lui_events_imported",
        "Tracking and delivery events imported for the reports",
        "source",
    );
    let branding = tutti_core::branding::load(&ctx.root, Component::Lui);
    for warning in &branding.warnings {
        tracing::warn!("{warning}");
    }
    let state = Arc::new(LuiState {
        branding: Arc::new(branding.branding),
        events_imported,
        db: db.clone(),
        ctx: ctx.clone(),
        hub,
        cache,
        jobs: jobs::store::Jobs::new(db.clone()),
        messages: message::store::Messages::new(db.clone()),
        lists: recipients::store::Lists::new(
            db.clone(),
            ctx.metrics.counter(
                "lui_recipient_rows",
                "Recipient rows read by uploads and queries",
            ),
        ),
        sending: send::store::Sending::new(db.clone()),
        library: library::store::Library::new(db.clone()),
        events: events::store::Events::new(db.clone()),
        suppressions: events::suppressions::Suppressions::new(db.clone()),
        test_quota: send::test_quota::TestQuota::new(db.clone()),
        test_send_caps: config.test_send_caps,
        connections: recipients::query::Connections::new(db),
        tracker,
        secret: config.common.cluster_secret.clone(),
        job_id_prefix: config.job_id_prefix.clone(),
        default_charset: config.default_charset.clone(),
        allow_charset_choice: config.allow_charset_choice,
        max_upload: config.max_upload,
        limits: tutti_core::login_limits::LoginLimits::default(),
        trusted_proxies: config.trusted_proxies.clone(),
        hub_console_url: format!(
            "{}/hub",
            config
                .external_hub_host
                .as_ref()
                .unwrap_or(&config.registry_hub_host)
                .base_url()
        ),
    });
    let (api, doc) = OpenApiRouter::new()
        .routes(routes!(
            session_api::login,
            session_api::whoami,
            session_api::logout
        ))
        .merge(jobs::api::router())
        .merge(message::api::router())
        .merge(recipients::api::router())
        .merge(send::api::router())
        .merge(library::api::router())
        .merge(events::api::router())
        .merge(events::suppression_api::router())
        .merge(report::api::router())
        .merge(report::downloads::router())
        .merge(report::saved::router())
        .split_for_parts();
    let doc = describe(doc, config.external_host.as_ref());
    let public = Router::new()
        .nest(
            "/api",
            api.route("/openapi.json", get(move || async move { Json(doc) })),
        )
        .merge(pages::router())
        .with_state(state.clone());
    let mut started = start_hub_client(
        &ctx,
        Component::Lui,
        &config.common,
        &config.registry_hub_host,
        config.announce_interval,
        public,
        Router::new(),
    );
    started.tasks.push(events::transfer::spawn(state.clone()));
    started.tasks.push(tokio::spawn(
        refresher::run(state).instrument(component_span(Component::Lui)),
    ));
    Ok(started)
}

/// The API document; its server is the external name when browsers use one.
fn describe(mut doc: OpenApi, external: Option<&HostPort>) -> OpenApi {
    doc.info.title = "Tutti User Interface API".into();
    doc.info.version = tutti_core::api::VERSION.into();
    doc.info.description = Some(
        "Log in with POST /session (a cookie session); send the returned csrf_token as \
         X-CSRF-Token with every POST, PUT, PATCH and DELETE. Rights come from the account \
         at the Hub and are checked on every call."
            .into(),
    );
    let base = external.map(HostPort::base_url).unwrap_or_default();
    doc.servers = Some(vec![utoipa::openapi::Server::new(format!(
        "{base}/lui/api"
    ))]);
    tutti_core::openapi::describe_session_auth(&mut doc, session_api::COOKIES.session);
    tutti_core::openapi::describe_errors(&mut doc);
    doc
}
