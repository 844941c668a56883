//! `ApiError`: the one error shape every endpoint answers with:
//! `{"error": {"code": "...", "message": "...", "field": "..."}}`.
//!
//! `code` is stable and machine-matchable; `message` says what to do;
//! `field` is the JSON path (or header/query name) at fault, or null.
//! Internal details (storage errors) are logged, never sent.

use axum::Json;
use axum::response::{IntoResponse, Response};
use escalier_core::Rejection;
use escalier_store::{AppendError, StoreError};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
    /// Seconds a client should wait before retrying (503).
    pub retry_after: Option<u32>,
    /// Answered without reading the request body: the connection is closed
    /// after the answer (`Connection: close`), since the unread rest of the
    /// body would otherwise be taken for the next request, and a client that
    /// reused the connection would see it reset.
    pub close: bool,
}

/// Every error answer: `{"error": {"code", "message", "field"}}`.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Error)]
pub(crate) struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = ErrorDetail)]
pub(crate) struct Inner<'a> {
    /// Stable, machine-matchable (`invalid_field`, `token_missing`, ...).
    code: &'a str,
    /// What went wrong and what to do about it.
    message: &'a str,
    /// The JSON path (`[2].data.priority`), header or query parameter at
    /// fault, or null.
    #[schema(required = true)]
    field: Option<&'a str>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
            retry_after: None,
            close: false,
        }
    }

    /// See [`close`](Self::close).
    pub fn body_unread(mut self) -> Self {
        self.close = true;
        self
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        let f = field.into();
        self.field = if f.is_empty() { None } else { Some(f) };
        self
    }

    pub fn bad_request(code: &'static str, field: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message).with_field(field)
    }

    pub fn not_found(field: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message).with_field(field)
    }

    pub fn unavailable(code: &'static str, message: impl Into<String>) -> Self {
        let mut e = Self::new(StatusCode::SERVICE_UNAVAILABLE, code, message);
        e.retry_after = Some(1);
        e
    }

    /// Log the detail, answer a generic 503.
    pub fn storage(e: &StoreError) -> Self {
        if let StoreError::Unavailable(_) = e {
            // A shared database that is down or restarting: expected to
            // come back, so a warning, and a longer delay before retrying.
            tracing::warn!(error = %e, "the database is unavailable; answering 503");
            let mut err = Self::unavailable(
                "database_unavailable",
                "the database is unavailable; the request is not acknowledged, retry later (an event that was stored after all is then answered 200 as a duplicate)",
            );
            err.retry_after = Some(5);
            return err;
        }
        tracing::error!(error = %e, "storage failure while serving a request");
        Self::unavailable(
            "storage_unavailable",
            "storage is unavailable; nothing from this request was stored, retry later",
        )
    }
}

impl From<Rejection> for ApiError {
    fn from(r: Rejection) -> Self {
        let status =
            if r.code == escalier_core::RejectionCode::MalformedJson || !r.code.is_semantic() {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
        ApiError::new(status, r.code.as_str(), r.message).with_field(r.field)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::storage(&e)
    }
}

impl From<AppendError> for ApiError {
    fn from(e: AppendError) -> Self {
        match e {
            AppendError::Rejected { rejection, .. } => rejection.into(),
            AppendError::Busy => ApiError::unavailable(
                "overloaded",
                "the ingest queue is full; nothing from this request was stored, retry after the delay",
            ),
            AppendError::Storage(e) => ApiError::storage(&e),
            other => {
                tracing::error!(error = %other, "unexpected append failure");
                ApiError::unavailable("internal", "the request could not be stored; retry later")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            error: Inner {
                code: self.code,
                message: &self.message,
                field: self.field.as_deref(),
            },
        };
        let mut resp = (self.status, Json(body)).into_response();
        if let Some(s) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        if self.close {
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        resp
    }
}
