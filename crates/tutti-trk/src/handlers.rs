//! The Tracker's endpoints: the public open, click and unsubscribe URLs (which answer at
//! once and never wait on another component), and the component API for link tables and
//! the event feed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde::Deserialize;
use tutti_core::Component;
use tutti_core::api::{ErrorBody, EventKind, EventPage, JobRegistration, TrackingType};
use tutti_core::fast_route::FastRoute;
use tutti_core::hot_http::{Durable, HotPaths, HotRequest, Reply};
use tutti_core::http_error::ApiError;
use tutti_core::metrics::{Counter, Metrics, RouteMeter};
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

/// The headers of each page besides `location` (lower-case names, as HTTP/2 wants them).
const REDIRECT_HEADERS: &[(&str, &str)] = &[("cache-control", "no-store")];
const PIXEL_HEADERS: &[(&str, &str)] = &[
    ("content-type", "image/gif"),
    (
        "cache-control",
        "no-store, no-cache, must-revalidate, max-age=0",
    ),
    ("pragma", "no-cache"),
    ("expires", "0"),
];
const NOT_FOUND_HEADERS: &[(&str, &str)] = &[
    ("content-type", "text/html; charset=utf-8"),
    ("cache-control", "no-store"),
];

/// What an open or click URL answers.
pub(crate) enum Page {
    Redirect(HeaderValue),
    Pixel,
    /// The answer to every token that is forged, broken or unknown: a small page, never a
    /// redirect.
    NotFound,
}

impl Page {
    fn status(&self) -> StatusCode {
        match self {
            Page::Redirect(_) => StatusCode::FOUND,
            Page::Pixel => StatusCode::OK,
            Page::NotFound => StatusCode::NOT_FOUND,
        }
    }

    /// Its headers: `location` for a redirect, then those every such page has.
    fn headers(&self) -> impl Iterator<Item = (&'static str, &[u8])> {
        let (location, fixed) = match self {
            Page::Redirect(location) => (Some(location.as_bytes()), REDIRECT_HEADERS),
            Page::Pixel => (None, PIXEL_HEADERS),
            Page::NotFound => (None, NOT_FOUND_HEADERS),
        };
        location
            .map(|l| ("location", l))
            .into_iter()
            .chain(fixed.iter().map(|(name, value)| (*name, value.as_bytes())))
    }

    fn body(&self) -> &'static [u8] {
        match self {
            Page::Redirect(_) => b"",
            Page::Pixel => &PIXEL,
            Page::NotFound => NOT_FOUND_PAGE.as_bytes(),
        }
    }

    fn response(&self) -> Response {
        let mut response = Response::new(Body::from(self.body()));
        *response.status_mut() = self.status();
        for (name, value) in self.headers() {
            if let Ok(value) = HeaderValue::from_bytes(value) {
                response
                    .headers_mut()
                    .insert(HeaderName::from_static(name), value);
            }
        }
        response
    }

    /// Fills in the head of an event loop's answer.
    fn reply(&self, reply: &mut Reply) {
        reply.status = self.status();
        for (name, value) in self.headers() {
            reply.header(name, value);
        }
        reply.body(self.body());
    }
}

fn not_found() -> Response {
    Page::NotFound.response()
}

/// The `ref` parameter, as it stands in the URL (tokens are base64url: nothing to decode).
fn ref_param(query: Option<&str>) -> Option<&str> {
    query?.split('&').find_map(|pair| pair.strip_prefix("ref="))
}

/// The token and its job, if the token is genuine and of the expected kind.
fn verified(state: &TrkState, query: Option<&str>, kind: TokenKind) -> Option<(Token, Arc<Job>)> {
    let unverified = parse(ref_param(query)?).ok()?;
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

/// What a batch holds, to count once it is written or to report if it is not.
struct Tally {
    kinds: Vec<(EventKind, u64)>,
    /// The first event's kind and job.
    first: Option<(EventKind, String)>,
}

impl Tally {
    fn of(events: &[NewEvent]) -> Tally {
        let mut kinds: Vec<(EventKind, u64)> = Vec::new();
        for event in events {
            match kinds.iter_mut().find(|(k, _)| *k == event.kind) {
                Some((_, n)) => *n += 1,
                None => kinds.push((event.kind, 1)),
            }
        }
        Tally {
            kinds,
            first: events.first().map(|e| (e.kind, e.job.clone())),
        }
    }

    fn written(&self, recorded: &Recorded) {
        for (kind, n) in &self.kinds {
            recorded.of(*kind).inc_by(*n);
        }
    }

    /// A failure to write is logged loudly; the person still gets their page or redirect.
    fn not_written(&self, e: &str) {
        let _span = component_span(Component::Trk).entered();
        let n: u64 = self.kinds.iter().map(|(_, n)| n).sum();
        let Some((kind, job)) = &self.first else {
            return;
        };
        if n == 1 {
            tracing::error!("a {kind:?} event of job {job} was not recorded: {e}");
        } else {
            tracing::error!(
                "{n} tracking events were not recorded, the first a {kind:?} event of job {job}: {e}"
            );
        }
    }
}

/// A request for a tracking URL, as either server read it.
struct Visit<'a> {
    query: Option<&'a str>,
    head: bool,
    user_agent: Option<&'a str>,
    at: DateTime<Utc>,
}

impl<'a> Visit<'a> {
    fn of(request: &'a Parts) -> Visit<'a> {
        Visit {
            query: request.uri.query(),
            head: request.method == Method::HEAD,
            user_agent: user_agent(&request.headers),
            at: Utc::now(),
        }
    }
}

/// The event a request makes. An unsubscribe is always a person's act: it gets no
/// machine flags.
fn new_event(job: &Job, token: &Token, kind: EventKind, visit: &Visit<'_>) -> NewEvent {
    let (agent, ua_flags) = classify(visit.user_agent);
    let now = visit.at;
    let flags = if kind == EventKind::Unsubscribe {
        0
    } else {
        machine_flags(visit.head, token, kind, now) | ua_flags
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
    NewEvent {
        job: token.job.clone(),
        kind,
        link: (kind == EventKind::Click).then_some(token.link),
        recipient,
        at,
        agent,
        flags,
        origin: None,
    }
}

/// Records an event and waits until it is durable.
async fn record(state: &TrkState, event: NewEvent) {
    let tally = Tally::of(std::slice::from_ref(&event));
    match state.events.record(event).await {
        Ok(_) => tally.written(&state.recorded),
        Err(e) => tally.not_written(&e),
    }
}

fn machine_flags(head: bool, token: &Token, kind: EventKind, now: DateTime<Utc>) -> u32 {
    let mut flags = 0;
    if head {
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

/// The two URLs every message carries, in the order of [`HOT_PATHS`].
#[derive(Clone, Copy)]
enum Hot {
    Click,
    Open,
}

const HOT_PATHS: [&str; 2] = ["/trk/click", "/trk/open"];
const HOT: [Hot; 2] = [Hot::Click, Hot::Open];

/// What an open or click URL answers, and the event to make durable before it does.
fn answer(state: &TrkState, hot: Hot, visit: &Visit<'_>) -> (Page, Option<NewEvent>) {
    match hot {
        Hot::Click => click(state, visit),
        Hot::Open => open(state, visit),
    }
    .unwrap_or((Page::NotFound, None))
}

/// The open and click URLs, answered ahead of the router (they are the hot path: see
/// `tutti_core::fast_route`); what HTTPS and the requests the event loops hand over use.
/// They log in the component's span only when something goes wrong.
pub fn fast_routes(state: &Arc<TrkState>, metrics: &Metrics) -> Vec<FastRoute> {
    HOT_PATHS
        .iter()
        .zip(HOT)
        .map(|(&path, hot)| {
            let shared = Arc::new((state.clone(), metrics.route_meter(route_name(path))));
            FastRoute::new(path, move |request: Parts| {
                let shared = shared.clone();
                async move {
                    let (state, meter) = &*shared;
                    let started = Instant::now();
                    let (page, event) = answer(state, hot, &Visit::of(&request));
                    if let Some(event) = event {
                        record(state, event).await;
                    }
                    let response = page.response();
                    meter.observe(&request.method, response.status(), started);
                    response
                }
            })
        })
        .collect()
}

/// A hot path as the metrics name it (below the component's prefix).
fn route_name(path: &'static str) -> &'static str {
    path.strip_prefix("/trk").unwrap_or(path)
}

/// The open and click URLs on the plain-HTTP listener, served by event loops that make
/// the events of each pass durable together (see `tutti_core::hot_http`).
pub struct HotUrls {
    state: Arc<TrkState>,
    meters: Vec<RouteMeter>,
}

impl HotUrls {
    pub fn new(state: &Arc<TrkState>, metrics: &Metrics) -> HotUrls {
        HotUrls {
            state: state.clone(),
            meters: HOT_PATHS
                .iter()
                .map(|p| metrics.route_meter(route_name(p)))
                .collect(),
        }
    }
}

impl HotPaths for HotUrls {
    type Batch = Vec<NewEvent>;

    fn paths(&self) -> &[&'static str] {
        &HOT_PATHS
    }

    fn answer(
        &self,
        request: &HotRequest<'_>,
        reply: &mut Reply,
        batch: &mut Vec<NewEvent>,
    ) -> bool {
        let hot = HOT.get(request.route).copied().unwrap_or(Hot::Open);
        let visit = Visit {
            query: request.query,
            head: request.head,
            user_agent: request.user_agent,
            at: request.received.into(),
        };
        let (page, event) = answer(&self.state, hot, &visit);
        page.reply(reply);
        event.map(|e| batch.push(e)).is_some()
    }

    fn commit(&self, batch: Vec<NewEvent>, durable: Durable) {
        let state = self.state.clone();
        let tally = Tally::of(&batch);
        self.state.events.record_many(batch, move |written| {
            match written {
                Ok(()) => tally.written(&state.recorded),
                Err(e) => tally.not_written(&e),
            }
            drop(durable);
        });
    }

    fn answered(&self, route: usize, head: bool, status: StatusCode, took: Duration) {
        if let Some(meter) = self.meters.get(route) {
            let method = if head { Method::HEAD } else { Method::GET };
            meter.observe_took(&method, status, took);
        }
    }
}

/// `GET`/`HEAD /trk/click?ref=TOKEN`: 302 to the link's target.
fn click(state: &TrkState, visit: &Visit<'_>) -> Option<(Page, Option<NewEvent>)> {
    let (token, job) = verified(state, visit.query, TokenKind::Click)?;
    let index = usize::try_from(token.link).ok()?;
    let link = job.registration.links.get(index)?;
    let location = if link.merged {
        token
            .target
            .as_deref()
            .and_then(redirect_target)
            .and_then(|t| HeaderValue::from_str(&t).ok())
    } else {
        job.locations.get(index).cloned().flatten()
    }?;
    let event = link
        .tracked
        .then(|| new_event(&job, &token, EventKind::Click, visit));
    Some((Page::Redirect(location), event))
}

/// `GET`/`HEAD /trk/open?ref=TOKEN`: a 1×1 GIF that no cache keeps.
fn open(state: &TrkState, visit: &Visit<'_>) -> Option<(Page, Option<NewEvent>)> {
    let (token, job) = verified(state, visit.query, TokenKind::Open)?;
    let event = job
        .registration
        .opens
        .then(|| new_event(&job, &token, EventKind::Open, visit));
    Some((Page::Pixel, event))
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
    if verified(&state, uri.query(), TokenKind::Unsubscribe).is_none() {
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
    let Some((token, job)) = verified(&state, uri.query(), TokenKind::Unsubscribe) else {
        return not_found();
    };
    let visit = Visit {
        query: uri.query(),
        head: false,
        user_agent: user_agent(&headers),
        at: Utc::now(),
    };
    let event = new_event(&job, &token, EventKind::Unsubscribe, &visit);
    record(&state, event).await;
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
