//! The User Interface, where people build, send and follow email jobs.
//!
//! So far: logging in through the Hub (`/lui/api/session`), with the `lui/registry` cache
//! that keeps logins working while the Hub is down, and the frame every component has
//! (health, ping, announcing itself to the Hub).

mod refresher;
mod registry_cache;
mod session_api;

use std::sync::Arc;

use axum::Router;
use axum::routing::post;
use tracing::Instrument;
use tutti_core::Component;
use tutti_core::client::PeerClient;
use tutti_core::config::LuiConfig;
use tutti_core::runtime::{ComponentContext, Started, component_span, start_hub_client};

pub(crate) struct LuiState {
    pub ctx: ComponentContext,
    pub hub: PeerClient,
    pub cache: registry_cache::RegistryCache,
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
    let state = Arc::new(LuiState {
        ctx: ctx.clone(),
        hub,
        cache,
    });
    let public = Router::new()
        .route(
            "/api/session",
            post(session_api::login)
                .get(session_api::whoami)
                .delete(session_api::logout),
        )
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
    started.tasks.push(tokio::spawn(
        refresher::run(state).instrument(component_span(Component::Lui)),
    ));
    Ok(started)
}
