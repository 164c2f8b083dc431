//! The Mailer, which merges, builds and delivers the messages of each job.
//!
//! This frame runs the component inside a Tutti process: its health and ping endpoints,
//! and its announcements to the Hub named by `RegistryHubHost`.

use axum::Router;
use tutti_core::Component;
use tutti_core::config::MailerConfig;
use tutti_core::runtime::{ComponentContext, Started, component_router, spawn_announcer};

/// Starts the Mailer: returns its routes and its background tasks.
pub async fn start(ctx: ComponentContext, config: MailerConfig) -> anyhow::Result<Started> {
    let announcer = spawn_announcer(
        &ctx,
        Component::Mailer,
        config.registry_hub_host.clone(),
        config.common.cluster_secret.clone(),
        config.announce_interval,
    );
    tracing::info!(
        "Mailer started (instance {}), Hub at {}",
        ctx.instance_id,
        config.registry_hub_host.base_url()
    );
    let router = component_router(
        Component::Mailer,
        &ctx.instance_id,
        &config.common.cluster_secret,
        Router::new(),
        Router::new(),
    );
    Ok(Started {
        router,
        tasks: vec![announcer],
    })
}
