//! The Tracker, which answers the open and click URLs of sent messages and records every event.
//!
//! This frame runs the component inside a Tutti process: its health and ping endpoints,
//! and its announcements to the Hub named by `RegistryHubHost`.

use axum::Router;
use tutti_core::Component;
use tutti_core::config::TrkConfig;
use tutti_core::runtime::{ComponentContext, Started, start_hub_client};

/// Starts the component: returns its routes and its background tasks.
pub async fn start(ctx: ComponentContext, config: TrkConfig) -> anyhow::Result<Started> {
    Ok(start_hub_client(
        &ctx,
        Component::Trk,
        &config.common,
        &config.registry_hub_host,
        config.announce_interval,
        Router::new(),
        Router::new(),
    ))
}
