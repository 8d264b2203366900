//! API errors with Toxiproxy's messages and status codes.
//!
//! On the wire: `{"error": "proxy not found", "status": 404}` followed by a newline, as Go's
//! `http.Error` writes it.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An error the REST API reports to its client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{error}")]
pub struct ApiError {
    /// The message (Toxiproxy's wording).
    pub error: String,
    /// The HTTP status code.
    pub status: u16,
}

impl ApiError {
    pub fn new(error: impl Into<String>, status: u16) -> ApiError {
        ApiError {
            error: error.into(),
            status,
        }
    }

    /// Toxiproxy's `joinError`: `"<wrapper>: <cause>"` with the wrapper's status.
    pub fn join(self, cause: impl std::fmt::Display) -> ApiError {
        ApiError {
            error: format!("{}: {cause}", self.error),
            status: self.status,
        }
    }

    pub fn bad_request_body() -> ApiError {
        ApiError::new("bad request body", 400)
    }
    pub fn missing_field() -> ApiError {
        ApiError::new("missing required field", 400)
    }
    pub fn proxy_not_found() -> ApiError {
        ApiError::new("proxy not found", 404)
    }
    pub fn proxy_already_exists() -> ApiError {
        ApiError::new("proxy already exists", 409)
    }
    pub fn invalid_stream() -> ApiError {
        ApiError::new(
            "stream was invalid, can be either upstream or downstream",
            400,
        )
    }
    pub fn invalid_toxic_type() -> ApiError {
        ApiError::new("invalid toxic type", 400)
    }
    pub fn toxic_already_exists() -> ApiError {
        ApiError::new("toxic already exists", 409)
    }
    pub fn toxic_not_found() -> ApiError {
        ApiError::new("toxic not found", 404)
    }
    /// An error without a status of its own (Go's plain `error`), reported as 500.
    pub fn internal(error: impl std::fmt::Display) -> ApiError {
        ApiError::new(error.to_string(), 500)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut body = serde_json::to_string(&self).unwrap_or_default();
        body.push('\n');
        (
            status,
            [
                (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            body,
        )
            .into_response()
    }
}
