//! The error of the account and admin API: JSON `{"error", "error_description"}` with the status
//! that says what went wrong; bearer failures keep their RFC 6750 challenge.

use std::borrow::Cow;

use crate::fault::Fault;
use crate::oauth::{BearerError, OAuthError};

type Text = Cow<'static, str>;

/// An account-API failure.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: malformed JSON, a missing or mistyped field, a value the rules refuse.
    #[error("invalid_request: {0}")]
    InvalidRequest(Text),
    /// 401 (or 400): no usable access token; answered with an RFC 6750 challenge.
    #[error(transparent)]
    Bearer(#[from] BearerError),
    /// 403: the caller is known but may not do this.
    #[error("access_denied: {0}")]
    Forbidden(Text),
    /// 404.
    #[error("not_found: {0}")]
    NotFound(Text),
    /// 409: the request conflicts with the current state (a taken email, a built-in role).
    #[error("conflict: {0}")]
    Conflict(Text),
    /// 413.
    #[error("request body too large")]
    PayloadTooLarge,
    /// 415: the body is not `application/json`.
    #[error("the request body must be application/json")]
    UnsupportedMediaType,
    /// 429 with `Retry-After`.
    #[error("too many attempts")]
    TooManyAttempts { retry_after: u64 },
    /// 503 with `Retry-After: 1`: too many password checks at once.
    #[error("password checks are at capacity")]
    Overloaded,
    /// 503 with `Retry-After`.
    #[error("a backing service is unavailable: {0:#}")]
    Unavailable(anyhow::Error),
    /// 500; logged with its chain, never shown.
    #[error(transparent)]
    Internal(anyhow::Error),
}

impl ApiError {
    pub fn invalid(text: impl Into<Text>) -> Self {
        ApiError::InvalidRequest(text.into())
    }

    pub fn not_found(text: impl Into<Text>) -> Self {
        ApiError::NotFound(text.into())
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            ApiError::InvalidRequest(_) => 400,
            ApiError::Bearer(_) => 401,
            ApiError::Forbidden(_) => 403,
            ApiError::NotFound(_) => 404,
            ApiError::Conflict(_) => 409,
            ApiError::PayloadTooLarge => 413,
            ApiError::UnsupportedMediaType => 415,
            ApiError::TooManyAttempts { .. } => 429,
            ApiError::Unavailable(_) | ApiError::Overloaded => 503,
            ApiError::Internal(_) => 500,
        }
    }

    /// The `error` code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::InvalidRequest(_) | ApiError::PayloadTooLarge | ApiError::UnsupportedMediaType => {
                "invalid_request"
            }
            ApiError::Bearer(_) => "invalid_token",
            ApiError::Forbidden(_) => "access_denied",
            ApiError::NotFound(_) => "not_found",
            ApiError::Conflict(_) => "conflict",
            ApiError::TooManyAttempts { .. } => "too_many_attempts",
            ApiError::Unavailable(_) | ApiError::Overloaded => "temporarily_unavailable",
            ApiError::Internal(_) => "server_error",
        }
    }

    /// The `error_description`: never a secret, never an internal detail.
    pub fn description(&self) -> Cow<'_, str> {
        match self {
            ApiError::InvalidRequest(t)
            | ApiError::Forbidden(t)
            | ApiError::NotFound(t)
            | ApiError::Conflict(t) => crate::oauth::error::bounded(t),
            ApiError::TooManyAttempts { retry_after } => {
                Cow::Owned(format!("too many attempts; retry in {retry_after} seconds"))
            }
            ApiError::Unavailable(_) => {
                Cow::Borrowed("the service is temporarily unavailable; retry shortly")
            }
            ApiError::Internal(_) => Cow::Borrowed("the server could not complete the request"),
            ApiError::Overloaded => Cow::Borrowed("too many password checks at once; retry in a second"),
            other => Cow::Owned(crate::oauth::error::bounded(&other.to_string()).into_owned()),
        }
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(err: anyhow::Error) -> Self {
        match Fault::from(err) {
            Fault::Overloaded => ApiError::Overloaded,
            Fault::Unavailable(e) => ApiError::Unavailable(e),
            Fault::Internal(e) => ApiError::Internal(e),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        ApiError::from(anyhow::Error::from(err))
    }
}

/// The login throttle speaks OAuth; its lockouts and outages mean the same here.
impl From<OAuthError> for ApiError {
    fn from(err: OAuthError) -> Self {
        match err {
            OAuthError::TooManyAttempts { retry_after } => ApiError::TooManyAttempts { retry_after },
            OAuthError::Unavailable(e) => ApiError::Unavailable(e),
            OAuthError::Overloaded => ApiError::Overloaded,
            OAuthError::Internal(e) => ApiError::Internal(e),
            other => ApiError::InvalidRequest(other.description().into_owned().into()),
        }
    }
}
