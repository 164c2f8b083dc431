//! The Administration Hub: the installation's registry of components (and, as it grows,
//! its accounts, groups, rights and settings).

mod components_api;
mod registry;

use std::sync::Arc;

use axum::Router;
use axum::routing::{delete, get};
use tutti_core::Component;
use tutti_core::config::HubConfig;
use tutti_core::runtime::{ComponentContext, Started, component_router};

pub use registry::Registry;

/// Shared by the Hub's handlers.
pub(crate) struct HubState {
    pub ctx: ComponentContext,
    pub registry: Registry,
}

/// Opens the Hub's data in `hub/hubreg`, records the Hub itself in its registry and returns
/// its routes.
pub async fn start(ctx: ComponentContext, config: HubConfig) -> anyhow::Result<Started> {
    let registry = Registry::open(&ctx.root.join(Component::Hub.data_dir())).await?;
    let state = Arc::new(HubState { ctx, registry });
    components_api::register_self(&state).await?;
    tracing::info!(
        "Administration Hub started (instance {})",
        state.ctx.instance_id
    );
    let api = Router::new()
        .route(
            "/components",
            get(components_api::list).post(components_api::announce),
        )
        .route("/components/{instance_id}", delete(components_api::forget))
        .with_state(state.clone());
    let router = component_router(
        Component::Hub,
        &state.ctx.instance_id,
        &config.common.cluster_secret,
        Router::new(),
        api,
    );
    Ok(Started {
        router,
        tasks: Vec::new(),
    })
}
