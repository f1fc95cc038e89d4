//! The API's one error type, rendered in the contract's shape.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use crate::store::StoreError;

/// One invalid field, by JSON path (`events[3].credits`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub path: String,
    pub message: String,
}

impl FieldError {
    /// A field error at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// Everything an API call can answer besides success.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("a valid bearer token is required")]
    Unauthorized,
    #[error("not found")]
    NotFound,
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("the request body is larger than 2 MiB")]
    PayloadTooLarge,
    #[error("{0}")]
    Conflict(String),
    #[error("not enough credits left")]
    InsufficientCredits { credits_left: i64 },
    #[error("{}", limit_message(.hit))]
    LimitReached {
        credits_left: i64,
        hit: crate::store::LimitHit,
    },
    #[error("internal error")]
    Internal(String),
    #[error("the server is busy; retry in a moment")]
    Unavailable,
    #[error("the request took too long")]
    Timeout,
}

impl ApiError {
    /// A validation failure of one field.
    pub fn invalid(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(path, message)])
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            Self::Validation(_) => (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
            Self::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Self::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            Self::InsufficientCredits { .. } => {
                (StatusCode::PAYMENT_REQUIRED, "insufficient_credits")
            }
            Self::LimitReached { .. } => (StatusCode::PAYMENT_REQUIRED, "limit_reached"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            Self::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            Self::Timeout => (StatusCode::SERVICE_UNAVAILABLE, "timeout"),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::NotFound,
            StoreError::Conflict(m) => Self::Conflict(m),
            StoreError::UnknownReferences(fields) => Self::Validation(
                fields
                    .into_iter()
                    .map(|f| {
                        let what = f.trim_end_matches("_id");
                        FieldError::new(f, format!("no such {what} in this workspace"))
                    })
                    .collect(),
            ),
            StoreError::Invalid { field, message } => Self::invalid(field, message),
            other if other.is_unavailable() => {
                tracing::warn!(cause = %other, "database unavailable");
                metrics::counter!("credits_db_unavailable_total").increment(1);
                Self::Unavailable
            }
            other => Self::Internal(other.to_string()),
        }
    }
}

/// The sentence of a `402 limit_reached`.
fn limit_message(hit: &crate::store::LimitHit) -> String {
    format!(
        "the {} {}'s {} limit of {} credits this cycle would be passed ({} used, {} left)",
        hit.scope.as_str(),
        hit.id,
        hit.limit.mode.as_str(),
        hit.effective,
        hit.used,
        hit.left
    )
}

/// The error body of API.md.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
    /// Only on `402`: the workspace's credits left to charges.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credits_left: Option<i64>,
    /// Only on `402 limit_reached`: the limit that refused the charge.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<LimitHitOut>,
}

/// The user or campaign limit that refused a charge.
#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct LimitHitOut {
    /// `user` or `campaign`.
    pub scope: String,
    pub id: String,
    pub credits: i64,
    /// `hard`.
    pub mode: String,
    pub effective: i64,
    pub used: i64,
    pub left: i64,
}

/// `error` of the error body.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// `unauthorized`, `not_found`, `validation_failed`, `payload_too_large`,
    /// `conflict`, `insufficient_credits`, `limit_reached`, `internal`, `unavailable` (the
    /// server is at its in-flight cap: retry) or `timeout`.
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<FieldError>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if let Self::Internal(cause) = &self {
            // The cause goes to the log, never to the caller.
            tracing::error!(%cause, "internal error");
        }
        let message = match &self {
            Self::Validation(d) if d.len() == 1 => format!("{}: {}", d[0].path, d[0].message),
            Self::Validation(d) => format!("{} fields are invalid", d.len()),
            other => other.to_string(),
        };
        let (details, credits_left, limit) = match self {
            Self::Validation(d) => (d, None, None),
            Self::InsufficientCredits { credits_left } => (Vec::new(), Some(credits_left), None),
            Self::LimitReached { credits_left, hit } => (
                Vec::new(),
                Some(credits_left),
                Some(LimitHitOut {
                    scope: hit.scope.as_str().to_string(),
                    id: hit.id,
                    credits: hit.limit.credits,
                    mode: hit.limit.mode.as_str().to_string(),
                    effective: hit.effective,
                    used: hit.used,
                    left: hit.left,
                }),
            ),
            _ => (Vec::new(), None, None),
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: code.to_string(),
                message,
                details,
            },
            credits_left,
            limit,
        };
        let mut res = (status, Json(body)).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            res.headers_mut()
                .insert("retry-after", axum::http::HeaderValue::from_static("1"));
        }
        if status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(
                "www-authenticate",
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        res
    }
}

/// The result type of handlers.
pub type ApiResult<T> = Result<T, ApiError>;
