//! The Tracker's endpoints: the public open, click and unsubscribe URLs (which answer at
//! once and never wait on another component), and the component API for link tables and
//! the event feed.

use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde::Deserialize;
use tutti_core::Component;
use tutti_core::api::{ErrorBody, EventKind, EventPage, JobRegistration, TrackingType};
use tutti_core::fast_route::FastRoute;
use tutti_core::http_error::ApiError;
use tutti_core::metrics::{Counter, Metrics};
use tutti_core::runtime::component_span;
use tutti_core::token::{Token, TokenKind, parse};

use crate::TrkState;
use crate::classify::{HEAD, TOO_FAST, TOO_FAST_SECONDS, classify};
use crate::events::{FeedError, NewEvent};
use crate::jobs::{Job, RegisterError, Registered, redirect_target};

/// A transparent 1×1 GIF.
const PIXEL: [u8; 43] = [
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
];

const NOT_FOUND_PAGE: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Link not found</title></head>\
<body style=\"font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem\">\
<h1>This link is not valid</h1><p>The address may have been cut off or changed. Please use the link in the message again, or copy it whole.</p></body></html>";

/// The answer to every token that is forged, broken or unknown: a small page, never a
/// redirect.
fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CACHE_CONTROL, "no-store")],
        Html(NOT_FOUND_PAGE),
    )
        .into_response()
}

/// The `ref` parameter, as it stands in the URL (tokens are base64url: nothing to decode).
fn ref_param(uri: &Uri) -> Option<&str> {
    uri.query()?
        .split('&')
        .find_map(|pair| pair.strip_prefix("ref="))
}

/// The token and its job, if the token is genuine and of the expected kind.
fn verified(state: &TrkState, uri: &Uri, kind: TokenKind) -> Option<(Token, Arc<Job>)> {
    let unverified = parse(ref_param(uri)?).ok()?;
    let job = state.jobs.get(&unverified.token.job)?;
    let token = unverified.verify(&job.key).ok()?;
    (token.kind == kind).then_some((token, job))
}

fn user_agent(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
}

/// The count of recorded events per kind, resolved once.
pub struct Recorded {
    open: Counter,
    click: Counter,
    unsubscribe: Counter,
}

impl Recorded {
    pub fn new(metrics: &Metrics) -> Recorded {
        let by = metrics.counter_by("tracker_events", "Events recorded durably, by kind", "kind");
        Recorded {
            open: by.get("open"),
            click: by.get("click"),
            unsubscribe: by.get("unsubscribe"),
        }
    }

    fn of(&self, kind: EventKind) -> &Counter {
        match kind {
            EventKind::Open => &self.open,
            EventKind::Click => &self.click,
            EventKind::Unsubscribe => &self.unsubscribe,
        }
    }
}

/// Records an event and waits until it is durable. A failure to write is logged loudly;
/// the person still gets their page or redirect. An unsubscribe is always a person's act:
/// it gets no machine flags.
async fn record(
    state: &TrkState,
    job: &Job,
    token: &Token,
    kind: EventKind,
    method: &Method,
    headers: &HeaderMap,
) {
    let (agent, ua_flags) = classify(user_agent(headers));
    let now = Utc::now();
    let flags = if kind == EventKind::Unsubscribe {
        0
    } else {
        machine_flags(method, token, kind, now) | ua_flags
    };
    // Blind tracking keeps counts only: no recipient key, and the time only to the minute,
    // so that an event cannot be matched to one recipient by when their message went out.
    let (recipient, at) = match job.registration.tracking {
        TrackingType::Blind => (
            None,
            now.duration_trunc(TimeDelta::minutes(1)).unwrap_or(now),
        ),
        _ => (Some(token.recipient), now),
    };
    let event = NewEvent {
        job: token.job.clone(),
        kind,
        link: (kind == EventKind::Click).then_some(token.link),
        recipient,
        at,
        agent,
        flags,
        origin: None,
    };
    let recorded = state.events.record(event).await;
    if recorded.is_ok() {
        state.recorded.of(kind).inc();
    }
    if let Err(e) = recorded {
        let _span = component_span(Component::Trk).entered();
        tracing::error!(
            "a {kind:?} event of job {} was not recorded: {e}",
            token.job
        );
    }
}

fn machine_flags(method: &Method, token: &Token, kind: EventKind, now: DateTime<Utc>) -> u32 {
    let mut flags = 0;
    if method == Method::HEAD {
        flags |= HEAD;
    }
    let now = u64::try_from(now.timestamp()).unwrap_or(0);
    if kind == EventKind::Click
        && token.sent_at > 0
        && now.saturating_sub(token.sent_at) < TOO_FAST_SECONDS
    {
        flags |= TOO_FAST;
    }
    flags
}

/// The two URLs every message carries.
#[derive(Clone, Copy)]
enum Hot {
    Click,
    Open,
}

/// The open and click URLs, answered ahead of the router (they are the hot path: see
/// `tutti_core::fast_route`). They log in the component's span only when something goes
/// wrong.
pub fn fast_routes(state: &Arc<TrkState>, metrics: &Metrics) -> Vec<FastRoute> {
    let route = |path: &'static str, route: &str, hot: Hot| {
        let shared = Arc::new((state.clone(), metrics.route_meter(route)));
        FastRoute::new(path, move |request: Parts| {
            let shared = shared.clone();
            async move {
                let (state, meter) = &*shared;
                let started = Instant::now();
                let response = match hot {
                    Hot::Click => click(state, &request).await,
                    Hot::Open => open(state, &request).await,
                };
                meter.observe(&request.method, response.status(), started);
                response
            }
        })
    };
    vec![
        route("/trk/click", "/click", Hot::Click),
        route("/trk/open", "/open", Hot::Open),
    ]
}

/// `GET`/`HEAD /trk/click?ref=TOKEN`: 302 to the link's target.
async fn click(state: &TrkState, request: &Parts) -> Response {
    let Some((token, job)) = verified(state, &request.uri, TokenKind::Click) else {
        return not_found();
    };
    let Ok(index) = usize::try_from(token.link) else {
        return not_found();
    };
    let Some(link) = job.registration.links.get(index) else {
        return not_found();
    };
    let location = if link.merged {
        token
            .target
            .as_deref()
            .and_then(redirect_target)
            .and_then(|t| HeaderValue::from_str(&t).ok())
    } else {
        job.locations.get(index).cloned().flatten()
    };
    let Some(location) = location else {
        return not_found();
    };
    if link.tracked {
        record(
            state,
            &job,
            &token,
            EventKind::Click,
            &request.method,
            &request.headers,
        )
        .await;
    }
    (
        StatusCode::FOUND,
        [
            (header::LOCATION, location),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
    )
        .into_response()
}

/// `GET`/`HEAD /trk/open?ref=TOKEN`: a 1×1 GIF that no cache keeps.
async fn open(state: &TrkState, request: &Parts) -> Response {
    let Some((token, job)) = verified(state, &request.uri, TokenKind::Open) else {
        return not_found();
    };
    if job.registration.opens {
        record(
            state,
            &job,
            &token,
            EventKind::Open,
            &request.method,
            &request.headers,
        )
        .await;
    }
    (
        [
            (header::CONTENT_TYPE, "image/gif"),
            (
                header::CACHE_CONTROL,
                "no-store, no-cache, must-revalidate, max-age=0",
            ),
            (header::PRAGMA, "no-cache"),
            (header::EXPIRES, "0"),
        ],
        PIXEL,
    )
        .into_response()
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title></head><body style=\"font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem\">\
         <h1>{title}</h1>{body}</body></html>"
    ))
}

/// `GET /trk/unsubscribe?ref=TOKEN`: asks for confirmation. A GET never unsubscribes:
/// scanners and prefetchers follow links.
pub async fn unsubscribe_page(State(state): State<Arc<TrkState>>, uri: Uri) -> Response {
    if verified(&state, &uri, TokenKind::Unsubscribe).is_none() {
        return not_found();
    }
    let form = "<p>Do you want to stop receiving these messages?</p>\
                <form method=\"post\"><button type=\"submit\" style=\"font-size:1.1rem;padding:.5rem 1.2rem\">Unsubscribe</button></form>";
    (
        [(header::CACHE_CONTROL, "no-store")],
        page("Unsubscribe", form),
    )
        .into_response()
}

/// `POST /trk/unsubscribe?ref=TOKEN`: the confirmation, and the RFC 8058 one-click target
/// of `List-Unsubscribe-Post`. Recorded at once, always as a person's act.
pub async fn unsubscribe(
    State(state): State<Arc<TrkState>>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let Some((token, job)) = verified(&state, &uri, TokenKind::Unsubscribe) else {
        return not_found();
    };
    record(
        &state,
        &job,
        &token,
        EventKind::Unsubscribe,
        &Method::POST,
        &headers,
    )
    .await;
    (
        [(header::CACHE_CONTROL, "no-store")],
        page(
            "You are unsubscribed",
            "<p>You will not receive these messages any more.</p>",
        ),
    )
        .into_response()
}

/// `PUT /trk/api/jobs/{job}`.
#[utoipa::path(put, path = "/jobs/{job}", tag = "tracker",
    params(("job" = String, Path, description = "the job's id")),
    request_body(content = JobRegistration, description = "the job's key, tracking type and links, numbered from 0 in order"),
    responses(
        (status = 201, description = "registered, stored on disk"),
        (status = 200, description = "the same table again"),
        (status = 409, body = ErrorBody, description = "a different table for a registered job: links already sent keep their meaning"),
        (status = 422, body = ErrorBody, description = "a bad field")))]
pub async fn register_job(
    State(state): State<Arc<TrkState>>,
    Path(id): Path<String>,
    Json(registration): Json<JobRegistration>,
) -> Result<StatusCode, ApiError> {
    match state.jobs.register(id.clone(), registration).await {
        Ok(Registered::New) => {
            tracing::info!("job {id} registered");
            Ok(StatusCode::CREATED)
        }
        Ok(Registered::Same) => Ok(StatusCode::OK),
        Err(RegisterError::Invalid(m)) => Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, m)),
        Err(RegisterError::Conflict(m)) => Err(ApiError::new(StatusCode::CONFLICT, m)),
        Err(RegisterError::Failed(e)) => Err(ApiError::internal("cannot store the link table", e)),
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct FeedQuery {
    /// 0, or the `next` of an earlier page.
    #[serde(default)]
    after: i64,
    /// At most this many events (1 to 10000; 1000 when left out).
    #[serde(default)]
    limit: Option<u32>,
}

/// `GET /trk/api/events?after=CURSOR&limit=N`.
///
/// Reading after a cursor tells the Tracker that everything up to it is imported; such
/// events are deleted once older than `EventRetentionDays`.
#[utoipa::path(get, path = "/events", tag = "tracker", params(FeedQuery),
    responses(
        (status = 200, body = EventPage, description = "the events after the cursor, in order, and the next cursor"),
        (status = 400, body = ErrorBody, description = "not a cursor this Tracker gave out")))]
pub async fn events(
    State(state): State<Arc<TrkState>>,
    Query(q): Query<FeedQuery>,
) -> Result<Json<EventPage>, ApiError> {
    if q.after < 0 {
        return Err(ApiError::bad_request(
            "after must be 0 or a cursor from an earlier page",
        ));
    }
    state
        .events
        .page(q.after, q.limit.unwrap_or(1000))
        .await
        .map(Json)
        .map_err(|e| match e {
            FeedError::BadCursor(_) => ApiError::bad_request(e.to_string()),
            FeedError::Io(e) => ApiError::internal("cannot read the event log", e),
        })
}
