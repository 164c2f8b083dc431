//! Each component's Prometheus metrics, at `GET /{component}/metrics` in the text format:
//! requests and their latency by route (for every component), and what the component adds
//! (events recorded, messages sent, recipients imported, queue depths).
//!
//! Who may read them: with `MetricsToken` in server.ini, whoever sends it as a bearer
//! token; without it, callers on this machine only (loopback), because a Tracker faces the
//! Internet.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
pub use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
pub use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Metric, Registry};
use subtle::ConstantTimeEq;

use crate::Component;

type Refresh = Box<dyn Fn() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// Upper bounds of the latency buckets, in seconds: 0.1 ms to 5 s.
const LATENCY_BUCKETS: [f64; 15] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

struct Inner {
    component: Component,
    registry: Mutex<Registry>,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    /// Run before each scrape: gauges read from stores (queue depths).
    refreshers: Mutex<Vec<Arc<Refresh>>>,
    /// Each route's metrics, found by the route as the router matched it: a request costs
    /// a lookup by `&str`, not the label strings a family lookup would build.
    routes: RwLock<HashMap<String, Arc<RouteMetrics>>>,
}

struct RouteMetrics {
    /// As the metrics name it, with the component's prefix.
    route: String,
    latency: Histogram,
    /// By method and status; few per route.
    answers: RwLock<Vec<(Method, u16, Counter)>>,
}

impl Inner {
    fn route(&self, matched: &str) -> Arc<RouteMetrics> {
        if let Some(r) = read(&self.routes).get(matched) {
            return r.clone();
        }
        let prefix = self.component.prefix();
        // A route of a nested router is seen without the component's prefix.
        let route = if matched.starts_with(prefix) {
            matched.to_string()
        } else {
            format!("{prefix}{matched}")
        };
        let latency = self
            .latency
            .get_or_create(&RouteLabels {
                route: route.clone(),
            })
            .clone();
        let metrics = Arc::new(RouteMetrics {
            route,
            latency,
            answers: RwLock::new(Vec::new()),
        });
        write(&self.routes)
            .entry(matched.to_string())
            .or_insert(metrics)
            .clone()
    }

    fn answer(&self, route: &RouteMetrics, method: &Method, status: u16) -> Counter {
        let found = read(&route.answers)
            .iter()
            .find(|(m, s, _)| m == method && *s == status)
            .map(|(_, _, c)| c.clone());
        if let Some(counter) = found {
            return counter;
        }
        let counter = self
            .requests
            .get_or_create(&RequestLabels {
                route: route.route.clone(),
                method: method.as_str().to_string(),
                status,
            })
            .clone();
        write(&route.answers).push((method.clone(), status, counter.clone()));
        counter
    }
}

// The maps only grow by whole entries: a panic elsewhere cannot leave one half-written.
fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|e| e.into_inner())
}

/// One component's metrics. Cheap to clone.
#[derive(Clone)]
pub struct Metrics(Arc<Inner>);

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Metrics({})", self.0.component.name())
    }
}

impl Metrics {
    pub fn new(component: Component) -> Metrics {
        let mut registry = Registry::with_prefix("tutti");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route, method and status",
            requests.clone(),
        );
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(LATENCY_BUCKETS.iter().copied())
        });
        registry.register(
            "http_request_duration_seconds",
            "Time from request to the answer's headers, by route",
            latency.clone(),
        );
        Metrics(Arc::new(Inner {
            component,
            registry: Mutex::new(registry),
            requests,
            latency,
            refreshers: Mutex::new(Vec::new()),
            routes: RwLock::new(HashMap::new()),
        }))
    }

    /// Adds a metric of the component (its name gets the `tutti_` prefix).
    pub fn register(&self, name: &str, help: &str, metric: impl Metric) {
        self.0
            .registry
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .register(name, help, metric);
    }

    /// A counter of the component (`tutti_{name}_total`).
    pub fn counter(&self, name: &str, help: &str) -> Counter {
        let counter = Counter::default();
        self.register(name, help, counter.clone());
        counter
    }

    /// A counter per value of one label (`tutti_{name}_total{label="..."}`).
    pub fn counter_by(&self, name: &str, help: &str, label: &'static str) -> CounterBy {
        let family = Family::default();
        self.register(name, help, family.clone());
        CounterBy { label, family }
    }

    /// A gauge of the component, usually set by an `on_scrape` refresher.
    pub fn gauge(&self, name: &str, help: &str) -> Gauge {
        let gauge = Gauge::default();
        self.register(name, help, gauge.clone());
        gauge
    }

    /// Runs `refresh` before every scrape (to read a gauge's value from a store).
    pub fn on_scrape<F, Fut>(&self, refresh: F)
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let boxed: Refresh = Box::new(move || Box::pin(refresh()));
        self.0
            .refreshers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Arc::new(boxed));
    }

    /// The text exposition of every metric, refreshed.
    pub async fn render(&self) -> String {
        let refreshers: Vec<Arc<Refresh>> = self
            .0
            .refreshers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for refresh in refreshers {
            refresh().await;
        }
        let mut text = String::new();
        let registry = self.0.registry.lock().unwrap_or_else(|e| e.into_inner());
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &registry);
        text
    }
}

/// The request metrics of a route answered outside the router (a `fast_route`): the same
/// series the `measure` middleware keeps for routed requests.
#[derive(Clone)]
pub struct RouteMeter {
    metrics: Metrics,
    route: Arc<RouteMetrics>,
}

impl RouteMeter {
    /// Counts an answer and the time since `started`.
    pub fn observe(&self, method: &Method, status: StatusCode, started: Instant) {
        self.observe_took(method, status, started.elapsed());
    }

    /// Counts an answer that took `took`.
    pub fn observe_took(&self, method: &Method, status: StatusCode, took: Duration) {
        self.route.latency.observe(took.as_secs_f64());
        self.metrics
            .0
            .answer(&self.route, method, status.as_u16())
            .inc();
    }
}

impl Metrics {
    /// The meter of `route` (below the component's prefix, as the router would match it).
    pub fn route_meter(&self, route: &str) -> RouteMeter {
        RouteMeter {
            metrics: self.clone(),
            route: self.0.route(route),
        }
    }
}

/// Counters told apart by the value of one label.
#[derive(Clone, Debug)]
pub struct CounterBy {
    label: &'static str,
    family: Family<Vec<(&'static str, String)>, Counter>,
}

impl CounterBy {
    /// The counter for `value` (keep it where the same value is counted often).
    pub fn get(&self, value: &str) -> Counter {
        self.family
            .get_or_create(&vec![(self.label, value.to_string())])
            .clone()
    }

    pub fn inc_by(&self, value: &str, n: u64) {
        self.get(value).inc_by(n);
    }
}

/// Middleware (as a route layer, so the route is known): counts and times each request.
pub async fn measure(State(metrics): State<Metrics>, request: Request, next: Next) -> Response {
    let inner = &metrics.0;
    let route = inner.route(
        request
            .extensions()
            .get::<MatchedPath>()
            .map_or("unmatched", MatchedPath::as_str),
    );
    let method = request.method().clone();
    let started = Instant::now();
    let response = next.run(request).await;
    route.latency.observe(started.elapsed().as_secs_f64());
    inner
        .answer(&route, &method, response.status().as_u16())
        .inc();
    response
}

/// Who may read the metrics.
#[derive(Clone)]
pub struct MetricsAccess {
    pub metrics: Metrics,
    /// `MetricsToken`; `None`: loopback callers only.
    pub token: Option<String>,
}

/// `GET /{component}/metrics`.
pub async fn endpoint(
    State(access): State<MetricsAccess>,
    peer: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
) -> Response {
    let allowed = match &access.token {
        Some(token) => headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|given| bool::from(given.as_bytes().ct_eq(token.as_bytes()))),
        None => peer.is_some_and(|p| p.0.0.ip().is_loopback()),
    };
    if !allowed {
        let why = if access.token.is_some() {
            "send MetricsToken (server.ini) as a bearer token"
        } else {
            "metrics are answered on this machine only; set MetricsToken in server.ini to scrape them from another"
        };
        return (StatusCode::FORBIDDEN, format!("{why}\n")).into_response();
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        access.metrics.render().await,
    )
        .into_response()
}
