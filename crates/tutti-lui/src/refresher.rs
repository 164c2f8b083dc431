//! Keeps `lui/registry` current: asks the Hub every few seconds whether anything changed,
//! and if so reads every cached account again.

use std::sync::Arc;

use tutti_core::api::{AccountInfo, RegistryVersion};
use tutti_core::client::PeerError;

use crate::LuiState;
use crate::registry_cache::REFRESH_INTERVAL;

pub async fn run(state: Arc<LuiState>) {
    let mut shutdown = state.ctx.shutdown.clone();
    let mut groups_keyed = false;
    loop {
        if let Err(e) = refresh_once(&state).await {
            tracing::debug!("registry refresh: {e}");
        }
        if !groups_keyed {
            match key_legacy_groups(&state).await {
                Ok(()) => groups_keyed = true,
                Err(e) => tracing::debug!("keying earlier rows on group ids: {e}"),
            }
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

/// Gives rows written before groups were keyed on ids their group's id, once the Hub says
/// which group has each name now (`group_ids.rs`).
async fn key_legacy_groups(state: &LuiState) -> anyhow::Result<()> {
    if !crate::group_ids::pending(&state.db).await? {
        return Ok(());
    }
    let groups: Vec<tutti_core::api::GroupRef> = state.hub.get("/api/registry/groups").await?;
    let changed = crate::group_ids::key_legacy_rows(&state.db, &groups).await?;
    tracing::info!(
        "{changed} row(s) written before groups were keyed on their ids now name their group's id"
    );
    Ok(())
}

fn reqwest_not_found() -> axum::http::StatusCode {
    axum::http::StatusCode::NOT_FOUND
}
