//! The viewer's error: what went wrong with a request, as an HTTP status and a JSON message that
//! names the clip, parameter or file and what would fix it.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// A failed request (or a run that cannot be viewed), with the message shown to the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ViewError {
    /// A parameter out of range or malformed (400).
    BadRequest(String),
    /// Refused: a video outside the video root, a symbolic link out of it (403).
    Forbidden(String),
    /// No such clip, or a clip of a shard not complete yet (404).
    NotFound(String),
    /// The feature is off for this run (no embeddings, no model) (503).
    Unavailable(String),
    /// Reading the run failed (a damaged shard, an I/O error) (500).
    Internal(String),
}

impl ViewError {
    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            ViewError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ViewError::Forbidden(_) => StatusCode::FORBIDDEN,
            ViewError::NotFound(_) => StatusCode::NOT_FOUND,
            ViewError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ViewError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The message.
    pub fn message(&self) -> &str {
        match self {
            ViewError::BadRequest(m)
            | ViewError::Forbidden(m)
            | ViewError::NotFound(m)
            | ViewError::Unavailable(m)
            | ViewError::Internal(m) => m,
        }
    }
}

impl std::fmt::Display for ViewError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for ViewError {}

impl From<viclip::Error> for ViewError {
    fn from(e: viclip::Error) -> Self {
        ViewError::Internal(e.to_string())
    }
}

impl From<viclip_data::Error> for ViewError {
    fn from(e: viclip_data::Error) -> Self {
        ViewError::Internal(e.to_string())
    }
}

impl From<candle_core::Error> for ViewError {
    fn from(e: candle_core::Error) -> Self {
        ViewError::Internal(format!("search: {e}"))
    }
}

impl IntoResponse for ViewError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.message() });
        (self.status(), Json(body)).into_response()
    }
}

/// A handler's result.
pub type ViewResult<T> = std::result::Result<T, ViewError>;
