//! What every answer carries and what no request may exceed: `nosniff` everywhere, no framing
//! of any HTML answer, and bounds on the request line and header section.

use axum::extract::Request;
use axum::http::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Most header fields a request may carry (hyper itself stops reading at 100).
pub const MAX_HEADERS: usize = 64;
/// Most bytes of header names and values a request may carry, as nginx's default buffers allow.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// Longest request target (path and query).
pub const MAX_TARGET_BYTES: usize = 8 * 1024;

/// Refuses a request whose target or header section is past the bounds before any handler
/// reads it: 414 (RFC 9110 §15.5.15) or 431 (RFC 6585 §5).
pub async fn bound_request(request: Request, next: Next) -> Response {
    let target = request.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if target > MAX_TARGET_BYTES {
        return refuse(StatusCode::URI_TOO_LONG, "the request target is too long");
    }
    let headers = request.headers();
    let bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if headers.len() > MAX_HEADERS || bytes > MAX_HEADER_BYTES {
        return refuse(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "the request header fields are too many or too large",
        );
    }
    next.run(request).await
}

fn refuse(status: StatusCode, description: &'static str) -> Response {
    let body = json!({ "error": "invalid_request", "error_description": description });
    (status, axum::Json(body)).into_response()
}

/// Headers added to every answer that does not set its own: no content sniffing, and an HTML
/// answer (the interactive docs included) may not be framed by another site.
pub async fn harden(mut response: Response) -> Response {
    let html = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("text/html"));
    let headers = response.headers_mut();
    headers
        .entry(X_CONTENT_TYPE_OPTIONS)
        .or_insert(HeaderValue::from_static("nosniff"));
    if html {
        headers
            .entry(X_FRAME_OPTIONS)
            .or_insert(HeaderValue::from_static("DENY"));
        headers
            .entry(CONTENT_SECURITY_POLICY)
            .or_insert(HeaderValue::from_static("frame-ancestors 'none'"));
    }
    response
}
