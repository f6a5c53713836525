//! OIDC Discovery / RFC 8414 metadata and the JWKS (RFC 7517), both cacheable.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderValue;
use axum::http::header::CACHE_CONTROL;
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::oauth::metadata;

/// `/.well-known/openid-configuration` and `/.well-known/oauth-authorization-server`.
pub async fn metadata(State(app): State<AppState>) -> Response {
    cacheable(
        Json(metadata::document(&app.config.issuer)),
        "public, max-age=3600",
    )
}

/// The public signing keys. Cached briefly, since a new key is published before it signs.
pub async fn jwks(State(app): State<AppState>) -> Response {
    cacheable(Json(app.keys.jwks().clone()), "public, max-age=300")
}

fn cacheable(body: impl IntoResponse, policy: &'static str) -> Response {
    let mut response = body.into_response();
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static(policy));
    response
}
