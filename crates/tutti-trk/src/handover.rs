//! Handing a Tracker over to its successor without breaking a link already sent.
//!
//! `tutti move trk --hand-over` copies the old Tracker's link tables and events to the new
//! one, gives the old one a new instance id and sets `HandOverTo` in its `tracker.ini`. The
//! old Tracker then goes on answering its own links from its own tables (its request path
//! still waits on nobody), and this task sends every event it records from then on to the
//! successor (`POST /trk/api/handover`), where the User Interface reads them with the
//! rest. The successor skips what it already holds (by the event's cursor in the old log),
//! so a batch sent again after a failure counts once; the old Tracker keeps how far it
//! has handed over in `events/handed-over`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use tracing::Instrument;
use tutti_core::api::{ErrorBody, TrackingEvent};
use tutti_core::client::PeerClient;
use tutti_core::hostport::HostPort;
use tutti_core::http_error::ApiError;
use tutti_core::runtime::{ComponentContext, component_span};
use tutti_core::token::valid_job_id;
use tutti_core::{ClusterSecret, Component};

use crate::TrkState;
use crate::classify::flags_of;
use crate::events::{NewEvent, read_mark, save_mark, segments_end};

/// How far the old Tracker has handed over (a cursor in its own log).
const HANDED_OVER: &str = "handed-over";
/// Most events one hand-over call carries.
const BATCH: u32 = 1000;
/// The longest wait between tries while the successor does not answer.
const MOST_BACKOFF: Duration = Duration::from_secs(30);

/// `POST /trk/api/handover`: events from the Tracker this one took over from.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HandOver {
    /// In the old Tracker's order; `seq` is the event's cursor in the old Tracker's log.
    pub events: Vec<TrackingEvent>,
}

/// The answer: the highest old cursor the successor holds.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Received {
    pub received: u64,
}

/// Prepares the old root of a Tracker that hands over: events recorded until now went
/// with the copy, so hand-over starts at the end of its log. Returns that position.
pub fn prepare(data: &Path) -> std::io::Result<u64> {
    let dir = data.join("events");
    let end = if dir.exists() { segments_end(&dir)? } else { 0 };
    std::fs::create_dir_all(&dir)?;
    save_mark(&dir, HANDED_OVER, end)?;
    Ok(end)
}

fn new_event(e: TrackingEvent) -> Result<NewEvent, String> {
    let origin = u64::try_from(e.seq)
        .ok()
        .filter(|s| *s > 0)
        .ok_or_else(|| format!("event seq {} is not a cursor", e.seq))?;
    if !valid_job_id(&e.job) {
        return Err(format!("\"{}\" is not a job id", e.job));
    }
    Ok(NewEvent {
        job: e.job,
        kind: e.kind,
        link: e.link,
        recipient: e.recipient,
        at: e.at,
        agent: e.agent,
        flags: flags_of(&e.machine)?,
        origin: Some(origin),
    })
}

/// `POST /trk/api/handover`.
#[utoipa::path(post, path = "/handover", tag = "tracker", request_body = HandOver,
    responses(
        (status = 200, body = Received, description = "once the events are durable; events already held are skipped"),
        (status = 422, body = ErrorBody, description = "an unknown flag, a bad job id or cursors out of order")))]
pub async fn receive(
    State(state): State<Arc<TrkState>>,
    Json(body): Json<HandOver>,
) -> Result<Json<Received>, ApiError> {
    let mut events = Vec::with_capacity(body.events.len());
    let mut last = 0;
    for (i, e) in body.events.into_iter().enumerate() {
        let event = new_event(e).map_err(|m| {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, format!("event {i}: {m}"))
        })?;
        let origin = event.origin.unwrap_or(0);
        if origin <= last {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("event {i}: seq {origin} is not after the one before ({last})"),
            ));
        }
        last = origin;
        events.push(event);
    }
    let received = state
        .events
        .receive(events)
        .await
        .map_err(|e| ApiError::internal("cannot write the event log", anyhow::anyhow!(e)))?;
    Ok(Json(Received { received }))
}

/// Sends every event recorded after the hand-over to `successor`, until shutdown.
pub fn spawn(
    ctx: &ComponentContext,
    state: Arc<TrkState>,
    successor: HostPort,
    secret: ClusterSecret,
) -> tokio::task::JoinHandle<()> {
    let dir = ctx.root.join(Component::Trk.data_dir()).join("events");
    let client = PeerClient::new(ctx.http.clone(), successor, Component::Trk, secret);
    let mut shutdown = ctx.shutdown.clone();
    let task = async move {
        let mut handed: i64 = read_mark(&dir.join(HANDED_OVER)).unwrap_or(0);
        tracing::info!(
            "handing every event over to the Tracker at {} (from position {handed})",
            client.url("")
        );
        let mut failures = 0u32;
        loop {
            let wait = match hand_over_once(&state, &client, handed).await {
                Ok(Some(next)) => {
                    handed = next;
                    if let Err(e) = save_mark(&dir, HANDED_OVER, handed) {
                        tracing::error!("cannot save how far events are handed over: {e}");
                    }
                    if failures > 0 {
                        tracing::info!(
                            "the successor Tracker answers again after {failures} failed attempts"
                        );
                        failures = 0;
                    }
                    continue;
                }
                Ok(None) => Duration::from_secs(1),
                Err(e) => {
                    if failures == 0 {
                        tracing::warn!(
                            "cannot hand events over (they wait here, nothing is lost): {e}"
                        );
                    }
                    failures += 1;
                    Duration::from_secs(1 << failures.min(5)).min(MOST_BACKOFF)
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.wait() => return,
            }
        }
    };
    tokio::spawn(task.instrument(component_span(Component::Trk)))
}

/// Hands over the events after `handed`; the new position, or `None` when there were none.
async fn hand_over_once(
    state: &TrkState,
    client: &PeerClient,
    handed: i64,
) -> anyhow::Result<Option<i64>> {
    let page = state
        .events
        .page(handed, BATCH)
        .await
        .map_err(|e| anyhow::anyhow!("cannot read the event log: {e}"))?;
    if page.events.is_empty() {
        return Ok(None);
    }
    let _: Received = client
        .post(
            "/api/handover",
            &HandOver {
                events: page.events,
            },
        )
        .await?;
    Ok(Some(page.next))
}
