//! The authorization endpoint, announced in discovery because OIDC Discovery §3 requires it.
//! The authorization code flow is not built yet, so every request is refused, clearly.

use axum::Json;
use axum::http::StatusCode;
use serde_json::json;

use crate::http::docs::OAuthErrorBody;

/// The authorization endpoint; the code flow is not built yet, so every request is refused.
/// RFC 6749 §4.1.2.1: without a verified redirect URI the error is shown, never redirected.
#[utoipa::path(get, path = "/oauth/authorize", tag = "oauth",
    responses((status = 400, description = "unsupported_response_type: the code flow is not built yet", body = OAuthErrorBody)))]
pub async fn authorize() -> (StatusCode, Json<serde_json::Value>) {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({
            "error": "unsupported_response_type",
            "error_description": "the authorization code flow is not available on this server yet; use the token endpoint"
        })),
    )
}
