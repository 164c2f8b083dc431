//! Keeps `lui/registry` current: asks the Hub every few seconds whether anything changed,
//! and if so reads every cached account again.

use std::sync::Arc;

use tutti_core::api::{AccountInfo, RegistryVersion};
use tutti_core::client::PeerError;

use crate::LuiState;
use crate::registry_cache::REFRESH_INTERVAL;

pub async fn run(state: Arc<LuiState>) {
    let mut shutdown = state.ctx.shutdown.clone();
    loop {
        if let Err(e) = refresh_once(&state).await {
            tracing::debug!("registry refresh: {e}");
        }
        tokio::select! {
            _ = tokio::time::sleep(REFRESH_INTERVAL) => {}
            _ = shutdown.wait() => return,
        }
    }
}

async fn refresh_once(state: &LuiState) -> anyhow::Result<()> {
    let RegistryVersion { version } = state.hub.get("/api/registry/version").await?;
    if state.cache.version().await? == Some(version) {
        return Ok(());
    }
    for id in state.cache.account_ids().await? {
        match state
            .hub
            .get::<AccountInfo>(&format!("/api/registry/accounts/{id}"))
            .await
        {
            Ok(info) => state.cache.refresh(&info).await?,
            Err(PeerError::Status { status, .. }) if status == reqwest_not_found() => {
                tracing::info!("account {id} was deleted or disabled at the Hub; forgetting it");
                state.cache.forget(id).await?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    state.cache.set_version(version).await?;
    tracing::debug!("lui/registry is current with the Hub's version {version}");
    Ok(())
}

fn reqwest_not_found() -> axum::http::StatusCode {
    axum::http::StatusCode::NOT_FOUND
}
