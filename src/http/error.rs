//! Protocol errors as responses: RFC 6749 §5.2 JSON for OAuth endpoints, RFC 6750 §3 challenges
//! for bearer-protected ones. Internal errors are logged with their chain and never shown.

use std::any::Any;

use axum::Json;
use axum::http::header::{CACHE_CONTROL, PRAGMA, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::accounts::ApiError;
use crate::oauth::error::bounded;
use crate::oauth::{BearerError, OAuthError};

const REALM: &str = "keyward";

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        match &self {
            OAuthError::Internal(err) => tracing::error!(error = ?err, "request failed"),
            OAuthError::Unavailable(err) => {
                tracing::warn!(error = %format!("{err:#}"), "dependency unavailable")
            }
            _ => {}
        }
        let status = StatusCode::from_u16(self.status()).unwrap_or(StatusCode::BAD_REQUEST);
        let body = json!({ "error": self.code(), "error_description": self.description() });
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
        match &self {
            // §5.2: 401 with a challenge for the scheme the client may use. RFC 9110 §15.5.2
            // requires the challenge on every 401, so it is sent whichever method failed.
            OAuthError::InvalidClient(_) => {
                headers.insert(
                    WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"keyward\""),
                );
            }
            OAuthError::TooManyAttempts { retry_after } => {
                headers.insert(RETRY_AFTER, HeaderValue::from(*retry_after));
            }
            OAuthError::Unavailable(_) => {
                headers.insert(RETRY_AFTER, HeaderValue::from(UNAVAILABLE_RETRY_AFTER));
            }
            // A hash takes tens of milliseconds: a second later there is room again.
            OAuthError::Overloaded => {
                headers.insert(RETRY_AFTER, HeaderValue::from(1));
            }
            _ => {}
        }
        response
    }
}

impl IntoResponse for BearerError {
    fn into_response(self) -> Response {
        let (status, code, description, scope) = match &self {
            // §3.1: with no credentials at all, the challenge names no error.
            BearerError::Missing => (
                StatusCode::UNAUTHORIZED,
                None,
                "an access token is required",
                None,
            ),
            BearerError::InvalidRequest(d) => {
                (StatusCode::BAD_REQUEST, Some("invalid_request"), d.as_ref(), None)
            }
            BearerError::InvalidToken(d) => {
                (StatusCode::UNAUTHORIZED, Some("invalid_token"), d.as_ref(), None)
            }
            BearerError::InsufficientScope(scope) => (
                StatusCode::FORBIDDEN,
                Some("insufficient_scope"),
                "the access token lacks a required scope",
                Some(*scope),
            ),
            BearerError::Unavailable(err) => {
                tracing::warn!(error = %format!("{err:#}"), "dependency unavailable");
                return unavailable();
            }
            BearerError::Internal(err) => {
                tracing::error!(error = ?err, "request failed");
                return internal_error();
            }
        };
        let description = bounded(description);
        let mut challenge = format!("Bearer realm=\"{REALM}\"");
        if let Some(code) = code {
            challenge.push_str(&format!(
                ", error=\"{code}\", error_description=\"{}\"",
                quoted(&description)
            ));
        }
        if let Some(scope) = scope {
            challenge.push_str(&format!(", scope=\"{scope}\""));
        }
        let body = match code {
            Some(code) => json!({ "error": code, "error_description": description }),
            None => json!({ "error_description": description }),
        };
        let mut response = (status, Json(body)).into_response();
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            response.headers_mut().insert(WWW_AUTHENTICATE, value);
        }
        response
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Bearer(err) => return err.into_response(),
            ApiError::Unavailable(err) => return BearerError::Unavailable(err).into_response(),
            ApiError::Internal(err) => {
                tracing::error!(error = ?err, "request failed");
                return internal_error();
            }
            _ => {}
        }
        let status = StatusCode::from_u16(self.status()).unwrap_or(StatusCode::BAD_REQUEST);
        let body = json!({ "error": self.code(), "error_description": self.description() });
        let mut response = (status, Json(body)).into_response();
        match self {
            ApiError::TooManyAttempts { retry_after } => {
                response
                    .headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from(retry_after));
            }
            ApiError::Overloaded => {
                response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(1));
            }
            _ => {}
        }
        response
    }
}

/// RFC 6750 §3: error_description holds %x20-21 / %x23-5B / %x5D-7E only.
fn quoted(text: &str) -> String {
    text.chars()
        .filter(|c| matches!(*c as u32, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E))
        .collect()
}

/// Seconds a client should wait before retrying after a 503.
const UNAVAILABLE_RETRY_AFTER: u64 = 5;

fn unavailable() -> Response {
    let body = json!({
        "error": "temporarily_unavailable",
        "error_description": "the service is temporarily unavailable; retry shortly"
    });
    let mut response = (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(UNAVAILABLE_RETRY_AFTER));
    response
}

fn internal_error() -> Response {
    let body =
        json!({ "error": "server_error", "error_description": "the server could not complete the request" });
    (StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response()
}

/// Unknown paths: JSON, like every other error.
pub async fn not_found() -> Response {
    let body = json!({ "error": "not_found", "error_description": "no such endpoint" });
    (StatusCode::NOT_FOUND, Json(body)).into_response()
}

/// A panic in a handler is a bug; the client sees a plain server error, the log sees the panic.
pub fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    tracing::error!(panic = message, "handler panicked");
    internal_error()
}
