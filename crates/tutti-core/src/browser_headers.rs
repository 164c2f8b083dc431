//! The headers every answer of a component carries for browsers: what a page may not be
//! (framed by another site, sniffed as another type, cached on a shared computer) and what
//! it may not leak (its address, in the `Referer` of a link followed from it).
//!
//! A handler that sets one of these headers itself keeps its own value: the logo and the
//! User Interface's script are cached, the Tracker's GIF has its own cache rules.

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// Each header and the value it gets when the handler did not set it.
const DEFAULTS: [(HeaderName, &str); 5] = [
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    // Older browsers read only this one; the policy's `frame-ancestors` says the same.
    (header::X_FRAME_OPTIONS, "DENY"),
    (
        header::CONTENT_SECURITY_POLICY,
        "frame-ancestors 'none'; object-src 'none'; base-uri 'none'",
    ),
    // Job and report addresses stay on the server when a link in a page leads elsewhere.
    (header::REFERRER_POLICY, "same-origin"),
    // Pages show recipients and reports: the browser keeps no copy that the Back button
    // would show after logging out.
    (header::CACHE_CONTROL, "no-store"),
];

/// Middleware: adds the headers of [`DEFAULTS`] the answer does not have.
pub async fn add(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    fill_in(response.headers_mut());
    response
}

fn fill_in(headers: &mut HeaderMap) {
    for (name, value) in DEFAULTS {
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    }
}

/// Whether the request's `If-None-Match` names `etag` (quoted, as sent in `ETag`): the
/// browser's copy is current and the answer is 304.
pub fn etag_matches(request: &HeaderMap, etag: &str) -> bool {
    request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    async fn headers_of(path: &str) -> HeaderMap {
        let app = Router::new()
            .route("/page", get(|| async { "a page" }))
            .route(
                "/cached",
                get(|| async { ([(header::CACHE_CONTROL, "no-cache")], "a script") }),
            )
            .layer(axum::middleware::from_fn(add));
        let response = app
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        response.headers().clone()
    }

    #[tokio::test]
    async fn a_page_may_not_be_framed_sniffed_cached_or_named_in_a_referer() {
        let h = headers_of("/page").await;
        assert_eq!(h[header::X_FRAME_OPTIONS], "DENY");
        assert!(
            h[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .unwrap()
                .contains("frame-ancestors 'none'")
        );
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(h[header::REFERRER_POLICY], "same-origin");
        assert_eq!(h[header::CACHE_CONTROL], "no-store");
        // Also on the answer of no route.
        assert_eq!(
            headers_of("/nothing").await[header::X_FRAME_OPTIONS],
            "DENY"
        );
    }

    #[tokio::test]
    async fn a_handler_keeps_the_value_it_set() {
        let h = headers_of("/cached").await;
        assert_eq!(h[header::CACHE_CONTROL], "no-cache");
        assert_eq!(h.get_all(header::CACHE_CONTROL).iter().count(), 1);
        assert_eq!(h[header::X_FRAME_OPTIONS], "DENY");
    }
}
