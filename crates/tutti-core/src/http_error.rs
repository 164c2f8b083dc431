//! The error answer of every component API: a status and a sentence, as JSON
//! (`{"error": "..."}`, see [`crate::api::ErrorBody`]); refused input also lists its bad
//! fields (`"fields"`).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::api::{ErrorBody, FieldError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// The bad fields of a refused input (see [`ApiError::invalid`]); empty otherwise.
    pub fields: Vec<FieldError>,
    /// Sent as `Retry-After` (whole seconds, rounded up): when asking again makes sense.
    pub retry_after: Option<std::time::Duration>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            fields: Vec::new(),
            retry_after: None,
        }
    }

    pub fn retry_after(mut self, wait: std::time::Duration) -> Self {
        self.retry_after = Some(wait);
        self
    }

    /// Refused input (422): the message is every field's message in turn, and the answer
    /// lists the fields with their keys for programs.
    pub fn invalid(fields: Vec<FieldError>) -> Self {
        let message = fields
            .iter()
            .map(|f| f.message.as_str())
            .collect::<Vec<_>>()
            .join("; ");
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message,
            fields,
            retry_after: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// A failure of the component itself; the details go to its log, not to the caller.
    pub fn internal(context: &str, error: impl std::fmt::Display) -> Self {
        tracing::error!("{context}: {error}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("{context}; the details are in the component's log"),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(ErrorBody {
                error: self.message,
                fields: self.fields,
            }),
        )
            .into_response();
        if let Some(wait) = self.retry_after {
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        response
    }
}

/// Middleware: an error answer under an `/api/` path that is not JSON — the framework's own
/// refusals of a body that is not JSON, a field of the wrong type, a path or query that does
/// not parse, a missing content type — becomes `{"error": "..."}` with the same status and
/// text, so a program reading the API gets one error shape. Pages keep theirs.
pub async fn json_errors(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let api = request.uri().path().contains("/api/");
    let response = next.run(request).await;
    let status = response.status();
    let plain = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.starts_with("text/plain"));
    if !api || !(status.is_client_error() || status.is_server_error()) || !plain {
        return response;
    }
    let (parts, body) = response.into_parts();
    // The framework's messages are a line or two; a longer body is passed on as it is.
    match axum::body::to_bytes(body, 64 * 1024).await {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes).trim().to_string();
            let mut json = ApiError::new(status, text).into_response();
            for (name, value) in &parts.headers {
                if name != axum::http::header::CONTENT_TYPE
                    && name != axum::http::header::CONTENT_LENGTH
                {
                    json.headers_mut().insert(name.clone(), value.clone());
                }
            }
            json
        }
        Err(_) => {
            ApiError::new(status, status.canonical_reason().unwrap_or("error")).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_frameworks_refusals_under_api_paths_are_json_and_pages_keep_theirs() {
        use axum::Router;
        use axum::body::Body;
        use axum::routing::{get, post};
        use tower::ServiceExt;

        #[derive(serde::Deserialize)]
        struct Wanted {
            #[allow(dead_code)]
            n: u32,
        }
        let app = Router::new()
            .route(
                "/x/api/items/{id}",
                get(|axum::extract::Path(_id): axum::extract::Path<i64>| async { "ok" }),
            )
            .route(
                "/x/api/items",
                post(|Json(_w): Json<Wanted>| async { "ok" }),
            )
            .route(
                "/x/page/{id}",
                get(|axum::extract::Path(_id): axum::extract::Path<i64>| async { "ok" }),
            )
            .route(
                "/x/api/teapot",
                get(|| async {
                    (
                        StatusCode::IM_A_TEAPOT,
                        Json(serde_json::json!({"error": "mine"})),
                    )
                }),
            )
            .layer(axum::middleware::from_fn(json_errors));
        let call = |request: axum::http::Request<Body>| {
            let app = app.clone();
            async move {
                let r = app.oneshot(request).await.unwrap();
                let status = r.status();
                let kind = r
                    .headers()
                    .get("content-type")
                    .map(|v| v.to_str().unwrap().to_string());
                let bytes = axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap();
                (status, kind, String::from_utf8(bytes.to_vec()).unwrap())
            }
        };
        let (status, kind, body) = call(
            axum::http::Request::get("/x/api/items/abc")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(kind.as_deref(), Some("application/json"));
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert!(json["error"].as_str().unwrap().contains("abc"), "{json}");

        let (status, _, body) = call(
            axum::http::Request::post("/x/api/items")
                .header("content-type", "application/json")
                .body(Body::from("{\"n\": \"seven\"}"))
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(serde_json::from_str::<serde_json::Value>(&body).unwrap()["error"].is_string());

        let (status, _, body) = call(
            axum::http::Request::post("/x/api/items")
                .body(Body::from("{}"))
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert!(body.starts_with("{\"error\":"), "{body}");

        // A page keeps its text; a JSON error stays as the handler wrote it.
        let (_, kind, _) = call(
            axum::http::Request::get("/x/page/abc")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(kind.as_deref(), Some("text/plain; charset=utf-8"));
        let (status, _, body) = call(
            axum::http::Request::get("/x/api/teapot")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::IM_A_TEAPOT, "{\"error\":\"mine\"}")
        );
    }

    #[tokio::test]
    async fn refused_input_lists_its_fields_and_other_errors_stay_as_they_were() {
        let e = ApiError::invalid(vec![
            FieldError {
                field: "tracking.port".into(),
                message: "Port: 0 is not a port number".into(),
            },
            FieldError {
                field: "charsets".into(),
                message: "Charsets: \"x\" is not a charset".into(),
            },
        ]);
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        let body = |e: ApiError| async move {
            let bytes = axum::body::to_bytes(e.into_response().into_body(), 1 << 16)
                .await
                .unwrap();
            serde_json::from_slice::<serde_json::Value>(&bytes).unwrap()
        };
        assert_eq!(
            body(e).await,
            serde_json::json!({
                "error": "Port: 0 is not a port number; Charsets: \"x\" is not a charset",
                "fields": [
                    {"field": "tracking.port", "message": "Port: 0 is not a port number"},
                    {"field": "charsets", "message": "Charsets: \"x\" is not a charset"},
                ],
            })
        );
        assert_eq!(
            body(ApiError::not_found("no such job")).await,
            serde_json::json!({"error": "no such job"})
        );
    }
}
