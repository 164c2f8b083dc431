//! The Mailer, which merges, builds and delivers the messages of each job.
//!
//! This frame runs the component inside a Tutti process: its health and ping endpoints,
//! and its announcements to the Hub named by `RegistryHubHost`.

use axum::Router;
use tutti_core::Component;
use tutti_core::config::MailerConfig;
use tutti_core::runtime::{ComponentContext, Started, start_hub_client};

/// Starts the component: returns its routes and its background tasks.
pub async fn start(ctx: ComponentContext, config: MailerConfig) -> anyhow::Result<Started> {
    Ok(start_hub_client(
        &ctx,
        Component::Mailer,
        &config.common,
        &config.registry_hub_host,
        config.announce_interval,
        Router::new(),
        Router::new(),
    ))
}
