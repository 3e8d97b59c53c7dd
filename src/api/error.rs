//! One error type for every handler: 4xx say exactly what was wrong with the request, 5xx are
//! logged with their cause and answered without it.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::analysis::cancel::Cancelled;
use crate::service::ServiceError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    BadRequest(String),
    #[error("authentication required: send Authorization: Bearer <token>")]
    Unauthorized,
    #[error("this needs the role {0}")]
    Forbidden(&'static str),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    TooManyRequests(String),
    /// Every analysis slot is taken: 503 with `Retry-After`.
    #[error("the server is busy with other analyses; try again in {retry_after_s} s")]
    Busy { retry_after_s: u64 },
    /// An analysis was stopped at the request's deadline: 408, as the time-out layer answers.
    #[error(
        "the analysis did not finish within the time allowed; narrow the request (a shorter period, an area, a coarser cell or a smaller band) or try again later"
    )]
    Timeout,
    /// An analysis was stopped because the server is shutting down: 503 with `Retry-After`.
    #[error("the server is shutting down; try again in a moment")]
    ShuttingDown,
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
    #[error("storage error")]
    Store(#[from] StoreError),
}

impl AppError {
    /// An error of ours, not the caller's (a transformation that cannot fail on valid data did).
    pub fn internal(e: impl std::fmt::Display) -> Self {
        Self::Internal(anyhow::anyhow!("{e}"))
    }

    /// Seconds for a `Retry-After` header, for the errors that have one.
    pub fn retry_after_s(&self) -> Option<u64> {
        match self {
            Self::Busy { retry_after_s } => Some(*retry_after_s),
            Self::ShuttingDown => Some(SHUTDOWN_RETRY_AFTER_S),
            Self::Store(StoreError::Unavailable { .. }) => Some(UNAVAILABLE_RETRY_AFTER_S),
            _ => None,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Busy { .. } | Self::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
            Self::Timeout => StatusCode::REQUEST_TIMEOUT,
            Self::Store(StoreError::NotFound(_)) => StatusCode::NOT_FOUND,
            Self::Store(StoreError::Unavailable { .. }) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) | Self::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The message a client may see; server-side causes stay in the log.
    pub fn public_message(&self) -> String {
        match self {
            Self::Store(StoreError::NotFound(what)) => format!("not found: {what}"),
            Self::Internal(e) => {
                tracing::error!(error = ?e, "internal error");
                "internal error".into()
            }
            Self::Store(e @ StoreError::Unavailable { .. }) => {
                tracing::warn!(error = %e, "database unavailable");
                "the database is unavailable just now; nothing was stored; try again shortly".into()
            }
            Self::Store(e) => {
                tracing::error!(error = %e, "storage error");
                "storage error".into()
            }
            other => other.to_string(),
        }
    }
}

/// `Retry-After` while the server shuts down: about the time a restart takes.
const SHUTDOWN_RETRY_AFTER_S: u64 = 5;
/// `Retry-After` while the database is unreachable: the pool tries again at every request.
const UNAVAILABLE_RETRY_AFTER_S: u64 = 2;

impl From<ServiceError> for AppError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Invalid(m) => Self::BadRequest(m),
            ServiceError::Problems(all) => Self::BadRequest(all.join("; ")),
            ServiceError::NotFound(m) => Self::NotFound(m),
            ServiceError::Forbidden(role) => Self::Forbidden(role),
            ServiceError::Conflict(m) => Self::Conflict(m),
            ServiceError::Store(e) => Self::Store(e),
            ServiceError::Cancelled => Self::Timeout,
            ServiceError::Internal(e) => Self::Internal(e),
        }
    }
}

impl From<Cancelled> for AppError {
    fn from(_: Cancelled) -> Self {
        Self::Timeout
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let retry_after = self.retry_after_s();
        let message = self.public_message();
        let mut resp = (
            status,
            Json(json!({ "error": message, "status": status.as_u16() })),
        )
            .into_response();
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        if let Some(s) = retry_after {
            resp.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(s),
            );
        }
        resp
    }
}

pub type ApiResult<T> = Result<T, AppError>;

/// A JSON body as an extractor gave it, its rejection answered 400 with the extractor's text.
pub fn json_body<T>(
    b: Result<axum::Json<T>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<T> {
    b.map(|axum::Json(v)| v)
        .map_err(|e| AppError::BadRequest(e.body_text()))
}
