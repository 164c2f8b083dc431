//! Routes answered ahead of the router: a component's hot path (the Tracker's open and
//! click URLs, which every message sent carries and which a large send makes busy). A
//! fast route skips routing, extractors, request extensions and middleware; it answers
//! `GET` and `HEAD` and keeps its own request metrics (see `metrics::RouteMeter`).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Bytes, HttpBody};
use axum::http::{HeaderValue, Method, Request, StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Response};
use axum::routing::future::RouteFuture;
use axum::{BoxError, Router};
use tower::Service;

/// The answer of a fast route to a request's head.
pub type FastAnswer =
    Arc<dyn Fn(Parts) -> Pin<Box<dyn Future<Output = Response> + Send>> + Send + Sync>;

/// A path answered ahead of the router.
#[derive(Clone)]
pub struct FastRoute {
    /// The whole path, with the component's prefix (`/trk/click`).
    pub path: &'static str,
    pub answer: FastAnswer,
}

impl FastRoute {
    pub fn new<F, Fut>(path: &'static str, answer: F) -> FastRoute
    where
        F: Fn(Parts) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response> + Send + 'static,
    {
        FastRoute {
            path,
            answer: Arc::new(move |parts| Box::pin(answer(parts))),
        }
    }
}

/// The router with fast routes in front of it.
#[derive(Clone)]
pub struct WithFastRoutes {
    routes: Arc<[FastRoute]>,
    router: Router,
}

impl WithFastRoutes {
    pub fn new(routes: Vec<FastRoute>, router: Router) -> WithFastRoutes {
        WithFastRoutes {
            routes: routes.into(),
            router,
        }
    }
}

/// The future of an answer, fast or routed.
#[allow(
    clippy::large_enum_variant,
    reason = "it is polled in place; boxing the routed future would cost every other request an allocation"
)]
pub enum Answer {
    Fast(Pin<Box<dyn Future<Output = Response> + Send>>),
    Routed(RouteFuture<Infallible>),
}

impl Future for Answer {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // Both variants are Unpin (a boxed future, axum's route future).
        match self.get_mut() {
            Answer::Fast(f) => f.as_mut().poll(cx).map(Ok),
            Answer::Routed(f) => Pin::new(f).poll(cx),
        }
    }
}

fn method_not_allowed() -> Response {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        [(header::ALLOW, HeaderValue::from_static("GET, HEAD"))],
    )
        .into_response()
}

impl<B> Service<Request<B>> for WithFastRoutes
where
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Answer;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Answer {
        let path = request.uri().path();
        if let Some(route) = self.routes.iter().find(|r| r.path == path) {
            if !matches!(*request.method(), Method::GET | Method::HEAD) {
                return Answer::Fast(Box::pin(std::future::ready(method_not_allowed())));
            }
            let (parts, _) = request.into_parts();
            return Answer::Fast((route.answer)(parts));
        }
        Answer::Routed(self.router.call(request))
    }
}
