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
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            fields: Vec::new(),
        }
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
        (
            self.status,
            Json(ErrorBody {
                error: self.message,
                fields: self.fields,
            }),
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
