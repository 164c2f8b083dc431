//! The Tracker: answers the open, click and unsubscribe URLs of every message sent, and
//! records every event durably before it answers. Nothing on its request path waits on
//! another component: link tables are in memory (and in `trk/data/jobs.sqlite`), events are
//! appended to the log in `trk/data/events/` by group commit.

mod classify;
mod events;
mod handlers;
mod handover;
mod jobs;

use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::{Json, Router};
use tracing::Instrument;
use tutti_core::Component;
use tutti_core::config::TrkConfig;
use tutti_core::runtime::{ComponentContext, Started, component_span, start_hub_client};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use handover::prepare as prepare_hand_over;

pub(crate) struct TrkState {
    pub jobs: jobs::Jobs,
    pub events: events::EventLog,
    /// Events recorded, by kind (`tutti_tracker_events_total`).
    pub recorded: handlers::Recorded,
}

/// How often old, fetched events are deleted.
const PURGE_INTERVAL: Duration = Duration::from_secs(3600);

/// Starts the component: returns its routes and its background tasks.
pub async fn start(ctx: ComponentContext, config: TrkConfig) -> anyhow::Result<Started> {
    let data = ctx.root.join(Component::Trk.data_dir());
    let state = Arc::new(TrkState {
        jobs: jobs::Jobs::open(&data.join("jobs.sqlite")).await?,
        events: events::EventLog::open(&data).await?,
        recorded: handlers::Recorded::new(&ctx.metrics),
    });
    let queued = ctx.metrics.gauge(
        "tracker_event_queue",
        "Events handed to the log writer and not yet durable",
    );
    let log = state.events.clone();
    ctx.metrics.on_scrape(move || {
        queued.set(i64::try_from(log.queued()).unwrap_or(i64::MAX));
        std::future::ready(())
    });
    let (api, doc) = OpenApiRouter::new()
        .routes(routes!(handlers::register_job))
        .routes(routes!(handlers::events))
        .routes(routes!(handover::receive))
        .with_state(state.clone())
        .split_for_parts();
    let doc = tutti_core::openapi::cluster_api_doc(
        doc,
        "Tutti Tracker API",
        "What the User Interface and other Trackers call: link tables, the event feed, hand-over. \
         Every path needs Authorization: Bearer <ClusterSecret>. The open, click and unsubscribe \
         URLs in messages are not part of this API (see docs/api.md).",
        "/trk/api",
    );
    let public = Router::new()
        .route(
            "/unsubscribe",
            get(handlers::unsubscribe_page).post(handlers::unsubscribe),
        )
        .route("/api/openapi.json", get(move || async move { Json(doc) }))
        .with_state(state.clone());
    let mut started = start_hub_client(
        &ctx,
        Component::Trk,
        &config.common,
        &config.registry_hub_host,
        config.announce_interval,
        public,
        api,
    );
    started.fast = handlers::fast_routes(&state, &ctx.metrics);
    started.hot = Some(tutti_core::hot_http::starter(Arc::new(
        handlers::HotUrls::new(&state, &ctx.metrics),
    )));
    if let Some(successor) = config.hand_over_to.clone() {
        started.tasks.push(handover::spawn(
            &ctx,
            state.clone(),
            successor,
            config.common.cluster_secret.clone(),
        ));
    }
    let mut shutdown = ctx.shutdown.clone();
    let retention = config.event_retention;
    let purger = async move {
        loop {
            match state.events.purge(retention).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(
                    "deleted {n} event log segments, fetched and older than the retention"
                ),
                Err(e) => tracing::error!("cannot delete old events: {e}"),
            }
            tokio::select! {
                _ = tokio::time::sleep(PURGE_INTERVAL) => {}
                _ = shutdown.wait() => return,
            }
        }
    };
    started.tasks.push(tokio::spawn(
        purger.instrument(component_span(Component::Trk)),
    ));
    Ok(started)
}
