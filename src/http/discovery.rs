//! OIDC Discovery / RFC 8414 metadata and the JWKS (RFC 7517), both cacheable.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderValue;
use axum::http::header::CACHE_CONTROL;
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::oauth::metadata;

/// OpenID Provider metadata (OIDC Discovery 1.0 §4).
#[utoipa::path(get, path = "/.well-known/openid-configuration", tag = "discovery",
    responses((status = 200, description = "The metadata document", body = Object)))]
pub async fn openid_configuration(State(app): State<AppState>) -> Response {
    metadata(&app)
}

/// Authorization-server metadata (RFC 8414 §3): the same document.
#[utoipa::path(get, path = "/.well-known/oauth-authorization-server", tag = "discovery",
    responses((status = 200, description = "The metadata document", body = Object)))]
pub async fn oauth_authorization_server(State(app): State<AppState>) -> Response {
    metadata(&app)
}

fn metadata(app: &AppState) -> Response {
    cacheable(
        Json(metadata::document(&app.config.issuer)),
        "public, max-age=3600".into(),
    )
}

/// The public signing keys: every pending, active and retiring key. Cached for
/// `KEYWARD_JWKS_MAX_AGE`; a new key is published for twice that before it signs.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "discovery",
    responses((status = 200, description = "A JWK Set", body = Object)))]
pub async fn jwks(State(app): State<AppState>) -> Response {
    let jwks = app.keys.current().jwks(app.clock.now());
    let max_age = app.config.jwks_max_age.as_secs();
    cacheable(Json(jwks), format!("public, max-age={max_age}"))
}

fn cacheable(body: impl IntoResponse, policy: String) -> Response {
    let mut response = body.into_response();
    if let Ok(value) = HeaderValue::try_from(policy) {
        response.headers_mut().insert(CACHE_CONTROL, value);
    }
    response
}
