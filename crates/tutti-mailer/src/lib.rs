//! The Mailer: accepts distribute jobs, merges and writes each recipient's message, and
//! delivers it through the SMTP relays of `mailer.ini` (or into `mailer/outbox` when none
//! is configured), recording a fate for every recipient.

mod api;
mod bounces;
mod delivery;
mod dkim;
mod domains;
mod prepare;
pub mod return_path;
mod spool;

use std::sync::Arc;

use axum::routing::get;
use axum::{Json, Router};
use tracing::Instrument;
use tutti_core::Component;
use tutti_core::config::MailerConfig;
use tutti_core::runtime::{ComponentContext, Started, component_span, start_hub_client};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Reads and checks the `DkimKeys` key files as the Mailer signs with them (`tutti check`
/// runs it too, so that it refuses what the start would).
pub fn check_dkim_keys(config: &MailerConfig, root: &std::path::Path) -> Result<(), String> {
    load_dkim(config, root).map(drop)
}

fn load_dkim(config: &MailerConfig, root: &std::path::Path) -> Result<dkim::Dkim, String> {
    dkim::Dkim::load(&config.dkim_keys, &root.join("mailer"))
        .map_err(|e| format!("mailer/mailer.ini, DkimKeys: {e}"))
}

/// Starts the component: returns its routes and its background tasks.
pub async fn start(ctx: ComponentContext, config: MailerConfig) -> anyhow::Result<Started> {
    let spool_dir = ctx.root.join("mailer/spool");
    let key = return_path::ReturnPathKey::open(&spool_dir)
        .map_err(|e| anyhow::anyhow!("the return-path key in {}: {e}", spool_dir.display()))?;
    let spool = spool::Spool::open(&spool_dir.join("spool.sqlite"), key.clone()).await?;
    let dkim = load_dkim(&config, &ctx.root).map_err(|e| anyhow::anyhow!(e))?;
    let engine = Arc::new(delivery::Engine::new(
        spool.clone(),
        config.clone(),
        ctx.root.join("mailer/outbox"),
        dkim,
        key.clone(),
        &ctx.metrics,
    ));
    let unfinished = ctx.metrics.gauge(
        "mailer_spool_unfinished",
        "Recipients in the spool not yet done: waiting, being sent, deferred or held",
    );
    let counted = spool.clone();
    ctx.metrics.on_scrape(move || {
        let (spool, gauge) = (counted.clone(), unfinished.clone());
        async move {
            match spool.unfinished().await {
                Ok(n) => {
                    gauge.set(n);
                }
                Err(e) => tracing::warn!("metrics: cannot count the spool: {e}"),
            }
        }
    });
    let bounce_task = match &config.bounce_listener {
        Some(addr) => Some(
            bounces::listen(
                addr,
                &config.helo_name,
                bounces::BounceHandler::new(
                    spool.clone(),
                    key,
                    &config.return_path_domain,
                    &ctx.metrics,
                ),
                ctx.shutdown.clone(),
            )
            .instrument(component_span(Component::Mailer))
            .await?,
        ),
        None => None,
    };
    let state = Arc::new(api::ApiState {
        engine: engine.clone(),
        clients: config.distribute_clients.clone(),
        password: config.distribute_password.clone(),
    });
    let (api, doc) = OpenApiRouter::new()
        .routes(routes!(api::define, api::progress))
        .routes(routes!(api::recipients))
        .routes(routes!(api::submit))
        .routes(routes!(api::control))
        .routes(routes!(api::events))
        .with_state(state)
        .split_for_parts();
    let doc = api::describe(doc);
    let public = Router::new().route("/api/openapi.json", get(move || async move { Json(doc) }));
    let mut started = start_hub_client(
        &ctx,
        Component::Mailer,
        &config.common,
        &config.registry_hub_host,
        config.announce_interval,
        public,
        api,
    );
    started.tasks.extend(bounce_task);
    started.tasks.push(tokio::spawn(
        engine
            .run(ctx.shutdown.clone())
            .instrument(component_span(Component::Mailer)),
    ));
    Ok(started)
}
