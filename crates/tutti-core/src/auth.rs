//! Authentication of component-to-component calls with the cluster secret.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::extract::{ConnectInfo, OriginalUri, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::api::ErrorBody;
use crate::secret::ClusterSecret;

/// Middleware for a component's `/api` routes: the request must carry
/// `Authorization: Bearer <ClusterSecret>`. Anything else gets 401 and a log line that says
/// from where and what was wrong (never the secret).
pub async fn require_cluster_secret(
    State(secret): State<Arc<ClusterSecret>>,
    request: Request,
    next: Next,
) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "));
    let problem = match presented {
        Some(token) if secret.matches(token) => return next.run(request).await,
        Some(_) => "a wrong ClusterSecret",
        None => "no ClusterSecret",
    };
    let from = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.to_string())
        .unwrap_or_else(|| "an unknown address".into());
    // Inside a nested router the URI lacks the component's prefix; log the full path.
    let path = match request.extensions().get::<OriginalUri>() {
        Some(OriginalUri(uri)) => uri.path().to_string(),
        None => request.uri().path().to_string(),
    };
    tracing::warn!(
        "refused {} {path} from {from}: the call carried {problem}",
        request.method()
    );
    let mut response = (
        StatusCode::UNAUTHORIZED,
        Json(ErrorBody {
            error: format!(
                "this component API needs the installation's ClusterSecret as \"Authorization: Bearer <secret>\"; the call carried {problem}"
            ),
            fields: Vec::new(),
        }),
    )
        .into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"tutti\""),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    fn app() -> Router {
        let secret = Arc::new(ClusterSecret::parse("0123456789abcdefghijklmnop").unwrap());
        Router::new()
            .route("/api/ping", get(|| async { "pong" }))
            .layer(axum::middleware::from_fn_with_state(
                secret,
                require_cluster_secret,
            ))
    }

    async fn status(auth: Option<&str>) -> StatusCode {
        let mut req = axum::http::Request::get("/api/ping");
        if let Some(a) = auth {
            req = req.header(header::AUTHORIZATION, a);
        }
        app()
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap()
            .status()
    }

    #[tokio::test]
    async fn only_the_right_secret_passes() {
        assert_eq!(
            status(Some("Bearer 0123456789abcdefghijklmnop")).await,
            StatusCode::OK
        );
        assert_eq!(
            status(Some("Bearer 0123456789abcdefghijklmnoq")).await,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            status(Some("Basic 0123456789abcdefghijklmnop")).await,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(status(None).await, StatusCode::UNAUTHORIZED);
    }
}
