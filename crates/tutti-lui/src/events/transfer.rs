//! The event transfer: every few seconds (the Hub's event transfer interval) the User
//! Interface reads what is new at the Tracker and at every Mailer its jobs went to, page by
//! page, storing each page with its cursor in one transaction. After an outage of either
//! side it goes on from its cursor: nothing is lost, nothing counted twice.

use std::sync::Arc;
use std::time::Duration;

use tutti_core::api::{ComponentSettings, EventPage};
use tutti_core::distribute::{CLIENT_HEADER, DeliveryPage, PASSWORD_HEADER};
use tutti_core::settings::MailerConnection;

use crate::LuiState;

/// Events asked for per call.
const PAGE: u32 = 1000;

/// How long to wait between transfers when the Hub cannot say.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);

pub async fn run(state: Arc<LuiState>) {
    let mut shutdown = state.ctx.shutdown.clone();
    let mut interval = DEFAULT_INTERVAL;
    // Sources that failed last time: an outage is logged when it starts and when it ends,
    // not at every try.
    let mut failing = std::collections::HashSet::<String>::new();
    let mut report = |source: String, result: anyhow::Result<()>, interval: Duration| match result {
        Ok(()) => {
            if failing.remove(&source) {
                tracing::info!("events from {source} flow again");
            }
        }
        Err(e) => {
            if failing.insert(source.clone()) {
                tracing::warn!(
                    "events from {source}: {e}; trying again every {interval:?} until it answers"
                );
            } else {
                tracing::debug!("events from {source}: {e}");
            }
        }
    };
    loop {
        if let Ok(settings) = state
            .hub
            .get::<ComponentSettings>("/api/registry/component-settings")
            .await
        {
            interval = Duration::from_secs(u64::from(settings.event_transfer_seconds.max(1)));
        }
        report("the Tracker".into(), from_tracker(&state).await, interval);
        match state.sending.mailers().await {
            Ok(mailers) => {
                for m in mailers {
                    let result = from_mailer(&state, &m).await;
                    report(format!("the Mailer at {}", m.host), result, interval);
                }
            }
            Err(e) => tracing::warn!("events: listing the Mailers: {e}"),
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = shutdown.wait() => return,
        }
    }
}

async fn from_tracker(state: &LuiState) -> anyhow::Result<()> {
    let source = "trk";
    loop {
        let after = state.events.cursor(source).await?;
        let page: EventPage = state
            .tracker
            .get(&format!("/api/events?after={after}&limit={PAGE}"))
            .await?;
        let full = page.events.len() >= PAGE as usize;
        if page.events.is_empty() {
            return Ok(());
        }
        state.events.store_tracking(source, &page).await?;
        state
            .events_imported
            .inc_by("tracker", page.events.len() as u64);
        if !full {
            return Ok(());
        }
    }
}

async fn from_mailer(state: &LuiState, conn: &MailerConnection) -> anyhow::Result<()> {
    let source = format!("mailer:{}", conn.host.to_ascii_lowercase());
    let client =
        crate::send::api::mailer_client(state, conn).map_err(|e| anyhow::anyhow!(e.message))?;
    loop {
        let after = state.events.cursor(&source).await?;
        let page: DeliveryPage = client
            .call(
                reqwest::Method::GET,
                &format!("/api/events?after={after}&limit={PAGE}"),
                |r| {
                    r.header(CLIENT_HEADER, &conn.client_address)
                        .header(PASSWORD_HEADER, &conn.client_password)
                },
            )
            .await?;
        let full = page.events.len() >= PAGE as usize;
        if page.events.is_empty() {
            return Ok(());
        }
        state.events.store_delivery(&source, &page).await?;
        state
            .events_imported
            .inc_by("mailer", page.events.len() as u64);
        if !full {
            return Ok(());
        }
    }
}

/// Starts the transfer beside the component.
pub fn spawn(state: Arc<LuiState>) -> tokio::task::JoinHandle<()> {
    use tracing::Instrument;
    tokio::spawn(run(state).instrument(tutti_core::runtime::component_span(
        tutti_core::Component::Lui,
    )))
}
